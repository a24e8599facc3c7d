/*
 * grammar.h — the task grammar: rules of alternative productions read from JSON files
 * (the .json files of data/grammar/), checked statically, and expanded at random into prompts.
 *
 * What it does: load every .json file of a directory (in sorted order) into one set of named
 * rules; parse each production's text into literal text, references to other rules, and
 * placeholders; check that a root rule, under a given binding, always expands (every reference
 * resolves, no cycles, only provided placeholders, every required placeholder present in every
 * expansion, nothing held out where held-out productions are not allowed); and expand a root
 * with a seeded RNG into text, the tags of the productions used, and the frame (the text with
 * placeholder values left as {NAME}). The file format is documented in docs/tasks.md.
 *
 * Production text syntax:
 *   <name>        expand rule `name`;
 *   <@name>       expand `name` scoped to the current slot (at top level: slot 1): the first of
 *                 attr.<kind>.<key>.name, kind.<kind>.name, name that exists;
 *   <@1:name> <@2:name> <@d:name>   the same for slot 1, slot 2 or the distractor slot d
 *                 (d has a kind but no attribute);
 *   <%name>       expand conv.<conversion>.name of the bound conversion;
 *   <...|flag>    any reference made conditional: it expands only when `flag` is set;
 *   {NAME}        a placeholder the generator fills (names fixed at load: an unknown one is an
 *                 error); {X} is the current slot's entity (its slot placeholder) and {XV}
 *                 the current slot's stated value (its slot value placeholder);
 *   {n:LO-HI}     a uniform random integer in [LO, HI] (0 <= LO <= HI <= 999999999).
 * What it does not do: know what a task family computes (server/taskgen.c binds values and
 * builds plans), touch files after loading, or hold global state.
 * Thread-safety: a loaded grammar is read-only; expansions with separate RNGs may run
 * concurrently.
 */
#ifndef TG_GRAMMAR_H
#define TG_GRAMMAR_H

#include <jansson.h>
#include <stddef.h>

#include "base/limits.h"
#include "base/rng.h"
#include "base/tg.h"

#define GRAMMAR_PH_MAX    32 /* placeholder names a generator may declare */
#define GRAMMAR_FLAGS_MAX 8
#define GRAMMAR_DEPTH_MAX 48 /* nesting of one expansion (cycles are rejected at load) */
#define GRAMMAR_FILES_MAX 64 /* .json files in a grammar directory */
#define GRAMMAR_RULES_MAX 8192

/* The slots a production can refer to: the entities of the plan and a distractor entity. */
enum grammar_slot { GRAMMAR_SLOT_1, GRAMMAR_SLOT_2, GRAMMAR_SLOT_D, GRAMMAR_SLOTS };

struct grammar;

/* What a generator declares: the placeholder names ({NAME}) and flags (<...|flag>) it knows,
 * and which placeholder names each slot's entity: {X} stands for it in that slot. */
struct grammar_names {
    const char *const *placeholders; /* borrowed; at most GRAMMAR_PH_MAX */
    size_t nplaceholders;
    const char *const *flags; /* borrowed; at most GRAMMAR_FLAGS_MAX */
    size_t nflags;
    const char *slot_placeholders[GRAMMAR_SLOTS]; /* e.g. "E", "E2", "D" (names above) */
    const char *slot_values[GRAMMAR_SLOTS];       /* {XV}: e.g. "V", "V2", NULL */
};

/*
 * grammar_load_dir — load every ".json" file of dir (borrowed path) in sorted name order.
 * Returns 0 with *out new (free with grammar_free), or TG_EIO / TG_EINVAL / TG_ENOMEM with
 * *err naming the file and, for a bad production, the rule and alternative
 * ("data/grammar/lookup.json: production lookup.q[3]: unknown placeholder {Q}"). Errors found
 * here: unreadable or invalid JSON, unknown keys, an empty production list, a malformed
 * reference or placeholder, an unknown placeholder or flag, a malformed tag, a rule defined
 * twice, a held-out production without a tag of its own. Not thread-safe (start-up).
 */
int grammar_load_dir(const char *dir, const struct grammar_names *names, struct grammar **out,
                     struct tg_error *err);

/* grammar_load_files — the same for an explicit list of files (borrowed), in that order. */
int grammar_load_files(const char *const *paths, size_t n, const struct grammar_names *names,
                       struct grammar **out, struct tg_error *err);

/* grammar_free — accepts NULL. */
void grammar_free(struct grammar *g);

/* grammar_has_rule — 1 if a rule of that name exists. */
int grammar_has_rule(const struct grammar *g, const char *name);

/*
 * Sections besides the rules, merged over the files (a key defined twice is a load error):
 * "attributes" {"<kind>.<key>": {...}}, "conversions" {"<name>": {...}} and "families"
 * {"<family>": {"ops": {"<op>": "<root rule>"}, "bind": {"<PLACEHOLDER>": "<rule>"}}}.
 * Nested "rules" objects inside attributes, kinds, conversions define attr.<kind>.<key>.*,
 * kind.<kind>.*, conv.<name>.* rules and are not part of these objects. The returned objects
 * are borrowed from g (NULL when absent); the generator validates their meaning.
 */
const json_t *grammar_attributes(const struct grammar *g);
const json_t *grammar_conversions(const struct grammar *g);
const json_t *grammar_families(const struct grammar *g);

/* The file that defined a section key or a rule (for error messages); "?" if unknown. */
const char *grammar_file_of(const struct grammar *g, const char *section, const char *key);

/* A binding of the slots and the conversion, for checking and expanding. */
struct grammar_scope {
    const char *kind; /* borrowed; NULL: the slot is unbound */
    const char *key;  /* borrowed; NULL for the distractor slot or a kind-only scope */
};

struct grammar_binding {
    struct grammar_scope slot[GRAMMAR_SLOTS];
    const char *conv; /* borrowed conversion name, or NULL */
};

/*
 * grammar_check — check that rule `root` always expands under binding b: every reference
 * reachable from it resolves (scoped ones through the bound kinds and attributes), there is no
 * cycle, every placeholder it may use is in `provided` (bit i: placeholder i of the names),
 * every placeholder of `required` appears in every expansion, and, unless ood is set, every
 * reachable rule has a production that is not held out. `what` (borrowed) names the family
 * and op for the message. Returns 0 or TG_EINVAL with *err naming the file and production.
 * Pure.
 */
int grammar_check(const struct grammar *g, const char *root, const struct grammar_binding *b,
                  unsigned provided, unsigned required, int ood, const char *what,
                  struct tg_error *err);

/* What an expansion produced. */
struct grammar_out {
    char text[TG_TASK_PROMPT_MAX];  /* the prompt, tidied (see grammar_expand) */
    char frame[TG_TASK_PROMPT_MAX]; /* the same with placeholders and slot entities as {NAME} */
    char tags[TG_TASK_TAGS_MAX][TG_TASK_TAG_MAX + 1]; /* distinct tags, in first-use order */
    size_t ntags;
    int first[GRAMMAR_PH_MAX]; /* offset in text where placeholder i first appears (a slot's
                                  {X} counts as its slot placeholder), -1 if never */
    int heldout;               /* a held-out (ood) production was used */
};

struct grammar_ctx {
    const struct grammar_binding *b;
    const char *const *values; /* borrowed: value of placeholder i, NULL if not provided */
    unsigned flags;            /* bit i: flag i of the names is set */
    int ood;                   /* held-out productions may be chosen */
    double ood_boost;          /* weight factor of held-out productions when ood (>= 1) */
    int keep_case;             /* 1: no capitals at sentence starts (a phrase, not a prompt) */
    struct rng *rng;           /* borrowed; advanced */
};

/*
 * grammar_expand — expand rule `root` under ctx into *out. The text is tidied: whitespace runs
 * collapse to one space, no space before , . ; : ? ! or ), and the first letter of the text
 * and of every sentence after . ? ! is capitalised. Returns 0, TG_ERANGE if the text would
 * exceed TG_TASK_PROMPT_MAX bytes or the tags TG_TASK_TAGS_MAX, or TG_EINVAL with *err if a
 * reference does not resolve (grammar_check first to rule that out). Deterministic in the RNG.
 */
int grammar_expand(const struct grammar *g, const char *root, const struct grammar_ctx *ctx,
                   struct grammar_out *out, struct tg_error *err);

/*
 * grammar_heldout_tags — the tags that only held-out productions carry (each held-out
 * production has at least one), as a new JSON array of strings in sorted order; NULL on
 * ENOMEM. For documentation and tests.
 */
json_t *grammar_heldout_tags(const struct grammar *g);

/* grammar_rule_count / grammar_alt_count — sizes, for statistics. */
size_t grammar_rule_count(const struct grammar *g);
size_t grammar_alt_count(const struct grammar *g);

#endif
