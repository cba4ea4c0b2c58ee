"""`prenv list` and `--env NAME` (first-hour issue item 18): any
environment of the app, from any run (a laptop on main, a scheduled job)."""
import json
import unittest

from util import run_prenv
from test_k8s_deploy import Server, deploy, env_for, make_app


class ListAndEnvTest(unittest.TestCase):
    def setUp(self):
        self.srv = Server(self)
        self.app = make_app(self)
        self.kc = self.srv.kubeconfig(self.app)
        for pr in ("42", "43"):
            e = env_for()
            e["PRENV_PR"] = pr
            r = deploy(self.app, self.kc, env=e)
            self.assertEqual(0, r.returncode, r.stderr)
        # the runs below are for a branch, not for either pull request
        self.branch_env = env_for()
        del self.branch_env["PRENV_PR"]

    def prenv(self, *args):
        return run_prenv(["--kubeconfig", self.kc] + list(args), env=self.branch_env, cwd=self.app)

    def test_list_text_and_json(self):
        r = self.prenv("list")
        self.assertEqual(0, r.returncode, r.stderr)
        self.assertRegex(r.stdout, r"pr-42\s+shop-pr-42\s+#42\s")
        self.assertRegex(r.stdout, r"pr-43\s+shop-pr-43\s+#43\s")
        r = self.prenv("-o", "json", "list")
        self.assertEqual(0, r.returncode, r.stderr)
        envs = {e["name"]: e for e in json.loads(r.stdout)}
        self.assertEqual({"pr-42", "pr-43"}, set(envs))
        self.assertEqual(43, envs["pr-43"]["pr"])
        self.assertRegex(envs["pr-43"]["deployed_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

    def test_status_and_destroy_any_environment_by_name(self):
        r = self.prenv("--env", "pr-43", "-o", "json", "status")
        self.assertEqual(0, r.returncode, r.stderr)
        st = json.loads(r.stdout)
        self.assertEqual(("pr-43", "ready", "shop-pr-43"),
                         (st["environment"], st["status"], st["details"]["namespace"]))
        r = self.prenv("--env", "feature-gone", "status")
        self.assertEqual(0, r.returncode, r.stderr)
        self.assertIn("absent", r.stdout)
        r = self.prenv("--env", "pr-43", "destroy")
        self.assertEqual(0, r.returncode, r.stderr)
        names = [e["name"] for e in json.loads(self.prenv("-o", "json", "list").stdout)]
        self.assertEqual(["pr-42"], names)

    def test_render_and_status_on_a_laptop_without_a_matching_rule(self):
        # the config has only a pull_request rule; a laptop on a branch
        r = self.prenv("render")
        self.assertEqual(0, r.returncode, r.stderr)
        self.assertIn("no rule in .prenv.yml matches this local run", r.stderr)
        self.assertIn("prenv.dev/env: feature-login-", r.stdout)
        r = self.prenv("status")
        self.assertEqual(0, r.returncode, r.stderr)
        self.assertIn("absent", r.stdout)
        # deploy still wants a rule, and so does any command in a CI
        r = self.prenv("deploy")
        self.assertEqual(2, r.returncode, r.stderr)
        ci = dict(self.branch_env, PRENV_CI="gitlab")
        r = run_prenv(["render"], env=ci, cwd=self.app)
        self.assertEqual(2, r.returncode, r.stderr)

    def test_env_must_be_a_name_and_deploy_refuses_it(self):
        r = self.prenv("--env", "Not A Name", "status")
        self.assertEqual(2, r.returncode, r.stderr)
        self.assertIn("is not an environment name", r.stderr)
        r = self.prenv("--env", "pr-42", "deploy")
        self.assertEqual(2, r.returncode, r.stderr)
        self.assertIn("deploy does not take --env", r.stderr)


if __name__ == "__main__":
    unittest.main()
