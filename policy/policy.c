/*
 * policy.c — deciding actions and the gradients of the policy's losses. See policy.h.
 */
#include "policy/policy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "policy/traj.h"

int policy_scratch_init(struct policy_scratch *sc, const struct policy *p, struct tg_error *err) {
    int rc;

    memset(sc, 0, sizeof(*sc));
    rc = net_ws_init(&sc->ws, &p->net, err);
    if (rc == 0)
        rc = seq_alloc(&sc->seq, 0, 0, 0, err);
    if (rc == 0) {
        sc->dlogits =
            calloc((size_t)TG_ACT_OUT_MAX * (size_t)(p->net.cfg.nsym + TG_SEQ_MAX), sizeof(float));
        if (!sc->dlogits) {
            tg_error_set(err, TG_CODE_NOMEM, "out of memory");
            rc = TG_ENOMEM;
        }
    }
    if (rc)
        policy_scratch_free(sc);
    return rc;
}

void policy_scratch_free(struct policy_scratch *sc) {
    if (!sc)
        return;
    net_ws_free(&sc->ws);
    seq_free(&sc->seq);
    free(sc->dlogits);
    memset(sc, 0, sizeof(*sc));
}

void policy_free(struct policy *p) {
    if (!p)
        return;
    net_free(&p->net);
    memset(p, 0, sizeof(*p));
}

/* entropy (nats) of a masked distribution of W outputs */
static float entropy_of(const float *dist, int W) {
    float h = 0;

    for (int k = 0; k < W; k++)
        if (dist[k] > 0)
            h -= dist[k] * logf(dist[k]);
    return h;
}

static int argmax_allowed(const float *dist, int W) {
    int best = -1;

    for (int k = 0; k < W; k++)
        if (dist[k] > 0 && (best < 0 || dist[k] > dist[best]))
            best = k;
    return best < 0 ? 0 : best;
}

/* the grammar's allowed outputs for the next step into sc->sym / sc->ptr */
static int allowed(const struct policy *p, struct policy_scratch *sc, const struct act_gram *g,
                   const struct seq *s) {
    return act_gram_allowed(g, &p->voc, s, sc->sym, sc->ptr);
}

void policy_decide(const struct policy *p, struct policy_scratch *sc, const struct seq *s, int mode,
                   struct rng *rng, struct policy_action *a) {
    int W = p->net.cfg.nsym + s->T;
    struct act_gram g;

    memset(a, 0, sizeof(*a));
    net_encode(&p->net, &sc->ws, s);
    act_gram_init(&g);
    while (!g.done && a->n < TG_ACT_OUT_MAX) {
        const float *dist;
        int o;

        if (allowed(p, sc, &g, s) == 0)
            break;
        net_dec_step(&p->net, &sc->ws, sc->sym, sc->ptr, &dist);
        if (mode == POLICY_GREEDY) {
            o = argmax_allowed(dist, W);
        } else {
            o = rng_categorical(rng, dist, W);
            if (o < 0)
                o = argmax_allowed(dist, W);
        }
        a->logp += logf(dist[o] > 1e-30f ? dist[o] : 1e-30f);
        a->entropy += entropy_of(dist, W);
        a->out[a->n++] = o;
        net_dec_take(&p->net, &sc->ws, o);
        act_gram_push(&g, &p->voc, o);
    }
}

float policy_pg_dlogits(const struct policy *p, struct policy_scratch *sc, const struct seq *s,
                        const struct policy_action *a, const struct policy_pg *pg, float *logp_out,
                        float *ent_out) {
    int W = p->net.cfg.nsym + s->T;
    float logp = 0, ent = 0, coef, loss;
    struct act_gram g;

    /* forward along the recorded outputs; keep the distributions in sc->dlogits for now */
    act_gram_init(&g);
    for (int k = 0; k < a->n; k++) {
        const float *dist;

        allowed(p, sc, &g, s);
        net_dec_step(&p->net, &sc->ws, sc->sym, sc->ptr, &dist);
        memcpy(sc->dlogits + (size_t)k * W, dist, sizeof(float) * (size_t)W);
        logp += logf(dist[a->out[k]] > 1e-30f ? dist[a->out[k]] : 1e-30f);
        ent += entropy_of(dist, W);
        net_dec_take(&p->net, &sc->ws, a->out[k]);
        act_gram_push(&g, &p->voc, a->out[k]);
    }
    /* d(-coef log p)/dlogit_j = -coef (1[j = a] - p_j); d(-beta H)/dlogit_j = beta p_j (log p_j +
     * H) */
    coef = pg->advantage;
    loss = -pg->advantage * logp;
    if (pg->clip) {
        float r = expf(logp - pg->old_logp), lo = 1 - pg->clip_eps, hi = 1 + pg->clip_eps;
        float rc = r < lo ? lo : r > hi ? hi : r;

        if (r * pg->advantage <= rc * pg->advantage) {
            loss = -r * pg->advantage;
            coef = pg->advantage * r;
        } else {
            loss = -rc * pg->advantage;
            coef = 0; /* the clipped term is active: no policy gradient */
        }
    }
    loss -= pg->entropy_coef * ent;
    for (int k = 0; k < a->n; k++) {
        float *row = sc->dlogits + (size_t)k * W, h = 0;

        for (int j = 0; j < W; j++)
            if (row[j] > 0)
                h -= row[j] * logf(row[j]);
        for (int j = 0; j < W; j++) {
            float pj = row[j], d = 0;

            if (pj <= 0) {
                row[j] = 0;
                continue;
            }
            d = coef * pj + pg->entropy_coef * pj * (logf(pj) + h);
            if (j == a->out[k])
                d -= coef;
            row[j] = d * pg->scale;
        }
    }
    if (logp_out)
        *logp_out = logp;
    if (ent_out)
        *ent_out = ent;
    return loss * pg->scale;
}

float policy_pg_backward(const struct policy *p, struct policy_scratch *sc, const struct seq *s,
                         const struct policy_action *a, const struct policy_pg *pg, float *logp_out,
                         float *ent_out) {
    float loss;

    net_encode(&p->net, &sc->ws, s);
    loss = policy_pg_dlogits(p, sc, s, a, pg, logp_out, ent_out);
    net_backward(&p->net, &sc->ws, sc->dlogits);
    return loss;
}

/* run the decoder along target t teacher-forced (at each step the most probable output of the
 * step's set); returns log P(t); with dl (W per step), writes dL/dlogits of -weight log P(t);
 * *exact = 1 when every step's greedy choice was in its set */
static float teacher_forced(const struct policy *p, struct policy_scratch *sc, const struct seq *s,
                            const struct act_target *t, float *dl, float weight, int *exact) {
    int W = p->net.cfg.nsym + s->T;
    float logP = 0;
    struct act_gram g;

    net_dec_restart(&sc->ws);
    act_gram_init(&g);
    *exact = 1;
    for (int k = 0; k < t->n; k++) {
        const float *dist;
        float ps = 0;
        int best = t->set[k][0], am;

        allowed(p, sc, &g, s);
        net_dec_step(&p->net, &sc->ws, sc->sym, sc->ptr, &dist);
        for (int j = 0; j < t->nset[k]; j++) {
            int o = t->set[k][j];

            ps += dist[o];
            if (dist[o] > dist[best])
                best = o;
        }
        am = argmax_allowed(dist, W);
        if (dist[am] > dist[best])
            *exact = 0;
        logP += logf(ps > 1e-30f ? ps : 1e-30f);
        if (dl) {
            float *row = dl + (size_t)k * W;

            /* d(-log sum_S p)/dlogit_j = p_j - [j in S] p_j / p_S */
            for (int j = 0; j < W; j++)
                row[j] = weight * dist[j];
            for (int j = 0; j < t->nset[k]; j++) {
                int o = t->set[k][j];

                row[o] -= weight * dist[o] / (ps > 1e-30f ? ps : 1e-30f);
            }
        }
        net_dec_take(&p->net, &sc->ws, best);
        act_gram_push(&g, &p->voc, best);
    }
    return logP;
}

float policy_sft_backward(const struct policy *p, struct policy_scratch *sc, const struct seq *s,
                          const struct act_targets *t, float scale, int grad, int *hit) {
    float logP[ACT_ALT_MAX], mx = -INFINITY, sum = 0, loss;
    int exact, any = 0;

    if (t->nalt < 1) /* act.c never builds an empty target set; nothing to learn from one */
        return 0.0f;
    net_encode(&p->net, &sc->ws, s);
    for (int k = 0; k < t->nalt; k++) {
        logP[k] = teacher_forced(p, sc, s, &t->alt[k], NULL, 0, &exact);
        any |= exact;
        if (logP[k] > mx)
            mx = logP[k];
    }
    for (int k = 0; k < t->nalt; k++)
        sum += expf(logP[k] - mx);
    loss = -(mx + logf(sum));
    if (hit)
        *hit = any;
    if (!grad)
        return loss;
    net_backward_begin(&p->net, &sc->ws);
    for (int k = 0; k < t->nalt; k++) {
        float w = expf(logP[k] - mx) / sum; /* the alternative's posterior */

        if (w < 1e-6f)
            continue;
        teacher_forced(p, sc, s, &t->alt[k], sc->dlogits, w * scale, &exact);
        net_dec_backward(&p->net, &sc->ws, sc->dlogits);
    }
    net_enc_backward(&p->net, &sc->ws);
    return loss;
}

int policy_act(void *ctx, struct rollout_ep *ep, const struct view *v, int observe, json_t **body,
               struct tg_error *err) {
    struct policy_actor *a = ctx;
    const struct policy *p = a->pol;
    struct policy_scratch *sc = a->sc;
    struct traj *t = ep->user;
    struct policy_action act;

    *body = NULL;
    seq_build(&sc->seq, v, &p->voc, (uint32_t)p->net.cfg.buckets, p->lex);
    if (observe) {
        policy_decide(p, sc, &sc->seq, POLICY_GREEDY, NULL, &act);
        if (t && t->nent < TG_VIEW_STEPS_MAX + 1)
            t->ent[t->nent++] = act.entropy;
        return 0;
    }
    policy_decide(p, sc, &sc->seq, a->mode, &ep->rng, &act);
    a->steps++;
    *body = act_request(&p->voc, &sc->seq, act.out, act.n, NULL);
    if (!*body) {
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
        return TG_ENOMEM;
    }
    if (a->record && t)
        return traj_record(t, &sc->seq, &act, err);
    return 0;
}
