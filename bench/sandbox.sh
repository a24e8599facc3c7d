#!/bin/sh
# bench/sandbox.sh — print(1) through POST /v1/tools/run_code against the floor (plain
# posix_spawn + wait of /usr/bin/python3 -I -S -c 'print(1)'), in the same run, at 1, 2, 4
# and 8 concurrent clients. bench/sandbox_load does the measuring; this script starts the
# server, checks it, and prints a markdown table.
#
# usage: sh bench/sandbox.sh [BUILD_DIR]     (default build; needs BUILD/toolgym and
#                                             BUILD/bench/sandbox_load: `make bench` builds both)
# Settings (environment): RUNS=300 runs per target and concurrency, CONC=1,2,4,8,
#   RUN_WORKERS=0 (server default: number of cores), RUN_QUEUE=64, CPU_RUNS=200 (the in-process
#   CPU table of build/bench/sandbox_cpu, when built).
# Targets (reported, not asserted): median overhead <= 5 ms over the floor at concurrency 1;
# run_code runs/s >= 0.9x the floor's at each concurrency. Needs root (the sandbox fails
# closed otherwise). Exits non-zero if the server fails to start or any run fails.
set -u
BUILD=$(cd "${1:-build}" 2>/dev/null && pwd) || { echo "sandbox.sh: no build folder ${1:-build}" >&2; exit 1; }
cd "$(dirname "$0")/.." || exit 1
RUNS=${RUNS:-300}
CONC=${CONC:-1,2,4,8}
RUN_WORKERS=${RUN_WORKERS:-0}
RUN_QUEUE=${RUN_QUEUE:-64}
CPU_RUNS=${CPU_RUNS:-200}

. "$(dirname "$0")/lib.sh"

TOOLGYM=$BUILD/toolgym
LOAD=$BUILD/bench/sandbox_load
for b in "$TOOLGYM" "$LOAD"; do
    [ -x "$b" ] || { echo "sandbox.sh: $b is missing (run make bench)" >&2; exit 1; }
done

set -- serve --host 127.0.0.1 --port 0 --quiet --run-queue "$RUN_QUEUE"
[ "$RUN_WORKERS" -gt 0 ] && set -- "$@" --run-workers "$RUN_WORKERS"
bench_start "$BENCH_TMP/toolgym.log" "$TOOLGYM" "$@" || exit 1
URL="http://127.0.0.1:$BENCH_PORT"

health=$(curl -s "$URL/healthz")
out=$(curl -s -X POST -H 'Content-Type: application/json' \
    -d '{"arguments":{"code":"print(1)"}}' "$URL/v1/tools/run_code")
case "$out" in
    *'"ok":true'*) ;;
    *) echo "sandbox.sh: run_code check failed: $out (healthz: $health)" >&2; exit 1 ;;
esac
echo "host: $(nproc) cores, $(uname -r); server $health"
echo "runs per cell: $RUNS; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

"$LOAD" "$URL" "$RUNS" "$CONC" >"$BENCH_TMP/load.txt"
rc=$?
[ $rc -eq 0 ] || echo "sandbox.sh: some runs failed (see errors column)" >&2

awk '
    $1 == "floor"    { frps[$2] = $3; fmed[$2] = $4; fp99[$2] = $5; ferr[$2] = $6; order[n++] = $2 }
    $1 == "run_code" { rrps[$2] = $3; rmed[$2] = $4; rp99[$2] = $5; rerr[$2] = $6 }
    END {
        print "| clients | floor runs/s | run_code runs/s | ratio | floor p50 ms | run_code p50 ms | overhead p50 ms | floor p99 ms | run_code p99 ms | errors |"
        print "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        for (i = 0; i < n; i++) {
            c = order[i]
            printf "| %d | %.1f | %.1f | %.2f | %.2f | %.2f | %+.2f | %.2f | %.2f | %d |\n",
                c, frps[c], rrps[c], (frps[c] > 0 ? rrps[c] / frps[c] : 0), fmed[c], rmed[c],
                rmed[c] - fmed[c], fp99[c], rp99[c], ferr[c] + rerr[c]
        }
        c = order[0]
        printf "\ntarget: median overhead <= 5 ms at %d client(s): %s (%+.2f ms)\n", c,
            (rmed[c] - fmed[c] <= 5 ? "met" : "NOT met"), rmed[c] - fmed[c]
        miss = ""
        for (i = 0; i < n; i++) { c = order[i]; if (rrps[c] < 0.9 * frps[c]) miss = miss " " c }
        printf "target: runs/s >= 0.9x floor at every concurrency: %s\n",
            (miss == "" ? "met" : "NOT met at" miss)
    }' "$BENCH_TMP/load.txt"

# CPU per run, in one process: steadier than wall time on a shared machine.
CPU=$BUILD/bench/sandbox_cpu
if [ -x "$CPU" ]; then
    echo
    echo "CPU per run (bench/sandbox_cpu: sandbox_run called directly against posix_spawn, $CPU_RUNS runs each, interleaved in blocks of 20):"
    echo
    "$CPU" "$CPU_RUNS" || rc=1
fi
exit $rc
