#!/bin/sh
# bench/search.sh — search latency over HTTP with generated corpora of 1k, 10k and 100k
# documents: for each size, generate the corpus (`toolgym corpus gen`), start
# `toolgym serve --corpus FILE`, and time sequential keep-alive `POST /v1/tools/search` calls
# with bench/http_lat over a fixed set of queries.
#
# usage: sh bench/search.sh [BUILD_DIR]      (default build; needs BUILD/toolgym and
#                                             BUILD/bench/http_lat: `make bench` builds both)
# Settings (environment): SIZES="1000 10000 100000", SEED=7, REQUESTS=2000, WARMUP=200, K=5,
#   THREADS=2 server threads.
# Queries: 12 fixed topical queries (kinds and fact phrases, so they hit long posting lists)
# plus 8 entity titles taken from evenly spaced lines of each corpus (the lookups tasks make).
# Prints a markdown table (docs, corpus size, start-up time, server RSS, p50, p90, p99, mean)
# and the 100k/1k latency ratios; the target (sub-linear growth: ratio well under the 100x
# growth in documents) is reported, not asserted. Exits non-zero if anything fails to run.
set -u
BUILD=$(cd "${1:-build}" 2>/dev/null && pwd) || { echo "search.sh: no build folder ${1:-build}" >&2; exit 1; }
cd "$(dirname "$0")/.." || exit 1 # the repository root: the server finds data/ from here
SIZES=${SIZES:-1000 10000 100000}
SEED=${SEED:-7}
REQUESTS=${REQUESTS:-2000}
WARMUP=${WARMUP:-200}
K=${K:-5}
THREADS=${THREADS:-2}

. "$(dirname "$0")/lib.sh"

TOOLGYM=$BUILD/toolgym
LAT=$BUILD/bench/http_lat
for b in "$TOOLGYM" "$LAT"; do
    [ -x "$b" ] || { echo "search.sh: $b is missing (run make bench)" >&2; exit 1; }
done
if ! "$TOOLGYM" help 2>/dev/null | grep -q '^ *corpus '; then
    echo "search.sh: $TOOLGYM has no 'corpus' command (toolgym corpus gen) yet" >&2
    exit 1
fi

cat >"$BENCH_TMP/fixed.txt" <<'EOF'
population of the city
founded
river length kilometres drainage basin
ship crew tonnage launched
planet moons orbital period
company revenue employees offices
mountain height first ascent
invention units sold price
person born height books published
awards won
old town elevation metres
discovered surface gravity radius
EOF

now_ms() {
    python3 -c 'import time; print(int(time.monotonic() * 1000))'
}

printf '' >"$BENCH_TMP/rows"
for n in $SIZES; do
    corpus=$BENCH_TMP/corpus-$n.jsonl
    t0=$(now_ms)
    if ! "$TOOLGYM" corpus gen --seed "$SEED" --docs "$n" --out "$corpus" >"$BENCH_TMP/gen.log" 2>&1; then
        echo "search.sh: corpus gen --docs $n failed:" >&2
        sed 's/^/  | /' "$BENCH_TMP/gen.log" >&2
        exit 1
    fi
    t1=$(now_ms)
    # 8 titles from evenly spaced lines of this corpus
    lines=$(wc -l <"$corpus")
    cp "$BENCH_TMP/fixed.txt" "$BENCH_TMP/queries-$n.txt"
    awk -v n="$lines" 'BEGIN { for (i = 0; i < 8; i++) want[int(i * n / 8) + 1] = 1 }
        want[NR] && match($0, /"title":"[^"]*"/) { print substr($0, RSTART + 9, RLENGTH - 10) }' \
        "$corpus" >>"$BENCH_TMP/queries-$n.txt"

    bench_start "$BENCH_TMP/serve-$n.log" "$TOOLGYM" serve --host 127.0.0.1 --port 0 --quiet \
        --threads "$THREADS" --corpus "$corpus" || exit 1
    t2=$(now_ms)
    pid=$BENCH_PID
    rss=$(awk '/^VmRSS:/ { printf "%.0f", $2 / 1024 }' "/proc/$pid/status" 2>/dev/null)
    if ! out=$("$LAT" --url "http://127.0.0.1:$BENCH_PORT/v1/tools/search" \
        --queries "$BENCH_TMP/queries-$n.txt" --requests "$REQUESTS" --warmup "$WARMUP" --k "$K"); then
        echo "search.sh: http_lat failed against the $n-document corpus" >&2
        exit 1
    fi
    bench_stop "$pid"
    mb=$(du -k "$corpus" | awk '{ printf "%.1f", $1 / 1024 }')
    # docs MB gen_ms start_ms rss_mb p50 p90 p99 mean
    echo "$out" | awk -v n="$n" -v mb="$mb" -v g=$((t1 - t0)) -v s=$((t2 - t1)) -v rss="${rss:-0}" '{
        for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        print n, mb, g, s, rss, v["p50_us"], v["p90_us"], v["p99_us"], v["mean_us"] }' \
        >>"$BENCH_TMP/rows"
    rm -f "$corpus"
done

echo "### Search latency: POST /v1/tools/search"
echo
echo "sequential keep-alive requests (bench/http_lat), $REQUESTS timed after $WARMUP warm-up," \
    "k=$K, 20 queries (12 topical + 8 titles), corpus seed $SEED, server --threads $THREADS," \
    "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
echo
awk '
    BEGIN {
        print "| docs | corpus MB | gen s | start s | server RSS MB | p50 (ms) | p90 (ms) | p99 (ms) | mean (ms) |"
        print "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    }
    {
        printf "| %d | %s | %.2f | %.2f | %s | %.3f | %.3f | %.3f | %.3f |\n",
            $1, $2, $3 / 1000, $4 / 1000, $5, $6 / 1000, $7 / 1000, $8 / 1000, $9 / 1000
        if (NR == 1) { d0 = $1; p50 = $6; p99 = $8 }
        d1 = $1; q50 = $6; q99 = $8
    }
    END {
        if (NR > 1 && p50 > 0 && p99 > 0) {
            printf "\nratio %d/%d docs (%.0fx more documents): p50 %.2fx, p99 %.2fx\n",
                d1, d0, d1 / d0, q50 / p50, q99 / p99
            printf "target sub-linear growth: %s\n", (q50 / p50 < d1 / d0 && q99 / p99 < d1 / d0) ? "met" : "NOT met"
        }
    }' "$BENCH_TMP/rows"
