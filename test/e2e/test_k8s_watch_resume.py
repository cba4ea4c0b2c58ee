"""End to end: the readiness watches never poll (issue 15 item 6). A watch
that ends (an API server restart, a load balancer) resumes from the last
resourceVersion it saw, without listing again; one whose resourceVersion
is too old (410 Expired: the server compacted its history) lists again and
watches from the new list. Either way deploy --wait finishes when the pods
become ready. Read from the test API server's request log."""
import subprocess
import time
import unittest
import urllib.parse

from util import PRENV
from k8s_e2e import ServerCase, config_text, env_for, make_app

READY_DELAY = 6.0   # the deploy is still waiting when the test cuts the watches


class WatchResumeTest(ServerCase, unittest.TestCase):
    SERVER_ARGS = ["--ready-delay", str(READY_DELAY), "--terminate-delay", "0.3"]

    def deployment_requests(self):
        """(list requests, watch requests' resourceVersions) for deployments
        (a request is logged when it ends)."""
        log = self.srv.admin("GET", "/_test/requests?log=1").get("log", [])
        lists, watches = 0, []
        for e in log:
            if e["method"] != "GET" or not e["path"].endswith("/deployments"):
                continue
            q = urllib.parse.parse_qs(e.get("query") or "")
            if q.get("watch", [""])[0] in ("1", "true"):
                watches.append(q.get("resourceVersion", [""])[0])
            else:
                lists += 1
        return lists, watches

    def watching(self):
        # both streams (deployments, pods) are open: counted when they start
        return self.srv.admin("GET", "/_test/requests").get("by_k8s_verb", {}).get("watch", 0) >= 2

    def deploy_and_cut(self, compact):
        app = make_app(self, config_text(wait="40s"))
        p = subprocess.Popen([PRENV, "--kubeconfig", self.kc, "-v", "deploy"], env=env_for(),
                             cwd=app, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        end = time.time() + 20
        while not self.watching() and time.time() < end and p.poll() is None:
            time.sleep(0.05)
        self.assertTrue(self.watching(), "prenv never started its watches")
        if compact:
            # history older than now is gone: a resume from before answers 410
            self.srv.api("PATCH", "/api/v1/namespaces/default",
                         {"metadata": {"annotations": {"bump": str(time.time())}}},
                         content_type="application/merge-patch+json")
            self.srv.admin("POST", "/_test/compact")
        self.srv.admin("POST", "/_test/end-watches")
        out, err = p.communicate(timeout=60)
        self.assertEqual(0, p.returncode, "exit %d\n%s" % (p.returncode, err))
        self.assertIn("deployment/shop 1/1 ready", err)
        # streams still open when prenv left are logged once they end
        self.srv.admin("POST", "/_test/end-watches")
        time.sleep(0.5)
        return self.deployment_requests()

    def test_a_cut_watch_resumes_from_its_last_resource_version(self):
        lists, watches = self.deploy_and_cut(compact=False)
        self.assertEqual(1, lists, "listed again instead of resuming: %r" % watches)
        self.assertGreaterEqual(len(watches), 2, watches)
        self.assertTrue(all(watches), "a watch without resourceVersion: %r" % watches)
        self.assertGreaterEqual(int(watches[1]), int(watches[0]), watches)

    def test_410_gone_lists_again(self):
        lists, watches = self.deploy_and_cut(compact=True)
        self.assertEqual(2, lists, "after 410 the watcher must list again: %r" % watches)
        self.assertGreaterEqual(len(watches), 3, watches)
        self.assertGreater(int(watches[-1]), int(watches[0]), watches)


if __name__ == "__main__":
    unittest.main()
