"""A real container registry for the tests: Debian's docker-registry (the CNCF
distribution registry, `make deps` installs it), started on 127.0.0.1 with its
own config file and storage in a temporary directory, and stopped by its PID.

    reg = Registry(users={"alice": "s3cret"}).start()   # users=None: anonymous
    digest = reg.push("web", "v1")                      # a minimal OCI image
    reg.host                                            # "127.0.0.1:PORT"
    reg.stop()

Token auth (the distribution spec's Bearer flow) with a token service served
from this process (TokenServer: JWTs signed RS256 with a key made by the
openssl CLI, trusted by the registry through rootcertbundle):

    ts = TokenServer(users={"alice": "s3cret"}).start()
    reg = Registry(token=ts).start()
    ts.requests   # [(path_with_query, authorization_header_or_None), ...]

push() uploads an image with plain HTTP calls (no docker engine): a config
blob and a layer blob (POST /v2/<name>/blobs/uploads/, PUT <location>?digest=),
then PUT /v2/<name>/manifests/<tag> with an OCI image manifest. It returns the
manifest's digest (what the registry sends as Docker-Content-Digest).
Standard library only (plus the openssl and htpasswd commands).
"""
import base64
import gzip
import hashlib
import http.client
import http.server
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import tempfile
import threading
import time
import urllib.parse

REGISTRY_BIN = shutil.which("docker-registry") or "/usr/bin/docker-registry"


def free_port():
    """A port nobody listens on now (the registry binds it itself: a race
    with another process is retried by Registry.start)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def basic_header(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


class TokenServer:
    """The token service of the distribution token flow (GET /token?service=
    &scope=, Basic credentials of a user, or anonymous when anonymous=True)."""

    def __init__(self, users=None, anonymous=False, service="prenv-test-registry",
                 issuer="prenv-test-issuer"):
        self.users = dict(users or {})
        self.anonymous = anonymous
        self.service = service
        self.issuer = issuer
        self.requests = []
        self.dir = tempfile.mkdtemp(prefix="regtoken-")
        self.key = os.path.join(self.dir, "token.key")
        self.cert = os.path.join(self.dir, "token.crt")
        self.httpd = None

    @property
    def realm(self):
        return "http://127.0.0.1:%d/token" % self.port

    def start(self):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", self.key, "-out", self.cert, "-days", "2",
                        "-subj", "/CN=prenv-test-token-issuer"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        der = subprocess.run(["openssl", "x509", "-in", self.cert, "-outform", "DER"],
                             check=True, capture_output=True).stdout
        self.x5c = base64.b64encode(der).decode()
        owner = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                owner._handle(self)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
        shutil.rmtree(self.dir, True)

    def _sign(self, data):
        return subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.key], input=data,
                              check=True, capture_output=True).stdout

    def token_for(self, subject, access):
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        claims = {"iss": self.issuer, "sub": subject, "aud": self.service, "exp": now + 300,
                  "nbf": now - 10, "iat": now, "jti": "%d-%d" % (now, len(self.requests)),
                  "access": access}
        signing = (b64url(json.dumps(header).encode()) + "." +
                   b64url(json.dumps(claims).encode())).encode()
        return signing.decode() + "." + b64url(self._sign(signing))

    def _handle(self, h):
        auth = h.headers.get("Authorization")
        self.requests.append((h.path, auth))
        u = urllib.parse.urlparse(h.path)
        q = urllib.parse.parse_qs(u.query)
        subject = None
        if auth and auth.startswith("Basic "):
            try:
                user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                user, pw = None, None
            if user in self.users and self.users[user] == pw:
                subject = user
        if u.path != "/token" or q.get("service") != [self.service]:
            return self._reply(h, 400, {"errors": [{"message": "bad service or path"}]})
        if subject is None and not (self.anonymous and not auth):
            return self._reply(h, 401, {"errors": [{"message": "authentication required"}]},
                               {"WWW-Authenticate": 'Basic realm="token"'})
        access = []
        for scope in q.get("scope", []):
            parts = scope.split(":")
            if len(parts) == 3 and parts[0] == "repository":
                actions = parts[2].split(",")
                if subject is None:
                    actions = [a for a in actions if a == "pull"]
                access.append({"type": "repository", "name": parts[1], "actions": actions})
        tok = self.token_for(subject or "", access)
        self._reply(h, 200, {"token": tok, "access_token": tok, "expires_in": 300})

    @staticmethod
    def _reply(h, status, body, headers=None):
        data = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)


class Registry:
    def __init__(self, users=None, token=None):
        self.users = dict(users or {})
        self.token = token
        self.dir = tempfile.mkdtemp(prefix="registry-")
        self.proc = None
        self.port = None

    @property
    def host(self):
        return "127.0.0.1:%d" % self.port

    def _config(self):
        lines = ["version: 0.1", "log:", "  level: info", "storage:",
                 "  filesystem:", "    rootdirectory: %s" % os.path.join(self.dir, "data"),
                 "  delete:", "    enabled: true", "http:",
                 "  addr: 127.0.0.1:%d" % self.port,
                 "  secret: %s" % b64url(os.urandom(24))]
        if self.users:
            htp = os.path.join(self.dir, "htpasswd")
            with open(htp, "w") as f:
                for user, pw in self.users.items():
                    # bcrypt, the only hash the registry accepts
                    f.write(subprocess.run(["htpasswd", "-nbB", user, pw], check=True,
                                           capture_output=True, text=True).stdout.strip() + "\n")
            lines += ["auth:", "  htpasswd:", "    realm: prenv-test", "    path: %s" % htp]
        elif self.token:
            lines += ["auth:", "  token:", "    realm: %s" % self.token.realm,
                      "    service: %s" % self.token.service,
                      "    issuer: %s" % self.token.issuer,
                      "    rootcertbundle: %s" % self.token.cert]
        path = os.path.join(self.dir, "config.yml")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def start(self, timeout=120):
        for _ in range(5):
            self.port = free_port()
            cfg = self._config()
            self.log = open(os.path.join(self.dir, "registry.log"), "ab")
            self.proc = subprocess.Popen([REGISTRY_BIN, "serve", cfg], stdout=self.log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            end = time.time() + timeout
            while time.time() < end and self.proc.poll() is None:
                try:
                    st, _, _ = self.request("GET", "/v2/", auth=False)
                    if st in (200, 401):
                        return self
                except OSError:
                    pass
                time.sleep(0.05)
            self._kill()
            if "address already in use" not in self.read_log():
                break
        log = self.read_log()
        self.stop()
        raise RuntimeError("docker-registry did not start; log:\n" + log)

    def read_log(self):
        try:
            with open(os.path.join(self.dir, "registry.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def _kill(self):
        """Stops exactly the registry this object started (by its PID)."""
        p, self.proc = self.proc, None
        for stop in ((p.terminate, p.kill) if p and p.poll() is None else ()):
            stop()
            try:
                p.wait(5)
                break
            except subprocess.TimeoutExpired:
                pass
        if getattr(self, "log", None):
            self.log.close()
            self.log = None

    def stop(self):
        self._kill()
        shutil.rmtree(self.dir, True)

    # ---- HTTP, with the registry's own auth ----

    def _auth_header(self, name, actions):
        if self.users:
            user, pw = next(iter(self.users.items()))
            return basic_header(user, pw)
        if self.token:
            user, pw = next(iter(self.token.users.items()))
            q = urllib.parse.urlencode({"service": self.token.service,
                                        "scope": "repository:%s:%s" % (name, actions)})
            c = http.client.HTTPConnection("127.0.0.1", self.token.port, timeout=60)
            try:
                c.request("GET", "/token?" + q, headers={"Authorization": basic_header(user, pw)})
                r = c.getresponse()
                body = json.loads(r.read())
            finally:
                c.close()
            return "Bearer " + body["token"]
        return None

    def request(self, method, path, body=None, headers=None, auth=True, name=None):
        h = dict(headers or {})
        if auth:
            a = self._auth_header(name, "pull,push")
            if a:
                h["Authorization"] = a
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            c.close()

    def _blob(self, name, data):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        st, hd, body = self.request("POST", "/v2/%s/blobs/uploads/" % name, body=b"", name=name,
                                    headers={"Content-Length": "0"})
        if st != 202:
            raise RuntimeError("upload start: %d %r" % (st, body))
        loc = hd["location"]
        u = urllib.parse.urlparse(loc)
        path = u.path + "?" + (u.query + "&" if u.query else "") + \
            urllib.parse.urlencode({"digest": digest})
        st, _, body = self.request("PUT", path, body=data, name=name,
                                   headers={"Content-Type": "application/octet-stream",
                                            "Content-Length": str(len(data))})
        if st != 201:
            raise RuntimeError("upload: %d %r" % (st, body))
        return digest

    def push(self, name, tag, content=b"hello from prenv\n"):
        """Pushes a minimal OCI image name:tag (one layer with one file whose
        content is content) and returns its manifest digest."""
        tar = io.BytesIO()
        with tarfile.open(fileobj=tar, mode="w") as t:
            info = tarfile.TarInfo("hello.txt")
            info.size = len(content)
            info.mtime = 0
            t.addfile(info, io.BytesIO(content))
        layer = gzip.compress(tar.getvalue(), mtime=0)
        diff_id = "sha256:" + hashlib.sha256(tar.getvalue()).hexdigest()
        config = json.dumps({"architecture": "amd64", "os": "linux",
                             "config": {"Cmd": ["/hello.txt"]},
                             "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()
        cdig = self._blob(name, config)
        ldig = self._blob(name, layer)
        manifest = json.dumps({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": cdig, "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": ldig, "size": len(layer)}],
        }).encode()
        st, hd, body = self.request("PUT", "/v2/%s/manifests/%s" % (name, tag), body=manifest,
                                    name=name, headers={
                                        "Content-Type": "application/vnd.oci.image.manifest.v1+json"})
        if st != 201:
            raise RuntimeError("manifest: %d %r" % (st, body))
        digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
        if hd.get("docker-content-digest") != digest:
            raise RuntimeError("registry digest %r, want %r" % (hd.get("docker-content-digest"),
                                                                  digest))
        return digest


def main():
    """serve: starts a registry (and its token service), pushes images,
    writes {"host", "realm", "digests": {"name:tag": digest}} to --info
    (atomically) and runs until SIGTERM or SIGINT, then stops what it
    started. For tests in C (test/unit/test_registry.c)."""
    import argparse
    import signal
    import sys

    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["serve"])
    ap.add_argument("--auth", choices=["none", "basic", "token", "token-anonymous"],
                    default="none", help="token-anonymous: the token service gives anyone pull")
    ap.add_argument("--user", action="append", default=[], help="name:password")
    ap.add_argument("--push", action="append", default=[], help="name:tag")
    ap.add_argument("--info", required=True)
    a = ap.parse_args()
    users = dict(u.split(":", 1) for u in a.user)
    ts = TokenServer(users=users, anonymous=a.auth == "token-anonymous").start() \
        if a.auth.startswith("token") else None
    reg = None
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    try:
        reg = Registry(users=users if a.auth == "basic" else None, token=ts).start()
        digests = {}
        for ref in a.push:
            name, tag = ref.rsplit(":", 1)
            digests[ref] = reg.push(name, tag)
        tmp = a.info + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"host": reg.host, "realm": ts.realm if ts else None,
                       "digests": digests}, f)
        os.rename(tmp, a.info)
        while not done.wait(0.2):
            pass
    except Exception as e:  # noqa: BLE001 - reported to the test
        print("registry.py: %s" % e, file=sys.stderr)
        return 1
    finally:
        if reg:
            reg.stop()
        if ts:
            ts.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
