#!/bin/sh
# bench/episodes.sh — episode steps per second over HTTP keep-alive at 1, 8 and 64 clients,
# against raw `POST /v1/tools/calculator` in the same run (bench/episodes.c), on one server
# started here with the shipped tasks and a trajectory log (so the log's cost is counted).
#
# usage: sh bench/episodes.sh [BUILD_DIR]   (default build; needs BUILD/toolgym,
#                                            BUILD/bench/episodes and BUILD/bench/pages: `make
#                                            bench` builds them)
# Settings (environment): SECONDS_EACH=2 per measurement, ROUNDS=5 (each concurrency measured
#   that many times, both kinds back to back, alternating which goes first), CLIENTS=1,8,64,
#   MAX_STEPS=8, THREADS (server threads; default: cores).
# Prints a markdown table with the median of the per-round ratios episode steps/s ÷ raw calls/s
# and their range; the target (median ≥ 0.7, issue 14) is reported, not asserted.
set -u
BUILD=$(cd "${1:-build}" 2>/dev/null && pwd) || { echo "episodes.sh: no build folder ${1:-build}" >&2; exit 1; }
cd "$(dirname "$0")/.." || exit 1
SECONDS_EACH=${SECONDS_EACH:-2}
ROUNDS=${ROUNDS:-5}
CLIENTS=${CLIENTS:-1,8,64}
MAX_STEPS=${MAX_STEPS:-8}

. "$(dirname "$0")/lib.sh"

TOOLGYM=$BUILD/toolgym
BENCH=$BUILD/bench/episodes
PAGES=$BUILD/bench/pages
for b in "$TOOLGYM" "$BENCH" "$PAGES"; do
    [ -x "$b" ] || { echo "episodes.sh: $b is missing (run make bench)" >&2; exit 1; }
done
# what a fresh page costs here: a stored step's memory is paid in page faults (bench/pages.c)
echo "episodes: this machine's memory, for reading the ratios (bench/pages)"
"$PAGES" || exit 1
echo
set -- --port 0 --quiet --trajectories "$BENCH_TMP/traj.jsonl"
[ -n "${THREADS:-}" ] && set -- "$@" --threads "$THREADS"
bench_start "$BENCH_TMP/server.log" "$TOOLGYM" serve "$@" || exit 1
echo "episodes: server on port $BENCH_PORT, $ROUNDS rounds of $SECONDS_EACH s per measurement, max_steps $MAX_STEPS"
"$BENCH" --server "http://127.0.0.1:$BENCH_PORT" --seconds "$SECONDS_EACH" --rounds "$ROUNDS" \
    --clients "$CLIENTS" --max-steps "$MAX_STEPS" | tee "$BENCH_TMP/table.md" || exit 1
echo "episodes: trajectory lines written: $(wc -l <"$BENCH_TMP/traj.jsonl")"
awk -F'|' 'NR > 2 && $5 + 0 < 0.7 { bad = 1 } END { print (bad ? "target (ratio >= 0.7): NOT met" : "target (ratio >= 0.7): met") }' "$BENCH_TMP/table.md"
bench_stop "$BENCH_PID"
