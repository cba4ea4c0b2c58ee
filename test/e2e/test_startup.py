"""Start-up (issue 15 item 4): a command that makes no request and reads
no checkout never loads libcurl or libgit2 (and the ~40 libraries they pull
in); one that reads a checkout loads libgit2 on demand and still works.
Checked with the dynamic loader's own trace (LD_DEBUG=files), which lists
every shared object the process opens, at start-up and through dlopen."""
import json
import os
import subprocess
import unittest

from util import PRENV, clean_env, run_prenv, tmpdir

GITHUB = dict(GITHUB_ACTIONS="true", GITHUB_REPOSITORY="acme/shop", GITHUB_EVENT_NAME="push",
              GITHUB_REF="refs/heads/main", GITHUB_REF_NAME="main",
              GITHUB_SHA="0123456789abcdef0123456789abcdef01234567",
              GITHUB_SERVER_URL="https://github.com", GITHUB_RUN_ID="1")

CONFIG = """version: 1
app: shop
templates: templates
provider:
  kind: command
  deploy: ["true"]
environments:
  - branch: "**"
"""


def loaded(args, env, cwd=None):
    """(process, names of the shared objects the loader opened)."""
    p = run_prenv(args, env=dict(env, LD_DEBUG="files"), cwd=cwd)
    libs = set()
    for line in p.stderr.splitlines():
        if "file=" in line and ("[0];" in line or "needed by" in line or "dynamically loaded" in line):
            libs.add(line.split("file=", 1)[1].split()[0].split(";")[0])
    return p, libs


def heavy(libs):
    return sorted(l for l in libs if l.startswith(("libcurl", "libgit2", "libssl", "libgnutls",
                                                   "libmbed", "libkrb5", "libldap")))


class StartupTest(unittest.TestCase):
    def test_commands_without_requests_load_neither_libcurl_nor_libgit2(self):
        d = tmpdir(self)
        os.mkdir(os.path.join(d, "templates"))
        with open(os.path.join(d, "templates", "cm.yaml"), "w") as f:
            f.write("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"
                    "data:\n  b: {{git.branch}}\n")
        with open(os.path.join(d, ".prenv.yml"), "w") as f:
            f.write(CONFIG)
        env = clean_env(**GITHUB)
        for args in (["version"], ["context"], ["render"]):
            p, libs = loaded(args, env, cwd=d)
            self.assertEqual(p.returncode, 0, (args, p.stderr[-2000:]))
            self.assertEqual(heavy(libs), [], "prenv %s loaded %s" % (args[0], heavy(libs)))

    def test_context_in_a_checkout_loads_libgit2_on_demand(self):
        d = tmpdir(self)
        git = ["git", "-C", d, "-c", "user.name=t", "-c", "user.email=t@e"]
        subprocess.run(["git", "init", "-q", "-b", "feature/lazy", d], check=True)
        subprocess.run(git + ["commit", "-q", "--allow-empty", "-m", "x"], check=True)
        subprocess.run(git + ["remote", "add", "origin", "https://github.com/acme/lazy.git"],
                       check=True)
        p, libs = loaded(["-o", "json", "context"], clean_env(), cwd=d)
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        ctx = json.loads(p.stdout)
        self.assertEqual((ctx["branch"], ctx["repo"]["full_name"]), ("feature/lazy", "acme/lazy"))
        if libs:  # a dynamic build: libgit2 came in through dlopen, libcurl did not
            self.assertTrue(any(l.startswith("libgit2") for l in libs), sorted(libs))
            self.assertFalse(any(l.startswith("libcurl") for l in libs), sorted(libs))


if __name__ == "__main__":
    unittest.main()
