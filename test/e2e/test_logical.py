"""Logical environments (`logical:`, issue 13) end to end on a scripted git
history and the Kubernetes test API server (test/servers/k8s_server.py
through k8s_harness.py), checked through the API and with the real
`kubectl`.

The product of the issue: web -> api -> db (stateful), and search and
worker beside them. The baseline `staging` is deployed first (a full copy:
it is the baseline). A pull request that touches only api/ deploys api, web
(its caller) and db (api's stateful dependency); search and worker are
borrowed: ExternalName Services with the baseline's FQDN and the same
ports. A change under deploy/common/ deploys everything; a missing baseline
is exit 2 with nothing written; destroy removes the aliases with the
namespace."""
import json
import os
import subprocess
import sys
import unittest

from util import ROOT
from k8s_e2e import ServerCase, env_for

sys.path.insert(0, os.path.join(ROOT, "test", "servers"))
from codehost import start_github  # noqa: E402
from test_k8s_deploy import KUBECTL, kubectl_args

SERVICES = ("web", "api", "db", "search", "worker")

def deployment(name, image, **container):
    """A Deployment of one container (JSON: YAML's flow style, one line)."""
    c = dict(name=name, image=image, **container)
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [c]}}}}


def service(name, ports=(("http", 80),), target=8080):
    """A Service selecting the Deployment's pods; ports: (name, port)."""
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": name},
                     "ports": [{"name": n, "port": p, "targetPort": target if p == 80 else p,
                                "protocol": "TCP"} for n, p in ports]}}


def template(*objs):
    """The text of a template file holding objs, one document each."""
    return "---\n".join(json.dumps(o) + "\n" for o in objs)


INGRESS = """apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
spec:
  rules:
    - host: "{{env.name}}.preview.example.com"
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service: {name: %s, port: {number: 80}}
"""

CONFIG = """app: shop
provider:
  kind: kubernetes
  wait: 30s
environments:
  - branch: staging
    name: staging
    kind: staging
  - pull_request: true
%(rule_extra)slogical:
  baseline: staging
services:
  web: { templates: deploy/web, paths: ["web/**"], calls: [api, search] }
  api: { templates: deploy/api, paths: ["api/**", "proto/**"], calls: [db] }
  db: { templates: deploy/db, paths: ["db/**"], stateful: true }
  search: { templates: deploy/search, paths: ["search/**"] }
  worker: { templates: deploy/worker, paths: ["worker/**"], calls: [db] }
shared_paths: ["deploy/common/**"]
"""


def git(*args, cwd=None):
    return subprocess.run(["git", "-c", "user.name=T", "-c", "user.email=t@example.com",
                           "-c", "init.defaultBranch=main"] + list(args), cwd=cwd, check=True,
                          capture_output=True, text=True).stdout.strip()


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


class LogicalCase(ServerCase, unittest.TestCase):
    def setUp(self):
        super().setUp()
        self.repo = os.path.join(self.dir, "repo")
        self.checkout(CONFIG % {"rule_extra": ""})

    def checkout(self, config, ingress_to="web"):
        """main: the config, deploy/<svc>/ for each service, a source file per
        service; then the branch feature checked out."""
        os.makedirs(self.repo)
        git("init", "-q", self.repo)
        write(os.path.join(self.repo, ".prenv.yml"), config)
        for s in SERVICES:
            ports = (("http", 80), ("grpc", 9090)) if s == "api" else (("http", 80),)
            write(os.path.join(self.repo, "deploy", s, "app.yaml"),
                  template(deployment(s, "ghcr.io/acme/%s:{{service.short_sha}}" % s),
                           service(s, ports)))
            write(os.path.join(self.repo, s, "main.go"), "package main // %s\n" % s)
        write(os.path.join(self.repo, "deploy", "web", "ingress.yaml"), INGRESS % ingress_to)
        write(os.path.join(self.repo, "deploy", "common", "labels.yaml"), "# shared\n")
        write(os.path.join(self.repo, "README.md"), "shop\n")
        git("add", "-A", cwd=self.repo)
        git("commit", "-q", "-m", "main", cwd=self.repo)
        self.main_sha = git("rev-parse", "HEAD", cwd=self.repo)
        git("checkout", "-q", "-b", "feature", cwd=self.repo)

    def commit(self, path, text="// changed\n"):
        with open(os.path.join(self.repo, path), "a") as f:
            f.write(text)
        git("add", "-A", cwd=self.repo)
        git("commit", "-q", "-m", "change " + path, cwd=self.repo)
        return git("rev-parse", "HEAD", cwd=self.repo)

    def deploy_baseline(self):
        r = self.prenv(self.repo, "deploy", env=env_for(pr="", branch="staging", sha=self.main_sha))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("logical: this is the baseline environment: a full copy", r.stderr)
        return r

    def pr(self, *args, sha):
        return self.prenv(self.repo, *args, env=env_for(pr="7", branch="feature", sha=sha,
                                                        PRENV_BASE_BRANCH="main"))

    def names(self, ns, plural, group="api/v1"):
        st, _, body = self.srv.api("GET", "/%s/namespaces/%s/%s" % (group, ns, plural))
        self.assertEqual(st, 200, body)
        return sorted(i["metadata"]["name"] for i in body["items"])

    def service(self, ns, name):
        st, _, body = self.srv.api("GET", "/api/v1/namespaces/%s/services/%s" % (ns, name))
        return body if st == 200 else None

    def kubectl(self, *args):
        r = subprocess.run([KUBECTL, "--kubeconfig", self.kc] + kubectl_args(args),
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def assert_alias(self, ns, name, ports):
        svc = self.service(ns, name)
        self.assertIsNotNone(svc, "service %s missing in %s" % (name, ns))
        self.assertEqual(svc["spec"]["type"], "ExternalName")
        self.assertEqual(svc["spec"]["externalName"], "%s.shop-staging.svc.cluster.local" % name)
        self.assertNotIn("clusterIP", svc["spec"])
        self.assertEqual([(p.get("name"), p["port"], p.get("protocol")) for p in svc["spec"]["ports"]],
                         ports)
        labels = svc["metadata"]["labels"]
        self.assertEqual(labels.get("prenv.dev/borrowed"), "true")
        self.assertEqual(labels.get("prenv.dev/service"), name)
        self.assertEqual(labels.get("prenv.dev/env"), "pr-7")
        self.assertEqual(labels.get("app.kubernetes.io/managed-by"), "prenv")

    def test_a_pr_touching_api_deploys_api_its_caller_and_its_database_and_borrows_the_rest(self):
        self.deploy_baseline()
        self.assertEqual(self.names("shop-staging", "deployments", "apis/apps/v1"), sorted(SERVICES))
        head = self.commit("api/main.go")
        r = self.pr("-o", "json", "deploy", sha=head)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("logical: api deployed: changed (api/main.go matches api/**)", r.stderr)
        self.assertIn("logical: web deployed: calls api", r.stderr)
        self.assertIn("logical: db deployed: stateful, called by api", r.stderr)
        self.assertIn("logical: search borrowed from staging (namespace shop-staging)", r.stderr)
        self.assertIn("2 Service(s) of the borrowed services made ExternalName aliases of namespace "
                      "shop-staging", r.stderr)
        # the PR comment (printed: a local run has no code host)
        self.assertIn("| api | deployed | changed (api/main.go matches api/\\*\\*) |", r.stderr)
        self.assertIn("| worker | borrowed | borrowed from staging (namespace shop-staging) |", r.stderr)
        ns = "shop-pr-7"
        self.assertEqual(self.names(ns, "deployments", "apis/apps/v1"), ["api", "db", "web"])
        for s in ("web", "api", "db"):
            self.assertEqual(self.service(ns, s)["spec"]["type"], "ClusterIP")
        self.assert_alias(ns, "search", [("http", 80, "TCP")])
        self.assert_alias(ns, "worker", [("http", 80, "TCP")])
        st, _, nsobj = self.srv.api("GET", "/api/v1/namespaces/" + ns)
        self.assertEqual(nsobj["metadata"]["labels"]["prenv.dev/baseline"], "staging")
        summary = json.loads(nsobj["metadata"]["annotations"]["prenv.dev/logical"])
        self.assertEqual(summary["baseline_namespace"], "shop-staging")
        self.assertEqual({s["name"]: s["deployed"] for s in summary["services"]},
                         {"web": True, "api": True, "db": True, "search": False, "worker": False})
        # the result on stdout: each service deployed or borrowed, and why
        out = {s["name"]: (s["logical"], s["logical_why"]) for s in json.loads(r.stdout)["services"]}
        self.assertEqual(out["web"], ("deployed", "calls api"))
        self.assertEqual(out["worker"][0], "borrowed")
        # status -o json reads it back from the namespace
        st = self.pr("-o", "json", "status", sha=head)
        self.assertEqual(st.returncode, 0, st.stderr)
        self.assertEqual(json.loads(st.stdout)["details"]["logical"]["baseline"], "staging")
        if KUBECTL:
            got = self.kubectl("get", "deployments", "-n", ns, "-o", "name").split()
            self.assertEqual(sorted(got), ["deployment.apps/api", "deployment.apps/db",
                                           "deployment.apps/web"])
            line = self.kubectl("get", "service", "worker", "-n", ns, "-o",
                                "jsonpath={.spec.type} {.spec.externalName} {.spec.ports[0].port}")
            self.assertEqual(line, "ExternalName worker.shop-staging.svc.cluster.local 80")

    def test_context_prints_the_set_and_why(self):
        head = self.commit("api/main.go")
        r = self.pr("context", sha=head)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("service      api: deployed, changed (api/main.go matches api/**)\n", r.stdout)
        self.assertIn("service      web: deployed, calls api\n", r.stdout)
        self.assertIn("service      search: borrowed from staging (namespace shop-staging)\n", r.stdout)
        j = json.loads(self.pr("-o", "json", "context", sha=head).stdout)
        self.assertEqual([s["name"] for s in j["logical"]["services"] if s["deployed"]], ["web", "api", "db"])
        self.assertEqual(j["logical"]["merge_base"], self.main_sha)
        # no request to the cluster: context needs none
        self.assertEqual(self.srv.admin("GET", "/_test/requests")["total"], 0)

    def test_render_prints_the_deployed_services_only(self):
        head = self.commit("api/main.go")
        r = self.pr("render", sha=head)
        self.assertEqual(r.returncode, 0, r.stderr)
        docs = [d for d in r.stdout.split("\n---") if "kind:" in d]
        kinds = sorted("%s/%s" % (d.split("kind: ")[1].split()[0], d.split("name: ")[1].split()[0])
                       for d in docs)
        self.assertEqual(kinds, ["Deployment/api", "Deployment/db", "Deployment/web", "Ingress/web",
                                 "Service/api", "Service/db", "Service/web"])
        self.assertIn("logical: worker borrowed from staging", r.stderr)
        self.assertEqual(self.srv.admin("GET", "/_test/requests")["total"], 0)

    def test_logical_with_another_provider_is_exit_2(self):
        cfg = os.path.join(self.repo, ".prenv.yml")
        with open(cfg) as f:
            text = f.read().replace("  kind: kubernetes\n  wait: 30s\n",
                                    "  kind: command\n  deploy: [\"true\"]\n")
        with open(cfg, "w") as f:
            f.write(text)
        head = self.commit("api/main.go")
        r = self.pr("deploy", sha=head)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(".prenv.yml:10:1: 'logical' needs provider.kind kubernetes: provider command", r.stderr)

    def test_a_change_no_service_owns_borrows_everything(self):
        self.deploy_baseline()
        self.srv.api("PATCH", "/api/v1/namespaces/shop-staging",
                     {"metadata": {"annotations": {"prenv.dev/asleep-since": "2026-12-01T00:00:00Z"}}},
                     content_type="application/merge-patch+json")
        head = self.commit("README.md")
        r = self.pr("deploy", sha=head)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("the change touches no service's paths: every service is borrowed from staging",
                      r.stderr)
        self.assertIn("the baseline staging is asleep (since 2026-12-01T00:00:00Z)", r.stderr)
        self.assertEqual(self.names("shop-pr-7", "deployments", "apis/apps/v1"), [])
        for s in SERVICES:
            self.assert_alias("shop-pr-7", s, [("http", 80, "TCP"), ("grpc", 9090, "TCP")] if s == "api"
                              else [("http", 80, "TCP")])

    def test_the_aliases_keep_every_port(self):
        self.deploy_baseline()
        head = self.commit("db/main.go")  # db changed: db, api, web, worker deployed
        r = self.pr("deploy", sha=head)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.names("shop-pr-7", "deployments", "apis/apps/v1"),
                         ["api", "db", "web", "worker"])
        self.assert_alias("shop-pr-7", "search", [("http", 80, "TCP")])
        # and api borrowed with both its ports, when only search changes
        git("reset", "-q", "--hard", self.main_sha, cwd=self.repo)
        head = self.commit("search/main.go")
        r = self.pr("deploy", sha=head)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.names("shop-pr-7", "deployments", "apis/apps/v1"), ["search", "web"])
        self.assert_alias("shop-pr-7", "api", [("http", 80, "TCP"), ("grpc", 9090, "TCP")])
        self.assert_alias("shop-pr-7", "db", [("http", 80, "TCP")])

    def test_a_shared_path_deploys_everything_and_turns_the_aliases_back_into_services(self):
        self.deploy_baseline()
        head = self.commit("api/main.go")
        self.assertEqual(self.pr("deploy", sha=head).returncode, 0)
        self.assertEqual(self.service("shop-pr-7", "search")["spec"]["type"], "ExternalName")
        head = self.commit("deploy/common/labels.yaml", "# more\n")
        r = self.pr("deploy", sha=head)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("logical: every service is deployed: deploy/common/labels.yaml matches shared "
                      "path deploy/common/**", r.stderr)
        self.assertNotIn("borrowed from", r.stderr)
        self.assertEqual(self.names("shop-pr-7", "deployments", "apis/apps/v1"), sorted(SERVICES))
        for s in SERVICES:
            svc = self.service("shop-pr-7", s)
            self.assertEqual(svc["spec"]["type"], "ClusterIP", s)
            self.assertNotIn("externalName", svc["spec"])
            self.assertNotIn("prenv.dev/borrowed", svc["metadata"]["labels"])

    def test_a_missing_baseline_is_exit_2_and_nothing_is_written(self):
        head = self.commit("api/main.go")
        r = self.pr("deploy", sha=head)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("the baseline environment staging (namespace shop-staging) does not exist",
                      r.stderr)
        self.assertIn("nothing was changed", r.stderr)
        st, _, _ = self.srv.api("GET", "/api/v1/namespaces/shop-pr-7")
        self.assertEqual(st, 404)

    def test_a_missing_baseline_is_not_reported_as_a_deploy(self):
        # with a code host to report to: refused before the pull request
        # hears of a deploy (exit 2 promises nothing was changed, the PR
        # included); the control deploy after the baseline is reported
        gh = start_github(self.dir, tokens={"ghs_bot": "github-actions[bot]:write"})
        self.addCleanup(gh.stop)
        head = self.commit("api/main.go")
        gh.seed({"repo": "acme/shop", "pulls": [{"number": 7, "head_sha": head, "head_ref": "feature",
                                                 "base_ref": "main", "state": "open", "user": "alice"}]})
        env = env_for(pr="7", branch="feature", sha=head, PRENV_BASE_BRANCH="main", PRENV_API_URL=gh.url,
                      PRENV_HOST="github", GITHUB_TOKEN="ghs_bot", PRENV_HTTP_SLEEP_SCALE="0.01")
        writes = lambda: [(q["method"], q["path"]) for q in gh.requests()  # noqa: E731
                          if q["method"] in ("POST", "PATCH", "PUT", "DELETE")]
        r = self.prenv(self.repo, "deploy", env=env)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("the baseline environment staging (namespace shop-staging) does not exist", r.stderr)
        self.assertEqual([], writes(), "exit 2, yet the pull request was written to")
        st, _, _ = self.srv.api("GET", "/api/v1/namespaces/shop-pr-7")
        self.assertEqual(st, 404)
        self.deploy_baseline()
        r = self.prenv(self.repo, "deploy", env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(("POST", "/repos/acme/shop/issues/7/comments"), writes())
        # checked twice (before the report, then by the deploy), said once
        self.assertEqual(1, r.stderr.count("ExternalName aliases of namespace"), r.stderr)

    def test_a_baseline_namespace_prenv_did_not_make_is_refused(self):
        self.srv.api("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                    "metadata": {"name": "shop-staging"}})
        head = self.commit("api/main.go")
        r = self.pr("deploy", sha=head)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("namespace shop-staging is not the baseline environment staging of shop", r.stderr)
        st, _, _ = self.srv.api("GET", "/api/v1/namespaces/shop-pr-7")
        self.assertEqual(st, 404)

    def test_destroy_removes_the_aliases(self):
        self.deploy_baseline()
        head = self.commit("api/main.go")
        self.assertEqual(self.pr("deploy", sha=head).returncode, 0)
        self.assertIsNotNone(self.service("shop-pr-7", "search"))
        r = self.pr("destroy", sha=head)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIsNone(self.service("shop-pr-7", "search"))
        self.assertIsNone(self.service("shop-pr-7", "worker"))
        # the baseline is untouched
        self.assertEqual(self.service("shop-staging", "search")["spec"]["type"], "ClusterIP")

    def test_a_rule_with_logical_false_deploys_a_full_copy(self):
        self.repo = os.path.join(self.dir, "repo2")
        self.checkout(CONFIG % {"rule_extra": "    logical: false\n"})
        head = self.commit("api/main.go")
        r = self.pr("deploy", sha=head)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("logical: the rule says `logical: false`: a full copy", r.stderr)
        self.assertEqual(self.names("shop-pr-7", "deployments", "apis/apps/v1"), sorted(SERVICES))

    def test_an_ingress_routing_to_a_borrowed_service_is_exit_2(self):
        self.repo = os.path.join(self.dir, "repo3")
        self.checkout(CONFIG % {"rule_extra": ""}, ingress_to="search")
        self.deploy_baseline()
        head = self.commit("web/main.go")
        r = self.pr("deploy", sha=head)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("ingress.yaml", r.stderr)
        self.assertIn("routes to service search, which this preview borrows from the baseline staging",
                      r.stderr)
        st, _, _ = self.srv.api("GET", "/api/v1/namespaces/shop-pr-7")
        self.assertEqual(st, 404)

    def test_no_merge_base_deploys_everything(self):
        self.deploy_baseline()
        head = self.commit("api/main.go")
        r = self.prenv(self.repo, "deploy", env=env_for(pr="7", branch="feature", sha=head,
                                                        PRENV_BASE_BRANCH="no-such-branch"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("logical: every service is deployed: no merge base", r.stderr)
        self.assertEqual(self.names("shop-pr-7", "deployments", "apis/apps/v1"), sorted(SERVICES))


if __name__ == "__main__":
    unittest.main()
