"""test/run-tests.sh tells the truth about skips: run against a stand-in
tree (its own unit binary, e2e runner, valgrind and dependency checks,
each printing what the real ones print), the summary counts skipped tests
apart from passed ones, and in CI (CI=true) a skipped end-to-end test
fails the run."""
import os
import stat
import subprocess
import unittest

from util import ROOT, clean_env, tmpdir

UNIT = """#!/bin/sh
echo "[==========] 3 test(s) run."
echo "[  PASSED  ] 2 test(s)."
echo "[  SKIPPED ] 1 test(s), listed below:"
echo "[  SKIPPED ] test_fake_needs_something"
"""

# run-tests.sh starts each binary's e2e files in shards (PRENV_E2E_SHARD
# i/n): the stand-in's tests are all in the first shard, the others are
# empty, and the summary must add the shards up.
E2E = """import os, sys
if os.environ.get("PRENV_E2E_SHARD", "1/1").startswith("1/"):
    print("test_a (test_x.T.test_a) ... ok")
    print("test_b (test_x.T.test_b) ... skipped 'kubectl is not installed'")
    print("test_c (test_x.T.test_c) ... skipped 'kubectl is not installed'")
    print("e2e: PASSED passed, 0 failed, SKIPPED skipped")
else:
    print("e2e: 0 passed, 0 failed, 0 skipped")
sys.exit(0)
"""


def put(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, mode)


class RunTestsSummaryTest(unittest.TestCase):
    def tree(self, skipped):
        d = tmpdir(self)
        put(os.path.join(d, "test", "run-tests.sh"),
            open(os.path.join(ROOT, "test", "run-tests.sh"), encoding="utf-8").read(), 0o755)
        put(os.path.join(d, "build", "test", "test_fake"), UNIT, 0o755)
        put(os.path.join(d, "test", "e2e", "run.py"), E2E.replace("PASSED", "1").replace("SKIPPED", str(skipped)))
        put(os.path.join(d, "test", "valgrind-context.sh"),
            "echo 'valgrind-context: 1 passed, 0 failed'\n")
        put(os.path.join(d, "test", "check-deps.py"), "print('check-deps: 0 violations')\n")
        return d

    def run_tests(self, d, **env):
        e = clean_env(**env)
        return subprocess.run(["sh", os.path.join(d, "test", "run-tests.sh")], cwd=d, env=e,
                              capture_output=True, text=True, timeout=120)

    def test_skips_are_counted_apart_and_named(self):
        r = self.run_tests(self.tree(skipped=2))
        self.assertEqual(0, r.returncode, r.stdout + r.stderr)
        lines = r.stdout.splitlines()
        # unit 2 passed 1 skipped; e2e twice (plain, asan) 1 passed 2 skipped;
        # valgrind 1; deps twice
        self.assertEqual("7 passed, 0 failed, 5 skipped", lines[-1])
        self.assertIn("plain test_fake: 2 passed, 0 failed, 1 skipped", lines)
        self.assertIn("plain e2e: 1 passed, 0 failed, 2 skipped", lines)
        self.assertIn("  [plain e2e SKIPPED] test_b (test_x.T.test_b) ... skipped "
                      "'kubectl is not installed'", lines)

    def test_a_skipped_e2e_test_fails_the_run_in_ci(self):
        r = self.run_tests(self.tree(skipped=2), CI="true")
        self.assertNotEqual(0, r.returncode, r.stdout)
        self.assertEqual("7 passed, 4 failed, 5 skipped", r.stdout.splitlines()[-1])
        self.assertIn("in CI (CI=true) a skipped end-to-end test fails the run", r.stdout)
        # without skipped end-to-end tests CI passes (a skipped unit test
        # is counted, not fatal)
        r = self.run_tests(self.tree(skipped=0), CI="true")
        self.assertEqual(0, r.returncode, r.stdout)
        self.assertEqual("7 passed, 0 failed, 1 skipped", r.stdout.splitlines()[-1])


if __name__ == "__main__":
    unittest.main()
