/*
 * taskgen.c — deterministic task generation with verified expert trajectories, and the
 * files they are written to. See taskgen.h and docs/tasks.md. (`toolgym tasks gen|check` is
 * cmd/cmd_tasks.c.)
 * It does not serve tasks; it writes only the files it is asked to.
 */
#include "server/taskgen.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/datadir.h"
#include "base/hash.h"
#include "base/num.h"
#include "base/rng.h"
#include "tools/calc.h"
#include "tools/corpus.h"
#include "tools/search.h"
#include "tools/tools.h"
#include "server/judge.h"

#define TASKGEN_ATTEMPTS 64 /* candidates tried per task slot before giving up */

/* ---- draws ------------------------------------------------------------------------------ */

/* Draws come from a splitmix64 stream (base/rng.h) held in a uint64_t. Each candidate's
 * stream starts at a seed derived with rng_mix64 and skips its first value, as taskgen always
 * has: the shipped data/tasks files depend on the exact stream. */

/* Uniform integer in [lo, hi]. */
static long long draw_range(uint64_t *r, long long lo, long long hi) {
    return lo + (long long)(rng_splitmix64(r) % (uint64_t)(hi - lo + 1));
}

int taskgen_is_test_entity(unsigned long long seed, const char *doc_id) {
    return rng_mix64(seed ^ rng_mix64(hash_tg_str(doc_id))) % 5 == 0; /* about 20% of entities */
}

/* ---- templates -------------------------------------------------------------------------- */

/*
 * One prompt template. op selects what the task computes (family-specific); placeholders:
 * {E} {E2} entity titles, {N} the fact's noun phrase, {X} an expression, {A} {B} {C} {K} {M}
 * numbers, {P} a person's first name, {R} a rounding instruction (may be empty).
 */
struct tpl {
    enum task_family fam;
    int test;
    int op;
    const char *text;
};

enum { MENTAL_ADD, MENTAL_MUL, MENTAL_STORY_ADD, MENTAL_SUB, MENTAL_ECHO, MENTAL_STORY_SUB };
enum { LA_MUL, LA_ADD, LA_SUB, LA_DIV, LA_OPS };
enum { ML_DIFF, ML_SUM, ML_MEAN, ML_OPS };
enum { ALGO_PRIMES, ALGO_FIB, ALGO_DIGITS, ALGO_COLLATZ, ALGO_OPS };

static const struct tpl templates[] = {
    /* arith: op unused (the expression form is drawn separately) */
    {TASK_ARITH, 0, 0, "What is {X}?{R}"},
    {TASK_ARITH, 0, 0, "Calculate {X}.{R}"},
    {TASK_ARITH, 0, 0, "Compute the value of {X}.{R}"},
    {TASK_ARITH, 1, 0, "Evaluate {X} exactly.{R}"},
    {TASK_ARITH, 1, 0, "Work out {X}.{R}"},
    {TASK_ARITH, 1, 0, "Determine {X}.{R}"},
    /* mental */
    {TASK_MENTAL, 0, MENTAL_ADD, "What is {A} + {B}?"},
    {TASK_MENTAL, 0, MENTAL_MUL, "What is {A} times {B}?"},
    {TASK_MENTAL, 0, MENTAL_STORY_ADD,
     "{P} has {A} apples and buys {B} more. How many apples does {P} have now?"},
    {TASK_MENTAL, 0, MENTAL_SUB, "What is {A} minus {B}?"},
    {TASK_MENTAL, 0, MENTAL_ECHO, "A box holds {A} pens. How many pens does the box hold?"},
    {TASK_MENTAL, 1, MENTAL_ADD, "Add {A} and {B}."},
    {TASK_MENTAL, 1, MENTAL_MUL, "Multiply {A} by {B}."},
    {TASK_MENTAL, 1, MENTAL_STORY_SUB,
     "{P} had {A} marbles and gave away {B}. How many marbles does {P} have left?"},
    {TASK_MENTAL, 1, MENTAL_SUB, "Subtract {B} from {A}."},
    {TASK_MENTAL, 1, MENTAL_ECHO,
     "There are {A} chairs in the room. How many chairs are in the room?"},
    /* lookup */
    {TASK_LOOKUP, 0, 0, "What is the {N} of {E}?"},
    {TASK_LOOKUP, 0, 0, "Find the {N} of {E}."},
    {TASK_LOOKUP, 0, 0, "Look up the {N} of {E}."},
    {TASK_LOOKUP, 1, 0, "{E}: what is its {N}?"},
    {TASK_LOOKUP, 1, 0, "I need the {N} of {E}, please."},
    {TASK_LOOKUP, 1, 0, "Could you tell me the {N} of {E}?"},
    /* lookup_arith */
    {TASK_LOOKUP_ARITH, 0, LA_MUL, "What is {K} times the {N} of {E}?"},
    {TASK_LOOKUP_ARITH, 0, LA_ADD, "What is the {N} of {E} plus {C}?"},
    {TASK_LOOKUP_ARITH, 0, LA_SUB, "What is the {N} of {E} minus {C}?"},
    {TASK_LOOKUP_ARITH, 0, LA_DIV, "What is the {N} of {E} divided by {K}?{R}"},
    {TASK_LOOKUP_ARITH, 1, LA_MUL, "Multiply the {N} of {E} by {K}."},
    {TASK_LOOKUP_ARITH, 1, LA_ADD, "Take the {N} of {E} and add {C} to it."},
    {TASK_LOOKUP_ARITH, 1, LA_SUB, "If {C} is subtracted from the {N} of {E}, what remains?"},
    {TASK_LOOKUP_ARITH, 1, LA_DIV,
     "Split the {N} of {E} into {K} equal parts: how big is each part?{R}"},
    /* multi_lookup */
    {TASK_MULTI_LOOKUP, 0, ML_DIFF, "How much greater is the {N} of {E} than the {N} of {E2}?"},
    {TASK_MULTI_LOOKUP, 0, ML_SUM, "What is the {N} of {E} plus the {N} of {E2}?"},
    {TASK_MULTI_LOOKUP, 0, ML_MEAN, "What is the average {N} of {E} and {E2}?{R}"},
    {TASK_MULTI_LOOKUP, 1, ML_DIFF, "By how much does the {N} of {E} exceed that of {E2}?"},
    {TASK_MULTI_LOOKUP, 1, ML_SUM, "Give the combined {N} of {E} and {E2}."},
    {TASK_MULTI_LOOKUP, 1, ML_MEAN, "Compute the mean {N} of {E} and {E2}.{R}"},
    /* algo */
    {TASK_ALGO, 0, ALGO_PRIMES, "How many prime numbers are there below {K}?"},
    {TASK_ALGO, 0, ALGO_FIB,
     "What is the {K}-th Fibonacci number modulo {M}, with F(1) = F(2) = 1?"},
    {TASK_ALGO, 0, ALGO_DIGITS, "What is the sum of the digits of 2^{K}?"},
    {TASK_ALGO, 0, ALGO_COLLATZ,
     "How many Collatz steps does it take to reach 1 starting from {K}?"},
    {TASK_ALGO, 1, ALGO_PRIMES, "Count the primes smaller than {K}."},
    {TASK_ALGO, 1, ALGO_FIB,
     "Compute F({K}) mod {M}, where F(1) = F(2) = 1 and F(n) = F(n-1) + F(n-2)."},
    {TASK_ALGO, 1, ALGO_DIGITS, "Add up the decimal digits of 2 raised to the power {K}."},
    {TASK_ALGO, 1, ALGO_COLLATZ,
     "Starting at {K} and applying n -> n/2 (n even) or 3n+1 (n odd), count the steps needed "
     "to reach 1."},
};

/* The rounding instruction of each split ({R}); empty when no rounding is asked. */
static const char *const round_text[2] = {" Round to 2 decimal places.",
                                          " Give the result to two decimals."};
#define ROUND_TOL 0.005000001

const char *taskgen_template(enum task_family f, int test, size_t i) {
    for (size_t k = 0; k < TG_ARRAY_LEN(templates); k++) {
        if (templates[k].fam == f && templates[k].test == !!test) {
            if (i == 0)
                return templates[k].text;
            i--;
        }
    }
    return NULL;
}

/* A random template of (f, test), optionally with a given op (op < 0: any). */
static const struct tpl *pick_tpl(uint64_t *r, enum task_family f, int test, int op) {
    const struct tpl *c[16];
    size_t n = 0;

    for (size_t k = 0; k < TG_ARRAY_LEN(templates) && n < TG_ARRAY_LEN(c); k++)
        if (templates[k].fam == f && templates[k].test == test && (op < 0 || templates[k].op == op))
            c[n++] = &templates[k];
    return n ? c[rng_splitmix64(r) % n] : NULL;
}

struct kv {
    const char *k; /* placeholder name without braces */
    const char *v;
};

/* Render tpl with the placeholder values into buf (n bytes). TG_ERANGE if it does not fit. */
static int render(const char *tpl, const struct kv *kv, size_t nkv, char *buf, size_t n) {
    size_t o = 0;

    for (const char *p = tpl; *p;) {
        const char *v = NULL;
        size_t skip = 1;

        if (*p == '{') {
            for (size_t i = 0; i < nkv; i++) {
                size_t kl = strlen(kv[i].k);

                if (strncmp(p + 1, kv[i].k, kl) == 0 && p[1 + kl] == '}') {
                    v = kv[i].v;
                    skip = kl + 2;
                    break;
                }
            }
        }
        if (v) {
            size_t vl = strlen(v);

            if (o + vl >= n)
                return TG_ERANGE;
            memcpy(buf + o, v, vl);
            o += vl;
        } else {
            if (o + 1 >= n)
                return TG_ERANGE;
            buf[o++] = *p;
        }
        p += skip;
    }
    buf[o] = '\0';
    return 0;
}

/* ---- facts ------------------------------------------------------------------------------ */

/* Noun phrases for questions, where the attribute phrase alone does not read as a noun. */
static const struct {
    const char *key;
    const char *noun;
} fact_nouns[] = {
    {"founded", "year founded"},
    {"birth_year", "year born"},
    {"books_published", "number of books published"},
    {"awards_won", "number of awards won"},
    {"employees", "number of employees"},
    {"offices", "number of offices"},
    {"first_ascent", "year of the first ascent"},
    {"tributaries", "number of tributaries"},
    {"launched", "year launched"},
    {"crew", "crew size"},
    {"moons", "number of moons"},
    {"discovered", "year discovered"},
    {"patented", "year patented"},
    {"units_sold", "number of units sold"},
};

/* The question noun of fact key of kind into buf: the noun table, else "<phrase>". */
static int fact_noun(const char *kind, const char *key, char *buf, size_t n) {
    const char *phrase = corpus_fact_phrase(kind, key);

    for (size_t i = 0; i < TG_ARRAY_LEN(fact_nouns); i++)
        if (strcmp(fact_nouns[i].key, key) == 0)
            return snprintf(buf, n, "%s", fact_nouns[i].noun) < (int)n ? 0 : TG_ERANGE;
    if (!phrase)
        return TG_EINVAL;
    return snprintf(buf, n, "%s", phrase) < (int)n ? 0 : TG_ERANGE;
}

/* A fact of document d: its key (borrowed), value, and value as the text writes it. */
struct fact {
    size_t doc;
    const char *kind, *title, *id;
    char key[64];
    double value;
    char vstr[64];
    char noun[96];
    char phrase[64];
};

static int cmp_cstr(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Fill *f with fact `key` of doc (key NULL: a random one, keys taken in sorted order). */
static int get_fact(const struct corpus *c, size_t doc, const char *key, uint64_t *r,
                    struct fact *f) {
    const json_t *facts = corpus_doc_facts(c, doc), *v;
    const char *keys[32], *k;
    json_t *val;
    size_t n = 0;

    memset(f, 0, sizeof(*f));
    f->doc = doc;
    f->kind = corpus_doc_kind(c, doc);
    f->title = corpus_doc_title(c, doc);
    f->id = corpus_doc_id(c, doc);
    if (!key) {
        json_object_foreach((json_t *)facts, k, val) {
            (void)val;
            if (n < TG_ARRAY_LEN(keys) && json_is_number(val))
                keys[n++] = k;
        }
        if (!n)
            return TG_EINVAL;
        qsort(keys, n, sizeof(*keys), cmp_cstr);
        key = keys[rng_splitmix64(r) % n];
    }
    v = json_object_get(facts, key);
    if (!json_is_number(v) || !corpus_fact_phrase(f->kind, key))
        return TG_EINVAL;
    snprintf(f->key, sizeof(f->key), "%s", key);
    snprintf(f->phrase, sizeof(f->phrase), "%s", corpus_fact_phrase(f->kind, key));
    f->value = json_number_value(v);
    if (corpus_format_value(v, f->vstr, sizeof(f->vstr)))
        return TG_EINVAL;
    return fact_noun(f->kind, key, f->noun, sizeof(f->noun));
}

/* ---- building tasks --------------------------------------------------------------------- */

struct gen {
    const struct taskgen_config *cfg;
    struct corpus *corpus;
    size_t *docs[2]; /* entity documents of train (0) and test (1) */
    size_t ndocs[2];
};

/* A candidate task under construction. */
struct cand {
    enum task_family fam;
    char prompt[TG_TASK_PROMPT_MAX];
    json_t *answer;  /* new */
    json_t *plan;    /* new array */
    json_t *expert;  /* new array */
    char final[128]; /* the expert's final answer text; "" = the last observation */
};

static void cand_clear(struct cand *c) {
    json_decref(c->answer);
    json_decref(c->plan);
    json_decref(c->expert);
    memset(c, 0, sizeof(*c));
}

static json_t *num_json(double v) {
    if (v == floor(v) && fabs(v) < 9e15)
        return json_integer((json_int_t)v);
    return json_real(v);
}

static json_t *number_answer(double v, int rounded) {
    json_t *a = json_pack("{s:s, s:o}", "type", "number", "value", num_json(v));

    if (!a)
        return NULL;
    if (rounded)
        json_object_set_new(a, "tolerance", json_real(ROUND_TOL));
    else {
        json_object_set_new(a, "tolerance", json_real(1e-6));
        json_object_set_new(a, "rel_tolerance", json_real(1e-9));
    }
    return a;
}

static json_t *call_json(const char *tool, const char *argname, const char *argval) {
    return json_pack("{s:s, s:{s:s}}", "name", tool, "arguments", argname, argval);
}

/* The plan step of a search for fact f: the entity's name terms, its document, its value. */
static json_t *search_step(const struct fact *f, json_t *needs) {
    char(*terms)[SEARCH_TERM_MAX] = malloc(TG_TASK_TERMS_MAX * sizeof(*terms));
    json_t *arr = json_array(), *st = NULL;
    size_t n;

    if (!terms || !arr) {
        json_decref(needs);
        goto done;
    }
    n = search_tokenize(f->title, terms, TG_TASK_TERMS_MAX);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_string(terms[i]));
    st = json_pack("{s:s, s:{s:O, s:s, s:s}, s:s, s:o}", "tool", "search", "match", "query_terms",
                   arr, "hit", f->id, "shows", f->vstr, "yields", f->key, "needs", needs);
done:
    free(terms);
    json_decref(arr);
    return st;
}

static json_t *calc_step(double v, json_t *needs) {
    return json_pack("{s:s, s:{s:o}, s:s, s:o}", "tool", "calculator", "match", "value",
                     num_json(v), "yields", "result", "needs", needs);
}

/* The expert's search query for fact f: "<title> <phrase>". */
static json_t *search_call(const struct fact *f) {
    char q[256];

    snprintf(q, sizeof(q), "%s %s", f->title, f->phrase);
    return call_json("search", "query", q);
}

/* Evaluate expr with the real calculator. */
static int eval(const char *expr, double *v) {
    return calc_eval(expr, v, NULL);
}

/* %.2f without trailing zeros ("3.5", "12.25", "7"). */
static void fmt_dec(double v, char *buf, size_t n) {
    size_t l;

    snprintf(buf, n, "%.2f", v);
    l = strlen(buf);
    while (l > 0 && buf[l - 1] == '0')
        buf[--l] = '\0';
    if (l > 0 && buf[l - 1] == '.')
        buf[--l] = '\0';
}

static int build_arith(uint64_t *r, int test, struct cand *c) {
    const struct tpl *t = pick_tpl(r, TASK_ARITH, test, -1);
    char a[32], b[32], d[32], x[160];
    int form = (int)draw_range(r, 0, 7), rounded = form >= 4;
    double v;

    snprintf(a, sizeof(a), "%lld", draw_range(r, 1000, 99999));
    fmt_dec((double)draw_range(r, 101, 9999) / 100.0, b, sizeof(b));
    snprintf(d, sizeof(d), "%lld", draw_range(r, 100, 9999));
    switch (form) {
    case 0:
        snprintf(x, sizeof(x), "%s * %s - %s", a, b, d);
        break;
    case 1:
        snprintf(x, sizeof(x), "%s * %s + %s", a, b, d);
        break;
    case 2:
        snprintf(x, sizeof(x), "(%s + %s) * %s", a, d, b);
        break;
    case 3:
        snprintf(x, sizeof(x), "%s * %s - %s", a, d, b);
        break;
    case 4:
        snprintf(x, sizeof(x), "%s / %s", a, b);
        break;
    case 5:
        snprintf(x, sizeof(x), "(%s - %s) / %s", a, d, b);
        break;
    case 6:
        snprintf(x, sizeof(x), "sqrt(%s) * %s", a, b);
        break;
    default:
        snprintf(x, sizeof(x), "%s / %s + %s", d, b, a);
        break;
    }
    if (eval(x, &v))
        return TG_EINVAL;
    {
        struct kv kv[] = {{"X", x}, {"R", rounded ? round_text[test] : ""}};

        if (render(t->text, kv, TG_ARRAY_LEN(kv), c->prompt, sizeof(c->prompt)))
            return TG_ERANGE;
    }
    c->answer = number_answer(v, rounded);
    c->plan = json_pack("[o]", calc_step(v, json_array()));
    c->expert = json_pack("[o]", call_json("calculator", "expression", x));
    return 0;
}

static const char *const first_names[] = {"Alice", "Bob",  "Carol", "Dan",  "Erin",
                                          "Frank", "Gita", "Hugo",  "Ines", "Jonas",
                                          "Kira",  "Liam", "Mara",  "Nils", "Olga"};

static int build_mental(uint64_t *r, int test, struct cand *c) {
    static const int ops[2][5] = {
        {MENTAL_ADD, MENTAL_MUL, MENTAL_STORY_ADD, MENTAL_SUB, MENTAL_ECHO},
        {MENTAL_ADD, MENTAL_MUL, MENTAL_STORY_SUB, MENTAL_SUB, MENTAL_ECHO}};
    int op = ops[test][rng_splitmix64(r) % 5];
    const struct tpl *t = pick_tpl(r, TASK_MENTAL, test, op);
    long long a = draw_range(r, 2, 20), b = draw_range(r, 2, op == MENTAL_MUL ? 9 : 20), v;
    char as[24], bs[24];

    if ((op == MENTAL_SUB || op == MENTAL_STORY_SUB) && b > a) {
        long long tmp = a;

        a = b;
        b = tmp;
    }
    switch (op) {
    case MENTAL_ADD:
    case MENTAL_STORY_ADD:
        v = a + b;
        break;
    case MENTAL_MUL:
        v = a * b;
        break;
    case MENTAL_ECHO:
        v = a;
        break;
    default:
        v = a - b;
        break;
    }
    snprintf(as, sizeof(as), "%lld", a);
    snprintf(bs, sizeof(bs), "%lld", b);
    {
        struct kv kv[] = {{"A", as}, {"B", bs}, {"P", first_names[rng_splitmix64(r) % 15]}};

        if (render(t->text, kv, TG_ARRAY_LEN(kv), c->prompt, sizeof(c->prompt)))
            return TG_ERANGE;
    }
    c->answer = json_pack("{s:s, s:I}", "type", "int", "value", (json_int_t)v);
    c->plan = json_array();
    c->expert = json_array();
    snprintf(c->final, sizeof(c->final), "%lld", v);
    return 0;
}

static size_t pick_doc(struct gen *g, uint64_t *r, int test) {
    return g->docs[test][rng_splitmix64(r) % g->ndocs[test]];
}

static int build_lookup(struct gen *g, uint64_t *r, int test, struct cand *c) {
    const struct tpl *t = pick_tpl(r, TASK_LOOKUP, test, -1);
    struct fact f;

    if (get_fact(g->corpus, pick_doc(g, r, test), NULL, r, &f))
        return TG_EINVAL;
    {
        struct kv kv[] = {{"E", f.title}, {"N", f.noun}};

        if (render(t->text, kv, TG_ARRAY_LEN(kv), c->prompt, sizeof(c->prompt)))
            return TG_ERANGE;
    }
    c->answer = number_answer(f.value, 0);
    c->plan = json_pack("[o]", search_step(&f, json_array()));
    c->expert = json_pack("[o]", search_call(&f));
    snprintf(c->final, sizeof(c->final), "%s", f.vstr);
    return 0;
}

static int build_lookup_arith(struct gen *g, uint64_t *r, int test, struct cand *c) {
    int op = (int)(rng_splitmix64(r) % LA_OPS);
    const struct tpl *t = pick_tpl(r, TASK_LOOKUP_ARITH, test, op);
    char ks[24], cs[24], x[160];
    struct fact f;
    double v;

    if (get_fact(g->corpus, pick_doc(g, r, test), NULL, r, &f))
        return TG_EINVAL;
    snprintf(ks, sizeof(ks), "%lld", draw_range(r, 3, 19));
    snprintf(cs, sizeof(cs), "%lld", draw_range(r, 100, 9999));
    switch (op) {
    case LA_MUL:
        snprintf(x, sizeof(x), "%s * %s", f.vstr, ks);
        break;
    case LA_ADD:
        snprintf(x, sizeof(x), "%s + %s", f.vstr, cs);
        break;
    case LA_SUB:
        snprintf(x, sizeof(x), "%s - %s", f.vstr, cs);
        break;
    default:
        snprintf(x, sizeof(x), "%s / %s", f.vstr, ks);
        break;
    }
    if (eval(x, &v))
        return TG_EINVAL;
    {
        struct kv kv[] = {{"E", f.title},
                          {"N", f.noun},
                          {"K", ks},
                          {"C", cs},
                          {"R", op == LA_DIV ? round_text[test] : ""}};

        if (render(t->text, kv, TG_ARRAY_LEN(kv), c->prompt, sizeof(c->prompt)))
            return TG_ERANGE;
    }
    c->answer = number_answer(v, op == LA_DIV);
    c->plan = json_pack("[o, o]", search_step(&f, json_array()), calc_step(v, json_pack("[i]", 0)));
    c->expert = json_pack("[o, o]", search_call(&f), call_json("calculator", "expression", x));
    return 0;
}

static int build_multi(struct gen *g, uint64_t *r, int test, struct cand *c) {
    int op = (int)(rng_splitmix64(r) % ML_OPS);
    const struct tpl *t = pick_tpl(r, TASK_MULTI_LOOKUP, test, op);
    size_t d1 = pick_doc(g, r, test), d2 = d1;
    struct fact f1, f2;
    char x[200];
    double v;

    for (int i = 0; i < 200 && (d2 == d1 || strcmp(corpus_doc_kind(g->corpus, d1),
                                                   corpus_doc_kind(g->corpus, d2)) != 0);
         i++)
        d2 = pick_doc(g, r, test);
    if (d2 == d1 || strcmp(corpus_doc_kind(g->corpus, d1), corpus_doc_kind(g->corpus, d2)))
        return TG_EINVAL;
    if (get_fact(g->corpus, d1, NULL, r, &f1) || get_fact(g->corpus, d2, f1.key, r, &f2))
        return TG_EINVAL;
    if (op == ML_DIFF && f1.value <= f2.value) {
        struct fact tmp = f1;

        if (f1.value == f2.value)
            return TG_EINVAL;
        f1 = f2;
        f2 = tmp;
    }
    if (op == ML_DIFF)
        snprintf(x, sizeof(x), "%s - %s", f1.vstr, f2.vstr);
    else if (op == ML_SUM)
        snprintf(x, sizeof(x), "%s + %s", f1.vstr, f2.vstr);
    else
        snprintf(x, sizeof(x), "(%s + %s) / 2", f1.vstr, f2.vstr);
    if (eval(x, &v))
        return TG_EINVAL;
    {
        struct kv kv[] = {{"E2", f2.title},
                          {"E", f1.title},
                          {"N", f1.noun},
                          {"R", op == ML_MEAN ? round_text[test] : ""}};

        if (render(t->text, kv, TG_ARRAY_LEN(kv), c->prompt, sizeof(c->prompt)))
            return TG_ERANGE;
    }
    c->answer = number_answer(v, op == ML_MEAN);
    c->plan = json_pack("[o, o, o]", search_step(&f1, json_array()), search_step(&f2, json_array()),
                        calc_step(v, json_pack("[i, i]", 0, 1)));
    c->expert = json_pack("[o, o, o]", search_call(&f1), search_call(&f2),
                          call_json("calculator", "expression", x));
    return 0;
}

/* ---- algo: reference answers in C, programs in Python ----------------------------------- */

static long long count_primes_below(long long n) {
    char *composite = calloc((size_t)n + 1, 1);
    long long count = 0;

    if (!composite)
        return -1;
    for (long long i = 2; i < n; i++) {
        if (composite[i])
            continue;
        count++;
        for (long long j = i * i; j < n; j += i)
            composite[j] = 1;
    }
    free(composite);
    return count;
}

static long long fib_mod(long long k, long long m) {
    unsigned long long a = 1, b = 1;

    for (long long i = 0; i < k - 2; i++) {
        unsigned long long nb = (a + b) % (unsigned long long)m;

        a = b;
        b = nb;
    }
    return (long long)(b % (unsigned long long)m);
}

static long long digit_sum_pow2(long long k) {
    unsigned char d[4096] = {1}; /* little-endian decimal digits; 2^5000 has 1506 */
    size_t n = 1;
    long long s = 0;

    for (long long i = 0; i < k; i++) {
        int carry = 0;

        for (size_t j = 0; j < n; j++) {
            int x = d[j] * 2 + carry;

            d[j] = (unsigned char)(x % 10);
            carry = x / 10;
        }
        if (carry && n < sizeof(d))
            d[n++] = (unsigned char)carry;
    }
    for (size_t j = 0; j < n; j++)
        s += d[j];
    return s;
}

static long long collatz_steps(long long n) {
    unsigned long long x = (unsigned long long)n;
    long long steps = 0;

    while (x != 1) {
        x = (x % 2 == 0) ? x / 2 : 3 * x + 1;
        steps++;
    }
    return steps;
}

static int build_algo(uint64_t *r, int test, struct cand *c) {
    static const long long mods[] = {1000, 10007, 1000007, 998244353};
    int op = (int)(rng_splitmix64(r) % ALGO_OPS);
    const struct tpl *t = pick_tpl(r, TASK_ALGO, test, op);
    char code[1024], ks[24], ms[24], out[32];
    long long k, m = mods[rng_splitmix64(r) % 4], v;

    switch (op) {
    case ALGO_PRIMES:
        k = draw_range(r, 1000, 200000);
        v = count_primes_below(k);
        snprintf(code, sizeof(code),
                 "n = %lld\n"
                 "sieve = bytearray([1]) * n\n"
                 "sieve[0:2] = b'\\x00\\x00'\n"
                 "for i in range(2, int(n ** 0.5) + 1):\n"
                 "    if sieve[i]:\n"
                 "        sieve[i * i::i] = bytearray(len(range(i * i, n, i)))\n"
                 "print(sum(sieve))\n",
                 k);
        break;
    case ALGO_FIB:
        k = draw_range(r, 100, 100000);
        v = fib_mod(k, m);
        snprintf(code, sizeof(code),
                 "a, b = 1, 1\n"
                 "for _ in range(%lld - 2):\n"
                 "    a, b = b, (a + b) %% %lld\n"
                 "print(b %% %lld)\n",
                 k, m, m);
        break;
    case ALGO_DIGITS:
        k = draw_range(r, 100, 5000);
        v = digit_sum_pow2(k);
        snprintf(code, sizeof(code), "print(sum(int(d) for d in str(2 ** %lld)))\n", k);
        break;
    default:
        k = draw_range(r, 1000, 1000000);
        v = collatz_steps(k);
        snprintf(code, sizeof(code),
                 "n, steps = %lld, 0\n"
                 "while n != 1:\n"
                 "    n = n // 2 if n %% 2 == 0 else 3 * n + 1\n"
                 "    steps += 1\n"
                 "print(steps)\n",
                 k);
        break;
    }
    if (v < 0)
        return TG_ENOMEM;
    snprintf(ks, sizeof(ks), "%lld", k);
    snprintf(ms, sizeof(ms), "%lld", m);
    snprintf(out, sizeof(out), "%lld", v);
    {
        struct kv kv[] = {{"K", ks}, {"M", ms}};

        if (render(t->text, kv, TG_ARRAY_LEN(kv), c->prompt, sizeof(c->prompt)))
            return TG_ERANGE;
    }
    c->answer = json_pack("{s:s, s:I}", "type", "int", "value", (json_int_t)v);
    c->plan = json_pack("[{s:s, s:{s:s}, s:s, s:[]}]", "tool", "run_code", "match", "stdout", out,
                        "yields", "result", "needs");
    c->expert = json_pack("[o]", call_json("run_code", "code", code));
    return 0;
}

/* ---- verification ----------------------------------------------------------------------- */

/*
 * Run the expert calls of t through the registry, judging each. Returns 1 if every call was
 * necessary, the plan is complete and the final answer (c->final, or the last observation's
 * content) is correct; 0 if not (a rejected candidate); a negative tg_err when a tool is
 * missing or failed (the environment, not the task, is broken: generation stops).
 */
static int verify(const struct task *t, const struct cand *c, size_t *ncalls,
                  struct tg_error *err) {
    struct judge_state js;
    struct judge_verdict v;
    char *last = NULL;
    const json_t *call;
    size_t i;
    int ok = 1, rc = 0;

    judge_state_init(&js);
    json_array_foreach(t->expert, i, call) {
        const char *name = json_string_value(json_object_get(call, "name"));
        const json_t *args = json_object_get(call, "arguments");
        const struct tool *tool = tools_find(name);
        struct tool_result res;
        struct judge_call jc;
        struct tg_error e;

        memset(&res, 0, sizeof(res));
        if (!tool) {
            tg_error_set(err, "tool_unavailable", "tool %s is not available to verify tasks", name);
            rc = TG_ESTATE;
            goto done;
        }
        rc = tools_call(tool, args, &res, &e);
        (*ncalls)++;
        if (rc) {
            tg_error_set(err, e.code, "expert call to %s failed: %s", name, e.message);
            goto done;
        }
        if (!res.ok) {
            tg_error_set(err, "tool_failed", "expert call to %s failed: %s: %s", name, res.err.code,
                         res.err.message);
            tool_result_clear(&res);
            rc = TG_EIO;
            goto done;
        }
        jc.tool = name;
        jc.args = args;
        jc.outcome = JUDGE_TOOL_OK;
        jc.result = res.result;
        rc = judge_call(t, &js, &jc, &v);
        free(last);
        last = res.content;
        res.content = NULL;
        tool_result_clear(&res);
        if (rc)
            goto done;
        if (v.label != JUDGE_NECESSARY)
            ok = 0;
    }
    if (!judge_plan_complete(t, &js))
        ok = 0;
    rc = judge_answer(t, &js, c->final[0] ? c->final : (last ? last : ""), &v);
    if (rc)
        goto done;
    if (!v.correct || v.premature_answer)
        ok = 0;
    rc = ok;
done:
    free(last);
    judge_state_clear(&js);
    return rc;
}

/* ---- generation ------------------------------------------------------------------------- */

static const enum task_family schedule[20] = {
    TASK_ARITH,  TASK_LOOKUP,       TASK_LOOKUP_ARITH, TASK_MENTAL, TASK_MULTI_LOOKUP,
    TASK_ARITH,  TASK_LOOKUP,       TASK_LOOKUP_ARITH, TASK_ALGO,   TASK_ARITH,
    TASK_LOOKUP, TASK_MULTI_LOOKUP, TASK_LOOKUP_ARITH, TASK_MENTAL, TASK_ARITH,
    TASK_LOOKUP, TASK_LOOKUP_ARITH, TASK_MULTI_LOOKUP, TASK_ALGO,   TASK_MENTAL,
};

static int build(struct gen *g, uint64_t *r, enum task_family f, int test, struct cand *c) {
    c->fam = f;
    switch (f) {
    case TASK_ARITH:
        return build_arith(r, test, c);
    case TASK_MENTAL:
        return build_mental(r, test, c);
    case TASK_LOOKUP:
        return build_lookup(g, r, test, c);
    case TASK_LOOKUP_ARITH:
        return build_lookup_arith(g, r, test, c);
    case TASK_MULTI_LOOKUP:
        return build_multi(g, r, test, c);
    default:
        return build_algo(r, test, c);
    }
}

/* Open-addressing set of prompt hashes, to keep prompts unique within a split. */
struct seen {
    uint64_t *h;
    size_t cap;
};

static int seen_add(struct seen *s, const char *prompt) {
    uint64_t h = hash_tg_str(prompt) | 1;
    size_t i = h & (s->cap - 1);

    while (s->h[i]) {
        if (s->h[i] == h)
            return 0;
        i = (i + 1) & (s->cap - 1);
    }
    s->h[i] = h;
    return 1;
}

static int gen_split(struct gen *g, int test, size_t n, json_t *out, struct taskgen_stats *st,
                     struct tg_error *err) {
    struct seen seen = {NULL, 1};
    int rc = 0;

    while (seen.cap < 4 * n)
        seen.cap *= 2;
    seen.h = calloc(seen.cap, sizeof(*seen.h));
    if (!seen.h)
        return TG_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        enum task_family f = schedule[i % TG_ARRAY_LEN(schedule)];
        int kept = 0;

        for (int attempt = 0; attempt < TASKGEN_ATTEMPTS && !kept; attempt++) {
            uint64_t r =
                rng_mix64(g->cfg->seed ^ rng_mix64(((uint64_t)test << 62) ^ ((uint64_t)i << 16) ^
                                                   (uint64_t)attempt));
            struct cand c;
            struct task t;
            struct tg_error e;
            json_t *obj;
            char id[TG_TASK_ID_MAX];

            rng_splitmix64(&r); /* skip the stream's first value (see "draws") */
            memset(&c, 0, sizeof(c));
            rc = build(g, &r, f, test, &c);
            if (rc == TG_ENOMEM)
                goto fail;
            if (rc || !c.answer || !c.plan || !c.expert || !seen_add(&seen, c.prompt)) {
                cand_clear(&c);
                rc = 0;
                continue;
            }
            snprintf(id, sizeof(id), "%s-%05zu", test ? "test" : "train", i + 1);
            obj = json_pack("{s:s, s:s, s:s, s:s, s:O, s:O, s:O}", "id", id, "split",
                            test ? "test" : "train", "family", task_family_name(f), "prompt",
                            c.prompt, "answer", c.answer, "plan", c.plan, "expert", c.expert);
            if (!obj) {
                cand_clear(&c);
                rc = TG_ENOMEM;
                goto fail;
            }
            rc = task_from_json(obj, &t, &e);
            if (rc) {
                tg_error_set(err, "internal", "generated task %s is invalid: %s", id, e.message);
                json_decref(obj);
                cand_clear(&c);
                rc = TG_EINTERNAL;
                goto fail;
            }
            rc = verify(&t, &c, &st->tool_calls, err);
            task_clear(&t);
            cand_clear(&c);
            if (rc < 0) {
                json_decref(obj);
                goto fail;
            }
            if (rc == 1) {
                json_array_append_new(out, obj);
                st->kept[f]++;
                kept = 1;
            } else {
                json_decref(obj);
                st->rejected[f]++;
            }
            rc = 0;
        }
        if (!kept) {
            tg_error_set(err, "generation_failed",
                         "no verified %s task for slot %zu of the %s split after %d candidates",
                         task_family_name(f), i + 1, test ? "test" : "train", TASKGEN_ATTEMPTS);
            rc = TG_EINVAL;
            goto fail;
        }
    }
fail:
    free(seen.h);
    return rc;
}

int taskgen_generate(const struct taskgen_config *cfg, json_t **train, json_t **test,
                     struct taskgen_stats *st, struct tg_error *err) {
    struct taskgen_stats local;
    struct gen g;
    char corpus_path[PATH_MAX];
    int rc;

    *train = *test = NULL;
    if (!st)
        st = &local;
    memset(st, 0, sizeof(*st));
    memset(&g, 0, sizeof(g));
    g.cfg = cfg;
    if (cfg->ntrain < 1 || cfg->ntrain > TASKGEN_MAX_TASKS || cfg->ntest < 1 ||
        cfg->ntest > TASKGEN_MAX_TASKS) {
        tg_error_set(err, "invalid_arguments", "task counts must be 1..%d", TASKGEN_MAX_TASKS);
        return TG_ERANGE;
    }
    if (!cfg->corpus_path) {
        rc = datadir_file(DATADIR_MARKER, corpus_path, sizeof(corpus_path), err);
        if (rc)
            return rc;
    }
    rc = corpus_load(cfg->corpus_path ? cfg->corpus_path : corpus_path, &g.corpus, err);
    if (rc)
        return rc;
    for (int s = 0; s < 2; s++) {
        g.docs[s] = malloc((corpus_count(g.corpus) + 1) * sizeof(size_t));
        if (!g.docs[s]) {
            rc = TG_ENOMEM;
            goto done;
        }
    }
    for (size_t i = 0; i < corpus_count(g.corpus); i++) {
        int s = taskgen_is_test_entity(cfg->seed, corpus_doc_id(g.corpus, i));

        g.docs[s][g.ndocs[s]++] = i;
    }
    if (g.ndocs[0] < 2 || g.ndocs[1] < 2) {
        tg_error_set(err, "invalid_corpus",
                     "the corpus is too small to split into train and "
                     "test entities");
        rc = TG_EINVAL;
        goto done;
    }
    *train = json_array();
    *test = json_array();
    if (!*train || !*test) {
        rc = TG_ENOMEM;
        goto done;
    }
    rc = gen_split(&g, 0, cfg->ntrain, *train, st, err);
    if (!rc)
        rc = gen_split(&g, 1, cfg->ntest, *test, st, err);
done:
    if (rc == TG_ENOMEM)
        tg_error_set(err, "internal", "out of memory");
    if (rc) {
        json_decref(*train);
        json_decref(*test);
        *train = *test = NULL;
    }
    free(g.docs[0]);
    free(g.docs[1]);
    corpus_free(g.corpus);
    return rc;
}

int taskgen_write(const json_t *tasks, const char *path, struct tg_error *err) {
    char tmp[4096];
    const json_t *t;
    size_t i;
    FILE *f;
    int bad = 0;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
        tg_error_set(err, "io_error", "path too long: %s", path);
        return TG_EIO;
    }
    f = fopen(tmp, "w");
    if (!f) {
        tg_error_set(err, "io_error", "%s: cannot create: %s", tmp, strerror(errno));
        return TG_EIO;
    }
    json_array_foreach(tasks, i, t) {
        if (json_dumpf(t, f, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15)) ||
            fputc('\n', f) == EOF)
            bad = 1;
    }
    if (fclose(f) || bad || rename(tmp, path)) {
        tg_error_set(err, "io_error", "%s: write failed: %s", path, strerror(errno));
        remove(tmp);
        return TG_EIO;
    }
    return 0;
}
