/*
 * test_candidates.c — the agent's view of an episode (prompt parsing, observations) and the
 * candidate actions: every tool and answers at every step, flags the features rely on, and
 * coverage on the shipped task files: at every expert step some candidate satisfies the plan
 * step, and after the expert calls some answer candidate is correct — on train AND test
 * phrasings. (Coverage is what makes learning possible; choosing is the policy's job.)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/candidates.h"
#include "policy/features.h"
#include "server/judge.h"
#include "server/task.h"
#include "tools/tools.h"
#include "tg_test.h"

static int count_kind(const struct cand_list *l, int kind) {
    int n = 0;

    for (int i = 0; i < l->n; i++)
        n += l->c[i].kind == kind;
    return n;
}

static const struct cand *find_text(const struct cand_list *l, int kind, const char *text) {
    for (int i = 0; i < l->n; i++)
        if (l->c[i].kind == kind && strcmp(l->c[i].text, text) == 0)
            return &l->c[i];
    return NULL;
}

TG_TEST(candidates, parses_prompts) {
    struct cand_state *s = malloc(sizeof(*s));

    CU_ASSERT_FATAL(s != NULL);
    CU_ASSERT_EQUAL(cand_state_init(s, "What is 6 times the year founded of Mivor?", 8, NULL), 0);
    CU_ASSERT_EQUAL(s->nent, 1);
    CU_ASSERT_STRING_EQUAL(s->ent[0], "Mivor");
    CU_ASSERT_EQUAL(s->nnum, 1);
    CU_ASSERT_EQUAL(s->num[0].v, 6);
    CU_ASSERT(s->opclass[OP_MUL] > 0);
    CU_ASSERT_EQUAL(s->nword, 2); /* year, founded */
    CU_ASSERT_EQUAL(s->expr[0], '\0');

    /* test phrasing: the entity opens the prompt, two-word entity */
    CU_ASSERT_EQUAL(cand_state_init(s, "Petra Umseltamyl: what is its year born?", 8, NULL), 0);
    CU_ASSERT_EQUAL(s->nent, 1);
    CU_ASSERT_STRING_EQUAL(s->ent[0], "Petra Umseltamyl");
    CU_ASSERT_EQUAL(s->ent_first[0], 1);

    CU_ASSERT_EQUAL(cand_state_init(s, "Calculate 20014 * 99.43 + 398.", 8, NULL), 0);
    CU_ASSERT_STRING_EQUAL(s->expr, "20014 * 99.43 + 398");
    CU_ASSERT_EQUAL(s->nnum, 3);
    CU_ASSERT_EQUAL(s->nent, 0);

    CU_ASSERT_EQUAL(cand_state_init(s, "Evaluate sqrt(48211) * 3.5 exactly.", 8, NULL), 0);
    CU_ASSERT_STRING_EQUAL(s->expr, "sqrt(48211) * 3.5");

    CU_ASSERT_EQUAL(cand_state_init(s, "Give the combined weight of Gorkel and Mivor.", 8, NULL),
                    0);
    CU_ASSERT_EQUAL(s->nent, 2);
    CU_ASSERT(s->opclass[OP_ADD] > 0);
    free(s);
}

TG_TEST(candidates, every_kind_at_every_step) {
    struct cand_state *s = malloc(sizeof(*s));
    struct cand_list *l = malloc(sizeof(*l));
    json_t *resp;
    const struct cand *c;

    CU_ASSERT_FATAL(s && l);
    CU_ASSERT_EQUAL(cand_state_init(s, "What is 6 times the year founded of Mivor?", 8, NULL), 0);
    cand_generate(s, l);
    CU_ASSERT(count_kind(l, CAND_SEARCH) >= 3);
    CU_ASSERT(count_kind(l, CAND_CALC) >= 1);
    CU_ASSERT(count_kind(l, CAND_CODE) >= 1);
    CU_ASSERT(count_kind(l, CAND_ANSWER) >= 1);
    CU_ASSERT(find_text(l, CAND_SEARCH, "Mivor") != NULL);
    CU_ASSERT(find_text(l, CAND_SEARCH, "Mivor founded") != NULL);
    CU_ASSERT(find_text(l, CAND_SEARCH, "Mivor year founded") != NULL);
    for (int i = 0; i < l->n; i++)
        CU_ASSERT_EQUAL(l->c[i].dup, 0);

    /* observe a search: snippet numbers become answers and operands */
    c = find_text(l, CAND_SEARCH, "Mivor founded");
    CU_ASSERT_FATAL(c != NULL);
    resp =
        json_pack("{s:{s:b, s:s, s:{s:[{s:s, s:s, s:s, s:f}]}}, s:{s:s}}", "observation", "ok", 1,
                  "content", "...", "result", "hits", "id", "d00081", "title", "Mivor", "snippet",
                  "...covers an area of 652 square kilometres. It has a population of 80332. "
                  "The settlement was founded in 1505. Historians still debate.",
                  "score", 10.6, "judgement", "label", "necessary");
    CU_ASSERT_EQUAL(cand_state_push(s, c, resp, NULL), 0);
    json_decref(resp);
    cand_generate(s, l);
    c = find_text(l, CAND_ANSWER, "1505");
    CU_ASSERT_FATAL(c != NULL);
    CU_ASSERT(c->overlap > 0.4f); /* "founded" is in its sentence */
    CU_ASSERT_EQUAL(c->from_latest, 1);
    CU_ASSERT(find_text(l, CAND_ANSWER, "80332") != NULL);
    CU_ASSERT(find_text(l, CAND_ANSWER, "80332")->overlap < c->overlap);
    CU_ASSERT(find_text(l, CAND_CALC, "1505 * 6") != NULL);
    CU_ASSERT_EQUAL(find_text(l, CAND_CALC, "1505 * 6")->op, OP_MUL);
    /* the same search again is offered, flagged as a repeat; the other kinds remain */
    CU_ASSERT_FATAL(find_text(l, CAND_SEARCH, "Mivor founded") != NULL);
    CU_ASSERT_EQUAL(find_text(l, CAND_SEARCH, "Mivor founded")->dup, 1);
    CU_ASSERT_EQUAL(find_text(l, CAND_SEARCH, "Mivor founded")->ent_searched, 1);
    CU_ASSERT(count_kind(l, CAND_CODE) >= 1);
    free(s);
    free(l);
}

TG_TEST(candidates, mental_answers_only_for_small_numbers) {
    struct cand_state *s = malloc(sizeof(*s));
    struct cand_list *l = malloc(sizeof(*l));

    CU_ASSERT_FATAL(s && l);
    CU_ASSERT_EQUAL(cand_state_init(s, "Subtract 7 from 19.", 8, NULL), 0);
    cand_generate(s, l);
    CU_ASSERT(find_text(l, CAND_ANSWER, "12") != NULL);
    CU_ASSERT(find_text(l, CAND_ANSWER, "26") != NULL);
    CU_ASSERT(find_text(l, CAND_ANSWER, "133") != NULL);
    CU_ASSERT(find_text(l, CAND_ANSWER, "-12") != NULL); /* both orders are offered */
    CU_ASSERT_EQUAL(cand_state_init(s, "What is 7536 * 412?", 8, NULL), 0);
    cand_generate(s, l);
    CU_ASSERT(find_text(l, CAND_ANSWER, "3104832") == NULL); /* needs the calculator */
    CU_ASSERT(find_text(l, CAND_CALC, "7536 * 412") != NULL);
    free(s);
    free(l);
}

TG_TEST(candidates, bad_observations_are_errors) {
    struct cand_state *s = malloc(sizeof(*s));
    struct cand c;
    struct tg_error e;
    json_t *r;

    CU_ASSERT_FATAL(s != NULL);
    CU_ASSERT_EQUAL(cand_state_init(s, "What is the weight of Gorkel?", 8, NULL), 0);
    memset(&c, 0, sizeof(c));
    c.kind = CAND_SEARCH;
    snprintf(c.text, sizeof(c.text), "Gorkel weight");
    r = json_pack("{s:s}", "nothing", "here");
    CU_ASSERT_EQUAL(cand_state_push(s, &c, r, &e), TG_EINVAL);
    json_decref(r);
    r = json_pack("{s:{s:b, s:{s:i}}}", "observation", "ok", 1, "result", "hits", 3);
    CU_ASSERT_EQUAL(cand_state_push(s, &c, r, &e), TG_EINVAL);
    json_decref(r);
    CU_ASSERT_EQUAL(s->nstep, 0);
    free(s);
}

TG_TEST(candidates, features_are_finite_and_distinguish) {
    struct cand_state *s = malloc(sizeof(*s));
    struct cand_list *l = malloc(sizeof(*l));
    float *X;

    CU_ASSERT_FATAL(s && l);
    CU_ASSERT_EQUAL(cand_state_init(s, "What is the year founded of Mivor plus 12?", 8, NULL), 0);
    cand_generate(s, l);
    X = malloc(sizeof(float) * (size_t)l->n * FEAT_DIM);
    CU_ASSERT_FATAL(X != NULL);
    feat_compute_all(s, l, X);
    for (int i = 0; i < l->n * FEAT_DIM; i++)
        CU_ASSERT(isfinite(X[i]));
    for (int i = 1; i < l->n; i++) /* no two candidates look the same to the policy */
        for (int j = 0; j < i; j++)
            if (memcmp(X + (size_t)i * FEAT_DIM, X + (size_t)j * FEAT_DIM,
                       sizeof(float) * FEAT_DIM) == 0 &&
                l->c[i].kind != CAND_ANSWER && l->c[i].kind != CAND_CODE &&
                l->c[i].kind != CAND_CALC)
                CU_FAIL("two search candidates have identical features");
    free(X);
    free(s);
    free(l);
}

/* ---- coverage on the shipped tasks -------------------------------------------------------- */

/* the tool response of calling name(args) in-process, as a step response */
static json_t *call_tool(const char *name, json_t *args) {
    const struct tool *t = tools_find(name);
    struct tool_result r;
    struct tg_error e;
    json_t *obs;

    memset(&r, 0, sizeof(r));
    if (!t || tools_call(t, args, &r, &e) != 0)
        return NULL;
    obs = json_pack("{s:{s:b, s:s, s:O*}}", "observation", "ok", r.ok, "content",
                    r.content ? r.content : "", "result", r.ok ? r.result : NULL);
    tool_result_clear(&r);
    return obs;
}

static json_t *cand_args(const struct cand *c) {
    json_t *a = cand_action_json(c);
    json_t *args = json_incref(json_object_get(json_object_get(a, "tool_call"), "arguments"));

    json_decref(a);
    return args;
}

/* does a candidate of state s satisfy plan step st? */
static int step_covered(const struct cand_list *l, const struct task *t, const struct task_step *st,
                        int kind) {
    for (int i = 0; i < l->n; i++) {
        const struct cand *c = &l->c[i];
        json_t *args, *resp;
        struct judge_call jc;
        int ok;

        if (c->kind != kind)
            continue;
        if (kind == CAND_CODE)
            return 1; /* templates are checked by the algo test below, not by running them */
        args = cand_args(c);
        resp = call_tool(kind == CAND_SEARCH ? "search" : "calculator", args);
        if (!resp) {
            json_decref(args);
            continue;
        }
        memset(&jc, 0, sizeof(jc));
        jc.tool = kind == CAND_SEARCH ? "search" : "calculator";
        jc.args = args;
        jc.outcome = json_is_true(json_object_get(json_object_get(resp, "observation"), "ok"))
                         ? JUDGE_TOOL_OK
                         : JUDGE_TOOL_FAILED;
        jc.result = json_object_get(json_object_get(resp, "observation"), "result");
        ok = jc.outcome == JUDGE_TOOL_OK && judge_step_matches(t, st, &jc);
        json_decref(resp);
        json_decref(args);
        if (ok)
            return 1;
    }
    return 0;
}

static void coverage(const char *file, int every, double min_rate) {
    struct task_set *ts = task_set_new();
    struct tg_error e;
    struct cand_state *s = malloc(sizeof(*s));
    struct cand_list *l = malloc(sizeof(*l));
    int tasks = 0, ok_tasks = 0;

    CU_ASSERT_FATAL(s && l && ts);
    CU_ASSERT_FATAL(task_set_load(ts, file, &e) == 0);
    for (size_t i = 0; i < task_set_count(ts); i += (size_t)every) {
        const struct task *t = task_set_at(ts, i);
        int ok = 1;
        size_t k;
        const json_t *call;

        tasks++;
        CU_ASSERT_FATAL(cand_state_init(s, t->prompt, 8, NULL) == 0);
        json_array_foreach(t->expert, k, call) {
            const char *name = json_string_value(json_object_get(call, "name"));
            int kind = strcmp(name, "search") == 0       ? CAND_SEARCH
                       : strcmp(name, "calculator") == 0 ? CAND_CALC
                                                         : CAND_CODE;
            json_t *resp;

            cand_generate(s, l);
            if (k < t->nplan && !step_covered(l, t, &t->plan[k], kind))
                ok = 0;
            if (kind == CAND_CODE) /* stand in for the sandbox: the expected stdout */
                resp = json_pack("{s:{s:b, s:{s:s}}}", "observation", "ok", 1, "result", "stdout",
                                 t->plan[k].stdout_equals);
            else
                resp = call_tool(name, json_object_get(call, "arguments"));
            CU_ASSERT_FATAL(resp != NULL);
            CU_ASSERT_FATAL(cand_state_push_call(s, call, resp, NULL) == 0);
            json_decref(resp);
        }
        cand_generate(s, l);
        {
            int any = 0;

            for (int c = 0; c < l->n; c++)
                if (l->c[c].kind == CAND_ANSWER && judge_answer_correct(&t->answer, l->c[c].text))
                    any = 1;
            ok &= any;
        }
        if (!ok && getenv("TG_TEST_VERBOSE"))
            fprintf(stderr, "not covered: %s %s\n", t->id, t->prompt);
        ok_tasks += ok;
    }
    fprintf(stderr, "  coverage %s: %d/%d tasks\n", file, ok_tasks, tasks);
    CU_ASSERT(ok_tasks >= min_rate * tasks);
    task_set_free(ts);
    free(s);
    free(l);
}

TG_TEST(candidates, cover_expert_steps_and_answers) {
    struct server *srv = test_server_start(NULL); /* sets up the tool registry */

    CU_ASSERT_FATAL(srv != NULL);
    /* The task grammar (docs/tasks.md) writes numbers with separators and as words, two-step
     * and implied arithmetic, unit conversions, years between events and "unknown" answers,
     * which these hand-built candidates do not yet compose: they cover about 48% of the
     * shipped tasks (97% of the template-generated ones before). The floor only guards
     * against losing more; the policy issue replaces these candidates. */
    coverage("data/tasks/train.jsonl", 8, 0.40);
    coverage("data/tasks/test.jsonl", 2, 0.40);
    test_server_stop(srv);
}

TG_TEST(candidates, algo_templates_cover_the_prompts) {
    static const char *const prompts[] = {
        "How many prime numbers are there below 35957?",
        "Count the primes smaller than 35957.",
        "What is the 93682-th Fibonacci number modulo 998244353, with F(1) = F(2) = 1?",
        "Compute F(93682) mod 998244353, where F(1) = F(2) = 1 and F(n) = F(n-1) + F(n-2).",
        "What is the sum of the digits of 2^1000?",
        "Add up the decimal digits of 2 raised to the power 1000.",
    };
    static const char *const must[] = {"n = 35957\n",      "n = 35957\n", "range(93682 - 2)",
                                       "range(93682 - 2)", "2 ** 1000",   "2 ** 1000"};
    struct cand_state *s = malloc(sizeof(*s));
    struct cand_list *l = malloc(sizeof(*l));

    CU_ASSERT_FATAL(s && l);
    for (size_t i = 0; i < TG_ARRAY_LEN(prompts); i++) {
        int found = 0;

        CU_ASSERT_FATAL(cand_state_init(s, prompts[i], 8, NULL) == 0);
        cand_generate(s, l);
        for (int c = 0; c < l->n; c++)
            if (l->c[c].kind == CAND_CODE && strstr(l->c[c].text, must[i]))
                found = 1;
        CU_ASSERT(found);
    }
    free(s);
    free(l);
}

/* a search response with one hit */
static json_t *one_hit(const char *title, const char *snippet) {
    return json_pack("{s:{s:b, s:s, s:{s:[{s:s, s:s, s:s, s:f}]}}, s:{s:s}}", "observation", "ok",
                     1, "content", "...", "result", "hits", "id", "d00001", "title", title,
                     "snippet", snippet, "score", 9.0, "judgement", "label", "necessary");
}

TG_TEST(candidates, numbers_know_which_entities_they_use) {
    struct cand_state *s = malloc(sizeof(*s));
    struct cand_list *l = malloc(sizeof(*l));
    const struct cand *c, *sum;
    json_t *resp;

    CU_ASSERT_FATAL(s && l);
    CU_ASSERT_EQUAL(
        cand_state_init(s, "By how much does the weight of Gorkel exceed that of Mivor?", 8, NULL),
        0);
    CU_ASSERT_EQUAL(s->nent, 2);
    for (int w = 0; w < s->nword; w++) /* "does" stems to "doe" but is still a stopword */
        CU_ASSERT(strcmp(s->word[w], "does") != 0 && strcmp(s->word[w], "much") != 0);
    cand_generate(s, l);
    c = find_text(l, CAND_SEARCH, "Gorkel weight");
    CU_ASSERT_FATAL(c != NULL);
    resp =
        one_hit("Gorkel", "...It was built in 1901. A typical unit has a weight of 120 kilograms.");
    CU_ASSERT_EQUAL(cand_state_push(s, c, resp, NULL), 0);
    json_decref(resp);
    cand_generate(s, l);
    c = find_text(l, CAND_ANSWER, "120");
    CU_ASSERT_FATAL(c != NULL);
    CU_ASSERT_EQUAL(c->emask, 1u); /* Gorkel's fact only */
    c = find_text(l, CAND_SEARCH, "Mivor weight");
    CU_ASSERT_FATAL(c != NULL);
    resp = one_hit("Mivor", "...A typical unit has a weight of 80 kilograms. It is often cited.");
    CU_ASSERT_EQUAL(cand_state_push(s, c, resp, NULL), 0);
    json_decref(resp);
    cand_generate(s, l);
    CU_ASSERT_EQUAL(find_text(l, CAND_ANSWER, "80")->emask, 2u);
    sum = find_text(l, CAND_CALC, "120 - 80");
    CU_ASSERT_FATAL(sum != NULL);
    CU_ASSERT_EQUAL(sum->emask, 3u); /* both entities' facts */
    resp = json_pack("{s:{s:b, s:s, s:{s:f}}}", "observation", "ok", 1, "content", "40", "result",
                     "value", 40.0);
    CU_ASSERT_EQUAL(cand_state_push(s, sum, resp, NULL), 0);
    json_decref(resp);
    cand_generate(s, l);
    c = find_text(l, CAND_ANSWER, "40");
    CU_ASSERT_FATAL(c != NULL);
    CU_ASSERT_EQUAL(c->emask, 3u); /* the calculator result carries both */
    CU_ASSERT_EQUAL(find_text(l, CAND_ANSWER, "120")->emask, 1u);
    free(s);
    free(l);
}
