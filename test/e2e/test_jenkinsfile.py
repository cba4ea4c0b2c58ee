"""ci-examples/jenkins/Jenkinsfile, read statically (there is no Jenkins
here): the properties a multibranch pipeline needs so that previews behave.

- In a multibranch project every branch and change-request job runs this
  Jenkinsfile and registers its `triggers`: an unguarded cron would rebuild
  every PR job on the timer (its preview redeployed every 6 h, its TTL never
  reached). The cron spec must be empty except on main, and the deploy stage
  must not run on a timer build.
- gc runs on main's timer builds only (`branch 'main'` + `triggeredBy
  'TimerTrigger'`).
- A kubeconfig is a "Secret file" credential: `file(credentialsId: ...,
  variable: 'KUBECONFIG')` gives a path, which prenv reads as kubectl does
  (PRENV_KUBECONFIG takes content, not a path). A token is "Secret text":
  `string(...)`.
- `disableConcurrentBuilds()`: two builds of one change request never deploy
  or destroy its preview at the same time.

Each check is also run on a broken copy, so that it is not vacuous."""
import os
import re
import unittest

from util import ROOT

JENKINSFILE = os.path.join(ROOT, "ci-examples", "jenkins", "Jenkinsfile")
KUBECONFIG_ID = "preview-kubeconfig"
TOKEN_ID = "code-host-token"
GUARDED_CRON = re.compile(r"""cron\(\s*env\.BRANCH_NAME\s*==\s*['"]main['"]\s*\?\s*['"][^'"]+['"]\s*:\s*(''|"")\s*\)""")


def strip_comments(text):
    """The Groovy text without // and /* */ comments (quotes respected)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c in "'\"":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("//", i):
            while i < n and text[i] != "\n":
                i += 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def block(text, start):
    """The text between the brace at or after `start` and its match."""
    i = text.index("{", start)
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1:j]
    raise ValueError("unbalanced braces after offset %d" % start)


def section(text, name):
    m = re.search(r"\b%s\s*\{" % name, text)
    return block(text, m.start()) if m else None


def stages(text):
    """{stage name: body} of the top-level stages."""
    return {m.group(2): block(text, m.end() - 1)
            for m in re.finditer(r"""\bstage\(\s*(['"])(.*?)\1\s*\)\s*\{""", text)}


def problems(jenkinsfile):
    """What is wrong with a Jenkinsfile's text; [] when nothing."""
    text = strip_comments(jenkinsfile)
    out = []
    triggers = section(text, "triggers") or ""
    crons = re.findall(r"\bcron\s*\(", triggers)
    if not crons:
        out.append("no cron trigger: nothing runs prenv gc")
    if len(GUARDED_CRON.findall(triggers)) != len(crons):
        out.append("a cron trigger is not limited to main: cron(env.BRANCH_NAME == 'main' ? '...' : '')")
    if re.search(r"\b(pollSCM|upstream|parameterizedCron)\s*\(", triggers):
        out.append("a trigger other than the guarded cron")
    options = section(text, "options") or ""
    if not re.search(r"\bdisableConcurrentBuilds\s*\(", options):
        out.append("options { disableConcurrentBuilds() } is missing")
    if re.search(r"""\b(string|usernamePassword|certificate)\s*\(\s*credentialsId:\s*['"]%s['"]""" % KUBECONFIG_ID, text) \
            or re.search(r"""credentials\(\s*['"]%s['"]\s*\)""" % KUBECONFIG_ID, text):
        out.append("the kubeconfig (a Secret file) is bound as something else than file(...)")
    if re.search(r"""\b(file|usernamePassword|certificate)\s*\(\s*credentialsId:\s*['"]%s['"]""" % TOKEN_ID, text):
        out.append("the token (Secret text) is bound as something else than string(...)")
    if re.search(r"""credentials\(\s*['"]%s['"]\s*\)""" % TOKEN_ID, section(text, "environment") or ""):
        out.append("the token is in every step's environment (the build's too): bind it with string(...) "
                   "around the prenv steps")
    kube = re.compile(r"""\bfile\(\s*credentialsId:\s*['"]%s['"]\s*,\s*variable:\s*['"]KUBECONFIG['"]\s*\)""" % KUBECONFIG_ID)
    token = re.compile(r"""\bstring\(\s*credentialsId:\s*['"]%s['"]\s*,\s*variable:\s*['"]PRENV_(GITHUB|GITLAB)_TOKEN['"]\s*\)""" % TOKEN_ID)
    seen = set()
    for name, body in stages(text).items():
        m = re.search(r"\bprenv\s+(deploy|destroy|gc)\b", body)
        if not m:
            continue
        cmd = m.group(1)
        seen.add(cmd)
        when = section(body, "when") or ""
        if not kube.search(body):
            out.append("stage %r: no file(credentialsId: '%s', variable: 'KUBECONFIG')" % (name, KUBECONFIG_ID))
        if not token.search(body):
            out.append("stage %r: no string(credentialsId: '%s', variable: 'PRENV_GITHUB_TOKEN')" % (name, TOKEN_ID))
        if cmd == "gc":
            if not re.search(r"""\bbranch\s*\(?\s*['"]main['"]""", when):
                out.append("stage %r runs prenv gc on other branches than main" % name)
            if "triggeredBy 'TimerTrigger'" not in when:
                out.append("stage %r runs prenv gc on builds other than the timer's" % name)
        else:
            if "changeRequest()" not in when:
                out.append("stage %r runs prenv %s outside change requests" % (name, cmd))
        if cmd == "deploy" and not re.search(r"not\s*\{\s*triggeredBy\s+'TimerTrigger'\s*\}", when):
            out.append("stage %r redeploys on timer builds" % name)
    for cmd in ("deploy", "destroy", "gc"):
        if cmd not in seen:
            out.append("no stage runs prenv %s" % cmd)
    return out


class JenkinsfileTest(unittest.TestCase):
    def setUp(self):
        with open(JENKINSFILE, encoding="utf-8") as f:
            self.text = f.read()

    def test_jenkinsfile_multibranch_properties(self):
        self.assertEqual([], problems(self.text))

    def assertBroken(self, old, new, what):
        self.assertIn(old, self.text)
        found = problems(self.text.replace(old, new))
        self.assertTrue(any(what in p for p in found), found)

    def test_jenkinsfile_checks_catch_errors(self):
        m = GUARDED_CRON.search(self.text)
        self.assertIsNotNone(m)
        self.assertBroken(m.group(0), "cron('H */6 * * *')", "not limited to main")
        self.assertBroken("disableConcurrentBuilds()", "", "disableConcurrentBuilds")
        self.assertBroken("file(credentialsId: '%s'" % KUBECONFIG_ID, "string(credentialsId: '%s'" % KUBECONFIG_ID,
                          "kubeconfig")
        self.assertBroken("string(credentialsId: '%s'" % TOKEN_ID, "file(credentialsId: '%s'" % TOKEN_ID, "token")
        self.assertBroken("branch 'main'", "branch 'develop'", "prenv gc on other branches")
        self.assertBroken("not { triggeredBy 'TimerTrigger' }", "not { triggeredBy 'UserIdCause' }",
                          "redeploys on timer")
        # Comments do not count.
        self.assertBroken("disableConcurrentBuilds()", "// disableConcurrentBuilds()", "disableConcurrentBuilds")


if __name__ == "__main__":
    unittest.main()
