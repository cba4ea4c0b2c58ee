#!/usr/bin/python3
"""A GitHub REST API test server, faithful to the endpoints prenv uses.

    python3 github_server.py --port 0 --port-file F [--state seed.json]
        [--token ghs_abc=github-actions[bot]:write] [--token ghp_ro=alice:read]
        [--rate-limit 5000] [--web-url https://github.com] [--verbose]

Token spec: TOKEN=LOGIN:PERM[:KIND]; PERM read|write|admin; KIND app|user
(default: app when LOGIN ends in "[bot]"). See README-codehosts.md for the
endpoints, the admin endpoints under /_test/ and where each behaviour comes from.
"""
import argparse
import base64
import hashlib
import json
import os
import random
import re
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import openapi_check  # noqa: E402
from common import (Faults, RequestLog, Response, admin_common,  # noqa: E402
                    iso, run)

DOCS = "https://docs.github.com/rest"
RATE_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
SECONDARY_DOCS = ("https://docs.github.com/free-pro-team@latest/rest/overview/"
                  "rate-limits-for-the-rest-api#about-secondary-rate-limits")
# The real GitHub Actions app and its bot user.
ACTIONS_APP = {
    "id": 15368, "slug": "github-actions", "node_id": "MDM6QXBwMTUzNjg=",
    "owner": {"login": "github", "id": 9919, "node_id": "MDEyOk9yZ2FuaXphdGlvbjk5MTk=",
              "type": "Organization", "site_admin": False},
    "name": "GitHub Actions", "description": "Automate your workflow from idea to production",
    "external_url": "https://help.github.com/en/actions", "html_url": "https://github.com/apps/github-actions",
    "created_at": "2018-07-30T09:30:17Z", "updated_at": "2019-12-10T19:04:12Z",
    "permissions": {"deployments": "write", "issues": "write", "pull_requests": "write", "statuses": "write"},
    "events": [],
}
KNOWN_USER_IDS = {"github-actions[bot]": 41898282, "octocat": 583231}
# Ids start above 2^31: real issue-comment and deployment-status ids are past it.
COMMENT_ID0 = 2147483648 + 1000
DEPLOYMENT_ID0 = 1900000000
STATUS_ID0 = 4294967296 + 5000
MAX_COMMENT = 65536
_REQ_COUNTER = __import__("itertools").count(1)
DEPLOY_STATES = ("error", "failure", "inactive", "in_progress", "queued", "pending", "success")


def node_id(kind, n):
    return base64.b64encode(("0%d:%s%d" % (len(kind), kind, n)).encode()).decode()


class Identity:
    def __init__(self, login, perm, kind):
        self.login, self.perm, self.kind = login, perm, kind

    def can(self, need):
        order = {"read": 0, "write": 1, "admin": 2}
        return order[self.perm] >= order[need]


def parse_token(spec):
    tok, _, rest = spec.partition("=")
    parts = rest.split(":")
    if not tok or not parts[0]:
        raise ValueError("token spec %r: want TOKEN=LOGIN:PERM[:KIND]" % spec)
    login = parts[0]
    perm = parts[1] if len(parts) > 1 and parts[1] else "write"
    kind = parts[2] if len(parts) > 2 else ("app" if login.endswith("[bot]") else "user")
    if perm not in ("read", "write", "admin") or kind not in ("app", "user"):
        raise ValueError("token spec %r: PERM read|write|admin, KIND app|user" % spec)
    return tok, Identity(login, perm, kind)


class GitHub:
    def __init__(self, tokens, rate_limit=5000, web_url="https://github.com", spec_path=None):
        self.lock = threading.RLock()
        self.faults = Faults()
        self.log = RequestLog()
        self.tokens = dict(tokens)
        self.rate_limit = rate_limit
        self.web_url = web_url.rstrip("/")
        self.spec = openapi_check.Spec(spec_path) if spec_path else openapi_check.Spec()
        self.reset()

    # --- state --------------------------------------------------------------
    def reset(self):
        self.repos = {}        # "owner/repo" (lower) -> repo dict
        self.repo_ids = {}     # id -> key
        self.users = {}        # login -> id
        self.comments = {}     # id -> comment record
        self.deployments = {}  # id -> deployment record
        self.dstatuses = {}    # id -> status record
        self.environments = {}  # (repokey, name) -> env record
        self.quota = {}        # login or "anon:ip" -> [used, reset_ts]
        self.next_comment = COMMENT_ID0
        self.next_deployment = DEPLOYMENT_ID0
        self.next_status = STATUS_ID0
        self.next_repo = 1296269
        self.next_env = 160000000

    def user_id(self, login):
        if login not in self.users:
            self.users[login] = KNOWN_USER_IDS.get(login, 100000 + len(self.users) * 7 + 1)
        return self.users[login]

    def repo(self, owner, name, create=False):
        key = ("%s/%s" % (owner, name)).lower()
        if key not in self.repos and create:
            rid = self.next_repo
            self.next_repo += 1
            self.repos[key] = {"id": rid, "owner": owner, "name": name, "full_name": "%s/%s" % (owner, name),
                               "private": False, "pulls": {}, "issues": set(), "refs": {},
                               "statuses": [], "default_branch": "main", "collaborators": set(),
                               "associations": {}}
            self.repo_ids[rid] = key
        return self.repos.get(key)

    def seed(self, data):
        full = data.get("repo") or "octocat/hello-world"
        owner, _, name = full.partition("/")
        r = self.repo(owner, name, create=True)
        r["private"] = bool(data.get("private", r["private"]))
        r["default_branch"] = data.get("default_branch", r["default_branch"])
        r["refs"].update(data.get("refs", {}))
        for c in data.get("collaborators", []):
            r["collaborators"].add(c)
        # What GitHub shows as author_association for a login, where it is not
        # what the repository says (an organisation member whose membership is
        # private shows CONTRIBUTOR or NONE); None: the field is left out.
        r["associations"].update(data.get("associations", {}))
        for p in data.get("pulls", []):
            n = int(p["number"])
            now = time.time()
            r["pulls"][n] = {
                "number": n, "head_sha": p.get("head_sha", hashlib.sha1(b"%d" % n).hexdigest()),
                "head_ref": p.get("head_ref", "feature-%d" % n), "base_ref": p.get("base_ref", r["default_branch"]),
                "base_sha": p.get("base_sha", hashlib.sha1(b"base%d" % n).hexdigest()),
                "state": p.get("state", "open"), "merged": bool(p.get("merged", False)),
                "user": p.get("user", "octocat"), "title": p.get("title", "Pull request %d" % n),
                "head_repo": p.get("head_repo", r["full_name"]), "draft": bool(p.get("draft", False)),
                "id": 1000000 + n, "created_at": now, "updated_at": now,
            }
            r["issues"].add(n)
            r["refs"].setdefault(r["pulls"][n]["head_ref"], r["pulls"][n]["head_sha"])
        for s in data.get("statuses", []):
            r["statuses"].append({"sha": s["sha"], "context": s.get("context", "default"), "state": s["state"]})
        out = {"repo": r["full_name"], "repository_id": r["id"], "comments": [], "deployments": []}
        for d in data.get("deployments", []):
            out["deployments"].append(self.seed_deployment(r, d)["id"])
        for c in data.get("comments", []):
            n = int(c["issue_number"])
            r["issues"].add(n)
            ident = Identity(c.get("user", "octocat"), "write",
                             c.get("kind", "app" if c.get("user", "").endswith("[bot]") else "user"))
            rec = self.add_comment(r, n, ident, c.get("body", ""), c.get("created_at"))
            out["comments"].append(rec["id"])
        return out

    def seed_deployment(self, r, d):
        """A deployment made by someone else (another tool, an older run):
        {environment, sha?, ref?, payload?, creator?, transient?, production?,
        statuses?: [state, ...] oldest first}."""
        self.next_deployment += 1
        now = iso()
        env = d.get("environment", "production")
        sha = d.get("sha", hashlib.sha1(b"seed%d" % self.next_deployment).hexdigest())
        creator = d.get("creator", "github-actions[bot]")
        rec = {"id": self.next_deployment, "repo": r["full_name"].lower(), "sha": sha,
               "ref": d.get("ref", sha), "task": d.get("task", "deploy"), "payload": d.get("payload", {}),
               "original_environment": env, "environment": env, "description": d.get("description"),
               "creator": creator, "app": creator.endswith("[bot]"), "created": now, "updated": now,
               "transient": bool(d.get("transient", False)),
               "production": bool(d.get("production", env == "production"))}
        self.deployments[rec["id"]] = rec
        self.environments.setdefault((r["full_name"].lower(), env), {
            "id": self.next_env + 1, "repo": r["full_name"].lower(), "name": env, "created": now, "updated": now})
        self.next_env += 1
        for st in d.get("statuses", []):
            self.next_status += 1
            self.dstatuses[self.next_status] = {
                "id": self.next_status, "deployment": rec["id"], "repo": rec["repo"], "state": st,
                "creator": creator, "app": rec["app"], "description": "", "environment": env,
                "environment_url": "", "log_url": "", "created": now}
        return rec

    def dump_state(self):
        return {
            "repos": {r["full_name"]: {"id": r["id"], "pulls": sorted(r["pulls"]), "private": r["private"]}
                      for r in self.repos.values()},
            "comments": [self.comment_json(c, "http://api.invalid") for c in sorted(self.comments.values(), key=lambda c: c["id"])],
            "deployments": [dict(self.deployment_json(d, "http://api.invalid"),
                                 statuses=[self.status_json(s, "http://api.invalid") for s in self.statuses_of(d)])
                            for d in sorted(self.deployments.values(), key=lambda d: d["id"])],
            "environments": [self.env_json(e, "http://api.invalid") for e in self.environments.values()],
            "rate": {k: {"used": v[0], "reset": v[1]} for k, v in self.quota.items()},
        }

    # --- object shapes (from the OpenAPI examples and webhook payloads) -----
    def user_json(self, login, api):
        uid = self.user_id(login)
        is_bot = login.endswith("[bot]")
        return {
            "login": login, "id": uid, "node_id": node_id("Bot" if is_bot else "User", uid),
            "avatar_url": "https://avatars.githubusercontent.com/u/%d?v=4" % uid if not is_bot
            else "https://avatars.githubusercontent.com/in/15368?v=4",
            "gravatar_id": "", "url": "%s/users/%s" % (api, urllib.parse.quote(login)),
            "html_url": "%s/%s" % (self.web_url, "apps/" + login[:-5] if is_bot else login),
            "followers_url": "%s/users/%s/followers" % (api, login),
            "following_url": "%s/users/%s/following{/other_user}" % (api, login),
            "gists_url": "%s/users/%s/gists{/gist_id}" % (api, login),
            "starred_url": "%s/users/%s/starred{/owner}{/repo}" % (api, login),
            "subscriptions_url": "%s/users/%s/subscriptions" % (api, login),
            "organizations_url": "%s/users/%s/orgs" % (api, login),
            "repos_url": "%s/users/%s/repos" % (api, login),
            "events_url": "%s/users/%s/events{/privacy}" % (api, login),
            "received_events_url": "%s/users/%s/received_events" % (api, login),
            "type": "Bot" if is_bot else "User", "user_view_type": "public", "site_admin": False,
        }

    def app_json(self, ident):
        return dict(ACTIONS_APP) if ident and ident.kind == "app" else None

    def add_comment(self, r, number, ident, body, created_at=None):
        cid = self.next_comment
        self.next_comment += 1
        now = time.time()
        rec = {"id": cid, "repo": r["full_name"].lower(), "issue": number, "user": ident.login,
               "app": ident.kind == "app", "body": body, "created": created_at or iso(now),
               "updated": created_at or iso(now)}
        self.comments[cid] = rec
        return rec

    def association(self, r, login):
        if login in r["associations"]:
            return r["associations"][login]
        if login.lower() == r["owner"].lower():
            return "OWNER"
        if login.endswith("[bot]"):
            return "NONE"
        if login in r["collaborators"] or any(i.login == login and i.can("write") for i in self.tokens.values()):
            return "COLLABORATOR"
        return "NONE"

    def comment_json(self, c, api):
        j = self._comment_json(c, api)
        if j["author_association"] is None:
            del j["author_association"]
        return j

    def _comment_json(self, c, api):
        r = self.repos[c["repo"]]
        base = "%s/repos/%s" % (api, r["full_name"])
        kind = "pull" if c["issue"] in r["pulls"] else "issues"
        return {
            "url": "%s/issues/comments/%d" % (base, c["id"]),
            "html_url": "%s/%s/%s/%d#issuecomment-%d" % (self.web_url, r["full_name"], kind, c["issue"], c["id"]),
            "issue_url": "%s/issues/%d" % (base, c["issue"]),
            "id": c["id"], "node_id": node_id("IssueComment", c["id"]),
            "user": self.user_json(c["user"], api),
            "created_at": c["created"], "updated_at": c["updated"],
            "author_association": self.association(r, c["user"]),
            "body": c["body"],
            "reactions": {"url": "%s/issues/comments/%d/reactions" % (base, c["id"]), "total_count": 0,
                          "+1": 0, "-1": 0, "laugh": 0, "hooray": 0, "confused": 0, "heart": 0,
                          "rocket": 0, "eyes": 0},
            "performed_via_github_app": dict(ACTIONS_APP) if c["app"] else None,
        }

    def pull_json(self, r, p, api):
        base = "%s/repos/%s" % (api, r["full_name"])
        n = p["number"]
        hr_owner = p["head_repo"].split("/")[0]

        def repo_obj(full):
            rr = self.repos.get(full.lower())
            o, _, nm = full.partition("/")
            return {"id": rr["id"] if rr else 5000000 + len(full), "node_id": node_id("Repository", rr["id"] if rr else 1),
                    "name": nm, "full_name": full, "private": r["private"], "owner": self.user_json(o, api),
                    "html_url": "%s/%s" % (self.web_url, full), "url": "%s/repos/%s" % (api, full),
                    "fork": full.lower() != r["full_name"].lower(), "default_branch": r["default_branch"]}
        closed = p["state"] == "closed"
        return {
            "url": "%s/pulls/%d" % (base, n), "id": p["id"], "node_id": node_id("PullRequest", p["id"]),
            "html_url": "%s/%s/pull/%d" % (self.web_url, r["full_name"], n),
            "diff_url": "%s/%s/pull/%d.diff" % (self.web_url, r["full_name"], n),
            "patch_url": "%s/%s/pull/%d.patch" % (self.web_url, r["full_name"], n),
            "issue_url": "%s/issues/%d" % (base, n), "commits_url": "%s/pulls/%d/commits" % (base, n),
            "review_comments_url": "%s/pulls/%d/comments" % (base, n),
            "review_comment_url": "%s/pulls/comments{/number}" % base,
            "comments_url": "%s/issues/%d/comments" % (base, n),
            "statuses_url": "%s/statuses/%s" % (base, p["head_sha"]),
            "number": n, "state": p["state"], "locked": False, "title": p["title"],
            "user": self.user_json(p["user"], api), "body": None, "labels": [], "milestone": None,
            "active_lock_reason": None, "created_at": iso(p["created_at"]), "updated_at": iso(p["updated_at"]),
            "closed_at": iso(p["updated_at"]) if closed else None,
            "merged_at": iso(p["updated_at"]) if p["merged"] else None,
            "merge_commit_sha": hashlib.sha1(p["head_sha"].encode()).hexdigest() if p["state"] == "open" or p["merged"] else None,
            "assignee": None, "assignees": [], "requested_reviewers": [], "requested_teams": [],
            "head": {"label": "%s:%s" % (hr_owner, p["head_ref"]), "ref": p["head_ref"], "sha": p["head_sha"],
                     "user": self.user_json(hr_owner, api), "repo": repo_obj(p["head_repo"])},
            "base": {"label": "%s:%s" % (r["owner"], p["base_ref"]), "ref": p["base_ref"], "sha": p["base_sha"],
                     "user": self.user_json(r["owner"], api), "repo": repo_obj(r["full_name"])},
            "_links": {"self": {"href": "%s/pulls/%d" % (base, n)},
                       "html": {"href": "%s/%s/pull/%d" % (self.web_url, r["full_name"], n)},
                       "issue": {"href": "%s/issues/%d" % (base, n)},
                       "comments": {"href": "%s/issues/%d/comments" % (base, n)},
                       "statuses": {"href": "%s/statuses/%s" % (base, p["head_sha"])}},
            "author_association": self.association(r, p["user"]), "auto_merge": None, "draft": p["draft"],
            "merged": p["merged"], "mergeable": None if closed else True, "rebaseable": None,
            "mergeable_state": "unknown" if closed else "clean", "merged_by": None,
            "comments": sum(1 for c in self.comments.values() if c["repo"] == r["full_name"].lower() and c["issue"] == n),
            "review_comments": 0, "maintainer_can_modify": False, "commits": 1, "additions": 1, "deletions": 0,
            "changed_files": 1,
        }

    def statuses_of(self, d):
        return sorted((s for s in self.dstatuses.values() if s["deployment"] == d["id"]),
                      key=lambda s: -s["id"])

    def deployment_json(self, d, api):
        base = "%s/repos/%s" % (api, self.repos[d["repo"]]["full_name"])
        return {
            "url": "%s/deployments/%d" % (base, d["id"]), "id": d["id"], "node_id": node_id("Deployment", d["id"]),
            "sha": d["sha"], "ref": d["ref"], "task": d["task"], "payload": d["payload"],
            "original_environment": d["original_environment"], "environment": d["environment"],
            "description": d["description"], "creator": self.user_json(d["creator"], api),
            "created_at": d["created"], "updated_at": d["updated"],
            "statuses_url": "%s/deployments/%d/statuses" % (base, d["id"]), "repository_url": base,
            "transient_environment": d["transient"], "production_environment": d["production"],
            "performed_via_github_app": dict(ACTIONS_APP) if d["app"] else None,
        }

    def status_json(self, s, api):
        full = self.repos[s["repo"]]["full_name"]
        base = "%s/repos/%s" % (api, full)
        return {
            "url": "%s/deployments/%d/statuses/%d" % (base, s["deployment"], s["id"]), "id": s["id"],
            "node_id": node_id("DeploymentStatus", s["id"]), "state": s["state"],
            "creator": self.user_json(s["creator"], api), "description": s["description"],
            "environment": s["environment"], "target_url": s["log_url"],
            "created_at": s["created"], "updated_at": s["created"],
            "deployment_url": "%s/deployments/%d" % (base, s["deployment"]), "repository_url": base,
            "environment_url": s["environment_url"], "log_url": s["log_url"],
            "performed_via_github_app": dict(ACTIONS_APP) if s["app"] else None,
        }

    def env_json(self, e, api):
        full = self.repos[e["repo"]]["full_name"]
        return {"id": e["id"], "node_id": node_id("Environment", e["id"]), "name": e["name"],
                "url": "%s/repos/%s/environments/%s" % (api, full, urllib.parse.quote(e["name"], safe="")),
                "html_url": "%s/%s/deployments/activity_log?environments_filter=%s" % (self.web_url, full, urllib.parse.quote(e["name"])),
                "created_at": e["created"], "updated_at": e["updated"], "protection_rules": [],
                "deployment_branch_policy": None}

    # --- errors -------------------------------------------------------------
    @staticmethod
    def err(status, message, doc=DOCS, headers=None, **extra):
        body = {"message": message, "documentation_url": doc or DOCS, "status": str(status)}
        body.update(extra)
        return Response(status, body, headers)

    # --- admin --------------------------------------------------------------
    def admin(self, req):
        return admin_common(self, req)

    # --- rate limit ---------------------------------------------------------
    def _quota(self, key, limit, consume):
        now = time.time()
        q = self.quota.get(key)
        if q is None or q[1] <= now:
            q = [0, int(now) + 3600]
            self.quota[key] = q
        if consume:
            q[0] += 1
        return {"limit": limit, "used": q[0], "remaining": max(0, limit - q[0]), "reset": q[1]}

    # --- the request --------------------------------------------------------
    def handle(self, req):
        # GitHub Enterprise Server serves the REST API under /api/v3 (and
        # writes that prefix into its Link headers); api.github.com has none.
        prefix = ""
        if req["path"] == "/api/v3" or req["path"].startswith("/api/v3/"):
            prefix = "/api/v3"
            req["path"] = req["path"][len(prefix):] or "/"
        m, path = req["method"], req["path"]
        api = "http://%s%s" % (req["host"], prefix)
        hdr = req["headers"]
        entry = {"method": m, "path": path, "prefix": prefix, "query": req["query"],
                 "headers": {k: hdr.get(k) for k in ("Accept", "Content-Type", "User-Agent",
                                                     "X-GitHub-Api-Version", "If-None-Match")
                             if hdr.get(k) is not None}}
        raw = req["raw_body"]
        try:
            entry["body"] = json.loads(raw) if raw.strip() else None
        except ValueError:
            entry["body"] = raw.decode("utf-8", "replace")
        # Authentication: "token X", "Bearer X".
        auth = hdr.get("Authorization")
        ident = None
        if auth:
            scheme, _, tok = auth.partition(" ")
            entry["auth_scheme"] = scheme
            ident = self.tokens.get(tok.strip()) if scheme.lower() in ("token", "bearer") else None
            entry["identity"] = ident.login if ident else "(bad credentials)"
        # /repositories/{id}/... (the form GitHub uses in Link headers) -> /repos/{owner}/{repo}/...
        norm = path
        mo = re.match(r"^/repositories/([0-9]+)(/.*)?$", path)
        if mo:
            with self.lock:
                key = self.repo_ids.get(int(mo.group(1)))
                full = self.repos[key]["full_name"] if key else "-/-"
            norm = "/repos/%s%s" % (full, mo.group(2) or "")
            entry["normalized_path"] = norm
        v = self.spec.validate(m, norm, req["query"], raw if m in ("POST", "PATCH", "PUT") else (raw or None))
        entry["validation"] = v.as_dict()
        resp = self._respond(req, m, norm, api, ident, auth, v)
        entry["status"] = resp.status
        self.log.add(entry)
        return resp

    def _respond(self, req, m, path, api, ident, auth, v):
        hdr = req["headers"]
        if not hdr.get("User-Agent"):
            return Response(403, "Request forbidden by administrative rules. Please make sure your request has a "
                            "User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api"
                            "#user-agent-required). Check https://developer.github.com for other possible causes.\n",
                            content_type="text/plain; charset=utf-8")
        ver = hdr.get("X-GitHub-Api-Version")
        if ver is not None and ver not in ("2022-11-28", "2026-03-10"):
            return self.err(400, "API version %s is not supported." % ver)
        if auth and ident is None:
            return self.err(401, "Bad credentials")
        reqid = "%04X:%04X:%06X:%07X:%08X" % (os.getpid() & 0xFFFF, threading.get_ident() & 0xFFFF,
                                               next(_REQ_COUNTER), int(time.time() * 1000) & 0xFFFFFFF,
                                               int(time.time()))
        limit = self.rate_limit if ident else 60
        key = ident.login if ident else "anon:%s" % req["host"]
        with self.lock:
            q = self._quota(key, limit, consume=(path != "/rate_limit"))
        rl = [("x-ratelimit-limit", q["limit"]), ("x-ratelimit-remaining", q["remaining"]),
              ("x-ratelimit-reset", q["reset"]), ("x-ratelimit-used", q["used"]),
              ("x-ratelimit-resource", "core")]
        base_headers = [("x-github-request-id", reqid), ("x-github-api-version-selected", ver or "2022-11-28"),
                        ("x-github-media-type", "github.v3; format=json")]
        fault = self.faults.take(m, req["path"])
        if fault:
            resp = self._fault(fault, q, ident, reqid)
            if resp is not None:
                if not resp.drop and fault["status"] not in ("403rate",):
                    resp.headers = rl + base_headers + resp.headers
                return resp
        if q["used"] > q["limit"]:
            resp = self.err(403, "API rate limit exceeded for %s." %
                            ("user ID %d" % self.user_id(ident.login) if ident else "127.0.0.1") +
                            " If you reach out to GitHub Support for help, please include the request ID %s." % reqid,
                            RATE_DOCS)
            resp.headers = rl + base_headers
            return resp
        resp = self._route(m, path, req, api, ident, v)
        resp.headers = rl + base_headers + resp.headers
        if m == "GET" and resp.status == 200 and isinstance(resp.body, (dict, list)):
            etag = 'W/"%s"' % hashlib.sha256(json.dumps(resp.body, sort_keys=True).encode()).hexdigest()[:40]
            resp.headers.append(("ETag", etag))
            resp.headers.append(("Cache-Control", "private, max-age=60, s-maxage=60"))
            resp.headers.append(("Vary", "Accept, Authorization, Cookie, X-GitHub-OTP"))
            if req["headers"].get("If-None-Match") == etag:
                # A 304 does not count against the rate limit.
                with self.lock:
                    self.quota[key][0] -= 1
                return Response(304, None, [h for h in resp.headers if not h[0].startswith("x-ratelimit-remaining")]
                                + [("x-ratelimit-remaining", q["remaining"] + 1)])
        return resp

    def _fault(self, f, q, ident, reqid):
        kind = f["status"]
        now = int(time.time())
        if kind == "slow":
            # Not an error: the request is answered normally, after delay_ms
            # (random: anywhere up to it), as a loaded server or network does;
            # concurrent clients' writes then land in another order.
            ms = float(f.get("delay_ms", 200))
            time.sleep((random.random() if f.get("random") else 1.0) * ms / 1000.0)
            return None
        if kind in ("drop", "hang"):
            if kind == "hang":  # nothing for hang_s seconds, then the connection closes
                time.sleep(float(f.get("hang_s", 3)))
            r = Response(0)
            r.drop = True
            return r
        if kind == "403rate":
            reset = now + int(f.get("reset_in", 1))
            r = self.err(403, "API rate limit exceeded for %s. If you reach out to GitHub Support for help, please "
                         "include the request ID %s." % ("user ID %d" % self.user_id(ident.login) if ident
                                                         else "127.0.0.1", reqid), RATE_DOCS)
            r.headers = [("x-ratelimit-limit", q["limit"]), ("x-ratelimit-remaining", 0),
                         ("x-ratelimit-reset", reset), ("x-ratelimit-used", q["limit"]),
                         ("x-ratelimit-resource", "core"), ("x-github-request-id", reqid)]
            return r
        if kind in ("403secondary", "429secondary"):
            status = int(kind[:3])
            r = self.err(status, "You have exceeded a secondary rate limit. Please wait a few minutes before you try "
                         "again. If you reach out to GitHub Support for help, please include the request ID %s." % reqid,
                         SECONDARY_DOCS)
            if f.get("retry_after", 1) is not None:
                r.headers.append(("retry-after", int(f.get("retry_after", 1))))
            return r
        if kind == "502":
            # api.github.com's 502: a 32-byte JSON body.
            return Response(502, '{\n  "message": "Server Error"\n}\n', content_type="application/json")
        if kind in ("500", "503", "504"):
            return Response(int(kind), {"message": "Server Error"} if kind != "503" else
                            {"code": "unavailable", "message": "Service unavailable",
                             "documentation_url": DOCS})
        if re.fullmatch(r"[1-5][0-9][0-9]", kind):
            return self.err(int(kind), f.get("message", "fault %s" % kind))
        return None

    # --- routing ------------------------------------------------------------
    def _route(self, m, path, req, api, ident, v):
        doc = v.doc_url or DOCS
        if path == "/rate_limit" and m == "GET":
            limit = self.rate_limit if ident else 60
            with self.lock:
                q = self._quota(ident.login if ident else "anon:%s" % req["host"], limit, consume=False)
            res = {"core": q, "search": {"limit": 30, "used": 0, "remaining": 30, "reset": q["reset"]},
                   "graphql": {"limit": 5000, "used": 0, "remaining": 5000, "reset": q["reset"]}}
            return Response(200, {"resources": res, "rate": q})
        if path == "/user" and m == "GET":
            doc = "https://docs.github.com/rest/users/users#get-the-authenticated-user"
            if ident is None:
                return self.err(401, "Requires authentication", doc)
            if ident.kind == "app":
                return self.err(403, "Resource not accessible by integration", doc)
            with self.lock:
                u = self.user_json(ident.login, api)
            u.update({"name": ident.login.capitalize(), "company": None, "blog": "", "location": None,
                      "email": None, "hireable": None, "bio": None, "twitter_username": None,
                      "public_repos": 1, "public_gists": 0, "followers": 0, "following": 0,
                      "created_at": "2011-01-25T18:44:36Z", "updated_at": "2024-01-01T00:00:00Z"})
            return Response(200, u)
        mo = re.match(r"^/repos/([^/]+)/([^/]+)(/.*)?$", path)
        if not mo or v.operation_id is None:
            return self.err(404, "Not Found")
        if v.path_error:
            return self.err(404, "Not Found", doc)
        with self.lock:
            r = self.repo(urllib.parse.unquote(mo.group(1)), urllib.parse.unquote(mo.group(2)))
            if r is None or (r["private"] and ident is None):
                return self.err(404, "Not Found", doc)
        if m in ("POST", "PATCH", "PUT", "DELETE"):
            if ident is None:
                return self.err(401, "Requires authentication", doc)
            need = "admin" if "/environments" in path else "write"
            if not ident.can(need):
                what = "integration" if ident.kind == "app" else "personal access token"
                perm = ("administration=write" if need == "admin" else
                        "deployments=write" if "/deployments" in path else
                        "issues=write; pull_requests=write")
                return self.err(403, "Resource not accessible by %s" % what, doc,
                                [("x-accepted-github-permissions", perm)])
        if v.bad_json:
            return self.err(400, "Problems parsing JSON", doc)
        if v.body_messages:
            return self.err(422, "Invalid request.\n\n" + "\n".join(v.body_messages), doc)
        body = json.loads(req["raw_body"]) if req["raw_body"].strip() else {}
        pp = v.path_params
        q = dict(req["query"])
        tmpl = v.template
        with self.lock:
            fn = ROUTES.get((m, tmpl))
            if fn is None:
                return self.err(404, "Not Found", doc)
            return fn(self, r, pp, q, body, api, ident, doc, req)

    # --- pagination ---------------------------------------------------------
    def paginate(self, items, req, r, api, default=30):
        q = req["query"]
        d = dict(q)
        try:
            per = int(d.get("per_page", default))
        except ValueError:
            per = default
        per = max(1, min(100, per))
        try:
            page = max(1, int(d.get("page", 1)))
        except ValueError:
            page = 1
        last = max(1, (len(items) + per - 1) // per)
        chunk = items[(page - 1) * per: page * per]
        links = []
        if last > 1:
            # GitHub writes these with /repositories/{id}/... and keeps the caller's other parameters.
            rest = re.sub(r"^/repos/[^/]+/[^/]+", "", req["path"]) if req["path"].startswith("/repos/") \
                else re.sub(r"^/repositories/[0-9]+", "", req["path"])
            keep = [(k, val) for k, val in q if k != "page"]

            def url(pg):
                return "%s/repositories/%d%s?%s" % (api, r["id"], rest, urllib.parse.urlencode(keep + [("page", pg)]))
            if page > 1:
                links.append('<%s>; rel="prev"' % url(min(page - 1, last)))
            if page < last:
                links.append('<%s>; rel="next"' % url(page + 1))
                links.append('<%s>; rel="last"' % url(last))
            if page > 1:
                links.append('<%s>; rel="first"' % url(1))
        return chunk, ([("Link", ", ".join(links))] if links else [])


# --- route functions (called with the lock held) ------------------------------
def r_get_pull(gh, r, pp, q, body, api, ident, doc, req):
    p = r["pulls"].get(pp["pull_number"])
    if not p:
        return gh.err(404, "Not Found", doc)
    return Response(200, gh.pull_json(r, p, api))


def r_list_pulls(gh, r, pp, q, body, api, ident, doc, req):
    state = q.get("state", "open")
    items = []
    for n in sorted(r["pulls"], reverse=True):
        p = r["pulls"][n]
        if state != "all" and p["state"] != state:
            continue
        if "head" in q:
            owner, _, ref = q["head"].partition(":")
            if p["head_ref"] != ref or p["head_repo"].split("/")[0].lower() != owner.lower():
                continue
        if "base" in q and p["base_ref"] != q["base"]:
            continue
        items.append(gh.pull_json(r, p, api))
    chunk, links = gh.paginate(items, req, r, api)
    return Response(200, chunk, links)


def _issue_exists(r, n):
    return n in r["issues"] or n in r["pulls"]


def r_list_comments(gh, r, pp, q, body, api, ident, doc, req):
    n = pp["issue_number"]
    if not _issue_exists(r, n):
        return gh.err(404, "Not Found", doc)
    key = r["full_name"].lower()
    items = sorted((c for c in gh.comments.values() if c["repo"] == key and c["issue"] == n), key=lambda c: c["id"])
    if "since" in q:
        items = [c for c in items if c["updated"] >= q["since"]]
    chunk, links = gh.paginate(items, req, r, api)
    return Response(200, [gh.comment_json(c, api) for c in chunk], links)


def _body_check(gh, text, doc):
    if text.strip() == "":
        return gh.err(422, "Validation Failed", doc, errors=[
            {"resource": "IssueComment", "code": "unprocessable", "field": "data", "message": "Body cannot be blank"}])
    if len(text) > MAX_COMMENT:
        return gh.err(422, "Validation Failed", doc, errors=[
            {"resource": "IssueComment", "code": "unprocessable", "field": "data",
             "message": "Body is too long (maximum is %d characters)" % MAX_COMMENT}])
    return None


def r_create_comment(gh, r, pp, q, body, api, ident, doc, req):
    n = pp["issue_number"]
    if not _issue_exists(r, n):
        return gh.err(404, "Not Found", doc)
    bad = _body_check(gh, body["body"], doc)
    if bad:
        return bad
    c = gh.add_comment(r, n, ident, body["body"])
    j = gh.comment_json(c, api)
    return Response(201, j, [("Location", j["url"])])


def _comment(gh, r, pp):
    c = gh.comments.get(pp["comment_id"])
    if c is None or c["repo"] != r["full_name"].lower():
        return None
    return c


def r_get_comment(gh, r, pp, q, body, api, ident, doc, req):
    c = _comment(gh, r, pp)
    return Response(200, gh.comment_json(c, api)) if c else gh.err(404, "Not Found", doc)


def r_update_comment(gh, r, pp, q, body, api, ident, doc, req):
    c = _comment(gh, r, pp)
    if not c:
        return gh.err(404, "Not Found", doc)
    bad = _body_check(gh, body["body"], doc)
    if bad:
        return bad
    c["body"] = body["body"]
    c["updated"] = iso()
    return Response(200, gh.comment_json(c, api))


def r_delete_comment(gh, r, pp, q, body, api, ident, doc, req):
    c = _comment(gh, r, pp)
    if not c:
        return gh.err(404, "Not Found", doc)
    del gh.comments[c["id"]]
    return Response(204)


def _resolve_ref(r, ref):
    if re.fullmatch(r"[0-9a-f]{40}", ref):
        return ref
    for cand in (ref, re.sub(r"^refs/heads/", "", ref), re.sub(r"^heads/", "", ref)):
        if cand in r["refs"]:
            return r["refs"][cand]
    mo = re.fullmatch(r"(?:refs/)?pull/([0-9]+)/(head|merge)", ref)
    if mo and int(mo.group(1)) in r["pulls"]:
        p = r["pulls"][int(mo.group(1))]
        return p["head_sha"] if mo.group(2) == "head" else hashlib.sha1(p["head_sha"].encode()).hexdigest()
    if ref == r["default_branch"]:
        return hashlib.sha1(("%s@%s" % (r["full_name"], ref)).encode()).hexdigest()
    return None


def _environment(gh, r, name, create):
    key = (r["full_name"].lower(), name)
    if key not in gh.environments and create:
        gh.next_env += 1
        gh.environments[key] = {"id": gh.next_env, "repo": r["full_name"].lower(), "name": name,
                                "created": iso(), "updated": iso()}
    return gh.environments.get(key)


def r_create_deployment(gh, r, pp, q, body, api, ident, doc, req):
    ref = body["ref"]
    sha = _resolve_ref(r, ref)
    if sha is None:
        return gh.err(422, "No ref found for: %s" % ref, doc)
    rc = body.get("required_contexts")
    sts = {}
    for s in r["statuses"]:
        if s["sha"] == sha:
            sts[s["context"]] = s["state"]
    contexts = list(sts) if rc is None else rc
    failing = [{"context": c, "state": sts.get(c, "missing")} for c in contexts if sts.get(c) != "success"]
    if failing:
        return gh.err(409, "Conflict: Commit status checks failed for %s." % ref, doc, errors=[
            {"contexts": failing, "resource": "Deployment", "field": "required_contexts", "code": "invalid"}])
    env = body.get("environment", "production")
    payload = body.get("payload", {})
    if isinstance(payload, str):
        try:
            payload = json.loads(payload) if payload.strip() else {}
        except ValueError:
            pass
    gh.next_deployment += 1
    now = iso()
    d = {"id": gh.next_deployment, "repo": r["full_name"].lower(), "sha": sha, "ref": ref,
         "task": body.get("task", "deploy"), "payload": payload, "original_environment": env,
         "environment": env, "description": body.get("description"), "creator": ident.login,
         "app": ident.kind == "app", "created": now, "updated": now,
         "transient": bool(body.get("transient_environment", False)),
         "production": bool(body.get("production_environment", env == "production"))}
    gh.deployments[d["id"]] = d
    _environment(gh, r, env, True)
    return Response(201, gh.deployment_json(d, api))


def r_list_deployments(gh, r, pp, q, body, api, ident, doc, req):
    items = []
    for d in sorted(gh.deployments.values(), key=lambda d: -d["id"]):
        if d["repo"] != r["full_name"].lower():
            continue
        if any(k in q and q[k] != d[k] for k in ("sha", "ref", "task", "environment")):
            continue
        items.append(d)
    chunk, links = gh.paginate(items, req, r, api)
    return Response(200, [gh.deployment_json(d, api) for d in chunk], links)


def _deployment(gh, r, pp):
    d = gh.deployments.get(pp["deployment_id"])
    return d if d and d["repo"] == r["full_name"].lower() else None


def r_get_deployment(gh, r, pp, q, body, api, ident, doc, req):
    d = _deployment(gh, r, pp)
    return Response(200, gh.deployment_json(d, api)) if d else gh.err(404, "Not Found", doc)


def r_delete_deployment(gh, r, pp, q, body, api, ident, doc, req):
    d = _deployment(gh, r, pp)
    if not d:
        return gh.err(404, "Not Found", doc)
    others = [x for x in gh.deployments.values() if x["repo"] == d["repo"] and x["id"] != d["id"]]
    sts = gh.statuses_of(d)
    active = not sts or sts[0]["state"] == "success"
    if others and active:
        return gh.err(422, "We cannot delete an active deployment unless it is the only deployment in a given "
                      "environment.", doc)
    for s in sts:
        del gh.dstatuses[s["id"]]
    del gh.deployments[d["id"]]
    return Response(204)


def _add_status(gh, r, d, state, creator, app, **kw):
    gh.next_status += 1
    s = {"id": gh.next_status, "deployment": d["id"], "repo": d["repo"], "state": state, "creator": creator,
         "app": app, "description": kw.get("description", ""), "environment": kw.get("environment") or d["environment"],
         "environment_url": kw.get("environment_url", ""), "log_url": kw.get("log_url", ""), "created": iso()}
    gh.dstatuses[s["id"]] = s
    d["updated"] = s["created"]
    return s


def r_create_status(gh, r, pp, q, body, api, ident, doc, req):
    d = _deployment(gh, r, pp)
    if not d:
        return gh.err(404, "Not Found", doc)
    desc = body.get("description", "")
    if len(desc) > 140:
        return gh.err(422, "Validation Failed", doc, errors=[
            {"resource": "DeploymentStatus", "code": "custom", "field": "description",
             "message": "description is too long (maximum is 140 characters)"}])
    prev = gh.statuses_of(d)
    env = body.get("environment") or (prev[0]["environment"] if prev else d["environment"])
    log_url = body.get("log_url", body.get("target_url", ""))
    s = _add_status(gh, r, d, body["state"], ident.login, ident.kind == "app", description=desc,
                    environment=env, environment_url=body.get("environment_url", ""), log_url=log_url)
    if env != d["environment"]:
        d["environment"] = env
        _environment(gh, r, env, True)
    if body["state"] == "success" and body.get("auto_inactive", True):
        for o in gh.deployments.values():
            if o["id"] == d["id"] or o["repo"] != d["repo"] or o["environment"] != env:
                continue
            if o["transient"] or o["production"]:
                continue
            os_ = gh.statuses_of(o)
            if os_ and os_[0]["state"] == "success":
                _add_status(gh, r, o, "inactive", ident.login, ident.kind == "app", environment=env,
                            description="", environment_url=os_[0]["environment_url"], log_url="")
    j = gh.status_json(s, api)
    return Response(201, j, [("Location", j["url"])])


def r_list_statuses(gh, r, pp, q, body, api, ident, doc, req):
    d = _deployment(gh, r, pp)
    if not d:
        return gh.err(404, "Not Found", doc)
    chunk, links = gh.paginate(gh.statuses_of(d), req, r, api)
    return Response(200, [gh.status_json(s, api) for s in chunk], links)


def r_get_status(gh, r, pp, q, body, api, ident, doc, req):
    d = _deployment(gh, r, pp)
    s = gh.dstatuses.get(pp.get("status_id")) if d else None
    if not s or s["deployment"] != d["id"]:
        return gh.err(404, "Not Found", doc)
    return Response(200, gh.status_json(s, api))


def r_list_envs(gh, r, pp, q, body, api, ident, doc, req):
    envs = sorted((e for e in gh.environments.values() if e["repo"] == r["full_name"].lower()), key=lambda e: e["name"])
    chunk, links = gh.paginate(envs, req, r, api)
    return Response(200, {"total_count": len(envs), "environments": [gh.env_json(e, api) for e in chunk]}, links)


def r_get_env(gh, r, pp, q, body, api, ident, doc, req):
    e = _environment(gh, r, pp["environment_name"], False)
    return Response(200, gh.env_json(e, api)) if e else gh.err(404, "Not Found", doc)


def r_put_env(gh, r, pp, q, body, api, ident, doc, req):
    e = _environment(gh, r, pp["environment_name"], True)
    e["updated"] = iso()
    return Response(200, gh.env_json(e, api))


def r_delete_env(gh, r, pp, q, body, api, ident, doc, req):
    e = _environment(gh, r, pp["environment_name"], False)
    if not e:
        return gh.err(404, "Not Found", doc)
    del gh.environments[(e["repo"], e["name"])]
    for d in [d for d in gh.deployments.values() if d["repo"] == e["repo"] and d["environment"] == e["name"]]:
        for s in gh.statuses_of(d):
            del gh.dstatuses[s["id"]]
        del gh.deployments[d["id"]]
    return Response(204)


P = "/repos/{owner}/{repo}"
ROUTES = {
    ("GET", P + "/pulls/{pull_number}"): r_get_pull,
    ("GET", P + "/pulls"): r_list_pulls,
    ("GET", P + "/issues/{issue_number}/comments"): r_list_comments,
    ("POST", P + "/issues/{issue_number}/comments"): r_create_comment,
    ("GET", P + "/issues/comments/{comment_id}"): r_get_comment,
    ("PATCH", P + "/issues/comments/{comment_id}"): r_update_comment,
    ("DELETE", P + "/issues/comments/{comment_id}"): r_delete_comment,
    ("POST", P + "/deployments"): r_create_deployment,
    ("GET", P + "/deployments"): r_list_deployments,
    ("GET", P + "/deployments/{deployment_id}"): r_get_deployment,
    ("DELETE", P + "/deployments/{deployment_id}"): r_delete_deployment,
    ("POST", P + "/deployments/{deployment_id}/statuses"): r_create_status,
    ("GET", P + "/deployments/{deployment_id}/statuses"): r_list_statuses,
    ("GET", P + "/deployments/{deployment_id}/statuses/{status_id}"): r_get_status,
    ("GET", P + "/environments"): r_list_envs,
    ("GET", P + "/environments/{environment_name}"): r_get_env,
    ("PUT", P + "/environments/{environment_name}"): r_put_env,
    ("DELETE", P + "/environments/{environment_name}"): r_delete_env,
}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--state", help="seed JSON file (the /_test/seed body, or a list of them)")
    ap.add_argument("--token", action="append", default=[], help="TOKEN=LOGIN:PERM[:KIND]")
    ap.add_argument("--rate-limit", type=int, default=5000)
    ap.add_argument("--web-url", default="https://github.com")
    ap.add_argument("--spec", help="OpenAPI description (default: shared/refdata subset)")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args(argv)
    tokens = dict(parse_token(t) for t in a.token)
    app = GitHub(tokens, a.rate_limit, a.web_url, a.spec)
    run(app, a)


if __name__ == "__main__":
    main()
