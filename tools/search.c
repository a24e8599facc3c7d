/*
 * search.c — the search tool: tokenizer, inverted index (hash map term -> postings array),
 * BM25 ranking with a document-at-a-time merge and a top-k heap, snippets, and the tool
 * entry point over a process-wide index loaded at start-up.
 *
 * It does not load anything after start-up, mutate the index during queries, or know about
 * HTTP; the ranking definition (title indexed twice, stopwords excluded from dl) is in
 * search.h.
 */
#include "tools/search.h"

#include "base/datadir.h"
#include "base/hash.h"
#include "tools/corpus.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- tokenizer --------------------------------------------------------------------------- */

static const char *const stopwords[] = {
    "a",    "about", "an",   "and",  "are",  "as",   "at",    "be",   "by",    "did",
    "do",   "does",  "for",  "from", "had",  "has",  "have",  "how",  "in",    "is",
    "it",   "its",   "many", "much", "of",   "on",   "or",    "that", "the",   "their",
    "this", "to",    "was",  "were", "what", "when", "which", "who",  "whose", "with",
};

int search_is_stopword(const char *term) {
    size_t lo = 0, hi = TG_ARRAY_LEN(stopwords);

    /* the list is sorted: binary search */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(term, stopwords[mid]);

        if (c == 0)
            return 1;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return 0;
}

/*
 * Next token of s starting at *pos: lowercase copy into out (truncated), byte offsets of the
 * token in [*start, *end). Returns 1, or 0 at the end of s. Stopwords are returned too.
 */
static int next_token(const char *s, size_t *pos, char out[SEARCH_TERM_MAX], size_t *start,
                      size_t *end) {
    size_t i = *pos, n = 0;

    while (s[i] && !(((unsigned char)s[i] < 0x80) && isalnum((unsigned char)s[i])))
        i++;
    if (!s[i]) {
        *pos = i;
        return 0;
    }
    *start = i;
    while (s[i] && ((unsigned char)s[i] < 0x80) && isalnum((unsigned char)s[i])) {
        if (n + 1 < SEARCH_TERM_MAX)
            out[n++] = (char)tolower((unsigned char)s[i]);
        i++;
    }
    out[n] = '\0';
    *end = i;
    *pos = i;
    return 1;
}

size_t search_tokenize(const char *text, char (*terms)[SEARCH_TERM_MAX], size_t max) {
    size_t pos = 0, start, end, n = 0;
    char tok[SEARCH_TERM_MAX];

    while (n < max && next_token(text, &pos, tok, &start, &end)) {
        if (search_is_stopword(tok))
            continue;
        memcpy(terms[n++], tok, sizeof(tok));
    }
    return n;
}

/* ---- index ------------------------------------------------------------------------------- */

struct posting {
    uint32_t doc;
    uint32_t tf;
};

struct term {
    char *s; /* NULL: empty slot */
    uint64_t h;
    struct posting *p; /* in increasing doc order */
    uint32_t n, cap;
    double idf;
};

struct search_index {
    struct term *slots; /* open addressing, cap a power of two, load <= 1/2 */
    size_t tcap, tlen;
    char **ids, **titles, **texts;
    uint32_t *dl;
    double *norm; /* k1 * (1 - b + b * dl / avgdl), after finish */
    size_t n, cap;
    uint64_t total_dl;
    double avgdl;
    int finished;
};

static size_t term_slot(const struct term *slots, size_t cap, const char *s, uint64_t h) {
    size_t i = (size_t)h & (cap - 1);

    while (slots[i].s && !(slots[i].h == h && strcmp(slots[i].s, s) == 0))
        i = (i + 1) & (cap - 1);
    return i;
}

static const struct term *term_find(const struct search_index *ix, const char *s) {
    uint64_t h = hash_tg_str(s);
    const struct term *t = &ix->slots[term_slot(ix->slots, ix->tcap, s, h)];

    return t->s ? t : NULL;
}

static int grow_terms(struct search_index *ix) {
    size_t ncap = ix->tcap * 2;
    struct term *ns = calloc(ncap, sizeof(*ns));

    if (!ns)
        return TG_ENOMEM;
    for (size_t i = 0; i < ix->tcap; i++)
        if (ix->slots[i].s)
            ns[term_slot(ns, ncap, ix->slots[i].s, ix->slots[i].h)] = ix->slots[i];
    free(ix->slots);
    ix->slots = ns;
    ix->tcap = ncap;
    return 0;
}

/* Count one occurrence of term s in document doc (documents are added in order). */
static int index_token(struct search_index *ix, const char *s, uint32_t doc) {
    uint64_t h = hash_tg_str(s);
    struct term *t;
    size_t i;

    if ((ix->tlen + 1) * 2 > ix->tcap) {
        int rc = grow_terms(ix);

        if (rc)
            return rc;
    }
    i = term_slot(ix->slots, ix->tcap, s, h);
    t = &ix->slots[i];
    if (!t->s) {
        t->s = strdup(s);
        if (!t->s)
            return TG_ENOMEM;
        t->h = h;
        ix->tlen++;
    }
    if (t->n && t->p[t->n - 1].doc == doc) {
        t->p[t->n - 1].tf++;
        return 0;
    }
    if (t->n == t->cap) {
        uint32_t ncap = t->cap ? t->cap * 2 : 4;
        struct posting *np = realloc(t->p, ncap * sizeof(*np));

        if (!np)
            return TG_ENOMEM;
        t->p = np;
        t->cap = ncap;
    }
    t->p[t->n].doc = doc;
    t->p[t->n].tf = 1;
    t->n++;
    return 0;
}

static int index_field(struct search_index *ix, const char *s, uint32_t doc, uint32_t *dl) {
    size_t pos = 0, start, end;
    char tok[SEARCH_TERM_MAX];

    while (next_token(s, &pos, tok, &start, &end)) {
        int rc;

        if (search_is_stopword(tok))
            continue;
        rc = index_token(ix, tok, doc);
        if (rc)
            return rc;
        (*dl)++;
    }
    return 0;
}

int search_index_new(struct search_index **out) {
    struct search_index *ix = calloc(1, sizeof(*ix));

    *out = NULL;
    if (!ix)
        return TG_ENOMEM;
    ix->tcap = 1024;
    ix->slots = calloc(ix->tcap, sizeof(*ix->slots));
    if (!ix->slots) {
        free(ix);
        return TG_ENOMEM;
    }
    *out = ix;
    return 0;
}

void search_index_free(struct search_index *ix) {
    if (!ix)
        return;
    for (size_t i = 0; i < ix->tcap; i++) {
        free(ix->slots[i].s);
        free(ix->slots[i].p);
    }
    free(ix->slots);
    for (size_t i = 0; i < ix->n; i++) {
        free(ix->ids[i]);
        free(ix->titles[i]);
        free(ix->texts[i]);
    }
    free(ix->ids);
    free(ix->titles);
    free(ix->texts);
    free(ix->dl);
    free(ix->norm);
    free(ix);
}

static int grow_docs(struct search_index *ix) {
    size_t ncap = ix->cap ? ix->cap * 2 : 256;
    char **a = realloc(ix->ids, ncap * sizeof(*a));

    if (!a)
        return TG_ENOMEM;
    ix->ids = a;
    a = realloc(ix->titles, ncap * sizeof(*a));
    if (!a)
        return TG_ENOMEM;
    ix->titles = a;
    a = realloc(ix->texts, ncap * sizeof(*a));
    if (!a)
        return TG_ENOMEM;
    ix->texts = a;
    uint32_t *d = realloc(ix->dl, ncap * sizeof(*d));
    if (!d)
        return TG_ENOMEM;
    ix->dl = d;
    ix->cap = ncap;
    return 0;
}

int search_index_add(struct search_index *ix, const char *id, const char *title, const char *text) {
    uint32_t doc, dl = 0;
    int rc;

    if (ix->finished)
        return TG_ESTATE;
    if (ix->n >= TG_CORPUS_MAX_DOCS)
        return TG_ERANGE;
    if (ix->n == ix->cap) {
        rc = grow_docs(ix);
        if (rc)
            return rc;
    }
    doc = (uint32_t)ix->n;
    ix->ids[doc] = strdup(id);
    ix->titles[doc] = strdup(title);
    ix->texts[doc] = strdup(text);
    ix->n++; /* counted now so that search_index_free releases the copies */
    if (!ix->ids[doc] || !ix->titles[doc] || !ix->texts[doc])
        return TG_ENOMEM;
    rc = index_field(ix, title, doc, &dl);
    rc = rc ? rc : index_field(ix, title, doc, &dl); /* the title counts twice */
    rc = rc ? rc : index_field(ix, text, doc, &dl);
    if (rc)
        return rc;
    ix->dl[doc] = dl;
    ix->total_dl += dl;
    return 0;
}

int search_index_finish(struct search_index *ix) {
    double n = (double)ix->n;

    if (ix->finished)
        return 0;
    ix->avgdl = ix->n ? (double)ix->total_dl / n : 0.0;
    ix->norm = malloc((ix->n ? ix->n : 1) * sizeof(*ix->norm));
    if (!ix->norm)
        return TG_ENOMEM;
    for (size_t i = 0; i < ix->n; i++) {
        double rel = ix->avgdl > 0 ? (double)ix->dl[i] / ix->avgdl : 0.0;

        ix->norm[i] = SEARCH_K1 * (1.0 - SEARCH_B + SEARCH_B * rel);
    }
    for (size_t i = 0; i < ix->tcap; i++) {
        struct term *t = &ix->slots[i];

        if (t->s) {
            double df = (double)t->n;

            t->idf = log(1.0 + (n - df + 0.5) / (df + 0.5));
        }
    }
    ix->finished = 1;
    return 0;
}

size_t search_index_docs(const struct search_index *ix) {
    return ix ? ix->n : 0;
}

static int index_doc(void *ud, json_t *doc) {
    return search_index_add(ud, json_string_value(json_object_get(doc, "id")),
                            json_string_value(json_object_get(doc, "title")),
                            json_string_value(json_object_get(doc, "text")));
}

int search_index_load(const char *path, struct search_index **out, struct tg_error *err) {
    struct search_index *ix = NULL;
    int rc;

    *out = NULL;
    rc = search_index_new(&ix);
    if (rc) {
        tg_error_set(err, TG_CODE_NOMEM, "out of memory loading %s", path);
        return rc;
    }
    rc = corpus_read(path, 0, index_doc, ix, err);
    if (!rc) {
        rc = search_index_finish(ix);
        if (rc)
            tg_error_set(err, TG_CODE_NOMEM, "out of memory indexing %s", path);
    }
    if (rc) {
        search_index_free(ix);
        return rc;
    }
    *out = ix;
    return 0;
}

/* ---- query ------------------------------------------------------------------------------- */

struct scored {
    double score;
    uint32_t doc;
};

/* a ranks below b: lower score, or the same score and added later */
static int ranks_below(const struct scored *a, const struct scored *b) {
    return a->score < b->score || (a->score == b->score && a->doc > b->doc);
}

static void heap_swap(struct scored *h, size_t i, size_t j) {
    struct scored t = h[i];

    h[i] = h[j];
    h[j] = t;
}

/* Min-heap (worst at the root) of at most k entries. */
static void heap_offer(struct scored *h, size_t *n, size_t k, struct scored x) {
    size_t i;

    if (*n < k) {
        i = (*n)++;
        h[i] = x;
        while (i > 0 && ranks_below(&h[i], &h[(i - 1) / 2])) {
            heap_swap(h, i, (i - 1) / 2);
            i = (i - 1) / 2;
        }
        return;
    }
    if (!ranks_below(&h[0], &x))
        return;
    h[0] = x;
    i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;

        if (l < *n && ranks_below(&h[l], &h[m]))
            m = l;
        if (r < *n && ranks_below(&h[r], &h[m]))
            m = r;
        if (m == i)
            break;
        heap_swap(h, i, m);
        i = m;
    }
}

static int cmp_best_first(const void *pa, const void *pb) {
    const struct scored *a = pa, *b = pb;

    if (ranks_below(a, b))
        return 1;
    if (ranks_below(b, a))
        return -1;
    return 0;
}

struct qterms {
    char s[TG_SEARCH_MAX_TERMS][SEARCH_TERM_MAX];
    size_t n;
};

/* Distinct non-stopword terms of the query, first TG_SEARCH_MAX_TERMS of them. */
static void query_terms(const char *query, struct qterms *q) {
    size_t pos = 0, start, end;
    char tok[SEARCH_TERM_MAX];

    q->n = 0;
    while (q->n < TG_SEARCH_MAX_TERMS && next_token(query, &pos, tok, &start, &end)) {
        int dup = 0;

        if (search_is_stopword(tok))
            continue;
        for (size_t i = 0; i < q->n && !dup; i++)
            dup = strcmp(q->s[i], tok) == 0;
        if (!dup)
            memcpy(q->s[q->n++], tok, sizeof(tok));
    }
}

/* ---- snippets ---------------------------------------------------------------------------- */

struct span_hit {
    size_t start, end;
    size_t term;
};

#define SNIPPET_CLUSTER_SPAN (TG_SNIPPET_CHARS / 2) /* widest cluster of query terms */
#define TITLE_TERM_WEIGHT    1
#define OTHER_TERM_WEIGHT    4

static size_t utf8_back(const char *s, size_t i) {
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
        i--;
    return i;
}

/* Write the snippet for text into out (TG_SNIPPET_CHARS * 2 bytes). 0 or TG_ENOMEM. */
static int make_snippet(const char *title, const char *text, const struct qterms *q, char *out,
                        size_t outsz) {
    size_t len = strlen(text), pos = 0, start, end, nh = 0, cap = 16;
    struct span_hit *hits = malloc(cap * sizeof(*hits));
    int weight[TG_SEARCH_MAX_TERMS], count[TG_SEARCH_MAX_TERMS] = {0};
    int best = 0, sum = 0;
    size_t bs = 0, be = 0, i = 0, ws, we, want = TG_SNIPPET_CHARS;
    char tok[SEARCH_TERM_MAX];

    if (!hits)
        return TG_ENOMEM;
    for (size_t t = 0; t < q->n; t++)
        weight[t] = OTHER_TERM_WEIGHT;
    while (next_token(title, &pos, tok, &start, &end))
        for (size_t t = 0; t < q->n; t++)
            if (strcmp(tok, q->s[t]) == 0)
                weight[t] = TITLE_TERM_WEIGHT;
    pos = 0;
    while (next_token(text, &pos, tok, &start, &end)) {
        for (size_t t = 0; t < q->n; t++) {
            if (strcmp(tok, q->s[t]) != 0)
                continue;
            if (nh == cap) {
                struct span_hit *nhits = realloc(hits, cap * 2 * sizeof(*hits));

                if (!nhits) {
                    free(hits);
                    return TG_ENOMEM;
                }
                hits = nhits;
                cap *= 2;
            }
            hits[nh].start = start;
            hits[nh].end = end;
            hits[nh++].term = t;
            break;
        }
    }
    /* densest cluster: two pointers over hits, spans up to SNIPPET_CLUSTER_SPAN bytes */
    for (size_t j = 0; j < nh; j++) {
        if (count[hits[j].term]++ == 0)
            sum += weight[hits[j].term];
        while (i <= j && hits[j].end - hits[i].start > SNIPPET_CLUSTER_SPAN) {
            if (--count[hits[i].term] == 0)
                sum -= weight[hits[i].term];
            i++;
        }
        if (sum > best) {
            best = sum;
            bs = hits[i].start;
            be = hits[j].end;
        }
    }
    free(hits);
    /* centre a window of `want` bytes on [bs, be), clamp to the text */
    if (len <= want) {
        ws = 0;
        we = len;
    } else {
        size_t margin = (want - (be - bs)) / 2;

        ws = bs > margin ? bs - margin : 0;
        we = ws + want;
        if (we > len) {
            we = len;
            ws = len - want;
        }
        /* cut on spaces, never inside the cluster; else on a UTF-8 boundary */
        if (ws > 0 && text[ws - 1] != ' ') {
            size_t k = ws;

            while (k < bs && text[k] != ' ')
                k++;
            ws = (k < bs) ? k + 1 : utf8_back(text, ws);
        }
        if (we < len && text[we] != ' ') {
            size_t k = we;

            while (k > be && text[k - 1] != ' ')
                k--;
            we = (k > be) ? k - 1 : utf8_back(text, we);
        }
    }
    while (ws < we && text[ws] == ' ')
        ws++;
    while (we > ws && text[we - 1] == ' ')
        we--;
    snprintf(out, outsz, "%s%.*s%s", ws > 0 ? "..." : "", (int)(we - ws), text + ws,
             we < len ? "..." : "");
    return 0;
}

int search_query(const struct search_index *ix, const char *query, size_t k,
                 struct search_hit *hits, size_t *nhits, struct tg_error *err) {
    struct qterms *q = NULL;
    const struct term *terms[TG_SEARCH_MAX_TERMS];
    size_t cur[TG_SEARCH_MAX_TERMS], nt = 0, nheap = 0;
    struct scored heap[TG_SEARCH_K_MAX];
    int rc = 0;

    *nhits = 0;
    if (!ix || !ix->finished) {
        tg_error_set(err, "not_ready", "the search index is not loaded");
        return TG_ESTATE;
    }
    if (k < 1 || k > TG_SEARCH_K_MAX) {
        tg_error_set(err, "invalid_k", "k must be between 1 and %d", TG_SEARCH_K_MAX);
        return TG_EINVAL;
    }
    if (strlen(query) > TG_SEARCH_MAX_QUERY) {
        tg_error_set(err, "too_long", "the query is longer than %d bytes", TG_SEARCH_MAX_QUERY);
        return TG_ERANGE;
    }
    q = malloc(sizeof(*q));
    if (!q) {
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
        return TG_ENOMEM;
    }
    query_terms(query, q);
    if (q->n == 0) {
        tg_error_set(err, "empty_query",
                     "the query has no searchable words (only punctuation, spaces or stopwords)");
        rc = TG_EINVAL;
        goto done;
    }
    for (size_t i = 0; i < q->n; i++) {
        const struct term *t = term_find(ix, q->s[i]);

        if (t) {
            terms[nt] = t;
            cur[nt++] = 0;
        }
    }
    /* document-at-a-time merge of the query terms' postings */
    for (;;) {
        uint32_t doc = UINT32_MAX;
        struct scored s = {0.0, 0};

        for (size_t i = 0; i < nt; i++)
            if (cur[i] < terms[i]->n && terms[i]->p[cur[i]].doc < doc)
                doc = terms[i]->p[cur[i]].doc;
        if (doc == UINT32_MAX)
            break;
        for (size_t i = 0; i < nt; i++) {
            if (cur[i] < terms[i]->n && terms[i]->p[cur[i]].doc == doc) {
                double tf = (double)terms[i]->p[cur[i]].tf;

                s.score += terms[i]->idf * tf * (SEARCH_K1 + 1.0) / (tf + ix->norm[doc]);
                cur[i]++;
            }
        }
        s.doc = doc;
        heap_offer(heap, &nheap, k, s);
    }
    qsort(heap, nheap, sizeof(heap[0]), cmp_best_first);
    for (size_t i = 0; i < nheap; i++) {
        uint32_t d = heap[i].doc;

        hits[i].id = ix->ids[d];
        hits[i].title = ix->titles[d];
        hits[i].score = heap[i].score;
        rc = make_snippet(ix->titles[d], ix->texts[d], q, hits[i].snippet, sizeof(hits[i].snippet));
        if (rc) {
            tg_error_set(err, TG_CODE_NOMEM, "out of memory");
            goto done;
        }
    }
    *nhits = nheap;
done:
    free(q);
    return rc;
}

/* ---- the tool ---------------------------------------------------------------------------- */

const char search_schema_json[] =
    "{\"type\":\"object\",\"properties\":{\"query\":{\"type\":\"string\",\"minLength\":1,"
    "\"maxBytes\":1024,\"description\":\"At most 1024 bytes of UTF-8.\"},"
    "\"k\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":20}},"
    "\"required\":[\"query\"],\"additionalProperties\":false}";

const char search_description[] =
    "Search a local encyclopedia of fictional people, cities, companies, mountains, rivers, "
    "ships, planets and inventions. Returns the k best documents (default 5) with id, title, "
    "a snippet around the query words and a BM25 score. Put the entity name and the "
    "attribute you need in the query, e.g. \"Varnholt population\".";

static struct search_index *g_index;

int search_init(const char *corpus_path, struct tg_error *err) {
    struct search_index *ix = NULL;
    char found[PATH_MAX];
    int rc = 0;

    if (!corpus_path) {
        rc = datadir_file(DATADIR_MARKER, found, sizeof(found), err);
        corpus_path = found;
    }
    if (rc == 0)
        rc = search_index_load(corpus_path, &ix, err);
    if (rc)
        return rc;
    search_index_free(g_index);
    g_index = ix;
    return 0;
}

void search_shutdown(void) {
    search_index_free(g_index);
    g_index = NULL;
}

/* "1. Title (id): snippet" lines into a new string, or "no results". */
static char *hits_text(const struct search_hit *hits, size_t n) {
    size_t total = 1, off = 0;
    char *s;

    if (n == 0)
        return strdup("no results");
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(NULL, 0, "%zu. %s (%s): %s\n", i + 1, hits[i].title, hits[i].id,
                         hits[i].snippet);

        if (w < 0)
            return NULL;
        total += (size_t)w;
    }
    s = malloc(total);
    if (!s)
        return NULL;
    for (size_t i = 0; i < n; i++)
        off += (size_t)snprintf(s + off, total - off, "%s%zu. %s (%s): %s", i ? "\n" : "", i + 1,
                                hits[i].title, hits[i].id, hits[i].snippet);
    return s;
}

int search_tool_invoke(const json_t *args, struct tg_cancel *cancel, struct tool_result *out) {
    struct search_hit hits[TG_SEARCH_K_MAX];
    struct tg_error err = {{0}, {0}};
    const json_t *jk = json_object_get(args, "k");
    const char *query = json_string_value(json_object_get(args, "query"));
    json_int_t k = jk ? json_integer_value(jk) : TG_SEARCH_K_DEFAULT;
    json_t *result = NULL, *arr = NULL;
    size_t n = 0;

    (void)cancel; /* a bounded, fast lookup: nothing to abandon */
    int rc;

    memset(out, 0, sizeof(*out));
    if (!query || (jk && !json_is_integer(jk)) || k < 1 || k > TG_SEARCH_K_MAX)
        return tool_result_fail(out, "invalid_arguments",
                                "search takes {\"query\": string, \"k\"?: 1..%d}", TG_SEARCH_K_MAX);
    rc = search_query(g_index, query, (size_t)k, hits, &n, &err);
    if (rc == TG_ENOMEM)
        return TG_ENOMEM;
    if (rc)
        return tool_result_fail(out, err.code, "%s", err.message);
    result = json_object();
    arr = json_array();
    if (!result || !arr) {
        json_decref(arr);
        goto oom;
    }
    if (json_object_set_new(result, "hits", arr)) /* steals arr even on failure */
        goto oom;
    for (size_t i = 0; i < n; i++) {
        json_t *h = json_pack("{s:s, s:s, s:s, s:f}", "id", hits[i].id, "title", hits[i].title,
                              "snippet", hits[i].snippet, "score", hits[i].score);

        if (!h || json_array_append_new(arr, h))
            goto oom;
    }
    out->content = hits_text(hits, n);
    if (!out->content)
        goto oom;
    out->ok = 1;
    out->result = result;
    return 0;
oom:
    json_decref(result);
    free(out->content);
    memset(out, 0, sizeof(*out));
    return TG_ENOMEM;
}

/* Where "title (id): " ends in a hit line: the first " (" + id characters + "): ". Returns the
 * id's start and length, or NULL. */
static const char *hit_id(const char *line, const char *end, size_t *len) {
    for (const char *p = line; p + 4 < end; p++) {
        const char *q;

        if (p[0] != ' ' || p[1] != '(')
            continue;
        for (q = p + 2; q < end && (isalnum((unsigned char)*q) || *q == '_' || *q == '-'); q++)
            ;
        if (q > p + 2 && q + 2 < end + 1 && q[0] == ')' && q[1] == ':' && q[2] == ' ') {
            *len = (size_t)(q - (p + 2));
            return p + 2;
        }
    }
    return NULL;
}

int search_result_from_content(const char *content, json_t **result) {
    json_t *hits = json_array();
    const char *p = content;
    size_t rank = 1;

    *result = NULL;
    if (!hits)
        return TG_ENOMEM;
    if (strcmp(content, "no results") == 0)
        goto done;
    while (*p) {
        char prefix[32];
        size_t plen = (size_t)snprintf(prefix, sizeof(prefix), "%zu. ", rank), next_plen, idlen;
        char next[32];
        const char *end, *id, *title = p + plen;
        json_t *h;

        if (strncmp(p, prefix, plen) != 0)
            goto bad;
        /* the hit runs to the next "\n<rank+1>. " (a snippet may hold newlines) */
        next_plen = (size_t)snprintf(next, sizeof(next), "\n%zu. ", rank + 1);
        end = strstr(p, next);
        if (!end)
            end = p + strlen(p);
        id = hit_id(title, end, &idlen);
        if (!id)
            goto bad;
        h = json_pack("{s:s%, s:s%, s:s%}", "id", id, idlen, "title", title,
                      (size_t)(id - 2 - title), "snippet", id + idlen + 3,
                      (size_t)(end - (id + idlen + 3)));
        if (!h || json_array_append_new(hits, h))
            goto bad;
        p = *end ? end + 1 : end;
        rank++;
        (void)next_plen;
    }
done:
    *result = json_pack("{s:o}", "hits", hits);
    return *result ? 0 : TG_ENOMEM;
bad:
    json_decref(hits);
    return TG_EINVAL;
}
