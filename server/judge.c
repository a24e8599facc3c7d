/*
 * judge.c — labels tool calls and answers from a task's plan and an episode's history.
 * See judge.h for the rules. Pure: no I/O, no globals, no clock; allocation only for the
 * remembered call keys.
 */
#include "server/judge.h"

#include "tools/search.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"

static const char *const label_names[JUDGE_LABEL_COUNT] = {
    [JUDGE_NECESSARY] = "necessary",
    [JUDGE_REDUNDANT] = "redundant",
    [JUDGE_PREMATURE] = "premature",
    [JUDGE_UNNECESSARY] = "unnecessary",
    [JUDGE_WRONG_ARGS] = "wrong_args",
    [JUDGE_MALFORMED] = "malformed",
    [JUDGE_CORRECT] = "correct",
    [JUDGE_INCORRECT] = "incorrect",
    [JUDGE_PREMATURE_ANSWER] = "premature_answer",
    [JUDGE_STEP_LIMIT] = "step_limit",
};

const char *judge_label_name(enum judge_label l) {
    return tg_name_of(label_names, JUDGE_LABEL_COUNT, (int)l);
}

int judge_label_parse(const char *name, enum judge_label *out) {
    int l = tg_name_index(label_names, JUDGE_LABEL_COUNT, name);

    if (l < 0)
        return TG_EINVAL;
    *out = (enum judge_label)l;
    return 0;
}

int judge_label_is_call(enum judge_label l) {
    return l <= JUDGE_MALFORMED;
}

/* ---- state ------------------------------------------------------------------------------ */

void judge_state_init(struct judge_state *s) {
    memset(s, 0, sizeof(*s));
}

void judge_state_clear(struct judge_state *s) {
    if (!s)
        return;
    judge_state_init(s);
}

int judge_state_copy(struct judge_state *dst, const struct judge_state *src) {
    *dst = *src;
    return 0;
}

/* The remembered form of a key: its length, FNV-1a 64 (base/hash) and, independent of it, a
 * multiply-xorshift hash. */
static struct judge_key key_digest(const char *k) {
    struct judge_key d;
    uint64_t h = 0x243f6a8885a308d3ULL;

    d.len = strlen(k);
    d.h1 = hash_fnv64(HASH_FNV64_BASIS, k, d.len);
    for (size_t i = 0; i < d.len; i++) {
        h = (h ^ (unsigned char)k[i]) * 0x9e3779b97f4a7c15ULL;
        h ^= h >> 29;
    }
    d.h2 = h;
    return d;
}

static int key_equal(const struct judge_key *a, const struct judge_key *b) {
    return a->len == b->len && a->h1 == b->h1 && a->h2 == b->h2;
}

static unsigned all_steps(const struct task *t) {
    return t->nplan >= 32 ? ~0u : (1u << t->nplan) - 1;
}

int judge_plan_complete(const struct task *t, const struct judge_state *s) {
    return (s->satisfied & all_steps(t)) == all_steps(t);
}

/* ---- tokens and keys -------------------------------------------------------------------- */

/* Next token of s at or after *pos: start/len of an ASCII alnum run; 0 when none is left. */
static int next_token(const char *s, size_t *pos, size_t *start, size_t *len) {
    size_t i = *pos;

    while (s[i] && !((unsigned char)s[i] < 0x80 && isalnum((unsigned char)s[i])))
        i++;
    if (!s[i])
        return 0;
    *start = i;
    while (s[i] && (unsigned char)s[i] < 0x80 && isalnum((unsigned char)s[i]))
        i++;
    *len = i - *start;
    *pos = i;
    return 1;
}

int judge_query_has_terms(const char *query, char *const *terms, size_t n) {
    for (size_t k = 0; k < n; k++) {
        size_t pos = 0, start, len, tl = strlen(terms[k]);
        int found = 0;

        /* a token longer than a search term is the index's term: its first SEARCH_TERM_MAX - 1
         * bytes (search_tokenize) */
        while (!found && next_token(query, &pos, &start, &len)) {
            if (len > SEARCH_TERM_MAX - 1)
                len = SEARCH_TERM_MAX - 1;
            found = len == tl && strncasecmp(query + start, terms[k], tl) == 0;
        }
        if (!found)
            return 0;
    }
    return 1;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "tok1 tok2 ..." — the sorted, unique terms of q as the search index sees them (lowercase,
 * stopwords dropped, at most TG_SEARCH_MAX_QUERY / 2 + 1 of them), new; NULL on ENOMEM. */
static char *token_set(const char *q) {
    enum { MAXT = TG_SEARCH_MAX_QUERY / 2 + 1 };
    char(*terms)[SEARCH_TERM_MAX] = malloc(MAXT * sizeof(*terms));
    char **ptr = malloc(MAXT * sizeof(*ptr));
    char *out = NULL, *p;
    size_t n, total = 1;

    if (!terms || !ptr)
        goto done;
    n = search_tokenize(q, terms, MAXT);
    for (size_t i = 0; i < n; i++) {
        ptr[i] = terms[i];
        total += strlen(terms[i]) + 1;
    }
    if (n)
        qsort(ptr, n, sizeof(*ptr), cmp_str);
    out = malloc(total);
    if (!out)
        goto done;
    p = out;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(ptr[i]);

        if (i > 0 && strcmp(ptr[i], ptr[i - 1]) == 0)
            continue;
        if (p != out)
            *p++ = ' ';
        memcpy(p, ptr[i], l);
        p += l;
    }
    *p = '\0';
done:
    free(terms);
    free(ptr);
    return out;
}

/* s without any whitespace (new), NULL on ENOMEM. */
static char *strip_space(const char *s) {
    char *out = malloc(strlen(s) + 1), *p = out;

    if (!out)
        return NULL;
    for (; *s; s++)
        if (!isspace((unsigned char)*s))
            *p++ = *s;
    *p = '\0';
    return out;
}

static char *join_key(const char *tool, const char *norm) {
    size_t a = strlen(tool), b = strlen(norm);
    char *k = malloc(a + b + 2);

    if (!k)
        return NULL;
    memcpy(k, tool, a);
    k[a] = '\x1f';
    memcpy(k + a + 1, norm, b + 1);
    return k;
}

int judge_call_key(const char *tool, const json_t *args, const json_t *result, char **out) {
    const json_t *v;
    char *norm = NULL;

    *out = NULL;
    if (!tool)
        tool = "";
    if (strcmp(tool, "calculator") == 0) {
        v = json_object_get(result, "value");
        if (json_is_number(v)) {
            char buf[64];

            snprintf(buf, sizeof(buf), "=%.17g", json_number_value(v));
            norm = strip_space(buf);
        } else {
            v = json_object_get(args, "expression");
            norm = strip_space(json_is_string(v) ? json_string_value(v) : "");
        }
    } else if (strcmp(tool, "search") == 0 && json_is_string(json_object_get(args, "query"))) {
        norm = token_set(json_string_value(json_object_get(args, "query")));
    } else if (args) {
        norm = json_dumps(args, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
    } else {
        norm = strip_space("");
    }
    if (!norm)
        return TG_ENOMEM;
    *out = join_key(tool, norm);
    free(norm);
    return *out ? 0 : TG_ENOMEM;
}

/* ---- matching --------------------------------------------------------------------------- */

/* 1 if s, trimmed of surrounding whitespace, equals want (already trimmed). */
static int trimmed_equals(const char *s, const char *want) {
    size_t n, wl = strlen(want);

    while (*s && isspace((unsigned char)*s))
        s++;
    n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    return n == wl && memcmp(s, want, n) == 0;
}

/* 1 if text contains want as a whole token: not preceded by an alnum or '.', not followed by
 * an alnum or by '.' and a digit. */
static int shows_token(const char *text, const char *want) {
    size_t wl = strlen(want);

    if (!wl)
        return 0;
    for (const char *p = strstr(text, want); p; p = strstr(p + 1, want)) {
        unsigned char before = p > text ? (unsigned char)p[-1] : ' ';
        unsigned char after = (unsigned char)p[wl];

        if (isalnum(before) || before == '.')
            continue;
        if (isalnum(after) || (after == '.' && isdigit((unsigned char)p[wl + 1])))
            continue;
        return 1;
    }
    return 0;
}

/* 1 if a hit (the one with id `hit` when it is not NULL) has a snippet showing `shows`. */
static int hits_show(const json_t *result, const char *hit, const char *shows) {
    const json_t *hits = json_object_get(result, "hits"), *h;
    size_t i;

    json_array_foreach(hits, i, h) {
        const json_t *id = json_object_get(h, "id"), *sn = json_object_get(h, "snippet");

        if (hit && !(json_is_string(id) && strcmp(json_string_value(id), hit) == 0))
            continue;
        if (!shows || (json_is_string(sn) && shows_token(json_string_value(sn), shows)))
            return 1;
    }
    return 0;
}

int judge_step_matches(const struct task_step *st, const struct judge_call *c) {
    if (!c->tool || strcmp(c->tool, st->tool) != 0 || c->outcome != JUDGE_TOOL_OK)
        return 0;
    if (st->nterms) {
        const json_t *q = json_object_get(c->args, "query");

        if (!json_is_string(q) ||
            !judge_query_has_terms(json_string_value(q), st->query_terms, st->nterms))
            return 0;
    }
    if ((st->hit || st->shows) && !hits_show(c->result, st->hit, st->shows))
        return 0;
    if (st->has_value) {
        const json_t *v = json_object_get(c->result, "value");

        if (!json_is_number(v) || !(fabs(json_number_value(v) - st->value) <= st->tolerance))
            return 0;
    }
    if (st->stdout_equals) {
        const json_t *o = json_object_get(c->result, "stdout");

        if (!json_is_string(o) || !trimmed_equals(json_string_value(o), st->stdout_equals))
            return 0;
    }
    return 1;
}

/* ---- verdicts --------------------------------------------------------------------------- */

static void verdict(struct judge_verdict *v, enum judge_label l, int step, const char *fmt,
                    const char *arg) __attribute__((format(printf, 4, 0)));

static void verdict(struct judge_verdict *v, enum judge_label l, int step, const char *fmt,
                    const char *arg) {
    memset(v, 0, sizeof(*v));
    v->label = l;
    v->step = step;
    snprintf(v->reason, sizeof(v->reason), fmt, arg);
}

static const char *malformed_reason(enum judge_outcome o) {
    switch (o) {
    case JUDGE_UNKNOWN_TOOL:
        return "There is no tool named \"%s\".";
    case JUDGE_BAD_ARGS:
        return "The arguments of the %s call do not fit the tool's schema.";
    default:
        return "The %s call failed with a tool-level error.";
    }
}

int judge_call(const struct task *t, struct judge_state *s, const struct judge_call *c,
               struct judge_verdict *v) {
    const char *tool = c->tool ? c->tool : "";
    unsigned of_tool = 0, open, ready;
    char *key = NULL;
    struct judge_key kd;
    int rc;

    if (s->finished || s->ncalls >= TG_MAX_STEPS_LIMIT)
        return TG_ESTATE;
    if (c->outcome != JUDGE_TOOL_OK || !c->tool) {
        verdict(v, JUDGE_MALFORMED, -1, malformed_reason(c->tool ? c->outcome : JUDGE_UNKNOWN_TOOL),
                tool);
        s->ncalls++;
        return 0;
    }
    rc = judge_call_key(c->tool, c->args, c->result, &key);
    if (rc)
        return rc;
    kd = key_digest(key);
    free(key);

    for (size_t i = 0; i < t->nplan; i++)
        if (strcmp(t->plan[i].tool, c->tool) == 0)
            of_tool |= 1u << i;
    open = of_tool & ~s->satisfied;
    ready = 0;
    for (size_t i = 0; i < t->nplan; i++)
        if ((open & (1u << i)) && (t->plan[i].needs & ~s->satisfied) == 0)
            ready |= 1u << i;

    if (t->nplan == 0) {
        verdict(v, JUDGE_UNNECESSARY, -1, "The task needs no tool call; %s was not needed.", tool);
    } else if (judge_plan_complete(t, s)) {
        verdict(v, JUDGE_REDUNDANT, -1,
                "Every plan step was already satisfied before this %s call.", tool);
    } else if (!of_tool) {
        verdict(v, JUDGE_UNNECESSARY, -1, "The task needs no %s call.", tool);
    } else {
        int dup = 0;

        for (size_t i = 0; i < s->nkeys && !dup; i++)
            dup = key_equal(&s->keys[i], &kd);
        if (dup) {
            verdict(v, JUDGE_REDUNDANT, -1, "An earlier %s call had the same arguments.", tool);
        } else if (!open) {
            verdict(v, JUDGE_REDUNDANT, -1, "Every plan step that uses %s was already satisfied.",
                    tool);
        } else {
            int hit = -1;

            for (size_t i = 0; i < t->nplan && hit < 0; i++)
                if ((ready & (1u << i)) && judge_step_matches(&t->plan[i], c))
                    hit = (int)i;
            if (hit >= 0) {
                verdict(v, JUDGE_NECESSARY, hit, "The %s call satisfies a needed plan step.", tool);
            } else if (ready) {
                verdict(v, JUDGE_WRONG_ARGS, -1,
                        "The %s call is the right tool but its arguments or result do not "
                        "satisfy the plan step.",
                        tool);
            } else {
                verdict(v, JUDGE_PREMATURE, -1,
                        "The %s call comes before the steps it depends on are done.", tool);
            }
        }
    }

    /* Premature calls are not remembered: the same call, once its needs are met, counts. */
    if (v->label != JUDGE_PREMATURE && s->nkeys < TG_MAX_STEPS_LIMIT)
        s->keys[s->nkeys++] = kd;
    if (v->step >= 0)
        s->satisfied |= 1u << v->step;
    s->ncalls++;
    return 0;
}

/* ---- answers ---------------------------------------------------------------------------- */

/* Parse the number starting at s[i] (a digit, or '.' before a digit). Sets *end past it. */
static double number_at(const char *s, size_t i, size_t *end) {
    char buf[128];
    size_t n = 0, j = i;

    if (i > 0 && (s[i - 1] == '-' || s[i - 1] == '+') &&
        (i == 1 || !isalnum((unsigned char)s[i - 2])))
        buf[n++] = s[i - 1];
    while (n < sizeof(buf) - 8) {
        if (isdigit((unsigned char)s[j])) {
            buf[n++] = s[j++];
        } else if (s[j] == ',' && n > 0 && isdigit((unsigned char)s[j + 1]) &&
                   isdigit((unsigned char)s[j + 2]) && isdigit((unsigned char)s[j + 3]) &&
                   !isdigit((unsigned char)s[j + 4])) {
            j++; /* thousands separator */
        } else {
            break;
        }
    }
    if (s[j] == '.' && isdigit((unsigned char)s[j + 1])) {
        buf[n++] = s[j++];
        while (n < sizeof(buf) - 6 && isdigit((unsigned char)s[j]))
            buf[n++] = s[j++];
    }
    if ((s[j] == 'e' || s[j] == 'E') &&
        (isdigit((unsigned char)s[j + 1]) ||
         ((s[j + 1] == '+' || s[j + 1] == '-') && isdigit((unsigned char)s[j + 2])))) {
        buf[n++] = s[j++];
        if (s[j] == '+' || s[j] == '-')
            buf[n++] = s[j++];
        while (n < sizeof(buf) - 1 && isdigit((unsigned char)s[j]))
            buf[n++] = s[j++];
    }
    while (isdigit((unsigned char)s[j])) /* digits past the buffer: skip */
        j++;
    buf[n] = '\0';
    *end = j;
    return strtod(buf, NULL);
}

/* The last number written in s; 0 if there is none. */
static int last_number(const char *s, double *out) {
    size_t i = 0;
    int found = 0;

    while (s[i]) {
        if (isdigit((unsigned char)s[i]) || (s[i] == '.' && isdigit((unsigned char)s[i + 1]) &&
                                             (i == 0 || !isdigit((unsigned char)s[i - 1])))) {
            size_t end;

            *out = number_at(s, i, &end);
            found = 1;
            i = end;
        } else {
            i++;
        }
    }
    return found;
}

/* Lowercased, whitespace-collapsed, trimmed, trailing-'.'-dropped copy of s (new). */
static char *norm_text(const char *s) {
    char *out = malloc(strlen(s) + 1), *p = out;
    int space = 0;

    if (!out)
        return NULL;
    for (; *s; s++) {
        if (isspace((unsigned char)*s)) {
            space = p != out;
            continue;
        }
        if (space)
            *p++ = ' ';
        space = 0;
        *p++ = (char)tolower((unsigned char)*s);
    }
    while (p > out && p[-1] == '.')
        p--;
    while (p > out && p[-1] == ' ')
        p--;
    *p = '\0';
    return out;
}

/* Phrases that say a fact cannot be known (matched on the normalised answer, as words). */
static const char *const unknown_phrases[] = {
    "unknown",     "not known",     "don't know",     "do not know",          "not recorded",
    "no record",   "not available", "no information", "cannot be determined", "can't be determined",
    "cannot tell", "can't tell",
};

/* 1 if the normalised text holds phrase p as whole words. */
static int has_phrase(const char *text, const char *p) {
    size_t pl = strlen(p);

    for (const char *q = strstr(text, p); q; q = strstr(q + 1, p)) {
        unsigned char before = q > text ? (unsigned char)q[-1] : ' ';
        unsigned char after = (unsigned char)q[pl];

        if (!isalnum(before) && !isalnum(after))
            return 1;
    }
    return 0;
}

/* An "unknown" answer: says the fact cannot be known and gives no number (a made-up number
 * is wrong even beside the word "unknown"). */
static int says_unknown(const char *answer) {
    char *t;
    int ok = 0;
    double x;

    if (last_number(answer, &x))
        return 0;
    t = norm_text(answer);
    if (!t)
        return 0;
    for (size_t i = 0; i < TG_ARRAY_LEN(unknown_phrases) && !ok; i++)
        ok = has_phrase(t, unknown_phrases[i]);
    free(t);
    return ok;
}

int judge_answer_correct(const struct task_answer *a, const char *answer) {
    double x;

    if (!answer)
        return 0;
    switch (a->type) {
    case TASK_ANSWER_NUMBER:
        if (!last_number(answer, &x))
            return 0;
        return fabs(x - a->value) <= fmax(a->tolerance, a->rel_tolerance * fabs(a->value));
    case TASK_ANSWER_INT:
        return last_number(answer, &x) && x == a->value;
    case TASK_ANSWER_STRING: {
        char *x1 = norm_text(answer), *x2 = norm_text(a->text ? a->text : "");
        int eq = x1 && x2 && strcmp(x1, x2) == 0;

        free(x1);
        free(x2);
        return eq;
    }
    case TASK_ANSWER_UNKNOWN:
        return says_unknown(answer);
    }
    return 0;
}

int judge_answer(const struct task *t, struct judge_state *s, const char *answer,
                 struct judge_verdict *v) {
    int correct, early;

    if (s->finished)
        return TG_ESTATE;
    correct = judge_answer_correct(&t->answer, answer);
    early = !judge_plan_complete(t, s);
    memset(v, 0, sizeof(*v));
    v->label = correct ? JUDGE_CORRECT : JUDGE_INCORRECT;
    v->step = -1;
    v->correct = correct;
    v->premature_answer = early;
    snprintf(v->reason, sizeof(v->reason), "The answer is %s%s.", correct ? "correct" : "incorrect",
             early ? ", given before every plan step was done" : "");
    s->finished = 1;
    return 0;
}

int judge_step_limit(const struct task *t, struct judge_state *s, struct judge_verdict *v) {
    (void)t;
    if (s->finished)
        return TG_ESTATE;
    verdict(v, JUDGE_STEP_LIMIT, -1, "The episode reached its step limit%s without an answer.", "");
    s->finished = 1;
    return 0;
}
