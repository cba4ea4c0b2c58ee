"""Sleep and wake on a REAL Kubernetes (1.20, test/k8s-real): `prenv sleep`
really stops the pods (Deployments and a StatefulSet at 0, the CronJob
suspended; the HorizontalPodAutoscaler is left as it is and the target
stays at 0), `prenv wake --wait` really starts them again with the exact counts, and
`gc --now` at an instant outside the rule's window puts the environment to
sleep and a second run writes nothing.

Run by test/run-tests.sh's real-cluster phase (PRENV_K8S_REAL_RUN); skipped
without a cluster (a skip fails the run in CI). Its own app: namespace
rsleep-pr-7."""
import json
import os
import shutil
import time
import unittest

from real_k8s import RealBase, check_app, env_for, real_app
from util import ROOT, run_prenv

TPL = os.path.join(ROOT, "test", "e2e", "sleep_tpl")

CONFIG = """version: 1
app: rsleep
templates: tpl
provider:
  kind: kubernetes
  wait: 120s
environments:
  - pull_request: true
    schedule: { awake: "Mon-Fri 08:00-20:00", timezone: Europe/Paris }
values:
  image: "busybox-httpd:local"
  cronjob_api: "batch/v1beta1"
  hpa_api: "autoscaling/v1"
"""


class RealSleepTest(RealBase):
    APP = real_app("rsleep")

    def setUp(self):
        super().setUp()
        shutil.rmtree(os.path.join(self.app, "tpl"))
        shutil.copytree(TPL, os.path.join(self.app, "tpl"))
        with open(os.path.join(self.app, ".prenv.yml"), "w") as f:
            f.write(CONFIG.replace("app: rsleep\n", "app: %s\n" % self.APP, 1))
        self.addCleanup(lambda: self.prenv("--no-wait", "destroy"))

    def spec(self, kind, name):
        return self.get("/apis/%s/namespaces/%s/%s/%s" % (
            "batch/v1beta1" if kind == "cronjobs" else "apps/v1", self.ns(), kind, name))["spec"]

    def running_pods(self):
        pods = self.get("/api/v1/namespaces/%s/pods" % self.ns())["items"]
        return sorted(p["metadata"]["name"] for p in pods
                      if p["status"].get("phase") in ("Pending", "Running")
                      and not p["metadata"].get("deletionTimestamp"))

    def wait_for(self, what, fn, secs=90):
        deadline = time.time() + secs
        while time.time() < deadline:
            v = fn()
            if v:
                return v
            time.sleep(1)
        self.fail("%s: not after %d s" % (what, secs))

    def test_sleep_stops_pods_wake_starts_them(self):
        r = self.prenv("deploy")
        self.ok(r, "deploy")
        # web at 2, as its autoscaler (minReplicas 2) would have it (this
        # cluster has no metrics server: its HPA controller may not act)
        # (server-side apply: this 1.20 API server, built with Go >= 1.18,
        # panics on merge and strategic merge patches)
        st, _, body = self.c.api(
            "PATCH", "/apis/apps/v1/namespaces/%s/deployments/web?fieldManager=test-scaler&force=true"
            % self.ns(), {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                          "spec": {"replicas": 2}}, content_type="application/apply-patch+yaml")
        self.assertEqual(200, st, body)
        self.wait_for("4 pods", lambda: len(self.running_pods()) == 4)  # web x2, db x2
        hpa_before = self.get("/apis/autoscaling/v1/namespaces/%s/horizontalpodautoscalers/web"
                              % self.ns())["spec"]

        t0 = time.time()
        self.ok(self.prenv("sleep"), "sleep")
        self.wait_for("no pods", lambda: self.running_pods() == [] or None, 120)
        print("\n# real cluster: sleep to no pod running in %.1f s" % (time.time() - t0))
        self.assertEqual(0, self.spec("deployments", "web")["replicas"])
        self.assertEqual(0, self.spec("statefulsets", "db")["replicas"])
        self.assertTrue(self.spec("cronjobs", "nightly")["suspend"])
        # the autoscaler leaves a target at 0 alone (two of its 15 s periods)
        time.sleep(35)
        self.assertEqual(0, self.spec("deployments", "web")["replicas"])
        self.assertEqual([], self.running_pods())
        self.assertEqual(hpa_before, self.get(
            "/apis/autoscaling/v1/namespaces/%s/horizontalpodautoscalers/web" % self.ns())["spec"])
        r = self.prenv("status")
        self.assertIn("sleeping", r.stdout)

        t0 = time.time()
        r = self.prenv("wake", "--wait", "120s")
        self.ok(r, "wake")
        print("# real cluster: wake --wait until ready in %.1f s" % (time.time() - t0))
        self.assertEqual(2, self.spec("deployments", "web")["replicas"])
        self.assertEqual(0, self.spec("deployments", "worker")["replicas"])
        self.assertEqual(2, self.spec("statefulsets", "db")["replicas"])
        self.assertFalse(self.spec("cronjobs", "nightly").get("suspend", False))
        self.assertTrue(self.spec("cronjobs", "paused")["suspend"])
        self.wait_for("4 pods again", lambda: len(self.running_pods()) == 4)

        # gc on a Saturday: outside the window, awake since before it closed
        env = env_for()
        check_app(self, self.app)
        r = run_prenv(["--kubeconfig", self.kc, "--now", "2030-01-05T12:00:00Z", "-o", "json", "gc"],
                      env=env, cwd=self.app, timeout=240)
        self.ok(r, "gc")
        res = {e["name"]: e for e in json.loads(r.stdout)}
        self.assertEqual("slept", res["pr-7"]["action"], res)
        self.wait_for("no pods after gc", lambda: self.running_pods() == [] or None, 120)
        r = run_prenv(["--kubeconfig", self.kc, "--now", "2030-01-05T12:00:00Z", "-o", "json", "gc"],
                      env=env, cwd=self.app, timeout=240)
        self.ok(r, "gc again")
        self.assertEqual("kept", json.loads(r.stdout)[0]["action"])


if __name__ == "__main__":
    unittest.main()
