"""Guardrails on what gets applied (first-hour issue): templates that render
no object are an error before anything is touched, not a deploy that prunes
the whole environment; files prenv would ignore are named."""
import glob
import os
import shutil
import unittest

from util import ROOT, run_prenv, tmpdir
from test_k8s_deploy import NS, Server, deploy, env_for, make_app


class EmptyRenderTest(unittest.TestCase):
    def setUp(self):
        self.srv = Server(self)
        self.app = make_app(self)
        self.kc = self.srv.kubeconfig(self.app)
        r = deploy(self.app, self.kc)
        self.assertEqual(0, r.returncode, r.stderr)
        self.before = self.srv.get(self.kc, "/apis/apps/v1/namespaces/%s/deployments" % NS)["items"]
        self.assertEqual(1, len(self.before))

    def rename_all(self, suffix):
        for p in glob.glob(os.path.join(self.app, "tpl", "*.yaml")):
            os.rename(p, p + suffix)

    def assertNothingChanged(self):
        after = self.srv.get(self.kc, "/apis/apps/v1/namespaces/%s/deployments" % NS)["items"]
        self.assertEqual([d["metadata"]["uid"] for d in self.before],
                         [d["metadata"]["uid"] for d in after])

    def test_tmpl_suffix_renders_nothing_exit_2_names_files_prunes_nothing(self):
        self.rename_all(".tmpl")
        for args in (["render"], ["--kubeconfig", self.kc, "--dry-run", "deploy"],
                     ["--kubeconfig", self.kc, "deploy"]):
            r = run_prenv(args, env=env_for(), cwd=self.app)
            self.assertEqual(2, r.returncode, r.stderr)
            self.assertIn(".prenv.yml:3:12:", r.stderr)
            self.assertIn("rendered no object", r.stderr)
            self.assertIn("allow_empty: true", r.stderr)
            self.assertIn("deployment.yaml.tmpl: this file is not rendered", r.stderr)
            self.assertNotIn("would be pruned", r.stderr)
        self.assertNothingChanged()

    def test_empty_dir_is_an_error_unless_allowed(self):
        shutil.rmtree(os.path.join(self.app, "tpl"))
        os.mkdir(os.path.join(self.app, "tpl"))
        r = run_prenv(["--kubeconfig", self.kc, "deploy"], env=env_for(), cwd=self.app)
        self.assertEqual(2, r.returncode, r.stderr)
        self.assertIn("(0 template files)", r.stderr)
        self.assertNothingChanged()
        with open(os.path.join(self.app, ".prenv.yml"), "a") as f:
            f.write("allow_empty: true\n")
        r = run_prenv(["render"], env=env_for(), cwd=self.app)
        self.assertEqual(0, r.returncode, r.stderr)
        self.assertEqual("", r.stdout)
        # documentation next to the templates is not warned about
        with open(os.path.join(self.app, "tpl", "README.md"), "w") as f:
            f.write("notes\n")
        r = run_prenv(["render"], env=env_for(), cwd=self.app)
        self.assertNotIn("README.md", r.stderr)


class RenderChecksTest(unittest.TestCase):
    """`prenv render` checks everything that needs no cluster (first-hour
    item 5): what deploy would refuse is found at render, at file:line."""

    def setUp(self):
        self.app = make_app(self)

    def add(self, name, text):
        with open(os.path.join(self.app, "tpl", name), "w") as f:
            f.write(text)

    def test_foreign_namespace_caught_at_render(self):
        self.add("zz-cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"
                 "  namespace: default\ndata: {}\n")
        r = run_prenv(["render"], env=env_for(), cwd=self.app)
        self.assertEqual(2, r.returncode, r.stderr)
        self.assertEqual("", r.stdout)
        self.assertIn("zz-cm.yaml:1", r.stderr)
        self.assertIn("default", r.stderr)

    def test_cluster_scoped_kind_caught_at_render(self):
        self.add("zz-role.yaml", "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\n"
                 "metadata:\n  name: x\nrules: []\n")
        r = run_prenv(["render"], env=env_for(), cwd=self.app)
        self.assertEqual(2, r.returncode, r.stderr)
        self.assertIn("zz-role.yaml:1", r.stderr)
        self.assertIn("clusterrole/x: a cluster-scoped object", r.stderr)


if __name__ == "__main__":
    unittest.main()
