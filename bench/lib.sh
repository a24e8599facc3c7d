# bench/lib.sh — helpers shared by the bench/*.sh scripts (sourced, POSIX sh).
#
# What it does: start a server in the background on port 0 and learn the port it bound,
# stop it, and stop every server still running when the script exits (trap). Parse wrk's
# latency figures into microseconds. Check a training bench's binary and python3.
# What it does not do: build anything (make bench builds first) or pick ports itself:
# every server here binds port 0 and prints the port, so there is no race for a free port.

BENCH_PIDS=""
BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/toolgym-bench.XXXXXX") || exit 1

# bench_need_tables WHO BIN — exit 1 with a message unless BIN is executable and python3 (which
# prints the tables of the training benches) is installed. WHO names the script in messages.
bench_need_tables() {
    [ -x "$2" ] || {
        echo "$1: $2 not found (make first)" >&2
        exit 1
    }
    command -v python3 >/dev/null || {
        echo "$1: python3 is needed for the tables" >&2
        exit 1
    }
}

bench_cleanup() {
    for p in $BENCH_PIDS; do
        kill -TERM "$p" 2>/dev/null
    done
    for p in $BENCH_PIDS; do
        wait "$p" 2>/dev/null
    done
    BENCH_PIDS=""
    rm -rf "$BENCH_TMP"
}
trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# bench_start LOG CMD [ARGS...] — run CMD in the background with stdout and stderr in LOG,
# wait up to 60 s for it to print its port ("listening on http://HOST:PORT" for toolgym,
# "port N" for bench/mhd_ceiling). Sets BENCH_PID and BENCH_PORT; returns 1 if it died or
# never printed a port.
bench_start() {
    _log=$1
    shift
    : >"$_log" # created here, not by the child, so the polling below never races it
    "$@" >>"$_log" 2>&1 &
    BENCH_PID=$!
    BENCH_PIDS="$BENCH_PIDS $BENCH_PID"
    BENCH_PORT=""
    _i=0
    while [ $_i -lt 600 ]; do
        BENCH_PORT=$(sed -n 's/.*listening on http:\/\/[^ ]*:\([0-9][0-9]*\).*/\1/p; s/^port \([0-9][0-9]*\)$/\1/p' "$_log" | head -n 1)
        [ -n "$BENCH_PORT" ] && return 0
        if ! kill -0 "$BENCH_PID" 2>/dev/null; then
            echo "bench: '$*' exited before listening:" >&2
            sed 's/^/  | /' "$_log" >&2
            return 1
        fi
        sleep 0.1
        _i=$((_i + 1))
    done
    echo "bench: '$*' did not print its port within 60 s" >&2
    return 1
}

# bench_stop PID — SIGTERM one server started by bench_start and wait for it.
bench_stop() {
    kill -TERM "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    _rest=""
    for p in $BENCH_PIDS; do
        [ "$p" = "$1" ] || _rest="$_rest $p"
    done
    BENCH_PIDS=$_rest
}

# wrk_field FILE WHAT — from `wrk --latency` output in FILE print: rps (requests/s),
# p50 / p75 / p90 / p99 (microseconds), errors (socket errors + non-2xx responses).
wrk_field() {
    awk -v what="$2" '
        function us(v) {
            if (v ~ /us$/) { sub(/us$/, "", v); return v + 0 }
            if (v ~ /ms$/) { sub(/ms$/, "", v); return v * 1000 }
            if (v ~ /m$/)  { sub(/m$/, "", v);  return v * 60000000 }
            if (v ~ /s$/)  { sub(/s$/, "", v);  return v * 1000000 }
            return v + 0
        }
        /^Requests\/sec:/ { rps = $2 }
        /^[ \t]+50%/ { p["p50"] = us($2) }
        /^[ \t]+75%/ { p["p75"] = us($2) }
        /^[ \t]+90%/ { p["p90"] = us($2) }
        /^[ \t]+99%/ { p["p99"] = us($2) }
        /Socket errors:/ { gsub(/,/, ""); err += $4 + $6 + $8 + $10 }
        /Non-2xx or 3xx responses:/ { err += $NF }
        END {
            if (what == "rps") print rps + 0
            else if (what == "errors") print err + 0
            else print p[what] + 0
        }' "$1"
}
