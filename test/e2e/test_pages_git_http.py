"""prenv deploy/destroy with the pages provider to a git branch served over
HTTP by the real `git http-backend` (test/servers/git_http_server.py), with a
token that must never appear in prenv's output."""
import os
import subprocess
import sys
import time
import unittest

from util import PRENV, ROOT, clean_env, run_prenv, tmpdir

SERVER = os.path.join(ROOT, "test", "servers", "git_http_server.py")
TOKEN = "ghs_e2eTokenValue0123456789"


def git(*args, cwd=None):
    return subprocess.run(["git"] + list(args), cwd=cwd, check=True,
                          capture_output=True, text=True).stdout


@unittest.skipUnless(os.path.exists(PRENV), "prenv binary not built (%s)" % PRENV)
class GitHttpFixture:
    """A bare repository served by git http-backend, and a project whose
    pages target pushes to it."""
    extra_args = []

    def setUp(self):
        self.dir = tmpdir(self)
        self.bare = os.path.join(self.dir, "srv", "site.git")
        os.makedirs(os.path.dirname(self.bare))
        git("init", "-q", "--bare", self.bare)
        work = os.path.join(self.dir, "work")
        git("init", "-q", work)
        with open(os.path.join(work, "index.html"), "w") as f:
            f.write("root\n")
        git("add", "-A", cwd=work)
        git("-c", "user.name=Seed", "-c", "user.email=seed@example.com",
            "commit", "-q", "-m", "seed", cwd=work)
        git("push", "-q", self.bare, "HEAD:refs/heads/gh-pages", cwd=work)

        portfile = os.path.join(self.dir, "port")
        self.srv_log = os.path.join(self.dir, "server.log")
        self.srv_log_f = open(self.srv_log, "w")
        self.srv = subprocess.Popen(
            [sys.executable, SERVER, "--root", os.path.join(self.dir, "srv"),
             "--token", TOKEN, "--port-file", portfile] + self.extra_args,
            stdout=subprocess.DEVNULL, stderr=self.srv_log_f)
        self.addCleanup(self._stop)
        for _ in range(200):
            if os.path.exists(portfile):
                break
            time.sleep(0.05)
        with open(portfile) as f:
            self.port = int(f.read())

        self.proj = os.path.join(self.dir, "proj")
        os.makedirs(os.path.join(self.proj, "public"))
        with open(os.path.join(self.proj, "public", "index.html"), "w") as f:
            f.write("<h1>preview</h1>\n")
        with open(os.path.join(self.proj, ".prenv.yml"), "w") as f:
            f.write(
                "version: 1\n"
                "app: site\n"
                "url: \"http://127.0.0.1/{{env.name}}/\"\n"
                "provider:\n"
                "  kind: pages\n"
                "  source: public\n"
                "  target: \"git:http://127.0.0.1:%d/site.git#gh-pages\"\n"
                "environments:\n"
                "  - pull_request: true\n"
                "    kind: preview\n" % self.port)

    def _stop(self):
        self.srv.terminate()
        self.srv.wait(10)
        self.srv_log_f.close()

    def env(self, **extra):
        return clean_env(PRENV_PR="7", PRENV_BRANCH="feature/x",
                         PRENV_SHA="0123456789abcdef0123456789abcdef01234567",
                         PRENV_REPO="acme/site", **extra)



class PagesGitHttp(GitHttpFixture, unittest.TestCase):
    def test_deploy_and_destroy_over_http_with_token(self):
        r = run_prenv(["deploy"], env=self.env(PRENV_GIT_TOKEN=TOKEN), cwd=self.proj)
        out = r.stdout + r.stderr
        self.assertEqual(r.returncode, 0, out)
        self.assertNotIn(TOKEN, out)
        self.assertEqual(git("--git-dir=" + self.bare, "log", "--format=%s", "gh-pages"),
                         "prenv: deploy pr-7 (PR #7, 0123456)\nseed\n")
        self.assertEqual(git("--git-dir=" + self.bare, "ls-tree", "-r", "--name-only", "gh-pages"),
                         "index.html\npr-7/index.html\n")

        r = run_prenv(["destroy"], env=self.env(PRENV_GIT_TOKEN=TOKEN), cwd=self.proj)
        out = r.stdout + r.stderr
        self.assertEqual(r.returncode, 0, out)
        self.assertNotIn(TOKEN, out)
        self.assertEqual(git("--git-dir=" + self.bare, "ls-tree", "-r", "--name-only", "gh-pages"),
                         "index.html\n")

    def test_wrong_token_is_exit_3_and_not_printed(self):
        r = run_prenv(["deploy"], env=self.env(GITHUB_TOKEN="wrong-token-abcdef"), cwd=self.proj)
        out = r.stdout + r.stderr
        self.assertEqual(r.returncode, 3, out)
        self.assertNotIn("wrong-token-abcdef", out)
        self.assertEqual(git("--git-dir=" + self.bare, "log", "--format=%s", "gh-pages"), "seed\n")


class PagesGitHttpRedirect(GitHttpFixture, unittest.TestCase):
    """The remote redirects to another host name: the token must not follow."""
    extra_args = ["--redirect-host", "localhost"]

    def test_token_not_sent_to_a_redirected_host(self):
        r = run_prenv(["deploy"], env=self.env(PRENV_GIT_TOKEN=TOKEN), cwd=self.proj)
        out = r.stdout + r.stderr
        self.assertEqual(r.returncode, 3, out)
        self.assertIn("another host", out)
        self.assertNotIn(TOKEN, out)
        with open(self.srv_log) as f:
            self.assertNotIn("credentials received", f.read())
        self.assertEqual(git("--git-dir=" + self.bare, "log", "--format=%s", "gh-pages"), "seed\n")


if __name__ == "__main__":
    unittest.main()
