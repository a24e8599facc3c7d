#!/bin/sh
# bench/http.sh — HTTP throughput of `POST /v1/tools/calculator` against the libmicrohttpd
# ceiling (bench/mhd_ceiling, same threading model, fixed reply), measured with wrk and
# keep-alive in the same run, on the same machine, with the same server thread count.
#
# usage: sh bench/http.sh [BUILD_DIR]        (default build; needs BUILD/toolgym and
#                                             BUILD/bench/mhd_ceiling: `make bench` builds both)
# Settings (environment): THREADS=2 server threads, WRK_THREADS=1, WRK_CONN=32, WRK_DUR=5s,
#   ROUNDS=3 (the targets alternate each round; the round with the median req/s is reported),
#   WARMUP=1s (one wrk run per target, discarded).
# Prints a markdown table: target, req/s, p50, p99, ratio to the ceiling. The target
# (calculator >= 0.8x ceiling) is reported, not asserted. Exits non-zero if a server fails to
# start, answers the check request wrongly, or wrk reports errors.
set -u
BUILD=$(cd "${1:-build}" 2>/dev/null && pwd) || { echo "http.sh: no build folder ${1:-build}" >&2; exit 1; }
cd "$(dirname "$0")/.." || exit 1 # the repository root: the server finds data/ from here
THREADS=${THREADS:-2}
WRK_THREADS=${WRK_THREADS:-1}
WRK_CONN=${WRK_CONN:-32}
WRK_DUR=${WRK_DUR:-5s}
ROUNDS=${ROUNDS:-3}
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
bench_start "$BENCH_TMP/toolgym.log" "$TOOLGYM" serve --host 127.0.0.1 --port 0 --quiet \
    --threads "$THREADS" || exit 1
TG_PORT=$BENCH_PORT

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

r=1
while [ $r -le "$ROUNDS" ]; do
    if [ $((r % 2)) -eq 1 ]; then order="ceiling calculator"; else order="calculator ceiling"; fi
    for t in $order; do
        if [ $t = ceiling ]; then port=$CEIL_PORT; else port=$TG_PORT; fi
        run_wrk $t "$port" "$WRK_DUR" "$BENCH_TMP/$t.$r.txt" || exit 1
        printf '%s %s %s %s\n' "$(wrk_field "$BENCH_TMP/$t.$r.txt" rps)" \
            "$(wrk_field "$BENCH_TMP/$t.$r.txt" p50)" "$(wrk_field "$BENCH_TMP/$t.$r.txt" p99)" \
            $r >>"$BENCH_TMP/$t.rounds"
    done
    r=$((r + 1))
done

# median round by req/s: "rps p50us p99us round"
median() {
    sort -n "$1" | awk '{ l[NR] = $0 } END { print l[int((NR + 1) / 2)] }'
}
CEIL=$(median "$BENCH_TMP/ceiling.rounds")
CALC=$(median "$BENCH_TMP/calculator.rounds")

echo "### HTTP throughput: POST /v1/tools/calculator"
echo
echo "wrk -t$WRK_THREADS -c$WRK_CONN -d$WRK_DUR --latency (keep-alive), server --threads $THREADS," \
    "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end; median of $ROUNDS rounds by req/s"
echo
printf '%s\n%s\n' "$CEIL" "$CALC" | awk -v ceil="$(echo "$CEIL" | cut -d' ' -f1)" '
    BEGIN {
        print "| target | req/s | p50 (ms) | p99 (ms) | ratio to ceiling |"
        print "|---|---:|---:|---:|---:|"
        name[1] = "mhd_ceiling (bench/mhd_ceiling.c)"
        name[2] = "toolgym calculator"
    }
    { printf "| %s | %.0f | %.3f | %.3f | %.2fx |\n", name[NR], $1, $2 / 1000, $3 / 1000, $1 / ceil
      ratio = $1 / ceil }
    END {
        printf "\ntarget calculator >= 0.80x ceiling: %s (%.2fx)\n", (ratio >= 0.8) ? "met" : "NOT met", ratio
    }'
echo
echo "all rounds (req/s p50us p99us round):"
for t in ceiling calculator; do
    printf '  %-10s' $t
    awk '{ printf " [%.0f %.0f %.0f]", $1, $2, $3 }' "$BENCH_TMP/$t.rounds"
    echo
done
