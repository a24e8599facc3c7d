/*
 * pipe_sim.h — an event simulator that executes a pipeline schedule with given freeze ratios,
 * and the critical path of the run.
 *
 * Each stage is a worker that runs its actions in schedule order, one at a time, never
 * idling while its next action is ready. An action is ready when its cross-stage input has
 * arrived: `comm` after the neighbouring action finished. Events (an action finishing, an
 * input arriving) are processed in time order, ties by the order they were raised, so a run
 * is deterministic. The result is the earliest-start schedule of the DAG.
 *
 * The critical path: an action is critical when its slack is zero, i.e. delaying it by any
 * amount delays the end of the batch (latest finish - earliest finish <= 1e-9 * makespan).
 * Shortening an action that is not critical cannot shorten the batch.
 *
 * Does: simulate, report start/finish times, makespan, per-stage busy time, critical actions.
 * Does not: choose freeze ratios (freeze_plan.h) or draw (gantt.h).
 * Thread-safety: pure apart from the result it allocates.
 */
#ifndef TG_PIPE_SIM_H
#define TG_PIPE_SIM_H

#include "base/tg.h"
#include "policy/pipeline.h"

struct pipesim_result {
    int n;                   /* actions */
    int stages;              /* S */
    double *start;           /* (n) */
    double *finish;          /* (n) */
    unsigned char *critical; /* (n) 1 on a critical path */
    double *busy;            /* (S) time each stage spends computing */
    double makespan;         /* the last finish */
    double bubble;           /* idle share: 1 - sum(busy) / (S * makespan); 0 if makespan is 0 */
};

/*
 * pipesim_run — execute p with times t and freeze ratios ratio ((n), borrowed, values in
 * [0, 1]; NULL = no freezing). Fills *out (its arrays are new: pipesim_result_free).
 * Returns 0, TG_ENOMEM, or TG_EINTERNAL if the schedule stalls (it cannot for schedules
 * pipeline_build makes). t must have passed pipeline_times_check with t->stages == p->stages.
 */
int pipesim_run(const struct pipeline *p, const struct pipeline_times *t, const double *ratio,
                struct pipesim_result *out, struct tg_error *err);

/* pipesim_result_free — free the arrays; accepts NULL and a zeroed result. */
void pipesim_result_free(struct pipesim_result *r);

#endif
