"""Start the GitHub / GitLab test servers from a test and talk to their admin API.

    import sys; sys.path.insert(0, "test/servers")
    from codehost import start_github, start_gitlab

    gh = start_github(tmpdir, tokens={"ghs_abc": "github-actions[bot]:write", "ghp_ro": "alice:read"})
    gh.seed({"repo": "acme/web", "pulls": [{"number": 7, "head_sha": "a" * 40, "head_ref": "feat"}]})
    ... run prenv with GITHUB_API_URL=gh.url ...
    gh.state()["comments"]; gh.requests(); gh.invalid_requests(); gh.faults({"status": "502", "count": 2})
    gh.stop()

    gl = start_gitlab(tmpdir, tokens={"glpat-rw": "alice:api"}, job_tokens=["jobtok"])
    gl.url -> http://127.0.0.1:PORT ; gl.api_url -> http://127.0.0.1:PORT/api/v4 (CI_API_V4_URL)

Each server is a child process (/usr/bin/python3) on an ephemeral 127.0.0.1 port;
stop() terminates it (also called at interpreter exit if a test forgot).
"""
import atexit
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


class CodeHost:
    def __init__(self, script, tmpdir, args, name):
        self.name = name
        os.makedirs(tmpdir, exist_ok=True)
        self.port_file = os.path.join(tmpdir, "%s-%d.port" % (name, id(self)))
        self.log_path = os.path.join(tmpdir, "%s-%d.log" % (name, id(self)))
        if os.path.exists(self.port_file):
            os.unlink(self.port_file)
        self._logf = open(self.log_path, "wb")
        self.proc = subprocess.Popen([PYTHON, os.path.join(HERE, script), "--port", "0",
                                      "--port-file", self.port_file] + list(args),
                                     stdout=self._logf, stderr=subprocess.STDOUT)
        deadline = time.time() + 120
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                with open(self.log_path, "rb") as f:
                    raise RuntimeError("%s server did not start: %s" % (name, f.read().decode("utf-8", "replace")))
            time.sleep(0.02)
        with open(self.port_file) as f:
            self.port = int(f.read().strip())
        self.url = "http://127.0.0.1:%d" % self.port
        atexit.register(self.stop)

    # --- admin API ------------------------------------------------------------
    def _admin(self, method, path, data=None):
        body = None if data is None else json.dumps(data).encode()
        req = urllib.request.Request(self.url + path, data=body, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                raw = r.read()
        except urllib.error.HTTPError as e:
            raise RuntimeError("%s %s -> %d %s" % (method, path, e.code, e.read().decode("utf-8", "replace")))
        return json.loads(raw) if raw else None

    def seed(self, data):
        """Adds repos/projects, PRs/MRs and comments/notes; returns the new ids."""
        return self._admin("POST", "/_test/seed", data)

    def state(self):
        return self._admin("GET", "/_test/state")

    def requests(self):
        """Every request so far: method, path, query, headers, body, identity, validation, status."""
        return self._admin("GET", "/_test/requests")

    def invalid_requests(self):
        """The requests whose validation failed (empty list: everything sent was valid)."""
        return [r for r in self.requests() if not r["validation"]["ok"]]

    def clear_requests(self):
        self._admin("DELETE", "/_test/requests")

    def faults(self, spec=None):
        """Adds a fault (dict or list of dicts) and returns the queue; no argument: just the queue."""
        if spec is None:
            return self._admin("GET", "/_test/faults")
        return self._admin("POST", "/_test/faults", spec)

    def clear_faults(self):
        self._admin("DELETE", "/_test/faults")

    def reset(self):
        self._admin("POST", "/_test/reset")

    def stop(self):
        p = getattr(self, "proc", None)
        if p is not None and p.poll() is None:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if getattr(self, "_logf", None) and not self._logf.closed:
            self._logf.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def _token_args(tokens):
    out = []
    for tok, spec in (tokens or {}).items():
        out += ["--token", "%s=%s" % (tok, spec)]
    return out


def start_github(tmpdir, tokens=None, rate_limit=None, state=None, extra_args=()):
    """tokens: {"ghs_x": "github-actions[bot]:write", "ghp_y": "alice:read", ...}
    state: a seed dict (or list) applied at start."""
    args = _token_args(tokens)
    if rate_limit is not None:
        args += ["--rate-limit", str(rate_limit)]
    if state is not None:
        fd, path = tempfile.mkstemp(prefix="github-seed-", suffix=".json", dir=tmpdir)
        with os.fdopen(fd, "w") as f:
            json.dump(state, f)
        args += ["--state", path]
    h = CodeHost("github_server.py", tmpdir, args + list(extra_args), "github")
    h.api_url = h.url
    return h


def start_gitlab(tmpdir, tokens=None, job_tokens=(), state=None, extra_args=()):
    """tokens: {"glpat-x": "alice:api", "glpat-ro": "bob:read_api", ...}; job_tokens: CI_JOB_TOKEN values."""
    args = _token_args(tokens)
    for t in job_tokens:
        args += ["--job-token", t]
    if state is not None:
        fd, path = tempfile.mkstemp(prefix="gitlab-seed-", suffix=".json", dir=tmpdir)
        with os.fdopen(fd, "w") as f:
            json.dump(state, f)
        args += ["--state", path]
    h = CodeHost("gitlab_server.py", tmpdir, args + list(extra_args), "gitlab")
    h.api_url = h.url + "/api/v4"
    return h
