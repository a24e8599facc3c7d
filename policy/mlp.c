/*
 * mlp.c — the candidate-scoring MLP: forward, backward with freezing, softmax and the
 * policy-gradient loss of one decision (see mlp.h for the network and the contracts).
 */
#include "policy/mlp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"

/* ---- sizing and layout ------------------------------------------------------------------ */

int mlp_config_check(const struct mlp_config *cfg, struct tg_error *err) {
    const int dims[3] = {cfg->in_dim, cfg->hidden1, cfg->hidden2};
    const char *names[3] = {"in_dim", "hidden1", "hidden2"};

    for (int i = 0; i < 3; i++) {
        if (dims[i] < 1 || dims[i] > TG_MLP_MAX_DIM) {
            tg_error_set(err, TG_CODE_CONFIG, "mlp %s is %d; it must be in [1, %d]", names[i],
                         dims[i], TG_MLP_MAX_DIM);
            return TG_EINVAL;
        }
    }
    if (mlp_num_params(cfg) > (size_t)TG_MLP_MAX_PARAMS) {
        tg_error_set(err, TG_CODE_CONFIG, "mlp has %zu parameters; the limit is %d",
                     mlp_num_params(cfg), TG_MLP_MAX_PARAMS);
        return TG_EINVAL;
    }
    return 0;
}

size_t mlp_num_params(const struct mlp_config *cfg) {
    size_t in = (size_t)cfg->in_dim, h1 = (size_t)cfg->hidden1, h2 = (size_t)cfg->hidden2;

    return h1 * in + h1 + h2 * h1 + h2 + h2 + 1;
}

void mlp_point(struct mlp_params *p, const struct mlp_config *cfg, float *block) {
    size_t in = (size_t)cfg->in_dim, h1 = (size_t)cfg->hidden1, h2 = (size_t)cfg->hidden2;

    p->W1 = block;
    p->b1 = p->W1 + h1 * in;
    p->W2 = p->b1 + h1;
    p->b2 = p->W2 + h2 * h1;
    p->w3 = p->b2 + h2;
    p->b3 = p->w3 + h2;
}

int mlp_layer_span(const struct mlp_config *cfg, int layer, size_t *off, size_t *len) {
    size_t in = (size_t)cfg->in_dim, h1 = (size_t)cfg->hidden1, h2 = (size_t)cfg->hidden2;

    switch (layer) {
    case 0:
        *off = 0;
        *len = h1 * in + h1;
        return 0;
    case 1:
        *off = h1 * in + h1;
        *len = h2 * h1 + h2;
        return 0;
    case 2:
        *off = h1 * in + h1 + h2 * h1 + h2;
        *len = h2 + 1;
        return 0;
    default:
        return TG_EINVAL;
    }
}

int mlp_init(struct mlp *m, const struct mlp_config *cfg, struct tg_error *err) {
    int rc;

    memset(m, 0, sizeof(*m));
    rc = mlp_config_check(cfg, err);
    if (rc)
        return rc;
    m->cfg = *cfg;
    m->num_params = mlp_num_params(cfg);
    m->params_memory = calloc(m->num_params, sizeof(float));
    m->grads_memory = calloc(m->num_params, sizeof(float));
    if (!m->params_memory || !m->grads_memory) {
        mlp_free(m);
        tg_error_set(err, TG_CODE_NOMEM, "out of memory: cannot allocate %zu mlp parameters",
                     mlp_num_params(cfg));
        return TG_ENOMEM;
    }
    mlp_point(&m->params, cfg, m->params_memory);
    mlp_point(&m->grads, cfg, m->grads_memory);
    return 0;
}

void mlp_free(struct mlp *m) {
    if (!m)
        return;
    free(m->params_memory);
    free(m->grads_memory);
    memset(m, 0, sizeof(*m));
}

static void xavier_fill(float *w, size_t count, int fan_in, int fan_out, struct rng *r) {
    double a = sqrt(6.0 / (double)(fan_in + fan_out));

    for (size_t i = 0; i < count; i++)
        w[i] = (float)((2.0 * rng_uniform(r) - 1.0) * a);
}

void mlp_init_weights(struct mlp *m, struct rng *r) {
    int in = m->cfg.in_dim, h1 = m->cfg.hidden1, h2 = m->cfg.hidden2;
    struct mlp_params *p = &m->params;

    memset(m->params_memory, 0, m->num_params * sizeof(float));
    xavier_fill(p->W1, (size_t)h1 * in, in, h1, r);
    xavier_fill(p->W2, (size_t)h2 * h1, h1, h2, r);
    xavier_fill(p->w3, (size_t)h2, h2, 1, r);
}

void mlp_zero_grad(struct mlp *m) {
    memset(m->grads_memory, 0, m->num_params * sizeof(float));
}

int mlp_workspace_init(struct mlp_workspace *ws, const struct mlp_config *cfg, int max_n,
                       struct tg_error *err) {
    int rc;

    memset(ws, 0, sizeof(*ws));
    rc = mlp_config_check(cfg, err);
    if (rc)
        return rc;
    if (max_n < 1 || max_n > TG_MLP_MAX_BATCH) {
        tg_error_set(err, TG_CODE_CONFIG, "mlp batch of %d rows; it must be in [1, %d]", max_n,
                     TG_MLP_MAX_BATCH);
        return TG_EINVAL;
    }
    ws->max_n = max_n;
    ws->h1 = malloc((size_t)max_n * cfg->hidden1 * sizeof(float));
    ws->h2 = malloc((size_t)max_n * cfg->hidden2 * sizeof(float));
    ws->dh1 = malloc((size_t)cfg->hidden1 * sizeof(float));
    ws->dh2 = malloc((size_t)cfg->hidden2 * sizeof(float));
    if (!ws->h1 || !ws->h2 || !ws->dh1 || !ws->dh2) {
        mlp_workspace_free(ws);
        tg_error_set(err, TG_CODE_NOMEM,
                     "out of memory: cannot allocate an mlp workspace of %d rows", max_n);
        return TG_ENOMEM;
    }
    return 0;
}

void mlp_workspace_free(struct mlp_workspace *ws) {
    if (!ws)
        return;
    free(ws->h1);
    free(ws->h2);
    free(ws->dh1);
    free(ws->dh2);
    memset(ws, 0, sizeof(*ws));
}

/* ---- forward and backward --------------------------------------------------------------- */

/* out (OC) = tanh(W (OC, C) . in (C) + b (OC)) */
static void dense_tanh(float *out, const float *in, const float *W, const float *b, int C, int OC) {
    for (int o = 0; o < OC; o++) {
        const float *w = W + (size_t)o * C;
        float a = b[o];

        for (int c = 0; c < C; c++)
            a += w[c] * in[c];
        out[o] = tanhf(a);
    }
}

int mlp_forward(const struct mlp *m, struct mlp_workspace *ws, const float *x, int n, float *scores,
                struct tg_error *err) {
    int in = m->cfg.in_dim, h1 = m->cfg.hidden1, h2 = m->cfg.hidden2;
    const struct mlp_params *p = &m->params;

    if (n < 1 || n > ws->max_n) {
        tg_error_set(err, "out_of_range", "mlp forward of %d rows; the workspace holds 1..%d", n,
                     ws->max_n);
        return TG_ERANGE;
    }
    ws->x = x;
    ws->n = n;
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * in; /* (IN) */
        float *h1i = ws->h1 + (size_t)i * h1; /* (H1) */
        float *h2i = ws->h2 + (size_t)i * h2; /* (H2) */
        float s = p->b3[0];

        dense_tanh(h1i, xi, p->W1, p->b1, in, h1);
        dense_tanh(h2i, h1i, p->W2, p->b2, h1, h2);
        for (int j = 0; j < h2; j++)
            s += p->w3[j] * h2i[j];
        scores[i] = s;
    }
    return 0;
}

long long mlp_backward(struct mlp *m, struct mlp_workspace *ws, const float *dscores) {
    int in = m->cfg.in_dim, h1 = m->cfg.hidden1, h2 = m->cfg.hidden2;
    const struct mlp_params *p = &m->params;
    struct mlp_params *g = &m->grads;
    float *dh1 = ws->dh1, *dh2 = ws->dh2;
    int lowest = MLP_NUM_LAYERS; /* lowest unfrozen layer; MLP_NUM_LAYERS: all frozen */
    long long flops = 0;

    for (int l = MLP_NUM_LAYERS - 1; l >= 0; l--)
        if (!m->frozen[l])
            lowest = l;
    if (lowest == MLP_NUM_LAYERS)
        return 0;

    for (int i = 0; i < ws->n; i++) {
        const float *xi = ws->x + (size_t)i * in;
        const float *h1i = ws->h1 + (size_t)i * h1;
        const float *h2i = ws->h2 + (size_t)i * h2;
        float ds = dscores[i];

        /* layer 2: score = w3 . h2 + b3 */
        if (!m->frozen[2]) {
            for (int j = 0; j < h2; j++)
                g->w3[j] += ds * h2i[j];
            g->b3[0] += ds;
            flops += h2;
        }
        if (lowest == 2)
            continue;
        /* through tanh: dL/d(pre-activation 2) = ds * w3 * (1 - h2^2) */
        for (int j = 0; j < h2; j++)
            dh2[j] = ds * p->w3[j] * (1.0f - h2i[j] * h2i[j]);
        flops += h2;

        /* layer 1: pre2 = W2 h1 + b2 */
        if (!m->frozen[1]) {
            for (int j = 0; j < h2; j++) {
                float *gw = g->W2 + (size_t)j * h1;

                for (int k = 0; k < h1; k++)
                    gw[k] += dh2[j] * h1i[k];
                g->b2[j] += dh2[j];
            }
            flops += (long long)h2 * h1;
        }
        if (lowest == 1)
            continue;
        for (int k = 0; k < h1; k++)
            dh1[k] = 0.0f;
        for (int j = 0; j < h2; j++) {
            const float *w = p->W2 + (size_t)j * h1;

            for (int k = 0; k < h1; k++)
                dh1[k] += w[k] * dh2[j];
        }
        for (int k = 0; k < h1; k++)
            dh1[k] *= 1.0f - h1i[k] * h1i[k];
        flops += (long long)h2 * h1 + h1;

        /* layer 0: pre1 = W1 x + b1 (lowest == 0 here, so it is unfrozen) */
        for (int k = 0; k < h1; k++) {
            float *gw = g->W1 + (size_t)k * in;

            for (int c = 0; c < in; c++)
                gw[c] += dh1[k] * xi[c];
            g->b1[k] += dh1[k];
        }
        flops += (long long)h1 * in;
    }
    return flops;
}

/* ---- one decision ----------------------------------------------------------------------- */

static float max_of(const float *v, int n) {
    float mx = v[0];

    for (int i = 1; i < n; i++)
        if (v[i] > mx)
            mx = v[i];
    return mx;
}

/* log sum_i exp(scores[i]), in double for accuracy */
static double log_sum_exp(const float *scores, int n) {
    double mx = max_of(scores, n), sum = 0.0;

    for (int i = 0; i < n; i++)
        sum += exp((double)scores[i] - mx);
    /* sum >= 1: the maximum's own term is exp(0) */
    // cppcheck-suppress invalidFunctionArg
    return mx + log(sum);
}

void mlp_softmax(const float *scores, int n, float *probs) {
    double lse = log_sum_exp(scores, n);

    for (int i = 0; i < n; i++)
        probs[i] = (float)exp((double)scores[i] - lse);
}

float mlp_log_prob(const float *scores, int n, int a) {
    return (float)((double)scores[a] - log_sum_exp(scores, n));
}

float mlp_entropy(const float *scores, int n) {
    double lse = log_sum_exp(scores, n), h = 0.0;

    for (int i = 0; i < n; i++) {
        double lp = (double)scores[i] - lse;

        h -= exp(lp) * lp;
    }
    return (float)h;
}

int mlp_pg_loss(const float *scores, int n, const struct mlp_pg_args *args, float *dscores,
                struct mlp_pg_out *out, struct tg_error *err) {
    double lse, logp, H = 0.0, A = args->advantage, beta = args->entropy_coef;
    double ratio = 1.0, pg_coef, loss;
    int a = args->action, clipped = 0;

    if (n < 1 || a < 0 || a >= n) {
        tg_error_set(err, "invalid_request", "action %d is not a candidate index in [0, %d)", a, n);
        return TG_EINVAL;
    }
    if (args->clip && !(args->clip_eps >= 0.0f)) {
        tg_error_set(err, "invalid_request", "clip_eps must be >= 0");
        return TG_EINVAL;
    }
    lse = log_sum_exp(scores, n);
    logp = (double)scores[a] - lse;
    for (int i = 0; i < n; i++) {
        double lp = (double)scores[i] - lse;

        H -= exp(lp) * lp;
    }

    /* the policy-gradient term is -c * log p_a for a coefficient c (its gradient direction
     * is that of log p_a): plain c = A; clip c = r A when r A is the min, else 0 */
    if (args->clip) {
        double lo = 1.0 - args->clip_eps, hi = 1.0 + args->clip_eps;
        double rc;

        ratio = exp(logp - (double)args->old_logp);
        rc = ratio < lo ? lo : (ratio > hi ? hi : ratio);
        if (rc * A < ratio * A) {
            clipped = 1;
            loss = -rc * A;
            pg_coef = 0.0;
        } else {
            loss = -ratio * A;
            pg_coef = ratio * A;
        }
    } else {
        loss = -A * logp;
        pg_coef = A;
    }
    loss -= beta * H;

    /* d log p_a / ds_j = [j == a] - p_j ;  dH/ds_j = -p_j (log p_j + H) */
    for (int j = 0; j < n; j++) {
        double lp = (double)scores[j] - lse, pj = exp(lp);
        double dlogp = (j == a ? 1.0 : 0.0) - pj;
        double dH = -pj * (lp + H);

        dscores[j] = (float)(-pg_coef * dlogp - beta * dH);
    }
    if (out) {
        out->loss = (float)loss;
        out->logp = (float)logp;
        out->entropy = (float)H;
        out->ratio = (float)ratio;
        out->clipped = clipped;
    }
    return 0;
}
