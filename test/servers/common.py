"""Shared plumbing for the code-host test servers (GitHub, GitLab).

Python 3 standard library only. Each server is a ThreadingHTTPServer speaking
HTTP/1.1 with keep-alive; all state sits behind one lock. The admin endpoints
under /_test/ (seed, state, faults, requests, reset) are served here for both.
"""
import email.utils
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def iso(ts=None, ms=False):
    """ISO 8601 UTC with a Z, like the APIs: 2011-04-14T16:00:49Z (GitLab: .123Z)."""
    if ts is None:
        ts = time.time()
    s = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts))
    if ms:
        s += ".%03d" % int((ts - int(ts)) * 1000)
    return s + "Z"


def http_date(ts=None):
    return email.utils.formatdate(ts if ts is not None else time.time(), usegmt=True)


class Faults:
    """Queued fault switches: {"status": ..., "count": n, "match": "METHOD substring",
    "after": n}; "after" lets n matching requests through before the fault fires.

    status is a server-specific kind ("502", "403rate", "429secondary", "drop", ...).
    match is optional: "POST /comments" matches POST requests whose path contains
    "/comments"; "GET" or "*" alone matches every path; missing matches everything.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._items = []

    def add(self, spec):
        if isinstance(spec, list):
            for s in spec:
                self.add(s)
            return
        if not isinstance(spec, dict) or "status" not in spec:
            raise ValueError("fault needs a \"status\"")
        f = dict(spec)
        f["status"] = str(f["status"])
        f["count"] = int(f.get("count", 1))
        f.setdefault("match", "")
        f["fired"] = 0
        with self._lock:
            self._items.append(f)

    def take(self, method, path):
        with self._lock:
            for f in self._items:
                if f["count"] <= 0:
                    continue
                m = (f.get("match") or "").strip()
                if m:
                    parts = m.split(None, 1)
                    if parts[0].upper() in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "*"):
                        want_method = parts[0].upper()
                        sub = parts[1] if len(parts) > 1 else ""
                    else:
                        want_method, sub = "*", m
                    if want_method != "*" and want_method != method:
                        continue
                    if sub and sub not in path:
                        continue
                if f.get("after", 0) > 0:   # let N matching requests through first
                    f["after"] -= 1
                    continue
                f["count"] -= 1
                f["fired"] += 1
                return dict(f)
        return None

    def list(self):
        with self._lock:
            return [dict(f) for f in self._items]

    def clear(self):
        with self._lock:
            self._items = []


class RequestLog:
    def __init__(self):
        self._lock = threading.Lock()
        self._items = []

    def add(self, entry):
        with self._lock:
            entry["seq"] = len(self._items) + 1
            self._items.append(entry)

    def list(self):
        with self._lock:
            return [dict(e) for e in self._items]

    def clear(self):
        with self._lock:
            self._items = []


class Response:
    """What a route returns: status, body (dict/list -> JSON, bytes/str as is), headers."""

    def __init__(self, status, body=None, headers=None, content_type=None):
        self.status = status
        self.body = body
        self.headers = list((headers or {}).items()) if isinstance(headers, dict) else list(headers or [])
        self.content_type = content_type
        self.drop = False


class BaseHandler(BaseHTTPRequestHandler):
    """Reads the request, hands it to server.app.handle(req) and writes the Response."""

    protocol_version = "HTTP/1.1"
    server_version = "prenv-test-codehost"
    sys_version = ""

    def log_message(self, fmt, *args):  # quiet unless --verbose
        if getattr(self.server, "verbose", False):
            BaseHTTPRequestHandler.log_message(self, fmt, *args)

    def _read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks = []
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _handle(self):
        raw = self._read_body()
        u = urllib.parse.urlsplit(self.path)
        req = {
            "method": self.command,
            "path": u.path,
            "rawpath": self.path,
            "query": urllib.parse.parse_qsl(u.query, keep_blank_values=True),
            "headers": self.headers,
            "raw_body": raw,
            "host": self.headers.get("Host") or "127.0.0.1:%d" % self.server.server_address[1],
        }
        try:
            if u.path.startswith("/_test/"):
                resp = self.server.app.admin(req)
            else:
                resp = self.server.app.handle(req)
        except Exception as e:  # a bug in the test server must be visible, not a hang
            import traceback
            traceback.print_exc()
            resp = Response(500, {"message": "test server bug: %s" % e})
        self._send(resp)

    def _send(self, resp):
        if resp.drop:
            # Fault "drop": close the connection without an answer.
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
            return
        body = resp.body
        ctype = resp.content_type
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            ctype = ctype or "application/json; charset=utf-8"
        elif isinstance(body, str):
            body = body.encode()
        elif body is None:
            body = b""
        self.send_response(resp.status)
        if ctype and resp.status not in (204, 304):
            self.send_header("Content-Type", ctype)
        for k, v in resp.headers:
            self.send_header(k, str(v))
        if resp.status not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and resp.status not in (204, 304):
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle


def admin_common(app, req):
    """The /_test/ endpoints both servers share. Returns a Response or None."""
    m, p = req["method"], req["path"]
    try:
        data = json.loads(req["raw_body"] or b"null")
    except ValueError:
        return Response(400, {"message": "admin: body is not JSON"})
    if p == "/_test/seed" and m == "POST":
        try:
            with app.lock:
                out = app.seed(data or {})
        except (KeyError, ValueError, TypeError) as e:
            return Response(400, {"message": "admin seed: %s" % e})
        return Response(200, out)
    if p == "/_test/state" and m == "GET":
        with app.lock:
            return Response(200, app.dump_state())
    if p == "/_test/faults":
        if m == "POST":
            try:
                app.faults.add(data)
            except (ValueError, TypeError) as e:
                return Response(400, {"message": "admin faults: %s" % e})
            return Response(200, app.faults.list())
        if m == "GET":
            return Response(200, app.faults.list())
        if m == "DELETE":
            app.faults.clear()
            return Response(204)
    if p == "/_test/requests":
        if m == "GET":
            return Response(200, app.log.list())
        if m == "DELETE":
            app.log.clear()
            return Response(204)
    if p == "/_test/reset" and m == "POST":
        with app.lock:
            app.reset()
        app.faults.clear()
        app.log.clear()
        return Response(204)
    return Response(404, {"message": "unknown admin endpoint %s %s" % (m, p)})


def serve(app, port, port_file=None, verbose=False):
    srv = ThreadingHTTPServer(("127.0.0.1", port), BaseHandler)
    srv.daemon_threads = True
    srv.app = app
    srv.verbose = verbose
    real_port = srv.server_address[1]
    if port_file:
        tmp = port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % real_port)
        import os
        os.replace(tmp, port_file)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


def install_sigterm():
    import signal

    def _term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, _term)


def run(app, args):
    """The end of every server's main(): seed from --state (one object or a
    list), stop cleanly on SIGTERM, serve until then."""
    if args.state:
        with open(args.state) as f:
            data = json.load(f)
        for d in data if isinstance(data, list) else [data]:
            app.seed(d)
    install_sigterm()
    serve(app, args.port, args.port_file, args.verbose)
