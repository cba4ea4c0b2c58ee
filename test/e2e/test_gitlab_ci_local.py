"""The GitLab example (ci-examples/gitlab/.gitlab-ci.yml) run as a pipeline
by gitlab-ci-local (npm; test/fetch-fixtures.sh installs the version pinned in
test/gitlab-ci-local/ into build/gitlab-ci-local), offline, with the shell
executor and the real prenv binary:

- a merge request pipeline: deploy_review deploys, its dotenv report
  (prenv.env) holds PRENV_URL, the MR note says ready;
- a scheduled pipeline runs prenv_gc alone, which destroys the preview of a
  merged merge request and keeps the open one's;
- stop_review, without a checkout (GIT_STRATEGY: none), destroys the preview
  with only what deploy_review's artifacts give it; the MR note says
  destroyed.

The example's .gitlab-ci.yml runs unchanged. What the test substitutes:
- the provider: the project's .prenv.yml is the example's
  (ci-examples/gitlab/.prenv.yml: app, url, rules, TTL) with `provider`
  replaced by pages into a temporary directory, so no cluster is needed;
- prenv: build/prenv (PRENV_BIN) is on the jobs' PATH, so the example's
  before_script skips building it (an `apt-get` that fails stands guard);
- GitLab: the project's test server (test/servers/gitlab_server.py) is
  CI_SERVER_URL, and every request prenv sent must pass its validation.

gitlab-ci-local does not implement GIT_STRATEGY: with --shell-isolation it
copies every tracked file into each job's folder. A job whose
GIT_STRATEGY is none gets no files from the runner but the artifacts of the
jobs it depends on, so before such a job the test untracks every file (they
stay on disk for gitlab-ci-local to read .gitlab-ci.yml).

If gitlab-ci-local cannot be installed the test fails; it never skips."""
import copy
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time
import unittest

import yaml

from util import PRENV, ROOT, clean_env, run_prenv, tmpdir

sys.path.insert(0, os.path.join(ROOT, "test", "servers"))
from codehost import start_gitlab  # noqa: E402

EXAMPLE = os.path.join(ROOT, "ci-examples", "gitlab")
GLCL = os.path.join(ROOT, "build", "gitlab-ci-local", "node_modules", ".bin", "gitlab-ci-local")
PROJECT_ID = 1217   # the CI_PROJECT_ID gitlab-ci-local gives every job
MARKER = "<!-- prenv:marker app=shop env=pr-%d -->"
# Flags: the shell executor for jobs that name an image (no container engine,
# no image pulls), each job in its own folder with only its files and
# artifacts, nothing copied back into the project, no colours, no
# ~/.gitlab-ci-local, no validation against gitlab-ci-local's copy of the
# schema (2-4 s a run; test_schemas.py validates the example against
# shared/refdata/schemas/gitlab-ci.json). gitlab-ci-local talks to no server
# for a file without remote includes; the jobs talk to 127.0.0.1 only.
FLAGS = ["--shell-isolation", "--force-shell-executor", "--no-artifacts-to-source",
         "--no-color", "--max-job-name-padding", "0", "--no-json-schema-validation"]
# What GitLab sets in these pipelines and gitlab-ci-local sets otherwise.
OVERRIDDEN = ["GITLAB_CI", "CI_PIPELINE_SOURCE", "CI_COMMIT_REF_NAME", "CI_COMMIT_BRANCH",
              "CI_SERVER_URL"]


def install_gitlab_ci_local():
    """Installs gitlab-ci-local when missing; fails (never skips) when it cannot."""
    os.makedirs(os.path.join(ROOT, "build"), exist_ok=True)
    # The plain and ASan e2e runs start together: one installs, the other waits.
    with open(os.path.join(ROOT, "build", ".gitlab-ci-local.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.access(GLCL, os.X_OK):
            r = subprocess.run(["sh", os.path.join(ROOT, "test", "fetch-fixtures.sh")], cwd=ROOT,
                               capture_output=True, text=True, timeout=600)
            if r.returncode != 0 or not os.access(GLCL, os.X_OK):
                raise AssertionError("gitlab-ci-local could not be installed (sh test/fetch-fixtures.sh, "
                                     "exit %d):\n%s%s" % (r.returncode, r.stdout, r.stderr))
    if shutil.which("rsync") is None:
        raise AssertionError("gitlab-ci-local --shell-isolation needs rsync: apt-get install rsync (make deps)")
    r = subprocess.run([GLCL, "--version"], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError("gitlab-ci-local does not run here:\n" + r.stdout + r.stderr)
    return r.stdout.strip()


def load_example(name):
    with open(os.path.join(EXAMPLE, name), encoding="utf-8") as f:
        return yaml.safe_load(f)


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def git(cwd, *args):
    subprocess.run(["git", "-c", "user.name=Alice", "-c", "user.email=alice@example.com"] + list(args),
                   cwd=cwd, check=True, capture_output=True, text=True, timeout=60)


def note_bodies(gl, iid):
    return [n["body"] for n in gl.state()["notes"] if n["body"].startswith(MARKER % iid)]


class GitLabCiLocalTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.version = install_gitlab_ci_local()

    def setUp(self):
        self.dir = tmpdir(self)
        self.public = os.path.join(self.dir, "public")
        self.project = os.path.join(self.dir, "project")
        self.home = os.path.join(self.dir, "home")
        bin_dir = os.path.join(self.dir, "bin")
        os.makedirs(bin_dir)
        os.makedirs(self.home)
        os.symlink(PRENV, os.path.join(bin_dir, "prenv"))
        write(os.path.join(bin_dir, "apt-get"), "#!/bin/sh\necho 'test: the job must not install packages' >&2\nexit 97\n")
        os.chmod(os.path.join(bin_dir, "apt-get"), 0o755)
        self.env = clean_env(PATH=bin_dir + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
                             HOME=self.home, GIT_CONFIG_NOSYSTEM="1")

        self.gl = start_gitlab(self.dir, tokens={"glpat-rw": "alice:api"})
        self.addCleanup(self.gl.stop)
        self.make_project()

    def make_project(self):
        """A git project holding the example's .gitlab-ci.yml unchanged and its
        .prenv.yml with the pages provider instead of kubernetes."""
        os.makedirs(self.project)
        shutil.copy(os.path.join(EXAMPLE, ".gitlab-ci.yml"), self.project)
        cfg = copy.deepcopy(load_example(".prenv.yml"))
        self.assertEqual("kubernetes", cfg["provider"]["kind"])
        cfg["provider"] = {"kind": "pages", "source": "site", "target": "dir:" + self.public}
        cfg.pop("templates", None)
        write(os.path.join(self.project, ".prenv.yml"), yaml.safe_dump(cfg, sort_keys=False))
        write(os.path.join(self.project, "site", "index.html.mustache"),
              "<p>!{{pr.number}} at {{git.short_sha}}</p>\n")
        git(self.project, "init", "-q", "-b", "feature/login")
        git(self.project, "config", "user.name", "Alice")
        git(self.project, "config", "user.email", "alice@example.com")
        git(self.project, "add", "-A")
        git(self.project, "commit", "-q", "-m", "Add a login page")
        git(self.project, "remote", "add", "origin", self.gl.url + "/group/proj.git")
        git(self.project, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main")
        self.sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=self.project, capture_output=True,
                                  text=True, check=True).stdout.strip()
        self.gl.seed({"project": "group/proj", "id": PROJECT_ID, "merge_requests": [
            {"iid": iid, "sha": self.sha, "source_branch": "feature/login", "target_branch": "main",
             "state": "opened", "author": "alice", "title": "Add a login page"} for iid in (7, 8)]})

    def mr_variables(self, iid):
        return {"GITLAB_CI": "true", "CI_PIPELINE_SOURCE": "merge_request_event",
                "CI_MERGE_REQUEST_IID": str(iid), "CI_MERGE_REQUEST_TITLE": "Add a login page",
                "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "feature/login",
                "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
                "CI_MERGE_REQUEST_PROJECT_PATH": "group/proj",
                "CI_MERGE_REQUEST_SOURCE_PROJECT_PATH": "group/proj",
                "CI_COMMIT_REF_NAME": "feature/login", "CI_SERVER_URL": self.gl.url,
                "PRENV_GITLAB_TOKEN": "glpat-rw"}

    def schedule_variables(self):
        return {"GITLAB_CI": "true", "CI_PIPELINE_SOURCE": "schedule", "CI_COMMIT_REF_NAME": "main",
                "CI_COMMIT_BRANCH": "main", "CI_SERVER_URL": self.gl.url, "PRENV_GITLAB_TOKEN": "glpat-rw"}

    def pipeline(self, variables, jobs=(), unset=()):
        """Runs gitlab-ci-local in the project; returns its output."""
        args = [GLCL] + FLAGS + ["--home", self.home, "--ignore-predefined-vars", ",".join(OVERRIDDEN)]
        for k, v in variables.items():
            args += ["--variable", "%s=%s" % (k, v)]
        for k in unset:
            args += ["--unset-variable", k]
        r = subprocess.run(args + list(jobs), cwd=self.project, env=self.env, capture_output=True,
                           text=True, timeout=180)
        out = r.stdout + r.stderr
        self.assertEqual(0, r.returncode, out)
        self.assertNotIn("must not install packages", out)
        return out

    def passed(self, out):
        return set(re.findall(r"^\s*PASS\s+(\S+)", out, re.M))

    def no_checkout_for(self, job):
        """GIT_STRATEGY: none, as the runner does it: the job's folder gets no file."""
        if load_example(".gitlab-ci.yml")[job].get("variables", {}).get("GIT_STRATEGY") == "none":
            git(self.project, "rm", "-r", "-q", "--cached", ".")

    def checkout(self):
        git(self.project, "reset", "-q")

    def dotenv(self, job):
        path = os.path.join(self.project, ".gitlab-ci-local", "artifacts", job, ".gitlab-ci-reports",
                            "dotenv", "prenv.env")
        self.assertTrue(os.path.exists(path), "no dotenv report from %s" % job)
        with open(path, encoding="utf-8") as f:
            return dict(line.split("=", 1) for line in f.read().splitlines() if "=" in line)

    def deploy_outside_gitlab_ci_local(self, iid):
        """Another merge request's preview, deployed by prenv itself as its
        deploy_review would (one gitlab-ci-local run less)."""
        d = os.path.join(self.dir, "mr-%d" % iid)
        shutil.copytree(self.project, d, ignore=shutil.ignore_patterns(".git", ".gitlab-ci-local"))
        v = self.mr_variables(iid)
        v.pop("PRENV_GITLAB_TOKEN")
        r = run_prenv(["deploy"], cwd=d, env=clean_env(CI_PROJECT_PATH="group/proj", CI_COMMIT_SHA=self.sha, **v))
        self.assertEqual(0, r.returncode, r.stderr)

    def test_gitlab_ci_local_deploy_gc_stop(self):
        t0 = time.monotonic()
        # The merge request pipeline of !7: deploy_review runs; stop_review
        # (manual) and prenv_gc (schedules only) do not.
        out = self.pipeline(self.mr_variables(7), unset=["CI_COMMIT_BRANCH"])
        self.assertEqual({"deploy_review"}, self.passed(out), out)
        env = self.dotenv("deploy_review")
        self.assertEqual("https://pr-7.preview.example.com", env.get("PRENV_URL"), env)
        self.assertEqual("pr-7", env.get("PRENV_ENV"))
        self.assertEqual("ready", env.get("PRENV_STATUS"))
        with open(os.path.join(self.public, "pr-7", "index.html"), encoding="utf-8") as f:
            self.assertEqual("<p>!7 at %s</p>\n" % self.sha[:7], f.read())
        bodies = note_bodies(self.gl, 7)
        self.assertEqual(1, len(bodies), bodies)
        self.assertIn("ready", bodies[0])
        self.assertIn("https://pr-7.preview.example.com", bodies[0])

        # !8 has a preview too, and is merged without its stop job running:
        # the scheduled pipeline (prenv_gc alone) destroys it, and keeps !7's.
        self.deploy_outside_gitlab_ci_local(8)
        self.assertTrue(os.path.isdir(os.path.join(self.public, "pr-8")))
        self.gl.seed({"project": "group/proj", "merge_requests": [
            {"iid": 8, "sha": self.sha, "source_branch": "feature/login", "target_branch": "main",
             "state": "merged", "author": "alice"}]})
        out = self.pipeline(self.schedule_variables())
        self.assertEqual({"prenv_gc"}, self.passed(out), out)
        self.assertFalse(os.path.exists(os.path.join(self.public, "pr-8")), out)
        self.assertTrue(os.path.isdir(os.path.join(self.public, "pr-7")), out)

        # !7 is merged or closed (or someone presses Stop): stop_review runs
        # without a checkout, with deploy_review's artifacts.
        self.no_checkout_for("stop_review")
        out = self.pipeline(self.mr_variables(7), jobs=["stop_review"], unset=["CI_COMMIT_BRANCH"])
        self.assertEqual({"stop_review"}, self.passed(out), out)
        self.assertFalse(os.path.exists(os.path.join(self.public, "pr-7")), out)
        bodies = note_bodies(self.gl, 7)
        self.assertEqual(1, len(bodies), bodies)
        self.assertIn("destroyed", bodies[0])
        self.assertEqual([], self.gl.invalid_requests())
        print("\n# gitlab-ci-local %s: MR pipeline (deploy), schedule pipeline (gc), stop job: %.1f s"
              % (self.version, time.monotonic() - t0))


class GitLabExampleTest(unittest.TestCase):
    """What the example must say, checked without running it."""

    def setUp(self):
        self.ci = load_example(".gitlab-ci.yml")

    def test_gitlab_example_stop_job_gets_the_config(self):
        deploy, stop = self.ci["deploy_review"], self.ci["stop_review"]
        self.assertEqual("none", stop["variables"]["GIT_STRATEGY"])
        self.assertIn(".prenv.yml", deploy["artifacts"]["paths"])
        self.assertEqual("prenv.env", deploy["artifacts"]["reports"]["dotenv"])
        stages = self.ci["stages"]
        needs = [n if isinstance(n, str) else n["job"] for n in stop.get("needs", [])
                 if isinstance(n, str) or n.get("artifacts", True)]
        later = stages.index(stop["stage"]) > stages.index(deploy["stage"]) and "needs" not in stop
        self.assertTrue("deploy_review" in needs or later,
                        "stop_review gets no artifacts from deploy_review: give it needs: or a later stage")
        self.assertEqual("stop_review", deploy["environment"]["on_stop"])
        self.assertEqual("stop", stop["environment"]["action"])
        self.assertEqual(deploy["environment"]["name"], stop["environment"]["name"])

    def example_context(self):
        """prenv context -o json for a merge request, with the example's own
        .prenv.yml (kubernetes): the configuration loads and a rule matches."""
        d = tmpdir(self)
        shutil.copy(os.path.join(EXAMPLE, ".prenv.yml"), d)
        r = run_prenv(["context", "-o", "json"], cwd=d, env=clean_env(
            GITLAB_CI="true", CI_PIPELINE_SOURCE="merge_request_event", CI_MERGE_REQUEST_IID="7",
            CI_PROJECT_PATH="acme/shop", CI_COMMIT_SHA="a" * 40))
        self.assertEqual(0, r.returncode, r.stderr)
        return json.loads(r.stdout)

    def test_gitlab_example_prenv_config_loads(self):
        env = self.example_context()["env"]
        self.assertEqual(("pr-7", "preview", "shop-pr-7"), (env["name"], env["kind"], env["namespace"]))

    def test_gitlab_example_auto_stop_in_is_the_ttl(self):
        # GitLab reads "3 days", "72 hours", "1 week", ...; prenv says the
        # TTL of the rule a merge request matches.
        seconds = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}
        text = self.ci["deploy_review"]["environment"]["auto_stop_in"]
        m = re.fullmatch(r"(\d+)\s*(second|minute|hour|day|week)s?", text)
        self.assertIsNotNone(m, text)
        self.assertEqual(self.example_context()["env"]["ttl"], int(m.group(1)) * seconds[m.group(2)],
                         "auto_stop_in: %s is not the ttl of the pull_request rule in .prenv.yml" % text)

    def test_gitlab_example_gc_is_scheduled(self):
        gc = self.ci["prenv_gc"]
        self.assertEqual(["prenv gc"], gc["script"])
        self.assertEqual([{"if": '$CI_PIPELINE_SOURCE == "schedule"'}], gc["rules"])
        for job in ("deploy_review", "stop_review"):
            self.assertTrue(all("merge_request_event" in r["if"] for r in self.ci[job]["rules"]), job)



if __name__ == "__main__":
    unittest.main()
