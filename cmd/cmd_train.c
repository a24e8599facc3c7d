/*
 * cmd_train.c — `toolgym train`: options (on top of an optional --config JSON file), then a
 * training run (policy/train.h), optionally followed by a greedy test evaluation; or
 * --run-demo: train, then compare the policy with the untrained network and the reference
 * agents on the test split (what `make run` shows).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/limits.h"
#include "base/num.h"
#include "base/tg.h"
#include "client/eval.h"
#include "cmd/cmd.h"
#include "cmd/opt.h"
#include "policy/learner.h"
#include "policy/rollout.h"
#include "policy/train.h"

#define DEMO_CKPT "build/run-policy.ckpt"
#define DEMO_SVG  "build/run-curve.svg"

/* one row of the comparison table from a /v1/report body */
static void report_row(FILE *f, const char *agent, const json_t *r) {
    const json_t *lab = json_object_get(r, "labels");
    double red = json_number_value(json_object_get(lab, "redundant"));
    double pre = json_number_value(json_object_get(lab, "premature"));
    double unn = json_number_value(json_object_get(lab, "unnecessary"));

    fprintf(f, "  %-11s %8lld %9.1f%% %9.1f%% %9.1f%% %9.2f %9.1f%%\n", agent,
            (long long)json_integer_value(json_object_get(r, "episodes")),
            100 * json_number_value(json_object_get(r, "answer_accuracy")),
            100 * json_number_value(json_object_get(r, "exact_plan_match")),
            100 * json_number_value(json_object_get(r, "tool_selection_accuracy")),
            json_number_value(json_object_get(r, "calls_per_episode")), 100 * (red + pre + unn));
}

static int run_demo(const struct train_config *cfg, const char *servers, const char *save,
                    const char *svg, int quiet) {
    static const char *const baselines[] = {"oracle", "random", "overcaller", "eager"};
    json_t *reports[6] = {NULL, NULL, NULL, NULL, NULL, NULL};
    struct train_result tr;
    struct train_eval_result ev;
    struct tg_error err;
    struct train_io io;
    char tag[TG_TAG_MAX + 1], init[600];
    double t0 = tg_now_ms();
    int rc, progress = !quiet && isatty(2);

    /* one "==>" line per phase, so a log that is not a terminal shows where the time goes */
    printf("==> training: the expert trajectories of %s (%.3g warm-up epochs of %d), then %d "
           "GRPO updates x %d tasks x group %d, %s rewards, %s lr, anchors %s\n",
           cfg->tasks_file, cfg->warmup_epochs, cfg->warmup_batch, cfg->updates,
           cfg->tasks_per_update, cfg->group, cfg->reward_mode, sched_kind_name(cfg->sched.kind),
           train_anchors_name(cfg->anchors));
    fflush(stdout);
    snprintf(init, sizeof(init), "%s.init", save);
    memset(&io, 0, sizeof(io));
    io.servers = servers;
    io.save = save;
    io.save_init = init;
    io.svg = svg;
    io.log = progress ? NULL : stdout;
    io.progress = progress;
    rc = train_run(cfg, &io, &tr, &err);
    if (rc) {
        fprintf(stderr, "toolgym train: %s\n", err.message);
        return 1;
    }
    printf("==> trained in %.1f s (%d warm-up steps on %d expert decisions, %d RL updates; "
           "greedy accuracy: train %.3f, held-out %.3f); evaluating the policy, the untrained "
           "network and the reference agents on the test split\n",
           tr.seconds, tr.warmup_steps, tr.demos, tr.updates_done - tr.warmup_steps,
           tr.final_train_accuracy, tr.final_heldout_accuracy);
    fflush(stdout);
    snprintf(tag, sizeof(tag), "policy-%llu-%lld", cfg->seed, (long long)(tg_now_us() % 1000000));
    rc = train_eval(cfg, servers, save, "test", cfg->eval_episodes, tag, &ev, &reports[0], &err);
    if (rc == 0) {
        struct train_eval_result ev0;

        snprintf(tag, sizeof(tag), "untrained-%llu-%lld", cfg->seed,
                 (long long)(tg_now_us() % 1000000));
        rc = train_eval(cfg, servers, init, "test", cfg->eval_episodes, tag, &ev0, &reports[5],
                        &err);
    }
    unlink(init);
    if (rc) {
        fprintf(stderr, "toolgym train: evaluation: %s\n", err.message);
        train_result_free(&tr);
        return 1;
    }
    for (size_t i = 0; i < TG_ARRAY_LEN(baselines); i++) {
        struct eval_options o;
        struct eval_agent a;

        memset(&o, 0, sizeof(o));
        o.server = servers;
        o.split = "test";
        o.agent = baselines[i];
        o.quiet = 1;
        o.seed = cfg->seed;
        o.episodes = cfg->eval_episodes;
        if (eval_agent_new(&o, &a, &err) == 0) {
            if (eval_run(&o, &a, &reports[i + 1], NULL, &err))
                fprintf(stderr, "toolgym train: baseline %s: %s\n", baselines[i], err.message);
            if (a.destroy)
                a.destroy(&a);
        }
    }
    printf("\n== test split (entities and combinations of phrasing never seen in training) ==\n");
    printf("  %-11s %8s %10s %10s %10s %9s %10s\n", "agent", "episodes", "answer", "exact plan",
           "tool sel.", "calls/ep", "wasted");
    if (reports[0])
        report_row(stdout, "policy", reports[0]);
    else
        printf("  %-11s %8d %9.1f%%          ?          ? %9.2f %9.1f%%\n", "policy", ev.episodes,
               100 * ev.accuracy, ev.calls, 100 * ev.wasted);
    if (reports[5])
        report_row(stdout, "untrained", reports[5]);
    for (size_t i = 0; i < TG_ARRAY_LEN(baselines); i++)
        if (reports[i + 1])
            report_row(stdout, baselines[i], reports[i + 1]);
    printf("  (policy: the trained checkpoint, greedy; untrained: the same network before "
           "training;\n   wasted = redundant + premature + unnecessary calls over all calls)\n");
    printf("  checkpoint %s, learning curve %s; %.1f s in all\n", save, svg,
           (tg_now_ms() - t0) / 1000);
    for (int i = 0; i < 6; i++)
        json_decref(reports[i]);
    train_result_free(&tr);
    return 0;
}

/* what the command line asked for besides the training settings */
struct train_args {
    const char *servers, *config, *save, *resume, *svg;
    const char *lr_schedule, *anchors, *reward_mode; /* names, applied to the config */
    const char *protocol, *budget;                   /* likewise */
    const char *schedule, *freeze, *cuts;            /* the pipeline's, likewise */
    int eval_n, quiet, demo;
};

/* --cuts: "balanced", "even", or the first layer of each stage after the first ("1,3") */
static int cuts_parse(const char *s, struct pipetrain_config *pc, struct tg_error *err) {
    long v[PIPETRAIN_STAGES_MAX - 1];
    size_t n = 0;

    memset(pc->cut, 0, sizeof(pc->cut));
    pc->balance = strcmp(s, "balanced") == 0;
    if (pc->balance || strcmp(s, "even") == 0)
        return 0;
    if (num_long_list(s, 1, PIPETRAIN_STAGES_MAX, v, TG_ARRAY_LEN(v), &n) || n == 0) {
        tg_error_set(err, TG_CODE_CONFIG,
                     "--cuts '%s' is not even, balanced or a list of layers such as 1,3", s);
        return TG_EINVAL;
    }
    for (size_t i = 0; i < n; i++)
        pc->cut[i] = (int)v[i];
    return 0;
}

/* the settings: the defaults, the --config file on top, then every option given on top */
static int settings(const struct opt_cmd *cmd, const struct train_config *flags,
                    const struct train_args *a, struct train_config *cfg) {
    struct tg_error err;

    *cfg = train_config_default();
    if (a->config && train_config_load_json(cfg, a->config, &err))
        return opt_error(cmd, "%s", err.message);
    if (opt_given(cmd, "--protocol")) { /* first: the options below apply on top of it */
        enum train_protocol p;

        if (train_protocol_parse(a->protocol, &p, &err))
            return opt_error(cmd, "%s", err.message);
        train_protocol_apply(cfg, p);
    }
    if (opt_given(cmd, "--expert-budget") && train_budget_parse(a->budget, cfg, &err))
        return opt_error(cmd, "%s", err.message);
#define TAKE(name, field)                                                                          \
    if (opt_given(cmd, name))                                                                      \
        cfg->field = flags->field;
    TAKE("--seed", seed);
    TAKE("--updates", updates);
    TAKE("--group", group);
    TAKE("--tasks-per-update", tasks_per_update);
    TAKE("--lr", lr);
    TAKE("--warmup-epochs", warmup_epochs);
    TAKE("--threads", threads);
    TAKE("--anchor-fraction", anchor_fraction);
    TAKE("--pipeline", pipe.stages);
    TAKE("--microbatches", pipe.microbatches);
    TAKE("--r-max", pipe.r_max);
    TAKE("--settle-ema", pipe.settle.ema);
    TAKE("--settle-tol", pipe.settle.tol);
    TAKE("--settle-window", pipe.settle.window);
#undef TAKE
    if (opt_given(cmd, "--reward-mode"))
        snprintf(cfg->reward_mode, sizeof(cfg->reward_mode), "%s", a->reward_mode);
    if ((opt_given(cmd, "--lr-schedule") &&
         sched_kind_parse(a->lr_schedule, &cfg->sched.kind, &err)) ||
        (opt_given(cmd, "--anchors") && train_anchors_parse(a->anchors, &cfg->anchors, &err)) ||
        (opt_given(cmd, "--schedule") && pipeline_kind_parse(a->schedule, &cfg->pipe.kind, &err)) ||
        (opt_given(cmd, "--freeze") &&
         pipetrain_freeze_parse(a->freeze, &cfg->pipe.freeze, &err)) ||
        (opt_given(cmd, "--cuts") && cuts_parse(a->cuts, &cfg->pipe, &err)) ||
        train_config_check(cfg, &err) || pipetrain_config_check(&cfg->pipe, cfg->layers, &err))
        return opt_error(cmd, "%s", err.message);
    return 0;
}

/* options that only make sense together, checked before anything runs */
static int check_combinations(const struct opt_cmd *cmd, const struct train_config *cfg,
                              const struct train_args *a) {
    if (!a->servers)
        return opt_error(cmd, "--server URL is required (see toolgym train --help)");
    if (a->demo && opt_given(cmd, "--resume"))
        return opt_error(cmd, "--resume is not used with --run-demo (it trains from scratch)");
    if (a->demo && opt_given(cmd, "--eval"))
        return opt_error(cmd, "--eval is not used with --run-demo (it evaluates every test task, "
                              "or eval_episodes of --config)");
    if (opt_given(cmd, "--eval") && !a->save)
        return opt_error(cmd, "--eval needs --save FILE (the checkpoint it evaluates)");
    if (opt_given(cmd, "--anchor-fraction") && cfg->anchors == ANCHORS_OFF)
        return opt_error(cmd, "--anchor-fraction is not used with anchors off");
    if (cfg->pipe.stages == 0) {
        static const char *const pipe_opts[] = {"--schedule",      "--microbatches", "--freeze",
                                                "--r-max",         "--settle-ema",   "--settle-tol",
                                                "--settle-window", "--cuts"};

        for (size_t i = 0; i < TG_ARRAY_LEN(pipe_opts); i++)
            if (opt_given(cmd, pipe_opts[i]))
                return opt_error(cmd, "%s is not used without --pipeline S", pipe_opts[i]);
    }
    if (cfg->pipe.freeze != PT_FREEZE_PROGRESSIVE) {
        static const char *const settle_opts[] = {"--settle-ema", "--settle-tol",
                                                  "--settle-window"};

        for (size_t i = 0; i < TG_ARRAY_LEN(settle_opts); i++)
            if (opt_given(cmd, settle_opts[i]))
                return opt_error(cmd, "%s is not used without --freeze progressive",
                                 settle_opts[i]);
    }
    return 0;
}

/* train, report, and evaluate the checkpoint on the test split when asked (--eval N) */
static int train_and_eval(const struct train_config *cfg, const struct train_args *a) {
    struct train_eval_result ev;
    struct train_result tr;
    struct tg_error err;
    struct train_io io;
    char tag[TG_TAG_MAX + 1];

    memset(&io, 0, sizeof(io));
    io.servers = a->servers;
    io.resume = a->resume;
    io.save = a->save;
    io.svg = a->svg;
    io.log = a->quiet ? NULL : stdout;
    io.progress = !a->quiet && isatty(2);
    if (train_run(cfg, &io, &tr, &err)) {
        fprintf(stderr, "toolgym train: %s\n", err.message);
        return 1;
    }
    if (!a->quiet) {
        printf("done: %d warm-up steps on %d expert decisions (%d not writable), %d RL updates; "
               "greedy accuracy: train %.3f, held-out %.3f; updates to target %.2f: %d; "
               "protocol %s, expert budget %d of %d tasks\n",
               tr.warmup_steps, tr.demos, tr.demos_skipped, tr.updates_done - tr.warmup_steps,
               tr.final_train_accuracy, tr.final_heldout_accuracy, cfg->target_accuracy,
               tr.updates_to_target, train_protocol_name(cfg->protocol), tr.expert_tasks,
               tr.expert_tasks_all);
        fprintf(stderr, "time: %.1f s\n", tr.seconds);
    }
    train_result_free(&tr);
    if (a->eval_n < 0)
        return 0;
    snprintf(tag, sizeof(tag), "policy-%llu-%lld", cfg->seed, (long long)(tg_now_us() % 1000000));
    if (train_eval(cfg, a->servers, a->save, "test", a->eval_n, tag, &ev, NULL, &err)) {
        fprintf(stderr, "toolgym train: evaluation: %s\n", err.message);
        return 1;
    }
    printf("test: episodes %d accuracy %.4f calls/ep %.3f wasted %.4f redundant %.4f "
           "premature %.4f unnecessary %.4f steps/s %.0f tag %s\n",
           ev.episodes, ev.accuracy, ev.calls, ev.wasted, ev.rates[RL_REDUNDANT],
           ev.rates[RL_PREMATURE], ev.rates[RL_UNNECESSARY], ev.steps_per_s, ev.tag);
    return 0;
}

static const char train_notes[] =
    "--config FILE is a JSON object of every setting (docs/trainer.md); the options above\n"
    "override it. --run-demo trains, then compares the policy with the untrained network and\n"
    "the reference agents on the test split.\n";

/* Most of it is the option table (one row per option); the work is in settings(),
 * check_combinations(), run_demo() and train_and_eval(). */
int cmd_train(int argc, char **argv) {
    struct train_config flags = train_config_default(), cfg;
    struct train_args a = {0};
    /* clang-format off */
    struct opt opts[] = {
        {.name = "--server", .kind = OPT_STR, .dst = &a.servers, .meta = "URL[,URL...]",
         .def = "none, required", .help = "the servers to train against (round-robin)"},
        {.name = "--config", .kind = OPT_STR, .dst = &a.config, .meta = "FILE",
         .help = "JSON settings file (docs/trainer.md); options override it"},
        {.name = "--save", .kind = OPT_STR, .dst = &a.save, .meta = "FILE",
         .def = "none (--run-demo: " DEMO_CKPT ")", .help = "write the checkpoint here"},
        {.name = "--resume", .kind = OPT_STR, .dst = &a.resume, .meta = "FILE",
         .help = "continue from this checkpoint"},
        {.name = "--svg", .kind = OPT_STR, .dst = &a.svg, .meta = "FILE",
         .def = "none (--run-demo: " DEMO_SVG ")", .help = "write the learning curve here"},
        {.name = "--seed", .kind = OPT_U64, .dst = &flags.seed, .meta = "S", .lo = 0, .hi = 9e15,
         .help = "seed of the network and the task draws"},
        {.name = "--warmup-epochs", .kind = OPT_DOUBLE, .dst = &flags.warmup_epochs, .meta = "E",
         .lo = 0, .hi = 100, .help = "passes of the supervised warm-up over the expert decisions"},
        {.name = "--updates", .kind = OPT_INT, .dst = &flags.updates, .meta = "N", .lo = 0,
         .hi = TG_TRAIN_UPDATES_MAX, .help = "GRPO updates after the warm-up"},
        {.name = "--tasks-per-update", .kind = OPT_INT, .dst = &flags.tasks_per_update, .meta = "T",
         .lo = 1, .hi = 1024, .help = "tasks drawn per update"},
        {.name = "--group", .kind = OPT_INT, .dst = &flags.group, .meta = "G", .lo = 2,
         .hi = TG_TRAIN_GROUP_MAX, .help = "rollouts per task (the GRPO group)"},
        {.name = "--lr", .kind = OPT_DOUBLE, .dst = &flags.lr, .meta = "X", .lo = 1e-7, .hi = 1,
         .help = "initial learning rate of the RL phase"},
        {.name = "--threads", .kind = OPT_INT, .dst = &flags.threads, .meta = "N", .lo = 1,
         .hi = LEARNER_THREADS_MAX, .help = "threads computing gradients"},
        {.name = "--lr-schedule", .kind = OPT_CHOICE, .dst = &a.lr_schedule, .meta = "KIND",
         .choices = "constant|cosine|greedy", .help = "learning-rate schedule"},
        {.name = "--anchors", .kind = OPT_CHOICE, .dst = &a.anchors, .meta = "MODE",
         .choices = "off|warmup|branch", .help = "anchored branching from expert calls"},
        {.name = "--anchor-fraction", .kind = OPT_DOUBLE, .dst = &flags.anchor_fraction,
         .meta = "F", .lo = 0, .hi = 1, .help = "fraction of an update's tasks anchored"},
        {.name = "--protocol", .kind = OPT_CHOICE, .dst = &a.protocol, .meta = "NAME",
         .choices = "custom|e3tir|sft-then-rl|zero-rl",
         .help = "a preset: E3-TIR or a baseline (docs/trainer.md); options override it"},
        {.name = "--expert-budget", .kind = OPT_STR, .dst = &a.budget, .meta = "F|N", .hi = 32,
         .def = "1.0 (all)",
         .help = "fraction (0.1) or count (50) of train tasks whose experts may be used"},
        {.name = "--reward-mode", .kind = OPT_CHOICE, .dst = &a.reward_mode, .meta = "MODE",
         .choices = "judge|torl|otc", .help = "episode reward"},
        {.name = "--pipeline", .kind = OPT_INT, .dst = &flags.pipe.stages, .meta = "S", .lo = 0,
         .hi = PIPETRAIN_STAGES_MAX, .def = "0 (off)",
         .help = "run RL updates as a pipeline of S stages on S threads (2..layers + 2)"},
        {.name = "--cuts", .kind = OPT_STR, .dst = &a.cuts, .meta = "even|balanced|L1,L2..",
         .hi = 64, .def = "even",
         .help = "stage boundaries: even layer counts, balanced by measured layer times, or "
                 "the first layer of each stage after the first"},
        {.name = "--schedule", .kind = OPT_CHOICE, .dst = &a.schedule, .meta = "KIND",
         .choices = "gpipe|1f1b", .help = "the pipeline's schedule"},
        {.name = "--microbatches", .kind = OPT_INT, .dst = &flags.pipe.microbatches, .meta = "M",
         .lo = 1, .hi = TG_PIPE_MICROBATCHES_MAX, .help = "micro-batches per pipelined update"},
        {.name = "--freeze", .kind = OPT_CHOICE, .dst = &a.freeze, .meta = "HOW",
         .choices = "none|uniform|plan|progressive",
         .help = "pipeline freezing (plan: the LP; progressive: settled layers; docs/freezing.md)"},
        {.name = "--r-max", .kind = OPT_DOUBLE, .dst = &flags.pipe.r_max, .meta = "R", .lo = 0,
         .hi = 1, .help = "uniform freeze ratio; the plan's per-stage budget; progressive: the "
         "share of layers that may freeze"},
        {.name = "--settle-ema", .kind = OPT_DOUBLE, .dst = &flags.pipe.settle.ema, .meta = "B",
         .lo = 0, .hi = 0.999999, .help = "progressive: EMA weight of the past gradient norms"},
        {.name = "--settle-tol", .kind = OPT_DOUBLE, .dst = &flags.pipe.settle.tol, .meta = "X",
         .lo = 1e-9, .hi = 1, .help = "progressive: a pass is calm when the EMA moves less (relative)"},
        {.name = "--settle-window", .kind = OPT_INT, .dst = &flags.pipe.settle.window, .meta = "W",
         .lo = 1, .hi = 1000, .help = "progressive: calm passes in a row that settle a layer"},
        {.name = "--eval", .kind = OPT_INT, .dst = &a.eval_n, .meta = "N", .lo = 0, .hi = 1000000,
         .def = "none", .help = "then play N test episodes greedily (0: every test task)"},
        {.name = "--run-demo", .kind = OPT_FLAG, .dst = &a.demo,
         .help = "train, then compare with the untrained network and the reference agents"},
        {.name = "--quiet", .kind = OPT_FLAG, .dst = &a.quiet,
         .help = "no per-update log lines or progress bar"},
    };
    /* clang-format on */
    struct opt_cmd cmd = {
        .name = "toolgym train",
        .summary = "Train a tool-use policy against toolgym servers (warm-up on the experts, "
                   "GRPO, anchors, GreedyLR).",
        .opts = opts,
        .nopts = TG_ARRAY_LEN(opts),
        .notes = train_notes};
    int rc;

    a.eval_n = -1;
    a.lr_schedule = sched_kind_name(flags.sched.kind);
    a.anchors = train_anchors_name(flags.anchors);
    a.reward_mode = flags.reward_mode;
    a.protocol = train_protocol_name(flags.protocol);
    a.schedule = pipeline_kind_name(flags.pipe.kind);
    a.freeze = pipetrain_freeze_name(flags.pipe.freeze);
    rc = opt_parse(&cmd, argc, argv, NULL, 0, NULL);
    if (rc != OPT_RUN)
        return rc;
    rc = settings(&cmd, &flags, &a, &cfg);
    if (rc == 0)
        rc = check_combinations(&cmd, &cfg, &a);
    if (rc)
        return rc;
    if (a.demo)
        return run_demo(&cfg, a.servers, a.save ? a.save : DEMO_CKPT, a.svg ? a.svg : DEMO_SVG,
                        a.quiet);
    return train_and_eval(&cfg, &a);
}
