/*
 * test_dbuf.c — suite `dbuf`: the bounded growable buffer grows, keeps a NUL, refuses to pass
 * its maximum and stays failed until freed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/dbuf.h"
#include "base/tg.h"
#include "tg_test.h"

TG_TEST(dbuf, appends_and_grows_keeping_a_nul) {
    struct dbuf b;
    char chunk[1000];

    dbuf_init(&b, 1 << 20);
    CU_ASSERT_STRING_EQUAL(dbuf_str(&b), "");
    CU_ASSERT_PTR_NULL(b.p);
    memset(chunk, 'x', sizeof(chunk));
    for (int i = 0; i < 50; i++)
        CU_ASSERT_EQUAL(dbuf_add(&b, chunk, sizeof(chunk)), 0);
    CU_ASSERT_EQUAL(b.len, 50000);
    CU_ASSERT(b.cap > b.len);
    CU_ASSERT_EQUAL(b.p[b.len], '\0');
    CU_ASSERT_EQUAL(strlen(b.p), 50000);
    CU_ASSERT_EQUAL(dbuf_add_str(&b, "end"), 0);
    CU_ASSERT_STRING_EQUAL(b.p + 50000, "end");
    dbuf_free(&b);
    CU_ASSERT_PTR_NULL(b.p);
    CU_ASSERT_EQUAL(b.len, 0);
    CU_ASSERT_EQUAL(b.max, 1 << 20);
}

TG_TEST(dbuf, holds_binary_bytes) {
    struct dbuf b;
    const char bytes[] = {'a', '\0', 'b'};

    dbuf_init(&b, 16);
    CU_ASSERT_EQUAL(dbuf_add(&b, bytes, 3), 0);
    CU_ASSERT_EQUAL(b.len, 3);
    CU_ASSERT_EQUAL(memcmp(b.p, bytes, 3), 0);
    CU_ASSERT_EQUAL(dbuf_add(&b, NULL, 0), 0);
    CU_ASSERT_EQUAL(b.len, 3);
    dbuf_free(&b);
}

TG_TEST(dbuf, exactly_max_fits_one_more_fails_and_sticks) {
    struct dbuf b;

    dbuf_init(&b, 10);
    CU_ASSERT_EQUAL(dbuf_add(&b, "0123456789", 10), 0);
    CU_ASSERT_STRING_EQUAL(b.p, "0123456789");
    CU_ASSERT(b.cap <= 11); /* never allocates past max + NUL */
    CU_ASSERT_EQUAL(dbuf_add(&b, "x", 1), TG_ERANGE);
    CU_ASSERT_PTR_NULL(b.p); /* the half-built content is gone */
    CU_ASSERT_EQUAL(b.len, 0);
    CU_ASSERT_EQUAL(b.err, TG_ERANGE);
    CU_ASSERT_STRING_EQUAL(dbuf_str(&b), "");
    CU_ASSERT_EQUAL(dbuf_add(&b, "y", 1), TG_ERANGE); /* sticky, even though it would fit */
    CU_ASSERT_EQUAL(dbuf_add_fmt(&b, "%d", 1), TG_ERANGE);
    CU_ASSERT_PTR_NULL(dbuf_take(&b, NULL));
    dbuf_free(&b);
    CU_ASSERT_EQUAL(b.err, 0);
    CU_ASSERT_EQUAL(dbuf_add(&b, "y", 1), 0);
    CU_ASSERT_STRING_EQUAL(b.p, "y");
    dbuf_free(&b);
}

TG_TEST(dbuf, huge_append_does_not_overflow_the_size_check) {
    struct dbuf b;

    dbuf_init(&b, 100);
    CU_ASSERT_EQUAL(dbuf_add(&b, "abc", 3), 0);
    CU_ASSERT_EQUAL(dbuf_add(&b, "abc", SIZE_MAX - 1), TG_ERANGE); /* len + n would wrap */
    dbuf_free(&b);
}

TG_TEST(dbuf, formats_short_and_long_text) {
    struct dbuf b;
    char *s;
    size_t len = 0;

    dbuf_init(&b, 1 << 16);
    CU_ASSERT_EQUAL(dbuf_add_fmt(&b, "%s=%d;", "a", 1), 0);
    CU_ASSERT_EQUAL(dbuf_add_fmt(&b, "%0*d", 3000, 7), 0); /* forces a second, larger pass */
    CU_ASSERT_EQUAL(b.len, 4 + 3000);
    CU_ASSERT_EQUAL(strncmp(b.p, "a=1;000", 7), 0);
    CU_ASSERT_EQUAL(b.p[b.len - 1], '7');
    CU_ASSERT_EQUAL(b.p[b.len], '\0');
    s = dbuf_take(&b, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(len, 3004);
    CU_ASSERT_PTR_NULL(b.p);
    CU_ASSERT_EQUAL(b.len, 0);
    free(s);
    dbuf_free(&b);
}

TG_TEST(dbuf, format_past_max_fails) {
    struct dbuf b;

    dbuf_init(&b, 8);
    CU_ASSERT_EQUAL(dbuf_add_fmt(&b, "%s", "12345"), 0);
    CU_ASSERT_EQUAL(dbuf_add_fmt(&b, "%s", "6789"), TG_ERANGE);
    CU_ASSERT_PTR_NULL(b.p);
    dbuf_free(&b);
}

TG_TEST(dbuf, take_of_empty_is_an_empty_string_and_reset_reuses) {
    struct dbuf b;
    char *s;
    char *before;

    dbuf_init(&b, 64);
    s = dbuf_take(&b, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_STRING_EQUAL(s, "");
    free(s);
    CU_ASSERT_EQUAL(dbuf_add_str(&b, "first"), 0);
    before = b.p;
    dbuf_reset(&b);
    CU_ASSERT_EQUAL(b.len, 0);
    CU_ASSERT_STRING_EQUAL(dbuf_str(&b), "");
    CU_ASSERT_PTR_EQUAL(b.p, before); /* memory kept */
    CU_ASSERT_EQUAL(dbuf_add_str(&b, "second"), 0);
    CU_ASSERT_STRING_EQUAL(b.p, "second");
    dbuf_free(&b);
    dbuf_free(&b); /* freeing twice is harmless */
}

/* A FILE over the bytes of s (n of them), for the line reader. */
static FILE *mem_file(const char *s, size_t n) {
    FILE *f = fmemopen((void *)s, n, "r");

    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    return f;
}

TG_TEST(dbuf, getline_reads_lines_blank_ones_and_a_torn_last_one) {
    static const char text[] = "first\n\nthird has a \0 byte\nlast";
    FILE *f = mem_file(text, sizeof(text) - 1);
    struct dbuf b;

    dbuf_init(&b, 64);
    CU_ASSERT_EQUAL(dbuf_getline(&b, f), 1);
    CU_ASSERT_STRING_EQUAL(b.p, "first");
    CU_ASSERT_EQUAL(dbuf_getline(&b, f), 1);
    CU_ASSERT_EQUAL(b.len, 0);
    CU_ASSERT_STRING_EQUAL(b.p, "");
    CU_ASSERT_EQUAL(dbuf_getline(&b, f), 1);
    CU_ASSERT_EQUAL(b.len, 18);
    CU_ASSERT_EQUAL(memcmp(b.p, "third has a \0 byte", 18), 0);
    CU_ASSERT_EQUAL(dbuf_getline(&b, f), 2); /* no newline at the end */
    CU_ASSERT_STRING_EQUAL(b.p, "last");
    CU_ASSERT_EQUAL(dbuf_getline(&b, f), 0);
    CU_ASSERT_EQUAL(dbuf_getline(&b, f), 0);
    fclose(f);
    dbuf_free(&b);
}

TG_TEST(dbuf, getline_drops_an_over_long_line_and_goes_on) {
    char text[3004];
    FILE *f;
    struct dbuf b;

    memset(text, 'a', 2000); /* 2000 bytes: past the max of 1000, and past one read chunk */
    text[2000] = '\n';
    memcpy(text + 2001, "ok\n", 3);
    memset(text + 2004, 'b', 1000); /* exactly the max, at EOF without a newline */
    f = mem_file(text, sizeof(text));
    dbuf_init(&b, 1000);
    CU_ASSERT_EQUAL(dbuf_getline(&b, f), TG_ERANGE);
    CU_ASSERT_PTR_NULL(b.p);
    CU_ASSERT_EQUAL(dbuf_getline(&b, f), 1); /* the rest of the long line was dropped */
    CU_ASSERT_STRING_EQUAL(b.p, "ok");
    CU_ASSERT_EQUAL(dbuf_getline(&b, f), 2);
    CU_ASSERT_EQUAL(b.len, 1000);
    CU_ASSERT_EQUAL(dbuf_getline(&b, f), 0);
    fclose(f);
    dbuf_free(&b);
}
