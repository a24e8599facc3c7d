/*
 * test_json.c — suites `json` and `limits`: untrusted-JSON parsing (UTF-8, depth, duplicates),
 * strict field checks, the JSON Schema subset used by tool definitions, and the run queue's
 * bound.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/json_util.h"
#include "base/limits.h"
#include "base/rng.h"
#include "server/runq.h"
#include "base/schema.h"
#include "tg_test.h"

static int parse(const char *s, json_t **out, struct tg_error *err) {
    return jsonu_parse(s, strlen(s), TG_MAX_JSON_DEPTH, out, err);
}

TG_TEST(json, parses_objects_and_scalars) {
    json_t *v = NULL;
    struct tg_error err;

    CU_ASSERT_EQUAL(parse("{\"a\":[1,2,{\"b\":\"c\"}]}", &v, &err), 0);
    CU_ASSERT_PTR_NOT_NULL(json_object_get(v, "a"));
    json_decref(v);
    CU_ASSERT_EQUAL(parse("42", &v, &err), 0);
    CU_ASSERT_EQUAL(json_integer_value(v), 42);
    json_decref(v);
}

TG_TEST(json, rejects_syntax_errors_with_position) {
    json_t *v = NULL;
    struct tg_error err;

    CU_ASSERT_EQUAL(parse("{\"a\":}", &v, &err), TG_EINVAL);
    CU_ASSERT_PTR_NULL(v);
    CU_ASSERT_STRING_EQUAL(err.code, "invalid_json");
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "column"));
    CU_ASSERT_EQUAL(parse("", &v, &err), TG_EINVAL);
    CU_ASSERT_EQUAL(parse("{\"a\":1} trailing", &v, &err), TG_EINVAL);
}

TG_TEST(json, rejects_duplicate_keys) {
    json_t *v = NULL;
    struct tg_error err;

    CU_ASSERT_EQUAL(parse("{\"a\":1,\"a\":2}", &v, &err), TG_EINVAL);
    CU_ASSERT_STRING_EQUAL(err.code, "invalid_json");
}

TG_TEST(json, depth_limit_boundary) {
    char buf[2 * (TG_MAX_JSON_DEPTH + 1) + 1];
    json_t *v = NULL;
    struct tg_error err;
    size_t d;

    /* exactly the limit parses */
    for (d = 0; d < TG_MAX_JSON_DEPTH; d++)
        buf[d] = '[';
    for (size_t i = 0; i < TG_MAX_JSON_DEPTH; i++)
        buf[d + i] = ']';
    buf[2 * TG_MAX_JSON_DEPTH] = '\0';
    CU_ASSERT_EQUAL(parse(buf, &v, &err), 0);
    json_decref(v);
    /* one more is refused before jansson sees it */
    for (d = 0; d <= TG_MAX_JSON_DEPTH; d++)
        buf[d] = '[';
    for (size_t i = 0; i <= TG_MAX_JSON_DEPTH; i++)
        buf[d + i] = ']';
    buf[2 * (TG_MAX_JSON_DEPTH + 1)] = '\0';
    CU_ASSERT_EQUAL(parse(buf, &v, &err), TG_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "deeper"));
}

TG_TEST(json, brackets_inside_strings_do_not_count) {
    char buf[256];
    json_t *v = NULL;
    struct tg_error err;

    snprintf(buf, sizeof(buf), "{\"s\":\"%s\\\"[[[\"}",
             "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[");
    CU_ASSERT_EQUAL(parse(buf, &v, &err), 0);
    json_decref(v);
    {
        const char *s = "[{\"a\":\"]]]]\"}]";

        CU_ASSERT_TRUE(jsonu_depth_ok(s, strlen(s), 2));
    }
    CU_ASSERT_FALSE(jsonu_depth_ok("[[[", 3, 2));
}

TG_TEST(json, utf8_validation) {
    static const struct {
        const char *s;
        int ok;
    } cases[] = {
        {"plain ascii", 1},
        {"caf\xc3\xa9", 1},      /* é */
        {"\xe2\x82\xac", 1},     /* € */
        {"\xf0\x9f\x98\x80", 1}, /* emoji */
        {"\xc3", 0},             /* truncated */
        {"\xc0\xaf", 0},         /* overlong '/' */
        {"\xe0\x80\xaf", 0},     /* overlong */
        {"\xed\xa0\x80", 0},     /* surrogate */
        {"\xf4\x90\x80\x80", 0}, /* > U+10FFFF */
        {"\xff", 0},
        {"ok\x80", 0}, /* stray continuation */
    };
    json_t *v = NULL;
    struct tg_error err;
    char body[64];

    for (size_t i = 0; i < TG_ARRAY_LEN(cases); i++) {
        CU_ASSERT_EQUAL(jsonu_utf8_valid(cases[i].s, strlen(cases[i].s)), cases[i].ok);
        snprintf(body, sizeof(body), "\"%s\"", cases[i].s);
        CU_ASSERT_EQUAL(parse(body, &v, &err) == 0, cases[i].ok);
        if (!cases[i].ok)
            CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "UTF-8"));
        json_decref(v);
        v = NULL;
    }
}

TG_TEST(json, check_fields) {
    static const struct jsonu_field fields[] = {
        {"name", JSON_STRING, 1},
        {"count", JSON_INTEGER, 0},
        {"ratio", JSON_REAL, 0},
        {"flag", JSON_TRUE, 0},
    };
    struct tg_error err;
    json_t *o;

    o = json_pack("{s:s, s:i, s:i, s:b}", "name", "x", "count", 3, "ratio", 2, "flag", 0);
    CU_ASSERT_EQUAL(jsonu_check_fields(o, fields, 4, "body", &err), 0);
    json_decref(o);

    o = json_pack("{s:s, s:s}", "name", "x", "nmae", "typo");
    CU_ASSERT_EQUAL(jsonu_check_fields(o, fields, 4, "body", &err), TG_EINVAL);
    CU_ASSERT_STRING_EQUAL(err.code, "invalid_request");
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "nmae"));
    json_decref(o);

    o = json_pack("{s:i}", "count", 1);
    CU_ASSERT_EQUAL(jsonu_check_fields(o, fields, 4, "body", &err), TG_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "Missing field \"name\""));
    json_decref(o);

    o = json_pack("{s:s, s:s}", "name", "x", "count", "3");
    CU_ASSERT_EQUAL(jsonu_check_fields(o, fields, 4, "body", &err), TG_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "must be an integer"));
    json_decref(o);

    o = json_pack("[i]", 1);
    CU_ASSERT_EQUAL(jsonu_check_fields(o, fields, 4, "body", &err), TG_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "must be a JSON object"));
    json_decref(o);
}

TG_TEST(json, find_fault_names_each_kind) {
    static const struct jsonu_field fields[] = {
        {"name", JSON_STRING, 1}, {"args", JSONU_ANY, 1}, {"n", JSON_INTEGER, 0}};
    static const struct {
        const char *text;
        int flags;
        enum jsonu_fault_kind kind;
        const char *key;
    } cases[] = {
        {"{\"name\":\"x\",\"args\":null}", 0, JSONU_OK, NULL}, /* any type, even null */
        {"{\"name\":\"x\",\"args\":[1],\"n\":2}", 0, JSONU_OK, NULL},
        {"[]", 0, JSONU_NOT_OBJECT, NULL},
        {"{\"name\":\"x\",\"args\":1,\"zz\":1}", 0, JSONU_UNKNOWN, "zz"},
        {"{\"name\":\"x\",\"args\":1,\"zz\":1}", JSONU_OPEN, JSONU_OK, NULL},
        {"{\"name\":1,\"args\":1}", 0, JSONU_WRONG_TYPE, "name"},
        {"{\"name\":\"x\",\"args\":1,\"n\":1.5}", 0, JSONU_WRONG_TYPE, "n"},
        {"{\"name\":\"x\"}", 0, JSONU_MISSING, "args"},
        /* an unknown key is reported before a type or a missing field, whatever the order */
        {"{\"zz\":1,\"name\":1}", 0, JSONU_UNKNOWN, "zz"},
        {"{\"name\":1,\"zz\":1}", 0, JSONU_UNKNOWN, "zz"},
        /* then rows in table order */
        {"{\"n\":\"1\"}", 0, JSONU_MISSING, "name"},
    };

    for (size_t i = 0; i < TG_ARRAY_LEN(cases); i++) {
        json_t *o = json_loads(cases[i].text, JSON_DECODE_ANY, NULL);
        struct jsonu_fault f;
        int rc;

        CU_ASSERT_PTR_NOT_NULL_FATAL(o);
        rc = jsonu_find_fault(o, fields, TG_ARRAY_LEN(fields), cases[i].flags, &f);
        CU_ASSERT_EQUAL(rc, cases[i].kind == JSONU_OK ? 0 : TG_EINVAL);
        CU_ASSERT_EQUAL(f.kind, cases[i].kind);
        if (cases[i].key) {
            CU_ASSERT_PTR_NOT_NULL_FATAL(f.key);
            CU_ASSERT_STRING_EQUAL(f.key, cases[i].key);
        }
        json_decref(o);
    }
}

TG_TEST(json, check_fields_at_uses_the_file_style) {
    static const struct jsonu_field fields[] = {{"c", JSON_REAL, 1}, {"mode", JSON_STRING, 0}};
    static const struct {
        const char *text;
        const char *where;
        const char *message;
    } cases[] = {
        {"{\"c\":1,\"x\":2}", "config.otc", "config.otc.x: unknown field"},
        {"{\"c\":\"1\"}", "config.otc", "config.otc.c: must be a number, not string"},
        {"{\"mode\":\"a\"}", "plan[2]", "plan[2].c: missing"},
        {"{\"c\":1,\"x\":2}", "", "x: unknown field"},
        {"3", "answer", "answer: must be an object"},
    };
    struct tg_error err;

    for (size_t i = 0; i < TG_ARRAY_LEN(cases); i++) {
        json_t *o = json_loads(cases[i].text, JSON_DECODE_ANY, NULL);

        CU_ASSERT_EQUAL(
            jsonu_check_fields_at(o, fields, 2, 0, "invalid_config", cases[i].where, &err),
            TG_EINVAL);
        CU_ASSERT_STRING_EQUAL(err.code, "invalid_config");
        CU_ASSERT_STRING_EQUAL(err.message, cases[i].message);
        json_decref(o);
    }
    {
        json_t *o = json_pack("{s:f}", "c", 0.5);

        CU_ASSERT_EQUAL(jsonu_check_fields_at(o, fields, 2, 0, "invalid_config", "x", &err), 0);
        json_decref(o);
    }
}

static const char *schema_text =
    "{\"type\":\"object\",\"properties\":{\"query\":{\"type\":\"string\",\"minLength\":1,"
    "\"maxLength\":4},\"k\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":20},"
    "\"mode\":{\"type\":\"string\",\"enum\":[\"a\",\"b\"]},"
    "\"blob\":{\"type\":\"string\",\"maxBytes\":4}},"
    "\"required\":[\"query\"],\"additionalProperties\":false}";

static int check(const char *value, struct tg_error *err) {
    json_t *schema = json_loads(schema_text, 0, NULL);
    json_t *v = json_loads(value, JSON_DECODE_ANY, NULL);
    int rc = schema_validate(schema, v, err);

    json_decref(schema);
    json_decref(v);
    return rc;
}

TG_TEST(json, schema_accepts_valid_arguments) {
    struct tg_error err;

    CU_ASSERT_EQUAL(check("{\"query\":\"ab\"}", &err), 0);
    CU_ASSERT_EQUAL(check("{\"query\":\"abcd\",\"k\":20,\"mode\":\"b\"}", &err), 0);
    CU_ASSERT_EQUAL(check("{\"query\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}", &err), 0);
    CU_ASSERT_EQUAL(check("{\"query\":\"a\",\"k\":3.0}", &err), 0); /* integral number */
    /* maxBytes counts UTF-8 bytes: two é are 4 bytes, four ASCII letters too */
    CU_ASSERT_EQUAL(check("{\"query\":\"a\",\"blob\":\"\xc3\xa9\xc3\xa9\"}", &err), 0);
    CU_ASSERT_EQUAL(check("{\"query\":\"a\",\"blob\":\"abcd\"}", &err), 0);
}

TG_TEST(json, schema_rejects_each_violation) {
    static const struct {
        const char *value;
        const char *needle;
    } cases[] = {
        {"{}", "missing required property \"query\""},
        {"{\"query\":1}", "query: must be a string, not integer"},
        {"{\"query\":\"\"}", "at least 1 characters"},
        {"{\"query\":\"abcde\"}", "at most 4 characters"},
        {"{\"query\":\"a\",\"k\":0}", "k: must be at least 1"},
        {"{\"query\":\"a\",\"k\":21}", "k: must be at most 20"},
        {"{\"query\":\"a\",\"k\":2.5}", "k: must be an integer"},
        {"{\"query\":\"a\",\"extra\":1}", "unexpected property \"extra\""},
        {"{\"query\":\"a\",\"mode\":\"c\"}", "not one of the allowed values"},
        {"{\"query\":\"a\",\"blob\":\"\xc3\xa9\xc3\xa9x\"}", "blob: must be at most 4 bytes long"},
        {"{\"query\":\"a\",\"blob\":\"\xc3\xa9\xc3\xa9\xc3\xa9\"}", "not 6"},
        {"[1]", "must be an object"},
        {"null", "must be an object"},
    };
    struct tg_error err;

    for (size_t i = 0; i < TG_ARRAY_LEN(cases); i++) {
        CU_ASSERT_EQUAL(check(cases[i].value, &err), TG_EINVAL);
        CU_ASSERT_STRING_EQUAL(err.code, "invalid_arguments");
        if (!strstr(err.message, cases[i].needle))
            fprintf(stderr, "case %zu: '%s' lacks '%s'\n", i, err.message, cases[i].needle);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.message, cases[i].needle));
    }
}

/* ---- the run queue's bound ------------------------------------------------------------- */

static volatile int gate_open;
static volatile int ran;

static void slow_job(void *arg) {
    (void)arg;
    while (!gate_open)
        usleep(1000);
    __sync_fetch_and_add(&ran, 1);
}

TG_TEST(limits, run_queue_refuses_past_its_bound) {
    struct runq *q = runq_new(1, 2, 0);
    int accepted = 0, refused = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    gate_open = 0;
    ran = 0;
    /* one running + two waiting fit; the rest are refused with TG_EBUSY */
    for (int i = 0; i < 6; i++) {
        int rc = runq_submit(q, slow_job, NULL, NULL, NULL, NULL);

        if (rc == 0)
            accepted++;
        else if (rc == TG_EBUSY)
            refused++;
        usleep(2000);
    }
    CU_ASSERT_EQUAL(accepted, 3);
    CU_ASSERT_EQUAL(refused, 3);
    CU_ASSERT_EQUAL(runq_pending(q), 3);
    gate_open = 1;
    runq_free(q); /* drains accepted jobs */
    CU_ASSERT_EQUAL(ran, 3);
}

TG_TEST(limits, run_queue_rejects_bad_sizes) {
    CU_ASSERT_PTR_NULL(runq_new(0, 1, 0));
    CU_ASSERT_PTR_NULL(runq_new(1, -1, 0));
    CU_ASSERT_PTR_NULL(runq_new(1, 1, -1));
    runq_free(NULL);
}

TG_TEST(json, utf8_prefix_never_splits_a_character) {
    static const char s[] = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"; /* a é € 😀: 1+2+3+4 */
    size_t n = strlen(s);

    CU_ASSERT_EQUAL(jsonu_utf8_prefix(s, n, 100), n);
    CU_ASSERT_EQUAL(jsonu_utf8_prefix(s, n, n), n);
    CU_ASSERT_EQUAL(jsonu_utf8_prefix(s, n, 1), 1);
    CU_ASSERT_EQUAL(jsonu_utf8_prefix(s, n, 2), 1); /* inside é */
    CU_ASSERT_EQUAL(jsonu_utf8_prefix(s, n, 3), 3);
    CU_ASSERT_EQUAL(jsonu_utf8_prefix(s, n, 4), 3); /* inside € */
    CU_ASSERT_EQUAL(jsonu_utf8_prefix(s, n, 5), 3);
    CU_ASSERT_EQUAL(jsonu_utf8_prefix(s, n, 6), 6);
    CU_ASSERT_EQUAL(jsonu_utf8_prefix(s, n, 9), 6); /* inside 😀 */
    CU_ASSERT_EQUAL(jsonu_utf8_prefix(s, n, 0), 0);
    for (size_t m = 0; m <= n; m++)
        CU_ASSERT(jsonu_utf8_valid(s, jsonu_utf8_prefix(s, n, m)));
}

TG_TEST(json, utf8_scrub_replaces_what_json_would_refuse) {
    char a[] = "ok \xc3\xa9 \xc3 cut \xff\xfe \xed\xa0\x80 \xc0\xaf end \xe2\x82";
    char b[] = "plain \xe2\x82\xac";

    jsonu_utf8_scrub(a);
    CU_ASSERT_STRING_EQUAL(a, "ok \xc3\xa9 ? cut ?? ??? ?? end ??");
    CU_ASSERT(jsonu_utf8_valid(a, strlen(a)));
    jsonu_utf8_scrub(b); /* valid text is left alone */
    CU_ASSERT_STRING_EQUAL(b, "plain \xe2\x82\xac");
}

/* ---- the fast path of jsonu_parse ------------------------------------------------------- */

/* Whatever the fast path takes, jansson parses to the same value with the same key order;
 * whatever it gives up on, jsonu_parse still answers as jansson does. */
static void fast_agrees(const char *text, size_t n) {
    json_t *fast = jsonu_parse_fast(text, n);
    json_error_t jerr;
    json_t *slow =
        json_loadb(text, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);

    if (fast) {
        char *a = json_dumps(fast, JSON_COMPACT | JSON_ENCODE_ANY);
        char *b = slow ? json_dumps(slow, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

        CU_ASSERT_PTR_NOT_NULL(slow);
        CU_ASSERT(a && b && strcmp(a, b) == 0);
        if (!b || !a || strcmp(a, b) != 0)
            fprintf(stderr, "\n  input %.*s\n  fast  %s\n  slow  %s\n", (int)n, text,
                    a ? a : "(null)", b ? b : "(null)");
        free(a);
        free(b);
    }
    json_decref(fast);
    json_decref(slow);
}

TG_TEST(json, the_fast_path_takes_plain_bodies_and_agrees_with_jansson) {
    static const char *const taken[] = {
        "{\"arguments\":{\"expression\":\"(3+4)*12/7-2^5\"}}",
        "{\"tool_call\":{\"name\":\"calculator\",\"arguments\":{\"expression\":\"1*7+3\"}}}",
        " { \"a\" : [ 1 , -2 , 0 , true , false , null , \"x\" , [ ] , { } ] } \n",
        "{\"split\":\"test\",\"max_steps\":8,\"n\":999999999999999999}",
        "\"caf\xc3\xa9\"",
        "-0",
    };
    static const char *const refused[] = {
        "{\"a\":1,\"a\":2}",           /* duplicate: jansson's error */
        "{\"a\":\"x\\ny\"}",           /* an escape */
        "{\"a\":1.5}",                 /* a real */
        "{\"a\":1e3}",                 /* a real */
        "{\"a\":1234567890123456789}", /* 19 digits: jansson's range check */
        "{\"a\":99999999999999999999}",
        "{\"a\":01}",
        "[1,]",
        "{\"a\":1,}",
        "{\"a\" 1}",
        "{\"a\":1} x",
        "{\"a\":tru}",
        "{\"a\":\"\x01\"}",
        "{\"a\":\"unterminated}",
        "",
        "-",
    };

    for (size_t i = 0; i < TG_ARRAY_LEN(taken); i++) {
        json_t *v = jsonu_parse_fast(taken[i], strlen(taken[i]));

        CU_ASSERT_PTR_NOT_NULL(v);
        json_decref(v);
        fast_agrees(taken[i], strlen(taken[i]));
    }
    for (size_t i = 0; i < TG_ARRAY_LEN(refused); i++) {
        json_t *v = jsonu_parse_fast(refused[i], strlen(refused[i]));

        CU_ASSERT_PTR_NULL(v);
        json_decref(v);
    }
}

/* Generated texts, valid and broken (bytes changed, cut short), against jansson. */
TG_TEST(json, the_fast_path_agrees_with_jansson_on_generated_text) {
    static const char *const atoms[] = {"1",     "-12",  "0",          "true", "false", "null",
                                        "\"s\"", "\"\"", "\"k\\\"q\"", "2.5",  "[]",    "{}"};
    static const char alphabet[] = "{}[],:\" 0123-tfnxe.\\";
    uint64_t st = 14;
    char buf[512];

    for (int round = 0; round < 4000; round++) {
        size_t n = 0;
        int depth = 0;

        /* a random walk through containers, keys and atoms */
        for (int k = 0; k < 24 && n + 32 < sizeof(buf); k++) {
            uint64_t r = rng_splitmix64(&st);

            if (r % 4 == 0 && depth < 6) {
                n += (size_t)snprintf(buf + n, sizeof(buf) - n,
                                      r & 16 ? "[" : "{\"k%u\":", (unsigned)(r >> 8) % 3);
                depth++;
            } else {
                n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s",
                                      atoms[(r >> 8) % TG_ARRAY_LEN(atoms)], r & 32 ? "," : "");
            }
        }
        while (depth-- > 0 && n + 2 < sizeof(buf))
            buf[n++] = (rng_splitmix64(&st) & 1) ? ']' : '}';
        if (rng_splitmix64(&st) % 3 == 0) /* a byte changed */
            buf[rng_splitmix64(&st) % n] = alphabet[rng_splitmix64(&st) % (sizeof(alphabet) - 1)];
        if (rng_splitmix64(&st) % 5 == 0) /* cut short */
            n = (size_t)(rng_splitmix64(&st) % n);
        fast_agrees(buf, n);
    }
    /* and plain bodies the fast path must take */
    for (int i = 0; i < 200; i++) {
        uint64_t r = rng_splitmix64(&st);
        int len = snprintf(buf, sizeof(buf), "{\"a\":[%d,{\"b\":\"v%u\",\"c\":%s}],\"d\":%lld}",
                           (int)(r % 1000) - 500, (unsigned)(r >> 20), r & 1 ? "true" : "null",
                           (long long)(r >> 8) - (long long)(r >> 9));
        json_t *v = jsonu_parse_fast(buf, (size_t)len);

        CU_ASSERT_PTR_NOT_NULL(v);
        json_decref(v);
        fast_agrees(buf, (size_t)len);
    }
}
