/*
 * corpus.h — the search corpus: a deterministic generator of documents about fictional
 * entities, and a loader that gives the task generator borrowed access to each document.
 *
 * What it does: `corpus_generate` writes JSONL, one document a line,
 *   {"id":"d00001","title":"Varnholt","kind":"city","text":"...","facts":{"population":48211,...}}
 * from a seed, byte-for-byte reproducibly (integer-only arithmetic, its own RNG, its own JSON
 * writer). Titles are unique made-up names built from syllables; persons are "Given Surname"
 * with a unique surname. Every fact value appears in `text` as plain digits (no thousands
 * separators, at most 2 decimals) next to the fact's attribute phrase, e.g. "a population of
 * 48211". Fact sentences also carry the everyday words a question may use instead of the
 * attribute's name ("people" for population, "tall" for height, "cost" for price), so that a
 * search with either finds the value. The text also names 1-2 other entities of the corpus
 * and carries filler sentences (which never use an attribute phrase), so that ranking matters.
 * What it does not do: search (tools/search.c), task generation, or any I/O besides the
 * FILE it is given and the file corpus_load reads.
 *
 * Kinds and their fact keys (all facts of a kind are present in each of its documents);
 * the attribute phrase used in the text follows each key, then the unit:
 *   city:      population ("population"), founded ("founded"),
 *              area_km2 ("area", square kilometres), elevation_m ("elevation", metres)
 *   person:    birth_year ("born"), height_cm ("height", centimetres),
 *              books_published ("books published"), awards_won ("awards won")
 *   company:   revenue_musd ("revenue", million dollars, 1 decimal), employees ("employees"),
 *              founded ("founded"), offices ("offices")
 *   mountain:  height_m ("height", metres), first_ascent ("first ascent"),
 *              prominence_m ("prominence", metres)
 *   river:     length_km ("length", kilometres), discharge_m3s ("discharge", cubic metres per
 *              second, 1 decimal), basin_km2 ("drainage basin", square kilometres),
 *              tributaries ("tributaries")
 *   ship:      launched ("launched"), length_m ("length", metres, 2 decimals), crew ("crew"),
 *              tonnage ("tonnage", tons), top_speed_knots ("top speed", knots, 1 decimal)
 *   planet:    radius_km ("radius", kilometres), orbital_period_days ("orbital period", days,
 *              2 decimals), moons ("moons"), surface_gravity ("surface gravity", metres per
 *              second squared, 2 decimals), discovered ("discovered")
 *   invention: patented ("patented"), units_sold ("units sold"), weight_kg ("weight",
 *              kilograms, 2 decimals), price_usd ("price", dollars, 2 decimals)
 * corpus_fact_phrase / corpus_fact_unit return these at run time.
 */
#ifndef TG_CORPUS_H
#define TG_CORPUS_H

#include <jansson.h>
#include <stdio.h>

#include "base/tg.h"

/* The corpus shipped in the tree, `toolgym corpus gen --seed 1 --docs 600`, writes here by
 * default. Readers find it through base/datadir.h instead. */
#define CORPUS_DEFAULT_PATH "data/corpus.jsonl"
#define CORPUS_DEFAULT_SEED 1ULL
#define CORPUS_DEFAULT_DOCS 600
#define CORPUS_GEN_MAX_DOCS 1000000 /* names stay unique up to here (and past 100,000 tested) */

struct corpus;

/*
 * corpus_generate — write ndocs documents (1..CORPUS_GEN_MAX_DOCS) generated from seed to out
 * (borrowed, left open). The same (seed, ndocs) always yields the same bytes on any machine;
 * each (seed, ndocs) pair is its own corpus (relations point anywhere in it).
 * Returns 0, TG_ERANGE (ndocs out of range), TG_ENOMEM,
 * or TG_EIO (write failed), with *err filled. Thread-safe (no shared state).
 */
int corpus_generate(unsigned long long seed, size_t ndocs, FILE *out, struct tg_error *err);

/*
 * corpus_write_file — corpus_generate(seed, ndocs) into the file at path (borrowed), written
 * to path.tmp and renamed, so a failed run never leaves a torn corpus. Returns 0, or TG_EIO
 * (cannot write or rename), TG_EINVAL (path too long), or corpus_generate's errors, with
 * *err naming the file. (`toolgym corpus gen` is cmd/cmd_corpus.c.)
 */
int corpus_write_file(unsigned long long seed, size_t ndocs, const char *path,
                      struct tg_error *err);

/*
 * corpus_doc_fn — called by corpus_read with each document in file order: doc is borrowed
 * (take a reference to keep it). Returns 0 to go on, or a tg_err (TG_ENOMEM, ...) to stop.
 */
typedef int (*corpus_doc_fn)(void *ud, json_t *doc);

#define CORPUS_NEED_FACTS 1 /* corpus_read flag: every document also needs kind and facts */

/*
 * corpus_read — the one reader of the corpus format. Reads the JSONL file at path: lines up
 * to TG_CORPUS_LINE_MAX bytes, blank lines skipped, at most TG_CORPUS_MAX_DOCS documents; each
 * other line an object with string id, title and text (with CORPUS_NEED_FACTS in flags, also
 * a string kind and an object facts; other keys are allowed and ignored). Calls fn(ud, doc)
 * for each. Returns 0; TG_EIO (cannot open or read), TG_EINVAL (bad JSON, a missing or
 * mistyped field), TG_ERANGE (a line or the count past its limit), or fn's error, with *err
 * naming the file and line ("corpus.jsonl:3: title: missing"). Thread-safe if fn is.
 */
int corpus_read(const char *path, int flags, corpus_doc_fn fn, void *ud, struct tg_error *err);

/*
 * corpus_load — read a corpus file with corpus_read(CORPUS_NEED_FACTS) and keep every
 * document. Returns 0 with *out new (free with corpus_free), or corpus_read's errors.
 */
int corpus_load(const char *path, struct corpus **out, struct tg_error *err);

/* corpus_free — release a loaded corpus and every string it handed out. Accepts NULL. */
void corpus_free(struct corpus *c);

/*
 * Accessors. i < corpus_count(c). Every pointer is borrowed from c and valid until
 * corpus_free. Read-only access is thread-safe.
 */
size_t corpus_count(const struct corpus *c);
const char *corpus_doc_id(const struct corpus *c, size_t i);
const char *corpus_doc_title(const struct corpus *c, size_t i);
const char *corpus_doc_kind(const struct corpus *c, size_t i);
const char *corpus_doc_text(const struct corpus *c, size_t i);
const json_t *corpus_doc_facts(const struct corpus *c, size_t i); /* {"key": number, ...} */

/*
 * corpus_fact_phrase — the attribute phrase the text uses next to the value of fact `key`
 * of documents of `kind` ("population", "orbital period"), or NULL if the pair is unknown.
 * corpus_fact_unit — its unit as written after the value ("metres", "million dollars"), ""
 * when the value carries no unit, NULL if unknown. Static strings; thread-safe.
 */
const char *corpus_fact_phrase(const char *kind, const char *key);
const char *corpus_fact_unit(const char *kind, const char *key);

/*
 * corpus_syllable / corpus_given_name — the i-th syllable that generated names are built from
 * (a name is 2 syllables with probability 0.2, 3 with 0.4, 4 with 0.4, capitalised), and the
 * i-th given name of persons ("Given Surname", the surname built like a name); NULL past the
 * last. The task generator makes names of entities that are NOT in the corpus the same way,
 * so that nothing on their surface tells them apart. Static strings; thread-safe.
 */
const char *corpus_syllable(size_t i);
const char *corpus_given_name(size_t i);

/*
 * corpus_format_value — write a fact value (borrowed JSON integer or real) as the text
 * writes it: plain digits, no thousands separators, at most 2 decimals with trailing zeros
 * dropped (48211, 3.75, 412.5). Returns 0, TG_EINVAL if v is not a number, TG_ERANGE if buf
 * (n bytes) is too small. Thread-safe.
 */
int corpus_format_value(const json_t *v, char *buf, size_t n);

#endif
