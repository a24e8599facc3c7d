/*
 * seq.c — the token sequence the policy reads. See seq.h.
 */
#include "policy/seq.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "base/rng.h"
#include "policy/act.h"
#include "policy/lexicon.h"
#include "policy/text.h"

#define SEQ_TEXT_MAX (TG_SEQ_PROMPT_MAX * TEXT_LOW_MAX)

int seq_alloc(struct seq *s, int cap_T, int cap_pieces, int cap_text, struct tg_error *err) {
    size_t bytes;
    char *p;

    memset(s, 0, sizeof(*s));
    if (cap_T <= 0)
        cap_T = TG_SEQ_MAX;
    if (cap_pieces <= 0)
        cap_pieces = TG_SEQ_MAX * TG_SEQ_PIECES_MAX;
    if (cap_text <= 0)
        cap_text = SEQ_TEXT_MAX;
    bytes = sizeof(int) * (size_t)(cap_T + 1) + sizeof(uint32_t) * (size_t)cap_pieces +
            sizeof(float) * (size_t)cap_T * SEQ_FEAT + sizeof(double) * (size_t)cap_T +
            sizeof(int) * (size_t)cap_T + sizeof(uint32_t) * (size_t)cap_T + 5 * (size_t)cap_T +
            (size_t)cap_text + 64;
    s->block = calloc(1, bytes);
    if (!s->block) {
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
        return TG_ENOMEM;
    }
    p = s->block;
    /* the widest elements first, so every array stays aligned */
    s->value = (double *)(void *)p;
    p += sizeof(double) * (size_t)cap_T;
    s->feat = (float *)(void *)p;
    p += sizeof(float) * (size_t)cap_T * SEQ_FEAT;
    s->pieces = (uint32_t *)(void *)p;
    p += sizeof(uint32_t) * (size_t)cap_pieces;
    s->piece_off = (int *)(void *)p;
    p += sizeof(int) * (size_t)(cap_T + 1);
    s->text_off = (int *)(void *)p;
    p += sizeof(int) * (size_t)cap_T;
    s->cls = (uint32_t *)(void *)p;
    p += sizeof(uint32_t) * (size_t)cap_T;
    s->seg = (unsigned char *)p;
    s->ago = s->seg + cap_T;
    s->rank = s->ago + cap_T;
    s->ptr = s->rank + cap_T;
    s->pos = s->ptr + cap_T;
    s->text = (char *)(s->pos + cap_T);
    s->cap_T = cap_T;
    s->cap_pieces = cap_pieces;
    s->cap_text = cap_text;
    return 0;
}

void seq_free(struct seq *s) {
    if (!s)
        return;
    free(s->block);
    memset(s, 0, sizeof(*s));
}

int seq_clone(struct seq *dst, const struct seq *src, struct tg_error *err) {
    int rc = seq_alloc(dst, src->T, src->npieces > 0 ? src->npieces : 1,
                       src->ntext > 0 ? src->ntext : 1, err);

    if (rc)
        return rc;
    dst->T = src->T;
    dst->npieces = src->npieces;
    dst->state = src->state;
    dst->ntext = src->ntext;
    memcpy(dst->piece_off, src->piece_off, sizeof(int) * (size_t)(src->T + 1));
    memcpy(dst->pieces, src->pieces, sizeof(uint32_t) * (size_t)src->npieces);
    memcpy(dst->seg, src->seg, (size_t)src->T);
    memcpy(dst->ago, src->ago, (size_t)src->T);
    memcpy(dst->rank, src->rank, (size_t)src->T);
    memcpy(dst->ptr, src->ptr, (size_t)src->T);
    memcpy(dst->pos, src->pos, (size_t)src->T);
    memcpy(dst->feat, src->feat, sizeof(float) * (size_t)src->T * SEQ_FEAT);
    memcpy(dst->value, src->value, sizeof(double) * (size_t)src->T);
    memcpy(dst->text_off, src->text_off, sizeof(int) * (size_t)src->T);
    memcpy(dst->cls, src->cls, sizeof(uint32_t) * (size_t)src->T);
    memcpy(dst->text, src->text, (size_t)src->ntext);
    return 0;
}

const char *seq_word(const struct seq *s, int t) {
    if (t < 0 || t >= s->T || s->text_off[t] < 0)
        return "";
    return s->text + s->text_off[t];
}

int seq_same_value(double a, double b) {
    return fabs(a - b) <= 1e-9 * fmax(1.0, fmax(fabs(a), fabs(b)));
}

/* ---- building ----------------------------------------------------------------------------- */

struct builder {
    struct seq *s;
    uint32_t buckets;
    int limit;                  /* tokens allowed before the state token */
    uint32_t whash[TG_SEQ_MAX]; /* words: hash of the lowercase form; 0 for others */
    unsigned char kind[TG_SEQ_MAX];
    unsigned tflags[TG_SEQ_MAX];
    int seg_start;             /* where the current segment began (positions count from it) */
    const struct lexicon *lex; /* WordNet, or NULL */
    double drop;               /* seq_build_dropout: the chance a word reads by its concepts */
    uint64_t drop_key;
};

/* the match class of a number: its value's bits (0 and -0 alike), mixed; never 0 */
static uint32_t value_class(double v) {
    uint64_t bits;

    if (v == 0.0)
        v = 0.0;
    memcpy(&bits, &v, sizeof(bits));
    return (uint32_t)(rng_mix64(bits ^ 0x6E756D62657273ULL) >> 32) | 1u;
}

/* the piece of WordNet concept c (lexicon.h) */
static uint32_t concept_piece(uint32_t c, uint32_t buckets) {
    unsigned char le[4] = {(unsigned char)c, (unsigned char)(c >> 8), (unsigned char)(c >> 16),
                           (unsigned char)(c >> 24)};

    return hash_fnv32(hash_fnv32(HASH_FNV32_BASIS, "y|", 2), le, 4) % buckets;
}

/* token i reads by its shape and concepts alone (seq_build_dropout): a draw keyed by i */
static int dropped(const struct builder *b, int i) {
    return b->drop > 0 &&
           rng_unit(rng_mix64(b->drop_key ^ (0xD1B54A32D192ED03ULL * (uint64_t)(i + 1)))) < b->drop;
}

/* append token t (text src for PTR_WORD copies); 0, or -1 when the sequence is full */
static int add_tok(struct builder *b, const struct text_tok *t, const char *src, int seg, int ago,
                   int rank, unsigned ptr, const uint32_t *con, int ncon) {
    struct seq *s = b->s;
    int i = s->T, np;

    if (i >= b->limit || s->npieces + TG_SEQ_PIECES_MAX > s->cap_pieces)
        return -1;
    np = text_pieces(t, b->buckets, s->pieces + s->npieces, TG_SEQ_PIECES_MAX - ncon);
    if (ncon > 0 && t->kind == TOK_WORD && np >= 2 && dropped(b, i)) {
        /* the word by its shape and concepts alone: text_pieces puts "w|" first, then shape */
        s->pieces[s->npieces] = s->pieces[s->npieces + 1];
        np = 1;
    }
    for (int c = 0; c < ncon; c++)
        s->pieces[s->npieces + np++] = concept_piece(con[c], b->buckets);
    s->piece_off[i] = s->npieces;
    s->npieces += np;
    s->piece_off[i + 1] = s->npieces;
    s->seg[i] = (unsigned char)seg;
    s->pos[i] = (unsigned char)(i - b->seg_start < SEQ_POS ? i - b->seg_start : SEQ_POS - 1);
    s->ago[i] = (unsigned char)ago;
    s->rank[i] = (unsigned char)rank;
    s->value[i] = t->kind == TOK_NUM ? t->value : 0;
    s->text_off[i] = -1;
    b->kind[i] = (unsigned char)t->kind;
    b->tflags[i] = t->flags;
    b->whash[i] = t->kind == TOK_WORD ? hash_fnv32_str(HASH_FNV32_BASIS, t->low) | 1u : 0;
    s->cls[i] = t->kind == TOK_WORD ? b->whash[i] : t->kind == TOK_NUM ? value_class(t->value) : 0;
    if (t->kind == TOK_NUM && (ptr & PTR_NUM))
        s->ptr[i] = PTR_NUM;
    else if (t->kind == TOK_WORD && (ptr & PTR_WORD) && src) {
        int len = t->len < TEXT_LOW_MAX - 1 ? t->len : TEXT_LOW_MAX - 1;

        if (s->ntext + len + 1 <= s->cap_text) {
            memcpy(s->text + s->ntext, src + t->start, (size_t)len);
            s->text[s->ntext + len] = '\0';
            s->text_off[i] = s->ntext;
            s->ntext += len + 1;
            s->ptr[i] = PTR_WORD;
        }
    } else {
        s->ptr[i] = 0;
    }
    s->T++;
    return 0;
}

static int add_marker(struct builder *b, const char *name, int seg, int ago, int rank) {
    struct text_tok t;

    b->seg_start = b->s->T;
    memset(&t, 0, sizeof(t));
    t.kind = TOK_MARK;
    snprintf(t.low, sizeof(t.low), "%s", name);
    return add_tok(b, &t, NULL, seg, ago, rank, 0, NULL, 0);
}

/* the concepts of the two-word entry that word tokens j and j + 1 of toks[0..n) make ("head
 * count"), or 0 when they make none */
static int pair_concepts(const struct builder *b, const struct text_tok *toks, int n, int j,
                         uint32_t *con) {
    char two[2 * TEXT_LOW_MAX];

    if (!b->lex || j + 1 >= n || toks[j].kind != TOK_WORD || toks[j + 1].kind != TOK_WORD ||
        ((toks[j].flags | toks[j + 1].flags) & TF_TRUNC) ||
        toks[j + 1].start != toks[j].start + toks[j].len + 1)
        return 0;
    snprintf(two, sizeof(two), "%s_%s", toks[j].low, toks[j + 1].low);
    return lexicon_concepts(b->lex, two, con, TG_SEQ_CONCEPTS_MAX);
}

/* append to con[0..k) the first of more[0..m) that fit, skipping those already there */
static int merge_concepts(uint32_t *con, int k, const uint32_t *more, int m) {
    if (m > TG_SEQ_CONCEPTS_MAX - k)
        m = TG_SEQ_CONCEPTS_MAX - k;
    for (int q = 0; q < m; q++) {
        int seen = 0;

        for (int r = 0; r < k && !seen; r++)
            seen = con[r] == more[q];
        if (!seen)
            con[k++] = more[q];
    }
    return k;
}

/* tokens of text[0..n), at most max of them; returns how many were added. A word's pieces
 * include its concepts, then those of the two-word entries it ends and starts; each entry is
 * looked up once, for its first word, and kept for its second. */
static int add_text(struct builder *b, const char *text, int seg, int ago, int rank, unsigned ptr,
                    int max) {
    struct text_tok toks[TG_SEQ_PROMPT_MAX];
    uint32_t left[TG_SEQ_CONCEPTS_MAX], right[TG_SEQ_CONCEPTS_MAX];
    int n =
        text_tokenize(text, strlen(text), toks, max < TG_SEQ_PROMPT_MAX ? max : TG_SEQ_PROMPT_MAX);
    int nleft = 0;

    b->seg_start = b->s->T;
    for (int i = 0; i < n; i++) {
        uint32_t con[TG_SEQ_CONCEPTS_MAX];
        int ncon = 0, nright = pair_concepts(b, toks, n, i, right);

        if (b->lex && toks[i].kind == TOK_WORD && !(toks[i].flags & TF_TRUNC)) {
            ncon = lexicon_concepts(b->lex, toks[i].low, con, TG_SEQ_CONCEPTS_MAX);
            ncon = merge_concepts(con, ncon, left, nleft);
            ncon = merge_concepts(con, ncon, right, nright);
        }
        if (add_tok(b, &toks[i], text, seg, ago, rank, ptr, con, ncon))
            return i;
        memcpy(left, right, sizeof(uint32_t) * (size_t)nright);
        nleft = nright;
    }
    return n;
}

static void add_number(struct builder *b, double v, int seg, int ago, unsigned ptr) {
    char buf[48];

    text_format_number(v, buf, sizeof(buf));
    add_text(b, buf, seg, ago, 0, ptr, 2);
}

/* one earlier call k of view v: the call, then what it showed */
static void add_step(struct builder *b, const struct view *v, int k, const struct act_vocab *voc) {
    const struct view_step *st = &v->steps[k];
    int ago = v->nstep - 1 - k, hits;

    if (ago > 7)
        ago = 7;
    if (st->tool == VT_SEARCH) {
        add_marker(b, "search", SEG_CALL_SEARCH, ago, 0);
        add_text(b, st->text, SEG_CALL_SEARCH, ago, 0, 0, TG_SEQ_ACTION_MAX);
    } else if (st->tool == VT_CALC) {
        add_marker(b, "calculator", SEG_CALL_CALC, ago, 0);
        add_text(b, st->text, SEG_CALL_CALC, ago, 0, 0, TG_SEQ_ACTION_MAX);
    } else if (st->tool == VT_CODE) {
        double args[TG_ACT_SLOTS_MAX];
        int tmpl = -1, nargs = 0;
        char name[24];

        add_marker(b, "run_code", SEG_CALL_CODE, ago, 0);
        if (voc)
            tmpl = act_vocab_match_code(voc, st->text, args, &nargs);
        if (tmpl >= 0)
            snprintf(name, sizeof(name), "template %d", tmpl);
        else
            snprintf(name, sizeof(name), "template ?");
        add_marker(b, name, SEG_CALL_CODE, ago, 0);
        for (int i = 0; i < nargs; i++)
            add_number(b, args[i], SEG_CALL_CODE, ago, 0);
    } else {
        add_marker(b, "unknown tool", SEG_CALL_SEARCH, ago, 0);
    }
    if (!st->ok) {
        add_marker(b, "error", SEG_ERROR, ago, 0);
        if (st->tool == VT_CALC)
            add_text(b, st->error, SEG_ERROR, ago, 0, 0, 4);
        return;
    }
    if (st->tool == VT_SEARCH) {
        hits = ago >= 2 && st->nhits > 1 ? 1 : st->nhits;
        if (st->nhits == 0)
            add_marker(b, "no hits", SEG_TITLE, ago, 0);
        for (int h = 0; h < hits; h++) {
            int used =
                add_text(b, st->hits[h].title, SEG_TITLE, ago, h + 1, PTR_NUM, TG_SEQ_HIT_MAX);

            add_text(b, st->hits[h].snippet, SEG_SNIPPET, ago, h + 1, PTR_NUM,
                     TG_SEQ_HIT_MAX - used);
        }
    } else if (st->tool == VT_CALC) {
        add_marker(b, "=", SEG_VALUE, ago, 0);
        add_number(b, st->value, SEG_VALUE, ago, PTR_NUM);
    } else if (st->tool == VT_CODE) {
        add_marker(b, "output", SEG_OUTPUT, ago, 0);
        add_text(b, st->out, SEG_OUTPUT, ago, 0, PTR_NUM, 8);
    }
}

static int is_obs_seg(int seg) {
    return seg == SEG_TITLE || seg == SEG_SNIPPET || seg == SEG_VALUE || seg == SEG_OUTPUT;
}

static int is_call_seg(int seg) {
    return seg == SEG_CALL_SEARCH || seg == SEG_CALL_CALC || seg == SEG_CALL_CODE;
}

/* tokens i and j read the same: the same word, or the same number */
static int same(const struct builder *b, int i, int j) {
    if (b->kind[i] == TOK_WORD)
        return b->kind[j] == TOK_WORD && b->whash[i] == b->whash[j];
    return b->kind[j] == TOK_NUM && seq_same_value(b->s->value[i], b->s->value[j]);
}

/* the surface features of every token (seq.h) */
static void features(struct builder *b) {
    struct seq *s = b->s;

    for (int i = 0; i < s->T; i++) {
        float *f = s->feat + (size_t)i * SEQ_FEAT;
        unsigned fl = b->tflags[i];
        int in_prompt = 0, in_obs = 0, in_call = 0;

        memset(f, 0, sizeof(float) * SEQ_FEAT);
        f[0] = (fl & TF_CAP) ? 1.0f : 0.0f;
        f[1] = (fl & TF_SENT) ? 1.0f : 0.0f;
        f[2] = (fl & TF_UPPER) ? 1.0f : 0.0f;
        if (b->kind[i] == TOK_NUM) {
            f[3] = (fl & TF_NEG) ? 1.0f : 0.0f;
            f[4] = (fl & TF_DEC) ? 1.0f : 0.0f;
            f[5] = (fl & TF_WORDS) ? 1.0f : 0.0f;
            f[6] = (float)fmin(2.0, log10(1.0 + fabs(s->value[i])) / 6.0);
        }
        if (b->kind[i] != TOK_WORD && b->kind[i] != TOK_NUM)
            continue;
        for (int j = 0; j < s->T; j++) {
            if (j == i || !same(b, i, j))
                continue;
            in_prompt |= s->seg[j] == SEG_PROMPT;
            in_obs |= is_obs_seg(s->seg[j]);
            in_call |= is_call_seg(s->seg[j]);
        }
        f[7] = (float)in_prompt;
        f[8] = (float)in_obs;
        f[9] = (float)in_call;
    }
}

void seq_build(struct seq *s, const struct view *v, const struct act_vocab *voc, uint32_t buckets,
               const struct lexicon *lex) {
    seq_build_dropout(s, v, voc, buckets, lex, 0.0, 0);
}

void seq_build_dropout(struct seq *s, const struct view *v, const struct act_vocab *voc,
                       uint32_t buckets, const struct lexicon *lex, double drop, uint64_t key) {
    struct builder b; /* about 3.5 KB */
    char name[32];

    memset(&b, 0, sizeof(b));
    s->T = 0;
    s->npieces = 0;
    s->ntext = 0;
    s->piece_off[0] = 0;
    b.s = s;
    b.buckets = buckets;
    b.lex = lex;
    b.drop = drop;
    b.drop_key = key;
    b.limit = (s->cap_T < TG_SEQ_MAX ? s->cap_T : TG_SEQ_MAX) - 1;
    add_text(&b, v->prompt, SEG_PROMPT, SEQ_AGO_NONE, 0, PTR_WORD | PTR_NUM, TG_SEQ_PROMPT_MAX);
    for (int k = 0; k < v->nstep; k++)
        add_step(&b, v, k, voc);
    b.limit++;
    add_marker(&b, "state", SEG_STATE, SEQ_AGO_NONE, 0);
    s->state = s->T - 1;
    /* the state token also carries the number of calls made (not the step limit: an agent
     * played with another limit must read the same) */
    snprintf(name, sizeof(name), "steps %d", v->nstep < 9 ? v->nstep : 9);
    s->pieces[s->npieces++] = text_marker_piece(name, buckets);
    s->piece_off[s->T] = s->npieces;
    features(&b);
}
