/*
 * test_http_hard.c — suite `http_hard`: one client must not starve the others (issue 9).
 * Real servers on port 0, driven over raw sockets (for framing, half-sent requests and a
 * second source address, 127.0.0.2) and libcurl: request framing, the per-address
 * connection cap, the header timeout, access-log escaping, API key files, per-client episode
 * quotas, eviction of idle episodes under pressure, and bounded, shared episode memory.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "base/limits.h"
#include "base/metrics.h"
#include "server/episode.h"
#include "server/http.h"
#include "server/server.h"
#include "tg_test.h"

#define TEST_TASKS "data/tasks/test.jsonl"

/* A quiet server on the shipped test tasks; the caller adjusts *c after this. */
static void config(struct server_config *c) {
    server_config_defaults(c);
    c->quiet = 1;
    c->tasks = TEST_TASKS;
}

/* ---- raw sockets ------------------------------------------------------------------------- */

/* A socket connected to the server from 127.0.0.<src>, reads timing out after 10 s; -1 on
 * failure. */
static int dial(int port, int src) {
    struct sockaddr_in sa;
    struct timeval tv = {10, 0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK - 1 + (unsigned)src);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int send_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Read until the server closes (or 10 s pass without data) into buf; returns the bytes read
 * and sets *closed when the server closed the connection. */
static size_t read_all(int fd, char *buf, size_t n, int *closed) {
    size_t got = 0;

    *closed = 0;
    while (got + 1 < n) {
        ssize_t r = recv(fd, buf + got, n - 1 - got, 0);

        if (r == 0 || (r < 0 && errno == ECONNRESET)) {
            *closed = 1;
            break;
        }
        if (r < 0)
            break;
        got += (size_t)r;
    }
    buf[got] = '\0';
    return got;
}

/* Read exactly one response (headers, then Content-Length bytes of body) into buf; returns
 * its status or -1. */
static int read_one(int fd, char *buf, size_t n) {
    size_t got = 0;
    char *end = NULL;
    long cl = 0;

    while (got + 1 < n) {
        ssize_t r = recv(fd, buf + got, n - 1 - got, 0);

        if (r <= 0)
            return -1;
        got += (size_t)r;
        buf[got] = '\0';
        end = strstr(buf, "\r\n\r\n");
        if (end) {
            const char *h = strcasestr(buf, "\r\nContent-Length:");

            cl = h ? strtol(h + 17, NULL, 10) : 0;
            if ((size_t)(end + 4 - buf) + (size_t)cl <= got)
                break;
        }
    }
    if (!end || strncmp(buf, "HTTP/1.1 ", 9) != 0)
        return -1;
    return (int)strtol(buf + 9, NULL, 10);
}

/* Responses in a byte stream: status lines at the start of a line. */
static int count_responses(const char *s) {
    int n = 0;

    for (const char *p = s; (p = strstr(p, "HTTP/1.1 ")) != NULL; p++)
        if (p == s || p[-1] == '\n')
            n++;
    return n;
}

/* One request with Connection: close from 127.0.0.<src>; returns the status (-1 on transport
 * failure) and the response in buf. */
static int raw_request(int port, int src, const char *method, const char *path,
                       const char *extra_headers, const char *body, char *buf, size_t n) {
    char req[2048];
    int fd = dial(port, src), closed;

    if (fd < 0)
        return -1;
    snprintf(req, sizeof(req),
             "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n%s%s%zu\r\n\r\n%s", method,
             path, extra_headers ? extra_headers : "",
             body ? "Content-Type: application/json\r\nContent-Length: " : "Content-Length: ",
             body ? strlen(body) : 0, body ? body : "");
    if (send_all(fd, req, strlen(req)) != 0) {
        close(fd);
        return -1;
    }
    read_all(fd, buf, n, &closed);
    close(fd);
    if (strncmp(buf, "HTTP/1.1 ", 9) != 0)
        return -1;
    return (int)strtol(buf + 9, NULL, 10);
}

/* The JSON body of a raw response (new) or NULL. */
static json_t *raw_body(const char *resp) {
    const char *b = strstr(resp, "\r\n\r\n");

    return b ? json_loads(b + 4, 0, NULL) : NULL;
}

static const char *str_or_empty(const json_t *v) {
    const char *p = json_string_value(v);

    return p ? p : "";
}

static const char *err_code(const json_t *j) {
    const char *c = json_string_value(json_object_get(json_object_get(j, "error"), "code"));

    return c ? c : "";
}

/* ---- request framing ----------------------------------------------------------------------- */

/* A request whose framing is ambiguous gets one 400 and the connection is closed, so that the
 * bytes after it are never read as a second ("smuggled") request. */
static void expect_framing_400(int port, const char *head) {
    static const char smuggled[] = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
    char req[1024], resp[8192];
    int fd = dial(port, 1), closed = 0;
    json_t *j;

    CU_ASSERT_FATAL(fd >= 0);
    snprintf(req, sizeof(req),
             "POST /v1/tools/calculator HTTP/1.1\r\nHost: localhost\r\nContent-Type: "
             "application/json\r\n"
             "%s\r\n%s",
             head, smuggled);
    CU_ASSERT_EQUAL(send_all(fd, req, strlen(req)), 0);
    read_all(fd, resp, sizeof(resp), &closed);
    close(fd);
    CU_ASSERT_EQUAL(count_responses(resp), 1);
    CU_ASSERT(strncmp(resp, "HTTP/1.1 400 ", 13) == 0);
    CU_ASSERT(closed);
    CU_ASSERT_PTR_NULL(strstr(resp, "\"status\":\"ok\"")); /* /healthz was never answered */
    j = raw_body(resp);
    CU_ASSERT_STRING_EQUAL(err_code(j), "invalid_request");
    json_decref(j);
}

TG_TEST(http_hard, ambiguous_framing_is_400_and_closes) {
    struct server_config c;
    struct server *s;
    char resp[4096];

    config(&c);
    s = test_server_start(&c);
    CU_ASSERT_FATAL(s != NULL);
    /* two different Content-Lengths (the first used to win) */
    expect_framing_400(server_port(s), "Content-Length: 0\r\nContent-Length: 34\r\n");
    expect_framing_400(server_port(s), "Content-Length: 34\r\ncontent-length: 0\r\n");
    /* Content-Length with chunked */
    expect_framing_400(server_port(s),
                       "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n");
    expect_framing_400(server_port(s),
                       "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n");
    /* a transfer coding the server cannot decode */
    expect_framing_400(server_port(s), "Transfer-Encoding: gzip, chunked\r\n");
    /* well-framed requests still work: one Content-Length, repeated equal ones, chunked */
    CU_ASSERT_EQUAL(raw_request(server_port(s), 1, "POST", "/v1/tools/calculator",
                                "Content-Length: 38\r\n",
                                "{\"arguments\":{\"expression\":\"6*7\"}}    ", resp, sizeof(resp)),
                    200);
    {
        static const char chunked[] =
            "POST /v1/tools/calculator HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            "22\r\n{\"arguments\":{\"expression\":\"6*7\"}}\r\n0\r\n\r\n";
        int fd = dial(server_port(s), 1), closed;

        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT_EQUAL(send_all(fd, chunked, strlen(chunked)), 0);
        read_all(fd, resp, sizeof(resp), &closed);
        close(fd);
        CU_ASSERT(strncmp(resp, "HTTP/1.1 200 ", 13) == 0);
    }
    test_server_stop(s);
}

/* ---- connections ----------------------------------------------------------------------------- */

#define HALF_SENT 1100

/* 1,100 idle half-sent requests from one address used to fill every connection slot, so that
 * /healthz stopped answering; the per-address cap leaves room for everyone else. */
TG_TEST(http_hard, half_sent_requests_from_one_address_do_not_stop_healthz) {
    struct server_config c;
    struct server *s;
    struct rlimit rl;
    static int fds[HALF_SENT];
    static const char half[] = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n";
    struct http_resp r;
    char url[128], resp[4096];
    int opened = 0;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096 && rl.rlim_max >= 4096) {
        rl.rlim_cur = 4096;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    config(&c);
    c.header_timeout_sec = 600; /* the cap alone must do it */
    s = test_server_start(&c);
    CU_ASSERT_FATAL(s != NULL);
    for (int i = 0; i < HALF_SENT; i++) {
        fds[i] = dial(server_port(s), 2);
        if (fds[i] >= 0 && send_all(fds[i], half, sizeof(half) - 1) == 0)
            opened++;
    }
    CU_ASSERT(opened > TG_MAX_CONNECTIONS);
    /* from another address, /healthz answers within the 10 s read timeout of dial() */
    CU_ASSERT_EQUAL(
        raw_request(server_port(s), 1, "GET", "/healthz", NULL, NULL, resp, sizeof(resp)), 200);
    snprintf(url, sizeof(url), "%s/v1/tools/calculator", test_server_url(s));
    CU_ASSERT_EQUAL(
        test_http("POST", url, "{\"arguments\":{\"expression\":\"2+2\"}}", 34, NULL, NULL, &r), 0);
    CU_ASSERT_EQUAL(r.status, 200);
    http_resp_free(&r);
    for (int i = 0; i < HALF_SENT; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    test_server_stop(s);
}

/* Headers that trickle in, a byte now and then, used to hold a connection forever (the idle
 * timeout never fires); the header timeout closes it. A kept-alive connection may still
 * wait longer than the header timeout between requests. */
TG_TEST(http_hard, header_timeout_closes_a_trickling_client) {
    struct server_config c;
    struct server *s;
    char buf[4096];
    int fd, closed = 0, i;
    static const char get[] = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";

    config(&c);
    c.header_timeout_sec = 1;
    s = test_server_start(&c);
    CU_ASSERT_FATAL(s != NULL);
    fd = dial(server_port(s), 2);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(send_all(fd, "GET /healthz HTTP/1.1\r\n", 23), 0);
    for (i = 0; i < 100 && !closed; i++) { /* one header line every 100 ms, for up to 10 s */
        ssize_t r;

        usleep(100000);
        if (send_all(fd, "X-Slow: 1\r\n", 11) != 0) {
            closed = 1;
            break;
        }
        r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            closed = 1;
    }
    close(fd);
    CU_ASSERT(closed);
    /* keep-alive: two requests 1.5 s apart on one connection */
    fd = dial(server_port(s), 1);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(send_all(fd, get, sizeof(get) - 1), 0);
    CU_ASSERT_EQUAL(read_one(fd, buf, sizeof(buf)), 200);
    usleep(1500000);
    CU_ASSERT_EQUAL(send_all(fd, get, sizeof(get) - 1), 0);
    CU_ASSERT_EQUAL(read_one(fd, buf, sizeof(buf)), 200);
    close(fd);
    test_server_stop(s);
}

/* A body that trickles in, a byte now and then, used to hold its connection (and the body
 * buffered so far) for as long as the client liked: the headers were in, and the idle
 * timeout never fires. The body timeout closes it. A body that arrives in parts within the
 * time is served, and so is a request whose handling outlasts the body timeout. */
TG_TEST(http_hard, body_timeout_closes_a_trickling_body) {
    static const char head[] = "POST /v1/tools/calculator HTTP/1.1\r\nHost: localhost\r\n"
                               "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
                               "{\"arguments\":{\"expression\":\"1";
    static const char part1[] = "POST /v1/tools/calculator HTTP/1.1\r\nHost: localhost\r\n"
                                "Content-Type: application/json\r\nContent-Length: 34\r\n\r\n"
                                "{\"arguments\":";
    static const char part2[] = "{\"expression\":\"6*7\"}}";
    static const char slow_run[] = "{\"arguments\":{\"code\":\"import time\\ntime.sleep(1.5)\\n"
                                   "print(7)\"}}";
    struct server_config c;
    struct server *s;
    struct http_resp r;
    char buf[4096], url[256];
    double closed0;
    int fd, closed = 0, i;

    config(&c);
    c.body_timeout_sec = 1;
    c.unsafe_sandbox = 1; /* run_code works even where namespaces are unavailable */
    s = test_server_start(&c);
    CU_ASSERT_FATAL(s != NULL);
    closed0 = metrics_get("toolgym_http_slow_connections_closed_total", "");
    fd = dial(server_port(s), 2);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(send_all(fd, head, sizeof(head) - 1), 0);
    for (i = 0; i < 100 && !closed; i++) { /* one body byte every 100 ms, for up to 10 s */
        ssize_t n;

        usleep(100000);
        if (send_all(fd, "1", 1) != 0) {
            closed = 1;
            break;
        }
        n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            closed = 1;
    }
    close(fd);
    CU_ASSERT(closed);
    CU_ASSERT(metrics_get("toolgym_http_slow_connections_closed_total", "") - closed0 >= 1);
    /* a body in two parts, 300 ms apart: within the time */
    fd = dial(server_port(s), 1);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(send_all(fd, part1, sizeof(part1) - 1), 0);
    usleep(300000);
    CU_ASSERT_EQUAL(send_all(fd, part2, sizeof(part2) - 1), 0);
    CU_ASSERT_EQUAL(read_one(fd, buf, sizeof(buf)), 200);
    close(fd);
    /* handling is not timed: a 1.5 s run answers after the 1 s body timeout */
    snprintf(url, sizeof(url), "%s/v1/tools/run_code", test_server_url(s));
    CU_ASSERT_EQUAL_FATAL(test_http("POST", url, slow_run, strlen(slow_run), NULL, NULL, &r), 0);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT(strstr(r.body, "\"content\":\"7\\n\"") != NULL);
    http_resp_free(&r);
    test_server_stop(s);
}

/* ---- the access log ---------------------------------------------------------------------- */

TG_TEST(http_hard, log_escape_writes_bytes_outside_printable_ascii_as_hex) {
    char out[128];

    CU_ASSERT_STRING_EQUAL(http_log_escape("/v1/tools", out, sizeof(out)), "/v1/tools");
    CU_ASSERT_STRING_EQUAL(http_log_escape("a\nb\\c d\x7f\xc3\xa9\r\t", out, sizeof(out)),
                           "a\\x0ab\\x5cc\\x20d\\x7f\\xc3\\xa9\\x0d\\x09");
    /* truncation never splits an escape */
    CU_ASSERT_STRING_EQUAL(http_log_escape("ab\ncd", out, 6), "ab");
    CU_ASSERT_STRING_EQUAL(http_log_escape("abcdef", out, 4), "abc");
}

/* A decoded %0a in the path used to end the log line and start a forged one. */
TG_TEST(http_hard, access_log_lines_cannot_be_forged) {
    struct server_config c;
    struct server *s;
    char path[] = "/tmp/tg_access_log_XXXXXX", log[16384], url[256];
    struct http_resp r;
    int fd, saved, lines = 0;
    ssize_t n;

    fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    fflush(stderr);
    saved = dup(2);
    dup2(fd, 2);
    config(&c);
    c.quiet = 0;
    s = test_server_start(&c);
    if (s) {
        snprintf(url, sizeof(url), "%s/nope%%0aGET%%20/v1/admin%%20200%%201us%%0d%%1b[2J",
                 test_server_url(s));
        test_http("GET", url, NULL, 0, NULL, NULL, &r);
        http_resp_free(&r);
    }
    test_server_stop(s); /* the log line is written by the time the server has stopped */
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    n = pread(fd, log, sizeof(log) - 1, 0);
    close(fd);
    unlink(path);
    CU_ASSERT_FATAL(n > 0);
    log[n] = '\0';
    for (char *p = log; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        CU_ASSERT(strncmp(p, "GET /v1/admin", 13) != 0);
        if (strncmp(p, "GET /nope", 9) == 0)
            lines++;
    }
    CU_ASSERT_EQUAL(lines, 1);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(log, "GET /nope\\x0aGET\\x20/v1/admin\\x20200\\x201us\\x0d\\x1b[2J 404 "));
    CU_ASSERT_PTR_NULL(strchr(log, '\r'));
    CU_ASSERT_PTR_NULL(strchr(log, '\x1b'));
}

/* ---- API keys ------------------------------------------------------------------------------- */

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");

    CU_ASSERT_FATAL(f != NULL);
    fputs(text, f);
    fclose(f);
    chmod(path, 0600);
}

static long auth_status(struct server *s, const char *header) {
    struct http_resp r;
    char url[256];
    long st;

    snprintf(url, sizeof(url), "%s/v1/tools", test_server_url(s));
    if (test_http("GET", url, NULL, 0, NULL, header, &r) != 0)
        return -1;
    st = r.status;
    http_resp_free(&r);
    return st;
}

TG_TEST(http_hard, api_key_file_holds_several_keys) {
    struct server_config c;
    struct server *s;
    char path[64];

    snprintf(path, sizeof(path), "/tmp/tg_keys_%d", (int)getpid());
    write_file(path, "# trainer\n  alpha-key-1  \n\nbeta.key_2\r\n#gamma-key-3\n");
    config(&c);
    c.api_key_file = path;
    c.api_key = "cli-key";
    s = test_server_start(&c);
    CU_ASSERT_FATAL(s != NULL);
    CU_ASSERT_EQUAL(auth_status(s, "Authorization: Bearer alpha-key-1"), 200);
    CU_ASSERT_EQUAL(auth_status(s, "Authorization: Bearer beta.key_2"), 200);
    CU_ASSERT_EQUAL(auth_status(s, "Authorization: Bearer cli-key"), 200);
    /* the scheme is case-insensitive (RFC 9110); the key is not */
    CU_ASSERT_EQUAL(auth_status(s, "Authorization: bearer alpha-key-1"), 200);
    CU_ASSERT_EQUAL(auth_status(s, "Authorization: BEARER   beta.key_2"), 200);
    CU_ASSERT_EQUAL(auth_status(s, "Authorization: Bearer ALPHA-KEY-1"), 401);
    /* comments, prefixes, extensions, other schemes, nothing */
    CU_ASSERT_EQUAL(auth_status(s, "Authorization: Bearer gamma-key-3"), 401);
    CU_ASSERT_EQUAL(auth_status(s, "Authorization: Bearer #gamma-key-3"), 401);
    CU_ASSERT_EQUAL(auth_status(s, "Authorization: Bearer alpha-key-"), 401);
    CU_ASSERT_EQUAL(auth_status(s, "Authorization: Bearer alpha-key-12"), 401);
    CU_ASSERT_EQUAL(auth_status(s, "Authorization: Basic alpha-key-1"), 401);
    CU_ASSERT_EQUAL(auth_status(s, "Authorization: Beareralpha-key-1"), 401);
    CU_ASSERT_EQUAL(auth_status(s, "Authorization: Bearer "), 401);
    CU_ASSERT_EQUAL(auth_status(s, NULL), 401);
    test_server_stop(s);
    unlink(path);
}

TG_TEST(http_hard, bad_api_key_files_stop_start_up) {
    static const char *const bad[] = {
        "# only a comment\n\n",   /* no key: refuse rather than serve without auth */
        "good-key\nbad key\n",    /* a space inside a key */
        "good-key\nbad\x01key\n", /* a control character */
    };
    struct server_config c;
    struct server *s = NULL;
    struct tg_error err;
    char path[64], longkey[TG_API_KEY_MAX + 8];

    snprintf(path, sizeof(path), "/tmp/tg_badkeys_%d", (int)getpid());
    for (size_t i = 0; i < TG_ARRAY_LEN(bad); i++) {
        write_file(path, bad[i]);
        config(&c);
        c.port = 0;
        c.api_key_file = path;
        CU_ASSERT_NOT_EQUAL(server_start(&c, &s, &err), 0);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "--api-key-file"));
    }
    memset(longkey, 'k', TG_API_KEY_MAX + 1);
    longkey[TG_API_KEY_MAX + 1] = '\n';
    longkey[TG_API_KEY_MAX + 2] = '\0';
    write_file(path, longkey);
    CU_ASSERT_NOT_EQUAL(server_start(&c, &s, &err), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "line 1"));
    unlink(path);
    CU_ASSERT_NOT_EQUAL(server_start(&c, &s, &err), 0); /* missing file */
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, path));
    c.api_key_file = NULL;
    c.api_key = ""; /* an empty key would lock every client out (or, once, let any in) */
    CU_ASSERT_NOT_EQUAL(server_start(&c, &s, &err), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "--api-key"));
}

/* ---- episodes: quotas, eviction, bounded memory ----------------------------------------- */

static int create_raw(int port, int src, const char *auth, char *id, size_t n) {
    char resp[8192];
    int st = raw_request(port, src, "POST", "/v1/episodes", auth,
                         "{\"split\":\"test\",\"feedback\":\"judge\"}", resp, sizeof(resp));
    json_t *j = raw_body(resp);

    id[0] = '\0';
    if (st == 201)
        snprintf(id, n, "%s", json_string_value(json_object_get(j, "episode_id")));
    else if (st == 429 || st == 503)
        CU_ASSERT_PTR_NOT_NULL(strcasestr(resp, "\r\nRetry-After: "));
    if (st == 429)
        CU_ASSERT_STRING_EQUAL(err_code(j), "quota_exceeded");
    if (st == 503)
        CU_ASSERT_STRING_EQUAL(err_code(j), "overloaded");
    json_decref(j);
    return st;
}

/* One client used to fill --max-episodes with unfinished episodes and lock everyone out. By
 * default an address may hold 1/8 of the store (here 4096 / 8). */
TG_TEST(http_hard, one_address_cannot_fill_the_episode_store) {
    struct server_config c;
    struct server *s;
    char id[64];
    int created = 0, refused = 0;
    const int share = 4096 / TG_CLIENT_SHARE_DIV;

    config(&c);
    c.max_episodes = 4096;
    s = test_server_start(&c);
    CU_ASSERT_FATAL(s != NULL);
    for (int i = 0; i < share + 20; i++) {
        int st = create_raw(server_port(s), 2, NULL, id, sizeof(id));

        created += st == 201;
        refused += st == 429;
    }
    CU_ASSERT_EQUAL(created, share);
    CU_ASSERT_EQUAL(refused, 20);
    /* another address plays on */
    CU_ASSERT_EQUAL(create_raw(server_port(s), 1, NULL, id, sizeof(id)), 201);
    test_server_stop(s);
}

/* With API keys the clients are the keys: two keys, half the store each by default. */
TG_TEST(http_hard, quotas_follow_api_keys) {
    struct server_config c;
    struct server *s;
    char path[64], id[64];
    int a = 0;

    snprintf(path, sizeof(path), "/tmp/tg_qkeys_%d", (int)getpid());
    write_file(path, "key-a\nkey-b\n");
    config(&c);
    c.max_episodes = 600;
    c.api_key_file = path;
    s = test_server_start(&c);
    CU_ASSERT_FATAL(s != NULL);
    while (a < 310 &&
           create_raw(server_port(s), 1, "Authorization: Bearer key-a\r\n", id, sizeof(id)) == 201)
        a++;
    CU_ASSERT_EQUAL(a, 300);
    /* the same address with the other key is another client */
    CU_ASSERT_EQUAL(
        create_raw(server_port(s), 1, "Authorization: Bearer key-b\r\n", id, sizeof(id)), 201);
    test_server_stop(s);
    unlink(path);
}

/* Under pressure an idle unfinished episode gives way; a live one never does. */
TG_TEST(http_hard, idle_unfinished_episodes_are_evicted_under_pressure) {
    struct server_config c;
    struct server *s;
    char ids[4][64], id[64], resp[4096], path[128];

    config(&c);
    c.max_episodes = 4;
    c.client_episodes = 4;
    c.evict_idle_sec = 1;
    s = test_server_start(&c);
    CU_ASSERT_FATAL(s != NULL);
    for (int i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(create_raw(server_port(s), 2, NULL, ids[i], sizeof(ids[i])), 201);
    CU_ASSERT_EQUAL(create_raw(server_port(s), 1, NULL, id, sizeof(id)), 503);
    usleep(1500000);
    /* ids[1] is played on: the least recently used is ids[0] */
    snprintf(path, sizeof(path), "/v1/episodes/%s", ids[1]);
    CU_ASSERT_EQUAL(raw_request(server_port(s), 2, "GET", path, NULL, NULL, resp, sizeof(resp)),
                    200);
    CU_ASSERT_EQUAL(create_raw(server_port(s), 1, NULL, id, sizeof(id)), 201);
    snprintf(path, sizeof(path), "/v1/episodes/%s", ids[0]);
    CU_ASSERT_EQUAL(raw_request(server_port(s), 2, "GET", path, NULL, NULL, resp, sizeof(resp)),
                    404);
    snprintf(path, sizeof(path), "/v1/episodes/%s", ids[1]);
    CU_ASSERT_EQUAL(raw_request(server_port(s), 2, "GET", path, NULL, NULL, resp, sizeof(resp)),
                    200);
    test_server_stop(s);
}

/* A 10-byte fork of an episode holding megabytes of malformed calls used to cost megabytes. */
TG_TEST(http_hard, forks_of_big_malformed_episodes_are_cheap) {
    struct server_config c;
    struct server *s;
    size_t big = 900 * 1024, before, after, n;
    char *body = malloc(big + 128), id[64], path[128], url[256], fork_body[32];
    struct http_resp r;
    json_t *j;

    CU_ASSERT_FATAL(body != NULL);
    config(&c);
    s = test_server_start(&c);
    CU_ASSERT_FATAL(s != NULL);
    snprintf(url, sizeof(url), "%s/v1/episodes", test_server_url(s));
    CU_ASSERT_EQUAL(
        test_http("POST", url, "{\"split\":\"test\",\"max_steps\":64}", 31, NULL, NULL, &r), 0);
    j = json_loads(r.body, 0, NULL);
    snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(j, "episode_id")));
    json_decref(j);
    http_resp_free(&r);
    /* 7 calls of an unknown tool with 900 kB of arguments each */
    n = (size_t)snprintf(body, big + 128,
                         "{\"tool_call\":{\"name\":\"teleport\",\"arguments\":{\"a\":\"");
    memset(body + n, 'x', big);
    memcpy(body + n + big, "\"}}}", 5);
    snprintf(url, sizeof(url), "%s/v1/episodes/%s/step", test_server_url(s), id);
    for (int i = 0; i < 7; i++) {
        CU_ASSERT_EQUAL(test_http("POST", url, body, strlen(body), NULL, NULL, &r), 0);
        CU_ASSERT_EQUAL(r.status, 200);
        http_resp_free(&r);
    }
    before = episode_store_bytes(s->episodes);
    CU_ASSERT(before < 7 * 8 * 1024); /* not 7 * 900 kB */
    snprintf(path, sizeof(path), "%s/v1/episodes/%s", test_server_url(s), id);
    CU_ASSERT_EQUAL(test_http("GET", path, NULL, 0, NULL, NULL, &r), 0);
    j = json_loads(r.body, 0, NULL);
    for (size_t i = 0; i < 7; i++) {
        json_t *tc = json_object_get(
            json_object_get(json_array_get(json_object_get(j, "steps"), i), "action"), "tool_call");

        CU_ASSERT(json_is_true(json_object_get(tc, "arguments_truncated")));
        CU_ASSERT(json_string_length(json_object_get(tc, "arguments")) <= TG_STEP_ARGS_KEEP);
    }
    json_decref(j);
    http_resp_free(&r);
    /* 50 forks at step 7 add one episode struct each */
    snprintf(url, sizeof(url), "%s/v1/episodes/%s/fork", test_server_url(s), id);
    snprintf(fork_body, sizeof(fork_body), "{\"at\":7}");
    for (int i = 0; i < 50; i++) {
        CU_ASSERT_EQUAL(test_http("POST", url, fork_body, strlen(fork_body), NULL, NULL, &r), 0);
        CU_ASSERT_EQUAL(r.status, 201);
        http_resp_free(&r);
    }
    after = episode_store_bytes(s->episodes);
    CU_ASSERT(after - before <= 50 * episode_struct_bytes(64));
    test_server_stop(s);
    free(body);
}

/* Past --max-episode-bytes the store refuses new episodes with 503. */
TG_TEST(http_hard, episode_store_memory_is_bounded) {
    struct server_config c;
    struct server *s;
    char id[64];
    int created = 0, st = 201;

    config(&c);
    c.max_episode_bytes = 64 * 1024;
    c.client_bytes = 1UL << 30; /* the store's limit, not the client's */
    s = test_server_start(&c);
    CU_ASSERT_FATAL(s != NULL);
    while (created < 1000 && (st = create_raw(server_port(s), 1, NULL, id, sizeof(id))) == 201)
        created++;
    CU_ASSERT_EQUAL(st, 503);
    CU_ASSERT((size_t)created >= 64 * 1024 / (2 * episode_struct_bytes(TG_MAX_STEPS_DEFAULT)));
    CU_ASSERT(episode_store_bytes(s->episodes) <= 64 * 1024);
    test_server_stop(s);
}

/* At its byte share a client's tool calls are refused (429, no step taken); its answers are
 * not, since answering is how it makes its episodes evictable. */
TG_TEST(http_hard, steps_past_a_client_byte_share_are_refused_but_answers_are_not) {
    struct server_config c;
    struct server *s;
    char id[64], path[128], resp[16384];
    static const char call[] =
        "{\"tool_call\":{\"name\":\"search\",\"arguments\":{\"query\":\"population city\"}}}";
    int st = 200, steps = 0;
    json_t *j;

    config(&c);
    c.client_bytes = 20 * 1024;
    s = test_server_start(&c);
    CU_ASSERT_FATAL(s != NULL);
    CU_ASSERT_EQUAL_FATAL(create_raw(server_port(s), 1, NULL, id, sizeof(id)), 201);
    snprintf(path, sizeof(path), "/v1/episodes/%s/step", id);
    while (steps < 8 && (st = raw_request(server_port(s), 1, "POST", path, NULL, call, resp,
                                          sizeof(resp))) == 200)
        steps++;
    CU_ASSERT_EQUAL(st, 429);
    CU_ASSERT(steps >= 1 && steps < 8);
    j = raw_body(resp);
    CU_ASSERT_STRING_EQUAL(err_code(j), "quota_exceeded");
    json_decref(j);
    CU_ASSERT_EQUAL(raw_request(server_port(s), 1, "POST", path, NULL, "{\"answer\":\"1\"}", resp,
                                sizeof(resp)),
                    200);
    j = raw_body(resp);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "step")), steps + 1); /* none lost */
    CU_ASSERT(json_is_true(json_object_get(j, "done")));
    json_decref(j);
    test_server_stop(s);
}

/* Names quoted in messages are cut to a byte count; cut inside a character (or taken from a
 * URL that decodes to bytes that are not UTF-8) they used to make the JSON body impossible to
 * build: a 404 without the error shape, a step answered 500. */
TG_TEST(http_hard, names_cut_inside_a_character_keep_the_error_shape) {
    struct server_config c;
    struct server *s;
    char name[256], body[512], resp[8192], id[64], path[384];
    size_t n = 0;
    json_t *j;

    name[n++] = 'x';
    while (n + 2 < 200) { /* "x" then "é"s: any even cut falls inside one */
        name[n++] = (char)0xc3;
        name[n++] = (char)0xa9;
    }
    name[n] = '\0';
    config(&c);
    s = test_server_start(&c);
    CU_ASSERT_FATAL(s != NULL);
    /* an unknown task id */
    snprintf(body, sizeof(body), "{\"task_id\":\"%s\"}", name);
    CU_ASSERT_EQUAL(
        raw_request(server_port(s), 1, "POST", "/v1/episodes", NULL, body, resp, sizeof(resp)),
        404);
    j = raw_body(resp);
    CU_ASSERT_STRING_EQUAL(err_code(j), "not_found");
    json_decref(j);
    /* an unknown tool inside an episode: a malformed step, not a 500 */
    CU_ASSERT_EQUAL_FATAL(create_raw(server_port(s), 1, NULL, id, sizeof(id)), 201);
    snprintf(path, sizeof(path), "/v1/episodes/%s/step", id);
    snprintf(body, sizeof(body), "{\"tool_call\":{\"name\":\"%s\",\"arguments\":{}}}", name);
    CU_ASSERT_EQUAL(raw_request(server_port(s), 1, "POST", path, NULL, body, resp, sizeof(resp)),
                    200);
    j = raw_body(resp);
    CU_ASSERT_STRING_EQUAL(err_code(json_object_get(j, "observation")), "unknown_tool");
    CU_ASSERT_STRING_EQUAL(str_or_empty(json_object_get(json_object_get(j, "judgement"), "label")),
                           "malformed");
    json_decref(j);
    /* an episode id that decodes to bytes that are not UTF-8 */
    CU_ASSERT_EQUAL(raw_request(server_port(s), 1, "GET", "/v1/episodes/%ff%fe%c3", NULL, NULL,
                                resp, sizeof(resp)),
                    404);
    j = raw_body(resp);
    CU_ASSERT_STRING_EQUAL(err_code(j), "not_found");
    json_decref(j);
    test_server_stop(s);
}

/* ---- requests from memory ------------------------------------------------------------------ */

/* http_handle on a request with the given headers and body; returns the status and *text
 * (new, the rendered body, or NULL). */
static unsigned handle(struct server *s, const char *method, const char *path,
                       const struct http_kv *h, size_t nh, const struct http_kv *q, size_t nq,
                       const char *body, char **text, struct http_reply *out) {
    struct http_head head = {method, path, h, nh, q, nq, "127.0.0.9", "127.0.0.1"};
    struct http_reply rp;
    size_t len;
    const char *ctype;
    unsigned status;

    *text = NULL;
    if (http_handle(s, &head, body, body ? strlen(body) : 0, &rp) != 0)
        return 0;
    if (out) { /* the caller wants the headers' worth of the reply */
        out->close = rp.close;
        out->retry_after = rp.retry_after;
        snprintf(out->allow, sizeof(out->allow), "%s", rp.allow);
    }
    CU_ASSERT_EQUAL(http_reply_render(&rp, text, &len, &ctype), 0);
    status = rp.status;
    http_reply_clear(&rp);
    return status;
}

/* http_handle is the whole request path of a socket's request (the fuzz targets drive it):
 * the same routing, checks, auth, handlers and metrics, the same bytes in the reply. */
TG_TEST(http_hard, requests_from_memory_take_the_sockets_path) {
    static const char calc[] = "{\"arguments\":{\"expression\":\"6*7\"}}";
    static const char code[] = "{\"arguments\":{\"code\":\"print(1)\"}}";
    const struct http_kv host[] = {{"Host", "127.0.0.1"}};
    const struct http_kv json_body[] = {{"Host", "localhost"},
                                        {"content-type", "application/json"},
                                        {"Content-Length", "34"},
                                        {"Authorization", "bearer k1"}};
    const struct http_kv two_lengths[] = {{"Host", "127.0.0.1"},
                                          {"Content-Type", "application/json"},
                                          {"Content-Length", "2"},
                                          {"Content-Length", "3"},
                                          {"Authorization", "Bearer k1"}};
    const struct http_kv key[] = {{"host", "127.0.0.1"}, {"AUTHORIZATION", "Bearer k1"}};
    const struct http_kv rebound[] = {{"Host", "evil.example"}, {"Authorization", "Bearer k1"}};
    const struct http_kv q_ok[] = {{"split", "test"}, {"limit", "1"}};
    const struct http_kv q_case[] = {{"split", "test"}, {"Limit", "1"}};
    struct server_config c;
    struct http_reply extra;
    struct http_resp r;
    struct server *s;
    char url[256], *text;
    double before;
    json_t *j;

    config(&c);
    c.api_key = "k1";
    s = test_server_start(&c);
    CU_ASSERT_FATAL(s != NULL);
    before = metrics_get("toolgym_http_requests_total", "route=\"/healthz\",status=\"200\"");
    /* a public route without a key, counted like any request */
    CU_ASSERT_EQUAL(handle(s, "GET", "/healthz", host, 1, NULL, 0, NULL, &text, NULL), 200);
    CU_ASSERT(text && strstr(text, "\"status\":\"ok\"") != NULL);
    free(text);
    CU_ASSERT_EQUAL(
        metrics_get("toolgym_http_requests_total", "route=\"/healthz\",status=\"200\"") - before,
        1);
    /* auth: the header's name in any case, the scheme in any case */
    CU_ASSERT_EQUAL(handle(s, "GET", "/v1/tools", host, 1, NULL, 0, NULL, &text, NULL), 401);
    free(text);
    CU_ASSERT_EQUAL(handle(s, "GET", "/v1/tools", key, 2, NULL, 0, NULL, &text, NULL), 200);
    free(text);
    /* the Host check (DNS rebinding) applies as well: a foreign name is 403, key or not */
    CU_ASSERT_EQUAL(handle(s, "GET", "/v1/tools", rebound, 2, NULL, 0, NULL, &text, NULL), 403);
    free(text);
    /* a tool call: the very bytes a socket's client reads */
    CU_ASSERT_EQUAL(
        handle(s, "POST", "/v1/tools/calculator", json_body, 4, NULL, 0, calc, &text, NULL), 200);
    snprintf(url, sizeof(url), "%s/v1/tools/calculator", test_server_url(s));
    CU_ASSERT_EQUAL_FATAL(
        test_http("POST", url, calc, strlen(calc), NULL, "Authorization: Bearer k1", &r), 0);
    CU_ASSERT_STRING_EQUAL(r.body, text ? text : "");
    http_resp_free(&r);
    free(text);
    /* framing: two lengths are 400 and the connection is to close */
    CU_ASSERT_EQUAL(
        handle(s, "POST", "/v1/tools/calculator", two_lengths, 5, NULL, 0, "{}x", &text, &extra),
        400);
    CU_ASSERT_EQUAL(extra.close, 1);
    free(text);
    /* query parameters are matched exactly: "Limit" is not "limit" */
    CU_ASSERT_EQUAL(handle(s, "GET", "/v1/tasks", key, 2, q_ok, 2, NULL, &text, NULL), 200);
    j = text ? json_loads(text, 0, NULL) : NULL;
    CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "tasks")), 1);
    json_decref(j);
    free(text);
    CU_ASSERT_EQUAL(handle(s, "GET", "/v1/tasks", key, 2, q_case, 2, NULL, &text, NULL), 400);
    CU_ASSERT(text && strstr(text, "Unknown query parameter \\\"Limit\\\"") != NULL);
    free(text);
    /* no connection to suspend: a run_code call is refused as by a full queue */
    CU_ASSERT_EQUAL(
        handle(s, "POST", "/v1/tools/run_code", json_body, 4, NULL, 0, code, &text, &extra), 503);
    CU_ASSERT(text && strstr(text, "\"overloaded\"") != NULL);
    CU_ASSERT_EQUAL(extra.retry_after, TG_RUN_RETRY_AFTER_SEC);
    free(text);
    test_server_stop(s);
}
