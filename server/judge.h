/*
 * judge.h — the judge: labels every step of an episode from the task's plan and the
 * episode's history, by the information each call brings (docs/rewards.md, "Labels").
 *
 * What it does: given a task (borrowed), the judge state of an episode (the plan steps
 * satisfied so far and digests of what earlier calls brought) and a new action — a tool call
 * with its outcome, or an answer — it returns a label, a one-sentence reason and the plan step
 * the call satisfied, and advances the state. It also reads and checks answers.
 * What it does not do: call tools (the episode layer runs the tool and passes the outcome),
 * compute rewards (server/reward.c), I/O, or hold any global state. It is pure and
 * deterministic: the same task, state and action always give the same verdict, so replaying
 * the first k actions of an episode rebuilds its state exactly (fork).
 *
 * What a call shows. A plan step is *shown* by a call of its tool whose observation holds the
 * step's value, whatever the arguments' spelling: a search step (with hit/shows) by any search
 * whose results hold that hit with a snippet showing the value (the query's words do not
 * matter; a step with only query_terms, as abstain tasks have, by a query naming them); a
 * calculator step by a result within tolerance of its value (the answer's tolerance too when
 * the step computes the answer, so round(x, 2) counts); a run_code step by stdout whose
 * trimmed text equals the step's, or whose number, read like an answer, equals it. A call that
 * computes nothing — a calculator expression without an operation, or whose value is one of
 * its own literals (9634, 9634*1), a program printing a number written in its code — shows
 * nothing (an *echo*). A call *uses an unobserved fact* when a number written in it equals the
 * value of a search step not yet satisfied and does not occur in the prompt.
 *
 * Rules for a tool call, first match wins:
 *   1. malformed   — unknown tool, arguments that violate the tool's schema, or a tool-level
 *                    error (ok:false: syntax error, code that raised, timeout);
 *   2. unnecessary — the task has no plan steps (any call on a tool-free task);
 *   3. necessary   — it shows unsatisfied steps, at least one ready (its needs satisfied; search
 *                    steps are always ready), and uses no unobserved fact: every ready step it
 *                    shows becomes satisfied (one search may satisfy two);
 *   4. premature   — it shows unsatisfied steps but none is ready, or it uses an unobserved fact;
 *   5. redundant   — every plan step is already satisfied;
 *   6. unnecessary — the tool is in no plan step, or the call is an echo;
 *   7. redundant   — it shows only satisfied steps, or brings the same observation as an
 *                    earlier call (calculator: the same value; search: the same hits; run_code:
 *                    the same output), or every step of its tool is satisfied;
 *   8. partial     — calculator: its value is an intermediate of the expert's expression for a
 *                    ready unsatisfied step (48211*3.75 towards 48211*3.75-1290): progress;
 *   9. wrong_args  — some unsatisfied step of its tool is ready, but the call shows none;
 *  10. premature   — every unsatisfied step of its tool still waits on unsatisfied needs.
 * A disguised repeat (other words, a larger k, an extra newline) shows the same satisfied step
 * or brings the same observation, so it is redundant like the honest repeat.
 *
 * Answers (judge_answer): correct/incorrect by the answer's type and tolerance, read as
 * judge_answer_correct says; premature_answer when a plan step is unsatisfied; ungrounded when
 * a search step is unsatisfied: the answer rests on a fact the agent has not observed
 * (computation steps may be done mentally: an answer without them is premature but grounded).
 * step_limit ends an episode that reached max_steps without an answer.
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
    JUDGE_PARTIAL, /* an intermediate value of a needed calculation (the last call label) */
    JUDGE_CORRECT,
    JUDGE_INCORRECT,
    JUDGE_PREMATURE_ANSWER, /* a flag on answers (verdict.premature_answer); named for reports */
    JUDGE_UNGROUNDED,       /* a flag on answers (verdict.ungrounded); named for reports */
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

/* A remembered observation key (judge_call_key), kept as its length and two independent 64-bit
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
    unsigned satisfied; /* bit i: plan step i is satisfied */
    size_t ncalls;      /* tool calls judged */
    size_t nkeys;       /* keys used */
    /* keys of what non-malformed, non-premature calls brought (two per search call: its hits
     * and its query's terms) */
    struct judge_key keys[2 * TG_MAX_STEPS_LIMIT];
    int finished; /* an answer or step_limit was judged */
};

struct judge_verdict {
    enum judge_label label;      /* for answers: JUDGE_CORRECT or JUDGE_INCORRECT */
    int step;                    /* plan step this call satisfied, or -1 */
    int correct;                 /* answers: 1 if the answer is correct */
    int premature_answer;        /* answers: 1 if a plan step was unsatisfied when answering */
    int ungrounded;              /* answers: 1 if a search step was unsatisfied when answering */
    char reason[TG_ERR_MSG_MAX]; /* one sentence */
};

/* The answer format, told to agents once (the episode's create reply and the trajectory's
 * system message) and read first by judge_read_number. */
extern const char judge_answer_format[];

/* judge_label_name — static name ("wrong_args"); "?" if out of range. Pure. */
const char *judge_label_name(enum judge_label l);

/* judge_label_parse — 0 with *out set if name is a label name, else TG_EINVAL. Pure. */
int judge_label_parse(const char *name, enum judge_label *out);

/* judge_label_is_call — 1 for the labels of tool calls (necessary..partial). Pure. */
int judge_label_is_call(enum judge_label l);

/* judge_state_init — an empty state (no step satisfied, no call seen). */
void judge_state_init(struct judge_state *s);

/* judge_state_clear — forget everything; leaves *s as after judge_state_init. Accepts NULL. */
void judge_state_clear(struct judge_state *s);

/* judge_state_copy — *dst (uninitialised) becomes a copy of *src (the keys past nkeys, never
 * read, are not copied). Returns 0. */
int judge_state_copy(struct judge_state *dst, const struct judge_state *src);

/* The judge's memory kept compactly, for a holder that keeps many (an episode): judge_state's
 * fields, with room for the keys of `cap` key slots where judge_state always holds room for
 * TG_MAX_STEPS_LIMIT calls' (3 kB). A call brings at most JUDGE_KEYS_PER_CALL keys, so calls
 * calls need calls * JUDGE_KEYS_PER_CALL slots. The judge works on a judge_state: load one from
 * the memo, judge, save it back. */
#define JUDGE_KEYS_PER_CALL 2
struct judge_memo {
    unsigned satisfied;
    size_t ncalls, nkeys;
    int finished;
    size_t cap;             /* slots in keys */
    struct judge_key *keys; /* the holder's storage */
};

/* judge_memo_load — *s (uninitialised) becomes the state m holds. */
void judge_memo_load(const struct judge_memo *m, struct judge_state *s);

/* judge_memo_save — m holds *s from now on. TG_ERANGE (m unchanged) if s holds more keys than
 * m has slots for. */
int judge_memo_save(struct judge_memo *m, const struct judge_state *s);

/* judge_plan_complete — 1 if every plan step of t is satisfied in s (always for mental). */
int judge_plan_complete(const struct task *t, const struct judge_state *s);

/* judge_grounded — 1 if every search step of t is satisfied in s: an answer now rests only on
 * the prompt and what the agent observed. Pure. */
int judge_grounded(const struct task *t, const struct judge_state *s);

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
 * premature_answer flag when a plan step is unsatisfied, ungrounded flag when a search step is.
 * Marks s finished. Returns 0, or TG_ESTATE if s is already finished.
 */
int judge_answer(const struct task *t, struct judge_state *s, const char *answer,
                 struct judge_verdict *v);

/* judge_step_limit — the episode reached max_steps without an answer: label step_limit;
 * marks s finished. Returns 0, or TG_ESTATE if s is already finished. */
int judge_step_limit(const struct task *t, struct judge_state *s, struct judge_verdict *v);

/*
 * judge_read_number — the number an answer (or a program's output) states, read by the one
 * rule of docs/tasks.md ("Reading answers"):
 *   1. the answer form: after the last "Answer:" (also "answer is", "answer ="; any case), the
 *      first number;
 *   2. otherwise the first number outside parentheses and brackets; otherwise the first number.
 * A number is digits with an optional sign ('-', '+' or the Unicode minus U+2212, not glued to
 * a preceding letter or digit), thousands separators ("96,422"), decimals and an exponent; or
 * English number words for a whole number from zero to 999,999 ("sixteen", "twenty-one",
 * "one hundred and five", "minus seven"; a lone "one" counts only in the answer form or as the
 * whole text). Returns 1 with *out set, 0 if text (borrowed) states no number. Pure.
 */
int judge_read_number(const char *text, double *out);

/*
 * judge_answer_correct — 1 if answer (borrowed) is correct for a (borrowed), else 0.
 * number/int: the number judge_read_number reads, within the answer's tolerance for number and
 * exactly for int. string: the text after the answer form if present, else the whole answer;
 * both sides lowercased, whitespace runs collapsed, trimmed, trailing '.' dropped, compared.
 * unknown: the answer states no number and holds, as whole words, one of "unknown", "not
 * known", "don't know", "do not know", "not recorded", "no record", "not available",
 * "no information", "cannot be determined", "can't be determined", "cannot tell",
 * "can't tell" (case-insensitive). Pure.
 */
int judge_answer_correct(const struct task_answer *a, const char *answer);

/*
 * judge_call_key — the observation key of a call (what it brought), as a new string
 * "<tool>\x1f<key>" in *out: calculator — "=<value>" when it evaluated, else the expression
 * without whitespace; search — the sorted ids of its hits ("#" and the query's sorted terms
 * when it has no result); run_code — its stdout trimmed (and the exit code); other tools — the
 * arguments as JSON with sorted keys. result may be NULL. Returns 0 or TG_ENOMEM. Pure.
 */
int judge_call_key(const char *tool, const json_t *args, const json_t *result, char **out);

/*
 * judge_query_has_terms — 1 if the token set of query (lowercase ASCII alnum runs cut to
 * SEARCH_TERM_MAX - 1 bytes, exactly like the search tool's tokeniser) contains every one of
 * terms[0..n). Pure.
 */
int judge_query_has_terms(const char *query, char *const *terms, size_t n);

/*
 * judge_step_matches — 1 if the call c (outcome and result borrowed) shows plan step st of
 * task t as described above (echoes show nothing), regardless of needs. Pure.
 */
int judge_step_matches(const struct task *t, const struct task_step *st,
                       const struct judge_call *c);

#endif
