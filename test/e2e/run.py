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


def main():
    pattern = sys.argv[1] if len(sys.argv) > 1 else "test_*.py"
    t0 = time.monotonic()
    suite = unittest.defaultTestLoader.discover(HERE, pattern=pattern, top_level_dir=HERE)
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
