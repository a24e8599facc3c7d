/*
 * cmd_rescore.c — `toolgym rescore`: judge stored trajectories again under a reward
 * configuration, without running tools (server/rescore.h), write the rescored JSONL and print
 * the report. Only options and output live here.
 */
#include "cmd/cmd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"
#include "base/tg.h"
#include "client/eval.h"
#include "cmd/opt.h"
#include "server/report.h"
#include "server/rescore.h"
#include "server/reward.h"
#include "server/task.h"

#define RS "toolgym rescore"

static const char rescore_notes[] =
    "Reads toolgym's trajectory log, eval --agent openai's --trajectories file, or any OpenAI\n"
    "chat-format JSONL whose lines name their task (\"task_id\" or \"metadata\":{\"task_id\"}).\n"
    "Each line is replayed through the server's judge and rewards with the tool responses the\n"
    "line holds; no tool runs. A line that is not a trajectory is reported with its number and\n"
    "skipped. The rescored lines go to --out (default: stdout); the report table goes to stdout,\n"
    "or to stderr when the lines do. See docs/episodes.md.\n";

struct bad_ctx {
    const char *path;
    int quiet;
};

static void on_bad(void *ud, size_t line_no, const char *why) {
    struct bad_ctx *b = ud;

    if (!b->quiet)
        fprintf(stderr, RS ": %s:%zu: skipped: %s\n", b->path, line_no, why);
}

/* Load the comma-separated task files into ts. */
static int load_tasks(struct task_set *ts, const char *list, struct tg_error *err) {
    while (*list) {
        char path[4096];
        size_t n = strcspn(list, ",");
        int rc;

        if (n == 0 || n >= sizeof(path)) {
            tg_error_set(err, TG_CODE_CONFIG, "--tasks: bad file list.");
            return TG_EINVAL;
        }
        memcpy(path, list, n);
        path[n] = '\0';
        rc = task_set_load(ts, path, err);
        if (rc)
            return rc;
        list += n;
        if (*list == ',')
            list++;
    }
    return 0;
}

int cmd_rescore(int argc, char **argv) {
    const char *traj = NULL, *tasks = NULL, *config = NULL, *mode_s = NULL, *out_path = NULL,
               *report_path = NULL;
    int quiet = 0;
    /* clang-format off */
    struct opt opts[] = {
        {.name = "--trajectories", .kind = OPT_STR, .dst = &traj, .meta = "FILE",
         .def = "none, required", .help = "the JSONL to rescore ('-': stdin)"},
        {.name = "--tasks", .kind = OPT_STR, .dst = &tasks, .meta = "FILE[,FILE]",
         .def = "none, required", .help = "task files holding every task the lines name"},
        {.name = "--reward-config", .kind = OPT_STR, .dst = &config, .meta = "FILE",
         .def = "the defaults (data/rewards.json)", .help = "reward weights to judge under"},
        {.name = "--reward-mode", .kind = OPT_CHOICE, .dst = &mode_s, .meta = "MODE",
         .choices = "judge|torl|otc", .def = "each line's",
         .help = "reward mode for every line"},
        {.name = "--out", .kind = OPT_STR, .dst = &out_path, .meta = "FILE", .def = "stdout",
         .help = "write the rescored JSONL here"},
        {.name = "--report", .kind = OPT_STR, .dst = &report_path, .meta = "FILE", .def = "none",
         .help = "also write the report as JSON"},
        {.name = "--quiet", .kind = OPT_FLAG, .dst = &quiet,
         .help = "no per-line notices on stderr"},
    };
    /* clang-format on */
    struct opt_cmd cmd = {
        .name = RS,
        .summary = "Judge stored trajectories again under a reward configuration, without "
                   "running tools.",
        .opts = opts,
        .nopts = TG_ARRAY_LEN(opts),
        .notes = rescore_notes};
    struct reward_config rc_cfg;
    struct rescore_config c;
    struct rescore_stats st;
    struct task_set *ts = NULL;
    struct report *rep = NULL;
    struct tg_error err;
    struct bad_ctx bad;
    enum reward_mode mode;
    struct eval_options eo;
    json_t *rj = NULL;
    FILE *out = stdout, *table;
    int rc;

    rc = opt_parse(&cmd, argc, argv, NULL, 0, NULL);
    if (rc != OPT_RUN)
        return rc;
    if (!traj || !tasks)
        return opt_error(&cmd, "--trajectories FILE and --tasks FILE are required");
    reward_config_defaults(&rc_cfg);
    if (config && reward_config_load(config, &rc_cfg, &err) != 0) {
        fprintf(stderr, RS ": %s\n", err.message);
        return 2;
    }
    memset(&c, 0, sizeof(c));
    c.rc = &rc_cfg;
    c.mode = -1;
    if (mode_s) {
        reward_mode_parse(mode_s, &mode); /* one of the choices: opt_parse checked */
        c.mode = (int)mode;
    }
    ts = task_set_new();
    rep = report_new();
    if (!ts || !rep) {
        fprintf(stderr, RS ": out of memory\n");
        rc = 1;
        goto out;
    }
    if (load_tasks(ts, tasks, &err) != 0) {
        fprintf(stderr, RS ": %s\n", err.message);
        rc = 2;
        goto out;
    }
    c.tasks = ts;
    if (out_path) {
        out = fopen(out_path, "we");
        if (!out) {
            fprintf(stderr, RS ": cannot write %s: %s\n", out_path, strerror(errno));
            rc = 1;
            goto out;
        }
    }
    bad.path = traj;
    bad.quiet = quiet;
    rc = rescore_file(&c, traj, out, rep, &st, on_bad, &bad, &err);
    if (out != stdout && fclose(out) != 0 && rc == 0) {
        tg_error_set(&err, TG_CODE_IO, "Cannot write %s.", out_path);
        rc = TG_EIO;
    }
    out = stdout;
    if (rc) {
        fprintf(stderr, RS ": %s\n", err.message);
        rc = 1;
        goto out;
    }
    fprintf(stderr,
            RS ": %zu lines: %zu rescored, %zu skipped; %zu of %zu step labels changed, %zu "
               "rewards changed, %zu returns changed\n",
            st.lines, st.rescored, st.skipped, st.labels_changed, st.steps, st.rewards_changed,
            st.returns_changed);
    rj = report_json(rep, NULL, NULL, 1);
    if (!rj) {
        fprintf(stderr, RS ": out of memory\n");
        rc = 1;
        goto out;
    }
    if (report_path && json_dump_file(rj, report_path, JSON_INDENT(1) | JSON_SORT_KEYS) != 0) {
        fprintf(stderr, RS ": cannot write %s\n", report_path);
        rc = 1;
        goto out;
    }
    memset(&eo, 0, sizeof(eo));
    eo.agent = "rescored";
    eo.split = "all";
    table = out_path ? stdout : stderr;
    eval_print_report(table, &eo, mode_s ? mode_s : "-", rj);
out:
    json_decref(rj);
    report_free(rep);
    task_set_free(ts);
    return rc;
}
