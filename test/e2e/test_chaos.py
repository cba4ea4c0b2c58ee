"""The chaos matrix (hardening issue): a deploy of templates/web that reports
to the GitHub test server, with one fault injected at request k, for every k
of the run, on each server (the Kubernetes test API server and the GitHub
test server): 429 with Retry-After, 503, a reset connection, a time-out.

Every run either succeeds (exit 0) or fails with a clear message (exit 1);
a re-run without faults converges to the same state (the objects, one PR
comment showing ready at this commit, the comment id remembered); and a
destroy cleans up whatever was left. The matrix is printed as a table.

The ASan/UBSan binary runs every third k (it is several times slower); the
plain binary runs them all."""
import json
import os
import queue
import sys
import threading
import time
import unittest

from util import PRENV, ROOT, run_prenv, tmpdir
from test_k8s_deploy import NS, SHA, Server, env_for, make_app

sys.path.insert(0, os.path.join(ROOT, "test", "servers"))
from codehost import start_github  # noqa: E402

FAULTS = ("429", "503", "reset", "timeout")
WORKERS = 3
ASAN = "asan" in PRENV


class Lab:
    """One k8s server + one GitHub server + an app: a worker's world."""

    def __init__(self, tc):
        self.srv = Server(tc, extra=["--ready-delay", "0.1", "--terminate-delay", "0.1"])
        self.dir = tmpdir(tc)
        self.kc = self.srv.kubeconfig(self.dir)
        self.gh = start_github(self.dir, tokens={"ghs_bot": "github-actions[bot]:write"})
        tc.addCleanup(self.gh.stop)
        self.gh.seed({"repo": "acme/shop",
                      "pulls": [{"number": 42, "head_sha": SHA, "head_ref": "feature/login",
                                 "base_ref": "main", "state": "open", "user": "alice"}]})
        self.app = make_app(tc, wait="30s")

    def env(self):
        return env_for(PRENV_API_URL=self.gh.url, PRENV_HOST="github", GITHUB_TOKEN="ghs_bot",
                       PRENV_HTTP_SLEEP_SCALE="0.01", PRENV_HTTP_TIMEOUT="1")

    def prenv(self, *args):
        return run_prenv(["--kubeconfig", self.kc] + list(args), env=self.env(), cwd=self.app,
                         timeout=180)

    def k8s_requests(self):
        return self.srv.admin("/_test/requests")["total"]

    def gh_requests(self):
        return len(self.gh.requests())

    def fault(self, server, kind, k):
        if server == "k8s":
            spec = {"after": k - 1}
            spec.update({"429": {"429": 1, "retry_after": 1}, "503": {"503": 1, "retry_after": 1},
                         "reset": {"drop": 1}, "timeout": {"hang": 1, "hang_s": 3}}[kind])
            self.srv.admin("/_test/faults", spec)
        else:
            spec = {"after": k - 1, "count": 1}
            spec.update({"429": {"status": "429secondary", "retry_after": 1},
                         "503": {"status": "503"}, "reset": {"status": "drop"},
                         # answered, but only after the client gave up: the write may have happened
                         "timeout": {"status": "slow", "delay_ms": 2500}}[kind])
            self.gh.faults(spec)

    def clear(self):
        self.srv.admin("/_test/reset", {})   # counts and faults; the objects stay
        self.gh.clear_faults()
        self.gh.clear_requests()

    def comments(self):
        return [c for c in self.gh.state()["comments"] if c["body"].startswith("<!-- prenv:marker")]

    def converged(self):
        """What a good deploy leaves: the objects, one comment (ready, this
        commit), its id on the namespace. Returns a problem or None."""
        for path in ("/apis/apps/v1/namespaces/%s/deployments/shop" % NS,
                     "/api/v1/namespaces/%s/services/shop" % NS,
                     "/apis/networking.k8s.io/v1/namespaces/%s/ingresses/shop" % NS):
            if not self.srv.get(self.kc, path):
                return "missing " + path
        cs = self.comments()
        if len(cs) != 1:
            return "%d marker comments" % len(cs)
        if "ready" not in cs[0]["body"] or SHA[:12] not in cs[0]["body"]:
            return "the comment does not show ready at %s" % SHA[:12]
        ns = self.srv.get(self.kc, "/api/v1/namespaces/" + NS)
        if ns["metadata"].get("annotations", {}).get("prenv.dev/comment-id") != str(cs[0]["id"]):
            return "the namespace does not remember the comment"
        return None

    def gone(self):
        # the test server's controller removes a deleted namespace at once;
        # a busy machine can still take seconds to get there
        for _ in range(600):
            if self.srv.get(self.kc, "/api/v1/namespaces/" + NS) is None:
                return True
            time.sleep(0.1)
        return False


def clear_message(r):
    err = r.stderr
    return "prenv: error:" in err and "Traceback" not in err and "Segmentation" not in err


class ChaosMatrixTest(unittest.TestCase):
    def probe(self, lab):
        """A fault-free first deploy: how many requests each server sees."""
        lab.clear()
        r = lab.prenv("deploy")
        self.assertEqual(0, r.returncode, r.stderr)
        n = {"k8s": lab.k8s_requests(), "github": lab.gh_requests()}
        self.assertEqual(0, lab.prenv("destroy").returncode)
        self.assertTrue(lab.gone())
        return n

    def cell(self, lab, server, kind, k):
        """One run with the fault at request k; returns (mark, problem)."""
        lab.clear()
        lab.fault(server, kind, k)
        r1 = lab.prenv("deploy")
        lab.clear()
        if r1.returncode not in (0, 1):
            return "X", "exit %d:\n%s" % (r1.returncode, r1.stderr[-1500:])
        if r1.returncode == 1 and not clear_message(r1):
            return "X", "exit 1 without a clear message:\n" + r1.stderr[-1500:]
        r2 = lab.prenv("deploy")
        if r2.returncode != 0:
            return "X", "the re-run without faults failed (%d):\n%s" % (r2.returncode, r2.stderr[-1500:])
        problem = lab.converged()
        if problem:
            return "X", "did not converge: " + problem
        r3 = lab.prenv("destroy")
        if r3.returncode != 0 or not lab.gone():
            return "X", "destroy did not clean up (%d):\n%s" % (r3.returncode, r3.stderr[-1500:])
        if any("destroyed" not in c["body"] for c in lab.comments()):
            return "X", "the comment was not marked destroyed"
        return ("ok" if r1.returncode == 0 else "1"), None

    def test_fault_at_every_request_of_a_deploy(self):
        labs = [Lab(self) for _ in range(WORKERS)]
        counts = self.probe(labs[0])
        # the probe's comment stays (destroyed); the cells must find and reuse it
        cells = []
        for server in ("k8s", "github"):
            for k in range(1, counts[server] + 1):
                if ASAN and k % 3 != 1:
                    continue
                for kind in FAULTS:
                    cells.append((server, kind, k))
        work = queue.Queue()
        for c in cells:
            work.put(c)
        results, lock = {}, threading.Lock()

        def worker(lab):
            while True:
                try:
                    c = work.get_nowait()
                except queue.Empty:
                    return
                try:
                    res = self.cell(lab, *c)
                except Exception as e:  # noqa: BLE001 - report, do not hang the others
                    res = ("X", "exception: %r" % e)
                with lock:
                    results[c] = res

        t0 = time.time()
        threads = [threading.Thread(target=worker, args=(lab,)) for lab in labs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # the table: one row per (server, k), one column per fault kind;
        # ok = the faulted run succeeded, 1 = it failed cleanly (exit 1),
        # X = a broken promise
        lines = ["# chaos matrix (%s binary, %d requests to k8s, %d to GitHub per first deploy, "
                 "%.0f s): ok = deploy succeeded, 1 = failed with a clear message (exit 1), "
                 "X = broken; every cell then re-ran without faults, converged, and destroyed"
                 % ("ASan" if ASAN else "plain", counts["k8s"], counts["github"], time.time() - t0),
                 "# %-8s %3s  %s" % ("server", "k", "  ".join("%-7s" % f for f in FAULTS))]
        for server in ("k8s", "github"):
            for k in range(1, counts[server] + 1):
                if (server, FAULTS[0], k) not in results:
                    continue
                lines.append("# %-8s %3d  %s" % (server, k, "  ".join(
                    "%-7s" % results[(server, f, k)][0] for f in FAULTS)))
        print("\n" + "\n".join(lines))
        broken = {c: r[1] for c, r in results.items() if r[0] == "X"}
        self.assertEqual(len(cells), len(results))
        self.assertEqual({}, broken, json.dumps({"%s %s @%d" % c: p for c, p in broken.items()},
                                                indent=1)[:6000])


if __name__ == "__main__":
    unittest.main()
