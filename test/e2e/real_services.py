"""services: end to end on the REAL Kubernetes (1.20, test/k8s-real).

The shipped templates/multi (web from this repository, api from another one
through a local bare repository over file://) deploy to the real API
server; the Deployments' images carry the right shas: api virtual at main's
head for a PR on feature/x in web, then real at its own feature/x after a
run from api's side, in the same namespace (the ownership check accepts the
other repository of the config's services). The node cannot pull
ghcr.io/acme/*, so the deploys do not wait (--no-wait): only the applied
specs are checked. The cluster comes from the environment as in
real_k8s_hardening.py; without one the tests are skipped."""
import json
import os
import unittest

from util import clean_env, run_prenv
import test_services as ts

import real_k8s_hardening as rh  # the shared cluster and its base class

APP = rh.real_app("rsvc")


class RealServicesTest(rh.RealHardeningBase):
    APP = APP

    def setUp(self):
        super().setUp()  # self.dir, self.kc; the namespace is deleted at the end
        self.env_ns = None
        git_root = os.path.join(self.dir, "git")
        self.web_shas = ts.make_repo(os.path.join(git_root, "acme", "web.git"), ("main", "feature/x"))
        self.api_bare = os.path.join(git_root, "acme", "api.git")
        self.api_shas = ts.make_repo(self.api_bare, ("main",))
        self.web = os.path.join(self.dir, "web")
        # only the Deployments: the shared cluster's Service IP range (a /24)
        # can be full of other tests' Services; the Deployments are what is checked
        ts.multi_checkout(self.web, APP, "api", "file://" + self.api_bare, deployments_only=True)
        self.api = os.path.join(self.dir, "api")
        ts.multi_checkout(self.api, APP, "web", "file://" + os.path.join(git_root, "acme", "web.git"),
                          deployments_only=True)

    def ns(self):
        return self.env_ns or APP + "-none"

    def deploy(self, cwd, repo, sha, pr=None):
        e = dict(PRENV_CI="local", PRENV_REPO=repo, PRENV_BRANCH="feature/x", PRENV_SHA=sha,
                 HOME="/nonexistent")
        if pr:
            e["PRENV_PR"] = str(pr)
        rh.check_app(self, cwd)
        r = run_prenv(["--kubeconfig", self.kc, "-o", "json", "--no-wait", "deploy"],
                      env=clean_env(**e), cwd=cwd, timeout=300)
        self.assertEqual(0, r.returncode, "stdout:\n%s\nstderr:\n%s" % (r.stdout, r.stderr))
        out = json.loads(r.stdout)
        self.env_ns = out["namespace"]
        return out

    def image(self, name):
        st, _, body = self.c.api("GET", "/apis/apps/v1/namespaces/%s/deployments/%s" % (self.env_ns, name))
        self.assertEqual(200, st, body)
        return body["spec"]["template"]["spec"]["containers"][0]["image"]

    def test_real_services_virtual_then_real(self):
        web_sha = self.web_shas["feature/x"]
        out = self.deploy(self.web, "acme/web", web_sha, pr=7)
        ns = out["namespace"]
        self.assertEqual("ghcr.io/acme/web:" + web_sha, self.image("web"))
        self.assertEqual("ghcr.io/acme/api:" + self.api_shas["main"], self.image("api"))
        api_x = ts.add_branch(self.api_bare, "feature/x")
        out = self.deploy(self.api, "acme/api", api_x)
        self.assertEqual(ns, out["namespace"])
        self.assertEqual("ghcr.io/acme/api:" + api_x, self.image("api"))
        self.assertEqual("ghcr.io/acme/web:" + web_sha, self.image("web"))
        st, _, nsobj = self.c.api("GET", "/api/v1/namespaces/" + ns)
        recorded = {s["name"]: s for s in json.loads(nsobj["metadata"]["annotations"]["prenv.dev/services"])}
        self.assertEqual(api_x, recorded["api"]["sha"])
        print("\n# real cluster: services web + api deployed to %s, api virtual then real" % ns)


if __name__ == "__main__":
    unittest.main()
