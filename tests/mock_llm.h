/*
 * mock_llm.h — a scripted OpenAI-compatible chat completions endpoint for tests: a small
 * libmicrohttpd server on 127.0.0.1, port 0, that answers POST /v1/chat/completions by
 * replaying recorded responses from a script, and records every request it got.
 *
 * The script is a JSON file {"responses":[{...}, ...]}; each entry answers one request:
 *   "match"       a substring of the conversation's first user message (which task);
 *   "turn"        the number of assistant messages already in the conversation;
 *   "status"      HTTP status (default 200);
 *   "retry_after" seconds, sent as Retry-After (optional);
 *   "body"        the JSON body (a chat completion), or "raw" a text body sent as is;
 *   "truncate"    true: announce the whole body's length, send half, and drop the connection.
 * A request takes the first unused entry whose match and turn fit it; with none left it gets a
 * 500 and counts as unmatched. Requests are served a thread each, and the first one waits (up
 * to a few seconds) for a second to arrive, so a client that keeps several in flight is seen
 * to (mock_llm_max_inflight). Not for production; tests only.
 */
#ifndef TG_MOCK_LLM_H
#define TG_MOCK_LLM_H

#include <jansson.h>
#include <stddef.h>

struct mock_llm;

/* mock_llm_start — load the script at path and serve it. NULL on failure (says why). */
struct mock_llm *mock_llm_start(const char *script_path);

/* mock_llm_url — "http://127.0.0.1:PORT/v1" (borrowed, valid until stop). */
const char *mock_llm_url(struct mock_llm *m);

/* mock_llm_requests — requests received; mock_llm_request — the i-th request body (parsed,
 * borrowed), in arrival order; mock_llm_unmatched — requests no entry answered;
 * mock_llm_max_inflight — most requests in progress at once. */
size_t mock_llm_requests(struct mock_llm *m);
const json_t *mock_llm_request(struct mock_llm *m, size_t i);
size_t mock_llm_unmatched(struct mock_llm *m);
int mock_llm_max_inflight(struct mock_llm *m);

/* mock_llm_auth — the Authorization header of the last request ("" if none; borrowed). */
const char *mock_llm_auth(struct mock_llm *m);

/* mock_llm_stop — stop and free. Accepts NULL. */
void mock_llm_stop(struct mock_llm *m);

#endif
