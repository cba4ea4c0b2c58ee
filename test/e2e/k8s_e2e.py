"""Shared pieces of the Kubernetes end-to-end tests (test_k8s_*.py,
real_k8s_*.py): a .prenv.yml for templates/web, an app folder with a copy of
templates/web, the environment of a local run, and a test case that starts
test/servers/k8s_server.py (k8s_harness.py)."""
import os
import shutil
import sys

from util import ROOT, clean_env, run_prenv, tmpdir

sys.path.insert(0, os.path.join(ROOT, "test", "servers"))
from k8s_harness import K8sServer  # noqa: E402


def config_text(app="shop", wait="20s", provider_extra="", rules="  - pull_request: true\n",
                image="ghcr.io/acme/shop:1", values_extra=""):
    """A .prenv.yml for templates/web (values.image) and the kubernetes provider."""
    return ("version: 1\napp: %s\ntemplates: tpl\nurl: \"https://{{env.name}}.preview.example.com\"\n"
            "provider:\n  kind: kubernetes\n  wait: %s\n%senvironments:\n%svalues:\n  image: \"%s\"\n%s"
            % (app, wait, provider_extra, rules, image, values_extra))


def copy_web(tpl, strip_protocol=False):
    """templates/web into tpl; strip_protocol: without its `protocol:` lines
    (a user's copy from before the starter templates said it)."""
    shutil.copytree(os.path.join(ROOT, "templates", "web"), tpl, ignore=shutil.ignore_patterns("*.md"))
    if strip_protocol:
        for name in ("service.yaml", "deployment.yaml"):
            p = os.path.join(tpl, name)
            with open(p) as f:
                lines = f.readlines()
            with open(p, "w") as f:
                f.writelines(line for line in lines if "protocol:" not in line)


def make_app(tc, config, files=None, strip_protocol=False):
    """A temporary app folder: tpl/ (templates/web plus files {name: text})
    and .prenv.yml (config)."""
    d = tmpdir(tc)
    copy_web(os.path.join(d, "tpl"), strip_protocol)
    for name, text in (files or {}).items():
        with open(os.path.join(d, "tpl", name), "w") as f:
            f.write(text)
    with open(os.path.join(d, ".prenv.yml"), "w") as f:
        f.write(config)
    return d


def env_for(pr="7", repo="acme/shop", sha="a" * 40, branch="feature/x", **extra):
    """A local run's environment (PRENV_* overrides); pr "" or None: no PR,
    repo None: no repository."""
    e = dict(PRENV_CI="local", PRENV_BRANCH=branch, PRENV_SHA=sha, HOME="/nonexistent")
    if pr:
        e["PRENV_PR"] = str(pr)
    if repo:
        e["PRENV_REPO"] = repo
    e.update(extra)
    return clean_env(**e)


# A Job whose pod runs values.script in values.job_image; grace period 1 s.
JOB = """# the migrations of this commit
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers:
        - name: migrate
          image: {{values.job_image}}
          imagePullPolicy: IfNotPresent
          command: ["sh", "-c", "{{values.script}}"]
"""


def job_values(image, script):
    """values_extra for JOB."""
    return '  job_image: "%s"\n  script: "%s"\n' % (image, script)


# An exec credential plugin that answers with a client certificate and key
# (argv[1], argv[2]) instead of a token, as Teleport's tsh does.
CERT_PLUGIN = """#!%s
import json, sys
st = {"clientCertificateData": open(sys.argv[1]).read(), "clientKeyData": open(sys.argv[2]).read()}
print(json.dumps({"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                  "status": st}))
""" % sys.executable


def cert_plugin_user(d, cert, key):
    """A kubeconfig user whose exec plugin (written into d) hands out the
    client certificate cert with its key."""
    plug = os.path.join(d, "cert-plugin.py")
    with open(plug, "w") as f:
        f.write(CERT_PLUGIN)
    os.chmod(plug, 0o755)
    return {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": plug,
                     "args": [cert, key], "interactiveMode": "Never"}}


class ServerCase:
    """Mix into a unittest.TestCase: a test API server per test (self.srv)
    and a kubeconfig for it (self.kc)."""
    TOKEN = "e2e-k8s-token-0123456789"
    SERVER_ARGS = ["--ready-delay", "0.3", "--terminate-delay", "0.3"]

    def setUp(self):
        self.srv = K8sServer(tls=True, tokens=[self.TOKEN], args=self.SERVER_ARGS).start()
        self.addCleanup(self.srv.stop)
        self.dir = tmpdir(self)
        self.kc = self.srv.write_kubeconfig(os.path.join(self.dir, "kubeconfig"))

    def prenv(self, app, *args, env=None):
        return run_prenv(["--kubeconfig", self.kc] + list(args), env=env or env_for(), cwd=app)

    def check(self, r, code=0):
        self.assertEqual(code, r.returncode, "exit %d\nstdout:\n%s\nstderr:\n%s"
                         % (r.returncode, r.stdout, r.stderr))

    def get(self, path):
        st, _, body = self.srv.api("GET", path)
        return body if st == 200 else None
