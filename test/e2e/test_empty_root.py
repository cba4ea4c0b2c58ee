"""The binary under test (PRENV_BIN) with nothing around it (issue 15):

- `env -i` in an empty directory: `version` and `context` (both builds);
- an empty root: a directory holding the binary, /dev/null, /dev/urandom,
  /tmp and the project, and nothing else (no loader, no libraries, no /etc,
  no resolv.conf), entered with chroot(1) (as root; otherwise `unshare -rm`,
  a user namespace). The static build (`file` says statically linked) runs
  there: version, context, and a deploy and destroy over HTTPS to the test
  API server at https://127.0.0.1 (a certificate for the IP address) whose
  CA it finds only where it finds the system's bundle:
  /etc/ssl/certs/ca-certificates.crt, /etc/pki/tls/certs/ca-bundle.crt,
  /etc/ssl/cert.pem or SSL_CERT_FILE, and is refused without one. A dynamic
  build cannot even start there, which the test checks too: the root is
  really empty.
A binary named prenv-static must be statically linked."""
import json
import os
import shutil
import subprocess
import sys
import unittest

from util import PRENV, tmpdir, ROOT

sys.path.insert(0, os.path.join(ROOT, "test", "servers"))
from k8s_harness import K8sServer  # noqa: E402

BUNDLE_PATHS = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt",
                "/etc/ssl/cert.pem"]
ENV = {"PATH": "/nonexistent", "HOME": "/tmp", "NO_COLOR": "1", "PRENV_CI": "local",
       "PRENV_REPO": "acme/static", "PRENV_BRANCH": "feature/s", "PRENV_PR": "1",
       "PRENV_SHA": "b" * 40}
CONFIG = """version: 1
app: static-smoke
templates: tpl
url: "https://{{env.name}}.preview.example.com"
provider: {kind: kubernetes, wait: 30s}
environments: [{pull_request: true}]
"""
CONFIGMAP = """apiVersion: v1
kind: ConfigMap
metadata:
  name: smoke
data:
  hello: "static"
"""


def is_static(path):
    out = subprocess.run(["file", "-L", path], capture_output=True, text=True).stdout
    return "statically linked" in out or "static-pie linked" in out


class EnvIInEmptyDir(unittest.TestCase):
    def test_version_and_context_with_env_i_in_an_empty_dir(self):
        d = tmpdir(self)
        r = subprocess.run(["env", "-i"] + ["%s=%s" % kv for kv in ENV.items()] + [PRENV, "version"],
                           cwd=d, capture_output=True, text=True, timeout=30)
        self.assertEqual(0, r.returncode, r.stderr)
        self.assertRegex(r.stdout, r"^prenv \d+\.\d+\.\d+")
        r = subprocess.run(["env", "-i"] + ["%s=%s" % kv for kv in ENV.items()] + [PRENV, "context"],
                           cwd=d, capture_output=True, text=True, timeout=30)
        self.assertEqual(0, r.returncode, r.stderr)
        self.assertIn("acme/static", r.stdout)
        self.assertEqual([], os.listdir(d))

    def test_file_says_what_the_build_is(self):
        # build/prenv-static (make static) is static; the default build is
        # dynamic (it loads libcurl and libgit2 on first use)
        out = subprocess.run(["file", "-L", PRENV], capture_output=True, text=True).stdout
        self.assertEqual("static" in os.path.basename(PRENV), is_static(PRENV), out)


class EmptyRoot(unittest.TestCase):
    def setUp(self):
        self.root = tmpdir(self)
        for d in ("dev", "tmp", "tpl"):
            os.makedirs(os.path.join(self.root, d))
        os.chmod(os.path.join(self.root, "tmp"), 0o1777)
        shutil.copy(PRENV, os.path.join(self.root, "prenv"))
        self.devices = os.geteuid() == 0
        if self.devices:
            os.mknod(os.path.join(self.root, "dev", "null"), 0o20666, os.makedev(1, 3))
            os.mknod(os.path.join(self.root, "dev", "urandom"), 0o20666, os.makedev(1, 9))
        else:   # bind-mounted over these inside the namespace (enter())
            for n in ("null", "urandom"):
                open(os.path.join(self.root, "dev", n), "w").close()
        with open(os.path.join(self.root, ".prenv.yml"), "w") as f:
            f.write(CONFIG)
        with open(os.path.join(self.root, "tpl", "cm.yaml"), "w") as f:
            f.write(CONFIGMAP)

    def enter(self, *args, extra_env=None):
        """Runs /prenv ARGS in the root, cwd /, with ENV (+ extra_env) only."""
        env = ["%s=%s" % kv for kv in dict(ENV, **(extra_env or {})).items()]
        if self.devices:
            cmd = ["env", "-i"] + env + [shutil.which("chroot"), self.root, "/prenv"] + list(args)
        else:
            script = ('mount --bind /dev/null "$1/dev/null" && mount --bind /dev/urandom '
                      '"$1/dev/urandom" && shift && exec "$@"')
            cmd = (["unshare", "-rm", "sh", "-c", script, "sh", self.root, "env", "-i"] + env +
                   [shutil.which("chroot"), self.root, "/prenv"] + list(args))
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120)

    def contents(self):
        return sorted(os.path.relpath(os.path.join(d, f), self.root)
                      for d, _, fs in os.walk(self.root) for f in fs)

    def test_the_root_holds_no_library_and_no_etc(self):
        self.assertEqual([".prenv.yml", "dev/null", "dev/urandom", "prenv", "tpl/cm.yaml"],
                         self.contents())

    def test_version_and_context_in_an_empty_root(self):
        r = self.enter("version")
        if not is_static(PRENV):
            # a dynamic build needs its loader and libraries: it cannot start
            self.assertNotEqual(0, r.returncode, r.stdout)
            return
        self.assertEqual(0, r.returncode, r.stderr)
        self.assertRegex(r.stdout, r"^prenv \d+\.\d+\.\d+")
        r = self.enter("context")
        self.assertEqual(0, r.returncode, r.stderr)
        self.assertIn("acme/static", r.stdout)

    def test_https_with_the_ca_bundle_found_at_the_usual_paths(self):
        if not is_static(PRENV):
            self.assertNotEqual(0, self.enter("version").returncode)
            return
        srv = K8sServer(tls=True, workdir=tmpdir(self)).start()
        self.addCleanup(srv.stop)
        self.assertTrue(srv.url.startswith("https://127.0.0.1:"), srv.url)
        kc = os.path.join(self.root, "kubeconfig")
        srv.write_kubeconfig(kc)
        with open(kc) as f:   # no certificate-authority: only the bundle
            cfg = json.load(f)
        for c in cfg["clusters"]:
            c["cluster"].pop("certificate-authority", None)
        with open(kc, "w") as f:
            json.dump(cfg, f)
        os.chmod(kc, 0o600)
        # no bundle anywhere: verification fails, nothing is deployed
        r = self.enter("--kubeconfig", "/kubeconfig", "deploy")
        self.assertNotEqual(0, r.returncode, r.stdout + r.stderr)
        self.assertRegex(r.stdout + r.stderr, r"(?i)certificate|verify|tls|ssl")
        for how in BUNDLE_PATHS + ["SSL_CERT_FILE"]:
            with self.subTest(ca=how):
                for p in BUNDLE_PATHS + ["/tmp/ca.pem"]:
                    if os.path.exists(self.root + p):
                        os.unlink(self.root + p)
                dst = "/tmp/ca.pem" if how == "SSL_CERT_FILE" else how
                os.makedirs(os.path.dirname(self.root + dst), exist_ok=True)
                shutil.copy(srv.ca, self.root + dst)
                extra = {"SSL_CERT_FILE": "/tmp/ca.pem"} if how == "SSL_CERT_FILE" else {}
                r = self.enter("--kubeconfig", "/kubeconfig", "deploy", extra_env=extra)
                self.assertEqual(0, r.returncode, r.stdout + r.stderr)
                st, _, body = srv.api("GET", "/api/v1/namespaces")
                self.assertEqual(200, st)
                names = [n["metadata"]["name"] for n in body["items"]]
                ns = [n for n in names if n.endswith("pr-1")]
                self.assertEqual(1, len(ns), names)
                st, _, cm = srv.api("GET", "/api/v1/namespaces/%s/configmaps/smoke" % ns[0])
                self.assertEqual((200, "static"), (st, cm.get("data", {}).get("hello")))
        r = self.enter("--kubeconfig", "/kubeconfig", "destroy",
                       extra_env={"SSL_CERT_FILE": "/tmp/ca.pem"})
        self.assertEqual(0, r.returncode, r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
