#!/usr/bin/env python3
"""Runs every test/e2e/test_*.py (unittest) and prints "e2e: N passed, N failed".

PRENV_BIN names the binary under test (default build/prenv). Tests start
their own servers on 127.0.0.1 and stop them.
"""
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


class TimedResult(unittest.TextTestResult):
    """Also keeps how long each test file took (printed at the end, so a
    slow suite shows where its minutes go)."""
    files = {}

    def startTest(self, test):
        self._t0 = time.monotonic()
        super().startTest(test)

    def stopTest(self, test):
        super().stopTest(test)
        f = type(test).__module__ + ".py"
        TimedResult.files[f] = TimedResult.files.get(f, 0.0) + time.monotonic() - self._t0


# Minutes a file takes in one run on an idle 2-core machine (rough, from
# the "e2e time" lines); files not named here count as 0.3. Used only to
# balance shards.
WEIGHTS = {"test_chaos.py": 5, "test_report_concurrency.py": 1.5, "test_k8s_deploy.py": 1.5,
           "test_gitlab_ci_local.py": 1, "test_demos.py": 1, "test_install.py": 0.5}


def first_test(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            f = first_test(t)
            if f is not None:
                return f
        else:
            return t
    return None


def shard(suite, spec):
    """PRENV_E2E_SHARD=i/n: the i-th of n shards, whole files each, the
    heaviest first onto the lightest shard."""
    i, n = (int(x) for x in spec.split("/"))
    files = []
    for sub in suite:
        t = first_test(sub)
        if t is not None:
            name = type(t).__module__ + ".py"
            files.append((WEIGHTS.get(name, 0.3), name, sub))
    load = [0.0] * n
    mine = unittest.TestSuite()
    for w, name, sub in sorted(files, key=lambda x: (-x[0], x[1])):
        k = load.index(min(load))
        load[k] += w
        if k == i - 1:
            mine.addTest(sub)
    return mine


def main():
    pattern = sys.argv[1] if len(sys.argv) > 1 else "test_*.py"
    t0 = time.monotonic()
    suite = unittest.defaultTestLoader.discover(HERE, pattern=pattern, top_level_dir=HERE)
    if os.environ.get("PRENV_E2E_SHARD"):
        suite = shard(suite, os.environ["PRENV_E2E_SHARD"])
    res = unittest.TextTestRunner(verbosity=2, stream=sys.stdout, resultclass=TimedResult).run(suite)
    slow = sorted(TimedResult.files.items(), key=lambda kv: -kv[1])[:8]
    print("e2e time: %.0f s; slowest files: %s" % (time.monotonic() - t0,
          ", ".join("%s %.0f s" % kv for kv in slow)))
    failed = len(res.failures) + len(res.errors) + len(res.unexpectedSuccesses)
    skipped = len(res.skipped)
    passed = res.testsRun - failed - skipped
    print("e2e: %d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 0 if failed == 0 and res.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
