"""What prenv prints inside a CI job: stdout stays machine output on GitHub
(workflow commands go to stderr), text a pull request controls cannot act
as a workflow command, only the secret-bearing parts of a kubeconfig are
masked, and odd bytes in the event payload are shown, not dropped."""
import json
import os
import shutil
import unittest

import yaml

from test_cli import CONFIG as CLI_CONFIG, PR_ENV, write
from util import REFDATA, ROOT, clean_env, run_prenv, tmpdir

# test_cli's configuration (command provider), with templates/web.
CONFIG = CLI_CONFIG.replace("app: shop\n", "app: shop\ntemplates: templates\n") + \
    'values:\n  image: "ghcr.io/acme/shop:{{git.short_sha}}"\n'

TOKEN = "ghs_S3cretT0kenValue1234567890"

# The workflow commands prenv itself writes (on stderr).
OURS = ("::add-mask::", "::error", "::warning", "::group::", "::endgroup::")


def gh_env(**extra):
    env = clean_env(**dict(PR_ENV, **extra))
    env["GITHUB_ACTIONS"] = "true"
    return env


def commands(text):
    """The lines of text the GitHub runner would take as a workflow command:
    '::' first after leading white space (the runner trims with .NET's
    Char.IsWhiteSpace; str.lstrip trims a superset), or '##[' anywhere."""
    return [l for l in text.replace("\r", "\n").split("\n")
            if l.lstrip().startswith("::") or "##[" in l]


class Base(unittest.TestCase):
    def setUp(self):
        self.dir = tmpdir(self)
        shutil.copytree(os.path.join(ROOT, "templates", "web"), os.path.join(self.dir, "templates"))
        os.remove(os.path.join(self.dir, "templates", "README.md"))
        write(os.path.join(self.dir, ".prenv.yml"), CONFIG)

    def prenv(self, args, env, code=0):
        r = run_prenv(args, env=env, cwd=self.dir)
        self.assertEqual(code, r.returncode, r.stderr)
        return r


class StdoutIsMachineOutputTest(Base):
    """Issue 10 item 5: ::add-mask:: and annotations went to stdout, so
    `prenv context -o json | jq` and `prenv render > file` broke inside
    Actions, and a captured stdout never told the runner the mask."""

    def test_github_context_json_is_pure_json(self):
        r = self.prenv(["-o", "json", "context"], gh_env(GITHUB_TOKEN=TOKEN))
        doc = json.loads(r.stdout)
        self.assertEqual(42, doc["pr"])
        self.assertIn("::add-mask::" + TOKEN + "\n", r.stderr)
        self.assertNotIn(TOKEN, r.stdout)

    def test_github_render_stdout_is_only_yaml(self):
        r = self.prenv(["render"], gh_env(GITHUB_TOKEN=TOKEN))
        self.assertEqual([], commands(r.stdout))
        docs = [d for d in yaml.safe_load_all(r.stdout) if d]
        self.assertEqual(["Deployment", "Ingress", "Service"], sorted(d["kind"] for d in docs))
        self.assertIn("::add-mask::" + TOKEN, r.stderr)

    def test_github_annotation_on_stderr_right_before_its_line(self):
        write(os.path.join(self.dir, ".prenv.yml"), CONFIG.replace("provider:", "provder:"))
        r = self.prenv(["-o", "json", "context"], gh_env(), code=2)
        self.assertEqual("", r.stdout)
        lines = r.stderr.split("\n")
        at = [i for i, l in enumerate(lines) if l.startswith("::error file=")]
        self.assertEqual(1, len(at), r.stderr)
        self.assertRegex(lines[at[0]], r"^::error file=[^,]*\.prenv\.yml,line=\d+,col=\d+::.*provder")
        self.assertRegex(lines[at[0] + 1], r"^prenv: error: .*\.prenv\.yml:\d+:\d+: .*provder")


class MaskBeforeEscapeTest(Base):
    """Issue 10 item 16: annotations were masked after the %-escaping, so a
    secret holding '%', CR or LF went into the ::error:: line unmasked."""

    def test_secret_with_percent_never_in_annotation(self):
        # A configuration error that quotes a secret (here: a key the user
        # pasted a password into) is an ::error file=..:: annotation.
        secret = "pa%ss-w0rd%42"
        write(os.path.join(self.dir, ".prenv.yml"), CONFIG + secret + ": 1\n")
        r = self.prenv(["context"], gh_env(PRENV_SECRETS="MY_PW", MY_PW=secret), code=2)
        self.assertIn("::add-mask::pa%25ss-w0rd%2542\n", r.stderr)
        errors = [l for l in r.stderr.split("\n") if l.startswith("::error file=")]
        self.assertEqual(1, len(errors), r.stderr)
        self.assertIn("'***'", errors[0])
        rest = r.stderr.replace("::add-mask::pa%25ss-w0rd%2542\n", "")
        self.assertNotIn("w0rd", rest + r.stdout)


class LegacyCommandsTest(Base):
    """Issue 10 item 2: the runner acts on '##[command]' anywhere in a line
    and on '::' after any Unicode white space; text a pull request controls
    (command output, pod logs, API errors, the title) must do neither."""

    TITLE = "Fix ##[set-output name=url;]https://evil.example ##[stop-commands]tok"

    def test_command_output_cannot_be_a_workflow_command(self):
        script = ("printf 'step ##[stop-commands]pwned\\n##[add-mask]apiVersion\\n'; "
                  "printf '\\302\\240::add-mask::kind\\n\\342\\200\\203::error::forged\\n'; "
                  "printf '\\013::warning::vt\\n'; exit 3")
        write(os.path.join(self.dir, ".prenv.yml"),
              CONFIG.replace('deploy: ["true"]', 'deploy: ["sh", "-c", %s]' % json.dumps(script)))
        r = self.prenv(["deploy"], gh_env(), code=1)
        self.assertIn("step ##\\[stop-commands]pwned", r.stderr)  # shown, but defused
        self.assertIn("\u00a0\\::add-mask::kind", r.stderr)
        self.assertEqual([], [l for l in commands(r.stderr) if not l.startswith(OURS)])
        for l in commands(r.stderr):
            self.assertNotIn("##[", l)
            self.assertNotRegex(l.split("::", 2)[1], "stop-commands|add-mask::kind|forged")
        self.assertEqual([], commands(r.stdout))

    def test_title_in_json_and_yaml_reads_back_unchanged(self):
        env = gh_env(PRENV_PR_TITLE=self.TITLE)
        r = self.prenv(["-o", "json", "context"], env)
        self.assertEqual([], commands(r.stdout))
        self.assertEqual(self.TITLE, json.loads(r.stdout)["pull_request"]["title"])
        r = self.prenv(["context"], env)
        self.assertEqual([], commands(r.stdout))
        self.assertIn("##\\u005bset-output", r.stdout)
        for fmt in ("yaml", "json"):
            r = self.prenv(["render", "-o", fmt], env)
            self.assertEqual([], commands(r.stdout))
            docs = json.loads(r.stdout) if fmt == "json" else list(yaml.safe_load_all(r.stdout))
            dep = [d for d in docs if d and d["kind"] == "Deployment"][0]
            self.assertEqual(self.TITLE, dep["metadata"]["annotations"]["prenv.dev/pr-title"])


KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUM1ekNDQWMrZ0F3SUJB
    server: https://k8s.example.com:6443
  name: prod-cluster
contexts:
- context:
    cluster: prod-cluster
    namespace: previews
    user: ci-bot
  name: ci@prod
current-context: ci@prod
users:
- name: ci-bot
  user:
    client-key-data: LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQpNSUlFb3dJQkFBS0NB
      d3JhcHBlZEJhc2U2NExpbmVUd29PZlRoZUtleURhdGFYWVo=
    token: eyJhbGciOiJSUzI1NiIsImtpZCI6ImFiYyJ9.eyJzdWIiOiJjaSJ9.c2lnbmF0dXJl
"""

CONFIGMAP = """apiVersion: v1
kind: ConfigMap
metadata:
  name: "{{env.name}}-settings"
data:
  cluster: prod-cluster
  api: https://k8s.example.com:6443
"""


class OverMaskingTest(Base):
    """Issue 10 item 6: every line and 8+-character value of a multi-line
    secret was masked, so with PRENV_KUBECONFIG `prenv render` printed ***
    for `apiVersion: v1` and ***Map for `kind: ConfigMap`, and GitHub masked
    those for the whole job."""

    def test_render_with_kubeconfig_masks_only_its_secrets(self):
        write(os.path.join(self.dir, "templates", "configmap.yaml"), CONFIGMAP)
        r = self.prenv(["render"], gh_env(PRENV_KUBECONFIG=KUBECONFIG))
        self.assertNotIn("***", r.stdout)
        self.assertIn("apiVersion: v1\nkind: ConfigMap\n", r.stdout)
        self.assertIn("cluster: prod-cluster", r.stdout)
        masks = sorted(l[len("::add-mask::"):] for l in r.stderr.split("\n")
                       if l.startswith("::add-mask::"))
        self.assertEqual(sorted([
            "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUM1ekNDQWMrZ0F3SUJB",
            "LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQpNSUlFb3dJQkFBS0NB",
            "d3JhcHBlZEJhc2U2NExpbmVUd29PZlRoZUtleURhdGFYWVo=",
            "eyJhbGciOiJSUzI1NiIsImtpZCI6ImFiYyJ9.eyJzdWIiOiJjaSJ9.c2lnbmF0dXJl"]), masks)


class NulInEventTest(Base):
    """Issue 10 item 19: a PR title "x\\u0000y" in the event JSON was cut to
    "x" without a word (cJSON strings end at NUL). prenv keeps working on
    such a PR, shows the NUL as U+FFFD and says so."""

    def test_nul_in_title_and_branch_shown_and_warned(self):
        with open(os.path.join(REFDATA, "github", "webhook-payloads", "pull_request",
                               "opened.payload.json"), encoding="utf-8") as f:
            event = json.load(f)
        event["pull_request"]["title"] = "x\x00y ##[add-mask]z"
        event["pull_request"]["head"]["ref"] = "feat\x00evil"
        path = os.path.join(self.dir, "event.json")
        write(path, json.dumps(event))
        self.assertIn("x\\u0000y", open(path).read())
        env = clean_env(GITHUB_ACTIONS="true", GITHUB_EVENT_NAME="pull_request",
                        GITHUB_EVENT_PATH=path, GITHUB_REPOSITORY=event["repository"]["full_name"],
                        GITHUB_SHA="c" * 40, GITHUB_RUN_ID="1")
        r = self.prenv(["-o", "json", "context"], env)
        doc = json.loads(r.stdout)
        self.assertEqual("x\ufffdy ##[add-mask]z", doc["pull_request"]["title"])
        self.assertEqual("feat\ufffdevil", doc["branch"])
        warn = [l for l in r.stderr.split("\n") if l.startswith("prenv: warning:")]
        self.assertEqual(1, len(warn), r.stderr)
        for what in (path, "pull_request.title", "pull_request.head.ref", "U+FFFD"):
            self.assertIn(what, warn[0])
        self.assertEqual(1, len([l for l in r.stderr.split("\n") if l.startswith("::warning::")]))
        r = self.prenv(["context"], env)
        self.assertIn("pr title     x\ufffdy ##\\u005badd-mask]z\n", r.stdout)


if __name__ == "__main__":
    unittest.main()
