#!/usr/bin/env python3
"""What resolving `services:` costs: 20 services, each from its own
repository holding 10,000 refs (branches, packed), resolved by `prenv render`
(one ls-remote through libgit2 per repository, no clone), over file:// and
over smart HTTP through the real `git http-backend` with a token
(test/servers/git_http_server.py). Prints the time per service as prenv
measures each ls-remote (-v; up to 8 run at once), the whole run's wall time and that
time per service, beside `git ls-remote` on the same repositories. Not a test: it asserts nothing about
time.

  python3 test/bench/bench_services.py [SERVICES] [REFS]
"""
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import measure  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PRENV = os.path.join(ROOT, os.environ.get("PRENV_BIN", "build/prenv"))
SERVER = os.path.join(ROOT, "test", "servers", "git_http_server.py")
TOKEN = "bench-token-0123456789"

TEMPLATE = """apiVersion: v1
kind: ConfigMap
metadata:
  name: "{{service.name}}"
data:
  sha: "{{service.sha}}"
"""


def git(*args, cwd=None, stdin=None):
    return subprocess.run(["git", "-c", "user.name=B", "-c", "user.email=b@example.com"] + list(args),
                          cwd=cwd, check=True, capture_output=True, text=True, input=stdin).stdout


def make_repo(path, refs):
    """A bare repository with `refs` branches (all at one commit; main is
    HEAD), packed like a server's."""
    git("init", "-q", "--bare", path)
    git("symbolic-ref", "HEAD", "refs/heads/main", cwd=path)
    tree = git("hash-object", "-t", "tree", "-w", "--stdin", cwd=path, stdin="").strip()
    sha = git("commit-tree", tree, "-m", "seed", cwd=path).strip()
    names = ["refs/heads/main"] + ["refs/heads/topic/b%05d" % i for i in range(refs - 1)]
    # written as `git pack-refs --all` would (sorted), at once: update-ref
    # of 10,000 loose refs takes minutes on a busy machine
    with open(os.path.join(path, "packed-refs"), "w") as f:
        f.write("# pack-refs with: peeled fully-peeled sorted \n")
        for n in sorted(names):
            f.write("%s %s\n" % (sha, n))
    if git("rev-parse", "refs/heads/main", cwd=path).strip() != sha:
        raise RuntimeError("packed-refs not read")


def write_project(d, urls):
    svcs = ""
    for i, u in enumerate(urls):
        name = "svc%02d" % i
        os.makedirs(os.path.join(d, "deploy", name))
        with open(os.path.join(d, "deploy", name, "cm.yaml"), "w") as f:
            f.write(TEMPLATE)
        svcs += "  %s:\n    repo: %s\n    templates: deploy/%s\n" % (name, u, name)
    with open(os.path.join(d, ".prenv.yml"), "w") as f:
        f.write("app: bench\nprovider:\n  kind: command\n  deploy: [\"true\"]\nenvironments:\n"
                "  - branch: \"**\"\nservices:\n" + svcs)


def env_for(port=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith(("PRENV_", "GITHUB_", "CI_"))}
    e.update(PRENV_CI="local", PRENV_REPO="acme/bench", PRENV_BRANCH="feature/x",
             PRENV_SHA="a" * 40, HOME="/nonexistent")
    if port:
        e.update(PRENV_GIT_TOKEN_BENCH=TOKEN, PRENV_GIT_TOKEN_BENCH_HOST="127.0.0.1:%d" % port)
    return e


def per_service(proj, env):
    """The ls-remote times prenv logs with -v (seconds, one per service)."""
    r = subprocess.run([PRENV, "-v", "render"], cwd=proj, env=env, capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(r.stderr[-2000:])
    return [float(m) for m in re.findall(r"ls-remote \S+: ([0-9.]+) s", r.stderr)]


def git_ls_remote(urls, port=None):
    t0 = time.perf_counter()
    for u in urls:
        args = ["git"]
        if port:
            args += ["-c", "http.extraHeader=Authorization: Basic " +
                     __import__("base64").b64encode(("x-access-token:" + TOKEN).encode()).decode()]
        subprocess.run(args + ["ls-remote", u], check=True, capture_output=True)
    return (time.perf_counter() - t0) / len(urls)


def report(label, proj, env, urls, port=None):
    times = per_service(proj, env)
    wall, rss = measure([PRENV, "render"], runs=3, cwd=proj, env=env)
    print("| %s | %d | %.2f s | %.0f ms | %.0f ms (%.0f-%.0f) | %.1f MiB | %.0f ms |" % (
        label, len(times), wall, 1000 * wall / len(times), 1000 * statistics.median(times),
        1000 * min(times), 1000 * max(times), rss / 1024.0, 1000 * git_ls_remote(urls, port)))


def main():
    nsvc = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    nrefs = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    tmp = tempfile.mkdtemp(prefix="prenv-bench-svc-")
    srv = None
    try:
        root = os.path.join(tmp, "git")
        t0 = time.time()
        for i in range(nsvc):
            make_repo(os.path.join(root, "r%02d.git" % i), nrefs)
        print("# %d repositories with %d refs each made in %.1f s" % (nsvc, nrefs, time.time() - t0))
        file_urls = ["file://" + os.path.join(root, "r%02d.git" % i) for i in range(nsvc)]
        proj = os.path.join(tmp, "file")
        write_project(proj, file_urls)
        pf = os.path.join(tmp, "port")
        log = open(os.path.join(tmp, "server.log"), "w")
        srv = subprocess.Popen([sys.executable, SERVER, "--root", root, "--token", TOKEN,
                                "--port-file", pf], stdout=subprocess.DEVNULL, stderr=log)
        for _ in range(200):
            if os.path.exists(pf) and os.path.getsize(pf):
                break
            time.sleep(0.05)
        port = int(open(pf).read())
        http_urls = ["http://127.0.0.1:%d/r%02d.git" % (port, i) for i in range(nsvc)]
        hproj = os.path.join(tmp, "http")
        write_project(hproj, http_urls)
        print("# load average: %.1f %.1f %.1f on %d CPUs" % (os.getloadavg() + (os.cpu_count(),)))
        print("| transport | services | `prenv render` wall (median of 3) | per service | "
              "each ls-remote as prenv timed it, 8 at once (median, min-max) | peak RSS | "
              "`git ls-remote` per repository, one after the other |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        report("file://", proj, env_for(), file_urls)
        report("http (git http-backend, token)", hproj, env_for(port), http_urls, port)
    finally:
        if srv:
            srv.terminate()
            srv.wait(10)
        shutil.rmtree(tmp, True)


if __name__ == "__main__":
    main()
