/*
 * test_trajlog.c — the trajectory log: whole lines under concurrent appends, a torn last line
 * (made by truncating a file) detected, isolated and skipped, and the reader's counts.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/limits.h"
#include "server/trajlog.h"
#include "tg_test.h"

static void tmp_path(char *buf, size_t n, const char *name) {
    snprintf(buf, n, "/tmp/tg_trajlog_%d_%s.jsonl", (int)getpid(), name);
    unlink(buf);
}

struct appender {
    struct trajlog *l;
    int id;
    size_t pad; /* bytes of padding per line: big lines make interleaving visible */
};

#define APPEND_THREADS 8
#define APPEND_LINES   200

static void *append_main(void *p) {
    struct appender *a = p;
    char *pad = malloc(a->pad + 1);

    memset(pad, 'a' + a->id, a->pad);
    pad[a->pad] = '\0';
    for (int i = 0; i < APPEND_LINES; i++) {
        json_t *j = json_pack("{s:i, s:i, s:s}", "thread", a->id, "seq", i, "pad", pad);

        trajlog_append_json(a->l, j);
        json_decref(j);
    }
    free(pad);
    return NULL;
}

struct seen {
    int count[APPEND_THREADS][APPEND_LINES];
    int bad;
};

static int on_line(const json_t *line, void *ud) {
    struct seen *s = ud;
    json_int_t t = json_integer_value(json_object_get(line, "thread"));
    json_int_t q = json_integer_value(json_object_get(line, "seq"));
    const char *pad = json_string_value(json_object_get(line, "pad"));

    if (t < 0 || t >= APPEND_THREADS || q < 0 || q >= APPEND_LINES || !pad) {
        s->bad++;
        return 0;
    }
    for (const char *c = pad; *c; c++)
        if (*c != 'a' + t)
            s->bad++;
    s->count[t][q]++;
    return 0;
}

static void concurrent_appends(int sync_ms) {
    char path[256];
    struct trajlog *l = NULL;
    struct tg_error err;
    struct appender a[APPEND_THREADS];
    pthread_t th[APPEND_THREADS];
    struct trajlog_stats st;
    static struct seen seen;

    tmp_path(path, sizeof(path), sync_ms ? "conc_sync" : "conc");
    CU_ASSERT_FATAL(trajlog_open(path, sync_ms, 1, &l, &err) == 0);
    for (int i = 0; i < APPEND_THREADS; i++) {
        a[i].l = l;
        a[i].id = i;
        a[i].pad = sync_ms ? 100 : 20000; /* 20 kB lines: above the pipe-atomic size */
        pthread_create(&th[i], NULL, append_main, &a[i]);
    }
    for (int i = 0; i < APPEND_THREADS; i++)
        pthread_join(th[i], NULL);
    CU_ASSERT_EQUAL(trajlog_lines(l), APPEND_THREADS * APPEND_LINES);
    trajlog_close(l);
    memset(&seen, 0, sizeof(seen));
    CU_ASSERT(trajlog_read_file(path, on_line, &seen, &st, &err) == 0);
    CU_ASSERT_EQUAL(st.lines, APPEND_THREADS * APPEND_LINES);
    CU_ASSERT_EQUAL(st.torn, 0);
    CU_ASSERT_EQUAL(st.invalid, 0);
    CU_ASSERT_EQUAL(seen.bad, 0);
    for (int t = 0; t < APPEND_THREADS; t++)
        for (int q = 0; q < APPEND_LINES; q++)
            if (seen.count[t][q] != 1)
                CU_FAIL("a line was lost or duplicated");
    unlink(path);
}

TG_TEST(trajlog, concurrent_lines_stay_whole) {
    concurrent_appends(0);
}

TG_TEST(trajlog, concurrent_lines_with_interval_sync) {
    concurrent_appends(5);
}

TG_TEST(trajlog, torn_last_line_is_isolated_and_skipped) {
    char path[256];
    struct trajlog *l = NULL;
    struct tg_error err;
    struct trajlog_stats st;
    struct stat sb;

    tmp_path(path, sizeof(path), "torn");
    CU_ASSERT_FATAL(trajlog_open(path, 0, 1, &l, &err) == 0);
    CU_ASSERT_EQUAL(trajlog_torn_bytes(l), 0);
    for (int i = 0; i < 3; i++) {
        char line[64];

        snprintf(line, sizeof(line), "{\"episode_id\":\"e%d\",\"n\":%d}", i, i);
        CU_ASSERT(trajlog_append(l, line, strlen(line)) == 0);
    }
    CU_ASSERT(trajlog_append(l, "{\"a\":\n1}", 8) == TG_EINVAL); /* one line is one line */
    trajlog_close(l);
    CU_ASSERT(trajlog_read_file(path, NULL, NULL, &st, &err) == 0);
    CU_ASSERT_EQUAL(st.lines, 3);
    /* a crash mid-write: cut the last line short */
    CU_ASSERT_FATAL(stat(path, &sb) == 0);
    CU_ASSERT_FATAL(truncate(path, sb.st_size - 6) == 0);
    CU_ASSERT(trajlog_read_file(path, NULL, NULL, &st, &err) == 0);
    CU_ASSERT_EQUAL(st.lines, 2);
    CU_ASSERT_EQUAL(st.torn, 1);
    /* reopen: detected, isolated; the next line starts clean */
    CU_ASSERT_FATAL(trajlog_open(path, 0, 1, &l, &err) == 0);
    CU_ASSERT_EQUAL(trajlog_torn_bytes(l), strlen("{\"episode_id\":\"e2\",\"n\":2}") + 1 - 6);
    CU_ASSERT(trajlog_append(l, "{\"episode_id\":\"e3\"}", 19) == 0);
    trajlog_close(l);
    CU_ASSERT(trajlog_read_file(path, NULL, NULL, &st, &err) == 0);
    CU_ASSERT_EQUAL(st.lines, 3);
    CU_ASSERT_EQUAL(st.invalid, 1); /* the isolated fragment */
    CU_ASSERT_EQUAL(st.torn, 0);
    /* reopening a clean file reports nothing */
    CU_ASSERT_FATAL(trajlog_open(path, 0, 1, &l, &err) == 0);
    CU_ASSERT_EQUAL(trajlog_torn_bytes(l), 0);
    trajlog_close(l);
    unlink(path);
}

TG_TEST(trajlog, open_errors) {
    struct trajlog *l = NULL;
    struct tg_error err;
    struct trajlog_stats st;

    CU_ASSERT(trajlog_open("/nonexistent-dir/x.jsonl", 0, 1, &l, &err) == TG_EIO);
    CU_ASSERT(l == NULL);
    CU_ASSERT(trajlog_read_file("/nonexistent-dir/x.jsonl", NULL, NULL, &st, &err) == TG_EIO);
    trajlog_close(NULL);
}

TG_TEST(trajlog, over_long_line_is_skipped_not_held) {
    char path[256];
    struct tg_error err;
    struct trajlog_stats st;
    static char chunk[1 << 16];
    FILE *f;

    /* a line just past TG_TRAJ_LINE_MAX (with its '\n'), between two good lines */
    tmp_path(path, sizeof(path), "long");
    f = fopen(path, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs("{\"episode_id\":\"a\"}\n{\"pad\":\"", f);
    memset(chunk, 'x', sizeof(chunk));
    for (size_t left = TG_TRAJ_LINE_MAX; left > 0;) {
        size_t n = left < sizeof(chunk) ? left : sizeof(chunk);

        CU_ASSERT_FATAL(fwrite(chunk, 1, n, f) == n);
        left -= n;
    }
    fputs("\"}\n{\"episode_id\":\"b\"}\n", f);
    CU_ASSERT_FATAL(fclose(f) == 0);
    CU_ASSERT(trajlog_read_file(path, NULL, NULL, &st, &err) == 0);
    CU_ASSERT_EQUAL(st.lines, 2);
    CU_ASSERT_EQUAL(st.invalid, 1);
    CU_ASSERT_EQUAL(st.torn, 0);
    unlink(path);
}
