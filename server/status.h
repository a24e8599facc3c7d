/*
 * status.h — the status page: `GET /` (one self-contained HTML page: inline style and
 * script, no external assets) and `GET /v1/status` (the JSON it renders), served by the
 * server itself.
 *
 * What the page shows, refreshed every two seconds: live counters (requests, episodes
 * started, finished and in memory, tool calls, judge labels, sandbox runs, read from
 * /metrics), the latest finished episodes with each step's action, observation text, judge
 * label and reward, the report per split and per task tag, and the sandbox layers active.
 * The page fetches same-origin relative URLs only; with API keys on, it asks for a key once
 * and keeps it in the tab's sessionStorage.
 *
 * What it does not do: change anything (every route it uses is a GET), or keep more than the
 * last STATUS_RECENT_MAX finished episodes.
 */
#ifndef TG_STATUS_H
#define TG_STATUS_H

#include <jansson.h>

#include "server/http.h"

#define STATUS_RECENT_MAX 20 /* finished episodes the page shows */

struct episode;
struct status_recent;

/* status_recent_new — an empty ring of the last STATUS_RECENT_MAX finished episodes (new;
 * free with status_recent_free, which accepts NULL), or NULL on ENOMEM. */
struct status_recent *status_recent_new(void);
void status_recent_free(struct status_recent *r);

/* status_recent_push — remember a finished episode (takes its own reference; the oldest one
 * is dropped). Thread-safe. */
void status_recent_push(struct status_recent *r, struct episode *ep);

/* api_status — GET /v1/status: {"version","node","uptime_sec","episodes_in_memory",
 * "sandbox":{namespaces,seccomp,cgroups},"splits":[...],"reports":{split: report with
 * by_tag},"recent":[episode, newest first]}. */
int api_status(struct http_req *rq, struct http_reply *rp);

/* api_status_page — GET /: the HTML page (text/html). */
int api_status_page(struct http_req *rq, struct http_reply *rp);

#endif
