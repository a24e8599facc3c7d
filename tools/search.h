/*
 * search.h — the `search` tool: BM25 over an in-memory inverted index of a JSONL corpus.
 *
 * What it does: tokenises (lowercase ASCII letter/digit runs; every other byte, including
 * non-ASCII, separates tokens; a small stopword list is dropped), keeps a hash map from term
 * to a postings array of (doc, tf) in doc order, and ranks with Okapi BM25:
 *   score(d, q) = sum over distinct query terms t present in d of
 *                 idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))
 *   idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5)),  k1 = 1.2, b = 0.75,
 * where a document's token stream is its title TWICE followed by its text (the title weighs
 * double), so tf counts title occurrences twice and dl (indexed tokens, stopwords excluded)
 * counts title tokens twice; avgdl is the mean dl. A query
 * walks only the postings of its terms (document-at-a-time merge) and keeps the top k in a
 * small heap: cost grows with those postings, not with the corpus. Ties rank the document
 * added first higher. Snippets are windows of about TG_SNIPPET_CHARS characters of the text
 * around the densest cluster of query terms, where a query term that does not occur in the
 * title counts four times as much as one that does (the title is shown beside the snippet,
 * so the window favours the attribute words and the number next to them); windows are cut
 * on spaces and marked "..." at cut ends.
 * What it does not do: phrase queries, stemming, Unicode case folding, updates after
 * search_index_finish, or anything over the network.
 */
#ifndef TG_SEARCH_H
#define TG_SEARCH_H

#include <jansson.h>
#include <stddef.h>

#include "base/limits.h"
#include "base/tg.h"
#include "tools/tools.h"

#define SEARCH_K1       1.2
#define SEARCH_B        0.75
#define SEARCH_TERM_MAX 64 /* bytes of a term incl. NUL; longer tokens are truncated */

struct search_index;

struct search_hit {
    const char *id;    /* borrowed from the index */
    const char *title; /* borrowed from the index */
    char snippet[TG_SNIPPET_CHARS * 2];
    double score;
};

/* search_index_new — an empty index (new; free with search_index_free). 0 or TG_ENOMEM. */
int search_index_new(struct search_index **out);

/* search_index_free — release the index and every string it holds. Accepts NULL. */
void search_index_free(struct search_index *ix);

/*
 * search_index_add — add one document; id, title and text are borrowed (copied). Returns 0,
 * TG_ESTATE after search_index_finish, TG_ERANGE past TG_CORPUS_MAX_DOCS documents, or
 * TG_ENOMEM. Not thread-safe.
 */
int search_index_add(struct search_index *ix, const char *id, const char *title, const char *text);

/* search_index_finish — compute avgdl and idf; afterwards the index is read-only and
 * search_query may run concurrently from any number of threads. Returns 0. */
int search_index_finish(struct search_index *ix);

/*
 * search_index_load — build a finished index from a corpus file read with corpus_read (no
 * flags: each document needs string "id", "title" and "text"; other keys are ignored).
 * Returns 0 with *out new, or corpus_read's errors (naming the file and line number).
 */
int search_index_load(const char *path, struct search_index **out, struct tg_error *err);

/* search_index_docs — number of documents. */
size_t search_index_docs(const struct search_index *ix);

/*
 * search_query — rank documents for query (borrowed, NUL-terminated). Fills hits[0..*nhits)
 * best first, *nhits <= k; the caller owns hits (k entries). k in 1..TG_SEARCH_K_MAX.
 * Returns 0 (possibly with *nhits == 0 when no document has a query term),
 * TG_ERANGE {"too_long"} for queries over TG_SEARCH_MAX_QUERY bytes, TG_EINVAL {"empty_query"}
 * when no term survives tokenisation (only punctuation, spaces, non-ASCII or stopwords),
 * TG_EINVAL {"invalid_k"} for k out of range, TG_ESTATE if the index is not finished.
 * At most TG_SEARCH_MAX_TERMS distinct terms are scored (the first ones). Thread-safe.
 */
int search_query(const struct search_index *ix, const char *query, size_t k,
                 struct search_hit *hits, size_t *nhits, struct tg_error *err);

/*
 * search_tokenize — split text into terms as the index does; for tests and callers that
 * need the same normalisation. Writes up to max terms, stopwords dropped, each NUL-terminated
 * and truncated to SEARCH_TERM_MAX - 1 bytes, into terms[i]. Returns the number written.
 */
size_t search_tokenize(const char *text, char (*terms)[SEARCH_TERM_MAX], size_t max);

/* search_is_stopword — 1 if the lowercase term is on the stopword list. */
int search_is_stopword(const char *term);

/* ---- the tool ---------------------------------------------------------------------------- */

extern const char search_schema_json[];
extern const char search_description[];

/*
 * search_init — load the tool's global index from corpus_path (NULL: corpus.jsonl of the
 * data directory, base/datadir.h).
 * Start-up only, not thread-safe; calling it again replaces the index. 0 or a tg_err with
 * *err filled. search_shutdown frees it (safe without init).
 */
int search_init(const char *corpus_path, struct tg_error *err);
void search_shutdown(void);

/*
 * search_tool_invoke — tool_invoke_fn for args {"query": string, "k"?: 1..20} (borrowed,
 * schema-valid). On success out->ok = 1, out->result = {"hits":[{"id","title","snippet",
 * "score"}]}, out->content = "1. Title (id): snippet" lines or "no results". Tool-level
 * failures (ok = 0): "empty_query", "too_long", "not_ready" (no index loaded). Returns 0, or
 * TG_ENOMEM with *out cleared. Thread-safe after search_init.
 */
int search_tool_invoke(const json_t *args, struct tg_cancel *cancel, struct tool_result *out);

/* search_result_from_content — {"hits":[{"id","title","snippet"}]} from a successful search's
 * text ("N. title (id): snippet" lines, or "no results"); scores are not in the text. 0 with
 * *result new, or TG_EINVAL for text of another shape. Pure. */
int search_result_from_content(const char *content, json_t **result);

#endif
