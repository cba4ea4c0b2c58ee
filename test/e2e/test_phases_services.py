"""End to end: `phases:` with `services:` (issue 12, item 1) with the prenv
binary against test/servers/k8s_server.py (whose controller completes or
fails Jobs by image name) and services from two repositories (local bare
repositories, file://, as in test_services.py):

  data: service db (from api.git: virtual at its main)
  seed: a directory of Jobs (run: once)
  app:  services api (api.git) and web (this checkout)

Order, a failed seed that stops before app, a redeploy that does not seed
again, prune that stays inside its phase and its services, teardown on
destroy, and the configuration errors (unknown service, a name that is
both a service and a directory, a service in no phase)."""
import json
import os
import shutil
import unittest

from k8s_e2e import ServerCase
from test_phases import CONFIG as PHASES_CONFIG, DATA, SEED as SEED_JOB, TEARDOWN
from test_services import DEPLOYMENT, make_repo
from util import clean_env, tmpdir

NS = "/api/v1/namespaces/shop-pr-7"
APPS = "/apis/apps/v1/namespaces/shop-pr-7"
JOBS = "/apis/batch/v1/namespaces/shop-pr-7/jobs"

CONFIG = PHASES_CONFIG.split("phases:\n")[0] + """services:
  db:
    repo: %(api_url)s
    templates: deploy/db
    image: "ghcr.io/acme/db:{{service.sha}}"
  api:
    repo: %(api_url)s
    templates: deploy/api
    image: "ghcr.io/acme/api:{{service.sha}}"
  web:
    templates: deploy/web
    image: "ghcr.io/acme/web:{{service.sha}}"
phases:
  - name: data
    templates: %(data)s
  - name: seed
    templates: deploy/seed
    run: once
  - name: app
    templates: %(app)s
on_destroy:
  templates: deploy/teardown
  timeout: 30s
"""

# the database of test_phases.py with the service's image; its seed Job,
# which sees services.* too; its teardown Job
DB = DATA.split("---")[0].replace("image: busybox:1.36", 'image: "{{service.image}}"')
SEED = SEED_JOB.replace("          command:", "          env:\n            - name: DB_SHA\n"
                        "              value: \"{{services.db.sha}}\"\n          command:")


def cm(name):
    return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\ndata:\n  a: b\n" % name


def write(d, rel, text):
    p = os.path.join(d, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "w") as f:
        f.write(text)


class PhasesServicesTest(ServerCase, unittest.TestCase):
    # long enough that an object applied without waiting for the phase
    # before it is created in a later second than that phase completed
    SERVER_ARGS = ["--ready-delay", "1.2", "--terminate-delay", "0.3"]

    def setUp(self):
        super().setUp()
        git_root = os.path.join(self.dir, "git")
        self.web_shas = make_repo(os.path.join(git_root, "acme", "web.git"), ("main", "feature/x"))
        self.api_shas = make_repo(os.path.join(git_root, "acme", "api.git"), ("main",))
        self.api_url = "file://" + os.path.join(git_root, "acme", "api.git")
        self.env = clean_env(PRENV_CI="local", PRENV_REPO="acme/web", PRENV_BRANCH="feature/x",
                             PRENV_SHA=self.web_shas["feature/x"], PRENV_PR="7", HOME="/nonexistent")

    def checkout(self, seed_image="busybox:1.36", data="db", app="[api, web]"):
        d = tmpdir(self)
        write(d, ".prenv.yml", CONFIG % dict(seed_image=seed_image, seed_script="restore",
                                          teardown_image="busybox:1.36", api_url=self.api_url, data=data,
                                          app=app))
        write(d, "deploy/db/statefulset.yaml", DB)
        write(d, "deploy/seed/job.yaml", SEED)
        write(d, "deploy/teardown/job.yaml", TEARDOWN)
        for n in ("api", "web"):
            write(d, "deploy/%s/deployment.yaml" % n, DEPLOYMENT % {"name": n})
        return d

    def run_(self, d, *args):
        return self.prenv(d, *args, env=self.env)

    def labels(self, obj):
        return obj["metadata"].get("labels") or {}

    def test_phases_of_services_apply_in_order(self):
        d = self.checkout()
        r = self.run_(d, "deploy")
        self.check(r)
        main = self.api_shas["main"]
        self.assertIn("phase data (1 of 3): applying services db", r.stderr)
        self.assertIn("phase app (3 of 3): applying services api, web", r.stderr)
        self.assertIn("phases: data [db] \u2713", r.stderr)
        self.assertIn("seed \u2713 (once, ", r.stderr)
        self.assertIn("app [api, web] \u2713", r.stderr)
        self.assertIn("| Phases | data [db] \u2713", r.stderr)  # the PR comment (printed on a local run)
        sts = self.get(APPS + "/statefulsets/db")
        job = self.get(JOBS + "/seed")
        api, web = self.get(APPS + "/deployments/api"), self.get(APPS + "/deployments/web")
        # each object carries its phase, and its service when it has one
        self.assertEqual(("data", "db", main), (self.labels(sts)["prenv.dev/phase"],
                                                self.labels(sts)["prenv.dev/service"],
                                                self.labels(sts)["prenv.dev/service-sha"]))
        self.assertEqual("seed", self.labels(job)["prenv.dev/phase"])
        self.assertNotIn("prenv.dev/service", self.labels(job))
        self.assertEqual(("app", "api"), (self.labels(api)["prenv.dev/phase"], self.labels(api)["prenv.dev/service"]))
        self.assertEqual(("app", "web"), (self.labels(web)["prenv.dev/phase"], self.labels(web)["prenv.dev/service"]))
        # each service with its own variables: db and api virtual at api.git's main, web at this commit
        self.assertEqual("ghcr.io/acme/db:" + main, sts["spec"]["template"]["spec"]["containers"][0]["image"])
        self.assertEqual("ghcr.io/acme/api:" + main, api["spec"]["template"]["spec"]["containers"][0]["image"])
        self.assertEqual("ghcr.io/acme/web:" + self.web_shas["feature/x"],
                         web["spec"]["template"]["spec"]["containers"][0]["image"])
        env = {e["name"]: e["value"] for e in web["spec"]["template"]["spec"]["containers"][0]["env"]}
        self.assertEqual({"API_SHA": main, "SERVICE_BRANCH": "feature/x"}, env)
        # the seed directory sees services.* too
        self.assertIn(main, json.dumps(job["spec"]["template"]))
        # the seed Job came after db was ready, the app after the seed completed
        self.assertGreaterEqual(job["metadata"]["creationTimestamp"], sts["metadata"]["creationTimestamp"])
        for dep in (api, web):
            self.assertGreaterEqual(dep["metadata"]["creationTimestamp"], job["status"]["completionTime"])
        # render shows all of it, in the phases' order
        r = self.run_(d, "render", "-o", "json")
        self.check(r)
        self.assertEqual(["StatefulSet/db", "Job/seed", "Deployment/api", "Deployment/web"],
                         ["%s/%s" % (o["kind"], o["metadata"]["name"]) for o in json.loads(r.stdout)])

    def test_failed_seed_stops_before_app(self):
        d = self.checkout(seed_image="registry.example.com/seed-fail:1")
        r = self.run_(d, "deploy")
        self.check(r, 1)
        self.assertIn("phase seed", r.stderr)
        self.assertIn("BackoffLimitExceeded", r.stderr)
        self.assertIn("seed \u2717", r.stderr)
        self.assertIn("app [api, web] \u2013", r.stderr)
        self.assertIsNotNone(self.get(APPS + "/statefulsets/db"))
        self.assertIsNone(self.get(APPS + "/deployments/api"))
        self.assertIsNone(self.get(APPS + "/deployments/web"))

    def test_redeploy_does_not_reseed_and_prune_stays_in_its_phase(self):
        d = self.checkout()
        for rel in ("deploy/db/cm.yaml", "deploy/seed/cm.yaml", "deploy/api/cm.yaml", "deploy/web/cm.yaml"):
            write(d, rel, cm(rel.split("/")[1] + "-extra"))
        self.check(self.run_(d, "deploy"))
        uid = self.get(JOBS + "/seed")["metadata"]["uid"]
        cms = "/api/v1/namespaces/shop-pr-7/configmaps/"
        # a redeploy: the seed does not run again; web's ConfigMap, gone from
        # its templates, is pruned; no other phase's or service's object is
        os.remove(os.path.join(d, "deploy/web/cm.yaml"))
        r = self.run_(d, "deploy")
        self.check(r)
        self.assertIn("seed \u2713 (once, earlier)", r.stderr)
        self.assertEqual(uid, self.get(JOBS + "/seed")["metadata"]["uid"])
        self.assertIsNone(self.get(cms + "web-extra"), r.stderr)
        for name in ("db-extra", "seed-extra", "api-extra"):
            self.assertIsNotNone(self.get(cms + name), name)
        # the seed directory's ConfigMap is pruned by its own phase
        # (objects of no service), and nothing of the services' phases is
        os.remove(os.path.join(d, "deploy/seed/cm.yaml"))
        r = self.run_(d, "deploy", "--reseed")
        self.check(r)
        self.assertNotEqual(uid, self.get(JOBS + "/seed")["metadata"]["uid"])
        self.assertIsNone(self.get(cms + "seed-extra"), r.stderr)
        for name in ("db-extra", "api-extra"):
            self.assertIsNotNone(self.get(cms + name), name)
        for path in ("/statefulsets/db", "/deployments/api", "/deployments/web"):
            self.assertIsNotNone(self.get(APPS + path), path)

    def test_destroy_runs_teardown(self):
        d = self.checkout()
        self.check(self.run_(d, "deploy"))
        r = self.run_(d, "destroy")
        self.check(r)
        self.assertIn("job/drop-branch", r.stderr)
        self.assertIn("teardown: done", r.stderr)
        self.assertLess(r.stderr.index("teardown: done"), r.stderr.index("deletion started"))
        self.assertIsNone(self.get(NS))

    def test_unknown_service_is_an_error_and_changes_nothing(self):
        # a typo of a service: its position, did you mean
        r = self.run_(self.checkout(data="dbb"), "deploy")
        self.check(r, 2)
        self.assertIn(".prenv.yml:27:16: phase 'data': templates 'dbb' names no service, and service db is "
                      "in no phase; did you mean 'db'?", r.stderr)
        # a name that is neither a service nor a directory
        d = self.checkout()
        shutil.rmtree(os.path.join(d, "deploy", "seed"))
        r = self.run_(d, "deploy")
        self.check(r, 2)
        self.assertIn(".prenv.yml:29:16: phase 'seed': templates 'deploy/seed' is neither a service of "
                      "'services' nor a directory; services: db, api, web", r.stderr)
        # a list names services only
        r = self.run_(self.checkout(app="[api, wev]"), "deploy")
        self.check(r, 2)
        self.assertIn(".prenv.yml:32:22: phase 'app' names service 'wev', which is not in 'services'; "
                      "did you mean 'web'?", r.stderr)
        # a service in no phase
        r = self.run_(self.checkout(app="[api]"), "deploy")
        self.check(r, 2)
        self.assertIn(".prenv.yml:25:1: service web is in no phase", r.stderr)
        self.assertIsNone(self.get(NS))

    def test_a_name_that_is_a_service_and_a_directory_is_an_error(self):
        d = self.checkout()
        write(d, "db/statefulset.yaml", DB)
        r = self.run_(d, "deploy")
        self.check(r, 2)
        self.assertIn(".prenv.yml:27:16: phase 'data': templates 'db' names both service 'db' and the "
                      "directory db/", r.stderr)
        self.assertIsNone(self.get(NS))
        # ./db is the directory; then the service db is in no phase
        r = self.run_(self.checkout(data="./db"), "deploy")
        self.check(r, 2)
        self.assertIn("service db is in no phase", r.stderr)
        # the list form always means the service
        d2 = self.checkout(data="[db]")
        write(d2, "db/statefulset.yaml", DB)
        self.check(self.run_(d2, "deploy"))
        self.assertEqual("db", self.labels(self.get(APPS + "/statefulsets/db"))["prenv.dev/service"])


if __name__ == "__main__":
    unittest.main()
