/*
 * rescore.h — judge stored trajectories again, without running any tool (`toolgym rescore`).
 *
 * What it does: read a trajectory line — toolgym's own log, the `--trajectories` file of
 * `toolgym eval --agent openai`, or any OpenAI chat-format log whose line names its task id
 * ("task_id", or "metadata":{"task_id"}) — rebuild its steps (each assistant tool call, in
 * order, with the `tool` message answering its id; an assistant message without tool calls is
 * the answer), and replay them through the server's own episode code (episode_step_call /
 * episode_step_answer: the judge, the rewards, step_limit) under a reward configuration. The
 * tool's response is the line's own: toolgym lines keep each call's outcome and response
 * besides its text ("call", "observation"); for other logs it is read back from the `tool`
 * message's text (tools_result_from_content) and the outcome is found the way the server finds
 * it (unknown name, arguments that are not an object or break the tool's schema, an "error:"
 * text). The rescored line is the input line with "steps", "return", "correct", "outcome",
 * "reward_mode" (and "max_steps") replaced: the conversation is kept as it was. A line with a
 * "fork" object (a fork in toolgym's log) counts in a report as a fork, with all its calls.
 *
 * What it does not do: run tools, open network connections, or write files (the caller does).
 * Lines that are not trajectories are reported with their line number and skipped.
 */
#ifndef TG_RESCORE_H
#define TG_RESCORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "server/report.h"
#include "server/reward.h"
#include "server/task.h"
#include "base/tg.h"

/* How to rescore. Everything borrowed, and must outlive the calls. */
struct rescore_config {
    const struct task_set *tasks;   /* where task ids are looked up */
    const struct reward_config *rc; /* the reward configuration to judge under */
    int mode;                       /* an enum reward_mode for every line, or -1: each line's
                                       "reward_mode" (rc->mode when it has none) */
};

/*
 * rescore_line — judge one trajectory line (borrowed) again. Returns 0 with *out (new: the
 * rescored line) and, when sum is not NULL, *sum filled for a report (its pointers are
 * borrowed from the task set and from *out, valid while *out lives); or TG_EINVAL with *err
 * saying why the line is not a trajectory that can be judged (no known task, no messages, a
 * tool message missing, more steps than the limit, no answer before max_steps), or TG_ENOMEM.
 * Pure apart from allocation; thread-safe.
 */
int rescore_line(const struct rescore_config *c, const json_t *line, json_t **out,
                 struct episode_summary *sum, struct tg_error *err);

/* What rescore_file did. */
struct rescore_stats {
    size_t lines;          /* lines read, blank ones aside (a torn last line included) */
    size_t rescored;       /* written out */
    size_t skipped;        /* not a trajectory, or not judgeable: reported and skipped */
    size_t steps;          /* steps of the rescored lines */
    size_t labels_changed; /* steps whose label differs from the one the line logged (lines
                              that logged none count no change) */
    size_t rewards_changed;
    size_t returns_changed; /* lines whose return differs */
};

/* rescore_bad_fn — told about a skipped line: its 1-based number and why (borrowed). */
typedef void (*rescore_bad_fn)(void *ud, size_t line_no, const char *why);

/*
 * rescore_file — rescore every line of the file at path (borrowed; "-" is stdin), writing
 * each rescored line to out as compact JSON (the trajectory log's number precision) and
 * counting it in rep (may be NULL). Lines that are not JSON objects or cannot be judged go
 * to bad (may be NULL) and are skipped; a last line without a newline is a torn line and
 * skipped too. Fills *st. Returns 0 (also when lines were skipped), or TG_EIO (cannot read or
 * write) / TG_ENOMEM with *err.
 */
int rescore_file(const struct rescore_config *c, const char *path, FILE *out, struct report *rep,
                 struct rescore_stats *st, rescore_bad_fn bad, void *ud, struct tg_error *err);

#endif
