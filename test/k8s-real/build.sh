#!/bin/bash
# Builds a real single-node Kubernetes v1.20.2 for prenv's tests, once, into a
# cache directory outside the repository:
#
#   ${PRENV_CACHE_DIR:-/var/cache/prenv}/k8s-real    (or PRENV_K8S_REAL_CACHE)
#     src/kubernetes-<ver>/   `apt-get source kubernetes` + patches/*.patch
#                             (its _output/local/go/cache is the Go cache)
#     bin/                    kube-apiserver kube-controller-manager
#                             kube-scheduler kubelet kube-proxy pause
#                             prenv-cri (cri/main.go: list/stop sandboxes)
#     images/                 busybox.tar busybox-httpd.tar pause.tar (docker-archive)
#     stamp                   written last; when it matches, nothing is done
#     build.log               copy of the output of the last run that built
#
# Idempotent and non-interactive; needs root (apt-get, and later the cluster).
# Installs the Debian packages it needs when missing. Usage:
#   test/k8s-real/build.sh [--force]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${PRENV_K8S_REAL_CACHE:-${PRENV_CACHE_DIR:-/var/cache/prenv}/k8s-real}
FORCE=0
[[ ${1:-} == --force ]] && FORCE=1
COLD=0
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3

T0=$(date +%s.%N)
log() { printf 'k8s-real build: %s\n' "$*"; }
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
die() { log "ERROR: $*"; exit 1; }

# ---- 1. Debian packages ---------------------------------------------------
PKGS=(golang-1.19-go etcd-server containerd runc containernetworking-plugins
      busybox-static iptables conntrack iproute2 openssl dpkg-dev build-essential
      patch rsync jq ca-certificates python3)
missing=()
installed=" $(dpkg-query -W -f='${Package}=${db:Status-Status} ' "${PKGS[@]}" 2>/dev/null || true)"
for p in "${PKGS[@]}"; do   # one dpkg-query; never-seen packages are not listed
  [[ $installed == *" $p=installed "* ]] || missing+=("$p")
done

need_src_line() {
  # apt-get source needs a deb-src entry for bookworm
  ! grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/
}

apt_updated=0
apt_update() {
  if [[ $apt_updated == 0 ]]; then
    log "apt-get update"
    apt-get update -qq || die "apt-get update failed"
    apt_updated=1
  fi
}

# ---- stamp: what a complete cache was built from ---------------------------
# Inputs: this script, the image maker, the patches. (The source version is
# recorded in the stamp too, once known.)
inputs_hash() {
  cat "$HERE/build.sh" "$HERE/mkimage.py" "$HERE/cri/main.go" "$HERE"/patches/*.patch | sha256sum | cut -d' ' -f1
}
KEY=$(inputs_hash)
BINS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)
cache_complete() {
  [[ -f $CACHE/stamp ]] && grep -qx "inputs $KEY" "$CACHE/stamp" || return 1
  local b
  for b in "${BINS[@]}" pause prenv-cri; do [[ -x $CACHE/bin/$b ]] || return 1; done
  [[ -s $CACHE/images/busybox.tar && -s $CACHE/images/busybox-httpd.tar && -s $CACHE/images/pause.tar ]]
}

if [[ ${#missing[@]} == 0 && $FORCE == 0 ]] && cache_complete; then
  log "cache complete in $CACHE ($(sed -n 's/^version //p' "$CACHE/stamp")), nothing to do ($(elapsed "$T0") s)"
  exit 0
fi

[[ $(id -u) == 0 ]] || die "must run as root (apt-get; the cluster needs root too)"
mkdir -p "$CACHE"
# one build at a time; a build that waited may find the cache complete
exec 9>"$CACHE/.lock"
if ! flock -n 9; then
  log "another build.sh is working on $CACHE; waiting for it"
  flock 9
  if [[ ${#missing[@]} == 0 && $FORCE == 0 ]] && cache_complete; then
    log "cache complete in $CACHE, nothing to do ($(elapsed "$T0") s)"
    exit 0
  fi
fi
LOG=$CACHE/build.log.new
exec > >(tee "$LOG") 2>&1
log "cache dir $CACHE"

if ((${#missing[@]})); then
  t=$(date +%s.%N)
  apt_update
  log "installing ${missing[*]}"
  unavailable=()
  for p in "${missing[@]}"; do
    apt-cache show "$p" >/dev/null 2>&1 || unavailable+=("$p")
  done
  ((${#unavailable[@]} == 0)) || die "not in this machine's Debian mirrors: ${unavailable[*]}"
  # no daemons started by package scripts (there is no init system anyway)
  DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -q --no-install-recommends \
    "${missing[@]}" || die "apt-get install failed"
  log "packages installed ($(elapsed "$t") s)"
fi

export PATH=/usr/lib/go-1.19/bin:$PATH
command -v go >/dev/null || die "go 1.19 not found in /usr/lib/go-1.19/bin"

# ---- 2. Kubernetes source --------------------------------------------------
t=$(date +%s.%N)
SRCROOT=$CACHE/src
mkdir -p "$SRCROOT"
SRC=$(find "$SRCROOT" -mindepth 1 -maxdepth 1 -type d -name 'kubernetes-*' -print -quit)
if [[ -z $SRC || ! -f $SRC/.prenv-source-ok ]]; then
  if need_src_line; then
    f=/etc/apt/sources.list.d/prenv-src.sources
    log "adding deb-src entries for bookworm in $f"
    {
      printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\n'
      printf 'Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n'
      printf 'Types: deb-src\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\n'
      printf 'Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
    } >"$f"
    apt_updated=0
  fi
  apt-cache showsrc kubernetes 2>/dev/null | grep -q '^Package: kubernetes' || apt_update
  apt-cache showsrc kubernetes 2>/dev/null | grep -q '^Package: kubernetes' \
    || die "the source package 'kubernetes' is not in this machine's Debian mirrors (deb-src)"
  rm -rf "$SRCROOT" && mkdir -p "$SRCROOT/.dl"
  log "apt-get source kubernetes -> $SRCROOT"
  (cd "$SRCROOT/.dl" && apt-get source -q kubernetes 2>&1 | { grep -v '^W: Download is performed unsandboxed' || true; }) \
    || die "apt-get source kubernetes failed"
  d=$(find "$SRCROOT/.dl" -mindepth 1 -maxdepth 1 -type d -name 'kubernetes-*' -print -quit)
  [[ -n $d ]] || die "apt-get source produced no kubernetes-* directory"
  ver=$(cd "$d" && dpkg-parsechangelog -S Version)
  mv "$d" "$SRCROOT/" && rm -rf "$SRCROOT/.dl"
  SRC=$SRCROOT/$(basename "$d")
  echo "$ver" >"$SRC/.prenv-source-ok"
  COLD=1
  log "source $ver ready ($(elapsed "$t") s)"
else
  log "source $(cat "$SRC/.prenv-source-ok") already in $SRC"
fi
VER=$(cat "$SRC/.prenv-source-ok")

# ---- 3. kubelet patches ----------------------------------------------------
# Applied copies live in $SRC/.prenv-patches; a changed patch set is first
# reverted with those copies, then the new set is applied.
PD=$SRC/.prenv-patches
want=$(cat "$HERE"/patches/*.patch | sha256sum | cut -d' ' -f1)
have=$(cat "$PD/sum" 2>/dev/null || true)
if [[ $want != "$have" ]]; then
  if [[ -d $PD ]]; then
    for p in $(ls -r "$PD"/*.patch 2>/dev/null); do
      log "reverting old $(basename "$p")"
      patch -d "$SRC" -p1 -R -s <"$p" || die "cannot revert $p; remove $SRCROOT and re-run"
    done
  fi
  rm -rf "$PD" && mkdir -p "$PD"
  for p in "$HERE"/patches/*.patch; do
    log "applying $(basename "$p")"
    patch -d "$SRC" -p1 -N -s --no-backup-if-mismatch <"$p" || die "patch $p does not apply to $VER"
    cp "$p" "$PD/"
  done
  echo "$want" >"$PD/sum"
  rm -f "$CACHE/bin/.built"
fi

# ---- 4. Go build -----------------------------------------------------------
mkdir -p "$CACHE/bin"
bins_ok() { local b; for b in "${BINS[@]}"; do [[ -x $CACHE/bin/$b ]] || return 1; done
            [[ $(cat "$CACHE/bin/.built" 2>/dev/null) == "$VER $want" ]]; }
if ! bins_ok || [[ $FORCE == 1 ]]; then
  t=$(date +%s.%N)
  log "building ${BINS[*]} with $(go version | cut -d' ' -f3) (CGO_ENABLED=0; Go cache in $SRC/_output/local/go/cache)"
  log "  (about 15 minutes on 2 idle cores; progress below)"
  mkdir -p "$CACHE/home"
  what=$(printf 'cmd/%s ' "${BINS[@]}")
  # Kubernetes' make sets GOPATH=_output/local/go and GOCACHE under it, and
  # builds in GOPATH mode with the vendored modules: nothing is fetched.
  # a line a minute while make is quiet (the apiserver alone takes minutes)
  ( n=0; while sleep 5; do n=$((n + 5)); ((n % 60)) || log "  still building ($(elapsed "$t") s)"; done ) &
  beat=$!
  rc=0
  (cd "$SRC" && env HOME="$CACHE/home" CGO_ENABLED=0 GOFLAGS= GOPROXY=off GOTOOLCHAIN=local \
     KUBE_VERBOSE=1 make WHAT="${what% }") || rc=$?
  kill "$beat" 2>/dev/null || true
  wait "$beat" 2>/dev/null || true
  [[ $rc == 0 ]] || die "make failed with $rc (see above)"
  for b in "${BINS[@]}"; do
    install -m 0755 "$SRC/_output/bin/$b" "$CACHE/bin/$b.new" && mv -f "$CACHE/bin/$b.new" "$CACHE/bin/$b"
  done
  echo "$VER $want" >"$CACHE/bin/.built"
  elapsed "$t" >"$CACHE/bin/.make-seconds"
  log "binaries built ($(elapsed "$t") s): $("$CACHE/bin/kube-apiserver" --version)"
else
  log "binaries up to date in $CACHE/bin"
fi

# ---- 4b. prenv-cri: the CRI calls cluster.py needs (no crictl in Debian 12) --
# Built in the same GOPATH as Kubernetes, against its vendored CRI client.
ckey="$VER $(sha256sum <"$HERE/cri/main.go" | cut -d' ' -f1)"
if [[ $(cat "$CACHE/bin/.prenv-cri" 2>/dev/null) != "$ckey" || ! -x $CACHE/bin/prenv-cri || $FORCE == 1 ]]; then
  t=$(date +%s.%N)
  mkdir -p "$SRC/cmd/prenv-cri" && cp "$HERE/cri/main.go" "$SRC/cmd/prenv-cri/main.go"
  G=$SRC/_output/local/go
  [[ -d $G/src/k8s.io/kubernetes ]] || die "$G/src/k8s.io/kubernetes missing (Kubernetes' make sets it up)"
  (cd "$G/src/k8s.io/kubernetes" && env HOME="$CACHE/home" GOPATH="$G" GOCACHE="$G/cache" GO111MODULE=off \
     CGO_ENABLED=0 GOFLAGS= GOPROXY=off go build -o "$CACHE/bin/prenv-cri" ./cmd/prenv-cri) \
    || die "building prenv-cri failed"
  echo "$ckey" >"$CACHE/bin/.prenv-cri"
  log "prenv-cri built ($(elapsed "$t") s)"
fi

# ---- 5. images ---------------------------------------------------------------
# No registry is reachable: the images are made by hand as docker-archive
# tarballs that cluster.py imports with `ctr -n k8s.io images import`.
t=$(date +%s.%N)
IMG=$CACHE/images
WORK=$CACHE/images.work
BB=$(dpkg-query -W -f='${Version}' busybox-static)
ikey="$BB $(cat "$HERE/build.sh" "$HERE/mkimage.py" "$SRC/build/pause/linux/pause.c" | sha256sum | cut -d' ' -f1)"
if [[ $(cat "$IMG/.built" 2>/dev/null) != "$ikey" || ! -s $IMG/busybox.tar || ! -s $IMG/busybox-httpd.tar || ! -s $IMG/pause.tar || $FORCE == 1 ]]; then
  rm -rf "$WORK" && mkdir -p "$WORK" "$IMG"

  # pause: Kubernetes' own build/pause/linux/pause.c, static
  gcc -Os -Wall -Werror -static -DVERSION=v3.4-prenv -o "$WORK/pause" "$SRC/build/pause/linux/pause.c"
  strip "$WORK/pause"
  install -m 0755 "$WORK/pause" "$CACHE/bin/pause"
  mkdir -p "$WORK/pause-root"
  cp "$WORK/pause" "$WORK/pause-root/pause"
  "$PY" "$HERE/mkimage.py" --rootfs "$WORK/pause-root" --tag pause:local \
    --entrypoint '["/pause"]' --out "$IMG/pause.tar"

  # busybox: /bin/busybox (busybox-static) with a link per applet
  R=$WORK/busybox-root
  mkdir -p "$R/bin" "$R/sbin" "$R/usr/bin" "$R/usr/sbin" "$R/etc" "$R/root" "$R/var/www" \
           "$R/home" "$R/proc" "$R/sys" "$R/dev" "$R/tmp" "$R/var/tmp" "$R/run"
  chmod 1777 "$R/tmp" "$R/var/tmp"
  chmod 0700 "$R/root"
  cp /bin/busybox "$R/bin/busybox"
  chmod 0755 "$R/bin/busybox"
  n=0
  while read -r applet; do
    [[ -e $R/$applet || -L $R/$applet ]] && continue
    mkdir -p "$(dirname "$R/$applet")"
    ln -s /bin/busybox "$R/$applet"
    n=$((n + 1))
  done < <("$R/bin/busybox" --list-full)
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$R/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$R/etc/group"
  printf 'busybox:local ok\n' >"$R/var/www/index.html"
  # WorkingDir /var/www: `httpd -f -p 8080` serves index.html at /
  "$PY" "$HERE/mkimage.py" --rootfs "$R" --tag busybox:local --cmd '["sh"]' --workdir /var/www \
    --out "$IMG/busybox.tar"
  # the same files, serving /var/www on port 8080 by default (for templates
  # that only set the image, e.g. templates/web); it exits on SIGTERM like a
  # well-behaved app (httpd as PID 1 would ignore it for the whole grace period)
  "$PY" "$HERE/mkimage.py" --from-archive "$IMG/busybox.tar" --tag busybox-httpd:local \
    --cmd '["sh", "-c", "trap \"exit 0\" TERM; httpd -f -p 8080 & wait"]' --out "$IMG/busybox-httpd.tar"
  echo "$ikey" >"$IMG/.built"
  rm -rf "$WORK"
  log "images built ($(elapsed "$t") s): busybox:local (busybox $BB, $n applets), busybox-httpd:local, pause:local"
else
  log "images up to date in $IMG"
fi

total=$(elapsed "$T0")
# a run that fetched the source built everything: remember how long it took
[[ $COLD == 1 ]] && echo "$total" >"$CACHE/cold-build-seconds"
{
  printf 'inputs %s\nversion %s\nbuilt %s\nseconds %s\n' "$KEY" "$VER" "$(date -u +%FT%TZ)" "$total"
  [[ -f $CACHE/cold-build-seconds ]] && echo "cold_build_seconds $(cat "$CACHE/cold-build-seconds")"
  true
} >"$CACHE/stamp"
log "done: $CACHE complete ($total s)"
mv -f "$LOG" "$CACHE/build.log"
