#!/usr/bin/python3
"""A small HTTP/1.1 server with scripted faults, for the HTTP client's tests.

Standard library only. Listens on 127.0.0.1 (port 0 = ephemeral unless
--port), prints "PORT <n>" on stdout once it listens, and exits on SIGTERM,
when its parent goes away, or after --lifetime seconds.

Every path except /_* is counted (requests, per key, connections that carried
at least one counted request, and the most such connections open at once).
Any method works on every path.

  /echo                 200, JSON: method, target (as sent: absolute in proxy
                        form), path, query, headers (lower-case names), body
  /seq?k=K&s=503,200    the i-th request for key K gets the i-th status (the
                        last one repeats). For non-2xx responses:
                          ra=V   Retry-After: V (seconds or an HTTP-date)
                          rl=S   (403, 429) x-ratelimit-remaining: 0 and
                                 x-ratelimit-reset: now+S (epoch seconds);
                                 gl=1: GitLab's RateLimit-* names instead
                          text=T a text/plain body: T, then a second line
                          sec=1  GitHub's secondary-rate-limit message
                          msg=T  JSON body {"message": T}
                        2xx: {"ok": true, "n": <request number for K>}
  /drop?k=K&n=N         the first N requests for K: read, then close the
                        connection without a response; then 200
  /slow?ms=N            waits N ms, then 200 "slow"
  /stream?n=N&ms=M      200 chunked: lines "line 1".."line N", each split over
                        two chunks, M ms apart; nolast=1 leaves the last line
                        without "\\n"; hang=1 keeps the stream open afterwards
  /_stats               JSON counters; /_reset clears counters and scripts

With --tls DIR the server speaks HTTPS. DIR gets (when missing) a CA made by
openssl at test time (ca.crt, ca.key), a server certificate for 127.0.0.1 and
localhost (server.crt, server.key) and a client certificate signed by the CA
(client.crt, client.key, CN "prenv-client"). Client certificates are optional;
/echo reports the verified client's CN as "client_cn" (null without one).
"""
import argparse
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LOCK = threading.Lock()
STATE = {}


def reset_state():
    STATE.clear()
    STATE.update(requests=0, connections=0, current=0, max_concurrent=0,
                 by_key={}, user_agents=[])


reset_state()

SECONDARY = ("You have exceeded a secondary rate limit. Please wait a few "
             "minutes before you try again.")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fault_server/1"

    def setup(self):
        super().setup()
        self.counted = False

    def finish(self):
        try:
            super().finish()
        finally:
            if self.counted:
                with LOCK:
                    STATE["current"] -= 1

    def log_message(self, fmt, *args):  # quiet
        pass

    def _send(self, status, body=b"", ctype="application/json", headers=None):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _count(self, key):
        with LOCK:
            STATE["requests"] += 1
            STATE["user_agents"].append(self.headers.get("User-Agent", ""))
            if not self.counted:
                self.counted = True
                STATE["connections"] += 1
                STATE["current"] += 1
                STATE["max_concurrent"] = max(STATE["max_concurrent"], STATE["current"])
            if key is None:
                return 0
            n = STATE["by_key"].get(key, 0)
            STATE["by_key"][key] = n + 1
            return n

    def _handle(self):
        u = urlsplit(self.path)
        q = {k: v[-1] for k, v in parse_qs(u.query, keep_blank_values=True).items()}
        body = self._read_body()
        path = u.path
        if path == "/_stats":
            with LOCK:
                return self._send(200, json.dumps(STATE))
        if path == "/_reset":
            with LOCK:
                reset_state()
            return self._send(200, "{}")
        key = q.get("k", path)
        i = self._count(key)
        if path == "/echo":
            return self._send(200, json.dumps({
                "client_cn": self._client_cn(),
                "method": self.command, "target": self.path, "path": path,
                "query": q, "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body.decode("utf-8", "replace")}))
        if path == "/seq":
            seq = [int(s) for s in q.get("s", "200").split(",")]
            st = seq[min(i, len(seq) - 1)]
            if 200 <= st < 300:
                return self._send(st, json.dumps({"ok": True, "n": i + 1}))
            hdrs = {}
            if "ra" in q:
                hdrs["Retry-After"] = q["ra"]
            if "rl" in q and st in (403, 429):
                pre = "RateLimit-" if q.get("gl") else "x-ratelimit-"
                hdrs[pre + "Limit"] = "5000"
                hdrs[pre + "Remaining"] = "0"
                hdrs[pre + "Reset"] = str(int(time.time()) + int(q["rl"]))
            if q.get("text"):
                return self._send(st, q["text"] + "\nmore detail\n", ctype="text/plain",
                                  headers=hdrs)
            msg = SECONDARY if q.get("sec") else q.get("msg", "scripted failure")
            return self._send(st, json.dumps({"message": msg}), headers=hdrs)
        if path == "/drop":
            if i < int(q.get("n", "1")):
                self.close_connection = True
                return None
            return self._send(200, json.dumps({"ok": True, "n": i + 1}))
        if path == "/redirect":
            return self._send(302, "", headers={"Location": q.get("to", "/echo")})
        if path == "/slow":
            time.sleep(int(q.get("ms", "1000")) / 1000.0)
            return self._send(200, "slow", ctype="text/plain")
        if path == "/stream":
            return self._stream(int(q.get("n", "3")), int(q.get("ms", "0")),
                                q.get("nolast") == "1", q.get("hang") == "1")
        return self._send(404, json.dumps({"message": "no such path: " + path}))

    def _client_cn(self):
        get = getattr(self.connection, "getpeercert", None)
        cert = get() if get else None
        for rdn in (cert or {}).get("subject", ()):
            for k, v in rdn:
                if k == "commonName":
                    return v
        return None

    def _chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _stream(self, n, ms, nolast, hang):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        for k in range(1, n + 1):
            line = ("line %d" % k).encode()
            if not (nolast and k == n):
                line += b"\n"
            self._chunk(line[:3])
            self._chunk(line[3:])
            if ms:
                time.sleep(ms / 1000.0)
        if hang:
            time.sleep(3600)
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


def watchdog(lifetime, parent):
    end = time.time() + lifetime
    while time.time() < end and os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_certs(d):
    """CA, server and client certificates in d (EC P-256, valid one day)."""
    p = lambda n: os.path.join(d, n)
    if os.path.exists(p("client.key")):
        return
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *key, "-keyout", p("ca.key"), "-out", p("ca.crt"),
            "-days", "1", "-subj", "/CN=prenv-test-ca")
    with open(p("server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    with open(p("client.ext"), "w") as f:
        f.write("extendedKeyUsage=clientAuth\n")
    for who, cn in (("server", "127.0.0.1"), ("client", "prenv-client")):
        openssl("req", *key, "-keyout", p(who + ".key"), "-out", p(who + ".csr"),
                "-subj", "/CN=" + cn)
        openssl("x509", "-req", "-in", p(who + ".csr"), "-CA", p("ca.crt"),
                "-CAkey", p("ca.key"), "-CAcreateserial", "-out", p(who + ".crt"),
                "-days", "1", "-extfile", p(who + ".ext"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--lifetime", type=float, default=600)
    ap.add_argument("--tls", metavar="DIR")
    a = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    if a.tls:
        make_certs(a.tls)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(a.tls, "server.crt"), os.path.join(a.tls, "server.key"))
        ctx.load_verify_locations(os.path.join(a.tls, "ca.crt"))
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.set_alpn_protocols(["http/1.1"])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    threading.Thread(target=watchdog, args=(a.lifetime, os.getppid()), daemon=True).start()
    print("PORT %d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
