#!/bin/sh
# bench/claims.sh — the seed papers' claims beside our measurement, in one command (issue 15,
# item 6; issue 11, item 3). Trains every configuration below over SEEDS against one local
# server, evaluates each checkpoint greedily on the whole test and ood splits, and prints
# per-run lines, then one markdown table per claim (median [min–max] over the seeds) and a
# verdict per claim computed by the rule printed with it.
#
#   greedylr  GreedyLR (arXiv 2512.14527), the reference preset and the trainer's tuned
#             default, vs cosine vs constant: steps to a target accuracy, final accuracy.
#   e3tir     E3-TIR (arXiv 2604.09455) vs SFT-then-RL vs zero-RL at a CLAIMS_BUDGET expert
#             budget: accuracy on test and ood.
#   rewards   judge vs ToRL (arXiv 2503.23383) vs OTC (arXiv 2504.14870) rewards: accuracy,
#             wasted calls, calls per episode.
#
# Every run passes its schedule, anchors and reward mode explicitly and changes one factor
# from its block's base: `base` (the trainer's defaults: GreedyLR with its tuned settings,
# anchored branching, judge rewards, protocol custom, all expert data) for greedylr and
# rewards; for e3tir the base is the same at the budget, and the protocol is the factor.
#
# usage: sh bench/claims.sh [BUILD_DIR]        (default build)
# environment (the scale knobs first; the output prints every one of them):
#   CLAIMS_WARMUP      warm-up epochs per run (default 6; the trainer's own is 1.5)
#   CLAIMS_UPDATES     RL updates per run (trainer default 40)
#   CLAIMS_E3_WARMUP   warm-up epochs of the e3tir block, over its budget's experts (default
#                      CLAIMS_WARMUP; at a 10 % budget an epoch is a tenth as long)
#   CLAIMS_TARGET      greedy accuracy on the trainer's eval_tasks train tasks that counts as
#                      "target reached" (default 0.9)
#   CLAIMS_EVAL_EVERY  steps between those evaluations, the resolution of "steps to target"
#                      (trainer default 25)
#   CLAIMS_BUDGET      expert budget of the e3tir block (default 0.1: 10 %)
#   CLAIMS_EPISODES    episodes of each test / ood evaluation (default 0: the whole split)
#   SEEDS              default "1 2 3 4 5"
#   CLAIMS             blocks to run, default "greedylr e3tir rewards"
#   CLAIMS_RESULTS     a file that keeps the per-run lines; runs already in it are not run
#                      again (resume an interrupted run; default: a temporary file)
#   CLAIMS_LOGS        a directory that keeps every run's training log and eval reports
#   CLAIMS_COMMIT      the commit to name when the source is not a git checkout
# Needs python3 for the tables. Long: run it under nice; see docs/benchmarks.md for timings.
set -u
BUILD=${1:-build}
BIN=$BUILD/toolgym
DIR=$(dirname "$0")
. "$DIR/lib.sh"
SEEDS=${SEEDS:-1 2 3 4 5}
CLAIMS=${CLAIMS:-greedylr e3tir rewards}
CLAIMS_WARMUP=${CLAIMS_WARMUP:-6}
CLAIMS_UPDATES=${CLAIMS_UPDATES:-40}
CLAIMS_E3_WARMUP=${CLAIMS_E3_WARMUP:-$CLAIMS_WARMUP}
CLAIMS_TARGET=${CLAIMS_TARGET:-0.9}
CLAIMS_EVAL_EVERY=${CLAIMS_EVAL_EVERY:-25}
CLAIMS_BUDGET=${CLAIMS_BUDGET:-0.1}
CLAIMS_EPISODES=${CLAIMS_EPISODES:-0}
RESULTS=${CLAIMS_RESULTS:-$BENCH_TMP/results.txt}
LOGS=${CLAIMS_LOGS:-$BENCH_TMP}

bench_need_tables bench/claims "$BIN"
for b in $CLAIMS; do
    case $b in
        greedylr | e3tir | rewards) ;;
        *)
            echo "bench/claims: unknown claim '$b' in CLAIMS (greedylr, e3tir, rewards)" >&2
            exit 1
            ;;
    esac
done
if [ -n "${CLAIMS_COMMIT:-}" ]; then
    COMMIT=$CLAIMS_COMMIT
elif COMMIT=$(git -C "$DIR" rev-parse --short HEAD 2>/dev/null); then
    [ -z "$(git -C "$DIR" status --porcelain --untracked-files=no 2>/dev/null)" ] ||
        COMMIT="$COMMIT+changes"
else
    COMMIT=unknown
fi
touch "$RESULTS" && mkdir -p "$LOGS" || exit 1

bench_start "$BENCH_TMP/server.log" "$BIN" serve --port 0 --quiet || exit 1
URL="http://127.0.0.1:$BENCH_PORT"

# the configurations: NAME -> the flags it trains with (and EXTRA, more JSON for its config);
# zero-rl's protocol sets its warm-up to none whatever the config says
config() {
    EXTRA=""
    case $1 in
        base) FLAGS="--lr-schedule greedy --anchors branch --reward-mode judge" ;;
        greedy-ref)
            FLAGS="--lr-schedule greedy --anchors branch --reward-mode judge"
            EXTRA=', "greedy": {"preset": "reference"}'
            ;;
        cosine) FLAGS="--lr-schedule cosine --anchors branch --reward-mode judge" ;;
        constant) FLAGS="--lr-schedule constant --anchors branch --reward-mode judge" ;;
        e3tir) FLAGS="--protocol e3tir --expert-budget $CLAIMS_BUDGET --lr-schedule greedy --anchors branch --reward-mode judge" ;;
        sft-then-rl) FLAGS="--protocol sft-then-rl --expert-budget $CLAIMS_BUDGET --lr-schedule greedy --anchors off --reward-mode judge" ;;
        zero-rl) FLAGS="--protocol zero-rl --expert-budget $CLAIMS_BUDGET --lr-schedule greedy --anchors off --reward-mode judge" ;;
        torl) FLAGS="--lr-schedule greedy --anchors branch --reward-mode torl" ;;
        otc) FLAGS="--lr-schedule greedy --anchors branch --reward-mode otc" ;;
    esac
}

# report FILE KEY — a metric's value from `toolgym eval`'s report (a rate over no calls, which
# the report shows as "-", is 0: a policy that makes no call wastes none)
report() {
    awk -v k="$2" '$1 == k { print ($2 == "-" ? 0 : $2); f = 1; exit } END { if (!f) print "nan" }' "$1"
}

# run NAME SEED — train NAME's configuration with SEED, evaluate on test and ood, append
# "name seed steps_to_target total_steps train_acc test_acc test_plan test_wasted test_calls
#  ood_acc ood_plan ood_wasted ood_calls seconds" to RESULTS (skipped when already there)
run() {
    if grep -q "^$1 $2 " "$RESULTS"; then
        grep "^$1 $2 " "$RESULTS" | head -n 1
        return 0
    fi
    config "$1"
    warmup=$CLAIMS_WARMUP
    case $1 in e3tir | sft-then-rl | zero-rl) warmup=$CLAIMS_E3_WARMUP ;; esac
    cfg=$BENCH_TMP/$1-$2.json
    log=$LOGS/$1-$2.log
    ckpt=$BENCH_TMP/$1-$2.ckpt
    printf '{"warmup_epochs": %s, "updates": %s, "target_accuracy": %s, "eval_every": %s%s}\n' \
        "$warmup" "$CLAIMS_UPDATES" "$CLAIMS_TARGET" "$CLAIMS_EVAL_EVERY" "$EXTRA" >"$cfg"
    t0=$(date +%s)
    # shellcheck disable=SC2086 # FLAGS is a list of flags
    if ! "$BIN" train --server "$URL" --config "$cfg" --seed "$2" --save "$ckpt" $FLAGS \
        >"$log" 2>&1; then
        echo "bench/claims: $1 seed $2 failed:" >&2
        tail -n 3 "$log" >&2
        return 1
    fi
    for split in test ood; do
        if ! "$BIN" eval --server "$URL" --agent policy --checkpoint "$ckpt" --split "$split" \
            --episodes "$CLAIMS_EPISODES" --quiet >"$LOGS/$1-$2.$split.txt" 2>&1; then
            echo "bench/claims: $1 seed $2: eval on $split failed:" >&2
            tail -n 3 "$LOGS/$1-$2.$split.txt" >&2
            return 1
        fi
    done
    # done: W warm-up steps ... N RL updates; greedy accuracy: train A, ... updates to target T: S;
    line=$(grep '^done:' "$log")
    steps=$(printf '%s\n' "$line" | sed -n 's/.*updates to target [0-9.]*: \(-*[0-9]*\);.*/\1/p')
    warm=$(printf '%s\n' "$line" | sed -n 's/^done: \([0-9]*\) warm-up steps.*/\1/p')
    rl=$(printf '%s\n' "$line" | sed -n 's/.*, \([0-9]*\) RL updates;.*/\1/p')
    tacc=$(printf '%s\n' "$line" | sed -n 's/.*greedy accuracy: train \([0-9.]*\),.*/\1/p')
    rm -f "$ckpt" "$ckpt.init"
    echo "$1 $2 ${steps:-nan} $((${warm:-0} + ${rl:-0})) ${tacc:-nan}" \
        "$(report "$LOGS/$1-$2.test.txt" answer_accuracy)" \
        "$(report "$LOGS/$1-$2.test.txt" exact_plan_match)" \
        "$(report "$LOGS/$1-$2.test.txt" wasted_call_rate)" \
        "$(report "$LOGS/$1-$2.test.txt" calls_per_episode)" \
        "$(report "$LOGS/$1-$2.ood.txt" answer_accuracy)" \
        "$(report "$LOGS/$1-$2.ood.txt" exact_plan_match)" \
        "$(report "$LOGS/$1-$2.ood.txt" wasted_call_rate)" \
        "$(report "$LOGS/$1-$2.ood.txt" calls_per_episode)" \
        "$(($(date +%s) - t0))" | tee -a "$RESULTS"
}

NAMES=""
for b in $CLAIMS; do
    case $b in
        greedylr) NAMES="$NAMES base greedy-ref cosine constant" ;;
        e3tir) NAMES="$NAMES e3tir sft-then-rl zero-rl" ;;
        rewards) NAMES="$NAMES base torl otc" ;;
    esac
done
# shellcheck disable=SC2086 # one name a line
NAMES=$(printf '%s\n' $NAMES | awk '!seen[$0]++' | tr '\n' ' ')

echo "bench/claims: commit $COMMIT, seeds $SEEDS, claims $CLAIMS"
echo "scale: warm-up $CLAIMS_WARMUP epochs ($CLAIMS_E3_WARMUP in the e3tir block)," \
    "$CLAIMS_UPDATES RL updates, target $CLAIMS_TARGET" \
    "(greedy accuracy on the trainer's eval tasks, checked every $CLAIMS_EVAL_EVERY steps)," \
    "expert budget $CLAIMS_BUDGET for e3tir, evaluation episodes $CLAIMS_EPISODES (0: whole split)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
echo
echo "runs: name seed steps_to_target total_steps final_train_acc test_acc test_plan" \
    "test_wasted test_calls ood_acc ood_plan ood_wasted ood_calls seconds"
start=$(date +%s)
for seed in $SEEDS; do # seed by seed, so that a cut-short run still has whole seeds
    for name in $NAMES; do
        run "$name" "$seed" || exit 1
    done
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)," \
    "$(($(date +%s) - start)) s"
echo

python3 - "$RESULTS" "$COMMIT" "$SEEDS" "$CLAIMS" "$CLAIMS_TARGET" "$CLAIMS_BUDGET" <<'EOF'
import statistics, sys

path, commit, seeds, claims, target, budget = sys.argv[1:7]
seeds = seeds.split()
claims = claims.split()
rows = {}
for line in open(path):
    w = line.split()
    if len(w) >= 14 and w[1] in seeds:
        rows.setdefault(w[0], []).append(w)
seeds_label = " ".join(seeds)
LABEL = {  # name: (schedule, anchors, reward, protocol, budget, filter)
    "base": ("greedy (trainer default)", "branch", "judge", "custom", "all", "off"),
    "greedy-ref": ("greedy (reference preset)", "branch", "judge", "custom", "all", "off"),
    "cosine": ("cosine", "branch", "judge", "custom", "all", "off"),
    "constant": ("constant", "branch", "judge", "custom", "all", "off"),
    "e3tir": ("greedy (trainer default)", "branch", "judge", "e3tir", budget, "on"),
    "sft-then-rl": ("greedy (trainer default)", "off", "judge", "sft-then-rl", budget, "off"),
    "zero-rl": ("greedy (trainer default)", "off", "judge", "zero-rl (no warm-up)", budget, "off"),
    "torl": ("greedy (trainer default)", "branch", "torl", "custom", "all", "off"),
    "otc": ("greedy (trainer default)", "branch", "otc", "custom", "all", "off"),
}
COL = {"steps": 2, "train": 4, "test": 5, "test_plan": 6, "test_wasted": 7, "test_calls": 8,
       "ood": 9, "ood_plan": 10, "ood_wasted": 11, "ood_calls": 12}
MARGIN = 0.01


def vals(name, key):
    out = []
    for w in rows.get(name, []):
        v = float(w[COL[key]])
        if key == "steps" and v < 0:
            v = int(w[3]) + 1  # never reached: counted as one past the run's last step
        out.append(v)
    return out


def med(name, key):
    v = vals(name, key)
    return statistics.median(v) if v else float("nan")


def cell(name, key):
    v = vals(name, key)
    if not v:
        return "—"
    if key == "steps":
        cap = int(rows[name][0][3]) + 1
        f = lambda x: (">%d" % (cap - 1)) if x >= cap else "%g" % x
        never = sum(1 for x in v if x >= cap)
        s = "%s [%s–%s]" % (f(statistics.median(v)), f(min(v)), f(max(v)))
        return s + (" (%d never)" % never if never else "")
    pct = key.endswith("wasted")
    f = (lambda x: "%.1f %%" % (100 * x)) if pct else (lambda x: "%.2f" % x if key.endswith("calls") else "%.3f" % x)
    return "%s [%s–%s]" % (f(statistics.median(v)), f(min(v)), f(max(v)))


def table(names, keys, heads):
    print("| config | schedule | anchors | reward | protocol | expert budget | filter | seeds | commit | "
          + " | ".join(heads) + " |")
    print("|---" * (9 + len(keys)) + "|")
    for n in names:
        if n not in rows:
            continue
        lab = LABEL[n]
        seeds_n = " ".join(w[1] for w in rows[n])
        print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            n, lab[0], lab[1], lab[2], lab[3], lab[4], lab[5], seeds_n, commit,
            " | ".join(cell(n, k) for k in keys)))


def verdict(checks):
    ok = sum(1 for _, c in checks if c)
    v = "reproduced" if ok == len(checks) else ("not reproduced" if ok == 0 else "mixed")
    return v, "; ".join("%s: %s" % (t, "yes" if c else "no") for t, c in checks)


def have(*names):
    return all(n in rows for n in names)


print("Medians over seeds %s, [min–max] beside; commit %s. Accuracy is answer accuracy on the "
      "whole split (greedy); wasted = the report's wasted_call_rate (calls not labelled "
      "necessary / calls); steps to target = warm-up steps + RL updates until the greedy "
      "accuracy on the trainer's eval tasks reaches %s (a run that never does counts as one "
      "past its last step)." % (seeds_label, commit, target))
print("Verdict rule: each claim is split into the checks listed, each made on the medians "
      "(better = by more than %.2f, within = no more than %.2f below); all checks hold: "
      "reproduced; none: not reproduced; some: mixed." % (MARGIN, MARGIN))

if "greedylr" in claims:
    print()
    print("### GreedyLR vs cosine vs constant (GreedyLR, arXiv 2512.14527)")
    print()
    print("Claim: GreedyLR reaches the target in fewer steps than cosine (toolgym's target: "
          "≤ 0.7 × cosine's) and ends at least as accurate as cosine and constant.")
    print()
    names = ["greedy-ref", "base", "cosine", "constant"]
    table(names, ["steps", "test", "ood", "train"],
          ["steps to %s" % target, "test acc.", "ood acc.", "final train acc."])
    print()
    for n, what in (("greedy-ref", "reference preset"), ("base", "trainer default")):
        if not have(n, "cosine", "constant"):
            continue
        r = med(n, "steps") / med("cosine", "steps")
        v, why = verdict([
            ("steps %g vs cosine %g = %.2f × (≤ 0.7)" % (med(n, "steps"), med("cosine", "steps"), r), r <= 0.7),
            ("test acc. %.3f ≥ cosine's %.3f − %.2f" % (med(n, "test"), med("cosine", "test"), MARGIN),
             med(n, "test") >= med("cosine", "test") - MARGIN),
            ("test acc. ≥ constant's %.3f − %.2f" % (med("constant", "test"), MARGIN),
             med(n, "test") >= med("constant", "test") - MARGIN),
        ])
        print("- GreedyLR (%s): **%s** — %s" % (what, v, why))

if "e3tir" in claims:
    print()
    print("### E3-TIR vs SFT-then-RL vs zero-RL at a %s expert budget (E3-TIR, arXiv 2604.09455)" % budget)
    print()
    print("Claim: with under 10 % of the expert data, E3-TIR is more accurate than SFT-then-RL "
          "and zero-RL with the same data (here on test and on ood).")
    print()
    table(["e3tir", "sft-then-rl", "zero-rl"], ["test", "ood", "test_wasted", "ood_wasted"],
          ["test acc.", "ood acc.", "test wasted", "ood wasted"])
    print()
    if have("e3tir", "sft-then-rl", "zero-rl"):
        checks = []
        for other in ("sft-then-rl", "zero-rl"):
            for split in ("test", "ood"):
                checks.append(("%s %.3f > %s's %.3f + %.2f" % (split, med("e3tir", split), other, med(other, split), MARGIN),
                               med("e3tir", split) > med(other, split) + MARGIN))
        v, why = verdict(checks)
        print("- E3-TIR: **%s** — %s" % (v, why))

if "rewards" in claims:
    print()
    print("### Judge vs ToRL vs OTC rewards (ToRL arXiv 2503.23383, OTC arXiv 2504.14870)")
    print()
    print("Claims: judge step rewards cut wasted calls by ≥ 50 % against outcome-only rewards "
          "(ToRL) with accuracy within 1 point (toolgym's target); OTC needs fewer tool calls "
          "than outcome-only rewards with accuracy kept (OTC's claim).")
    print()
    table(["base", "torl", "otc"], ["test", "test_wasted", "test_calls", "ood", "ood_wasted"],
          ["test acc.", "test wasted", "test calls/ep", "ood acc.", "ood wasted"])
    print()
    if have("base", "torl"):
        v, why = verdict([
            ("test wasted %.1f %% vs torl %.1f %% (≤ half)" % (100 * med("base", "test_wasted"), 100 * med("torl", "test_wasted")),
             med("base", "test_wasted") <= 0.5 * med("torl", "test_wasted")),
            ("test acc. %.3f ≥ torl's %.3f − %.2f" % (med("base", "test"), med("torl", "test"), MARGIN),
             med("base", "test") >= med("torl", "test") - MARGIN),
        ])
        print("- judge vs ToRL: **%s** — %s" % (v, why))
    if have("otc", "torl"):
        v, why = verdict([
            ("test calls/ep %.2f vs torl %.2f (fewer)" % (med("otc", "test_calls"), med("torl", "test_calls")),
             med("otc", "test_calls") < med("torl", "test_calls")),
            ("test acc. %.3f ≥ torl's %.3f − %.2f" % (med("otc", "test"), med("torl", "test"), MARGIN),
             med("otc", "test") >= med("torl", "test") - MARGIN),
        ])
        print("- OTC vs ToRL: **%s** — %s" % (v, why))
EOF
