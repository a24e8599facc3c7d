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
#include "base/num.h"
#include "base/tg.h"
#include "policy/freeze_plan.h"
#include "policy/gantt.h"
#include "policy/pipeline.h"

#define PF "toolgym plan-freeze"

static void usage(FILE *f) {
    fprintf(f,
            "usage: toolgym plan-freeze --schedule gpipe|1f1b --stages S --microbatches M\n"
            "                           --times FILE.json [--r-max R] [--deadline T] [--svg FILE]\n"
            "  --schedule      pipeline schedule: gpipe, or 1f1b (needs M >= S)\n"
            "  --stages        pipeline stages S (1..%d)\n"
            "  --microbatches  micro-batches per batch M (1..%d)\n"
            "  --times         per-stage times: {\"unit\": \"ms\", \"comm\": 0,\n"
            "                  \"stages\": [{\"forward\": F, \"w_max\": B, \"w_min\": b}, ...]}\n"
            "                  (w_max: backward unfrozen, w_min: fully frozen)\n"
            "  --r-max         each stage's mean freeze ratio is at most R (default 0.9)\n"
            "  --deadline      instead of the shortest makespan: the least freezing whose\n"
            "                  makespan is at most T (an error if no plan reaches T)\n"
            "  --svg           write a Gantt chart (no freezing, uniform, LP plan) to FILE\n"
            "Prints the plan as JSON on stdout and the comparison table on stderr.\n"
            "See docs/freezing.md.\n",
            TG_PIPE_STAGES_MAX, TG_PIPE_MICROBATCHES_MAX);
}

/* a whole decimal integer in [lo, hi] (base/num.h), as an int */
static int parse_int(const char *s, long lo, long hi, int *out) {
    long v;
    int rc = num_long(s, lo, hi, &v);

    if (!rc)
        *out = (int)v;
    return rc;
}

struct pf_opts {
    const char *schedule;
    const char *times;
    const char *svg;
    int stages;
    int microbatches;
    struct freeze_plan_config cfg;
};

/* 0 ok, 1 --help printed, 2 usage error (printed) */
static int parse_opts(int argc, char **argv, struct pf_opts *o) {
    o->cfg = freeze_plan_config_default();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 1;
        }
        if (!v) {
            fprintf(stderr, PF ": %s needs a value\n", a);
            usage(stderr);
            return 2;
        }
        if (strcmp(a, "--schedule") == 0)
            o->schedule = v;
        else if (strcmp(a, "--times") == 0)
            o->times = v;
        else if (strcmp(a, "--svg") == 0)
            o->svg = v;
        else if (strcmp(a, "--stages") == 0)
            bad = parse_int(v, 1, TG_PIPE_STAGES_MAX, &o->stages);
        else if (strcmp(a, "--microbatches") == 0)
            bad = parse_int(v, 1, TG_PIPE_MICROBATCHES_MAX, &o->microbatches);
        else if (strcmp(a, "--r-max") == 0)
            bad = num_double(v, 0.0, 1.0, &o->cfg.r_max);
        else if (strcmp(a, "--deadline") == 0)
            bad = num_double(v, 1e-12, TG_PIPE_TIME_MAX * TG_PIPE_ACTIONS_MAX, &o->cfg.deadline);
        else {
            fprintf(stderr, PF ": unknown option %s\n", a);
            usage(stderr);
            return 2;
        }
        if (bad) {
            char want[48];

            if (strcmp(a, "--stages") == 0 || strcmp(a, "--microbatches") == 0)
                snprintf(want, sizeof(want), "an integer from 1 to %d",
                         a[2] == 's' ? TG_PIPE_STAGES_MAX : TG_PIPE_MICROBATCHES_MAX);
            else
                snprintf(want, sizeof(want), "%s",
                         a[2] == 'r' ? "a number in [0, 1]" : "a positive number");
            fprintf(stderr, PF ": bad value for %s: '%s' (want %s)\n", a, v, want);
            return 2;
        }
        i++;
    }
    if (!o->schedule || !o->stages || !o->microbatches || !o->times) {
        fprintf(stderr, PF ": missing %s\n",
                !o->schedule       ? "--schedule gpipe|1f1b"
                : !o->stages       ? "--stages S"
                : !o->microbatches ? "--microbatches M"
                                   : "--times FILE.json");
        usage(stderr);
        return 2;
    }
    return 0;
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
    if (rc)
        return rc == 1 ? 0 : 2;
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
            tg_error_set(&err, "internal", "out of memory writing the plan");
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
