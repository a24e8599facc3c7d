/*
 * episode.h — episodes and the episode store.
 *
 * What it does: an episode is one agent's attempt at one task: its steps (action,
 * observation, judge's label and reason, reward), the judge state, the outcome and the return.
 * This module applies judged steps (calling the judge and the reward functions), ends an
 * episode on an answer or at max_steps (step_limit), forks an episode at step k (by replaying
 * the pure judge over the first k steps), and renders the episode for GET /v1/episodes/{id},
 * for the trajectory log (OpenAI chat messages) and for reports.
 *
 * What a step stores is bounded: a malformed call keeps at most TG_STEP_ARGS_KEEP bytes of its
 * arguments (as a truncated JSON text, flagged "arguments_truncated") and TG_TOOL_NAME_KEEP
 * bytes of its tool name; every other part of a step is bounded by a tool's schema and output
 * limits. A committed step is immutable and reference counted: a fork shares the steps of its
 * prefix with its source instead of copying them, so a fork costs one episode struct whatever
 * its length.
 *
 * The store keeps episodes in memory keyed by a random 128-bit hex id, thread-safe, bounded
 * (struct episode_store_limits):
 *   - at most max_episodes episodes and max_bytes bytes (steps shared by forks counted once);
 *   - per client (an API key, or an address when keys are off): at most client_episodes
 *     unfinished episodes and client_bytes bytes (here a fork counts its whole prefix, so
 *     forking cannot hide memory from the quota); a share not below the store's own limit is
 *     no quota (the store's limit answers, with TG_EBUSY);
 *   - under pressure, room is made by evicting finished episodes (oldest finish first), then
 *     unfinished episodes idle for at least evict_idle_sec (least recently touched first):
 *     the client's own for a client quota, anyone's for the store's limits. If that is not
 *     enough the add or step is refused: TG_ERANGE for a client quota (429), TG_EBUSY for the
 *     store (503). A live episode (touched within evict_idle_sec) is never evicted;
 *   - an unfinished episode not touched for idle_sec expires and is removed.
 * Expiry runs lazily on every add and get (the unfinished list is kept in touch order, so a
 * sweep is O(expired)). Bytes are estimates of heap use (JSON nodes, strings, structs).
 * What it does not do: HTTP, run tools (the caller runs the tool and passes its outcome), or
 * write the trajectory log (the caller appends episode_trajectory_json).
 *
 * Concurrency: the store has one mutex for the map, lists and client records (held for a hash
 * probe, a list splice or an eviction); each episode has its own mutex for its steps. Lock
 * order: episode, then store. Episodes and steps are reference counted; a get returns a
 * reference that the caller drops with episode_put. One step at a time per episode:
 * episode_step_begin marks it busy, so a concurrent step on the same episode is refused
 * (TG_EBUSY) instead of racing.
 */
#ifndef TG_EPISODE_H
#define TG_EPISODE_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "server/judge.h"
#include "base/limits.h"
#include "server/reward.h"
#include "server/task.h"
#include "base/tg.h"

#define EPISODE_ID_LEN 32 /* hex characters of an id (128 random bits) */
#define EPISODE_ID_MAX (TG_NODE_NAME_MAX + 1 + EPISODE_ID_LEN) /* "<node>-<hex>" */

struct episode_budget; /* the store's byte count, shared by the steps charged to it */

/* One committed step. Immutable once committed, shared by the forks that hold it. */
struct episode_step {
    atomic_int refs;               /* episodes holding this step */
    size_t bytes;                  /* estimated heap bytes of the step */
    struct episode_budget *budget; /* the store it is charged to (a reference), or NULL */
    /* the action, kept as parts (episode.c's action_json shows it as
     * {"tool_call":{"name","arguments"[,"arguments_truncated":true]}} or {"answer":"..."}) */
    char name[TG_TOOL_NAME_KEEP + 1]; /* tool calls: the name as judged ("" if none) */
    char *args;          /* tool calls: the arguments as compact JSON text (jsonw's JSONW_REAL17:
                            reals read back to the same double), or, args_truncated, the first
                            bytes of that text; NULL: null. Text, not a tree: a stored step holds
                            one small block instead of the parser's objects */
    size_t args_len;     /* strlen(args) */
    int args_truncated;  /* args is only the first bytes of the text */
    char *answer;        /* answers: the answer */
    json_t *observation; /* the tool response, or {"correct":bool}; NULL when the
                            response is kept as parts (content set) */
    /* a call committed by episode_step_call_result keeps the tool's response as its parts
     * (tools.h's tool_result_json shows them as the observation) */
    int res_ok;
    char *content;      /* set exactly when the response is kept as parts */
    char *result;       /* the result as compact JSON text (JSONW_REAL17: reads back to the
                           same value), or NULL: none */
    size_t result_len;  /* strlen(result) */
    char *result_shown; /* the result as the trajectory line writes it (reals "%.15g") when
                           that text differs from result's (it holds reals); NULL: the same */
    size_t result_shown_len;
    struct tg_error *res_err; /* when !res_ok: the tool's error */
    enum judge_label label;
    enum judge_outcome outcome; /* tool calls: how the call went (replayed by fork) */
    int is_answer;
    int premature_answer; /* answers: flagged premature_answer */
    int ungrounded;       /* answers: flagged ungrounded */
    double reward;
    char *reason;
};

struct ep_client;

/* Links of an episode in one of the store's lists. */
struct ep_link {
    struct episode *prev, *next;
};

struct episode {
    char id[EPISODE_ID_MAX + 1];    /* 32 hex, or "<node>-" and 32 hex (episode_set_node) */
    const struct task *task;        /* borrowed: the task set outlives every episode */
    const struct reward_config *rc; /* borrowed: the server's reward config */
    enum reward_mode mode;
    char tag[TG_TAG_MAX + 1];
    int max_steps;
    int feedback; /* 1: replies and GET show the judge's labels, rewards and correctness (a
                     trainer's episode); 0: only what an agent may see. Set before storing. */
    int attempt;  /* how the report counts it (enum report_attempt); set before storing */
    char fork_of[EPISODE_ID_MAX + 1]; /* made by episode_fork: the source's id; "" otherwise */
    long long fork_at;                /* made by episode_fork: the fork point k (steps kept) */

    pthread_mutex_t mu; /* guards everything down to the store bookkeeping */
    int busy;           /* a step is between episode_step_begin and its commit/abort */
    /* sized by max_steps, in the episode's own allocation (episode_struct_bytes): an episode
     * of 8 steps takes about 1 kB, not the 4 kB that room for TG_MAX_STEPS_LIMIT would */
    struct judge_memo js;        /* the judge's memory (2 key slots per step) */
    struct episode_step **steps; /* nsteps committed steps (references), room for max_steps */
    size_t nsteps;
    enum judge_label *call_labels; /* labels of the tool calls, in order; room for max_steps */
    size_t ncalls;
    enum reward_outcome outcome; /* REWARD_RUNNING until done */
    int premature_answer;
    int ungrounded;
    double ret;          /* the return so far (reward_return) */
    atomic_size_t bytes; /* this struct plus every step it holds, shared ones included */

    /* store bookkeeping: guarded by the store's mutex */
    struct episode_budget *budget; /* charged with this struct once stored (a reference) */
    struct episode *hnext;         /* hash chain */
    struct ep_link all;            /* the store's unfinished (touch order) or finished list */
    struct ep_link mine;           /* the same list of its client */
    struct ep_client *client;      /* NULL once out of the store */
    size_t charged;                /* bytes counted in client->bytes */
    int in_store, on_finished;
    long long touched_us;
    atomic_int refs;
};

/* ---- episodes ------------------------------------------------------------------------- */

/*
 * episode_new — a new episode on task t (borrowed; must outlive it), with reward config rc
 * (borrowed), mode, max_steps (1..TG_MAX_STEPS_LIMIT) and tag (borrowed, ≤ TG_TAG_MAX bytes;
 * NULL: ""). The id is 128 random bits in hex. Returns 0 with *out (one reference, drop with
 * episode_put), TG_EINVAL or TG_ENOMEM.
 */
int episode_new(const struct task *t, const struct reward_config *rc, enum reward_mode mode,
                int max_steps, const char *tag, struct episode **out);

/* episode_struct_bytes — the bytes of an episode with max_steps (1..TG_MAX_STEPS_LIMIT), its
 * steps not counted: what one costs the store before its first step, and what a fork adds. */
size_t episode_struct_bytes(int max_steps);

/* episode_set_node — prefix the id with "<node>-" (node borrowed: 1..TG_NODE_NAME_MAX bytes of
 * [a-z0-9], checked at start-up), so that the id names the server holding the episode. Call
 * before the episode is stored. Not thread-safe. */
void episode_set_node(struct episode *ep, const char *node);

/* episode_put — drop a reference; the last one frees the episode. Accepts NULL. Thread-safe. */
void episode_put(struct episode *ep);

/* episode_ref — take another reference. Thread-safe. */
void episode_ref(struct episode *ep);

/*
 * episode_step_begin — reserve the next step: TG_ESTATE if the episode is done, TG_EBUSY if
 * another step is in progress; else 0 and the episode is busy until episode_step_call,
 * episode_step_answer or episode_step_abort. Thread-safe.
 */
int episode_step_begin(struct episode *ep);

/* episode_step_abort — release a reservation without a step (e.g. the tool could not be
 * queued). Thread-safe. */
void episode_step_abort(struct episode *ep);

/*
 * episode_step_call — commit a tool call (after episode_step_begin): judge it with outcome and
 * the tool's result object (borrowed; NULL unless outcome is JUDGE_TOOL_OK), reward it, and
 * end the episode with step_limit if this was step max_steps. name and args are borrowed
 * (args may be NULL); observation is stolen (the tool response). Returns 0 with *reply new
 * (the step response of docs/episodes.md: {"step","observation","done"}, and with feedback
 * also "judgement","reward","return") and *finished = 1 if this step ended the episode; or
 * TG_ENOMEM (the step is not committed; the reservation is released). Thread-safe.
 */
int episode_step_call(struct episode *ep, const char *name, const json_t *args,
                      enum judge_outcome outcome, const json_t *result, json_t *observation,
                      json_t **reply, int *finished);

/*
 * episode_step_call_text — episode_step_call with the reply written as text into reply (a
 * dbuf of the caller's), byte for byte what the HTTP layer renders of episode_step_call's reply
 * (jsonw with JSONW_ASCII), without building the object. On TG_ENOMEM after the commit (the
 * buffer failed) the step is committed and only the reply is missing, as there.
 */
struct dbuf;
int episode_step_call_text(struct episode *ep, const char *name, const json_t *args,
                           enum judge_outcome outcome, const json_t *result, json_t *observation,
                           struct dbuf *reply, int *finished);

/*
 * episode_step_call_result — episode_step_call_text for a call that reached its tool
 * (outcome JUDGE_TOOL_OK or JUDGE_TOOL_FAILED as res->ok says): the observation is the tool's
 * response res (tool_result_json's object, kept as its parts instead of built: the step's
 * hot path). On 0 the step took res's content (res->content is NULL) and kept the result as
 * text (res->result stays the caller's, as on an error).
 */
struct tool_result;
int episode_step_call_result(struct episode *ep, const char *name, const json_t *args,
                             enum judge_outcome outcome, struct tool_result *res,
                             struct dbuf *reply, int *finished);

/* episode_step_answer — commit a final answer (borrowed): judged correct/incorrect (and
 * premature_answer), ends the episode. Same returns as episode_step_call. Thread-safe. */
int episode_step_answer(struct episode *ep, const char *answer, json_t **reply, int *finished);

/*
 * episode_fork — a new episode holding the first `at` steps of src, judged and rewarded as
 * they were (the judge state is rebuilt by replaying them), open for play, with src's task,
 * mode, max_steps, tag and feedback. at must be ≤ src's steps, and < them if src is done (a fork
 * must be open). Returns 0 with *out (one reference), TG_EINVAL with *err, or TG_ENOMEM.
 * Thread-safe.
 */
int episode_fork(struct episode *src, long long at, struct episode **out, struct tg_error *err);

/* episode_done — 1 if the episode has ended. Thread-safe. */
int episode_done(struct episode *ep);

/* episode_call_outcome_name — how a tool call went, as the trajectory log names it: "ok",
 * "tool_error", "bad_args", "unknown_tool" ("?" out of range). Pure.
 * episode_call_outcome_parse — the reverse: 0 with *out, or TG_EINVAL for another name. */
const char *episode_call_outcome_name(enum judge_outcome o);
int episode_call_outcome_parse(const char *name, enum judge_outcome *out);

/* episode_outcome_name — "running", "correct", "incorrect", "step_limit". Pure. */
const char *episode_outcome_name(enum reward_outcome o);

/* episode_json — new {"episode_id","task":{"id","prompt"},"steps":[{"action","observation"}],
 * "done","outcome"} (GET /v1/episodes/{id}); with feedback each step also has "judgement" and
 * "reward", the episode "return", and outcome is correct/incorrect rather than "answered".
 * NULL on ENOMEM. The task's family and tags are never shown. Thread-safe. */
json_t *episode_json(struct episode *ep);

/*
 * episode_trajectory_json — new trajectory-log line for a finished episode:
 * {"episode_id","task_id","split","family","task_tags","tag","reward_mode","max_steps",
 * "messages":[system, user, assistant with tool_calls, tool, ..., assistant answer],
 * "steps":[{"label","reward"[,"premature_answer"]; tool calls also "call" (how it went:
 * episode_call_outcome_name) and "observation" (the tool response without its "content",
 * which the tool message holds)}],"return","correct","outcome"[,"fork":{"of","at"}]}, "fork"
 * for an episode made by episode_fork (its source's id and the fork point; its messages and
 * steps hold the inherited prefix too). The caller adds "tools" (the list the episode was
 * played with). NULL on ENOMEM. Thread-safe.
 */
json_t *episode_trajectory_json(struct episode *ep);

/*
 * episode_trajectory_write — append to b the trajectory-log line of ep with "tools" last: the
 * same bytes as episode_trajectory_json with "tools" added, written by jsonw_value (no escape
 * of non-ASCII), but written straight, without building the object (the cost of every
 * finished episode's log line). tools_text is the tool list already rendered that way
 * (borrowed). Returns 0, or the buffer's failure (jsonw.h), or TG_ENOMEM. Thread-safe.
 */
int episode_trajectory_write(struct episode *ep, struct dbuf *b, const char *tools_text);

/* What a finished episode contributes to a report (see report.h). */
struct episode_summary {
    const char *split;       /* borrowed from the task */
    const char *tag;         /* borrowed from the episode */
    const struct task *task; /* borrowed: its family and tags group the report by tag */
    size_t ncalls;
    size_t labels[JUDGE_LABEL_COUNT]; /* tool-call labels counted per call; correct,
                                         incorrect, premature_answer, step_limit once */
    int correct;
    int grounded;     /* answered correctly with every search step satisfied */
    int plan_match;   /* correct, grounded, every call necessary and calls == plan steps */
    double selection; /* |well-formed called tools ∩ plan tools| / max(|called|, |plan|)
                         (multisets; a malformed call is never a right choice); 1 if both empty */
    size_t arg_calls; /* calls judged on their arguments: necessary, wrong_args, and malformed
                         calls of a known tool */
    int attempt;      /* the episode's attempt kind (enum report_attempt) */
    int finished;     /* 0: summarised unfinished (abandoned) */
};

/* episode_summarize — fill *s from an episode (finished, or abandoned: then it counts as a
 * failure). Thread-safe. */
void episode_summarize(struct episode *ep, struct episode_summary *s);

/* episode_step_judged_on_args — 1 if the step is a call judged on its arguments (necessary,
 * wrong_args, or malformed with a known tool: what argument_accuracy counts). Pure. */
int episode_step_judged_on_args(const struct episode_step *st);

/* episode_last_step — a new reference to the last committed step (NULL if none); drop it with
 * episode_step_put. Thread-safe. */
struct episode_step *episode_last_step(struct episode *ep);
void episode_step_put(struct episode_step *st);

/* ---- the store ------------------------------------------------------------------------ */

struct episode_store;

/* episode_clock_fn — monotonic microseconds; tests substitute their own. */
typedef long long (*episode_clock_fn)(void);

/* The store's bounds (see the top of this file). Every field ≥ 1. */
struct episode_store_limits {
    size_t max_episodes;    /* episodes held */
    int idle_sec;           /* an unfinished episode expires after this long untouched */
    size_t max_bytes;       /* estimated bytes held (steps shared by forks counted once) */
    size_t client_episodes; /* unfinished episodes one client may hold */
    size_t client_bytes;    /* bytes one client's episodes may hold (a fork counts its prefix) */
    int evict_idle_sec;     /* under pressure, unfinished episodes idle this long are evicted */
};

/* episode_store_limits_defaults — the defaults of limits.h: TG_EPISODES_MAX,
 * TG_EPISODE_IDLE_SEC, TG_EPISODE_BYTES_DEFAULT, a client 1/TG_CLIENT_SHARE_DIV of each, and
 * TG_EVICT_IDLE_SEC. */
void episode_store_limits_defaults(struct episode_store_limits *l);

/*
 * episode_store_new — an empty store with limits *l (copied; every field ≥ 1). clock NULL:
 * tg_now_us. Returns a new store or NULL on ENOMEM or a zero limit.
 */
struct episode_store *episode_store_new(const struct episode_store_limits *l,
                                        episode_clock_fn clock);

/* episode_store_free — drop the store's references and free it. Episodes and steps still
 * referenced elsewhere stay valid (their byte count outlives the store). Accepts NULL. */
void episode_store_free(struct episode_store *s);

/*
 * episode_store_add — insert ep for client (borrowed; at most TG_CLIENT_KEY_MAX bytes are
 * used; NULL: one anonymous client). The store takes its own reference; the caller keeps
 * theirs. Expires idle episodes, then makes room as the top of this file says. Returns 0;
 * TG_ERANGE when the client is at its quota and none of its episodes can be evicted;
 * TG_EBUSY when the store is full and nothing can be evicted; TG_ENOMEM. Thread-safe.
 */
int episode_store_add(struct episode_store *s, struct episode *ep, const char *client);

/*
 * episode_store_admit — before a step of ep (already stored and touched): make room for it
 * when its client or the store is at or over its byte limit. Returns 0, TG_ERANGE (client
 * quota) or TG_EBUSY (store full). A step admitted may take its episode past a limit by at
 * most one step's bytes. An episode no longer stored is admitted. Thread-safe.
 */
int episode_store_admit(struct episode_store *s, struct episode *ep);

/*
 * episode_store_update — after a step of ep was committed: count its new bytes against its
 * client and, if the step ended the episode, move it to the finished lists (evictable).
 * No-op if ep is no longer stored. Thread-safe (takes ep's mutex, then the store's).
 */
void episode_store_update(struct episode_store *s, struct episode *ep);

/* episode_store_get — a new reference to the episode with this id (touching it), or NULL if
 * unknown, deleted, evicted or expired. Thread-safe. */
struct episode *episode_store_get(struct episode_store *s, const char *id);

/* episode_store_remove — remove the episode with this id. 0 or TG_ENOTFOUND. Thread-safe. */
int episode_store_remove(struct episode_store *s, const char *id);

/* episode_store_count — episodes held. episode_store_bytes — estimated bytes held by the
 * store's episodes and the steps they share (and by episodes it dropped that are still
 * referenced). episode_store_client — unfinished episodes and bytes counted for a client
 * (0 and 0 if it holds none). episode_store_expire — run expiry now and return how many
 * expired. Thread-safe. */
size_t episode_store_count(struct episode_store *s);
size_t episode_store_bytes(struct episode_store *s);
void episode_store_client(struct episode_store *s, const char *client, size_t *unfinished,
                          size_t *bytes);
size_t episode_store_expire(struct episode_store *s);

#endif
