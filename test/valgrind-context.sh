#!/bin/sh
# Runs `prenv context -o json` under valgrind in each CI mode (GitHub PR,
# GitHub workflow_run from a fork, GitLab MR, Jenkins, local checkout, local
# outside any checkout) and fails on any leak or memory error.
# Usage: sh test/valgrind-context.sh [path/to/prenv]   (default build/prenv)
set -u
cd "$(dirname "$0")/.."
PRENV=${1:-build/prenv}
FX=$(pwd)/test/fixtures/github-events
[ -x "$PRENV" ] || { echo "valgrind-context: $PRENV not built (make)" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "valgrind-context: valgrind not installed (apt-get install valgrind)" >&2; exit 1; }
PRENV=$(cd "$(dirname "$PRENV")" && pwd)/$(basename "$PRENV")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
S1=0123456789abcdef0123456789abcdef01234567

# A local checkout to run from, outside this repository.
repo=$tmp/repo; mkdir -p "$repo"
git -C "$repo" init -q -b main
git -C "$repo" -c user.name=t -c user.email=t@example.invalid commit -q --allow-empty -m first
git -C "$repo" checkout -q -b feature/vg
git -C "$repo" remote add origin git@github.com:acme/shop.git
nogit=$tmp/nogit; mkdir -p "$nogit"

run() { # $1 = label, $2 = directory, rest = VAR=value ...
	label=$1; dir=$2; shift 2
	out=$tmp/out.json; log=$tmp/vg.log
	(cd "$dir" && env -i PATH="$PATH" HOME="$tmp" "$@" \
		valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible \
		--errors-for-leak-kinds=definite,indirect,possible --error-exitcode=9 \
		"$PRENV" context -o json >"$out" 2>"$log")
	rc=$?
	if [ $rc -eq 0 ] && grep -q '"ci"' "$out"; then
		pass=$((pass + 1)); echo "ok   $label"
	else
		fail=$((fail + 1)); echo "FAIL $label (exit $rc)"; cat "$log"; cat "$out"
	fi
}

GH="GITHUB_ACTIONS=true GITHUB_REPOSITORY=acme/shop GITHUB_RUN_ID=1 GITHUB_SHA=$S1"
# shellcheck disable=SC2086
run "github pull_request (fork)" "$nogit" $GH GITHUB_EVENT_NAME=pull_request \
	GITHUB_EVENT_PATH="$FX/pull_request_fork.json"
# shellcheck disable=SC2086
run "github pull_request closed+merged" "$nogit" $GH GITHUB_EVENT_NAME=pull_request \
	GITHUB_EVENT_PATH="$FX/pull_request_closed_merged.json"
# shellcheck disable=SC2086
run "github workflow_run from a fork" "$nogit" $GH GITHUB_EVENT_NAME=workflow_run \
	GITHUB_EVENT_PATH="$FX/workflow_run_fork.json"
# A NUL in the payload (read as U+FFFD with a warning) and a kubeconfig
# secret (its secret-bearing parts registered).
sed 's/"title":"Fix typo/"title":"x\\u0000y/' "$FX/pull_request_fork.json" >"$tmp/nul.json"
grep -q 'x\\u0000y' "$tmp/nul.json" || { echo "valgrind-context: no title in the fixture" >&2; exit 1; }
# shellcheck disable=SC2086
run "github pull_request with a NUL in the title, a kubeconfig secret" "$nogit" $GH \
	GITHUB_EVENT_NAME=pull_request GITHUB_EVENT_PATH="$tmp/nul.json" GITHUB_TOKEN=ghs_0123456789abcdef \
	"PRENV_KUBECONFIG=$(printf 'apiVersion: v1\nusers:\n- name: ci\n  user:\n    token: t0ken-value-0123\n    client-key-data: QUJDREVG\n      R0hJSktM\n')"
# shellcheck disable=SC2086
run "github push, variables only, checkout fills in" "$repo" $GH GITHUB_EVENT_NAME=push
run "gitlab merge request (fork)" "$nogit" GITLAB_CI=true CI_PIPELINE_SOURCE=merge_request_event \
	CI_SERVER_URL=https://gitlab.example.com CI_API_V4_URL=https://gitlab.example.com/api/v4 \
	CI_PROJECT_NAMESPACE=grp CI_PROJECT_NAME=shop CI_PROJECT_PATH=grp/shop CI_PROJECT_ID=1 \
	CI_PROJECT_URL=https://gitlab.example.com/grp/shop CI_COMMIT_SHA=$S1 \
	CI_MERGE_REQUEST_IID=3 CI_MERGE_REQUEST_SOURCE_BRANCH_NAME=feat \
	CI_MERGE_REQUEST_TARGET_BRANCH_NAME=main "CI_MERGE_REQUEST_TITLE=Add feat" \
	CI_MERGE_REQUEST_PROJECT_PATH=grp/shop CI_MERGE_REQUEST_SOURCE_PROJECT_PATH=me/shop \
	CI_JOB_URL=https://gitlab.example.com/grp/shop/-/jobs/5 GITLAB_USER_LOGIN=me
run "jenkins pull request" "$nogit" JENKINS_URL=https://ci.example.com/ BRANCH_NAME=PR-5 \
	CHANGE_ID=5 CHANGE_BRANCH=feat CHANGE_TARGET=main CHANGE_TITLE=x CHANGE_AUTHOR=me \
	CHANGE_URL=https://github.com/acme/shop/pull/5 GIT_COMMIT=$S1 \
	BUILD_URL=https://ci.example.com/job/x/1/
run "jenkins branch" "$nogit" JENKINS_URL=https://ci.example.com/ BRANCH_NAME=main \
	GIT_URL=https://github.com/acme/shop.git GIT_COMMIT=$S1
run "local checkout" "$repo"
run "local checkout with PRENV_PR" "$repo" PRENV_PR=7
git -C "$repo" checkout -q --detach HEAD
run "local, detached HEAD, overrides" "$repo" PRENV_BRANCH=x PRENV_REPO=o/n
run "local, not a checkout" "$nogit"

# An error path must not leak either (exit 2, still no valgrind error 9).
(cd "$nogit" && env -i PATH="$PATH" PRENV_PR=abc valgrind -q --leak-check=full \
	--errors-for-leak-kinds=definite,indirect,possible --error-exitcode=9 \
	"$PRENV" context -o json >/dev/null 2>"$tmp/vg.log")
rc=$?
if [ $rc -eq 2 ]; then pass=$((pass + 1)); echo "ok   bad PRENV_PR exits 2 without leaks"
else fail=$((fail + 1)); echo "FAIL bad PRENV_PR (exit $rc, want 2)"; cat "$tmp/vg.log"; fi

echo "valgrind-context: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
