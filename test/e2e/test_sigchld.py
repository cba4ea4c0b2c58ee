"""prenv under a CI agent that ignores SIGCHLD (the disposition is
inherited across exec): the kernel reaps prenv's children itself, so
waitpid() fails with ECHILD and an exit status would be lost. A failed
command must still be reported failed (exit 1), never ready; a failed exec
credential plugin must still be a failure."""
import json
import os
import subprocess
import sys
import unittest

from util import PRENV, clean_env, tmpdir

CONFIG = ('app: shop\nprovider: {kind: command, deploy: ["sh", "-c", "%s"]}\n'
          'environments: [{pull_request: true}]\n')

PR_ENV = dict(PRENV_CI="local", PRENV_REPO="acme/shop", PRENV_BRANCH="feature/x",
              PRENV_PR="7", PRENV_SHA="a" * 40)

# Starts prenv with SIGCHLD ignored, as such an agent would.
LAUNCH = ("import os, signal, sys; signal.signal(signal.SIGCHLD, signal.SIG_IGN); "
          "os.execv(sys.argv[1], sys.argv[1:])")


def launch(args, cwd):
    return subprocess.run([sys.executable, "-c", LAUNCH, PRENV] + args, env=clean_env(**PR_ENV),
                          cwd=cwd, capture_output=True, text=True, timeout=60)


class SigchldIgnoredTest(unittest.TestCase):
    def deploy(self, script):
        d = tmpdir(self)
        with open(os.path.join(d, ".prenv.yml"), "w", encoding="utf-8") as f:
            f.write(CONFIG % script)
        return launch(["-o", "json", "deploy"], d)

    def test_failed_command_is_failed_when_sigchld_is_ignored(self):
        r = self.deploy("echo half-done; exit 1")
        self.assertEqual(1, r.returncode, r.stdout + r.stderr)
        self.assertIn("command `deploy` exited with status 1", r.stderr)
        self.assertEqual("failed", json.loads(r.stdout)["status"])

    def test_successful_command_is_ready_when_sigchld_is_ignored(self):
        # the command's own children work too (its shell waits for them)
        r = self.deploy("sh -c 'exit 3'; test $? = 3 && echo child-status-seen")
        self.assertEqual(0, r.returncode, r.stdout + r.stderr)
        self.assertIn("child-status-seen", r.stderr)
        self.assertEqual("ready", json.loads(r.stdout)["status"])

    def test_failed_exec_plugin_is_failed_when_sigchld_is_ignored(self):
        # The plugin prints a well-formed credential but exits 1: that is a
        # failed plugin (exit 3), not a token to use.
        d = tmpdir(self)
        plug = os.path.join(d, "plugin.sh")
        cred = json.dumps({"apiVersion": "client.authentication.k8s.io/v1",
                           "kind": "ExecCredential", "status": {"token": "t0k3n-from-plugin"}})
        with open(plug, "w", encoding="utf-8") as f:
            f.write("#!/bin/sh\necho '%s'\necho 'plugin: login expired' >&2\nexit 1\n" % cred)
        os.chmod(plug, 0o755)
        kc = os.path.join(d, "kubeconfig")
        with open(kc, "w", encoding="utf-8") as f:
            json.dump({"apiVersion": "v1", "kind": "Config", "current-context": "t",
                       "clusters": [{"name": "t", "cluster": {"server": "https://127.0.0.1:9"}}],
                       "users": [{"name": "u", "user": {"exec": {
                           "apiVersion": "client.authentication.k8s.io/v1", "command": plug,
                           "interactiveMode": "Never"}}}],
                       "contexts": [{"name": "t", "context": {"cluster": "t", "user": "u"}}]}, f)
        with open(os.path.join(d, ".prenv.yml"), "w", encoding="utf-8") as f:
            f.write("app: shop\nprovider:\n  kind: kubernetes\nenvironments:\n"
                    "  - pull_request: true\n")
        r = launch(["--kubeconfig", kc, "status"], d)
        self.assertEqual(3, r.returncode, r.stdout + r.stderr)
        self.assertIn("failed (exit status 1): plugin: login expired", r.stderr)


if __name__ == "__main__":
    unittest.main()
