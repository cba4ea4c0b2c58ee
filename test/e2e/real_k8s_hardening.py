"""End to end on a REAL Kubernetes (1.20, test/k8s-real): the hardening of
the kubernetes provider (issues 10 and 16) against the real kube-apiserver,
controllers and kubelet.

  - a user's copy of templates/web without `protocol:` deploys (1.20's
    server-side apply needs it on Service ports: prenv fills in TCP), and
    the shipped templates/web deploys (issue 16 #2);
  - a changed Job: the real 422 is reported once, at the template's line,
    without the Go dump, with the hint; provider.replace_jobs recreates it
    and it completes (issue 16 #3);
  - a redeploy right after `destroy --no-wait` waits for the real namespace
    deletion (6-90 s on 1.20) and creates the namespace anew (issue 16 #8);
  - nothing is written before every kind is known and namespaced (issue 10
    #8, #11); another repository's environment is refused (issue 10 #10);
  - an exec plugin that answers with a client certificate (issue 10 #1);
  - with the GitHub test server to report to, those refusals come before the
    pull request hears of the deploy: no comment, no deployment status
    (the provider's precheck).

The cluster comes from the environment: PRENV_K8S_REAL_RUN (the run
directory, as test/run-tests.sh sets it) or PRENV_K8S_REAL_KUBECONFIG (its
kubeconfig, in the run directory: `eval "$(test/k8s-real/cluster.py env)"`).
Without one the tests are skipped. Every class uses its own app (APP), so
its own namespaces; RealHardeningBase can be reused. prenv runs with the
cluster admin's token, or with PRENV_K8S_REAL_IDENTITY=limited with the
least-privilege token of templates/rbac (the exec-plugin test: the admin's
client certificate); the test's own reads are the admin's."""
import base64
import json
import os
import random
import re
import shutil
import sys
import time
import unittest

from util import ROOT, run_prenv, tmpdir
from k8s_e2e import JOB, cert_plugin_user, config_text, copy_web, env_for as local_env, job_values

sys.path.insert(0, os.path.join(ROOT, "test", "k8s-real"))
sys.path.insert(0, os.path.join(ROOT, "test", "servers"))
from cluster import RealCluster  # noqa: E402
from codehost import start_github  # noqa: E402

RUN = os.environ.get("PRENV_K8S_REAL_RUN") or (
    os.path.dirname(os.environ["PRENV_K8S_REAL_KUBECONFIG"]) if os.environ.get("PRENV_K8S_REAL_KUBECONFIG")
    else None)
SHA = "d" * 40
# make check runs the real tests twice on the one cluster, at once on more
# than 2 CPUs (test/run-tests.sh REAL_AT_ONCE): the plain binary as the
# cluster admin, the ASan one with PRENV_K8S_REAL_IDENTITY=limited. Every
# app name of the second run ends in "l", so the two runs' namespaces (and
# what they contain) never meet.
LIMITED = os.environ.get("PRENV_K8S_REAL_IDENTITY") == "limited"


def real_app(name):
    return name + ("l" if LIMITED else "")


def check_app(tc, app_dir):
    """The app the run's .prenv.yml names is the test's APP (real_app):
    one left as written would reach into the other run's namespaces."""
    p = os.path.join(app_dir, ".prenv.yml")
    if os.path.exists(p):
        with open(p) as f:
            m = re.search(r"^app: *(\S+)", f.read(), re.M)
        tc.assertEqual(tc.APP, m.group(1) if m else None, "%s names another app than the test's" % p)


CONFIGMAP = """apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  greeting: hello
"""


_cluster = None


def cluster():
    global _cluster
    if _cluster is None and RUN:
        _cluster = RealCluster.attach(RUN)
    return _cluster


_limited_token = None


def limited_token(c):
    """The token of prenv-system/prenv-ci after applying templates/rbac (as
    the admin), once per process."""
    global _limited_token
    if _limited_token:
        return _limited_token
    # the other run may apply it at the same moment: kubectl's create of an
    # object the other has just created fails (AlreadyExists); again, it
    # finds it and patches it
    for _ in range(3):
        r = c.kubectl("apply", "-f", os.path.join(ROOT, "templates", "rbac"))
        if r.returncode == 0:
            break
    if r.returncode != 0:
        raise AssertionError("kubectl apply -f templates/rbac: " + r.stderr)
    deadline = time.time() + 60
    while time.time() < deadline:
        st, _, sa = c.api("GET", "/api/v1/namespaces/prenv-system/serviceaccounts/prenv-ci")
        secrets = (sa or {}).get("secrets") or [] if st == 200 else []
        if secrets:
            st, _, sec = c.api("GET", "/api/v1/namespaces/prenv-system/secrets/" + secrets[0]["name"])
            if st == 200 and sec.get("data", {}).get("token"):
                _limited_token = base64.b64decode(sec["data"]["token"]).decode()
                return _limited_token
        time.sleep(0.5)
    raise AssertionError("no token for prenv-system/prenv-ci after 60 s")


def env_for(pr=7, sha=SHA, repo="acme/shop", **extra):
    return local_env(pr=str(pr), repo=repo, sha=sha, branch="feature/h", **extra)


@unittest.skipUnless(RUN, "no real cluster (set PRENV_K8S_REAL_RUN or PRENV_K8S_REAL_KUBECONFIG)")
class RealHardeningBase(unittest.TestCase):
    APP = real_app("rhard")
    PR = 7

    @classmethod
    def setUpClass(cls):
        cls.c = cluster()
        if cls.c is None:
            raise unittest.SkipTest("the real cluster in %s is not running" % RUN)

    def setUp(self):
        self.dir = tmpdir(self)
        self.kc = os.path.join(self.dir, "kubeconfig")
        # with PRENV_K8S_REAL_IDENTITY=limited, templates/rbac's least privilege
        self.c.write_kubeconfig(self.kc, token=limited_token(self.c) if LIMITED else None)
        self.app = os.path.join(self.dir, "app")
        os.makedirs(os.path.join(self.app, "tpl"))
        self.addCleanup(self.cleanup_namespace)

    def cleanup_namespace(self):
        # leave nothing behind on the shared cluster (not waited for)
        self.c.api("DELETE", "/api/v1/namespaces/" + self.ns())

    def config(self, image="busybox-httpd:local", wait="150s", extra="", script="echo migrated"):
        with open(os.path.join(self.app, ".prenv.yml"), "w") as f:
            f.write(config_text(app=self.APP, image=image, wait=wait, provider_extra=extra,
                                values_extra=job_values("busybox:local", script)))

    def template(self, name, text):
        with open(os.path.join(self.app, "tpl", name), "w") as f:
            f.write(text)

    def web_templates(self, strip_protocol=False):
        tpl = os.path.join(self.app, "tpl")
        shutil.rmtree(tpl)
        copy_web(tpl, strip_protocol)

    def prenv(self, *args, env=None, timeout=300):
        check_app(self, self.app)
        return run_prenv(["--kubeconfig", self.kc] + list(args), env=env or env_for(pr=self.PR),
                         cwd=self.app, timeout=timeout)

    def ns(self):
        return "%s-pr-%d" % (self.APP, self.PR)

    def get(self, path):
        st, _, body = self.c.api("GET", path)
        return body if st == 200 else None

    def ok(self, r, what, code=0):
        self.assertEqual(code, r.returncode, "%s: exit %d\nstdout:\n%s\nstderr:\n%s"
                         % (what, r.returncode, r.stdout, r.stderr))


class RealProtocolTest(RealHardeningBase):
    APP = real_app("rproto")

    def test_web_without_protocol_deploys_on_1_20(self):
        self.config()
        self.web_templates(strip_protocol=True)
        t0 = time.time()
        r = self.prenv("deploy")
        self.ok(r, "deploy of templates/web without protocol")
        print("\n# real cluster: templates/web without protocol ready in %.1f s" % (time.time() - t0))
        svc = self.get("/api/v1/namespaces/%s/services/%s" % (self.ns(), self.APP))
        self.assertEqual("TCP", svc["spec"]["ports"][0]["protocol"])
        # the shipped templates (which say protocol: TCP) apply over it unchanged
        self.web_templates()
        self.ok(self.prenv("deploy"), "deploy of templates/web as shipped")


class RealJobTest(RealHardeningBase):
    APP = real_app("rjobs")

    def job(self):
        return self.get("/apis/batch/v1/namespaces/%s/jobs/migrate" % self.ns())

    def test_changed_job_error_then_replace_jobs(self):
        self.config(script="echo one")
        self.template("job.yaml", JOB)
        self.ok(self.prenv("deploy"), "deploy with a Job")
        uid = self.job()["metadata"]["uid"]
        self.config(script="echo two")
        r = self.prenv("deploy")
        self.ok(r, "deploy of a changed Job", 1)
        errors = [line for line in r.stderr.splitlines() if line.startswith("prenv: error:")]
        self.assertEqual(1, len(errors), r.stderr)
        self.assertIn("tpl/job.yaml:2: job/migrate: the API server refused it (HTTP 422 Invalid: "
                      "spec.template: field is immutable); a Job's pod template cannot change", errors[0])
        self.assertNotIn("PodTemplateSpec", r.stderr + r.stdout)
        print("\n# real cluster: %s" % errors[0])
        # let prenv replace it
        self.config(script="echo two", extra="  replace_jobs: true\n")
        r = self.prenv("deploy")
        self.ok(r, "deploy with replace_jobs")
        self.assertIn("deleted and created anew (provider.replace_jobs)", r.stderr)
        self.assertIn("job/migrate complete", r.stderr)
        job = self.job()
        self.assertNotEqual(uid, job["metadata"]["uid"])
        self.assertEqual(1, job["status"].get("succeeded"), json.dumps(job["status"]))


class RealTerminatingTest(RealHardeningBase):
    APP = real_app("rterm")

    def test_redeploy_right_after_destroy_waits_and_recreates(self):
        self.config()
        self.web_templates()
        self.ok(self.prenv("deploy"), "deploy")
        uid = self.get("/api/v1/namespaces/" + self.ns())["metadata"]["uid"]
        r = self.prenv("destroy", "--no-wait")
        self.ok(r, "destroy --no-wait")
        self.assertIn("deletion started", r.stderr)
        t0 = time.time()
        r = self.prenv("deploy")
        self.ok(r, "redeploy right after the destroy")
        took = time.time() - t0
        ns = self.get("/api/v1/namespaces/" + self.ns())
        self.assertNotEqual(uid, ns["metadata"]["uid"])
        if "being deleted" in r.stderr:
            print("\n# real cluster: redeploy waited for the old namespace to go, ready in %.1f s" % took)
        else:  # the real deletion was faster than prenv's start: nothing to wait for
            print("\n# real cluster: the namespace was gone before the redeploy looked (%.1f s)" % took)
        t0 = time.time()
        r = self.prenv("destroy")
        self.ok(r, "destroy (waits)")
        self.assertIn("is gone", r.stderr)
        self.assertIsNone(self.get("/api/v1/namespaces/" + self.ns()))
        print("# real cluster: destroy waited %.1f s for the namespace to go" % (time.time() - t0))


class RealGuardTest(RealHardeningBase):
    APP = real_app("rguard")

    def test_unknown_and_cluster_scoped_kinds_change_nothing(self):
        self.PR = 8  # not the namespace another test of this class may still be deleting
        self.config()
        self.template("cm.yaml", CONFIGMAP)
        for name, text, want in (
                ("thing.yaml", "apiVersion: nosuch.io/v9\nkind: Thing\nmetadata:\n  name: t\n",
                 "does not serve kind Thing of apiVersion nosuch.io/v9"),
                ("rbac.yaml", "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n"
                              "  name: rguard-reader\nrules: []\n", "cluster-scoped")):
            self.template(name, text)
            r = self.prenv("deploy")
            self.ok(r, "deploy with " + name, 2)
            self.assertIn(name + ":1", r.stderr)
            self.assertIn(want, r.stderr)
            self.assertIsNone(self.get("/api/v1/namespaces/" + self.ns()), name)
            os.remove(os.path.join(self.app, "tpl", name))
        self.assertIsNone(self.get("/apis/rbac.authorization.k8s.io/v1/clusterroles/rguard-reader"))

    def test_other_repository_refused(self):
        self.config()
        self.template("cm.yaml", CONFIGMAP)
        self.ok(self.prenv("deploy", env=env_for(pr=self.PR, repo="acme/shop")), "deploy")
        r = self.prenv("deploy", env=env_for(pr=self.PR, repo="evil/shop"))
        self.ok(r, "deploy from another repository", 3)
        self.assertIn("belongs to repository acme/shop", r.stderr)
        r = self.prenv("destroy", env=env_for(pr=self.PR, repo="evil/shop"))
        self.ok(r, "destroy from another repository", 3)
        self.assertNotIn("deletionTimestamp", self.get("/api/v1/namespaces/" + self.ns())["metadata"])


class RealRefusalSaysNothingTest(RealHardeningBase):
    APP = real_app("rquiet")

    def test_refused_deploys_write_nothing_to_the_pull_request(self):
        # a PR number of its own: the last run's namespace may still be terminating
        self.PR = random.randrange(1000, 100000)
        gh = start_github(self.dir, tokens={"ghs_bot": "github-actions[bot]:write"})
        self.addCleanup(gh.stop)
        for repo in ("acme/shop", "evil/shop"):
            gh.seed({"repo": repo, "pulls": [{"number": self.PR, "head_sha": SHA, "head_ref": "feature/h",
                                              "base_ref": "main", "state": "open", "user": "alice"}]})

        def env(repo="acme/shop"):
            return env_for(pr=self.PR, repo=repo, PRENV_API_URL=gh.url, PRENV_HOST="github",
                           GITHUB_TOKEN="ghs_bot", PRENV_HTTP_SLEEP_SCALE="0.01")

        def writes():
            return [(q["method"], q["path"]) for q in gh.requests()
                    if q["method"] in ("POST", "PATCH", "PUT", "DELETE")]

        self.config()
        self.template("thing.yaml", "apiVersion: nosuch.io/v9\nkind: Thing\nmetadata:\n  name: t\n")
        r = self.prenv("deploy", env=env())
        self.ok(r, "deploy with an unknown kind", 2)
        self.assertIn("does not serve kind Thing of apiVersion nosuch.io/v9", r.stderr)
        self.assertEqual([], writes(), "exit 2, yet the pull request was written to")
        self.assertIsNone(self.get("/api/v1/namespaces/" + self.ns()))
        # the control: without it the deploy is reported
        os.remove(os.path.join(self.app, "tpl", "thing.yaml"))
        self.template("cm.yaml", CONFIGMAP)
        self.ok(self.prenv("deploy", env=env()), "deploy")
        self.assertIn(("POST", "/repos/acme/shop/issues/%d/comments" % self.PR), writes())
        gh.clear_requests()
        r = self.prenv("deploy", env=env("evil/shop"))
        self.ok(r, "deploy from another repository", 3)
        self.assertIn("belongs to repository acme/shop", r.stderr)
        self.assertEqual([], writes(), "exit 3, yet a pull request was written to")


class RealExecCertTest(RealHardeningBase):
    APP = real_app("rexec")

    def test_exec_plugin_client_certificate(self):
        self.config()
        self.template("cm.yaml", CONFIGMAP)
        certs = self.c.certs
        with open(self.c.ca, "rb") as f:
            ca = base64.b64encode(f.read()).decode()
        cfg = {"apiVersion": "v1", "kind": "Config", "current-context": "r",
               "clusters": [{"name": "r", "cluster": {"server": self.c.url, "certificate-authority-data": ca}}],
               "users": [{"name": "u", "user": cert_plugin_user(self.dir, os.path.join(certs, "client.crt"),
                                                                os.path.join(certs, "client.key"))}],
               "contexts": [{"name": "r", "context": {"cluster": "r", "user": "u"}}]}
        with open(self.kc, "w") as f:
            json.dump(cfg, f)
        r = self.prenv("deploy")
        self.ok(r, "deploy with an exec plugin's client certificate")
        self.assertIsNotNone(self.get("/api/v1/namespaces/%s/configmaps/settings" % self.ns()))


if __name__ == "__main__":
    unittest.main()
