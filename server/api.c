/*
 * api.c — handlers for the service routes (/healthz, /metrics), the tool routes
 * (GET /v1/tools, POST /v1/tools/{name}) and MCP (POST /mcp, JSON-RPC 2.0 over Streamable
 * HTTP with JSON responses, protocol 2025-06-18). Slow tools run through http_defer.
 */
#include "server/api.h"

#include <stdlib.h>
#include <string.h>

#include "tools/sandbox.h"
#include "base/json_util.h"
#include "base/metrics.h"

#define MCP_PROTOCOL_VERSION "2025-06-18"

/* ---- instrumented tool calls --------------------------------------------------------- */

int api_invoke_tool(const struct tool *t, const json_t *args, struct tg_cancel *cancel,
                    struct tool_result *out, struct tg_error *err) {
    long long t0 = tg_now_us();
    char labels[96];
    const char *outcome;
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
    snprintf(labels, sizeof(labels), "tool=\"%s\",outcome=\"%s\"", t->name, outcome);
    metrics_inc("toolgym_tool_calls_total", labels, 1);
    snprintf(labels, sizeof(labels), "tool=\"%s\"", t->name);
    metrics_observe("toolgym_tool_seconds", labels, (double)(tg_now_us() - t0) / 1e6);
    return rc;
}

/* A tool call running on the run queue. */
struct tool_job {
    const struct tool *tool;
    json_t *args;             /* own reference */
    json_t *id;               /* MCP request id (own reference) or NULL */
    struct tg_cancel *cancel; /* the deferred request's token (borrowed) or NULL */
    struct tool_result res;
    struct tg_error err;
    int rc;
};

static void tool_job_work(void *p) {
    struct tool_job *j = p;

    j->rc = api_invoke_tool(j->tool, j->args, j->cancel, &j->res, &j->err);
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

    (void)rq;
    sandbox_caps(&caps);
    return http_json(rp, 200,
                     json_pack("{s:s, s:s, s:{s:b, s:b, s:b}}", "status", "ok", "version",
                               TG_VERSION, "sandbox", "namespaces", caps.namespaces, "seccomp",
                               caps.seccomp, "cgroups", caps.cgroups));
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
    if (j->rc == TG_EINVAL)
        return http_error_tg(rp, 422, &j->err);
    if (j->rc == TG_ECANCELED)
        return http_error_tg(rp, HTTP_CLIENT_CLOSED, &j->err);
    if (j->rc)
        return http_error(rp, 500, "internal", "The tool failed internally.");
    return http_json(rp, 200, tool_result_json(&j->res));
}

static int tool_call_finish(struct http_req *rq, struct http_reply *rp) {
    struct tool_job *j = rq->async_arg;

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
    j = calloc(1, sizeof(*j));
    if (!j)
        return http_error(rp, 500, "internal", "Out of memory.");
    j->tool = t;
    j->args = json_incref(json_object_get(rq->json, "arguments"));
    j->cancel = &rq->cancel; /* fires if the client leaves before the reply (a queued job) */
    return http_run_job(rq, rp, t->async, tool_job_work, j, tool_call_finish, tool_job_free);
}

/* ---- MCP ------------------------------------------------------------------------------- */

enum {
    RPC_PARSE_ERROR = -32700,
    RPC_INVALID_REQUEST = -32600,
    RPC_METHOD_NOT_FOUND = -32601,
    RPC_INVALID_PARAMS = -32602,
    RPC_INTERNAL = -32603,
};

static int rpc_error(struct http_reply *rp, json_t *id, int code, const char *msg) {
    return http_json(rp, 200,
                     json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id",
                               id ? id : json_null(), "error", "code", code, "message", msg));
}

static int rpc_result(struct http_reply *rp, json_t *id, json_t *result) {
    if (!result)
        return rpc_error(rp, id, RPC_INTERNAL, "Out of memory.");
    return http_json(rp, 200,
                     json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result", result));
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

    mcp_call_reply(rp, j);
    tool_job_free(j);
    return 0;
}

static int mcp_tools_call(struct http_req *rq, struct http_reply *rp, json_t *id, json_t *params) {
    const char *name = json_string_value(json_object_get(params, "name"));
    json_t *args = json_object_get(params, "arguments");
    const struct tool *t;
    struct tool_job *j;

    if (!json_is_object(params) || !name)
        return rpc_error(rp, id, RPC_INVALID_PARAMS, "tools/call needs params.name.");
    if (args && !json_is_object(args))
        return rpc_error(rp, id, RPC_INVALID_PARAMS, "params.arguments must be an object.");
    t = tools_find(name);
    if (!t)
        return rpc_error(rp, id, RPC_INVALID_PARAMS, "Unknown tool.");
    j = calloc(1, sizeof(*j));
    if (!j)
        return rpc_error(rp, id, RPC_INTERNAL, "Out of memory.");
    j->tool = t;
    j->args = args ? json_incref(args) : json_object();
    j->id = json_incref(id);
    j->cancel = &rq->cancel; /* fires if the client leaves before the reply (a queued job) */
    return http_run_job(rq, rp, t->async, tool_job_work, j, mcp_call_finish, tool_job_free);
}

int api_mcp(struct http_req *rq, struct http_reply *rp) {
    /* types are checked below, for the JSON-RPC error of each */
    static const struct jsonu_field members[] = {{"jsonrpc", JSONU_ANY, 0},
                                                 {"id", JSONU_ANY, 0},
                                                 {"method", JSONU_ANY, 0},
                                                 {"params", JSONU_ANY, 0}};
    json_t *msg = rq->json, *id, *params;
    struct jsonu_fault fault;
    const char *method;

    if (!json_is_object(msg))
        return rpc_error(rp, NULL, RPC_INVALID_REQUEST,
                         "Expected one JSON-RPC 2.0 request object (batches are not supported).");
    if (jsonu_find_fault(msg, members, TG_ARRAY_LEN(members), 0, &fault))
        return rpc_error(rp, NULL, RPC_INVALID_REQUEST, "Unknown member in the request.");
    id = json_object_get(msg, "id");
    method = json_string_value(json_object_get(msg, "method"));
    params = json_object_get(msg, "params");
    if (strcmp(json_string_value(json_object_get(msg, "jsonrpc")) ?: "", "2.0") != 0 || !method ||
        (id && !json_is_string(id) && !json_is_integer(id)) || (params && !json_is_object(params)))
        return rpc_error(rp, json_is_string(id) || json_is_integer(id) ? id : NULL,
                         RPC_INVALID_REQUEST, "Not a valid JSON-RPC 2.0 request.");
    if (!id) { /* a notification (notifications/initialized, ...): accepted, no body */
        rp->status = 202;
        return 0;
    }
    if (strcmp(method, "initialize") == 0)
        return rpc_result(rp, id,
                          json_pack("{s:s, s:{s:{s:b}}, s:{s:s, s:s}, s:s}", "protocolVersion",
                                    MCP_PROTOCOL_VERSION, "capabilities", "tools", "listChanged", 0,
                                    "serverInfo", "name", "toolgym", "version", TG_VERSION,
                                    "instructions",
                                    "Sandboxed tools: calculator, search, run_code."));
    if (strcmp(method, "ping") == 0)
        return rpc_result(rp, id, json_object());
    if (strcmp(method, "tools/list") == 0)
        return rpc_result(rp, id, json_pack("{s:o*}", "tools", tools_mcp_list()));
    if (strcmp(method, "tools/call") == 0)
        return mcp_tools_call(rq, rp, id, params);
    return rpc_error(rp, id, RPC_METHOD_NOT_FOUND, "Method not found.");
}
