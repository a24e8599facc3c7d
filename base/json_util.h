/*
 * json_util.h — safe parsing of untrusted JSON request bodies and strict field checks.
 *
 * jansson parses; this module adds what the API contract needs on top: a depth limit checked
 * before parsing (so no recursion depth is ever reached on hostile input), UTF-8 validation,
 * duplicate-key rejection, and "unknown field" rejection. It does not know HTTP.
 */
#ifndef TG_JSON_UTIL_H
#define TG_JSON_UTIL_H

#include <jansson.h>
#include <stddef.h>

#include "base/tg.h"

/* jsonu_utf8_valid — 1 if buf[0..len) is well-formed UTF-8 (no overlongs, no surrogates,
 * ≤ U+10FFFF), else 0. Pure. */
int jsonu_utf8_valid(const char *buf, size_t len);

/* jsonu_utf8_prefix — the length of the longest prefix of the well-formed UTF-8 text
 * s[0..len) that is at most max bytes and ends on a character boundary (cutting a string to
 * max bytes without leaving half a character, which JSON would refuse). Pure. */
size_t jsonu_utf8_prefix(const char *s, size_t len, size_t max);

/* jsonu_utf8_scrub — replace, in place, every byte of the NUL-terminated s that does not start
 * a well-formed UTF-8 character with '?', so that text built from untrusted or truncated bytes
 * can go into JSON. Pure. */
void jsonu_utf8_scrub(char *s);

/* jsonu_depth_ok — 1 if the nesting of [ and { outside strings never exceeds max_depth.
 * Pure; linear; never recurses. */
int jsonu_depth_ok(const char *buf, size_t len, size_t max_depth);

/*
 * jsonu_parse — parse buf[0..len) as one JSON value. Returns 0 with *out a new reference,
 * or TG_EINVAL with *err {"invalid_json", why (line/column)} for bad UTF-8, too deep
 * nesting (max_depth), duplicate keys or any syntax error. Thread-safe.
 */
int jsonu_parse(const char *buf, size_t len, size_t max_depth, json_t **out, struct tg_error *err);

/*
 * jsonu_parse_fast — the fast path jsonu_parse takes first: buf[0..len) (valid UTF-8; it does
 * not check: jsonu_parse takes its value only when every byte is ASCII or the UTF-8 checks out,
 * and gives it a depth limit) parsed without jansson's per-byte stream, when it holds only objects,
 * arrays, strings without escapes, integers of at most 18 digits, true, false and null. New
 * reference, the same value json_loadb would give (key order included); NULL when it gave up
 * (anything else, any error, a duplicate key, no memory): then json_loadb decides, with its own
 * error message. Thread-safe.
 */
json_t *jsonu_parse_fast(const char *buf, size_t len);

/* ---- field tables -------------------------------------------------------------------------
 *
 * The one way to check an object's fields: a table of the fields it may carry, each with the
 * JSON type it must have and whether it is required. jsonu_find_fault says what is wrong, if
 * anything; jsonu_check_fields and jsonu_check_fields_at turn that into the API's message
 * style and the file style ("where.key: problem"); callers with a fixed message of their own
 * use the fault directly.
 */

#define JSONU_ANY (-1) /* a field type that accepts any JSON value */

/* A field an object may carry. type is a json_type (JSON_TRUE stands for "boolean";
 * JSON_REAL for "number", which accepts integers too) or JSONU_ANY. */
struct jsonu_field {
    const char *name;
    int type;
    int required;
};

enum jsonu_fault_kind {
    JSONU_OK = 0,
    JSONU_NOT_OBJECT, /* the value is not an object (or is NULL) */
    JSONU_UNKNOWN,    /* a key that is not in the table */
    JSONU_WRONG_TYPE, /* a field of another type than the table's */
    JSONU_MISSING,    /* a required field is absent */
};

struct jsonu_fault {
    enum jsonu_fault_kind kind;
    const char *key;                 /* the offending key (borrowed from obj or the table) */
    const struct jsonu_field *field; /* its row, for WRONG_TYPE and MISSING; else NULL */
    const json_t *value;             /* the offending value (NOT_OBJECT, WRONG_TYPE) */
};

#define JSONU_OPEN 1 /* flag: keys not in the table are allowed (and not checked) */

/*
 * jsonu_find_fault — check obj (borrowed) against fields[0..n). Looks, in this order, for: obj
 * not an object; a key not in the table (unless flags has JSONU_OPEN); then, row by row in
 * table order, a field of the wrong type or a required field missing. Returns 0 with
 * f->kind JSONU_OK, or TG_EINVAL with *f describing the first fault. Pure.
 */
int jsonu_find_fault(const json_t *obj, const struct jsonu_field *fields, size_t n, int flags,
                     struct jsonu_fault *f);

/*
 * jsonu_check_fields — the API's check of a request object: obj must be an object whose keys
 * are all among fields[0..n) with the listed types, and which has every required one.
 * Returns 0, or TG_EINVAL with *err {"invalid_request", "<what> ..."} naming the first
 * offending field. `what` names the object in messages ("body", "tool_call"). Pure.
 */
int jsonu_check_fields(const json_t *obj, const struct jsonu_field *fields, size_t n,
                       const char *what, struct tg_error *err);

/*
 * jsonu_check_fields_at — the same check for files (configs, task sets, corpora), with
 * flags as jsonu_find_fault and messages in the file style, code `code`:
 * "<where>: must be an object", "<where>.<key>: unknown field", "<where>.<key>: must be a
 * string, not integer", "<where>.<key>: missing". where may be "" (top level: then "<key>: ...").
 */
int jsonu_check_fields_at(const json_t *obj, const struct jsonu_field *fields, size_t n, int flags,
                          const char *code, const char *where, struct tg_error *err);

/* jsonu_type_name — "object", "string", "number", ... for messages. */
const char *jsonu_type_name(const json_t *v);

/*
 * jsonu_with — o (an object) with member key (a static ASCII string: not checked) set to v;
 * steals both references. Returns o, or NULL (o and v dropped) when o or v is NULL or memory
 * runs out: so `o = jsonu_with(jsonu_with(json_object(), "a", x), "b", y)` builds a small object
 * without json_pack's format parsing, and a NULL anywhere makes the whole NULL.
 */
json_t *jsonu_with(json_t *o, const char *key, json_t *v);

#endif
