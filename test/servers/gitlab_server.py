#!/usr/bin/python3
"""A GitLab REST API (v4) test server for merge request notes.

    python3 gitlab_server.py --port 0 --port-file F [--state seed.json]
        [--token glpat-rw=alice:api] [--token glpat-ro=bob:read_api]
        [--token glpat-bot=project_5_bot_1a2b:api:maintainer] [--job-token JOBTOK]
        [--web-url https://gitlab.example.com] [--verbose]

Token spec: TOKEN=USERNAME:SCOPE[:ROLE]; SCOPE api|read_api; ROLE guest|reporter|
developer|maintainer|owner (default developer). A username like project_5_bot_*
is a project access token's bot user. See README-codehosts.md.
"""
import argparse
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
from common import (Faults, RequestLog, Response, admin_common, http_date,  # noqa: E402
                    iso, run)

ROLES = ("guest", "reporter", "developer", "maintainer", "owner")
MAX_NOTE = 1000000


class Identity:
    def __init__(self, username, scope, role):
        self.username, self.scope, self.role = username, scope, role
        self.bot = bool(re.match(r"^(project|group)_[0-9]+_bot", username))


def parse_token(spec):
    tok, _, rest = spec.partition("=")
    parts = rest.split(":")
    if not tok or not parts[0]:
        raise ValueError("token spec %r: want TOKEN=USERNAME:SCOPE[:ROLE]" % spec)
    scope = parts[1] if len(parts) > 1 and parts[1] else "api"
    role = parts[2] if len(parts) > 2 else "developer"
    if scope not in ("api", "read_api") or role not in ROLES:
        raise ValueError("token spec %r: SCOPE api|read_api, ROLE %s" % (spec, "|".join(ROLES)))
    return tok, Identity(parts[0], scope, role)


# Parameters each operation declares (from doc/api/notes.md and merge_requests.md).
# name -> (type, required, enum)
_PAGING = {"page": ("integer", False, None), "per_page": ("integer", False, None)}
OPS = {
    ("GET", "user"): {},
    ("GET", "project"): {"license": ("boolean", False, None), "statistics": ("boolean", False, None),
                         "with_custom_attributes": ("boolean", False, None)},
    ("GET", "mr"): {"render_html": ("boolean", False, None), "include_diverged_commits_count": ("boolean", False, None),
                    "include_rebase_in_progress": ("boolean", False, None)},
    ("GET", "notes"): dict(_PAGING, sort=("string", False, ("asc", "desc")),
                           order_by=("string", False, ("created_at", "updated_at"))),
    ("POST", "notes"): {"body": ("string", True, None), "internal": ("boolean", False, None),
                        "created_at": ("string", False, None), "merge_request_diff_head_sha": ("string", False, None)},
    ("GET", "note"): {},
    ("PUT", "note"): {"body": ("string", True, None), "confidential": ("boolean", False, None)},
    ("DELETE", "note"): {},
}
# Route parameter names, which GitLab accepts (and ignores) in the query string too.
ROUTE_PARAMS = {"id", "noteable_id", "merge_request_iid", "note_id"}
ROUTES = [
    (re.compile(r"^/api/v4/user$"), "user"),
    (re.compile(r"^/api/v4/projects/([^/]+)$"), "project"),
    (re.compile(r"^/api/v4/projects/([^/]+)/merge_requests/([^/]+)$"), "mr"),
    (re.compile(r"^/api/v4/projects/([^/]+)/merge_requests/([^/]+)/notes$"), "notes"),
    (re.compile(r"^/api/v4/projects/([^/]+)/merge_requests/([^/]+)/notes/([^/]+)$"), "note"),
]


def _typed(v, t):
    """Grape coerces strings and JSON values; returns (ok, value)."""
    if t == "integer":
        if isinstance(v, int) and not isinstance(v, bool):
            return True, v
        if isinstance(v, str) and re.fullmatch(r"-?[0-9]+", v):
            return True, int(v)
        return False, v
    if t == "boolean":
        if isinstance(v, bool):
            return True, v
        if isinstance(v, str) and v.lower() in ("true", "false", "1", "0", "t", "f", "yes", "no"):
            return True, v.lower() in ("true", "1", "t", "yes")
        return False, v
    if t == "string":
        return (isinstance(v, (str, int, float)) and not isinstance(v, bool)), (str(v) if not isinstance(v, str) else v)
    return True, v


class GitLab:
    def __init__(self, tokens, job_tokens=(), web_url="https://gitlab.example.com"):
        self.lock = threading.RLock()
        self.faults = Faults()
        self.log = RequestLog()
        self.tokens = dict(tokens)
        self.job_tokens = set(job_tokens)
        self.web_url = web_url.rstrip("/")
        self.reqn = __import__("itertools").count(1)
        self.reset()

    def reset(self):
        self.projects = {}   # id -> project
        self.by_path = {}    # path lower -> id
        self.users = {}      # username -> id
        self.notes = {}      # id -> note
        self.next_note = 1000001
        self.next_project = 5
        self.next_mr_id = 2000

    # --- seed/state ---------------------------------------------------------
    def user_id(self, username):
        if username not in self.users:
            self.users[username] = 1 + len(self.users) * 3 + 1
        return self.users[username]

    def seed(self, data):
        path = data.get("project") or "group/project"
        pid = self.by_path.get(path.lower())
        if pid is None:
            pid = int(data.get("id", self.next_project))
            self.next_project = max(self.next_project, pid) + 1
            self.projects[pid] = {"id": pid, "path": path, "visibility": "private", "mrs": {},
                                  "default_branch": "main"}
            self.by_path[path.lower()] = pid
        p = self.projects[pid]
        p["visibility"] = data.get("visibility", p["visibility"])
        for m in data.get("merge_requests", []):
            iid = int(m["iid"])
            self.next_mr_id += 1
            now = time.time()
            p["mrs"][iid] = {"id": self.next_mr_id, "iid": iid,
                             "sha": m.get("sha", hashlib.sha1(b"mr%d" % iid).hexdigest()),
                             "source_branch": m.get("source_branch", "feature-%d" % iid),
                             "target_branch": m.get("target_branch", p["default_branch"]),
                             "state": m.get("state", "opened"), "author": m.get("author", "root"),
                             "title": m.get("title", "Merge request %d" % iid),
                             "source_project_id": int(m.get("source_project_id", pid)),
                             "base_sha": m.get("base_sha", hashlib.sha1(b"base%d" % iid).hexdigest()),
                             "created": iso(now, ms=True), "updated": iso(now, ms=True)}
        out = {"project": path, "id": pid, "notes": []}
        for n in data.get("notes", []):
            iid = int(n["mr_iid"])
            if iid not in p["mrs"]:
                raise ValueError("note for unknown merge request !%d" % iid)
            rec = self.add_note(p, iid, n.get("author", "root"), n.get("body", ""), bool(n.get("system", False)),
                                n.get("created_at"))
            out["notes"].append(rec["id"])
        return out

    def add_note(self, p, iid, author, body, system=False, created=None, internal=False):
        nid = self.next_note
        self.next_note += 1
        now = created or iso(ms=True)
        rec = {"id": nid, "project": p["id"], "iid": iid, "author": author, "body": body, "system": system,
               "internal": internal, "created": now, "updated": now}
        self.notes[nid] = rec
        return rec

    def dump_state(self):
        return {"projects": {p["path"]: {"id": p["id"], "merge_requests": sorted(p["mrs"]),
                                         "visibility": p["visibility"]} for p in self.projects.values()},
                "notes": [self.note_json(n) for n in sorted(self.notes.values(), key=lambda n: n["id"])]}

    # --- shapes -------------------------------------------------------------
    def user_json(self, username):
        uid = self.user_id(username)
        return {"id": uid, "username": username, "name": username.replace("_", " ").title(),
                "state": "active", "locked": False,
                "avatar_url": "https://www.gravatar.com/avatar/%s?s=80&d=identicon" % hashlib.md5(username.encode()).hexdigest(),
                "web_url": "%s/%s" % (self.web_url, username)}

    def note_json(self, n):
        p = self.projects[n["project"]]
        mr = p["mrs"][n["iid"]]
        return {"id": n["id"], "type": None, "body": n["body"], "attachment": None,
                "author": self.user_json(n["author"]), "created_at": n["created"], "updated_at": n["updated"],
                "system": n["system"], "noteable_id": mr["id"], "noteable_type": "MergeRequest",
                "project_id": p["id"], "resolvable": False, "confidential": n["internal"], "internal": n["internal"],
                "imported": False, "imported_from": "none", "noteable_iid": n["iid"], "commands_changes": {}}

    def mr_json(self, p, mr):
        web = "%s/%s/-/merge_requests/%d" % (self.web_url, p["path"], mr["iid"])
        closed = mr["state"] in ("closed", "merged")
        return {
            "id": mr["id"], "iid": mr["iid"], "project_id": p["id"], "title": mr["title"], "description": "",
            "state": mr["state"], "created_at": mr["created"], "updated_at": mr["updated"],
            "merged_by": None, "merge_user": None, "merged_at": mr["updated"] if mr["state"] == "merged" else None,
            "closed_by": None, "closed_at": mr["updated"] if mr["state"] == "closed" else None,
            "target_branch": mr["target_branch"], "source_branch": mr["source_branch"],
            "user_notes_count": sum(1 for n in self.notes.values()
                                    if n["project"] == p["id"] and n["iid"] == mr["iid"] and not n["system"]),
            "upvotes": 0, "downvotes": 0, "author": self.user_json(mr["author"]), "assignees": [], "assignee": None,
            "reviewers": [], "source_project_id": mr["source_project_id"], "target_project_id": p["id"],
            "labels": [], "draft": False, "work_in_progress": False, "milestone": None,
            "merge_when_pipeline_succeeds": False, "merge_status": "can_be_merged",
            "detailed_merge_status": "not_open" if closed else "mergeable",
            "sha": mr["sha"], "merge_commit_sha": None, "squash_commit_sha": None, "discussion_locked": None,
            "should_remove_source_branch": None, "force_remove_source_branch": True, "prepared_at": mr["created"],
            "reference": "!%d" % mr["iid"],
            "references": {"short": "!%d" % mr["iid"], "relative": "!%d" % mr["iid"],
                           "full": "%s!%d" % (p["path"], mr["iid"])},
            "web_url": web, "time_stats": {"time_estimate": 0, "total_time_spent": 0, "human_time_estimate": None,
                                           "human_total_time_spent": None},
            "squash": False, "squash_on_merge": False, "task_completion_status": {"count": 0, "completed_count": 0},
            "has_conflicts": False, "blocking_discussions_resolved": True, "subscribed": False,
            "changes_count": "1", "latest_build_started_at": None, "latest_build_finished_at": None,
            "first_deployed_to_production_at": None, "pipeline": None, "head_pipeline": None,
            "diff_refs": {"base_sha": mr["base_sha"], "head_sha": mr["sha"], "start_sha": mr["base_sha"]},
            "merge_error": None, "first_contribution": False, "user": {"can_merge": True},
        }

    def project_json(self, p):
        name = p["path"].split("/")[-1]
        return {"id": p["id"], "name": name, "path": name, "path_with_namespace": p["path"],
                "name_with_namespace": p["path"].replace("/", " / "), "default_branch": p["default_branch"],
                "visibility": p["visibility"], "web_url": "%s/%s" % (self.web_url, p["path"]),
                "created_at": "2020-01-01T00:00:00.000Z", "last_activity_at": iso(ms=True)}

    # --- admin --------------------------------------------------------------
    def admin(self, req):
        return admin_common(self, req)

    # --- the request --------------------------------------------------------
    def handle(self, req):
        m, path = req["method"], req["path"]
        hdr = req["headers"]
        entry = {"method": m, "path": path, "query": req["query"],
                 "headers": {k: hdr.get(k) for k in ("Accept", "Content-Type", "User-Agent") if hdr.get(k) is not None}}
        raw = req["raw_body"]
        # Parameters: query string, then a JSON or form body (Grape merges them).
        params = {}
        for k, v in req["query"]:
            params[k] = v
        bad_body = False
        ctype = (hdr.get("Content-Type") or "").split(";")[0].strip().lower()
        if raw.strip():
            if ctype == "application/json" or (not ctype and raw.lstrip()[:1] in (b"{", b"[")):
                try:
                    b = json.loads(raw)
                    entry["body"] = b
                    if isinstance(b, dict):
                        params.update(b)
                    else:
                        bad_body = True
                except ValueError:
                    bad_body = True
                    entry["body"] = raw.decode("utf-8", "replace")
            else:
                form = urllib.parse.parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
                entry["body"] = dict(form)
                params.update(dict(form))
        # Authentication
        ident, how = None, None
        tok_params = {"private_token", "access_token", "job_token"}
        if hdr.get("PRIVATE-TOKEN") is not None:
            how, tok = "private-token", hdr.get("PRIVATE-TOKEN")
        elif (hdr.get("Authorization") or "").lower().startswith("bearer "):
            how, tok = "bearer", hdr.get("Authorization")[7:].strip()
        elif hdr.get("JOB-TOKEN") is not None:
            how, tok = "job-token", hdr.get("JOB-TOKEN")
        elif params.get("private_token") or params.get("access_token"):
            how, tok = "query", params.get("private_token") or params.get("access_token")
        elif params.get("job_token"):
            how, tok = "job-token", params.get("job_token")
        else:
            tok = None
        for k in tok_params:
            params.pop(k, None)
        if how:
            entry["auth"] = how
            if how == "job-token" or (how == "bearer" and tok in self.job_tokens):
                entry["identity"] = "(job token)" if tok in self.job_tokens else "(bad job token)"
                how = "job-token"
            else:
                ident = self.tokens.get(tok)
                entry["identity"] = ident.username if ident else "(bad token)"
        route, groups = None, ()
        for rx, name in ROUTES:
            mo = rx.match(path)
            if mo:
                route, groups = name, mo.groups()
                break
        violations = self.validate(m, route, groups, params, bad_body)
        entry["validation"] = {"operation": "%s %s" % (m, route) if (m, route) in OPS else None,
                               "ok": not violations, "errors": violations}
        resp = self._respond(req, m, route, groups, params, ident, how, tok, violations, bad_body)
        entry["status"] = resp.status
        self.log.add(entry)
        return resp

    @staticmethod
    def validate(m, route, groups, params, bad_body):
        errs = []
        spec = OPS.get((m, route))
        if spec is None:
            return [{"in": "operation", "name": "%s %s" % (m, route), "message": "no such operation"}]
        if bad_body:
            errs.append({"in": "body", "name": "", "message": "body is not a JSON object"})
        for g, nm in zip(groups[1:], ("merge_request_iid", "note_id")):
            if not re.fullmatch(r"[0-9]+", g):
                errs.append({"in": "path", "name": nm, "message": "%r is not an integer" % g})
        for name, (t, req, enum) in spec.items():
            if req and name not in params:
                errs.append({"in": "param", "name": name, "message": "%s is missing" % name})
        for k, v in params.items():
            if k in ROUTE_PARAMS:  # Grape merges route parameters; GitLab's own Link URLs repeat them
                continue
            if k not in spec:
                errs.append({"in": "param", "name": k, "message": "not a parameter of %s %s" % (m, route)})
                continue
            t, _, enum = spec[k]
            ok, val = _typed(v, t)
            if not ok:
                errs.append({"in": "param", "name": k, "message": "%s is invalid" % k})
            elif enum and val not in enum:
                errs.append({"in": "param", "name": k, "message": "%s does not have a valid value" % k})
            elif k == "per_page" and not 1 <= val <= 100:
                errs.append({"in": "param", "name": k, "message": "per_page %d outside 1..100 (GitLab caps at 100)" % val})
            elif k == "page" and val < 1:
                errs.append({"in": "param", "name": k, "message": "page must be >= 1"})
        return errs

    def _respond(self, req, m, route, groups, params, ident, how, tok, violations, bad_body):
        rid = "01H%023d" % next(self.reqn)
        base = [("X-Request-Id", rid), ("X-Runtime", "0.012345"), ("Cache-Control", "max-age=0, private, must-revalidate"),
                ("Vary", "Origin, Accept-Encoding"), ("X-Content-Type-Options", "nosniff"),
                ("X-Frame-Options", "SAMEORIGIN"), ("X-Gitlab-Meta", json.dumps({"correlation_id": rid, "version": "1"}))]
        fault = self.faults.take(m, req["path"])
        if fault:
            resp = self._fault(fault)
            if resp is not None:
                if not resp.drop:
                    resp.headers = base + resp.headers
                return resp
        resp = self._route(req, m, route, groups, params, ident, how, tok, violations, bad_body)
        resp.headers = base + resp.headers
        if m == "GET" and resp.status == 200 and isinstance(resp.body, (dict, list)):
            etag = 'W/"%s"' % hashlib.md5(json.dumps(resp.body, sort_keys=True).encode()).hexdigest()
            resp.headers.append(("ETag", etag))
            if req["headers"].get("If-None-Match") == etag:
                return Response(304, None, resp.headers)
        return resp

    def _fault(self, f):
        kind = f["status"]
        now = int(time.time())
        if kind == "slow":
            # Not an error: the request is answered normally, after delay_ms
            # (random: anywhere up to it), as a loaded server or network does;
            # concurrent clients' writes then land in another order.
            ms = float(f.get("delay_ms", 200))
            time.sleep((random.random() if f.get("random") else 1.0) * ms / 1000.0)
            return None
        if kind == "drop":
            r = Response(0)
            r.drop = True
            return r
        if kind == "429":
            ra = int(f.get("retry_after", 1))
            # Rack::Attack throttle (User and IP rate limits).
            return Response(429, "Retry later\n", [
                ("RateLimit-Name", "throttle_authenticated_api"), ("RateLimit-Limit", 2000),
                ("RateLimit-Observed", 2001), ("RateLimit-Remaining", 0), ("RateLimit-Reset", now + ra),
                ("RateLimit-ResetTime", http_date(now + ra)), ("Retry-After", ra)], content_type="text/plain")
        if kind == "429notes":
            ra = int(f.get("retry_after", 1))
            # Application rate limit on note creation (Gitlab::ApplicationRateLimiter).
            return Response(429, {"message": {"error": "This endpoint has been requested too many times. "
                                                       "Try again later."}}, [("Retry-After", ra)])
        if kind in ("502", "503", "504"):
            return Response(int(kind), "<!DOCTYPE html>\n<html>\n<head>\n  <title>GitLab is not responding (%s)</title>\n"
                            "</head>\n<body>\n<h1>%s</h1>\n<h3>Whoops, GitLab is taking too much time to respond."
                            "</h3>\n</body>\n</html>\n" % (kind, kind), content_type="text/html; charset=utf-8")
        if kind == "500":
            return Response(500, {"message": "500 Internal Server Error"})
        if re.fullmatch(r"[1-5][0-9][0-9]", kind):
            return Response(int(kind), {"message": f.get("message", "%s fault" % kind)})
        return None

    def _project(self, ref):
        ref = urllib.parse.unquote(ref)
        if re.fullmatch(r"[0-9]+", ref):
            return self.projects.get(int(ref))
        pid = self.by_path.get(ref.lower())
        return self.projects.get(pid) if pid else None

    def _route(self, req, m, route, groups, params, ident, how, tok, violations, bad_body):
        if route is None:
            return Response(404, {"error": "404 Not Found"})
        if (m, route) not in OPS:
            return Response(405, {"message": "405 Method Not Allowed"}, [("Allow", ", ".join(
                sorted(mm for (mm, rr) in OPS if rr == route)))])
        if how == "job-token":
            # CI_JOB_TOKEN is only accepted on the endpoints listed in "CI/CD job token"
            # docs; user, merge request and notes endpoints are not among them.
            return Response(401, {"message": "401 Unauthorized"})
        if how and ident is None:
            return Response(401, {"message": "401 Unauthorized"})
        if route == "user":
            if ident is None:
                return Response(401, {"message": "401 Unauthorized"})
            with self.lock:
                u = self.user_json(ident.username)
            u.update({"created_at": "2020-01-01T00:00:00.000Z", "bio": "", "location": "", "public_email": None,
                      "skype": "", "linkedin": "", "twitter": "", "website_url": "", "organization": "",
                      "job_title": "", "bot": ident.bot, "is_admin": False, "two_factor_enabled": False,
                      "external": False, "private_profile": False, "locked": False})
            return Response(200, u)
        with self.lock:
            p = self._project(groups[0])
            if p is None or (p["visibility"] == "private" and ident is None):
                return Response(404, {"message": "404 Project Not Found"})
            if m != "GET":
                if ident is None:
                    return Response(401, {"message": "401 Unauthorized"})
                if ident.scope != "api":
                    return Response(403, {"error": "insufficient_scope",
                                          "error_description": "The request requires higher privileges than provided "
                                                               "by the access token.", "scope": "api"},
                                    [("WWW-Authenticate", 'Bearer realm="Protected by OAuth 2.0", error="insufficient_scope", '
                                      'error_description="The request requires higher privileges than provided by the '
                                      'access token.", scope="api"')])
            if bad_body:
                return Response(400, {"message": "400 Bad request - body is not valid JSON"})
            if route == "project":
                return Response(200, self.project_json(p))
            if not re.fullmatch(r"[0-9]+", groups[1]):
                return Response(400, {"error": "merge_request_iid is invalid"})
            mr = p["mrs"].get(int(groups[1]))
            if mr is None:
                return Response(404, {"message": "404 Not found"})
            if route == "mr":
                return Response(200, self.mr_json(p, mr))
            for v in violations:  # Grape's 400s for declared parameters
                if v["in"] == "param" and "not a parameter" not in v["message"] and "outside" not in v["message"]:
                    return Response(400, {"error": v["message"]})
            if route == "notes":
                if m == "GET":
                    return self._list_notes(req, p, mr, params, groups)
                return self._write_note(p, mr, None, params, ident, 201)
            if not re.fullmatch(r"[0-9]+", groups[2]):
                return Response(400, {"error": "note_id is invalid"})
            n = self.notes.get(int(groups[2]))
            if n is None or n["project"] != p["id"] or n["iid"] != mr["iid"]:
                return Response(404, {"message": "404 Not found"})
            if m == "GET":
                return Response(200, self.note_json(n))
            if n["system"]:
                return Response(403, {"message": "403 Forbidden"})
            if m == "PUT":
                if n["author"] != ident.username:  # only the author edits a note
                    return Response(403, {"message": "403 Forbidden"})
                return self._write_note(p, mr, n, params, ident, 200)
            if n["author"] != ident.username and ROLES.index(ident.role) < ROLES.index("maintainer"):
                return Response(403, {"message": "403 Forbidden"})
            del self.notes[n["id"]]
            return Response(204)

    def _write_note(self, p, mr, n, params, ident, status):
        body = params.get("body")
        if not isinstance(body, str) or body.strip() == "":
            return Response(400, {"error": "body is empty"} if isinstance(body, str) else {"error": "body is invalid"})
        if len(body) > MAX_NOTE:
            return Response(400, {"message": {"note": ["is too long (maximum is %d characters)" % MAX_NOTE]}})
        if n is None:
            internal = _typed(params.get("internal", False), "boolean")[1]
            n = self.add_note(p, mr["iid"], ident.username, body, internal=bool(internal))
        else:
            n["body"] = body
            n["updated"] = iso(ms=True)
        return Response(status, self.note_json(n))

    def _list_notes(self, req, p, mr, params, groups):
        sort = params.get("sort", "desc")
        order_by = params.get("order_by", "created_at")
        items = [n for n in self.notes.values() if n["project"] == p["id"] and n["iid"] == mr["iid"]]
        key = "created" if order_by == "created_at" else "updated"
        items.sort(key=lambda n: (n[key], n["id"]), reverse=(sort == "desc"))
        try:
            per = int(params.get("per_page", 20))
        except (ValueError, TypeError):
            per = 20
        per = max(1, min(100, per))
        try:
            page = max(1, int(params.get("page", 1)))
        except (ValueError, TypeError):
            page = 1
        total = len(items)
        pages = max(1, (total + per - 1) // per)
        chunk = items[(page - 1) * per: page * per]
        keep = [(k, v) for k, v in req["query"] if k not in ("page", "per_page", "private_token", "access_token",
                                                             "job_token")]
        api = "http://%s%s" % (req["host"], req["path"])
        route_params = [("id", urllib.parse.unquote(groups[0])), ("noteable_id", groups[1])]

        def url(pg):
            return "%s?%s" % (api, urllib.parse.urlencode(route_params + keep + [("page", pg), ("per_page", per)]))
        links = []
        if page > 1:
            links.append('<%s>; rel="prev"' % url(page - 1))
        if page < pages:
            links.append('<%s>; rel="next"' % url(page + 1))
        links.append('<%s>; rel="first"' % url(1))
        links.append('<%s>; rel="last"' % url(pages))
        headers = [("Link", ", ".join(links)), ("X-Next-Page", page + 1 if page < pages else ""),
                   ("X-Page", page), ("X-Per-Page", per), ("X-Prev-Page", page - 1 if page > 1 else ""),
                   ("X-Total", total), ("X-Total-Pages", pages)]
        return Response(200, [self.note_json(n) for n in chunk], headers)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--state", help="seed JSON file (the /_test/seed body, or a list of them)")
    ap.add_argument("--token", action="append", default=[], help="TOKEN=USERNAME:SCOPE[:ROLE]")
    ap.add_argument("--job-token", action="append", default=[], help="a CI_JOB_TOKEN value")
    ap.add_argument("--web-url", default="https://gitlab.example.com")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args(argv)
    app = GitLab(dict(parse_token(t) for t in a.token), a.job_token, a.web_url)
    run(app, a)


if __name__ == "__main__":
    main()
