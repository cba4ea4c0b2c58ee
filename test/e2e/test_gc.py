"""prenv gc with the real binary: Kubernetes (test/servers/k8s_server.py) and
pages dir: environments whose PR is closed/merged (asked from
test/servers/github_server.py) or whose TTL passed are destroyed, the others
kept; --dry-run changes nothing; protected environments are never touched;
a failed destroy does not stop the others (exit 1); providers that cannot
list do nothing (exit 0, a warning)."""
import json
import os
import shutil
import sys
import time
import unittest

from util import ROOT, clean_env, run_prenv, tmpdir
from test_k8s_deploy import KUBECTL, Server

sys.path.insert(0, os.path.join(ROOT, "test", "servers"))
from codehost import start_github, start_gitlab  # noqa: E402

SHA = "c" * 40
MARKER = "<!-- prenv:marker app=shop env=pr-%d -->"

K8S_CONFIG = """version: 1
app: shop
templates: tpl
url: "https://{{env.name}}.preview.example.com"
provider:
  kind: kubernetes
  wait: 30s
environments:
  - branch: main
    name: production
    protected: true
    ttl: 1h
  - pull_request: true
    ttl: %(ttl)s
values:
  image: "ghcr.io/acme/shop:1"
"""

PAGES_CONFIG = """version: 1
app: shop
url: "https://{{env.name}}.pages.example.com"
provider:
  kind: pages
  source: site
  target: "dir:public"
environments:
  - pull_request: true
  - branch: "**"
"""


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


class Base(unittest.TestCase):
    def check(self, r, code=0):
        self.assertEqual(code, r.returncode, "stdout:\n%s\nstderr:\n%s" % (r.stdout, r.stderr))
        return r

    def github(self, pulls):
        gh = start_github(tmpdir(self), tokens={"ghs_bot": "github-actions[bot]:write"})
        self.addCleanup(gh.stop)
        gh.seed({"repo": "acme/shop",
                 "pulls": [dict(number=n, head_sha=SHA, head_ref="f%d" % n, base_ref="main",
                                state=st, merged=merged, user="alice") for n, st, merged in pulls]})
        return gh

    def env(self, pr=None, branch=None, gh=None, **extra):
        e = dict(PRENV_CI="local", PRENV_REPO="acme/shop", PRENV_SHA=SHA, HOME="/nonexistent",
                 PRENV_BRANCH=branch or ("feature-%s" % pr if pr else "main"),
                 PRENV_HTTP_SLEEP_SCALE="0.01")
        if pr:
            e["PRENV_PR"] = str(pr)
        if gh:
            e.update(PRENV_API_URL=gh.url, PRENV_HOST="github", GITHUB_TOKEN="ghs_bot")
        e.update(extra)
        return clean_env(**e)


@unittest.skipUnless(KUBECTL, "kubectl is not installed")
class K8sGcTest(Base):
    def setUp(self):
        self.srv = Server(self)
        self.kc = self.srv.kubeconfig(tmpdir(self))

    def app(self, ttl="72h"):
        d = tmpdir(self)
        shutil.copytree(os.path.join(ROOT, "templates", "web"), os.path.join(d, "tpl"),
                        ignore=shutil.ignore_patterns("*.md"))
        write(os.path.join(d, ".prenv.yml"), K8S_CONFIG % {"ttl": ttl})
        return d

    def prenv(self, app, args, env, code=0):
        return self.check(run_prenv(["--kubeconfig", self.kc] + args, env=env, cwd=app), code)

    def ns(self, name):
        return self.srv.get(self.kc, "/api/v1/namespaces/" + name)

    def age(self, name, stamp="2020-01-01T00:00:00Z"):
        out = self.srv.kubectl(self.kc, "annotate", "--overwrite", "namespace", name,
                               "prenv.dev/deployed-at=" + stamp)
        self.assertEqual(0, out.returncode, out.stderr)

    def test_gc_k8s_closed_pr_destroyed_open_kept(self):
        gh = self.github([(41, "closed", False), (42, "open", False)])
        app = self.app()
        for n in (41, 42):
            self.prenv(app, ["deploy"], self.env(pr=n, gh=gh))
        self.assertEqual(1, len([c for c in gh.state()["comments"] if c["body"].startswith(MARKER % 41)]))
        gc_env = self.env(gh=gh)  # a scheduled run on main: no PR

        # dry run: says what it would do, touches nothing
        r = self.prenv(app, ["--dry-run", "gc"], gc_env)
        lines = r.stdout.splitlines()
        self.assertEqual(3, len(lines), r.stdout)  # and the total line
        self.assertRegex(r.stdout, r"(?m)^pr-41 +would be destroyed \(PR #41 closed\) — cpu \S+, memory \S+, awake \S+$")
        self.assertRegex(r.stdout, r"(?m)^pr-42 +kept \(PR #42 open, TTL 72h: 7[12]h\d*m? left\) — cpu \S+, memory \S+, awake \S+$")
        self.assertIsNotNone(self.ns("shop-pr-41"))
        self.assertIsNotNone(self.ns("shop-pr-42"))

        # for real: only the closed PR's namespace goes
        r = self.prenv(app, ["-o", "json", "gc"], gc_env)
        res = {e["name"]: e for e in json.loads(r.stdout)}
        self.assertEqual({"pr-41", "pr-42"}, set(res))
        self.assertEqual("destroyed", res["pr-41"]["action"])
        self.assertEqual("closed", res["pr-41"]["pr_state"])
        self.assertEqual("shop-pr-41", res["pr-41"]["namespace"])
        self.assertEqual("kept", res["pr-42"]["action"])
        self.assertEqual("open", res["pr-42"]["pr_state"])
        self.assertEqual(72 * 3600, res["pr-42"]["ttl_seconds"])
        self.assertIsNone(self.ns("shop-pr-41"))
        self.assertIsNotNone(self.ns("shop-pr-42"))
        # the PR comment of #41 says so; #42's still says ready
        c41 = [c for c in gh.state()["comments"] if c["body"].startswith(MARKER % 41)]
        c42 = [c for c in gh.state()["comments"] if c["body"].startswith(MARKER % 42)]
        self.assertEqual(1, len(c41))
        self.assertIn("destroyed", c41[0]["body"])
        self.assertIn("**Reason:** removed by prenv gc: PR \\#41 closed", c41[0]["body"])
        self.assertIn("ready", c42[0]["body"])
        self.assertEqual([], gh.invalid_requests())
        # the GitHub deployment of pr-41 is inactive now
        deps = [d for d in gh.state()["deployments"] if d["environment"] == "pr-41"]
        self.assertTrue(deps)
        self.assertEqual("inactive", deps[0]["statuses"][0]["state"])

        # again: nothing left to collect
        r = self.prenv(app, ["gc"], gc_env)
        self.assertEqual(2, len(r.stdout.splitlines()), r.stdout)  # and the total
        self.assertRegex(r.stdout, r"^pr-42 +kept ")

    def test_gc_k8s_ttl_protected_other_apps(self):
        app = self.app(ttl="1h")
        self.prenv(app, ["deploy"], self.env(pr=43))
        self.prenv(app, ["deploy"], self.env(pr=44))
        self.prenv(app, ["deploy"], self.env(branch="main"))
        self.assertIsNotNone(self.ns("shop-production"))
        # a namespace of another app, labelled by prenv, and one not prenv's
        for name, labels in (("other-pr-43", ["prenv.dev/app=other", "prenv.dev/env=pr-43"]),
                             ("plain", [])):
            self.assertEqual(0, self.srv.kubectl(self.kc, "create", "namespace", name).returncode)
            if labels:
                out = self.srv.kubectl(self.kc, "label", "namespace", name,
                                       "app.kubernetes.io/managed-by=prenv", *labels)
                self.assertEqual(0, out.returncode, out.stderr)
        self.age("shop-pr-43")
        self.age("shop-production")
        self.age("other-pr-43")

        r = self.prenv(app, ["gc"], self.env())  # no token: TTL only
        self.assertIn("only TTLs apply", r.stderr)
        self.assertEqual(1, r.stderr.count("only TTLs apply"))
        self.assertRegex(r.stdout, r"(?m)^pr-43 +destroyed \(TTL 1h passed: deployed \d+d\d*h? ago\) — cpu \S+, memory \S+, awake \S+$")
        self.assertRegex(r.stdout, r"(?m)^pr-44 +kept \(PR #44 state unknown, TTL 1h: \d+m\d*s? left\) — cpu \S+, memory \S+, awake \S+$")
        self.assertRegex(r.stdout, r"(?m)^production +kept \(protected\) — cpu \S+, memory \S+, awake \S+$")
        self.assertEqual(4, len(r.stdout.splitlines()), r.stdout)  # and the total
        # what they request (templates/web: 50m, 64Mi, one replica each)
        self.assertRegex(r.stdout, r"(?m)^total \(3 environments\) — cpu 150m, memory 192Mi, awake \S+$")
        self.assertIsNone(self.ns("shop-pr-43"))
        for name in ("shop-pr-44", "shop-production", "other-pr-43", "plain"):
            self.assertIsNotNone(self.ns(name), name)

    def test_gc_k8s_failed_destroy_continues(self):
        gh = self.github([(45, "closed", True), (46, "closed", False)])
        app = self.app()
        for n in (45, 46):
            self.prenv(app, ["deploy"], self.env(pr=n))
        self.srv.admin("/_test/faults", {"match": "DELETE /api/v1/namespaces/shop-pr-45", "403": 5})
        r = self.prenv(app, ["gc"], self.env(gh=gh), code=1)
        self.assertRegex(r.stdout, r"(?m)^pr-45 +failed \(PR #45 merged\): ")
        self.assertRegex(r.stdout, r"(?m)^pr-46 +destroyed \(PR #46 closed\) — cpu \S+, memory \S+, awake \S+$")
        self.assertIn("1 of 2 environment(s) could not be destroyed", r.stderr)
        self.assertIsNotNone(self.ns("shop-pr-45"))
        self.assertIsNone(self.ns("shop-pr-46"))


class PagesGcTest(Base):
    def setUp(self):
        self.dir = tmpdir(self)
        os.makedirs(os.path.join(self.dir, "site"))
        write(os.path.join(self.dir, "site", "index.html"), "<p>hi</p>\n")
        write(os.path.join(self.dir, ".prenv.yml"), PAGES_CONFIG)

    def prenv(self, args, env, code=0):
        return self.check(run_prenv(args, env=env, cwd=self.dir), code)

    def public(self):
        return sorted(os.listdir(os.path.join(self.dir, "public")))

    def test_gc_pages_dir_merged_pr_removed(self):
        gh = self.github([(1, "closed", True), (2, "open", False)])
        for n in (1, 2):
            self.prenv(["deploy"], self.env(pr=n, gh=gh))
        os.makedirs(os.path.join(self.dir, "public", "assets"))  # not an environment of a rule
        write(os.path.join(self.dir, "public", "pr-9"), "a file, not a site")
        self.assertEqual(["assets", "pr-1", "pr-2", "pr-9"], self.public())

        r = self.prenv(["--dry-run", "gc"], self.env(gh=gh))
        self.assertRegex(r.stdout, r"(?m)^pr-1 +would be destroyed \(PR #1 merged\)$")
        self.assertRegex(r.stdout, r"(?m)^pr-2 +kept \(PR #2 open, no TTL\)$")
        self.assertNotIn("assets", r.stdout)  # not prenv's: not an environment at all
        self.assertEqual(["assets", "pr-1", "pr-2", "pr-9"], self.public())

        r = self.prenv(["gc"], self.env(gh=gh))
        self.assertRegex(r.stdout, r"(?m)^pr-1 +destroyed \(PR #1 merged\)$")
        self.assertEqual(["assets", "pr-2", "pr-9"], self.public())
        c1 = [c for c in gh.state()["comments"] if c["body"].startswith(MARKER % 1)]
        self.assertEqual(1, len(c1))
        self.assertIn("destroyed", c1[0]["body"])
        self.assertEqual([], gh.invalid_requests())

    def test_gc_pages_dir_gitlab_merge_requests(self):
        gl = start_gitlab(tmpdir(self), tokens={"glpat-rw": "alice:api"})
        self.addCleanup(gl.stop)
        gl.seed({"project": "group/proj", "id": 42, "merge_requests": [
            dict(iid=n, sha=SHA, source_branch="f%d" % n, target_branch="main", state=st, author="alice")
            for n, st in ((5, "merged"), (6, "opened"), (7, "closed"), (8, "locked"))]})
        for n in (5, 6, 7, 8):
            self.prenv(["deploy"], self.env(pr=n))
        r = self.prenv(["-o", "json", "gc"], self.env(
            PRENV_HOST="gitlab", PRENV_API_URL=gl.api_url, PRENV_GITLAB_TOKEN="glpat-rw",
            PRENV_PROJECT_ID="42", PRENV_REPO="group/proj"))
        res = {e["name"]: (e["action"], e["pr_state"]) for e in json.loads(r.stdout)}
        self.assertEqual({"pr-5": ("destroyed", "merged"), "pr-6": ("kept", "open"),
                          "pr-7": ("destroyed", "closed"), "pr-8": ("kept", "open")}, res)
        self.assertEqual(["pr-6", "pr-8"], self.public())
        # the merge requests of the removed environments got prenv's note
        notes = [n["body"] for n in gl.state()["notes"]]
        for n in (5, 7):
            mine = [b for b in notes if b.startswith(MARKER % n)]
            self.assertEqual(1, len(mine), notes)
            self.assertIn("destroyed", mine[0])
        self.assertFalse([b for b in notes if b.startswith(MARKER % 6)])

    def age(self, env, seconds):
        """Makes env look deployed `seconds` ago (its marker says when)."""
        path = os.path.join(self.dir, "public", env, ".prenv.json")
        with open(path, encoding="utf-8") as f:
            marker = json.load(f)
        marker["deployed_at"] = int(time.time() - seconds)
        write(path, json.dumps(marker))

    def test_gc_pages_dir_ttl_from_marker(self):
        write(os.path.join(self.dir, ".prenv.yml"),
              PAGES_CONFIG.replace("  - pull_request: true\n", "  - pull_request: true\n    ttl: 2h\n"))
        for n in (3, 4):
            self.prenv(["deploy"], self.env(pr=n))
        self.age("pr-3", 3 * 3600)
        r = self.prenv(["-o", "json", "gc"], self.env())
        res = {e["name"]: e for e in json.loads(r.stdout)}
        self.assertEqual("destroyed", res["pr-3"]["action"])
        self.assertTrue(res["pr-3"]["reason"].startswith("TTL 2h passed: deployed 3h"), res["pr-3"])
        self.assertEqual("kept", res["pr-4"]["action"])
        self.assertIsNone(res["pr-4"]["pr_state"])
        self.assertEqual(["pr-4"], self.public())

    def test_gc_pages_dir_touches_only_prenvs_directories(self):
        # Every DNS-label directory used to be an environment: a hand-made
        # "pr-5" (or one an older prenv made: no marker) went with the TTL,
        # and "docs" was listed as an environment.
        write(os.path.join(self.dir, ".prenv.yml"),
              PAGES_CONFIG.replace("  - pull_request: true\n", "  - pull_request: true\n    ttl: 1h\n"))
        self.prenv(["deploy"], self.env(pr=7))
        old = time.time() - 2 * 3600
        for d in ("docs", "pr-5"):
            tree = os.path.join(self.dir, "public", d)
            os.makedirs(tree)
            write(os.path.join(tree, "index.html"), "<p>%s</p>\n" % d)
            os.utime(tree, (old, old))
        self.age("pr-7", 2 * 3600)
        r = self.prenv(["-v", "-o", "json", "gc"], self.env())
        self.assertEqual({"pr-7": "destroyed"},
                         {e["name"]: e["action"] for e in json.loads(r.stdout)})
        for d in ("docs", "pr-5"):
            self.assertRegex(r.stderr, r"pages: not an environment of shop: \S*public/%s/ "
                                       r"has no \.prenv\.json" % d)
        self.assertEqual(["docs", "pr-5"], self.public())
        # destroy and deploy refuse them too (exit 3), and leave them as they are
        for cmd in ("destroy", "deploy"):
            r = self.prenv([cmd], self.env(branch="docs"), code=3)
            self.assertIn("public/docs/ has no .prenv.json", r.stderr)
            with open(os.path.join(self.dir, "public", "docs", "index.html")) as f:
                self.assertEqual("<p>docs</p>\n", f.read())
        self.assertEqual(["docs", "pr-5"], self.public())

    def test_gc_pages_no_public_dir(self):
        r = self.prenv(["gc"], self.env())
        self.assertEqual("", r.stdout)
        self.assertIn("no environments of shop found", r.stderr)


class UnsupportedGcTest(Base):
    def test_gc_command_provider_does_nothing(self):
        d = tmpdir(self)
        marker = os.path.join(d, "ran")
        write(os.path.join(d, ".prenv.yml"),
              "app: shop\nprovider:\n  kind: command\n  deploy: [\"true\"]\n"
              "  destroy: [\"touch\", \"%s\"]\nenvironments:\n  - pull_request: true\n    ttl: 1s\n" % marker)
        r = self.check(run_prenv(["-o", "json", "gc"], env=self.env(), cwd=d))
        self.assertEqual([], json.loads(r.stdout))
        self.assertIn("gc is not supported for provider command: nothing done", r.stderr)
        self.assertFalse(os.path.exists(marker))

    def test_gc_pages_git_does_nothing(self):
        d = tmpdir(self)
        write(os.path.join(d, ".prenv.yml"),
              "app: shop\nprovider:\n  kind: pages\n  source: site\n"
              "  target: \"git:%s/nowhere.git#gh-pages\"\nenvironments:\n  - pull_request: true\n" % d)
        r = self.check(run_prenv(["gc"], env=self.env(), cwd=d))
        self.assertIn("gc is not supported for provider pages with target git:", r.stderr)
        self.assertEqual("", r.stdout)

    def test_gc_needs_config(self):
        d = tmpdir(self)
        r = self.check(run_prenv(["gc"], env=self.env(), cwd=d), 2)
        self.assertIn("no configuration found", r.stderr)


if __name__ == "__main__":
    unittest.main()
