/*
 * cmd_tasks.c — `toolgym tasks gen` (generate both splits with verified expert calls) and
 * `toolgym tasks check FILE...` (validate task files). The generation and the checks are the
 * server layer's (taskgen.h, task.h); this file is their command line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/tg.h"
#include "cmd/cmd.h"
#include "cmd/opt.h"
#include "server/task.h"
#include "server/taskgen.h"
#include "tools/tools.h"

/* generate with the tool registry up, write DIR/train.jsonl and DIR/test.jsonl */
static int generate(const struct taskgen_config *cfg, const char *out, struct taskgen_stats *st,
                    size_t *ntrain, size_t *ntest, struct tg_error *err) {
    struct tools_config tc;
    json_t *train = NULL, *test = NULL;
    char path[4096];
    int rc;

    memset(&tc, 0, sizeof(tc));
    tc.corpus_path = cfg->corpus_path;
    tc.quiet = 1;
    rc = tools_init(&tc, err);
    if (rc)
        return rc;
    rc = taskgen_generate(cfg, &train, &test, st, err);
    if (!rc) {
        snprintf(path, sizeof(path), "%s/train.jsonl", out);
        rc = taskgen_write(train, path, err);
    }
    if (!rc) {
        snprintf(path, sizeof(path), "%s/test.jsonl", out);
        rc = taskgen_write(test, path, err);
    }
    tools_shutdown();
    *ntrain = json_array_size(train);
    *ntest = json_array_size(test);
    json_decref(train);
    json_decref(test);
    return rc;
}

static int tasks_gen(int argc, char **argv) {
    struct taskgen_config cfg = {1, NULL, TASKGEN_TRAIN_DEFAULT, TASKGEN_TEST_DEFAULT};
    const char *out = NULL;
    /* clang-format off */
    struct opt opts[] = {
        {.name = "--seed", .kind = OPT_U64, .dst = &cfg.seed, .meta = "S", .lo = 0,
         .hi = OPT_U64_ANY, .def = "none, required",
         .help = "generation seed (the shipped tasks use 1)"},
        {.name = "--out", .kind = OPT_STR, .dst = &out, .meta = "DIR", .def = "none, required",
         .help = "directory for train.jsonl and test.jsonl (created if missing)"},
        {.name = "--corpus", .kind = OPT_STR, .dst = &cfg.corpus_path, .meta = "FILE",
         .def = "DATA/corpus.jsonl", .help = "the corpus the search tasks are drawn from"},
        {.name = "--train", .kind = OPT_SIZE, .dst = &cfg.ntrain, .meta = "N", .lo = 1,
         .hi = TASKGEN_MAX_TASKS, .help = "train tasks"},
        {.name = "--test", .kind = OPT_SIZE, .dst = &cfg.ntest, .meta = "N", .lo = 1,
         .hi = TASKGEN_MAX_TASKS, .help = "test tasks"},
    };
    /* clang-format on */
    struct opt_cmd cmd = {
        .name = "toolgym tasks gen",
        .summary = "Generate train and test tasks whose expert calls are verified by running them.",
        .opts = opts,
        .nopts = TG_ARRAY_LEN(opts)};
    struct taskgen_stats st;
    struct tg_error err;
    size_t ntrain = 0, ntest = 0;
    int rc = opt_parse(&cmd, argc, argv, NULL, 0, NULL);

    if (rc != OPT_RUN)
        return rc;
    if (!opt_given(&cmd, "--seed") || !out)
        return opt_error(&cmd, "%s is required (see toolgym tasks gen --help)",
                         opt_given(&cmd, "--seed") ? "--out DIR" : "--seed S");
    if (mkdir(out, 0755) && errno != EEXIST) {
        fprintf(stderr, "toolgym tasks gen: cannot create %s: %s\n", out, strerror(errno));
        return 1;
    }
    rc = generate(&cfg, out, &st, &ntrain, &ntest, &err);
    if (rc) {
        fprintf(stderr, "toolgym tasks gen: %s\n", err.message);
        return 1;
    }
    printf("wrote %zu train and %zu test tasks to %s (seed %llu; %zu expert calls verified)\n",
           ntrain, ntest, out, cfg.seed, st.tool_calls);
    for (int f = 0; f < TASK_FAMILY_COUNT; f++)
        printf("  %-13s kept %5zu  rejected %4zu\n", task_family_name((enum task_family)f),
               st.kept[f], st.rejected[f]);
    return 0;
}

static int tasks_check(int argc, char **argv) {
    struct opt_cmd cmd = {.name = "toolgym tasks check",
                          .args = "FILE...",
                          .summary =
                              "Validate task files: one line per error as FILE:LINE: field: why."};
    const char **files = calloc((size_t)argc, sizeof(*files));
    int nfiles = 0, status = 0, rc;

    if (!files) {
        fprintf(stderr, "toolgym tasks check: out of memory\n");
        return 1;
    }
    rc = opt_parse(&cmd, argc, argv, files, argc, &nfiles);
    if (rc == OPT_RUN && nfiles == 0)
        rc = opt_error(&cmd, "no FILE given (see toolgym tasks check --help)");
    for (int i = 0; rc == OPT_RUN && i < nfiles; i++) {
        struct tg_error err;
        size_t nt = 0, ne = 0;

        if (task_check_file(files[i], stdout, &nt, &ne, &err)) {
            fprintf(stderr, "toolgym tasks check: %s\n", err.message);
            status = 1;
            continue;
        }
        printf("%s: %zu tasks, %zu errors\n", files[i], nt, ne);
        if (ne || nt == 0)
            status = 1;
    }
    free(files);
    return rc == OPT_RUN ? status : rc;
}

static const struct opt_sub tasks_subs[] = {
    {"gen", tasks_gen, "generate train and test task files (verified expert calls)"},
    {"check", tasks_check, "validate task files"},
};

int cmd_tasks(int argc, char **argv) {
    return opt_dispatch("toolgym tasks", "Generate and check task files (JSONL, docs/tasks.md).",
                        tasks_subs, TG_ARRAY_LEN(tasks_subs), argc, argv);
}
