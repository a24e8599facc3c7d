/*
 * judge.h — the judge: labels every step of an episode from the task's plan and the
 * episode's history, following the label table of DESIGN.md.
 *
 * What it does: given a task (borrowed), the judge state of an episode (the plan steps
 * satisfied so far and the normalised keys of earlier calls) and a new action — a tool call
 * with its outcome, or an answer — it returns a label, a one-sentence reason and the plan step
 * the call satisfied, and advances the state. It also checks answers against the gold answer.
 * What it does not do: call tools (the episode layer runs the tool and passes the outcome),
 * compute rewards (server/reward.c), I/O, or hold any global state. It is pure and
 * deterministic: the same task, state and action always give the same verdict, so replaying
 * the first k actions of an episode rebuilds its state exactly (fork).
 *
 * Rules for a tool call, first match wins:
 *   1. malformed    — unknown tool, arguments that violate the tool's schema, or a tool-level
 *                     error (ok:false: syntax error, code that raised, timeout);
 *   2. unnecessary  — the task has no plan steps (any call on a mental task);
 *   3. redundant    — every plan step is already satisfied (any call, whatever the tool);
 *   4. unnecessary  — the tool is in no plan step;
 *   5. redundant    — same tool and normalised arguments as an earlier call that was neither
 *                     malformed nor premature,
 *                     or every plan step of this tool is already satisfied;
 *   6. necessary    — the call matches an unsatisfied step of its tool whose needs are all
 *                     satisfied (the first such step in plan order is satisfied by it);
 *   7. wrong_args   — some unsatisfied step of this tool has all its needs satisfied, but the
 *                     call matches none of them;
 *   8. premature    — every unsatisfied step of this tool still waits on unsatisfied needs.
 * Normalised arguments (judge_call_key): calculator — the result's value when it evaluated
 * (so "2*48211" and "48211 * 2" are equal), else the expression without whitespace; search —
 * the sorted set of query terms as the search index tokenises them (lowercase ASCII alnum runs,
 * stopwords dropped; k is ignored); other tools — the arguments as JSON with sorted keys. Answers:
 * correct/incorrect by the answer's type and tolerance (judge_answer_correct); premature_answer is
 * flagged when any plan step is unsatisfied, and correctness is still scored. step_limit ends an
 * episode that reached max_steps without an answer.
 */
#ifndef TG_JUDGE_H
#define TG_JUDGE_H

#include <jansson.h>
#include <stdint.h>

#include "base/limits.h"
#include "server/task.h"
#include "base/tg.h"

enum judge_label {
    JUDGE_NECESSARY,
    JUDGE_REDUNDANT,
    JUDGE_PREMATURE,
    JUDGE_UNNECESSARY,
    JUDGE_WRONG_ARGS,
    JUDGE_MALFORMED,
    JUDGE_CORRECT,
    JUDGE_INCORRECT,
    JUDGE_PREMATURE_ANSWER, /* a flag on answers (verdict.premature_answer); named for reports */
    JUDGE_STEP_LIMIT,
    JUDGE_LABEL_COUNT
};

/* How the tool call went, as the episode layer saw it. */
enum judge_outcome {
    JUDGE_TOOL_OK,      /* the tool ran and returned ok:true */
    JUDGE_TOOL_FAILED,  /* the tool ran and returned ok:false (tool-level error) */
    JUDGE_BAD_ARGS,     /* arguments violate the tool's schema (tools_call gave TG_EINVAL) */
    JUDGE_UNKNOWN_TOOL, /* no tool of that name */
};

/* A tool call to judge. Every pointer is borrowed for the duration of judge_call. */
struct judge_call {
    const char *tool;   /* the name the agent gave; NULL counts as unknown */
    const json_t *args; /* the arguments the agent gave (any JSON; NULL allowed) */
    enum judge_outcome outcome;
    /* The tool's `result` object (tool_result.result) when outcome is JUDGE_TOOL_OK, else
     * NULL. The judge reads result.value (calculator), result.hits[].id (search) and
     * result.stdout (run_code); it ignores everything else. */
    const json_t *result;
};

/* A remembered call key (judge_call_key), kept as its length and two independent 64-bit
 * hashes rather than the text, so that a state is fixed-size however long the arguments are
 * (run_code's code and stdin): forking an episode replays its calls and must not copy them.
 * Two different keys agree on all three with probability about 2^-128 unless crafted; a
 * crafted collision only makes the crafter's own call redundant. */
struct judge_key {
    size_t len;
    uint64_t h1, h2;
};

/* The judge's memory of one episode. Initialise with judge_state_init; judge_state_clear
 * resets it. A plain value (no heap): copy it with judge_state_copy or assignment. Owned by the
 * episode; not thread-safe (guard it with the episode). */
struct judge_state {
    unsigned satisfied;                        /* bit i: plan step i is satisfied */
    size_t ncalls;                             /* tool calls judged */
    size_t nkeys;                              /* keys used */
    struct judge_key keys[TG_MAX_STEPS_LIMIT]; /* keys of non-malformed, non-premature calls */
    int finished;                              /* an answer or step_limit was judged */
};

struct judge_verdict {
    enum judge_label label;      /* for answers: JUDGE_CORRECT or JUDGE_INCORRECT */
    int step;                    /* plan step this call satisfied, or -1 */
    int correct;                 /* answers: 1 if the answer is correct */
    int premature_answer;        /* answers: 1 if a plan step was unsatisfied when answering */
    char reason[TG_ERR_MSG_MAX]; /* one sentence */
};

/* judge_label_name — static name ("wrong_args"); "?" if out of range. Pure. */
const char *judge_label_name(enum judge_label l);

/* judge_label_parse — 0 with *out set if name is a label name, else TG_EINVAL. Pure. */
int judge_label_parse(const char *name, enum judge_label *out);

/* judge_label_is_call — 1 for the labels of tool calls (necessary..malformed). Pure. */
int judge_label_is_call(enum judge_label l);

/* judge_state_init — an empty state (no step satisfied, no call seen). */
void judge_state_init(struct judge_state *s);

/* judge_state_clear — forget everything; leaves *s as after judge_state_init. Accepts NULL. */
void judge_state_clear(struct judge_state *s);

/* judge_state_copy — *dst (uninitialised) becomes a copy of *src. Returns 0. */
int judge_state_copy(struct judge_state *dst, const struct judge_state *src);

/* judge_plan_complete — 1 if every plan step of t is satisfied in s (always for mental). */
int judge_plan_complete(const struct task *t, const struct judge_state *s);

/*
 * judge_call — judge a tool call on task t (borrowed) given state s, fill *v and advance s:
 * ncalls grows, a necessary call sets its step's bit, the key of a call that is
 * neither malformed nor premature is remembered. Returns 0; TG_ESTATE if s is finished or already
 * holds TG_MAX_STEPS_LIMIT calls (s and *v untouched); TG_ENOMEM (s untouched). Pure apart from
 * allocation.
 */
int judge_call(const struct task *t, struct judge_state *s, const struct judge_call *c,
               struct judge_verdict *v);

/*
 * judge_answer — judge a final answer (borrowed string) on task t: label correct/incorrect,
 * premature_answer flag when a plan step is unsatisfied. Marks s finished. Returns 0, or
 * TG_ESTATE if s is already finished.
 */
int judge_answer(const struct task *t, struct judge_state *s, const char *answer,
                 struct judge_verdict *v);

/* judge_step_limit — the episode reached max_steps without an answer: label step_limit;
 * marks s finished. Returns 0, or TG_ESTATE if s is already finished. */
int judge_step_limit(const struct task *t, struct judge_state *s, struct judge_verdict *v);

/*
 * judge_answer_correct — 1 if answer (borrowed) is correct for a (borrowed), else 0.
 * number/int: the LAST number written in the answer (thousands separators "96,422" allowed,
 * an optional sign, decimals and exponent) is compared, with the answer's tolerance for
 * number and exactly for int; an answer without a number is incorrect. string: both sides
 * lowercased, whitespace runs collapsed, trimmed, and trailing '.' dropped, then compared.
 * unknown: the answer holds no number and, as whole words, one of "unknown", "not known",
 * "don't know", "do not know", "not recorded", "no record", "not available",
 * "no information", "cannot be determined", "can't be determined", "cannot tell",
 * "can't tell" (case-insensitive). Pure.
 */
int judge_answer_correct(const struct task_answer *a, const char *answer);

/*
 * judge_call_key — the normalised form of a call (see the rules above), as a new string
 * "<tool>\x1f<normalised arguments>" in *out. result may be NULL. Returns 0 or TG_ENOMEM.
 * Pure.
 */
int judge_call_key(const char *tool, const json_t *args, const json_t *result, char **out);

/*
 * judge_query_has_terms — 1 if the token set of query (lowercase ASCII alnum runs cut to
 * SEARCH_TERM_MAX - 1 bytes, exactly like the search tool's tokeniser) contains every one of
 * terms[0..n). Pure.
 */
int judge_query_has_terms(const char *query, char *const *terms, size_t n);

/*
 * judge_step_matches — 1 if the call c (outcome and result borrowed) meets every criterion of
 * plan step st (tool name, query_terms, hit, shows, value, stdout), regardless of needs.
 * Pure.
 */
int judge_step_matches(const struct task_step *st, const struct judge_call *c);

#endif
