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

/* the view of task t after the expert calls order[0..n) (as many as fit and were observed) */
static void task_view(const struct demo_task *t, const unsigned char *order, int n, int max_steps,
                      struct view *v) {
    struct tg_error ignored; /* a prompt or an observation that does not fit is cut, as an
                                agent's view would be */

    view_init(v, t->task->prompt, max_steps, &ignored);
    for (int c = 0; c < n && t->obs; c++)
        view_push(v, json_array_get(t->task->expert, order[c]), json_array_get(t->obs, order[c]),
                  &ignored);
}

/* 1 when the expert calls of t are its plan's steps one for one (the same tools), so the plan's
 * needs say which calls may come in another order */
static int plan_orders(const struct demo_task *t) {
    int n = ncalls(t);

    if (n < 2 || n > DEMO_ORDER_CALLS || (int)t->task->nplan != n)
        return 0;
    for (int k = 0; k < n; k++) {
        const char *name =
            json_string_value(json_object_get(json_array_get(t->task->expert, (size_t)k), "name"));

        if (!name || !t->task->plan[k].tool || strcmp(name, t->task->plan[k].tool) != 0 ||
            (t->task->plan[k].needs >> n) != 0)
            return 0;
    }
    return 1;
}

/* the expert's own order */
static const unsigned char identity[DEMO_ORDER_CALLS] = {0, 1, 2,  3,  4,  5,  6,  7,
                                                         8, 9, 10, 11, 12, 13, 14, 15};

/* call k may come next after the calls order[0..n) */
static int call_ready(const struct demo_task *t, int free_order, const unsigned char *order, int n,
                      int k) {
    unsigned done = 0;

    for (int c = 0; c < n; c++)
        done |= 1u << order[c];
    if (done & (1u << k))
        return 0;
    if (!free_order)
        return k == n;
    return (t->task->plan[k].needs & ~done) == 0;
}

/* the target after the calls order[0..n) over s: the gold answer once every call is made;
 * otherwise writing any call that may come next (one alternative set each) */
static int target_of(const struct demo_task *t, const unsigned char *order, int n,
                     const struct act_vocab *voc, const struct seq *s, struct act_targets *out,
                     struct tg_error *err) {
    int nc = ncalls(t), free_order = plan_orders(t), nready = 0, next = -1, rc = TG_ENOTFOUND;
    struct act_targets *one;

    if (n >= nc)
        return act_target_answer(voc, s, &t->task->answer, out, err);
    for (int k = 0; k < nc; k++)
        if (call_ready(t, free_order, order, n, k))
            next = nready++ == 0 ? k : next;
    if (nready == 0) {
        tg_error_set(err, "not_writable", "no expert call can come next");
        return TG_ENOTFOUND;
    }
    if (nready == 1)
        return act_target_call(voc, s, json_array_get(t->task->expert, (size_t)next), out, err);
    one = malloc(sizeof(*one));
    if (!one) {
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
        return TG_ENOMEM;
    }
    out->nalt = 0;
    for (int k = 0; k < nc; k++) {
        if (!call_ready(t, free_order, order, n, k) ||
            act_target_call(voc, s, json_array_get(t->task->expert, (size_t)k), one, err) != 0)
            continue;
        for (int a = 0; a < one->nalt && out->nalt < ACT_ALT_MAX; a++)
            out->alt[out->nalt++] = one->alt[a];
        rc = 0;
    }
    free(one);
    return rc;
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
            task_view(&d->tasks[i], identity, c, d->max_steps, v);
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
    const struct demo_dec *dc = &d->dec[i];

    task_view(&d->tasks[dc->task], dc->order, dc->step, d->max_steps, v);
}

int demo_target(const struct demo_set *d, int i, const struct act_vocab *voc, const struct seq *s,
                struct act_targets *t, struct tg_error *err) {
    const struct demo_dec *dc = &d->dec[i];

    return target_of(&d->tasks[dc->task], dc->order, dc->step, voc, s, t, err);
}

struct index_ctx {
    struct demo_set *d;
    const struct act_vocab *voc;
    uint32_t buckets;
    struct view *v;
    struct act_targets *t;
    struct seq s;
    int cap;    /* room in d->dec */
    int states; /* of the current task */
};

/* the decision after the calls order[0..n) of task ti, then (depth first, the expert's own
 * order first) every order the plan allows from there, up to DEMO_STATES_MAX per task */
static int index_states(struct index_ctx *c, int ti, unsigned char *order, int n) {
    struct demo_set *d = c->d;
    const struct demo_task *t = &d->tasks[ti];
    int nc = ncalls(t), free_order = plan_orders(t), rc;
    struct tg_error why;

    if (c->states >= DEMO_STATES_MAX)
        return 0;
    c->states++;
    task_view(t, order, n, d->max_steps, c->v);
    seq_build(&c->s, c->v, c->voc, c->buckets, NULL); /* targets do not read pieces */
    rc = target_of(t, order, n, c->voc, &c->s, c->t, &why);
    if (rc == TG_ENOMEM)
        return rc;
    if (rc == 0) {
        if (d->ndec >= c->cap) {
            int cap = c->cap * 2 + 64;
            struct demo_dec *nd = realloc(d->dec, sizeof(*nd) * (size_t)cap);

            if (!nd)
                return TG_ENOMEM;
            d->dec = nd;
            c->cap = cap;
        }
        memset(&d->dec[d->ndec], 0, sizeof(d->dec[d->ndec]));
        d->dec[d->ndec].task = ti;
        d->dec[d->ndec].step = n;
        memcpy(d->dec[d->ndec].order, order, (size_t)n);
        d->ndec++;
    } else {
        if (d->skipped == 0)
            snprintf(d->skip_example, sizeof(d->skip_example), "%s: %s", t->task->id, why.message);
        d->skipped++;
    }
    for (int k = 0; k < nc && n < DEMO_ORDER_CALLS; k++) {
        if (!call_ready(t, free_order, order, n, k))
            continue;
        order[n] = (unsigned char)k;
        rc = index_states(c, ti, order, n + 1);
        if (rc)
            return rc;
    }
    return 0;
}

int demo_index(struct demo_set *d, const struct act_vocab *voc, uint32_t buckets,
               struct tg_error *err) {
    struct index_ctx c;
    int rc;

    memset(&c, 0, sizeof(c));
    c.d = d;
    c.voc = voc;
    c.buckets = buckets;
    c.v = malloc(sizeof(*c.v));
    c.t = malloc(sizeof(*c.t));
    free(d->dec);
    d->dec = NULL;
    rc = seq_alloc(&c.s, 0, 0, 0, err);
    d->ndec = 0;
    d->skipped = 0;
    d->skip_example[0] = '\0';
    for (int i = 0; rc == 0 && c.v && c.t && i < d->ntasks; i++) {
        unsigned char order[DEMO_ORDER_CALLS];

        if (!d->tasks[i].obs || !demo_in_budget(d, i))
            continue;
        c.states = 0;
        rc = index_states(&c, i, order, 0);
    }
    if (!c.v || !c.t || rc == TG_ENOMEM) {
        free(c.v);
        free(c.t);
        seq_free(&c.s);
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
        return TG_ENOMEM;
    }
    free(c.v);
    free(c.t);
    seq_free(&c.s);
    if (rc)
        return rc;
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
