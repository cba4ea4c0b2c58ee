#!/bin/sh
# Runs every test: cmocka unit binaries (plain build, then ASan/UBSan build),
# end-to-end tests against local servers (with both binaries), and a short
# time-bounded fuzz run. Prints one summary line: "N passed, N failed,
# N skipped". A skipped test is never counted as passed; in CI (CI=true) a
# skipped end-to-end test also fails the run (counted as failed too), since
# there everything the tests need is installed (`make deps`).
set -u
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
pass=0; fail=0; skip=0; failed_names=""
log=$(mktemp -d)
# third-party leaks LeakSanitizer must not count (each explained there)
LSAN_OPTIONS="suppressions=$(pwd)/test/lsan.supp:print_suppressions=0"
export LSAN_OPTIONS
trap 'stop_real; rm -rf "$log"' EXIT

count() { # $1 = name, $2 = passed, $3 = failed, $4 = skipped (default 0)
	pass=$((pass + $2)); fail=$((fail + $3)); skip=$((skip + ${4:-0}))
	[ "$3" -gt 0 ] && failed_names="$failed_names $1"
}

run_unit() { # $1 = dir of test binaries, $2 = label
	for t in "$1"/test_*; do
		[ -x "$t" ] || continue
		n=$(basename "$t")
		ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		CMOCKA_MESSAGE_OUTPUT=stdout PRENV_REFDATA=../shared/refdata \
			"$t" >"$log/$n.out" 2>&1
		rc=$?
		p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log/$n.out" | awk '{s+=$1} END {print s+0}')
		f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log/$n.out" | awk '{s+=$1} END {print s+0}')
		s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$log/$n.out" | awk '{s+=$1} END {print s+0}')
		if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
		# Lines a test prints for humans (counts, measured figures) start with "# ".
		grep '^# ' "$log/$n.out" | sed "s/^/  [$2 $n] /"
		if [ "$f" -gt 0 ]; then
			echo "--- $2 $n FAILED (exit $rc):"; tail -n 60 "$log/$n.out"
		fi
		echo "$2 $n: $p passed, $f failed, $s skipped"
		count "$2/$n" "$p" "$f" "$s"
	done
}

# Each binary's end-to-end files run in E2E_SHARDS processes (whole files
# each, balanced by test/e2e/run.py's weights): they mostly wait on servers.
E2E_SHARDS=${E2E_SHARDS:-2}
start_e2e() { # $1 = prenv binary, $2 = label: runs in the background
	[ -f test/e2e/run.py ] || return 0
	i=1
	while [ $i -le "$E2E_SHARDS" ]; do
		( PRENV_BIN="$1" PRENV_E2E_SHARD="$i/$E2E_SHARDS" "$PY" test/e2e/run.py \
			>"$log/e2e-$2.$i.out" 2>&1; echo $? >"$log/e2e-$2.$i.rc" ) &
		i=$((i + 1))
	done
}

run_e2e() { # $1 = label, $2 = shards (default E2E_SHARDS): waits for them, counts them
	[ -f test/e2e/run.py ] || return 0
	lab=$1; n=${2:-$E2E_SHARDS}; P=0; F=0; S=0; i=1
	while [ $i -le "$n" ]; do
		o="$log/e2e-$lab.$i.out"
		while [ ! -f "$log/e2e-$lab.$i.rc" ]; do sleep 1; done
		rc=$(cat "$log/e2e-$lab.$i.rc")
		p=$(sed -n 's/^e2e: \([0-9]*\) passed, \([0-9]*\) failed.*/\1/p' "$o" | tail -n1)
		f=$(sed -n 's/^e2e: \([0-9]*\) passed, \([0-9]*\) failed.*/\2/p' "$o" | tail -n1)
		s=$(sed -n 's/^e2e: [0-9]* passed, [0-9]* failed, \([0-9]*\) skipped.*/\1/p' "$o" | tail -n1)
		p=${p:-0}; f=${f:-0}; s=${s:-0}
		if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
		grep -E '^(FAIL|ERROR|not ok|# |e2e time:)' "$o" | sed "s/^/  [$lab e2e $i] /"
		# unittest's verbose lines: "test_x (module.Class.test_x) ... skipped 'why'"
		grep -E " \.\.\. skipped " "$o" | sed "s/^/  [$lab e2e SKIPPED] /"
		[ "$f" -gt 0 ] && { echo "--- $lab e2e (shard $i) FAILED:"; tail -n 80 "$o"; }
		P=$((P + p)); F=$((F + f)); S=$((S + s)); i=$((i + 1))
	done
	echo "$lab e2e: $P passed, $F failed, $S skipped"
	count "$lab/e2e" "$P" "$F" "$S"
	if [ "$S" -gt 0 ] && [ "${CI:-}" = true ]; then
		echo "--- $lab e2e: $S test(s) skipped, and in CI (CI=true) a skipped end-to-end test" \
		     "fails the run: install what they need (make deps)"
		count "$lab/e2e-skipped-in-CI" 0 "$S"
	fi
}

# The real Kubernetes (test/k8s-real, built by `make check`): started in the
# background at the beginning (it takes ~20 s), used by the real_*.py tests
# as soon as it is up, beside the other end-to-end runs, stopped at the end - unless a healthy one
# was already running (someone else's): then it is used and left running.
REAL_RUN=${PRENV_K8S_REAL_RUN:-/run/prenv-k8s-real}
REAL_PY=/usr/bin/python3
[ -x "$REAL_PY" ] || REAL_PY=$PY
start_real() {
	[ -f test/k8s-real/cluster.py ] || return 0
	if "$REAL_PY" test/k8s-real/cluster.py --run-dir "$REAL_RUN" status >/dev/null 2>&1; then
		echo reused >"$log/real.started"; return 0
	fi
	( "$REAL_PY" test/k8s-real/cluster.py --run-dir "$REAL_RUN" start >"$log/real-start.out" 2>&1
	  echo $? >"$log/real-start.rc" ) &
	echo started >"$log/real.started"
}

# The real_*.py tests with both binaries, in the background as soon as the
# cluster is up: they mostly wait on the cluster (a deleted namespace takes
# 30-90 s to go), so they overlap the other end-to-end runs (run_real
# reports them). The second run's app names end in "l"
# (test/e2e/real_k8s_hardening.py real_app), so the two never share a
# namespace and can run at once: they do on a machine with more than 2
# CPUs (REAL_AT_ONCE=1 forces it). On 2 CPUs the four end-to-end shards
# already keep both busy: at once measured no faster there (make check in
# 1193 and 1313 s against 1291 and 1326 s one after the other) and puts
# more load on the timing of every test, so they go one after the other.
REAL_AT_ONCE=${REAL_AT_ONCE:-$([ "$(nproc 2>/dev/null || echo 2)" -gt 2 ] && echo 1 || echo 0)}
wait_real() { # succeeds once the cluster is up, fails if it did not start
	while [ "$(cat "$log/real.started")" = started ] && [ ! -f "$log/real-start.rc" ]; do sleep 1; done
	! { [ -f "$log/real-start.rc" ] && [ "$(cat "$log/real-start.rc")" != 0 ]; }
}
run_real_tests() { # $1 = plain (the cluster admin's token) or asan (the
	# least-privilege identity of templates/rbac)
	bin=build/prenv; ident=admin
	[ "$1" = asan ] && { bin=build/asan/prenv; ident=limited; }
	PRENV_K8S_REAL_RUN="$REAL_RUN" PRENV_K8S_REAL_IDENTITY=$ident PRENV_BIN="$bin" \
		ASAN_OPTIONS=detect_leaks=1 \
		"$PY" test/e2e/run.py 'real_*.py' >"$log/e2e-real-$1.1.out" 2>&1
	echo $? >"$log/e2e-real-$1.1.rc"
}
start_real_tests() {
	[ -f "$log/real.started" ] || return 0
	if [ "$REAL_AT_ONCE" = 1 ]; then
		( wait_real && run_real_tests plain ) &
		( wait_real && run_real_tests asan ) &
	else
		( wait_real && { run_real_tests plain; run_real_tests asan; } ) &
	fi
}

run_real() { # waits for start_real_tests' runs and reports them
	[ -f "$log/real.started" ] || return 0
	while [ "$(cat "$log/real.started")" = started ] && [ ! -f "$log/real-start.rc" ]; do sleep 1; done
	if [ -f "$log/real-start.rc" ] && [ "$(cat "$log/real-start.rc")" != 0 ]; then
		echo "--- the real cluster did not start:"; tail -n 40 "$log/real-start.out"
		count "real/start" 0 1; return 0
	fi
	run_e2e real-plain 1
	run_e2e real-asan 1
}

stop_real() {
	[ "$(cat "$log/real.started" 2>/dev/null)" = started ] || return 0
	echo stopped >"$log/real.started"
	"$REAL_PY" test/k8s-real/cluster.py --run-dir "$REAL_RUN" stop >"$log/real-stop.out" 2>&1 ||
		{ echo "--- stopping the real cluster:"; tail -n 20 "$log/real-stop.out"; }
}

# Each libFuzzer target for a share of FUZZ_SECONDS (default 30) from its
# committed corpus, with its dictionary; one test per target. A crash, leak,
# time-out or memory blow-up fails it, and the input that did it is printed
# and kept in build/fuzz/crashes/.
run_fuzz() {
	set -- $(ls build/fuzz/fuzz_* 2>/dev/null | grep -v '\.dict$')
	[ $# -gt 0 ] || return 0
	per=$(( ${FUZZ_SECONDS:-30} / $# )); [ "$per" -ge 3 ] || per=3
	for t in "$@"; do
		[ -x "$t" ] || continue
		n=$(basename "$t")
		mkdir -p "$log/corpus-$n" "$log/art-$n"
		dict=""; [ -f "$t.dict" ] && dict="-dict=$t.dict"
		seeds=""; [ -d "test/fuzz/corpus/$n" ] && seeds="test/fuzz/corpus/$n"
		ASAN_OPTIONS=quarantine_size_mb=16 "$t" $dict -max_total_time=$per -timeout=10 \
			-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$log/art-$n/" \
			"$log/corpus-$n" $seeds >"$log/$n.out" 2>&1
		rc=$?
		if [ $rc -eq 0 ] && [ -z "$(ls "$log/art-$n")" ]; then
			echo "fuzz $n: $(sed -n 's/^stat::number_of_executed_units: *//p' "$log/$n.out") runs in $per s" \
			     "($(grep -o 'cov: [0-9]* ft: [0-9]*' "$log/$n.out" | tail -n1)), no crash"
			count "fuzz/$n" 1 0
			continue
		fi
		echo "--- fuzz $n FAILED (exit $rc):"; grep -v '^"' "$log/$n.out" | tail -n 40
		mkdir -p build/fuzz/crashes
		for a in "$log/art-$n"/*; do
			[ -f "$a" ] || continue
			cp "$a" "build/fuzz/crashes/$n-$(basename "$a")"
			echo "reproducer build/fuzz/crashes/$n-$(basename "$a") ($(wc -c <"$a") bytes;" \
			     "run: $t build/fuzz/crashes/$n-$(basename "$a")):"
			od -A d -c "$a" | head -n 20
		done
		count "fuzz/$n" 0 1
	done
}

# The static binary (PRENV_CHECK_STATIC, set by `make check` when it could
# build it without building its libraries): the empty-root test and the
# token-on-redirect test with it; the whole suite is `make check-static`.
run_static() {
	if [ -z "${PRENV_CHECK_STATIC:-}" ]; then
		echo "static: not built (its libraries are not cached: \`make static\` builds them once," \
		     "~30 min; \`make check-static\` runs the suite with it)"
		return 0
	fi
	i=1
	for f in test_empty_root.py test_pages_git_http.py; do
		PRENV_BIN="$PRENV_CHECK_STATIC" "$PY" test/e2e/run.py "$f" >"$log/e2e-static.$i.out" 2>&1
		echo $? >"$log/e2e-static.$i.rc"
		i=$((i + 1))
	done
	run_e2e static 2
}

# The end-to-end tests mostly wait on servers and processes, so both runs
# (plain and ASan/UBSan binaries) go in the background while the unit
# tests run; their results are printed below in order.
start_real
start_real_tests
start_e2e build/prenv plain
ASAN_OPTIONS=detect_leaks=1 start_e2e build/asan/prenv asan

echo "== unit tests (cmocka), plain build"
run_unit build/test plain
echo "== unit tests (cmocka), AddressSanitizer + UBSan build"
run_unit build/asan/test asan
echo "== end-to-end tests, plain build"
run_e2e plain
echo "== end-to-end tests, AddressSanitizer + UBSan build"
run_e2e asan
echo "== end-to-end tests on a real Kubernetes 1.20 (test/k8s-real), plain and ASan/UBSan build ($([ "$REAL_AT_ONCE" = 1 ] && echo at once || echo one after the other))"
run_real
stop_real
echo "== the static binary (make static), when make check built it: its libraries were cached"
run_static
echo "== valgrind: prenv context in each CI mode (no leak, no error)"
sh test/valgrind-context.sh build/prenv >"$log/vg.out" 2>&1; rc=$?
p=$(sed -n 's/^valgrind-context: \([0-9]*\) passed, \([0-9]*\) failed/\1/p' "$log/vg.out")
f=$(sed -n 's/^valgrind-context: \([0-9]*\) passed, \([0-9]*\) failed/\2/p' "$log/vg.out")
p=${p:-0}; f=${f:-0}; if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
[ "$f" -gt 0 ] && { echo "--- valgrind FAILED:"; tail -n 60 "$log/vg.out"; }
echo "valgrind context: $p passed, $f failed"
count valgrind "$p" "$f"
echo "== dependency rules (test/check-deps.py: include cycles, one library one module, providers)"
for mode in --self-test ""; do
	"$PY" test/check-deps.py $mode >"$log/deps.out" 2>&1; rc=$?
	tail -n 1 "$log/deps.out"
	if [ $rc -ne 0 ]; then cat "$log/deps.out"; count "deps$mode" 0 1; else count "deps$mode" 1 0; fi
done
echo "== fuzzing (time-bounded)"
run_fuzz

echo
[ -n "$failed_names" ] && echo "failed:$failed_names"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
