/*
 * policy.c — candidate scoring with the MLP and the policy acting in rollouts. See policy.h.
 */
#include "policy/policy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "policy/traj.h"

void policy_free(struct policy *p) {
    if (!p)
        return;
    mlp_free(&p->m);
    mlp_workspace_free(&p->ws);
    free(p->cl);
    free(p->X);
    memset(p, 0, sizeof(*p));
}

int policy_scratch(struct policy *p, struct tg_error *err) {
    int rc = mlp_workspace_init(&p->ws, &p->m.cfg, TG_CAND_MAX, err);

    if (rc)
        return rc;
    p->cl = malloc(sizeof(*p->cl));
    p->X = malloc(sizeof(float) * TG_CAND_MAX * FEAT_DIM);
    if (!p->cl || !p->X) {
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
        return TG_ENOMEM;
    }
    return 0;
}

/*
 * The softmax has a fixed base measure: p_i ~ exp(score_i) / (candidates of i's kind), so that
 * each kind (search, calculator, run_code, answer) starts with equal mass however many argument
 * variants it has. A constant offset leaves d(log p)/d(score) unchanged.
 */
static void base_measure(const struct cand_list *l, float *off) {
    int nk[CAND_KINDS] = {0};

    for (int i = 0; i < l->n; i++)
        nk[l->c[i].kind]++;
    for (int i = 0; i < l->n; i++)
        off[i] = -logf((float)nk[l->c[i].kind]);
}

int policy_score(struct policy *p, const struct cand_state *s, struct tg_error *err) {
    int rc;

    cand_generate(s, p->cl);
    if (p->cl->n == 0) {
        tg_error_set(err, "no_candidates", "no candidate action for a state");
        return TG_EINTERNAL;
    }
    feat_compute_all(s, p->cl, p->X);
    rc = mlp_forward(&p->m, &p->ws, p->X, p->cl->n, p->scores, err);
    if (rc)
        return rc;
    base_measure(p->cl, p->off);
    for (int i = 0; i < p->cl->n; i++)
        p->scores[i] += p->off[i];
    mlp_softmax(p->scores, p->cl->n, p->probs);
    return p->cl->n;
}

int policy_best(const struct policy *p, int n) {
    int k = 0;

    for (int i = 1; i < n; i++)
        if (p->scores[i] > p->scores[k])
            k = i;
    return k;
}

int policy_act(void *ctx, struct rollout_ep *ep, const struct cand_state *s, int observe,
               struct cand *out, struct tg_error *err) {
    struct policy_actor *a = ctx;
    struct policy *p = a->pol;
    struct traj *t = ep->user;
    int n = policy_score(p, s, err), k;

    if (n < 0)
        return n;
    if (observe) {
        if (t && t->nent < TG_CAND_STEPS_MAX + 1)
            t->ent[t->nent++] = mlp_entropy(p->scores, n);
        *out = p->cl->c[0];
        return 0;
    }
    a->steps++;
    if (a->mode == POLICY_GREEDY) {
        k = policy_best(p, n);
    } else {
        k = rng_categorical(a->rng, p->probs, n);
        if (k < 0)
            k = 0;
    }
    *out = p->cl->c[k];
    if (a->record && t)
        return traj_record(t, p->X, p->off, n, k, mlp_log_prob(p->scores, n, k), err);
    return 0;
}
