/*
 * cmd_lr_trace.c — `toolgym lr-trace`: replay a metric the user already has (one number per
 * line) through GreedyLR and print the lr after each step, then a `#` summary line.
 *
 * Only option parsing and output live here; the schedule is policy/sched.h, the file format
 * base/series.h. The flags are the reference's parameter names (smooth and window_size are
 * one flag, --smooth-window N, 0 for no smoothing).
 */
#include "cmd/cmd.h"

#include <float.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "base/num.h"
#include "base/series.h"
#include "base/tg.h"
#include "policy/sched.h"

#define LT "toolgym lr-trace"

static void usage(FILE *f) {
    fprintf(f,
            "usage: toolgym lr-trace --signal FILE --lr X [--preset reference|trainer]\n"
            "                        [--mode min|max] [--factor F] [--patience N]\n"
            "                        [--threshold T] [--threshold-mode rel|abs] [--cooldown N]\n"
            "                        [--warmup N] [--min-lr A] [--max-lr B] [--eps E]\n"
            "                        [--smooth-window N] [--reset-start N]\n"
            "                        [--initial-hold N] [--threshold-signed]\n"
            "Replays a metric through GreedyLR and prints the lr after each step, one per\n"
            "line, then a summary line starting with '#'.\n"
            "  --signal FILE       one number per line ('-': stdin); blank and '#' lines skipped\n"
            "  --lr X              the initial lr\n"
            "  --preset NAME       reference: the reference implementation's defaults;\n"
            "                      trainer (default): toolgym train's GreedyLR settings.\n"
            "                      The flags below override the preset, in any order.\n"
            "  --mode              min: lower is better; max: higher is better\n"
            "  --factor F          lr * F after a plateau, lr / F after improvement; (0, 1)\n"
            "  --patience N        a change needs N + 1 steps better (or not) in a row\n"
            "  --threshold T       how much better than the best a value must be\n"
            "  --threshold-mode    rel: T is a fraction of the best; abs: T is absolute\n"
            "  --cooldown N        steps held after each decrease\n"
            "  --warmup N          steps held after each increase\n"
            "  --min-lr, --max-lr  the lr bounds\n"
            "  --eps E             a change of at most E is skipped\n"
            "  --smooth-window N   compare the mean of the last N values (0: no smoothing)\n"
            "  --reset-start N     back to --lr after N decreases at min-lr (0: never)\n"
            "  --initial-hold N    toolgym's own: hold the first N steps\n"
            "  --threshold-signed  toolgym's own: in rel mode the margin is T * |best|\n"
            "See docs/trainer.md (GreedyLR).\n");
}

/* How a flag's value is read into struct sched_greedy_config. */
enum opt_kind { O_DBL, O_INT, O_MODE, O_TMODE, O_WINDOW, O_FLAG };

struct opt {
    const char *flag;
    enum opt_kind kind;
    size_t off; /* in struct sched_greedy_config (not O_WINDOW) */
};

#define G(field) offsetof(struct sched_greedy_config, field)

static const struct opt opts[] = {
    {"--lr", O_DBL, G(lr)},
    {"--mode", O_MODE, G(mode)},
    {"--factor", O_DBL, G(factor)},
    {"--patience", O_INT, G(patience)},
    {"--threshold", O_DBL, G(threshold)},
    {"--threshold-mode", O_TMODE, G(threshold_mode)},
    {"--cooldown", O_INT, G(cooldown)},
    {"--warmup", O_INT, G(warmup)},
    {"--min-lr", O_DBL, G(min_lr)},
    {"--max-lr", O_DBL, G(max_lr)},
    {"--eps", O_DBL, G(eps)},
    {"--smooth-window", O_WINDOW, 0},
    {"--reset-start", O_INT, G(reset_start)},
    {"--initial-hold", O_INT, G(initial_hold)},
    {"--threshold-signed", O_FLAG, G(threshold_signed)},
};

#undef G

static const struct opt *find_opt(const char *flag) {
    for (size_t i = 0; i < TG_ARRAY_LEN(opts); i++)
        if (strcmp(flag, opts[i].flag) == 0)
            return &opts[i];
    return NULL;
}

/* apply flag o with value v (NULL for O_FLAG) to *c; 0, or 2 with the error printed */
static int apply(const struct opt *o, const char *v, struct sched_greedy_config *c) {
    char *base = (char *)c + o->off;
    struct tg_error err;
    double d;
    long n;
    int i;

    switch (o->kind) {
    case O_DBL:
        if (num_double(v, -DBL_MAX, DBL_MAX, &d) != 0) {
            fprintf(stderr, LT ": %s: '%.64s' is not a number\n", o->flag, v);
            return 2;
        }
        memcpy(base, &d, sizeof(d));
        return 0;
    case O_INT:
        if (num_long(v, INT_MIN, INT_MAX, &n) != 0) {
            fprintf(stderr, LT ": %s: '%.64s' is not a whole number\n", o->flag, v);
            return 2;
        }
        i = (int)n;
        memcpy(base, &i, sizeof(i));
        return 0;
    case O_WINDOW:
        if (num_long(v, 0, TG_SCHED_WINDOW_MAX, &n) != 0) {
            fprintf(stderr, LT ": %s: '%.64s' must be a whole number from 0 (no smoothing) to %d\n",
                    o->flag, v, TG_SCHED_WINDOW_MAX);
            return 2;
        }
        c->smooth = n > 0;
        if (n > 0)
            c->window_size = (int)n;
        return 0;
    case O_MODE:
        if (sched_mode_parse(v, &c->mode, &err) != 0) {
            fprintf(stderr, LT ": %s: %s\n", o->flag, err.message);
            return 2;
        }
        return 0;
    case O_TMODE:
        if (sched_threshold_mode_parse(v, &c->threshold_mode, &err) != 0) {
            fprintf(stderr, LT ": %s: %s\n", o->flag, err.message);
            return 2;
        }
        return 0;
    case O_FLAG:
        i = 1;
        memcpy(base, &i, sizeof(i));
        return 0;
    }
    return 2;
}

struct lt_opts {
    const char *signal;
    int have_lr;
    struct sched_greedy_config cfg;
};

/* 0 ok, 1 --help printed, 2 usage error (printed). Two passes: the preset first, so the
 * other flags override it wherever they stand. */
static int parse_opts(int argc, char **argv, struct lt_opts *o) {
    const char *preset = "trainer";
    struct sched_greedy_config tmp;
    struct tg_error err;

    for (int i = 1; i < argc; i++) {
        const struct opt *op = find_opt(argv[i]);
        int takes = !(op && op->kind == O_FLAG);

        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 1;
        }
        if (!op && strcmp(argv[i], "--signal") != 0 && strcmp(argv[i], "--preset") != 0) {
            fprintf(stderr, LT ": unknown option %s (toolgym lr-trace --help)\n", argv[i]);
            return 2;
        }
        if (takes && i + 1 >= argc) {
            fprintf(stderr, LT ": %s needs a value\n", argv[i]);
            return 2;
        }
        if (strcmp(argv[i], "--preset") == 0)
            preset = argv[i + 1];
        i += takes;
    }
    if (sched_greedy_preset(preset, &o->cfg, &err) != 0) {
        fprintf(stderr, LT ": --preset: %s\n", err.message);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        const struct opt *op = find_opt(argv[i]);

        if (!op) { /* --signal or --preset */
            if (strcmp(argv[i], "--signal") == 0)
                o->signal = argv[i + 1];
            i++;
            continue;
        }
        if (apply(op, op->kind == O_FLAG ? NULL : argv[i + 1], &o->cfg) != 0)
            return 2;
        o->have_lr |= strcmp(op->flag, "--lr") == 0;
        i += op->kind != O_FLAG;
    }
    if (!o->signal || !o->have_lr) {
        fprintf(stderr, LT ": missing %s (toolgym lr-trace --help)\n",
                !o->signal ? "--signal FILE" : "--lr X");
        return 2;
    }
    /* every other setting first (checked with an lr inside the bounds), then the lr, whose
     * bounds may come from the preset rather than from a flag */
    tmp = o->cfg;
    tmp.lr = tmp.max_lr;
    if (sched_greedy_check(&tmp, &err) != 0) {
        fprintf(stderr, LT ": %s\n", err.message);
        return 2;
    }
    if (!(o->cfg.lr >= o->cfg.min_lr && o->cfg.lr <= o->cfg.max_lr)) {
        fprintf(stderr,
                LT ": --lr %g is outside [min_lr %g, max_lr %g] (%s preset; set --min-lr or "
                   "--max-lr)\n",
                o->cfg.lr, o->cfg.min_lr, o->cfg.max_lr, preset);
        return 2;
    }
    return 0;
}

int cmd_lr_trace(int argc, char **argv) {
    struct lt_opts o;
    struct series sig;
    struct sched_greedy s;
    struct tg_error err;
    int rc;

    memset(&o, 0, sizeof(o));
    rc = parse_opts(argc, argv, &o);
    if (rc)
        return rc == 1 ? 0 : 2;
    rc = series_load(o.signal, &sig, &err);
    if (rc) {
        fprintf(stderr, LT ": %s\n", err.message);
        return 1;
    }
    rc = sched_greedy_init(&s, &o.cfg, &err);
    TG_ASSERT(rc == 0); /* checked by parse_opts */
    for (size_t i = 0; i < sig.n; i++)
        printf("%.10g\n", sched_greedy_step(&s, sig.v[i]));
    printf("# steps %zu, changes %ld (up %ld, down %ld), resets %ld, final lr %.10g\n", sig.n,
           s.ups + s.downs, s.ups, s.downs, s.resets, s.lr);
    series_free(&sig);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, LT ": cannot write to stdout\n");
        return 1;
    }
    return 0;
}
