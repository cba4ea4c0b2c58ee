"""Bounds on what a user can write: durations (config keys and --wait) are
at most a year, and beyond it the error names where (exit 2, nothing done)."""
import os
import unittest

from util import clean_env, run_prenv, tmpdir

CONFIG = """version: 1
app: shop
provider:
  kind: command
  deploy: ["sh", "-c", "echo deployed >> %(log)s"]
  destroy: ["true"]
  status: ["true"]
%(extra)senvironments:
  - pull_request: true
%(rule)s"""

PR_ENV = dict(PRENV_CI="local", PRENV_REPO="acme/shop", PRENV_BRANCH="feature/x",
              PRENV_PR="7", PRENV_SHA="a" * 40)


class DurationLimitTest(unittest.TestCase):
    def setUp(self):
        self.dir = tmpdir(self)
        self.log = os.path.join(self.dir, "ran.log")

    def write(self, extra="", rule=""):
        with open(os.path.join(self.dir, ".prenv.yml"), "w", encoding="utf-8") as f:
            f.write(CONFIG % dict(log=self.log, extra=extra, rule=rule))

    def deploy(self, *args):
        return run_prenv(list(args) + ["deploy"], env=clean_env(**PR_ENV), cwd=self.dir)

    def assert_refused(self, r, where, what):
        self.assertEqual(2, r.returncode, r.stdout + r.stderr)
        self.assertRegex(r.stderr, r"\.prenv\.yml:%s: .*%s" % (where, what))
        self.assertFalse(os.path.exists(self.log), "the command ran")

    def test_config_durations_beyond_a_year_are_refused_with_location(self):
        self.write(extra="  timeout: 10000000000000000\n")
        self.assert_refused(self.deploy(), "8:12", "'timeout' is too long: at most 365d")
        self.write(rule="    ttl: 366d\n")
        self.assert_refused(self.deploy(), "10:10", "'ttl' is too long: at most 365d")

    def test_a_year_is_accepted(self):
        self.write(extra="  timeout: 365d\n", rule="    ttl: 8760h\n")
        r = self.deploy()
        self.assertEqual(0, r.returncode, r.stderr)
        self.assertTrue(os.path.exists(self.log))

    def test_wait_option_takes_a_duration_up_to_a_year(self):
        self.write()
        for bad in ("366d", "10000000000000000", "5 m", "-1", "soon"):
            r = self.deploy("--wait", bad)
            self.assertEqual(2, r.returncode, bad)
            self.assertIn("--wait", r.stderr)
            self.assertFalse(os.path.exists(self.log), "the command ran")
        r = self.deploy("--wait", "366d")
        self.assertIn("--wait is too long: at most 365d (a year)", r.stderr)
        for good in ("0", "300", "300s", "5m", "1h30m", "365d"):
            r = self.deploy("--wait", good)
            self.assertEqual(0, r.returncode, good + ": " + r.stderr)


if __name__ == "__main__":
    unittest.main()
