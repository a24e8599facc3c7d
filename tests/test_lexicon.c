/*
 * test_lexicon.c — WordNet read from a small folder in WordNet's own format (so each
 * behaviour is checked on lines whose meaning the test states), the morphology, the errors
 * of a missing or malformed file, and the pieces seq_build adds from it. The last test reads
 * the machine's WordNet (scripts/deps.sh installs wordnet-base).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/lexicon.h"
#include "policy/seq.h"
#include "policy/text.h"
#include "policy/view.h"
#include "tg_test.h"

static char dir[64];

static void put(const char *name, const char *text) {
    char path[128];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs(text, f);
    fclose(f);
}

/* index lines: lemma pos synset_cnt p_cnt [ptr]* sense_cnt tagsense_cnt offsets */
static void make_wordnet(void) {
    snprintf(dir, sizeof(dir), "/tmp/tg_lexicon_XXXXXX");
    CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
    put("index.noun", "  1 This software and database is being provided to you, the LICENSEE\n"
                      "altitude n 2 1 @ 2 1 00000100 00000200  \n"
                      "height n 3 2 @ ~ 3 2 00000300 00000400 00000200  \n"
                      "city n 1 1 @ 1 1 00000500  \n"
                      "head_count n 1 1 @ 1 0 00000600  \n"
                      "many n 12 0 12 0 1 2 3 4 5 6 7 8 9 10 11 12  \n");
    put("index.verb", "found v 2 1 @ 2 2 00000700 00000800  \n"
                      "establish v 1 1 @ 1 1 00000700  \n"
                      "go v 1 1 @ 1 1 00000900  \n");
    put("index.adj", "tall a 1 1 & 1 1 00001000  \n");
    put("index.adv", "");
    put("noun.exc", "");
    put("verb.exc", "went go\n");
    put("adj.exc", "");
    put("adv.exc", "");
}

static void remove_dir(void) {
    test_remove_dir(dir);
}

/* concepts of w, as "offset+pos" values; n out */
static int concepts(const struct lexicon *lx, const char *w, uint32_t *ids) {
    return lexicon_concepts(lx, w, ids, LEXICON_MAX);
}

static int has(const uint32_t *ids, int n, uint32_t c) {
    for (int i = 0; i < n; i++)
        if (ids[i] == c)
            return 1;
    return 0;
}

#define NOUN(off) ((uint32_t)(off)*4u + 0u)
#define VERB(off) ((uint32_t)(off)*4u + 1u)
#define ADJ(off)  ((uint32_t)(off)*4u + 2u)

TG_TEST(lexicon, words_share_the_synsets_wordnet_gives_them) {
    struct lexicon *lx;
    struct tg_error err;
    uint32_t a[LEXICON_MAX], b[LEXICON_MAX];
    int na, nb;

    make_wordnet();
    CU_ASSERT_FATAL(lexicon_load(dir, &lx, &err) == 0);
    na = concepts(lx, "altitude", a);
    nb = concepts(lx, "height", b);
    CU_ASSERT_EQUAL(na, 2);
    CU_ASSERT_EQUAL(nb, 3);
    CU_ASSERT(has(a, na, NOUN(200)) && has(b, nb, NOUN(200))); /* the shared sense */
    CU_ASSERT(!has(a, na, NOUN(300)));
    CU_ASSERT_EQUAL(a[0], NOUN(100)); /* sense order kept */
    /* a word WordNet does not know, or too long to look up */
    CU_ASSERT_EQUAL(concepts(lx, "zorblat", a), 0);
    CU_ASSERT_EQUAL(concepts(lx, "", a), 0);
    CU_ASSERT_EQUAL(
        concepts(lx, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", a),
        0);
    /* at most LEXICON_SENSES senses of one base form, and at most max in all */
    CU_ASSERT_EQUAL(concepts(lx, "many", a), LEXICON_SENSES);
    CU_ASSERT_EQUAL(lexicon_concepts(lx, "many", a, 3), 3);
    CU_ASSERT_EQUAL(a[2], NOUN(3));
    /* two-word entries are looked up joined by '_' */
    CU_ASSERT_EQUAL(concepts(lx, "head_count", a), 1);
    CU_ASSERT(lexicon_has(lx, "head_count") && !lexicon_has(lx, "head"));
    lexicon_free(lx);
    remove_dir();
}

TG_TEST(lexicon, inflected_words_find_their_base_forms) {
    struct lexicon *lx;
    struct tg_error err;
    uint32_t a[LEXICON_MAX];
    int n;

    make_wordnet();
    CU_ASSERT_FATAL(lexicon_load(dir, &lx, &err) == 0);
    /* detachment rules: verb -ed, noun -ies, adjective -er */
    n = concepts(lx, "founded", a);
    CU_ASSERT(n == 2 && has(a, n, VERB(700)) && has(a, n, VERB(800)));
    n = concepts(lx, "established", a);
    CU_ASSERT(n == 1 && has(a, n, VERB(700))); /* shares a sense with "founded" */
    n = concepts(lx, "cities", a);
    CU_ASSERT(n == 1 && has(a, n, NOUN(500)));
    n = concepts(lx, "taller", a);
    CU_ASSERT(n == 1 && has(a, n, ADJ(1000)));
    /* the exception list */
    n = concepts(lx, "went", a);
    CU_ASSERT(n == 1 && has(a, n, VERB(900)));
    /* a rule that leads nowhere adds nothing */
    CU_ASSERT_EQUAL(concepts(lx, "heights", a), 3);
    lexicon_free(lx);
    remove_dir();
}

TG_TEST(lexicon, missing_or_malformed_files_are_named) {
    struct lexicon *lx = (struct lexicon *)1;
    struct tg_error err;
    uint32_t f1, f2;

    make_wordnet();
    CU_ASSERT_FATAL(lexicon_load(dir, &lx, &err) == 0);
    f1 = lexicon_fingerprint(lx);
    CU_ASSERT(f1 != 0);
    lexicon_free(lx);
    /* another database, another fingerprint */
    put("adj.exc", "heavier heavy\n");
    CU_ASSERT_FATAL(lexicon_load(dir, &lx, &err) == 0);
    f2 = lexicon_fingerprint(lx);
    CU_ASSERT(f2 != f1);
    lexicon_free(lx);
    /* a line that is not WordNet's: the file and the line */
    put("index.verb", "found v 2 1 @ 2 2 00000700 00000800\ngo v x\n");
    CU_ASSERT_EQUAL(lexicon_load(dir, &lx, &err), TG_EINVAL);
    CU_ASSERT(lx == NULL);
    CU_ASSERT_STRING_EQUAL(err.code, TG_CODE_CONFIG);
    CU_ASSERT(strstr(err.message, "index.verb line 2") != NULL);
    put("index.verb", "found v 3 0 3 3 00000700 00000800\n"); /* fewer offsets than it says */
    CU_ASSERT_EQUAL(lexicon_load(dir, &lx, &err), TG_EINVAL);
    /* a missing file */
    put("index.verb", "");
    {
        char path[128];

        snprintf(path, sizeof(path), "%s/index.adv", dir);
        unlink(path);
    }
    CU_ASSERT_EQUAL(lexicon_load(dir, &lx, &err), TG_EIO);
    CU_ASSERT_STRING_EQUAL(err.code, TG_CODE_IO);
    CU_ASSERT(strstr(err.message, "index.adv") != NULL);
    CU_ASSERT_EQUAL(lexicon_load("/nonexistent/wordnet", &lx, &err), TG_EIO);
    remove_dir();
}

/* the pieces of token i of the prompt of s */
static int token_pieces(const struct seq *s, int i, const uint32_t **p) {
    *p = s->pieces + s->piece_off[i];
    return s->piece_off[i + 1] - s->piece_off[i];
}

static int pieces_shared(const struct seq *s, int i, int j) {
    const uint32_t *a, *b;
    int na = token_pieces(s, i, &a), nb = token_pieces(s, j, &b), k = 0;

    for (int x = 0; x < na; x++)
        for (int y = 0; y < nb; y++)
            k += a[x] == b[y];
    return k;
}

/* the fixture WordNet loaded into *lx, and v the view of the sentence whose tokens are
 * 0 altitude, 1 or, 2 height, 3 head, 4 count, 5 ? */
static void load_sentence(struct lexicon **lx, struct view *v) {
    struct tg_error err;

    make_wordnet();
    CU_ASSERT_FATAL(lexicon_load(dir, lx, &err) == 0);
    CU_ASSERT_FATAL(view_init(v, "altitude or height head count?", 4, &err) == 0);
}

TG_TEST(lexicon, the_sequence_gives_related_words_a_shared_piece) {
    struct lexicon *lx;
    struct tg_error err;
    struct view *v = malloc(sizeof(*v));
    struct seq with, without;
    int shape_and_grams;

    CU_ASSERT_FATAL(v != NULL);
    load_sentence(&lx, v);
    CU_ASSERT_FATAL(seq_alloc(&with, 0, 0, 0, &err) == 0);
    CU_ASSERT_FATAL(seq_alloc(&without, 0, 0, 0, &err) == 0);
    seq_build(&with, v, NULL, 1u << 20, lx);
    seq_build(&without, v, NULL, 1u << 20, NULL);
    /* without the lexicon the two words share what their spelling shares (the shape piece);
     * with it, one more: the shared sense */
    shape_and_grams = pieces_shared(&without, 0, 2);
    CU_ASSERT_EQUAL(pieces_shared(&with, 0, 2), shape_and_grams + 1);
    CU_ASSERT_EQUAL(with.piece_off[1] - with.piece_off[0],
                    without.piece_off[1] - without.piece_off[0] + 2);
    /* "head count" is an entry: both of its words carry its sense */
    CU_ASSERT_EQUAL(pieces_shared(&with, 3, 4), pieces_shared(&without, 3, 4) + 1);
    /* a word without an entry, and punctuation, are unchanged */
    CU_ASSERT_EQUAL(with.piece_off[2] - with.piece_off[1],
                    without.piece_off[2] - without.piece_off[1]);
    seq_free(&with);
    seq_free(&without);
    free(v);
    lexicon_free(lx);
    remove_dir();
}

/* the pieces of token t equal p[0..n) in order */
static int pieces_are(const struct seq *s, int t, const uint32_t *p, int n) {
    if (s->piece_off[t + 1] - s->piece_off[t] != n)
        return 0;
    return memcmp(s->pieces + s->piece_off[t], p, sizeof(uint32_t) * (size_t)n) == 0;
}

TG_TEST(lexicon, piece_dropout_leaves_a_word_its_shape_and_concepts) {
    struct lexicon *lx;
    struct tg_error err;
    struct view *v = malloc(sizeof(*v));
    struct seq plain, none, all, again, other;
    int dropped = 0, differ = 0;

    CU_ASSERT_FATAL(v != NULL);
    load_sentence(&lx, v);
    CU_ASSERT_FATAL(seq_alloc(&plain, 0, 0, 0, &err) == 0);
    CU_ASSERT_FATAL(seq_alloc(&none, 0, 0, 0, &err) == 0);
    CU_ASSERT_FATAL(seq_alloc(&all, 0, 0, 0, &err) == 0);
    CU_ASSERT_FATAL(seq_alloc(&again, 0, 0, 0, &err) == 0);
    CU_ASSERT_FATAL(seq_alloc(&other, 0, 0, 0, &err) == 0);
    seq_build(&plain, v, NULL, 1u << 20, lx);
    /* no dropout is seq_build */
    seq_build_dropout(&none, v, NULL, 1u << 20, lx, 0.0, 77);
    CU_ASSERT_EQUAL(none.npieces, plain.npieces);
    CU_ASSERT(memcmp(none.pieces, plain.pieces, sizeof(uint32_t) * (size_t)plain.npieces) == 0);
    /* certain dropout: every word with concepts keeps its shape (the second piece) and its
     * concepts (the last ones); "or" (no entry) and "?" keep everything */
    seq_build_dropout(&all, v, NULL, 1u << 20, lx, 1.0, 77);
    CU_ASSERT_EQUAL_FATAL(all.T, plain.T);
    for (int t = 0; t < plain.T; t++) {
        const uint32_t *p = plain.pieces + plain.piece_off[t];
        int n = plain.piece_off[t + 1] - plain.piece_off[t];
        int ncon = t == 0 ? 2 : t == 2 ? 3 : t == 3 || t == 4 ? 1 : 0;
        uint32_t want[TG_SEQ_PIECES_MAX];

        if (ncon == 0) {
            CU_ASSERT(pieces_are(&all, t, p, n));
            continue;
        }
        want[0] = p[1];
        memcpy(want + 1, p + n - ncon, sizeof(uint32_t) * (size_t)ncon);
        CU_ASSERT(pieces_are(&all, t, want, 1 + ncon));
    }
    /* the draw is the key's: the same key, the same sequence; over keys, some words drop */
    for (uint64_t key = 1; key <= 32; key++) {
        seq_build_dropout(&again, v, NULL, 1u << 20, lx, 0.5, key);
        seq_build_dropout(&other, v, NULL, 1u << 20, lx, 0.5, key);
        CU_ASSERT_EQUAL(again.npieces, other.npieces);
        CU_ASSERT(memcmp(again.pieces, other.pieces, sizeof(uint32_t) * (size_t)again.npieces) ==
                  0);
        dropped += again.npieces < plain.npieces;
        differ += again.npieces != all.npieces;
    }
    CU_ASSERT(dropped > 0 && dropped < 32);
    CU_ASSERT(differ > 0);
    seq_free(&plain);
    seq_free(&none);
    seq_free(&all);
    seq_free(&again);
    seq_free(&other);
    free(v);
    lexicon_free(lx);
    remove_dir();
}

TG_TEST(lexicon, the_machines_wordnet_reads_english) {
    struct tg_error err;
    const struct lexicon *lx = lexicon_default(&err);
    uint32_t a[LEXICON_MAX], b[LEXICON_MAX];
    int na, nb, shared = 0;

    if (!lx)
        fprintf(stderr, "\n  no WordNet: %s\n", err.message);
    CU_ASSERT_FATAL(lx != NULL); /* scripts/deps.sh installs wordnet-base */
    CU_ASSERT(lexicon_default(NULL) == lx);
    /* WordNet 3.0: "stature" and "height" share a synset, "established" and "founded" too */
    na = lexicon_concepts(lx, "stature", a, LEXICON_MAX);
    nb = lexicon_concepts(lx, "height", b, LEXICON_MAX);
    for (int i = 0; i < na; i++)
        shared += has(b, nb, a[i]);
    CU_ASSERT(shared >= 1);
    na = lexicon_concepts(lx, "established", a, LEXICON_MAX);
    nb = lexicon_concepts(lx, "founded", b, LEXICON_MAX);
    shared = 0;
    for (int i = 0; i < na; i++)
        shared += has(b, nb, a[i]);
    CU_ASSERT(shared >= 1);
    CU_ASSERT_EQUAL(lexicon_concepts(lx, "the", a, LEXICON_MAX), 0);
}
