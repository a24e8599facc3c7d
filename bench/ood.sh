#!/bin/sh
# bench/ood.sh — where a trained policy's ood gap lies (issue 11). Plays each checkpoint
# greedily on the whole ood split against one local server with a trajectory log, then splits
# the episodes by what their held-out productions carry:
#
#   surface   every held-out production of the task leaves the meaning to words train uses
#             (an opener, a sign-off, a question form, a distractor sentence of a new kind,
#             a number written in words past twenty);
#   meaning   at least one held-out production is the task's only statement of its operation
#             (tag kind `opw`), of the fact asked (`attr`), of a unit factor (`conv`), or of the
#             rounding asked for (`closer:rounding-casual`).
#
# A tag is held out when ood tasks carry it and no train or test task does (read from the task
# files' tags, not from any prompt). Prints one row per checkpoint, a median row, and each
# held-out tag's median accuracy over the checkpoints. Reports, asserts nothing.
#
# usage: sh bench/ood.sh [BUILD_DIR] CHECKPOINT...   (BUILD_DIR default build; needs python3)
set -u
BUILD=build
if [ $# -gt 0 ] && [ -d "$1" ]; then
    BUILD=$1
    shift
fi
[ $# -gt 0 ] || {
    echo "usage: sh bench/ood.sh [BUILD_DIR] CHECKPOINT..." >&2
    exit 2
}
BIN=$BUILD/toolgym
cd "$(dirname "$0")/.." || exit 1
. bench/lib.sh
bench_need_tables bench/ood "$BIN"
for c in "$@"; do
    [ -r "$c" ] || {
        echo "bench/ood: cannot read checkpoint $c" >&2
        exit 1
    }
done

TASKS=data/tasks/train.jsonl,data/tasks/test.jsonl,data/tasks/ood.jsonl
bench_start "$BENCH_TMP/server.log" "$BIN" serve --port 0 --quiet --tasks "$TASKS" \
    --trajectories "$BENCH_TMP/traj.jsonl" || exit 1
URL=http://127.0.0.1:$BENCH_PORT
i=0
: >"$BENCH_TMP/runs.txt"
for c in "$@"; do
    i=$((i + 1))
    "$BIN" eval --server "$URL" --agent policy --checkpoint "$c" --split ood --tag "ood-$i" \
        --quiet >"$BENCH_TMP/eval$i.txt" 2>&1 || {
        echo "bench/ood: eval of $c failed:" >&2
        sed 's/^/  | /' "$BENCH_TMP/eval$i.txt" >&2
        exit 1
    }
    printf 'ood-%s\t%s\n' "$i" "$c" >>"$BENCH_TMP/runs.txt"
done
bench_stop "$BENCH_PID" # the log is complete once the server has stopped

python3 - "$BENCH_TMP/runs.txt" "$BENCH_TMP/traj.jsonl" data/tasks/train.jsonl \
    data/tasks/test.jsonl data/tasks/ood.jsonl <<'EOF'
import json, statistics, sys

runs_file, traj_file, train_file, test_file, ood_file = sys.argv[1:6]
WASTED = {"redundant", "premature", "unnecessary", "wrong_args", "malformed", "partial"}
MEANING_KINDS = {"opw", "attr", "conv"}
MEANING_TAGS = {"closer:rounding-casual"}

def tags_of(path):
    seen = set()
    with open(path) as f:
        for line in f:
            seen.update(json.loads(line).get("tags", []))
    return seen

seen_before = tags_of(train_file) | tags_of(test_file)
held = tags_of(ood_file) - seen_before
meaning = {t for t in held if t.split(":", 1)[0] in MEANING_KINDS or t in MEANING_TAGS}

runs = [line.rstrip("\n").split("\t", 1) for line in open(runs_file) if line.strip()]
stats = {tag: {"all": [0, 0, 0, 0], "surface": [0, 0, 0, 0], "meaning": [0, 0, 0, 0]}
         for tag, _ in runs}
per_tag = {tag: {} for tag, _ in runs}
with open(traj_file) as f:
    for line in f:
        e = json.loads(line)
        if e.get("tag") not in stats:
            continue
        tags = set(e.get("task_tags", []))
        ok = 1 if e.get("correct") else 0
        calls = sum(1 for s in e["steps"] if "call" in s)
        wasted = sum(1 for s in e["steps"] if s.get("label") in WASTED)
        group = "meaning" if tags & meaning else "surface"
        for g in ("all", group):
            row = stats[e["tag"]][g]
            row[0] += 1; row[1] += ok; row[2] += wasted; row[3] += calls
        for t in tags & held:
            n = per_tag[e["tag"]].setdefault(t, [0, 0])
            n[0] += 1; n[1] += ok

def acc(r): return r[1] / r[0] if r[0] else float("nan")
def waste(r): return r[2] / r[3] if r[3] else 0.0

print(f"held-out tags: {len(held)} ({len(meaning)} carry meaning: {', '.join(sorted(meaning))})")
print()
print("| checkpoint | ood tasks | ood acc. | ood wasted | surface tasks | surface acc. "
      "| surface wasted | meaning tasks | meaning acc. | meaning wasted |")
print("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
cols = {k: [] for k in ("a", "aw", "s", "sw", "m", "mw")}
for tag, ckpt in runs:
    s = stats[tag]
    if s["all"][0] == 0:
        sys.exit(f"bench/ood: no episodes of {ckpt} in the trajectory log")
    vals = (acc(s["all"]), waste(s["all"]), acc(s["surface"]), waste(s["surface"]),
            acc(s["meaning"]), waste(s["meaning"]))
    for k, v in zip(cols, vals):
        cols[k].append(v)
    print(f"| {ckpt} | {s['all'][0]} | {vals[0]:.3f} | {100 * vals[1]:.1f} % "
          f"| {s['surface'][0]} | {vals[2]:.3f} | {100 * vals[3]:.1f} % "
          f"| {s['meaning'][0]} | {vals[4]:.3f} | {100 * vals[5]:.1f} % |")
if len(runs) > 1:
    m = {k: statistics.median(v) for k, v in cols.items()}
    print(f"| **median** | | **{m['a']:.3f}** | **{100 * m['aw']:.1f} %** | | **{m['s']:.3f}** "
          f"| **{100 * m['sw']:.1f} %** | | **{m['m']:.3f}** | **{100 * m['mw']:.1f} %** |")
print()
print("| held-out tag | carries | tasks | accuracy (median over checkpoints) |")
print("|---|---|--:|--:|")
for t in sorted(held):
    n = [per_tag[tag][t] for tag, _ in runs if t in per_tag[tag]]
    if not n:
        continue
    print(f"| `{t}` | {'meaning' if t in meaning else 'surface'} | {n[0][0]} "
          f"| {statistics.median(acc(x) for x in n):.3f} |")
EOF
