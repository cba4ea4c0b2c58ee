"""Fork pull requests (forks: skip / deploy, the workflow_run second stage)
and the job outputs (GITHUB_OUTPUT multi-line safe, step summary, -o json),
end to end against the GitHub test server."""
import json
import os
import sys
import unittest

from util import ROOT, clean_env, run_prenv, tmpdir

sys.path.insert(0, os.path.join(ROOT, "test", "servers"))
from codehost import start_github  # noqa: E402

SHA = "0123456789abcdef0123456789abcdef01234567"
CONFIG = """version: 1
app: shop
url: "https://{{env.name}}.preview.example.com"
forks: %(forks)s
provider:
  kind: command
  deploy: ["sh", "-c", "echo deployed > \\"$PRENV_ENV.deployed\\""]
  destroy: ["true"]
environments:
  - branch: main
    name: production
    kind: production
    protected: true
  - pull_request: true
    kind: preview
"""


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


class ForkAndOutputsTest(unittest.TestCase):
    def setUp(self):
        self.dir = tmpdir(self)
        self.gh = start_github(self.dir, tokens={"ghs_bot": "github-actions[bot]:write"})
        self.addCleanup(self.gh.stop)
        # PR 7 comes from mallory's fork, from her branch called main.
        self.gh.seed({"repo": "acme/shop",
                      "pulls": [{"number": 7, "head_sha": SHA, "head_ref": "main", "base_ref": "main",
                                 "state": "open", "user": "mallory", "head_repo": "mallory/shop"},
                                {"number": 8, "head_sha": "e" * 40, "head_ref": "other",
                                 "base_ref": "main", "state": "open", "user": "bob"}]})

    def config(self, forks):
        write(os.path.join(self.dir, ".prenv.yml"), CONFIG % {"forks": forks})

    def gh_env(self, event_name, event, **extra):
        path = os.path.join(self.dir, "event-%s.json" % event_name)
        write(path, json.dumps(event))
        e = dict(GITHUB_ACTIONS="true", CI="true", GITHUB_EVENT_NAME=event_name,
                 GITHUB_EVENT_PATH=path, GITHUB_REPOSITORY="acme/shop", GITHUB_API_URL=self.gh.url,
                 GITHUB_SERVER_URL="https://github.com", GITHUB_RUN_ID="5", GITHUB_SHA="d" * 40,
                 GITHUB_REF="refs/heads/main", GITHUB_TOKEN="ghs_bot", PRENV_HTTP_SLEEP_SCALE="0.01")
        e.update(extra)
        return clean_env(**e)

    def fork_pr_event(self):
        return {"action": "synchronize", "number": 7,
                "pull_request": {"number": 7, "state": "open", "merged": False, "title": "Fork PR",
                                 "html_url": "https://github.com/acme/shop/pull/7",
                                 "user": {"login": "mallory"},
                                 "head": {"sha": SHA, "ref": "main",
                                          "repo": {"full_name": "mallory/shop", "fork": True}},
                                 "base": {"sha": "0" * 40, "ref": "main",
                                          "repo": {"full_name": "acme/shop", "fork": False}}},
                "repository": {"full_name": "acme/shop", "name": "shop", "owner": {"login": "acme"}}}

    def workflow_run_event(self, head_sha=SHA):
        with open(os.path.join(ROOT, "test", "fixtures", "github-events", "workflow_run_fork.json")) as f:
            ev = json.load(f)
        ev["workflow_run"]["head_branch"] = "main"
        ev["workflow_run"]["head_sha"] = head_sha
        ev["workflow_run"]["head_repository"]["full_name"] = "mallory/shop"
        return ev

    def deployed(self):
        return sorted(f for f in os.listdir(self.dir) if f.endswith(".deployed"))

    def run_prenv(self, args, env):
        return run_prenv(args, env=env, cwd=self.dir)

    def test_fork_pr_skipped_by_default(self):
        self.config("skip")
        r = self.run_prenv(["deploy"], self.gh_env("pull_request", self.fork_pr_event()))
        self.assertEqual(0, r.returncode, r.stderr)
        self.assertIn("comes from a fork", r.stderr)
        self.assertEqual([], self.deployed())

    def test_fork_pr_from_its_main_is_a_preview_not_production(self):
        self.config("deploy")
        r = self.run_prenv(["deploy"], self.gh_env("pull_request", self.fork_pr_event()))
        self.assertEqual(0, r.returncode, r.stderr)
        self.assertEqual(["pr-7.deployed"], self.deployed())

    def test_workflow_run_from_fork_resolves_its_pull_request(self):
        self.config("deploy")
        env = self.gh_env("workflow_run", self.workflow_run_event())
        r = self.run_prenv(["context", "-o", "json"], env)
        self.assertEqual(0, r.returncode, r.stderr)
        ctx = json.loads(r.stdout[r.stdout.index("{"):])
        self.assertEqual(7, ctx["pr"])
        self.assertTrue(ctx["pull_request"]["fork"])
        self.assertEqual("pr-7", ctx["env"]["name"])
        r = self.run_prenv(["deploy"], env)
        self.assertEqual(0, r.returncode, r.stderr)
        self.assertEqual(["pr-7.deployed"], self.deployed())
        comments = [c for c in self.gh.state()["comments"]
                    if c["body"].startswith("<!-- prenv:marker app=shop env=pr-7 -->")]
        self.assertEqual(1, len(comments))
        self.assertTrue(comments[0]["issue_url"].endswith("/issues/7"), comments[0]["issue_url"])
        self.assertEqual([], self.gh.invalid_requests())

    def test_workflow_run_from_fork_without_pr_refuses(self):
        self.config("deploy")
        env = self.gh_env("workflow_run", self.workflow_run_event(head_sha="f" * 40))
        r = self.run_prenv(["deploy"], env)
        self.assertEqual(1, r.returncode, r.stderr)
        self.assertIn("pull request is unknown", r.stderr)
        self.assertEqual([], self.deployed())

    def test_job_outputs_multiline_safe_summary_and_json(self):
        self.config("skip")
        out = os.path.join(self.dir, "gh_output")
        summary = os.path.join(self.dir, "gh_summary")
        write(out, "earlier=1\n")
        ev = self.fork_pr_event()
        ev["pull_request"]["head"]["repo"] = {"full_name": "acme/shop", "fork": False}
        ev["pull_request"]["head"]["ref"] = "feature/login"
        env = self.gh_env("pull_request", ev, GITHUB_OUTPUT=out, GITHUB_STEP_SUMMARY=summary)
        r = self.run_prenv(["-o", "json", "deploy"], env)
        self.assertEqual(0, r.returncode, r.stderr)
        res = json.loads(r.stdout[r.stdout.index("{"):])
        self.assertEqual({"status": "ready", "url": "https://pr-7.preview.example.com",
                          "environment": "pr-7", "namespace": "shop-pr-7"},
                         {k: res[k] for k in ("status", "url", "environment", "namespace")})
        # Parse GITHUB_OUTPUT the way the runner does (name=value and heredocs).
        outputs, lines = {}, open(out).read().split("\n")
        i = 0
        while i < len(lines):
            line = lines[i]
            if "<<" in line:
                name, delim = line.split("<<", 1)
                j = lines.index(delim, i + 1)
                outputs[name] = "\n".join(lines[i + 1:j])
                i = j + 1
            elif "=" in line:
                k, v = line.split("=", 1)
                outputs[k] = v
                i += 1
            else:
                i += 1
        self.assertEqual("1", outputs["earlier"])
        self.assertEqual("https://pr-7.preview.example.com", outputs["url"])
        self.assertEqual("pr-7", outputs["environment"])
        self.assertEqual("shop-pr-7", outputs["namespace"])
        self.assertEqual("ready", outputs["status"])
        self.assertIn("pr-7", open(summary).read())


if __name__ == "__main__":
    unittest.main()
