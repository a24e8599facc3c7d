/*
 * demo.h — the warm-up's data: the train split's expert trajectories. The task file (the
 * demonstration set, like any SFT dataset: prompts, expert calls, gold answers) is read
 * locally; what the tools show for each expert call is asked of the server once
 * (POST /v1/tools/{name}, stateless, many at once); each decision is then a view (the prompt
 * and the observations so far) with the expert's next call, or, after the last call, the gold
 * answer, as its target.
 *
 * Does: load and check the file (a file without expert calls is an error naming it), fetch
 * the observations, learn the output symbols (act.h) from the expert calls, list the
 * decisions the grammar can write (and count the others), and rebuild any decision's view
 * and target on demand (a view is a prefix of the task's whole trajectory, so nothing per
 * decision is stored).
 * Does not: train (sft.h), or choose tasks for RL.
 * Thread-safety: after demo_prepare, read-only: threads may rebuild decisions at once.
 */
#ifndef TG_DEMO_H
#define TG_DEMO_H

#include <jansson.h>

#include "base/tg.h"
#include "policy/act.h"
#include "policy/rollout.h"
#include "policy/view.h"
#include "server/task.h"

struct demo_task {
    const struct task *task; /* borrowed from the set */
    json_t *obs;             /* array: the tool's reply to each expert call (new) */
};

#define DEMO_ORDER_CALLS TG_VIEW_STEPS_MAX /* expert calls a decision can follow */
#define DEMO_STATES_MAX  16 /* decisions of one task at most (the expert's order first) */

struct demo_dec {
    int task; /* index into tasks */
    int step; /* calls before it; == the task's call count: the final answer */
    /* the expert calls made before it, in the order made (indices into the task's expert
     * calls): the expert's own order, or another order its plan allows (demo_index) */
    unsigned char order[DEMO_ORDER_CALLS];
};

struct demo_set {
    struct task_set *set; /* owned */
    char path[512];
    int max_steps;           /* the episodes' step limit (the views' "steps left") */
    struct demo_task *tasks; /* (ntasks) new */
    int ntasks;
    struct demo_dec *dec; /* (ndec) new: the decisions the grammar can write */
    int ndec;
    unsigned char *use;     /* (ntasks) new: 1 for the tasks in the expert-data budget
                               (demo_budget); NULL: every task */
    int nexperts;           /* tasks with an expert trajectory ("expert", maybe []) */
    int nuse;               /* of them, in the budget */
    int skipped;            /* decisions it cannot write */
    char skip_example[160]; /* why the first one was skipped */
};

/*
 * demo_load — read the task file at path (every task of it); max_steps: the step limit of the
 * episodes the policy will play (its views say how many steps are left). Returns 0; TG_EIO or
 * TG_EINVAL with *err naming the file and line (task_set_load), or naming the file when no task has
 * expert calls ("... has no expert calls: the warm-up needs the train split's expert
 * trajectories"). demo_free accepts a zeroed set.
 */
int demo_load(struct demo_set *d, const char *path, int max_steps, struct tg_error *err);
void demo_free(struct demo_set *d);

/*
 * demo_budget — the expert-data budget (docs/trainer.md): of the tasks with an expert
 * trajectory (an "expert" field; [] when the expert answers at once), keep `count` (when > 0)
 * or ceil(fraction x their number) (at least 1; fraction 1: every task, as without a budget),
 * drawn by a shuffle seeded from seed alone, so the same seed chooses the same tasks whatever
 * else the run does.
 * The others' expert calls are then invisible to demo_observe, demo_learn, demo_index and
 * demo_expert (no warm-up decision, no output symbol, no anchor). Returns 0, or TG_EINVAL
 * when count is above the number of tasks with an expert trajectory or fraction is not in (0, 1]
 * (the message names the value and that number).
 */
int demo_budget(struct demo_set *d, double fraction, int count, unsigned long long seed,
                struct tg_error *err);

/* demo_in_budget — 1 when task i's expert calls may be used. */
int demo_in_budget(const struct demo_set *d, int i);

/* demo_observe — the tools' replies to every expert call, from the servers of r. 0 or a
 * rollout error with *err. */
int demo_observe(struct demo_set *d, struct rollout *r, struct tg_error *err);

/* demo_learn — the output symbols learned from the expert calls into *voc (act_learner with
 * min_count). 0 or TG_ENOMEM. */
int demo_learn(const struct demo_set *d, int min_count, struct act_vocab *voc,
               struct tg_error *err);

/* demo_index — list the decisions voc can write (d->dec, d->ndec, d->skipped). buckets: the
 * network's piece table size (the sequence is built to find its targets). 0 or TG_ENOMEM;
 * TG_EINVAL when no decision can be written. */
int demo_index(struct demo_set *d, const struct act_vocab *voc, uint32_t buckets,
               struct tg_error *err);

/* demo_view — the view of decision i into *v. */
void demo_view(const struct demo_set *d, int i, struct view *v);

/* demo_target — decision i's target over s (the sequence of its view) into *t; 0 or
 * TG_ENOTFOUND. */
int demo_target(const struct demo_set *d, int i, const struct act_vocab *voc, const struct seq *s,
                struct act_targets *t, struct tg_error *err);

/* demo_expert — the expert calls of task id (borrowed), or NULL (none, or not in the
 * budget). */
const json_t *demo_expert(const struct demo_set *d, const char *id);

#endif
