/*
 * http.h — the HTTP layer shared by the route handlers: request and reply structs, the
 * handler type, deferral of slow work to the run queue, and the error shape of API.md.
 *
 * http.c owns the libmicrohttpd daemon, the route table, body limits, authentication,
 * content-type and JSON checks, logging and request metrics; a handler sees a request that
 * already passed all of those and fills a reply. Handlers live in api.c (service, tools,
 * tasks, report, MCP) and api_episodes.c (episodes).
 *
 * A request is handled in one place whatever brought it: the libmicrohttpd callbacks turn a
 * connection's request into a struct http_head and a body, and http_handle takes the same
 * from memory (the fuzzer and tests) — routing, checks, parsing and handlers are the same code.
 */
#ifndef TG_HTTP_H
#define TG_HTTP_H

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>

#include "base/limits.h"
#include "server/runq.h"
#include "server/server.h"
#include "base/cancel.h"
#include "base/dbuf.h"
#include "base/jsonw.h"
#include "base/tg.h"

struct MHD_Daemon;
struct MHD_Connection;
struct task_set;
struct report;
struct episode_store;
struct trajlog;
struct reward_config;
struct http_watch;
struct origin_policy;
struct mcp_sessions;
struct status_recent;

/* A bearer key, padded with zeros so that every comparison reads TG_API_KEY_MAX bytes. */
struct http_key {
    char key[TG_API_KEY_MAX];
    size_t len;
};
struct connwatch;
struct connwatch_entry;

/* The running server. Fields are read-only after server_start except where noted. */
struct server {
    struct server_config cfg;
    struct MHD_Daemon *daemon;
    struct runq *runq;           /* slow tool calls (run_code) */
    struct connwatch *connwatch; /* sockets of suspended requests: their clients going away */
    int port;
    pthread_mutex_t mu;                     /* guards inflight and deferred */
    int mu_init;                            /* mu and drained are initialised */
    pthread_cond_t drained;                 /* signalled when inflight or deferred drops to 0 */
    int inflight;                           /* requests between first callback and completion */
    int deferred;                           /* requests suspended while their work is deferred */
    int tools_ref;                          /* this server holds a reference on the tool registry */
    struct task_set *tasks;                 /* loaded tasks (episodes issue) */
    struct episode_store *episodes;         /* episode store (episodes issue) */
    struct trajlog *trajlog;                /* trajectory log or NULL */
    json_t *tools_list;                     /* the OpenAI tool list episodes are played with */
    char *tools_text, *tools_text_ascii;    /* tools_list rendered once (jsonw; _ascii escaped):
                                               trajectory lines, replies */
    struct jsonw_splice tools_splice_ascii; /* tools_list → tools_text_ascii, for replies */
    char *instructions_ascii;     /* judge_answer_format as a JSON string (ASCII): create replies */
    struct reward_config *reward; /* reward weights */
    struct report *report;        /* accuracy totals for GET /v1/report */
    struct status_recent *recent; /* the last finished episodes, for the status page */
    struct http_key *keys;        /* nkeys accepted bearer keys (http_keys_load); none: open */
    size_t nkeys;
    struct http_watch *watch;     /* connection deadlines (header timeout) */
    struct origin_policy *origin; /* accepted Host and Origin values (origin.h) */
    struct mcp_sessions *mcp;     /* MCP sessions (mcp_session.h) */
    int log_level;                /* per-request lines at or above this go to stderr */
    volatile int closing;         /* http_stop began: new connections are refused (atomic) */
};

/* One request header or query parameter. Strings are borrowed; a query parameter given
 * without '=' has a NULL value. */
struct http_kv {
    const char *key;
    const char *value;
};

/* A request as it arrives, before its body: all that routing and the header checks read.
 * Borrowed by the request; every string must outlive it. */
struct http_head {
    const char *method;
    const char *path; /* decoded, without the query string */
    const struct http_kv *headers;
    size_t nheaders;
    const struct http_kv *query; /* decoded query parameters, in order */
    size_t nquery;
    const char *peer;  /* the client's address as text, or NULL when unknown */
    const char *local; /* the address the connection arrived on, as text; NULL or "" when
                          unknown (needed by the Host check only with --host 0.0.0.0) */
};

#define HTTP_MAX_PARAMS    2
#define HTTP_DEFERRED      1   /* a handler's return value: the reply comes later */
#define HTTP_CLIENT_CLOSED 499 /* the status of a reply nobody reads: the client went away */

/* CORS: what a preflight allows a page to send, what a reply lets it read, how long a
 * browser may keep a preflight's answer (seconds). */
#define HTTP_CORS_REQ_HEADERS                                                                      \
    "Authorization, Content-Type, Accept, Mcp-Session-Id, Mcp-Protocol-Version, Last-Event-ID"
#define HTTP_CORS_EXPOSED_HEADERS "Mcp-Session-Id, Retry-After, Allow, X-Toolgym-Node"
#define HTTP_CORS_MAX_AGE         "600"

/* The JSON-RPC error code of a request refused for its Host or Origin (403 on /mcp). */
#define HTTP_JSONRPC_FORBIDDEN (-32000)

/* Severity of a per-request log line: the levels of RFC 5424, as MCP names them, least
 * severe first (http_log_level_name). */
enum http_log_level {
    HTTP_LOG_DEBUG,
    HTTP_LOG_INFO,
    HTTP_LOG_NOTICE,
    HTTP_LOG_WARNING,
    HTTP_LOG_ERROR,
    HTTP_LOG_CRITICAL,
    HTTP_LOG_ALERT,
    HTTP_LOG_EMERGENCY,
    HTTP_LOG_LEVELS
};

/* One line a request logged (http_log). */
struct http_log_line {
    int level;
    char text[TG_LOG_LINE_MAX];
};

struct http_req;
struct http_reply;

/* http_handler_fn — fill *rp and return 0, or return HTTP_DEFERRED after http_defer. */
typedef int (*http_handler_fn)(struct http_req *rq, struct http_reply *rp);

struct http_req {
    struct server *srv;
    struct MHD_Connection *conn; /* NULL for a request from memory (http_handle) */
    const struct route *route;
    const char *method;            /* borrowed (libmicrohttpd's, or http_handle's caller's) */
    const struct http_kv *headers; /* borrowed, nheaders of them */
    size_t nheaders;
    const struct http_kv *query; /* borrowed, nquery of them */
    size_t nquery;
    struct http_kv *kv;                /* own copy of libmicrohttpd's headers and query, or NULL */
    char peer[48];                     /* the client's address; "?" when unknown */
    char local[48];                    /* the address the connection arrived on; "" when unknown */
    char path[TG_LOG_PATH_MAX];        /* for logs; truncated */
    char params[HTTP_MAX_PARAMS][128]; /* {name} segments of the route, in order */
    struct dbuf body;                  /* the upload, at most max_body bytes; body.err when
                                          it went past that (or memory ran out): 413 */
    int has_body;
    json_t *json; /* parsed body (owned) or NULL when there is none */
    long long t0_us;
    int key_index;           /* which of srv->keys the request carried; -1: none or keys off */
    unsigned status;         /* status sent, for the log */
    int async;               /* 0 none, 1 pending, 2 done */
    http_handler_fn finish;  /* called when deferred work is done */
    void *async_arg;         /* the deferred job */
    struct tg_cancel cancel; /* fired when the client goes away while the request is deferred;
                                deferred work gets &cancel and stops (TG_ECANCELED) */
    const char *cors_origin; /* the accepted Origin the reply names for the browser (borrowed
                                from the request's head), or NULL */
    int nlog;
    /* last: request_begin zeroes the struct only up to here */
    struct http_log_line log[TG_REQ_LOG_LINES]; /* what the request logged, in order (nlog) */
};

struct http_reply {
    unsigned status;
    json_t *body;             /* new reference, or NULL (e.g. 204) */
    char *text;               /* new (malloc) non-JSON body, e.g. /metrics */
    const char *content_type; /* for text; JSON bodies are application/json */
    char allow[64];           /* Allow header value for 405 */
    int retry_after;          /* Retry-After seconds, when > 0 */
    int close;                /* send Connection: close and close after the reply */
    int preflight;            /* a CORS preflight: with an accepted Origin, send the methods
                                 and headers a page may use */
    char preflight_methods[64];
    struct {
        const char *name; /* static */
        char value[80];
    } headers[2]; /* more response headers (http_reply_header) */
    int nheaders;
    const struct jsonw_splice *splice; /* a value of body written as text rendered once (the
                                          server's tool list), or NULL; see jsonw.h */
};

/* http_reply_header — add header name (static string) with value (copied, cut to 79 bytes) to
 * the reply; past two headers it is dropped. */
void http_reply_header(struct http_reply *rp, const char *name, const char *value);

/*
 * http_log — one line (printf-style; cut to TG_LOG_LINE_MAX - 1 bytes) about the request at
 * `level`. It goes to stderr at once (unless --quiet, and when at or above --log-level, with
 * the method and path; bytes outside printable ASCII escaped as \xHH) and is kept with the
 * request (its first TG_REQ_LOG_LINES lines), where MCP finds the lines it sends a session as
 * log notifications. Call it on the request's own thread (handler or finish).
 */
void http_log(struct http_req *rq, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* http_log_wanted — 1 when a line at `level` would be read by anyone (stderr at this level, or
 * an MCP request's session); http_log does nothing otherwise, and callers skip building an
 * expensive line (a dump of the arguments) when it is 0. */
int http_log_wanted(const struct http_req *rq, int level);

/* http_log_level_name — "debug" ... "emergency"; "?" out of range. Pure. */
const char *http_log_level_name(int level);

/* http_log_level_parse — the level named name (borrowed), or -1. Pure. */
int http_log_level_parse(const char *name);

/* http_client_id — the client a request counts against for quotas, into buf (n bytes):
 * "key:<i>" for the i-th configured API key, or "addr:<address>" when keys are off. */
void http_client_id(struct http_req *rq, char *buf, size_t n);

/*
 * http_log_escape — in (NUL-terminated) into out (n ≥ 1 bytes, NUL-terminated, truncated to
 * fit) with every byte outside printable ASCII 0x21..0x7e, and the backslash, written as
 * \xHH, so that a request cannot forge or split an access-log line. Returns out. Pure.
 */
char *http_log_escape(const char *in, char *out, size_t n);

/*
 * http_keys_load — the accepted bearer keys: s->cfg.api_key and every key of
 * s->cfg.api_key_file (one a line; blank lines and lines starting with '#' are skipped;
 * surrounding whitespace is trimmed). Sets s->keys and s->nkeys (none when neither option is
 * given). Returns 0, or TG_EINVAL/TG_EIO with *err naming the file and line (a key longer
 * than TG_API_KEY_MAX, one with spaces or control characters, more than TG_API_KEYS_MAX keys,
 * a file without keys). Start-up only. Keys are wiped when the server stops.
 */
int http_keys_load(struct server *s, struct tg_error *err);

/* http_query — value of the first query parameter named exactly `key` (borrowed), or NULL
 * when there is none or it has no value. */
const char *http_query(struct http_req *rq, const char *key);

/* http_header — value of the first header named `name` (case-insensitive; borrowed) or NULL. */
const char *http_header(const struct http_req *rq, const char *name);

/* http_error — fill *rp with API.md's error body. Returns 0 (so handlers can
 * `return http_error(...)`). */
int http_error(struct http_reply *rp, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* http_error_tg — the same from a struct tg_error (borrowed); an out-of-memory error
 * (TG_CODE_NOMEM) is always 500 internal, as API.md has it, whatever status was asked. */
int http_error_tg(struct http_reply *rp, unsigned status, const struct tg_error *err);

/* http_json — fill *rp with status and body (steals body; NULL body means ENOMEM → 500). */
int http_json(struct http_reply *rp, unsigned status, json_t *body);

/* http_json_text — fill *rp with status and a JSON body already written as text (steals
 * text, malloc'd; NULL means ENOMEM → 500): the fixed reply shapes written straight by
 * jsonw.h, the same bytes as http_json would send. */
int http_json_text(struct http_reply *rp, unsigned status, char *text);

/*
 * http_reply_render — the bytes of a reply as they are sent: *text (new, malloc; NUL-terminated,
 * NULL for an empty body), *len and *ctype (static; NULL for an empty body). A JSON body is
 * dumped compactly with non-ASCII escaped; a body that cannot be dumped (out of memory) becomes
 * 500 internal, so rp->status may change. Consumes rp's body and text. Returns 0, or TG_ENOMEM
 * when not even the error fits (then *text is NULL and the caller closes the connection).
 */
int http_reply_render(struct http_reply *rp, char **text, size_t *len, const char **ctype);

/* http_reply_clear — free what *rp holds and zero it. */
void http_reply_clear(struct http_reply *rp);

/*
 * http_handle — handle one whole request from memory: head h (borrowed) and body[0..n)
 * (borrowed; n == 0: none), through exactly what a request from a socket goes through —
 * routing, framing, Host and Origin checks, authentication, body limit, JSON parsing, the
 * handler —
 * into *rp (zeroed first; free with http_reply_clear), and counted in the metrics and access
 * log like any other. The body is taken as sent: give h the Content-Length or
 * Transfer-Encoding a client would. There is no connection to suspend, so work that would wait
 * for the run queue (run_code) is refused as a full queue refuses it: 503 overloaded.
 * Returns 0, or TG_ENOMEM when the request could not even be set up. Thread-safe (as the
 * handlers are); s must be started.
 */
int http_handle(struct server *s, const struct http_head *h, const void *body, size_t n,
                struct http_reply *rp);

/*
 * http_defer — run work(arg) on the server's run queue, then call finish(rq, rp) on an HTTP
 * thread to produce the reply. The connection is suspended meanwhile, so no HTTP worker
 * waits, and its socket is watched: when the client goes away, rq->cancel fires, a job still
 * waiting in the queue is taken out and a running one is expected to stop soon (work must
 * pass &rq->cancel to what it runs, and must return promptly once it has fired: for a
 * queued job it is called on the watch thread). finish then sees the job's TG_ECANCELED and
 * should answer HTTP_CLIENT_CLOSED. Returns HTTP_DEFERRED, or fills *rp and returns 0 with
 * `arg` still the caller's: 503 overloaded (+ Retry-After) when the queue is full or the
 * request has no connection to suspend (http_handle), HTTP_CLIENT_CLOSED when the client is
 * already gone. On success the request owns arg until
 * finish runs (finish must free it).
 */
int http_defer(struct http_req *rq, struct http_reply *rp, runq_job_fn work, void *arg,
               http_handler_fn finish);

/*
 * http_run_job — the one way a handler runs a tool job: work(arg), then finish(rq, rp) for the
 * reply, with finish reading arg from rq->async_arg and freeing it. When `queued` (a slow
 * tool), through http_defer on the run queue; otherwise at once on this thread. If the queue
 * refuses the job (503 overloaded, or 500 out of memory, in *rp), drop(arg) releases it
 * instead. Returns what the handler returns: HTTP_DEFERRED or 0. Takes arg in every case.
 */
int http_run_job(struct http_req *rq, struct http_reply *rp, int queued, runq_job_fn work,
                 void *arg, http_handler_fn finish, runq_job_fn drop);

/*
 * http_start — start the daemon for s (cfg already in s->cfg; s->runq set; keys loaded).
 * Sets s->port. Connections are capped per address (cfg.conns_per_ip) and a watcher thread
 * closes any connection whose request line and headers take longer than
 * cfg.header_timeout_sec, whose body takes longer than cfg.body_timeout_sec after them, or
 * whose next request line does not arrive within TG_CONN_TIMEOUT_SEC of the last reply. Returns 0
 * or TG_EIO/TG_EINVAL with *err. Start-up only. http_stop — stop accepting, wait up to
 * TG_SHUTDOWN_GRACE_MS for in-flight requests, stop the daemon and the watcher, wipe the keys. Safe
 * on a server whose start failed.
 */
int http_start(struct server *s, struct tg_error *err);
void http_stop(struct server *s);

#endif
