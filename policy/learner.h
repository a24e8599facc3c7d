/*
 * learner.h — the trainer's state between updates (policy, AdamW, lr schedule, RNG, rollout
 * client, per-thread scratch) and the two kinds of update:
 *   warm-up (E3-TIR's supervised start): mean over a minibatch of expert decisions of the
 *     cross-entropy of writing the expert's action (policy_sft_backward);
 *   RL (GRPO): mean over the recorded decisions of a batch of trajectories of the policy
 *     gradient (or PPO-clip) minus an entropy bonus (policy_pg_backward).
 * Either way: gradients computed by `threads` threads, each over a fixed contiguous share of
 * the items and into its own gradient block, then summed in thread order (so the result does
 * not depend on thread timing), global-norm clip, AdamW over the layers that are not frozen.
 * The schedule step and the statistics are the caller's (train.c).
 * Does not: play episodes or compute advantages (traj.h, batch.h).
 * Thread-safety: one learner per training run; it starts and joins its own threads.
 */
#ifndef TG_LEARNER_H
#define TG_LEARNER_H

#include "base/rng.h"
#include "base/tg.h"
#include "policy/demo.h"
#include "policy/optim.h"
#include "policy/pipetrain.h"
#include "policy/policy.h"
#include "policy/rollout.h"
#include "policy/sched.h"
#include "policy/traj.h"
#include "policy/train_config.h"

#define LEARNER_THREADS_MAX 8

enum learner_reward { LR_JUDGE, LR_TORL, LR_OTC };
enum learner_phase { PHASE_WARMUP = 0, PHASE_RL = 1 };

struct learner {
    const struct train_config *cfg; /* borrowed */
    struct rollout *ro;             /* new (learner_connect), or NULL */
    struct policy pol;
    struct adam opt;
    struct sched sch; /* the current phase's schedule */
    struct rng rng;   /* task draws, minibatches, per-episode seeds */
    enum learner_reward rm;
    int nthreads;
    struct policy_scratch sc[LEARNER_THREADS_MAX];
    struct view *view[LEARNER_THREADS_MAX];       /* warm-up scratch per thread */
    struct act_targets *tgt[LEARNER_THREADS_MAX]; /* warm-up scratch per thread */
    float *grads;           /* (num_params) the summed gradient of an update */
    float *avg;             /* (num_params) the warm-up's tail average (cfg->warmup_average) */
    long avg_n;             /* warm-up steps averaged into avg by this process */
    long warmup_total;      /* the warm-up's steps in all (set by the caller; 0: unknown) */
    struct pipetrain *pipe; /* cfg->pipe.stages > 0: RL updates run as a pipeline; else NULL */
    /* progress (checkpointed) */
    int phase;        /* enum learner_phase */
    long warmup_done; /* warm-up steps done */
    long rl_done;     /* RL updates done */
};

/*
 * learner_lexicon — the WordNet a fresh policy of cfg reads words with (cfg->lexicon): *out is
 * the process's lexicon, or NULL for "none". TG_EINVAL with *err saying how to install it or
 * turn it off when "wordnet" is asked for and not here. (A resumed policy reads with what its
 * checkpoint names: ckpt_load.)
 */
int learner_lexicon(const struct train_config *cfg, const struct lexicon **out,
                    struct tg_error *err);

/*
 * learner_init — a new learner for cfg (borrowed; must outlive L): from checkpoint `resume`
 * (network, symbols, optimizer, schedule, RNG and progress), or fresh when resume is NULL:
 * the symbols voc (borrowed; copied) size the network, whose weights come from cfg->seed.
 * 0 or a tg_err with *err. learner_free frees any part made.
 */
int learner_init(struct learner *L, const struct train_config *cfg, const char *resume,
                 const struct act_vocab *voc, struct tg_error *err);

/* learner_connect — L->ro: a rollout client for `servers` (borrowed) with cfg->inflight.
 * 0 or TG_EINVAL with *err (bad server list). */
int learner_connect(struct learner *L, const char *servers, struct tg_error *err);

/* learner_free — free everything of L and zero it; accepts a zeroed learner. */
void learner_free(struct learner *L);

/*
 * learner_warmup_finish — the end of the warm-up: with cfg->warmup_average > 0, the network's
 * weights become the mean of the weights after each of the warm-up's last steps
 * (learner_warmup_step keeps it; none averaged: unchanged).
 */
void learner_warmup_finish(struct learner *L);

/* learner_phase_start — enter phase `phase`: its schedule from the config (warm-up: initial lr
 * warmup_lr over the warm-up's steps; RL: lr over `updates`), fresh Adam moments kept. */
int learner_phase_start(struct learner *L, int phase, long steps, struct tg_error *err);

/*
 * learner_warmup_step — one warm-up update over decisions idx[0..n) of d: *loss the mean
 * cross-entropy, *hit the fraction greedy decoding writes exactly. 0 or a tg_err.
 */
int learner_warmup_step(struct learner *L, const struct demo_set *d, const int *idx, int n,
                        double *loss, double *hit, struct tg_error *err);

/*
 * learner_update — one RL update over the decisions of trajectories t[0..nt) with their
 * advantages, at the schedule's current lr. *loss and *ent get the mean loss and entropy over
 * the decisions (0 when there are none). With cfg->pipe.stages set, the gradient runs
 * through the pipeline of pipetrain.h (L->pipe->rep reports it) instead of the
 * gradient threads; layers it froze for every micro-batch are not stepped. 0 or a tg_err.
 */
int learner_update(struct learner *L, struct traj *t, int nt, double *loss, double *ent,
                   struct tg_error *err);

#endif
