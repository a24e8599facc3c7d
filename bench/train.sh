#!/bin/sh
# bench/train.sh — the trainer over several seeds against one local server: test accuracy,
# exact plan match, wasted-call labels, rollout throughput; GreedyLR vs cosine vs constant
# (updates to a target train accuracy); anchored branching vs warm-up anchors vs none; the
# reward ablation judge vs torl vs otc. Prints one line per run, then the summary tables
# that docs/benchmarks.md "## Training (bench/train.sh)" records.
#
# usage: sh bench/train.sh [BUILD_DIR]
# environment: SEEDS (default "1 2 3 4 5"), UPDATES (default 200), TARGET (train-accuracy
# target for "updates to target", default 0.6), EXPERIMENTS (default "sched anchors reward").
# Every run starts from the trainer's defaults (docs/trainer.md) and changes one setting.
set -u
BUILD=${1:-build}
BIN=$BUILD/toolgym
DIR=$(dirname "$0")
. "$DIR/lib.sh"
SEEDS=${SEEDS:-1 2 3 4 5}
UPDATES=${UPDATES:-200}
TARGET=${TARGET:-0.6}
EXPERIMENTS=${EXPERIMENTS:-sched anchors reward}

bench_start "$BENCH_TMP/server.log" "$BIN" serve --port 0 --quiet || exit 1
URL="http://127.0.0.1:$BENCH_PORT"
RESULTS=$BENCH_TMP/results.txt
: >"$RESULTS"

# run NAME SEED ARGS... — train with the defaults plus ARGS, evaluate on the whole test split,
# append "name seed acc plan wasted red pre unn upd_to_target steps_per_s acc_at_budget".
run() {
    name=$1
    seed=$2
    shift 2
    cfg=$BENCH_TMP/cfg.json
    printf '{"updates": %s, "target_accuracy": %s}\n' "$UPDATES" "$TARGET" >"$cfg"
    log=$BENCH_TMP/$name-$seed.log
    if ! "$BIN" train --server "$URL" --config "$cfg" --seed "$seed" --save "$BENCH_TMP/p.ckpt" \
        --eval 0 "$@" >"$log" 2>&1; then
        echo "bench/train: $name seed $seed failed:" >&2
        tail -3 "$log" >&2
        return 1
    fi
    tag=$(sed -n 's/.* tag \([^ ]*\)$/\1/p' "$log")
    rep=$(curl -s "$URL/v1/report?split=test&tag=$tag")
    plan=$(printf '%s' "$rep" | python3 -c 'import json,sys; print("%.4f" % json.load(sys.stdin)["exact_plan_match"])' 2>/dev/null || echo nan)
    python3 - "$name" "$seed" "$plan" "$log" <<'EOF' | tee -a "$RESULTS"
import statistics, sys
name, seed, plan, path = sys.argv[1:5]
sps, last, upd, test = [], "nan", "-1", {}
for line in open(path):
    w = line.split()
    if line.startswith("update"):
        sps.append(float(w[w.index("steps/s") - 1]))
        last = w[w.index("acc") + 1]
    elif line.startswith("done:"):
        upd = w[-1]
    elif line.startswith("test:"):
        test = {w[i]: w[i + 1] for i in range(1, len(w) - 1)}
print(name, seed, test.get("accuracy", "nan"), plan, test.get("wasted", "nan"),
      test.get("redundant", "nan"), test.get("premature", "nan"), test.get("unnecessary", "nan"),
      upd, "%.0f" % (statistics.median(sps) if sps else 0), last)
EOF
}

echo "runs: name seed test_acc exact_plan wasted redundant premature unnecessary updates_to_target($TARGET) median_steps/s final_train_acc"
for seed in $SEEDS; do
    run greedy "$seed" --lr-schedule greedy || exit 1
    case " $EXPERIMENTS " in *" sched "*)
        run cosine "$seed" --lr-schedule cosine || exit 1
        run constant "$seed" --lr-schedule constant || exit 1 ;;
    esac
    case " $EXPERIMENTS " in *" anchors "*)
        run warmup "$seed" --anchors warmup || exit 1
        run off "$seed" --anchors off || exit 1 ;;
    esac
    case " $EXPERIMENTS " in *" reward "*)
        run torl "$seed" --reward-mode torl || exit 1
        run otc "$seed" --reward-mode otc || exit 1 ;;
    esac
done

# medians per configuration (updates to target: a run that never reached it counts as UPDATES+1)
echo
echo "summary (median over seeds $SEEDS; 'greedy' is the default: GreedyLR, anchors branch, judge rewards)"
printf '%-9s %9s %10s %8s %10s %10s %12s %16s %10s\n' config test_acc exact_plan wasted redundant premature unnecessary "updates_to_$TARGET" "steps/s"
python3 - "$RESULTS" "$UPDATES" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
cap = int(sys.argv[2]) + 1
med = statistics.median
for name in ["greedy", "cosine", "constant", "warmup", "off", "torl", "otc"]:
    r = [x for x in rows if x[0] == name]
    if not r:
        continue
    col = lambda i: med(float(x[i]) for x in r)
    upd = med((cap if int(x[8]) < 0 else int(x[8])) for x in r)
    print("%-9s %9.3f %10.3f %8.4f %10.4f %10.4f %12.4f %16s %10.0f" % (
        name, col(2), col(3), col(4), col(5), col(6), col(7),
        (">%d" % (cap - 1)) if upd >= cap else "%g" % upd, col(9)))
EOF
