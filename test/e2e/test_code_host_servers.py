"""Tests OF the GitHub and GitLab test servers (test/servers/), over plain urllib.

They pin the behaviour prenv's end-to-end tests rely on: pagination, error
bodies, permissions, rate-limit responses, fault switches and request validation.
"""
import json
import os
import re
import sys
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "servers"))
sys.path.insert(0, HERE)

from codehost import start_github, start_gitlab  # noqa: E402
from util import tmpdir  # noqa: E402

SHA_A = "a" * 40
SHA_B = "b" * 40


def call(url, method="GET", token=None, body=None, headers=None, scheme="Bearer", raw=None):
    """Returns (status, headers, parsed-or-text body); never raises on HTTP errors."""
    h = {"User-Agent": "prenv-tests/1", "Accept": "application/vnd.github+json"}
    if token:
        h["Authorization"] = "%s %s" % (scheme, token)
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    if raw is not None:
        data = raw
    h.update(headers or {})
    req = urllib.request.Request(url, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            status, hdrs, text = r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        status, hdrs, text = e.code, e.headers, e.read()
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        parsed = text.decode("utf-8", "replace")
    return status, hdrs, parsed


def links(header):
    out = {}
    for part in (header or "").split(","):
        mo = re.match(r'\s*<([^>]+)>;\s*rel="([a-z]+)"', part)
        if mo:
            out[mo.group(2)] = mo.group(1)
    return out


class GitHubServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tmpdir_cls = __import__("tempfile").mkdtemp(prefix="prenv-gh-")
        cls.gh = start_github(tmpdir_cls, tokens={
            "ghs_bot": "github-actions[bot]:write", "ghp_rw": "alice:write", "ghp_ro": "bob:read",
            "ghs_ro": "ro-app[bot]:read"})

    @classmethod
    def tearDownClass(cls):
        cls.gh.stop()
        __import__("shutil").rmtree(cls.tmp, True)

    def setUp(self):
        self.gh.reset()
        self.gh.seed({"repo": "acme/web", "pulls": [
            {"number": 7, "head_sha": SHA_A, "head_ref": "feat", "base_ref": "main", "user": "alice"}]})
        self.u = self.gh.url

    def test_github_pagination_follows_link_through_250_comments(self):
        self.gh.seed({"repo": "acme/web", "comments": [
            {"issue_number": 7, "user": "carol", "body": "comment %d" % i} for i in range(250)]})
        url = self.u + "/repos/acme/web/issues/7/comments?per_page=100"
        bodies, pages, rels = [], 0, []
        while url:
            st, h, page = call(url, token="ghs_bot")
            self.assertEqual(st, 200)
            bodies += [c["body"] for c in page]
            lk = links(h.get("Link"))
            rels.append(sorted(lk))
            url = lk.get("next")
            pages += 1
            self.assertLess(pages, 10)
        self.assertEqual(pages, 3)
        self.assertEqual(bodies, ["comment %d" % i for i in range(250)])  # ascending id
        self.assertEqual(rels, [["last", "next"], ["first", "last", "next", "prev"], ["first", "prev"]])
        # Link URLs use /repositories/{id}/..., keep per_page and are served.
        st, h, first = call(self.u + "/repos/acme/web/issues/7/comments?per_page=100", token="ghs_bot")
        nxt = links(h["Link"])["next"]
        self.assertRegex(nxt, r"/repositories/[0-9]+/issues/7/comments\?per_page=100&page=2$")
        self.assertEqual(links(h["Link"])["last"].rsplit("page=", 1)[1], "3")
        self.assertEqual(self.gh.invalid_requests(), [])

    def test_github_default_page_size_and_per_page_cap(self):
        self.gh.seed({"repo": "acme/web", "comments": [
            {"issue_number": 7, "user": "carol", "body": "c%d" % i} for i in range(120)]})
        st, h, page = call(self.u + "/repos/acme/web/issues/7/comments", token="ghs_bot")
        self.assertEqual(len(page), 30)
        self.assertRegex(links(h["Link"])["next"], r"\?page=2$")
        st, h, page = call(self.u + "/repos/acme/web/issues/7/comments?per_page=500", token="ghs_bot")
        self.assertEqual(len(page), 100)  # GitHub clamps ...
        bad = self.gh.invalid_requests()  # ... and the checker flags it
        self.assertEqual([(b["query"], b["validation"]["errors"][0]["name"]) for b in bad],
                         [([["per_page", "500"]], "per_page")])

    def test_github_comment_create_edit_delete(self):
        st, h, c = call(self.u + "/repos/acme/web/issues/7/comments", "POST", "ghs_bot", {"body": "hello"})
        self.assertEqual(st, 201)
        self.assertEqual(h["Location"], c["url"])
        self.assertGreater(c["id"], 2 ** 31)
        for k in ("id", "node_id", "url", "html_url", "issue_url", "body", "user", "created_at", "updated_at",
                  "author_association", "performed_via_github_app", "reactions"):
            self.assertIn(k, c)
        self.assertEqual(c["user"]["login"], "github-actions[bot]")
        self.assertEqual(c["user"]["type"], "Bot")
        self.assertEqual(c["performed_via_github_app"]["slug"], "github-actions")
        self.assertRegex(c["created_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertTrue(c["html_url"].endswith("/acme/web/pull/7#issuecomment-%d" % c["id"]))
        curl = self.u + "/repos/acme/web/issues/comments/%d" % c["id"]
        st, _, c2 = call(curl, "PATCH", "ghp_rw", {"body": "edited"})
        self.assertEqual((st, c2["body"], c2["id"]), (200, "edited", c["id"]))
        st, _, got = call(curl, token="ghp_ro")
        self.assertEqual((st, got["body"]), (200, "edited"))
        st, _, none = call(curl, "DELETE", "ghs_bot")
        self.assertEqual((st, none), (204, None))
        st, _, err = call(curl, token="ghs_bot")
        self.assertEqual(st, 404)
        self.assertEqual(err["message"], "Not Found")
        self.assertEqual(err["status"], "404")
        self.assertTrue(err["documentation_url"].startswith("https://docs.github.com/rest"))
        self.assertEqual(self.gh.state()["comments"], [])
        self.assertEqual(self.gh.invalid_requests(), [])

    def test_github_read_only_token_gets_403_on_write(self):
        st, h, err = call(self.u + "/repos/acme/web/issues/7/comments", "POST", "ghs_ro", {"body": "x"})
        self.assertEqual(st, 403)
        self.assertEqual(err["message"], "Resource not accessible by integration")
        self.assertEqual(err["status"], "403")
        self.assertIn("issues=write", h["x-accepted-github-permissions"])
        st, _, err = call(self.u + "/repos/acme/web/deployments", "POST", "ghp_ro", {"ref": "feat"})
        self.assertEqual((st, err["message"]), (403, "Resource not accessible by personal access token"))
        st, _, _ = call(self.u + "/repos/acme/web/issues/7/comments", token="ghp_ro")
        self.assertEqual(st, 200)
        self.assertEqual(self.gh.state()["comments"], [])

    def test_github_auth_errors_and_user_identity(self):
        st, _, err = call(self.u + "/repos/acme/web/pulls/7", token="nope")
        self.assertEqual((st, err["message"], err["status"]), (401, "Bad credentials", "401"))
        st, _, err = call(self.u + "/user", token="ghs_bot")  # an installation token has no user
        self.assertEqual((st, err["message"]), (403, "Resource not accessible by integration"))
        st, _, me = call(self.u + "/user", token="ghp_rw")
        self.assertEqual((st, me["login"], me["type"]), (200, "alice", "User"))
        st, _, err = call(self.u + "/repos/acme/web/issues/7/comments", "POST", None, {"body": "x"})
        self.assertEqual((st, err["message"]), (401, "Requires authentication"))
        st, _, text = call(self.u + "/repos/acme/web/pulls/7", token="ghp_rw", headers={"User-Agent": ""})
        self.assertEqual(st, 403)
        self.assertIn("User-Agent", text)

    def test_github_pull_request_shape(self):
        st, h, pr = call(self.u + "/repos/acme/web/pulls/7", token="ghs_bot")
        self.assertEqual(st, 200)
        self.assertEqual((pr["number"], pr["state"], pr["head"]["sha"], pr["head"]["ref"], pr["base"]["ref"]),
                         (7, "open", SHA_A, "feat", "main"))
        self.assertEqual(pr["user"]["login"], "alice")
        self.assertTrue(h["ETag"].startswith('W/"'))
        st, h2, _ = call(self.u + "/repos/acme/web/pulls/7", token="ghs_bot", headers={"If-None-Match": h["ETag"]})
        self.assertEqual(st, 304)
        st, _, err = call(self.u + "/repos/acme/web/pulls/8", token="ghs_bot")
        self.assertEqual(st, 404)
        self.assertEqual(err["documentation_url"], "https://docs.github.com/rest/pulls/pulls#get-a-pull-request")

    def test_github_rate_limit_headers_and_primary_limit(self):
        st, h, _ = call(self.u + "/repos/acme/web/pulls/7", token="ghp_rw")
        self.assertEqual(h["x-ratelimit-limit"], "5000")
        self.assertEqual(int(h["x-ratelimit-remaining"]) + int(h["x-ratelimit-used"]), 5000)
        self.assertEqual(h["x-ratelimit-resource"], "core")
        self.assertGreater(int(h["x-ratelimit-reset"]), time.time())
        self.assertTrue(h["x-github-request-id"])
        self.assertEqual(h["Content-Type"], "application/json; charset=utf-8")
        self.gh.faults({"status": "403rate", "count": 1, "match": "GET /pulls/7", "reset_in": 5})
        before = int(time.time())
        st, h, err = call(self.u + "/repos/acme/web/pulls/7", token="ghp_rw")
        after = time.time()
        self.assertEqual(st, 403)
        self.assertTrue(err["message"].startswith("API rate limit exceeded for user ID"))
        self.assertEqual(h["x-ratelimit-remaining"], "0")
        # within the call's own time span (a loaded machine can take seconds)
        self.assertTrue(before + 5 <= int(h["x-ratelimit-reset"]) <= after + 6, (before, h, after))
        st, _, _ = call(self.u + "/repos/acme/web/pulls/7", token="ghp_rw")
        self.assertEqual(st, 200)  # count 1: the next one passes
        st, _, rl = call(self.u + "/rate_limit", token="ghp_rw")
        self.assertEqual(rl["rate"]["limit"], 5000)
        self.assertEqual(rl["resources"]["core"]["used"], 3)  # /rate_limit itself is free

    def test_github_real_quota_exhaustion(self):
        gh = start_github(tmpdir(self), tokens={"t": "alice:write"}, rate_limit=3,
                          state={"repo": "acme/web", "pulls": [{"number": 1}]})
        self.addCleanup(gh.stop)
        got = [call(gh.url + "/repos/acme/web/pulls/1", token="t")[0] for _ in range(4)]
        self.assertEqual(got, [200, 200, 200, 403])

    def test_github_secondary_rate_limit_and_502(self):
        self.gh.faults([{"status": "429secondary", "count": 1, "match": "POST /comments", "retry_after": 7},
                        {"status": "403secondary", "count": 1, "match": "POST /comments"},
                        {"status": "502", "count": 1, "match": "GET"}])
        st, h, err = call(self.u + "/repos/acme/web/issues/7/comments", "POST", "ghs_bot", {"body": "x"})
        self.assertEqual((st, h["retry-after"]), (429, "7"))
        self.assertTrue(err["message"].startswith("You have exceeded a secondary rate limit"))
        st, h, err = call(self.u + "/repos/acme/web/issues/7/comments", "POST", "ghs_bot", {"body": "x"})
        self.assertEqual((st, h["retry-after"]), (403, "1"))
        st, h, err = call(self.u + "/repos/acme/web/issues/7/comments", "POST", "ghs_bot", {"body": "x"})
        self.assertEqual(st, 201)
        st, h, err = call(self.u + "/repos/acme/web/pulls/7", token="ghs_bot")
        self.assertEqual((st, err), (502, {"message": "Server Error"}))
        self.assertEqual(call(self.u + "/repos/acme/web/pulls/7", token="ghs_bot")[0], 200)
        self.assertEqual(len(self.gh.state()["comments"]), 1)  # faulted POSTs wrote nothing
        self.assertEqual([f["fired"] for f in self.gh.faults()], [1, 1, 1])

    def test_github_validation_rejects_bad_requests(self):
        st, _, d = call(self.u + "/repos/acme/web/deployments", "POST", "ghs_bot",
                        {"ref": "feat", "environment": "pr-7", "transient_environment": True,
                         "production_environment": False, "required_contexts": [], "auto_merge": False})
        self.assertEqual(st, 201)
        self.assertEqual((d["sha"], d["environment"], d["transient_environment"]), (SHA_A, "pr-7", True))
        st, _, err = call(self.u + "/repos/acme/web/deployments/%d/statuses" % d["id"], "POST", "ghs_bot",
                          {"state": "bogus"})
        self.assertEqual(st, 422)
        self.assertIn("\"bogus\" is not a member of", err["message"])
        self.assertEqual(err["status"], "422")
        st, _, err = call(self.u + "/repos/acme/web/issues/7/comments", "POST", "ghs_bot", {"text": "no body"})
        self.assertEqual(st, 422)
        self.assertIn("\"body\" wasn't supplied.", err["message"])
        st, _, err = call(self.u + "/repos/acme/web/issues/7/comments", "POST", "ghs_bot", raw=b"{not json")
        self.assertEqual((st, err["message"]), (400, "Problems parsing JSON"))
        st, _, err = call(self.u + "/repos/acme/web/issues/7/comments", "POST", "ghs_bot", {"body": "  "})
        self.assertEqual((st, err["message"], err["errors"][0]["message"]), (422, "Validation Failed", "Body cannot be blank"))
        st, _, _ = call(self.u + "/repos/acme/web/issues/7/comments?bogus_param=1", token="ghs_bot")
        self.assertEqual(st, 200)  # GitHub ignores unknown query parameters ...
        bad = self.gh.invalid_requests()  # ... but the log says which requests were invalid
        self.assertEqual([(b["method"], b["status"], b["validation"]["errors"][0]["in"]) for b in bad],
                         [("POST", 422, "body"), ("POST", 422, "body"), ("POST", 400, "body"), ("GET", 200, "query")])
        self.assertEqual(bad[0]["validation"]["operation"], "repos/create-deployment-status")
        self.assertEqual(len(self.gh.state()["comments"]), 0)

    def test_github_deployments_lifecycle(self):
        st, _, d = call(self.u + "/repos/acme/web/deployments", "POST", "ghs_bot",
                        {"ref": "feat", "environment": "pr-7", "transient_environment": True,
                         "production_environment": False, "required_contexts": [],
                         "payload": {"pr": 7}, "description": "preview"})
        self.assertEqual(st, 201)
        self.assertEqual(d["creator"]["login"], "github-actions[bot]")
        sturl = self.u + "/repos/acme/web/deployments/%d/statuses" % d["id"]
        for state in ("in_progress", "success"):
            st, h, s = call(sturl, "POST", "ghs_bot", {"state": state, "environment_url": "https://pr-7.example",
                                                       "log_url": "https://ci/run/1", "auto_inactive": False})
            self.assertEqual(st, 201)
            self.assertEqual((s["state"], s["target_url"], s["environment"]), (state, "https://ci/run/1", "pr-7"))
            self.assertEqual(h["Location"], s["url"])
        st, _, d2 = call(self.u + "/repos/acme/web/deployments", "POST", "ghs_bot",
                         {"ref": "main", "environment": "production", "required_contexts": []})
        self.assertEqual(d2["production_environment"], True)
        st, _, lst = call(self.u + "/repos/acme/web/deployments?environment=pr-7", token="ghs_bot")
        self.assertEqual([x["id"] for x in lst], [d["id"]])
        st, _, err = call(self.u + "/repos/acme/web/deployments/%d" % d["id"], "DELETE", "ghs_bot")
        self.assertEqual(st, 422)  # active, and not the only deployment
        self.assertEqual(call(sturl, "POST", "ghs_bot", {"state": "inactive"})[0], 201)
        st, _, sts = call(sturl, token="ghs_bot")
        self.assertEqual([x["state"] for x in sts], ["inactive", "success", "in_progress"])  # newest first
        self.assertEqual(call(self.u + "/repos/acme/web/deployments/%d" % d["id"], "DELETE", "ghs_bot")[0], 204)
        self.assertEqual([x["id"] for x in self.gh.state()["deployments"]], [d2["id"]])
        st, _, envs = call(self.u + "/repos/acme/web/environments", token="ghs_bot")
        self.assertEqual(sorted(e["name"] for e in envs["environments"]), ["pr-7", "production"])
        st, _, err = call(self.u + "/repos/acme/web/deployments", "POST", "ghs_bot", {"ref": "no-such-branch"})
        self.assertEqual((st, err["message"]), (422, "No ref found for: no-such-branch"))
        self.assertEqual(self.gh.invalid_requests(), [])

    def test_github_seeded_associations_deployments_and_slow_fault(self):
        # author_association as GitHub shows it for a private org member
        # (CONTRIBUTOR), or left out (null); user.type tells a bot
        self.gh.seed({"repo": "acme/web", "associations": {"alice": "CONTRIBUTOR", "carol": None},
                      "comments": [{"issue_number": 7, "user": u, "body": "hi"}
                                   for u in ("alice", "carol", "acme", "github-actions[bot]")]})
        st, _, cs = call(self.u + "/repos/acme/web/issues/7/comments", token="ghp_rw")
        self.assertEqual([(c["user"]["login"], c["user"]["type"], c.get("author_association", "-")) for c in cs],
                         [("alice", "User", "CONTRIBUTOR"), ("carol", "User", "-"), ("acme", "User", "OWNER"),
                          ("github-actions[bot]", "Bot", "NONE")])
        # deployments made by others, newest first, paged like any list
        seeded = self.gh.seed({"repo": "acme/web", "deployments": [
            {"environment": "pr-7", "payload": {"tool": "other"}, "statuses": ["in_progress", "success"]}
            for _ in range(3)]})["deployments"]
        st, h, lst = call(self.u + "/repos/acme/web/deployments?environment=pr-7&per_page=2", token="ghs_bot")
        self.assertEqual([d["id"] for d in lst], seeded[::-1][:2])
        self.assertIn("next", links(h["Link"]))
        st, _, sts = call(self.u + "/repos/acme/web/deployments/%d/statuses" % seeded[0], token="ghs_bot")
        self.assertEqual([x["state"] for x in sts], ["success", "in_progress"])
        # slow: answered normally, late
        self.gh.faults({"status": "slow", "delay_ms": 300, "count": 1, "match": "GET /pulls/7"})
        t0 = time.monotonic()
        st, _, pr = call(self.u + "/repos/acme/web/pulls/7", token="ghs_bot")
        self.assertGreaterEqual(time.monotonic() - t0, 0.3)
        self.assertEqual((st, pr["number"]), (200, 7))
        self.assertEqual(self.gh.invalid_requests(), [])

    def test_github_auto_inactive_and_required_contexts(self):
        self.gh.seed({"repo": "acme/web", "statuses": [{"sha": SHA_A, "context": "ci/test", "state": "failure"}]})
        st, _, err = call(self.u + "/repos/acme/web/deployments", "POST", "ghs_bot", {"ref": "feat", "environment": "qa"})
        self.assertEqual(st, 409)  # required_contexts omitted: every context must be success
        ids = []
        for _ in range(2):
            st, _, d = call(self.u + "/repos/acme/web/deployments", "POST", "ghs_bot",
                            {"ref": "feat", "environment": "qa", "required_contexts": []})
            self.assertEqual(st, 201)
            ids.append(d["id"])
            call(self.u + "/repos/acme/web/deployments/%d/statuses" % d["id"], "POST", "ghs_bot", {"state": "success"})
        st, _, sts = call(self.u + "/repos/acme/web/deployments/%d/statuses" % ids[0], token="ghs_bot")
        self.assertEqual(sts[0]["state"], "inactive")  # auto_inactive defaults to true

    def test_github_concurrent_posts_are_all_kept(self):
        def post(i):
            call(self.u + "/repos/acme/web/issues/7/comments", "POST", "ghs_bot", {"body": "race %d" % i})
        ts = [threading.Thread(target=post, args=(i,)) for i in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        ids = [c["id"] for c in self.gh.state()["comments"]]
        self.assertEqual(len(ids), 8)
        self.assertEqual(len(set(ids)), 8)

    def test_github_keep_alive_and_drop_fault(self):
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.gh.port, timeout=5)
        self.addCleanup(conn.close)
        hdr = {"User-Agent": "t", "Authorization": "token ghp_rw", "Content-Type": "application/json"}
        for body in ("one", "two"):  # two requests on one connection
            conn.request("POST", "/repos/acme/web/issues/7/comments", json.dumps({"body": body}), hdr)
            r = conn.getresponse()
            r.read()
            self.assertEqual(r.status, 201)
        self.assertEqual(len({r["seq"] for r in self.gh.requests()}), 2)
        self.gh.faults({"status": "drop", "count": 1, "match": "GET /pulls"})
        with self.assertRaises((http.client.HTTPException, ConnectionError)):
            conn.request("GET", "/repos/acme/web/pulls/7", headers=hdr)
            conn.getresponse().read()
        self.assertEqual(call(self.u + "/repos/acme/web/pulls/7", token="ghp_rw")[0], 200)

    def test_github_request_log_records_identity_not_token(self):
        call(self.u + "/repos/acme/web/pulls/7?foo=bar", token="ghs_bot",
             headers={"X-GitHub-Api-Version": "2022-11-28"})
        r = self.gh.requests()[-1]
        self.assertEqual((r["method"], r["path"], r["identity"], r["status"]), ("GET", "/repos/acme/web/pulls/7",
                                                                                "github-actions[bot]", 200))
        self.assertEqual(r["headers"]["X-GitHub-Api-Version"], "2022-11-28")
        self.assertNotIn("ghs_bot", json.dumps(r))
        self.assertFalse(r["validation"]["ok"])


class GitLabServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = __import__("tempfile").mkdtemp(prefix="prenv-gl-")
        cls.gl = start_gitlab(cls.tmp, tokens={"glpat-rw": "alice:api", "glpat-ro": "bob:read_api",
                                               "glpat-m": "maint:api:maintainer"}, job_tokens=["jobtok"])

    @classmethod
    def tearDownClass(cls):
        cls.gl.stop()
        __import__("shutil").rmtree(cls.tmp, True)

    def setUp(self):
        self.gl.reset()
        self.gl.seed({"project": "group/proj", "id": 42, "merge_requests": [
            {"iid": 3, "sha": SHA_B, "source_branch": "feat", "target_branch": "main"}]})
        self.api = self.gl.api_url
        self.notes = self.api + "/projects/group%2Fproj/merge_requests/3/notes"

    def gcall(self, url, method="GET", token="glpat-rw", body=None, header="PRIVATE-TOKEN", raw=None, ctype=None):
        h = {header: token} if token else {}
        if ctype:
            h["Content-Type"] = ctype
        return call(url, method, None, body, headers=h, raw=raw)

    def test_gitlab_pagination_with_x_next_page(self):
        self.gl.seed({"project": "group/proj", "notes": [
            {"mr_iid": 3, "author": "carol", "body": "n%d" % i} for i in range(45)]})
        page, got, seen_headers = "1", [], []
        while page:
            st, h, items = self.gcall(self.notes + "?sort=asc&per_page=20&page=%s" % page)
            self.assertEqual(st, 200)
            got += [n["body"] for n in items]
            seen_headers.append((h["X-Page"], h["X-Per-Page"], h["X-Prev-Page"], h["X-Next-Page"],
                                 h["X-Total"], h["X-Total-Pages"]))
            page = h["X-Next-Page"]
            self.assertLess(len(seen_headers), 10)
        self.assertEqual(got, ["n%d" % i for i in range(45)])
        self.assertEqual(seen_headers, [("1", "20", "", "2", "45", "3"), ("2", "20", "1", "3", "45", "3"),
                                        ("3", "20", "2", "", "45", "3")])
        st, h, items = self.gcall(self.notes)  # default: 20 a page, newest first
        self.assertEqual((len(items), items[0]["body"]), (20, "n44"))
        lk = links(h["Link"])
        self.assertEqual(sorted(lk), ["first", "last", "next"])
        st, _, items2 = self.gcall(lk["next"])
        self.assertEqual(items2[0]["body"], "n24")
        self.assertEqual(self.gl.invalid_requests(), [])

    def test_gitlab_note_create_edit_delete_and_shape(self):
        st, _, n = self.gcall(self.notes, "POST", body={"body": "hello"}, ctype="application/json")
        self.assertEqual(st, 201)
        for k in ("id", "type", "body", "author", "created_at", "updated_at", "system", "noteable_id",
                  "noteable_type", "noteable_iid", "resolvable", "confidential", "internal"):
            self.assertIn(k, n)
        self.assertEqual((n["noteable_type"], n["noteable_iid"], n["author"]["username"]), ("MergeRequest", 3, "alice"))
        self.assertEqual(sorted(n["author"]), ["avatar_url", "id", "locked", "name", "state", "username", "web_url"])
        self.assertRegex(n["created_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        # Form-encoded bodies and the numeric project id work too.
        nurl = self.api + "/projects/42/merge_requests/3/notes/%d" % n["id"]
        st, _, n2 = self.gcall(nurl, "PUT", raw=b"body=edited", ctype="application/x-www-form-urlencoded")
        self.assertEqual((st, n2["body"]), (200, "edited"))
        st, _, err = self.gcall(nurl, "PUT", token="glpat-m", body={"body": "not mine"}, ctype="application/json")
        self.assertEqual((st, err), (403, {"message": "403 Forbidden"}))  # only the author edits
        st, _, _ = self.gcall(nurl, "DELETE", header="Authorization", token="Bearer glpat-rw")
        self.assertEqual(st, 204)
        st, _, err = self.gcall(nurl)
        self.assertEqual((st, err), (404, {"message": "404 Not found"}))
        self.assertEqual(self.gl.state()["notes"], [])

    def test_gitlab_errors(self):
        st, _, err = self.gcall(self.notes, token="wrong")
        self.assertEqual((st, err), (401, {"message": "401 Unauthorized"}))
        st, _, err = self.gcall(self.notes, token=None)
        self.assertEqual((st, err), (404, {"message": "404 Project Not Found"}))  # private project
        st, _, err = self.gcall(self.api + "/projects/group%2Fnope/merge_requests/3/notes")
        self.assertEqual((st, err), (404, {"message": "404 Project Not Found"}))
        st, _, err = self.gcall(self.notes, "POST", token="glpat-ro", body={"body": "x"}, ctype="application/json")
        self.assertEqual((st, err["error"], err["scope"]), (403, "insufficient_scope", "api"))
        st, _, err = self.gcall(self.notes, "POST", body={}, ctype="application/json")
        self.assertEqual((st, err), (400, {"error": "body is missing"}))
        st, _, err = self.gcall(self.notes + "?sort=sideways")
        self.assertEqual((st, err), (400, {"error": "sort does not have a valid value"}))
        st, _, mr = self.gcall(self.api + "/projects/42/merge_requests/3")
        self.assertEqual((mr["sha"], mr["source_branch"], mr["state"], mr["iid"]), (SHA_B, "feat", "opened", 3))
        self.assertEqual(mr["diff_refs"]["head_sha"], SHA_B)
        st, _, me = self.gcall(self.api + "/user", header="Authorization", token="Bearer glpat-rw")
        self.assertEqual((st, me["username"], me["bot"]), (200, "alice", False))
        self.assertEqual(len(self.gl.invalid_requests()), 2)  # the missing body and the bad sort

    def test_gitlab_job_token_cannot_write_notes(self):
        st, _, err = self.gcall(self.notes, "POST", header="JOB-TOKEN", token="jobtok", body={"body": "x"},
                                ctype="application/json")
        self.assertEqual((st, err), (401, {"message": "401 Unauthorized"}))
        st, _, _ = self.gcall(self.notes + "?job_token=jobtok", token=None)
        self.assertEqual(st, 401)
        self.assertEqual(self.gl.state()["notes"], [])
        self.assertEqual(self.gl.requests()[0]["identity"], "(job token)")

    def test_gitlab_rate_limit_and_faults(self):
        self.gl.faults([{"status": "429", "count": 1, "match": "POST /notes", "retry_after": 3},
                        {"status": "502", "count": 1, "match": "GET"}])
        before = int(time.time())
        st, h, body = self.gcall(self.notes, "POST", body={"body": "x"}, ctype="application/json")
        after = time.time()
        self.assertEqual((st, body, h["Retry-After"], h["RateLimit-Remaining"]), (429, "Retry later\n", "3", "0"))
        self.assertTrue(before + 3 <= int(h["RateLimit-Reset"]) <= after + 4, (before, h, after))
        self.assertTrue(h["RateLimit-ResetTime"].endswith("GMT"))
        st, h, body = self.gcall(self.notes)
        self.assertEqual(st, 502)
        self.assertEqual(self.gcall(self.notes)[0], 200)
        self.assertEqual(self.gcall(self.notes, "POST", body={"body": "x"}, ctype="application/json")[0], 201)
        self.assertEqual(len(self.gl.state()["notes"]), 1)


class OpenAPICheckTest(unittest.TestCase):
    def test_openapi_check_matches_operations_and_params(self):
        import openapi_check
        spec = openapi_check.Spec()
        r = spec.validate("GET", "/repos/o/r/commits/feature/x/status", [], None)
        self.assertEqual((r.operation_id, r.ok), ("repos/get-combined-status-for-ref", True))  # multi-segment ref
        r = spec.validate("GET", "/repos/o/r/issues/abc/comments", [], None)
        self.assertTrue(r.path_error)
        r = spec.validate("GET", "/repos/o/r/deployments", [("environment", "pr-1"), ("per_page", "x")], None)
        self.assertEqual([e["name"] for e in r.errors], ["per_page"])
        r = spec.validate("POST", "/repos/o/r/deployments", [], json.dumps(
            {"ref": "x", "payload": "{}", "transient_environment": "yes"}).encode())
        self.assertEqual([e["name"] for e in r.errors], ["transient_environment"])
        r = spec.validate("PUT", "/repos/o/r/pulls/1", [], None)
        self.assertIsNone(r.operation_id)


if __name__ == "__main__":
    unittest.main()
