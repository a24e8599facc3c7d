/*
 * main.c — the test runner: builds CUnit suites from TG_TEST registrations, runs them with
 * the basic runner, prints "N passed, N failed" as the last line, and exits non-zero on any
 * failure or registry error. Arguments, if any, name the suites to run.
 */
#include "tg_test.h"

#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int main(int argc, char **argv) {
    unsigned run, failed, asserts_failed;

    if (CU_initialize_registry() != CUE_SUCCESS) {
        fprintf(stderr, "tests: CUnit registry: %s\n", CU_get_error_msg());
        return 2;
    }
    for (size_t i = 0; i < nregs; i++) {
        CU_pSuite s;

        if (!wanted(regs[i].suite, argc, argv))
            continue;
        s = CU_get_suite(regs[i].suite);
        if (!s)
            s = CU_add_suite(regs[i].suite, NULL, NULL);
        if (!s || !CU_add_test(s, regs[i].name, regs[i].fn)) {
            fprintf(stderr, "tests: cannot register %s/%s: %s\n", regs[i].suite, regs[i].name,
                    CU_get_error_msg());
            CU_cleanup_registry();
            return 2;
        }
    }
    CU_basic_set_mode(CU_BRM_NORMAL);
    CU_basic_run_tests();
    run = CU_get_number_of_tests_run();
    failed = CU_get_number_of_tests_failed();
    asserts_failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    if (run == 0) {
        printf("no tests ran\n0 passed, 1 failed\n");
        return 1;
    }
    printf("\n%u passed, %u failed\n", run - failed, failed);
    return (failed || asserts_failed) ? 1 : 0;
}
