/*
 * schema.h — a validator for the subset of JSON Schema that toolgym's tool definitions use:
 * type (object, string, integer, number, boolean, array), properties, required,
 * additionalProperties:false, minimum/maximum, minLength/maxLength (in code points),
 * enum of strings, and one keyword of its own: maxBytes, the most bytes a string may take in
 * UTF-8. Sizes that toolgym enforces downstream are bytes (base/limits.h), so tool schemas
 * state those limits with maxBytes; other validators ignore the unknown keyword, and the
 * property's description says it in words. It is not a general JSON Schema implementation.
 */
#ifndef TG_SCHEMA_H
#define TG_SCHEMA_H

#include <jansson.h>

#include "base/tg.h"

/*
 * schema_validate — check value (borrowed) against schema (borrowed). Returns 0 if it
 * conforms, TG_EINVAL with *err {"invalid_arguments", "<path>: <why>"} if not.
 * Pure and thread-safe.
 */
int schema_validate(const json_t *schema, const json_t *value, struct tg_error *err);

#endif
