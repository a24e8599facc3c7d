#!/bin/sh
# bench/instr.sh — instructions per request, counted by valgrind's callgrind: the figure that
# a loaded machine does not disturb (req/s and CPU time do). Three servers, each under
# `valgrind --tool=callgrind`:
#   ceiling     build/bench/mhd_ceiling, raw POST /v1/tools/calculator (the bench/http.sh ceiling)
#   calculator  build/toolgym serve --quiet, raw POST /v1/tools/calculator
#   step        build/toolgym serve --quiet --trajectories F, episode steps (calculator calls,
#               max_steps 8; the creates and the trajectory lines of finished episodes count)
# Each server is run twice from start to exit (SIGTERM): once sent WARMUP requests, once
# WARMUP+COUNT, by build/bench/episodes (one keep-alive client, --count, --only). Start-up,
# warm-up and shut-down cost the same in both runs, so the difference of the two totals
# (instructions, Ir, of every thread) divided by COUNT is the cost of one request in steady
# state. (No callgrind_control: vgdb stops a server blocked in epoll_wait and can hang there.)
#
# usage: sh bench/instr.sh [BUILD_DIR]      (needs BUILD/toolgym, BUILD/bench/mhd_ceiling and
#                                            BUILD/bench/episodes: `make bench` builds them)
# Settings (environment): COUNT=2000, WARMUP=200, TARGETS="ceiling calculator step",
#   KEEP=DIR (keep the callgrind dumps there, for callgrind_annotate).
# valgrind cannot follow the clone() with namespace flags by which the server builds its
# sandbox (root mode, and rootless mode on user namespaces): it exits. So the servers run with
# a preloaded shim (built here with cc) whose clone() and unshare() fail with EPERM; the server
# then starts with run_code disabled, as on a host without namespaces. Run as root, it also
# runs the servers as nobody (setpriv). The tool and episode paths measured are the same.
# glibc is told to clear and copy large blocks with vector loops instead of `rep stosb` and
# `rep movsb`: valgrind counts each byte of a rep-prefixed instruction as one instruction, which
# would make libmicrohttpd's 32 kB memory-pool reset per request (the same in every server)
# weigh 30,000 instructions. Prints a markdown table; exits non-zero if a server fails to start
# or a request fails.
set -u
BUILD=$(cd "${1:-build}" 2>/dev/null && pwd) || { echo "instr.sh: no build folder ${1:-build}" >&2; exit 1; }
cd "$(dirname "$0")/.." || exit 1
COUNT=${COUNT:-2000}
WARMUP=${WARMUP:-200}
TARGETS=${TARGETS:-ceiling calculator step}

. "$(dirname "$0")/lib.sh"

TOOLGYM=$BUILD/toolgym
CEILING=$BUILD/bench/mhd_ceiling
DRIVER=$BUILD/bench/episodes
for b in "$TOOLGYM" "$CEILING" "$DRIVER"; do
    [ -x "$b" ] || { echo "instr.sh: $b is missing (run make bench)" >&2; exit 1; }
done
for t in valgrind cc; do
    command -v $t >/dev/null || { echo "instr.sh: $t is not installed (apt-get install valgrind gcc)" >&2; exit 1; }
done
cat >"$BENCH_TMP/noclone.c" <<'EOF'
#include <errno.h>
int clone(int (*fn)(void *), void *stack, int flags, void *arg, ...);
int unshare(int flags);
int clone(int (*fn)(void *), void *stack, int flags, void *arg, ...) {
    (void)fn, (void)stack, (void)flags, (void)arg;
    errno = EPERM;
    return -1;
}
int unshare(int flags) {
    (void)flags;
    errno = EPERM;
    return -1;
}
EOF
cc -O2 -shared -fPIC -o "$BENCH_TMP/noclone.so" "$BENCH_TMP/noclone.c" ||
    { echo "instr.sh: cannot build the clone() shim" >&2; exit 1; }
chmod 0755 "$BENCH_TMP/noclone.so"
export GLIBC_TUNABLES=glibc.cpu.x86_rep_stosb_threshold=0xffffffffffff:glibc.cpu.x86_rep_movsb_threshold=0xffffffffffff
VG="env LD_PRELOAD=$BENCH_TMP/noclone.so valgrind --tool=callgrind --callgrind-out-file=$BENCH_TMP/cg.%p"
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

# run_once TARGET N — start TARGET's server under callgrind, send it N requests, stop it;
# prints the instruction total of its dump
run_once() {
    case $1 in
        ceiling)
            bench_start "$BENCH_TMP/$1.log" $VG "$CEILING" --port 0 --threads 2 || return 1
            mode=raw ;;
        calculator)
            bench_start "$BENCH_TMP/$1.log" $VG "$TOOLGYM" serve --host 127.0.0.1 --port 0 --quiet \
                --threads 2 || return 1
            mode=raw ;;
        step)
            rm -f "$BENCH_TMP/traj.jsonl"
            bench_start "$BENCH_TMP/$1.log" $VG "$TOOLGYM" serve --host 127.0.0.1 --port 0 --quiet \
                --threads 2 --trajectories "$BENCH_TMP/traj.jsonl" || return 1
            mode=episodes ;;
        *) echo "instr.sh: unknown target $1" >&2; return 1 ;;
    esac
    _pid=$BENCH_PID
    drive "$BENCH_PORT" $mode "$2" || return 1
    bench_stop "$_pid"
    _dump="$BENCH_TMP/cg.$_pid"
    [ -s "$_dump" ] || { echo "instr.sh: no callgrind dump for $1" >&2; return 1; }
    [ -n "${KEEP:-}" ] && mkdir -p "$KEEP" && cp "$_dump" "$KEEP/callgrind.$1.$2"
    _ir=$(ir_of "$_dump")
    rm -f "$_dump"
    [ -n "$_ir" ] || { echo "instr.sh: no totals in the dump for $1" >&2; return 1; }
    echo "$_ir"
}

for t in $TARGETS; do
    a=$(run_once "$t" "$WARMUP") || exit 1
    b=$(run_once "$t" $((WARMUP + COUNT))) || exit 1
    echo "$t $((b - a))" >>"$BENCH_TMP/ir"
done

echo "### Instructions per request (callgrind)"
echo
echo "(run of $((WARMUP + COUNT)) requests) - (run of $WARMUP), one keep-alive client, every server" \
    "thread counted, divided by $COUNT; load average $(cut -d' ' -f1-3 /proc/loadavg) (does not affect these counts)"
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
