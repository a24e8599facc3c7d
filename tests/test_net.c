/*
 * test_net.c — suite `net`: the policy network's forward and backward passes. The gradients
 * that backward adds (encoder, decoder, pointer and symbol logits, relative position biases,
 * LayerNorms, embeddings) match central finite differences of the loss, for the warm-up's
 * cross-entropy (with alternatives) and for the policy-gradient loss with its entropy bonus;
 * forward is a pure function of the parameters and the sequence; seeded init is
 * reproducible; frozen layers get no gradient.
 */
#include "tg_test.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "base/tg.h"
#include "policy/act.h"
#include "policy/net.h"
#include "policy/policy.h"
#include "policy/seq.h"
#include "policy/view.h"

/* a small policy with a few learned symbols, seeded weights scaled up so that every
 * nonlinearity is away from its linear regime */
static void small_policy(struct policy *p, int layers, unsigned long long seed) {
    struct net_config nc;
    struct tg_error e;
    struct rng r;

    memset(p, 0, sizeof(*p));
    p->voc.nconst = 1;
    p->voc.cval[0] = 2;
    p->voc.nword = 2;
    snprintf(p->voc.word[0], sizeof(p->voc.word[0]), "population");
    snprintf(p->voc.word[1], sizeof(p->voc.word[1]), "founded");
    nc.d = 16;
    nc.heads = 2;
    nc.layers = layers;
    nc.ffn = 24;
    nc.buckets = 512;
    nc.nsym = act_nsym(&p->voc);
    CU_ASSERT_EQUAL_FATAL(net_init(&p->net, &nc, &e), 0);
    rng_seed(&r, seed);
    net_init_weights(&p->net, &r);
    /* LayerNorm gains and biases start at 1 and 0; perturb every parameter a little so
     * that each one's gradient is exercised */
    for (size_t i = 0; i < p->net.num_params; i++)
        p->net.params[i] += 0.05f * (float)(rng_uniform(&r) * 2 - 1);
}

/* a view: a prompt, one search with two hits, one calculator call */
static void small_view(struct view *v) {
    struct tg_error e;
    json_t *call, *obs;

    CU_ASSERT_EQUAL_FATAL(
        view_init(v, "How many people live in Mivor, and what is 12 times that, minus 1,250?", 6,
                  &e),
        0);
    call = json_pack("{s:s,s:{s:s}}", "name", "search", "arguments", "query", "Mivor population");
    obs = json_pack("{s:b,s:{s:[{s:s,s:s},{s:s,s:s}]}}", "ok", 1, "result", "hits", "title",
                    "Mivor", "snippet", "Mivor is a town of 48,211 people founded in 1505.",
                    "title", "Lunsel", "snippet", "Lunsel has 9,930 residents.");
    CU_ASSERT_EQUAL_FATAL(view_push(v, call, obs, &e), 0);
    json_decref(call);
    json_decref(obs);
    call =
        json_pack("{s:s,s:{s:s}}", "name", "calculator", "arguments", "expression", "48211 * 12");
    obs = json_pack("{s:b,s:{s:f}}", "ok", 1, "result", "value", 578532.0);
    CU_ASSERT_EQUAL_FATAL(view_push(v, call, obs, &e), 0);
    json_decref(call);
    json_decref(obs);
}

static void build_seq(struct seq *s, const struct view *v, const struct policy *p) {
    struct tg_error e;

    CU_ASSERT_EQUAL_FATAL(seq_alloc(s, 0, 0, 0, &e), 0);
    seq_build(s, v, &p->voc, (uint32_t)p->net.cfg.buckets, p->lex);
}

/* a target writing calculator "578532 - 1250" (both pointed at) */
static void calc_target(const struct policy *p, const struct seq *s, struct act_targets *t) {
    struct tg_error e;
    json_t *call = json_pack("{s:s,s:{s:s}}", "name", "calculator", "arguments", "expression",
                             "578532 - 1250");

    CU_ASSERT_EQUAL_FATAL(act_target_call(&p->voc, s, call, t, &e), 0);
    json_decref(call);
}

/* the parameters to probe: every tensor's span of the block gets a few, chosen with a seed */
static int probe_indices(const struct net *n, size_t *idx, int max) {
    struct rng r;
    int k = 0;

    rng_seed(&r, 99);
    for (int l = 0; l < n->nlayers && k < max; l++) {
        size_t off, len;

        CU_ASSERT_EQUAL_FATAL(net_layer_span(n, l, &off, &len), 0);
        for (int j = 0; j < 40 && k < max; j++)
            idx[k++] = off + (size_t)rng_below(&r, len);
    }
    return k;
}

/*
 * Compare the analytic gradient g (num_params) with central differences of loss_fn at the
 * probed parameters, plus the largest-gradient parameters of each layer (the ones that
 * matter). Floats: h = 1e-2, a tolerance relative to the larger magnitude.
 */
typedef float (*loss_fn)(struct policy *p, struct policy_scratch *sc, const struct seq *s,
                         void *ctx);

static void check_grads(struct policy *p, struct policy_scratch *sc, const struct seq *s,
                        const float *g, loss_fn f, void *ctx, const char *what) {
    size_t idx[512];
    int n = probe_indices(&p->net, idx, 400), bad = 0, checked = 0, nonzero = 0;

    /* the largest |gradient| of each layer */
    for (int l = 0; l < p->net.nlayers && n < 512; l++) {
        size_t off, len, best = 0;

        net_layer_span(&p->net, l, &off, &len);
        for (size_t i = off; i < off + len; i++)
            if (fabsf(g[i]) > fabsf(g[best]) || best < off)
                best = i;
        idx[n++] = best;
    }
    /* every match-class attention bias, and the value-comparison, place and soft-rank
     * weights: small tensors the random probes would mostly miss */
    for (int l = 0; l < p->net.cfg.layers; l++)
        for (int h = 0; h < p->net.cfg.heads && n < 512; h++)
            idx[n++] = (size_t)(p->net.p.blk[l].sameb + h - p->net.params);
    for (int k = 0; k < NET_CMP * p->net.cfg.d && n < 512; k += 3)
        idx[n++] = (size_t)(p->net.p.wcmp + k - p->net.params);
    for (int k = 0; k < NET_ADJ * p->net.cfg.d && n < 512; k += 3)
        idx[n++] = (size_t)(p->net.p.wadj + k - p->net.params);
    for (int k = 0; k < p->net.cfg.d && n < 512; k += 2)
        idx[n++] = (size_t)(p->net.p.wsr + k - p->net.params);
    for (int k = 0; k < n; k++) {
        float *w = &p->net.params[idx[k]], keep = *w, h = 1e-2f;
        double lp, lm, num, an = g[idx[k]], tol;

        *w = keep + h;
        lp = f(p, sc, s, ctx);
        *w = keep - h;
        lm = f(p, sc, s, ctx);
        *w = keep;
        num = (lp - lm) / (2.0 * h);
        tol = 2e-2 * fmax(fabs(num), fabs(an)) + 2e-3;
        checked++;
        nonzero += fabs(an) > 1e-3;
        if (fabs(num - an) > tol) {
            if (bad < 5)
                fprintf(stderr, "\n  %s: param %zu analytic %.6f numeric %.6f", what, idx[k], an,
                        num);
            bad++;
        }
    }
    CU_ASSERT_EQUAL(bad, 0);
    /* the check probed real gradients, not a sea of zeros */
    CU_ASSERT(nonzero >= checked / 4);
}

static float sft_loss(struct policy *p, struct policy_scratch *sc, const struct seq *s, void *ctx) {
    return policy_sft_backward(p, sc, s, ctx, 1.0f, 0, NULL);
}

TG_TEST(net, warmup_gradient_matches_finite_differences) {
    struct policy p;
    struct policy_scratch sc;
    struct view *v = malloc(sizeof(*v));
    struct act_targets *t = malloc(sizeof(*t));
    struct seq s;
    struct tg_error e;
    float loss, loss2;

    CU_ASSERT_FATAL(v && t);
    for (int layers = 1; layers <= 2; layers++) {
        small_policy(&p, layers, 5 + (unsigned)layers);
        memset(&sc, 0, sizeof(sc));
        CU_ASSERT_EQUAL_FATAL(policy_scratch_init(&sc, &p, &e), 0);
        small_view(v);
        build_seq(&s, v, &p);
        calc_target(&p, &s, t);
        CU_ASSERT(t->nalt >= 1);
        net_ws_zero_grad(&sc.ws, &p.net);
        loss = policy_sft_backward(&p, &sc, &s, t, 1.0f, 1, NULL);
        CU_ASSERT(isfinite(loss) && loss > 0);
        /* the loss alone (grad 0) is the same number: forward is pure */
        loss2 = policy_sft_backward(&p, &sc, &s, t, 1.0f, 0, NULL);
        CU_ASSERT_EQUAL(loss, loss2);
        {
            float *g = malloc(sizeof(float) * p.net.num_params);

            CU_ASSERT_FATAL(g != NULL);
            memcpy(g, sc.ws.grads, sizeof(float) * p.net.num_params);
            /* the match-class bias and the value comparison are on the gradient's path: the
             * prompt's "Mivor" stands in the query and the hits; the second operand is
             * compared with the first */
            CU_ASSERT(g[p.net.p.blk[0].sameb - p.net.params] != 0.0f);
            CU_ASSERT(g[p.net.p.wcmp + NET_CMP * p.net.cfg.d / 4 - p.net.params] != 0.0f ||
                      g[p.net.p.wcmp + NET_CMP * p.net.cfg.d / 4 + 1 - p.net.params] != 0.0f);
            /* the soft rank orders the first operand among the numbers considered, and the
             * place bias sees the second operand after the first */
            CU_ASSERT(g[p.net.p.wsr - p.net.params] != 0.0f);
            CU_ASSERT(g[p.net.p.wadj + 2 * p.net.cfg.d + 1 - p.net.params] != 0.0f);
            check_grads(&p, &sc, &s, g, sft_loss, t, "warm-up");
            free(g);
        }
        seq_free(&s);
        policy_scratch_free(&sc);
        policy_free(&p);
    }
    free(v);
    free(t);
}

/* a target with two alternatives (the answer 578532 pointed at, or 48211 * 12 computed)
 * trains both by their posterior weight */
TG_TEST(net, answer_alternatives_gradient_matches_finite_differences) {
    struct policy p;
    struct policy_scratch sc;
    struct view *v = malloc(sizeof(*v));
    struct act_targets *t = malloc(sizeof(*t));
    struct task_answer a;
    struct seq s;
    struct tg_error e;
    float *g;

    CU_ASSERT_FATAL(v && t);
    small_policy(&p, 1, 11);
    memset(&sc, 0, sizeof(sc));
    CU_ASSERT_EQUAL_FATAL(policy_scratch_init(&sc, &p, &e), 0);
    small_view(v);
    build_seq(&s, v, &p);
    memset(&a, 0, sizeof(a));
    a.type = TASK_ANSWER_NUMBER;
    a.value = 48211.0 * 2;
    a.tolerance = 1e-6;
    CU_ASSERT_EQUAL_FATAL(act_target_answer(&p.voc, &s, &a, t, &e), 0);
    CU_ASSERT(t->nalt >= 1);
    net_ws_zero_grad(&sc.ws, &p.net);
    policy_sft_backward(&p, &sc, &s, t, 1.0f, 1, NULL);
    g = malloc(sizeof(float) * p.net.num_params);
    CU_ASSERT_FATAL(g != NULL);
    memcpy(g, sc.ws.grads, sizeof(float) * p.net.num_params);
    check_grads(&p, &sc, &s, g, sft_loss, t, "answer");
    free(g);
    seq_free(&s);
    policy_scratch_free(&sc);
    policy_free(&p);
    free(v);
    free(t);
}

struct pg_ctx {
    struct policy_action a;
    struct policy_pg pg;
};

static float pg_loss(struct policy *p, struct policy_scratch *sc, const struct seq *s, void *ctx) {
    struct pg_ctx *c = ctx;
    float *keep = malloc(sizeof(float) * p->net.num_params), L;

    /* policy_pg_backward always adds its gradient: keep the block as it was */
    memcpy(keep, sc->ws.grads, sizeof(float) * p->net.num_params);
    L = policy_pg_backward(p, sc, s, &c->a, &c->pg, NULL, NULL);
    memcpy(sc->ws.grads, keep, sizeof(float) * p->net.num_params);
    free(keep);
    return L;
}

TG_TEST(net, policy_gradient_matches_finite_differences) {
    struct policy p;
    struct policy_scratch sc;
    struct view *v = malloc(sizeof(*v));
    struct pg_ctx c;
    struct seq s;
    struct tg_error e;
    struct rng r;
    float *g, logp, ent;

    CU_ASSERT_FATAL(v != NULL);
    small_policy(&p, 2, 21);
    memset(&sc, 0, sizeof(sc));
    CU_ASSERT_EQUAL_FATAL(policy_scratch_init(&sc, &p, &e), 0);
    small_view(v);
    build_seq(&s, v, &p);
    rng_seed(&r, 3);
    memset(&c, 0, sizeof(c));
    policy_decide(&p, &sc, &s, POLICY_SAMPLE, &r, &c.a);
    CU_ASSERT(c.a.n >= 2);
    CU_ASSERT(c.a.logp < 0 && c.a.entropy > 0);
    c.pg.advantage = 0.7f;
    c.pg.entropy_coef = 0.05f;
    c.pg.scale = 1.0f;
    net_ws_zero_grad(&sc.ws, &p.net);
    policy_pg_backward(&p, &sc, &s, &c.a, &c.pg, &logp, &ent);
    /* the log-probability of the action the backward pass recomputes is the one it was
     * sampled with */
    CU_ASSERT_DOUBLE_EQUAL(logp, c.a.logp, 1e-4);
    CU_ASSERT_DOUBLE_EQUAL(ent, c.a.entropy, 1e-4);
    g = malloc(sizeof(float) * p.net.num_params);
    CU_ASSERT_FATAL(g != NULL);
    memcpy(g, sc.ws.grads, sizeof(float) * p.net.num_params);
    check_grads(&p, &sc, &s, g, pg_loss, &c, "policy gradient");
    /* PPO-clip inside the trust region is the plain loss's gradient too */
    c.pg.clip = 1;
    c.pg.old_logp = c.a.logp;
    c.pg.clip_eps = 0.2f;
    net_ws_zero_grad(&sc.ws, &p.net);
    policy_pg_backward(&p, &sc, &s, &c.a, &c.pg, NULL, NULL);
    memcpy(g, sc.ws.grads, sizeof(float) * p.net.num_params);
    check_grads(&p, &sc, &s, g, pg_loss, &c, "PPO-clip");
    free(g);
    seq_free(&s);
    policy_scratch_free(&sc);
    policy_free(&p);
    free(v);
}

TG_TEST(net, seeded_init_is_reproducible_and_frozen_layers_get_no_gradient) {
    struct policy a, b;
    struct policy_scratch sc;
    struct view *v = malloc(sizeof(*v));
    struct act_targets *t = malloc(sizeof(*t));
    struct seq s;
    struct tg_error e;
    size_t off, len;
    int any = 0;

    CU_ASSERT_FATAL(v && t);
    small_policy(&a, 2, 42);
    small_policy(&b, 2, 42);
    CU_ASSERT_EQUAL_FATAL(a.net.num_params, b.net.num_params);
    CU_ASSERT(memcmp(a.net.params, b.net.params, sizeof(float) * a.net.num_params) == 0);
    policy_free(&b);
    small_policy(&b, 2, 43);
    CU_ASSERT(memcmp(a.net.params, b.net.params, sizeof(float) * a.net.num_params) != 0);
    policy_free(&b);

    a.net.frozen[0] = 1; /* the embeddings */
    a.net.frozen[1] = 1; /* the first block */
    memset(&sc, 0, sizeof(sc));
    CU_ASSERT_EQUAL_FATAL(policy_scratch_init(&sc, &a, &e), 0);
    small_view(v);
    build_seq(&s, v, &a);
    calc_target(&a, &s, t);
    net_ws_zero_grad(&sc.ws, &a.net);
    policy_sft_backward(&a, &sc, &s, t, 1.0f, 1, NULL);
    for (int l = 0; l < a.net.nlayers; l++) {
        int nz = 0;

        net_layer_span(&a.net, l, &off, &len);
        for (size_t i = off; i < off + len; i++)
            nz += sc.ws.grads[i] != 0;
        if (l <= 1) {
            CU_ASSERT_EQUAL(nz, 0);
        } else {
            any += nz > 0;
        }
    }
    CU_ASSERT_EQUAL(any, a.net.nlayers - 2);
    seq_free(&s);
    policy_scratch_free(&sc);
    policy_free(&a);
    free(v);
    free(t);
}

TG_TEST(net, config_out_of_range_names_the_setting) {
    struct net_config c = {16, 3, 1, 24, 512, SYM_FIXED};
    struct tg_error e;

    CU_ASSERT_EQUAL(net_config_check(&c, &e), TG_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "heads"));
    c.heads = 2;
    CU_ASSERT_EQUAL(net_config_check(&c, &e), 0);
    c.layers = NET_LAYERS_MAX + 1;
    CU_ASSERT_EQUAL(net_config_check(&c, &e), TG_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "layers"));
    c.layers = 1;
    c.nsym = SYM_FIXED - 1;
    CU_ASSERT_EQUAL(net_config_check(&c, &e), TG_EINVAL);
}
