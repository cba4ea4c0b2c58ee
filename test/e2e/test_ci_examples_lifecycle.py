"""The lifecycle jobs of ci-examples/ agree with the rules (issue 14 items 4
and 5): GitLab's auto_stop_in is the pull_request rule's TTL, its stop job
runs without a checkout, a scheduled pipeline runs prenv gc; Jenkins and
GitHub run gc often enough for the rules' awake windows (every 30 minutes
at most); the two-cluster GitHub workflow gives a pull request's job the
preview kubeconfig only, and gc both."""
import os
import re
import unittest

import yaml

from util import ROOT

EX = os.path.join(ROOT, "ci-examples")
UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400}


def load(*parts):
    with open(os.path.join(EX, *parts)) as f:
        return yaml.safe_load(f)


def gitlab_seconds(text):
    """GitLab's auto_stop_in ("3 days", "1 week", "72 hours") in seconds."""
    total = 0
    for n, unit in re.findall(r"(\d+)\s*([a-z]+?)s?\b", text):
        total += int(n) * UNITS[unit]
    return total


def prenv_seconds(text):
    total = 0
    for n, unit in re.findall(r"(\d+)([dhms])", text):
        total += int(n) * {"d": 86400, "h": 3600, "m": 60, "s": 1}[unit]
    return total


def cron_minutes_apart(spec):
    """The longest gap in minutes of a cron spec's minute and hour fields
    (H/15 -> 15, */30 -> 30, 'H */6' -> 360)."""
    minute, hour = spec.split()[:2]
    m = re.fullmatch(r"(?:H|\*)/(\d+)", minute)
    step = int(m.group(1)) if m else 60
    h = re.fullmatch(r"(?:H|\*)/(\d+)", hour)
    if hour != "*":
        return 60 * (int(h.group(1)) if h else 24)
    return step


class CiExamplesLifecycleTest(unittest.TestCase):
    def test_gitlab_auto_stop_in_is_the_rule_ttl_stop_without_checkout_scheduled_gc(self):
        ci = load("gitlab", ".gitlab-ci.yml")
        cfg = load("gitlab", ".prenv.yml")
        rule = [r for r in cfg["environments"] if r.get("pull_request") is True][0]
        env = ci["deploy_review"]["environment"]
        self.assertEqual(prenv_seconds(rule["ttl"]), gitlab_seconds(env["auto_stop_in"]))
        stop = ci[env["on_stop"]]
        self.assertEqual("none", stop["variables"]["GIT_STRATEGY"])
        self.assertEqual("stop", stop["environment"]["action"])
        self.assertIn("prenv destroy", " ".join(stop["script"]))
        gc = ci["prenv_gc"]
        self.assertIn("prenv gc", " ".join(gc["script"]))
        self.assertEqual(['$CI_PIPELINE_SOURCE == "schedule"'], [r["if"] for r in gc["rules"]])

    def test_jenkins_gc_often_enough_for_awake_windows(self):
        with open(os.path.join(EX, "jenkins", "Jenkinsfile")) as f:
            text = f.read()
        spec = re.search(r"cron\(env\.BRANCH_NAME == 'main' \? '([^']+)'", text).group(1)
        self.assertLessEqual(cron_minutes_apart(spec), 30, spec)
        self.assertIn("prenv gc", text)

    def test_github_gc_schedules(self):
        for name in ("preview-gc.yml", "two-clusters.yml"):
            wf = load("github", name)
            on = wf.get("on", wf.get(True))  # YAML 1.1 reads `on` as true
            crons = [c["cron"] for c in on["schedule"]]
            self.assertTrue(crons and all(cron_minutes_apart(c) <= 30 for c in crons), (name, crons))

    def test_github_two_clusters_secrets_per_kind(self):
        jobs = load("github", "two-clusters.yml")["jobs"]
        self.assertEqual({"PRENV_KUBECONFIG_PREVIEW"}, set(jobs["preview"]["env"]))
        self.assertEqual({"PRENV_KUBECONFIG_PRODUCTION"}, set(jobs["production"]["env"]))
        self.assertEqual({"PRENV_KUBECONFIG_PREVIEW", "PRENV_KUBECONFIG_PRODUCTION"}, set(jobs["gc"]["env"]))
        self.assertIn("secrets.PREVIEW_KUBECONFIG", jobs["preview"]["env"]["PRENV_KUBECONFIG_PREVIEW"])
        self.assertIn("secrets.PRODUCTION_KUBECONFIG", jobs["gc"]["env"]["PRENV_KUBECONFIG_PRODUCTION"])
        self.assertEqual("gc", jobs["gc"]["steps"][-1]["with"]["command"])


if __name__ == "__main__":
    unittest.main()
