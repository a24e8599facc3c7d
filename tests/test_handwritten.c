/*
 * test_handwritten.c — suite `handwritten`: the hand-written out-of-distribution evaluation set
 * data/tasks/handwritten.jsonl (docs/tasks.md, "Hand-written evaluation set").
 *
 * The file loads beside the shipped splits (ids unique across files), covers every family, and
 * every task carries descriptive tags; the oracle, played over HTTP against a real server on
 * port 0 with the real tools (BM25 search, calculator, sandboxed run_code), answers every task
 * correctly with every call judged `necessary` — each failing task is named — and each gold
 * answer is what the last tool observation shows (the calculator's value, the program's
 * stdout, the fact in the snippet), or for answer-in-the-prompt tasks a number the prompt
 * states, so a wrong gold answer cannot hide behind the oracle replaying it. The eager agent,
 * which answers from the prompt alone, fails most of the set.
 *
 * This suite reads the file only as the judge and the reference agents do; it does not print or
 * compare prompts, so running it tells a developer nothing about what the set asks.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/eval.h"
#include "server/judge.h"
#include "server/server.h"
#include "server/task.h"
#include "tg_test.h"

#define HAND_TASKS          "data/tasks/handwritten.jsonl"
#define HAND_SPLIT          "handwritten"
#define HAND_MIN_TASKS      200
#define HAND_MIN_PER_FAMILY 15

static struct task_set *load(const char *const *files, size_t n) {
    struct task_set *s = task_set_new();
    struct tg_error err;

    if (!s)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (task_set_load(s, files[i], &err) != 0) {
            fprintf(stderr, "handwritten: %s\n", err.message);
            task_set_free(s);
            return NULL;
        }
    }
    return s;
}

/* ---- the file ------------------------------------------------------------------------------ */

TG_TEST(handwritten, file_covers_every_family_with_tagged_tasks) {
    const char *files[] = {HAND_TASKS};
    struct task_set *s = load(files, 1);
    size_t fam[TASK_FAMILY_COUNT] = {0}, n;
    char want[32], tag[TG_TASK_TAG_MAX + 16];

    CU_ASSERT_FATAL(s != NULL);
    n = task_set_count(s);
    CU_ASSERT(n >= HAND_MIN_TASKS);
    CU_ASSERT_EQUAL(task_set_split_count(s, HAND_SPLIT), n);
    for (size_t i = 0; i < n; i++) {
        const struct task *t = task_set_at(s, i);

        /* ids hand-0001, hand-0002, … in file order */
        snprintf(want, sizeof(want), "hand-%04zu", i + 1);
        if (strcmp(t->id, want) != 0) {
            fprintf(stderr, "handwritten: line %zu has id %s, expected %s\n", i + 1, t->id, want);
            CU_FAIL("ids are not hand-0001… in order");
        }
        fam[t->family]++;
        /* its family tag and at least one tag saying what it tests */
        snprintf(tag, sizeof(tag), "family:%s", task_family_name(t->family));
        if (!task_has_tag(t, tag) || t->ntags < 2) {
            fprintf(stderr, "handwritten: %s lacks %s or a descriptive tag\n", t->id, tag);
            CU_FAIL("a task without its family tag and a descriptive tag");
        }
        /* abstain tasks, and only they, expect "unknown" */
        CU_ASSERT_EQUAL(t->family == TASK_ABSTAIN, t->answer.type == TASK_ANSWER_UNKNOWN);
        /* every tool-using task carries the expert trajectory the oracle plays */
        if (task_family_uses_tools(t->family))
            CU_ASSERT(t->expert != NULL && json_array_size(t->expert) == t->nplan);
    }
    for (int f = 0; f < TASK_FAMILY_COUNT; f++) {
        if (fam[f] < HAND_MIN_PER_FAMILY) {
            fprintf(stderr, "handwritten: family %s has %zu tasks\n",
                    task_family_name((enum task_family)f), fam[f]);
            CU_FAIL("a family with too few hand-written tasks");
        }
    }
    task_set_free(s);
}

TG_TEST(handwritten, loads_beside_the_shipped_splits) {
    /* ids are unique across files loaded together, so a server can serve all three */
    const char *files[] = {"data/tasks/train.jsonl", "data/tasks/test.jsonl", HAND_TASKS};
    struct task_set *s = load(files, 3);

    CU_ASSERT_FATAL(s != NULL);
    CU_ASSERT(task_set_split_count(s, HAND_SPLIT) >= HAND_MIN_TASKS);
    CU_ASSERT(task_set_split_count(s, "train") > 0);
    task_set_free(s);
}

/* ---- the oracle over the real tools -------------------------------------------------------- */

/* The oracle, wrapped so each finished episode is checked and a failing task is named. */
struct checked {
    struct eval_agent inner;
    int episodes, bad;
};

/* 1 if the prompt states number v as a whole number token (thousands separators allowed), or
 * as an English word for 0..20 ("four moons"). */
static int prompt_states(const char *prompt, double v) {
    static const char *const words[] = {
        "zero",     "one",     "two",     "three",     "four",     "five",     "six",
        "seven",    "eight",   "nine",    "ten",       "eleven",   "twelve",   "thirteen",
        "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"};
    char want[64], plain[TG_TASK_PROMPT_MAX + 1];
    size_t n = 0, len;

    if (v >= 0 && v <= 20 && v == (int)v) {
        const char *w = words[(int)v];
        size_t wl = strlen(w);

        for (const char *q = strstr(prompt, w); q; q = strstr(q + 1, w))
            if ((q == prompt || !isalpha((unsigned char)q[-1])) && !isalpha((unsigned char)q[wl]))
                return 1;
    }
    snprintf(want, sizeof(want), "%.15g", v);
    len = strlen(want);
    for (const char *p = prompt; *p && n + 1 < sizeof(plain); p++)
        if (!(*p == ',' && p > prompt && p[-1] >= '0' && p[-1] <= '9' && p[1] >= '0' &&
              p[1] <= '9'))
            plain[n++] = *p;
    plain[n] = '\0';
    for (const char *q = strstr(plain, want); q; q = strstr(q + 1, want)) {
        int before = q > plain && ((q[-1] >= '0' && q[-1] <= '9') || q[-1] == '.');
        int after = (q[len] >= '0' && q[len] <= '9') ||
                    (q[len] == '.' && q[len + 1] >= '0' && q[len + 1] <= '9');

        if (!before && !after)
            return 1;
    }
    return 0;
}

/* 1 if task t's gold answer is what the episode's tools showed (final: GET /v1/episodes/{id}):
 * the last tool call's calculator value or program stdout, the fact the last search step of
 * the plan shows, "unknown" for abstain; for tool-free tasks, a number the prompt states
 * (in_prompt) — mental arithmetic is checked by hand only. */
static int gold_is_shown(const struct task *t, const json_t *final) {
    const json_t *steps = json_object_get(final, "steps");
    size_t n = json_array_size(steps);
    const json_t *obs =
        n >= 2 ? json_object_get(json_array_get(steps, n - 2), "observation") : NULL;
    const json_t *res = json_object_get(obs, "result");
    const struct task_step *last = t->nplan ? &t->plan[t->nplan - 1] : NULL;
    char buf[64];

    if (t->answer.type == TASK_ANSWER_UNKNOWN)
        return judge_answer_correct(&t->answer, "unknown");
    if (!last)
        return t->family != TASK_IN_PROMPT || prompt_states(t->prompt, t->answer.value);
    if (strcmp(last->tool, "calculator") == 0 && json_is_number(json_object_get(res, "value"))) {
        snprintf(buf, sizeof(buf), "%.17g", json_number_value(json_object_get(res, "value")));
        return judge_answer_correct(&t->answer, buf);
    }
    if (strcmp(last->tool, "run_code") == 0 && json_is_string(json_object_get(res, "stdout")))
        return judge_answer_correct(&t->answer, json_string_value(json_object_get(res, "stdout")));
    if (strcmp(last->tool, "search") == 0 && last->shows)
        return judge_answer_correct(&t->answer, last->shows);
    return 0;
}

static json_t *checked_act(struct eval_agent *a, const struct eval_turn *t) {
    struct checked *c = a->state;

    return c->inner.act(&c->inner, t);
}

static void checked_end(struct eval_agent *a, const struct eval_turn *t, const json_t *final) {
    struct checked *c = a->state;
    const json_t *steps = json_object_get(final, "steps"), *st;
    const char *id = t->task ? t->task->id : "?";
    const char *outcome = json_string_value(json_object_get(final, "outcome"));
    size_t i, n = json_array_size(steps);

    c->episodes++;
    json_array_foreach(steps, i, st) {
        const json_t *j = json_object_get(st, "judgement");
        const char *label = json_string_value(json_object_get(j, "label"));
        const char *want = i + 1 < n ? "necessary" : "correct";

        if (!label || strcmp(label, want) != 0 ||
            json_is_true(json_object_get(j, "premature_answer"))) {
            fprintf(stderr, "handwritten: %s step %zu judged %s (%s), expected %s\n", id, i + 1,
                    label ? label : "?",
                    json_string_value(json_object_get(j, "reason"))
                        ? json_string_value(json_object_get(j, "reason"))
                        : "",
                    want);
            c->bad++;
        }
    }
    if (t->task && !gold_is_shown(t->task, final)) {
        fprintf(stderr, "handwritten: %s: the gold answer is not what the tools showed\n", id);
        c->bad++;
    }
    if (!outcome || strcmp(outcome, "correct") != 0) {
        fprintf(stderr, "handwritten: %s ended %s\n", id, outcome ? outcome : "?");
        c->bad++;
    }
}

TG_TEST(handwritten, oracle_answers_every_task_with_every_call_necessary) {
    const char *files[] = {HAND_TASKS};
    struct task_set *ts = load(files, 1);
    struct server_config cfg;
    struct server *srv;
    struct eval_options o;
    struct eval_agent a;
    struct checked c;
    struct tg_error err;
    json_t *rep = NULL, *by_tag, *v;
    char tag[TG_TAG_MAX + 1], fam[64];
    const char *key;

    CU_ASSERT_FATAL(ts != NULL);
    server_config_defaults(&cfg);
    cfg.quiet = 1;
    cfg.tasks = HAND_TASKS;
    cfg.unsafe_sandbox = 1; /* run_code works even where namespaces are unavailable */
    srv = test_server_start(&cfg);
    CU_ASSERT_FATAL(srv != NULL);

    memset(&o, 0, sizeof(o));
    o.server = test_server_url(srv);
    o.split = HAND_SPLIT;
    o.agent = "oracle";
    o.tasks = HAND_TASKS;
    o.tag = "oracle-handwritten";
    o.quiet = 1;
    o.feedback = 1; /* the final GET carries the labels this test checks */
    memset(&c, 0, sizeof(c));
    CU_ASSERT_FATAL(eval_agent_new(&o, &c.inner, &err) == 0);
    memset(&a, 0, sizeof(a));
    a.name = "oracle-checked";
    a.state = &c;
    a.act = checked_act;
    a.episode_end = checked_end;
    CU_ASSERT_FATAL(eval_run(&o, &a, &rep, tag, &err) == 0);
    CU_ASSERT_EQUAL((size_t)c.episodes, task_set_count(ts));
    CU_ASSERT_EQUAL(c.bad, 0);

    /* the server's report agrees: 100 %, every call necessary, every family perfect */
    CU_ASSERT_EQUAL((size_t)json_integer_value(json_object_get(rep, "episodes")),
                    task_set_count(ts));
    CU_ASSERT_DOUBLE_EQUAL(json_number_value(json_object_get(rep, "answer_accuracy")), 1.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(json_number_value(json_object_get(rep, "exact_plan_match")), 1.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(json_number_value(json_object_get(rep, "wasted_call_rate")), 0.0, 1e-12);
    by_tag = json_object_get(rep, "by_tag");
    for (int f = 0; f < TASK_FAMILY_COUNT; f++) {
        snprintf(fam, sizeof(fam), "family:%s", task_family_name((enum task_family)f));
        v = json_object_get(by_tag, fam);
        CU_ASSERT(v != NULL);
        if (v)
            CU_ASSERT_DOUBLE_EQUAL(json_number_value(json_object_get(v, "answer_accuracy")), 1.0,
                                   1e-12);
    }
    json_object_foreach(by_tag, key, v) {
        if (json_number_value(json_object_get(v, "exact_plan_match")) != 1.0) {
            fprintf(stderr, "handwritten: tag %s plan match below 1\n", key);
            CU_FAIL("a tag group where the oracle missed its plan");
        }
    }
    json_decref(rep);
    if (c.inner.destroy)
        c.inner.destroy(&c.inner);

    /* the eager agent, answering from the prompt alone, fails most of the set */
    o.agent = "eager";
    o.tag = "eager-handwritten";
    CU_ASSERT_FATAL(eval_agent_new(&o, &a, &err) == 0);
    CU_ASSERT_FATAL(eval_run(&o, &a, &rep, tag, &err) == 0);
    CU_ASSERT(json_number_value(json_object_get(rep, "answer_accuracy")) < 0.25);
    CU_ASSERT_EQUAL(json_number_value(json_object_get(rep, "calls_per_episode")), 0.0);
    json_decref(rep);
    if (a.destroy)
        a.destroy(&a);
    task_set_free(ts);
    test_server_stop(srv);
}
