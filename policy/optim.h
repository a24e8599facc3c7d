/*
 * optim.h — AdamW over a flat parameter block, and global-norm gradient clipping.
 *
 * Does: keep the first and second moments (same layout as the parameters), apply one
 * bias-corrected AdamW step (decoupled weight decay, as in llm.c's gpt2_update) to the whole
 * block or to spans of it, clip gradients by their global L2 norm.
 * Does not: choose the learning rate (sched.h), know what the parameters are, or zero the
 * gradients.
 * Thread-safety: none; one optimizer per trainer thread.
 *
 * To skip frozen layers, start the step once and update only the unfrozen spans:
 *   adam_begin_step(&opt);
 *   for (l = 0; l < n.nlayers; l++)
 *       if (!n.frozen[l]) { net_layer_span(&n, l, &off, &len);
 *                           adam_update_span(&opt, n.params, grads, lr, off, len);
 * } A span left out keeps its parameters and its moments unchanged.
 */
#ifndef TG_OPTIM_H
#define TG_OPTIM_H

#include <stddef.h>

#include "base/tg.h"

struct adam_config {
    float beta1;        /* e.g. 0.9, in [0, 1) */
    float beta2;        /* e.g. 0.999, in [0, 1) */
    float eps;          /* e.g. 1e-8, > 0 */
    float weight_decay; /* decoupled (AdamW); 0 is plain Adam; >= 0 */
};

struct adam {
    struct adam_config cfg;
    size_t n;  /* parameters */
    long step; /* t: steps begun so far (bias correction uses it) */
    float *m;  /* (n) first moment, owned */
    float *v;  /* (n) second moment, owned */
};

/* adam_config_default — beta1 0.9, beta2 0.999, eps 1e-8, weight decay 0. */
struct adam_config adam_config_default(void);

/* adam_config_check — 0, or TG_EINVAL with a message in *err for values out of range. */
int adam_config_check(const struct adam_config *cfg, struct tg_error *err);

/*
 * adam_init — moments for n parameters (1..TG_NET_MAX_PARAMS), zeroed, step 0.
 * Returns 0, TG_EINVAL (message in *err) or TG_ENOMEM; on failure *a owns nothing.
 */
int adam_init(struct adam *a, const struct adam_config *cfg, size_t n, struct tg_error *err);

/* adam_free — free the moments and zero *a; accepts NULL and a zeroed struct. */
void adam_free(struct adam *a);

/* adam_begin_step — t += 1; call once per update before adam_update_span. Returns t. */
long adam_begin_step(struct adam *a);

/*
 * adam_update_span — one AdamW step with learning rate lr on params[off, off + len) using
 * grads (same layout, borrowed) and the current t (adam_begin_step must have been called):
 *   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
 *   p -= lr * ( (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps) + wd * p )
 */
void adam_update_span(struct adam *a, float *params, const float *grads, float lr, size_t off,
                      size_t len);

/* adam_update — adam_begin_step and adam_update_span over the whole block. */
void adam_update(struct adam *a, float *params, const float *grads, float lr);

/*
 * adam_clip_grad_norm — the global L2 norm of grads (n); when it exceeds max_norm (> 0),
 * scale grads in place so the norm becomes max_norm. max_norm <= 0 only measures.
 * Returns the norm before clipping.
 */
float adam_clip_grad_norm(float *grads, size_t n, float max_norm);

#endif
