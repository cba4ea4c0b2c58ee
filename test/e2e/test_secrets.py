"""CI secrets into the environment (`secrets:`) and previews that are not
public (`access: basic_auth`), issue 16 items 11 and 20: the real prenv
binary against the test API server (test/servers/k8s_server.py) and the
GitHub test server. The values never appear in stdout, stderr, render
output or the PR comment; an unset variable is exit 2 naming it with no
write on the server."""
import base64
import json
import os
import subprocess
import sys
import unittest

from k8s_e2e import ServerCase, config_text, env_for, make_app
from util import ROOT, tmpdir

sys.path.insert(0, os.path.join(ROOT, "test", "servers"))
from codehost import start_github  # noqa: E402

NS = "shop-pr-7"
TOKEN_VALUE = "rtok-5d41402abc4b2a76b9719d911017c592"
STRIPE_VALUE = "sk_test_51HqLyjWDarjtT1zdp7dc"
PASSWORD = "hunter2-Preview-Pass"
REG_PASSWORD = "dckr_pat_Zx81Qm-regpass"
REG_AUTH = base64.b64encode(("ci-bot:" + REG_PASSWORD).encode()).decode()
DOCKER_JSON = json.dumps({"auths": {"ghcr.io": {"auth": REG_AUTH}}, "HttpHeaders": {"User-Agent": "x"}})

SECRETS = """secrets:
  name: app-secrets
  from_env: [REGISTRY_TOKEN, STRIPE_KEY]
"""
ACCESS = """access:
  basic_auth: {user: preview, password_from_env: PREVIEW_PASSWORD}
"""
VALUES = [TOKEN_VALUE, STRIPE_VALUE, PASSWORD, REG_PASSWORD, REG_AUTH]


def b64(s):
    return base64.b64encode(s.encode()).decode()


def secret_env(**extra):
    e = dict(REGISTRY_TOKEN=TOKEN_VALUE, STRIPE_KEY=STRIPE_VALUE, PREVIEW_PASSWORD=PASSWORD)
    e.update(extra)
    return e


def apr1_ok(line, user, password):
    """line is user:$apr1$salt$hash and hashes password (openssl passwd)."""
    u, h = line.rstrip("\n").split(":", 1)
    salt = h.split("$")[2]
    want = subprocess.run(["openssl", "passwd", "-apr1", "-salt", salt, password],
                          capture_output=True, text=True, check=True).stdout.strip()
    return u == user and h == want


class SecretsTest(ServerCase, unittest.TestCase):
    def app(self, extra=SECRETS + ACCESS, **kw):
        return make_app(self, config_text(**kw) + extra)

    def writes(self):
        log = self.srv.admin("GET", "/_test/requests?log=1").get("log", [])
        return [e for e in log if e.get("method") in ("POST", "PUT", "PATCH", "DELETE")]

    def assert_no_values(self, *texts):
        for t in texts:
            for v in VALUES:
                self.assertNotIn(v, t)
                self.assertNotIn(b64(v), t)

    def test_secrets_secret_applied_with_labels_and_data(self):
        app = self.app()
        r = self.prenv(app, "deploy", env=env_for(**secret_env()))
        self.check(r)
        s = self.get("/api/v1/namespaces/%s/secrets/app-secrets" % NS)
        self.assertIsNotNone(s, "the Secret app-secrets exists")
        self.assertEqual("Opaque", s.get("type"))
        labels = s["metadata"]["labels"]
        self.assertEqual("prenv", labels["app.kubernetes.io/managed-by"])
        self.assertEqual("shop", labels["prenv.dev/app"])
        self.assertEqual("pr-7", labels["prenv.dev/env"])
        self.assertEqual({"REGISTRY_TOKEN": b64(TOKEN_VALUE), "STRIPE_KEY": b64(STRIPE_VALUE)}, s["data"])
        self.assert_no_values(r.stdout, r.stderr)
        # applied server-side, by prenv
        applies = [e for e in self.writes() if "/secrets/" in e.get("path", "")]
        self.assertTrue(applies and all(e["method"] == "PATCH" for e in applies), applies)

    def test_secrets_default_name_and_verbose_output_masked(self):
        app = self.app(extra="secrets:\n  from_env: [REGISTRY_TOKEN]\n")
        r = self.prenv(app, "-v", "deploy", env=env_for(**secret_env()))
        self.check(r)
        s = self.get("/api/v1/namespaces/%s/secrets/shop-secrets" % NS)
        self.assertEqual({"REGISTRY_TOKEN": b64(TOKEN_VALUE)}, s["data"])
        self.assert_no_values(r.stdout, r.stderr)

    def test_secrets_unset_variable_is_exit_2_naming_it_nothing_applied(self):
        app = self.app()
        self.srv.admin("POST", "/_test/reset")
        env = secret_env()
        del env["STRIPE_KEY"]
        r = self.prenv(app, "deploy", env=env_for(**env))
        self.check(r, 2)
        self.assertIn("STRIPE_KEY", r.stderr)
        self.assertIn(".prenv.yml:", r.stderr)
        self.assertEqual([], self.writes())
        self.assertIsNone(self.get("/api/v1/namespaces/" + NS))
        # empty counts as unset: a missing GitHub secret expands to ""
        r = self.prenv(app, "deploy", env=env_for(**secret_env(PREVIEW_PASSWORD="")))
        self.check(r, 2)
        self.assertIn("PREVIEW_PASSWORD", r.stderr)
        self.assertEqual([], self.writes())

    def test_secrets_render_never_shows_values(self):
        app = self.app(extra=SECRETS + ACCESS + "  \n")
        for fmt in ("yaml", "json"):
            r = self.prenv(app, "render", "-o", fmt, env=env_for(**secret_env()))
            self.check(r)
            self.assertIn("kind: Ingress" if fmt == "yaml" else '"Ingress"', r.stdout)
            self.assertNotIn("app-secrets", r.stdout)
            self.assert_no_values(r.stdout, r.stderr)

    def test_secrets_image_pull_from_prenv_registry_auth(self):
        app = self.app(extra=SECRETS + "  image_pull: regcred\n")
        for form in (DOCKER_JSON, b64(DOCKER_JSON)):
            r = self.prenv(app, "deploy", env=env_for(**secret_env(PRENV_REGISTRY_AUTH=form)))
            self.check(r)
            s = self.get("/api/v1/namespaces/%s/secrets/regcred" % NS)
            self.assertEqual("kubernetes.io/dockerconfigjson", s["type"])
            cfg = json.loads(base64.b64decode(s["data"][".dockerconfigjson"]))
            self.assertEqual({"auths": {"ghcr.io": {"auth": REG_AUTH}}}, cfg)
            self.assertEqual("prenv", s["metadata"]["labels"]["app.kubernetes.io/managed-by"])
            self.assert_no_values(r.stdout, r.stderr)

    def test_secrets_image_pull_from_docker_config_dir(self):
        app = self.app(extra=SECRETS + "  image_pull: regcred\n")
        d = tmpdir(self)
        with open(os.path.join(d, "config.json"), "w") as f:
            f.write(DOCKER_JSON)
        r = self.prenv(app, "deploy", env=env_for(**secret_env(DOCKER_CONFIG=d)))
        self.check(r)
        s = self.get("/api/v1/namespaces/%s/secrets/regcred" % NS)
        cfg = json.loads(base64.b64decode(s["data"][".dockerconfigjson"]))
        self.assertEqual(REG_AUTH, cfg["auths"]["ghcr.io"]["auth"])
        self.assert_no_values(r.stdout, r.stderr)

    def test_secrets_image_pull_without_credentials_is_exit_2(self):
        app = self.app(extra=SECRETS + "  image_pull: regcred\n")
        self.srv.admin("POST", "/_test/reset")
        r = self.prenv(app, "deploy", env=env_for(**secret_env(DOCKER_CONFIG=tmpdir(self))))
        self.check(r, 2)
        self.assertIn("PRENV_REGISTRY_AUTH", r.stderr)
        self.assertEqual([], self.writes())

    def test_access_htpasswd_secret_and_ingress_annotations(self):
        app = self.app()
        r = self.prenv(app, "deploy", env=env_for(**secret_env()))
        self.check(r)
        s = self.get("/api/v1/namespaces/%s/secrets/prenv-basic-auth" % NS)
        self.assertIsNotNone(s)
        self.assertEqual("prenv", s["metadata"]["labels"]["app.kubernetes.io/managed-by"])
        line = base64.b64decode(s["data"]["auth"]).decode()
        self.assertTrue(line.startswith("preview:$apr1$"), line)
        self.assertTrue(apr1_ok(line, "preview", PASSWORD), line)
        self.assertEqual(s["data"]["auth"], s["data"]["users"])
        ing = self.get("/apis/networking.k8s.io/v1/namespaces/%s/ingresses/shop" % NS)
        ann = ing["metadata"]["annotations"]
        self.assertEqual("basic", ann["nginx.ingress.kubernetes.io/auth-type"])
        self.assertEqual("prenv-basic-auth", ann["nginx.ingress.kubernetes.io/auth-secret"])
        self.assertEqual("Preview", ann["nginx.ingress.kubernetes.io/auth-realm"])
        self.assert_no_values(r.stdout, r.stderr, line)

    def test_access_removed_from_config_unprotects_on_next_deploy(self):
        app = self.app()
        self.check(self.prenv(app, "deploy", env=env_for(**secret_env())))
        with open(os.path.join(app, ".prenv.yml"), "w") as f:
            f.write(config_text())
        self.check(self.prenv(app, "deploy", env=env_for()))
        self.assertIsNone(self.get("/api/v1/namespaces/%s/secrets/prenv-basic-auth" % NS))
        self.assertIsNone(self.get("/api/v1/namespaces/%s/secrets/app-secrets" % NS))
        ing = self.get("/apis/networking.k8s.io/v1/namespaces/%s/ingresses/shop" % NS)
        self.assertNotIn("nginx.ingress.kubernetes.io/auth-type", ing["metadata"].get("annotations") or {})


class SecretsConfigTest(unittest.TestCase):
    """secrets:/access: errors are exit 2 at file:line:col, with no cluster."""

    def run_cfg(self, cfg, cmd="render", **env):
        from util import run_prenv
        app = make_app(self, cfg)
        return run_prenv([cmd], env=env_for(**env), cwd=app)

    def test_secrets_refused_by_other_providers_at_file_line_col(self):
        for kind, extra in (("pages", "  source: site\n  target: \"dir:public\"\n"), ("command", "  deploy: [\"true\"]\n  destroy: [\"true\"]\n")):
            cfg = ("version: 1\napp: shop\nprovider:\n  kind: %s\n%senvironments:\n  - pull_request: true\n"
                   % (kind, extra)) + SECRETS
            r = self.run_cfg(cfg, "deploy", **secret_env())
            self.assertEqual(2, r.returncode, r.stderr)
            self.assertIn(".prenv.yml:%d:1:" % (cfg.count("\n", 0, cfg.index("secrets:")) + 1), r.stderr)
            self.assertIn("kubernetes", r.stderr)

    def test_secrets_config_errors(self):
        cases = [
            ("secrets:\n  from_env: [1BAD]\n", "CI variable"),
            ("secrets:\n  from_env: [A, A]\n", "twice"),
            ("secrets:\n  name: Bad_Name\n  from_env: [A]\n", "Secret name"),
            ("secrets:\n  nmae: x\n", "did you mean"),
            ("secrets:\n  name: x\n", "from_env"),
            ("access:\n  basic_auth: {user: \"a:b\", password_from_env: P}\n", "'user'"),
            ("access:\n  basic_auth: {user: a}\n", "password_from_env"),
        ]
        for extra, want in cases:
            r = self.run_cfg(config_text() + extra)
            self.assertEqual(2, r.returncode, extra + r.stderr)
            self.assertIn(want, r.stderr, extra)
            self.assertRegex(r.stderr, r"\.prenv\.yml:\d+:\d+:", extra)


class SecretsCommentTest(ServerCase, unittest.TestCase):
    """The PR comment says the preview is protected; no value reaches the
    code host."""

    def test_access_comment_says_protected_never_the_password(self):
        gh = start_github(self.dir, tokens={"ghs_bot": "github-actions[bot]:write"})
        self.addCleanup(gh.stop)
        gh.seed({"repo": "acme/shop", "pulls": [{"number": 7, "head_sha": "a" * 40, "head_ref": "feature/x",
                                                "base_ref": "main", "state": "open", "user": "alice"}]})
        app = make_app(self, config_text() + SECRETS + ACCESS)
        env = env_for(PRENV_API_URL=gh.url, PRENV_HOST="github", GITHUB_TOKEN="ghs_bot",
                      PRENV_HTTP_SLEEP_SCALE="0.01", **secret_env())
        r = self.prenv(app, "deploy", env=env)
        self.check(r)
        mine = [c for c in gh.state()["comments"] if c["body"].startswith("<!-- prenv:marker")]
        self.assertEqual(1, len(mine))
        body = mine[0]["body"]
        self.assertIn("protected", body)
        self.assertIn("preview", body)
        self.assertIn("PREVIEW\\_PASSWORD", body.replace("`PREVIEW_PASSWORD`", "PREVIEW\\_PASSWORD"))
        self.assert_no_values_in(json.dumps(gh.requests()), json.dumps(gh.state()), r.stdout, r.stderr)
        self.assertEqual([], gh.invalid_requests())

    def assert_no_values_in(self, *texts):
        for t in texts:
            for v in VALUES:
                self.assertNotIn(v, t)


if __name__ == "__main__":
    unittest.main()
