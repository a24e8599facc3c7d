/*
 * batch.h — the bookkeeping of one update's rollouts: which tasks, which of them are
 * anchored, where the branches fork, and the rewards and advantages afterwards.
 *
 * An update plays T tasks x G rollouts (eps and trajs, both (T, G), row t the group of task t):
 *   1. batch_draw: T tasks drawn with the RNG; when anchors are on for this update, each
 *      group is anchored with probability anchor_fraction, its task then drawn among those
 *      with expert calls (the expert-data budget's, task_ref.expert set); the others draw
 *      from every task, unanchored. An anchor parent replays the expert prefix, stopping
 *      after it, while the policy only observes;
 *   2. (the caller plays the parents) batch_fork: rollouts G/2..G-1 of an anchored task fork
 *      from its parent at the prefix step where the policy's entropy was highest;
 *   3. (the caller plays eps) batch_rewards: each rollout's reward (the server's return, or
 *      OTC from the group's call counts), the group's GRPO advantages (traj.h), and tallies.
 * Does not: talk HTTP, choose actions, or update the network.
 * Thread-safety: one batch per thread.
 */
#ifndef TG_BATCH_H
#define TG_BATCH_H

#include "base/rng.h"
#include "base/tg.h"
#include "policy/learner.h"
#include "policy/rollout.h"
#include "policy/task_list.h"
#include "policy/traj.h"
#include "policy/train_config.h"

struct batch {
    int T, G;
    struct rollout_ep *eps;     /* (T, G) */
    struct traj *trajs;         /* (T, G); eps[i].user = &trajs[i] */
    struct rollout_ep *parents; /* (T); [0, np) used: anchor parents */
    struct traj *ptrajs;        /* (T) */
    int *anchored;              /* (T) index of task t's parent, or -1 */
    int np;
};

/* what one update's rollouts amounted to (sums; the caller divides) */
struct batch_tally {
    int calls, correct;
    int labels[RL_LABELS];
    double ret;        /* sum of the rewards used for the advantages */
    int branch_eps;    /* rollouts forked from an anchor */
    double branch_acc; /* their correct answers */
    double fork_at;    /* sum of the fork steps */
};

/* batch_init — room for T x G rollouts. 0 or TG_ENOMEM with *err; batch_free frees any part. */
int batch_init(struct batch *b, int T, int G, struct tg_error *err);

/* batch_free — free every episode, trajectory and array of b; accepts a zeroed batch. */
void batch_free(struct batch *b);

/*
 * batch_draw — step 1 for an update: reset every episode and trajectory, draw the tasks from
 * tasks[0..ntasks) with rng, and set up the anchor parents when use_anchors. Every episode
 * gets its own random stream, seeded from rng in episode order, so what it samples does not
 * depend on when the server's replies arrive. The episodes borrow cfg's reward mode, and the
 * expert arrays of tasks.
 */
void batch_draw(struct batch *b, const struct train_config *cfg, const struct task_ref *tasks,
                int ntasks, struct rng *rng, int use_anchors);

/* batch_draw_from — batch_draw for groups [first, T) only: groups [0, first) keep their
 * played episodes (dynamic filtering redraws the rest). */
void batch_draw_from(struct batch *b, int first, const struct train_config *cfg,
                     const struct task_ref *tasks, int ntasks, struct rng *rng, int use_anchors);

/* batch_fork — step 2, after the parents were played: set the forks of the anchored tasks'
 * second half of the group; adds the fork steps to t->fork_at. */
void batch_fork(struct batch *b, struct batch_tally *t);

/* batch_fork_from — batch_fork for groups [first, T) only. */
void batch_fork_from(struct batch *b, int first, struct batch_tally *t);

/* batch_rewards — step 3, after eps were played: rewards (rm), advantages (mix, floor_sd)
 * and the tallies into *t. */
void batch_rewards(struct batch *b, enum learner_reward rm, double mix, double floor_sd,
                   struct batch_tally *t);

/* batch_rewards_from — batch_rewards for groups [first, T) only. */
void batch_rewards_from(struct batch *b, int first, enum learner_reward rm, double mix,
                        double floor_sd, struct batch_tally *t);

/*
 * batch_keep_informative — dynamic experience filtering's partition (docs/trainer.md): among
 * groups [first, T), move those whose rewards differ (traj_group_flat is 0) to the front, in
 * their order, right after groups [0, first). Returns k: groups [0, k) are kept, [k, T) are
 * the flat ones (every advantage 0: nothing to learn from them).
 */
int batch_keep_informative(struct batch *b, int first);

#endif
