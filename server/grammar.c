/*
 * grammar.c — loading, checking and expanding the task grammar (see grammar.h and
 * docs/tasks.md). It knows nothing of families' meaning; server/taskgen.c does.
 */
#include "server/grammar.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/task.h"

/* ---- data ------------------------------------------------------------------------------- */

enum item_kind { IT_TEXT, IT_REF, IT_PH, IT_X, IT_XV, IT_RAND };

/* How a reference chooses its rule. */
enum ref_scope {
    RS_PLAIN,   /* <name> */
    RS_CURRENT, /* <@name>: the current slot */
    RS_SLOT1,   /* <@1:name> */
    RS_SLOT2,   /* <@2:name> */
    RS_SLOTD,   /* <@d:name> */
    RS_CONV,    /* <%name> */
};

struct item {
    enum item_kind kind;
    char *text;           /* IT_TEXT: literal; IT_REF: the rule name (or its suffix if scoped) */
    int rule;             /* IT_REF plain: resolved rule index */
    enum ref_scope scope; /* IT_REF */
    int flag;             /* IT_REF: flag index, -1 unconditional */
    int ph;               /* IT_PH: placeholder index */
    long lo, hi;          /* IT_RAND */
};

struct alt {
    struct item *items;
    size_t nitems;
    char **tags;
    size_t ntags;
    int ood;
    double w;
};

struct rule {
    char *name;
    const char *file; /* borrowed from grammar.files */
    struct alt *alts;
    size_t nalts;
};

struct grammar {
    char **files;
    size_t nfiles;
    struct rule *rules; /* sorted by name once loaded */
    size_t nrules, cap;
    json_t *attributes, *conversions, *families;
    json_t *origin; /* {"section/key": file} */
    const char *ph[GRAMMAR_PH_MAX];
    size_t nph;
    const char *flags[GRAMMAR_FLAGS_MAX];
    size_t nflags;
    int slot_ph[GRAMMAR_SLOTS]; /* placeholder index of each slot's entity, -1 none */
    int slot_v[GRAMMAR_SLOTS];  /* placeholder index of each slot's stated value, -1 none */
};

static char *dup_n(const char *s, size_t n) {
    char *d = malloc(n + 1);

    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static void alt_clear(struct alt *a) {
    for (size_t i = 0; i < a->nitems; i++)
        free(a->items[i].text);
    free(a->items);
    for (size_t i = 0; i < a->ntags; i++)
        free(a->tags[i]);
    free(a->tags);
}

void grammar_free(struct grammar *g) {
    if (!g)
        return;
    for (size_t r = 0; r < g->nrules; r++) {
        for (size_t a = 0; a < g->rules[r].nalts; a++)
            alt_clear(&g->rules[r].alts[a]);
        free(g->rules[r].alts);
        free(g->rules[r].name);
    }
    free(g->rules);
    for (size_t i = 0; i < g->nfiles; i++)
        free(g->files[i]);
    free(g->files);
    json_decref(g->attributes);
    json_decref(g->conversions);
    json_decref(g->families);
    json_decref(g->origin);
    free(g);
}

/* ---- names ------------------------------------------------------------------------------ */

static int name_char(int c) {
    return islower(c) || isdigit(c) || c == '_' || c == '.';
}

/* A rule name: 1..96 of [a-z0-9_.], no leading, trailing or doubled dot. */
static int valid_rule_name(const char *s, size_t n) {
    if (n == 0 || n > 96 || s[0] == '.' || s[n - 1] == '.')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!name_char((unsigned char)s[i]) || (s[i] == '.' && s[i + 1] == '.'))
            return 0;
    return 1;
}

static int find_rule(const struct grammar *g, const char *name) {
    size_t lo = 0, hi = g->nrules;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(name, g->rules[mid].name);

        if (c == 0)
            return (int)mid;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return -1;
}

int grammar_has_rule(const struct grammar *g, const char *name) {
    return find_rule(g, name) >= 0;
}

size_t grammar_rule_count(const struct grammar *g) {
    return g->nrules;
}

size_t grammar_alt_count(const struct grammar *g) {
    size_t n = 0;

    for (size_t r = 0; r < g->nrules; r++)
        n += g->rules[r].nalts;
    return n;
}

const json_t *grammar_attributes(const struct grammar *g) {
    return g->attributes;
}

const json_t *grammar_conversions(const struct grammar *g) {
    return g->conversions;
}

const json_t *grammar_families(const struct grammar *g) {
    return g->families;
}

const char *grammar_file_of(const struct grammar *g, const char *section, const char *key) {
    char k[256];
    const char *f;

    if (strcmp(section, "rules") == 0) {
        int r = find_rule(g, key);

        return r >= 0 ? g->rules[r].file : "?";
    }
    snprintf(k, sizeof(k), "%s/%s", section, key);
    f = json_string_value(json_object_get(g->origin, k));
    return f ? f : "?";
}

/* ---- parsing a production --------------------------------------------------------------- */

/* Where a production is, for messages: "file: production rule[i]". */
struct where {
    const char *file;
    const char *rule;
    size_t alt;
};

static int bad_prod(struct tg_error *err, const struct where *w, const char *fmt, const char *arg)
    __attribute__((format(printf, 3, 0)));

static int bad_prod(struct tg_error *err, const struct where *w, const char *fmt, const char *arg) {
    char msg[TG_ERR_MSG_MAX];

    snprintf(msg, sizeof(msg), fmt, arg);
    tg_error_set(err, "invalid_grammar", "%s: production %s[%zu]: %s", w->file, w->rule, w->alt,
                 msg);
    return TG_EINVAL;
}

static int push_item(struct alt *a, size_t *cap, const struct item *it) {
    if (a->nitems == *cap) {
        size_t nc = *cap ? 2 * *cap : 8;
        struct item *ni = realloc(a->items, nc * sizeof(*ni));

        if (!ni)
            return TG_ENOMEM;
        a->items = ni;
        *cap = nc;
    }
    a->items[a->nitems++] = *it;
    return 0;
}

static int index_of(const char *const *names, size_t n, const char *s, size_t len) {
    for (size_t i = 0; i < n; i++)
        if (strlen(names[i]) == len && strncmp(names[i], s, len) == 0)
            return (int)i;
    return -1;
}

/* Parse "<...>" content s[0..n) into *it. */
static int parse_ref(struct grammar *g, const char *s, size_t n, struct item *it,
                     const struct where *w, struct tg_error *err) {
    const char *bar = memchr(s, '|', n);
    size_t nl = bar ? (size_t)(bar - s) : n;
    char tmp[128];

    memset(it, 0, sizeof(*it));
    it->kind = IT_REF;
    it->flag = -1;
    it->rule = -1;
    snprintf(tmp, sizeof(tmp), "%.*s", (int)(n < 100 ? n : 100), s);
    if (bar) {
        it->flag = index_of(g->flags, g->nflags, bar + 1, n - nl - 1);
        if (it->flag < 0)
            return bad_prod(err, w, "unknown flag in <%s>", tmp);
    }
    if (nl > 0 && s[0] == '@') {
        s++;
        nl--;
        it->scope = RS_CURRENT;
        if (nl >= 2 && s[1] == ':') {
            it->scope = s[0] == '1'   ? RS_SLOT1
                        : s[0] == '2' ? RS_SLOT2
                        : s[0] == 'd' ? RS_SLOTD
                                      : RS_PLAIN;
            if (it->scope == RS_PLAIN)
                return bad_prod(err, w, "unknown slot in <%s> (use @1:, @2: or @d:)", tmp);
            s += 2;
            nl -= 2;
        }
    } else if (nl > 0 && s[0] == '%') {
        s++;
        nl--;
        it->scope = RS_CONV;
    }
    if (!valid_rule_name(s, nl))
        return bad_prod(err, w, "malformed reference <%s>", tmp);
    it->text = dup_n(s, nl);
    return it->text ? 0 : TG_ENOMEM;
}

/* Parse "{...}" content s[0..n) into *it. */
static int parse_ph(struct grammar *g, const char *s, size_t n, struct item *it,
                    const struct where *w, struct tg_error *err) {
    char tmp[128];

    memset(it, 0, sizeof(*it));
    snprintf(tmp, sizeof(tmp), "%.*s", (int)(n < 100 ? n : 100), s);
    if (n > 2 && s[0] == 'n' && s[1] == ':') {
        char buf[64], *end;

        if (n - 2 >= sizeof(buf))
            return bad_prod(err, w, "malformed random number {%s}", tmp);
        memcpy(buf, s + 2, n - 2);
        buf[n - 2] = '\0';
        errno = 0;
        if (!isdigit((unsigned char)buf[0]))
            return bad_prod(err, w, "malformed random number {%s} (want {n:LO-HI})", tmp);
        it->lo = strtol(buf, &end, 10);
        if (errno || *end != '-' || !isdigit((unsigned char)end[1]))
            return bad_prod(err, w, "malformed random number {%s} (want {n:LO-HI})", tmp);
        it->hi = strtol(end + 1, &end, 10);
        if (errno || *end || it->lo > it->hi || it->hi > 999999999L)
            return bad_prod(err, w, "bad range in {%s} (0 <= LO <= HI <= 999999999)", tmp);
        it->kind = IT_RAND;
        return 0;
    }
    if (n == 1 && s[0] == 'X') {
        it->kind = IT_X;
        return 0;
    }
    if (n == 2 && s[0] == 'X' && s[1] == 'V') {
        it->kind = IT_XV;
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        if (!(isupper((unsigned char)s[i]) ||
              (i > 0 && (isdigit((unsigned char)s[i]) || s[i] == '_'))))
            return bad_prod(err, w, "malformed placeholder {%s}", tmp);
    it->ph = index_of(g->ph, g->nph, s, n);
    if (it->ph < 0 || n == 0)
        return bad_prod(err, w, "unknown placeholder {%s}", tmp);
    it->kind = IT_PH;
    return 0;
}

static int parse_text(struct grammar *g, const char *text, struct alt *a, const struct where *w,
                      struct tg_error *err) {
    size_t cap = 0;
    const char *p = text;
    int rc;

    while (*p) {
        struct item it;
        const char *close;

        if (*p == '<' || *p == '{') {
            close = strchr(p + 1, *p == '<' ? '>' : '}');
            if (!close)
                return bad_prod(err, w, "unclosed %s", *p == '<' ? "<" : "{");
            {
                const char *open2 = strpbrk(p + 1, "<{");

                if (open2 && open2 < close)
                    return bad_prod(err, w, "nested %s", "< or {");
            }
            rc = *p == '<' ? parse_ref(g, p + 1, (size_t)(close - p - 1), &it, w, err)
                           : parse_ph(g, p + 1, (size_t)(close - p - 1), &it, w, err);
            if (rc)
                return rc;
            rc = push_item(a, &cap, &it);
            if (rc) {
                free(it.text);
                return rc;
            }
            p = close + 1;
            continue;
        }
        if (*p == '>' || *p == '}')
            return bad_prod(err, w, "%s",
                            *p == '>' ? "stray > (write \\> for the character)"
                                      : "stray } (write \\} for the character)");
        if (*p == '\\') { /* \< \> \{ \} \\ stand for the character */
            if (!p[1] || !strchr("<>{}\\", p[1]))
                return bad_prod(err, w, "unknown escape \\%s (only \\< \\> \\{ \\} \\\\)",
                                p[1] ? (char[]){p[1], '\0'} : "");
            memset(&it, 0, sizeof(it));
            it.kind = IT_TEXT;
            it.text = dup_n(p + 1, 1);
            if (!it.text)
                return TG_ENOMEM;
            rc = push_item(a, &cap, &it);
            if (rc) {
                free(it.text);
                return rc;
            }
            p += 2;
            continue;
        }
        {
            size_t n = strcspn(p, "<>{}\\");

            memset(&it, 0, sizeof(it));
            it.kind = IT_TEXT;
            it.text = dup_n(p, n);
            if (!it.text)
                return TG_ENOMEM;
            rc = push_item(a, &cap, &it);
            if (rc) {
                free(it.text);
                return rc;
            }
            p += n;
        }
    }
    return 0;
}

static int add_tag(struct alt *a, const char *tag, const struct where *w, struct tg_error *err) {
    char **nt;

    if (!task_tag_valid(tag))
        return bad_prod(err, w, "malformed tag \"%s\" (want kind:value, see docs/tasks.md)", tag);
    for (size_t i = 0; i < a->ntags; i++)
        if (strcmp(a->tags[i], tag) == 0)
            return 0;
    nt = realloc(a->tags, (a->ntags + 1) * sizeof(*nt));
    if (!nt)
        return TG_ENOMEM;
    a->tags = nt;
    a->tags[a->ntags] = dup_n(tag, strlen(tag));
    if (!a->tags[a->ntags])
        return TG_ENOMEM;
    a->ntags++;
    return 0;
}

/* One alternative: a string, or {"text", "tag"|"tags", "ood", "w"}. */
static int parse_alt(struct grammar *g, const json_t *j, struct alt *a, const struct where *w,
                     struct tg_error *err) {
    const char *text;
    int rc;

    memset(a, 0, sizeof(*a));
    a->w = 1.0;
    if (json_is_string(j)) {
        text = json_string_value(j);
    } else if (json_is_object(j)) {
        const char *k;
        json_t *v;

        json_object_foreach((json_t *)j, k, v) {
            if (strcmp(k, "text") != 0 && strcmp(k, "tag") != 0 && strcmp(k, "tags") != 0 &&
                strcmp(k, "ood") != 0 && strcmp(k, "w") != 0)
                return bad_prod(err, w, "unknown field \"%s\"", k);
        }
        text = json_string_value(json_object_get(j, "text"));
        if (!text)
            return bad_prod(err, w, "needs a string \"text\"%s", "");
        if (json_object_get(j, "ood")) {
            if (!json_is_boolean(json_object_get(j, "ood")))
                return bad_prod(err, w, "\"ood\" must be true or false%s", "");
            a->ood = json_is_true(json_object_get(j, "ood"));
        }
        if (json_object_get(j, "w")) {
            const json_t *wv = json_object_get(j, "w");

            if (!json_is_number(wv) || !(json_number_value(wv) > 0) || json_number_value(wv) > 1000)
                return bad_prod(err, w, "\"w\" must be a number in (0, 1000]%s", "");
            a->w = json_number_value(wv);
        }
        if (json_object_get(j, "tag")) {
            const char *t = json_string_value(json_object_get(j, "tag"));

            if (!t)
                return bad_prod(err, w, "\"tag\" must be a string%s", "");
            rc = add_tag(a, t, w, err);
            if (rc)
                return rc;
        }
        if (json_object_get(j, "tags")) {
            const json_t *ts = json_object_get(j, "tags"), *t;
            size_t i;

            if (!json_is_array(ts))
                return bad_prod(err, w, "\"tags\" must be an array of strings%s", "");
            json_array_foreach(ts, i, t) {
                if (!json_is_string(t))
                    return bad_prod(err, w, "\"tags\" must be an array of strings%s", "");
                rc = add_tag(a, json_string_value(t), w, err);
                if (rc)
                    return rc;
            }
        }
    } else {
        return bad_prod(err, w, "must be a string or an object%s", "");
    }
    if (strlen(text) > TG_TASK_PROMPT_MAX)
        return bad_prod(err, w, "text longer than %s bytes", "4096");
    return parse_text(g, text, a, w, err);
}

/* Add rule `name` (new copy) with the alternatives of array j, from file. */
static int add_rule(struct grammar *g, const char *name, const json_t *j, const char *file,
                    struct tg_error *err) {
    struct rule *r;
    const json_t *v;
    size_t i;
    int rc;

    if (!valid_rule_name(name, strlen(name))) {
        tg_error_set(err, "invalid_grammar",
                     "%s: rule \"%.96s\": a name is lowercase letters, digits, '_' and '.'", file,
                     name);
        return TG_EINVAL;
    }
    if (!json_is_array(j) || json_array_size(j) == 0) {
        tg_error_set(err, "invalid_grammar", "%s: rule %s: %s", file, name,
                     json_is_array(j) ? "empty production list"
                                      : "must be an array of productions");
        return TG_EINVAL;
    }
    if (g->nrules >= GRAMMAR_RULES_MAX) {
        tg_error_set(err, "invalid_grammar", "%s: more than %d rules", file, GRAMMAR_RULES_MAX);
        return TG_ERANGE;
    }
    if (g->nrules == g->cap) {
        size_t nc = g->cap ? 2 * g->cap : 256;
        struct rule *nr = realloc(g->rules, nc * sizeof(*nr));

        if (!nr)
            return TG_ENOMEM;
        g->rules = nr;
        g->cap = nc;
    }
    r = &g->rules[g->nrules];
    memset(r, 0, sizeof(*r));
    r->name = dup_n(name, strlen(name));
    r->file = file;
    r->alts = calloc(json_array_size(j), sizeof(*r->alts));
    g->nrules++;
    if (!r->name || !r->alts)
        return TG_ENOMEM;
    json_array_foreach(j, i, v) {
        struct where w = {file, r->name, i};

        rc = parse_alt(g, v, &r->alts[i], &w, err);
        r->nalts = i + 1;
        if (rc)
            return rc;
    }
    return 0;
}

/* Rules of object `rules` (may be NULL), named prefix + key. */
static int add_rules(struct grammar *g, const char *prefix, const json_t *rules, const char *file,
                     struct tg_error *err) {
    const char *k;
    json_t *v;

    if (!rules)
        return 0;
    if (!json_is_object(rules)) {
        tg_error_set(err, "invalid_grammar", "%s: %s\"rules\" must be an object", file, prefix);
        return TG_EINVAL;
    }
    json_object_foreach((json_t *)rules, k, v) {
        char name[160];
        int rc;

        if (snprintf(name, sizeof(name), "%s%s", prefix, k) >= (int)sizeof(name) ||
            (prefix[0] && strchr(k, '.') != NULL)) {
            tg_error_set(err, "invalid_grammar",
                         "%s: %s%.60s: nested rule names hold no '.' and stay short", file, prefix,
                         k);
            return TG_EINVAL;
        }
        rc = add_rule(g, name, v, file, err);
        if (rc)
            return rc;
    }
    return 0;
}

/* Merge key -> (copy of obj without "rules") into *dst, remembering the file. */
static int merge_section(struct grammar *g, json_t **dst, const char *section, const char *key,
                         const json_t *obj, const char *file, struct tg_error *err) {
    char ok[256];
    json_t *copy;

    if (!*dst) {
        *dst = json_object();
        if (!*dst)
            return TG_ENOMEM;
    }
    if (json_object_get(*dst, key)) {
        tg_error_set(err, "invalid_grammar", "%s: %s \"%s\" is already defined in %s", file,
                     section, key, grammar_file_of(g, section, key));
        return TG_EINVAL;
    }
    copy = json_deep_copy(obj);
    if (!copy)
        return TG_ENOMEM;
    json_object_del(copy, "rules");
    snprintf(ok, sizeof(ok), "%s/%s", section, key);
    if (json_object_set_new(*dst, key, copy) ||
        json_object_set_new(g->origin, ok, json_string(file)))
        return TG_ENOMEM;
    return 0;
}

/* A section of objects whose nested "rules" are prefixed: attributes (attr.), kinds (kind.),
 * conversions (conv.); families are kept whole. */
static int load_section(struct grammar *g, const char *section, const json_t *sec, const char *file,
                        struct tg_error *err) {
    const char *k;
    json_t *v;

    if (!json_is_object(sec)) {
        tg_error_set(err, "invalid_grammar", "%s: \"%s\" must be an object", file, section);
        return TG_EINVAL;
    }
    json_object_foreach((json_t *)sec, k, v) {
        char prefix[160];
        int rc = 0;

        if (!json_is_object(v)) {
            tg_error_set(err, "invalid_grammar", "%s: %s \"%s\" must be an object", file, section,
                         k);
            return TG_EINVAL;
        }
        if (strcmp(section, "families") == 0) {
            rc = merge_section(g, &g->families, section, k, v, file, err);
        } else if (strcmp(section, "attributes") == 0) {
            const char *dot = strchr(k, '.');

            if (!dot || dot == k || !dot[1] || strchr(dot + 1, '.') ||
                !valid_rule_name(k, strlen(k))) {
                tg_error_set(err, "invalid_grammar",
                             "%s: attribute \"%s\" must be named <kind>.<key>", file, k);
                return TG_EINVAL;
            }
            snprintf(prefix, sizeof(prefix), "attr.%s.", k);
            rc = merge_section(g, &g->attributes, section, k, v, file, err);
            if (!rc)
                rc = add_rules(g, prefix, json_object_get(v, "rules"), file, err);
        } else if (strcmp(section, "kinds") == 0) {
            const char *kk;
            json_t *kv;

            json_object_foreach(v, kk, kv) {
                (void)kv;
                if (strcmp(kk, "rules") != 0 && strcmp(kk, "about") != 0) {
                    tg_error_set(err, "invalid_grammar", "%s: kind \"%s\": unknown field \"%s\"",
                                 file, k, kk);
                    return TG_EINVAL;
                }
            }
            snprintf(prefix, sizeof(prefix), "kind.%s.", k);
            rc = add_rules(g, prefix, json_object_get(v, "rules"), file, err);
        } else {
            snprintf(prefix, sizeof(prefix), "conv.%s.", k);
            rc = merge_section(g, &g->conversions, section, k, v, file, err);
            if (!rc)
                rc = add_rules(g, prefix, json_object_get(v, "rules"), file, err);
        }
        if (rc)
            return rc;
    }
    return 0;
}

static int load_file(struct grammar *g, const char *path, struct tg_error *err) {
    static const char *const sections[] = {"attributes", "kinds", "conversions", "families"};
    json_error_t je;
    json_t *root;
    const char *k, *file;
    json_t *v;
    char **nf;
    int rc = 0;

    nf = realloc(g->files, (g->nfiles + 1) * sizeof(*nf));
    if (!nf)
        return TG_ENOMEM;
    g->files = nf;
    g->files[g->nfiles] = dup_n(path, strlen(path));
    if (!g->files[g->nfiles])
        return TG_ENOMEM;
    file = g->files[g->nfiles++];
    root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        tg_error_set(err, "invalid_grammar", "%s:%d: %s", path, je.line, je.text);
        return je.line > 0 ? TG_EINVAL : TG_EIO;
    }
    if (!json_is_object(root)) {
        tg_error_set(err, "invalid_grammar", "%s: must hold a JSON object", path);
        json_decref(root);
        return TG_EINVAL;
    }
    json_object_foreach(root, k, v) {
        size_t s;

        if (strcmp(k, "about") == 0)
            continue;
        if (strcmp(k, "rules") == 0) {
            rc = add_rules(g, "", v, file, err);
        } else {
            for (s = 0; s < TG_ARRAY_LEN(sections); s++)
                if (strcmp(k, sections[s]) == 0)
                    break;
            if (s == TG_ARRAY_LEN(sections)) {
                tg_error_set(err, "invalid_grammar",
                             "%s: unknown section \"%s\" (about, rules, attributes, kinds, "
                             "conversions, families)",
                             path, k);
                rc = TG_EINVAL;
            } else {
                rc = load_section(g, k, v, file, err);
            }
        }
        if (rc)
            break;
    }
    json_decref(root);
    return rc;
}

static int cmp_rule(const void *a, const void *b) {
    return strcmp(((const struct rule *)a)->name, ((const struct rule *)b)->name);
}

/* Sort, reject duplicates, resolve plain references, and require a tag of its own on every
 * held-out production. */
static int finish(struct grammar *g, struct tg_error *err) {
    json_t *shared;
    int rc = 0;

    if (g->nrules)
        qsort(g->rules, g->nrules, sizeof(*g->rules), cmp_rule);
    for (size_t r = 1; r < g->nrules; r++) {
        if (strcmp(g->rules[r - 1].name, g->rules[r].name) == 0) {
            tg_error_set(err, "invalid_grammar", "%s: rule %s is already defined in %s",
                         g->rules[r].file, g->rules[r].name, g->rules[r - 1].file);
            return TG_EINVAL;
        }
    }
    for (size_t r = 0; r < g->nrules; r++) {
        for (size_t a = 0; a < g->rules[r].nalts; a++) {
            struct alt *al = &g->rules[r].alts[a];

            for (size_t i = 0; i < al->nitems; i++) {
                struct item *it = &al->items[i];

                if (it->kind != IT_REF || it->scope != RS_PLAIN)
                    continue;
                it->rule = find_rule(g, it->text);
                if (it->rule < 0) {
                    struct where w = {g->rules[r].file, g->rules[r].name, a};

                    return bad_prod(err, &w, "reference to an unknown rule <%s>", it->text);
                }
            }
        }
    }
    /* tags used by productions that are not held out */
    shared = json_object();
    if (!shared)
        return TG_ENOMEM;
    for (size_t r = 0; r < g->nrules; r++)
        for (size_t a = 0; a < g->rules[r].nalts; a++)
            for (size_t t = 0; !g->rules[r].alts[a].ood && t < g->rules[r].alts[a].ntags; t++)
                json_object_set_new(shared, g->rules[r].alts[a].tags[t], json_true());
    for (size_t r = 0; r < g->nrules && !rc; r++) {
        for (size_t a = 0; a < g->rules[r].nalts && !rc; a++) {
            const struct alt *al = &g->rules[r].alts[a];
            int own = 0;

            for (size_t t = 0; al->ood && t < al->ntags; t++)
                own |= json_object_get(shared, al->tags[t]) == NULL;
            if (al->ood && !own) {
                struct where w = {g->rules[r].file, g->rules[r].name, a};

                rc = bad_prod(err, &w,
                              "a held-out (ood) production needs a tag that no other "
                              "production carries%s",
                              "");
            }
        }
    }
    json_decref(shared);
    return rc;
}

static int cmp_cstr(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static struct grammar *grammar_new(const struct grammar_names *names) {
    struct grammar *g = calloc(1, sizeof(*g));

    if (!g)
        return NULL;
    g->origin = json_object();
    if (!g->origin) {
        free(g);
        return NULL;
    }
    g->nph = names && names->nplaceholders <= GRAMMAR_PH_MAX ? names->nplaceholders : 0;
    for (size_t i = 0; i < g->nph; i++)
        g->ph[i] = names->placeholders[i];
    g->nflags = names && names->nflags <= GRAMMAR_FLAGS_MAX ? names->nflags : 0;
    for (size_t i = 0; i < g->nflags; i++)
        g->flags[i] = names->flags[i];
    for (int s = 0; s < GRAMMAR_SLOTS; s++) {
        const char *n = names ? names->slot_placeholders[s] : NULL;

        const char *v = names ? names->slot_values[s] : NULL;

        g->slot_ph[s] = n ? index_of(g->ph, g->nph, n, strlen(n)) : -1;
        g->slot_v[s] = v ? index_of(g->ph, g->nph, v, strlen(v)) : -1;
    }
    return g;
}

int grammar_load_files(const char *const *paths, size_t n, const struct grammar_names *names,
                       struct grammar **out, struct tg_error *err) {
    struct grammar *g = grammar_new(names);
    int rc = 0;

    *out = NULL;
    if (!g)
        return TG_ENOMEM;
    for (size_t i = 0; i < n && !rc; i++)
        rc = load_file(g, paths[i], err);
    if (!rc)
        rc = finish(g, err);
    if (rc == TG_ENOMEM)
        tg_error_set(err, TG_CODE_NOMEM, "out of memory while loading the grammar");
    if (rc) {
        grammar_free(g);
        return rc;
    }
    *out = g;
    return 0;
}

int grammar_load_dir(const char *dir, const struct grammar_names *names, struct grammar **out,
                     struct tg_error *err) {
    char *list[GRAMMAR_FILES_MAX];
    size_t n = 0;
    struct dirent *de;
    DIR *d = opendir(dir);
    int rc = 0;

    *out = NULL;
    if (!d) {
        tg_error_set(err, TG_CODE_IO, "%s: cannot open the grammar directory: %s", dir,
                     strerror(errno));
        return TG_EIO;
    }
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        char path[4096];

        if (l < 6 || strcmp(de->d_name + l - 5, ".json") != 0 || de->d_name[0] == '.')
            continue;
        if (n == GRAMMAR_FILES_MAX) {
            tg_error_set(err, "invalid_grammar", "%s: more than %d grammar files", dir,
                         GRAMMAR_FILES_MAX);
            rc = TG_ERANGE;
            break;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        list[n] = dup_n(path, strlen(path));
        if (!list[n]) {
            rc = TG_ENOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    if (!rc && n == 0) {
        tg_error_set(err, "invalid_grammar", "%s: no *.json grammar files", dir);
        rc = TG_EINVAL;
    }
    if (!rc) {
        qsort(list, n, sizeof(*list), cmp_cstr);
        rc = grammar_load_files((const char *const *)list, n, names, out, err);
    }
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    return rc;
}

/* ---- resolution ------------------------------------------------------------------------- */

/* The slot a reference of scope sc uses, given the current slot cur. */
static int ref_slot(enum ref_scope sc, int cur) {
    switch (sc) {
    case RS_SLOT1:
        return GRAMMAR_SLOT_1;
    case RS_SLOT2:
        return GRAMMAR_SLOT_2;
    case RS_SLOTD:
        return GRAMMAR_SLOT_D;
    default:
        return cur;
    }
}

/*
 * The rule a reference expands under binding b in slot cur, or -1 with `tried` (n bytes)
 * naming what was looked for.
 */
static int resolve(const struct grammar *g, const struct item *it, const struct grammar_binding *b,
                   int cur, char *tried, size_t n) {
    char name[256];
    int r;

    if (it->scope == RS_PLAIN)
        return it->rule;
    if (it->scope == RS_CONV) {
        snprintf(name, sizeof(name), "conv.%s.%s", b->conv ? b->conv : "?", it->text);
        snprintf(tried, n, "%s", b->conv ? name : "a conversion (none is bound here)");
        return b->conv ? find_rule(g, name) : -1;
    }
    {
        const struct grammar_scope *s = &b->slot[ref_slot(it->scope, cur)];

        if (!s->kind) {
            snprintf(tried, n, "an entity in slot %s (none is bound here)",
                     ref_slot(it->scope, cur) == GRAMMAR_SLOT_D   ? "d"
                     : ref_slot(it->scope, cur) == GRAMMAR_SLOT_2 ? "2"
                                                                  : "1");
            return -1;
        }
        if (s->key) {
            snprintf(name, sizeof(name), "attr.%s.%s.%s", s->kind, s->key, it->text);
            r = find_rule(g, name);
            if (r >= 0)
                return r;
        }
        snprintf(name, sizeof(name), "kind.%s.%s", s->kind, it->text);
        r = find_rule(g, name);
        if (r >= 0)
            return r;
        r = find_rule(g, it->text);
        if (r < 0) {
            if (s->key)
                snprintf(tried, n, "attr.%s.%s.%s, kind.%s.%s or %s", s->kind, s->key, it->text,
                         s->kind, it->text, it->text);
            else
                snprintf(tried, n, "kind.%s.%s or %s", s->kind, it->text, it->text);
        }
        return r;
    }
}

/* The placeholder index an IT_PH or IT_X item stands for in slot `slot`, -1 if none. */
static int item_ph(const struct grammar *g, const struct item *it, int slot) {
    if (it->kind == IT_PH)
        return it->ph;
    return it->kind == IT_XV ? g->slot_v[slot] : g->slot_ph[slot];
}

/* ---- checking --------------------------------------------------------------------------- */

struct checker {
    const struct grammar *g;
    const struct grammar_binding *b;
    unsigned provided;
    int ood;
    const char *what;
    unsigned char *state; /* per (rule, slot): 0 new, 1 on the stack, 2 done */
    unsigned *must;       /* per (rule, slot): placeholders in every expansion (bits < 32) */
    unsigned *may;        /* per (rule, slot): placeholders in some expansion */
    struct tg_error *err;
};

/* Placeholder bits: 0..31 the declared placeholders. */
static int check_node(struct checker *c, int r, int slot, unsigned *must, unsigned *may);

static int check_alt(struct checker *c, int r, size_t a, int slot, unsigned *must, unsigned *may) {
    const struct rule *ru = &c->g->rules[r];
    const struct alt *al = &ru->alts[a];
    struct where w = {ru->file, ru->name, a};
    unsigned m = 0, y = 0;

    for (size_t i = 0; i < al->nitems; i++) {
        const struct item *it = &al->items[i];
        char tried[300];

        if (it->kind == IT_PH || it->kind == IT_X || it->kind == IT_XV) {
            int ph = item_ph(c->g, it, slot);

            if (it->kind != IT_PH && (ph < 0 || !c->b->slot[slot].kind))
                return bad_prod(c->err, &w, "{X} or {XV} used where no entity is bound (%s)",
                                c->what);
            if (!(c->provided & (1u << ph)))
                return bad_prod(c->err, &w, "placeholder {%s} is not provided here", c->g->ph[ph]);
            m |= 1u << ph;
            y |= 1u << ph;
        } else if (it->kind == IT_REF) {
            int t = resolve(c->g, it, c->b, slot, tried, sizeof(tried));
            unsigned sub = 0, subm = 0;
            int rc;

            if (t < 0) {
                char msg[TG_ERR_MSG_MAX];

                snprintf(msg, sizeof(msg), "<%s%s> does not resolve for %s: no %s",
                         it->scope == RS_PLAIN  ? ""
                         : it->scope == RS_CONV ? "%"
                                                : "@",
                         it->text, c->what, tried);
                return bad_prod(c->err, &w, "%s", msg);
            }
            rc = check_node(c, t, ref_slot(it->scope, slot), &sub, &subm);
            if (rc) {
                if (rc == 1) /* a cycle closes here */
                    return bad_prod(c->err, &w, "cycle: it expands <%s> again inside itself",
                                    c->g->rules[t].name);
                return rc;
            }
            if (it->flag < 0)
                m |= sub;
            y |= subm;
        }
    }
    *must = m;
    *may = y;
    return 0;
}

/* Returns 0, 1 when r is on the stack (a cycle), or a tg_err. */
static int check_node(struct checker *c, int r, int slot, unsigned *must, unsigned *may) {
    size_t node = (size_t)r * GRAMMAR_SLOTS + (size_t)slot;
    const struct rule *ru = &c->g->rules[r];
    unsigned m = ~0u, y = 0;
    int any = 0;

    if (c->state[node] == 2) {
        *must = c->must[node];
        *may = c->may[node];
        return 0;
    }
    if (c->state[node] == 1)
        return 1;
    c->state[node] = 1;
    for (size_t a = 0; a < ru->nalts; a++) {
        unsigned am, ay;
        int rc;

        if (ru->alts[a].ood && !c->ood)
            continue;
        rc = check_alt(c, r, a, slot, &am, &ay);
        if (rc)
            return rc < 0 ? rc : TG_EINVAL;
        m &= am;
        y |= ay;
        any = 1;
    }
    if (!any) {
        tg_error_set(c->err, "invalid_grammar",
                     "%s: rule %s: every production is held out (ood), so %s cannot expand it "
                     "outside the ood split",
                     ru->file, ru->name, c->what);
        return TG_EINVAL;
    }
    c->state[node] = 2;
    c->must[node] = m;
    c->may[node] = y;
    *must = m;
    *may = y;
    return 0;
}

/*
 * The production to blame when node (r, slot) can expand without placeholder ph: descend
 * through alternatives that lack it into a rule that sometimes has it, down to an alternative
 * that lacks it and refers to nothing that could give it. Needs the memo of a finished check.
 */
static void culprit(const struct checker *c, int r, int slot, int ph, int depth, struct where *w) {
    const struct rule *ru = &c->g->rules[r];

    for (size_t a = 0; a < ru->nalts; a++) {
        const struct alt *al = &ru->alts[a];
        int lacks = 1, next = -1, next_slot = slot;

        if (al->ood && !c->ood)
            continue;
        for (size_t i = 0; i < al->nitems && lacks; i++) {
            const struct item *it = &al->items[i];
            char tried[8];
            int t, ts;

            if ((it->kind == IT_PH || it->kind == IT_X || it->kind == IT_XV) &&
                item_ph(c->g, it, slot) == ph)
                lacks = 0;
            if (it->kind != IT_REF)
                continue;
            t = resolve(c->g, it, c->b, slot, tried, sizeof(tried));
            ts = ref_slot(it->scope, slot);
            if (t < 0)
                continue;
            if (it->flag < 0 && (c->must[(size_t)t * GRAMMAR_SLOTS + (size_t)ts] & (1u << ph)))
                lacks = 0;
            else if (next < 0 && (c->may[(size_t)t * GRAMMAR_SLOTS + (size_t)ts] & (1u << ph))) {
                next = t;
                next_slot = ts;
            }
        }
        if (!lacks)
            continue;
        w->file = ru->file;
        w->rule = ru->name;
        w->alt = a;
        if (next >= 0 && depth < GRAMMAR_DEPTH_MAX)
            culprit(c, next, next_slot, ph, depth + 1, w);
        return;
    }
}

int grammar_check(const struct grammar *g, const char *root, const struct grammar_binding *b,
                  unsigned provided, unsigned required, int ood, const char *what,
                  struct tg_error *err) {
    struct checker c;
    unsigned must = 0, may = 0;
    int r = find_rule(g, root), rc;

    if (r < 0) {
        tg_error_set(err, "invalid_grammar", "no rule %s for %s: its expert plan cannot be built",
                     root, what);
        return TG_EINVAL;
    }
    memset(&c, 0, sizeof(c));
    c.g = g;
    c.b = b;
    c.provided = provided;
    c.ood = ood;
    c.what = what;
    c.err = err;
    c.state = calloc(g->nrules * GRAMMAR_SLOTS, 1);
    c.must = calloc(g->nrules * GRAMMAR_SLOTS, sizeof(unsigned));
    c.may = calloc(g->nrules * GRAMMAR_SLOTS, sizeof(unsigned));
    if (!c.state || !c.must || !c.may) {
        free(c.state);
        free(c.must);
        free(c.may);
        tg_error_set(err, TG_CODE_NOMEM, "out of memory while checking the grammar");
        return TG_ENOMEM;
    }
    rc = check_node(&c, r, GRAMMAR_SLOT_1, &must, &may);
    if (rc == 1) {
        tg_error_set(err, "invalid_grammar", "%s: rule %s: cycle through itself", g->rules[r].file,
                     root);
        rc = TG_EINVAL;
    }
    if (!rc && (required & ~must)) {
        unsigned missing = required & ~must;
        struct where w = {g->rules[r].file, g->rules[r].name, 0};
        char msg[TG_ERR_MSG_MAX];
        int ph = 0;

        while (!(missing & (1u << ph)))
            ph++;
        culprit(&c, r, GRAMMAR_SLOT_1, ph, 0, &w);
        snprintf(msg, sizeof(msg),
                 "can expand without {%s}, so the expert plan of %s cannot be built", g->ph[ph],
                 what);
        rc = bad_prod(err, &w, "%s", msg);
    }
    free(c.state);
    free(c.must);
    free(c.may);
    return rc;
}

/* ---- expansion -------------------------------------------------------------------------- */

#define RAW_MAX (2 * TG_TASK_PROMPT_MAX)

struct expander {
    const struct grammar *g;
    const struct grammar_ctx *ctx;
    char text[RAW_MAX], frame[RAW_MAX];
    size_t tlen, flen;
    int first[GRAMMAR_PH_MAX]; /* raw text offsets */
    struct grammar_out *out;
    struct tg_error *err;
};

static int emit(struct expander *e, const char *t, const char *f) {
    size_t tl = strlen(t), fl = strlen(f);

    if (e->tlen + tl >= RAW_MAX || e->flen + fl >= RAW_MAX)
        return TG_ERANGE;
    memcpy(e->text + e->tlen, t, tl);
    memcpy(e->frame + e->flen, f, fl);
    e->tlen += tl;
    e->flen += fl;
    return 0;
}

static int add_out_tag(struct grammar_out *o, const char *tag) {
    for (size_t i = 0; i < o->ntags; i++)
        if (strcmp(o->tags[i], tag) == 0)
            return 0;
    if (o->ntags >= TG_TASK_TAGS_MAX)
        return TG_ERANGE;
    snprintf(o->tags[o->ntags++], TG_TASK_TAG_MAX + 1, "%s", tag);
    return 0;
}

static int expand_rule(struct expander *e, int r, int slot, int depth);

static int expand_alt(struct expander *e, int r, const struct alt *al, int slot, int depth) {
    int rc;

    for (size_t i = 0; i < al->ntags; i++) {
        rc = add_out_tag(e->out, al->tags[i]);
        if (rc)
            return rc;
    }
    if (al->ood)
        e->out->heldout = 1;
    for (size_t i = 0; i < al->nitems; i++) {
        const struct item *it = &al->items[i];
        char buf[64], fb[80];

        switch (it->kind) {
        case IT_TEXT:
            rc = emit(e, it->text, it->text);
            break;
        case IT_PH:
        case IT_X:
        case IT_XV: {
            int ph = item_ph(e->g, it, slot);
            const char *v = ph >= 0 && e->ctx->values ? e->ctx->values[ph] : NULL;

            if (!v) {
                struct where w = {e->g->rules[r].file, e->g->rules[r].name,
                                  (size_t)(al - e->g->rules[r].alts)};

                return bad_prod(e->err, &w, "placeholder {%s} has no value",
                                ph >= 0 ? e->g->ph[ph] : "X");
            }
            if (e->first[ph] < 0)
                e->first[ph] = (int)e->tlen;
            snprintf(fb, sizeof(fb), "{%s}", e->g->ph[ph]);
            rc = emit(e, v, fb);
            break;
        }
        case IT_RAND:
            snprintf(buf, sizeof(buf), "%ld",
                     it->lo + (long)rng_below(e->ctx->rng, (uint64_t)(it->hi - it->lo + 1)));
            rc = emit(e, buf, "{N}");
            break;
        default: {
            char tried[300];
            int t;

            if (it->flag >= 0 && !(e->ctx->flags & (1u << it->flag)))
                continue;
            t = resolve(e->g, it, e->ctx->b, slot, tried, sizeof(tried));
            if (t < 0) {
                struct where w = {e->g->rules[r].file, e->g->rules[r].name,
                                  (size_t)(al - e->g->rules[r].alts)};

                return bad_prod(e->err, &w, "reference does not resolve: no %s", tried);
            }
            rc = expand_rule(e, t, ref_slot(it->scope, slot), depth + 1);
            break;
        }
        }
        if (rc)
            return rc;
    }
    return 0;
}

static int expand_rule(struct expander *e, int r, int slot, int depth) {
    const struct rule *ru = &e->g->rules[r];
    double total = 0, x;
    size_t a;

    if (depth > GRAMMAR_DEPTH_MAX) {
        tg_error_set(e->err, "invalid_grammar", "%s: rule %s: nested deeper than %d", ru->file,
                     ru->name, GRAMMAR_DEPTH_MAX);
        return TG_EINVAL;
    }
    for (a = 0; a < ru->nalts; a++)
        if (!ru->alts[a].ood || e->ctx->ood)
            total += ru->alts[a].w * (ru->alts[a].ood ? e->ctx->ood_boost : 1.0);
    if (!(total > 0)) {
        tg_error_set(e->err, "invalid_grammar", "%s: rule %s: no production allowed here", ru->file,
                     ru->name);
        return TG_EINVAL;
    }
    x = rng_uniform(e->ctx->rng) * total;
    for (a = 0; a < ru->nalts; a++) {
        double w;

        if (ru->alts[a].ood && !e->ctx->ood)
            continue;
        w = ru->alts[a].w * (ru->alts[a].ood ? e->ctx->ood_boost : 1.0);
        if (x < w)
            break;
        x -= w;
    }
    if (a == ru->nalts) /* rounding at the top end: the last allowed one */
        for (a = ru->nalts; a-- > 0;)
            if (!ru->alts[a].ood || e->ctx->ood)
                break;
    return expand_alt(e, r, &ru->alts[a], slot, depth);
}

/*
 * Tidy raw[0..n) into out (cap bytes): collapse whitespace, drop spaces before closing
 * punctuation and after '(', capitalise sentence starts (unless keep_case). map[i] (raw offset i)
 * receives the output offset. Returns TG_ERANGE if out is too small.
 */
static int tidy(const char *raw, size_t n, char *out, size_t cap, int *map, int keep_case) {
    size_t o = 0;
    int cap_next = !keep_case, pending_space = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)raw[i];

        if (map)
            map[i] = (int)(o + (size_t)(pending_space && o > 0 && !strchr(",.;:?!)", c)));
        if (isspace(c)) {
            pending_space = 1;
            continue;
        }
        if (pending_space && o > 0 && !strchr(",.;:?!)", c) && out[o - 1] != '(') {
            if (o + 1 >= cap)
                return TG_ERANGE;
            out[o++] = ' ';
        }
        pending_space = 0;
        if (o + 2 >= cap)
            return TG_ERANGE;
        /* "a Ostbrenyra" -> "an Ostbrenyra": the article before a name with a vowel */
        if (strchr("AEIOU", c) && c && o >= 2 && out[o - 1] == ' ' &&
            (out[o - 2] == 'a' || out[o - 2] == 'A') && (o == 2 || out[o - 3] == ' ') &&
            (i == 0 || !isalnum((unsigned char)raw[i - 1]))) {
            out[o - 1] = 'n';
            out[o++] = ' ';
        }
        if (cap_next && isalpha(c)) {
            c = (unsigned char)toupper(c);
            cap_next = 0;
        } else if (isalnum(c)) {
            cap_next = 0;
        }
        out[o++] = (char)c;
        if (c == '.' || c == '?' || c == '!') {
            /* a sentence ends only where a space follows: "3.5" and "e.g" stay */
            if (!keep_case && (i + 1 >= n || isspace((unsigned char)raw[i + 1])))
                cap_next = 1;
        }
    }
    if (map)
        map[n] = (int)o;
    out[o] = '\0';
    return 0;
}

int grammar_expand(const struct grammar *g, const char *root, const struct grammar_ctx *ctx,
                   struct grammar_out *out, struct tg_error *err) {
    struct expander *e;
    int r = find_rule(g, root), rc;
    int *map;

    memset(out, 0, sizeof(*out));
    if (r < 0) {
        tg_error_set(err, "invalid_grammar", "no rule %s", root);
        return TG_EINVAL;
    }
    e = calloc(1, sizeof(*e));
    map = malloc((RAW_MAX + 1) * sizeof(*map));
    if (!e || !map) {
        free(e);
        free(map);
        return TG_ENOMEM;
    }
    e->g = g;
    e->ctx = ctx;
    e->out = out;
    e->err = err;
    for (size_t i = 0; i < TG_ARRAY_LEN(e->first); i++)
        e->first[i] = -1;
    rc = expand_rule(e, r, GRAMMAR_SLOT_1, 0);
    if (!rc)
        rc = tidy(e->text, e->tlen, out->text, sizeof(out->text), map, ctx->keep_case);
    if (!rc)
        rc = tidy(e->frame, e->flen, out->frame, sizeof(out->frame), NULL, ctx->keep_case);
    if (!rc)
        for (size_t i = 0; i < TG_ARRAY_LEN(e->first); i++)
            out->first[i] = e->first[i] < 0 ? -1 : map[e->first[i]];
    if (rc == TG_ERANGE)
        tg_error_set(err, "too_long", "the expansion of %s exceeds %d bytes or %d tags", root,
                     TG_TASK_PROMPT_MAX, TG_TASK_TAGS_MAX);
    free(map);
    free(e);
    return rc;
}

json_t *grammar_heldout_tags(const struct grammar *g) {
    json_t *shared = json_object(), *held = json_object(), *arr = json_array();
    const char **names = NULL;
    const char *k;
    json_t *v;
    size_t n = 0;

    if (!shared || !held || !arr)
        goto fail;
    for (size_t r = 0; r < g->nrules; r++)
        for (size_t a = 0; a < g->rules[r].nalts; a++)
            for (size_t t = 0; t < g->rules[r].alts[a].ntags; t++)
                json_object_set_new(g->rules[r].alts[a].ood ? held : shared,
                                    g->rules[r].alts[a].tags[t], json_true());
    names = malloc((json_object_size(held) + 1) * sizeof(*names));
    if (!names)
        goto fail;
    json_object_foreach(held, k, v) {
        (void)v;
        if (!json_object_get(shared, k))
            names[n++] = k;
    }
    if (n)
        qsort(names, n, sizeof(*names), cmp_cstr);
    for (size_t i = 0; i < n; i++)
        if (json_array_append_new(arr, json_string(names[i])))
            goto fail;
    free(names);
    json_decref(shared);
    json_decref(held);
    return arr;
fail:
    free(names);
    json_decref(shared);
    json_decref(held);
    json_decref(arr);
    return NULL;
}
