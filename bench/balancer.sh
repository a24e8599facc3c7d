#!/bin/sh
# bench/balancer.sh — how far one server goes, and what nginx in front costs: episode steps per
# second (bench/episodes.c: calculator steps, 8-step episodes, keep-alive clients) against
#   1. one server, directly;
#   2. the same single server behind nginx (the docs/operations.md configuration, one node);
#   3. three servers (--node n1, n2, n3) behind nginx, the docs/operations.md configuration;
# each row with its ratio to row 1 measured in the same run; then the memory an episode takes
# in the store (toolgym_episode_bytes / toolgym_episodes_in_memory after row 1).
#
# usage: sh bench/balancer.sh [BUILD_DIR]   (needs BUILD/toolgym, BUILD/bench/episodes and
#                                            nginx; `make bench` builds both)
# Settings (environment): SECONDS_EACH=3, CLIENTS=64, MAX_STEPS=8.
set -u
BUILD=$(cd "${1:-build}" 2>/dev/null && pwd) || { echo "balancer.sh: no build folder ${1:-build}" >&2; exit 1; }
cd "$(dirname "$0")/.." || exit 1
SECONDS_EACH=${SECONDS_EACH:-3}
CLIENTS=${CLIENTS:-64}
MAX_STEPS=${MAX_STEPS:-8}
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "balancer.sh: nginx is not installed (apt-get install nginx)" >&2; exit 1; }

. "$(dirname "$0")/lib.sh"

TOOLGYM=$BUILD/toolgym
BENCH=$BUILD/bench/episodes
for b in "$TOOLGYM" "$BENCH"; do
    [ -x "$b" ] || { echo "balancer.sh: $b is missing (run make bench)" >&2; exit 1; }
done

# steps/s of one bench run against URL (the episode column of bench/episodes' table)
steps_per_s() {
    "$BENCH" --server "$1" --seconds "$SECONDS_EACH" --clients "$CLIENTS" --max-steps "$MAX_STEPS" \
        | awk -F'|' 'NR > 2 { gsub(/ /, "", $4); print $4; exit }'
}

# nginx with the docs/operations.md block; $1: the port nginx listens on, then the servers'
# ports for n1, n2, n3 (a single server stands for all three)
nginx_start() {
    _listen=$1
    shift
    _n1=$1 _n2=${2:-$1} _n3=${3:-$1}
    mkdir -p "$BENCH_TMP/nginx"
    {
        echo "daemon off; master_process off; worker_processes 1; pid $BENCH_TMP/nginx/pid;"
        echo "error_log $BENCH_TMP/nginx/error.log warn; events { worker_connections 4096; }"
        echo "http { access_log off; client_body_temp_path $BENCH_TMP/nginx/b; proxy_temp_path $BENCH_TMP/nginx/p;"
        echo "fastcgi_temp_path $BENCH_TMP/nginx/f; uwsgi_temp_path $BENCH_TMP/nginx/u; scgi_temp_path $BENCH_TMP/nginx/s;"
        sed -n '/^```nginx$/,/^```$/p' docs/operations.md | sed '1d;$d' |
            sed "s/127.0.0.1:8080/127.0.0.1:$_listen/; s/127.0.0.1:8081/127.0.0.1:$_n1/g;
                 s/127.0.0.1:8082/127.0.0.1:$_n2/g; s/127.0.0.1:8083/127.0.0.1:$_n3/g"
        echo "}"
    } >"$BENCH_TMP/nginx/nginx.conf"
    "$NGINX" -p "$BENCH_TMP/nginx" -c "$BENCH_TMP/nginx/nginx.conf" -e stderr \
        >>"$BENCH_TMP/nginx/out.log" 2>&1 &
    NGINX_PID=$!
    BENCH_PIDS="$BENCH_PIDS $NGINX_PID"
    _i=0
    while [ $_i -lt 100 ] && ! curl -s -o /dev/null "http://127.0.0.1:$_listen/healthz"; do
        sleep 0.05
        _i=$((_i + 1))
    done
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

echo "balancer: $CLIENTS clients, $SECONDS_EACH s per measurement, max_steps $MAX_STEPS"
bench_start "$BENCH_TMP/s1.log" "$TOOLGYM" serve --port 0 --quiet --node n1 \
    --trajectories "$BENCH_TMP/t1.jsonl" || exit 1
P1=$BENCH_PORT S1=$BENCH_PID
direct=$(steps_per_s "http://127.0.0.1:$P1")
metrics=$(curl -s "http://127.0.0.1:$P1/metrics")
bytes=$(echo "$metrics" | awk '$1 == "toolgym_episode_bytes" { print $2 }')
held=$(echo "$metrics" | awk '$1 == "toolgym_episodes_in_memory" { print $2 }')

LB=$(free_port)
nginx_start "$LB" "$P1"
one_lb=$(steps_per_s "http://127.0.0.1:$LB")
kill -TERM "$NGINX_PID" && wait "$NGINX_PID" 2>/dev/null

bench_start "$BENCH_TMP/s2.log" "$TOOLGYM" serve --port 0 --quiet --node n2 \
    --trajectories "$BENCH_TMP/t2.jsonl" || exit 1
P2=$BENCH_PORT
bench_start "$BENCH_TMP/s3.log" "$TOOLGYM" serve --port 0 --quiet --node n3 \
    --trajectories "$BENCH_TMP/t3.jsonl" || exit 1
P3=$BENCH_PORT
LB=$(free_port)
nginx_start "$LB" "$P1" "$P2" "$P3"
three_lb=$(steps_per_s "http://127.0.0.1:$LB")

echo
echo "| setup | episode steps/s | ratio to one server |"
echo "|---|---:|---:|"
awk -v d="$direct" -v o="$one_lb" -v t="$three_lb" 'BEGIN {
    printf "| one server, direct | %.0f | 1.00 |\n", d
    printf "| one server behind nginx | %.0f | %.2f |\n", o, o / d
    printf "| three servers behind nginx (same 2 cores) | %.0f | %.2f |\n", t, t / d
}'
echo
awk -v b="$bytes" -v n="$held" 'BEGIN {
    if (n > 0) printf "store: %d episodes held in %.1f MB: %.0f bytes an episode, %.0f episodes per GiB\n",
        n, b / 1e6, b / n, 1073741824 / (b / n)
}'
for t in "$BENCH_TMP"/t1.jsonl "$BENCH_TMP"/t2.jsonl "$BENCH_TMP"/t3.jsonl; do
    echo "trajectory lines $(basename "$t"): $(wc -l <"$t")"
done
