"""JSON is consistent (first-hour issue item 10): the same field has the same
type and format in every command's -o json: `pr` a number (or null), times
RFC 3339 (2026-12-01T21:56:20Z)."""
import json
import re
import unittest

from util import run_prenv
from test_k8s_deploy import Server, deploy, env_for, make_app

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
TIME_KEYS = ("deployed_at", "modified", "created_at", "updated_at", "time")


def walk(node, path=""):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk(v, path + "." + k)
            yield path + "." + k, k, v
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, "%s[%d]" % (path, i))


class JsonConsistencyTest(unittest.TestCase):
    def check(self, what, doc):
        seen = 0
        for path, key, value in walk(doc):
            if key == "pr":
                seen += 1
                self.assertTrue(value is None or (isinstance(value, int) and not isinstance(value, bool)),
                                "%s: %s is %r, want a number or null" % (what, path, value))
            if key in TIME_KEYS and value is not None:
                self.assertIsInstance(value, str, "%s: %s is %r" % (what, path, value))
                self.assertRegex(value, RFC3339, "%s: %s" % (what, path))
        return seen

    def json_of(self, args, app, kc):
        r = run_prenv(["--kubeconfig", kc, "-o", "json"] + args, env=env_for(), cwd=app)
        self.assertEqual(0, r.returncode, r.stderr)
        return json.loads(r.stdout)

    def test_pr_numbers_and_rfc3339_times_everywhere(self):
        srv = Server(self)
        app = make_app(self)
        kc = srv.kubeconfig(app)
        self.assertEqual(0, deploy(app, kc).returncode)
        docs = {
            "context": self.json_of(["context"], app, kc),
            "deploy": self.json_of(["deploy"], app, kc),
            "status": self.json_of(["status"], app, kc),
            "gc": self.json_of(["gc", "--dry-run"], app, kc),
        }
        for what, doc in docs.items():
            self.assertGreater(self.check(what, doc), 0, "%s has no pr field: %s" % (what, doc))
        self.assertEqual(42, docs["context"]["pr"])
        self.assertEqual(42, docs["deploy"]["pr"])
        self.assertEqual(42, docs["status"]["details"]["pr"])
        self.assertEqual(42, docs["gc"][0]["pr"])
        self.assertRegex(docs["status"]["details"]["deployed_at"], RFC3339)
        self.assertRegex(docs["gc"][0]["deployed_at"], RFC3339)
        self.assertEqual(docs["status"]["details"]["deployed_at"], docs["gc"][0]["deployed_at"])


if __name__ == "__main__":
    unittest.main()
