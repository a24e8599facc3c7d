/*
 * taskgen.h — the task generator (its command line is cmd/cmd_tasks.c).
 *
 * What it does: from a seed, the search corpus and the task grammar (the files of data/grammar,
 * see server/grammar.h and docs/tasks.md), deterministically builds the train, test and ood
 * splits of tasks of every family. For each task the generator picks what it computes (an
 * operation, entities and facts from the corpus, numbers), binds them to the grammar's
 * placeholders and slots, expands the family's root production into the prompt, and builds the
 * plan, the expert trajectory, the answer and the tags (the productions used, number formats,
 * operand order). Corpus entities are partitioned by a seeded hash: train tasks name train
 * entities only, test and ood tasks test entities only. test uses the train productions in
 * combinations (normalised frames) train never shows; ood tasks each use at least one held-out
 * production that train and test never use. Every task is VERIFIED before it is kept: its
 * expert calls run through the real tools (tools_call) and are judged (judge_call); the task is
 * kept only if every expert call is judged necessary, the plan ends complete, and the expert's
 * final answer is judged correct. The grammar is checked as a whole before generation: every
 * family's every operation must expand, under every binding of entities it can draw, into a
 * prompt holding what its plan needs.
 * What it does not do: serve tasks, parse command lines, keep state between calls, or write
 * anywhere but the files it is given.
 */
#ifndef TG_TASKGEN_H
#define TG_TASKGEN_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "base/tg.h"
#include "server/task.h"

#define TASKGEN_TRAIN_DEFAULT 3000
#define TASKGEN_TEST_DEFAULT  500
#define TASKGEN_OOD_DEFAULT   500
#define TASKGEN_MAX_TASKS     200000    /* per split */
#define TASKGEN_GRAMMAR_DIR   "grammar" /* in the data directory (base/datadir.h) */

enum taskgen_split { TASKGEN_TRAIN, TASKGEN_TEST, TASKGEN_OOD, TASKGEN_SPLITS };

struct taskgen_config {
    unsigned long long seed;
    const char *corpus_path;  /* NULL: the data directory's (base/datadir.h) */
    const char *grammar_dir;  /* NULL: grammar/ of the data directory */
    size_t n[TASKGEN_SPLITS]; /* tasks per split, 0..TASKGEN_MAX_TASKS, not all 0 */
};

/* Why a candidate task was dropped. */
enum taskgen_reject {
    TASKGEN_REJ_BUILD,   /* no fit: e.g. two entities with equal values to compare */
    TASKGEN_REJ_EXPAND,  /* the prompt was too long, too many tags, no distractor drawn */
    TASKGEN_REJ_HELDOUT, /* ood without a held-out production */
    TASKGEN_REJ_FRAME,   /* its frame belongs to the other of train and test */
    TASKGEN_REJ_REPEAT,  /* the same prompt is already in the split */
    TASKGEN_REJ_VERIFY,  /* the expert trajectory was not all necessary and correct */
    TASKGEN_REJ_COUNT
};

/* What generation did. */
struct taskgen_stats {
    size_t kept[TASK_FAMILY_COUNT];     /* tasks written per family (all splits) */
    size_t rejected[TASK_FAMILY_COUNT]; /* candidates dropped per family */
    size_t reasons[TASKGEN_REJ_COUNT];  /* candidates dropped per reason */
    size_t tool_calls;                  /* expert calls run for verification */
    size_t checks;                      /* (operation, binding) pairs of the grammar checked */
};

/* taskgen_split_name — "train", "test", "ood"; "?" out of range. */
const char *taskgen_split_name(enum taskgen_split s);

/*
 * taskgen_generate — build the splits. The tool registry must be initialised (tools_init) with
 * the same corpus as cfg->corpus_path; run_code must work for the algo family. Returns 0 with
 * out[s] a new array of task objects per split (ids "train-00001", "test-00001",
 * "ood-00001", ...; an empty array for a split of 0 tasks) and *st filled (st may be NULL), or
 * a tg_err with *err saying why (corpus or grammar unreadable or invalid — naming the file and
 * production —, a tool missing, too many rejected candidates). Deterministic: the same seed,
 * corpus and grammar give the same tasks, and slot i of a split does not depend on the split's
 * size. Not thread-safe (runs tool calls sequentially).
 */
int taskgen_generate(const struct taskgen_config *cfg, json_t *out[TASKGEN_SPLITS],
                     struct taskgen_stats *st, struct tg_error *err);

/*
 * taskgen_check_grammar — load and check the grammar in dir (NULL: the data directory's) against
 * the corpus at corpus_path (NULL: the data directory's), without generating. Returns 0, or a
 * tg_err with *err naming the file and production. *checks (may be NULL) receives the number of
 * (operation, binding) pairs checked.
 */
int taskgen_check_grammar(const char *dir, const char *corpus_path, size_t *checks,
                          struct tg_error *err);

/*
 * taskgen_heldout_tags — the tags only ood tasks can carry: those of the held-out
 * productions of the grammar in dir (NULL: the data directory's) and the generator's own held-out
 * number format. A new sorted JSON array, or NULL with *err.
 */
json_t *taskgen_heldout_tags(const char *dir, struct tg_error *err);

/*
 * taskgen_write — write tasks (borrowed array) to path as JSONL, one compact object a line
 * (keys in insertion order), via path.tmp and rename. Returns 0 or TG_EIO with *err filled.
 */
int taskgen_write(const json_t *tasks, const char *path, struct tg_error *err);

/*
 * taskgen_frame — the normalised frame of a prompt into out (n bytes): every corpus title
 * (titles: borrowed array of ntitles, any order) and every word equal to one of the extra
 * entity terms (borrowed, lowercase; e.g. the query terms of an abstain task's made-up name)
 * becomes {E}, runs of {E} separated by spaces merge, and every number — digits with optional
 * sign, thousands separators and decimals, or number words such as "seven" and
 * "forty-two" — becomes {N}. Pure.
 */
void taskgen_frame(const char *prompt, const char *const *titles, size_t ntitles,
                   char *const *terms, size_t nterms, char *out, size_t n);

/*
 * taskgen_stats_file — read the task file at path and print its families, its tags (with
 * counts) and its distinct normalised frames per family (taskgen_frame with the titles of the
 * corpus at corpus_path, NULL: the data directory's) on f. *summary (may be NULL) receives a new
 * {"tasks":N,"families":{f:n},"tags":{t:n},"frames":{f:n}}. Returns 0 or a tg_err with *err.
 */
int taskgen_stats_file(const char *path, const char *corpus_path, FILE *f, json_t **summary,
                       struct tg_error *err);

/*
 * taskgen_is_test_entity — 1 if the corpus document id belongs to the held-out entities
 * (test and ood splits) under seed, else 0. Pure.
 */
int taskgen_is_test_entity(unsigned long long seed, const char *doc_id);

#endif
