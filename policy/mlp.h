/*
 * mlp.h — the policy's candidate scorer: a small feature MLP, its softmax over the candidates
 * of one decision, and the policy-gradient loss with its gradient.
 *
 * Network (tanh hidden units; tanh is smooth, so finite-difference checks are exact up to
 * rounding, and bounded, so scores stay tame with small feature scales):
 *   h1 = tanh(W1 x + b1)      x (IN), W1 (H1, IN), b1 (H1)
 *   h2 = tanh(W2 h1 + b2)     W2 (H2, H1), b2 (H2)
 *   score = w3 . h2 + b3      w3 (H2), b3 (1)
 * All parameters live in ONE contiguous float block (struct mlp.params_memory) in the order
 * W1 b1 W2 b2 w3 b3, with struct mlp_params pointing into it; gradients use a second block of
 * the same layout. Layers are numbered 0 (W1, b1), 1 (W2, b2), 2 (w3, b3); each layer's
 * parameters are one contiguous span of the block (mlp_layer_span).
 *
 * Does: sizing, seeded Xavier init, batched forward, backward with layer freezing, softmax,
 * log-prob, entropy and the PG / PPO-clip loss of one decision.
 * Does not: build features, pick candidates, sample, or update parameters (optim.h does that;
 * a frozen layer's span must be left out of the update by the caller).
 * Thread-safety: forward only reads the parameters, so threads may run forward at once, each
 * with its own workspace; backward writes the gradient block and must not run concurrently.
 */
#ifndef TG_MLP_H
#define TG_MLP_H

#include <stddef.h>

#include "base/tg.h"
#include "base/rng.h"

#define MLP_NUM_LAYERS 3

struct mlp_config {
    int in_dim;  /* IN: features per candidate */
    int hidden1; /* H1 */
    int hidden2; /* H2 */
};

/* pointers into one flat block; shapes in comments */
struct mlp_params {
    float *W1; /* (H1, IN) */
    float *b1; /* (H1) */
    float *W2; /* (H2, H1) */
    float *b2; /* (H2) */
    float *w3; /* (H2) */
    float *b3; /* (1) */
};

struct mlp {
    struct mlp_config cfg;
    size_t num_params;
    float *params_memory;       /* (num_params) owned */
    float *grads_memory;        /* (num_params) owned, same layout */
    struct mlp_params params;   /* into params_memory */
    struct mlp_params grads;    /* into grads_memory */
    int frozen[MLP_NUM_LAYERS]; /* 1: backward computes no gradient for that layer */
};

/* activations of the last forward pass, kept for backward; sized for max_n rows */
struct mlp_workspace {
    int max_n;
    int n;          /* rows of the last forward */
    const float *x; /* (n, IN) borrowed from the last mlp_forward call */
    float *h1;      /* (max_n, H1) */
    float *h2;      /* (max_n, H2) */
    float *dh1;     /* (H1) scratch for one row */
    float *dh2;     /* (H2) scratch for one row */
};

/*
 * mlp_config_check — 0 if every width is in [1, TG_MLP_MAX_DIM] and the parameter count is
 * at most TG_MLP_MAX_PARAMS; TG_EINVAL with a message in *err otherwise (err may be NULL).
 */
int mlp_config_check(const struct mlp_config *cfg, struct tg_error *err);

/* mlp_num_params — parameters of a network with this (checked) config. */
size_t mlp_num_params(const struct mlp_config *cfg);

/*
 * mlp_point — set *p to point into block (borrowed, at least mlp_num_params floats) with the
 * layout above. Used for the parameter and gradient blocks, and by anyone holding a block of
 * the same layout (Adam moments, a snapshot of old parameters).
 */
void mlp_point(struct mlp_params *p, const struct mlp_config *cfg, float *block);

/*
 * mlp_layer_span — the span [*off, *off + *len) of the flat block holding layer `layer`
 * (0, 1 or 2). Returns TG_EINVAL for another layer number.
 */
int mlp_layer_span(const struct mlp_config *cfg, int layer, size_t *off, size_t *len);

/*
 * mlp_init — allocate the parameter and gradient blocks of *m for cfg, both zeroed, no layer
 * frozen. Returns 0, TG_EINVAL (bad config, message in *err) or TG_ENOMEM. On failure *m
 * owns nothing. Free with mlp_free.
 */
int mlp_init(struct mlp *m, const struct mlp_config *cfg, struct tg_error *err);

/* mlp_free — free the blocks of *m and zero it; accepts NULL and a zeroed struct. */
void mlp_free(struct mlp *m);

/*
 * mlp_init_weights — Xavier-uniform weights, U(-a, a) with a = sqrt(6 / (fan_in + fan_out)),
 * drawn from r in block order; zero biases. The same seed gives the same network.
 */
void mlp_init_weights(struct mlp *m, struct rng *r);

/* mlp_zero_grad — zero the gradient block. */
void mlp_zero_grad(struct mlp *m);

/*
 * mlp_workspace_init — allocate activations for up to max_n rows (1..TG_MLP_MAX_BATCH).
 * Returns 0, TG_EINVAL (message in *err) or TG_ENOMEM; on failure *ws owns nothing.
 * mlp_workspace_free accepts NULL and a zeroed struct.
 */
int mlp_workspace_init(struct mlp_workspace *ws, const struct mlp_config *cfg, int max_n,
                       struct tg_error *err);
void mlp_workspace_free(struct mlp_workspace *ws);

/*
 * mlp_forward — scores of n candidates.
 * x: (n, IN) borrowed; it must stay unchanged until the matching mlp_backward.
 * scores: (n) out. ws: sized for at least n rows, same config as m.
 * Returns 0, or TG_ERANGE (message in *err) when n < 1 or n > ws->max_n.
 */
int mlp_forward(const struct mlp *m, struct mlp_workspace *ws, const float *x, int n, float *scores,
                struct tg_error *err);

/*
 * mlp_backward — given dL/dscore (ws->n) of the last forward on ws, ADD the parameter
 * gradients to m->grads_memory. A frozen layer gets no gradient; backpropagation stops at
 * the lowest unfrozen layer, so freezing the bottom layers saves their work. Returns the
 * number of multiply-adds done (for measuring what freezing saves).
 */
long long mlp_backward(struct mlp *m, struct mlp_workspace *ws, const float *dscores);

/* ---- one decision: softmax over its candidates ------------------------------------------ */

/* mlp_softmax — probs (n) = softmax(scores (n)), computed stably; n >= 1. */
void mlp_softmax(const float *scores, int n, float *probs);

/* mlp_log_prob — log softmax(scores)[a], via log-sum-exp (finite even when p underflows). */
float mlp_log_prob(const float *scores, int n, int a);

/* mlp_entropy — H = -sum p_i log p_i (nats) of softmax(scores); 0 for n == 1. */
float mlp_entropy(const float *scores, int n);

struct mlp_pg_args {
    int action;         /* chosen candidate index in [0, n) */
    float advantage;    /* A */
    float entropy_coef; /* beta: weight of the entropy bonus */
    int clip;           /* 0: plain PG; 1: PPO-clip against old_logp */
    float old_logp;     /* log p_a under the policy that sampled the action (clip only) */
    float clip_eps;     /* clip range (clip only), e.g. 0.2 */
};

struct mlp_pg_out {
    float loss;    /* L */
    float logp;    /* log p_a */
    float entropy; /* H(p) */
    float ratio;   /* exp(logp - old_logp); 1 without clip */
    int clipped;   /* 1 when the clipped term was active (no policy gradient) */
};

/*
 * mlp_pg_loss — the loss of one decision and dL/dscores.
 *   plain: L = -A log p_a - beta H(p)
 *   clip:  L = -min(r A, clip(r, 1-eps, 1+eps) A) - beta H(p),  r = exp(log p_a - old_logp)
 * scores: (n) borrowed; dscores: (n) out, OVERWRITTEN (pass it to mlp_backward);
 * out may be NULL. Returns 0, or TG_EINVAL (message in *err) for n < 1, an action out of
 * range, or a negative clip_eps.
 */
int mlp_pg_loss(const float *scores, int n, const struct mlp_pg_args *args, float *dscores,
                struct mlp_pg_out *out, struct tg_error *err);

#endif
