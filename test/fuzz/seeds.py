#!/usr/bin/env python3
"""seeds.py - gathers seed inputs for the fuzz targets from the fixtures.

    python3 test/fuzz/seeds.py OUTDIR

writes OUTDIR/<target>/<name> for fuzz_config, fuzz_ci, fuzz_kubeconfig,
fuzz_yaml and fuzz_tmpl from what the repository and the test data hold:

  config      test/fixtures/config/*.yml, ci-examples/**/.prenv.yml, the
              README's .prenv.yml example, and the configs below
  ci          test/fixtures/github-events/*.json, ../shared/refdata/github/
              webhook-payloads, build/npm's @octokit/webhooks-examples (run
              test/fetch-fixtures.sh; skipped when missing); one byte in
              front picks the event (see fuzz_ci.c)
  kubeconfig  the shapes test/unit/test_kubeconfig.c and
              test/servers/k8s_harness.py write, raw, as JSON and as base64
  yaml        all of the above that is YAML, and templates/**/*.yaml
  tmpl        templates/**/*.yaml after a JSON data line

These are raw seeds: a campaign starts from them and the committed corpus
(test/fuzz/corpus/<target>), and `-merge=1` keeps the inputs that add
coverage (see test/fuzz/README.md). Standard library only.
"""
import base64
import glob
import json
import os
import re
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
REFDATA = os.environ.get("PRENV_REFDATA", os.path.join(ROOT, "..", "shared", "refdata"))
NPM_INDEX = os.path.join(ROOT, "build/npm/node_modules/@octokit/webhooks-examples/"
                         "api.github.com/index.json")
# fuzz_ci.c's fz_events[], in order (the low three bits of the first byte).
EVENTS = ["pull_request", "pull_request_target", "push", "delete",
          "workflow_run", "workflow_dispatch", "issue_comment", "create"]
FALLBACK_VARS = 8  # bit 3: GITHUB_REF, GITHUB_SHA, GITHUB_REPOSITORY set

CONFIGS = {
    "kubernetes-min": "app: shop\nprovider:\n  kind: kubernetes\nenvironments:\n  - pull_request: true\n",
    "pages-git": "app: docs\nprovider:\n  kind: pages\n  source: site\n"
                 "  target: git:https://github.com/o/r.git#gh-pages:previews\n"
                 "  commit_message: \"preview {{env.name}}\"\n  author: \"Bot <bot@example.com>\"\n"
                 "environments:\n  - branch: main\n    name: main\n    kind: staging\n",
    "command-all": "version: 1\napp: api\nforks: deploy\nurl: \"https://{{env.name}}.x\"\n"
                   "provider:\n  kind: command\n  deploy: [./deploy.sh, \"{{env.name}}\"]\n"
                   "  destroy: [./destroy.sh]\n  status: [./status.sh]\n  timeout: 1h30m\n"
                   "  env:\n    A: b\nvalues:\n  db:\n    host: \"db-{{env.name}}\"\n"
                   "environments:\n  - pull_request: true\n    ttl: 2d\n"
                   "  - branch: \"release/**\"\n    protected: true\n    kind: production\n",
    "flow": "{app: x, provider: {kind: kubernetes, wait: 0, labels: {a: b}}, "
            "environments: [{pull_request: false, branch: 'feat/*', name: 'f-{{branch}}'}]}\n",
    "errors": "app: Shop_1\nprovider:\n  kind: kubernets\n  wiat: 5x\nenvironments: []\n",
    "anchor": "app: &a shop\nprovider: {kind: command, deploy: [*a]}\nenvironments: [{}]\n",
}

KC_YAML = {
    "token": "apiVersion: v1\nkind: Config\ncurrent-context: ctx-a\n"
             "clusters:\n- name: shared\n  cluster:\n    server: https://a.example:6443/\n"
             "    certificate-authority: ca.crt\n"
             "- name: only-a\n  cluster:\n    server: https://only-a.example\n"
             "    insecure-skip-tls-verify: true\n"
             "users:\n- name: u\n  user:\n    token: token-from-file-a\n"
             "contexts:\n- name: ctx-a\n  context:\n    cluster: shared\n    user: u\n"
             "    namespace: team-a\n- name: ctx-only-a\n  context:\n    cluster: only-a\n"
             "    user: u\n",
    "data": "clusters: [{name: c, cluster: {server: 'https://ci.example', "
            "certificate-authority-data: 'UEVNIQ=='}}]\n"
            "users: [{name: u, user: {token: ci-secret-token, client-certificate-data: 'Q0VSVA==', "
            "client-key-data: 'S0VZIQ=='}}]\n"
            "contexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n",
    "files": "clusters: [{name: c, cluster: {server: 'https://c.example', certificate-authority: ca.crt}}]\n"
             "users: [{name: u, user: {client-certificate: client.crt, client-key: client.key}},"
             " {name: t, user: {tokenFile: token}}]\n"
             "contexts: [{name: c, context: {cluster: c, user: u}}, {name: t, context: {cluster: c, user: t}}]\n"
             "current-context: t\n",
    "exec": "clusters: [{name: c, cluster: {server: 'http://x', certificate-authority-data: 'UEVNIQ=='}}]\n"
            "users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1, "
            "command: ./plugin.sh, args: [get-token, --x], env: [{name: API, value: v1}], "
            "provideClusterInfo: true, interactiveMode: IfAvailable, installHint: 'install it'}}}]\n"
            "contexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n",
    "refused": "clusters:\n- name: c\n  cluster: {server: 'ftp://x'}\n"
               "users:\n- name: u\n  user: {username: a, password: b, auth-provider: {name: gcp}}\n"
               "contexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\n",
    "home": "clusters: [{name: h, cluster: {server: 'http://home.example'}}]\n"
            "contexts: [{name: h, context: {cluster: h}}]\ncurrent-context: h\n",
}


def write(outdir, target, name, data):
    d = os.path.join(outdir, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def ci_seed(event, payload, fallback=False):
    b = EVENTS.index(event) | (FALLBACK_VARS if fallback else 0)
    return bytes([b]) + payload


def event_of(name):
    for ev in sorted(EVENTS, key=len, reverse=True):
        if name.startswith(ev):
            return ev
    return "push"


def gather_ci(outdir):
    n = 0
    for p in sorted(glob.glob(os.path.join(ROOT, "test/fixtures/github-events/*.json"))):
        name = os.path.basename(p)
        with open(p, "rb") as f:
            data = f.read()
        write(outdir, "fuzz_ci", "fixture-" + name, ci_seed(event_of(name), data))
        write(outdir, "fuzz_ci", "fixture-vars-" + name, ci_seed(event_of(name), data, True))
        n += 2
    for p in sorted(glob.glob(os.path.join(REFDATA, "github/webhook-payloads/*/*.json"))):
        kind = os.path.basename(os.path.dirname(p))
        with open(p, "rb") as f:
            data = f.read()
        ev = kind if kind in EVENTS else "push"
        write(outdir, "fuzz_ci", "refdata-%s-%s" % (kind, os.path.basename(p)), ci_seed(ev, data))
        n += 1
    if os.path.exists(NPM_INDEX):
        with open(NPM_INDEX) as f:
            index = json.load(f)
        for entry in index:
            if entry["name"] not in EVENTS:
                continue
            for i, ex in enumerate(entry["examples"]):
                data = json.dumps(ex, separators=(",", ":")).encode()
                write(outdir, "fuzz_ci", "npm-%s-%d" % (entry["name"], i),
                      ci_seed(entry["name"], data, i % 2 == 1))
                # pull_request_target carries the pull_request payload
                if entry["name"] == "pull_request" and i < 3:
                    write(outdir, "fuzz_ci", "npm-pull_request_target-%d" % i,
                          ci_seed("pull_request_target", data))
                n += 1
    else:
        print("seeds: %s missing (sh test/fetch-fixtures.sh): npm payloads skipped" % NPM_INDEX)
    return n


def gather_config(outdir):
    texts = {}
    for p in sorted(glob.glob(os.path.join(ROOT, "test/fixtures/config/*.yml"))):
        texts["fixture-" + os.path.basename(p)] = open(p).read()
    for p in sorted(glob.glob(os.path.join(ROOT, "ci-examples/**/.prenv.yml"), recursive=True)):
        texts["example-" + os.path.basename(os.path.dirname(p))] = open(p).read()
    readme = open(os.path.join(ROOT, "README.md")).read()
    for i, b in enumerate(re.findall(r"```ya?ml\n(.*?)```", readme, re.S)):
        if re.search(r"^app:", b, re.M):
            texts["readme-%d" % i] = b
    for k, v in CONFIGS.items():
        texts["hand-" + k] = v
    for k, v in texts.items():
        write(outdir, "fuzz_config", k, v)
    return texts


def gather_kubeconfig(outdir):
    for k, v in KC_YAML.items():
        write(outdir, "fuzz_kubeconfig", "yaml-" + k, v)
    # the shape test/servers/k8s_harness.py writes (JSON), token and client certificate
    for k, user in (("token", {"token": "t0ken-abcdef"}),
                    ("cert", {"client-certificate": "client.crt", "client-key": "client.key"})):
        cfg = {"apiVersion": "v1", "kind": "Config", "preferences": {},
               "clusters": [{"name": "test", "cluster": {"server": "https://127.0.0.1:6443",
                                                          "certificate-authority": "ca.crt"}}],
               "users": [{"name": "test", "user": user}],
               "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test",
                                                          "namespace": "ns"}}],
               "current-context": "test"}
        write(outdir, "fuzz_kubeconfig", "json-" + k, json.dumps(cfg, indent=1))
    write(outdir, "fuzz_kubeconfig", "base64-data", base64.b64encode(KC_YAML["data"].encode()))
    return KC_YAML


def gather_yaml(outdir, configs, kubeconfigs):
    for k, v in configs.items():
        write(outdir, "fuzz_yaml", "config-" + k, v)
    for k, v in kubeconfigs.items():
        write(outdir, "fuzz_yaml", "kubeconfig-" + k, v)
    for p in sorted(glob.glob(os.path.join(ROOT, "templates/**/*.yaml"), recursive=True)):
        write(outdir, "fuzz_yaml", "template-" + os.path.basename(p), open(p).read())


def gather_tmpl(outdir):
    data = json.dumps({"app": "shop", "env": {"name": "pr-7", "kind": "preview"},
                       "namespace": "shop-pr-7", "sha": "abc", "branch": "feat/x",
                       "pr": {"number": 7, "title": "Fix: \"quotes\" #1", "author": "a"},
                       "values": {"image": "nginx:1", "replicas": "2"}, "labels": {"a": "b"}})
    for p in sorted(glob.glob(os.path.join(ROOT, "templates/**/*.yaml"), recursive=True)):
        write(outdir, "fuzz_tmpl", "template-" + os.path.basename(p), data + "\n" + open(p).read())


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    gather_ci(out)
    configs = gather_config(out)
    kcs = gather_kubeconfig(out)
    gather_yaml(out, configs, kcs)
    gather_tmpl(out)
    for t in sorted(os.listdir(out)):
        files = os.listdir(os.path.join(out, t))
        size = sum(os.path.getsize(os.path.join(out, t, f)) for f in files)
        print("seeds: %s: %d inputs, %d bytes" % (t, len(files), size))


if __name__ == "__main__":
    main()
