/*
 * learner.c — the learner's state and the policy-gradient update. See learner.h.
 */
#include "policy/learner.h"

#include <stdlib.h>
#include <string.h>

#include "policy/ckpt.h"
#include "policy/features.h"

static struct mlp_config net_config(const struct train_config *c) {
    struct mlp_config m;

    m.in_dim = FEAT_DIM;
    m.hidden1 = c->hidden1;
    m.hidden2 = c->hidden2;
    return m;
}

int learner_init(struct learner *L, const struct train_config *c, const char *resume,
                 struct tg_error *err) {
    struct mlp_config mc = net_config(c);
    struct adam_config ac = adam_config_default();
    struct sched_config sc;
    int rc;

    memset(L, 0, sizeof(*L));
    L->cfg = c;
    L->rm = strcmp(c->reward_mode, "otc") == 0    ? LR_OTC
            : strcmp(c->reward_mode, "torl") == 0 ? LR_TORL
                                                  : LR_JUDGE;
    ac.weight_decay = (float)c->weight_decay;
    sc = train_config_sched(c);
    rng_seed(&L->rng, c->seed);
    if (resume) {
        rc = ckpt_load(resume, &mc, &L->pol.m, &L->opt, &L->sch, &L->rng, err);
        if (rc)
            return rc;
    } else {
        rc = mlp_init(&L->pol.m, &mc, err);
        if (rc)
            return rc;
        mlp_init_weights(&L->pol.m, &L->rng);
        rc = adam_init(&L->opt, &ac, L->pol.m.num_params, err);
        if (rc)
            return rc;
        rc = sched_init(&L->sch, &sc, err);
        if (rc)
            return rc;
    }
    L->dscores = malloc(sizeof(float) * TG_CAND_MAX);
    if (!L->dscores) {
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
        return TG_ENOMEM;
    }
    return policy_scratch(&L->pol, err);
}

int learner_connect(struct learner *L, const char *servers, struct tg_error *err) {
    struct rollout_config rc = rollout_config_default();

    rc.servers = servers;
    rc.inflight = L->cfg->inflight;
    L->ro = rollout_new(&rc, err);
    return L->ro ? 0 : TG_EINVAL;
}

void learner_free(struct learner *L) {
    policy_free(&L->pol);
    adam_free(&L->opt);
    free(L->dscores);
    rollout_free(L->ro);
    memset(L, 0, sizeof(*L));
}

/* forward, loss and backward of one decision d with advantage adv; the gradient of the
 * scores is divided by ndec (the loss is a mean over decisions) */
static int decision_backward(struct learner *L, const struct decision *d, double adv, long ndec,
                             struct mlp_pg_out *o, struct tg_error *err) {
    const struct train_config *c = L->cfg;
    struct mlp_pg_args a;
    int rc;

    rc = mlp_forward(&L->pol.m, &L->pol.ws, d->X, d->n, L->pol.scores, err);
    if (rc)
        return rc;
    for (int j = 0; j < d->n; j++)
        L->pol.scores[j] += d->X[(size_t)d->n * FEAT_DIM + j];
    memset(&a, 0, sizeof(a));
    a.action = d->action;
    a.advantage = (float)adv;
    a.entropy_coef = (float)c->entropy_coef;
    a.clip = c->ppo_epochs > 1;
    a.old_logp = d->logp;
    a.clip_eps = (float)c->clip_eps;
    rc = mlp_pg_loss(L->pol.scores, d->n, &a, L->dscores, o, err);
    if (rc)
        return rc;
    for (int j = 0; j < d->n; j++)
        L->dscores[j] /= (float)ndec;
    mlp_backward(&L->pol.m, &L->pol.ws, L->dscores);
    return 0;
}

/* global-norm clip, then AdamW over every layer that is not frozen */
static void optimizer_step(struct learner *L) {
    adam_clip_grad_norm(L->pol.m.grads_memory, L->pol.m.num_params, (float)L->cfg->grad_clip);
    adam_begin_step(&L->opt);
    for (int l = 0; l < MLP_NUM_LAYERS; l++) {
        size_t off, len;

        if (L->pol.m.frozen[l])
            continue;
        mlp_layer_span(&L->pol.m.cfg, l, &off, &len);
        adam_update_span(&L->opt, L->pol.m.params_memory, L->pol.m.grads_memory, (float)L->sch.lr,
                         off, len);
    }
}

int learner_update(struct learner *L, struct traj *t, int nt, double *loss_out, double *ent_out,
                   struct tg_error *err) {
    long ndec = 0;
    double loss = 0, ent = 0;

    for (int i = 0; i < nt; i++)
        ndec += t[i].ndec;
    *loss_out = 0;
    *ent_out = 0;
    if (ndec == 0)
        return 0;
    for (int epoch = 0; epoch < L->cfg->ppo_epochs; epoch++) {
        mlp_zero_grad(&L->pol.m);
        loss = ent = 0;
        for (int i = 0; i < nt; i++) {
            for (int k = 0; k < t[i].ndec; k++) {
                struct mlp_pg_out o;
                int rc = decision_backward(L, &t[i].dec[k], t[i].adv, ndec, &o, err);

                if (rc)
                    return rc;
                loss += o.loss;
                ent += o.entropy;
            }
        }
        optimizer_step(L);
    }
    *loss_out = loss / (double)ndec;
    *ent_out = ent / (double)ndec;
    return 0;
}
