/*
 * tools.c — the tool registry: the table of tools, schema validation before every call,
 * and the shapes tools take in the OpenAI and MCP listings and in POST /v1/tools/{name}.
 *
 * It does not run anything slow itself and knows nothing of HTTP: the HTTP layer decides,
 * from `async`, whether a call runs on its worker pool.
 */
#include "tools/tools.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_util.h"
#include "base/jsonw.h"
#include "base/schema.h"

#include "tools/calc.h"
#include "tools/code_cache.h"
#include "tools/run_code.h"
#include "tools/sandbox.h"
#include "tools/search.h"

static struct tool tool_table[] = {
    {"calculator", calc_description, calc_schema_json, calc_tool_invoke, 0, NULL,
     calc_result_from_content},
    {"search", search_description, search_schema_json, search_tool_invoke, 0, NULL,
     search_result_from_content},
    {"run_code", run_code_description, run_code_schema_json, run_code_tool_invoke, 1, NULL,
     run_code_result_from_content},
};

static int initialised;

int tools_init(const struct tools_config *cfg, struct tg_error *err) {
    struct sandbox_config sc;
    int rc;

    if (initialised)
        return 0;
    for (size_t i = 0; i < TG_ARRAY_LEN(tool_table); i++) {
        json_error_t jerr;

        tool_table[i].schema = json_loads(tool_table[i].schema_json, 0, &jerr);
        if (!tool_table[i].schema) {
            tg_error_set(err, "internal", "schema of tool %s: %s", tool_table[i].name, jerr.text);
            rc = TG_EINTERNAL;
            goto fail;
        }
    }
    rc = search_init(cfg ? cfg->corpus_path : NULL, err);
    if (rc)
        goto fail;
    memset(&sc, 0, sizeof(sc));
    sc.slots = cfg ? cfg->run_workers : 0;
    sc.unsafe = cfg ? cfg->unsafe_sandbox : 0;
    sc.quiet = cfg ? cfg->quiet : 0;
    sc.uid_base = cfg ? cfg->uid_base : 0;
    if (cfg && cfg->sandbox_mode && sandbox_mode_parse(cfg->sandbox_mode, &sc.mode) != 0) {
        tg_error_set(err, TG_CODE_CONFIG, "--sandbox-mode %s: must be auto, root or rootless",
                     cfg->sandbox_mode);
        rc = TG_EINVAL;
        goto fail;
    }
    if (cfg && cfg->run_mode && sandbox_run_mode_parse(cfg->run_mode, &sc.run_mode) != 0) {
        tg_error_set(err, TG_CODE_CONFIG, "--run-mode %s: must be cold or warm", cfg->run_mode);
        rc = TG_EINVAL;
        goto fail;
    }
    rc = sandbox_init(&sc, err);
    if (rc)
        goto fail;
    rc = code_cache_init(cfg ? cfg->code_cache : 0, err);
    if (rc)
        goto fail;
    initialised = 1;
    return 0;
fail:
    tools_shutdown();
    return rc;
}

void tools_shutdown(void) {
    for (size_t i = 0; i < TG_ARRAY_LEN(tool_table); i++) {
        json_decref(tool_table[i].schema);
        tool_table[i].schema = NULL;
    }
    search_shutdown();
    sandbox_shutdown();
    code_cache_shutdown();
    initialised = 0;
}

size_t tools_count(void) {
    return TG_ARRAY_LEN(tool_table);
}

const struct tool *tools_at(size_t i) {
    return i < TG_ARRAY_LEN(tool_table) ? &tool_table[i] : NULL;
}

const struct tool *tools_find(const char *name) {
    if (!name)
        return NULL;
    for (size_t i = 0; i < TG_ARRAY_LEN(tool_table); i++)
        if (strcmp(tool_table[i].name, name) == 0)
            return &tool_table[i];
    return NULL;
}

static json_t *list_new(int mcp) {
    json_t *arr = json_array();

    if (!arr)
        return NULL;
    for (size_t i = 0; i < TG_ARRAY_LEN(tool_table); i++) {
        const struct tool *t = &tool_table[i];
        json_t *item;

        if (mcp)
            item = json_pack("{s:s, s:s, s:O}", "name", t->name, "description", t->description,
                             "inputSchema", t->schema);
        else
            item = json_pack("{s:s, s:{s:s, s:s, s:O}}", "type", "function", "function", "name",
                             t->name, "description", t->description, "parameters", t->schema);
        if (!item || json_array_append_new(arr, item)) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

int tools_result_from_content(const struct tool *t, const char *content, json_t **result) {
    *result = NULL;
    if (!t || !content || !t->from_content || t->from_content(content, result) != 0 || !*result)
        return TG_EINVAL;
    return 0;
}

json_t *tools_openai_list(void) {
    return list_new(0);
}

json_t *tools_mcp_list(void) {
    return list_new(1);
}

int tools_call(const struct tool *t, const json_t *args, struct tool_result *out,
               struct tg_error *err) {
    return tools_call_cancel(t, args, NULL, out, err);
}

int tools_call_cancel(const struct tool *t, const json_t *args, struct tg_cancel *cancel,
                      struct tool_result *out, struct tg_error *err) {
    int rc;

    memset(out, 0, sizeof(*out));
    rc = schema_validate(t->schema, args, err);
    if (rc)
        return rc;
    rc = t->invoke(args, cancel, out);
    jsonu_utf8_scrub(out->err.message); /* a message cut to its size may end in half a character */
    if (rc == TG_ECANCELED) {
        tool_result_clear(out);
        tg_error_set(err, "cancelled", "The %s call was cancelled: its client went away.", t->name);
        return rc;
    }
    if (rc) {
        tool_result_clear(out);
        tg_error_set(err, "internal", "The %s tool failed internally (%s).", t->name,
                     tg_strerror(rc));
        return rc;
    }
    if (!out->content) {
        out->content = strdup("");
        if (!out->content) {
            tool_result_clear(out);
            return TG_ENOMEM;
        }
    }
    return 0;
}

int tool_result_fail(struct tool_result *out, const char *code, const char *fmt, ...) {
    va_list ap;
    char buf[TG_ERR_MSG_MAX + TG_ERR_CODE_MAX + 16];

    out->ok = 0;
    snprintf(out->err.code, sizeof(out->err.code), "%s", code);
    va_start(ap, fmt);
    vsnprintf(out->err.message, sizeof(out->err.message), fmt, ap);
    va_end(ap);
    snprintf(buf, sizeof(buf), "error: %s: %s", out->err.code, out->err.message);
    free(out->content);
    out->content = strdup(buf);
    return out->content ? 0 : TG_ENOMEM;
}

void tool_result_clear(struct tool_result *r) {
    if (!r)
        return;
    free(r->content);
    json_decref(r->result);
    memset(r, 0, sizeof(*r));
}

/* r as JSON, with its "content" or without (with_content 0). */
static int write_result(struct dbuf *b, const struct tool_result *r, const char *result_text,
                        size_t n, int flags, int with_content) {
    const char *content = r->content ? r->content : "";
    int rc;

    rc = dbuf_add_str(b, r->ok ? "{\"ok\":true" : "{\"ok\":false");
    if (rc == 0 && with_content)
        rc = dbuf_add_str(b, ",\"content\":");
    if (rc == 0 && with_content)
        rc = jsonw_string(b, content, strlen(content), flags);
    if (rc == 0 && !r->ok) {
        rc = dbuf_add_str(b, ",\"error\":{\"code\":");
        if (rc == 0)
            rc = jsonw_string(b, r->err.code, strlen(r->err.code), flags);
        if (rc == 0)
            rc = dbuf_add_str(b, ",\"message\":");
        if (rc == 0)
            rc = jsonw_string(b, r->err.message, strlen(r->err.message), flags);
        if (rc == 0)
            rc = dbuf_add_str(b, "}");
    }
    if (rc == 0 && (r->ok || result_text || r->result)) {
        rc = dbuf_add_str(b, ",\"result\":");
        if (rc == 0)
            rc = result_text ? dbuf_add(b, result_text, n)
                 : r->result ? jsonw_value(b, r->result, flags)
                             : dbuf_add_str(b, "{}");
    }
    if (rc == 0)
        rc = dbuf_add_str(b, "}");
    return rc;
}

int tool_result_write(struct dbuf *b, const struct tool_result *r, int flags) {
    return write_result(b, r, NULL, 0, flags, 1);
}

int tool_result_write_no_content(struct dbuf *b, const struct tool_result *r,
                                 const char *result_text, size_t n, int flags) {
    return write_result(b, r, result_text, n, flags, 0);
}

json_t *tool_result_json(const struct tool_result *r) {
    json_t *o = jsonu_with(json_object(), "ok", json_boolean(r->ok));

    o = jsonu_with(o, "content", json_string(r->content ? r->content : ""));
    if (!r->ok)
        o = jsonu_with(o, "error",
                       jsonu_with(jsonu_with(json_object(), "code", json_string(r->err.code)),
                                  "message", json_string(r->err.message)));
    if (r->ok || r->result)
        o = jsonu_with(o, "result", r->result ? json_incref(r->result) : json_object());
    return o;
}
