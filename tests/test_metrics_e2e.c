/*
 * test_metrics_e2e.c — suite `metrics_e2e`: the metric families of /metrics, the code and the
 * table in docs/api.md agree.
 *
 * - Every metric name README.md and docs/ mention is a family of that table.
 * - Every family the product code names (a "toolgym_..." string literal under base/, tools/,
 *   server/, client/, policy/, cmd/) has HELP text and a row in docs/api.md.
 * - Every family documented in docs/api.md is emitted by real servers driven through the
 *   situations that count it (tool calls, sandbox runs and kills, a full run queue, a queued
 *   run whose client went away, the code cache, episodes forked, evicted, refused and
 *   expired, a torn and an unwritable trajectory log), with the documented type and label
 *   names and its HELP text; no family has a placeholder HELP text.
 * - Sandbox runs and kills are counted once per run, by result and reason.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/metrics.h"
#include "server/http.h"
#include "server/server.h"
#include "tg_test.h"

#define MAX_FAMILIES 64
#define MAX_LABELS   8

struct doc_family {
    char name[64];
    char type[16];
    char labels[MAX_LABELS][32];
    int nlabels;
};

/* Copy the next `quoted` span of [p, end) into out; returns the position after it or NULL. */
static const char *next_backticked(const char *p, const char *end, char *out, size_t n) {
    const char *a = memchr(p, '`', (size_t)(end - p)), *b;

    if (!a)
        return NULL;
    b = memchr(a + 1, '`', (size_t)(end - a - 1));
    if (!b || (size_t)(b - a - 1) >= n)
        return NULL;
    memcpy(out, a + 1, (size_t)(b - a - 1));
    out[b - a - 1] = '\0';
    return b + 1;
}

/* The rows "| `name` | type | `label`, ... | text |" of the metrics table in docs/api.md. */
static int doc_families(struct doc_family *fam, int max) {
    char *doc = test_slurp("docs/api.md");
    const char *p = doc;
    int n = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
    while (p && *p) {
        const char *eol = strchr(p, '\n');
        const char *c1, *c2, *c3;

        if (!eol)
            eol = p + strlen(p);
        if (strncmp(p, "| `toolgym_", 11) == 0 && n < max) {
            struct doc_family *f = &fam[n];
            const char *q;

            memset(f, 0, sizeof(*f));
            c1 = memchr(p + 1, '|', (size_t)(eol - p - 1));
            c2 = c1 ? memchr(c1 + 1, '|', (size_t)(eol - c1 - 1)) : NULL;
            c3 = c2 ? memchr(c2 + 1, '|', (size_t)(eol - c2 - 1)) : NULL;
            CU_ASSERT_PTR_NOT_NULL_FATAL(c3);
            next_backticked(p, c1, f->name, sizeof(f->name));
            sscanf(c1 + 1, " %15[a-z]", f->type);
            q = c2;
            while (f->nlabels < MAX_LABELS &&
                   (q = next_backticked(q, c3, f->labels[f->nlabels], sizeof(f->labels[0]))))
                f->nlabels++;
            n++;
        }
        p = *eol ? eol + 1 : eol;
    }
    free(doc);
    return n;
}

static const struct doc_family *find_family(const struct doc_family *fam, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (strcmp(fam[i].name, name) == 0)
            return &fam[i];
    return NULL;
}

/* ---- the code names no family that is undocumented or without HELP ------------------------ */

static void scan_source(const char *path, const struct doc_family *fam, int nfam, int *seen) {
    char *src = test_slurp(path);
    const char *p = src;

    CU_ASSERT_PTR_NOT_NULL_FATAL(src);
    while ((p = strstr(p, "\"toolgym_")) != NULL) {
        char name[64];
        size_t len = strspn(p + 1, "abcdefghijklmnopqrstuvwxyz0123456789_");

        p++;
        if (p[len] != '"' || len >= sizeof(name))
            continue;
        memcpy(name, p, len);
        name[len] = '\0';
        (*seen)++;
        if (!metrics_help(name) || !find_family(fam, nfam, name)) {
            char msg[256];

            snprintf(msg, sizeof(msg), "%s names metric %s, which has %s", path, name,
                     metrics_help(name) ? "no row in docs/api.md" : "no HELP text in metrics.c");
            CU_assertImplementation(CU_FALSE, 0, msg, path, "", CU_FALSE);
        }
    }
    free(src);
}

TG_TEST(metrics_e2e, every_family_the_code_names_has_help_and_a_doc_row) {
    static const char *dirs[] = {"base", "tools", "server", "client", "policy", "cmd"};
    struct doc_family fam[MAX_FAMILIES];
    int nfam = doc_families(fam, MAX_FAMILIES), seen = 0;

    CU_ASSERT(nfam >= 10);
    for (size_t d = 0; d < sizeof(dirs) / sizeof(dirs[0]); d++) {
        DIR *dir = opendir(dirs[d]);
        struct dirent *e;

        CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
        while ((e = readdir(dir)) != NULL) {
            size_t len = strlen(e->d_name);
            char path[512];

            if (len < 3 || (strcmp(e->d_name + len - 2, ".c") && strcmp(e->d_name + len - 2, ".h")))
                continue;
            snprintf(path, sizeof(path), "%s/%s", dirs[d], e->d_name);
            scan_source(path, fam, nfam, &seen);
        }
        closedir(dir);
    }
    CU_ASSERT(seen >= nfam); /* the scan found the names (each at least once) */
    /* and every documented family has HELP text */
    for (int i = 0; i < nfam; i++) {
        if (!metrics_help(fam[i].name)) {
            char msg[160];

            snprintf(msg, sizeof(msg), "docs/api.md documents %s, which has no HELP text",
                     fam[i].name);
            CU_assertImplementation(CU_FALSE, 0, msg, "docs/api.md", "", CU_FALSE);
        }
    }
}

/* Every metric name a doc mentions (README.md, the docs/ pages) is a family of the table. */
static void scan_doc(const char *path, const struct doc_family *fam, int nfam) {
    static const char *suffixes[] = {"", "_bucket", "_sum", "_count"};
    char *doc = test_slurp(path);
    int line = 1;

    CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
    for (const char *p = doc; *p; p++) {
        char name[96];
        size_t len;
        int known = 0;

        if (*p == '\n')
            line++;
        if (strncmp(p, "toolgym_", 8) != 0 || (p > doc && (p[-1] == '_' || isalnum(p[-1]))))
            continue;
        len = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_");
        if (len >= sizeof(name))
            len = sizeof(name) - 1;
        memcpy(name, p, len);
        name[len] = '\0';
        for (size_t k = 0; k < sizeof(suffixes) / sizeof(suffixes[0]) && !known; k++) {
            size_t sl = strlen(suffixes[k]);
            char base[96];

            if (len <= sl || strcmp(name + len - sl, suffixes[k]) != 0)
                continue;
            memcpy(base, name, len - sl);
            base[len - sl] = '\0';
            known = find_family(fam, nfam, base) != NULL;
        }
        if (!known) {
            char msg[256];

            snprintf(msg, sizeof(msg), "%s mentions metric %s, which is not in docs/api.md's table",
                     path, name);
            CU_assertImplementation(CU_FALSE, (unsigned)line, msg, path, "", CU_FALSE);
        }
        p += len - 1;
    }
    free(doc);
}

TG_TEST(metrics_e2e, every_metric_a_doc_mentions_is_in_the_table) {
    struct doc_family fam[MAX_FAMILIES];
    int nfam = doc_families(fam, MAX_FAMILIES);
    DIR *d = opendir("docs");
    struct dirent *e;

    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    scan_doc("README.md", fam, nfam);
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        char path[512];

        if (len < 4 || strcmp(e->d_name + len - 3, ".md") != 0)
            continue;
        snprintf(path, sizeof(path), "docs/%s", e->d_name);
        scan_doc(path, fam, nfam);
    }
    closedir(d);
}

/* ---- driving servers until every documented family is emitted ----------------------------- */

static long request(const char *base, const char *method, const char *path, const char *body,
                    char **out) {
    struct http_resp r;
    char url[512];
    long status;

    snprintf(url, sizeof(url), "%s%s", base, path);
    if (test_http(method, url, body, body ? strlen(body) : 0, NULL, NULL, &r) != 0) {
        http_resp_free(&r);
        return -1;
    }
    status = r.status;
    if (out)
        *out = r.body;
    else
        http_resp_free(&r);
    return status;
}

/* POST run_code with this Python source (a JSON string body) and timeout; the HTTP status. */
static long run_code(const char *base, const char *code_json, int timeout_ms) {
    char body[1024];

    snprintf(body, sizeof(body), "{\"arguments\":{\"code\":\"%s\",\"timeout_ms\":%d}}", code_json,
             timeout_ms);
    return request(base, "POST", "/v1/tools/run_code", body, NULL);
}

/* Create an episode of the first train task (optionally forking src at step `at`); its id. */
static long new_episode(const char *base, const char *fork_of, char id[40]) {
    char path[128], *body = NULL, *p;
    long st;

    if (fork_of) {
        snprintf(path, sizeof(path), "/v1/episodes/%s/fork", fork_of);
        st = request(base, "POST", path, "{\"at\":0}", &body);
    } else {
        st = request(base, "POST", "/v1/episodes", "{\"split\":\"train\",\"seed\":1}", &body);
    }
    id[0] = '\0';
    p = body ? strstr(body, "\"episode_id\":\"") : NULL;
    if (p)
        sscanf(p + strlen("\"episode_id\":\""), "%39[0-9a-f]", id);
    free(body);
    return st;
}

static long answer(const char *base, const char *id) {
    char path[128];

    snprintf(path, sizeof(path), "/v1/episodes/%s/step", id);
    return request(base, "POST", path, "{\"answer\":\"42\"}", NULL);
}

struct busy {
    const char *base;
    int n; /* which run: each program differs, so that none is answered from the code cache */
    long status;
};

static void *busy_run(void *arg) {
    struct busy *b = arg;

    char code[64];

    snprintf(code, sizeof(code), "import time\\ntime.sleep(3)\\n# run %d", b->n);
    b->status = run_code(b->base, code, 6000);
    return NULL;
}

/* Tool calls of every outcome, sandbox runs of every result, the code cache. */
static void drive_tools(const char *base) {
    static const char *code_ok = "print(6*7)";

    CU_ASSERT_EQUAL(request(base, "POST", "/v1/tools/calculator",
                            "{\"arguments\":{\"expression\":\"1+1\"}}", NULL),
                    200);
    CU_ASSERT_EQUAL(request(base, "POST", "/v1/tools/calculator",
                            "{\"arguments\":{\"expression\":\"1/0\"}}", NULL),
                    200);
    CU_ASSERT_EQUAL(request(base, "POST", "/v1/tools/search", "{\"arguments\":{\"k\":3}}", NULL),
                    422);
    CU_ASSERT_EQUAL(run_code(base, code_ok, 2000), 200); /* a cache miss, then a hit */
    CU_ASSERT_EQUAL(run_code(base, code_ok, 2000), 200);
    CU_ASSERT_EQUAL(run_code(base, "raise SystemExit(3)", 2000), 200);
    CU_ASSERT_EQUAL(run_code(base, "while True: pass", 300), 200);
    CU_ASSERT_EQUAL(run_code(base, "import os\\nos.kill(os.getpid(), 9)", 2000), 200);
}

/* A run queue of one worker and one waiting slot refuses a third concurrent run with 503, and
 * counts each refusal once. */
static void drive_full_queue(void) {
    struct server_config cfg;
    struct server *s;
    struct busy b[3];
    pthread_t t[3];
    int refused = 0;
    double before = metrics_get("toolgym_run_queue_rejected_total", "");

    server_config_defaults(&cfg);
    cfg.quiet = 1;
    cfg.run_workers = 1;
    cfg.run_queue = 1;
    cfg.client_runs = 100000; /* one client fills the queue here: no per-client share */
    s = test_server_start(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    /* three 3 s runs: the first runs (a worker took it), the second waits, the third is
     * refused; each is sent once the queue shows the one before */
    for (int i = 0; i < 3; i++) {
        b[i].base = test_server_url(s);
        b[i].n = i;
        b[i].status = 0;
        CU_ASSERT_FATAL(pthread_create(&t[i], NULL, busy_run, &b[i]) == 0);
        if (i == 0)
            CU_ASSERT_EQUAL(test_wait_runq(s, 1, 1), 1);
        if (i == 1)
            CU_ASSERT_EQUAL(test_wait_runq(s, 2, 0), 2);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        CU_ASSERT(b[i].status == 200 || b[i].status == 503);
        refused += b[i].status == 503;
    }
    CU_ASSERT(refused >= 1);
    CU_ASSERT_EQUAL(metrics_get("toolgym_run_queue_rejected_total", ""), before + refused);
    test_server_stop(s);
}

/* One client may have one of two places (--client-runs 1): a second concurrent run of the same
 * client is refused with 429, and each refusal is counted once. */
static void drive_client_share(void) {
    struct server_config cfg;
    struct server *s;
    struct busy b[2];
    pthread_t t[2];
    int refused = 0;
    double before = metrics_get("toolgym_run_queue_quota_refused_total", "");

    server_config_defaults(&cfg);
    cfg.quiet = 1;
    cfg.run_workers = 1;
    cfg.run_queue = 1;
    cfg.client_runs = 1;
    s = test_server_start(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    /* two 3 s runs of one client: the second is sent once the first runs, and is past the
     * client's share of one */
    for (int i = 0; i < 2; i++) {
        b[i].base = test_server_url(s);
        b[i].n = 10 + i;
        b[i].status = 0;
        CU_ASSERT_FATAL(pthread_create(&t[i], NULL, busy_run, &b[i]) == 0);
        if (i == 0)
            CU_ASSERT_EQUAL(test_wait_runq(s, 1, 1), 1);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        CU_ASSERT(b[i].status == 200 || b[i].status == 429);
        refused += b[i].status == 429;
    }
    CU_ASSERT(refused >= 1);
    CU_ASSERT_EQUAL(metrics_get("toolgym_run_queue_quota_refused_total", ""), before + refused);
    test_server_stop(s);
}

/* A connection that sends a request line and one header, then nothing; -1 on failure. */
static int half_sent(int port) {
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    static const char half[] = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n";

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        write(fd, half, sizeof(half) - 1) != (ssize_t)(sizeof(half) - 1)) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* 1 if the server closes fd within ms milliseconds. */
static int closed_within(int fd, int ms) {
    struct pollfd p = {fd, POLLIN, 0};
    char buf[256];

    if (fd < 0 || poll(&p, 1, ms) <= 0)
        return 0;
    return read(fd, buf, sizeof(buf)) <= 0;
}

/* A raw connection that has sent one run_code call; -1 on failure. */
static int post_raw(struct server *s, const char *code) {
    struct sockaddr_in a = {.sin_family = AF_INET};
    char body[256], req[512];
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), n;

    if (fd < 0)
        return -1;
    snprintf(body, sizeof(body), "{\"arguments\":{\"code\":\"%s\",\"timeout_ms\":8000}}", code);
    n = snprintf(req, sizeof(req),
                 "POST /v1/tools/run_code HTTP/1.1\r\nHost: localhost\r\nContent-Type: "
                 "application/json\r\nContent-Length: %zu\r\n\r\n%s",
                 strlen(body), body);
    a.sin_port = htons((uint16_t)server_port(s));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One worker busy, one run waiting whose client then goes away: the waiting run is dropped
 * and counted once. */
static void drive_abandoned_run(void) {
    struct server_config cfg;
    struct server *s;
    double before = metrics_get("toolgym_run_queue_cancelled_total", "");
    int busy, gone;

    server_config_defaults(&cfg);
    cfg.quiet = 1;
    cfg.run_workers = 1;
    s = test_server_start(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    /* programs no other test runs: a --code-cache hit would answer without queuing */
    /* the second is sent once a worker runs the first, so it waits behind it; the first
     * sleeps long enough for a slow (sanitizer) build to see both in the queue */
    busy = post_raw(s, "import time\\ntime.sleep(4)  # busy");
    CU_ASSERT_EQUAL(test_wait_runq(s, 1, 1), 1);
    gone = post_raw(s, "print('abandoned')");
    CU_ASSERT(busy >= 0 && gone >= 0);
    if (test_wait_runq(s, 2, 0) != 2) { /* seen once in CI: say what the server answered */
        char got[2][160];
        int fds[2] = {busy, gone};

        for (int i = 0; i < 2; i++) {
            ssize_t k = fds[i] >= 0 ? recv(fds[i], got[i], sizeof(got[i]) - 1, MSG_DONTWAIT) : -1;

            got[i][k > 0 ? k : 0] = '\0';
            for (char *c = got[i]; *c; c++)
                if (*c == '\r' || *c == '\n')
                    *c = ' ';
        }
        fprintf(stderr,
                "\n  run queue: %zu pending, %zu running (want 2 and 1); busy got [%s], "
                "gone got [%s]\n",
                runq_pending(s->runq), runq_running(s->runq), got[0], got[1]);
    }
    CU_ASSERT_EQUAL(runq_pending(s->runq), 2);
    close(gone);
    for (int i = 0; i < 3000 && metrics_get("toolgym_run_queue_cancelled_total", "") == before; i++)
        usleep(10 * 1000);
    CU_ASSERT_EQUAL(metrics_get("toolgym_run_queue_cancelled_total", ""), before + 1);
    close(busy);
    test_server_stop(s);
}

/* A request naming another site in Host: refused with 403 and counted by reason. */
static void drive_forbidden(const char *base) {
    struct http_resp r;
    char url[128];
    double before = metrics_get("toolgym_http_forbidden_total", "reason=\"host\"");

    snprintf(url, sizeof(url), "%s/healthz", base);
    CU_ASSERT_EQUAL(test_http("GET", url, NULL, 0, NULL, "Host: rebound.example", &r), 0);
    CU_ASSERT_EQUAL(r.status, 403);
    http_resp_free(&r);
    CU_ASSERT_EQUAL(metrics_get("toolgym_http_forbidden_total", "reason=\"host\""), before + 1);
}

/* Episodes finished, forked, evicted, refused and expired in a store of 2 with a 1 s idle
 * limit, logging to a file that cannot be written; then a client's quota, an idle unfinished
 * episode evicted under pressure and a connection closed by the header timeout. */
static void drive_episodes(void) {
    struct server_config cfg;
    struct server *s, *s2;
    char a[40], b[40], c[40], d[40], e[40], f[40];
    const char *base, *base2;
    int slow;

    server_config_defaults(&cfg);
    cfg.quiet = 1;
    cfg.max_episodes = 2;
    cfg.idle_sec = 1;
    cfg.trajectories = "/dev/full"; /* every append fails: ENOSPC */
    s = test_server_start(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    base = test_server_url(s);
    CU_ASSERT_EQUAL(new_episode(base, NULL, a), 201);
    CU_ASSERT_EQUAL(answer(base, a), 200);            /* finished; its log line fails */
    CU_ASSERT_EQUAL(new_episode(base, a, b), 201);    /* a fork: the store is full */
    CU_ASSERT_EQUAL(new_episode(base, NULL, c), 201); /* evicts the finished one */
    CU_ASSERT_EQUAL(new_episode(base, NULL, d), 503); /* two unfinished: refused */
    drive_forbidden(base);
    /* a second server: a client share of one episode, eviction of idle ones after 1 s, and a
     * 1 s header timeout that a half-sent request overstays */
    cfg.max_episodes = 2;
    cfg.idle_sec = 600;
    cfg.client_episodes = 1;
    cfg.evict_idle_sec = 1;
    cfg.header_timeout_sec = 1;
    cfg.trajectories = NULL;
    s2 = test_server_start(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s2);
    base2 = test_server_url(s2);
    CU_ASSERT_EQUAL(new_episode(base2, NULL, e), 201);
    CU_ASSERT_EQUAL(new_episode(base2, NULL, f), 429); /* the client's one is live */
    slow = half_sent(server_port(s2));
    usleep(1200 * 1000);                               /* past --idle-sec, --evict-idle-sec */
    CU_ASSERT_EQUAL(new_episode(base, NULL, d), 201);  /* b and c expire first */
    CU_ASSERT_EQUAL(new_episode(base2, NULL, f), 201); /* its own e, idle, is evicted */
    CU_ASSERT(closed_within(slow, 5000));              /* the header timeout closed it */
    close(slow);
    test_server_stop(s2);
    test_server_stop(s);
}

/* A trajectory log whose last line was torn by a crash. */
static void drive_torn_log(void) {
    struct server_config cfg;
    struct server *s;
    char path[] = "/tmp/toolgym-metrics-XXXXXX";
    int fd = mkstemp(path);

    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT(write(fd, "{\"episode_id\":\"torn", 19) == 19);
    close(fd);
    server_config_defaults(&cfg);
    cfg.quiet = 1;
    cfg.trajectories = path;
    s = test_server_start(&cfg);
    CU_ASSERT_PTR_NOT_NULL(s);
    test_server_stop(s);
    unlink(path);
}

/* The lines of family `name` in a /metrics text: its HELP text, its TYPE, and whether a series
 * carries each documented label. Reports every disagreement with the doc. */
static void check_family(const char *text, const struct doc_family *f) {
    char want[160], msg[512];
    const char *help = metrics_help(f->name), *p;
    int series = 0, has_label[MAX_LABELS] = {0};
    size_t nlen = strlen(f->name);

#define FAIL_FAMILY(...)                                                                           \
    do {                                                                                           \
        snprintf(msg, sizeof(msg), __VA_ARGS__);                                                   \
        CU_assertImplementation(CU_FALSE, 0, msg, "docs/api.md", f->name, CU_FALSE);               \
    } while (0)

    snprintf(want, sizeof(want), "\n# HELP %s ", f->name);
    p = strstr(text, want);
    if (!p || !help)
        FAIL_FAMILY("%s: no HELP line in /metrics", f->name);
    else if (strncmp(p + strlen(want), help, strlen(help)) != 0 ||
             p[strlen(want) + strlen(help)] != '\n' || strlen(help) < 16 ||
             strstr(help, "toolgym metric"))
        FAIL_FAMILY("%s: HELP text is a placeholder or not the table's", f->name);
    snprintf(want, sizeof(want), "\n# TYPE %s %s\n", f->name, f->type);
    if (!strstr(text, want))
        FAIL_FAMILY("%s: no \"# TYPE %s %s\" in /metrics", f->name, f->name, f->type);
    for (p = text; (p = strstr(p, f->name)) != NULL; p += nlen) {
        const char *eol = strchr(p, '\n');

        if (p[-1] != '\n' || !eol || (p[nlen] != '{' && p[nlen] != ' ' && p[nlen] != '_'))
            continue;
        series++;
        for (int i = 0; i < f->nlabels; i++) {
            char lab[48];
            const char *hit;

            snprintf(lab, sizeof(lab), "%s=\"", f->labels[i]);
            hit = strstr(p, lab);
            if (hit && hit < eol && (hit[-1] == '{' || hit[-1] == ','))
                has_label[i] = 1;
        }
    }
    if (!series)
        FAIL_FAMILY("%s: documented but never emitted", f->name);
    for (int i = 0; i < f->nlabels; i++)
        if (!has_label[i])
            FAIL_FAMILY("%s: no series with the documented label %s", f->name, f->labels[i]);
#undef FAIL_FAMILY
}

TG_TEST(metrics_e2e, every_documented_family_is_emitted_with_help_type_and_labels) {
    struct doc_family fam[MAX_FAMILIES];
    int nfam = doc_families(fam, MAX_FAMILIES);
    struct server_config cfg;
    struct server *s;
    char *text, *body = NULL;

    server_config_defaults(&cfg);
    cfg.quiet = 1;
    cfg.code_cache = 16;
    s = test_server_start(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    drive_tools(test_server_url(s));
    drive_full_queue();
    drive_client_share();
    drive_abandoned_run();
    drive_episodes();
    drive_torn_log();
    CU_ASSERT_EQUAL(request(test_server_url(s), "GET", "/metrics", NULL, &body), 200);
    CU_ASSERT_PTR_NOT_NULL_FATAL(body);
    text = malloc(strlen(body) + 2); /* "\n" first: every line then starts after a newline */
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    text[0] = '\n';
    memcpy(text + 1, body, strlen(body) + 1);
    free(body);
    for (int i = 0; i < nfam; i++)
        check_family(text, &fam[i]);
    /* the other way round: every toolgym family in the output is documented, with HELP */
    for (const char *p = text; (p = strstr(p, "\n# TYPE toolgym_")) != NULL; p++) {
        char name[64], msg[160];

        if (sscanf(p, "\n# TYPE %63s", name) != 1)
            continue;
        if (!find_family(fam, nfam, name) || !metrics_help(name)) {
            snprintf(msg, sizeof(msg), "/metrics emits %s, undocumented or without HELP", name);
            CU_assertImplementation(CU_FALSE, 0, msg, "docs/api.md", "", CU_FALSE);
        }
    }
    free(text);
    test_server_stop(s);
}

/* ---- sandbox runs and kills, counted exactly ---------------------------------------------- */

static double runs(const char *result) {
    char labels[64];

    snprintf(labels, sizeof(labels), "result=\"%s\"", result);
    return metrics_get("toolgym_sandbox_runs_total", labels);
}

static double kills(const char *reason) {
    char labels[64];

    snprintf(labels, sizeof(labels), "reason=\"%s\"", reason);
    return metrics_get("toolgym_sandbox_kills_total", labels);
}

TG_TEST(metrics_e2e, sandbox_runs_and_kills_are_counted_by_result_and_reason) {
    static const char *results[] = {"ok", "runtime_error", "timeout", "killed"};
    static const char *reasons[] = {"timeout", "seccomp", "cpu_limit", "signal"};
    static const struct {
        const char *code;
        int timeout_ms;
        const char *result, *reason; /* reason NULL: not a kill */
    } cases[] = {
        {"print(sum(range(10)))", 2000, "ok", NULL},
        {"import sys\\nsys.exit(1)", 2000, "runtime_error", NULL},
        {"1/0", 2000, "runtime_error", NULL},
        {"while True: pass", 300, "timeout", "timeout"},
        {"import ctypes\\nctypes.CDLL(None).ptrace(0, 0, 0, 0)", 2000, "killed", "seccomp"},
        {"import os, signal\\nos.kill(os.getpid(), signal.SIGKILL)", 2000, "killed", "signal"},
        {"import os, signal\\nos.kill(os.getpid(), signal.SIGXCPU)", 2000, "killed", "cpu_limit"},
    };
    struct server *s = test_server_start(NULL);
    const char *base;

    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    base = test_server_url(s);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        double r0[4], k0[4];

        for (int j = 0; j < 4; j++) {
            r0[j] = runs(results[j]);
            k0[j] = kills(reasons[j]);
        }
        CU_ASSERT_EQUAL(run_code(base, cases[i].code, cases[i].timeout_ms), 200);
        for (int j = 0; j < 4; j++) {
            int want_run = strcmp(results[j], cases[i].result) == 0;
            int want_kill = cases[i].reason && strcmp(reasons[j], cases[i].reason) == 0;
            char msg[256];

            if (runs(results[j]) != r0[j] + want_run) {
                snprintf(msg, sizeof(msg), "run %zu (%s): runs{result=%s} %+g, want %+d", i,
                         cases[i].code, results[j], runs(results[j]) - r0[j], want_run);
                CU_assertImplementation(CU_FALSE, __LINE__, msg, __FILE__, "", CU_FALSE);
            }
            if (kills(reasons[j]) != k0[j] + want_kill) {
                snprintf(msg, sizeof(msg), "run %zu (%s): kills{reason=%s} %+g, want %+d", i,
                         cases[i].code, reasons[j], kills(reasons[j]) - k0[j], want_kill);
                CU_assertImplementation(CU_FALSE, __LINE__, msg, __FILE__, "", CU_FALSE);
            }
        }
    }
    /* a call refused by the schema never reaches the sandbox: no run is counted */
    {
        double before = runs("ok") + runs("runtime_error") + runs("timeout") + runs("killed");

        CU_ASSERT_EQUAL(run_code(base, "print(1)", 0), 422);
        CU_ASSERT_EQUAL(runs("ok") + runs("runtime_error") + runs("timeout") + runs("killed"),
                        before);
    }
    test_server_stop(s);
}
