#!/usr/bin/python3
"""Serves bare repositories over smart HTTP through the real `git http-backend`.

A small CGI bridge (standard library only) on 127.0.0.1 that checks HTTP Basic
authentication before running git-http-backend, like GitHub does for a token:

    git_http_server.py --root DIR --token TOKEN [--user x-access-token] [--port-file F]
                       [--bind 127.0.0.1] [--redirect-host NAME]

Every request without the right user/token gets 401 with a WWW-Authenticate
header (so clients such as libgit2 call their credential callback). The chosen
port is printed on stdout as "port N" (and written to --port-file) once the
server listens. Requests are logged to stderr without the Authorization header;
every request that carries credentials, right or wrong, also logs a line

    git-http: credentials received via host H user U token sha256:XXXXXXXXXXXXXXXX

(H: the Host header's name, U: the user name, XXXX: the first 16 hex digits of
the SHA-256 of the password), so a test can tell which token reached which
server without the token itself being written anywhere. --bind serves another
loopback address (127.0.0.2, ...) so that two servers are two hosts.
"""
import argparse
import base64
import hashlib
import http.server
import os
import subprocess
import sys

BACKEND = "/usr/lib/git-core/git-http-backend"


def fingerprint(token):
    """The first 16 hex digits of the token's SHA-256 (what the log shows)."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "prenv-test-git/1"

    def log_message(self, fmt, *args):
        sys.stderr.write("git-http: " + (fmt % args) + "\n")

    def _credentials(self):
        h = self.headers.get("Authorization", "")
        if not h.startswith("Basic "):
            return "(not basic)", h
        try:
            user, _, pw = base64.b64decode(h[6:]).decode().partition(":")
        except Exception:
            return "(undecodable)", h
        return user, pw

    def _authorized(self):
        user, pw = self._credentials()
        if user == self.server.user and pw == self.server.token:
            return user
        return None

    def _body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    # trailers until an empty line
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _handle(self):
        if self.headers.get("Authorization"):
            # Which host name received which credentials (never their value).
            user, token = self._credentials()
            sys.stderr.write("git-http: credentials received via host %s user %s token sha256:%s\n"
                             % (self.headers.get("Host", "").split(":")[0], user,
                                fingerprint(token)))
            sys.stderr.flush()
        if self.server.redirect_host and \
                self.headers.get("Host", "").split(":")[0] != self.server.redirect_host:
            self._body()
            self.send_response(302)
            self.send_header("Location", "http://%s:%d%s" % (self.server.redirect_host,
                                                            self.server.server_address[1], self.path))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        user = self._authorized()
        body = self._body()
        if user is None:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="prenv-test"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path, _, query = self.path.partition("?")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": self.server.root,
            "GIT_HTTP_EXPORT_ALL": "1",
            "REMOTE_USER": user,
            "REMOTE_ADDR": self.client_address[0],
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
        }
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        p = subprocess.run([BACKEND], input=body, env=env, capture_output=True)
        head, _, payload = p.stdout.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = p.stdout.partition(b"\n\n")
        status = 200
        headers = []
        for line in head.decode("latin-1").splitlines():
            k, _, v = line.partition(":")
            if k.lower() == "status":
                status = int(v.strip().split()[0])
            elif k:
                headers.append((k.strip(), v.strip()))
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _handle
    do_POST = _handle


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--user", default="x-access-token")
    ap.add_argument("--port-file")
    ap.add_argument("--redirect-host", help="answer 302 to this host name for any other")
    ap.add_argument("--bind", default="127.0.0.1", help="the (loopback) address to listen on")
    a = ap.parse_args()
    srv = http.server.ThreadingHTTPServer((a.bind, 0), Handler)
    srv.root = os.path.abspath(a.root)
    srv.token = a.token
    srv.user = a.user
    srv.redirect_host = a.redirect_host
    port = srv.server_address[1]
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, a.port_file)
    print("port %d" % port, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
