#!/bin/bash
# Runs build/prenv-static in an empty chroot (issue 15 item 1): a directory
# with only the binary, /dev/null, /dev/urandom, /tmp and a CA bundle; no
# libraries, no loader, no /etc/passwd, no resolv.conf. Checks `prenv
# version`, `prenv context`, and, against the real cluster (test/k8s-real,
# must be running; never started here), a deploy and destroy over HTTPS +
# HTTP/2 whose API server CA is found only the way the system's bundle is:
# at /etc/ssl/certs/ca-certificates.crt, at /etc/ssl/cert.pem, or through
# SSL_CERT_FILE; and refused when there is none. Needs root (chroot, mknod).
# Usage: dist/static/chroot-smoke.sh [BINARY]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${1:-$ROOT/build/prenv-static}
PY=/usr/bin/python3; [[ -x $PY ]] || PY=python3
fail() { echo "chroot-smoke: FAIL: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || fail "needs root (chroot)"
file "$BIN" | grep -q 'statically linked' || fail "$BIN is not statically linked: $(file "$BIN")"

D=$(mktemp -d /tmp/prenv-chroot-XXXXXX)
trap 'rm -rf "$D"' EXIT
mkdir -p "$D/dev" "$D/tmp" "$D/etc/ssl/certs" "$D/tpl"
chmod 1777 "$D/tmp"
cp "$BIN" "$D/prenv"
mknod -m 666 "$D/dev/null" c 1 3
mknod -m 666 "$D/dev/urandom" c 1 9
echo "chroot-smoke: $D holds: $(cd "$D" && find . -mindepth 1 -not -type d | sort | tr '\n' ' ')"

E=(env -i PATH=/nonexistent HOME=/tmp NO_COLOR=1 PRENV_CI=local PRENV_REPO=acme/static PRENV_BRANCH=feature/s
   PRENV_PR=1 PRENV_SHA=$(printf 'b%.0s' {1..40}))
CH=$(command -v chroot)
run() { "${E[@]}" "$CH" "$D" "$@"; }   # cwd: the chroot's /

run /prenv version || fail "prenv version"
run /prenv context >"$D/ctx.out" || fail "prenv context"
grep -q 'acme/static' "$D/ctx.out" || fail "prenv context did not show the repository: $(cat "$D/ctx.out")"
echo "chroot-smoke: version and context OK"

eval "$("$PY" "$ROOT/test/k8s-real/cluster.py" env)"
[[ -n ${PRENV_K8S_REAL_URL:-} ]] || fail "the real cluster is not running (test/k8s-real/cluster.py status)"
# a kubeconfig without certificate-authority: the CA comes from the bundle
"$PY" - "$KUBECONFIG" "$D/kubeconfig" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
for c in d["clusters"]:
    c["cluster"].pop("certificate-authority", None)
    c["cluster"].pop("certificate-authority-data", None)
json.dump(d, open(sys.argv[2], "w"))
PYEOF
chmod 600 "$D/kubeconfig"
echo "127.0.0.1 localhost" >"$D/etc/hosts"
cat >"$D/.prenv.yml" <<'YEOF'
version: 1
app: static-smoke
templates: tpl
url: "https://{{env.name}}.preview.example.com"
provider:
  kind: kubernetes
  wait: 60s
environments:
  - pull_request: true
YEOF
cat >"$D/tpl/cm.yaml" <<'YEOF'
apiVersion: v1
kind: ConfigMap
metadata:
  name: smoke
data:
  hello: "static"
YEOF
# 1. no bundle anywhere: TLS verification must fail
if run /prenv --kubeconfig /kubeconfig deploy >"$D/out" 2>&1; then
  fail "deploy succeeded without any CA bundle: $(cat "$D/out")"
fi
echo "chroot-smoke: no CA bundle -> refused: $(grep -m1 -i 'certif\|tls\|ssl' "$D/out" || tail -1 "$D/out")"
# 2. each way of finding it
for how in /etc/ssl/certs/ca-certificates.crt /etc/ssl/cert.pem SSL_CERT_FILE; do
  rm -f "$D/etc/ssl/certs/ca-certificates.crt" "$D/etc/ssl/cert.pem" "$D/tmp/ca.pem"
  extra=()
  if [[ $how == SSL_CERT_FILE ]]; then cp "$PRENV_K8S_REAL_CA" "$D/tmp/ca.pem"; extra=(SSL_CERT_FILE=/tmp/ca.pem)
  else cp "$PRENV_K8S_REAL_CA" "$D$how"; fi
  "${E[@]}" "${extra[@]}" "$CH" "$D" /prenv --kubeconfig /kubeconfig deploy >"$D/out" 2>&1 \
    || fail "deploy with the CA at $how: $(cat "$D/out")"
  echo "chroot-smoke: deploy over HTTPS with the CA found at $how OK"
done
"${E[@]}" SSL_CERT_FILE=/tmp/ca.pem "$CH" "$D" /prenv --kubeconfig /kubeconfig destroy >"$D/out" 2>&1 \
  || fail "destroy: $(cat "$D/out")"
echo "chroot-smoke: destroy OK"
echo "chroot-smoke: PASS"
