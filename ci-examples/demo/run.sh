#!/bin/sh
# make demo: the main job end to end, locally, with nothing but this checkout.
# A simulated pull request (through prenv's documented override variables)
# is deployed with the pages provider into a temporary folder, inspected,
# redeployed after a change, and destroyed.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PRENV="${PRENV_BIN:-$ROOT/build/prenv}"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/prenv-demo.XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM
cp -R "$ROOT/ci-examples/demo/." "$WORK/"
rm -f "$WORK/run.sh"
cd "$WORK"

# Not in a CI: the override variables say which pull request this is.
# (In GitHub Actions, GitLab CI or Jenkins prenv reads this from the CI.)
unset GITHUB_ACTIONS GITLAB_CI JENKINS_URL CI 2>/dev/null || true
export PRENV_CI=local
export PRENV_REPO=acme/shop
export PRENV_BRANCH='feature/login'
export PRENV_BASE_BRANCH=main
export PRENV_PR=42
export PRENV_PR_TITLE='Add a login page <b>"quoted"</b>'
export PRENV_PR_AUTHOR=octocat
export PRENV_SHA=1111111111111111111111111111111111111111
export NO_COLOR=1

if [ -t 1 ]; then B=$(printf '\033[1m'); N=$(printf '\033[0m'); else B=; N=; fi
step() { printf '\n%s== %s%s\n$ %s\n' "$B" "$1" "$N" "$2"; }

step "1. What prenv sees" "prenv context"
"$PRENV" context

step "2. Deploy the pull request's preview" "prenv deploy"
"$PRENV" deploy

step "3. What landed on disk" "ls public/pr-42 && grep banner -A2 public/pr-42/index.html"
ls -l public/pr-42
grep -A2 'class="banner"' public/pr-42/index.html

step "4. Status" "prenv status"
"$PRENV" status

step "5. A new commit changes the page; deploy again (same environment, updated)" \
     "PRENV_SHA=2222… prenv deploy"
sed -i 's/first version/second version/' site/index.html.mustache
export PRENV_SHA=2222222222222222222222222222222222222222
"$PRENV" deploy
grep -o 'VERSION_MARKER: [a-z]* version' public/pr-42/index.html
ls public

step "6. The pull request closes: destroy" "prenv destroy"
"$PRENV" destroy
"$PRENV" status
ls -A public

printf '\nDemo done: deployed, updated and destroyed pr-42 in %s (now removed).\n' "$WORK"
