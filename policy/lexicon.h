/*
 * lexicon.h — what English words can mean, from WordNet 3.0 (Princeton's lexical database,
 * Debian's wordnet-base package): for a word as the tokenizer writes it (lowercase), the
 * synsets (sets of words that share one meaning) its base forms belong to, so the policy
 * can give "altitude" and "height", or "established" and "founded", a shared piece of their
 * embeddings without anyone writing down that they are related.
 *
 * A word's concepts: for each part of speech (noun, verb, adjective, adverb) its base forms
 * by WordNet's own morphology (the exception lists, then the detachment rules: "founded" →
 * "found", "heavier" → "heavy", "cities" → "city"), each base form's first LEXICON_SENSES
 * senses (WordNet lists them most frequent first), de-duplicated, at most `max`. Two-word
 * entries ("per cent", "head count") are looked up joined by an underscore, as WordNet writes
 * them. A concept is the synset's byte offset in its data file times 4 plus the part of
 * speech (0 noun, 1 verb, 2 adjective, 3 adverb): stable for one WordNet release.
 *
 * Nothing here is written for toolgym's tasks: the data is the published database as Debian
 * ships it, read whole; which concepts matter is learned.
 *
 * lexicon_default() reads the directory named by TOOLGYM_WORDNET, else /usr/share/wordnet,
 * once per process; it is NULL when neither holds the index files (the policy then reads
 * words without it, and a checkpoint that was trained with it refuses to load: ckpt.h).
 * Does not: write anything, or know about tasks. Thread-safety: a loaded lexicon is
 * immutable; lexicon_default is safe to call from any thread.
 */
#ifndef TG_LEXICON_H
#define TG_LEXICON_H

#include <stdint.h>

#include "base/tg.h"

#define LEXICON_SENSES 8  /* senses kept per base form and part of speech */
#define LEXICON_MAX    16 /* concepts of one word the policy uses */

struct lexicon;

/*
 * lexicon_load — read WordNet's index.{noun,verb,adj,adv} and {noun,verb,adj,adv}.exc from
 * dir. Returns 0 and *out (free with lexicon_free); TG_EIO when an index file is missing or
 * unreadable, TG_EINVAL when one is not WordNet's format (message names the file and line),
 * TG_ENOMEM.
 */
int lexicon_load(const char *dir, struct lexicon **out, struct tg_error *err);

void lexicon_free(struct lexicon *lx);

/*
 * lexicon_concepts — the concepts of word (lowercase, NUL-terminated; an entry of two words
 * joined by '_') into ids[0..max), in a fixed order (part of speech, then base form, then
 * sense). Returns how many; 0 for a word WordNet does not know.
 */
int lexicon_concepts(const struct lexicon *lx, const char *word, uint32_t *ids, int max);

/* lexicon_has — 1 when word (as above) is an entry of any part of speech as written. */
int lexicon_has(const struct lexicon *lx, const char *word);

/* lexicon_fingerprint — a hash of everything lexicon_concepts can return; never 0. */
uint32_t lexicon_fingerprint(const struct lexicon *lx);

/* lexicon_default — the process's lexicon (see above), or NULL with *err (may be NULL) saying
 * why: the directory tried and what was wrong. */
const struct lexicon *lexicon_default(struct tg_error *err);

#endif
