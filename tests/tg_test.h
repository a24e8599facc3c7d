/*
 * tg_test.h — how a test file registers CUnit tests, and the end-to-end harness.
 *
 * A test file declares tests with TG_TEST(suite, name) { ... CU_ASSERT...; }. Registration
 * happens at load time (a constructor), so adding a test file needs no edit elsewhere. The
 * runner (tests/main.c) groups tests by suite, runs them, prints "N passed, N failed" last
 * and exits non-zero on any failure. `build/toolgym-tests SUITE...` runs only those suites.
 *
 * End-to-end helpers start a real server in-process on port 0 and talk to it with libcurl.
 */
#ifndef TG_TEST_H
#define TG_TEST_H

#include <CUnit/CUnit.h>
#include <stddef.h>

typedef void (*tg_test_fn)(void);
void tg_test_register(const char *suite, const char *name, tg_test_fn fn);

#define TG_TEST(suite, name)                                                                       \
    static void test_##suite##_##name(void);                                                       \
    __attribute__((constructor)) static void reg_##suite##_##name(void) {                          \
        tg_test_register(#suite, #name, test_##suite##_##name);                                    \
    }                                                                                              \
    static void test_##suite##_##name(void)

/*
 * tg_test_skip — the running test cannot run here (a tool it drives is not installed): print
 * "  SKIP suite/name: why" and count the test as skipped, not passed (the last line then says
 * ", N skipped"). Call it before any assertion and return. Only for what the machine lacks,
 * never for a check that failed.
 */
void tg_test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Path of a fixture under tests/data/ (static buffer, not thread-safe). */
const char *tg_test_data(const char *name);

/* ---- end-to-end harness ------------------------------------------------------------------ */

struct server;
struct server_config;

/*
 * test_server_start — start a server in-process on 127.0.0.1, port 0, quiet, with the
 * shipped corpus unless cfg says otherwise. cfg may be NULL (defaults) or a config the
 * caller filled starting from server_config_defaults(). Returns NULL on failure (and fails
 * the current test). test_server_stop stops it and frees it; accepts NULL.
 */
struct server *test_server_start(const struct server_config *cfg);
void test_server_stop(struct server *s);

/* Base URL "http://127.0.0.1:PORT" of a started server (static per server). */
const char *test_server_url(struct server *s);

/*
 * test_wait_runq — wait (up to 30 s, a liveness bound far past what any test's work needs)
 * until server s's run queue holds `want` jobs (waiting + running) or, with running set,
 * until its workers run `want`. Returns the last count seen.
 */
size_t test_wait_runq(struct server *s, size_t want, int running);

/* test_remove_dir — unlink the files of the flat scratch directory dir, then dir itself.
 * Returns rmdir's result. */
int test_remove_dir(const char *dir);

/* test_slurp — the whole file at path as a new NUL-terminated string, or NULL (missing,
 * unreadable, out of memory). */
char *test_slurp(const char *path);

/*
 * test_task_file_head — the first n lines of data/tasks/train.jsonl (tasks with their expert
 * calls) copied into a new temporary file, whose path goes to path[size]; the caller unlinks.
 */
void test_task_file_head(char *path, size_t size, int n);

struct http_resp {
    long status;
    char *body; /* new, NUL-terminated */
    size_t len;
    char headers[2048]; /* raw response headers */
};

/*
 * test_http — one request with libcurl. method "GET"/"POST"/...; body may be NULL;
 * content_type NULL means "application/json" when a body is given. extra_header may be
 * NULL, one header ("Authorization: Bearer k") or several, one a line ("Host: a\nOrigin: b";
 * "Host:" alone removes curl's own). Returns 0 and fills *r (free with
 * http_resp_free), or -1 on a transport error.
 */
int test_http(const char *method, const char *url, const char *body, size_t body_len,
              const char *content_type, const char *extra_header, struct http_resp *r);
void http_resp_free(struct http_resp *r);

/* test_header — value of header `name` in r->headers into buf; 0 if found. */
int test_header(const struct http_resp *r, const char *name, char *buf, size_t n);

#endif
