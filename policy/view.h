/*
 * view.h — what an agent knows in an episode: the task's prompt and, for each call it made so
 * far, the call and what the tool answered (the first hits of a search, a calculator value, a
 * program's output or an error).
 *
 * Does: start a view from a prompt, add a call with its observation (the tool response of a
 * step reply or of POST /v1/tools/{name}), checking the observation's shape and naming the
 * field that is wrong.
 * Does not: read any judgement, reward or answer (an agent never sees them), tokenize
 * (seq.h), or talk HTTP. A plain struct: copying it copies the episode so far (forks do).
 * Thread-safety: caller-owned structs; no globals.
 */
#ifndef TG_VIEW_H
#define TG_VIEW_H

#include <jansson.h>

#include "base/limits.h"
#include "base/tg.h"

enum view_tool { VT_SEARCH = 0, VT_CALC = 1, VT_CODE = 2, VT_TOOLS };

struct view_hit {
    char title[TG_VIEW_TITLE_MAX];
    char snippet[TG_SNIPPET_CHARS + 64];
};

struct view_step {
    int tool;                    /* enum view_tool */
    char text[TG_VIEW_TEXT_MAX]; /* the query, the expression or the program (cut to fit) */
    int ok;                      /* the tool answered ok:true */
    double value;                /* calculator: the value; run_code: the number it printed */
    int has_value;               /* value is set */
    char out[TG_VIEW_OUT_MAX];   /* run_code: the first line of stdout, trimmed */
    char error[32];              /* the tool's error code when ok is false ("" if none) */
    int nhits;                   /* search: hits kept */
    struct view_hit hits[TG_VIEW_HITS];
};

struct view {
    char prompt[TG_TASK_PROMPT_MAX];
    int max_steps;
    int nstep;
    struct view_step steps[TG_VIEW_STEPS_MAX];
};

/*
 * view_init — a view of prompt (borrowed) with no step yet; max_steps the episode's limit.
 * 0, or TG_ERANGE (message) when the prompt is longer than TG_TASK_PROMPT_MAX - 1 bytes.
 */
int view_init(struct view *v, const char *prompt, int max_steps, struct tg_error *err);

/*
 * view_push — add the call {"name","arguments"} (borrowed) and its observation obs (borrowed:
 * {"ok","content","result"|"error"}). A call of an unknown tool is recorded as a failed call
 * of no tool (it still counts as a step), so a view never rejects what a server accepted.
 * Returns 0; TG_ERANGE when the view is full; TG_EINVAL with a message naming the field
 * ("observation.result.hits[1].snippet is not a string") for an observation of the wrong
 * shape.
 */
int view_push(struct view *v, const json_t *call, const json_t *obs, struct tg_error *err);

/* view_tool_name — "search" | "calculator" | "run_code" (static); view_tool_parse — the
 * reverse, -1 for another name. */
const char *view_tool_name(int tool);
int view_tool_parse(const char *name);

#endif
