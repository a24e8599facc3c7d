/*
 * test_mlp.c — suites `mlp` (policy scorer: forward against a double-precision reference,
 * gradients against finite differences, freezing, softmax/entropy, the PG loss), `optim`
 * (AdamW, clipping) and `rng` (the seeded generator).
 */
#include "tg_test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "policy/mlp.h"
#include "policy/optim.h"
#include "base/rng.h"

/* ---- a double-precision reference of the network ---------------------------------------- */

/* score of row x (IN) with parameters taken from block p (float, mlp layout) with one
 * parameter index `bump` (or -1) shifted by delta, all in double */
static double ref_score(const struct mlp_config *c, const float *block, long bump, double delta,
                        const float *x) {
    size_t n = mlp_num_params(c);
    double *p = malloc(n * sizeof(double));
    double h1[16], h2[16], s;
    const double *W1, *b1, *W2, *b2, *w3, *b3;

    for (size_t i = 0; i < n; i++)
        p[i] = block[i];
    if (bump >= 0)
        p[bump] += delta;
    W1 = p;
    b1 = W1 + c->hidden1 * c->in_dim;
    W2 = b1 + c->hidden1;
    b2 = W2 + c->hidden2 * c->hidden1;
    w3 = b2 + c->hidden2;
    b3 = w3 + c->hidden2;
    for (int k = 0; k < c->hidden1; k++) {
        double a = b1[k];

        for (int i = 0; i < c->in_dim; i++)
            a += W1[k * c->in_dim + i] * x[i];
        h1[k] = tanh(a);
    }
    for (int j = 0; j < c->hidden2; j++) {
        double a = b2[j];

        for (int k = 0; k < c->hidden1; k++)
            a += W2[j * c->hidden1 + k] * h1[k];
        h2[j] = tanh(a);
    }
    s = b3[0];
    for (int j = 0; j < c->hidden2; j++)
        s += w3[j] * h2[j];
    free(p);
    return s;
}

/* L = sum_i c_i score_i over n rows, in double */
static double ref_linear_loss(const struct mlp_config *cfg, const float *block, long bump,
                              double delta, const float *x, const float *coef, int n) {
    double L = 0.0;

    for (int i = 0; i < n; i++)
        L += coef[i] * ref_score(cfg, block, bump, delta, x + (size_t)i * cfg->in_dim);
    return L;
}

static void fill_normal(float *v, size_t n, double scale, struct rng *r) {
    for (size_t i = 0; i < n; i++)
        v[i] = (float)(scale * rng_normal(r));
}

/* a small network with random weights and random (nonzero) biases */
static void make_net(struct mlp *m, struct rng *r) {
    struct mlp_config cfg = {.in_dim = 5, .hidden1 = 4, .hidden2 = 3};
    struct tg_error err;

    CU_ASSERT_FATAL(mlp_init(m, &cfg, &err) == 0);
    fill_normal(m->params_memory, m->num_params, 0.6, r);
}

#define NROWS 4

static int close_to(double a, double b, double tol) {
    return fabs(a - b) <= tol * (1.0 + fabs(b));
}

TG_TEST(mlp, layout_and_sizes) {
    struct mlp_config cfg = {.in_dim = 7, .hidden1 = 5, .hidden2 = 3};
    struct mlp m;
    size_t off, len, total = 0;

    CU_ASSERT_FATAL(mlp_init(&m, &cfg, NULL) == 0);
    CU_ASSERT_EQUAL(m.num_params, 5 * 7 + 5 + 3 * 5 + 3 + 3 + 1);
    CU_ASSERT_PTR_EQUAL(m.params.W1, m.params_memory);
    CU_ASSERT_PTR_EQUAL(m.params.b1, m.params_memory + 35);
    CU_ASSERT_PTR_EQUAL(m.params.W2, m.params_memory + 40);
    CU_ASSERT_PTR_EQUAL(m.params.b2, m.params_memory + 55);
    CU_ASSERT_PTR_EQUAL(m.params.w3, m.params_memory + 58);
    CU_ASSERT_PTR_EQUAL(m.params.b3, m.params_memory + 61);
    CU_ASSERT_PTR_EQUAL(m.grads.b3, m.grads_memory + 61);
    /* the three layer spans tile the block in order */
    for (int l = 0; l < MLP_NUM_LAYERS; l++) {
        CU_ASSERT_FATAL(mlp_layer_span(&cfg, l, &off, &len) == 0);
        CU_ASSERT_EQUAL(off, total);
        total += len;
    }
    CU_ASSERT_EQUAL(total, m.num_params);
    CU_ASSERT_EQUAL(mlp_layer_span(&cfg, 3, &off, &len), TG_EINVAL);
    mlp_free(&m);
    mlp_free(&m); /* freeing a zeroed struct is fine */
    mlp_free(NULL);
}

TG_TEST(mlp, config_rejected) {
    struct mlp_config bad[] = {{0, 4, 4}, {4, -1, 4}, {4, 4, 0}, {4, 5000, 4}, {4096, 4096, 4}};
    struct tg_error err;
    struct mlp m;

    for (size_t i = 0; i < TG_ARRAY_LEN(bad); i++) {
        tg_error_clear(&err);
        CU_ASSERT_EQUAL(mlp_init(&m, &bad[i], &err), TG_EINVAL);
        CU_ASSERT_STRING_EQUAL(err.code, "invalid_config");
        CU_ASSERT_PTR_NULL(m.params_memory);
    }
}

TG_TEST(mlp, init_is_seeded_and_scaled) {
    struct mlp_config cfg = {.in_dim = 20, .hidden1 = 10, .hidden2 = 6};
    struct mlp a, b;
    struct rng r1, r2;
    double bound1 = sqrt(6.0 / 30.0), maxabs = 0.0;

    CU_ASSERT_FATAL(mlp_init(&a, &cfg, NULL) == 0);
    CU_ASSERT_FATAL(mlp_init(&b, &cfg, NULL) == 0);
    rng_seed(&r1, 42);
    rng_seed(&r2, 42);
    mlp_init_weights(&a, &r1);
    mlp_init_weights(&b, &r2);
    CU_ASSERT(memcmp(a.params_memory, b.params_memory, a.num_params * sizeof(float)) == 0);
    for (int i = 0; i < 200; i++) {
        CU_ASSERT(fabs(a.params.W1[i]) <= bound1);
        if (fabs(a.params.W1[i]) > maxabs)
            maxabs = fabs(a.params.W1[i]);
    }
    CU_ASSERT(maxabs > 0.5 * bound1); /* actually spread over the range */
    for (int k = 0; k < 10; k++)
        CU_ASSERT_EQUAL(a.params.b1[k], 0.0f);
    CU_ASSERT_EQUAL(a.params.b3[0], 0.0f);
    rng_seed(&r2, 43);
    mlp_init_weights(&b, &r2);
    CU_ASSERT(memcmp(a.params_memory, b.params_memory, a.num_params * sizeof(float)) != 0);
    mlp_free(&a);
    mlp_free(&b);
}

TG_TEST(mlp, forward_matches_reference) {
    struct mlp m;
    struct mlp_workspace ws;
    struct rng r;
    float x[NROWS * 5], scores[NROWS];
    struct tg_error err;

    rng_seed(&r, 1);
    make_net(&m, &r);
    fill_normal(x, TG_ARRAY_LEN(x), 1.0, &r);
    CU_ASSERT_FATAL(mlp_workspace_init(&ws, &m.cfg, NROWS, &err) == 0);
    CU_ASSERT_FATAL(mlp_forward(&m, &ws, x, NROWS, scores, &err) == 0);
    for (int i = 0; i < NROWS; i++)
        CU_ASSERT(close_to(scores[i], ref_score(&m.cfg, m.params_memory, -1, 0, x + i * 5), 1e-5));
    /* a batch larger than the workspace is refused, not overrun */
    CU_ASSERT_EQUAL(mlp_forward(&m, &ws, x, NROWS + 1, scores, &err), TG_ERANGE);
    CU_ASSERT_STRING_EQUAL(err.code, "out_of_range");
    CU_ASSERT_EQUAL(mlp_forward(&m, &ws, x, 0, scores, &err), TG_ERANGE);
    mlp_workspace_free(&ws);
    mlp_free(&m);
}

/* gradients of L = sum c_i score_i for every parameter of every group, against central
 * differences of the double reference */
TG_TEST(mlp, backward_matches_finite_differences) {
    const char *group[] = {"W1", "b1", "W2", "b2", "w3", "b3"};
    struct mlp m;
    struct mlp_workspace ws;
    struct rng r;
    float x[NROWS * 5], scores[NROWS], coef[NROWS];
    float *starts[6];
    int bad = 0;

    rng_seed(&r, 2);
    make_net(&m, &r);
    fill_normal(x, TG_ARRAY_LEN(x), 1.0, &r);
    fill_normal(coef, NROWS, 1.0, &r);
    CU_ASSERT_FATAL(mlp_workspace_init(&ws, &m.cfg, NROWS, NULL) == 0);
    CU_ASSERT_FATAL(mlp_forward(&m, &ws, x, NROWS, scores, NULL) == 0);
    mlp_zero_grad(&m);
    CU_ASSERT(mlp_backward(&m, &ws, coef) > 0);

    starts[0] = m.grads.W1;
    starts[1] = m.grads.b1;
    starts[2] = m.grads.W2;
    starts[3] = m.grads.b2;
    starts[4] = m.grads.w3;
    starts[5] = m.grads.b3;
    for (size_t i = 0; i < m.num_params; i++) {
        double h = 1e-5;
        double fd = (ref_linear_loss(&m.cfg, m.params_memory, (long)i, h, x, coef, NROWS) -
                     ref_linear_loss(&m.cfg, m.params_memory, (long)i, -h, x, coef, NROWS)) /
                    (2 * h);
        int g = 0;

        while (g < 5 && m.grads_memory + i >= starts[g + 1])
            g++;
        if (!close_to(m.grads_memory[i], fd, 1e-3)) {
            fprintf(stderr, "\n  %s[%zu]: analytic %g, finite difference %g\n", group[g],
                    (size_t)(m.grads_memory + i - starts[g]), (double)m.grads_memory[i], fd);
            bad++;
        }
    }
    CU_ASSERT_EQUAL(bad, 0);
    /* backward accumulates: a second pass doubles every gradient */
    {
        float *first = malloc(m.num_params * sizeof(float));

        memcpy(first, m.grads_memory, m.num_params * sizeof(float));
        mlp_backward(&m, &ws, coef);
        for (size_t i = 0; i < m.num_params; i++)
            CU_ASSERT(close_to(m.grads_memory[i], 2.0 * first[i], 1e-6));
        free(first);
    }
    mlp_workspace_free(&ws);
    mlp_free(&m);
}

TG_TEST(mlp, frozen_layers_get_no_gradient) {
    /* every freeze pattern: frozen spans stay exactly zero, the others equal the full
     * gradient, and freezing never costs more multiply-adds */
    struct mlp m;
    struct mlp_workspace ws;
    struct rng r;
    float x[NROWS * 5], scores[NROWS], coef[NROWS], *full;
    long long full_flops, flops;

    rng_seed(&r, 3);
    make_net(&m, &r);
    fill_normal(x, TG_ARRAY_LEN(x), 1.0, &r);
    fill_normal(coef, NROWS, 1.0, &r);
    CU_ASSERT_FATAL(mlp_workspace_init(&ws, &m.cfg, NROWS, NULL) == 0);
    CU_ASSERT_FATAL(mlp_forward(&m, &ws, x, NROWS, scores, NULL) == 0);
    mlp_zero_grad(&m);
    full_flops = mlp_backward(&m, &ws, coef);
    full = malloc(m.num_params * sizeof(float));
    memcpy(full, m.grads_memory, m.num_params * sizeof(float));

    for (int mask = 1; mask < 8; mask++) {
        for (int l = 0; l < MLP_NUM_LAYERS; l++)
            m.frozen[l] = (mask >> l) & 1;
        mlp_zero_grad(&m);
        flops = mlp_backward(&m, &ws, coef);
        CU_ASSERT(flops < full_flops);
        if (mask == 7)
            CU_ASSERT_EQUAL(flops, 0);
        for (int l = 0; l < MLP_NUM_LAYERS; l++) {
            size_t off, len;

            mlp_layer_span(&m.cfg, l, &off, &len);
            for (size_t i = off; i < off + len; i++) {
                float want = m.frozen[l] ? 0.0f : full[i];

                CU_ASSERT_EQUAL(m.grads_memory[i], want);
            }
        }
    }
    /* freezing the bottom layer skips the backward pass below layer 1: fewer multiply-adds
     * than freezing only the top layer */
    {
        long long bottom, top;

        m.frozen[0] = 1, m.frozen[1] = 0, m.frozen[2] = 0;
        bottom = mlp_backward(&m, &ws, coef);
        m.frozen[0] = 0, m.frozen[1] = 0, m.frozen[2] = 1;
        top = mlp_backward(&m, &ws, coef);
        CU_ASSERT(bottom < top);
    }
    free(full);
    mlp_workspace_free(&ws);
    mlp_free(&m);
}

/* ---- softmax, log-prob, entropy --------------------------------------------------------- */

TG_TEST(mlp, softmax_and_entropy_known_values) {
    float s[3] = {0.0f, (float)log(2.0), (float)log(3.0)}, p[3];
    float big[3] = {1000.0f, 1000.0f + (float)log(2.0), 1000.0f + (float)log(3.0)};
    float flat[4] = {2.5f, 2.5f, 2.5f, 2.5f};
    double want_h = -(1.0 / 6 * log(1.0 / 6) + 2.0 / 6 * log(2.0 / 6) + 3.0 / 6 * log(3.0 / 6));

    mlp_softmax(s, 3, p);
    CU_ASSERT_DOUBLE_EQUAL(p[0], 1.0 / 6, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(p[1], 2.0 / 6, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(p[2], 3.0 / 6, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(mlp_entropy(s, 3), want_h, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(mlp_log_prob(s, 3, 1), log(2.0 / 6), 1e-6);
    /* shift invariance and no overflow with large scores */
    mlp_softmax(big, 3, p);
    CU_ASSERT_DOUBLE_EQUAL(p[2], 0.5, 1e-4);
    CU_ASSERT_DOUBLE_EQUAL(mlp_entropy(big, 3), want_h, 1e-4);
    /* uniform: entropy ln n; one candidate: entropy 0 and log p 0 */
    CU_ASSERT_DOUBLE_EQUAL(mlp_entropy(flat, 4), log(4.0), 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(mlp_entropy(flat, 1), 0.0, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(mlp_log_prob(flat, 1, 0), 0.0, 1e-7);
    /* a candidate whose probability underflows still has a finite log-prob */
    {
        float far[2] = {0.0f, -200.0f};

        CU_ASSERT_DOUBLE_EQUAL(mlp_log_prob(far, 2, 1), -200.0, 1e-3);
        CU_ASSERT(mlp_entropy(far, 2) >= 0.0f);
    }
}

/* ---- the PG loss ------------------------------------------------------------------------ */

/* reference loss in double, written from the formula */
static double ref_pg(const double *s, int n, const struct mlp_pg_args *a) {
    double mx = s[0], sum = 0.0, lse, H = 0.0, logp, surr;

    for (int i = 1; i < n; i++)
        mx = s[i] > mx ? s[i] : mx;
    for (int i = 0; i < n; i++)
        sum += exp(s[i] - mx);
    // cppcheck-suppress invalidFunctionArg ; sum >= 1 (the maximum's term)
    lse = mx + log(sum);
    for (int i = 0; i < n; i++)
        H -= exp(s[i] - lse) * (s[i] - lse);
    logp = s[a->action] - lse;
    if (a->clip) {
        double r = exp(logp - a->old_logp);
        double rc = fmin(fmax(r, 1.0 - a->clip_eps), 1.0 + a->clip_eps);

        surr = fmin(r * a->advantage, rc * a->advantage);
    } else {
        surr = a->advantage * logp;
    }
    return -surr - a->entropy_coef * H;
}

/* check mlp_pg_loss's loss and dscores against the reference and its central differences */
static int check_pg(const float *scores, int n, const struct mlp_pg_args *a,
                    struct mlp_pg_out *out) {
    float d[8];
    double s[8];
    int ok = 1;

    if (mlp_pg_loss(scores, n, a, d, out, NULL) != 0)
        return 0;
    for (int i = 0; i < n; i++)
        s[i] = scores[i];
    if (!close_to(out->loss, ref_pg(s, n, a), 1e-5))
        ok = 0;
    for (int j = 0; j < n; j++) {
        double h = 1e-6, up, down;

        s[j] = scores[j] + h;
        up = ref_pg(s, n, a);
        s[j] = scores[j] - h;
        down = ref_pg(s, n, a);
        s[j] = scores[j];
        if (!close_to(d[j], (up - down) / (2 * h), 1e-4)) {
            fprintf(stderr, "\n  dscore[%d]: analytic %g, finite difference %g\n", j, (double)d[j],
                    (up - down) / (2 * h));
            ok = 0;
        }
    }
    return ok;
}

TG_TEST(mlp, pg_loss_matches_finite_differences) {
    float scores[5] = {0.3f, -1.2f, 0.8f, 0.1f, -0.4f};
    struct mlp_pg_args a = {.action = 2, .advantage = 1.5f, .entropy_coef = 0.01f};
    struct mlp_pg_out out;

    CU_ASSERT(check_pg(scores, 5, &a, &out));
    CU_ASSERT_DOUBLE_EQUAL(out.logp, mlp_log_prob(scores, 5, 2), 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(out.entropy, mlp_entropy(scores, 5), 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(out.ratio, 1.0, 0);
    a.advantage = -0.7f;
    a.action = 1;
    a.entropy_coef = 0.5f;
    CU_ASSERT(check_pg(scores, 5, &a, &out));
    /* entropy bonus alone: L = -H, and a small descent step on the scores raises H */
    a.advantage = 0.0f;
    a.entropy_coef = 1.0f;
    CU_ASSERT(check_pg(scores, 5, &a, &out));
    CU_ASSERT_DOUBLE_EQUAL(out.loss, -mlp_entropy(scores, 5), 1e-6);
    {
        float d[5], moved[5];

        CU_ASSERT(mlp_pg_loss(scores, 5, &a, d, NULL, NULL) == 0);
        for (int i = 0; i < 5; i++)
            moved[i] = scores[i] - 0.1f * d[i];
        CU_ASSERT(mlp_entropy(moved, 5) > mlp_entropy(scores, 5));
    }
    /* one candidate: nothing to learn */
    {
        float d[1];

        a.action = 0;
        a.advantage = 2.0f;
        CU_ASSERT(mlp_pg_loss(scores, 1, &a, d, &out, NULL) == 0);
        CU_ASSERT_DOUBLE_EQUAL(d[0], 0.0, 1e-7);
    }
}

TG_TEST(mlp, pg_loss_clip) {
    float scores[4] = {0.5f, -0.3f, 1.1f, 0.2f};
    float lp = mlp_log_prob(scores, 4, 2), d[4];
    struct mlp_pg_args a = {
        .action = 2, .advantage = 1.0f, .entropy_coef = 0.0f, .clip = 1, .clip_eps = 0.2f};
    struct mlp_pg_out out;
    struct tg_error err;

    /* inside the range: same gradient as r * A * grad log p */
    a.old_logp = lp - 0.1f; /* r = e^0.1 = 1.105 */
    CU_ASSERT(check_pg(scores, 4, &a, &out));
    CU_ASSERT_EQUAL(out.clipped, 0);
    CU_ASSERT_DOUBLE_EQUAL(out.ratio, exp(0.1), 1e-5);
    /* A > 0 and r > 1 + eps: clipped, no policy gradient at all */
    a.old_logp = lp - 0.5f;
    CU_ASSERT(check_pg(scores, 4, &a, &out));
    CU_ASSERT_EQUAL(out.clipped, 1);
    CU_ASSERT_DOUBLE_EQUAL(out.loss, -1.2, 1e-6);
    CU_ASSERT(mlp_pg_loss(scores, 4, &a, d, &out, NULL) == 0);
    for (int j = 0; j < 4; j++)
        CU_ASSERT_EQUAL(d[j], 0.0f);
    /* A < 0 and r < 1 - eps: clipped too */
    a.advantage = -2.0f;
    a.old_logp = lp + 0.5f;
    CU_ASSERT(check_pg(scores, 4, &a, &out));
    CU_ASSERT_EQUAL(out.clipped, 1);
    /* A < 0 and r > 1 + eps: the unclipped term is the min, gradient flows */
    a.old_logp = lp - 0.5f;
    a.entropy_coef = 0.05f;
    CU_ASSERT(check_pg(scores, 4, &a, &out));
    CU_ASSERT_EQUAL(out.clipped, 0);
    /* bad input */
    a.action = 4;
    CU_ASSERT_EQUAL(mlp_pg_loss(scores, 4, &a, d, &out, &err), TG_EINVAL);
    CU_ASSERT_STRING_EQUAL(err.code, "invalid_request");
    a.action = 0;
    a.clip_eps = -0.1f;
    CU_ASSERT_EQUAL(mlp_pg_loss(scores, 4, &a, d, &out, &err), TG_EINVAL);
}

/* the whole chain: loss of one decision through the network, against finite differences of
 * the double reference */
TG_TEST(mlp, pg_through_network_matches_finite_differences) {
    struct mlp m;
    struct mlp_workspace ws;
    struct rng r;
    float x[NROWS * 5], scores[NROWS], d[NROWS];
    struct mlp_pg_args a = {.action = 1, .advantage = 0.8f, .entropy_coef = 0.1f};
    int bad = 0;

    rng_seed(&r, 5);
    make_net(&m, &r);
    fill_normal(x, TG_ARRAY_LEN(x), 1.0, &r);
    CU_ASSERT_FATAL(mlp_workspace_init(&ws, &m.cfg, NROWS, NULL) == 0);
    CU_ASSERT_FATAL(mlp_forward(&m, &ws, x, NROWS, scores, NULL) == 0);
    CU_ASSERT_FATAL(mlp_pg_loss(scores, NROWS, &a, d, NULL, NULL) == 0);
    mlp_zero_grad(&m);
    mlp_backward(&m, &ws, d);
    for (size_t i = 0; i < m.num_params; i++) {
        double h = 1e-5, s[NROWS], up, down;

        for (int k = 0; k < NROWS; k++)
            s[k] = ref_score(&m.cfg, m.params_memory, (long)i, h, x + k * 5);
        up = ref_pg(s, NROWS, &a);
        for (int k = 0; k < NROWS; k++)
            s[k] = ref_score(&m.cfg, m.params_memory, (long)i, -h, x + k * 5);
        down = ref_pg(s, NROWS, &a);
        if (!close_to(m.grads_memory[i], (up - down) / (2 * h), 1e-3))
            bad++;
    }
    CU_ASSERT_EQUAL(bad, 0);
    mlp_workspace_free(&ws);
    mlp_free(&m);
}

/* ---- optim ------------------------------------------------------------------------------ */

TG_TEST(optim, first_step_by_hand) {
    struct adam_config c = {.beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.1f};
    struct adam a;
    float p[3] = {1.0f, -2.0f, 0.5f}, g[3] = {0.3f, -0.02f, 0.0f};
    float p0[3];

    memcpy(p0, p, sizeof(p));
    CU_ASSERT_FATAL(adam_init(&a, &c, 3, NULL) == 0);
    adam_update(&a, p, g, 0.01f);
    CU_ASSERT_EQUAL(a.step, 1);
    for (int i = 0; i < 3; i++) {
        /* t = 1: m_hat = g, v_hat = g^2 exactly, so the step is lr*(g/(|g|+eps) + wd*p) */
        double mh = (1 - 0.9) * g[i] / (1 - 0.9), vh = (1 - 0.999) * g[i] * g[i] / (1 - 0.999);
        double want = p0[i] - 0.01 * (mh / (sqrt(vh) + 1e-8) + 0.1 * p0[i]);

        CU_ASSERT_DOUBLE_EQUAL(p[i], want, 1e-6);
        CU_ASSERT_DOUBLE_EQUAL(a.m[i], 0.1 * g[i], 1e-7);
        CU_ASSERT(close_to(a.v[i], (double)(1.0f - 0.999f) * g[i] * g[i], 1e-5));
    }
    CU_ASSERT_DOUBLE_EQUAL(p[0], 1.0 - 0.01 * (1.0 + 0.1), 1e-6); /* sign step + decay */
    adam_free(&a);
}

TG_TEST(optim, quadratic_converges) {
    /* f(p) = sum 0.5 k_i (p_i - t_i)^2 with very different curvatures */
    float k[4] = {0.1f, 1.0f, 10.0f, 100.0f}, t[4] = {1.0f, -3.0f, 0.5f, 2.0f};
    float p[4] = {0}, g[4];
    struct adam_config c = adam_config_default();
    struct adam a;

    CU_ASSERT_FATAL(adam_init(&a, &c, 4, NULL) == 0);
    for (int it = 0; it < 3000; it++) {
        float lr = it < 2000 ? 0.05f : 0.005f;

        for (int i = 0; i < 4; i++)
            g[i] = k[i] * (p[i] - t[i]);
        adam_update(&a, p, g, lr);
    }
    for (int i = 0; i < 4; i++)
        CU_ASSERT_DOUBLE_EQUAL(p[i], t[i], 1e-2);
    adam_free(&a);
}

TG_TEST(optim, span_update_leaves_rest_alone) {
    struct adam_config c = adam_config_default();
    struct adam a;
    float p[6] = {1, 2, 3, 4, 5, 6}, g[6] = {1, 1, 1, 1, 1, 1};

    CU_ASSERT_FATAL(adam_init(&a, &c, 6, NULL) == 0);
    CU_ASSERT_EQUAL(adam_begin_step(&a), 1);
    adam_update_span(&a, p, g, 0.1f, 2, 3);
    for (int i = 0; i < 6; i++) {
        int in = i >= 2 && i < 5;

        CU_ASSERT_DOUBLE_EQUAL(p[i], i + 1 - (in ? 0.1 : 0.0), 1e-6);
        CU_ASSERT(in ? a.m[i] != 0.0f : a.m[i] == 0.0f);
    }
    adam_free(&a);
}

TG_TEST(optim, clip_grad_norm) {
    float g[2] = {3.0f, 4.0f};
    float z[3] = {0, 0, 0};

    CU_ASSERT_DOUBLE_EQUAL(adam_clip_grad_norm(g, 2, 10.0f), 5.0, 1e-6);
    CU_ASSERT_EQUAL(g[0], 3.0f); /* under the limit: untouched */
    CU_ASSERT_DOUBLE_EQUAL(adam_clip_grad_norm(g, 2, 0.0f), 5.0, 1e-6);
    CU_ASSERT_EQUAL(g[1], 4.0f); /* max_norm 0 only measures */
    CU_ASSERT_DOUBLE_EQUAL(adam_clip_grad_norm(g, 2, 1.0f), 5.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(g[0], 0.6, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(g[1], 0.8, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(adam_clip_grad_norm(g, 2, 1.0f), 1.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(adam_clip_grad_norm(z, 3, 1.0f), 0.0, 0);
    CU_ASSERT_EQUAL(z[0], 0.0f); /* no 0/0 */
}

TG_TEST(optim, config_rejected) {
    struct adam_config bad[4];
    struct adam a;
    struct tg_error err;

    for (int i = 0; i < 4; i++)
        bad[i] = adam_config_default();
    bad[0].beta1 = 1.0f;
    bad[1].beta2 = -0.1f;
    bad[2].eps = 0.0f;
    bad[3].weight_decay = -1.0f;
    for (int i = 0; i < 4; i++) {
        CU_ASSERT_EQUAL(adam_init(&a, &bad[i], 10, &err), TG_EINVAL);
        CU_ASSERT_STRING_EQUAL(err.code, "invalid_config");
    }
    CU_ASSERT(strstr(err.message, "weight_decay") != NULL);
    bad[0] = adam_config_default();
    CU_ASSERT_EQUAL(adam_init(&a, &bad[0], 0, &err), TG_EINVAL);
}

/* ---- rng -------------------------------------------------------------------------------- */

TG_TEST(rng, seeded_and_reproducible) {
    struct rng a, b;
    int same = 1, differ = 0;

    rng_seed(&a, 7);
    rng_seed(&b, 7);
    for (int i = 0; i < 100; i++)
        same &= rng_u64(&a) == rng_u64(&b);
    CU_ASSERT(same);
    rng_seed(&b, 8);
    for (int i = 0; i < 100; i++)
        differ += rng_u64(&a) != rng_u64(&b);
    CU_ASSERT(differ > 95);
    rng_seed(&a, 0); /* seed 0 is fine: not stuck */
    CU_ASSERT(rng_u64(&a) != rng_u64(&a));
}

TG_TEST(rng, uniform_and_normal_moments) {
    struct rng r;
    double s = 0, s2 = 0, lo = 1, hi = 0;
    int n = 100000, buckets[10] = {0};

    rng_seed(&r, 11);
    for (int i = 0; i < n; i++) {
        double u = rng_uniform(&r);

        CU_ASSERT_FATAL(u >= 0.0 && u < 1.0);
        lo = u < lo ? u : lo;
        hi = u > hi ? u : hi;
        buckets[(int)(u * 10)]++;
    }
    CU_ASSERT(lo < 1e-3 && hi > 1 - 1e-3);
    for (int b = 0; b < 10; b++)
        CU_ASSERT(abs(buckets[b] - n / 10) < 600); /* ~6 sigma */
    for (int i = 0; i < n; i++) {
        double z = rng_normal(&r);

        s += z;
        s2 += z * z;
    }
    CU_ASSERT_DOUBLE_EQUAL(s / n, 0.0, 0.02);
    CU_ASSERT_DOUBLE_EQUAL(s2 / n, 1.0, 0.03);
    for (int i = 0; i < 1000; i++)
        CU_ASSERT(rng_below(&r, 7) < 7);
    CU_ASSERT_EQUAL(rng_below(&r, 1), 0);
}

TG_TEST(rng, categorical) {
    struct rng r;
    float p[4] = {0.1f, 0.0f, 0.6f, 0.3f};
    float unnorm[3] = {2.0f, 6.0f, 0.0f};
    float zero[2] = {0, 0}, neg[2] = {0.5f, -0.1f};
    int count[4] = {0}, n = 50000, c3[3] = {0};

    rng_seed(&r, 13);
    for (int i = 0; i < n; i++) {
        int k = rng_categorical(&r, p, 4);

        CU_ASSERT_FATAL(k >= 0 && k < 4);
        count[k]++;
    }
    CU_ASSERT_EQUAL(count[1], 0); /* zero weight is never drawn */
    CU_ASSERT_DOUBLE_EQUAL((double)count[0] / n, 0.1, 0.01);
    CU_ASSERT_DOUBLE_EQUAL((double)count[2] / n, 0.6, 0.015);
    CU_ASSERT_DOUBLE_EQUAL((double)count[3] / n, 0.3, 0.015);
    for (int i = 0; i < 10000; i++)
        c3[rng_categorical(&r, unnorm, 3)]++;
    CU_ASSERT_EQUAL(c3[2], 0);
    CU_ASSERT_DOUBLE_EQUAL(c3[0] / 10000.0, 0.25, 0.02); /* weights need not sum to 1 */
    CU_ASSERT_EQUAL(rng_categorical(&r, zero, 2), -1);
    CU_ASSERT_EQUAL(rng_categorical(&r, neg, 2), -1);
    CU_ASSERT_EQUAL(rng_categorical(&r, p, 0), -1);
}
