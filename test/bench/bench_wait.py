#!/usr/bin/python3
"""Benchmark (not a test): the time from ready to exit (issue 15 item 6).

`prenv deploy` (waiting) against the test API server, whose controller makes
the pods of N Deployments ready after --ready-delay; the server's clock
(GET /_test/clock) says when it wrote the last object of the namespace, i.e.
made the last one ready. ready->exit = the moment prenv's process had
exited (seen by this script) minus that time. The same for `prenv destroy`:
exit minus the moment the namespace was removed. Both include the process's
own exit and this script's wake-up, so they are upper bounds.

  python3 test/bench/bench_wait.py [--runs 5] [--deployments 5]
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
from bench_k8s import PRENV, Server, base_env, write_kubeconfig  # noqa: E402

DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-%(i)d
spec:
  replicas: 1
  selector:
    matchLabels: {app: web-%(i)d}
  template:
    metadata:
      labels: {app: web-%(i)d}
    spec:
      containers:
        - name: web
          image: nginx:1.25
"""


def timed(argv, env, cwd):
    p = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True)
    t = time.time()
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (argv, p.returncode, p.stderr[-2000:]))
    return t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--deployments", type=int, default=5)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="prenv-bench-wait-")
    srv = Server(work, ["--ready-delay", "1.0", "--terminate-delay", "1.0"])
    up, down = [], []
    try:
        kc = write_kubeconfig(os.path.join(work, "kubeconfig"), srv.url,
                              os.path.join(srv.pki, "ca.crt"))
        os.makedirs(os.path.join(work, "tpl"))
        with open(os.path.join(work, "tpl", "all.yaml"), "w") as f:
            f.write("---\n".join(DEPLOY % {"i": i} for i in range(a.deployments)))
        with open(os.path.join(work, ".prenv.yml"), "w") as f:
            f.write("version: 1\napp: wait\ntemplates: tpl\nprovider:\n  kind: kubernetes\n"
                    "  wait: 60s\nenvironments:\n  - pull_request: true\n")
        for r in range(a.runs):
            env = base_env(work, 100 + r, PRENV_REPO="acme/wait")
            ns = "wait-pr-%d" % (100 + r)
            t = timed([PRENV, "--kubeconfig", kc, "-q", "deploy"], env, work)
            c = srv.admin("/_test/clock?namespace=" + ns)
            up.append(t - c["last_write"])
            t = timed([PRENV, "--kubeconfig", kc, "-q", "destroy"], env, work)
            c = srv.admin("/_test/clock?namespace=" + ns)
            if c["gone"] is None:
                raise RuntimeError("destroy returned before namespace %s was gone" % ns)
            down.append(t - c["gone"])
    finally:
        srv.stop()
        shutil.rmtree(work, True)
    up.sort()
    down.sort()
    print("Ready to exit, test API server (its controller's clock), %d runs, %d Deployments"
          % (a.runs, a.deployments))
    print("| command | ready -> exit (median) | min | max |")
    print("|---|---:|---:|---:|")
    for name, v in (("prenv deploy (last object ready)", up), ("prenv destroy (namespace gone)", down)):
        print("| %s | %.0f ms | %.0f ms | %.0f ms |" % (name, v[len(v) // 2] * 1000, v[0] * 1000,
                                                         v[-1] * 1000))
    return 0


if __name__ == "__main__":
    sys.exit(main())
