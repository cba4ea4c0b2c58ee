#!/usr/bin/python3
"""Benchmark (not a test): deploy N = 10, 100, 1000 objects to the test API
server (test/servers/k8s_server.py, HTTPS), prenv against
`envsubst < all.yaml | kubectl apply --server-side -f -` on the same objects.
Prints a Markdown table: median wall time, peak RSS (GNU time, see
benchlib.py) and the server's request count for one deploy.

Each run starts from an empty cluster (the namespace and N ConfigMaps/
Services are created), kubectl with a cold discovery cache, as in a fresh CI
job. prenv runs with --no-wait (kubectl apply does not wait either).

  python3 test/bench/bench_k8s.py [--runs 3] [--sizes 10,100,1000]

With --real it runs on the REAL API server of test/k8s-real (kube-apiserver
1.20 over TLS, HTTP/2; the cluster must be running: `cluster.py status`)
and adds the floor: floor.c, raw server-side-apply PATCHes through libcurl
with the same parallelism (8) and nothing else. Every run deploys into a
fresh namespace (deleted at the end); the three tools take turns run by
run, so a drift of the machine hits all of them.

  python3 test/bench/bench_k8s.py --real [--runs 3] [--sizes 10,100,1000]
"""
import argparse
import json
import os
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
from benchlib import run_once, run_once_err  # noqa: E402

PRENV = os.path.join(ROOT, os.environ.get("PRENV_BIN", "build/prenv"))
SERVER = os.path.join(ROOT, "test", "servers", "k8s_server.py")
TOKEN = "bench-token-0123456789"

CM = """apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg-%(i)d
  labels: {app.kubernetes.io/name: %(app)s}
data:
  env: "%(env)s"
  index: "%(i)d"
  greeting: "hello from %(app)s"
"""
SVC = """apiVersion: v1
kind: Service
metadata:
  name: svc-%(i)d
  labels: {app.kubernetes.io/name: %(app)s}
spec:
  selector: {app.kubernetes.io/name: %(app)s}
  ports: [{name: http, port: 80, targetPort: 8080, protocol: TCP}]
"""


def objects(n, app, env, services=True):
    """n documents: 9 ConfigMaps for every Service (services=False: only
    ConfigMaps - a real cluster's Service IP range is small)."""
    return [(SVC if services and i % 10 == 9 else CM) % {"i": i, "app": app, "env": env}
            for i in range(n)]


def write_kubeconfig(path, url, ca, token=TOKEN):
    with open(path, "w") as f:
        json.dump({"apiVersion": "v1", "kind": "Config", "current-context": "b",
                   "clusters": [{"name": "b", "cluster": {"server": url, "certificate-authority": ca}}],
                   "users": [{"name": "u", "user": {"token": token}}],
                   "contexts": [{"name": "b", "context": {"cluster": "b", "user": "u"}}]}, f)
    return path


def base_env(home, pr, **extra):
    """A local run's environment: PRENV_* overrides, the kubectl side's vars."""
    return dict({"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, "NO_COLOR": "1",
                 "PRENV_CI": "local", "PRENV_REPO": "acme/bench", "PRENV_BRANCH": "b",
                 "PRENV_PR": str(pr), "PRENV_SHA": "d" * 40, "APP": "bench", "ENV": "pr-7"}, **extra)


def write_inputs(d, n, app, services=True):
    """d/tpl/all.yaml + d/.prenv.yml for prenv, d/all.yaml (${VARS}, with
    the namespace) for envsubst | kubectl."""
    os.makedirs(os.path.join(d, "tpl"))
    with open(os.path.join(d, "tpl", "all.yaml"), "w") as f:
        f.write("---\n".join(objects(n, "{{app}}", "{{env.name}}", services)))
    with open(os.path.join(d, ".prenv.yml"), "w") as f:
        f.write("version: 1\napp: %s\ntemplates: tpl\nprovider:\n  kind: kubernetes\n"
                "  wait: 0s\nenvironments:\n  - pull_request: true\n" % app)
    with open(os.path.join(d, "all.yaml"), "w") as f:
        f.write("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${NS}\n  labels:\n"
                "    app.kubernetes.io/managed-by: prenv\n---\n")
        f.write("---\n".join(o.replace("metadata:\n", "metadata:\n  namespace: ${NS}\n", 1)
                             for o in objects(n, "${APP}", "${ENV}", services)))


KUBECTL_APPLY = ("envsubst < all.yaml | kubectl --kubeconfig \"$KC\" --cache-dir "
                 "\"$HOME/kcache-$$\" %s apply --server-side -f - >/dev/null")


class Server:
    def __init__(self, d, extra=()):
        pf = os.path.join(d, "port")
        self.pki = os.path.join(d, "pki")
        self.log = open(os.path.join(d, "server.log"), "w")
        self.proc = subprocess.Popen([sys.executable, SERVER, "--tls", "--certs-dir", self.pki,
                                      "--port-file", pf, "--token", TOKEN] + list(extra),
                                     stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(400):
            if os.path.exists(pf) and os.path.getsize(pf):
                break
            time.sleep(0.05)
        with open(pf) as f:
            self.port = int(f.read().strip())
        self.url = "https://127.0.0.1:%d" % self.port
        self.ctx = ssl.create_default_context(cafile=os.path.join(self.pki, "ca.crt"))

    def admin(self, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method="POST" if data else "GET",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, context=self.ctx, timeout=30) as r:
            return json.loads(r.read())

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()


def build_floor(work):
    exe = os.path.join(work, "floor")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libcurl"], capture_output=True,
                           text=True, check=True).stdout.split()
    subprocess.run(["cc", "-O2", "-o", exe, os.path.join(HERE, "floor.c")] + flags, check=True)
    return exe


def floor_inputs(d, n, ns, services=False):
    """The floor's list file: the namespace, then the n objects as JSON
    apply bodies (what prenv sends, without its labels)."""
    import yaml
    lines = []
    bodies = [("/api/v1/namespaces/%s" % ns,
               {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})]
    for doc in objects(n, "bench", "pr-7", services):
        o = yaml.safe_load(doc)
        o["metadata"]["namespace"] = ns
        plural = "services" if o["kind"] == "Service" else "configmaps"
        bodies.append(("/api/v1/namespaces/%s/%s/%s" % (ns, plural, o["metadata"]["name"]), o))
    for i, (path, body) in enumerate(bodies):
        f = os.path.join(d, "floor-%s-%d.json" % (ns, i))
        with open(f, "w") as fh:
            json.dump(body, fh)
        lines.append("%s?fieldManager=floor&force=true %s" % (path, f))
    lst = os.path.join(d, "floor-%s.list" % ns)
    with open(lst, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    return lst


def requests_of(name, stderr, n):
    """Requests one run sent: prenv's own -v summary, kubectl's -v=6 lines,
    the floor's list."""
    import re
    if name == "prenv":
        m = re.search(r"http: (\d+) requests? sent over (\d+) connection", stderr)
        return "%s (%s conn)" % (m.group(1), m.group(2)) if m else "?"
    if name == "floor":
        return str(n + 1)
    return str(len(re.findall(r"\] (GET|PATCH|POST|PUT|DELETE) https?://", stderr)))


def bench_real(a):
    """prenv, the floor and envsubst | kubectl on the real API server; returns
    the table's rows."""
    sys.path.insert(0, os.path.join(ROOT, "test", "k8s-real"))
    from cluster import RealCluster
    rc = RealCluster.attach()
    if rc is None:
        raise RuntimeError("the real cluster is not running (test/k8s-real/cluster.py status)")
    work = tempfile.mkdtemp(prefix="prenv-bench-real-")
    floor = build_floor(work)
    rows, tag = [], "%x" % (os.getpid() & 0xffff)
    try:
        for n in [int(x) for x in a.sizes.split(",")]:
            d = os.path.join(work, "n%d" % n)
            write_inputs(d, n, "b15" + tag, services=False)
            res = {k: ([], []) for k in ("prenv", "floor", "envsubst | kubectl apply --server-side")}
            made = []
            try:
                for r in range(a.runs):
                    pr = "%d%d" % (n, r)
                    ns_f, ns_k = "b15%s-f-%s" % (tag, pr), "b15%s-k-%s" % (tag, pr)
                    made += ["b15%s-pr-%s" % (tag, pr), ns_f, ns_k]
                    for name, argv, extra in [
                            ("prenv", [PRENV, "--kubeconfig", rc.kubeconfig, "-v", "deploy", "--no-wait"], {}),
                            ("floor", [floor, rc.url, rc.token, rc.ca, "8", floor_inputs(d, n, ns_f)], {}),
                            ("envsubst | kubectl apply --server-side", ["sh", "-c", KUBECTL_APPLY % "-v=6"],
                             {"KC": rc.kubeconfig, "NS": ns_k})]:
                        w, _, err = run_once_err(argv, env=base_env(d, pr, **extra), cwd=d)
                        res[name][0].append(w)
                        res[name][1].append(requests_of(name, err, n))
            finally:  # each size cleans up before the next
                subprocess.run(["kubectl", "--kubeconfig", rc.kubeconfig, "delete", "namespace",
                                "--ignore-not-found"] + made, capture_output=True, timeout=600)
            floor_med = statistics.median(res["floor"][0])
            for name, (walls, reqs) in res.items():
                med = statistics.median(walls)
                rows.append((n, name, med, med / floor_med, reqs[-1]))
                print("# bench_k8s --real N=%d %s: %.3f s (%.2fx floor), %s requests"
                      % (n, name, med, med / floor_med, reqs[-1]), file=sys.stderr)
    finally:
        shutil.rmtree(work, True)
    return rows


def print_real(rows, runs):
    print("Deploy on the real API server (kube-apiserver 1.20, TLS, HTTP/2), ConfigMaps, "
          "median of %d runs" % runs)
    print("| N objects | tool | wall time | vs floor | API requests |")
    print("|---:|---|---:|---:|---:|")
    for n, name, w, ratio, q in rows:
        print("| %d | %s | %.3f s | %.2fx | %s |" % (n, name.replace("|", "\\|"), w, ratio, q))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sizes", default="10,100,1000")
    ap.add_argument("--real", action="store_true", help="the real API server and the floor")
    a = ap.parse_args()
    if a.real:
        print_real(bench_real(a), a.runs)
        return 0
    if not shutil.which("kubectl") or not shutil.which("envsubst"):
        print("bench_k8s: kubectl and envsubst are needed", file=sys.stderr)
        return 1
    work = tempfile.mkdtemp(prefix="prenv-bench-k8s-")
    srv = Server(work)
    rows = []
    try:
        kc = write_kubeconfig(os.path.join(work, "kubeconfig"), srv.url,
                              os.path.join(srv.pki, "ca.crt"))
        for n in [int(x) for x in a.sizes.split(",")]:
            d = os.path.join(work, "n%d" % n)
            write_inputs(d, n, "bench")
            env = base_env(d, 7, NS="bench-pr-7")
            tools = {
                "prenv": ([PRENV, "--kubeconfig", kc, "-q", "deploy", "--no-wait"], None),
                "envsubst | kubectl apply --server-side": (["sh", "-c", KUBECTL_APPLY % ""],
                                                           {"KC": kc}),
            }
            for name, (argv, extra) in tools.items():
                walls, rss, reqs = [], [], []
                for _ in range(a.runs):
                    srv.admin("/_test/reset", {"state": True})
                    e = dict(env, **(extra or {}))
                    w, r = run_once(argv, env=e, cwd=d)
                    walls.append(w)
                    rss.append(r)
                    reqs.append(srv.admin("/_test/requests")["total"])
                walls.sort()
                rows.append((n, name, walls[len(walls) // 2], max(rss), max(reqs)))
                print("# bench_k8s N=%d %s: %.2f s, %d KiB, %d requests"
                      % (n, name, rows[-1][2], rows[-1][3], rows[-1][4]), file=sys.stderr)
    finally:
        srv.stop()
        shutil.rmtree(work, True)
    print("| N objects | tool | wall time (median of %d) | peak RSS | API requests |" % a.runs)
    print("|---:|---|---:|---:|---:|")
    for n, name, w, r, q in rows:
        print("| %d | %s | %.2f s | %.1f MiB | %d |" % (n, name.replace("|", "\\|"), w, r / 1024.0, q))
    return 0


if __name__ == "__main__":
    sys.exit(main())
