#!/bin/sh
# fuzz.sh — run libFuzzer targets one after the other and print a table (make fuzz).
#
# usage: sh scripts/fuzz.sh DIR SECONDS TARGET...
# DIR holds the programs (DIR/fuzz_TARGET, built by make). Each target runs for SECONDS with
# its seeds (tests/fuzz/corpus/TARGET) and saved crashes (tests/fuzz/regress/TARGET) as input
# corpora; what it finds new goes to DIR/corpus/TARGET (kept between runs, never committed),
# crashes to DIR/crashes/TARGET/, the fuzzer's output to DIR/fuzz_TARGET.log. One row per
# target: wall seconds, inputs run, executions per second, coverage (edges), corpus size and
# the result. Exits 1 if any target crashed, broke an invariant or timed out on an input; the
# row then names the input, which becomes a regression test: copy it to
# tests/fuzz/regress/TARGET/ (the fuzz_replay suite of make test replays it) and fix the bug.
set -u
dir=${1:?usage: fuzz.sh DIR SECONDS TARGET...}
secs=${2:?usage: fuzz.sh DIR SECONDS TARGET...}
shift 2
status=0
stat() { sed -n "s/^stat::$1: *//p" "$2" | tail -1; }
printf '%-7s %7s %10s %8s %6s %6s  %s\n' target seconds runs exec/s cov corpus result
for t in "$@"; do
    prog=$dir/fuzz_$t
    work=$dir/corpus/$t
    crashes=$dir/crashes/$t
    log=$dir/fuzz_$t.log
    mkdir -p "$work" "$crashes" "tests/fuzz/regress/$t"
    before=$(ls "$crashes" | wc -l)
    t0=$(date +%s)
    nice "$prog" -max_total_time="$secs" -print_final_stats=1 -timeout=10 -max_len=8192 \
        -rss_limit_mb=2048 -artifact_prefix="$crashes/" \
        "$work" "tests/fuzz/corpus/$t" "tests/fuzz/regress/$t" >"$log" 2>&1
    rc=$?
    t1=$(date +%s)
    runs=$(stat number_of_executed_units "$log")
    eps=$(stat average_exec_per_sec "$log")
    cov=$(sed -n 's/.* cov: \([0-9]*\) .*/\1/p' "$log" | tail -1)
    corpus=$(ls "$work" | wc -l)
    result=ok
    if [ "$rc" != 0 ] || [ "$(ls "$crashes" | wc -l)" != "$before" ]; then
        # shellcheck disable=SC2012
        result="FAILED (exit $rc): $(ls -t "$crashes" | head -1 | sed "s|^|$crashes/|"), see $log"
        status=1
    fi
    printf '%-7s %7s %10s %8s %6s %6s  %s\n' "$t" "$((t1 - t0))" "${runs:-?}" "${eps:-?}" \
        "${cov:-?}" "$corpus" "$result"
done
exit $status
