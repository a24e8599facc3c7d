/*
 * taskgen.h — the task generator (its command line is cmd/cmd_tasks.c).
 *
 * What it does: from a seed and the search corpus, deterministically builds train and test
 * splits of tasks of every family (arith, mental, lookup, lookup_arith, algo, multi_lookup)
 * with prompts from per-split template sets, facts from the corpus, and a plan plus an expert
 * trajectory for each. Corpus entities are partitioned by a seeded hash: a test task only
 * names test entities, a train task only train entities; train and test use disjoint
 * templates. Every task is VERIFIED before it is kept: its expert calls are run through the
 * real tools (tools_call) and judged (judge_call); the task is kept only if every expert call
 * is judged necessary, the plan ends complete, and the expert's final observation yields the
 * gold answer. algo answers are also computed in C and must equal the program's stdout.
 * What it does not do: serve tasks, keep state between calls, or write anywhere but the
 * output directory it is given.
 */
#ifndef TG_TASKGEN_H
#define TG_TASKGEN_H

#include <jansson.h>
#include <stddef.h>

#include "server/task.h"
#include "base/tg.h"

#define TASKGEN_TRAIN_DEFAULT 2000
#define TASKGEN_TEST_DEFAULT  500
#define TASKGEN_MAX_TASKS     200000 /* per split */

struct taskgen_config {
    unsigned long long seed;
    const char *corpus_path; /* NULL: the data directory's (base/datadir.h) */
    size_t ntrain, ntest;    /* tasks per split, 1..TASKGEN_MAX_TASKS */
};

/* What generation did. */
struct taskgen_stats {
    size_t kept[TASK_FAMILY_COUNT];     /* tasks written per family (both splits) */
    size_t rejected[TASK_FAMILY_COUNT]; /* candidates whose expert trajectory failed */
    size_t tool_calls;                  /* expert calls run for verification */
};

/*
 * taskgen_generate — build both splits. The tool registry must be initialised (tools_init)
 * with the same corpus as cfg->corpus_path; run_code must work for the algo family.
 * Returns 0 with *train and *test new arrays of task objects (in order, ids "train-00001",
 * "test-00001", ...) and *st filled (st may be NULL), or a tg_err with *err saying why
 * (corpus unreadable, a tool missing, too many rejected candidates). Deterministic: the same
 * seed and corpus give the same tasks. Not thread-safe (uses the shared tool registry, which
 * is itself thread-safe, but runs calls sequentially).
 */
int taskgen_generate(const struct taskgen_config *cfg, json_t **train, json_t **test,
                     struct taskgen_stats *st, struct tg_error *err);

/*
 * taskgen_write — write tasks (borrowed array) to path as JSONL, one compact object a line
 * (keys in insertion order), via path.tmp and rename. Returns 0 or TG_EIO with *err filled.
 */
int taskgen_write(const json_t *tasks, const char *path, struct tg_error *err);

/*
 * taskgen_template — the i-th prompt template of family f for the test split (test = 1) or
 * the train split (test = 0), or NULL past the last. Placeholders are written {NAME}; the
 * rest is literal. For tests and documentation. Static strings; thread-safe.
 */
const char *taskgen_template(enum task_family f, int test, size_t i);

/*
 * taskgen_is_test_entity — 1 if the corpus document id belongs to the test split's entities
 * under seed, else 0. Pure.
 */
int taskgen_is_test_entity(unsigned long long seed, const char *doc_id);

#endif
