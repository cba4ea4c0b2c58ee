"""Shared helpers for the end-to-end tests."""
import os
import subprocess
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PRENV = os.path.abspath(os.path.join(ROOT, os.environ.get("PRENV_BIN", "build/prenv")))
SHARED = os.path.abspath(os.path.join(ROOT, "..", "shared"))
REFDATA = os.path.join(SHARED, "refdata")

# Variables of the CI we might be running in must not leak into tests.
_CI_PREFIXES = ("GITHUB_", "GITLAB_", "CI_", "CHANGE_", "PRENV_", "RUNNER_", "KUBE")
_CI_NAMES = {"CI", "JENKINS_URL", "BRANCH_NAME", "GIT_COMMIT", "BUILD_URL",
             "GITLAB_CI", "KUBECONFIG", "GITHUB_ACTIONS"}


def clean_env(**extra):
    """A copy of os.environ without CI variables, plus extra."""
    env = {k: v for k, v in os.environ.items()
           if k not in _CI_NAMES and not k.startswith(_CI_PREFIXES)}
    env["NO_COLOR"] = "1"
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_prenv(args, env=None, cwd=None, timeout=120, stdin=None):
    """Runs prenv; returns CompletedProcess with text stdout/stderr."""
    return subprocess.run([PRENV] + list(args), env=env if env is not None else clean_env(),
                          cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          input=stdin)


def tmpdir(testcase):
    d = tempfile.mkdtemp(prefix="prenv-e2e-")
    import shutil
    testcase.addCleanup(shutil.rmtree, d, True)
    return d
