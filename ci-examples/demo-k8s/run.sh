#!/bin/sh
# make demo-k8s: the headline provider in a minute. The same story as
# `make demo` (a pull request's preview deployed, updated, destroyed), with
# templates/web and provider.kind: kubernetes, against the project's test
# Kubernetes API server (test/servers/k8s_server.py: it speaks the real API,
# runs a small controller that makes pods ready, and is accepted by kubectl),
# and then against the real Kubernetes 1.20 of test/k8s-real when it has
# been built (`make k8s-real`, which `make check` does; needs root).
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PRENV="${PRENV_BIN:-$ROOT/build/prenv}"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
WORK=$(mktemp -d "${TMPDIR:-/tmp}/prenv-demo-k8s.XXXXXX")
SERVER_PID=
REAL_STARTED=
cleanup() {
	set +e
	if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; fi
	if [ -n "$REAL_STARTED" ]; then "$PY" "$ROOT/test/k8s-real/cluster.py" stop >/dev/null 2>&1; fi
	rm -rf "$WORK"
}
trap 'rc=$?; cleanup; exit $rc' EXIT
trap 'exit 130' INT TERM

if [ -t 1 ]; then B=$(printf '\033[1m'); N=$(printf '\033[0m'); else B=; N=; fi
step() { printf '\n%s== %s%s\n$ %s\n' "$B" "$1" "$N" "$2"; }

# The app: templates/web as a user copies it, and a .prenv.yml.
mkdir -p "$WORK/app"
cp "$ROOT"/templates/web/*.yaml "$WORK/app/"
mkdir "$WORK/app/deploy" && mv "$WORK"/app/*.yaml "$WORK/app/deploy/"
cat >"$WORK/app/.prenv.yml" <<'YAML'
version: 1
app: shop
templates: deploy
url: "https://{{env.name}}.preview.example.com"
provider:
  kind: kubernetes          # one namespace per environment: shop-pr-42
  wait: 120s
environments:
  - branch: main
    name: production
    kind: production
    protected: true
  - pull_request: true
    ttl: 72h
values:
  image: "IMAGE"
YAML

unset GITHUB_ACTIONS GITLAB_CI JENKINS_URL CI KUBECONFIG 2>/dev/null || true
export PRENV_CI=local PRENV_REPO=acme/shop PRENV_BRANCH='feature/login' PRENV_BASE_BRANCH=main
export PRENV_PR=42 PRENV_PR_TITLE='Add a login page' PRENV_PR_AUTHOR=octocat
export NO_COLOR=1
KCTL=$(command -v kubectl || true)

story() { # $1 = where, $2 = kubeconfig, $3 = image
	sed -i "s|image: \".*\"|image: \"$3\"|" "$WORK/app/.prenv.yml"
	cd "$WORK/app"
	export PRENV_SHA=1111111111111111111111111111111111111111
	step "$1: 1. deploy the pull request's preview" "prenv --kubeconfig KUBECONFIG deploy"
	"$PRENV" --kubeconfig "$2" deploy
	if [ -n "$KCTL" ]; then
		step "$1: 2. what landed (the real kubectl)" "kubectl get deploy,svc,ingress -n shop-pr-42 --show-labels"
		"$KCTL" --kubeconfig "$2" get deploy,svc,ingress -n shop-pr-42 --show-labels 2>/dev/null
	fi
	step "$1: 3. status" "prenv --kubeconfig KUBECONFIG status"
	"$PRENV" --kubeconfig "$2" status
	step "$1: 4. a new commit: deploy again (same namespace, updated)" "PRENV_SHA=2222… prenv deploy"
	export PRENV_SHA=2222222222222222222222222222222222222222
	"$PRENV" --kubeconfig "$2" deploy
	step "$1: 5. the pull request closes: destroy (waits until the namespace is gone)" \
	     "prenv --kubeconfig KUBECONFIG destroy"
	"$PRENV" --kubeconfig "$2" --wait 180 destroy
	"$PRENV" --kubeconfig "$2" status
}

# 1. The project's test API server, on 127.0.0.1 with TLS and a token.
"$PY" "$ROOT/test/servers/k8s_server.py" --tls --certs-dir "$WORK/pki" --port-file "$WORK/port" \
	--token demo-token-0123456789 --ready-delay 2 >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
i=0
while [ ! -s "$WORK/port" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
PORT=$(cat "$WORK/port")
cat >"$WORK/kubeconfig" <<KC
apiVersion: v1
kind: Config
current-context: demo
clusters: [{name: demo, cluster: {server: "https://127.0.0.1:$PORT", certificate-authority: "$WORK/pki/ca.crt"}}]
users: [{name: ci, user: {token: demo-token-0123456789}}]
contexts: [{name: demo, context: {cluster: demo, user: ci}}]
KC
story "test API server" "$WORK/kubeconfig" "ghcr.io/acme/shop:1"

# 2. The real Kubernetes, when it has been built.
if [ "${PRENV_DEMO_REAL:-1}" != 0 ] && [ "$(id -u)" = 0 ] && [ -f "${PRENV_CACHE_DIR:-/var/cache/prenv}/k8s-real/stamp" ]; then
	if ! "$PY" "$ROOT/test/k8s-real/cluster.py" status >/dev/null 2>&1; then
		step "real Kubernetes 1.20: starting it (about 20 s)" "test/k8s-real/cluster.py start"
		"$PY" "$ROOT/test/k8s-real/cluster.py" start >/dev/null
		REAL_STARTED=1
	fi
	"$PY" "$ROOT/test/k8s-real/cluster.py" env >"$WORK/real.env"
	REAL_KC=$(sed -n 's/^export PRENV_K8S_REAL_KUBECONFIG=//p' "$WORK/real.env" | tr -d "'\"")
	story "real Kubernetes 1.20" "$REAL_KC" "busybox-httpd:local"
else
	printf '\n(the real Kubernetes is not built: `make k8s-real` builds it once, ~20 min; then\n`make demo-k8s` runs the same story on it)\n'
fi
printf '\nDemo done.\n'
