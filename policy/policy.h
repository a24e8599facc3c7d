/*
 * policy.h — the tool-use policy: features of every candidate action (features.h) scored by
 * an MLP (mlp.h), a softmax over the candidates with a base measure per kind; and the policy
 * acting in rollouts (the rollout.h callback), sampling or greedy, recording its decisions.
 *
 * Does: score a state's candidates, pick one (sampled at temperature 1, or the best), measure
 * the entropy at expert-prefix steps, and record each sampled decision into the episode's
 * trajectory (traj.h) for the update.
 * Does not: own the network's training (learner.h), talk HTTP (rollout.h), or load
 * checkpoints (ckpt.h).
 * Thread-safety: a struct policy is scratch for one thread.
 */
#ifndef TG_POLICY_H
#define TG_POLICY_H

#include "base/limits.h"
#include "base/rng.h"
#include "base/tg.h"
#include "policy/candidates.h"
#include "policy/features.h"
#include "policy/mlp.h"
#include "policy/rollout.h"

struct policy {
    struct mlp m;
    struct mlp_workspace ws;
    struct cand_list *cl;      /* scratch */
    float *X;                  /* (TG_CAND_MAX, FEAT_DIM) scratch */
    float scores[TG_CAND_MAX]; /* MLP score + base-measure offset */
    float off[TG_CAND_MAX];    /* -log(candidates of the same kind) */
    float probs[TG_CAND_MAX];
};

/* policy_scratch — allocate the scratch of p, whose network p->m is already set up.
 * 0 or TG_ENOMEM / an mlp error with *err; policy_free frees what was allocated. */
int policy_scratch(struct policy *p, struct tg_error *err);

/* policy_free — free the network and the scratch and zero *p; accepts a zeroed policy. */
void policy_free(struct policy *p);

/*
 * policy_score — generate the candidates of state s (borrowed) into p->cl and fill p->X,
 * p->off, p->scores and p->probs for them. Returns their number n > 0, or a negative tg_err
 * with *err (no candidate, network error).
 */
int policy_score(struct policy *p, const struct cand_state *s, struct tg_error *err);

/* policy_best — the index of the highest score among p->scores[0..n) (the first on ties). */
int policy_best(const struct policy *p, int n);

enum policy_mode { POLICY_SAMPLE = 0, POLICY_GREEDY = 1 };

/* An acting policy: the ctx of policy_act. pol and rng borrowed. */
struct policy_actor {
    struct policy *pol;
    struct rng *rng;
    int mode;   /* enum policy_mode */
    int record; /* store decisions into each episode's trajectory (ep->user, a struct traj) */
    long steps; /* decisions made (throughput) */
};

/*
 * policy_act — a rollout_policy_fn (rollout.h); ctx is a struct policy_actor, ep->user a
 * struct traj or NULL. During an expert prefix (observe) it records the entropy only;
 * otherwise it picks a candidate (sampled or greedy) and, when recording, appends the
 * decision to the trajectory. 0, or a negative tg_err with *err.
 */
int policy_act(void *ctx, struct rollout_ep *ep, const struct cand_state *s, int observe,
               struct cand *out, struct tg_error *err);

#endif
