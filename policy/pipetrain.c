/*
 * pipetrain.c — the update's gradient as a pipeline of S stages. See pipetrain.h.
 */
#include "policy/pipetrain.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/pipe_sim.h"

/* ---- settings ----------------------------------------------------------------------------- */

struct pipetrain_config pipetrain_config_default(void) {
    struct pipetrain_config c;

    memset(&c, 0, sizeof(c));
    c.stages = 0;
    c.kind = PIPELINE_1F1B;
    c.microbatches = 4;
    c.freeze = PT_FREEZE_NONE;
    c.r_max = 0.9;
    c.calibrate = 2;
    c.settle = progfreeze_config_default();
    return c;
}

int pipetrain_config_check(const struct pipetrain_config *c, int layers, struct tg_error *err) {
    int ncut = 0, S = c->stages;

    if (S != 0 && (S < 2 || S > layers + 2 || S > PIPETRAIN_STAGES_MAX)) {
        tg_error_set(err, TG_CODE_CONFIG,
                     "pipeline = %d: a pipeline has 2 to %d stages (one layer per stage at most: "
                     "the embeddings, %d blocks and the head)",
                     S, layers + 2, layers);
        return TG_EINVAL;
    }
    if (c->microbatches < 1 || c->microbatches > TG_PIPE_MICROBATCHES_MAX) {
        tg_error_set(err, TG_CODE_CONFIG, "microbatches = %d is out of range: 1..%d",
                     c->microbatches, TG_PIPE_MICROBATCHES_MAX);
        return TG_EINVAL;
    }
    if (c->kind == PIPELINE_1F1B && c->microbatches < (S > 2 ? S : 2)) {
        tg_error_set(err, TG_CODE_CONFIG,
                     "microbatches = %d: a 1f1b schedule needs at least as many micro-batches "
                     "as stages (%d)",
                     c->microbatches, S > 2 ? S : 2);
        return TG_EINVAL;
    }
    if (!(c->r_max >= 0 && c->r_max <= 1)) {
        tg_error_set(err, TG_CODE_CONFIG, "r_max = %g is out of range: 0..1", c->r_max);
        return TG_EINVAL;
    }
    if (c->calibrate < 1 || c->calibrate > 100) {
        tg_error_set(err, TG_CODE_CONFIG, "calibrate = %d is out of range: 1..100", c->calibrate);
        return TG_EINVAL;
    }
    for (int k = 0; k < PIPETRAIN_STAGES_MAX - 1; k++)
        if (c->cut[k] != 0)
            ncut = k + 1;
    if (ncut > 0 && S > 0) {
        if (ncut != S - 1) {
            tg_error_set(err, TG_CODE_CONFIG,
                         "cuts: %d given for %d stages: give %d, the first layer of each stage "
                         "after the first",
                         ncut, S, S - 1);
            return TG_EINVAL;
        }
        for (int k = 0; k < ncut; k++)
            if (c->cut[k] < (k ? c->cut[k - 1] + 1 : 1) || c->cut[k] > layers + 1) {
                tg_error_set(err, TG_CODE_CONFIG,
                             "cuts: %d is out of order or range: cuts are increasing layers in "
                             "1..%d",
                             c->cut[k], layers + 1);
                return TG_EINVAL;
            }
        if (c->balance) {
            tg_error_set(err, TG_CODE_CONFIG, "cuts: give them or ask for balanced ones, not both");
            return TG_EINVAL;
        }
    }
    return progfreeze_config_check(&c->settle, err);
}

static const char *const freeze_names[] = {"none", "uniform", "plan", "progressive"};

int pipetrain_freeze_parse(const char *s, enum pipetrain_freeze *out, struct tg_error *err) {
    for (size_t i = 0; i < TG_ARRAY_LEN(freeze_names); i++)
        if (strcmp(s, freeze_names[i]) == 0) {
            *out = (enum pipetrain_freeze)i;
            return 0;
        }
    tg_error_set(err, TG_CODE_CONFIG, "freeze '%s' is not one of none|uniform|plan|progressive", s);
    return TG_EINVAL;
}

const char *pipetrain_freeze_name(enum pipetrain_freeze f) {
    return tg_name_of(freeze_names, TG_ARRAY_LEN(freeze_names), (int)f);
}

/* ---- state -------------------------------------------------------------------------------- */

int pipetrain_init(struct pipetrain *P, const struct pipetrain_config *c, const struct net *n,
                   struct tg_error *err) {
    struct policy tmp;
    int rc;

    memset(P, 0, sizeof(*P));
    rc = pipetrain_config_check(c, n->cfg.layers, err);
    if (rc)
        return rc;
    P->cfg = *c;
    P->nlayers = n->nlayers;
    P->S = c->stages > 0 ? c->stages : 2;
    for (int s = 0; s <= P->S; s++)
        P->cuts[s] = s == 0 || s == P->S || c->cut[0] == 0 ? s * n->nlayers / P->S : c->cut[s - 1];
    memset(&tmp, 0, sizeof(tmp));
    tmp.net = *n;
    TG_ASSERT(n->nlayers <= PROGFREEZE_LAYERS_MAX);
    progfreeze_init(&P->prog, &c->settle, n->nlayers, (int)floor(c->r_max * n->nlayers + 1e-9));
    for (int s = 0; s < P->S; s++) {
        rc = policy_scratch_init(&P->sc[s], &tmp, err);
        if (rc) {
            pipetrain_free(P);
            return rc;
        }
    }
    return 0;
}

void pipetrain_free(struct pipetrain *P) {
    for (int s = 0; s < PIPETRAIN_STAGES_MAX; s++)
        policy_scratch_free(&P->sc[s]);
    pipeline_free(P->pl);
    free(P->stash);
    free(P->off);
    free(P->loss);
    free(P->ent);
    free(P->macs);
    free(P->t0);
    free(P->t1);
    free(P->ratio);
    free(P->frz);
    free(P->plan);
    memset(P, 0, sizeof(*P));
}

static int nomem(struct tg_error *err) {
    tg_error_set(err, TG_CODE_NOMEM, "out of memory (pipeline)");
    return TG_ENOMEM;
}

/* the pipeline for kind and m micro-batches, and the per-action arrays sized for it */
static int ensure_pipeline(struct pipetrain *P, enum pipeline_kind kind, int m,
                           struct tg_error *err) {
    struct pipeline *pl = NULL;
    size_t n;
    int rc;

    if (P->pl && P->pl_m == m && P->pl->kind == kind)
        return 0;
    rc = pipeline_build(kind, P->S, m, &pl, err);
    if (rc)
        return rc;
    pipeline_free(P->pl);
    P->pl = pl;
    P->pl_m = m;
    n = (size_t)pl->n;
    free(P->macs);
    free(P->t0);
    free(P->t1);
    free(P->ratio);
    free(P->frz);
    P->macs = calloc(n, sizeof(*P->macs));
    P->t0 = calloc(n, sizeof(double));
    P->t1 = calloc(n, sizeof(double));
    P->ratio = calloc(n, sizeof(double));
    P->frz = calloc(n * (size_t)P->nlayers, 1);
    if (!P->macs || !P->t0 || !P->t1 || !P->ratio || !P->frz)
        return nomem(err);
    return 0;
}

/* per-decision arrays and the stash (an activation and a gradient of T x d per decision and
 * stage boundary) */
static int ensure_items(struct pipetrain *P, const struct seq *const *seq, int nitems, int d,
                        struct tg_error *err) {
    size_t need = 0;

    if (nitems > P->cap_items) {
        size_t *ao = realloc(P->off, sizeof(size_t) * (size_t)nitems);
        float *lo = ao ? realloc(P->loss, sizeof(float) * (size_t)nitems) : NULL;
        float *en = lo ? realloc(P->ent, sizeof(float) * (size_t)nitems) : NULL;

        if (ao)
            P->off = ao;
        if (lo)
            P->loss = lo;
        if (en)
            P->ent = en;
        if (!en)
            return nomem(err);
        P->cap_items = nitems;
    }
    for (int i = 0; i < nitems; i++) {
        size_t td = (size_t)seq[i]->T * (size_t)d;

        P->off[i] = need;
        need += 2 * td * (size_t)(P->S - 1);
    }
    if (need > P->cap_floats) {
        float *s = realloc(P->stash, sizeof(float) * need);

        if (!s)
            return nomem(err);
        P->stash = s;
        P->cap_floats = need;
    }
    P->nitems = nitems;
    return 0;
}

/* ---- running one update ------------------------------------------------------------------- */

struct run {
    struct pipetrain *P;
    const struct policy *pol;
    const struct seq *const *seq;
    const struct policy_action *const *act;
    const struct policy_pg *pg;
    int nitems, m;
    struct timespec origin;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned char *done; /* (n actions) */
    int threaded;
    int go; /* stage threads: 0 wait, 1 run, -1 leave (a thread could not be started) */
};

static double ms_since(const struct timespec *o) {
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - o->tv_sec) * 1e3 + (double)(t.tv_nsec - o->tv_nsec) / 1e6;
}

static int mb_lo(const struct run *R, int mb) {
    return (int)((long)R->nitems * mb / R->m);
}

/* the lowest layer that learns under frozen[] (nlayers when none does) */
static int lowest_learning(const struct net *n) {
    for (int l = 0; l < n->nlayers; l++)
        if (!n->frozen[l])
            return l;
    return n->nlayers;
}

/* decision j's activation (grad 0) or gradient (grad 1) at the boundary after stage b */
static float *boundary(const struct pipetrain *P, int j, size_t td, int b, int grad) {
    return P->stash + P->off[j] + (size_t)(2 * b + grad) * td;
}

/* stage s's forward or backward over micro-batch mb; returns the backward multiply-adds */
static long long stage_action(struct run *R, int s, int mb, enum pipeline_op op) {
    struct pipetrain *P = R->P;
    struct net *n = &P->stage_net[s];
    struct policy_scratch *sc = &P->sc[s];
    struct net_ws *w = &sc->ws;
    int l0 = P->cuts[s], l1 = P->cuts[s + 1], last = s == P->S - 1;
    int d = n->cfg.d, lo = mb_lo(R, mb), hi = mb_lo(R, mb + 1);
    long long macs = 0;

    if (op == PIPELINE_BWD && !last && lowest_learning(n) >= l1)
        return 0; /* nothing at or below this stage learns: no backward */
    for (int j = lo; j < hi; j++) {
        const struct seq *q = R->seq[j];
        size_t td = (size_t)q->T * (size_t)d;

        if (s > 0)
            memcpy(net_layer_out(n, w, l0 - 1), boundary(P, j, td, s - 1, 0), sizeof(float) * td);
        net_forward_layers(n, w, q, l0, l1);
        if (!last) {
            if (op == PIPELINE_FWD) {
                memcpy(boundary(P, j, td, s, 0), net_layer_out(n, w, l1 - 1), sizeof(float) * td);
                continue;
            }
            memcpy(w->dx, boundary(P, j, td, s, 1), sizeof(float) * td);
        } else {
            float ent = 0,
                  loss = policy_pg_dlogits(R->pol, sc, q, R->act[j], &R->pg[j], NULL, &ent);

            if (op == PIPELINE_FWD)
                continue;
            P->loss[j] = loss;
            P->ent[j] = ent;
            net_backward_begin(n, w);
            macs += net_dec_backward(n, w, sc->dlogits);
        }
        macs += net_backward_layers(n, w, l0, l1);
        if (s > 0 && lowest_learning(n) < l0)
            memcpy(boundary(P, j, td, s - 1, 1), w->dx, sizeof(float) * td);
    }
    return macs;
}

/* run action i: wait for its cross-stage input, set the stage's frozen layers, time it */
static void run_action(struct run *R, int i) {
    struct pipetrain *P = R->P;
    const struct pipeline *pl = P->pl;
    const struct pipeline_action *a = &pl->act[i];
    int prev = pl->link_prev[i];

    if (R->threaded && prev >= 0) {
        pthread_mutex_lock(&R->mu);
        while (!R->done[prev])
            pthread_cond_wait(&R->cv, &R->mu);
        pthread_mutex_unlock(&R->mu);
    }
    if (a->op == PIPELINE_BWD)
        for (int l = 0; l < P->nlayers; l++)
            P->stage_net[a->stage].frozen[l] = P->frz[(size_t)i * P->nlayers + l];
    P->t0[i] = ms_since(&R->origin);
    P->macs[i] = stage_action(R, a->stage, a->mb, a->op);
    P->t1[i] = ms_since(&R->origin);
    if (R->threaded) {
        pthread_mutex_lock(&R->mu);
        R->done[i] = 1;
        pthread_cond_broadcast(&R->cv);
        pthread_mutex_unlock(&R->mu);
    }
}

struct stage_arg {
    struct run *R;
    int s;
};

/* a stage's actions in its order; a stage thread first waits for R->go (1 run, -1 leave) */
static void *stage_main(void *arg) {
    struct stage_arg *sa = arg;
    struct run *R = sa->R;
    int per = 2 * R->m, go;

    if (sa->s > 0) {
        pthread_mutex_lock(&R->mu);
        while (R->go == 0)
            pthread_cond_wait(&R->cv, &R->mu);
        go = R->go;
        pthread_mutex_unlock(&R->mu);
        if (go < 0)
            return NULL;
    }
    for (int k = 0; k < per; k++)
        run_action(R, sa->s * per + k);
    return NULL;
}

/* layers of n frozen for micro-batch mb at ratio r: floor(r n), or with `spread` whole layers
 * spread over the micro-batches so that their mean over M is floor(M r n) / M */
static int layers_at(double r, int n, int mb, int spread) {
    if (!spread)
        return (int)floor(r * n + 1e-9);
    return (int)floor((mb + 1) * r * n + 1e-9) - (int)floor(mb * r * n + 1e-9);
}

/* the ratios asked for this update into P->ratio, and the frozen layers of each backward:
 * base's own frozen layers, the lowest `lowest` layers (progressive), and per backward the
 * lowest layers of its stage its ratio asks for (spread: uniform's rounding) */
static void set_freezing(struct pipetrain *P, const struct net *base, const double *ratio,
                         int spread, int lowest) {
    const struct pipeline *pl = P->pl;
    int m = pl->microbatches, nl = P->nlayers;

    for (int i = 0; i < pl->n; i++)
        P->ratio[i] = pl->act[i].op == PIPELINE_BWD && ratio ? ratio[i] : 0;
    for (int mb = 0; mb < m; mb++) {
        unsigned char row[NET_LAYERS_MAX + 2];

        for (int l = 0; l < nl; l++)
            row[l] = base->frozen[l] || l < lowest ? 1 : 0;
        for (int s = 0; s < P->S; s++) {
            int l0 = P->cuts[s], l1 = P->cuts[s + 1];
            double r = P->ratio[pl->bwd[s * m + mb]];
            int k = layers_at(r, l1 - l0, mb, spread);

            for (int l = l0; l < l0 + k && l < l1; l++)
                row[l] = 1;
        }
        for (int s = 0; s < P->S; s++)
            memcpy(P->frz + (size_t)pl->bwd[s * m + mb] * nl, row, (size_t)nl);
    }
}

/* the applied share of stage s's layers frozen for backward i */
static double applied_ratio(const struct pipetrain *P, int i) {
    int s = P->pl->act[i].stage, l0 = P->cuts[s], l1 = P->cuts[s + 1];
    int k = 0;

    for (int l = l0; l < l1; l++)
        k += P->frz[(size_t)i * P->nlayers + l];
    return (double)k / (l1 - l0);
}

/* time stage s's backward of micro-batch 0 with the whole stage frozen (calibration's w_min);
 * no parameter gradient is touched: the stage's layers are frozen */
static double probe_min(struct run *R, int s, const struct net *base) {
    struct pipetrain *P = R->P;
    struct net *n = &P->stage_net[s];
    int l0 = P->cuts[s], l1 = P->cuts[s + 1];
    struct timespec t0;

    for (int l = 0; l < P->nlayers; l++)
        n->frozen[l] = base->frozen[l] || (l >= l0 && l < l1);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    stage_action(R, s, 0, PIPELINE_BWD);
    return ms_since(&t0);
}

static void calibrate(struct pipetrain *P, struct run *R, const struct net *base) {
    const struct pipeline *pl = P->pl;
    int n0 = mb_lo(R, 1);
    for (int i = 0; i < pl->n; i++) {
        int s = pl->act[i].stage;

        if (pl->act[i].op == PIPELINE_FWD)
            P->sum_fwd[s] += P->t1[i] - P->t0[i];
        else
            P->sum_bwd[s] += P->t1[i] - P->t0[i];
    }
    P->sum_items += R->nitems;
    for (int s = 0; s < P->S; s++)
        P->sum_bmin[s] += probe_min(R, s, base);
    P->sum_min_items += n0;
    P->calib_updates++;
}

/* the calibrated per-decision times, scaled to `per` decisions per micro-batch */
static void scaled_times(const struct pipetrain *P, double per, struct pipeline_times *t) {
    *t = P->times;
    for (int s = 0; s < P->S; s++) {
        t->st[s].forward *= per;
        t->st[s].w_max *= per;
        t->st[s].w_min *= per;
    }
}

static int finish_calibration(struct pipetrain *P, struct tg_error *err) {
    struct pipeline_times *t = &P->times;

    memset(t, 0, sizeof(*t));
    t->stages = P->S;
    snprintf(t->unit, sizeof(t->unit), "ms");
    for (int s = 0; s < P->S; s++) {
        t->st[s].forward = P->sum_fwd[s] / (double)P->sum_items;
        t->st[s].w_max = P->sum_bwd[s] / (double)P->sum_items;
        t->st[s].w_min = P->sum_min_items > 0 ? P->sum_bmin[s] / (double)P->sum_min_items : 0;
        if (t->st[s].w_min > t->st[s].w_max) /* timing noise: a frozen stage is never slower */
            t->st[s].w_min = t->st[s].w_max;
    }
    P->calibrated = 1;
    return pipeline_times_check(t, err);
}

/* the LP's ratios for the current pipeline (solved again when M changes) */
static int ensure_plan(struct pipetrain *P, double per, struct tg_error *err) {
    struct freeze_plan_config fc = freeze_plan_config_default();
    struct freeze_plan plan;
    struct pipeline_times t;
    int rc;

    if (P->plan && P->plan_m == P->pl_m)
        return 0;
    fc.r_max = P->cfg.r_max;
    scaled_times(P, per, &t);
    memset(&plan, 0, sizeof(plan));
    rc = freeze_plan_solve(P->pl, &t, &fc, &plan, err);
    if (rc)
        return rc;
    free(P->plan);
    P->plan = plan.ratio;
    plan.ratio = NULL;
    P->plan_m = P->pl_m;
    P->plan_makespan = plan.makespan;
    P->plan_mean = plan.mean_ratio;
    freeze_plan_free(&plan);
    return 0;
}

static void report(struct pipetrain *P, struct run *R, double measured, long long macs_done,
                   int calibrating) {
    struct pipetrain_report *r = &P->rep;
    const struct pipeline *pl = P->pl;
    int nb = 0;

    memset(r, 0, sizeof(*r));
    r->microbatches = pl->microbatches;
    r->items = R->nitems;
    r->calibrating = calibrating;
    r->measured = measured;
    r->macs_done = macs_done;
    for (int i = 0; i < pl->n; i++) {
        r->busy[pl->act[i].stage] += P->t1[i] - P->t0[i];
        if (pl->act[i].op == PIPELINE_BWD) {
            r->ratio_planned += P->ratio[i];
            r->ratio_applied += applied_ratio(P, i);
            nb++;
        }
    }
    r->ratio_planned /= nb;
    r->ratio_applied /= nb;
    if (P->calibrated) {
        struct pipeline_times t;
        struct pipesim_result a, b;
        double *applied = calloc((size_t)pl->n, sizeof(double));

        scaled_times(P, (double)R->nitems / pl->microbatches, &t);
        memset(&a, 0, sizeof(a));
        memset(&b, 0, sizeof(b));
        if (applied) {
            for (int i = 0; i < pl->n; i++)
                applied[i] = pl->act[i].op == PIPELINE_BWD ? applied_ratio(P, i) : 0;
            if (pipesim_run(pl, &t, applied, &a, NULL) == 0 &&
                pipesim_run(pl, &t, NULL, &b, NULL) == 0) {
                r->predicted = a.makespan;
                r->predicted0 = b.makespan;
            }
        }
        pipesim_result_free(&a);
        pipesim_result_free(&b);
        {
            double full = 0;

            for (int i = 0; i < pl->n; i++)
                if (pl->act[i].op == PIPELINE_BWD)
                    full += t.st[pl->act[i].stage].w_max;
            if (full > 0 && applied)
                r->compute_saved = freeze_plan_skipped(pl, &t, applied) / full;
        }
        if (r->predicted0 > 0) {
            r->wall_saved = 1.0 - measured / r->predicted0;
            r->wall_saved_pred = 1.0 - r->predicted / r->predicted0;
        }
        free(applied);
    }
}

/* the stage that runs layer l */
static int stage_of(const struct pipetrain *P, int l) {
    int s = 0;

    while (s + 1 < P->S && l >= P->cuts[s + 1])
        s++;
    return s;
}

/* try every cut after layer `from` for stage s onwards (worst and sq: the largest stage cost
 * and the sum of squared stage costs of stages < s); keeps the best in best[] */
static void balance_search(const double *cost, int nl, int S, int s, int from, double worst,
                           double sq, int *cuts, int *best, double *best_worst, double *best_sq) {
    double c = 0;

    if (s == S - 1) {
        for (int l = from; l < nl; l++)
            c += cost[l];
        worst = c > worst ? c : worst;
        sq += c * c;
        if (worst < *best_worst || (worst == *best_worst && sq < *best_sq)) {
            *best_worst = worst;
            *best_sq = sq;
            memcpy(best, cuts, sizeof(int) * (size_t)(S + 1));
        }
        return;
    }
    /* stage s is [from, k): at least one layer, and one left for each later stage */
    for (int k = from + 1; k <= nl - (S - 1 - s); k++) {
        c += cost[k - 1];
        cuts[s + 1] = k;
        balance_search(cost, nl, S, s + 1, k, c > worst ? c : worst, sq + c * c, cuts, best,
                       best_worst, best_sq);
    }
}

void pipetrain_balance_cuts(const double *cost, int nl, int S, int *cuts) {
    int cur[PIPETRAIN_STAGES_MAX + 1];
    double best_worst = INFINITY, best_sq = INFINITY;

    TG_ASSERT(S >= 2 && S <= nl && nl <= PIPETRAIN_STAGES_MAX);
    cur[0] = 0;
    cur[S] = nl;
    for (int s = 0; s <= S; s++) /* a valid start: one layer each, the rest last */
        cuts[s] = s < S ? s : nl;
    balance_search(cost, nl, S, 0, 0, 0, 0, cur, cuts, &best_worst, &best_sq);
}

/* balance: time every layer alone over the first micro-batch's decisions (forward twice,
 * as a stage's forward and its backward's recomputation do, plus the backward) and re-cut
 * the stages; calibration starts again when the cuts change. Runs after the pass's
 * gradient was copied out: it adds into stage 0's gradient block, zeroed by the next pass. */
static void rebalance(struct pipetrain *P, struct run *R, const struct net *base) {
    struct net *n = &P->stage_net[0];
    struct policy_scratch *sc = &P->sc[0];
    struct net_ws *w = &sc->ws;
    int nl = P->nlayers, cuts[PIPETRAIN_STAGES_MAX + 1], hi = mb_lo(R, 1), same = 1;
    double fwd[PIPETRAIN_STAGES_MAX] = {0}, bwd[PIPETRAIN_STAGES_MAX] = {0};
    struct timespec t0;

    *n = *base;
    for (int j = 0; j < hi; j++) {
        const struct seq *q = R->seq[j];
        float ent = 0;

        for (int l = 0; l < nl; l++) {
            clock_gettime(CLOCK_MONOTONIC, &t0);
            net_forward_layers(n, w, q, l, l + 1);
            fwd[l] += ms_since(&t0);
        }
        clock_gettime(CLOCK_MONOTONIC, &t0);
        policy_pg_dlogits(R->pol, sc, q, R->act[j], &R->pg[j], NULL, &ent);
        net_backward_begin(n, w);
        net_dec_backward(n, w, sc->dlogits);
        net_backward_layers(n, w, nl - 1, nl);
        bwd[nl - 1] += ms_since(&t0);
        for (int l = nl - 2; l >= 0 && lowest_learning(n) <= l; l--) {
            clock_gettime(CLOCK_MONOTONIC, &t0);
            net_backward_layers(n, w, l, l + 1);
            bwd[l] += ms_since(&t0);
        }
    }
    for (int l = 0; l < nl; l++)
        P->layer_ms[l] = hi > 0 ? (2 * fwd[l] + bwd[l]) / hi : 0;
    pipetrain_balance_cuts(P->layer_ms, nl, P->S, cuts);
    for (int s = 0; s <= P->S; s++)
        same &= cuts[s] == P->cuts[s];
    if (!same) {
        memcpy(P->cuts, cuts, sizeof(cuts));
        memset(P->sum_fwd, 0, sizeof(P->sum_fwd));
        memset(P->sum_bwd, 0, sizeof(P->sum_bwd));
        memset(P->sum_bmin, 0, sizeof(P->sum_bmin));
        P->sum_items = P->sum_min_items = 0;
        P->calib_updates = 0;
    }
    P->balanced = 1;
    P->rep.rebalanced = 1;
}

/* progressive: each layer's gradient norm of this pass to the settle bookkeeping (frozen
 * once calibration is over) */
static void observe_norms(struct pipetrain *P, const struct net *base, const float *grads,
                          int may_freeze) {
    double norm[PROGFREEZE_LAYERS_MAX];

    for (int l = 0; l < P->nlayers; l++) {
        size_t off, len;
        double sq = 0;

        net_layer_span(base, l, &off, &len);
        for (size_t k = 0; k < len; k++)
            sq += (double)grads[off + k] * grads[off + k];
        norm[l] = sqrt(sq);
    }
    progfreeze_observe(&P->prog, norm, may_freeze);
}

int pipetrain_grads(struct pipetrain *P, const struct policy *pol, const struct seq *const *seq,
                    const struct policy_action *const *act, const struct policy_pg *pg, int nitems,
                    const double *ratio, float *grads, double *loss, double *ent, int *frozen_all,
                    struct tg_error *err) {
    const struct net *base = &pol->net;
    const int override = ratio != NULL;
    enum pipeline_kind kind = P->cfg.kind;
    struct run R;
    struct stage_arg sa[PIPETRAIN_STAGES_MAX];
    pthread_t tid[PIPETRAIN_STAGES_MAX];
    long long macs = 0;
    int started = 0;
    int m = P->cfg.microbatches < nitems ? P->cfg.microbatches : nitems, rc, calibrating;
    int spread = 0, lowest = 0;
    size_t off, len;

    *loss = *ent = 0;
    for (int l = 0; l < base->nlayers; l++)
        frozen_all[l] = 0;
    if (nitems <= 0)
        return 0;
    if (kind == PIPELINE_1F1B && m < P->S)
        kind = PIPELINE_GPIPE; /* fewer decisions than stages: 1f1b cannot be built */
    rc = ensure_pipeline(P, kind, m, err);
    if (rc == 0)
        rc = ensure_items(P, seq, nitems, base->cfg.d, err);
    if (rc)
        return rc;
    calibrating = !ratio && P->calib_updates < P->cfg.calibrate;
    if (!ratio && !calibrating && !P->calibrated) {
        rc = finish_calibration(P, err);
        if (rc)
            return rc;
    }
    if (!ratio && !calibrating && P->cfg.freeze == PT_FREEZE_PLAN) {
        rc = ensure_plan(P, (double)nitems / m, err);
        if (rc)
            return rc;
        ratio = P->plan;
    }
    if (!ratio && !calibrating && P->cfg.freeze == PT_FREEZE_UNIFORM) {
        for (int i = 0; i < P->pl->n; i++)
            P->ratio[i] = P->cfg.r_max;
        ratio = P->ratio;
        spread = 1;
    }
    if (!ratio && !calibrating && P->cfg.freeze == PT_FREEZE_PROGRESSIVE)
        lowest = P->prog.frozen;
    set_freezing(P, base, ratio, spread, lowest);
    if (lowest > 0) /* progressive: what was asked is what is frozen */
        for (int i = 0; i < P->pl->n; i++)
            if (P->pl->act[i].op == PIPELINE_BWD)
                P->ratio[i] = applied_ratio(P, i);
    memset(&R, 0, sizeof(R));
    R.P = P;
    R.pol = pol;
    R.seq = seq;
    R.act = act;
    R.pg = pg;
    R.nitems = nitems;
    R.m = m;
    R.done = calloc((size_t)P->pl->n, 1);
    if (!R.done)
        return nomem(err);
    for (int s = 0; s < P->S; s++) {
        P->stage_net[s] = *base;
        net_ws_zero_grad(&P->sc[s].ws, base);
        sa[s].R = &R;
        sa[s].s = s;
    }
    pthread_mutex_init(&R.mu, NULL);
    pthread_cond_init(&R.cv, NULL);
    R.threaded = 1;
    for (int s = 1; s < P->S; s++, started++)
        if (pthread_create(&tid[s], NULL, stage_main, &sa[s]) != 0)
            break;
    pthread_mutex_lock(&R.mu);
    R.go = started == P->S - 1 ? 1 : -1;
    pthread_cond_broadcast(&R.cv);
    pthread_mutex_unlock(&R.mu);
    if (R.go < 0) { /* a thread is missing: the threads started leave */
        for (int s = 1; s <= started; s++)
            pthread_join(tid[s], NULL);
        started = 0;
    }
    clock_gettime(CLOCK_MONOTONIC, &R.origin);
    if (R.go > 0) {
        stage_main(&sa[0]);
        for (int s = 1; s < P->S; s++)
            pthread_join(tid[s], NULL);
    } else {
        /* no threads: the same actions in a topological order give the same result */
        R.threaded = 0;
        for (int k = 0; k < P->pl->n; k++)
            run_action(&R, P->pl->topo[k]);
    }
    {
        double measured = ms_since(&R.origin);

        for (int i = 0; i < P->pl->n; i++)
            macs += P->macs[i];
        if (calibrating)
            calibrate(P, &R, base);
        report(P, &R, measured, macs, calibrating);
    }
    pthread_cond_destroy(&R.cv);
    pthread_mutex_destroy(&R.mu);
    free(R.done);
    /* each layer's gradient from the stage that owns it */
    for (int l = 0; l < base->nlayers; l++) {
        int st = stage_of(P, l);
        const float *src = P->sc[st].ws.grads;

        net_layer_span(base, l, &off, &len);
        memcpy(grads + off, src + off, sizeof(float) * len);
        frozen_all[l] = 1;
        for (int mb = 0; mb < m; mb++)
            if (!P->frz[(size_t)P->pl->bwd[st * m + mb] * P->nlayers + l])
                frozen_all[l] = 0;
    }
    for (int j = 0; j < nitems; j++) {
        *loss += (double)(P->loss[j] / pg[j].scale);
        *ent += P->ent[j];
    }
    if (P->cfg.freeze == PT_FREEZE_PROGRESSIVE && !override)
        observe_norms(P, base, grads, !calibrating);
    P->rep.layers_frozen = lowest;
    if (P->cfg.balance && !P->balanced && !override && calibrating)
        rebalance(P, &R, base);
    P->rep.update = ++P->updates;
    return 0;
}

void pipetrain_report_print(FILE *f, const struct pipetrain *P) {
    const struct pipetrain_report *r = &P->rep;

    fprintf(f, "  pipe %s M=%d %d dec", pipeline_kind_name(P->pl ? P->pl->kind : P->cfg.kind),
            r->microbatches, r->items);
    if (r->calibrating) {
        fprintf(f, " | calibrating: measured %.1f ms (stage busy", r->measured);
        for (int s = 0; s < P->S; s++)
            fprintf(f, "%s%.1f", s ? " / " : " ", r->busy[s]);
        fprintf(f, " ms)\n");
        if (r->rebalanced) {
            fprintf(f, "    balanced: layer ms per decision (2 fwd + bwd)");
            for (int l = 0; l < P->nlayers; l++)
                fprintf(f, " %.3f", P->layer_ms[l]);
            fprintf(f, "; stages");
            for (int s = 0; s < P->S; s++)
                fprintf(f, " [%d,%d)", P->cuts[s], P->cuts[s + 1]);
            fputc('\n', f);
        }
        return;
    }
    fprintf(f,
            " | freeze %s %.3f (asked %.3f) | makespan predicted %.1f measured %.1f ms"
            " (unfrozen predicted %.1f) | compute saved %.1f%% (%.3g bwd MACs) | wall-clock "
            "saved predicted %.1f%% measured %.1f%%\n",
            pipetrain_freeze_name(P->cfg.freeze), r->ratio_applied, r->ratio_planned, r->predicted,
            r->measured, r->predicted0, 100 * r->compute_saved, (double)r->macs_done,
            100 * r->wall_saved_pred, 100 * r->wall_saved);
    if (P->cfg.freeze == PT_FREEZE_PROGRESSIVE) {
        fprintf(f,
                "    progressive: %d of %d layers frozen (at most %d); per layer EMA of the "
                "gradient norm / its last relative change / calm passes:",
                P->prog.frozen, P->prog.nlayers, P->prog.max_frozen);
        for (int l = 0; l < P->prog.nlayers; l++)
            if (l < P->prog.frozen)
                fprintf(f, " [%d frozen at pass %ld]", l, P->prog.frozen_at[l]);
            else
                fprintf(f, " [%d %.3g/%.3f/%d]", l, P->prog.ema[l], P->prog.change[l],
                        P->prog.calm[l]);
        fputc('\n', f);
    }
}
