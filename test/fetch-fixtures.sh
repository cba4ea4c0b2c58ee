#!/bin/sh
# Installs the test fixtures that come from npm into build/npm (not
# committed): @octokit/webhooks-examples, real GitHub webhook payloads that
# test/unit/test_ci.c feeds to the GitHub Actions detection.
# Idempotent: does nothing when the package is already there.
set -eu
cd "$(dirname "$0")/.."
PKG=@octokit/webhooks-examples
VERSION=7
DIR=build/npm
INDEX=$DIR/node_modules/$PKG/api.github.com/index.json
if [ -s "$INDEX" ]; then
	echo "fetch-fixtures: $PKG already in $DIR"
	exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
	echo "fetch-fixtures: npm is needed to install $PKG (apt-get install npm)" >&2
	exit 1
fi
mkdir -p "$DIR"
npm install --no-save --no-audit --no-fund --silent --prefix "$DIR" "$PKG@$VERSION"
[ -s "$INDEX" ] || { echo "fetch-fixtures: $INDEX missing after install" >&2; exit 1; }
echo "fetch-fixtures: installed $PKG $(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$DIR/node_modules/$PKG/package.json") into $DIR"
