/*
 * test_mcp_e2e.c — suites `mcp_session` and `mcp_e2e`: MCP sessions (the table: ids, expiry,
 * least-recently-used eviction, keys), and over a real server the Streamable HTTP transport's
 * session rules, logging/setLevel, and a session's log notifications arriving in an SSE reply
 * ahead of the response, filtered by the level it set; the per-request lines on stderr.
 */
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/mcp_session.h"
#include "server/server.h"
#include "tg_test.h"

/* ---- the session table -------------------------------------------------------------------- */

TG_TEST(mcp_session, ids_are_32_hex_digits_and_unguessable) {
    struct mcp_sessions *t = mcp_sessions_new(8, 3600);
    char a[MCP_SESSION_ID_LEN + 1], b[MCP_SESSION_ID_LEN + 1], bad[MCP_SESSION_ID_LEN + 1];
    int level = 5;

    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(mcp_session_create(t, -1, a), 0);
    CU_ASSERT_EQUAL(mcp_session_create(t, -1, b), 0);
    CU_ASSERT_EQUAL(strlen(a), MCP_SESSION_ID_LEN);
    CU_ASSERT_EQUAL(strspn(a, "0123456789abcdef"), MCP_SESSION_ID_LEN);
    CU_ASSERT_STRING_NOT_EQUAL(a, b);
    CU_ASSERT_STRING_NOT_EQUAL(a + 4, b + 4); /* the random part differs, not just the slot */
    CU_ASSERT_EQUAL(mcp_session_get(t, a, -1, &level), 0);
    CU_ASSERT_EQUAL(level, MCP_LEVEL_UNSET);
    /* one digit off, any case change, cut, longer, or not hex: no session */
    memcpy(bad, a, sizeof(bad));
    bad[MCP_SESSION_ID_LEN - 1] = bad[MCP_SESSION_ID_LEN - 1] == '0' ? '1' : '0';
    CU_ASSERT_EQUAL(mcp_session_get(t, bad, -1, NULL), TG_ENOTFOUND);
    CU_ASSERT_EQUAL(mcp_session_get(t, "", -1, NULL), TG_ENOTFOUND);
    CU_ASSERT_EQUAL(mcp_session_get(t, "0000", -1, NULL), TG_ENOTFOUND);
    CU_ASSERT_EQUAL(mcp_session_get(t, "ffff0000000000000000000000000000", -1, NULL),
                    TG_ENOTFOUND); /* a slot past the table */
    CU_ASSERT_EQUAL(mcp_session_get(t, "zzzz0000000000000000000000000000", -1, NULL), TG_ENOTFOUND);
    memcpy(bad, a, sizeof(bad));
    for (int i = 0; i < MCP_SESSION_ID_LEN; i++)
        if (bad[i] >= 'a')
            bad[i] = (char)(bad[i] - 'a' + 'A');
    if (strcmp(bad, a) != 0)
        CU_ASSERT_EQUAL(mcp_session_get(t, bad, -1, NULL), TG_ENOTFOUND);
    CU_ASSERT_EQUAL(mcp_session_count(t), 2);
    mcp_sessions_free(t);
}

TG_TEST(mcp_session, levels_keys_and_ending) {
    struct mcp_sessions *t = mcp_sessions_new(8, 3600);
    char a[MCP_SESSION_ID_LEN + 1];
    int level = -7;

    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(mcp_session_create(t, 3, a), 0); /* made by API key 3 */
    CU_ASSERT_EQUAL(mcp_session_set_level(t, a, 3, 2), 0);
    CU_ASSERT_EQUAL(mcp_session_get(t, a, 3, &level), 0);
    CU_ASSERT_EQUAL(level, 2);
    CU_ASSERT_EQUAL(mcp_session_get(t, a, 4, NULL), TG_ENOTFOUND); /* another key */
    CU_ASSERT_EQUAL(mcp_session_get(t, a, -1, NULL), TG_ENOTFOUND);
    CU_ASSERT_EQUAL(mcp_session_set_level(t, a, 4, 0), TG_ENOTFOUND);
    CU_ASSERT_EQUAL(mcp_session_end(t, a, 4), TG_ENOTFOUND);
    CU_ASSERT_EQUAL(mcp_session_end(t, a, 3), 0);
    CU_ASSERT_EQUAL(mcp_session_get(t, a, 3, NULL), TG_ENOTFOUND);
    CU_ASSERT_EQUAL(mcp_session_end(t, a, 3), TG_ENOTFOUND);
    CU_ASSERT_EQUAL(mcp_session_count(t), 0);
    mcp_sessions_free(t);
}

TG_TEST(mcp_session, a_full_table_drops_the_least_recently_used) {
    struct mcp_sessions *t = mcp_sessions_new(2, 3600);
    char a[MCP_SESSION_ID_LEN + 1], b[MCP_SESSION_ID_LEN + 1], c[MCP_SESSION_ID_LEN + 1];

    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(mcp_session_create(t, -1, a), 0);
    usleep(2000);
    CU_ASSERT_EQUAL(mcp_session_create(t, -1, b), 0);
    usleep(2000);
    CU_ASSERT_EQUAL(mcp_session_get(t, a, -1, NULL), 0); /* a is now the more recent */
    usleep(2000);
    CU_ASSERT_EQUAL(mcp_session_create(t, -1, c), 0);
    CU_ASSERT_EQUAL(mcp_session_get(t, b, -1, NULL), TG_ENOTFOUND);
    CU_ASSERT_EQUAL(mcp_session_get(t, a, -1, NULL), 0);
    CU_ASSERT_EQUAL(mcp_session_get(t, c, -1, NULL), 0);
    CU_ASSERT_EQUAL(mcp_session_count(t), 2);
    mcp_sessions_free(t);
}

TG_TEST(mcp_session, unused_sessions_expire) {
    struct mcp_sessions *t = mcp_sessions_new(4, 0); /* gone as soon as any time has passed */
    char a[MCP_SESSION_ID_LEN + 1];

    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(mcp_session_create(t, -1, a), 0);
    usleep(2000);
    CU_ASSERT_EQUAL(mcp_session_get(t, a, -1, NULL), TG_ENOTFOUND);
    CU_ASSERT_EQUAL(mcp_session_count(t), 0);
    CU_ASSERT_PTR_NULL(mcp_sessions_new(0, 1));
    CU_ASSERT_PTR_NULL(mcp_sessions_new(65537, 1));
    mcp_sessions_free(t);
    mcp_sessions_free(NULL);
}

/* ---- over HTTP ------------------------------------------------------------------------------ */

#define SSE_ACCEPT "Accept: application/json, text/event-stream"

static const char init_body[] =
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
    "\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}";

static long mcp(struct server *s, const char *method, const char *body, const char *headers,
                struct http_resp *r) {
    char url[128];

    snprintf(url, sizeof(url), "%s/mcp", test_server_url(s));
    if (test_http(method, url, body, body ? strlen(body) : 0, NULL, headers, r) != 0)
        r->status = -1;
    return r->status;
}

/* initialize; the session id into sid ("" when none came). */
static void start_session(struct server *s, const char *extra, char *sid, size_t n) {
    struct http_resp r;

    sid[0] = '\0';
    CU_ASSERT_EQUAL(mcp(s, "POST", init_body, extra, &r), 200);
    test_header(&r, "Mcp-Session-Id", sid, n);
    http_resp_free(&r);
}

/* "Mcp-Session-Id: <sid>" plus more header lines (may be NULL) into buf. */
static const char *with_session(char *buf, size_t n, const char *sid, const char *more) {
    snprintf(buf, n, "Mcp-Session-Id: %s%s%s", sid, more ? "\n" : "", more ? more : "");
    return buf;
}

struct sse {
    json_t *msgs[32]; /* each event's data, in order */
    int n;
    int bad; /* a line that is not "event: message" / "data: {json}" */
};

/* Parse an SSE body of "event: message\ndata: <json>\n\n" events. */
static void sse_parse(const char *body, struct sse *out) {
    const char *p = body;

    memset(out, 0, sizeof(*out));
    while (*p) {
        const char *end = strstr(p, "\n\n"), *data;
        char *text;

        if (!end || strncmp(p, "event: message\ndata: ", 21) != 0 || out->n == 32) {
            out->bad = 1;
            return;
        }
        data = p + 21;
        text = strndup(data, (size_t)(end - data));
        out->msgs[out->n] = text ? json_loads(text, 0, NULL) : NULL;
        if (!out->msgs[out->n] || strchr(text, '\n'))
            out->bad = 1;
        free(text);
        out->n++;
        p = end + 2;
    }
}

static void sse_free(struct sse *s) {
    for (int i = 0; i < s->n; i++)
        json_decref(s->msgs[i]);
}

static const char *str(const json_t *v) {
    return json_is_string(v) ? json_string_value(v) : "";
}

static int is_json_reply(const struct http_resp *r) {
    char ct[128] = "";

    test_header(r, "Content-Type", ct, sizeof(ct));
    return strcmp(ct, "application/json") == 0;
}

TG_TEST(mcp_e2e, initialize_starts_a_session_with_logging) {
    struct server *s = test_server_start(NULL);
    char a[64], b[64], hdr[160];
    struct http_resp r;
    json_t *j;

    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(mcp(s, "POST", init_body, NULL, &r), 200);
    CU_ASSERT_EQUAL(test_header(&r, "Mcp-Session-Id", a, sizeof(a)), 0);
    CU_ASSERT_EQUAL(strlen(a), 32);
    j = json_loads(r.body, 0, NULL);
    CU_ASSERT_TRUE(json_is_object(
        json_object_get(json_object_get(json_object_get(j, "result"), "capabilities"), "logging")));
    CU_ASSERT_STRING_EQUAL(str(json_object_get(json_object_get(j, "result"), "protocolVersion")),
                           "2025-06-18");
    json_decref(j);
    http_resp_free(&r);
    start_session(s, NULL, b, sizeof(b));
    CU_ASSERT_STRING_NOT_EQUAL(a, b);
    /* the session's requests: notifications 202, requests answered */
    CU_ASSERT_EQUAL(mcp(s, "POST", "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}",
                        with_session(hdr, sizeof(hdr), a, NULL), &r),
                    202);
    http_resp_free(&r);
    CU_ASSERT_EQUAL(mcp(s, "POST", "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}",
                        with_session(hdr, sizeof(hdr), a, "MCP-Protocol-Version: 2025-06-18"), &r),
                    200);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"result\":{}"));
    http_resp_free(&r);
    /* a client that asks for 2025-03-26 gets it; an unknown version gets ours */
    CU_ASSERT_EQUAL(mcp(s, "POST",
                        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
                        "\"protocolVersion\":\"2025-03-26\"}}",
                        NULL, &r),
                    200);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"protocolVersion\":\"2025-03-26\""));
    http_resp_free(&r);
    CU_ASSERT_EQUAL(mcp(s, "POST",
                        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
                        "\"protocolVersion\":\"2099-01-01\"}}",
                        NULL, &r),
                    200);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"protocolVersion\":\"2025-06-18\""));
    http_resp_free(&r);
    test_server_stop(s);
}

TG_TEST(mcp_e2e, session_rules_of_the_transport) {
    struct server *s = test_server_start(NULL);
    char sid[64], hdr[160], allow[64];
    struct http_resp r;
    json_t *j;

    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    start_session(s, NULL, sid, sizeof(sid));
    /* an id never given: 404 with a JSON-RPC error, the request's id kept */
    CU_ASSERT_EQUAL(mcp(s, "POST", "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"ping\"}",
                        "Mcp-Session-Id: 0000aaaaaaaaaaaaaaaaaaaaaaaaaaaa", &r),
                    404);
    j = json_loads(r.body, 0, NULL);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "id")), 5);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(j, "error"), "code")),
                    -32001);
    json_decref(j);
    http_resp_free(&r);
    CU_ASSERT_EQUAL(mcp(s, "POST", "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}",
                        "Mcp-Session-Id: not-a-session", &r),
                    404);
    http_resp_free(&r);
    /* no session: served as before, statelessly */
    CU_ASSERT_EQUAL(mcp(s, "POST", "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"ping\"}", NULL, &r),
                    200);
    http_resp_free(&r);
    /* an unknown protocol version: 400 */
    CU_ASSERT_EQUAL(mcp(s, "POST", "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\"}",
                        "MCP-Protocol-Version: 2099-01-01", &r),
                    400);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "-32600"));
    http_resp_free(&r);
    /* DELETE ends it; then it is 404 */
    CU_ASSERT_EQUAL(mcp(s, "DELETE", NULL, with_session(hdr, sizeof(hdr), sid, NULL), &r), 204);
    http_resp_free(&r);
    CU_ASSERT_EQUAL(mcp(s, "POST", "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"ping\"}",
                        with_session(hdr, sizeof(hdr), sid, NULL), &r),
                    404);
    http_resp_free(&r);
    CU_ASSERT_EQUAL(mcp(s, "DELETE", NULL, with_session(hdr, sizeof(hdr), sid, NULL), &r), 404);
    http_resp_free(&r);
    CU_ASSERT_EQUAL(mcp(s, "DELETE", NULL, NULL, &r), 400);
    http_resp_free(&r);
    /* no GET stream: 405 names the methods there are */
    CU_ASSERT_EQUAL(mcp(s, "GET", NULL, "Accept: text/event-stream", &r), 405);
    CU_ASSERT_EQUAL(test_header(&r, "Allow", allow, sizeof(allow)), 0);
    CU_ASSERT_STRING_EQUAL(allow, "POST, DELETE");
    http_resp_free(&r);
    test_server_stop(s);
}

TG_TEST(mcp_e2e, a_session_belongs_to_its_api_key) {
    struct server_config cfg;
    struct server *s;
    char sid[64], hdr[256];
    struct http_resp r;
    FILE *f;
    char path[] = "/tmp/toolgym-mcp-keys-XXXXXX";
    int fd = mkstemp(path);

    CU_ASSERT_FATAL(fd >= 0);
    f = fdopen(fd, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("key-a\nkey-b\n", f);
    fclose(f);
    server_config_defaults(&cfg);
    cfg.quiet = 1;
    cfg.api_key_file = path;
    s = test_server_start(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    start_session(s, "Authorization: Bearer key-a", sid, sizeof(sid));
    CU_ASSERT_EQUAL(strlen(sid), 32);
    CU_ASSERT_EQUAL(mcp(s, "POST", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}",
                        with_session(hdr, sizeof(hdr), sid, "Authorization: Bearer key-a"), &r),
                    200);
    http_resp_free(&r);
    CU_ASSERT_EQUAL(mcp(s, "POST", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}",
                        with_session(hdr, sizeof(hdr), sid, "Authorization: Bearer key-b"), &r),
                    404);
    http_resp_free(&r);
    CU_ASSERT_EQUAL(mcp(s, "DELETE", NULL,
                        with_session(hdr, sizeof(hdr), sid, "Authorization: Bearer key-b"), &r),
                    404);
    http_resp_free(&r);
    test_server_stop(s);
    unlink(path);
}

static const char calc_ok[] =
    "{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"tools/call\",\"params\":{"
    "\"name\":\"calculator\",\"arguments\":{\"expression\":\"6*7\"}}}";
static const char calc_bad[] =
    "{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"tools/call\",\"params\":{"
    "\"name\":\"calculator\",\"arguments\":{\"expression\":\"6*\"}}}";

/* logging/setLevel `level` for sid; the HTTP status. */
static long set_level(struct server *s, const char *sid, const char *level) {
    char body[160], hdr[160];
    struct http_resp r;
    long st;

    snprintf(body, sizeof(body),
             "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"logging/setLevel\",\"params\":{"
             "\"level\":\"%s\"}}",
             level);
    st = mcp(s, "POST", body, with_session(hdr, sizeof(hdr), sid, NULL), &r);
    if (st == 200)
        CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"result\":{}"));
    http_resp_free(&r);
    return st;
}

/* The notifications of an SSE reply: each is a notifications/message at or above min_level
 * (by name order), and the last event is the response with id want_id. Returns how many
 * notifications there were; their data joined into datas. */
static int check_stream(const struct http_resp *r, int want_id, const char *min_level, char *datas,
                        size_t n) {
    static const char *const order[] = {"debug", "info",     "notice", "warning",
                                        "error", "critical", "alert",  "emergency"};
    int min = 0, notes = 0;
    struct sse e;
    char ct[64] = "";

    while (strcmp(order[min], min_level) != 0)
        min++;
    datas[0] = '\0';
    test_header(r, "Content-Type", ct, sizeof(ct));
    CU_ASSERT_STRING_EQUAL(ct, "text/event-stream");
    sse_parse(r->body, &e);
    CU_ASSERT_FALSE(e.bad);
    CU_ASSERT_FATAL(e.n >= 1);
    for (int i = 0; i < e.n - 1; i++) {
        json_t *p = json_object_get(e.msgs[i], "params");
        const char *lv = str(json_object_get(p, "level"));
        int k = 0;

        CU_ASSERT_STRING_EQUAL(str(json_object_get(e.msgs[i], "method")), "notifications/message");
        CU_ASSERT_PTR_NULL(json_object_get(e.msgs[i], "id"));
        CU_ASSERT_STRING_EQUAL(str(json_object_get(p, "logger")), "toolgym");
        while (k < 8 && strcmp(order[k], lv) != 0)
            k++;
        CU_ASSERT(k < 8 && k >= min);
        snprintf(datas + strlen(datas), n - strlen(datas), "%s|%s\n", lv,
                 str(json_object_get(p, "data")));
        notes++;
    }
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(e.msgs[e.n - 1], "id")), want_id);
    CU_ASSERT_PTR_NOT_NULL(json_object_get(e.msgs[e.n - 1], "result"));
    sse_free(&e);
    return notes;
}

TG_TEST(mcp_e2e, log_notifications_follow_the_sessions_level) {
    struct server *s = test_server_start(NULL);
    char sid[64], other[64], hdr[256], datas[4096];
    struct http_resp r;

    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    start_session(s, NULL, sid, sizeof(sid));
    start_session(s, NULL, other, sizeof(other));
    /* before any setLevel: plain JSON */
    CU_ASSERT_EQUAL(mcp(s, "POST", calc_ok, with_session(hdr, sizeof(hdr), sid, SSE_ACCEPT), &r),
                    200);
    CU_ASSERT_TRUE(is_json_reply(&r));
    http_resp_free(&r);
    /* bad levels, and a level without a session */
    CU_ASSERT_EQUAL(mcp(s, "POST",
                        "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"logging/setLevel\",\"params\":{"
                        "\"level\":\"Info\"}}",
                        with_session(hdr, sizeof(hdr), sid, NULL), &r),
                    200);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "-32602"));
    http_resp_free(&r);
    CU_ASSERT_EQUAL(mcp(s, "POST",
                        "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"logging/setLevel\",\"params\":{"
                        "\"level\":\"info\"}}",
                        NULL, &r),
                    200);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "-32600"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "needs a session"));
    http_resp_free(&r);

    /* info: the call's outcome, not its debug lines */
    CU_ASSERT_EQUAL(set_level(s, sid, "info"), 200);
    CU_ASSERT_EQUAL(mcp(s, "POST", calc_ok, with_session(hdr, sizeof(hdr), sid, SSE_ACCEPT), &r),
                    200);
    CU_ASSERT_EQUAL(check_stream(&r, 11, "info", datas, sizeof(datas)), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(datas, "info|calculator: ok in "));
    CU_ASSERT_PTR_NOT_NULL(strstr(datas, ": 42\n"));
    http_resp_free(&r);
    /* the same call from a session that set no level, or a client that takes JSON only */
    CU_ASSERT_EQUAL(mcp(s, "POST", calc_ok, with_session(hdr, sizeof(hdr), other, SSE_ACCEPT), &r),
                    200);
    CU_ASSERT_TRUE(is_json_reply(&r));
    http_resp_free(&r);
    CU_ASSERT_EQUAL(mcp(s, "POST", calc_ok,
                        with_session(hdr, sizeof(hdr), sid, "Accept: application/json"), &r),
                    200);
    CU_ASSERT_TRUE(is_json_reply(&r));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"text\":\"42\""));
    http_resp_free(&r);

    /* notice: a tool-level error is a notice; a success is below it, so plain JSON */
    CU_ASSERT_EQUAL(set_level(s, sid, "notice"), 200);
    CU_ASSERT_EQUAL(mcp(s, "POST", calc_ok, with_session(hdr, sizeof(hdr), sid, SSE_ACCEPT), &r),
                    200);
    CU_ASSERT_TRUE(is_json_reply(&r));
    http_resp_free(&r);
    CU_ASSERT_EQUAL(mcp(s, "POST", calc_bad, with_session(hdr, sizeof(hdr), sid, SSE_ACCEPT), &r),
                    200);
    CU_ASSERT_EQUAL(check_stream(&r, 12, "notice", datas, sizeof(datas)), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(datas, "notice|calculator: syntax_error"));
    http_resp_free(&r);

    /* debug: every line of the request, in order: the method, the call, its outcome */
    CU_ASSERT_EQUAL(set_level(s, sid, "debug"), 200);
    CU_ASSERT_EQUAL(mcp(s, "POST", calc_ok, with_session(hdr, sizeof(hdr), sid, SSE_ACCEPT), &r),
                    200);
    CU_ASSERT_EQUAL(check_stream(&r, 11, "debug", datas, sizeof(datas)), 3);
    CU_ASSERT_EQUAL(strncmp(datas, "debug|tools/call\n", 17), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(datas, "debug|calculator {\"expression\":\"6*7\"}\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(datas, "\ninfo|calculator: ok"));
    http_resp_free(&r);

    /* error: nothing a good or a bad call logs reaches it */
    CU_ASSERT_EQUAL(set_level(s, sid, "error"), 200);
    CU_ASSERT_EQUAL(mcp(s, "POST", calc_bad, with_session(hdr, sizeof(hdr), sid, SSE_ACCEPT), &r),
                    200);
    CU_ASSERT_TRUE(is_json_reply(&r));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"isError\":true"));
    http_resp_free(&r);
    test_server_stop(s);
}

TG_TEST(mcp_e2e, a_deferred_run_code_call_streams_its_lines_then_its_result) {
    static const char body[] =
        "{\"jsonrpc\":\"2.0\",\"id\":21,\"method\":\"tools/call\",\"params\":{\"name\":"
        "\"run_code\",\"arguments\":{\"code\":\"import sys\\nprint(6*7)\\nsys.exit(3)\"}}}";
    struct server *s = test_server_start(NULL);
    char sid[64], hdr[256], datas[4096];
    struct http_resp r;

    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    start_session(s, NULL, sid, sizeof(sid));
    CU_ASSERT_EQUAL(set_level(s, sid, "info"), 200);
    CU_ASSERT_EQUAL(mcp(s, "POST", body, with_session(hdr, sizeof(hdr), sid, SSE_ACCEPT), &r), 200);
    CU_ASSERT_EQUAL(check_stream(&r, 21, "info", datas, sizeof(datas)), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(datas, "notice|run_code: runtime_error in "));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"exit_code\":3"));
    http_resp_free(&r);
    test_server_stop(s);
}

TG_TEST(mcp_e2e, per_request_lines_reach_stderr_from_the_log_level) {
    struct server_config cfg;
    struct server *s;
    char path[] = "/tmp/toolgym-mcp-log-XXXXXX", text[8192] = "";
    int fd = mkstemp(path), saved = dup(2);
    struct http_resp r;
    FILE *f;

    CU_ASSERT_FATAL(fd >= 0 && saved >= 0);
    server_config_defaults(&cfg);
    cfg.quiet = 0;
    cfg.log_level = "notice";
    fflush(stderr);
    dup2(fd, 2); /* the server's stderr, for this test */
    s = test_server_start(&cfg);
    if (s) {
        mcp(s, "POST", calc_ok, NULL, &r); /* info: not logged */
        http_resp_free(&r);
        mcp(s, "POST", calc_bad, NULL, &r); /* notice: logged */
        http_resp_free(&r);
        mcp(s, "POST", calc_ok, "Host: evil.example.com", &r); /* a refusal: a warning */
        http_resp_free(&r);
        test_server_stop(s);
    }
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    f = fopen(path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    text[fread(text, 1, sizeof(text) - 1, f)] = '\0';
    fclose(f);
    close(fd);
    unlink(path);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(text, "toolgym: notice: POST /mcp: calculator: syntax_error in "));
    CU_ASSERT_PTR_NULL(strstr(text, "calculator: ok"));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(text, "toolgym: warning: POST /mcp: refused: Host \"evil.example.com\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "POST /mcp 403 "));
    /* a level that is not one stops start-up */
    {
        struct tg_error err;
        struct server *bad = NULL;

        cfg.quiet = 1;
        cfg.port = 0;
        cfg.log_level = "loud";
        CU_ASSERT_EQUAL(server_start(&cfg, &bad, &err), TG_EINVAL);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "--log-level loud"));
    }
}
