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

struct group {
    char split[TG_TASK_ID_MAX + 1];
    char tag[TG_TAG_MAX + 1];
    struct totals t;
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

int report_add(struct report *r, const struct episode_summary *s) {
    const char *tag = s->tag ? s->tag : "";
    struct group *g = NULL;
    int known = 0;

    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n && !known; i++)
        known = strcmp(r->groups[i].split, s->split) == 0 && strcmp(r->groups[i].tag, tag) == 0;
    /* new groups past the cap go to the split's overflow group (allowed past the cap: splits
     * are bounded by the task set) */
    if (!known && r->n >= TG_REPORT_GROUPS_MAX)
        tag = OVERFLOW_TAG;
    g = group_get(r, s->split, tag);
    if (g) {
        g->t.episodes++;
        g->t.correct += s->correct != 0;
        g->t.calls += s->ncalls;
        g->t.plan_match += s->plan_match != 0;
        g->t.selection += s->selection;
        for (size_t i = 0; i < JUDGE_LABEL_COUNT; i++)
            g->t.labels[i] += s->labels[i];
    }
    pthread_mutex_unlock(&r->mu);
    return g ? 0 : TG_ENOMEM;
}

static json_t *ratio(double num, double den) {
    return den > 0 ? json_real(num / den) : json_null();
}

json_t *report_json(struct report *r, const char *split, const char *tag) {
    struct totals t;
    json_t *labels, *j;

    memset(&t, 0, sizeof(t));
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n; i++) {
        const struct group *g = &r->groups[i];

        if ((split && strcmp(g->split, split) != 0) || (tag && strcmp(g->tag, tag) != 0))
            continue;
        t.episodes += g->t.episodes;
        t.correct += g->t.correct;
        t.calls += g->t.calls;
        t.plan_match += g->t.plan_match;
        t.selection += g->t.selection;
        for (size_t k = 0; k < JUDGE_LABEL_COUNT; k++)
            t.labels[k] += g->t.labels[k];
    }
    pthread_mutex_unlock(&r->mu);
    labels = json_object();
    if (!labels)
        return NULL;
    for (size_t k = 0; k < JUDGE_LABEL_COUNT; k++) {
        double den =
            judge_label_is_call((enum judge_label)k) ? (double)t.calls : (double)t.episodes;

        json_object_set_new(labels, judge_label_name((enum judge_label)k),
                            json_real(den > 0 ? (double)t.labels[k] / den : 0.0));
    }
    j = json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "episodes", (json_int_t)t.episodes,
                  "answer_accuracy", ratio((double)t.correct, (double)t.episodes),
                  "tool_selection_accuracy", ratio(t.selection, (double)t.episodes),
                  "argument_accuracy",
                  ratio((double)t.labels[JUDGE_NECESSARY],
                        (double)(t.labels[JUDGE_NECESSARY] + t.labels[JUDGE_WRONG_ARGS])),
                  "exact_plan_match", ratio((double)t.plan_match, (double)t.episodes),
                  "calls_per_episode", ratio((double)t.calls, (double)t.episodes),
                  "tool_productivity", ratio((double)t.correct, (double)t.calls), "labels", labels);
    return j;
}
