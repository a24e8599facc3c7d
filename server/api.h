/*
 * api.h — route handlers of the v1 API (see http.h for the handler contract) and the
 * instrumented tool invocation shared by the tool routes, episodes and MCP.
 */
#ifndef TG_API_H
#define TG_API_H

#include "tools/tools.h"
#include "server/http.h"

/* service and tools (api.c) */
int api_healthz(struct http_req *rq, struct http_reply *rp);
int api_metrics(struct http_req *rq, struct http_reply *rp);
int api_tools_list(struct http_req *rq, struct http_reply *rp);
int api_tool_call(struct http_req *rq, struct http_reply *rp);
int api_mcp(struct http_req *rq, struct http_reply *rp);
int api_mcp_delete(struct http_req *rq, struct http_reply *rp);

/*
 * api_invoke_tool — tools_call_cancel plus metrics (calls by tool and outcome, latency). Same
 * contract as tools_call_cancel in tools/tools.h (cancel may be NULL). Thread-safe; blocks
 * for the tool's duration, so call it for an async tool only from a run-queue job.
 */
int api_invoke_tool(const struct tool *t, const json_t *args, struct tg_cancel *cancel,
                    struct tool_result *out, struct tg_error *err);

#endif
