"""Honest status (first-hour issue item 7): a deploy that does not wait
(`wait: 0` in the config, `--wait 0`, `--no-wait`) says **applied**
everywhere it reports - the PR comment, the GitHub deployment status's
description, GITHUB_OUTPUT, the step summary, GitLab's dotenv and `-o json`
- and never "ready". Runs the binary against the Kubernetes test API server
and the GitHub test server (every request validated against the API
description), and the command provider."""
import json
import os
import sys
import unittest

from util import ROOT, clean_env, run_prenv, tmpdir
from k8s_e2e import ServerCase, config_text, make_app
from test_outputs import gh_outputs  # GITHUB_OUTPUT as a dict

sys.path.insert(0, os.path.join(ROOT, "test", "servers"))
from codehost import start_github  # noqa: E402

SHA = "b" * 40
MARKER = "<!-- prenv:marker app=shop env=pr-7 -->"


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def github_env(d, api_url, **extra):
    """A GitHub Actions pull_request run of acme/shop#7 at SHA, outputs in d."""
    event = {
        "action": "synchronize", "number": 7,
        "pull_request": {
            "number": 7, "state": "open", "merged": False, "title": "Add login",
            "html_url": "https://github.com/acme/shop/pull/7", "user": {"login": "alice"},
            "head": {"sha": SHA, "ref": "feat", "repo": {"full_name": "acme/shop", "fork": False}},
            "base": {"sha": "0" * 40, "ref": "main", "repo": {"full_name": "acme/shop", "fork": False}},
        },
        "repository": {"full_name": "acme/shop", "name": "shop", "owner": {"login": "acme"}},
    }
    path = os.path.join(d, "event.json")
    with open(path, "w") as f:
        json.dump(event, f)
    e = dict(GITHUB_ACTIONS="true", CI="true", GITHUB_EVENT_NAME="pull_request", GITHUB_EVENT_PATH=path,
             GITHUB_REPOSITORY="acme/shop", GITHUB_API_URL=api_url, GITHUB_SERVER_URL="https://github.com",
             GITHUB_RUN_ID="99", GITHUB_RUN_ATTEMPT="1", GITHUB_SHA="d" * 40,
             GITHUB_REF="refs/pull/7/merge", GITHUB_HEAD_REF="feat", GITHUB_BASE_REF="main",
             GITHUB_WORKFLOW="preview", GITHUB_TOKEN="ghs_bot", PRENV_HTTP_SLEEP_SCALE="0.01",
             GITHUB_OUTPUT=os.path.join(d, "output"), GITHUB_STEP_SUMMARY=os.path.join(d, "summary"),
             PRENV_DOTENV=os.path.join(d, "prenv.env"), HOME="/nonexistent")
    e.update(extra)
    return clean_env(**e)


class AppliedK8sTest(ServerCase, unittest.TestCase):
    """The kubernetes provider applies and does not wait: status applied in
    every report."""

    def setUp(self):
        super().setUp()
        self.gh = start_github(self.dir, tokens={"ghs_bot": "github-actions[bot]:write"})
        self.addCleanup(self.gh.stop)
        self.gh.seed({"repo": "acme/shop",
                      "pulls": [{"number": 7, "head_sha": SHA, "head_ref": "feat", "base_ref": "main",
                                 "state": "open", "user": "alice"}]})
        self.out = tmpdir(self)

    def deploy(self, wait, *args):
        app = make_app(self, config_text(wait=wait))
        r = self.prenv(app, "-o", "json", *args, "deploy", env=github_env(self.out, self.gh.url))
        self.check(r)
        return r

    def assert_reported(self, r, status):
        self.assertEqual(status, json.loads(r.stdout)["status"], r.stdout)
        o = gh_outputs(read(os.path.join(self.out, "output")))
        self.assertEqual((status, ""), (o["status"], o["reason"]))
        self.assertIn("PRENV_STATUS=%s\n" % status, read(os.path.join(self.out, "prenv.env")))
        summary = read(os.path.join(self.out, "summary"))
        self.assertIn("`pr-7` — %s\n" % status, summary)
        mine = [c for c in self.gh.state()["comments"] if c["body"].startswith(MARKER)]
        self.assertEqual(1, len(mine))
        body = mine[0]["body"]
        self.assertIn("`pr-7` — %s\n" % status, body)
        dep = [d for d in self.gh.state()["deployments"] if d["environment"] == "pr-7"][0]
        latest = dep["statuses"][0]
        self.assertEqual("success", latest["state"])
        self.assertEqual([], self.gh.invalid_requests())
        return body, latest["description"], summary

    def test_wait_0_in_config_reports_applied_not_ready(self):
        r = self.deploy("0")
        body, desc, summary = self.assert_reported(r, "applied")
        self.assertNotIn("— ready", body)
        self.assertIn("did not wait", body)
        self.assertIn("applied", desc)
        self.assertNotIn("ready", desc)
        self.assertIn("applied", r.stderr)

    def test_no_wait_and_wait_0_flags_report_applied(self):
        for flags in (["--no-wait"], ["--wait", "0"]):
            r = self.deploy("20s", *flags)
            body, desc, _ = self.assert_reported(r, "applied")
            self.assertNotIn("— ready", body, flags)
            self.assertIn("applied", desc, flags)

    def test_waiting_reports_ready(self):
        r = self.deploy("20s")
        body, desc, _ = self.assert_reported(r, "ready")
        self.assertEqual("ready", desc)


COMMAND_CONFIG = """version: 1
app: shop
url: "https://{{env.name}}.preview.example.com"
provider:
  kind: command
  deploy: ["true"]
environments:
  - pull_request: true
"""


class AppliedCommandTest(unittest.TestCase):
    """Any provider: `--no-wait` / `--wait 0` means prenv did not wait to
    see the environment work, so it says applied."""

    def test_command_no_wait_reports_applied(self):
        d = tmpdir(self)
        with open(os.path.join(d, ".prenv.yml"), "w") as f:
            f.write(COMMAND_CONFIG)
        env = clean_env(PRENV_CI="local", PRENV_REPO="acme/shop", PRENV_BRANCH="feat", PRENV_PR="7",
                        PRENV_SHA=SHA, PRENV_DOTENV=os.path.join(d, "prenv.env"))
        for flags, want in ((["--no-wait"], "applied"), (["--wait", "0"], "applied"), ([], "ready")):
            r = run_prenv(["-o", "json"] + flags + ["deploy"], env=env, cwd=d)
            self.assertEqual(0, r.returncode, r.stderr)
            self.assertEqual(want, json.loads(r.stdout)["status"], flags)
            self.assertIn("PRENV_STATUS=%s\n" % want, read(os.path.join(d, "prenv.env")))


if __name__ == "__main__":
    unittest.main()
