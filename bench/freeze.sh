#!/bin/sh
# bench/freeze.sh — planner time of `toolgym plan-freeze` for S = 4..16 stages and
# M = 8..64 micro-batches, GPipe and 1F1B, as a markdown table (bench/freeze_plan.c).
#
# usage: sh bench/freeze.sh [BUILD_DIR]      (default build; needs BUILD/bench/freeze_plan:
#                                             `make bench` builds it)
# Settings (environment): STAGES="4 8 12 16", MICROBATCHES="8 16 32 64", REPS=3, SEED=1,
#   R_MAX=0.9.
# Each row is the median of REPS plans; the baseline in the same row is the same LP solved
# from GLPK's cold start. The target (planner <= 1000 ms at S=16, M=64) is reported on the
# last line, not asserted. Exits non-zero if a plan fails.
# (The trainer's wall-clock per update under none / uniform / plan freezing is
# bench/freeze_train.sh, not part of make bench.)
set -u
BUILD=$(cd "${1:-build}" 2>/dev/null && pwd) || { echo "freeze.sh: no build folder ${1:-build}" >&2; exit 1; }
BIN=$BUILD/bench/freeze_plan
[ -x "$BIN" ] || { echo "freeze.sh: $BIN is missing (run make bench)" >&2; exit 1; }
STAGES=${STAGES:-4 8 12 16}
MICROBATCHES=${MICROBATCHES:-8 16 32 64}
REPS=${REPS:-3}
SEED=${SEED:-1}
R_MAX=${R_MAX:-0.9}

echo "freeze planner: r_max $R_MAX, seed $SEED, median of $REPS; $(nproc) CPUs, GLPK $(sed -n 's/^#define GLP_MAJOR_VERSION *//p' /usr/include/glpk.h).$(sed -n 's/^#define GLP_MINOR_VERSION *//p' /usr/include/glpk.h)"
echo
exec nice "$BIN" --stages "$STAGES" --microbatches "$MICROBATCHES" --reps "$REPS" \
    --seed "$SEED" --r-max "$R_MAX"
