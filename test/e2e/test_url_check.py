"""The URL check (first-hour issue item 19): with `check:` in the config,
prenv asks the preview URL after the provider says ready, until it answers
as expected, and only then reports ready; otherwise the deploy fails (exit 1)
saying what answered, the body's first lines neutralised (no workflow
command can come from a preview's page). Runs the binary (command provider)
against a real local HTTP server."""
import http.server
import json
import os
import re
import socket
import threading
import time
import unittest

from util import clean_env, run_prenv, tmpdir

SHA = "c" * 40
HOSTILE_BODY = ("::set-output name=x::pwned\n"
                "  ##[error]from the preview\n"
                "\x1b[31mred\x1b[0m\n"
                "\n"
                "line 4\n"
                "line 5\n"
                "line 6 must not be shown\n")


class Preview:
    """A local HTTP server: answers each GET with the next of script
    [(status, body)] (the last one repeats); hang=True accepts and never
    answers. Keeps every request's headers and when it was answered."""

    def __init__(self, script=None, hang=False):
        self.script = list(script or [(200, "ok")])
        self.requests = []  # (time answered, path, headers dict, status)
        self.hang = hang
        self.location = None
        self.stop_hang = threading.Event()
        preview = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if preview.hang:
                    preview.stop_hang.wait(60)
                    return
                status, body = preview.script[0] if len(preview.script) == 1 else preview.script.pop(0)
                data = body.encode()
                self.send_response(status)
                if preview.location:
                    self.send_header("Location", preview.location)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                preview.requests.append((time.time(), self.path, dict(self.headers.items()), status))

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.stop_hang.set()
        self.server.shutdown()
        self.server.server_close()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def config(url, check, deploy='["true"]'):
    return """version: 1
app: shop
url: "%s"
provider:
  kind: command
  deploy: %s
environments:
  - pull_request: true
check:
%s""" % (url, deploy, "".join("  %s\n" % line for line in check.strip("\n").split("\n")))


class UrlCheckTest(unittest.TestCase):
    def setUp(self):
        self.d = tmpdir(self)
        self.dotenv = os.path.join(self.d, "prenv.env")

    def preview(self, **kw):
        p = Preview(**kw)
        self.addCleanup(p.close)
        return p

    def deploy(self, cfg, *flags, **env):
        with open(os.path.join(self.d, ".prenv.yml"), "w") as f:
            f.write(cfg)
        e = clean_env(PRENV_CI="local", PRENV_REPO="acme/shop", PRENV_BRANCH="feat", PRENV_PR="7",
                      PRENV_SHA=SHA, PRENV_DOTENV=self.dotenv, **env)
        t0 = time.time()
        r = run_prenv(["-o", "json"] + list(flags) + ["deploy"], env=e, cwd=self.d, timeout=90)
        r.elapsed = time.time() - t0
        return r

    def dotenv_status(self):
        with open(self.dotenv, encoding="utf-8") as f:
            return re.search(r"^PRENV_STATUS=(.*)$", f.read(), re.M).group(1)

    def test_503_then_200_reports_ready_only_after(self):
        p = self.preview(script=[(503, "starting")] * 3 + [(200, "hello from pr-7")])
        cfg = config("http://127.0.0.1:%d/app/" % p.port, """
path: /healthz?full=1
contains: hello
timeout: 60s
headers:
  X-Preview: "{{env.name}}"
headers_from_env:
  X-Preview-Key: PREVIEW_KEY
""")
        r = self.deploy(cfg, GITHUB_TOKEN="ghp_" + "t" * 36, CI_JOB_TOKEN="glcitok" + "x" * 20,
                        PREVIEW_KEY="preview-key-s3cret")
        self.assertEqual(0, r.returncode, r.stderr)
        self.assertEqual("ready", json.loads(r.stdout)["status"])
        self.assertEqual([503, 503, 503, 200], [q[3] for q in p.requests])
        self.assertEqual({"/app/healthz?full=1"}, {q[1] for q in p.requests})
        # Ready was written after the 200, not before.
        self.assertGreaterEqual(os.stat(self.dotenv).st_mtime, p.requests[-1][0] - 0.05)
        self.assertEqual("ready", self.dotenv_status())
        self.assertIn("URL check passed", r.stderr)
        for _, _, headers, _ in p.requests:
            low = {k.lower(): v for k, v in headers.items()}
            self.assertEqual("pr-7", low["x-preview"])
            self.assertEqual("preview-key-s3cret", low["x-preview-key"])
            self.assertNotIn("authorization", low)
            self.assertNotIn("private-token", low)
            self.assertNotIn("job-token", low)
            for v in headers.values():
                self.assertNotIn("ghp_", v)
                self.assertNotIn("glcitok", v)
        self.assertNotIn("preview-key-s3cret", r.stderr + r.stdout)

    def test_never_as_expected_fails_with_status_and_neutralised_body(self):
        p = self.preview(script=[(500, HOSTILE_BODY)])
        r = self.deploy(config("http://127.0.0.1:%d" % p.port, "timeout: 3s\n"))
        self.assertEqual(1, r.returncode, r.stderr)
        self.assertEqual("failed", json.loads(r.stdout)["status"])
        self.assertEqual("failed", self.dotenv_status())
        self.assertIn("answered 500, expected 200-399", r.stderr)
        self.assertGreaterEqual(len(p.requests), 2)
        self.assertIn("\\::set-output name=x::pwned", r.stderr)
        self.assertIn("##\\[error]from the preview", r.stderr)
        self.assertIn("\\x1b[31mred", r.stderr)
        self.assertIn("line 5", r.stderr)
        self.assertNotIn("line 6", r.stderr)
        self.assertNotIn("\x1b", r.stderr)
        for line in r.stderr.split("\n"):
            self.assertFalse(line.strip().startswith("::"), line)
            self.assertNotIn("##[", line)

    def test_contains_not_found_fails(self):
        p = self.preview(script=[(200, "default backend - 404")])
        r = self.deploy(config("http://127.0.0.1:%d" % p.port, "contains: Welcome\ntimeout: 2s\n"))
        self.assertEqual(1, r.returncode, r.stderr)
        self.assertIn('answered 200, expected 200-399 with "Welcome" in the body', r.stderr)
        self.assertIn("default backend - 404", r.stderr)

    def test_connection_refused_is_a_clear_error(self):
        port = free_port()
        r = self.deploy(config("http://127.0.0.1:%d" % port, "timeout: 2s\n"))
        self.assertEqual(1, r.returncode, r.stderr)
        self.assertIn("got no answer", r.stderr)
        self.assertRegex(r.stderr, r"(?i)connect")
        # it kept asking for the whole timeout, and not much longer
        self.assertGreaterEqual(r.elapsed, 1.8)
        self.assertLess(r.elapsed, 15)
        self.assertRegex(r.stderr, r"\(\d attempts in 2s; check.timeout is 2s\)")
        self.assertEqual("failed", self.dotenv_status())

    def test_timeout_is_honoured(self):
        p = self.preview(hang=True)
        r = self.deploy(config("http://127.0.0.1:%d" % p.port, "timeout: 3s\n"))
        self.assertEqual(1, r.returncode, r.stderr)
        self.assertIn("no answer in time", r.stderr)
        self.assertGreaterEqual(r.elapsed, 2.5)
        self.assertLess(r.elapsed, 8)

    def test_check_url_template_and_status_class(self):
        p = self.preview(script=[(401, "login")])
        cfg = config("https://{{env.name}}.preview.example.com",
                     'url: "http://127.0.0.1:%d/{{env.name}}"\nstatus: 4xx\ntimeout: 5s\n' % p.port)
        r = self.deploy(cfg)
        self.assertEqual(0, r.returncode, r.stderr)
        self.assertEqual(["/pr-7"], [q[1] for q in p.requests])
        # The reported URL stays the environment's.
        self.assertEqual("https://pr-7.preview.example.com", json.loads(r.stdout)["url"])

    def test_redirect_is_the_answer_and_not_followed(self):
        other = self.preview(script=[(200, "elsewhere")])
        p = self.preview(script=[(302, "moved")])
        p.location = "http://127.0.0.1:%d/login" % other.port
        cfg = config("http://127.0.0.1:%d" % p.port, "timeout: 5s\nheaders_from_env:\n  X-Key: PREVIEW_KEY\n")
        r = self.deploy(cfg, PREVIEW_KEY="k3y-for-the-preview-only")
        self.assertEqual(0, r.returncode, r.stderr)
        self.assertIn("answered 302", r.stderr)
        self.assertEqual([], other.requests)  # the header went nowhere else
        r = self.deploy(config("http://127.0.0.1:%d" % p.port, "status: 200\ntimeout: 2s\n"))
        self.assertEqual(1, r.returncode, r.stderr)
        self.assertIn("answered 302, expected 200", r.stderr)
        self.assertEqual([], other.requests)

    def test_not_waited_for_skips_the_check(self):
        port = free_port()
        r = self.deploy(config("http://127.0.0.1:%d" % port, "timeout: 2s\n"), "--no-wait")
        self.assertEqual(0, r.returncode, r.stderr)
        self.assertEqual("applied", json.loads(r.stdout)["status"])
        self.assertIn("URL check skipped", r.stderr)

    def test_file_url_is_not_requested(self):
        r = self.deploy(config("file:///tmp/prenv-site", "timeout: 2s\n"))
        self.assertEqual(0, r.returncode, r.stderr)
        self.assertEqual("ready", json.loads(r.stdout)["status"])
        self.assertIn("URL check skipped: file:///tmp/prenv-site is a file:// URL", r.stderr)

    def test_bad_config_is_exit_2_at_its_place_and_deploys_nothing(self):
        marker = os.path.join(self.d, "deployed")
        deploy = '["touch", "%s"]' % marker
        cases = [
            ("status: 700\n", r"\.prenv\.yml:10:11: .*'status' must be an HTTP status", {}),
            ("path: healthz\n", r"\.prenv\.yml:10:9: .*'path' must start with '/'", {}),
            ("timeout: soon\n", r"\.prenv\.yml:10:12: ", {}),
            ("colour: red\n", r"\.prenv\.yml:10:3: ", {}),
            ("headers:\n  X-A: \"{{pr.nope}}\"\n", r"\.prenv\.yml:11:", {}),
            ("headers:\n  'Bad Name': x\n", r"\.prenv\.yml:11:5: .*not a header name", {}),
            ("headers_from_env:\n  Authorization: GITHUB_TOKEN\n",
             r"\.prenv\.yml:11:20: .*GITHUB_TOKEN is a CI token", {}),
            ("headers_from_env:\n  X-Key: PREVIEW_KEY\n",
             r"\.prenv\.yml:11:12: .*\$PREVIEW_KEY, which is not set", {}),
            ('url: "ftp://{{env.name}}"\n', r"\.prenv\.yml:10:8: .*http:// or https://", {}),
        ]
        for check, want, env in cases:
            r = self.deploy(config("http://127.0.0.1:9", check, deploy=deploy), **env)
            self.assertEqual(2, r.returncode, (check, r.stderr))
            self.assertRegex(r.stderr, want, check)
            self.assertFalse(os.path.exists(marker), check)


if __name__ == "__main__":
    unittest.main()
