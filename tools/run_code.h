/*
 * run_code.h — the run_code tool: the registry's entry point onto the Python sandbox.
 *
 * It turns schema-valid arguments into a sandbox_run request and the run into the tool
 * result of API.md ({"stdout","stderr","exit_code","signal","timed_out","truncated","wall_ms",
 * "cpu_ms"}) plus text for the model. It does not sandbox anything itself (sandbox.c) and
 * does not queue (the HTTP layer runs it on its worker pool: the registry row has async=1).
 */
#ifndef TG_RUN_CODE_H
#define TG_RUN_CODE_H

#include <jansson.h>

#include "tools/tools.h"

/* The tool's description and JSON Schema, for the registry row. */
extern const char run_code_description[];
extern const char run_code_schema_json[];

/*
 * run_code_tool_invoke — tool_invoke_fn for run_code. args (borrowed) passed the schema:
 * {"code":string,"stdin"?:string,"timeout_ms"?:1..10000}. Blocks for the run (up to the
 * timeout plus a slot wait). Returns 0 with *out filled: ok=1 iff the program exited 0
 * without a signal or timeout; otherwise out->err is "runtime_error" (non-zero exit; the
 * message quotes stderr's last line), "killed" (a signal), "timeout", "sandbox_unavailable"
 * or "sandbox_error", with out->result kept when the program ran. Returns TG_ENOMEM (out
 * cleared) when memory runs out, TG_ECANCELED (out cleared; no result is cached) when cancel
 * (borrowed, may be NULL) fired: the run was dropped or killed. Thread-safe.
 */
int run_code_tool_invoke(const json_t *args, struct tg_cancel *cancel, struct tool_result *out);

/* run_code_result_from_content — {"stdout","stderr","exit_code":0,"signal":0,"timed_out":false,
 * "truncated"} from a successful run's text: stdout is the text before a "[stderr]" line (or
 * before the truncation notice), "(no output)" is empty. 0 with *result new. Pure. */
int run_code_result_from_content(const char *content, json_t **result);

#endif
