/*
 * judge.c — labels tool calls and answers from a task's plan and an episode's history.
 * See judge.h for the rules. Pure: no I/O, no globals, no clock; allocation only for keys
 * being built.
 */
#include "server/judge.h"

#include "tools/calc.h"
#include "tools/search.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"

static const char *const label_names[JUDGE_LABEL_COUNT] = {
    [JUDGE_NECESSARY] = "necessary",   [JUDGE_REDUNDANT] = "redundant",
    [JUDGE_PREMATURE] = "premature",   [JUDGE_UNNECESSARY] = "unnecessary",
    [JUDGE_WRONG_ARGS] = "wrong_args", [JUDGE_MALFORMED] = "malformed",
    [JUDGE_PARTIAL] = "partial",       [JUDGE_CORRECT] = "correct",
    [JUDGE_INCORRECT] = "incorrect",   [JUDGE_PREMATURE_ANSWER] = "premature_answer",
    [JUDGE_UNGROUNDED] = "ungrounded", [JUDGE_STEP_LIMIT] = "step_limit",
};

const char judge_answer_format[] =
    "End the episode with {\"answer\": \"...\"} and state the value in it as \"Answer: "
    "<value>\": a number in digits (e.g. \"Answer: 9634\" or \"Answer: -2.5\"), or \"Answer: "
    "unknown\" when the fact cannot be found. Only the value after \"Answer:\" is read.";

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
    return l <= JUDGE_PARTIAL;
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
    /* the keys past nkeys are never read: copy the used ones only (a step copies the state
     * twice; the whole array is 3 kB) */
    dst->satisfied = src->satisfied;
    dst->ncalls = src->ncalls;
    dst->nkeys = src->nkeys;
    dst->finished = src->finished;
    memcpy(dst->keys, src->keys, src->nkeys * sizeof(src->keys[0]));
    return 0;
}

void judge_memo_load(const struct judge_memo *m, struct judge_state *s) {
    TG_ASSERT(m->nkeys <= TG_ARRAY_LEN(s->keys));
    s->satisfied = m->satisfied;
    s->ncalls = m->ncalls;
    s->nkeys = m->nkeys;
    s->finished = m->finished;
    if (m->nkeys)
        memcpy(s->keys, m->keys, m->nkeys * sizeof(s->keys[0]));
}

int judge_memo_save(struct judge_memo *m, const struct judge_state *s) {
    if (s->nkeys > m->cap)
        return TG_ERANGE;
    m->satisfied = s->satisfied;
    m->ncalls = s->ncalls;
    m->nkeys = s->nkeys;
    m->finished = s->finished;
    if (s->nkeys)
        memcpy(m->keys, s->keys, s->nkeys * sizeof(s->keys[0]));
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

static int is_search_step(const struct task_step *st) {
    return strcmp(st->tool, "search") == 0;
}

int judge_grounded(const struct task *t, const struct judge_state *s) {
    for (size_t i = 0; i < t->nplan && i < 32; i++)
        if (is_search_step(&t->plan[i]) && !(s->satisfied & (1u << i)))
            return 0;
    return 1;
}

/* ---- reading numbers ---------------------------------------------------------------------- */

/* 1 if a and b are equal up to a relative 1e-9 (numbers written in text and computed ones). */
static int same_number(double a, double b) {
    return fabs(a - b) <= 1e-9 * fmax(1.0, fmax(fabs(a), fabs(b)));
}

static int is_alpha_at(const char *s, size_t i) {
    return (unsigned char)s[i] < 0x80 && isalpha((unsigned char)s[i]);
}

static int is_alnum_at(const char *s, size_t i) {
    return (unsigned char)s[i] < 0x80 && isalnum((unsigned char)s[i]);
}

/* Bytes of a minus sign at s + i: 1 for '-' or '+', 3 for U+2212; 0 if none. */
static size_t sign_at(const char *s, size_t i) {
    if (s[i] == '-' || s[i] == '+')
        return 1;
    if ((unsigned char)s[i] == 0xE2 && (unsigned char)s[i + 1] == 0x88 &&
        (unsigned char)s[i + 2] == 0x92)
        return 3;
    return 0;
}

/* A number written in digits at s + i (s[i] a digit, or '.' before one), negated when
 * negative is set. Sets *end past it. */
static double digits_at(const char *s, size_t i, int negative, size_t *end) {
    char buf[128];
    size_t n = 0, j = i;

    if (negative)
        buf[n++] = '-';
    while (n < sizeof(buf) - 8) {
        if (isdigit((unsigned char)s[j])) {
            buf[n++] = s[j++];
        } else if (s[j] == ',' && j > i && isdigit((unsigned char)s[j + 1]) &&
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

/* Number words: the value and kind of each word. */
enum word_kind { W_ZERO, W_UNIT, W_TEEN, W_TENS, W_HUNDRED, W_THOUSAND };

static const struct number_word {
    const char *w;
    int v;
    enum word_kind k;
} number_words[] = {
    {"zero", 0, W_ZERO},      {"one", 1, W_UNIT},          {"two", 2, W_UNIT},
    {"three", 3, W_UNIT},     {"four", 4, W_UNIT},         {"five", 5, W_UNIT},
    {"six", 6, W_UNIT},       {"seven", 7, W_UNIT},        {"eight", 8, W_UNIT},
    {"nine", 9, W_UNIT},      {"ten", 10, W_TEEN},         {"eleven", 11, W_TEEN},
    {"twelve", 12, W_TEEN},   {"thirteen", 13, W_TEEN},    {"fourteen", 14, W_TEEN},
    {"fifteen", 15, W_TEEN},  {"sixteen", 16, W_TEEN},     {"seventeen", 17, W_TEEN},
    {"eighteen", 18, W_TEEN}, {"nineteen", 19, W_TEEN},    {"twenty", 20, W_TENS},
    {"thirty", 30, W_TENS},   {"forty", 40, W_TENS},       {"fifty", 50, W_TENS},
    {"sixty", 60, W_TENS},    {"seventy", 70, W_TENS},     {"eighty", 80, W_TENS},
    {"ninety", 90, W_TENS},   {"hundred", 100, W_HUNDRED}, {"thousand", 1000, W_THOUSAND},
};

/* The number word at s + i (a whole word), or NULL; *len its length. */
static const struct number_word *word_at(const char *s, size_t i, size_t *len) {
    size_t n = 0;

    if (i > 0 && is_alnum_at(s, i - 1))
        return NULL;
    while (is_alpha_at(s, i + n))
        n++;
    if (is_alnum_at(s, i + n))
        return NULL;
    for (size_t k = 0; k < TG_ARRAY_LEN(number_words); k++)
        if (strlen(number_words[k].w) == n && strncasecmp(s + i, number_words[k].w, n) == 0) {
            *len = n;
            return &number_words[k];
        }
    return NULL;
}

/* Skip spaces (and one hyphen when hyphen is set) from i; returns the new offset. */
static size_t skip_gap(const char *s, size_t i, int hyphen) {
    while (s[i] == ' ' || s[i] == '\t')
        i++;
    if (hyphen && s[i] == '-')
        i++;
    while (s[i] == ' ' || s[i] == '\t')
        i++;
    return i;
}

/*
 * Number words starting at s + i: a whole number 0..999,999 ("twenty-one", "one hundred and
 * five", "three thousand two hundred"). Returns the number of words read (0: none) with *v and
 * *end set past the last word.
 */
static int words_at(const char *s, size_t i, double *v, size_t *end) {
    long total = 0, cur = 0;
    enum word_kind last = W_ZERO;
    int nwords = 0, after_and = 0;
    size_t pos = i, len;

    for (;;) {
        const struct number_word *w = word_at(s, pos, &len);
        int ok;

        if (!w && nwords > 0 && !after_and && (last == W_HUNDRED || last == W_THOUSAND) &&
            strncasecmp(s + pos, "and", 3) == 0 && !is_alnum_at(s, pos + 3)) {
            size_t q = skip_gap(s, pos + 3, 0);
            const struct number_word *nx = word_at(s, q, &len);

            if (nx && nx->k != W_HUNDRED && nx->k != W_THOUSAND && nx->k != W_ZERO) {
                after_and = 1;
                pos = q;
                continue;
            }
        }
        if (!w)
            break;
        switch (w->k) {
        case W_ZERO:
            ok = nwords == 0;
            break;
        case W_UNIT:
            ok = nwords == 0 || last == W_TENS || last == W_HUNDRED || last == W_THOUSAND;
            break;
        case W_TEEN:
        case W_TENS:
            ok = nwords == 0 || last == W_HUNDRED || last == W_THOUSAND;
            break;
        case W_HUNDRED:
            ok = nwords > 0 && (last == W_UNIT || last == W_TEEN) && cur >= 1 && cur <= 19;
            break;
        default:
            ok = nwords > 0 && last != W_THOUSAND && total == 0 && cur >= 1;
            break;
        }
        if (!ok)
            break;
        if (w->k == W_HUNDRED)
            cur *= 100;
        else if (w->k == W_THOUSAND)
            total = cur * 1000, cur = 0;
        else
            cur += w->v;
        last = w->k;
        nwords++;
        after_and = 0;
        pos += len;
        *end = pos;
        pos = skip_gap(s, pos, last == W_TENS);
        if (last == W_ZERO)
            break;
    }
    if (nwords == 0)
        return 0;
    *v = (double)(total + cur);
    return nwords;
}

/* 1 if the text between i and the end, trimmed of spaces and final '.', is empty. */
static int only_space_after(const char *s, size_t i) {
    while (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '.' ||
           s[i] == '!')
        i++;
    return s[i] == '\0';
}

/*
 * The first number of s[from..to) (to = SIZE_MAX: to the end), skipping bracketed spans when
 * skip_brackets is set. strict_one: a lone "one" is not read as a number unless it is the
 * whole text. Returns 1 with *out, else 0.
 */
static int first_number(const char *s, size_t from, size_t to, int skip_brackets, int strict_one,
                        double *out) {
    int depth = 0;

    for (size_t i = from; i < to && s[i];) {
        size_t end, sl;
        double v;
        int nw;

        if (skip_brackets && (s[i] == '(' || s[i] == '[')) {
            depth++;
            i++;
            continue;
        }
        if (skip_brackets && (s[i] == ')' || s[i] == ']')) {
            depth -= depth > 0;
            i++;
            continue;
        }
        if (depth > 0) {
            i++;
            continue;
        }
        sl = sign_at(s, i);
        if (sl && (i == 0 || !is_alnum_at(s, i - 1)) &&
            (isdigit((unsigned char)s[i + sl]) ||
             (s[i + sl] == '.' && isdigit((unsigned char)s[i + sl + 1])))) {
            *out = digits_at(s, i + sl, s[i] != '+', &end);
            return 1;
        }
        if ((isdigit((unsigned char)s[i]) || (s[i] == '.' && isdigit((unsigned char)s[i + 1]))) &&
            (i == 0 || !isdigit((unsigned char)s[i - 1]))) {
            *out = digits_at(s, i, 0, &end);
            return 1;
        }
        if (is_alpha_at(s, i) && (i == 0 || !is_alnum_at(s, i - 1))) {
            size_t wl = 0, j = i;
            int neg = 0;

            while (is_alpha_at(s, i + wl))
                wl++;
            if ((wl == 5 && strncasecmp(s + i, "minus", 5) == 0) ||
                (wl == 8 && strncasecmp(s + i, "negative", 8) == 0)) {
                j = skip_gap(s, i + wl, 0);
                neg = 1;
            }
            nw = words_at(s, j, &v, &end);
            if (nw > 0 && !(strict_one && nw == 1 && !neg && v == 1 &&
                            !(j == from && only_space_after(s, end)))) {
                *out = neg ? -v : v;
                return 1;
            }
            i += wl;
            continue;
        }
        i++;
    }
    return 0;
}

/* Offset just past the answer form's cue (the last "answer:", "answer is", "answer ="), or
 * SIZE_MAX if there is none. */
static size_t answer_cue(const char *s) {
    size_t best = SIZE_MAX;

    for (size_t i = 0; s[i]; i++) {
        size_t j;

        if (strncasecmp(s + i, "answer", 6) != 0 || (i > 0 && is_alnum_at(s, i - 1)))
            continue;
        j = i + 6;
        while (s[j] == ' ' || s[j] == '\t' || s[j] == '*')
            j++;
        if (s[j] == ':' || s[j] == '=')
            best = j + 1;
        else if (strncasecmp(s + j, "is", 2) == 0 && !is_alnum_at(s, j + 2))
            best = j + 2;
    }
    return best;
}

int judge_read_number(const char *text, double *out) {
    size_t cue;

    if (!text)
        return 0;
    cue = answer_cue(text);
    if (cue != SIZE_MAX) {
        size_t from = cue;

        while (text[from] == ' ' || text[from] == '\t')
            from++;
        return first_number(text, from, SIZE_MAX, 0, 1, out) ||
               first_number(text, 0, cue, 1, 1, out);
    }
    return first_number(text, 0, SIZE_MAX, 1, 1, out) || first_number(text, 0, SIZE_MAX, 0, 1, out);
}

/* Every number in s (digits and number words, without signs), at most max, into out; returns
 * the count. */
static size_t all_numbers(const char *s, double *out, size_t max) {
    size_t n = 0, i = 0;

    while (s[i] && n < max) {
        size_t end = i + 1;
        double v;

        if (isdigit((unsigned char)s[i]) && (i == 0 || !isdigit((unsigned char)s[i - 1]))) {
            out[n++] = digits_at(s, i, 0, &end);
        } else if (is_alpha_at(s, i) && (i == 0 || !is_alnum_at(s, i - 1))) {
            if (words_at(s, i, &v, &end) > 0)
                out[n++] = v;
            else
                while (is_alpha_at(s, end))
                    end++;
        }
        i = end > i ? end : i + 1;
    }
    return n;
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

/* The strings ptr[0..n) sorted, unique, joined by spaces, as a new string; NULL on ENOMEM. */
static char *join_sorted(char **ptr, size_t n) {
    size_t total = 1;
    char *out, *p;

    for (size_t i = 0; i < n; i++)
        total += strlen(ptr[i]) + 1;
    if (n)
        qsort(ptr, n, sizeof(*ptr), cmp_str);
    out = malloc(total);
    if (!out)
        return NULL;
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
    return out;
}

/* "tok1 tok2 ..." — the sorted, unique terms of q as the search index sees them (lowercase,
 * stopwords dropped, at most TG_SEARCH_MAX_QUERY / 2 + 1 of them), new; NULL on ENOMEM. */
static char *token_set(const char *q) {
    enum { MAXT = TG_SEARCH_MAX_QUERY / 2 + 1 };
    char(*terms)[SEARCH_TERM_MAX] = malloc(MAXT * sizeof(*terms));
    char **ptr = malloc(MAXT * sizeof(*ptr));
    char *out = NULL;
    size_t n;

    if (terms && ptr) {
        n = search_tokenize(q, terms, MAXT);
        for (size_t i = 0; i < n; i++)
            ptr[i] = terms[i];
        out = join_sorted(ptr, n);
    }
    free(terms);
    free(ptr);
    return out;
}

/* The sorted ids of a search result's hits, new ("" when none); NULL on ENOMEM. */
static char *hit_set(const json_t *result) {
    const json_t *hits = json_object_get(result, "hits"), *h;
    size_t n = json_array_size(hits), k = 0, i;
    char **ptr = malloc((n ? n : 1) * sizeof(*ptr));
    char *out;

    if (!ptr)
        return NULL;
    json_array_foreach(hits, i, h) {
        const char *id = json_string_value(json_object_get(h, "id"));

        if (id)
            ptr[k++] = (char *)id;
    }
    out = join_sorted(ptr, k);
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

/* s trimmed of surrounding whitespace (new), NULL on ENOMEM. */
static char *trim_copy(const char *s, size_t extra, char **tail) {
    size_t n;
    char *out;

    while (*s && isspace((unsigned char)*s))
        s++;
    n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    out = malloc(n + extra + 1);
    if (!out)
        return NULL;
    memcpy(out, s, n);
    out[n] = '\0';
    *tail = out + n;
    return out;
}

/* snprintf(buf, n, "%s%.17g", prefix, v): a whole number below 2^53 (what calculators return
 * most) in decimal without printf, which is what "%.17g" prints for it (at most 16 digits, so
 * no exponent and no point); anything else by snprintf. */
static void key_number(char *buf, size_t n, const char *prefix, double v) {
    char digits[24], *d = digits + sizeof(digits);
    size_t np = strlen(prefix), nd;
    unsigned long long u;

    if (!(v == floor(v) && fabs(v) < 9007199254740992.0) || (v == 0 && signbit(v))) {
        snprintf(buf, n, "%s%.17g", prefix, v);
        return;
    }
    u = (unsigned long long)fabs(v);
    do {
        *--d = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--d = '-';
    nd = (size_t)(digits + sizeof(digits) - d);
    if (np + nd >= n) {
        snprintf(buf, n, "%s%.17g", prefix, v);
        return;
    }
    memcpy(buf, prefix, np);
    memcpy(buf + np, d, nd);
    buf[np + nd] = '\0';
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

/* The digest of judge_call_key's key for a calculator call that returned v, built on the stack
 * (the judge asks for it on every calculator call). */
static struct judge_key value_key(double v) {
    char key[80];

    key_number(key, sizeof(key), "calculator\x1f=", v);
    return key_digest(key);
}

int judge_call_key(const char *tool, const json_t *args, const json_t *result, char **out) {
    const json_t *v;
    char *norm = NULL, *tail;

    *out = NULL;
    if (!tool)
        tool = "";
    if (strcmp(tool, "calculator") == 0) {
        v = json_object_get(result, "value");
        if (json_is_number(v)) {
            char buf[64];

            key_number(buf, sizeof(buf), "=", json_number_value(v));
            norm = strip_space(buf);
        } else {
            v = json_object_get(args, "expression");
            norm = strip_space(json_is_string(v) ? json_string_value(v) : "");
        }
    } else if (strcmp(tool, "search") == 0 && json_array_size(json_object_get(result, "hits"))) {
        norm = hit_set(result);
    } else if (strcmp(tool, "search") == 0 && json_is_string(json_object_get(args, "query"))) {
        char *t = token_set(json_string_value(json_object_get(args, "query")));

        norm = t ? join_key("#", t) : NULL;
        free(t);
    } else if (strcmp(tool, "run_code") == 0 && json_is_string(json_object_get(result, "stdout"))) {
        norm = trim_copy(json_string_value(json_object_get(result, "stdout")), 24, &tail);
        if (norm)
            snprintf(tail, 25, "\x1f%lld",
                     (long long)json_integer_value(json_object_get(result, "exit_code")));
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

/* ---- what a call shows ------------------------------------------------------------------ */

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

/* The tolerance a calculator result gets for step st: the step's own, and the answer's when
 * the step computes the answer (so rounding as the prompt asks still counts). */
static double step_tolerance(const struct task *t, const struct task_step *st) {
    const struct task_answer *a = &t->answer;
    double tol = st->tolerance;

    if (a->type == TASK_ANSWER_NUMBER && same_number(st->value, a->value))
        tol = fmax(tol, fmax(a->tolerance, a->rel_tolerance * fabs(a->value)));
    return tol;
}

/* Numbers written in a program's text (digit runs, with decimals), at most max. */
static size_t code_numbers(const char *code, double *out, size_t max) {
    size_t n = 0, i = 0, end;

    while (code[i] && n < max) {
        if (isdigit((unsigned char)code[i]) &&
            (i == 0 || !(isalnum((unsigned char)code[i - 1]) || code[i - 1] == '_'))) {
            out[n++] = digits_at(code, i, 0, &end);
            i = end;
        } else {
            i++;
        }
    }
    return n;
}

#define NUMS_MAX 64 /* numbers of one call or prompt considered */

/* What a tool call computed, for the echo and unobserved-fact checks. */
struct call_facts {
    int have_value; /* calculator or run_code: a value was computed */
    double value;
    double lits[NUMS_MAX]; /* numbers written in the call */
    size_t nlits;
    size_t nops; /* calculator: operations applied */
    int echo;    /* computes nothing: see judge.h */
};

/* 1 if v is available to the agent: a number of the prompt, a value shown by a satisfied
 * search step, or a calculator value an earlier call brought. */
static int available(const struct task *t, const struct judge_state *s, double v) {
    double prompt[NUMS_MAX], x;
    size_t np = all_numbers(t->prompt, prompt, NUMS_MAX);
    struct judge_key kd;

    for (size_t i = 0; i < np; i++)
        if (same_number(prompt[i], v))
            return 1;
    for (size_t i = 0; i < t->nplan && i < 32; i++)
        if ((s->satisfied & (1u << i)) && t->plan[i].shows &&
            judge_read_number(t->plan[i].shows, &x) && same_number(fabs(x), v))
            return 1;
    for (int sign = 0; sign < 2; sign++) {
        kd = value_key(sign ? -v : v);
        for (size_t i = 0; i < s->nkeys; i++)
            if (key_equal(&s->keys[i], &kd))
                return 1;
    }
    return 0;
}

/* Fill *f from call c. An echo computes nothing: a calculator expression without an
 * operation, or a value equal to one of the call's own numbers that the agent had no way to
 * know (neither in the prompt nor observed): the answer typed back (9634, 9634*1,
 * print(9634)). */
static void call_facts(const struct task *t, const struct judge_state *s,
                       const struct judge_call *c, struct call_facts *f) {
    memset(f, 0, sizeof(*f));
    if (!c->tool || c->outcome != JUDGE_TOOL_OK)
        return;
    if (strcmp(c->tool, "calculator") == 0) {
        const char *e = json_string_value(json_object_get(c->args, "expression"));
        struct calc_trace tr;
        double v;

        if (e && calc_eval_traced(e, &v, &tr, NULL) == 0) {
            f->have_value = 1;
            f->value = v;
            f->nlits = tr.nlits;
            memcpy(f->lits, tr.lits, tr.nlits * sizeof(double));
            f->nops = tr.nops;
        } else if (json_is_number(json_object_get(c->result, "value"))) {
            f->have_value = 1;
            f->value = json_number_value(json_object_get(c->result, "value"));
            f->nops = 1;
        }
        f->echo = f->have_value && f->nops == 0;
    } else if (strcmp(c->tool, "run_code") == 0) {
        const char *code = json_string_value(json_object_get(c->args, "code"));
        const char *out = json_string_value(json_object_get(c->result, "stdout"));

        if (code)
            f->nlits = code_numbers(code, f->lits, NUMS_MAX);
        if (out && judge_read_number(out, &f->value))
            f->have_value = 1;
    }
    for (size_t i = 0; i < f->nlits && f->have_value && !f->echo; i++)
        f->echo = same_number(fabs(f->value), f->lits[i]) && !available(t, s, f->lits[i]);
}

/* Does call c show step st? facts f are c's (call_facts). */
static int shows_step(const struct task *t, const struct task_step *st, const struct judge_call *c,
                      const struct call_facts *f) {
    if (!c->tool || strcmp(c->tool, st->tool) != 0 || c->outcome != JUDGE_TOOL_OK)
        return 0;
    if (st->hit || st->shows)
        return hits_show(c->result, st->hit, st->shows);
    if (st->nterms) {
        const json_t *q = json_object_get(c->args, "query");

        if (!json_is_string(q) ||
            !judge_query_has_terms(json_string_value(q), st->query_terms, st->nterms))
            return 0;
    }
    if (st->has_value) {
        const json_t *v = json_object_get(c->result, "value");

        if (!json_is_number(v) ||
            !(fabs(json_number_value(v) - st->value) <= step_tolerance(t, st)))
            return 0;
    }
    if (st->stdout_equals) {
        const json_t *o = json_object_get(c->result, "stdout");
        double want, got;

        if (!json_is_string(o))
            return 0;
        if (!trimmed_equals(json_string_value(o), st->stdout_equals) &&
            !(judge_read_number(st->stdout_equals, &want) && f->have_value &&
              judge_read_number(json_string_value(o), &got) && same_number(got, want)))
            return 0;
    }
    return 1;
}

int judge_step_matches(const struct task *t, const struct task_step *st,
                       const struct judge_call *c) {
    struct call_facts f;
    struct judge_state s;

    judge_state_init(&s);
    s.satisfied = ~0u; /* regardless of needs: every fact counts as observed */
    call_facts(t, &s, c, &f);
    return !f.echo && shows_step(t, st, c, &f);
}

/* 1 if the call writes a number that equals the value of a search step not yet satisfied and
 * that the prompt does not hold: it uses a fact the agent has not observed. */
static int uses_unobserved(const struct task *t, const struct judge_state *s,
                           const struct call_facts *f) {
    double prompt[NUMS_MAX];
    size_t np = 0;
    int prompt_read = 0;

    for (size_t i = 0; i < t->nplan && i < 32; i++) {
        const struct task_step *st = &t->plan[i];
        double v;

        if (!is_search_step(st) || (s->satisfied & (1u << i)) || !st->shows ||
            !judge_read_number(st->shows, &v))
            continue;
        for (size_t k = 0; k < f->nlits; k++) {
            int in_prompt = 0;

            if (!same_number(f->lits[k], fabs(v)))
                continue;
            if (!prompt_read) {
                np = all_numbers(t->prompt, prompt, NUMS_MAX);
                prompt_read = 1;
            }
            for (size_t j = 0; j < np && !in_prompt; j++)
                in_prompt = same_number(prompt[j], f->lits[k]);
            if (!in_prompt)
                return 1;
        }
    }
    return 0;
}

/* 1 if value v is an intermediate (not the final value) of the expert's calculator expression
 * for a ready, unsatisfied calculator step. */
static int partial_value(const struct task *t, unsigned ready, double v) {
    const json_t *call;
    size_t i;

    json_array_foreach(t->expert, i, call) {
        const char *e =
            json_string_value(json_object_get(json_object_get(call, "arguments"), "expression"));
        struct calc_trace tr;
        double full;

        if (!e || strcmp(json_string_value(json_object_get(call, "name")), "calculator") != 0 ||
            calc_eval_traced(e, &full, &tr, NULL) != 0)
            continue;
        for (size_t k = 0; k < t->nplan && k < 32; k++) {
            const struct task_step *st = &t->plan[k];

            if (!(ready & (1u << k)) || !st->has_value ||
                !(fabs(full - st->value) <= step_tolerance(t, st)))
                continue;
            for (size_t j = 0; j + 1 < tr.nops; j++)
                if (same_number(tr.ops[j], v) && !same_number(tr.ops[j], full))
                    return 1;
        }
    }
    return 0;
}

/* ---- verdicts --------------------------------------------------------------------------- */

static void verdict(struct judge_verdict *v, enum judge_label l, int step, const char *fmt,
                    const char *arg) __attribute__((format(printf, 4, 0)));

/* Append k bytes of p to the text of length n in buf (size bytes), cut to fit and ended with
 * a NUL; returns the new length. */
static size_t reason_add(char *buf, size_t size, size_t n, const char *p, size_t k) {
    if (k > size - 1 - n)
        k = size - 1 - n;
    memcpy(buf + n, p, k);
    buf[n + k] = '\0';
    return n + k;
}

static void verdict(struct judge_verdict *v, enum judge_label l, int step, const char *fmt,
                    const char *arg) {
    const char *at = strstr(fmt, "%s");
    size_t n = 0;

    memset(v, 0, sizeof(*v));
    v->label = l;
    v->step = step;
    /* snprintf(reason, fmt, arg) for a fmt whose one conversion is %s (every reason's), without
     * printf's cost on every call: the same bytes, cut the same way */
    TG_ASSERT(at && !memchr(fmt, '%', (size_t)(at - fmt)) && !strchr(at + 2, '%'));
    n = reason_add(v->reason, sizeof(v->reason), n, fmt, (size_t)(at - fmt));
    n = reason_add(v->reason, sizeof(v->reason), n, arg, strlen(arg));
    reason_add(v->reason, sizeof(v->reason), n, at + 2, strlen(at + 2));
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

/* Digests of what the call brought: one key, and for a search with hits also its query's
 * terms (so the same query with other k is recognised when it brings nothing new). */
static int call_keys(const struct judge_call *c, struct judge_key *k, size_t *nk) {
    char *key = NULL;
    int rc;

    *nk = 0;
    if (c->tool && strcmp(c->tool, "calculator") == 0) {
        const json_t *v = json_object_get(c->result, "value");

        if (json_is_number(v)) {
            k[(*nk)++] = value_key(json_number_value(v));
            return 0;
        }
    }
    rc = judge_call_key(c->tool, c->args, c->result, &key);
    if (rc)
        return rc;
    k[(*nk)++] = key_digest(key);
    free(key);
    if (strcmp(c->tool, "search") == 0 && json_array_size(json_object_get(c->result, "hits")) &&
        json_is_string(json_object_get(c->args, "query"))) {
        rc = judge_call_key(c->tool, c->args, NULL, &key);
        if (rc)
            return rc;
        k[(*nk)++] = key_digest(key);
        free(key);
    }
    return 0;
}

int judge_call(const struct task *t, struct judge_state *s, const struct judge_call *c,
               struct judge_verdict *v) {
    const char *tool = c->tool ? c->tool : "";
    unsigned of_tool = 0, open, ready, shown = 0, fresh, fresh_ready;
    struct judge_key kd[JUDGE_KEYS_PER_CALL];
    struct call_facts f;
    size_t nk = 0;
    int rc, dup = 0, unobserved;

    if (s->finished || s->ncalls >= TG_MAX_STEPS_LIMIT)
        return TG_ESTATE;
    if (c->outcome != JUDGE_TOOL_OK || !c->tool) {
        verdict(v, JUDGE_MALFORMED, -1, malformed_reason(c->tool ? c->outcome : JUDGE_UNKNOWN_TOOL),
                tool);
        s->ncalls++;
        return 0;
    }
    rc = call_keys(c, kd, &nk);
    if (rc)
        return rc;
    for (size_t i = 0; i < s->nkeys && !dup; i++)
        for (size_t k = 0; k < nk && !dup; k++)
            dup = key_equal(&s->keys[i], &kd[k]);

    call_facts(t, s, c, &f);
    for (size_t i = 0; i < t->nplan && i < 32; i++) {
        if (strcmp(t->plan[i].tool, c->tool) == 0)
            of_tool |= 1u << i;
        if (shows_step(t, &t->plan[i], c, &f))
            shown |= 1u << i;
    }
    open = of_tool & ~s->satisfied;
    ready = 0;
    for (size_t i = 0; i < t->nplan && i < 32; i++)
        if ((open & (1u << i)) &&
            (is_search_step(&t->plan[i]) || (t->plan[i].needs & ~s->satisfied) == 0))
            ready |= 1u << i;
    fresh = f.echo ? 0 : shown & ~s->satisfied;
    fresh_ready = fresh & ready;
    unobserved = uses_unobserved(t, s, &f);

    if (t->nplan == 0) {
        verdict(v, JUDGE_UNNECESSARY, -1, "The task needs no tool call; %s was not needed.", tool);
    } else if (fresh_ready && !unobserved) {
        int first = -1;

        for (size_t i = 0; i < t->nplan && first < 0; i++)
            if (fresh_ready & (1u << i))
                first = (int)i;
        verdict(v, JUDGE_NECESSARY, first,
                fresh_ready & (fresh_ready - 1)
                    ? "The %s call brought the values of more than one needed plan step."
                    : "The %s call brought the value of a needed plan step.",
                tool);
    } else if (fresh || unobserved) {
        verdict(v, JUDGE_PREMATURE, -1,
                unobserved ? "The %s call uses a value that no observation has shown yet."
                           : "The %s call comes before the steps it depends on are done.",
                tool);
    } else if (judge_plan_complete(t, s)) {
        verdict(v, JUDGE_REDUNDANT, -1,
                "Every plan step was already satisfied before this %s call.", tool);
    } else if (!of_tool) {
        verdict(v, JUDGE_UNNECESSARY, -1, "The task needs no %s call.", tool);
    } else if (f.echo && !(shown & s->satisfied)) {
        verdict(v, JUDGE_UNNECESSARY, -1,
                "The %s call computes nothing: it only restates a number it was given.", tool);
    } else if ((shown & s->satisfied) || dup) {
        verdict(v, JUDGE_REDUNDANT, -1,
                "The %s call brought nothing new: an earlier call already brought it.", tool);
    } else if (!open) {
        verdict(v, JUDGE_REDUNDANT, -1, "Every plan step that uses %s was already satisfied.",
                tool);
    } else if (f.have_value && strcmp(c->tool, "calculator") == 0 &&
               partial_value(t, ready, f.value)) {
        verdict(v, JUDGE_PARTIAL, -1,
                "The %s call computed part of a needed calculation: progress, but an extra "
                "call.",
                tool);
    } else if (ready) {
        verdict(v, JUDGE_WRONG_ARGS, -1,
                "The %s call is the right tool at the right time, but what it brought does not "
                "satisfy the plan step.",
                tool);
    } else {
        verdict(v, JUDGE_PREMATURE, -1,
                "The %s call comes before the steps it depends on are done.", tool);
    }

    /* Premature calls are not remembered: the same call, once its needs are met, counts. Nor
     * are echoes: a value typed in is not one the agent computed or observed. */
    if (v->label != JUDGE_PREMATURE && !f.echo)
        for (size_t k = 0; k < nk && s->nkeys < TG_ARRAY_LEN(s->keys); k++)
            s->keys[s->nkeys++] = kd[k];
    if (v->label == JUDGE_NECESSARY)
        s->satisfied |= fresh_ready;
    s->ncalls++;
    return 0;
}

/* ---- answers ---------------------------------------------------------------------------- */

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

/* An "unknown" answer: says the fact cannot be known and states no number (a made-up number
 * is wrong even beside the word "unknown"). */
static int says_unknown(const char *answer) {
    char *t;
    int ok = 0;
    double x;

    if (judge_read_number(answer, &x))
        return 0;
    t = norm_text(answer);
    if (!t)
        return 0;
    for (size_t i = 0; i < TG_ARRAY_LEN(unknown_phrases) && !ok; i++)
        ok = has_phrase(t, unknown_phrases[i]);
    free(t);
    return ok;
}

/* The text of a string answer: after the answer form's cue up to the end of its line, or the
 * whole answer. New; NULL on ENOMEM. */
static char *answer_text(const char *answer) {
    size_t cue = answer_cue(answer), n;
    const char *p = cue == SIZE_MAX ? answer : answer + cue;
    char *out;

    n = cue == SIZE_MAX ? strlen(p) : strcspn(p, "\n");
    out = malloc(n + 1);
    if (!out)
        return NULL;
    memcpy(out, p, n);
    out[n] = '\0';
    return out;
}

int judge_answer_correct(const struct task_answer *a, const char *answer) {
    double x;

    if (!answer)
        return 0;
    switch (a->type) {
    case TASK_ANSWER_NUMBER:
        if (!judge_read_number(answer, &x))
            return 0;
        return fabs(x - a->value) <= fmax(a->tolerance, a->rel_tolerance * fabs(a->value));
    case TASK_ANSWER_INT:
        return judge_read_number(answer, &x) && x == a->value;
    case TASK_ANSWER_STRING: {
        char *raw = answer_text(answer);
        char *x1 = raw ? norm_text(raw) : NULL, *x2 = norm_text(a->text ? a->text : "");
        int eq = x1 && x2 && strcmp(x1, x2) == 0;

        free(raw);
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
    int correct, early, ungrounded;

    if (s->finished)
        return TG_ESTATE;
    correct = judge_answer_correct(&t->answer, answer);
    early = !judge_plan_complete(t, s);
    ungrounded = !judge_grounded(t, s);
    memset(v, 0, sizeof(*v));
    v->label = correct ? JUDGE_CORRECT : JUDGE_INCORRECT;
    v->step = -1;
    v->correct = correct;
    v->premature_answer = early;
    v->ungrounded = ungrounded;
    snprintf(v->reason, sizeof(v->reason), "The answer is %s%s.", correct ? "correct" : "incorrect",
             ungrounded ? ", given before a fact it needs was looked up"
             : early    ? ", given before every plan step was done"
                        : "");
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
