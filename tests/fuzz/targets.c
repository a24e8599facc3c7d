/*
 * targets.c — the fuzz targets (see targets.h): what each one feeds to the code under test,
 * the servers and index they share, and the invariants they check beyond "does not crash".
 *
 * http and mcp build a request from the input and hand it to http_handle on an in-process
 * server (two: one open, one with an API key, chosen by whether the request carries an
 * Authorization header); step plays an episode whose step bodies come from the input; calc,
 * search and tasks call their modules directly. It does not run code: run_code jobs need the
 * run queue, which http_handle refuses (503), so the sandbox is fuzzed by the hostile tests
 * of tests/test_sandbox.c, not here.
 */
#include "targets.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/limits.h"
#include "base/tg.h"
#include "server/episode.h"
#include "server/http.h"
#include "server/judge.h"
#include "server/server.h"
#include "server/task.h"
#include "tools/calc.h"
#include "tools/search.h"

#define FUZZ_CORPUS    "data/corpus.jsonl"
#define FUZZ_TASKS     "tests/data/episodes_tasks.jsonl,tests/data/tasks_tagged.jsonl"
#define FUZZ_KEY       "fuzz-key-1"
#define FUZZ_KV_MAX    64 /* headers (and query parameters) a request may carry here */
#define FUZZ_STEPS_MAX 24 /* step bodies played per input */

static struct server *open_srv, *keyed_srv;
static struct search_index *index_;

/* One line on stderr saying which invariant broke; returns 1 (a target's failure). */
static int broke(const char *target, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int broke(const char *target, const char *fmt, ...) {
    va_list ap;

    fprintf(stderr, "fuzz %s: ", target);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

/* ---- servers ---------------------------------------------------------------------------- */

static struct server *start(int keyed) {
    struct server_config c;
    struct tg_error err;
    struct server *s;

    server_config_defaults(&c);
    c.quiet = 1;
    c.port = 0;
    c.corpus = FUZZ_CORPUS;
    c.tasks = FUZZ_TASKS;
    c.trajectories = "/dev/null"; /* finished episodes are rendered and written, then dropped */
    c.max_episodes = 512;
    c.evict_idle_sec = 1; /* room for new episodes even though nobody finishes the old ones */
    c.run_workers = 1;
    /* Cold: no code runs here, and warm mode's idle launchers wait inside clone() with a
     * prepared run, which LeakSanitizer's stop-the-world (libFuzzer's leak checks, and the
     * check at exit) cannot stop: the fuzzer hung at its first leak check. */
    c.run_mode = "cold";
    c.threads = 1;
    if (keyed)
        c.api_key = FUZZ_KEY;
    if (server_start(&c, &s, &err) != 0) {
        fprintf(stderr, "fuzz: cannot start a server: %s\n", err.message);
        abort(); /* the harness itself is broken: not an input's fault */
    }
    return s;
}

static struct server *server_for(int keyed) {
    struct server **s = keyed ? &keyed_srv : &open_srv;

    if (!*s)
        *s = start(keyed);
    return *s;
}

void fuzz_teardown(void) {
    server_stop(open_srv);
    server_stop(keyed_srv);
    open_srv = keyed_srv = NULL;
    search_index_free(index_);
    index_ = NULL;
}

/* ---- replies ---------------------------------------------------------------------------- */

/*
 * Check a reply and free it: never 500 (a bug by API.md), a status HTTP knows, a JSON body that
 * parses, and the error shape ({"error":{..., "message":string}}, which JSON-RPC errors share)
 * on every 4xx/5xx except 499 (nobody reads it). *out (may be NULL) gets the parsed body
 * (new, or NULL when there is none). Returns 0 or 1 (broke).
 */
static int check_reply(const char *target, struct http_reply *rp, json_t **out) {
    char *text;
    size_t len;
    const char *ctype;
    json_t *j = NULL;
    unsigned status;
    int bad = 0;

    if (out)
        *out = NULL;
    if (http_reply_render(rp, &text, &len, &ctype) != 0) {
        http_reply_clear(rp);
        return 0; /* out of memory: not an input's fault */
    }
    status = rp->status;
    if (status == 500)
        bad = broke(target, "500: %.300s", text ? text : "");
    else if (status < 100 || status > 599)
        bad = broke(target, "status %u", status);
    else if (text && ctype && strncmp(ctype, "application/json", 16) == 0) {
        j = json_loadb(text, len, 0, NULL);
        if (!j) {
            bad = broke(target, "reply is not JSON: %.300s", text);
        } else if (status >= 400 && status != HTTP_CLIENT_CLOSED) {
            json_t *e = json_object_get(j, "error");

            if (!json_is_object(e) || !json_is_string(json_object_get(e, "message")))
                bad = broke(target, "%u without the error shape: %.300s", status, text);
        }
    } else if (status >= 400 && status != HTTP_CLIENT_CLOSED) {
        bad = broke(target, "%u without a JSON body", status);
    }
    free(text);
    http_reply_clear(rp);
    if (out && !bad)
        *out = j;
    else
        json_decref(j);
    return bad;
}

/* ---- http: a whole request -------------------------------------------------------------- */

struct fuzz_req {
    char *buf; /* the input, cut into NUL-terminated strings */
    struct http_head head;
    struct http_kv headers[FUZZ_KV_MAX + 2]; /* + a Host and a Content-Length we may add */
    struct http_kv query[FUZZ_KV_MAX];
    const char *body;
    size_t nbody;
    char cl[24];
    int authorization;
};

#define FUZZ_HOST "127.0.0.1" /* the Host a client sends when the input gives none */

static int hexval(char c) {
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* Percent-decode s in place, as libmicrohttpd decodes a path and query parameters. */
static void pct_decode(char *s) {
    char *o = s;

    for (; *s; s++) {
        if (s[0] == '%' && isxdigit((unsigned char)s[1]) && isxdigit((unsigned char)s[2])) {
            *o++ = (char)(hexval(s[1]) * 16 + hexval(s[2]));
            s += 2;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
}

/* The next line of [*p, end): NUL-terminated in place (a CR before the LF dropped). NULL at
 * the end. */
static char *next_line(char **p, char *end) {
    char *s = *p, *nl;

    if (s >= end)
        return NULL;
    nl = memchr(s, '\n', (size_t)(end - s));
    if (!nl)
        nl = end;
    *nl = '\0';
    if (nl > s && nl[-1] == '\r')
        nl[-1] = '\0';
    *p = nl + 1;
    return s;
}

static void parse_query(struct fuzz_req *r, char *q) {
    while (q && *q && r->head.nquery < FUZZ_KV_MAX) {
        char *amp = strchr(q, '&'), *eq;
        struct http_kv *kv = &r->query[r->head.nquery];

        if (amp)
            *amp = '\0';
        eq = strchr(q, '=');
        if (eq)
            *eq = '\0';
        pct_decode(q);
        kv->key = q;
        kv->value = NULL;
        if (eq) {
            pct_decode(eq + 1);
            kv->value = eq + 1;
        }
        if (*q)
            r->head.nquery++;
        q = amp ? amp + 1 : NULL;
    }
}

/*
 * The input as a request: "METHOD TARGET[ VERSION]" on the first line, "Name: value" header
 * lines up to an empty line, then the body. As any client, and as libmicrohttpd requires of
 * HTTP/1.1, a request without Host gets one (the server's address); a body without
 * Content-Length or Transfer-Encoding gets a Content-Length; a body longer than its one
 * decimal Content-Length is cut to it (libmicrohttpd reads no further). 0 or -1 (no memory).
 */
static int parse_request(const uint8_t *data, size_t n, struct fuzz_req *r) {
    char *p, *end, *line, *sp, *target, *qm;
    int framed = 0, host = 0;

    memset(r, 0, sizeof(*r));
    r->buf = malloc(n + 1);
    if (!r->buf)
        return -1;
    if (n)
        memcpy(r->buf, data, n);
    r->buf[n] = '\0';
    p = r->buf;
    end = r->buf + n;
    line = next_line(&p, end);
    if (!line)
        line = p; /* "" */
    sp = strchr(line, ' ');
    target = line + strlen(line); /* "" in the buffer: it is decoded in place */
    if (sp) {
        *sp = '\0';
        target = sp + 1;
        sp = strchr(target, ' ');
        if (sp)
            *sp = '\0';
    }
    r->head.method = line;
    qm = strchr(target, '?');
    if (qm)
        *qm = '\0';
    pct_decode(target);
    r->head.path = target;
    parse_query(r, qm ? qm + 1 : NULL);
    while ((line = next_line(&p, end)) != NULL && *line) {
        char *colon = strchr(line, ':'), *v;

        if (!colon || colon == line || r->head.nheaders >= FUZZ_KV_MAX)
            continue;
        *colon = '\0';
        for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
            ;
        r->headers[r->head.nheaders].key = line;
        r->headers[r->head.nheaders].value = v;
        r->head.nheaders++;
    }
    if (line) { /* the empty line was there: what follows is the body */
        r->body = p < end ? p : end;
        r->nbody = (size_t)(end - r->body);
    }
    for (size_t i = 0; i < r->head.nheaders; i++) {
        const char *k = r->headers[i].key;

        if (strcasecmp(k, "Authorization") == 0)
            r->authorization = 1;
        if (strcasecmp(k, "Host") == 0)
            host = 1;
        if (strcasecmp(k, "Transfer-Encoding") == 0)
            framed = 1;
        if (strcasecmp(k, "Content-Length") == 0) {
            char *e;
            unsigned long long v = strtoull(r->headers[i].value, &e, 10);

            framed = 1;
            if (*e == '\0' && v < r->nbody)
                r->nbody = (size_t)v;
        }
    }
    if (!host) {
        r->headers[r->head.nheaders].key = "Host";
        r->headers[r->head.nheaders].value = FUZZ_HOST;
        r->head.nheaders++;
    }
    if (!framed && r->nbody > 0) {
        snprintf(r->cl, sizeof(r->cl), "%zu", r->nbody);
        r->headers[r->head.nheaders].key = "Content-Length";
        r->headers[r->head.nheaders].value = r->cl;
        r->head.nheaders++;
    }
    r->head.headers = r->headers;
    r->head.query = r->query;
    r->head.peer = "127.0.0.1";
    r->head.local = "127.0.0.1";
    return 0;
}

int fuzz_http_one(const uint8_t *data, size_t n) {
    struct fuzz_req r;
    struct http_reply rp;
    int bad = 0;

    if (parse_request(data, n, &r) != 0)
        return 0;
    if (http_handle(server_for(r.authorization), &r.head, r.body, r.nbody, &rp) == 0)
        bad = check_reply("http", &rp, NULL);
    free(r.buf);
    return bad;
}

/* ---- mcp: a JSON-RPC message ------------------------------------------------------------ */

/* POST path with body[0..n) as application/json; the reply into *rp. 0, or -1 (no memory). */
static int post(struct server *s, const char *method, const char *path, const void *body, size_t n,
                struct http_reply *rp) {
    struct http_kv h[3] = {
        {"Host", FUZZ_HOST}, {"Content-Type", "application/json"}, {"Content-Length", NULL}};
    struct http_head head;
    char cl[24];

    snprintf(cl, sizeof(cl), "%zu", n);
    h[2].value = cl;
    memset(&head, 0, sizeof(head));
    head.method = method;
    head.path = path;
    head.headers = h;
    head.nheaders = n ? 3 : 1;
    head.peer = "127.0.0.1";
    head.local = "127.0.0.1";
    return http_handle(s, &head, body, n, rp) == 0 ? 0 : -1;
}

int fuzz_mcp_one(const uint8_t *data, size_t n) {
    struct http_reply rp;
    json_t *j;
    int bad;

    if (post(server_for(0), "POST", "/mcp", data, n, &rp) != 0)
        return 0;
    bad = check_reply("mcp", &rp, &j);
    if (!bad && j && json_object_get(j, "jsonrpc")) {
        /* a JSON-RPC response: version 2.0, an id member, exactly one of result and error */
        if (!json_is_string(json_object_get(j, "jsonrpc")) ||
            strcmp(json_string_value(json_object_get(j, "jsonrpc")), "2.0") != 0 ||
            !json_object_get(j, "id") ||
            !json_object_get(j, "result") == !json_object_get(j, "error"))
            bad = broke("mcp", "not a JSON-RPC 2.0 response");
    }
    json_decref(j);
    return bad;
}

/* ---- step: an episode played from the input --------------------------------------------- */

/* One request on the open server; its status, and *out the parsed body (new, may be NULL).
 * Sets *bad when the reply breaks an invariant. */
static unsigned call(const char *method, const char *path, const void *body, size_t n, json_t **out,
                     int *bad) {
    struct http_reply rp;
    unsigned status;

    *out = NULL;
    if (post(server_for(0), method, path, body, n, &rp) != 0)
        return 0;
    status = rp.status;
    if (check_reply("step", &rp, out))
        *bad = 1;
    return status;
}

/*
 * The input: byte 0 picks the task, byte 1 max_steps (1..8), the reward mode and where to fork;
 * the rest are step bodies, one a line. Checks: the episode is made; every 200 step has a
 * judge label, a step number one past the last and a numeric reward; the episode then holds
 * exactly the steps answered 200; a fork holds its prefix; deletes work.
 */
int fuzz_step_one(const uint8_t *data, size_t n) {
    static const char *const modes[] = {"judge", "torl", "otc"};
    struct server *s = server_for(0);
    const struct task *t;
    char path[128], id[EPISODE_ID_LEN + 1], fork_id[EPISODE_ID_LEN + 1] = "", *body;
    const char *p, *end;
    json_t *j;
    long long taken = 0, at;
    unsigned st;
    int bad = 0, done = 0;

    if (n < 2 || task_set_count(s->tasks) == 0)
        return 0;
    t = task_set_at(s->tasks, data[0] % task_set_count(s->tasks));
    /* a trainer's episode: the replies carry the judgement this target checks */
    j = json_pack("{s:s, s:i, s:s, s:s}", "task_id", t->id, "max_steps", 1 + data[1] % 8,
                  "reward_mode", modes[(data[1] >> 3) % 3], "feedback", "judge");
    body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!body)
        return 0;
    st = call("POST", "/v1/episodes", body, strlen(body), &j, &bad);
    free(body);
    if (st != 201 || !json_is_string(json_object_get(j, "episode_id"))) {
        json_decref(j);
        return bad | broke("step", "creating an episode of task %s: %u", t->id, st);
    }
    snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(j, "episode_id")));
    json_decref(j);
    snprintf(path, sizeof(path), "/v1/episodes/%s/step", id);
    p = (const char *)data + 2;
    end = (const char *)data + n;
    for (int k = 0; k < FUZZ_STEPS_MAX && p < end; k++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);

        st = call("POST", path, p, len, &j, &bad);
        p += len + 1;
        if (st == 200) {
            const char *label =
                json_string_value(json_object_get(json_object_get(j, "judgement"), "label"));
            enum judge_label l;

            if (done)
                bad |= broke("step", "a step was taken after the episode was done");
            if (!label || judge_label_parse(label, &l) != 0)
                bad |= broke("step", "step without a judge label");
            if (json_integer_value(json_object_get(j, "step")) != taken + 1)
                bad |= broke("step", "step number %lld after %lld steps",
                             (long long)json_integer_value(json_object_get(j, "step")), taken);
            if (!json_is_number(json_object_get(j, "reward")) ||
                !isfinite(json_number_value(json_object_get(j, "reward"))))
                bad |= broke("step", "step without a finite reward");
            done = json_is_true(json_object_get(j, "done"));
            taken++;
        } else if (st != 400 && st != 409 && st != 413 && st != 415 && st != 503) {
            bad |= broke("step", "a step answered %u", st);
        }
        json_decref(j);
    }
    snprintf(path, sizeof(path), "/v1/episodes/%s", id);
    st = call("GET", path, NULL, 0, &j, &bad);
    if (st != 200 || (long long)json_array_size(json_object_get(j, "steps")) != taken)
        bad |= broke("step", "GET: %u with %zu steps, %lld taken", st,
                     json_array_size(json_object_get(j, "steps")), taken);
    json_decref(j);
    /* fork somewhere in the prefix (a done episode's last step, its end, cannot be forked) */
    at = taken > 0 ? (long long)(data[1] >> 5) % (taken + 1 - done) : 0;
    snprintf(path, sizeof(path), "/v1/episodes/%s/fork", id);
    snprintf(fork_id, sizeof(fork_id), "{\"at\":%lld}", at);
    st = call("POST", path, fork_id, strlen(fork_id), &j, &bad);
    fork_id[0] = '\0';
    if (st == 201 && json_is_string(json_object_get(j, "episode_id")))
        snprintf(fork_id, sizeof(fork_id), "%s",
                 json_string_value(json_object_get(j, "episode_id")));
    else
        bad |= broke("step", "fork at %lld of %lld steps: %u", at, taken, st);
    json_decref(j);
    if (fork_id[0]) {
        snprintf(path, sizeof(path), "/v1/episodes/%s", fork_id);
        st = call("GET", path, NULL, 0, &j, &bad);
        if (st != 200 || (long long)json_array_size(json_object_get(j, "steps")) != at)
            bad |= broke("step", "fork at %lld holds %zu steps", at,
                         json_array_size(json_object_get(j, "steps")));
        json_decref(j);
        if (call("DELETE", path, NULL, 0, &j, &bad) != 204)
            bad |= broke("step", "deleting the fork failed");
        json_decref(j);
    }
    snprintf(path, sizeof(path), "/v1/episodes/%s", id);
    if (call("DELETE", path, NULL, 0, &j, &bad) != 204)
        bad |= broke("step", "deleting the episode failed");
    json_decref(j);
    return bad;
}

/* ---- calc ------------------------------------------------------------------------------- */

/* The input as a C string (new): bytes up to the first NUL. */
static char *as_string(const uint8_t *data, size_t n) {
    char *s = malloc(n + 1);

    if (!s)
        return NULL;
    if (n)
        memcpy(s, data, n);
    s[n] = '\0';
    return s;
}

/* Checks: a result is finite and formats; an error has a known code, and a syntax error names a
 * position inside the expression (or just past its end). */
int fuzz_calc_one(const uint8_t *data, size_t n) {
    static const char *const codes[] = {"syntax_error", "division_by_zero", "domain_error",
                                        "overflow", "too_complex"};
    char *s = as_string(data, n), buf[64];
    struct tg_error err;
    double v = 0;
    int bad = 0, rc;

    if (!s)
        return 0;
    memset(&err, 0, sizeof(err));
    rc = calc_eval(s, &v, &err);
    if (rc == 0) {
        if (!isfinite(v))
            bad = broke("calc", "a result that is not finite");
        else if (calc_format(v, buf, sizeof(buf)) != 0 || !buf[0])
            bad = broke("calc", "a result that does not format");
    } else {
        size_t k = 0;

        while (k < TG_ARRAY_LEN(codes) && strcmp(err.code, codes[k]) != 0)
            k++;
        if (rc != TG_EINVAL || k == TG_ARRAY_LEN(codes) || !err.message[0])
            bad = broke("calc", "error %d with code \"%s\"", rc, err.code);
        if (k == 0) {
            const char *at = strstr(err.message, " at position ");
            char *e;
            unsigned long pos = at ? strtoul(at + 13, &e, 10) : 0;

            if (!at || pos < 1 || pos > strlen(s) + 1)
                bad = broke("calc", "syntax error without a position in the text: %s", err.message);
        }
    }
    free(s);
    return bad;
}

/* ---- search ----------------------------------------------------------------------------- */

/*
 * Byte 0 picks k (1..20); the rest is the query. Checks: every term of search_tokenize is a
 * non-empty lowercase ASCII alphanumeric run, shorter than SEARCH_TERM_MAX, not a stopword, and
 * one the judge's tokeniser finds in the same text (the judge promises to tokenise exactly like
 * search); a query returns at most k hits, best first, with finite scores; its errors are
 * too_long and empty_query only.
 */
int fuzz_search_one(const uint8_t *data, size_t n) {
    static char terms[TG_SEARCH_MAX_QUERY][SEARCH_TERM_MAX];
    struct search_hit hits[TG_SEARCH_K_MAX];
    struct tg_error err;
    size_t nterms, nhits = 0, k;
    char *q;
    int bad = 0, rc;

    if (n < 1)
        return 0;
    k = 1 + data[0] % TG_SEARCH_K_MAX;
    q = as_string(data + 1, n - 1);
    if (!q)
        return 0;
    nterms = search_tokenize(q, terms, TG_ARRAY_LEN(terms));
    for (size_t i = 0; i < nterms && !bad; i++) {
        char *t = terms[i];
        size_t len = strlen(t);

        if (len == 0 || len >= SEARCH_TERM_MAX ||
            strspn(t, "abcdefghijklmnopqrstuvwxyz"
                      "0123456789") != len)
            bad = broke("search", "term \"%.80s\" is not a lowercase alphanumeric run", t);
        else if (search_is_stopword(t))
            bad = broke("search", "stopword \"%s\" kept", t);
        else if (!judge_query_has_terms(q, &t, 1))
            bad = broke("search", "the judge does not find the search term \"%s\"", t);
    }
    if (!index_) {
        if (search_index_load(FUZZ_CORPUS, &index_, &err) != 0) {
            fprintf(stderr, "fuzz: cannot load %s: %s\n", FUZZ_CORPUS, err.message);
            abort();
        }
    }
    memset(&err, 0, sizeof(err));
    rc = search_query(index_, q, k, hits, &nhits, &err);
    if (rc == 0) {
        if (nhits > k)
            bad = broke("search", "%zu hits for k = %zu", nhits, k);
        for (size_t i = 0; i < nhits && i < k; i++) {
            if (!isfinite(hits[i].score) || (i > 0 && hits[i].score > hits[i - 1].score))
                bad = broke("search", "hit %zu out of order or not finite", i);
            if (!memchr(hits[i].snippet, '\0', sizeof(hits[i].snippet)))
                bad = broke("search", "snippet %zu not terminated", i);
        }
    } else if (!(rc == TG_ERANGE && strcmp(err.code, "too_long") == 0) &&
               !(rc == TG_EINVAL && strcmp(err.code, "empty_query") == 0)) {
        bad = broke("search", "error %d \"%s\"", rc, err.code);
    }
    free(q);
    return bad;
}

/* ---- tasks ------------------------------------------------------------------------------ */

/*
 * The input as a task file, loaded from a memory file by path as the server loads one.
 * Checks: all or nothing (a failure leaves the set empty and says why); every task loaded is
 * found by its id and has a public form; judging its prompt as an answer does not fail.
 */
int fuzz_tasks_one(const uint8_t *data, size_t n) {
    struct task_set *s = task_set_new();
    struct tg_error err;
    char path[64];
    int fd, bad = 0, rc;

    if (!s)
        return 0;
    fd = memfd_create("fuzz-tasks", MFD_CLOEXEC);
    if (fd < 0 || (n && write(fd, data, n) != (ssize_t)n)) {
        if (fd >= 0)
            close(fd);
        task_set_free(s);
        return 0;
    }
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    memset(&err, 0, sizeof(err));
    rc = task_set_load(s, path, &err);
    if (rc != 0) {
        if (task_set_count(s) != 0 || !err.message[0])
            bad = broke("tasks", "a failed load kept %zu tasks or said nothing", task_set_count(s));
    }
    for (size_t i = 0; i < task_set_count(s) && !bad; i++) {
        const struct task *t = task_set_at(s, i);
        json_t *pub = task_public_json(t);

        if (!pub || task_set_find(s, t->id) != t)
            bad = broke("tasks", "task %zu is not found by its id or has no public form", i);
        json_decref(pub);
        judge_answer_correct(&t->answer, t->prompt);
    }
    close(fd);
    task_set_free(s);
    return bad;
}

/* ---- the table -------------------------------------------------------------------------- */

const struct fuzz_target fuzz_targets[] = {
    {"http", fuzz_http_one, "a whole request: routing, framing, auth, body checks, handlers"},
    {"mcp", fuzz_mcp_one, "a JSON-RPC message to POST /mcp"},
    {"step", fuzz_step_one, "step bodies of an episode, through the judge, fork and get"},
    {"calc", fuzz_calc_one, "a calculator expression"},
    {"search", fuzz_search_one, "the search tokenizer and a query on the shipped corpus"},
    {"tasks", fuzz_tasks_one, "a task file"},
};
const size_t fuzz_ntargets = TG_ARRAY_LEN(fuzz_targets);

const struct fuzz_target *fuzz_target_find(const char *name) {
    for (size_t i = 0; i < fuzz_ntargets; i++)
        if (strcmp(fuzz_targets[i].name, name) == 0)
            return &fuzz_targets[i];
    return NULL;
}
