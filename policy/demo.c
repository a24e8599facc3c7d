/*
 * demo.c — the warm-up's demonstrations. See demo.h.
 */
#include "policy/demo.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "policy/seq.h"

int demo_load(struct demo_set *d, const char *path, int max_steps, struct tg_error *err) {
    size_t n;
    int experts = 0, rc;

    memset(d, 0, sizeof(*d));
    snprintf(d->path, sizeof(d->path), "%s", path);
    d->max_steps = max_steps;
    d->set = task_set_new();
    if (!d->set) {
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
        return TG_ENOMEM;
    }
    rc = task_set_load(d->set, path, err);
    if (rc)
        return rc;
    n = task_set_count(d->set);
    d->tasks = calloc(n ? n : 1, sizeof(*d->tasks));
    if (!d->tasks) {
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
        return TG_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const struct task *t = task_set_at(d->set, i);

        d->tasks[i].task = t;
        experts += t->expert != NULL;
    }
    d->ntasks = (int)n;
    d->nexperts = d->nuse = experts;
    if (experts == 0) {
        tg_error_set(err, "no_experts",
                     "task file %s has no expert calls (no task has an \"expert\" field): the "
                     "warm-up needs the train split's expert trajectories",
                     path);
        return TG_EINVAL;
    }
    return 0;
}

void demo_free(struct demo_set *d) {
    if (!d)
        return;
    for (int i = 0; d->tasks && i < d->ntasks; i++)
        json_decref(d->tasks[i].obs);
    free(d->tasks);
    free(d->use);
    free(d->dec);
    task_set_free(d->set);
    memset(d, 0, sizeof(*d));
}

static int ncalls(const struct demo_task *t) {
    return t->task->expert ? (int)json_array_size(t->task->expert) : 0;
}

int demo_in_budget(const struct demo_set *d, int i) {
    return !d->use || d->use[i];
}

/* the calls of task i that may be used: none outside the budget */
static int ncalls_used(const struct demo_set *d, int i) {
    return demo_in_budget(d, i) ? ncalls(&d->tasks[i]) : 0;
}

int demo_budget(struct demo_set *d, double fraction, int count, unsigned long long seed,
                struct tg_error *err) {
    int n = d->nexperts, k, *idx;
    struct rng g;

    if (count > n) {
        tg_error_set(err, TG_CODE_CONFIG,
                     "expert budget %d is above the number of train tasks with expert "
                     "trajectories (%d in %s)",
                     count, n, d->path);
        return TG_EINVAL;
    }
    if (count <= 0 && !(fraction > 0 && fraction <= 1)) {
        tg_error_set(err, TG_CODE_CONFIG,
                     "expert budget %g is out of range: a fraction in (0, 1] or a count of "
                     "train tasks >= 1",
                     fraction);
        return TG_EINVAL;
    }
    free(d->use);
    d->use = NULL;
    d->nuse = n;
    if (count <= 0 && fraction >= 1)
        return 0; /* every task: as without a budget */
    k = count > 0 ? count : (int)ceil(fraction * n - 1e-9);
    if (k < 1)
        k = 1;
    d->use = calloc((size_t)(d->ntasks > 0 ? d->ntasks : 1), 1);
    idx = malloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
    if (!d->use || !idx) {
        free(idx);
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
        return TG_ENOMEM;
    }
    n = 0;
    for (int i = 0; i < d->ntasks; i++)
        if (d->tasks[i].task->expert)
            idx[n++] = i;
    /* a partial Fisher-Yates shuffle from the seed alone: the first k are the budget's */
    rng_seed(&g, rng_mix64(seed ^ 0xB5AD4ECEDA1CE2A9ULL));
    for (int i = 0; i < k; i++) {
        int j = i + (int)rng_below(&g, (uint64_t)(n - i)), t = idx[i];

        idx[i] = idx[j];
        idx[j] = t;
        d->use[idx[i]] = 1;
    }
    d->nuse = k;
    free(idx);
    return 0;
}

int demo_observe(struct demo_set *d, struct rollout *r, struct tg_error *err) {
    struct rollout_ep *eps;
    int n = 0, k = 0, rc;

    for (int i = 0; i < d->ntasks; i++)
        n += ncalls_used(d, i);
    eps = calloc(n ? (size_t)n : 1, sizeof(*eps));
    if (!eps) {
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
        return TG_ENOMEM;
    }
    for (int i = 0; i < d->ntasks; i++)
        for (int c = 0; c < ncalls_used(d, i); c++) {
            eps[k].tool_only = json_array_get(d->tasks[i].task->expert, (size_t)c);
            eps[k].server = -1;
            k++;
        }
    rc = rollout_run(r, eps, n, NULL, NULL, err);
    k = 0;
    for (int i = 0; rc == 0 && i < d->ntasks; i++) {
        json_t *a;

        if (!demo_in_budget(d, i)) /* no observations: no decisions (demo_index) */
            continue;
        a = json_array();

        if (!a) {
            tg_error_set(err, TG_CODE_NOMEM, "out of memory");
            rc = TG_ENOMEM;
            break;
        }
        for (int c = 0; c < ncalls_used(d, i); c++, k++)
            json_array_append(a, eps[k].tool_obs);
        json_decref(d->tasks[i].obs);
        d->tasks[i].obs = a;
    }
    for (int i = 0; i < n; i++)
        rollout_ep_clear(&eps[i]);
    free(eps);
    return rc;
}

/* the view of task ti after `step` expert calls (as many as fit and were observed) */
static void task_view(const struct demo_task *t, int step, int max_steps, struct view *v) {
    struct tg_error ignored; /* a prompt or an observation that does not fit is cut, as an
                                agent's view would be */

    view_init(v, t->task->prompt, max_steps, &ignored);
    for (int c = 0; c < step && t->obs; c++)
        view_push(v, json_array_get(t->task->expert, (size_t)c), json_array_get(t->obs, (size_t)c),
                  &ignored);
}

int demo_learn(const struct demo_set *d, int min_count, struct act_vocab *voc,
               struct tg_error *err) {
    struct act_learner *l = act_learner_new();
    struct view *v = malloc(sizeof(*v));
    int rc = 0;

    if (!l || !v) {
        act_learner_free(l);
        free(v);
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
        return TG_ENOMEM;
    }
    for (int i = 0; i < d->ntasks && rc == 0; i++)
        for (int c = 0; c < ncalls_used(d, i) && rc == 0; c++) {
            task_view(&d->tasks[i], c, d->max_steps, v);
            rc = act_learner_add(l, v, json_array_get(d->tasks[i].task->expert, (size_t)c));
        }
    if (rc == 0)
        act_learner_finish(l, min_count, voc);
    else
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
    act_learner_free(l);
    free(v);
    return rc;
}

void demo_view(const struct demo_set *d, int i, struct view *v) {
    task_view(&d->tasks[d->dec[i].task], d->dec[i].step, d->max_steps, v);
}

/* the target of (task ti, step) over s */
static int target_of(const struct demo_task *t, int step, const struct act_vocab *voc,
                     const struct seq *s, struct act_targets *out, struct tg_error *err) {
    if (step < ncalls(t))
        return act_target_call(voc, s, json_array_get(t->task->expert, (size_t)step), out, err);
    return act_target_answer(voc, s, &t->task->answer, out, err);
}

int demo_target(const struct demo_set *d, int i, const struct act_vocab *voc, const struct seq *s,
                struct act_targets *t, struct tg_error *err) {
    return target_of(&d->tasks[d->dec[i].task], d->dec[i].step, voc, s, t, err);
}

int demo_index(struct demo_set *d, const struct act_vocab *voc, uint32_t buckets,
               struct tg_error *err) {
    struct view *v = malloc(sizeof(*v));
    struct act_targets *t = malloc(sizeof(*t));
    struct seq s;
    int total = 0, rc;

    for (int i = 0; i < d->ntasks; i++)
        total += d->tasks[i].obs && demo_in_budget(d, i) ? ncalls(&d->tasks[i]) + 1 : 0;
    free(d->dec);
    d->dec = calloc(total ? (size_t)total : 1, sizeof(*d->dec));
    rc = seq_alloc(&s, 0, 0, 0, err);
    if (!v || !t || !d->dec || rc) {
        free(v);
        free(t);
        seq_free(&s);
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
        return TG_ENOMEM;
    }
    d->ndec = 0;
    d->skipped = 0;
    d->skip_example[0] = '\0';
    for (int i = 0; i < d->ntasks; i++) {
        if (!d->tasks[i].obs || !demo_in_budget(d, i))
            continue;
        for (int step = 0; step <= ncalls(&d->tasks[i]); step++) {
            struct tg_error why;

            task_view(&d->tasks[i], step, d->max_steps, v);
            seq_build(&s, v, voc, buckets);
            if (target_of(&d->tasks[i], step, voc, &s, t, &why) == 0) {
                d->dec[d->ndec].task = i;
                d->dec[d->ndec].step = step;
                d->ndec++;
            } else {
                if (d->skipped == 0)
                    snprintf(d->skip_example, sizeof(d->skip_example), "%s: %s",
                             d->tasks[i].task->id, why.message);
                d->skipped++;
            }
        }
    }
    free(v);
    free(t);
    seq_free(&s);
    if (d->ndec == 0) {
        tg_error_set(err, "no_demonstrations",
                     "task file %s: no expert decision can be written by the policy (%d "
                     "skipped; first: %s)",
                     d->path, d->skipped, d->skip_example);
        return TG_EINVAL;
    }
    return 0;
}

const json_t *demo_expert(const struct demo_set *d, const char *id) {
    const struct task *t = task_set_find(d->set, id);

    if (t && d->use)
        for (int i = 0; i < d->ntasks; i++)
            if (d->tasks[i].task == t)
                return d->use[i] ? t->expert : NULL;
    return t ? t->expert : NULL;
}
