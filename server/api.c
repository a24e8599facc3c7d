/*
 * api.c — handlers for the service routes (/healthz, /metrics), the tool routes
 * (GET /v1/tools, POST /v1/tools/{name}) and MCP (POST and DELETE /mcp, JSON-RPC 2.0 over
 * Streamable HTTP, protocol 2025-06-18: sessions, logging/setLevel, and a session's log
 * notifications in an SSE reply). Slow tools run through http_defer. Every tool call logs
 * what it did (http_log): the arguments at debug, the outcome at info, a tool-level error at
 * notice, an internal failure at error.
 */
#include "server/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/mcp_session.h"
#include "tools/sandbox.h"
#include "base/dbuf.h"
#include "base/json_util.h"
#include "base/jsonw.h"
#include "base/metrics.h"

/* ---- instrumented tool calls --------------------------------------------------------- */

int api_invoke_tool(const struct tool *t, const json_t *args, struct tg_cancel *cancel,
                    struct tool_result *out, struct tg_error *err) {
    long long t0 = tg_now_us();
    char labels[96];
    const char *outcome;
    size_t cut;
    int rc;

    rc = tools_call_cancel(t, args, cancel, out, err);
    if (rc == TG_EINVAL)
        outcome = "invalid";
    else if (rc == TG_ECANCELED)
        outcome = "cancelled";
    else if (rc)
        outcome = "internal";
    else
        outcome = out->ok ? "ok" : "tool_error";
    labels[0] = '\0';
    cut = strlen(metrics_label(labels, sizeof(labels), "tool", t->name));
    metrics_inc("toolgym_tool_calls_total",
                metrics_label(labels, sizeof(labels), "outcome", outcome), 1);
    labels[cut] = '\0';
    metrics_observe("toolgym_tool_seconds", labels, (double)(tg_now_us() - t0) / 1e6);
    return rc;
}

/* What an MCP request brought besides its JSON-RPC body. */
struct mcp_ctx {
    char session[MCP_SESSION_ID_LEN + 1]; /* its Mcp-Session-Id (a live one), or "" */
    int sse;                              /* its Accept names text/event-stream */
};

/* A tool call running on the run queue. */
struct tool_job {
    const struct tool *tool;
    json_t *args;             /* own reference */
    json_t *id;               /* MCP request id (own reference) or NULL */
    struct mcp_ctx mcp;       /* MCP: the session to notify */
    struct tg_cancel *cancel; /* the deferred request's token (borrowed) or NULL */
    struct tool_result res;
    struct tg_error err;
    int rc;
    long long us; /* how long the call took */
};

static void tool_job_work(void *p) {
    struct tool_job *j = p;
    long long t0 = tg_now_us();

    j->rc = api_invoke_tool(j->tool, j->args, j->cancel, &j->res, &j->err);
    j->us = tg_now_us() - t0;
}

/* A new tool job for t with args (a new reference taken); NULL on ENOMEM. The call is logged
 * with its arguments at debug. */
static struct tool_job *tool_job_new(struct http_req *rq, const struct tool *t, json_t *args) {
    struct tool_job *j = calloc(1, sizeof(*j));
    char *text;

    if (!j)
        return NULL;
    j->tool = t;
    j->args = json_incref(args);
    j->cancel = &rq->cancel; /* fires if the client leaves before the reply (a queued job) */
    if (!http_log_wanted(rq, HTTP_LOG_DEBUG)) /* the dump below is most of a fast call's cost */
        return j;
    text = jsonw_dumps(args, JSONW_ASCII, (size_t)-1 / 2, NULL); /* as big as the body allowed */
    http_log(rq, HTTP_LOG_DEBUG, "%s %.200s%s", t->name, text ? text : "{}",
             text && strlen(text) > 200 ? "..." : "");
    free(text);
    return j;
}

/* Log a finished call: outcome at info, a tool-level error at notice, a failure at error. */
static void tool_job_log(struct http_req *rq, const struct tool_job *j) {
    double ms = (double)j->us / 1000.0;

    if (j->rc == TG_EINVAL)
        http_log(rq, HTTP_LOG_NOTICE, "%s: invalid arguments: %s", j->tool->name, j->err.message);
    else if (j->rc == TG_ECANCELED)
        http_log(rq, HTTP_LOG_INFO, "%s: not run to the end: the client went away", j->tool->name);
    else if (j->rc)
        http_log(rq, HTTP_LOG_ERROR, "%s: failed internally (%s)", j->tool->name,
                 tg_strerror(j->rc));
    else if (!j->res.ok)
        http_log(rq, HTTP_LOG_NOTICE, "%s: %s in %.1f ms: %s", j->tool->name, j->res.err.code, ms,
                 j->res.err.message);
    else
        http_log(rq, HTTP_LOG_INFO, "%s: ok in %.1f ms: %.120s", j->tool->name, ms,
                 j->res.content ? j->res.content : "");
}

/* Free a tool job (a runq_job_fn, for http_run_job's drop); accepts NULL. */
static void tool_job_free(void *p) {
    struct tool_job *j = p;

    if (!j)
        return;
    json_decref(j->args);
    json_decref(j->id);
    tool_result_clear(&j->res);
    free(j);
}

/* ---- service --------------------------------------------------------------------------- */

int api_healthz(struct http_req *rq, struct http_reply *rp) {
    struct sandbox_caps caps;
    json_t *sb;

    (void)rq;
    sandbox_caps(&caps);
    sb = json_pack("{s:s, s:b, s:b, s:b, s:b, s:s, s:s, s:s}", "mode", caps.mode, "namespaces",
                   caps.namespaces, "user_namespace", caps.userns, "seccomp", caps.seccomp,
                   "cgroups", caps.cgroups, "processes", caps.pids, "memory", caps.memory,
                   "run_mode", caps.run_mode);
    if (sb && caps.reason[0] && json_object_set_new(sb, "reason", json_string(caps.reason)) != 0) {
        json_decref(sb);
        sb = NULL;
    }
    if (sb && caps.run_reason[0] &&
        json_object_set_new(sb, "run_mode_reason", json_string(caps.run_reason)) != 0) {
        json_decref(sb);
        sb = NULL;
    }
    if (!sb)
        return http_error(rp, 500, "internal", "Out of memory building the health report.");
    return http_json(
        rp, 200,
        json_pack("{s:s, s:s, s:o}", "status", "ok", "version", TG_VERSION, "sandbox", sb));
}

int api_metrics(struct http_req *rq, struct http_reply *rp) {
    (void)rq;
    rp->text = metrics_render();
    if (!rp->text)
        return http_error(rp, 500, "internal", "Out of memory rendering metrics.");
    rp->status = 200;
    rp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    return 0;
}

/* ---- tools ----------------------------------------------------------------------------- */

int api_tools_list(struct http_req *rq, struct http_reply *rp) {
    (void)rq;
    return http_json(rp, 200, json_pack("{s:o*}", "tools", tools_openai_list()));
}

static int tool_reply(struct http_reply *rp, struct tool_job *j) {
    struct dbuf b;

    if (j->rc == TG_EINVAL)
        return http_error_tg(rp, 422, &j->err);
    if (j->rc == TG_ECANCELED)
        return http_error_tg(rp, HTTP_CLIENT_CLOSED, &j->err);
    if (j->rc)
        return http_error(rp, 500, "internal", "The tool failed internally.");
    /* the reply's fixed shape written straight: no object built, no dump */
    dbuf_init(&b, (size_t)-1 / 2); /* as big as the tool's own output caps let it be */
    if (tool_result_write(&b, &j->res, JSONW_ASCII) != 0) {
        dbuf_free(&b);
        return http_error(rp, 500, "internal", "Out of memory building the response.");
    }
    return http_json_text(rp, 200, dbuf_take(&b, NULL));
}

static int tool_call_finish(struct http_req *rq, struct http_reply *rp) {
    struct tool_job *j = rq->async_arg;

    tool_job_log(rq, j);
    tool_reply(rp, j);
    tool_job_free(j);
    return 0;
}

int api_tool_call(struct http_req *rq, struct http_reply *rp) {
    static const struct jsonu_field fields[] = {{"arguments", JSON_OBJECT, 1}};
    const struct tool *t = tools_find(rq->params[0]);
    struct tool_job *j;
    struct tg_error err;

    if (!t)
        return http_error(rp, 404, "not_found", "No tool named \"%.64s\".", rq->params[0]);
    if (!rq->json)
        return http_error(rp, 400, "invalid_request",
                          "A JSON body {\"arguments\":{...}} is required.");
    if (jsonu_check_fields(rq->json, fields, TG_ARRAY_LEN(fields), "body", &err))
        return http_error_tg(rp, 400, &err);
    j = tool_job_new(rq, t, json_object_get(rq->json, "arguments"));
    if (!j)
        return http_error(rp, 500, "internal", "Out of memory.");
    return http_run_job(rq, rp, t->async, tool_job_work, j, tool_call_finish, tool_job_free);
}

/* ---- MCP ------------------------------------------------------------------------------- */

/* The protocol versions spoken, newest first. initialize answers with the one the client asks
 * for when it is here, else the first; a MCP-Protocol-Version header must name one of them (a
 * request without it is taken as 2025-03-26, as the transport says). */
static const char *const mcp_versions[] = {"2025-06-18", "2025-03-26"};

enum {
    RPC_PARSE_ERROR = -32700,
    RPC_INVALID_REQUEST = -32600,
    RPC_METHOD_NOT_FOUND = -32601,
    RPC_INVALID_PARAMS = -32602,
    RPC_INTERNAL = -32603,
    RPC_SESSION_NOT_FOUND = -32001,
};

static const char session_gone[] =
    "No such session (it ended, expired or was never given): send initialize again, without "
    "Mcp-Session-Id.";

/* A JSON-RPC error with HTTP status `status`; msg is cleaned of bytes that are not UTF-8. */
static int rpc_error_status(struct http_reply *rp, unsigned status, json_t *id, int code,
                            const char *msg) {
    char m[TG_ERR_MSG_MAX];

    snprintf(m, sizeof(m), "%s", msg);
    jsonu_utf8_scrub(m);
    return http_json(rp, status,
                     json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id",
                               id ? id : json_null(), "error", "code", code, "message", m));
}

static int rpc_error(struct http_reply *rp, json_t *id, int code, const char *msg) {
    return rpc_error_status(rp, 200, id, code, msg);
}

static int rpc_result(struct http_reply *rp, json_t *id, json_t *result) {
    if (!result)
        return rpc_error(rp, id, RPC_INTERNAL, "Out of memory.");
    return http_json(rp, 200,
                     json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result", result));
}

/* One SSE event carrying JSON-RPC message msg (borrowed) into b; -1 when it cannot be built. */
static int sse_event(struct dbuf *b, const json_t *msg) {
    char *text = json_dumps(msg, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(15));
    int rc = -1;

    if (text) /* compact JSON holds no newline: one data line */
        rc = dbuf_add_fmt(b, "event: message\ndata: %s\n\n", text) == 0 ? 0 : -1;
    free(text);
    return rc;
}

/*
 * The log notifications of an MCP reply. When the request belongs to a session that set a
 * level with logging/setLevel, accepts text/event-stream, and logged lines at or above that
 * level, the reply becomes an SSE stream: a notifications/message for each of those lines, in
 * order, then the JSON-RPC response; the stream ends with it. Otherwise the reply stays one
 * JSON object. Safe to call twice.
 */
static void mcp_deliver(struct http_req *rq, struct http_reply *rp, const struct mcp_ctx *c) {
    int level = MCP_LEVEL_UNSET, n = 0;
    struct dbuf b;

    if (!c->session[0] || !c->sse || !rp->body || rp->text || rp->status != 200)
        return;
    if (mcp_session_get(rq->srv->mcp, c->session, rq->key_index, &level) != 0 ||
        level == MCP_LEVEL_UNSET)
        return;
    for (int i = 0; i < rq->nlog; i++)
        n += rq->log[i].level >= level;
    if (n == 0)
        return;
    dbuf_init(&b, TG_MCP_SSE_REPLY_MAX); /* past it: the JSON reply, without notifications */
    for (int i = 0; i < rq->nlog; i++) {
        char text[TG_LOG_LINE_MAX];
        json_t *note;

        if (rq->log[i].level < level)
            continue;
        memcpy(text, rq->log[i].text, sizeof(text));
        jsonu_utf8_scrub(text); /* a line cut inside a character */
        note = json_pack("{s:s, s:s, s:{s:s, s:s, s:s}}", "jsonrpc", "2.0", "method",
                         "notifications/message", "params", "level",
                         http_log_level_name(rq->log[i].level), "logger", "toolgym", "data", text);
        if (note)
            sse_event(&b, note);
        json_decref(note);
    }
    if (sse_event(&b, rp->body) != 0 || b.err) { /* the JSON reply, as it was */
        dbuf_free(&b);
        return;
    }
    rp->text = dbuf_take(&b, NULL);
    if (!rp->text)
        return;
    rp->content_type = "text/event-stream";
    json_decref(rp->body);
    rp->body = NULL;
    http_reply_header(rp, "Cache-Control", "no-cache");
}

/* The MCP tools/call result of a finished tool job. */
static int mcp_call_reply(struct http_reply *rp, struct tool_job *j) {
    json_t *res;

    if (j->rc == TG_EINVAL)
        return rpc_error(rp, j->id, RPC_INVALID_PARAMS, j->err.message);
    if (j->rc == TG_ECANCELED)
        return http_error_tg(rp, HTTP_CLIENT_CLOSED, &j->err);
    if (j->rc)
        return rpc_error(rp, j->id, RPC_INTERNAL, "The tool failed internally.");
    res = json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text", "text",
                    j->res.content ? j->res.content : "", "isError", !j->res.ok);
    if (res) {
        json_t *sc = j->res.ok ? json_incref(j->res.result)
                               : json_pack("{s:s, s:s}", "code", j->res.err.code, "message",
                                           j->res.err.message);

        if (!sc)
            sc = json_object();
        if (!j->res.ok && j->res.result && sc)
            json_object_set(sc, "result", j->res.result);
        json_object_set_new(res, "structuredContent", sc);
    }
    return rpc_result(rp, j->id, res);
}

static int mcp_call_finish(struct http_req *rq, struct http_reply *rp) {
    struct tool_job *j = rq->async_arg;

    tool_job_log(rq, j);
    mcp_call_reply(rp, j);
    mcp_deliver(rq, rp, &j->mcp);
    tool_job_free(j);
    return 0;
}

static int mcp_tools_call(struct http_req *rq, struct http_reply *rp, json_t *id, json_t *params,
                          const struct mcp_ctx *ctx) {
    const char *name = json_string_value(json_object_get(params, "name"));
    json_t *args = json_object_get(params, "arguments"), *empty = NULL;
    const struct tool *t;
    struct tool_job *j;

    if (!json_is_object(params) || !name)
        return rpc_error(rp, id, RPC_INVALID_PARAMS, "tools/call needs params.name.");
    if (args && !json_is_object(args))
        return rpc_error(rp, id, RPC_INVALID_PARAMS, "params.arguments must be an object.");
    t = tools_find(name);
    if (!t)
        return rpc_error(rp, id, RPC_INVALID_PARAMS, "Unknown tool.");
    if (!args)
        args = empty = json_object();
    j = tool_job_new(rq, t, args);
    json_decref(empty);
    if (!j)
        return rpc_error(rp, id, RPC_INTERNAL, "Out of memory.");
    j->id = json_incref(id);
    j->mcp = *ctx;
    return http_run_job(rq, rp, t->async, tool_job_work, j, mcp_call_finish, tool_job_free);
}

/* initialize: a new session, named in the reply's Mcp-Session-Id header. */
static int mcp_initialize(struct http_req *rq, struct http_reply *rp, json_t *id, json_t *params) {
    const char *want = json_string_value(json_object_get(params, "protocolVersion"));
    const char *version = mcp_versions[0];
    char sid[MCP_SESSION_ID_LEN + 1];

    for (size_t i = 0; want && i < TG_ARRAY_LEN(mcp_versions); i++)
        if (strcmp(want, mcp_versions[i]) == 0)
            version = mcp_versions[i];
    if (mcp_session_create(rq->srv->mcp, rq->key_index, sid) != 0)
        return rpc_error(rp, id, RPC_INTERNAL, "No random bytes for a session id.");
    http_log(rq, HTTP_LOG_INFO, "session %.6s... started (protocol %s)", sid + 4, version);
    rpc_result(rp, id,
               json_pack("{s:s, s:{s:{s:b}, s:{}}, s:{s:s, s:s}, s:s}", "protocolVersion", version,
                         "capabilities", "tools", "listChanged", 0, "logging", "serverInfo", "name",
                         "toolgym", "version", TG_VERSION, "instructions",
                         "Sandboxed tools: calculator, search, run_code."));
    if (rp->status == 200)
        http_reply_header(rp, "Mcp-Session-Id", sid);
    return 0;
}

/* logging/setLevel: the session's log notifications from now on. */
static int mcp_set_level(struct http_req *rq, struct http_reply *rp, json_t *id, json_t *params,
                         const struct mcp_ctx *ctx) {
    const char *name = json_string_value(json_object_get(params, "level"));
    int level = http_log_level_parse(name);

    if (level < 0)
        return rpc_error(rp, id, RPC_INVALID_PARAMS,
                         "params.level must be one of debug, info, notice, warning, error, "
                         "critical, alert, emergency.");
    if (!ctx->session[0])
        return rpc_error(rp, id, RPC_INVALID_REQUEST,
                         "logging/setLevel needs a session: send the Mcp-Session-Id header that "
                         "initialize returned.");
    if (mcp_session_set_level(rq->srv->mcp, ctx->session, rq->key_index, level) != 0)
        return rpc_error_status(rp, 404, id, RPC_SESSION_NOT_FOUND, session_gone);
    http_log(rq, HTTP_LOG_DEBUG, "log notifications from %s on", name);
    return rpc_result(rp, id, json_object());
}

static int mcp_version_known(const char *v) {
    for (size_t i = 0; i < TG_ARRAY_LEN(mcp_versions); i++)
        if (strcmp(v, mcp_versions[i]) == 0)
            return 1;
    return 0;
}

int api_mcp(struct http_req *rq, struct http_reply *rp) {
    /* types are checked below, for the JSON-RPC error of each */
    static const struct jsonu_field members[] = {{"jsonrpc", JSONU_ANY, 0},
                                                 {"id", JSONU_ANY, 0},
                                                 {"method", JSONU_ANY, 0},
                                                 {"params", JSONU_ANY, 0}};
    const char *sid = http_header(rq, "Mcp-Session-Id");
    const char *version = http_header(rq, "MCP-Protocol-Version");
    const char *accept = http_header(rq, "Accept");
    json_t *msg = rq->json, *id, *params, *rid;
    struct jsonu_fault fault;
    struct mcp_ctx ctx;
    const char *method;
    int rc;

    if (!json_is_object(msg))
        return rpc_error(rp, NULL, RPC_INVALID_REQUEST,
                         "Expected one JSON-RPC 2.0 request object (batches are not supported).");
    if (jsonu_find_fault(msg, members, TG_ARRAY_LEN(members), 0, &fault))
        return rpc_error(rp, NULL, RPC_INVALID_REQUEST, "Unknown member in the request.");
    id = json_object_get(msg, "id");
    rid = json_is_string(id) || json_is_integer(id) ? id : NULL; /* an id to answer with */
    method = json_string_value(json_object_get(msg, "method"));
    params = json_object_get(msg, "params");
    if (strcmp(json_string_value(json_object_get(msg, "jsonrpc")) ?: "", "2.0") != 0 || !method ||
        (id && !rid) || (params && !json_is_object(params)))
        return rpc_error(rp, rid, RPC_INVALID_REQUEST, "Not a valid JSON-RPC 2.0 request.");
    if (version && !mcp_version_known(version))
        return rpc_error_status(rp, 400, rid, RPC_INVALID_REQUEST,
                                "Unsupported MCP-Protocol-Version: this server speaks 2025-06-18 "
                                "and 2025-03-26.");
    http_log(rq, HTTP_LOG_DEBUG, "%s", method);
    if (id && strcmp(method, "initialize") == 0) /* a new session, whatever the header says */
        return mcp_initialize(rq, rp, id, params);
    memset(&ctx, 0, sizeof(ctx));
    ctx.sse = accept && strcasestr(accept, "text/event-stream") != NULL;
    if (sid) {
        if (mcp_session_get(rq->srv->mcp, sid, rq->key_index, NULL) != 0)
            return rpc_error_status(rp, 404, rid, RPC_SESSION_NOT_FOUND, session_gone);
        snprintf(ctx.session, sizeof(ctx.session), "%s", sid);
    }
    if (!id) { /* a notification (notifications/initialized, ...): accepted, no body */
        rp->status = 202;
        return 0;
    }
    if (strcmp(method, "ping") == 0)
        rc = rpc_result(rp, id, json_object());
    else if (strcmp(method, "tools/list") == 0)
        rc = rpc_result(rp, id, json_pack("{s:o*}", "tools", tools_mcp_list()));
    else if (strcmp(method, "logging/setLevel") == 0)
        rc = mcp_set_level(rq, rp, id, params, &ctx);
    else if (strcmp(method, "tools/call") == 0)
        rc = mcp_tools_call(rq, rp, id, params, &ctx);
    else
        rc = rpc_error(rp, id, RPC_METHOD_NOT_FOUND, "Method not found.");
    if (rc != HTTP_DEFERRED)
        mcp_deliver(rq, rp, &ctx);
    return rc;
}

int api_mcp_delete(struct http_req *rq, struct http_reply *rp) {
    const char *sid = http_header(rq, "Mcp-Session-Id");

    if (!sid)
        return rpc_error_status(rp, 400, NULL, RPC_INVALID_REQUEST,
                                "DELETE /mcp ends a session: send its Mcp-Session-Id header.");
    if (mcp_session_end(rq->srv->mcp, sid, rq->key_index) != 0)
        return rpc_error_status(rp, 404, NULL, RPC_SESSION_NOT_FOUND, session_gone);
    http_log(rq, HTTP_LOG_INFO, "session %.6s... ended", sid + 4);
    rp->status = 204;
    return 0;
}
