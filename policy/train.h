/*
 * train.h — `toolgym train`'s library: E3-TIR's recipe for the text-reading policy (policy.h):
 * a supervised warm-up on the train split's expert trajectories, then GRPO over HTTP
 * episodes with judge rewards and anchored branching; the learning rate from the loss
 * (GreedyLR) or cosine / constant; and the greedy evaluation of a checkpoint.
 *
 * A run (train_run):
 *   0. the expert trajectories of tasks_file: what the tools show for each expert call is
 *      asked of the server once; the output symbols (query words, constants, program
 *      templates) are learned from them (demo.h);
 *   1. warm-up, warmup_epochs passes over the expert decisions in minibatches of
 *      warmup_batch: cross-entropy of writing the expert's action (or the gold answer), its
 *      schedule fed the minibatch loss;
 *   2. RL, `updates` updates: draw tasks_per_update train tasks; a fraction of them
 *      (anchors branch, or warmup while update < anchor_warmup) is anchored: the expert's
 *      calls are replayed, the policy's entropy is measured at each prefix step, and
 *      `group/2` rollouts fork (POST /v1/episodes/{id}/fork) at the highest-entropy step;
 *      play G rollouts per task (each with its own random stream); rewards (the server's
 *      return, or OTC); GRPO advantages, mixed for branches (traj.h); loss = mean PG (or
 *      PPO-clip) - entropy bonus; AdamW; the schedule fed the loss;
 *   3. every eval_every updates (and at the end of each phase) a greedy evaluation on
 *      eval_tasks train tasks and heldout_tasks test tasks.
 * The log (one line per update) and the checkpoint depend only on the seed, the tasks and
 * the server's replies, never on timing: the same run twice gives the same bytes. Timing
 * goes to the progress bar and train_result.
 * Does not: serve episodes or judge anything (the server does); parse options (cmd/).
 * Thread-safety: one training run per thread; no globals.
 */
#ifndef TG_TRAIN_H
#define TG_TRAIN_H

#include <jansson.h>
#include <stdio.h>

#include "base/limits.h"
#include "base/tg.h"
#include "policy/train_config.h"

/* per-update statistics (also the learning curve); NaN where not measured */
struct train_stats {
    int update;      /* 0-based over the run: warm-up steps, then RL updates */
    int phase;       /* 0 warm-up, 1 RL */
    int episodes;    /* RL: rollouts played */
    double ret;      /* RL: mean return used for the advantage */
    double accuracy; /* RL: rollouts answered correctly */
    double redundant, premature, unnecessary, wasted; /* RL: label rates over tool calls */
    double calls;                                     /* RL: tool calls per episode */
    double lr;
    double loss;       /* warm-up: cross-entropy; RL: the PG loss */
    double entropy;    /* RL */
    double hit;        /* warm-up: minibatch decisions greedy decoding writes exactly */
    int branch_eps;    /* rollouts forked from an anchor */
    double branch_acc; /* their accuracy */
    double fork_at;    /* mean fork step */
    int groups_kept;   /* RL: groups the update learned from (dynamic filtering; else T) */
    int groups_drawn;  /* RL: groups played, redraws included */
    /* evaluation points (NaN elsewhere): greedy play */
    double eval_acc, eval_wasted, eval_ret; /* on eval_tasks train tasks */
    double heldout_acc, heldout_wasted;     /* on heldout_tasks test tasks */
    /* timing (never in the log) */
    double ms;
    double steps_per_s;
};

struct train_result {
    int updates_done;      /* warm-up steps and RL updates */
    int warmup_steps;      /* of them, warm-up steps */
    int updates_to_target; /* updates until the greedy train accuracy reached the target; -1 */
    double final_train_accuracy;   /* the last greedy evaluation on train tasks */
    double final_heldout_accuracy; /* and on held-out tasks */
    int demos, demos_skipped;      /* expert decisions written / not writable */
    int expert_tasks;              /* tasks whose expert calls were used (the budget) */
    int expert_tasks_all;          /* tasks with expert calls in the task file */
    double seconds;                /* wall time */
    struct train_stats *curve;     /* (updates_done) new; free with train_result_free */
};
void train_result_free(struct train_result *r);

/* where a run reads and writes, and what it shows */
struct train_io {
    const char *servers;   /* "URL[,URL...]" (borrowed) */
    const char *resume;    /* checkpoint to continue from, or NULL */
    const char *save;      /* checkpoint to write at the end, or NULL */
    const char *save_init; /* checkpoint of the network before any update, or NULL */
    const char *svg;       /* learning curve, or NULL */
    FILE *log;             /* one line per update (NULL: none) */
    int progress;          /* 1: a progress bar on stderr */
};

/*
 * train_run — train as above. A resumed run continues where the checkpoint left off: the
 * rest of the warm-up, then `updates` more RL updates. res: out (may be NULL). Returns 0 or
 * a negative tg_err with a message in *err (server unreachable, malformed responses, bad
 * checkpoint, a task file without expert calls).
 */
int train_run(const struct train_config *cfg, const struct train_io *io, struct train_result *res,
              struct tg_error *err);

struct train_eval_result {
    int episodes;
    double accuracy;
    double calls;
    double wasted; /* redundant + premature + unnecessary rate over calls */
    double rates[8];
    double steps_per_s; /* episode steps (decisions) per second of wall time */
    char tag[TG_TAG_MAX + 1];
};

/*
 * train_eval — play `episodes` (0: all) tasks of `split` greedily with the policy in
 * checkpoint `ckpt` (or, when ckpt is NULL, the untrained policy a run with cfg would start
 * from: its symbols learned from cfg->tasks_file, its weights from cfg->seed), with tag `tag`.
 * report: out, new GET /v1/report body for the tag (NULL allowed). Returns 0 or a tg_err.
 */
int train_eval(const struct train_config *cfg, const char *servers, const char *ckpt,
               const char *split, int episodes, const char *tag, struct train_eval_result *out,
               json_t **report, struct tg_error *err);

#endif
