/*
 * learner.c — the learner's state, the warm-up and RL updates, and their gradient threads.
 * See learner.h.
 */
#include "policy/learner.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "policy/ckpt.h"
#include "policy/lexicon.h"

/* ---- state -------------------------------------------------------------------------------- */

static struct net_config net_config_of(const struct train_config *c, const struct act_vocab *v) {
    struct net_config n;

    n.d = c->d_model;
    n.heads = c->heads;
    n.layers = c->layers;
    n.ffn = c->ffn;
    n.buckets = c->buckets;
    n.nsym = act_nsym(v);
    return n;
}

static int scratch_init(struct learner *L, struct tg_error *err) {
    L->grads = calloc(L->pol.net.num_params, sizeof(float));
    if (!L->grads) {
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
        return TG_ENOMEM;
    }
    for (int i = 0; i < L->nthreads; i++) {
        int rc = policy_scratch_init(&L->sc[i], &L->pol, err);

        if (rc)
            return rc;
        L->view[i] = malloc(sizeof(*L->view[i]));
        L->tgt[i] = malloc(sizeof(*L->tgt[i]));
        if (!L->view[i] || !L->tgt[i]) {
            tg_error_set(err, TG_CODE_NOMEM, "out of memory");
            return TG_ENOMEM;
        }
    }
    return 0;
}

int learner_lexicon(const struct train_config *cfg, const struct lexicon **out,
                    struct tg_error *err) {
    struct tg_error why;

    *out = NULL;
    if (strcmp(cfg->lexicon, "wordnet") != 0)
        return 0;
    *out = lexicon_default(&why);
    if (*out)
        return 0;
    tg_error_set(err, TG_CODE_CONFIG,
                 "lexicon wordnet: %s Install Debian's wordnet-base, set TOOLGYM_WORDNET to "
                 "WordNet 3.0's dict folder, or set \"lexicon\": \"none\".",
                 why.message);
    return TG_EINVAL;
}

int learner_init(struct learner *L, const struct train_config *c, const char *resume,
                 const struct act_vocab *voc, struct tg_error *err) {
    struct adam_config ac = adam_config_default();
    int rc;

    memset(L, 0, sizeof(*L));
    L->cfg = c;
    L->rm = strcmp(c->reward_mode, "otc") == 0    ? LR_OTC
            : strcmp(c->reward_mode, "torl") == 0 ? LR_TORL
                                                  : LR_JUDGE;
    L->nthreads = c->threads < 1                     ? 1
                  : c->threads > LEARNER_THREADS_MAX ? LEARNER_THREADS_MAX
                                                     : c->threads;
    ac.weight_decay = (float)c->weight_decay;
    rng_seed(&L->rng, c->seed);
    if (resume) {
        struct ckpt_progress pg;

        rc = ckpt_load(resume, &L->pol, &L->opt, &L->sch, &L->rng, &pg, err);
        if (rc)
            return rc;
        L->phase = pg.phase;
        L->warmup_done = pg.warmup_done;
        L->rl_done = pg.rl_done;
    } else {
        struct net_config nc;

        if (!voc) {
            tg_error_set(err, TG_CODE_CONFIG, "a fresh policy needs its output symbols");
            return TG_EINVAL;
        }
        L->pol.voc = *voc;
        rc = learner_lexicon(c, &L->pol.lex, err);
        if (rc)
            return rc;
        nc = net_config_of(c, voc);
        rc = net_init(&L->pol.net, &nc, err);
        if (rc)
            return rc;
        net_init_weights(&L->pol.net, &L->rng);
        rc = adam_init(&L->opt, &ac, L->pol.net.num_params, err);
        if (rc)
            return rc;
        rc = learner_phase_start(L, c->warmup_epochs > 0 ? PHASE_WARMUP : PHASE_RL, 1, err);
        if (rc)
            return rc;
    }
    rc = scratch_init(L, err);
    if (rc == 0 && c->pipe.stages > 0) {
        L->pipe = calloc(1, sizeof(*L->pipe));
        if (!L->pipe) {
            tg_error_set(err, TG_CODE_NOMEM, "out of memory");
            return TG_ENOMEM;
        }
        rc = pipetrain_init(L->pipe, &c->pipe, &L->pol.net, err);
    }
    return rc;
}

int learner_connect(struct learner *L, const char *servers, struct tg_error *err) {
    struct rollout_config rc = rollout_config_default();

    rc.servers = servers;
    rc.inflight = L->cfg->inflight;
    L->ro = rollout_new(&rc, err);
    return L->ro ? 0 : TG_EINVAL;
}

void learner_free(struct learner *L) {
    for (int i = 0; i < LEARNER_THREADS_MAX; i++) {
        policy_scratch_free(&L->sc[i]);
        free(L->view[i]);
        free(L->tgt[i]);
    }
    policy_free(&L->pol);
    adam_free(&L->opt);
    free(L->grads);
    free(L->avg);
    rollout_free(L->ro);
    if (L->pipe)
        pipetrain_free(L->pipe);
    free(L->pipe);
    memset(L, 0, sizeof(*L));
}

int learner_phase_start(struct learner *L, int phase, long steps, struct tg_error *err) {
    struct sched_config sc = train_config_sched_phase(L->cfg, phase == PHASE_WARMUP, steps);

    L->phase = phase;
    return sched_init(&L->sch, &sc, err);
}

/* ---- gradients over items, in threads ----------------------------------------------------- */

/* the loss of item i on scratch sc, its gradient added to sc's block; *aux: a statistic */
typedef float (*item_fn)(struct learner *L, int th, int i, void *ctx, double *aux);

struct share {
    struct learner *L;
    int th, lo, hi;
    item_fn fn;
    void *ctx;
    double loss, aux;
};

static void *share_run(void *arg) {
    struct share *s = arg;

    net_ws_zero_grad(&s->L->sc[s->th].ws, &s->L->pol.net);
    s->loss = s->aux = 0;
    for (int i = s->lo; i < s->hi; i++) {
        double aux = 0;

        s->loss += s->fn(s->L, s->th, i, s->ctx, &aux);
        s->aux += aux;
    }
    return NULL;
}

/* items [0, n) over the threads (thread k takes a fixed contiguous share), the gradients
 * summed into L->grads and the losses and statistics summed, in thread order */
static int grads_over(struct learner *L, int n, item_fn fn, void *ctx, double *loss, double *aux,
                      struct tg_error *err) {
    struct share sh[LEARNER_THREADS_MAX];
    pthread_t tid[LEARNER_THREADS_MAX];
    int started[LEARNER_THREADS_MAX] = {0};
    int nt = L->nthreads < n ? L->nthreads : n;
    size_t np = L->pol.net.num_params;

    if (nt < 1)
        nt = 1;
    for (int k = 0; k < nt; k++) {
        sh[k] = (struct share){
            L, k, (int)((long)n * k / nt), (int)((long)n * (k + 1) / nt), fn, ctx, 0, 0};
        if (k > 0 && pthread_create(&tid[k], NULL, share_run, &sh[k]) == 0)
            started[k] = 1;
    }
    share_run(&sh[0]);
    for (int k = 1; k < nt; k++) {
        if (started[k])
            pthread_join(tid[k], NULL);
        else
            share_run(&sh[k]); /* no thread: do its share here, the result is the same */
    }
    memcpy(L->grads, L->sc[0].ws.grads, sizeof(float) * np);
    *loss = sh[0].loss;
    *aux = sh[0].aux;
    for (int k = 1; k < nt; k++) {
        const float *g = L->sc[k].ws.grads;

        for (size_t i = 0; i < np; i++)
            L->grads[i] += g[i];
        *loss += sh[k].loss;
        *aux += sh[k].aux;
    }
    (void)err;
    return 0;
}

/* global-norm clip, then AdamW over every layer that is not frozen */
static void optimizer_step(struct learner *L) {
    struct net *n = &L->pol.net;

    adam_clip_grad_norm(L->grads, n->num_params, (float)L->cfg->grad_clip);
    adam_begin_step(&L->opt);
    for (int l = 0; l < n->nlayers; l++) {
        size_t off, len;

        if (n->frozen[l])
            continue;
        net_layer_span(n, l, &off, &len);
        adam_update_span(&L->opt, n->params, L->grads, (float)L->sch.lr, off, len);
    }
}

/* the optimizer step with the layers in frozen_all (nlayers) frozen too */
static void optimizer_step_frozen(struct learner *L, const int *frozen_all) {
    struct net *n = &L->pol.net;
    int keep[NET_LAYERS_MAX + 2];

    for (int l = 0; l < n->nlayers; l++) {
        keep[l] = n->frozen[l];
        n->frozen[l] = keep[l] || frozen_all[l];
    }
    optimizer_step(L);
    for (int l = 0; l < n->nlayers; l++)
        n->frozen[l] = keep[l];
}

/* ---- warm-up ------------------------------------------------------------------------------ */

struct warm_ctx {
    const struct demo_set *d;
    const int *idx;
    float scale;
    uint64_t key; /* the step's piece-dropout key */
};

static float warm_item(struct learner *L, int th, int i, void *vctx, double *aux) {
    struct warm_ctx *c = vctx;
    struct policy_scratch *sc = &L->sc[th];
    struct tg_error ignored; /* demo_index kept only the decisions it can write */
    int hit = 0;
    float loss;

    demo_view(c->d, c->idx[i], L->view[th]);
    seq_build_dropout(&sc->seq, L->view[th], &L->pol.voc, (uint32_t)L->pol.net.cfg.buckets,
                      L->pol.lex, L->cfg->piece_dropout,
                      rng_mix64(c->key ^ (0x94D049BB133111EBULL * (uint64_t)(i + 1))));
    if (demo_target(c->d, c->idx[i], &L->pol.voc, &sc->seq, L->tgt[th], &ignored))
        return 0;
    loss = policy_sft_backward(&L->pol, sc, &sc->seq, L->tgt[th], c->scale, 1, &hit);
    *aux = hit;
    return loss;
}

/* after warm-up step L->warmup_done (counting from 0) of warmup_total: fold the weights into
 * the tail average when the step is among the last cfg->warmup_average of them */
static int average_step(struct learner *L, struct tg_error *err) {
    const float *p = L->pol.net.params;
    size_t np = L->pol.net.num_params;
    long tail = (long)ceil(L->cfg->warmup_average * (double)L->warmup_total);

    if (tail <= 0 || L->warmup_done < L->warmup_total - tail)
        return 0;
    if (!L->avg) {
        L->avg = malloc(sizeof(float) * np);
        if (!L->avg) {
            tg_error_set(err, TG_CODE_NOMEM, "out of memory");
            return TG_ENOMEM;
        }
    }
    L->avg_n++;
    if (L->avg_n == 1) {
        memcpy(L->avg, p, sizeof(float) * np);
    } else {
        float w = 1.0f / (float)L->avg_n; /* a running mean */

        for (size_t i = 0; i < np; i++)
            L->avg[i] += w * (p[i] - L->avg[i]);
    }
    return 0;
}

int learner_warmup_step(struct learner *L, const struct demo_set *d, const int *idx, int n,
                        double *loss, double *hit, struct tg_error *err) {
    /* the dropout of item i depends on the seed, the step and i alone (not the thread) */
    struct warm_ctx c = {d, idx, n > 0 ? 1.0f / (float)n : 0,
                         rng_mix64(L->cfg->seed ^ 0x7069656365ULL ^
                                   (0x9E3779B97F4A7C15ULL * (uint64_t)(L->warmup_done + 1)))};
    int rc;

    *loss = *hit = 0;
    if (n <= 0)
        return 0;
    rc = grads_over(L, n, warm_item, &c, loss, hit, err);
    if (rc)
        return rc;
    *loss /= n;
    *hit /= n;
    optimizer_step(L);
    return average_step(L, err);
}

void learner_warmup_finish(struct learner *L) {
    if (L->avg && L->avg_n > 0)
        memcpy(L->pol.net.params, L->avg, sizeof(float) * L->pol.net.num_params);
    L->avg_n = 0;
}

/* ---- RL ----------------------------------------------------------------------------------- */

struct rl_ctx {
    struct traj *t;
    int *ti, *di; /* item -> trajectory, decision */
    float scale;
};

static float rl_item(struct learner *L, int th, int i, void *vctx, double *aux) {
    struct rl_ctx *c = vctx;
    const struct traj *t = &c->t[c->ti[i]];
    const struct decision *d = &t->dec[c->di[i]];
    const struct train_config *cfg = L->cfg;
    struct policy_pg pg;
    float ent = 0, loss;

    pg.advantage = (float)t->adv;
    pg.entropy_coef = (float)cfg->entropy_coef;
    pg.clip = cfg->ppo_epochs > 1;
    pg.old_logp = d->act.logp;
    pg.clip_eps = (float)cfg->clip_eps;
    pg.scale = c->scale;
    loss = policy_pg_backward(&L->pol, &L->sc[th], &d->seq, &d->act, &pg, NULL, &ent);
    *aux = ent;
    return loss / c->scale;
}

/* the RL update's epochs through the pipeline (pipetrain.h) */
static int pipe_update(struct learner *L, struct rl_ctx *c, int n, double *loss, double *ent,
                       struct tg_error *err) {
    const struct seq **seq = malloc(sizeof(*seq) * (size_t)n);
    const struct policy_action **act = malloc(sizeof(*act) * (size_t)n);
    struct policy_pg *pg = malloc(sizeof(*pg) * (size_t)n);
    const struct train_config *cfg = L->cfg;
    int frozen_all[NET_LAYERS_MAX + 2], rc = 0;

    if (!seq || !act || !pg) {
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
        rc = TG_ENOMEM;
    }
    for (int i = 0; i < n && rc == 0; i++) {
        const struct traj *t = &c->t[c->ti[i]];
        const struct decision *d = &t->dec[c->di[i]];

        seq[i] = &d->seq;
        act[i] = &d->act;
        pg[i].advantage = (float)t->adv;
        pg[i].entropy_coef = (float)cfg->entropy_coef;
        pg[i].clip = cfg->ppo_epochs > 1;
        pg[i].old_logp = d->act.logp;
        pg[i].clip_eps = (float)cfg->clip_eps;
        pg[i].scale = c->scale;
    }
    for (int epoch = 0; epoch < cfg->ppo_epochs && rc == 0; epoch++) {
        rc = pipetrain_grads(L->pipe, &L->pol, seq, act, pg, n, NULL, L->grads, loss, ent,
                             frozen_all, err);
        if (rc == 0)
            optimizer_step_frozen(L, frozen_all);
    }
    free(seq);
    free(act);
    free(pg);
    return rc;
}

int learner_update(struct learner *L, struct traj *t, int nt, double *loss_out, double *ent_out,
                   struct tg_error *err) {
    struct rl_ctx c;
    long ndec = 0;
    double loss = 0, ent = 0;
    int k = 0, rc = 0;

    *loss_out = *ent_out = 0;
    for (int i = 0; i < nt; i++)
        ndec += t[i].ndec;
    if (ndec == 0)
        return 0;
    c.t = t;
    c.ti = malloc(sizeof(int) * (size_t)ndec);
    c.di = malloc(sizeof(int) * (size_t)ndec);
    c.scale = 1.0f / (float)ndec;
    if (!c.ti || !c.di) {
        free(c.ti);
        free(c.di);
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
        return TG_ENOMEM;
    }
    for (int i = 0; i < nt; i++)
        for (int j = 0; j < t[i].ndec; j++, k++) {
            c.ti[k] = i;
            c.di[k] = j;
        }
    if (L->pipe)
        rc = pipe_update(L, &c, (int)ndec, &loss, &ent, err);
    for (int epoch = 0; !L->pipe && epoch < L->cfg->ppo_epochs && rc == 0; epoch++) {
        rc = grads_over(L, (int)ndec, rl_item, &c, &loss, &ent, err);
        if (rc == 0)
            optimizer_step(L);
    }
    free(c.ti);
    free(c.di);
    *loss_out = loss / (double)ndec;
    *ent_out = ent / (double)ndec;
    return rc;
}
