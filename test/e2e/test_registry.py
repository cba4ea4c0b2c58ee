"""Image checks end to end: `prenv deploy` with services whose image_check
asks a real registry - Debian's docker-registry (the CNCF distribution
registry), started here on 127.0.0.1 with its own config and storage in a
temporary directory (test/servers/registry.py) and stopped by its PID:
anonymous, with Basic auth (htpasswd, bcrypt), and with token auth (the
Bearer flow, with a token service in this process). Images are pushed with
plain HTTP calls (a minimal OCI image). The environment goes to the
Kubernetes test API server (k8s_harness.py); the applied Deployments carry
the image pinned to the registry's digest.

- a tag already there: deployed as name:tag@sha256:... (the registry's digest)
- a tag pushed midway through the wait: found, pinned
- a tag never pushed: exit 1, nothing applied (on_missing: fail)
- on_missing: production: api real on feature/x whose image was never
  built -> api's production image (main's head), pinned
- Basic auth: credentials from $DOCKER_CONFIG/config.json (right -> pinned;
  wrong -> exit 3 naming the file, never the password); the credentials of
  one registry are never sent to another one on another port
- Bearer: PRENV_REGISTRY_HOST/USER/PASSWORD, the token service sees them,
  the registry sees only the token
"""
import base64
import http.server
import json
import os
import subprocess
import sys
import threading
import time
import unittest

from util import ROOT, clean_env, run_prenv, tmpdir, PRENV

sys.path.insert(0, os.path.join(ROOT, "test", "servers"))
from k8s_harness import K8sServer  # noqa: E402
import registry  # noqa: E402
from test_services import make_repo, start_git_server  # noqa: E402 (bare repositories, git http)


def deployment(name):
    """A Deployment template of one container whose image is service.image
    (JSON is YAML)."""
    labels = {"app": name}
    return json.dumps({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": name,
                                                       "image": "{{service.image}}"}]}}}},
        indent=1) + "\n"


CONFIG = """app: shop
provider:
  kind: kubernetes
  wait: 30s
environments:
  - pull_request: true
services:
%(services)s"""

PASSWORD = "s3cret-Pa55"


def service(name, image, extra="", repo=None):
    s = "  %s:\n    templates: deploy/%s\n    image: \"%s\"\n    image_check: true\n" % (
        name, name, image)
    if repo:
        s += "    repo: %s\n" % repo
    return s + extra


class RecordingRegistry:
    """Not a registry: answers every request 401 with a Basic challenge (what
    a private registry says first) and records the Authorization headers it
    was sent - to prove another registry's credentials never reach it."""

    def __init__(self):
        self.auth = []
        owner = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _any(self):
                owner.auth.append(self.headers.get("Authorization"))
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="other"')
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_HEAD = do_GET = _any

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.host = "127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class RegistryBase(unittest.TestCase):
    users = None
    token_auth = False

    def setUp(self):
        self.dir = tmpdir(self)
        self.ts = None
        if self.token_auth:
            self.ts = registry.TokenServer(users={"alice": PASSWORD}).start()
            self.addCleanup(self.ts.stop)
        self.reg = registry.Registry(users=self.users, token=self.ts).start()
        self.addCleanup(self.reg.stop)
        self.k8s = K8sServer(args=["--ready-delay", "0.2"]).start()
        self.addCleanup(self.k8s.stop)
        self.kc = self.k8s.write_kubeconfig(os.path.join(self.dir, "kubeconfig"))
        self.sha = "a" * 40
        self.app = os.path.join(self.dir, "web")

    def write_app(self, services):
        names = [s.split(":", 1)[0].strip() for s in services]
        for n in names:
            os.makedirs(os.path.join(self.app, "deploy", n), exist_ok=True)
            with open(os.path.join(self.app, "deploy", n, "deployment.yaml"), "w") as f:
                f.write(deployment(n))
        with open(os.path.join(self.app, ".prenv.yml"), "w") as f:
            f.write(CONFIG % {"services": "".join(services)})

    def env(self, **extra):
        e = dict(PRENV_CI="local", PRENV_REPO="acme/web", PRENV_BRANCH="feature/x",
                 PRENV_SHA=self.sha, PRENV_PR="42", HOME="/nonexistent")
        e.update(extra)
        return clean_env(**e)

    def deploy(self, env=None, timeout=120):
        return run_prenv(["--kubeconfig", self.kc, "-o", "json", "deploy"],
                         env=env or self.env(), cwd=self.app, timeout=timeout)

    def image(self, name):
        st, _, body = self.k8s.api("GET", "/apis/apps/v1/namespaces/shop-pr-42/deployments/" + name)
        self.assertEqual(200, st, body)
        return body["spec"]["template"]["spec"]["containers"][0]["image"]

    def assert_nothing_applied(self):
        st, _, _ = self.k8s.api("GET", "/api/v1/namespaces/shop-pr-42")
        self.assertEqual(404, st, "the namespace was created: something was applied")

    def docker_config(self, host, user, password):
        d = os.path.join(self.dir, "docker")
        os.makedirs(d, exist_ok=True)
        auth = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump({"auths": {host: {"auth": auth}}}, f)
        return d

    def check(self, r, code=0):
        self.assertEqual(code, r.returncode, "stdout:\n%s\nstderr:\n%s" % (r.stdout, r.stderr))


class RegistryAnonymousTest(RegistryBase):
    def test_registry_tag_there_is_pinned(self):
        self.write_app([service("web", "%s/acme/web:{{service.short_sha}}" % self.reg.host)])
        # short_sha is 7 characters
        digest = self.reg.push("acme/web", self.sha[:7])
        r = self.deploy()
        self.check(r)
        want = "%s/acme/web:%s@%s" % (self.reg.host, self.sha[:7], digest)
        self.assertEqual(want, self.image("web"))
        out = json.loads(r.stdout)
        self.assertEqual(want, {s["name"]: s for s in out["services"]}["web"]["image"])
        # render does not ask the registry: the image as the template says
        rr = run_prenv(["render"], env=self.env(), cwd=self.app)
        self.check(rr)
        self.assertIn("%s/acme/web:%s" % (self.reg.host, self.sha[:7]), rr.stdout)
        self.assertNotIn("sha256:", rr.stdout)

    def test_registry_tag_pushed_midway_is_found(self):
        self.write_app([service("web", "%s/acme/web:{{service.sha}}" % self.reg.host,
                                "    image_wait: 60s\n")])
        p = subprocess.Popen([PRENV, "--kubeconfig", self.kc, "-o", "json", "deploy"],
                             env=self.env(), cwd=self.app, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.wait()))
        # prenv says it waits, and has applied nothing yet
        time.sleep(2.5)
        self.assertIsNone(p.poll(), "prenv did not wait")
        self.assert_nothing_applied()
        t0 = time.time()
        digest = self.reg.push("acme/web", self.sha)
        out, err = p.communicate(timeout=60)
        found_after = time.time() - t0
        self.assertEqual(0, p.returncode, err)
        self.assertIn("is not in its registry yet; waiting up to 1m (image_wait)", err)
        self.assertEqual("%s/acme/web:%s@%s" % (self.reg.host, self.sha, digest), self.image("web"))
        # the looks double from 1 s up to 10 s: found within one interval
        self.assertLess(found_after, 12)
        print("# pushed after 2.5 s of waiting; found %.1f s after the push" % found_after)

    def test_registry_missing_fails_and_applies_nothing(self):
        self.write_app([service("web", "%s/acme/web:{{service.sha}}" % self.reg.host,
                                "    image_wait: 2s\n")])
        t0 = time.time()
        r = self.deploy()
        self.check(r, 1)
        self.assertGreaterEqual(time.time() - t0, 2)
        self.assertIn("service web: image %s/acme/web:%s is not in registry %s after waiting 2s "
                      "(on_missing: fail); nothing was deployed" % (self.reg.host, self.sha,
                                                                     self.reg.host), r.stderr)
        self.assertIn("on_missing: production", r.stderr)
        self.assert_nothing_applied()

    def test_registry_missing_falls_back_to_production(self):
        shas = make_repo(os.path.join(self.dir, "api.git"), ("main", "feature/x"))
        api_url = "file://" + os.path.join(self.dir, "api.git")
        self.reg.push("acme/web", self.sha)
        prod_digest = self.reg.push("acme/api", shas["main"], content=b"api main\n")
        # api is real on feature/x, but its image was never built
        self.write_app([
            service("web", "%s/acme/web:{{service.sha}}" % self.reg.host),
            service("api", "%s/acme/api:{{service.sha}}" % self.reg.host,
                    "    image_wait: 1s\n    on_missing: production\n", repo=api_url)])
        r = self.deploy()
        self.check(r)
        self.assertEqual("%s/acme/api:%s@%s" % (self.reg.host, shas["main"], prod_digest),
                         self.image("api"))
        self.assertIn("service api: image %s/acme/api:%s did not appear in time; deploying the "
                      "production image %s/acme/api:%s" % (self.reg.host, shas["feature/x"],
                                                          self.reg.host, shas["main"]), r.stderr)
        # web was there: pinned as it is
        self.assertIn("@sha256:", self.image("web"))
        # no production image either: exit 1 naming both, nothing applied anew
        shas2 = make_repo(os.path.join(self.dir, "api2.git"), ("main", "feature/x"))
        self.write_app([
            service("api", "%s/acme/api:{{service.sha}}" % self.reg.host,
                    "    image_wait: 0s\n    on_missing: production\n",
                    repo="file://" + os.path.join(self.dir, "api2.git"))])
        r = self.deploy()
        self.check(r, 1)
        self.assertIn("neither is the production image %s/acme/api:%s" % (self.reg.host,
                                                                          shas2["main"]), r.stderr)
        self.assertEqual("%s/acme/api:%s@%s" % (self.reg.host, shas["main"], prod_digest),
                         self.image("api"))

    def test_registry_this_repository_falls_back_to_its_production_branch(self):
        # web is this repository: its production branch's head is asked from
        # its URL (the real git http-backend, with its token)
        root = os.path.join(self.dir, "git")
        shas = make_repo(os.path.join(root, "acme", "web"), ("main",))
        port, log = start_git_server(self, root, "tok_web_0123456789")
        prod_digest = self.reg.push("acme/web", shas["main"])
        self.write_app([service("web", "%s/acme/web:{{service.sha}}" % self.reg.host,
                                "    image_wait: 1s\n    on_missing: production\n")])
        r = self.deploy(self.env(PRENV_REPO_URL="http://127.0.0.1:%d/acme/web" % port,
                                 PRENV_GIT_TOKEN_A="tok_web_0123456789",
                                 PRENV_GIT_TOKEN_A_HOST="127.0.0.1:%d" % port))
        self.check(r)
        self.assertEqual("%s/acme/web:%s@%s" % (self.reg.host, shas["main"], prod_digest),
                         self.image("web"))
        self.assertIn("deploying the production image %s/acme/web:%s" % (self.reg.host, shas["main"]),
                      r.stderr)
        # without the repository's URL there is nothing to fall back to: say so
        r = self.deploy()
        self.check(r, 1)
        self.assertIn("this repository's URL is unknown", r.stderr)

    def test_registry_virtual_service_has_no_fallback(self):
        shas = make_repo(os.path.join(self.dir, "api.git"), ("main",))
        self.write_app([service("api", "%s/acme/api:{{service.sha}}" % self.reg.host,
                                "    image_wait: 0s\n    on_missing: production\n",
                                repo="file://" + os.path.join(self.dir, "api.git"))])
        r = self.deploy()
        self.check(r, 1)
        self.assertIn("image %s/acme/api:%s is not in registry" % (self.reg.host, shas["main"]),
                      r.stderr)
        self.assertIn("the service is virtual: its image is the production image already", r.stderr)
        self.assert_nothing_applied()

    def test_registry_bad_image_is_a_config_error(self):
        self.write_app([service("web", "%s/acme/Web:{{service.sha}}" % self.reg.host)])
        r = self.deploy()
        self.check(r, 2)
        self.assertIn("lower-case", r.stderr)
        self.assert_nothing_applied()


class RegistryBasicAuthTest(RegistryBase):
    users = {"alice": PASSWORD}

    def test_registry_basic_auth_from_docker_config(self):
        digest = self.reg.push("acme/web", self.sha)
        self.write_app([service("web", "%s/acme/web:{{service.sha}}" % self.reg.host,
                                "    image_wait: 0s\n")])
        # no credentials: exit 3, what to do
        r = self.deploy()
        self.check(r, 3)
        self.assertIn("registry %s asks for credentials to read acme/web and prenv has none"
                      % self.reg.host, r.stderr)
        self.assert_nothing_applied()
        # wrong ones: exit 3 naming where they came from, never the password
        d = self.docker_config(self.reg.host, "alice", "not-the-password")
        r = self.deploy(self.env(DOCKER_CONFIG=d))
        self.check(r, 3)
        self.assertIn("refused the credentials from %s/config.json" % d, r.stderr)
        self.assertNotIn("not-the-password", r.stderr + r.stdout)
        self.assert_nothing_applied()
        # right ones
        d = self.docker_config(self.reg.host, "alice", PASSWORD)
        r = self.deploy(self.env(DOCKER_CONFIG=d))
        self.check(r)
        self.assertNotIn(PASSWORD, r.stderr + r.stdout)
        self.assertEqual("%s/acme/web:%s@%s" % (self.reg.host, self.sha, digest), self.image("web"))

    def test_registry_credentials_never_go_to_another_registry(self):
        other = RecordingRegistry()
        self.addCleanup(other.stop)
        self.reg.push("acme/web", self.sha)
        self.write_app([service("web", "%s/acme/web:{{service.sha}}" % other.host,
                                "    image_wait: 0s\n")])
        # config.json and PRENV_REGISTRY_* both hold this registry's credentials
        d = self.docker_config(self.reg.host, "alice", PASSWORD)
        r = self.deploy(self.env(DOCKER_CONFIG=d, PRENV_REGISTRY_HOST=self.reg.host,
                                 PRENV_REGISTRY_USER="alice", PRENV_REGISTRY_PASSWORD=PASSWORD))
        self.check(r, 3)
        self.assertIn("registry %s asks for credentials" % other.host, r.stderr)
        self.assertTrue(other.auth, "the other registry was not asked")
        self.assertEqual([None] * len(other.auth), other.auth)
        self.assert_nothing_applied()


class RegistryTokenAuthTest(RegistryBase):
    token_auth = True

    def test_registry_bearer_token_flow(self):
        digest = self.reg.push("acme/web", self.sha)
        self.write_app([service("web", "%s/acme/web:{{service.sha}}" % self.reg.host,
                                "    image_wait: 0s\n")])
        n0 = len(self.ts.requests)
        # anonymous: the token service refuses -> exit 3
        r = self.deploy()
        self.check(r, 3)
        self.assertIn("refuses anonymous access to acme/web", r.stderr)
        self.assertEqual([None], [a for _, a in self.ts.requests[n0:]])
        # PRENV_REGISTRY_*: the token service gets them (Basic), the registry the token
        n0 = len(self.ts.requests)
        r = self.deploy(self.env(PRENV_REGISTRY_HOST=self.reg.host, PRENV_REGISTRY_USER="alice",
                                 PRENV_REGISTRY_PASSWORD=PASSWORD))
        self.check(r)
        self.assertEqual("%s/acme/web:%s@%s" % (self.reg.host, self.sha, digest), self.image("web"))
        asked = self.ts.requests[n0:]
        self.assertEqual(1, len(asked))
        path, auth = asked[0]
        self.assertTrue(auth.startswith("Basic "))
        self.assertIn("scope=repository%3Aacme%2Fweb%3Apull", path)
        self.assertIn("service=prenv-test-registry", path)
        self.assertNotIn(PASSWORD, r.stderr + r.stdout)


if __name__ == "__main__":
    unittest.main()
