"""The job outputs always say what happened (first-hour issue item 9): on a
configuration error (exit 2), on a pull request from a fork that is skipped,
and on a failed deploy, GITHUB_OUTPUT, the step summary and GitLab's dotenv
carry status=failed|skipped and the reason."""
import os
import unittest

from util import clean_env, run_prenv, tmpdir

SHA = "0123456789abcdef0123456789abcdef01234567"
CONFIG = """version: 1
app: shop
url: "https://{{env.name}}.preview.example.com"
forks: skip
provider:
  kind: command
  deploy: %(deploy)s
  destroy: ["true"]
environments:
  - pull_request: true
"""


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def gh_outputs(text):
    """GITHUB_OUTPUT's name<<DELIM ... DELIM entries as a dict."""
    out, lines, i = {}, text.split("\n"), 0
    while i < len(lines):
        if "<<" in lines[i]:
            name, delim = lines[i].split("<<", 1)
            j = lines.index(delim, i + 1)
            out[name] = "\n".join(lines[i + 1:j])
            i = j
        i += 1
    return out


class OutputsTest(unittest.TestCase):
    def setUp(self):
        self.dir = tmpdir(self)

    def config(self, deploy='["true"]', extra=""):
        with open(os.path.join(self.dir, ".prenv.yml"), "w") as f:
            f.write(CONFIG % {"deploy": deploy} + extra)

    def env(self, **extra):
        self.out = os.path.join(self.dir, "output")
        self.summary = os.path.join(self.dir, "summary")
        return clean_env(PRENV_CI="local", PRENV_REPO="acme/shop", PRENV_BRANCH="feature/x",
                         PRENV_PR="7", PRENV_SHA=SHA, GITHUB_OUTPUT=self.out,
                         GITHUB_STEP_SUMMARY=self.summary, PRENV_DOTENV=os.path.join(self.dir, "prenv.env"),
                         **extra)

    def test_config_error_exit_2_outputs_say_failed_and_why(self):
        self.config(extra="bogus_key: 1\n")
        r = run_prenv(["deploy"], env=self.env(), cwd=self.dir)
        self.assertEqual(2, r.returncode, r.stderr)
        o = gh_outputs(read(self.out))
        self.assertEqual("failed", o["status"])
        self.assertIn("unknown key 'bogus_key'", o["reason"])
        self.assertIn("prenv: failed", read(self.summary))
        dotenv = read(os.path.join(self.dir, "prenv.env"))
        self.assertIn("PRENV_STATUS=failed\n", dotenv)
        self.assertIn("PRENV_REASON=", dotenv)
        self.assertIn("bogus_key", dotenv)

    def test_skipped_fork_outputs_say_skipped(self):
        self.config()
        r = run_prenv(["deploy"], env=self.env(PRENV_PR_FORK="true"), cwd=self.dir)
        self.assertEqual(0, r.returncode, r.stderr)
        o = gh_outputs(read(self.out))
        self.assertEqual("skipped", o["status"], r.stderr)
        self.assertIn("fork", o["reason"])

    def test_failed_deploy_outputs_say_failed_and_why(self):
        self.config(deploy='["sh", "-c", "exit 7"]')
        r = run_prenv(["deploy"], env=self.env(), cwd=self.dir)
        self.assertEqual(1, r.returncode, r.stderr)
        o = gh_outputs(read(self.out))
        self.assertEqual("failed", o["status"])
        self.assertIn("exited with status 7", o["reason"])
        self.assertEqual("pr-7", o["environment"])

    def test_success_reason_is_empty(self):
        self.config()
        r = run_prenv(["deploy"], env=self.env(), cwd=self.dir)
        self.assertEqual(0, r.returncode, r.stderr)
        o = gh_outputs(read(self.out))
        self.assertEqual(("ready", ""), (o["status"], o["reason"]))


if __name__ == "__main__":
    unittest.main()
