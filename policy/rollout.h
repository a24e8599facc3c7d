/*
 * rollout.h — the trainer's HTTP client: plays many episodes at once against one or more
 * toolgym servers with libcurl multi (keep-alive connections, up to `inflight` episodes in
 * flight, servers used round-robin), asking a policy callback for each action.
 *
 * Does: create or fork episodes (API.md "Episodes"), replay an expert prefix (anchors), step
 * until done, keep each episode's agent view (struct view), its return, outcome and the
 * judge's labels; small blocking JSON requests (tasks, reports). Network failures (connection
 * refused or reset, 503 overloaded) are retried with exponential backoff, then reported as a
 * clear error naming the server; every request has a timeout, so nothing hangs. Malformed or
 * unexpected responses are errors with the server, path and reason in the message.
 * Does not: choose actions (the callback does), compute advantages, or retry a request the
 * server answered with an error status other than 503.
 * Thread-safety: one struct rollout per thread; the callback runs on the caller's thread.
 */
#ifndef TG_ROLLOUT_H
#define TG_ROLLOUT_H

#include <jansson.h>

#include "base/limits.h"
#include "base/rng.h"
#include "base/tg.h"
#include "policy/view.h"

struct rollout_config {
    const char *servers;     /* "URL[,URL...]" (borrowed) */
    int inflight;            /* episodes in flight, 1..TG_ROLLOUT_INFLIGHT (default 64) */
    long timeout_ms;         /* per request (default 60000) */
    long connect_timeout_ms; /* default 2000 */
    int retries;             /* retries of a failed connection (default 6); a 503 or 429 is
                                waited out apart: 60 tries, 1 s apart */
    long backoff_ms;         /* first backoff, doubled per retry (default 50) */
};

/* judge labels of tool calls the trainer counts */
enum rollout_label {
    RL_NECESSARY = 0,
    RL_REDUNDANT,
    RL_PREMATURE,
    RL_UNNECESSARY,
    RL_WRONG_ARGS,
    RL_MALFORMED,
    RL_LABELS
};

/* one episode to play; the caller fills the "in" part, rollout_run the "out" part */
struct rollout_ep {
    /* in */
    char task_id[TG_TASK_ID_MAX];  /* "" with split set: a task drawn by the server */
    const char *split;             /* NULL: "train" */
    long seed;                     /* for a drawn task */
    int max_steps;                 /* 0: server default */
    const char *reward_mode;       /* NULL: the server's */
    const char *tag;               /* NULL: none */
    int server;                    /* server index; forks must use the parent's; -1: round-robin */
    char fork_from[64];            /* episode id to fork ("" for a new episode) */
    int fork_at;                   /* steps kept by the fork */
    const struct view *fork_state; /* agent view after those steps (borrowed) */
    const json_t *prefix;          /* expert calls to replay first (borrowed array), or NULL */
    int stop_after_prefix;         /* leave the episode open after the prefix (anchor parents) */
    const json_t *tool_only;       /* not an episode: one stateless call {"name","arguments"}
                                      (borrowed) played with POST /v1/tools/{name}; its reply goes
                                      to tool_obs */
    void *user;                    /* for the callback */
    struct rng rng; /* the episode's own random stream (the callback samples from it) */
    /* out */
    char episode_id[64];
    struct view *st; /* owned (rollout_ep_clear frees it) */
    int done;
    double ret;  /* the server's episode return */
    int correct; /* answered correctly */
    int answered;
    int calls; /* tool calls made, a fork's prefix included */
    int labels[RL_LABELS];
    int premature_answer;
    json_t *tool_obs; /* tool_only: the tool's reply {"ok","content",...} (new; freed by
                         rollout_ep_clear) */
};

/*
 * rollout_policy_fn — choose the next action for view v: *body gets the step request (new:
 * {"tool_call":{"name","arguments"}} or {"answer":"..."}). observe = 1 during an expert
 * prefix: the callback may look (entropy) and leaves *body NULL. Returns 0, or a negative
 * tg_err (with a message in *err) to stop the whole run.
 */
typedef int (*rollout_policy_fn)(void *ctx, struct rollout_ep *ep, const struct view *v,
                                 int observe, json_t **body, struct tg_error *err);

struct rollout;

/*
 * rollout_new — parse the server list and set up libcurl. cfg borrowed for the call (the
 * servers string is copied). Returns a new rollout (free with rollout_free) or NULL with a
 * message in *err (empty or bad URL list, too many URLs, bad settings, ENOMEM).
 */
struct rollout *rollout_new(const struct rollout_config *cfg, struct tg_error *err);
void rollout_free(struct rollout *r);

/* rollout_config_default — inflight 64, timeout 60 s, connect timeout 2 s, 6 retries, 50 ms. */
struct rollout_config rollout_config_default(void);

/* rollout_servers — how many server URLs; rollout_url — URL i (borrowed). */
int rollout_servers(const struct rollout *r);
const char *rollout_url(const struct rollout *r, int i);

/*
 * rollout_run — play eps[0..n) to the end (or to the end of their prefix when
 * stop_after_prefix; or make their one call when tool_only), at most cfg.inflight at once.
 * The callback is not called for tool_only entries (fn may be NULL when every entry is one).
 * Returns 0, or a negative tg_err with a message in *err (server unreachable after retries,
 * malformed response, the callback's error); episodes not finished then have done == 0.
 */
int rollout_run(struct rollout *r, struct rollout_ep *eps, int n, rollout_policy_fn fn, void *ctx,
                struct tg_error *err);

/* rollout_ep_clear — free ep->st and zero the "out" part; accepts a zeroed ep. */
void rollout_ep_clear(struct rollout_ep *ep);

/*
 * rollout_request — one blocking JSON request to server i: method "GET"/"POST"/"DELETE",
 * path (e.g. "/v1/tasks?split=train"), body NULL or borrowed. *out gets the parsed response
 * (new) when it is JSON, else NULL; *status the HTTP status. Retries as rollout_run does.
 * Returns 0 on any HTTP answer, or a negative tg_err (message) when none came.
 */
int rollout_request(struct rollout *r, int i, const char *method, const char *path,
                    const json_t *body, long *status, json_t **out, struct tg_error *err);

/* rollout_label_name — "necessary", "redundant", ... (static). */
const char *rollout_label_name(int l);

#endif
