/*
 * jsonw.c — the JSON writer of jsonw.h: jansson's compact dump, without its cycle bookkeeping.
 */
#include "base/jsonw.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/tg.h"

static const char hexdig[] = "0123456789ABCDEF";

/* Fail b (as dbuf does past its max) with rc; returns rc. */
static int fail(struct dbuf *b, int rc) {
    free(b->p);
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
    if (!b->err)
        b->err = rc;
    return b->err;
}

/* The code point of the UTF-8 sequence at s (n bytes left) into *cp; its length, or 0 when it
 * is not well-formed (jansson's strings always are; a raw C key might not be). */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp) {
    uint32_t c = s[0];
    size_t need;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
        c &= 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        c &= 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        c &= 0x07;
    } else {
        return 0;
    }
    if (n <= need)
        return 0;
    for (size_t k = 1; k <= need; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[k] & 0x3F);
    }
    if ((need == 2 && c < 0x800) || (need == 3 && c < 0x10000) || c > 0x10FFFF ||
        (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return need + 1;
}

/* \uXXXX of a BMP code unit into out (6 bytes). */
static void u_escape(char *out, uint32_t u) {
    out[0] = '\\';
    out[1] = 'u';
    out[2] = hexdig[(u >> 12) & 15];
    out[3] = hexdig[(u >> 8) & 15];
    out[4] = hexdig[(u >> 4) & 15];
    out[5] = hexdig[u & 15];
}

int jsonw_string(struct dbuf *b, const char *str, size_t len, int flags) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, run = 0;
    int rc;

    rc = dbuf_add(b, "\"", 1);
    while (rc == 0 && i < len) {
        unsigned char c = s[i];
        char esc[12];
        size_t elen = 2, k = 1;
        uint32_t cp;

        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) { /* the common case: copy later */
            i++;
            run++;
            continue;
        }
        if (c >= 0x80) {
            k = utf8_next(s + i, len - i, &cp);
            if (k == 0)
                return fail(b, TG_EINVAL);
            if (!(flags & JSONW_ASCII)) {
                i += k;
                run += k;
                continue;
            }
        } else {
            cp = c;
        }
        if (run)
            rc = dbuf_add(b, s + i - run, run);
        run = 0;
        if (rc)
            break;
        esc[0] = '\\';
        switch (cp) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            if (cp < 0x10000) {
                u_escape(esc, cp);
                elen = 6;
            } else {
                cp -= 0x10000;
                u_escape(esc, 0xD800 | ((cp >> 10) & 0x3FF));
                u_escape(esc + 6, 0xDC00 | (cp & 0x3FF));
                elen = 12;
            }
        }
        rc = dbuf_add(b, esc, elen);
        i += k;
    }
    if (rc == 0 && run)
        rc = dbuf_add(b, s + len - run, run);
    if (rc == 0)
        rc = dbuf_add(b, "\"", 1);
    return rc;
}

int jsonw_key(struct dbuf *b, const char *key, int first, int flags) {
    int rc = first ? 0 : dbuf_add(b, ",", 1);

    if (rc == 0)
        rc = jsonw_string(b, key, strlen(key), flags);
    if (rc == 0)
        rc = dbuf_add(b, ":", 1);
    return rc;
}

int jsonw_raw(struct dbuf *b, const char *s) {
    return dbuf_add_str(b, s);
}

/* A signed 64-bit integer in decimal. */
static int write_int(struct dbuf *b, json_int_t v) {
    char buf[24], *p = buf + sizeof(buf);
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    return dbuf_add(b, p, (size_t)(buf + sizeof(buf) - p));
}

int jsonw_real(struct dbuf *b, double v, int flags) {
    char buf[64], *e;
    int n = snprintf(buf, sizeof(buf), "%.*g", (flags & JSONW_REAL17) ? 17 : 15, v);

    if (n < 0 || (size_t)n + 3 > sizeof(buf) || !isfinite(v))
        return fail(b, TG_EINVAL);
    if (!strchr(buf, '.') && !strchr(buf, 'e')) { /* whole: stays a real when read back */
        buf[n++] = '.';
        buf[n++] = '0';
        buf[n] = '\0';
    }
    e = strchr(buf, 'e');
    if (e) { /* "1e+15" → "1e15", "1e-05" → "1e-5" */
        char *from = e + 1, *to = e + 1;

        if (*from == '-')
            from++, to++;
        else if (*from == '+')
            from++;
        while (*from == '0' && from[1] != '\0')
            from++;
        memmove(to, from, strlen(from) + 1);
        n = (int)strlen(buf);
    }
    return dbuf_add(b, buf, (size_t)n);
}

static int write_value(struct dbuf *b, const json_t *v, int flags, int depth,
                       const struct jsonw_splice *sp) {
    int rc;

    if (!v)
        return fail(b, TG_EINVAL);
    if (sp && v == sp->value)
        return dbuf_add_str(b, sp->text);
    switch (json_typeof(v)) {
    case JSON_NULL:
        return dbuf_add(b, "null", 4);
    case JSON_TRUE:
        return dbuf_add(b, "true", 4);
    case JSON_FALSE:
        return dbuf_add(b, "false", 5);
    case JSON_INTEGER:
        return write_int(b, json_integer_value(v));
    case JSON_REAL:
        return jsonw_real(b, json_real_value(v), flags);
    case JSON_STRING:
        return jsonw_string(b, json_string_value(v), json_string_length(v), flags);
    case JSON_ARRAY: {
        size_t n = json_array_size(v);

        if (depth >= JSONW_MAX_DEPTH)
            return fail(b, TG_ERANGE);
        rc = dbuf_add(b, "[", 1);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            if (i > 0)
                rc = dbuf_add(b, ",", 1);
            if (rc == 0)
                rc = write_value(b, json_array_get(v, i), flags, depth + 1, sp);
        }
        return rc ? rc : dbuf_add(b, "]", 1);
    }
    case JSON_OBJECT: {
        void *it = json_object_iter((json_t *)v);

        if (depth >= JSONW_MAX_DEPTH)
            return fail(b, TG_ERANGE);
        rc = dbuf_add(b, "{", 1);
        for (int first = 1; rc == 0 && it; first = 0) {
            if (!first)
                rc = dbuf_add(b, ",", 1);
            if (rc == 0)
                rc = jsonw_string(b, json_object_iter_key(it), json_object_iter_key_len(it), flags);
            if (rc == 0)
                rc = dbuf_add(b, ":", 1);
            if (rc == 0)
                rc = write_value(b, json_object_iter_value(it), flags, depth + 1, sp);
            it = json_object_iter_next((json_t *)v, it);
        }
        return rc ? rc : dbuf_add(b, "}", 1);
    }
    default:
        return fail(b, TG_EINVAL);
    }
}

int jsonw_value(struct dbuf *b, const json_t *v, int flags) {
    return write_value(b, v, flags, 0, NULL);
}

int jsonw_value_splice(struct dbuf *b, const json_t *v, int flags, const struct jsonw_splice *sp) {
    return write_value(b, v, flags, 0, sp);
}

char *jsonw_dumps(const json_t *v, int flags, size_t max, const struct jsonw_splice *sp) {
    struct dbuf b;

    dbuf_init(&b, max);
    if (write_value(&b, v, flags, 0, sp) != 0) {
        dbuf_free(&b);
        return NULL;
    }
    return dbuf_take(&b, NULL);
}
