/*
 * test_pipetrain.c — suite `pipetrain`: the RL update's gradient run as a two-stage pipeline.
 * Without freezing it equals the one-thread unpipelined gradient bit for bit, for both
 * schedules, every cut and several micro-batch counts; with per-action freeze ratios (an
 * LP plan's) the layers frozen and the backward multiply-adds done are exactly those of the
 * unpipelined backward with the same layers frozen per micro-batch; a learner that freezes
 * leaves its frozen layers' parameters unchanged, and a pipelined learner steps exactly as an
 * unpipelined one. Uniform freezing spreads whole layers over the micro-batches; progressive
 * freezing freezes settled layers, lowest first, for good, the same way for the same seed.
 */
#include "tg_test.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "base/tg.h"
#include "policy/act.h"
#include "policy/freeze_plan.h"
#include "policy/learner.h"
#include "policy/net.h"
#include "policy/pipetrain.h"
#include "policy/policy.h"
#include "policy/seq.h"
#include "policy/traj.h"
#include "policy/view.h"

#define NDEC 7

static void small_voc(struct act_vocab *v) {
    memset(v, 0, sizeof(*v));
    v->nconst = 1;
    v->cval[0] = 2;
    v->nword = 2;
    snprintf(v->word[0], sizeof(v->word[0]), "population");
    snprintf(v->word[1], sizeof(v->word[1]), "founded");
}

static void small_policy(struct policy *p, unsigned long long seed) {
    struct net_config nc;
    struct tg_error e;
    struct rng r;

    memset(p, 0, sizeof(*p));
    small_voc(&p->voc);
    nc.d = 16;
    nc.heads = 2;
    nc.layers = 2;
    nc.ffn = 24;
    nc.buckets = 512;
    nc.nsym = act_nsym(&p->voc);
    CU_ASSERT_EQUAL_FATAL(net_init(&p->net, &nc, &e), 0);
    rng_seed(&r, seed);
    net_init_weights(&p->net, &r);
}

/* a view with `steps` tool calls (0, 1 or 2): sequences of different lengths */
static void view_of(struct view *v, int steps) {
    struct tg_error e;
    json_t *call, *obs;

    CU_ASSERT_EQUAL_FATAL(
        view_init(v, "How many people live in Mivor, and what is 12 times that, minus 1,250?", 6,
                  &e),
        0);
    if (steps < 1)
        return;
    call = json_pack("{s:s,s:{s:s}}", "name", "search", "arguments", "query", "Mivor population");
    obs = json_pack("{s:b,s:{s:[{s:s,s:s}]}}", "ok", 1, "result", "hits", "title", "Mivor",
                    "snippet", "Mivor is a town of 48,211 people founded in 1505.");
    CU_ASSERT_EQUAL_FATAL(view_push(v, call, obs, &e), 0);
    json_decref(call);
    json_decref(obs);
    if (steps < 2)
        return;
    call =
        json_pack("{s:s,s:{s:s}}", "name", "calculator", "arguments", "expression", "48211 * 12");
    obs = json_pack("{s:b,s:{s:f}}", "ok", 1, "result", "value", 578532.0);
    CU_ASSERT_EQUAL_FATAL(view_push(v, call, obs, &e), 0);
    json_decref(call);
    json_decref(obs);
}

/* NDEC decisions sampled by p: sequences, actions and policy-gradient settings */
struct items {
    struct seq seq[NDEC];
    struct policy_action act[NDEC];
    struct policy_pg pg[NDEC];
    const struct seq *sp[NDEC];
    const struct policy_action *ap[NDEC];
};

static void make_items(struct items *it, struct policy *p) {
    struct view *v = malloc(sizeof(*v));
    struct policy_scratch sc;
    struct tg_error e;
    struct rng r;

    CU_ASSERT_FATAL(v != NULL);
    CU_ASSERT_EQUAL_FATAL(policy_scratch_init(&sc, p, &e), 0);
    rng_seed(&r, 5);
    for (int i = 0; i < NDEC; i++) {
        CU_ASSERT_EQUAL_FATAL(seq_alloc(&it->seq[i], 0, 0, 0, &e), 0);
        view_of(v, i % 3);
        seq_build(&it->seq[i], v, &p->voc, (uint32_t)p->net.cfg.buckets, p->lex);
        policy_decide(p, &sc, &it->seq[i], POLICY_SAMPLE, &r, &it->act[i]);
        memset(&it->pg[i], 0, sizeof(it->pg[i]));
        it->pg[i].advantage = (float)(i % 2 ? 0.8 : -0.5);
        it->pg[i].entropy_coef = 0.01f;
        it->pg[i].scale = 1.0f / NDEC;
        it->sp[i] = &it->seq[i];
        it->ap[i] = &it->act[i];
    }
    policy_scratch_free(&sc);
    free(v);
}

/* frees it (from malloc) and every sequence in it; NULL is fine */
static void free_items(struct items *it) {
    if (!it)
        return;
    for (int i = 0; i < NDEC; i++)
        seq_free(&it->seq[i]);
    free(it);
}

/* the unpipelined gradient: decision after decision into one block, with frozen[] of
 * decision i's micro-batch (out of m) from fz (NULL: nothing frozen); returns the MACs */
static long long reference(struct policy *p, struct items *it, int m, const unsigned char *fz,
                           float *grads, double *loss) {
    struct policy_scratch sc;
    struct tg_error e;
    long long macs = 0;

    CU_ASSERT_EQUAL_FATAL(policy_scratch_init(&sc, p, &e), 0);
    net_ws_zero_grad(&sc.ws, &p->net);
    *loss = 0;
    for (int mb = 0; mb < m; mb++)
        for (int i = NDEC * mb / m; i < NDEC * (mb + 1) / m; i++) {
            float L;

            for (int l = 0; l < p->net.nlayers; l++)
                p->net.frozen[l] = fz ? fz[mb * p->net.nlayers + l] : 0;
            net_encode(&p->net, &sc.ws, &it->seq[i]);
            L = policy_pg_dlogits(p, &sc, &it->seq[i], &it->act[i], &it->pg[i], NULL, NULL);
            macs += net_backward(&p->net, &sc.ws, sc.dlogits);
            *loss += (double)(L / it->pg[i].scale);
        }
    for (int l = 0; l < p->net.nlayers; l++)
        p->net.frozen[l] = 0;
    memcpy(grads, sc.ws.grads, sizeof(float) * p->net.num_params);
    policy_scratch_free(&sc);
    return macs;
}

TG_TEST(pipetrain, unfrozen_pipeline_gradient_equals_unpipelined_bit_for_bit) {
    struct policy p;
    struct items *it = malloc(sizeof(*it));
    struct tg_error e;
    float *ref, *got;
    double rloss, loss, ent;
    int frozen_all[NET_LAYERS_MAX + 2];

    CU_ASSERT_FATAL(it != NULL);
    small_policy(&p, 11);
    make_items(it, &p);
    ref = malloc(sizeof(float) * p.net.num_params);
    got = malloc(sizeof(float) * p.net.num_params);
    CU_ASSERT_FATAL(ref && got);
    reference(&p, it, 1, NULL, ref, &rloss);
    /* every way to cut the 4 layers into 2, 3 or 4 stages (bit c - 1 of `cuts`: a stage
     * starts at layer c) */
    for (int kind = 0; kind < 2; kind++)
        for (int cuts = 1; cuts < 8; cuts++)
            for (int m = 1; m <= NDEC + 2; m += 2) {
                struct pipetrain_config c = pipetrain_config_default();
                struct pipetrain P;
                int S = 1;

                for (int l = 1; l <= 3; l++)
                    if (cuts & (1 << (l - 1)))
                        c.cut[S++ - 1] = l;
                c.stages = S;
                c.kind = kind ? PIPELINE_1F1B : PIPELINE_GPIPE;
                c.microbatches = kind && m < S ? S : m;
                CU_ASSERT_EQUAL_FATAL(pipetrain_init(&P, &c, &p.net, &e), 0);
                memset(got, 0xff, sizeof(float) * p.net.num_params);
                /* twice: the second run reuses the pipeline and the stash */
                for (int rep = 0; rep < 2; rep++) {
                    CU_ASSERT_EQUAL_FATAL(pipetrain_grads(&P, &p, it->sp, it->ap, it->pg, NDEC,
                                                          NULL, got, &loss, &ent, frozen_all, &e),
                                          0);
                    CU_ASSERT(memcmp(ref, got, sizeof(float) * p.net.num_params) == 0);
                    CU_ASSERT(loss == rloss);
                    CU_ASSERT(ent > 0);
                    CU_ASSERT(P.rep.microbatches ==
                              (c.microbatches < NDEC ? c.microbatches : NDEC));
                    CU_ASSERT_EQUAL(P.pl->stages, S);
                    for (int l = 0; l < p.net.nlayers; l++)
                        CU_ASSERT_EQUAL(frozen_all[l], 0);
                    for (int i = 0; i < P.pl->n; i++)
                        CU_ASSERT(P.t1[i] >= P.t0[i]);
                }
                pipetrain_free(&P);
            }
    free(ref);
    free(got);
    free_items(it);
    policy_free(&p);
}

TG_TEST(pipetrain, planned_freezing_skips_exactly_the_planned_share) {
    struct policy p;
    struct items *it = malloc(sizeof(*it));
    struct pipetrain_config c = pipetrain_config_default();
    struct freeze_plan_config fc = freeze_plan_config_default();
    struct pipeline_times t;
    struct freeze_plan plan;
    struct pipetrain P;
    struct tg_error e;
    unsigned char fz[4 * (NET_LAYERS_MAX + 2)];
    float *ref, *got;
    double rloss, loss, ent;
    long long rmacs, macs = 0, full;
    int frozen_all[NET_LAYERS_MAX + 2], m = 4, nl, any_frozen = 0;

    CU_ASSERT_FATAL(it != NULL);
    small_policy(&p, 12);
    make_items(it, &p);
    nl = p.net.nlayers; /* 4: embeddings, 2 blocks, head; cut 2: two layers per stage */
    ref = malloc(sizeof(float) * p.net.num_params);
    got = malloc(sizeof(float) * p.net.num_params);
    CU_ASSERT_FATAL(ref && got);
    full = reference(&p, it, m, NULL, ref, &rloss);
    /* a plan for a pipeline whose second stage is the slow one */
    memset(&t, 0, sizeof(t));
    t.stages = 2;
    t.st[0] = (struct pipeline_stage_times){1.0, 2.0, 0.2};
    t.st[1] = (struct pipeline_stage_times){2.0, 5.0, 2.5};
    c.stages = 2;
    c.kind = PIPELINE_1F1B;
    c.microbatches = m;
    c.cut[0] = 2;
    CU_ASSERT_EQUAL_FATAL(pipetrain_init(&P, &c, &p.net, &e), 0);
    /* a first unfrozen run builds the pipeline the plan is solved on */
    CU_ASSERT_EQUAL_FATAL(pipetrain_grads(&P, &p, it->sp, it->ap, it->pg, NDEC, NULL, got, &loss,
                                          &ent, frozen_all, &e),
                          0);
    fc.r_max = 0.8;
    memset(&plan, 0, sizeof(plan));
    CU_ASSERT_EQUAL_FATAL(freeze_plan_solve(P.pl, &t, &fc, &plan, &e), 0);
    CU_ASSERT_EQUAL_FATAL(pipetrain_grads(&P, &p, it->sp, it->ap, it->pg, NDEC, plan.ratio, got,
                                          &loss, &ent, frozen_all, &e),
                          0);
    /* the layers each backward froze: the lowest floor(r * 2) of its stage's two layers */
    memset(fz, 0, sizeof(fz));
    for (int mb = 0; mb < m; mb++)
        for (int s = 0; s < 2; s++) {
            int i = P.pl->bwd[s * m + mb], k = (int)floor(plan.ratio[i] * 2 + 1e-9);

            for (int l = 2 * s; l < 2 * s + 2; l++) {
                int want = l < 2 * s + k;

                CU_ASSERT_EQUAL(P.frz[(size_t)i * nl + l], want);
                if (want)
                    fz[mb * nl + l] = 1;
            }
            any_frozen |= k > 0;
        }
    CU_ASSERT(any_frozen); /* the plan does freeze something here */
    /* both stages' backwards of a micro-batch see the same frozen layers */
    for (int mb = 0; mb < m; mb++)
        CU_ASSERT(memcmp(P.frz + (size_t)P.pl->bwd[mb] * nl, P.frz + (size_t)P.pl->bwd[m + mb] * nl,
                         (size_t)nl) == 0);
    /* gradients and work are the unpipelined backward's with those layers frozen */
    rmacs = reference(&p, it, m, fz, ref, &rloss);
    CU_ASSERT(memcmp(ref, got, sizeof(float) * p.net.num_params) == 0);
    for (int i = 0; i < P.pl->n; i++)
        macs += P.macs[i];
    CU_ASSERT_EQUAL(macs, rmacs);
    CU_ASSERT(macs < full);
    CU_ASSERT_EQUAL(P.rep.macs_done, macs);
    /* a layer frozen for every micro-batch gets no gradient at all */
    for (int l = 0; l < nl; l++) {
        size_t off, len;
        int all = 1, zero = 1;

        for (int mb = 0; mb < m; mb++)
            all &= fz[mb * nl + l];
        CU_ASSERT_EQUAL(frozen_all[l], all);
        net_layer_span(&p.net, l, &off, &len);
        for (size_t k = 0; k < len; k++)
            zero &= got[off + k] == 0.0f;
        if (all)
            CU_ASSERT(zero);
    }
    freeze_plan_free(&plan);
    pipetrain_free(&P);
    free(ref);
    free(got);
    free_items(it);
    policy_free(&p);
}

/* a learner on the small network, RL phase, with pipeline settings pc (stages 0: off) */
static void small_learner(struct learner *L, struct train_config *cfg,
                          const struct pipetrain_config *pc) {
    struct act_vocab voc;
    struct tg_error e;

    *cfg = train_config_default();
    cfg->d_model = 16;
    cfg->heads = 2;
    cfg->layers = 2;
    cfg->ffn = 24;
    cfg->buckets = 512;
    cfg->warmup_epochs = 0;
    cfg->threads = 1;
    cfg->seed = 77;
    cfg->pipe = *pc;
    small_voc(&voc);
    CU_ASSERT_EQUAL_FATAL(learner_init(L, cfg, NULL, &voc, &e), 0);
    CU_ASSERT_EQUAL_FATAL(learner_phase_start(L, PHASE_RL, 10, &e), 0);
}

/* three trajectories of the items' decisions, advantages of both signs */
static void make_trajs(struct traj *t, struct items *it) {
    struct tg_error e;

    memset(t, 0, sizeof(*t) * 3);
    for (int i = 0; i < NDEC; i++)
        CU_ASSERT_EQUAL_FATAL(traj_record(&t[i % 3], &it->seq[i], &it->act[i], &e), 0);
    t[0].adv = 0.9;
    t[1].adv = -0.6;
    t[2].adv = 0.3;
}

TG_TEST(pipetrain, learner_steps_as_unpipelined_and_keeps_frozen_layers) {
    struct pipetrain_config off = pipetrain_config_default(), on = off;
    struct learner *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
    struct train_config ca, cb;
    struct items *it = malloc(sizeof(*it));
    struct traj t[3];
    struct tg_error e;
    float *before;
    double loss, ent, loss2, ent2;
    size_t np;

    CU_ASSERT_FATAL(a && b && it);
    on.stages = 2;
    on.kind = PIPELINE_GPIPE;
    on.microbatches = 3;
    on.freeze = PT_FREEZE_UNIFORM;
    on.r_max = 0.5; /* one of each stage's two layers */
    on.calibrate = 1;
    on.cut[0] = 2;
    small_learner(a, &ca, &off);
    small_learner(b, &cb, &on);
    np = a->pol.net.num_params;
    CU_ASSERT_FATAL(np == b->pol.net.num_params);
    CU_ASSERT(memcmp(a->pol.net.params, b->pol.net.params, sizeof(float) * np) == 0);
    make_items(it, &a->pol);
    make_trajs(t, it);
    /* the calibration update is unfrozen: the same step as the unpipelined learner */
    CU_ASSERT_EQUAL_FATAL(learner_update(a, t, 3, &loss, &ent, &e), 0);
    CU_ASSERT_EQUAL_FATAL(learner_update(b, t, 3, &loss2, &ent2, &e), 0);
    CU_ASSERT(b->pipe->rep.calibrating);
    CU_ASSERT(memcmp(a->pol.net.params, b->pol.net.params, sizeof(float) * np) == 0);
    CU_ASSERT(loss == loss2 && ent == ent2);
    /* then uniform freezing: the embeddings and the second block are frozen for every
     * micro-batch and must not move; the first block and the head learn */
    before = malloc(sizeof(float) * np);
    CU_ASSERT_FATAL(before != NULL);
    memcpy(before, b->pol.net.params, sizeof(float) * np);
    CU_ASSERT_EQUAL_FATAL(learner_update(b, t, 3, &loss2, &ent2, &e), 0);
    CU_ASSERT(!b->pipe->rep.calibrating);
    CU_ASSERT_DOUBLE_EQUAL(b->pipe->rep.ratio_applied, 0.5, 1e-12);
    CU_ASSERT(b->pipe->rep.compute_saved > 0);
    CU_ASSERT(b->pipe->rep.predicted > 0 && b->pipe->rep.predicted <= b->pipe->rep.predicted0);
    for (int l = 0; l < b->pol.net.nlayers; l++) {
        size_t off2, len;
        int same;

        net_layer_span(&b->pol.net, l, &off2, &len);
        same = memcmp(before + off2, b->pol.net.params + off2, sizeof(float) * len) == 0;
        CU_ASSERT_EQUAL(same, l == 0 || l == 2);
    }
    CU_ASSERT(b->pol.net.frozen[0] == 0 && b->pol.net.frozen[2] == 0); /* restored */
    free(before);
    for (int i = 0; i < 3; i++)
        traj_clear(&t[i]);
    free_items(it);
    learner_free(a);
    learner_free(b);
    free(a);
    free(b);
}

TG_TEST(pipetrain, uniform_ratio_is_spread_as_whole_layers_over_the_microbatches) {
    struct policy p;
    struct items *it = malloc(sizeof(*it));
    struct pipetrain_config c = pipetrain_config_default();
    struct pipetrain P;
    struct tg_error e;
    float *got;
    double loss, ent;
    int frozen_all[NET_LAYERS_MAX + 2], m = 4, nl;
    const int want[4] = {1, 2, 2, 2}; /* floor((mb + 1) 1.8) - floor(mb 1.8) */

    CU_ASSERT_FATAL(it != NULL);
    small_policy(&p, 13);
    make_items(it, &p);
    nl = p.net.nlayers;
    got = malloc(sizeof(float) * p.net.num_params);
    CU_ASSERT_FATAL(got != NULL);
    c.stages = 2;
    c.kind = PIPELINE_GPIPE;
    c.microbatches = m;
    c.cut[0] = 2;
    c.freeze = PT_FREEZE_UNIFORM;
    c.r_max = 0.9;
    c.calibrate = 1;
    CU_ASSERT_EQUAL_FATAL(pipetrain_init(&P, &c, &p.net, &e), 0);
    for (int pass = 0; pass < 2; pass++)
        CU_ASSERT_EQUAL_FATAL(pipetrain_grads(&P, &p, it->sp, it->ap, it->pg, NDEC, NULL, got,
                                              &loss, &ent, frozen_all, &e),
                              0);
    CU_ASSERT(!P.rep.calibrating);
    for (int mb = 0; mb < m; mb++)
        for (int s = 0; s < 2; s++) {
            int i = P.pl->bwd[s * m + mb];

            for (int l = 2 * s; l < 2 * s + 2; l++)
                CU_ASSERT_EQUAL(P.frz[(size_t)i * nl + l], l < 2 * s + want[mb]);
        }
    CU_ASSERT_DOUBLE_EQUAL(P.rep.ratio_planned, 0.9, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(P.rep.ratio_applied, 7.0 / 8.0, 1e-12);
    /* layer 0 and 2 are frozen for every micro-batch, 1 and 3 only for three of four */
    CU_ASSERT(frozen_all[0] && !frozen_all[1] && frozen_all[2] && !frozen_all[3]);
    pipetrain_free(&P);
    free(got);
    free_items(it);
    policy_free(&p);
}

/* run `updates` updates of learner L on t; layers_frozen[u] := what update u froze */
static void run_updates(struct learner *L, struct traj *t, int updates, int *layers_frozen) {
    struct tg_error e;
    double loss, ent;

    for (int u = 0; u < updates; u++) {
        CU_ASSERT_EQUAL_FATAL(learner_update(L, t, 3, &loss, &ent, &e), 0);
        layers_frozen[u] = L->pipe->rep.layers_frozen;
    }
}

TG_TEST(pipetrain, progressive_freezes_settled_layers_for_good_and_deterministically) {
    struct pipetrain_config on = pipetrain_config_default(), never;
    struct learner *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b)),
                   *c = calloc(1, sizeof(*c));
    struct train_config ca, cb, cc;
    struct items *it = malloc(sizeof(*it));
    struct traj t[3];
    struct tg_error e;
    float *before;
    double loss, ent;
    int fa[6], fb[6], fc[6];
    size_t np;

    CU_ASSERT_FATAL(a && b && c && it);
    on.stages = 2;
    on.kind = PIPELINE_GPIPE;
    on.microbatches = 3;
    on.freeze = PT_FREEZE_PROGRESSIVE;
    on.r_max = 0.5; /* at most 2 of the 4 layers */
    on.calibrate = 1;
    on.cut[0] = 2;
    /* the same trajectories every update: the norms move by a few percent per step, so with
     * tol 0.5 every pass after the first is calm and window 2 settles them on pass 3 */
    on.settle.ema = 0.5;
    on.settle.tol = 0.5;
    on.settle.window = 2;
    never = on;
    never.settle.tol = 1e-9; /* nothing is that calm: nothing settles, nothing freezes */
    small_learner(a, &ca, &on);
    small_learner(b, &cb, &on);
    small_learner(c, &cc, &never);
    np = a->pol.net.num_params;
    make_items(it, &a->pol);
    make_trajs(t, it);
    run_updates(a, t, 3, fa);
    run_updates(b, t, 3, fb);
    run_updates(c, t, 3, fc);
    /* passes 1..3 ran unfrozen (1 calibrating); pass 3 settled layers 0 and 1 */
    for (int u = 0; u < 3; u++)
        CU_ASSERT(fa[u] == 0 && fb[u] == 0 && fc[u] == 0);
    CU_ASSERT_EQUAL(a->pipe->prog.frozen, 2);
    CU_ASSERT_EQUAL(a->pipe->prog.frozen_at[0], 3);
    CU_ASSERT_EQUAL(a->pipe->prog.frozen_at[1], 3);
    CU_ASSERT(a->pipe->prog.calm[0] >= 2 && a->pipe->prog.calm[1] >= 2);
    CU_ASSERT_EQUAL(c->pipe->prog.frozen, 0);
    CU_ASSERT(c->pipe->prog.change[0] > 0 && c->pipe->prog.change[0] < 0.5); /* moving, a bit */
    /* from then on layers 0 and 1 (stage 0) never move; layers 2 and 3 still learn */
    before = malloc(sizeof(float) * np);
    CU_ASSERT_FATAL(before != NULL);
    memcpy(before, a->pol.net.params, sizeof(float) * np);
    run_updates(a, t, 3, fa + 3);
    run_updates(b, t, 3, fb + 3);
    run_updates(c, t, 3, fc + 3);
    for (int u = 3; u < 6; u++) {
        CU_ASSERT_EQUAL(fa[u], 2);
        CU_ASSERT_EQUAL(fc[u], 0);
    }
    CU_ASSERT_DOUBLE_EQUAL(a->pipe->rep.ratio_applied, 0.5, 1e-12); /* stage 0 whole, 1 none */
    for (int l = 0; l < a->pol.net.nlayers; l++) {
        size_t off, len;

        net_layer_span(&a->pol.net, l, &off, &len);
        CU_ASSERT_EQUAL(memcmp(before + off, a->pol.net.params + off, sizeof(float) * len) == 0,
                        l < 2);
        CU_ASSERT(memcmp(before + off, c->pol.net.params + off, sizeof(float) * len) != 0);
    }
    /* the same seed and data: the same freezing and the same weights, bit for bit */
    CU_ASSERT(memcmp(fa, fb, sizeof(fa)) == 0);
    CU_ASSERT(memcmp(a->pipe->prog.frozen_at, b->pipe->prog.frozen_at,
                     sizeof(a->pipe->prog.frozen_at)) == 0);
    CU_ASSERT(memcmp(a->pol.net.params, b->pol.net.params, sizeof(float) * np) == 0);
    CU_ASSERT(memcmp(a->pipe->prog.ema, b->pipe->prog.ema, sizeof(a->pipe->prog.ema)) == 0);
    (void)loss;
    (void)ent;
    (void)e;
    free(before);
    for (int i = 0; i < 3; i++)
        traj_clear(&t[i]);
    free_items(it);
    learner_free(a);
    learner_free(b);
    learner_free(c);
    free(a);
    free(b);
    free(c);
}

TG_TEST(pipetrain, balanced_cuts_minimise_the_slowest_stage) {
    const double cost[6] = {1, 1, 1, 1, 1, 5};
    const double flat[4] = {2, 2, 2, 2};
    int cuts[7];

    /* the head alone is the slowest stage whatever the rest; of the splits of the rest, the
     * most even (2 + 3 or 3 + 2), and of those the first */
    pipetrain_balance_cuts(cost, 6, 3, cuts);
    CU_ASSERT(cuts[0] == 0 && cuts[1] == 2 && cuts[2] == 5 && cuts[3] == 6);
    pipetrain_balance_cuts(cost, 6, 2, cuts);
    CU_ASSERT(cuts[0] == 0 && cuts[1] == 5 && cuts[2] == 6);
    pipetrain_balance_cuts(flat, 4, 2, cuts);
    CU_ASSERT(cuts[1] == 2);
    pipetrain_balance_cuts(flat, 4, 4, cuts); /* one layer each */
    CU_ASSERT(cuts[1] == 1 && cuts[2] == 2 && cuts[3] == 3 && cuts[4] == 4);
    {
        const double front[4] = {9, 1, 1, 1};

        pipetrain_balance_cuts(front, 4, 3, cuts); /* max 9 whatever; the first: [0,1) [1,2) */
        CU_ASSERT(cuts[1] == 1 && cuts[2] == 2 && cuts[3] == 4);
    }
}

TG_TEST(pipetrain, balanced_pipeline_recuts_once_and_keeps_the_gradient) {
    struct policy p;
    struct items *it = malloc(sizeof(*it));
    struct pipetrain_config c = pipetrain_config_default();
    struct pipetrain P;
    struct tg_error e;
    float *ref, *got;
    double rloss, loss, ent, worst = 0, best;
    int frozen_all[NET_LAYERS_MAX + 2], cuts[NET_LAYERS_MAX + 3], changed = 0;

    CU_ASSERT_FATAL(it != NULL);
    small_policy(&p, 14);
    make_items(it, &p);
    ref = malloc(sizeof(float) * p.net.num_params);
    got = malloc(sizeof(float) * p.net.num_params);
    CU_ASSERT_FATAL(ref && got);
    reference(&p, it, 1, NULL, ref, &rloss);
    c.stages = 3;
    c.kind = PIPELINE_1F1B;
    c.microbatches = 3;
    c.balance = 1;
    c.calibrate = 1;
    c.freeze = PT_FREEZE_PLAN;
    CU_ASSERT_EQUAL_FATAL(pipetrain_init(&P, &c, &p.net, &e), 0);
    CU_ASSERT(P.cuts[1] == 1 && P.cuts[2] == 2 && P.cuts[3] == 4); /* even: 4 * s / 3 */
    for (int pass = 0; pass < 4; pass++) {
        CU_ASSERT_EQUAL_FATAL(pipetrain_grads(&P, &p, it->sp, it->ap, it->pg, NDEC, NULL, got,
                                              &loss, &ent, frozen_all, &e),
                              0);
        CU_ASSERT_EQUAL(P.rep.rebalanced, pass == 0);
        if (pass == 0) /* the layers were timed: the cuts are the balanced ones for them */
            for (int l = 0; l < 4; l++)
                CU_ASSERT(P.layer_ms[l] > 0);
        if (pass == 0)
            CU_ASSERT(P.rep.calibrating);
        if (P.rep.calibrating) /* unfrozen, on whatever cuts: the unpipelined gradient */
            CU_ASSERT(memcmp(ref, got, sizeof(float) * p.net.num_params) == 0);
        if (pass == 0)
            changed = P.cuts[1] != 1 || P.cuts[2] != 2;
        if (pass == 1) /* a re-cut pipeline calibrates again */
            CU_ASSERT_EQUAL(P.rep.calibrating, changed);
    }
    CU_ASSERT(P.balanced);
    pipetrain_balance_cuts(P.layer_ms, 4, 3, cuts);
    CU_ASSERT(memcmp(cuts, P.cuts, sizeof(int) * 4) == 0);
    /* no cut has a slower slowest stage than the chosen one */
    for (int s = 0; s < 3; s++) {
        double t = 0;

        for (int l = P.cuts[s]; l < P.cuts[s + 1]; l++)
            t += P.layer_ms[l];
        worst = t > worst ? t : worst;
    }
    best = worst;
    for (int a = 1; a <= 2; a++)
        for (int b = a + 1; b <= 3; b++) {
            double t0 = 0, t1 = 0, t2 = 0, w;

            for (int l = 0; l < 4; l++)
                *(l < a ? &t0 : l < b ? &t1 : &t2) += P.layer_ms[l];
            w = fmax(t0, fmax(t1, t2));
            CU_ASSERT(w >= best);
        }
    CU_ASSERT(!P.rep.calibrating); /* calibrated again on the new cuts, then planned */
    pipetrain_free(&P);
    free(ref);
    free(got);
    free_items(it);
    policy_free(&p);
}

TG_TEST(pipetrain, bad_settings_are_named) {
    struct pipetrain_config c = pipetrain_config_default();
    enum pipetrain_freeze f;
    struct tg_error e;

    c.stages = 5; /* two blocks: 4 layers, at most 4 stages */
    CU_ASSERT_EQUAL(pipetrain_config_check(&c, 2, &e), TG_EINVAL);
    CU_ASSERT(strstr(e.message, "2 to 4 stages") != NULL);
    c.stages = 1;
    CU_ASSERT_EQUAL(pipetrain_config_check(&c, 2, &e), TG_EINVAL);
    c.stages = 4;
    c.microbatches = 3;
    CU_ASSERT_EQUAL(pipetrain_config_check(&c, 2, &e), TG_EINVAL);
    CU_ASSERT(strstr(e.message, "as stages (4)") != NULL);
    c.microbatches = 4;
    CU_ASSERT_EQUAL(pipetrain_config_check(&c, 2, &e), 0);
    c.stages = 3;
    c.cut[0] = 2; /* one cut for three stages */
    CU_ASSERT_EQUAL(pipetrain_config_check(&c, 2, &e), TG_EINVAL);
    CU_ASSERT(strstr(e.message, "give 2") != NULL);
    c.cut[1] = 2; /* not increasing */
    CU_ASSERT_EQUAL(pipetrain_config_check(&c, 2, &e), TG_EINVAL);
    CU_ASSERT(strstr(e.message, "out of order") != NULL);
    c.cut[1] = 3;
    CU_ASSERT_EQUAL(pipetrain_config_check(&c, 2, &e), 0);
    c.balance = 1;
    CU_ASSERT_EQUAL(pipetrain_config_check(&c, 2, &e), TG_EINVAL);
    CU_ASSERT(strstr(e.message, "not both") != NULL);
    c.balance = 0;
    c.cut[1] = 0;
    c.stages = 2;
    c.microbatches = 1;
    CU_ASSERT_EQUAL(pipetrain_config_check(&c, 2, &e), TG_EINVAL);
    CU_ASSERT(strstr(e.message, "1f1b") != NULL);
    c.microbatches = 4;
    c.cut[0] = 4;
    CU_ASSERT_EQUAL(pipetrain_config_check(&c, 2, &e), TG_EINVAL);
    CU_ASSERT(strstr(e.message, "cut") != NULL);
    c.cut[0] = 3;
    CU_ASSERT_EQUAL(pipetrain_config_check(&c, 2, &e), 0);
    CU_ASSERT_EQUAL(pipetrain_freeze_parse("plan", &f, &e), 0);
    CU_ASSERT_EQUAL(f, PT_FREEZE_PLAN);
    CU_ASSERT_EQUAL(pipetrain_freeze_parse("half", &f, &e), TG_EINVAL);
    CU_ASSERT(strstr(e.message, "none|uniform|plan") != NULL);
}
