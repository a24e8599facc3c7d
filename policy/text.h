/*
 * text.h — how the policy reads text: a tokenizer that splits a prompt, a search snippet or a
 * tool's output into words, numbers and punctuation, reads numbers in any written format, and
 * names each token's hashed sub-word pieces (the rows of the embedding table it sums).
 *
 * Tokens:
 *   number  digits with optional thousands separators ("96,422") and a fraction ("17.5"), an
 *           optional sign when it is not glued to a word ("-5", "−5"; "x-25" reads 25), or
 *           number words ("eighteen", "thirty-seven", "two hundred and five", "3 million" is
 *           two tokens); value in .value
 *   word    a run of letters (ASCII, or any UTF-8 multi-byte character that is not one of the
 *           punctuation marks below)
 *   punct   any other single character (UTF-8 sequences whole: "—", "’", "−" alone)
 * Pieces (what a token's embedding is made of; every string is hashed with FNV-1a into one
 * of `buckets` rows, so a word never seen in training still gets a vector from its pieces):
 *   word    "w|<lowercase>", its character n-grams of length 3..5 of "<" lowercase ">", and
 *           its shape ("s|Xx": capitalised, "s|x": lowercase, "s|X": all capitals)
 *   number  "n|<format>" (digits, separators, decimal, words, negative), "m|<digits before
 *           the point>", and for number words "w|<lowercase>"
 *   punct   "p|<the character>"
 *   marker  "k|<name>" (the sequence builder's own tokens: segment starts, the state)
 * Nothing here knows what any word means: which words matter is learned.
 * Does not: allocate, or know about tasks and tools. Pure and thread-safe.
 */
#ifndef TG_TEXT_H
#define TG_TEXT_H

#include <stddef.h>
#include <stdint.h>

enum text_kind { TOK_WORD = 0, TOK_NUM = 1, TOK_PUNCT = 2, TOK_MARK = 3 };

/* token flags */
#define TF_CAP       0x01u /* starts with an ASCII capital */
#define TF_UPPER     0x02u /* two or more letters, all ASCII capitals */
#define TF_SENT      0x04u /* first token of a sentence (start, or after . ? ! or a newline) */
#define TF_SEP       0x08u /* number with thousands separators */
#define TF_DEC       0x10u /* number with a fraction */
#define TF_NEG       0x20u /* negative number */
#define TF_WORDS     0x40u /* number written in words */
#define TF_TRUNC     0x80u /* the lowercase form was cut to fit */
#define TEXT_LOW_MAX 32    /* bytes of a token's lowercase form, NUL included */

struct text_tok {
    int start, len;         /* bytes of the source text */
    int kind;               /* enum text_kind */
    unsigned flags;         /* TF_* */
    double value;           /* TOK_NUM: the number */
    char low[TEXT_LOW_MAX]; /* lowercase text (words, punct); numbers: as written, lowercase */
};

/*
 * text_tokenize — split s[0..n) into at most max tokens (out, caller-owned). Returns the
 * number written; text past the max-th token is dropped. Never fails.
 */
int text_tokenize(const char *s, size_t n, struct text_tok *out, int max);

/*
 * text_pieces — the hashed pieces of token t (as above) into ids[0..max), each in
 * [0, buckets). Returns how many (at least 1 when max >= 1). buckets >= 1.
 */
int text_pieces(const struct text_tok *t, uint32_t buckets, uint32_t *ids, int max);

/* text_marker_piece — the piece id of marker `name` ("k|name"). */
uint32_t text_marker_piece(const char *name, uint32_t buckets);

/*
 * text_format_number — v as an agent writes it: integers without a fraction ("1885",
 * "-12"), others with up to 12 significant digits ("40600.52"). Returns snprintf's count.
 */
int text_format_number(double v, char *buf, size_t n);

#endif
