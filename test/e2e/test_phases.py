"""End to end: `phases:` and `on_destroy:` (issue 12) with the prenv binary
against test/servers/k8s_server.py, whose controller runs Jobs by image
name (an image with "fail" in its name fails, with log lines; any other
completes after --ready-delay) and, standing in for a Job's container,
writes the ConfigMap a Job's test.prenv.dev/writes-configmap annotation
names when it completes."""
import json
import os
import unittest

from util import tmpdir
from k8s_e2e import K8sServer, ServerCase, env_for

NS = "/api/v1/namespaces/shop-pr-7"
JOBS = "/apis/batch/v1/namespaces/shop-pr-7/jobs"

CONFIG = """version: 1
app: shop
url: "https://{{env.name}}.preview.example.com"
provider:
  kind: kubernetes
  wait: 30s
environments:
  - pull_request: true
values:
  seed_image: "%(seed_image)s"
  seed_script: "%(seed_script)s"
  teardown_image: "%(teardown_image)s"
phases:
  - name: data
    templates: deploy/data
  - name: seed
    templates: deploy/seed
    run: once
    outputs: configmap/seed-out
  - name: app
    templates: deploy/app
on_destroy:
  templates: deploy/teardown
  timeout: 30s
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
      containers:
        - name: db
          image: busybox:1.36
---
apiVersion: v1
kind: Service
metadata:
  name: db
spec:
  selector: {app: db}
  ports:
    - port: 5432
"""

SEED = """apiVersion: batch/v1
kind: Job
metadata:
  name: seed
  annotations:
    test.prenv.dev/writes-configmap: seed-out
    test.prenv.dev/configmap-data: '{"db_host": "branch-7.db.example.com", "db_name": "shop_pr_7"}'
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: seed
          image: {{values.seed_image}}
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
      containers:
        - name: web
          image: nginx:1.27
          env:
            - name: DB_HOST
              value: {{outputs.seed.db_host}}
            - name: DB_NAME
              value: {{outputs.seed.db_name}}
"""

TEARDOWN = """apiVersion: batch/v1
kind: Job
metadata:
  name: drop-branch
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: drop
          image: {{values.teardown_image}}
"""


def write(d, rel, text):
    p = os.path.join(d, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "w") as f:
        f.write(text)


def make_app(tc, seed_image="busybox:1.36", seed_script="restore", teardown_image="busybox:1.36",
             files=None):
    d = tmpdir(tc)
    write(d, ".prenv.yml", CONFIG % dict(seed_image=seed_image, seed_script=seed_script,
                                          teardown_image=teardown_image))
    base = {"deploy/data/db.yaml": DATA, "deploy/seed/job.yaml": SEED, "deploy/app/web.yaml": APP,
            "deploy/teardown/job.yaml": TEARDOWN}
    base.update(files or {})
    for rel, text in base.items():
        if text is not None:
            write(d, rel, text)
    return d


class PhasesTest(ServerCase, unittest.TestCase):
    # long enough that an object applied without waiting for the phase
    # before it is created in an earlier second than that phase completed
    SERVER_ARGS = ["--ready-delay", "1.2", "--terminate-delay", "0.3"]

    def job(self, name="seed"):
        return self.get("%s/%s" % (JOBS, name))

    def test_phases_apply_in_order_and_outputs_reach_the_app(self):
        app = make_app(self)
        r = self.prenv(app, "deploy")
        self.check(r)
        self.assertIn("phase data (1 of 3): applying", r.stderr)
        self.assertIn("phases: data \u2713", r.stderr)
        self.assertIn("seed \u2713 (once, ", r.stderr)
        self.assertIn("app \u2713", r.stderr)
        self.assertIn("| Phases | data \u2713", r.stderr)  # the PR comment (printed on a local run)
        sts = self.get("/apis/apps/v1/namespaces/shop-pr-7/statefulsets/db")
        job = self.job()
        web = self.get("/apis/apps/v1/namespaces/shop-pr-7/deployments/web")
        # every object carries its phase
        self.assertEqual("data", sts["metadata"]["labels"]["prenv.dev/phase"])
        self.assertEqual("seed", job["metadata"]["labels"]["prenv.dev/phase"])
        self.assertEqual("app", web["metadata"]["labels"]["prenv.dev/phase"])
        # the seed Job started after the database was ready, the app after the seed completed
        ready = [c for c in job["status"]["conditions"] if c["type"] == "Complete"][0]
        self.assertGreaterEqual(job["metadata"]["creationTimestamp"], sts["metadata"]["creationTimestamp"])
        self.assertGreaterEqual(web["metadata"]["creationTimestamp"], ready["lastTransitionTime"])
        self.assertGreaterEqual(web["metadata"]["creationTimestamp"], job["status"]["completionTime"])
        env = {e["name"]: e["value"] for e in web["spec"]["template"]["spec"]["containers"][0]["env"]}
        self.assertEqual({"DB_HOST": "branch-7.db.example.com", "DB_NAME": "shop_pr_7"}, env)
        ns = self.get(NS)
        self.assertIn("prenv.dev/phase-seed", ns["metadata"]["annotations"])

    def test_failed_seed_job_stops_before_app(self):
        app = make_app(self, seed_image="registry.example.com/seed-fail:1")
        r = self.prenv(app, "deploy")
        self.check(r, 1)
        self.assertIn("phase seed", r.stderr)
        self.assertIn("BackoffLimitExceeded", r.stderr)
        self.assertIn("error: task failed: exit code 1", r.stderr)  # its log lines
        self.assertIn("seed \u2717", r.stderr)
        self.assertIn("app \u2013", r.stderr)
        self.assertIn("**Reason:** phase seed: job/seed failed: BackoffLimitExceeded", r.stderr)
        self.assertIsNone(self.get("/apis/apps/v1/namespaces/shop-pr-7/deployments/web"))
        self.assertIsNotNone(self.get("/apis/apps/v1/namespaces/shop-pr-7/statefulsets/db"))
        # a failed once phase is not remembered: the next deploy runs it
        ns = self.get(NS)
        self.assertNotIn("prenv.dev/phase-seed", ns["metadata"].get("annotations") or {})

    def test_failed_job_logs_when_the_pod_stream_lags(self):
        # the Job's failure arrives before its pod's (on a loaded machine the
        # two watch streams drift apart): the log lines are still there
        self.srv.stop()
        self.srv = K8sServer(tls=True, tokens=[self.TOKEN],
                             args=self.SERVER_ARGS + ["--pod-watch-lag", "3"]).start()
        self.addCleanup(self.srv.stop)
        self.kc = self.srv.write_kubeconfig(os.path.join(self.dir, "kubeconfig"))
        app = make_app(self, seed_image="registry.example.com/seed-fail:1")
        r = self.prenv(app, "deploy")
        self.check(r, 1)
        self.assertIn("BackoffLimitExceeded", r.stderr)
        self.assertIn("error: task failed: exit code 1", r.stderr)  # its log lines

    def test_redeploy_skips_once_phase_and_reseed_runs_it(self):
        app = make_app(self)
        self.check(self.prenv(app, "deploy"))
        uid = self.job()["metadata"]["uid"]
        r = self.prenv(app, "deploy")
        self.check(r)
        self.assertIn("seed \u2713 (once, earlier)", r.stderr)
        self.assertEqual(uid, self.job()["metadata"]["uid"])  # not run again
        # its outputs still reach the app
        web = self.get("/apis/apps/v1/namespaces/shop-pr-7/deployments/web")
        self.assertIn("branch-7.db.example.com", json.dumps(web["spec"]))
        r = self.prenv(app, "deploy", "--reseed")
        self.check(r)
        self.assertIn("--reseed: it runs again", r.stderr)
        job = self.job()
        self.assertNotEqual(uid, job["metadata"]["uid"])
        self.assertTrue(any(c["type"] == "Complete" for c in job["status"]["conditions"]))

    def test_changed_job_spec_is_created_anew(self):
        app = make_app(self)
        self.check(self.prenv(app, "deploy"))
        uid = self.job()["metadata"]["uid"]
        app2 = make_app(self, seed_script="restore --from v2")
        write(app2, ".prenv.yml", open(os.path.join(app2, ".prenv.yml")).read())
        r = self.prenv(app2, "deploy")
        self.check(r)
        self.assertIn("has changed since it ran", r.stderr)  # once: not re-run silently
        r = self.prenv(app2, "deploy", "--reseed")
        self.check(r)
        self.assertNotIn("immutable", r.stderr)
        self.assertIn("job/seed: deleted, to run anew in phase seed", r.stderr)
        job = self.job()
        self.assertNotEqual(uid, job["metadata"]["uid"])
        self.assertIn("restore --from v2", json.dumps(job["spec"]["template"]))

    def test_changed_job_in_an_always_phase_runs_anew(self):
        migrate = SEED.replace("name: seed\n  annotations:", "name: migrate\n  annotations:").replace(
            "seed-out", "migrate-out").replace("name: seed\n", "name: migrate\n")
        app = make_app(self, files={"deploy/app/migrate.yaml": migrate.replace("{{values.seed_script}}", "v1")})
        self.check(self.prenv(app, "deploy"))
        uid = self.job("migrate")["metadata"]["uid"]
        write(app, "deploy/app/migrate.yaml", migrate.replace("{{values.seed_script}}", "v2"))
        r = self.prenv(app, "deploy")
        self.check(r)
        self.assertNotIn("immutable", r.stderr)
        self.assertIn("job/migrate: deleted, to run anew in phase app", r.stderr)
        job = self.job("migrate")
        self.assertNotEqual(uid, job["metadata"]["uid"])
        self.assertIn('"v2"', json.dumps(job["spec"]["template"]))
        self.assertTrue(any(c["type"] == "Complete" for c in job["status"]["conditions"]))

    def test_no_wait_applies_to_the_last_phase_only(self):
        app = make_app(self)
        r = self.prenv(app, "deploy", "--no-wait")
        self.check(r)
        self.assertIn("phase data: waited on (up to 300 s) although not waiting was asked", r.stderr)
        self.assertIn("job/seed complete", r.stderr)
        web = self.get("/apis/apps/v1/namespaces/shop-pr-7/deployments/web")
        self.assertIn("branch-7.db.example.com", json.dumps(web["spec"]))

    def test_secrets_are_written_once_with_the_first_phase(self):
        app = make_app(self)
        with open(os.path.join(app, ".prenv.yml"), "a") as f:
            f.write("secrets:\n  from_env: [SEED_TOKEN]\n")
        env = env_for(SEED_TOKEN="s3cret-seed-token-value")
        r = self.prenv(app, "deploy", env=env)
        self.check(r)
        self.assertNotIn("s3cret-seed-token-value", r.stderr + r.stdout)
        sec = self.get("/api/v1/namespaces/shop-pr-7/secrets/shop-secrets")
        self.assertEqual("data", sec["metadata"]["labels"]["prenv.dev/phase"])
        self.assertEqual(1, r.stderr.count("secret/shop-secrets"), r.stderr)
        # a redeploy (seed skipped) keeps it: no phase prunes it
        self.check(self.prenv(app, "deploy", env=env))
        self.assertIsNotNone(self.get("/api/v1/namespaces/shop-pr-7/secrets/shop-secrets"))

    def test_template_error_in_a_later_phase_changes_nothing(self):
        app = make_app(self, files={"deploy/app/web.yaml": APP.replace("outputs.seed.db_host",
                                                                       "outputs.seed.db_host}} {{nope")})
        r = self.prenv(app, "deploy")
        self.check(r, 2)
        self.assertIn("deploy/app/web.yaml:", r.stderr)
        self.assertIn("'nope' is not defined", r.stderr)
        self.assertIsNone(self.get(NS))

    def test_unknown_kind_in_a_later_phase_changes_nothing(self):
        # the server does not serve it: found by discovery before the first
        # phase is applied (the provider's precheck), not after it ran
        app = make_app(self, files={"deploy/app/thing.yaml": "apiVersion: nosuch.io/v9\nkind: Thing\n"
                                    "metadata:\n  name: t\n"})
        r = self.prenv(app, "deploy")
        self.check(r, 2)
        self.assertIn("phase app", r.stderr)
        self.assertIn("does not serve kind Thing of apiVersion nosuch.io/v9", r.stderr)
        self.assertIn("deploy/app/thing.yaml:1", r.stderr)
        self.assertNotIn("phase data (1 of 3): applying", r.stderr)
        self.assertIsNone(self.get(NS))

    def test_output_of_a_later_phase_is_an_error(self):
        app = make_app(self, files={"deploy/data/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
                                    "  name: x\ndata:\n  h: {{outputs.app.host}}\n"})
        r = self.prenv(app, "deploy")
        self.check(r, 2)
        self.assertIn("deploy/data/cm.yaml:6:", r.stderr)
        self.assertIsNone(self.get(NS))

    def test_destroy_runs_teardown_then_deletes(self):
        app = make_app(self)
        self.check(self.prenv(app, "deploy"))
        r = self.prenv(app, "destroy")
        self.check(r)
        self.assertIn("teardown: running the on_destroy Jobs", r.stderr)
        self.assertIn("job/drop-branch", r.stderr)
        self.assertIn("teardown: done", r.stderr)
        self.assertLess(r.stderr.index("teardown: done"), r.stderr.index("deletion started"))
        self.assertIsNone(self.get(NS))

    def test_failed_teardown_still_deletes_unless_kept(self):
        app = make_app(self, teardown_image="registry.example.com/drop-fail:1")
        self.check(self.prenv(app, "deploy"))
        r = self.prenv(app, "destroy", "--keep-on-teardown-failure")
        self.check(r, 1)
        self.assertIn("teardown of pr-7 failed", r.stderr)
        self.assertIsNotNone(self.get(NS))
        r = self.prenv(app, "destroy")
        self.check(r, 1)
        self.assertIn("deleting environment pr-7 anyway", r.stderr)
        self.assertIsNone(self.get(NS))

    def test_gc_runs_teardown(self):
        app = make_app(self)
        self.check(self.prenv(app, "deploy"))
        cfg = open(os.path.join(app, ".prenv.yml")).read().replace(
            "  - pull_request: true\n", "  - pull_request: true\n    ttl: 1s\n")
        write(app, ".prenv.yml", cfg)
        import time
        time.sleep(1.5)
        r = self.prenv(app, "gc", env=env_for(pr=""))
        self.check(r)
        self.assertIn("teardown: done", r.stderr)
        self.assertIn("destroyed", r.stdout)

    def test_dry_run_checks_every_phase_and_changes_nothing(self):
        app = make_app(self)
        r = self.prenv(app, "--dry-run", "deploy")
        self.check(r)
        self.assertIn("dry run: statefulset/db would be applied", r.stderr)
        self.assertIn("dry run: job/seed would be applied (created anew)", r.stderr)
        self.assertIn("dry run: deployment/web would be applied", r.stderr)
        self.assertIn("dry run: nothing was changed", r.stderr)
        self.assertIsNone(self.get(NS))

    def test_same_object_in_two_phases_is_an_error(self):
        app = make_app(self, files={"deploy/app/db.yaml": DATA.split("---")[1]})
        r = self.prenv(app, "deploy")
        self.check(r, 2)
        self.assertIn("service/db of phase app is in phase data too", r.stderr.replace("Service/", "service/"))
        self.assertIsNone(self.get(NS))

    def test_phases_rejected_for_pages(self):
        d = tmpdir(self)
        write(d, ".prenv.yml", "app: shop\nprovider:\n  kind: pages\n  source: public\n  target: dir:out\nenvironments:\n"
              "  - pull_request: true\nphases:\n  - name: a\n    templates: t\n")
        r = self.prenv(d, "deploy")
        self.check(r, 2)
        self.assertIn(".prenv.yml:8:1: 'phases' needs provider.kind kubernetes", r.stderr)

    def test_render_shows_every_phase(self):
        app = make_app(self)
        r = self.prenv(app, "render")
        self.check(r)
        self.assertIn("kind: StatefulSet", r.stdout)
        self.assertIn("kind: Job", r.stdout)
        self.assertIn("kind: Deployment", r.stdout)


if __name__ == "__main__":
    unittest.main()


class RecipesTest(unittest.TestCase):
    """Each recipe under templates/ renders with `prenv render` from its
    example.prenv.yml (no cluster)."""

    def render(self, recipe, extra_phase=None):
        import shutil
        from util import ROOT, run_prenv
        d = tmpdir(self)
        shutil.copytree(os.path.join(ROOT, "templates", recipe), os.path.join(d, recipe))
        cfg = os.path.join(d, recipe, "example.prenv.yml")
        if extra_phase:  # one more phase, before on_destroy:
            with open(cfg) as f:
                text = f.read()
            with open(cfg, "w") as f:
                f.write(text.replace("on_destroy:", extra_phase + "on_destroy:"))
        r = run_prenv(["-c", cfg, "render", "-o", "json"], env=env_for(), cwd=d)
        self.assertEqual(0, r.returncode, r.stderr)
        return json.loads(r.stdout)

    def kinds(self, objs):
        return sorted("%s/%s" % (o["kind"], o["metadata"]["name"]) for o in objs)

    def test_postgres_seed(self):
        objs = self.render("postgres-seed")
        self.assertEqual(["Job/restore", "Secret/postgres", "Service/postgres", "StatefulSet/postgres"],
                         self.kinds(objs))

    def test_db_branch_and_its_teardown(self):
        objs = self.render("db-branch", "  - name: down\n    templates: teardown\n")
        self.assertEqual(["Job/create-branch", "Job/delete-branch", "Role/db-branch", "RoleBinding/db-branch",
                          "ServiceAccount/db-branch"], self.kinds(objs))
        job = [o for o in objs if o["metadata"]["name"] == "create-branch"][0]
        self.assertIn("$API/projects/$PROJECT/branches", json.dumps(job))

    def test_volume_snapshot(self):
        objs = self.render("volume-snapshot")
        pvc = [o for o in objs if o["kind"] == "PersistentVolumeClaim"][0]
        self.assertEqual({"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "seed-data"},
                         pvc["spec"]["dataSource"])
