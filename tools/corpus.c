/*
 * corpus.c — the deterministic generator of the fictional-entity search corpus, its
 * file writer behind `toolgym corpus gen` (cmd/cmd_corpus.c), and the loader the task
 * generator uses.
 *
 * Generation is two passes over a splitmix64 stream: first every document's kind and unique
 * name (a hash set rejects names already taken and every word the templates use, so a name
 * token never collides with ordinary text), then every document's text: an intro sentence,
 * then fact sentences, fillers and 1-2 relation sentences in shuffled order. Arithmetic is
 * integer-only and the JSON is written by hand, so output is identical on every machine.
 * It does not index or search anything (tools/search.c does).
 */
#include "tools/corpus.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/dbuf.h"
#include "base/hash.h"
#include "base/json_util.h"
#include "base/limits.h"
#include "base/rng.h"

/* ---- tables ------------------------------------------------------------------------------ */

struct fact_def {
    const char *key;
    const char *phrase;   /* attribute words as written next to the value */
    const char *unit;     /* written after the value, "" if none */
    const char *sentence; /* @V value, @N entity name */
    long long lo, hi;     /* range in units of 10^-decimals */
    int decimals;
};

#define KIND_MAX_FACTS 5

struct kind_def {
    const char *name;
    const char *intro; /* @N name, @R region, @W descriptor word */
    const char *const *words;
    size_t nwords;
    struct fact_def facts[KIND_MAX_FACTS];
    size_t nfacts;
};

static const char *const w_city[] = {"city"};
static const char *const w_person[] = {"painter",  "engineer",  "cartographer", "composer",
                                       "botanist", "navigator", "physician",    "poet"};
static const char *const w_company[] = {"company"};
static const char *const w_mountain[] = {"mountain"};
static const char *const w_river[] = {"river"};
static const char *const w_ship[] = {"ship"};
static const char *const w_planet[] = {"planet"};
static const char *const w_invention[] = {"invention"};

#define WORDS(a) a, TG_ARRAY_LEN(a)

static const struct kind_def kinds[] = {
    {"city",
     "@N is a city in the @R region.",
     WORDS(w_city),
     {{"population", "population", "",
       "Its population of @V people lives mostly around the old market.", 800, 2500000, 0},
      {"founded", "founded", "", "The settlement was founded in @V.", 850, 1995, 0},
      {"area_km2", "area", "square kilometres",
       "The municipality covers an area of @V square kilometres of land.", 4, 2400, 0},
      {"elevation_m", "elevation", "metres",
       "Its old town sits at an elevation of @V metres above sea level.", 2, 3400, 0}},
     4},
    {"person",
     "@N is a @W from the @R region.",
     WORDS(w_person),
     {{"birth_year", "born", "", "@N was born in @V.", 1620, 1990, 0},
      {"height_cm", "height", "centimetres",
       "Contemporary records list a height of @V centimetres, the measure of how tall @N stood.",
       148, 203, 0},
      {"books_published", "books published", "", "The tally of books published came to @V.", 1, 60,
       0},
      {"awards_won", "awards won", "",
       "Over the years the count of awards won rose to @V, prizes and medals alike.", 1, 25, 0}},
     4},
    {"company",
     "@N is a company headquartered in the @R region.",
     WORDS(w_company),
     {{"revenue_musd", "revenue", "million dollars",
       "Sales brought in annual revenue of @V million dollars last year.", 10, 90000, 1},
      {"employees", "employees", "",
       "The firm's @V employees are the people who work on its staff.", 12, 250000, 0},
      {"founded", "founded", "", "The company was founded in @V.", 1820, 2015, 0},
      {"offices", "offices", "", "It runs @V offices, its branches across the continent.", 1, 140,
       0}},
     4},
    {"mountain",
     "@N is a mountain in the @R range.",
     WORDS(w_mountain),
     {{"height_m", "height", "metres", "Its tall summit rises high to a height of @V metres.", 900,
       8400, 0},
      {"first_ascent", "first ascent", "",
       "The mountain was first climbed in @V, its recorded first ascent.", 1780, 2010, 0},
      {"prominence_m", "prominence", "metres", "Its topographic prominence is @V metres.", 150,
       4500, 0}},
     3},
    {"river",
     "@N is a river that flows through the @R region.",
     WORDS(w_river),
     {{"length_km", "length", "kilometres",
       "Its length is @V kilometres, which is how long it runs from source to mouth.", 40, 5200, 0},
      {"discharge_m3s", "discharge", "cubic metres per second",
       "Water flows out at a mean discharge of @V cubic metres per second.", 30, 420000, 1},
      {"basin_km2", "drainage basin", "square kilometres",
       "The drainage basin spans an area of @V square kilometres.", 300, 900000, 0},
      {"tributaries", "tributaries", "",
       "It is fed by @V tributaries, the streams that flow into it.", 2, 70, 0}},
     4},
    {"ship",
     "@N is a ship registered in the @R region.",
     WORDS(w_ship),
     {{"launched", "launched", "", "The vessel was launched in @V.", 1780, 2020, 0},
      {"length_m", "length", "metres",
       "From bow to stern she is @V metres long, the length on record.", 1800, 38000, 2},
      {"crew", "crew", "", "She sailed with a crew of @V sailors.", 6, 3200, 0},
      {"tonnage", "tonnage", "tons", "Her size is given as a gross tonnage of @V tons.", 120,
       160000, 0},
      {"top_speed_knots", "top speed", "knots",
       "Trials showed how fast she could go: a top speed of @V knots.", 60, 380, 1}},
     5},
    {"planet",
     "@N is a planet in the @R system.",
     WORDS(w_planet),
     {{"radius_km", "radius", "kilometres",
       "The size of the planet is given by a mean radius of @V kilometres.", 900, 72000, 0},
      {"orbital_period_days", "orbital period", "days",
       "A year there, its orbital period, lasts @V days around its star.", 2000, 9000000, 2},
      {"moons", "moons", "", "It is circled by @V moons in orbit.", 0, 80, 0},
      {"surface_gravity", "surface gravity", "metres per second squared",
       "The surface gravity is @V metres per second squared.", 30, 3000, 2},
      {"discovered", "discovered", "", "It was discovered in @V.", 1610, 2024, 0}},
     5},
    {"invention",
     "@N is an invention first built in the @R region.",
     WORDS(w_invention),
     {{"patented", "patented", "", "The design was invented and patented in @V.", 1700, 2020, 0},
      {"units_sold", "units sold", "", "Records show @V units sold worldwide.", 40, 5000000, 0},
      {"weight_kg", "weight", "kilograms",
       "Typical units weigh @V kilograms, the weight in catalogues.", 5, 95000, 2},
      {"price_usd", "price", "dollars",
       "It was offered at a price of @V dollars, the cost to buyers.", 50, 2500000, 2}},
     4},
};

/* Fillers and relations never use an attribute phrase (tests/test_corpus.c checks). */
static const char *const fillers[] = {
    "Its name comes from an old word for a quiet place.",
    "Historians still debate parts of its story.",
    "Visitors often remark on the changing weather nearby.",
    "Several guidebooks describe it in detail.",
    "Little is written about its early years.",
    "It appears in a handful of regional legends.",
    "Its image has been used on stamps and coins.",
    "Many local songs refer to it.",
    "It is a frequent subject of paintings.",
    "Archives hold letters that describe it.",
};

static const char *const relations[] = {
    "It is often mentioned alongside the @K @X.",
    "Local accounts link its history to the @K @X.",
    "Scholars have compared it with @X.",
    "A well known story connects it with @X.",
};

static const char *const given_names[] = {
    "Ilsa",   "Marek", "Tove",  "Oren",  "Sabeth",  "Jorun", "Calix",  "Mira",
    "Anselm", "Petra", "Edvin", "Liora", "Bastian", "Runa",  "Teodor", "Yselle",
};

static const char *const syllables[] = {
    "var", "nol", "tha", "bren", "kor", "mi",  "sel", "dra",  "ven", "ost", "lun",
    "hal", "mar", "ris", "tel",  "gor", "wyn", "fa",  "quen", "zor", "bel", "dun",
    "ar",  "iv",  "el",  "ka",   "lo",  "rhu", "sta", "tor",  "um",  "vel", "yra",
    "zan", "cai", "dor", "fen",  "gil", "hes", "jor", "kel",  "lir", "mor", "nes",
    "pra", "qui", "ros", "sur",  "tam", "ulm", "vor", "wex",  "yl",  "zep",
};

#define NREGIONS      32
#define NAME_CHARS    48   /* "Given Surname": 8 + 1 + 4 syllables of <= 4 chars + NUL */
#define NAME_ATTEMPTS 4096 /* draws before giving up on a unique name (never hit in practice) */
#define TEXT_CHARS    4096
#define LINE_CHARS    6144
#define MAX_SENTENCES 16

/* ---- draws ------------------------------------------------------------------------------ */

/* Draws come from a splitmix64 stream (base/rng.h) held in a uint64_t, started at the seed:
 * the shipped data/corpus.jsonl depends on the exact stream. */

/* Uniform-enough in [0, n) for n > 0 (modulo bias is irrelevant here). */
static uint64_t draw_below(uint64_t *r, uint64_t n) {
    return rng_splitmix64(r) % n;
}

/* ---- string set (open addressing, owned copies) ----------------------------------------- */

struct strset {
    char **slots;
    size_t cap; /* power of two */
    size_t len;
};

static void strset_free(struct strset *s) {
    if (!s->slots)
        return;
    for (size_t i = 0; i < s->cap; i++)
        free(s->slots[i]);
    free(s->slots);
    s->slots = NULL;
}

static int strset_init(struct strset *s, size_t expected) {
    size_t cap = 64;

    while (cap < expected * 2 + 16)
        cap <<= 1;
    s->slots = calloc(cap, sizeof(*s->slots));
    s->cap = cap;
    s->len = 0;
    return s->slots ? 0 : TG_ENOMEM;
}

static size_t strset_slot(const struct strset *s, const char *key) {
    size_t i = (size_t)hash_tg_str(key) & (s->cap - 1);

    while (s->slots[i] && strcmp(s->slots[i], key) != 0)
        i = (i + 1) & (s->cap - 1);
    return i;
}

static int strset_has(const struct strset *s, const char *key) {
    return s->slots[strset_slot(s, key)] != NULL;
}

/* Insert a copy of key (no-op if present). Grows at half load. */
static int strset_add(struct strset *s, const char *key) {
    size_t i;

    if ((s->len + 1) * 2 > s->cap) {
        struct strset bigger;
        int rc = strset_init(&bigger, s->cap);

        if (rc)
            return rc;
        for (size_t j = 0; j < s->cap; j++)
            if (s->slots[j])
                bigger.slots[strset_slot(&bigger, s->slots[j])] = s->slots[j];
        bigger.len = s->len;
        free(s->slots);
        *s = bigger;
    }
    i = strset_slot(s, key);
    if (s->slots[i])
        return 0;
    s->slots[i] = strdup(key);
    if (!s->slots[i])
        return TG_ENOMEM;
    s->len++;
    return 0;
}

/* Add every lowercase alnum word of text to the set. */
static int strset_add_words(struct strset *s, const char *text) {
    char w[64];
    size_t n = 0;

    for (const char *p = text;; p++) {
        if (*p && isalnum((unsigned char)*p)) {
            if (n + 1 < sizeof(w))
                w[n++] = (char)tolower((unsigned char)*p);
            continue;
        }
        if (n) {
            int rc;

            w[n] = '\0';
            rc = strset_add(s, w);
            if (rc)
                return rc;
            n = 0;
        }
        if (!*p)
            return 0;
    }
}

/* ---- text assembly ----------------------------------------------------------------------- */

/* Append printf-style text to buf (size n) at *len; TG_EINTERNAL if it would not fit. */
static int append(char *buf, size_t n, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int append(char *buf, size_t n, size_t *len, const char *fmt, ...) {
    va_list ap;
    int w;

    va_start(ap, fmt);
    w = vsnprintf(buf + *len, n - *len, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= n - *len)
        return TG_EINTERNAL;
    *len += (size_t)w;
    return 0;
}

/* Append k bytes of s; TG_EINTERNAL if they would not fit. */
static int append_n(char *buf, size_t n, size_t *len, const char *s, size_t k) {
    if (k >= n - *len)
        return TG_EINTERNAL;
    memcpy(buf + *len, s, k);
    *len += k;
    buf[*len] = '\0';
    return 0;
}

/* Digits of v / 10^dec with trailing fractional zeros dropped ("412.5", "48211", "0.05"). */
static void format_scaled(long long v, int dec, char *out, size_t n) {
    long long scale = dec == 2 ? 100 : dec == 1 ? 10 : 1;
    long long ip, fp;
    const char *sign = "";
    char frac[4];

    if (v < 0) {
        sign = "-";
        v = -v;
    }
    ip = v / scale;
    fp = v % scale;
    if (dec == 0 || fp == 0) {
        snprintf(out, n, "%s%lld", sign, ip);
        return;
    }
    snprintf(frac, sizeof(frac), "%0*lld", dec, fp);
    for (int i = dec - 1; i > 0 && frac[i] == '0'; i--)
        frac[i] = '\0';
    snprintf(out, n, "%s%lld.%s", sign, ip, frac);
}

struct subst {
    const char *name, *region, *word, *value, *other, *other_kind;
};

/* Expand @N @R @W @V @X @K markers of tmpl into buf. */
static int expand(const char *tmpl, const struct subst *sb, char *buf, size_t n, size_t *len) {
    for (const char *p = tmpl; *p; p++) {
        const char *rep = NULL;
        int rc;

        if (p[0] == '@' && p[1]) {
            switch (p[1]) {
            case 'N':
                rep = sb->name;
                break;
            case 'R':
                rep = sb->region;
                break;
            case 'W':
                rep = sb->word;
                break;
            case 'V':
                rep = sb->value;
                break;
            case 'X':
                rep = sb->other;
                break;
            case 'K':
                rep = sb->other_kind;
                break;
            default:
                break;
            }
        }
        if (rep) {
            rc = append_n(buf, n, len, rep, strlen(rep));
            p++;
        } else {
            rc = append_n(buf, n, len, p, 1);
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* JSON string body of s (ASCII in practice; escapes quotes, backslashes, controls). */
static int append_json_str(char *buf, size_t n, size_t *len, const char *s) {
    int rc = append(buf, n, len, "\"");

    for (; !rc && *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\')
            rc = append(buf, n, len, "\\%c", c);
        else if (c < 0x20)
            rc = append(buf, n, len, "\\u%04x", c);
        else
            rc = append_n(buf, n, len, s, 1);
    }
    return rc ? rc : append(buf, n, len, "\"");
}

/* ---- generation -------------------------------------------------------------------------- */

/* A capitalised name of 2-4 syllables not yet in `taken` (then added to it). */
static int gen_name(uint64_t *r, struct strset *taken, char *out, size_t n, struct tg_error *err) {
    for (int attempt = 0; attempt < NAME_ATTEMPTS; attempt++) {
        uint64_t d = draw_below(r, 10);
        int ns = d < 2 ? 2 : d < 6 ? 3 : 4;
        size_t len = 0;

        out[0] = '\0';
        for (int i = 0; i < ns; i++) {
            const char *syl = syllables[draw_below(r, TG_ARRAY_LEN(syllables))];

            if (append(out, n, &len, "%s", syl))
                return TG_EINTERNAL;
        }
        if (strset_has(taken, out))
            continue;
        if (strset_add(taken, out))
            return TG_ENOMEM;
        out[0] = (char)toupper((unsigned char)out[0]);
        return 0;
    }
    tg_error_set(err, "corpus", "could not find a unique name after %d draws", NAME_ATTEMPTS);
    return TG_ERANGE;
}

/* Reserve every word the templates write, so no generated name equals one of them. */
static int reserve_template_words(struct strset *taken) {
    int rc = 0;

    for (size_t k = 0; !rc && k < TG_ARRAY_LEN(kinds); k++) {
        rc = strset_add_words(taken, kinds[k].intro);
        rc = rc ? rc : strset_add_words(taken, kinds[k].name);
        for (size_t w = 0; !rc && w < kinds[k].nwords; w++)
            rc = strset_add_words(taken, kinds[k].words[w]);
        for (size_t f = 0; !rc && f < kinds[k].nfacts; f++)
            rc = strset_add_words(taken, kinds[k].facts[f].sentence);
    }
    for (size_t i = 0; !rc && i < TG_ARRAY_LEN(fillers); i++)
        rc = strset_add_words(taken, fillers[i]);
    for (size_t i = 0; !rc && i < TG_ARRAY_LEN(relations); i++)
        rc = strset_add_words(taken, relations[i]);
    for (size_t i = 0; !rc && i < TG_ARRAY_LEN(given_names); i++)
        rc = strset_add_words(taken, given_names[i]);
    return rc;
}

/* Write one document line for entity i. */
static int write_doc(uint64_t *r, size_t i, size_t ndocs, const unsigned char *kind_of,
                     char (*names)[NAME_CHARS], char (*regions)[NAME_CHARS], FILE *out,
                     struct tg_error *err) {
    const struct kind_def *kd = &kinds[kind_of[i]];
    char text[TEXT_CHARS], line[LINE_CHARS], facts[1024];
    char values[KIND_MAX_FACTS][32];
    size_t norder = 0, tlen = 0, llen = 0, flen = 0;
    struct subst sb = {names[i], regions[draw_below(r, NREGIONS)], NULL, NULL, NULL, NULL};
    size_t nfill, nrel, others[2];
    int kinds_of_sentence[MAX_SENTENCES]; /* 0 fact, 1 filler, 2 relation */
    size_t index_of_sentence[MAX_SENTENCES];
    int rc;

    sb.word = kd->words[draw_below(r, kd->nwords)];
    rc = expand(kd->intro, &sb, text, sizeof(text), &tlen);
    if (rc)
        goto fail;

    /* facts: values and the JSON object in key order */
    rc = append(facts, sizeof(facts), &flen, "{");
    for (size_t f = 0; !rc && f < kd->nfacts; f++) {
        const struct fact_def *fd = &kd->facts[f];
        long long v = fd->lo + (long long)draw_below(r, (uint64_t)(fd->hi - fd->lo + 1));

        format_scaled(v, fd->decimals, values[f], sizeof(values[f]));
        rc = append(facts, sizeof(facts), &flen, "%s\"%s\":%s", f ? "," : "", fd->key, values[f]);
        kinds_of_sentence[norder] = 0;
        index_of_sentence[norder++] = f;
    }
    rc = rc ? rc : append(facts, sizeof(facts), &flen, "}");
    if (rc)
        goto fail;

    /* 2-3 distinct fillers, 1-2 relations to other entities */
    nfill = 2 + (size_t)draw_below(r, 2);
    for (size_t k = 0; k < nfill; k++) {
        size_t pick;
        int dup;

        do {
            pick = (size_t)draw_below(r, TG_ARRAY_LEN(fillers));
            dup = 0;
            for (size_t j = 0; j < norder; j++)
                if (kinds_of_sentence[j] == 1 && index_of_sentence[j] == pick)
                    dup = 1;
        } while (dup);
        kinds_of_sentence[norder] = 1;
        index_of_sentence[norder++] = pick;
    }
    nrel = ndocs > 2 ? 1 + (size_t)draw_below(r, 2) : ndocs - 1;
    for (size_t k = 0; k < nrel; k++) {
        do
            others[k] = (size_t)draw_below(r, ndocs);
        while (others[k] == i || (k == 1 && others[1] == others[0]));
        kinds_of_sentence[norder] = 2;
        index_of_sentence[norder++] = k;
    }

    /* shuffle everything after the intro (Fisher-Yates) */
    for (size_t k = norder; k > 1; k--) {
        size_t j = (size_t)draw_below(r, k);
        int tk = kinds_of_sentence[k - 1];
        size_t ti = index_of_sentence[k - 1];

        kinds_of_sentence[k - 1] = kinds_of_sentence[j];
        index_of_sentence[k - 1] = index_of_sentence[j];
        kinds_of_sentence[j] = tk;
        index_of_sentence[j] = ti;
    }
    for (size_t k = 0; k < norder; k++) {
        size_t x = index_of_sentence[k];

        rc = append(text, sizeof(text), &tlen, " ");
        if (rc)
            goto fail;
        if (kinds_of_sentence[k] == 0) {
            sb.value = values[x];
            rc = expand(kd->facts[x].sentence, &sb, text, sizeof(text), &tlen);
        } else if (kinds_of_sentence[k] == 1) {
            rc = expand(fillers[x], &sb, text, sizeof(text), &tlen);
        } else {
            sb.other = names[others[x]];
            sb.other_kind = kinds[kind_of[others[x]]].name;
            rc = expand(relations[draw_below(r, TG_ARRAY_LEN(relations))], &sb, text, sizeof(text),
                        &tlen);
        }
        if (rc)
            goto fail;
    }

    rc = append(line, sizeof(line), &llen, "{\"id\":\"d%05zu\",\"title\":", i + 1);
    rc = rc ? rc : append_json_str(line, sizeof(line), &llen, names[i]);
    rc = rc ? rc : append(line, sizeof(line), &llen, ",\"kind\":\"%s\",\"text\":", kd->name);
    rc = rc ? rc : append_json_str(line, sizeof(line), &llen, text);
    rc = rc ? rc : append(line, sizeof(line), &llen, ",\"facts\":%s}\n", facts);
    if (rc)
        goto fail;
    if (fwrite(line, 1, llen, out) != llen) {
        tg_error_set(err, TG_CODE_IO, "writing the corpus failed: %s", strerror(errno));
        return TG_EIO;
    }
    return 0;
fail:
    tg_error_set(err, "internal", "document %zu does not fit its buffer", i + 1);
    return rc;
}

int corpus_generate(unsigned long long seed, size_t ndocs, FILE *out, struct tg_error *err) {
    uint64_t r = seed;
    struct strset taken = {0};
    char(*names)[NAME_CHARS] = NULL;
    char(*regions)[NAME_CHARS] = NULL;
    unsigned char *kind_of = NULL;
    int rc;

    if (ndocs < 1 || ndocs > CORPUS_GEN_MAX_DOCS) {
        tg_error_set(err, "invalid_docs", "--docs must be between 1 and %d", CORPUS_GEN_MAX_DOCS);
        return TG_ERANGE;
    }
    names = calloc(ndocs, sizeof(*names));
    regions = calloc(NREGIONS, sizeof(*regions));
    kind_of = calloc(ndocs, 1);
    rc = strset_init(&taken, ndocs + 1024);
    if (!names || !regions || !kind_of || rc) {
        rc = TG_ENOMEM;
        tg_error_set(err, TG_CODE_NOMEM, "out of memory generating %zu documents", ndocs);
        goto done;
    }
    rc = reserve_template_words(&taken);
    for (size_t i = 0; !rc && i < NREGIONS; i++)
        rc = gen_name(&r, &taken, regions[i], sizeof(regions[i]), err);
    /* pass 1: kinds and unique names (the set holds lowercase names / surnames) */
    for (size_t i = 0; !rc && i < ndocs; i++) {
        char surname[NAME_CHARS];

        kind_of[i] = (unsigned char)draw_below(&r, TG_ARRAY_LEN(kinds));
        rc = gen_name(&r, &taken, surname, sizeof(surname), err);
        if (rc)
            break;
        if (strcmp(kinds[kind_of[i]].name, "person") == 0)
            snprintf(names[i], sizeof(names[i]), "%s %s",
                     given_names[draw_below(&r, TG_ARRAY_LEN(given_names))], surname);
        else
            snprintf(names[i], sizeof(names[i]), "%s", surname);
    }
    /* pass 2: texts */
    for (size_t i = 0; !rc && i < ndocs; i++)
        rc = write_doc(&r, i, ndocs, kind_of, names, regions, out, err);
    if (!rc && fflush(out) != 0) {
        tg_error_set(err, TG_CODE_IO, "writing the corpus failed: %s", strerror(errno));
        rc = TG_EIO;
    }
    if (rc == TG_ENOMEM)
        tg_error_set(err, TG_CODE_NOMEM, "out of memory generating the corpus");
done:
    strset_free(&taken);
    free(names);
    free(regions);
    free(kind_of);
    return rc;
}

/* ---- writing a file ---------------------------------------------------------------------- */

int corpus_write_file(unsigned long long seed, size_t ndocs, const char *path,
                      struct tg_error *err) {
    char tmp[PATH_MAX];
    FILE *f;
    int rc;

    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
        tg_error_set(err, TG_CODE_IO, "the path %.64s... is too long", path);
        return TG_EINVAL;
    }
    f = fopen(tmp, "wb");
    if (!f) {
        tg_error_set(err, TG_CODE_IO, "cannot write %s: %s", tmp, strerror(errno));
        return TG_EIO;
    }
    rc = corpus_generate(seed, ndocs, f, err);
    if (fclose(f) != 0 && !rc) {
        tg_error_set(err, TG_CODE_IO, "cannot write %s: %s", tmp, strerror(errno));
        rc = TG_EIO;
    }
    if (!rc && rename(tmp, path) != 0) {
        tg_error_set(err, TG_CODE_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        rc = TG_EIO;
    }
    if (rc)
        remove(tmp);
    return rc;
}

/* ---- loading ----------------------------------------------------------------------------- */

struct corpus_doc {
    json_t *obj; /* owned */
    const char *id, *title, *kind, *text;
    const json_t *facts;
};

struct corpus {
    struct corpus_doc *docs;
    size_t n, cap;
};

/* ---- the corpus reader ------------------------------------------------------------------- */

static int blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)s[i]))
            return 0;
    return 1;
}

/* Parse and check one non-blank line; 0 with *doc new, or a tg_err with *err naming it. */
static int parse_doc(const char *buf, size_t len, int flags, const char *path, size_t lineno,
                     json_t **doc, struct tg_error *err) {
    static const struct jsonu_field search_fields[] = {
        {"id", JSON_STRING, 1}, {"title", JSON_STRING, 1}, {"text", JSON_STRING, 1}};
    static const struct jsonu_field full_fields[] = {{"id", JSON_STRING, 1},
                                                     {"title", JSON_STRING, 1},
                                                     {"text", JSON_STRING, 1},
                                                     {"kind", JSON_STRING, 1},
                                                     {"facts", JSON_OBJECT, 1}};
    int full = flags & CORPUS_NEED_FACTS;
    struct tg_error why;
    json_error_t jerr;

    *doc = json_loadb(buf, len, 0, &jerr);
    if (!*doc) {
        tg_error_set(err, "corpus", "%s:%zu: invalid JSON: %s", path, lineno, jerr.text);
        return TG_EINVAL;
    }
    if (jsonu_check_fields_at(*doc, full ? full_fields : search_fields,
                              full ? TG_ARRAY_LEN(full_fields) : TG_ARRAY_LEN(search_fields),
                              JSONU_OPEN, "corpus", "", &why)) {
        tg_error_set(err, "corpus", "%s:%zu: %s", path, lineno, why.message);
        json_decref(*doc);
        *doc = NULL;
        return TG_EINVAL;
    }
    return 0;
}

int corpus_read(const char *path, int flags, corpus_doc_fn fn, void *ud, struct tg_error *err) {
    struct dbuf line;
    FILE *f;
    size_t lineno = 0, ndocs = 0;
    int rc = 0, got;

    f = fopen(path, "rb");
    if (!f) {
        tg_error_set(err, TG_CODE_IO, "cannot open corpus %s: %s", path, strerror(errno));
        return TG_EIO;
    }
    dbuf_init(&line, TG_CORPUS_LINE_MAX);
    while ((got = dbuf_getline(&line, f)) > 0 || got == TG_ERANGE) {
        json_t *doc;

        lineno++;
        if (got == TG_ERANGE) {
            rc = TG_ERANGE;
            tg_error_set(err, "corpus", "%s:%zu: line longer than %d bytes", path, lineno,
                         TG_CORPUS_LINE_MAX);
            break;
        }
        if (blank(line.p, line.len))
            continue;
        if (ndocs >= TG_CORPUS_MAX_DOCS) {
            rc = TG_ERANGE;
            tg_error_set(err, "corpus", "%s:%zu: more than %d documents", path, lineno,
                         TG_CORPUS_MAX_DOCS);
            break;
        }
        rc = parse_doc(line.p, line.len, flags, path, lineno, &doc, err);
        if (rc)
            break;
        ndocs++;
        rc = fn(ud, doc);
        json_decref(doc);
        if (rc) {
            if (rc == TG_ENOMEM)
                tg_error_set(err, TG_CODE_NOMEM, "%s:%zu: out of memory", path, lineno);
            else
                tg_error_set(err, "corpus", "%s:%zu: %s", path, lineno, tg_strerror(rc));
            break;
        }
    }
    if (!rc && got == TG_ENOMEM) {
        rc = TG_ENOMEM;
        tg_error_set(err, TG_CODE_NOMEM, "out of memory loading %s", path);
    } else if (!rc && got < 0) {
        rc = TG_EIO;
        tg_error_set(err, TG_CODE_IO, "reading %s failed", path);
    }
    dbuf_free(&line);
    fclose(f);
    return rc;
}

/* ---- the loaded corpus ------------------------------------------------------------------- */

static const char *get_str(const json_t *o, const char *k) {
    return json_string_value(json_object_get(o, k));
}

static int keep_doc(void *ud, json_t *obj) {
    struct corpus *c = ud;
    struct corpus_doc d;

    if (c->n == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 256;
        struct corpus_doc *nd = realloc(c->docs, ncap * sizeof(*nd));

        if (!nd)
            return TG_ENOMEM;
        c->docs = nd;
        c->cap = ncap;
    }
    d.obj = json_incref(obj);
    d.id = get_str(obj, "id");
    d.title = get_str(obj, "title");
    d.kind = get_str(obj, "kind");
    d.text = get_str(obj, "text");
    d.facts = json_object_get(obj, "facts");
    c->docs[c->n++] = d;
    return 0;
}

int corpus_load(const char *path, struct corpus **out, struct tg_error *err) {
    struct corpus *c = calloc(1, sizeof(*c));
    int rc;

    *out = NULL;
    if (!c) {
        tg_error_set(err, TG_CODE_NOMEM, "out of memory loading %s", path);
        return TG_ENOMEM;
    }
    rc = corpus_read(path, CORPUS_NEED_FACTS, keep_doc, c, err);
    if (rc) {
        corpus_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void corpus_free(struct corpus *c) {
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        json_decref(c->docs[i].obj);
    free(c->docs);
    free(c);
}

size_t corpus_count(const struct corpus *c) {
    return c ? c->n : 0;
}

const char *corpus_doc_id(const struct corpus *c, size_t i) {
    TG_ASSERT(i < c->n);
    return c->docs[i].id;
}

const char *corpus_doc_title(const struct corpus *c, size_t i) {
    TG_ASSERT(i < c->n);
    return c->docs[i].title;
}

const char *corpus_doc_kind(const struct corpus *c, size_t i) {
    TG_ASSERT(i < c->n);
    return c->docs[i].kind;
}

const char *corpus_doc_text(const struct corpus *c, size_t i) {
    TG_ASSERT(i < c->n);
    return c->docs[i].text;
}

const json_t *corpus_doc_facts(const struct corpus *c, size_t i) {
    TG_ASSERT(i < c->n);
    return c->docs[i].facts;
}

/* ---- fact vocabulary --------------------------------------------------------------------- */

static const struct fact_def *find_fact(const char *kind, const char *key) {
    if (!kind || !key)
        return NULL;
    for (size_t k = 0; k < TG_ARRAY_LEN(kinds); k++) {
        if (strcmp(kinds[k].name, kind) != 0)
            continue;
        for (size_t f = 0; f < kinds[k].nfacts; f++)
            if (strcmp(kinds[k].facts[f].key, key) == 0)
                return &kinds[k].facts[f];
    }
    return NULL;
}

const char *corpus_syllable(size_t i) {
    return i < TG_ARRAY_LEN(syllables) ? syllables[i] : NULL;
}

const char *corpus_given_name(size_t i) {
    return i < TG_ARRAY_LEN(given_names) ? given_names[i] : NULL;
}

const char *corpus_fact_phrase(const char *kind, const char *key) {
    const struct fact_def *fd = find_fact(kind, key);

    return fd ? fd->phrase : NULL;
}

const char *corpus_fact_unit(const char *kind, const char *key) {
    const struct fact_def *fd = find_fact(kind, key);

    return fd ? fd->unit : NULL;
}

int corpus_format_value(const json_t *v, char *buf, size_t n) {
    char tmp[48];

    if (json_is_integer(v)) {
        snprintf(tmp, sizeof(tmp), "%lld", (long long)json_integer_value(v));
    } else if (json_is_real(v)) {
        double x = json_real_value(v);

        if (!isfinite(x) || fabs(x) > 1e15)
            return TG_ERANGE;
        format_scaled(llround(x * 100.0), 2, tmp, sizeof(tmp));
    } else {
        return TG_EINVAL;
    }
    if (strlen(tmp) >= n)
        return TG_ERANGE;
    memcpy(buf, tmp, strlen(tmp) + 1);
    return 0;
}
