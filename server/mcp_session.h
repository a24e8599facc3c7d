/*
 * mcp_session.h — MCP sessions of the Streamable HTTP transport: the ids `initialize` hands
 * out in `Mcp-Session-Id`, and what the server keeps per session (the log level a client set
 * with `logging/setLevel`).
 *
 * A session id is 32 lowercase hex digits: the slot (4 digits) and 112 bits from getrandom.
 * The table has a fixed number of slots; a session unused for `idle_sec` is gone, and when
 * every slot is taken the least recently used session makes room. With API keys, a session
 * answers only to the key that created it. Sessions are optional: a client that never sends
 * the header is served without one (and cannot set a log level).
 *
 * Does not: parse JSON-RPC or know HTTP (api.c does).
 */
#ifndef TG_MCP_SESSION_H
#define TG_MCP_SESSION_H

#include <stddef.h>

#include "base/tg.h"

#define MCP_SESSION_ID_LEN 32
#define MCP_LEVEL_UNSET    (-1) /* no logging/setLevel yet: no log notifications */

struct mcp_sessions;

/* mcp_sessions_new — a table of cap (1..65536) slots whose sessions expire after idle_sec
 * unused. Returns the table (new; free with mcp_sessions_free) or NULL (ENOMEM). */
struct mcp_sessions *mcp_sessions_new(size_t cap, int idle_sec);
void mcp_sessions_free(struct mcp_sessions *t); /* accepts NULL */

/*
 * mcp_session_create — a new session for the client holding key key_index (-1: keys are off),
 * its id into id (MCP_SESSION_ID_LEN + 1 bytes). Returns 0, or TG_EIO when no random bytes
 * could be had. Thread-safe.
 */
int mcp_session_create(struct mcp_sessions *t, int key_index, char *id);

/*
 * mcp_session_get — the session named id (borrowed; any bytes) for the client of key_index:
 * its log level into *level (may be NULL) and its idle clock restarted. Returns 0, or
 * TG_ENOTFOUND for an id that is malformed, never given, expired, ended or another key's.
 * Thread-safe.
 */
int mcp_session_get(struct mcp_sessions *t, const char *id, int key_index, int *level);

/* mcp_session_set_level — as mcp_session_get, and set its log level. */
int mcp_session_set_level(struct mcp_sessions *t, const char *id, int key_index, int level);

/* mcp_session_end — as mcp_session_get, and end the session. */
int mcp_session_end(struct mcp_sessions *t, const char *id, int key_index);

/* mcp_session_count — live sessions (expired ones not yet reclaimed included); for tests. */
size_t mcp_session_count(struct mcp_sessions *t);

#endif
