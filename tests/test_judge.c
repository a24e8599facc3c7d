/*
 * test_judge.c — suite `judge`: every label of DESIGN.md's table and its boundaries, answer
 * checking, normalised keys, state copy and replay determinism.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/judge.h"
#include "tools/search.h"
#include "tg_test.h"

/* lookup_arith: search Varnholt (d00001, shows 48211), then calculator = 96422. */
static const char *const LA =
    "{\"id\":\"la\",\"split\":\"train\",\"family\":\"lookup_arith\",\"prompt\":\"Double the "
    "population of Varnholt.\",\"answer\":{\"type\":\"number\",\"value\":96422,\"tolerance\":0.5},"
    "\"plan\":[{\"tool\":\"search\",\"match\":{\"query_terms\":[\"varnholt\"],\"hit\":\"d00001\","
    "\"shows\":\"48211\"}},{\"tool\":\"calculator\",\"match\":{\"value\":96422,\"tolerance\":0.01},"
    "\"needs\":[0]}]}";
/* multi_lookup: search A, search B, then calculator needing both. */
static const char *const ML =
    "{\"id\":\"ml\",\"split\":\"train\",\"family\":\"multi_lookup\",\"prompt\":\"p\",\"answer\":"
    "{\"type\":\"number\",\"value\":10},\"plan\":[{\"tool\":\"search\",\"match\":{\"query_terms\":"
    "[\"alpha\"]}},{\"tool\":\"search\",\"match\":{\"query_terms\":[\"beta\"]}},{\"tool\":"
    "\"calculator\",\"match\":{\"value\":10},\"needs\":[0,1]}]}";
static const char *const MENTAL =
    "{\"id\":\"m\",\"split\":\"train\",\"family\":\"mental\",\"prompt\":\"What is 7 + 5?\","
    "\"answer\":{\"type\":\"int\",\"value\":12},\"plan\":[]}";
static const char *const ALGO =
    "{\"id\":\"a\",\"split\":\"train\",\"family\":\"algo\",\"prompt\":\"p\",\"answer\":{\"type\":"
    "\"int\",\"value\":25},\"plan\":[{\"tool\":\"run_code\",\"match\":{\"stdout\":\"25\"}}]}";

/* abstain: one search naming the entity (the corpus does not record the fact), then
 * "unknown". */
static const char *const ABSTAIN =
    "{\"id\":\"ab\",\"split\":\"train\",\"family\":\"abstain\",\"prompt\":\"How many bridges "
    "cross the river in Varnholt?\",\"answer\":{\"type\":\"unknown\"},\"plan\":[{\"tool\":"
    "\"search\",\"match\":{\"query_terms\":[\"varnholt\"],\"hit\":\"d00001\"}}]}";
/* in_prompt: the fact is in the prompt; no tool. */
static const char *const IN_PROMPT =
    "{\"id\":\"ip\",\"split\":\"train\",\"family\":\"in_prompt\",\"prompt\":\"Varnholt has "
    "48,211 residents. How many people live there?\",\"answer\":{\"type\":\"int\",\"value\":"
    "48211},\"plan\":[]}";

static void load(const char *js, struct task *t) {
    json_t *j = json_loads(js, 0, NULL);
    struct tg_error err;

    CU_ASSERT_FATAL(j != NULL);
    CU_ASSERT_EQUAL_FATAL(task_from_json(j, t, &err), 0);
    json_decref(j);
}

/* Judge one call; result_js may be NULL. Returns the label (or -1 on an error code). */
static int call(const struct task *t, struct judge_state *s, const char *tool, const char *args_js,
                enum judge_outcome o, const char *result_js, struct judge_verdict *v) {
    json_t *args = args_js ? json_loads(args_js, JSON_DECODE_ANY, NULL) : NULL;
    json_t *res = result_js ? json_loads(result_js, 0, NULL) : NULL;
    struct judge_call c = {tool, args, o, res};
    struct judge_verdict local;
    int rc;

    rc = judge_call(t, s, &c, v ? v : &local);
    json_decref(args);
    json_decref(res);
    if (rc)
        return -1;
    return (int)(v ? v : &local)->label;
}

#define HIT_VARNHOLT                                                                               \
    "{\"hits\":[{\"id\":\"d00001\",\"title\":\"Varnholt\",\"snippet\":\"...has a population of "   \
    "48211 people...\",\"score\":3.1}]}"

TG_TEST(judge, lookup_arith_necessary_path) {
    struct task t;
    struct judge_state s;
    struct judge_verdict v;

    load(LA, &t);
    judge_state_init(&s);
    CU_ASSERT_EQUAL(call(&t, &s, "search", "{\"query\":\"Varnholt population\"}", JUDGE_TOOL_OK,
                         HIT_VARNHOLT, &v),
                    JUDGE_NECESSARY);
    CU_ASSERT_EQUAL(v.step, 0);
    CU_ASSERT(strlen(v.reason) > 10);
    CU_ASSERT_EQUAL(s.satisfied, 1u);
    CU_ASSERT(!judge_plan_complete(&t, &s));
    CU_ASSERT_EQUAL(call(&t, &s, "calculator", "{\"expression\":\"48211*2\"}", JUDGE_TOOL_OK,
                         "{\"value\":96422}", &v),
                    JUDGE_NECESSARY);
    CU_ASSERT_EQUAL(v.step, 1);
    CU_ASSERT(judge_plan_complete(&t, &s));
    CU_ASSERT_EQUAL(s.ncalls, 2);
    CU_ASSERT_EQUAL(judge_answer(&t, &s, "96422", &v), 0);
    CU_ASSERT_EQUAL(v.label, JUDGE_CORRECT);
    CU_ASSERT(v.correct);
    CU_ASSERT(!v.premature_answer);
    /* finished: nothing more may be judged */
    CU_ASSERT_EQUAL(
        call(&t, &s, "calculator", "{\"expression\":\"1\"}", JUDGE_TOOL_OK, "{\"value\":1}", &v),
        -1);
    CU_ASSERT_EQUAL(judge_answer(&t, &s, "1", &v), TG_ESTATE);
    judge_state_clear(&s);
    task_clear(&t);
}

TG_TEST(judge, calculating_before_searching_is_premature) {
    struct task t;
    struct judge_state s;
    struct judge_verdict v;

    load(LA, &t);
    judge_state_init(&s);
    /* Even the right value: the search it depends on has not happened. */
    CU_ASSERT_EQUAL(call(&t, &s, "calculator", "{\"expression\":\"48211*2\"}", JUDGE_TOOL_OK,
                         "{\"value\":96422}", &v),
                    JUDGE_PREMATURE);
    CU_ASSERT_EQUAL(v.step, -1);
    CU_ASSERT_EQUAL(s.satisfied, 0u);
    judge_state_clear(&s);
    task_clear(&t);
}

TG_TEST(judge, equal_arguments_written_differently_are_redundant) {
    struct task t;
    struct judge_state s;

    load(LA, &t);
    judge_state_init(&s);
    /* A wrong search, then the same token set written differently (case, order, stopword). */
    CU_ASSERT_EQUAL(call(&t, &s, "search", "{\"query\":\"Varnholt mayor\"}", JUDGE_TOOL_OK,
                         "{\"hits\":[]}", NULL),
                    JUDGE_WRONG_ARGS);
    CU_ASSERT_EQUAL(call(&t, &s, "search", "{\"query\":\"the MAYOR,  varnholt\",\"k\":9}",
                         JUDGE_TOOL_OK, "{\"hits\":[]}", NULL),
                    JUDGE_REDUNDANT);
    CU_ASSERT_EQUAL(call(&t, &s, "search", "{\"query\":\"Varnholt population\"}", JUDGE_TOOL_OK,
                         HIT_VARNHOLT, NULL),
                    JUDGE_NECESSARY);
    /* Calculator: a wrong value, then an equivalent expression of that value. */
    CU_ASSERT_EQUAL(call(&t, &s, "calculator", "{\"expression\":\"48211 + 2\"}", JUDGE_TOOL_OK,
                         "{\"value\":48213}", NULL),
                    JUDGE_WRONG_ARGS);
    CU_ASSERT_EQUAL(call(&t, &s, "calculator", "{\"expression\":\"2+48211\"}", JUDGE_TOOL_OK,
                         "{\"value\":48213}", NULL),
                    JUDGE_REDUNDANT);
    CU_ASSERT_EQUAL(s.satisfied, 1u);
    judge_state_clear(&s);
    task_clear(&t);
}

TG_TEST(judge, any_call_after_the_plan_is_complete_is_redundant) {
    struct task t;
    struct judge_state s;

    load(ALGO, &t);
    judge_state_init(&s);
    CU_ASSERT_EQUAL(call(&t, &s, "run_code", "{\"code\":\"print(sum(range(8)) - 3)\"}",
                         JUDGE_TOOL_OK, "{\"stdout\":\"25\\n\",\"exit_code\":0}", NULL),
                    JUDGE_NECESSARY);
    CU_ASSERT_EQUAL(call(&t, &s, "run_code", "{\"code\":\"print(5*5)\"}", JUDGE_TOOL_OK,
                         "{\"stdout\":\"25\\n\"}", NULL),
                    JUDGE_REDUNDANT);
    /* also for tools in no plan step */
    CU_ASSERT_EQUAL(call(&t, &s, "calculator", "{\"expression\":\"5*5\"}", JUDGE_TOOL_OK,
                         "{\"value\":25}", NULL),
                    JUDGE_REDUNDANT);
    judge_state_clear(&s);
    task_clear(&t);
}

TG_TEST(judge, another_call_of_a_finished_tool_is_redundant) {
    struct task t;
    struct judge_state s;

    load(LA, &t);
    judge_state_init(&s);
    CU_ASSERT_EQUAL(
        call(&t, &s, "search", "{\"query\":\"Varnholt\"}", JUDGE_TOOL_OK, HIT_VARNHOLT, NULL),
        JUDGE_NECESSARY);
    /* the plan is not complete, but every search step is */
    CU_ASSERT_EQUAL(call(&t, &s, "search", "{\"query\":\"Varnholt founded\"}", JUDGE_TOOL_OK,
                         HIT_VARNHOLT, NULL),
                    JUDGE_REDUNDANT);
    judge_state_clear(&s);
    task_clear(&t);
}

TG_TEST(judge, any_call_on_a_mental_task_is_unnecessary) {
    static const char *const tools[] = {"calculator", "search", "run_code"};
    struct task t;
    struct judge_state s;
    struct judge_verdict v;

    load(MENTAL, &t);
    judge_state_init(&s);
    for (int rep = 0; rep < 2; rep++) /* repeated calls too */
        for (size_t i = 0; i < 3; i++)
            CU_ASSERT_EQUAL(call(&t, &s, tools[i], "{\"expression\":\"7+5\"}", JUDGE_TOOL_OK,
                                 "{\"value\":12}", NULL),
                            JUDGE_UNNECESSARY);
    CU_ASSERT_EQUAL(judge_answer(&t, &s, "12", &v), 0);
    CU_ASSERT(v.correct);
    CU_ASSERT(!v.premature_answer); /* a mental task has nothing to do first */
    judge_state_clear(&s);
    task_clear(&t);
}

TG_TEST(judge, tool_outside_the_plan_is_unnecessary) {
    struct task t;
    struct judge_state s;

    load(LA, &t);
    judge_state_init(&s);
    CU_ASSERT_EQUAL(call(&t, &s, "run_code", "{\"code\":\"print(1)\"}", JUDGE_TOOL_OK,
                         "{\"stdout\":\"1\"}", NULL),
                    JUDGE_UNNECESSARY);
    judge_state_clear(&s);
    task_clear(&t);
}

TG_TEST(judge, wrong_args_boundaries) {
    struct task t;
    struct judge_state s;

    load(LA, &t);
    judge_state_init(&s);
    /* right entity term but the document is not among the hits */
    CU_ASSERT_EQUAL(call(&t, &s, "search", "{\"query\":\"Varnholt a\"}", JUDGE_TOOL_OK,
                         "{\"hits\":[{\"id\":\"d00002\",\"snippet\":\"48211\"}]}", NULL),
                    JUDGE_WRONG_ARGS);
    /* the document is there but its snippet does not show the value as a whole number */
    CU_ASSERT_EQUAL(call(&t, &s, "search", "{\"query\":\"Varnholt b\"}", JUDGE_TOOL_OK,
                         "{\"hits\":[{\"id\":\"d00001\",\"snippet\":\"148211 and 48211.5\"}]}",
                         NULL),
                    JUDGE_WRONG_ARGS);
    /* the value shown at the end of a sentence counts */
    CU_ASSERT_EQUAL(call(&t, &s, "search", "{\"query\":\"Varnholt c\"}", JUDGE_TOOL_OK,
                         "{\"hits\":[{\"id\":\"d00001\",\"snippet\":\"of 48211.\"}]}", NULL),
                    JUDGE_NECESSARY);
    /* the step computes the answer: within the answer's tolerance (0.5) matches, beyond it
     * does not */
    CU_ASSERT_EQUAL(call(&t, &s, "calculator", "{\"expression\":\"a\"}", JUDGE_TOOL_OK,
                         "{\"value\":96422.7}", NULL),
                    JUDGE_WRONG_ARGS);
    CU_ASSERT_EQUAL(call(&t, &s, "calculator", "{\"expression\":\"b\"}", JUDGE_TOOL_OK,
                         "{\"value\":96422.0078125}", NULL),
                    JUDGE_NECESSARY);
    judge_state_clear(&s);
    task_clear(&t);

    load(ALGO, &t);
    judge_state_init(&s);
    CU_ASSERT_EQUAL(call(&t, &s, "run_code", "{\"code\":\"print(4*6)\"}", JUDGE_TOOL_OK,
                         "{\"stdout\":\"24\\n\"}", NULL),
                    JUDGE_WRONG_ARGS);
    CU_ASSERT_EQUAL(call(&t, &s, "run_code", "{\"code\":\"print(' %d ' % (5*5))\"}", JUDGE_TOOL_OK,
                         "{\"stdout\":\"  25 \\n\"}", NULL),
                    JUDGE_NECESSARY);
    judge_state_clear(&s);
    task_clear(&t);
}

TG_TEST(judge, malformed_calls) {
    struct task t;
    struct judge_state s;
    struct judge_verdict v;

    load(LA, &t);
    judge_state_init(&s);
    CU_ASSERT_EQUAL(call(&t, &s, "browser", "{}", JUDGE_UNKNOWN_TOOL, NULL, &v), JUDGE_MALFORMED);
    CU_ASSERT(strstr(v.reason, "browser") != NULL);
    CU_ASSERT_EQUAL(call(&t, &s, NULL, "{}", JUDGE_TOOL_OK, NULL, &v), JUDGE_MALFORMED);
    CU_ASSERT_EQUAL(call(&t, &s, "search", "{\"q\":1}", JUDGE_BAD_ARGS, NULL, NULL),
                    JUDGE_MALFORMED);
    /* a tool-level failure is malformed even when the arguments would match the step */
    CU_ASSERT_EQUAL(
        call(&t, &s, "search", "{\"query\":\"Varnholt\"}", JUDGE_TOOL_FAILED, NULL, NULL),
        JUDGE_MALFORMED);
    CU_ASSERT_EQUAL(s.ncalls, 4);
    CU_ASSERT_EQUAL(s.nkeys, 0); /* malformed calls are not remembered ... */
    /* ... so the same call, now working, is not redundant */
    CU_ASSERT_EQUAL(
        call(&t, &s, "search", "{\"query\":\"Varnholt\"}", JUDGE_TOOL_OK, HIT_VARNHOLT, NULL),
        JUDGE_NECESSARY);
    /* a failing calculator after the search: malformed, not wrong_args */
    CU_ASSERT_EQUAL(
        call(&t, &s, "calculator", "{\"expression\":\"1/0\"}", JUDGE_TOOL_FAILED, NULL, NULL),
        JUDGE_MALFORMED);
    judge_state_clear(&s);
    task_clear(&t);
}

TG_TEST(judge, multi_lookup_needs_both_searches) {
    struct task t;
    struct judge_state s;
    struct judge_verdict v;

    load(ML, &t);
    judge_state_init(&s);
    CU_ASSERT_EQUAL(
        call(&t, &s, "search", "{\"query\":\"beta\"}", JUDGE_TOOL_OK, "{\"hits\":[]}", &v),
        JUDGE_NECESSARY);
    CU_ASSERT_EQUAL(v.step, 1); /* steps may be satisfied in any order */
    CU_ASSERT_EQUAL(call(&t, &s, "calculator", "{\"expression\":\"5+5\"}", JUDGE_TOOL_OK,
                         "{\"value\":10}", NULL),
                    JUDGE_PREMATURE);
    CU_ASSERT_EQUAL(
        call(&t, &s, "search", "{\"query\":\"gamma\"}", JUDGE_TOOL_OK, "{\"hits\":[]}", NULL),
        JUDGE_WRONG_ARGS);
    CU_ASSERT_EQUAL(judge_answer(&t, &s, "10", &v), 0);
    CU_ASSERT(v.correct);
    CU_ASSERT(v.premature_answer);
    judge_state_clear(&s);
    judge_state_init(&s);
    CU_ASSERT_EQUAL(
        call(&t, &s, "search", "{\"query\":\"alpha\"}", JUDGE_TOOL_OK, "{\"hits\":[]}", NULL),
        JUDGE_NECESSARY);
    CU_ASSERT_EQUAL(call(&t, &s, "calculator", "{\"expression\":\"4+6\"}", JUDGE_TOOL_OK,
                         "{\"value\":10}", NULL),
                    JUDGE_PREMATURE);
    CU_ASSERT_EQUAL(
        call(&t, &s, "search", "{\"query\":\"beta\"}", JUDGE_TOOL_OK, "{\"hits\":[]}", NULL),
        JUDGE_NECESSARY);
    /* Premature is not sticky: the same value is necessary once the needs are met. */
    CU_ASSERT_EQUAL(
        call(&t, &s, "calculator", "{\"expression\":\"4+6\"}", JUDGE_TOOL_OK, "{\"value\":10}", &v),
        JUDGE_NECESSARY);
    CU_ASSERT_EQUAL(v.step, 2);
    judge_state_clear(&s);
    task_clear(&t);
}

TG_TEST(judge, premature_answer_still_scores_correctness) {
    struct task t;
    struct judge_state s;
    struct judge_verdict v;

    load(LA, &t);
    judge_state_init(&s);
    CU_ASSERT_EQUAL(judge_answer(&t, &s, "96422", &v), 0);
    CU_ASSERT_EQUAL(v.label, JUDGE_CORRECT);
    CU_ASSERT(v.premature_answer);
    judge_state_clear(&s);
    judge_state_init(&s);
    call(&t, &s, "search", "{\"query\":\"Varnholt\"}", JUDGE_TOOL_OK, HIT_VARNHOLT, NULL);
    CU_ASSERT_EQUAL(judge_answer(&t, &s, "no idea", &v), 0);
    CU_ASSERT_EQUAL(v.label, JUDGE_INCORRECT);
    CU_ASSERT(v.premature_answer); /* one step still open */
    judge_state_clear(&s);
    task_clear(&t);
}

TG_TEST(judge, step_limit) {
    struct task t;
    struct judge_state s;
    struct judge_verdict v;

    load(LA, &t);
    judge_state_init(&s);
    CU_ASSERT_EQUAL(judge_step_limit(&t, &s, &v), 0);
    CU_ASSERT_EQUAL(v.label, JUDGE_STEP_LIMIT);
    CU_ASSERT(s.finished);
    CU_ASSERT_EQUAL(judge_step_limit(&t, &s, &v), TG_ESTATE);
    CU_ASSERT_EQUAL(judge_answer(&t, &s, "96422", &v), TG_ESTATE);
    judge_state_clear(&s);

    /* the call budget: TG_MAX_STEPS_LIMIT calls, then TG_ESTATE */
    judge_state_init(&s);
    for (int i = 0; i < TG_MAX_STEPS_LIMIT; i++)
        CU_ASSERT_EQUAL(call(&t, &s, "nope", "{}", JUDGE_UNKNOWN_TOOL, NULL, NULL),
                        JUDGE_MALFORMED);
    CU_ASSERT_EQUAL(call(&t, &s, "nope", "{}", JUDGE_UNKNOWN_TOOL, NULL, NULL), -1);
    judge_state_clear(&s);
    task_clear(&t);
}

TG_TEST(judge, answer_checking_by_type) {
    struct task_answer num = {TASK_ANSWER_NUMBER, 96422, 0.5, 0, NULL};
    struct task_answer rel = {TASK_ANSWER_NUMBER, 1000, 0, 0.01, NULL};
    struct task_answer in = {TASK_ANSWER_INT, -25, 0, 0, NULL};
    struct task_answer str = {TASK_ANSWER_STRING, 0, 0, 0, "Brask  Town"};

    CU_ASSERT(judge_answer_correct(&num, "96422"));
    CU_ASSERT(judge_answer_correct(&num, "The answer is 96,422."));
    CU_ASSERT(judge_answer_correct(&num, "96422.5"));   /* at the tolerance */
    CU_ASSERT(!judge_answer_correct(&num, "96422.51")); /* just past it */
    CU_ASSERT(judge_answer_correct(&num, "2 times 48211, so the answer is 96421.9"));
    CU_ASSERT(!judge_answer_correct(&num, "about 2 times 48211, so 96421.9")); /* the first */
    CU_ASSERT(judge_answer_correct(&num, "96422 (in 2024)")); /* parentheses are skipped */
    CU_ASSERT(!judge_answer_correct(&num, "no number here"));
    CU_ASSERT(!judge_answer_correct(&num, ""));
    CU_ASSERT(!judge_answer_correct(&num, NULL));
    CU_ASSERT(judge_answer_correct(&num, "9.6422e4"));
    CU_ASSERT(judge_answer_correct(&rel, "1010"));
    CU_ASSERT(!judge_answer_correct(&rel, "1010.5"));
    CU_ASSERT(judge_answer_correct(&in, "-25"));
    CU_ASSERT(judge_answer_correct(&in, "x = -25"));
    CU_ASSERT(!judge_answer_correct(&in, "25"));
    CU_ASSERT(!judge_answer_correct(&in, "-25.000001"));
    CU_ASSERT(!judge_answer_correct(&in, "x-25")); /* a hyphen inside a word is no sign */
    CU_ASSERT(judge_answer_correct(&str, "  brask town."));
    CU_ASSERT(judge_answer_correct(&str, "BRASK\tTOWN"));
    CU_ASSERT(!judge_answer_correct(&str, "Brask"));
}

TG_TEST(judge, unknown_answers) {
    struct task_answer unk = {TASK_ANSWER_UNKNOWN, 0, 0, 0, NULL};
    struct task_answer num = {TASK_ANSWER_NUMBER, 96422, 0.5, 0, NULL};

    CU_ASSERT(judge_answer_correct(&unk, "unknown"));
    CU_ASSERT(judge_answer_correct(&unk, "Unknown."));
    CU_ASSERT(judge_answer_correct(&unk, "The corpus does not say: it is not known."));
    CU_ASSERT(judge_answer_correct(&unk, "I don't know"));
    CU_ASSERT(judge_answer_correct(&unk, "It cannot be determined from the sources."));
    CU_ASSERT(judge_answer_correct(&unk, "No information."));
    /* a made-up number is wrong, even beside the word */
    CU_ASSERT(!judge_answer_correct(&unk, "unknown, probably 12"));
    CU_ASSERT(!judge_answer_correct(&unk, "12"));
    CU_ASSERT(!judge_answer_correct(&unk, "about 3 bridges"));
    CU_ASSERT(!judge_answer_correct(&unk, ""));
    CU_ASSERT(!judge_answer_correct(&unk, NULL));
    CU_ASSERT(!judge_answer_correct(&unk, "yes"));
    CU_ASSERT(!judge_answer_correct(&unk, "unknownable")); /* whole words only */
    /* and "unknown" is no answer to a task whose fact is known */
    CU_ASSERT(!judge_answer_correct(&num, "unknown"));
}

/* abstain: the one search is necessary, any further search redundant, "unknown" correct and a
 * number incorrect. */
TG_TEST(judge, abstain_plan) {
    struct task t;
    struct judge_state s;
    struct judge_verdict v;

    load(ABSTAIN, &t);
    judge_state_init(&s);
    CU_ASSERT_EQUAL(call(&t, &s, "search", "{\"query\":\"Varnholt bridges\"}", JUDGE_TOOL_OK,
                         HIT_VARNHOLT, NULL),
                    JUDGE_NECESSARY);
    CU_ASSERT_EQUAL(call(&t, &s, "search", "{\"query\":\"Varnholt bridge count river\"}",
                         JUDGE_TOOL_OK, HIT_VARNHOLT, NULL),
                    JUDGE_REDUNDANT);
    CU_ASSERT_EQUAL(call(&t, &s, "calculator", "{\"expression\":\"2+2\"}", JUDGE_TOOL_OK,
                         "{\"value\":4}", NULL),
                    JUDGE_REDUNDANT);
    CU_ASSERT_EQUAL(judge_answer(&t, &s, "unknown", &v), 0);
    CU_ASSERT_EQUAL(v.label, JUDGE_CORRECT);
    CU_ASSERT(!v.premature_answer);
    judge_state_clear(&s);

    judge_state_init(&s);
    CU_ASSERT_EQUAL(
        call(&t, &s, "search", "{\"query\":\"Varnholt\"}", JUDGE_TOOL_OK, HIT_VARNHOLT, NULL),
        JUDGE_NECESSARY);
    CU_ASSERT_EQUAL(judge_answer(&t, &s, "4", &v), 0);
    CU_ASSERT_EQUAL(v.label, JUDGE_INCORRECT);
    judge_state_clear(&s);

    /* answering at once: unknown is right, but the search was skipped */
    judge_state_init(&s);
    CU_ASSERT_EQUAL(judge_answer(&t, &s, "unknown", &v), 0);
    CU_ASSERT(v.correct && v.premature_answer);
    judge_state_clear(&s);
    task_clear(&t);
}

/* in_prompt: any search is unnecessary; the stated number is the answer. */
TG_TEST(judge, in_prompt_needs_no_tool) {
    struct task t;
    struct judge_state s;
    struct judge_verdict v;

    load(IN_PROMPT, &t);
    judge_state_init(&s);
    CU_ASSERT_EQUAL(call(&t, &s, "search", "{\"query\":\"Varnholt population\"}", JUDGE_TOOL_OK,
                         HIT_VARNHOLT, NULL),
                    JUDGE_UNNECESSARY);
    CU_ASSERT_EQUAL(judge_answer(&t, &s, "48,211", &v), 0);
    CU_ASSERT(v.correct && !v.premature_answer);
    judge_state_clear(&s);
    task_clear(&t);
}

TG_TEST(judge, call_keys_normalise) {
    char *a = NULL, *b = NULL;
    json_t *q1 = json_pack("{s:s}", "query", "The Varnholt, POPULATION");
    json_t *q2 = json_pack("{s:s, s:i}", "query", "population varnholt varnholt", "k", 3);
    json_t *r1 = json_pack("{s:s, s:s}", "code", "print(1)", "stdin", "");
    json_t *r2 = json_pack("{s:s, s:s}", "stdin", "", "code", "print(1)");
    json_t *c1 = json_pack("{s:s}", "expression", " 1 + 2 ");
    json_t *c2 = json_pack("{s:s}", "expression", "1+2");
    json_t *v3 = json_pack("{s:i}", "value", 3);

    /* a search without hits: its query's terms */
    CU_ASSERT_EQUAL(judge_call_key("search", q1, NULL, &a), 0);
    CU_ASSERT_EQUAL(judge_call_key("search", q2, NULL, &b), 0);
    CU_ASSERT_STRING_EQUAL(a, b);
    CU_ASSERT_STRING_EQUAL(a, "search\x1f#\x1fpopulation varnholt");
    free(a);
    free(b);
    {
        /* with hits: the ids it brought, whatever the words */
        json_t *h1 = json_loads("{\"hits\":[{\"id\":\"d2\"},{\"id\":\"d1\"}]}", 0, NULL);
        json_t *h2 = json_loads("{\"hits\":[{\"id\":\"d1\"},{\"id\":\"d2\"}]}", 0, NULL);

        judge_call_key("search", q1, h1, &a);
        judge_call_key("search", c1, h2, &b);
        CU_ASSERT_STRING_EQUAL(a, "search\x1f"
                                  "d1 d2");
        CU_ASSERT_STRING_EQUAL(a, b);
        free(a);
        free(b);
        json_decref(h1);
        json_decref(h2);
    }
    judge_call_key("run_code", r1, NULL, &a);
    judge_call_key("run_code", r2, NULL, &b);
    CU_ASSERT_STRING_EQUAL(a, b);
    free(a);
    free(b);
    {
        /* run_code with an output: the output, trimmed, and the exit code */
        json_t *o1 = json_loads("{\"stdout\":\"25\\n\",\"exit_code\":0}", 0, NULL);
        json_t *o2 = json_loads("{\"stdout\":\" 25\",\"exit_code\":0}", 0, NULL);

        judge_call_key("run_code", r1, o1, &a);
        judge_call_key("run_code", r2, o2, &b);
        CU_ASSERT_STRING_EQUAL(a, b);
        free(a);
        free(b);
        json_decref(o1);
        json_decref(o2);
    }
    judge_call_key("calculator", c1, NULL, &a); /* no value: whitespace-free text */
    judge_call_key("calculator", c2, NULL, &b);
    CU_ASSERT_STRING_EQUAL(a, b);
    free(a);
    free(b);
    judge_call_key("calculator", c1, v3, &a);
    judge_call_key("search", c1, v3, &b); /* different tools never collide */
    CU_ASSERT(strcmp(a, b) != 0);
    free(a);
    free(b);
    json_decref(q1);
    json_decref(q2);
    json_decref(r1);
    json_decref(r2);
    json_decref(c1);
    json_decref(c2);
    json_decref(v3);
}

TG_TEST(judge, state_copy_and_replay_are_exact) {
    struct task t;
    struct judge_state s, c, r;
    struct judge_verdict v1, v2;

    load(LA, &t);
    judge_state_init(&s);
    call(&t, &s, "search", "{\"query\":\"Varnholt\"}", JUDGE_TOOL_OK, HIT_VARNHOLT, NULL);
    CU_ASSERT_EQUAL_FATAL(judge_state_copy(&c, &s), 0);
    /* diverge: the original finishes, the copy repeats the search */
    call(&t, &s, "calculator", "{\"expression\":\"48211*2\"}", JUDGE_TOOL_OK, "{\"value\":96422}",
         NULL);
    CU_ASSERT(judge_plan_complete(&t, &s));
    CU_ASSERT(!judge_plan_complete(&t, &c));
    CU_ASSERT_EQUAL(
        call(&t, &c, "search", "{\"query\":\"varnholt\"}", JUDGE_TOOL_OK, HIT_VARNHOLT, NULL),
        JUDGE_REDUNDANT);
    /* replay from scratch gives identical verdicts */
    judge_state_init(&r);
    call(&t, &r, "search", "{\"query\":\"Varnholt\"}", JUDGE_TOOL_OK, HIT_VARNHOLT, &v1);
    judge_state_clear(&r);
    judge_state_init(&r);
    call(&t, &r, "search", "{\"query\":\"Varnholt\"}", JUDGE_TOOL_OK, HIT_VARNHOLT, &v2);
    CU_ASSERT_EQUAL(memcmp(&v1, &v2, sizeof(v1)), 0);
    judge_state_clear(&r);
    judge_state_clear(&c);
    judge_state_clear(&s);
    task_clear(&t);
}

/* A memo holds what the state holds, judged on after a load as the state would be, and refuses
 * a state with more keys than its slots, unchanged. */
TG_TEST(judge, memo_keeps_the_state_in_its_slots) {
    struct task t;
    struct judge_state s, l, big;
    struct judge_key slots[3 * JUDGE_KEYS_PER_CALL]; /* room for the three calls below */
    struct judge_memo m = {0};

    load(LA, &t);
    m.keys = slots;
    m.cap = TG_ARRAY_LEN(slots);
    judge_state_init(&s);
    CU_ASSERT_EQUAL(
        call(&t, &s, "search", "{\"query\":\"Varnholt\"}", JUDGE_TOOL_OK, HIT_VARNHOLT, NULL),
        JUDGE_NECESSARY);
    CU_ASSERT_FATAL(s.nkeys > 0 && s.nkeys <= JUDGE_KEYS_PER_CALL);
    CU_ASSERT_EQUAL_FATAL(judge_memo_save(&m, &s), 0);
    judge_memo_load(&m, &l);
    CU_ASSERT_EQUAL(l.satisfied, s.satisfied);
    CU_ASSERT_EQUAL(l.ncalls, s.ncalls);
    CU_ASSERT_EQUAL(l.finished, s.finished);
    CU_ASSERT_EQUAL_FATAL(l.nkeys, s.nkeys);
    CU_ASSERT_EQUAL(memcmp(l.keys, s.keys, s.nkeys * sizeof(s.keys[0])), 0);
    /* the loaded state remembers the search: the same search again is redundant */
    CU_ASSERT_EQUAL(
        call(&t, &l, "search", "{\"query\":\"varnholt\"}", JUDGE_TOOL_OK, HIT_VARNHOLT, NULL),
        JUDGE_REDUNDANT);
    CU_ASSERT_EQUAL(call(&t, &l, "calculator", "{\"expression\":\"48211*2\"}", JUDGE_TOOL_OK,
                         "{\"value\":96422}", NULL),
                    JUDGE_NECESSARY);
    CU_ASSERT_EQUAL_FATAL(judge_memo_save(&m, &l), 0);
    CU_ASSERT_EQUAL(m.ncalls, 3);
    /* one key past the slots: refused, the memo keeps what it held */
    CU_ASSERT_EQUAL_FATAL(judge_state_copy(&big, &l), 0);
    big.nkeys = m.cap + 1;
    memset(big.keys, 0xab, big.nkeys * sizeof(big.keys[0]));
    big.ncalls = 99;
    CU_ASSERT_EQUAL(judge_memo_save(&m, &big), TG_ERANGE);
    CU_ASSERT_EQUAL(m.ncalls, 3);
    CU_ASSERT_EQUAL(m.nkeys, l.nkeys);
    CU_ASSERT_EQUAL(memcmp(m.keys, l.keys, l.nkeys * sizeof(l.keys[0])), 0);
    judge_state_clear(&s);
    judge_state_clear(&l);
    task_clear(&t);
}

TG_TEST(judge, label_names_round_trip) {
    for (int l = 0; l < JUDGE_LABEL_COUNT; l++) {
        enum judge_label m;

        CU_ASSERT_EQUAL(judge_label_parse(judge_label_name((enum judge_label)l), &m), 0);
        CU_ASSERT_EQUAL((int)m, l);
        CU_ASSERT_EQUAL(judge_label_is_call((enum judge_label)l), l <= JUDGE_PARTIAL);
    }
    CU_ASSERT_STRING_EQUAL(judge_label_name(JUDGE_WRONG_ARGS), "wrong_args");
    {
        enum judge_label m;

        CU_ASSERT_EQUAL(judge_label_parse("great", &m), TG_EINVAL);
    }
}

/* Found by fuzzing (tests/fuzz/regress/search/): the search index cuts a token to its first
 * SEARCH_TERM_MAX - 1 bytes, so the judge must see a long token the same way, or it would say
 * that a query lacks a term the search tool saw in it. */
TG_TEST(judge, long_tokens_are_cut_like_the_search_index) {
    char full[81], q[128], toks[4][SEARCH_TERM_MAX];
    char *cut = toks[0], *whole = full;

    memset(full, 'x', 80);
    full[80] = '\0';
    snprintf(q, sizeof(q), "%s radius", full);
    CU_ASSERT_EQUAL_FATAL(search_tokenize(q, toks, 4), 2);
    CU_ASSERT_EQUAL(strlen(toks[0]), SEARCH_TERM_MAX - 1);
    CU_ASSERT_EQUAL(judge_query_has_terms(q, &cut, 1), 1);
    CU_ASSERT_EQUAL(judge_query_has_terms(q, &whole, 1), 0);
    /* case-folded like the index, and a token of exactly the cut length is still whole */
    memset(full, 'X', SEARCH_TERM_MAX - 1);
    full[SEARCH_TERM_MAX - 1] = '\0';
    CU_ASSERT_EQUAL(judge_query_has_terms(full, &cut, 1), 1);
    full[SEARCH_TERM_MAX - 2] = '\0';
    CU_ASSERT_EQUAL(judge_query_has_terms(full, &cut, 1), 0);
}

/* ---- issue 16: labels by information -------------------------------------------------- */

/* multi_lookup over two documents; the calculator combines both values (plan of the corpus
 * style: hit + shows). Expert: search, search, calculator "1916 + 1996". */
static const char *const ML2 =
    "{\"id\":\"ml2\",\"split\":\"train\",\"family\":\"multi_lookup\",\"prompt\":\"What is the "
    "height of Alva Brun plus the height of Bex?\",\"answer\":{\"type\":\"number\",\"value\":3912,"
    "\"tolerance\":1e-6},\"plan\":[{\"tool\":\"search\",\"match\":{\"query_terms\":[\"alva\","
    "\"brun\"],\"hit\":\"dA\",\"shows\":\"1916\"}},{\"tool\":\"search\",\"match\":{\"query_terms\":"
    "[\"bex\"],\"hit\":\"dB\",\"shows\":\"1996\"}},{\"tool\":\"calculator\",\"match\":{\"value\":"
    "3912},\"needs\":[0,1]}],\"expert\":[{\"name\":\"search\",\"arguments\":{\"query\":\"Alva Brun "
    "height\"}},{\"name\":\"search\",\"arguments\":{\"query\":\"Bex height\"}},{\"name\":"
    "\"calculator\",\"arguments\":{\"expression\":\"1916 + 1996\"}}]}";
#define HIT_A "{\"id\":\"dA\",\"snippet\":\"Alva Brun stands 1916 m tall.\"}"
#define HIT_B "{\"id\":\"dB\",\"snippet\":\"Bex stands 1996 m tall.\"}"

/* arith with a two-step expression and a rounding instruction. */
static const char *const AR =
    "{\"id\":\"ar\",\"split\":\"train\",\"family\":\"arith\",\"prompt\":\"What is 48211 * 3.75 - "
    "1290? Round to 2 decimal places.\",\"answer\":{\"type\":\"number\",\"value\":179501.25,"
    "\"tolerance\":0.005},\"plan\":[{\"tool\":\"calculator\",\"match\":{\"value\":179501.25}}],"
    "\"expert\":[{\"name\":\"calculator\",\"arguments\":{\"expression\":\"48211 * 3.75 - "
    "1290\"}}]}";
static const char *const AR_DIV =
    "{\"id\":\"ad\",\"split\":\"train\",\"family\":\"arith\",\"prompt\":\"What is 7536 / 70.79? "
    "Round to 2 decimal places.\",\"answer\":{\"type\":\"number\",\"value\":106.45571408391,"
    "\"tolerance\":0.005000001},\"plan\":[{\"tool\":\"calculator\",\"match\":{\"value\":"
    "106.45571408391}}],\"expert\":[{\"name\":\"calculator\",\"arguments\":{\"expression\":"
    "\"7536 / 70.79\"}}]}";

TG_TEST(judge, one_search_showing_both_values_satisfies_both_steps) {
    struct task t;
    struct judge_state s;
    struct judge_verdict v;

    load(ML2, &t);
    judge_state_init(&s);
    CU_ASSERT_EQUAL(call(&t, &s, "search", "{\"query\":\"Alva Brun Bex height\"}", JUDGE_TOOL_OK,
                         "{\"hits\":[" HIT_A "," HIT_B "]}", &v),
                    JUDGE_NECESSARY);
    CU_ASSERT_EQUAL(s.satisfied, 3u);
    /* so the calculator is not premature */
    CU_ASSERT_EQUAL(call(&t, &s, "calculator", "{\"expression\":\"1916+1996\"}", JUDGE_TOOL_OK,
                         "{\"value\":3912}", NULL),
                    JUDGE_NECESSARY);
    judge_state_clear(&s);
    task_clear(&t);
}

TG_TEST(judge, a_larger_k_that_surfaces_the_second_entity_is_necessary) {
    struct task t;
    struct judge_state s;

    load(ML2, &t);
    judge_state_init(&s);
    CU_ASSERT_EQUAL(call(&t, &s, "search", "{\"query\":\"Alva Brun Bex\",\"k\":1}", JUDGE_TOOL_OK,
                         "{\"hits\":[" HIT_A "]}", NULL),
                    JUDGE_NECESSARY);
    CU_ASSERT_EQUAL(call(&t, &s, "search", "{\"query\":\"Alva Brun Bex\",\"k\":5}", JUDGE_TOOL_OK,
                         "{\"hits\":[" HIT_A "," HIT_B "]}", NULL),
                    JUDGE_NECESSARY);
    /* the same again brings nothing new */
    CU_ASSERT_EQUAL(call(&t, &s, "search", "{\"query\":\"Alva Brun Bex\",\"k\":6}", JUDGE_TOOL_OK,
                         "{\"hits\":[" HIT_A "," HIT_B "]}", NULL),
                    JUDGE_REDUNDANT);
    judge_state_clear(&s);
    task_clear(&t);
}

TG_TEST(judge, search_is_judged_by_what_it_retrieved_not_its_words) {
    struct task t;
    struct judge_state s;

    load(ML2, &t);
    judge_state_init(&s);
    /* part of a multi-word name that ranks the right document and shows the value */
    CU_ASSERT_EQUAL(call(&t, &s, "search", "{\"query\":\"Brun height\"}", JUDGE_TOOL_OK,
                         "{\"hits\":[" HIT_A "]}", NULL),
                    JUDGE_NECESSARY);
    /* the full name that does not retrieve the other document is no progress */
    CU_ASSERT_EQUAL(call(&t, &s, "search", "{\"query\":\"Bex\"}", JUDGE_TOOL_OK,
                         "{\"hits\":[{\"id\":\"dZ\",\"snippet\":\"nothing\"}]}", NULL),
                    JUDGE_WRONG_ARGS);
    judge_state_clear(&s);
    task_clear(&t);
}

TG_TEST(judge, repeats_are_judged_by_effect_whatever_their_spelling) {
    struct task t;
    struct judge_state s;

    load(LA, &t);
    judge_state_init(&s);
    CU_ASSERT_EQUAL(call(&t, &s, "search", "{\"query\":\"Varnholt population\"}", JUDGE_TOOL_OK,
                         HIT_VARNHOLT, NULL),
                    JUDGE_NECESSARY);
    /* verbatim, one extra word, other words: all show the satisfied step again */
    CU_ASSERT_EQUAL(call(&t, &s, "search", "{\"query\":\"Varnholt population\"}", JUDGE_TOOL_OK,
                         HIT_VARNHOLT, NULL),
                    JUDGE_REDUNDANT);
    CU_ASSERT_EQUAL(call(&t, &s, "search", "{\"query\":\"Varnholt population size\"}",
                         JUDGE_TOOL_OK, HIT_VARNHOLT, NULL),
                    JUDGE_REDUNDANT);
    CU_ASSERT_EQUAL(call(&t, &s, "search", "{\"query\":\"how many people in Varnholt\"}",
                         JUDGE_TOOL_OK, HIT_VARNHOLT, NULL),
                    JUDGE_REDUNDANT);
    judge_state_clear(&s);
    task_clear(&t);

    load(ALGO, &t);
    judge_state_init(&s);
    CU_ASSERT_EQUAL(call(&t, &s, "run_code", "{\"code\":\"print(5*5)\"}", JUDGE_TOOL_OK,
                         "{\"stdout\":\"25\\n\",\"exit_code\":0}", NULL),
                    JUDGE_NECESSARY);
    /* an extra newline is the same program */
    CU_ASSERT_EQUAL(call(&t, &s, "run_code", "{\"code\":\"print(5*5)\\n\"}", JUDGE_TOOL_OK,
                         "{\"stdout\":\"25\\n\",\"exit_code\":0}", NULL),
                    JUDGE_REDUNDANT);
    judge_state_clear(&s);
    task_clear(&t);
}

/* No label a disguised repeat can reach costs less than redundant: checked by reward.c for the
 * weights; here, that the disguises do reach redundant. */
TG_TEST(judge, echo_calls_compute_nothing) {
    struct task t;
    struct judge_state s;

    load(LA, &t);
    judge_state_init(&s);
    call(&t, &s, "search", "{\"query\":\"Varnholt\"}", JUDGE_TOOL_OK, HIT_VARNHOLT, NULL);
    /* the answer typed back into the calculator, bare or disguised */
    CU_ASSERT_EQUAL(call(&t, &s, "calculator", "{\"expression\":\"96422\"}", JUDGE_TOOL_OK,
                         "{\"value\":96422}", NULL),
                    JUDGE_UNNECESSARY);
    CU_ASSERT_EQUAL(call(&t, &s, "calculator", "{\"expression\":\"96422*1\"}", JUDGE_TOOL_OK,
                         "{\"value\":96422}", NULL),
                    JUDGE_UNNECESSARY);
    CU_ASSERT_EQUAL(call(&t, &s, "calculator", "{\"expression\":\"(96422)\"}", JUDGE_TOOL_OK,
                         "{\"value\":96422}", NULL),
                    JUDGE_UNNECESSARY);
    CU_ASSERT_EQUAL(s.satisfied, 1u);
    /* computing it is necessary */
    CU_ASSERT_EQUAL(call(&t, &s, "calculator", "{\"expression\":\"48211*2\"}", JUDGE_TOOL_OK,
                         "{\"value\":96422}", NULL),
                    JUDGE_NECESSARY);
    /* afterwards the echo targets a satisfied step: redundant, as the honest repeat */
    CU_ASSERT_EQUAL(call(&t, &s, "calculator", "{\"expression\":\"96422\"}", JUDGE_TOOL_OK,
                         "{\"value\":96422}", NULL),
                    JUDGE_REDUNDANT);
    judge_state_clear(&s);
    task_clear(&t);

    load(ALGO, &t);
    judge_state_init(&s);
    CU_ASSERT_EQUAL(call(&t, &s, "run_code", "{\"code\":\"print(25)\"}", JUDGE_TOOL_OK,
                         "{\"stdout\":\"25\\n\",\"exit_code\":0}", NULL),
                    JUDGE_UNNECESSARY);
    CU_ASSERT_EQUAL(call(&t, &s, "run_code", "{\"code\":\"x = 25\\nprint(x)\"}", JUDGE_TOOL_OK,
                         "{\"stdout\":\"25\\n\",\"exit_code\":0}", NULL),
                    JUDGE_UNNECESSARY);
    CU_ASSERT_EQUAL(s.satisfied, 0u);
    judge_state_clear(&s);
    task_clear(&t);
}

TG_TEST(judge, a_fact_not_yet_observed_makes_a_call_premature) {
    struct task t;
    struct judge_state s;

    load(LA, &t);
    judge_state_init(&s);
    /* 48211 is the search's value: not in the prompt, not observed */
    CU_ASSERT_EQUAL(call(&t, &s, "calculator", "{\"expression\":\"48211*2\"}", JUDGE_TOOL_OK,
                         "{\"value\":96422}", NULL),
                    JUDGE_PREMATURE);
    CU_ASSERT_EQUAL(call(&t, &s, "calculator", "{\"expression\":\"48211+1\"}", JUDGE_TOOL_OK,
                         "{\"value\":48212}", NULL),
                    JUDGE_PREMATURE);
    call(&t, &s, "search", "{\"query\":\"Varnholt\"}", JUDGE_TOOL_OK, HIT_VARNHOLT, NULL);
    CU_ASSERT_EQUAL(call(&t, &s, "calculator", "{\"expression\":\"48211*2\"}", JUDGE_TOOL_OK,
                         "{\"value\":96422}", NULL),
                    JUDGE_NECESSARY);
    judge_state_clear(&s);
    task_clear(&t);
}

TG_TEST(judge, rounding_as_the_prompt_asks_counts) {
    struct task t;
    struct judge_state s;

    load(AR_DIV, &t);
    judge_state_init(&s);
    CU_ASSERT_EQUAL(call(&t, &s, "calculator", "{\"expression\":\"round(7536 / 70.79, 2)\"}",
                         JUDGE_TOOL_OK, "{\"value\":106.46}", NULL),
                    JUDGE_NECESSARY);
    judge_state_clear(&s);
    judge_state_init(&s);
    CU_ASSERT_EQUAL(call(&t, &s, "calculator",
                         "{\"expression\":\"round(7536 / 70.79 * 100) / 100\"}", JUDGE_TOOL_OK,
                         "{\"value\":106.46}", NULL),
                    JUDGE_NECESSARY);
    judge_state_clear(&s);
    task_clear(&t);
}

TG_TEST(judge, a_sub_expression_of_the_plan_is_progress) {
    struct task t;
    struct judge_state s;

    load(AR, &t);
    judge_state_init(&s);
    CU_ASSERT_EQUAL(call(&t, &s, "calculator", "{\"expression\":\"48211 * 3.75\"}", JUDGE_TOOL_OK,
                         "{\"value\":180791.25}", NULL),
                    JUDGE_PARTIAL);
    /* the same intermediate again brings nothing new */
    CU_ASSERT_EQUAL(call(&t, &s, "calculator", "{\"expression\":\"3.75*48211\"}", JUDGE_TOOL_OK,
                         "{\"value\":180791.25}", NULL),
                    JUDGE_REDUNDANT);
    /* an unrelated value is still wrong */
    CU_ASSERT_EQUAL(call(&t, &s, "calculator", "{\"expression\":\"48211 * 3\"}", JUDGE_TOOL_OK,
                         "{\"value\":144633}", NULL),
                    JUDGE_WRONG_ARGS);
    CU_ASSERT_EQUAL(call(&t, &s, "calculator", "{\"expression\":\"180791.25 - 1290\"}",
                         JUDGE_TOOL_OK, "{\"value\":179501.25}", NULL),
                    JUDGE_NECESSARY);
    judge_state_clear(&s);
    task_clear(&t);
}

TG_TEST(judge, a_program_answer_is_read_like_an_answer) {
    struct task t;
    struct judge_state s;

    load(ALGO, &t);
    judge_state_init(&s);
    CU_ASSERT_EQUAL(call(&t, &s, "run_code", "{\"code\":\"print('result:', 5*5)\"}", JUDGE_TOOL_OK,
                         "{\"stdout\":\"result: 25\\n\",\"exit_code\":0}", NULL),
                    JUDGE_NECESSARY);
    judge_state_clear(&s);
    task_clear(&t);
}

TG_TEST(judge, answers_are_grounded_only_on_what_was_observed) {
    struct task t;
    struct judge_state s;
    struct judge_verdict v;

    /* a lookup answered from memory: correct, but ungrounded */
    load(LA, &t);
    judge_state_init(&s);
    CU_ASSERT_EQUAL(judge_answer(&t, &s, "Answer: 96422", &v), 0);
    CU_ASSERT(v.correct && v.premature_answer && v.ungrounded);
    judge_state_clear(&s);
    /* after the search, the multiplication done mentally: premature but grounded */
    judge_state_init(&s);
    call(&t, &s, "search", "{\"query\":\"Varnholt\"}", JUDGE_TOOL_OK, HIT_VARNHOLT, NULL);
    CU_ASSERT_EQUAL(judge_answer(&t, &s, "Answer: 96422", &v), 0);
    CU_ASSERT(v.correct && v.premature_answer && !v.ungrounded);
    judge_state_clear(&s);
    task_clear(&t);
    /* arithmetic done mentally is grounded: the operands are in the prompt */
    load(AR, &t);
    judge_state_init(&s);
    CU_ASSERT_EQUAL(judge_answer(&t, &s, "Answer: 179501.25", &v), 0);
    CU_ASSERT(v.correct && !v.ungrounded);
    judge_state_clear(&s);
    task_clear(&t);
    /* abstaining without looking is ungrounded */
    load(ABSTAIN, &t);
    judge_state_init(&s);
    CU_ASSERT_EQUAL(judge_answer(&t, &s, "Answer: unknown", &v), 0);
    CU_ASSERT(v.correct && v.ungrounded);
    judge_state_clear(&s);
    task_clear(&t);
}

TG_TEST(judge, the_answer_format_and_its_fallback) {
    struct task_answer n = {TASK_ANSWER_NUMBER, 9634, 1e-6, 0, NULL};
    struct task_answer neg = {TASK_ANSWER_INT, -2338, 0, 0, NULL};
    struct task_answer sixteen = {TASK_ANSWER_INT, 16, 0, 0, NULL};
    struct task_answer big = {TASK_ANSWER_INT, 121105, 0, 0, NULL};
    struct task_answer str = {TASK_ANSWER_STRING, 0, 0, 0, "Brask Town"};
    double x;

    /* the probes of issue 16 */
    CU_ASSERT(judge_answer_correct(&n, "9634 (23 + 9611)"));
    CU_ASSERT(judge_answer_correct(&n, "The answer is 9634, found in 2 steps."));
    CU_ASSERT(judge_answer_correct(&neg, "\xe2\x88\x92"
                                         "2338")); /* U+2212 minus */
    CU_ASSERT(judge_answer_correct(&sixteen, "sixteen"));
    /* the documented form, read first */
    CU_ASSERT(judge_answer_correct(&n, "After 2 searches and 1 calculation. Answer: 9634"));
    CU_ASSERT(judge_answer_correct(&n, "answer = 9,634"));
    CU_ASSERT(judge_answer_correct(&neg, "Answer: minus two thousand three hundred and "
                                         "thirty-eight"));
    CU_ASSERT(!judge_answer_correct(&n, "Answer: 9635 (not 9634)"));
    CU_ASSERT(judge_answer_correct(&str, "Answer: Brask Town\nbecause the snippet says so"));
    /* number words up to 999,999 */
    CU_ASSERT(judge_answer_correct(&big, "one hundred twenty-one thousand one hundred and five"));
    CU_ASSERT(judge_read_number("twenty-one", &x) && x == 21);
    CU_ASSERT(judge_read_number("Answer: zero", &x) && x == 0);
    CU_ASSERT(judge_read_number("one", &x) && x == 1);
    CU_ASSERT(!judge_read_number("no one knows", &x)); /* a lone "one" in prose is no number */
    CU_ASSERT(!judge_read_number("nothing here", &x));
    CU_ASSERT(judge_read_number("x-25", &x) && x == 25); /* glued to a word: no sign */
}

/* A calculator call's key holds its value as "%.17g" prints it, whole numbers included (they
 * are written without printf): the keys of values of every kind match that text. */
TG_TEST(judge, calculator_keys_print_values_as_g17) {
    static const double vals[] = {
        0,    -0.0, 10,   -3,    1e15, -1e15,       9007199254740991.0, 9007199254740992.0,
        1e16, 2.5,  -0.1, 1e300, 1e-7, 123456789.0, 4294967296.0,       -2147483648.0};

    for (size_t i = 0; i < TG_ARRAY_LEN(vals); i++) {
        json_t *res = json_pack("{s:f}", "value", vals[i]);
        char want[96], *key = NULL;

        snprintf(want, sizeof(want), "calculator\x1f=%.17g", vals[i]);
        CU_ASSERT_EQUAL_FATAL(judge_call_key("calculator", NULL, res, &key), 0);
        if (strcmp(key, want) != 0)
            fprintf(stderr, "\n  value %.17g: key %s, want %s\n", vals[i], key, want);
        CU_ASSERT_STRING_EQUAL(key, want);
        free(key);
        json_decref(res);
    }
}
