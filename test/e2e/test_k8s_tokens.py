"""End to end: the readiness watches use a fresh credential (issue 10 #14).

An exec credential plugin mints a new token on every run and registers it
with test/servers/k8s_server.py through the server's token file (re-read per
request), which refuses a token once its expiry (third column) has passed
or once the test removes it. prenv deploys templates/web; pods become ready
only after several seconds, so the deploy is still waiting when the first
token dies. The test then ends every open watch stream
(POST /_test/end-watches, as an API server restart or a load balancer
does): the watchers must resume with a credential that is still valid —
the plugin re-run when its token's expirationTimestamp passed, or (a token
revoked early, no expiry given) after the server answered 401.
"""
import json
import os
import subprocess
import sys
import time
import unittest

from util import PRENV, tmpdir
from k8s_e2e import K8sServer, config_text, env_for, make_app

SHA = "f" * 40
READY_DELAY = 10.0   # seconds until a pod is ready (margin for a busy machine)
LIFETIME = 2.0       # seconds a minted token lives (when the plugin says so)


# Mints token rot-<n>, appends "token,user,expiry" to the server's token file
# and prints the ExecCredential (with expirationTimestamp unless NO_EXPIRY).
PLUGIN = """#!%(python)s
import datetime, json, os, time
counter, tokens = os.environ["PLUGIN_COUNTER"], os.environ["PLUGIN_TOKENS"]
n = 1 + (sum(1 for _ in open(counter)) if os.path.exists(counter) else 0)
with open(counter, "a") as f:
    f.write("run %%d\\n" %% n)
exp = time.time() + float(os.environ["LIFETIME"])
tok = "rot-%%d-0123456789abcdef" %% n
with open(tokens, "a") as f:
    f.write("%%s,prenv-test,%%s\\n" %% (tok, "" if os.environ.get("NO_EXPIRY") else "%%.3f" %% exp))
st = {"token": tok}
if not os.environ.get("NO_EXPIRY"):
    st["expirationTimestamp"] = datetime.datetime.fromtimestamp(
        int(exp), datetime.timezone.utc).strftime("%%Y-%%m-%%dT%%H:%%M:%%SZ")
print(json.dumps({"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                  "status": st}))
"""


class K8sWatchTokenTest(unittest.TestCase):
    def setUp(self):
        self.dir = tmpdir(self)
        self.tokens = os.path.join(self.dir, "tokens")
        open(self.tokens, "w").close()
        self.srv = K8sServer(tls=True, tokens=[], token_file=self.tokens,
                             args=["--ready-delay", str(READY_DELAY), "--terminate-delay", "0.3"]).start()
        self.addCleanup(self.srv.stop)
        self.counter = os.path.join(self.dir, "plugin-runs")
        plug = os.path.join(self.dir, "plugin.py")
        with open(plug, "w") as f:
            f.write(PLUGIN % {"python": sys.executable})
        os.chmod(plug, 0o755)
        self.app = make_app(self, config_text(wait="40s", rules='  - branch: "**"\n',
                                              image="ghcr.io/acme/shop:{{git.sha}}"))
        self.plug = plug

    def kubeconfig(self, no_expiry):
        env = [{"name": "PLUGIN_COUNTER", "value": self.counter},
               {"name": "PLUGIN_TOKENS", "value": self.tokens},
               {"name": "LIFETIME", "value": str(LIFETIME if not no_expiry else 3600)}]
        if no_expiry:
            env.append({"name": "NO_EXPIRY", "value": "1"})
        cfg = {"apiVersion": "v1", "kind": "Config", "current-context": "t",
               "clusters": [{"name": "t", "cluster": {"server": self.srv.url,
                                                      "certificate-authority": self.srv.ca}}],
               "users": [{"name": "u", "user": {"exec": {
                   "apiVersion": "client.authentication.k8s.io/v1", "command": self.plug,
                   "interactiveMode": "Never", "env": env}}}],
               "contexts": [{"name": "t", "context": {"cluster": "t", "user": "u"}}]}
        p = os.path.join(self.dir, "kubeconfig")
        with open(p, "w") as f:
            json.dump(cfg, f)
        return p

    def token_lines(self):
        with open(self.tokens) as f:
            return [line.strip().split(",") for line in f if line.strip()]

    def watching(self):
        # both streams (deployments, pods) are open: counted when they start
        return self.srv.admin("GET", "/_test/requests").get("by_k8s_verb", {}).get("watch", 0) >= 2

    def run_deploy(self, no_expiry):
        """Starts prenv deploy, kills the first token once the watches run (by
        its expiry, or by revoking it), ends the watch streams and returns
        (CompletedProcess-like tuple (rc, stdout, stderr), plugin runs)."""
        kc = self.kubeconfig(no_expiry)
        env = env_for(pr=None, branch="feature/tok", sha=SHA)
        p = subprocess.Popen([PRENV, "--kubeconfig", kc, "-v", "deploy"], env=env, cwd=self.app,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        end = time.time() + 20
        while not self.watching() and time.time() < end and p.poll() is None:
            time.sleep(0.05)
        self.assertTrue(self.watching(), "prenv never started its watches")
        first = self.token_lines()[0]
        if no_expiry:
            # revoked early: the server stops accepting it, nothing told prenv
            with open(self.tokens, "w") as f:
                f.writelines(",".join(line) + "\n" for line in self.token_lines()[1:])
        else:
            time.sleep(max(0.0, float(first[2]) - time.time()) + 0.3)
        self.srv.admin("POST", "/_test/end-watches")
        out, err = p.communicate(timeout=60)
        with open(self.counter) as f:
            runs = sum(1 for _ in f)
        return p.returncode, out, err, runs

    def check_ready(self, rc, out, err, runs, how):
        self.assertEqual(0, rc, "%s: prenv deploy exit %d\nstdout:\n%s\nstderr:\n%s" % (how, rc, out, err))
        self.assertIn("deployment/shop 1/1 ready", err)
        self.assertGreaterEqual(runs, 2, "%s: the plugin ran once: no fresh token was asked for" % how)
        self.assertNotIn("rot-1-0123456789abcdef", out + err)
        print("\n# %s: ready after the watches resumed; exec plugin ran %d times" % (how, runs))

    def test_watch_resumes_with_refreshed_token_after_expiry(self):
        rc, out, err, runs = self.run_deploy(no_expiry=False)
        self.check_ready(rc, out, err, runs, "token expired (expirationTimestamp)")

    def test_watch_resumes_after_401_with_revoked_token(self):
        rc, out, err, runs = self.run_deploy(no_expiry=True)
        self.check_ready(rc, out, err, runs, "token revoked (401)")


if __name__ == "__main__":
    unittest.main()
