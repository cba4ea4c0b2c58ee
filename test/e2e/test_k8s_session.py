"""End to end: one Kubernetes session per prenv run. The kubeconfig's user is
an exec credential plugin that counts its runs; prenv deploys templates/web
to test/servers/k8s_server.py (via k8s_harness.py), which counts the TCP
connections (and TLS handshakes) it accepts.

Required behaviour:
  - the plugin runs exactly once per `prenv deploy`, also when the run reads
    and writes the namespace annotation prenv.dev/comment-id for the PR
    comment (get_note / set_note must not load the kubeconfig again);
  - a deploy (first or next: apply, prune, wait) opens the connections its
    parallelism needs and no more: one for the requests (each of the
    Service, the Deployment and the Ingress of templates/web is alone in its
    helm-order stage, so no two applies run at once; the prune lists and the
    diagnosis reuse it) plus one per watch stream of the readiness wait
    (deployments and pods), which keeps its connection from slice to slice
    (a watch that ends must not cost a new connection each time).

Only prenv's connections are counted: the server's counts are reset just
before prenv starts; "clients" leaves out the harness's own admin calls.

The measured figures are printed as "# " lines (run-tests.sh shows them)."""
import json
import os
import shutil
import sys
import unittest

from util import ROOT, clean_env, run_prenv, tmpdir

sys.path.insert(0, os.path.join(ROOT, "test", "servers"))
from k8s_harness import K8sServer  # noqa: E402

TOKEN = "session-token-0123456789"
SHA = "d" * 40
# What templates/web needs: 1 (requests; no helm stage holds two of its
# objects) + 2 watch streams (deployments, pods). prenv's own cap, 8 requests
# in flight, would allow more for other templates.
MAX_CONNECTIONS = 1 + 2

CONFIG = """version: 1
app: shop
templates: tpl
url: "https://{{env.name}}.preview.example.com"
provider:
  kind: kubernetes
  wait: 30s
environments:
  - pull_request: true
  - branch: "**"
values:
  image: "ghcr.io/acme/shop:{{git.sha}}"
"""

# Appends one line per run to $PLUGIN_COUNTER, then prints the credential.
PLUGIN = """#!/bin/sh
echo "run $$ $*" >> "$PLUGIN_COUNTER"
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",\
"status":{"token":"%s","expirationTimestamp":"2999-01-01T00:00:00Z"}}\\n' "$PLUGIN_TOKEN"
"""


class SessionBase:
    READY_DELAY = "0.3"  # seconds until a created pod is Running/Ready

    def setUp(self):
        self.srv = K8sServer(tls=True, tokens=[TOKEN],
                             args=["--ready-delay", self.READY_DELAY, "--terminate-delay", "0.3"]).start()
        self.addCleanup(self.srv.stop)
        self.dir = tmpdir(self)
        self.counter = os.path.join(self.dir, "plugin-runs")
        plug = os.path.join(self.dir, "plugin.sh")
        with open(plug, "w") as f:
            f.write(PLUGIN)
        os.chmod(plug, 0o755)
        self.kc = os.path.join(self.dir, "kubeconfig")
        cfg = {"apiVersion": "v1", "kind": "Config", "current-context": "t",
               "clusters": [{"name": "t", "cluster": {"server": self.srv.url,
                                                      "certificate-authority": self.srv.ca}}],
               "users": [{"name": "u", "user": {"exec": {
                   "apiVersion": "client.authentication.k8s.io/v1", "command": plug,
                   "args": ["token"], "interactiveMode": "Never",
                   "env": [{"name": "PLUGIN_COUNTER", "value": self.counter},
                           {"name": "PLUGIN_TOKEN", "value": TOKEN}]}}}],
               "contexts": [{"name": "t", "context": {"cluster": "t", "user": "u"}}]}
        with open(self.kc, "w") as f:
            json.dump(cfg, f)
        self.app = os.path.join(self.dir, "app")
        os.makedirs(self.app)
        shutil.copytree(os.path.join(ROOT, "templates", "web"), os.path.join(self.app, "tpl"),
                        ignore=shutil.ignore_patterns("*.md"))
        with open(os.path.join(self.app, ".prenv.yml"), "w") as f:
            f.write(CONFIG)

    def plugin_runs(self):
        try:
            with open(self.counter) as f:
                return sum(1 for line in f if line.startswith("run "))
        except FileNotFoundError:
            return 0

    def deploy(self, env):
        """prenv deploy, counted from a clean slate: the plugin's counter file is
        removed and the server's counts are reset just before prenv starts, and read
        right after it exits (before this test talks to the server again).
        Returns (CompletedProcess, plugin runs, connection counts, API requests)."""
        if os.path.exists(self.counter):
            os.unlink(self.counter)
        self.srv.admin("POST", "/_test/reset")
        r = run_prenv(["--kubeconfig", self.kc, "deploy"], env=env, cwd=self.app)
        conns = self.srv.connections()
        reqs = self.srv.admin("GET", "/_test/requests")["total"]
        self.assertEqual(0, r.returncode, "prenv deploy: exit %d\nstdout:\n%s\nstderr:\n%s"
                         % (r.returncode, r.stdout, r.stderr))
        return r, self.plugin_runs(), conns, reqs

    def namespace(self, ns):
        st, _, body = self.srv.api("GET", "/api/v1/namespaces/" + ns)
        return body if st == 200 else None


def env_for(sha=SHA, **extra):
    return clean_env(PRENV_CI="local", PRENV_REPO="acme/shop", PRENV_BRANCH="feature/login",
                     PRENV_SHA=sha, HOME="/nonexistent", **extra)


def describe(what, runs, c, reqs):
    return ("# %s: exec plugin ran %d time(s); %d connection(s) accepted from prenv "
            "(%d TLS handshakes, %d resumed; most open at once %d); %d API requests"
            % (what, runs, c["clients"], c["tls_handshakes"] - c["admin"], c["tls_resumed"],
               c["max_open"], reqs))


class K8sSessionTest(SessionBase, unittest.TestCase):
    """Branch deploys (no PR, no code host: nothing is reported). Pods become
    ready 6 s after creation, like a real rollout, so the readiness wait runs
    for a while: its watches must keep their connections, not open new ones."""

    READY_DELAY = "6"

    def check_session(self, what, runs, c):
        self.assertTrue(c["by_user_agent"], "no API connection was counted: %s" % c)
        self.assertEqual(1, runs, "%s: the exec plugin ran %d times for one prenv deploy (want 1)"
                         % (what, runs))
        self.assertLessEqual(c["clients"], MAX_CONNECTIONS,
                             "%s: prenv opened %d connections for one deploy (want at most %d): %s"
                             % (what, c["clients"], MAX_CONNECTIONS, c))

    def managed_namespaces(self):
        st, _, lst = self.srv.api("GET", "/api/v1/namespaces?labelSelector=" +
                                  "app.kubernetes.io/managed-by%3Dprenv,prenv.dev/app%3Dshop")
        return [n["metadata"]["name"] for n in lst.get("items", [])] if st == 200 else []

    def test_deploy_one_plugin_run_and_the_connections_it_needs(self):
        r, runs, c, reqs = self.deploy(env_for())
        print("\n" + describe("branch deploy", runs, c, reqs))
        self.assertEqual(1, len(self.managed_namespaces()), "the deploy created no namespace:\n" + r.stderr)
        self.check_session("deploy", runs, c)

    def test_redeploy_one_plugin_run_and_the_connections_it_needs(self):
        # the next push to the branch (a new image: a rollout): apply, prune
        # (lists every kind), wait
        self.deploy(env_for())
        r, runs, c, reqs = self.deploy(env_for(sha="e" * 40))
        print("\n" + describe("branch redeploy", runs, c, reqs))
        self.assertEqual(1, len(self.managed_namespaces()), r.stderr)
        self.check_session("redeploy", runs, c)


class K8sSessionReportTest(SessionBase, unittest.TestCase):
    """A PR deploy that reports to the GitHub test server and keeps the comment
    id in the namespace annotation prenv.dev/comment-id (get_note + set_note)."""

    def setUp(self):
        super().setUp()
        from codehost import start_github
        self.gh = start_github(self.dir, tokens={"ghs_bot": "github-actions[bot]:write"})
        self.addCleanup(self.gh.stop)
        self.gh.seed({"repo": "acme/shop",
                      "pulls": [{"number": 42, "head_sha": SHA, "head_ref": "feature/login",
                                 "base_ref": "main", "state": "open", "user": "alice"}]})

    def env(self):
        return env_for(PRENV_PR="42", PRENV_API_URL=self.gh.url, PRENV_HOST="github",
                       GITHUB_TOKEN="ghs_bot", PRENV_HTTP_SLEEP_SCALE="0.01")

    def test_pr_deploy_with_comment_id_one_plugin_run(self):
        # first deploy: no annotation yet (get_note finds none, set_note stores it)
        r1, runs1, c1, reqs1 = self.deploy(self.env())
        print("\n" + describe("PR deploy, first", runs1, c1, reqs1))
        comments = [c for c in self.gh.state()["comments"] if c["body"].startswith("<!-- prenv:marker")]
        self.assertEqual(1, len(comments), r1.stderr)
        ns = self.namespace("shop-pr-42")
        self.assertEqual(str(comments[0]["id"]),
                         ((ns or {}).get("metadata", {}).get("annotations") or {}).get("prenv.dev/comment-id"),
                         "the comment id is not in the namespace annotation (so get_note/set_note "
                         "were not exercised):\n" + r1.stderr)
        # next deploy: get_note finds the remembered id
        r2, runs2, c2, reqs2 = self.deploy(self.env())
        print(describe("PR deploy, with the remembered comment id", runs2, c2, reqs2))
        self.assertEqual([], self.gh.invalid_requests())
        self.assertEqual((1, 1), (runs1, runs2),
                         "the exec plugin ran %d and %d times for two PR deploys (want once per deploy: "
                         "deploy, get_note and set_note share one kubeconfig load)" % (runs1, runs2))


if __name__ == "__main__":
    unittest.main()
