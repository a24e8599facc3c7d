#!/bin/sh
# bench/train.sh — GreedyLR vs cosine vs constant (issue 11, item 3): the `greedylr` block of
# bench/claims.sh, which does the training, the evaluation and the tables; this script only
# picks that block, so the two never measure different things.
#
# usage: sh bench/train.sh [BUILD_DIR]
# environment: as bench/claims.sh (SEEDS, CLAIMS_WARMUP, CLAIMS_UPDATES, CLAIMS_TARGET, …);
# CLAIMS defaults to "greedylr" here. UPDATES and TARGET, this script's names before it
# delegated, are still read as CLAIMS_UPDATES and CLAIMS_TARGET.
DIR=$(dirname "$0")
CLAIMS=${CLAIMS:-greedylr}
[ -n "${UPDATES:-}" ] && [ -z "${CLAIMS_UPDATES:-}" ] && CLAIMS_UPDATES=$UPDATES
[ -n "${TARGET:-}" ] && [ -z "${CLAIMS_TARGET:-}" ] && CLAIMS_TARGET=$TARGET
export CLAIMS ${CLAIMS_UPDATES+CLAIMS_UPDATES} ${CLAIMS_TARGET+CLAIMS_TARGET}
exec sh "$DIR/claims.sh" "$@"
