"""A cluster per environment kind on two REAL API servers (issue 14 item 4):
the real Kubernetes (1.20, test/k8s-real) is the preview cluster (context
k8s-real, from PRENV_KUBECONFIG_PREVIEW), a test API server
(test/servers/k8s_server.py) the production one (context production, from
PRENV_KUBECONFIG_PRODUCTION, marked production-only):

- a preview lands on the real cluster only: its pods really run, the
  production server sees zero requests;
- a rule that sends previews to the production context is refused before
  any request (exit 2, the rule's file:line:col), on both servers;
- gc and status --all visit both and name the context; gc destroys the
  expired preview on the real cluster (real namespace deletion) and writes
  nothing on the production server.

Run by test/run-tests.sh's real-cluster phase (PRENV_K8S_REAL_RUN), like
every real_*.py; skipped without a cluster. Its own app: namespaces
rctx-*."""
import json
import os
import sys
import time

from real_k8s import RealBase, check_app, env_for, real_app
from test_contexts import CONFIG as CONTEXTS_CONFIG, kubeconfig
from test_k8s_deploy import Server
from util import run_prenv

TOK_PROD = "tok-production-0123456789"

# test_contexts' configuration, with its own app, the real cluster's image
# and the preview rule's context as a parameter
CONFIG = (CONTEXTS_CONFIG.replace("app: shop", "app: " + real_app("rctx"))
          .replace("wait: 30s", "wait: 120s")
          .replace("    context: preview\n", "    context: %(preview_context)s\n")
          .replace("ghcr.io/acme/shop:1", "busybox-httpd:local").replace("%(extra)s\n", ""))


class RealContextsTest(RealBase):
    APP = real_app("rctx")

    def setUp(self):
        super().setUp()
        self.web_templates()
        self.prod = Server(self, tokens=(TOK_PROD,))
        self.kc_prod = os.path.join(self.dir, "prod.kubeconfig")
        with open(self.kc_prod, "w") as f:
            f.write(kubeconfig([("production", self.prod, TOK_PROD)], "production"))
        self.write_config("k8s-real")
        self.addCleanup(self.cleanup_ns)

    def write_config(self, preview_context):
        with open(os.path.join(self.app, ".prenv.yml"), "w") as f:
            f.write(CONFIG % {"preview_context": preview_context})

    def cleanup_ns(self):
        self.c.api("DELETE", "/api/v1/namespaces/" + self.ns())

    def env(self, **kw):
        e = env_for(**kw)
        e["PRENV_KUBECONFIG_PREVIEW"] = self.kc   # the real cluster (a path)
        e["PRENV_KUBECONFIG_PRODUCTION"] = self.kc_prod
        return e

    def prenv_run(self, *args, env=None, code=0):
        check_app(self, self.app)
        r = run_prenv(list(args), env=env or self.env(), cwd=self.app, timeout=300)
        self.assertEqual(code, r.returncode, "%s: exit %d\nstdout:\n%s\nstderr:\n%s"
                         % (args, r.returncode, r.stdout, r.stderr))
        return r

    def prod_requests(self):
        c = self.prod.admin("/_test/requests")
        return c["total"], sum(v for k, v in c["by_k8s_verb"].items()
                               if k in ("create", "update", "patch", "apply", "delete"))

    def test_preview_on_the_real_cluster_production_guarded_gc_visits_both(self):
        t0 = time.time()
        self.prenv_run("deploy")
        print("\n# real contexts: preview ready on the real cluster in %.1f s" % (time.time() - t0),
              file=sys.stderr)
        dep = self.get("/apis/apps/v1/namespaces/%s/deployments/%s" % (self.ns(), self.APP))
        self.assertEqual(1, dep["status"].get("readyReplicas"), json.dumps(dep["status"]))
        self.assertEqual((0, 0), self.prod_requests(), "the production server saw the preview")

        # production on the test server
        main = self.env()
        main.pop("PRENV_PR")
        main["PRENV_BRANCH"] = "main"
        self.prenv_run("deploy", env=main)
        self.assertIsNone(self.get("/api/v1/namespaces/%s-production" % self.APP))  # not on the real one

        # a rule sending previews to the production context: refused before any request
        self.prod.admin("/_test/reset", {})
        self.write_config("production")
        r = self.prenv_run("deploy", env=self.env(pr=8), code=2)
        self.assertRegex(r.stderr, r"\.prenv\.yml:15:14: .*would go to context 'production'")
        self.assertIsNone(self.get("/api/v1/namespaces/" + self.ns(8)))
        self.assertEqual((0, 0), self.prod_requests())
        self.write_config("k8s-real")

        # status --all and gc visit both
        r = self.prenv_run("-o", "json", "status", "--all")
        rows = {e["name"]: e["context"] for e in json.loads(r.stdout)}
        self.assertEqual({"pr-7": "k8s-real", "production": "production"}, rows)
        self.prod.admin("/_test/reset", {})
        r = self.prenv_run("gc", "--now", "2099-01-01T00:00:00Z")
        self.assertRegex(r.stdout, r"(?m)^pr-7 +k8s-real +destroyed \(TTL 72h passed")
        self.assertRegex(r.stdout, r"(?m)^production +production +kept ")
        total, writes = self.prod_requests()
        print("# real contexts gc: production server %d requests, %d writes" % (total, writes),
              file=sys.stderr)
        self.assertEqual(0, writes)
        ns = self.get("/api/v1/namespaces/" + self.ns())
        self.assertTrue(ns is None or ns["metadata"].get("deletionTimestamp"), json.dumps(ns))
