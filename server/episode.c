/*
 * episode.c — episodes (judged, rewarded steps; fork by replay; JSON views) and the
 * in-memory episode store (hash map, finished and unfinished lists, eviction, expiry).
 * See episode.h for the contract. It does not speak HTTP or run tools.
 */
#include "server/episode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/metrics.h"
#include "base/hash.h"

static const char system_prompt[] =
    "You solve tasks with tools: calculator, search and run_code. Call a tool only when the "
    "task needs it, with exact arguments, and answer as soon as you know the answer.";

/* ---- episodes ------------------------------------------------------------------------- */

static int random_id(char out[EPISODE_ID_LEN + 1]) {
    unsigned char b[EPISODE_ID_LEN / 2];
    static const char hex[] = "0123456789abcdef";
    size_t got = 0;

    while (got < sizeof(b)) {
        ssize_t n = getrandom(b + got, sizeof(b) - got, 0);

        if (n <= 0)
            return TG_EIO;
        got += (size_t)n;
    }
    for (size_t i = 0; i < sizeof(b); i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[EPISODE_ID_LEN] = '\0';
    return 0;
}

int episode_new(const struct task *t, const struct reward_config *rc, enum reward_mode mode,
                int max_steps, const char *tag, struct episode **out) {
    struct episode *ep;

    *out = NULL;
    if (!t || !rc || max_steps < 1 || max_steps > TG_MAX_STEPS_LIMIT ||
        (tag && strlen(tag) > TG_TAG_MAX) || mode < 0 || mode >= REWARD_MODE_COUNT)
        return TG_EINVAL;
    ep = calloc(1, sizeof(*ep));
    if (!ep)
        return TG_ENOMEM;
    if (random_id(ep->id) != 0) {
        free(ep);
        return TG_EIO;
    }
    ep->task = t;
    ep->rc = rc;
    ep->mode = mode;
    ep->max_steps = max_steps;
    snprintf(ep->tag, sizeof(ep->tag), "%s", tag ? tag : "");
    pthread_mutex_init(&ep->mu, NULL);
    judge_state_init(&ep->js);
    ep->outcome = REWARD_RUNNING;
    atomic_init(&ep->refs, 1);
    *out = ep;
    return 0;
}

static void step_clear(struct episode_step *st) {
    json_decref(st->action);
    json_decref(st->observation);
    free(st->reason);
    memset(st, 0, sizeof(*st));
}

static void episode_free(struct episode *ep) {
    for (size_t i = 0; i < ep->nsteps; i++)
        step_clear(&ep->steps[i]);
    free(ep->steps);
    judge_state_clear(&ep->js);
    pthread_mutex_destroy(&ep->mu);
    free(ep);
}

void episode_ref(struct episode *ep) {
    atomic_fetch_add_explicit(&ep->refs, 1, memory_order_relaxed);
}

void episode_put(struct episode *ep) {
    if (!ep)
        return;
    if (atomic_fetch_sub_explicit(&ep->refs, 1, memory_order_acq_rel) == 1)
        episode_free(ep);
}

int episode_step_begin(struct episode *ep) {
    int rc = 0;

    pthread_mutex_lock(&ep->mu);
    if (ep->outcome != REWARD_RUNNING)
        rc = TG_ESTATE;
    else if (ep->busy)
        rc = TG_EBUSY;
    else
        ep->busy = 1;
    pthread_mutex_unlock(&ep->mu);
    return rc;
}

void episode_step_abort(struct episode *ep) {
    pthread_mutex_lock(&ep->mu);
    ep->busy = 0;
    pthread_mutex_unlock(&ep->mu);
}

int episode_done(struct episode *ep) {
    int d;

    pthread_mutex_lock(&ep->mu);
    d = ep->outcome != REWARD_RUNNING;
    pthread_mutex_unlock(&ep->mu);
    return d;
}

const char *episode_outcome_name(enum reward_outcome o) {
    switch (o) {
    case REWARD_RUNNING:
        return "running";
    case REWARD_CORRECT:
        return "correct";
    case REWARD_INCORRECT:
        return "incorrect";
    case REWARD_STEP_LIMIT:
        return "step_limit";
    }
    return "?";
}

/* The episode as the reward functions see it. Caller holds ep->mu. */
static void reward_view(const struct episode *ep, struct reward_episode *re) {
    memset(re, 0, sizeof(*re));
    re->calls = ep->call_labels;
    re->ncalls = ep->ncalls;
    re->outcome = ep->outcome;
    re->premature_answer = ep->premature_answer;
    re->ref_calls = ep->task->nplan;
}

static double current_return(const struct episode *ep) {
    struct reward_episode re;

    reward_view(ep, &re);
    return reward_return(ep->rc, ep->mode, &re);
}

/* Make room for one more step. Caller holds ep->mu. */
static int steps_grow(struct episode *ep) {
    struct episode_step *p;
    size_t cap;

    if (ep->nsteps < ep->cap)
        return 0;
    cap = ep->cap ? ep->cap * 2 : 4;
    p = realloc(ep->steps, cap * sizeof(*p));
    if (!p)
        return TG_ENOMEM;
    ep->steps = p;
    ep->cap = cap;
    return 0;
}

static json_t *judgement_json(const struct episode_step *st) {
    json_t *j = json_pack("{s:s, s:s}", "label", judge_label_name(st->label), "reason",
                          st->reason ? st->reason : "");

    if (j && st->premature_answer)
        json_object_set_new(j, "premature_answer", json_true());
    return j;
}

/* The step response for the last committed step. Caller holds ep->mu. */
static json_t *step_reply(const struct episode *ep) {
    const struct episode_step *st = &ep->steps[ep->nsteps - 1];

    return json_pack("{s:I, s:O, s:o*, s:f, s:b, s:f}", "step", (json_int_t)ep->nsteps,
                     "observation", st->observation, "judgement", judgement_json(st), "reward",
                     st->reward, "done", ep->outcome != REWARD_RUNNING, "return", ep->ret);
}

static void count_label(const char *label) {
    char labels[64];

    snprintf(labels, sizeof(labels), "label=\"%s\"", label);
    metrics_inc("toolgym_judge_labels_total", labels, 1);
}

int episode_step_call(struct episode *ep, const char *name, const json_t *args,
                      enum judge_outcome outcome, const json_t *result, json_t *observation,
                      json_t **reply, int *finished) {
    struct judge_call c;
    struct judge_verdict v, lim;
    struct episode_step *st;
    json_t *action = NULL;
    int rc;

    *reply = NULL;
    *finished = 0;
    pthread_mutex_lock(&ep->mu);
    TG_ASSERT(ep->busy && ep->outcome == REWARD_RUNNING);
    rc = steps_grow(ep);
    if (rc)
        goto fail;
    action = json_pack("{s:{s:s, s:O}}", "tool_call", "name", name, "arguments",
                       args ? (json_t *)args : json_null());
    if (!action || !observation) {
        rc = TG_ENOMEM;
        goto fail;
    }
    memset(&c, 0, sizeof(c));
    c.tool = name;
    c.args = args;
    c.outcome = outcome;
    c.result = outcome == JUDGE_TOOL_OK ? result : NULL;
    rc = judge_call(ep->task, &ep->js, &c, &v);
    if (rc == TG_ESTATE)
        rc = TG_EINTERNAL; /* max_steps ≤ TG_MAX_STEPS_LIMIT and done is checked at begin */
    if (rc)
        goto fail;
    st = &ep->steps[ep->nsteps++];
    memset(st, 0, sizeof(*st));
    st->action = action;
    st->observation = observation;
    st->label = v.label;
    st->outcome = outcome;
    st->reward = reward_step(ep->rc, ep->mode, v.label);
    ep->call_labels[ep->ncalls++] = v.label;
    count_label(judge_label_name(v.label));
    if ((int)ep->nsteps >= ep->max_steps && judge_step_limit(ep->task, &ep->js, &lim) == 0) {
        struct reward_episode re;
        char buf[TG_ERR_MSG_MAX + 96];

        ep->outcome = REWARD_STEP_LIMIT;
        reward_view(ep, &re);
        st->reward += reward_final(ep->rc, ep->mode, &re);
        snprintf(buf, sizeof(buf),
                 "%s The episode reached max_steps (%d) without an answer: "
                 "step_limit.",
                 v.reason, ep->max_steps);
        st->reason = strdup(buf);
        count_label(judge_label_name(JUDGE_STEP_LIMIT));
        *finished = 1;
    } else {
        st->reason = strdup(v.reason);
    }
    ep->ret = current_return(ep);
    ep->busy = 0;
    *reply = step_reply(ep);
    pthread_mutex_unlock(&ep->mu);
    return *reply ? 0 : TG_ENOMEM; /* committed either way; only the reply is missing */
fail:
    ep->busy = 0;
    pthread_mutex_unlock(&ep->mu);
    json_decref(action);
    json_decref(observation);
    return rc;
}

int episode_step_answer(struct episode *ep, const char *answer, json_t **reply, int *finished) {
    struct judge_verdict v;
    struct episode_step *st;
    struct reward_episode re;
    json_t *action = NULL, *obs = NULL;
    int rc;

    *reply = NULL;
    *finished = 0;
    pthread_mutex_lock(&ep->mu);
    TG_ASSERT(ep->busy && ep->outcome == REWARD_RUNNING);
    rc = steps_grow(ep);
    if (rc)
        goto fail;
    action = json_pack("{s:s}", "answer", answer);
    if (!action) {
        rc = TG_ENOMEM;
        goto fail;
    }
    rc = judge_answer(ep->task, &ep->js, answer, &v);
    if (rc)
        goto fail;
    obs = json_pack("{s:b}", "correct", v.correct);
    st = &ep->steps[ep->nsteps++];
    memset(st, 0, sizeof(*st));
    st->action = action;
    st->observation = obs ? obs : json_object();
    st->label = v.label;
    st->is_answer = 1;
    st->premature_answer = v.premature_answer;
    st->reason = strdup(v.reason);
    ep->outcome = v.correct ? REWARD_CORRECT : REWARD_INCORRECT;
    ep->premature_answer = v.premature_answer;
    reward_view(ep, &re);
    st->reward = reward_final(ep->rc, ep->mode, &re);
    ep->ret = reward_return(ep->rc, ep->mode, &re);
    count_label(judge_label_name(v.label));
    if (v.premature_answer)
        count_label(judge_label_name(JUDGE_PREMATURE_ANSWER));
    ep->busy = 0;
    *finished = 1;
    *reply = step_reply(ep);
    pthread_mutex_unlock(&ep->mu);
    return *reply ? 0 : TG_ENOMEM;
fail:
    ep->busy = 0;
    pthread_mutex_unlock(&ep->mu);
    json_decref(action);
    return rc;
}

int episode_fork(struct episode *src, long long at, struct episode **out, struct tg_error *err) {
    struct episode *ep = NULL;
    int rc;

    *out = NULL;
    rc = episode_new(src->task, src->rc, src->mode, src->max_steps, src->tag, &ep);
    if (rc) {
        tg_error_set(err, "internal", "Cannot create the fork.");
        return rc;
    }
    pthread_mutex_lock(&src->mu);
    if (at < 0 || (size_t)at > src->nsteps ||
        (src->outcome != REWARD_RUNNING && (size_t)at == src->nsteps)) {
        tg_error_set(err, "invalid_request",
                     "\"at\" must be between 0 and %zu (the episode has %zu steps%s).",
                     src->outcome != REWARD_RUNNING && src->nsteps > 0 ? src->nsteps - 1
                                                                       : src->nsteps,
                     src->nsteps, src->outcome != REWARD_RUNNING ? " and is done" : "");
        rc = TG_EINVAL;
        goto fail;
    }
    ep->steps = calloc(at > 0 ? (size_t)at : 1, sizeof(*ep->steps));
    if (!ep->steps) {
        rc = TG_ENOMEM;
        goto fail;
    }
    ep->cap = at > 0 ? (size_t)at : 1;
    for (size_t i = 0; i < (size_t)at; i++) {
        const struct episode_step *s = &src->steps[i];
        struct episode_step *d = &ep->steps[i];
        const json_t *tc = json_object_get(s->action, "tool_call");
        struct judge_call c;
        struct judge_verdict v;

        TG_ASSERT(!s->is_answer);
        memset(&c, 0, sizeof(c));
        c.tool = json_string_value(json_object_get(tc, "name"));
        c.args = json_object_get(tc, "arguments");
        c.outcome = s->outcome;
        c.result = s->outcome == JUDGE_TOOL_OK ? json_object_get(s->observation, "result") : NULL;
        rc = judge_call(ep->task, &ep->js, &c, &v);
        if (rc)
            goto fail;
        TG_ASSERT(v.label == s->label); /* the judge is pure: replay gives the same labels */
        d->action = json_deep_copy(s->action);
        d->observation = json_deep_copy(s->observation);
        d->reason = s->reason ? strdup(s->reason) : NULL;
        d->label = s->label;
        d->outcome = s->outcome;
        d->reward = s->reward;
        ep->nsteps++;
        ep->call_labels[ep->ncalls++] = s->label;
        if (!d->action || !d->observation || (s->reason && !d->reason)) {
            rc = TG_ENOMEM;
            goto fail;
        }
    }
    pthread_mutex_unlock(&src->mu);
    ep->ret = current_return(ep);
    *out = ep;
    return 0;
fail:
    pthread_mutex_unlock(&src->mu);
    if (rc == TG_ENOMEM)
        tg_error_set(err, "internal", "Out of memory.");
    episode_put(ep);
    return rc;
}

/* ---- views ---------------------------------------------------------------------------- */

/* What an agent may see of the task: no family, no tags (see task_public_json). */
static json_t *task_view(const struct task *t) {
    return json_pack("{s:s, s:s}", "id", t->id, "prompt", t->prompt);
}

/* The task's tags as a new JSON array (empty when it has none); NULL on ENOMEM. */
static json_t *tags_json(const struct task *t) {
    json_t *a = json_array();

    for (size_t i = 0; a && i < t->ntags; i++) {
        if (json_array_append_new(a, json_string(t->tags[i]))) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

json_t *episode_json(struct episode *ep) {
    json_t *steps = json_array(), *j = NULL;

    if (!steps)
        return NULL;
    pthread_mutex_lock(&ep->mu);
    for (size_t i = 0; i < ep->nsteps; i++) {
        const struct episode_step *st = &ep->steps[i];

        if (json_array_append_new(steps, json_pack("{s:O, s:O, s:o*, s:f}", "action", st->action,
                                                   "observation", st->observation, "judgement",
                                                   judgement_json(st), "reward", st->reward)))
            goto out;
    }
    j = json_pack("{s:s, s:o*, s:O, s:b, s:f, s:s}", "episode_id", ep->id, "task",
                  task_view(ep->task), "steps", steps, "done", ep->outcome != REWARD_RUNNING,
                  "return", ep->ret, "outcome", episode_outcome_name(ep->outcome));
out:
    pthread_mutex_unlock(&ep->mu);
    json_decref(steps);
    return j;
}

/* Append the chat messages of one step. Caller holds ep->mu. */
static int step_messages(json_t *msgs, const struct episode_step *st, size_t i) {
    char id[32];
    json_t *tc;
    char *args;
    const char *content;
    int rc;

    if (st->is_answer)
        return json_array_append_new(
            msgs, json_pack("{s:s, s:s}", "role", "assistant", "content",
                            json_string_value(json_object_get(st->action, "answer"))));
    tc = json_object_get(st->action, "tool_call");
    snprintf(id, sizeof(id), "call_%zu", i + 1);
    args = json_dumps(json_object_get(tc, "arguments"), JSON_COMPACT | JSON_ENCODE_ANY);
    if (!args)
        return -1;
    rc = json_array_append_new(msgs, json_pack("{s:s, s:n, s:[{s:s, s:s, s:{s:O, s:s}}]}", "role",
                                               "assistant", "content", "tool_calls", "id", id,
                                               "type", "function", "function", "name",
                                               json_object_get(tc, "name"), "arguments", args));
    free(args);
    if (rc)
        return rc;
    content = json_string_value(json_object_get(st->observation, "content"));
    return json_array_append_new(msgs, json_pack("{s:s, s:s, s:s}", "role", "tool", "tool_call_id",
                                                 id, "content", content ? content : ""));
}

json_t *episode_trajectory_json(struct episode *ep) {
    json_t *msgs = json_array(), *steps = json_array(), *j = NULL;

    if (!msgs || !steps)
        goto out0;
    pthread_mutex_lock(&ep->mu);
    if (json_array_append_new(
            msgs, json_pack("{s:s, s:s}", "role", "system", "content", system_prompt)) ||
        json_array_append_new(msgs,
                              json_pack("{s:s, s:s}", "role", "user", "content", ep->task->prompt)))
        goto out;
    for (size_t i = 0; i < ep->nsteps; i++) {
        const struct episode_step *st = &ep->steps[i];
        json_t *sj =
            json_pack("{s:s, s:f}", "label", judge_label_name(st->label), "reward", st->reward);

        if (sj && st->premature_answer)
            json_object_set_new(sj, "premature_answer", json_true());
        if (step_messages(msgs, st, i) || json_array_append_new(steps, sj))
            goto out;
    }
    j = json_pack("{s:s, s:s, s:s, s:s, s:o*, s:s, s:s, s:O, s:O, s:f, s:b, s:s}", "episode_id",
                  ep->id, "task_id", ep->task->id, "split", ep->task->split, "family",
                  task_family_name(ep->task->family), "task_tags", tags_json(ep->task), "tag",
                  ep->tag, "reward_mode", reward_mode_name(ep->mode), "messages", msgs, "steps",
                  steps, "return", ep->ret, "correct", ep->outcome == REWARD_CORRECT, "outcome",
                  episode_outcome_name(ep->outcome));
out:
    pthread_mutex_unlock(&ep->mu);
out0:
    json_decref(msgs);
    json_decref(steps);
    return j;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void episode_summarize(struct episode *ep, struct episode_summary *s) {
    const char *called[TG_MAX_STEPS_LIMIT] = {0}, *plan[TG_TASK_PLAN_MAX] = {0};
    size_t nc = 0, np = 0, common = 0, nnec = 0;

    memset(s, 0, sizeof(*s));
    pthread_mutex_lock(&ep->mu);
    s->split = ep->task->split;
    s->tag = ep->tag;
    s->task = ep->task;
    for (size_t i = 0; i < ep->nsteps; i++) {
        const struct episode_step *st = &ep->steps[i];

        if (st->is_answer)
            continue;
        s->ncalls++;
        s->labels[st->label]++;
        if (st->label == JUDGE_NECESSARY)
            nnec++;
        if (nc < TG_MAX_STEPS_LIMIT) {
            const char *n = json_string_value(
                json_object_get(json_object_get(st->action, "tool_call"), "name"));
            called[nc++] = n ? n : "";
        }
    }
    if (ep->outcome == REWARD_CORRECT || ep->outcome == REWARD_INCORRECT)
        s->labels[ep->outcome == REWARD_CORRECT ? JUDGE_CORRECT : JUDGE_INCORRECT]++;
    if (ep->outcome == REWARD_STEP_LIMIT)
        s->labels[JUDGE_STEP_LIMIT]++;
    if (ep->premature_answer)
        s->labels[JUDGE_PREMATURE_ANSWER]++;
    s->correct = ep->outcome == REWARD_CORRECT;
    s->plan_match = nnec == s->ncalls && s->ncalls == ep->task->nplan;
    for (size_t i = 0; i < ep->task->nplan && np < TG_TASK_PLAN_MAX; i++)
        plan[np++] = ep->task->plan[i].tool;
    pthread_mutex_unlock(&ep->mu);
    /* multiset intersection of tool names: sort both, merge */
    qsort(called, nc, sizeof(called[0]), cmp_str);
    qsort(plan, np, sizeof(plan[0]), cmp_str);
    for (size_t i = 0, j = 0; i < nc && j < np;) {
        int c = strcmp(called[i], plan[j]);

        if (c == 0) {
            common++;
            i++;
            j++;
        } else if (c < 0) {
            i++;
        } else {
            j++;
        }
    }
    s->selection = (nc == 0 && np == 0) ? 1.0 : (double)common / (double)(nc > np ? nc : np);
}

/* ---- the store ------------------------------------------------------------------------ */

struct ep_list {
    struct episode *head, *tail;
};

struct episode_store {
    pthread_mutex_t mu;
    size_t max;
    long long idle_us;
    episode_clock_fn clock;
    struct episode **buckets;
    size_t nbuckets, count;
    struct ep_list active;   /* unfinished, least recently touched first */
    struct ep_list finished; /* finished, oldest finish first */
};

static void list_unlink(struct ep_list *l, struct episode *ep) {
    if (ep->prev)
        ep->prev->next = ep->next;
    else
        l->head = ep->next;
    if (ep->next)
        ep->next->prev = ep->prev;
    else
        l->tail = ep->prev;
    ep->prev = ep->next = NULL;
}

static void list_push(struct ep_list *l, struct episode *ep) {
    ep->prev = l->tail;
    ep->next = NULL;
    if (l->tail)
        l->tail->next = ep;
    else
        l->head = ep;
    l->tail = ep;
}

struct episode_store *episode_store_new(size_t max_episodes, int idle_sec, episode_clock_fn clock) {
    struct episode_store *s;
    size_t nb = 1024;

    if (max_episodes < 1 || idle_sec < 1)
        return NULL;
    while (nb < max_episodes && nb < (1u << 20))
        nb *= 2;
    s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->buckets = calloc(nb, sizeof(*s->buckets));
    if (!s->buckets) {
        free(s);
        return NULL;
    }
    s->nbuckets = nb;
    s->max = max_episodes;
    s->idle_us = (long long)idle_sec * 1000000LL;
    s->clock = clock ? clock : tg_now_us;
    pthread_mutex_init(&s->mu, NULL);
    return s;
}

/* Unlink ep from the map and its list and drop the store's reference. Caller holds s->mu. */
static void store_drop(struct episode_store *s, struct episode *ep) {
    struct episode **pp = &s->buckets[(size_t)hash_tg_str(ep->id) & (s->nbuckets - 1)];

    while (*pp && *pp != ep)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = ep->hnext;
    ep->hnext = NULL;
    list_unlink(ep->on_finished ? &s->finished : &s->active, ep);
    ep->in_store = 0;
    s->count--;
    metrics_set("toolgym_episodes_in_memory", "", (double)s->count);
    episode_put(ep);
}

/* Expire idle unfinished episodes. Caller holds s->mu. */
static size_t store_expire(struct episode_store *s, long long now) {
    size_t n = 0;

    while (s->active.head && now - s->active.head->touched_us >= s->idle_us) {
        store_drop(s, s->active.head);
        n++;
    }
    if (n)
        metrics_inc("toolgym_episodes_expired_total", "", (double)n);
    return n;
}

void episode_store_free(struct episode_store *s) {
    if (!s)
        return;
    while (s->active.head)
        store_drop(s, s->active.head);
    while (s->finished.head)
        store_drop(s, s->finished.head);
    pthread_mutex_destroy(&s->mu);
    free(s->buckets);
    free(s);
}

int episode_store_add(struct episode_store *s, struct episode *ep) {
    long long now = s->clock();
    size_t b;

    pthread_mutex_lock(&s->mu);
    store_expire(s, now);
    if (s->count >= s->max) {
        if (!s->finished.head) {
            pthread_mutex_unlock(&s->mu);
            metrics_inc("toolgym_episodes_refused_total", "", 1);
            return TG_EBUSY;
        }
        store_drop(s, s->finished.head);
        metrics_inc("toolgym_episodes_evicted_total", "", 1);
    }
    episode_ref(ep);
    b = (size_t)hash_tg_str(ep->id) & (s->nbuckets - 1);
    ep->hnext = s->buckets[b];
    s->buckets[b] = ep;
    ep->in_store = 1;
    ep->touched_us = now;
    ep->on_finished = 0;
    list_push(&s->active, ep);
    s->count++;
    metrics_set("toolgym_episodes_in_memory", "", (double)s->count);
    pthread_mutex_unlock(&s->mu);
    /* a fork of a finished prefix is still open; an episode added already done (never in
     * practice) is moved to the finished list by the caller through episode_store_finished */
    return 0;
}

static struct episode *store_find(struct episode_store *s, const char *id) {
    struct episode *ep = s->buckets[(size_t)hash_tg_str(id) & (s->nbuckets - 1)];

    while (ep && strcmp(ep->id, id) != 0)
        ep = ep->hnext;
    return ep;
}

struct episode *episode_store_get(struct episode_store *s, const char *id) {
    long long now = s->clock();
    struct episode *ep;

    pthread_mutex_lock(&s->mu);
    store_expire(s, now);
    ep = store_find(s, id);
    if (ep) {
        episode_ref(ep);
        ep->touched_us = now;
        if (!ep->on_finished) { /* keep the unfinished list in touch order */
            list_unlink(&s->active, ep);
            list_push(&s->active, ep);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return ep;
}

int episode_store_remove(struct episode_store *s, const char *id) {
    struct episode *ep;

    pthread_mutex_lock(&s->mu);
    ep = store_find(s, id);
    if (ep)
        store_drop(s, ep);
    pthread_mutex_unlock(&s->mu);
    return ep ? 0 : TG_ENOTFOUND;
}

void episode_store_finished(struct episode_store *s, struct episode *ep) {
    pthread_mutex_lock(&s->mu);
    if (ep->in_store && !ep->on_finished) {
        list_unlink(&s->active, ep);
        ep->on_finished = 1;
        list_push(&s->finished, ep);
    }
    pthread_mutex_unlock(&s->mu);
}

size_t episode_store_count(struct episode_store *s) {
    size_t n;

    pthread_mutex_lock(&s->mu);
    n = s->count;
    pthread_mutex_unlock(&s->mu);
    return n;
}

size_t episode_store_expire(struct episode_store *s) {
    long long now = s->clock();
    size_t n;

    pthread_mutex_lock(&s->mu);
    n = store_expire(s, now);
    pthread_mutex_unlock(&s->mu);
    return n;
}
