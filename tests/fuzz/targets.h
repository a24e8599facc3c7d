/*
 * targets.h — the bodies of the fuzz targets, shared by the libFuzzer programs (`make fuzz`,
 * tests/fuzz/main.c) and the CUnit suite fuzz_replay (tests/test_fuzz_replay.c), which replays
 * every seed (tests/fuzz/corpus/TARGET/) and every saved crash (tests/fuzz/regress/TARGET/)
 * in `make test`, plain and under the sanitizers.
 *
 * A target takes any bytes and returns 0, or 1 when an invariant broke (a 500 reply, a reply
 * that is not valid JSON or lacks the error shape, a calculator result that is not finite,
 * a search term the judge's tokeniser would not find, ...), with one line on stderr saying
 * which; a crash or sanitizer report is a failure too. Targets that need a server start one
 * in-process on first use (paths are relative to the repository root, where make runs) and
 * reach it through http_handle, the server's own whole-request entry point. Not thread-safe.
 */
#ifndef TG_FUZZ_TARGETS_H
#define TG_FUZZ_TARGETS_H

#include <stddef.h>
#include <stdint.h>

typedef int (*fuzz_one_fn)(const uint8_t *data, size_t n);

struct fuzz_target {
    const char *name; /* the directory names under tests/fuzz/corpus and tests/fuzz/regress */
    fuzz_one_fn one;
    const char *what;
};

/* The targets, in the order `make fuzz` runs them. */
extern const struct fuzz_target fuzz_targets[];
extern const size_t fuzz_ntargets;

/* fuzz_target_find — the target called name, or NULL. */
const struct fuzz_target *fuzz_target_find(const char *name);

/* The target bodies (see the table in targets.c for what each drives). */
int fuzz_http_one(const uint8_t *data, size_t n);
int fuzz_mcp_one(const uint8_t *data, size_t n);
int fuzz_step_one(const uint8_t *data, size_t n);
int fuzz_calc_one(const uint8_t *data, size_t n);
int fuzz_search_one(const uint8_t *data, size_t n);
int fuzz_tasks_one(const uint8_t *data, size_t n);

/* fuzz_teardown — stop the servers and free the index the targets started. Safe to call
 * more than once; a later target call starts them again. */
void fuzz_teardown(void);

#endif
