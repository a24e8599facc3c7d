/*
 * http.c — the libmicrohttpd daemon and everything between a socket and a route handler:
 * the route table, per-request state (allocated on the first callback, freed in the
 * completion callback), request framing checks, body limits, authentication (bearer keys,
 * compared in constant time), content-type and JSON checks, deferral of slow work with
 * suspend/resume, the error shape, access logs (escaped) and metrics, connection hygiene (a
 * per-address connection cap and a watcher thread that closes connections whose headers
 * arrive too slowly), and the Host and Origin checks against DNS rebinding (origin.h) with the
 * CORS headers and preflights that follow from them.
 *
 * A request's life is four steps that know nothing of sockets — request_begin (state, route,
 * header checks), request_body, request_end (body checks, JSON, the handler) and
 * request_close (metrics, log, free) — driven either by the libmicrohttpd callbacks at the end
 * of this file or, for a request held in memory, by http_handle.
 *
 * It does not implement any endpoint itself (see api.c, api_episodes.c).
 */
#include "server/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/api.h"
#include "server/api_episodes.h"
#include "server/connwatch.h"
#include "server/origin.h"
#include "server/status.h"
#include "base/dbuf.h"
#include "base/json_util.h"
#include "base/jsonw.h"
#include "base/limits.h"
#include "base/metrics.h"

/* ---- the route table ------------------------------------------------------------------ */

struct route {
    const char *pattern; /* "/v1/tools/{name}": {x} matches one non-empty segment */
    const char *method;
    http_handler_fn handler;
    int public_; /* served without the API key */
    int jsonrpc; /* body errors are answered as JSON-RPC errors */
};

/* The two hot routes first (route_find tries them in order); each path has one method, so
 * the order of a 405's Allow list, built from this table, is the same as without them here. */
static const struct route routes[] = {
    {"/v1/episodes/{id}/step", "POST", api_episode_step, 0, 0},
    {"/v1/tools/{name}", "POST", api_tool_call, 0, 0},
    {"/", "GET", api_status_page, 1, 0},
    {"/healthz", "GET", api_healthz, 1, 0},
    {"/v1/status", "GET", api_status, 0, 0},
    {"/metrics", "GET", api_metrics, 0, 0},
    {"/v1/tools", "GET", api_tools_list, 0, 0},
    {"/mcp", "POST", api_mcp, 0, 1},
    {"/mcp", "DELETE", api_mcp_delete, 0, 1},
    {"/v1/tasks", "GET", api_tasks_list, 0, 0},
    {"/v1/episodes", "POST", api_episode_create, 0, 0},
    {"/v1/episodes/{id}/fork", "POST", api_episode_fork, 0, 0},
    {"/v1/episodes/{id}", "GET", api_episode_get, 0, 0},
    {"/v1/episodes/{id}", "DELETE", api_episode_delete, 0, 0},
    {"/v1/report", "GET", api_report, 0, 0},
};

/* Match path against pattern; captured {x} segments go to params. 1 on match. */
static int match(const char *pattern, const char *path, char params[][128]) {
    int np = 0;

    while (*pattern && *path) {
        if (*pattern == '{') {
            const char *pe = strchr(pattern, '}');
            size_t n = strcspn(path, "/");

            if (!pe || n == 0 || n >= 128 || np >= HTTP_MAX_PARAMS)
                return 0;
            memcpy(params[np], path, n);
            params[np][n] = '\0';
            np++;
            pattern = pe + 1;
            path += n;
            continue;
        }
        if (*pattern != *path)
            return 0;
        pattern++;
        path++;
    }
    return *pattern == '\0' && *path == '\0';
}

/* Find the route for (method, path). Sets *allow (for 405) when the path exists but not with
 * this method. */
static const struct route *route_find(const char *method, const char *path, char params[][128],
                                      char *allow, size_t allow_n, int *path_known) {
    char tmp[HTTP_MAX_PARAMS][128];

    *path_known = 0;
    allow[0] = '\0';
    /* the common case: path and method match; params are captured straight into place */
    for (size_t i = 0; i < TG_ARRAY_LEN(routes); i++) {
        if (strcmp(routes[i].method, method) == 0 && match(routes[i].pattern, path, params)) {
            *path_known = 1;
            return &routes[i];
        }
    }
    /* no match: list the methods the path does have, for 405 */
    for (size_t i = 0; i < TG_ARRAY_LEN(routes); i++) {
        if (!match(routes[i].pattern, path, tmp))
            continue;
        *path_known = 1;
        snprintf(allow + strlen(allow), allow_n - strlen(allow), "%s%s", allow[0] ? ", " : "",
                 routes[i].method);
    }
    return NULL;
}

/* ---- replies --------------------------------------------------------------------------- */

int http_json(struct http_reply *rp, unsigned status, json_t *body) {
    if (!body)
        return http_error(rp, 500, "internal", "Out of memory building the response.");
    rp->status = status;
    json_decref(rp->body);
    rp->body = body;
    return 0;
}

int http_json_text(struct http_reply *rp, unsigned status, char *text) {
    if (!text)
        return http_error(rp, 500, "internal", "Out of memory building the response.");
    json_decref(rp->body);
    rp->body = NULL;
    free(rp->text);
    rp->status = status;
    rp->text = text;
    rp->content_type = "application/json";
    return 0;
}

int http_error(struct http_reply *rp, unsigned status, const char *code, const char *fmt, ...) {
    char msg[TG_ERR_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* a quoted name cut to a byte count, or bytes from a decoded URL, must not make the body
     * impossible to build: the error shape is kept whatever the client sent */
    jsonu_utf8_scrub(msg);
    json_decref(rp->body);
    rp->status = status;
    rp->body = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);
    return 0;
}

int http_error_tg(struct http_reply *rp, unsigned status, const struct tg_error *err) {
    /* out of memory is the server's failure, whatever the caller was checking: API.md's 500 */
    if (strcmp(err->code, TG_CODE_NOMEM) == 0)
        return http_error(rp, 500, "internal", "%s", err->message);
    return http_error(rp, status, err->code[0] ? err->code : "internal", "%s",
                      err->message[0] ? err->message : "Unknown error.");
}

int http_reply_render(struct http_reply *rp, char **text, size_t *len, const char **ctype) {
    static const char oom[] = "{\"error\":{\"code\":\"internal\",\"message\":\"Out of memory.\"}}";

    *text = NULL;
    *len = 0;
    *ctype = NULL;
    if (rp->body) {
        /* replies are trees the server built, never sized by a client: no bound of their own */
        *text = jsonw_dumps(rp->body, JSONW_ASCII, (size_t)-1 / 2, rp->splice);
        json_decref(rp->body);
        rp->body = NULL;
        *ctype = "application/json";
    } else if (rp->text) {
        *text = rp->text;
        rp->text = NULL;
        *ctype = rp->content_type ? rp->content_type : "text/plain; charset=utf-8";
    } else if (rp->status != 0) {
        return 0; /* no body (204, 202) */
    }
    if (!*text) { /* the body could not be dumped, or a handler left no reply at all */
        rp->status = 500;
        *ctype = "application/json";
        *text = strdup(oom);
        if (!*text)
            return TG_ENOMEM;
    }
    *len = strlen(*text);
    return 0;
}

void http_reply_clear(struct http_reply *rp) {
    json_decref(rp->body);
    free(rp->text);
    memset(rp, 0, sizeof(*rp));
}

/* ---- the request's head ---------------------------------------------------------------- */

const char *http_header(const struct http_req *rq, const char *name) {
    for (size_t i = 0; i < rq->nheaders; i++)
        if (strcasecmp(rq->headers[i].key, name) == 0)
            return rq->headers[i].value ? rq->headers[i].value : "";
    return NULL;
}

const char *http_query(struct http_req *rq, const char *key) {
    for (size_t i = 0; i < rq->nquery; i++)
        if (strcmp(rq->query[i].key, key) == 0)
            return rq->query[i].value;
    return NULL;
}

void http_client_id(struct http_req *rq, char *buf, size_t n) {
    if (rq->key_index >= 0)
        snprintf(buf, n, "key:%d", rq->key_index);
    else
        snprintf(buf, n, "addr:%s", rq->peer);
}

char *http_log_escape(const char *in, char *out, size_t n) {
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    for (; *in; in++) {
        unsigned char c = (unsigned char)*in;

        if (c > 0x20 && c < 0x7f && c != '\\') {
            if (o + 1 >= n)
                break;
            out[o++] = (char)c;
        } else {
            if (o + 4 >= n)
                break;
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
    return out;
}

void http_reply_header(struct http_reply *rp, const char *name, const char *value) {
    if (rp->nheaders >= (int)TG_ARRAY_LEN(rp->headers))
        return;
    rp->headers[rp->nheaders].name = name;
    snprintf(rp->headers[rp->nheaders].value, sizeof(rp->headers[0].value), "%s", value);
    rp->nheaders++;
}

/* ---- per-request log lines ------------------------------------------------------------- */

static const char *const level_names[HTTP_LOG_LEVELS] = {
    "debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"};

const char *http_log_level_name(int level) {
    return level >= 0 && level < HTTP_LOG_LEVELS ? level_names[level] : "?";
}

int http_log_level_parse(const char *name) {
    for (int i = 0; name && i < HTTP_LOG_LEVELS; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

/* in into out (n bytes) with bytes outside printable ASCII, and the backslash, as \xHH; unlike
 * http_log_escape, spaces stay (a sentence). */
static void text_escape(const char *in, char *out, size_t n) {
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    for (; *in; in++) {
        unsigned char c = (unsigned char)*in;

        if (c >= 0x20 && c < 0x7f && c != '\\') {
            if (o + 1 >= n)
                break;
            out[o++] = (char)c;
        } else {
            if (o + 4 >= n)
                break;
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
}

int http_log_wanted(const struct http_req *rq, int level) {
    if (rq->route && rq->route->jsonrpc) /* kept for the session's log notifications */
        return 1;
    return !rq->srv->cfg.quiet && level >= rq->srv->log_level;
}

void http_log(struct http_req *rq, int level, const char *fmt, ...) {
    char text[TG_LOG_LINE_MAX];
    va_list ap;

    if (!http_log_wanted(rq, level))
        return;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (rq->nlog < TG_REQ_LOG_LINES) {
        rq->log[rq->nlog].level = level;
        memcpy(rq->log[rq->nlog].text, text, sizeof(text));
        rq->nlog++;
    }
    if (!rq->srv->cfg.quiet && level >= rq->srv->log_level) {
        char method[4 * 16 + 1], path[4 * TG_LOG_PATH_MAX + 1], esc[4 * TG_LOG_LINE_MAX + 1];

        text_escape(text, esc, sizeof(esc));
        fprintf(stderr, "toolgym: %s: %s %s: %s\n", http_log_level_name(level),
                http_log_escape(rq->method, method, sizeof(method)),
                http_log_escape(rq->path, path, sizeof(path)), esc);
    }
}

/* ---- content types --------------------------------------------------------------------- */

static int content_type_json(const char *ct) {
    size_t n = strlen("application/json");

    if (!ct)
        return 0;
    while (*ct == ' ')
        ct++;
    if (strncasecmp(ct, "application/json", n) != 0)
        return 0;
    return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

/* ---- keys ------------------------------------------------------------------------------ */

/*
 * The index of the configured key an Authorization header carries, or -1. The scheme
 * "Bearer" is matched case-insensitively. Every key is compared over all TG_API_KEY_MAX bytes
 * with no early exit, so the time taken depends neither on where a guess goes wrong nor on
 * which key (if any) it matches.
 */
static int key_match(const struct server *s, const char *h) {
    size_t tl;
    int found = -1;

    if (!h)
        return -1;
    while (*h == ' ' || *h == '\t')
        h++;
    if (strncasecmp(h, "Bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
        return -1;
    h += 6;
    while (*h == ' ' || *h == '\t')
        h++;
    tl = strlen(h);
    while (tl > 0 && (h[tl - 1] == ' ' || h[tl - 1] == '\t'))
        tl--;
    if (tl == 0 || tl > TG_API_KEY_MAX)
        return -1;
    for (size_t i = 0; i < s->nkeys; i++) {
        const struct http_key *k = &s->keys[i];
        unsigned diff = (unsigned)(k->len ^ tl);

        for (size_t j = 0; j < TG_API_KEY_MAX; j++)
            diff |= (unsigned char)((j < tl ? h[j] : 0) ^ k->key[j]);
        if (diff == 0 && found < 0)
            found = (int)i;
    }
    return found;
}

/* Add one key (trimmed, NUL-free); where names the option and line for errors. */
static int key_add(struct server *s, const char *k, size_t n, const char *where,
                   struct tg_error *err) {
    if (n == 0 || n > TG_API_KEY_MAX) {
        tg_error_set(err, TG_CODE_CONFIG, "%s: a key must be 1 to %d bytes.", where,
                     TG_API_KEY_MAX);
        return TG_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)k[i] <= 0x20 || (unsigned char)k[i] >= 0x7f) {
            tg_error_set(err, TG_CODE_CONFIG,
                         "%s: a key must be printable ASCII without spaces (a bearer token).",
                         where);
            return TG_EINVAL;
        }
    }
    if (s->nkeys >= TG_API_KEYS_MAX) {
        tg_error_set(err, TG_CODE_CONFIG, "%s: more than %d API keys.", where, TG_API_KEYS_MAX);
        return TG_EINVAL;
    }
    memset(&s->keys[s->nkeys], 0, sizeof(s->keys[0]));
    memcpy(s->keys[s->nkeys].key, k, n);
    s->keys[s->nkeys].len = n;
    s->nkeys++;
    return 0;
}

static int keys_from_file(struct server *s, const char *path, struct tg_error *err) {
    char line[TG_API_KEY_LINE_MAX + 2], where[96];
    struct stat st;
    size_t before = s->nkeys;
    int lineno = 0, rc = 0;
    FILE *f = fopen(path, "r");

    if (!f) {
        tg_error_set(err, TG_CODE_CONFIG, "--api-key-file %.200s: %s.", path, strerror(errno));
        return TG_EIO;
    }
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) && !s->cfg.quiet)
        fprintf(stderr, "toolgym: warning: --api-key-file %s is accessible to other users\n", path);
    while (fgets(line, sizeof(line), f)) {
        size_t n = strlen(line);
        const char *k = line;

        lineno++;
        snprintf(where, sizeof(where), "--api-key-file line %d", lineno);
        if (n > 0 && line[n - 1] != '\n' && !feof(f)) {
            tg_error_set(err, TG_CODE_CONFIG, "%s: longer than %d bytes.", where,
                         TG_API_KEY_LINE_MAX);
            rc = TG_EINVAL;
            break;
        }
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ' ||
                         line[n - 1] == '\t'))
            n--;
        while (n > 0 && (*k == ' ' || *k == '\t')) {
            k++;
            n--;
        }
        if (n == 0 || *k == '#')
            continue;
        if (memchr(k, '\0', n)) {
            tg_error_set(err, TG_CODE_CONFIG, "%s: a NUL byte.", where);
            rc = TG_EINVAL;
            break;
        }
        rc = key_add(s, k, n, where, err);
        if (rc)
            break;
    }
    if (rc == 0 && ferror(f)) {
        tg_error_set(err, TG_CODE_CONFIG, "--api-key-file %.200s: read error.", path);
        rc = TG_EIO;
    }
    if (rc == 0 && s->nkeys == before) {
        tg_error_set(err, TG_CODE_CONFIG, "--api-key-file %.200s holds no key.", path);
        rc = TG_EINVAL;
    }
    explicit_bzero(line, sizeof(line));
    fclose(f);
    return rc;
}

int http_keys_load(struct server *s, struct tg_error *err) {
    int rc = 0;

    s->nkeys = 0;
    if (!s->cfg.api_key && !s->cfg.api_key_file)
        return 0;
    s->keys = calloc(TG_API_KEYS_MAX, sizeof(*s->keys));
    if (!s->keys) {
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
        return TG_ENOMEM;
    }
    if (s->cfg.api_key)
        rc = key_add(s, s->cfg.api_key, strlen(s->cfg.api_key), "--api-key", err);
    if (rc == 0 && s->cfg.api_key_file)
        rc = keys_from_file(s, s->cfg.api_key_file, err);
    return rc;
}

static void keys_wipe(struct server *s) {
    if (s->keys)
        explicit_bzero(s->keys, TG_API_KEYS_MAX * sizeof(*s->keys));
    free(s->keys);
    s->keys = NULL;
    s->nkeys = 0;
}

/* ---- request framing ------------------------------------------------------------------- */

/* What one pass over the request's headers found: framing, and the Host and Origin headers. */
struct framing {
    int ncl, nte, cl_bad, cl_differ, te_other;
    unsigned long long cl;
    int nhost, norigin;
    const char *host, *origin; /* the first of each (borrowed from the request's head) */
    const char *cl_text, *te_text, *ctype; /* the first Content-Length, Transfer-Encoding and
                                              Content-Type (as http_header finds them), or NULL */
};

/* The reason the request's framing (scanned into *f) is ambiguous (a request smuggling
 * vector), or NULL. */
static const char *framing_problem(const struct http_req *rq, struct framing *f) {
    memset(f, 0, sizeof(*f));
    for (size_t i = 0; i < rq->nheaders; i++) {
        const char *key = rq->headers[i].key;
        const char *value = rq->headers[i].value ? rq->headers[i].value : "";
        int c = key[0] | 0x20; /* the first letter in lower case: most headers stop here */

        if (c != 'c' && c != 't' && c != 'h' && c != 'o')
            continue;
        if (c == 'c' && !f->ctype && strcasecmp(key, MHD_HTTP_HEADER_CONTENT_TYPE) == 0) {
            f->ctype = value;
        } else if (c == 'c' && strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
            unsigned long long v = 0;
            size_t n = strspn(value, "0123456789");

            if (!f->cl_text)
                f->cl_text = value;
            if (n == 0 || n > 19 || value[n] != '\0') {
                f->cl_bad = 1;
            } else {
                for (size_t j = 0; j < n; j++)
                    v = v * 10 + (unsigned)(value[j] - '0');
                if (f->ncl > 0 && v != f->cl)
                    f->cl_differ = 1;
                f->cl = v;
            }
            f->ncl++;
        } else if (c == 't' && strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
            if (!f->te_text)
                f->te_text = value;
            f->nte++;
            if (strcasecmp(value, "chunked") != 0)
                f->te_other = 1;
        } else if (c == 'h' && strcasecmp(key, MHD_HTTP_HEADER_HOST) == 0) {
            if (f->nhost++ == 0)
                f->host = value;
        } else if (c == 'o' && strcasecmp(key, MHD_HTTP_HEADER_ORIGIN) == 0) {
            if (f->norigin++ == 0)
                f->origin = value;
        }
    }
    if (f->cl_bad)
        return "A Content-Length header is not a decimal number.";
    if (f->cl_differ)
        return "Content-Length headers disagree.";
    if (f->ncl > 0 && f->nte > 0)
        return "Content-Length and Transfer-Encoding together are ambiguous.";
    if (f->nte > 1 || f->te_other)
        return "The only Transfer-Encoding accepted is a single \"chunked\".";
    return NULL;
}

/* ---- Host, Origin and CORS preflights -------------------------------------------------- */

/* Does a route of this path answer in JSON-RPC (MCP)? */
static int path_jsonrpc(const char *path) {
    char tmp[HTTP_MAX_PARAMS][128];

    for (size_t i = 0; i < TG_ARRAY_LEN(routes); i++)
        if (routes[i].jsonrpc && match(routes[i].pattern, path, tmp))
            return 1;
    return 0;
}

/*
 * The Host and Origin rules (origin.h), before anything else of the request is looked at:
 * a refusal is 403 in the route's error shape (MCP: a JSON-RPC error), the body is never
 * read and no handler runs. 0 to go on (rq->cors_origin set when an accepted Origin came),
 * else 1 with the refusal in *rp.
 */
static int check_origin(struct http_req *rq, const struct framing *f, struct http_reply *rp) {
    const struct origin_policy *p = rq->srv->origin;
    struct origin_request in;
    enum origin_refusal r;
    struct tg_error err;
    char labels[48];
    int cors;

    in.host = f->host;
    in.nhost = f->nhost;
    in.origin = f->origin;
    in.norigin = f->norigin;
    in.local_ip = rq->local;
    r = origin_check(p, &in, &cors, &err);
    if (r == ORIGIN_OK) {
        rq->cors_origin = cors ? f->origin : NULL;
        return 0;
    }
    snprintf(labels, sizeof(labels), "reason=\"%s\"", origin_refusal_name(r));
    metrics_inc("toolgym_http_forbidden_total", labels, 1);
    http_log(rq, HTTP_LOG_WARNING, "refused: %s", err.message);
    if (path_jsonrpc(rq->path)) {
        jsonu_utf8_scrub(err.message);
        json_decref(rp->body);
        rp->status = 403;
        rp->body = json_pack("{s:s, s:n, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", "error", "code",
                             HTTP_JSONRPC_FORBIDDEN, "message", err.message);
    } else {
        http_error_tg(rp, 403, &err);
    }
    return 1;
}

/* OPTIONS on a known path, into *rp: the methods it has (Allow) and, for a browser's CORS
 * preflight (an accepted Origin), the methods and request headers it may use. */
static void reply_options(struct http_reply *rp, const char *allow) {
    if (!allow[0]) {
        http_error(rp, 404, "not_found", "No such path.");
        return;
    }
    rp->status = 204;
    snprintf(rp->allow, sizeof(rp->allow), "%s, OPTIONS", allow);
    rp->preflight = 1;
    snprintf(rp->preflight_methods, sizeof(rp->preflight_methods), "%s", allow);
}

/* Checks that need only the headers: 0 to go on, or 1 with the answer in *rp. allow lists the
 * methods of the path when it exists with other methods ("" when the path is unknown). */
static int check_headers(struct http_req *rq, struct http_reply *rp, const char *allow) {
    struct server *s = rq->srv;
    unsigned long long len = 0;
    struct framing f;
    const char *bad = framing_problem(rq, &f);
    const char *cl = f.cl_text, *te = f.te_text, *ct = f.ctype; /* one pass over the headers */

    if (bad) {
        rp->close = 1; /* where this body ends is unknown: never read another request from it */
        return http_error(rp, 400, "invalid_request", "%s", bad), 1;
    }
    if (check_origin(rq, &f, rp))
        return 1;
    if (strcmp(rq->method, MHD_HTTP_METHOD_OPTIONS) == 0) { /* public: preflights carry no key */
        reply_options(rp, allow);
        return 1;
    }
    if (!rq->route) {
        if (!allow[0])
            return http_error(rp, 404, "not_found", "No such path."), 1;
        snprintf(rp->allow, sizeof(rp->allow), "%s", allow);
        return http_error(rp, 405, "method_not_allowed", "Use %s for this path.", allow), 1;
    }
    if (s->nkeys > 0) {
        rq->key_index = key_match(s, http_header(rq, MHD_HTTP_HEADER_AUTHORIZATION));
        if (rq->key_index < 0 && !rq->route->public_)
            return http_error(rp, 401, "unauthorized",
                              "A valid 'Authorization: Bearer <key>' header is required."),
                   1;
    }
    if (cl) {
        char *end;

        errno = 0;
        len = strtoull(cl, &end, 10);
        if (errno || end == cl)
            len = 0;
        if (len > s->cfg.max_body)
            return http_error(rp, 413, "payload_too_large", "The body is over the size limit."), 1;
    }
    rq->has_body = len > 0 || (te && strcasecmp(te, "identity") != 0);
    if (rq->has_body && !content_type_json(ct))
        return http_error(rp, 415, "unsupported_media_type",
                          "The body must have Content-Type: application/json."),
               1;
    return 0;
}

/* ---- a request's life ------------------------------------------------------------------ */

/*
 * Start a request from its head h (borrowed; strings must outlive the request): state, route
 * and the header checks. conn is its connection, or NULL for one from memory. Returns 0 with
 * *out new (finish with request_close); when the checks answered it at once, rp->status is
 * set and *rp holds the answer (the body is then discarded). TG_ENOMEM: nothing was made.
 */
static int request_begin(struct server *s, const struct http_head *h, struct MHD_Connection *conn,
                         struct http_req **out, struct http_reply *rp) {
    struct http_req *rq = malloc(sizeof(*rq));
    char allow[64];
    int known;

    *out = NULL;
    if (!rq)
        return TG_ENOMEM;
    memset(rq, 0, offsetof(struct http_req, log)); /* log[] is written before it is read */
    rq->srv = s;
    rq->conn = conn;
    dbuf_init(&rq->body, s->cfg.max_body);
    tg_cancel_init(&rq->cancel);
    rq->method = h->method;
    rq->headers = h->headers;
    rq->nheaders = h->nheaders;
    rq->query = h->query;
    rq->nquery = h->nquery;
    tg_copy_cut(rq->peer, sizeof(rq->peer), h->peer ? h->peer : "?");
    tg_copy_cut(rq->local, sizeof(rq->local), h->local ? h->local : "");
    rq->key_index = -1;
    rq->t0_us = tg_now_us();
    tg_copy_cut(rq->path, sizeof(rq->path), h->path);
    pthread_mutex_lock(&s->mu);
    s->inflight++;
    pthread_mutex_unlock(&s->mu);
    rq->route = route_find(h->method, h->path, rq->params, allow, sizeof(allow), &known);
    if (!known)
        allow[0] = '\0';
    check_headers(rq, rp, allow);
    *out = rq;
    return 0;
}

/* More of the body (past max_body, body.err makes request_end answer 413). */
static void request_body(struct http_req *rq, const void *p, size_t n) {
    dbuf_add(&rq->body, p, n);
}

/* The whole body is in: answer into *rp and return 0, or return HTTP_DEFERRED when the handler
 * deferred its work (request_end is called again once the work is done, rq->async == 2). */
static int request_end(struct http_req *rq, struct http_reply *rp) {
    struct tg_error err;
    int rc;

    if (rq->async == 2) {
        rq->async = 0;
        rc = rq->finish(rq, rp);
        TG_ASSERT(rc != HTTP_DEFERRED);
        return 0;
    }
    if (rq->body.err) /* past max_body, or we could not hold it */
        return http_error(rp, 413, "payload_too_large", "The body is over the size limit.");
    if (rq->body.len > 0) {
        rc = jsonu_parse(rq->body.p, rq->body.len, TG_MAX_JSON_DEPTH, &rq->json, &err);
        if (rc) /* the parser's message quotes the body's bytes, which need not be UTF-8 */
            jsonu_utf8_scrub(err.message);
        if (rc && rq->route->jsonrpc) {
            json_decref(rp->body);
            rp->status = 400;
            rp->body = json_pack("{s:s, s:n, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", "error",
                                 "code", -32700, "message", err.message);
            return 0;
        }
        if (rc)
            return http_error(rp, 400, err.code, "%s", err.message);
    }
    return rq->route->handler(rq, rp);
}

/* The request is over (answered, or its client gone): count it, log it, free it. */
static void request_close(struct http_req *rq) {
    struct server *s = rq->srv;
    long long us = tg_now_us() - rq->t0_us;
    char labels[160];

    const char *route = rq->route ? rq->route->pattern : "other";
    char status[12], *p = status + sizeof(status);
    unsigned st = rq->status;
    size_t cut;

    *--p = '\0';
    do {
        *--p = (char)('0' + st % 10);
        st /= 10;
    } while (st && p > status);
    labels[0] = '\0';
    cut = strlen(metrics_label(labels, sizeof(labels), "route", route));
    metrics_inc("toolgym_http_requests_total", metrics_label(labels, sizeof(labels), "status", p),
                1);
    labels[cut] = '\0';
    metrics_observe("toolgym_http_request_seconds", labels, (double)us / 1e6);
    if (!s->cfg.quiet) {
        char method[4 * 16 + 1], path[4 * TG_LOG_PATH_MAX + 1];

        fprintf(stderr, "%s %s %u %lldus\n", http_log_escape(rq->method, method, sizeof(method)),
                http_log_escape(rq->path, path, sizeof(path)), rq->status, us);
    }
    json_decref(rq->json);
    dbuf_free(&rq->body);
    tg_cancel_destroy(&rq->cancel);
    free(rq->kv);
    free(rq);
    pthread_mutex_lock(&s->mu);
    if (--s->inflight == 0)
        pthread_cond_broadcast(&s->drained);
    pthread_mutex_unlock(&s->mu);
}

int http_handle(struct server *s, const struct http_head *h, const void *body, size_t n,
                struct http_reply *rp) {
    struct http_req *rq;
    int rc;

    memset(rp, 0, sizeof(*rp));
    rc = request_begin(s, h, NULL, &rq, rp);
    if (rc)
        return rc;
    if (rp->status == 0) {
        if (n > 0)
            request_body(rq, body, n);
        rc = request_end(rq, rp);
        TG_ASSERT(rc != HTTP_DEFERRED); /* http_defer refuses a request without a connection */
        if (rp->status == 0 && !rp->body && !rp->text)
            http_error(rp, 500, "internal", "The handler gave no reply.");
    }
    rq->status = rp->status;
    request_close(rq);
    return 0;
}

/* ---- deferral -------------------------------------------------------------------------- */

struct defer {
    struct http_req *rq;
    runq_job_fn work;
    void *arg;
    struct connwatch_entry *watch; /* the socket's watch, or NULL when it could not be set */
};

static void defer_work(void *p) {
    struct defer *d = p;

    d->work(d->arg);
}

/* The job is done (or abandoned): stop watching the socket, then resume the connection. */
static void defer_done(void *p) {
    struct defer *d = p;
    struct http_req *rq = d->rq;

    struct server *s = rq->srv;

    connwatch_remove(s->connwatch, d->watch);
    free(d);
    rq->async = 2;
    MHD_resume_connection(rq->conn);
    pthread_mutex_lock(&s->mu);
    if (--s->deferred == 0)
        pthread_cond_broadcast(&s->drained);
    pthread_mutex_unlock(&s->mu);
}

/* On the watch thread: the client of a deferred request went away. A running job stops (the
 * token's hook kills its run); a job still queued is taken out and finished here at once
 * (its work sees the fired token). d stays valid meanwhile: defer_done waits for this. */
static void defer_gone(void *p) {
    struct defer *d = p;
    struct server *s = d->rq->srv;

    tg_cancel_fire(&d->rq->cancel);
    if (runq_cancel(s->runq, d) != 0)
        return;
    metrics_inc("toolgym_run_queue_cancelled_total", "", 1);
    d->work(d->arg);
    defer_done(d);
}

/* 503 overloaded: the run queue cannot take the job. */
static int refuse_overloaded(struct http_req *rq, struct http_reply *rp) {
    metrics_inc("toolgym_run_queue_rejected_total", "", 1);
    http_log(rq, HTTP_LOG_WARNING, "The code runner's queue is full: answered 503 overloaded.");
    rp->retry_after = TG_RUN_RETRY_AFTER_SEC;
    return http_error(rp, 503, "overloaded", "The code runner's queue is full; retry after %d s.",
                      TG_RUN_RETRY_AFTER_SEC);
}

int http_defer(struct http_req *rq, struct http_reply *rp, runq_job_fn work, void *arg,
               http_handler_fn finish) {
    struct defer *d;
    const union MHD_ConnectionInfo *info;
    char client[TG_CLIENT_KEY_MAX + 1];
    int rc;

    if (!rq->conn) /* a request from memory (http_handle): no connection to suspend */
        return refuse_overloaded(rq, rp);
    d = calloc(1, sizeof(*d));
    if (!d)
        return http_error(rp, 500, "internal", "Out of memory queuing the call.");
    d->rq = rq;
    d->work = work;
    d->arg = arg;
    rq->async = 1;
    rq->finish = finish;
    rq->async_arg = arg;
    /* suspend before submitting, so the job can never resume a connection not yet suspended */
    pthread_mutex_lock(&rq->srv->mu);
    rq->srv->deferred++;
    pthread_mutex_unlock(&rq->srv->mu);
    MHD_suspend_connection(rq->conn);
    /* libmicrohttpd does not poll a suspended connection: watch its socket ourselves (without
     * a watch the job still runs, it just cannot be cancelled) */
    info = MHD_get_connection_info(rq->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (info && connwatch_add(rq->srv->connwatch, info->connect_fd, defer_gone, d, &d->watch))
        d->watch = NULL;
    http_client_id(rq, client, sizeof(client));
    rc = runq_submit(rq->srv->runq, defer_work, defer_done, d, &rq->cancel, client);
    if (rc) {
        connwatch_remove(rq->srv->connwatch, d->watch);
        MHD_resume_connection(rq->conn);
        pthread_mutex_lock(&rq->srv->mu);
        rq->srv->deferred--;
        pthread_mutex_unlock(&rq->srv->mu);
        free(d);
        rq->async = 0;
        rq->finish = NULL;
        rq->async_arg = NULL;
        if (rc == TG_ECANCELED) /* gone before its job was queued */
            return http_error(rp, HTTP_CLIENT_CLOSED, "client_closed",
                              "The client went away; the call was not run.");
        if (rc == TG_ERANGE) { /* this client's share of the queue is in use */
            metrics_inc("toolgym_run_queue_quota_refused_total", "", 1);
            http_log(rq, HTTP_LOG_WARNING,
                     "This client's share of the code runner's queue is in use: answered 429.");
            rp->retry_after = TG_RUN_RETRY_AFTER_SEC;
            return http_error(rp, 429, "quota_exceeded",
                              "This client has its share of the code runner's queue queued or "
                              "running; retry after %d s.",
                              TG_RUN_RETRY_AFTER_SEC);
        }
        return refuse_overloaded(rq, rp);
    }
    return HTTP_DEFERRED;
}

int http_run_job(struct http_req *rq, struct http_reply *rp, int queued, runq_job_fn work,
                 void *arg, http_handler_fn finish, runq_job_fn drop) {
    int rc;

    if (queued) {
        rc = http_defer(rq, rp, work, arg, finish);
        if (rc != HTTP_DEFERRED)
            drop(arg);
        return rc;
    }
    work(arg);
    rq->async_arg = arg;
    rc = finish(rq, rp);
    rq->async_arg = NULL;
    TG_ASSERT(rc != HTTP_DEFERRED);
    return rc;
}

/* ---- connection deadlines ------------------------------------------------------------- */

/*
 * libmicrohttpd's connection timeout is an idle timeout: a client that sends one header byte
 * every few seconds keeps a connection forever. The watcher gives every connection a deadline
 * instead: the request line and headers must arrive within header_timeout of the connection's
 * start (or of the next request line's arrival on a kept-alive connection), the whole body
 * within body_timeout of the headers (a client that trickles a body byte now and then would
 * otherwise hold its connection, and the body buffered so far, for ever), and the next request
 * line within TG_CONN_TIMEOUT_SEC of the last reply. While a request is handled there is no
 * deadline (handlers run on their own; a deferred run is watched by connwatch.c).
 * A thread checks the deadlines four times a second and shuts a late connection's socket
 * down; libmicrohttpd then sees the end of stream and closes it the usual way.
 */
enum conn_phase { CONN_HEADERS, CONN_BODY, CONN_REQUEST, CONN_WAIT_LINE };

struct conn {
    struct conn *prev, *next;
    int fd;
    enum conn_phase phase; /* touched only by the connection's own MHD thread */
    atomic_llong deadline; /* microseconds (tg_now_us); 0: none */
};

struct http_watch {
    pthread_mutex_t mu; /* guards the list; held while a socket is shut down */
    pthread_cond_t cv;
    pthread_t thread;
    int running, stop;
    struct conn *head;
    long long header_us, body_us, wait_us;
};

#define WATCH_TICK_MS 250

static void *watch_main(void *arg) {
    struct http_watch *w = arg;

    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        struct timespec ts;
        long long now = tg_now_us();
        size_t late = 0;

        for (struct conn *c = w->head; c; c = c->next) {
            long long d = atomic_load(&c->deadline);

            if (d && now >= d) {
                atomic_store(&c->deadline, 0);
                shutdown(c->fd, SHUT_RDWR); /* the fd is open: CLOSED needs w->mu first */
                late++;
            }
        }
        if (late)
            metrics_inc("toolgym_http_slow_connections_closed_total", "", (double)late);
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += WATCH_TICK_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static struct conn *conn_of(struct MHD_Connection *conn) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return ci ? ci->socket_context : NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
    struct server *s = cls;
    struct http_watch *w = s->watch;
    struct conn *c = *socket_context;

    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);

        c = calloc(1, sizeof(*c));
        if (!c || !ci) { /* unwatched: libmicrohttpd's idle timeout still applies */
            free(c);
            return;
        }
        c->fd = ci->connect_fd;
        c->phase = CONN_HEADERS;
        atomic_init(&c->deadline, tg_now_us() + w->header_us);
        pthread_mutex_lock(&w->mu);
        c->next = w->head;
        if (w->head)
            w->head->prev = c;
        w->head = c;
        pthread_mutex_unlock(&w->mu);
        *socket_context = c;
        return;
    }
    if (!c) /* MHD_CONNECTION_NOTIFY_CLOSED, before libmicrohttpd closes the socket */
        return;
    pthread_mutex_lock(&w->mu);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&w->mu);
    free(c);
    *socket_context = NULL;
}

/* Called by libmicrohttpd when a request line has arrived: its headers' clock starts. */
static void *on_request_line(void *cls, const char *uri, struct MHD_Connection *conn) {
    struct server *s = cls;
    struct conn *c = conn_of(conn);

    (void)uri;
    if (c && c->phase == CONN_WAIT_LINE) {
        c->phase = CONN_HEADERS;
        atomic_store(&c->deadline, tg_now_us() + s->watch->header_us);
    }
    return NULL; /* the request state is made in on_request */
}

/* The headers are complete: the body's clock starts. */
static void watch_headers_done(struct server *s, struct MHD_Connection *conn) {
    struct conn *c = conn_of(conn);

    if (c) {
        c->phase = CONN_BODY;
        atomic_store(&c->deadline, tg_now_us() + s->watch->body_us);
    }
}

/* The body is complete: no deadline while the request is handled. */
static void watch_body_done(struct MHD_Connection *conn) {
    struct conn *c = conn_of(conn);

    if (c && c->phase == CONN_BODY) {
        c->phase = CONN_REQUEST;
        atomic_store(&c->deadline, 0);
    }
}

/* A reply went out: the next request line must come within TG_CONN_TIMEOUT_SEC. */
static void watch_wait_next(struct server *s, struct MHD_Connection *conn) {
    struct conn *c = conn_of(conn);

    if (c) {
        c->phase = CONN_WAIT_LINE;
        atomic_store(&c->deadline, tg_now_us() + s->watch->wait_us);
    }
}

static int watch_start(struct server *s, struct tg_error *err) {
    struct http_watch *w = calloc(1, sizeof(*w));

    if (!w) {
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
        return TG_ENOMEM;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->header_us = (long long)s->cfg.header_timeout_sec * 1000000LL;
    w->body_us = (long long)s->cfg.body_timeout_sec * 1000000LL;
    w->wait_us = (long long)TG_CONN_TIMEOUT_SEC * 1000000LL;
    s->watch = w;
    if (pthread_create(&w->thread, NULL, watch_main, w) != 0) {
        tg_error_set(err, "internal", "Cannot start the connection watcher.");
        return TG_EIO;
    }
    w->running = 1;
    return 0;
}

/* Stop the watcher thread and free it; every connection is closed by now. */
static void watch_stop(struct server *s) {
    struct http_watch *w = s->watch;

    if (!w)
        return;
    if (w->running) {
        pthread_mutex_lock(&w->mu);
        w->stop = 1;
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->thread, NULL);
    }
    TG_ASSERT(w->head == NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
    s->watch = NULL;
}

/* ---- libmicrohttpd: replies, heads, callbacks ------------------------------------------- */

static enum MHD_Result send_reply(struct http_req *rq, struct http_reply *rp) {
    struct MHD_Response *resp;
    enum MHD_Result ret;
    char *text;
    size_t len;
    const char *ctype;

    if (http_reply_render(rp, &text, &len, &ctype) != 0)
        return MHD_NO;
    if (text)
        resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    else
        resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    if (ctype && rp->status != 204)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (rp->allow[0])
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, rp->allow);
    for (int i = 0; i < rp->nheaders; i++)
        MHD_add_response_header(resp, rp->headers[i].name, rp->headers[i].value);
    if (rp->close)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    if (rq->srv->cfg.node) /* which server answered, behind a balancer */
        MHD_add_response_header(resp, "X-Toolgym-Node", rq->srv->cfg.node);
    if (rp->retry_after > 0) {
        char ra[16];

        snprintf(ra, sizeof(ra), "%d", rp->retry_after);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    if (rq->cors_origin) { /* an accepted Origin: the browser may hand the reply to the page */
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN, rq->cors_origin);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Origin");
        if (rp->preflight) {
            MHD_add_response_header(resp, "Access-Control-Allow-Methods", rp->preflight_methods);
            MHD_add_response_header(resp, "Access-Control-Allow-Headers", HTTP_CORS_REQ_HEADERS);
            MHD_add_response_header(resp, "Access-Control-Max-Age", HTTP_CORS_MAX_AGE);
        } else {
            MHD_add_response_header(resp, "Access-Control-Expose-Headers",
                                    HTTP_CORS_EXPOSED_HEADERS);
        }
    }
    rq->status = rp->status;
    ret = MHD_queue_response(rq->conn, rp->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

struct kv_fill {
    struct http_kv *kv;
    size_t n, cap;
};

static enum MHD_Result kv_iter(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value) {
    struct kv_fill *f = cls;

    (void)kind;
    if (f->n == f->cap)
        return MHD_NO;
    f->kv[f->n].key = key;
    f->kv[f->n].value = value;
    f->n++;
    return MHD_YES;
}

/* An IPv4 address as dotted decimal into buf (at least INET_ADDRSTRLEN bytes): what
 * inet_ntop writes, without its cost on every request. */
static void ipv4_text(const struct in_addr *a, char *buf) {
    const unsigned char *b = (const unsigned char *)&a->s_addr; /* network order */
    char *p = buf;

    for (int i = 0; i < 4; i++) {
        unsigned v = b[i];

        if (i)
            *p++ = '.';
        if (v >= 100)
            *p++ = (char)('0' + v / 100);
        if (v >= 10)
            *p++ = (char)('0' + v / 10 % 10);
        *p++ = (char)('0' + v % 10);
    }
    *p = '\0';
}

/* The head of conn's request into *h: its headers and query parameters in *kv (new; the
 * strings stay libmicrohttpd's, valid until the request completes), its peer's address in
 * peer (n bytes). Returns 0 or TG_ENOMEM. */
static int head_from_mhd(struct MHD_Connection *conn, const char *method, const char *url,
                         struct http_head *h, struct http_kv **kv, char *peer, size_t n) {
    int nh = MHD_get_connection_values(conn, MHD_HEADER_KIND, NULL, NULL);
    int nq = MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, NULL, NULL);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    struct kv_fill f;
    size_t mark;

    memset(h, 0, sizeof(*h));
    f.n = 0;
    f.cap = (size_t)(nh > 0 ? nh : 0) + (size_t)(nq > 0 ? nq : 0);
    f.kv = calloc(f.cap ? f.cap : 1, sizeof(*f.kv));
    if (!f.kv)
        return TG_ENOMEM;
    MHD_get_connection_values(conn, MHD_HEADER_KIND, kv_iter, &f);
    mark = f.n;
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, kv_iter, &f);
    peer[0] = '?';
    peer[1] = '\0';
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;

        if (sa->sa_family == AF_INET && n >= INET_ADDRSTRLEN)
            ipv4_text(&((const struct sockaddr_in *)(const void *)sa)->sin_addr, peer);
        else if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, peer,
                      (socklen_t)n);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, peer,
                      (socklen_t)n);
    }
    h->method = method;
    h->path = url;
    h->headers = f.kv;
    h->nheaders = mark;
    h->query = f.kv + mark;
    h->nquery = f.n - mark;
    h->peer = peer;
    *kv = f.kv;
    return 0;
}

/* The address the connection arrived on, as text, into buf (n bytes); "" when unknown. */
static void local_address(struct MHD_Connection *conn, char *buf, size_t n) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);

    buf[0] = '\0';
    if (ci && getsockname(ci->connect_fd, (struct sockaddr *)&sa, &len) == 0 &&
        sa.sin_family == AF_INET)
        inet_ntop(AF_INET, &sa.sin_addr, buf, (socklen_t)n);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
    struct server *s = cls;
    struct http_req *rq = *con_cls;
    struct http_reply rp;

    (void)version;
    memset(&rp, 0, sizeof(rp));
    if (!rq) {
        struct http_head h;
        struct http_kv *kv;
        char peer[INET6_ADDRSTRLEN], local[INET6_ADDRSTRLEN] = "";

        watch_headers_done(s, conn);
        if (head_from_mhd(conn, method, url, &h, &kv, peer, sizeof(peer)) != 0)
            return MHD_NO;
        if (s->origin->wildcard && !s->origin->any_host) /* the Host check needs it */
            local_address(conn, local, sizeof(local));
        h.local = local;
        if (request_begin(s, &h, conn, &rq, &rp) != 0) {
            free(kv);
            return MHD_NO;
        }
        rq->kv = kv;
        *con_cls = rq;
        if (rp.status) /* answered from the headers alone */
            return send_reply(rq, &rp);
        return MHD_YES;
    }
    if (rq->status) /* an early reply was queued; discard whatever body follows */
        return MHD_YES;
    if (*upload_data_size) {
        request_body(rq, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    watch_body_done(conn);
    if (rq->async == 1) /* spurious call while suspended work is pending */
        return MHD_YES;
    if (request_end(rq, &rp) == HTTP_DEFERRED)
        return MHD_YES;
    return send_reply(rq, &rp);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    struct server *s = cls;
    struct http_req *rq = *con_cls;

    (void)toe;
    watch_wait_next(s, conn);
    if (!rq)
        return;
    if (rq->async == 2) {
        /* Deferred work finished, but the client went away before libmicrohttpd asked for the
         * reply: finish it all the same, so that the job is freed (and what it did, such as an
         * episode step, is recorded or undone as finish decides). Nobody reads the reply. */
        struct http_reply rp;

        memset(&rp, 0, sizeof(rp));
        rq->async = 0;
        rq->finish(rq, &rp);
        http_reply_clear(&rp);
        rq->status = HTTP_CLIENT_CLOSED;
    }
    request_close(rq);
    *con_cls = NULL;
}

/* ---- start and stop -------------------------------------------------------------------- */

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    struct server *s = cls;
    char msg[512], esc[4 * sizeof(msg)];
    size_t n;

    if (s->cfg.quiet)
        return;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n')
        msg[--n] = '\0';
    fprintf(stderr, "toolgym: microhttpd: %s\n", http_log_escape(msg, esc, sizeof(esc)));
}

/*
 * Open the listening socket ourselves rather than letting libmicrohttpd do it, so that a port
 * already in use is an error naming the port: SO_REUSEADDR only (restarts within TIME_WAIT
 * work), never SO_REUSEPORT, which would let a second server share the port and the kernel
 * split connections between the two. Returns the socket, or -1 with *err filled.
 */
static int listen_socket(const struct sockaddr_in *sa, const char *host, int port,
                         struct tg_error *err) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), on = 1, e;

    if (fd < 0) {
        tg_error_set(err, "bind", "Cannot open a socket for %s:%d: %s.", host, port,
                     strerror(errno));
        return -1;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == 0 &&
        bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0 && listen(fd, SOMAXCONN) == 0)
        return fd;
    e = errno;
    close(fd);
    if (e == EADDRINUSE)
        tg_error_set(err, "bind", "Port %d is already in use on %s (another server is listening).",
                     port, host);
    else
        tg_error_set(err, "bind", "Cannot listen on %s:%d: %s.", host, port, strerror(e));
    return -1;
}

/* Accept policy: once http_stop has begun, a new connection is closed as soon as it is
 * accepted. This replaces MHD_quiesce_daemon, which in libmicrohttpd 0.9.75 races the pool's
 * epoll workers removing the listening socket and aborts the process when it loses. */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen) {
    struct server *s = cls;

    (void)addr;
    (void)addrlen;
    return __atomic_load_n(&s->closing, __ATOMIC_ACQUIRE) ? MHD_NO : MHD_YES;
}

int http_start(struct server *s, struct tg_error *err) {
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    int threads = s->cfg.threads > 0 ? s->cfg.threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    int fd, rc;

    if (threads < 1)
        threads = 1;
    s->log_level = http_log_level_parse(s->cfg.log_level ? s->cfg.log_level : "warning");
    if (s->log_level < 0) {
        tg_error_set(err, TG_CODE_CONFIG, "--log-level %.32s is not a level (debug ... emergency).",
                     s->cfg.log_level);
        return TG_EINVAL;
    }
    s->origin = malloc(sizeof(*s->origin));
    if (!s->origin) {
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
        return TG_ENOMEM;
    }
    rc = origin_policy_init(s->origin, s->cfg.allowed_hosts, s->cfg.allowed_origins, err);
    if (rc)
        return rc;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)s->cfg.port);
    if (inet_pton(AF_INET, s->cfg.host, &sa.sin_addr) != 1) {
        tg_error_set(err, TG_CODE_CONFIG, "--host %s is not an IPv4 address.", s->cfg.host);
        return TG_EINVAL;
    }
    fd = listen_socket(&sa, s->cfg.host, s->cfg.port, err);
    if (fd < 0)
        return TG_EIO;
    if (getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        tg_error_set(err, "bind", "Cannot read the bound port of %s: %s.", s->cfg.host,
                     strerror(errno));
        close(fd);
        return TG_EIO;
    }
    {
        char ip[INET_ADDRSTRLEN] = "0.0.0.0"; /* the canonical text of the listen address */

        inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof(ip));
        origin_policy_bind(s->origin, ip, ntohs(sa.sin_port));
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->drained, NULL);
    s->mu_init = 1;
    rc = watch_start(s, err);
    if (rc) {
        close(fd);
        return rc;
    }
    s->daemon = MHD_start_daemon(
        flags, 0, on_accept, s, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_NOTIFY_CONNECTION, on_connection,
        s, MHD_OPTION_URI_LOG_CALLBACK, on_request_line, s, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)TG_MAX_CONNECTIONS, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)s->cfg.conns_per_ip, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)TG_CONN_TIMEOUT_SEC,
        MHD_OPTION_END);
    if (!s->daemon) {
        tg_error_set(err, "bind", "Cannot start the HTTP daemon on %s:%d: %s.", s->cfg.host,
                     s->cfg.port, strerror(errno));
        close(fd);
        return TG_EIO; /* http_stop stops the watcher and destroys the mutex */
    }
    s->port = ntohs(sa.sin_port);
    return 0;
}

void http_stop(struct server *s) {
    struct timespec deadline;

    if (s->daemon) {
        __atomic_store_n(&s->closing, 1, __ATOMIC_RELEASE);
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += TG_SHUTDOWN_GRACE_MS / 1000;
        pthread_mutex_lock(&s->mu);
        while (s->inflight > 0)
            if (pthread_cond_timedwait(&s->drained, &s->mu, &deadline) != 0)
                break;
        if (s->deferred > 0) {
            /* Runs still queued or running past the grace: abandon them as if their clients
             * had gone, and wait for their connections to resume (libmicrohttpd cannot stop
             * with a suspended connection). Cancelled runs end at once; only a request whose
             * socket could not be watched can hold this up, for one more grace period. */
            connwatch_all_gone(s->connwatch);
            clock_gettime(CLOCK_REALTIME, &deadline);
            deadline.tv_sec += TG_SHUTDOWN_GRACE_MS / 1000;
            while (s->deferred > 0)
                if (pthread_cond_timedwait(&s->drained, &s->mu, &deadline) != 0)
                    break;
        }
        pthread_mutex_unlock(&s->mu);
        MHD_stop_daemon(s->daemon);
        s->daemon = NULL;
    }
    watch_stop(s);
    if (s->mu_init) {
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->drained);
        s->mu_init = 0;
    }
    keys_wipe(s);
    free(s->origin);
    s->origin = NULL;
}
