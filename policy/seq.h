/*
 * seq.h — the token sequence the policy reads at one step: the prompt, then each earlier call
 * and what the tool showed, then a state token whose encoding starts the action decoder.
 *
 * Layout (one segment kind per part, so the network knows what it reads):
 *   prompt tokens                                         SEG_PROMPT
 *   per earlier call, oldest first:
 *     [search] query tokens | [calculator] expression tokens | [run_code] [template k] arguments
 *                                                         SEG_CALL_SEARCH / _CALC / _CODE
 *     search: per hit (rank 1..3) its title and snippet    SEG_TITLE, SEG_SNIPPET
 *       (calls older than the last two keep their first hit only; a hit is cut at
 *       TG_SEQ_HIT_MAX tokens); no hit: [no hits]
 *     calculator: [=] value                                SEG_VALUE
 *     run_code: [output] its first line                    SEG_OUTPUT
 *     a failed call: [error] and the calculator's error code (a program's is left out: a
 *       timeout and a crash may trade places under load, and the view must not depend on
 *       timing)                                            SEG_ERROR
 *   [state] with the number of calls made                  SEG_STATE
 * Each token has its hashed pieces (text.h), its segment, its position in the segment (the
 * prompt's, a hit title's, a snippet's ...), how many calls ago it came (0 = the latest;
 * SEQ_AGO_NONE for the prompt and the state), its hit rank, a few surface
 * features (capitalised, sentence start, all capitals, number sign / decimal / words,
 * magnitude, "the same word or value also stands in the prompt / an observation / one of
 * my calls"), whether an action may point at it (PTR_WORD: prompt words, for queries;
 * PTR_NUM: numbers of the prompt and of observations, for expressions, programs and
 * answers), its value (numbers), its text as written (for copying into a query) and its
 * match class: tokens that read the same (the same lowercase word, or the same number in any
 * format) share a non-zero class, so the network can relate a word of the prompt to the same
 * word in a query or an observation, however far apart (net.h).
 * Total length is bounded by TG_SEQ_MAX; what does not fit is left out, oldest first.
 * Does not: decide anything; know what any word means.
 * Thread-safety: caller-owned structs.
 */
#ifndef TG_SEQ_H
#define TG_SEQ_H

#include <stdint.h>

#include "base/limits.h"
#include "base/tg.h"
#include "policy/view.h"

struct act_vocab;
struct lexicon;

enum seq_seg {
    SEG_PROMPT = 0,
    SEG_CALL_SEARCH,
    SEG_CALL_CALC,
    SEG_CALL_CODE,
    SEG_TITLE,
    SEG_SNIPPET,
    SEG_VALUE,
    SEG_OUTPUT,
    SEG_ERROR,
    SEG_STATE,
    SEG_COUNT
};

#define SEQ_AGO      9 /* calls ago 0..7 (7: seven or more), 8: the prompt and the state */
#define SEQ_AGO_NONE 8
#define SEQ_RANK     4  /* hit rank: 0 none, 1..3 */
#define SEQ_POS      64 /* position within its segment: 0..63 (63: that far or farther) */
#define SEQ_FEAT     10

/* pointability */
#define PTR_WORD 0x01u /* a prompt word: may be copied into a search query */
#define PTR_NUM  0x02u /* a number of the prompt or an observation: an operand or an answer */

struct seq {
    int T;       /* tokens */
    int npieces; /* pieces in all */
    int state;   /* index of the state token (T - 1) */
    int cap_T, cap_pieces, cap_text;
    int *piece_off;   /* (T + 1): token t's pieces are pieces[piece_off[t] .. piece_off[t+1]) */
    uint32_t *pieces; /* (npieces) rows of the embedding table */
    unsigned char *seg, *ago, *rank, *ptr, *pos; /* (T) */
    float *feat;                                 /* (T, SEQ_FEAT) */
    double *value;                               /* (T) numbers: the value; others 0 */
    uint32_t *cls; /* (T) match class: equal for tokens that read the same; 0 for markers */
    int *text_off; /* (T) offset of the token's text in text, or -1 */
    char *text;    /* surface texts, NUL-terminated, of PTR_WORD tokens */
    int ntext;
    void *block; /* the one allocation behind the arrays */
};

/*
 * seq_alloc — room for cap_T tokens, cap_pieces pieces and cap_text bytes of text (0 for
 * each: the maximum a view can need). 0 or TG_ENOMEM with *err. seq_free frees it and
 * zeroes *s; it accepts a zeroed seq.
 */
int seq_alloc(struct seq *s, int cap_T, int cap_pieces, int cap_text, struct tg_error *err);
void seq_free(struct seq *s);

/*
 * seq_build — the sequence of view v into s (allocated with the maximum capacity), its
 * pieces hashed into `buckets` rows; voc (borrowed) names the template of a program call
 * (a program that fits no template shows as [template ?]); lex (borrowed, or NULL) adds each
 * word's WordNet concepts to its pieces (lexicon.h): its own, and those of a two-word entry
 * it is part of ("head count").
 */
void seq_build(struct seq *s, const struct view *v, const struct act_vocab *voc, uint32_t buckets,
               const struct lexicon *lex);

/*
 * seq_build_dropout — seq_build, where each word token that has WordNet concepts keeps, with
 * chance drop in [0, 1], only its shape and concept pieces (not its own word and character
 * n-grams): the warm-up's piece dropout (train_config.h). Which tokens is a function of key
 * and the token's index alone, so the same key gives the same sequence. drop 0 is seq_build.
 */
void seq_build_dropout(struct seq *s, const struct view *v, const struct act_vocab *voc,
                       uint32_t buckets, const struct lexicon *lex, double drop, uint64_t key);

/* seq_clone — a compact copy of src (capacity = what it uses) into dst. 0 or TG_ENOMEM. */
int seq_clone(struct seq *dst, const struct seq *src, struct tg_error *err);

/* seq_word — the text of token t as written (a PTR_WORD token), or "" */
const char *seq_word(const struct seq *s, int t);

/* seq_same_value — a and b are the same number (relative 1e-9) */
int seq_same_value(double a, double b);

#endif
