#!/usr/bin/python3
"""Writes a docker-archive image tarball (what `docker save` produces and
`ctr images import` reads) from a root file system directory, without Docker.

    mkimage.py --rootfs DIR --tag busybox:local --out busybox.tar \
        [--cmd '["sh"]'] [--entrypoint '["/pause"]'] [--workdir /] [--env K=V]...
    mkimage.py --from-archive busybox.tar --tag web:1 --out web.tar --cmd '["httpd", "-f"]'

--rootfs makes one layer from a directory; --from-archive reuses the layers of
another docker-archive (a new name and configuration for the same files). The layer tar is reproducible (sorted names, owner root, fixed
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


def layers_from_archive(path):
    """[(diff_id, layer tar bytes)] of the first image in a docker-archive."""
    with tarfile.open(path) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))[0]
        cfg = json.load(tar.extractfile(manifest["Config"]))
        layers = [tar.extractfile(n).read() for n in manifest["Layers"]]
    return list(zip(cfg["rootfs"]["diff_ids"], layers)), cfg.get("config", {})


def main():
    ap = argparse.ArgumentParser()
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--rootfs")
    src.add_argument("--from-archive")
    ap.add_argument("--tag", action="append", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--cmd", type=json.loads, default=None, help='JSON array, e.g. ["sh"]')
    ap.add_argument("--entrypoint", type=json.loads, default=None, help='JSON array')
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--env", action="append", default=[])
    a = ap.parse_args()

    base = {}
    if a.rootfs:
        layer = layer_tar(a.rootfs)
        layers = [("sha256:" + hashlib.sha256(layer).hexdigest(), layer)]
    else:
        layers, base = layers_from_archive(a.from_archive)
    cfg = {"architecture": "amd64", "os": "linux", "created": "2000-01-01T00:00:00Z",
           "config": {"Env": a.env or base.get("Env") or
                      ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                      "WorkingDir": a.workdir or base.get("WorkingDir") or "/"},
           "rootfs": {"type": "layers", "diff_ids": [d for d, _ in layers]},
           "history": [{"created": "2000-01-01T00:00:00Z", "created_by": "test/k8s-real/mkimage.py"}]}
    for key, v in (("Cmd", a.cmd), ("Entrypoint", a.entrypoint)):
        if v is not None and (not isinstance(v, list) or not all(isinstance(x, str) for x in v)):
            ap.error("--%s wants a JSON array of strings" % key.lower())
        if v:
            cfg["config"][key] = v
    cfg_bytes = json.dumps(cfg, sort_keys=True, separators=(",", ":")).encode()
    cfg_id = hashlib.sha256(cfg_bytes).hexdigest()
    dirs = [d[len("sha256:"):] for d, _ in layers]
    manifest = [{"Config": cfg_id + ".json", "RepoTags": a.tag, "Layers": [d + "/layer.tar" for d in dirs]}]

    tmp = a.out + ".tmp"
    with tarfile.open(tmp, mode="w", format=tarfile.PAX_FORMAT) as tar:
        def add(name, data):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mtime = MTIME
            tar.addfile(ti, io.BytesIO(data))
        for dname, (_, data) in zip(dirs, layers):
            d = tarfile.TarInfo(dname)
            d.type = tarfile.DIRTYPE
            d.mode = 0o755
            d.mtime = MTIME
            tar.addfile(d)
            add(dname + "/layer.tar", data)
        add(cfg_id + ".json", cfg_bytes)
        add("manifest.json", json.dumps(manifest).encode())
        add("repositories", json.dumps({t.rsplit(":", 1)[0]: {t.rsplit(":", 1)[1]: dirs[-1]}
                                        for t in a.tag}).encode())
    os.replace(tmp, a.out)
    print("mkimage: %s %s id sha256:%s (%d bytes of layers)" % (
        a.out, " ".join(a.tag), cfg_id, sum(len(x) for _, x in layers)))


if __name__ == "__main__":
    sys.exit(main())
