#!/bin/sh
# bench/soak.sh — the soak test (bench/soak.c) against a server started here: well-behaved
# clients with and without injected faults, RSS over time, finished episodes against the
# trajectory log. `make soak` runs it.
#
# usage: sh bench/soak.sh [BUILD_DIR]   (default build; needs BUILD/toolgym and BUILD/bench/soak)
# Settings (environment): SOAK_SECONDS=300 (the whole run, half of it with faults),
#   SOAK_ROUNDS=5, SOAK_CLIENTS=64, CODE_EVERY=16 (seconds between a client's run_code calls),
#   MAX_EPISODES=5000 (the server's --max-episodes: small, so that the store reaches its cap
#   early and the RSS after it shows whether memory stays flat), BODY_TIMEOUT=10 (the
#   server's --body-timeout), FAULT_ADDR=127.0.0.2 (the first of six fault addresses),
#   THREADS (server threads; default: cores).
# Prints the tables of bench/soak.c; exits 1 if the soak could not run, 3 if a target was
# missed (reported in the output).
set -u
BUILD=$(cd "${1:-build}" 2>/dev/null && pwd) || { echo "soak.sh: no build folder ${1:-build}" >&2; exit 1; }
cd "$(dirname "$0")/.." || exit 1
SOAK_SECONDS=${SOAK_SECONDS:-300}
SOAK_ROUNDS=${SOAK_ROUNDS:-5}
SOAK_CLIENTS=${SOAK_CLIENTS:-64}
CODE_EVERY=${CODE_EVERY:-16}
MAX_EPISODES=${MAX_EPISODES:-5000}
FAULT_ADDR=${FAULT_ADDR:-127.0.0.2}

. "$(dirname "$0")/lib.sh"

TOOLGYM=$BUILD/toolgym
SOAK=$BUILD/bench/soak
for b in "$TOOLGYM" "$SOAK"; do
    [ -x "$b" ] || { echo "soak.sh: $b is missing (run make soak)" >&2; exit 1; }
done
# --body-timeout 10 (default 30): so that a slow body meets its deadline inside one fault phase
set -- --port 0 --quiet --trajectories "$BENCH_TMP/traj.jsonl" --max-episodes "$MAX_EPISODES" \
    --body-timeout "${BODY_TIMEOUT:-10}"
[ -n "${THREADS:-}" ] && set -- "$@" --threads "$THREADS"
bench_start "$BENCH_TMP/server.log" "$TOOLGYM" serve "$@" || exit 1
echo "soak: server (pid $BENCH_PID) on port $BENCH_PORT: $*"
"$SOAK" --server "http://127.0.0.1:$BENCH_PORT" --pid "$BENCH_PID" \
    --trajectories "$BENCH_TMP/traj.jsonl" --max-episodes "$MAX_EPISODES" \
    --seconds "$SOAK_SECONDS" --rounds "$SOAK_ROUNDS" --clients "$SOAK_CLIENTS" \
    --code-every "$CODE_EVERY" --fault-addr "$FAULT_ADDR"
rc=$?
if ! kill -0 "$BENCH_PID" 2>/dev/null; then
    echo "soak: the server died during the soak:" >&2
    tail -20 "$BENCH_TMP/server.log" >&2
    exit 1
fi
kill -TERM "$BENCH_PID"
wait "$BENCH_PID"
st=$?
BENCH_PIDS=""
echo "soak: the server stopped on SIGTERM with status $st"
[ "$st" = 0 ] || exit 1
exit $rc
