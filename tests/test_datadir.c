/*
 * test_datadir.c — the data directory search (base/datadir.h): $TOOLGYM_DATA first and never
 * skipped when wrong, then data/ beside the binary and its parent, then the installed
 * share/toolgym, then ./data; paths that do not fit. The trees are built in a temporary
 * directory; the executable path is given, not taken from /proc.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/datadir.h"
#include "tg_test.h"

/* A temporary tree; paths inside it are built with at(). */
static char root[PATH_MAX];

static const char *at(const char *rel) {
    static char p[4][PATH_MAX];
    static int k;

    k = (k + 1) % 4;
    snprintf(p[k], sizeof(p[k]), "%s/%s", root, rel);
    return p[k];
}

static int make_tree(void) {
    snprintf(root, sizeof(root), "/tmp/tg-datadir-XXXXXX");
    return mkdtemp(root) ? 0 : -1;
}

/* mkdir -p of rel's directories, then an empty file rel. */
static void touch(const char *rel) {
    char p[PATH_MAX];
    FILE *f;

    snprintf(p, sizeof(p), "%s", at(rel));
    for (char *s = p + strlen(root) + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            mkdir(p, 0755);
            *s = '/';
        }
    f = fopen(p, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fclose(f);
}

static void remove_tree(void) {
    static const char *const files[] = {"bin/data/corpus.jsonl", "data/corpus.jsonl",
                                        "share/toolgym/corpus.jsonl", "env/corpus.jsonl"};
    static const char *const dirs[] = {"bin/data", "bin", "data", "share/toolgym",
                                       "share",    "env", "empty"};

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        unlink(at(files[i]));
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
        rmdir(at(dirs[i]));
    CU_ASSERT_EQUAL(rmdir(root), 0); /* nothing else was left behind */
}

TG_TEST(datadir, env_wins_and_is_never_skipped) {
    char out[PATH_MAX];
    struct tg_error err;

    CU_ASSERT_EQUAL_FATAL(make_tree(), 0);
    touch("env/corpus.jsonl");
    touch("share/toolgym/corpus.jsonl");
    mkdir(at("empty"), 0755);
    CU_ASSERT_EQUAL(datadir_search(at("env"), at("bin/toolgym"), out, sizeof(out), &err), 0);
    CU_ASSERT_STRING_EQUAL(out, at("env"));
    /* set but wrong: an error naming the variable and the directory, not the next place */
    CU_ASSERT_EQUAL(datadir_search(at("empty"), at("bin/toolgym"), out, sizeof(out), &err),
                    TG_ENOTFOUND);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "TOOLGYM_DATA="));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, at("empty")));
    CU_ASSERT_EQUAL(datadir_search("", at("bin/toolgym"), out, sizeof(out), &err), TG_ENOTFOUND);
    remove_tree();
}

TG_TEST(datadir, beside_the_binary_then_installed) {
    char out[PATH_MAX];
    struct tg_error err;

    CU_ASSERT_EQUAL_FATAL(make_tree(), 0);
    /* only the installed layout: PREFIX/bin/toolgym finds PREFIX/share/toolgym */
    touch("share/toolgym/corpus.jsonl");
    CU_ASSERT_EQUAL(datadir_search(NULL, at("bin/toolgym"), out, sizeof(out), &err), 0);
    CU_ASSERT_STRING_EQUAL(out, at("share/toolgym"));
    /* a data/ in the binary's parent (a build tree) comes before it */
    touch("data/corpus.jsonl");
    CU_ASSERT_EQUAL(datadir_search(NULL, at("bin/toolgym"), out, sizeof(out), &err), 0);
    CU_ASSERT_STRING_EQUAL(out, at("data"));
    /* and a data/ right beside the binary before that */
    touch("bin/data/corpus.jsonl");
    CU_ASSERT_EQUAL(datadir_search(NULL, at("bin/toolgym"), out, sizeof(out), &err), 0);
    CU_ASSERT_STRING_EQUAL(out, at("bin/data"));
    remove_tree();
}

/* The tests run from the checkout, whose data/ is the last place searched. */
TG_TEST(datadir, current_directory_last) {
    char out[PATH_MAX];
    struct tg_error err;

    CU_ASSERT_EQUAL_FATAL(access("data/corpus.jsonl", R_OK), 0);
    CU_ASSERT_EQUAL_FATAL(make_tree(), 0);
    mkdir(at("bin"), 0755);
    CU_ASSERT_EQUAL(datadir_search(NULL, at("bin/toolgym"), out, sizeof(out), &err), 0);
    CU_ASSERT_STRING_EQUAL(out, "data");
    CU_ASSERT_EQUAL(datadir_search(NULL, NULL, out, sizeof(out), &err), 0);
    CU_ASSERT_STRING_EQUAL(out, "data");
    remove_tree();
}

TG_TEST(datadir, nothing_found_names_the_places) {
    char out[PATH_MAX];
    struct tg_error err;
    char cwd[PATH_MAX];

    CU_ASSERT_PTR_NOT_NULL_FATAL(getcwd(cwd, sizeof(cwd)));
    CU_ASSERT_EQUAL_FATAL(make_tree(), 0);
    mkdir(at("empty"), 0755);
    /* from a directory without data/ (chdir is process-wide: back at once) */
    CU_ASSERT_EQUAL_FATAL(chdir(at("empty")), 0);
    CU_ASSERT_EQUAL(datadir_search(NULL, at("bin/toolgym"), out, sizeof(out), &err), TG_ENOTFOUND);
    CU_ASSERT_EQUAL_FATAL(chdir(cwd), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, at("bin/data")));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, at("share/toolgym")));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "./data"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "TOOLGYM_DATA"));
    remove_tree();
}

TG_TEST(datadir, results_that_do_not_fit) {
    char small[8];
    struct tg_error err;

    CU_ASSERT_EQUAL(datadir_search(NULL, NULL, small, sizeof(small), &err), 0); /* "data" */
    CU_ASSERT_STRING_EQUAL(small, "data");
    CU_ASSERT_EQUAL_FATAL(make_tree(), 0);
    touch("env/corpus.jsonl");
    CU_ASSERT_EQUAL(datadir_search(at("env"), NULL, small, sizeof(small), &err), TG_ERANGE);
    remove_tree();
}

/* datadir_file joins a name onto what the process itself finds (here: the checkout's data,
 * or $TOOLGYM_DATA if the runner was started with it). */
TG_TEST(datadir, file_inside_the_found_directory) {
    char path[PATH_MAX], tiny[12];
    struct tg_error err;
    const char *suffix = "/tasks/train.jsonl";

    CU_ASSERT_EQUAL_FATAL(datadir_file("tasks/train.jsonl", path, sizeof(path), &err), 0);
    CU_ASSERT(strlen(path) > strlen(suffix));
    CU_ASSERT_STRING_EQUAL(path + strlen(path) - strlen(suffix), suffix);
    CU_ASSERT_EQUAL(access(path, R_OK), 0);
    CU_ASSERT_EQUAL(datadir_file("tasks/train.jsonl", tiny, sizeof(tiny), &err), TG_ERANGE);
}
