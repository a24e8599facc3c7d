/*
 * cmd_train.c — `toolgym train`: options, then a training run (train.h), optionally followed by
 * a greedy test evaluation; or --run-demo: train with the defaults and compare the policy with
 * the untrained network and the reference agents on the test split.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/num.h"
#include "base/tg.h"
#include "client/eval.h"
#include "cmd/cmd.h"
#include "policy/rollout.h"
#include "policy/train.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: toolgym train --server URL[,URL...] [--config FILE] [--save F] [--resume F]\n"
            "         [--seed S] [--updates N] [--group G] [--tasks-per-update T]\n"
            "         [--lr X] [--lr-schedule greedy|cosine|constant]\n"
            "         [--anchors off|warmup|branch] [--anchor-fraction f]\n"
            "         [--reward-mode judge|torl|otc] [--svg FILE] [--eval N] [--quiet]\n"
            "         [--run-demo]   (train with the defaults, evaluate beside the baselines)\n");
}

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
    char tag[TG_TAG_MAX + 1];
    double t0 = tg_now_ms(), t1;
    int rc, progress = !quiet && isatty(2);

    /* one "==>" line per phase, so a log that is not a terminal shows where the time goes */
    printf("==> measuring the untrained network on the test split\n");
    fflush(stdout);
    snprintf(tag, sizeof(tag), "untrained-%llu-%lld", cfg->seed,
             (long long)(tg_now_us() % 1000000));
    rc = train_eval(cfg, servers, NULL, "test", cfg->eval_episodes, tag, &ev, &reports[5], &err);
    if (rc) {
        fprintf(stderr, "toolgym train: %s\n", err.message);
        return 1;
    }
    printf("==> training: %d GRPO updates x %d tasks x group %d, %s rewards, %s lr, anchors %s\n",
           cfg->updates, cfg->tasks_per_update, cfg->group, cfg->reward_mode,
           sched_kind_name(cfg->sched.kind), train_anchors_name(cfg->anchors));
    fflush(stdout);
    t1 = tg_now_ms();
    rc = train_run(cfg, servers, NULL, save, svg, progress ? NULL : stdout, progress, &tr, &err);
    if (rc) {
        fprintf(stderr, "toolgym train: %s\n", err.message);
        return 1;
    }
    printf("==> trained in %.1f s (train accuracy %.3f, smoothed); evaluating the policy and the "
           "reference agents on the test split\n",
           (tg_now_ms() - t1) / 1000, tr.final_train_accuracy);
    fflush(stdout);
    snprintf(tag, sizeof(tag), "policy-%llu-%lld", cfg->seed, (long long)(tg_now_us() % 1000000));
    rc = train_eval(cfg, servers, save, "test", cfg->eval_episodes, tag, &ev, &reports[0], &err);
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
    printf("\n== test split (phrasings and entities never seen in training) ==\n");
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

int cmd_train(int argc, char **argv) {
    struct train_config cfg = train_config_default();
    const char *servers = NULL, *save = NULL, *resume = NULL, *svg = NULL, *config = NULL;
    int quiet = 0, demo = 0, eval_n = -1;
    struct tg_error err;
    struct train_result tr;
    double v;
    int rc;

    /* the config file first, so flags override it */
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--config") == 0)
            config = argv[i + 1];
    if (config && train_config_load_json(&cfg, config, &err)) {
        fprintf(stderr, "toolgym train: %s\n", err.message);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "--quiet") == 0) {
            quiet = 1;
            continue;
        }
        if (strcmp(a, "--run-demo") == 0) {
            demo = 1;
            continue;
        }
        if (strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (!val) {
            fprintf(stderr, "toolgym train: %s needs a value\n", a);
            usage(stderr);
            return 2;
        }
        i++;
        if (strcmp(a, "--server") == 0)
            servers = val;
        else if (strcmp(a, "--config") == 0)
            continue;
        else if (strcmp(a, "--save") == 0)
            save = val;
        else if (strcmp(a, "--resume") == 0)
            resume = val;
        else if (strcmp(a, "--svg") == 0)
            svg = val;
        else if (strcmp(a, "--seed") == 0 && num_double(val, 0, 9e15, &v) == 0 && v == floor(v))
            cfg.seed = (unsigned long long)v;
        else if (strcmp(a, "--updates") == 0 && num_double(val, 1, TG_TRAIN_UPDATES_MAX, &v) == 0)
            cfg.updates = (int)v;
        else if (strcmp(a, "--group") == 0 && num_double(val, 2, TG_TRAIN_GROUP_MAX, &v) == 0)
            cfg.group = (int)v;
        else if (strcmp(a, "--tasks-per-update") == 0 && num_double(val, 1, 1024, &v) == 0)
            cfg.tasks_per_update = (int)v;
        else if (strcmp(a, "--lr") == 0 && num_double(val, 1e-7, 1, &v) == 0)
            cfg.lr = v;
        else if (strcmp(a, "--eval") == 0 && num_double(val, 0, 1e6, &v) == 0)
            eval_n = (int)v;
        else if (strcmp(a, "--anchor-fraction") == 0 && num_double(val, 0, 1, &v) == 0)
            cfg.anchor_fraction = v;
        else if (strcmp(a, "--lr-schedule") == 0) {
            if (sched_kind_parse(val, &cfg.sched.kind, &err)) {
                fprintf(stderr, "toolgym train: --lr-schedule: %s\n", err.message);
                return 2;
            }
        } else if (strcmp(a, "--anchors") == 0) {
            if (train_anchors_parse(val, &cfg.anchors, &err)) {
                fprintf(stderr, "toolgym train: --anchors: %s\n", err.message);
                return 2;
            }
        } else if (strcmp(a, "--reward-mode") == 0 && strlen(val) < sizeof(cfg.reward_mode))
            snprintf(cfg.reward_mode, sizeof(cfg.reward_mode), "%s", val);
        else {
            fprintf(stderr, "toolgym train: bad option or value: %s %s\n", a, val);
            usage(stderr);
            return 2;
        }
    }
    if (!servers) {
        fprintf(stderr, "toolgym train: --server URL is required\n");
        usage(stderr);
        return 2;
    }
    if (train_config_check(&cfg, &err)) {
        fprintf(stderr, "toolgym train: %s\n", err.message);
        return 2;
    }
    if (demo)
        return run_demo(&cfg, servers, save ? save : "build/run-policy.ckpt",
                        svg ? svg : "build/run-curve.svg", quiet);
    rc = train_run(&cfg, servers, resume, save, svg, quiet ? NULL : stdout, !quiet && isatty(2),
                   &tr, &err);
    if (rc) {
        fprintf(stderr, "toolgym train: %s\n", err.message);
        return 1;
    }
    if (!quiet)
        printf("done: %d updates, smoothed train accuracy %.3f, updates to target %.2f: %d\n",
               tr.updates_done, tr.final_train_accuracy, cfg.target_accuracy, tr.updates_to_target);
    train_result_free(&tr);
    if (eval_n >= 0) {
        struct train_eval_result ev;
        char tag[TG_TAG_MAX + 1];

        if (!save) {
            fprintf(stderr, "toolgym train: --eval needs --save FILE\n");
            return 2;
        }
        snprintf(tag, sizeof(tag), "policy-%llu-%lld", cfg.seed,
                 (long long)(tg_now_us() % 1000000));
        rc = train_eval(&cfg, servers, save, "test", eval_n, tag, &ev, NULL, &err);
        if (rc) {
            fprintf(stderr, "toolgym train: evaluation: %s\n", err.message);
            return 1;
        }
        printf("test: episodes %d accuracy %.4f calls/ep %.3f wasted %.4f redundant %.4f "
               "premature %.4f unnecessary %.4f steps/s %.0f tag %s\n",
               ev.episodes, ev.accuracy, ev.calls, ev.wasted, ev.rates[RL_REDUNDANT],
               ev.rates[RL_PREMATURE], ev.rates[RL_UNNECESSARY], ev.steps_per_s, ev.tag);
    }
    return 0;
}
