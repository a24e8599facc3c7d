/*
 * bench/soak.c — the soak test: well-behaved clients play episodes and call all three tools
 * (hostile programs included) for a set time, in rounds that alternate between no faults and
 * faults injected from another address; it reports the well-behaved clients' throughput and
 * latency in both, the server's RSS over time, and whether every episode they finished is in
 * the trajectory log exactly once.
 *
 * usage: soak --server URL --pid PID --trajectories FILE --max-episodes N
 *             [--seconds 300] [--rounds 5] [--clients 64] [--code-every 16] [--fault-addr
 * 127.0.0.2]
 *             [--faults 1]
 * It does not start the server (bench/soak.sh does, and passes its pid for /proc/PID/status).
 *
 * Well-behaved clients (threads on 127.0.0.1, one keep-alive libcurl handle each) repeat: play
 * an episode (create, a calculator step, a search step, the answer), or call the calculator,
 * search, or the calculator through MCP; and, once every --code-every seconds, run_code: most
 * runs are small programs, one in four is hostile (a busy loop, a fork bomb, a memory bomb, an
 * output flood, a connect to the server, a 100 MB file, kill(-1)). A 429 or 503 is "refused"
 * and the client waits its Retry-After; any other non-2xx is an error.
 *
 * Faults (one thread per kind, each from its own address, --fault-addr and the next five, so
 * that each meets the server rather than the per-address connection cap; acting only in fault
 * phases and closing what they hold at the end of each): mid-request disconnects (a run_code call
 * abandoned as soon as sent, a body cut in half, a bare connect), slow headers (32 connections
 * trickling a header byte every 500 ms), slow bodies (32 connections sending complete headers, then
 * a body byte every 500 ms), bursts past the run queue (every 3 s, 100 run_code calls at once),
 * oversized bodies (a 2 MiB Content-Length, 1.1 MiB chunked) and malformed requests (bad JSON, bad
 * UTF-8, deep nesting, ambiguous framing, a wrong content type, a garbage request line).
 *
 * A newcomer (one more thread on 127.0.0.1) asks GET /healthz on a new connection every
 * 100 ms in both phases: whether a client that was not already connected gets in.
 *
 * Rounds alternate the order (clean then faults, faults then clean) so that a drift of the
 * machine's load weighs on both; a ratio is the median of the per-round ratios. --faults 0
 * injects nothing in either phase (to see the noise between phases of the same load).
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench/stats.h"
#include "base/dbuf.h"
#include "base/num.h"

#define MAX_ROUNDS  64
#define MAX_CLIENTS 512
#define RESP_MAX    (4L << 20)
#define HIST_N      200 /* latency buckets: 20 a decade from 10 us to 10^10 us */
#define SLOW_CONNS  32
#define BURST       100
#define TICK_MS     500

enum { CLEAN, FAULTS, NKINDS };
enum { API, CODE, NCLASSES };

static double now_s(void) {
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void nap_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* ---- configuration and the phase clock ------------------------------------------------------ */

static struct {
    const char *server;
    int port;
    long pid;
    const char *traj;
    long max_episodes;
    double seconds;
    long rounds, clients;
    double code_every;
    const char *fault_addr;
    long faults; /* 0: no fault is injected in either phase (to look at the clean load alone) */
} cfg = {NULL, 0, 0, NULL, 0, 300, 5, 64, 16, "127.0.0.2", 1};

static atomic_int phase_kind = CLEAN; /* CLEAN or FAULTS */
static atomic_int phase_round = 0;
static atomic_int stopping = 0;
static atomic_int phase_gen =
    0; /* bumped at every phase change: fault threads drop what they hold */

/* ---- well-behaved clients' statistics --------------------------------------------------- */

struct stats {
    long ok[MAX_ROUNDS][NKINDS][NCLASSES];
    long episodes[MAX_ROUNDS][NKINDS];
    long quota[NKINDS], refused[NKINDS], errors[NKINDS]; /* 429, 503, other failures */
    long hist[NKINDS][NCLASSES][HIST_N];
};

static int bucket(double sec) {
    double us = sec * 1e6;
    int b = 0;

    while (b < HIST_N - 1 && us >= 10.0 * pow(10.0, (b + 1) / 20.0))
        b++;
    return b;
}

static double bucket_ms(int b) {
    return 10.0 * pow(10.0, (b + 1) / 20.0) / 1000.0; /* upper edge */
}

/* Episodes finished (the reply to the answer said done), for the log check. */
static struct {
    pthread_mutex_t mu;
    char (*ids)[40];
    size_t n, cap;
} finished = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0};

static void finished_add(const char *id) {
    pthread_mutex_lock(&finished.mu);
    if (finished.n == finished.cap) {
        size_t cap = finished.cap ? finished.cap * 2 : 4096;
        char(*ids)[40] = realloc(finished.ids, cap * sizeof(*ids));

        if (ids) {
            finished.ids = ids;
            finished.cap = cap;
        }
    }
    if (finished.n < finished.cap)
        snprintf(finished.ids[finished.n++], 40, "%s", id);
    pthread_mutex_unlock(&finished.mu);
}

struct client {
    int id;
    CURL *h;
    struct curl_slist *hdrs;
    struct dbuf b;
    uint64_t rng;
    double next_code;
    struct stats st;
};

static uint64_t rnd(struct client *c) {
    c->rng = c->rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return c->rng >> 33;
}

/* One POST; counts it in c's stats under class cls. Returns the status (-1: transport). */
static long post(struct client *c, int cls, const char *path, const char *body) {
    char url[512];
    long st = -1;
    int kind = atomic_load(&phase_kind), round = atomic_load(&phase_round);
    double t0 = now_s();

    snprintf(url, sizeof(url), "%s%s", cfg.server, path);
    dbuf_reset(&c->b);
    curl_easy_setopt(c->h, CURLOPT_URL, url);
    curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body);
    if (curl_easy_perform(c->h) == CURLE_OK)
        curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &st);
    if (st >= 200 && st < 300) {
        c->st.ok[round][kind][cls]++;
        c->st.hist[kind][cls][bucket(now_s() - t0)]++;
    } else if (st == 429 || st == 503) {
        if (st == 429)
            c->st.quota[kind]++;
        else
            c->st.refused[kind]++;
        nap_ms(1000); /* Retry-After */
    } else if (!atomic_load(&stopping)) {
        c->st.errors[kind]++;
        if (c->st.errors[kind] <= 3)
            fprintf(stderr, "soak: client %d: %s answered %ld: %.200s\n", c->id, path, st,
                    c->b.p ? c->b.p : "");
    }
    return st;
}

/* The string member key of the last reply (into out, n bytes); -1 when absent. */
static int reply_str(struct client *c, const char *key, char *out, size_t n) {
    json_t *j = c->b.p ? json_loadb(c->b.p, c->b.len, 0, NULL) : NULL;
    const char *v = json_string_value(json_object_get(j, key));
    int rc = v && strlen(v) < n ? 0 : -1;

    if (!rc)
        snprintf(out, n, "%s", v);
    json_decref(j);
    return rc;
}

static int reply_done(struct client *c) {
    json_t *j = c->b.p ? json_loadb(c->b.p, c->b.len, 0, NULL) : NULL;
    int done = json_is_true(json_object_get(j, "done"));

    json_decref(j);
    return done;
}

static void play_episode(struct client *c) {
    char body[256], path[128], id[40];
    int round = atomic_load(&phase_round), kind = atomic_load(&phase_kind);

    snprintf(body, sizeof(body), "{\"split\":\"test\",\"seed\":%llu,\"tag\":\"soak\"}",
             (unsigned long long)rnd(c));
    if (post(c, API, "/v1/episodes", body) != 201 || reply_str(c, "episode_id", id, sizeof(id)))
        return;
    snprintf(path, sizeof(path), "/v1/episodes/%s/step", id);
    snprintf(body, sizeof(body),
             "{\"tool_call\":{\"name\":\"calculator\",\"arguments\":{\"expression\":"
             "\"%llu * 7 + 3\"}}}",
             (unsigned long long)(rnd(c) % 100000));
    if (post(c, API, path, body) != 200)
        return;
    if (post(c, API, path,
             "{\"tool_call\":{\"name\":\"search\",\"arguments\":{\"query\":\"planet mean "
             "radius\"}}}") != 200)
        return;
    if (post(c, API, path, "{\"answer\":\"42\"}") == 200 && reply_done(c)) {
        finished_add(id);
        c->st.episodes[round][kind]++;
    }
}

static const char *const benign[] = {
    "print(sum(i * i for i in range(10000)))",
    "import json\nprint(json.dumps({'a': [1, 2, 3]}))",
    "n = 1000\ns = [1] * n\nfor i in range(2, n):\n    if s[i]:\n        for j in range(i * i, n, "
    "i):\n            s[j] = 0\nprint(sum(s[2:]))",
};
static const char *const hostile[] = {
    "while True:\n    pass",
    "import os\nwhile True:\n    try:\n        os.fork()\n    except Exception:\n        pass",
    "x = bytearray(2 ** 31)",
    "print('x' * 10 ** 7)",
    "import socket\nsocket.create_connection(('127.0.0.1', PORT))",
    "open('/tmp/big', 'wb').write(b'x' * 10 ** 8)",
    "import os, signal\nos.kill(-1, signal.SIGKILL)",
};

static void run_code(struct client *c) {
    json_t *j;
    char *body, code[256];
    int bad = rnd(c) % 4 == 0;
    const char *src = bad ? hostile[rnd(c) % (sizeof(hostile) / sizeof(hostile[0]))]
                          : benign[rnd(c) % (sizeof(benign) / sizeof(benign[0]))];
    const char *port = strstr(src, "PORT");

    if (port) /* the server's own port: a connect attempt the sandbox must refuse */
        snprintf(code, sizeof(code), "%.*s%d%s", (int)(port - src), src, cfg.port, port + 4);
    else
        snprintf(code, sizeof(code), "%s", src);
    j = json_pack("{s:{s:s, s:i}}", "arguments", "code", code, "timeout_ms", bad ? 500 : 2000);
    body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (body)
        post(c, CODE, "/v1/tools/run_code", body);
    free(body);
}

static void *client_main(void *p) {
    struct client *c = p;
    char body[256];

    c->h = curl_easy_init();
    c->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    c->hdrs = curl_slist_append(c->hdrs, "Expect:");
    dbuf_init(&c->b, RESP_MAX);
    curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, c->hdrs);
    curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, dbuf_write_cb);
    curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &c->b);
    curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->h, CURLOPT_TIMEOUT, 120L);
    c->next_code = now_s() + cfg.code_every * (double)(c->id % 16) / 16.0;
    while (!atomic_load(&stopping)) {
        unsigned r = (unsigned)(rnd(c) % 10);

        if (now_s() >= c->next_code) {
            c->next_code = now_s() + cfg.code_every;
            run_code(c);
        } else if (r < 6) {
            play_episode(c);
        } else if (r < 8) {
            snprintf(body, sizeof(body), "{\"arguments\":{\"expression\":\"(%u + 3) * 7 / 2\"}}",
                     (unsigned)(rnd(c) % 1000));
            post(c, API, "/v1/tools/calculator", body);
        } else if (r < 9) {
            post(c, API, "/v1/tools/search",
                 "{\"arguments\":{\"query\":\"founding year\",\"k\":3}}");
        } else {
            post(c, API, "/mcp",
                 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":"
                 "\"calculator\",\"arguments\":{\"expression\":\"2^10\"}}}");
        }
    }
    dbuf_free(&c->b);
    curl_slist_free_all(c->hdrs);
    curl_easy_cleanup(c->h);
    return NULL;
}

/* ---- faults --------------------------------------------------------------------------------- */

static struct {
    atomic_long disconnects, slow_header_conns, slow_header_closed, slow_body_conns,
        slow_body_closed, bursts, burst_ok, burst_quota, burst_refused, burst_other, oversized,
        oversized_413, malformed, malformed_4xx, malformed_closed, unexpected;
    atomic_long slow_header_held_ms, slow_body_held_ms, slow_body_max_ms;
} faults;

static int faulting(void) {
    return cfg.faults && !atomic_load(&stopping) && atomic_load(&phase_kind) == FAULTS;
}

/* Fault kinds, each from its own address (--fault-addr + kind). */
enum { F_DISCONNECT, F_SLOW_HEADERS, F_SLOW_BODIES, F_BURSTS, F_OVERSIZED, F_MALFORMED, NFAULT };

/* A socket to the server from fault address `kind` (sends do not raise SIGPIPE); src -1:
 * 127.0.0.1. -1 on failure. */
static int dial(int kind) {
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    if (inet_pton(AF_INET, kind < 0 ? "127.0.0.1" : cfg.fault_addr, &sa.sin_addr) != 1) {
        close(fd);
        return -1;
    }
    if (kind > 0)
        sa.sin_addr.s_addr = htonl(ntohl(sa.sin_addr.s_addr) + (uint32_t)kind);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    sa.sin_port = htons((uint16_t)cfg.port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int send_all(int fd, const void *p, size_t n) {
    const char *s = p;

    while (n > 0) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Read until the status line is in (or timeout_ms passes); the status, or -1. */
static int read_status(int fd, int timeout_ms) {
    char buf[512];
    size_t n = 0;
    double end = now_s() + timeout_ms / 1000.0;

    while (n < sizeof(buf) - 1 && now_s() < end) {
        struct pollfd pf = {fd, POLLIN, 0};
        ssize_t r;

        if (poll(&pf, 1, 100) <= 0)
            continue;
        r = recv(fd, buf + n, sizeof(buf) - 1 - n, 0);
        if (r <= 0)
            break;
        n += (size_t)r;
        buf[n] = '\0';
        if (strstr(buf, "\r\n"))
            break;
    }
    buf[n] = '\0';
    if (strncmp(buf, "HTTP/1.1 ", 9) != 0 && strncmp(buf, "HTTP/1.0 ", 9) != 0)
        return -1;
    return (int)strtol(buf + 9, NULL, 10);
}

/* 1 when the server closed fd (EOF or reset), without blocking. */
static int closed_by_server(int fd) {
    struct pollfd pf = {fd, POLLIN | POLLRDHUP, 0};
    char buf[256];

    if (poll(&pf, 1, 0) <= 0)
        return 0;
    if (pf.revents & (POLLHUP | POLLERR | POLLRDHUP))
        return 1;
    return recv(fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0;
}

static void wait_for_faults(void) {
    while (!atomic_load(&stopping) && !faulting())
        nap_ms(50);
}

static const char run_req[] = "POST /v1/tools/run_code HTTP/1.1\r\nHost: localhost\r\n"
                              "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s";

static void *disconnector(void *arg) {
    static const char code[] = "{\"arguments\":{\"code\":\"import time\\ntime.sleep(1)\"}}";
    char req[512];
    long i = 0;

    (void)arg;
    while (!atomic_load(&stopping)) {
        int fd;

        wait_for_faults();
        if (!faulting())
            continue;
        fd = dial(F_DISCONNECT);
        if (fd < 0) {
            nap_ms(20);
            continue;
        }
        switch (i++ % 3) {
        case 0: /* a run_code call abandoned as soon as it is sent */
            snprintf(req, sizeof(req), run_req, strlen(code), code);
            send_all(fd, req, strlen(req));
            break;
        case 1: /* a body cut in half */
            snprintf(req, sizeof(req), run_req, strlen(code), "");
            send_all(fd, req, strlen(req));
            send_all(fd, code, strlen(code) / 2);
            break;
        default: /* connect and go */
            break;
        }
        close(fd);
        atomic_fetch_add(&faults.disconnects, 1);
        nap_ms(20);
    }
    return NULL;
}

/* Hold SLOW_CONNS connections, each sending its prefix then one byte every tick, reconnecting
 * those the server closes; body: 1 for slow bodies (complete headers first), 0 for headers. */
static void slow_loop(int body) {
    static const char head_prefix[] =
        "POST /v1/tools/calculator HTTP/1.1\r\nHost: localhost\r\nX-Slow: ";
    static const char body_prefix[] = "POST /v1/tools/calculator HTTP/1.1\r\nHost: localhost\r\n"
                                      "Content-Type: application/json\r\nContent-Length: 100000"
                                      "\r\n\r\n{\"arguments\":{\"expression\":\"1";
    int fds[SLOW_CONNS];
    double since[SLOW_CONNS];
    atomic_long *conns = body ? &faults.slow_body_conns : &faults.slow_header_conns;
    atomic_long *closed = body ? &faults.slow_body_closed : &faults.slow_header_closed;
    atomic_long *held = body ? &faults.slow_body_held_ms : &faults.slow_header_held_ms;

    for (int i = 0; i < SLOW_CONNS; i++)
        fds[i] = -1;
    while (!atomic_load(&stopping)) {
        int gen = atomic_load(&phase_gen);

        wait_for_faults();
        while (faulting() && atomic_load(&phase_gen) == gen) {
            for (int i = 0; i < SLOW_CONNS; i++) {
                if (fds[i] >= 0 && closed_by_server(fds[i])) {
                    long ms = (long)((now_s() - since[i]) * 1000);

                    atomic_fetch_add(closed, 1);
                    atomic_fetch_add(held, ms);
                    close(fds[i]);
                    fds[i] = -1;
                }
                if (fds[i] < 0) {
                    fds[i] = dial(body ? F_SLOW_BODIES : F_SLOW_HEADERS);
                    if (fds[i] < 0)
                        continue;
                    since[i] = now_s();
                    atomic_fetch_add(conns, 1);
                    if (send_all(fds[i], body ? body_prefix : head_prefix,
                                 strlen(body ? body_prefix : head_prefix)) != 0) {
                        close(fds[i]);
                        fds[i] = -1;
                    }
                    continue;
                }
                if (send_all(fds[i], "1", 1) != 0) {
                    atomic_fetch_add(closed, 1);
                    atomic_fetch_add(held, (long)((now_s() - since[i]) * 1000));
                    close(fds[i]);
                    fds[i] = -1;
                }
            }
            nap_ms(TICK_MS);
        }
        /* the phase is over: whatever is still open was held until now */
        for (int i = 0; i < SLOW_CONNS; i++) {
            if (fds[i] < 0)
                continue;
            if (body) {
                long ms = (long)((now_s() - since[i]) * 1000);
                long prev = atomic_load(&faults.slow_body_max_ms);

                while (ms > prev &&
                       !atomic_compare_exchange_weak(&faults.slow_body_max_ms, &prev, ms))
                    ;
            }
            close(fds[i]);
            fds[i] = -1;
        }
    }
}

static void *slow_headers(void *arg) {
    (void)arg;
    slow_loop(0);
    return NULL;
}

static void *slow_bodies(void *arg) {
    (void)arg;
    slow_loop(1);
    return NULL;
}

static void *burster(void *arg) {
    static const char code[] =
        "{\"arguments\":{\"code\":\"import time\\ntime.sleep(1)\",\"timeout_ms\":2000}}";
    char req[512];
    int fds[BURST];

    (void)arg;
    snprintf(req, sizeof(req), run_req, strlen(code), code);
    while (!atomic_load(&stopping)) {
        wait_for_faults();
        if (!faulting())
            continue;
        atomic_fetch_add(&faults.bursts, 1);
        for (int i = 0; i < BURST; i++) {
            fds[i] = dial(F_BURSTS);
            if (fds[i] >= 0 && send_all(fds[i], req, strlen(req)) != 0) {
                close(fds[i]);
                fds[i] = -1;
            }
        }
        for (int i = 0; i < BURST; i++) {
            int st = fds[i] >= 0 ? read_status(fds[i], 60000) : -1;

            if (st == 200)
                atomic_fetch_add(&faults.burst_ok, 1);
            else if (st == 429)
                atomic_fetch_add(&faults.burst_quota, 1);
            else if (st == 503)
                atomic_fetch_add(&faults.burst_refused, 1);
            else
                atomic_fetch_add(&faults.burst_other, 1);
            if (fds[i] >= 0)
                close(fds[i]);
        }
        for (int i = 0; i < 30 && faulting(); i++)
            nap_ms(100);
    }
    return NULL;
}

static void *oversized(void *arg) {
    static const char big[] = "POST /v1/tools/calculator HTTP/1.1\r\nHost: localhost\r\n"
                              "Content-Type: application/json\r\nContent-Length: 2097152\r\n\r\n";
    static const char chunked[] = "POST /v1/tools/calculator HTTP/1.1\r\nHost: localhost\r\n"
                                  "Content-Type: application/json\r\n"
                                  "Transfer-Encoding: chunked\r\n\r\n";
    char *chunk = malloc(65536 + 16);
    long i = 0;

    (void)arg;
    if (!chunk)
        return NULL;
    memcpy(chunk, "10000\r\n", 7);
    memset(chunk + 7, ' ', 65536);
    memcpy(chunk + 7 + 65536, "\r\n", 2);
    while (!atomic_load(&stopping)) {
        int fd, st;

        wait_for_faults();
        if (!faulting())
            continue;
        fd = dial(F_OVERSIZED);
        if (fd < 0) {
            nap_ms(50);
            continue;
        }
        if (i++ % 2 == 0) {
            send_all(fd, big, strlen(big));
        } else {
            send_all(fd, chunked, strlen(chunked));
            for (int k = 0; k < 18 && send_all(fd, chunk, 65536 + 9) == 0; k++)
                ; /* 1.1 MiB: past the 1 MiB limit */
            send_all(fd, "0\r\n\r\n", 5);
        }
        st = read_status(fd, 10000);
        atomic_fetch_add(&faults.oversized, 1);
        if (st == 413)
            atomic_fetch_add(&faults.oversized_413, 1);
        else
            atomic_fetch_add(&faults.unexpected, 1);
        close(fd);
        nap_ms(50);
    }
    free(chunk);
    return NULL;
}

/* Malformed requests: {headers (without the blank line), body}; a NULL body means the headers
 * carry their own framing and the text is sent as it is. */
static void *malformed(void *arg) {
    static const char *const reqs[][2] = {
        {"POST /v1/tools/calculator", "{\"arguments\":"},
        {"POST /v1/tools/calculator", "{\"arguments\":{\"expression\":\"\xc0\xaf\"}}"},
        {"POST /v1/episodes",
         "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"},
        {"POST /v1/episodes/0123/step", "{\"tool_call\":{\"name\":1}}"},
        {"POST /mcp", "{\"jsonrpc\":"},
        {"POST /v1/tools/calculator HTTP/1.1\r\nHost: localhost\r\nContent-Type: "
         "application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}x",
         NULL},
        {"POST /v1/tools/calculator HTTP/1.1\r\nHost: localhost\r\nContent-Type: "
         "application/json\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}",
         NULL},
        {"POST /v1/tools/calculator HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\n"
         "Content-Length: 2\r\n\r\n{}",
         NULL},
        {"GARBAGE\x01\x02 / HTTP/9.9\r\n\r\n", NULL},
    };
    char req[1024];
    long i = 0;

    (void)arg;
    while (!atomic_load(&stopping)) {
        const char *const *r = reqs[i++ % (long)(sizeof(reqs) / sizeof(reqs[0]))];
        int fd, st;

        wait_for_faults();
        if (!faulting())
            continue;
        fd = dial(F_MALFORMED);
        if (fd < 0) {
            nap_ms(20);
            continue;
        }
        if (r[1])
            snprintf(req, sizeof(req),
                     "%s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     r[0], strlen(r[1]), r[1]);
        else
            snprintf(req, sizeof(req), "%s", r[0]);
        send_all(fd, req, strlen(req));
        st = read_status(fd, 10000);
        atomic_fetch_add(&faults.malformed, 1);
        if ((st >= 400 && st < 500) || st == 505) /* 505: libmicrohttpd's, for HTTP/9.9 */
            atomic_fetch_add(&faults.malformed_4xx, 1);
        else if (st < 0)
            atomic_fetch_add(&faults.malformed_closed, 1); /* closed without a reply */
        else
            atomic_fetch_add(&faults.unexpected, 1);
        close(fd);
        nap_ms(20);
    }
    return NULL;
}

/* ---- a newcomer ------------------------------------------------------------------------------ */

static struct {
    long ok[NKINDS], failed[NKINDS];
    long hist[NKINDS][HIST_N];
} newcomer;

/* GET /healthz on a new connection from 127.0.0.1 every 100 ms: does a client that holds no
 * connection yet get in, and how fast? */
static void *newcomer_main(void *arg) {
    static const char req[] =
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";

    (void)arg;
    while (!atomic_load(&stopping)) {
        int kind = atomic_load(&phase_kind), fd, st = -1;
        double t0 = now_s();

        fd = dial(-1);
        if (fd >= 0 && send_all(fd, req, strlen(req)) == 0)
            st = read_status(fd, 5000);
        if (fd >= 0)
            close(fd);
        if (st == 200) {
            newcomer.ok[kind]++;
            newcomer.hist[kind][bucket(now_s() - t0)]++;
        } else if (!atomic_load(&stopping)) {
            newcomer.failed[kind]++;
        }
        nap_ms(100);
    }
    return NULL;
}

/* ---- the server's memory ----------------------------------------------------------------------
 */

#define MAX_SAMPLES 100000

static struct {
    double t[MAX_SAMPLES];
    double rss_mib[MAX_SAMPLES];
    long episodes[MAX_SAMPLES];
    size_t n;
} mem;

static double rss_mib(void) {
    char path[64], line[256];
    FILE *f;
    double kib = -1;

    snprintf(path, sizeof(path), "/proc/%ld/status", cfg.pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = strtod(line + 6, NULL);
    fclose(f);
    return kib / 1024.0;
}

/* toolgym_episodes_in_memory from /metrics; -1 when it cannot be read. */
static long episodes_in_memory(CURL *h, struct dbuf *b) {
    char url[512];
    const char *p;

    snprintf(url, sizeof(url), "%s/metrics", cfg.server);
    dbuf_reset(b);
    curl_easy_setopt(h, CURLOPT_URL, url);
    if (curl_easy_perform(h) != CURLE_OK || !b->p)
        return -1;
    p = strstr(b->p, "\ntoolgym_episodes_in_memory ");
    return p ? strtol(p + strlen("\ntoolgym_episodes_in_memory "), NULL, 10) : -1;
}

static void *sampler(void *arg) {
    CURL *h = curl_easy_init();
    struct dbuf b;
    double t0 = *(double *)arg;

    dbuf_init(&b, 16L << 20);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, dbuf_write_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    while (!atomic_load(&stopping) && mem.n < MAX_SAMPLES) {
        mem.t[mem.n] = now_s() - t0;
        mem.rss_mib[mem.n] = rss_mib();
        mem.episodes[mem.n] = episodes_in_memory(h, &b);
        mem.n++;
        nap_ms(1000);
    }
    dbuf_free(&b);
    curl_easy_cleanup(h);
    return NULL;
}

/* ---- the trajectory log ---------------------------------------------------------------------- */

static int cmp_id(const void *a, const void *b) {
    return strcmp(a, b);
}

/* Count the finished episodes missing from the log and those in it more than once. */
static int check_log(size_t *logged, size_t *missing, size_t *dups) {
    FILE *f = fopen(cfg.traj, "r");
    char *line = NULL;
    size_t cap = 0, n = 0, room = 4096;
    char(*ids)[40] = malloc(room * sizeof(*ids));
    ssize_t len;

    *logged = *missing = *dups = 0;
    if (!f || !ids) {
        if (f)
            fclose(f);
        free(ids);
        return -1;
    }
    while ((len = getline(&line, &cap, f)) > 0) {
        json_t *j = line[len - 1] == '\n' ? json_loadb(line, (size_t)len - 1, 0, NULL) : NULL;
        const char *id = json_string_value(json_object_get(j, "episode_id"));

        if (id) {
            if (n == room) {
                char(*more)[40] = realloc(ids, room * 2 * sizeof(*ids));

                if (!more)
                    break;
                ids = more;
                room *= 2;
            }
            snprintf(ids[n++], 40, "%s", id);
        }
        json_decref(j);
    }
    free(line);
    fclose(f);
    qsort(ids, n, sizeof(*ids), cmp_id);
    for (size_t i = 1; i < n; i++)
        if (strcmp(ids[i - 1], ids[i]) == 0)
            (*dups)++;
    for (size_t i = 0; i < finished.n; i++)
        if (!bsearch(finished.ids[i], ids, n, sizeof(*ids), cmp_id))
            (*missing)++;
    *logged = n;
    free(ids);
    return 0;
}

/* ---- report ---------------------------------------------------------------------------------- */

static double pct(const long *hist, double q) {
    long total = 0, acc = 0;

    for (int b = 0; b < HIST_N; b++)
        total += hist[b];
    if (total == 0)
        return 0;
    for (int b = 0; b < HIST_N; b++) {
        acc += hist[b];
        if ((double)acc >= q * (double)total)
            return bucket_ms(b);
    }
    return bucket_ms(HIST_N - 1);
}

static int parse_args(int argc, char **argv) {
    int bad = 0;

    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];

        if (strcmp(k, "--server") == 0)
            cfg.server = v;
        else if (strcmp(k, "--pid") == 0)
            bad |= num_long(v, 1, 1L << 30, &cfg.pid) != 0;
        else if (strcmp(k, "--trajectories") == 0)
            cfg.traj = v;
        else if (strcmp(k, "--max-episodes") == 0)
            bad |= num_long(v, 1, 100000000, &cfg.max_episodes) != 0;
        else if (strcmp(k, "--seconds") == 0)
            bad |= num_double(v, 1, 86400, &cfg.seconds) != 0;
        else if (strcmp(k, "--rounds") == 0)
            bad |= num_long(v, 1, MAX_ROUNDS, &cfg.rounds) != 0;
        else if (strcmp(k, "--clients") == 0)
            bad |= num_long(v, 1, MAX_CLIENTS, &cfg.clients) != 0;
        else if (strcmp(k, "--code-every") == 0)
            bad |= num_double(v, 0.01, 3600, &cfg.code_every) != 0;
        else if (strcmp(k, "--fault-addr") == 0)
            cfg.fault_addr = v;
        else if (strcmp(k, "--faults") == 0)
            bad |= num_long(v, 0, 1, &cfg.faults) != 0;
        else
            bad = 1;
    }
    if (!bad && cfg.server) {
        const char *colon = strrchr(cfg.server, ':');

        cfg.port = colon ? (int)strtol(colon + 1, NULL, 10) : 0;
    }
    if (bad || !cfg.server || cfg.port <= 0 || !cfg.pid || !cfg.traj || !cfg.max_episodes) {
        fprintf(stderr, "usage: soak --server http://127.0.0.1:PORT --pid PID --trajectories FILE "
                        "--max-episodes N [--seconds 300] [--rounds 5] [--clients 64] "
                        "[--code-every 16] [--fault-addr 127.0.0.2]\n");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    static void *(*const fault_fns[NFAULT])(void *) = {
        [F_DISCONNECT] = disconnector, [F_SLOW_HEADERS] = slow_headers,
        [F_SLOW_BODIES] = slow_bodies, [F_BURSTS] = burster,
        [F_OVERSIZED] = oversized,     [F_MALFORMED] = malformed};
    pthread_t th[MAX_CLIENTS], fth[NFAULT], sth, nth;
    struct client *cl;
    double t0, dur[MAX_ROUNDS][NKINDS], ratio_req[MAX_ROUNDS], ratio_ep[MAX_ROUNDS],
        ratio_code[MAX_ROUNDS], at_cap_t = -1, at_cap_rss = -1, max_after = 0, end_rss, start_rss,
                                half_rss = 0;
    struct stats tot;
    size_t logged, missing, dups;
    int ok = 1;

    if (parse_args(argc, argv) != 0)
        return 2;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    cl = calloc((size_t)cfg.clients, sizeof(*cl));
    if (!cl)
        return 1;
    memset(&tot, 0, sizeof(tot));
    start_rss = rss_mib();
    t0 = now_s();
    pthread_create(&sth, NULL, sampler, &t0);
    for (long i = 0; i < cfg.clients; i++) {
        cl[i].id = (int)i;
        cl[i].rng = 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1);
        pthread_create(&th[i], NULL, client_main, &cl[i]);
    }
    for (int i = 0; i < NFAULT; i++)
        pthread_create(&fth[i], NULL, fault_fns[i], NULL);
    pthread_create(&nth, NULL, newcomer_main, NULL);
    /* the rounds: clean then faults in even rounds, faults then clean in odd ones */
    for (int r = 0; r < cfg.rounds; r++) {
        for (int half = 0; half < 2; half++) {
            int kind = (r % 2 == 0) == (half == 0) ? CLEAN : FAULTS;
            double ts = now_s();

            atomic_store(&phase_round, r);
            atomic_store(&phase_kind, kind);
            atomic_fetch_add(&phase_gen, 1);
            while (now_s() - ts < cfg.seconds / (2.0 * (double)cfg.rounds))
                nap_ms(100);
            dur[r][kind] = now_s() - ts;
        }
    }
    atomic_store(&stopping, 1);
    for (long i = 0; i < cfg.clients; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < NFAULT; i++)
        pthread_join(fth[i], NULL);
    pthread_join(nth, NULL);
    pthread_join(sth, NULL);
    end_rss = rss_mib();

    for (long i = 0; i < cfg.clients; i++) {
        const struct stats *s = &cl[i].st;

        for (int r = 0; r < cfg.rounds; r++)
            for (int k = 0; k < NKINDS; k++) {
                tot.episodes[r][k] += s->episodes[r][k];
                for (int c = 0; c < NCLASSES; c++)
                    tot.ok[r][k][c] += s->ok[r][k][c];
            }
        for (int k = 0; k < NKINDS; k++) {
            tot.refused[k] += s->refused[k];
            tot.quota[k] += s->quota[k];
            tot.errors[k] += s->errors[k];
            for (int c = 0; c < NCLASSES; c++)
                for (int b = 0; b < HIST_N; b++)
                    tot.hist[k][c][b] += s->hist[k][c][b];
        }
    }

    printf("soak: %.0f s in %ld rounds, %ld well-behaved clients on 127.0.0.1 (run_code every "
           "%.0f s each, one run in four hostile), faults from %s\n\n",
           cfg.seconds, cfg.rounds, cfg.clients, cfg.code_every, cfg.fault_addr);
    printf("| phase | seconds | requests/s | episodes/s | code runs/s | p50 ms | p99 ms | "
           "code p50 ms | code p99 ms | 429 | 503 | errors |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int k = 0; k < NKINDS; k++) {
        double secs = 0;
        long req = 0, ep = 0, code = 0;

        for (int r = 0; r < cfg.rounds; r++) {
            secs += dur[r][k];
            req += tot.ok[r][k][API] + tot.ok[r][k][CODE];
            ep += tot.episodes[r][k];
            code += tot.ok[r][k][CODE];
        }
        printf("| %s | %.0f | %.0f | %.1f | %.2f | %.2f | %.2f | %.0f | %.0f | %ld | %ld | %ld |\n",
               k == CLEAN ? "without faults" : "with faults", secs, (double)req / secs,
               (double)ep / secs, (double)code / secs, pct(tot.hist[k][API], 0.50),
               pct(tot.hist[k][API], 0.99), pct(tot.hist[k][CODE], 0.50),
               pct(tot.hist[k][CODE], 0.99), tot.quota[k], tot.refused[k], tot.errors[k]);
        if (tot.errors[k])
            ok = 0;
    }
    printf("\nnewcomer (GET /healthz on a new connection every 100 ms): without faults %ld ok, %ld "
           "failed, p99 %.2f ms; with faults %ld ok, %ld failed, p99 %.2f ms\n",
           newcomer.ok[CLEAN], newcomer.failed[CLEAN], pct(newcomer.hist[CLEAN], 0.99),
           newcomer.ok[FAULTS], newcomer.failed[FAULTS], pct(newcomer.hist[FAULTS], 0.99));
    if (newcomer.failed[CLEAN] + newcomer.failed[FAULTS])
        ok = 0;
    for (int r = 0; r < cfg.rounds; r++) {
        double c = (double)(tot.ok[r][CLEAN][API] + tot.ok[r][CLEAN][CODE]) / dur[r][CLEAN];
        double f = (double)(tot.ok[r][FAULTS][API] + tot.ok[r][FAULTS][CODE]) / dur[r][FAULTS];
        double ce = (double)tot.episodes[r][CLEAN] / dur[r][CLEAN];
        double fe = (double)tot.episodes[r][FAULTS] / dur[r][FAULTS];
        double cc = (double)tot.ok[r][CLEAN][CODE] / dur[r][CLEAN];
        double fc = (double)tot.ok[r][FAULTS][CODE] / dur[r][FAULTS];

        ratio_req[r] = c > 0 ? f / c : 0;
        ratio_ep[r] = ce > 0 ? fe / ce : 0;
        ratio_code[r] = cc > 0 ? fc / cc : 0;
    }
    {
        double rr = stats_median(ratio_req, (int)cfg.rounds),
               re = stats_median(ratio_ep, (int)cfg.rounds),
               rc = stats_median(ratio_code, (int)cfg.rounds);

        printf("\nwith faults / without (median of %ld per-round ratios): requests %.2f, "
               "episodes %.2f, code runs %.2f — target requests >= 0.80: %s\n",
               cfg.rounds, rr, re, rc, rr >= 0.80 ? "met" : "NOT met");
        if (rr < 0.80)
            ok = 0;
    }
    printf("\nfaults injected: %ld disconnects; %ld slow-header connections (%ld closed by the "
           "server, after %.1f s on average); %ld slow-body connections (%ld closed by the "
           "server, after %.1f s on average; the longest held %.1f s, to the end of its phase); "
           "%ld bursts of %d run_code calls (%ld answered 200, %ld 429, %ld 503, %ld other); %ld "
           "oversized "
           "bodies (%ld 413); %ld malformed requests (%ld 4xx or 505, %ld closed without a reply); "
           "%ld "
           "unexpected answers\n",
           atomic_load(&faults.disconnects), atomic_load(&faults.slow_header_conns),
           atomic_load(&faults.slow_header_closed),
           atomic_load(&faults.slow_header_closed)
               ? (double)atomic_load(&faults.slow_header_held_ms) / 1000.0 /
                     (double)atomic_load(&faults.slow_header_closed)
               : 0.0,
           atomic_load(&faults.slow_body_conns), atomic_load(&faults.slow_body_closed),
           atomic_load(&faults.slow_body_closed)
               ? (double)atomic_load(&faults.slow_body_held_ms) / 1000.0 /
                     (double)atomic_load(&faults.slow_body_closed)
               : 0.0,
           (double)atomic_load(&faults.slow_body_max_ms) / 1000.0, atomic_load(&faults.bursts),
           BURST, atomic_load(&faults.burst_ok), atomic_load(&faults.burst_quota),
           atomic_load(&faults.burst_refused), atomic_load(&faults.burst_other),
           atomic_load(&faults.oversized), atomic_load(&faults.oversized_413),
           atomic_load(&faults.malformed), atomic_load(&faults.malformed_4xx),
           atomic_load(&faults.malformed_closed), atomic_load(&faults.unexpected));

    for (size_t i = 0; i < mem.n; i++) {
        if (at_cap_t < 0 && mem.episodes[i] >= cfg.max_episodes) {
            at_cap_t = mem.t[i];
            at_cap_rss = mem.rss_mib[i];
        }
        if (at_cap_t >= 0 && mem.rss_mib[i] > max_after)
            max_after = mem.rss_mib[i];
        if (mem.t[i] <= cfg.seconds / 2)
            half_rss = mem.rss_mib[i];
    }
    if (at_cap_t < 0 || at_cap_t > cfg.seconds / 2) {
        printf("\nRSS (MiB): start %.1f, end %.1f; the episode cap (%ld) was not reached in the "
               "first half of the run\n",
               start_rss, end_rss, cfg.max_episodes);
        ok = 0;
    } else {
        /* Flat: the second half of the run, long after the cap, adds at most 5%. Right after
         * the cap RSS still rises for a while as the allocator's free lists settle around the
         * store's churn (the store's own byte count is flat from the cap on). */
        double growth = (end_rss - half_rss) / half_rss;

        printf("\nRSS (MiB): start %.1f; at the episode cap (%ld, reached at %.0f s) %.1f; at "
               "half-time %.1f; highest %.1f; end %.1f. Second half %+.1f%% (since the cap "
               "%+.1f%%) — target flat (second half within 5%%): %s\n",
               start_rss, cfg.max_episodes, at_cap_t, at_cap_rss, half_rss, max_after, end_rss,
               100.0 * growth, 100.0 * (end_rss - at_cap_rss) / at_cap_rss,
               growth <= 0.05 ? "met" : "NOT met");
        if (growth > 0.05)
            ok = 0;
    }
    printf("RSS samples (s: MiB, episodes in memory):");
    for (size_t i = 0; i<mem.n; i += mem.n> 20 ? mem.n / 20 : 1)
        printf(" %.0f: %.1f %ld;", mem.t[i], mem.rss_mib[i], mem.episodes[i]);
    printf("\n");

    if (check_log(&logged, &missing, &dups) != 0) {
        printf("\nepisodes: cannot read %s\n", cfg.traj);
        ok = 0;
    } else {
        printf("\nepisodes: %zu finished by the clients, %zu lines in the log; %zu finished "
               "episodes missing from it, %zu logged twice — target 0 missing: %s\n",
               finished.n, logged, missing, dups, missing == 0 && dups == 0 ? "met" : "NOT met");
        if (missing || dups)
            ok = 0;
    }
    free(cl);
    free(finished.ids);
    curl_global_cleanup();
    return ok ? 0 : 3;
}
