#!/bin/sh
# bench/sandbox.sh — print(1) through POST /v1/tools/run_code against the floor (plain
# posix_spawn + wait of /usr/bin/python3 -I -S -c 'print(1)'), in the same run, at 1, 2, 4
# and 8 concurrent clients, for each sandbox mode this user can start: as root, a root-mode
# server and a rootless one (run as ROOTLESS_USER from a copy of the binary and data it can
# read); as anyone else, the rootless one only. bench/sandbox_load does the measuring, the
# targets taking turns in ROUNDS blocks so that all see the same machine; this script starts
# the servers, checks them, and prints a markdown table.
#
# usage: sh bench/sandbox.sh [BUILD_DIR]     (default build; needs BUILD/toolgym and
#                                             BUILD/bench/sandbox_load: `make bench` builds both)
# Settings (environment): RUNS=300 runs per target and concurrency, CONC=1,2,4,8, ROUNDS=5,
#   RUN_WORKERS=0 (server default: number of cores), RUN_QUEUE=64, CPU_RUNS=200 (the in-process
#   CPU table of build/bench/sandbox_cpu, when built), ROOTLESS_USER=nobody.
# Targets (reported, not asserted): median overhead <= 5 ms over the floor at concurrency 1;
# run_code runs/s >= 0.9x the floor's at each concurrency; rootless median within +1 ms of the
# root mode's at concurrency 1. Exits non-zero if a server fails to start or any run fails.
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
if [ "$(id -u)" = 0 ]; then
    bench_start "$BENCH_TMP/root.log" "$TOOLGYM" "$@" --sandbox-mode root || exit 1
    ROOT_URL="http://127.0.0.1:$BENCH_PORT"
    check root "$ROOT_URL" || exit 1
    TARGETS="root=$ROOT_URL"
    # the rootless server runs as $WHO, from a copy it can read wherever the checkout is
    ROOTLESS_DIR=$(mktemp -d /tmp/toolgym-bench-rootless.XXXXXX) || exit 1
    trap 'bench_cleanup; rm -rf "$ROOTLESS_DIR"' EXIT
    mkdir -p "$ROOTLESS_DIR/build/bench" && cp "$TOOLGYM" "$ROOTLESS_DIR/build/" &&
        { [ ! -x "$CPU" ] || cp "$CPU" "$ROOTLESS_DIR/build/bench/"; } &&
        cp -R "$REPO/data" "$ROOTLESS_DIR/data" && chmod -R a+rX "$ROOTLESS_DIR" || exit 1
    bench_start "$BENCH_TMP/rootless.log" setpriv --reuid="$(id -u "$WHO")" \
        --regid="$(id -g "$WHO")" --clear-groups "$ROOTLESS_DIR/build/toolgym" "$@" \
        --sandbox-mode rootless || exit 1
else
    echo "(root mode needs root: measuring the rootless mode only)"
    bench_start "$BENCH_TMP/rootless.log" "$TOOLGYM" "$@" --sandbox-mode rootless || exit 1
fi
ROOTLESS_URL="http://127.0.0.1:$BENCH_PORT"
check rootless "$ROOTLESS_URL" || exit 1
TARGETS="${TARGETS:+$TARGETS,}rootless=$ROOTLESS_URL"

echo "host: $(nproc) cores, $(uname -r)"
[ -n "${ROOT_URL:-}" ] && echo "root server: $(curl -s "$ROOT_URL/healthz")"
echo "rootless server: $(curl -s "$ROOTLESS_URL/healthz")"
echo "runs per cell: $RUNS in $ROUNDS turns; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

"$LOAD" "$TARGETS" "$RUNS" "$CONC" "$ROUNDS" >"$BENCH_TMP/load.txt"
rc=$?
[ $rc -eq 0 ] || echo "sandbox.sh: some runs failed (see errors column)" >&2

awk '
    { rps[$1, $2] = $3; med[$1, $2] = $4; p99[$1, $2] = $5; err[$2] += $6; seen[$1] = 1 }
    $1 == "floor" { order[n++] = $2 }
    END {
        root = ("root" in seen)
        printf "| clients | floor runs/s |%s rootless runs/s | floor p50 ms |%s rootless p50 ms |%s rootless over %s p50 ms | floor p99 ms |%s rootless p99 ms | errors |\n",
            root ? " root runs/s |" : "", root ? " root p50 ms |" : "",
            root ? " root over floor p50 ms |" : "", root ? "root" : "floor",
            root ? " root p99 ms |" : ""
        printf "|---:|---:|%s---:|---:|%s---:|%s---:|---:|%s---:|---:|\n",
            root ? "---:|" : "", root ? "---:|" : "", root ? "---:|" : "", root ? "---:|" : ""
        for (i = 0; i < n; i++) {
            c = order[i]
            base = root ? med["root", c] : med["floor", c]
            printf "| %d | %.1f |", c, rps["floor", c]
            if (root) printf " %.1f |", rps["root", c]
            printf " %.1f | %.2f |", rps["rootless", c], med["floor", c]
            if (root) printf " %.2f |", med["root", c]
            printf " %.2f |", med["rootless", c]
            if (root) printf " %+.2f |", med["root", c] - med["floor", c]
            printf " %+.2f | %.2f |", med["rootless", c] - base, p99["floor", c]
            if (root) printf " %.2f |", p99["root", c]
            printf " %.2f | %d |\n", p99["rootless", c], err[c]
        }
        c = order[0]
        print ""
        split(root ? "root rootless" : "rootless", modes, " ")
        for (m = 1; m in modes; m++) {
            t = modes[m]
            printf "target (%s): median overhead <= 5 ms at %d client(s): %s (%+.2f ms)\n", t, c,
                (med[t, c] - med["floor", c] <= 5 ? "met" : "NOT met"), med[t, c] - med["floor", c]
            miss = ""
            for (i = 0; i < n; i++) { k = order[i]; if (rps[t, k] < 0.9 * rps["floor", k]) miss = miss " " k }
            printf "target (%s): runs/s >= 0.9x floor at every concurrency: %s\n", t,
                (miss == "" ? "met" : "NOT met at" miss)
        }
        if (root)
            printf "target: rootless median within +1 ms of root mode at %d client(s): %s (%+.2f ms)\n",
                c, (med["rootless", c] - med["root", c] <= 1 ? "met" : "NOT met"),
                med["rootless", c] - med["root", c]
    }' "$BENCH_TMP/load.txt"

# CPU per run, in one process: steadier than wall time on a shared machine.
if [ -x "$CPU" ]; then
    echo
    echo "CPU per run (bench/sandbox_cpu: sandbox_run called directly against posix_spawn, $CPU_RUNS runs each, interleaved in blocks of 20):"
    if [ "$(id -u)" = 0 ]; then
        echo
        "$CPU" "$CPU_RUNS" || rc=1
        echo
        (cd "$ROOTLESS_DIR" && setpriv --reuid="$(id -u "$WHO")" --regid="$(id -g "$WHO")" \
            --clear-groups build/bench/sandbox_cpu "$CPU_RUNS") || rc=1
    else
        echo
        "$CPU" "$CPU_RUNS" || rc=1
    fi
fi
exit $rc
