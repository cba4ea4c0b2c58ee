#!/usr/bin/env python3
"""Renders a 1,000-object template set with `prenv render` and, on the same
input, with `envsubst` (what many pipelines use), and prints objects per
second and peak memory for each. Not a test: it asserts nothing about time.

  python3 test/bench/bench_render.py [N]
"""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import measure  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PRENV = os.path.join(ROOT, os.environ.get("PRENV_BIN", "build/prenv"))

DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-%(i)d
  annotations:
    prenv.dev/branch: %(branch)s
    prenv.dev/title: "%(title)s"
spec:
  replicas: 1
  selector:
    matchLabels:
      app: web-%(i)d
  template:
    metadata:
      labels:
        app: web-%(i)d
    spec:
      containers:
        - name: web
          image: %(image)s
          ports:
            - containerPort: 8080
          env:
            - name: ENV_NAME
              value: %(env)s
---
"""


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    per_file = 10
    work = tempfile.mkdtemp(prefix="prenv-bench-")
    try:
        tdir = os.path.join(work, "templates")
        os.mkdir(tdir)
        subst = []
        for f in range(n // per_file):
            chunk_m, chunk_e = [], []
            for k in range(per_file):
                i = f * per_file + k
                chunk_m.append(DEPLOY % {"i": i, "branch": "{{git.branch}}", "title": "{{pr.title}}",
                                         "image": "{{values.image}}", "env": "{{env.name}}"})
                chunk_e.append(DEPLOY % {"i": i, "branch": "${BRANCH}", "title": "${TITLE}",
                                         "image": "${IMAGE}", "env": "${ENV_NAME}"})
            with open(os.path.join(tdir, "%04d.yaml" % f), "w") as fh:
                fh.write("".join(chunk_m))
            subst.append("".join(chunk_e))
        with open(os.path.join(work, "all.yaml"), "w") as fh:
            fh.write("".join(subst))
        with open(os.path.join(work, ".prenv.yml"), "w") as fh:
            fh.write("version: 1\napp: shop\ntemplates: templates\n"
                     "provider:\n  kind: command\n  deploy: [\"true\"]\n"
                     "environments:\n  - pull_request: true\n"
                     "values:\n  image: \"ghcr.io/acme/shop:{{git.short_sha}}\"\n")
        env = dict(os.environ, PRENV_CI="local", PRENV_REPO="acme/shop", PRENV_PR="42",
                   PRENV_BRANCH="feature/login", PRENV_PR_TITLE="Fix: login",
                   PRENV_SHA="1" * 40, BRANCH="feature/login", TITLE="Fix: login",
                   IMAGE="ghcr.io/acme/shop:1111111", ENV_NAME="pr-42", NO_COLOR="1")
        for k in [k for k in env if k.startswith(("GITHUB_", "GITLAB_", "CI_"))]:
            del env[k]
        out = os.path.join(work, "out.yaml")
        pw, pr = measure([PRENV, "render"], env=env, cwd=work, stdout_path=out)
        objs = open(out).read().count("\nkind: ") + open(out).read().startswith("kind: ")
        ew, er = measure(["envsubst"], env=env, stdin_path=os.path.join(work, "all.yaml"))
        print("render benchmark: %d objects (%d template files), median of 5 runs" % (n, n // per_file))
        print("| tool | wall time | objects/s | peak RSS | escapes values | checks documents |")
        print("|---|---:|---:|---:|---|---|")
        print("| prenv render | %.1f ms | %.0f | %.1f MiB | yes (YAML context) | yes (parsed, labelled) |"
              % (pw * 1000, n / pw, pr / 1024.0))
        print("| envsubst | %.1f ms | %.0f | %.1f MiB | no | no |" % (ew * 1000, n / ew, er / 1024.0))
        if objs < n:
            print("warning: prenv output has %d objects, expected %d" % (objs, n))
    finally:
        shutil.rmtree(work, True)


if __name__ == "__main__":
    main()
