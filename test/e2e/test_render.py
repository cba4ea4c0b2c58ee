"""prenv render end to end: templates/web with hostile pull-request text,
read back by an independent YAML parser (PyYAML's safe_load_all), strict
errors at file:line:col with nothing written, and the output formats."""
import json
import os
import shutil
import unittest

import yaml

from util import ROOT, clean_env, run_prenv, tmpdir

CONFIG = """version: 1
app: shop
templates: templates
url: "https://{{env.name}}.preview.example.com"
provider:
  kind: command
  deploy: ["true"]
environments:
  - pull_request: true
  - branch: "**"
values:
  image: "ghcr.io/acme/shop:{{git.short_sha}}"
"""

HOSTILE_BRANCH = 'feat/Ünïcode"q"#1'
HOSTILE_TITLE = 'Fix: "quoted" #1 --- yes'


def pr_env(branch, title, number=7):
    return clean_env(PRENV_CI="local", PRENV_REPO="acme/shop", PRENV_BRANCH=branch,
                     PRENV_PR=str(number), PRENV_PR_TITLE=title, PRENV_PR_AUTHOR="octocat",
                     PRENV_SHA="0123456789abcdef0123456789abcdef01234567")


def shape(node):
    """The structure of a parsed document with every string replaced by its
    type, so two renderings can be compared apart from the values."""
    if isinstance(node, dict):
        return {k: shape(v) for k, v in node.items()}
    if isinstance(node, list):
        return [shape(v) for v in node]
    return type(node).__name__


class RenderTest(unittest.TestCase):
    def setUp(self):
        self.dir = tmpdir(self)
        shutil.copytree(os.path.join(ROOT, "templates", "web"), os.path.join(self.dir, "templates"))
        os.remove(os.path.join(self.dir, "templates", "README.md"))
        with open(os.path.join(self.dir, ".prenv.yml"), "w") as f:
            f.write(CONFIG)

    def render(self, env, *args):
        r = run_prenv(["render"] + list(args), env=env, cwd=self.dir)
        self.assertEqual(0, r.returncode, r.stderr)
        return r

    def test_render_web_hostile_values_same_structure(self):
        plain = list(yaml.safe_load_all(self.render(pr_env("feature-x", "Plain title")).stdout))
        evil = list(yaml.safe_load_all(self.render(pr_env(HOSTILE_BRANCH, HOSTILE_TITLE)).stdout))
        self.assertEqual(3, len(plain))
        self.assertEqual([shape(d) for d in plain], [shape(d) for d in evil])
        dep = [d for d in evil if d["kind"] == "Deployment"][0]
        ann = dep["metadata"]["annotations"]
        # Byte for byte where they were interpolated.
        self.assertEqual(HOSTILE_BRANCH, ann["prenv.dev/branch"])
        self.assertEqual(HOSTILE_TITLE, ann["prenv.dev/pr-title"])
        # Only the intended keys exist: nothing was injected.
        self.assertEqual(set(ann), set([d for d in plain if d["kind"] == "Deployment"][0]
                                       ["metadata"]["annotations"]))

    def test_render_web_labels_and_values(self):
        docs = list(yaml.safe_load_all(self.render(pr_env("feature-x", "t")).stdout))
        kinds = sorted(d["kind"] for d in docs)
        self.assertEqual(["Deployment", "Ingress", "Service"], kinds)
        for d in docs:
            labels = d["metadata"]["labels"]
            self.assertEqual("prenv", labels["app.kubernetes.io/managed-by"])
            self.assertEqual("shop", labels["prenv.dev/app"])
            self.assertEqual("pr-7", labels["prenv.dev/env"])
        dep = [d for d in docs if d["kind"] == "Deployment"][0]
        pod = dep["spec"]["template"]
        self.assertEqual("pr-7", pod["metadata"]["labels"]["prenv.dev/env"])
        self.assertEqual("ghcr.io/acme/shop:0123456", pod["spec"]["containers"][0]["image"])
        self.assertIn("readinessProbe", pod["spec"]["containers"][0])
        ing = [d for d in docs if d["kind"] == "Ingress"][0]
        self.assertEqual("pr-7.preview.example.com", ing["spec"]["rules"][0]["host"])

    def test_render_json_equals_yaml(self):
        env = pr_env(HOSTILE_BRANCH, HOSTILE_TITLE)
        as_yaml = list(yaml.safe_load_all(self.render(env).stdout))
        as_json = json.loads(self.render(env, "-o", "json").stdout)
        self.assertEqual(as_yaml, as_json)

    def test_render_out_dir_one_file_per_object(self):
        out = os.path.join(self.dir, "out")
        self.render(pr_env("feature-x", "t"), "--out", out)
        files = sorted(os.listdir(out))
        self.assertEqual(3, len(files), files)
        for f in files:
            with open(os.path.join(out, f)) as fh:
                docs = [d for d in yaml.safe_load_all(fh) if d is not None]
            self.assertEqual(1, len(docs))

    def _break(self, name, text):
        with open(os.path.join(self.dir, "templates", name), "w") as f:
            f.write(text)

    def assertFailsAt(self, r, file, line, col, what):
        self.assertEqual(2, r.returncode, r.stderr)
        self.assertEqual("", r.stdout)
        self.assertIn("%s:%d:%d:" % (file, line, col), r.stderr)
        self.assertIn(what, r.stderr)

    def test_render_missing_variable_points_at_tag(self):
        self._break("zz.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: {{values.nope}}\n")
        out = os.path.join(self.dir, "out")
        r = run_prenv(["render", "--out", out], env=pr_env("feature-x", "t"), cwd=self.dir)
        self.assertFailsAt(r, "zz.yaml", 6, 6, "values.nope")
        self.assertFalse(os.path.exists(out), "no output may be written on error")

    def test_render_allow_missing_renders_empty(self):
        self._break("zz.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: \"{{values.nope}}\"\n")
        r = self.render(pr_env("feature-x", "t"), "--allow-missing")
        cm = [d for d in yaml.safe_load_all(r.stdout) if d["kind"] == "ConfigMap"][0]
        self.assertEqual("", cm["data"]["a"])

    def test_render_syntax_error_points_at_tag(self):
        self._break("zz.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n{{#pr}}\ndata:\n  a: b\n")
        r = run_prenv(["render"], env=pr_env("feature-x", "t"), cwd=self.dir)
        self.assertFailsAt(r, "zz.yaml", 5, 1, "pr")

    def test_render_yaml_error_at_the_templates_own_line(self):
        # Standalone {{#pr}} lines vanish from the output: a YAML error on
        # line 11 of the template is on line 8 or 9 of what was rendered.
        # The message (and a GitHub annotation) must name line 11.
        self._break("zz.yaml", "apiVersion: v1\n"             # 1
                    "kind: ConfigMap\n"                        # 2
                    "metadata:\n"                              # 3
                    "  name: x\n"                              # 4
                    "  annotations:\n"                         # 5
                    "    {{#pr}}\n"                            # 6
                    "    title: \"{{pr.title}}\"\n"          # 7
                    "    {{/pr}}\n"                            # 8
                    "    sha: \"{{git.sha}}\"\n"             # 9
                    "data:\n"                                  # 10
                    "  a: [unclosed\n")                        # 11
        for env in (pr_env("feature-x", "t"),
                    clean_env(PRENV_CI="local", PRENV_REPO="acme/shop", PRENV_BRANCH="main",
                              PRENV_SHA="0123456789abcdef0123456789abcdef01234567")):
            r = run_prenv(["render"], env=env, cwd=self.dir)
            self.assertEqual(2, r.returncode, r.stderr)
            self.assertRegex(r.stderr, r"zz\.yaml:1[12]:\d+: YAML syntax error")
            # under GitHub Actions the annotation carries the same line
            r = run_prenv(["render"], env=dict(env, GITHUB_ACTIONS="true"), cwd=self.dir)
            self.assertRegex(r.stdout + r.stderr, r"::error file=[^,]*zz\.yaml,line=1[12],")

    def test_render_object_errors_at_the_templates_own_line(self):
        # a document that starts after a removed standalone section
        self._break("zz.yaml", "{{#pr}}\n# for a PR\n{{/pr}}\n---\napiVersion: v1\nkind: ConfigMap\n"
                    "metadata: {}\n")
        r = run_prenv(["render"], env=pr_env("feature-x", "t"), cwd=self.dir)
        self.assertEqual(2, r.returncode, r.stderr)
        self.assertIn("zz.yaml:5:", r.stderr)
        self.assertIn("metadata.name", r.stderr)

    def test_render_misspelt_variable_did_you_mean(self):
        for wrong, right in (("pr.titel", "pr.title"), ("values.imgae", "values.image"),
                             ("env.namespce", "env.namespace")):
            self._break("zz.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"
                        "data:\n  a: \"{{%s}}\"\n" % wrong)
            r = run_prenv(["render"], env=pr_env("feature-x", "t"), cwd=self.dir)
            self.assertFailsAt(r, "zz.yaml", 6, 7, "did you mean '%s'?" % right)

    def test_render_pr_outside_a_pull_request_says_so(self):
        self._break("zz.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"
                    "data:\n  t: \"{{pr.title}}\"\n")
        env = clean_env(PRENV_CI="local", PRENV_REPO="acme/shop", PRENV_BRANCH="main",
                        PRENV_SHA="0123456789abcdef0123456789abcdef01234567")
        r = run_prenv(["render"], env=env, cwd=self.dir)
        self.assertFailsAt(r, "zz.yaml", 6, 7, "'pr' is null here")
        self.assertIn("{{#pr}}...{{/pr}}", r.stderr)

    def test_render_values_error_points_at_the_config_entry(self):
        # a template error inside a values: entry is at that entry in
        # .prenv.yml, not at 1:29 of the value's own text
        with open(os.path.join(self.dir, ".prenv.yml"), "w") as f:
            f.write(CONFIG.replace("{{git.short_sha}}", "{{git.nope}}"))
        r = run_prenv(["render"], env=pr_env("feature-x", "t"), cwd=self.dir)
        self.assertEqual(2, r.returncode, r.stderr)
        line = CONFIG.split("\n").index('  image: "ghcr.io/acme/shop:{{git.short_sha}}"') + 1
        self.assertIn(".prenv.yml:%d:29:" % line, r.stderr)
        self.assertIn("git.nope", r.stderr)
        self.assertIn("values.image", r.stderr)
        # and the url (plain scalar on its line)
        with open(os.path.join(self.dir, ".prenv.yml"), "w") as f:
            f.write(CONFIG.replace("{{env.name}}.preview", "{{env.nme}}.preview"))
        r = run_prenv(["render"], env=pr_env("feature-x", "t"), cwd=self.dir)
        self.assertEqual(2, r.returncode, r.stderr)
        self.assertIn(".prenv.yml:4:15:", r.stderr)

    def test_render_raw_tag_with_pr_value_warns(self):
        self._break("zz.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: \"{{{pr.title}}}\"\n")
        r = self.render(pr_env("feature-x", "plain"))
        self.assertIn("zz.yaml:6:", r.stderr)
        self.assertIn("pr.title", r.stderr)
        self.assertIn("warning", r.stderr)

    def test_render_duplicate_objects_rejected(self):
        self._break("zz.yaml", open(os.path.join(self.dir, "templates", "service.yaml")).read())
        r = run_prenv(["render"], env=pr_env("feature-x", "t"), cwd=self.dir)
        self.assertEqual(2, r.returncode)
        self.assertIn("service.yaml", r.stderr)
        self.assertIn("zz.yaml", r.stderr)


if __name__ == "__main__":
    unittest.main()
