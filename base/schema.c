/*
 * schema.c — validation against the JSON Schema subset described in schema.h.
 *
 * Recursion follows the schema, not the value, and tool schemas are two levels deep, so the
 * recursion depth is bounded by the (trusted) schema. Unknown schema keywords are ignored.
 */
#include "base/schema.h"

#include <math.h>
#include <string.h>

#include "base/json_util.h"

static size_t utf8_len(const char *s, size_t bytes) {
    size_t n = 0;

    for (size_t i = 0; i < bytes; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            n++;
    return n;
}

static int type_ok(const char *type, const json_t *v) {
    if (strcmp(type, "object") == 0)
        return json_is_object(v);
    if (strcmp(type, "array") == 0)
        return json_is_array(v);
    if (strcmp(type, "string") == 0)
        return json_is_string(v);
    if (strcmp(type, "integer") == 0)
        return json_is_integer(v) ||
               (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) &&
                fabs(json_real_value(v)) < 9.007199254740992e15);
    if (strcmp(type, "number") == 0)
        return json_is_number(v);
    if (strcmp(type, "boolean") == 0)
        return json_is_boolean(v);
    if (strcmp(type, "null") == 0)
        return json_is_null(v);
    return 0;
}

static int fail(struct tg_error *err, const char *path, const char *why) {
    tg_error_set(err, "invalid_arguments", "%s: %s", path[0] ? path : "arguments", why);
    return TG_EINVAL;
}

/* "<path>.<key>" (just the key at the top) into out (n bytes), the key cut to 64 bytes and the
 * whole cut to fit: snprintf's "%s%s%.64s" without its cost on every argument. */
static void path_join(char *out, size_t n, const char *path, const char *key) {
    size_t len = strnlen(path, n - 1), k;

    memcpy(out, path, len);
    if (len > 0 && len < n - 1)
        out[len++] = '.';
    k = strnlen(key, 64);
    if (k > n - 1 - len)
        k = n - 1 - len;
    memcpy(out + len, key, k);
    out[len + k] = '\0';
}

static int validate(const json_t *schema, const json_t *v, const char *path, struct tg_error *err) {
    const json_t *type = json_object_get(schema, "type");
    const json_t *kw;
    char msg[160];

    if (json_is_string(type) && !type_ok(json_string_value(type), v)) {
        snprintf(msg, sizeof(msg), "must be %s %s, not %s",
                 strchr("aeiou", json_string_value(type)[0]) ? "an" : "a", json_string_value(type),
                 jsonu_type_name(v));
        return fail(err, path, msg);
    }
    if (json_is_number(v)) {
        double x = json_number_value(v);

        kw = json_object_get(schema, "minimum");
        if (kw && x < json_number_value(kw)) {
            snprintf(msg, sizeof(msg), "must be at least %g", json_number_value(kw));
            return fail(err, path, msg);
        }
        kw = json_object_get(schema, "maximum");
        if (kw && x > json_number_value(kw)) {
            snprintf(msg, sizeof(msg), "must be at most %g", json_number_value(kw));
            return fail(err, path, msg);
        }
    }
    if (json_is_string(v)) {
        size_t n = utf8_len(json_string_value(v), json_string_length(v));

        kw = json_object_get(schema, "minLength");
        if (kw && n < (size_t)json_integer_value(kw)) {
            snprintf(msg, sizeof(msg), "must be at least %lld characters long",
                     (long long)json_integer_value(kw));
            return fail(err, path, msg);
        }
        kw = json_object_get(schema, "maxLength");
        if (kw && n > (size_t)json_integer_value(kw)) {
            snprintf(msg, sizeof(msg), "must be at most %lld characters long",
                     (long long)json_integer_value(kw));
            return fail(err, path, msg);
        }
        kw = json_object_get(schema, "maxBytes");
        if (kw && json_string_length(v) > (size_t)json_integer_value(kw)) {
            snprintf(msg, sizeof(msg), "must be at most %lld bytes long in UTF-8, not %zu",
                     (long long)json_integer_value(kw), json_string_length(v));
            return fail(err, path, msg);
        }
        kw = json_object_get(schema, "enum");
        if (json_is_array(kw)) {
            size_t i;
            json_t *e;
            int found = 0;

            json_array_foreach(kw, i, e) {
                if (json_equal(e, v))
                    found = 1;
            }
            if (!found)
                return fail(err, path, "is not one of the allowed values");
        }
    }
    if (json_is_object(v)) {
        const json_t *props = json_object_get(schema, "properties");
        const json_t *req = json_object_get(schema, "required");
        const json_t *addl = json_object_get(schema, "additionalProperties");
        const char *key;
        json_t *val;
        size_t i;
        json_t *r;

        json_array_foreach(req, i, r) {
            if (json_is_string(r) && !json_object_get(v, json_string_value(r))) {
                snprintf(msg, sizeof(msg), "missing required property \"%s\"",
                         json_string_value(r));
                return fail(err, path, msg);
            }
        }
        json_object_foreach((json_t *)v, key, val) {
            const json_t *sub = props ? json_object_get(props, key) : NULL;
            char sub_path[128];
            int rc;

            if (!sub) {
                if (json_is_false(addl)) {
                    snprintf(msg, sizeof(msg), "unexpected property \"%.64s\"", key);
                    return fail(err, path, msg);
                }
                continue;
            }
            path_join(sub_path, sizeof(sub_path), path, key);
            rc = validate(sub, val, sub_path, err);
            if (rc)
                return rc;
        }
    }
    return 0;
}

int schema_validate(const json_t *schema, const json_t *value, struct tg_error *err) {
    if (!schema || !value)
        return fail(err, "", "missing");
    return validate(schema, value, "", err);
}
