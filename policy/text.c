/*
 * text.c — the policy's tokenizer, number reading and hashed pieces. See text.h.
 */
#include "policy/text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"

/* ---- characters --------------------------------------------------------------------------- */

static int is_digit(unsigned char c) {
    return c >= '0' && c <= '9';
}

static int is_alpha(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_space(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* bytes of the UTF-8 sequence starting at s[i] (1 for ASCII or a stray byte) */
static size_t utf8_len(const char *s, size_t i, size_t n) {
    unsigned char c = (unsigned char)s[i];
    size_t k = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;

    for (size_t j = 1; j < k; j++)
        if (i + j >= n || ((unsigned char)s[i + j] & 0xC0) != 0x80)
            return 1;
    return k;
}

/* a multi-byte character that is punctuation or a symbol rather than a letter: Latin-1
 * symbols (U+00A0..U+00BF, the no-break space included), general punctuation and currency
 * (U+2000..U+20CF), arrows and mathematical operators (U+2190..U+22FF) */
static int utf8_is_punct(const unsigned char *p, size_t k) {
    if (k == 2 && p[0] == 0xC2 && p[1] >= 0xA0)
        return 1;
    if (k == 2 && p[0] == 0xC3 && (p[1] == 0x97 || p[1] == 0xB7)) /* × ÷ */
        return 1;
    if (k == 3 && p[0] == 0xE2 && p[1] >= 0x80 && p[1] <= 0x83)
        return 1;
    if (k == 3 && p[0] == 0xE2 && p[1] >= 0x86 && p[1] <= 0x8B)
        return 1;
    return 0;
}

/* a letter of a word at s[i]: ASCII letter or a multi-byte letter; its byte length or 0 */
static size_t letter_at(const char *s, size_t i, size_t n) {
    unsigned char c = (unsigned char)s[i];
    size_t k;

    if (is_alpha(c))
        return 1;
    if (c < 0x80)
        return 0;
    k = utf8_len(s, i, n);
    if (k == 1 || utf8_is_punct((const unsigned char *)s + i, k))
        return 0;
    return k;
}

/* U+2212 MINUS SIGN at s[i] */
static int is_minus_sign(const char *s, size_t i, size_t n) {
    return i + 2 < n && (unsigned char)s[i] == 0xE2 && (unsigned char)s[i + 1] == 0x88 &&
           (unsigned char)s[i + 2] == 0x92;
}

/* U+00A0 NO-BREAK SPACE at s[i] */
static int is_nbsp(const char *s, size_t i, size_t n) {
    return i + 1 < n && (unsigned char)s[i] == 0xC2 && (unsigned char)s[i + 1] == 0xA0;
}

static void lower_copy(const char *s, size_t len, char *out) {
    size_t k = 0;

    for (size_t i = 0; i < len && k + 1 < TEXT_LOW_MAX; i++) {
        unsigned char c = (unsigned char)s[i];

        out[k++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    /* never cut a UTF-8 sequence in half */
    if (k < len && k > 0) {
        size_t j = k;

        while (j > 0 && ((unsigned char)out[j - 1] & 0xC0) == 0x80)
            j--;
        if (j > 0 && (unsigned char)out[j - 1] >= 0xC0)
            k = j - 1;
    }
    out[k] = '\0';
}

/* ---- numbers in digits -------------------------------------------------------------------- */

/* a number in digits at s[i] (the caller checked s[i] is a digit); its length, value, flags */
static size_t read_digits(const char *s, size_t i, size_t n, double *v, unsigned *flags) {
    char buf[64];
    size_t j = i, k = 0, lead;

    while (j < n && is_digit((unsigned char)s[j]))
        j++;
    lead = j - i;
    for (size_t q = i; q < j && k + 1 < sizeof(buf); q++)
        buf[k++] = s[q];
    /* thousands groups: ",ddd" after a first group of 1..3 digits, not followed by a digit */
    while (lead <= 3 && j + 3 < n && s[j] == ',' && is_digit((unsigned char)s[j + 1]) &&
           is_digit((unsigned char)s[j + 2]) && is_digit((unsigned char)s[j + 3]) &&
           (j + 4 >= n || !is_digit((unsigned char)s[j + 4]))) {
        for (size_t q = j + 1; q < j + 4 && k + 1 < sizeof(buf); q++)
            buf[k++] = s[q];
        j += 4;
        *flags |= TF_SEP;
    }
    if (j + 1 < n && s[j] == '.' && is_digit((unsigned char)s[j + 1])) {
        buf[k < sizeof(buf) - 1 ? k++ : k] = '.';
        j++;
        while (j < n && is_digit((unsigned char)s[j])) {
            if (k + 1 < sizeof(buf))
                buf[k++] = s[j];
            j++;
        }
        *flags |= TF_DEC;
    }
    buf[k] = '\0';
    *v = strtod(buf, NULL);
    return j - i;
}

/* ---- numbers in words --------------------------------------------------------------------- */

static const char *const units[] = {"zero",    "one",     "two",       "three",    "four",
                                    "five",    "six",     "seven",     "eight",    "nine",
                                    "ten",     "eleven",  "twelve",    "thirteen", "fourteen",
                                    "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"};
static const char *const tens[] = {"twenty", "thirty",  "forty",  "fifty",
                                   "sixty",  "seventy", "eighty", "ninety"};

enum { NW_NONE = 0, NW_UNIT, NW_TEN, NW_HUNDRED, NW_SCALE, NW_AND };

/* the number word s[0..len) (any case): its class and value */
static int number_word(const char *s, size_t len, double *v) {
    char w[16];

    if (len == 0 || len >= sizeof(w))
        return NW_NONE;
    for (size_t i = 0; i < len; i++)
        w[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] - 'A' + 'a' : s[i]);
    w[len] = '\0';
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcmp(w, units[i]) == 0) {
            *v = (double)i;
            return NW_UNIT;
        }
    for (size_t i = 0; i < sizeof(tens) / sizeof(tens[0]); i++)
        if (strcmp(w, tens[i]) == 0) {
            *v = 20.0 + 10.0 * (double)i;
            return NW_TEN;
        }
    if (strcmp(w, "hundred") == 0) {
        *v = 100;
        return NW_HUNDRED;
    }
    if (strcmp(w, "thousand") == 0) {
        *v = 1e3;
        return NW_SCALE;
    }
    if (strcmp(w, "million") == 0) {
        *v = 1e6;
        return NW_SCALE;
    }
    if (strcmp(w, "and") == 0)
        return NW_AND;
    return NW_NONE;
}

/* the ASCII word starting at s[i]: its length (letters only) */
static size_t ascii_word(const char *s, size_t i, size_t n) {
    size_t j = i;

    while (j < n && is_alpha((unsigned char)s[j]))
        j++;
    return j - i;
}

/*
 * A number written in words starting at s[i] (a unit or a ten): consume words joined by
 * spaces or hyphens while they continue the number ("thirty-seven", "two hundred and five",
 * "four thousand six hundred"). Returns the bytes consumed (0: not a number) and the value.
 */
static size_t read_number_words(const char *s, size_t i, size_t n, double *out) {
    double total = 0, cur = 0, v;
    size_t j = i, end = i;
    int last = NW_NONE, any = 0;

    for (;;) {
        size_t len = ascii_word(s, j, n), next;
        int c;

        if (len == 0 || (j + len < n && letter_at(s, j + len, n)))
            break;
        c = number_word(s + j, len, &v);
        if (c == NW_AND) {
            /* "and" only between a hundred/thousand and the rest of the number */
            size_t k = j + len, l2;
            double v2;

            if (!(last == NW_HUNDRED || last == NW_SCALE) || k >= n || s[k] != ' ')
                break;
            l2 = ascii_word(s, k + 1, n);
            c = number_word(s + k + 1, l2, &v2);
            if (c != NW_UNIT && c != NW_TEN)
                break;
            j = k + 1;
            continue;
        }
        if (c == NW_NONE)
            break;
        if (c == NW_UNIT && (last == NW_UNIT || (last == NW_TEN && v >= 10)))
            break;
        if (c == NW_TEN && (last == NW_UNIT || last == NW_TEN))
            break;
        if ((c == NW_HUNDRED || c == NW_SCALE) && !any)
            break;
        if (c == NW_HUNDRED && (last != NW_UNIT || cur >= 10))
            break;
        if (c == NW_UNIT || c == NW_TEN) {
            cur += v;
        } else if (c == NW_HUNDRED) {
            cur *= 100;
        } else {
            if (last == NW_SCALE)
                break;
            total += cur * v;
            cur = 0;
        }
        any = 1;
        last = c;
        end = j + len;
        next = end;
        if (next < n && (s[next] == ' ' || s[next] == '-') && next + 1 < n &&
            is_alpha((unsigned char)s[next + 1]))
            j = next + 1;
        else
            break;
    }
    if (!any)
        return 0;
    *out = total + cur;
    return end - i;
}

/* ---- tokenizer ---------------------------------------------------------------------------- */

static void tok_set(struct text_tok *t, const char *s, size_t start, size_t len, int kind,
                    unsigned flags) {
    memset(t, 0, sizeof(*t));
    t->start = (int)start;
    t->len = (int)len;
    t->kind = kind;
    t->flags = flags;
    lower_copy(s + start, len, t->low);
    if (len >= TEXT_LOW_MAX)
        t->flags |= TF_TRUNC;
}

int text_tokenize(const char *s, size_t n, struct text_tok *out, int max) {
    size_t i = 0;
    int nt = 0, sent = 1;

    while (i < n && nt < max) {
        unsigned char c = (unsigned char)s[i];
        struct text_tok *t = &out[nt];
        unsigned fl = sent ? TF_SENT : 0;
        size_t k;
        double v;

        if (is_space(c) || is_nbsp(s, i, n)) {
            if (c == '\n')
                sent = 1;
            i += is_nbsp(s, i, n) ? 2 : 1;
            continue;
        }
        /* a sign not glued to a word: "-5", "−5", "(-5" but not "x-25" or "2-3" */
        if ((c == '-' || is_minus_sign(s, i, n)) &&
            (i == 0 || !(is_digit((unsigned char)s[i - 1]) || letter_at(s, i - 1, n) ||
                         ((unsigned char)s[i - 1] & 0xC0) == 0x80))) {
            size_t sl = c == '-' ? 1 : 3;

            if (i + sl < n && is_digit((unsigned char)s[i + sl])) {
                k = read_digits(s, i + sl, n, &v, &fl);
                tok_set(t, s, i, sl + k, TOK_NUM, fl | TF_NEG);
                t->value = -v;
                nt++;
                sent = 0;
                i += sl + k;
                continue;
            }
        }
        if (is_digit(c)) {
            k = read_digits(s, i, n, &v, &fl);
            tok_set(t, s, i, k, TOK_NUM, fl);
            t->value = v;
            nt++;
            sent = 0;
            i += k;
            continue;
        }
        if (letter_at(s, i, n)) {
            size_t j = i, l;

            k = read_number_words(s, i, n, &v);
            if (k > 0) {
                tok_set(t, s, i, k, TOK_NUM, fl | TF_WORDS | (c >= 'A' && c <= 'Z' ? TF_CAP : 0));
                t->value = v;
                nt++;
                sent = 0;
                i += k;
                continue;
            }
            while (j < n && (l = letter_at(s, j, n)) > 0)
                j += l;
            if (c >= 'A' && c <= 'Z') {
                int upper = 0, letters = 0;

                fl |= TF_CAP;
                for (size_t q = i; q < j; q++)
                    if (is_alpha((unsigned char)s[q])) {
                        letters++;
                        upper += s[q] >= 'A' && s[q] <= 'Z';
                    }
                if (letters >= 2 && upper == letters)
                    fl |= TF_UPPER;
            }
            tok_set(t, s, i, j - i, TOK_WORD, fl);
            nt++;
            sent = 0;
            i = j;
            continue;
        }
        k = c < 0x80 ? 1 : utf8_len(s, i, n);
        tok_set(t, s, i, k, TOK_PUNCT, fl);
        nt++;
        sent = c == '.' || c == '?' || c == '!';
        i += k;
    }
    return nt;
}

/* ---- pieces ------------------------------------------------------------------------------- */

static uint32_t piece_id(const char *a, size_t alen, const char *b, size_t blen, uint32_t buckets) {
    uint32_t h = hash_fnv32(HASH_FNV32_BASIS, a, alen);

    h = hash_fnv32(h, b, blen);
    return h % buckets;
}

uint32_t text_marker_piece(const char *name, uint32_t buckets) {
    return piece_id("k|", 2, name, strlen(name), buckets);
}

int text_pieces(const struct text_tok *t, uint32_t buckets, uint32_t *ids, int max) {
    int k = 0;
    size_t len = strlen(t->low);

    if (max < 1)
        return 0;
    if (t->kind == TOK_MARK) {
        ids[k++] = piece_id("k|", 2, t->low, len, buckets);
        return k;
    }
    if (t->kind == TOK_PUNCT) {
        ids[k++] = piece_id("p|", 2, t->low, len, buckets);
        return k;
    }
    if (t->kind == TOK_NUM) {
        char fmt[24], mag[16];
        double a = fabs(t->value);
        int digits = 1;

        snprintf(fmt, sizeof(fmt), "%s%s%s%s", t->flags & TF_NEG ? "-" : "",
                 t->flags & TF_WORDS ? "words" : "d", t->flags & TF_SEP ? ",d" : "",
                 t->flags & TF_DEC ? ".d" : "");
        while (a >= 10 && digits < 16) {
            a /= 10;
            digits++;
        }
        snprintf(mag, sizeof(mag), "%d", digits);
        ids[k++] = piece_id("n|", 2, fmt, strlen(fmt), buckets);
        if (k < max)
            ids[k++] = piece_id("m|", 2, mag, strlen(mag), buckets);
        if (k < max && (t->flags & TF_WORDS))
            ids[k++] = piece_id("w|", 2, t->low, len, buckets);
        return k;
    }
    /* a word: itself, its shape, its character n-grams */
    ids[k++] = piece_id("w|", 2, t->low, len, buckets);
    if (k < max) {
        const char *shape = t->flags & TF_UPPER ? "X" : t->flags & TF_CAP ? "Xx" : "x";

        ids[k++] = piece_id("s|", 2, shape, strlen(shape), buckets);
    }
    {
        char b[TEXT_LOW_MAX + 2];
        size_t bl;

        b[0] = '<';
        memcpy(b + 1, t->low, len);
        b[len + 1] = '>';
        bl = len + 2;
        for (size_t g = 3; g <= 5; g++)
            for (size_t i = 0; i + g <= bl && k < max; i++)
                ids[k++] = piece_id("g|", 2, b + i, g, buckets);
    }
    return k;
}

int text_format_number(double v, char *buf, size_t n) {
    if (v == floor(v) && fabs(v) < 1e15)
        return snprintf(buf, n, "%.0f", v == 0 ? 0.0 : v);
    return snprintf(buf, n, "%.12g", v);
}
