#!/usr/bin/python3
"""Benchmark (not a test): a logical environment against a full copy of a
20-service product, on the test API server (test/servers/k8s_server.py,
HTTPS). Each service is a Deployment, a Service and a ConfigMap; gw calls
every other service but db, and s01..s05 call db (stateful). The baseline
`staging` is deployed once (a full copy); then each run deploys a new pull
request environment (a fresh namespace) from a commit that changes s07's
files:

  logical    `logical:` on: s07 and gw (its caller) deployed, 18 borrowed
             as ExternalName Services
  full copy  the same commit under a rule with `logical: false`: 20
             services deployed

Prints a Markdown table: median wall time of `prenv deploy` (it waits until
the Deployments are ready; the server makes them ready after 0.3 s), peak
RSS (GNU time, benchlib.py), the server's request count for one deploy, and
what was applied.

  python3 test/bench/bench_logical.py [--runs 5] [--services 20]
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from benchlib import run_once  # noqa: E402
import bench_k8s  # noqa: E402
sys.path.insert(0, os.path.join(bench_k8s.ROOT, "test", "e2e"))
from test_logical import deployment, git, service, template  # noqa: E402

CONFIGMAP = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"LOG_LEVEL": "info"}}


def names(nsvc):
    return ["gw", "db"] + ["s%02d" % i for i in range(1, nsvc - 1)]


def write_repo(d, nsvc, logical):
    svcs = ""
    for n in names(nsvc):
        os.makedirs(os.path.join(d, "deploy", n))
        os.makedirs(os.path.join(d, "src", n))
        with open(os.path.join(d, "deploy", n, "app.yaml"), "w") as f:
            f.write(template(deployment(n, "ghcr.io/acme/%s:{{service.short_sha}}" % n,
                                        envFrom=[{"configMapRef": {"name": n}}]),
                             service(n), dict(CONFIGMAP, metadata={"name": n})))
        with open(os.path.join(d, "src", n, "main.go"), "w") as f:
            f.write("package main\n")
        calls = ""
        if n == "gw":
            calls = ", calls: [%s]" % ", ".join(x for x in names(nsvc) if x not in ("gw", "db"))
        elif n in ("s01", "s02", "s03", "s04", "s05"):
            calls = ", calls: [db]"
        svcs += "  %s: { templates: deploy/%s, paths: [\"src/%s/**\"]%s%s }\n" % (
            n, n, n, calls, ", stateful: true" if n == "db" else "")
    with open(os.path.join(d, ".prenv.yml"), "w") as f:
        f.write("app: bench\nprovider:\n  kind: kubernetes\n  wait: 60s\nenvironments:\n"
                "  - branch: staging\n    name: staging\n  - pull_request: true\n%s"
                "logical:\n  baseline: staging\nservices:\n%s"
                % ("" if logical else "    logical: false\n", svcs))
    git("init", "-q", d)
    git("add", "-A", cwd=d)
    git("commit", "-q", "-m", "main", cwd=d)
    git("checkout", "-q", "-b", "feature", cwd=d)
    with open(os.path.join(d, "src", "s07", "main.go"), "a") as f:
        f.write("// change\n")
    git("commit", "-q", "-am", "s07", cwd=d)
    return git("rev-parse", "HEAD", cwd=d)


def env_for(kc, pr, sha, branch="feature"):
    e = {k: v for k, v in os.environ.items() if not k.startswith(("PRENV_", "GITHUB_", "CI_", "KUBE"))}
    e.update(PRENV_CI="local", PRENV_REPO="acme/bench", PRENV_BRANCH=branch, PRENV_SHA=sha,
             HOME="/nonexistent", KUBECONFIG=kc, NO_COLOR="1")
    if pr:
        e.update(PRENV_PR=str(pr), PRENV_BASE_BRANCH="main")
    return e


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--services", type=int, default=20)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="prenv-bench-logical-")
    srv = bench_k8s.Server(tmp, ["--ready-delay", "0.3"])
    try:
        kc = bench_k8s.write_kubeconfig(os.path.join(tmp, "kubeconfig"), srv.url,
                                        os.path.join(srv.pki, "ca.crt"))
        repos = {}
        for mode in ("logical", "full copy"):
            d = os.path.join(tmp, mode.replace(" ", "-"))
            repos[mode] = (d, write_repo(d, a.services, mode == "logical"))
        d, sha = repos["logical"]
        main_sha = git("rev-parse", "main", cwd=d)
        run_once([bench_k8s.PRENV, "deploy"], env=env_for(kc, None, main_sha, "staging"), cwd=d)
        print("# load average: %.1f %.1f %.1f on %d CPUs" % (os.getloadavg() + (os.cpu_count(),)))
        print("| %d services, s07 changed | `prenv deploy` wall (median of %d, min-max) | peak RSS | "
              "API requests | applied |" % (a.services, a.runs))
        print("|---|---:|---:|---:|---|")
        rows, pr = {}, 100
        for _ in range(a.runs):
            for mode in ("logical", "full copy"):  # in turn, so a drift hits both
                d, sha = repos[mode]
                pr += 1
                srv.admin("/_test/reset", {})
                w, rss = run_once([bench_k8s.PRENV, "deploy"], env=env_for(kc, pr, sha), cwd=d)
                reqs = srv.admin("/_test/requests")["total"]
                rows.setdefault(mode, []).append((w, rss, reqs))
        for mode in ("logical", "full copy"):
            ws = [r[0] for r in rows[mode]]
            what = ("2 services (3 objects each) + 18 ExternalName Services" if mode == "logical"
                    else "%d services (3 objects each)" % a.services)
            print("| %s | %.2f s (%.2f-%.2f) | %.1f MiB | %d | %s |" % (
                mode, statistics.median(ws), min(ws), max(ws), max(r[1] for r in rows[mode]) / 1024.0,
                statistics.median(r[2] for r in rows[mode]), what))
    finally:
        srv.stop()
        shutil.rmtree(tmp, True)


if __name__ == "__main__":
    main()
