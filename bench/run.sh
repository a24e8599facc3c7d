#!/bin/sh
# bench/run.sh — `make bench`: run every benchmark script in bench/ in turn and print their
# tables. http.sh and search.sh always; sandbox.sh, episodes.sh, balancer.sh, claims.sh and
# freeze.sh when present (other modules add them); instr.sh (instructions per request under
# callgrind) when valgrind is installed. claims.sh (the papers' claims, training 9
# configurations over 5 seeds: bench/train.sh is its GreedyLR block) takes hours at the
# trainer's default scale; set CLAIMS_WARMUP / CLAIMS_UPDATES (see its head) to shorten it.
# Not run here: bench/ood.sh (where a trained checkpoint's ood gap lies) needs checkpoints.
#
# usage: sh bench/run.sh [BUILD_DIR]   (default build; make bench passes $(BUILD))
# Each script gets BUILD_DIR as its only argument and its own settings from the environment
# (see the head of each script). Exits non-zero if any benchmark failed to run; a target that
# is not met is reported by the script, not counted as a failure.
BUILD=${1:-build}
DIR=$(dirname "$0")
failed=""
ran=0

for name in http instr search sandbox episodes balancer claims freeze; do
    script=$DIR/$name.sh
    case $name in
        http | search) ;;
        instr) command -v valgrind >/dev/null || { echo "==== bench/instr.sh skipped: no valgrind"; continue; } ;;
        *) [ -f "$script" ] || continue ;;
    esac
    echo "==== bench/$name.sh ($(date -u +%Y-%m-%dT%H:%M:%SZ))"
    start=$(date +%s)
    if [ -f "$script" ] && sh "$script" "$BUILD"; then
        echo "==== bench/$name.sh ok ($(($(date +%s) - start)) s)"
    else
        echo "==== bench/$name.sh FAILED" >&2
        failed="$failed $name"
    fi
    ran=$((ran + 1))
    echo
done

if [ -n "$failed" ]; then
    echo "bench: $ran run, failed:$failed" >&2
    exit 1
fi
echo "bench: $ran run, all ok"
