"""The two demos of the README run to the end: `make demo` (pages) and the
test-server half of `make demo-k8s` (templates/web with the kubernetes
provider; the real-cluster half is what test/e2e/real_k8s.py tests)."""
import os
import subprocess
import unittest

from util import PRENV, ROOT, clean_env


def run_demo(script, **env):
    # the scripts run build/prenv unless PRENV_BIN names the binary under test
    e = clean_env(PRENV_BIN=PRENV, **env)
    return subprocess.run(["sh", os.path.join(ROOT, "ci-examples", script, "run.sh")],
                          env=e, capture_output=True, text=True, timeout=300)


class DemoTest(unittest.TestCase):
    def test_make_demo_story(self):
        r = run_demo("demo")
        self.assertEqual(0, r.returncode, r.stdout[-3000:] + r.stderr[-3000:])
        self.assertIn("Demo done: deployed, updated and destroyed pr-42", r.stdout)

    def test_make_demo_k8s_story_on_the_test_server(self):
        r = run_demo("demo-k8s", PRENV_DEMO_REAL="0")
        out = r.stdout + r.stderr
        self.assertEqual(0, r.returncode, out[-4000:])
        self.assertIn("all 1 workload ready", out)
        self.assertIn("namespace/shop-pr-42 created", out)
        self.assertIn("https://pr-42.preview.example.com", r.stdout)
        self.assertIn("namespace/shop-pr-42 does not exist", out)
        self.assertIn("Demo done.", r.stdout)


if __name__ == "__main__":
    unittest.main()
