"""The URL check (first-hour issue item 19) on the REAL Kubernetes
(test/k8s-real, 1.20): a busybox httpd Deployment behind a NodePort Service
(NodePorts answer on 127.0.0.1 through the real kube-proxy's iptables
rules). With the Service pointing at the container's port the check passes
and prenv reports ready; with a wrong targetPort the pods are ready all the
same but nothing answers behind the Service, and the deploy fails (exit 1)
saying what the check got. Skipped without a cluster, like every real_*.py."""
import json
import os
import random
import time

from real_k8s_hardening import RealHardeningBase, env_for, real_app

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: web
  template:
    metadata:
      labels:
        app.kubernetes.io/name: web
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: web
          image: busybox-httpd:local
          imagePullPolicy: Never
          ports:
            - name: http
              containerPort: 8080
              protocol: TCP
          readinessProbe:
            httpGet:
              path: /
              port: http
            periodSeconds: 2
"""

SERVICE = """apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: NodePort
  selector:
    app.kubernetes.io/name: web
  ports:
    - name: http
      port: 80
      targetPort: %(target)s
      nodePort: %(node)d
      protocol: TCP
"""


def config(app, node_port, timeout):
    return """version: 1
app: %s
templates: tpl
url: "https://{{env.name}}.preview.example.com"
provider:
  kind: kubernetes
  wait: 150s
environments:
  - pull_request: true
check:
  url: "http://127.0.0.1:%d"
  path: /
  status: 200
  timeout: %s
""" % (app, node_port, timeout)


class RealUrlCheckTest(RealHardeningBase):
    APP = real_app("rcheck")

    def free_node_port(self):
        _, _, body = self.c.api("GET", "/api/v1/services")
        used = {p.get("nodePort") for s in body["items"] for p in s["spec"].get("ports", [])}
        while True:
            port = random.randint(30000, 32767)
            if port not in used:
                return port

    def deploy(self, target_port, timeout="60s"):
        with open(os.path.join(self.app, ".prenv.yml"), "w") as f:
            f.write(config(self.APP, self.node_port, timeout))
        # the port numbers go into the template as they are (a value
        # would be a YAML string)
        self.template("service.yaml", SERVICE % {"target": target_port, "node": self.node_port})
        t0 = time.time()
        r = self.prenv("-o", "json", "deploy", env=env_for(pr=self.PR))
        r.took = time.time() - t0
        return r

    def test_check_passes_on_httpd_and_fails_on_a_wrong_target_port(self):
        self.node_port = self.free_node_port()
        self.template("deployment.yaml", DEPLOYMENT)
        r = self.deploy("http")
        self.ok(r, "deploy of busybox httpd behind a NodePort")
        self.assertEqual("ready", json.loads(r.stdout)["status"])
        self.assertIn("URL check passed: http://127.0.0.1:%d/ answered 200" % self.node_port, r.stderr)
        print("\n# real cluster: deploy + URL check via NodePort %d ready in %.1f s"
              % (self.node_port, r.took))
        # A second environment whose Service sends to a port nothing listens
        # on: its pods are ready all the same. (A fresh environment, not a
        # redeploy of the first: right after a Service changes, kube-proxy
        # may still route by the old rules for a moment, and a check in
        # that moment rightly gets the old answer.)
        self.PR = 8
        self.addCleanup(self.cleanup_namespace)
        self.node_port = self.free_node_port()
        r = self.deploy("9090", timeout="8s")
        self.ok(r, "deploy with the Service at the wrong port", 1)
        self.assertEqual("failed", json.loads(r.stdout)["status"])
        self.assertIn("deployment/web 1/1 ready", r.stderr)
        self.assertIn("URL check failed: GET http://127.0.0.1:%d/ got no answer" % self.node_port, r.stderr)
        self.assertIn("Couldn't connect to server", r.stderr)
        errors = [line for line in r.stderr.splitlines() if line.startswith("prenv: error:")]
        print("# real cluster: wrong targetPort, after %.1f s: %s" % (r.took, errors[-1] if errors else r.stderr))
