/*
 * freeze_plan.h — TimelyFreeze's planner (arXiv 2602.05754): per-action freeze ratios from a
 * linear program over a pipeline schedule's action DAG, solved with GLPK, and the comparison
 * with no freezing and uniform freezing.
 *
 * Skipping part of a backward (freezing a share r of the stage's parameters for that
 * micro-batch) saves wall-clock time only where that backward is on the critical path of the
 * schedule; elsewhere it just lengthens a bubble. So the ratios come from the LP
 *
 *   variables  t_i >= 0       start of action i (every forward and backward)
 *              r_i in [0, 1]  freeze ratio of backward i (stages with w_max > w_min)
 *              T              makespan of the batch
 *   duration   d_i = forward_s for a forward; w_max_s - r_i (w_max_s - w_min_s) for a backward
 *   edges      t_j >= t_i + d_i           i before j on the same stage
 *              t_j >= t_i + d_i + comm    i -> j across stages (F(s)->F(s+1), B(s)->B(s-1))
 *              T   >= t_i + d_i           i the last action of its stage
 *   budget     (1/M) sum_m r_(s,m) <= r_max   for every stage s
 *
 * solved lexicographically: (1) minimise T; (2) with T held at that minimum, minimise the
 * total freezing sum_i r_i. With a deadline the order turns around: (1) minimise the total
 * freezing subject to T <= deadline (infeasible when even the budget cannot reach it); (2)
 * at that freezing, minimise T.
 *
 * Mean freeze ratios (a stage's, the plan's) average over freezable backwards only: a stage
 * with w_max == w_min has nothing to freeze and counts in neither.
 *
 * Does: build and solve the LP, apply uniform freezing, simulate the three plans, render the
 * result as JSON and a text table. Does not: parse options, draw (gantt.h), or touch a model.
 * Thread-safety: GLPK keeps per-thread state; do not run two solves on one thread at once.
 */
#ifndef TG_FREEZE_PLAN_H
#define TG_FREEZE_PLAN_H

#include <jansson.h>
#include <stdio.h>

#include "base/tg.h"
#include "policy/pipe_sim.h"
#include "policy/pipeline.h"

struct freeze_plan_config {
    double r_max;    /* each stage's mean freeze ratio is at most this, in [0, 1] (0.9) */
    double deadline; /* > 0: least freezing with makespan <= deadline; 0: shortest makespan */
    int cold_start;  /* 1: first solve from GLPK's standard basis (slower; a bench baseline) */
};

struct freeze_plan {
    int n;               /* actions */
    int stages;          /* S */
    double *ratio;       /* (n) freeze ratio per action; 0 for forwards and unfreezable ones */
    double *stage_ratio; /* (S) each stage's mean freeze ratio */
    double mean_ratio;   /* the mean over every freezable backward */
    double total_ratio;  /* sum of the ratios: the LP's second objective */
    double makespan;     /* the LP's T */
    int lp_rows;         /* constraints */
    int lp_cols;         /* variables */
    double build_ms;     /* wall time building the LP and its first basis (timings are not */
    double first_ms;     /* deterministic: never in the JSON), the shortest-makespan solve, */
    double second_ms;    /* and the solve(s) after it */
};

/* freeze_plan_config_default — r_max 0.9, no deadline. */
struct freeze_plan_config freeze_plan_config_default(void);

/* freeze_plan_config_check — 0, or TG_EINVAL with *err {"r_max" | "deadline", why}. */
int freeze_plan_config_check(const struct freeze_plan_config *c, struct tg_error *err);

/*
 * freeze_plan_solve — solve the LP for p with times t (t->stages must equal p->stages; the
 * caller checks it, see freeze_plan_check_times). Fills *out (arrays new: freeze_plan_free).
 * Returns 0; TG_EINVAL with *err {"infeasible", "... deadline ..."} when the deadline cannot
 * be met; TG_EINVAL for a bad config; TG_ENOMEM; TG_EINTERNAL when GLPK fails.
 */
int freeze_plan_solve(const struct pipeline *p, const struct pipeline_times *t,
                      const struct freeze_plan_config *c, struct freeze_plan *out,
                      struct tg_error *err);

/* freeze_plan_free — free the arrays; accepts NULL and a zeroed plan. */
void freeze_plan_free(struct freeze_plan *plan);

/* freeze_plan_check_times — 0 when t describes exactly p's stages, else TG_EINVAL with
 * *err {"stages", "the times file lists 3 stages but the pipeline has 4"}. */
int freeze_plan_check_times(const struct pipeline *p, const struct pipeline_times *t,
                            struct tg_error *err);

/* freeze_plan_uniform — ratio[(n)] := r for every freezable backward, 0 elsewhere. */
void freeze_plan_uniform(const struct pipeline *p, const struct pipeline_times *t, double r,
                         double *ratio);

/* freeze_plan_mean — mean of ratio over the freezable backwards of `stage` (-1: of all
 * stages); 0 when there are none. */
double freeze_plan_mean(const struct pipeline *p, const struct pipeline_times *t,
                        const double *ratio, int stage);

/* freeze_plan_skipped — backward time skipped: sum of r_i (w_max - w_min) (compute saved). */
double freeze_plan_skipped(const struct pipeline *p, const struct pipeline_times *t,
                           const double *ratio);

/* ---- the comparison the command prints ------------------------------------------------------ */

enum freeze_policy { FREEZE_NONE = 0, FREEZE_UNIFORM = 1, FREEZE_LP = 2, FREEZE_POLICIES = 3 };

struct freeze_compare {
    struct freeze_plan plan;                    /* the LP plan */
    double *ratio[FREEZE_POLICIES];             /* (n) each policy's ratios; [LP] = plan.ratio */
    struct pipesim_result sim[FREEZE_POLICIES]; /* each policy simulated */
    double mean_ratio[FREEZE_POLICIES];
    double skipped[FREEZE_POLICIES]; /* backward time skipped (compute saved) */
};

/* freeze_policy_name — "none", "uniform", "lp". */
const char *freeze_policy_name(enum freeze_policy k);

/*
 * freeze_compare_run — solve the LP, and simulate no freezing, uniform freezing at c->r_max
 * and the LP plan. *out is filled (free with freeze_compare_free). Errors as
 * freeze_plan_solve, plus freeze_plan_check_times's.
 */
int freeze_compare_run(const struct pipeline *p, const struct pipeline_times *t,
                       const struct freeze_plan_config *c, struct freeze_compare *out,
                       struct tg_error *err);

/* freeze_compare_free — accepts NULL and a zeroed struct. */
void freeze_compare_free(struct freeze_compare *cmp);

/*
 * freeze_compare_json — the result as a new JSON object: schedule, sizes, r_max, the LP's
 * makespan and mean ratio, stage ratios, "freeze_ratio" (S rows of M per-micro-batch backward
 * ratios), "compare" (one row per policy) and "actions" (each action of the LP plan with
 * start, duration, freeze ratio, critical). NULL on out of memory.
 */
json_t *freeze_compare_json(const struct pipeline *p, const struct pipeline_times *t,
                            const struct freeze_plan_config *c, const struct freeze_compare *cmp);

/* freeze_compare_print — the comparison as a text table on f: one row per policy with
 * makespan, mean freeze ratio, backward time skipped, wall-clock saved and bubble share. */
void freeze_compare_print(FILE *f, const struct pipeline *p, const struct pipeline_times *t,
                          const struct freeze_plan_config *c, const struct freeze_compare *cmp);

#endif
