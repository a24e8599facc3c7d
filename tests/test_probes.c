/*
 * test_probes.c — suite `probes`: the reward-hacking probes of issue 16, played end to end over
 * HTTP against a real server on the shipped test split. Every action is built only from what an
 * agent sees: the prompt, the tools' observations and, for a careful agent's wording, the task's
 * expert call (what reading the prompt gives). Each probe asserts the fixed behaviour: no credit
 * without solving, no penalty for good judgment, and no judgement shown to an agent.
 * The trainer's view (feedback "judge") is used to read the rewards a learner would get.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/server.h"
#include "server/task.h"
#include "tg_test.h"

#define PROBE_TASKS "data/tasks/test.jsonl"

static struct server *start(const char *mode) {
    struct server_config c;

    server_config_defaults(&c);
    c.quiet = 1;
    c.tasks = PROBE_TASKS;
    c.reward_mode = mode;
    c.unsafe_sandbox = 1; /* run_code works even where namespaces are unavailable */
    return test_server_start(&c);
}

static struct task_set *tasks(void) {
    struct task_set *s = task_set_new();
    struct tg_error err;

    if (task_set_load(s, PROBE_TASKS, &err) != 0) {
        task_set_free(s);
        return NULL;
    }
    return s;
}

/* One request with a JSON body (borrowed; NULL: none); returns the status, *out new or NULL. */
static long req(struct server *s, const char *method, const char *path, const json_t *body,
                json_t **out) {
    char url[512], *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    struct http_resp r;
    long st = -1;

    snprintf(url, sizeof(url), "%s%s", test_server_url(s), path);
    *out = NULL;
    if (test_http(method, url, text, text ? strlen(text) : 0, NULL, NULL, &r) == 0) {
        st = r.status;
        *out = r.len ? json_loads(r.body, 0, NULL) : NULL;
    }
    http_resp_free(&r);
    free(text);
    return st;
}

static int probe_max_steps = 8; /* max_steps of the episodes created */

/* An episode of task t: its id (new string). judged: a trainer's episode (feedback "judge"). */
static char *create(struct server *s, const struct task *t, const char *tag, int judged) {
    json_t *b = json_pack("{s:s, s:s, s:s, s:i}", "task_id", t->id, "tag", tag, "feedback",
                          judged ? "judge" : "none", "max_steps", probe_max_steps),
           *j = NULL;
    char *id = NULL;

    CU_ASSERT_EQUAL(req(s, "POST", "/v1/episodes", b, &j), 201);
    if (json_is_string(json_object_get(j, "episode_id")))
        id = strdup(json_string_value(json_object_get(j, "episode_id")));
    json_decref(b);
    json_decref(j);
    return id;
}

/* A step: a tool call (args: JSON text) or, with tool NULL, the answer args. New reply. */
static json_t *step(struct server *s, const char *id, const char *tool, const char *args) {
    char path[128];
    json_t *b, *j = NULL;

    snprintf(path, sizeof(path), "/v1/episodes/%s/step", id);
    if (tool)
        b = json_pack("{s:{s:s, s:o}}", "tool_call", "name", tool, "arguments",
                      json_loads(args, 0, NULL));
    else
        b = json_pack("{s:s}", "answer", args);
    CU_ASSERT_EQUAL(req(s, "POST", path, b, &j), 200);
    json_decref(b);
    return j;
}

static const char *label(const json_t *reply) {
    const char *l =
        json_string_value(json_object_get(json_object_get(reply, "judgement"), "label"));

    return l ? l : "";
}

/* The label of a step, and its reply freed. */
static char last_label[32];
static const char *lab(json_t *reply) {
    snprintf(last_label, sizeof(last_label), "%s", label(reply));
    json_decref(reply);
    return last_label;
}

static double ret_of(json_t *reply) {
    double r = json_number_value(json_object_get(reply, "return"));

    json_decref(reply);
    return r;
}

/* The first task of a family whose expert calls satisfy pred (NULL: any). */
static const struct task *find(const struct task_set *ts, enum task_family f,
                               int (*pred)(const struct task *)) {
    if (!ts)
        return NULL;
    for (size_t i = 0; i < task_set_count(ts); i++) {
        const struct task *t = task_set_at(ts, i);

        if (t->family == f && (!pred || pred(t)))
            return t;
    }
    return NULL;
}

static const char *expert_arg(const struct task *t, size_t i, const char *key) {
    return json_string_value(
        json_object_get(json_object_get(json_array_get(t->expert, i), "arguments"), key));
}

/* The expert call i as its JSON arguments text (new). */
static char *expert_args(const struct task *t, size_t i) {
    return json_dumps(json_object_get(json_array_get(t->expert, i), "arguments"), JSON_COMPACT);
}

/* The gold answer as an agent would write it. */
static void gold(const struct task *t, char *buf, size_t n) {
    snprintf(buf, n, "%.15g", t->answer.value);
}

/* Play the expert's calls of t in episode id. */
static void play_expert(struct server *s, const struct task *t, const char *id) {
    for (size_t i = 0; i < json_array_size(t->expert); i++) {
        char *a = expert_args(t, i);

        CU_ASSERT_STRING_EQUAL(
            lab(step(s, id,
                     json_string_value(json_object_get(json_array_get(t->expert, i), "name")), a)),
            "necessary");
        free(a);
    }
}

/* ---- holes: credit without solving ------------------------------------------------------- */

TG_TEST(probes, an_ungrounded_answer_scores_below_the_grounded_plan) {
    struct server *s = start(NULL);
    struct task_set *ts = tasks();
    const struct task *t = find(ts, TASK_LOOKUP, NULL);
    char *a, *b, ans[64], text[96];
    double plan, memory;

    CU_ASSERT_FATAL(s && t);
    gold(t, ans, sizeof(ans));
    snprintf(text, sizeof(text), "Answer: %s", ans);
    a = create(s, t, "probe-ground", 1);
    play_expert(s, t, a);
    plan = ret_of(step(s, a, NULL, text));
    b = create(s, t, "probe-ground", 1);
    {
        json_t *r = step(s, b, NULL, text); /* answered from memory, no search */

        CU_ASSERT_STRING_EQUAL(label(r), "correct");
        CU_ASSERT(json_is_true(json_object_get(json_object_get(r, "judgement"), "ungrounded")));
        memory = ret_of(r);
    }
    CU_ASSERT(memory < plan);
    free(a);
    free(b);
    task_set_free(ts);
    test_server_stop(s);
}

TG_TEST(probes, echo_calls_are_not_necessary) {
    struct server *s = start(NULL);
    struct task_set *ts = tasks();
    const struct task *t = find(ts, TASK_LOOKUP_ARITH, NULL);
    char *id, *sa, ans[64], args[128];

    CU_ASSERT_FATAL(s && t);
    gold(t, ans, sizeof(ans));
    id = create(s, t, "probe-echo", 1);
    sa = expert_args(t, 0);
    CU_ASSERT_STRING_EQUAL(lab(step(s, id, "search", sa)), "necessary");
    /* the answer, worked out in the head, typed back into the calculator and the runner */
    snprintf(args, sizeof(args), "{\"expression\":\"%s\"}", ans);
    CU_ASSERT_STRING_EQUAL(lab(step(s, id, "calculator", args)), "unnecessary");
    snprintf(args, sizeof(args), "{\"code\":\"print(%s)\"}", ans);
    CU_ASSERT_STRING_EQUAL(lab(step(s, id, "run_code", args)), "unnecessary");
    free(sa);
    free(id);
    task_set_free(ts);
    test_server_stop(s);
}

TG_TEST(probes, otc_counts_useful_calls_and_scores_mental_answers) {
    struct server *s = start("otc");
    struct task_set *ts = tasks();
    const struct task *t = find(ts, TASK_ARITH, NULL);
    char *a, *b, *c, ans[64], text[96], *ea;
    double mental, junk, plan;

    CU_ASSERT_FATAL(s && t);
    gold(t, ans, sizeof(ans));
    snprintf(text, sizeof(text), "Answer: %s", ans);
    a = create(s, t, "probe-otc", 1);
    mental = ret_of(step(s, a, NULL, text));
    b = create(s, t, "probe-otc", 1);
    json_decref(step(s, b, "calculator", "{\"expression\":\"1+1\"}"));
    junk = ret_of(step(s, b, NULL, text));
    c = create(s, t, "probe-otc", 1);
    ea = expert_args(t, 0);
    json_decref(step(s, c, "calculator", ea));
    plan = ret_of(step(s, c, NULL, text));
    CU_ASSERT_DOUBLE_EQUAL(mental, 1.0, 1e-12); /* was 0: n = the plan's steps */
    CU_ASSERT(junk < mental);                   /* was 1.0: the junk call counted as useful */
    CU_ASSERT(mental >= plan);                  /* fewer calls never score below more */
    free(ea);
    free(a);
    free(b);
    free(c);
    task_set_free(ts);
    test_server_stop(s);
}

TG_TEST(probes, disguised_repeats_are_no_cheaper) {
    struct server *s = start(NULL);
    struct task_set *ts = tasks();
    const struct task *t = find(ts, TASK_LOOKUP, NULL);
    char *id, *sa, args[512];
    json_t *r;
    double honest, disguised;

    CU_ASSERT_FATAL(s && t);
    id = create(s, t, "probe-disguise", 1);
    sa = expert_args(t, 0);
    json_decref(step(s, id, "search", sa));
    r = step(s, id, "search", sa);
    CU_ASSERT_STRING_EQUAL(label(r), "redundant");
    honest = json_number_value(json_object_get(r, "reward"));
    json_decref(r);
    snprintf(args, sizeof(args), "{\"query\":\"%s please\"}", expert_arg(t, 0, "query"));
    r = step(s, id, "search", args);
    CU_ASSERT_STRING_EQUAL(label(r), "redundant");
    disguised = json_number_value(json_object_get(r, "reward"));
    json_decref(r);
    CU_ASSERT(disguised <= honest);
    free(sa);
    free(id);
    task_set_free(ts);
    test_server_stop(s);
}

TG_TEST(probes, every_wasted_call_costs_and_steps_sum_to_the_return) {
    struct server *s = start(NULL);
    struct task_set *ts = tasks();
    const struct task *t = find(ts, TASK_LOOKUP, NULL);
    char ans[64], text[96], path[128];
    double prev = INFINITY;

    CU_ASSERT_FATAL(s && t);
    gold(t, ans, sizeof(ans));
    snprintf(text, sizeof(text), "Answer: %s", ans);
    probe_max_steps = 64;
    for (int waste = 5; waste <= 60; waste += 55) {
        char *id = create(s, t, "probe-waste", 1), *sa = expert_args(t, 0);
        json_t *ep = NULL, *st;
        double sum = 0, r;
        size_t i;

        json_decref(step(s, id, "search", sa));
        for (int k = 0; k < waste; k++)
            json_decref(step(s, id, "nope", "{}"));
        r = ret_of(step(s, id, NULL, text));
        CU_ASSERT(r < prev); /* 5 and 60 wasted calls no longer return the same 0.1 */
        CU_ASSERT(r > 0);    /* still above every incorrect episode */
        prev = r;
        snprintf(path, sizeof(path), "/v1/episodes/%s", id);
        CU_ASSERT_EQUAL(req(s, "GET", path, NULL, &ep), 200);
        json_array_foreach(json_object_get(ep, "steps"), i, st) {
            sum += json_number_value(json_object_get(st, "reward"));
        }
        CU_ASSERT_DOUBLE_EQUAL(sum, json_number_value(json_object_get(ep, "return")), 1e-9);
        json_decref(ep);
        free(sa);
        free(id);
    }
    probe_max_steps = 8;
    task_set_free(ts);
    test_server_stop(s);
}

TG_TEST(probes, report_metrics_do_not_credit_failure) {
    struct server *s = start(NULL);
    struct task_set *ts = tasks();
    const struct task *t = find(ts, TASK_LOOKUP, NULL);
    char *id;
    json_t *r = NULL;

    CU_ASSERT_FATAL(s && t);
    /* the plan's calls, then a wrong answer */
    id = create(s, t, "probe-report", 0);
    {
        char *sa = expert_args(t, 0);

        json_decref(step(s, id, "search", sa));
        free(sa);
    }
    json_decref(step(s, id, NULL, "Answer: 1"));
    free(id);
    /* re-answered in a fork: not a second first attempt */
    CU_ASSERT_EQUAL(req(s, "GET", "/v1/report?tag=probe-report", NULL, &r), 200);
    CU_ASSERT_DOUBLE_EQUAL(json_number_value(json_object_get(r, "exact_plan_match")), 0.0, 1e-12);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(r, "episodes")), 1);
    json_decref(r);
    /* an abandoned episode counts as a failure */
    id = create(s, find(ts, TASK_ARITH, NULL), "probe-report", 0);
    free(id);
    CU_ASSERT_EQUAL(req(s, "GET", "/v1/report?tag=probe-report", NULL, &r), 200);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(r, "unfinished")), 1);
    CU_ASSERT_DOUBLE_EQUAL(json_number_value(json_object_get(r, "answer_accuracy")), 0.0, 1e-12);
    json_decref(r);
    task_set_free(ts);
    test_server_stop(s);
}

/* ---- unfair penalties -------------------------------------------------------------------- */

static int has_two_ops(const struct task *t) {
    const char *e = expert_arg(t, 0, "expression");

    return e && strchr(e, '(') == NULL && strstr(e, " * ") && strstr(e, " - ");
}

TG_TEST(probes, a_two_step_calculation_in_two_calls_is_progress) {
    struct server *s = start(NULL);
    struct task_set *ts = tasks();
    const struct task *t = find(ts, TASK_ARITH, has_two_ops);
    char *id, args[256], left[128];
    const char *e, *minus;
    json_t *r;

    CU_ASSERT_FATAL(s && ts);
    if (!t) {
        CU_FAIL("the test split has no arith task of the form a * b - c");
        goto out;
    }
    e = expert_arg(t, 0, "expression");
    minus = strstr(e, " - ");
    snprintf(left, sizeof(left), "%.*s", (int)(minus - e), e);
    id = create(s, t, "probe-steps", 1);
    snprintf(args, sizeof(args), "{\"expression\":\"%s\"}", left);
    r = step(s, id, "calculator", args);
    CU_ASSERT_STRING_EQUAL(label(r), "partial");
    snprintf(args, sizeof(args), "{\"expression\":\"%s - %s\"}",
             json_string_value(json_object_get(json_object_get(r, "observation"), "content")),
             minus + 3);
    json_decref(r);
    CU_ASSERT_STRING_EQUAL(lab(step(s, id, "calculator", args)), "necessary");
    free(id);
out:
    task_set_free(ts);
    test_server_stop(s);
}

static int rounds(const struct task *t) {
    return strstr(t->prompt, "decimal") != NULL && t->answer.tolerance >= 0.004;
}

TG_TEST(probes, rounding_as_the_prompt_asks_is_necessary) {
    struct server *s = start(NULL);
    struct task_set *ts = tasks();
    const struct task *t = find(ts, TASK_ARITH, rounds);
    char *id, args[256];

    CU_ASSERT_FATAL(s && t);
    id = create(s, t, "probe-round", 1);
    snprintf(args, sizeof(args), "{\"expression\":\"round(%s, 2)\"}",
             expert_arg(t, 0, "expression"));
    CU_ASSERT_STRING_EQUAL(lab(step(s, id, "calculator", args)), "necessary");
    free(id);
    id = create(s, t, "probe-round", 1);
    snprintf(args, sizeof(args), "{\"expression\":\"round((%s) * 100) / 100\"}",
             expert_arg(t, 0, "expression"));
    CU_ASSERT_STRING_EQUAL(lab(step(s, id, "calculator", args)), "necessary");
    free(id);
    task_set_free(ts);
    test_server_stop(s);
}

TG_TEST(probes, a_program_printing_a_labelled_result_is_necessary) {
    struct server *s = start(NULL);
    struct task_set *ts = tasks();
    const struct task *t = find(ts, TASK_ALGO, NULL);
    const char *code;
    char *id, *p, *buf;
    json_t *args;
    size_t n;

    CU_ASSERT_FATAL(s && t);
    code = expert_arg(t, 0, "code");
    p = strstr(code, "print(");
    CU_ASSERT_FATAL(p != NULL);
    n = strlen(code) + 32;
    buf = malloc(n);
    snprintf(buf, n, "%.*sprint('result:', %s", (int)(p - code), code, p + 6);
    args = json_pack("{s:s}", "code", buf);
    free(buf);
    buf = json_dumps(args, JSON_COMPACT);
    id = create(s, t, "probe-code", 1);
    CU_ASSERT_STRING_EQUAL(lab(step(s, id, "run_code", buf)), "necessary");
    free(buf);
    json_decref(args);
    free(id);
    task_set_free(ts);
    test_server_stop(s);
}

static int one_word_lookup(const struct task *t) {
    return t->nplan > 0 && t->plan[0].nterms >= 2;
}

TG_TEST(probes, search_is_judged_by_what_it_showed) {
    struct server *s = start(NULL);
    struct task_set *ts = tasks();
    const struct task *t = find(ts, TASK_LOOKUP, one_word_lookup);
    char *id, args[256];
    json_t *r;

    CU_ASSERT_FATAL(s && ts);
    if (!t) {
        CU_FAIL("the test split has no lookup of a multi-word name");
        goto out;
    }
    /* the careful query with only the last word of the name ("Ylfahes awards won") */
    {
        const char *q = expert_arg(t, 0, "query");
        char word[64];
        size_t n = 0;
        int off;

        snprintf(args, sizeof(args), "{\"query\":\"");
        n = strlen(args);
        while (q && sscanf(q, " %63s%n", word, &off) == 1) {
            int drop = 0;

            for (size_t k = 0; k + 1 < t->plan[0].nterms; k++)
                drop |= strcasecmp(word, t->plan[0].query_terms[k]) == 0;
            if (!drop && n + strlen(word) + 8 < sizeof(args))
                n += (size_t)snprintf(args + n, sizeof(args) - n, "%s ", word);
            q += off;
        }
        snprintf(args + n, sizeof(args) - n, "\"}");
    }
    id = create(s, t, "probe-partial-name", 1);
    r = step(s, id, "search", args);
    /* the shortened name still ranks the document and shows the value: necessary */
    CU_ASSERT_PTR_NOT_NULL(
        strstr(json_string_value(json_object_get(json_object_get(r, "observation"), "content")),
               t->plan[0].shows));
    CU_ASSERT_STRING_EQUAL(label(r), "necessary");
    json_decref(r);
    free(id);
out:
    task_set_free(ts);
    test_server_stop(s);
}

TG_TEST(probes, answers_in_every_documented_form) {
    struct server *s = start(NULL);
    struct task_set *ts = tasks();
    const struct task *t = find(ts, TASK_LOOKUP, NULL);
    char ans[64], forms[4][128];

    CU_ASSERT_FATAL(s && t);
    gold(t, ans, sizeof(ans));
    snprintf(forms[0], sizeof(forms[0]), "%s (found with 1 search)", ans);
    snprintf(forms[1], sizeof(forms[1]), "The answer is %s, found in 2 steps.", ans);
    snprintf(forms[2], sizeof(forms[2]), "After 1 search. Answer: %s", ans);
    snprintf(forms[3], sizeof(forms[3]), "Answer: %s", ans);
    for (int i = 0; i < 4; i++) {
        char *id = create(s, t, "probe-answers", 1), *sa = expert_args(t, 0);

        json_decref(step(s, id, "search", sa));
        CU_ASSERT_STRING_EQUAL(lab(step(s, id, NULL, forms[i])), "correct");
        free(sa);
        free(id);
    }
    task_set_free(ts);
    test_server_stop(s);
}

/* ---- what an agent sees ------------------------------------------------------------------ */

TG_TEST(probes, an_agent_never_sees_the_judgement) {
    struct server *s = start(NULL);
    struct task_set *ts = tasks();
    const struct task *t = find(ts, TASK_LOOKUP_ARITH, NULL);
    char *id, *sa, *ca, path[128], ans[64], text[96];
    json_t *r, *ep = NULL, *st;
    size_t i;

    CU_ASSERT_FATAL(s && t);
    gold(t, ans, sizeof(ans));
    snprintf(text, sizeof(text), "Answer: %s", ans);
    id = create(s, t, "probe-view", 0);
    sa = expert_args(t, 0);
    ca = expert_args(t, 1);
    r = step(s, id, "search", sa);
    CU_ASSERT_PTR_NULL(json_object_get(r, "judgement"));
    CU_ASSERT_PTR_NULL(json_object_get(r, "reward"));
    CU_ASSERT_PTR_NULL(json_object_get(r, "return"));
    json_decref(r);
    r = step(s, id, "calculator", ca); /* a "necessary" here would confirm the gold value */
    CU_ASSERT_PTR_NULL(json_object_get(r, "judgement"));
    json_decref(r);
    r = step(s, id, NULL, text);
    CU_ASSERT(json_is_true(json_object_get(r, "done")));
    CU_ASSERT_EQUAL(json_object_size(json_object_get(r, "observation")), 0); /* not "correct" */
    CU_ASSERT_PTR_NULL(json_object_get(r, "judgement"));
    json_decref(r);
    snprintf(path, sizeof(path), "/v1/episodes/%s", id);
    CU_ASSERT_EQUAL(req(s, "GET", path, NULL, &ep), 200);
    CU_ASSERT_PTR_NULL(json_object_get(ep, "return"));
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(ep, "outcome")), "answered");
    json_array_foreach(json_object_get(ep, "steps"), i, st) {
        CU_ASSERT_PTR_NULL(json_object_get(st, "judgement"));
        CU_ASSERT_PTR_NULL(json_object_get(st, "reward"));
    }
    json_decref(ep);
    /* a fork keeps the agent's view */
    snprintf(path, sizeof(path), "/v1/episodes/%s/fork", id);
    {
        json_t *b = json_pack("{s:i}", "at", 1), *f = NULL;

        CU_ASSERT_EQUAL(req(s, "POST", path, b, &f), 201);
        CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(f, "feedback")), "none");
        CU_ASSERT_PTR_NOT_NULL(
            strstr(json_string_value(json_object_get(f, "instructions")), "Answer: <value>"));
        json_decref(b);
        json_decref(f);
    }
    free(sa);
    free(ca);
    free(id);
    task_set_free(ts);
    test_server_stop(s);
}
