#!/bin/sh
# run.sh — `make run`: the main job. Starts a server on a free port, shows live calls to every
# kind of endpoint, then (when the trainer is built in) trains a policy against the server,
# evaluates it beside the reference agents, and stops the server.
# Set TOOLGYM_KEEP=1 to leave the server running after the demonstration (Ctrl-C stops it).
set -u
BIN=${1:-build/toolgym}
LOG=${TOOLGYM_LOG:-build/run-server.log}
mkdir -p "$(dirname "$LOG")"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 18080)
URL="http://127.0.0.1:$port"
TRAJ=build/run-trajectories.jsonl
rm -f "$TRAJ"
"$BIN" serve --port "$port" --quiet --trajectories "$TRAJ" --code-cache 4096 >"$LOG" 2>&1 &
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

echo "toolgym server on $URL (log: $LOG)"
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

echo
"$BIN" train --server "$URL" --run-demo || exit 1
echo
echo "metrics excerpt:"
curl -s "$URL/metrics" | grep -E '^toolgym_(tool_calls|episodes|judge|code_cache)' | head -24
if [ "${TOOLGYM_KEEP:-0}" = 1 ]; then
    echo "server still running on $URL — Ctrl-C to stop"
    wait $SERVER
fi
