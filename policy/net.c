/*
 * net.c — the policy network's forward and backward passes, written plainly (llm.c is the
 * model: one function per layer kind, flat arrays, shapes in comments). See net.h.
 */
#include "policy/net.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/act.h"

/* ---- sizes and layout --------------------------------------------------------------------- */

static size_t block_size(const struct net_config *c) {
    size_t d = (size_t)c->d, F = (size_t)c->ffn, H = (size_t)c->heads;

    return 2 * d + 3 * d * d + 3 * d + d * d + d + H * NET_REL + H + 2 * d + F * d + F + d * F + d;
}

static size_t embed_size(const struct net_config *c) {
    return (size_t)c->d *
           ((size_t)c->buckets + SEG_COUNT + SEQ_POS + SEQ_AGO + SEQ_RANK + SEQ_FEAT);
}

static size_t head_size(const struct net_config *c) {
    size_t d = (size_t)c->d, V = (size_t)c->nsym;

    return 2 * d + d * d + d + d * d + 2 * d * d + d + d * d + V * d + V + V * d + V * d +
           2 * d * d + d + NET_COV + NET_CMP * d + NET_ADJ * d + d;
}

size_t net_num_params(const struct net_config *c) {
    return embed_size(c) + (size_t)c->layers * block_size(c) + head_size(c);
}

int net_config_check(const struct net_config *c, struct tg_error *err) {
#define CHECK(cond, ...)                                                                           \
    if (!(cond)) {                                                                                 \
        tg_error_set(err, TG_CODE_CONFIG, __VA_ARGS__);                                            \
        return TG_EINVAL;                                                                          \
    }
    CHECK(c->heads >= 1 && c->heads <= 16, "heads = %d is out of range [1, 16]", c->heads);
    CHECK(c->d >= c->heads && c->d <= TG_NET_MAX_DIM && c->d % c->heads == 0,
          "d_model = %d must be in [heads, %d] and a multiple of heads (%d)", c->d, TG_NET_MAX_DIM,
          c->heads);
    CHECK(c->layers >= 1 && c->layers <= NET_LAYERS_MAX, "layers = %d is out of range [1, %d]",
          c->layers, NET_LAYERS_MAX);
    CHECK(c->ffn >= 1 && c->ffn <= TG_NET_MAX_DIM, "ffn = %d is out of range [1, %d]", c->ffn,
          TG_NET_MAX_DIM);
    CHECK(c->buckets >= 1 && c->buckets <= (1 << 20), "buckets = %d is out of range [1, %d]",
          c->buckets, 1 << 20);
    CHECK(c->nsym >= SYM_FIXED && c->nsym <= TG_ACT_SYMBOLS_MAX,
          "the network has %d output symbols; it must have %d..%d", c->nsym, SYM_FIXED,
          TG_ACT_SYMBOLS_MAX);
    CHECK(net_num_params(c) <= (size_t)TG_NET_MAX_PARAMS,
          "the network would have %zu parameters (at most %d)", net_num_params(c),
          TG_NET_MAX_PARAMS);
#undef CHECK
    return 0;
}

void net_point(struct net_params *p, const struct net_config *c, float *block, size_t *off) {
    size_t d = (size_t)c->d, F = (size_t)c->ffn, H = (size_t)c->heads, V = (size_t)c->nsym;
    float *q = block;

#define TAKE(field, n)                                                                             \
    do {                                                                                           \
        field = q;                                                                                 \
        q += (n);                                                                                  \
    } while (0)
    memset(p, 0, sizeof(*p));
    if (off)
        off[0] = 0;
    TAKE(p->wpiece, (size_t)c->buckets * d);
    TAKE(p->wseg, SEG_COUNT * d);
    TAKE(p->wpos, SEQ_POS * d);
    TAKE(p->wago, SEQ_AGO * d);
    TAKE(p->wrank, SEQ_RANK * d);
    TAKE(p->wfeat, SEQ_FEAT * d);
    for (int l = 0; l < c->layers; l++) {
        struct net_block *b = &p->blk[l];

        if (off)
            off[1 + l] = (size_t)(q - block);
        TAKE(b->ln1w, d);
        TAKE(b->ln1b, d);
        TAKE(b->wqkv, 3 * d * d);
        TAKE(b->bqkv, 3 * d);
        TAKE(b->wo, d * d);
        TAKE(b->bo, d);
        TAKE(b->relb, H * NET_REL);
        TAKE(b->sameb, H);
        TAKE(b->ln2w, d);
        TAKE(b->ln2b, d);
        TAKE(b->wfc, F * d);
        TAKE(b->bfc, F);
        TAKE(b->wproj, d * F);
        TAKE(b->bproj, d);
    }
    if (off)
        off[1 + c->layers] = (size_t)(q - block);
    TAKE(p->lnfw, d);
    TAKE(p->lnfb, d);
    TAKE(p->w0, d * d);
    TAKE(p->b0, d);
    TAKE(p->wq, d * d);
    TAKE(p->wz, 2 * d * d);
    TAKE(p->bz, d);
    TAKE(p->wp, d * d);
    TAKE(p->eout, V * d);
    TAKE(p->bout, V);
    TAKE(p->wev, V * d);
    TAKE(p->ein, V * d);
    TAKE(p->wg, d * d);
    TAKE(p->wu, d * d);
    TAKE(p->bg, d);
    TAKE(p->covb, NET_COV);
    TAKE(p->wcmp, NET_CMP * d);
    TAKE(p->wadj, NET_ADJ * d);
    TAKE(p->wsr, d);
    if (off)
        off[2 + c->layers] = (size_t)(q - block);
#undef TAKE
}

int net_init(struct net *n, const struct net_config *c, struct tg_error *err) {
    int rc = net_config_check(c, err);

    memset(n, 0, sizeof(*n));
    if (rc)
        return rc;
    n->cfg = *c;
    n->num_params = net_num_params(c);
    n->params = calloc(n->num_params, sizeof(float));
    if (!n->params) {
        tg_error_set(err, TG_CODE_NOMEM, "out of memory (%zu parameters)", n->num_params);
        return TG_ENOMEM;
    }
    n->nlayers = c->layers + 2;
    net_point(&n->p, c, n->params, n->layer_off);
    return 0;
}

void net_free(struct net *n) {
    if (!n)
        return;
    free(n->params);
    memset(n, 0, sizeof(*n));
}

int net_layer_span(const struct net *n, int l, size_t *off, size_t *len) {
    if (l < 0 || l >= n->nlayers)
        return TG_EINVAL;
    *off = n->layer_off[l];
    *len = n->layer_off[l + 1] - n->layer_off[l];
    return 0;
}

static void fill_normal(float *w, size_t n, float sd, struct rng *r) {
    for (size_t i = 0; i < n; i++)
        w[i] = (float)(rng_normal(r) * sd);
}

static void fill_const(float *w, size_t n, float v) {
    for (size_t i = 0; i < n; i++)
        w[i] = v;
}

void net_init_weights(struct net *n, struct rng *r) {
    const struct net_config *c = &n->cfg;
    struct net_params *p = &n->p;
    size_t d = (size_t)c->d, F = (size_t)c->ffn, V = (size_t)c->nsym;
    float sd = 0.02f, sd_res = 0.02f / sqrtf(2.0f * (float)c->layers),
          sd_rnn = 1.0f / sqrtf((float)d);

    memset(n->params, 0, sizeof(float) * n->num_params);
    fill_normal(p->wpiece, (size_t)c->buckets * d, 0.1f, r);
    fill_normal(p->wseg, SEG_COUNT * d, 0.05f, r);
    fill_normal(p->wpos, SEQ_POS * d, 0.05f, r);
    fill_normal(p->wago, SEQ_AGO * d, 0.05f, r);
    fill_normal(p->wrank, SEQ_RANK * d, 0.05f, r);
    fill_normal(p->wfeat, SEQ_FEAT * d, 0.05f, r);
    for (int l = 0; l < c->layers; l++) {
        struct net_block *b = &p->blk[l];

        fill_const(b->ln1w, d, 1.0f);
        fill_normal(b->wqkv, 3 * d * d, sd, r);
        fill_normal(b->wo, d * d, sd_res, r);
        fill_const(b->ln2w, d, 1.0f);
        fill_normal(b->wfc, F * d, sd, r);
        fill_normal(b->wproj, d * F, sd_res, r);
    }
    fill_const(p->lnfw, d, 1.0f);
    fill_normal(p->w0, d * d, sd_rnn, r);
    fill_normal(p->wq, d * d, sd_rnn, r);
    fill_normal(p->wz, 2 * d * d, sd_rnn / sqrtf(2.0f), r);
    fill_normal(p->wp, d * d, sd_rnn, r);
    fill_normal(p->eout, V * d, sd, r);
    fill_normal(p->wev, V * d, sd, r);
    fill_normal(p->ein, V * d, 0.5f, r);
    fill_normal(p->wg, d * d, sd_rnn * 0.5f, r);
    fill_normal(p->wu, d * d, sd_rnn * 0.5f, r);
    fill_normal(p->wcmp, NET_CMP * d, sd, r);
    fill_normal(p->wadj, NET_ADJ * d, sd, r);
    fill_normal(p->wsr, d, sd, r);
}

/* ---- workspace ---------------------------------------------------------------------------- */

int net_ws_init(struct net_ws *w, const struct net *n, struct tg_error *err) {
    size_t d = (size_t)n->cfg.d, F = (size_t)n->cfg.ffn, H = (size_t)n->cfg.heads;
    size_t T = TG_SEQ_MAX, S = TG_ACT_OUT_MAX, V = (size_t)n->cfg.nsym;
    int ok = 1;

    memset(w, 0, sizeof(*w));
#define ALLOC(field, count)                                                                        \
    do {                                                                                           \
        field = calloc((count), sizeof(*(field)));                                                 \
        ok &= field != NULL;                                                                       \
    } while (0)
    ALLOC(w->grads, n->num_params);
    ALLOC(w->x0, T * d);
    for (int l = 0; l < n->cfg.layers; l++) {
        ALLOC(w->ln1[l], T * d);
        ALLOC(w->ln1m[l], T);
        ALLOC(w->ln1r[l], T);
        ALLOC(w->qkv[l], T * 3 * d);
        ALLOC(w->att[l], H * T * T);
        ALLOC(w->atty[l], T * d);
        ALLOC(w->res1[l], T * d);
        ALLOC(w->ln2[l], T * d);
        ALLOC(w->ln2m[l], T);
        ALLOC(w->ln2r[l], T);
        ALLOC(w->fch[l], T * F);
        ALLOC(w->fcg[l], T * F);
        ALLOC(w->res2[l], T * d);
    }
    ALLOC(w->H, T * d);
    ALLOC(w->lnfm, T);
    ALLOC(w->lnfr, T);
    ALLOC(w->evid, V);
    ALLOC(w->evatt, V * T);
    ALLOC(w->devid, V);
    ALLOC(w->g, (S + 1) * d);
    ALLOC(w->q, S * d);
    ALLOC(w->alpha, S * T);
    ALLOC(w->c, S * d);
    ALLOC(w->z, S * d);
    ALLOC(w->pz, S * d);
    ALLOC(w->probs, S * (V + T));
    ALLOC(w->cov, S * T);
    ALLOC(w->cmp, S * T);
    ALLOC(w->adj, S * T);
    ALLOC(w->srm, S * T);
    ALLOC(w->srp, S * T);
    ALLOC(w->srr, S * T);
    ALLOC(w->srg, S);
    ALLOC(w->dptr, T);
    ALLOC(w->dx, T * d);
    ALLOC(w->dy, T * d);
    ALLOC(w->dln, T * d);
    ALLOC(w->dqkv, T * 3 * d);
    ALLOC(w->datty, T * d);
    ALLOC(w->dfc, T * F);
    ALLOC(w->drow, T);
    ALLOC(w->off, H * 2 * T);
    ALLOC(w->dH, T * d);
    ALLOC(w->dg, d);
    ALLOC(w->dz, d);
    ALLOC(w->dc, d);
    ALLOC(w->dq, d);
    ALLOC(w->dpz, d);
    ALLOC(w->dzin, 2 * d);
    ALLOC(w->du, d);
#undef ALLOC
    if (!ok) {
        net_ws_free(w);
        tg_error_set(err, TG_CODE_NOMEM, "out of memory (network workspace)");
        return TG_ENOMEM;
    }
    net_point(&w->gp, &n->cfg, w->grads, NULL);
    return 0;
}

void net_ws_free(struct net_ws *w) {
    float **all[] = {&w->evid, &w->evatt, &w->devid, &w->off, &w->grads, &w->x0,   &w->H,
                     &w->lnfm, &w->lnfr,  &w->g,     &w->q,   &w->alpha, &w->c,    &w->z,
                     &w->pz,   &w->probs, &w->dx,    &w->dy,  &w->dln,   &w->dqkv, &w->datty,
                     &w->dfc,  &w->drow,  &w->dH,    &w->dg,  &w->dz,    &w->dc,   &w->dq,
                     &w->dpz,  &w->dzin,  &w->du,    &w->srp, &w->srr,   &w->srg,  &w->dptr};

    for (size_t i = 0; i < TG_ARRAY_LEN(all); i++)
        free(*all[i]);
    for (int l = 0; l < NET_LAYERS_MAX; l++) {
        free(w->ln1[l]);
        free(w->ln1m[l]);
        free(w->ln1r[l]);
        free(w->qkv[l]);
        free(w->att[l]);
        free(w->atty[l]);
        free(w->res1[l]);
        free(w->ln2[l]);
        free(w->ln2m[l]);
        free(w->ln2r[l]);
        free(w->fch[l]);
        free(w->fcg[l]);
        free(w->res2[l]);
    }
    free(w->cov);
    free(w->cmp);
    free(w->adj);
    free(w->srm);
    memset(w, 0, sizeof(*w));
}

void net_ws_zero_grad(struct net_ws *w, const struct net *n) {
    memset(w->grads, 0, sizeof(float) * n->num_params);
}

/* ---- the pieces every layer is made of ---------------------------------------------------- */

/* a . b over n floats, with eight partial sums (a fixed order, so results are reproducible;
 * independent sums let the compiler vectorise without reassociating) */
static float dot(const float *restrict a, const float *restrict b, int n) {
    float s[8] = {0, 0, 0, 0, 0, 0, 0, 0}, r;
    int i = 0;

    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            s[k] += a[i + k] * b[i + k];
    r = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
    for (; i < n; i++)
        r += a[i] * b[i];
    return r;
}

/* y += a x over n floats (y and x never overlap); eight at a time, so the compiler can use
 * vector instructions at -O2 */
static void axpy(float *restrict y, float a, const float *restrict x, int n) {
    int i = 0;

    for (; i + 8 <= n; i += 8) {
        y[i] += a * x[i];
        y[i + 1] += a * x[i + 1];
        y[i + 2] += a * x[i + 2];
        y[i + 3] += a * x[i + 3];
        y[i + 4] += a * x[i + 4];
        y[i + 5] += a * x[i + 5];
        y[i + 6] += a * x[i + 6];
        y[i + 7] += a * x[i + 7];
    }
    for (; i < n; i++)
        y[i] += a * x[i];
}

/* out (T, OC) = inp (T, C) W^T + b, W (OC, C), b (OC) or NULL */
static void matmul_forward(float *out, const float *inp, const float *w, const float *b, int T,
                           int C, int OC) {
    for (int t = 0; t < T; t++)
        for (int o = 0; o < OC; o++)
            out[t * OC + o] = (b ? b[o] : 0.0f) + dot(inp + (size_t)t * C, w + (size_t)o * C, C);
}

/* dinp (T, C) += dout W; dw (OC, C) += dout^T inp; db (OC) += sum over t of dout; any of
 * dinp, dw, db may be NULL (a frozen layer's, or no input gradient needed) */
static long long matmul_backward(float *dinp, float *dw, float *db, const float *dout,
                                 const float *inp, const float *w, int T, int C, int OC) {
    for (int t = 0; t < T; t++)
        for (int o = 0; o < OC; o++) {
            float d = dout[t * OC + o];

            if (dinp)
                axpy(dinp + (size_t)t * C, d, w + (size_t)o * C, C);
            if (dw)
                axpy(dw + (size_t)o * C, d, inp + (size_t)t * C, C);
            if (db)
                db[o] += d;
        }
    return (long long)T * C * OC * ((dinp != NULL) + (dw != NULL));
}

/* out (T, C) = LN(inp) * w + b, per row; mean and rstd (T) kept for backward */
static void layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                              const float *w, const float *b, int T, int C) {
    for (int t = 0; t < T; t++) {
        const float *x = inp + (size_t)t * C;
        float *o = out + (size_t)t * C, m = 0, v = 0, s;

        for (int i = 0; i < C; i++)
            m += x[i];
        m /= (float)C;
        for (int i = 0; i < C; i++)
            v += (x[i] - m) * (x[i] - m);
        v /= (float)C;
        s = 1.0f / sqrtf(v + 1e-5f);
        for (int i = 0; i < C; i++)
            o[i] = (x[i] - m) * s * w[i] + b[i];
        mean[t] = m;
        rstd[t] = s;
    }
}

/* dinp (T, C) += the input gradient; dw, db (C) += theirs (NULL: frozen) */
static void layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
                               const float *inp, const float *w, const float *mean,
                               const float *rstd, int T, int C) {
    for (int t = 0; t < T; t++) {
        const float *x = inp + (size_t)t * C, *dy = dout + (size_t)t * C;
        float *dx = dinp ? dinp + (size_t)t * C : NULL;
        float m = mean[t], s = rstd[t], dnorm_mean = 0, dnorm_norm_mean = 0;

        for (int i = 0; i < C; i++) {
            float norm = (x[i] - m) * s, dnorm = w[i] * dy[i];

            dnorm_mean += dnorm;
            dnorm_norm_mean += dnorm * norm;
        }
        dnorm_mean /= (float)C;
        dnorm_norm_mean /= (float)C;
        for (int i = 0; i < C; i++) {
            float norm = (x[i] - m) * s, dnorm = w[i] * dy[i];

            if (db)
                db[i] += dy[i];
            if (dw)
                dw[i] += norm * dy[i];
            if (dx)
                dx[i] += (dnorm - dnorm_mean - norm * dnorm_norm_mean) * s;
        }
    }
}

/* the relative-position bucket of key j seen from query i: exact up to 4 apart, then
 * 5-8, 9-16, 17-32, 33+ on each side; 0..NET_REL-1 */
static int rel_bucket(int rel) {
    int a = rel < 0 ? -rel : rel, b;

    b = a <= 4 ? a : a <= 8 ? 5 : a <= 16 ? 6 : a <= 32 ? 7 : 8;
    return rel < 0 ? 8 - b : 8 + b;
}

/* the bias of every offset j - i in [-(T-1), T-1] for head h: off[h * 2T + (j - i) + T] */
static void rel_table(float *off, const float *relb, int T, int H) {
    for (int h = 0; h < H; h++)
        for (int r = -(T - 1); r <= T - 1; r++)
            off[h * 2 * T + r + T] = relb[h * NET_REL + rel_bucket(r)];
}

/* out (T, d) = per head h: softmax(q k^T / sqrt(hs) + relb + sameb [same class]) v; att
 * (H, T, T) kept; qkv (T, 3d) holds q, k, v side by side, head h at offset h * hs of each;
 * off (H, 2T) scratch for the relative biases; cls (T) the tokens' match classes */
static void attention_forward(float *out, float *att, float *off, const float *qkv,
                              const float *relb, const float *sameb, const uint32_t *cls, int T,
                              int d, int H) {
    int hs = d / H, d3 = 3 * d;
    float scale = 1.0f / sqrtf((float)hs);

    rel_table(off, relb, T, H);
    for (int h = 0; h < H; h++)
        for (int i = 0; i < T; i++) {
            const float *qi = qkv + (size_t)i * d3 + h * hs, *bias = off + h * 2 * T + T - i;
            float *row = att + ((size_t)h * T + i) * T, *oi = out + (size_t)i * d + h * hs;
            float mx = -INFINITY, sum = 0;

            for (int j = 0; j < T; j++) {
                row[j] = dot(qi, qkv + (size_t)j * d3 + d + h * hs, hs) * scale + bias[j];
                if (cls[i] && cls[j] == cls[i] && j != i)
                    row[j] += sameb[h];
                if (row[j] > mx)
                    mx = row[j];
            }
            for (int j = 0; j < T; j++) {
                row[j] = expf(row[j] - mx);
                sum += row[j];
            }
            for (int k = 0; k < hs; k++)
                oi[k] = 0;
            for (int j = 0; j < T; j++) {
                row[j] /= sum;
                axpy(oi, row[j], qkv + (size_t)j * d3 + 2 * d + h * hs, hs);
            }
        }
}

/* dqkv (T, 3d) += the gradient of q, k and v; drelb (H, NET_REL) and dsameb (H) += (NULL:
 * frozen); drow (T) and doff (H, 2T) scratch */
static void attention_backward(float *dqkv, float *drelb, float *dsameb, float *drow, float *doff,
                               const float *dout, const float *qkv, const float *att,
                               const uint32_t *cls, int T, int d, int H) {
    int hs = d / H, d3 = 3 * d;
    float scale = 1.0f / sqrtf((float)hs);

    memset(doff, 0, sizeof(float) * (size_t)H * 2 * T);
    for (int h = 0; h < H; h++)
        for (int i = 0; i < T; i++) {
            const float *row = att + ((size_t)h * T + i) * T, *doi = dout + (size_t)i * d + h * hs;
            const float *qi = qkv + (size_t)i * d3 + h * hs;
            float *dqi = dqkv + (size_t)i * d3 + h * hs, *dbias = doff + h * 2 * T + T - i;
            float sum = 0;

            for (int j = 0; j < T; j++) {
                const float *vj = qkv + (size_t)j * d3 + 2 * d + h * hs;

                drow[j] = dot(doi, vj, hs);
                axpy(dqkv + (size_t)j * d3 + 2 * d + h * hs, row[j], doi, hs);
                sum += row[j] * drow[j];
            }
            for (int j = 0; j < T; j++) {
                float ds = row[j] * (drow[j] - sum);

                if (ds == 0.0f)
                    continue;
                axpy(dqi, ds * scale, qkv + (size_t)j * d3 + d + h * hs, hs);
                axpy(dqkv + (size_t)j * d3 + d + h * hs, ds * scale, qi, hs);
                dbias[j] += ds;
                if (dsameb && cls[i] && cls[j] == cls[i] && j != i)
                    dsameb[h] += ds;
            }
        }
    if (drelb)
        for (int h = 0; h < H; h++)
            for (int r = -(T - 1); r <= T - 1; r++)
                drelb[h * NET_REL + rel_bucket(r)] += doff[h * 2 * T + r + T];
}

#define GELU_SCALE 0.7978845608028654f /* sqrt(2 / pi) */

static void gelu_forward(float *out, const float *inp, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];

        out[i] = 0.5f * x * (1.0f + tanhf(GELU_SCALE * (x + 0.044715f * x * x * x)));
    }
}

/* dinp = GELU'(inp) * dout (in place allowed: dinp may be dout) */
static void gelu_backward(float *dinp, const float *inp, const float *dout, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float x = inp[i], u = GELU_SCALE * (x + 0.044715f * x * x * x), th = tanhf(u);
        float sech2 = 1.0f - th * th;
        float g =
            0.5f * (1.0f + th) + 0.5f * x * sech2 * GELU_SCALE * (1.0f + 3.0f * 0.044715f * x * x);

        dinp[i] = g * dout[i];
    }
}

/* ---- encoder ------------------------------------------------------------------------------ */

static void embed_forward(const struct net *n, float *x0, const struct seq *s) {
    const struct net_params *p = &n->p;
    int d = n->cfg.d;

    for (int t = 0; t < s->T; t++) {
        float *x = x0 + (size_t)t * d;
        int a = s->piece_off[t], b = s->piece_off[t + 1];
        float inv = b > a ? 1.0f / sqrtf((float)(b - a)) : 0.0f;
        const float *f = s->feat + (size_t)t * SEQ_FEAT;

        memcpy(x, p->wseg + (size_t)s->seg[t] * d, sizeof(float) * (size_t)d);
        axpy(x, 1.0f, p->wpos + (size_t)s->pos[t] * d, d);
        axpy(x, 1.0f, p->wago + (size_t)s->ago[t] * d, d);
        axpy(x, 1.0f, p->wrank + (size_t)s->rank[t] * d, d);
        for (int k = a; k < b; k++)
            axpy(x, inv, p->wpiece + (size_t)s->pieces[k] * d, d);
        for (int k = 0; k < SEQ_FEAT; k++)
            if (f[k] != 0.0f)
                axpy(x, f[k], p->wfeat + (size_t)k * d, d);
    }
}

static void embed_backward(const struct net *n, struct net_ws *w, const float *dx0,
                           const struct seq *s) {
    struct net_params *g = &w->gp;
    int d = n->cfg.d;

    for (int t = 0; t < s->T; t++) {
        const float *dx = dx0 + (size_t)t * d, *f = s->feat + (size_t)t * SEQ_FEAT;
        int a = s->piece_off[t], b = s->piece_off[t + 1];
        float inv = b > a ? 1.0f / sqrtf((float)(b - a)) : 0.0f;

        axpy(g->wseg + (size_t)s->seg[t] * d, 1.0f, dx, d);
        axpy(g->wpos + (size_t)s->pos[t] * d, 1.0f, dx, d);
        axpy(g->wago + (size_t)s->ago[t] * d, 1.0f, dx, d);
        axpy(g->wrank + (size_t)s->rank[t] * d, 1.0f, dx, d);
        for (int k = a; k < b; k++)
            axpy(g->wpiece + (size_t)s->pieces[k] * d, inv, dx, d);
        for (int k = 0; k < SEQ_FEAT; k++)
            if (f[k] != 0.0f)
                axpy(g->wfeat + (size_t)k * d, f[k], dx, d);
    }
}

/* tanh(W x + b) of one vector: out (OC), W (OC, C), b (OC) or NULL */
static void matvec_tanh(float *out, const float *w, const float *b, const float *x, int C, int OC) {
    for (int o = 0; o < OC; o++)
        out[o] = tanhf((b ? b[o] : 0.0f) + dot(w + (size_t)o * C, x, C));
}

float *net_layer_out(const struct net *n, struct net_ws *w, int l) {
    if (l <= 0)
        return w->x0;
    if (l <= n->cfg.layers)
        return w->res2[l - 1];
    return w->H;
}

/* encoder block b (layer b + 1) forward, from the output of the layer below */
static void block_forward(const struct net *n, struct net_ws *w, int l) {
    const struct net_block *b = &n->p.blk[l];
    const float *xin = l == 0 ? w->x0 : w->res2[l - 1];
    int T = w->T, d = n->cfg.d, F = n->cfg.ffn, H = n->cfg.heads;
    size_t Td = (size_t)T * d;

    layernorm_forward(w->ln1[l], w->ln1m[l], w->ln1r[l], xin, b->ln1w, b->ln1b, T, d);
    matmul_forward(w->qkv[l], w->ln1[l], b->wqkv, b->bqkv, T, d, 3 * d);
    attention_forward(w->atty[l], w->att[l], w->off, w->qkv[l], b->relb, b->sameb, w->seq->cls, T,
                      d, H);
    matmul_forward(w->res1[l], w->atty[l], b->wo, b->bo, T, d, d);
    for (size_t i = 0; i < Td; i++)
        w->res1[l][i] += xin[i];
    layernorm_forward(w->ln2[l], w->ln2m[l], w->ln2r[l], w->res1[l], b->ln2w, b->ln2b, T, d);
    matmul_forward(w->fch[l], w->ln2[l], b->wfc, b->bfc, T, d, F);
    gelu_forward(w->fcg[l], w->fch[l], (size_t)T * F);
    matmul_forward(w->res2[l], w->fcg[l], b->wproj, b->bproj, T, F, d);
    for (size_t i = 0; i < Td; i++)
        w->res2[l][i] += w->res1[l][i];
}

/* the head's forward (layer L + 1): the final LayerNorm, g0 and the symbols' evidence */
static void head_forward(const struct net *n, struct net_ws *w) {
    const struct net_params *p = &n->p;
    int T = w->T, d = n->cfg.d;

    layernorm_forward(w->H, w->lnfm, w->lnfr, w->res2[n->cfg.layers - 1], p->lnfw, p->lnfb, T, d);
    matvec_tanh(w->g, p->w0, p->b0, w->H + (size_t)w->seq->state * d, d, d);
    /* each symbol's evidence: e[v] = log mean_i exp(Wev[v] . H_i / sqrt(d)) */
    for (int v = 0; v < n->cfg.nsym; v++) {
        float *a = w->evatt + (size_t)v * T, mx = -INFINITY, sum = 0,
              scale = 1.0f / sqrtf((float)d);

        for (int i = 0; i < T; i++) {
            a[i] = dot(p->wev + (size_t)v * d, w->H + (size_t)i * d, d) * scale;
            if (a[i] > mx)
                mx = a[i];
        }
        for (int i = 0; i < T; i++) {
            a[i] = expf(a[i] - mx);
            sum += a[i];
        }
        for (int i = 0; i < T; i++)
            a[i] /= sum;
        w->evid[v] = mx + logf(sum / (float)T);
    }
}

void net_forward_layers(const struct net *n, struct net_ws *w, const struct seq *s, int l0,
                        int l1) {
    w->T = s->T;
    w->S = 0;
    w->seq = s;
    for (int l = l0; l < l1; l++) {
        if (l == 0)
            embed_forward(n, w->x0, s);
        else if (l <= n->cfg.layers)
            block_forward(n, w, l - 1);
        else
            head_forward(n, w);
    }
}

void net_encode(const struct net *n, struct net_ws *w, const struct seq *s) {
    net_forward_layers(n, w, s, 0, n->nlayers);
}

/* ---- decoder ------------------------------------------------------------------------------ */

/*
 * The soft rank of the number pointers (net.h): over the allowed pointers at numbers N, with
 * base logits b, pi = softmax_N(b) and r_i = sum_j pi_j sgn(v_i - v_j); b_i += gamma r_i.
 * Kept for backward: the members (srm), pi (srp), r (srr) and gamma (srg) of step w->S.
 */
static void soft_rank(struct net_ws *w, float *b, const unsigned char *ptr, float gamma) {
    const struct seq *sq = w->seq;
    int T = w->T, s = w->S, n = 0;
    unsigned char *m = w->srm + (size_t)s * T;
    float *pi = w->srp + (size_t)s * T, *r = w->srr + (size_t)s * T, mx = -INFINITY, sum = 0;

    for (int i = 0; i < T; i++) {
        m[i] = ptr[i] && (sq->ptr[i] & PTR_NUM);
        pi[i] = r[i] = 0;
        if (m[i]) {
            n++;
            if (b[i] > mx)
                mx = b[i];
        }
    }
    w->srg[s] = gamma;
    if (n < 2) {
        memset(m, 0, (size_t)T);
        return;
    }
    for (int i = 0; i < T; i++)
        if (m[i]) {
            pi[i] = expf(b[i] - mx);
            sum += pi[i];
        }
    for (int i = 0; i < T; i++)
        pi[i] /= sum;
    for (int i = 0; i < T; i++) {
        if (!m[i])
            continue;
        for (int j = 0; j < T; j++)
            if (m[j] && !seq_same_value(sq->value[i], sq->value[j]))
                r[i] += sq->value[i] > sq->value[j] ? pi[j] : -pi[j];
    }
    for (int i = 0; i < T; i++)
        if (m[i])
            b[i] += gamma * r[i];
}

void net_dec_step(const struct net *n, struct net_ws *w, const unsigned char *sym,
                  const unsigned char *ptr, const float **dist) {
    const struct net_params *p = &n->p;
    int d = n->cfg.d, V = n->cfg.nsym, T = w->T, s = w->S, W = V + T;
    const float *g = w->g + (size_t)s * d;
    float *q = w->q + (size_t)s * d, *alpha = w->alpha + (size_t)s * T, *c = w->c + (size_t)s * d;
    float *z = w->z + (size_t)s * d, *pz = w->pz + (size_t)s * d, *row = w->probs + (size_t)s * W;
    unsigned char *cov = w->cov + (size_t)s * T, *cmp = w->cmp + (size_t)s * T;
    const struct seq *sq = w->seq;
    float scale = 1.0f / sqrtf((float)d), mx = -INFINITY, sum = 0;
    int last = -1;    /* the last number this action pointed at */
    int lastany = -1; /* the last token this action pointed at */
    unsigned char *adj = w->adj + (size_t)s * T;

    /* read the encoding: c = sum_i softmax_i(q . H_i / sqrt(d)) H_i */
    for (int o = 0; o < d; o++)
        q[o] = dot(p->wq + (size_t)o * d, g, d);
    for (int i = 0; i < T; i++) {
        alpha[i] = dot(q, w->H + (size_t)i * d, d) * scale;
        if (alpha[i] > mx)
            mx = alpha[i];
    }
    for (int i = 0; i < T; i++) {
        alpha[i] = expf(alpha[i] - mx);
        sum += alpha[i];
    }
    memset(c, 0, sizeof(float) * (size_t)d);
    for (int i = 0; i < T; i++) {
        alpha[i] /= sum;
        axpy(c, alpha[i], w->H + (size_t)i * d, d);
    }
    /* z = tanh(Wz [g; c] + bz), pz = Wp z */
    for (int o = 0; o < d; o++)
        z[o] = tanhf(p->bz[o] + dot(p->wz + (size_t)o * 2 * d, g, d) +
                     dot(p->wz + (size_t)o * 2 * d + d, c, d));
    for (int o = 0; o < d; o++)
        pz[o] = dot(p->wp + (size_t)o * d, z, d);
    /* coverage: how often a token of each token's match class (or the token itself) was
     * pointed at by this action so far; each number against the last one pointed at; and
     * each token's place against the last token pointed at (the next one continues a span) */
    for (int i = 0; i < T; i++)
        cov[i] = 0;
    for (int k = 0; k < s; k++) {
        int t = w->out[k] - V;

        if (t < 0)
            continue;
        if (sq->ptr[t] & PTR_NUM)
            last = t;
        lastany = t;
        for (int i = 0; i < T; i++)
            if ((i == t || (sq->cls[t] && sq->cls[i] == sq->cls[t])) && cov[i] < NET_COV - 1)
                cov[i]++;
    }
    for (int i = 0; i < T; i++) {
        double a, b;

        adj[i] = (unsigned char)(lastany < 0 ? 0 : i == lastany + 1 ? 1 : 2);
        cmp[i] = 0;
        if (last < 0 || !(sq->ptr[i] & PTR_NUM))
            continue;
        a = sq->value[i];
        b = sq->value[last];
        cmp[i] = seq_same_value(a, b) ? 2 : a < b ? 1 : 3;
    }
    /* the masked softmax over symbols and pointers */
    mx = -INFINITY;
    for (int v = 0; v < V; v++)
        if (sym[v]) {
            row[v] = dot(p->eout + (size_t)v * d, z, d) + p->bout[v] + w->evid[v];
            if (row[v] > mx)
                mx = row[v];
        }
    for (int i = 0; i < T; i++)
        if (ptr[i])
            row[V + i] = dot(w->H + (size_t)i * d, pz, d) * scale + p->covb[cov[i]] +
                         dot(p->wcmp + (size_t)cmp[i] * d, z, d) +
                         dot(p->wadj + (size_t)adj[i] * d, z, d);
    soft_rank(w, row + V, ptr, dot(p->wsr, z, d));
    for (int i = 0; i < T; i++)
        if (ptr[i] && row[V + i] > mx)
            mx = row[V + i];
    sum = 0;
    for (int k = 0; k < W; k++) {
        int on = k < V ? sym[k] : ptr[k - V];

        row[k] = on ? expf(row[k] - mx) : 0.0f;
        sum += row[k];
    }
    for (int k = 0; k < W; k++)
        row[k] /= sum;
    if (dist)
        *dist = row;
}

void net_dec_take(const struct net *n, struct net_ws *w, int out) {
    const struct net_params *p = &n->p;
    int d = n->cfg.d, V = n->cfg.nsym, s = w->S;
    const float *g = w->g + (size_t)s * d;
    const float *u = out < V ? p->ein + (size_t)out * d : w->H + (size_t)(out - V) * d;
    float *gn = w->g + (size_t)(s + 1) * d;

    w->out[s] = out;
    for (int o = 0; o < d; o++)
        gn[o] =
            tanhf(p->bg[o] + dot(p->wg + (size_t)o * d, g, d) + dot(p->wu + (size_t)o * d, u, d));
    w->S = s + 1;
}

/* ---- backward ----------------------------------------------------------------------------- */

/*
 * soft_rank's backward at step s: from dL/dlogits of the pointers (dl, T) to dL/d(base
 * logits) in w->dptr; dL/dgamma goes to dz through wsr (and to wsr's gradient).
 * d logit_i / d b_k = [i = k] + gamma pi_k (sgn(v_i - v_k) - r_i) for i, k in N.
 */
static void soft_rank_backward(const struct net *n, struct net_ws *w, int s, const float *dl,
                               float *dz, int frozen) {
    const struct seq *sq = w->seq;
    int T = w->T, d = n->cfg.d;
    const unsigned char *m = w->srm + (size_t)s * T;
    const float *pi = w->srp + (size_t)s * T, *r = w->srr + (size_t)s * T;
    const float *z = w->z + (size_t)s * d;
    float gamma = w->srg[s], B = 0;

    memcpy(w->dptr, dl, sizeof(float) * (size_t)T);
    for (int i = 0; i < T; i++)
        if (m[i])
            B += dl[i] * r[i];
    if (B == 0.0f) {
        int any = 0;

        for (int i = 0; i < T && !any; i++)
            any = m[i] && dl[i] != 0.0f;
        if (!any)
            return;
    }
    axpy(dz, B, n->p.wsr, d);
    if (!frozen)
        axpy(w->gp.wsr, B, z, d);
    for (int k = 0; k < T; k++) {
        float A = 0;

        if (!m[k])
            continue;
        for (int i = 0; i < T; i++)
            if (m[i] && !seq_same_value(sq->value[i], sq->value[k]))
                A += sq->value[i] > sq->value[k] ? dl[i] : -dl[i];
        w->dptr[k] += gamma * pi[k] * (A - B);
    }
}

/* the decoder's steps, last first: parameter gradients (unless frozen) and dH (T, d) */
static long long decoder_backward(const struct net *n, struct net_ws *w, const float *dlogits,
                                  int frozen) {
    const struct net_params *p = &n->p;
    struct net_params *gp = &w->gp;
    int d = n->cfg.d, V = n->cfg.nsym, T = w->T, W = V + T;
    float scale = 1.0f / sqrtf((float)d);
    float *dg = w->dg, *dz = w->dz, *dc = w->dc, *dq = w->dq, *dpz = w->dpz, *du = w->du;
    float *dgnext = w->dzin; /* (d) the state gradient handed to the step before */
    long long macs = 0;

    memset(dgnext, 0, sizeof(float) * (size_t)d);
    memset(w->devid, 0, sizeof(float) * (size_t)V);
    for (int s = w->S - 1; s >= 0; s--) {
        const float *row = dlogits + (size_t)s * W, *g = w->g + (size_t)s * d;
        const float *z = w->z + (size_t)s * d, *c = w->c + (size_t)s * d;
        const float *alpha = w->alpha + (size_t)s * T, *q = w->q + (size_t)s * d;
        const float *pz = w->pz + (size_t)s * d;
        const unsigned char *cov = w->cov + (size_t)s * T, *cmp = w->cmp + (size_t)s * T;
        const unsigned char *adj = w->adj + (size_t)s * T;
        float sum = 0;

        memset(dz, 0, sizeof(float) * (size_t)d);
        memset(dpz, 0, sizeof(float) * (size_t)d);
        for (int v = 0; v < V; v++) {
            if (row[v] == 0.0f)
                continue;
            w->devid[v] += row[v];
            axpy(dz, row[v], p->eout + (size_t)v * d, d);
            if (!frozen) {
                axpy(gp->eout + (size_t)v * d, row[v], z, d);
                gp->bout[v] += row[v];
            }
        }
        soft_rank_backward(n, w, s, row + V, dz, frozen);
        for (int i = 0; i < T; i++) {
            float dl = w->dptr[i];

            if (dl == 0.0f)
                continue;
            axpy(dpz, dl * scale, w->H + (size_t)i * d, d);
            axpy(w->dH + (size_t)i * d, dl * scale, pz, d);
            axpy(dz, dl, p->wcmp + (size_t)cmp[i] * d, d);
            axpy(dz, dl, p->wadj + (size_t)adj[i] * d, d);
            if (!frozen) {
                gp->covb[cov[i]] += dl;
                axpy(gp->wcmp + (size_t)cmp[i] * d, dl, z, d);
                axpy(gp->wadj + (size_t)adj[i] * d, dl, z, d);
            }
        }
        /* pz = Wp z */
        for (int o = 0; o < d; o++) {
            axpy(dz, dpz[o], p->wp + (size_t)o * d, d);
            if (!frozen)
                axpy(gp->wp + (size_t)o * d, dpz[o], z, d);
        }
        /* z = tanh(Wz [g; c] + bz): dz becomes the pre-activation gradient */
        memcpy(dg, dgnext, sizeof(float) * (size_t)d);
        memset(dc, 0, sizeof(float) * (size_t)d);
        for (int o = 0; o < d; o++) {
            float dp = dz[o] * (1.0f - z[o] * z[o]);

            if (dp == 0.0f)
                continue;
            axpy(dg, dp, p->wz + (size_t)o * 2 * d, d);
            axpy(dc, dp, p->wz + (size_t)o * 2 * d + d, d);
            if (!frozen) {
                axpy(gp->wz + (size_t)o * 2 * d, dp, g, d);
                axpy(gp->wz + (size_t)o * 2 * d + d, dp, c, d);
                gp->bz[o] += dp;
            }
        }
        /* c = sum_i alpha_i H_i, alpha = softmax(q . H / sqrt(d)) */
        for (int i = 0; i < T; i++) {
            w->drow[i] = dot(dc, w->H + (size_t)i * d, d);
            axpy(w->dH + (size_t)i * d, alpha[i], dc, d);
            sum += alpha[i] * w->drow[i];
        }
        memset(dq, 0, sizeof(float) * (size_t)d);
        for (int i = 0; i < T; i++) {
            float da = alpha[i] * (w->drow[i] - sum) * scale;

            if (da == 0.0f)
                continue;
            axpy(dq, da, w->H + (size_t)i * d, d);
            axpy(w->dH + (size_t)i * d, da, q, d);
        }
        /* q = Wq g */
        for (int o = 0; o < d; o++) {
            axpy(dg, dq[o], p->wq + (size_t)o * d, d);
            if (!frozen)
                axpy(gp->wq + (size_t)o * d, dq[o], g, d);
        }
        /* g = tanh(...): from the state before (s > 0) or from H[state] (s = 0) */
        for (int o = 0; o < d; o++)
            dg[o] *= 1.0f - g[o] * g[o];
        if (s == 0) {
            const float *hs = w->H + (size_t)w->seq->state * d;

            for (int o = 0; o < d; o++) {
                axpy(w->dH + (size_t)w->seq->state * d, dg[o], p->w0 + (size_t)o * d, d);
                if (!frozen) {
                    axpy(gp->w0 + (size_t)o * d, dg[o], hs, d);
                    gp->b0[o] += dg[o];
                }
            }
        } else {
            int prev = w->out[s - 1];
            const float *gprev = w->g + (size_t)(s - 1) * d;
            const float *u = prev < V ? p->ein + (size_t)prev * d : w->H + (size_t)(prev - V) * d;

            memset(dgnext, 0, sizeof(float) * (size_t)d);
            memset(du, 0, sizeof(float) * (size_t)d);
            for (int o = 0; o < d; o++) {
                axpy(dgnext, dg[o], p->wg + (size_t)o * d, d);
                axpy(du, dg[o], p->wu + (size_t)o * d, d);
                if (!frozen) {
                    axpy(gp->wg + (size_t)o * d, dg[o], gprev, d);
                    axpy(gp->wu + (size_t)o * d, dg[o], u, d);
                    gp->bg[o] += dg[o];
                }
            }
            if (prev < V) {
                if (!frozen)
                    axpy(gp->ein + (size_t)prev * d, 1.0f, du, d);
            } else {
                axpy(w->dH + (size_t)(prev - V) * d, 1.0f, du, d);
            }
        }
        macs += (long long)d * (11 * d + 2 * T + V) + (long long)T * d * 6;
    }
    /* the symbols' evidence: e[v] = log mean_i exp(Wev[v] . H_i / sqrt(d)) */
    for (int v = 0; v < V; v++) {
        const float *a = w->evatt + (size_t)v * T;

        if (w->devid[v] == 0.0f)
            continue;
        for (int i = 0; i < T; i++) {
            float ds = w->devid[v] * a[i] * scale;

            axpy(w->dH + (size_t)i * d, ds, p->wev + (size_t)v * d, d);
            if (!frozen)
                axpy(gp->wev + (size_t)v * d, ds, w->H + (size_t)i * d, d);
        }
        macs += 2LL * T * d;
    }
    return macs;
}

void net_backward_begin(const struct net *n, struct net_ws *w) {
    memset(w->dH, 0, sizeof(float) * (size_t)w->T * n->cfg.d);
}

/* the lowest layer that learns (nlayers when every layer is frozen) */
static int lowest_unfrozen(const struct net *n) {
    for (int l = 0; l < n->nlayers; l++)
        if (!n->frozen[l])
            return l;
    return n->nlayers;
}

long long net_dec_backward(const struct net *n, struct net_ws *w, const float *dlogits) {
    if (lowest_unfrozen(n) >= n->nlayers)
        return 0;
    return decoder_backward(n, w, dlogits, n->frozen[n->cfg.layers + 1]);
}

/* encoder block l backward: w->dx holds dL/d res2[l] on entry and dL/d (its input) on exit;
 * parameter gradients unless frozen */
static long long block_backward(const struct net *n, struct net_ws *w, int l, int fz) {
    const struct net_block *b = &n->p.blk[l];
    struct net_block *gb = &w->gp.blk[l];
    const float *xin = l == 0 ? w->x0 : w->res2[l - 1];
    int T = w->T, d = n->cfg.d, F = n->cfg.ffn, H = n->cfg.heads;
    size_t Td = (size_t)T * d;
    long long macs = 0;

    /* res2 = res1 + proj(GELU(fc(LN2(res1)))) */
    memcpy(w->dy, w->dx, sizeof(float) * Td); /* dy: dL/d res1 */
    memset(w->dfc, 0, sizeof(float) * (size_t)T * F);
    macs += matmul_backward(w->dfc, fz ? NULL : gb->wproj, fz ? NULL : gb->bproj, w->dx, w->fcg[l],
                            b->wproj, T, F, d);
    gelu_backward(w->dfc, w->fch[l], w->dfc, (size_t)T * F);
    memset(w->dln, 0, sizeof(float) * Td);
    macs += matmul_backward(w->dln, fz ? NULL : gb->wfc, fz ? NULL : gb->bfc, w->dfc, w->ln2[l],
                            b->wfc, T, d, F);
    layernorm_backward(w->dy, fz ? NULL : gb->ln2w, fz ? NULL : gb->ln2b, w->dln, w->res1[l],
                       b->ln2w, w->ln2m[l], w->ln2r[l], T, d);
    /* res1 = xin + proj(attention(LN1(xin))) */
    memcpy(w->dx, w->dy, sizeof(float) * Td); /* dx: dL/d xin */
    memset(w->datty, 0, sizeof(float) * Td);
    macs += matmul_backward(w->datty, fz ? NULL : gb->wo, fz ? NULL : gb->bo, w->dy, w->atty[l],
                            b->wo, T, d, d);
    memset(w->dqkv, 0, sizeof(float) * Td * 3);
    attention_backward(w->dqkv, fz ? NULL : gb->relb, fz ? NULL : gb->sameb, w->drow, w->off,
                       w->datty, w->qkv[l], w->att[l], w->seq->cls, T, d, H);
    macs += (long long)H * T * T * (d / H) * 4;
    memset(w->dln, 0, sizeof(float) * Td);
    macs += matmul_backward(w->dln, fz ? NULL : gb->wqkv, fz ? NULL : gb->bqkv, w->dqkv, w->ln1[l],
                            b->wqkv, T, d, 3 * d);
    layernorm_backward(w->dx, fz ? NULL : gb->ln1w, fz ? NULL : gb->ln1b, w->dln, xin, b->ln1w,
                       w->ln1m[l], w->ln1r[l], T, d);
    return macs;
}

long long net_backward_layers(const struct net *n, struct net_ws *w, int l0, int l1) {
    int L = n->cfg.layers, head = L + 1, lowest = lowest_unfrozen(n);
    size_t Td = (size_t)w->T * n->cfg.d;
    long long macs = 0;

    if (lowest >= n->nlayers)
        return 0;
    for (int l = l1 - 1; l >= l0 && l >= lowest; l--) {
        if (l == head && lowest == head) {
            /* only the head learns: the final LayerNorm's parameters, nothing below */
            layernorm_backward(NULL, w->gp.lnfw, w->gp.lnfb, w->dH, w->res2[L - 1], n->p.lnfw,
                               w->lnfm, w->lnfr, w->T, n->cfg.d);
        } else if (l == head) {
            memset(w->dx, 0, sizeof(float) * Td);
            layernorm_backward(w->dx, n->frozen[head] ? NULL : w->gp.lnfw,
                               n->frozen[head] ? NULL : w->gp.lnfb, w->dH, w->res2[L - 1],
                               n->p.lnfw, w->lnfm, w->lnfr, w->T, n->cfg.d);
        } else if (l >= 1) {
            macs += block_backward(n, w, l - 1, n->frozen[l]);
        } else {
            embed_backward(n, w, w->dx, w->seq);
        }
    }
    return macs;
}

long long net_enc_backward(const struct net *n, struct net_ws *w) {
    return net_backward_layers(n, w, 0, n->nlayers);
}

long long net_backward(const struct net *n, struct net_ws *w, const float *dlogits) {
    net_backward_begin(n, w);
    return net_dec_backward(n, w, dlogits) + net_enc_backward(n, w);
}

void net_dec_restart(struct net_ws *w) {
    w->S = 0;
}
