/*
 * policy.h — the tool-use policy: the network (net.h) reading the sequence of a view
 * (seq.h) and writing an action in the grammar of act.h; and its losses.
 *
 * Does: decide an action (sampled at temperature 1 from the masked softmax of each output, or
 * greedy), with its log-probability and entropy; the gradients of one recorded action for
 * the policy-gradient update (plain or PPO-clip, with an entropy bonus), and of one expert
 * target for the warm-up (cross-entropy, -log of the probability of writing the target, any
 * of its equivalent outputs and alternatives counting); the policy acting in rollouts.
 * Does not: train (learner.h, sft.h), talk HTTP (rollout.h), or load checkpoints (ckpt.h).
 * Thread-safety: a struct policy is read-only while acting or computing gradients; each
 * thread needs its own struct policy_scratch.
 */
#ifndef TG_POLICY_H
#define TG_POLICY_H

#include "base/rng.h"
#include "base/tg.h"
#include "policy/act.h"
#include "policy/net.h"
#include "policy/rollout.h"
#include "policy/seq.h"

struct policy {
    struct net net;
    struct act_vocab voc;
    const struct lexicon *lex; /* WordNet (process-wide, lexicon_default) or NULL: seq_build */
};

/* what one thread needs to act and to compute gradients */
struct policy_scratch {
    struct net_ws ws;
    struct seq seq; /* built from a view */
    unsigned char sym[TG_ACT_SYMBOLS_MAX];
    unsigned char ptr[TG_SEQ_MAX];
    float *dlogits; /* (TG_ACT_OUT_MAX, nsym + TG_SEQ_MAX) */
};

/* policy_scratch_init — for policy p (its network set up). 0 or TG_ENOMEM; policy_scratch_free
 * accepts a zeroed scratch. */
int policy_scratch_init(struct policy_scratch *sc, const struct policy *p, struct tg_error *err);
void policy_scratch_free(struct policy_scratch *sc);

/* policy_free — free the network and zero *p; accepts a zeroed policy. */
void policy_free(struct policy *p);

enum policy_mode { POLICY_SAMPLE = 0, POLICY_GREEDY = 1 };

/* one decided action */
struct policy_action {
    int out[TG_ACT_OUT_MAX];
    int n;
    float logp;    /* log-probability of the whole action */
    float entropy; /* sum over its outputs of the entropy of each output's distribution */
};

/*
 * policy_decide — encode s (borrowed) on sc and write an action: sampled with rng (mode
 * POLICY_SAMPLE) or the most probable output at each step (POLICY_GREEDY; rng unused).
 */
void policy_decide(const struct policy *p, struct policy_scratch *sc, const struct seq *s, int mode,
                   struct rng *rng, struct policy_action *a);

struct policy_pg {
    float advantage;    /* A */
    float entropy_coef; /* beta */
    int clip;           /* 0: plain; 1: PPO-clip against old_logp */
    float old_logp;
    float clip_eps;
    float scale; /* the loss is multiplied by this (1 / decisions in the update) */
};

/*
 * policy_pg_backward — loss L = -A log p(a) - beta H (or PPO-clip: -min(r A, clip(r) A) -
 * beta H, r = exp(log p(a) - old_logp)) of action a taken at s, times scale; ADDS its gradient
 * to sc->ws.grads. Returns L; *logp and *entropy (may be NULL) get log p(a) and H.
 */
float policy_pg_backward(const struct policy *p, struct policy_scratch *sc, const struct seq *s,
                         const struct policy_action *a, const struct policy_pg *pg, float *logp,
                         float *entropy);

/* policy_pg_dlogits — policy_pg_backward's forward half after the encoding (sc->ws encoded
 * over s): the decoder along a, the loss (returned, times scale), and dL/dlogits in
 * sc->dlogits for net_dec_backward; no gradient is added. */
float policy_pg_dlogits(const struct policy *p, struct policy_scratch *sc, const struct seq *s,
                        const struct policy_action *a, const struct policy_pg *pg, float *logp,
                        float *entropy);

/*
 * policy_sft_backward — the warm-up loss of target t at s: -log sum over alternatives of the
 * probability of writing it (at each step any output of the step's set counts), times
 * scale; ADDS its gradient to sc->ws.grads when grad is 1 (0: loss only). *hit (may be NULL)
 * = 1 when greedy decoding would write one of the alternatives exactly. Returns the loss
 * (before scaling).
 */
float policy_sft_backward(const struct policy *p, struct policy_scratch *sc, const struct seq *s,
                          const struct act_targets *t, float scale, int grad, int *hit);

/* An acting policy: the ctx of policy_act. pol borrowed; sc scratch for this thread. */
struct policy_actor {
    const struct policy *pol;
    struct policy_scratch *sc;
    int mode;   /* enum policy_mode */
    int record; /* store decisions into each episode's trajectory (ep->user, a struct traj) */
    long steps; /* decisions made (throughput) */
};

/*
 * policy_act — a rollout_policy_fn (rollout.h); ctx is a struct policy_actor, ep->user a
 * struct traj or NULL. Sampling uses the episode's own RNG (ep->rng), so what an episode
 * does depends on its seed alone, not on the order the network delivers replies. During an
 * expert prefix (observe) it only records the entropy of the greedy action there; otherwise
 * it decides and, when recording, appends the decision to the trajectory. 0 or a tg_err.
 */
int policy_act(void *ctx, struct rollout_ep *ep, const struct view *v, int observe, json_t **body,
               struct tg_error *err);

#endif
