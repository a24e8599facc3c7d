#!/bin/sh
# bench/instr.sh — instructions per request, counted by valgrind's callgrind: the figure that
# a loaded machine does not disturb (req/s and CPU time do). Three servers, one at a time, each
# under `valgrind --tool=callgrind`:
#   ceiling     build/bench/mhd_ceiling, raw POST /v1/tools/calculator (the bench/http.sh ceiling)
#   calculator  build/toolgym serve --quiet, raw POST /v1/tools/calculator
#   step        build/toolgym serve --quiet --trajectories F, episode steps (calculator calls,
#               max_steps 8; the creates and the trajectory lines of finished episodes count)
# Each gets WARMUP requests from build/bench/episodes (one keep-alive client), then its counters
# are zeroed (callgrind_control -z), COUNT requests are sent, and the counters dumped
# (callgrind_control -d): instructions (Ir) of every server thread over those COUNT requests,
# divided by COUNT.
#
# usage: sh bench/instr.sh [BUILD_DIR]      (needs BUILD/toolgym, BUILD/bench/mhd_ceiling and
#                                            BUILD/bench/episodes: `make bench` builds them)
# Settings (environment): COUNT=2000, WARMUP=300, TARGETS="ceiling calculator step",
#   KEEP=DIR (keep the callgrind dumps there, for callgrind_annotate).
# Run as root, it runs the servers as nobody (setpriv): valgrind cannot follow the clone() with
# namespace flags by which a root server builds its sandbox, and without root the sandbox
# builds none. The tool and episode paths measured are the same either way.
# glibc is told to clear and copy large blocks with vector loops instead of `rep stosb` and
# `rep movsb`: valgrind counts each byte of a rep-prefixed instruction as one instruction, which
# would make libmicrohttpd's 32 kB memory-pool reset per request (the same in every server)
# weigh 30,000 instructions. Prints a markdown table; exits non-zero if a server fails to start
# or a request fails.
set -u
BUILD=$(cd "${1:-build}" 2>/dev/null && pwd) || { echo "instr.sh: no build folder ${1:-build}" >&2; exit 1; }
cd "$(dirname "$0")/.." || exit 1
COUNT=${COUNT:-2000}
WARMUP=${WARMUP:-300}
TARGETS=${TARGETS:-ceiling calculator step}

. "$(dirname "$0")/lib.sh"

TOOLGYM=$BUILD/toolgym
CEILING=$BUILD/bench/mhd_ceiling
DRIVER=$BUILD/bench/episodes
for b in "$TOOLGYM" "$CEILING" "$DRIVER"; do
    [ -x "$b" ] || { echo "instr.sh: $b is missing (run make bench)" >&2; exit 1; }
done
for t in valgrind callgrind_control; do
    command -v $t >/dev/null || { echo "instr.sh: $t is not installed (apt-get install valgrind)" >&2; exit 1; }
done
export GLIBC_TUNABLES=glibc.cpu.x86_rep_stosb_threshold=0xffffffffffff:glibc.cpu.x86_rep_movsb_threshold=0xffffffffffff
VG="valgrind --tool=callgrind --callgrind-out-file=$BENCH_TMP/cg.%p"
if [ "$(id -u)" = 0 ]; then
    command -v setpriv >/dev/null || { echo "instr.sh: as root it needs setpriv (util-linux)" >&2; exit 1; }
    VG="setpriv --reuid=65534 --regid=65534 --clear-groups $VG"
    chmod 0777 "$BENCH_TMP" # the servers write their dumps and the trajectory log here
fi

# drive PORT MODE N — N counted requests of MODE (raw|episodes) from one client; fails on errors
drive() {
    "$DRIVER" --server "http://127.0.0.1:$1" --clients 1 --count "$3" --only "$2" \
        >"$BENCH_TMP/drive.txt" 2>&1
    if [ $? -ne 0 ] || ! awk -F'|' 'NR == 3 && $6 + 0 == 0 { ok = 1 } END { exit !ok }' "$BENCH_TMP/drive.txt"; then
        echo "instr.sh: requests to port $1 failed:" >&2
        sed 's/^/  | /' "$BENCH_TMP/drive.txt" >&2
        return 1
    fi
}

# ir_of FILE — the instruction total of a callgrind dump
ir_of() {
    awk '/^summary:/ { print $2; exit } /^totals:/ { t = $2 } END { if (t) print t }' "$1" | head -n 1
}

for t in $TARGETS; do
    case $t in
        ceiling)
            bench_start "$BENCH_TMP/$t.log" $VG "$CEILING" --port 0 --threads 2 || exit 1
            mode=raw ;;
        calculator)
            bench_start "$BENCH_TMP/$t.log" $VG "$TOOLGYM" serve --host 127.0.0.1 --port 0 --quiet \
                --threads 2 || exit 1
            mode=raw ;;
        step)
            bench_start "$BENCH_TMP/$t.log" $VG "$TOOLGYM" serve --host 127.0.0.1 --port 0 --quiet \
                --threads 2 --trajectories "$BENCH_TMP/traj.jsonl" || exit 1
            mode=episodes ;;
        *) echo "instr.sh: unknown target $t" >&2; exit 1 ;;
    esac
    drive "$BENCH_PORT" $mode "$WARMUP" || exit 1
    callgrind_control -z "$BENCH_PID" >/dev/null 2>&1 || { echo "instr.sh: callgrind_control -z failed" >&2; exit 1; }
    drive "$BENCH_PORT" $mode "$COUNT" || exit 1
    callgrind_control -d "$BENCH_PID" >/dev/null 2>&1 || { echo "instr.sh: callgrind_control -d failed" >&2; exit 1; }
    dump=$(ls "$BENCH_TMP"/cg."$BENCH_PID".* 2>/dev/null | grep -v '\.out$' | tail -n 1)
    [ -n "$dump" ] || { echo "instr.sh: no callgrind dump for $t" >&2; exit 1; }
    echo "$t $(ir_of "$dump")" >>"$BENCH_TMP/ir"
    [ -n "${KEEP:-}" ] && mkdir -p "$KEEP" && cp "$dump" "$KEEP/callgrind.$t"
    bench_stop "$BENCH_PID"
done

echo "### Instructions per request (callgrind)"
echo
echo "$COUNT requests from one keep-alive client after $WARMUP warm-up ones; every server thread" \
    "counted; load average $(cut -d' ' -f1-3 /proc/loadavg) (does not affect these counts)"
echo
awk -v n="$COUNT" '
    BEGIN {
        print "| target | instructions / request | ratio to ceiling |"
        print "|---|---:|---:|"
    }
    { ir[$1] = $2 / n; order[NR] = $1 }
    END {
        for (i = 1; i <= NR; i++) {
            t = order[i]
            r = ("ceiling" in ir) ? sprintf("%.2fx", ir[t] / ir["ceiling"]) : "-"
            printf "| %s | %.0f | %s |\n", t, ir[t], r
        }
    }' "$BENCH_TMP/ir"
