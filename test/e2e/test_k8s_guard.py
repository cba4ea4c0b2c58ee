"""End to end: what prenv refuses before it changes anything in the cluster,
and whose environment it may touch. The prenv binary against
test/servers/k8s_server.py (k8s_harness.py).

  - every object's REST mapping (discovery for unknown kinds) is resolved
    before the first write: an unknown kind exits 2 and nothing exists
    afterwards (issue 10 #8);
  - cluster-scoped kinds (ClusterRole, ClusterRoleBinding, IngressClass, a
    cluster-scoped custom resource) are refused, exit 2, naming the object
    and its template, before any write: destroy and gc delete namespaces,
    so such objects would leak and two environments would fight over them
    (issue 10 #11). The environment's own Namespace object is still allowed
    (prenv applies the namespace itself).
  - with a code host to report to, a refusal the cluster decides (an
    unknown kind, another repository's namespace) comes before the pull
    request hears of the deploy: exit 2 or 3, no comment, no deployment
    status (the provider's precheck);
  - an environment belongs to the repository that made it (the namespace's
    prenv.dev/repo annotation): another repository with the same app name
    (so the same namespace) may not deploy over it (exit 3), destroy it
    (exit 3) or gc it (skipped, with a line saying why); a namespace
    without the annotation (an older prenv's) is adopted (issue 10 #10).
"""
import json
import os
import sys
import unittest

from util import ROOT
from k8s_e2e import ServerCase, config_text, env_for, make_app

sys.path.insert(0, os.path.join(ROOT, "test", "servers"))
from codehost import start_github  # noqa: E402

NS = "shop-pr-7"


class GuardBase(ServerCase):
    def app(self, wait="20s", extra_files=None, provider_extra=""):
        return make_app(self, config_text(wait=wait, provider_extra=provider_extra), extra_files)

    def namespace(self, ns=NS):
        return self.get("/api/v1/namespaces/" + ns)

    def writes(self):
        """The API requests that changed something (since the last reset)."""
        log = self.srv.admin("GET", "/_test/requests?log=1").get("log", [])
        return [(e["method"], e["path"]) for e in log if e["method"] in ("POST", "PUT", "PATCH", "DELETE")]


class K8sGuardTest(GuardBase, unittest.TestCase):
    def test_unknown_kind_changes_nothing(self):
        app = self.app(extra_files={"zz-thing.yaml": "apiVersion: nosuch.io/v9\nkind: Thing\n"
                                                     "metadata:\n  name: t\n"})
        self.srv.admin("POST", "/_test/reset")
        r = self.prenv(app, "deploy")
        self.check(r, 2)
        self.assertIn("does not serve kind Thing of apiVersion nosuch.io/v9", r.stderr)
        self.assertIn("zz-thing.yaml:1", r.stderr)
        self.assertIsNone(self.namespace(), "exit 2 promises nothing was changed, but the namespace exists")
        self.assertEqual([], self.writes())

    def test_cluster_scoped_kinds_refused_before_any_write(self):
        cases = {
            "rbac.yaml": ("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\n"
                          "metadata:\n  name: shop-reader\nrules: []\n", "clusterrole/shop-reader",
                          "/apis/rbac.authorization.k8s.io/v1/clusterroles/shop-reader"),
            "binding.yaml": ("# a binding\napiVersion: rbac.authorization.k8s.io/v1\n"
                             "kind: ClusterRoleBinding\nmetadata:\n  name: shop-reader\n"
                             "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: x}\n"
                             "subjects: []\n", "clusterrolebinding/shop-reader",
                             "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/shop-reader"),
            "class.yaml": ("apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata:\n"
                           "  name: shop\nspec:\n  controller: example.com/ingress\n", "ingressclass/shop",
                           "/apis/networking.k8s.io/v1/ingressclasses/shop"),
        }
        for fname, (text, ref, path) in cases.items():
            app = self.app(extra_files={fname: text})
            self.srv.admin("POST", "/_test/reset")
            r = self.prenv(app, "deploy")
            self.check(r, 2)
            self.assertIn(ref, r.stderr)
            self.assertIn("cluster-scoped", r.stderr)
            self.assertIn(fname + ":%d" % (2 if fname == "binding.yaml" else 1), r.stderr)
            self.assertIn("outside prenv", r.stderr)
            self.assertIsNone(self.namespace(), ref)
            self.assertIsNone(self.get(path), ref)
            self.assertEqual([], self.writes(), ref)

    def test_cluster_scoped_custom_resource_refused(self):
        # a CRD with scope Cluster: only discovery can tell
        crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
               "metadata": {"name": "gadgets.example.org"},
               "spec": {"group": "example.org", "scope": "Cluster",
                        "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
                        "versions": [{"name": "v1", "served": True, "storage": True,
                                      "schema": {"openAPIV3Schema": {
                                          "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}
        st, _, body = self.srv.api("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
        self.assertIn(st, (200, 201), body)
        app = self.app(extra_files={"gadget.yaml": "apiVersion: example.org/v1\nkind: Gadget\n"
                                                   "metadata:\n  name: g\n"})
        self.srv.admin("POST", "/_test/reset")
        r = self.prenv(app, "deploy")
        self.check(r, 2)
        self.assertIn("gadget/g", r.stderr)
        self.assertIn("cluster-scoped", r.stderr)
        self.assertIn("gadget.yaml:1", r.stderr)
        self.assertIsNone(self.namespace())
        self.assertEqual([], self.writes())

    def test_environments_own_namespace_object_is_still_accepted(self):
        app = self.app(extra_files={"00-ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n"
                                                  "  name: " + NS + "\n"})
        r = self.prenv(app, "deploy")
        self.check(r)
        self.assertIsNotNone(self.namespace())


class K8sOwnerTest(GuardBase, unittest.TestCase):
    def annotations(self):
        return (self.namespace() or {}).get("metadata", {}).get("annotations") or {}

    def test_other_repository_cannot_deploy_over_or_destroy(self):
        app = self.app()
        self.check(self.prenv(app, "deploy", env=env_for(repo="acme/shop")))
        self.assertEqual("acme/shop", self.annotations().get("prenv.dev/repo"))
        before = self.annotations()

        # the same app name in another repository: same namespace, same PR number
        r = self.prenv(app, "deploy", env=env_for(repo="evil/shop"))
        self.check(r, 3)
        self.assertIn("belongs to repository acme/shop", r.stderr)
        self.assertIn("evil/shop", r.stderr)
        self.assertEqual(before, self.annotations(), "the other repository's deploy changed the namespace")
        r = self.prenv(app, "destroy", env=env_for(repo="evil/shop"))
        self.check(r, 3)
        self.assertIn("belongs to repository acme/shop", r.stderr)
        self.assertNotIn("deletionTimestamp", self.namespace()["metadata"])
        # a run that does not know its repository cannot prove it owns it
        r = self.prenv(app, "destroy", env=env_for(repo=None))
        self.check(r, 3)
        self.assertIn("PRENV_REPO", r.stderr)
        self.assertNotIn("deletionTimestamp", self.namespace()["metadata"])
        # the owner (GitHub names are case-insensitive) still can
        self.check(self.prenv(app, "deploy", env=env_for(repo="Acme/Shop")))
        self.check(self.prenv(app, "destroy", env=env_for(repo="acme/shop")))
        self.assertIsNone(self.namespace())

    def test_gc_skips_other_repositorys_environment(self):
        app = make_app(self, config_text(rules="  - pull_request: true\n    ttl: 1h\n"))
        self.check(self.prenv(app, "deploy", env=env_for(repo="acme/shop")))
        # long past its TTL
        st, _, body = self.srv.api("PATCH", "/api/v1/namespaces/" + NS,
                                   {"metadata": {"annotations": {"prenv.dev/deployed-at": "2020-01-01T00:00:00Z"}}},
                                   content_type="application/merge-patch+json")
        self.assertEqual(200, st, body)
        gc_env = env_for(repo="evil/shop", pr=None)
        r = self.prenv(app, "-o", "json", "gc", env=gc_env)
        self.check(r)
        res = {e["name"]: e for e in json.loads(r.stdout)}
        self.assertEqual("skipped", res["pr-7"]["action"], r.stdout)
        self.assertIn("acme/shop", res["pr-7"]["reason"])
        self.assertIsNotNone(self.namespace())
        self.assertNotIn("deletionTimestamp", self.namespace()["metadata"])
        r = self.prenv(app, "gc", env=gc_env)
        self.check(r)
        self.assertRegex(r.stdout, r"(?m)^pr-7 +skipped \(.*repository acme/shop")
        # its own repository's gc collects it
        r = self.prenv(app, "gc", env=env_for(repo="acme/shop", pr=None))
        self.check(r)
        self.assertRegex(r.stdout, r"(?m)^pr-7 +destroyed ")

    def test_namespace_without_repository_is_adopted(self):
        # made by an older prenv: its labels, no prenv.dev/repo
        ns = {"apiVersion": "v1", "kind": "Namespace",
              "metadata": {"name": NS, "labels": {"app.kubernetes.io/managed-by": "prenv",
                                                  "prenv.dev/app": "shop", "prenv.dev/env": "pr-7"}}}
        st, _, body = self.srv.api("POST", "/api/v1/namespaces", ns)
        self.assertEqual(201, st, body)
        app = self.app()
        self.check(self.prenv(app, "deploy", env=env_for(repo="acme/shop")))
        self.assertEqual("acme/shop", self.annotations().get("prenv.dev/repo"))
        r = self.prenv(app, "deploy", env=env_for(repo="evil/shop"))
        self.check(r, 3)


class K8sRefusalSaysNothingTest(GuardBase, unittest.TestCase):
    """Exit 2 and 3 promise that nothing was changed: with the GitHub test
    server to report to, that includes the pull request."""

    def setUp(self):
        super().setUp()
        self.gh = start_github(self.dir, tokens={"ghs_bot": "github-actions[bot]:write"})
        self.addCleanup(self.gh.stop)
        for repo in ("acme/shop", "evil/shop"):
            self.gh.seed({"repo": repo, "pulls": [{"number": 7, "head_sha": "a" * 40, "head_ref": "feature/x",
                                                   "base_ref": "main", "state": "open", "user": "alice"}]})

    def gh_env(self, repo="acme/shop"):
        return env_for(repo=repo, PRENV_API_URL=self.gh.url, PRENV_HOST="github", GITHUB_TOKEN="ghs_bot",
                       PRENV_HTTP_SLEEP_SCALE="0.01")

    def gh_writes(self):
        return [(q["method"], q["path"]) for q in self.gh.requests()
                if q["method"] in ("POST", "PATCH", "PUT", "DELETE")]

    def test_unknown_kind_is_not_reported_as_a_deploy(self):
        # the control: the same app without the unknown kind is reported
        self.check(self.prenv(self.app(), "deploy", env=self.gh_env()))
        self.assertIn(("POST", "/repos/acme/shop/issues/7/comments"), self.gh_writes())
        self.check(self.prenv(self.app(), "destroy", env=self.gh_env()))
        self.gh.clear_requests()
        self.srv.admin("POST", "/_test/reset")
        app = self.app(extra_files={"zz-thing.yaml": "apiVersion: nosuch.io/v9\nkind: Thing\n"
                                                     "metadata:\n  name: t\n"})
        r = self.prenv(app, "deploy", env=self.gh_env())
        self.check(r, 2)
        self.assertIn("does not serve kind Thing of apiVersion nosuch.io/v9", r.stderr)
        self.assertIn("zz-thing.yaml:1", r.stderr)
        self.assertEqual([], self.gh_writes(), "exit 2, yet the pull request was written to")
        self.assertEqual([], self.writes())

    def test_another_repositorys_namespace_is_not_reported_as_a_deploy(self):
        app = self.app()
        self.check(self.prenv(app, "deploy", env=self.gh_env()))
        self.gh.clear_requests()
        self.srv.admin("POST", "/_test/reset")
        r = self.prenv(app, "deploy", env=self.gh_env("evil/shop"))
        self.check(r, 3)
        self.assertIn("belongs to repository acme/shop", r.stderr)
        self.assertEqual([], self.gh_writes(), "exit 3, yet a pull request was written to")
        self.assertEqual([], self.writes())


if __name__ == "__main__":
    unittest.main()
