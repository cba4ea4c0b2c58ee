#!/bin/sh
# Installs what the tests take from npm (not committed), each into build/:
# - build/npm: @octokit/webhooks-examples, real GitHub webhook payloads that
#   test/unit/test_ci.c feeds to the GitHub Actions detection;
# - build/gitlab-ci-local: gitlab-ci-local, which runs the GitLab example
#   (ci-examples/gitlab/.gitlab-ci.yml) for test/e2e/test_gitlab_ci_local.py,
#   installed with `npm ci` from test/gitlab-ci-local/package-lock.json.
# Idempotent: does nothing for what is already there.
set -eu
cd "$(dirname "$0")/.."

need_npm() {
	command -v npm >/dev/null 2>&1 && return 0
	echo "fetch-fixtures: npm is needed to install $1 (apt-get install npm, or make deps)" >&2
	exit 1
}

PKG=@octokit/webhooks-examples
VERSION=7
DIR=build/npm
INDEX=$DIR/node_modules/$PKG/api.github.com/index.json
if [ -s "$INDEX" ]; then
	echo "fetch-fixtures: $PKG already in $DIR"
else
	need_npm "$PKG"
	mkdir -p "$DIR"
	npm install --no-save --no-audit --no-fund --silent --prefix "$DIR" "$PKG@$VERSION"
	[ -s "$INDEX" ] || { echo "fetch-fixtures: $INDEX missing after install" >&2; exit 1; }
	echo "fetch-fixtures: installed $PKG $(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$DIR/node_modules/$PKG/package.json") into $DIR"
fi

# gitlab-ci-local: reinstalled when the lock changed (the copy in build/ is
# compared with the committed one).
SRC=test/gitlab-ci-local
DIR=build/gitlab-ci-local
BIN=$DIR/node_modules/.bin/gitlab-ci-local
if [ -x "$BIN" ] && cmp -s "$SRC/package-lock.json" "$DIR/package-lock.json"; then
	echo "fetch-fixtures: gitlab-ci-local already in $DIR"
else
	need_npm gitlab-ci-local
	rm -rf "$DIR"
	mkdir -p "$DIR"
	cp "$SRC/package.json" "$SRC/package-lock.json" "$DIR/"
	npm ci --no-audit --no-fund --silent --prefix "$DIR"
	[ -x "$BIN" ] || { echo "fetch-fixtures: $BIN missing after install" >&2; exit 1; }
	echo "fetch-fixtures: installed gitlab-ci-local $("$BIN" --version) into $DIR"
fi
