/*
 * test_corpus.c — the `corpus` suite: determinism, the shipped file matching its command,
 * unique titles at 100,000 documents, every fact written in the text next to its phrase,
 * the loader and its errors, the subcommand, and value formatting.
 */
#include "tg_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/limits.h"
#include "tools/corpus.h"

/* Generate into memory; returns the new buffer (free) and its size in *len. */
static char *gen_mem(unsigned long long seed, size_t ndocs, size_t *len) {
    char *buf = NULL;
    size_t sz = 0;
    struct tg_error err;
    FILE *f = open_memstream(&buf, &sz);
    int rc;

    CU_ASSERT_FATAL(f != NULL);
    rc = corpus_generate(seed, ndocs, f, &err);
    fclose(f);
    CU_ASSERT_EQUAL(rc, 0);
    *len = sz;
    return buf;
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf)
        buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

TG_TEST(corpus, deterministic_per_seed) {
    size_t a_len, b_len, c_len;
    char *a = gen_mem(7, 300, &a_len);
    char *b = gen_mem(7, 300, &b_len);
    char *c = gen_mem(8, 300, &c_len);
    size_t lines = 0;

    CU_ASSERT(a_len > 300 * 100);
    CU_ASSERT_EQUAL(a_len, b_len);
    CU_ASSERT(a_len == b_len && memcmp(a, b, a_len) == 0);
    CU_ASSERT(a_len != c_len || memcmp(a, c, a_len) != 0);
    for (size_t i = 0; i < a_len; i++)
        lines += a[i] == '\n';
    CU_ASSERT_EQUAL(lines, 300);
    free(a);
    free(b);
    free(c);
}

TG_TEST(corpus, shipped_file_is_seed1_600) {
    size_t gen_len, file_len;
    char *gen = gen_mem(CORPUS_DEFAULT_SEED, CORPUS_DEFAULT_DOCS, &gen_len);
    char *file = read_file(CORPUS_DEFAULT_PATH, &file_len);

    CU_ASSERT_PTR_NOT_NULL_FATAL(file);
    CU_ASSERT_EQUAL(gen_len, file_len);
    CU_ASSERT(gen_len == file_len && memcmp(gen, file, gen_len) == 0);
    free(gen);
    free(file);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

TG_TEST(corpus, unique_titles_and_ids_at_100k) {
    const size_t n = 100000;
    size_t len, count = 0, dup_titles = 0, dup_ids = 0, long_lines = 0;
    char *buf = gen_mem(3, n, &len);
    char **titles = calloc(n, sizeof(char *)), **ids = calloc(n, sizeof(char *));
    char *line = buf;

    CU_ASSERT_FATAL(buf && titles && ids);
    while (line < buf + len && count < n) {
        char *nl = memchr(line, '\n', (size_t)(buf + len - line));
        char *t, *id;

        CU_ASSERT_FATAL(nl != NULL);
        *nl = '\0'; /* search within the line only */
        t = strstr(line, "\"title\":\"");
        id = strstr(line, "\"id\":\"");
        CU_ASSERT_FATAL(t && id);
        if ((size_t)(nl - line) >= TG_CORPUS_LINE_MAX)
            long_lines++;
        t += 9;
        *strchr(t, '"') = '\0';
        id += 6;
        *strchr(id, '"') = '\0';
        titles[count] = t;
        ids[count++] = id;
        line = nl + 1;
    }
    CU_ASSERT_EQUAL_FATAL(count, n);
    CU_ASSERT_EQUAL(long_lines, 0);
    qsort(titles, n, sizeof(char *), cmp_str);
    qsort(ids, n, sizeof(char *), cmp_str);
    for (size_t i = 1; i < n; i++) {
        dup_titles += strcmp(titles[i - 1], titles[i]) == 0;
        dup_ids += strcmp(ids[i - 1], ids[i]) == 0;
    }
    CU_ASSERT_EQUAL(dup_titles, 0);
    CU_ASSERT_EQUAL(dup_ids, 0);
    free(titles);
    free(ids);
    free(buf);
}

/* Occurrences of word (whole word, case-sensitive) in s. */
static size_t count_word(const char *s, const char *word) {
    size_t n = 0, wl = strlen(word);

    for (const char *p = strstr(s, word); p; p = strstr(p + 1, word)) {
        int before = p == s || !((p[-1] >= 'a' && p[-1] <= 'z') || (p[-1] >= 'A' && p[-1] <= 'Z'));
        int after = !((p[wl] >= 'a' && p[wl] <= 'z') || (p[wl] >= 'A' && p[wl] <= 'Z'));

        n += before && after;
    }
    return n;
}

/* value written as a whole number within `reach` bytes of the phrase occurrence at p */
static int value_near(const char *text, const char *p, size_t plen, const char *val, size_t reach) {
    size_t tl = strlen(text), vl = strlen(val);
    size_t from = (size_t)(p - text) > reach ? (size_t)(p - text) - reach : 0;
    size_t to = (size_t)(p - text) + plen + reach;

    if (to > tl)
        to = tl;
    for (size_t i = from; i + vl <= to; i++) {
        const char *q = text + i;
        int before = i == 0 || !((q[-1] >= '0' && q[-1] <= '9') || q[-1] == '.');
        int after = !(q[vl] >= '0' && q[vl] <= '9') &&
                    !(q[vl] == '.' && q[vl + 1] >= '0' && q[vl + 1] <= '9');

        if (memcmp(q, val, vl) == 0 && before && after)
            return 1;
    }
    return 0;
}

static void check_corpus_facts(const struct corpus *c) {
    size_t bad = 0;

    for (size_t i = 0; i < corpus_count(c); i++) {
        const char *kind = corpus_doc_kind(c, i), *text = corpus_doc_text(c, i);
        const json_t *facts = corpus_doc_facts(c, i);
        const char *key;
        const json_t *v;

        CU_ASSERT(json_object_size(facts) >= 3 && json_object_size(facts) <= 5);
        CU_ASSERT(strncmp(text, corpus_doc_title(c, i), strlen(corpus_doc_title(c, i))) == 0);
        json_object_foreach((json_t *)facts, key, v) {
            const char *phrase = corpus_fact_phrase(kind, key);
            char val[48];
            double back;

            CU_ASSERT_FATAL(phrase != NULL);
            CU_ASSERT_PTR_NOT_NULL(corpus_fact_unit(kind, key));
            CU_ASSERT_EQUAL_FATAL(corpus_format_value(v, val, sizeof(val)), 0);
            /* at most 2 decimals: the formatted text reads back as the same number */
            back = strtod(val, NULL);
            CU_ASSERT_DOUBLE_EQUAL(back, json_number_value(v), 1e-9);
            CU_ASSERT(!strchr(val, '.') || strlen(strchr(val, '.')) <= 3);
            /* the phrase appears once (fillers never use it) with the value beside it */
            if (count_word(text, phrase) != 1 ||
                !value_near(text, strstr(text, phrase), strlen(phrase), val, 24)) {
                bad++;
                printf("\n  %s %s=%s: %s\n", corpus_doc_id(c, i), key, val, text);
            }
        }
    }
    CU_ASSERT_EQUAL(bad, 0);
}

TG_TEST(corpus, every_fact_value_in_text_next_to_phrase) {
    struct corpus *c = NULL;
    struct tg_error err;
    char path[] = "/tmp/tg_corpusXXXXXX";
    int fd;
    FILE *f;

    CU_ASSERT_EQUAL_FATAL(corpus_load(CORPUS_DEFAULT_PATH, &c, &err), 0);
    CU_ASSERT_EQUAL(corpus_count(c), CORPUS_DEFAULT_DOCS);
    CU_ASSERT_STRING_EQUAL(corpus_doc_id(c, 0), "d00001");
    check_corpus_facts(c);
    corpus_free(c);

    /* and for another seed and size */
    fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    f = fdopen(fd, "w");
    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT_EQUAL(corpus_generate(99, 3000, f, &err), 0);
    fclose(f);
    CU_ASSERT_EQUAL_FATAL(corpus_load(path, &c, &err), 0);
    CU_ASSERT_EQUAL(corpus_count(c), 3000);
    check_corpus_facts(c);
    corpus_free(c);
    unlink(path);
}

TG_TEST(corpus, kinds_all_appear_and_relations_name_entities) {
    struct corpus *c = NULL;
    struct tg_error err;
    const char *kinds[] = {"city",  "person", "company", "mountain",
                           "river", "ship",   "planet",  "invention"};
    size_t seen[8] = {0}, with_relation = 0;

    CU_ASSERT_EQUAL_FATAL(corpus_load(CORPUS_DEFAULT_PATH, &c, &err), 0);
    for (size_t i = 0; i < corpus_count(c); i++) {
        size_t mentions = 0;

        for (size_t k = 0; k < 8; k++)
            seen[k] += strcmp(corpus_doc_kind(c, i), kinds[k]) == 0;
        /* some other entity's title occurs in the text (scan a window of neighbours plus
         * all: n^2 over 600 docs is cheap) */
        for (size_t j = 0; j < corpus_count(c) && !mentions; j++)
            if (j != i && strstr(corpus_doc_text(c, i), corpus_doc_title(c, j)))
                mentions++;
        with_relation += mentions > 0;
    }
    for (size_t k = 0; k < 8; k++)
        CU_ASSERT(seen[k] > 20);
    CU_ASSERT_EQUAL(with_relation, corpus_count(c));
    corpus_free(c);
}

TG_TEST(corpus, load_errors) {
    struct corpus *c = NULL;
    struct tg_error err;
    char path[] = "/tmp/tg_corpus_badXXXXXX";
    int fd;
    FILE *f;

    CU_ASSERT_EQUAL(corpus_load("/nonexistent/c.jsonl", &c, &err), TG_EIO);
    CU_ASSERT_PTR_NULL(c);
    /* a good generated line, then a torn one */
    fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    f = fdopen(fd, "w");
    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT_EQUAL(corpus_generate(1, 1, f, &err), 0);
    fprintf(f, "{\"id\":\"d00002\",\"title\":\"Torn\"\n");
    fclose(f);
    CU_ASSERT_EQUAL(corpus_load(path, &c, &err), TG_EINVAL);
    CU_ASSERT(strstr(err.message, ":2: invalid JSON") != NULL);
    CU_ASSERT_PTR_NULL(c);
    unlink(path);
    /* a search-only corpus lacks kind and facts */
    CU_ASSERT_EQUAL(corpus_load(tg_test_data("search_tiny.jsonl"), &c, &err), TG_EINVAL);
    CU_ASSERT(strstr(err.message, ":1:") != NULL);
    CU_ASSERT_PTR_NULL(c);
    corpus_free(NULL);
}

TG_TEST(corpus, generate_bounds) {
    struct tg_error err;
    FILE *f = fopen("/dev/null", "w");

    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT_EQUAL(corpus_generate(1, 0, f, &err), TG_ERANGE);
    CU_ASSERT_EQUAL(corpus_generate(1, (size_t)CORPUS_GEN_MAX_DOCS + 1, f, &err), TG_ERANGE);
    CU_ASSERT_EQUAL(corpus_generate(1, 1, f, &err), 0); /* a lone entity, no relations */
    CU_ASSERT_EQUAL(corpus_generate(1, 2, f, &err), 0);
    fclose(f);
}

TG_TEST(corpus, format_value_and_vocabulary) {
    char buf[32];
    json_t *v;

    v = json_real(3.75);
    CU_ASSERT_EQUAL(corpus_format_value(v, buf, sizeof(buf)), 0);
    CU_ASSERT_STRING_EQUAL(buf, "3.75");
    json_decref(v);
    v = json_real(412.5);
    CU_ASSERT_EQUAL(corpus_format_value(v, buf, sizeof(buf)), 0);
    CU_ASSERT_STRING_EQUAL(buf, "412.5");
    json_decref(v);
    v = json_real(0.05);
    CU_ASSERT_EQUAL(corpus_format_value(v, buf, sizeof(buf)), 0);
    CU_ASSERT_STRING_EQUAL(buf, "0.05");
    json_decref(v);
    v = json_integer(48211);
    CU_ASSERT_EQUAL(corpus_format_value(v, buf, sizeof(buf)), 0);
    CU_ASSERT_STRING_EQUAL(buf, "48211");
    CU_ASSERT_EQUAL(corpus_format_value(v, buf, 3), TG_ERANGE);
    json_decref(v);
    v = json_string("12");
    CU_ASSERT_EQUAL(corpus_format_value(v, buf, sizeof(buf)), TG_EINVAL);
    json_decref(v);

    CU_ASSERT_STRING_EQUAL(corpus_fact_phrase("city", "population"), "population");
    CU_ASSERT_STRING_EQUAL(corpus_fact_phrase("planet", "orbital_period_days"), "orbital period");
    CU_ASSERT_STRING_EQUAL(corpus_fact_unit("company", "revenue_musd"), "million dollars");
    CU_ASSERT_STRING_EQUAL(corpus_fact_unit("city", "population"), "");
    CU_ASSERT_PTR_NULL(corpus_fact_phrase("city", "revenue_musd"));
    CU_ASSERT_PTR_NULL(corpus_fact_phrase("dragon", "population"));
    CU_ASSERT_PTR_NULL(corpus_fact_unit(NULL, "population"));
}

/* ---- the one reader --------------------------------------------------------------------- */

struct seen {
    int n;
    char ids[8][16];
    int stop_at; /* return TG_ENOMEM at this document (1-based), 0 never */
};

static int note_doc(void *ud, json_t *doc) {
    struct seen *s = ud;

    s->n++;
    if (s->n <= 8)
        snprintf(s->ids[s->n - 1], sizeof(s->ids[0]), "%s",
                 json_string_value(json_object_get(doc, "id")));
    return s->n == s->stop_at ? TG_ENOMEM : 0;
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");

    CU_ASSERT_FATAL(f != NULL);
    fputs(text, f);
    fclose(f);
}

TG_TEST(corpus, reader_checks_fields_per_use) {
    char path[] = "/tmp/tg_corpus_readXXXXXX";
    struct seen s;
    struct tg_error err;
    int fd = mkstemp(path);

    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    /* search needs id, title, text; extra keys and blank lines are fine */
    write_text(path, "{\"id\":\"a\",\"title\":\"A\",\"text\":\"x\",\"extra\":1}\n\n  \n"
                     "{\"id\":\"b\",\"title\":\"B\",\"text\":\"y\"}");
    memset(&s, 0, sizeof(s));
    CU_ASSERT_EQUAL(corpus_read(path, 0, note_doc, &s, &err), 0);
    CU_ASSERT_EQUAL(s.n, 2);
    CU_ASSERT_STRING_EQUAL(s.ids[0], "a");
    CU_ASSERT_STRING_EQUAL(s.ids[1], "b"); /* the last line needs no newline */
    /* the task generator also needs kind and facts */
    memset(&s, 0, sizeof(s));
    CU_ASSERT_EQUAL(corpus_read(path, CORPUS_NEED_FACTS, note_doc, &s, &err), TG_EINVAL);
    CU_ASSERT_EQUAL(s.n, 0);
    CU_ASSERT_STRING_EQUAL(err.code, "corpus");
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, ":1: kind: missing"));
    /* a mistyped field is named with its line */
    write_text(path, "{\"id\":\"a\",\"title\":\"A\",\"text\":\"x\"}\n"
                     "{\"id\":\"b\",\"title\":7,\"text\":\"y\"}\n");
    memset(&s, 0, sizeof(s));
    CU_ASSERT_EQUAL(corpus_read(path, 0, note_doc, &s, &err), TG_EINVAL);
    CU_ASSERT_EQUAL(s.n, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, ":2: title: must be a string, not integer"));
    /* the callback's error stops the read and is reported with the line */
    write_text(path, "{\"id\":\"a\",\"title\":\"A\",\"text\":\"x\"}\n"
                     "{\"id\":\"b\",\"title\":\"B\",\"text\":\"y\"}\n"
                     "{\"id\":\"c\",\"title\":\"C\",\"text\":\"z\"}\n");
    memset(&s, 0, sizeof(s));
    s.stop_at = 2;
    CU_ASSERT_EQUAL(corpus_read(path, 0, note_doc, &s, &err), TG_ENOMEM);
    CU_ASSERT_EQUAL(s.n, 2);
    CU_ASSERT_STRING_EQUAL(err.code, "out_of_memory");
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, ":2: out of memory"));
    unlink(path);
}

TG_TEST(corpus, reader_and_loader_agree_on_the_shipped_corpus) {
    struct corpus *c = NULL;
    struct seen s;
    struct tg_error err;

    memset(&s, 0, sizeof(s));
    CU_ASSERT_EQUAL_FATAL(corpus_read(CORPUS_DEFAULT_PATH, CORPUS_NEED_FACTS, note_doc, &s, &err),
                          0);
    CU_ASSERT_EQUAL_FATAL(corpus_load(CORPUS_DEFAULT_PATH, &c, &err), 0);
    CU_ASSERT_EQUAL(s.n, 600);
    CU_ASSERT_EQUAL(corpus_count(c), (size_t)s.n);
    for (int i = 0; i < 8; i++)
        CU_ASSERT_STRING_EQUAL(corpus_doc_id(c, (size_t)i), s.ids[i]);
    corpus_free(c);
}
