"""prenv deploy/destroy with the pages provider to a git branch served over
HTTP by the real `git http-backend` (test/servers/git_http_server.py), with a
token that must never appear in prenv's output."""
import hashlib
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


def fingerprint(token):
    """What git_http_server.py logs for a token it received."""
    return "token sha256:" + hashlib.sha256(token.encode()).hexdigest()[:16]


def start_git_server(tc, root, token, bind="127.0.0.1", user=None, extra=()):
    """git_http_server.py serving root on bind (a loopback address), stopped
    at the test's end. Returns (port, path of its log)."""
    name = "%s-%d" % (bind, len(os.listdir(tc.dir)))
    portfile = os.path.join(tc.dir, "port-" + name)
    log = os.path.join(tc.dir, "server-%s.log" % name)
    logf = open(log, "w")
    args = [sys.executable, SERVER, "--root", root, "--token", token, "--port-file", portfile,
            "--bind", bind] + (["--user", user] if user else []) + list(extra)
    srv = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=logf)

    def stop():
        srv.terminate()
        srv.wait(10)
        logf.close()
    tc.addCleanup(stop)
    for _ in range(200):
        if os.path.exists(portfile):
            break
        time.sleep(0.05)
    with open(portfile) as f:
        return int(f.read()), log


def read(path):
    with open(path) as f:
        return f.read()


def seed_bare(bare):
    """A bare repository with a gh-pages branch holding index.html."""
    os.makedirs(os.path.dirname(bare), exist_ok=True)
    git("init", "-q", "--bare", bare)
    work = bare + ".work"
    git("init", "-q", work)
    with open(os.path.join(work, "index.html"), "w") as f:
        f.write("root\n")
    git("add", "-A", cwd=work)
    git("-c", "user.name=Seed", "-c", "user.email=seed@example.com",
        "commit", "-q", "-m", "seed", cwd=work)
    git("push", "-q", bare, "HEAD:refs/heads/gh-pages", cwd=work)


def write_project(proj, target):
    os.makedirs(os.path.join(proj, "public"), exist_ok=True)
    with open(os.path.join(proj, "public", "index.html"), "w") as f:
        f.write("<h1>preview</h1>\n")
    with open(os.path.join(proj, ".prenv.yml"), "w") as f:
        f.write(
            "version: 1\n"
            "app: site\n"
            "url: \"http://127.0.0.1/{{env.name}}/\"\n"
            "provider:\n"
            "  kind: pages\n"
            "  source: public\n"
            "  target: \"git:%s#gh-pages\"\n"
            "environments:\n"
            "  - pull_request: true\n"
            "    kind: preview\n" % target)


@unittest.skipUnless(os.path.exists(PRENV), "prenv binary not built (%s)" % PRENV)
class GitHttpFixture:
    """A bare repository served by git http-backend, and a project whose
    pages target pushes to it."""
    extra_args = []

    def setUp(self):
        self.dir = tmpdir(self)
        self.bare = os.path.join(self.dir, "srv", "site.git")
        seed_bare(self.bare)
        self.port, self.srv_log = start_git_server(self, os.path.join(self.dir, "srv"), TOKEN,
                                                   extra=self.extra_args)
        self.proj = os.path.join(self.dir, "proj")
        write_project(self.proj, "http://127.0.0.1:%d/site.git" % self.port)
        self.host = "127.0.0.1:%d" % self.port

    def env(self, **extra):
        return clean_env(PRENV_PR="7", PRENV_BRANCH="feature/x",
                         PRENV_SHA="0123456789abcdef0123456789abcdef01234567",
                         PRENV_REPO="acme/site", **extra)



class PagesGitHttp(GitHttpFixture, unittest.TestCase):
    def test_deploy_and_destroy_over_http_with_token(self):
        r = run_prenv(["deploy"], env=self.env(PRENV_GIT_TOKEN=TOKEN, PRENV_GIT_TOKEN_HOST=self.host),
                      cwd=self.proj)
        out = r.stdout + r.stderr
        self.assertEqual(r.returncode, 0, out)
        self.assertNotIn(TOKEN, out)
        self.assertEqual(git("--git-dir=" + self.bare, "log", "--format=%s", "gh-pages"),
                         "prenv: deploy pr-7 (PR #7, 0123456)\nseed\n")
        self.assertEqual(git("--git-dir=" + self.bare, "ls-tree", "-r", "--name-only", "gh-pages"),
                         "index.html\npr-7/index.html\n")

        r = run_prenv(["destroy"], env=self.env(PRENV_GIT_TOKEN=TOKEN, PRENV_GIT_TOKEN_HOST=self.host),
                      cwd=self.proj)
        out = r.stdout + r.stderr
        self.assertEqual(r.returncode, 0, out)
        self.assertNotIn(TOKEN, out)
        self.assertEqual(git("--git-dir=" + self.bare, "ls-tree", "-r", "--name-only", "gh-pages"),
                         "index.html\n")

    def test_wrong_token_is_exit_3_and_not_printed(self):
        r = run_prenv(["deploy"], env=self.env(GITHUB_TOKEN="wrong-token-abcdef",
                                               GITHUB_SERVER_URL="http://" + self.host), cwd=self.proj)
        out = r.stdout + r.stderr
        self.assertEqual(r.returncode, 3, out)
        self.assertNotIn("wrong-token-abcdef", out)
        self.assertIn(fingerprint("wrong-token-abcdef"), read(self.srv_log))
        self.assertEqual(git("--git-dir=" + self.bare, "log", "--format=%s", "gh-pages"), "seed\n")


class PagesGitHttpRedirect(GitHttpFixture, unittest.TestCase):
    """The remote redirects to another host name: the token must not follow."""
    extra_args = ["--redirect-host", "localhost"]

    def test_token_not_sent_to_a_redirected_host(self):
        r = run_prenv(["deploy"], env=self.env(PRENV_GIT_TOKEN=TOKEN, PRENV_GIT_TOKEN_HOST=self.host),
                      cwd=self.proj)
        out = r.stdout + r.stderr
        self.assertEqual(r.returncode, 3, out)
        self.assertIn("another host", out)
        self.assertNotIn(TOKEN, out)
        with open(self.srv_log) as f:
            self.assertNotIn("credentials received", f.read())
        self.assertEqual(git("--git-dir=" + self.bare, "log", "--format=%s", "gh-pages"), "seed\n")


@unittest.skipUnless(os.path.exists(PRENV), "prenv binary not built (%s)" % PRENV)
class PagesGitTokensPerHost(unittest.TestCase):
    """Two git servers on two loopback hosts: A (127.0.0.1) plays the GitLab
    server of a GitLab CI job (CI_SERVER_URL, CI_JOB_TOKEN), B (127.0.0.2)
    another host the user has a token for (PRENV_GIT_TOKEN_HOST). Each
    server logs the fingerprint of every credential it receives: a token
    must only ever reach its own host, whatever host the target names."""
    JOB = "glcbt-jobTokenForServerA-0123456789"
    OTHER = "ghp_tokenForServerB_abcdefghijklmnop"

    def setUp(self):
        self.dir = tmpdir(self)
        for host in ("a", "b"):
            seed_bare(os.path.join(self.dir, host, "site.git"))
        self.port_a, self.log_a = start_git_server(self, os.path.join(self.dir, "a"), self.JOB,
                                                   user="gitlab-ci-token")
        self.port_b, self.log_b = start_git_server(self, os.path.join(self.dir, "b"), self.OTHER,
                                                   bind="127.0.0.2")
        self.url_a = "http://127.0.0.1:%d/site.git" % self.port_a
        self.url_b = "http://127.0.0.2:%d/site.git" % self.port_b

    def deploy(self, target, **extra):
        proj = os.path.join(self.dir, "proj-%d" % len(os.listdir(self.dir)))
        write_project(proj, target)
        env = clean_env(GITLAB_CI="true", CI="true", CI_SERVER_URL="http://127.0.0.1:%d" % self.port_a,
                        CI_PROJECT_PATH="acme/site", CI_PROJECT_ID="1", CI_PIPELINE_ID="5",
                        CI_PIPELINE_SOURCE="merge_request_event", CI_MERGE_REQUEST_IID="7",
                        CI_MERGE_REQUEST_SOURCE_BRANCH_NAME="feature/x",
                        CI_MERGE_REQUEST_TARGET_BRANCH_NAME="main",
                        CI_COMMIT_SHA="0123456789abcdef0123456789abcdef01234567",
                        CI_JOB_TOKEN=self.JOB, **extra)
        r = run_prenv(["deploy"], env=env, cwd=proj)
        out = r.stdout + r.stderr
        self.assertNotIn(self.JOB, out)
        self.assertNotIn(self.OTHER, out)
        return r, out

    def tree(self, host):
        return git("--git-dir=" + os.path.join(self.dir, host, "site.git"), "ls-tree", "-r",
                   "--name-only", "gh-pages")

    def test_job_token_never_reaches_another_host(self):
        # the target names B: the job token belongs to A (CI_SERVER_URL)
        r, out = self.deploy(self.url_b)
        self.assertEqual(r.returncode, 3, out)
        self.assertIn("CI_JOB_TOKEN belongs to the GitLab server 127.0.0.1:%d, not 127.0.0.2:%d"
                      % (self.port_a, self.port_b), out)
        self.assertNotIn("credentials received", read(self.log_b))
        self.assertEqual(self.tree("b"), "index.html\n")
        # the target names A: the job token goes there, and only there
        r, out = self.deploy(self.url_a)
        self.assertEqual(r.returncode, 0, out)
        self.assertIn("user gitlab-ci-token " + fingerprint(self.JOB), read(self.log_a))
        self.assertEqual(self.tree("a"), "index.html\npr-7/index.html\n")
        self.assertNotIn("credentials received", read(self.log_b))

    def test_each_token_reaches_only_its_own_host(self):
        extra = dict(PRENV_GIT_TOKEN=self.OTHER, PRENV_GIT_TOKEN_HOST="127.0.0.2:%d" % self.port_b)
        for target in (self.url_a, self.url_b):
            r, out = self.deploy(target, **extra)
            self.assertEqual(r.returncode, 0, out)
        log_a, log_b = read(self.log_a), read(self.log_b)
        print("# server A (127.0.0.1, CI_SERVER_URL) received: %s"
              % sorted(set(l.split(" user ", 1)[1] for l in log_a.splitlines() if " user " in l)))
        print("# server B (127.0.0.2, PRENV_GIT_TOKEN_HOST) received: %s"
              % sorted(set(l.split(" user ", 1)[1] for l in log_b.splitlines() if " user " in l)))
        self.assertIn(fingerprint(self.JOB), log_a)
        self.assertNotIn(fingerprint(self.OTHER), log_a)
        self.assertIn(fingerprint(self.OTHER), log_b)
        self.assertNotIn(fingerprint(self.JOB), log_b)
        self.assertEqual(self.tree("a"), "index.html\npr-7/index.html\n")
        self.assertEqual(self.tree("b"), "index.html\npr-7/index.html\n")


if __name__ == "__main__":
    unittest.main()
