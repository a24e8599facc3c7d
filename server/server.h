/*
 * server.h — the toolgym HTTP server: configuration, start, stop.
 *
 * server_start brings up tools, tasks, the episode store and a libmicrohttpd daemon (epoll
 * internal thread plus a thread pool); server_stop drains in-flight requests and frees it.
 * Several servers may run in one process (the tests do), but the tool registry is shared
 * process state, initialised by the first server_start and released by the last stop.
 */
#ifndef TG_SERVER_H
#define TG_SERVER_H

#include <stddef.h>

#include "base/tg.h"

struct server_config {
    const char *host;            /* listen address; default "127.0.0.1" */
    int port;                    /* 0: any free port (see server_port) */
    int threads;                 /* HTTP worker threads; 0: number of cores */
    size_t max_body;             /* request body limit in bytes */
    int quiet;                   /* no per-request log lines */
    const char *api_key;         /* NULL: no auth; else Authorization: Bearer <key> required */
    const char *api_key_file;    /* more keys, one a line (see http_keys_load); any is accepted */
    int conns_per_ip;            /* concurrent connections from one address; 0: unlimited */
    int header_timeout_sec;      /* request line and headers must arrive within this */
    int body_timeout_sec;        /* ... and the body within this of the headers */
    const char *allowed_hosts;   /* more accepted Host names, comma-separated, or "*" (origin.h) */
    const char *allowed_origins; /* more accepted Origins, comma-separated, or "*" (origin.h) */
    const char *log_level;       /* per-request lines to stderr from this level ("debug" ...
                                    "emergency"); NULL: "warning" */
    const char *corpus;          /* search corpus JSONL; NULL: the data dir's */
    int unsafe_sandbox;          /* allow run_code without namespaces/seccomp */
    const char *sandbox_mode;    /* "auto" (NULL), "root" or "rootless" (docs/sandbox.md) */
    const char *run_mode;        /* NULL (warm where it works), "cold" or "warm" */
    int run_workers;             /* concurrent code runs; 0: cores */
    int run_queue;               /* queued code runs beyond the workers */
    int client_runs;             /* code runs one client may have queued or running; 0: half of
                                    workers + queue; not below workers + queue: no cap */
    size_t code_cache;           /* run_code result cache slots; 0: off (opt-in, see docs) */
    unsigned uid_base;         /* first slot uid (--uid-base); 0: the first range no other server on
                                * the host claimed, from TG_UID_BASE_DEFAULT (docs/sandbox.md) */
    const char *tasks;         /* task files, comma-separated; NULL: the data dir's */
    const char *node;          /* NULL, or this server's name among several ([a-z0-9], at most
                                  TG_NODE_NAME_MAX bytes): its episode ids start "<node>-", so a
                                  balancer can route every step to it (docs/operations.md) */
    int no_status;             /* 1: no status page (GET / and GET /v1/status answer 404) */
    const char *trajectories;  /* trajectory log path or NULL */
    int sync_ms;               /* fdatasync interval of the trajectory log; 0: every line */
    const char *reward_config; /* reward weights JSON or NULL for defaults */
    const char *reward_mode;   /* "judge", "torl", "otc"; NULL: the reward config's (judge) */
    size_t max_episodes;       /* episodes held in memory */
    int idle_sec;              /* unfinished episodes expire after this */
    size_t max_episode_bytes;  /* estimated bytes the episode store holds */
    size_t client_episodes;    /* unfinished episodes per client; 0: the default share */
    size_t client_bytes;       /* episode bytes per client; 0: the default share */
    int evict_idle_sec;        /* under pressure, unfinished episodes idle this long go */
};

struct server;

/* server_config_defaults — fill *c with the defaults of limits.h. The default share of a
 * client (client_episodes, client_bytes left 0) is 1/TG_CLIENT_SHARE_DIV of the store's limits
 * with keys off (clients are addresses), and 1/min(keys, TG_CLIENT_SHARE_DIV) with API keys;
 * but at least TG_CLIENT_EPISODES_FLOOR episodes and TG_CLIENT_BYTES_FLOOR bytes (capped by
 * the store's own limits), room for a trainer's rollouts in flight. */
void server_config_defaults(struct server_config *c);

/*
 * server_start — start serving. Returns 0 with *out set (new; free with server_stop), or a
 * tg_err with *err saying what failed (bind, corpus, tasks, ...). Not thread-safe with
 * respect to other server_start/server_stop calls.
 */
int server_start(const struct server_config *c, struct server **out, struct tg_error *err);

/* server_node_name_ok — 1 if name (borrowed) is a valid --node name: 1 to TG_NODE_NAME_MAX
 * bytes of [a-z0-9]. Pure. */
int server_node_name_ok(const char *name);

/* server_port — the bound TCP port (useful with port 0). */
int server_port(const struct server *s);

/* server_stop — stop accepting, let in-flight requests finish (up to TG_SHUTDOWN_GRACE_MS),
 * stop the daemon and free everything. Accepts NULL. */
void server_stop(struct server *s);

#endif
