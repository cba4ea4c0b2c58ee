"""prenv destroy and the GitHub Environment a preview leaves behind.

Each deployment to pr-N makes GitHub create an Environment pr-N (Settings ->
Environments). On destroy prenv marks its deployments inactive and then
deletes the Environment when the token may (administration: write); with a
token that may not (the Actions GITHUB_TOKEN never can) it says in one line
how to delete it, and that is not a failure. Runs the real binary against
test/servers/github_server.py, which validates every request against
GitHub's API description and answers 403 as GitHub does."""
import json
import os
import pathlib
import sys
import unittest

from util import ROOT, clean_env, run_prenv, tmpdir

sys.path.insert(0, os.path.join(ROOT, "test", "servers"))
from codehost import start_github  # noqa: E402

CONFIG = """version: 1
app: shop
url: "https://{{env.name}}.preview.example.com"
provider: {kind: command, deploy: ["true"], destroy: ["true"]}
environments:
  - pull_request: true
    kind: preview
  - branch: "**"
    kind: development
"""
SHA = "b" * 40
TOKENS = {"ghs_bot": "github-actions[bot]:write", "ghs_app": "preview-app[bot]:admin",
          "ghp_admin": "alice:admin", "ghp_fine": "bob:write"}


def write(path, text):
    pathlib.Path(path).write_text(text, encoding="utf-8")


class GitHubEnvironmentTest(unittest.TestCase):
    def setUp(self):
        self.dir = tmpdir(self)
        write(os.path.join(self.dir, ".prenv.yml"), CONFIG)
        self.gh = start_github(self.dir, tokens=TOKENS)
        self.addCleanup(self.gh.stop)
        self.gh.seed({"repo": "acme/web", "refs": {"feat": SHA},
                      "pulls": [{"number": 7, "head_sha": SHA, "head_ref": "feat", "base_ref": "main",
                                 "state": "open", "user": "alice"}]})

    def env(self, token, action="synchronize", pr=True, **extra):
        if pr:
            event = {"action": action, "number": 7,
                     "pull_request": {"number": 7, "state": "closed" if action == "closed" else "open",
                                      "merged": False, "title": "Add login",
                                      "html_url": "https://github.com/acme/web/pull/7", "user": {"login": "alice"},
                                      "head": {"sha": SHA, "ref": "feat", "repo": {"full_name": "acme/web"}},
                                      "base": {"sha": "0" * 40, "ref": "main", "repo": {"full_name": "acme/web"}}},
                     "repository": {"full_name": "acme/web", "name": "web", "owner": {"login": "acme"}}}
            name, ref = "pull_request", "refs/pull/7/merge"
        else:
            event = {"ref": "refs/heads/feat", "after": SHA,
                     "repository": {"full_name": "acme/web", "name": "web", "owner": {"login": "acme"}}}
            name, ref = "push", "refs/heads/feat"
        path = os.path.join(self.dir, "event-%s-%s.json" % (name, action))
        write(path, json.dumps(event))
        e = dict(GITHUB_ACTIONS="true", CI="true", GITHUB_EVENT_NAME=name, GITHUB_EVENT_PATH=path,
                 GITHUB_REPOSITORY="acme/web", GITHUB_API_URL=self.gh.url, GITHUB_SERVER_URL="https://github.com",
                 GITHUB_RUN_ID="99", GITHUB_SHA=SHA, GITHUB_REF=ref, GITHUB_REF_NAME="feat",
                 GITHUB_HEAD_REF="feat" if pr else "", GITHUB_BASE_REF="main" if pr else "",
                 PRENV_HTTP_SLEEP_SCALE="0.01")
        e["GITHUB_TOKEN" if token == "ghs_bot" else "PRENV_GITHUB_TOKEN"] = token
        e.update(extra)
        return clean_env(**e)

    def prenv(self, args, env, code=0):
        r = run_prenv(args, env=env, cwd=self.dir)
        self.assertEqual(code, r.returncode, "prenv %s: exit %d\n%s%s" % (" ".join(args), r.returncode,
                                                                         r.stdout, r.stderr))
        return r

    def envs(self):
        return sorted(e["name"] for e in self.gh.state()["environments"])

    def env_deletes(self):
        return [(q["path"], q["status"], q.get("identity")) for q in self.gh.requests()
                if q["method"] == "DELETE" and "/environments/" in q["path"]]

    def deploy_then_destroy(self, token, code=0, **kw):
        self.prenv(["deploy"], self.env(token, **kw))
        self.assertIn("pr-7" if kw.get("pr", True) else "feat", self.envs())
        self.gh.clear_requests()
        return self.prenv(["destroy", "--strict-report"], self.env(token, action="closed", **kw), code)

    def assert_valid(self):
        self.assertEqual([], self.gh.invalid_requests())

    def test_destroy_deletes_the_environment_when_the_token_may(self):
        for token in ("ghp_admin", "ghs_app"):
            with self.subTest(token=token):
                r = self.deploy_then_destroy(token)
                self.assertNotIn("pr-7", self.envs())
                self.assertEqual([("/repos/acme/web/environments/pr-7", 204,
                                   TOKENS[token].split(":")[0])], self.env_deletes())
                self.assertIn("deleted the GitHub environment pr-7", r.stderr)
                self.assertNotIn("warning", r.stderr)
                self.assert_valid()
                # Destroying again: nothing of prenv's is left there, nothing is deleted
                self.gh.clear_requests()
                r = self.prenv(["destroy", "--strict-report"], self.env(token, action="closed"))
                self.assertEqual([], self.env_deletes())

    def test_destroy_with_a_token_that_may_not_says_how_in_one_line(self):
        for token in ("ghs_bot", "ghp_fine"):
            with self.subTest(token=token):
                r = self.deploy_then_destroy(token)   # --strict-report: still exit 0
                self.assertIn("pr-7", self.envs())
                self.assertEqual([("/repos/acme/web/environments/pr-7", 403, TOKENS[token].split(":")[0])],
                                 self.env_deletes())
                lines = [l for l in r.stderr.splitlines() if "administration" in l]
                self.assertEqual(1, len(lines), r.stderr)
                self.assertIn("GitHub environment pr-7", lines[0])
                self.assertIn("administration: write", lines[0])
                self.assertIn("PRENV_GITHUB_TOKEN", lines[0])
                self.assertIn("Settings", lines[0])
                self.assertNotIn("warning", r.stderr.lower())
                self.assertNotIn("error", r.stderr.lower())
                # the deployments are inactive all the same
                for d in self.gh.state()["deployments"]:
                    self.assertEqual("inactive", d["statuses"][0]["state"])
                self.assert_valid()

    def test_an_environment_holding_other_deployments_is_kept(self):
        self.prenv(["deploy"], self.env("ghp_admin"))
        self.gh.seed({"repo": "acme/web", "deployments": [
            {"environment": "pr-7", "payload": {"tool": "other"}, "statuses": ["success"]}]})
        self.gh.clear_requests()
        r = self.prenv(["destroy", "--strict-report"], self.env("ghp_admin", action="closed"))
        self.assertIn("pr-7", self.envs())
        self.assertEqual([], self.env_deletes())
        self.assertIn("GitHub environment pr-7 stays", r.stderr)
        self.assert_valid()

    def test_only_previews_environments_are_deleted(self):
        # a branch's development environment is not transient: its GitHub
        # Environment may carry settings someone made; it stays
        r = self.deploy_then_destroy("ghp_admin", pr=False)
        self.assertIn("feat", self.envs())
        self.assertEqual([], self.env_deletes())
        self.assert_valid()

    def test_the_environment_deleted_by_someone_else_first_is_fine(self):
        self.prenv(["deploy"], self.env("ghp_admin"))
        self.gh.faults({"status": "404", "count": 1, "match": "DELETE /environments/pr-7",
                        "message": "Not Found"})
        r = self.prenv(["destroy", "--strict-report"], self.env("ghp_admin", action="closed"))
        self.assertNotIn("warning", r.stderr)
        self.assert_valid()


if __name__ == "__main__":
    unittest.main()
