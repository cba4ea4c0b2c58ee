"""A cluster per environment kind (issue 14 item 4) with the real binary and
TWO test API servers (test/servers/k8s_server.py), each its own context with
its own token (a server answers 401 to the other's token, so a token sent
to the wrong server shows as a 401 in its request log):

- a preview rule lands on the preview server only (the other sees zero
  requests); PRENV_KUBECONFIG_PREVIEW / _PRODUCTION pick the kubeconfig per
  kind, a rule's kubeconfig: wins over them;
- a production-only context (provider.production_context) refuses a
  preview before any request: exit 2, the rule's file:line:col, both servers
  see zero requests (the context named by the rule, and the context coming
  from the kubeconfig's current-context);
- gc and status --all visit both servers (one list per context) and name
  the context of each environment; gc destroys on the right server;
- one server down: it is reported (exit 1) and the other is still gc'ed.

The request counts per server are printed (# lines)."""
import json
import os
import shutil
import ssl
import sys
import unittest
import urllib.error
import urllib.request

from util import ROOT, run_prenv, tmpdir
from test_k8s_deploy import Server
from test_gc import Base

TOK_PREVIEW = "tok-preview-0123456789"
TOK_PROD = "tok-production-0123456789"

CONFIG = """version: 1
app: shop
templates: tpl
url: "https://{{env.name}}.example.com"
provider:
  kind: kubernetes
  wait: 30s
  production_context: [production]
environments:
  - branch: main
    name: production
    kind: production
    context: production
  - pull_request: true
    context: preview
    ttl: 72h
values:
  image: "ghcr.io/acme/shop:1"
%(extra)s
"""


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def kubeconfig(contexts, current):
    """A kubeconfig (JSON) with one context per (name, server, token)."""
    cfg = {"apiVersion": "v1", "kind": "Config", "current-context": current,
           "clusters": [], "users": [], "contexts": []}
    for name, srv, tok in contexts:
        cfg["clusters"].append({"name": "c-" + name, "cluster": {
            "server": srv.url, "certificate-authority": os.path.join(srv.pki, "ca.crt")}})
        cfg["users"].append({"name": "u-" + name, "user": {"token": tok}})
        cfg["contexts"].append({"name": name, "context": {"cluster": "c-" + name, "user": "u-" + name}})
    return json.dumps(cfg)


class ContextsTest(Base):
    def setUp(self):
        self.prev = Server(self, tokens=(TOK_PREVIEW,))
        self.prod = Server(self, tokens=(TOK_PROD,))
        self.dir = tmpdir(self)
        self.kc_prev = kubeconfig([("preview", self.prev, TOK_PREVIEW)], "preview")
        self.kc_prod_path = os.path.join(self.dir, "prod.kubeconfig")
        write(self.kc_prod_path, kubeconfig([("production", self.prod, TOK_PROD)], "production"))
        # both contexts in one file, current-context production
        self.kc_both = os.path.join(self.dir, "both.kubeconfig")
        write(self.kc_both, kubeconfig([("preview", self.prev, TOK_PREVIEW),
                                        ("production", self.prod, TOK_PROD)], "production"))

    def app(self, extra="", config=CONFIG):
        d = tmpdir(self)
        shutil.copytree(os.path.join(ROOT, "templates", "web"), os.path.join(d, "tpl"),
                        ignore=shutil.ignore_patterns("*.md"))
        write(os.path.join(d, ".prenv.yml"), config % {"extra": extra})
        return d

    def env(self, pr=None, branch=None, kinds=True, **extra):
        if kinds:  # content for one kind, a file path for the other (both forms)
            extra.setdefault("PRENV_KUBECONFIG_PREVIEW", self.kc_prev)
            extra.setdefault("PRENV_KUBECONFIG_PRODUCTION", self.kc_prod_path)
        return Base.env(self, pr=pr, branch=branch, **extra)

    def run_ok(self, app, args, env, code=0):
        r = run_prenv(args, env=env, cwd=app)
        self.assertEqual(code, r.returncode, "stdout:\n%s\nstderr:\n%s" % (r.stdout, r.stderr))
        return r

    def reset(self):
        for s in (self.prev, self.prod):
            s.admin("/_test/reset", {})

    def counts(self, srv):
        c = srv.admin("/_test/requests?log=1")
        writes = sum(v for k, v in c["by_k8s_verb"].items() if k in ("create", "update", "patch", "apply", "delete"))
        unauthorized = [r for r in c.get("log", []) if r.get("status") == 401]
        return c["total"], writes, unauthorized

    def ns(self, srv, tok, name):
        ctx = ssl.create_default_context(cafile=os.path.join(srv.pki, "ca.crt"))
        req = urllib.request.Request(srv.url + "/api/v1/namespaces/" + name,
                                     headers={"Authorization": "Bearer " + tok})
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise

    def note(self, what):
        p, pw, _ = self.counts(self.prev)
        q, qw, _ = self.counts(self.prod)
        print("# %s: preview server %d requests (%d writes), production server %d requests (%d writes)"
              % (what, p, pw, q, qw), file=sys.stderr)
        return (p, pw), (q, qw)

    def deploy_both(self, app):
        self.run_ok(app, ["deploy"], self.env(pr=7))
        self.run_ok(app, ["deploy"], self.env(branch="main"))

    # ------------------------------------------------------------------

    def test_preview_lands_on_the_preview_server_only(self):
        app = self.app()
        self.reset()
        self.run_ok(app, ["deploy"], self.env(pr=7))
        (p, pw), (q, qw) = self.note("deploy pr-7")
        self.assertGreater(pw, 0)
        self.assertEqual(0, q, "the production server saw requests for a preview")
        self.assertIsNotNone(self.ns(self.prev, TOK_PREVIEW, "shop-pr-7"))
        self.assertIsNone(self.ns(self.prod, TOK_PROD, "shop-pr-7"))
        self.assertEqual([], self.counts(self.prev)[2], "a token the preview server refused")
        # production goes to the production server only
        self.reset()
        self.run_ok(app, ["deploy"], self.env(branch="main"))
        (p, pw), (q, qw) = self.note("deploy production")
        self.assertEqual(0, p)
        self.assertGreater(qw, 0)
        self.assertIsNotNone(self.ns(self.prod, TOK_PROD, "shop-production"))
        self.assertEqual([], self.counts(self.prod)[2])

    def test_rule_kubeconfig_wins_over_the_kind_variable(self):
        # the rule names a file with both contexts; PRENV_KUBECONFIG_PREVIEW
        # names a file where "preview" is the production server: the rule wins
        wrong = os.path.join(self.dir, "wrong.kubeconfig")
        write(wrong, kubeconfig([("preview", self.prod, TOK_PROD)], "preview"))
        app = self.app()
        write(os.path.join(app, ".prenv.yml"), (CONFIG % {"extra": ""}).replace(
            "    context: preview\n", "    context: preview\n    kubeconfig: clusters/both.kubeconfig\n"))
        os.mkdir(os.path.join(app, "clusters"))
        shutil.copy(self.kc_both, os.path.join(app, "clusters", "both.kubeconfig"))
        self.reset()
        self.run_ok(app, ["deploy"], self.env(pr=8, PRENV_KUBECONFIG_PREVIEW=wrong))
        (p, pw), (q, qw) = self.note("deploy pr-8 (rule kubeconfig:)")
        self.assertGreater(pw, 0)
        self.assertEqual(0, q)

    def test_one_cluster_named_twice_is_listed_once(self):
        # two rules reach the preview context through two kubeconfigs (the
        # rule's file and PRENV_KUBECONFIG_PREVIEW): the same server and
        # context, so one list, and each environment once
        app = self.app(extra="")
        os.mkdir(os.path.join(app, "clusters"))
        shutil.copy(self.kc_both, os.path.join(app, "clusters", "both.kubeconfig"))
        write(os.path.join(app, ".prenv.yml"), (CONFIG % {"extra": ""}).replace(
            "  - pull_request: true\n",
            "  - branch: \"feature-*\"\n    kind: preview\n    context: preview\n"
            "    kubeconfig: clusters/both.kubeconfig\n  - pull_request: true\n"))
        self.run_ok(app, ["deploy"], self.env(pr=7))
        self.reset()
        r = self.run_ok(app, ["-o", "json", "status", "--all"], self.env())
        self.assertEqual(["pr-7"], [e["name"] for e in json.loads(r.stdout)])
        self.assertEqual(1, self.counts(self.prev)[0] - 2, "one namespace list (and two cost lists)")
        self.assertEqual(1, self.counts(self.prod)[0])

    def test_production_only_context_refuses_a_preview_before_any_request(self):
        # the rule names the production context for pull requests
        bad = CONFIG.replace("  - pull_request: true\n    context: preview\n",
                             "  - pull_request: true\n    context: production\n")
        app = self.app(config=bad)
        self.reset()
        r = self.run_ok(app, ["deploy"], self.env(pr=9, KUBECONFIG=self.kc_both, kinds=False), code=2)
        self.assertRegex(r.stderr, r"\.prenv\.yml:15:14: .*environment pr-9 \(kind preview\) would go to "
                                   r"context 'production'.*production-only")
        (p, pw), (q, qw) = self.note("refused preview (rule context:)")
        self.assertEqual((0, 0), (p, q))
        # the context comes from the kubeconfig's current-context: the same
        nocontext = CONFIG.replace("  - pull_request: true\n    context: preview\n", "  - pull_request: true\n")
        app = self.app(config=nocontext)
        r = self.run_ok(app, ["deploy"], self.env(pr=9, KUBECONFIG=self.kc_both, kinds=False), code=2)
        self.assertRegex(r.stderr, r"\.prenv\.yml:14:5: .*would go to context 'production' \(the kubeconfig's "
                                   r"current-context")
        # destroy and status too (any command on the environment)
        self.run_ok(app, ["destroy"], self.env(pr=9, KUBECONFIG=self.kc_both, kinds=False), code=2)
        self.run_ok(app, ["status"], self.env(pr=9, KUBECONFIG=self.kc_both, kinds=False), code=2)
        (p, pw), (q, qw) = self.note("refused preview (current-context)")
        self.assertEqual((0, 0), (p, q))
        # production itself may go there
        self.run_ok(app, ["deploy"], self.env(branch="main", KUBECONFIG=self.kc_both, kinds=False))
        self.assertIsNotNone(self.ns(self.prod, TOK_PROD, "shop-production"))

    def test_guard_needs_no_kubeconfig_when_nothing_connects(self):
        # a fork's pull request job has no secrets: its skipped deploy must
        # not fail for want of a kubeconfig (the guard reads one only to
        # learn the current-context, and says nothing when there is none)
        nocontext = CONFIG.replace("  - pull_request: true\n    context: preview\n", "  - pull_request: true\n")
        app = self.app(config=nocontext)
        self.reset()
        r = self.run_ok(app, ["deploy"], self.env(pr=11, kinds=False, PRENV_PR_FORK="true"))
        self.assertIn("comes from a fork", r.stderr)
        # the same run without the fork flag says what is missing (exit 2)
        r = self.run_ok(app, ["deploy"], self.env(pr=11, kinds=False), code=2)
        self.assertIn("no cluster access found", r.stderr)
        self.assertEqual((0, 0), (self.counts(self.prev)[0], self.counts(self.prod)[0]))

    def test_gc_and_status_all_visit_both_and_name_the_context(self):
        app = self.app()
        self.deploy_both(app)
        self.reset()
        r = self.run_ok(app, ["-o", "json", "status", "--all"], self.env())
        rows = {e["name"]: e for e in json.loads(r.stdout)}
        self.assertEqual({"pr-7", "production"}, set(rows))
        self.assertEqual("preview", rows["pr-7"]["context"])
        self.assertEqual("production", rows["production"]["context"])
        self.assertEqual("preview", rows["pr-7"]["kind"])
        self.assertEqual("production", rows["production"]["kind"])
        self.assertEqual("awake", rows["pr-7"]["state"])
        self.assertGreater(rows["pr-7"]["cpu_millis"], 0)
        (p, pw), (q, qw) = self.note("status --all")
        self.assertEqual((0, 0), (pw, qw))
        self.assertGreater(p, 0)
        self.assertGreater(q, 0)
        self.assertEqual(p, q, "one list (and the cost lists) per context")
        r = self.run_ok(app, ["status", "--all"], self.env())
        self.assertRegex(r.stdout, r"(?m)^NAME +KIND +PR +CONTEXT +STATE +AGE +CPU +MEMORY +AWAKE$")
        self.assertRegex(r.stdout, r"(?m)^pr-7 +preview +#7 +preview +awake ")
        self.assertRegex(r.stdout, r"(?m)^production +production +- +production +awake ")
        self.assertRegex(r.stdout, r"(?m)^total \(2 environments\) — cpu ")

        # gc a week later: pr-7's TTL passed; destroyed on the preview server
        self.reset()
        r = self.run_ok(app, ["gc", "--now", "2099-01-01T00:00:00Z"], self.env())
        self.assertRegex(r.stdout, r"(?m)^pr-7 +preview +destroyed \(TTL 72h passed")
        self.assertRegex(r.stdout, r"(?m)^production +production +kept ")
        (p, pw), (q, qw) = self.note("gc (1 destroy)")
        self.assertGreater(pw, 0)
        self.assertEqual(0, qw, "nothing written on the production server")
        self.assertIsNone(self.ns(self.prev, TOK_PREVIEW, "shop-pr-7"))
        self.assertIsNotNone(self.ns(self.prod, TOK_PROD, "shop-production"))
        for s in (self.prev, self.prod):
            self.assertEqual([], self.counts(s)[2], "a token a server refused")
        r = self.run_ok(app, ["-o", "json", "gc", "--now", "2099-01-01T00:00:00Z"], self.env())
        self.assertEqual({"production": "production"}, {e["name"]: e["context"] for e in json.loads(r.stdout)})

    def test_contexts_are_listed_in_parallel(self):
        # every request answered 4 s late: listed one after the other, the
        # second context's first request would reach its server after the
        # first context's had been answered; in parallel the two overlap.
        # Each server logs when a request arrived and how long it took.
        import time

        def slow():
            self.reset()
            for s in (self.prev, self.prod):
                s.admin("/_test/faults", {"slow_ms": 4000})

        def timed(app):
            t0 = time.monotonic()
            self.run_ok(app, ["-o", "json", "status", "--all"], self.env())
            return time.monotonic() - t0
        slow()
        one = timed(self.app(config=CONFIG.replace(
            "  - branch: main\n    name: production\n    kind: production\n    context: production\n", "")))
        slow()
        two = timed(self.app())
        print("# status --all, every request 4 s late: 1 context %.1f s, 2 contexts %.1f s" % (one, two),
              file=sys.stderr)
        self.assertGreaterEqual(one, 4.0)
        firsts = []
        for s in (self.prev, self.prod):
            log = [e for e in s.admin("/_test/requests?log=1")["log"] if not e["path"].startswith("/_test")]
            self.assertTrue(log, "a context was not visited")
            firsts.append(min(log, key=lambda e: e["t"]))
        a, b = sorted(firsts, key=lambda e: e["t"])
        self.assertGreaterEqual(a["ms"], 4000)
        self.assertLess(b["t"], a["t"] + a["ms"] / 1000.0,
                        "the second context was asked only after the first had answered: not in parallel")

    def test_one_server_down_is_reported_the_other_still_gced(self):
        app = self.app()
        self.deploy_both(app)
        self.prod.stop()
        self.reset_prev = self.prev.admin("/_test/reset", {})
        r = self.run_ok(app, ["gc", "--now", "2099-01-01T00:00:00Z"],
                        self.env(PRENV_HTTP_TIMEOUT="5"), code=1)
        self.assertRegex(r.stdout, r"(?m)^pr-7 +preview +destroyed \(TTL 72h passed")
        self.assertRegex(r.stdout, r"(?m)^- +production +failed \(context not listed\): ")
        self.assertIn("context(s) could not be listed", r.stderr)
        self.assertIsNone(self.ns(self.prev, TOK_PREVIEW, "shop-pr-7"))
        p, pw, _ = self.counts(self.prev)
        print("# gc with the production server down: preview server %d requests (%d writes)" % (p, pw),
              file=sys.stderr)
        r = run_prenv(["-o", "json", "status", "--all"], env=self.env(PRENV_HTTP_TIMEOUT="5"), cwd=app)
        self.assertEqual(1, r.returncode, r.stderr)
        rows = json.loads(r.stdout)
        self.assertEqual([None], [e["name"] for e in rows])
        self.assertEqual("production", rows[0]["context"])
        r = run_prenv(["-o", "json", "list"], env=self.env(PRENV_HTTP_TIMEOUT="5"), cwd=app)
        self.assertEqual(1, r.returncode, r.stderr)
        self.assertEqual([], json.loads(r.stdout))
        self.assertIn("context production could not be listed", r.stderr)

    def test_the_github_example_config_works(self):
        # the .prenv.yml in the header of ci-examples/github/two-clusters.yml
        with open(os.path.join(ROOT, "ci-examples", "github", "two-clusters.yml")) as f:
            text = f.read()
        block = text.split("With .prenv.yml:\n#\n", 1)[1].split("\n#\n", 1)[0]
        config = "".join(line[4:] + "\n" for line in block.splitlines())
        self.assertIn("production_context: production", config)
        app = self.app(config="version: 1\napp: shop\ntemplates: tpl\nurl: \"https://x.example.com\"\n" + config.replace("%", "%%") +
                       "values:\n  image: x\n%(extra)s")
        self.reset()
        self.run_ok(app, ["deploy", "--no-wait"], self.env(pr=3))
        (p, pw), (q, qw) = self.note("example config: deploy pr-3")
        self.assertEqual((True, 0), (pw > 0, q))
        r = self.run_ok(app, ["-o", "json", "status", "--all"], self.env())
        self.assertEqual({"pr-3": "preview"}, {e["name"]: e["context"] for e in json.loads(r.stdout)})

    def test_all_contexts_down_is_the_list_error(self):
        app = self.app()
        self.prev.stop()
        self.prod.stop()
        r = run_prenv(["gc"], env=self.env(PRENV_HTTP_TIMEOUT="5"), cwd=app)
        self.assertEqual(1, r.returncode, r.stderr)
        self.assertIn("context preview", r.stderr)


if __name__ == "__main__":
    unittest.main()
