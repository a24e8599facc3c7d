/*
 * features.c — hashed crosses and dense features of (state, candidate). See features.h.
 */
#include "policy/features.h"

#include <math.h>
#include <string.h>

#include "base/hash.h"

/* what every candidate of one state shares */
struct feat_ctx {
    int calls[CAND_KINDS];
    int last_failed;
    int last_kind; /* -1 at the start */
    int all_ents_searched;
    int unsearched; /* entities no query has named yet */
    int nclasses;
    int story;      /* every entity is named at least twice: people in a story, not topics */
    int small_nums; /* two or more prompt numbers, all integers below 100 */
    unsigned all_mask;
};

static void ctx_init(const struct cand_state *s, struct feat_ctx *x) {
    memset(x, 0, sizeof(*x));
    x->last_kind = -1;
    for (int k = 0; k < s->nstep; k++) {
        if (s->steps[k].kind < CAND_ANSWER)
            x->calls[s->steps[k].kind]++;
        x->last_kind = s->steps[k].kind;
        x->last_failed = !s->steps[k].ok;
    }
    x->all_ents_searched = s->nent > 0;
    for (int e = 0; e < s->nent; e++) {
        int found = 0;

        for (int k = 0; k < s->nstep; k++)
            if (s->steps[k].kind == CAND_SEARCH && strstr(s->steps[k].text, s->ent[e]))
                found = 1;
        x->all_ents_searched &= found;
        x->unsearched += !found;
    }
    for (int op = OP_ADD; op < OP_COUNT; op++)
        x->nclasses += s->opclass[op] > 0;
    x->story = s->nent > 0;
    for (int e = 0; e < s->nent; e++) {
        const char *p = strstr(s->prompt, s->ent[e]);

        x->story &= p && strstr(p + 1, s->ent[e]) != NULL;
        if (e < 32)
            x->all_mask |= 1u << e;
    }
    x->small_nums = s->nnum >= 2;
    for (int i = 0; i < s->nnum; i++)
        x->small_nums &= s->num[i].v == floor(s->num[i].v) && fabs(s->num[i].v) < 100;
}

static int popcount(unsigned m) {
    int n = 0;

    for (; m; m &= m - 1)
        n++;
    return n;
}

static float clampf(float v, float hi) {
    return v > hi ? hi : v;
}

static void compute(const struct cand_state *s, const struct feat_ctx *x, const struct cand *c,
                    float *out) {
    float *h = out, *d = out + FEAT_HASH;
    /* a run_code template's identity is left out of the crosses: which program fits must be read
       from the prompt's description words (dense), which carry over to unseen phrasings */
    unsigned a = hash_fnv32_u32(hash_fnv32_u32(hash_fnv32_u32(HASH_FNV32_BASIS, c->kind),
                                               c->kind == CAND_CODE ? -1 : c->variant),
                                c->op);
    int i = 0;

    memset(out, 0, FEAT_DIM * sizeof(float));
    /* hashed crosses with the action type. No crosses with the prompt's own words: they let the
       policy memorise the train phrasings (test accuracy swung 70-93 % across seeds); only
       phrasing-independent facts (word classes, the attribute word a query adds, step, last
       outcome) are hashed. */
    for (int op = OP_ADD; op < OP_COUNT; op++)
        if (s->opclass[op])
            h[hash_fnv32_u32(hash_fnv32_str(a, "#class"), op) % FEAT_HASH] += 1.0f;
    h[hash_fnv32_u32(hash_fnv32_str(a, "#step"), s->nstep < 4 ? s->nstep : 4) % FEAT_HASH] += 1.0f;
    if (c->word >= 0 && c->word < s->nword) /* which attribute word a query adds */
        h[hash_fnv32_str(hash_fnv32_str(a, "#word"), s->word[c->word]) % FEAT_HASH] += 1.0f;
    h[hash_fnv32_u32(hash_fnv32_u32(hash_fnv32_str(a, "#last"), x->last_kind), x->last_failed) %
      FEAT_HASH] += 1.0f;

    /* dense */
    d[i++] = 1.0f;
    for (int k = 0; k < CAND_KINDS; k++)
        d[i++] = c->kind == k;
    d[i++] = s->max_steps > 0 ? (float)s->nstep / (float)s->max_steps : 0.0f;
    d[i++] = s->nstep == 0;
    for (int k = 0; k < CAND_ANSWER; k++)
        d[i++] = clampf((float)x->calls[k], 3.0f) / 3.0f;
    d[i++] = c->kind != CAND_ANSWER && x->calls[c->kind] > 0; /* this tool was used */
    d[i++] = c->dup;
    d[i++] = x->last_failed;
    d[i++] = x->all_ents_searched;
    d[i++] = clampf((float)s->nnum, 4.0f) / 4.0f;
    d[i++] = s->nent > 0;
    d[i++] = s->expr[0] != '\0';
    d[i++] =
        (c->nops >= 1 && c->src[0] != NSRC_PROMPT) || (c->nops >= 2 && c->src[1] != NSRC_PROMPT);
    d[i++] = c->nops >= 2 && c->src[0] != NSRC_PROMPT && c->src[1] != NSRC_PROMPT;
    d[i++] = c->from_latest;
    d[i++] = c->overlap;
    d[i++] = c->title_hit;
    d[i++] = c->result_int;
    d[i++] = c->result_neg;
    d[i++] = c->larger_first;
    d[i++] = c->is_year;
    d[i++] = c->ent_searched;
    d[i++] = c->kind == CAND_SEARCH && c->nwords == 1;
    d[i++] = c->kind == CAND_SEARCH && c->nwords > 1;
    d[i++] = c->ent >= 0;
    d[i++] = c->ent >= 0 && s->ent_first[c->ent];
    d[i++] = c->op != OP_NONE && s->opclass[c->op] > 0; /* operator agrees with the wording */
    d[i++] = x->nclasses > 0;
    for (int v = CV_A_SNIPPET; v <= CV_A_MENTAL; v++)
        d[i++] = c->kind == CAND_ANSWER && c->variant == v;
    d[i++] = c->kind == CAND_CALC && c->variant == CV_C_PROMPT_EXPR;
    d[i++] = c->kind == CAND_CALC && c->variant == CV_C_MEAN;
    d[i++] = c->kind == CAND_CODE && c->arg_largest;
    d[i++] = c->kind == CAND_CODE && c->larger_first;
    d[i++] = s->max_steps - s->nstep <= 1;
    d[i++] = x->last_kind == CAND_SEARCH && !x->last_failed;
    d[i++] = x->last_kind == CAND_CALC && !x->last_failed;
    d[i++] = x->last_kind == CAND_CODE && !x->last_failed;
    d[i++] = c->kind == CAND_SEARCH && c->variant == CV_S_PROMPT;
    d[i++] = c->kind == CAND_SEARCH && c->variant == CV_S_WORDS;
    d[i++] = c->nops >= 2 && c->src[0] == NSRC_PROMPT && c->src[1] == NSRC_PROMPT;
    d[i++] = c->kind == CAND_CODE && c->described;
    d[i++] = s->nent >= 2;
    d[i++] = (float)x->unsearched / 2.0f;
    d[i++] = c->order_known;
    d[i++] = c->order_known && c->sem_order;
    /* entity coverage of a number: the facts of all / some of the prompt's entities */
    d[i++] = s->nent > 0 && (c->emask & x->all_mask) == x->all_mask;
    d[i++] = s->nent > 0 ? (float)popcount(c->emask & x->all_mask) / (float)s->nent : 0.0f;
    d[i++] = c->kind == CAND_ANSWER && x->unsearched > 0;
    d[i++] = c->kind == CAND_SEARCH && c->ent >= 0 && !c->ent_searched;
    d[i++] = x->story;
    d[i++] = x->story && c->kind == CAND_SEARCH;
    d[i++] = x->small_nums;
    d[i++] = x->small_nums && c->kind == CAND_ANSWER && c->variant == CV_A_MENTAL;
    d[i++] = c->kind == CAND_CODE && c->described && c->arg_largest;
    d[i++] = c->nops >= 2 ? c->min_overlap : 0.0f;
    TG_ASSERT(i <= FEAT_DENSE);
}

void feat_compute(const struct cand_state *s, const struct cand *c, float *x) {
    struct feat_ctx ctx;

    ctx_init(s, &ctx);
    compute(s, &ctx, c, x);
}

void feat_compute_all(const struct cand_state *s, const struct cand_list *l, float *X) {
    struct feat_ctx ctx;

    ctx_init(s, &ctx);
    for (int i = 0; i < l->n; i++)
        compute(s, &ctx, &l->c[i], X + (size_t)i * FEAT_DIM);
}
