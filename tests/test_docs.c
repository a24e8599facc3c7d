/*
 * test_docs.c — suite `docs`: every command of README.md and docs/ (*.md) runs against a real
 * server and prints what the doc shows (tests/docrun.h says what is run, how, and the
 * placeholders …, <id>, <num> and <bool> allowed in shown output). The suite also checks
 * the checker: placeholders match what they should and nothing else, commands and their
 * output lines are extracted as documented, and a doc that drifts is reported at its line.
 *
 * The binary under test is $TOOLGYM_BIN (make test sets it), else build/toolgym; the docs are
 * read from the current directory (the repository root under make test).
 */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "docrun.h"
#include "tg_test.h"

/* ---- placeholders -------------------------------------------------------------------------- */

TG_TEST(docs, placeholders_match_what_they_stand_for_and_nothing_else) {
    static const struct {
        const char *expect, *actual;
        int match;
    } cases[] = {
        {"{\"ok\":true}", "{\"ok\":true}", 1},
        {"{\"ok\":true}", "{\"ok\":false}", 0},
        {"{\"ok\":true}", "{\"ok\":true}\n\n", 1}, /* trailing newlines do not count */
        {"{\"ok\":true}", "{\"ok\":true} ", 0},
        {"", "", 1},
        {"", "something", 0},
        {"a", "", 0},
        /* … within a line */
        {"{\"tools\":[…]}", "{\"tools\":[{\"name\":\"calculator\"}]}", 1},
        {"{\"tools\":[…]}", "{\"tools\":[]}", 1},
        {"{\"tools\":[…]}", "{\"tools\":{}}", 0},
        {"…done", "training... done", 1},
        {"…done", "done later", 0},
        /* … as a whole line: any number of lines */
        {"first\n…\nlast", "first\nlast", 1},
        {"first\n…\nlast", "first\na\nb\nc\nlast", 1},
        {"first\n…\nlast", "first\na\nb\nc", 0},
        {"first\n…", "first\nanything\nat all", 1},
        {"first\n…", "second", 0},
        {"…\nx = 1\n…\nx = 2\n…", "x = 2\nx = 1", 0}, /* order counts */
        {"…\nx = 1\n…\nx = 2\n…", "y\nx = 1\ny\nx = 2\ny", 1},
        /* ASCII dots are text, not a placeholder */
        {"a ... b", "a ... b", 1},
        {"a ... b", "a xyz b", 0},
        /* <id> */
        {"tag policy-<id>  episodes 500", "tag policy-9b560c3f  episodes 500", 1},
        {"\"episode_id\":\"<id>\"", "\"episode_id\":\"3fa8c2d1e0b94b7a9c1d2e3f4a5b6c7d\"", 1},
        {"\"episode_id\":\"<id>\"", "\"episode_id\":\"\"", 0},
        {"\"episode_id\":\"<id>\"", "\"episode_id\":\"a b\"", 0},
        /* <num> */
        {"\"score\":<num>}", "\"score\":2.32762980264357}", 1},
        {"\"score\":<num>}", "\"score\":-1.5e-07}", 1},
        {"\"score\":<num>}", "\"score\":42}", 1},
        {"ret <num>  acc", "ret +0.126  acc", 1},
        {"\"score\":<num>}", "\"score\":null}", 0},
        {"\"score\":<num>}", "\"score\":1.}", 0},
        {"\"score\":<num>}", "\"score\":}", 0},
        {"<num> ms", "12 ms", 1},
        {"<num>ms", "12.5.3ms", 0},
        /* <bool> */
        {"\"cgroups\":<bool>}", "\"cgroups\":true}", 1},
        {"\"cgroups\":<bool>}", "\"cgroups\":false}", 1},
        {"\"cgroups\":<bool>}", "\"cgroups\":1}", 0},
        /* unknown <words> are text */
        {"<other>", "<other>", 1},
        {"<other>", "x", 0},
    };
    char why[512];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = doc_match(cases[i].expect, cases[i].actual, why, sizeof(why));

        if (got != cases[i].match) {
            char msg[1024];

            snprintf(msg, sizeof(msg), "case %zu: `%s` vs `%s`: %s, want %s", i, cases[i].expect,
                     cases[i].actual, got ? "match" : "no match", cases[i].match ? "match" : "no");
            CU_assertImplementation(CU_FALSE, __LINE__, msg, __FILE__, "", CU_FALSE);
        }
        if (!got)
            CU_ASSERT(why[0] != '\0'); /* a mismatch always says where */
    }
}

TG_TEST(docs, a_mismatch_names_the_line) {
    char why[512];

    CU_ASSERT_FALSE(doc_match("a\nb\nc", "a\nB\nc", why, sizeof(why)));
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "line 2"));
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "`b`"));
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "`B`"));
    CU_ASSERT_FALSE(doc_match("a", "a\nextra", why, sizeof(why)));
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "extra"));
    CU_ASSERT_FALSE(doc_match("a\n…\nz", "a\nb", why, sizeof(why)));
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "`z`"));
}

/* ---- extraction ----------------------------------------------------------------------------- */

struct reports {
    int n;
    int line[16];
    char msg[16][4096];
};

static void collect(void *ud, const char *file, int line, const char *msg) {
    struct reports *r = ud;

    (void)file;
    if (r->n < 16) {
        r->line[r->n] = line;
        snprintf(r->msg[r->n], sizeof(r->msg[0]), "%s", msg);
    }
    r->n++;
}

static const char fixture_md[] =
    "# A doc\n"                                                       /* 1 */
    "\n"                                                              /* 2 */
    "```sh\n"                                                         /* 3 */
    "make run    # not a tested command\n"                            /* 4 */
    "            # its comment goes on\n"                             /* 5 */
    "curl -s localhost:8080/healthz   # a trailing comment\n"         /* 6 */
    "# {\"status\":\"ok\"}\n"                                         /* 7 */
    "#\n"                                                             /* 8 */
    "#   indented\n"                                                  /* 9 */
    "\n"                                                              /* 10 */
    "# a prose comment after a blank line\n"                          /* 11 */
    "curl -s -X POST localhost:8080/v1/tools/calculator \\\n"         /* 12 */
    "     -d '{\"arguments\":{\"expression\":\"1 # 2\"}}'\n"          /* 13 */
    "# {\"ok\":false}\n"                                              /* 14 */
    "build/toolgym serve --port 8081 &   # in the background\n"       /* 15 */
    "toolgym tasks check nope.jsonl 2>&1\n"                           /* 16 */
    "# nope.jsonl: cannot open\n"                                     /* 17 */
    "# [exit 1]\n"                                                    /* 18 */
    "true && curl -s localhost:8080/x\n"                              /* 19 */
    "```\n"                                                           /* 20 */
    "\n"                                                              /* 21 */
    "```\n"                                                           /* 22 */
    "toolgym serve [--port N]      (a synopsis: not run)\n"           /* 23 */
    "$ curl -s localhost:8080/healthz\n"                              /* 24 */
    "```\n"                                                           /* 25 */
    "\n"                                                              /* 26 */
    "- a list item:\n"                                                /* 27 */
    "  ```sh\n"                                                       /* 28 */
    "  ./build/toolgym eval --server http://127.0.0.1:8080 --quiet\n" /* 29 */
    "  # …\n"                                                         /* 30 */
    "  ```\n"                                                         /* 31 */
    "```json\n"                                                       /* 32 */
    "{\"note\":\"curl is only text in a json block\"}\n"              /* 33 */
    "```\n";                                                          /* 34 */

TG_TEST(docs, commands_and_their_output_lines_are_extracted) {
    struct doc_cmd *c;
    struct reports r = {0};
    size_t n;

    CU_ASSERT_EQUAL_FATAL(doc_extract("fixture.md", fixture_md, &c, &n, collect, &r), 0);
    CU_ASSERT_EQUAL_FATAL(n, 5);
    CU_ASSERT_EQUAL(c[0].line, 6);
    CU_ASSERT_STRING_EQUAL(c[0].text, "curl -s localhost:8080/healthz   # a trailing comment");
    CU_ASSERT_STRING_EQUAL(c[0].expect, "{\"status\":\"ok\"}\n\n  indented");
    CU_ASSERT_EQUAL(c[0].background, 0);
    CU_ASSERT_EQUAL(c[1].line, 12);
    CU_ASSERT_STRING_EQUAL(c[1].text, "curl -s -X POST localhost:8080/v1/tools/calculator \\\n"
                                      "     -d '{\"arguments\":{\"expression\":\"1 # 2\"}}'");
    CU_ASSERT_STRING_EQUAL(c[1].expect, "{\"ok\":false}");
    CU_ASSERT_EQUAL(c[2].line, 15);
    CU_ASSERT_EQUAL(c[2].background, 1);
    CU_ASSERT_STRING_EQUAL(c[2].expect, "");
    CU_ASSERT_EQUAL(c[3].line, 16);
    CU_ASSERT_STRING_EQUAL(c[3].expect, "nope.jsonl: cannot open");
    CU_ASSERT_EQUAL(c[3].expect_exit, 1);
    CU_ASSERT_EQUAL(c[3].background, 0);
    CU_ASSERT_EQUAL(c[4].line, 29);
    CU_ASSERT_STRING_EQUAL(c[4].text,
                           "./build/toolgym eval --server http://127.0.0.1:8080 --quiet");
    CU_ASSERT_STRING_EQUAL(c[4].expect, "…");
    /* the `$ curl` in a plain block is reported; the synopsis and the json text are not */
    CU_ASSERT_EQUAL(r.n, 1);
    CU_ASSERT_EQUAL(r.line[0], 24);
    doc_cmds_free(c, n);
}

/* ---- sessions ------------------------------------------------------------------------------- */

static int paths(char *bin, char *data) {
    const char *b = getenv("TOOLGYM_BIN");

    if (!realpath(b && *b ? b : "build/toolgym", bin) || access(bin, X_OK) != 0) {
        CU_FAIL("the binary under test ($TOOLGYM_BIN or build/toolgym) is not there");
        return -1;
    }
    if (!realpath("data", data)) {
        CU_FAIL("run the tests from the repository root (no data/ here)");
        return -1;
    }
    return 0;
}

TG_TEST(docs, a_doc_that_drifts_is_reported_at_its_lines) {
    static const char md[] =
        "```sh\n"
        "curl -s localhost:8080/healthz\n" /* 2: right, with placeholders */
        "# {\"status\":\"ok\",\"version\":\"…\",\"sandbox\":{\"mode\":\"<id>\","
        "\"namespaces\":<bool>,\"user_namespace\":<bool>,\"seccomp\":<bool>,\"cgroups\":<bool>,"
        "\"processes\":\"<id>\",\"memory\":\"<id>\",\"run_mode\":\"<id>\"}}\n"
        "curl -s -X POST localhost:8080/v1/tools/calculator -H 'Content-Type: application/json' "
        "-d '{\"arguments\":{\"expression\":\"6*7\"}}'\n" /* 4: drifted */
        "# {\"ok\":true,\"content\":\"41\",\"result\":{\"value\":41}}\n"
        "curl -s localhost:8080/v1/nothing-here\n"  /* 6: prints, but the doc shows nothing */
        "curl -sf localhost:8080/v1/nothing-here\n" /* 7: exits 22, the doc says 0 */
        "# …\n"
        "curl -sf localhost:8080/v1/nothing-here\n" /* 9: fails as shown */
        "# [exit 22]\n"
        "toolgym tasks check data/tasks/test.jsonl\n" /* 11: the binary, in a dir with data/ */
        "# …\n"
        "```\n";
    char bin[PATH_MAX], data[PATH_MAX], path[] = "/tmp/toolgym-docs-test-XXXXXX";
    struct reports r = {0};
    int fd, ran;

    if (paths(bin, data) != 0)
        return;
    fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_FATAL(write(fd, md, sizeof(md) - 1) == (ssize_t)(sizeof(md) - 1));
    close(fd);
    ran = doc_run_file(path, bin, data, collect, &r);
    unlink(path);
    CU_ASSERT_EQUAL(ran, 6);
    CU_ASSERT_EQUAL_FATAL(r.n, 3);
    CU_ASSERT_EQUAL(r.line[0], 4);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.msg[0], "shown `{\"ok\":true,\"content\":\"41\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.msg[0], "got `{\"ok\":true,\"content\":\"42\""));
    CU_ASSERT_EQUAL(r.line[1], 6);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.msg[1], "not_found"));
    CU_ASSERT_EQUAL(r.line[2], 7);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.msg[2], "exit status 22"));
}

/* ---- the docs themselves -------------------------------------------------------------------- */

static void report_failure(void *ud, const char *file, int line, const char *msg) {
    (void)ud;
    CU_assertImplementation(CU_FALSE, (unsigned)line, msg, file, "", CU_FALSE);
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

TG_TEST(docs, every_command_in_the_docs_prints_what_the_doc_shows) {
    char bin[PATH_MAX], data[PATH_MAX];
    char *files[64];
    int nfiles = 0, total = 0, readme;
    DIR *d;
    struct dirent *e;

    if (paths(bin, data) != 0)
        return;
    d = opendir("docs");
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    while ((e = readdir(d)) != NULL && nfiles < 64) {
        size_t len = strlen(e->d_name);

        if (len > 3 && strcmp(e->d_name + len - 3, ".md") == 0) {
            files[nfiles] = malloc(len + 6);
            CU_ASSERT_PTR_NOT_NULL_FATAL(files[nfiles]);
            snprintf(files[nfiles], len + 6, "docs/%s", e->d_name);
            nfiles++;
        }
    }
    closedir(d);
    qsort(files, (size_t)nfiles, sizeof(files[0]), by_name);
    readme = doc_run_file("README.md", bin, data, report_failure, NULL);
    CU_ASSERT(readme > 0); /* the README's session was found and run */
    total += readme > 0 ? readme : 0;
    for (int i = 0; i < nfiles; i++) {
        int n = doc_run_file(files[i], bin, data, report_failure, NULL);

        total += n > 0 ? n : 0;
        free(files[i]);
    }
    CU_ASSERT(total > readme);
    printf("  [%d doc commands run from README.md and %d docs/*.md]\n", total, nfiles);
}
