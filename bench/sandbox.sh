#!/bin/sh
# bench/sandbox.sh — print(1) through POST /v1/tools/run_code against the floor (plain
# posix_spawn + wait of /usr/bin/python3 -I -S -c 'print(1)'), in the same run, at 1, 2, 4
# and 8 concurrent clients, for each sandbox mode this user can start and both run modes
# (--run-mode cold: python3 exec'd per run; warm: forked from a zygote per slot): as root, a
# root-mode server and a rootless one (run as ROOTLESS_USER from a copy of the binary and data
# it can read) of each run mode; as anyone else, the rootless ones only. bench/sandbox_load
# does the measuring, the targets taking turns in ROUNDS blocks so that all see the same
# machine; this script starts the servers, checks them, and prints a markdown table.
#
# usage: sh bench/sandbox.sh [BUILD_DIR]     (default build; needs BUILD/toolgym and
#                                             BUILD/bench/sandbox_load: `make bench` builds both)
# Settings (environment): RUNS=300 runs per target and concurrency, CONC=1,2,4,8, ROUNDS=5,
#   RUN_WORKERS=0 (server default: number of cores), RUN_QUEUE=64, CPU_RUNS=200 (the in-process
#   CPU table of build/bench/sandbox_cpu, when built), ROOTLESS_USER=nobody,
#   RUN_MODES="cold warm".
# Targets (reported, not asserted): cold: median overhead <= 5 ms over the floor at
# concurrency 1, runs/s >= 0.9x the floor's at each concurrency, rootless median within +1 ms
# of the root mode's at concurrency 1; warm (issue 14): median <= 0.5x the floor's at
# concurrency 1 and runs/s >= 1.5x the floor's at each concurrency. Exits non-zero if a server
# fails to start or any run fails.
set -u
BUILD=$(cd "${1:-build}" 2>/dev/null && pwd) || { echo "sandbox.sh: no build folder ${1:-build}" >&2; exit 1; }
cd "$(dirname "$0")/.." || exit 1
REPO=$(pwd)
RUNS=${RUNS:-300}
CONC=${CONC:-1,2,4,8}
ROUNDS=${ROUNDS:-5}
RUN_WORKERS=${RUN_WORKERS:-0}
RUN_QUEUE=${RUN_QUEUE:-64}
CPU_RUNS=${CPU_RUNS:-200}
WHO=${ROOTLESS_USER:-nobody}
RUN_MODES=${RUN_MODES:-cold warm}

. "$(dirname "$0")/lib.sh"

TOOLGYM=$BUILD/toolgym
LOAD=$BUILD/bench/sandbox_load
CPU=$BUILD/bench/sandbox_cpu
for b in "$TOOLGYM" "$LOAD"; do
    [ -x "$b" ] || { echo "sandbox.sh: $b is missing (run make bench)" >&2; exit 1; }
done

set -- serve --host 127.0.0.1 --port 0 --quiet --run-queue "$RUN_QUEUE"
[ "$RUN_WORKERS" -gt 0 ] && set -- "$@" --run-workers "$RUN_WORKERS"

# check NAME URL: one print(1) must come back ok
check() {
    _out=$(curl -s -X POST -H 'Content-Type: application/json' \
        -d '{"arguments":{"code":"print(1)"}}' "$2/v1/tools/run_code")
    case "$_out" in
        *'"ok":true'*) return 0 ;;
    esac
    echo "sandbox.sh: $1 run_code check failed: $_out (healthz: $(curl -s "$2/healthz"))" >&2
    return 1
}

TARGETS=""
ROOTLESS_DIR=""
URLS=""
# start NAME LOG ARGS...: a server, checked; appends NAME=URL to TARGETS
start() {
    _name=$1 _log=$2
    shift 2
    bench_start "$_log" "$@" || exit 1
    check "$_name" "http://127.0.0.1:$BENCH_PORT" || exit 1
    TARGETS="${TARGETS:+$TARGETS,}$_name=http://127.0.0.1:$BENCH_PORT"
    URLS="$URLS $_name=http://127.0.0.1:$BENCH_PORT"
}
if [ "$(id -u)" = 0 ]; then
    for m in $RUN_MODES; do
        start "root-$m" "$BENCH_TMP/root-$m.log" "$TOOLGYM" "$@" --sandbox-mode root --run-mode "$m"
    done
    # the rootless servers run as $WHO, from a copy it can read wherever the checkout is
    ROOTLESS_DIR=$(mktemp -d /tmp/toolgym-bench-rootless.XXXXXX) || exit 1
    trap 'bench_cleanup; rm -rf "$ROOTLESS_DIR"' EXIT
    mkdir -p "$ROOTLESS_DIR/build/bench" && cp "$TOOLGYM" "$ROOTLESS_DIR/build/" &&
        { [ ! -x "$CPU" ] || cp "$CPU" "$ROOTLESS_DIR/build/bench/"; } &&
        cp -R "$REPO/data" "$ROOTLESS_DIR/data" && chmod -R a+rX "$ROOTLESS_DIR" || exit 1
    for m in $RUN_MODES; do
        start "rootless-$m" "$BENCH_TMP/rootless-$m.log" setpriv --reuid="$(id -u "$WHO")" \
            --regid="$(id -g "$WHO")" --clear-groups "$ROOTLESS_DIR/build/toolgym" "$@" \
            --sandbox-mode rootless --run-mode "$m"
    done
else
    echo "(root mode needs root: measuring the rootless mode only)"
    for m in $RUN_MODES; do
        start "rootless-$m" "$BENCH_TMP/rootless-$m.log" "$TOOLGYM" "$@" --sandbox-mode rootless \
            --run-mode "$m"
    done
fi

echo "host: $(nproc) cores, $(uname -r), commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null)"
for u in $URLS; do
    echo "${u%%=*} server: $(curl -s "${u#*=}/healthz")"
done
echo "runs per cell: $RUNS in $ROUNDS turns; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

"$LOAD" "$TARGETS" "$RUNS" "$CONC" "$ROUNDS" >"$BENCH_TMP/load.txt"
rc=$?
[ $rc -eq 0 ] || echo "sandbox.sh: some runs failed (see errors column)" >&2
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

awk '
    {
        rps[$1, $2] = $3; med[$1, $2] = $4; p99[$1, $2] = $5; err[$2] += $6
        if ($1 == "floor" && !($2 in seenc)) { seenc[$2] = 1; order[n++] = $2 }
        if ($1 != "floor" && !($1 in seen)) { seen[$1] = 1; tg[nt++] = $1 }
    }
    END {
        printf "| clients | floor runs/s |"
        for (j = 0; j < nt; j++) printf " %s runs/s (x floor) |", tg[j]
        printf " floor p50 ms |"
        for (j = 0; j < nt; j++) printf " %s p50 ms (x floor) |", tg[j]
        printf " floor p99 ms |"
        for (j = 0; j < nt; j++) printf " %s p99 ms |", tg[j]
        printf " errors |\n|---:|---:|"
        for (j = 0; j < 3 * nt + 2; j++) printf "---:|"
        printf "---:|\n"
        for (i = 0; i < n; i++) {
            c = order[i]
            printf "| %d | %.1f |", c, rps["floor", c]
            for (j = 0; j < nt; j++) printf " %.1f (%.2f) |", rps[tg[j], c], rps[tg[j], c] / rps["floor", c]
            printf " %.2f |", med["floor", c]
            for (j = 0; j < nt; j++) printf " %.2f (%.2f) |", med[tg[j], c], med[tg[j], c] / med["floor", c]
            printf " %.2f |", p99["floor", c]
            for (j = 0; j < nt; j++) printf " %.2f |", p99[tg[j], c]
            printf " %d |\n", err[c]
        }
        c = order[0]
        print ""
        for (j = 0; j < nt; j++) {
            t = tg[j]
            if (t ~ /warm$/) {
                printf "target (%s): median <= 0.5x the floor at %d client(s): %s (%.2fx)\n", t, c,
                    (med[t, c] <= 0.5 * med["floor", c] ? "met" : "NOT met"), med[t, c] / med["floor", c]
                miss = ""
                for (i = 0; i < n; i++) { k = order[i]; if (rps[t, k] < 1.5 * rps["floor", k]) miss = miss " " k }
                printf "target (%s): runs/s >= 1.5x floor at every concurrency: %s\n", t,
                    (miss == "" ? "met" : "NOT met at" miss)
            } else {
                printf "target (%s): median overhead <= 5 ms at %d client(s): %s (%+.2f ms)\n", t, c,
                    (med[t, c] - med["floor", c] <= 5 ? "met" : "NOT met"), med[t, c] - med["floor", c]
                miss = ""
                for (i = 0; i < n; i++) { k = order[i]; if (rps[t, k] < 0.9 * rps["floor", k]) miss = miss " " k }
                printf "target (%s): runs/s >= 0.9x floor at every concurrency: %s\n", t,
                    (miss == "" ? "met" : "NOT met at" miss)
            }
        }
        if (("root-cold" in seen) && ("rootless-cold" in seen))
            printf "target: rootless median within +1 ms of root mode at %d client(s), cold: %s (%+.2f ms)\n",
                c, (med["rootless-cold", c] - med["root-cold", c] <= 1 ? "met" : "NOT met"),
                med["rootless-cold", c] - med["root-cold", c]
    }' "$BENCH_TMP/load.txt"

# CPU per run, in one process: steadier than wall time on a shared machine.
if [ -x "$CPU" ]; then
    echo
    echo "CPU per run (bench/sandbox_cpu: sandbox_run called directly against posix_spawn, $CPU_RUNS runs each, interleaved in blocks of 20, per run mode):"
    for m in $RUN_MODES; do
        echo
        if [ "$(id -u)" = 0 ]; then
            "$CPU" "$CPU_RUNS" "$m" || rc=1
            echo
            (cd "$ROOTLESS_DIR" && setpriv --reuid="$(id -u "$WHO")" --regid="$(id -g "$WHO")" \
                --clear-groups build/bench/sandbox_cpu "$CPU_RUNS" "$m") || rc=1
        else
            "$CPU" "$CPU_RUNS" "$m" || rc=1
        fi
    done
fi
exit $rc
