"""prenv deploy/destroy report to the code host: one PR comment per
environment kept up to date, GitHub deployment statuses, GitLab MR notes,
Jenkins (host from CHANGE_URL). Runs the real prenv binary (command provider
`deploy: ["true"]`) against test/servers/github_server.py and gitlab_server.py;
every request prenv sent must pass the servers' request validation."""
import json
import os
import subprocess
import sys
import unittest

from util import PRENV, ROOT, clean_env, run_prenv, tmpdir

sys.path.insert(0, os.path.join(ROOT, "test", "servers"))
from codehost import start_github, start_gitlab  # noqa: E402

CONFIG = """version: 1
app: shop
url: "https://{{env.name}}.preview.example.com"
provider:
  kind: command
  deploy: ["true"]
  destroy: ["true"]
  status: ["true"]
environments:
  - pull_request: true
    kind: preview
    ttl: 72h
  - branch: "**"
    kind: development
"""

SHA_A = "a" * 40
SHA_B = "b" * 40
SHA_C = "c" * 40
MARKER = "<!-- prenv:marker app=shop env=pr-%d -->"
GH_TOKENS = {"ghs_bot": "github-actions[bot]:write", "ghp_ro": "reader:read",
             "ghp_alice": "alice:write"}


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def unmasked(text):
    """Output without the ::add-mask:: lines (which name a secret so that the
    runner masks it: the one place a token may appear)."""
    return "\n".join(l for l in text.splitlines() if not l.startswith("::add-mask::"))


def marked(comments, n):
    return [c for c in comments if c["body"].startswith(MARKER % n)]


class RunsPrenv:
    """prenv in the test's directory, with the expected exit code checked."""

    def prenv(self, args, env, code=0):
        r = run_prenv(args, env=env, cwd=self.dir)
        self.assertEqual(code, r.returncode, "prenv %s: exit %d\nstdout:\n%s\nstderr:\n%s"
                         % (" ".join(args), r.returncode, r.stdout, r.stderr))
        return r


class GitHubReportTest(RunsPrenv, unittest.TestCase):
    def setUp(self):
        self.dir = tmpdir(self)
        write(os.path.join(self.dir, ".prenv.yml"), CONFIG)
        self.gh = start_github(self.dir, tokens=GH_TOKENS)
        self.addCleanup(self.gh.stop)
        self.gh.seed({"repo": "acme/web",
                      "pulls": [{"number": 7, "head_sha": SHA_B, "head_ref": "feat", "base_ref": "main",
                                 "state": "open", "user": "alice"}],
                      "comments": [
                          {"issue_number": 7, "user": "carol", "body": "> " + MARKER % 7 + "\nquoted by carol"},
                          {"issue_number": 7, "user": "carol", "body": "Preview environment pr-7 is ready?"},
                      ]})

    def env(self, sha=SHA_B, action="synchronize", token="ghs_bot", state="open", **extra):
        event = {
            "action": action, "number": 7,
            "pull_request": {
                "number": 7, "state": state, "merged": False, "title": "Add login",
                "html_url": "https://github.com/acme/web/pull/7",
                "user": {"login": "alice"},
                "head": {"sha": sha, "ref": "feat", "repo": {"full_name": "acme/web", "fork": False}},
                "base": {"sha": "0" * 40, "ref": "main", "repo": {"full_name": "acme/web", "fork": False}},
            },
            "repository": {"full_name": "acme/web", "name": "web", "owner": {"login": "acme"}},
        }
        path = os.path.join(self.dir, "event-%s-%s.json" % (sha[:4], action))
        write(path, json.dumps(event))
        e = dict(GITHUB_ACTIONS="true", CI="true", GITHUB_EVENT_NAME="pull_request", GITHUB_EVENT_PATH=path,
                 GITHUB_REPOSITORY="acme/web", GITHUB_API_URL=self.gh.url,
                 GITHUB_SERVER_URL="https://github.com", GITHUB_RUN_ID="99", GITHUB_RUN_ATTEMPT="1",
                 GITHUB_SHA="d" * 40, GITHUB_REF="refs/pull/7/merge", GITHUB_HEAD_REF="feat",
                 GITHUB_BASE_REF="main", GITHUB_WORKFLOW="preview", PRENV_HTTP_SLEEP_SCALE="0.01")
        if token:
            e["GITHUB_TOKEN"] = token
        e.update(extra)
        return clean_env(**e)

    def assert_valid(self):
        self.assertEqual([], self.gh.invalid_requests())

    def test_report_three_deploys_one_comment(self):
        for i in range(3):
            self.prenv(["deploy"], self.env())
            mine = marked(self.gh.state()["comments"], 7)
            self.assertEqual(1, len(mine), "after deploy %d" % (i + 1))
            if i == 0:
                first = mine[0]
            self.assertEqual(first["id"], mine[0]["id"])
            self.assertIn("ready", mine[0]["body"])
            self.assertIn("https://pr-7.preview.example.com", mine[0]["body"].replace("\\", ""))
            self.assertEqual("github-actions[bot]", mine[0]["user"]["login"])
        comments = self.gh.state()["comments"]
        self.assertEqual(3, len(comments))
        for c in comments:
            if c["user"]["login"] == "carol":
                self.assertEqual(c["created_at"], c["updated_at"])  # never edited
        self.assert_valid()

    def test_report_deployment_statuses_and_destroy(self):
        r = self.prenv(["deploy"], self.env())
        self.assertIn("https://pr-7.preview.example.com", r.stdout)
        deps = [d for d in self.gh.state()["deployments"] if d["environment"] == "pr-7"]
        self.assertEqual(1, len(deps))
        d = deps[0]
        self.assertEqual(SHA_B, d["sha"])
        self.assertTrue(d["transient_environment"])
        self.assertFalse(d["production_environment"])
        states = [s["state"] for s in d["statuses"]]  # newest first
        self.assertEqual(["success", "in_progress"], states)
        self.assertEqual("https://pr-7.preview.example.com", d["statuses"][0]["environment_url"])
        self.assertIn("/actions/runs/99", d["statuses"][0]["log_url"])

        self.prenv(["destroy"], self.env(action="closed", state="closed"))
        mine = marked(self.gh.state()["comments"], 7)
        self.assertEqual(1, len(mine))
        self.assertIn("destroyed", mine[0]["body"])
        for d in self.gh.state()["deployments"]:
            if d["environment"] == "pr-7":
                self.assertEqual("inactive", d["statuses"][0]["state"])
        self.assert_valid()

    def test_report_two_deploys_at_once_leave_one_comment(self):
        env = self.env()
        procs = [subprocess.Popen([PRENV, "deploy"], env=env, cwd=self.dir,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
        for p in procs:
            out, err = p.communicate(timeout=120)
            self.assertEqual(0, p.returncode, err)
        self.assertEqual(1, len(marked(self.gh.state()["comments"], 7)))
        self.assert_valid()

    def test_report_older_sha_does_not_overwrite_newer(self):
        self.prenv(["deploy"], self.env(sha=SHA_B))      # the PR's head
        r = self.prenv(["deploy"], self.env(sha=SHA_A))  # an older commit's job, late
        self.assertIn("older commit", r.stderr)
        mine = marked(self.gh.state()["comments"], 7)
        self.assertEqual(1, len(mine))
        self.assertIn(SHA_B, mine[0]["body"])
        self.assertNotIn(SHA_A, mine[0]["body"])
        self.assert_valid()

    def test_report_someone_elses_comment_is_never_edited(self):
        # a comment by alice that starts with the marker text but is quoted,
        # and one that carries no marker: neither is touched
        self.gh.seed({"repo": "acme/web", "comments": [
            {"issue_number": 7, "user": "alice", "body": "```\n" + MARKER % 7 + "\n```"}]})
        before = {c["id"]: c["body"] for c in self.gh.state()["comments"]}
        self.prenv(["deploy"], self.env())
        after = {c["id"]: c for c in self.gh.state()["comments"]}
        for cid, body in before.items():
            self.assertEqual(body, after[cid]["body"])
            self.assertEqual(after[cid]["created_at"], after[cid]["updated_at"])
        self.assertEqual(len(before) + 1, len(after))
        self.assert_valid()

    def test_report_planted_marker_is_not_adopted(self):
        # A drive-by commenter posts prenv's marker before the first deploy:
        # prenv writes its own comment and never edits theirs.
        self.gh.seed({"repo": "acme/web", "comments": [
            {"issue_number": 7, "user": "mallory", "body": MARKER % 7 + "\nclick http://evil.example"}]})
        self.prenv(["deploy"], self.env())
        mine = marked(self.gh.state()["comments"], 7)
        self.assertEqual(2, len(mine))
        by = {c["user"]["login"]: c for c in mine}
        self.assertIn("evil.example", by["mallory"]["body"])
        self.assertEqual(by["mallory"]["created_at"], by["mallory"]["updated_at"])
        self.assertIn("ready", by["github-actions[bot]"]["body"])
        self.assert_valid()

    def test_report_own_comment_found_when_association_misleads(self):
        # alice's organisation membership is private: GitHub shows her
        # comments as CONTRIBUTOR (or without author_association). Her
        # token's login (GET /user) still identifies prenv's comment, so
        # the second deploy edits it instead of posting a duplicate.
        for assoc in ("CONTRIBUTOR", None):
            self.gh.seed({"repo": "acme/web", "associations": {"alice": assoc}})
            for _ in range(2):
                self.prenv(["deploy", "--strict-report"], self.env(token="ghp_alice"))
            mine = [c for c in marked(self.gh.state()["comments"], 7) if c["user"]["login"] == "alice"]
            self.assertEqual(1, len(mine), assoc)
            self.assertEqual(assoc, mine[0].get("author_association"))
            self.assertIn("ready", mine[0]["body"])
        self.assert_valid()

    def test_report_rate_limit_and_502_are_retried(self):
        self.gh.faults([{"status": "403rate", "count": 1, "match": "GET /issues/7/comments", "reset_in": 2},
                        {"status": "502", "count": 1, "match": "POST /issues/7/comments"},
                        {"status": "502", "count": 1, "match": "POST /deployments"}])
        r = self.prenv(["deploy"], self.env())
        self.assertEqual(1, len(marked(self.gh.state()["comments"], 7)))
        for f in self.gh.faults():
            self.assertEqual(0, f["count"], f)
        # the POST that got a 502 was not resent blindly: a list came first
        seq = [(q["method"], q["path"]) for q in self.gh.requests()]
        posts = [i for i, (m, p) in enumerate(seq) if m == "POST" and p.endswith("/issues/7/comments")]
        self.assertEqual(2, len(posts))
        self.assertTrue(any(m == "GET" and p.endswith("/issues/7/comments")
                            for m, p in seq[posts[0] + 1:posts[1]]))
        self.assertNotIn("ghs_bot", unmasked(r.stderr + r.stdout))
        self.assert_valid()

    def test_report_read_only_token_warns_exit_0(self):
        r = self.prenv(["deploy"], self.env(token="ghp_ro"))
        self.assertIn("warning", r.stderr)
        self.assertIn("not posted", r.stderr)
        self.assertIn(MARKER % 7, r.stderr)  # the body is shown instead
        self.assertEqual(0, len(marked(self.gh.state()["comments"], 7)))
        self.assertNotIn("ghp_ro", unmasked(r.stderr + r.stdout))
        self.assertEqual(1, (r.stdout + r.stderr).count("::warning::the PR comment was not posted"))
        # --strict-report turns it into an authentication failure
        self.prenv(["deploy", "--strict-report"], self.env(token="ghp_ro"), code=3)
        self.assert_valid()

    def test_report_no_token_says_why(self):
        r = self.prenv(["deploy"], self.env(token=None))
        self.assertIn("GITHUB_TOKEN", r.stderr)
        self.assertIn(MARKER % 7, r.stderr)
        self.assertEqual([], self.gh.requests())
        self.prenv(["deploy", "--strict-report"], self.env(token=None), code=3)

    def test_report_jenkins_github_enterprise_change_url(self):
        # a CHANGE_URL on a host other than github.com is GitHub Enterprise:
        # API at <server>/api/v3
        env = clean_env(JENKINS_URL="http://jenkins.example/", BUILD_URL="http://jenkins.example/job/web/PR-7/3/",
                        BRANCH_NAME="PR-7", CHANGE_ID="7", CHANGE_BRANCH="feat", CHANGE_TARGET="main",
                        CHANGE_TITLE="Add login", CHANGE_AUTHOR="alice",
                        CHANGE_URL="%s/acme/web/pull/7" % self.gh.url, GIT_COMMIT=SHA_B,
                        PRENV_GITHUB_TOKEN="ghp_alice", PRENV_HTTP_SLEEP_SCALE="0.01")
        self.prenv(["deploy"], env)
        self.prenv(["deploy"], env)
        mine = marked(self.gh.state()["comments"], 7)
        self.assertEqual(1, len(mine))
        self.assertEqual("alice", mine[0]["user"]["login"])
        self.assertEqual({"/api/v3"}, {q["prefix"] for q in self.gh.requests()})
        self.assert_valid()


class GitLabReportTest(RunsPrenv, unittest.TestCase):
    def setUp(self):
        self.dir = tmpdir(self)
        write(os.path.join(self.dir, ".prenv.yml"), CONFIG)
        self.gl = start_gitlab(self.dir, tokens={"glpat-rw": "alice:api", "glpat-ro": "bob:read_api"},
                               job_tokens=["jobtok"])
        self.addCleanup(self.gl.stop)
        notes = [{"mr_iid": 3, "author": "carol", "body": "note %d" % i} for i in range(250)]
        self.gl.seed({"project": "group/proj", "id": 42,
                      "merge_requests": [{"iid": 3, "sha": SHA_B, "source_branch": "feat",
                                          "target_branch": "main", "state": "opened", "author": "alice"}],
                      "notes": notes})

    def env(self, **extra):
        e = dict(GITLAB_CI="true", CI="true", CI_API_V4_URL=self.gl.api_url, CI_SERVER_URL=self.gl.url,
                 CI_PROJECT_ID="42", CI_PROJECT_PATH="group/proj", CI_PROJECT_NAMESPACE="group",
                 CI_PROJECT_NAME="proj", CI_PROJECT_URL=self.gl.url + "/group/proj",
                 CI_PIPELINE_SOURCE="merge_request_event", CI_MERGE_REQUEST_IID="3",
                 CI_MERGE_REQUEST_SOURCE_BRANCH_NAME="feat", CI_MERGE_REQUEST_TARGET_BRANCH_NAME="main",
                 CI_MERGE_REQUEST_TITLE="Add login", CI_COMMIT_SHA=SHA_B, CI_COMMIT_REF_NAME="feat",
                 CI_JOB_URL=self.gl.url + "/group/proj/-/jobs/5", CI_JOB_ID="5", CI_JOB_TOKEN="jobtok",
                 GITLAB_USER_LOGIN="alice", PRENV_HTTP_SLEEP_SCALE="0.01")
        e.update(extra)
        return clean_env(**e)

    def notes(self):
        return [n for n in self.gl.state()["notes"] if n["body"].startswith(MARKER % 3)]

    def test_report_gitlab_notes_with_pagination(self):
        self.prenv(["deploy"], self.env(PRENV_GITLAB_TOKEN="glpat-rw"))
        self.prenv(["deploy"], self.env(PRENV_GITLAB_TOKEN="glpat-rw"))
        mine = self.notes()
        self.assertEqual(1, len(mine))
        self.assertIn("ready", mine[0]["body"])
        pages = {dict(q["query"]).get("page", "1") for q in self.gl.requests()
                 if q["method"] == "GET" and q["path"].endswith("/notes")}
        self.assertEqual({"1", "2", "3"}, pages)
        # the dotenv report for environment:url
        with open(os.path.join(self.dir, "prenv.env")) as f:
            self.assertIn("PRENV_URL=https://pr-3.preview.example.com", f.read())
        self.prenv(["destroy"], self.env(PRENV_GITLAB_TOKEN="glpat-rw"))
        mine = self.notes()
        self.assertEqual(1, len(mine))
        self.assertIn("destroyed", mine[0]["body"])
        self.assertEqual([], self.gl.invalid_requests())

    def test_report_gitlab_planted_note_does_not_block_reporting(self):
        # Someone posts a note that starts with prenv's marker before the
        # first deploy. GitLab lets only a note's author edit it: prenv must
        # not adopt it (403 on every run, exit 3 with --strict-report) but
        # post and keep its own.
        self.gl.seed({"project": "group/proj", "notes": [
            {"mr_iid": 3, "author": "mallory", "body": MARKER % 3 + "\nclick http://evil.example"}]})
        for _ in range(2):
            r = self.prenv(["deploy", "--strict-report"], self.env(PRENV_GITLAB_TOKEN="glpat-rw"))
            self.assertNotIn("api scope", r.stderr)
        by = {}
        for n in self.notes():
            by.setdefault(n["author"]["username"], []).append(n)
        self.assertEqual(["alice", "mallory"], sorted(by))
        self.assertEqual(1, len(by["alice"]))
        self.assertIn("ready", by["alice"][0]["body"])
        self.assertIn("evil.example", by["mallory"][0]["body"])
        self.assertEqual(by["mallory"][0]["created_at"], by["mallory"][0]["updated_at"])
        self.assertEqual([], [q for q in self.gl.requests() if q["status"] == 403])
        self.assertEqual([], self.gl.invalid_requests())

    def test_report_gitlab_job_token_only(self):
        r = self.prenv(["deploy"], self.env())
        self.assertIn("CI_JOB_TOKEN", r.stderr)
        self.assertIn("PRENV_GITLAB_TOKEN", r.stderr)
        self.assertEqual([], self.notes())
        self.assertNotIn("jobtok", unmasked(r.stderr + r.stdout))

    def test_report_jenkins_gitlab_change_url(self):
        env = clean_env(JENKINS_URL="http://jenkins.example/", BUILD_URL="http://jenkins.example/job/proj/MR-3/1/",
                        BRANCH_NAME="MR-3-head", CHANGE_ID="3", CHANGE_BRANCH="feat", CHANGE_TARGET="main",
                        CHANGE_TITLE="Add login", CHANGE_AUTHOR="alice",
                        CHANGE_URL="%s/group/proj/-/merge_requests/3" % self.gl.url, GIT_COMMIT=SHA_B,
                        GITLAB_TOKEN="glpat-rw", PRENV_HTTP_SLEEP_SCALE="0.01")
        self.prenv(["deploy"], env)
        mine = self.notes()
        self.assertEqual(1, len(mine))
        self.assertEqual("alice", mine[0]["author"]["username"])
        self.assertEqual([], self.gl.invalid_requests())


if __name__ == "__main__":
    unittest.main()
