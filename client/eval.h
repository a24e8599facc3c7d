/*
 * eval.h — `toolgym eval`: play episodes against a running server over HTTP (libcurl,
 * keep-alive) with an agent, then fetch GET /v1/report for the run's tag and print it.
 *
 * What it does: list the split's tasks (GET /v1/tasks), play N episodes (task i mod total,
 * in order) with an agent, and print the report table. Agents are a struct of callbacks, so
 * other agents (the trainer's policy) plug in beside the reference agents:
 *   oracle     plays the task's expert calls, then answers the gold answer. Agents never see
 *              plans over HTTP, so it reads the task file locally (--tasks FILE).
 *   random     seeded random actions: random tools with arguments made of prompt words and
 *              numbers, or a random number as the answer (p = 0.3 per step).
 *   overcaller calls tools (search, calculator, run_code in turn) until the step limit.
 *   eager      answers at once (the last number of the prompt, or "unknown").
 * The report is fetched with ?by=tag, and the table breaks accuracy, plan match and wasted
 * calls down by the tags of the tasks (the productions they were built from).
 * What it does not do: judge or score anything itself — the server does; parse the command
 * line (cmd/cmd_eval.c does).
 */
#ifndef TG_EVAL_H
#define TG_EVAL_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "server/task.h"
#include "base/tg.h"

/* What an agent sees before each action. Everything is borrowed for the call. */
struct eval_turn {
    const json_t *episode;   /* the create reply: episode_id, task{id,prompt}, tools,
                                max_steps */
    const json_t *history;   /* array of {"action":{...},"reply":{step reply}} so far */
    size_t step;             /* steps taken so far */
    const struct task *task; /* the local task (answer, plan, expert), or NULL if unknown */
    uint64_t seed;           /* per-episode seed (run seed and episode index) */
};

struct eval_agent {
    const char *name;
    void *state; /* the agent's own */
    /* act — the next action as a new {"tool_call":{"name","arguments"}} or {"answer":s};
     * NULL on failure (the run stops with an error). */
    json_t *(*act)(struct eval_agent *a, const struct eval_turn *t);
    /* episode_end — optional: the episode is over; final is GET /v1/episodes/{id} (borrowed). */
    void (*episode_end)(struct eval_agent *a, const struct eval_turn *t, const json_t *final);
    /* destroy — optional: free state. */
    void (*destroy)(struct eval_agent *a);
};

struct eval_options {
    const char *server;     /* base URL, e.g. http://127.0.0.1:8080, or several, comma-separated:
                               episode i is played on server i mod n */
    const char *split;      /* default "test" */
    const char *agent;      /* oracle | random | overcaller | eager (or a registered kind) */
    const char *tasks;      /* local task file; NULL: the data dir's tasks/<split>.jsonl */
    const char *tag;        /* NULL: "<agent>-<random hex>" */
    const char *api_key;    /* NULL: none */
    const char *checkpoint; /* for agents that load one (policy); NULL otherwise */
    long episodes;          /* 0: one per task of the split */
    int max_steps;          /* 0: the server's default */
    uint64_t seed;
    int quiet;    /* no progress on stderr */
    int feedback; /* create the episodes with feedback "judge": the replies and the final GET
                     carry the judge's labels (for tests and log checks; an agent under
                     evaluation must not see them, so toolgym eval never sets it) */
};

/* eval_agent_fn — make agent kind `name` for options o (borrowed). 0 or a tg_err with *err. */
typedef int (*eval_agent_fn)(const struct eval_options *o, struct eval_agent *out,
                             struct tg_error *err);

/* An agent kind that a higher layer provides (the trainer's policy): the command layer
 * registers it by passing a table of these to eval_agent_make. */
struct eval_kind {
    const char *name;
    eval_agent_fn make;
    const char *uses; /* the agent-specific options it reads, space-separated command-line
                         names ("--checkpoint"); "" or NULL: none */
};

/* eval_agent_new — fill *out with the reference agent named o->agent (oracle, random,
 * overcaller, eager). 0, or TG_EINVAL with *err for an unknown name. */
int eval_agent_new(const struct eval_options *o, struct eval_agent *out, struct tg_error *err);

/* eval_agent_make — like eval_agent_new, but kinds extra[0..n_extra) (borrowed) are tried
 * first. */
int eval_agent_make(const struct eval_options *o, const struct eval_kind *extra, size_t n_extra,
                    struct eval_agent *out, struct tg_error *err);

/*
 * eval_run — play the episodes with agent a (borrowed) and fetch the report of the run's
 * tag. Returns 0 with *report new (the GET /v1/report body) and *tag_out (may be NULL)
 * filled with the tag used (a buffer of TG_TAG_MAX + 1 bytes), or TG_EIO (HTTP failure),
 * TG_EINVAL (bad options, unknown split), TG_ENOMEM, with *err. Not thread-safe with
 * respect to a.
 */
int eval_run(const struct eval_options *o, struct eval_agent *a, json_t **report, char *tag_out,
             struct tg_error *err);

/*
 * eval_servers_parse — split list (borrowed: "URL" or "URL,URL,...") into urls[0..*n) (new
 * strings, trailing '/' dropped; free with eval_servers_free), at most max. 0, or TG_EINVAL
 * with *err (empty, an empty item, too many).
 */
int eval_servers_parse(const char *list, char **urls, int max, int *n, struct tg_error *err);
void eval_servers_free(char **urls, int n);

/*
 * eval_reports_combine — the report of a run spread over several servers: servers (stolen)
 * is {url: that server's report}; *report becomes their merged report (report_merge: counts
 * added, ratios computed again) with "servers" beside its fields. 0, or TG_EINVAL (a report
 * without counts) / TG_ENOMEM with err set; servers is released either way.
 */
int eval_reports_combine(json_t *servers, json_t **report, struct tg_error *err);

/* eval_print_report — the report table (borrowed report) on f; a report of several servers
 * (eval_reports_combine) first gets a line per server, then the table of the merged report. */
void eval_print_report(FILE *f, const struct eval_options *o, const char *tag,
                       const json_t *report);

/*
 * eval_agent_name — the i-th agent kind: the reference agents (oracle, random, overcaller,
 * eager), then extra[0..n_extra); NULL past the last. Borrowed.
 * eval_agent_uses — the agent-specific options agent `name` reads, as struct eval_kind.uses
 * ("--tasks" for oracle, "--seed" for random and overcaller, "" for eager), or NULL for an
 * unknown agent. The command line refuses such an option for an agent that does not read it.
 */
const char *eval_agent_name(const struct eval_kind *extra, size_t n_extra, size_t i);
const char *eval_agent_uses(const char *name, const struct eval_kind *extra, size_t n_extra);

#endif
