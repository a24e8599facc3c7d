#!/bin/sh
# bench/freeze_train.sh — the pipelined trainer's wall-clock per update with no, uniform and
# planned freezing (`toolgym train --pipeline 2 --freeze none|uniform|plan`), short runs
# against one local server, as a markdown table.
#
# usage: sh bench/freeze_train.sh [BUILD_DIR]     (default build)
# Settings (environment): SEEDS="1 2 3", UPDATES=6, WARMUP=0.2 (warm-up epochs),
#   SCHEDULE=1f1b, MICROBATCHES=4, R_MAX=0.9.
# Per run: the pipeline lines on stderr give each update's measured and predicted makespan
# and its applied mean freeze ratio; the two calibration updates are left out. Per mode the
# table shows the median over seeds of each run's median, and the final greedy accuracy
# (train tasks and held-out test tasks) from the `done:` line, median over seeds. The
# baseline of the "vs none" column is the `none` runs of the same invocation. Not part of
# `make bench` (several minutes of training).
set -u
BUILD=${1:-build}
BIN=$BUILD/toolgym
DIR=$(dirname "$0")
. "$DIR/lib.sh"
SEEDS=${SEEDS:-1 2 3}
UPDATES=${UPDATES:-6}
WARMUP=${WARMUP:-0.2}
SCHEDULE=${SCHEDULE:-1f1b}
MICROBATCHES=${MICROBATCHES:-4}
R_MAX=${R_MAX:-0.9}

[ -x "$BIN" ] || { echo "freeze_train.sh: $BIN is missing (run make)" >&2; exit 1; }
bench_start "$BENCH_TMP/server.log" nice "$BIN" serve --port 0 --quiet || exit 1
URL="http://127.0.0.1:$BENCH_PORT"
RESULTS=$BENCH_TMP/results.txt
: >"$RESULTS"

echo "pipelined trainer: $SCHEDULE, M=$MICROBATCHES, r_max $R_MAX, $UPDATES updates after" \
    "$WARMUP warm-up epochs, seeds $SEEDS; $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg)"
echo
for mode in none uniform plan; do
    for seed in $SEEDS; do
        log=$BENCH_TMP/$mode-$seed.log
        if ! nice "$BIN" train --server "$URL" --seed "$seed" --warmup-epochs "$WARMUP" \
            --updates "$UPDATES" --pipeline 2 --schedule "$SCHEDULE" \
            --microbatches "$MICROBATCHES" --freeze "$mode" --r-max "$R_MAX" >"$log" 2>&1; then
            echo "freeze_train.sh: $mode seed $seed failed:" >&2
            tail -3 "$log" >&2
            exit 1
        fi
        python3 - "$mode" "$seed" "$log" >>"$RESULTS" <<'EOF'
import re, statistics, sys
mode, seed, path = sys.argv[1:4]
meas, pred, pred0, ratio, tr, ho = [], [], [], [], "nan", "nan"
for line in open(path):
    if "pipe " in line and "freeze " in line:
        meas.append(float(re.search(r"measured ([0-9.]+) ms", line).group(1)))
        pred.append(float(re.search(r"makespan predicted ([0-9.]+)", line).group(1)))
        pred0.append(float(re.search(r"unfrozen predicted ([0-9.]+)", line).group(1)))
        ratio.append(float(re.search(r"freeze \w+ ([0-9.]+)", line).group(1)))
    m = re.search(r"greedy accuracy: train ([0-9.]+), held-out ([0-9.]+)", line)
    if m:
        tr, ho = m.group(1), m.group(2)
med = lambda v: statistics.median(v) if v else float("nan")
print(mode, seed, med(meas), med(pred), med(pred0), med(ratio), tr, ho)
EOF
    done
done
python3 - "$RESULTS" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
med = lambda v: statistics.median(v) if v else float("nan")
by = {}
for r in rows:
    by.setdefault(r[0], []).append([float(x) for x in r[2:]])
base = med([r[0] for r in by.get("none", [])])
print("| freeze | mean ratio applied | makespan measured (ms) | predicted (ms) | unfrozen predicted (ms) | measured vs none | train acc | held-out acc |")
print("|---|---|---|---|---|---|---|---|")
for mode in ("none", "uniform", "plan"):
    v = by.get(mode, [])
    col = lambda i: med([r[i] for r in v])
    print("| %s | %.2f | %.1f | %.1f | %.1f | %.2fx | %.3f | %.3f |" % (
        mode, col(3), col(0), col(1), col(2), col(0) / base if base > 0 else float("nan"),
        col(4), col(5)))
EOF
