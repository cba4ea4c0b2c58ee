"""Sleep and wake with the real binary against test/servers/k8s_server.py:
`prenv sleep` / `wake` restore exact replica counts (0 and a StatefulSet
too), CronJobs are suspended and resumed as they were, HPAs are left alone,
a second sleep/wake writes nothing, a deploy wakes a sleeping environment,
status says sleeping; `prenv gc --now` over 50 labelled environments gives
exactly the expected destroy/sleep/wake sets at four instants around the
Europe/Paris DST change, a second run at the same instant makes zero
writes, and unlabelled, other apps' and protected namespaces are never
touched. The request counts are printed (# lines)."""
import datetime
import json
import os
import shutil
import sys
import unittest
import zoneinfo

from util import ROOT, clean_env, run_prenv, tmpdir
from test_k8s_deploy import KUBECTL, Server

sys.path.insert(0, os.path.join(ROOT, "test", "servers"))
from codehost import start_github  # noqa: E402

SHA = "d" * 40
TPL = os.path.join(ROOT, "test", "e2e", "sleep_tpl")

CONFIG = """version: 1
app: shop
templates: tpl
url: "https://{{env.name}}.preview.example.com"
provider:
  kind: kubernetes
  wait: 30s
environments:
  - branch: main
    name: production
    protected: true
  - branch: staging
    name: staging
    schedule: { awake: "Mon-Fri 08:00-20:00", timezone: Europe/Paris }
  - branch: demo
    name: demo
    sleep_after: 3h
  - pull_request: true
    ttl: 7d
    sleep_after: 3h
    schedule: { awake: "Mon-Fri 08:00-20:00", timezone: Europe/Paris }
values:
  image: "%(image)s"
  cronjob_api: "%(cronjob_api)s"
  hpa_api: "%(hpa_api)s"
"""

# UTC; Europe/Paris goes to summer time on Sunday 2026-03-29 at 01:00Z
FRI_0800 = "2026-03-27T08:00:00Z"
FRI_0900 = "2026-03-27T09:00:00Z"
FRI_1900 = "2026-03-27T19:00:00Z"
SUN_1000 = "2026-03-29T10:00:00Z"
SUN_1100 = "2026-03-29T11:00:00Z"
MAR_20 = "2026-03-20T00:00:00Z"
T_SUN = "2026-03-29T12:00:00Z"
T_OPEN = "2026-03-30T06:00:00Z"   # Monday 08:00 CEST
T_NOON = "2026-03-30T10:00:00Z"
T_LATE = "2026-03-30T18:30:00Z"   # Monday 20:30 CEST


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def make_app(tc, image="ghcr.io/acme/shop:1", cronjob_api="batch/v1", hpa_api="autoscaling/v2"):
    d = tmpdir(tc)
    shutil.copytree(TPL, os.path.join(d, "tpl"))
    write(os.path.join(d, ".prenv.yml"), CONFIG % {"image": image, "cronjob_api": cronjob_api,
                                                   "hpa_api": hpa_api})
    return d


def env_for(pr=None, branch=None, **extra):
    e = dict(PRENV_CI="local", PRENV_REPO="acme/shop", PRENV_SHA=SHA, HOME="/nonexistent",
             PRENV_BRANCH=branch or ("feature-%s" % pr if pr else "main"),
             PRENV_HTTP_SLEEP_SCALE="0.01")
    if pr:
        e["PRENV_PR"] = str(pr)
    e.update(extra)
    return clean_env(**e)


WRITES = ("POST", "PUT", "PATCH", "DELETE")


def preview_classes():
    """The 46 previews of the gc scenario (the same as test/unit/test_gc.c's
    table), five classes by i % 5: (name, namespace annotations, asleep
    since or None, has a StatefulSet)."""
    for i in range(46):
        ann = {"prenv.dev/repo": "acme/shop", "prenv.dev/pr": str(100 + i),
               "prenv.dev/deployed-at": FRI_0800}
        asleep = None
        cls = i % 5
        if cls == 0:
            asleep = FRI_1900
        elif cls == 1:
            ann["prenv.dev/deployed-at"] = FRI_0900
        elif cls == 2:
            ann["prenv.dev/deployed-at"] = SUN_1100
            ann["prenv.dev/woken-at"] = FRI_0800  # awake since (cost)
        elif cls == 3:
            asleep = SUN_1000
        elif i % 10 == 9:
            ann["prenv.dev/deployed-at"] = MAR_20
        yield "pr-%d" % (100 + i), ann, asleep, i % 2 == 0


# the four branch environments of the scenario and when each was deployed
BRANCH_ENVS = (("production", FRI_0900), ("staging", FRI_0900), ("demo", SUN_1100),
               ("feature-x", FRI_0900))


def acted(res):
    """gc -o json by name -> {action: {names}}, without what was kept."""
    out = {}
    for name, e in res.items():
        if e["action"] != "kept":
            out.setdefault(e["action"], set()).add(name)
    return out


def writes(stats):
    return sum(stats["by_verb"].get(v, 0) for v in WRITES)


@unittest.skipUnless(KUBECTL, "kubectl is not installed")
class SleepWakeTest(unittest.TestCase):
    def setUp(self):
        self.srv = Server(self)
        self.kc = self.srv.kubeconfig(tmpdir(self))
        self.app = make_app(self)

    def prenv(self, args, env, code=0):
        r = run_prenv(["--kubeconfig", self.kc] + args, env=env, cwd=self.app)
        self.assertEqual(code, r.returncode, "stdout:\n%s\nstderr:\n%s" % (r.stdout, r.stderr))
        return r

    def obj(self, path):
        return self.srv.get(self.kc, path)

    def counts(self, ns):
        apps = "/apis/apps/v1/namespaces/%s/" % ns
        cj = "/apis/batch/v1/namespaces/%s/cronjobs/" % ns
        return {"web": self.obj(apps + "deployments/web")["spec"]["replicas"],
                "worker": self.obj(apps + "deployments/worker")["spec"]["replicas"],
                "db": self.obj(apps + "statefulsets/db")["spec"]["replicas"],
                "nightly": self.obj(cj + "nightly")["spec"].get("suspend", False),
                "paused": self.obj(cj + "paused")["spec"].get("suspend", False)}

    def hpa(self, ns):
        return self.obj("/apis/autoscaling/v2/namespaces/%s/horizontalpodautoscalers/web" % ns)

    def reset_stats(self):
        self.srv.admin("/_test/reset", {})

    def stats(self):
        return self.srv.admin("/_test/requests")

    def test_sleep_wake_restore_exact_counts(self):
        ns = "shop-pr-7"
        env = env_for(pr=7)
        self.prenv(["--no-wait", "deploy"], env)
        out = self.srv.kubectl(self.kc, "scale", "-n", ns, "deployment/web", "--replicas=3")
        self.assertEqual(0, out.returncode, out.stderr)
        before = {"web": 3, "worker": 0, "db": 2, "nightly": False, "paused": True}
        self.assertEqual(before, self.counts(ns))
        hpa = self.hpa(ns)

        self.reset_stats()
        r = self.prenv(["--now", "2026-03-28T12:00:00Z", "sleep"], env)
        st = self.stats()
        print("\n# prenv sleep: %d requests (%s)" % (st["total"], st["by_verb"]))
        self.assertEqual({"web": 0, "worker": 0, "db": 0, "nightly": True, "paused": True},
                         self.counts(ns))
        # 3 workloads + 2 CronJobs + the namespace: one write each
        self.assertEqual(6, writes(st), st)
        self.assertEqual("3", self.obj("/apis/apps/v1/namespaces/%s/deployments/web" % ns)
                         ["metadata"]["annotations"]["prenv.dev/sleep-replicas"])
        nso = self.obj("/api/v1/namespaces/" + ns)
        self.assertEqual("2026-03-28T12:00:00Z", nso["metadata"]["annotations"]["prenv.dev/asleep-since"])
        # the HPA is left as it was (an autoscaler does not act on a target at 0)
        self.assertEqual(hpa["metadata"]["resourceVersion"], self.hpa(ns)["metadata"]["resourceVersion"])
        self.assertEqual(2, self.hpa(ns)["spec"]["minReplicas"])
        # the writes are the sleep manager's, not the deploy's
        managers = {m["manager"] for m in self.obj("/apis/apps/v1/namespaces/%s/deployments/web" % ns)
                    ["metadata"]["managedFields"]}
        self.assertIn("prenv-sleep", managers)
        self.assertIn("prenv", managers)

        # status says so; a second sleep writes nothing
        r = self.prenv(["status"], env)
        self.assertRegex(r.stdout, r"(?m)^status +sleeping$")
        self.assertIn("sleeping since 2026-03-28T12:00:00Z", r.stdout)
        self.reset_stats()
        r = self.prenv(["sleep"], env)
        self.assertEqual(0, writes(self.stats()))
        self.assertIn("asleep already", r.stderr)

        # wake: exactly what was there, the paused CronJob stays suspended
        self.reset_stats()
        r = self.prenv(["wake", "--wait", "20s"], env)
        st = self.stats()
        print("# prenv wake --wait: %d requests (%s)" % (st["total"], st["by_verb"]))
        self.assertEqual(before, self.counts(ns))
        self.assertEqual(6, writes(st), st)  # web, worker (back to 0), db, two CronJobs, namespace
        self.assertNotIn("prenv.dev/sleep-replicas",
                         self.obj("/apis/apps/v1/namespaces/%s/deployments/web" % ns)["metadata"]
                         .get("annotations", {}))
        self.assertNotIn("prenv.dev/asleep-since",
                         self.obj("/api/v1/namespaces/" + ns)["metadata"]["annotations"])
        self.assertEqual(2, self.hpa(ns)["spec"]["minReplicas"])
        self.reset_stats()
        r = self.prenv(["wake"], env)
        self.assertEqual(0, writes(self.stats()))
        self.assertIn("awake already", r.stderr)

        # a deploy wakes a sleeping environment: web back at 3 (the template
        # does not set replicas), db at 2
        self.prenv(["sleep"], env)
        self.assertEqual(0, self.counts(ns)["web"])
        r = self.prenv(["--no-wait", "deploy"], env)
        self.assertIn("is asleep: this deploy wakes it", r.stderr)
        self.assertEqual(before, self.counts(ns))
        r = self.prenv(["status"], env)
        self.assertNotRegex(r.stdout, r"(?m)^status +sleeping$")

    def test_sleep_by_name_and_refusals(self):
        self.prenv(["--no-wait", "deploy"], env_for(pr=8))
        self.prenv(["--no-wait", "deploy"], env_for(branch="main"))
        # --env from a run on main; protected refused; absent is an error
        self.prenv(["sleep", "--env", "pr-8"], env_for())
        self.assertEqual(0, self.counts("shop-pr-8")["db"])
        r = self.prenv(["sleep"], env_for(branch="main"), code=2)
        self.assertIn("protected", r.stderr)
        self.assertEqual(2, self.counts("shop-production")["db"])
        r = self.prenv(["wake", "--env", "pr-99"], env_for(), code=1)
        self.assertIn("does not exist", r.stderr)
        self.prenv(["wake", "--env", "pr-8"], env_for())
        self.assertEqual(2, self.counts("shop-pr-8")["db"])
        # touch stamps the activity time
        self.prenv(["--now", "2026-03-30T07:00:00Z", "touch", "--env", "pr-8"], env_for())
        self.assertEqual("2026-03-30T07:00:00Z", self.obj("/api/v1/namespaces/shop-pr-8")
                         ["metadata"]["annotations"]["prenv.dev/touched-at"])

    def test_sleep_not_supported_by_provider(self):
        d = tmpdir(self)
        write(os.path.join(d, ".prenv.yml"), "app: shop\nprovider:\n  kind: command\n"
              "  deploy: [\"true\"]\n  destroy: [\"true\"]\nenvironments:\n  - pull_request: true\n")
        for cmd in ("sleep", "wake", "touch"):
            r = run_prenv([cmd], env=env_for(pr=5), cwd=d)
            self.assertEqual(2, r.returncode, r.stderr)
            self.assertIn("%s is not supported by provider command" % cmd, r.stderr)


def ns_doc(name, env, app="shop", ann=None, labelled=True):
    md = {"name": name, "annotations": dict(ann or {})}
    if labelled:
        md["labels"] = {"app.kubernetes.io/managed-by": "prenv", "prenv.dev/app": app,
                        "prenv.dev/env": env}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": md}


def deploy_doc(ns, env, replicas, asleep, app="shop", kind="Deployment", name="web"):
    md = {"name": name, "namespace": ns,
          "labels": {"app.kubernetes.io/managed-by": "prenv", "prenv.dev/app": app,
                     "prenv.dev/env": env}}
    if asleep:
        md["annotations"] = {"prenv.dev/sleep-replicas": str(replicas)}
    spec = {"replicas": 0 if asleep else replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [{"name": "c", "image": "ghcr.io/acme/shop:1",
                                                  "resources": {"requests": {"cpu": "100m",
                                                                             "memory": "64Mi"}}}]}}}
    if kind == "StatefulSet":
        spec["serviceName"] = name
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": md, "spec": spec}


@unittest.skipUnless(KUBECTL, "kubectl is not installed")
class GcScheduleTest(unittest.TestCase):
    """50 environments (46 previews in five classes, i % 5, and four branch
    environments), the same as test/unit/test_gc.c's table, on the test API
    server; four gc runs in a row, each followed by a second at the same
    instant."""

    def setUp(self):
        self.srv = Server(self)
        self.kc = self.srv.kubeconfig(tmpdir(self))
        self.app = make_app(self)
        docs = []
        self.names = []
        self.asleep = {}
        for env, ann, asleep, db in preview_classes():
            if asleep:
                self.asleep[env] = asleep
            docs.append(ns_doc("shop-" + env, env, ann=ann))
            docs.append(deploy_doc("shop-" + env, env, 2, False))
            if db:
                docs.append(deploy_doc("shop-" + env, env, 1, False, kind="StatefulSet", name="db"))
            self.names.append(env)
        for env, at in BRANCH_ENVS:
            docs.append(ns_doc("shop-" + env, env, ann={"prenv.dev/deployed-at": at,
                                                       "prenv.dev/repo": "acme/shop"}))
            docs.append(deploy_doc("shop-" + env, env, 2, False))
            self.names.append(env)
        # never touched: not labelled, another app's
        docs.append(ns_doc("plain", "x", labelled=False))
        docs.append(deploy_doc("plain", "x", 2, False))
        docs.append(ns_doc("other-pr-100", "pr-100", app="other",
                           ann={"prenv.dev/deployed-at": FRI_0900}))
        docs.append(deploy_doc("other-pr-100", "pr-100", 2, False, app="other"))
        path = os.path.join(tmpdir(self), "envs.json")
        write(path, json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}))
        out = self.srv.kubectl(self.kc, "create", "--validate=false", "-f", path)
        self.assertEqual(0, out.returncode, out.stderr)
        # what sleeps was put to sleep by prenv (its annotations are prenv-sleep's)
        for env, at in sorted(self.asleep.items()):
            r = run_prenv(["--kubeconfig", self.kc, "--now", at, "sleep", "--env", env],
                          env=env_for(), cwd=self.app)
            self.assertEqual(0, r.returncode, r.stderr)

    def gc(self, now):
        self.srv.admin("/_test/reset", {})
        r = run_prenv(["--kubeconfig", self.kc, "--now", now, "--no-wait", "-o", "json", "gc"],
                      env=env_for(), cwd=self.app, timeout=300)
        self.assertEqual(0, r.returncode, r.stderr)
        return {e["name"]: e for e in json.loads(r.stdout)}, self.srv.admin("/_test/requests")

    def untouched(self):
        snap = {}
        for path in ("/api/v1/namespaces/plain", "/apis/apps/v1/namespaces/plain/deployments/web",
                     "/api/v1/namespaces/other-pr-100",
                     "/apis/apps/v1/namespaces/other-pr-100/deployments/web",
                     "/api/v1/namespaces/shop-production",
                     "/apis/apps/v1/namespaces/shop-production/deployments/web"):
            snap[path] = self.srv.get(self.kc, path)["metadata"]["resourceVersion"]
        return snap

    def replicas(self, env):
        return self.srv.get(self.kc, "/apis/apps/v1/namespaces/shop-%s/deployments/web" % env)["spec"]["replicas"]

    def expect(self, res, want):
        self.assertEqual(want, acted(res))

    def run_twice(self, now, want):
        res, st = self.gc(now)
        self.expect(res, want)
        res2, st2 = self.gc(now)
        self.expect(res2, {})
        self.assertEqual(0, writes(st2), st2)
        print("# gc --now %s: %d requests %s; again: %d requests %s" % (
            now, st["total"], st["by_verb"], st2["total"], st2["by_verb"]))
        return res

    def test_gc_now_sets_and_zero_writes(self):
        def prs(classes, tens=()):
            return {"pr-%d" % (100 + i) for i in range(46) if i % 5 in classes or i % 10 in tens}

        ttl = prs((), (9,))   # deployed on March 20: TTL 7d passed
        busy = prs((1,), (4,))  # awake since Friday (no code host here: no PR is closed)
        before = self.untouched()
        print()

        # Sunday 14:00 in Paris: what was awake since before Friday's close
        # sleeps; a Sunday push (1h ago) stays up for sleep_after
        res = self.run_twice(T_SUN, {"slept": busy | {"staging"}, "destroyed": ttl})
        self.assertEqual(50, len(res))
        self.assertTrue(res["pr-101"]["reason"].startswith("outside the awake window (closed Fri 20:00"))
        self.assertEqual("2026-03-30T06:00:00Z", res["pr-101"]["next_wake"])
        self.assertEqual("asleep", res["pr-101"]["state"])
        self.assertEqual(0, self.replicas("pr-101"))
        # cost: what runs now (2 x 100m web + 1 x 100m db), nothing when asleep
        self.assertEqual(300, res["pr-102"]["cpu_millis"])
        self.assertEqual(3 * 64 * 1048576, res["pr-102"]["memory_bytes"])
        self.assertEqual(0, res["pr-100"]["cpu_millis"])
        self.assertEqual(0, res["pr-100"]["awake_seconds"])
        self.assertEqual(2 * 86400 + 4 * 3600, res["pr-102"]["awake_seconds"])

        # Monday 08:00 CEST (06:00Z; it was 07:00Z a week before): the window
        # opens; every sleeper wakes with its exact counts; demo, idle 19h, sleeps
        self.run_twice(T_OPEN, {"woken": prs((0, 3)) | busy | {"staging"}, "slept": {"demo"}})
        for name in prs((0, 1, 3), (4,)):
            self.assertEqual(2, self.replicas(name), name)
            if int(name[3:]) % 2 == 0:
                self.assertEqual(1, self.srv.get(self.kc, "/apis/apps/v1/namespaces/shop-%s/statefulsets/db"
                                                 % name)["spec"]["replicas"], name)

        # Monday 12:00: four hours without activity since the opening
        self.run_twice(T_NOON, {"slept": prs((0, 1, 2, 3), (4,))})

        # Monday 20:30: closed; staging (woken at 08:00, no sleep_after) sleeps
        res = self.run_twice(T_LATE, {"slept": {"staging"}})
        self.assertEqual("kept", res["production"]["action"])
        self.assertEqual("protected", res["production"]["reason"])
        self.assertEqual(before, self.untouched())


@unittest.skipUnless(KUBECTL, "kubectl is not installed")
class SleepReportTest(unittest.TestCase):
    """The PR comment says the environment sleeps and until when, and shows
    it ready again once woken (GitHub test server, validated requests)."""

    def test_gc_sleep_then_wake_updates_the_comment(self):
        srv = Server(self)
        kc = srv.kubeconfig(tmpdir(self))
        app = make_app(self)
        gh = start_github(tmpdir(self), tokens={"ghs_bot": "github-actions[bot]:write"})
        self.addCleanup(gh.stop)
        gh.seed({"repo": "acme/shop",
                 "pulls": [dict(number=7, head_sha=SHA, head_ref="feature-7", base_ref="main",
                                state="open", merged=False, user="alice")]})
        host = dict(PRENV_API_URL=gh.url, PRENV_HOST="github", GITHUB_TOKEN="ghs_bot")

        def run(args, env):
            r = run_prenv(["--kubeconfig", kc] + args, env=env, cwd=app, timeout=240)
            self.assertEqual(0, r.returncode, r.stderr)
            return r

        def comment():
            cs = [c for c in gh.state()["comments"]
                  if c["body"].startswith("<!-- prenv:marker app=shop env=pr-7 -->")]
            self.assertEqual(1, len(cs))
            return cs[0]["body"]

        run(["--no-wait", "deploy"], env_for(pr=7, **host))
        self.assertIn("ready", comment())
        # the next Saturday noon (within the TTL of this deploy): outside the
        # window, so it sleeps; then Monday 08:00 in Paris
        paris = zoneinfo.ZoneInfo("Europe/Paris")
        now = datetime.datetime.now(datetime.timezone.utc)
        sat = (now + datetime.timedelta(days=(5 - now.weekday()) % 7 or 7)).replace(
            hour=12, minute=0, second=0, microsecond=0)
        mon = (sat + datetime.timedelta(days=2)).astimezone(paris).replace(hour=8, minute=0)
        stamp = lambda t: t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa
        r = run(["--now", stamp(sat), "gc"], env_for(**host))
        self.assertRegex(r.stdout, r"(?m)^pr-7 +slept \(outside the awake window \(closed Fri 20:00 "
                         r"\(Europe/Paris\)\)\)")
        body = comment()
        self.assertIn("sleeping", body.splitlines()[2] if len(body.splitlines()) > 2 else body)
        self.assertIn("Sleeping until Mon 08:00 (Europe/Paris) \u2014 run `prenv wake` or push to wake it.",
                      body)
        # Monday 08:00 in Paris: woken, the comment is back
        r = run(["--now", stamp(mon), "gc"], env_for(**host))
        self.assertRegex(r.stdout, r"(?m)^pr-7 +woken \(awake window opened Mon 08:00 \(Europe/Paris\)\)")
        body = comment()
        self.assertIn("ready", body)
        self.assertNotIn("Sleeping", body)
        self.assertIn("https://pr-7.preview.example.com", body)
        self.assertEqual([], gh.invalid_requests())


if __name__ == "__main__":
    unittest.main()
