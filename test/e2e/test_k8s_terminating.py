"""End to end: namespace deletion takes time (a real 1.20 cluster: 6-90 s),
and prenv is honest about it (issue 16 #8). Against
test/servers/k8s_server.py, whose namespaces stay Terminating for as long
as the test says (POST /_test/terminate-delay): no fixed delays.

  - destroy waits until the namespace is gone, as the README says; with
    --no-wait it says that the deletion started and returns;
  - a deploy into a namespace of the same environment that is still being
    deleted (a redeploy right after a destroy) waits for it to go and
    creates it anew, instead of failing.
"""
import subprocess
import threading
import time
import unittest

from util import PRENV
from k8s_e2e import ServerCase, config_text, env_for, make_app

NS = "shop-pr-11"


class K8sTerminatingTest(ServerCase, unittest.TestCase):
    def setUp(self):
        super().setUp()
        self.app = make_app(self, config_text(wait="60s"))
        self.env = env_for(pr="11", sha="e" * 40)

    def run1(self, *args):
        return self.prenv(self.app, *args, env=self.env)

    def namespace(self):
        return self.get("/api/v1/namespaces/" + NS)

    def hold_terminating(self, seconds):
        """Namespaces deleted from now on stay Terminating for seconds (and
        those already terminating finish within seconds)."""
        self.srv.admin("POST", "/_test/terminate-delay", {"seconds": seconds})

    def run_until(self, args, line_has, then):
        """Runs prenv; when a stderr line contains line_has, calls then() (once).
        Returns (exit code, stdout, stderr, whether the line was seen)."""
        p = subprocess.Popen([PRENV, "--kubeconfig", self.kc] + list(args), env=self.env, cwd=self.app,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        out = []
        t = threading.Thread(target=lambda: out.append(p.stdout.read()))
        t.start()
        err, seen = [], False
        for line in p.stderr:
            err.append(line)
            if not seen and line_has in line:
                seen = True
                then()
        p.wait(120)
        t.join(10)
        return p.returncode, "".join(out), "".join(err), seen

    def test_destroy_waits_until_the_namespace_is_gone(self):
        self.check(self.run1("deploy"))
        self.hold_terminating(3600)
        # released only once prenv says it is waiting: destroy must wait for it
        rc, out, err, seen = self.run_until(["destroy"], "waiting", lambda: self.hold_terminating(0.3))
        self.assertEqual(0, rc, err)
        self.assertTrue(seen, "destroy did not say it waits:\n" + err)
        self.assertIn("namespace/%s is gone" % NS, err)
        self.assertIsNone(self.namespace(), "destroy returned while the namespace still exists")

    def test_destroy_no_wait_says_deletion_started(self):
        self.check(self.run1("deploy"))
        self.hold_terminating(3600)
        r = self.run1("destroy", "--no-wait")
        self.check(r)
        self.assertIn("deletion started", r.stderr)
        self.assertNotIn("is gone", r.stderr)
        ns = self.namespace()
        self.assertIsNotNone(ns)
        self.assertEqual("Terminating", ns["status"]["phase"])

    def test_deploy_into_terminating_namespace_waits_and_creates_it_anew(self):
        self.check(self.run1("deploy"))
        uid = self.namespace()["metadata"]["uid"]
        self.hold_terminating(3600)
        self.check(self.run1("destroy", "--no-wait"))
        self.assertEqual("Terminating", self.namespace()["status"]["phase"])
        t0 = time.time()
        rc, out, err, seen = self.run_until(["deploy"], "being deleted", lambda: self.hold_terminating(0.3))
        self.assertEqual(0, rc, "a redeploy right after a destroy failed:\n" + err)
        self.assertTrue(seen, err)
        self.assertIn("namespace/%s created" % NS, err)
        self.assertIn("deployment/shop 1/1 ready", err)
        ns = self.namespace()
        self.assertNotEqual(uid, ns["metadata"]["uid"])
        self.assertNotIn("deletionTimestamp", ns["metadata"])
        print("\n# redeploy into a Terminating namespace: waited, created anew, ready in %.1f s"
              % (time.time() - t0))


if __name__ == "__main__":
    unittest.main()
