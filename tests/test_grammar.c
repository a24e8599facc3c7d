/*
 * test_grammar.c — suite `grammar`: loading grammar files, the static check (references,
 * cycles, placeholders, required placeholders, held-out productions) with errors that name
 * the file and the production, and expansion (scoped references and their fallback, flags,
 * random numbers, escapes, tidying, tags, frames, held-out productions only in ood, and
 * determinism).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/grammar.h"
#include "tg_test.h"

static const char *const ph[] = {"E", "E2", "D", "K", "V", "V2"};
static const char *const flags[] = {"round"};
static const struct grammar_names names = {ph, 6, flags, 1, {"E", "E2", "D"}, {"V", "V2", NULL}};

enum { P_E, P_E2, P_D, P_K, P_V, P_V2 };

/* Write text to a new temporary file named like `base` (for the messages); path[] gets it. */
static void write_tmp(const char *text, char *path, size_t n, const char *base) {
    FILE *f;

    snprintf(path, n, "/tmp/tg_grammar_%d_%s", (int)getpid(), base);
    f = fopen(path, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs(text, f);
    fclose(f);
}

/* Load one grammar text; returns the rc, *g set on success, err filled on failure. */
static int load_text(const char *text, struct grammar **g, struct tg_error *err) {
    char path[256];
    const char *paths[1] = {path};
    int rc;

    write_tmp(text, path, sizeof(path), "g.json");
    rc = grammar_load_files(paths, 1, &names, g, err);
    unlink(path);
    return rc;
}

static const char good[] =
    "{\"about\": \"test grammar\",\n"
    " \"rules\": {\n"
    "  \"root\": [\"<greet> <q|round> <ask>\"],\n"
    "  \"greet\": [{\"text\": \"hello.\", \"tag\": \"opener:greeting\"},\n"
    "             {\"text\": \"yo.\", \"tag\": \"opener:casual\", \"ood\": true}],\n"
    "  \"q\": [\"round it.\"],\n"
    "  \"ask\": [{\"text\": \"what is <@np> times {K}?\", \"tags\": [\"form:direct\"]}],\n"
    "  \"np\": [\"the <@noun> of {X}\"],\n"
    "  \"pair\": [\"<@1:np> and <@2:np> near <@d:place>; page {n:3-3} \\\\<ok\\\\>.\"],\n"
    "  \"place\": [\"somewhere\"],\n"
    "  \"state\": [\"<@1:say>, and <@2:say>.\"]\n"
    " },\n"
    " \"attributes\": {\"city.population\": {\"year\": false, \"rules\": {\n"
    "    \"noun\": [\"population\"], \"say\": [\"{X} has {XV} people\"]}}},\n"
    " \"kinds\": {\"city\": {\"rules\": {\"noun\": [\"size\"], \"place\": [\"in {X}\"],\n"
    "    \"say\": [\"{X} is a city of {XV}\"]}}}\n"
    "}\n";

static void expand_ok(const struct grammar *g, const char *root, const struct grammar_ctx *ctx,
                      struct grammar_out *o) {
    struct tg_error err;
    int rc = grammar_expand(g, root, ctx, o, &err);

    if (rc)
        fprintf(stderr, "expand %s: %s\n", root, err.message);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
}

TG_TEST(grammar, expands_scopes_flags_numbers_and_tidies) {
    struct grammar *g = NULL;
    struct tg_error err;
    struct grammar_binding b;
    struct grammar_ctx ctx;
    struct grammar_out *o = malloc(sizeof(*o));
    const char *vals[6] = {"Varnholt", "Mivor", "Kelfa", "7", "48,211", "1505"};
    struct rng r;

    CU_ASSERT_FATAL(o != NULL);
    CU_ASSERT_EQUAL_FATAL(load_text(good, &g, &err), 0);
    CU_ASSERT(grammar_has_rule(g, "attr.city.population.noun"));
    CU_ASSERT(grammar_has_rule(g, "kind.city.place"));
    CU_ASSERT_EQUAL(grammar_rule_count(g), 13);
    memset(&b, 0, sizeof(b));
    b.slot[GRAMMAR_SLOT_1].kind = "city";
    b.slot[GRAMMAR_SLOT_1].key = "population";
    b.slot[GRAMMAR_SLOT_2].kind = "city";
    b.slot[GRAMMAR_SLOT_2].key = "area_km2"; /* no attribute rules: falls back to the kind */
    b.slot[GRAMMAR_SLOT_D].kind = "city";
    memset(&ctx, 0, sizeof(ctx));
    ctx.b = &b;
    ctx.values = vals;
    ctx.ood_boost = 1;
    ctx.rng = &r;
    rng_seed(&r, 1);

    /* attribute scope first; the flag is off, so <q|round> is empty; sentences capitalised */
    expand_ok(g, "root", &ctx, o);
    CU_ASSERT_STRING_EQUAL(o->text, "Hello. What is the population of Varnholt times 7?");
    CU_ASSERT_STRING_EQUAL(o->frame, "Hello. What is the population of {E} times {K}?");
    CU_ASSERT_EQUAL(o->ntags, 2);
    CU_ASSERT_STRING_EQUAL(o->tags[0], "opener:greeting");
    CU_ASSERT_STRING_EQUAL(o->tags[1], "form:direct");
    CU_ASSERT(!o->heldout);
    CU_ASSERT(o->first[P_E] >= 0 && o->first[P_E] < o->first[P_K]);
    CU_ASSERT_EQUAL(o->first[P_E2], -1);
    CU_ASSERT_STRING_EQUAL(o->text + o->first[P_K], "7?");

    /* the flag switches the conditional reference on */
    ctx.flags = 1u;
    expand_ok(g, "root", &ctx, o);
    CU_ASSERT_STRING_EQUAL(o->text, "Hello. Round it. What is the population of Varnholt times 7?");
    ctx.flags = 0;

    /* slots 1, 2 and d: kind fallback, {n:3-3}, escapes */
    expand_ok(g, "pair", &ctx, o);
    CU_ASSERT_STRING_EQUAL(o->text,
                           "The population of Varnholt and the size of Mivor near in Kelfa; page "
                           "3 <ok>.");
    CU_ASSERT_STRING_EQUAL(
        o->frame, "The population of {E} and the size of {E2} near in {D}; page {N} <ok>.");

    /* {XV}: each slot's stated value */
    expand_ok(g, "state", &ctx, o);
    CU_ASSERT_STRING_EQUAL(o->text, "Varnholt has 48,211 people, and Mivor is a city of 1505.");

    /* keep_case: a phrase, not a sentence */
    ctx.keep_case = 1;
    expand_ok(g, "np", &ctx, o);
    CU_ASSERT_STRING_EQUAL(o->text, "the population of Varnholt");
    ctx.keep_case = 0;

    /* held-out productions only when ood is on (boosted here so it is drawn) */
    ctx.ood = 1;
    ctx.ood_boost = 1000;
    expand_ok(g, "root", &ctx, o);
    CU_ASSERT(strncmp(o->text, "Yo.", 3) == 0);
    CU_ASSERT(o->heldout);
    {
        json_t *held = grammar_heldout_tags(g);

        CU_ASSERT_EQUAL(json_array_size(held), 1);
        CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(held, 0)), "opener:casual");
        json_decref(held);
    }
    /* the same seed, the same text */
    {
        char a[TG_TASK_PROMPT_MAX];
        int same = 1;

        for (int seed = 0; seed < 20; seed++) {
            rng_seed(&r, (uint64_t)seed);
            expand_ok(g, "root", &ctx, o);
            snprintf(a, sizeof(a), "%s", o->text);
            rng_seed(&r, (uint64_t)seed);
            expand_ok(g, "root", &ctx, o);
            same &= strcmp(a, o->text) == 0;
        }
        CU_ASSERT(same);
    }
    grammar_free(g);
    free(o);
}

TG_TEST(grammar, check_requires_placeholders_and_resolution) {
    struct grammar *g = NULL;
    struct tg_error err;
    struct grammar_binding b;
    unsigned all = (1u << 6) - 1;

    CU_ASSERT_EQUAL_FATAL(load_text(good, &g, &err), 0);
    memset(&b, 0, sizeof(b));
    b.slot[GRAMMAR_SLOT_1].kind = "city";
    b.slot[GRAMMAR_SLOT_1].key = "population";
    b.slot[GRAMMAR_SLOT_D].kind = "city";
    CU_ASSERT_EQUAL(grammar_check(g, "root", &b, all, (1u << P_E) | (1u << P_K), 0, "t", &err), 0);
    CU_ASSERT_EQUAL(grammar_check(g, "root", &b, all, 0, 1, "t", &err), 0);
    /* K not provided */
    CU_ASSERT_EQUAL(grammar_check(g, "root", &b, all & ~(1u << P_K), 0, 0, "t", &err), TG_EINVAL);
    CU_ASSERT(strstr(err.message, "production ask[0]") != NULL);
    CU_ASSERT(strstr(err.message, "{K} is not provided") != NULL);
    /* slot 2 unbound: <@2:np> cannot resolve */
    CU_ASSERT_EQUAL(grammar_check(g, "pair", &b, all, 0, 0, "family f, operation o", &err),
                    TG_EINVAL);
    CU_ASSERT(strstr(err.message, "production pair[0]") != NULL);
    CU_ASSERT(strstr(err.message, "family f, operation o") != NULL);
    /* an unknown kind: nothing to fall back on for <@noun> */
    b.slot[GRAMMAR_SLOT_1].kind = "ship";
    CU_ASSERT_EQUAL(grammar_check(g, "root", &b, all, 0, 0, "t", &err), TG_EINVAL);
    CU_ASSERT(strstr(err.message, "kind.ship.noun") != NULL);
    CU_ASSERT_EQUAL(grammar_check(g, "nope", &b, all, 0, 0, "t", &err), TG_EINVAL);
    grammar_free(g);
}

/* Each bad grammar, the words its error must contain. */
TG_TEST(grammar, load_errors_name_the_file_and_production) {
    static const struct {
        const char *text, *want1, *want2;
    } cases[] = {
        {"{\"rules\": {\"a\": [\"x {Q} y\"]}}", "production a[0]", "unknown placeholder {Q}"},
        {"{\"rules\": {\"a\": []}}", "rule a", "empty production list"},
        {"{\"rules\": {\"a\": [\"<b>\"]}}", "production a[0]", "unknown rule <b>"},
        {"{\"rules\": {\"a\": [\"ok\", \"<b|nope>\"], \"b\": [\"x\"]}}", "production a[1]",
         "unknown flag"},
        {"{\"rules\": {\"a\": [\"x <b\"]}}", "production a[0]", "unclosed"},
        {"{\"rules\": {\"a\": [\"x > y\"]}}", "production a[0]", "stray >"},
        {"{\"rules\": {\"a\": [\"{n:9-3}\"]}}", "production a[0]", "bad range"},
        {"{\"rules\": {\"a\": [{\"text\": \"x\", \"tag\": \"Bad Tag\"}]}}", "production a[0]",
         "malformed tag"},
        {"{\"rules\": {\"a\": [{\"text\": \"x\", \"ood\": true}]}}", "production a[0]",
         "needs a tag that no other production carries"},
        {"{\"rules\": {\"a\": [{\"text\": \"x\", \"ood\": true, \"tag\": \"t:x\"}, "
         "{\"text\": \"y\", \"tag\": \"t:x\"}]}}",
         "production a[0]", "needs a tag"},
        {"{\"rules\": {\"a\": [{\"text\": \"x\", \"colour\": 1}]}}", "production a[0]",
         "unknown field \"colour\""},
        {"{\"rulez\": {}}", "unknown section \"rulez\"", "g.json"},
        {"{\"rules\": {\"a\": [\"x\"], \"a\": [\"y\"]}}", "g.json", "duplicate"},
        {"{\"attributes\": {\"population\": {}}}", "attribute \"population\"", "<kind>.<key>"},
        {"{\"rules\": {\"A b\": [\"x\"]}}", "rule \"A b\"", "lowercase"},
        {"[1, 2]", "g.json", "must hold a JSON object"},
        {"{\"rules\": {\"a\": [\"x\\\\q\"]}}", "production a[0]", "unknown escape"},
    };
    for (size_t i = 0; i < TG_ARRAY_LEN(cases); i++) {
        struct grammar *g = NULL;
        struct tg_error err;
        int rc = load_text(cases[i].text, &g, &err);

        CU_ASSERT(rc != 0);
        CU_ASSERT_PTR_NULL(g);
        if (!strstr(err.message, cases[i].want1) || !strstr(err.message, cases[i].want2)) {
            fprintf(stderr, "case %zu: %s\n", i, err.message);
            CU_FAIL("error message");
        }
        CU_ASSERT(strstr(err.message, "g.json") != NULL);
    }
}

TG_TEST(grammar, check_finds_cycles_missing_placeholders_and_all_held_out) {
    static const char text[] = "{\"rules\": {\n"
                               " \"loop\": [\"a <mid>\"], \"mid\": [\"b\", \"<loop>\"],\n"
                               " \"plan\": [\"x <opt>\"], \"opt\": [\"{K} here\", \"<deeper>\"],\n"
                               " \"deeper\": [\"{K}\", \"nothing\"],\n"
                               " \"held\": [{\"text\": \"h\", \"ood\": true, \"tag\": \"h:x\"}]\n"
                               "}}";
    struct grammar *g = NULL;
    struct tg_error err;
    struct grammar_binding b;

    memset(&b, 0, sizeof(b));
    CU_ASSERT_EQUAL_FATAL(load_text(text, &g, &err), 0);
    CU_ASSERT_EQUAL(grammar_check(g, "loop", &b, ~0u, 0, 0, "t", &err), TG_EINVAL);
    CU_ASSERT(strstr(err.message, "cycle") != NULL);
    CU_ASSERT(strstr(err.message, "g.json") != NULL);
    /* the plan needs {K}; the production that can do without it is deeper[1] */
    CU_ASSERT_EQUAL(grammar_check(g, "plan", &b, ~0u, 1u << P_K, 0, "family f", &err), TG_EINVAL);
    CU_ASSERT(strstr(err.message, "production deeper[1]") != NULL);
    CU_ASSERT(strstr(err.message, "without {K}") != NULL);
    CU_ASSERT(strstr(err.message, "expert plan of family f cannot be built") != NULL);
    CU_ASSERT_EQUAL(grammar_check(g, "plan", &b, ~0u, 0, 0, "t", &err), 0);
    /* a rule whose every production is held out cannot expand outside ood */
    CU_ASSERT_EQUAL(grammar_check(g, "held", &b, ~0u, 0, 0, "t", &err), TG_EINVAL);
    CU_ASSERT(strstr(err.message, "held out") != NULL);
    CU_ASSERT_EQUAL(grammar_check(g, "held", &b, ~0u, 0, 1, "t", &err), 0);
    grammar_free(g);
}

TG_TEST(grammar, files_merge_and_conflicts_name_both) {
    char p1[256], p2[256];
    const char *paths[2] = {p1, p2};
    struct grammar *g = NULL;
    struct tg_error err;

    write_tmp("{\"rules\": {\"a\": [\"<b>\"]}, \"families\": {\"f\": {\"ops\": {}}}}", p1,
              sizeof(p1), "one.json");
    write_tmp("{\"rules\": {\"b\": [\"x\"]}}", p2, sizeof(p2), "two.json");
    CU_ASSERT_EQUAL(grammar_load_files(paths, 2, &names, &g, &err), 0);
    CU_ASSERT_PTR_NOT_NULL(json_object_get(grammar_families(g), "f"));
    CU_ASSERT(strstr(grammar_file_of(g, "families", "f"), "one.json") != NULL);
    CU_ASSERT(strstr(grammar_file_of(g, "rules", "b"), "two.json") != NULL);
    grammar_free(g);
    write_tmp("{\"rules\": {\"a\": [\"y\"]}}", p2, sizeof(p2), "two.json");
    CU_ASSERT_EQUAL(grammar_load_files(paths, 2, &names, &g, &err), TG_EINVAL);
    CU_ASSERT(strstr(err.message, "rule a is already defined") != NULL);
    CU_ASSERT(strstr(err.message, "one.json") && strstr(err.message, "two.json"));
    unlink(p1);
    unlink(p2);
    CU_ASSERT_EQUAL(grammar_load_dir("/nonexistent/grammar", &names, &g, &err), TG_EIO);
}

TG_TEST(grammar, article_before_a_vowel_name) {
    static const char text[] = "{\"rules\": {\"a\": [\"I saw a {E}, a unit and a {E2}.\"]}}";
    struct grammar *g = NULL;
    struct tg_error err;
    struct grammar_binding b;
    struct grammar_ctx ctx;
    struct grammar_out *o = malloc(sizeof(*o));
    const char *vals[6] = {"Ostbrenyra", "Kelfa", NULL, NULL, NULL, NULL};
    struct rng r;

    CU_ASSERT_FATAL(o != NULL);
    CU_ASSERT_EQUAL_FATAL(load_text(text, &g, &err), 0);
    memset(&b, 0, sizeof(b));
    memset(&ctx, 0, sizeof(ctx));
    ctx.b = &b;
    ctx.values = vals;
    ctx.rng = &r;
    ctx.ood_boost = 1;
    rng_seed(&r, 3);
    expand_ok(g, "a", &ctx, o);
    CU_ASSERT_STRING_EQUAL(o->text, "I saw an Ostbrenyra, a unit and a Kelfa.");
    grammar_free(g);
    free(o);
}
