#!/bin/bash
# Smoke test of the real cluster, run by hand (root):  test/k8s-real/smoke.sh
# build (cached after the first time) -> start -> a Deployment becomes Available
# (busybox httpd, httpGet readiness probe) and answers on its Service IP and
# NodePort -> a crashing pod reaches CrashLoopBackOff and `kubectl logs` shows
# its output -> a Job that exits 0 completes, one that exits 1 fails -> the
# namespace deletion completes -> stop -> nothing of ours is left running.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${PRENV_K8S_REAL_CACHE:-${PRENV_CACHE_DIR:-/var/cache/prenv}/k8s-real}
RUN=${PRENV_K8S_REAL_RUN:-/run/prenv-k8s-real}
KUBECTL=${KUBECTL:-$(command -v kubectl || true)}
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3
[[ -n $KUBECTL ]] || { echo "smoke: no kubectl"; exit 1; }
now() { date +%s.%N; }
dt() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
say() { printf '\nsmoke: %s\n' "$*"; }
fail() { printf '\nsmoke: FAILED: %s\n' "$*"; exit 1; }

t=$(now)
"$HERE/build.sh"
T_BUILD=$(dt "$t")
T_COLD=$(cat "$CACHE/cold-build-seconds" 2>/dev/null || echo "?")

host_state() {  # fixed host paths and sysctls the cluster touches
  for p in /var/log/pods /var/log/containers /run/containerd /var/lib/cni /run/netns; do
    [[ -e $p ]] && echo "$p: $(ls -A "$p" | tr '\n' ' ')"
  done
  for s in net/ipv4/ip_forward net/ipv4/conf/all/route_localnet net/bridge/bridge-nf-call-iptables \
           vm/overcommit_memory kernel/panic kernel/panic_on_oops; do
    echo "$s=$(cat /proc/sys/$s 2>/dev/null)"
  done
}
# a cluster left running (or crashed) would change the picture: stop it first
"$PY" "$HERE/cluster.py" stop 2>/dev/null || true
HOST_BEFORE=$(host_state)

t=$(now)
"$PY" "$HERE/cluster.py" start >/dev/null || fail "start"
T_START=$(dt "$t")
stopped=0
stop_cluster() {
  [[ $stopped == 1 ]] && return 0
  stopped=1
  "$PY" "$HERE/cluster.py" stop
}
trap 'stop_cluster' EXIT
KC=$RUN/kubectl.kubeconfig
cp "$RUN/kubeconfig" "$KC"
k() { "$KUBECTL" --kubeconfig "$KC" "$@" 2> >(grep -v 'version difference\|skew' >&2); }

say "cluster up in $T_START s"
k version 2>/dev/null | sed 's/^/  /' || true
k get nodes -o wide

NS=smoke
k create namespace $NS
t=$(now)
k -n $NS apply -f - <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      # httpd as PID 1 ignores SIGTERM: without this, deleting the namespace
      # waits the default 30 s grace period (plus the namespace controller's back-off)
      terminationGracePeriodSeconds: 1
      containers:
      - name: httpd
        image: busybox:local
        imagePullPolicy: Never
        command: ["httpd", "-f", "-p", "8080"]
        ports: [{containerPort: 8080}]
        readinessProbe:
          httpGet: {path: /, port: 8080}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080, protocol: TCP}]
---
apiVersion: v1
kind: Pod
metadata: {name: crash}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox:local
    imagePullPolicy: Never
    command: ["sh", "-c", "echo boom; exit 3"]
---
apiVersion: batch/v1
kind: Job
metadata: {name: ok}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: "busybox:local", imagePullPolicy: Never, command: ["sh", "-c", "echo done; exit 0"]}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: bad}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: "busybox:local", imagePullPolicy: Never, command: ["sh", "-c", "exit 1"]}]
EOF

k -n $NS wait --for=condition=Available deployment/web --timeout=120s || {
  k -n $NS describe pods -l app=web; fail "deployment web not Available"; }
T_DEPLOY=$(dt "$t")
say "deployment web Available after $T_DEPLOY s"

IP=$(k -n $NS get svc web -o jsonpath='{.spec.clusterIP}')
NP=$(k -n $NS get svc web -o jsonpath='{.spec.ports[0].nodePort}')
body=""
for _ in $(seq 50); do
  body=$("$PY" - "$IP" <<'EOF' 2>/dev/null || true
import sys, urllib.request
print(urllib.request.urlopen("http://%s:80/" % sys.argv[1], timeout=2).read().decode().strip())
EOF
)
  [[ $body == "busybox:local ok" ]] && break
  sleep 0.2
done
[[ $body == "busybox:local ok" ]] || fail "service IP $IP:80 answered '$body'"
say "service $IP:80 from the host: $body"
body=$("$PY" -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$NP/', timeout=5).read().decode().strip())") \
  || fail "NodePort 127.0.0.1:$NP"
say "NodePort 127.0.0.1:$NP: $body"
POD=$(k -n $NS get pods -l app=web -o jsonpath='{.items[0].metadata.name}')
out=$(k -n $NS exec "$POD" -- sh -c 'wget -q -O - http://web.smoke.svc 2>&1 || true; wget -q -O - http://'"$IP"'/')
say "exec in $POD (no cluster DNS; the Service IP works from a pod): $out"
[[ $out == *"busybox:local ok"* ]] || fail "exec/service from a pod"

reason=""
for _ in $(seq 120); do
  reason=$(k -n $NS get pod crash -o jsonpath='{.status.containerStatuses[0].state.waiting.reason}')
  [[ $reason == CrashLoopBackOff ]] && break
  sleep 0.5
done
[[ $reason == CrashLoopBackOff ]] || { k -n $NS describe pod crash; fail "pod crash: '$reason'"; }
logs=$(k -n $NS logs crash --previous 2>/dev/null || k -n $NS logs crash)
[[ $logs == *boom* ]] || fail "kubectl logs crash: '$logs'"
say "pod crash: $reason, restarts $(k -n $NS get pod crash -o jsonpath='{.status.containerStatuses[0].restartCount}'), logs: $logs"

k -n $NS wait --for=condition=complete job/ok --timeout=120s || fail "job ok not complete"
k -n $NS wait --for=condition=failed job/bad --timeout=120s || fail "job bad not failed"
say "job ok: $(k -n $NS get job ok -o jsonpath='{.status.conditions[0].type}'), job bad: $(k -n $NS get job bad -o jsonpath='{.status.conditions[0].type}/{.status.conditions[0].reason}')"

k -n $NS run missing --image=does-not-exist:1 --image-pull-policy=Never --restart=Never >/dev/null
for _ in $(seq 60); do
  reason=$(k -n $NS get pod missing -o jsonpath='{.status.containerStatuses[0].state.waiting.reason}')
  [[ $reason == ErrImageNeverPull ]] && break
  sleep 0.5
done
say "pod with a missing image: $reason"
[[ $reason == ErrImageNeverPull ]] || fail "missing image: '$reason'"

t=$(now)
k delete namespace $NS --timeout=180s || fail "namespace deletion"
say "namespace $NS deleted in $(dt "$t") s"

# what must be gone after stop: the PIDs recorded, shims of our socket, their children
PIDS=$("$PY" -c "
import json; s = json.load(open('$RUN/state.json'))
print(' '.join('%d:%d' % (p, t) for p, t in s['pids'].values()))")
SOCK=$RUN/containerd/containerd.sock
t=$(now)
stop_cluster
T_STOP=$(dt "$t")

# a zombie (exited, not yet reaped by init) counts as gone
left=$("$PY" - "$SOCK" $PIDS <<'EOF'
import os, sys
sock = sys.argv[1].encode()
def stat(pid):
    try:
        s = open("/proc/%s/stat" % pid).read()
    except OSError:
        return None
    f = s[s.rindex(")") + 2:].split()
    return f[0], f[19]
out = []
for pt in sys.argv[2:]:
    pid, start = pt.split(":")
    st = stat(pid)
    if st and st[0] not in "ZX" and st[1] == start:
        out.append(pid)
for d in os.listdir("/proc"):
    if d.isdigit() and int(d) != os.getpid():
        try:
            cl = open("/proc/%s/cmdline" % d, "rb").read().split(b"\0")
        except OSError:
            continue
        st = stat(d)
        if sock in cl and st and st[0] not in "ZX":
            out.append("%s(%s)" % (d, b" ".join(cl).decode(errors="replace")[:120]))
print(" ".join(out))
EOF
)
[[ -z $left ]] || fail "processes left: $left"
[[ ! -e /sys/class/net/k8s0 ]] || fail "bridge k8s0 left"
if iptables-save | grep -q 'KUBE-\|prenv-k8s-real'; then fail "iptables rules left"; fi
ls -d /sys/fs/cgroup/*/prenv-k8s-real 2>/dev/null && fail "cgroups left"
grep -q " $RUN\| /run/netns/cni-" /proc/self/mountinfo && fail "mounts left"
[[ ! -e $RUN ]] || fail "run dir $RUN left"
HOST_AFTER=$(host_state)
[[ $HOST_AFTER == "$HOST_BEFORE" ]] || fail "host paths/sysctls differ: $(diff <(echo "$HOST_BEFORE") <(echo "$HOST_AFTER"))"
say "nothing left (processes, bridge, iptables, cgroups, mounts, run dir, host paths, sysctls as before)"

printf '\nsmoke: OK  build (this run) %s s, cold build %s s, start %s s, deployment Available %s s, stop %s s\n' \
  "$T_BUILD" "${T_COLD:-?}" "$T_START" "$T_DEPLOY" "$T_STOP"
