/*
 * episode.h — episodes and the episode store.
 *
 * What it does: an episode is one agent's attempt at one task: its steps (action,
 * observation, judge's label and reason, reward), the judge state, the outcome and the return.
 * This module applies judged steps (calling the judge and the reward functions), ends an
 * episode on an answer or at max_steps (step_limit), forks an episode at step k (by replaying
 * the pure judge over the first k steps), and renders the episode for GET /v1/episodes/{id},
 * for the trajectory log (OpenAI chat messages) and for reports. The store keeps episodes in
 * memory keyed by a random 128-bit hex id, thread-safe, bounded:
 *   - at most max_episodes; when full, finished episodes are evicted oldest-finished first;
 *     if every stored episode is unfinished, the add is refused (TG_EBUSY: 503 overloaded)
 *     rather than killing a live episode;
 *   - an unfinished episode not touched (get) for idle_sec expires and is removed.
 * Expiry runs lazily on every add and get (the unfinished list is kept in touch order, so a
 * sweep is O(expired)).
 * What it does not do: HTTP, run tools (the caller runs the tool and passes its outcome), or
 * write the trajectory log (the caller appends episode_trajectory_json).
 *
 * Concurrency: the store has one mutex for the map and lists (held for a hash probe or a list
 * splice); each episode has its own mutex for its steps. Lock order: episode, then store.
 * Episodes are reference counted; a get returns a reference that the caller drops with
 * episode_put. One step at a time per episode: episode_step_begin marks it busy, so a
 * concurrent step on the same episode is refused (TG_EBUSY) instead of racing.
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

struct episode_step {
    json_t *action;      /* new: {"tool_call":{"name","arguments"}} or {"answer":"..."} */
    json_t *observation; /* new: the tool response, or {"correct":bool} */
    enum judge_label label;
    enum judge_outcome outcome; /* tool calls: how the call went (replayed by fork) */
    int is_answer;
    int premature_answer; /* answers: flagged premature_answer */
    double reward;
    char *reason; /* new */
};

struct episode {
    char id[EPISODE_ID_LEN + 1];
    const struct task *task;        /* borrowed: the task set outlives every episode */
    const struct reward_config *rc; /* borrowed: the server's reward config */
    enum reward_mode mode;
    char tag[TG_TAG_MAX + 1];
    int max_steps;

    pthread_mutex_t mu; /* guards everything down to the store bookkeeping */
    int busy;           /* a step is between episode_step_begin and its commit/abort */
    struct judge_state js;
    struct episode_step *steps; /* nsteps committed steps */
    size_t nsteps, cap;
    enum judge_label call_labels[TG_MAX_STEPS_LIMIT]; /* labels of the tool calls, in order */
    size_t ncalls;
    enum reward_outcome outcome; /* REWARD_RUNNING until done */
    int premature_answer;
    double ret; /* the return so far (reward_return) */

    /* store bookkeeping: guarded by the store's mutex */
    struct episode *hnext;       /* hash chain */
    struct episode *prev, *next; /* the unfinished (touch order) or finished list */
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
 * (the step response of API.md) and *finished = 1 if this step ended the episode; or
 * TG_ENOMEM (the step is not committed; the reservation is released). Thread-safe.
 */
int episode_step_call(struct episode *ep, const char *name, const json_t *args,
                      enum judge_outcome outcome, const json_t *result, json_t *observation,
                      json_t **reply, int *finished);

/* episode_step_answer — commit a final answer (borrowed): judged correct/incorrect (and
 * premature_answer), ends the episode. Same returns as episode_step_call. Thread-safe. */
int episode_step_answer(struct episode *ep, const char *answer, json_t **reply, int *finished);

/*
 * episode_fork — a new episode holding the first `at` steps of src, judged and rewarded as
 * they were (the judge state is rebuilt by replaying them), open for play, with src's task,
 * mode, max_steps and tag. at must be ≤ src's steps, and < them if src is done (a fork must
 * be open). Returns 0 with *out (one reference), TG_EINVAL with *err, or TG_ENOMEM.
 * Thread-safe.
 */
int episode_fork(struct episode *src, long long at, struct episode **out, struct tg_error *err);

/* episode_done — 1 if the episode has ended. Thread-safe. */
int episode_done(struct episode *ep);

/* episode_outcome_name — "running", "correct", "incorrect", "step_limit". Pure. */
const char *episode_outcome_name(enum reward_outcome o);

/* episode_json — new {"episode_id","task":{"id","prompt"},"steps":[{"action","observation",
 * "judgement","reward"}],"done","return","outcome"} (GET /v1/episodes/{id}); NULL on ENOMEM.
 * The task's family and tags are not shown (agents read this). Thread-safe. */
json_t *episode_json(struct episode *ep);

/*
 * episode_trajectory_json — new trajectory-log line for a finished episode:
 * {"episode_id","task_id","split","family","task_tags","tag","reward_mode","messages":[system,
 * user, assistant with tool_calls, tool, ..., assistant answer],"steps":[{"label","reward"}],
 * "return","correct","outcome"}. NULL on ENOMEM. Thread-safe.
 */
json_t *episode_trajectory_json(struct episode *ep);

/* What a finished episode contributes to a report (see report.h). */
struct episode_summary {
    const char *split;       /* borrowed from the task */
    const char *tag;         /* borrowed from the episode */
    const struct task *task; /* borrowed: its family and tags group the report by tag */
    size_t ncalls;
    size_t labels[JUDGE_LABEL_COUNT]; /* tool-call labels counted per call; correct,
                                         incorrect, premature_answer, step_limit once */
    int correct;
    int plan_match;   /* every call necessary and calls == plan steps */
    double selection; /* |called tools ∩ plan tools| / max(|called|, |plan|) (multisets); 1 if
                         both empty */
};

/* episode_summarize — fill *s from a finished episode. Thread-safe. */
void episode_summarize(struct episode *ep, struct episode_summary *s);

/* ---- the store ------------------------------------------------------------------------ */

struct episode_store;

/* episode_clock_fn — monotonic microseconds; tests substitute their own. */
typedef long long (*episode_clock_fn)(void);

/*
 * episode_store_new — an empty store holding at most max_episodes (≥ 1) episodes; unfinished
 * episodes expire after idle_sec (≥ 1) without a touch. clock NULL: tg_now_us. Returns a new
 * store or NULL on ENOMEM.
 */
struct episode_store *episode_store_new(size_t max_episodes, int idle_sec, episode_clock_fn clock);

/* episode_store_free — drop the store's references and free it. Accepts NULL. */
void episode_store_free(struct episode_store *s);

/*
 * episode_store_add — insert ep (the store takes its own reference; the caller keeps
 * theirs). Expires idle episodes first; if the store is full, evicts the oldest finished
 * episode; if all are unfinished, returns TG_EBUSY. Returns 0 or TG_EBUSY. Thread-safe.
 */
int episode_store_add(struct episode_store *s, struct episode *ep);

/* episode_store_get — a new reference to the episode with this id (touching it), or NULL if
 * unknown, deleted, evicted or expired. Thread-safe. */
struct episode *episode_store_get(struct episode_store *s, const char *id);

/* episode_store_remove — remove the episode with this id. 0 or TG_ENOTFOUND. Thread-safe. */
int episode_store_remove(struct episode_store *s, const char *id);

/* episode_store_finished — ep has ended: move it to the finished list (evictable). No-op if
 * ep is no longer stored. Thread-safe. */
void episode_store_finished(struct episode_store *s, struct episode *ep);

/* episode_store_count — episodes held. episode_store_expire — run expiry now and return how
 * many expired. Thread-safe. */
size_t episode_store_count(struct episode_store *s);
size_t episode_store_expire(struct episode_store *s);

#endif
