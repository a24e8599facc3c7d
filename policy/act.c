/*
 * act.c — actions as token sequences: learned symbols, the grammar, requests and targets.
 * See act.h.
 */
#include "policy/act.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/text.h"
#include "tools/calc.h"

/* ---- symbols ------------------------------------------------------------------------------ */

int act_nsym(const struct act_vocab *v) {
    return SYM_FIXED + v->nconst + v->nword + v->ntmpl;
}

int act_sym_const(const struct act_vocab *v, int i) {
    (void)v;
    return SYM_FIXED + i;
}

int act_sym_word(const struct act_vocab *v, int i) {
    return SYM_FIXED + v->nconst + i;
}

int act_sym_tmpl(const struct act_vocab *v, int i) {
    return SYM_FIXED + v->nconst + v->nword + i;
}

/* which learned list symbol `sym` belongs to: 0 const, 1 word, 2 template (index in *i); -1 */
static int sym_class(const struct act_vocab *v, int sym, int *i) {
    int k = sym - SYM_FIXED;

    if (k < 0)
        return -1;
    if (k < v->nconst) {
        *i = k;
        return 0;
    }
    k -= v->nconst;
    if (k < v->nword) {
        *i = k;
        return 1;
    }
    k -= v->nword;
    if (k < v->ntmpl) {
        *i = k;
        return 2;
    }
    return -1;
}

/* ---- program literals --------------------------------------------------------------------- */

#define CODE_LITS_MAX 16

static int ident_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* a number literal of a program at code[i] (not part of a name); its length or 0 */
static size_t code_literal(const char *code, size_t i) {
    size_t j = i;

    if (code[i] < '0' || code[i] > '9')
        return 0;
    if (i > 0 && (ident_char(code[i - 1]) || code[i - 1] == '.'))
        return 0;
    while (code[j] >= '0' && code[j] <= '9')
        j++;
    if (code[j] == '.' && code[j + 1] >= '0' && code[j + 1] <= '9') {
        j++;
        while (code[j] >= '0' && code[j] <= '9')
            j++;
    }
    if (ident_char(code[j]))
        return 0;
    return j - i;
}

/* the program with every literal as \x01 into gen (NUL-terminated), the literals' values and
 * texts; returns how many literals, or -1 when it does not fit */
static int code_generic(const char *code, char *gen, size_t gsize, double *vals,
                        char (*texts)[24]) {
    size_t k = 0;
    int nl = 0;

    for (size_t i = 0; code[i];) {
        size_t l = code_literal(code, i);

        if (k + 2 >= gsize)
            return -1;
        if (l > 0) {
            if (nl >= CODE_LITS_MAX || l >= 24)
                return -1;
            memcpy(texts[nl], code + i, l);
            texts[nl][l] = '\0';
            vals[nl] = strtod(texts[nl], NULL);
            nl++;
            gen[k++] = '\x01';
            i += l;
            continue;
        }
        if (code[i] == '\x01')
            return -1;
        gen[k++] = code[i++];
    }
    gen[k] = '\0';
    return nl;
}

int act_vocab_match_code(const struct act_vocab *v, const char *code, double *args, int *nargs) {
    *nargs = 0;
    for (int t = 0; t < v->ntmpl; t++) {
        const char *p = v->tmpl[t], *c = code;
        int have[TG_ACT_SLOTS_MAX] = {0}, ok = 1;
        double vals[TG_ACT_SLOTS_MAX];

        while (*p && ok) {
            if (*p == '\x01') {
                int k = p[1] - 'a';
                size_t l = code_literal(code, (size_t)(c - code));
                double x;

                if (l == 0 || k < 0 || k >= TG_ACT_SLOTS_MAX) {
                    ok = 0;
                    break;
                }
                x = strtod(c, NULL);
                if (have[k] && !seq_same_value(vals[k], x))
                    ok = 0;
                vals[k] = x;
                have[k] = 1;
                c += l;
                p += 2;
            } else if (*p == *c) {
                p++;
                c++;
            } else {
                ok = 0;
            }
        }
        if (ok && *p == '\0' && *c == '\0') {
            for (int k = 0; k < v->nslots[t]; k++)
                args[k] = vals[k];
            *nargs = v->nslots[t];
            return t;
        }
    }
    return -1;
}

/* ---- learning the symbols ----------------------------------------------------------------- */

struct count_word {
    char w[TG_ACT_WORD_MAX];
    int n;
};

struct count_num {
    double v;
    int n;
};

struct code_inst {
    char *gen; /* new */
    int nlit;
    double vals[CODE_LITS_MAX];
    char texts[CODE_LITS_MAX][24];
};

struct act_learner {
    struct count_word *words;
    int nwords, capw;
    struct count_num *nums;
    int nnums, capn;
    struct code_inst *codes;
    int ncodes, capc;
};

struct act_learner *act_learner_new(void) {
    return calloc(1, sizeof(struct act_learner));
}

void act_learner_free(struct act_learner *l) {
    if (!l)
        return;
    for (int i = 0; i < l->ncodes; i++)
        free(l->codes[i].gen);
    free(l->codes);
    free(l->words);
    free(l->nums);
    free(l);
}

static int grow(void **p, int *cap, int need, size_t size) {
    void *np;
    int nc;

    if (need <= *cap)
        return 0;
    nc = *cap ? *cap * 2 : 16;
    while (nc < need)
        nc *= 2;
    np = realloc(*p, size * (size_t)nc);
    if (!np)
        return TG_ENOMEM;
    *p = np;
    *cap = nc;
    return 0;
}

/* the numbers an agent can see in view v: the prompt's and the observations' */
static int view_numbers(const struct view *v, double *out, int max) {
    struct text_tok toks[TG_SEQ_PROMPT_MAX];
    int n = 0;

#define SCAN(text)                                                                                 \
    do {                                                                                           \
        int nt = text_tokenize((text), strlen(text), toks, TG_SEQ_PROMPT_MAX);                     \
        for (int q = 0; q < nt && n < max; q++)                                                    \
            if (toks[q].kind == TOK_NUM)                                                           \
                out[n++] = toks[q].value;                                                          \
    } while (0)
    SCAN(v->prompt);
    for (int k = 0; k < v->nstep; k++) {
        const struct view_step *st = &v->steps[k];

        for (int h = 0; h < st->nhits; h++) {
            SCAN(st->hits[h].title);
            SCAN(st->hits[h].snippet);
        }
        if (st->has_value && n < max)
            out[n++] = st->value;
    }
#undef SCAN
    return n;
}

static int prompt_has_word(const struct view *v, const char *low) {
    struct text_tok toks[TG_SEQ_PROMPT_MAX];
    int nt = text_tokenize(v->prompt, strlen(v->prompt), toks, TG_SEQ_PROMPT_MAX);

    for (int i = 0; i < nt; i++)
        if (toks[i].kind == TOK_WORD && strcmp(toks[i].low, low) == 0)
            return 1;
    return 0;
}

static int count_word(struct act_learner *l, const char *w) {
    for (int i = 0; i < l->nwords; i++)
        if (strcmp(l->words[i].w, w) == 0) {
            l->words[i].n++;
            return 0;
        }
    if (strlen(w) >= TG_ACT_WORD_MAX)
        return 0;
    if (grow((void **)&l->words, &l->capw, l->nwords + 1, sizeof(*l->words)))
        return TG_ENOMEM;
    snprintf(l->words[l->nwords].w, TG_ACT_WORD_MAX, "%s", w);
    l->words[l->nwords++].n = 1;
    return 0;
}

static int count_num(struct act_learner *l, double x) {
    for (int i = 0; i < l->nnums; i++)
        if (seq_same_value(l->nums[i].v, x)) {
            l->nums[i].n++;
            return 0;
        }
    if (grow((void **)&l->nums, &l->capn, l->nnums + 1, sizeof(*l->nums)))
        return TG_ENOMEM;
    l->nums[l->nnums].v = x;
    l->nums[l->nnums++].n = 1;
    return 0;
}

int act_learner_add(struct act_learner *l, const struct view *v, const json_t *call) {
    const char *name = json_string_value(json_object_get(call, "name"));
    const json_t *args = json_object_get(call, "arguments");
    int tool = view_tool_parse(name);
    struct text_tok toks[TG_SEQ_PROMPT_MAX];
    const char *text;
    int nt, rc = 0;

    if (tool == VT_SEARCH) {
        text = json_string_value(json_object_get(args, "query"));
        nt = text ? text_tokenize(text, strlen(text), toks, TG_SEQ_PROMPT_MAX) : 0;
        for (int i = 0; i < nt && rc == 0; i++)
            if (toks[i].kind == TOK_WORD && !prompt_has_word(v, toks[i].low))
                rc = count_word(l, toks[i].low);
    } else if (tool == VT_CALC) {
        double seen[512];
        int ns = view_numbers(v, seen, 512);

        text = json_string_value(json_object_get(args, "expression"));
        nt = text ? text_tokenize(text, strlen(text), toks, TG_SEQ_PROMPT_MAX) : 0;
        for (int i = 0; i < nt && rc == 0; i++) {
            int found = 0;

            if (toks[i].kind != TOK_NUM)
                continue;
            for (int j = 0; j < ns && !found; j++)
                found = seq_same_value(seen[j], toks[i].value);
            if (!found)
                rc = count_num(l, toks[i].value);
        }
    } else if (tool == VT_CODE) {
        struct code_inst *ci;
        char gen[TG_ACT_TEMPLATE_BYTES];
        int nl;

        text = json_string_value(json_object_get(args, "code"));
        if (!text)
            return 0;
        if (grow((void **)&l->codes, &l->capc, l->ncodes + 1, sizeof(*l->codes)))
            return TG_ENOMEM;
        ci = &l->codes[l->ncodes];
        memset(ci, 0, sizeof(*ci));
        nl = code_generic(text, gen, sizeof(gen), ci->vals, ci->texts);
        if (nl < 0)
            return 0;
        ci->nlit = nl;
        ci->gen = strdup(gen);
        if (!ci->gen)
            return TG_ENOMEM;
        l->ncodes++;
    }
    return rc;
}

static int cmp_word(const void *a, const void *b) {
    const struct count_word *x = a, *y = b;

    if (x->n != y->n)
        return y->n - x->n; /* most frequent first, then by spelling */
    return strcmp(x->w, y->w);
}

static int cmp_word_alpha(const void *a, const void *b) {
    return strcmp(((const struct count_word *)a)->w, ((const struct count_word *)b)->w);
}

static int cmp_num(const void *a, const void *b) {
    const struct count_num *x = a, *y = b;

    if (x->n != y->n)
        return y->n - x->n;
    return x->v < y->v ? -1 : x->v > y->v;
}

static int cmp_num_value(const void *a, const void *b) {
    const struct count_num *x = a, *y = b;

    return x->v < y->v ? -1 : x->v > y->v;
}

static int cmp_code(const void *a, const void *b) {
    const struct code_inst *x = a, *y = b;
    int c = strcmp(x->gen, y->gen);

    if (c)
        return c;
    for (int i = 0; i < x->nlit && i < y->nlit; i++)
        if (x->vals[i] != y->vals[i])
            return x->vals[i] < y->vals[i] ? -1 : 1;
    return x->nlit - y->nlit;
}

/* the template of the programs c[0..n) (one generic form): literals that vary become slots,
 * literals that vary together share one; 0, or -1 when it does not fit */
static int make_template(const struct code_inst *c, int n, char *out, size_t size, int *nslots) {
    int slot_of[CODE_LITS_MAX], ns = 0, nl = c[0].nlit;
    size_t k = 0, lit = 0;

    for (int p = 0; p < nl; p++) {
        int varies = 0;

        slot_of[p] = -1;
        for (int i = 1; i < n && !varies; i++)
            varies = !seq_same_value(c[i].vals[p], c[0].vals[p]);
        if (!varies)
            continue;
        for (int q = 0; q < p && slot_of[p] < 0; q++) {
            int same = slot_of[q] >= 0;

            for (int i = 0; i < n && same; i++)
                same = seq_same_value(c[i].vals[p], c[i].vals[q]);
            if (same)
                slot_of[p] = slot_of[q];
        }
        if (slot_of[p] < 0) {
            if (ns >= TG_ACT_SLOTS_MAX)
                return -1;
            slot_of[p] = ns++;
        }
    }
    for (const char *g = c[0].gen; *g; g++) {
        if (*g != '\x01') {
            if (k + 1 >= size)
                return -1;
            out[k++] = *g;
            continue;
        }
        if (slot_of[lit] >= 0) {
            if (k + 3 >= size)
                return -1;
            out[k++] = '\x01';
            out[k++] = (char)('a' + slot_of[lit]);
        } else {
            size_t tl = strlen(c[0].texts[lit]);

            if (k + tl + 1 >= size)
                return -1;
            memcpy(out + k, c[0].texts[lit], tl);
            k += tl;
        }
        lit++;
    }
    out[k] = '\0';
    *nslots = ns;
    return 0;
}

void act_learner_finish(const struct act_learner *l, int min_count, struct act_vocab *v) {
    struct count_word *w = NULL;
    struct count_num *c = NULL;
    struct code_inst *codes = NULL;
    int n;

    memset(v, 0, sizeof(*v));
    if (l->nwords > 0 && (w = malloc(sizeof(*w) * (size_t)l->nwords)) != NULL) {
        memcpy(w, l->words, sizeof(*w) * (size_t)l->nwords);
        qsort(w, (size_t)l->nwords, sizeof(*w), cmp_word);
        for (n = 0; n < l->nwords && n < ACT_WORDS_MAX && w[n].n >= min_count; n++)
            ;
        qsort(w, (size_t)n, sizeof(*w), cmp_word_alpha);
        for (int i = 0; i < n; i++)
            snprintf(v->word[i], TG_ACT_WORD_MAX, "%s", w[i].w);
        v->nword = n;
    }
    if (l->nnums > 0 && (c = malloc(sizeof(*c) * (size_t)l->nnums)) != NULL) {
        memcpy(c, l->nums, sizeof(*c) * (size_t)l->nnums);
        qsort(c, (size_t)l->nnums, sizeof(*c), cmp_num);
        for (n = 0; n < l->nnums && n < ACT_CONST_MAX && c[n].n >= min_count; n++)
            ;
        qsort(c, (size_t)n, sizeof(*c), cmp_num_value);
        for (int i = 0; i < n; i++)
            v->cval[i] = c[i].v;
        v->nconst = n;
    }
    if (l->ncodes > 0 && (codes = malloc(sizeof(*codes) * (size_t)l->ncodes)) != NULL) {
        memcpy(codes, l->codes, sizeof(*codes) * (size_t)l->ncodes);
        qsort(codes, (size_t)l->ncodes, sizeof(*codes), cmp_code);
        for (int i = 0; i < l->ncodes;) {
            int j = i + 1;

            while (j < l->ncodes && strcmp(codes[j].gen, codes[i].gen) == 0 &&
                   codes[j].nlit == codes[i].nlit)
                j++;
            if (j - i >= min_count && v->ntmpl < TG_ACT_TEMPLATES_MAX &&
                make_template(codes + i, j - i, v->tmpl[v->ntmpl], TG_ACT_TEMPLATE_BYTES,
                              &v->nslots[v->ntmpl]) == 0)
                v->ntmpl++;
            i = j;
        }
    }
    free(w);
    free(c);
    free(codes);
}

/* ---- the grammar -------------------------------------------------------------------------- */

void act_gram_init(struct act_gram *g) {
    memset(g, 0, sizeof(*g));
    g->tool = -1;
    g->tmpl = -1;
}

/* outputs left before TG_ACT_OUT_MAX */
static int room(const struct act_gram *g) {
    return TG_ACT_OUT_MAX - g->n;
}

static int any_ptr(const struct seq *s, unsigned kind) {
    for (int t = 0; t < s->T; t++)
        if (s->ptr[t] & kind)
            return 1;
    return 0;
}

static int set_ptrs(const struct seq *s, unsigned kind, unsigned char *ptr) {
    int k = 0;

    for (int t = 0; t < s->T; t++) {
        ptr[t] = (s->ptr[t] & kind) ? 1 : 0;
        k += ptr[t];
    }
    return k;
}

/* an expression's next outputs (the state after ANSWER counts as an operand too) */
static int expr_allowed(const struct act_gram *g, const struct act_vocab *v, const struct seq *s,
                        unsigned char *sym, unsigned char *ptr) {
    int k = 0, r = room(g);

    if (g->operand) {
        /* an operand, then the open parentheses closed, then EOS */
        if (1 + g->depth + 1 <= r) {
            k += set_ptrs(s, PTR_NUM, ptr);
            for (int i = 0; i < v->nconst; i++)
                sym[act_sym_const(v, i)] = 1;
            k += v->nconst;
        }
        /* an opening, an operand, the closings, EOS */
        if (g->depth < TG_ACT_DEPTH_MAX && 1 + 1 + (g->depth + 1) + 1 <= r) {
            sym[SYM_LPAR] = sym[SYM_SQRT] = 1;
            k += 2;
        }
        return k;
    }
    /* after an operand: an operator (then an operand, the closings, EOS), a closing, or EOS */
    if (1 + 1 + g->depth + 1 <= r) {
        sym[SYM_ADD] = sym[SYM_SUB] = sym[SYM_MUL] = sym[SYM_DIV] = 1;
        k += 4;
    }
    if (g->depth > 0) {
        sym[SYM_RPAR] = 1;
        k++;
    } else {
        sym[SYM_EOS] = 1;
        k++;
    }
    return k;
}

int act_gram_allowed(const struct act_gram *g, const struct act_vocab *v, const struct seq *s,
                     unsigned char *sym, unsigned char *ptr) {
    int nsym = act_nsym(v), k = 0;

    memset(sym, 0, (size_t)nsym);
    memset(ptr, 0, (size_t)s->T);
    if (g->done)
        return 0;
    if (g->tool < 0) {
        int nums = any_ptr(s, PTR_NUM);

        if (any_ptr(s, PTR_WORD) || v->nword > 0)
            sym[SYM_SEARCH] = 1;
        if (nums || v->nconst > 0)
            sym[SYM_CALC] = 1;
        for (int i = 0; i < v->ntmpl && !sym[SYM_CODE]; i++)
            sym[SYM_CODE] = nums || v->nslots[i] == 0;
        sym[SYM_ANSWER] = 1;
        return sym[SYM_SEARCH] + sym[SYM_CALC] + sym[SYM_CODE] + 1;
    }
    switch (g->tool) {
    case SYM_SEARCH:
        if (g->qlen < TG_ACT_QUERY_MAX && room(g) >= 2) {
            k += set_ptrs(s, PTR_WORD, ptr);
            for (int i = 0; i < v->nword; i++)
                sym[act_sym_word(v, i)] = 1;
            k += v->nword;
        }
        if (g->qlen > 0) {
            sym[SYM_EOS] = 1;
            k++;
        }
        return k;
    case SYM_CODE:
        if (g->tmpl < 0) {
            for (int i = 0; i < v->ntmpl; i++)
                if (v->nslots[i] == 0 || any_ptr(s, PTR_NUM)) {
                    sym[act_sym_tmpl(v, i)] = 1;
                    k++;
                }
            return k;
        }
        return set_ptrs(s, PTR_NUM, ptr);
    case SYM_ANSWER:
        if (g->n == 1) {
            sym[SYM_UNKNOWN] = 1;
            k++;
        }
        return k + expr_allowed(g, v, s, sym, ptr);
    default: /* SYM_CALC */
        return expr_allowed(g, v, s, sym, ptr);
    }
}

void act_gram_push(struct act_gram *g, const struct act_vocab *v, int out) {
    int nsym = act_nsym(v), i;

    g->n++;
    if (g->tool < 0) {
        g->tool = out;
        g->operand = 1;
        return;
    }
    if (g->tool == SYM_SEARCH) {
        if (out == SYM_EOS)
            g->done = 1;
        else
            g->qlen++;
    } else if (g->tool == SYM_CODE) {
        if (g->tmpl < 0 && sym_class(v, out, &i) == 2)
            g->tmpl = i;
        else
            g->slot++;
        if (g->tmpl >= 0 && g->slot >= v->nslots[g->tmpl])
            g->done = 1;
    } else if (out == SYM_UNKNOWN || out == SYM_EOS) {
        g->done = 1;
    } else if (out >= nsym || sym_class(v, out, &i) == 0) {
        g->operand = 0; /* a pointed number or a constant */
    } else if (out == SYM_LPAR || out == SYM_SQRT) {
        g->depth++;
    } else if (out == SYM_RPAR) {
        g->depth--;
    } else {
        g->operand = 1; /* an operator */
    }
    if (g->n >= TG_ACT_OUT_MAX)
        g->done = 1;
}

/* ---- sequences to requests ---------------------------------------------------------------- */

/* append to a bounded string buffer */
struct sbuf {
    char *p;
    size_t n, len;
};

static void sb_add(struct sbuf *b, const char *s) {
    size_t l = strlen(s);

    if (b->len + l + 1 > b->n)
        l = b->n > b->len + 1 ? b->n - b->len - 1 : 0;
    memcpy(b->p + b->len, s, l);
    b->len += l;
    b->p[b->len] = '\0';
}

static void sb_number(struct sbuf *b, double v, int paren_negative) {
    char num[48];

    text_format_number(v, num, sizeof(num));
    if (paren_negative && v < 0) {
        sb_add(b, "(");
        sb_add(b, num);
        sb_add(b, ")");
    } else {
        sb_add(b, num);
    }
}

/* the value an operand output stands for */
static double operand_value(const struct act_vocab *v, const struct seq *s, int out) {
    int nsym = act_nsym(v), i;

    if (out >= nsym)
        return s->value[out - nsym];
    if (sym_class(v, out, &i) == 0)
        return v->cval[i];
    return 0;
}

/* the expression out[0..n) (after the tool symbol, EOS excluded) written out */
static void write_expr(const struct act_vocab *v, const struct seq *s, const int *out, int n,
                       struct sbuf *b) {
    static const char *const ops[] = {" + ", " - ", " * ", " / "};
    int nsym = act_nsym(v), i;

    for (int k = 0; k < n; k++) {
        int o = out[k];

        if (o == SYM_EOS)
            break;
        if (o >= nsym || sym_class(v, o, &i) == 0)
            sb_number(b, operand_value(v, s, o), k > 0);
        else if (o >= SYM_ADD && o <= SYM_DIV)
            sb_add(b, ops[o - SYM_ADD]);
        else if (o == SYM_LPAR)
            sb_add(b, "(");
        else if (o == SYM_RPAR)
            sb_add(b, ")");
        else if (o == SYM_SQRT)
            sb_add(b, "sqrt(");
    }
}

static void write_query(const struct act_vocab *v, const struct seq *s, const int *out, int n,
                        struct sbuf *b) {
    int nsym = act_nsym(v), i;

    for (int k = 0; k < n && out[k] != SYM_EOS; k++) {
        if (k > 0)
            sb_add(b, " ");
        if (out[k] >= nsym)
            sb_add(b, seq_word(s, out[k] - nsym));
        else if (sym_class(v, out[k], &i) == 1)
            sb_add(b, v->word[i]);
    }
}

static void write_code(const struct act_vocab *v, const struct seq *s, const int *out, int n,
                       struct sbuf *b) {
    int nsym = act_nsym(v), t;

    if (n < 1 || sym_class(v, out[0], &t) != 2)
        return;
    for (const char *p = v->tmpl[t]; *p; p++) {
        char ch[2] = {*p, '\0'};
        int k;

        if (*p != '\x01') {
            sb_add(b, ch);
            continue;
        }
        k = p[1] - 'a';
        p++;
        if (k >= 0 && 1 + k < n && out[1 + k] >= nsym)
            sb_number(b, s->value[out[1 + k] - nsym], 0);
        else
            sb_add(b, "0");
    }
}

json_t *act_request(const struct act_vocab *v, const struct seq *s, const int *out, int n,
                    json_t **call) {
    char text[TG_ACT_TEMPLATE_BYTES + 256];
    struct sbuf b = {text, sizeof(text), 0};
    json_t *c = NULL, *body;

    text[0] = '\0';
    if (call)
        *call = NULL;
    if (n < 1)
        return NULL;
    if (out[0] == SYM_ANSWER) {
        if (n >= 2 && out[1] == SYM_UNKNOWN) {
            sb_add(&b, "Answer: unknown");
        } else {
            char expr[512];
            struct sbuf e = {expr, sizeof(expr), 0};
            struct tg_error err;
            double val;

            expr[0] = '\0';
            write_expr(v, s, out + 1, n - 1, &e);
            sb_add(&b, "Answer: ");
            if (calc_eval(expr, &val, &err) == 0)
                sb_number(&b, val, 0);
            else
                sb_add(&b, expr);
        }
        return json_pack("{s:s}", "answer", text);
    }
    if (out[0] == SYM_SEARCH) {
        write_query(v, s, out + 1, n - 1, &b);
        c = json_pack("{s:s,s:{s:s,s:i}}", "name", "search", "arguments", "query", text, "k",
                      TG_VIEW_HITS);
    } else if (out[0] == SYM_CALC) {
        write_expr(v, s, out + 1, n - 1, &b);
        c = json_pack("{s:s,s:{s:s}}", "name", "calculator", "arguments", "expression", text);
    } else if (out[0] == SYM_CODE) {
        write_code(v, s, out + 1, n - 1, &b);
        c = json_pack("{s:s,s:{s:s}}", "name", "run_code", "arguments", "code", text);
    }
    if (!c)
        return NULL;
    body = json_pack("{s:O}", "tool_call", c);
    if (call && body)
        *call = c;
    else
        json_decref(c);
    return body;
}

void act_text(const struct act_vocab *v, const struct seq *s, const int *out, int n, char *buf,
              size_t size) {
    struct sbuf b = {buf, size, 0};
    int t;

    if (size == 0)
        return;
    buf[0] = '\0';
    if (n < 1)
        return;
    switch (out[0]) {
    case SYM_SEARCH:
        sb_add(&b, "search: ");
        write_query(v, s, out + 1, n - 1, &b);
        break;
    case SYM_CALC:
        sb_add(&b, "calculator: ");
        write_expr(v, s, out + 1, n - 1, &b);
        break;
    case SYM_CODE:
        sb_add(&b, "run_code: ");
        if (n >= 2 && sym_class(v, out[1], &t) == 2) {
            char name[32];

            snprintf(name, sizeof(name), "template %d", t);
            sb_add(&b, name);
            for (int k = 2; k < n; k++) {
                sb_add(&b, " ");
                sb_number(&b, operand_value(v, s, out[k]), 0);
            }
        }
        break;
    default:
        sb_add(&b, "answer: ");
        if (n >= 2 && out[1] == SYM_UNKNOWN)
            sb_add(&b, "unknown");
        else
            write_expr(v, s, out + 1, n - 1, &b);
    }
}

/* ---- targets ------------------------------------------------------------------------------ */

static int ascii_casecmp(const char *a, const char *b) {
    for (;; a++, b++) {
        int x = (unsigned char)*a, y = (unsigned char)*b;

        if (x >= 'A' && x <= 'Z')
            x += 'a' - 'A';
        if (y >= 'A' && y <= 'Z')
            y += 'a' - 'A';
        if (x != y || !x)
            return x - y;
    }
}

static int set_add(struct act_target *t, int out) {
    int i = t->n;

    if (t->nset[i] < ACT_SET_MAX)
        t->set[i][t->nset[i]++] = out;
    return 0;
}

/* a set of pointers at the numbers equal to x, and the constant equal to x */
static int number_set(const struct act_vocab *v, const struct seq *s, double x,
                      struct act_target *t) {
    int nsym = act_nsym(v);

    t->nset[t->n] = 0;
    for (int i = 0; i < v->nconst; i++)
        if (seq_same_value(v->cval[i], x))
            set_add(t, act_sym_const(v, i));
    for (int p = 0; p < s->T; p++)
        if ((s->ptr[p] & PTR_NUM) && seq_same_value(s->value[p], x))
            set_add(t, nsym + p);
    return t->nset[t->n];
}

static int push_sym(struct act_target *t, int sym) {
    if (t->n >= TG_ACT_OUT_MAX)
        return -1;
    t->nset[t->n] = 1;
    t->set[t->n][0] = sym;
    t->n++;
    return 0;
}

/* keep in each step's set only what the grammar allows there (walking with the first
 * element); 0, or -1 when a step has nothing left or the action is incomplete */
static int grammar_filter(const struct act_vocab *v, const struct seq *s, struct act_target *t) {
    unsigned char sym[TG_ACT_SYMBOLS_MAX], ptr[TG_SEQ_MAX];
    int nsym = act_nsym(v);
    struct act_gram g;

    act_gram_init(&g);
    for (int i = 0; i < t->n; i++) {
        int k = 0;

        if (g.done || act_gram_allowed(&g, v, s, sym, ptr) == 0)
            return -1;
        for (int j = 0; j < t->nset[i]; j++) {
            int o = t->set[i][j];

            if ((o < nsym && sym[o]) || (o >= nsym && o - nsym < s->T && ptr[o - nsym]))
                t->set[i][k++] = o;
        }
        t->nset[i] = k;
        if (k == 0)
            return -1;
        act_gram_push(&g, v, t->set[i][0]);
    }
    return g.done ? 0 : -1;
}

static int not_found(struct tg_error *err, const char *what, const char *detail) {
    tg_error_set(err, "not_writable", "%s %.80s", what, detail);
    return TG_ENOTFOUND;
}

static int target_query(const struct act_vocab *v, const struct seq *s, const char *q,
                        struct act_target *t, struct tg_error *err) {
    struct text_tok toks[TG_SEQ_PROMPT_MAX];
    int nt = text_tokenize(q, strlen(q), toks, TG_SEQ_PROMPT_MAX), nsym = act_nsym(v);

    for (int i = 0; i < nt; i++) {
        if (toks[i].kind != TOK_WORD)
            return not_found(err, "a query with a non-word:", q);
        if (t->n >= TG_ACT_OUT_MAX - 1)
            return not_found(err, "a query too long:", q);
        t->nset[t->n] = 0;
        for (int w = 0; w < v->nword; w++)
            if (strcmp(v->word[w], toks[i].low) == 0)
                set_add(t, act_sym_word(v, w));
        for (int p = 0; p < s->T; p++)
            if ((s->ptr[p] & PTR_WORD) && ascii_casecmp(seq_word(s, p), toks[i].low) == 0)
                set_add(t, nsym + p);
        if (t->nset[t->n] == 0)
            return not_found(err, "a query word neither in the prompt nor learned:", toks[i].low);
        t->n++;
    }
    return push_sym(t, SYM_EOS) ? not_found(err, "a query too long:", q) : 0;
}

/* ---- expressions: a tree, and the ways to write it ---------------------------------------- */

#define ENODES_MAX 32

struct enode {
    int kind; /* 0 number, 1 binary operator, 2 sqrt */
    int op;   /* SYM_ADD .. SYM_DIV */
    double v;
    int l, r;
};

struct etree {
    int n;
    struct enode nd[ENODES_MAX];
};

struct eparse {
    const struct text_tok *t;
    int nt, pos;
    struct etree *tr;
};

static int is_punct(const struct eparse *p, const char *c) {
    return p->pos < p->nt && p->t[p->pos].kind == TOK_PUNCT && strcmp(p->t[p->pos].low, c) == 0;
}

static int enode_new(struct etree *tr, int kind, int op, double v, int l, int r) {
    if (tr->n >= ENODES_MAX)
        return -1;
    tr->nd[tr->n] = (struct enode){kind, op, v, l, r};
    return tr->n++;
}

static int parse_sum(struct eparse *p, int depth);

static int parse_factor(struct eparse *p, int depth) {
    int k;

    if (depth > 8 || p->pos >= p->nt)
        return -1;
    if (p->t[p->pos].kind == TOK_NUM)
        return enode_new(p->tr, 0, 0, p->t[p->pos++].value, -1, -1);
    if (p->t[p->pos].kind == TOK_WORD && strcmp(p->t[p->pos].low, "sqrt") == 0) {
        p->pos++;
        if (!is_punct(p, "("))
            return -1;
        p->pos++;
        k = parse_sum(p, depth + 1);
        if (k < 0 || !is_punct(p, ")"))
            return -1;
        p->pos++;
        return enode_new(p->tr, 2, 0, 0, k, -1);
    }
    if (is_punct(p, "(")) {
        p->pos++;
        k = parse_sum(p, depth + 1);
        if (k < 0 || !is_punct(p, ")"))
            return -1;
        p->pos++;
        return k;
    }
    return -1;
}

static int parse_term(struct eparse *p, int depth) {
    int l = parse_factor(p, depth);

    while (l >= 0 && (is_punct(p, "*") || is_punct(p, "/"))) {
        int op = is_punct(p, "*") ? SYM_MUL : SYM_DIV, r;

        p->pos++;
        r = parse_factor(p, depth);
        l = r < 0 ? -1 : enode_new(p->tr, 1, op, 0, l, r);
    }
    return l;
}

static int parse_sum(struct eparse *p, int depth) {
    int l = parse_term(p, depth);

    while (l >= 0 && (is_punct(p, "+") || is_punct(p, "-"))) {
        int op = is_punct(p, "+") ? SYM_ADD : SYM_SUB, r;

        p->pos++;
        r = parse_term(p, depth);
        l = r < 0 ? -1 : enode_new(p->tr, 1, op, 0, l, r);
    }
    return l;
}

static int prec(const struct enode *n) {
    if (n->kind != 1)
        return 3;
    return n->op == SYM_ADD || n->op == SYM_SUB ? 1 : 2;
}

static int commutes(int op) {
    return op == SYM_ADD || op == SYM_MUL;
}

/* the outputs writing node k (operands swapped where bit c of mask is set for the c-th
 * commutative node, in node order) into t; -1 when it does not fit or an operand is neither
 * in the input nor learned */
static int write_node(const struct act_vocab *v, const struct seq *s, const struct etree *tr, int k,
                      unsigned mask, struct act_target *t) {
    const struct enode *n = &tr->nd[k];
    int l, r, c = 0;

    if (n->kind == 0) {
        if (t->n >= TG_ACT_OUT_MAX || number_set(v, s, n->v, t) == 0)
            return -1;
        t->n++;
        return 0;
    }
    if (n->kind == 2)
        return push_sym(t, SYM_SQRT) || write_node(v, s, tr, n->l, mask, t) || push_sym(t, SYM_RPAR)
                   ? -1
                   : 0;
    for (int i = 0; i < k; i++)
        c += tr->nd[i].kind == 1 && commutes(tr->nd[i].op);
    l = n->l;
    r = n->r;
    if (commutes(n->op) && c < 8 && (mask >> c & 1u)) {
        l = n->r;
        r = n->l;
    }
    {
        const struct enode *ln = &tr->nd[l], *rn = &tr->nd[r];
        int lp = prec(ln) < prec(n);
        int rp = prec(rn) < prec(n) ||
                 (prec(rn) == prec(n) && !(commutes(n->op) && rn->kind == 1 && rn->op == n->op));

        if ((lp && push_sym(t, SYM_LPAR)) || write_node(v, s, tr, l, mask, t) ||
            (lp && push_sym(t, SYM_RPAR)) || push_sym(t, n->op) || (rp && push_sym(t, SYM_LPAR)) ||
            write_node(v, s, tr, r, mask, t) || (rp && push_sym(t, SYM_RPAR)))
            return -1;
    }
    return 0;
}

static int same_target(const struct act_target *a, const struct act_target *b) {
    if (a->n != b->n)
        return 0;
    for (int i = 0; i < a->n; i++)
        if (a->nset[i] != b->nset[i] ||
            memcmp(a->set[i], b->set[i], sizeof(int) * (size_t)a->nset[i]) != 0)
            return 0;
    return 1;
}

/*
 * The targets of expression e after `lead` (the tool symbol, or ANSWER): every way of writing
 * it that swaps the operands of + and * (the judge counts any expression with the value, so
 * the warm-up should not teach one order of "98045 + 21921.28" over the other), at most
 * ACT_ALT_MAX of them.
 */
static int target_expr(const struct act_vocab *v, const struct seq *s, int lead, const char *e,
                       struct act_targets *out, struct tg_error *err) {
    struct text_tok toks[TG_SEQ_PROMPT_MAX];
    struct etree tr;
    struct eparse p;
    int nt = text_tokenize(e, strlen(e), toks, TG_SEQ_PROMPT_MAX), root, ncomm = 0;

    memset(&tr, 0, sizeof(tr));
    p = (struct eparse){toks, nt, 0, &tr};
    root = parse_sum(&p, 0);
    if (root < 0 || p.pos != nt)
        return not_found(err, "an expression the grammar cannot write:", e);
    for (int i = 0; i < tr.n; i++)
        ncomm += tr.nd[i].kind == 1 && commutes(tr.nd[i].op);
    if (ncomm > 3)
        ncomm = 3;
    out->nalt = 0;
    for (unsigned mask = 0; mask < (1u << ncomm) && out->nalt < ACT_ALT_MAX; mask++) {
        struct act_target *t = &out->alt[out->nalt];
        int dup = 0;

        memset(t, 0, sizeof(*t));
        push_sym(t, lead);
        if (write_node(v, s, &tr, root, mask, t) || push_sym(t, SYM_EOS)) {
            if (mask == 0)
                return not_found(err,
                                 "an expression with an operand neither in the input nor "
                                 "learned, or too long:",
                                 e);
            continue;
        }
        if (grammar_filter(v, s, t))
            continue;
        for (int i = 0; i < out->nalt && !dup; i++)
            dup = same_target(&out->alt[i], t);
        out->nalt += !dup;
    }
    return out->nalt > 0 ? 0 : not_found(err, "an expression the grammar cannot write:", e);
}

int act_target_call(const struct act_vocab *v, const struct seq *s, const json_t *call,
                    struct act_targets *out, struct tg_error *err) {
    const char *name = json_string_value(json_object_get(call, "name"));
    const json_t *args = json_object_get(call, "arguments");
    struct act_target *t = &out->alt[0];
    int tool = view_tool_parse(name), rc;
    const char *text;

    memset(out, 0, sizeof(*out));
    out->nalt = 1;
    if (tool == VT_SEARCH) {
        text = json_string_value(json_object_get(args, "query"));
        push_sym(t, SYM_SEARCH);
        rc = target_query(v, s, text ? text : "", t, err);
    } else if (tool == VT_CALC) {
        text = json_string_value(json_object_get(args, "expression"));
        return target_expr(v, s, SYM_CALC, text ? text : "", out, err);
    } else if (tool == VT_CODE) {
        double a[TG_ACT_SLOTS_MAX];
        int na, tm;

        text = json_string_value(json_object_get(args, "code"));
        tm = act_vocab_match_code(v, text ? text : "", a, &na);
        if (tm < 0)
            return not_found(err, "a program that fits no template", "");
        push_sym(t, SYM_CODE);
        push_sym(t, act_sym_tmpl(v, tm));
        rc = 0;
        for (int k = 0; k < na && rc == 0; k++) {
            if (number_set(v, s, a[k], t) == 0)
                rc = not_found(err, "a program argument not in the input", "");
            t->n++;
        }
    } else {
        return not_found(err, "a call of an unknown tool:", name ? name : "(none)");
    }
    if (rc)
        return rc;
    if (grammar_filter(v, s, t))
        return not_found(err, "a call the grammar cannot write:", name);
    return 0;
}

/* x is a correct answer for a */
static int answer_ok(const struct task_answer *a, double x) {
    if (a->type == TASK_ANSWER_INT)
        return seq_same_value(x, a->value);
    return fabs(x - a->value) <= fmax(a->tolerance, a->rel_tolerance * fabs(a->value));
}

int act_target_answer(const struct act_vocab *v, const struct seq *s, const struct task_answer *a,
                      struct act_targets *out, struct tg_error *err) {
    static const int ops[4] = {SYM_ADD, SYM_SUB, SYM_MUL, SYM_DIV};
    int nsym = act_nsym(v), nvals = 0;
    double vals[64];
    int copies[64];

    memset(out, 0, sizeof(*out));
    if (a->type == TASK_ANSWER_UNKNOWN) {
        out->nalt = 1;
        push_sym(&out->alt[0], SYM_ANSWER);
        push_sym(&out->alt[0], SYM_UNKNOWN);
        return grammar_filter(v, s, &out->alt[0]) ? not_found(err, "an unknown answer", "") : 0;
    }
    if (a->type != TASK_ANSWER_NUMBER && a->type != TASK_ANSWER_INT)
        return not_found(err, "a text answer", "");
    /* a number the input shows */
    {
        struct act_target *t = &out->alt[0];

        push_sym(t, SYM_ANSWER);
        t->nset[t->n] = 0;
        for (int p = 0; p < s->T; p++)
            if ((s->ptr[p] & PTR_NUM) && answer_ok(a, s->value[p]))
                set_add(t, nsym + p);
        if (t->nset[t->n] > 0) {
            t->n++;
            push_sym(t, SYM_EOS);
            out->nalt = 1;
            return grammar_filter(v, s, t) ? not_found(err, "a pointed answer", "") : 0;
        }
        memset(t, 0, sizeof(*t));
    }
    /* a op b over distinct values of the input (and the learned constants as b) */
    for (int p = 0; p < s->T && nvals < 64; p++) {
        int dup = 0;

        if (!(s->ptr[p] & PTR_NUM))
            continue;
        for (int i = 0; i < nvals && !dup; i++)
            if (seq_same_value(vals[i], s->value[p])) {
                copies[i]++;
                dup = 1;
            }
        if (!dup) {
            copies[nvals] = 1;
            vals[nvals++] = s->value[p];
        }
    }
    for (int i = 0; i < nvals && out->nalt < ACT_ALT_MAX; i++)
        for (int j = 0; j < nvals + v->nconst && out->nalt < ACT_ALT_MAX; j++)
            for (int o = 0; o < 4 && out->nalt < ACT_ALT_MAX; o++) {
                double x = vals[i], y = j < nvals ? vals[j] : v->cval[j - nvals], r;
                struct act_target *t = &out->alt[out->nalt];

                if (j == i && copies[i] < 2) /* "add 3 and 3" uses one value twice */
                    continue;
                r = o == 0 ? x + y : o == 1 ? x - y : o == 2 ? x * y : (y != 0 ? x / y : NAN);
                if (!isfinite(r) || !answer_ok(a, r))
                    continue;
                memset(t, 0, sizeof(*t));
                push_sym(t, SYM_ANSWER);
                number_set(v, s, x, t);
                t->n++;
                push_sym(t, ops[o]);
                number_set(v, s, y, t);
                t->n++;
                push_sym(t, SYM_EOS);
                if (grammar_filter(v, s, t) == 0)
                    out->nalt++;
            }
    if (out->nalt == 0)
        return not_found(err, "an answer neither shown nor a op b of the input", "");
    return 0;
}
