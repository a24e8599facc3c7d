/*
 * test_search.c — the `search` suite: BM25 scores against hand-computed values, ranking, k
 * bounds, tokenizer, snippets, hostile queries, load errors, the tool entry point,
 * concurrent queries, and the shipped corpus answering "<title> <attribute>" queries.
 */
#include "tg_test.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/corpus.h"
#include "tools/search.h"

static struct search_index *load_tiny(void) {
    struct search_index *ix = NULL;
    struct tg_error err;
    int rc = search_index_load(tg_test_data("search_tiny.jsonl"), &ix, &err);

    CU_ASSERT_EQUAL_FATAL(rc, 0);
    return ix;
}

static int query(const struct search_index *ix, const char *q, size_t k, struct search_hit *h,
                 size_t *n, struct tg_error *err) {
    return search_query(ix, q, k, h, n, err);
}

/*
 * Tiny corpus (tests/data/search_tiny.jsonl); token stream = title twice + text, stopwords
 * ("a", "the") dropped:
 *   t1 Alpha "A red fox."           -> alpha alpha red fox          dl = 4
 *   t2 Beta  "Red, red dog!"        -> beta beta red red dog        dl = 5
 *   t3 Gamma "blue fox jumps"       -> gamma gamma blue fox jumps   dl = 5
 *   t4 Delta "The green tree"       -> delta delta green tree       dl = 4
 * N = 4, avgdl = 18 / 4 = 4.5.  K(dl) = k1 * (1 - b + b * dl / avgdl):
 *   K(4) = 1.2 * (0.25 + 0.75 * 4 / 4.5) = 1.2 * (0.25 + 0.6667) = 1.1
 *   K(5) = 1.2 * (0.25 + 0.75 * 5 / 4.5) = 1.2 * (0.25 + 0.8333) = 1.3
 * idf(df) = ln(1 + (N - df + 0.5) / (df + 0.5)):
 *   df = 2: ln(1 + 2.5 / 2.5) = ln 2;   df = 1: ln(1 + 3.5 / 1.5) = ln(10 / 3)
 * term score = idf * tf * 2.2 / (tf + K):
 *   "red"   t2: tf 2, K 1.3 -> ln2 * 4.4 / 3.3      t1: tf 1, K 1.1 -> ln2 * 2.2 / 2.1
 *   "fox"   t3: tf 1, K 1.3 -> ln2 * 2.2 / 2.3      t1: ln2 * 2.2 / 2.1
 *   "jumps" t3: ln(10/3) * 2.2 / 2.3
 *   "alpha" t1: tf 2 (title twice), K 1.1 -> ln(10/3) * 4.4 / 3.1
 */
TG_TEST(search, bm25_matches_hand_computation) {
    struct search_index *ix = load_tiny();
    struct search_hit h[TG_SEARCH_K_MAX];
    struct tg_error err;
    size_t n = 0;

    CU_ASSERT_EQUAL(search_index_docs(ix), 4);

    CU_ASSERT_EQUAL(query(ix, "red", 5, h, &n, &err), 0);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT_STRING_EQUAL(h[0].id, "t2");
    CU_ASSERT_STRING_EQUAL(h[0].title, "Beta");
    CU_ASSERT_DOUBLE_EQUAL(h[0].score, log(2.0) * 4.4 / 3.3, 1e-9);
    CU_ASSERT_STRING_EQUAL(h[1].id, "t1");
    CU_ASSERT_DOUBLE_EQUAL(h[1].score, log(2.0) * 2.2 / 2.1, 1e-9);

    CU_ASSERT_EQUAL(query(ix, "fox jumps", 5, h, &n, &err), 0);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT_STRING_EQUAL(h[0].id, "t3");
    CU_ASSERT_DOUBLE_EQUAL(h[0].score, log(2.0) * 2.2 / 2.3 + log(10.0 / 3.0) * 2.2 / 2.3, 1e-9);
    CU_ASSERT_STRING_EQUAL(h[1].id, "t1");
    CU_ASSERT_DOUBLE_EQUAL(h[1].score, log(2.0) * 2.2 / 2.1, 1e-9);

    /* case and repeats in the query do not matter; the title counts twice */
    CU_ASSERT_EQUAL(query(ix, "ALPHA alpha", 5, h, &n, &err), 0);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    CU_ASSERT_STRING_EQUAL(h[0].id, "t1");
    CU_ASSERT_DOUBLE_EQUAL(h[0].score, log(10.0 / 3.0) * 4.4 / 3.1, 1e-9);
    search_index_free(ix);
}

TG_TEST(search, ranking_and_k_bounds) {
    struct search_index *ix = load_tiny();
    struct search_hit h[TG_SEARCH_K_MAX];
    struct tg_error err;
    size_t n = 99;

    CU_ASSERT_EQUAL(query(ix, "red fox", 1, h, &n, &err), 0);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    /* t1 has both terms: ln2*2.2/2.1 * 2 = 1.452 > t2's 0.924 */
    CU_ASSERT_STRING_EQUAL(h[0].id, "t1");
    CU_ASSERT_EQUAL(query(ix, "red fox", TG_SEARCH_K_MAX, h, &n, &err), 0);
    CU_ASSERT_EQUAL_FATAL(n, 3);
    CU_ASSERT_STRING_EQUAL(h[1].id, "t2");
    CU_ASSERT_STRING_EQUAL(h[2].id, "t3");
    CU_ASSERT(h[0].score > h[1].score && h[1].score > h[2].score);

    CU_ASSERT_EQUAL(query(ix, "red", 0, h, &n, &err), TG_EINVAL);
    CU_ASSERT_STRING_EQUAL(err.code, "invalid_k");
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT_EQUAL(query(ix, "red", TG_SEARCH_K_MAX + 1, h, &n, &err), TG_EINVAL);

    /* words in no document: success with no hits */
    CU_ASSERT_EQUAL(query(ix, "zebra unicorn", 5, h, &n, &err), 0);
    CU_ASSERT_EQUAL(n, 0);
    search_index_free(ix);
}

TG_TEST(search, ties_rank_earlier_document_first) {
    struct search_index *ix = NULL;
    struct search_hit h[3];
    struct tg_error err;
    size_t n;

    CU_ASSERT_EQUAL_FATAL(search_index_new(&ix), 0);
    CU_ASSERT_EQUAL(search_index_add(ix, "x1", "One", "same words here"), 0);
    CU_ASSERT_EQUAL(search_index_add(ix, "x2", "Two", "same words here"), 0);
    /* querying before finish is a state error */
    CU_ASSERT_EQUAL(query(ix, "same", 3, h, &n, &err), TG_ESTATE);
    CU_ASSERT_EQUAL(search_index_finish(ix), 0);
    CU_ASSERT_EQUAL(search_index_add(ix, "x3", "Three", "late"), TG_ESTATE);
    CU_ASSERT_EQUAL(query(ix, "same", 3, h, &n, &err), 0);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT_STRING_EQUAL(h[0].id, "x1");
    CU_ASSERT_STRING_EQUAL(h[1].id, "x2");
    CU_ASSERT_DOUBLE_EQUAL(h[0].score, h[1].score, 0.0);
    search_index_free(ix);
}

TG_TEST(search, tokenizer) {
    char t[16][SEARCH_TERM_MAX];
    char longword[200];
    size_t n = search_tokenize("Hello, WORLD-42 the \xc3\xa9"
                               "clair is 3.75",
                               t, 16);

    CU_ASSERT_EQUAL_FATAL(n, 6);
    CU_ASSERT_STRING_EQUAL(t[0], "hello");
    CU_ASSERT_STRING_EQUAL(t[1], "world");
    CU_ASSERT_STRING_EQUAL(t[2], "42");
    CU_ASSERT_STRING_EQUAL(t[3], "clair"); /* non-ASCII bytes separate tokens */
    CU_ASSERT_STRING_EQUAL(t[4], "3");
    CU_ASSERT_STRING_EQUAL(t[5], "75");
    CU_ASSERT_EQUAL(search_tokenize("... --- !!!", t, 16), 0);
    CU_ASSERT_EQUAL(search_tokenize("a b c d e f", t, 2), 2);

    memset(longword, 'q', sizeof(longword) - 1);
    longword[sizeof(longword) - 1] = '\0';
    CU_ASSERT_EQUAL_FATAL(search_tokenize(longword, t, 16), 1);
    CU_ASSERT_EQUAL(strlen(t[0]), SEARCH_TERM_MAX - 1);

    /* first, last and middle of the (binary-searched) list */
    CU_ASSERT(search_is_stopword("a"));
    CU_ASSERT(search_is_stopword("with"));
    CU_ASSERT(search_is_stopword("the"));
    CU_ASSERT(search_is_stopword("of"));
    CU_ASSERT(search_is_stopword("whose"));
    CU_ASSERT(search_is_stopword("about"));
    CU_ASSERT(!search_is_stopword("population"));
    CU_ASSERT(!search_is_stopword("zzz"));
    CU_ASSERT(!search_is_stopword(""));
}

TG_TEST(search, hostile_queries) {
    struct search_index *ix = load_tiny();
    struct search_hit h[5];
    struct tg_error err;
    char *big = malloc(TG_SEARCH_MAX_QUERY + 2);
    char many[64 * 8];
    size_t n, off = 0;

    CU_ASSERT_FATAL(big != NULL);
    /* exactly the limit is accepted; one byte more is "too_long" */
    memset(big, ' ', TG_SEARCH_MAX_QUERY);
    memcpy(big, "red", 3);
    big[TG_SEARCH_MAX_QUERY] = '\0';
    CU_ASSERT_EQUAL(query(ix, big, 5, h, &n, &err), 0);
    CU_ASSERT_EQUAL(n, 2);
    big[TG_SEARCH_MAX_QUERY] = 'x';
    big[TG_SEARCH_MAX_QUERY + 1] = '\0';
    CU_ASSERT_EQUAL(query(ix, big, 5, h, &n, &err), TG_ERANGE);
    CU_ASSERT_STRING_EQUAL(err.code, "too_long");
    free(big);

    /* non-ASCII and control bytes separate words */
    CU_ASSERT_EQUAL(query(ix, "\xff\xfe\x80red\x01\xc3\xa9jumps", 5, h, &n, &err), 0);
    CU_ASSERT_EQUAL(n, 3); /* red: t1 t2; jumps: t3 */
    CU_ASSERT_EQUAL(query(ix, "\xff\xfe\x80\xc3\xa9", 5, h, &n, &err), TG_EINVAL);
    CU_ASSERT_STRING_EQUAL(err.code, "empty_query");
    CU_ASSERT_EQUAL(query(ix, "the of AND is", 5, h, &n, &err), TG_EINVAL);
    CU_ASSERT_STRING_EQUAL(err.code, "empty_query");
    CU_ASSERT_EQUAL(query(ix, "  ?!, ...\t\n ", 5, h, &n, &err), TG_EINVAL);
    CU_ASSERT_STRING_EQUAL(err.code, "empty_query");
    CU_ASSERT_EQUAL(query(ix, "", 5, h, &n, &err), TG_EINVAL);

    /* more distinct terms than TG_SEARCH_MAX_TERMS: the first ones are scored */
    for (int i = 0; i < 63; i++)
        off += (size_t)snprintf(many + off, sizeof(many) - off, "w%d ", i);
    snprintf(many + off, sizeof(many) - off, "dog tree");
    CU_ASSERT_EQUAL(query(ix, many, 5, h, &n, &err), 0);
    CU_ASSERT_EQUAL_FATAL(n, 1); /* "dog" is term 64, "tree" term 65 is dropped */
    CU_ASSERT_STRING_EQUAL(h[0].id, "t2");
    search_index_free(ix);
}

TG_TEST(search, snippet_window_on_word_boundaries) {
    struct search_index *ix = NULL;
    struct search_hit h[2];
    struct tg_error err;
    char text[2048];
    size_t off = 0, n;
    const char *body;

    for (int i = 0; i < 30; i++)
        off += (size_t)snprintf(text + off, sizeof(text) - off, "filler%02d ", i);
    off += (size_t)snprintf(text + off, sizeof(text) - off, "the altitude is 4321 metres ");
    for (int i = 30; i < 60; i++)
        off += (size_t)snprintf(text + off, sizeof(text) - off, "filler%02d ", i);
    CU_ASSERT_EQUAL_FATAL(search_index_new(&ix), 0);
    CU_ASSERT_EQUAL(search_index_add(ix, "s1", "Korvath", text), 0);
    CU_ASSERT_EQUAL(search_index_add(ix, "s2", "Other", "short text about altitude"), 0);
    CU_ASSERT_EQUAL(search_index_finish(ix), 0);

    CU_ASSERT_EQUAL(query(ix, "Korvath altitude", 2, h, &n, &err), 0);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT_STRING_EQUAL(h[0].id, "s1");
    CU_ASSERT(strstr(h[0].snippet, "altitude is 4321 metres") != NULL);
    CU_ASSERT(strncmp(h[0].snippet, "...", 3) == 0);
    CU_ASSERT(strlen(h[0].snippet) >= 3 &&
              strcmp(h[0].snippet + strlen(h[0].snippet) - 3, "...") == 0);
    CU_ASSERT(strlen(h[0].snippet) <= TG_SNIPPET_CHARS + 6);
    CU_ASSERT(strlen(h[0].snippet) >= TG_SNIPPET_CHARS / 2);
    /* cut on word boundaries: the first word after "..." is a whole word of the text */
    body = h[0].snippet + 3;
    CU_ASSERT(strncmp(body, "filler", 6) == 0 && body[8] == ' ');
    /* a short text is shown whole, without ellipses */
    CU_ASSERT_STRING_EQUAL(h[1].snippet, "short text about altitude");
    search_index_free(ix);
}

TG_TEST(search, snippet_with_giant_word) {
    struct search_index *ix = NULL;
    struct search_hit h[1];
    struct tg_error err;
    char text[1024], q[400];
    size_t n;

    /* a matching token wider than a snippet: no out-of-bounds cluster, valid window */
    memset(q, 'z', 300);
    q[300] = '\0';
    snprintf(text, sizeof(text), "start words \xc3\xa9%s\xc3\xa9 end words", q);
    CU_ASSERT_EQUAL_FATAL(search_index_new(&ix), 0);
    CU_ASSERT_EQUAL(search_index_add(ix, "g1", "Giant", text), 0);
    CU_ASSERT_EQUAL(search_index_finish(ix), 0);
    CU_ASSERT_EQUAL(query(ix, q, 1, h, &n, &err), 0);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    CU_ASSERT(strncmp(h[0].snippet, "start words", 11) == 0);
    CU_ASSERT(strlen(h[0].snippet) <= TG_SNIPPET_CHARS + 6);
    search_index_free(ix);
}

TG_TEST(search, load_errors_name_the_line) {
    struct search_index *ix = NULL;
    struct tg_error err;
    char path[] = "/tmp/tg_search_longXXXXXX";
    int fd;
    FILE *f;

    CU_ASSERT_EQUAL(search_index_load(tg_test_data("search_bad_json.jsonl"), &ix, &err), TG_EINVAL);
    CU_ASSERT_PTR_NULL(ix);
    CU_ASSERT(strstr(err.message, "search_bad_json.jsonl:2:") != NULL);
    CU_ASSERT_EQUAL(search_index_load(tg_test_data("search_missing_field.jsonl"), &ix, &err),
                    TG_EINVAL);
    CU_ASSERT(strstr(err.message, ":3:") != NULL);
    CU_ASSERT_EQUAL(search_index_load("/nonexistent/corpus.jsonl", &ix, &err), TG_EIO);

    fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    f = fdopen(fd, "w");
    CU_ASSERT_FATAL(f != NULL);
    fprintf(f, "{\"id\":\"a\",\"title\":\"A\",\"text\":\"ok\"}\n{\"id\":\"b\",\"title\":\"B\","
               "\"text\":\"");
    for (int i = 0; i < TG_CORPUS_LINE_MAX; i++)
        fputc('x', f);
    fprintf(f, "\"}\n");
    fclose(f);
    CU_ASSERT_EQUAL(search_index_load(path, &ix, &err), TG_ERANGE);
    CU_ASSERT(strstr(err.message, ":2:") != NULL);
    unlink(path);
}

TG_TEST(search, tool_invoke) {
    struct tg_error err;
    struct tool_result r;
    json_t *args, *hits;

    /* not loaded yet: a tool-level failure, not a crash */
    search_shutdown();
    args = json_pack("{s:s}", "query", "red");
    CU_ASSERT_EQUAL(search_tool_invoke(args, NULL, &r), 0);
    CU_ASSERT_EQUAL(r.ok, 0);
    CU_ASSERT_STRING_EQUAL(r.err.code, "not_ready");
    tool_result_clear(&r);

    CU_ASSERT_EQUAL_FATAL(search_init(tg_test_data("search_tiny.jsonl"), &err), 0);
    CU_ASSERT_EQUAL(search_tool_invoke(args, NULL, &r), 0);
    CU_ASSERT_EQUAL(r.ok, 1);
    hits = json_object_get(r.result, "hits");
    CU_ASSERT_EQUAL_FATAL(json_array_size(hits), 2);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(hits, 0), "id")), "t2");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(hits, 0), "title")),
                           "Beta");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(hits, 0), "snippet")),
                           "Red, red dog!");
    CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(json_array_get(hits, 0), "score")),
                           log(2.0) * 4.4 / 3.3, 1e-9);
    CU_ASSERT_STRING_EQUAL(r.content, "1. Beta (t2): Red, red dog!\n2. Alpha (t1): A red fox.");
    tool_result_clear(&r);
    json_decref(args);

    args = json_pack("{s:s, s:i}", "query", "red", "k", 1);
    CU_ASSERT_EQUAL(search_tool_invoke(args, NULL, &r), 0);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(r.result, "hits")), 1);
    tool_result_clear(&r);
    json_decref(args);

    args = json_pack("{s:s}", "query", "nothing matches");
    CU_ASSERT_EQUAL(search_tool_invoke(args, NULL, &r), 0);
    CU_ASSERT_EQUAL(r.ok, 1);
    CU_ASSERT_STRING_EQUAL(r.content, "no results");
    CU_ASSERT_EQUAL(json_array_size(json_object_get(r.result, "hits")), 0);
    tool_result_clear(&r);
    json_decref(args);

    args = json_pack("{s:s}", "query", " ?! ");
    CU_ASSERT_EQUAL(search_tool_invoke(args, NULL, &r), 0);
    CU_ASSERT_EQUAL(r.ok, 0);
    CU_ASSERT_STRING_EQUAL(r.err.code, "empty_query");
    CU_ASSERT(r.content != NULL && strncmp(r.content, "error", 5) == 0);
    tool_result_clear(&r);
    json_decref(args);

    /* the schema the registry validates against parses and says what the brief says */
    args = json_loads(search_schema_json, 0, NULL);
    CU_ASSERT_FATAL(args != NULL);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(
                        json_object_get(json_object_get(args, "properties"), "k"), "maximum")),
                    TG_SEARCH_K_MAX);
    CU_ASSERT(json_is_false(json_object_get(args, "additionalProperties")));
    json_decref(args);
    search_shutdown();
}

struct worker {
    const struct search_index *ix;
    int failures;
};

static void *query_worker(void *arg) {
    struct worker *w = arg;
    struct search_hit h[5];
    struct tg_error err;
    size_t n;

    for (int i = 0; i < 200; i++) {
        if (search_query(w->ix, i % 2 ? "red fox" : "fox jumps", 5, h, &n, &err) != 0 || n == 0 ||
            strcmp(h[0].id, i % 2 ? "t1" : "t3") != 0)
            w->failures++;
    }
    return NULL;
}

TG_TEST(search, concurrent_queries) {
    struct search_index *ix = load_tiny();
    pthread_t th[4];
    struct worker w[4];

    for (int i = 0; i < 4; i++) {
        w[i].ix = ix;
        w[i].failures = 0;
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, query_worker, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CU_ASSERT_EQUAL(w[i].failures, 0);
    }
    search_index_free(ix);
}

/* Whole-word occurrence of needle in hay. */
static int has_word(const char *hay, const char *needle) {
    size_t n = strlen(needle);

    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) {
        int before = p == hay || !(p[-1] >= '0' && p[-1] <= '9');
        int after =
            !(p[n] >= '0' && p[n] <= '9') && !(p[n] == '.' && p[n + 1] >= '0' && p[n + 1] <= '9');

        if (before && after)
            return 1;
    }
    return 0;
}

TG_TEST(search, shipped_corpus_title_attribute_queries) {
    struct corpus *c = NULL;
    struct search_index *ix = NULL;
    struct tg_error err;
    size_t checked = 0, wrong_rank = 0, no_fact = 0;

    CU_ASSERT_EQUAL_FATAL(corpus_load(CORPUS_DEFAULT_PATH, &c, &err), 0);
    CU_ASSERT_EQUAL_FATAL(search_index_load(CORPUS_DEFAULT_PATH, &ix, &err), 0);
    CU_ASSERT_EQUAL(search_index_docs(ix), corpus_count(c));
    for (size_t i = 0; i < corpus_count(c); i++) {
        const json_t *facts = corpus_doc_facts(c, i);
        const char *key;
        const json_t *v;

        json_object_foreach((json_t *)facts, key, v) {
            struct search_hit h[5];
            char q[256], val[48];
            const char *phrase = corpus_fact_phrase(corpus_doc_kind(c, i), key);
            size_t n = 0;

            CU_ASSERT_FATAL(phrase != NULL);
            CU_ASSERT_EQUAL_FATAL(corpus_format_value(v, val, sizeof(val)), 0);
            snprintf(q, sizeof(q), "%s %s", corpus_doc_title(c, i), phrase);
            CU_ASSERT_EQUAL_FATAL(search_query(ix, q, 5, h, &n, &err), 0);
            checked++;
            if (n == 0 || strcmp(h[0].id, corpus_doc_id(c, i)) != 0) {
                wrong_rank++;
                printf("\n  rank: %s -> %s\n", q, n ? h[0].id : "(none)");
                continue;
            }
            if (!strstr(h[0].snippet, phrase) || !has_word(h[0].snippet, val)) {
                no_fact++;
                printf("\n  snippet: %s [%s] -> %s\n", q, val, h[0].snippet);
            }
        }
    }
    CU_ASSERT(checked >= 3 * corpus_count(c));
    CU_ASSERT_EQUAL(wrong_rank, 0);
    CU_ASSERT_EQUAL(no_fact, 0);
    search_index_free(ix);
    corpus_free(c);
}
