/*
 * main.c — the test runner: builds CUnit suites from TG_TEST registrations and runs them
 * with CUnit's TestRun layer and handlers of its own (not the basic runner, which is silent
 * until the end). It prints one line per suite as the suite finishes (name, tests passed and
 * failed, seconds), each failed assertion as file:line and condition when its test finishes,
 * "N passed, N failed" (tests) as the last line, and exits non-zero on any failure or
 * registry error. Arguments, if any, name the suites to run; an unknown name is an error.
 */
#include "tg_test.h"

#include <CUnit/TestRun.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/sandbox.h"

#define MAX_TESTS 4096

struct reg {
    const char *suite;
    const char *name;
    tg_test_fn fn;
};

static struct reg regs[MAX_TESTS];
static size_t nregs;

void tg_test_register(const char *suite, const char *name, tg_test_fn fn) {
    if (nregs >= MAX_TESTS) {
        fprintf(stderr, "tests: more than %d tests\n", MAX_TESTS);
        exit(2);
    }
    regs[nregs].suite = suite;
    regs[nregs].name = name;
    regs[nregs].fn = fn;
    nregs++;
}

const char *tg_test_data(const char *name) {
    static char path[1024];
    const char *dir = getenv("TG_TEST_DATA");

    snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/data", name);
    return path;
}

static int wanted(const char *suite, int argc, char **argv) {
    if (argc < 2)
        return 1;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], suite) == 0)
            return 1;
    return 0;
}

/* ---- progress: one line per suite ---------------------------------------------------------- */

static struct {
    unsigned passed, failed, skipped; /* tests of the running suite */
    int skipping;                     /* the running test called tg_test_skip */
    struct timespec start;
} cur;

static unsigned skipped_total;

void tg_test_skip(const char *fmt, ...) {
    CU_pTest t = CU_get_current_test();
    CU_pSuite s = CU_get_current_suite();
    va_list ap;

    printf("  SKIP %s/%s: ", s ? s->pName : "?", t ? t->pName : "?");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    cur.skipping = 1;
}

static double since(const struct timespec *t0) {
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void on_suite_start(const CU_pSuite s) {
    (void)s;
    cur.passed = cur.failed = cur.skipped = 0;
    clock_gettime(CLOCK_MONOTONIC, &cur.start);
}

/* f: this test's failure records (NULL when it passed); the list runs on to the end. */
static void on_test_complete(const CU_pTest t, const CU_pSuite s, const CU_pFailureRecord f) {
    int skipping = cur.skipping;

    cur.skipping = 0;
    if (!f && skipping) {
        cur.skipped++;
        skipped_total++;
        return;
    }
    if (!f) {
        cur.passed++;
        return;
    }
    cur.failed++;
    for (CU_pFailureRecord r = f; r; r = r->pNext)
        if (r->pTest == t)
            printf("  FAIL %s/%s %s:%u: %s\n", s->pName, t->pName,
                   r->strFileName ? r->strFileName : "?", r->uiLineNumber,
                   r->strCondition ? r->strCondition : "");
    fflush(stdout);
}

static void on_suite_complete(const CU_pSuite s, const CU_pFailureRecord f) {
    (void)f;
    if (cur.skipped)
        printf("%-18s %4u passed, %u failed, %u skipped  %6.1f s\n", s->pName, cur.passed,
               cur.failed, cur.skipped, since(&cur.start));
    else
        printf("%-18s %4u passed, %u failed  %6.1f s\n", s->pName, cur.passed, cur.failed,
               since(&cur.start));
    fflush(stdout);
}

static void on_suite_setup_failure(const CU_pSuite s) {
    printf("%-18s set-up or clean-up failed\n", s->pName);
    fflush(stdout);
}

int main(int argc, char **argv) {
    unsigned run, failed, asserts_failed, nsuites = 0, ntests = 0;
    struct timespec t0;

    for (int i = 1; i < argc; i++) {
        size_t k = 0;

        while (k < nregs && strcmp(regs[k].suite, argv[i]) != 0)
            k++;
        if (k == nregs) {
            fprintf(stderr, "tests: no suite named '%s'\n0 passed, 1 failed\n", argv[i]);
            return 2;
        }
    }
    /* TOOLGYM_TEST_RUN_MODE=cold|warm: every sandbox this process starts uses that run mode
     * (make test runs the sandbox suites once more in cold mode; the default is warm) */
    if (getenv("TOOLGYM_TEST_RUN_MODE")) {
        enum sandbox_run_mode m;

        if (sandbox_run_mode_parse(getenv("TOOLGYM_TEST_RUN_MODE"), &m) != 0) {
            fprintf(stderr,
                    "tests: TOOLGYM_TEST_RUN_MODE must be cold or warm\n0 passed, 1 failed\n");
            return 2;
        }
        sandbox_force_run_mode(m);
        printf("sandbox run mode: %s\n", sandbox_run_mode_name(m));
    }
    if (CU_initialize_registry() != CUE_SUCCESS) {
        fprintf(stderr, "tests: CUnit registry: %s\n", CU_get_error_msg());
        return 2;
    }
    for (size_t i = 0; i < nregs; i++) {
        CU_pSuite s;

        if (!wanted(regs[i].suite, argc, argv))
            continue;
        s = CU_get_suite(regs[i].suite);
        if (!s) {
            s = CU_add_suite(regs[i].suite, NULL, NULL);
            nsuites++;
        }
        if (!s || !CU_add_test(s, regs[i].name, regs[i].fn)) {
            fprintf(stderr, "tests: cannot register %s/%s: %s\n", regs[i].suite, regs[i].name,
                    CU_get_error_msg());
            CU_cleanup_registry();
            return 2;
        }
        ntests++;
    }
    CU_set_suite_start_handler(on_suite_start);
    CU_set_test_complete_handler(on_test_complete);
    CU_set_suite_complete_handler(on_suite_complete);
    CU_set_suite_init_failure_handler(on_suite_setup_failure);
    CU_set_suite_cleanup_failure_handler(on_suite_setup_failure);
    printf("running %u suites, %u tests\n", nsuites, ntests);
    fflush(stdout);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CU_run_all_tests();
    /* The sandbox suites leave the process-wide sandbox up (test_sandbox.c starts it once).
     * Stop it before exit: in warm mode each idle slot's launcher waits inside clone() with a
     * prepared run, and LeakSanitizer's stop-the-world at exit cannot stop a thread there
     * (it waited forever under SANITIZE=address in the rootless cgroup pass). */
    if (sandbox_slots() > 0)
        sandbox_shutdown();
    run = CU_get_number_of_tests_run();
    failed = CU_get_number_of_tests_failed();
    asserts_failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    if (run == 0) {
        printf("no tests ran\n0 passed, 1 failed\n");
        return 1;
    }
    printf("all suites: %.1f s\n", since(&t0));
    if (skipped_total)
        printf("%u passed, %u failed, %u skipped\n", run - failed - skipped_total, failed,
               skipped_total);
    else
        printf("%u passed, %u failed\n", run - failed, failed);
    return (failed || asserts_failed) ? 1 : 0;
}
