#!/bin/sh
# Runs every test: cmocka unit binaries (plain build, then ASan/UBSan build),
# end-to-end tests against local servers (with both binaries), and a short
# time-bounded fuzz run. Prints one summary line: "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
pass=0; fail=0; failed_names=""
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

count() { # $1 = name, $2 = passed, $3 = failed
	pass=$((pass + $2)); fail=$((fail + $3))
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
		if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
		# Lines a test prints for humans (counts, measured figures) start with "# ".
		grep '^# ' "$log/$n.out" | sed "s/^/  [$2 $n] /"
		if [ "$f" -gt 0 ]; then
			echo "--- $2 $n FAILED (exit $rc):"; tail -n 60 "$log/$n.out"
		fi
		echo "$2 $n: $p passed, $f failed"
		count "$2/$n" "$p" "$f"
	done
}

start_e2e() { # $1 = prenv binary, $2 = label: runs in the background
	[ -f test/e2e/run.py ] || return 0
	( PRENV_BIN="$1" "$PY" test/e2e/run.py >"$log/e2e-$2.out" 2>&1; echo $? >"$log/e2e-$2.rc" ) &
}

run_e2e() { # $1 = label: waits for start_e2e's result and counts it
	[ -f test/e2e/run.py ] || return 0
	while [ ! -f "$log/e2e-$1.rc" ]; do sleep 1; done
	set -- "" "$1"
	rc=$(cat "$log/e2e-$2.rc")
	p=$(sed -n 's/^e2e: \([0-9]*\) passed, \([0-9]*\) failed.*/\1/p' "$log/e2e-$2.out" | tail -n1)
	f=$(sed -n 's/^e2e: \([0-9]*\) passed, \([0-9]*\) failed.*/\2/p' "$log/e2e-$2.out" | tail -n1)
	p=${p:-0}; f=${f:-0}
	if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	grep -E '^(FAIL|ERROR|not ok|# )' "$log/e2e-$2.out" | sed "s/^/  [$2 e2e] /"
	[ "$f" -gt 0 ] && { echo "--- $2 e2e FAILED:"; tail -n 80 "$log/e2e-$2.out"; }
	echo "$2 e2e: $p passed, $f failed"
	count "$2/e2e" "$p" "$f"
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

# The end-to-end tests mostly wait on servers and processes, so both runs
# (plain and ASan/UBSan binaries) go in the background while the unit
# tests run; their results are printed below in order.
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
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
