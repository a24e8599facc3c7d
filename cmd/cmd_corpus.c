/*
 * cmd_corpus.c — `toolgym corpus gen`: write a generated corpus (tools/corpus.h) to a file,
 * via FILE.tmp and a rename, or to stdout.
 */
#include <stdio.h>
#include <string.h>

#include "base/tg.h"
#include "cmd/cmd.h"
#include "cmd/opt.h"
#include "tools/corpus.h"

static int corpus_gen(int argc, char **argv) {
    unsigned long long seed = CORPUS_DEFAULT_SEED;
    size_t ndocs = CORPUS_DEFAULT_DOCS;
    const char *path = CORPUS_DEFAULT_PATH;
    /* clang-format off */
    struct opt opts[] = {
        {.name = "--seed", .kind = OPT_U64, .dst = &seed, .meta = "S", .lo = 0, .hi = OPT_U64_ANY,
         .help = "generation seed (the shipped corpus uses 1)"},
        {.name = "--docs", .kind = OPT_SIZE, .dst = &ndocs, .meta = "N", .lo = 1,
         .hi = CORPUS_GEN_MAX_DOCS, .help = "documents to generate"},
        {.name = "--out", .kind = OPT_STR, .dst = &path, .meta = "FILE",
         .help = "where to write it; - for stdout"},
    };
    /* clang-format on */
    struct opt_cmd cmd = {
        .name = "toolgym corpus gen",
        .summary = "Generate the search corpus: the same seed and size give the same bytes.",
        .opts = opts,
        .nopts = TG_ARRAY_LEN(opts)};
    struct tg_error err = {{0}, {0}};
    int rc = opt_parse(&cmd, argc, argv, NULL, 0, NULL);

    if (rc != OPT_RUN)
        return rc;
    if (strcmp(path, "-") == 0)
        rc = corpus_generate(seed, ndocs, stdout, &err);
    else
        rc = corpus_write_file(seed, ndocs, path, &err);
    if (rc) {
        fprintf(stderr, "toolgym corpus gen: %s\n", err.message);
        return 1;
    }
    if (strcmp(path, "-") != 0)
        fprintf(stderr, "toolgym corpus: wrote %zu documents (seed %llu) to %s\n", ndocs, seed,
                path);
    return 0;
}

static const struct opt_sub corpus_subs[] = {
    {"gen", corpus_gen, "generate the search corpus (JSONL)"},
};

int cmd_corpus(int argc, char **argv) {
    return opt_dispatch("toolgym corpus", "Generate the search corpus (docs/api.md, search).",
                        corpus_subs, TG_ARRAY_LEN(corpus_subs), argc, argv);
}
