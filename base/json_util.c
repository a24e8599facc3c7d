/*
 * json_util.c — untrusted-JSON parsing with depth and UTF-8 checks, and strict field checks.
 * See json_util.h. Nothing here allocates except jansson's parse.
 */
#include "base/json_util.h"

#include <string.h>

size_t jsonu_utf8_prefix(const char *s, size_t len, size_t max) {
    size_t n = len < max ? len : max, i = n, cont = 0, need;
    unsigned char lead;

    if (n == len)
        return n;
    while (i > 0 && cont < 3 && ((unsigned char)s[i - 1] & 0xC0) == 0x80) {
        i--;
        cont++;
    }
    if (i == 0)
        return 0;
    lead = (unsigned char)s[i - 1];
    need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    return cont + 1 < need ? i - 1 : n;
}

void jsonu_utf8_scrub(char *s) {
    size_t n = strlen(s);

    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t k = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;

        if (i + k <= n && jsonu_utf8_valid(s + i, k))
            i += k;
        else
            s[i++] = '?';
    }
}

int jsonu_utf8_valid(const char *buf, size_t len) {
    const unsigned char *s = (const unsigned char *)buf;
    size_t i = 0;

    while (i < len) {
        unsigned c = s[i];
        size_t need;
        unsigned cp;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (len - i <= need)
            return 0;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += need + 1;
    }
    return 1;
}

int jsonu_depth_ok(const char *buf, size_t len, size_t max_depth) {
    size_t depth = 0;
    int in_str = 0, esc = 0;

    for (size_t i = 0; i < len; i++) {
        char c = buf[i];

        if (in_str) {
            if (esc)
                esc = 0;
            else if (c == '\\')
                esc = 1;
            else if (c == '"')
                in_str = 0;
            continue;
        }
        if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth)
                return 0;
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return 1;
}

/* ---- the fast path: plain JSON without escapes, reals or duplicate keys ----------------- */

struct fast {
    const char *p, *end;
    size_t depth, max_depth; /* containers open; more than max_depth: give up */
    int high;                /* a byte past ASCII was seen (inside a string) */
};

static void fast_ws(struct fast *f) {
    while (f->p < f->end && (*f->p == ' ' || *f->p == '\t' || *f->p == '\n' || *f->p == '\r'))
        f->p++;
}

/* A string without escapes or control bytes: its bytes in [*s, *s + *n); 0, or -1 to give up.
 * Bytes past ASCII set f->high: the caller checks the UTF-8 of the whole text then. */
static int fast_str(struct fast *f, const char **s, size_t *n) {
    const char *q = ++f->p;

    while (q < f->end && *q != '"') {
        if (*q == '\\' || (unsigned char)*q < 0x20)
            return -1;
        f->high |= (unsigned char)*q >= 0x80;
        q++;
    }
    if (q >= f->end)
        return -1;
    *s = f->p;
    *n = (size_t)(q - f->p);
    f->p = q + 1;
    return 0;
}

static json_t *fast_value(struct fast *f);

static json_t *fast_container(struct fast *f, int object) {
    json_t *c, *v;
    const char *k;
    size_t kn;

    if (++f->depth > f->max_depth) /* jsonu_depth_ok's refusal: jsonu_parse says so */
        return NULL;
    c = object ? json_object() : json_array();
    f->p++;
    fast_ws(f);
    if (!c)
        return NULL;
    if (f->p < f->end && *f->p == (object ? '}' : ']')) {
        f->p++;
        f->depth--;
        return c;
    }
    for (;;) {
        if (object) {
            if (f->p >= f->end || *f->p != '"' || fast_str(f, &k, &kn) != 0 ||
                json_object_getn(c, k, kn)) /* a duplicate: jansson says so */
                goto fail;
            fast_ws(f);
            if (f->p >= f->end || *f->p != ':')
                goto fail;
            f->p++;
        }
        v = fast_value(f);
        if (!v)
            goto fail;
        if (object ? json_object_setn_new_nocheck(c, k, kn, v) : json_array_append_new(c, v))
            goto fail;
        if (f->p < f->end && *f->p == ',') {
            f->p++;
            fast_ws(f);
            continue;
        }
        if (f->p < f->end && *f->p == (object ? '}' : ']')) {
            f->p++;
            f->depth--;
            return c;
        }
        goto fail;
    }
fail:
    json_decref(c);
    return NULL;
}

/* An integer of at most 18 digits (never out of range); reals and the rest give up. */
static json_t *fast_int(struct fast *f) {
    const char *q = f->p;
    int neg = 0, nd = 0;
    json_int_t v = 0;

    if (*q == '-') {
        neg = 1;
        q++;
    }
    while (q < f->end && *q >= '0' && *q <= '9' && nd < 18) { /* a 19th digit: given up below */
        v = v * 10 + (*q - '0');
        q++;
        nd++;
    }
    if (nd == 0 || (nd > 1 && q[-nd] == '0')) /* no digit, or a leading zero */
        return NULL;
    if (q < f->end && (*q == '.' || *q == 'e' || *q == 'E' || (*q >= '0' && *q <= '9')))
        return NULL;
    f->p = q;
    return json_integer(neg ? -v : v);
}

static json_t *fast_word(struct fast *f, const char *w, json_t *v) {
    size_t n = strlen(w);

    if ((size_t)(f->end - f->p) < n || memcmp(f->p, w, n) != 0)
        return NULL;
    f->p += n;
    return v;
}

/* One value and the blanks after it; NULL to give up. */
static json_t *fast_value(struct fast *f) {
    const char *s;
    size_t n;
    json_t *v;

    fast_ws(f);
    if (f->p >= f->end)
        return NULL;
    switch (*f->p) {
    case '{':
        v = fast_container(f, 1);
        break;
    case '[':
        v = fast_container(f, 0);
        break;
    case '"':
        v = fast_str(f, &s, &n) == 0 ? json_stringn_nocheck(s, n) : NULL;
        break;
    case 't':
        v = fast_word(f, "true", json_true());
        break;
    case 'f':
        v = fast_word(f, "false", json_false());
        break;
    case 'n':
        v = fast_word(f, "null", json_null());
        break;
    default:
        v = fast_int(f);
    }
    if (v)
        fast_ws(f);
    return v;
}

/* The fast path over buf[0..len), giving up past max_depth; *high: a byte past ASCII. */
static json_t *parse_fast(const char *buf, size_t len, size_t max_depth, int *high) {
    struct fast f = {buf, buf + len, 0, max_depth, 0};
    json_t *v = fast_value(&f);

    if (v && f.p != f.end) { /* something after the value: jansson's error */
        json_decref(v);
        return NULL;
    }
    *high = f.high;
    return v;
}

json_t *jsonu_parse_fast(const char *buf, size_t len) {
    int high;

    return parse_fast(buf, len, (size_t)-1, &high);
}

int jsonu_parse(const char *buf, size_t len, size_t max_depth, json_t **out, struct tg_error *err) {
    json_error_t jerr;
    json_t *v;

    *out = NULL;
    /* Most bodies: the fast path takes them, within the depth limit, and when it saw only ASCII
     * the UTF-8 and depth checks below could not fail; so they run only when it gave up. */
    {
        int high;

        v = parse_fast(buf, len, max_depth, &high);
        if (v && (!high || jsonu_utf8_valid(buf, len))) {
            *out = v;
            return 0;
        }
        json_decref(v);
    }
    if (!jsonu_utf8_valid(buf, len)) {
        tg_error_set(err, "invalid_json", "The body is not valid UTF-8.");
        return TG_EINVAL;
    }
    if (!jsonu_depth_ok(buf, len, max_depth)) {
        tg_error_set(err, "invalid_json", "The body nests arrays or objects deeper than %zu.",
                     max_depth);
        return TG_EINVAL;
    }
    v = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!v) {
        tg_error_set(err, "invalid_json", "The body is not JSON: %s at line %d, column %d.",
                     jerr.text, jerr.line, jerr.column);
        return TG_EINVAL;
    }
    *out = v;
    return 0;
}

const char *jsonu_type_name(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    default:
        return "null";
    }
}

static int type_matches(const json_t *v, int want) {
    if (want == JSONU_ANY)
        return 1;
    switch (want) {
    case JSON_REAL:
        return json_is_number(v);
    case JSON_TRUE:
    case JSON_FALSE:
        return json_is_boolean(v);
    default:
        return (int)json_typeof(v) == want;
    }
}

static const char *want_name(int t) {
    switch (t) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    default:
        return "any value";
    }
}

int jsonu_find_fault(const json_t *obj, const struct jsonu_field *fields, size_t n, int flags,
                     struct jsonu_fault *f) {
    const char *key;
    json_t *val;

    memset(f, 0, sizeof(*f));
    if (!json_is_object(obj)) {
        f->kind = JSONU_NOT_OBJECT;
        f->value = obj;
        return TG_EINVAL;
    }
    if (!(flags & JSONU_OPEN)) {
        json_object_foreach((json_t *)obj, key, val) {
            size_t i;

            for (i = 0; i < n && strcmp(fields[i].name, key) != 0; i++)
                ;
            if (i == n) {
                f->kind = JSONU_UNKNOWN;
                f->key = key;
                f->value = val;
                return TG_EINVAL;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_object_get(obj, fields[i].name);

        if (v ? type_matches(v, fields[i].type) : !fields[i].required)
            continue;
        f->kind = v ? JSONU_WRONG_TYPE : JSONU_MISSING;
        f->key = fields[i].name;
        f->field = &fields[i];
        f->value = v;
        return TG_EINVAL;
    }
    return 0;
}

int jsonu_check_fields(const json_t *obj, const struct jsonu_field *fields, size_t n,
                       const char *what, struct tg_error *err) {
    struct jsonu_fault f;

    if (!jsonu_find_fault(obj, fields, n, 0, &f))
        return 0;
    switch (f.kind) {
    case JSONU_NOT_OBJECT:
        tg_error_set(err, "invalid_request", "The %s must be a JSON object, not %s.", what,
                     obj ? jsonu_type_name(obj) : "empty");
        break;
    case JSONU_UNKNOWN:
        tg_error_set(err, "invalid_request", "Unknown field \"%.64s\" in the %s.", f.key, what);
        break;
    case JSONU_WRONG_TYPE:
        tg_error_set(err, "invalid_request", "Field \"%s\" in the %s must be %s, not %s.", f.key,
                     what, want_name(f.field->type), jsonu_type_name(f.value));
        break;
    default:
        tg_error_set(err, "invalid_request", "Missing field \"%s\" in the %s.", f.key, what);
        break;
    }
    return TG_EINVAL;
}

int jsonu_check_fields_at(const json_t *obj, const struct jsonu_field *fields, size_t n, int flags,
                          const char *code, const char *where, struct tg_error *err) {
    const char *dot = where[0] ? "." : "";
    struct jsonu_fault f;

    if (!jsonu_find_fault(obj, fields, n, flags, &f))
        return 0;
    switch (f.kind) {
    case JSONU_NOT_OBJECT:
        tg_error_set(err, code, "%s%smust be an object", where, where[0] ? ": " : "");
        break;
    case JSONU_UNKNOWN:
        tg_error_set(err, code, "%s%s%.64s: unknown field", where, dot, f.key);
        break;
    case JSONU_WRONG_TYPE:
        tg_error_set(err, code, "%s%s%s: must be %s, not %s", where, dot, f.key,
                     want_name(f.field->type), jsonu_type_name(f.value));
        break;
    default:
        tg_error_set(err, code, "%s%s%s: missing", where, dot, f.key);
        break;
    }
    return TG_EINVAL;
}

json_t *jsonu_with(json_t *o, const char *key, json_t *v) {
    if (!o || !v) {
        json_decref(o);
        json_decref(v);
        return NULL;
    }
    if (json_object_set_new_nocheck(o, key, v) != 0) { /* v is dropped by the call */
        json_decref(o);
        return NULL;
    }
    return o;
}
