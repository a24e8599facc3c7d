/*
 * test_code_cache.c — suite `code_cache`: the opt-in run_code result cache. Unit tests of
 * keys, copies and bounds; end to end, a server started with the cache answers a repeated
 * program from the cache (the same random number twice) and one without it runs it anew.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"
#include "tools/code_cache.h"
#include "tg_test.h"

static void fake_result(struct tool_result *r, const char *out) {
    memset(r, 0, sizeof(*r));
    r->ok = 1;
    r->content = strdup(out);
    r->result = json_pack("{s:s, s:i}", "stdout", out, "exit_code", 0);
}

TG_TEST(code_cache, off_by_default_and_round_trip_when_on) {
    struct tool_result r, got;
    struct tg_error err;
    unsigned long long hits, misses;

    CU_ASSERT_FALSE(code_cache_enabled());
    fake_result(&r, "42\n");
    code_cache_put("print(42)", 9, NULL, 0, 0, &r); /* off: ignored */
    CU_ASSERT_EQUAL(code_cache_get("print(42)", 9, NULL, 0, 0, &got), 0);

    CU_ASSERT_EQUAL_FATAL(code_cache_init(8, &err), 0);
    CU_ASSERT_TRUE(code_cache_enabled());
    CU_ASSERT_EQUAL(code_cache_get("print(42)", 9, NULL, 0, 0, &got), 0);
    code_cache_put("print(42)", 9, NULL, 0, 0, &r);
    CU_ASSERT_EQUAL_FATAL(code_cache_get("print(42)", 9, NULL, 0, 0, &got), 1);
    CU_ASSERT_STRING_EQUAL(got.content, "42\n");
    CU_ASSERT_TRUE(json_equal(got.result, r.result));
    CU_ASSERT_PTR_NOT_EQUAL(got.result, r.result); /* a copy, not shared */
    CU_ASSERT_EQUAL(got.ok, 1);
    tool_result_clear(&got);
    /* every part of the key matters */
    CU_ASSERT_EQUAL(code_cache_get("print(42) ", 10, NULL, 0, 0, &got), 0);
    CU_ASSERT_EQUAL(code_cache_get("print(42)", 9, "x", 1, 0, &got), 0);
    CU_ASSERT_EQUAL(code_cache_get("print(42)", 9, NULL, 0, 500, &got), 0);
    code_cache_stats(&hits, &misses);
    CU_ASSERT_EQUAL(hits, 1);
    CU_ASSERT_EQUAL(misses, 4);
    tool_result_clear(&r);
    code_cache_shutdown();
    CU_ASSERT_FALSE(code_cache_enabled());
}

TG_TEST(code_cache, failures_are_kept_with_their_error) {
    struct tool_result r, got;
    struct tg_error err;

    CU_ASSERT_EQUAL_FATAL(code_cache_init(4, &err), 0);
    memset(&r, 0, sizeof(r));
    r.content = strdup("[stderr]\nZeroDivisionError\n");
    r.result = json_pack("{s:i}", "exit_code", 1);
    tg_error_set(&r.err, "runtime_error", "exit code 1: ZeroDivisionError");
    code_cache_put("1/0", 3, NULL, 0, 0, &r);
    CU_ASSERT_EQUAL_FATAL(code_cache_get("1/0", 3, NULL, 0, 0, &got), 1);
    CU_ASSERT_EQUAL(got.ok, 0);
    CU_ASSERT_STRING_EQUAL(got.err.code, "runtime_error");
    tool_result_clear(&got);
    tool_result_clear(&r);
    code_cache_shutdown();
}

TG_TEST(code_cache, limits_are_enforced) {
    struct tg_error err;

    CU_ASSERT_EQUAL(code_cache_init(1000000, &err), TG_ERANGE);
    CU_ASSERT_FALSE(code_cache_enabled());
    CU_ASSERT_EQUAL(code_cache_init(0, &err), 0);
    CU_ASSERT_FALSE(code_cache_enabled());
}

static char *random_stdout(struct server *s) {
    static const char *body =
        "{\"arguments\":{\"code\":\"import random\\nprint(random.random())\"}}";
    struct http_resp r;
    char url[128];
    json_t *j;
    char *out = NULL;

    snprintf(url, sizeof(url), "%s/v1/tools/run_code", test_server_url(s));
    if (test_http("POST", url, body, strlen(body), NULL, NULL, &r) != 0)
        return NULL;
    j = json_loads(r.body, 0, NULL);
    if (r.status == 200 && json_is_true(json_object_get(j, "ok")))
        out = strdup(json_string_value(json_object_get(json_object_get(j, "result"), "stdout")));
    json_decref(j);
    http_resp_free(&r);
    return out;
}

TG_TEST(code_cache, server_serves_repeats_from_the_cache_only_when_asked) {
    struct server_config cfg;
    struct server *s;
    char *a, *b;

    server_config_defaults(&cfg);
    cfg.quiet = 1;
    cfg.code_cache = 64;
    s = test_server_start(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_TRUE(code_cache_enabled());
    a = random_stdout(s);
    b = random_stdout(s);
    CU_ASSERT_PTR_NOT_NULL(a);
    CU_ASSERT_TRUE(a && b && strcmp(a, b) == 0); /* the second came from the cache */
    free(a);
    free(b);
    test_server_stop(s);

    cfg.code_cache = 0;
    s = test_server_start(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_FALSE(code_cache_enabled());
    a = random_stdout(s);
    b = random_stdout(s);
    CU_ASSERT_TRUE(a && b && strcmp(a, b) != 0); /* two real runs */
    free(a);
    free(b);
    test_server_stop(s);
}
