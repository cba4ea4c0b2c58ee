"""services: end to end - one environment across repositories, virtual
branches, tokens per git server.

Local bare repositories (file://) and the real `git http-backend`
(test/servers/git_http_server.py, with a token) are the services'
repositories; the environment goes to the Kubernetes test API server
(test/servers/k8s_server.py through k8s_harness.py). The scenario of issue
11: a PR on feature/x in web with no feature/x in api -> api virtual at
main's head; feature/x created in api and prenv run from api's side -> the
same environment, api real at the new commit, web unchanged; feature/x
deleted in api and a deploy again -> virtual again. The images of the
applied Deployments carry the right shas."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import unittest

from util import ROOT, clean_env, run_prenv, tmpdir

sys.path.insert(0, os.path.join(ROOT, "test", "servers"))
from k8s_harness import K8sServer  # noqa: E402
from test_pages_git_http import start_git_server  # noqa: E402  (the same server, logs)

TOKEN_A = "tokA_0123456789abcdef"
TOKEN_B = "tokB_fedcba9876543210"

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: %(name)s
spec:
  replicas: 1
  selector:
    matchLabels: {app: %(name)s}
  template:
    metadata:
      labels: {app: %(name)s}
    spec:
      containers:
        - name: %(name)s
          image: "{{service.image}}"
          env:
            - name: API_SHA
              value: "{{services.api.sha}}"
            - name: SERVICE_BRANCH
              value: "{{service.branch}}"
"""

CONFIG = """app: shop
provider:
  kind: kubernetes
  wait: 30s
environments:
  - branch: "**"
    name: "{{git.branch_slug}}"
services:
%(services)s
"""


def git(*args, cwd=None):
    return subprocess.run(["git", "-c", "user.name=T", "-c", "user.email=t@example.com",
                           "-c", "init.defaultBranch=main"] + list(args), cwd=cwd, check=True,
                          capture_output=True, text=True).stdout.strip()


def make_repo(bare, branches=("main",)):
    """A bare repository (HEAD: main) with a commit on each branch; returns
    {branch: sha}."""
    git("init", "-q", "--bare", bare)
    git("symbolic-ref", "HEAD", "refs/heads/main", cwd=bare)
    work = bare + ".work"
    git("init", "-q", work)
    shas = {}
    for b in branches:
        git("checkout", "-q", "-B", b, cwd=work)
        git("commit", "-q", "--allow-empty", "-m", b, cwd=work)
        git("push", "-q", bare, "HEAD:refs/heads/" + b, cwd=work)
        shas[b] = git("rev-parse", "HEAD", cwd=work)
    return shas


def add_branch(bare, branch):
    work = bare + ".work"
    git("checkout", "-q", "-B", branch, cwd=work)
    git("commit", "-q", "--allow-empty", "-m", branch + " in api", cwd=work)
    git("push", "-q", "-f", bare, "HEAD:refs/heads/" + branch, cwd=work)
    return git("rev-parse", "HEAD", cwd=work)


def service(name, repo=None, extra=""):
    s = "  %s:\n    templates: deploy/%s\n    image: \"ghcr.io/acme/%s:{{service.sha}}\"\n" % (
        name, name, name)
    if repo:
        s += "    repo: %s\n" % repo
    return s + extra


def write_checkout(d, services, names):
    """A checkout of one repository: .prenv.yml and deploy/<name>/ for each."""
    for n in names:
        os.makedirs(os.path.join(d, "deploy", n), exist_ok=True)
        with open(os.path.join(d, "deploy", n, "deployment.yaml"), "w") as f:
            f.write(DEPLOYMENT % {"name": n})
    with open(os.path.join(d, ".prenv.yml"), "w") as f:
        f.write(CONFIG % {"services": "".join(services)})


def multi_checkout(d, app, other, other_url, deployments_only=False):
    """templates/multi in d/deploy/ and its example config as .prenv.yml,
    with `repo:` (other_url) on the service `other` only."""
    os.makedirs(d)
    for svc in ("web", "api"):
        src = os.path.join(ROOT, "templates", "multi", svc)
        os.makedirs(os.path.join(d, "deploy", svc))
        for name in os.listdir(src):
            if not deployments_only or name == "deployment.yaml":
                shutil.copy(os.path.join(src, name), os.path.join(d, "deploy", svc))
    with open(os.path.join(ROOT, "templates", "multi", "prenv.example.yml")) as f:
        lines, out, svc = f.read().splitlines(), [], None
    for line in lines:
        code = line.split("#")[0].rstrip()
        if line.startswith("app:"):
            line = "app: " + app
        if line.startswith("  ") and not line.startswith("   ") and code.endswith(":"):
            svc = code.strip()[:-1]
        if code.strip().startswith("repo:"):
            continue
        out.append(line)
        if svc == other and code.strip().startswith("templates:"):
            out.append("    repo: " + other_url)
    with open(os.path.join(d, ".prenv.yml"), "w") as f:
        f.write("\n".join(out) + "\n")


def fingerprint(token):
    return "token sha256:" + hashlib.sha256(token.encode()).hexdigest()[:16]


def read(path):
    with open(path) as f:
        return f.read()


class ServicesBase(unittest.TestCase):
    def setUp(self):
        self.dir = tmpdir(self)
        self.git_root = os.path.join(self.dir, "git")
        self.web_shas = make_repo(os.path.join(self.git_root, "acme", "web.git"),
                                  ("main", "feature/x"))
        self.api_shas = make_repo(os.path.join(self.git_root, "acme", "api.git"), ("main",))
        self.api_bare = os.path.join(self.git_root, "acme", "api.git")

    token_env = {}

    def repo_base(self):
        """Where the services' repositories are: file:// here."""
        return "file://" + self.git_root

    def run_env(self, repo, branch, sha, pr=None, **extra):
        e = dict(PRENV_CI="local", PRENV_REPO=repo, PRENV_BRANCH=branch, PRENV_SHA=sha,
                 HOME="/nonexistent")
        if pr:
            e["PRENV_PR"] = str(pr)
        e.update(self.token_env)
        e.update(extra)
        return clean_env(**e)


class ServicesK8sTest(ServicesBase):
    """The whole scenario on the Kubernetes test API server."""

    def setUp(self):
        super().setUp()
        self.srv = K8sServer(args=["--ready-delay", "0.2"]).start()
        self.addCleanup(self.srv.stop)
        self.kc = self.srv.write_kubeconfig(os.path.join(self.dir, "kubeconfig"))
        web_url = self.repo_base() + "/acme/web.git"
        api_url = self.repo_base() + "/acme/api.git"
        # web's checkout: web is here, api (and worker) come from api.git
        self.web = os.path.join(self.dir, "web")
        write_checkout(self.web, [service("web"), service("api", api_url),
                                  service("worker", api_url, "    production_branch: main\n")],
                       ["web", "api", "worker"])
        # api's checkout: the same environment from api's side (no worker)
        self.api = os.path.join(self.dir, "api")
        write_checkout(self.api, [service("web", web_url), service("api")], ["web", "api"])

    def deploy(self, cwd, env):
        r = run_prenv(["--kubeconfig", self.kc, "-o", "json", "deploy"], env=env, cwd=cwd)
        self.assertEqual(0, r.returncode, r.stderr)
        return json.loads(r.stdout), r

    def deployment(self, ns, name):
        st, _, body = self.srv.api("GET", "/apis/apps/v1/namespaces/%s/deployments/%s" % (ns, name))
        self.assertEqual(200, st, body)
        return body

    def image(self, ns, name):
        return self.deployment(ns, name)["spec"]["template"]["spec"]["containers"][0]["image"]

    def services(self, out):
        return {s["name"]: s for s in out["services"]}

    def test_services_one_environment_across_repositories(self):
        web_sha = self.web_shas["feature/x"]
        # 1. a PR on feature/x in web: api has no feature/x -> virtual at main's head
        out, r = self.deploy(self.web, self.run_env("acme/web", "feature/x", web_sha, pr=7))
        ns = out["namespace"]
        svc = self.services(out)
        self.assertEqual(("feature/x", web_sha, False), (svc["web"]["branch"], svc["web"]["sha"],
                                                          svc["web"]["virtual"]))
        self.assertEqual(("main", self.api_shas["main"], True, "main"),
                         (svc["api"]["branch"], svc["api"]["sha"], svc["api"]["virtual"],
                          svc["api"]["from_branch"]))
        self.assertEqual("ghcr.io/acme/api:" + self.api_shas["main"], svc["api"]["image"])
        self.assertEqual("ghcr.io/acme/web:" + web_sha, self.image(ns, "web"))
        self.assertEqual("ghcr.io/acme/api:" + self.api_shas["main"], self.image(ns, "api"))
        web_dep = self.deployment(ns, "web")
        env = {e["name"]: e["value"] for e in web_dep["spec"]["template"]["spec"]["containers"][0]["env"]}
        self.assertEqual(self.api_shas["main"], env["API_SHA"])  # web sees services.api
        labels = self.deployment(ns, "api")["metadata"]["labels"]
        self.assertEqual("api", labels["prenv.dev/service"])
        self.assertEqual(self.api_shas["main"], labels["prenv.dev/service-sha"])
        self.assertEqual("main", labels["prenv.dev/service-branch"])
        self.assertEqual("feature/x",
                         self.deployment(ns, "web")["metadata"]["annotations"]["prenv.dev/service-branch"])
        web_generation = web_dep["metadata"]["generation"]
        self.assertIn("virtual: %s/acme/api.git has no branch feature/x" % self.repo_base(), r.stderr)

        # 2. feature/x created in api; prenv runs from api's side (a push)
        api_x = add_branch(self.api_bare, "feature/x")
        out2, _ = self.deploy(self.api, self.run_env("acme/api", "feature/x", api_x))
        self.assertEqual(ns, out2["namespace"])  # the same environment
        svc = self.services(out2)
        self.assertEqual((api_x, False), (svc["api"]["sha"], svc["api"]["virtual"]))
        self.assertEqual((web_sha, False), (svc["web"]["sha"], svc["web"]["virtual"]))
        self.assertEqual("ghcr.io/acme/api:" + api_x, self.image(ns, "api"))
        self.assertEqual("ghcr.io/acme/web:" + web_sha, self.image(ns, "web"))
        web_dep2 = self.deployment(ns, "web")
        env = {e["name"]: e["value"] for e in web_dep2["spec"]["template"]["spec"]["containers"][0]["env"]}
        # web's own objects changed only where they name api's sha
        self.assertEqual(api_x, env["API_SHA"])
        self.assertEqual("feature/x", env["SERVICE_BRANCH"])
        self.assertGreaterEqual(web_dep2["metadata"]["generation"], web_generation)
        # worker is not a service of api's config: its objects stay (prune per service)
        self.assertEqual("ghcr.io/acme/worker:" + self.api_shas["main"], self.image(ns, "worker"))

        # status lists the services the namespace records
        st = run_prenv(["--kubeconfig", self.kc, "-o", "json", "status"],
                       env=self.run_env("acme/api", "feature/x", api_x), cwd=self.api)
        self.assertEqual(0, st.returncode, st.stderr)
        recorded = {s["name"]: s for s in json.loads(st.stdout)["services"]}
        self.assertEqual(api_x, recorded["api"]["sha"])
        self.assertFalse(recorded["api"]["virtual"])

        # 3. feature/x deleted in api; a deploy again (from web) -> virtual again
        git("update-ref", "-d", "refs/heads/feature/x", cwd=self.api_bare)
        out3, _ = self.deploy(self.web, self.run_env("acme/web", "feature/x", web_sha, pr=7))
        svc = self.services(out3)
        self.assertEqual(ns, out3["namespace"])
        self.assertEqual((self.api_shas["main"], True), (svc["api"]["sha"], svc["api"]["virtual"]))
        self.assertEqual("ghcr.io/acme/api:" + self.api_shas["main"], self.image(ns, "api"))
        self.assertEqual("ghcr.io/acme/web:" + web_sha, self.image(ns, "web"))

    def test_services_prune_within_a_service(self):
        web_sha = self.web_shas["feature/x"]
        env = self.run_env("acme/web", "feature/x", web_sha, pr=7)
        extra = os.path.join(self.web, "deploy", "api", "cm.yaml")
        with open(extra, "w") as f:
            f.write("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: api-extra\ndata:\n  a: b\n")
        out, _ = self.deploy(self.web, env)
        ns = out["namespace"]
        st, _, _ = self.srv.api("GET", "/api/v1/namespaces/%s/configmaps/api-extra" % ns)
        self.assertEqual(200, st)
        os.remove(extra)
        _, r = self.deploy(self.web, env)
        st, _, _ = self.srv.api("GET", "/api/v1/namespaces/%s/configmaps/api-extra" % ns)
        self.assertEqual(404, st, r.stderr)

    def test_services_templates_multi(self):
        """The shipped templates/multi and its example config, from both sides."""
        web, api = os.path.join(self.dir, "mweb"), os.path.join(self.dir, "mapi")
        multi_checkout(web, "multi", "api", "file://" + self.api_bare)
        multi_checkout(api, "multi", "web", "file://" + os.path.join(self.git_root, "acme", "web.git"))
        web_sha = self.web_shas["feature/x"]
        out, _ = self.deploy(web, self.run_env("acme/web", "feature/x", web_sha, pr=9))
        ns = out["namespace"]
        dep = self.deployment(ns, "web")
        env = {e["name"]: e["value"] for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]}
        self.assertEqual(self.api_shas["main"], env["API_COMMIT"])
        self.assertEqual("ghcr.io/acme/api:" + self.api_shas["main"], self.image(ns, "api"))
        st, _, ing = self.srv.api("GET", "/apis/networking.k8s.io/v1/namespaces/%s/ingresses/web" % ns)
        self.assertEqual(200, st)
        self.assertEqual(out["environment"] + ".preview.example.com", ing["spec"]["rules"][0]["host"])
        api_x = add_branch(self.api_bare, "feature/x")
        out2, _ = self.deploy(api, self.run_env("acme/api", "feature/x", api_x))
        self.assertEqual(ns, out2["namespace"])
        self.assertEqual("ghcr.io/acme/api:" + api_x, self.image(ns, "api"))
        self.assertEqual("ghcr.io/acme/web:" + web_sha, self.image(ns, "web"))

    def test_services_comment_lists_services(self):
        r = run_prenv(["--kubeconfig", self.kc, "--dry-run", "deploy"],
                      env=self.run_env("acme/web", "feature/x", self.web_shas["feature/x"], pr=7),
                      cwd=self.web)
        self.assertEqual(0, r.returncode, r.stderr)
        self.assertIn("service api: virtual", r.stderr)

    def test_services_missing_production_branch_nothing_deployed(self):
        with open(os.path.join(self.web, ".prenv.yml")) as f:
            cfg = f.read()
        with open(os.path.join(self.web, ".prenv.yml"), "w") as f:
            f.write(cfg.replace("production_branch: main", "production_branch: trunk"))
        r = run_prenv(["--kubeconfig", self.kc, "deploy"],
                      env=self.run_env("acme/web", "feature/x", self.web_shas["feature/x"], pr=7),
                      cwd=self.web)
        self.assertEqual(1, r.returncode, r.stderr)
        self.assertIn("service 'worker'", r.stderr)
        self.assertIn("production branch 'trunk'", r.stderr)
        st, _, body = self.srv.api("GET", "/api/v1/namespaces")
        self.assertEqual([], [n["metadata"]["name"] for n in body["items"]
                              if n["metadata"]["name"].startswith("shop-")])


class ServicesK8sHttpTest(ServicesK8sTest):
    """The same scenario with the repositories behind the real git
    http-backend, which wants a token (sent only to it)."""
    test_services_prune_within_a_service = None
    test_services_templates_multi = None
    test_services_comment_lists_services = None
    test_services_missing_production_branch_nothing_deployed = None

    def repo_base(self):
        if not getattr(self, "port", None):
            self.port, self.log = start_git_server(self, self.git_root, TOKEN_A)
            self.token_env = dict(PRENV_GIT_TOKEN_ACME=TOKEN_A,
                                  PRENV_GIT_TOKEN_ACME_HOST="127.0.0.1:%d" % self.port)
        return "http://127.0.0.1:%d" % self.port

    def test_services_one_environment_across_repositories(self):
        super().test_services_one_environment_across_repositories()
        self.assertIn(fingerprint(TOKEN_A), read(self.log))


class ServicesHttpTokenTest(ServicesBase):
    """The services' repositories behind the real git http-backend, each
    server with its own token."""

    def setUp(self):
        super().setUp()
        self.port_a, self.log_a = start_git_server(self, self.git_root, TOKEN_A)
        self.port_b, self.log_b = start_git_server(self, self.git_root, TOKEN_B, bind="127.0.0.2")
        self.url_a = "http://127.0.0.1:%d/acme/api.git" % self.port_a
        self.url_b = "http://127.0.0.2:%d/acme/web.git" % self.port_b
        self.proj = os.path.join(self.dir, "proj")
        # api and api2 share a repository: it is asked once
        write_checkout(self.proj, [service("site"), service("api", self.url_a),
                                   service("api2", self.url_a), service("web", self.url_b)],
                       ["site", "api", "api2", "web"])

    def render(self, **tokens):
        return run_prenv(["-o", "json", "render"],
                         env=self.run_env("acme/site", "feature/x", "a" * 40, pr=3, **tokens),
                         cwd=self.proj)

    def test_services_token_per_git_server(self):
        r = self.render(PRENV_GIT_TOKEN_A=TOKEN_A, PRENV_GIT_TOKEN_A_HOST="127.0.0.1:%d" % self.port_a,
                        PRENV_GIT_TOKEN_B=TOKEN_B, PRENV_GIT_TOKEN_B_HOST="127.0.0.2:%d" % self.port_b)
        self.assertEqual(0, r.returncode, r.stderr)
        objs = {o["metadata"]["name"]: o for o in json.loads(r.stdout)}
        self.assertEqual("ghcr.io/acme/api:" + self.api_shas["main"],
                         objs["api"]["spec"]["template"]["spec"]["containers"][0]["image"])
        self.assertEqual("ghcr.io/acme/web:" + self.web_shas["feature/x"],
                         objs["web"]["spec"]["template"]["spec"]["containers"][0]["image"])
        a, b = read(self.log_a), read(self.log_b)
        # one ls-remote for both services of api.git: the 401, then with the token
        self.assertEqual(2, a.count("/acme/api.git/info/refs"), a)
        self.assertIn(fingerprint(TOKEN_A), a)
        self.assertNotIn(fingerprint(TOKEN_B), a)
        self.assertIn(fingerprint(TOKEN_B), b)
        self.assertNotIn(fingerprint(TOKEN_A), b)
        self.assertNotIn(TOKEN_A, r.stdout + r.stderr)
        self.assertNotIn(TOKEN_B, r.stdout + r.stderr)

    def test_services_private_repo_without_its_token(self):
        # only server A's token: B's repository cannot be read, and A's token never goes there
        r = self.render(PRENV_GIT_TOKEN_A=TOKEN_A, PRENV_GIT_TOKEN_A_HOST="127.0.0.1:%d" % self.port_a)
        self.assertEqual(3, r.returncode, r.stderr)
        self.assertIn("service 'web': cannot read repository " + self.url_b, r.stderr)
        self.assertIn("PRENV_GIT_TOKEN_<NAME>_HOST=127.0.0.2:%d" % self.port_b, r.stderr)
        self.assertNotIn("credentials received", read(self.log_b))
        self.assertEqual("", r.stdout)

    def test_services_wrong_token_is_an_auth_error(self):
        r = self.render(PRENV_GIT_TOKEN_A="wrong", PRENV_GIT_TOKEN_A_HOST="127.0.0.1:%d" % self.port_a,
                        PRENV_GIT_TOKEN_B=TOKEN_B, PRENV_GIT_TOKEN_B_HOST="127.0.0.2:%d" % self.port_b)
        self.assertEqual(3, r.returncode, r.stderr)
        self.assertIn("service 'api'", r.stderr)
        self.assertIn("PRENV_GIT_TOKEN_A was refused", r.stderr)
        self.assertNotIn("wrong", r.stderr.replace("wrong ", ""))


if __name__ == "__main__":
    unittest.main()
