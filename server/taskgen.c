/*
 * taskgen.c — deterministic task generation from the task grammar, with verified expert
 * trajectories, grammar checks and task-file statistics. See taskgen.h and docs/tasks.md.
 * What each family computes (operations, facts, numbers, plans) is here; how it is worded is
 * in the grammar files. It does not serve tasks; it writes only the files it is asked to.
 */
#include "server/taskgen.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/datadir.h"
#include "base/hash.h"
#include "base/rng.h"
#include "server/grammar.h"
#include "server/judge.h"
#include "tools/calc.h"
#include "tools/corpus.h"
#include "tools/search.h"
#include "tools/tools.h"

#define TASKGEN_ATTEMPTS 400         /* candidates tried per task slot before giving up */
#define ROUND_TOL        0.005000001 /* answers rounded to 2 decimals */
#define OOD_BOOST        4.0         /* weight of held-out productions in the ood split */
#define FRAME_HOLDOUT    5           /* 1 in FRAME_HOLDOUT frames is kept for test only */
#define YEAR_NOW_LO      2024        /* "it is now <year>" in year questions */
#define YEAR_NOW_HI      2032
#define MAX_ATTRS        96
#define MAX_CONVS        32
#define MAX_KINDS        32

/* ---- hashing ---------------------------------------------------------------------------- */

static uint64_t str_hash64(const char *s) {
    return hash_tg_str(s);
}

int taskgen_is_test_entity(unsigned long long seed, const char *doc_id) {
    return rng_mix64(seed ^ rng_mix64(hash_tg_str(doc_id))) % 5 == 0; /* about 20% of entities */
}

/* A set of 64-bit hashes (open addressing, grows at half load). */
struct hset {
    uint64_t *h;
    size_t cap, n;
};

static void hset_free(struct hset *s) {
    free(s->h);
    memset(s, 0, sizeof(*s));
}

static int hset_has(const struct hset *s, uint64_t h) {
    h |= 1;
    if (!s->cap)
        return 0;
    for (size_t i = h & (s->cap - 1); s->h[i]; i = (i + 1) & (s->cap - 1))
        if (s->h[i] == h)
            return 1;
    return 0;
}

/* Insert h; 1 if it was new, 0 if present, TG_ENOMEM. */
static int hset_add(struct hset *s, uint64_t h) {
    size_t i;

    h |= 1;
    if (2 * (s->n + 1) > s->cap) {
        struct hset big = {NULL, s->cap ? 2 * s->cap : 1024, 0};

        big.h = calloc(big.cap, sizeof(*big.h));
        if (!big.h)
            return TG_ENOMEM;
        for (size_t k = 0; k < s->cap; k++)
            if (s->h[k])
                hset_add(&big, s->h[k]);
        free(s->h);
        *s = big;
    }
    for (i = h & (s->cap - 1); s->h[i]; i = (i + 1) & (s->cap - 1))
        if (s->h[i] == h)
            return 0;
    s->h[i] = h;
    s->n++;
    return 1;
}

/* ---- placeholders, flags and operations ------------------------------------------------- */

enum ph {
    PH_E,   /* slot 1 entity */
    PH_E2,  /* slot 2 entity */
    PH_D,   /* the distractor entity (slot d) */
    PH_A,   /* operands of arithmetic written in the prompt */
    PH_B,   /*  */
    PH_C,   /* a number added or taken away */
    PH_K,   /* a multiplier or divisor; the argument of a program */
    PH_PCT, /* a percentage */
    PH_Y,   /* the current year of a "how long ago" question */
    PH_F,   /* a conversion factor */
    PH_V,   /* a fact stated in the prompt */
    PH_V2,  /* a second fact stated in the prompt */
    PH_M,   /* a modulus */
    PH_P,   /* names and things the grammar binds itself (family "bind") */
    PH_Q,
    PH_T,
    PH_COUNT
};

static const char *const ph_names[PH_COUNT] = {"E", "E2", "D", "A",  "B", "C", "K", "PCT",
                                               "Y", "F",  "V", "V2", "M", "P", "Q", "T"};

#define B(p) (1u << (p))

static const unsigned bindable = B(PH_P) | B(PH_Q) | B(PH_T);

enum { FLAG_ROUND, FLAG_COUNT };

static const char *const flag_names[FLAG_COUNT] = {"round"};

/* What the slots of an operation hold. */
enum slots {
    S_NONE,   /* no entity of the plan */
    S_ATTR,   /* slot 1: a fact of an entity */
    S_PAIR,   /* slots 1 and 2: the same fact of two entities of one kind */
    S_YEARS,  /* slots 1 and 2: year facts of two entities of any kinds */
    S_ENTITY, /* slots 1 and 2: two facts of one entity (slot 1 is asked) */
    S_KIND,   /* slot 1: an entity whose asked fact the corpus does not record */
    S_FAKE,   /* slot 1: a made-up entity, asked an attribute of some kind */
};

enum filter { F_ANY, F_YEAR, F_NOTYEAR, F_CONV };

struct opdef {
    enum task_family fam;
    const char *name;
    int weight;
    enum slots slots;
    enum filter filter;
    int conv;      /* binds a conversion (arith: any; lookup_arith: one of the fact's) */
    unsigned give; /* placeholders the builder fills (D and the family's binds come too) */
    unsigned need; /* placeholders every prompt must show for the plan; 0: all of give */
};

#define AB  (B(PH_A) | B(PH_B))
#define ABC (B(PH_A) | B(PH_B) | B(PH_C))
#define E1  B(PH_E)
#define E12 (B(PH_E) | B(PH_E2))

static const struct opdef ops[] = {
    {TASK_ARITH, "add", 3, S_NONE, F_ANY, 0, AB, 0},
    {TASK_ARITH, "sub", 3, S_NONE, F_ANY, 0, AB, 0},
    {TASK_ARITH, "mul", 3, S_NONE, F_ANY, 0, AB, 0},
    {TASK_ARITH, "div", 2, S_NONE, F_ANY, 0, AB, 0},
    {TASK_ARITH, "mul_sub", 2, S_NONE, F_ANY, 0, ABC, 0},
    {TASK_ARITH, "add_mul", 2, S_NONE, F_ANY, 0, ABC, 0},
    {TASK_ARITH, "div_add", 1, S_NONE, F_ANY, 0, ABC, 0},
    {TASK_ARITH, "sub_div", 1, S_NONE, F_ANY, 0, ABC, 0},
    {TASK_ARITH, "double", 1, S_NONE, F_ANY, 0, B(PH_A), 0},
    {TASK_ARITH, "half", 1, S_NONE, F_ANY, 0, B(PH_A), 0},
    {TASK_ARITH, "triple", 1, S_NONE, F_ANY, 0, B(PH_A), 0},
    {TASK_ARITH, "third", 1, S_NONE, F_ANY, 0, B(PH_A), 0},
    {TASK_ARITH, "quarter", 1, S_NONE, F_ANY, 0, B(PH_A), 0},
    {TASK_ARITH, "pct", 2, S_NONE, F_ANY, 0, B(PH_A) | B(PH_PCT), 0},
    {TASK_ARITH, "convert", 2, S_NONE, F_ANY, 1, B(PH_A) | B(PH_F), 0},
    {TASK_ARITH, "sqrt", 1, S_NONE, F_ANY, 0, B(PH_A), 0},

    {TASK_MENTAL, "add", 3, S_NONE, F_ANY, 0, AB, 0},
    {TASK_MENTAL, "sub", 3, S_NONE, F_ANY, 0, AB, 0},
    {TASK_MENTAL, "sub_neg", 1, S_NONE, F_ANY, 0, AB, 0},
    {TASK_MENTAL, "mul", 3, S_NONE, F_ANY, 0, AB, 0},
    {TASK_MENTAL, "double", 1, S_NONE, F_ANY, 0, B(PH_A), 0},
    {TASK_MENTAL, "half", 1, S_NONE, F_ANY, 0, B(PH_A), 0},

    {TASK_MENTAL_DISTRACTOR, "add", 3, S_NONE, F_ANY, 0, AB, 0},
    {TASK_MENTAL_DISTRACTOR, "sub", 3, S_NONE, F_ANY, 0, AB, 0},
    {TASK_MENTAL_DISTRACTOR, "mul", 2, S_NONE, F_ANY, 0, AB, 0},
    {TASK_MENTAL_DISTRACTOR, "double", 1, S_NONE, F_ANY, 0, B(PH_A), 0},
    {TASK_MENTAL_DISTRACTOR, "half", 1, S_NONE, F_ANY, 0, B(PH_A), 0},

    {TASK_LOOKUP, "fact", 1, S_ATTR, F_ANY, 0, E1, 0},

    {TASK_LOOKUP_ARITH, "mul", 3, S_ATTR, F_NOTYEAR, 0, E1 | B(PH_K), 0},
    {TASK_LOOKUP_ARITH, "add", 3, S_ATTR, F_NOTYEAR, 0, E1 | B(PH_C), 0},
    {TASK_LOOKUP_ARITH, "sub", 3, S_ATTR, F_NOTYEAR, 0, E1 | B(PH_C), 0},
    {TASK_LOOKUP_ARITH, "rsub", 1, S_ATTR, F_NOTYEAR, 0, E1 | B(PH_C), 0},
    {TASK_LOOKUP_ARITH, "div", 2, S_ATTR, F_NOTYEAR, 0, E1 | B(PH_K), 0},
    {TASK_LOOKUP_ARITH, "double", 1, S_ATTR, F_NOTYEAR, 0, E1, 0},
    {TASK_LOOKUP_ARITH, "half", 1, S_ATTR, F_NOTYEAR, 0, E1, 0},
    {TASK_LOOKUP_ARITH, "triple", 1, S_ATTR, F_NOTYEAR, 0, E1, 0},
    {TASK_LOOKUP_ARITH, "third", 1, S_ATTR, F_NOTYEAR, 0, E1, 0},
    {TASK_LOOKUP_ARITH, "quarter", 1, S_ATTR, F_NOTYEAR, 0, E1, 0},
    {TASK_LOOKUP_ARITH, "mul_sub", 2, S_ATTR, F_NOTYEAR, 0, E1 | B(PH_K) | B(PH_C), 0},
    {TASK_LOOKUP_ARITH, "add_div", 1, S_ATTR, F_NOTYEAR, 0, E1 | B(PH_K) | B(PH_C), 0},
    {TASK_LOOKUP_ARITH, "pct", 2, S_ATTR, F_NOTYEAR, 0, E1 | B(PH_PCT), 0},
    {TASK_LOOKUP_ARITH, "years_since", 3, S_ATTR, F_YEAR, 0, E1 | B(PH_Y), 0},
    {TASK_LOOKUP_ARITH, "years_after", 1, S_ATTR, F_YEAR, 0, E1 | B(PH_C), 0},
    {TASK_LOOKUP_ARITH, "years_before", 1, S_ATTR, F_YEAR, 0, E1 | B(PH_C), 0},
    {TASK_LOOKUP_ARITH, "convert", 3, S_ATTR, F_CONV, 1, E1 | B(PH_F), 0},

    {TASK_MULTI_LOOKUP, "more", 2, S_PAIR, F_NOTYEAR, 0, E12, 0},
    {TASK_MULTI_LOOKUP, "less", 2, S_PAIR, F_NOTYEAR, 0, E12, 0},
    {TASK_MULTI_LOOKUP, "gap", 1, S_PAIR, F_NOTYEAR, 0, E12, 0},
    {TASK_MULTI_LOOKUP, "sum", 2, S_PAIR, F_NOTYEAR, 0, E12, 0},
    {TASK_MULTI_LOOKUP, "mean", 2, S_PAIR, F_NOTYEAR, 0, E12, 0},
    {TASK_MULTI_LOOKUP, "ratio", 1, S_PAIR, F_NOTYEAR, 0, E12, 0},
    {TASK_MULTI_LOOKUP, "year_after", 2, S_YEARS, F_YEAR, 0, E12, 0},
    {TASK_MULTI_LOOKUP, "year_between", 1, S_YEARS, F_YEAR, 0, E12, 0},

    {TASK_ALGO, "primes", 1, S_NONE, F_ANY, 0, B(PH_K), 0},
    {TASK_ALGO, "fib", 1, S_NONE, F_ANY, 0, B(PH_K) | B(PH_M), 0},
    {TASK_ALGO, "digits", 1, S_NONE, F_ANY, 0, B(PH_K), 0},
    {TASK_ALGO, "collatz", 1, S_NONE, F_ANY, 0, B(PH_K), 0},

    {TASK_IN_PROMPT, "state", 2, S_ATTR, F_ANY, 0, E1 | B(PH_V), 0},
    /* both facts are about one entity: its name may appear as E or as E2 */
    {TASK_IN_PROMPT, "state2", 1, S_ENTITY, F_ANY, 0, E12 | B(PH_V) | B(PH_V2), B(PH_V) | B(PH_V2)},

    {TASK_ABSTAIN, "unrecorded", 1, S_KIND, F_ANY, 0, E1, 0},
    {TASK_ABSTAIN, "absent", 1, S_FAKE, F_ANY, 0, E1, 0},
};

#define NOPS TG_ARRAY_LEN(ops)

/* The family of each slot of a split: 20 slots, arith 3, lookup 3, lookup_arith 3,
 * multi_lookup 2, algo 2, in_prompt 2, abstain 2, mental_distractor 2, mental 1. */
static const enum task_family schedule[20] = {
    TASK_ARITH,
    TASK_LOOKUP,
    TASK_LOOKUP_ARITH,
    TASK_IN_PROMPT,
    TASK_MULTI_LOOKUP,
    TASK_ABSTAIN,
    TASK_MENTAL_DISTRACTOR,
    TASK_ALGO,
    TASK_LOOKUP_ARITH,
    TASK_ARITH,
    TASK_LOOKUP,
    TASK_MENTAL,
    TASK_MULTI_LOOKUP,
    TASK_IN_PROMPT,
    TASK_LOOKUP_ARITH,
    TASK_ABSTAIN,
    TASK_ARITH,
    TASK_LOOKUP,
    TASK_MENTAL_DISTRACTOR,
    TASK_ALGO,
};

/* The number format only ood tasks use (number words past twenty). */
#define HELDOUT_NUMFMT "numfmt:words-large"

const char *taskgen_split_name(enum taskgen_split s) {
    static const char *const names[TASKGEN_SPLITS] = {"train", "test", "ood"};

    return (unsigned)s < TASKGEN_SPLITS ? names[s] : "?";
}

/* ---- the generator's state -------------------------------------------------------------- */

/* One attribute (kind, key) of the corpus with its grammar metadata. */
struct attr {
    const char *kind, *key, *phrase; /* borrowed from the corpus / corpus tables */
    int year;
    size_t nconv;
    size_t conv[8]; /* indices into gen.convs */
};

struct conv {
    const char *name; /* borrowed from the grammar */
    char factor[32];  /* as the prompt and the expression write it */
    int divide;       /* 1: value / factor; 0: value * factor */
};

struct gen {
    const struct taskgen_config *cfg;
    char corpus_path[4096]; /* cfg's, or the data directory's */
    char grammar_dir[4096];
    struct corpus *corpus;
    struct grammar *gram;
    size_t *docs[2]; /* entity documents: train (0), test and ood (1) */
    size_t ndocs[2];
    struct attr attrs[MAX_ATTRS];
    size_t nattrs;
    struct conv convs[MAX_CONVS];
    size_t nconvs;
    const char *kinds[MAX_KINDS];
    size_t nkinds;
    const char *root[NOPS];                             /* root rule of each operation */
    const char *bind_rule[TASK_FAMILY_COUNT][PH_COUNT]; /* grammar-bound placeholders */
    struct hset vocab;                                  /* tokens of the corpus */
    size_t nsyllables, ngiven;
    size_t checks;
};

static const struct attr *find_attr(const struct gen *g, const char *kind, const char *key) {
    for (size_t i = 0; i < g->nattrs; i++)
        if (strcmp(g->attrs[i].kind, kind) == 0 && strcmp(g->attrs[i].key, key) == 0)
            return &g->attrs[i];
    return NULL;
}

static int attr_passes(const struct attr *a, enum filter f) {
    switch (f) {
    case F_YEAR:
        return a->year;
    case F_NOTYEAR:
        return !a->year;
    case F_CONV:
        return a->nconv > 0;
    default:
        return 1;
    }
}

/* ---- grammar setup and checks ----------------------------------------------------------- */

static int cmp_attr(const void *a, const void *b) {
    const struct attr *x = a, *y = b;
    int c = strcmp(x->kind, y->kind);

    return c ? c : strcmp(x->key, y->key);
}

/* The attributes of the corpus: every (kind, key) with a numeric fact and a known phrase. */
static int collect_attrs(struct gen *g, struct tg_error *err) {
    for (size_t i = 0; i < corpus_count(g->corpus); i++) {
        const char *kind = corpus_doc_kind(g->corpus, i), *k;
        json_t *v;

        json_object_foreach((json_t *)corpus_doc_facts(g->corpus, i), k, v) {
            const char *phrase = corpus_fact_phrase(kind, k);
            struct attr *a;

            if (!json_is_number(v) || !phrase || find_attr(g, kind, k))
                continue;
            if (g->nattrs == MAX_ATTRS) {
                tg_error_set(err, "invalid_corpus", "more than %d attributes", MAX_ATTRS);
                return TG_ERANGE;
            }
            a = &g->attrs[g->nattrs++];
            memset(a, 0, sizeof(*a));
            a->kind = kind;
            a->key = k;
            a->phrase = phrase;
        }
    }
    if (g->nattrs)
        qsort(g->attrs, g->nattrs, sizeof(*g->attrs), cmp_attr);
    for (size_t i = 0; i < g->nattrs; i++) {
        size_t k;

        for (k = 0; k < g->nkinds; k++)
            if (strcmp(g->kinds[k], g->attrs[i].kind) == 0)
                break;
        if (k == g->nkinds) {
            if (g->nkinds == MAX_KINDS) {
                tg_error_set(err, "invalid_corpus", "more than %d kinds", MAX_KINDS);
                return TG_ERANGE;
            }
            g->kinds[g->nkinds++] = g->attrs[i].kind;
        }
    }
    return 0;
}

/* Only these keys, else an error naming the file, the section entry and the key. */
static int known_keys(const struct gen *g, const char *section, const char *name, const json_t *o,
                      const char *const *keys, size_t n, struct tg_error *err) {
    const char *k;
    json_t *v;

    json_object_foreach((json_t *)o, k, v) {
        size_t i;

        (void)v;
        for (i = 0; i < n && strcmp(k, keys[i]) != 0; i++)
            ;
        if (i == n) {
            tg_error_set(err, "invalid_grammar", "%s: %s \"%s\": unknown field \"%s\"",
                         grammar_file_of(g->gram, section, name), section, name, k);
            return TG_EINVAL;
        }
    }
    return 0;
}

static int setup_conversions(struct gen *g, struct tg_error *err) {
    static const char *const keys[] = {"about", "factor", "op", "rules"};
    const json_t *convs = grammar_conversions(g->gram), *c;
    const char *name;

    json_object_foreach((json_t *)convs, name, c) {
        const json_t *f = json_object_get(c, "factor");
        const char *op = json_string_value(json_object_get(c, "op"));
        const char *file = grammar_file_of(g->gram, "conversions", name);
        struct conv *cv;
        int rc = known_keys(g, "conversions", name, c, keys, TG_ARRAY_LEN(keys), err);

        if (rc)
            return rc;
        if (!json_is_number(f) || !(json_number_value(f) > 0) || json_number_value(f) > 1e6 ||
            !op || (strcmp(op, "mul") != 0 && strcmp(op, "div") != 0)) {
            tg_error_set(err, "invalid_grammar",
                         "%s: conversion %s needs a \"factor\" in (0, 1e6] and an \"op\" "
                         "\"mul\" or \"div\"",
                         file, name);
            return TG_EINVAL;
        }
        if (g->nconvs == MAX_CONVS) {
            tg_error_set(err, "invalid_grammar", "%s: more than %d conversions", file, MAX_CONVS);
            return TG_ERANGE;
        }
        cv = &g->convs[g->nconvs++];
        cv->name = name;
        cv->divide = strcmp(op, "div") == 0;
        snprintf(cv->factor, sizeof(cv->factor), "%.10g", json_number_value(f));
    }
    return 0;
}

/* Every corpus attribute needs an entry {"year": bool, "conversions": [names]}. */
static int setup_attrs(struct gen *g, struct tg_error *err) {
    static const char *const keys[] = {"about", "year", "conversions", "rules"};
    const json_t *all = grammar_attributes(g->gram);

    for (size_t i = 0; i < g->nattrs; i++) {
        struct attr *a = &g->attrs[i];
        char name[128];
        const json_t *e, *cl, *cn;
        const char *file;
        size_t k;
        int rc;

        snprintf(name, sizeof(name), "%s.%s", a->kind, a->key);
        e = json_object_get(all, name);
        if (!e) {
            tg_error_set(err, "invalid_grammar",
                         "%s: attribute %s of the corpus has no entry in any \"attributes\" "
                         "section",
                         g->grammar_dir, name);
            return TG_EINVAL;
        }
        file = grammar_file_of(g->gram, "attributes", name);
        rc = known_keys(g, "attributes", name, e, keys, TG_ARRAY_LEN(keys), err);
        if (rc)
            return rc;
        if (json_object_get(e, "year") && !json_is_boolean(json_object_get(e, "year"))) {
            tg_error_set(err, "invalid_grammar", "%s: attribute %s: \"year\" must be a boolean",
                         file, name);
            return TG_EINVAL;
        }
        a->year = json_is_true(json_object_get(e, "year"));
        cl = json_object_get(e, "conversions");
        if (cl && (!json_is_array(cl) || json_array_size(cl) > TG_ARRAY_LEN(a->conv))) {
            tg_error_set(err, "invalid_grammar",
                         "%s: attribute %s: \"conversions\" must be an array of at most %zu "
                         "names",
                         file, name, TG_ARRAY_LEN(a->conv));
            return TG_EINVAL;
        }
        json_array_foreach(cl, k, cn) {
            size_t c;

            for (c = 0; c < g->nconvs; c++)
                if (json_is_string(cn) && strcmp(json_string_value(cn), g->convs[c].name) == 0)
                    break;
            if (c == g->nconvs) {
                tg_error_set(err, "invalid_grammar",
                             "%s: attribute %s: conversion %s is not defined", file, name,
                             json_is_string(cn) ? json_string_value(cn) : "(not a string)");
                return TG_EINVAL;
            }
            a->conv[a->nconv++] = c;
        }
    }
    return 0;
}

/* The "families" section: {"<family>": {"ops": {op: root}, "bind": {PH: rule}}} for every
 * family, with a root for every operation of the family. */
static int setup_families(struct gen *g, struct tg_error *err) {
    static const char *const keys[] = {"about", "ops", "bind"};
    const json_t *fams = grammar_families(g->gram), *fe;
    const char *fname;

    json_object_foreach((json_t *)fams, fname, fe) {
        enum task_family f;

        if (task_family_parse(fname, &f)) {
            tg_error_set(err, "invalid_grammar", "%s: unknown family \"%s\"",
                         grammar_file_of(g->gram, "families", fname), fname);
            return TG_EINVAL;
        }
    }
    for (int f = 0; f < TASK_FAMILY_COUNT; f++) {
        const char *name = task_family_name((enum task_family)f);
        const char *file = grammar_file_of(g->gram, "families", name);
        const json_t *opsj, *bind, *v;
        const char *k;
        int rc;

        fe = json_object_get(fams, name);
        if (!fe) {
            tg_error_set(err, "invalid_grammar",
                         "%s: family %s has no entry in any \"families\" section, so its tasks "
                         "cannot be built",
                         g->grammar_dir, name);
            return TG_EINVAL;
        }
        rc = known_keys(g, "families", name, fe, keys, TG_ARRAY_LEN(keys), err);
        if (rc)
            return rc;
        opsj = json_object_get(fe, "ops");
        json_object_foreach((json_t *)opsj, k, v) {
            size_t o;

            for (o = 0; o < NOPS; o++)
                if (ops[o].fam == (enum task_family)f && strcmp(ops[o].name, k) == 0)
                    break;
            if (o == NOPS || !json_is_string(v)) {
                tg_error_set(err, "invalid_grammar",
                             "%s: family %s: %s \"%s\" (the operations are the generator's)", file,
                             name, o == NOPS ? "unknown operation" : "no root rule for", k);
                return TG_EINVAL;
            }
            g->root[o] = json_string_value(v);
        }
        for (size_t o = 0; o < NOPS; o++) {
            if (ops[o].fam == (enum task_family)f && !g->root[o]) {
                tg_error_set(err, "invalid_grammar",
                             "%s: family %s: no production for operation %s, so its expert "
                             "plan cannot be built",
                             file, name, ops[o].name);
                return TG_EINVAL;
            }
        }
        bind = json_object_get(fe, "bind");
        json_object_foreach((json_t *)bind, k, v) {
            int p;

            for (p = 0; p < PH_COUNT && strcmp(ph_names[p], k) != 0; p++)
                ;
            if (p == PH_COUNT || !(bindable & B(p)) || !json_is_string(v) ||
                !grammar_has_rule(g->gram, json_string_value(v))) {
                tg_error_set(err, "invalid_grammar",
                             "%s: family %s: bind \"%s\": only P, Q and T are bound, each to an "
                             "existing rule",
                             file, name, k);
                return TG_EINVAL;
            }
            g->bind_rule[f][p] = json_string_value(v);
        }
    }
    return 0;
}

static unsigned provided(const struct gen *g, size_t o) {
    unsigned p = ops[o].give | B(PH_D);

    for (int ph = 0; ph < PH_COUNT; ph++)
        if (g->bind_rule[ops[o].fam][ph])
            p |= B(ph);
    return p;
}

/* Check op o under one binding (both without and with the held-out productions). */
static int check_binding(struct gen *g, size_t o, struct grammar_binding *b, struct tg_error *err) {
    char what[192];
    int rc = 0;

    snprintf(what, sizeof(what), "family %s, operation %s (%s%s%s%s%s, distractor %s%s%s)",
             task_family_name(ops[o].fam), ops[o].name, b->slot[0].kind ? b->slot[0].kind : "-",
             b->slot[0].key ? "." : "", b->slot[0].key ? b->slot[0].key : "",
             b->slot[1].kind ? " / " : "", b->slot[1].kind ? b->slot[1].kind : "", b->slot[2].kind,
             b->conv ? ", conversion " : "", b->conv ? b->conv : "");
    for (int ood = 0; ood <= 1 && !rc; ood++) {
        rc = grammar_check(g->gram, g->root[o], b, provided(g, o),
                           ops[o].need ? ops[o].need : ops[o].give, ood, what, err);
        g->checks++;
    }
    return rc;
}

/* Every binding op o can draw: slot attributes by its slots and filter, its conversions,
 * and every kind for the distractor. */
static int check_op(struct gen *g, size_t o, struct tg_error *err) {
    const struct opdef *op = &ops[o];
    size_t n1 = op->slots == S_NONE ? 1 : op->slots == S_KIND ? g->nkinds : g->nattrs;
    int rc = 0;

    for (size_t i = 0; i < n1 && !rc; i++) {
        struct grammar_binding b;
        const struct attr *a = NULL;
        size_t n2 = op->slots == S_YEARS || op->slots == S_ENTITY ? g->nattrs : 1;

        memset(&b, 0, sizeof(b));
        if (op->slots == S_KIND) {
            b.slot[GRAMMAR_SLOT_1].kind = g->kinds[i];
        } else if (op->slots != S_NONE) {
            a = &g->attrs[i];
            if (!attr_passes(a, op->filter))
                continue;
            b.slot[GRAMMAR_SLOT_1].kind = a->kind;
            b.slot[GRAMMAR_SLOT_1].key = a->key;
        }
        for (size_t j = 0; j < n2 && !rc; j++) {
            const struct attr *a2 = op->slots == S_PAIR ? a : NULL;
            size_t nconv = !op->conv ? 1 : a ? a->nconv : g->nconvs;

            if (op->slots == S_YEARS || op->slots == S_ENTITY) {
                a2 = &g->attrs[j];
                if (op->slots == S_YEARS ? !a2->year : (strcmp(a2->kind, a->kind) != 0 || a2 == a))
                    continue;
            }
            b.slot[GRAMMAR_SLOT_2].kind = a2 ? a2->kind : NULL;
            b.slot[GRAMMAR_SLOT_2].key = a2 ? a2->key : NULL;
            for (size_t c = 0; c < nconv && !rc; c++) {
                b.conv = !op->conv ? NULL : g->convs[a ? a->conv[c] : c].name;
                for (size_t d = 0; d < g->nkinds && !rc; d++) {
                    b.slot[GRAMMAR_SLOT_D].kind = g->kinds[d];
                    rc = check_binding(g, o, &b, err);
                }
            }
        }
    }
    return rc;
}

static int check_all(struct gen *g, struct tg_error *err) {
    struct grammar_binding none;
    int rc = 0;

    memset(&none, 0, sizeof(none));
    for (int f = 0; f < TASK_FAMILY_COUNT && !rc; f++)
        for (int ph = 0; ph < PH_COUNT && !rc; ph++)
            for (int ood = 0; ood <= 1 && !rc && g->bind_rule[f][ph]; ood++)
                rc = grammar_check(g->gram, g->bind_rule[f][ph], &none, 0, 0, ood, "a bound name",
                                   err);
    for (size_t o = 0; o < NOPS && !rc; o++)
        rc = check_op(g, o, err);
    return rc;
}

static int load_grammar(struct gen *g, struct tg_error *err) {
    struct grammar_names names = {ph_names,   PH_COUNT,         flag_names,
                                  FLAG_COUNT, {"E", "E2", "D"}, {"V", "V2", NULL}};
    int rc = grammar_load_dir(g->grammar_dir, &names, &g->gram, err);

    if (!rc)
        rc = collect_attrs(g, err);
    if (!rc)
        rc = setup_conversions(g, err);
    if (!rc)
        rc = setup_attrs(g, err);
    if (!rc)
        rc = setup_families(g, err);
    if (!rc)
        rc = check_all(g, err);
    return rc;
}

/* ---- corpus facts ----------------------------------------------------------------------- */

/* A fact of a document. */
struct fact {
    size_t doc;
    const char *kind, *title, *id, *key, *phrase;
    double value;
    char vstr[64]; /* as the corpus text writes it */
    const struct attr *attr;
};

static int get_fact(const struct gen *g, size_t doc, const char *key, struct fact *f) {
    const json_t *v = json_object_get(corpus_doc_facts(g->corpus, doc), key);

    memset(f, 0, sizeof(*f));
    f->doc = doc;
    f->kind = corpus_doc_kind(g->corpus, doc);
    f->title = corpus_doc_title(g->corpus, doc);
    f->id = corpus_doc_id(g->corpus, doc);
    f->attr = find_attr(g, f->kind, key);
    if (!json_is_number(v) || !f->attr || corpus_format_value(v, f->vstr, sizeof(f->vstr)))
        return TG_EINVAL;
    f->key = f->attr->key;
    f->phrase = f->attr->phrase;
    f->value = json_number_value(v);
    return 0;
}

static int cmp_cstr(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The path given, or `name` in the data directory (base/datadir.h), into out. */
static int data_path(const char *given, const char *name, char *out, size_t n,
                     struct tg_error *err) {
    if (given) {
        if (snprintf(out, n, "%s", given) >= (int)n) {
            tg_error_set(err, "invalid_arguments", "path too long: %.60s...", given);
            return TG_ERANGE;
        }
        return 0;
    }
    return datadir_file(name, out, n, err);
}

/* A random fact of doc whose attribute passes the filter (keys in sorted order), excluding
 * key `not` (may be NULL). TG_EINVAL if there is none. */
static int pick_fact(const struct gen *g, struct rng *r, size_t doc, enum filter flt,
                     const char * not, struct fact *f) {
    const char *keys[16], *k;
    json_t *v;
    size_t n = 0;
    const char *kind = corpus_doc_kind(g->corpus, doc);

    json_object_foreach((json_t *)corpus_doc_facts(g->corpus, doc), k, v) {
        const struct attr *a = find_attr(g, kind, k);

        if (n < TG_ARRAY_LEN(keys) && a && attr_passes(a, flt) && (!not || strcmp(not, k) != 0))
            keys[n++] = k;
    }
    if (!n)
        return TG_EINVAL;
    qsort(keys, n, sizeof(*keys), cmp_cstr);
    return get_fact(g, doc, keys[rng_below(r, n)], f);
}

static size_t pick_doc(const struct gen *g, struct rng *r, int held) {
    return g->docs[held][rng_below(r, g->ndocs[held])];
}

/* ---- one candidate ---------------------------------------------------------------------- */

struct job {
    struct gen *g;
    struct rng *r;
    enum taskgen_split split;
    int held; /* entity partition: 0 train, 1 test and ood */
    size_t o; /* operation */
    char val[PH_COUNT][128];
    const char *vals[PH_COUNT];
    char fmt_tag[PH_COUNT][32]; /* the number format tag of a placeholder, "" none */
    double num[PH_COUNT];       /* the value of a number placeholder */
    int isnum[PH_COUNT];        /* the placeholder holds a number */
    struct grammar_binding b;
    unsigned flags;
    struct fact f[2];
    char fake[96];
    int heldout;
    char tags[TG_TASK_TAGS_MAX][TG_TASK_TAG_MAX + 1];
    size_t ntags;
    struct grammar_out out;
    /* what the task computes */
    double value;
    int rounded, integral;
    json_t *answer, *plan, *expert; /* new */
    char final[128];                /* the expert's answer; "" = the last observation */
};

static void job_clear(struct job *j) {
    json_decref(j->answer);
    json_decref(j->plan);
    json_decref(j->expert);
    j->answer = j->plan = j->expert = NULL;
}

static long long rrange(struct rng *r, long long lo, long long hi) {
    return lo + (long long)rng_below(r, (uint64_t)(hi - lo + 1));
}

static int chance(struct rng *r, double p) {
    return rng_uniform(r) < p;
}

static int add_tag(struct job *j, const char *tag) {
    for (size_t i = 0; i < j->ntags; i++)
        if (strcmp(j->tags[i], tag) == 0)
            return 0;
    if (j->ntags >= TG_TASK_TAGS_MAX || !task_tag_valid(tag))
        return TG_ERANGE;
    snprintf(j->tags[j->ntags++], TG_TASK_TAG_MAX + 1, "%s", tag);
    return 0;
}

/* ---- numbers as the prompt writes them -------------------------------------------------- */

static const char *const small_words[21] = {
    "zero",     "one",     "two",     "three",     "four",     "five",     "six",
    "seven",    "eight",   "nine",    "ten",       "eleven",   "twelve",   "thirteen",
    "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"};
static const char *const tens_words[10] = {"",      "",      "twenty",  "thirty", "forty",
                                           "fifty", "sixty", "seventy", "eighty", "ninety"};

/* Digits of |v| (an integer) with thousands separators into out. */
static void with_separators(long long v, char *out, size_t n) {
    char d[32];
    size_t len, o = 0;

    snprintf(d, sizeof(d), "%lld", v < 0 ? -v : v);
    len = strlen(d);
    if (v < 0 && o + 1 < n)
        out[o++] = '-';
    for (size_t i = 0; i < len && o + 2 < n; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = d[i];
    }
    out[o] = '\0';
}

/* %.2f without trailing zeros ("3.5", "12.25", "7"). */
static void plain_num(double v, char *buf, size_t n) {
    size_t l;

    if (v == floor(v) && fabs(v) < 9e15) {
        snprintf(buf, n, "%lld", (long long)v);
        return;
    }
    snprintf(buf, n, "%.2f", v);
    l = strlen(buf);
    while (l > 0 && buf[l - 1] == '0')
        buf[--l] = '\0';
    if (l > 0 && buf[l - 1] == '.')
        buf[--l] = '\0';
}

enum { NF_WORDS = 1, NF_SEP = 2 };

/* Set placeholder ph to number v (at most 2 decimals) in a drawn format: digits; thousands
 * separators when |v| >= 1000 (NF_SEP); words for 0..20 (NF_WORDS), and, in the ood split
 * only, for 21..99. The format's tag is kept for when the number appears in the prompt. */
static void put_num(struct job *j, int ph, double v, unsigned allow) {
    char *out = j->val[ph];
    size_t n = sizeof(j->val[ph]);
    int integral = v == floor(v) && fabs(v) < 9e15;
    long long iv = integral ? (long long)v : 0;

    j->num[ph] = v;
    j->fmt_tag[ph][0] = '\0';
    if (integral && iv >= 0 && iv <= 20 && (allow & NF_WORDS) && chance(j->r, 0.35)) {
        snprintf(out, n, "%s", small_words[iv]);
        snprintf(j->fmt_tag[ph], sizeof(j->fmt_tag[ph]), "numfmt:words");
    } else if (integral && iv > 20 && iv < 100 && (allow & NF_WORDS) && j->split == TASKGEN_OOD &&
               chance(j->r, 0.35)) {
        if (iv % 10)
            snprintf(out, n, "%s-%s", tens_words[iv / 10], small_words[iv % 10]);
        else
            snprintf(out, n, "%s", tens_words[iv / 10]);
        snprintf(j->fmt_tag[ph], sizeof(j->fmt_tag[ph]), "%s", HELDOUT_NUMFMT);
    } else if (fabs(v) >= 1000 && (allow & NF_SEP) && chance(j->r, 0.5)) {
        char frac[16] = "";
        double whole = v < 0 ? -floor(-v) : floor(v);

        if (!integral) {
            char p[48];

            plain_num(v, p, sizeof(p));
            snprintf(frac, sizeof(frac), "%s", strchr(p, '.') ? strchr(p, '.') : "");
        }
        {
            char w[48];

            with_separators((long long)whole, w, sizeof(w));
            snprintf(out, n, "%s%s", w, frac);
        }
        snprintf(j->fmt_tag[ph], sizeof(j->fmt_tag[ph]), "numfmt:thousands");
    } else {
        plain_num(v, out, n);
    }
    j->isnum[ph] = 1;
    j->vals[ph] = out;
}

static void put_text(struct job *j, int ph, const char *s) {
    snprintf(j->val[ph], sizeof(j->val[ph]), "%s", s);
    j->vals[ph] = j->val[ph];
    j->fmt_tag[ph][0] = '\0';
    j->isnum[ph] = 0;
}

/* A decimal with 2 places in [lo, hi). */
static double rdec(struct rng *r, long long lo, long long hi) {
    return (double)rrange(r, lo * 100, hi * 100 - 1) / 100.0;
}

/* ---- plans ------------------------------------------------------------------------------ */

static json_t *num_json(double v) {
    if (v == floor(v) && fabs(v) < 9e15)
        return json_integer((json_int_t)v);
    return json_real(v);
}

static int needs_rounding(double v) {
    double x = v * 100;

    return fabs(x - nearbyint(x)) > 1e-6 * fmax(1.0, fabs(x));
}

/* The gold answer of value v: an int, or a number (rounded to 2 decimals when v has more). */
static json_t *answer_json(struct job *j, double v) {
    json_t *a;

    j->value = v;
    j->rounded = needs_rounding(v);
    j->integral = v == floor(v) && fabs(v) < 9e15;
    if (j->integral)
        return json_pack("{s:s, s:I}", "type", "int", "value", (json_int_t)v);
    a = json_pack("{s:s, s:o}", "type", "number", "value", num_json(v));
    if (!a)
        return NULL;
    if (j->rounded) {
        json_object_set_new(a, "tolerance", json_real(ROUND_TOL));
    } else {
        json_object_set_new(a, "tolerance", json_real(1e-6));
        json_object_set_new(a, "rel_tolerance", json_real(1e-9));
    }
    return a;
}

static json_t *call_json(const char *tool, const char *argname, const char *argval) {
    return json_pack("{s:s, s:{s:s}}", "name", tool, "arguments", argname, argval);
}

/* The lowercase search terms of a name as a new JSON array. */
static json_t *name_terms(const char *name) {
    char(*terms)[SEARCH_TERM_MAX] = malloc(TG_TASK_TERMS_MAX * sizeof(*terms));
    json_t *arr = json_array();
    size_t n;

    if (!terms || !arr) {
        free(terms);
        json_decref(arr);
        return NULL;
    }
    n = search_tokenize(name, terms, TG_TASK_TERMS_MAX);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_string(terms[i]));
    free(terms);
    return arr;
}

/* The plan step of a search for fact f: the entity's name terms, its document, its value. */
static json_t *search_step(const struct fact *f) {
    return json_pack("{s:s, s:{s:o, s:s, s:s}, s:s, s:[]}", "tool", "search", "match",
                     "query_terms", name_terms(f->title), "hit", f->id, "shows", f->vstr, "yields",
                     f->key, "needs");
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

/* Plan and expert of "search f[0..nf), then calculate expr". */
static int plan_lookups_then_calc(struct job *j, size_t nf, const char *expr) {
    double v;

    if (eval(expr, &v))
        return TG_EINVAL;
    j->answer = answer_json(j, v);
    if (nf == 1) {
        j->plan = json_pack("[o, o]", search_step(&j->f[0]), calc_step(v, json_pack("[i]", 0)));
        j->expert =
            json_pack("[o, o]", search_call(&j->f[0]), call_json("calculator", "expression", expr));
    } else {
        j->plan = json_pack("[o, o, o]", search_step(&j->f[0]), search_step(&j->f[1]),
                            calc_step(v, json_pack("[i, i]", 0, 1)));
        j->expert = json_pack("[o, o, o]", search_call(&j->f[0]), search_call(&j->f[1]),
                              call_json("calculator", "expression", expr));
    }
    return 0;
}

/* A tool-free task with integer (or short decimal) answer v. */
static int plan_none(struct job *j, double v) {
    j->answer = answer_json(j, v);
    j->plan = json_array();
    j->expert = json_array();
    plain_num(v, j->final, sizeof(j->final));
    return 0;
}

/* ---- families --------------------------------------------------------------------------- */

static const char *opname(const struct job *j) {
    return ops[j->o].name;
}

static int is_op(const struct job *j, const char *name) {
    return strcmp(ops[j->o].name, name) == 0;
}

/* A "hard" operand: 1000..99999, a third of the time with 2 decimals. */
static double hard_number(struct rng *r) {
    return chance(r, 0.33) ? rdec(r, 1000, 99999) : (double)rrange(r, 1000, 99999);
}

static int build_arith(struct job *j) {
    struct rng *r = j->r;
    char a[48], b[48], c[48], x[256];
    double A = hard_number(r), Bv, Cv = (double)rrange(r, 100, 9999), v;

    if (is_op(j, "add") || is_op(j, "sub")) {
        Bv = hard_number(r);
        if (is_op(j, "add") && chance(r, 0.2)) {
            A = -A; /* "what is -60,926 plus 9,301?" */
        } else if (is_op(j, "sub") && A < Bv && chance(r, 0.8)) {
            double t = A; /* mostly "take the smaller from the larger"; sometimes below 0 */

            A = Bv;
            Bv = t;
        }
    } else if (is_op(j, "mul") || is_op(j, "div")) {
        Bv = chance(r, 0.5) ? rdec(r, 1, 99) + 0.01 : (double)rrange(r, 11, 999);
    } else {
        Bv = chance(r, 0.5) ? rdec(r, 2, 99) : (double)rrange(r, 2, 99);
    }
    if (Bv == 0)
        Bv = 7;
    plain_num(A, a, sizeof(a));
    plain_num(Bv, b, sizeof(b));
    plain_num(Cv, c, sizeof(c));
    put_num(j, PH_A, A, NF_SEP);
    put_num(j, PH_B, Bv, NF_SEP | NF_WORDS);
    put_num(j, PH_C, Cv, NF_SEP);
    if (is_op(j, "add"))
        snprintf(x, sizeof(x), "%s + %s", a, b);
    else if (is_op(j, "sub"))
        snprintf(x, sizeof(x), "%s - %s", a, b);
    else if (is_op(j, "mul"))
        snprintf(x, sizeof(x), "%s * %s", a, b);
    else if (is_op(j, "div"))
        snprintf(x, sizeof(x), "%s / %s", a, b);
    else if (is_op(j, "mul_sub"))
        snprintf(x, sizeof(x), "%s * %s - %s", a, b, c);
    else if (is_op(j, "add_mul"))
        snprintf(x, sizeof(x), "(%s + %s) * %s", a, b, c);
    else if (is_op(j, "div_add"))
        snprintf(x, sizeof(x), "%s / %s + %s", a, b, c);
    else if (is_op(j, "sub_div"))
        snprintf(x, sizeof(x), "(%s - %s) / %s", a, b, c);
    else if (is_op(j, "double"))
        snprintf(x, sizeof(x), "%s * 2", a);
    else if (is_op(j, "half"))
        snprintf(x, sizeof(x), "%s / 2", a);
    else if (is_op(j, "triple"))
        snprintf(x, sizeof(x), "%s * 3", a);
    else if (is_op(j, "third"))
        snprintf(x, sizeof(x), "%s / 3", a);
    else if (is_op(j, "quarter"))
        snprintf(x, sizeof(x), "%s / 4", a);
    else if (is_op(j, "pct")) {
        static const double pcts[] = {5, 8, 12.5, 15, 17.5, 20, 22, 35, 37.5, 45, 62.5, 85};
        double p =
            chance(r, 0.5) ? pcts[rng_below(r, TG_ARRAY_LEN(pcts))] : (double)rrange(r, 2, 98);
        char ps[32];

        plain_num(p, ps, sizeof(ps));
        put_num(j, PH_PCT, p, 0);
        snprintf(x, sizeof(x), "%s * %s / 100", a, ps);
    } else if (is_op(j, "convert")) {
        const struct conv *cv = &j->g->convs[rng_below(r, j->g->nconvs)];

        j->b.conv = cv->name;
        put_text(j, PH_F, cv->factor);
        snprintf(x, sizeof(x), "%s %s %s", a, cv->divide ? "/" : "*", cv->factor);
    } else { /* sqrt */
        long long s = rrange(r, 1000, 999999);

        if ((long long)sqrt((double)s) * (long long)sqrt((double)s) == s)
            s++;
        put_num(j, PH_A, (double)s, NF_SEP);
        snprintf(x, sizeof(x), "sqrt(%lld)", s);
    }
    if (eval(x, &v))
        return TG_EINVAL;
    j->answer = answer_json(j, v);
    j->plan = json_pack("[o]", calc_step(v, json_array()));
    j->expert = json_pack("[o]", call_json("calculator", "expression", x));
    return 0;
}

static int build_mental(struct job *j) {
    struct rng *r = j->r;
    long long a, b = 0, v;

    if (is_op(j, "mul")) {
        a = rrange(r, 2, 12);
        b = rrange(r, 2, 9);
        v = a * b;
    } else if (is_op(j, "double")) {
        a = rrange(r, 2, 45);
        v = 2 * a;
    } else if (is_op(j, "half")) {
        a = 2 * rrange(r, 2, 45);
        v = a / 2;
    } else {
        a = rrange(r, 2, 20);
        b = rrange(r, 2, 20);
        if (is_op(j, "sub") && a < b) {
            long long t = a;

            a = b;
            b = t;
        }
        if (is_op(j, "sub_neg") && a >= b) {
            long long t = a;

            a = b;
            b = t + 1;
        }
        v = is_op(j, "add") ? a + b : a - b;
    }
    put_num(j, PH_A, (double)a, NF_WORDS);
    put_num(j, PH_B, (double)b, NF_WORDS);
    return plan_none(j, (double)v);
}

static int build_lookup(struct job *j) {
    if (pick_fact(j->g, j->r, pick_doc(j->g, j->r, j->held), F_ANY, NULL, &j->f[0]))
        return TG_EINVAL;
    j->answer = answer_json(j, j->f[0].value);
    j->plan = json_pack("[o]", search_step(&j->f[0]));
    j->expert = json_pack("[o]", search_call(&j->f[0]));
    snprintf(j->final, sizeof(j->final), "%s", j->f[0].vstr);
    return 0;
}

/* A number to add to or take from value v, of a similar size. */
static long long addend(struct rng *r, double v) {
    double a = fabs(v);

    if (a < 100)
        return rrange(r, 2, 60);
    if (a < 10000)
        return rrange(r, 10, 2000);
    return rrange(r, 100, 99999);
}

static int build_lookup_arith(struct job *j) {
    struct rng *r = j->r;
    const struct opdef *op = &ops[j->o];
    struct fact *f = &j->f[0];
    char x[256], ks[32], cs[32];
    long long k = rrange(r, 2, 19), c;
    const char *v;

    if (pick_fact(j->g, r, pick_doc(j->g, r, j->held), op->filter, NULL, f))
        return TG_EINVAL;
    v = f->vstr;
    c = addend(r, f->value);
    if (is_op(j, "sub") && c >= f->value && chance(r, 0.85))
        c = f->value > 3 ? rrange(r, 1, (long long)f->value - 1) : c;
    if (is_op(j, "rsub") && c <= f->value && chance(r, 0.7))
        c = (long long)f->value + addend(r, f->value);
    if (is_op(j, "years_after") || is_op(j, "years_before"))
        c = rrange(r, 5, 250);
    if (is_op(j, "div") || is_op(j, "add_div"))
        k = rrange(r, 2, 12);
    snprintf(ks, sizeof(ks), "%lld", k);
    snprintf(cs, sizeof(cs), "%lld", c);
    put_num(j, PH_K, (double)k, NF_WORDS);
    put_num(j, PH_C, (double)c, NF_SEP | NF_WORDS);
    if (is_op(j, "mul"))
        snprintf(x, sizeof(x), "%s * %s", v, ks);
    else if (is_op(j, "add") || is_op(j, "years_after"))
        snprintf(x, sizeof(x), "%s + %s", v, cs);
    else if (is_op(j, "sub") || is_op(j, "years_before"))
        snprintf(x, sizeof(x), "%s - %s", v, cs);
    else if (is_op(j, "rsub"))
        snprintf(x, sizeof(x), "%s - %s", cs, v);
    else if (is_op(j, "div"))
        snprintf(x, sizeof(x), "%s / %s", v, ks);
    else if (is_op(j, "double"))
        snprintf(x, sizeof(x), "%s * 2", v);
    else if (is_op(j, "half"))
        snprintf(x, sizeof(x), "%s / 2", v);
    else if (is_op(j, "triple"))
        snprintf(x, sizeof(x), "%s * 3", v);
    else if (is_op(j, "third"))
        snprintf(x, sizeof(x), "%s / 3", v);
    else if (is_op(j, "quarter"))
        snprintf(x, sizeof(x), "%s / 4", v);
    else if (is_op(j, "mul_sub"))
        snprintf(x, sizeof(x), "%s * %s - %s", v, ks, cs);
    else if (is_op(j, "add_div"))
        snprintf(x, sizeof(x), "(%s + %s) / %s", v, cs, ks);
    else if (is_op(j, "pct")) {
        long long p = chance(r, 0.5) ? 5 * rrange(r, 1, 19) : rrange(r, 2, 98);

        put_num(j, PH_PCT, (double)p, 0);
        snprintf(x, sizeof(x), "%s * %lld / 100", v, p);
    } else if (is_op(j, "years_since")) {
        long long y = rrange(r, YEAR_NOW_LO, YEAR_NOW_HI);

        if (y <= f->value)
            return TG_EINVAL;
        put_num(j, PH_Y, (double)y, 0);
        snprintf(x, sizeof(x), "%lld - %s", y, v);
    } else { /* convert */
        const struct conv *cv = &j->g->convs[f->attr->conv[rng_below(r, f->attr->nconv)]];

        j->b.conv = cv->name;
        put_text(j, PH_F, cv->factor);
        snprintf(x, sizeof(x), "%s %s %s", v, cv->divide ? "/" : "*", cv->factor);
    }
    return plan_lookups_then_calc(j, 1, x);
}

static int build_multi(struct job *j) {
    struct rng *r = j->r;
    const struct opdef *op = &ops[j->o];
    size_t d1 = pick_doc(j->g, r, j->held), d2 = d1;
    char x[256];
    int years = op->slots == S_YEARS;

    if (pick_fact(j->g, r, d1, op->filter, NULL, &j->f[0]))
        return TG_EINVAL;
    for (int i = 0; i < 400; i++) {
        d2 = pick_doc(j->g, r, j->held);
        if (d2 == d1)
            continue;
        if (years ? pick_fact(j->g, r, d2, F_YEAR, NULL, &j->f[1]) == 0
                  : (strcmp(corpus_doc_kind(j->g->corpus, d2), j->f[0].kind) == 0 &&
                     get_fact(j->g, d2, j->f[0].key, &j->f[1]) == 0))
            break;
        d2 = d1;
    }
    if (d2 == d1 || j->f[0].value == j->f[1].value)
        return TG_EINVAL;
    /* which entity is named first in the prompt is the grammar's choice; the slots fix the
     * meaning: more: slot 1 holds the larger value; less and year_after: the smaller */
    if (((is_op(j, "more")) && j->f[0].value < j->f[1].value) ||
        ((is_op(j, "less") || is_op(j, "year_after")) && j->f[0].value > j->f[1].value)) {
        struct fact t = j->f[0];

        j->f[0] = j->f[1];
        j->f[1] = t;
    }
    {
        const char *a = j->f[0].vstr, *b = j->f[1].vstr;
        int first_larger = j->f[0].value > j->f[1].value;

        if (is_op(j, "more"))
            snprintf(x, sizeof(x), "%s - %s", a, b);
        else if (is_op(j, "less") || is_op(j, "year_after"))
            snprintf(x, sizeof(x), "%s - %s", b, a);
        else if (is_op(j, "gap") || is_op(j, "year_between"))
            snprintf(x, sizeof(x), "%s - %s", first_larger ? a : b, first_larger ? b : a);
        else if (is_op(j, "sum"))
            snprintf(x, sizeof(x), "%s + %s", a, b);
        else if (is_op(j, "mean"))
            snprintf(x, sizeof(x), "(%s + %s) / 2", a, b);
        else /* ratio */
            snprintf(x, sizeof(x), "%s / %s", a, b);
    }
    if (is_op(j, "ratio") && j->f[1].value == 0)
        return TG_EINVAL;
    return plan_lookups_then_calc(j, 2, x);
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

        for (size_t q = 0; q < n; q++) {
            int x = d[q] * 2 + carry;

            d[q] = (unsigned char)(x % 10);
            carry = x / 10;
        }
        if (carry && n < sizeof(d))
            d[n++] = (unsigned char)carry;
    }
    for (size_t q = 0; q < n; q++)
        s += d[q];
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

static int build_algo(struct job *j) {
    static const long long mods[] = {1000, 10007, 1000007, 998244353};
    struct rng *r = j->r;
    char code[1024], out[32];
    long long k, m = mods[rng_below(r, TG_ARRAY_LEN(mods))], v;

    if (is_op(j, "primes")) {
        k = rrange(r, 1000, 200000);
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
    } else if (is_op(j, "fib")) {
        k = rrange(r, 100, 100000);
        v = fib_mod(k, m);
        snprintf(code, sizeof(code),
                 "a, b = 1, 1\n"
                 "for _ in range(%lld - 2):\n"
                 "    a, b = b, (a + b) %% %lld\n"
                 "print(b %% %lld)\n",
                 k, m, m);
    } else if (is_op(j, "digits")) {
        k = rrange(r, 100, 5000);
        v = digit_sum_pow2(k);
        snprintf(code, sizeof(code), "print(sum(int(d) for d in str(2 ** %lld)))\n", k);
    } else {
        k = rrange(r, 1000, 1000000);
        v = collatz_steps(k);
        snprintf(code, sizeof(code),
                 "n, steps = %lld, 0\n"
                 "while n != 1:\n"
                 "    n = n // 2 if n %% 2 == 0 else 3 * n + 1\n"
                 "    steps += 1\n"
                 "print(steps)\n",
                 k);
    }
    if (v < 0)
        return TG_ENOMEM;
    /* "F(29,888)" and "2^4,479" would read oddly: separators for primes and Collatz only */
    put_num(j, PH_K, (double)k, is_op(j, "primes") || is_op(j, "collatz") ? NF_SEP : 0);
    put_num(j, PH_M, (double)m, 0);
    snprintf(out, sizeof(out), "%lld", v);
    j->answer = answer_json(j, (double)v);
    j->plan = json_pack("[{s:s, s:{s:s}, s:s, s:[]}]", "tool", "run_code", "match", "stdout", out,
                        "yields", "result", "needs");
    j->expert = json_pack("[o]", call_json("run_code", "code", code));
    return 0;
}

static int build_in_prompt(struct job *j) {
    size_t d = pick_doc(j->g, j->r, j->held);
    unsigned allow_v;

    if (pick_fact(j->g, j->r, d, F_ANY, NULL, &j->f[0]))
        return TG_EINVAL;
    allow_v = j->f[0].attr->year ? 0 : NF_SEP | NF_WORDS;
    put_num(j, PH_V, j->f[0].value, allow_v);
    if (is_op(j, "state2")) {
        if (pick_fact(j->g, j->r, d, F_ANY, j->f[0].key, &j->f[1]))
            return TG_EINVAL;
        put_num(j, PH_V2, j->f[1].value, j->f[1].attr->year ? 0 : NF_SEP | NF_WORDS);
    }
    return plan_none(j, j->f[0].value);
}

/* A made-up name for an entity of kind: built like the corpus's names, none of its words in
 * the corpus (a person keeps a real given name and gets a made-up surname). */
static int fake_name(struct job *j, const char *kind, char *out, size_t n) {
    for (int attempt = 0; attempt < 64; attempt++) {
        uint64_t d = rng_below(j->r, 10);
        int ns = d < 2 ? 2 : d < 6 ? 3 : 4;
        char word[64] = "";
        size_t len = 0;

        for (int i = 0; i < ns; i++) {
            const char *s = corpus_syllable(rng_below(j->r, j->g->nsyllables));
            size_t sl = strlen(s);

            if (len + sl >= sizeof(word))
                break;
            memcpy(word + len, s, sl + 1);
            len += sl;
        }
        if (hset_has(&j->g->vocab, str_hash64(word)))
            continue;
        word[0] = (char)toupper((unsigned char)word[0]);
        if (strcmp(kind, "person") == 0)
            snprintf(out, n, "%s %s", corpus_given_name(rng_below(j->r, j->g->ngiven)), word);
        else
            snprintf(out, n, "%s", word);
        return 0;
    }
    return TG_EINVAL;
}

static int build_abstain(struct job *j) {
    if (is_op(j, "unrecorded")) {
        size_t d = pick_doc(j->g, j->r, j->held);

        memset(&j->f[0], 0, sizeof(j->f[0]));
        j->f[0].doc = d;
        j->f[0].kind = corpus_doc_kind(j->g->corpus, d);
        j->f[0].title = corpus_doc_title(j->g->corpus, d);
        j->f[0].id = corpus_doc_id(j->g->corpus, d);
        j->plan =
            json_pack("[{s:s, s:{s:o, s:s}, s:s, s:[]}]", "tool", "search", "match", "query_terms",
                      name_terms(j->f[0].title), "hit", j->f[0].id, "yields", "absence", "needs");
        j->expert = json_pack("[o]", call_json("search", "query", j->f[0].title));
    } else {
        const struct attr *a = &j->g->attrs[rng_below(j->r, j->g->nattrs)];
        char q[160];

        if (fake_name(j, a->kind, j->fake, sizeof(j->fake)))
            return TG_EINVAL;
        memset(&j->f[0], 0, sizeof(j->f[0]));
        j->f[0].kind = a->kind;
        j->f[0].key = a->key;
        j->f[0].attr = a;
        j->f[0].title = j->fake;
        snprintf(q, sizeof(q), "%s %s", j->fake, a->phrase);
        j->plan = json_pack("[{s:s, s:{s:o}, s:s, s:[]}]", "tool", "search", "match", "query_terms",
                            name_terms(j->fake), "yields", "absence", "needs");
        j->expert = json_pack("[o]", call_json("search", "query", q));
    }
    j->answer = json_pack("{s:s}", "type", "unknown");
    snprintf(j->final, sizeof(j->final), "unknown");
    return 0;
}

/* ---- expansion and tags ----------------------------------------------------------------- */

/* Bind the slots of the job's facts and the distractor entity, then expand the grammar. */
static int expand(struct job *j, struct tg_error *err) {
    const struct opdef *op = &ops[j->o];
    struct grammar_ctx ctx;
    size_t dd;
    int rc;

    if (op->slots != S_NONE) {
        j->b.slot[GRAMMAR_SLOT_1].kind = j->f[0].kind;
        j->b.slot[GRAMMAR_SLOT_1].key = op->slots == S_KIND ? NULL : j->f[0].key;
        put_text(j, PH_E, j->f[0].title);
    }
    if (op->slots == S_PAIR || op->slots == S_YEARS || op->slots == S_ENTITY) {
        j->b.slot[GRAMMAR_SLOT_2].kind = j->f[1].kind;
        j->b.slot[GRAMMAR_SLOT_2].key = j->f[1].key;
        put_text(j, PH_E2, j->f[1].title);
    }
    /* the distractor: another entity of the same split, not one the plan needs */
    do
        dd = pick_doc(j->g, j->r, j->held);
    while (op->slots != S_NONE && op->slots != S_FAKE &&
           (dd == j->f[0].doc || (j->f[1].title && dd == j->f[1].doc)) && j->g->ndocs[j->held] > 2);
    j->b.slot[GRAMMAR_SLOT_D].kind = corpus_doc_kind(j->g->corpus, dd);
    put_text(j, PH_D, corpus_doc_title(j->g->corpus, dd));

    memset(&ctx, 0, sizeof(ctx));
    ctx.b = &j->b;
    ctx.values = j->vals;
    ctx.flags = j->rounded ? B(FLAG_ROUND) : 0;
    ctx.ood = j->split == TASKGEN_OOD;
    ctx.ood_boost = OOD_BOOST;
    ctx.rng = j->r;
    /* names and things the grammar binds (P, Q, T), as lowercase phrases */
    ctx.keep_case = 1;
    for (int ph = 0; ph < PH_COUNT; ph++) {
        const char *rule = j->g->bind_rule[op->fam][ph];

        if (!rule)
            continue;
        rc = grammar_expand(j->g->gram, rule, &ctx, &j->out, err);
        if (rc)
            return rc;
        if (j->out.heldout)
            j->heldout = 1;
        for (size_t t = 0; t < j->out.ntags; t++)
            if (add_tag(j, j->out.tags[t]))
                return TG_ERANGE;
        put_text(j, ph, j->out.text);
        /* a name bound twice (P and Q) must differ */
        if (ph == PH_Q && j->vals[PH_P] && strcmp(j->vals[PH_P], j->vals[PH_Q]) == 0)
            return TG_EINVAL;
    }
    ctx.keep_case = 0;
    return grammar_expand(j->g->gram, j->g->root[j->o], &ctx, &j->out, err);
}

/* Tags of the task: family, operation, the grammar's, number formats shown, operand order,
 * rounding and sign of the answer. */
static int collect_tags(struct job *j) {
    const struct grammar_out *o = &j->out;
    char t[TG_TASK_TAG_MAX + 1];
    int rc = 0;

    snprintf(t, sizeof(t), "family:%s", task_family_name(ops[j->o].fam));
    rc |= add_tag(j, t);
    snprintf(t, sizeof(t), "op:%s", opname(j));
    rc |= add_tag(j, t);
    for (size_t i = 0; i < o->ntags; i++)
        rc |= add_tag(j, o->tags[i]);
    for (int ph = 0; ph < PH_COUNT; ph++) {
        if (o->first[ph] < 0 || !j->isnum[ph])
            continue;
        if (j->fmt_tag[ph][0])
            rc |= add_tag(j, j->fmt_tag[ph]);
        if (strcmp(j->fmt_tag[ph], HELDOUT_NUMFMT) == 0)
            j->heldout = 1;
        if (j->num[ph] != floor(j->num[ph]))
            rc |= add_tag(j, "numfmt:decimal");
        if (j->num[ph] < 0)
            rc |= add_tag(j, "numfmt:negative");
    }
    /* operand order: which value is written (or named) first */
    if (o->first[PH_A] >= 0 && o->first[PH_B] >= 0 && fabs(j->num[PH_A]) != fabs(j->num[PH_B])) {
        int a_first = o->first[PH_A] < o->first[PH_B];
        double first = fabs(a_first ? j->num[PH_A] : j->num[PH_B]);
        double second = fabs(a_first ? j->num[PH_B] : j->num[PH_A]);

        rc |= add_tag(j, first < second ? "order:small-first" : "order:large-first");
    }
    if (o->first[PH_E] >= 0 && o->first[PH_E2] >= 0 && ops[j->o].slots != S_ENTITY) {
        int e_first = o->first[PH_E] < o->first[PH_E2];
        double first = e_first ? j->f[0].value : j->f[1].value;
        double second = e_first ? j->f[1].value : j->f[0].value;

        rc |= add_tag(j, first < second ? "order:small-first" : "order:large-first");
    }
    if (ops[j->o].fam == TASK_LOOKUP_ARITH) {
        static const int nums[] = {PH_K, PH_C, PH_PCT, PH_Y, PH_F};
        int first_num = -1;

        for (size_t i = 0; i < TG_ARRAY_LEN(nums); i++)
            if (o->first[nums[i]] >= 0 && (first_num < 0 || o->first[nums[i]] < first_num))
                first_num = o->first[nums[i]];
        if (first_num >= 0 && o->first[PH_E] >= 0)
            rc |=
                add_tag(j, o->first[PH_E] < first_num ? "order:fact-first" : "order:number-first");
    }
    if (j->answer && j->rounded)
        rc |= add_tag(j, "answer:rounded");
    if (j->answer && json_is_number(json_object_get(j->answer, "value")) &&
        json_number_value(json_object_get(j->answer, "value")) < 0)
        rc |= add_tag(j, "answer:negative");
    return rc ? TG_ERANGE : 0;
}

static int has_tag_prefix(const struct job *j, const char *prefix) {
    for (size_t i = 0; i < j->ntags; i++)
        if (strncmp(j->tags[i], prefix, strlen(prefix)) == 0)
            return 1;
    return 0;
}

/* ---- verification ----------------------------------------------------------------------- */

/*
 * Run the expert calls of t through the registry, judging each. Returns 1 if every call was
 * necessary, the plan is complete and the final answer (final, or the last observation's
 * content) is correct; 0 if not (a rejected candidate); a negative tg_err when a tool is
 * missing or failed (the environment, not the task, is broken: generation stops).
 */
static int verify(const struct task *t, const char *final, size_t *ncalls, struct tg_error *err) {
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
    rc = judge_answer(t, &js, final[0] ? final : (last ? last : ""), &v);
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

static size_t pick_op(struct rng *r, enum task_family f) {
    int total = 0, x;

    for (size_t o = 0; o < NOPS; o++)
        if (ops[o].fam == f)
            total += ops[o].weight;
    x = (int)rng_below(r, (uint64_t)total);
    for (size_t o = 0; o < NOPS; o++) {
        if (ops[o].fam != f)
            continue;
        if (x < ops[o].weight)
            return o;
        x -= ops[o].weight;
    }
    return 0;
}

static int build(struct job *j) {
    switch (ops[j->o].fam) {
    case TASK_ARITH:
        return build_arith(j);
    case TASK_MENTAL:
    case TASK_MENTAL_DISTRACTOR:
        return build_mental(j);
    case TASK_LOOKUP:
        return build_lookup(j);
    case TASK_LOOKUP_ARITH:
        return build_lookup_arith(j);
    case TASK_MULTI_LOOKUP:
        return build_multi(j);
    case TASK_ALGO:
        return build_algo(j);
    case TASK_IN_PROMPT:
        return build_in_prompt(j);
    default:
        return build_abstain(j);
    }
}

static json_t *tags_json(const struct job *j) {
    json_t *a = json_array();

    for (size_t i = 0; a && i < j->ntags; i++)
        if (json_array_append_new(a, json_string(j->tags[i]))) {
            json_decref(a);
            return NULL;
        }
    return a;
}

/*
 * One candidate for slot i of split s: 1 kept (appended to out), 0 rejected, or a tg_err
 * (the environment is broken).
 */
static int candidate(struct gen *g, enum taskgen_split s, size_t i, int attempt,
                     struct hset *prompts, json_t *out, struct taskgen_stats *st,
                     struct tg_error *err) {
    struct rng r;
    struct job *j = calloc(1, sizeof(*j));
    struct task t;
    struct tg_error e;
    json_t *obj = NULL;
    char id[TG_TASK_ID_MAX];
    enum task_family f = schedule[i % TG_ARRAY_LEN(schedule)];
    enum taskgen_reject why = TASKGEN_REJ_BUILD;
    uint64_t frame;
    int rc, kept = 0;

    if (!j)
        return TG_ENOMEM;
    rng_seed(&r, rng_mix64(g->cfg->seed ^ rng_mix64(((uint64_t)s << 60) ^ ((uint64_t)i << 16) ^
                                                    (uint64_t)attempt)));
    j->g = g;
    j->r = &r;
    j->split = s;
    j->held = s != TASKGEN_TRAIN;
    j->o = pick_op(&r, f);
    rc = build(j);
    if (rc == TG_ENOMEM)
        goto done;
    rc = 0;
    if (!j->answer || !j->plan || !j->expert)
        goto reject;
    why = TASKGEN_REJ_EXPAND;
    rc = expand(j, &e);
    if (rc == TG_ENOMEM)
        goto done;
    rc = 0;
    if (!j->out.text[0] || collect_tags(j))
        goto reject;
    if (f == TASK_MENTAL_DISTRACTOR && !has_tag_prefix(j, "distractor:"))
        goto reject;
    why = TASKGEN_REJ_HELDOUT;
    if ((s == TASKGEN_OOD) != (j->heldout || j->out.heldout))
        goto reject;
    /* test shows only frames train never does: frames are split by a seeded hash */
    why = TASKGEN_REJ_FRAME;
    frame = rng_mix64(g->cfg->seed ^ str_hash64(j->out.frame));
    if (s != TASKGEN_OOD && ((frame % FRAME_HOLDOUT == 0) != (s == TASKGEN_TEST)))
        goto reject;
    why = TASKGEN_REJ_REPEAT;
    if (hset_has(prompts, str_hash64(j->out.text)))
        goto reject;
    why = TASKGEN_REJ_VERIFY;
    snprintf(id, sizeof(id), "%s-%05zu", taskgen_split_name(s), i + 1);
    obj =
        json_pack("{s:s, s:s, s:s, s:s, s:o, s:O, s:O, s:O}", "id", id, "split",
                  taskgen_split_name(s), "family", task_family_name(f), "prompt", j->out.text,
                  "tags", tags_json(j), "answer", j->answer, "plan", j->plan, "expert", j->expert);
    if (!obj) {
        rc = TG_ENOMEM;
        goto done;
    }
    rc = task_from_json(obj, &t, &e);
    if (rc) {
        tg_error_set(err, "internal", "generated task %s is invalid: %s", id, e.message);
        rc = TG_EINTERNAL;
        goto done;
    }
    rc = verify(&t, j->final, &st->tool_calls, err);
    task_clear(&t);
    if (rc < 0)
        goto done;
    if (rc == 1) {
        rc = hset_add(prompts, str_hash64(j->out.text));
        if (rc < 0)
            goto done;
        rc = json_array_append(out, obj) ? TG_ENOMEM : 0;
        if (rc)
            goto done;
        kept = 1;
    }
    rc = 0;
reject:
    if (!kept) {
        st->rejected[f]++;
        st->reasons[why]++;
    } else {
        st->kept[f]++;
    }
done:
    json_decref(obj);
    job_clear(j);
    free(j);
    return rc < 0 ? rc : kept;
}

static int gen_split(struct gen *g, enum taskgen_split s, size_t n, json_t *out,
                     struct taskgen_stats *st, struct tg_error *err) {
    struct hset prompts = {NULL, 0, 0};
    int rc = 0;

    for (size_t i = 0; i < n; i++) {
        int kept = 0;

        for (int attempt = 0; attempt < TASKGEN_ATTEMPTS && !kept; attempt++) {
            rc = candidate(g, s, i, attempt, &prompts, out, st, err);
            if (rc < 0)
                goto fail;
            kept = rc;
        }
        rc = 0;
        if (!kept) {
            tg_error_set(err, "generation_failed",
                         "no verified %s task for slot %zu of the %s split after %d candidates",
                         task_family_name(schedule[i % TG_ARRAY_LEN(schedule)]), i + 1,
                         taskgen_split_name(s), TASKGEN_ATTEMPTS);
            rc = TG_EINVAL;
            goto fail;
        }
    }
fail:
    hset_free(&prompts);
    return rc;
}

/* The lowercase tokens of every title and text, so made-up names avoid them. */
static int build_vocab(struct gen *g) {
    char(*terms)[SEARCH_TERM_MAX] = malloc(512 * sizeof(*terms));
    int rc = 0;

    if (!terms)
        return TG_ENOMEM;
    for (size_t i = 0; i < corpus_count(g->corpus) && !rc; i++) {
        const char *texts[2] = {corpus_doc_title(g->corpus, i), corpus_doc_text(g->corpus, i)};

        for (int k = 0; k < 2 && !rc; k++) {
            size_t n = search_tokenize(texts[k], terms, 512);

            for (size_t t = 0; t < n && !rc; t++)
                rc = hset_add(&g->vocab, str_hash64(terms[t])) < 0 ? TG_ENOMEM : 0;
        }
    }
    free(terms);
    return rc;
}

static void gen_free(struct gen *g) {
    free(g->docs[0]);
    free(g->docs[1]);
    grammar_free(g->gram);
    corpus_free(g->corpus);
    hset_free(&g->vocab);
}

/* Load the corpus and the grammar, partition the entities and check the grammar. */
static int gen_init(struct gen *g, const struct taskgen_config *cfg, struct tg_error *err) {
    int rc;

    memset(g, 0, sizeof(*g));
    g->cfg = cfg;
    rc = data_path(cfg->corpus_path, DATADIR_MARKER, g->corpus_path, sizeof(g->corpus_path), err);
    if (!rc)
        rc = data_path(cfg->grammar_dir, TASKGEN_GRAMMAR_DIR, g->grammar_dir,
                       sizeof(g->grammar_dir), err);
    if (!rc)
        rc = corpus_load(g->corpus_path, &g->corpus, err);
    if (rc)
        return rc;
    while (corpus_syllable(g->nsyllables))
        g->nsyllables++;
    while (corpus_given_name(g->ngiven))
        g->ngiven++;
    rc = load_grammar(g, err);
    if (rc)
        return rc;
    for (int s = 0; s < 2; s++) {
        g->docs[s] = malloc((corpus_count(g->corpus) + 1) * sizeof(size_t));
        if (!g->docs[s])
            return TG_ENOMEM;
    }
    for (size_t i = 0; i < corpus_count(g->corpus); i++) {
        int s = taskgen_is_test_entity(cfg->seed, corpus_doc_id(g->corpus, i));

        g->docs[s][g->ndocs[s]++] = i;
    }
    if (g->ndocs[0] < 3 || g->ndocs[1] < 3) {
        tg_error_set(err, "invalid_corpus",
                     "the corpus is too small to split into train and held-out entities");
        return TG_EINVAL;
    }
    return build_vocab(g);
}

int taskgen_generate(const struct taskgen_config *cfg, json_t *out[TASKGEN_SPLITS],
                     struct taskgen_stats *st, struct tg_error *err) {
    struct taskgen_stats local;
    struct gen g;
    size_t total = 0;
    int rc;

    for (int s = 0; s < TASKGEN_SPLITS; s++) {
        out[s] = NULL;
        total += cfg->n[s];
        if (cfg->n[s] > TASKGEN_MAX_TASKS) {
            tg_error_set(err, "invalid_arguments", "task counts must be 0..%d", TASKGEN_MAX_TASKS);
            return TG_ERANGE;
        }
    }
    if (total == 0) {
        tg_error_set(err, "invalid_arguments", "no tasks asked for");
        return TG_ERANGE;
    }
    if (!st)
        st = &local;
    memset(st, 0, sizeof(*st));
    rc = gen_init(&g, cfg, err);
    st->checks = g.checks;
    for (int s = 0; s < TASKGEN_SPLITS && !rc; s++) {
        out[s] = json_array();
        rc = out[s] ? gen_split(&g, (enum taskgen_split)s, cfg->n[s], out[s], st, err) : TG_ENOMEM;
    }
    if (rc == TG_ENOMEM)
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
    if (rc) {
        for (int s = 0; s < TASKGEN_SPLITS; s++) {
            json_decref(out[s]);
            out[s] = NULL;
        }
    }
    gen_free(&g);
    return rc;
}

int taskgen_check_grammar(const char *dir, const char *corpus_path, size_t *checks,
                          struct tg_error *err) {
    struct taskgen_config cfg;
    struct gen g;
    int rc;

    memset(&cfg, 0, sizeof(cfg));
    cfg.grammar_dir = dir;
    cfg.corpus_path = corpus_path;
    rc = gen_init(&g, &cfg, err);
    if (checks)
        *checks = g.checks;
    gen_free(&g);
    return rc;
}

json_t *taskgen_heldout_tags(const char *dir, struct tg_error *err) {
    struct grammar_names names = {ph_names,   PH_COUNT,         flag_names,
                                  FLAG_COUNT, {"E", "E2", "D"}, {"V", "V2", NULL}};
    struct grammar *gram = NULL;
    char path[4096];
    json_t *tags;

    if (data_path(dir, TASKGEN_GRAMMAR_DIR, path, sizeof(path), err) ||
        grammar_load_dir(path, &names, &gram, err))
        return NULL;
    tags = grammar_heldout_tags(gram);
    grammar_free(gram);
    if (!tags || json_array_append_new(tags, json_string(HELDOUT_NUMFMT))) {
        json_decref(tags);
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
        return NULL;
    }
    return tags;
}

int taskgen_write(const json_t *tasks, const char *path, struct tg_error *err) {
    char tmp[4096];
    const json_t *t;
    size_t i;
    FILE *f;
    int bad = 0;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
        tg_error_set(err, TG_CODE_IO, "path too long: %s", path);
        return TG_EIO;
    }
    f = fopen(tmp, "w");
    if (!f) {
        tg_error_set(err, TG_CODE_IO, "%s: cannot create: %s", tmp, strerror(errno));
        return TG_EIO;
    }
    json_array_foreach(tasks, i, t) {
        if (json_dumpf(t, f, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15)) ||
            fputc('\n', f) == EOF)
            bad = 1;
    }
    if (fclose(f) || bad || rename(tmp, path)) {
        tg_error_set(err, TG_CODE_IO, "%s: write failed: %s", path, strerror(errno));
        remove(tmp);
        return TG_EIO;
    }
    return 0;
}

/* ---- frames and statistics -------------------------------------------------------------- */

/* 1 if the word w[0..n) (any case) is a number word: zero..nineteen, twenty..ninety, a
 * hyphenated "forty-two", "hundred" or "thousand". */
static int number_word(const char *w, size_t n) {
    char low[48];
    const char *dash;

    if (n == 0 || n >= sizeof(low))
        return 0;
    for (size_t i = 0; i < n; i++)
        low[i] = (char)tolower((unsigned char)w[i]);
    low[n] = '\0';
    dash = strchr(low, '-');
    if (dash) {
        char a[48];

        snprintf(a, sizeof(a), "%.*s", (int)(dash - low), low);
        return number_word(a, strlen(a)) && number_word(dash + 1, strlen(dash + 1));
    }
    if (strcmp(low, "hundred") == 0 || strcmp(low, "thousand") == 0)
        return 1;
    for (size_t i = 0; i < TG_ARRAY_LEN(small_words); i++)
        if (strcmp(low, small_words[i]) == 0)
            return 1;
    for (size_t i = 2; i < 10; i++)
        if (strcmp(low, tens_words[i]) == 0)
            return 1;
    return 0;
}

static void frame_put(char *out, size_t n, size_t *o, const char *s) {
    size_t l = strlen(s);

    if (*o + l < n) {
        memcpy(out + *o, s, l);
        *o += l;
    }
    out[*o < n ? *o : n - 1] = '\0';
}

void taskgen_frame(const char *prompt, const char *const *titles, size_t ntitles,
                   char *const *terms, size_t nterms, char *out, size_t n) {
    size_t o = 0, i = 0, len = strlen(prompt);

    if (n == 0)
        return;
    out[0] = '\0';
    while (i < len) {
        const char *p = prompt + i;
        int word_start = i == 0 || !isalnum((unsigned char)p[-1]);
        size_t best = 0;

        if (word_start && isupper((unsigned char)*p)) {
            for (size_t t = 0; t < ntitles; t++) {
                size_t tl = strlen(titles[t]);

                if (tl > best && strncmp(p, titles[t], tl) == 0 && !isalnum((unsigned char)p[tl]))
                    best = tl;
            }
        }
        if (word_start && !best && isalpha((unsigned char)*p)) {
            size_t wl = 0;

            while (isalnum((unsigned char)p[wl]))
                wl++;
            for (size_t t = 0; t < nterms && !best; t++)
                if (strlen(terms[t]) == wl && strncasecmp(p, terms[t], wl) == 0)
                    best = wl;
            if (!best) {
                size_t hl = wl;

                while (p[hl] == '-' && isalpha((unsigned char)p[hl + 1])) {
                    hl++;
                    while (isalpha((unsigned char)p[hl]))
                        hl++;
                }
                if (number_word(p, hl)) {
                    frame_put(out, n, &o, "{N}");
                    i += hl;
                    continue;
                }
            }
        }
        if (best) {
            /* "{E} {E}" (a given name and a made-up surname) is one entity */
            if (o >= 4 && strcmp(out + o - 4, "{E} ") == 0)
                out[--o] = '\0';
            else
                frame_put(out, n, &o, "{E}");
            i += best;
            continue;
        }
        if (word_start && (isdigit((unsigned char)*p) ||
                           (*p == '-' && isdigit((unsigned char)p[1]) &&
                            (i == 0 || isspace((unsigned char)p[-1]) || p[-1] == '(')))) {
            size_t k = *p == '-' ? 1 : 0;

            while (isdigit((unsigned char)p[k]) ||
                   ((p[k] == ',' || p[k] == '.') && isdigit((unsigned char)p[k + 1])))
                k++;
            frame_put(out, n, &o, "{N}");
            i += k;
            continue;
        }
        if (o + 1 < n) {
            out[o++] = *p;
            out[o] = '\0';
        }
        i++;
    }
}

static int cmp_tag_count(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int taskgen_stats_file(const char *path, const char *corpus_path, FILE *f, json_t **summary,
                       struct tg_error *err) {
    struct task_set *ts = task_set_new();
    struct corpus *c = NULL;
    const char **titles = NULL;
    struct hset frames[TASK_FAMILY_COUNT];
    size_t fam[TASK_FAMILY_COUNT] = {0};
    json_t *tags = json_object(), *sum = NULL;
    char *frame = malloc(TG_TASK_PROMPT_MAX * 2);
    char cpath[4096];
    int rc;

    memset(frames, 0, sizeof(frames));
    if (summary)
        *summary = NULL;
    if (!ts || !tags || !frame) {
        rc = TG_ENOMEM;
        goto done;
    }
    rc = task_set_load(ts, path, err);
    if (!rc)
        rc = data_path(corpus_path, DATADIR_MARKER, cpath, sizeof(cpath), err);
    if (!rc)
        rc = corpus_load(cpath, &c, err);
    if (rc)
        goto done;
    titles = malloc((corpus_count(c) + 1) * sizeof(*titles));
    if (!titles) {
        rc = TG_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < corpus_count(c); i++)
        titles[i] = corpus_doc_title(c, i);
    for (size_t i = 0; i < task_set_count(ts); i++) {
        const struct task *t = task_set_at(ts, i);
        char *const *terms = NULL;
        size_t nterms = 0;

        fam[t->family]++;
        for (size_t k = 0; k < t->ntags; k++) {
            json_t *n = json_object_get(tags, t->tags[k]);

            json_object_set_new(tags, t->tags[k], json_integer(n ? json_integer_value(n) + 1 : 1));
        }
        /* made-up names (abstain) are entities too: their search terms */
        if (t->family == TASK_ABSTAIN && t->nplan && !t->plan[0].hit) {
            terms = t->plan[0].query_terms;
            nterms = t->plan[0].nterms;
        }
        taskgen_frame(t->prompt, titles, corpus_count(c), terms, nterms, frame,
                      TG_TASK_PROMPT_MAX * 2);
        if (hset_add(&frames[t->family], str_hash64(frame)) < 0) {
            rc = TG_ENOMEM;
            goto done;
        }
    }
    sum = json_pack("{s:I, s:{}, s:o, s:{}}", "tasks", (json_int_t)task_set_count(ts), "families",
                    "tags", json_incref(tags), "frames");
    if (!sum) {
        rc = TG_ENOMEM;
        goto done;
    }
    if (f)
        fprintf(f, "%s: %zu tasks\n  %-20s %7s %7s\n", path, task_set_count(ts), "family", "tasks",
                "frames");
    for (int k = 0; k < TASK_FAMILY_COUNT; k++) {
        if (!fam[k])
            continue;
        json_object_set_new(json_object_get(sum, "families"), task_family_name((enum task_family)k),
                            json_integer((json_int_t)fam[k]));
        json_object_set_new(json_object_get(sum, "frames"), task_family_name((enum task_family)k),
                            json_integer((json_int_t)frames[k].n));
        if (f)
            fprintf(f, "  %-20s %7zu %7zu\n", task_family_name((enum task_family)k), fam[k],
                    frames[k].n);
    }
    if (f) {
        const char **names = malloc((json_object_size(tags) + 1) * sizeof(*names));
        const char *k;
        json_t *v;
        size_t n = 0;

        if (!names) {
            rc = TG_ENOMEM;
            goto done;
        }
        json_object_foreach(tags, k, v) {
            (void)v;
            names[n++] = k;
        }
        if (n)
            qsort(names, n, sizeof(*names), cmp_tag_count);
        fprintf(f, "  %-34s %7s\n", "tag", "tasks");
        for (size_t q = 0; q < n; q++)
            fprintf(f, "  %-34s %7lld\n", names[q],
                    (long long)json_integer_value(json_object_get(tags, names[q])));
        free(names);
    }
    if (summary) {
        *summary = sum;
        sum = NULL;
    }
done:
    if (rc == TG_ENOMEM)
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
    for (int k = 0; k < TASK_FAMILY_COUNT; k++)
        hset_free(&frames[k]);
    json_decref(sum);
    json_decref(tags);
    free(frame);
    free(titles);
    corpus_free(c);
    task_set_free(ts);
    return rc;
}
