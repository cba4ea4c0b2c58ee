#!/usr/bin/python3
"""Every benchmark of issue 15, one after the other in one run, each a
Markdown table (the README's "Speed" section is this output):

  0. install: the action's release path (download the static binary and its
     SHA256SUMS from a local HTTP server, check, install) against its
     source path on a cache miss (a fresh clone, then `make deps-build
     libcheck all` as action.yml runs it; the apt-get downloads of a real
     runner are not in it: the packages are installed here);
  1. start-up: `prenv version` / `prenv context` against `kubectl version
     --client` (whole processes, median);
  2. deploy of 10/100/1,000 objects: prenv, the raw floor (floor.c) and
     `envsubst | kubectl apply --server-side` on the REAL API server of
     test/k8s-real when it is running (bench_k8s.py --real), else prenv and
     kubectl on the test API server (and it says so);
  3. the time from ready to exit (bench_wait.py, test API server's clock);
  4. render of 1,000 objects against envsubst (bench_render.py);
  5. a logical environment against a full copy of 20 services (bench_logical.py).

  python3 test/bench/bench_all.py [--runs 3] [--sizes 10,100,1000]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from benchlib import measure  # noqa: E402
import bench_k8s  # noqa: E402

GITHUB = {"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/shop", "GITHUB_EVENT_NAME": "push",
          "GITHUB_REF": "refs/heads/main", "GITHUB_REF_NAME": "main", "GITHUB_SHA": "a" * 40,
          "GITHUB_SERVER_URL": "https://github.com", "GITHUB_RUN_ID": "1"}


def startup(runs, loop=50):
    """Each command run `loop` times in one shell loop (so the cost of
    starting Python's child is spread), the median of `runs` loops divided
    by `loop`; /bin/true is the floor of starting any process here."""
    d = tempfile.mkdtemp(prefix="prenv-bench-start-")
    env = dict(GITHUB, PATH=os.environ.get("PATH", "/usr/bin:/bin"), HOME=d)
    rows = []
    try:
        static = os.path.join(bench_k8s.ROOT, "build", "prenv-static")
        for name, cmd in (("prenv version", "'%s' version" % bench_k8s.PRENV),
                          ("prenv context (GitHub Actions variables)", "'%s' context" % bench_k8s.PRENV),
                          ("prenv version, static binary", "'%s' version" % static),
                          ("prenv context, static binary", "'%s' context" % static),
                          ("kubectl version --client", "kubectl version --client"),
                          ("/bin/true (any process)", "/bin/true")):
            if cmd.startswith("kubectl") and not shutil.which("kubectl"):
                continue
            if static in cmd and not os.path.exists(static):
                continue
            argv = ["sh", "-c", "i=0; while [ $i -lt %d ]; do %s >/dev/null; i=$((i+1)); done"
                    % (loop, cmd)]
            w, r = measure(argv, runs=runs, env=env, cwd=d)
            rows.append((name, w / loop, r))
    finally:
        shutil.rmtree(d, True)
    print("Start-up, whole process (each run %d times in a shell loop), median of %d loops"
          % (loop, runs))
    print("| command | wall time per run | peak RSS |")
    print("|---|---:|---:|")
    for name, w, r in rows:
        print("| %s | %.1f ms | %.1f MiB |" % (name, w * 1000, r / 1024.0))
    print()


INSTALL = r"""set -e
base=$1; asset=prenv-linux-x86_64; dest=$2; dir=$(mktemp -d)
curl -sS -L --retry 3 --retry-delay 1 --connect-timeout 10 -o "$dir/SHA256SUMS" "$base/SHA256SUMS"
curl -sS -L --retry 3 --retry-delay 1 --connect-timeout 10 -o "$dir/$asset" "$base/$asset"
want=$(awk -v f="$asset" '$2 == f || $2 == "*" f { print $1; exit }' "$dir/SHA256SUMS")
got=$(sha256sum "$dir/$asset" | cut -d' ' -f1)
[ -n "$want" ] && [ "$want" = "$got" ]
mkdir -p "$dest"; install -m 755 "$dir/$asset" "$dest/prenv"; rm -rf "$dir"
"$dest/prenv" version >/dev/null
"""


def install(runs):
    """What the CI step costs before prenv runs: action.yml's two install
    paths, simulated on this machine."""
    import hashlib
    import re
    static = os.path.join(bench_k8s.ROOT, "build", "prenv-static.stripped")  # what release.yml publishes
    d = tempfile.mkdtemp(prefix="prenv-bench-install-")
    rows = []
    srv = None
    try:
        if os.path.exists(static):
            rel = os.path.join(d, "www", "rel")
            os.makedirs(rel)
            shutil.copy(static, os.path.join(rel, "prenv-linux-x86_64"))
            with open(static, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
            with open(os.path.join(rel, "SHA256SUMS"), "w") as f:
                f.write("%s  prenv-linux-x86_64\n" % digest)
            srv = subprocess.Popen([sys.executable, "-u", "-m", "http.server", "--bind", "127.0.0.1",
                                    "--directory", os.path.join(d, "www"), "0"],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            port = re.search(r"port (\d+)", srv.stdout.readline()).group(1)
            w, r = measure(["bash", "-c", INSTALL, "install", "http://127.0.0.1:%s/rel" % port,
                            os.path.join(d, "bin")], runs=runs)
            rows.append(("release: download %.1f MiB + SHA256SUMS, check, install"
                         % (os.path.getsize(static) / 1048576.0), w, r))
        src = os.path.join(d, "src")
        times = []
        for i in range(max(1, runs // 3)):
            shutil.rmtree(src, True)
            t0 = time.perf_counter()
            subprocess.run(["git", "clone", "-q", "--no-local", bench_k8s.ROOT, src], check=True)
            subprocess.run(["make", "-C", src, "--no-print-directory", "-s", "deps-build",
                            "libcheck", "all"], check=True, stdout=subprocess.DEVNULL)
            times.append(time.perf_counter() - t0)
        rows.append(("source: clone, `make deps-build libcheck all` (packages already here)",
                     sorted(times)[len(times) // 2], None))
    finally:
        if srv:
            srv.terminate()
            srv.wait(10)
            srv.stdout.close()
        shutil.rmtree(d, True)
    print("Install, as action.yml does it on a runner without a cache (simulated here)")
    print("| path | wall time | vs release |")
    print("|---|---:|---:|")
    if not os.path.exists(static):
        print("| release | (build/prenv-static.stripped not built: `make static`) | |")
    base = rows[0][1] if os.path.exists(static) else None
    for name, w, _ in rows:
        print("| %s | %s | %s |" % (name, ("%.2f s" % w) if w >= 1 else ("%.0f ms" % (w * 1000)),
                                    ("%.0fx" % (w / base)) if base else ""))
    print()


def real_cluster_up():
    sys.path.insert(0, os.path.join(bench_k8s.ROOT, "test", "k8s-real"))
    try:
        from cluster import RealCluster
        rc = RealCluster.attach()
        return rc is not None and subprocess.run(
            ["kubectl", "--kubeconfig", rc.kubeconfig, "get", "--raw", "/readyz"],
            capture_output=True, timeout=20).returncode == 0
    except Exception:
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sizes", default="10,100,1000")
    a = ap.parse_args()
    install(max(a.runs, 5))
    startup(max(a.runs, 5))
    if real_cluster_up():
        bench_k8s.print_real(bench_k8s.bench_real(a), a.runs)
    else:
        print("(the real cluster is not running: deploy on the test API server instead)")
        sys.argv = [sys.argv[0], "--runs", str(a.runs), "--sizes", a.sizes]
        bench_k8s.main()
    print()
    sys.argv = [sys.argv[0], "--runs", str(max(a.runs, 5))]
    import bench_wait
    bench_wait.main()
    print()
    sys.argv = [sys.argv[0]]
    import bench_render
    bench_render.main()
    print()
    sys.argv = [sys.argv[0], "--runs", str(max(a.runs, 5))]
    import bench_logical
    bench_logical.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
