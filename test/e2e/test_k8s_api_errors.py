"""End to end: server-side-apply quirks of real clusters and errors from the
API server, against test/servers/k8s_server.py (which answers as a real
1.20 kube-apiserver does in these cases; the bodies were recorded from the
real cluster of test/k8s-real).

  - Kubernetes < 1.21 refuses (HTTP 500, kubernetes#98576) a Service port
    without `protocol` under server-side apply; prenv sets the API's own
    default (TCP) on Service and container ports, so a template without it
    deploys (issue 16 #2);
  - an error the API server returns for an object names the template file
    and line, once, without the Go struct dump of the object, with a hint
    for the known case of a Job's immutable pod template; with
    provider.replace_jobs a Job whose spec changed is deleted and created
    anew, and the log says so (issue 16 #3).
"""
import os
import unittest

from util import ROOT
from k8s_e2e import JOB, ServerCase, config_text, env_for, job_values, make_app

NS = "shop-pr-9"



class ApiBase(ServerCase):
    SERVER_ARGS = ["--ready-delay", "0.3", "--terminate-delay", "0.3", "--k8s-version", "1.20.2"]

    def config(self, extra="", cmd="echo migrated"):
        return config_text(provider_extra=extra, values_extra=job_values("ghcr.io/acme/shop:1", cmd))

    def app(self, extra="", cmd="echo migrated", files=None, strip_protocol=False):
        return make_app(self, self.config(extra, cmd), files, strip_protocol)

    def write_config(self, d, extra="", cmd="echo migrated"):
        with open(os.path.join(d, ".prenv.yml"), "w") as f:
            f.write(self.config(extra, cmd))

    def deploy(self, app):
        return self.prenv(app, "deploy", env=env_for(pr="9", sha="b" * 40))


class K8sSsaQuirkTest(ApiBase, unittest.TestCase):
    def test_server_refuses_service_port_without_protocol_like_1_20(self):
        # the quirk itself, as the real 1.20.2 apiserver answers it
        st, _, body = self.srv.api("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                                 "metadata": {"name": "q"}})
        self.assertEqual(201, st, body)
        svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "q"},
               "spec": {"selector": {"a": "b"}, "ports": [{"port": 80, "targetPort": 8080}]}}
        st, _, body = self.srv.api("PATCH", "/api/v1/namespaces/q/services/s?fieldManager=x&force=true",
                                   svc, content_type="application/apply-patch+yaml")
        self.assertEqual(500, st)
        self.assertEqual({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                          "message": "failed to create typed patch object: .spec.ports: element 0: "
                                     "associative list with keys has an element that omits key field "
                                     "\"protocol\" (and doesn't have default value)", "code": 500}, body)

    def test_template_without_protocol_deploys_on_1_20(self):
        app = self.app(strip_protocol=True)
        r = self.deploy(app)
        self.check(r)
        svc = self.get("/api/v1/namespaces/%s/services/shop" % NS)
        self.assertEqual("TCP", svc["spec"]["ports"][0]["protocol"])

    def test_starter_templates_say_protocol(self):
        for name in ("service.yaml", "deployment.yaml"):
            with open(os.path.join(ROOT, "templates", "web", name)) as f:
                self.assertIn("protocol: TCP", f.read(), name)


class K8sApiErrorTest(ApiBase, unittest.TestCase):
    def job(self):
        return self.get("/apis/batch/v1/namespaces/%s/jobs/migrate" % NS)

    def test_immutable_job_names_template_once_with_hint(self):
        app = self.app(files={"job.yaml": JOB})
        self.check(self.deploy(app))
        uid = self.job()["metadata"]["uid"]
        self.write_config(app, cmd="echo again")
        r = self.deploy(app)
        self.check(r, 1)
        errors = [line for line in r.stderr.splitlines() if line.startswith("prenv: error:")]
        self.assertEqual(1, len([e for e in errors if "immutable" in e]),
                         "the API error is not printed exactly once:\n" + r.stderr)
        err = [e for e in errors if "immutable" in e][0]
        self.assertIn("job.yaml:2: job/migrate: ", err)
        self.assertIn("HTTP 422", err)
        self.assertIn("spec.template: field is immutable", err)
        self.assertIn("{{git.short_sha}}", err)
        self.assertIn("replace_jobs", err)
        # the Go struct dump of the object is not something a human needs
        self.assertNotIn("PodTemplateSpec", r.stderr + r.stdout)
        self.assertNotIn("ObjectMeta", r.stderr + r.stdout)
        self.assertEqual(uid, self.job()["metadata"]["uid"])
        # the report (here: the comment a local run shows) names the template too
        self.assertIn("**Reason:** ./tpl/job.yaml:2: job/migrate: the API server refused it", r.stderr)

    def test_replace_jobs_recreates_a_changed_job(self):
        app = self.app(files={"job.yaml": JOB}, extra="  replace_jobs: true\n")
        r = self.deploy(app)
        self.check(r)
        self.assertNotIn("created anew", r.stderr)
        uid = self.job()["metadata"]["uid"]
        # unchanged: applied in place, not replaced
        r = self.deploy(app)
        self.check(r)
        self.assertNotIn("created anew", r.stderr)
        self.assertEqual(uid, self.job()["metadata"]["uid"])
        self.write_config(app, extra="  replace_jobs: true\n", cmd="echo again")
        r = self.deploy(app)
        self.check(r)
        self.assertIn("job/migrate: its pod template changed, and a Job cannot be changed in place: "
                      "deleted and created anew (provider.replace_jobs)", r.stderr)
        self.assertIn("job/migrate complete", r.stderr)
        job = self.job()
        self.assertNotEqual(uid, job["metadata"]["uid"])
        self.assertEqual(["sh", "-c", "echo again"], job["spec"]["template"]["spec"]["containers"][0]["command"])


if __name__ == "__main__":
    unittest.main()
