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

/* jsonu_depth_ok — 1 if the nesting of [ and { outside strings never exceeds max_depth.
 * Pure; linear; never recurses. */
int jsonu_depth_ok(const char *buf, size_t len, size_t max_depth);

/*
 * jsonu_parse — parse buf[0..len) as one JSON value. Returns 0 with *out a new reference,
 * or TG_EINVAL with *err {"invalid_json", why (line/column)} for bad UTF-8, too deep
 * nesting (max_depth), duplicate keys or any syntax error. Thread-safe.
 */
int jsonu_parse(const char *buf, size_t len, size_t max_depth, json_t **out, struct tg_error *err);

/* A field an object may carry, and the JSON type it must have (JSON_TRUE stands for
 * "boolean"; JSON_REAL for "number", which accepts integers too). */
struct jsonu_field {
    const char *name;
    json_type type;
    int required;
};

/*
 * jsonu_check_fields — obj (borrowed) must be an object whose keys are all among fields
 * [0..n) with the listed types, and which has every required one. Returns 0, or TG_EINVAL
 * with *err {"invalid_request", "<what> ..."} naming the first offending field. `what`
 * names the object in messages ("body", "tool_call"). Pure.
 */
int jsonu_check_fields(const json_t *obj, const struct jsonu_field *fields, size_t n,
                       const char *what, struct tg_error *err);

/* jsonu_type_name — "object", "string", "number", ... for messages. */
const char *jsonu_type_name(const json_t *v);

#endif
