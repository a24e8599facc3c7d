#!/bin/sh
# bench/freeze_train.sh — the pipelined trainer with no, uniform, planned and progressive
# freezing (`toolgym train --pipeline 2 --freeze ...`): measured wall-clock per update and
# final greedy accuracy on the whole test split, median over seeds, in one invocation against
# one local server. Prints a markdown table (and the per-seed rows under it).
#
# usage: sh bench/freeze_train.sh [BUILD_DIR]     (default build)
# Settings (environment): SEEDS="1 2 3", UPDATES=16, WARMUP=0.2 (warm-up epochs),
#   SCHEDULE=1f1b, MICROBATCHES=4, R_MAX=0.9, NICE=10, REPS=15 (rounds of freeze_pipe),
#   PROG_LOOSE="0.05 3" (tol and window of the loose progressive row; empty: no such row).
#
# Rows, each run once per seed (seed by seed, so a change in machine load hits every mode):
#   no RL            --updates 0: the warm-up alone; how far RL moves the accuracy at all
#   none             the pipeline without freezing (the baseline of "vs none")
#   plan             the LP plan at r_max
#   uniform @ plan   uniform at the plan's applied mean ratio of the same seed, rounded up to
#                    the next share uniform can apply (1/(M n_s)): equal or higher than the plan's
#   uniform @ r_max  uniform at r_max
#   progressive      layers whose gradient norm has settled, at most floor(r_max (L + 2)),
#                    with the default settings (EMA 0.9, tol 0.01, window 5)
#   progressive loose  the same with --settle-tol and --settle-window from PROG_LOOSE
#                    ("0.05 3"): a looser "settled" that does freeze within a short run
# Per run: "ms/update" is the median over the run's RL updates, the calibration updates left
# out, of the pipeline's measured makespan (the update's gradient, what freezing changes; the
# rollouts around it are not timed here), next to the simulator's prediction from the
# calibrated stage times and the predicted unfrozen makespan of the same updates; "ratio" is
# the median applied mean freeze ratio over the updates and the last update's (progressive:
# 0 until a layer freezes); "test acc" is
# the final greedy accuracy over every task of the test split (`--eval 0`). Each column is the
# median over seeds of the per-run figures; "vs none" is the median over seeds of the run's
# ms/update over the same seed's `none`. Not part of `make bench` (tens of minutes).
# Then, when built (make build/bench/freeze_pipe), bench/freeze_pipe.c times the pipeline's
# gradient under the same rules interleaved round by round on one fixed update: the training
# runs above each see a different machine load, that table sees the same.
set -u
BUILD=${1:-build}
BIN=$BUILD/toolgym
DIR=$(dirname "$0")
. "$DIR/lib.sh"
SEEDS=${SEEDS:-1 2 3}
UPDATES=${UPDATES:-16}
WARMUP=${WARMUP:-0.2}
SCHEDULE=${SCHEDULE:-1f1b}
MICROBATCHES=${MICROBATCHES:-4}
R_MAX=${R_MAX:-0.9}
NICE=${NICE:-10}
PROG_LOOSE=${PROG_LOOSE-0.05 3}

[ -x "$BIN" ] || { echo "freeze_train.sh: $BIN is missing (run make)" >&2; exit 1; }
bench_start "$BENCH_TMP/server.log" nice -n "$NICE" "$BIN" serve --port 0 --quiet || exit 1
URL="http://127.0.0.1:$BENCH_PORT"
RESULTS=$BENCH_TMP/results.txt
: >"$RESULTS"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
T0=$(date +%s)

# run MODE SEED [train options...]: one training run, its figures appended to $RESULTS
run() {
    _mode=$1
    _seed=$2
    shift 2
    _log=$BENCH_TMP/$_mode-$_seed.log
    if ! nice -n "$NICE" "$BIN" train --server "$URL" --seed "$_seed" --warmup-epochs "$WARMUP" \
        --save "$BENCH_TMP/ckpt" --eval 0 "$@" >"$_log" 2>&1; then
        echo "freeze_train.sh: $_mode seed $_seed failed:" >&2
        tail -3 "$_log" >&2
        exit 1
    fi
    python3 - "$_mode" "$_seed" "$_log" >>"$RESULTS" <<'PY'
import re, statistics, sys
mode, seed, path = sys.argv[1:4]
meas, pred, pred0, ratio, acc = [], [], [], [], "nan"
for line in open(path):
    if "pipe " in line and "freeze " in line:
        meas.append(float(re.search(r"measured ([0-9.]+) ms", line).group(1)))
        pred.append(float(re.search(r"makespan predicted ([0-9.]+)", line).group(1)))
        pred0.append(float(re.search(r"unfrozen predicted ([0-9.]+)", line).group(1)))
        ratio.append(float(re.search(r"freeze \w+ ([0-9.]+)", line).group(1)))
    m = re.match(r"test: episodes \d+ accuracy ([0-9.]+)", line)
    if m:
        acc = m.group(1)
med = lambda v: statistics.median(v) if v else float("nan")
print(mode.replace(" ", "_"), seed, med(meas), med(pred), med(pred0), med(ratio), acc,
      ratio[-1] if ratio else float("nan"))
PY
}

PIPE="--updates $UPDATES --pipeline 2 --schedule $SCHEDULE --microbatches $MICROBATCHES"
for seed in $SEEDS; do
    run "no RL" "$seed" --updates 0
    # shellcheck disable=SC2086
    run none "$seed" $PIPE --freeze none
    # shellcheck disable=SC2086
    run plan "$seed" $PIPE --freeze plan --r-max "$R_MAX"
    # the plan's applied ratio, rounded up to uniform's step of 1/(M n_s) (n_s = 2 layers)
    r_eq=$(awk -v s="$seed" -v q="$((MICROBATCHES * 2))" \
        '$1 == "plan" && $2 == s { r = $6 * q; k = int(r); if (k < r - 1e-9) k++;
          printf "%.6f", k / q }' "$RESULTS")
    # shellcheck disable=SC2086
    run "uniform @ plan" "$seed" $PIPE --freeze uniform --r-max "$r_eq"
    # shellcheck disable=SC2086
    run "uniform @ r_max" "$seed" $PIPE --freeze uniform --r-max "$R_MAX"
    # shellcheck disable=SC2086
    run progressive "$seed" $PIPE --freeze progressive --r-max "$R_MAX"
    if [ -n "$PROG_LOOSE" ]; then
        # shellcheck disable=SC2086
        set -- $PROG_LOOSE
        # shellcheck disable=SC2086
        run "progressive loose" "$seed" $PIPE --freeze progressive --r-max "$R_MAX" \
            --settle-tol "$1" --settle-window "$2"
    fi
done

echo "pipelined trainer: $SCHEDULE, M=$MICROBATCHES, r_max $R_MAX, $UPDATES RL updates after" \
    "$WARMUP warm-up epochs, seeds $SEEDS; $(nproc) CPUs, load average $LOAD0 at the start," \
    "$(cut -d' ' -f1-3 /proc/loadavg) at the end; $(($(date +%s) - T0)) s"
echo
python3 - "$RESULTS" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
med = lambda v: statistics.median(v) if v else float("nan")
by = {}
for r in rows:
    by.setdefault(r[0], {})[r[1]] = [float(x) for x in r[2:]]
none = by.get("none", {})
print("| freeze | mean ratio applied (median; last update) | ms/update measured | predicted | unfrozen predicted | measured vs none | predicted vs unfrozen | test acc |")
print("|---|---|---|---|---|---|---|---|")
for mode in ("no_RL", "none", "plan", "uniform_@_plan", "uniform_@_r_max", "progressive",
             "progressive_loose"):
    v = by.get(mode, {})
    if not v:
        continue
    col = lambda i: med([r[i] for r in v.values()])
    name = mode.replace("_", " ").replace("r max", "r_max")
    if mode == "no_RL":
        print("| %s (warm-up only) | | | | | | | %.3f |" % (name, col(4)))
        continue
    rel = med([r[0] / none[s][0] for s, r in v.items() if s in none and none[s][0] > 0])
    prel = med([r[1] / r[2] for r in v.values() if r[2] > 0])
    print("| %s | %.3f; %.3f | %.1f | %.1f | %.1f | %.2fx | %.2fx | %.3f |" % (
        name, col(3), col(5), col(0), col(1), col(2), rel, prel, col(4)))
print()
print("per seed (mode seed ms/update predicted unfrozen-predicted ratio test-acc last-ratio):")
for r in rows:
    print("  " + " ".join(r))
PY
if [ -x "$BUILD/bench/freeze_pipe" ]; then
    echo
    nice -n "$NICE" "$BUILD/bench/freeze_pipe" --schedule "$SCHEDULE" \
        --microbatches "$MICROBATCHES" --r-max "$R_MAX" --reps "${REPS:-15}" \
        --tasks "${TOOLGYM_DATA:-data}/tasks/train.jsonl"
fi
