"""End to end on a REAL Kubernetes (1.20, test/k8s-real): the prenv binary
deploys, prunes, waits for real pods, diagnoses real failures (a container
that crashes, an image that cannot be pulled, a Job that fails) from their
real logs and events, and destroys (real namespace deletion).

Run by test/run-tests.sh in its "real cluster" phase, which starts the
cluster once (test/k8s-real/cluster.py) and sets PRENV_K8S_REAL_RUN; the
tests attach to it. Without a cluster they are skipped (and a skip fails the
run in CI). Every test uses its own app, so its own namespaces."""
import json
import os
import shutil
import sys
import time
import unittest

from util import ROOT, clean_env, run_prenv, tmpdir

sys.path.insert(0, os.path.join(ROOT, "test", "k8s-real"))
from cluster import RealCluster  # noqa: E402

RUN = os.environ.get("PRENV_K8S_REAL_RUN")
# LIMITED ("limited"): every test runs prenv with the token of a ServiceAccount
# bound only to templates/rbac's prenv-deployer (least privilege, first-hour item 12)
from real_k8s_hardening import LIMITED, check_app, limited_token, real_app  # noqa: E402
SHA = "a" * 40

CONFIG = """version: 1
app: %(app)s
templates: tpl
url: "https://{{env.name}}.preview.example.com"
provider:
  kind: kubernetes
  wait: %(wait)s
environments:
  - pull_request: true
values:
  image: "%(image)s"
"""

# A pod that does what it is told; 1 s grace period so namespaces go fast.
DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: %(name)s
spec:
  replicas: 1
  # a pod that runs for a moment before it crashes is Ready for that moment:
  # the Deployment only counts it after 20 s, so ready cannot win the race
  minReadySeconds: 20
  selector:
    matchLabels: {app: %(name)s}
  template:
    metadata:
      labels: {app: %(name)s}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: main
          image: %(image)s
          imagePullPolicy: %(pull)s
          command: %(command)s
"""

JOB = """apiVersion: batch/v1
kind: Job
metadata:
  name: %(name)s
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers:
        - name: main
          image: busybox:local
          imagePullPolicy: Never
          command: ["sh", "-c", %(script)s]
"""

_cluster = None


def cluster():
    global _cluster
    if _cluster is None and RUN:
        _cluster = RealCluster.attach(RUN)
    return _cluster


def env_for(pr=7, sha=SHA, **extra):
    return clean_env(PRENV_CI="local", PRENV_REPO="acme/shop", PRENV_BRANCH="feature/x",
                     PRENV_PR=str(pr), PRENV_SHA=sha, HOME="/nonexistent", **extra)


@unittest.skipUnless(RUN, "no real cluster (PRENV_K8S_REAL_RUN unset): run through make check")
class RealBase(unittest.TestCase):
    APP = real_app("real")

    @classmethod
    def setUpClass(cls):
        cls.c = cluster()
        if cls.c is None:
            raise unittest.SkipTest("the real cluster in %s is not running" % RUN)

    def setUp(self):
        self.dir = tmpdir(self)
        self.kc = os.path.join(self.dir, "kubeconfig")
        self.c.write_kubeconfig(self.kc, token=limited_token(self.c) if LIMITED else None)
        self.app = os.path.join(self.dir, "app")
        os.makedirs(os.path.join(self.app, "tpl"))

    def config(self, image="busybox-httpd:local", wait="120s", app=None):
        with open(os.path.join(self.app, ".prenv.yml"), "w") as f:
            f.write(CONFIG % {"app": app or self.APP, "image": image, "wait": wait})

    def template(self, name, text):
        with open(os.path.join(self.app, "tpl", name), "w") as f:
            f.write(text)

    def web_templates(self):
        tpl = os.path.join(self.app, "tpl")
        shutil.rmtree(tpl)
        shutil.copytree(os.path.join(ROOT, "templates", "web"), tpl,
                        ignore=shutil.ignore_patterns("*.md"))

    def prenv(self, *args, env=None, timeout=240):
        check_app(self, self.app)
        return run_prenv(["--kubeconfig", self.kc] + list(args), env=env or env_for(),
                         cwd=self.app, timeout=timeout)

    def ns(self, pr=7):
        return "%s-pr-%d" % (self.APP, pr)

    def get(self, path):
        st, _, body = self.c.api("GET", path)
        return body if st == 200 else None

    def delete_at_end(self, ns):
        """The namespace goes when the test ends (not waited for): the other
        binary's run of this test, minutes later, starts from nothing
        instead of a Deployment that has been failing since."""
        self.addCleanup(self.c.api, "DELETE", "/api/v1/namespaces/" + ns)

    def ok(self, r, what):
        self.assertEqual(0, r.returncode, "%s: exit %d\nstdout:\n%s\nstderr:\n%s"
                         % (what, r.returncode, r.stdout, r.stderr))


class RealDeployTest(RealBase):
    """templates/web as a user copies it, on a real 1.20 cluster: its
    Service ports have no `protocol` (1.20's server-side apply needs one:
    prenv fills in TCP), the pod really starts and becomes ready through its
    HTTP readiness probe; a redeploy prunes what the templates dropped; a
    destroy really deletes the namespace."""
    APP = real_app("rweb")

    def test_web_deploy_ready_redeploy_prune_destroy(self):
        self.config()
        self.web_templates()
        t0 = time.time()
        r = self.prenv("deploy")
        self.ok(r, "deploy")
        print("\n# real cluster: templates/web ready in %.1f s" % (time.time() - t0))
        self.assertIn("https://pr-7.preview.example.com", r.stdout)
        ns = self.ns()
        dep = self.get("/apis/apps/v1/namespaces/%s/deployments/%s" % (ns, self.APP))
        self.assertEqual(1, dep["status"].get("readyReplicas"), json.dumps(dep["status"]))
        svc = self.get("/api/v1/namespaces/%s/services/%s" % (ns, self.APP))
        self.assertEqual("TCP", svc["spec"]["ports"][0]["protocol"])
        nsobj = self.get("/api/v1/namespaces/" + ns)
        self.assertEqual("prenv", nsobj["metadata"]["labels"]["app.kubernetes.io/managed-by"])
        # the pod answers on its Service IP, from the host
        ip = svc["spec"]["clusterIP"]
        out = self.c.kubectl("exec", "-n", ns, "deploy/" + self.APP, "--", "wget", "-qO-",
                             "http://%s/" % ip)
        self.assertEqual(0, out.returncode, out.stderr)
        # redeploy without the Ingress: pruned
        os.remove(os.path.join(self.app, "tpl", "ingress.yaml"))
        r = self.prenv("deploy", env=env_for(sha="b" * 40))
        self.ok(r, "redeploy")
        self.assertIsNone(self.get("/apis/networking.k8s.io/v1/namespaces/%s/ingresses/%s" % (ns, self.APP)))
        self.assertIsNotNone(self.get("/apis/apps/v1/namespaces/%s/deployments/%s" % (ns, self.APP)))
        # status reads the real objects
        r = self.prenv("-o", "json", "status")
        self.ok(r, "status")
        self.assertEqual("ready", json.loads(r.stdout)["status"])
        # destroy waits until the namespace is really gone
        t0 = time.time()
        r = self.prenv("--wait", "180", "destroy")
        self.ok(r, "destroy")
        print("# real cluster: namespace deleted in %.1f s" % (time.time() - t0))
        self.assertIsNone(self.get("/api/v1/namespaces/" + ns))


class RealFailureTest(RealBase):
    """Real failures, diagnosed from the real kubelet's state, logs and
    events: prenv fails fast (exit 1) with the reason and the lines a human
    needs."""
    APP = real_app("rfail")

    def deploy_failing(self, name, image, pull, command):
        self.config(wait="150s", app=self.APP)
        self.delete_at_end(self.ns(self.pr))
        self.template("dep.yaml", DEPLOYMENT % {"name": name, "image": image, "pull": pull,
                                                "command": command})
        t0 = time.time()
        r = self.prenv("deploy", env=env_for(pr=self.pr))
        return r, time.time() - t0

    def test_crashloop_reason_and_real_log_lines(self):
        self.pr = 11
        r, secs = self.deploy_failing("crash", "busybox:local", "Never",
                                      '["sh", "-c", "echo boom-from-the-real-pod; exit 3"]')
        print("\n# real cluster: CrashLoopBackOff diagnosed in %.1f s" % secs)
        self.assertEqual(1, r.returncode, r.stderr)
        self.assertIn("CrashLoopBackOff", r.stderr)
        self.assertIn("boom-from-the-real-pod", r.stderr)

    def test_image_pull_failure_reason_and_events(self):
        self.pr = 12
        r, secs = self.deploy_failing("nopull", "registry.invalid/acme/nosuch:1", "IfNotPresent",
                                      '["sh"]')
        print("\n# real cluster: image pull failure diagnosed in %.1f s" % secs)
        self.assertEqual(1, r.returncode, r.stderr)
        self.assertRegex(r.stderr, r"ErrImagePull|ImagePullBackOff")
        self.assertIn("registry.invalid/acme/nosuch:1", r.stderr)


class RealJobTest(RealBase):
    """Jobs run for real: one that exits 0 completes (the deploy is ready),
    one that exits 1 fails the deploy with its real log lines."""
    APP = real_app("rjob")

    def test_job_complete_then_failed_with_logs(self):
        self.config(wait="150s")
        self.delete_at_end(self.ns(21))
        self.delete_at_end(self.ns(22))
        self.template("job.yaml", JOB % {"name": "seed", "script": '"echo seeded; exit 0"'})
        r = self.prenv("deploy", env=env_for(pr=21))
        self.ok(r, "deploy with a job that completes")
        job = self.get("/apis/batch/v1/namespaces/%s/jobs/seed" % self.ns(21))
        self.assertEqual(1, job["status"].get("succeeded"), json.dumps(job["status"]))
        self.template("job.yaml", JOB % {"name": "seed",
                                         "script": '"echo seed-failed-for-real >&2; exit 1"'})
        r = self.prenv("deploy", env=env_for(pr=22))
        self.assertEqual(1, r.returncode, r.stderr)
        self.assertIn("seed-failed-for-real", r.stderr)
        self.assertRegex(r.stderr, r"job/seed|Job")


class RealLeastPrivilegeTest(RealBase):
    """The limited identity can do what prenv does (the other tests of this
    file, run with it) and no more: not read nodes, not grant itself roles,
    not touch cluster-wide objects."""
    APP = real_app("rpriv")

    def test_the_limited_token_is_limited(self):
        tok = limited_token(self.c)
        for method, path, body in (
                ("GET", "/api/v1/nodes", None),
                ("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles",
                 {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                  "metadata": {"name": "prenv-escalate"}, "rules": []}),
                ("GET", "/apis/storage.k8s.io/v1/storageclasses", None)):
            st, _, _ = self.c.api(method, path, body, token=tok)
            self.assertEqual(403, st, "%s %s with the limited token: %d" % (method, path, st))
        # and prenv works with it: list (gc's view) needs namespaces list
        self.c.write_kubeconfig(self.kc, token=tok)
        self.config()
        self.web_templates()
        r = self.prenv("list")
        self.ok(r, "list with the limited token")


if __name__ == "__main__":
    unittest.main()
