"""Starts test/servers/k8s_server.py for a test and talks to it.

    srv = K8sServer(tls=True, tokens=["t0k"], args=["--ready-delay", "0.3"]).start()
    srv.write_kubeconfig(path)            # a kubeconfig kubectl / prenv can use
    srv.api("GET", "/api/v1/namespaces")  # -> (status, headers, parsed body)
    srv.admin("POST", "/_test/faults", {"429": 2})
    srv.admin("POST", "/_test/reset"); ...; srv.connections()  # connections since the reset
    srv.stop()
"""
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import http.client

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "k8s_server.py")
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


class K8sServer:
    def __init__(self, tls=True, tokens=("test-token",), token_file=None, args=(), workdir=None):
        self.tls = tls
        self.tokens = list(tokens)
        self.token_file = token_file
        self.args = list(args)
        self.dir = workdir or tempfile.mkdtemp(prefix="k8s-srv-")
        self._own_dir = workdir is None
        self.proc = None
        self.port = None
        self.certs = os.path.join(self.dir, "pki")

    @property
    def url(self):
        return "%s://127.0.0.1:%d" % ("https" if self.tls else "http", self.port)

    @property
    def ca(self):
        return os.path.join(self.certs, "ca.crt")

    def start(self, timeout=120):
        pf = os.path.join(self.dir, "port")
        cmd = [PYTHON, SERVER, "--port", "0", "--port-file", pf]
        cmd += ["--tls", "--certs-dir", self.certs] if self.tls else ["--plain"]
        for t in self.tokens:
            cmd += ["--token", t]
        if self.token_file:
            cmd += ["--token-file", self.token_file]
        cmd += self.args
        self.log = open(os.path.join(self.dir, "server.log"), "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        end = time.time() + timeout
        while time.time() < end:
            if os.path.exists(pf):
                with open(pf) as f:
                    self.port = int(f.read().strip())
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("k8s_server did not start; log: %s" % self.read_log())

    def read_log(self):
        try:
            with open(os.path.join(self.dir, "server.log")) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()
        if self._own_dir:
            shutil.rmtree(self.dir, True)

    def write_kubeconfig(self, path, token=None, namespace=None, client_cert=False):
        user = {}
        if client_cert:
            user = {"client-certificate": os.path.join(self.certs, "client.crt"),
                    "client-key": os.path.join(self.certs, "client.key")}
        else:
            user = {"token": token if token is not None else self.tokens[0]}
        cluster = {"server": self.url}
        if self.tls:
            cluster["certificate-authority"] = self.ca
        ctx = {"cluster": "test", "user": "test"}
        if namespace:
            ctx["namespace"] = namespace
        cfg = {"apiVersion": "v1", "kind": "Config", "preferences": {},
               "clusters": [{"name": "test", "cluster": cluster}],
               "users": [{"name": "test", "user": user}],
               "contexts": [{"name": "test", "context": ctx}], "current-context": "test"}
        with open(path, "w") as f:  # JSON is YAML
            json.dump(cfg, f, indent=1)
        return path

    def conn(self, timeout=60):
        if self.tls:
            ctx = ssl.create_default_context(cafile=self.ca)
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout, context=ctx)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def api(self, method, path, body=None, token=None, content_type=None, headers=None, raw=False):
        c = self.conn()
        h = {"User-Agent": "k8s-harness/1", "Accept": "application/json"}
        tok = self.tokens[0] if token is None else token
        if tok:
            h["Authorization"] = "Bearer " + tok
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            h["Content-Type"] = content_type or "application/json"
        h.update(headers or {})
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            out = r.read()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
            if raw:
                return r.status, hdrs, out
            try:
                return r.status, hdrs, json.loads(out)
            except ValueError:
                return r.status, hdrs, out.decode("utf-8", "replace")
        finally:
            c.close()

    def admin(self, method, path, body=None):
        st, _, out = self.api(method, path, body, token="")
        return out

    def connections(self):
        """The server's connection counts since the last /_test/reset (see
        README.md, /_test/requests "connections"), with "clients": the connections
        not opened by this harness's own admin calls (this one included), i.e.
        accepted - admin."""
        c = self.admin("GET", "/_test/requests")["connections"]
        c["clients"] = c["accepted"] - c["admin"]
        return c
