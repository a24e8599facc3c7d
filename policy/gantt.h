/*
 * gantt.h — a simulated pipeline run as a Gantt chart in a standalone SVG file.
 *
 * One panel per run (e.g. no freezing, uniform, the LP plan), all on one time axis: a row per
 * stage, a bar per action from its start to its finish. Forwards are blue, backwards orange;
 * a backward's frozen share r is shaded (hatched, r of the bar's height); actions on the
 * critical path have a red outline; a dashed line marks each run's makespan.
 *
 * Does: lay out and write the file. Does not: simulate (pipe_sim.h) or plan.
 * Thread-safety: pure apart from writing the file.
 */
#ifndef TG_GANTT_H
#define TG_GANTT_H

#include "base/tg.h"
#include "policy/pipe_sim.h"
#include "policy/pipeline.h"

#define GANTT_MAX_PANELS 4

struct gantt_panel {
    const char *title;                /* borrowed, plain text */
    const double *ratio;              /* (n) borrowed freeze ratios, or NULL */
    const struct pipesim_result *sim; /* borrowed, a run of the same pipeline */
};

/*
 * gantt_write — write `title` and panels [0, np) of pipeline p (times t, for the unit label)
 * to path (borrowed). Returns 0, TG_EINVAL (np outside 1..GANTT_MAX_PANELS) or TG_EIO, with
 * the reason in *err.
 */
int gantt_write(const char *path, const char *title, const struct pipeline *p,
                const struct pipeline_times *t, const struct gantt_panel *panels, int np,
                struct tg_error *err);

#endif
