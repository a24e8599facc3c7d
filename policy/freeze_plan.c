/*
 * freeze_plan.c — the freeze-ratio LP on GLPK, uniform freezing and the comparison. See
 * freeze_plan.h for the model.
 *
 * GLPK notes. The LP is built once: t_i columns, r_i columns, T; one row per DAG edge, one
 * per stage's last action, one budget row per freezable stage. The first solve starts the
 * primal simplex from the vertex of the earliest-start schedule without freezing, which is
 * feasible and close to the optimum (lp_crash_basis); with cold_start it runs the dual
 * simplex from GLPK's standard basis instead (dual feasible, as every objective coefficient
 * is >= 0 and every column starts at its lower bound), several times slower at S=16, M=64.
 * The later solves change the objective and one bound and restart the primal simplex from
 * the previous optimal basis. Presolve stays off so that the basis carries over and an
 * infeasible LP is reported as a status.
 */
#include "policy/freeze_plan.h"

#include <glpk.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LP_TIME_LIMIT_MS 60000 /* GLPK gives up after this much time on one solve */

struct freeze_plan_config freeze_plan_config_default(void) {
    return (struct freeze_plan_config){.r_max = 0.9, .deadline = 0.0};
}

int freeze_plan_config_check(const struct freeze_plan_config *c, struct tg_error *err) {
    if (!(c->r_max >= 0.0 && c->r_max <= 1.0)) {
        tg_error_set(err, "r_max", "r_max must be in [0, 1], not %g", c->r_max);
        return TG_EINVAL;
    }
    if (!(c->deadline >= 0.0 && c->deadline <= TG_PIPE_TIME_MAX * TG_PIPE_ACTIONS_MAX)) {
        tg_error_set(err, "deadline", "deadline must be a time >= 0 (0: none), not %g",
                     c->deadline);
        return TG_EINVAL;
    }
    return 0;
}

int freeze_plan_check_times(const struct pipeline *p, const struct pipeline_times *t,
                            struct tg_error *err) {
    if (t->stages != p->stages) {
        tg_error_set(err, "stages",
                     "the times file lists %d stage%s but the pipeline has %d stages: give one "
                     "stages[] entry per stage",
                     t->stages, t->stages == 1 ? "" : "s", p->stages);
        return TG_EINVAL;
    }
    return 0;
}

void freeze_plan_uniform(const struct pipeline *p, const struct pipeline_times *t, double r,
                         double *ratio) {
    for (int i = 0; i < p->n; i++)
        ratio[i] = pipeline_freezable(p, t, i) ? r : 0.0;
}

double freeze_plan_mean(const struct pipeline *p, const struct pipeline_times *t,
                        const double *ratio, int stage) {
    double sum = 0;
    int cnt = 0;

    for (int i = 0; i < p->n; i++) {
        if (!pipeline_freezable(p, t, i) || (stage >= 0 && p->act[i].stage != stage))
            continue;
        sum += ratio ? ratio[i] : 0.0;
        cnt++;
    }
    return cnt ? sum / cnt : 0.0;
}

double freeze_plan_skipped(const struct pipeline *p, const struct pipeline_times *t,
                           const double *ratio) {
    double sum = 0;

    if (!ratio)
        return 0;
    for (int i = 0; i < p->n; i++)
        if (pipeline_freezable(p, t, i)) {
            const struct pipeline_stage_times *st = &t->st[p->act[i].stage];

            sum += ratio[i] * (st->w_max - st->w_min);
        }
    return sum;
}

void freeze_plan_free(struct freeze_plan *plan) {
    if (!plan)
        return;
    free(plan->ratio);
    free(plan->stage_ratio);
    memset(plan, 0, sizeof(*plan));
}

/* ---- the LP ------------------------------------------------------------------------------- */

struct lp {
    glp_prob *g;
    int *rcol;      /* (n) column of r_i, 0 if action i is not freezable */
    int tcol;       /* column of T */
    int *row_stage; /* (n) row of the edge from the same-stage predecessor, 0 if none */
    int *row_link;  /* (n) row of the edge from the cross-stage predecessor, 0 if none */
    int *row_sink;  /* (S) row T >= end of the stage's last action */
    int *ia, *ja;   /* triplets, 1-based */
    double *ar;
    int nz;
};

/* one row: t_j - t_i + delta_i r_i >= dmax_i + lag (j = -1 means T instead of t_j); returns
 * the row's number */
static int edge_row(struct lp *lp, const struct pipeline *p, const struct pipeline_times *t, int i,
                    int j, double lag) {
    const struct pipeline_stage_times *st = &t->st[p->act[i].stage];
    int row = glp_add_rows(lp->g, 1);
    double dmax = pipeline_duration(p, t, NULL, i);

    glp_set_row_bnds(lp->g, row, GLP_LO, dmax + lag, 0.0);
    lp->nz++;
    lp->ia[lp->nz] = row, lp->ja[lp->nz] = j >= 0 ? j + 1 : lp->tcol, lp->ar[lp->nz] = 1.0;
    lp->nz++;
    lp->ia[lp->nz] = row, lp->ja[lp->nz] = i + 1, lp->ar[lp->nz] = -1.0;
    if (lp->rcol[i]) {
        lp->nz++;
        lp->ia[lp->nz] = row, lp->ja[lp->nz] = lp->rcol[i];
        lp->ar[lp->nz] = st->w_max - st->w_min;
    }
    return row;
}

static int lp_build(struct lp *lp, const struct pipeline *p, const struct pipeline_times *t,
                    double r_max) {
    int n = p->n, per = 2 * p->microbatches, nr = 0, maxnz;

    lp->rcol = calloc((size_t)n, sizeof(int));
    lp->row_stage = calloc((size_t)n, sizeof(int));
    lp->row_link = calloc((size_t)n, sizeof(int));
    lp->row_sink = calloc((size_t)p->stages, sizeof(int));
    if (!lp->rcol || !lp->row_stage || !lp->row_link || !lp->row_sink)
        return TG_ENOMEM;
    for (int i = 0; i < n; i++)
        if (pipeline_freezable(p, t, i))
            lp->rcol[i] = n + 1 + nr++;
    lp->tcol = n + nr + 1;
    /* rows: <= 2 edges per action + S sinks + S budgets; <= 3 non-zeros per edge row */
    maxnz = 3 * (2 * n + p->stages) + nr + 1;
    lp->ia = malloc((size_t)(maxnz + 1) * sizeof(int));
    lp->ja = malloc((size_t)(maxnz + 1) * sizeof(int));
    lp->ar = malloc((size_t)(maxnz + 1) * sizeof(double));
    lp->g = glp_create_prob();
    if (!lp->ia || !lp->ja || !lp->ar || !lp->g)
        return TG_ENOMEM;
    glp_set_obj_dir(lp->g, GLP_MIN);
    glp_add_cols(lp->g, lp->tcol);
    for (int i = 0; i < n; i++) {
        glp_set_col_bnds(lp->g, i + 1, GLP_LO, 0.0, 0.0);
        if (lp->rcol[i])
            glp_set_col_bnds(lp->g, lp->rcol[i], GLP_DB, 0.0, 1.0);
    }
    glp_set_col_bnds(lp->g, lp->tcol, GLP_LO, 0.0, 0.0);
    for (int i = 0; i < n; i++) {
        if (i % per != 0)
            lp->row_stage[i] = edge_row(lp, p, t, i - 1, i, 0.0);
        if (p->link_prev[i] >= 0)
            lp->row_link[i] = edge_row(lp, p, t, p->link_prev[i], i, t->comm);
    }
    for (int s = 0; s < p->stages; s++)
        lp->row_sink[s] = edge_row(lp, p, t, (s + 1) * per - 1, -1, 0.0);
    for (int s = 0; s < p->stages; s++) {
        int row, cnt = 0;

        if (!lp->rcol[p->bwd[s * p->microbatches]])
            continue;
        row = glp_add_rows(lp->g, 1);
        for (int m = 0; m < p->microbatches; m++) {
            lp->nz++;
            lp->ia[lp->nz] = row, lp->ja[lp->nz] = lp->rcol[p->bwd[s * p->microbatches + m]];
            lp->ar[lp->nz] = 1.0;
            cnt++;
        }
        glp_set_row_bnds(lp->g, row, GLP_UP, 0.0, r_max * cnt);
    }
    TG_ASSERT(lp->nz <= maxnz);
    glp_load_matrix(lp->g, lp->nz, lp->ia, lp->ja, lp->ar);
    return 0;
}

static void lp_free(struct lp *lp) {
    if (lp->g)
        glp_delete_prob(lp->g);
    free(lp->rcol);
    free(lp->row_stage);
    free(lp->row_link);
    free(lp->row_sink);
    free(lp->ia);
    free(lp->ja);
    free(lp->ar);
}

/*
 * A starting basis at the vertex "nothing frozen, every action as early as possible": each
 * action's start is pinned by one tight edge (the predecessor it waits for), which makes those
 * edges' rows non-basic and the start columns basic (a spanning tree rooted at F(0,0): the
 * basis is triangular, so never singular); T is pinned by the row of a stage that ends last.
 * The simplex then starts feasible and near the optimum instead of from all-zero starts.
 * Returns 0, or -1 (keep the standard basis) if the simulation fails.
 */
static int lp_crash_basis(struct lp *lp, const struct pipeline *p, const struct pipeline_times *t) {
    struct pipesim_result r;
    int per = 2 * p->microbatches, sinks = 0;

    if (pipesim_run(p, t, NULL, &r, NULL) != 0)
        return -1;
    for (int row = 1; row <= glp_get_num_rows(lp->g); row++)
        glp_set_row_stat(lp->g, row, GLP_BS);
    for (int j = 1; j <= glp_get_num_cols(lp->g); j++)
        glp_set_col_stat(lp->g, j, GLP_NL);
    for (int i = 1; i < p->n; i++) {
        double eps = 1e-12 * (r.makespan > 1 ? r.makespan : 1);
        int q = p->link_prev[i];

        if (i % per != 0 && fabs(r.finish[i - 1] - r.start[i]) <= eps)
            glp_set_row_stat(lp->g, lp->row_stage[i], GLP_NL);
        else if (q >= 0 && fabs(r.finish[q] + t->comm - r.start[i]) <= eps)
            glp_set_row_stat(lp->g, lp->row_link[i], GLP_NL);
        else if (i % per == 0 && q < 0)
            continue; /* no predecessor: cannot happen past F(0,0) */
        else {
            pipesim_result_free(&r);
            return -1;
        }
        glp_set_col_stat(lp->g, i + 1, GLP_BS);
    }
    for (int s = 0; s < p->stages && !sinks; s++)
        if (r.finish[(s + 1) * per - 1] == r.makespan) {
            glp_set_row_stat(lp->g, lp->row_sink[s], GLP_NL);
            glp_set_col_stat(lp->g, lp->tcol, GLP_BS);
            sinks = 1;
        }
    pipesim_result_free(&r);
    return sinks ? 0 : -1;
}

/* objective: minimise T (which = 0) or the total freezing (which = 1) */
static void lp_objective(struct lp *lp, int n, int which) {
    for (int j = 1; j <= glp_get_num_cols(lp->g); j++)
        glp_set_obj_coef(lp->g, j, 0.0);
    if (which == 0) {
        glp_set_obj_coef(lp->g, lp->tcol, 1.0);
        return;
    }
    for (int i = 0; i < n; i++)
        if (lp->rcol[i])
            glp_set_obj_coef(lp->g, lp->rcol[i], 1.0);
}

/* run the simplex; 0 when optimal, 1 when infeasible, TG_EINTERNAL otherwise */
static int lp_solve(struct lp *lp, int method, const char *what, struct tg_error *err) {
    glp_smcp parm;
    int rc, st;

    glp_init_smcp(&parm);
    parm.msg_lev = GLP_MSG_OFF;
    parm.meth = method;
    parm.presolve = GLP_OFF;
    parm.tm_lim = LP_TIME_LIMIT_MS;
    rc = glp_simplex(lp->g, &parm);
    st = glp_get_status(lp->g);
    if (rc == 0 && st == GLP_OPT)
        return 0;
    if (rc == 0 && (st == GLP_NOFEAS || glp_get_prim_stat(lp->g) == GLP_NOFEAS))
        return 1;
    tg_error_set(err, "solver", "GLPK failed to %s (%s, status %d)", what,
                 rc == GLP_ETMLIM   ? "time limit"
                 : rc == GLP_EITLIM ? "iteration limit"
                 : rc != 0          ? "simplex error"
                                    : "not optimal",
                 st);
    return TG_EINTERNAL;
}

static double snap01(double r) {
    if (r < 1e-12)
        return 0.0;
    if (r > 1.0 - 1e-12)
        return 1.0;
    return r;
}

int freeze_plan_solve(const struct pipeline *p, const struct pipeline_times *t,
                      const struct freeze_plan_config *c, struct freeze_plan *out,
                      struct tg_error *err) {
    struct lp lp = {0};
    double t0 = tg_now_ms(), tmin, total;
    double t1;
    int method;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = freeze_plan_config_check(c, err);
    if (!rc)
        rc = freeze_plan_check_times(p, t, err);
    if (rc)
        return rc;
    out->n = p->n;
    out->stages = p->stages;
    out->ratio = calloc((size_t)p->n, sizeof(double));
    out->stage_ratio = calloc((size_t)p->stages, sizeof(double));
    if (!out->ratio || !out->stage_ratio) {
        rc = TG_ENOMEM;
        goto fail;
    }
    glp_term_out(GLP_OFF);
    rc = lp_build(&lp, p, t, c->r_max);
    if (rc)
        goto fail;
    out->lp_rows = glp_get_num_rows(lp.g);
    out->lp_cols = glp_get_num_cols(lp.g);
    glp_scale_prob(lp.g, GLP_SF_AUTO);
    method = GLP_PRIMAL;
    if (c->cold_start || lp_crash_basis(&lp, p, t) != 0) {
        glp_std_basis(lp.g);
        method = GLP_DUALP;
    }
    t1 = tg_now_ms();
    out->build_ms = t1 - t0;

    /* 1: the shortest makespan the budget allows */
    lp_objective(&lp, p->n, 0);
    rc = lp_solve(&lp, method, "minimise the makespan", err);
    if (rc == 1) { /* r = 0 with late enough starts is always feasible: a solver fault */
        tg_error_set(err, "solver", "GLPK found the makespan LP infeasible");
        rc = TG_EINTERNAL;
    }
    if (rc)
        goto fail;
    tmin = glp_get_col_prim(lp.g, lp.tcol);
    out->first_ms = tg_now_ms() - t1;
    t1 = tg_now_ms();
    if (c->deadline > 0) {
        /* 2: the least freezing that meets the deadline, 3: the shortest makespan at it */
        glp_set_col_bnds(lp.g, lp.tcol, GLP_DB, 0.0, c->deadline);
        lp_objective(&lp, p->n, 1);
        rc = lp_solve(&lp, GLP_PRIMAL, "minimise freezing under the deadline", err);
        if (rc == 1) {
            tg_error_set(err, "infeasible",
                         "the LP is infeasible: deadline %g cannot be met; with every stage's "
                         "mean freeze ratio <= r_max %g the shortest makespan is %.6g",
                         c->deadline, c->r_max, tmin);
            rc = TG_EINVAL;
        }
        if (rc)
            goto fail;
        total = glp_get_obj_val(lp.g);
        {
            int row = glp_add_rows(lp.g, 1), *idx = malloc((size_t)(p->n + 1) * sizeof(int));
            double *val = malloc((size_t)(p->n + 1) * sizeof(double));
            int k = 0;

            if (!idx || !val) {
                free(idx);
                free(val);
                rc = TG_ENOMEM;
                goto fail;
            }
            for (int i = 0; i < p->n; i++)
                if (lp.rcol[i]) {
                    k++;
                    idx[k] = lp.rcol[i], val[k] = 1.0;
                }
            glp_set_mat_row(lp.g, row, k, idx, val);
            glp_set_row_bnds(lp.g, row, k ? GLP_UP : GLP_FR, 0.0, total);
            glp_set_row_stat(lp.g, row, GLP_BS);
            free(idx);
            free(val);
        }
        lp_objective(&lp, p->n, 0);
        rc = lp_solve(&lp, GLP_PRIMAL, "minimise the makespan at the least freezing", err);
        if (rc)
            goto fail_solver;
    } else {
        /* 2: at the shortest makespan, the least freezing */
        glp_set_col_bnds(lp.g, lp.tcol, tmin > 0 ? GLP_DB : GLP_FX, 0.0, tmin);
        lp_objective(&lp, p->n, 1);
        rc = lp_solve(&lp, GLP_PRIMAL, "minimise freezing at the shortest makespan", err);
        if (rc)
            goto fail_solver;
    }
    out->makespan = glp_get_col_prim(lp.g, lp.tcol);
    for (int i = 0; i < p->n; i++)
        out->ratio[i] = lp.rcol[i] ? snap01(glp_get_col_prim(lp.g, lp.rcol[i])) : 0.0;
    for (int s = 0; s < p->stages; s++)
        out->stage_ratio[s] = freeze_plan_mean(p, t, out->ratio, s);
    out->mean_ratio = freeze_plan_mean(p, t, out->ratio, -1);
    for (int i = 0; i < p->n; i++)
        out->total_ratio += out->ratio[i];
    out->second_ms = tg_now_ms() - t1;
    lp_free(&lp);
    return 0;
fail_solver:
    if (rc == 1) {
        tg_error_set(err, "solver", "GLPK found a re-solve infeasible that was feasible before");
        rc = TG_EINTERNAL;
    }
fail:
    if (rc == TG_ENOMEM)
        tg_error_set(err, TG_CODE_NOMEM, "out of memory building the LP of %d actions", p->n);
    lp_free(&lp);
    freeze_plan_free(out);
    return rc;
}

/* ---- comparison ------------------------------------------------------------------------------ */

const char *freeze_policy_name(enum freeze_policy k) {
    static const char *const names[FREEZE_POLICIES] = {"none", "uniform", "lp"};

    return k >= 0 && k < FREEZE_POLICIES ? names[k] : "?";
}

void freeze_compare_free(struct freeze_compare *cmp) {
    if (!cmp)
        return;
    for (int k = 0; k < FREEZE_POLICIES; k++) {
        if (k != FREEZE_LP)
            free(cmp->ratio[k]);
        pipesim_result_free(&cmp->sim[k]);
    }
    freeze_plan_free(&cmp->plan);
    memset(cmp, 0, sizeof(*cmp));
}

int freeze_compare_run(const struct pipeline *p, const struct pipeline_times *t,
                       const struct freeze_plan_config *c, struct freeze_compare *out,
                       struct tg_error *err) {
    int rc;

    memset(out, 0, sizeof(*out));
    rc = freeze_plan_solve(p, t, c, &out->plan, err);
    if (rc)
        return rc;
    out->ratio[FREEZE_NONE] = calloc((size_t)p->n, sizeof(double));
    out->ratio[FREEZE_UNIFORM] = malloc((size_t)p->n * sizeof(double));
    out->ratio[FREEZE_LP] = out->plan.ratio;
    if (!out->ratio[FREEZE_NONE] || !out->ratio[FREEZE_UNIFORM]) {
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
        rc = TG_ENOMEM;
        goto fail;
    }
    freeze_plan_uniform(p, t, c->r_max, out->ratio[FREEZE_UNIFORM]);
    for (int k = 0; k < FREEZE_POLICIES; k++) {
        rc = pipesim_run(p, t, out->ratio[k], &out->sim[k], err);
        if (rc)
            goto fail;
        out->mean_ratio[k] = freeze_plan_mean(p, t, out->ratio[k], -1);
        out->skipped[k] = freeze_plan_skipped(p, t, out->ratio[k]);
    }
    return 0;
fail:
    freeze_compare_free(out);
    return rc;
}

/* ---- output ---------------------------------------------------------------------------------- */

/* json_real of v, or NULL; objects built with _new setters ignore NULL by failing the set */
static int put_num(json_t *o, const char *k, double v) {
    return json_object_set_new(o, k, json_real(v));
}

json_t *freeze_compare_json(const struct pipeline *p, const struct pipeline_times *t,
                            const struct freeze_plan_config *c, const struct freeze_compare *cmp) {
    json_t *o = json_object(), *sr = json_array(), *fr = json_array(), *rows = json_array();
    json_t *acts = json_array();
    const struct pipesim_result *sim = &cmp->sim[FREEZE_LP];
    const double *r = cmp->plan.ratio;
    int bad = !o || !sr || !fr || !rows || !acts;
    int M = p->microbatches;

    if (bad)
        goto fail;
    bad |= json_object_set_new(o, "schedule", json_string(pipeline_kind_name(p->kind)));
    bad |= json_object_set_new(o, "stages", json_integer(p->stages));
    bad |= json_object_set_new(o, "microbatches", json_integer(M));
    bad |= put_num(o, "r_max", c->r_max);
    if (c->deadline > 0)
        bad |= put_num(o, "deadline", c->deadline);
    bad |= json_object_set_new(o, "unit", json_string(t->unit));
    bad |= put_num(o, "comm", t->comm);
    bad |= put_num(o, "makespan", cmp->plan.makespan);
    bad |= put_num(o, "mean_freeze_ratio", cmp->plan.mean_ratio);
    for (int s = 0; s < p->stages; s++) {
        json_t *row = json_array();

        bad |= json_array_append_new(sr, json_real(cmp->plan.stage_ratio[s]));
        for (int m = 0; m < M; m++)
            bad |= json_array_append_new(row, json_real(r[p->bwd[s * M + m]]));
        bad |= json_array_append_new(fr, row);
    }
    bad |= json_object_set(o, "stage_freeze_ratio", sr);
    bad |= json_object_set(o, "freeze_ratio", fr);
    for (int k = 0; k < FREEZE_POLICIES; k++) {
        json_t *row = json_object();

        bad |= json_object_set_new(row, "plan", json_string(freeze_policy_name(k)));
        bad |= put_num(row, "makespan", cmp->sim[k].makespan);
        bad |= put_num(row, "mean_freeze_ratio", cmp->mean_ratio[k]);
        bad |= put_num(row, "backward_skipped", cmp->skipped[k]);
        bad |= put_num(row, "wall_saved", cmp->sim[FREEZE_NONE].makespan - cmp->sim[k].makespan);
        bad |= put_num(row, "bubble", cmp->sim[k].bubble);
        bad |= json_array_append_new(rows, row);
    }
    bad |= json_object_set(o, "compare", rows);
    for (int i = 0; i < p->n; i++) {
        json_t *a = json_object();
        const struct pipeline_action *pa = &p->act[i];

        bad |= json_object_set_new(a, "stage", json_integer(pa->stage));
        bad |= json_object_set_new(a, "op", json_string(pa->op == PIPELINE_FWD ? "F" : "B"));
        bad |= json_object_set_new(a, "microbatch", json_integer(pa->mb));
        bad |= put_num(a, "start", sim->start[i]);
        bad |= put_num(a, "duration", sim->finish[i] - sim->start[i]);
        bad |= put_num(a, "freeze_ratio", r[i]);
        bad |= json_object_set_new(a, "critical", json_boolean(sim->critical[i]));
        bad |= json_array_append_new(acts, a);
    }
    bad |= json_object_set(o, "actions", acts);
    if (bad)
        goto fail;
    json_decref(sr);
    json_decref(fr);
    json_decref(rows);
    json_decref(acts);
    return o;
fail:
    json_decref(o);
    json_decref(sr);
    json_decref(fr);
    json_decref(rows);
    json_decref(acts);
    return NULL;
}

void freeze_compare_print(FILE *f, const struct pipeline *p, const struct pipeline_times *t,
                          const struct freeze_plan_config *c, const struct freeze_compare *cmp) {
    const char *u = t->unit[0] ? t->unit : "time";

    fprintf(f, "%s, %d stages, %d micro-batches, r_max %g", pipeline_kind_name(p->kind), p->stages,
            p->microbatches, c->r_max);
    if (c->deadline > 0)
        fprintf(f, ", deadline %g", c->deadline);
    fprintf(f, " (times in %s)\n", u);
    fprintf(f, "%-8s %12s %10s %12s %12s %8s\n", "plan", "makespan", "mean_r", "bwd_skipped",
            "wall_saved", "bubble");
    for (int k = 0; k < FREEZE_POLICIES; k++)
        fprintf(f, "%-8s %12.4f %10.4f %12.4f %12.4f %7.1f%%\n", freeze_policy_name(k),
                cmp->sim[k].makespan, cmp->mean_ratio[k], cmp->skipped[k],
                cmp->sim[FREEZE_NONE].makespan - cmp->sim[k].makespan, 100.0 * cmp->sim[k].bubble);
}
