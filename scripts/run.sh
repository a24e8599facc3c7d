#!/bin/sh
# run.sh — `make run`: the main job. Starts a server on a free port, shows live calls to every
# kind of endpoint, trains a policy against the server (`toolgym train --run-demo`), evaluates
# it beside the untrained network and the reference agents, stops the server, and ends with
# the report table and where the checkpoint, the learning curve and the trajectories are.
# Each phase starts with a "==>" line.
#
# usage: sh scripts/run.sh [BIN]   (make run passes build/toolgym)
# Settings from the environment:
#   TOOLGYM_WARMUP   warm-up epochs on the expert trajectories (default 1; the trainer's is 1.5)
#   TOOLGYM_BUDGET   train tasks whose expert trajectories the warm-up reads (default 10000
#                    of the 40,000, so that make run ends within 3 minutes; the trainer's
#                    own default is all of them)
#   TOOLGYM_UPDATES  GRPO updates after the warm-up (default 20; the trainer's own 40)
#   TOOLGYM_KEEP=1   leave the server running afterwards (Ctrl-C stops it)
#   TOOLGYM_LOG      the server's log (default build/run-server.log)
# Files: build/run-policy.ckpt, build/run-curve.svg, build/run-trajectories.jsonl (the
# demonstration episode and the trained policy's test episodes; the training rollouts are
# dropped, so the file stays about 1 MB), build/run-server.log.
set -u
BIN=${1:-build/toolgym}
LOG=${TOOLGYM_LOG:-build/run-server.log}
WARMUP=${TOOLGYM_WARMUP:-1}
BUDGET=${TOOLGYM_BUDGET:-10000}
UPDATES=${TOOLGYM_UPDATES:-20}
CKPT=build/run-policy.ckpt
SVG=build/run-curve.svg
TRAJ=build/run-trajectories.jsonl
ALL=build/run-trajectories-all.jsonl # every finished episode, filtered into $TRAJ at the end
mkdir -p build "$(dirname "$LOG")"
start=$(date +%s)

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 18080)
URL="http://127.0.0.1:$port"
echo "==> starting a server on $URL (log: $LOG)"
rm -f "$TRAJ" "$ALL"
"$BIN" serve --port "$port" --quiet --trajectories "$ALL" --code-cache 4096 >"$LOG" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null' EXIT INT TERM
for _ in $(seq 1 100); do
    curl -sf "$URL/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
if ! curl -sf "$URL/healthz" >/dev/null 2>&1; then
    echo "run: the server did not start; its log:" >&2
    cat "$LOG" >&2
    exit 1
fi

show() { # show METHOD PATH [BODY]
    printf '\n\033[1m$ curl -X %s %s%s' "$1" "$URL" "$2"
    [ $# -ge 3 ] && printf " -d '%s'" "$3"
    printf '\033[0m\n'
    if [ $# -ge 3 ]; then
        curl -s -X "$1" "$URL$2" -H 'Content-Type: application/json' -d "$3"
    else
        curl -s -X "$1" "$URL$2"
    fi | head -c 1200
    echo
}

echo "==> live calls: health, calculator, search, run_code, a schema error, MCP, an episode, metrics"
show GET /healthz
show POST /v1/tools/calculator '{"arguments":{"expression":"(48211 * 3.75 - 1290) / 7"}}'
show POST /v1/tools/calculator '{"arguments":{"expression":"2 * (3 +"}}'
show POST /v1/tools/search '{"arguments":{"query":"population","k":2}}'
show POST /v1/tools/run_code '{"arguments":{"code":"import math\nprint(sum(1 for n in range(2, 1000) if all(n % d for d in range(2, math.isqrt(n) + 1))))"}}'
show POST /v1/tools/run_code '{"arguments":{"code":"import socket\nsocket.create_connection((\"1.1.1.1\", 80))"}}'
show POST /v1/tools/calculator '{"arguments":{"expression":42}}'
show POST /mcp '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"calculator","arguments":{"expression":"sqrt(2)^2"}}}'

# An episode judged step by step: task train-00003 asks for 6 times the founding year of
# Mivor, so calculating before searching is premature; search, calculate, answer is the plan.
printf '\n\033[1m$ curl -X POST %s/v1/episodes -d %s\033[0m\n' "$URL" "'{\"task_id\":\"train-00003\",\"tag\":\"demo\"}'"
ep=$(curl -s -X POST "$URL/v1/episodes" -H 'Content-Type: application/json' -d '{"task_id":"train-00003","tag":"demo"}')
printf '%s' "$ep" | head -c 300
echo ' ...'
id=$(printf '%s' "$ep" | python3 -c 'import json,sys; print(json.load(sys.stdin)["episode_id"])' 2>/dev/null)
if [ -n "$id" ]; then
    show POST "/v1/episodes/$id/step" '{"tool_call":{"name":"calculator","arguments":{"expression":"1500 * 6"}}}'
    show POST "/v1/episodes/$id/step" '{"tool_call":{"name":"search","arguments":{"query":"Mivor founded"}}}'
    show POST "/v1/episodes/$id/step" '{"tool_call":{"name":"calculator","arguments":{"expression":"1505 * 6"}}}'
    show POST "/v1/episodes/$id/step" '{"answer":"9030"}'
fi
printf '\n\033[1m$ curl %s/metrics\033[0m   (Prometheus text; a few series)\n' "$URL"
curl -s "$URL/metrics" | grep -E '^toolgym_(tool_calls_total|judge_labels_total)' | head -8
echo

# The trainer prints "==>" lines for its phases (the untrained network's test score,
# training, evaluation), a progress bar on a terminal, otherwise one line per update: keep
# every 20th of those. A pipe hides the trainer's exit status, so it goes through a file.
rcfile=$(mktemp)
{
    "$BIN" train --server "$URL" --run-demo --warmup-epochs "$WARMUP" --expert-budget "$BUDGET" --updates "$UPDATES" --save "$CKPT" --svg "$SVG"
    echo $? >"$rcfile"
} | awk '!/^update / || $2 % 20 == 0 || $2 == 1 { print; fflush() }'
rc=$(cat "$rcfile")
rm -f "$rcfile"
[ "$rc" = 0 ] || exit 1

# Keep the demonstration and the trained policy's test episodes (tags "demo", "policy-...");
# the lines are compact JSON, so a "tag" key can only match at top level.
if [ "${TOOLGYM_KEEP:-0}" != 1 ]; then
    kill $SERVER 2>/dev/null # stops after finishing its log lines
    wait $SERVER 2>/dev/null
    trap - EXIT INT TERM
fi
grep -E '"tag":"(demo|policy-)' "$ALL" >"$TRAJ"
episodes=$(wc -l <"$TRAJ")
kb=$(($(wc -c <"$TRAJ") / 1024))
dropped=$(($(wc -l <"$ALL") - episodes))
dropped_mb=$((($(wc -c <"$ALL") / 1024 - kb) / 1024))
[ "${TOOLGYM_KEEP:-0}" = 1 ] || rm -f "$ALL"

cat <<EOF

==> done in $(($(date +%s) - start)) s; the table above is the result. Files:
  checkpoint    $CKPT  (replay it against a server: $BIN eval --server URL --agent policy --checkpoint $CKPT)
  curve         $SVG  (return, accuracy, learning rate and wasted-call rate per update)
  trajectories  $TRAJ  ($episodes episodes, $kb KiB, OpenAI chat format: the demonstration
                and the trained policy's test episodes; the other $dropped, $dropped_mb MiB, were dropped)
  server log    $LOG
EOF
if [ "${TOOLGYM_KEEP:-0}" = 1 ]; then
    echo "server still running on $URL (every episode so far in $ALL) — Ctrl-C to stop"
    wait $SERVER
fi
