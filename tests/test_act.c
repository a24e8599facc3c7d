/*
 * test_act.c — suite `act`: the policy's action grammar and symbols. What may come next at
 * each point of an action (tool first; query words; operand / operator alternation and
 * balanced parentheses; a template then one number per slot; an answer), that every expert
 * call's target is a path the grammar allows and decodes back into the same request, that
 * symbols are learned only from what experts use often enough, and that a call the outputs
 * cannot write is refused with its reason.
 */
#include "tg_test.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/tg.h"
#include "policy/act.h"
#include "policy/seq.h"
#include "policy/view.h"

static void view_with_search(struct view *v) {
    struct tg_error e;
    json_t *call, *obs;

    CU_ASSERT_EQUAL_FATAL(
        view_init(v, "Double the population of Mivor, then subtract 1,250.", 6, &e), 0);
    call = json_pack("{s:s,s:{s:s}}", "name", "search", "arguments", "query", "Mivor population");
    obs = json_pack("{s:b,s:{s:[{s:s,s:s}]}}", "ok", 1, "result", "hits", "title", "Mivor",
                    "snippet", "Mivor is a town of 48,211 people.");
    CU_ASSERT_EQUAL_FATAL(view_push(v, call, obs, &e), 0);
    json_decref(call);
    json_decref(obs);
}

static void vocab(struct act_vocab *v) {
    memset(v, 0, sizeof(*v));
    v->nconst = 1;
    v->cval[0] = 2;
    v->nword = 1;
    snprintf(v->word[0], sizeof(v->word[0]), "population");
}

/* the token index of the first pointable token whose text or value matches */
static int find_num(const struct seq *s, double val) {
    for (int t = 0; t < s->T; t++)
        if ((s->ptr[t] & PTR_NUM) && seq_same_value(s->value[t], val))
            return t;
    return -1;
}

/* walk target alternative 0 (the first output of each set) through the grammar: every
 * output must be allowed where it stands, and the action must end exactly at its end */
static int walk(const struct act_vocab *v, const struct seq *s, const struct act_target *t,
                int *out) {
    unsigned char sym[TG_ACT_SYMBOLS_MAX], ptr[TG_SEQ_MAX];
    struct act_gram g;
    int nsym = act_nsym(v);

    act_gram_init(&g);
    for (int i = 0; i < t->n; i++) {
        int o = t->set[i][0];

        for (int k = 0; k < t->nset[i]; k++) {
            int ok, x = t->set[i][k];

            act_gram_allowed(&g, v, s, sym, ptr);
            ok = x < nsym ? sym[x] : ptr[x - nsym];
            CU_ASSERT(ok);
            if (!ok)
                return -1;
        }
        out[i] = o;
        act_gram_push(&g, v, o);
    }
    CU_ASSERT(g.done);
    return t->n;
}

TG_TEST(act, grammar_allows_what_may_come_next) {
    struct view *vw = malloc(sizeof(*vw));
    struct act_vocab *v = malloc(sizeof(*v));
    struct seq s;
    struct act_gram g;
    struct tg_error e;
    unsigned char sym[TG_ACT_SYMBOLS_MAX], ptr[TG_SEQ_MAX];
    int nsym, t48, t1250, nptr;

    CU_ASSERT_FATAL(vw && v);
    view_with_search(vw);
    vocab(v);
    nsym = act_nsym(v);
    CU_ASSERT_EQUAL(nsym, SYM_FIXED + 2);
    CU_ASSERT_EQUAL_FATAL(seq_alloc(&s, 0, 0, 0, &e), 0);
    seq_build(&s, vw, v, 1024, NULL);
    t48 = find_num(&s, 48211);
    t1250 = find_num(&s, 1250);
    CU_ASSERT_FATAL(t48 >= 0 && t1250 >= 0);
    /* the snippet's number is an operand but never a query word */
    CU_ASSERT_EQUAL(s.ptr[t48] & PTR_WORD, 0);

    /* first: a tool or the answer, no pointer; no program without templates */
    act_gram_init(&g);
    CU_ASSERT_EQUAL(act_gram_allowed(&g, v, &s, sym, ptr), 3);
    CU_ASSERT(sym[SYM_SEARCH] && sym[SYM_CALC] && sym[SYM_ANSWER]);
    CU_ASSERT(!sym[SYM_CODE] && !sym[SYM_EOS] && !sym[SYM_ADD]);
    nptr = 0;
    for (int t = 0; t < s.T; t++)
        nptr += ptr[t];
    CU_ASSERT_EQUAL(nptr, 0);

    /* search: prompt words and learned words; EOS only after a word */
    act_gram_push(&g, v, SYM_SEARCH);
    act_gram_allowed(&g, v, &s, sym, ptr);
    CU_ASSERT(!sym[SYM_EOS]);
    CU_ASSERT(sym[act_sym_word(v, 0)]);
    CU_ASSERT(!ptr[t48] && !ptr[t1250]);
    for (int t = 0; t < s.T; t++)
        if (ptr[t])
            CU_ASSERT((s.ptr[t] & PTR_WORD) && s.seg[t] == SEG_PROMPT);
    act_gram_push(&g, v, act_sym_word(v, 0));
    act_gram_allowed(&g, v, &s, sym, ptr);
    CU_ASSERT(sym[SYM_EOS]);
    act_gram_push(&g, v, SYM_EOS);
    CU_ASSERT(g.done);
    CU_ASSERT_EQUAL(act_gram_allowed(&g, v, &s, sym, ptr), 0);

    /* calculator: operand, operator, operand ...; ( needs its ); no EOS inside */
    act_gram_init(&g);
    act_gram_push(&g, v, SYM_CALC);
    act_gram_allowed(&g, v, &s, sym, ptr);
    CU_ASSERT(ptr[t48] && ptr[t1250] && sym[act_sym_const(v, 0)] && sym[SYM_LPAR] && sym[SYM_SQRT]);
    CU_ASSERT(!sym[SYM_ADD] && !sym[SYM_EOS] && !sym[SYM_RPAR]);
    act_gram_push(&g, v, SYM_LPAR);
    act_gram_push(&g, v, nsym + t48);
    act_gram_allowed(&g, v, &s, sym, ptr);
    CU_ASSERT(sym[SYM_ADD] && sym[SYM_SUB] && sym[SYM_MUL] && sym[SYM_DIV] && sym[SYM_RPAR]);
    CU_ASSERT(!sym[SYM_EOS] && !ptr[t1250]);
    act_gram_push(&g, v, SYM_MUL);
    act_gram_push(&g, v, act_sym_const(v, 0));
    act_gram_push(&g, v, SYM_RPAR);
    act_gram_allowed(&g, v, &s, sym, ptr);
    CU_ASSERT(sym[SYM_EOS] && sym[SYM_SUB] && !sym[SYM_RPAR]);
    act_gram_push(&g, v, SYM_SUB);
    act_gram_push(&g, v, nsym + t1250);
    act_gram_push(&g, v, SYM_EOS);
    CU_ASSERT(g.done);
    {
        int out[] = {SYM_CALC, SYM_LPAR, nsym + t48,   SYM_MUL, act_sym_const(v, 0),
                     SYM_RPAR, SYM_SUB,  nsym + t1250, SYM_EOS};
        json_t *call = NULL, *req = act_request(v, &s, out, 9, &call);
        const char *expr;

        CU_ASSERT_FATAL(req != NULL);
        CU_ASSERT_STRING_EQUAL(
            json_string_value(json_object_get(json_object_get(req, "tool_call"), "name")),
            "calculator");
        expr = json_string_value(json_object_get(json_object_get(call, "arguments"), "expression"));
        CU_ASSERT_PTR_NOT_NULL_FATAL(expr);
        CU_ASSERT_STRING_EQUAL(expr, "(48211 * 2) - 1250");
        json_decref(req);
        json_decref(call);
    }
    /* answers: "unknown" right away, or an expression */
    act_gram_init(&g);
    act_gram_push(&g, v, SYM_ANSWER);
    act_gram_allowed(&g, v, &s, sym, ptr);
    CU_ASSERT(sym[SYM_UNKNOWN] && ptr[t48]);
    {
        int out[] = {SYM_ANSWER, SYM_UNKNOWN}, out2[] = {SYM_ANSWER, nsym + t48, SYM_EOS};
        json_t *call = (json_t *)1, *req = act_request(v, &s, out, 2, &call);

        CU_ASSERT_PTR_NULL(call);
        CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(req, "answer")),
                               "Answer: unknown");
        json_decref(req);
        req = act_request(v, &s, out2, 3, NULL);
        CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(req, "answer")), "Answer: 48211");
        json_decref(req);
    }
    seq_free(&s);
    free(vw);
    free(v);
}

/* an expert call's target walks the grammar and decodes back into the same call */
TG_TEST(act, expert_targets_decode_into_the_same_call) {
    static const struct {
        const char *name, *key, *arg, *want; /* want: the decoded argument (NULL: arg) */
    } calls[] = {
        {"search", "query", "Mivor population", NULL},
        {"search", "query", "population Mivor", NULL},
        {"calculator", "expression", "48211 * 2", NULL},
        {"calculator", "expression", "48211 * 2 - 1250", NULL},
        {"calculator", "expression", "(48211 - 1250) / 2", NULL},
        {"calculator", "expression", "sqrt(48211)", NULL},
    };
    struct view *vw = malloc(sizeof(*vw));
    struct act_vocab *v = malloc(sizeof(*v));
    struct act_targets *t = malloc(sizeof(*t));
    struct seq s;
    struct tg_error e;

    CU_ASSERT_FATAL(vw && v && t);
    view_with_search(vw);
    vocab(v);
    CU_ASSERT_EQUAL_FATAL(seq_alloc(&s, 0, 0, 0, &e), 0);
    seq_build(&s, vw, v, 1024, NULL);
    for (size_t i = 0; i < TG_ARRAY_LEN(calls); i++) {
        json_t *call = json_pack("{s:s,s:{s:s}}", "name", calls[i].name, "arguments", calls[i].key,
                                 calls[i].arg);
        json_t *req, *got = NULL;
        int out[TG_ACT_OUT_MAX], n;
        const char *arg;

        CU_ASSERT_EQUAL_FATAL(act_target_call(v, &s, call, t, &e), 0);
        CU_ASSERT(t->nalt >= 1);
        n = walk(v, &s, &t->alt[0], out);
        CU_ASSERT_FATAL(n > 0);
        req = act_request(v, &s, out, n, &got);
        CU_ASSERT_FATAL(req != NULL && got != NULL);
        CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(got, "name")), calls[i].name);
        arg = json_string_value(json_object_get(json_object_get(got, "arguments"), calls[i].key));
        CU_ASSERT_PTR_NOT_NULL_FATAL(arg);
        if (strcmp(arg, calls[i].want ? calls[i].want : calls[i].arg) != 0)
            fprintf(stderr, "\n  %s '%s' decoded as '%s'", calls[i].name, calls[i].arg, arg);
        CU_ASSERT_STRING_EQUAL(arg, calls[i].want ? calls[i].want : calls[i].arg);
        json_decref(req);
        json_decref(got);
        json_decref(call);
    }
    seq_free(&s);
    free(vw);
    free(v);
    free(t);
}

/* a word the input does not show and the vocabulary lacks cannot be written: the reason says
 * which */
TG_TEST(act, unwritable_calls_are_refused_with_a_reason) {
    struct view *vw = malloc(sizeof(*vw));
    struct act_vocab *v = malloc(sizeof(*v));
    struct act_targets *t = malloc(sizeof(*t));
    struct seq s;
    struct tg_error e;
    json_t *call;

    CU_ASSERT_FATAL(vw && v && t);
    view_with_search(vw);
    vocab(v);
    CU_ASSERT_EQUAL_FATAL(seq_alloc(&s, 0, 0, 0, &e), 0);
    seq_build(&s, vw, v, 1024, NULL);
    call = json_pack("{s:s,s:{s:s}}", "name", "search", "arguments", "query", "Mivor elevation");
    CU_ASSERT_EQUAL(act_target_call(v, &s, call, t, &e), TG_ENOTFOUND);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "elevation"));
    json_decref(call);
    call = json_pack("{s:s,s:{s:s}}", "name", "calculator", "arguments", "expression", "48211 * 7");
    CU_ASSERT_EQUAL(act_target_call(v, &s, call, t, &e), TG_ENOTFOUND);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "7"));
    json_decref(call);
    seq_free(&s);
    free(vw);
    free(v);
    free(t);
}

/* symbols come from the expert calls: a word or constant used at least min_count times, a
 * program whose varying numbers become slots */
TG_TEST(act, symbols_are_learned_from_frequent_expert_use) {
    struct act_learner *l = act_learner_new();
    struct act_vocab *v = malloc(sizeof(*v));
    struct tg_error e;
    static const char *const towns[] = {"Mivor", "Lunsel", "Carde"};
    double args[8];
    int nargs;

    CU_ASSERT_FATAL(l && v);
    for (int i = 0; i < 3; i++) {
        struct view vw;
        char prompt[128], code[128];
        json_t *call;

        snprintf(prompt, sizeof(prompt), "How many people live in %s? Triple it.", towns[i]);
        CU_ASSERT_EQUAL_FATAL(view_init(&vw, prompt, 6, &e), 0);
        call = json_pack("{s:s,s:{s:s}}", "name", "search", "arguments", "query",
                         i < 2 ? "population" : "residents");
        CU_ASSERT_EQUAL(act_learner_add(l, &vw, call), 0);
        json_decref(call);
        snprintf(code, sizeof(code), "print(sum(range(%d)))", 10 + i);
        call = json_pack("{s:s,s:{s:s}}", "name", "run_code", "arguments", "code", code);
        CU_ASSERT_EQUAL(act_learner_add(l, &vw, call), 0);
        json_decref(call);
        call = json_pack("{s:s,s:{s:s}}", "name", "calculator", "arguments", "expression", "3 * 5");
        CU_ASSERT_EQUAL(act_learner_add(l, &vw, call), 0);
        json_decref(call);
    }
    act_learner_finish(l, 2, v);
    CU_ASSERT_EQUAL(v->nword, 1);
    CU_ASSERT_STRING_EQUAL(v->word[0], "population"); /* "residents": once only */
    CU_ASSERT_EQUAL(v->nconst, 2);                    /* 3 and 5: not in the prompts */
    CU_ASSERT_EQUAL(v->ntmpl, 1);
    CU_ASSERT_EQUAL(v->nslots[0], 1);
    CU_ASSERT_EQUAL(act_vocab_match_code(v, "print(sum(range(77)))", args, &nargs), 0);
    CU_ASSERT_EQUAL(nargs, 1);
    CU_ASSERT_DOUBLE_EQUAL(args[0], 77, 1e-12);
    CU_ASSERT_EQUAL(act_vocab_match_code(v, "print(42)", args, &nargs), -1);
    CU_ASSERT_EQUAL(nargs, 0);
    CU_ASSERT_EQUAL(act_nsym(v), SYM_FIXED + 4);
    /* a higher bar learns nothing from three tasks but what all three share */
    act_learner_finish(l, 3, v);
    CU_ASSERT_EQUAL(v->nword, 0);
    CU_ASSERT_EQUAL(v->ntmpl, 1);
    act_learner_free(l);
    free(v);
}
