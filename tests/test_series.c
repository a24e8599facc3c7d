/*
 * test_series.c — suite `series`: a series of numbers one per line (base/series.h): what is
 * read, what is skipped, and every bad line named by its line number.
 */
#include "tg_test.h"

#include <stdio.h>
#include <string.h>

#include "base/limits.h"
#include "base/series.h"

/* read text (n bytes, NULs allowed) as the file "sig" */
static int read_text(const char *text, size_t n, struct series *s, struct tg_error *err) {
    FILE *f = fmemopen((void *)text, n, "r");
    int rc;

    CU_ASSERT_FATAL(f != NULL);
    rc = series_read(f, "sig", s, err);
    fclose(f);
    return rc;
}

TG_TEST(series, reads_numbers_and_skips_blank_and_comment_lines) {
    static const char text[] = "# a loss curve\n"
                               "1.5\n"
                               "\n"
                               "  -2e-3\t\r\n"
                               "   # indented comment\n"
                               "+7\n"
                               "0"; /* no final LF */
    struct series s;
    struct tg_error err;

    CU_ASSERT_EQUAL_FATAL(read_text(text, sizeof(text) - 1, &s, &err), 0);
    CU_ASSERT_EQUAL_FATAL(s.n, 4);
    CU_ASSERT_EQUAL(s.v[0], 1.5);
    CU_ASSERT_EQUAL(s.v[1], -2e-3);
    CU_ASSERT_EQUAL(s.v[2], 7.0);
    CU_ASSERT_EQUAL(s.v[3], 0.0);
    series_free(&s);
    series_free(&s); /* twice is harmless */
    CU_ASSERT_PTR_NULL(s.v);
}

TG_TEST(series, bad_lines_are_named_by_number) {
    static const struct {
        const char *text;
        const char *want;
    } cases[] = {
        {"1\n2\nabc\n4\n", "sig line 3: 'abc' is not a finite number"},
        {"1\n# x\n\n0.5x\n", "sig line 4: '0.5x' is not a finite number"},
        {"1 2\n", "sig line 1: '1 2' is not a finite number"},
        {"nan\n", "sig line 1: 'nan' is not a finite number"},
        {"1\n-inf\n", "sig line 2: '-inf' is not a finite number"},
        {"1e999\n", "sig line 1: '1e999' is not a finite number"},
        {"0x10\n", "sig line 1: '0x10'"},
        {"", "sig: no numbers in it"},
        {"\n\n# only comments\n  \n", "sig: no numbers in it"},
    };
    struct series s;
    struct tg_error err;

    for (size_t i = 0; i < TG_ARRAY_LEN(cases); i++) {
        tg_error_clear(&err);
        CU_ASSERT_EQUAL(read_text(cases[i].text, strlen(cases[i].text), &s, &err), TG_EINVAL);
        CU_ASSERT_PTR_NULL(s.v);
        CU_ASSERT_EQUAL(s.n, 0);
        if (!strstr(err.message, cases[i].want))
            fprintf(stderr, "\n  '%s': got '%s', want '%s'\n", cases[i].text, err.message,
                    cases[i].want);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.message, cases[i].want));
        CU_ASSERT_PTR_NULL(strchr(err.message, '\n')); /* one line */
    }
}

TG_TEST(series, nul_bytes_and_long_lines_are_rejected) {
    static const char nul[] = "1\n2\0\n";
    char long_line[TG_SERIES_LINE_MAX + 8];
    struct series s;
    struct tg_error err;

    CU_ASSERT_EQUAL(read_text(nul, sizeof(nul) - 1, &s, &err), TG_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "sig line 2: a NUL byte"));
    /* exactly TG_SERIES_LINE_MAX bytes is fine (a number padded with spaces) */
    memset(long_line, ' ', sizeof(long_line));
    long_line[0] = '3';
    long_line[TG_SERIES_LINE_MAX] = '\n';
    CU_ASSERT_EQUAL(read_text(long_line, TG_SERIES_LINE_MAX + 1, &s, &err), 0);
    CU_ASSERT_EQUAL(s.n, 1);
    series_free(&s);
    /* one byte more is not */
    long_line[TG_SERIES_LINE_MAX] = ' ';
    long_line[TG_SERIES_LINE_MAX + 1] = '\n';
    CU_ASSERT_EQUAL(read_text(long_line, TG_SERIES_LINE_MAX + 2, &s, &err), TG_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "sig line 1: longer than"));
}

TG_TEST(series, load_names_the_file) {
    struct series s;
    struct tg_error err;

    CU_ASSERT_EQUAL(series_load("/nonexistent/loss.txt", &s, &err), TG_EIO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "/nonexistent/loss.txt: No such file"));
    CU_ASSERT_EQUAL(series_load(tg_test_data("signal_bad_line.txt"), &s, &err), TG_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "signal_bad_line.txt line 3: 'abc'"));
    CU_ASSERT_EQUAL_FATAL(series_load(tg_test_data("signal_oscillating.txt"), &s, &err), 0);
    CU_ASSERT_EQUAL(s.n, 8);
    CU_ASSERT_EQUAL(s.v[7], 9.0);
    series_free(&s);
}
