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

/* Output bytes of each ASCII byte inside a JSON string: 1 copied as it is, 2 for the short
 * escapes (\" \\ \b \f \n \r \t), 6 for the other controls (\u00XX). */
static const unsigned char ascii_len[128] = {
    6, 6, 6, 6, 6, 6, 6, 6, 2, 2, 2, 6, 2, 2, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
    1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};

/* The escape of an ASCII byte whose ascii_len is 2 or 6, at out; returns its length. */
static size_t ascii_escape(char *out, unsigned char c) {
    char e;

    switch (c) {
    case '"':
        e = '"';
        break;
    case '\\':
        e = '\\';
        break;
    case '\b':
        e = 'b';
        break;
    case '\f':
        e = 'f';
        break;
    case '\n':
        e = 'n';
        break;
    case '\r':
        e = 'r';
        break;
    case '\t':
        e = 't';
        break;
    default:
        u_escape(out, c);
        return 6;
    }
    out[0] = '\\';
    out[1] = e;
    return 2;
}

/*
 * Two passes: the first checks the UTF-8 and counts the exact output bytes (so the buffer's
 * maximum is enforced exactly as an append of that many bytes), the second writes them in
 * place — one copy when nothing needs an escape.
 */
int jsonw_string(struct dbuf *b, const char *str, size_t len, int flags) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, out = 2, k;
    int plain = 1;
    uint32_t cp;
    char *p;

    while (i < len) {
        unsigned char c = s[i];

        if (c < 0x80) {
            unsigned e = ascii_len[c];

            out += e;
            plain &= e == 1;
            i++;
            continue;
        }
        k = utf8_next(s + i, len - i, &cp);
        if (k == 0)
            return fail(b, TG_EINVAL);
        if (flags & JSONW_ASCII) {
            out += cp < 0x10000 ? 6 : 12;
            plain = 0;
        } else {
            out += k;
        }
        i += k;
    }
    p = dbuf_room(b, out);
    if (!p)
        return b->err;
    *p++ = '"';
    if (plain) {
        memcpy(p, s, len);
        p += len;
    } else {
        for (i = 0; i < len;) {
            unsigned char c = s[i];

            if (c < 0x80) {
                if (ascii_len[c] == 1)
                    *p++ = (char)c;
                else
                    p += ascii_escape(p, c);
                i++;
                continue;
            }
            k = utf8_next(s + i, len - i, &cp);
            if (!(flags & JSONW_ASCII)) {
                memcpy(p, s + i, k);
                p += k;
            } else if (cp < 0x10000) {
                u_escape(p, cp);
                p += 6;
            } else {
                cp -= 0x10000;
                u_escape(p, 0xD800 | ((cp >> 10) & 0x3FF));
                u_escape(p + 6, 0xDC00 | (cp & 0x3FF));
                p += 12;
            }
            i += k;
        }
    }
    *p = '"';
    dbuf_grew(b, out);
    return 0;
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

int jsonw_int(struct dbuf *b, long long v) {
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

/*
 * v in at most 6 decimals, as "%.15g" then ".0" for a whole number writes it, into buf (32
 * bytes); its length, or 0 when v is not such a number or "%.15g" would use an exponent.
 * Rewards, returns and the like are such numbers; printf's exact conversion costs thousands of
 * instructions each.
 *
 * Why it is the same text: m = v * 10^6 rounded, and (double)m / 10^6 == v, so v is the double
 * nearest to the decimal D = m / 10^6 (IEEE division rounds correctly), within half an ulp
 * (2^-53 relative). D has at most 15 significant digits (|m| < 10^15), so it is on the grid
 * that "%.15g" rounds to, and the nearest rounding boundary is half a grid step away (at least
 * 5 * 10^-16 relative): "%.15g" of v is D, with its trailing zeros dropped. The exponent form
 * is used below 10^-4, so those (and 0, whose sign needs care) go to printf.
 */
static size_t real_short(double v, char *buf) {
    double scaled = v * 1e6, r;
    long long m;
    unsigned long long u, ip, fp;
    char tmp[24], *t = tmp + sizeof(tmp);
    size_t n = 0;
    int frac = 6;

    if (!(fabs(v) >= 1e-4 && fabs(v) < 1e9))
        return 0;
    r = nearbyint(scaled);
    m = (long long)r;
    if ((double)m / 1e6 != v)
        return 0;
    u = m < 0 ? 0ULL - (unsigned long long)m : (unsigned long long)m;
    ip = u / 1000000;
    fp = u % 1000000;
    if (m < 0)
        buf[n++] = '-';
    do {
        *--t = (char)('0' + ip % 10);
        ip /= 10;
    } while (ip);
    memcpy(buf + n, t, (size_t)(tmp + sizeof(tmp) - t));
    n += (size_t)(tmp + sizeof(tmp) - t);
    buf[n++] = '.';
    if (fp == 0) {
        buf[n++] = '0';
        return n;
    }
    while (fp % 10 == 0) {
        fp /= 10;
        frac--;
    }
    for (int d = frac - 1; d >= 0; d--) {
        buf[n + (size_t)d] = (char)('0' + fp % 10);
        fp /= 10;
    }
    return n + (size_t)frac;
}

int jsonw_real(struct dbuf *b, double v, int flags) {
    char buf[64], *e;
    int n;

    if (!(flags & JSONW_REAL17)) {
        size_t k = real_short(v, buf);

        if (k)
            return dbuf_add(b, buf, k);
    }
    n = snprintf(buf, sizeof(buf), "%.*g", (flags & JSONW_REAL17) ? 17 : 15, v);

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
        return jsonw_int(b, json_integer_value(v));
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
