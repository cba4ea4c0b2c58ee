#!/bin/bash
# Builds the libraries of prenv's static binary (issue 15 item 1), once, with
# musl (Debian's musl-tools: musl-gcc), from their Debian source packages,
# into a cache directory outside the repository:
#
#   ${PRENV_STATIC_CACHE:-${PRENV_CACHE_DIR:-/var/cache/prenv}/static}
#     src/      `apt-get source` of each package below
#     prefix/   include/ and lib/*.a: zlib, OpenSSL, nghttp2, libcurl,
#               http-parser, libgit2, libyaml, cJSON
#     kheaders/ the kernel's linux/ and asm/ headers (musl-gcc has none;
#               OpenSSL's secure heap wants linux/mman.h)
#     stamp     written last; when it matches, nothing is done
#     build.log output of the last run that built
#
# Only what prenv uses: libcurl speaks HTTP and HTTPS (HTTP/2 via nghttp2,
# TLS via OpenSSL 3.0 (libssl + libcrypto only: no apps, engines, modules,
# async, legacy provider); no FTP, LDAP, SSH, GSSAPI, IDN, PSL, brotli,
# zstd); libgit2 speaks HTTPS through OpenSSL (no SSH, GSSAPI, NTLM, iconv).
# OpenSSL rather than mbedTLS 2.28 (Debian 12's): mbedTLS 2.28 does not
# match IP address subjectAltNames (https://127.0.0.1 fails verification),
# and OpenSSL is what the dynamic build's libcurl uses, so both builds
# verify certificates and follow redirects the same way.
# Idempotent, non-interactive, one build at a time (a lock). Installs
# musl-tools, cmake and dpkg-dev when missing (needs root then). Usage:
#   dist/static/build-deps.sh [--force | --check]
# Prints the prefix on its last line.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${PRENV_STATIC_CACHE:-${PRENV_CACHE_DIR:-/var/cache/prenv}/static}
P=$CACHE/prefix
FORCE=0
[[ ${1:-} == --force ]] && FORCE=1
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
SRCPKGS=(zlib openssl nghttp2 curl http-parser libgit2 libyaml cjson)
LIBS=(libz.a libssl.a libcrypto.a libnghttp2.a libcurl.a
      libhttp_parser.a libgit2.a libyaml.a libcjson.a)

T0=$(date +%s)
log() { printf 'static deps: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

KEY=$(cat "$HERE/build-deps.sh" | sha256sum | cut -d' ' -f1)
cache_complete() {
  [[ -f $CACHE/stamp ]] && grep -qx "inputs $KEY" "$CACHE/stamp" || return 1
  local l
  for l in "${LIBS[@]}"; do [[ -s $P/lib/$l ]] || return 1; done
}
# --check: 0 when the cache is complete (make static only compiles prenv),
# 1 otherwise; builds and changes nothing (make check uses it).
if [[ ${1:-} == --check ]]; then
  command -v musl-gcc >/dev/null 2>&1 && cache_complete && exit 0
  exit 1
fi
if [[ $FORCE == 0 ]] && cache_complete; then
  log "cache complete in $CACHE, nothing to do"
  echo "$P"; exit 0
fi

# ---- 1. tools -------------------------------------------------------------
missing=()
for t in musl-gcc:musl-tools cmake:cmake dpkg-source:dpkg-dev make:make perl:perl; do
  command -v "${t%%:*}" >/dev/null 2>&1 || missing+=("${t#*:}")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  [[ $(id -u) == 0 ]] || die "missing ${missing[*]}: run 'apt-get install ${missing[*]}' (or this as root)"
  log "apt-get install ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
fi

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9
if [[ $FORCE == 0 ]] && cache_complete; then   # built while we waited
  log "cache complete in $CACHE, nothing to do"; echo "$P"; exit 0
fi
# the log to stderr and build.log; fd 3 keeps stdout for the prefix (the
# last line, which make static reads)
exec 3>&1 > >(tee "$CACHE/build.log" >&2) 2>&1

# ---- 2. sources -------------------------------------------------------------
have_src() {
  grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/
}
if ! have_src; then
  [[ $(id -u) == 0 ]] || die "no deb-src entries in /etc/apt: add them (see test/k8s-real/build.sh) or run as root"
  f=/etc/apt/sources.list.d/prenv-src.sources
  log "adding deb-src entries in $f"
  {
    printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\n'
    printf 'Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n'
    printf 'Types: deb-src\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\n'
    printf 'Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
  } >"$f"
  apt-get update -qq || die "apt-get update failed"
fi
SRC=$CACHE/src
mkdir -p "$SRC"
# fetch PKG: unpacks into $SRC/PKG the newest version that downloads. A
# mirror may lack the newest one the index lists: then an older one, with a
# WARNING in the log and the stamp, since it may lack security fixes (this
# happened: libgit2 1.5.1+ds-1+deb12u1 without deb12u2's CVE-2026-53586).
# A cached source stays unless a newer version is listed and downloads.
WARNINGS=()
fetch() {
  local pkg=$1 v d have= versions newest
  [[ -f $SRC/$pkg/.prenv-version ]] && have=$(cat "$SRC/$pkg/.prenv-version")
  versions=$(apt-cache showsrc "$pkg" 2>/dev/null | sed -n 's/^Version: //p' | sort -Vru)
  if [[ -z $versions ]]; then apt-get update -qq || true
    versions=$(apt-cache showsrc "$pkg" 2>/dev/null | sed -n 's/^Version: //p' | sort -Vru); fi
  [[ -n $versions || -n $have ]] || die "source package $pkg not found (deb-src entries? apt-get update?)"
  newest=$(head -n1 <<<"$versions")
  if [[ -n $have ]] && { [[ -z $newest ]] || dpkg --compare-versions "$have" ge "$newest"; }; then
    return 0
  fi
  for v in $versions; do
    [[ -n $have ]] && dpkg --compare-versions "$v" le "$have" && break
    rm -rf "$SRC/.dl" && mkdir -p "$SRC/.dl"
    log "apt-get source $pkg=$v"
    if (cd "$SRC/.dl" && apt-get source -qq "$pkg=$v" >/dev/null 2>&1); then
      d=$(find "$SRC/.dl" -mindepth 1 -maxdepth 1 -type d -print -quit)
      if [[ -n $d ]]; then
        rm -rf "$SRC/$pkg" && mv "$d" "$SRC/$pkg" && echo "$v" >"$SRC/$pkg/.prenv-version"
        rm -f "$CACHE/prefix/.done/$pkg"-*   # a new source: built again
        rm -rf "$SRC/.dl"
        [[ $v == "$newest" ]] || WARNINGS+=("$pkg $v, not the newest listed $newest (it does not download)")
        return 0
      fi
    fi
  done
  rm -rf "$SRC/.dl"
  if [[ -n $have ]]; then
    WARNINGS+=("$pkg $have, not the newest listed $newest (it does not download)"); return 0
  fi
  die "apt-get source $pkg failed for every version ($versions)"
}
for s in "${SRCPKGS[@]}"; do fetch "$s"; done
for w in "${WARNINGS[@]}"; do log "WARNING: source $w: it may lack security fixes"; done

# ---- 3. build ---------------------------------------------------------------
# Each library once: a marker in $P/.done when it is installed (a run that
# died resumes there); --force starts from nothing.
[[ $FORCE == 1 ]] && rm -rf "$P"
mkdir -p "$P/include" "$P/lib/pkgconfig" "$P/.done"
# The marker carries a hash of the step's function: a step whose recipe
# changed (e.g. libcurl's TLS library) is built again, the others are not.
step() {  # step NAME FUNCTION: runs it unless done
  local m
  m=$1-$(declare -f "$2" | sha256sum | cut -c1-12)
  if [[ -f $P/.done/$m ]]; then log "$1: already built"; return 0; fi
  local t=$(date +%s)
  log "$1"; "$2" || die "$1 failed (see $CACHE/build.log)"; touch "$P/.done/$m"
  log "$1: $(( $(date +%s) - t )) s"
}
export CC=musl-gcc
export CFLAGS="-O2 -fPIE -ffunction-sections -fdata-sections"
export PKG_CONFIG_LIBDIR=$P/lib/pkgconfig PKG_CONFIG_PATH=
MAKE="make -j$JOBS"
CMAKE_COMMON=(-DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=musl-gcc
  -DCMAKE_INSTALL_PREFIX="$P" -DCMAKE_INSTALL_LIBDIR=lib --no-warn-unused-cli -DBUILD_SHARED_LIBS=OFF
  -DCMAKE_FIND_ROOT_PATH="$P" -DCMAKE_FIND_ROOT_PATH_MODE_LIBRARY=ONLY
  -DCMAKE_FIND_ROOT_PATH_MODE_INCLUDE=ONLY -DCMAKE_FIND_ROOT_PATH_MODE_PACKAGE=ONLY
  -DCMAKE_POSITION_INDEPENDENT_CODE=ON)
cmake_build() {  # cmake_build SRCDIR [options]
  local s=$1; shift
  rm -rf "$s/_static" && cmake -S "$s" -B "$s/_static" "${CMAKE_COMMON[@]}" "$@" >/dev/null &&
  cmake --build "$s/_static" -j"$JOBS" >/dev/null && cmake --install "$s/_static" >/dev/null
}

b_zlib() {
(cd "$SRC/zlib" && ./configure --static --prefix="$P" >/dev/null && $MAKE libz.a >/dev/null && make install >/dev/null)
}
KH=$CACHE/kheaders
mkdir -p "$KH"
for h in linux asm-generic; do [[ -e $KH/$h ]] || ln -s "/usr/include/$h" "$KH/$h"; done
for a in /usr/include/x86_64-linux-gnu/asm /usr/include/asm; do
  [[ -e $KH/asm || ! -d $a ]] || ln -s "$a" "$KH/asm"
done
[[ -e $KH/linux/mman.h && -e $KH/asm ]] || die "no kernel headers: apt-get install linux-libc-dev"
# OpenSSL: OPENSSLDIR /etc/ssl (its default CA file /etc/ssl/cert.pem, dir
# /etc/ssl/certs); prenv sets the bundle it finds itself (util/cabundle.c).
b_openssl() {
(cd "$SRC/openssl" && make distclean >/dev/null 2>&1; \
  CFLAGS="$CFLAGS -idirafter $KH" ./Configure linux-x86_64 --prefix="$P" --libdir=lib \
    --openssldir=/etc/ssl no-shared no-module no-tests no-engine no-dso \
    no-async no-afalgeng no-comp no-legacy no-ssl3 no-dtls no-srp no-weak-ssl-ciphers \
    no-ui-console no-zlib >/dev/null &&
  $MAKE build_libs >/dev/null && make install_dev >/dev/null)
}
b_nghttp2() {
cmake_build "$SRC/nghttp2" -DENABLE_LIB_ONLY=ON -DENABLE_STATIC_LIB=ON -DENABLE_SHARED_LIB=OFF \
  -DENABLE_DOC=OFF -DENABLE_APP=OFF -DENABLE_HPACK_TOOLS=OFF -DENABLE_EXAMPLES=OFF -DWITH_JEMALLOC=OFF &&
[[ -f $P/lib/pkgconfig/libnghttp2.pc ]]
}
b_curl() {
(cd "$SRC/curl" && { [[ -x configure ]] || autoreconf -fi >/dev/null; } &&
  CPPFLAGS="-I$P/include -DNGHTTP2_STATICLIB" LDFLAGS="-L$P/lib" ./configure -q --prefix="$P" \
    --disable-shared --enable-static --with-openssl="$P" --with-nghttp2="$P" --with-zlib="$P" \
    --without-libpsl --without-libidn2 --without-brotli --without-zstd --without-libssh2 \
    --without-libssh --without-librtmp --without-gssapi --without-hyper --without-ngtcp2 \
    --without-nghttp3 --without-quiche --without-msh3 \
    --disable-ldap --disable-ldaps --disable-rtsp --disable-dict --disable-telnet --disable-tftp \
    --disable-pop3 --disable-imap --disable-smtp --disable-gopher --disable-mqtt --disable-smb \
    --disable-ftp --disable-file --disable-manual --disable-ntlm --disable-ntlm-wb \
    --disable-unix-sockets --enable-threaded-resolver --enable-ipv6 \
    --with-ca-bundle=/etc/ssl/certs/ca-certificates.crt --without-ca-path >/dev/null &&
  $MAKE -C lib >/dev/null && make -C lib install >/dev/null && make -C include install >/dev/null &&
  make install-pkgconfigDATA >/dev/null)
}
b_http_parser() {
(cd "$SRC/http-parser" && $CC $CFLAGS -c http_parser.c -o http_parser.o &&
  ar rcs "$P/lib/libhttp_parser.a" http_parser.o && cp http_parser.h "$P/include/")
}
b_libgit2() {
cmake_build "$SRC/libgit2" -DBUILD_TESTS=OFF -DBUILD_CLI=OFF -DBUILD_EXAMPLES=OFF -DBUILD_FUZZERS=OFF \
  -DUSE_SSH=OFF -DUSE_HTTPS=OpenSSL -DOPENSSL_ROOT_DIR="$P" -DOPENSSL_USE_STATIC_LIBS=TRUE -DUSE_SHA1=CollisionDetection -DUSE_GSSAPI=OFF \
  -DUSE_NTLMCLIENT=OFF -DUSE_ICONV=OFF -DREGEX_BACKEND=regcomp -DUSE_HTTP_PARSER=system \
  -DUSE_BUNDLED_ZLIB=OFF -DUSE_NSEC=ON -DCERT_LOCATION=/etc/ssl/certs/ca-certificates.crt \
  -DZLIB_LIBRARY="$P/lib/libz.a" -DZLIB_INCLUDE_DIR="$P/include"
}
b_libyaml() {
cmake_build "$SRC/libyaml" -DBUILD_TESTING=OFF -DINSTALL_CMAKE_DIR=lib/cmake/yaml
}
b_cjson() {
mkdir -p "$P/include/cjson"
(cd "$SRC/cjson" && $CC $CFLAGS -std=c89 -c cJSON.c -o cJSON.o &&
  ar rcs "$P/lib/libcjson.a" cJSON.o && cp cJSON.h "$P/include/cjson/")
}
for n in zlib openssl nghttp2 curl http-parser libgit2 libyaml cjson; do step "$n" "b_${n//-/_}"; done
for l in "${LIBS[@]}"; do [[ -s $P/lib/$l ]] || die "$l was not built"; done
{
  echo "inputs $KEY"
  for s in "${SRCPKGS[@]}"; do echo "source $s $(cat "$SRC/$s/.prenv-version")"; done
  for w in "${WARNINGS[@]}"; do echo "warning source $w"; done
  echo "seconds $(( $(date +%s) - T0 ))"
} >"$CACHE/stamp"
log "built in $(( $(date +%s) - T0 )) s into $P"
echo "$P" >&3
