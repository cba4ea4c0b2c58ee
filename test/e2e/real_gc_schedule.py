"""`prenv gc --now` over 50 labelled environments on a REAL Kubernetes (1.20,
test/k8s-real): test_sleep.py's GcScheduleTest (the same rules, the same
environments in the same classes, the same four instants around the
Europe/Paris DST change) where the objects are real. The real Deployment
and StatefulSet controllers delete the pods of what sleeps and create them
again on wake; three environments run real containers (busybox httpd), the
other 47 have pods the scheduler keeps Pending (a nodeSelector no node
has), so 50 environments fit on the 2-core test machine. Checked at each
instant: exactly the expected destroy/sleep/wake sets; every replica count
restored exactly (a StatefulSet too); the pods follow (none left of what
sleeps, the right number of what is awake, the three live ones Running);
a second gc at the same instant writes nothing; an unlabelled namespace,
another app's and the protected production are never touched. Requests
are counted by the API server itself (its audit log, userAgent prenv/*):
the note and the "# real gc" lines give them.

Run by test/run-tests.sh's real-cluster phase (PRENV_K8S_REAL_RUN); skipped
without a cluster. Its namespaces: rg<6 hex>-*, new names in every run (the
previous run's may still be terminating), deleted at the end."""
import json
import os
import secrets
import shutil
import sys
import time

from real_k8s import LIMITED, RealBase, check_app, real_app
from test_sleep import (BRANCH_ENVS, CONFIG as SLEEP_CONFIG, FRI_0900, T_LATE, T_NOON, T_OPEN, T_SUN,
                        TPL, acted, env_for, preview_classes, write)
from util import run_prenv

WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection")
LIVE = ("pr-101", "pr-102", "pr-103")   # real containers; the others stay Pending


def labels(app, env):
    return {"app.kubernetes.io/managed-by": "prenv", "prenv.dev/app": app, "prenv.dev/env": env}


def ns_doc(name, app, env, ann=None, labelled=True):
    md = {"name": name, "annotations": dict(ann or {})}
    if labelled:
        md["labels"] = labels(app, env)
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": md}


def workload_doc(ns, app, env, replicas, live, kind="Deployment", name="web"):
    pod = {"terminationGracePeriodSeconds": 1,
           "containers": [{"name": "c", "image": "busybox-httpd:local", "imagePullPolicy": "Never",
                           "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}
    if not live:
        pod["nodeSelector"] = {"prenv.dev/test-no-such-node": "true"}
    spec = {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": pod}}
    if kind == "StatefulSet":
        spec["serviceName"] = name
        spec["podManagementPolicy"] = "Parallel"
    return {"apiVersion": "apps/v1", "kind": kind,
            "metadata": {"name": name, "namespace": ns, "labels": labels(app, env)}, "spec": spec}


class RealGcScheduleTest(RealBase):
    APP = real_app("rgc")

    def setUp(self):
        super().setUp()
        self.APP = real_app("rg" + secrets.token_hex(3))
        app = self.APP
        shutil.rmtree(os.path.join(self.app, "tpl"))
        shutil.copytree(TPL, os.path.join(self.app, "tpl"))
        write(os.path.join(self.app, ".prenv.yml"),
              SLEEP_CONFIG.replace("app: shop", "app: " + app) % {
                  "image": "busybox-httpd:local", "cronjob_api": "batch/v1beta1",
                  "hpa_api": "autoscaling/v1"})
        docs, self.names, self.asleep, self.want, self.events = [], [], {}, {}, []
        for env, ann, asleep, db in preview_classes():
            if asleep:
                self.asleep[env] = asleep
            ns = "%s-%s" % (app, env)
            docs.append(ns_doc(ns, app, env, ann=ann))
            docs.append(workload_doc(ns, app, env, 2, env in LIVE))
            self.want[env] = {"web": 2}
            if db:
                docs.append(workload_doc(ns, app, env, 1, env in LIVE, kind="StatefulSet", name="db"))
                self.want[env]["db"] = 1
            self.names.append(env)
        for env, at in BRANCH_ENVS:
            ns = "%s-%s" % (app, env)
            docs.append(ns_doc(ns, app, env, ann={"prenv.dev/deployed-at": at,
                                                  "prenv.dev/repo": "acme/shop"}))
            docs.append(workload_doc(ns, app, env, 2, False))
            self.want[env] = {"web": 2}
            self.names.append(env)
        # never touched: not labelled; another app's
        docs.append(ns_doc(app + "-plain", app, "x", labelled=False))
        docs.append(workload_doc(app + "-plain", app, "x", 2, False))
        docs.append(ns_doc(app + "o-pr-100", app + "o", "pr-100",
                           ann={"prenv.dev/deployed-at": FRI_0900}))
        docs.append(workload_doc(app + "o-pr-100", app + "o", "pr-100", 2, False))
        self.namespaces = [d["metadata"]["name"] for d in docs if d["kind"] == "Namespace"]
        self.addCleanup(self.delete_namespaces)
        path = os.path.join(self.dir, "envs.json")
        write(path, json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}))
        r = self.c.kubectl("create", "-f", path)
        self.assertEqual(0, r.returncode, r.stderr)
        # what sleeps was put to sleep by prenv
        for env, at in sorted(self.asleep.items()):
            self.ok(self.prenv("--now", at, "sleep", "--env", env, env=env_for()), "sleep " + env)

    def delete_namespaces(self):
        for ns in self.namespaces:
            self.c.api("DELETE", "/api/v1/namespaces/" + ns)

    def gc(self, now):
        check_app(self, self.app)
        off = self.c.audit_offset()
        r = run_prenv(["--kubeconfig", self.kc, "--now", now, "--no-wait", "-o", "json", "gc"],
                      env=env_for(), cwd=self.app, timeout=300)
        self.ok(r, "gc --now " + now)
        # the other binary's real tests may run at the same time
        # (test/run-tests.sh REAL_AT_ONCE): only this test's requests count (every one names its app, in the
        # path or the label selector; the other app's namespace is APP + "o")
        evs = [e for e in self.c.audit_events(off, user_agent="prenv/") if self.APP in e["requestURI"]]
        self.events += evs
        by = {}
        for e in evs:
            by[e["verb"]] = by.get(e["verb"], 0) + 1
        return {e["name"]: e for e in json.loads(r.stdout)}, evs, by

    def expect(self, res, want):
        self.assertEqual(want, acted(res))

    def run_twice(self, now, want):
        t0 = time.time()
        res, evs, by = self.gc(now)
        t1 = time.time() - t0
        self.expect(res, want)
        res2, evs2, by2 = self.gc(now)
        self.expect(res2, {})
        writes2 = [e for e in evs2 if e["verb"] in WRITE_VERBS]
        self.assertEqual([], [(e["verb"], e["requestURI"]) for e in writes2])
        changes = sum(len(v) for v in want.values())
        print("# real gc --now %s: %d changes, %d requests %s in %.1f s; again: %d requests %s"
              % (now, changes, len(evs), dict(sorted(by.items())), t1, len(evs2),
                 dict(sorted(by2.items()))), file=sys.stderr)
        return res

    def ns(self, env):  # noqa: D401 (RealBase.ns takes a PR number)
        return "%s-%s" % (self.APP, env)

    def spec_replicas(self, env):
        out = {}
        for kind, name in (("deployments", "web"), ("statefulsets", "db")):
            o = self.get("/apis/apps/v1/namespaces/%s/%s/%s" % (self.ns(env), kind, name))
            if o:
                out[name] = o["spec"]["replicas"]
        return out

    def pods(self):
        """{namespace: [(owner app label, phase), ...]} of the pods not being deleted."""
        st, _, body = self.c.api("GET", "/api/v1/pods")
        self.assertEqual(200, st)
        out = {}
        for p in body["items"]:
            md = p["metadata"]
            if not md["namespace"].startswith(self.APP + "-") or md.get("deletionTimestamp"):
                continue
            out.setdefault(md["namespace"], []).append((md["labels"].get("app"),
                                                        p["status"].get("phase")))
        return out

    def check_pods(self, awake, secs=180):
        """Every awake environment has exactly its replicas as pods (Running
        for the live ones), every sleeping one none; the controllers act
        asynchronously, so wait up to secs."""
        deadline = time.time() + secs
        while True:
            pods, bad = self.pods(), []
            for env in self.names:
                if env in self.gone:
                    continue
                want = self.want[env] if env in awake else {}
                have = {}
                for app, phase in pods.get(self.ns(env), []):
                    have[app] = have.get(app, 0) + 1
                    if env in LIVE and env in awake and phase != "Running":
                        bad.append("%s: %s %s" % (env, app, phase))
                if have != want:
                    bad.append("%s: pods %s, want %s" % (env, have, want))
            if not bad:
                return
            if time.time() > deadline:
                self.fail("after %d s: %s" % (secs, "; ".join(bad[:10])))
            time.sleep(1)

    def test_gc_now_sets_zero_writes_and_real_pods(self):
        def prs(classes, tens=()):
            return {"pr-%d" % (100 + i) for i in range(46) if i % 5 in classes or i % 10 in tens}

        ttl = prs((), (9,))
        busy = prs((1,), (4,))
        self.gone = set()
        # never touched: the controllers update the status of what is there,
        # so what is compared is the spec's generation and the labels and
        # annotations, and the audit log has no prenv request that names
        # these namespaces or anything in them
        untouched = (self.APP + "-plain", self.APP + "o-pr-100", self.APP + "-production")

        def snapshot():
            out = {}
            for ns in untouched:
                n = self.get("/api/v1/namespaces/" + ns)["metadata"]
                d = self.get("/apis/apps/v1/namespaces/%s/deployments/web" % ns)
                ann = {k: v for k, v in (d["metadata"].get("annotations") or {}).items()
                       if not k.startswith("deployment.kubernetes.io/")}  # the controller's
                out[ns] = (n.get("labels"), n.get("annotations"), d["metadata"]["generation"],
                           ann, d["spec"]["replicas"])
            return out
        before = snapshot()
        awake = set(self.names) - set(self.asleep)
        t0 = time.time()
        self.check_pods(awake)
        print("\n# real gc: %d environments, %d namespaces created, pods settled in %.1f s (%s)"
              % (len(self.names), len(self.namespaces), time.time() - t0,
                 "limited identity" if LIMITED else "admin"), file=sys.stderr)

        # Sunday 14:00 in Paris: the busy ones and staging sleep, TTLs pass
        res = self.run_twice(T_SUN, {"slept": busy | {"staging"}, "destroyed": ttl})
        self.assertEqual(50, len(res))
        self.assertEqual("2026-03-30T06:00:00Z", res["pr-101"]["next_wake"])
        # cost: what runs (2 web + 1 db, 10m and 16Mi each); nothing when asleep
        self.assertEqual(30, res["pr-102"]["cpu_millis"])
        self.assertEqual(3 * 16 * 1048576, res["pr-102"]["memory_bytes"])
        self.assertEqual(0, res["pr-100"]["cpu_millis"])
        awake -= busy | {"staging"}
        self.gone |= ttl
        for env in ttl:
            ns = self.get("/api/v1/namespaces/" + self.ns(env))
            self.assertTrue(ns is None or ns["metadata"].get("deletionTimestamp"), env)
        self.check_pods(awake)

        # Monday 08:00 CEST: the window opens, every sleeper wakes with its
        # exact counts; demo, idle 19 h, sleeps
        woken = prs((0, 3)) | busy | {"staging"}
        self.run_twice(T_OPEN, {"woken": woken, "slept": {"demo"}})
        awake = (awake | woken) - {"demo"}
        for env in sorted(woken):
            self.assertEqual(self.want[env], self.spec_replicas(env), env)
        t0 = time.time()
        self.check_pods(awake)
        print("# real gc: after the wake, every pod back in %.1f s" % (time.time() - t0),
              file=sys.stderr)

        # Monday 12:00: four hours without activity since the opening
        slept = prs((0, 1, 2, 3), (4,))
        self.run_twice(T_NOON, {"slept": slept})
        awake -= slept
        self.check_pods(awake)

        # Monday 20:30: closed; staging sleeps
        res = self.run_twice(T_LATE, {"slept": {"staging"}})
        awake -= {"staging"}
        self.check_pods(awake)
        self.assertEqual("protected", res["production"]["reason"])
        self.assertEqual(before, snapshot())
        named = [(e["verb"], e["requestURI"]) for e in self.events
                 if (e.get("objectRef") or {}).get("namespace") in untouched
                 or ((e.get("objectRef") or {}).get("resource") == "namespaces"
                     and (e.get("objectRef") or {}).get("name") in untouched)]
        self.assertEqual([], named)
        writes = [e for e in self.events if e["verb"] in WRITE_VERBS]
        print("# real gc: %d prenv requests in the 8 gc runs, %d writes; none named the unlabelled, "
              "the other app's or the protected namespace" % (len(self.events), len(writes)),
              file=sys.stderr)
