/*
 * jsonw.h — a JSON writer into a struct dbuf: the server's replies and log lines without
 * jansson's dump (which takes a hash-table insert and a formatted pointer per container to
 * detect cycles, and a callback per fragment).
 *
 * What it writes is byte for byte what json_dumps(v, JSON_COMPACT [| JSON_ENSURE_ASCII] |
 * JSON_REAL_PRECISION(15)) writes for the same value: the same key order (insertion), the
 * same string escapes (\" \\ \b \f \n \r \t, other controls as \u00XX, and with JSONW_ASCII
 * every character past U+007F as \uXXXX, surrogate pairs above U+FFFF; hex in upper case),
 * integers in decimal, and reals as jansson formats them ("%.15g", or "%.17g" with
 * JSONW_REAL17, then ".0" added to a whole number and the exponent's '+' and leading zeros
 * dropped).
 * tests/test_jsonw.c checks the equality on generated values.
 *
 * It also writes fixed reply shapes without building a json_t: a member at a time
 * (jsonw_key + a value), and splices text that is already JSON (jsonw_raw), such as the tool
 * list rendered once at start.
 *
 * Does not: parse, check that a raw splice is JSON, indent, sort keys, or detect cycles (the
 * values written are trees built by the server; nesting past JSONW_MAX_DEPTH fails instead).
 * Thread-safe as far as its buffer is the caller's alone.
 */
#ifndef TG_JSONW_H
#define TG_JSONW_H

#include <jansson.h>
#include <stddef.h>

#include "base/dbuf.h"

#define JSONW_ASCII     1    /* JSON_ENSURE_ASCII: only ASCII bytes in the output */
#define JSONW_REAL17    2    /* reals as with jansson's default precision (17), not 15 */
#define JSONW_MAX_DEPTH 2048 /* containers nested deeper fail (TG_ERANGE) */

/* A value written as text rendered beforehand: wherever the tree holds this very json_t
 * (pointer equality), text (its jsonw rendering with the same flags) is spliced in. */
struct jsonw_splice {
    const json_t *value;
    const char *text;
};

/* jsonw_value — append v (borrowed) to b. flags: 0 or JSONW_ASCII. Returns 0, or the failure
 * of the buffer (TG_ERANGE past its max, TG_ENOMEM; b is then failed, see dbuf.h), or
 * TG_EINVAL for a NULL value, a string that is not UTF-8 or nesting past JSONW_MAX_DEPTH (b
 * is then failed too). */
int jsonw_value(struct dbuf *b, const json_t *v, int flags);

/* jsonw_value_splice — jsonw_value, with sp's value (if sp is not NULL) written as sp->text. */
int jsonw_value_splice(struct dbuf *b, const json_t *v, int flags, const struct jsonw_splice *sp);

/* jsonw_int — append v in decimal (as jsonw_value appends an integer). Returns as jsonw_value. */
int jsonw_int(struct dbuf *b, long long v);

/* jsonw_real — append v (finite) as jsonw_value appends a real; flags as there. */
int jsonw_real(struct dbuf *b, double v, int flags);

/* jsonw_string — append s[0..len) (UTF-8; may hold NUL bytes) as a JSON string. Returns as
 * jsonw_value. */
int jsonw_string(struct dbuf *b, const char *s, size_t len, int flags);

/* jsonw_key — append `"key":` after a ',' unless first (the first member of an object). The
 * key is a C string; it is escaped as any string. Returns as jsonw_value. */
int jsonw_key(struct dbuf *b, const char *key, int first, int flags);

/* jsonw_raw — append s (a NUL-terminated JSON text the caller vouches for) as it is. */
int jsonw_raw(struct dbuf *b, const char *s);

/* jsonw_dumps — v (borrowed) as new (malloc) text, or NULL on ENOMEM or a value jsonw_value
 * refuses; the same text as json_dumps with the flags above. max bounds the text's bytes
 * (NULL past it). sp: a splice (see jsonw_value_splice) or NULL. */
char *jsonw_dumps(const json_t *v, int flags, size_t max, const struct jsonw_splice *sp);

#endif
