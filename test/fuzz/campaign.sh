#!/bin/sh
# campaign.sh - a long fuzzing run: each target in turn, on one core, at
# nice 10 (the machine is shared).
#
#   make fuzz && sh test/fuzz/campaign.sh SECONDS fuzz_config fuzz_ci ...
#
# Each target runs SECONDS from its committed corpus (test/fuzz/corpus/<t>)
# and the seeds test/fuzz/seeds.py gathers from the fixtures, with its
# dictionary; what it finds goes to $WORK/<t>/corpus (WORK defaults to
# build/fuzz/campaign). A crash, leak or time-out is kept in $WORK/<t>/art/
# and the run goes on from where it was until the time is used. The binaries
# are copied first, so `make fuzz` may rebuild meanwhile. Prints one line per
# target: executions, coverage (cov = edges, ft = features) and findings;
# $WORK/<t>/log* has libFuzzer's output.
#
# BIN (default build/fuzz) names the binaries. ASan+UBSan cost about a factor
# of five; on a busy machine a long run goes further with a build without
# them (make fuzz B=build/fast FUZZ_SAN=, then BIN=build/fast/fuzz), and
# its corpus and findings are then replayed through the sanitizer build:
#   build/fuzz/<t> -runs=0 $WORK/<t>/corpus $WORK/<t>/art
#
# Keeping what it found (small inputs that add coverage):
#   build/fuzz/<t> -merge=1 -use_counters=0 -max_len=4096 test/fuzz/corpus/<t> \
#     $WORK/<t>/corpus build/fuzz/seeds/<t>
set -eu
cd "$(dirname "$0")/../.."
[ $# -ge 2 ] || { echo "usage: sh test/fuzz/campaign.sh SECONDS TARGET..." >&2; exit 2; }
secs=$1; shift
work=${WORK:-build/fuzz/campaign}
bin=${BIN:-build/fuzz}
[ -d build/fuzz/seeds ] || /usr/bin/python3 test/fuzz/seeds.py build/fuzz/seeds
mkdir -p "$work/bin"
for n in "$@"; do
	cp "$bin/$n" "$work/bin/$n"
	[ -f "$bin/$n.dict" ] && cp "$bin/$n.dict" "$work/bin/$n.dict"
done
for n in "$@"; do
	mkdir -p "$work/$n/corpus" "$work/$n/art"
	dict=""; [ -f "$work/bin/$n.dict" ] && dict="-dict=$work/bin/$n.dict"
	dirs=""
	for d in build/fuzz/seeds/$n test/fuzz/corpus/$n; do [ -d "$d" ] && dirs="$dirs $d"; done
	end=$(( $(date +%s) + secs )); i=0; runs=0
	while left=$(( end - $(date +%s) )); [ "$left" -gt 5 ]; do
		i=$((i + 1))
		# shellcheck disable=SC2086 # $dict and $dirs are lists
		ASAN_OPTIONS=quarantine_size_mb=16 nice -n 10 "$work/bin/$n" $dict \
			-max_total_time="$left" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
			-artifact_prefix="$work/$n/art/" "$work/$n/corpus" $dirs \
			>"$work/$n/log.$i" 2>&1 || true
		r=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$n/log.$i")
		runs=$((runs + ${r:-0}))
	done
	cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$work/$n/log.$i" | tail -n 1)
	echo "campaign $n: $runs executions in $secs s, $cov, corpus $(ls "$work/$n/corpus" | wc -l)" \
	     "inputs, $(ls "$work/$n/art" | wc -l) findings, $i session(s)"
done
