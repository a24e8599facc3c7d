/*
 * report.c — running totals per (split, tag) and the report rendering of report.h.
 * It does not judge or hold episodes.
 */
#include "server/report.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "base/limits.h"

#define OVERFLOW_TAG "\x01overflow" /* cannot collide: tags are printable client strings */

struct totals {
    size_t episodes, finished, correct, grounded, calls, plan_match, arg_calls, tool_correct;
    double selection;
    size_t labels[JUDGE_LABEL_COUNT];
};

#define NATTEMPTS 3 /* enum report_attempt */

/* Slots of a group's index of its tags: a power of two, at least twice the most tags. */
#define TAG_SLOTS 1024
_Static_assert(TAG_SLOTS >= 2 * TG_REPORT_TASK_TAGS_MAX && (TAG_SLOTS & (TAG_SLOTS - 1)) == 0,
               "the tag index must stay at most half full");

/* Totals of the episodes whose task carries one tag (GET /v1/report?by=tag). */
struct tag_totals {
    char name[TG_TASK_TAG_MAX + 1];
    struct totals t;
};

struct group {
    char split[TG_TASK_ID_MAX + 1];
    char tag[TG_TAG_MAX + 1];
    struct totals t[NATTEMPTS]; /* by enum report_attempt */
    struct tag_totals *by_tag;  /* first attempts; n_by_tag of at most TG_REPORT_TASK_TAGS_MAX */
    size_t n_by_tag, cap_by_tag;
    uint16_t tag_slot[TAG_SLOTS]; /* open addressing over by_tag by name: index + 1, 0 empty */
    const struct task **tried;    /* open-addressing set of the tasks attempted (first attempts) */
    size_t ntried, cap_tried;     /* cap_tried a power of two, or 0 */
};

struct report {
    pthread_mutex_t mu;
    struct group *groups;
    size_t n, cap;
};

struct report *report_new(void) {
    struct report *r = calloc(1, sizeof(*r));

    if (r)
        pthread_mutex_init(&r->mu, NULL);
    return r;
}

void report_free(struct report *r) {
    if (!r)
        return;
    pthread_mutex_destroy(&r->mu);
    for (size_t i = 0; i < r->n; i++) {
        free(r->groups[i].by_tag);
        free(r->groups[i].tried);
    }
    free(r->groups);
    free(r);
}

/* Find or create the group. Caller holds r->mu. NULL on ENOMEM. */
static struct group *group_get(struct report *r, const char *split, const char *tag) {
    struct group *g;

    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->groups[i].split, split) == 0 && strcmp(r->groups[i].tag, tag) == 0)
            return &r->groups[i];
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;

        g = realloc(r->groups, cap * sizeof(*g));
        if (!g)
            return NULL;
        r->groups = g;
        r->cap = cap;
    }
    g = &r->groups[r->n++];
    memset(g, 0, sizeof(*g));
    snprintf(g->split, sizeof(g->split), "%s", split);
    snprintf(g->tag, sizeof(g->tag), "%s", tag);
    return g;
}

/* The outcome part of a finished episode's summary (calls come from report_step). */
static void totals_finish(struct totals *t, const struct episode_summary *s) {
    t->finished++;
    t->correct += s->correct != 0;
    t->grounded += s->grounded != 0;
    t->plan_match += s->plan_match != 0;
    t->tool_correct += s->correct && s->ncalls > 0;
    t->selection += s->selection;
    for (size_t i = 0; i < JUDGE_LABEL_COUNT; i++)
        if (!judge_label_is_call((enum judge_label)i))
            t->labels[i] += s->labels[i];
}

static void totals_step(struct totals *t, enum judge_label l, int on_args) {
    t->calls++;
    t->labels[l]++;
    t->arg_calls += on_args != 0;
}

static void totals_merge(struct totals *t, const struct totals *u) {
    t->episodes += u->episodes;
    t->finished += u->finished;
    t->correct += u->correct;
    t->grounded += u->grounded;
    t->calls += u->calls;
    t->plan_match += u->plan_match;
    t->arg_calls += u->arg_calls;
    t->tool_correct += u->tool_correct;
    t->selection += u->selection;
    for (size_t k = 0; k < JUDGE_LABEL_COUNT; k++)
        t->labels[k] += u->labels[k];
}

/* What to count under a task tag: a start, a step or a finish. */
struct tally {
    int kind; /* 0 start, 1 step, 2 finish */
    enum judge_label label;
    int on_args;
    const struct episode_summary *s;
};

static void tally_apply(struct totals *t, const struct tally *y) {
    if (y->kind == 0)
        t->episodes++;
    else if (y->kind == 1)
        totals_step(t, y->label, y->on_args);
    else
        totals_finish(t, y->s);
}

/* Count y under task tag `name` in g (a new entry unless the group already tracks
 * TG_REPORT_TASK_TAGS_MAX tags). Caller holds r->mu. 0 or TG_ENOMEM. */
static int tag_add(struct group *g, const char *name, const struct tally *y) {
    struct tag_totals *tt = NULL;
    size_t h = hash_fnv32_str(HASH_FNV32_BASIS, name) & (TAG_SLOTS - 1);

    /* probe the index: a tag seen before, or the empty slot where a new one goes */
    while (g->tag_slot[h] && strcmp(g->by_tag[g->tag_slot[h] - 1].name, name) != 0)
        h = (h + 1) & (TAG_SLOTS - 1);
    if (g->tag_slot[h])
        tt = &g->by_tag[g->tag_slot[h] - 1];
    if (!tt) {
        if (g->n_by_tag >= TG_REPORT_TASK_TAGS_MAX)
            return 0;
        if (g->n_by_tag == g->cap_by_tag) {
            size_t cap = g->cap_by_tag ? 2 * g->cap_by_tag : 32;
            struct tag_totals *nt = realloc(g->by_tag, cap * sizeof(*nt));

            if (!nt)
                return TG_ENOMEM;
            g->by_tag = nt;
            g->cap_by_tag = cap;
        }
        tt = &g->by_tag[g->n_by_tag++];
        memset(tt, 0, sizeof(*tt));
        snprintf(tt->name, sizeof(tt->name), "%s", name);
        g->tag_slot[h] = (uint16_t)g->n_by_tag;
    }
    tally_apply(&tt->t, y);
    return 0;
}

/* Count y under each tag of task t, and under "family:<family>" when the task carries no
 * family tag (task files without tags). Caller holds r->mu. */
static int tags_add(struct group *g, const struct task *t, const struct tally *y) {
    char fam[TG_TASK_TAG_MAX + 1];
    int rc = 0;

    if (!t)
        return 0;
    {
        const char *f = task_family_name(t->family);
        size_t n = strnlen(f, sizeof(fam) - 8);

        memcpy(fam, "family:", 7); /* "family:<name>" without a printf per call */
        memcpy(fam + 7, f, n);
        fam[7 + n] = '\0';
    }
    if (!task_has_tag(t, fam))
        rc = tag_add(g, fam, y);
    for (size_t i = 0; i < t->ntags && !rc; i++)
        rc = tag_add(g, t->tags[i], y);
    return rc;
}

/* The group of (split, tag), created if new (or the split's overflow group past the cap).
 * Caller holds r->mu. NULL on ENOMEM. */
static struct group *group_for(struct report *r, const char *split, const char *tag) {
    int known = 0;

    if (!tag)
        tag = "";
    for (size_t i = 0; i < r->n && !known; i++)
        known = strcmp(r->groups[i].split, split) == 0 && strcmp(r->groups[i].tag, tag) == 0;
    /* new groups past the cap go to the split's overflow group (allowed past the cap: splits
     * are bounded by the task set) */
    if (!known && r->n >= TG_REPORT_GROUPS_MAX)
        tag = OVERFLOW_TAG;
    return group_get(r, split, tag);
}

static size_t ptr_hash(const void *p) {
    uintptr_t x = (uintptr_t)p;

    x ^= x >> 17;
    x *= 0x9e3779b97f4a7c15ULL;
    return (size_t)(x ^ (x >> 29));
}

/* Add t to g's set of attempted tasks: 1 if it was new, 0 if already there, -1 on ENOMEM. */
static int tried_add(struct group *g, const struct task *t) {
    size_t mask, i;

    if (2 * (g->ntried + 1) > g->cap_tried) {
        size_t cap = g->cap_tried ? 2 * g->cap_tried : 64;
        const struct task **nt = calloc(cap, sizeof(*nt));

        if (!nt)
            return -1;
        for (size_t k = 0; k < g->cap_tried; k++) {
            if (!g->tried[k])
                continue;
            for (i = ptr_hash(g->tried[k]) & (cap - 1); nt[i]; i = (i + 1) & (cap - 1))
                ;
            nt[i] = g->tried[k];
        }
        free(g->tried);
        g->tried = nt;
        g->cap_tried = cap;
    }
    mask = g->cap_tried - 1;
    for (i = ptr_hash(t) & mask; g->tried[i]; i = (i + 1) & mask)
        if (g->tried[i] == t)
            return 0;
    g->tried[i] = t;
    g->ntried++;
    return 1;
}

int report_start(struct report *r, const struct task *t, const char *tag, int forked) {
    struct tally y = {0, JUDGE_NECESSARY, 0, NULL};
    struct group *g;
    int attempt = REPORT_FIRST;

    pthread_mutex_lock(&r->mu);
    g = group_for(r, t->split, tag);
    if (g) {
        if (forked)
            attempt = REPORT_FORK;
        else if (tried_add(g, t) == 0)
            attempt = REPORT_RETRY;
        tally_apply(&g->t[attempt], &y);
        if (attempt == REPORT_FIRST)
            tags_add(g, t, &y);
    }
    pthread_mutex_unlock(&r->mu);
    return attempt;
}

int report_start_fork(struct report *r, struct episode *fork) {
    struct tally y = {0, JUDGE_NECESSARY, 0, NULL};
    enum judge_label labels[TG_MAX_STEPS_LIMIT];
    int on_args[TG_MAX_STEPS_LIMIT];
    size_t n = 0;
    struct group *g;

    /* the prefix as the fork holds it: every step of a fork's prefix is a tool call (an answer
     * ends an episode, and a fork is open) */
    pthread_mutex_lock(&fork->mu);
    for (size_t i = 0; i < fork->nsteps && n < TG_MAX_STEPS_LIMIT; i++) {
        const struct episode_step *st = fork->steps[i];

        if (st->is_answer || !judge_label_is_call(st->label))
            continue;
        labels[n] = st->label;
        on_args[n++] = episode_step_judged_on_args(st);
    }
    pthread_mutex_unlock(&fork->mu);
    pthread_mutex_lock(&r->mu);
    g = group_for(r, fork->task->split, fork->tag);
    if (g) {
        tally_apply(&g->t[REPORT_FORK], &y);
        for (size_t i = 0; i < n; i++)
            totals_step(&g->t[REPORT_FORK], labels[i], on_args[i]);
    }
    pthread_mutex_unlock(&r->mu);
    return REPORT_FORK;
}

/* Count y for an episode of task t in group (split, tag) and attempt kind. */
static int report_tally(struct report *r, const struct task *t, const char *tag, int attempt,
                        const struct tally *y) {
    struct group *g;
    int rc = 0;

    if (attempt < 0 || attempt >= NATTEMPTS)
        attempt = REPORT_FIRST;
    pthread_mutex_lock(&r->mu);
    g = group_for(r, t->split, tag);
    if (g) {
        tally_apply(&g->t[attempt], y);
        if (attempt == REPORT_FIRST)
            rc = tags_add(g, t, y);
    }
    pthread_mutex_unlock(&r->mu);
    return g ? rc : TG_ENOMEM;
}

int report_step(struct report *r, const struct task *t, const char *tag, int attempt,
                enum judge_label l, int on_args) {
    struct tally y = {1, l, on_args, NULL};

    if (!judge_label_is_call(l))
        return 0;
    return report_tally(r, t, tag, attempt, &y);
}

int report_add(struct report *r, const struct episode_summary *s) {
    struct tally y = {2, JUDGE_NECESSARY, 0, s};

    return report_tally(r, s->task, s->tag, s->attempt, &y);
}

int report_add_whole(struct report *r, const struct episode_summary *s) {
    struct episode_summary w = *s;
    size_t on_args = s->arg_calls;
    int rc = 0;

    w.attempt = report_start(r, s->task, s->tag, s->attempt == REPORT_FORK);
    for (int l = 0; l < JUDGE_LABEL_COUNT && !rc; l++) {
        if (!judge_label_is_call((enum judge_label)l))
            continue;
        for (size_t k = 0; k < s->labels[l] && !rc; k++) {
            /* the calls judged on their arguments: necessary and wrong_args first, then the
             * malformed ones the summary counted */
            int a = l == JUDGE_NECESSARY || l == JUDGE_WRONG_ARGS ||
                    (l == JUDGE_MALFORMED &&
                     on_args > s->labels[JUDGE_NECESSARY] + s->labels[JUDGE_WRONG_ARGS] + k);

            rc = report_step(r, s->task, s->tag, w.attempt, (enum judge_label)l, a);
        }
    }
    if (!rc && s->finished)
        rc = report_add(r, &w);
    return rc;
}

static json_t *ratio(double num, double den) {
    return den > 0 ? json_real(num / den) : json_null();
}

/* The counts behind the ratios of totals t: {"episodes","finished","correct","grounded",
 * "plan_match","calls","arg_calls","tool_correct","selection","labels":{label: count}}, so
 * that reports of several servers can be added (report_merge). NULL on ENOMEM. */
static json_t *counts_json(const struct totals *t) {
    json_t *labels = json_object();

    for (size_t k = 0; labels && k < JUDGE_LABEL_COUNT; k++)
        if (json_object_set_new(labels, judge_label_name((enum judge_label)k),
                                json_integer((json_int_t)t->labels[k]))) {
            json_decref(labels);
            labels = NULL;
        }
    if (!labels)
        return NULL;
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:o}", "episodes",
                     (json_int_t)t->episodes, "finished", (json_int_t)t->finished, "correct",
                     (json_int_t)t->correct, "grounded", (json_int_t)t->grounded, "plan_match",
                     (json_int_t)t->plan_match, "calls", (json_int_t)t->calls, "arg_calls",
                     (json_int_t)t->arg_calls, "tool_correct", (json_int_t)t->tool_correct,
                     "selection", t->selection, "labels", labels);
}

/* The report object of totals t (borrowed); NULL on ENOMEM. See docs/episodes.md. */
static json_t *totals_json(const struct totals *t) {
    size_t wasted = t->calls - t->labels[JUDGE_NECESSARY];
    double eps = (double)t->episodes;
    json_t *labels = json_object();
    json_t *counts = counts_json(t);

    if (!labels || !counts) {
        json_decref(labels);
        json_decref(counts);
        return NULL;
    }
    for (size_t k = 0; k < JUDGE_LABEL_COUNT; k++) {
        double den = judge_label_is_call((enum judge_label)k) ? (double)t->calls : eps;

        json_object_set_new(labels, judge_label_name((enum judge_label)k),
                            json_real(den > 0 ? (double)t->labels[k] / den : 0.0));
    }
    return json_pack(
        "{s:o, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "counts", counts,
        "episodes", (json_int_t)t->episodes, "finished", (json_int_t)t->finished, "unfinished",
        (json_int_t)(t->episodes > t->finished ? t->episodes - t->finished : 0), "answer_accuracy",
        ratio((double)t->correct, eps), "grounded_accuracy", ratio((double)t->grounded, eps),
        "tool_selection_accuracy", ratio(t->selection, eps), "argument_accuracy",
        ratio((double)t->labels[JUDGE_NECESSARY], (double)t->arg_calls), "exact_plan_match",
        ratio((double)t->plan_match, eps), "calls_per_episode", ratio((double)t->calls, eps),
        "wasted_call_rate", ratio((double)wasted, (double)t->calls), "wasted_calls_per_episode",
        ratio((double)wasted, eps), "tool_productivity",
        ratio((double)t->tool_correct, (double)t->calls), "labels", labels);
}

static int cmp_tag_totals(const void *a, const void *b) {
    return strcmp(((const struct tag_totals *)a)->name, ((const struct tag_totals *)b)->name);
}

/* Merge the by-tag totals of the matching groups into a new object {tag: report}, keys in
 * sorted order. Caller holds r->mu. NULL on ENOMEM. */
static json_t *by_tag_json(struct report *r, const char *split, const char *tag) {
    struct tag_totals *all = NULL;
    size_t n = 0, cap = 0;
    json_t *out = NULL;

    for (size_t i = 0; i < r->n; i++) {
        const struct group *g = &r->groups[i];

        if ((split && strcmp(g->split, split) != 0) || (tag && strcmp(g->tag, tag) != 0))
            continue;
        for (size_t k = 0; k < g->n_by_tag; k++) {
            const struct tag_totals *src = &g->by_tag[k];
            struct tag_totals *dst = NULL;

            for (size_t j = 0; j < n && !dst; j++)
                if (strcmp(all[j].name, src->name) == 0)
                    dst = &all[j];
            if (!dst) {
                if (n == cap) {
                    size_t nc = cap ? 2 * cap : 64;
                    struct tag_totals *na = realloc(all, nc * sizeof(*na));

                    if (!na)
                        goto done;
                    all = na;
                    cap = nc;
                }
                dst = &all[n++];
                memset(dst, 0, sizeof(*dst));
                memcpy(dst->name, src->name, sizeof(dst->name));
            }
            totals_merge(&dst->t, &src->t);
        }
    }
    if (n)
        qsort(all, n, sizeof(*all), cmp_tag_totals);
    out = json_object();
    for (size_t j = 0; out && j < n; j++) {
        if (json_object_set_new(out, all[j].name, totals_json(&all[j].t))) {
            json_decref(out);
            out = NULL;
        }
    }
done:
    free(all);
    return out;
}

json_t *report_json(struct report *r, const char *split, const char *tag, int by_tag) {
    struct totals t[NATTEMPTS];
    json_t *j, *bt = NULL, *retries, *forks;

    memset(t, 0, sizeof(t));
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n; i++) {
        const struct group *g = &r->groups[i];

        if ((split && strcmp(g->split, split) != 0) || (tag && strcmp(g->tag, tag) != 0))
            continue;
        for (int a = 0; a < NATTEMPTS; a++)
            totals_merge(&t[a], &g->t[a]);
    }
    if (by_tag) {
        bt = by_tag_json(r, split, tag);
        if (!bt) {
            pthread_mutex_unlock(&r->mu);
            return NULL;
        }
    }
    pthread_mutex_unlock(&r->mu);
    j = totals_json(&t[REPORT_FIRST]);
    retries = totals_json(&t[REPORT_RETRY]);
    forks = totals_json(&t[REPORT_FORK]);
    if (!j) {
        json_decref(retries);
        json_decref(forks);
        json_decref(bt);
        return NULL;
    }
    if (json_object_set_new(j, "retries", retries) || json_object_set_new(j, "forks", forks) ||
        (bt && json_object_set_new(j, "by_tag", bt))) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* ---- merging reports ------------------------------------------------------------------- */

/* A count of a report's "counts" object: a non-negative integer, or the error naming it. */
static int count_get(const json_t *counts, const char *key, const char *where, size_t *out,
                     struct tg_error *err) {
    const json_t *v = json_object_get(counts, key);

    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        tg_error_set(err, "invalid_report", "%s: counts.%s is not a count.", where, key);
        return TG_EINVAL;
    }
    *out = (size_t)json_integer_value(v);
    return 0;
}

/* Add the counts of report object rep (its "counts") to t; `where` names it in errors. */
static int totals_add_json(struct totals *t, const json_t *rep, const char *where,
                           struct tg_error *err) {
    static const struct {
        const char *key;
        size_t offset;
    } fields[] = {
        {"episodes", offsetof(struct totals, episodes)},
        {"finished", offsetof(struct totals, finished)},
        {"correct", offsetof(struct totals, correct)},
        {"grounded", offsetof(struct totals, grounded)},
        {"plan_match", offsetof(struct totals, plan_match)},
        {"calls", offsetof(struct totals, calls)},
        {"arg_calls", offsetof(struct totals, arg_calls)},
        {"tool_correct", offsetof(struct totals, tool_correct)},
    };
    const json_t *counts = json_object_get(rep, "counts");
    const json_t *labels = json_object_get(counts, "labels");
    const json_t *sel = json_object_get(counts, "selection");
    struct totals u;
    int rc;

    if (!json_is_object(counts) || !json_is_object(labels) || !json_is_number(sel) ||
        json_number_value(sel) < 0) {
        tg_error_set(err, "invalid_report", "%s has no counts (a server older than this client?).",
                     where);
        return TG_EINVAL;
    }
    memset(&u, 0, sizeof(u));
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        rc =
            count_get(counts, fields[i].key, where, (size_t *)((char *)&u + fields[i].offset), err);
        if (rc)
            return rc;
    }
    u.selection = json_number_value(sel);
    for (size_t k = 0; k < JUDGE_LABEL_COUNT; k++) {
        rc = count_get(labels, judge_label_name((enum judge_label)k), where, &u.labels[k], err);
        if (rc)
            return rc;
    }
    totals_merge(t, &u);
    return 0;
}

json_t *report_merge(json_t *const *reports, size_t n, struct tg_error *err) {
    static const char *const parts[] = {"retries", "forks"};
    struct totals first, part[2];
    struct tag_totals *tags = NULL;
    size_t ntags = 0, cap = 0;
    int by_tag = n > 0, rc = 0;
    json_t *out = NULL, *bt = NULL;

    memset(&first, 0, sizeof(first));
    memset(part, 0, sizeof(part));
    for (size_t i = 0; i < n && !rc; i++) {
        const json_t *rb = json_object_get(reports[i], "by_tag");
        const char *name;
        json_t *v;

        rc = totals_add_json(&first, reports[i], "a report", err);
        for (int p = 0; p < 2 && !rc; p++)
            rc = totals_add_json(&part[p], json_object_get(reports[i], parts[p]), parts[p], err);
        by_tag &= json_is_object(rb);
        if (rc || !by_tag)
            continue;
        json_object_foreach((json_t *)rb, name, v) {
            struct tag_totals *dst = NULL;

            for (size_t j = 0; j < ntags && !dst; j++)
                if (strcmp(tags[j].name, name) == 0)
                    dst = &tags[j];
            if (!dst) {
                if (strlen(name) > TG_TASK_TAG_MAX) {
                    tg_error_set(err, "invalid_report", "by_tag: a tag longer than %d bytes.",
                                 TG_TASK_TAG_MAX);
                    rc = TG_EINVAL;
                    break;
                }
                if (ntags == cap) {
                    size_t nc = cap ? 2 * cap : 64;
                    struct tag_totals *na = realloc(tags, nc * sizeof(*na));

                    if (!na) {
                        rc = TG_ENOMEM;
                        break;
                    }
                    tags = na;
                    cap = nc;
                }
                dst = &tags[ntags++];
                memset(dst, 0, sizeof(*dst));
                memcpy(dst->name, name, strlen(name) + 1);
            }
            rc = totals_add_json(&dst->t, v, "by_tag", err);
            if (rc)
                break;
        }
    }
    if (!rc && by_tag) {
        if (ntags)
            qsort(tags, ntags, sizeof(*tags), cmp_tag_totals);
        bt = json_object();
        for (size_t j = 0; bt && j < ntags; j++)
            if (json_object_set_new(bt, tags[j].name, totals_json(&tags[j].t))) {
                json_decref(bt);
                bt = NULL;
            }
        if (!bt)
            rc = TG_ENOMEM;
    }
    if (!rc) {
        out = totals_json(&first);
        if (!out || json_object_set_new(out, "retries", totals_json(&part[0])) ||
            json_object_set_new(out, "forks", totals_json(&part[1])) ||
            (bt && json_object_set_new(out, "by_tag", bt))) {
            json_decref(out);
            out = NULL;
            rc = TG_ENOMEM;
        }
        bt = NULL;
    }
    if (rc == TG_ENOMEM)
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
    json_decref(bt);
    free(tags);
    return out;
}
