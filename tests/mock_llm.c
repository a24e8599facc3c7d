/*
 * mock_llm.c — the scripted chat completions endpoint of the tests (see mock_llm.h).
 */
#include "mock_llm.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/dbuf.h"

#define MOCK_BODY_MAX     (4UL << 20)
#define MOCK_OVERLAP_WAIT 5 /* seconds the first request waits for company */

struct mock_llm {
    struct MHD_Daemon *d;
    char url[64];
    json_t *script; /* the entries */
    char *used;     /* per entry: taken */
    json_t *seen;   /* the request bodies, in order */
    size_t unmatched;
    int inflight, max_inflight;
    char auth[512];
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

/* Per request: the body so far. */
struct mock_req {
    struct dbuf body;
};

/* A truncated body: the first half, then an error that drops the connection. */
struct cut_body {
    char *text;
    size_t len, sent;
};

static ssize_t cut_reader(void *cls, uint64_t pos, char *buf, size_t max) {
    struct cut_body *c = cls;
    size_t half = c->len / 2, n;

    if (pos >= half)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    n = half - (size_t)pos;
    if (n > max)
        n = max;
    memcpy(buf, c->text + pos, n);
    return (ssize_t)n;
}

static void cut_free(void *cls) {
    struct cut_body *c = cls;

    free(c->text);
    free(c);
}

/* The first user message and the number of assistant messages of a request. */
static void conversation_key(const json_t *req, const char **user, int *turn) {
    const json_t *msgs = json_object_get(req, "messages"), *m;
    size_t i;

    *user = "";
    *turn = 0;
    json_array_foreach(msgs, i, m) {
        const char *role = json_string_value(json_object_get(m, "role"));

        if (role && strcmp(role, "user") == 0 && !**user)
            *user = json_string_value(json_object_get(m, "content")) ?: "";
        if (role && strcmp(role, "assistant") == 0)
            (*turn)++;
    }
}

/* Take the entry answering req, or NULL. Caller holds m->mu. */
static const json_t *take_entry(struct mock_llm *m, const json_t *req) {
    const char *user;
    int turn;
    size_t i;
    const json_t *e;

    conversation_key(req, &user, &turn);
    json_array_foreach(m->script, i, e) {
        const char *match = json_string_value(json_object_get(e, "match"));

        if (m->used[i] || !match || !strstr(user, match) ||
            json_integer_value(json_object_get(e, "turn")) != turn)
            continue;
        m->used[i] = 1;
        return e;
    }
    return NULL;
}

/* Wait, as the first request, for a second one to arrive (or the timeout). */
static void wait_for_company(struct mock_llm *m) {
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += MOCK_OVERLAP_WAIT;
    while (m->max_inflight < 2)
        if (pthread_cond_timedwait(&m->cv, &m->mu, &ts) == ETIMEDOUT)
            break;
}

static enum MHD_Result reply(struct MHD_Connection *conn, struct mock_llm *m, const json_t *req) {
    const json_t *e;
    struct MHD_Response *resp;
    enum MHD_Result ret;
    unsigned status = 500;
    char *text = NULL;
    int truncate = 0;
    json_int_t retry_after = 0;

    pthread_mutex_lock(&m->mu);
    json_array_append(m->seen, req ? (json_t *)req : json_null());
    m->inflight++;
    if (m->inflight > m->max_inflight)
        m->max_inflight = m->inflight;
    pthread_cond_broadcast(&m->cv);
    if (m->max_inflight < 2)
        wait_for_company(m);
    e = req ? take_entry(m, req) : NULL;
    if (!e)
        m->unmatched++;
    m->inflight--;
    pthread_mutex_unlock(&m->mu);
    if (e) {
        const json_t *raw = json_object_get(e, "raw");

        status = json_object_get(e, "status")
                     ? (unsigned)json_integer_value(json_object_get(e, "status"))
                     : 200;
        retry_after = json_integer_value(json_object_get(e, "retry_after"));
        truncate = json_is_true(json_object_get(e, "truncate"));
        text = raw ? strdup(json_string_value(raw))
                   : json_dumps(json_object_get(e, "body"), JSON_COMPACT);
    } else {
        text = strdup("{\"error\":{\"message\":\"mock: no scripted response left\"}}");
    }
    if (!text)
        return MHD_NO;
    if (truncate) {
        struct cut_body *c = calloc(1, sizeof(*c));

        if (!c) {
            free(text);
            return MHD_NO;
        }
        c->text = text;
        c->len = strlen(text);
        resp = MHD_create_response_from_callback(c->len, 4096, cut_reader, c, cut_free);
    } else {
        resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    }
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "application/json");
    if (retry_after > 0) {
        char ra[32];

        snprintf(ra, sizeof(ra), "%lld", (long long)retry_after);
        MHD_add_response_header(resp, "Retry-After", ra);
    }
    ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls) {
    struct mock_llm *m = cls;
    struct mock_req *r = *con_cls;
    json_t *req;
    enum MHD_Result ret;

    (void)version;
    if (!r) {
        const char *auth;

        r = calloc(1, sizeof(*r));
        if (!r)
            return MHD_NO;
        dbuf_init(&r->body, MOCK_BODY_MAX);
        *con_cls = r;
        auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
        pthread_mutex_lock(&m->mu);
        snprintf(m->auth, sizeof(m->auth), "%s", auth ? auth : "");
        pthread_mutex_unlock(&m->mu);
        return MHD_YES;
    }
    if (*upload_size) {
        dbuf_add(&r->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "POST") != 0 || strcmp(url, "/v1/chat/completions") != 0) {
        static const char nf[] = "{\"error\":{\"message\":\"not found\"}}";
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(strlen(nf), (void *)nf, MHD_RESPMEM_PERSISTENT);

        ret = MHD_queue_response(conn, 404, resp);
        MHD_destroy_response(resp);
        return ret;
    }
    req = r->body.len ? json_loadb(r->body.p, r->body.len, 0, NULL) : NULL;
    ret = reply(conn, m, req);
    json_decref(req);
    return ret;
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe) {
    struct mock_req *r = *con_cls;

    (void)cls;
    (void)conn;
    (void)toe;
    if (r) {
        dbuf_free(&r->body);
        free(r);
    }
    *con_cls = NULL;
}

struct mock_llm *mock_llm_start(const char *script_path) {
    struct mock_llm *m = calloc(1, sizeof(*m));
    json_error_t je;
    json_t *root;
    const union MHD_DaemonInfo *info;
    struct sockaddr_in sa;

    if (!m)
        return NULL;
    root = json_load_file(script_path, 0, &je);
    m->script = json_incref(json_object_get(root, "responses"));
    json_decref(root);
    if (!json_is_array(m->script)) {
        fprintf(stderr, "mock_llm: %s: %s\n", script_path, root ? "no responses" : je.text);
        json_decref(m->script);
        free(m);
        return NULL;
    }
    m->used = calloc(json_array_size(m->script) + 1, 1);
    m->seen = json_array();
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    m->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0,
                            NULL, NULL, handler, m, MHD_OPTION_NOTIFY_COMPLETED, completed, m,
                            MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_END);
    if (!m->d || !m->used || !m->seen) {
        mock_llm_stop(m);
        return NULL;
    }
    info = MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(m->url, sizeof(m->url), "http://127.0.0.1:%u/v1", info ? info->port : 0);
    return m;
}

const char *mock_llm_url(struct mock_llm *m) {
    return m->url;
}

size_t mock_llm_requests(struct mock_llm *m) {
    size_t n;

    pthread_mutex_lock(&m->mu);
    n = json_array_size(m->seen);
    pthread_mutex_unlock(&m->mu);
    return n;
}

const json_t *mock_llm_request(struct mock_llm *m, size_t i) {
    const json_t *j;

    pthread_mutex_lock(&m->mu);
    j = json_array_get(m->seen, i);
    pthread_mutex_unlock(&m->mu);
    return j;
}

size_t mock_llm_unmatched(struct mock_llm *m) {
    return m->unmatched;
}

int mock_llm_max_inflight(struct mock_llm *m) {
    return m->max_inflight;
}

const char *mock_llm_auth(struct mock_llm *m) {
    return m->auth;
}

void mock_llm_stop(struct mock_llm *m) {
    if (!m)
        return;
    if (m->d)
        MHD_stop_daemon(m->d);
    json_decref(m->script);
    json_decref(m->seen);
    free(m->used);
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->cv);
    free(m);
}
