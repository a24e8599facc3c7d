/*
 * test_sandbox_e2e.c — suite `sandbox_e2e`: run_code through the real server (in-process,
 * port 0, libcurl). Attacks come back contained and reported in API.md's shape; the server
 * keeps serving other clients while runs are in flight; a full run queue answers
 * 503 overloaded with Retry-After.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/server.h"
#include "base/tg.h"
#include "tools/sandbox.h"
#include "tg_test.h"

struct call {
    const char *base;
    const char *body;
    struct http_resp r;
    int rc;
    double ms;
};

static void post_run_code(struct call *c) {
    char url[256];
    double t0 = tg_now_ms();

    snprintf(url, sizeof(url), "%s/v1/tools/run_code", c->base);
    c->rc = test_http("POST", url, c->body, strlen(c->body), NULL, NULL, &c->r);
    c->ms = tg_now_ms() - t0;
}

static void *post_thread(void *arg) {
    post_run_code(arg);
    return NULL;
}

/* Parse a response body; NULL (and a test failure) unless it is JSON. */
static json_t *body_json(const struct http_resp *r) {
    json_t *j = json_loadb(r->body, r->len, 0, NULL);

    CU_ASSERT_PTR_NOT_NULL(j);
    return j;
}

static int sandbox_on(struct server *s) {
    struct http_resp r;
    char url[256];
    json_t *j;
    int on;

    snprintf(url, sizeof(url), "%s/healthz", test_server_url(s));
    if (test_http("GET", url, NULL, 0, NULL, NULL, &r) != 0)
        return 0;
    j = json_loadb(r.body, r.len, 0, NULL);
    on = j && json_is_true(json_object_get(json_object_get(j, "sandbox"), "namespaces")) &&
         json_is_true(json_object_get(json_object_get(j, "sandbox"), "seccomp"));
    json_decref(j);
    http_resp_free(&r);
    if (!on)
        CU_FAIL("the sandbox layers are not active (needs root, namespaces, seccomp)");
    return on;
}

TG_TEST(sandbox_e2e, attacks_are_contained_and_reported) {
    static const struct {
        const char *body;
        int ok;
        const char *error_code; /* NULL when ok */
        const char *stdout_has;
    } cases[] = {
        {"{\"arguments\":{\"code\":\"import socket\\ntry:\\n    "
         "socket.create_connection(('127.0.0.1', 80), timeout=1)\\nexcept OSError as e:\\n    "
         "print(type(e).__name__)\"}}",
         1, NULL, "PermissionError"},
        {"{\"arguments\":{\"code\":\"try:\\n    open('/etc/shadow')\\nexcept OSError as e:\\n    "
         "print(type(e).__name__)\"}}",
         1, NULL, "FileNotFoundError"},
        {"{\"arguments\":{\"code\":\"import os\\nprint(dict(os.environ))\"}}", 1, NULL, "{}"},
        {"{\"arguments\":{\"code\":\"x = 1 / 0\"}}", 0, "runtime_error", ""},
        {"{\"arguments\":{\"code\":\"import os\\nwhile True:\\n    try: os.fork()\\n    except "
         "OSError: pass\",\"timeout_ms\":400}}",
         0, "timeout", ""},
        {"{\"arguments\":{\"code\":\"import ctypes\\nctypes.CDLL(None).unshare(0x20000)\"}}", 0,
         "killed", ""},
        {"{\"arguments\":{\"code\":\"import sys\\nsys.stdout.write('z' * 10000000)\"}}", 1, NULL,
         "zzzz"},
    };
    struct server *s = test_server_start(NULL);

    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    if (!sandbox_on(s))
        goto done;
    for (size_t i = 0; i < TG_ARRAY_LEN(cases); i++) {
        struct call c = {.base = test_server_url(s), .body = cases[i].body};
        json_t *j, *res;

        post_run_code(&c);
        CU_ASSERT_EQUAL_FATAL(c.rc, 0);
        CU_ASSERT_EQUAL(c.r.status, 200);
        j = body_json(&c.r);
        res = json_object_get(j, "result");
        CU_ASSERT_EQUAL(json_is_true(json_object_get(j, "ok")), cases[i].ok);
        CU_ASSERT(json_is_object(res)); /* kept on failure too */
        CU_ASSERT(strstr(json_string_value(json_object_get(res, "stdout")) ?: "",
                         cases[i].stdout_has) != NULL);
        if (cases[i].error_code)
            CU_ASSERT_STRING_EQUAL(
                json_string_value(json_object_get(json_object_get(j, "error"), "code")) ?: "",
                cases[i].error_code);
        if (i == 3)
            CU_ASSERT(strstr(json_string_value(json_object_get(res, "stderr")) ?: "",
                             "ZeroDivisionError") != NULL);
        if (i == TG_ARRAY_LEN(cases) - 1)
            CU_ASSERT(json_is_true(json_object_get(res, "truncated")));
        json_decref(j);
        http_resp_free(&c.r);
    }
done:
    test_server_stop(s);
}

TG_TEST(sandbox_e2e, server_serves_others_during_runs) {
    struct server *s = test_server_start(NULL);
    struct call slow[2];
    pthread_t t[2];
    char url[256];

    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    if (!sandbox_on(s))
        goto done;
    for (int i = 0; i < 2; i++) {
        memset(&slow[i], 0, sizeof(slow[i]));
        slow[i].base = test_server_url(s);
        slow[i].body = "{\"arguments\":{\"code\":\"import time\\nwhile True: time.sleep(0.01)\","
                       "\"timeout_ms\":1500}}";
        CU_ASSERT_FATAL(pthread_create(&t[i], NULL, post_thread, &slow[i]) == 0);
    }
    usleep(200 * 1000); /* both runs are in flight now */
    snprintf(url, sizeof(url), "%s/v1/tools/calculator", test_server_url(s));
    for (int i = 0; i < 5; i++) {
        static const char body[] = "{\"arguments\":{\"expression\":\"6*7\"}}";
        struct http_resp r;
        double t0 = tg_now_ms();

        CU_ASSERT_EQUAL_FATAL(test_http("POST", url, body, strlen(body), NULL, NULL, &r), 0);
        CU_ASSERT_EQUAL(r.status, 200);
        CU_ASSERT(strstr(r.body, "42") != NULL);
        CU_ASSERT(tg_now_ms() - t0 < 500); /* not stuck behind the code runs */
        http_resp_free(&r);
    }
    for (int i = 0; i < 2; i++) {
        json_t *j;

        pthread_join(t[i], NULL);
        CU_ASSERT_EQUAL(slow[i].rc, 0);
        CU_ASSERT_EQUAL(slow[i].r.status, 200);
        j = body_json(&slow[i].r);
        CU_ASSERT_STRING_EQUAL(
            json_string_value(json_object_get(json_object_get(j, "error"), "code")) ?: "",
            "timeout");
        CU_ASSERT(json_is_true(json_object_get(json_object_get(j, "result"), "timed_out")));
        CU_ASSERT(slow[i].ms >= 1500 && slow[i].ms < 4000);
        json_decref(j);
        http_resp_free(&slow[i].r);
    }
done:
    test_server_stop(s);
}

TG_TEST(sandbox_e2e, full_queue_is_503) {
    struct server_config cfg;
    struct server *s;
    struct call busy[2];
    struct call extra;
    pthread_t t[2];
    char ra[32];

    server_config_defaults(&cfg);
    cfg.quiet = 1;
    cfg.run_workers = 1;
    cfg.run_queue = 1;
    s = test_server_start(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    if (!sandbox_on(s))
        goto done;
    for (int i = 0; i < 2; i++) {
        memset(&busy[i], 0, sizeof(busy[i]));
        busy[i].base = test_server_url(s);
        busy[i].body =
            "{\"arguments\":{\"code\":\"import time\\ntime.sleep(0.8)\\nprint('done')\"}}";
        CU_ASSERT_FATAL(pthread_create(&t[i], NULL, post_thread, &busy[i]) == 0);
        usleep(150 * 1000); /* the first runs, the second waits in the queue */
    }
    memset(&extra, 0, sizeof(extra));
    extra.base = test_server_url(s);
    extra.body = "{\"arguments\":{\"code\":\"print(1)\"}}";
    post_run_code(&extra);
    CU_ASSERT_EQUAL(extra.rc, 0);
    CU_ASSERT_EQUAL(extra.r.status, 503);
    CU_ASSERT(strstr(extra.r.body ? extra.r.body : "", "overloaded") != NULL);
    CU_ASSERT(test_header(&extra.r, "Retry-After", ra, sizeof(ra)) == 0 &&
              strtol(ra, NULL, 10) >= 1);
    http_resp_free(&extra.r);
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        CU_ASSERT_EQUAL(busy[i].r.status, 200);
        CU_ASSERT(strstr(busy[i].r.body ? busy[i].r.body : "", "\"ok\":true") != NULL);
        http_resp_free(&busy[i].r);
    }
done:
    test_server_stop(s);
}
