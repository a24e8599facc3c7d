/*
 * test_text.c — suite `text`: the policy's tokenizer reads numbers in every written format the
 * way a reader does (separators, decimals, signs not glued to words, number words up to the
 * millions), splits words and punctuation (UTF-8 whole), and gives every token hashed pieces,
 * so a word never seen still gets a vector that shares pieces with similar words.
 */
#include "tg_test.h"

#include <math.h>
#include <string.h>

#include "base/tg.h"
#include "policy/text.h"

static int tok(const char *s, struct text_tok *t, int max) {
    return text_tokenize(s, strlen(s), t, max);
}

/* the numbers of s, in order, into v; their count */
static int numbers(const char *s, double *v, int max) {
    struct text_tok t[64];
    int n = tok(s, t, 64), k = 0;

    for (int i = 0; i < n && k < max; i++)
        if (t[i].kind == TOK_NUM)
            v[k++] = t[i].value;
    return k;
}

TG_TEST(text, numbers_in_every_written_format) {
    static const struct {
        const char *text;
        int n;
        double v[5];
    } cases[] = {
        {"Add 98,045 to 21921.28.", 2, {98045, 21921.28}},
        {"1,845,457 people", 1, {1845457}},
        {"1,2 and 1,23 are lists", 4, {1, 2, 1, 23}},
        {"What's -12 plus 30?", 2, {-12, 30}},
        {"a \xe2\x88\x92"
         "5 minus sign",
         1,
         {-5}},
        {"x-25 reads 25", 2, {25, 25}},
        {"10-3", 2, {10, 3}},
        {"2*-3", 2, {2, -3}},
        {"eighteen halved", 1, {18}},
        {"Eighteen", 1, {18}},
        {"thirty-seven and twenty one", 2, {37, 21}},
        {"two hundred and five books", 1, {205}},
        {"four thousand six hundred twelve", 1, {4612}},
        {"3 million", 1, {3}},
        {"one two", 2, {1, 2}},
        {"nineteen hundred", 1, {19}},
        {"someone oneself", 0, {0}},
        {"2^190 at 4:24 on the 10th", 5, {2, 190, 4, 24, 10}},
        {"$29.93 and 0.5", 2, {29.93, 0.5}},
    };

    for (size_t i = 0; i < TG_ARRAY_LEN(cases); i++) {
        double v[8];
        int n = numbers(cases[i].text, v, 8);

        if (n != cases[i].n)
            fprintf(stderr, "\n  '%s': %d numbers, want %d\n", cases[i].text, n, cases[i].n);
        CU_ASSERT_EQUAL(n, cases[i].n);
        for (int k = 0; k < n && k < cases[i].n; k++) {
            if (fabs(v[k] - cases[i].v[k]) > 1e-9)
                fprintf(stderr, "\n  '%s': number %d is %g, want %g\n", cases[i].text, k, v[k],
                        cases[i].v[k]);
            CU_ASSERT_DOUBLE_EQUAL(v[k], cases[i].v[k], 1e-9);
        }
    }
}

TG_TEST(text, number_flags_say_how_it_was_written) {
    struct text_tok t[16];
    int n = tok("96,422 and 17.5 and -4 and eighteen", t, 16);

    CU_ASSERT_EQUAL_FATAL(n, 7);
    CU_ASSERT(t[0].flags & TF_SEP);
    CU_ASSERT(t[2].flags & TF_DEC);
    CU_ASSERT(t[4].flags & TF_NEG);
    CU_ASSERT(t[6].flags & TF_WORDS);
    CU_ASSERT_FALSE(t[0].flags & (TF_DEC | TF_NEG | TF_WORDS));
}

TG_TEST(text, words_punctuation_and_sentences) {
    struct text_tok t[32];
    int n = tok("Hi! What is Lunselcai's area? NASA \xe2\x80\x94 Tom\xc3\xa1s.", t, 32);
    const char *want[] = {"hi",   "!", "what", "is",           "lunselcai",    "'", "s",
                          "area", "?", "nasa", "\xe2\x80\x94", "tom\xc3\xa1s", "."};

    CU_ASSERT_EQUAL_FATAL(n, (int)TG_ARRAY_LEN(want));
    for (int i = 0; i < n; i++)
        CU_ASSERT_STRING_EQUAL(t[i].low, want[i]);
    CU_ASSERT(t[0].flags & TF_SENT);
    CU_ASSERT(t[2].flags & TF_SENT); /* after "!" */
    CU_ASSERT_FALSE(t[3].flags & TF_SENT);
    CU_ASSERT(t[4].flags & TF_CAP);
    CU_ASSERT_FALSE(t[4].flags & TF_UPPER);
    CU_ASSERT(t[9].flags & TF_UPPER);
    CU_ASSERT_EQUAL(t[10].kind, TOK_PUNCT); /* an em dash is punctuation */
    CU_ASSERT_EQUAL(t[11].kind, TOK_WORD);  /* an accented letter is part of a word */
    CU_ASSERT_EQUAL(t[1].kind, TOK_PUNCT);
    /* positions point back into the text */
    CU_ASSERT_EQUAL(t[4].start, 12);
    CU_ASSERT_EQUAL(t[4].len, 9);
}

TG_TEST(text, tokenizing_is_bounded) {
    struct text_tok t[4];
    char big[5000];

    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    CU_ASSERT_EQUAL(tok("a b c d e f g", t, 4), 4);
    CU_ASSERT_EQUAL(tok(big, t, 4), 1);
    CU_ASSERT(t[0].flags & TF_TRUNC);
    CU_ASSERT(strlen(t[0].low) < TEXT_LOW_MAX);
    CU_ASSERT_EQUAL(tok("", t, 4), 0);
    /* a stray continuation byte and a cut UTF-8 sequence are read, not overrun */
    CU_ASSERT(tok("\x80\xe2\x80", t, 4) >= 1);
}

/* pieces of the first token of s */
static int pieces(const char *s, uint32_t *ids) {
    struct text_tok t[4];

    CU_ASSERT_FATAL(tok(s, t, 4) >= 1);
    return text_pieces(&t[0], 1u << 20, ids, 64);
}

static int shared(const uint32_t *a, int na, const uint32_t *b, int nb) {
    int k = 0;

    for (int i = 0; i < na; i++)
        for (int j = 0; j < nb; j++)
            if (a[i] == b[j]) {
                k++;
                break;
            }
    return k;
}

TG_TEST(text, unseen_words_share_pieces_with_similar_ones) {
    uint32_t a[64], b[64], c[64];
    int na = pieces("population", a), nb = pieces("populous", b), nc = pieces("turnover", c);

    /* the word itself, its shape and character 3- to 5-grams of "<population>" */
    CU_ASSERT_EQUAL(na, 2 + 10 + 9 + 8);
    CU_ASSERT(shared(a, na, b, nb) >= 8); /* <po pop opu pul ... and the shape */
    CU_ASSERT(shared(a, na, c, nc) <= 2);
    /* the same text always hashes the same, and every id is in range */
    {
        uint32_t a2[64];

        CU_ASSERT_EQUAL(pieces("population", a2), na);
        CU_ASSERT(memcmp(a, a2, sizeof(uint32_t) * (size_t)na) == 0);
        for (int i = 0; i < na; i++)
            CU_ASSERT(a[i] < (1u << 20));
    }
    /* numbers: format and magnitude, not digits (48211 and 50000 read alike) */
    {
        uint32_t x[8], y[8], z[8];
        int nx = pieces("48211", x), ny = pieces("50000", y), nz = pieces("48,211", z);

        CU_ASSERT_EQUAL(nx, 2);
        CU_ASSERT(nx == ny && memcmp(x, y, sizeof(uint32_t) * 2) == 0);
        CU_ASSERT(shared(x, nx, z, nz) == 1); /* same magnitude, other format */
    }
    /* markers and punctuation have one piece each */
    {
        struct text_tok m;

        memset(&m, 0, sizeof(m));
        m.kind = TOK_MARK;
        snprintf(m.low, sizeof(m.low), "state");
        CU_ASSERT_EQUAL(text_pieces(&m, 4096, a, 64), 1);
        CU_ASSERT_EQUAL(a[0], text_marker_piece("state", 4096));
        CU_ASSERT_EQUAL(pieces("?", a), 1);
    }
}

TG_TEST(text, numbers_written_as_an_agent_writes_them) {
    char b[48];

    text_format_number(1885, b, sizeof(b));
    CU_ASSERT_STRING_EQUAL(b, "1885");
    text_format_number(-12, b, sizeof(b));
    CU_ASSERT_STRING_EQUAL(b, "-12");
    text_format_number(40600.52, b, sizeof(b));
    CU_ASSERT_STRING_EQUAL(b, "40600.52");
    text_format_number(-0.0, b, sizeof(b));
    CU_ASSERT_STRING_EQUAL(b, "0");
    text_format_number(1.0 / 3, b, sizeof(b));
    CU_ASSERT_STRING_EQUAL(b, "0.333333333333");
}
