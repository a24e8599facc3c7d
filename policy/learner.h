/*
 * learner.h — the trainer's state between updates (policy network, AdamW, lr schedule, RNG,
 * rollout client) and the update itself.
 *
 * One update (learner_update) over the recorded decisions of a batch of trajectories:
 *   loss = mean over decisions of PG (or PPO-clip for ppo_epochs > 1) - entropy bonus;
 *   backward, global-norm clip, AdamW over the layers that are not frozen.
 * The schedule step and the statistics are the caller's (train.c).
 * Does not: play episodes or compute advantages (traj.h).
 * Thread-safety: one learner per thread.
 */
#ifndef TG_LEARNER_H
#define TG_LEARNER_H

#include "base/rng.h"
#include "base/tg.h"
#include "policy/optim.h"
#include "policy/policy.h"
#include "policy/rollout.h"
#include "policy/sched.h"
#include "policy/traj.h"
#include "policy/train_config.h"

enum learner_reward { LR_JUDGE, LR_TORL, LR_OTC };

struct learner {
    const struct train_config *cfg; /* borrowed */
    struct rollout *ro;             /* new (learner_connect), or NULL */
    struct policy pol;
    struct adam opt;
    struct sched sch;
    struct rng rng;
    enum learner_reward rm;
    float *dscores; /* (TG_CAND_MAX) */
};

/*
 * learner_init — a new learner for cfg (borrowed; must outlive L): the network, optimizer,
 * schedule and RNG from checkpoint `resume`, or fresh ones seeded with cfg->seed when resume
 * is NULL. 0 or a tg_err with *err (bad checkpoint, ENOMEM). learner_free frees any part made.
 */
int learner_init(struct learner *L, const struct train_config *cfg, const char *resume,
                 struct tg_error *err);

/* learner_connect — L->ro: a rollout client for `servers` (borrowed) with cfg->inflight.
 * 0 or TG_EINVAL with *err (bad server list). */
int learner_connect(struct learner *L, const char *servers, struct tg_error *err);

/* learner_free — free everything of L and zero it; accepts a zeroed learner. */
void learner_free(struct learner *L);

/*
 * learner_update — one update over the decisions of trajectories t[0..nt) with their
 * advantages, at the schedule's current lr. *loss and *ent get the mean loss and entropy over
 * the decisions (0 when there are none). 0 or a tg_err with *err.
 */
int learner_update(struct learner *L, struct traj *t, int nt, double *loss, double *ent,
                   struct tg_error *err);

#endif
