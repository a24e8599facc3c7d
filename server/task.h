/*
 * task.h — tasks: the schema of one task (prompt, gold answer, plan, expert trajectory), its
 * parser/validator, and the task set loaded from JSONL files with lookup by id and by split.
 *
 * What it does: parse and validate task objects strictly (unknown keys, wrong types, plan
 * needs out of range or cyclic, unknown families, untyped answers are all errors naming the
 * line and field), hold them in a read-only set, and check whole files for
 * `toolgym tasks check`. The schema is documented in docs/tasks.md.
 * What it does not do: judge calls or answers (server/judge.c), generate tasks
 * (server/taskgen.c), call tools, or know about episodes and HTTP.
 */
#ifndef TG_TASK_H
#define TG_TASK_H

#include <jansson.h>
#include <stdio.h>

#include "base/limits.h"
#include "base/tg.h"

/* The task families of DESIGN.md. Every task belongs to exactly one. */
enum task_family {
    TASK_ARITH,             /* hard arithmetic: calculator */
    TASK_MENTAL,            /* trivial or answerable from the prompt: no tool */
    TASK_LOOKUP,            /* search, then answer a fact */
    TASK_LOOKUP_ARITH,      /* search, then calculator on the found value */
    TASK_ALGO,              /* run_code */
    TASK_MULTI_LOOKUP,      /* two searches, then a calculator combining both facts */
    TASK_IN_PROMPT,         /* the needed fact is stated in the prompt: no tool */
    TASK_ABSTAIN,           /* one search shows the fact is not recorded: answer "unknown" */
    TASK_MENTAL_DISTRACTOR, /* small arithmetic among irrelevant numbers and names: no tool */
    TASK_FAMILY_COUNT
};

enum task_answer_type {
    TASK_ANSWER_NUMBER,  /* |x - value| <= max(tolerance, rel_tolerance * |value|) */
    TASK_ANSWER_INT,     /* x == value exactly (value is integral) */
    TASK_ANSWER_STRING,  /* case- and whitespace-insensitive equality with text */
    TASK_ANSWER_UNKNOWN, /* the fact cannot be known: an answer saying so, with no number */
};

struct task_answer {
    enum task_answer_type type;
    double value;         /* NUMBER, INT */
    double tolerance;     /* NUMBER: absolute tolerance (>= 0; default 1e-9) */
    double rel_tolerance; /* NUMBER: relative tolerance (>= 0; default 0) */
    char *text;           /* STRING: the gold text (new); NULL otherwise */
};

/*
 * One plan step: a tool call a careful agent needs. A call "matches" the step when every
 * criterion present holds (see judge.h for how each is checked):
 *   query_terms — the call's arguments.query, tokenised like search (lowercase ASCII alnum
 *                 runs), contains every term;
 *   hit         — the tool result's hits[] contains a hit with this id;
 *   shows       — the snippet of that hit (of any hit when hit is absent) shows this text as
 *                 a whole token ("48211" is not shown by "148211" or "48211.5");
 *   value       — the tool result's value is within tolerance of this number;
 *   stdout      — the tool result's stdout, trimmed of surrounding whitespace, equals it.
 * At least one criterion is present. needs is a bitmask of the plan steps (indices) that must
 * be satisfied before this one can be.
 */
struct task_step {
    char *tool;         /* new: "search", "calculator", "run_code", ... */
    char **query_terms; /* new array of nterms new lowercase tokens; NULL when nterms == 0 */
    size_t nterms;
    char *hit;     /* new or NULL */
    char *shows;   /* new or NULL: text the hit's snippet must show */
    int has_value; /* 1: value/tolerance present */
    double value;
    double tolerance;    /* absolute; default 1e-9 * max(1, |value|) */
    char *stdout_equals; /* new or NULL; stored trimmed */
    char *yields;        /* new or NULL: a name for what the step produces (documentation) */
    unsigned needs;      /* bit j: needs plan step j */
};

struct task {
    char *id;    /* new */
    char *split; /* new: "train", "test", or any name of a custom file */
    enum task_family family;
    char *prompt; /* new */
    struct task_answer answer;
    struct task_step *plan; /* new array of nplan steps (NULL when nplan == 0) */
    size_t nplan;
    json_t *expert; /* new reference: array of {"name","arguments"}, or NULL when absent */
    char **tags;    /* new array of ntags new "kind:value" strings (NULL when ntags == 0): the
                       productions the task was built from; never shown to agents */
    size_t ntags;
};

/* task_family_name — static name ("lookup_arith"); "?" for an out-of-range value. */
const char *task_family_name(enum task_family f);

/* task_family_parse — 0 with *out set if name is a family, else TG_EINVAL. Pure. */
int task_family_parse(const char *name, enum task_family *out);

/* task_family_uses_tools — 0 for the families whose plan is empty (mental, in_prompt,
 * mental_distractor), 1 for the others. Pure. */
int task_family_uses_tools(enum task_family f);

/*
 * task_tag_valid — 1 if s is a well-formed tag: "kind:value", 3..TG_TASK_TAG_MAX bytes, kind
 * a lowercase ASCII letter then letters, digits or '_', value lowercase letters, digits or
 * "_.+-" (starting with a letter or digit). Pure.
 */
int task_tag_valid(const char *s);

/* task_has_tag — 1 if t carries the tag (exact match). Pure. */
int task_has_tag(const struct task *t, const char *tag);

/*
 * task_from_json — validate obj (borrowed) against the task schema and fill *out (zeroed
 * first; free with task_clear). Returns 0, TG_EINVAL with *err {"invalid_task", "<field>:
 * <why>"}, or TG_ENOMEM. On failure *out is cleared. Pure; thread-safe.
 */
int task_from_json(const json_t *obj, struct task *out, struct tg_error *err);

/* task_clear — free everything *t owns and zero it. Accepts NULL. */
void task_clear(struct task *t);

/*
 * task_public_json — new {"id","split","prompt"}: what agents may see of a task (never the
 * family, tags, answer, plan or expert: a family such as "mental" would tell an agent that no
 * tool is needed). NULL on ENOMEM.
 */
json_t *task_public_json(const struct task *t);

/* ---- task sets ------------------------------------------------------------------------- */

struct task_set;

/* task_set_new — an empty set (new; free with task_set_free), or NULL on ENOMEM. */
struct task_set *task_set_new(void);

/* task_set_free — free the set and its tasks. Accepts NULL. */
void task_set_free(struct task_set *s);

/*
 * task_set_load — append every task of the JSONL file at path (borrowed) to s. Blank lines
 * are skipped; lines are at most TG_TASK_LINE_MAX bytes; the set holds at most TG_TASKS_MAX
 * tasks; ids must be unique across the set. All or nothing: on any error s is unchanged and
 * *err names the file and line ("tasks.jsonl:12: plan[1].needs: ..."). Returns 0, TG_EIO,
 * TG_EINVAL, TG_ERANGE or TG_ENOMEM. Not thread-safe (start-up only).
 */
int task_set_load(struct task_set *s, const char *path, struct tg_error *err);

/*
 * task_set_add — validate obj (borrowed) and append it to s. Returns 0, TG_EINVAL (invalid
 * or duplicate id), TG_ERANGE (set full) or TG_ENOMEM, with *err filled. Not thread-safe.
 */
int task_set_add(struct task_set *s, const json_t *obj, struct tg_error *err);

/* Read-only access; thread-safe once loading is over. Pointers are borrowed from s. */
size_t task_set_count(const struct task_set *s);
const struct task *task_set_at(const struct task_set *s, size_t i);         /* i < count */
const struct task *task_set_find(const struct task_set *s, const char *id); /* NULL if none */

/* Tasks of one split in file order: count, and the i-th (NULL if i is out of range). */
size_t task_set_split_count(const struct task_set *s, const char *split);
const struct task *task_set_split_at(const struct task_set *s, const char *split, size_t i);

/*
 * task_check_file — validate every line of the JSONL file at path (borrowed), writing one
 * line per error to report (borrowed; may be NULL) as "<path>:<line>: <field>: <why>",
 * including duplicate ids. Stores the number of tasks read in *ntasks and the number of
 * errors in *nerrors (either may be NULL). Returns 0 if the file was read (even with errors),
 * TG_EIO if it could not be opened or read, TG_ENOMEM. Not thread-safe with respect to
 * report.
 */
int task_check_file(const char *path, FILE *report, size_t *ntasks, size_t *nerrors,
                    struct tg_error *err);

#endif
