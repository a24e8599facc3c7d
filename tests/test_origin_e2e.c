/*
 * test_origin_e2e.c — suite `origin_e2e`: DNS rebinding protection on a real server. Every
 * route refuses a foreign Host, a missing Host, another site's Origin and `Origin: null` with
 * 403 in its error shape (JSON-RPC on /mcp), and a refused run_code call, MCP tools/call or
 * episode step has no effect; accepted Origins get CORS headers, preflights are answered per
 * the same rules, --allowed-hosts and --allowed-origins extend them, and with --host 0.0.0.0
 * the address a client connected to is accepted.
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "base/metrics.h"
#include "server/server.h"
#include "tg_test.h"

#define BAD_HOST   "Host: evil.example.com"
#define BAD_ORIGIN "Origin: http://evil.example.com"

/* One request to base+path with extra headers (one a line, may be NULL); status or -1. */
static long req(const char *method, const char *base, const char *path, const char *body,
                const char *headers, struct http_resp *r) {
    char url[256];

    snprintf(url, sizeof(url), "%s%s", base, path);
    if (test_http(method, url, body, body ? strlen(body) : 0, NULL, headers, r) != 0)
        r->status = -1;
    return r->status;
}

static const char *str(const json_t *v) {
    return json_is_string(v) ? json_string_value(v) : "";
}

/* Assert r is a 403 in the API's error shape (or JSON-RPC's, for /mcp). */
static void assert_forbidden(struct http_resp *r, int jsonrpc, const char *what) {
    json_t *j = json_loads(r->body, 0, NULL);

    if (r->status != 403)
        fprintf(stderr, "%s: expected 403, got %ld %s\n", what, r->status, r->body);
    CU_ASSERT_EQUAL(r->status, 403);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    if (jsonrpc) {
        json_t *e = json_object_get(j, "error");

        CU_ASSERT_STRING_EQUAL(str(json_object_get(j, "jsonrpc")), "2.0");
        CU_ASSERT_TRUE(json_is_null(json_object_get(j, "id")));
        CU_ASSERT_EQUAL(json_integer_value(json_object_get(e, "code")), -32000);
        CU_ASSERT_TRUE(json_is_string(json_object_get(e, "message")));
    } else {
        json_t *e = json_object_get(j, "error");

        CU_ASSERT_STRING_EQUAL(str(json_object_get(e, "code")), "forbidden");
        CU_ASSERT_TRUE(json_string_length(json_object_get(e, "message")) > 0);
        CU_ASSERT_EQUAL(json_object_size(j), 1);
    }
    json_decref(j);
}

/* Tool calls of run_code counted so far, whatever their outcome. */
static double run_code_calls(void) {
    static const char *const outcomes[] = {"ok", "tool_error", "invalid", "internal", "cancelled"};
    char labels[96];
    double n = 0;

    for (size_t i = 0; i < TG_ARRAY_LEN(outcomes); i++) {
        snprintf(labels, sizeof(labels), "tool=\"run_code\",outcome=\"%s\"", outcomes[i]);
        n += metrics_get("toolgym_tool_calls_total", labels);
    }
    return n;
}

static const struct {
    const char *method, *path, *body;
    int jsonrpc;
} every_route[] = {
    {"GET", "/", NULL, 0},
    {"GET", "/v1/status", NULL, 0},
    {"GET", "/healthz", NULL, 0},
    {"GET", "/metrics", NULL, 0},
    {"GET", "/v1/tools", NULL, 0},
    {"POST", "/v1/tools/calculator", "{\"arguments\":{\"expression\":\"1+1\"}}", 0},
    {"POST", "/mcp", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", 1},
    {"GET", "/mcp", NULL, 1},
    {"GET", "/v1/tasks", NULL, 0},
    {"POST", "/v1/episodes", "{}", 0},
    {"POST", "/v1/episodes/x/step", "{\"answer\":\"1\"}", 0},
    {"POST", "/v1/episodes/x/fork", "{\"at\":0}", 0},
    {"GET", "/v1/episodes/x", NULL, 0},
    {"DELETE", "/v1/episodes/x", NULL, 0},
    {"GET", "/v1/report", NULL, 0},
    {"GET", "/no/such/path", NULL, 0},
    {"OPTIONS", "/v1/tools", NULL, 0},
};

TG_TEST(origin_e2e, every_route_refuses_a_foreign_host_and_origin) {
    static const char *const bad[] = {
        BAD_HOST,
        "Host: evil.example.com:8080",
        "Host: localhost.evil.example.com",
        "Host: 127.0.0.1:1", /* a loopback name, but another port */
        BAD_ORIGIN,
        "Origin: null",
        "Origin: http://localhost:1",
        BAD_HOST "\n" BAD_ORIGIN, /* what a rebound page sends */
    };
    struct server *s = test_server_start(NULL);
    const char *base;
    struct http_resp r;
    char what[160];

    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    base = test_server_url(s);
    for (size_t i = 0; i < TG_ARRAY_LEN(every_route); i++) {
        for (size_t b = 0; b < TG_ARRAY_LEN(bad); b++) {
            snprintf(what, sizeof(what), "%s %s with %s", every_route[i].method,
                     every_route[i].path, bad[b]);
            req(every_route[i].method, base, every_route[i].path, every_route[i].body, bad[b], &r);
            assert_forbidden(&r, every_route[i].jsonrpc, what);
            http_resp_free(&r);
        }
    }
    /* the same routes with their own Host answer as usual (no 403) */
    for (size_t i = 0; i < TG_ARRAY_LEN(every_route); i++) {
        req(every_route[i].method, base, every_route[i].path, every_route[i].body, NULL, &r);
        CU_ASSERT(r.status > 0 && r.status != 403);
        http_resp_free(&r);
    }
    test_server_stop(s);
}

TG_TEST(origin_e2e, loopback_names_and_this_servers_pages_are_accepted) {
    struct server *s = test_server_start(NULL);
    char hdr[160], val[160];
    const char *base;
    struct http_resp r;
    int port;

    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    base = test_server_url(s);
    port = server_port(s);
    {
        const char *fmts[] = {"Host: localhost:%d", "Host: 127.0.0.1:%d", "Host: [::1]:%d",
                              "Host: LOCALHOST:%d", "Host: localhost"};

        for (size_t i = 0; i < TG_ARRAY_LEN(fmts); i++) {
            snprintf(hdr, sizeof(hdr), fmts[i], port);
            CU_ASSERT_EQUAL(req("GET", base, "/healthz", NULL, hdr, &r), 200);
            CU_ASSERT_NOT_EQUAL(test_header(&r, "Access-Control-Allow-Origin", val, sizeof(val)),
                                0); /* no Origin, no CORS headers */
            http_resp_free(&r);
        }
    }
    /* a page of this server (its own origin, or another loopback name of it) */
    snprintf(hdr, sizeof(hdr), "Origin: http://localhost:%d", port);
    CU_ASSERT_EQUAL(req("POST", base, "/v1/tools/calculator",
                        "{\"arguments\":{\"expression\":\"6*7\"}}", hdr, &r),
                    200);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"value\":42"));
    CU_ASSERT_EQUAL(test_header(&r, "Access-Control-Allow-Origin", val, sizeof(val)), 0);
    CU_ASSERT_STRING_EQUAL(val, hdr + strlen("Origin: "));
    CU_ASSERT_EQUAL(test_header(&r, "Vary", val, sizeof(val)), 0);
    CU_ASSERT_STRING_EQUAL(val, "Origin");
    CU_ASSERT_EQUAL(test_header(&r, "Access-Control-Expose-Headers", val, sizeof(val)), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(val, "Mcp-Session-Id"));
    http_resp_free(&r);
    test_server_stop(s);
}

TG_TEST(origin_e2e, the_status_page_works_from_its_own_origin) {
    struct server *s = test_server_start(NULL);
    char hdr[128], val[128];
    const char *base;
    struct http_resp r;

    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    base = test_server_url(s);
    /* the page, and what its script fetches, under each of the server's loopback names */
    snprintf(hdr, sizeof(hdr), "Host: localhost:%d", server_port(s));
    CU_ASSERT_EQUAL(req("GET", base, "/", NULL, hdr, &r), 200);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "/v1/status"));
    http_resp_free(&r);
    CU_ASSERT_EQUAL(req("GET", base, "/v1/status", NULL, NULL, &r), 200);
    http_resp_free(&r);
    /* a browser that sends the page's origin anyway (same-origin GETs need not) */
    snprintf(hdr, sizeof(hdr), "Origin: %s", base);
    CU_ASSERT_EQUAL(req("GET", base, "/v1/status", NULL, hdr, &r), 200);
    CU_ASSERT_EQUAL(test_header(&r, "Access-Control-Allow-Origin", val, sizeof(val)), 0);
    CU_ASSERT_STRING_EQUAL(val, base);
    http_resp_free(&r);
    /* the same page fetched by another site's script: nothing */
    req("GET", base, "/v1/status", NULL, BAD_ORIGIN, &r);
    assert_forbidden(&r, 0, "status from another site");
    http_resp_free(&r);
    req("GET", base, "/", NULL, BAD_HOST, &r);
    assert_forbidden(&r, 0, "status page under a rebound name");
    http_resp_free(&r);
    test_server_stop(s);
}

/* A request sent by hand, for what curl will not send (no Host at all); the status or -1, and
 * the response in buf. */
static int raw(int port, const char *request, char *buf, size_t n) {
    struct sockaddr_in sa;
    size_t got = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {10, 0};

    buf[0] = '\0';
    if (fd < 0)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        write(fd, request, strlen(request)) != (ssize_t)strlen(request)) {
        close(fd);
        return -1;
    }
    while (got + 1 < n) {
        ssize_t k = read(fd, buf + got, n - 1 - got);

        if (k <= 0)
            break;
        got += (size_t)k;
    }
    buf[got] = '\0';
    close(fd);
    if (strncmp(buf, "HTTP/1.1 ", 9) != 0)
        return -1;
    return (int)strtol(buf + 9, NULL, 10);
}

TG_TEST(origin_e2e, a_missing_host_is_refused_and_runs_nothing) {
    static const char code_body[] = "{\"arguments\":{\"code\":\"print('ran')\"}}"; /* 38 bytes */
    struct server *s = test_server_start(NULL);
    char req_text[512], buf[4096];
    double calls = run_code_calls();
    struct http_resp r;

    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(raw(server_port(s), "GET /healthz HTTP/1.0\r\n\r\n", buf, sizeof(buf)), 403);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "{\"error\":{\"code\":\"forbidden\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "no Host header"));
    CU_ASSERT_EQUAL(raw(server_port(s), "GET /v1/report HTTP/1.1\r\nConnection: close\r\n\r\n", buf,
                        sizeof(buf)),
                    403);
    snprintf(req_text, sizeof(req_text),
             "POST /v1/tools/run_code HTTP/1.1\r\nConnection: close\r\nContent-Type: "
             "application/json\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(code_body), code_body);
    CU_ASSERT_EQUAL(raw(server_port(s), req_text, buf, sizeof(buf)), 403);
    CU_ASSERT_EQUAL(run_code_calls(), calls);
    /* two Host headers: which one a proxy read is unknown */
    CU_ASSERT_EQUAL(raw(server_port(s),
                        "GET /healthz HTTP/1.1\r\nHost: localhost\r\nHost: evil.example.com\r\n"
                        "Connection: close\r\n\r\n",
                        buf, sizeof(buf)),
                    403);
    /* curl's "Host:" alone removes its Host header too */
    CU_ASSERT_EQUAL(req("GET", test_server_url(s), "/healthz", NULL, "Host:", &r), 403);
    http_resp_free(&r);
    test_server_stop(s);
}

TG_TEST(origin_e2e, a_refused_run_code_call_has_no_effect) {
    static const char rest[] = "{\"arguments\":{\"code\":\"print(6*7)\"}}";
    static const char mcp[] = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":"
                              "{\"name\":\"run_code\",\"arguments\":{\"code\":\"print(6*7)\"}}}";
    static const char *const bad[] = {BAD_HOST, BAD_ORIGIN, "Origin: null",
                                      BAD_HOST "\n" BAD_ORIGIN};
    struct server *s = test_server_start(NULL);
    const char *base;
    struct http_resp r;
    double calls, runs;

    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    base = test_server_url(s);
    calls = run_code_calls();
    runs = metrics_get("toolgym_sandbox_runs_total", "result=\"ok\"");
    for (size_t b = 0; b < TG_ARRAY_LEN(bad); b++) {
        req("POST", base, "/v1/tools/run_code", rest, bad[b], &r);
        assert_forbidden(&r, 0, bad[b]);
        CU_ASSERT_PTR_NULL(strstr(r.body, "42"));
        http_resp_free(&r);
        req("POST", base, "/mcp", mcp, bad[b], &r);
        assert_forbidden(&r, 1, bad[b]);
        CU_ASSERT_PTR_NULL(strstr(r.body, "42"));
        http_resp_free(&r);
    }
    CU_ASSERT_EQUAL(run_code_calls(), calls);
    CU_ASSERT_EQUAL(metrics_get("toolgym_sandbox_runs_total", "result=\"ok\""), runs);
    /* the control: the same calls from this server's own page run, and are counted */
    {
        char hdr[96];

        snprintf(hdr, sizeof(hdr), "Origin: http://127.0.0.1:%d", server_port(s));
        CU_ASSERT_EQUAL(req("POST", base, "/v1/tools/run_code", rest, hdr, &r), 200);
        CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "42"));
        http_resp_free(&r);
        CU_ASSERT_EQUAL(req("POST", base, "/mcp", mcp, hdr, &r), 200);
        CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "42"));
        http_resp_free(&r);
    }
    CU_ASSERT_EQUAL(run_code_calls(), calls + 2);
    test_server_stop(s);
}

TG_TEST(origin_e2e, a_refused_episode_step_is_not_taken) {
    static const char call[] =
        "{\"tool_call\":{\"name\":\"calculator\",\"arguments\":{\"expression\":\"2+2\"}}}";
    struct server *s = test_server_start(NULL);
    char path[128], id[64];
    const char *base, *v;
    struct http_resp r;
    json_t *j;

    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    base = test_server_url(s);
    CU_ASSERT_EQUAL_FATAL(req("POST", base, "/v1/episodes", "{\"seed\":1}", NULL, &r), 201);
    j = json_loads(r.body, 0, NULL);
    v = json_string_value(json_object_get(j, "episode_id"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    snprintf(id, sizeof(id), "%s", v);
    json_decref(j);
    http_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/episodes/%s/step", id);
    req("POST", base, path, call, BAD_ORIGIN, &r);
    assert_forbidden(&r, 0, "step");
    http_resp_free(&r);
    req("POST", base, path, "{\"answer\":\"4\"}", "Origin: null", &r);
    assert_forbidden(&r, 0, "answer");
    http_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/episodes/%s", id);
    req("DELETE", base, path, NULL, BAD_HOST, &r);
    assert_forbidden(&r, 0, "delete");
    http_resp_free(&r);
    /* nothing happened: no step, not done, still there */
    CU_ASSERT_EQUAL(req("GET", base, path, NULL, NULL, &r), 200);
    j = json_loads(r.body, 0, NULL);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "steps")), 0);
    CU_ASSERT_TRUE(json_is_false(json_object_get(j, "done")));
    json_decref(j);
    http_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/episodes/%s/step", id);
    CU_ASSERT_EQUAL(req("POST", base, path, call, NULL, &r), 200);
    j = json_loads(r.body, 0, NULL);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "step")), 1);
    json_decref(j);
    http_resp_free(&r);
    test_server_stop(s);
}

TG_TEST(origin_e2e, preflights_follow_the_same_rules) {
    struct server_config cfg;
    struct server *s;
    char hdr[256], val[256];
    const char *base;
    struct http_resp r;

    server_config_defaults(&cfg);
    cfg.quiet = 1;
    cfg.api_key = "k-preflight"; /* a preflight carries no key: it must not need one */
    s = test_server_start(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    base = test_server_url(s);
    snprintf(hdr, sizeof(hdr),
             "Origin: http://localhost:%d\nAccess-Control-Request-Method: POST\n"
             "Access-Control-Request-Headers: content-type, authorization, mcp-session-id",
             server_port(s));
    CU_ASSERT_EQUAL(req("OPTIONS", base, "/mcp", NULL, hdr, &r), 204);
    CU_ASSERT_EQUAL(test_header(&r, "Access-Control-Allow-Origin", val, sizeof(val)), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(hdr, val));
    CU_ASSERT_EQUAL(test_header(&r, "Access-Control-Allow-Methods", val, sizeof(val)), 0);
    CU_ASSERT_STRING_EQUAL(val, "POST, DELETE");
    CU_ASSERT_EQUAL(test_header(&r, "Access-Control-Allow-Headers", val, sizeof(val)), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(val, "Authorization"));
    CU_ASSERT_PTR_NOT_NULL(strstr(val, "Content-Type"));
    CU_ASSERT_PTR_NOT_NULL(strstr(val, "Mcp-Session-Id"));
    CU_ASSERT_EQUAL(test_header(&r, "Access-Control-Max-Age", val, sizeof(val)), 0);
    http_resp_free(&r);
    /* the methods of the path, whichever is asked */
    CU_ASSERT_EQUAL(req("OPTIONS", base, "/v1/episodes/abc", NULL, hdr, &r), 204);
    CU_ASSERT_EQUAL(test_header(&r, "Access-Control-Allow-Methods", val, sizeof(val)), 0);
    CU_ASSERT_STRING_EQUAL(val, "GET, DELETE");
    http_resp_free(&r);
    /* another site's preflight: 403, no CORS headers */
    CU_ASSERT_EQUAL(
        req("OPTIONS", base, "/mcp", NULL, BAD_ORIGIN "\nAccess-Control-Request-Method: POST", &r),
        403);
    CU_ASSERT_NOT_EQUAL(test_header(&r, "Access-Control-Allow-Origin", val, sizeof(val)), 0);
    http_resp_free(&r);
    CU_ASSERT_EQUAL(
        req("OPTIONS", base, "/mcp", NULL, "Origin: null\nAccess-Control-Request-Method: POST", &r),
        403);
    http_resp_free(&r);
    /* a plain OPTIONS (no Origin): the methods in Allow */
    CU_ASSERT_EQUAL(req("OPTIONS", base, "/v1/tools", NULL, NULL, &r), 204);
    CU_ASSERT_EQUAL(test_header(&r, "Allow", val, sizeof(val)), 0);
    CU_ASSERT_STRING_EQUAL(val, "GET, OPTIONS");
    http_resp_free(&r);
    CU_ASSERT_EQUAL(req("OPTIONS", base, "/no/such/path", NULL, hdr, &r), 404);
    http_resp_free(&r);
    /* the request after the preflight still needs its key */
    CU_ASSERT_EQUAL(
        req("POST", base, "/mcp", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", hdr, &r),
        401);
    http_resp_free(&r);
    test_server_stop(s);
}

TG_TEST(origin_e2e, allowed_lists_extend_the_rules) {
    struct server_config cfg;
    struct server *s;
    char val[128];
    const char *base;
    struct http_resp r;

    server_config_defaults(&cfg);
    cfg.quiet = 1;
    cfg.allowed_hosts = "toolgym.test,proxy.test:8443";
    cfg.allowed_origins = "https://app.test";
    s = test_server_start(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    base = test_server_url(s);
    CU_ASSERT_EQUAL(req("GET", base, "/healthz", NULL, "Host: toolgym.test", &r), 200);
    http_resp_free(&r);
    CU_ASSERT_EQUAL(req("GET", base, "/healthz", NULL, "Host: proxy.test:8443", &r), 200);
    http_resp_free(&r);
    CU_ASSERT_EQUAL(req("GET", base, "/healthz", NULL, "Host: proxy.test:8080", &r), 403);
    http_resp_free(&r);
    CU_ASSERT_EQUAL(req("GET", base, "/healthz", NULL, BAD_HOST, &r), 403);
    http_resp_free(&r);
    /* a listed origin, and a page of a listed host (its own origin) */
    CU_ASSERT_EQUAL(req("GET", base, "/v1/tools", NULL, "Origin: https://app.test", &r), 200);
    CU_ASSERT_EQUAL(test_header(&r, "Access-Control-Allow-Origin", val, sizeof(val)), 0);
    CU_ASSERT_STRING_EQUAL(val, "https://app.test");
    http_resp_free(&r);
    CU_ASSERT_EQUAL(
        req("GET", base, "/v1/tools", NULL, "Host: toolgym.test\nOrigin: https://toolgym.test", &r),
        200);
    http_resp_free(&r);
    CU_ASSERT_EQUAL(req("GET", base, "/v1/tools", NULL, "Origin: http://app.test", &r), 403);
    http_resp_free(&r);
    test_server_stop(s);

    /* '*': the checks are off */
    cfg.allowed_hosts = "*";
    cfg.allowed_origins = "*";
    s = test_server_start(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    base = test_server_url(s);
    CU_ASSERT_EQUAL(req("GET", base, "/healthz", NULL, BAD_HOST "\n" BAD_ORIGIN, &r), 200);
    http_resp_free(&r);
    CU_ASSERT_EQUAL(req("GET", base, "/healthz", NULL, "Origin: null", &r), 200);
    http_resp_free(&r);
    test_server_stop(s);
}

TG_TEST(origin_e2e, bad_lists_stop_start_up) {
    struct server_config cfg;
    struct server *s = NULL;
    struct tg_error err;

    server_config_defaults(&cfg);
    cfg.quiet = 1;
    cfg.port = 0;
    cfg.allowed_origins = "app.test";
    CU_ASSERT_EQUAL(server_start(&cfg, &s, &err), TG_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "--allowed-origins: \"app.test\""));
    cfg.allowed_origins = NULL;
    cfg.allowed_hosts = "a.test,,b.test";
    CU_ASSERT_EQUAL(server_start(&cfg, &s, &err), TG_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "--allowed-hosts has an empty entry"));
}

TG_TEST(origin_e2e, every_address_accepts_the_address_connected_to) {
    struct server_config cfg;
    struct server *s;
    char base2[64], base1[64], hdr[64];
    struct http_resp r;
    int port;

    server_config_defaults(&cfg);
    cfg.quiet = 1;
    cfg.host = "0.0.0.0";
    s = test_server_start(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    port = server_port(s);
    snprintf(base1, sizeof(base1), "http://127.0.0.1:%d", port);
    snprintf(base2, sizeof(base2), "http://127.0.0.2:%d", port);
    /* connected to 127.0.0.2: that address is this server's name on the connection */
    CU_ASSERT_EQUAL(req("GET", base2, "/healthz", NULL, NULL, &r), 200);
    http_resp_free(&r);
    snprintf(hdr, sizeof(hdr), "Origin: http://127.0.0.2:%d", port);
    CU_ASSERT_EQUAL(req("GET", base2, "/healthz", NULL, hdr, &r), 200);
    http_resp_free(&r);
    /* another address is not, on either connection; loopback names are */
    snprintf(hdr, sizeof(hdr), "Host: 127.0.0.3:%d", port);
    CU_ASSERT_EQUAL(req("GET", base2, "/healthz", NULL, hdr, &r), 403);
    http_resp_free(&r);
    snprintf(hdr, sizeof(hdr), "Host: 127.0.0.2:%d", port);
    CU_ASSERT_EQUAL(req("GET", base1, "/healthz", NULL, hdr, &r), 403);
    http_resp_free(&r);
    snprintf(hdr, sizeof(hdr), "Host: localhost:%d", port);
    CU_ASSERT_EQUAL(req("GET", base2, "/healthz", NULL, hdr, &r), 200);
    http_resp_free(&r);
    CU_ASSERT_EQUAL(req("GET", base2, "/healthz", NULL, BAD_HOST, &r), 403);
    http_resp_free(&r);
    test_server_stop(s);
}
