"""Ten prenv deploys of one pull request at once, for the same and for
different commits (the PR's head and older ones), reporting to the GitHub
(and GitLab) test server: exactly one comment remains, it shows the newest
commit (the PR's head), and no run fails (--strict-report: a reporting
failure would fail the run). Each round starts after a new push (the
comment shows a commit that is no longer the head), and the servers answer
edits after a random delay, so that edits land out of order as on a loaded
server. The command provider (a random pause of up to 0.3 s) keeps the
test about reporting. Prints the outcome as '# ' lines."""
import hashlib
import json
import os
import subprocess
import sys
import unittest

import test_report
from util import PRENV, ROOT, clean_env, tmpdir

sys.path.insert(0, os.path.join(ROOT, "test", "servers"))
from codehost import start_github, start_gitlab  # noqa: E402

# test_report.py's configuration, with a random pause in the deploy, so that
# the runs' reports interleave differently
CONFIG = test_report.CONFIG.replace(
    'deploy: ["true"]',
    'deploy: ["/usr/bin/python3", "-c", "import random, time; time.sleep(random.random() * 0.3)"]')
assert CONFIG != test_report.CONFIG

ROUNDS = int(os.environ.get("PRENV_CONCURRENCY_ROUNDS", "3"))


def round_shas(rnd):
    """The commits of round rnd, newest first: a new head each round (a new
    push while the previous round's commits are still being deployed), so
    every round starts with the comment showing a commit that is no longer
    the head. Ten runs: the head four times, older commits six times (the
    previous head among them)."""
    shas = [hashlib.sha1(b"round %d commit %d" % (rnd, k)).hexdigest() for k in range(4)]
    if rnd:
        shas[1] = round_shas(rnd - 1)[0][0]
    return shas, [shas[i] for i in (1, 0, 2, 0, 3, 1, 0, 2, 0, 1)]


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def shown_sha(body):
    for line in body.splitlines():
        if line.startswith("<!-- prenv:sha="):
            return line[len("<!-- prenv:sha="):].split()[0]
    return None


@unittest.skipUnless(os.path.exists(PRENV), "prenv binary not built (%s)" % PRENV)
class ConcurrentDeploys:
    marker = None

    def run_round(self, envs):
        procs = [subprocess.Popen([PRENV, "deploy", "--strict-report"], env=e, cwd=self.dir,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for e in envs]
        codes, errs = [], []
        for p in procs:
            out, err = p.communicate(timeout=300)
            codes.append(p.returncode)
            errs.append(err)
        return codes, errs

    def check_rounds(self, host):
        failures = []
        for rnd in range(ROUNDS):
            shas, run_shas = round_shas(rnd)
            self.set_head(shas[0])
            # edits answered after a random delay of up to 0.4 s, as on a
            # loaded server: the runs' edits land in another order than sent
            self.server.faults({"status": "slow", "delay_ms": 400, "random": True, "count": 1000,
                                "match": self.edit_match})
            codes, errs = self.run_round([self.env(s) for s in run_shas])
            bodies = self.bodies()
            shown = [shown_sha(b) for b in bodies]
            print("\n# %s round %d: 10 deploys at once (4 of the head %.7s, 6 of older commits): "
                  "%d comment(s), showing %s; exit codes %s"
                  % (host, rnd + 1, shas[0], len(bodies),
                     ", ".join("%.7s" % s for s in shown) or "-", codes), end="")
            for i, c in enumerate(codes):
                if c != 0:
                    failures.append("round %d run %d (sha %.7s) exit %d:\n%s"
                                    % (rnd + 1, i, run_shas[i], c, errs[i]))
            self.assertEqual([], failures, "\n".join(failures))
            self.assertEqual(1, len(bodies), bodies)
            self.assertEqual(shas[0], shown[0], "round %d: the comment shows an older commit" % (rnd + 1))
            self.assertIn("ready", bodies[0])
        print()


class GitHubConcurrentDeploys(ConcurrentDeploys, unittest.TestCase):
    def setUp(self):
        self.dir = tmpdir(self)
        write(os.path.join(self.dir, ".prenv.yml"), CONFIG)
        self.gh = start_github(self.dir, tokens={"ghs_bot": "github-actions[bot]:write"})
        self.addCleanup(self.gh.stop)
        self.server, self.edit_match = self.gh, "PATCH /issues/comments/"

    def set_head(self, sha):
        self.gh.seed({"repo": "acme/web",
                      "pulls": [{"number": 7, "head_sha": sha, "head_ref": "feat", "base_ref": "main",
                                 "state": "open", "user": "alice"}]})

    def env(self, sha):
        event = {
            "action": "synchronize", "number": 7,
            "pull_request": {
                "number": 7, "state": "open", "merged": False, "title": "Add login",
                "html_url": "https://github.com/acme/web/pull/7", "user": {"login": "alice"},
                "head": {"sha": sha, "ref": "feat", "repo": {"full_name": "acme/web", "fork": False}},
                "base": {"sha": "0" * 40, "ref": "main", "repo": {"full_name": "acme/web", "fork": False}},
            },
            "repository": {"full_name": "acme/web", "name": "web", "owner": {"login": "acme"}},
        }
        path = os.path.join(self.dir, "event-%s.json" % sha)
        write(path, json.dumps(event))
        return clean_env(GITHUB_ACTIONS="true", CI="true", GITHUB_EVENT_NAME="pull_request",
                         GITHUB_EVENT_PATH=path, GITHUB_REPOSITORY="acme/web", GITHUB_API_URL=self.gh.url,
                         GITHUB_SERVER_URL="https://github.com", GITHUB_RUN_ID="99",
                         GITHUB_RUN_ATTEMPT="1", GITHUB_SHA="d" * 40, GITHUB_REF="refs/pull/7/merge",
                         GITHUB_HEAD_REF="feat", GITHUB_BASE_REF="main", GITHUB_WORKFLOW="preview",
                         GITHUB_TOKEN="ghs_bot", PRENV_HTTP_SLEEP_SCALE="0.01")

    def bodies(self):
        marker = "<!-- prenv:marker app=shop env=pr-7 -->"
        return [c["body"] for c in self.gh.state()["comments"] if c["body"].startswith(marker)]

    def test_ten_deploys_at_once_one_comment_newest_sha(self):
        self.check_rounds("GitHub")
        self.assertEqual([], self.gh.invalid_requests())


class GitLabConcurrentDeploys(ConcurrentDeploys, unittest.TestCase):
    def setUp(self):
        self.dir = tmpdir(self)
        write(os.path.join(self.dir, ".prenv.yml"), CONFIG)
        self.gl = start_gitlab(self.dir, tokens={"glpat-rw": "alice:api"})
        self.addCleanup(self.gl.stop)
        self.server, self.edit_match = self.gl, "PUT /notes/"

    def set_head(self, sha):
        self.gl.seed({"project": "group/proj", "id": 42,
                      "merge_requests": [{"iid": 3, "sha": sha, "source_branch": "feat",
                                          "target_branch": "main", "state": "opened", "author": "alice"}]})

    def env(self, sha):
        return clean_env(GITLAB_CI="true", CI="true", CI_API_V4_URL=self.gl.api_url, CI_SERVER_URL=self.gl.url,
                         CI_PROJECT_ID="42", CI_PROJECT_PATH="group/proj", CI_PROJECT_NAMESPACE="group",
                         CI_PROJECT_NAME="proj", CI_PROJECT_URL=self.gl.url + "/group/proj",
                         CI_PIPELINE_SOURCE="merge_request_event", CI_MERGE_REQUEST_IID="3",
                         CI_MERGE_REQUEST_SOURCE_BRANCH_NAME="feat", CI_MERGE_REQUEST_TARGET_BRANCH_NAME="main",
                         CI_MERGE_REQUEST_TITLE="Add login", CI_COMMIT_SHA=sha, CI_COMMIT_REF_NAME="feat",
                         CI_JOB_URL=self.gl.url + "/group/proj/-/jobs/5", CI_JOB_ID="5",
                         PRENV_GITLAB_TOKEN="glpat-rw", PRENV_HTTP_SLEEP_SCALE="0.01")

    def bodies(self):
        marker = "<!-- prenv:marker app=shop env=pr-3 -->"
        return [n["body"] for n in self.gl.state()["notes"] if n["body"].startswith(marker)]

    def test_ten_deploys_at_once_one_note_newest_sha(self):
        self.check_rounds("GitLab")
        self.assertEqual([], self.gl.invalid_requests())


if __name__ == "__main__":
    unittest.main()
