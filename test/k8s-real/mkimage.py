#!/usr/bin/python3
"""Writes a docker-archive image tarball (what `docker save` produces and
`ctr images import` reads) from a root file system directory, without Docker.

    mkimage.py --rootfs DIR --tag busybox:local --out busybox.tar \
        [--cmd sh] [--entrypoint /pause] [--workdir /] [--env K=V]...

One layer. The layer tar is reproducible (sorted names, owner root, fixed
mtime), so the same inputs give the same image id. Standard library only.
"""
import argparse
import hashlib
import io
import json
import os
import sys
import tarfile

MTIME = 946684800  # 2000-01-01, fixed so the image id only depends on content


def layer_tar(rootfs):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        paths = []
        for dirpath, dirnames, filenames in os.walk(rootfs):
            dirnames.sort()
            for n in sorted(dirnames + filenames):
                paths.append(os.path.join(dirpath, n))
        for p in sorted(paths, key=lambda x: os.path.relpath(x, rootfs)):
            rel = os.path.relpath(p, rootfs)
            ti = tar.gettarinfo(p, arcname=rel)
            ti.uid = ti.gid = 0
            ti.uname = ti.gname = "root"
            ti.mtime = MTIME
            if ti.isreg():
                with open(p, "rb") as f:
                    tar.addfile(ti, f)
            else:
                tar.addfile(ti)
    return buf.getvalue()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rootfs", required=True)
    ap.add_argument("--tag", action="append", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--cmd", action="append", default=[])
    ap.add_argument("--entrypoint", action="append", default=[])
    ap.add_argument("--workdir", default="/")
    ap.add_argument("--env", action="append", default=[])
    a = ap.parse_args()

    layer = layer_tar(a.rootfs)
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    cfg = {"architecture": "amd64", "os": "linux", "created": "2000-01-01T00:00:00Z",
           "config": {"Env": a.env or ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                      "WorkingDir": a.workdir},
           "rootfs": {"type": "layers", "diff_ids": [diff_id]},
           "history": [{"created": "2000-01-01T00:00:00Z", "created_by": "test/k8s-real/mkimage.py"}]}
    if a.cmd:
        cfg["config"]["Cmd"] = a.cmd
    if a.entrypoint:
        cfg["config"]["Entrypoint"] = a.entrypoint
    cfg_bytes = json.dumps(cfg, sort_keys=True, separators=(",", ":")).encode()
    cfg_id = hashlib.sha256(cfg_bytes).hexdigest()
    layer_dir = diff_id[len("sha256:"):]
    manifest = [{"Config": cfg_id + ".json", "RepoTags": a.tag, "Layers": [layer_dir + "/layer.tar"]}]

    tmp = a.out + ".tmp"
    with tarfile.open(tmp, mode="w", format=tarfile.PAX_FORMAT) as tar:
        def add(name, data):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mtime = MTIME
            tar.addfile(ti, io.BytesIO(data))
        d = tarfile.TarInfo(layer_dir)
        d.type = tarfile.DIRTYPE
        d.mode = 0o755
        d.mtime = MTIME
        tar.addfile(d)
        add(layer_dir + "/layer.tar", layer)
        add(cfg_id + ".json", cfg_bytes)
        add("manifest.json", json.dumps(manifest).encode())
        add("repositories", json.dumps({t.rsplit(":", 1)[0]: {t.rsplit(":", 1)[1]: layer_dir}
                                        for t in a.tag}).encode())
    os.replace(tmp, a.out)
    print("mkimage: %s %s id sha256:%s (%d bytes layer)" % (a.out, " ".join(a.tag), cfg_id, len(layer)))


if __name__ == "__main__":
    sys.exit(main())
