/*
 * cmd_lr_trace.c — `toolgym lr-trace`: replay a metric the user already has (one number per
 * line) through GreedyLR and print the lr after each step, then a `#` summary line.
 *
 * Only option parsing (the table of cmd/opt.h) and output live here; the schedule is
 * policy/sched.h, the file format base/series.h. The flags are the reference's parameter names
 * (smooth and window_size are one flag, --smooth-window N, 0 for no smoothing).
 */
#include "cmd/cmd.h"

#include <stdio.h>
#include <string.h>

#include "base/series.h"
#include "base/tg.h"
#include "cmd/opt.h"
#include "policy/sched.h"

#define LT "toolgym lr-trace"

#define LR_HI        1e6  /* the largest lr, min_lr or max_lr the flags take */
#define THRESHOLD_HI 1e12 /* the largest threshold (abs: in the metric's unit) */

/* What the command line says. The GreedyLR flags land in g, starting from the trainer preset
 * (so --help shows those values as the defaults); only the flags given override the chosen
 * preset. */
struct lt_flags {
    const char *signal;
    const char *preset;
    const char *mode, *threshold_mode;
    int smooth_window;
    struct sched_greedy_config g;
};

static const char lt_notes[] =
    "Prints the lr after each step, one per line, then '# steps N, changes N (up N, down N),\n"
    "resets N, final lr X'. The defaults above are the trainer preset's; --preset reference\n"
    "starts from the reference implementation's (factor 0.95, patience 10, threshold 1e-6 abs,\n"
    "min-lr 1e-3, max-lr 1, no smoothing, reset-start 500). Flags override the preset wherever\n"
    "they stand. --threshold-signed and --initial-hold are toolgym's own (off in both presets);\n"
    "--reset-start 0 never resets. Rules and settings: docs/trainer.md (GreedyLR).\n";

/* OPT_RUN with *cfg and *signal set, or the exit status after --help or an error (printed) */
static int parse_opts(int argc, char **argv, struct sched_greedy_config *cfg, const char **signal) {
    struct lt_flags f = {.preset = "trainer"};
    struct sched_greedy_config tmp;
    struct tg_error err;
    int rc;

    rc = sched_greedy_preset("trainer", &f.g, NULL);
    TG_ASSERT(rc == 0);
    f.mode = sched_mode_name(f.g.mode);
    f.threshold_mode = sched_threshold_mode_name(f.g.threshold_mode);
    f.smooth_window = f.g.smooth ? f.g.window_size : 0;
    /* clang-format off */
    struct opt opts[] = {
        {.name = "--signal", .kind = OPT_STR, .dst = &f.signal, .meta = "FILE",
         .def = "none, required", .help = "the metric, one number per line ('-': stdin)"},
        {.name = "--lr", .kind = OPT_DOUBLE, .dst = &f.g.lr, .meta = "X", .lo = 0, .hi = LR_HI,
         .def = "none, required", .help = "the initial lr"},
        {.name = "--preset", .kind = OPT_CHOICE, .dst = &f.preset, .meta = "NAME",
         .choices = "reference|trainer", .help = "the settings the flags below start from"},
        {.name = "--mode", .kind = OPT_CHOICE, .dst = &f.mode, .meta = "M", .choices = "min|max",
         .help = "min: lower is better; max: higher is better"},
        {.name = "--factor", .kind = OPT_DOUBLE, .dst = &f.g.factor, .meta = "F", .lo = 0,
         .hi = 1, .help = "lr * F after a plateau, lr / F after improvement; in (0, 1)"},
        {.name = "--patience", .kind = OPT_INT, .dst = &f.g.patience, .meta = "N", .lo = 0,
         .hi = TG_SCHED_COUNT_MAX, .help = "a change needs N + 1 steps in a row"},
        {.name = "--threshold", .kind = OPT_DOUBLE, .dst = &f.g.threshold, .meta = "T", .lo = 0,
         .hi = THRESHOLD_HI, .help = "how much better than the best counts as better"},
        {.name = "--threshold-mode", .kind = OPT_CHOICE, .dst = &f.threshold_mode, .meta = "M",
         .choices = "rel|abs", .help = "rel: T is a fraction of the best (< 1); abs: absolute"},
        {.name = "--cooldown", .kind = OPT_INT, .dst = &f.g.cooldown, .meta = "N", .lo = 0,
         .hi = TG_SCHED_COUNT_MAX, .help = "steps held after each decrease"},
        {.name = "--warmup", .kind = OPT_INT, .dst = &f.g.warmup, .meta = "N", .lo = 0,
         .hi = TG_SCHED_COUNT_MAX, .help = "steps held after each increase"},
        {.name = "--min-lr", .kind = OPT_DOUBLE, .dst = &f.g.min_lr, .meta = "A", .lo = 0,
         .hi = LR_HI, .help = "the lowest lr"},
        {.name = "--max-lr", .kind = OPT_DOUBLE, .dst = &f.g.max_lr, .meta = "B", .lo = 0,
         .hi = LR_HI, .help = "the highest lr (> 0)"},
        {.name = "--eps", .kind = OPT_DOUBLE, .dst = &f.g.eps, .meta = "E", .lo = 0, .hi = 1,
         .help = "a change of at most E is skipped"},
        {.name = "--smooth-window", .kind = OPT_INT, .dst = &f.smooth_window, .meta = "N",
         .lo = 0, .hi = TG_SCHED_WINDOW_MAX, .help = "compare the mean of the last N (0: raw)"},
        {.name = "--reset-start", .kind = OPT_INT, .dst = &f.g.reset_start, .meta = "N", .lo = 0,
         .hi = TG_SCHED_COUNT_MAX, .help = "back to --lr after N decreases at min-lr (0: never)"},
        {.name = "--initial-hold", .kind = OPT_INT, .dst = &f.g.initial_hold, .meta = "N",
         .lo = 0, .hi = TG_SCHED_COUNT_MAX, .help = "toolgym's own: hold the first N steps"},
        {.name = "--threshold-signed", .kind = OPT_FLAG, .dst = &f.g.threshold_signed,
         .help = "toolgym's own: in rel mode the margin is T * |best|"},
    };
    /* clang-format on */
    struct opt_cmd cmd = {.name = LT,
                          .summary = "Replay a metric (a loss or reward curve) through GreedyLR "
                                     "and print the lr after each step.",
                          .opts = opts,
                          .nopts = TG_ARRAY_LEN(opts),
                          .notes = lt_notes};

    rc = opt_parse(&cmd, argc, argv, NULL, 0, NULL);
    if (rc != OPT_RUN)
        return rc;
    for (size_t i = 0; i < 2; i++) /* --signal and --lr are required */
        if (!opts[i].given)
            return opt_error(&cmd, "%s %s is required (see " LT " --help)", opts[i].name,
                             opts[i].meta);
    rc = sched_greedy_preset(f.preset, cfg, &err);
    TG_ASSERT(rc == 0); /* a choice of the table */
    /* the flags given, over the preset: a field of g sits at the same offset in *cfg */
    for (size_t i = 0; i < TG_ARRAY_LEN(opts); i++) {
        char *dst = opts[i].dst;

        if (opts[i].given && dst >= (char *)&f.g && dst < (char *)(&f.g + 1))
            memcpy((char *)cfg + (dst - (char *)&f.g), dst,
                   opts[i].kind == OPT_DOUBLE ? sizeof(double) : sizeof(int));
    }
    if (opt_given(&cmd, "--mode"))
        sched_mode_parse(f.mode, &cfg->mode, NULL);
    if (opt_given(&cmd, "--threshold-mode"))
        sched_threshold_mode_parse(f.threshold_mode, &cfg->threshold_mode, NULL);
    if (opt_given(&cmd, "--smooth-window")) {
        cfg->smooth = f.smooth_window > 0;
        if (f.smooth_window > 0)
            cfg->window_size = f.smooth_window;
    }
    /* every other setting first (checked with an lr inside the bounds), then the lr, whose
     * bounds may come from the preset rather than from a flag */
    tmp = *cfg;
    tmp.lr = tmp.max_lr;
    if (sched_greedy_check(&tmp, &err) != 0)
        return opt_error(&cmd, "%s", err.message);
    if (!(cfg->lr >= cfg->min_lr && cfg->lr <= cfg->max_lr))
        return opt_error(&cmd,
                         "--lr %g is outside [min_lr %g, max_lr %g] (%s preset; set --min-lr or "
                         "--max-lr)",
                         cfg->lr, cfg->min_lr, cfg->max_lr, f.preset);
    *signal = f.signal;
    return OPT_RUN;
}

int cmd_lr_trace(int argc, char **argv) {
    struct sched_greedy_config cfg;
    const char *signal = NULL;
    struct series sig;
    struct sched_greedy s;
    struct tg_error err;
    int rc;

    rc = parse_opts(argc, argv, &cfg, &signal);
    if (rc != OPT_RUN)
        return rc;
    rc = series_load(signal, &sig, &err);
    if (rc) {
        fprintf(stderr, LT ": %s\n", err.message);
        return 1;
    }
    rc = sched_greedy_init(&s, &cfg, &err);
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
