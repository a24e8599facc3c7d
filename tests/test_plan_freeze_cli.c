/*
 * test_plan_freeze_cli.c — suite `plan_freeze_cli`: runs the real binary (TOOLGYM_BIN, else
 * build/toolgym) as `toolgym plan-freeze`: the JSON on stdout, the table on stderr, the SVG,
 * and for every kind of bad input a non-zero exit with a message naming the field.
 */
#include "tg_test.h"

#include <fcntl.h>
#include <jansson.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/tg.h"

extern char **environ;

struct run {
    int status;   /* exit code, or -1 */
    char *out;    /* stdout, new */
    char *errout; /* stderr, new */
};

/* run `toolgym plan-freeze ARGS...` (NULL-terminated) with stdout and stderr captured */
static struct run run_pf(const char *dir, const char *const *args) {
    const char *bin = getenv("TOOLGYM_BIN") ? getenv("TOOLGYM_BIN") : "build/toolgym";
    char out_path[128], err_path[128];
    char *argv[32];
    int argc = 0, ws;
    posix_spawn_file_actions_t fa;
    struct run r = {-1, NULL, NULL};
    pid_t pid;

    snprintf(out_path, sizeof(out_path), "%s/stdout", dir);
    snprintf(err_path, sizeof(err_path), "%s/stderr", dir);
    argv[argc++] = (char *)bin;
    argv[argc++] = (char *)"plan-freeze";
    for (int i = 0; args[i] && argc < 31; i++)
        argv[argc++] = (char *)args[i];
    argv[argc] = NULL;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (posix_spawn(&pid, bin, &fa, NULL, argv, environ) == 0 && waitpid(pid, &ws, 0) == pid &&
        WIFEXITED(ws))
        r.status = WEXITSTATUS(ws);
    posix_spawn_file_actions_destroy(&fa);
    r.out = test_slurp(out_path);
    r.errout = test_slurp(err_path);
    if (!r.out)
        r.out = calloc(1, 1);
    if (!r.errout)
        r.errout = calloc(1, 1);
    return r;
}

static void run_free(struct run *r) {
    free(r->out);
    free(r->errout);
}

TG_TEST(plan_freeze_cli, plan_json_table_and_svg) {
    char dir[] = "/tmp/tg-pf-XXXXXX", svg[96];
    char times[512];
    struct run r;
    json_t *o;
    json_error_t jerr;
    char *chart;

    CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
    snprintf(svg, sizeof(svg), "%s/g.svg", dir);
    snprintf(times, sizeof(times), "%s", tg_test_data("freeze_times_4.json"));
    {
        const char *args[] = {"--schedule", "1f1b",    "--stages", "4",       "--microbatches",
                              "8",          "--times", times,      "--r-max", "0.5",
                              "--svg",      svg,       NULL};

        r = run_pf(dir, args);
    }
    CU_ASSERT_EQUAL(r.status, 0);
    o = json_loads(r.out, 0, &jerr);
    CU_ASSERT_FATAL(o != NULL);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "schedule")), "1f1b");
    CU_ASSERT_EQUAL(json_array_size(json_object_get(o, "freeze_ratio")), 4);
    CU_ASSERT_EQUAL(json_array_size(json_array_get(json_object_get(o, "freeze_ratio"), 0)), 8);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(o, "actions")), 64);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(o, "compare")), 3);
    /* the LP plan is at least as fast as uniform freezing, at no more freezing */
    {
        json_t *rows = json_object_get(o, "compare");
        double mu = json_real_value(json_object_get(json_array_get(rows, 1), "makespan"));
        double ml = json_real_value(json_object_get(json_array_get(rows, 2), "makespan"));
        double ru = json_real_value(json_object_get(json_array_get(rows, 1), "mean_freeze_ratio"));
        double rl = json_real_value(json_object_get(json_array_get(rows, 2), "mean_freeze_ratio"));

        CU_ASSERT(ml < mu);
        CU_ASSERT(rl <= ru);
        CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(o, "makespan")), ml, 1e-6);
    }
    json_decref(o);
    /* the table goes to stderr */
    CU_ASSERT(strstr(r.errout, "makespan") != NULL);
    CU_ASSERT(strstr(r.errout, "\nnone ") != NULL);
    CU_ASSERT(strstr(r.errout, "\nuniform ") != NULL);
    CU_ASSERT(strstr(r.errout, "\nlp ") != NULL);
    chart = test_slurp(svg);
    CU_ASSERT_FATAL(chart != NULL);
    CU_ASSERT(strncmp(chart, "<svg", 4) == 0);
    CU_ASSERT(strstr(chart, "critical") != NULL);
    free(chart);
    run_free(&r);
    /* --help */
    {
        const char *args[] = {"--help", NULL};

        r = run_pf(dir, args);
    }
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT(strstr(r.out, "usage: toolgym plan-freeze") != NULL);
    run_free(&r);
    unlink(svg);
    snprintf(svg, sizeof(svg), "%s/stdout", dir);
    unlink(svg);
    snprintf(svg, sizeof(svg), "%s/stderr", dir);
    unlink(svg);
    rmdir(dir);
}

/* each row: arguments after plan-freeze ("@" + name = that fixture), exit status, message */
struct bad_case {
    const char *args[16];
    int status;
    const char *want;
};

TG_TEST(plan_freeze_cli, bad_input_names_the_field) {
    static const struct bad_case cases[] = {
        {{"--schedule", "1f1b", "--stages", "4", "--microbatches", "2", "--times",
          "@freeze_times_4.json"},
         1,
         "--microbatches: 1f1b needs at least one micro-batch per stage: microbatches 2 is "
         "less than stages 4"},
        {{"--schedule", "gpipe", "--stages", "4", "--microbatches", "8", "--times",
          "@freeze_negative.json"},
         1,
         "stages[2].forward is negative (-1.2)"},
        {{"--schedule", "gpipe", "--stages", "4", "--microbatches", "8", "--times",
          "@freeze_wmin_gt_wmax.json"},
         1,
         "stages[1].w_min (3) is greater than stages[1].w_max (2)"},
        {{"--schedule", "gpipe", "--stages", "4", "--microbatches", "8", "--times",
          "@freeze_malformed.json"},
         1,
         "not a JSON object"},
        {{"--schedule", "1f1b", "--stages", "4", "--microbatches", "8", "--times",
          "@freeze_times_4.json", "--r-max", "0.5", "--deadline", "20"},
         1,
         "--deadline: the LP is infeasible: deadline 20 cannot be met"},
        {{"--schedule", "1f1b", "--stages", "3", "--microbatches", "8", "--times",
          "@freeze_times_4.json"},
         1,
         "--stages: the times file lists 4 stages but the pipeline has 3"},
        {{"--schedule", "1f1b", "--stages", "4", "--microbatches", "8", "--times",
          "@no_such_file.json"},
         1,
         "cannot read"},
        {{"--schedule", "pipedream", "--stages", "4", "--microbatches", "8", "--times",
          "@freeze_times_4.json"},
         2,
         "--schedule 'pipedream' is not one of gpipe|1f1b"},
        {{"--schedule", "1f1b", "--stages", "4", "--microbatches", "8", "--times",
          "@freeze_times_4.json", "--r-max", "1.5"},
         2,
         "--r-max 1.5 is out of range: 0..1"},
        {{"--schedule", "1f1b", "--stages", "four", "--microbatches", "8", "--times",
          "@freeze_times_4.json"},
         2,
         "--stages 'four' is not a whole number"},
        {{"--schedule", "1f1b", "--stages", "4", "--microbatches", "8"},
         2,
         "--times FILE is required"},
        {{"--schedule", "1f1b", "--stages", "4", "--microbatches", "8", "--times",
          "@freeze_times_4.json", "--frobnicate", "1"},
         2,
         "unknown option --frobnicate"},
        {{"--schedule", "1f1b", "--stages", "4", "--microbatches", "8", "--times"},
         2,
         "--times needs a value"},
    };
    char dir[] = "/tmp/tg-pf-XXXXXX", path[128];
    static char fixtures[16][512];

    CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
    for (size_t k = 0; k < TG_ARRAY_LEN(cases); k++) {
        const char *args[16] = {0};
        struct run r;

        for (int i = 0; i < 15 && cases[k].args[i]; i++) {
            args[i] = cases[k].args[i];
            if (args[i][0] == '@') {
                snprintf(fixtures[i], sizeof(fixtures[i]), "%s", tg_test_data(args[i] + 1));
                args[i] = fixtures[i];
            }
        }
        r = run_pf(dir, args);
        if (r.status != cases[k].status || !strstr(r.errout, cases[k].want))
            printf("\ncase %zu: exit %d, stderr: %s\n", k, r.status, r.errout);
        CU_ASSERT_EQUAL(r.status, cases[k].status);
        CU_ASSERT(strstr(r.errout, cases[k].want) != NULL);
        CU_ASSERT_STRING_EQUAL(r.out, ""); /* nothing half-written on stdout */
        run_free(&r);
    }
    snprintf(path, sizeof(path), "%s/stdout", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/stderr", dir);
    unlink(path);
    rmdir(dir);
}
