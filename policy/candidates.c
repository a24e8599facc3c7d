/*
 * candidates.c — the agent's view of an episode and the candidate actions at each step.
 * See candidates.h. Nothing here knows a task's plan or answer.
 */
#include "policy/candidates.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- lexicons ----------------------------------------------------------------------------- */

/* English function words and instruction verbs: never content words of a query. */
static const char *const stopwords[] = {
    "the",     "of",    "what",    "is",      "a",         "an",        "and",      "to",
    "in",      "by",    "for",     "its",     "it",        "how",       "much",     "many",
    "does",    "do",    "are",     "there",   "that",      "this",      "with",     "from",
    "please",  "you",   "me",      "tell",    "could",     "can",       "need",     "give",
    "find",    "look",  "up",      "compute", "calculate", "determine", "evaluate", "work",
    "out",     "value", "exactly", "round",   "decimal",   "place",     "result",   "two",
    "decimal", "if",    "into",    "each",    "equal",     "big",       "than",     "which",
    "i",       "take",  "get",     "was",     "were",      "be",        "has",      "have",
    "had",     "will",  "would",   "should",  "now",       "then",      "at",       "on",
    "or",      "as",    "so",      "where",   "when",      "who",       "whose",    "number",
    "how",     "same",  "one",     "with",    "all",       "some",      "any",      "answer",
    "state",   "show",  "say",     "let",     "we",        "us",        "our",      "your",
    "my",      "not",   "no",      "yes",     "but",       "also",      "just",     "only",
    "very",    "about", "what's",  "whats",   "decimals",  "up",
};

/* Capitalised words that start sentences or instructions rather than name things. */
static const char *const starters[] = {
    "What",   "Which",    "Who",     "How",       "Find",      "Look",     "Could",    "Can",
    "Please", "Give",     "Compute", "Calculate", "Determine", "Evaluate", "Work",     "Multiply",
    "Add",    "Subtract", "Take",    "If",        "Split",     "Count",    "Starting", "Round",
    "There",  "The",      "A",       "An",        "I",         "By",       "Get",      "Tell",
    "Is",     "Are",      "Do",      "Does",      "Divide",    "Sum",      "Return",   "Say",
    "Name",   "Show",     "Let",     "When",      "Where",     "In",       "Of",       "For",
    "And",    "Then",     "Now",     "It",        "Its",       "Apply",    "Applying", "Use",
    "Given",  "Suppose",  "Assume",  "Each",      "Every",     "Some",     "All",
};

/* A tiny thesaurus of arithmetic words (stemmed): the language prior any reader has. */
static const struct {
    const char *w;
    int op;
} oplex[] = {
    {"plu", OP_ADD},     {"plus", OP_ADD},     {"add", OP_ADD},        {"sum", OP_ADD},
    {"total", OP_ADD},   {"combined", OP_ADD}, {"combine", OP_ADD},    {"more", OP_ADD},
    {"buy", OP_ADD},     {"together", OP_ADD}, {"increased", OP_ADD},  {"gain", OP_ADD},
    {"minu", OP_SUB},    {"minus", OP_SUB},    {"subtract", OP_SUB},   {"subtracted", OP_SUB},
    {"les", OP_SUB},     {"less", OP_SUB},     {"difference", OP_SUB}, {"exceed", OP_SUB},
    {"greater", OP_SUB}, {"left", OP_SUB},     {"away", OP_SUB},       {"remain", OP_SUB},
    {"fewer", OP_SUB},   {"gave", OP_SUB},     {"lose", OP_SUB},       {"lost", OP_SUB},
    {"time", OP_MUL},    {"multiply", OP_MUL}, {"multiplied", OP_MUL}, {"product", OP_MUL},
    {"twice", OP_MUL},   {"double", OP_MUL},   {"divided", OP_DIV},    {"divide", OP_DIV},
    {"split", OP_DIV},   {"part", OP_DIV},     {"per", OP_DIV},        {"quotient", OP_DIV},
    {"ratio", OP_DIV},   {"share", OP_DIV},    {"average", OP_MEAN},   {"mean", OP_MEAN},
};

static int in_list(const char *w, const char *const *list, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(w, list[i]) == 0)
            return 1;
    return 0;
}

static int op_of_word(const char *w) {
    for (size_t i = 0; i < TG_ARRAY_LEN(oplex); i++)
        if (strcmp(w, oplex[i].w) == 0)
            return oplex[i].op;
    return OP_NONE;
}

/* ---- small text helpers ------------------------------------------------------------------- */

/* Lowercase, crudely stemmed copy of word (trailing "s" dropped when longer than 3). */
static void norm_word(const char *w, size_t len, char *out, size_t n) {
    size_t k = 0;

    for (size_t i = 0; i < len && k + 1 < n; i++)
        out[k++] = (char)tolower((unsigned char)w[i]);
    out[k] = '\0';
    if (k > 3 && out[k - 1] == 's' && out[k - 2] != 's')
        out[k - 1] = '\0';
}

/* Format v as an agent would write it: integers without a fraction, else up to 12 digits. */
static void fmt_num(double v, char *buf, size_t n) {
    if (v == floor(v) && fabs(v) < 1e15)
        snprintf(buf, n, "%.0f", v);
    else
        snprintf(buf, n, "%.12g", v);
}

/* Parse a number at s (digits with an optional fraction); returns chars used, 0 if none. */
static size_t parse_num(const char *s, double *v) {
    size_t i = 0;
    char buf[40];

    while (isdigit((unsigned char)s[i]))
        i++;
    if (i == 0)
        return 0;
    if (s[i] == '.' && isdigit((unsigned char)s[i + 1])) {
        i++;
        while (isdigit((unsigned char)s[i]))
            i++;
    }
    if (i >= sizeof(buf))
        return 0;
    memcpy(buf, s, i);
    buf[i] = '\0';
    *v = strtod(buf, NULL);
    return i;
}

/* ---- prompt parsing ----------------------------------------------------------------------- */

static void add_prompt_num(struct cand_state *s, double v, const char *text, size_t len, int ppos) {
    int copies = 0;

    for (int i = 0; i < s->nnum; i++)
        copies += s->num[i].v == v;
    if (copies >= 2) /* "Add 3 and 3" keeps both; longer repeats add nothing */
        return;
    if (s->nnum >= TG_CAND_NUMS_MAX || len >= sizeof(s->num[0].text))
        return;
    struct cand_num *n = &s->num[s->nnum];
    memset(n, 0, sizeof(*n));
    n->v = v;
    memcpy(n->text, text, len);
    n->text[len] = '\0';
    n->src = NSRC_PROMPT;
    n->step = -1;
    n->pos = s->nnum;
    n->ppos = ppos;
    n->is_year = v == floor(v) && v >= 1000 && v <= 2100;
    s->nnum++;
}

/* The first arithmetic expression of the prompt: a run of numbers, operators, parentheses and
 * sqrt( with at least one binary operator between numbers. */
static void find_expr(struct cand_state *s) {
    const char *p = s->prompt;

    for (size_t i = 0; p[i]; i++) {
        size_t j = i, last = i;
        int nums = 0, ops = 0;

        if (!(isdigit((unsigned char)p[i]) || p[i] == '(' || strncmp(p + i, "sqrt(", 5) == 0))
            continue;
        while (p[j]) {
            double v;
            size_t k;

            if (strncmp(p + j, "sqrt(", 5) == 0) {
                j += 5;
            } else if ((k = parse_num(p + j, &v)) > 0) {
                j += k;
                nums++;
                last = j;
            } else if (strchr("+-*/^", p[j]) && p[j]) {
                ops++;
                j++;
            } else if (p[j] == '(' || p[j] == ')' || p[j] == ' ') {
                if (p[j] == ')')
                    last = j + 1;
                j++;
            } else {
                break;
            }
        }
        if (nums >= 2 && ops >= 1 && last - i < sizeof(s->expr)) {
            memcpy(s->expr, p + i, last - i);
            s->expr[last - i] = '\0';
            return;
        }
        i = j > i ? j - 1 : i;
    }
}

int cand_state_init(struct cand_state *s, const char *prompt, int max_steps, struct tg_error *err) {
    size_t len = strlen(prompt);
    const char *p;

    memset(s, 0, sizeof(*s));
    if (len >= sizeof(s->prompt)) {
        tg_error_set(err, "prompt_too_long", "the task prompt is longer than %d bytes",
                     TG_TASK_PROMPT_MAX - 1);
        return TG_ERANGE;
    }
    memcpy(s->prompt, prompt, len + 1);
    s->max_steps = max_steps;
    find_expr(s);
    p = s->prompt;
    for (size_t i = 0; p[i];) {
        double v;
        size_t k;

        if ((k = parse_num(p + i, &v)) > 0) {
            add_prompt_num(s, v, p + i, k, (int)i);
            if (s->ntok < TG_CAND_TOKENS_MAX) {
                snprintf(s->tok[s->ntok++], TG_CAND_WORD_MAX, "#num");
            }
            i += k;
            continue;
        }
        if (isalpha((unsigned char)p[i])) {
            size_t j = i;
            char w[TG_CAND_WORD_MAX];

            while (isalnum((unsigned char)p[j]) || p[j] == '\'')
                j++;
            norm_word(p + i, j - i, w, sizeof(w));
            if (s->ntok < TG_CAND_TOKENS_MAX)
                snprintf(s->tok[s->ntok++], TG_CAND_WORD_MAX, "%s", w);
            if (op_of_word(w) != OP_NONE)
                s->opclass[op_of_word(w)]++;
            /* entity spans: capitalised words, not sentence starters, not single letters */
            if (isupper((unsigned char)p[i]) && j - i > 1) {
                char raw[TG_CAND_TITLE_MAX];
                size_t rl = j - i < sizeof(raw) - 1 ? j - i : sizeof(raw) - 1;

                memcpy(raw, p + i, rl);
                raw[rl] = '\0';
                if (!in_list(raw, starters, TG_ARRAY_LEN(starters))) {
                    /* extend over following capitalised words */
                    size_t e = j;

                    while (p[e] == ' ' && isupper((unsigned char)p[e + 1])) {
                        size_t f = e + 1;

                        while (isalnum((unsigned char)p[f]))
                            f++;
                        if (f - e - 1 < 2)
                            break;
                        e = f;
                    }
                    if (s->nent < TG_CAND_ENTS_MAX && e - i < TG_CAND_TITLE_MAX) {
                        memcpy(s->ent[s->nent], p + i, e - i);
                        s->ent[s->nent][e - i] = '\0';
                        s->ent_first[s->nent] = i == 0;
                        s->nent++;
                    }
                    for (size_t q = j; q < e; q++) /* tokens of the rest of the span */
                        if (p[q] == ' ' && s->ntok < TG_CAND_TOKENS_MAX)
                            snprintf(s->tok[s->ntok++], TG_CAND_WORD_MAX, "#ent");
                    i = e;
                    continue;
                }
            }
            char raw_lc[TG_CAND_WORD_MAX];

            /* the stopword test sees the word unstemmed too ("does" stems to "doe") */
            for (size_t q = 0; q < sizeof(raw_lc) - 1 && q < j - i; q++)
                raw_lc[q] = (char)tolower((unsigned char)p[i + q]);
            raw_lc[j - i < sizeof(raw_lc) - 1 ? j - i : sizeof(raw_lc) - 1] = '\0';
            if (j - i >= 3 && !in_list(w, stopwords, TG_ARRAY_LEN(stopwords)) &&
                !in_list(raw_lc, stopwords, TG_ARRAY_LEN(stopwords)) && op_of_word(w) == OP_NONE &&
                s->nword < TG_CAND_WORDS_MAX) {
                /* the content word as written (lowercase, unstemmed) for queries */
                int dupw = 0;

                norm_word(p + i, j - i, w, sizeof(w));
                for (int q = 0; q < s->nword; q++)
                    dupw |= strncasecmp(s->word[q], p + i, j - i) == 0 && s->word[q][j - i] == '\0';
                if (!dupw && j - i < TG_CAND_WORD_MAX) {
                    for (size_t q = 0; q < j - i; q++)
                        s->word[s->nword][q] = (char)tolower((unsigned char)p[i + q]);
                    s->word[s->nword][j - i] = '\0';
                    s->nword++;
                }
            }
            i = j;
            continue;
        }
        i++;
    }
    return 0;
}

/* ---- observations ------------------------------------------------------------------------- */

static int kind_of_tool(const char *name) {
    if (!name)
        return -1;
    if (strcmp(name, "search") == 0)
        return CAND_SEARCH;
    if (strcmp(name, "calculator") == 0)
        return CAND_CALC;
    if (strcmp(name, "run_code") == 0)
        return CAND_CODE;
    return -1;
}

static unsigned calc_emask(const struct cand_state *s, const char *expr);

static int push_common(struct cand_state *s, int kind, const char *text, const json_t *resp,
                       struct tg_error *err) {
    const json_t *obs, *res, *jl;
    struct cand_step *st;

    if (s->nstep >= TG_CAND_STEPS_MAX) {
        tg_error_set(err, "too_many_steps", "an episode ran past %d steps", TG_CAND_STEPS_MAX);
        return TG_ERANGE;
    }
    obs = json_object_get(resp, "observation");
    if (!json_is_object(obs)) {
        tg_error_set(err, "bad_response", "a step response has no observation object");
        return TG_EINVAL;
    }
    st = &s->steps[s->nstep];
    memset(st, 0, sizeof(*st));
    st->kind = kind;
    snprintf(st->text, sizeof(st->text), "%s", text);
    jl = json_object_get(json_object_get(resp, "judgement"), "label");
    if (json_is_string(jl))
        snprintf(st->label, sizeof(st->label), "%s", json_string_value(jl));
    if (kind == CAND_ANSWER) {
        st->ok = json_is_true(json_object_get(obs, "correct"));
        s->nstep++;
        return 0;
    }
    st->ok = json_is_true(json_object_get(obs, "ok"));
    res = json_object_get(obs, "result");
    if (st->ok && !json_is_object(res)) {
        tg_error_set(err, "bad_response", "an ok tool observation has no result object");
        return TG_EINVAL;
    }
    if (kind == CAND_CALC)
        st->emask = calc_emask(s, text);
    if (st->ok && kind == CAND_CALC) {
        const json_t *v = json_object_get(res, "value");

        if (!json_is_number(v)) {
            tg_error_set(err, "bad_response", "a calculator result has no numeric value");
            return TG_EINVAL;
        }
        st->value = json_number_value(v);
        st->has_value = 1;
    } else if (st->ok && kind == CAND_SEARCH) {
        const json_t *hits = json_object_get(res, "hits"), *h;
        size_t i;

        if (!json_is_array(hits)) {
            tg_error_set(err, "bad_response", "a search result has no hits array");
            return TG_EINVAL;
        }
        json_array_foreach(hits, i, h) {
            const char *t = json_string_value(json_object_get(h, "title"));
            const char *sn = json_string_value(json_object_get(h, "snippet"));

            if (!t || !sn) {
                tg_error_set(err, "bad_response", "a search hit lacks a title or snippet");
                return TG_EINVAL;
            }
            if (st->nhits >= TG_CAND_HITS_MAX)
                break;
            snprintf(st->hits[st->nhits].title, TG_CAND_TITLE_MAX, "%s", t);
            snprintf(st->hits[st->nhits].snippet, sizeof(st->hits[0].snippet), "%s", sn);
            st->nhits++;
        }
    } else if (st->ok && kind == CAND_CODE) {
        const char *out = json_string_value(json_object_get(res, "stdout"));
        double v;
        size_t k;
        const char *q = out;

        if (!out) {
            tg_error_set(err, "bad_response", "a run_code result has no stdout string");
            return TG_EINVAL;
        }
        while (*q == ' ' || *q == '\n')
            q++;
        if (*q == '-' && isdigit((unsigned char)q[1])) {
            k = parse_num(q + 1, &v);
            v = -v;
            k++;
        } else {
            k = parse_num(q, &v);
        }
        if (k > 0) {
            st->value = v;
            st->has_value = 1;
        }
    }
    s->nstep++;
    return 0;
}

int cand_state_push(struct cand_state *s, const struct cand *c, const json_t *resp,
                    struct tg_error *err) {
    return push_common(s, c->kind, c->text, resp, err);
}

int cand_state_push_call(struct cand_state *s, const json_t *call, const json_t *resp,
                         struct tg_error *err) {
    const char *name = json_string_value(json_object_get(call, "name"));
    const json_t *args = json_object_get(call, "arguments");
    int kind = kind_of_tool(name);
    const char *text = NULL;

    if (kind == CAND_SEARCH)
        text = json_string_value(json_object_get(args, "query"));
    else if (kind == CAND_CALC)
        text = json_string_value(json_object_get(args, "expression"));
    else if (kind == CAND_CODE)
        text = json_string_value(json_object_get(args, "code"));
    if (kind < 0 || !text) {
        tg_error_set(err, "bad_expert", "an expert call is not a known tool with its argument");
        return TG_EINVAL;
    }
    return push_common(s, kind, text, resp, err);
}

/* ---- numbers known so far ----------------------------------------------------------------- */

/* Does sentence [a, b) of text contain word w (case-insensitive, prefix of 5 for stems)? */
static int sentence_has(const char *a, const char *b, const char *w) {
    size_t wl = strlen(w), m = wl > 5 ? 5 : wl;

    for (const char *p = a; p + m <= b; p++) {
        if ((p == a || !isalnum((unsigned char)p[-1])) && strncasecmp(p, w, m) == 0)
            return 1;
    }
    return 0;
}

/* 1 + the index of the prompt entity titled title, 0 if none */
static int is_entity(const struct cand_state *s, const char *title) {
    for (int i = 0; i < s->nent; i++)
        if (strcasecmp(s->ent[i], title) == 0)
            return i + 1;
    return 0;
}

/* Numbers in the snippets of search step st (index k): out (cap), returns count. */
static int snippet_nums(const struct cand_state *s, int k, struct cand_num *out, int cap) {
    const struct cand_step *st = &s->steps[k];
    int n = 0;

    for (int h = 0; h < st->nhits && n < cap; h++) {
        const char *sn = st->hits[h].snippet;
        int th = is_entity(s, st->hits[h].title);

        if (!th && h > 0)
            continue;
        for (size_t i = 0; sn[i] && n < cap; i++) {
            double v;
            size_t len;

            if (i > 0 && (isalnum((unsigned char)sn[i - 1]) || sn[i - 1] == '.'))
                continue;
            len = parse_num(sn + i, &v);
            if (len == 0)
                continue;
            /* the sentence around the number */
            const char *a = sn + i, *b = sn + i + len;
            while (a > sn && !(a[-1] == '.' && a[0] == ' '))
                a--;
            while (*b && !(b[0] == '.' && (b[1] == ' ' || b[1] == '\0')))
                b++;
            int hitw = 0;
            for (int w = 0; w < s->nword; w++)
                hitw += sentence_has(a, b, s->word[w]);
            struct cand_num *o = &out[n++];
            memset(o, 0, sizeof(*o));
            o->v = v;
            snprintf(o->text, sizeof(o->text), "%.*s", (int)len, sn + i);
            o->src = NSRC_SNIPPET;
            o->step = k;
            o->pos = h;
            o->overlap = s->nword ? (float)hitw / (float)s->nword : 0.0f;
            o->title_hit = th > 0;
            o->emask = th > 0 && th <= 32 ? 1u << (th - 1) : 0u;
            o->is_year = v == floor(v) && v >= 1000 && v <= 2100;
            {
                const char *at = th ? strstr(s->prompt, st->hits[h].title) : NULL;

                o->ppos = at ? (int)(at - s->prompt) : -1;
            }
            i += len - 1;
        }
    }
    return n;
}

/* which entities' facts an expression uses: snippet numbers (and earlier calculator results)
   written in it as whole numbers */
static int expr_has_num(const char *expr, const char *num) {
    size_t l = strlen(num);

    for (const char *p = strstr(expr, num); p && l; p = strstr(p + 1, num)) {
        int pre = p > expr && (isalnum((unsigned char)p[-1]) || p[-1] == '.');
        int post =
            isalnum((unsigned char)p[l]) || (p[l] == '.' && isdigit((unsigned char)p[l + 1]));

        if (!pre && !post)
            return 1;
    }
    return 0;
}

static unsigned calc_emask(const struct cand_state *s, const char *expr) {
    unsigned m = 0;

    for (int k = 0; k < s->nstep; k++) {
        const struct cand_step *st = &s->steps[k];

        if (st->kind == CAND_SEARCH && st->ok) {
            struct cand_num sn[24];
            int n = snippet_nums(s, k, sn, 24);

            for (int i = 0; i < n; i++)
                if (sn[i].emask && expr_has_num(expr, sn[i].text))
                    m |= sn[i].emask;
        } else if (st->kind == CAND_CALC && st->has_value && st->emask) {
            char buf[32];

            fmt_num(st->value, buf, sizeof(buf));
            if (expr_has_num(expr, buf))
                m |= st->emask;
        }
    }
    return m;
}

/* ---- candidate construction --------------------------------------------------------------- */

static struct cand *new_cand(struct cand_list *l, int kind, int variant) {
    struct cand *c;

    if (l->n >= TG_CAND_MAX)
        return NULL;
    c = &l->c[l->n];
    memset(c, 0, sizeof(*c));
    c->kind = kind;
    c->variant = variant;
    c->ent = -1;
    c->word = -1;
    return c;
}

/* keep c (already filled) unless its text is empty; mark repeats of earlier calls */
static void commit(const struct cand_state *s, struct cand_list *l, struct cand *c) {
    if (!c || !c->text[0])
        return;
    for (int i = 0; i < l->n; i++) /* the same action twice in one list: keep the first */
        if (l->c[i].kind == c->kind && strcmp(l->c[i].text, c->text) == 0)
            return;
    for (int i = 0; i < s->nstep; i++)
        if (s->steps[i].kind == c->kind && strcmp(s->steps[i].text, c->text) == 0)
            c->dup = 1;
    l->n++;
}

static void gen_search(const struct cand_state *s, struct cand_list *l) {
    char q[TG_CAND_TEXT_MAX];

    for (int e = 0; e < s->nent; e++) {
        int searched = 0;

        for (int i = 0; i < s->nstep; i++)
            if (s->steps[i].kind == CAND_SEARCH && strstr(s->steps[i].text, s->ent[e]))
                searched = 1;
        for (int w = -2; w < s->nword; w++) {
            struct cand *c = new_cand(l, CAND_SEARCH,
                                      w == -2   ? CV_S_ENTITY
                                      : w == -1 ? CV_S_ENTITY_ALL
                                                : CV_S_ENTITY_WORD);
            size_t o;

            if (!c)
                return;
            if (w == -1 && s->nword < 2)
                continue;
            o = (size_t)snprintf(q, sizeof(q), "%s", s->ent[e]);
            if (w >= 0)
                snprintf(q + o, sizeof(q) - o, " %s", s->word[w]);
            for (int k = 0; w == -1 && k < s->nword && o < sizeof(q); k++)
                o += (size_t)snprintf(q + o, sizeof(q) - o, " %s", s->word[k]);
            snprintf(c->text, sizeof(c->text), "%s", q);
            c->ent = e;
            c->ent_searched = searched;
            c->nwords = w == -2 ? 0 : w == -1 ? s->nword : 1;
            c->word = w >= 0 ? w : -1;
            commit(s, l, c);
        }
    }
    if (s->nword > 0) {
        struct cand *c = new_cand(l, CAND_SEARCH, CV_S_WORDS);
        size_t o = 0;

        if (c) {
            for (int k = 0; k < s->nword && o < sizeof(c->text); k++)
                o += (size_t)snprintf(c->text + o, sizeof(c->text) - o, "%s%s", k ? " " : "",
                                      s->word[k]);
            c->nwords = s->nword;
            commit(s, l, c);
        }
    }
    {
        struct cand *c = new_cand(l, CAND_SEARCH, CV_S_PROMPT);

        if (c) {
            snprintf(c->text, sizeof(c->text), "%.200s", s->prompt);
            c->nwords = s->nword;
            commit(s, l, c);
        }
    }
}

/* the operand pool for the calculator: found values first, then prompt numbers */
static int operand_pool(const struct cand_state *s, struct cand_num *pool, int cap) {
    int n = 0;

    for (int k = s->nstep - 1; k >= 0 && n < cap; k--) {
        const struct cand_step *st = &s->steps[k];

        if ((st->kind == CAND_CALC || st->kind == CAND_CODE) && st->has_value) {
            memset(&pool[n], 0, sizeof(pool[n]));
            pool[n].v = st->value;
            fmt_num(st->value, pool[n].text, sizeof(pool[n].text));
            pool[n].src = st->kind == CAND_CALC ? NSRC_CALC : NSRC_CODE;
            pool[n].step = k;
            pool[n].ppos = -1;
            pool[n].emask = st->kind == CAND_CALC ? st->emask : 0u;
            n++;
        } else if (st->kind == CAND_SEARCH && st->ok) {
            struct cand_num sn[24];
            int m = snippet_nums(s, k, sn, 24), best = -1, second = -1;

            for (int i = 0; i < m; i++) { /* best two by (title, overlap), first wins ties */
                if (best < 0 || sn[i].title_hit * 2 + sn[i].overlap >
                                    sn[best].title_hit * 2 + sn[best].overlap) {
                    second = best;
                    best = i;
                } else if (second < 0 || sn[i].title_hit * 2 + sn[i].overlap >
                                             sn[second].title_hit * 2 + sn[second].overlap) {
                    second = i;
                }
            }
            if (best >= 0 && n < cap)
                pool[n++] = sn[best];
            if (second >= 0 && n < cap && s->nstep - 1 == k)
                pool[n++] = sn[second];
        }
    }
    for (int i = 0; i < s->nnum && n < cap; i++) {
        int seen = 0;

        for (int j = 0; j < n; j++)
            seen |= pool[j].v == s->num[i].v;
        if (!seen)
            pool[n++] = s->num[i];
    }
    /* drop values seen twice (a found value equal to a prompt number) */
    return n;
}

static double apply_op(int op, double a, double b, int *ok) {
    *ok = 1;
    switch (op) {
    case OP_ADD:
        return a + b;
    case OP_SUB:
        return a - b;
    case OP_MUL:
        return a * b;
    case OP_DIV:
        if (b == 0)
            *ok = 0;
        return b != 0 ? a / b : 0;
    default:
        return (a + b) / 2;
    }
}

static const char opchar[] = {'?', '+', '-', '*', '/', '?'};

static void fill_binary(const struct cand_state *s, struct cand *c, const struct cand_num *a,
                        const struct cand_num *b, int op) {
    int ok;
    double r = apply_op(op, a->v, b->v, &ok);

    c->op = op;
    c->nops = 2;
    c->src[0] = a->src;
    c->src[1] = b->src;
    c->from_latest =
        (a->step >= 0 && a->step == s->nstep - 1) || (b->step >= 0 && b->step == s->nstep - 1);
    c->larger_first = a->v >= b->v;
    c->result_int = ok && r == floor(r);
    c->result_neg = r < 0;
    c->overlap = fmaxf(a->overlap, b->overlap);
    c->min_overlap = fminf(a->src == NSRC_SNIPPET ? a->overlap : 1.0f,
                           b->src == NSRC_SNIPPET ? b->overlap : 1.0f);
    c->is_year = a->is_year || b->is_year;
    c->emask = a->emask | b->emask;
    c->order_known = a->ppos >= 0 && b->ppos >= 0;
    if (c->order_known) {
        int lo = a->ppos < b->ppos ? a->ppos : b->ppos, hi = a->ppos < b->ppos ? b->ppos : a->ppos;
        int rev = 0;

        /* "subtract B from A", "if B is subtracted from A": "from" between them flips the order */
        for (const char *f = strstr(s->prompt + lo, " from "); f && f - s->prompt < hi;
             f = strstr(f + 1, " from "))
            rev = 1;
        c->sem_order = (a->ppos < b->ppos) != rev;
    }
}

static void gen_calc(const struct cand_state *s, struct cand_list *l) {
    struct cand_num pool[6];
    int n = operand_pool(s, pool, 4);

    if (s->expr[0]) {
        struct cand *c = new_cand(l, CAND_CALC, CV_C_PROMPT_EXPR);

        if (c) {
            snprintf(c->text, sizeof(c->text), "%s", s->expr);
            c->nops = s->nnum;
            commit(s, l, c);
        }
    }
    /* one-number distractors, and the prompt itself when it holds no number */
    for (int i = 0; i < n && i < 2; i++) {
        struct cand *c = new_cand(l, CAND_CALC, CV_C_UNARY);

        if (!c)
            return;
        snprintf(c->text, sizeof(c->text), "sqrt(%s)", pool[i].text);
        c->nops = 1;
        c->src[0] = pool[i].src;
        c->from_latest = pool[i].step >= 0 && pool[i].step == s->nstep - 1;
        commit(s, l, c);
    }
    if (n == 0) {
        struct cand *c = new_cand(l, CAND_CALC, CV_C_UNARY);

        if (c) {
            snprintf(c->text, sizeof(c->text), "%.200s", s->prompt);
            commit(s, l, c);
        }
    }
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++) {
            if (i == j)
                continue;
            for (int op = OP_ADD; op <= OP_MEAN; op++) {
                struct cand *c;

                if (i > j && (op == OP_ADD || op == OP_MUL || op == OP_MEAN))
                    continue; /* commutative: one order */
                c = new_cand(l, CAND_CALC, op == OP_MEAN ? CV_C_MEAN : CV_C_BINARY);
                if (!c)
                    return;
                if (op == OP_MEAN)
                    snprintf(c->text, sizeof(c->text), "(%s + %s) / 2", pool[i].text, pool[j].text);
                else
                    snprintf(c->text, sizeof(c->text), "%s %c %s", pool[i].text, opchar[op],
                             pool[j].text);
                fill_binary(s, c, &pool[i], &pool[j], op);
                commit(s, l, c);
            }
        }
    }
}

/* run_code templates: each takes the main number N and, for two-number ones, M */
static const struct {
    const char *fmt;  /* printf format taking N (and M) as %lld */
    int two;          /* takes M too */
    double max_n;     /* largest N it is offered with (keeps runs short) */
    const char *what; /* what the program computes: stemmed words, space-separated */
} code_tpl[] = {
    {"n = %lld\nsieve = bytearray([1]) * n\nsieve[0:2] = b'\\x00\\x00'\n"
     "for i in range(2, int(n ** 0.5) + 1):\n    if sieve[i]:\n"
     "        sieve[i * i::i] = bytearray(len(range(i * i, n, i)))\nprint(sum(sieve))\n",
     0, 2e6, "prime"},
    {"a, b = 1, 1\nfor _ in range(%lld - 2):\n    a, b = b, (a + b) %% %lld\nprint(b)\n", 1, 2e5,
     "fibonacci mod modulo"},
    {"print(sum(int(d) for d in str(2 ** %lld)))\n", 0, 2e4, "digit"},
    {"n, s = %lld, 0\nwhile n != 1:\n    n = n // 2 if n %% 2 == 0 else 3 * n + 1\n    s += 1\n"
     "print(s)\n",
     0, 1e7, "collatz step"},
    {"n = %lld\nprint(n * (n + 1) // 2)\n", 0, 1e12, "triangular"},
    {"import math\nprint(len(str(math.factorial(%lld))))\n", 0, 3000, "factorial"},
};

/* 1 if a prompt token is one of the words describing template t */
static int code_described(const struct cand_state *s, int t) {
    for (int i = 0; i < s->ntok; i++) {
        const char *w = code_tpl[t].what, *e;
        size_t l = strlen(s->tok[i]);

        while (*w) {
            e = strchr(w, ' ');
            if (!e)
                e = w + strlen(w);
            if ((size_t)(e - w) == l && strncmp(w, s->tok[i], l) == 0)
                return 1;
            w = *e ? e + 1 : e;
        }
    }
    return 0;
}

int cand_code_templates(void) {
    return (int)TG_ARRAY_LEN(code_tpl);
}

static void gen_code(const struct cand_state *s, struct cand_list *l) {
    double largest = 0;

    for (int i = 0; i < s->nnum; i++)
        largest = fmax(largest, s->num[i].v);
    for (int t = 0; t < (int)TG_ARRAY_LEN(code_tpl); t++) {
        for (int i = 0; i < s->nnum; i++) {
            double nv = s->num[i].v;

            if (nv != floor(nv) || nv < 3 || nv > code_tpl[t].max_n)
                continue;
            for (int j = code_tpl[t].two ? 0 : -1; j < (code_tpl[t].two ? s->nnum : 0); j++) {
                struct cand *c;

                if (j >= 0 && (j == i || s->num[j].v != floor(s->num[j].v) || s->num[j].v < 2))
                    continue;
                c = new_cand(l, CAND_CODE, t);
                if (!c)
                    return;
                if (j >= 0)
                    snprintf(c->text, sizeof(c->text), code_tpl[t].fmt, (long long)nv,
                             (long long)s->num[j].v);
                else
                    snprintf(c->text, sizeof(c->text), code_tpl[t].fmt, (long long)nv);
                c->nops = j >= 0 ? 2 : 1;
                c->arg_largest = nv == largest;
                c->described = code_described(s, t);
                c->larger_first = j < 0 || nv <= s->num[j].v; /* fib: index below modulus */
                commit(s, l, c);
            }
        }
    }
}

static void answer_num(const struct cand_state *s, struct cand_list *l, const struct cand_num *n,
                       int variant) {
    struct cand *c = new_cand(l, CAND_ANSWER, variant);

    if (!c)
        return;
    fmt_num(n->v, c->text, sizeof(c->text));
    c->nops = 1;
    c->src[0] = n->src;
    c->from_latest = n->step >= 0 && n->step == s->nstep - 1;
    c->overlap = n->overlap;
    c->title_hit = n->title_hit;
    c->result_int = n->v == floor(n->v);
    c->result_neg = n->v < 0;
    c->is_year = n->is_year;
    c->emask = n->emask;
    commit(s, l, c);
}

static void gen_answers(const struct cand_state *s, struct cand_list *l) {
    for (int k = s->nstep - 1; k >= 0; k--) {
        const struct cand_step *st = &s->steps[k];

        if ((st->kind == CAND_CALC || st->kind == CAND_CODE) && st->has_value) {
            struct cand_num n;

            memset(&n, 0, sizeof(n));
            n.v = st->value;
            n.src = st->kind == CAND_CALC ? NSRC_CALC : NSRC_CODE;
            n.step = k;
            n.emask = st->kind == CAND_CALC ? st->emask : 0u;
            answer_num(s, l, &n, st->kind == CAND_CALC ? CV_A_CALC : CV_A_CODE);
        } else if (st->kind == CAND_SEARCH && st->ok) {
            struct cand_num sn[24];
            int m = snippet_nums(s, k, sn, 24);

            for (int i = 0; i < m; i++)
                answer_num(s, l, &sn[i], CV_A_SNIPPET);
        }
    }
    for (int i = 0; i < s->nnum; i++)
        answer_num(s, l, &s->num[i], CV_A_PROMPT);
    /* mental arithmetic: two prompt integers below 100, integer result */
    for (int i = 0; i < s->nnum; i++) {
        for (int j = 0; j < s->nnum; j++) {
            const struct cand_num *a = &s->num[i], *b = &s->num[j];

            if (i == j || a->v >= 100 || b->v >= 100 || a->v != floor(a->v) || b->v != floor(b->v))
                continue;
            for (int op = OP_ADD; op <= OP_DIV; op++) {
                int ok;
                double r = apply_op(op, a->v, b->v, &ok);
                struct cand *c;

                if (!ok || r != floor(r) || (i > j && (op == OP_ADD || op == OP_MUL)))
                    continue;
                c = new_cand(l, CAND_ANSWER, CV_A_MENTAL);
                if (!c)
                    return;
                fmt_num(r, c->text, sizeof(c->text));
                fill_binary(s, c, a, b, op);
                commit(s, l, c);
            }
        }
    }
}

void cand_generate(const struct cand_state *s, struct cand_list *out) {
    out->n = 0;
    gen_answers(s, out);
    gen_search(s, out);
    gen_calc(s, out);
    gen_code(s, out);
}

json_t *cand_action_json(const struct cand *c) {
    switch (c->kind) {
    case CAND_SEARCH:
        return json_pack("{s:{s:s, s:{s:s}}}", "tool_call", "name", "search", "arguments", "query",
                         c->text);
    case CAND_CALC:
        return json_pack("{s:{s:s, s:{s:s}}}", "tool_call", "name", "calculator", "arguments",
                         "expression", c->text);
    case CAND_CODE:
        return json_pack("{s:{s:s, s:{s:s, s:i}}}", "tool_call", "name", "run_code", "arguments",
                         "code", c->text, "timeout_ms", 1000);
    default:
        return json_pack("{s:s}", "answer", c->text);
    }
}

const char *cand_kind_name(int kind) {
    static const char *const names[] = {"search", "calculator", "run_code", "answer"};

    return kind >= 0 && kind < CAND_KINDS ? names[kind] : "?";
}
