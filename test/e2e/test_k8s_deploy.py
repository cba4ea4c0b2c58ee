"""End to end: the prenv binary against test/servers/k8s_server.py (and the
real kubectl on the same server): deploy, redeploy + prune, failure
diagnosis, faults, destroy, auth, exec plugins, in-cluster."""
import json
import os
import shutil
import subprocess
import sys
import time
import unittest
import urllib.request

from util import ROOT, clean_env, run_prenv, tmpdir

SERVER = os.path.join(ROOT, "test", "servers", "k8s_server.py")
sys.path.insert(0, os.path.join(ROOT, "test", "servers"))
TOKEN = "e2e-token-0123456789"
SHA = "c" * 40
KUBECTL = shutil.which("kubectl")


def kubectl_minor():
    """The kubectl client's minor version (20 for Debian 12's kubernetes-client)."""
    if not KUBECTL:
        return 0
    r = subprocess.run([KUBECTL, "version", "--client", "-o", "json"], capture_output=True,
                       text=True, timeout=60)
    try:
        return int("".join(c for c in json.loads(r.stdout)["clientVersion"]["minor"] if c.isdigit()))
    except (ValueError, KeyError):
        return 99


KUBECTL_MINOR = kubectl_minor()


def kubectl_args(args):
    """args for the installed kubectl: Debian 12's kubectl 1.20 shows managed
    fields without --show-managed-fields (added in 1.21), and before
    validating an apply asks for the OpenAPI document in protobuf, which the
    test server does not speak (--validate=false: the API server validates)."""
    args = list(args)
    if KUBECTL_MINOR < 21 and "--show-managed-fields" in args:
        args.remove("--show-managed-fields")
    if args[:1] == ["apply"] and not any(a.startswith("--validate") for a in args):
        args.insert(1, "--validate=false")
    return args

CONFIG = """version: 1
app: shop
templates: tpl
url: "https://{{env.name}}.preview.example.com"
provider:
  kind: kubernetes
  wait: %(wait)s
environments:
  - pull_request: true
values:
  image: "%(image)s"
"""


class Server:
    def __init__(self, tc, tls=True, tokens=(TOKEN,), extra=()):
        self.dir = tmpdir(tc)
        pf = os.path.join(self.dir, "port")
        args = [sys.executable, SERVER, "--port-file", pf, "--ready-delay", "0.3",
                "--terminate-delay", "0.3", "--crash-period", "0.3"]
        args += ["--tls", "--certs-dir", os.path.join(self.dir, "pki")] if tls else ["--plain"]
        for t in tokens:
            args += ["--token", t]
        self.log = open(os.path.join(self.dir, "server.log"), "w")
        self.proc = subprocess.Popen(args + list(extra), stdout=self.log, stderr=subprocess.STDOUT)
        tc.addCleanup(self.stop)
        self.port = None
        for _ in range(400):
            if os.path.exists(pf):
                with open(pf) as f:
                    s = f.read().strip()
                if s:
                    self.port = int(s)
                    break
            time.sleep(0.05)
        self.scheme = "https" if tls else "http"
        self.url = "%s://127.0.0.1:%d" % (self.scheme, self.port)
        self.pki = os.path.join(self.dir, "pki")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()

    def admin(self, path, body=None):
        import ssl
        ctx = None
        if self.scheme == "https":
            ctx = ssl.create_default_context(cafile=os.path.join(self.pki, "ca.crt"))
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method="POST" if data else "GET",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, context=ctx, timeout=60) as r:
            return json.loads(r.read())

    def kubeconfig(self, d, token=TOKEN, user=None):
        user = user or {"token": token}
        cfg = {"apiVersion": "v1", "kind": "Config", "current-context": "t",
               "clusters": [{"name": "t", "cluster": {"server": self.url}}],
               "users": [{"name": "u", "user": user}],
               "contexts": [{"name": "t", "context": {"cluster": "t", "user": "u"}}]}
        if self.scheme == "https":
            cfg["clusters"][0]["cluster"]["certificate-authority"] = os.path.join(self.pki, "ca.crt")
        p = os.path.join(d, "kubeconfig")
        with open(p, "w") as f:
            json.dump(cfg, f)
        return p

    def kubectl(self, kc, *args):
        return subprocess.run([KUBECTL, "--kubeconfig", kc] + kubectl_args(args),
                              capture_output=True, text=True, timeout=60)

    def get(self, kc, path):
        r = subprocess.run([KUBECTL, "--kubeconfig", kc, "get", "--raw", path],
                           capture_output=True, text=True, timeout=60)
        return json.loads(r.stdout) if r.returncode == 0 else None


def make_app(tc, image="ghcr.io/acme/shop:1", wait="30s"):
    d = tmpdir(tc)
    shutil.copytree(os.path.join(ROOT, "templates", "web"), os.path.join(d, "tpl"),
                    ignore=shutil.ignore_patterns("*.md"))
    with open(os.path.join(d, ".prenv.yml"), "w") as f:
        f.write(CONFIG % {"image": image, "wait": wait})
    return d


def env_for(**extra):
    return clean_env(PRENV_CI="local", PRENV_REPO="acme/shop", PRENV_BRANCH="feature/login",
                     PRENV_PR="42", PRENV_SHA=SHA, HOME="/nonexistent", **extra)


def deploy(app, kc, *args, env=None):
    return run_prenv(["--kubeconfig", kc] + list(args) + ["deploy"], env=env or env_for(), cwd=app)


NS = "shop-pr-42"


@unittest.skipUnless(KUBECTL, "kubectl is not installed")
class K8sDeployTest(unittest.TestCase):
    def setUp(self):
        self.srv = Server(self)
        self.kdir = tmpdir(self)
        self.kc = self.srv.kubeconfig(self.kdir)

    def check(self, r, code=0):
        self.assertEqual(r.returncode, code, "stdout:\n%s\nstderr:\n%s" % (r.stdout, r.stderr))

    def test_bad_api_version_is_config_error_and_changes_nothing(self):
        app = make_app(self)
        with open(os.path.join(app, "tpl", "zz-bad.yaml"), "w") as f:
            f.write("apiVersion: example.com/v1/../../../api/v1\nkind: Widget\n"
                    "metadata:\n  name: w\n")
        r = deploy(app, self.kc)
        self.check(r, 2)
        self.assertIn("apiVersion", r.stderr)
        self.assertIsNone(self.srv.get(self.kc, "/api/v1/namespaces/" + NS))

    def test_deploy_redeploy_prune_destroy(self):
        app = make_app(self)
        r = deploy(app, self.kc)
        self.check(r)
        self.assertIn("deployment/shop 1/1 ready", r.stderr)
        self.assertIn("https://pr-42.preview.example.com", r.stdout)
        # what kubectl sees: the objects, with prenv's labels
        out = self.srv.kubectl(self.kc, "get", "-n", NS, "deployment,service,ingress", "-o", "json",
                               "--show-managed-fields")
        self.assertEqual(out.returncode, 0, out.stderr)
        items = json.loads(out.stdout)["items"]
        self.assertEqual(sorted((i["kind"], i["metadata"]["name"]) for i in items),
                         [("Deployment", "shop"), ("Ingress", "shop"), ("Service", "shop")])
        for i in items:
            lb = i["metadata"]["labels"]
            self.assertEqual(lb["app.kubernetes.io/managed-by"], "prenv")
            self.assertEqual(lb["prenv.dev/app"], "shop")
            self.assertEqual(lb["prenv.dev/env"], "pr-42")
            # applied by prenv's field manager (server-side apply)
            self.assertIn("prenv", [m["manager"] for m in i["metadata"]["managedFields"]])
        ns = self.srv.get(self.kc, "/api/v1/namespaces/" + NS)
        self.assertEqual(ns["metadata"]["labels"]["app.kubernetes.io/managed-by"], "prenv")
        self.assertEqual(ns["metadata"]["annotations"]["prenv.dev/sha"], SHA)
        self.assertEqual(ns["metadata"]["annotations"]["prenv.dev/pr"], "42")
        self.assertEqual(ns["metadata"]["annotations"]["prenv.dev/repo"], "acme/shop")
        self.assertIn("prenv.dev/deployed-at", ns["metadata"]["annotations"])
        # one request per object and a few more (namespace get+apply, wait lists/watches)
        reqs = self.srv.admin("/_test/requests")

        # a kubectl-applied object without prenv's labels must survive prune
        cm = os.path.join(self.kdir, "cm.yaml")
        with open(cm, "w") as f:
            f.write("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: not-ours\ndata: {a: b}\n")
        self.assertEqual(self.srv.kubectl(self.kc, "apply", "--server-side", "-n", NS, "-f", cm).returncode, 0)

        # redeploy: one template changed, one removed
        os.unlink(os.path.join(app, "tpl", "ingress.yaml"))
        p = os.path.join(app, "tpl", "service.yaml")
        with open(p) as f:
            s = f.read()
        with open(p, "w") as f:
            f.write(s.replace("type: ClusterIP", "type: NodePort"))
        r = deploy(app, self.kc)
        self.check(r)
        self.assertIn("ingress/shop pruned", r.stderr)
        svc = self.srv.get(self.kc, "/api/v1/namespaces/%s/services/shop" % NS)
        self.assertEqual(svc["spec"]["type"], "NodePort")
        self.assertIsNone(self.srv.get(self.kc, "/apis/networking.k8s.io/v1/namespaces/%s/ingresses/shop" % NS))
        self.assertIsNotNone(self.srv.get(self.kc, "/api/v1/namespaces/%s/configmaps/not-ours" % NS))
        self.assertGreater(reqs["total"], 0)

        # status
        r = run_prenv(["--kubeconfig", self.kc, "-o", "json", "status"], env=env_for(), cwd=app)
        self.check(r)
        st = json.loads(r.stdout)
        self.assertEqual(st["status"], "ready")
        self.assertEqual(st["details"]["sha"], SHA)
        self.assertIn({"kind": "Deployment", "name": "shop", "state": "ready",
                       "summary": "deployment/shop 1/1 ready"}, st["details"]["objects"])

        # destroy: gone, and waits for it
        r = run_prenv(["--kubeconfig", self.kc, "destroy"], env=env_for(), cwd=app)
        self.check(r)
        self.assertIn("namespace/%s is gone" % NS, r.stderr)
        out = self.srv.kubectl(self.kc, "get", "namespace", NS)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("NotFound", out.stderr)
        # destroying what is gone is success
        r = run_prenv(["--kubeconfig", self.kc, "destroy"], env=env_for(), cwd=app)
        self.check(r)
        self.assertIn("does not exist", r.stderr)
        r = run_prenv(["--kubeconfig", self.kc, "-o", "json", "status"], env=env_for(), cwd=app)
        self.check(r)
        self.assertEqual(json.loads(r.stdout)["status"], "absent")

    def test_crashloop_fails_with_reason_and_logs(self):
        app = make_app(self, image="ghcr.io/acme/crashloop:1")
        r = deploy(app, self.kc)
        self.check(r, 1)
        self.assertIn("CrashLoopBackOff", r.stderr)
        self.assertIn("last 30 log lines of pod/shop-", r.stderr)
        self.assertIn("panic:", r.stderr)
        self.assertIn("Warning events in namespace " + NS, r.stderr)
        self.assertIn("BackOff", r.stderr)

    def test_progress_deadline_exceeded_still_shows_the_crashing_pod(self):
        # a Deployment that has been failing for a while (a redeploy of the
        # same commit): ProgressDeadlineExceeded is the reason, and the
        # detail still says what its pod does and shows its log lines
        app = make_app(self, image="ghcr.io/acme/crashloop:1")
        dep = os.path.join(app, "tpl", "deployment.yaml")
        with open(dep) as f:
            text = f.read()
        self.assertIn("  replicas: 1\n", text)
        with open(dep, "w") as f:
            f.write(text.replace("  replicas: 1\n", "  replicas: 1\n  progressDeadlineSeconds: 2\n", 1))
        self.check(deploy(app, self.kc), 1)
        path = "/apis/apps/v1/namespaces/%s/deployments/shop" % NS
        deadline = time.time() + 60
        while not any(c.get("reason") == "ProgressDeadlineExceeded"
                      for c in self.srv.get(self.kc, path)["status"].get("conditions", [])):
            self.assertLess(time.time(), deadline, "no ProgressDeadlineExceeded after 60 s")
            time.sleep(0.2)
        r = deploy(app, self.kc)
        self.check(r, 1)
        self.assertIn("ProgressDeadlineExceeded", r.stderr)
        self.assertIn("CrashLoopBackOff", r.stderr)
        self.assertIn("last 30 log lines of pod/shop-", r.stderr)
        self.assertIn("panic:", r.stderr)

    def test_imagepull_fails_fast(self):
        app = make_app(self, image="ghcr.io/acme/imagepull:1", wait="60s")
        t0 = time.time()
        r = deploy(app, self.kc)
        self.check(r, 1)
        self.assertRegex(r.stderr, "ErrImagePull|ImagePullBackOff")
        # failed on the pull, not at the end of the 60 s wait
        self.assertNotIn("not ready after", r.stderr)
        print("\n# image pull failure diagnosed in %.1f s (wait 60s)" % (time.time() - t0), file=sys.stderr)

    def test_timeout_lists_what_is_not_ready(self):
        srv = Server(self, extra=["--ready-delay", "30"])
        kc = srv.kubeconfig(tmpdir(self))
        app = make_app(self, wait="2s")
        r = deploy(app, kc)
        self.check(r, 1)
        self.assertIn("not ready after 2 s", r.stderr)
        self.assertIn("deployment/shop 0/1 ready", r.stderr)

    def test_faults_mid_deploy_converge(self):
        app = make_app(self)
        env = env_for(PRENV_HTTP_SLEEP_SCALE="0.01")
        # 429 with Retry-After and 503 on applies: retried (SSA is idempotent)
        self.srv.admin("/_test/faults", {"match": "PATCH", "429": 1, "503": 2, "retry_after": 1})
        r = deploy(app, self.kc, env=env)
        self.check(r)
        # Dropped connections on applies (SSA is idempotent: retried, at most
        # 4 attempts per request). 3 drops: absorbed by the retries, success.
        self.srv.admin("/_test/reset")
        self.srv.admin("/_test/faults", {"match": "PATCH", "drop": 3})
        r = deploy(app, self.kc, env=env)
        self.check(r)
        # 6 drops: the first apply (the namespace, alone in its stage) loses
        # all 4 attempts (each takes one drop; libcurl itself resends once
        # when a reused connection dies, so the first may take two: 4-5 of
        # the 6), so the deploy fails clearly (exit 1, what and why) and
        # nothing else was written.
        self.srv.admin("/_test/reset")
        self.srv.admin("/_test/faults", {"match": "PATCH", "drop": 6})
        r = deploy(app, self.kc, env=env)
        self.check(r, 1)
        self.assertIn("apply namespace/%s: PATCH " % NS, r.stderr)
        self.assertIn("Empty reply from server (gave up after 4 attempts)", r.stderr)
        patches = [e for e in self.srv.admin("/_test/requests?log=1")["log"] if e["method"] == "PATCH"]
        self.assertIn(len(patches), (4, 5), patches)
        self.assertEqual({("/api/v1/namespaces/" + NS, "dropped")},
                         {(e["path"], e.get("status")) for e in patches})
        # and a re-run without faults converges
        self.srv.admin("/_test/reset")
        r = deploy(app, self.kc, env=env)
        self.check(r)
        self.assertIsNotNone(self.srv.get(self.kc, "/apis/apps/v1/namespaces/%s/deployments/shop" % NS))

    def test_destroy_refuses_foreign_namespace(self):
        app = make_app(self)
        nsf = os.path.join(self.kdir, "ns.yaml")
        with open(nsf, "w") as f:
            f.write("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n" % NS)
        # (kubectl create sends protobuf, which the test server does not speak)
        out = self.srv.kubectl(self.kc, "apply", "--server-side", "-f", nsf)
        self.assertEqual(out.returncode, 0, out.stderr)
        r = run_prenv(["--kubeconfig", self.kc, "destroy"], env=env_for(), cwd=app)
        self.check(r, 3)
        self.assertIn("refusing to delete namespace " + NS, r.stderr)
        ns = self.srv.get(self.kc, "/api/v1/namespaces/" + NS)
        self.assertIsNotNone(ns)
        self.assertNotIn("deletionTimestamp", ns["metadata"])
        # and deploy will not take it over
        r = deploy(app, self.kc)
        self.check(r, 2)
        self.assertIn("not managed by prenv", r.stderr)

    def test_wrong_token_exit_3(self):
        app = make_app(self)
        kc = self.srv.kubeconfig(tmpdir(self), token="wrong-token-abcdef")
        r = deploy(app, kc)
        self.check(r, 3)
        self.assertIn("401", r.stderr)
        self.assertIn("expired or wrong", r.stderr)
        self.assertNotIn("wrong-token-abcdef", r.stderr + r.stdout)

    def test_exec_plugin_supplies_token(self):
        app = make_app(self)
        d = tmpdir(self)
        plug = os.path.join(d, "plugin.sh")
        with open(plug, "w") as f:
            f.write("#!/bin/sh\n[ \"$1\" = token ] || exit 9\n"
                    "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
                    "\"status\":{\"token\":\"%s\",\"expirationTimestamp\":\"2999-01-01T00:00:00Z\"}}' \"$TOK\"\n")
        os.chmod(plug, 0o755)
        kc = self.srv.kubeconfig(d, user={"exec": {
            "apiVersion": "client.authentication.k8s.io/v1", "command": "./plugin.sh",
            "args": ["token"], "env": [{"name": "TOK", "value": TOKEN}],
            "interactiveMode": "Never"}})
        r = deploy(app, kc)
        self.check(r)
        self.assertNotIn(TOKEN, r.stderr + r.stdout)

    def test_exec_plugin_client_certificate(self):
        # Teleport's tsh answers with a client certificate and key instead of a
        # token (issue 10 #1: this crashed every command, exit 139)
        from k8s_e2e import cert_plugin_user
        app = make_app(self)
        d = tmpdir(self)
        kc = self.srv.kubeconfig(d, user=cert_plugin_user(d, os.path.join(self.srv.pki, "client.crt"),
                                                          os.path.join(self.srv.pki, "client.key")))
        r = deploy(app, kc)
        self.check(r)
        self.assertIn("deployment/shop 1/1 ready", r.stderr)
        r = run_prenv(["--kubeconfig", kc, "-o", "json", "status"], env=env_for(), cwd=app)
        self.check(r)
        self.assertEqual(json.loads(r.stdout)["status"], "ready")
        self.assertNotIn("PRIVATE KEY", r.stderr + r.stdout)

    def test_prenv_kubeconfig_content(self):
        app = make_app(self)
        import base64
        with open(self.kc, "rb") as f:
            content = base64.b64encode(f.read()).decode()
        r = run_prenv(["deploy"], env=env_for(PRENV_KUBECONFIG=content), cwd=app)
        self.check(r)


@unittest.skipUnless(KUBECTL, "kubectl is not installed")
class K8sTlsTest(unittest.TestCase):
    def test_incluster_and_client_cert(self):
        srv = Server(self, tls=True)
        app = make_app(self)
        sa = tmpdir(self)
        shutil.copy(os.path.join(srv.pki, "ca.crt"), os.path.join(sa, "ca.crt"))
        with open(os.path.join(sa, "token"), "w") as f:
            f.write(TOKEN + "\n")
        with open(os.path.join(sa, "namespace"), "w") as f:
            f.write("ci\n")
        env = env_for(KUBERNETES_SERVICE_HOST="127.0.0.1", KUBERNETES_SERVICE_PORT=str(srv.port),
                      PRENV_SA_DIR=sa)
        r = run_prenv(["deploy"], env=env, cwd=app)
        self.assertEqual(r.returncode, 0, r.stderr)
        # client certificate (from -data, kept in memory) instead of a token
        import base64

        def b64(p):
            with open(p, "rb") as f:
                return base64.b64encode(f.read()).decode()
        kc = srv.kubeconfig(tmpdir(self), user={
            "client-certificate-data": b64(os.path.join(srv.pki, "client.crt")),
            "client-key-data": b64(os.path.join(srv.pki, "client.key"))})
        r = run_prenv(["--kubeconfig", kc, "-o", "json", "status"], env=env_for(), cwd=app)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["status"], "ready")


if __name__ == "__main__":
    unittest.main()


@unittest.skipUnless(KUBECTL, "kubectl is not installed")
class K8sReportTest(unittest.TestCase):
    """The PR comment id is remembered in the namespace annotation
    prenv.dev/comment-id, so a later deploy edits it without listing the
    PR's comments."""

    def setUp(self):
        from codehost import start_github
        self.srv = Server(self)
        self.kdir = tmpdir(self)
        self.kc = self.srv.kubeconfig(self.kdir)
        self.gh = start_github(self.kdir, tokens={"ghs_bot": "github-actions[bot]:write"})
        self.addCleanup(self.gh.stop)
        self.gh.seed({"repo": "acme/shop",
                      "pulls": [{"number": 42, "head_sha": SHA, "head_ref": "feature/login",
                                 "base_ref": "main", "state": "open", "user": "alice"}]})

    def env(self):
        return env_for(PRENV_API_URL=self.gh.url, PRENV_HOST="github", GITHUB_TOKEN="ghs_bot",
                       PRENV_HTTP_SLEEP_SCALE="0.01")

    def comment_lists(self):
        return [r for r in self.gh.requests()
                if r["method"] == "GET" and r["path"].rstrip("/").endswith("/issues/42/comments")]

    def test_comment_id_remembered_in_namespace(self):
        app = make_app(self)
        r = deploy(app, self.kc, env=self.env())
        self.assertEqual(0, r.returncode, r.stderr)
        comments = [c for c in self.gh.state()["comments"] if c["body"].startswith("<!-- prenv:marker")]
        self.assertEqual(1, len(comments))
        ns = self.srv.get(self.kc, "/api/v1/namespaces/" + NS)
        self.assertEqual(str(comments[0]["id"]), ns["metadata"]["annotations"]["prenv.dev/comment-id"])
        self.assertTrue(self.comment_lists(), "the first deploy lists the comments")

        self.gh.clear_requests()
        r = deploy(app, self.kc, env=self.env())
        self.assertEqual(0, r.returncode, r.stderr)
        self.assertEqual([], self.comment_lists(), "a later deploy must not list the comments")
        after = [c for c in self.gh.state()["comments"] if c["body"].startswith("<!-- prenv:marker")]
        self.assertEqual([comments[0]["id"]], [c["id"] for c in after])
        print("\n# comment requests on a redeploy with the remembered id: %d"
              % len([q for q in self.gh.requests() if "/comments" in q["path"]]))
        self.assertEqual([], self.gh.invalid_requests())
