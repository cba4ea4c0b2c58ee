"""End to end on a REAL Kubernetes (1.20, test/k8s-real): `phases:` and
`on_destroy:` (issue 12) where Jobs really run.

  - a busybox `httpd` StatefulSet (the PostgreSQL-less stand-in) is ready
    before the seed phase's Job is created; the app's Deployment is created
    after the seed Job completed; a ConfigMap of the seed phase reaches the
    app's template as outputs.seed.*;
  - a redeploy does not run the seed again; --reseed does (a new Job);
  - a busybox Job that exits 1 fails the deploy (exit 1) with its real log
    lines, and the app phase is never applied;
  - destroy runs the on_destroy Job (it really runs) before the namespace
    is deleted.

The cluster comes from the environment as for real_k8s_hardening.py
(PRENV_K8S_REAL_RUN or PRENV_K8S_REAL_KUBECONFIG); without one the tests
are skipped."""
import json
import os
import time
import unittest

from real_k8s_hardening import RUN, RealHardeningBase, real_app

CONFIG = """version: 1
app: %(app)s
url: "https://{{env.name}}.preview.example.com"
provider:
  kind: kubernetes
  wait: 300s
environments:
  - pull_request: true
values:
  seed_script: "%(script)s"
phases:
  - name: data
    templates: data
  - name: seed
    templates: seed
    run: once
    outputs: configmap/seed-out
  - name: app
    templates: app
on_destroy:
  templates: teardown
  timeout: 90s
"""

DATA = """apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  serviceName: db
  replicas: 1
  selector:
    matchLabels: {app: db}
  template:
    metadata:
      labels: {app: db}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: db
          image: busybox-httpd:local
          imagePullPolicy: IfNotPresent
          ports:
            - {name: http, containerPort: 8080, protocol: TCP}
          readinessProbe:
            httpGet: {path: /, port: http}
            periodSeconds: 1
"""

SEED = """apiVersion: v1
kind: ConfigMap
metadata:
  name: seed-out
data:
  db_host: db-0.db
  rows: "42"
---
apiVersion: batch/v1
kind: Job
metadata:
  name: seed
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers:
        - name: seed
          image: busybox:local
          imagePullPolicy: IfNotPresent
          command: ["sh", "-c", "{{values.seed_script}}"]
"""

APP = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: web
          image: busybox-httpd:local
          imagePullPolicy: IfNotPresent
          env:
            - {name: DB_HOST, value: {{outputs.seed.db_host}}}
            - {name: ROWS, value: "{{outputs.seed.rows}}"}
          ports:
            - {name: http, containerPort: 8080, protocol: TCP}
          readinessProbe:
            httpGet: {path: /, port: http}
            periodSeconds: 1
"""

TEARDOWN = """apiVersion: batch/v1
kind: Job
metadata:
  name: drop
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers:
        - name: drop
          image: busybox:local
          imagePullPolicy: IfNotPresent
          command: ["sh", "-c", "echo dropping the branch of this environment; sleep 1; echo dropped"]
"""

GOOD = "echo restoring the dump; sleep 2; echo restored 42 rows"
BAD = "echo restoring the dump; echo 'ERROR: relation users does not exist' >&2; exit 1"


@unittest.skipUnless(RUN, "no real cluster (set PRENV_K8S_REAL_RUN or PRENV_K8S_REAL_KUBECONFIG)")
class RealPhasesTest(RealHardeningBase):
    APP = real_app("rphase")

    def phases(self, script):
        for sub, text in (("data", DATA), ("seed", SEED), ("app", APP), ("teardown", TEARDOWN)):
            d = os.path.join(self.app, sub)
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "t.yaml"), "w") as f:
                f.write(text)
        with open(os.path.join(self.app, ".prenv.yml"), "w") as f:
            f.write(CONFIG % dict(app=self.APP, script=script))

    def obj(self, path):
        return self.get(path % {"ns": self.ns()})

    def test_phases_seed_once_reseed_teardown(self):
        self.phases(GOOD)
        t0 = time.time()
        r = self.prenv("deploy")
        self.ok(r, "deploy in phases")
        print("\n# real cluster: 3 phases ready in %.1f s: %s" % (
            time.time() - t0, [ln for ln in r.stderr.splitlines() if "phases:" in ln][-1]))
        self.assertIn("seed \u2713 (once, ", r.stderr)
        pod = self.obj("/api/v1/namespaces/%(ns)s/pods/db-0")
        ready = [c for c in pod["status"]["conditions"] if c["type"] == "Ready"][0]
        job = self.obj("/apis/batch/v1/namespaces/%(ns)s/jobs/seed")
        web = self.obj("/apis/apps/v1/namespaces/%(ns)s/deployments/web")
        self.assertEqual("True", ready["status"])
        # the database was ready before the seed Job was made; the app came after the seed completed
        self.assertLessEqual(ready["lastTransitionTime"], job["metadata"]["creationTimestamp"])
        self.assertEqual(1, job["status"].get("succeeded"), json.dumps(job["status"]))
        self.assertGreaterEqual(web["metadata"]["creationTimestamp"], job["status"]["completionTime"])
        env = {e["name"]: e["value"] for e in web["spec"]["template"]["spec"]["containers"][0]["env"]}
        self.assertEqual({"DB_HOST": "db-0.db", "ROWS": "42"}, env)
        uid = job["metadata"]["uid"]
        r = self.prenv("deploy")
        self.ok(r, "redeploy")
        self.assertIn("seed \u2713 (once, earlier)", r.stderr)
        self.assertEqual(uid, self.obj("/apis/batch/v1/namespaces/%(ns)s/jobs/seed")["metadata"]["uid"])
        r = self.prenv("deploy", "--reseed")
        self.ok(r, "deploy --reseed")
        job = self.obj("/apis/batch/v1/namespaces/%(ns)s/jobs/seed")
        self.assertNotEqual(uid, job["metadata"]["uid"])
        self.assertEqual(1, job["status"].get("succeeded"))
        t0 = time.time()
        r = self.prenv("destroy")
        self.ok(r, "destroy with teardown")
        self.assertIn("job/drop complete", r.stderr)
        self.assertLess(r.stderr.index("teardown: done"), r.stderr.index("namespace/%s: deletion" % self.ns()))
        self.assertIsNone(self.get("/api/v1/namespaces/" + self.ns()))
        print("# real cluster: teardown Job and namespace deletion took %.1f s" % (time.time() - t0))

    def test_failed_seed_job_shows_its_real_logs(self):
        self.PR = 8
        self.phases(BAD)
        r = self.prenv("deploy")
        self.ok(r, "deploy with a failing seed", 1)
        self.assertIn("phase seed", r.stderr)
        self.assertIn("BackoffLimitExceeded", r.stderr)
        self.assertIn("restoring the dump", r.stderr)                     # its real log lines
        self.assertIn("ERROR: relation users does not exist", r.stderr)
        self.assertIn("app \u2013", r.stderr)
        self.assertIsNone(self.obj("/apis/apps/v1/namespaces/%(ns)s/deployments/web"))
        print("\n# real cluster: %s" % "\n# ".join(ln for ln in r.stderr.splitlines()
                                                    if ln.startswith("prenv: error") or "phases:" in ln))

    def services_checkout(self, script):
        """phases of services: data = service db (api.git), seed = a Job
        directory, app = services api (api.git) and web (this checkout)."""
        from test_services import make_repo
        git_root = os.path.join(self.dir, "git")
        self.api_shas = make_repo(os.path.join(git_root, "acme", "api.git"), ("main",))
        api_url = "file://" + os.path.join(git_root, "acme", "api.git")
        files = {"deploy/db/t.yaml": DATA.replace("image: busybox-httpd:local", "image: \"{{service.image}}\""),
                 "deploy/seed/t.yaml": SVC_SEED, "deploy/teardown/t.yaml": TEARDOWN}
        for n in ("api", "web"):
            files["deploy/%s/t.yaml" % n] = SVC_APP % {"name": n}
        for rel, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(self.app, rel)), exist_ok=True)
            with open(os.path.join(self.app, rel), "w") as f:
                f.write(text)
        with open(os.path.join(self.app, ".prenv.yml"), "w") as f:
            f.write(SVC_CONFIG % dict(app=self.APP, script=script, api_url=api_url))

    def test_phases_of_services_from_two_repositories(self):
        self.PR = 9
        # a seed that fails: db is applied and ready, api and web never are
        self.services_checkout(BAD)
        r = self.prenv("deploy")
        self.ok(r, "deploy of services with a failing seed", 1)
        self.assertIn("ERROR: relation users does not exist", r.stderr)   # its real log lines
        self.assertIn("app [api, web] \u2013", r.stderr)
        self.assertIsNotNone(self.obj("/apis/apps/v1/namespaces/%(ns)s/statefulsets/db"))
        for n in ("api", "web"):
            self.assertIsNone(self.obj("/apis/apps/v1/namespaces/%(ns)s/deployments/" + n))
        # the seed fixed: data [db], then the seed Job, then api and web
        self.services_checkout(GOOD)
        t0 = time.time()
        r = self.prenv("deploy")
        self.ok(r, "deploy of services in phases")
        line = [ln for ln in r.stderr.splitlines() if "phases:" in ln][-1]
        print("\n# real cluster: phases of services ready in %.1f s: %s" % (time.time() - t0, line))
        self.assertIn("data [db] \u2713", line)
        self.assertIn("app [api, web] \u2713", line)
        pod = self.obj("/api/v1/namespaces/%(ns)s/pods/db-0")
        ready = [c for c in pod["status"]["conditions"] if c["type"] == "Ready"][0]
        job = self.obj("/apis/batch/v1/namespaces/%(ns)s/jobs/seed")
        self.assertEqual(1, job["status"].get("succeeded"), json.dumps(job["status"]))
        self.assertLessEqual(ready["lastTransitionTime"], job["metadata"]["creationTimestamp"])
        self.assertNotIn("prenv.dev/service", job["metadata"]["labels"])
        main = self.api_shas["main"]
        for n, sha in (("api", main), ("web", "d" * 40)):
            dep = self.obj("/apis/apps/v1/namespaces/%(ns)s/deployments/" + n)
            self.assertGreaterEqual(dep["metadata"]["creationTimestamp"], job["status"]["completionTime"])
            self.assertEqual(("app", n), (dep["metadata"]["labels"]["prenv.dev/phase"],
                                          dep["metadata"]["labels"]["prenv.dev/service"]))
            env = {e["name"]: e["value"] for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]}
            self.assertEqual(sha, env["SERVICE_SHA"], n)
        sts = self.obj("/apis/apps/v1/namespaces/%(ns)s/statefulsets/db")
        self.assertEqual(("data", "db", main), (sts["metadata"]["labels"]["prenv.dev/phase"],
                                                sts["metadata"]["labels"]["prenv.dev/service"],
                                                sts["metadata"]["labels"]["prenv.dev/service-sha"]))
        # a redeploy does not seed again
        uid = job["metadata"]["uid"]
        r = self.prenv("deploy")
        self.ok(r, "redeploy of services in phases")
        self.assertIn("seed \u2713 (once, earlier)", r.stderr)
        self.assertEqual(uid, self.obj("/apis/batch/v1/namespaces/%(ns)s/jobs/seed")["metadata"]["uid"])
        # destroy runs the teardown Job first
        r = self.prenv("destroy")
        self.ok(r, "destroy of services in phases")
        self.assertIn("job/drop complete", r.stderr)
        self.assertLess(r.stderr.index("teardown: done"), r.stderr.index("namespace/%s: deletion" % self.ns()))
        self.assertIsNone(self.get("/api/v1/namespaces/" + self.ns()))


SVC_CONFIG = CONFIG.split("phases:\n")[0] + """services:
  db:
    repo: %(api_url)s
    templates: deploy/db
    image: busybox-httpd:local
  api:
    repo: %(api_url)s
    templates: deploy/api
  web:
    templates: deploy/web
phases:
  - name: data
    templates: db
  - name: seed
    templates: deploy/seed
    run: once
  - name: app
    templates: [api, web]
on_destroy:
  templates: deploy/teardown
  timeout: 90s
"""

SVC_SEED = SEED.split("---\n", 1)[1].replace(
    "          command:", "          env:\n            - {name: DB_SHA, value: \"{{services.db.sha}}\"}\n"
    "          command:")

SVC_APP = APP.replace("name: web", "name: %(name)s").replace("app: web", "app: %(name)s").replace(
    """            - {name: DB_HOST, value: {{outputs.seed.db_host}}}
            - {name: ROWS, value: "{{outputs.seed.rows}}"}""",
    """            - {name: SERVICE_SHA, value: "{{service.sha}}"}""")


if __name__ == "__main__":
    unittest.main()
