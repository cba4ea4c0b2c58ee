"""The prenv command line: help, exit codes, output formats, CI-aware
logging, and secrets that never appear in any output."""
import json
import os
import unittest

from util import REFDATA, clean_env, run_prenv, tmpdir

CONFIG = """version: 1
app: shop
url: "https://{{env.name}}.preview.example.com"
provider:
  kind: command
  deploy: ["true"]
  destroy: ["true"]
  status: ["true"]
environments:
  - branch: main
    name: production
    kind: production
    protected: true
  - pull_request: true
    kind: preview
    ttl: 72h
  - branch: "**"
    kind: development
"""

PR_ENV = dict(PRENV_CI="local", PRENV_REPO="acme/shop", PRENV_BRANCH="feature/login",
              PRENV_PR="42", PRENV_SHA="a" * 40, PRENV_PR_TITLE="Add login", PRENV_PR_AUTHOR="octocat")


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


class CliTest(unittest.TestCase):
    def setUp(self):
        self.dir = tmpdir(self)
        write(os.path.join(self.dir, ".prenv.yml"), CONFIG)

    def test_cli_help_lists_commands(self):
        r = run_prenv(["--help"])
        self.assertEqual(0, r.returncode)
        for c in ("context", "render", "deploy", "destroy", "status", "gc", "version"):
            self.assertIn(c, r.stdout)

    def test_cli_help_per_command(self):
        for c in ("context", "render", "deploy", "destroy", "status", "gc", "version"):
            r = run_prenv([c, "--help"])
            self.assertEqual(0, r.returncode, c)
            self.assertIn("usage: prenv", r.stdout)
            self.assertIn(c, r.stdout)

    def test_cli_unknown_command_exit_2(self):
        r = run_prenv(["deplooy"])
        self.assertEqual(2, r.returncode)
        self.assertIn("unknown command 'deplooy'", r.stderr)

    def test_cli_unknown_option_exit_2(self):
        r = run_prenv(["context", "--frobnicate"])
        self.assertEqual(2, r.returncode)
        self.assertIn("--frobnicate", r.stderr)

    def test_cli_version(self):
        r = run_prenv(["version"])
        self.assertEqual(0, r.returncode)
        self.assertRegex(r.stdout, r"^prenv \d+\.\d+\.\d+\n$")
        r = run_prenv(["-o", "json", "version"])
        self.assertIn("version", json.loads(r.stdout))

    def test_cli_context_json_with_env(self):
        r = run_prenv(["context", "-o", "json"], env=clean_env(**PR_ENV), cwd=self.dir)
        self.assertEqual(0, r.returncode, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual("acme/shop", doc["repo"]["full_name"])
        self.assertEqual(42, doc["pr"])
        self.assertEqual(42, doc["pull_request"]["number"])
        self.assertEqual("pr-42", doc["env"]["name"])
        self.assertEqual("shop-pr-42", doc["env"]["namespace"])
        self.assertEqual("https://pr-42.preview.example.com", doc["env"]["url"])
        self.assertEqual("preview", doc["env"]["kind"])
        self.assertFalse(doc["env"]["protected"])

    def test_cli_context_text_is_aligned_and_sanitised(self):
        # A hostile PR title arrives through the real event payload.
        with open(os.path.join(REFDATA, "github", "webhook-payloads", "pull_request",
                               "opened.payload.json"), encoding="utf-8") as f:
            event = json.load(f)
        event["pull_request"]["title"] = "evil\n::add-mask::x\x1b[31m"
        path = os.path.join(self.dir, "event.json")
        write(path, json.dumps(event))
        env = clean_env(GITHUB_ACTIONS="true", GITHUB_EVENT_NAME="pull_request",
                        GITHUB_EVENT_PATH=path, GITHUB_REPOSITORY=event["repository"]["full_name"],
                        GITHUB_SHA="c" * 40, GITHUB_RUN_ID="1")
        r = run_prenv(["context"], env=env, cwd=self.dir)
        self.assertEqual(0, r.returncode, r.stderr)
        self.assertNotIn("\x1b", r.stdout)
        for line in r.stdout.splitlines():
            self.assertFalse(line.startswith("::"), line)
        self.assertIn("pr title     evil\\x0a::add-mask::x\\x1b[31m", r.stdout)
        self.assertIn("environment  pr-%d (preview)" % event["number"], r.stdout)

    def test_cli_override_with_control_chars_rejected(self):
        env = clean_env(**dict(PR_ENV, PRENV_PR_TITLE="evil\n::add-mask::x"))
        r = run_prenv(["context"], env=env, cwd=self.dir)
        self.assertEqual(2, r.returncode)
        self.assertIn("PRENV_PR_TITLE", r.stderr)

    def test_cli_config_error_is_exit_2_with_location(self):
        write(os.path.join(self.dir, ".prenv.yml"), CONFIG.replace("provider:", "provder:"))
        r = run_prenv(["context"], env=clean_env(**PR_ENV), cwd=self.dir)
        self.assertEqual(2, r.returncode)
        self.assertRegex(r.stderr, r"\.prenv\.yml:\d+:\d+: .*provder")

    def test_cli_github_error_annotation(self):
        write(os.path.join(self.dir, ".prenv.yml"), CONFIG.replace("provider:", "provder:"))
        env = clean_env(**PR_ENV)
        env["GITHUB_ACTIONS"] = "true"
        env["PRENV_CI"] = "github"
        r = run_prenv(["context"], env=env, cwd=self.dir)
        self.assertEqual(2, r.returncode)
        # Workflow commands go to stderr: stdout stays machine output.
        self.assertRegex(r.stderr, r"::error file=[^,]*\.prenv\.yml,line=\d+,col=\d+::")
        self.assertEqual("", r.stdout)

    def test_cli_missing_explicit_config_exit_2(self):
        r = run_prenv(["-c", "nope.yml", "render"], env=clean_env(**PR_ENV), cwd=self.dir)
        self.assertEqual(2, r.returncode)
        self.assertIn("nope.yml", r.stderr)

    def test_cli_secret_never_printed(self):
        secret = "ghp_S3cretT0kenValue1234567890"
        env = clean_env(**dict(PR_ENV, GITHUB_TOKEN=secret, PRENV_PR_TITLE="title " + secret))
        for args in (["context"], ["-o", "json", "context"], ["-v", "-v", "context"]):
            r = run_prenv(args, env=env, cwd=self.dir)
            self.assertEqual(0, r.returncode, r.stderr)
            self.assertNotIn(secret, r.stdout + r.stderr)
            self.assertIn("***", r.stdout)

    def test_cli_github_add_mask_for_tokens(self):
        secret = "ghs_S3cretT0kenValue1234567890"
        env = clean_env(**dict(PR_ENV, GITHUB_TOKEN=secret))
        env["GITHUB_ACTIONS"] = "true"
        env["PRENV_CI"] = "github"
        r = run_prenv(["context"], env=env, cwd=self.dir)
        self.assertEqual(0, r.returncode, r.stderr)
        # The runner itself hides the value on ::add-mask:: lines, which
        # go to stderr (the runner reads both streams).
        self.assertIn("::add-mask::" + secret, r.stderr)
        rest = r.stderr.replace("::add-mask::" + secret, "")
        self.assertNotIn(secret, rest + r.stdout)

    def test_cli_protected_destroy_refused(self):
        env = clean_env(PRENV_CI="local", PRENV_REPO="acme/shop", PRENV_BRANCH="main", PRENV_SHA="b" * 40)
        r = run_prenv(["destroy"], env=env, cwd=self.dir)
        self.assertEqual(2, r.returncode)
        self.assertIn("protected", r.stderr)

    def test_cli_gc_command_provider_cannot_list(self):
        # the command provider has no way to list environments: gc says so,
        # changes nothing and succeeds (test_gc.py covers what gc does)
        r = run_prenv(["gc"], env=clean_env(**PR_ENV), cwd=self.dir)
        self.assertEqual(0, r.returncode, r.stderr)
        self.assertIn("gc is not supported for provider command: nothing done", r.stderr)
        self.assertEqual("", r.stdout)


if __name__ == "__main__":
    unittest.main()


class CiLogSafetyTest(unittest.TestCase):
    """Output a pull request controls (a deploy command's lines, a failing
    container's log) cannot act as GitHub workflow commands, and multi-line
    secrets are masked line by line."""

    def setUp(self):
        self.dir = tmpdir(self)

    def config(self, script):
        write(os.path.join(self.dir, ".prenv.yml"), CONFIG.replace(
            'deploy: ["true"]', 'deploy: ["sh", "-c", %s]' % json.dumps(script)))

    def gh_env(self, **extra):
        env = clean_env(**dict(PR_ENV, **extra))
        env["GITHUB_ACTIONS"] = "true"
        env["PRENV_CI"] = "github"
        return env

    def test_cli_untrusted_lines_cannot_be_workflow_commands(self):
        self.config("printf '::stop-commands::pwned\\n  ::set-output name=url::evil\\rx\\n"
                    "\\t::error::forged\\n'; exit 3")
        r = run_prenv(["deploy"], env=self.gh_env(), cwd=self.dir)
        self.assertEqual(1, r.returncode, r.stderr)
        self.assertIn("stop-commands", r.stderr)  # shown, but defused
        # Only prenv's own workflow commands, all on stderr.
        ours = ("::add-mask::", "::error", "::warning", "::group::", "::endgroup::")
        self.assertNotIn("::", r.stdout)
        for line in r.stderr.split("\n"):
            self.assertNotIn("\r", line)
            if line.strip().startswith("::"):
                self.assertTrue(line.startswith(ours), repr(line))
                self.assertNotIn("stop-commands", line.split("::", 2)[1])

    def test_cli_multiline_secret_masked_line_by_line(self):
        kubeconfig = ("apiVersion: v1\nkind: Config\nusers:\n- name: ci\n  user:\n"
                      "    token: s3cr3t-cluster-token-abcdef\n")
        self.config("echo \"token is s3cr3t-cluster-token-abcdef\"; echo \"$PRENV_KUBECONFIG\" | "
                    "grep token; exit 0")
        r = run_prenv(["deploy"], env=self.gh_env(PRENV_KUBECONFIG=kubeconfig), cwd=self.dir)
        self.assertEqual(0, r.returncode, r.stderr)
        rest = "\n".join(l for l in (r.stdout + r.stderr).split("\n") if not l.startswith("::add-mask::"))
        self.assertNotIn("s3cr3t-cluster-token-abcdef", rest)
        self.assertIn("::add-mask::s3cr3t-cluster-token-abcdef", r.stderr)
