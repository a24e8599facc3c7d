#!/bin/sh
# bench/http.sh — HTTP throughput of `POST /v1/tools/calculator` against the libmicrohttpd
# ceiling (bench/mhd_ceiling, same threading model, fixed reply), measured with wrk and
# keep-alive in the same run, on the same machine, with the same server thread count.
#
# usage: sh bench/http.sh [BUILD_DIR]        (default build; needs BUILD/toolgym and
#                                             BUILD/bench/mhd_ceiling: `make bench` builds both)
# Settings (environment): THREADS=2 server threads, WRK_THREADS=1, WRK_CONN=32, WRK_DUR=5s,
#   ROUNDS=5 (each round runs both targets back to back, alternating which goes first),
#   WARMUP=1s (one wrk run per target, discarded).
# Prints a markdown table: target, req/s, p50, p99, server CPU per request (from /proc), and
# the ratio to the ceiling (median of the per-round ratios). The target
# (calculator >= 0.8x ceiling) is reported, not asserted. Exits non-zero if a server fails to
# start, answers the check request wrongly, or wrk reports errors.
set -u
BUILD=$(cd "${1:-build}" 2>/dev/null && pwd) || { echo "http.sh: no build folder ${1:-build}" >&2; exit 1; }
cd "$(dirname "$0")/.." || exit 1 # the repository root: the server finds data/ from here
THREADS=${THREADS:-2}
WRK_THREADS=${WRK_THREADS:-1}
WRK_CONN=${WRK_CONN:-32}
WRK_DUR=${WRK_DUR:-5s}
ROUNDS=${ROUNDS:-5}
WARMUP=${WARMUP:-1s}

. "$(dirname "$0")/lib.sh"

TOOLGYM=$BUILD/toolgym
CEILING=$BUILD/bench/mhd_ceiling
BODY='{"arguments":{"expression":"(3+4)*12/7-2^5"}}'
EXPECT='"value":-20'

for b in "$TOOLGYM" "$CEILING"; do
    [ -x "$b" ] || { echo "http.sh: $b is missing (run make bench)" >&2; exit 1; }
done
command -v wrk >/dev/null || { echo "http.sh: wrk is not installed (apt-get install wrk)" >&2; exit 1; }

cat >"$BENCH_TMP/post.lua" <<EOF
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["Content-Type"] = "application/json"
EOF

bench_start "$BENCH_TMP/ceiling.log" "$CEILING" --port 0 --threads "$THREADS" || exit 1
CEIL_PORT=$BENCH_PORT
CEIL_PID=$BENCH_PID
bench_start "$BENCH_TMP/toolgym.log" "$TOOLGYM" serve --host 127.0.0.1 --port 0 --quiet \
    --threads "$THREADS" || exit 1
TG_PORT=$BENCH_PORT
TG_PID=$BENCH_PID

# check: both answer the benchmark request with the right value
for t in ceiling calculator; do
    if [ $t = ceiling ]; then port=$CEIL_PORT; else port=$TG_PORT; fi
    out=$(curl -s -X POST -H 'Content-Type: application/json' -d "$BODY" \
        -w ' %{http_code}' "http://127.0.0.1:$port/v1/tools/calculator")
    case "$out" in
        *"$EXPECT"*" 200") ;;
        *) echo "http.sh: $t answered the check request with: $out" >&2; exit 1 ;;
    esac
done

# cpu_ticks PID — user+system CPU time of a process so far, in clock ticks
cpu_ticks() {
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}
HZ=$(getconf CLK_TCK)

# run_wrk TARGET PORT DURATION OUT
run_wrk() {
    wrk -t"$WRK_THREADS" -c"$WRK_CONN" -d"$3" --latency -s "$BENCH_TMP/post.lua" \
        "http://127.0.0.1:$2/v1/tools/calculator" >"$4" 2>&1
    rc=$?
    if [ $rc -ne 0 ] || [ "$(wrk_field "$4" errors)" != 0 ]; then
        echo "http.sh: wrk against $1 failed (exit $rc) or reported errors:" >&2
        sed 's/^/  | /' "$4" >&2
        return 1
    fi
}

run_wrk ceiling "$CEIL_PORT" "$WARMUP" "$BENCH_TMP/warm.txt" || exit 1
run_wrk calculator "$TG_PORT" "$WARMUP" "$BENCH_TMP/warm.txt" || exit 1

# Each round runs both targets back to back, so a round's ratio compares them under the same
# background load; the server's own CPU time per request is measured too (from /proc), which
# other load on the machine disturbs much less than req/s.
r=1
while [ $r -le "$ROUNDS" ]; do
    if [ $((r % 2)) -eq 1 ]; then order="ceiling calculator"; else order="calculator ceiling"; fi
    for t in $order; do
        if [ $t = ceiling ]; then port=$CEIL_PORT pid=$CEIL_PID; else port=$TG_PORT pid=$TG_PID; fi
        out=$BENCH_TMP/$t.$r.txt
        c0=$(cpu_ticks "$pid")
        run_wrk $t "$port" "$WRK_DUR" "$out" || exit 1
        c1=$(cpu_ticks "$pid")
        reqs=$(awk '/ requests in / { print $1 }' "$out")
        # rps p50us p99us cpu_us_per_request round
        printf '%s %s %s %s %s\n' "$(wrk_field "$out" rps)" "$(wrk_field "$out" p50)" \
            "$(wrk_field "$out" p99)" \
            "$(awk -v t=$((c1 - c0)) -v hz="$HZ" -v n="$reqs" 'BEGIN { printf "%.3f", t * 1e6 / hz / n }')" \
            $r >>"$BENCH_TMP/$t.rounds"
    done
    r=$((r + 1))
done

# median COLUMN FILE — the median of one column
median() {
    awk -v c="$1" '{ print $c }' "$2" | sort -g | awk '{ l[NR] = $0 } END { print l[int((NR + 1) / 2)] }'
}
# per-round ratios calculator/ceiling: by req/s, and by CPU per request (ceiling/calculator)
paste -d' ' "$BENCH_TMP/ceiling.rounds" "$BENCH_TMP/calculator.rounds" |
    awk '{ print $6 / $1, $4 / $9 }' >"$BENCH_TMP/ratios"
RATIO=$(median 1 "$BENCH_TMP/ratios")
CPU_RATIO=$(median 2 "$BENCH_TMP/ratios")

echo "### HTTP throughput: POST /v1/tools/calculator"
echo
echo "wrk -t$WRK_THREADS -c$WRK_CONN -d$WRK_DUR --latency (keep-alive), server --threads $THREADS," \
    "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end; $ROUNDS rounds," \
    "medians per column"
echo
{
    echo "mhd_ceiling~(bench/mhd_ceiling.c) $(for c in 1 2 3 4; do median $c "$BENCH_TMP/ceiling.rounds"; done | tr '\n' ' ') 1"
    echo "toolgym~calculator $(for c in 1 2 3 4; do median $c "$BENCH_TMP/calculator.rounds"; done | tr '\n' ' ') $RATIO"
} | awk '
    BEGIN {
        print "| target | req/s | p50 (ms) | p99 (ms) | server CPU (us/request) | req/s ratio to ceiling |"
        print "|---|---:|---:|---:|---:|---:|"
    }
    { gsub(/~/, " ", $1); printf "| %s | %.0f | %.3f | %.3f | %.2f | %.2fx |\n", $1, $2, $3 / 1000, $4 / 1000, $5, $6 }'
echo
awk -v r="$RATIO" -v c="$CPU_RATIO" 'BEGIN {
    printf "ratio (median of per-round ratios): %.2fx by req/s, %.2fx by server CPU per request\n", r, c
    printf "target calculator >= 0.80x ceiling: %s\n", (r >= 0.8) ? "met" : "NOT met"
}'
echo
echo "all rounds [req/s p50us p99us cpu_us/request]:"
for t in ceiling calculator; do
    printf '  %-10s' $t
    awk '{ printf " [%.0f %.0f %.0f %.2f]", $1, $2, $3, $4 }' "$BENCH_TMP/$t.rounds"
    echo
done
