/*
 * test_jsonw.c — the JSON writer (base/jsonw.h) writes what jansson's json_dumps writes, byte
 * for byte, with and without JSON_ENSURE_ASCII: generated trees of every kind of value, hard
 * strings and reals; the fixed tool reply (tool_result_write) against tool_result_json dumped;
 * and the failures (bad UTF-8 in a raw key, the buffer's maximum, nesting past the depth cap).
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/tg_test.h"
#include "tools/tools.h"
#include "base/dbuf.h"
#include "base/jsonw.h"
#include "base/rng.h"
#include "base/tg.h"

#define JANSSON_FLAGS(ascii)                                                                       \
    (JSON_COMPACT | JSON_REAL_PRECISION(15) | ((ascii) ? JSON_ENSURE_ASCII : 0))

/* Both writers agree on v (borrowed), in every mode (ASCII or not, real precision 15 or
 * jansson's default 17); prints the first difference. */
static int same_text(const json_t *v) {
    int ok = 1;

    for (int mode = 0; mode < 4; mode++) {
        int ascii = mode & 1, p17 = mode & 2;
        size_t jflags = JSON_COMPACT | JSON_ENCODE_ANY | (ascii ? JSON_ENSURE_ASCII : 0) |
                        (p17 ? 0 : JSON_REAL_PRECISION(15));
        char *want = json_dumps(v, jflags);
        char *got =
            jsonw_dumps(v, (ascii ? JSONW_ASCII : 0) | (p17 ? JSONW_REAL17 : 0), 1 << 20, NULL);

        if (!want || !got || strcmp(want, got) != 0) {
            fprintf(stderr, "\n  mode=%d\n  jansson %s\n  jsonw   %s\n", mode,
                    want ? want : "(null)", got ? got : "(null)");
            ok = 0;
        }
        free(want);
        free(got);
    }
    return ok;
}

/* Strings that exercise every escape: controls, quotes, the backslash, the slash, DEL, 2-, 3-
 * and 4-byte characters, a NUL inside. */
static const char *const hard[] = {"",
                                   "plain",
                                   "q\"uote",
                                   "back\\slash",
                                   "sl/ash",
                                   "\b\f\n\r\t",
                                   "\x01\x1f\x7f",
                                   "caf\xc3\xa9",
                                   "\xe2\x82\xac 5",
                                   "\xf0\x9f\x98\x80 emoji",
                                   "\xef\xbf\xbf\xf4\x8f\xbf\xbf",
                                   "mixed \"\xc3\xa9\\\n\xf0\x9f\x98\x80\""};

static json_t *gen(struct rng *r, int depth) {
    unsigned k = (unsigned)(rng_u64(r) % (depth > 3 ? 6 : 8));

    switch (k) {
    case 0:
        return json_null();
    case 1:
        return json_boolean(rng_u64(r) & 1);
    case 2: {
        static const json_int_t edge[] = {0, -1, 1, INT64_MAX, INT64_MIN, 1000000007};
        uint64_t x = rng_u64(r);

        return json_integer(x % 3 == 0 ? edge[x % 6]
                                       : (json_int_t)(x >> (x % 60)) * (x & 1 ? -1 : 1));
    }
    case 3: {
        static const double edge[] = {0.5,     -0.0,      1e300, 1e-300, 123456789012345678.0,
                                      0.1,     1e15,      1e-5,  100.0,  0.3,
                                      DBL_MIN, DBL_MAX,   3.0,   1e16,   1e17,
                                      2.5e-5,  -2.5e-300, 1e100};
        uint64_t x = rng_u64(r);
        double d = x % 3 == 0 ? edge[x % TG_ARRAY_LEN(edge)]
                              : ldexp(rng_uniform(r) - 0.5, (int)(x % 200) - 100);

        return json_real(d);
    }
    case 4:
    case 5: {
        char buf[64];
        size_t n = 0;

        if (rng_u64(r) & 1)
            return json_string(hard[rng_u64(r) % TG_ARRAY_LEN(hard)]);
        while (n < 20) { /* random ASCII bytes, controls included, and a NUL now and then */
            buf[n++] = (char)(rng_u64(r) % 128);
        }
        return json_stringn(buf, n);
    }
    case 6: {
        json_t *a = json_array();
        unsigned n = (unsigned)(rng_u64(r) % 5);

        for (unsigned i = 0; i < n; i++)
            json_array_append_new(a, gen(r, depth + 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        unsigned n = (unsigned)(rng_u64(r) % 5);

        for (unsigned i = 0; i < n; i++) {
            char key[32];

            if (i % 2)
                snprintf(key, sizeof(key), "%s%u", hard[rng_u64(r) % TG_ARRAY_LEN(hard)], i);
            else
                snprintf(key, sizeof(key), "k%u", (unsigned)(rng_u64(r) % 1000));
            json_object_set_new(o, key, gen(r, depth + 1));
        }
        return o;
    }
    }
}

TG_TEST(jsonw, writes_what_jansson_dumps) {
    struct rng r;
    int bad = 0;

    rng_seed(&r, 14);
    for (int i = 0; i < 3000 && bad < 3; i++) {
        json_t *v = gen(&r, 0);

        bad += !same_text(v);
        json_decref(v);
    }
    CU_ASSERT_EQUAL(bad, 0);
    for (size_t i = 0; i < TG_ARRAY_LEN(hard); i++) {
        json_t *v = json_pack("{s:s, s:[s]}", hard[i], hard[i], "list", hard[i]);

        CU_ASSERT(same_text(v));
        json_decref(v);
    }
}

TG_TEST(jsonw, the_tool_reply_is_tool_result_json_dumped) {
    struct tool_result rs[4];

    memset(rs, 0, sizeof(rs));
    rs[0].ok = 1; /* a calculator answer */
    rs[0].content = strdup("24.5");
    rs[0].result = json_pack("{s:f}", "value", 24.5);
    rs[1].ok = 1; /* no result object */
    rs[1].content = strdup("caf\xc3\xa9 \"quoted\"\n");
    rs[2].ok = 0; /* a tool-level failure */
    rs[2].content = strdup("error: syntax_error: unexpected ')' at position 3");
    snprintf(rs[2].err.code, sizeof(rs[2].err.code), "syntax_error");
    snprintf(rs[2].err.message, sizeof(rs[2].err.message), "unexpected ')' at position 3");
    rs[3] = rs[2]; /* a failure with a result (run_code) */
    rs[3].content = strdup("error: timeout: \xf0\x9f\x98\x80");
    rs[3].result = json_pack("{s:s, s:i}", "stdout", "partial\toutput", "exit_code", -9);
    for (size_t i = 0; i < TG_ARRAY_LEN(rs); i++) {
        for (int ascii = 0; ascii <= 1; ascii++) {
            json_t *o = tool_result_json(&rs[i]);
            char *want = json_dumps(o, JANSSON_FLAGS(ascii));
            struct dbuf b;

            dbuf_init(&b, 4096);
            CU_ASSERT_EQUAL(tool_result_write(&b, &rs[i], ascii ? JSONW_ASCII : 0), 0);
            CU_ASSERT_PTR_NOT_NULL_FATAL(want);
            CU_ASSERT_PTR_NOT_NULL_FATAL(b.p);
            CU_ASSERT_STRING_EQUAL(b.p, want);
            free(want);
            json_decref(o);
            dbuf_free(&b);
        }
    }
    for (size_t i = 0; i < TG_ARRAY_LEN(rs); i++)
        tool_result_clear(&rs[i]);
}

TG_TEST(jsonw, refuses_what_it_cannot_write) {
    struct dbuf b;
    json_t *deep = json_array(), *v = deep, *s = json_string("0123456789");
    char *text;

    /* a raw key that is not UTF-8 */
    dbuf_init(&b, 100);
    CU_ASSERT_EQUAL(jsonw_key(&b, "bad \xff key", 1, JSONW_ASCII), TG_EINVAL);
    CU_ASSERT_PTR_NULL(b.p);
    CU_ASSERT_EQUAL(jsonw_raw(&b, "1"), TG_EINVAL); /* the buffer stays failed */
    dbuf_free(&b);
    /* past the buffer's maximum: nothing half-written is handed over */
    CU_ASSERT_PTR_NULL(jsonw_dumps(s, 0, 8, NULL));
    text = jsonw_dumps(s, 0, 12, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    CU_ASSERT_STRING_EQUAL(text, "\"0123456789\"");
    free(text);
    /* nesting past the cap fails instead of recursing on */
    for (int i = 0; i < JSONW_MAX_DEPTH + 1; i++) {
        json_t *inner = json_array();

        json_array_append_new(v, inner);
        v = inner;
    }
    CU_ASSERT_PTR_NULL(jsonw_dumps(deep, 0, 1 << 20, NULL));
    CU_ASSERT_PTR_NULL(jsonw_dumps(NULL, 0, 100, NULL));
    json_decref(deep);
    json_decref(s);
}

/* jsonw_real's short path (at most 6 decimals, no exponent) writes what jansson dumps: the
 * decimals k / 10^d of every size it takes and around its edges (1e-4, 1e9), negative ones,
 * whole ones, and the doubles next to them, which must take printf's path and agree too. */
TG_TEST(jsonw, reals_in_few_decimals_match_jansson) {
    static const double pow10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7};
    struct rng r;
    int bad = 0;

    rng_seed(&r, 1414);
    for (int i = 0; i < 20000 && bad < 3; i++) {
        uint64_t x = rng_u64(&r);
        int d = (int)(x % 8);
        long long k = (long long)((x >> 8) % (x & 16 ? 1000000000000000ULL : 100000ULL));
        double v = (double)k / pow10[d] * ((x >> 4) & 1 ? -1 : 1);
        double near[3];

        near[0] = v;
        near[1] = nextafter(v, INFINITY);
        near[2] = nextafter(v, -INFINITY);
        for (int j = 0; j < 3; j++) {
            json_t *j1 = json_real(near[j]);

            bad += !same_text(j1);
            json_decref(j1);
        }
    }
    CU_ASSERT_EQUAL(bad, 0);
    {
        static const double edge[] = {1e-4, -1e-4,    0.0001000001, 0.00009999, 999999999.999999,
                                      1e9,  -1e9,     999999999.0,  0.1 + 0.2,  1.0 / 3.0,
                                      -0.1, 0.000123, 123456.5,     2.5,        -0.0,
                                      0.0,  1e-6,     0.000100,     -0.35,      4503599627.370496};

        for (size_t i = 0; i < TG_ARRAY_LEN(edge); i++) {
            json_t *j1 = json_real(edge[i]);

            CU_ASSERT(same_text(j1));
            json_decref(j1);
        }
    }
}

/* What an agent may send comes back intact: strings with every control byte, quotes,
 * backslashes, characters of 2 to 4 bytes and NULs, written by jsonw_string (as ASCII and as
 * UTF-8) and read back by jansson's parser, give the same bytes; invalid UTF-8 (a lone
 * continuation byte, an overlong form, a surrogate, a sequence cut short, bytes past U+10FFFF)
 * is refused, never written. */
TG_TEST(jsonw, hostile_strings_read_back_the_same) {
    static const char *const valid[] = {"\xc3\xa9",     "\xe2\x82\xac",     "\xf0\x9f\x98\x80",
                                        "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf", "\xc2\x80",
                                        "\xe0\xa0\x80"};
    static const char *const invalid[] = {
        "\x80", "\xc0\xaf",     "\xed\xa0\x80", "\xe2\x82", "\xf4\x90\x80\x80",
        "\xff", "\xf0\x9f\x98", "\xc3"};
    struct rng r;
    int bad = 0;

    rng_seed(&r, 77);
    for (int i = 0; i < 2000 && bad < 3; i++) {
        char s[256];
        size_t n = 0, want = (size_t)(rng_u64(&r) % 60);

        while (n < want) {
            uint64_t x = rng_u64(&r);

            if (x % 4 == 0) { /* a multi-byte character */
                const char *c = valid[(x >> 8) % TG_ARRAY_LEN(valid)];

                memcpy(s + n, c, strlen(c));
                n += strlen(c);
            } else if (x % 4 == 1) { /* a control, quote or backslash */
                static const char nasty[] = "\"\\\b\f\n\r\t\x01\x1f\x7f/";

                s[n++] = (x >> 8) % 5 == 0 ? '\0' : nasty[(x >> 8) % (sizeof(nasty) - 1)];
            } else {
                s[n++] = (char)(0x20 + (x >> 8) % 95);
            }
        }
        for (int ascii = 0; ascii <= 1; ascii++) {
            struct dbuf b;
            json_error_t e;
            json_t *back;

            dbuf_init(&b, 4096);
            if (jsonw_string(&b, s, n, ascii ? JSONW_ASCII : 0) != 0) {
                bad++;
                dbuf_free(&b);
                continue;
            }
            for (size_t k = 0; ascii && k < b.len; k++)
                bad += (unsigned char)b.p[k] >= 0x80 || (unsigned char)b.p[k] < 0x20;
            back = json_loadb(b.p, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
            if (!back || !json_is_string(back) || json_string_length(back) != n ||
                memcmp(json_string_value(back), s, n) != 0)
                bad++;
            json_decref(back);
            dbuf_free(&b);
        }
    }
    CU_ASSERT_EQUAL(bad, 0);
    for (size_t i = 0; i < TG_ARRAY_LEN(invalid); i++) {
        for (int ascii = 0; ascii <= 1; ascii++) {
            struct dbuf b;
            char s[32];

            snprintf(s, sizeof(s), "ok %s ok", invalid[i]);
            dbuf_init(&b, 4096);
            CU_ASSERT_EQUAL(dbuf_add_str(&b, "["), 0);
            CU_ASSERT_EQUAL(jsonw_string(&b, s, strlen(s), ascii ? JSONW_ASCII : 0), TG_EINVAL);
            CU_ASSERT_PTR_NULL(b.p); /* failed: nothing half-written is left to send */
            dbuf_free(&b);
        }
    }
}
