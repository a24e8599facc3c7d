/*
 * lexicon.c — WordNet's index and morphology, read into one hash table. See lexicon.h.
 */
#include "policy/lexicon.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"

#define LX_POS        4
#define LX_WORD_MAX   64 /* bytes of a lemma we look up or keep */
#define LX_FILE_MAX   (64L << 20)
#define LX_SLOTS_LOG2 19 /* table slots: 524,288 for WordNet 3.0's ~160,000 keys */
#define LX_KIND_INDEX 1  /* value: concepts */
#define LX_KIND_EXC   2  /* value: base forms, each NUL-terminated, then an empty one */
#define LX_MALFORMED  1  /* a line parser's "not WordNet's format" */

static const char *const pos_file[LX_POS] = {"noun", "verb", "adj", "adv"};

/* one key: (kind, part of speech, lemma) */
struct lx_ent {
    uint32_t hash; /* 0: empty slot */
    uint32_t key;  /* offset of the lemma in str */
    uint32_t val;  /* offset in cons (index) or in str (exceptions) */
    uint8_t kind, pos;
    uint16_t n; /* concepts (index) */
};

struct lexicon {
    struct lx_ent *slot;
    size_t nslot, used;
    char *str;
    size_t nstr, capstr;
    uint32_t *cons;
    size_t ncons, capcons;
    uint32_t fingerprint;
};

/* ---- table -------------------------------------------------------------------------------- */

static uint32_t key_hash(int kind, int pos, const char *w, size_t n) {
    unsigned char pre[2] = {(unsigned char)kind, (unsigned char)pos};
    uint32_t h = hash_fnv32(hash_fnv32(HASH_FNV32_BASIS, pre, 2), w, n);

    return h ? h : 1u;
}

static struct lx_ent *find(const struct lexicon *lx, int kind, int pos, const char *w, size_t n) {
    uint32_t h = key_hash(kind, pos, w, n);
    size_t mask = lx->nslot - 1;

    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct lx_ent *e = &lx->slot[i];

        if (!e->hash)
            return NULL;
        if (e->hash == h && e->kind == kind && e->pos == pos &&
            strncmp(lx->str + e->key, w, n) == 0 && lx->str[e->key + n] == '\0')
            return e;
    }
}

static int grow(void **p, size_t *cap, size_t need, size_t size) {
    size_t c = *cap ? *cap : 1024;
    void *q;

    if (need <= *cap)
        return 0;
    while (c < need)
        c *= 2;
    q = realloc(*p, c * size);
    if (!q)
        return TG_ENOMEM;
    *p = q;
    *cap = c;
    return 0;
}

static int str_add(struct lexicon *lx, const char *s, size_t n, uint32_t *off) {
    if (grow((void **)&lx->str, &lx->capstr, lx->nstr + n + 1, 1))
        return TG_ENOMEM;
    memcpy(lx->str + lx->nstr, s, n);
    lx->str[lx->nstr + n] = '\0';
    *off = (uint32_t)lx->nstr;
    lx->nstr += n + 1;
    return 0;
}

/* a new key (the caller checked that it is absent); its slot, or NULL when out of memory or
 * the table is too full */
static struct lx_ent *insert(struct lexicon *lx, int kind, int pos, const char *w, size_t n) {
    uint32_t h = key_hash(kind, pos, w, n);
    size_t mask = lx->nslot - 1, i = h & mask;

    if ((lx->used + 1) * 4 > lx->nslot * 3)
        return NULL;
    while (lx->slot[i].hash)
        i = (i + 1) & mask;
    if (str_add(lx, w, n, &lx->slot[i].key))
        return NULL;
    lx->slot[i].hash = h;
    lx->slot[i].kind = (uint8_t)kind;
    lx->slot[i].pos = (uint8_t)pos;
    lx->used++;
    return &lx->slot[i];
}

/* ---- files -------------------------------------------------------------------------------- */

static int read_file(const char *dir, const char *name, char **out, size_t *len,
                     struct tg_error *err) {
    char path[4096];
    FILE *f;
    long n;
    char *buf;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "rb");
    if (!f) {
        tg_error_set(err, TG_CODE_IO, "Cannot read the WordNet file %s: %s.", path,
                     strerror(errno));
        return TG_EIO;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || n > LX_FILE_MAX ||
        fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        tg_error_set(err, TG_CODE_IO,
                     "Cannot read the WordNet file %s (no size, or over %ld "
                     "bytes).",
                     path, LX_FILE_MAX);
        return TG_EIO;
    }
    buf = malloc((size_t)n + 1);
    if (!buf) {
        fclose(f);
        tg_error_set(err, TG_CODE_NOMEM, "out of memory reading %s", path);
        return TG_ENOMEM;
    }
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        fclose(f);
        tg_error_set(err, TG_CODE_IO, "Cannot read the WordNet file %s.", path);
        return TG_EIO;
    }
    fclose(f);
    buf[n] = '\0';
    *out = buf;
    *len = (size_t)n;
    return 0;
}

/* the next space-separated field of *p (within the line); its length, 0 at the line's end */
static size_t field(const char **p, const char **start) {
    const char *s = *p;
    size_t n = 0;

    while (*s == ' ')
        s++;
    *start = s;
    while (s[n] && s[n] != ' ' && s[n] != '\n')
        n++;
    *p = s + n;
    return n;
}

static int field_ulong(const char **p, unsigned long *v) {
    const char *s;
    char buf[24], *end;
    size_t n = field(p, &s);

    if (n == 0 || n >= sizeof(buf))
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    errno = 0;
    *v = strtoul(buf, &end, 10);
    return *end || errno ? -1 : 0;
}

/* one line of index.POS: lemma pos synset_cnt p_cnt [ptr]*p_cnt sense_cnt tagsense_cnt
 * synset_offset*synset_cnt */
static int index_line(struct lexicon *lx, int pos, const char *line) {
    const char *p = line, *lemma, *s;
    size_t ln = field(&p, &lemma);
    unsigned long nsyn, nptr, skip, off;
    struct lx_ent *e;

    if (ln == 0 || field(&p, &s) != 1 || field_ulong(&p, &nsyn) || field_ulong(&p, &nptr) ||
        nsyn > 1000 || nptr > 100)
        return LX_MALFORMED;
    for (unsigned long i = 0; i < nptr; i++)
        if (field(&p, &s) == 0)
            return LX_MALFORMED;
    if (field_ulong(&p, &skip) || field_ulong(&p, &skip))
        return LX_MALFORMED;
    if (ln >= LX_WORD_MAX)
        return 0; /* never looked up */
    e = find(lx, LX_KIND_INDEX, pos, lemma, ln);
    if (e)
        return 0; /* WordNet has no duplicates; keep the first if it ever did */
    e = insert(lx, LX_KIND_INDEX, pos, lemma, ln);
    if (!e || grow((void **)&lx->cons, &lx->capcons, lx->ncons + LEXICON_SENSES, 4))
        return TG_ENOMEM;
    e->val = (uint32_t)lx->ncons;
    for (unsigned long i = 0; i < nsyn; i++) {
        if (field_ulong(&p, &off) || off > 0x3FFFFFFFul)
            return LX_MALFORMED;
        if (e->n < LEXICON_SENSES) {
            lx->cons[lx->ncons++] = (uint32_t)(off * LX_POS + (unsigned long)pos);
            e->n++;
        }
    }
    return 0;
}

/* one line of POS.exc: inflected base [base ...] */
static int exc_line(struct lexicon *lx, int pos, const char *line) {
    const char *p = line, *w, *b;
    size_t wn = field(&p, &w), bn;
    struct lx_ent *e;
    uint32_t off;
    int any = 0;

    if (wn == 0)
        return LX_MALFORMED;
    if (wn >= LX_WORD_MAX || find(lx, LX_KIND_EXC, pos, w, wn))
        return 0;
    e = insert(lx, LX_KIND_EXC, pos, w, wn);
    if (!e)
        return TG_ENOMEM;
    e->val = (uint32_t)lx->nstr;
    while ((bn = field(&p, &b)) > 0) {
        if (bn < LX_WORD_MAX && str_add(lx, b, bn, &off))
            return TG_ENOMEM;
        any = 1;
    }
    if (str_add(lx, "", 0, &off))
        return TG_ENOMEM;
    return any ? 0 : LX_MALFORMED;
}

static int load_file(struct lexicon *lx, const char *dir, const char *name, int pos, int exc,
                     struct tg_error *err) {
    char *buf;
    size_t len, lineno = 0;
    int rc = read_file(dir, name, &buf, &len, err);

    if (rc)
        return rc;
    lx->fingerprint = hash_fnv32(lx->fingerprint, name, strlen(name));
    lx->fingerprint = hash_fnv32(lx->fingerprint, buf, len);
    for (char *line = buf; *line; lineno++) {
        char *nl = strchr(line, '\n');

        if (*line != ' ' && *line != '\n') /* the licence header lines start with spaces */
            rc = exc ? exc_line(lx, pos, line) : index_line(lx, pos, line);
        if (rc) {
            if (rc == TG_ENOMEM)
                tg_error_set(err, TG_CODE_NOMEM, "out of memory loading WordNet");
            else
                tg_error_set(err, TG_CODE_CONFIG, "%s/%s line %zu is not in WordNet's format.", dir,
                             name, lineno + 1);
            free(buf);
            return rc == LX_MALFORMED ? TG_EINVAL : rc;
        }
        if (!nl)
            break;
        line = nl + 1;
    }
    free(buf);
    return 0;
}

int lexicon_load(const char *dir, struct lexicon **out, struct tg_error *err) {
    struct lexicon *lx = calloc(1, sizeof(*lx));
    int rc = 0;

    *out = NULL;
    if (!lx || !(lx->slot = calloc((size_t)1 << LX_SLOTS_LOG2, sizeof(*lx->slot)))) {
        free(lx);
        tg_error_set(err, TG_CODE_NOMEM, "out of memory loading WordNet");
        return TG_ENOMEM;
    }
    lx->nslot = (size_t)1 << LX_SLOTS_LOG2;
    lx->fingerprint = HASH_FNV32_BASIS;
    for (int pos = 0; pos < LX_POS && rc == 0; pos++) {
        char name[32];

        snprintf(name, sizeof(name), "index.%s", pos_file[pos]);
        rc = load_file(lx, dir, name, pos, 0, err);
        if (rc == 0) {
            snprintf(name, sizeof(name), "%s.exc", pos_file[pos]);
            rc = load_file(lx, dir, name, pos, 1, err);
        }
    }
    if (rc) {
        lexicon_free(lx);
        return rc;
    }
    lx->fingerprint |= 1u;
    *out = lx;
    return 0;
}

void lexicon_free(struct lexicon *lx) {
    if (!lx)
        return;
    free(lx->slot);
    free(lx->str);
    free(lx->cons);
    free(lx);
}

uint32_t lexicon_fingerprint(const struct lexicon *lx) {
    return lx->fingerprint;
}

/* ---- lookup ------------------------------------------------------------------------------- */

/* WordNet's detachment rules (morph.c of the WordNet distribution, as its manual morphy(7WN)
 * describes them): suffix, replacement, per part of speech */
struct rule {
    const char *suf, *rep;
};
static const struct rule noun_rules[] = {{"s", ""},      {"ses", "s"},   {"xes", "x"},
                                         {"zes", "z"},   {"ches", "ch"}, {"shes", "sh"},
                                         {"men", "man"}, {"ies", "y"}};
static const struct rule verb_rules[] = {{"s", ""},   {"ies", "y"}, {"es", "e"},  {"es", ""},
                                         {"ed", "e"}, {"ed", ""},   {"ing", "e"}, {"ing", ""}};
static const struct rule adj_rules[] = {{"er", ""}, {"est", ""}, {"er", "e"}, {"est", "e"}};

static const struct rule *rules_of(int pos, size_t *n) {
    switch (pos) {
    case 0:
        *n = sizeof(noun_rules) / sizeof(noun_rules[0]);
        return noun_rules;
    case 1:
        *n = sizeof(verb_rules) / sizeof(verb_rules[0]);
        return verb_rules;
    case 2:
        *n = sizeof(adj_rules) / sizeof(adj_rules[0]);
        return adj_rules;
    default:
        *n = 0;
        return NULL;
    }
}

/* append the concepts of base form b (pos) to ids, skipping ones already there */
static int add_base(const struct lexicon *lx, int pos, const char *b, size_t bn, uint32_t *ids,
                    int k, int max) {
    const struct lx_ent *e = find(lx, LX_KIND_INDEX, pos, b, bn);

    if (!e)
        return k;
    for (int i = 0; i < e->n && k < max; i++) {
        uint32_t c = lx->cons[e->val + (uint32_t)i];
        int seen = 0;

        for (int j = 0; j < k && !seen; j++)
            seen = ids[j] == c;
        if (!seen)
            ids[k++] = c;
    }
    return k;
}

int lexicon_concepts(const struct lexicon *lx, const char *word, uint32_t *ids, int max) {
    size_t n = strlen(word);
    int k = 0;

    if (!lx || n == 0 || n >= LX_WORD_MAX)
        return 0;
    for (int pos = 0; pos < LX_POS && k < max; pos++) {
        const struct lx_ent *x = find(lx, LX_KIND_EXC, pos, word, n);
        const struct rule *r;
        size_t nr;

        if (x)
            for (const char *b = lx->str + x->val; *b; b += strlen(b) + 1)
                k = add_base(lx, pos, b, strlen(b), ids, k, max);
        k = add_base(lx, pos, word, n, ids, k, max);
        r = rules_of(pos, &nr);
        for (size_t i = 0; i < nr && k < max; i++) {
            size_t sl = strlen(r[i].suf), rl = strlen(r[i].rep);
            char b[LX_WORD_MAX];

            if (n <= sl || strcmp(word + n - sl, r[i].suf) != 0)
                continue;
            memcpy(b, word, n - sl);
            memcpy(b + n - sl, r[i].rep, rl);
            k = add_base(lx, pos, b, n - sl + rl, ids, k, max);
        }
    }
    return k;
}

int lexicon_has(const struct lexicon *lx, const char *word) {
    size_t n = strlen(word);

    for (int pos = 0; lx && pos < LX_POS; pos++)
        if (find(lx, LX_KIND_INDEX, pos, word, n))
            return 1;
    return 0;
}

/* ---- the process's lexicon ---------------------------------------------------------------- */

static pthread_once_t default_once = PTHREAD_ONCE_INIT;
static struct lexicon *default_lx;
static struct tg_error default_err; /* why default_lx is NULL */

static void default_load(void) {
    const char *dir = getenv("TOOLGYM_WORDNET");

    if (lexicon_load(dir && *dir ? dir : "/usr/share/wordnet", &default_lx, &default_err) != 0)
        default_lx = NULL;
}

const struct lexicon *lexicon_default(struct tg_error *err) {
    pthread_once(&default_once, default_load);
    if (!default_lx && err)
        *err = default_err;
    return default_lx;
}
