"""The GitHub Action (action.yml at the repository root), run locally.

Its composite steps run as GitHub runs them: each `run:` script under
`bash --noprofile --norc -eo pipefail`, with the step's `env:`, GITHUB_OUTPUT,
GITHUB_ENV, RUNNER_OS/RUNNER_ARCH, the image variables of GitHub's runners
(ImageOS, ImageVersion), and the `${{ }}` expressions (inputs.*, github.*,
steps.*.outputs.*, == and != against a string) evaluated by the small
evaluator below. `uses:` steps are not run: actions/cache answers cache-hit
as the test says. The action path is a scratch directory whose build/prenv is
the binary under test (or a stand-in that records its command line), so the
real build is never run here."""
import os
import re
import shutil
import stat
import hashlib
import subprocess
import sys
import time
import unittest

import yaml

from util import PRENV, ROOT, clean_env, tmpdir

ACTION = os.path.join(ROOT, "action.yml")
UBUNTU24 = {"ImageOS": "ubuntu24", "ImageVersion": "20241124.1.0"}
UBUNTU22 = {"ImageOS": "ubuntu22", "ImageVersion": "20241124.1.0"}


def load_action():
    with open(ACTION, encoding="utf-8") as f:
        return yaml.safe_load(f)


class Expr:
    """GitHub's expressions, as much of them as action.yml uses."""
    def __init__(self, inputs, steps, action_path, github=None):
        self.inputs, self.steps, self.action_path = inputs, steps, action_path
        self.github = github or {}

    def value(self, e):
        e = e.strip()
        if "&&" in e:
            return all(self.value(x) is True for x in e.split("&&"))
        for op in ("!=", "=="):
            if op in e:
                a, b = (self.value(x) for x in e.split(op, 1))
                return (a != b) if op == "!=" else (a == b)
        if re.fullmatch(r"'[^']*'", e):
            return e[1:-1]
        m = re.fullmatch(r"inputs\.([\w-]+)", e)
        if m:
            return self.inputs[m.group(1)]
        m = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", e)
        if m:
            return self.steps.get(m.group(1), {}).get(m.group(2), "")
        if e == "github.action_path":
            return self.action_path
        if e == "github.token":
            return "ghs_runner_token"
        m = re.fullmatch(r"github\.(action_ref|action_repository)", e)
        if m:   # empty: the action runs from a local path (uses: ./)
            return self.github.get(m.group(1), "")
        raise AssertionError("expression the test evaluator does not know: %r" % e)

    def subst(self, s):
        return re.sub(r"\$\{\{(.*?)\}\}", lambda m: str(self.value(m.group(1))), str(s))

    def cond(self, s):
        s = str(s).strip()
        m = re.fullmatch(r"\$\{\{(.*)\}\}", s)
        v = self.value(m.group(1) if m else s)
        return v is True or (isinstance(v, str) and v != "")


def parse_outputs(path):
    """key=value lines and key<<DELIM heredocs, as GitHub reads GITHUB_OUTPUT."""
    out = {}
    if not os.path.exists(path):
        return out
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"^([\w-]+)<<(.+)$", line)
        if m:
            j = lines.index(m.group(2), i + 1)
            out[m.group(1)] = "\n".join(lines[i + 1:j])
            i = j + 1
            continue
        if "=" in line:
            k, v = line.split("=", 1)
            out[k] = v
        i += 1
    return out


class ActionRun:
    def __init__(self, test, action_path, inputs=None, cache_hit="true", env=None, cwd=None,
                 github=None):
        self.doc = load_action()
        self.test = test
        self.path = action_path
        self.inputs = {k: str(v.get("default", "")) for k, v in self.doc["inputs"].items()}
        for k, v in (inputs or {}).items():
            test.assertIn(k, self.inputs, "action.yml has no input %r" % k)
            self.inputs[k] = v
        self.cache_hit = cache_hit
        self.base_env = env or {}
        self.cwd = cwd or action_path
        self.steps = {}
        self.ran, self.skipped, self.cache_with = [], [], None
        self.work = tmpdir(test)
        self.expr = Expr(self.inputs, self.steps, action_path, github)
        self.result = None
        self.seconds = {}   # step id: how long its script took

    def run_script(self, i, step):
        outfile = os.path.join(self.work, "output-%d" % i)
        envfile = os.path.join(self.work, "env-%d" % i)
        script = os.path.join(self.work, "step-%d.sh" % i)
        for p in (outfile, envfile):
            open(p, "w").close()
        with open(script, "w", encoding="utf-8") as f:
            f.write(self.expr.subst(step["run"]))
        env = clean_env(**dict(dict(GITHUB_ACTIONS="true", CI="true", RUNNER_OS="Linux", RUNNER_ARCH="X64",
                                    GITHUB_ACTION_PATH=self.path, GITHUB_OUTPUT=outfile,
                                    GITHUB_ENV=envfile, GITHUB_WORKSPACE=self.cwd), **self.base_env))
        for k, v in (step.get("env") or {}).items():
            env[k] = self.expr.subst(v)
        self.test.assertEqual("bash", step.get("shell"), step.get("name"))
        t0 = time.monotonic()
        r = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", script], env=env,
                           cwd=self.cwd, capture_output=True, text=True, timeout=120)
        self.seconds[step.get("id", i)] = time.monotonic() - t0
        if "id" in step:
            self.steps[step["id"]] = parse_outputs(outfile)
        return r

    def run(self):
        for i, step in enumerate(self.doc["runs"]["steps"]):
            if "if" in step and not self.expr.cond(step["if"]):
                self.skipped.append(step.get("name"))
                continue
            self.ran.append(step.get("name"))
            if "uses" in step:
                self.test.assertTrue(step["uses"].startswith("actions/cache@"), step["uses"])
                self.cache_with = {k: self.expr.subst(v) for k, v in step["with"].items()}
                self.steps[step["id"]] = {"cache-hit": self.cache_hit}
                continue
            r = self.run_script(i, step)
            self.result = r
            if r.returncode != 0:
                return r
        return self.result


RECORDER = """#!/bin/sh
for a in "$@"; do printf '%s\\n' "$a"; done > "$0.args"
"""

CONFIG = """version: 1
app: shop
url: "https://{{env.name}}.preview.example.com"
provider: {kind: command, deploy: ["sh", "-c", "echo deployed > deployed.txt"]}
environments: [{pull_request: true, kind: preview}, {branch: "**", kind: development}]
"""
LOCAL = dict(PRENV_CI="local", PRENV_REPO="acme/shop", PRENV_BRANCH="feat", PRENV_SHA="b" * 40)


class ActionTest(unittest.TestCase):
    def setUp(self):
        self.doc = load_action()
        self.steps = self.doc["runs"]["steps"]
        self.action = tmpdir(self)
        os.makedirs(os.path.join(self.action, "build"))
        self.ws = tmpdir(self)

    def binary(self, recorder=False):
        dst = os.path.join(self.action, "build", "prenv")
        if os.path.lexists(dst):
            os.unlink(dst)
        if recorder:
            with open(dst, "w") as f:
                f.write(RECORDER)
            os.chmod(dst, stat.S_IRWXU)
        else:
            os.symlink(PRENV, dst)
        return dst

    def args(self, inputs, **kw):
        prenv = self.binary(recorder=True)
        r = ActionRun(self, self.action, inputs=inputs, cwd=self.ws, **kw).run()
        self.assertEqual(0, r.returncode, r.stdout + r.stderr)
        with open(prenv + ".args") as f:
            return f.read().split("\n")[:-1]

    def key(self, path, image):
        run = ActionRun(self, path, env=image, cache_hit="false")
        step = next(s for s in self.steps if s.get("id") == "key")
        r = run.run_script(0, step)
        self.assertEqual(0, r.returncode, r.stderr)
        return run.steps["key"]["key"]

    # --- the cache ------------------------------------------------------------
    def test_the_cache_key_names_the_runner_image_and_the_source(self):
        k24 = self.key(ROOT, UBUNTU24)
        self.assertIn("ubuntu24", k24)
        self.assertIn("20241124.1.0", k24)
        self.assertEqual(k24, self.key(ROOT, UBUNTU24))
        self.assertNotEqual(k24, self.key(ROOT, UBUNTU22))
        newer = dict(UBUNTU24, ImageVersion="20241201.2.0")
        self.assertNotEqual(k24, self.key(ROOT, newer))
        # the source: a copy of the tree gives the same key until a file changes
        src = tmpdir(self)
        for d in ("runner", "providers"):
            shutil.copytree(os.path.join(ROOT, d), os.path.join(src, d))
        for f in ("Makefile", "action.yml"):
            shutil.copy(os.path.join(ROOT, f), src)
        self.assertEqual(k24, self.key(src, UBUNTU24))
        with open(os.path.join(src, "runner", "main.c"), "a") as f:
            f.write("/* changed */\n")
        self.assertNotEqual(k24, self.key(src, UBUNTU24))
        # the cache step restores with that key, the binary and its libraries
        run = ActionRun(self, ROOT, env=UBUNTU24, inputs={"command": "bogus"})
        run.run()
        self.assertEqual(k24, run.cache_with["key"])
        self.assertIn(os.path.join(ROOT, "build", "prenv"), run.cache_with["path"].split("\n"))

    def test_nothing_is_installed_or_built_on_a_cache_hit(self):
        ids = [s.get("id") for s in self.steps]
        cache = ids.index("cache")
        installs = [i for i, s in enumerate(self.steps)
                    if re.search(r"apt-get|deps-build|\bmake\b", s.get("run", ""))]
        self.assertTrue(installs, "no step installs or builds")
        for i in installs:
            s = self.steps[i]
            with self.subTest(step=s.get("name")):
                self.assertGreater(i, cache, "runs before the cache is restored")
                self.assertEqual("steps.release.outputs.installed != 'true' && "
                                 "steps.cache.outputs.cache-hit != 'true'", s.get("if"))
                for hit, runs in (("true", False), ("false", True), ("", True)):
                    e = Expr({}, {"cache": {"cache-hit": hit}}, self.action)
                    self.assertEqual(runs, e.cond(s["if"]), hit)
                    e = Expr({}, {"cache": {"cache-hit": hit}, "release": {"installed": "true"}},
                             self.action)
                    self.assertFalse(e.cond(s["if"]), "builds although the release was installed")
        # the whole action on a hit: key, cache, run; nothing else
        self.binary()
        run = ActionRun(self, self.action, env=dict(UBUNTU24, **LOCAL), cwd=self.ws,
                        inputs={"dry-run": "true"})
        with open(os.path.join(self.ws, ".prenv.yml"), "w") as f:
            f.write(CONFIG)
        r = run.run()
        self.assertEqual(0, r.returncode, r.stdout + r.stderr)
        self.assertEqual([self.steps[i].get("name") for i in installs], run.skipped)

    def test_a_miss_installs_builds_and_caches_the_libraries_with_the_binary(self):
        # make stands in for the build (a real one is test_build.py's): it
        # records its arguments and puts the binary under test in place
        bin_dir = tmpdir(self)
        log = os.path.join(bin_dir, "make.log")
        with open(os.path.join(bin_dir, "make"), "w") as f:
            f.write('#!/bin/sh\nprintf "%%s\\n" "$*" >> %s\n'
                    'case " $* " in *" all "*) cp %s "$2/build/prenv" ;;\n'
                    '  *" print-lazy-libs "*) exec /usr/bin/make -s --no-print-directory -C %s '
                    'print-lazy-libs ;; esac\n' % (log, PRENV, ROOT))
        os.chmod(os.path.join(bin_dir, "make"), stat.S_IRWXU)
        with open(os.path.join(self.ws, ".prenv.yml"), "w") as f:
            f.write(CONFIG)
        env = dict(UBUNTU24, **LOCAL, PATH=bin_dir + os.pathsep + os.environ["PATH"])
        run = ActionRun(self, self.action, env=env, cwd=self.ws, cache_hit="false")
        r = run.run()
        self.assertEqual(0, r.returncode, r.stdout + r.stderr)
        self.assertEqual([], run.skipped)
        calls = slurp(log).splitlines()
        self.assertEqual(3, len(calls), calls)
        self.assertIn("deps-build", calls[0])
        self.assertIn("libcheck all", calls[1])
        self.assertIn("print-lazy-libs", calls[2])   # the dlopen'ed libraries
        self.assertIn("-rpath,\\$$ORIGIN/lib", calls[1])   # make turns it into $ORIGIN/lib
        libs = os.listdir(os.path.join(self.action, "build", "lib"))
        self.assertTrue(any(n.startswith("libgit2.so") for n in libs), libs)
        self.assertTrue(any(n.startswith("libcurl") for n in libs), libs)
        self.assertFalse(any(n.startswith(("libc.so", "ld-linux")) for n in libs), libs)
        for p in run.cache_with["path"].split():
            self.assertTrue(os.path.exists(p), p)
        self.assertEqual("ready", run.steps["run"].get("status"), run.steps["run"])

    # --- the configuration --------------------------------------------------
    def test_an_empty_config_input_lets_prenv_find_prenv_yaml(self):
        self.assertEqual("", self.doc["inputs"]["config"].get("default", ""))
        with open(os.path.join(self.ws, ".prenv.yaml"), "w") as f:
            f.write(CONFIG)
        self.binary()
        run = ActionRun(self, self.action, env=dict(UBUNTU24, **LOCAL), cwd=self.ws)
        r = run.run()
        self.assertEqual(0, r.returncode, r.stdout + r.stderr)
        self.assertTrue(os.path.exists(os.path.join(self.ws, "deployed.txt")), r.stderr)
        out = run.steps["run"]
        self.assertEqual("feat", out.get("environment"), out)
        self.assertEqual("ready", out.get("status"), out)

    def test_a_config_input_is_passed_as_is(self):
        self.assertEqual(["-c", "deploy/prenv.yml", "deploy"], self.args({"config": "deploy/prenv.yml"}))
        self.assertEqual(["deploy"], self.args({}))

    # --- the flags ----------------------------------------------------------
    def test_verbose_dry_run_and_strict_report_reach_prenv(self):
        on = self.args({"verbose": "true", "dry-run": "true", "strict-report": "true"})
        self.assertEqual("deploy", on[-1])
        for flag in ("-v", "--dry-run", "--strict-report"):
            self.assertIn(flag, on)
        off = self.args({"verbose": "false", "dry-run": "false", "strict-report": "false",
                         "command": "destroy"})
        self.assertEqual(["destroy"], off)
        self.assertEqual(["--dry-run", "status"], self.args({"dry-run": "true", "command": "status"}))

    def test_a_flag_that_is_not_true_or_false_is_refused(self):
        self.binary(recorder=True)
        r = ActionRun(self, self.action, inputs={"dry-run": "yes"}, cwd=self.ws).run()
        self.assertEqual(2, r.returncode)
        self.assertIn("::error::input 'dry-run' must be true or false", r.stdout)
        self.assertFalse(os.path.exists(os.path.join(self.action, "build", "prenv.args")))

    def test_the_real_binary_takes_the_flags(self):
        with open(os.path.join(self.ws, ".prenv.yml"), "w") as f:
            f.write(CONFIG)
        self.binary()
        r = ActionRun(self, self.action, env=dict(UBUNTU24, **LOCAL), cwd=self.ws,
                      inputs={"verbose": "true", "dry-run": "true", "strict-report": "true"}).run()
        self.assertEqual(0, r.returncode, r.stdout + r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.ws, "deployed.txt")), "dry-run deployed")

    # --- forks ----------------------------------------------------------------
    def test_the_forks_input_decides_for_a_fork_pr(self):
        self.assertEqual(["--forks", "deploy", "deploy"], self.args({"forks": "deploy"}))
        with open(os.path.join(self.ws, ".prenv.yml"), "w") as f:
            f.write(CONFIG)   # forks: skip, the default
        self.binary()
        fork = dict(UBUNTU24, **LOCAL, PRENV_PR="7", PRENV_PR_FORK="true", PRENV_PR_STATE="open")
        run = ActionRun(self, self.action, env=fork, cwd=self.ws)
        r = run.run()
        self.assertEqual(0, r.returncode, r.stdout + r.stderr)
        self.assertEqual("skipped", run.steps["run"].get("status"), run.steps["run"])
        self.assertFalse(os.path.exists(os.path.join(self.ws, "deployed.txt")))
        run = ActionRun(self, self.action, env=fork, cwd=self.ws, inputs={"forks": "deploy"})
        r = run.run()
        self.assertEqual(0, r.returncode, r.stdout + r.stderr)
        self.assertEqual("pr-7", run.steps["run"].get("environment"), run.steps["run"])
        self.assertTrue(os.path.exists(os.path.join(self.ws, "deployed.txt")), r.stderr)

    def test_the_fork_deploy_example_says_forks_deploy(self):
        with open(os.path.join(ROOT, "ci-examples", "github", "preview-fork-deploy.yml")) as f:
            wf = yaml.safe_load(f)
        uses = [s for j in wf["jobs"].values() for s in j["steps"]
                if "prenv" in s.get("uses", "")]
        self.assertTrue(uses)
        for s in uses:
            self.assertEqual("deploy", s.get("with", {}).get("forks"), s)
        with open(os.path.join(ROOT, "ci-examples", "github", "preview.yml")) as f:
            wf = yaml.safe_load(f)
        for j in wf["jobs"].values():
            for s in j["steps"]:
                self.assertNotEqual("deploy", (s.get("with") or {}).get("forks"), s)


ASSET = "prenv-linux-x86_64"
REPO = "acme/prenv"


def slurp(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class FakeRelease:
    """A fake release: a local directory laid out as GitHub serves release
    assets (/OWNER/REPO/releases/download/TAG/NAME), served over HTTP by
    python's http.server on 127.0.0.1. The binary of the release is the one
    under test (PRENV_BIN)."""
    TAG = "v9.8.7"

    def setUp(self):
        self.action = tmpdir(self)
        os.makedirs(os.path.join(self.action, "build"))
        self.ws = tmpdir(self)
        with open(os.path.join(self.ws, ".prenv.yml"), "w") as f:
            f.write(CONFIG)
        self.www = tmpdir(self)
        self.rel = os.path.join(self.www, REPO, "releases", "download", self.TAG)
        os.makedirs(self.rel)
        self.log = os.path.join(self.www, "..server.log")
        self.url = self.serve()

    def serve(self):
        logf = open(self.log, "w")
        srv = subprocess.Popen([sys.executable, "-u", "-m", "http.server", "--bind", "127.0.0.1",
                                "--directory", self.www, "0"], stdout=subprocess.PIPE,
                               stderr=logf, text=True)

        def stop():
            srv.terminate()
            srv.wait(10)
            srv.stdout.close()
            logf.close()
        self.addCleanup(stop)
        m = re.search(r"port (\d+)", srv.stdout.readline())
        self.assertIsNotNone(m, "http.server did not say its port")
        return "http://127.0.0.1:%s" % m.group(1)

    def publish(self, sums=None):
        """The release: the binary under test and its SHA256SUMS (or sums)."""
        shutil.copy(PRENV, os.path.join(self.rel, ASSET))
        with open(os.path.join(self.rel, "SHA256SUMS"), "w") as f:
            f.write(sums if sums is not None else
                    "%s  %s\n" % (sha256(os.path.join(self.rel, ASSET)), ASSET))



class ActionReleaseTest(FakeRelease, unittest.TestCase):
    """The action's install path against the fake release, whose server is
    GITHUB_SERVER_URL."""
    def run_action(self, ref=FakeRelease.TAG, env=None, cache_hit="false", **kw):
        env = dict(UBUNTU24, **LOCAL, GITHUB_SERVER_URL=self.url, **(env or {}))
        run = ActionRun(self, self.action, env=env, cwd=self.ws, cache_hit=cache_hit,
                        github={"action_ref": ref, "action_repository": REPO},
                        **kw)
        return run, run.run()

    def installed(self):
        return os.path.join(self.action, "build", "prenv")

    def test_a_matching_release_is_installed_and_nothing_is_built(self):
        self.publish()
        run, r = self.run_action()
        self.assertEqual(0, r.returncode, r.stdout + r.stderr)
        self.assertEqual("true", run.steps["release"].get("installed"), run.steps)
        self.assertEqual(sha256(PRENV), sha256(self.installed()))
        self.assertTrue(os.access(self.installed(), os.X_OK))
        # nothing else ran but the prenv step: no cache, no apt-get, no make
        self.assertEqual(["Download the release binary", "Run prenv"], run.ran)
        self.assertEqual("ready", run.steps["run"].get("status"), run.steps["run"])
        log = slurp(self.log)
        for name in ("SHA256SUMS", ASSET):
            self.assertIn("GET /%s/releases/download/%s/%s " % (REPO, self.TAG, name), log)
        secs = run.seconds["release"]
        sys.stderr.write("\n  install from the release: %.2f s (%d bytes)\n"
                         % (secs, os.path.getsize(PRENV)))

    def test_a_checksum_mismatch_is_refused(self):
        self.publish(sums="%s  %s\n" % ("0" * 64, ASSET))
        run, r = self.run_action()
        self.assertNotEqual(0, r.returncode)
        self.assertIn("::error::prenv: checksum mismatch for %s/%s/releases/download/%s/%s"
                      % (self.url, REPO, self.TAG, ASSET), r.stdout)
        self.assertIn("SHA256SUMS says " + "0" * 64, r.stdout)
        self.assertFalse(os.path.exists(self.installed()), "the mismatching binary was installed")
        self.assertEqual(["Download the release binary"], run.ran)   # no build, no run

    def test_a_release_without_a_line_for_the_binary_is_refused(self):
        self.publish(sums="%s  prenv-linux-aarch64\n" % ("1" * 64))
        run, r = self.run_action()
        self.assertNotEqual(0, r.returncode)
        self.assertIn("SHA256SUMS has no line for " + ASSET, r.stdout)
        self.assertFalse(os.path.exists(self.installed()))

    def fake_make(self):
        """make stands in for the source build: it records its arguments and
        puts the binary under test in place (test_a_miss_... above)."""
        bin_dir = tmpdir(self)
        log = os.path.join(bin_dir, "make.log")
        with open(os.path.join(bin_dir, "make"), "w") as f:
            f.write('#!/bin/sh\nprintf "%%s\\n" "$*" >> %s\n'
                    'case " $* " in *" all "*) cp %s "$2/build/prenv" ;; esac\n' % (log, PRENV))
        os.chmod(os.path.join(bin_dir, "make"), stat.S_IRWXU)
        return {"PATH": bin_dir + os.pathsep + os.environ["PATH"]}, log

    def assertBuiltFromSource(self, run, r, log):
        self.assertEqual(0, r.returncode, r.stdout + r.stderr)
        self.assertEqual("false", run.steps["release"].get("installed"), run.steps)
        calls = slurp(log).splitlines()
        self.assertTrue(any("deps-build" in c for c in calls), calls)
        self.assertTrue(any("libcheck all" in c for c in calls), calls)
        self.assertEqual("ready", run.steps["run"].get("status"), run.steps["run"])

    def test_no_release_for_the_ref_builds_from_source(self):
        self.publish()   # v9.8.7 exists; the action runs from another tag
        env, log = self.fake_make()
        run, r = self.run_action(ref="v1.0.0", env=env)
        self.assertBuiltFromSource(run, r, log)
        self.assertIn("GET /%s/releases/download/v1.0.0/SHA256SUMS " % REPO, slurp(self.log))
        self.assertIn("Build prenv", run.ran)

    def test_a_branch_or_a_local_action_builds_from_source(self):
        env, log = self.fake_make()
        for ref in ("main", ""):
            with self.subTest(ref=ref):
                open(log, "w").close()
                run, r = self.run_action(ref=ref, env=env)
                self.assertBuiltFromSource(run, r, log)
                self.assertIn("Build prenv", run.ran)

    def test_no_binary_for_another_architecture(self):
        self.publish()
        env, log = self.fake_make()
        env["RUNNER_ARCH"] = "ARM64"
        run, r = self.run_action(env=env)
        self.assertBuiltFromSource(run, r, log)
        self.assertNotIn("releases/download", slurp(self.log))


class ExampleInstallTest(FakeRelease, unittest.TestCase):
    """The GitLab and Jenkins examples install the same release binary with a
    pinned checksum line: their install scripts, taken from the examples and
    run by sh against the fake release."""
    def gitlab_script(self):
        with open(os.path.join(ROOT, "ci-examples", "gitlab", ".gitlab-ci.yml")) as f:
            ci = yaml.safe_load(f)
        self.assertTrue(ci["variables"]["PRENV_RELEASE"].endswith("/releases/download/v0.1.0"))
        return "\n".join(ci[".prenv"]["before_script"])

    def jenkins_script(self):
        with open(os.path.join(ROOT, "ci-examples", "jenkins", "Jenkinsfile")) as f:
            text = f.read()
        m = re.search(r"stage\('Install prenv'\).*?sh '''(.*?)'''", text, re.S)
        self.assertIsNotNone(m, "the Jenkinsfile has no Install prenv stage")
        self.assertIn("PRENV_RELEASE = 'https://", text)
        return m.group(1)

    def install(self, script, sha):
        work = tmpdir(self)
        bindir = os.path.join(work, "bin")
        os.makedirs(bindir)
        # a PATH without prenv (the GitLab script installs only when missing)
        path = os.pathsep.join(d for d in os.environ["PATH"].split(os.pathsep)
                               if not os.path.exists(os.path.join(d, "prenv")))
        env = clean_env(PATH=path, PRENV_RELEASE="%s/%s/releases/download/%s" % (self.url, REPO, self.TAG),
                        PRENV_SHA256=sha, PRENV_INSTALL_DIR=bindir)
        t0 = time.monotonic()
        r = subprocess.run(["sh", "-e", "-c", script], env=env, cwd=work, capture_output=True,
                           text=True, timeout=60)
        secs = time.monotonic() - t0
        found = [p for p in (os.path.join(bindir, "prenv"), os.path.join(work, ".prenv-bin", "prenv"))
                 if os.path.exists(p)]
        return r, found, secs

    def test_the_examples_install_the_release_binary_with_its_checksum(self):
        self.publish()
        for name, script in (("gitlab", self.gitlab_script()), ("jenkins", self.jenkins_script())):
            with self.subTest(example=name):
                r, found, secs = self.install(script, sha256(PRENV))
                self.assertEqual(0, r.returncode, r.stdout + r.stderr)
                self.assertEqual(1, len(found), found)
                self.assertEqual(sha256(PRENV), sha256(found[0]))
                v = subprocess.run([found[0], "version"], capture_output=True, text=True, timeout=30)
                self.assertEqual(0, v.returncode, v.stderr)
                sys.stderr.write("\n  %s: installed in %.2f s\n" % (name, secs))

    def test_the_examples_refuse_a_checksum_mismatch(self):
        self.publish()
        for name, script in (("gitlab", self.gitlab_script()), ("jenkins", self.jenkins_script())):
            with self.subTest(example=name):
                r, found, _ = self.install(script, "f" * 64)
                self.assertNotEqual(0, r.returncode)
                self.assertIn("prenv: checksum mismatch for", r.stderr)
                self.assertIn("PRENV_SHA256 is " + "f" * 64, r.stderr)
                self.assertEqual([], found)

    def test_the_examples_fail_without_a_release(self):
        for name, script in (("gitlab", self.gitlab_script()), ("jenkins", self.jenkins_script())):
            with self.subTest(example=name):
                r, found, _ = self.install(script, sha256(PRENV))
                self.assertNotEqual(0, r.returncode)
                self.assertEqual([], found)


if __name__ == "__main__":
    unittest.main()
