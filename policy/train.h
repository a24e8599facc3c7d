/*
 * train.h — `toolgym train`'s library: GRPO over HTTP episodes with a candidate-scoring MLP
 * policy, GreedyLR / cosine / constant schedules, anchored branching (E3-TIR) and three
 * reward modes; and the greedy evaluation of a checkpoint.
 *
 * One update (train_run):
 *   1. draw tasks_per_update train tasks; a fraction of them (anchors branch, or warmup while
 *      update < anchor_warmup) is anchored: the oracle's expert calls (from the local task
 *      file, like a demonstration dataset) are replayed, the policy's entropy is measured at
 *      each prefix step, and `group/2` rollouts fork (POST /v1/episodes/{id}/fork) at the
 *      highest-entropy step; prefix steps carry no gradient (batch.h);
 *   2. play G rollouts per task (sampled at temperature 1) with libcurl multi (rollout.h);
 *   3. rewards: the server's return (judge, torl) or OTC from the group's call counts (otc);
 *      GRPO advantages A = (R - mean) / std over the group (0 when std is 0); branch rollouts
 *      use branch_mix * A_group + (1 - branch_mix) * A_branch (traj.h);
 *   4. loss = mean over decisions of PG (or PPO-clip for ppo_epochs > 1) - entropy bonus;
 *      backward, global-norm clip, AdamW (learner.h), schedule step (GreedyLR signal: loss
 *      or -reward);
 *   5. one log line (return, accuracy, label rates, lr, ms, steps/s) and a progress bar.
 * The files: train_config (settings), policy (scoring and acting), traj (decisions and
 * advantages), task_list (tasks and experts), batch (one update's rollouts), learner (state
 * and the gradient step), this file (the loop, its log and curve, and evaluation).
 * Does not: serve episodes or judge anything (the server does), or script actions: the policy
 * chooses among every candidate (candidates.h) by learned scores; parse options (cmd/).
 * Thread-safety: one training run per thread; no globals.
 */
#ifndef TG_TRAIN_H
#define TG_TRAIN_H

#include <jansson.h>
#include <stdio.h>

#include "base/limits.h"
#include "base/tg.h"
#include "policy/train_config.h"

/* per-update statistics (also the learning curve) */
struct train_stats {
    int update;
    int episodes;
    double ret;                                       /* mean return used for the advantage */
    double accuracy;                                  /* answered correctly */
    double redundant, premature, unnecessary, wasted; /* label rates over tool calls */
    double calls;                                     /* tool calls per episode */
    double lr;
    double loss;
    double entropy;
    double ms;
    double steps_per_s;
    int branch_eps;    /* rollouts forked from an anchor */
    double branch_acc; /* their accuracy */
    double fork_at;    /* mean fork step */
};

struct train_result {
    int updates_done;
    int updates_to_target; /* -1: never reached */
    double final_train_accuracy;
    struct train_stats *curve; /* (updates_done) new; free with train_result_free */
};
void train_result_free(struct train_result *r);

/*
 * train_run — train against the server URL list `servers` (borrowed). resume / save:
 * checkpoint paths or NULL. svg: learning-curve path or NULL. log: per-update lines (NULL:
 * none); progress: 1 draws a progress bar on stderr. res: out (may be NULL).
 * Returns 0 or a negative tg_err with a message in *err (server unreachable, malformed
 * responses, bad checkpoint, bad task file).
 */
int train_run(const struct train_config *cfg, const char *servers, const char *resume,
              const char *save, const char *svg, FILE *log, int progress, struct train_result *res,
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
 * checkpoint `ckpt` (or the untrained policy of cfg->seed when ckpt is NULL), with tag `tag`.
 * report: out, new GET /v1/report body for the tag (NULL allowed). Returns 0 or a tg_err.
 */
int train_eval(const struct train_config *cfg, const char *servers, const char *ckpt,
               const char *split, int episodes, const char *tag, struct train_eval_result *out,
               json_t **report, struct tg_error *err);

#endif
