/*
 * openai.h — `toolgym eval --agent openai`: play episodes with any OpenAI-compatible
 * /v1/chat/completions endpoint (llama.cpp's server, vLLM, Ollama, OpenAI) as the agent.
 *
 * What it does, per episode: create the episode on a toolgym server, send the model a system
 * prompt, the task and the episode's tools in OpenAI function format, and turn its reply into
 * steps: each entry of `tool_calls`, in order, is one step, whose observation text goes back
 * as a `tool` message with that call's `tool_call_id`; an assistant message without tool
 * calls is the answer. A call whose arguments are not JSON, or that names no tool, is still
 * sent as a step (the server judges it `malformed`). Only what a tool returns reaches the
 * model: never the judge's labels, rewards or the correctness of an answer.
 *
 * Many episodes are in flight at once (libcurl multi, one easy handle per episode, keep-alive
 * connections shared). Failures stay local to an episode: the model's 429 and 5xx, and
 * transport errors, are retried with exponential backoff (Retry-After honoured); a response
 * cut off mid-body, one the model cut at its token limit, a 4xx, garbage, or retries used up
 * end that episode with an `end` label (openai_end_name) and the run goes on. The server's
 * 429 / 503 are retried likewise. With several server URLs, episode i is played on server
 * i mod n, start to end.
 *
 * What it does not do: judge or score (the server does), stream responses, or keep any state
 * between runs.
 */
#ifndef TG_OPENAI_H
#define TG_OPENAI_H

#include <jansson.h>
#include <stddef.h>

#include "base/tg.h"
#include "client/eval.h"

/* How an episode ended, as the run counts it and its trajectory line says ("end"). */
enum openai_end {
    OPENAI_END_ANSWERED,     /* the model answered (judged by the server) */
    OPENAI_END_STEP_LIMIT,   /* the server ended it at max_steps */
    OPENAI_END_TRUNCATED,    /* the model's response was cut off (mid-body or token limit) */
    OPENAI_END_LLM_ERROR,    /* the endpoint refused (4xx) or kept failing (429/5xx) */
    OPENAI_END_UNREACHABLE,  /* no answer from the endpoint (connect, timeout), retries used */
    OPENAI_END_BAD_RESPONSE, /* the endpoint answered something that is not a chat completion */
    OPENAI_END_SERVER_ERROR, /* the toolgym server failed the episode */
    OPENAI_END_COUNT
};

/* The model endpoint and how to talk to it. Zero-initialise, then openai_options_defaults. */
struct openai_options {
    const char *base_url;     /* "http://host:port/v1" or "http://host:port": chat completions are
                                 POSTed to <base>/chat/completions or <base>/v1/chat/completions */
    const char *model;        /* the "model" field */
    const char *api_key;      /* bearer key for the endpoint, or NULL */
    double temperature;       /* < 0: not sent (the endpoint's default) */
    int concurrency;          /* episodes in flight, 1..OPENAI_CONCURRENCY_MAX */
    int retries;              /* retries of one request on 429/5xx/transport errors */
    double backoff_sec;       /* the first retry's wait; doubled each retry, at most 60 s */
    int timeout_sec;          /* one request to the model */
    const char *trajectories; /* append one line per episode here (the real conversation), or
                                 NULL */
};

#define OPENAI_CONCURRENCY_MAX 256
#define OPENAI_RETRY_AFTER_MAX 120 /* seconds of a Retry-After honoured */

/* What a run did. */
struct openai_run {
    char tag[TG_TAG_MAX + 1];
    long episodes;                  /* played (ended, one way or another) */
    long ends[OPENAI_END_COUNT];    /* how many ended each way */
    long llm_requests, llm_retries; /* chat completion requests sent, and of them retries */
    json_t *report;                 /* new: GET /v1/report of the run's tag (one server), or
                                       {"servers":{url: report}} with several */
};

/* openai_options_defaults — concurrency 4, retries 5, backoff 1 s, timeout 300 s, no
 * temperature. */
void openai_options_defaults(struct openai_options *oo);

/* openai_end_name — "answered", "step_limit", "truncated", "llm_error", "llm_unreachable",
 * "bad_response", "server_error"; "?" out of range. Pure. */
const char *openai_end_name(enum openai_end e);

/* openai_chat_url — the chat completions URL of base (borrowed) into buf (n bytes). 0, or
 * TG_EINVAL when base is not an http(s) URL or does not fit. Pure. */
int openai_chat_url(const char *base, char *buf, size_t n);

/*
 * openai_eval_run — play the episodes of o (o->server: one URL or several, comma-separated;
 * o->split, o->episodes, o->max_steps, o->tag, o->api_key for the servers) with the model of
 * oo, then fetch the report. Returns 0 with *run filled (free with openai_run_clear) — also
 * when episodes ended badly (run->ends says how); or TG_EINVAL (bad options), TG_EIO (the
 * servers could not list tasks or report), TG_ENOMEM, with *err. curl_global_init must have
 * been called. Not thread-safe.
 */
int openai_eval_run(const struct eval_options *o, const struct openai_options *oo,
                    struct openai_run *run, struct tg_error *err);

/* openai_run_clear — free run->report. Accepts NULL. */
void openai_run_clear(struct openai_run *run);

/* openai_print_run — the end counts and the report table(s) of run on f. */
void openai_print_run(FILE *f, const struct eval_options *o, const struct openai_options *oo,
                      const struct openai_run *run);

#endif
