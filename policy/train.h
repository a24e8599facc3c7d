/*
 * train.h — `toolgym train`: GRPO over HTTP episodes with a candidate-scoring MLP policy,
 * GreedyLR / cosine / constant schedules, anchored branching (E3-TIR) and three reward modes;
 * and the trained policy as an agent for `toolgym eval --agent policy --checkpoint F`.
 *
 * One update (train_run):
 *   1. draw tasks_per_update train tasks; a fraction of them (anchors branch, or warmup while
 *      update < anchor_warmup) is anchored: the oracle's expert calls (from the local task
 *      file, like a demonstration dataset) are replayed, the policy's entropy is measured at
 *      each prefix step, and `group/2` rollouts fork (POST /v1/episodes/{id}/fork) at the
 *      highest-entropy step; prefix steps carry no gradient;
 *   2. play G rollouts per task (sampled at temperature 1) with libcurl multi (rollout.h);
 *   3. rewards: the server's return (judge, torl) or OTC from the group's call counts (otc);
 *      GRPO advantages A = (R - mean) / std over the group (0 when std is 0); branch rollouts
 *      use branch_mix * A_group + (1 - branch_mix) * A_branch;
 *   4. loss = mean over decisions of PG (or PPO-clip for ppo_epochs > 1) - entropy bonus;
 *      backward, global-norm clip, AdamW, schedule step (GreedyLR signal: loss or -reward);
 *   5. one log line (return, accuracy, label rates, lr, ms, steps/s) and a progress bar.
 * Does not: serve episodes or judge anything (the server does), or script actions: the policy
 * chooses among every candidate (candidates.h) by learned scores.
 * Thread-safety: one training run per thread; no globals.
 */
#ifndef TG_TRAIN_H
#define TG_TRAIN_H

#include <stdio.h>

#include "client/eval.h"
#include "base/tg.h"
#include "policy/sched.h"

enum train_anchors { ANCHORS_OFF = 0, ANCHORS_WARMUP = 1, ANCHORS_BRANCH = 2 };

struct train_config {
    /* model */
    int hidden1, hidden2;
    /* run */
    int updates;          /* 1..TG_TRAIN_UPDATES_MAX */
    int tasks_per_update; /* 1..1024 */
    int group;            /* G, 2..TG_TRAIN_GROUP_MAX */
    int inflight;         /* episodes in flight, 32..TG_ROLLOUT_INFLIGHT */
    int max_steps;        /* per episode, 1..TG_CAND_STEPS_MAX */
    unsigned long long seed;
    /* update */
    double lr;     /* peak / initial lr */
    double lr_min; /* cosine floor, GreedyLR bound */
    double weight_decay;
    double grad_clip;    /* global norm, > 0 */
    double entropy_coef; /* >= 0 */
    int ppo_epochs;      /* 1: plain PG; 2..4: PPO-clip epochs */
    double clip_eps;
    struct sched_config sched; /* kind and GreedyLR settings; lrs filled from lr / lr_min */
    /* anchors */
    enum train_anchors anchors;
    double anchor_fraction; /* of the tasks of an update, [0, 1] */
    int anchor_warmup;      /* updates with anchors in warmup mode */
    double branch_mix;      /* weight of the group advantage for branch rollouts, [0, 1] */
    double adv_std_floor;   /* A = (R - mean) / max(std, floor); 0 when std is 0 */
    /* reward */
    char reward_mode[8]; /* judge | torl | otc */
    /* files and evaluation */
    char tasks_file[512];   /* local train tasks with expert calls (anchors) */
    int eval_episodes;      /* test episodes after training; 0: every test task */
    double target_accuracy; /* "updates to target": smoothed train accuracy reaching it */
};

/* train_config_default — the defaults `make run` trains with (see docs/trainer.md). */
struct train_config train_config_default(void);

/*
 * train_config_load_json — apply the settings of a JSON config file (path borrowed) on top of
 * *c. Unknown keys, wrong types and values out of range are errors naming the key.
 * Returns 0, TG_EIO (unreadable) or TG_EINVAL, message in *err.
 */
int train_config_load_json(struct train_config *c, const char *path, struct tg_error *err);

/* train_config_check — 0, or TG_EINVAL with a message naming the first bad setting. */
int train_config_check(const struct train_config *c, struct tg_error *err);

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
 * train_run — train against cfg->servers-style URL list `servers` (borrowed). resume / save:
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

/*
 * train_policy_agent — an eval agent (eval.h) playing greedily with the policy of checkpoint
 * o->checkpoint. Returns 0 with *out filled (destroy frees its state), or a tg_err.
 */
int train_policy_agent(const struct eval_options *o, struct eval_agent *out, struct tg_error *err);

/* train_main — `toolgym train` (argv[0] is "train"). Returns the exit status. */
int train_main(int argc, char **argv);

#endif
