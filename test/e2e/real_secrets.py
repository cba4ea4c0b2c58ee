"""On the REAL Kubernetes (1.20, test/k8s-real): `secrets:` and `access:`
(issue 16 items 11 and 20). The kube-apiserver accepts prenv's Secrets
(Opaque, dockerconfigjson) by server-side apply with prenv's labels, and
the Ingress carries ingress-nginx's basic-auth annotations. Skipped without
a cluster, like real_k8s_hardening.py."""
import base64
import json
import os
import subprocess

from real_k8s_hardening import RealHardeningBase, env_for, real_app

PASSWORD = "real-Preview-pass-42"
TOKEN = "real-registry-token-9f8e7d"
REG_AUTH = base64.b64encode(b"ci-bot:real-reg-pass-77").decode()


class RealSecretsTest(RealHardeningBase):
    APP = real_app("rsecret")

    def test_secrets_and_basic_auth_on_a_real_cluster(self):
        self.config(extra="")
        with open(os.path.join(self.app, ".prenv.yml"), "a") as f:
            f.write("secrets:\n  from_env: [REGISTRY_TOKEN]\n  image_pull: regcred\n"
                    "access:\n  basic_auth: {user: preview, password_from_env: PREVIEW_PASSWORD}\n")
        self.web_templates()
        env = env_for(pr=self.PR, REGISTRY_TOKEN=TOKEN, PREVIEW_PASSWORD=PASSWORD,
                      PRENV_REGISTRY_AUTH=json.dumps({"auths": {"ghcr.io": {"auth": REG_AUTH}}}))
        r = self.prenv("deploy", env=env)
        self.ok(r, "deploy with secrets and access")
        for v in (TOKEN, PASSWORD, REG_AUTH):
            self.assertNotIn(v, r.stdout + r.stderr)
        ns = self.ns()
        s = self.get("/api/v1/namespaces/%s/secrets/%s-secrets" % (ns, self.APP))
        self.assertIsNotNone(s, "Secret %s-secrets" % self.APP)
        self.assertEqual("prenv", s["metadata"]["labels"]["app.kubernetes.io/managed-by"])
        self.assertEqual(TOKEN, base64.b64decode(s["data"]["REGISTRY_TOKEN"]).decode())
        reg = self.get("/api/v1/namespaces/%s/secrets/regcred" % ns)
        self.assertEqual("kubernetes.io/dockerconfigjson", reg["type"])
        auth = self.get("/api/v1/namespaces/%s/secrets/prenv-basic-auth" % ns)
        line = base64.b64decode(auth["data"]["auth"]).decode().strip()
        user, h = line.split(":", 1)
        want = subprocess.run(["openssl", "passwd", "-apr1", "-salt", h.split("$")[2], PASSWORD],
                              capture_output=True, text=True, check=True).stdout.strip()
        self.assertEqual(("preview", want), (user, h))
        ing = self.get("/apis/networking.k8s.io/v1/namespaces/%s/ingresses/%s" % (ns, self.APP))
        ann = ing["metadata"]["annotations"]
        self.assertEqual("basic", ann["nginx.ingress.kubernetes.io/auth-type"])
        self.assertEqual("prenv-basic-auth", ann["nginx.ingress.kubernetes.io/auth-secret"])
        self.assertIn("nginx.ingress.kubernetes.io/auth-realm", ann)
        print("\n# real cluster: 3 Secrets and the protected Ingress applied")
