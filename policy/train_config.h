/*
 * train_config.h — the trainer's settings: defaults, a JSON config file on top of them, and
 * the range check every run starts with.
 *
 * Does: hold every hyper-parameter of `toolgym train` in one plain struct, load a JSON object
 * of them (unknown keys, wrong types and values out of range are errors naming the key), and
 * derive the learning-rate schedule's settings from lr / lr_min / updates.
 * Does not: parse command-line options (cmd/cmd_train.c does) or train anything.
 * Thread-safety: pure functions on caller-owned structs.
 */
#ifndef TG_TRAIN_CONFIG_H
#define TG_TRAIN_CONFIG_H

#include "base/tg.h"
#include "policy/pipetrain.h"
#include "policy/sched.h"

enum train_anchors { ANCHORS_OFF = 0, ANCHORS_WARMUP = 1, ANCHORS_BRANCH = 2 };

/* the training protocols E3-TIR is compared with (docs/trainer.md "Protocols"): custom (no
 * preset: the settings as given), E3-TIR (warm-up, anchored branching, mixed advantage,
 * dynamic filtering), SFT-then-RL (warm-up, then RL without anchors), zero-RL (RL only) */
enum train_protocol {
    PROTOCOL_CUSTOM = 0,
    PROTOCOL_E3TIR = 1,
    PROTOCOL_SFT_RL = 2,
    PROTOCOL_ZERO_RL = 3
};

struct train_config {
    /* model (policy/net.h) */
    int d_model;         /* width */
    int heads;           /* attention heads */
    int layers;          /* encoder blocks */
    int ffn;             /* MLP width */
    int buckets;         /* rows of the hashed piece table */
    char lexicon[16];    /* wordnet (each word's WordNet concepts are pieces too) | none */
    int vocab_min_count; /* a query word, constant or program template is learned when the
                            experts use it at least this often */
    int threads;         /* gradient threads, 1..LEARNER_THREADS_MAX */
    /* warm-up: supervised on the expert trajectories of tasks_file */
    double warmup_epochs;  /* passes over the expert decisions (0: none) */
    int warmup_batch;      /* decisions per warm-up step */
    double warmup_lr;      /* initial lr of the warm-up */
    double warmup_average; /* the warm-up ends with the mean of its weights after each of its
                              last steps, this fraction of them; 0: the last weights, [0, 1] */
    double piece_dropout;  /* chance a word of a warm-up decision reads by its WordNet concepts
                              alone (seq_build_dropout), [0, 0.9] */
    /* RL run */
    int updates;          /* GRPO updates after the warm-up, 0..TG_TRAIN_UPDATES_MAX */
    int tasks_per_update; /* 1..1024 */
    int group;            /* G, 2..TG_TRAIN_GROUP_MAX */
    int inflight;         /* episodes in flight, 32..TG_ROLLOUT_INFLIGHT */
    int max_steps;        /* per episode, 1..TG_VIEW_STEPS_MAX */
    unsigned long long seed;
    /* update */
    double lr;     /* initial lr of the RL phase */
    double lr_min; /* cosine floor, GreedyLR bound */
    double weight_decay;
    double grad_clip;    /* global norm, > 0 */
    double entropy_coef; /* >= 0 */
    int ppo_epochs;      /* 1: plain PG; 2..4: PPO-clip epochs */
    double clip_eps;
    struct sched_config sched; /* kind and GreedyLR settings; lrs filled from lr / lr_min */
    int greedy_min_lr_set;     /* greedy.min_lr given (or a preset): else lr_min bounds it */
    /* anchors */
    enum train_anchors anchors;
    double anchor_fraction; /* of the tasks of an update, [0, 1] */
    int anchor_warmup;      /* updates with anchors in warmup mode */
    double branch_mix;      /* weight of the group advantage for branch rollouts, [0, 1] */
    double adv_std_floor;   /* A = (R - mean) / max(std, floor); 0 when std is 0 */
    /* expert data: the tasks of tasks_file whose expert trajectories the warm-up, the output
     * symbols and the anchors may use, drawn from the seed (demo_budget) */
    double expert_budget;    /* a fraction (0, 1] of the tasks with expert calls */
    int expert_budget_count; /* > 0: a count of them instead (expert_budget is then unused) */
    /* dynamic experience filtering: groups whose rewards are all equal are dropped from the
     * update and redrawn, up to filter_rounds times */
    int filter;        /* 0 off, 1 on */
    int filter_rounds; /* 0..TG_TRAIN_FILTER_MAX */
    enum train_protocol protocol;
    /* reward */
    char reward_mode[8]; /* judge | torl | otc */
    /* files and evaluation */
    char tasks_file[512];   /* local train tasks with expert calls (warm-up, anchors) */
    int eval_episodes;      /* test episodes after training; 0: every test task */
    int eval_every;         /* greedy evaluation every N updates (warm-up steps or RL) */
    int eval_tasks;         /* train tasks it plays */
    int heldout_tasks;      /* held-out (test split) tasks it plays */
    double target_accuracy; /* "updates to target": greedy train accuracy reaching it */
    /* the RL update as a pipeline of S stages, with freezing (command line only) */
    struct pipetrain_config pipe;
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

/* train_config_sched_phase — the schedule settings of a phase of c (warmup 1: the warm-up,
 * from warmup_lr; 0: RL, from lr) lasting `steps` updates: c->sched with its lrs filled in
 * (GreedyLR: the phase's lr is the initial lr; lr_min is min_lr unless the greedy object set
 * one, and at most the initial lr; max_lr is raised to the initial lr if it is below).
 * train_config_sched — the RL phase's, over `updates`. */
struct sched_config train_config_sched_phase(const struct train_config *c, int warmup, long steps);
struct sched_config train_config_sched(const struct train_config *c);

/* train_anchors_parse — "off" | "warmup" | "branch" into *a; 0 or TG_EINVAL with *err.
 * train_anchors_name — the reverse (static string). */
int train_anchors_parse(const char *s, enum train_anchors *a, struct tg_error *err);
const char *train_anchors_name(enum train_anchors a);

/* train_protocol_parse — "custom" | "e3tir" | "sft-then-rl" | "zero-rl" into *p; 0 or
 * TG_EINVAL with *err. train_protocol_name — the reverse (static string). */
int train_protocol_parse(const char *s, enum train_protocol *p, struct tg_error *err);
const char *train_protocol_name(enum train_protocol p);

/*
 * train_protocol_apply — set c->protocol = p and the settings p fixes: zero-RL: no warm-up,
 * anchors off, filtering off; SFT-then-RL: a warm-up (warmup_epochs, or the default's when it
 * is 0), anchors off, filtering off; E3-TIR: a warm-up, anchors branch (anchor_fraction the
 * default's when it is 0), filtering on. custom changes nothing else. Settings given after it
 * that contradict the protocol are errors of train_config_check.
 */
void train_protocol_apply(struct train_config *c, enum train_protocol p);

/*
 * train_budget_parse — "F" (with a '.' or an exponent: a fraction in (0, 1]) or "N" (an
 * integer: a count >= 1) into c->expert_budget / expert_budget_count. 0 or TG_EINVAL with a
 * message naming the value.
 */
int train_budget_parse(const char *s, struct train_config *c, struct tg_error *err);

/* train_budget_describe — "all", "10%" or "50 tasks" into buf. */
void train_budget_describe(const struct train_config *c, char *buf, size_t n);

#endif
