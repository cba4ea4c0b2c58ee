"""Runs for a tag (a GitHub push of refs/tags/v1.2.3): `prenv context` is a
diagnostic (it prints what it detected and exits 0, with no environment and
the reason when no rule matches); other commands name the tag; rules may
match tags (`tag: "v*"`) and templates may use {{git.tag}}."""
import json
import os
import unittest

from util import ROOT, clean_env, run_prenv, tmpdir

EVENT = os.path.join(ROOT, "test", "fixtures", "github-events", "push_tag.json")
SHA = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"

NO_TAG_RULE = """app: shop
url: "https://{{env.name}}.example.com"
provider:
  kind: command
  deploy: ["sh", "-c", "echo deployed $PRENV_ENV >> %(log)s"]
  destroy: ["true"]
environments:
  - branch: main
    name: production
  - pull_request: true
"""

TAG_RULE = NO_TAG_RULE.replace("  - pull_request: true\n", """  - tag: "v*"
    name: "release-{{git.tag}}"
    kind: production
  - pull_request: true
""")


class TagRunTest(unittest.TestCase):
    def setUp(self):
        self.dir = tmpdir(self)
        self.log = os.path.join(self.dir, "deployed.log")
        self.env = clean_env(GITHUB_ACTIONS="true", GITHUB_EVENT_NAME="push",
                             GITHUB_EVENT_PATH=EVENT, GITHUB_REF="refs/tags/v1.2.3",
                             GITHUB_REF_NAME="v1.2.3", GITHUB_REF_TYPE="tag",
                             GITHUB_REPOSITORY="acme/shop", GITHUB_SHA=SHA, GITHUB_RUN_ID="9")

    def config(self, text):
        with open(os.path.join(self.dir, ".prenv.yml"), "w", encoding="utf-8") as f:
            f.write(text % dict(log=self.log))

    def prenv(self, *args):
        return run_prenv(list(args), env=self.env, cwd=self.dir)

    def test_context_without_a_tag_rule_prints_what_it_detected_and_exits_0(self):
        self.config(NO_TAG_RULE)
        r = self.prenv("context")
        self.assertEqual(0, r.returncode, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"(?m)^tag +v1\.2\.3$")
        self.assertNotIn("detached", r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"(?m)^sha +%s$" % SHA)
        self.assertRegex(r.stdout, r"(?m)^environment +\(none\) \.prenv\.yml:7:1: no rule in .environments. "
                                   r"matches tag 'v1\.2\.3'")
        r = self.prenv("-o", "json", "context")
        self.assertEqual(0, r.returncode, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual("v1.2.3", doc["tag"])
        self.assertIsNone(doc["branch"])
        self.assertIsNone(doc["env"])
        self.assertIn("no rule in 'environments' matches tag 'v1.2.3'", doc["env_reason"])
        self.assertIn(".prenv.yml:7:1", doc["env_reason"])

    def test_deploy_without_a_tag_rule_names_the_tag(self):
        self.config(NO_TAG_RULE)
        r = self.prenv("deploy")
        self.assertEqual(2, r.returncode, r.stdout + r.stderr)
        self.assertIn("no rule in 'environments' matches tag 'v1.2.3'", r.stderr)
        self.assertIn('`- tag: "**"`', r.stderr)
        self.assertNotIn("detached", r.stdout + r.stderr)
        self.assertFalse(os.path.exists(self.log))

    def test_a_tag_rule_gives_a_release_environment(self):
        self.config(TAG_RULE)
        r = self.prenv("-o", "json", "context")
        self.assertEqual(0, r.returncode, r.stderr)
        env = json.loads(r.stdout)["env"]
        self.assertRegex(env["name"], r"^release-v1-2-3-[0-9a-f]{8}$")
        self.assertEqual("production", env["kind"])
        self.assertEqual("https://%s.example.com" % env["name"], env["url"])
        r = self.prenv("deploy")
        self.assertEqual(0, r.returncode, r.stdout + r.stderr)
        with open(self.log, encoding="utf-8") as f:
            self.assertEqual("deployed %s\n" % env["name"], f.read())


if __name__ == "__main__":
    unittest.main()
