"""action.yml and the CI examples validate against SchemaStore's schemas
(shared/refdata/schemas/), with Debian's python3-jsonschema."""
import copy
import glob
import json
import os
import unittest

import jsonschema
import yaml

from util import ROOT, REFDATA


def load_schema(name):
    with open(os.path.join(REFDATA, "schemas", name), encoding="utf-8") as f:
        return json.load(f)


def load_yaml(path):
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    # PyYAML (YAML 1.1) reads the key `on:` as the boolean True; GitHub
    # reads it as the string "on".
    if isinstance(doc, dict) and True in doc:
        doc["on"] = doc.pop(True)
    return doc


def errors(schema, doc):
    cls = jsonschema.validators.validator_for(schema)
    v = cls(schema, format_checker=None)
    return sorted(v.iter_errors(doc), key=lambda e: list(e.absolute_path))


class SchemaTest(unittest.TestCase):
    def assertValid(self, schema, path):
        doc = load_yaml(path)
        errs = errors(schema, doc)
        self.assertEqual([], ["%s: %s at %s" % (os.path.relpath(path, ROOT), e.message,
                                                 "/".join(map(str, e.absolute_path)))
                              for e in errs])

    def test_action_yml_valid(self):
        self.assertValid(load_schema("github-action.json"), os.path.join(ROOT, "action.yml"))

    def test_action_yml_schema_catches_errors(self):
        # The check is not vacuous: a broken action fails it.
        schema = load_schema("github-action.json")
        doc = load_yaml(os.path.join(ROOT, "action.yml"))
        bad = copy.deepcopy(doc)
        bad["runs"]["using"] = "composite-ish"
        self.assertTrue(errors(schema, bad))
        bad = copy.deepcopy(doc)
        del bad["runs"]["steps"][0]["shell"]
        self.assertTrue(errors(schema, bad))

    def test_action_outputs_and_inputs(self):
        doc = load_yaml(os.path.join(ROOT, "action.yml"))
        self.assertEqual({"command", "config", "kubeconfig", "token", "wait", "forks", "verbose",
                          "dry-run", "strict-report"}, set(doc["inputs"]))
        self.assertEqual({"url", "environment", "namespace", "status"}, set(doc["outputs"]))
        self.assertEqual("${{ github.token }}", doc["inputs"]["token"]["default"])

    def test_github_workflows_valid(self):
        schema = load_schema("github-workflow.json")
        files = sorted(glob.glob(os.path.join(ROOT, "ci-examples", "github", "*.yml")))
        self.assertGreaterEqual(len(files), 3)
        files.append(os.path.join(ROOT, ".github", "workflows", "release.yml"))
        for f in files:
            with self.subTest(f=f):
                self.assertValid(schema, f)

    def test_github_workflow_schema_catches_errors(self):
        schema = load_schema("github-workflow.json")
        doc = load_yaml(os.path.join(ROOT, "ci-examples", "github", "preview.yml"))
        bad = copy.deepcopy(doc)
        bad["permissions"]["pull-requests"] = "maybe"
        self.assertTrue(errors(schema, bad))

    def test_gitlab_ci_valid(self):
        schema = load_schema("gitlab-ci.json")
        self.assertValid(schema, os.path.join(ROOT, "ci-examples", "gitlab", ".gitlab-ci.yml"))

    def test_gitlab_ci_schema_catches_errors(self):
        schema = load_schema("gitlab-ci.json")
        doc = load_yaml(os.path.join(ROOT, "ci-examples", "gitlab", ".gitlab-ci.yml"))
        bad = copy.deepcopy(doc)
        bad["deploy_review"]["environment"]["action"] = "explode"
        self.assertTrue(errors(schema, bad))


if __name__ == "__main__":
    unittest.main()
