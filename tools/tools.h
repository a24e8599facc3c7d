/*
 * tools.h — the tool registry: one row of struct tool per tool, the way redis keeps its
 * command table. Adding a tool is adding a row in tools.c.
 *
 * The registry validates arguments against each tool's JSON Schema before invoking it, and
 * renders the OpenAI function-calling list. It does not know about HTTP, episodes or queues:
 * a tool marked `async` is one the HTTP layer must run off its worker threads (run_code).
 */
#ifndef TG_TOOLS_H
#define TG_TOOLS_H

#include <jansson.h>

#include "base/tg.h"

/* What a tool call produced. Filled by tool_invoke_fn; released with tool_result_clear. */
struct tool_result {
    int ok;              /* 1: the tool succeeded; 0: a tool-level failure (err says why) */
    char *content;       /* new (malloc): text for the model; never NULL after a call */
    json_t *result;      /* new reference or NULL; may be set when !ok (run_code) */
    struct tg_error err; /* when !ok: code such as "syntax_error" and a message */
};

struct tg_cancel;

/*
 * tool_invoke_fn — run a tool on arguments that already passed its schema (borrowed).
 * cancel (borrowed, may be NULL) fires when the caller's client went away: a slow tool stops
 * and returns TG_ECANCELED; fast tools may ignore it. Returns 0 when *out holds a result (ok
 * or a tool-level failure), or a negative tg_err (ENOMEM, ECANCELED) with *out left cleared.
 * Must be thread-safe.
 */
typedef int (*tool_invoke_fn)(const json_t *args, struct tg_cancel *cancel,
                              struct tool_result *out);

struct tool {
    const char *name;
    const char *description;
    const char *schema_json; /* JSON Schema of the arguments, additionalProperties:false */
    tool_invoke_fn invoke;
    int async;      /* 1: slow (spawns processes); run off the HTTP workers */
    json_t *schema; /* parsed schema_json, owned by the registry after tools_init */
    /* from_content — the `result` object a successful call's text (its `content`, what a
     * model read) stands for, as far as the text shows it: new reference in *result, or NULL
     * when the text is not this tool's. Pure. (toolgym rescore reads logs of text only.) */
    int (*from_content)(const char *content, json_t **result);
};

/* Start-up configuration of the tools. Zero-initialise, then set what you need. */
struct tools_config {
    const char *corpus_path;  /* search corpus JSONL; NULL: the data dir's */
    int unsafe_sandbox;       /* run_code without namespaces/seccomp (operator opt-in) */
    const char *sandbox_mode; /* "auto" (NULL), "root" or "rootless" (see sandbox.h) */
    const char *run_mode;     /* "auto" (NULL: warm where it works), "cold" or "warm" */
    int run_workers;          /* concurrent code runs; 0: number of cores */
    int run_queue;            /* queued runs beyond the workers; 0: TG_RUN_QUEUE_DEFAULT */
    size_t code_cache;        /* run_code result cache slots; 0: off (see code_cache.h) */
    unsigned uid_base;        /* first slot uid of the sandbox; 0: auto (see sandbox.h) */
    int quiet;
};

/*
 * tools_init — parse every schema and initialise every tool (load the search corpus, probe
 * the sandbox). Start-up only; not thread-safe. Returns 0 or a tg_err with *err filled.
 * tools_shutdown releases everything; safe to call after a failed init.
 */
int tools_init(const struct tools_config *cfg, struct tg_error *err);
void tools_shutdown(void);

/* tools_count / tools_at / tools_find — borrowed rows; tools_find returns NULL if unknown. */
size_t tools_count(void);
const struct tool *tools_at(size_t i);
const struct tool *tools_find(const char *name);

/* tools_openai_list — new array of {"type":"function","function":{name,description,
 * parameters}} for every tool. NULL on ENOMEM. */
json_t *tools_openai_list(void);

/* tools_mcp_list — new array of {name, description, inputSchema}. NULL on ENOMEM. */
json_t *tools_mcp_list(void);

/*
 * tools_call — validate args (borrowed) against t's schema, then invoke t.
 * Returns 0 with *out filled (ok or tool-level failure); TG_EINVAL with *err
 * {"invalid_arguments", why} when the arguments violate the schema (out untouched);
 * TG_ENOMEM/TG_EINTERNAL on internal failure. Thread-safe.
 */
int tools_call(const struct tool *t, const json_t *args, struct tool_result *out,
               struct tg_error *err);

/* tools_call_cancel — tools_call that gives up when cancel (borrowed, may be NULL) fires:
 * then it returns TG_ECANCELED with *err {"cancelled", ...} and out cleared. */
int tools_call_cancel(const struct tool *t, const json_t *args, struct tg_cancel *cancel,
                      struct tool_result *out, struct tg_error *err);

/* tool_result_fail — set *out to a tool-level failure with code and message; content is
 * "error: <code>: <message>". Returns 0, or TG_ENOMEM. */
int tool_result_fail(struct tool_result *out, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * tools_result_from_content — the `result` a successful call of t (borrowed) returned, read
 * back from its text (borrowed): calculator {"value"}, search {"hits":[{"id","title",
 * "snippet"}]} (no scores), run_code {"stdout","stderr","exit_code":0,...}. Returns 0 with
 * *result new, or TG_EINVAL with *result NULL when the text is not what t writes. Pure; needs
 * no tools_init.
 */
int tools_result_from_content(const struct tool *t, const char *content, json_t **result);

/* tool_result_clear — free content and result; leaves *r zeroed. Accepts NULL. */
void tool_result_clear(struct tool_result *r);

/*
 * tool_result_write — append r as JSON to b: the same text as tool_result_json dumped by
 * jsonw_value with flags (JSONW_ASCII or 0), written straight, without building the object.
 * Returns 0 or the buffer's failure (see jsonw.h).
 */
struct dbuf;
int tool_result_write(struct dbuf *b, const struct tool_result *r, int flags);

/* tool_result_write_no_content — tool_result_write without the "content" member (the
 * trajectory log keeps the text in the tool message and the rest as the step's observation),
 * with the result given as JSON text written as it is (result_text[0..n), the text jsonw_value
 * writes with flags; r->result is then not read), or, result_text NULL, from r->result. */
int tool_result_write_no_content(struct dbuf *b, const struct tool_result *r,
                                 const char *result_text, size_t n, int flags);

/* tool_result_json — new {"ok":true,"content","result"} or {"ok":false,"content","error":
 * {"code","message"}[, "result"]}, the body of POST /v1/tools/{name}. NULL on ENOMEM. */
json_t *tool_result_json(const struct tool_result *r);

#endif
