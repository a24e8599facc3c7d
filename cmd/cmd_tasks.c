/*
 * cmd_tasks.c — `toolgym tasks gen` (generate the train, test and ood splits from the task
 * grammar, with verified expert calls), `toolgym tasks check FILE...` (validate task files),
 * `toolgym tasks check-grammar` (check the grammar without generating) and
 * `toolgym tasks stats FILE` (families, tags and distinct frames of a task file). The
 * generation, checks and statistics are the server layer's (taskgen.h, task.h); this file is
 * their command line.
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

/* generate with the tool registry up, write DIR/{train,test,ood}.jsonl (the non-empty ones) */
static int generate(const struct taskgen_config *cfg, const char *out, struct taskgen_stats *st,
                    size_t n[TASKGEN_SPLITS], struct tg_error *err) {
    struct tools_config tc;
    json_t *splits[TASKGEN_SPLITS] = {NULL, NULL, NULL};
    char path[4096];
    int rc;

    memset(&tc, 0, sizeof(tc));
    tc.corpus_path = cfg->corpus_path;
    tc.quiet = 1;
    rc = tools_init(&tc, err);
    if (rc)
        return rc;
    rc = taskgen_generate(cfg, splits, st, err);
    for (int s = 0; s < TASKGEN_SPLITS; s++) {
        if (!rc && cfg->n[s]) {
            snprintf(path, sizeof(path), "%s/%s.jsonl", out,
                     taskgen_split_name((enum taskgen_split)s));
            rc = taskgen_write(splits[s], path, err);
        }
        n[s] = json_array_size(splits[s]);
        json_decref(splits[s]);
    }
    tools_shutdown();
    return rc;
}

static int tasks_gen(int argc, char **argv) {
    struct taskgen_config cfg = {
        1, NULL, NULL, {TASKGEN_TRAIN_DEFAULT, TASKGEN_TEST_DEFAULT, TASKGEN_OOD_DEFAULT}};
    const char *out = NULL;
    /* clang-format off */
    struct opt opts[] = {
        {.name = "--seed", .kind = OPT_U64, .dst = &cfg.seed, .meta = "S", .lo = 0,
         .hi = OPT_U64_ANY, .def = "none, required",
         .help = "generation seed (the shipped tasks use 1)"},
        {.name = "--out", .kind = OPT_STR, .dst = &out, .meta = "DIR", .def = "none, required",
         .help = "directory for train.jsonl, test.jsonl and ood.jsonl (created if missing)"},
        {.name = "--corpus", .kind = OPT_STR, .dst = &cfg.corpus_path, .meta = "FILE",
         .def = "DATA/corpus.jsonl", .help = "the corpus the entities and facts are drawn from"},
        {.name = "--grammar", .kind = OPT_STR, .dst = &cfg.grammar_dir, .meta = "DIR",
         .def = "DATA/grammar", .help = "the task grammar (docs/tasks.md)"},
        {.name = "--train", .kind = OPT_SIZE, .dst = &cfg.n[TASKGEN_TRAIN], .meta = "N", .lo = 0,
         .hi = TASKGEN_MAX_TASKS, .help = "train tasks"},
        {.name = "--test", .kind = OPT_SIZE, .dst = &cfg.n[TASKGEN_TEST], .meta = "N", .lo = 0,
         .hi = TASKGEN_MAX_TASKS, .help = "test tasks (held-out entities, unseen frames)"},
        {.name = "--ood", .kind = OPT_SIZE, .dst = &cfg.n[TASKGEN_OOD], .meta = "N", .lo = 0,
         .hi = TASKGEN_MAX_TASKS, .help = "ood tasks (held-out productions)"},
    };
    /* clang-format on */
    struct opt_cmd cmd = {.name = "toolgym tasks gen",
                          .summary = "Generate train, test and ood tasks from the task grammar; "
                                     "every expert call is verified by running it.",
                          .opts = opts,
                          .nopts = TG_ARRAY_LEN(opts)};
    struct taskgen_stats st;
    struct tg_error err;
    size_t n[TASKGEN_SPLITS] = {0, 0, 0};
    int rc = opt_parse(&cmd, argc, argv, NULL, 0, NULL);

    if (rc != OPT_RUN)
        return rc;
    if (!opt_given(&cmd, "--seed") || !out)
        return opt_error(&cmd, "%s is required (see toolgym tasks gen --help)",
                         opt_given(&cmd, "--seed") ? "--out DIR" : "--seed S");
    if (cfg.n[TASKGEN_TRAIN] + cfg.n[TASKGEN_TEST] + cfg.n[TASKGEN_OOD] == 0)
        return opt_error(&cmd, "every split is 0 tasks: nothing to generate");
    if (mkdir(out, 0755) && errno != EEXIST) {
        fprintf(stderr, "toolgym tasks gen: cannot create %s: %s\n", out, strerror(errno));
        return 1;
    }
    rc = generate(&cfg, out, &st, n, &err);
    if (rc) {
        fprintf(stderr, "toolgym tasks gen: %s\n", err.message);
        return 1;
    }
    printf("wrote %zu train, %zu test and %zu ood tasks to %s (seed %llu; grammar checked under "
           "%zu bindings; %zu expert calls verified)\n",
           n[TASKGEN_TRAIN], n[TASKGEN_TEST], n[TASKGEN_OOD], out, cfg.seed, st.checks,
           st.tool_calls);
    for (int f = 0; f < TASK_FAMILY_COUNT; f++)
        printf("  %-18s kept %5zu  rejected %5zu\n", task_family_name((enum task_family)f),
               st.kept[f], st.rejected[f]);
    printf("  rejected because: no fit %zu, expansion %zu, no held-out production (ood) %zu, "
           "frame of the other split %zu, repeated prompt %zu, failed verification %zu\n",
           st.reasons[TASKGEN_REJ_BUILD], st.reasons[TASKGEN_REJ_EXPAND],
           st.reasons[TASKGEN_REJ_HELDOUT], st.reasons[TASKGEN_REJ_FRAME],
           st.reasons[TASKGEN_REJ_REPEAT], st.reasons[TASKGEN_REJ_VERIFY]);
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

static int tasks_check_grammar(int argc, char **argv) {
    const char *dir = NULL, *corpus = NULL;
    /* clang-format off */
    struct opt opts[] = {
        {.name = "--grammar", .kind = OPT_STR, .dst = &dir, .meta = "DIR",
         .def = "DATA/grammar", .help = "the task grammar"},
        {.name = "--corpus", .kind = OPT_STR, .dst = &corpus, .meta = "FILE",
         .def = "DATA/corpus.jsonl", .help = "the corpus whose attributes it must word"},
    };
    /* clang-format on */
    struct opt_cmd cmd = {.name = "toolgym tasks check-grammar",
                          .summary = "Check the task grammar under every binding of every "
                                     "operation, without generating.",
                          .opts = opts,
                          .nopts = TG_ARRAY_LEN(opts)};
    struct tg_error err;
    size_t checks = 0;
    int rc = opt_parse(&cmd, argc, argv, NULL, 0, NULL);

    if (rc != OPT_RUN)
        return rc;
    if (taskgen_check_grammar(dir, corpus, &checks, &err)) {
        fprintf(stderr, "toolgym tasks check-grammar: %s\n", err.message);
        return 1;
    }
    printf("grammar ok: %zu operation bindings checked\n", checks);
    return 0;
}

static int tasks_stats(int argc, char **argv) {
    const char *corpus = NULL, *file[1] = {NULL};
    /* clang-format off */
    struct opt opts[] = {
        {.name = "--corpus", .kind = OPT_STR, .dst = &corpus, .meta = "FILE",
         .def = "DATA/corpus.jsonl", .help = "the corpus whose entity names frames mask"},
    };
    /* clang-format on */
    struct opt_cmd cmd = {.name = "toolgym tasks stats",
                          .args = "FILE",
                          .summary = "A task file's families, distinct normalised frames per "
                                     "family, and tags with counts.",
                          .opts = opts,
                          .nopts = TG_ARRAY_LEN(opts)};
    struct tg_error err;
    int nfiles = 0, rc = opt_parse(&cmd, argc, argv, file, 1, &nfiles);

    if (rc != OPT_RUN)
        return rc;
    if (nfiles != 1)
        return opt_error(&cmd, "one FILE is needed (see toolgym tasks stats --help)");
    if (taskgen_stats_file(file[0], corpus, stdout, NULL, &err)) {
        fprintf(stderr, "toolgym tasks stats: %s\n", err.message);
        return 1;
    }
    return 0;
}

static const struct opt_sub tasks_subs[] = {
    {"gen", tasks_gen, "generate train, test and ood task files (verified expert calls)"},
    {"check", tasks_check, "validate task files"},
    {"check-grammar", tasks_check_grammar, "check the task grammar without generating"},
    {"stats", tasks_stats, "families, frames and tags of a task file"},
};

int cmd_tasks(int argc, char **argv) {
    return opt_dispatch("toolgym tasks",
                        "Generate, check and describe task files (JSONL, docs/tasks.md).",
                        tasks_subs, TG_ARRAY_LEN(tasks_subs), argc, argv);
}
