/*
 * cmd_plan_freeze.c — `toolgym plan-freeze`: read per-stage times, build the schedule's
 * action DAG, solve the freeze-ratio LP, print the plan (JSON, stdout) and the comparison
 * with no freezing and uniform freezing (table, stderr), and optionally draw a Gantt chart.
 *
 * Only option parsing and output live here; the model is policy/freeze_plan.h.
 */
#include "cmd/cmd.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "base/limits.h"
#include "base/tg.h"
#include "cmd/opt.h"
#include "policy/freeze_plan.h"
#include "policy/gantt.h"
#include "policy/pipeline.h"

#define PF "toolgym plan-freeze"

struct pf_opts {
    const char *schedule;
    const char *times;
    const char *svg;
    int stages;
    int microbatches;
    struct freeze_plan_config cfg;
};

static const char pf_notes[] =
    "--times FILE is a JSON object {\"unit\": \"ms\", \"comm\": 0, \"stages\": [{\"forward\": F,\n"
    "\"w_max\": B, \"w_min\": b}, ...]} (w_max: backward unfrozen, w_min: fully frozen).\n"
    "--deadline T asks, instead of the shortest makespan, for the least freezing whose makespan\n"
    "is at most T (an error if no plan reaches T). 1f1b needs microbatches >= stages.\n"
    "Prints the plan as JSON on stdout and the comparison table on stderr. See "
    "docs/freezing.md.\n";

/* OPT_RUN, or the exit status after --help, --version or a usage error (printed) */
static int parse_opts(int argc, char **argv, struct pf_opts *o) {
    /* clang-format off */
    struct opt opts[] = {
        {.name = "--schedule", .kind = OPT_CHOICE, .dst = &o->schedule, .meta = "KIND",
         .choices = "gpipe|1f1b", .def = "none, required", .help = "pipeline schedule"},
        {.name = "--stages", .kind = OPT_INT, .dst = &o->stages, .meta = "S", .lo = 1,
         .hi = TG_PIPE_STAGES_MAX, .def = "none, required", .help = "pipeline stages"},
        {.name = "--microbatches", .kind = OPT_INT, .dst = &o->microbatches, .meta = "M", .lo = 1,
         .hi = TG_PIPE_MICROBATCHES_MAX, .def = "none, required",
         .help = "micro-batches per batch"},
        {.name = "--times", .kind = OPT_STR, .dst = &o->times, .meta = "FILE",
         .def = "none, required", .help = "per-stage times (JSON, below)"},
        {.name = "--r-max", .kind = OPT_DOUBLE, .dst = &o->cfg.r_max, .meta = "R", .lo = 0, .hi = 1,
         .help = "each stage's mean freeze ratio is at most R"},
        {.name = "--deadline", .kind = OPT_DOUBLE, .dst = &o->cfg.deadline, .meta = "T",
         .lo = 1e-12, .hi = (double)TG_PIPE_TIME_MAX * TG_PIPE_ACTIONS_MAX, .def = "none",
         .help = "the least freezing with makespan <= T"},
        {.name = "--svg", .kind = OPT_STR, .dst = &o->svg, .meta = "FILE",
         .help = "write a Gantt chart (no freezing, uniform, LP plan)"},
    };
    /* clang-format on */
    struct opt_cmd cmd = {
        .name = PF,
        .summary =
            "Plan per-action freeze ratios for a pipeline-parallel schedule (an LP on GLPK).",
        .opts = opts,
        .nopts = TG_ARRAY_LEN(opts),
        .notes = pf_notes};
    int rc;

    o->cfg = freeze_plan_config_default();
    rc = opt_parse(&cmd, argc, argv, NULL, 0, NULL);
    if (rc != OPT_RUN)
        return rc;
    for (size_t i = 0; i < 4; i++) /* the first four rows are required */
        if (!opts[i].given)
            return opt_error(&cmd, "%s %s is required (see " PF " --help)", opts[i].name,
                             opts[i].meta);
    return OPT_RUN;
}

static int write_svg(const char *path, const struct pipeline *p, const struct pipeline_times *t,
                     const struct freeze_plan_config *c, const struct freeze_compare *cmp,
                     struct tg_error *err) {
    char title[160], tt[FREEZE_POLICIES][128];
    struct gantt_panel panels[FREEZE_POLICIES];
    static const char *const label[FREEZE_POLICIES] = {"no freezing", "uniform freezing",
                                                       "LP plan"};

    snprintf(title, sizeof(title), "%s, %d stages x %d micro-batches, r_max %g%s",
             pipeline_kind_name(p->kind), p->stages, p->microbatches, c->r_max,
             c->deadline > 0 ? " (with a deadline)" : "");
    for (int k = 0; k < FREEZE_POLICIES; k++) {
        snprintf(tt[k], sizeof(tt[k]), "%s: makespan %.4g %s, mean freeze ratio %.3f", label[k],
                 cmp->sim[k].makespan, t->unit, cmp->mean_ratio[k]);
        panels[k] = (struct gantt_panel){tt[k], cmp->ratio[k], &cmp->sim[k]};
    }
    return gantt_write(path, title, p, t, panels, FREEZE_POLICIES, err);
}

/* the option a library error code refers to, for the message */
static const char *option_of(const char *code) {
    if (strcmp(code, "stages") == 0)
        return "--stages: ";
    if (strcmp(code, "microbatches") == 0)
        return "--microbatches: ";
    if (strcmp(code, "schedule") == 0)
        return "--schedule: ";
    if (strcmp(code, "times") == 0)
        return "--times: ";
    if (strcmp(code, "infeasible") == 0)
        return "--deadline: ";
    if (strcmp(code, "svg") == 0)
        return "--svg: ";
    return "";
}

int cmd_plan_freeze(int argc, char **argv) {
    struct pf_opts o = {0};
    struct pipeline_times times;
    struct pipeline *p = NULL;
    struct freeze_compare cmp = {0};
    struct tg_error err = {{0}, {0}};
    enum pipeline_kind kind;
    json_t *out = NULL;
    int rc;

    rc = parse_opts(argc, argv, &o);
    if (rc != OPT_RUN)
        return rc;
    rc = pipeline_kind_parse(o.schedule, &kind, &err);
    if (rc) {
        fprintf(stderr, PF ": --schedule: %s\n", err.message);
        return 2;
    }
    rc = pipeline_times_load(o.times, &times, &err);
    if (!rc)
        rc = pipeline_build(kind, o.stages, o.microbatches, &p, &err);
    if (!rc)
        rc = freeze_plan_check_times(p, &times, &err);
    if (!rc)
        rc = freeze_compare_run(p, &times, &o.cfg, &cmp, &err);
    if (!rc && o.svg)
        rc = write_svg(o.svg, p, &times, &o.cfg, &cmp, &err);
    if (!rc) {
        out = freeze_compare_json(p, &times, &o.cfg, &cmp);
        if (!out) {
            tg_error_set(&err, TG_CODE_NOMEM, "out of memory writing the plan");
            rc = TG_ENOMEM;
        }
    }
    if (rc) {
        fprintf(stderr, PF ": %s%s\n", option_of(err.code), err.message);
        goto done;
    }
    if (json_dumpf(out, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) != 0 ||
        fputc('\n', stdout) == EOF || fflush(stdout) != 0) {
        fprintf(stderr, PF ": cannot write the plan to stdout\n");
        rc = TG_EIO;
        goto done;
    }
    freeze_compare_print(stderr, p, &times, &o.cfg, &cmp);
done:
    json_decref(out);
    freeze_compare_free(&cmp);
    pipeline_free(p);
    return rc ? 1 : 0;
}
