/*
 * optim.c — AdamW and global-norm clipping over flat float blocks (see optim.h).
 */
#include "policy/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"

struct adam_config adam_config_default(void) {
    struct adam_config c = {.beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.0f};

    return c;
}

int adam_config_check(const struct adam_config *cfg, struct tg_error *err) {
    if (!(cfg->beta1 >= 0.0f && cfg->beta1 < 1.0f)) {
        tg_error_set(err, TG_CODE_CONFIG, "adam beta1 is %g; it must be in [0, 1)",
                     (double)cfg->beta1);
        return TG_EINVAL;
    }
    if (!(cfg->beta2 >= 0.0f && cfg->beta2 < 1.0f)) {
        tg_error_set(err, TG_CODE_CONFIG, "adam beta2 is %g; it must be in [0, 1)",
                     (double)cfg->beta2);
        return TG_EINVAL;
    }
    if (!(cfg->eps > 0.0f) || !isfinite(cfg->eps)) {
        tg_error_set(err, TG_CODE_CONFIG, "adam eps is %g; it must be > 0", (double)cfg->eps);
        return TG_EINVAL;
    }
    if (!(cfg->weight_decay >= 0.0f) || !isfinite(cfg->weight_decay)) {
        tg_error_set(err, TG_CODE_CONFIG, "adam weight_decay is %g; it must be >= 0",
                     (double)cfg->weight_decay);
        return TG_EINVAL;
    }
    return 0;
}

int adam_init(struct adam *a, const struct adam_config *cfg, size_t n, struct tg_error *err) {
    int rc;

    memset(a, 0, sizeof(*a));
    rc = adam_config_check(cfg, err);
    if (rc)
        return rc;
    if (n < 1 || n > (size_t)TG_NET_MAX_PARAMS) {
        tg_error_set(err, TG_CODE_CONFIG, "adam over %zu parameters; it must be in [1, %d]", n,
                     TG_NET_MAX_PARAMS);
        return TG_EINVAL;
    }
    a->cfg = *cfg;
    a->n = n;
    a->m = calloc(n, sizeof(float));
    a->v = calloc(n, sizeof(float));
    if (!a->m || !a->v) {
        adam_free(a);
        tg_error_set(err, TG_CODE_NOMEM, "cannot allocate adam moments for %zu parameters", n);
        return TG_ENOMEM;
    }
    return 0;
}

void adam_free(struct adam *a) {
    if (!a)
        return;
    free(a->m);
    free(a->v);
    memset(a, 0, sizeof(*a));
}

long adam_begin_step(struct adam *a) {
    return ++a->step;
}

void adam_update_span(struct adam *a, float *params, const float *grads, float lr, size_t off,
                      size_t len) {
    float b1 = a->cfg.beta1, b2 = a->cfg.beta2, eps = a->cfg.eps, wd = a->cfg.weight_decay;
    float bc1 = 1.0f - powf(b1, (float)a->step); /* bias corrections */
    float bc2 = 1.0f - powf(b2, (float)a->step);

    TG_ASSERT(a->step >= 1);
    TG_ASSERT(off + len <= a->n);
    for (size_t i = off; i < off + len; i++) {
        float g = grads[i];
        float m = b1 * a->m[i] + (1.0f - b1) * g;
        float v = b2 * a->v[i] + (1.0f - b2) * g * g;
        float m_hat = m / bc1;
        float v_hat = v / bc2;

        a->m[i] = m;
        a->v[i] = v;
        params[i] -= lr * (m_hat / (sqrtf(v_hat) + eps) + wd * params[i]);
    }
}

void adam_update(struct adam *a, float *params, const float *grads, float lr) {
    adam_begin_step(a);
    adam_update_span(a, params, grads, lr, 0, a->n);
}

float adam_clip_grad_norm(float *grads, size_t n, float max_norm) {
    double sum = 0.0;
    float norm;

    for (size_t i = 0; i < n; i++)
        sum += (double)grads[i] * grads[i];
    norm = (float)sqrt(sum);
    if (max_norm > 0.0f && norm > max_norm) {
        float scale = max_norm / norm;

        for (size_t i = 0; i < n; i++)
            grads[i] *= scale;
    }
    return norm;
}
