/*
 * test_sandbox_e2e.c — suite `sandbox_e2e`: run_code through the real server (in-process,
 * port 0, libcurl). Attacks come back contained and reported in API.md's shape; the server
 * keeps serving other clients while runs are in flight; a full run queue answers
 * 503 overloaded with Retry-After; runs of clients that went away are dropped from the queue
 * or killed, and an episode step whose client left is not taken.
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/metrics.h"
#include "base/tg.h"
#include "server/http.h"
#include "server/server.h"
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
    cfg.client_runs = 100000; /* one client fills the queue here: no per-client share */
    s = test_server_start(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    if (!sandbox_on(s))
        goto done;
    for (int i = 0; i < 2; i++) {
        memset(&busy[i], 0, sizeof(busy[i]));
        busy[i].base = test_server_url(s);
        busy[i].body = "{\"arguments\":{\"code\":\"import "
                       "time\\ntime.sleep(2)\\nprint('done')\",\"timeout_ms\":6000}}";
        CU_ASSERT_FATAL(pthread_create(&t[i], NULL, post_thread, &busy[i]) == 0);
        /* the first runs (a worker took it), then the second waits in the queue */
        CU_ASSERT_EQUAL(test_wait_runq(s, 1, 1), 1);
        CU_ASSERT_EQUAL(test_wait_runq(s, (size_t)i + 1, 0), (size_t)i + 1);
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

/* ---- clients that go away ------------------------------------------------------------------- */

/* A raw connection that has sent one POST and not read the reply; -1 on failure. */
/* POST body to path from 127.0.0.<src> without reading the reply; the socket, or -1. */
static int send_post_from(struct server *s, int src, const char *path, const char *body) {
    struct sockaddr_in a = {.sin_family = AF_INET};
    char head[512];
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int n;

    if (fd < 0)
        return -1;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK - 1 + (unsigned)src);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    a.sin_port = htons((uint16_t)server_port(s));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    n = snprintf(head, sizeof(head),
                 "POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                 "Content-Length: %zu\r\n\r\n",
                 path, strlen(body));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || write(fd, head, (size_t)n) != n ||
        write(fd, body, strlen(body)) != (ssize_t)strlen(body)) {
        close(fd);
        return -1;
    }
    return fd;
}

static int send_post(struct server *s, const char *path, const char *body) {
    return send_post_from(s, 1, path, body);
}

TG_TEST(sandbox_e2e, abandoned_runs_are_cancelled) {
    enum { CLIENTS = 66 };
    static const char sleeper[] =
        "{\"arguments\":{\"code\":\"import time\\ntime.sleep(9)\",\"timeout_ms\":10000}}";
    struct server_config cfg;
    struct server *s;
    int fds[CLIENTS];
    double queued0, cancelled0, rejected0, closed0, ok0;
    struct call c;
    json_t *j;

    server_config_defaults(&cfg);
    cfg.quiet = 1;
    cfg.run_workers = 1;
    cfg.run_queue = 64;
    cfg.client_runs = 100000; /* one client fills the queue here: no per-client share */
    s = test_server_start(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    if (!sandbox_on(s))
        goto done;
    queued0 = metrics_get("toolgym_run_queue_cancelled_total", "");
    cancelled0 = metrics_get("toolgym_tool_calls_total", "tool=\"run_code\",outcome=\"cancelled\"");
    rejected0 = metrics_get("toolgym_run_queue_rejected_total", "");
    closed0 =
        metrics_get("toolgym_http_requests_total", "route=\"/v1/tools/{name}\",status=\"499\"");
    ok0 = metrics_get("toolgym_tool_calls_total", "tool=\"run_code\",outcome=\"ok\"");
    /* 66 fire-and-forget calls: one runs, 64 wait, one is refused (503) — unless the last
     * arrives after the clients began to leave, when it is queued too */
    for (int i = 0; i < CLIENTS; i++) {
        fds[i] = send_post(s, "/v1/tools/run_code", sleeper);
        CU_ASSERT(fds[i] >= 0);
    }
    CU_ASSERT_EQUAL(test_wait_runq(s, 65, 0), 65);
    for (int i = 0; i < CLIENTS; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    /* The clients are gone: the waiting runs leave the queue, the running one is killed. Each
     * run sleeps 9 s, so without cancelling the queue would stay busy for ten minutes. */
    CU_ASSERT_EQUAL(test_wait_runq(s, 0, 0), 0);
    /* Each accepted request (65, or all 66 when the last came in after the first clients
     * left) is answered 499, its client gone, and none runs to the end. Those that reached
     * the queue were dropped from it or killed while they ran: cancelled tool calls. Most
     * leave the queue unrun; a few may start first, when the worker frees up before the
     * watcher reaches their sockets, and are killed then. On a loaded machine the worker may
     * not have taken even the first run when the clients leave, so all can leave the queue
     * unrun. A last request that arrives after its client left is answered without being
     * queued (http_defer: "gone before its job was queued"): no tool call at all. */
    {
        double rejected = metrics_get("toolgym_run_queue_rejected_total", "") - rejected0;
        double got = 0, closed = 0;

        /* A call's outcome is counted by its request's thread once the queue has let it go, so
         * the last few may still be on their way when the queue is empty: wait for them. */
        for (int i = 0; i < 500; i++) {
            got =
                metrics_get("toolgym_tool_calls_total", "tool=\"run_code\",outcome=\"cancelled\"") -
                cancelled0;
            closed = metrics_get("toolgym_http_requests_total",
                                 "route=\"/v1/tools/{name}\",status=\"499\"") -
                     closed0;
            if (closed >= CLIENTS - rejected && got >= 65)
                break;
            usleep(10 * 1000);
        }
        CU_ASSERT(rejected <= 1);
        if (closed != CLIENTS - rejected || got < 65) { /* say what the others became */
            static const char *const oc[] = {"ok", "tool_error", "internal", "invalid"};

            fprintf(stderr, "\n  cancelled %.0f, answered 499 %.0f, of %.0f accepted; totals:", got,
                    closed, CLIENTS - rejected);
            for (size_t i = 0; i < TG_ARRAY_LEN(oc); i++) {
                char l[96];

                snprintf(l, sizeof(l), "tool=\"run_code\",outcome=\"%s\"", oc[i]);
                fprintf(stderr, " %s %.0f", oc[i], metrics_get("toolgym_tool_calls_total", l));
            }
            fputc('\n', stderr);
        }
        CU_ASSERT_EQUAL(closed, CLIENTS - rejected);
        CU_ASSERT(got >= 65 && got <= closed); /* the 65 seen queued, and at most the last */
        CU_ASSERT_EQUAL(
            metrics_get("toolgym_tool_calls_total", "tool=\"run_code\",outcome=\"ok\"") - ok0, 0);
        CU_ASSERT(metrics_get("toolgym_run_queue_cancelled_total", "") - queued0 <= got);
    }
    CU_ASSERT(metrics_get("toolgym_run_queue_cancelled_total", "") - queued0 >= 1);

    /* and a well-behaved client is served */
    memset(&c, 0, sizeof(c));
    c.base = test_server_url(s);
    c.body = "{\"arguments\":{\"code\":\"print(6 * 7)\"}}";
    post_run_code(&c);
    CU_ASSERT_EQUAL(c.rc, 0);
    CU_ASSERT_EQUAL(c.r.status, 200);
    j = body_json(&c.r);
    CU_ASSERT(json_is_true(json_object_get(j, "ok")));
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "content")) ?: "", "42\n");
    json_decref(j);
    http_resp_free(&c.r);
done:
    test_server_stop(s);
}

/* One client's burst neither fills the run queue nor stands in front of another client's run:
 * it gets its share (--client-runs, here half of 1 worker + 8 places: 4) and 429 for the
 * rest, and the workers serve the two clients in turn, so the other client's run is answered
 * while the burst's runs are still waiting, not after all of them. */
TG_TEST(sandbox_e2e, a_burst_from_one_client_does_not_starve_another) {
    enum { BURST = 10 };
    static const char sleeper[] =
        "{\"arguments\":{\"code\":\"import time\\ntime.sleep(1)\",\"timeout_ms\":5000}}";
    struct server_config cfg;
    struct server *s;
    int fds[BURST];
    double quota0;
    struct call c;
    json_t *j;

    server_config_defaults(&cfg);
    cfg.quiet = 1;
    cfg.run_workers = 1;
    cfg.run_queue = 8;
    s = test_server_start(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    if (!sandbox_on(s))
        goto done;
    quota0 = metrics_get("toolgym_run_queue_quota_refused_total", "");
    for (int i = 0; i < BURST; i++) { /* from 127.0.0.2 */
        fds[i] = send_post_from(s, 2, "/v1/tools/run_code", sleeper);
        CU_ASSERT(fds[i] >= 0);
    }
    CU_ASSERT_EQUAL(test_wait_runq(s, 4, 0), 4); /* one runs, three wait */
    for (int i = 0;
         i < 3000 && metrics_get("toolgym_run_queue_quota_refused_total", "") - quota0 < BURST - 4;
         i++)
        usleep(10 * 1000);
    CU_ASSERT_EQUAL(metrics_get("toolgym_run_queue_quota_refused_total", "") - quota0, BURST - 4);
    /* the other client, from 127.0.0.1: its run goes after the burst's next one */
    memset(&c, 0, sizeof(c));
    c.base = test_server_url(s);
    c.body = "{\"arguments\":{\"code\":\"print(6 * 7)\"}}";
    post_run_code(&c);
    CU_ASSERT_EQUAL(c.rc, 0);
    CU_ASSERT_EQUAL(c.r.status, 200);
    j = body_json(&c.r);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "content")) ?: "", "42\n");
    json_decref(j);
    http_resp_free(&c.r);
    /* first come, first served would have run all four of the burst first */
    CU_ASSERT(runq_pending(s->runq) >= 1);
    for (int i = 0; i < BURST; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    CU_ASSERT_EQUAL(test_wait_runq(s, 0, 0), 0);
done:
    test_server_stop(s);
}

TG_TEST(sandbox_e2e, abandoned_step_is_not_taken) {
    struct server_config cfg;
    struct server *s;
    struct http_resp r;
    char url[256], id[64] = "";
    json_t *j;
    int fd;

    server_config_defaults(&cfg);
    cfg.quiet = 1;
    cfg.run_workers = 1;
    s = test_server_start(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    if (!sandbox_on(s))
        goto done;
    snprintf(url, sizeof(url), "%s/v1/episodes", test_server_url(s));
    CU_ASSERT_EQUAL_FATAL(test_http("POST", url, "{}", 2, NULL, NULL, &r), 0);
    CU_ASSERT_EQUAL(r.status, 201);
    j = json_loadb(r.body, r.len, 0, NULL);
    snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(j, "episode_id")) ?: "");
    json_decref(j);
    http_resp_free(&r);
    CU_ASSERT_FATAL(id[0] != '\0');

    /* a step whose run_code is running when its client leaves */
    snprintf(url, sizeof(url), "/v1/episodes/%s/step", id);
    fd = send_post(s, url,
                   "{\"tool_call\":{\"name\":\"run_code\",\"arguments\":{\"code\":\"import time\\n"
                   "time.sleep(9)\",\"timeout_ms\":10000}}}");
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(test_wait_runq(s, 1, 0), 1);
    close(fd);
    CU_ASSERT_EQUAL(test_wait_runq(s, 0, 0), 0);

    /* the step was not taken, and the episode takes the next one */
    snprintf(url, sizeof(url), "%s/v1/episodes/%s", test_server_url(s), id);
    CU_ASSERT_EQUAL_FATAL(test_http("GET", url, NULL, 0, NULL, NULL, &r), 0);
    j = json_loadb(r.body, r.len, 0, NULL);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "steps")), 0);
    json_decref(j);
    http_resp_free(&r);
    snprintf(url, sizeof(url), "%s/v1/episodes/%s/step", test_server_url(s), id);
    CU_ASSERT_EQUAL_FATAL(test_http("POST", url,
                                    "{\"tool_call\":{\"name\":\"run_code\",\"arguments\":"
                                    "{\"code\":\"print(1)\"}}}",
                                    strlen("{\"tool_call\":{\"name\":\"run_code\",\"arguments\":"
                                           "{\"code\":\"print(1)\"}}}"),
                                    NULL, NULL, &r),
                          0);
    CU_ASSERT_EQUAL(r.status, 200);
    j = json_loadb(r.body, r.len, 0, NULL);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "step")), 1);
    json_decref(j);
    http_resp_free(&r);
done:
    test_server_stop(s);
}

TG_TEST(sandbox_e2e, shutdown_abandons_runs_past_the_grace) {
    static const char sleeper[] =
        "{\"arguments\":{\"code\":\"import time\\ntime.sleep(9)\",\"timeout_ms\":10000}}";
    struct server_config cfg;
    struct server *s;
    double cancelled0;
    int fds[3];

    server_config_defaults(&cfg);
    cfg.quiet = 1;
    cfg.run_workers = 1;
    s = test_server_start(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    if (!sandbox_on(s)) {
        test_server_stop(s);
        return;
    }
    cancelled0 = metrics_get("toolgym_tool_calls_total", "tool=\"run_code\",outcome=\"cancelled\"");
    /* three 9 s runs, one at a time: 27 s of work, clients still connected */
    for (int i = 0; i < 3; i++) {
        fds[i] = send_post(s, "/v1/tools/run_code", sleeper);
        CU_ASSERT(fds[i] >= 0);
    }
    CU_ASSERT_EQUAL(test_wait_runq(s, 3, 0), 3);
    /* Stopping waits out the grace period, then abandons what is left instead of stopping
     * libmicrohttpd with suspended connections (which aborts the process). */
    test_server_stop(s);
    CU_ASSERT(metrics_get("toolgym_tool_calls_total", "tool=\"run_code\",outcome=\"cancelled\"") -
                  cancelled0 >=
              2); /* at most one 9 s run fits in the 10 s grace */
    for (int i = 0; i < 3; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

/* ---- size limits in bytes, over HTTP ------------------------------------------------------ */

/* {"arguments":{"<field>":"<n copies of unit>"[, "code":"pass"]}} for run_code; new string. */
static char *sized_body(const char *field, const char *unit, int n) {
    size_t ul = strlen(unit), len = 64 + (size_t)n * ul;
    char *b = malloc(len), *p;

    if (!b)
        return NULL;
    p = b + snprintf(b, len, "{\"arguments\":{%s\"%s\":\"",
                     strcmp(field, "code") ? "\"code\":\"pass\"," : "", field);
    for (int i = 0; i < n; i++, p += ul)
        memcpy(p, unit, ul);
    snprintf(p, len - (size_t)(p - b), "\"}}");
    return b;
}

TG_TEST(sandbox_e2e, size_limits_are_bytes_on_every_path) {
    struct server *s = test_server_start(NULL);
    struct http_resp r;
    char url[256];
    json_t *j, *props = NULL;
    size_t i;
    json_t *t;

    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    /* the schema /v1/tools advertises says bytes */
    snprintf(url, sizeof(url), "%s/v1/tools", test_server_url(s));
    CU_ASSERT_EQUAL_FATAL(test_http("GET", url, NULL, 0, NULL, NULL, &r), 0);
    j = body_json(&r);
    json_array_foreach(json_object_get(j, "tools"), i, t) {
        json_t *fn = json_object_get(t, "function");

        if (strcmp(json_string_value(json_object_get(fn, "name")) ?: "", "run_code") == 0)
            props = json_object_get(json_object_get(fn, "parameters"), "properties");
    }
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(props, "code"), "maxBytes")),
                    65536);
    CU_ASSERT_PTR_NULL(json_object_get(json_object_get(props, "code"), "maxLength"));
    CU_ASSERT_EQUAL(
        json_integer_value(json_object_get(json_object_get(props, "stdin"), "maxBytes")), 65536);
    json_decref(j);
    http_resp_free(&r);

    snprintf(url, sizeof(url), "%s/v1/tools/run_code", test_server_url(s));
    {
        static const struct {
            const char *field, *unit;
            int n;
            long status;
        } cases[] = {
            {"code", "\\u00e9", 65535, 422}, /* 65,535 characters, 131,070 bytes */
            {"code", "\\u00e9", 32769, 422}, /* 65,538 bytes */
            {"stdin", "\\u00e9", 32769, 422}, {"code", "#", 65537, 422},
            {"code", "#", 65536, 200}, /* exactly the limit */
            {"stdin", "\\u00e9", 32768, 200},
        };

        for (size_t k = 0; k < TG_ARRAY_LEN(cases); k++) {
            char *body = sized_body(cases[k].field, cases[k].unit, cases[k].n);

            CU_ASSERT_PTR_NOT_NULL_FATAL(body);
            CU_ASSERT_EQUAL_FATAL(test_http("POST", url, body, strlen(body), NULL, NULL, &r), 0);
            CU_ASSERT_EQUAL(r.status, cases[k].status);
            if (r.status != cases[k].status)
                fprintf(stderr, "\ncase %zu: %ld %.200s\n", k, r.status, r.body);
            if (cases[k].status == 422)
                CU_ASSERT(strstr(r.body, "invalid_arguments") &&
                          strstr(r.body, "must be at most 65536 bytes"));
            http_resp_free(&r);
            free(body);
        }
    }
    /* MCP: invalid params, not a failed run */
    {
        char *args = sized_body("code", "\\u00e9", 65535), *body;
        size_t n;

        CU_ASSERT_PTR_NOT_NULL_FATAL(args);
        n = strlen(args) + 128;
        body = malloc(n);
        CU_ASSERT_PTR_NOT_NULL_FATAL(body);
        /* args is {"arguments":{...}}: reuse its inner object */
        snprintf(body, n,
                 "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":"
                 "{\"name\":\"run_code\",%.*s}}",
                 (int)(strlen(args) - 2), args + 1);
        snprintf(url, sizeof(url), "%s/mcp", test_server_url(s));
        CU_ASSERT_EQUAL_FATAL(test_http("POST", url, body, strlen(body), NULL, NULL, &r), 0);
        j = body_json(&r);
        CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(j, "error"), "code")),
                        -32602);
        json_decref(j);
        http_resp_free(&r);
        free(body);
        free(args);
    }
    test_server_stop(s);
}
