/*
 * test_fuzz_replay.c — suite `fuzz_replay`: every seed of every fuzz target
 * (tests/fuzz/corpus/TARGET/) and every input a fuzzer once broke the code with
 * (tests/fuzz/regress/TARGET/) goes through the target's body again (tests/fuzz/targets.c),
 * compiled here with the test build's compiler and flags, and so under ASan and UBSan in
 * `make test SANITIZE=address,undefined`. A target body returns non-zero when an invariant
 * breaks; a crash fails the run. Each saved crash also has a test of its own beside the code
 * it broke, asserting the behaviour that is right (named in docs/reliability.md).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/targets.h"
#include "tg_test.h"

#define FUZZ_ROOT "tests/fuzz"

/* Read a whole file (new); NULL on failure. */
static unsigned char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    long len;

    *n = 0;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)len + 1);
        if (buf && fread(buf, 1, (size_t)len, f) == (size_t)len) {
            *n = (size_t)len;
        } else {
            free(buf);
            buf = NULL;
        }
    }
    fclose(f);
    return buf;
}

/* Replay every file of dir through t; returns how many there were (-1: no such dir). */
static int replay_dir(const struct fuzz_target *t, const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    int count = 0;

    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL) {
        char path[512];
        unsigned char *data;
        size_t n;
        int rc;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        data = slurp(path, &n);
        CU_ASSERT_PTR_NOT_NULL(data);
        if (!data)
            continue;
        rc = t->one(data, n);
        if (rc != 0)
            printf("  fuzz_replay: %s broke target %s\n", path, t->name);
        CU_ASSERT_EQUAL(rc, 0);
        free(data);
        count++;
    }
    closedir(d);
    return count;
}

static void replay(const char *name) {
    const struct fuzz_target *t = fuzz_target_find(name);
    char dir[256];

    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    snprintf(dir, sizeof(dir), "%s/corpus/%s", FUZZ_ROOT, name);
    CU_ASSERT(replay_dir(t, dir) > 0); /* every target has seeds */
    snprintf(dir, sizeof(dir), "%s/regress/%s", FUZZ_ROOT, name);
    replay_dir(t, dir); /* none yet is fine */
}

TG_TEST(fuzz_replay, calc) {
    replay("calc");
}

TG_TEST(fuzz_replay, search) {
    replay("search");
}

TG_TEST(fuzz_replay, tasks) {
    replay("tasks");
}

TG_TEST(fuzz_replay, http) {
    replay("http");
}

TG_TEST(fuzz_replay, mcp) {
    replay("mcp");
}

TG_TEST(fuzz_replay, step) {
    replay("step");
}

TG_TEST(fuzz_replay, zz_teardown) {
    fuzz_teardown();
}
