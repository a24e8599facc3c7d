/*
 * pipetrain.h — the RL update's gradient run as a real pipeline of S stages on S threads,
 * with freezing planned over its schedule (TimelyFreeze; freeze_plan.h) and every action
 * timed.
 *
 * Stages: the network's layers (net.h: 0 the embeddings, 1..L the encoder blocks, L + 1 the
 * final LayerNorm and the decoder) are cut into S contiguous ranges, 2 <= S <= L + 2: stage s
 * runs layers [cuts[s], cuts[s + 1]), stage 0 on the calling thread, the others each on a
 * thread of their own, the last with the loss. The cuts are given, even (stage s from layer
 * floor(s (L + 2) / S)), or balanced: after the first pass the layers are timed one by one
 * and the stages re-cut so that the slowest stage is as fast as it can be
 * (pipetrain_balance_cuts; calibration then starts again). The update's decisions are split
 * into M micro-batches of contiguous decisions; each stage runs its forward F(m) and backward
 * B(m) actions in the order of the GPipe or 1F1B schedule (pipeline.h), and an action waits
 * for its cross-stage input (F(s,m) for F(s-1,m)'s activations, B(s,m) for B(s+1,m)'s
 * gradient). Each stage keeps one workspace: a forward stashes only the activation it hands
 * on (its last layer's output, T x d per decision) and a backward recomputes its stage's
 * forward before differentiating it (GPipe's re-materialisation), so memory does not grow
 * with M.
 *
 * Determinism: each stage adds its decisions' gradients into its own block in decision order
 * (both schedules run a stage's backwards in micro-batch order), and a layer's gradient comes
 * from one stage only, so the summed gradient does not depend on thread timing and equals the
 * one-thread unpipelined gradient bit for bit.
 *
 * Freezing: backward B(s,m) freezes the lowest k of the n_s layers of stage s for
 * micro-batch m (their parameter gradients are not computed, and
 * backpropagation stops below the lowest layer that learns); a layer frozen for every
 * micro-batch is also left alone by the optimizer. Ratios come from
 *   none     nothing frozen;
 *   uniform  r_max on every backward (as whole layers, below);
 *   plan     the LP of freeze_plan.h over the schedule, solved once from stage times measured
 *            over the first `calibrate` gradient passes (run unfrozen; an update makes
 *            ppo_epochs passes): per decision, each stage's
 *            forward, its backward (w_max) and its backward with the whole stage frozen
 *            (w_min, timed on the first micro-batch after the update, gradients untouched).
 *   progressive  no plan: after every gradient pass each layer's gradient norm is given to
 *            progfreeze.h, which freezes layers, lowest first, whose norm has settled (at
 *            most floor(r_max (L + 2)) of the L + 2 layers); a frozen layer stays frozen for
 *            every micro-batch and every later update. Observing starts with the first pass;
 *            freezing waits until calibration is over.
 * Uniform ratio r becomes whole layers spread over the micro-batches: B(s,m) freezes the
 * lowest floor((m + 1) r n_s) - floor(m r n_s) layers, so the stage's mean frozen share is
 * floor(M r n_s) / (M n_s), r to within 1/(M n_s). A plan's ratio r freezes floor(r n_s).
 * The plan depends on measured times, so `plan` runs are reproducible only given the plan;
 * none, uniform and progressive are reproducible bit for bit (uniform: with given or even
 * cuts; balanced cuts come from measured times, and the gradient does not depend on them).
 *
 * Reported per update: the makespan the simulator predicts for the applied ratios from the
 * calibrated times, the measured makespan, the compute saved (the share of backward time the
 * applied ratios skip at the calibrated times, the planner's measure; and the backward
 * multiply-adds actually done) and the wall-clock saved against the predicted unfrozen
 * makespan, predicted and measured.
 * Does: split, schedule, time and freeze the gradient of one update. Does not: clip or step
 * the optimizer (learner.c), or compute advantages.
 * Thread-safety: one struct pipetrain per learner; pipetrain_grads starts and joins its
 * S - 1 stage threads, and only reads the parameters.
 */
#ifndef TG_PIPETRAIN_H
#define TG_PIPETRAIN_H

#include <stdio.h>

#include "base/tg.h"
#include "policy/freeze_plan.h"
#include "policy/net.h"
#include "policy/pipeline.h"
#include "policy/policy.h"
#include "policy/progfreeze.h"

#define PIPETRAIN_STAGES_MAX (NET_LAYERS_MAX + 2) /* one layer per stage at most */

enum pipetrain_freeze {
    PT_FREEZE_NONE = 0,
    PT_FREEZE_UNIFORM = 1,
    PT_FREEZE_PLAN = 2,
    PT_FREEZE_PROGRESSIVE = 3
};

struct pipetrain_config {
    int stages;                   /* 0: off; else S, 2..L + 2 stages on S threads */
    enum pipeline_kind kind;      /* gpipe | 1f1b */
    int microbatches;             /* M, at most the decisions of an update (1f1b: >= S) */
    enum pipetrain_freeze freeze; /* none | uniform | plan | progressive */
    double r_max; /* uniform ratio; the plan's per-stage budget; progressive: at most
                     floor(r_max (L + 2)) layers freeze */
    struct progfreeze_config settle; /* progressive: when a layer's norm has settled */
    int calibrate;                   /* unfrozen gradient passes timed before any freezing */
    /* cut[k]: first layer of stage k + 1 (k < S - 1), increasing in 1..L+1; all 0: even,
     * stage s from floor(s (L + 2) / S) */
    int cut[PIPETRAIN_STAGES_MAX - 1];
    int balance; /* 1: re-cut once, after the first pass, to balance measured layer times */
};

/* pipetrain_config_default — off, 1f1b, M = 4, none, r_max 0.9, calibrate 2, cuts even, no
 * balance, settle progfreeze_config_default(). */
struct pipetrain_config pipetrain_config_default(void);

/* pipetrain_config_check — 0, or TG_EINVAL naming the setting (for a network of `layers`
 * encoder blocks): stages 0 or 2..layers + 2, microbatches 1..TG_PIPE_MICROBATCHES_MAX (1f1b:
 * >= stages), r_max in [0, 1], calibrate 1..100, cuts (all 0, or S - 1 increasing in
 * 1..layers + 1 and not with balance), settle (progfreeze_config_check). */
int pipetrain_config_check(const struct pipetrain_config *c, int layers, struct tg_error *err);

/* pipetrain_freeze_parse — "none" | "uniform" | "plan" | "progressive"; 0 or TG_EINVAL.
 * _name the reverse. */
int pipetrain_freeze_parse(const char *s, enum pipetrain_freeze *out, struct tg_error *err);
const char *pipetrain_freeze_name(enum pipetrain_freeze f);

/* one update's measurements (times in ms; the prediction is 0 until calibrated) */
struct pipetrain_report {
    long update;       /* updates run through the pipeline so far, this one included */
    int microbatches;  /* M of this update */
    int items;         /* decisions */
    int calibrating;   /* 1: an unfrozen calibration update */
    double predicted;  /* simulated makespan of the applied ratios, calibrated times */
    double predicted0; /* simulated makespan without freezing */
    double measured;   /* wall time of the pipeline */
    double busy[PIPETRAIN_STAGES_MAX];
    double ratio_planned;   /* mean over the backwards of the ratios asked for */
    double ratio_applied;   /* mean over the backwards of the frozen share of stage layers */
    long long macs_done;    /* backward multiply-adds computed */
    double compute_saved;   /* backward time skipped at the calibrated times, over the
                               unfrozen backward time: sum r (w_max - w_min) / sum w_max */
    double wall_saved;      /* 1 - measured / predicted0 */
    double wall_saved_pred; /* 1 - predicted / predicted0 */
    int layers_frozen;      /* progressive: layers [0, layers_frozen) frozen for good */
    int rebalanced;         /* 1: this pass measured the layers and re-cut the stages */
};

struct pipetrain {
    struct pipetrain_config cfg;
    int S, nlayers;
    int cuts[PIPETRAIN_STAGES_MAX + 1];    /* stage s runs layers [cuts[s], cuts[s + 1]) */
    int balanced;                          /* balance: 1 once the cuts were chosen */
    double layer_ms[PIPETRAIN_STAGES_MAX]; /* balance: per decision, 2 fwd + bwd of each layer */
    struct net stage_net[PIPETRAIN_STAGES_MAX]; /* shallow copies: own frozen[] per thread */
    struct policy_scratch sc[PIPETRAIN_STAGES_MAX];
    struct pipeline *pl; /* built for pl_m micro-batches */
    int pl_m;
    /* per update */
    int nitems, cap_items;
    float *stash; /* (cap_floats) per decision, per stage boundary b < S - 1: the activation
                     then the gradient at the boundary, T x d each */
    size_t cap_floats;
    size_t *off;        /* (cap_items) decision i's first float in stash */
    float *loss, *ent;  /* (cap_items) per decision */
    long long *macs;    /* (n actions) backward multiply-adds */
    double *t0, *t1;    /* (n actions) start, end in ms from the update's start */
    double *ratio;      /* (n actions) applied ratios asked for */
    unsigned char *frz; /* (n actions, nlayers) 1: layer frozen for that backward */
    /* calibration: per-decision sums */
    int calibrated;
    long calib_updates;
    double sum_fwd[PIPETRAIN_STAGES_MAX], sum_bwd[PIPETRAIN_STAGES_MAX];
    double sum_bmin[PIPETRAIN_STAGES_MAX];
    long sum_items;              /* decisions behind sum_fwd, sum_bwd */
    long sum_min_items;          /* decisions behind sum_bmin */
    struct pipeline_times times; /* per decision, once calibrated */
    double *plan;                /* (n actions of pl) the LP's ratios, once solved */
    int plan_m;                  /* M the plan was solved for */
    double plan_makespan, plan_mean;
    struct progfreeze prog; /* progressive: the settled-norm bookkeeping */
    long updates;           /* run through the pipeline */
    struct pipetrain_report rep;
};

/* pipetrain_init — for the network n (its config; borrowed only here). 0, TG_EINVAL (bad
 * config) or TG_ENOMEM with *err; pipetrain_free accepts a zeroed struct. */
int pipetrain_init(struct pipetrain *P, const struct pipetrain_config *c, const struct net *n,
                   struct tg_error *err);
void pipetrain_free(struct pipetrain *P);

/*
 * pipetrain_grads — the gradient of the policy-gradient loss over decisions i in [0, nitems):
 * sequence seq[i], recorded action act[i], settings pg[i] (all borrowed), through the
 * pipeline. grads (num_params) := the sum of the decisions' gradients; *loss and *ent := the
 * sums of their losses (each times its pg scale, as policy_pg_backward returns) and
 * entropies, in decision order. frozen_all[l] := 1 for the layers frozen for every
 * micro-batch (or in pol's own frozen[]). `ratio` ((2 S M) per action, or NULL) overrides
 * the configured freezing for this call (tests); P->rep describes the run.
 * 0, TG_ENOMEM, or TG_EINTERNAL (the stage thread or the planner failed) with *err.
 */
int pipetrain_grads(struct pipetrain *P, const struct policy *pol, const struct seq *const *seq,
                    const struct policy_action *const *act, const struct policy_pg *pg, int nitems,
                    const double *ratio, float *grads, double *loss, double *ent, int *frozen_all,
                    struct tg_error *err);

/*
 * pipetrain_balance_cuts — the cuts (cuts[0] = 0 < cuts[1] < ... < cuts[S] = nl) that split
 * layers of cost[0..nl) into S contiguous stages with the smallest largest stage cost; among
 * equal ones the smallest sum of squared stage costs (the more even), then the first in
 * lexicographic order of cuts. 2 <= S <= nl <= PIPETRAIN_STAGES_MAX.
 */
void pipetrain_balance_cuts(const double *cost, int nl, int S, int *cuts);

/* pipetrain_report_print — P->rep as one line on f. */
void pipetrain_report_print(FILE *f, const struct pipetrain *P);

#endif
