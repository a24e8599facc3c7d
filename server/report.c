/*
 * report.c — running totals per (split, tag) and the report rendering of report.h.
 * It does not judge or hold episodes.
 */
#include "server/report.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"

#define OVERFLOW_TAG "\x01overflow" /* cannot collide: tags are printable client strings */

struct totals {
    size_t episodes, correct, calls, plan_match;
    double selection;
    size_t labels[JUDGE_LABEL_COUNT];
};

/* Totals of the episodes whose task carries one tag (GET /v1/report?by=tag). */
struct tag_totals {
    char name[TG_TASK_TAG_MAX + 1];
    struct totals t;
};

struct group {
    char split[TG_TASK_ID_MAX + 1];
    char tag[TG_TAG_MAX + 1];
    struct totals t;
    struct tag_totals *by_tag; /* n_by_tag of at most TG_REPORT_TASK_TAGS_MAX */
    size_t n_by_tag, cap_by_tag;
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
    for (size_t i = 0; i < r->n; i++)
        free(r->groups[i].by_tag);
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

static void totals_add(struct totals *t, const struct episode_summary *s) {
    t->episodes++;
    t->correct += s->correct != 0;
    t->calls += s->ncalls;
    t->plan_match += s->plan_match != 0;
    t->selection += s->selection;
    for (size_t i = 0; i < JUDGE_LABEL_COUNT; i++)
        t->labels[i] += s->labels[i];
}

static void totals_merge(struct totals *t, const struct totals *u) {
    t->episodes += u->episodes;
    t->correct += u->correct;
    t->calls += u->calls;
    t->plan_match += u->plan_match;
    t->selection += u->selection;
    for (size_t k = 0; k < JUDGE_LABEL_COUNT; k++)
        t->labels[k] += u->labels[k];
}

/* Count s under task tag `name` in g (a new entry unless the group already tracks
 * TG_REPORT_TASK_TAGS_MAX tags). Caller holds r->mu. 0 or TG_ENOMEM. */
static int tag_add(struct group *g, const char *name, const struct episode_summary *s) {
    struct tag_totals *tt = NULL;

    for (size_t i = 0; i < g->n_by_tag && !tt; i++)
        if (strcmp(g->by_tag[i].name, name) == 0)
            tt = &g->by_tag[i];
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
    }
    totals_add(&tt->t, s);
    return 0;
}

/* Count s under each tag of its task, and under "family:<family>" when the task carries no
 * family tag (task files without tags). Caller holds r->mu. */
static int tags_add(struct group *g, const struct episode_summary *s) {
    char fam[TG_TASK_TAG_MAX + 1];
    int rc = 0;

    if (!s->task)
        return 0;
    snprintf(fam, sizeof(fam), "family:%s", task_family_name(s->task->family));
    if (!task_has_tag(s->task, fam))
        rc = tag_add(g, fam, s);
    for (size_t i = 0; i < s->task->ntags && !rc; i++)
        rc = tag_add(g, s->task->tags[i], s);
    return rc;
}

int report_add(struct report *r, const struct episode_summary *s) {
    const char *tag = s->tag ? s->tag : "";
    struct group *g = NULL;
    int known = 0, rc = 0;

    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n && !known; i++)
        known = strcmp(r->groups[i].split, s->split) == 0 && strcmp(r->groups[i].tag, tag) == 0;
    /* new groups past the cap go to the split's overflow group (allowed past the cap: splits
     * are bounded by the task set) */
    if (!known && r->n >= TG_REPORT_GROUPS_MAX)
        tag = OVERFLOW_TAG;
    g = group_get(r, s->split, tag);
    if (g) {
        totals_add(&g->t, s);
        rc = tags_add(g, s);
    }
    pthread_mutex_unlock(&r->mu);
    return g ? rc : TG_ENOMEM;
}

static json_t *ratio(double num, double den) {
    return den > 0 ? json_real(num / den) : json_null();
}

/* The report object of totals t (borrowed); NULL on ENOMEM. */
static json_t *totals_json(const struct totals *t) {
    size_t wasted = t->calls - t->labels[JUDGE_NECESSARY];
    json_t *labels = json_object();

    if (!labels)
        return NULL;
    for (size_t k = 0; k < JUDGE_LABEL_COUNT; k++) {
        double den =
            judge_label_is_call((enum judge_label)k) ? (double)t->calls : (double)t->episodes;

        json_object_set_new(labels, judge_label_name((enum judge_label)k),
                            json_real(den > 0 ? (double)t->labels[k] / den : 0.0));
    }
    return json_pack(
        "{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "episodes", (json_int_t)t->episodes,
        "answer_accuracy", ratio((double)t->correct, (double)t->episodes),
        "tool_selection_accuracy", ratio(t->selection, (double)t->episodes), "argument_accuracy",
        ratio((double)t->labels[JUDGE_NECESSARY],
              (double)(t->labels[JUDGE_NECESSARY] + t->labels[JUDGE_WRONG_ARGS])),
        "exact_plan_match", ratio((double)t->plan_match, (double)t->episodes), "calls_per_episode",
        ratio((double)t->calls, (double)t->episodes), "wasted_call_rate",
        ratio((double)wasted, (double)t->calls), "wasted_calls_per_episode",
        ratio((double)wasted, (double)t->episodes), "tool_productivity",
        ratio((double)t->correct, (double)t->calls), "labels", labels);
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
    struct totals t;
    json_t *j, *bt = NULL;

    memset(&t, 0, sizeof(t));
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n; i++) {
        const struct group *g = &r->groups[i];

        if ((split && strcmp(g->split, split) != 0) || (tag && strcmp(g->tag, tag) != 0))
            continue;
        totals_merge(&t, &g->t);
    }
    if (by_tag) {
        bt = by_tag_json(r, split, tag);
        if (!bt) {
            pthread_mutex_unlock(&r->mu);
            return NULL;
        }
    }
    pthread_mutex_unlock(&r->mu);
    j = totals_json(&t);
    if (j && bt && json_object_set_new(j, "by_tag", bt)) {
        json_decref(j);
        return NULL;
    }
    if (!j)
        json_decref(bt);
    return j;
}
