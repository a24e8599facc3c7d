/*
 * test_calc.c — suite `calc`: the calculator's values (precedence, associativity, signs,
 * functions, constants, number syntax), its formatting, every error code with the exact
 * position of syntax errors, the length and depth limits at their boundaries, hostile
 * inputs, the tool_invoke_fn output shape, and an oracle test that compares 1,500 random
 * expressions with `bc -l`.
 */
#include "tg_test.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/limits.h"
#include "tools/calc.h"

#define PI_D 3.14159265358979323846
#define E_D  2.71828182845904523536

/* Relative closeness with an absolute floor of tol at magnitudes below 1. */
static int close_to(double got, double want, double tol) {
    double scale = fabs(want) > 1 ? fabs(want) : 1;

    return fabs(got - want) <= tol * scale;
}

/* ---- values ------------------------------------------------------------------------------- */

struct value_case {
    const char *expr;
    double want;
};

static const struct value_case value_cases[] = {
    /* precedence and associativity */
    {"1+2*3", 7},
    {"(1+2)*3", 9},
    {"10-4-3", 3},
    {"100/10/5", 2},
    {"2^3^2", 512},
    {"(2^3)^2", 64},
    {"1+2^3*2", 17},
    {"2*3^2", 18},
    {"2^3%3", 2},
    {"20/4*5", 25},
    {"7-2*3+1", 2},
    /* unary minus and plus */
    {"-2^2", -4},
    {"(-2)^2", 4},
    {"2^-1", 0.5},
    {"-2^-2", -0.25},
    {"2^2^-1", 1.41421356237309504880},
    {"2^-1^2", 0.5},
    {"-3+5", 2},
    {"+4", 4},
    {"--4", 4},
    {"-+-4", 4},
    {"2*-3", -6},
    {"2--3", 5},
    {"-(1+2)*3", -9},
    {"- 2 ^ 2 + 10", 6},
    /* % is fmod */
    {"7%3", 1},
    {"-7%3", -1},
    {"7%-3", 1},
    {"7.5%2", 1.5},
    {"10%3*2", 2},
    /* functions */
    {"sqrt(16)", 4},
    {"sqrt(2)^2", 2},
    {"abs(-3.5)", 3.5},
    {"log(1000)", 3},
    {"log(0.01)", -2},
    {"ln(e)", 1},
    {"ln(exp(2))", 2},
    {"exp(0)", 1},
    {"exp(1)", E_D},
    {"sin(pi/2)", 1},
    {"sin(0)", 0},
    {"cos(0)", 1},
    {"cos(pi)", -1},
    {"tan(pi/4)", 1},
    {"floor(-2.5)", -3},
    {"floor(2.9)", 2},
    {"ceil(-2.5)", -2},
    {"ceil(2.1)", 3},
    {"round(2.5)", 3},
    {"round(-2.5)", -3},
    {"round(2.49)", 2},
    {"min(3,1,2)", 1},
    {"max(3, 1, 2, 7.5)", 7.5},
    {"min(-1, -2)", -2},
    {"min(1,2)+max(1,2)*2", 5},
    {"max(1+1, 2*2, 3)", 4},
    {"sqrt(sqrt(81))", 3},
    {"SQRT(4) + Pi", 2 + PI_D},
    /* constants */
    {"pi", PI_D},
    {"e", E_D},
    {"2*pi", 2 * PI_D},
    {"e^2", E_D *E_D},
    /* numbers */
    {"12", 12},
    {"3.5", 3.5},
    {".5", 0.5},
    {"5.", 5},
    {"1e3", 1000},
    {"2.5E-3", 0.0025},
    {"1E+2", 100},
    {".5e1", 5},
    {"000000000000000000000000000000000005", 5},
    {"0.1+0.2", 0.3},
    {"1e-999999", 0},
    /* whitespace */
    {" 1 +\t2\n", 3},
    {"\r\n( 1 )\f", 1},
    {"  sqrt ( 9 ) ", 3},
};

TG_TEST(calc, values) {
    for (size_t i = 0; i < TG_ARRAY_LEN(value_cases); i++) {
        const struct value_case *c = &value_cases[i];
        struct tg_error err;
        double v = NAN;
        int rc = calc_eval(c->expr, &v, &err);

        if (rc != 0 || !close_to(v, c->want, 1e-12))
            fprintf(stderr, "calc values: %s -> rc %d %.17g (want %.17g) %s: %s\n", c->expr, rc, v,
                    c->want, err.code, err.message);
        CU_ASSERT_EQUAL(rc, 0);
        CU_ASSERT(close_to(v, c->want, 1e-12));
    }
}

static void *values_thread(void *arg) {
    size_t *bad = arg;

    for (int round = 0; round < 200; round++) {
        for (size_t i = 0; i < TG_ARRAY_LEN(value_cases); i++) {
            struct tg_error err;
            double v;

            if (calc_eval(value_cases[i].expr, &v, &err) != 0 ||
                !close_to(v, value_cases[i].want, 1e-12))
                (*bad)++;
            if (calc_eval("1 + (2", &v, &err) != TG_EINVAL ||
                strcmp(err.message, "expected ')' to close '(' at position 5 but found end of "
                                    "expression at position 7") != 0)
                (*bad)++;
        }
    }
    return NULL;
}

TG_TEST(calc, concurrent_eval) {
    pthread_t th[4];
    size_t bad[4] = {0};

    for (int i = 0; i < 4; i++)
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, values_thread, &bad[i]), 0);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CU_ASSERT_EQUAL(bad[i], 0);
    }
}

TG_TEST(calc, exact_results) {
    /* Things that must be exact, not just close. */
    double v;

    CU_ASSERT_EQUAL(calc_eval("2^10", &v, NULL), 0);
    CU_ASSERT(v == 1024);
    CU_ASSERT_EQUAL(calc_eval("-0", &v, NULL), 0);
    CU_ASSERT(v == 0);
    CU_ASSERT_EQUAL(calc_eval("123456789*1000", &v, NULL), 0);
    CU_ASSERT(v == 123456789000.0);
    CU_ASSERT_EQUAL(calc_eval("floor(7/2)", &v, NULL), 0);
    CU_ASSERT(v == 3);
}

/* ---- formatting ----------------------------------------------------------------------------- */

struct format_case {
    double v;
    const char *want;
};

TG_TEST(calc, format) {
    const struct format_case cases[] = {
        {42, "42"},
        {-7, "-7"},
        {-0.0, "0"},
        {0, "0"},
        {1.0 / 3, "0.333333333333333"},
        {2.5, "2.5"},
        {-2.5e-3, "-0.0025"},
        {123456.789, "123456.789"},
        {0.1 + 0.2, "0.3"},
        {999999999999999.0, "999999999999999"},
        {-999999999999999.0, "-999999999999999"},
        {1e15, "1e+15"},
        {1e20, "1e+20"},
        {1e-7, "1e-07"},
        {2.0 / 3, "0.666666666666667"},
        {PI_D, "3.14159265358979"},
    };
    char buf[64];

    for (size_t i = 0; i < TG_ARRAY_LEN(cases); i++) {
        CU_ASSERT_EQUAL(calc_format(cases[i].v, buf, sizeof(buf)), 0);
        if (strcmp(buf, cases[i].want) != 0)
            fprintf(stderr, "calc format: %.17g -> '%s' (want '%s')\n", cases[i].v, buf,
                    cases[i].want);
        CU_ASSERT_STRING_EQUAL(buf, cases[i].want);
    }
    /* "12345" needs 6 bytes */
    CU_ASSERT_EQUAL(calc_format(12345, buf, 6), 0);
    CU_ASSERT_STRING_EQUAL(buf, "12345");
    CU_ASSERT_EQUAL(calc_format(12345, buf, 5), TG_ERANGE);
    CU_ASSERT_STRING_EQUAL(buf, "");
    CU_ASSERT_EQUAL(calc_format(0.25, buf, 4), TG_ERANGE);
    CU_ASSERT_EQUAL(calc_format(1, buf, 0), TG_ERANGE);
}

/* ---- errors --------------------------------------------------------------------------------- */

struct error_case {
    const char *expr;
    const char *code;
    int pos;            /* syntax errors: the 1-based position the message must end with */
    const char *phrase; /* NULL or a substring the message must contain */
};

static const struct error_case error_cases[] = {
    {"(1 + 2))", "syntax_error", 8, "unexpected ')'"},
    {"1 +", "syntax_error", 4, "end of expression"},
    {"", "syntax_error", 1, "empty"},
    {"   ", "syntax_error", 4, "empty"},
    {"2 * foo", "syntax_error", 5, "'foo'"},
    {"foo(2)", "syntax_error", 1, "unknown function 'foo'"},
    {"pi(2)", "syntax_error", 1, "unknown function 'pi'"},
    {"x", "syntax_error", 1, "unknown name 'x'"},
    {"sqrt 4", "syntax_error", 6, "expected '('"},
    {"sqrt", "syntax_error", 5, "expected '('"},
    {"sqrt(1,2)", "syntax_error", 7, "one argument"},
    {"min(1)", "syntax_error", 6, "at least two"},
    {"max()", "syntax_error", 5, "unexpected ')'"},
    {"sqrt(4", "syntax_error", 7, "expected ',' or ')'"},
    {"(1+2", "syntax_error", 5, "expected ')'"},
    {"((1)", "syntax_error", 5, "to close '(' at position 1"},
    {"1 2", "syntax_error", 3, "number '2'"},
    {"2e", "syntax_error", 2, "name 'e'"},
    {"2 pi", "syntax_error", 3, "name 'pi'"},
    {".", "syntax_error", 1, "'.'"},
    {"1..2", "syntax_error", 3, "number '.2'"},
    {"1 + \xc3\xa9", "syntax_error", 5, "byte 0xc3"},
    {"\xff", "syntax_error", 1, "byte 0xff"},
    {"3 $ 4", "syntax_error", 3, "'$'"},
    {"1,2", "syntax_error", 2, "','"},
    {"2^", "syntax_error", 3, "end of expression"},
    {"*3", "syntax_error", 1, "'*'"},
    {"2**3", "syntax_error", 3, "'*'"},
    {"()", "syntax_error", 2, "')'"},
    {"0x10", "syntax_error", 2, "name 'x10'"},
    {"inf", "syntax_error", 1, "'inf'"},
    {"nan", "syntax_error", 1, "'nan'"},
    {"1 = 1", "syntax_error", 3, "'='"},
    {"1/0", "division_by_zero", 0, "position 2"},
    {"5%0", "division_by_zero", 0, "modulo"},
    {"0/0", "division_by_zero", 0, NULL},
    {"1/(2-2)", "division_by_zero", 0, NULL},
    {"1/(0*-1)", "division_by_zero", 0, NULL},
    {"0^-1", "division_by_zero", 0, NULL},
    {"sqrt(-1)", "domain_error", 0, "sqrt"},
    {"log(0)", "domain_error", 0, "log"},
    {"ln(-2)", "domain_error", 0, "ln"},
    {"(-8)^(1/3)", "domain_error", 0, "'^'"},
    {"10^400", "overflow", 0, "'^'"},
    {"exp(1000)", "overflow", 0, "exp"},
    {"1e999999", "overflow", 0, "position 1"},
    {"1e308*10", "overflow", 0, "'*'"},
    {"9e307+9e307", "overflow", 0, "'+'"},
    {"-9e307-9e307", "overflow", 0, "'-'"},
    {"1e200*1e200/1e10", "overflow", 0, "position 6"},
};

/* Does the message end with " at position N"? */
static int ends_with_position(const char *msg, int pos) {
    char tail[48];
    size_t n = strlen(msg), t;

    snprintf(tail, sizeof(tail), " at position %d", pos);
    t = strlen(tail);
    return n >= t && strcmp(msg + n - t, tail) == 0;
}

TG_TEST(calc, errors) {
    for (size_t i = 0; i < TG_ARRAY_LEN(error_cases); i++) {
        const struct error_case *c = &error_cases[i];
        struct tg_error err;
        double v = 12345;
        int rc = calc_eval(c->expr, &v, &err);
        int ok = rc == TG_EINVAL && strcmp(err.code, c->code) == 0 &&
                 (c->pos == 0 || ends_with_position(err.message, c->pos)) &&
                 (!c->phrase || strstr(err.message, c->phrase)) && v == 12345;

        if (!ok)
            fprintf(stderr, "calc errors: '%s' -> rc %d %s: %s (want %s at %d, '%s')\n", c->expr,
                    rc, err.code, err.message, c->code, c->pos, c->phrase ? c->phrase : "");
        CU_ASSERT(ok);
    }
}

TG_TEST(calc, error_messages_are_valid_json_strings) {
    /* Messages travel in JSON: they must stay valid UTF-8 whatever bytes came in. */
    const char *hostile[] = {"1 + \xc3\xa9", "\xff\xfe", "\x01", "1 + \x80", "\xe2\x82\xac 5"};

    for (size_t i = 0; i < TG_ARRAY_LEN(hostile); i++) {
        struct tg_error err;
        double v;
        json_t *j;

        CU_ASSERT_EQUAL(calc_eval(hostile[i], &v, &err), TG_EINVAL);
        CU_ASSERT_STRING_EQUAL(err.code, "syntax_error");
        j = json_string(err.message);
        CU_ASSERT_PTR_NOT_NULL(j);
        json_decref(j);
    }
}

TG_TEST(calc, null_error_struct) {
    double v = 7;

    CU_ASSERT_EQUAL(calc_eval("1/0", &v, NULL), TG_EINVAL);
    CU_ASSERT_EQUAL(calc_eval("(", &v, NULL), TG_EINVAL);
    CU_ASSERT_EQUAL(calc_eval(NULL, &v, NULL), TG_EINVAL);
    CU_ASSERT(v == 7);
}

/* ---- limits --------------------------------------------------------------------------------- */

/* "1+1+...+1" padded with trailing spaces to exactly len bytes (len odd or even). */
static char *sum_of_ones(size_t len, size_t *terms) {
    char *s = malloc(len + 1);
    size_t i = 0;

    *terms = 0;
    while (i + 2 <= len || i == 0) {
        if (i > 0)
            s[i++] = '+';
        s[i++] = '1';
        (*terms)++;
        if (i + 2 > len)
            break;
    }
    while (i < len)
        s[i++] = ' ';
    s[len] = '\0';
    return s;
}

TG_TEST(calc, length_limit_boundary) {
    struct tg_error err;
    size_t terms;
    double v = 0;
    char *s;

    s = sum_of_ones(TG_CALC_MAX_LEN, &terms);
    CU_ASSERT_EQUAL(strlen(s), TG_CALC_MAX_LEN);
    CU_ASSERT_EQUAL(calc_eval(s, &v, &err), 0);
    CU_ASSERT(v == (double)terms);
    CU_ASSERT(terms == TG_CALC_MAX_LEN / 2);
    free(s);

    s = sum_of_ones(TG_CALC_MAX_LEN + 1, &terms);
    CU_ASSERT_EQUAL(strlen(s), TG_CALC_MAX_LEN + 1);
    CU_ASSERT_EQUAL(calc_eval(s, &v, &err), TG_EINVAL);
    CU_ASSERT_STRING_EQUAL(err.code, "too_complex");
    free(s);

    /* A long but valid '^' chain is evaluated without deep recursion: 2^1^1^...^1 = 2. */
    s = malloc(TG_CALC_MAX_LEN + 1);
    s[0] = '2';
    for (size_t i = 1; i + 1 < TG_CALC_MAX_LEN; i += 2) {
        s[i] = '^';
        s[i + 1] = '1';
    }
    s[TG_CALC_MAX_LEN - 1] = ' ';
    s[TG_CALC_MAX_LEN] = '\0';
    CU_ASSERT_EQUAL(calc_eval(s, &v, &err), 0);
    CU_ASSERT(v == 2);
    free(s);
}

/* prefix x n, then middle, then suffix x n. */
static char *nest(const char *prefix, int n, const char *middle, const char *suffix) {
    size_t lp = strlen(prefix), lm = strlen(middle), ls = strlen(suffix);
    size_t len = lp * (size_t)n + lm + ls * (size_t)n, k = 0;
    char *s = malloc(len + 1);

    for (int i = 0; i < n; i++, k += lp)
        memcpy(s + k, prefix, lp);
    memcpy(s + k, middle, lm);
    k += lm;
    for (int i = 0; i < n; i++, k += ls)
        memcpy(s + k, suffix, ls);
    s[k] = '\0';
    return s;
}

struct depth_case {
    const char *prefix, *middle, *suffix;
    int per_level;    /* nesting levels one prefix adds */
    double want_even; /* value at an even depth */
};

TG_TEST(calc, depth_limit_boundary) {
    const struct depth_case cases[] = {
        {"(", "1", ")", 1, 1},     {"-", "1", "", 1, 1},       {"+", "3", "", 1, 3},
        {"sqrt(", "1", ")", 1, 1}, {"abs(", "-2", ")", 1, 2}, /* the sign inside adds one level: see
                                                                 below */
        {"-(", "1", ")", 2, 1},    {"max(0,", "1", ")", 1, 1},
    };

    for (size_t i = 0; i < TG_ARRAY_LEN(cases); i++) {
        const struct depth_case *c = &cases[i];
        int extra = strchr(c->middle, '-') ? 1 : 0; /* a leading sign in middle nests once */
        int ok_n = (TG_CALC_MAX_DEPTH - extra) / c->per_level;
        struct tg_error err;
        double v = 0;
        char *s;
        int rc;

        s = nest(c->prefix, ok_n, c->middle, c->suffix);
        rc = calc_eval(s, &v, &err);
        if (rc)
            fprintf(stderr, "calc depth: %s x%d: %s: %s\n", c->prefix, ok_n, err.code, err.message);
        CU_ASSERT_EQUAL(rc, 0);
        CU_ASSERT(v == c->want_even || v == -c->want_even);
        free(s);

        /* one more level (or one more sign in middle when a prefix counts twice) fails */
        if (c->per_level == 1) {
            s = nest(c->prefix, ok_n + 1, c->middle, c->suffix);
        } else {
            char mid[16];

            snprintf(mid, sizeof(mid), "-%s", c->middle);
            s = nest(c->prefix, ok_n, mid, c->suffix);
        }
        rc = calc_eval(s, &v, &err);
        CU_ASSERT_EQUAL(rc, TG_EINVAL);
        CU_ASSERT_STRING_EQUAL(err.code, "too_complex");
        free(s);
    }
    /* a sign in a '^' exponent nests too: 2^-(...) */
    {
        struct tg_error err;
        double v;
        char *s = nest("(", TG_CALC_MAX_DEPTH - 1, "2^-1", ")");

        CU_ASSERT_EQUAL(calc_eval(s, &v, &err), 0);
        CU_ASSERT(v == 0.5);
        free(s);
        s = nest("(", TG_CALC_MAX_DEPTH, "2^-1", ")");
        CU_ASSERT_EQUAL(calc_eval(s, &v, &err), TG_EINVAL);
        CU_ASSERT_STRING_EQUAL(err.code, "too_complex");
        free(s);
    }
    /* The position of the level that went too deep is named. */
    {
        struct tg_error err;
        double v;
        char *s = nest("(", TG_CALC_MAX_DEPTH + 1, "1", ")");

        CU_ASSERT_EQUAL(calc_eval(s, &v, &err), TG_EINVAL);
        CU_ASSERT(ends_with_position(err.message, TG_CALC_MAX_DEPTH + 1));
        free(s);
    }
}

TG_TEST(calc, hostile_inputs) {
    struct tg_error err;
    double v = 0;
    char *s;

    /* 4000 opening parentheses: rejected by length before any parsing */
    s = nest("((((", 1000, "", "");
    CU_ASSERT_EQUAL(calc_eval(s, &v, &err), TG_EINVAL);
    CU_ASSERT_STRING_EQUAL(err.code, "too_complex");
    free(s);

    /* within the length limit, still far too deep: stops at the depth limit */
    s = nest("(", TG_CALC_MAX_LEN, "", "");
    CU_ASSERT_EQUAL(calc_eval(s, &v, &err), TG_EINVAL);
    CU_ASSERT_STRING_EQUAL(err.code, "too_complex");
    free(s);
    s = nest("-", TG_CALC_MAX_LEN, "", "");
    CU_ASSERT_EQUAL(calc_eval(s, &v, &err), TG_EINVAL);
    CU_ASSERT_STRING_EQUAL(err.code, "too_complex");
    free(s);
    s = nest("sqrt(", TG_CALC_MAX_LEN / 5, "", "");
    CU_ASSERT_EQUAL(calc_eval(s, &v, &err), TG_EINVAL);
    CU_ASSERT_STRING_EQUAL(err.code, "too_complex");
    free(s);

    /* very long digit strings */
    s = nest("9", 400, "", "");
    CU_ASSERT_EQUAL(calc_eval(s, &v, &err), TG_EINVAL);
    CU_ASSERT_STRING_EQUAL(err.code, "overflow");
    free(s);
    s = nest("7", TG_CALC_MAX_LEN, "", "");
    CU_ASSERT_EQUAL(calc_eval(s, &v, &err), TG_EINVAL);
    CU_ASSERT_STRING_EQUAL(err.code, "overflow");
    free(s);
    s = nest("1", 300, "", ""); /* 1.1e299: large but finite */
    CU_ASSERT_EQUAL(calc_eval(s, &v, &err), 0);
    CU_ASSERT(close_to(v, 1.1111111111111111e299, 1e-12));
    free(s);
    s = nest("0", 1000, "", "");
    s[1] = '.';
    s[999] = '3'; /* 0.000...3 = 3e-998 underflows to zero */
    CU_ASSERT_EQUAL(calc_eval(s, &v, &err), 0);
    CU_ASSERT(v == 0);
    free(s);

    /* a mixture of everything, repeated near the length limit */
    s = nest("sqrt(abs(-2^2))*max(1,2)%5+ ", 30, "0", "");
    CU_ASSERT_EQUAL(calc_eval(s, &v, &err), 0);
    CU_ASSERT(v == 4 * 30);
    free(s);
}

/* ---- calc_tool_invoke ----------------------------------------------------------------------- */

static void result_free(struct tool_result *r) {
    free(r->content);
    json_decref(r->result);
    memset(r, 0, sizeof(*r));
}

static int invoke(const char *expr, size_t len, struct tool_result *out) {
    json_t *args = json_pack("{s:s%}", "expression", expr, len);
    int rc = calc_tool_invoke(args, NULL, out);

    json_decref(args);
    return rc;
}

TG_TEST(calc, tool_invoke_success) {
    struct tool_result r;
    json_t *val;

    CU_ASSERT_EQUAL(invoke("6*7", 3, &r), 0);
    CU_ASSERT_EQUAL(r.ok, 1);
    CU_ASSERT_STRING_EQUAL(r.content, "42");
    val = json_object_get(r.result, "value");
    CU_ASSERT(json_is_integer(val));
    CU_ASSERT_EQUAL(json_integer_value(val), 42);
    CU_ASSERT_EQUAL(json_object_size(r.result), 1);
    result_free(&r);

    CU_ASSERT_EQUAL(invoke("1/4", 3, &r), 0);
    CU_ASSERT_EQUAL(r.ok, 1);
    CU_ASSERT_STRING_EQUAL(r.content, "0.25");
    val = json_object_get(r.result, "value");
    CU_ASSERT(json_is_real(val));
    CU_ASSERT(json_real_value(val) == 0.25);
    result_free(&r);

    CU_ASSERT_EQUAL(invoke("-2^2", 4, &r), 0);
    CU_ASSERT_STRING_EQUAL(r.content, "-4");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(r.result, "value")), -4);
    result_free(&r);

    /* integral, fits in json_int_t but too large for the short format */
    CU_ASSERT_EQUAL(invoke("2^62", 4, &r), 0);
    val = json_object_get(r.result, "value");
    CU_ASSERT(json_is_integer(val));
    CU_ASSERT_EQUAL(json_integer_value(val), (json_int_t)1 << 62);
    CU_ASSERT_STRING_EQUAL(r.content, "4.61168601842739e+18");
    result_free(&r);

    /* integral but past json_int_t: a real */
    CU_ASSERT_EQUAL(invoke("2^70", 4, &r), 0);
    val = json_object_get(r.result, "value");
    CU_ASSERT(json_is_real(val));
    CU_ASSERT(json_real_value(val) == 1180591620717411303424.0);
    result_free(&r);

    CU_ASSERT_EQUAL(invoke("-0", 2, &r), 0);
    CU_ASSERT_STRING_EQUAL(r.content, "0");
    result_free(&r);
}

TG_TEST(calc, tool_invoke_errors) {
    struct tool_result r;
    json_t *j;

    CU_ASSERT_EQUAL(invoke("1/0", 3, &r), 0);
    CU_ASSERT_EQUAL(r.ok, 0);
    CU_ASSERT_PTR_NULL(r.result);
    CU_ASSERT_STRING_EQUAL(r.err.code, "division_by_zero");
    CU_ASSERT_STRING_EQUAL(r.content, "error: division_by_zero: division by zero at position 2");
    result_free(&r);

    CU_ASSERT_EQUAL(invoke("(1 + 2))", 8, &r), 0);
    CU_ASSERT_EQUAL(r.ok, 0);
    CU_ASSERT_STRING_EQUAL(r.err.code, "syntax_error");
    CU_ASSERT_STRING_EQUAL(r.content, "error: syntax_error: unexpected ')' at position 8");
    CU_ASSERT_STRING_EQUAL(r.err.message, "unexpected ')' at position 8");
    result_free(&r);

    /* a NUL inside the JSON string is a syntax error at its position, not a truncation */
    CU_ASSERT_EQUAL(invoke("1+2\0+3", 6, &r), 0);
    CU_ASSERT_EQUAL(r.ok, 0);
    CU_ASSERT_STRING_EQUAL(r.err.code, "syntax_error");
    CU_ASSERT(ends_with_position(r.err.message, 4));
    result_free(&r);

    /* non-ASCII input: the content stays valid UTF-8 for the JSON response */
    CU_ASSERT_EQUAL(invoke("2 \xc3\x97 3", 6, &r), 0);
    CU_ASSERT_EQUAL(r.ok, 0);
    j = json_string(r.content);
    CU_ASSERT_PTR_NOT_NULL(j);
    json_decref(j);
    result_free(&r);

    CU_ASSERT_EQUAL(invoke("sqrt(-1)", 8, &r), 0);
    CU_ASSERT_EQUAL(r.ok, 0);
    CU_ASSERT_STRING_EQUAL(r.err.code, "domain_error");
    CU_ASSERT(strncmp(r.content, "error: domain_error: ", 21) == 0);
    result_free(&r);
}

TG_TEST(calc, schema_and_description) {
    json_error_t jerr;
    json_t *schema = json_loads(calc_schema_json, 0, &jerr);
    json_t *expr;

    CU_ASSERT_PTR_NOT_NULL_FATAL(schema);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(schema, "type")), "object");
    CU_ASSERT(json_is_false(json_object_get(schema, "additionalProperties")));
    expr = json_object_get(json_object_get(schema, "properties"), "expression");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(expr, "type")), "string");
    CU_ASSERT(json_is_string(json_object_get(expr, "description")));
    CU_ASSERT_STRING_EQUAL(
        json_string_value(json_array_get(json_object_get(schema, "required"), 0)), "expression");
    CU_ASSERT(strlen(calc_description) > 20);
    json_decref(schema);
}

/* ---- oracle: random expressions against bc -l ---------------------------------------------- */

#define ORACLE_N      1500
#define ORACLE_DEPTH  4
#define ORACLE_MAXABS 1e6 /* intermediate magnitudes stay below this, for a 1e-9 tolerance */
#define ORACLE_TOL    1e-9
#define ORACLE_COND   1e-11 /* keep expressions whose error bound is 100x inside ORACLE_TOL */
#define EPS           1.2e-16
#define EXPR_BUF      900
#define BC_PATH       "/usr/bin/bc"

/* Precedence levels shared by the emitted texts (higher binds tighter). */
enum { PREC_SUM = 1, PREC_PRODUCT = 2, PREC_UNARY = 3, PREC_POWER = 4, PREC_ATOM = 5 };

struct gexpr {
    char calc[EXPR_BUF]; /* text for calc_eval */
    char bc[EXPR_BUF];   /* the same expression for bc -l */
    double v;            /* the generator's own double value, for guards only */
    double e;            /* first-order bound on the absolute rounding error of v in doubles */
    int prec;            /* precedence of the top of calc's text */
    int ok;              /* 0 if a text overflowed its buffer */
};

static uint64_t xorshift64(uint64_t *s) {
    uint64_t x = *s;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

static unsigned rnd(uint64_t *s, unsigned n) {
    return (unsigned)(xorshift64(s) % n);
}

static void setf(struct gexpr *g, char *dst, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void setf(struct gexpr *g, char *dst, const char *fmt, ...) {
    char tmp[EXPR_BUF];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        g->ok = 0;
    memcpy(dst, tmp, sizeof(tmp));
}

/* calc text of a child, parenthesised when its precedence is below need. */
static const char *wrap(const struct gexpr *c, int need, char *buf, size_t n) {
    if (c->prec >= need)
        snprintf(buf, n, "%s", c->calc);
    else
        snprintf(buf, n, "(%s)", c->calc);
    return buf;
}

static void gen(uint64_t *s, int depth, struct gexpr *g);

static void gen_number(uint64_t *s, struct gexpr *g) {
    static const unsigned pow10[] = {1, 10, 100, 1000, 10000};
    unsigned m = rnd(s, 100000), k = rnd(s, 5), ip = m / pow10[k], fp = m % pow10[k];
    char dec[32];

    if (k == 0)
        snprintf(dec, sizeof(dec), "%u", m);
    else
        snprintf(dec, sizeof(dec), "%u.%0*u", ip, (int)k, fp);
    g->v = strtod(dec, NULL);
    g->e = fabs(g->v) * EPS;
    g->prec = PREC_ATOM;
    setf(g, g->bc, "%s", dec);
    if (k > 0 && rnd(s, 4) == 0)
        setf(g, g->calc, "%ue-%u", m, k); /* exponent form: calc only, bc has none */
    else if (k > 0 && ip == 0 && rnd(s, 2) == 0)
        setf(g, g->calc, ".%0*u", (int)k, fp);
    else if (k == 0 && rnd(s, 6) == 0)
        setf(g, g->calc, "%u.", m);
    else
        setf(g, g->calc, "%s", dec);
}

static void gen_once(uint64_t *s, int depth, struct gexpr *g) {
    static const char *sp[] = {"", " ", "  "};
    struct gexpr *a, *b;
    char wa[EXPR_BUF + 2], wb[EXPR_BUF + 2];
    unsigned kind = depth <= 0 ? 0 : rnd(s, 10);

    g->ok = 1;
    if (kind == 0) {
        if (rnd(s, 12) == 0) {
            g->v = PI_D;
            g->e = PI_D * EPS;
            g->prec = PREC_ATOM;
            setf(g, g->calc, "pi");
            setf(g, g->bc, "(4*a(1))");
        } else {
            gen_number(s, g);
        }
        return;
    }
    a = malloc(sizeof(*a));
    b = malloc(sizeof(*b));
    gen(s, depth - 1, a);
    g->ok = a->ok;
    if (kind <= 5) { /* binary + - * / */
        static const char ops[] = "+-*/";
        char op = ops[rnd(s, 4)];
        int prec = (op == '+' || op == '-') ? PREC_SUM : PREC_PRODUCT;
        const char *sa = sp[rnd(s, 3)], *sb = sp[rnd(s, 3)];

        gen(s, depth - 1, b);
        g->ok = g->ok && b->ok;
        if (op == '/' && fabs(b->v) < 1e-3)
            op = '+', prec = PREC_SUM;
        g->v = op == '+'   ? a->v + b->v
               : op == '-' ? a->v - b->v
               : op == '*' ? a->v * b->v
                           : a->v / b->v;
        if (op == '+' || op == '-')
            g->e = a->e + b->e;
        else if (op == '*')
            g->e = fabs(a->v) * b->e + fabs(b->v) * a->e;
        else
            g->e = (a->e + fabs(g->v) * b->e) / fabs(b->v);
        g->e += fabs(g->v) * EPS;
        g->prec = prec;
        /* left child: same precedence needs no parentheses (left-assoc); right child does */
        setf(g, g->calc, "%s%s%c%s%s", wrap(a, prec, wa, sizeof(wa)), sa, op, sb,
             wrap(b, prec + 1, wb, sizeof(wb)));
        setf(g, g->bc, "(%s)%c(%s)", a->bc, op, b->bc);
    } else if (kind == 6) { /* unary minus or plus */
        int minus = rnd(s, 4) != 0;

        g->v = minus ? -a->v : a->v;
        g->e = a->e;
        g->prec = PREC_UNARY;
        setf(g, g->calc, "%c%s", minus ? '-' : '+', wrap(a, PREC_UNARY, wa, sizeof(wa)));
        setf(g, g->bc, "(0%c(%s))", minus ? '-' : '+', a->bc);
    } else if (kind == 7) { /* base ^ small non-negative integer, sometimes as a chain */
        unsigned n = rnd(s, 4);

        g->prec = PREC_POWER;
        if (rnd(s, 4) == 0) {
            unsigned m = rnd(s, 3);
            n = n > 2 ? 2 : n; /* n^m <= 4 */
            g->v = pow(a->v, pow(n, m));
            setf(g, g->calc, "%s^%u^%u", wrap(a, PREC_ATOM, wa, sizeof(wa)), n, m);
            setf(g, g->bc, "(%s)^%u^%u", a->bc, n, m);
            n = (unsigned)pow(n, m); /* the exponent, for the error bound */
        } else {
            g->v = pow(a->v, n);
            setf(g, g->calc, "%s^%u", wrap(a, PREC_ATOM, wa, sizeof(wa)), n);
            setf(g, g->bc, "(%s)^%u", a->bc, n);
        }
        g->e = n == 0 ? 0 : n * pow(fabs(a->v), n - 1) * a->e + n * fabs(g->v) * EPS;
    } else { /* functions */
        unsigned f = rnd(s, 6);
        double x = a->v;

        g->prec = PREC_ATOM;
        if (f == 0 || (f == 1 && x <= 1e-3) || (f == 4 && x <= 1e-3)) {
            /* sqrt of |x|, written with a unary minus when x < 0 */
            g->e = a->e == 0 ? 0 : a->e / (2 * sqrt(fabs(x)));
            if (x < 0) {
                g->v = sqrt(-x);
                setf(g, g->calc, "sqrt(-(%s))", a->calc);
                setf(g, g->bc, "sqrt(0-(%s))", a->bc);
            } else {
                g->v = sqrt(x);
                setf(g, g->calc, "sqrt(%s)", a->calc);
                setf(g, g->bc, "sqrt(%s)", a->bc);
            }
        } else if (f == 1) {
            g->v = log(x);
            g->e = a->e / x;
            setf(g, g->calc, "ln(%s)", a->calc);
            setf(g, g->bc, "l(%s)", a->bc);
        } else if (f == 4) {
            g->v = log10(x);
            g->e = a->e / x;
            setf(g, g->calc, "log(%s)", a->calc);
            setf(g, g->bc, "(l(%s)/l(10))", a->bc);
        } else if (f == 2 && fabs(x) <= 12) {
            g->v = exp(x);
            g->e = g->v * a->e;
            setf(g, g->calc, "exp(%s)", a->calc);
            setf(g, g->bc, "e(%s)", a->bc);
        } else if (f == 3 && fabs(x) <= 100) {
            g->v = sin(x);
            g->e = a->e;
            setf(g, g->calc, "sin(%s)", a->calc);
            setf(g, g->bc, "s(%s)", a->bc);
        } else if (fabs(x) <= 100) {
            g->v = cos(x);
            g->e = a->e;
            setf(g, g->calc, "cos(%s)", a->calc);
            setf(g, g->bc, "c(%s)", a->bc);
        } else {
            g->v = x / 1000; /* out of range for exp/sin/cos: scale down */
            g->e = a->e / 1000;
            g->prec = PREC_PRODUCT;
            setf(g, g->calc, "%s/1000", wrap(a, PREC_PRODUCT, wa, sizeof(wa)));
            setf(g, g->bc, "(%s)/1000", a->bc);
        }
        g->e += fabs(g->v) * 4 * EPS; /* libm functions are within a few ulps */
    }
    free(a);
    free(b);
}

/* A random expression whose every intermediate stays within ORACLE_MAXABS. */
static void gen(uint64_t *s, int depth, struct gexpr *g) {
    for (int tries = 0; tries < 8; tries++) {
        gen_once(s, depth, g);
        if (g->ok && isfinite(g->v) && fabs(g->v) < ORACLE_MAXABS && isfinite(g->e) &&
            g->e <= ORACLE_COND * (fabs(g->v) > 1 ? fabs(g->v) : 1))
            return;
    }
    gen_once(s, 0, g); /* a number always fits */
}

/* Write the bc script, run one bc for the batch, read one result a line. */
static int run_bc(struct gexpr *ex, size_t n, double *out) {
    char path[] = "/tmp/tg_calc_oracle_XXXXXX";
    char cmd[128], line[4096];
    size_t got = 0;
    FILE *f, *p;
    int fd, status;

    fd = mkstemp(path);
    if (fd < 0)
        return -1;
    f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        unlink(path);
        return -1;
    }
    fprintf(f, "scale=30\n");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s\n", ex[i].bc);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "BC_LINE_LENGTH=0 %s -l -q < %s", BC_PATH, path);
    p = popen(cmd, "r");
    if (!p) {
        unlink(path);
        return -1;
    }
    while (fgets(line, sizeof(line), p)) {
        char *end;

        if (got < n) {
            out[got] = strtod(line, &end);
            if (end == line)
                fprintf(stderr, "calc oracle: bc said '%s' for %s\n", line, ex[got].bc);
        }
        got++;
    }
    status = pclose(p);
    unlink(path);
    if (got != n || status != 0) {
        fprintf(stderr, "calc oracle: bc gave %zu lines for %zu expressions (status %d)\n", got, n,
                status);
        return -1;
    }
    return 0;
}

TG_TEST(calc, oracle_bc) {
    struct gexpr *ex = calloc(ORACLE_N, sizeof(*ex));
    double *want = calloc(ORACLE_N, sizeof(*want));
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    const char *features[] = {"^",  "sqrt(", "ln(", "log(", "exp(", "sin(", "cos(",
                              "pi", "e-",    "--",  "-(",   "/",    " "};
    size_t bad = 0, errors = 0, deep = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(ex);
    CU_ASSERT_PTR_NOT_NULL_FATAL(want);
    /* bc missing is a failure, never a skip */
    CU_ASSERT_FATAL(access(BC_PATH, X_OK) == 0);
    for (size_t i = 0; i < ORACLE_N; i++) {
        gen(&seed, 1 + (int)(i % ORACLE_DEPTH), &ex[i]);
        if (strchr(ex[i].calc, '(') || strchr(ex[i].calc, '^'))
            deep++;
    }
    CU_ASSERT(deep > ORACLE_N / 2); /* the generator really builds nested expressions */
    for (size_t k = 0; k < TG_ARRAY_LEN(features); k++) {
        size_t with = 0;

        for (size_t i = 0; i < ORACLE_N; i++)
            with += strstr(ex[i].calc, features[k]) != NULL;
        if (with < 10)
            fprintf(stderr, "calc oracle: only %zu expressions use '%s'\n", with, features[k]);
        CU_ASSERT(with >= 10);
    }
    CU_ASSERT_FATAL(run_bc(ex, ORACLE_N, want) == 0);
    for (size_t i = 0; i < ORACLE_N; i++) {
        struct tg_error err;
        double v;
        int rc = calc_eval(ex[i].calc, &v, &err);

        if (rc) {
            if (errors++ < 5)
                fprintf(stderr, "calc oracle: %s -> %s: %s\n", ex[i].calc, err.code, err.message);
            continue;
        }
        if (!close_to(v, want[i], ORACLE_TOL)) {
            if (bad++ < 5)
                fprintf(stderr, "calc oracle: %s = %.17g but bc: %s = %.17g\n", ex[i].calc, v,
                        ex[i].bc, want[i]);
        }
    }
    CU_ASSERT_EQUAL(errors, 0);
    CU_ASSERT_EQUAL(bad, 0);
    free(ex);
    free(want);
}

/* Issue 16: rounding as a prompt asks, round(x, n). */
TG_TEST(calc, round_to_n_decimal_places) {
    struct tg_error err;
    double v;

    CU_ASSERT_EQUAL(calc_eval("round(7536 / 70.79, 2)", &v, &err), 0);
    CU_ASSERT_DOUBLE_EQUAL(v, 106.46, 1e-9);
    CU_ASSERT_EQUAL(calc_eval("round(2.5)", &v, &err), 0);
    CU_ASSERT_DOUBLE_EQUAL(v, 3, 0);
    CU_ASSERT_EQUAL(calc_eval("round(-2.345, 2)", &v, &err), 0);
    CU_ASSERT_DOUBLE_EQUAL(v, -2.35, 1e-9);
    CU_ASSERT_EQUAL(calc_eval("round(12345, -2)", &v, &err), 0);
    CU_ASSERT_DOUBLE_EQUAL(v, 12300, 0);
    CU_ASSERT_EQUAL(calc_eval("round(1.5, 2.5)", &v, &err), TG_EINVAL);
    CU_ASSERT_STRING_EQUAL(err.code, "domain_error");
    CU_ASSERT_EQUAL(calc_eval("round(1.5, 99)", &v, &err), TG_EINVAL);
    CU_ASSERT_EQUAL(calc_eval("round(1, 2, 3)", &v, &err), TG_EINVAL);
    CU_ASSERT_STRING_EQUAL(err.code, "syntax_error");
    CU_ASSERT_EQUAL(calc_eval("sqrt(4, 2)", &v, &err), TG_EINVAL);
}

TG_TEST(calc, trace_records_literals_and_operations) {
    struct calc_trace tr;
    double v;

    CU_ASSERT_EQUAL(calc_eval_traced("48211 * 3.75 - 1290", &v, &tr, NULL), 0);
    CU_ASSERT_EQUAL(tr.nlits, 3);
    CU_ASSERT_EQUAL(tr.nops, 2);
    CU_ASSERT_DOUBLE_EQUAL(tr.ops[0], 180791.25, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(tr.ops[1], v, 0);
    CU_ASSERT_EQUAL(calc_eval_traced("-(96422)", &v, &tr, NULL), 0);
    CU_ASSERT_EQUAL(tr.nops, 0); /* signs and parentheses compute nothing */
}

/* calc_eval_traced answers an expression evaluated just before on the same thread from its
 * memo: the same value and trace as a fresh evaluation, whichever came first (traced or not),
 * and an error or another expression in between changes nothing. */
TG_TEST(calc, repeated_expressions_give_the_same_trace) {
    static const char *const seq[] = {"(3+4)*12/7-2^5", "(3+4)*12/7-2^5", "1+",  "(3+4)*12/7-2^5",
                                      "(3+4)*12/7-2^6", "(3+4)*12/7-2^5", "1/0", "2*sqrt(16)"};
    struct calc_trace first, tr;
    struct tg_error err;
    double v0 = 0, v;

    CU_ASSERT_EQUAL_FATAL(calc_eval_traced("(3+4)*12/7-2^5", &v0, &first, &err), 0);
    CU_ASSERT_EQUAL(calc_eval(seq[0], &v, &err), 0); /* untraced, then traced from the memo */
    for (size_t i = 0; i < TG_ARRAY_LEN(seq); i++) {
        int rc = calc_eval_traced(seq[i], &v, &tr, &err);

        if (strcmp(seq[i], "(3+4)*12/7-2^5") != 0) {
            CU_ASSERT((rc != 0) == (seq[i][1] == '+' || seq[i][1] == '/'));
            continue;
        }
        CU_ASSERT_EQUAL(rc, 0);
        CU_ASSERT_EQUAL(v, v0);
        CU_ASSERT_EQUAL(err.code[0], '\0');
        CU_ASSERT_EQUAL(tr.nlits, first.nlits);
        CU_ASSERT_EQUAL(tr.nops, first.nops);
        CU_ASSERT_EQUAL(memcmp(tr.lits, first.lits, first.nlits * sizeof(double)), 0);
        CU_ASSERT_EQUAL(memcmp(tr.ops, first.ops, first.nops * sizeof(double)), 0);
    }
    CU_ASSERT_EQUAL(first.nlits, 6);
    CU_ASSERT_EQUAL(first.nops, 5);
}
