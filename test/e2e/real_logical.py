"""Logical environments (issue 13) end to end on the REAL Kubernetes (1.20,
test/k8s-real): the scenario of test_logical.py against the real
kube-apiserver, controllers and kubelet.

  - the baseline `staging` (web, api, db, search: busybox-httpd Deployments
    and Services) is deployed and ready;
  - a PR touching only api/ deploys api, web (its caller) and db (api's
    stateful dependency), ready on the real node; search is an ExternalName
    Service with the baseline's FQDN and the same ports, accepted by the
    real API server (`kubectl get` shows it);
  - a second commit touching search/ only: api and db become aliases, i.e.
    the real 1.20 API server turns ClusterIP Services into ExternalName
    ones through server-side apply (dropTypeDependentFields drops the
    allocated cluster IPs), and the Deployments are pruned;
  - destroy removes the aliases with the namespace; the baseline stays.

Resolution of the alias from a pod (nslookup in a busybox pod) is not
checked: the test cluster has no cluster DNS (test/k8s-real/README.md, "No
cluster DNS"), so no Service name resolves there, aliased or not. The
cluster comes from the environment as in real_k8s_hardening.py; without one
the tests are skipped. Run it (the lead does, with the cluster up):

  eval "$(/usr/bin/python3 test/k8s-real/cluster.py env)"
  PRENV_BIN=build/prenv /usr/bin/python3 test/e2e/run.py real_logical.py
"""
import json
import os
import time

from util import run_prenv
from k8s_e2e import env_for as local_env
from test_logical import deployment, git, service, template, write

import real_k8s_hardening as rh  # the shared cluster and its base class

APP = rh.real_app("rlogic")
SERVICES = ("web", "api", "db", "search")

# busybox-httpd serves / on 8080 (the image test/k8s-real loads)
CONTAINER = {"imagePullPolicy": "Never",
             "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
             "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 2}}


CONFIG = """app: %s
provider:
  kind: kubernetes
  wait: 180s
environments:
  - branch: staging
    name: staging
  - pull_request: true
logical:
  baseline: staging
services:
  web: { templates: deploy/web, paths: ["web/**"], calls: [api, search] }
  api: { templates: deploy/api, paths: ["api/**"], calls: [db] }
  db: { templates: deploy/db, paths: ["db/**"], stateful: true }
  search: { templates: deploy/search, paths: ["search/**"] }
""" % APP


class RealLogicalTest(rh.RealHardeningBase):
    APP = APP

    def setUp(self):
        super().setUp()  # self.dir, self.kc; the PR namespace is deleted at the end
        self.addCleanup(lambda: self.c.api("DELETE", "/api/v1/namespaces/%s-staging" % APP))
        self.repo = os.path.join(self.dir, "repo")
        git("init", "-q", self.repo)
        write(os.path.join(self.repo, ".prenv.yml"), CONFIG)
        for s in SERVICES:
            write(os.path.join(self.repo, "deploy", s, "app.yaml"),
                  template(deployment(s, "busybox-httpd:local", **CONTAINER), service(s, target="http")))
            write(os.path.join(self.repo, s, "main.go"), "package main\n")
        git("add", "-A", cwd=self.repo)
        git("commit", "-q", "-m", "main", cwd=self.repo)
        self.main_sha = git("rev-parse", "HEAD", cwd=self.repo)
        git("checkout", "-q", "-b", "feature", cwd=self.repo)

    def commit(self, path):
        with open(os.path.join(self.repo, path), "a") as f:
            f.write("// changed\n")
        git("commit", "-q", "-am", "change " + path, cwd=self.repo)
        return git("rev-parse", "HEAD", cwd=self.repo)

    def run_pr(self, *args, sha):
        rh.check_app(self, self.repo)
        return run_prenv(["--kubeconfig", self.kc] + list(args), cwd=self.repo, timeout=400,
                         env=local_env(pr="7", branch="feature", sha=sha, PRENV_BASE_BRANCH="main"))

    def deployments(self, ns):
        body = self.get("/apis/apps/v1/namespaces/%s/deployments" % ns)
        return sorted(d["metadata"]["name"] for d in body["items"]
                      if not d["metadata"].get("deletionTimestamp"))

    def assert_alias(self, ns, name):
        svc = self.get("/api/v1/namespaces/%s/services/%s" % (ns, name))
        self.assertIsNotNone(svc, name)
        self.assertEqual("ExternalName", svc["spec"]["type"], json.dumps(svc["spec"]))
        self.assertEqual("%s.%s-staging.svc.cluster.local" % (name, APP), svc["spec"]["externalName"])
        self.assertNotIn("clusterIP", svc["spec"])
        self.assertEqual([("http", 80, "TCP")],
                         [(p.get("name"), p["port"], p["protocol"]) for p in svc["spec"]["ports"]])
        self.assertEqual("true", svc["metadata"]["labels"]["prenv.dev/borrowed"])

    def wait_gone(self, ns, names, seconds=90):
        end = time.time() + seconds
        while time.time() < end and set(names) & set(self.deployments(ns)):
            time.sleep(2)

    def test_real_logical_deploy_alias_flip_destroy(self):
        rh.check_app(self, self.repo)
        r = run_prenv(["--kubeconfig", self.kc, "deploy"], cwd=self.repo, timeout=400,
                      env=local_env(pr="", branch="staging", sha=self.main_sha))
        self.ok(r, "baseline deploy")
        self.assertEqual(sorted(SERVICES), self.deployments(APP + "-staging"))
        head = self.commit("api/main.go")
        t0 = time.time()
        r = self.run_pr("deploy", sha=head)
        self.ok(r, "logical deploy")
        print("\n# real cluster: logical deploy (api, web, db; search borrowed) ready in %.1f s"
              % (time.time() - t0))
        ns = self.ns()
        self.assertEqual(["api", "db", "web"], self.deployments(ns))
        self.assert_alias(ns, "search")
        out = self.c.kubectl("get", "service", "search", "-n", ns, "-o",
                             "jsonpath={.spec.type} {.spec.externalName}")
        self.assertEqual(0, out.returncode, out.stderr)
        self.assertEqual("ExternalName search.%s-staging.svc.cluster.local" % APP, out.stdout)
        nsobj = self.get("/api/v1/namespaces/" + ns)
        self.assertEqual("staging", nsobj["metadata"]["labels"]["prenv.dev/baseline"])
        # search changed instead: api and db turn into aliases on the real API server
        git("reset", "-q", "--hard", self.main_sha, cwd=self.repo)
        head = self.commit("search/main.go")
        r = self.run_pr("deploy", sha=head)
        self.ok(r, "logical deploy, search changed")
        self.wait_gone(ns, ("api", "db"))
        self.assertEqual(["search", "web"], self.deployments(ns))
        self.assert_alias(ns, "api")
        self.assert_alias(ns, "db")
        r = self.run_pr("destroy", sha=head)
        self.ok(r, "destroy")
        svc = self.get("/api/v1/namespaces/%s/services/api" % ns)
        self.assertTrue(svc is None or svc["metadata"].get("deletionTimestamp"), json.dumps(svc))
        self.assertEqual(sorted(SERVICES), self.deployments(APP + "-staging"))
