/*
 * test_http_e2e.c — suite `http_e2e`: a real server on port 0 driven over libcurl. Every
 * route of the service and tool API, every error code they can produce, hostile bodies, and
 * the server still serving other clients while hostile clients misbehave.
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/limits.h"
#include "server/http.h"
#include "server/server.h"
#include "tg_test.h"

static struct server *srv;

static void start(void) {
    if (!srv)
        srv = test_server_start(NULL);
}

/* POST body to path; returns the response (caller frees). */
static struct http_resp post(const char *path, const char *body) {
    struct http_resp r;
    char url[256];

    start();
    snprintf(url, sizeof(url), "%s%s", test_server_url(srv), path);
    if (test_http("POST", url, body, body ? strlen(body) : 0, NULL, NULL, &r) != 0)
        r.status = -1;
    return r;
}

static struct http_resp get(const char *path) {
    struct http_resp r;
    char url[256];

    start();
    snprintf(url, sizeof(url), "%s%s", test_server_url(srv), path);
    if (test_http("GET", url, NULL, 0, NULL, NULL, &r) != 0)
        r.status = -1;
    return r;
}

/* Assert r is an API error with this status and code. */
static void assert_error(struct http_resp *r, long status, const char *code) {
    json_t *j = json_loads(r->body, 0, NULL);
    const char *got = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
    const char *msg = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    char ct[128];

    if (r->status != status || !got || strcmp(got, code) != 0)
        fprintf(stderr, "expected %ld %s, got %ld %s\n", status, code, r->status, r->body);
    CU_ASSERT_EQUAL(r->status, status);
    CU_ASSERT_PTR_NOT_NULL(got);
    if (got)
        CU_ASSERT_STRING_EQUAL(got, code);
    CU_ASSERT_TRUE(msg && strlen(msg) > 0);
    CU_ASSERT_EQUAL(test_header(r, "Content-Type", ct, sizeof(ct)), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(ct, "application/json"));
    json_decref(j);
}

static json_t *body_json(struct http_resp *r) {
    return json_loads(r->body, 0, NULL);
}

TG_TEST(http_e2e, healthz) {
    struct http_resp r = get("/healthz");
    json_t *j = body_json(&r);

    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "status")), "ok");
    CU_ASSERT_TRUE(json_is_string(json_object_get(j, "version")));
    CU_ASSERT_TRUE(json_is_boolean(json_object_get(json_object_get(j, "sandbox"), "seccomp")));
    CU_ASSERT_TRUE(json_is_boolean(json_object_get(json_object_get(j, "sandbox"), "namespaces")));
    CU_ASSERT_TRUE(json_is_boolean(json_object_get(json_object_get(j, "sandbox"), "cgroups")));
    CU_ASSERT_TRUE(
        json_is_boolean(json_object_get(json_object_get(j, "sandbox"), "user_namespace")));
    /* auto mode: root for root, rootless for anyone else, with what bounds a run */
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(j, "sandbox"), "mode"))
                               ?: "",
                           geteuid() == 0 ? "root" : "rootless");
    CU_ASSERT_TRUE(json_is_string(json_object_get(json_object_get(j, "sandbox"), "processes")));
    CU_ASSERT_TRUE(json_is_string(json_object_get(json_object_get(j, "sandbox"), "memory")));
    json_decref(j);
    http_resp_free(&r);
}

TG_TEST(http_e2e, tools_list_is_openai_format) {
    struct http_resp r = get("/v1/tools");
    json_t *j = body_json(&r), *tools = json_object_get(j, "tools"), *t;
    size_t i;
    int seen_calc = 0, seen_search = 0;

    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_TRUE(json_array_size(tools) >= 2);
    json_array_foreach(tools, i, t) {
        json_t *fn = json_object_get(t, "function");
        json_t *params = json_object_get(fn, "parameters");
        const char *name = json_string_value(json_object_get(fn, "name"));

        CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(t, "type")), "function");
        CU_ASSERT_TRUE(json_is_string(json_object_get(fn, "description")));
        CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(params, "type")), "object");
        CU_ASSERT_TRUE(json_is_false(json_object_get(params, "additionalProperties")));
        if (name && strcmp(name, "calculator") == 0)
            seen_calc = 1;
        if (name && strcmp(name, "search") == 0)
            seen_search = 1;
    }
    CU_ASSERT_TRUE(seen_calc && seen_search);
    json_decref(j);
    http_resp_free(&r);
}

TG_TEST(http_e2e, calculator_call) {
    struct http_resp r =
        post("/v1/tools/calculator", "{\"arguments\":{\"expression\":\"2^10 - 24\"}}");
    json_t *j = body_json(&r);

    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_TRUE(json_is_true(json_object_get(j, "ok")));
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "content")), "1000");
    CU_ASSERT_EQUAL(json_number_value(json_object_get(json_object_get(j, "result"), "value")),
                    1000);
    json_decref(j);
    http_resp_free(&r);
}

TG_TEST(http_e2e, calculator_tool_errors_are_200_ok_false) {
    static const struct {
        const char *body;
        const char *code;
    } cases[] = {
        {"{\"arguments\":{\"expression\":\"1/0\"}}", "division_by_zero"},
        {"{\"arguments\":{\"expression\":\"sqrt(-1)\"}}", "domain_error"},
        {"{\"arguments\":{\"expression\":\"10^400\"}}", "overflow"},
        {"{\"arguments\":{\"expression\":\"1 + * 2\"}}", "syntax_error"},
    };

    for (size_t i = 0; i < TG_ARRAY_LEN(cases); i++) {
        struct http_resp r = post("/v1/tools/calculator", cases[i].body);
        json_t *j = body_json(&r);
        json_t *e = json_object_get(j, "error");

        CU_ASSERT_EQUAL(r.status, 200);
        CU_ASSERT_TRUE(json_is_false(json_object_get(j, "ok")));
        CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "code")), cases[i].code);
        CU_ASSERT_TRUE(json_is_string(json_object_get(j, "content")));
        json_decref(j);
        http_resp_free(&r);
    }
}

TG_TEST(http_e2e, calculator_length_and_depth_limits_are_too_complex) {
    char *expr = malloc(TG_CALC_MAX_LEN + 64);
    char *body = malloc(TG_CALC_MAX_LEN + 128);
    struct http_resp r;
    json_t *j;
    size_t n = 0;

    /* 1,025 characters: "1+1+...+1" */
    while (n < TG_CALC_MAX_LEN + 1) {
        expr[n++] = '1';
        if (n < TG_CALC_MAX_LEN + 1)
            expr[n++] = '+';
    }
    expr[n] = '\0';
    snprintf(body, TG_CALC_MAX_LEN + 128, "{\"arguments\":{\"expression\":\"%s\"}}", expr);
    r = post("/v1/tools/calculator", body);
    j = body_json(&r);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                           "too_complex");
    json_decref(j);
    http_resp_free(&r);

    /* 65 nested parentheses */
    n = 0;
    for (int i = 0; i < TG_CALC_MAX_DEPTH + 1; i++)
        expr[n++] = '(';
    expr[n++] = '1';
    for (int i = 0; i < TG_CALC_MAX_DEPTH + 1; i++)
        expr[n++] = ')';
    expr[n] = '\0';
    snprintf(body, TG_CALC_MAX_LEN + 128, "{\"arguments\":{\"expression\":\"%s\"}}", expr);
    r = post("/v1/tools/calculator", body);
    j = body_json(&r);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                           "too_complex");
    json_decref(j);
    http_resp_free(&r);
    free(expr);
    free(body);
}

TG_TEST(http_e2e, search_call_returns_ranked_hits) {
    struct http_resp r =
        post("/v1/tools/search", "{\"arguments\":{\"query\":\"population city\",\"k\":3}}");
    json_t *j = body_json(&r), *hits = json_object_get(json_object_get(j, "result"), "hits");
    json_t *h;
    size_t i;
    double prev = 1e300;

    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_TRUE(json_is_true(json_object_get(j, "ok")));
    CU_ASSERT_EQUAL(json_array_size(hits), 3);
    json_array_foreach(hits, i, h) {
        double s = json_number_value(json_object_get(h, "score"));

        CU_ASSERT_TRUE(json_is_string(json_object_get(h, "id")));
        CU_ASSERT_TRUE(json_is_string(json_object_get(h, "title")));
        CU_ASSERT_TRUE(json_is_string(json_object_get(h, "snippet")));
        CU_ASSERT_TRUE(s > 0 && s <= prev);
        prev = s;
    }
    json_decref(j);
    http_resp_free(&r);
}

TG_TEST(http_e2e, invalid_arguments_422) {
    static const char *bodies[] = {
        "{\"arguments\":{\"expression\":42}}",            /* wrong type */
        "{\"arguments\":{}}",                             /* missing field */
        "{\"arguments\":{\"expression\":\"1\",\"x\":1}}", /* extra field */
        "{\"arguments\":{\"query\":\"\"}}",               /* empty query (search) */
        "{\"arguments\":{\"query\":\"a\",\"k\":0}}",      /* k out of range */
        "{\"arguments\":{\"query\":\"a\",\"k\":\"5\"}}",  /* k wrong type */
    };

    for (size_t i = 0; i < TG_ARRAY_LEN(bodies); i++) {
        struct http_resp r = post(i < 3 ? "/v1/tools/calculator" : "/v1/tools/search", bodies[i]);

        assert_error(&r, 422, "invalid_arguments");
        http_resp_free(&r);
    }
}

TG_TEST(http_e2e, invalid_request_400) {
    static const char *bodies[] = {
        "{\"arguments\":{\"expression\":\"1\"},\"extra\":1}", /* unknown field */
        "{\"args\":{\"expression\":\"1\"}}",                  /* typo */
        "{\"arguments\":\"1+1\"}",                            /* wrong type */
        "[1,2,3]",                                            /* not an object */
    };
    struct http_resp r;

    for (size_t i = 0; i < TG_ARRAY_LEN(bodies); i++) {
        r = post("/v1/tools/calculator", bodies[i]);
        assert_error(&r, 400, "invalid_request");
        http_resp_free(&r);
    }
    r = post("/v1/tools/calculator", NULL); /* no body at all */
    assert_error(&r, 400, "invalid_request");
    http_resp_free(&r);
}

TG_TEST(http_e2e, invalid_json_400) {
    static const char *bodies[] = {
        "{\"arguments\":",
        "not json",
        "{\"a\":1,\"a\":2}",
        "\"\xff\xfe\"", /* not UTF-8 */
        "{\"arguments\":{\"expression\":\"\xc0\xaf\"}}",
    };
    char deep[2 * (TG_MAX_JSON_DEPTH + 2) + 16];
    struct http_resp r;
    size_t n = 0;

    for (size_t i = 0; i < TG_ARRAY_LEN(bodies); i++) {
        r = post("/v1/tools/calculator", bodies[i]);
        assert_error(&r, 400, "invalid_json");
        http_resp_free(&r);
    }
    for (int i = 0; i < TG_MAX_JSON_DEPTH + 1; i++)
        deep[n++] = '[';
    for (int i = 0; i < TG_MAX_JSON_DEPTH + 1; i++)
        deep[n++] = ']';
    deep[n] = '\0';
    r = post("/v1/tools/calculator", deep);
    assert_error(&r, 400, "invalid_json");
    http_resp_free(&r);
}

TG_TEST(http_e2e, not_found_404) {
    static const char *paths[] = {"/nope", "/v1/tools/", "/healthz/", "/v1", "/v1/toolsx"};
    struct http_resp r;

    for (size_t i = 0; i < TG_ARRAY_LEN(paths); i++) {
        r = get(paths[i]);
        assert_error(&r, 404, "not_found");
        http_resp_free(&r);
    }
    r = post("/v1/tools/teleport", "{\"arguments\":{}}");
    assert_error(&r, 404, "not_found");
    http_resp_free(&r);
}

TG_TEST(http_e2e, method_not_allowed_405_with_allow) {
    struct http_resp r;
    char url[256], allow[64];

    start();
    snprintf(url, sizeof(url), "%s/v1/tools", test_server_url(srv));
    CU_ASSERT_EQUAL(test_http("DELETE", url, NULL, 0, NULL, NULL, &r), 0);
    assert_error(&r, 405, "method_not_allowed");
    CU_ASSERT_EQUAL(test_header(&r, "Allow", allow, sizeof(allow)), 0);
    CU_ASSERT_STRING_EQUAL(allow, "GET");
    http_resp_free(&r);

    r = get("/v1/tools/calculator");
    assert_error(&r, 405, "method_not_allowed");
    CU_ASSERT_EQUAL(test_header(&r, "Allow", allow, sizeof(allow)), 0);
    CU_ASSERT_STRING_EQUAL(allow, "POST");
    http_resp_free(&r);
}

TG_TEST(http_e2e, unsupported_media_type_415) {
    static const char *types[] = {"text/plain", "application/x-www-form-urlencoded",
                                  "application/jsonp", "multipart/form-data"};
    const char *body = "{\"arguments\":{\"expression\":\"1\"}}";
    struct http_resp r;
    char url[256];

    start();
    snprintf(url, sizeof(url), "%s/v1/tools/calculator", test_server_url(srv));
    for (size_t i = 0; i < TG_ARRAY_LEN(types); i++) {
        CU_ASSERT_EQUAL(test_http("POST", url, body, strlen(body), types[i], NULL, &r), 0);
        assert_error(&r, 415, "unsupported_media_type");
        http_resp_free(&r);
    }
    /* parameters after the media type are fine */
    CU_ASSERT_EQUAL(
        test_http("POST", url, body, strlen(body), "application/json; charset=utf-8", NULL, &r), 0);
    CU_ASSERT_EQUAL(r.status, 200);
    http_resp_free(&r);
}

TG_TEST(http_e2e, payload_too_large_413) {
    struct server_config cfg;
    struct server *small;
    struct http_resp r;
    char url[256];
    size_t big = 4096;
    char *body = malloc(big + 64);

    server_config_defaults(&cfg);
    cfg.quiet = 1;
    cfg.max_body = 1024;
    small = test_server_start(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(small);
    snprintf(url, sizeof(url), "%s/v1/tools/calculator", test_server_url(small));
    /* a valid JSON body just over the limit */
    snprintf(body, big + 64, "{\"arguments\":{\"expression\":\"%0*d\"}}", (int)big, 1);
    CU_ASSERT_EQUAL(test_http("POST", url, body, strlen(body), NULL, NULL, &r), 0);
    assert_error(&r, 413, "payload_too_large");
    http_resp_free(&r);
    /* a body within the limit still works on the same server */
    snprintf(body, big + 64, "{\"arguments\":{\"expression\":\"6*7\"}}");
    CU_ASSERT_EQUAL(test_http("POST", url, body, strlen(body), NULL, NULL, &r), 0);
    CU_ASSERT_EQUAL(r.status, 200);
    http_resp_free(&r);
    test_server_stop(small);
    free(body);
}

/* A chunked upload (no Content-Length) over the limit is read and discarded, not stored. */
TG_TEST(http_e2e, payload_too_large_chunked) {
    struct server_config cfg;
    struct server *small;
    struct sockaddr_in sa;
    char req[512], resp[1024];
    int fd;
    ssize_t n;
    size_t got = 0;

    server_config_defaults(&cfg);
    cfg.quiet = 1;
    cfg.max_body = 1024;
    small = test_server_start(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(small);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)server_port(small));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CU_ASSERT_EQUAL_FATAL(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    snprintf(req, sizeof(req),
             "POST /v1/tools/calculator HTTP/1.1\r\nHost: localhost\r\nContent-Type: "
             "application/json\r\n"
             "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
    CU_ASSERT(write(fd, req, strlen(req)) > 0);
    for (int i = 0; i < 8; i++) { /* 8 chunks of 512 bytes = 4 KiB > 1 KiB */
        char chunk[600];

        memset(chunk, ' ', sizeof(chunk));
        memcpy(chunk, "200\r\n", 5);
        memcpy(chunk + 5 + 512, "\r\n", 2);
        CU_ASSERT(write(fd, chunk, 5 + 512 + 2) > 0);
    }
    CU_ASSERT(write(fd, "0\r\n\r\n", 5) > 0);
    while ((n = read(fd, resp + got, sizeof(resp) - 1 - got)) > 0)
        got += (size_t)n;
    resp[got] = '\0';
    close(fd);
    CU_ASSERT_PTR_NOT_NULL(strstr(resp, " 413 "));
    CU_ASSERT_PTR_NOT_NULL(strstr(resp, "payload_too_large"));
    test_server_stop(small);
}

TG_TEST(http_e2e, unauthorized_401) {
    struct server_config cfg;
    struct server *locked;
    struct http_resp r;
    char url[256];
    const char *body = "{\"arguments\":{\"expression\":\"1+1\"}}";

    server_config_defaults(&cfg);
    cfg.quiet = 1;
    cfg.api_key = "s3cret";
    locked = test_server_start(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(locked);
    snprintf(url, sizeof(url), "%s/v1/tools/calculator", test_server_url(locked));
    CU_ASSERT_EQUAL(test_http("POST", url, body, strlen(body), NULL, NULL, &r), 0);
    assert_error(&r, 401, "unauthorized");
    http_resp_free(&r);
    CU_ASSERT_EQUAL(
        test_http("POST", url, body, strlen(body), NULL, "Authorization: Bearer wrong", &r), 0);
    assert_error(&r, 401, "unauthorized");
    http_resp_free(&r);
    CU_ASSERT_EQUAL(
        test_http("POST", url, body, strlen(body), NULL, "Authorization: Bearer s3cret0", &r), 0);
    assert_error(&r, 401, "unauthorized");
    http_resp_free(&r);
    CU_ASSERT_EQUAL(
        test_http("POST", url, body, strlen(body), NULL, "Authorization: Bearer s3cret", &r), 0);
    CU_ASSERT_EQUAL(r.status, 200);
    http_resp_free(&r);
    /* health checks stay open for load balancers */
    snprintf(url, sizeof(url), "%s/healthz", test_server_url(locked));
    CU_ASSERT_EQUAL(test_http("GET", url, NULL, 0, NULL, NULL, &r), 0);
    CU_ASSERT_EQUAL(r.status, 200);
    http_resp_free(&r);
    test_server_stop(locked);
}

TG_TEST(http_e2e, metrics_count_requests_and_tool_calls) {
    struct http_resp r;

    r = post("/v1/tools/calculator", "{\"arguments\":{\"expression\":\"1+1\"}}");
    http_resp_free(&r);
    r = post("/v1/tools/calculator", "{\"arguments\":{\"expression\":\"1/0\"}}");
    http_resp_free(&r);
    r = get("/metrics");
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "# TYPE toolgym_http_requests_total counter"));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(r.body, "toolgym_http_requests_total{route=\"/v1/tools/{name}\",status=\"200\"}"));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(r.body, "toolgym_tool_calls_total{tool=\"calculator\",outcome=\"ok\"}"));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(r.body, "toolgym_tool_calls_total{tool=\"calculator\",outcome=\"tool_error\"}"));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(r.body, "toolgym_tool_seconds_bucket{tool=\"calculator\",le=\"+Inf\"}"));
    http_resp_free(&r);
}

TG_TEST(http_e2e, mcp_session) {
    struct http_resp r;
    json_t *j;

    r = post("/mcp", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
                     "\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},"
                     "\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}");
    j = body_json(&r);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_STRING_EQUAL(
        json_string_value(json_object_get(json_object_get(j, "result"), "protocolVersion")),
        "2025-06-18");
    json_decref(j);
    http_resp_free(&r);

    r = post("/mcp", "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
    CU_ASSERT_EQUAL(r.status, 202);
    http_resp_free(&r);

    r = post("/mcp", "{\"jsonrpc\":\"2.0\",\"id\":\"p\",\"method\":\"ping\"}");
    j = body_json(&r);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "id")), "p");
    CU_ASSERT_TRUE(json_is_object(json_object_get(j, "result")));
    json_decref(j);
    http_resp_free(&r);

    r = post("/mcp", "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}");
    j = body_json(&r);
    CU_ASSERT_TRUE(json_array_size(json_object_get(json_object_get(j, "result"), "tools")) >= 2);
    CU_ASSERT_TRUE(json_is_object(json_object_get(
        json_array_get(json_object_get(json_object_get(j, "result"), "tools"), 0), "inputSchema")));
    json_decref(j);
    http_resp_free(&r);

    r = post("/mcp", "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{"
                     "\"name\":\"calculator\",\"arguments\":{\"expression\":\"6*7\"}}}");
    j = body_json(&r);
    {
        json_t *res = json_object_get(j, "result");

        CU_ASSERT_TRUE(json_is_false(json_object_get(res, "isError")));
        CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(
                                   json_array_get(json_object_get(res, "content"), 0), "text")),
                               "42");
        CU_ASSERT_EQUAL(
            json_number_value(json_object_get(json_object_get(res, "structuredContent"), "value")),
            42);
    }
    json_decref(j);
    http_resp_free(&r);

    r = post("/mcp", "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{"
                     "\"name\":\"calculator\",\"arguments\":{\"expression\":\"1/0\"}}}");
    j = body_json(&r);
    CU_ASSERT_TRUE(json_is_true(json_object_get(json_object_get(j, "result"), "isError")));
    json_decref(j);
    http_resp_free(&r);
}

TG_TEST(http_e2e, mcp_errors_are_jsonrpc) {
    static const struct {
        const char *body;
        int code;
    } cases[] = {
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"nope\"}", -32601},
        {"{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}", -32600},
        {"[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]", -32600},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"x\"}}",
         -32602},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":"
         "\"calculator\",\"arguments\":{\"expression\":5}}}",
         -32602},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,", -32700},
        /* found by fuzzing (tests/fuzz/regress/mcp/): the parser's message quotes bytes that
         * are not UTF-8, which once left the 400 without a body */
        {"{\"\\t\\\xf4\x88\x88\x88n\\", -32700},
    };

    for (size_t i = 0; i < TG_ARRAY_LEN(cases); i++) {
        struct http_resp r = post("/mcp", cases[i].body);
        json_t *j = body_json(&r);

        CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(j, "error"), "code")),
                        cases[i].code);
        CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "jsonrpc")) ?: "", "2.0");
        CU_ASSERT_EQUAL(r.status, cases[i].code == -32700 ? 400 : 200);
        json_decref(j);
        http_resp_free(&r);
    }
}

/* ---- hostile clients do not stop the server from serving others --------------------------- */

static volatile int hostile_stop, hostile_bind_failed;

/* Bind fd to 127.0.0.2, so that a hostile client is another address than the tests' own
 * (127.0.0.1): per-address limits must not let it crowd those out. */
static int bind_hostile(int fd) {
    struct sockaddr_in sa;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1);
    return bind(fd, (struct sockaddr *)&sa, sizeof(sa));
}

static void *hostile_client(void *arg) {
    int port = *(int *)arg;
    static const char *garbage[] = {
        "GARBAGE\r\n\r\n",
        "POST /v1/tools/calculator HTTP/1.1\r\nHost: localhost\r\nContent-Length: 999999999\r\n"
        "Content-Type: application/json\r\n\r\n{",
        "POST /v1/tools/calculator HTTP/1.1\r\nHost: localhost\r\nContent-Type: "
        "application/json\r\n"
        "Content-Length: 10\r\n\r\n{\"argu", /* then hang up half-way */
        "GET /\x01\x02\xff HTTP/1.1\r\n\r\n",
    };
    unsigned i = 0;

    while (!hostile_stop) {
        struct sockaddr_in sa;
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        const char *g = garbage[i++ % TG_ARRAY_LEN(garbage)];

        if (bind_hostile(fd) != 0) /* another address than the well-behaved client's */
            hostile_bind_failed = 1;
        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_port = htons((uint16_t)port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            ssize_t n = write(fd, g, strlen(g)); /* the server may hang up first */

            (void)n;
        }
        close(fd);
    }
    return NULL;
}

TG_TEST(http_e2e, serves_others_while_hostile_clients_misbehave) {
    pthread_t th[2];
    int port;
    int ok = 0;

    start();
    CU_ASSERT_PTR_NOT_NULL_FATAL(srv);
    port = server_port(srv);
    hostile_stop = 0;
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, hostile_client, &port);
    for (int i = 0; i < 50; i++) {
        struct http_resp r =
            post("/v1/tools/calculator", "{\"arguments\":{\"expression\":\"40+2\"}}");

        if (r.status == 200 && strstr(r.body, "\"42\""))
            ok++;
        http_resp_free(&r);
        r = post("/v1/tools/calculator", "{\"arguments\":{\"expression\":\"(((\"}}");
        http_resp_free(&r);
    }
    hostile_stop = 1;
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    CU_ASSERT_EQUAL(ok, 50);
    CU_ASSERT_FALSE(hostile_bind_failed);
}

/* A second server on a port in use fails and names the port; the first keeps serving alone
 * (no SO_REUSEPORT: the kernel must not split connections between the two). */
TG_TEST(http_e2e, port_in_use_is_an_error_naming_the_port) {
    struct server_config c;
    struct server *second = NULL;
    struct tg_error err;
    struct http_resp r;
    char port[16];
    int rc;

    start();
    CU_ASSERT_FATAL(srv != NULL);
    server_config_defaults(&c);
    c.quiet = 1;
    c.port = server_port(srv);
    snprintf(port, sizeof(port), "%d", c.port);
    memset(&err, 0, sizeof(err));
    rc = server_start(&c, &second, &err);
    CU_ASSERT_EQUAL(rc, TG_EIO);
    CU_ASSERT_PTR_NULL(second);
    CU_ASSERT_STRING_EQUAL(err.code, "bind");
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, port));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "in use"));
    if (rc == 0)
        server_stop(second);
    for (int i = 0; i < 8; i++) {
        r = post("/v1/episodes", "{\"task_id\":\"train-00003\"}");
        CU_ASSERT_EQUAL(r.status, 201);
        http_resp_free(&r);
    }
}

/* an out-of-memory error is API.md's 500 internal, whatever status the handler asked for */
TG_TEST(http_e2e, out_of_memory_is_a_500_internal) {
    struct http_reply rp;
    struct tg_error e;

    memset(&rp, 0, sizeof(rp));
    tg_error_set(&e, TG_CODE_NOMEM, "out of memory");
    http_error_tg(&rp, 400, &e);
    CU_ASSERT_EQUAL(rp.status, 500);
    CU_ASSERT_STRING_EQUAL(
        json_string_value(json_object_get(json_object_get(rp.body, "error"), "code")), "internal");
    json_decref(rp.body);
    memset(&rp, 0, sizeof(rp));
    tg_error_set(&e, "invalid_request", "bad");
    http_error_tg(&rp, 400, &e);
    CU_ASSERT_EQUAL(rp.status, 400);
    json_decref(rp.body);
}

/* Connect to the port, send a request line and go, until told to stop: connections arriving
 * while a server stops. */
struct knocker {
    int port;
    volatile int stop;
};

static void *knock(void *arg) {
    struct knocker *k = arg;
    struct sockaddr_in sa;
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)k->port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    while (!__atomic_load_n(&k->stop, __ATOMIC_ACQUIRE)) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        ssize_t sent = 0;

        if (fd < 0)
            continue;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
            sent = write(fd, req, sizeof(req) - 1); /* refused or cut short: one more knock */
        (void)sent;
        close(fd);
    }
    return NULL;
}

/* Stopping a server with a pool of workers while connections keep arriving: each stop ends
 * cleanly, and the listening socket is closed, so a new server binds the same port. The stop
 * used MHD_quiesce_daemon before, which in libmicrohttpd 0.9.75 races the pool's epoll workers
 * and aborts the process (seen once in CI, in this suite; not reproduced on this machine in
 * 400 rounds of this test, so this test guards the stop path rather than that race). */
TG_TEST(http_e2e, stops_under_arriving_connections_and_frees_the_port) {
    struct server_config c;
    struct server *s;
    struct knocker k;
    struct tg_error err;
    pthread_t th[2];
    int port = 0;

    for (int round = 0; round < 20; round++) {
        server_config_defaults(&c);
        c.quiet = 1;
        c.port = port;
        c.threads = 2;
        s = NULL;
        if (server_start(&c, &s, &err) != 0)
            fprintf(stderr, "round %d: %s\n", round, err.message);
        CU_ASSERT_PTR_NOT_NULL_FATAL(s);
        port = server_port(s); /* later rounds bind the port the first one got */
        k.port = port;
        k.stop = 0;
        for (int i = 0; i < 2; i++)
            pthread_create(&th[i], NULL, knock, &k);
        usleep(20000);
        server_stop(s);
        __atomic_store_n(&k.stop, 1, __ATOMIC_RELEASE);
        for (int i = 0; i < 2; i++)
            pthread_join(th[i], NULL);
    }
}

/* the last test of the suite stops the shared server cleanly */
TG_TEST(http_e2e, zz_stop) {
    test_server_stop(srv);
    srv = NULL;
}
