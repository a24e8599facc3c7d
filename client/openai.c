/*
 * openai.c — the OpenAI-compatible eval driver (see openai.h): a libcurl multi loop over
 * episode slots, each a small state machine (create → chat → steps → chat … → answer), with
 * retries, end labels, the trajectory line of each episode and the report. It does not judge.
 */
#include "client/openai.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/dbuf.h"
#include "base/json_util.h"
#include "base/limits.h"
#include "base/rng.h"
#include "client/task_ids.h"
#include "server/trajlog.h"

#define SERVER_TIMEOUT_SEC 120 /* one request to a toolgym server */
#define BACKOFF_MAX_SEC    60.0

static const char *const end_names[] = {
    "answered",        "step_limit",   "truncated",    "llm_error",
    "llm_unreachable", "bad_response", "server_error",
};

const char *openai_end_name(enum openai_end e) {
    return tg_name_of(end_names, TG_ARRAY_LEN(end_names), (int)e);
}

void openai_options_defaults(struct openai_options *oo) {
    memset(oo, 0, sizeof(*oo));
    oo->temperature = -1;
    oo->concurrency = 4;
    oo->retries = 5;
    oo->backoff_sec = 1.0;
    oo->timeout_sec = 300;
}

int openai_chat_url(const char *base, char *buf, size_t n) {
    size_t len;
    int w;

    if (!base || (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0))
        return TG_EINVAL;
    len = strlen(base);
    while (len > 0 && base[len - 1] == '/')
        len--;
    if (len >= 3 && strncmp(base + len - 3, "/v1", 3) == 0)
        w = snprintf(buf, n, "%.*s/chat/completions", (int)len, base);
    else
        w = snprintf(buf, n, "%.*s/v1/chat/completions", (int)len, base);
    return w < 0 || (size_t)w >= n ? TG_EINVAL : 0;
}

/* ---- the run's state ------------------------------------------------------------------- */

enum ep_state {
    EP_IDLE,   /* slot free */
    EP_CREATE, /* POST /v1/episodes in flight */
    EP_CHAT,   /* POST chat/completions in flight */
    EP_STEP,   /* POST /v1/episodes/{id}/step in flight */
    EP_DELETE, /* DELETE of an episode that ended on our side */
    EP_WAIT,   /* waiting to resend the last request (retry) */
};

struct run;

/* One episode in flight. */
struct ep {
    struct run *run;
    enum ep_state state, resend; /* resend: the state to resend in after EP_WAIT */
    CURL *h;
    struct dbuf resp;
    char *body; /* the body of the request in flight (new), kept for a resend */
    char url[TG_MAX_URL_LEN];
    int in_multi;
    int tries;         /* retries of the current request */
    long long wake_us; /* EP_WAIT: when to resend */
    long index;        /* the episode's number in the run */
    int server;        /* index into run->servers */
    char task_id[TG_TASK_ID_MAX + 1];
    char id[160];       /* the server's episode id */
    json_t *created;    /* the create reply */
    json_t *messages;   /* the conversation so far */
    json_t *calls;      /* the tool_calls of the last assistant message (normalised) */
    size_t next_call;   /* the call whose step is in flight or next */
    int answering;      /* the step in flight is the answer */
    json_t *steps;      /* per step: what the trajectory line keeps */
    json_t *last_reply; /* the last step reply */
    enum openai_end end;
    char reason[TG_ERR_MSG_MAX];
};

struct run {
    const struct eval_options *o;
    const struct openai_options *oo;
    CURLM *multi;
    char chat_url[TG_MAX_URL_LEN];
    char *servers[TG_EVAL_SERVERS_MAX];
    int nservers;
    struct curl_slist *srv_hdrs, *llm_hdrs;
    json_t *ids; /* the split's task ids */
    long next, n;
    struct ep *eps;
    int nslots;
    struct trajlog *log;
    struct openai_run *out;
    uint64_t jitter; /* backoff jitter state */
};

/* ---- requests ------------------------------------------------------------------------- */

/* Start a request on e's handle: method, url (copied), body (stolen text; NULL: none),
 * to the model or to a server. 0 or TG_ENOMEM. */
static int send_req(struct ep *e, const char *method, const char *url, char *body, int to_llm) {
    struct run *r = e->run;

    if (e->body != body) {
        free(e->body);
        e->body = body;
    }
    if (url != e->url)
        snprintf(e->url, sizeof(e->url), "%s", url);
    dbuf_reset(&e->resp);
    curl_easy_reset(e->h);
    curl_easy_setopt(e->h, CURLOPT_URL, e->url);
    curl_easy_setopt(e->h, CURLOPT_PRIVATE, e);
    curl_easy_setopt(e->h, CURLOPT_WRITEFUNCTION, dbuf_write_cb);
    curl_easy_setopt(e->h, CURLOPT_WRITEDATA, &e->resp);
    curl_easy_setopt(e->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e->h, CURLOPT_HTTPHEADER, to_llm ? r->llm_hdrs : r->srv_hdrs);
    curl_easy_setopt(e->h, CURLOPT_TIMEOUT,
                     (long)(to_llm ? r->oo->timeout_sec : SERVER_TIMEOUT_SEC));
    curl_easy_setopt(e->h, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(e->h, CURLOPT_CUSTOMREQUEST, method);
    if (e->body) {
        curl_easy_setopt(e->h, CURLOPT_POSTFIELDS, e->body);
        curl_easy_setopt(e->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(e->body));
    }
    if (curl_multi_add_handle(r->multi, e->h) != CURLM_OK)
        return TG_ENOMEM;
    e->in_multi = 1;
    if (to_llm)
        r->out->llm_requests++;
    return 0;
}

static char *dump(const json_t *j) {
    return json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17));
}

/* The wait before retry number `tries` (1-based): Retry-After when the server gave one, else
 * backoff · 2^(tries-1), at most BACKOFF_MAX_SEC, with up to 25% jitter. Microseconds. */
static long long retry_wait_us(struct run *r, int tries, curl_off_t retry_after) {
    double s;

    if (retry_after > 0)
        return (long long)(retry_after > OPENAI_RETRY_AFTER_MAX ? OPENAI_RETRY_AFTER_MAX
                                                                : retry_after) *
               1000000LL;
    s = r->oo->backoff_sec;
    for (int i = 1; i < tries && s < BACKOFF_MAX_SEC; i++)
        s *= 2;
    if (s > BACKOFF_MAX_SEC)
        s = BACKOFF_MAX_SEC;
    s *= 1.0 + 0.25 * (double)(rng_splitmix64(&r->jitter) % 1000) / 1000.0;
    return (long long)(s * 1e6);
}

/* Retry the request in flight later, or return 0 when the retries are used up. */
static int schedule_retry(struct ep *e, enum ep_state again, curl_off_t retry_after) {
    struct run *r = e->run;

    if (e->tries >= r->oo->retries)
        return 0;
    e->tries++;
    e->state = EP_WAIT;
    e->resend = again;
    e->wake_us = tg_now_us() + retry_wait_us(r, e->tries, retry_after);
    if (again == EP_CHAT)
        r->out->llm_retries++;
    return 1;
}

/* ---- building the conversation --------------------------------------------------------- */

/* The system prompt: what the agent is for, the tools by name, and the server's answer
 * instructions when the create reply has them. New string or NULL. */
static char *system_prompt(const json_t *created) {
    const json_t *tools = json_object_get(created, "tools");
    const char *instr = json_string_value(json_object_get(created, "instructions"));
    struct dbuf b;
    size_t i;
    json_t *t;

    dbuf_init(&b, 64 * 1024);
    dbuf_add_str(&b, "You solve tasks, calling tools only when the task needs them. Tools: ");
    json_array_foreach(tools, i, t) {
        const char *name =
            json_string_value(json_object_get(json_object_get(t, "function"), "name"));

        dbuf_add_fmt(&b, "%s%s", i ? ", " : "", name ? name : "?");
    }
    dbuf_add_str(&b, ". Call a tool with exact arguments; when you know the answer, reply with "
                     "it and call no tool: that reply is your answer.");
    if (instr) /* the server's answer form, written for any agent: here the reply is the answer */
        dbuf_add_fmt(&b, " How the answer is read: %s", instr);
    return dbuf_take(&b, NULL);
}

/* The chat completion request for the conversation so far. New text or NULL. */
static char *chat_body(struct ep *e) {
    const struct openai_options *oo = e->run->oo;
    json_t *req = json_pack("{s:s, s:O, s:O, s:s}", "model", oo->model, "messages", e->messages,
                            "tools", json_object_get(e->created, "tools"), "tool_choice", "auto");
    char *s;

    if (!req)
        return NULL;
    if (oo->temperature >= 0)
        json_object_set_new(req, "temperature", json_real(oo->temperature));
    s = dump(req);
    json_decref(req);
    return s;
}

/* A tool call of the model's reply as we keep it and send it back: {"id","type":"function",
 * "function":{"name","arguments":text}}; a missing id becomes call_<episode step>_<i>.
 * Arguments given as an object (some servers do) are kept as its JSON text. New or NULL. */
static json_t *normalise_call(const json_t *c, size_t i, size_t nsteps) {
    const json_t *fn = json_object_get(c, "function");
    const char *id = json_string_value(json_object_get(c, "id"));
    const char *name = json_string_value(json_object_get(fn, "name"));
    const json_t *args = json_object_get(fn, "arguments");
    char idbuf[48], *text = NULL;
    json_t *out;

    if (!id || !*id) {
        snprintf(idbuf, sizeof(idbuf), "call_%zu_%zu", nsteps + 1, i + 1);
        id = idbuf;
    }
    if (json_is_string(args))
        text = strdup(json_string_value(args));
    else if (args)
        text = json_dumps(args, JSON_COMPACT | JSON_ENCODE_ANY);
    else
        text = strdup("");
    if (!text)
        return NULL;
    out = json_pack("{s:s, s:s, s:{s:s, s:s}}", "id", id, "type", "function", "function", "name",
                    name ? name : "", "arguments", text);
    free(text);
    return out;
}

/* The step body of a normalised call: its arguments parsed when they are JSON text, else the
 * text itself (a string: the server judges the call malformed). New text or NULL. */
static char *call_step_body(const json_t *call) {
    const json_t *fn = json_object_get(call, "function");
    const char *text = json_string_value(json_object_get(fn, "arguments"));
    json_t *args = json_loads(text ? text : "", JSON_DECODE_ANY, NULL), *req;
    char *s;

    if (!args)
        args = json_string(text ? text : "");
    req = json_pack("{s:{s:O, s:o}}", "tool_call", "name", json_object_get(fn, "name"), "arguments",
                    args);
    if (!req)
        return NULL;
    s = dump(req);
    json_decref(req);
    return s;
}

/* The answer step body: the text, or its last TG_ANSWER_MAX_BYTES bytes (a conclusion comes
 * last) cut on a character boundary. New text or NULL. */
static char *answer_body(const char *text) {
    size_t len = strlen(text);
    json_t *req;
    char *s;

    if (len > TG_ANSWER_MAX_BYTES) {
        text += len - TG_ANSWER_MAX_BYTES;
        while ((*text & 0xC0) == 0x80)
            text++;
    }
    req = json_pack("{s:s}", "answer", text);
    if (!req)
        return NULL;
    s = dump(req);
    json_decref(req);
    return s;
}

/* ---- the episode's life ---------------------------------------------------------------- */

static void ep_end(struct ep *e, enum openai_end end, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int start_chat(struct ep *e) {
    char *body = chat_body(e);

    if (!body) {
        ep_end(e, OPENAI_END_SERVER_ERROR, "Out of memory.");
        return 0;
    }
    e->state = EP_CHAT;
    e->tries = 0;
    return send_req(e, "POST", e->run->chat_url, body, 1);
}

static int start_step(struct ep *e, char *body) {
    char url[TG_MAX_URL_LEN];

    if (!body) {
        ep_end(e, OPENAI_END_SERVER_ERROR, "Out of memory.");
        return 0;
    }
    snprintf(url, sizeof(url), "%s/v1/episodes/%s/step", e->run->servers[e->server], e->id);
    e->state = EP_STEP;
    e->tries = 0;
    return send_req(e, "POST", url, body, 0);
}

/* The next step after a committed one: the next parallel call, or back to the model. */
static int next_action(struct ep *e) {
    if (e->next_call < json_array_size(e->calls))
        return start_step(e, call_step_body(json_array_get(e->calls, e->next_call)));
    return start_chat(e);
}

static void ep_free_state(struct ep *e) {
    json_decref(e->created);
    json_decref(e->messages);
    json_decref(e->calls);
    json_decref(e->steps);
    json_decref(e->last_reply);
    e->created = e->messages = e->calls = e->steps = e->last_reply = NULL;
    free(e->body);
    e->body = NULL;
}

/* Write the episode's trajectory line (the conversation as the model saw it, the tools, the
 * steps as the server judged them when it says) and free the slot. */
static void ep_finish(struct ep *e) {
    struct run *r = e->run;
    json_t *line;

    r->out->episodes++;
    r->out->ends[e->end]++;
    if (r->log) {
        line =
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:O*, s:O*, s:O*, s:O*}", "episode_id", e->id,
                      "task_id", e->task_id, "tag", r->out->tag, "model", r->oo->model, "server",
                      r->servers[e->server], "end", openai_end_name(e->end), "max_steps",
                      json_object_get(e->created, "max_steps"), "messages", e->messages, "tools",
                      json_object_get(e->created, "tools"), "steps", e->steps);
        if (line && e->reason[0])
            json_object_set_new(line, "end_reason", json_string(e->reason));
        if (line && json_object_get(e->last_reply, "return"))
            json_object_set(line, "return", json_object_get(e->last_reply, "return"));
        if (line && e->end == OPENAI_END_ANSWERED &&
            json_is_boolean(
                json_object_get(json_object_get(e->last_reply, "observation"), "correct")))
            json_object_set(
                line, "correct",
                json_object_get(json_object_get(e->last_reply, "observation"), "correct"));
        if (!line || trajlog_append_json(r->log, line) != 0)
            fprintf(stderr, "toolgym eval: episode %s: could not write its trajectory line\n",
                    e->id);
        json_decref(line);
    }
    if (!r->o->quiet && e->end > OPENAI_END_STEP_LIMIT)
        fprintf(stderr, "\ntoolgym eval: episode %ld (task %s) ended: %s: %s\n", e->index,
                e->task_id, openai_end_name(e->end), e->reason);
    ep_free_state(e);
    e->state = EP_IDLE;
}

/* End the episode with a label. An episode still open on its server is deleted there first
 * (it would only wait to expire); its trajectory line is written when that is done. */
static void ep_end(struct ep *e, enum openai_end end, const char *fmt, ...) {
    char url[TG_MAX_URL_LEN];
    va_list ap;

    e->end = end;
    va_start(ap, fmt);
    vsnprintf(e->reason, sizeof(e->reason), fmt, ap);
    va_end(ap);
    if (end > OPENAI_END_STEP_LIMIT && e->id[0] && e->state != EP_DELETE) {
        snprintf(url, sizeof(url), "%s/v1/episodes/%s", e->run->servers[e->server], e->id);
        e->state = EP_DELETE;
        if (send_req(e, "DELETE", url, NULL, 0) == 0)
            return;
    }
    ep_finish(e);
}

static int start_episode(struct ep *e, long index) {
    struct run *r = e->run;
    const char *tid =
        json_string_value(json_array_get(r->ids, (size_t)index % json_array_size(r->ids)));
    char url[TG_MAX_URL_LEN];
    json_t *req;

    memset(e->reason, 0, sizeof(e->reason));
    e->index = index;
    e->server = (int)(index % r->nservers);
    e->id[0] = '\0';
    e->next_call = 0;
    e->answering = 0;
    e->end = OPENAI_END_ANSWERED;
    snprintf(e->task_id, sizeof(e->task_id), "%s", tid ? tid : "");
    e->steps = json_array();
    /* the judge's labels come back for the trajectory file; they never reach the model */
    req = json_pack("{s:s, s:s, s:s}", "task_id", e->task_id, "tag", r->out->tag, "feedback",
                    "judge");
    if (req && r->o->max_steps > 0)
        json_object_set_new(req, "max_steps", json_integer(r->o->max_steps));
    snprintf(url, sizeof(url), "%s/v1/episodes", r->servers[e->server]);
    e->state = EP_CREATE;
    e->tries = 0;
    if (!req || !e->steps) {
        json_decref(req);
        ep_end(e, OPENAI_END_SERVER_ERROR, "Out of memory.");
        return 0;
    }
    {
        char *body = dump(req);

        json_decref(req);
        return send_req(e, "POST", url, body, 0);
    }
}

/* The server's error message of a failed reply, for a reason. */
static const char *server_message(const json_t *j) {
    const char *m = json_string_value(json_object_get(json_object_get(j, "error"), "message"));

    return m ? m : "(no message)";
}

static int on_created(struct ep *e, long status, json_t *j) {
    const char *id = json_string_value(json_object_get(j, "episode_id"));
    const char *prompt = json_string_value(json_object_get(json_object_get(j, "task"), "prompt"));
    char *sys;

    if (status != 201 || !id || !prompt || strlen(id) >= sizeof(e->id) ||
        !json_is_array(json_object_get(j, "tools"))) {
        ep_end(e, OPENAI_END_SERVER_ERROR, "POST /v1/episodes: HTTP %ld: %s", status,
               server_message(j));
        return 0;
    }
    snprintf(e->id, sizeof(e->id), "%s", id);
    e->created = json_incref(j);
    sys = system_prompt(j);
    e->messages = sys ? json_pack("[{s:s, s:s}, {s:s, s:s}]", "role", "system", "content", sys,
                                  "role", "user", "content", prompt)
                      : NULL;
    free(sys);
    if (!e->messages) {
        ep_end(e, OPENAI_END_SERVER_ERROR, "Out of memory.");
        return 0;
    }
    return start_chat(e);
}

static int on_chat(struct ep *e, json_t *j) {
    const json_t *choice = json_array_get(json_object_get(j, "choices"), 0);
    const json_t *msg = json_object_get(choice, "message");
    const json_t *calls = json_object_get(msg, "tool_calls");
    const json_t *content = json_object_get(msg, "content");
    const char *finish = json_string_value(json_object_get(choice, "finish_reason"));
    json_t *kept, *norm;
    size_t i;
    const json_t *c;

    if (!json_is_object(msg) || (content && !json_is_string(content) && !json_is_null(content)) ||
        (calls && !json_is_array(calls) && !json_is_null(calls))) {
        ep_end(e, OPENAI_END_BAD_RESPONSE,
               "The endpoint's reply has no choices[0].message of the chat completion shape.");
        return 0;
    }
    if (finish && strcmp(finish, "length") == 0) {
        ep_end(e, OPENAI_END_TRUNCATED,
               "The model's output was cut at its token limit (finish_reason \"length\").");
        return 0;
    }
    json_decref(e->calls);
    e->calls = json_array();
    e->next_call = 0;
    json_array_foreach(calls, i, c) {
        norm = normalise_call(c, i, json_array_size(e->steps));
        if (!norm || json_array_append_new(e->calls, norm)) {
            ep_end(e, OPENAI_END_SERVER_ERROR, "Out of memory.");
            return 0;
        }
    }
    /* what the conversation keeps of the reply: role, content, tool calls — nothing else */
    kept = json_pack("{s:s, s:O}", "role", "assistant", "content",
                     json_is_string(content) ? content : json_null());
    if (kept && json_array_size(e->calls) > 0)
        json_object_set(kept, "tool_calls", e->calls);
    if (!kept || json_array_append_new(e->messages, kept)) {
        ep_end(e, OPENAI_END_SERVER_ERROR, "Out of memory.");
        return 0;
    }
    if (json_array_size(e->calls) > 0)
        return next_action(e);
    e->answering = 1;
    return start_step(e, answer_body(json_is_string(content) ? json_string_value(content) : ""));
}

/* What the trajectory keeps of a step reply: the label and reward when the server shows
 * them, and a call's tool response without its text (the tool message holds that). */
static json_t *kept_step(const json_t *reply, int answer) {
    const json_t *jg = json_object_get(reply, "judgement");
    json_t *s = json_object(), *obs;
    const char *k;
    json_t *v;

    if (!s)
        return NULL;
    if (json_is_string(json_object_get(jg, "label")))
        json_object_set(s, "label", json_object_get(jg, "label"));
    if (json_is_true(json_object_get(jg, "premature_answer")))
        json_object_set_new(s, "premature_answer", json_true());
    if (json_is_number(json_object_get(reply, "reward")))
        json_object_set(s, "reward", json_object_get(reply, "reward"));
    if (answer)
        return s;
    obs = json_object();
    json_object_foreach((json_t *)json_object_get(reply, "observation"), k, v) {
        if (obs && strcmp(k, "content") != 0)
            json_object_set(obs, k, v);
    }
    if (!obs || json_object_set_new(s, "observation", obs)) {
        json_decref(s);
        return NULL;
    }
    return s;
}

static int on_step(struct ep *e, long status, json_t *j) {
    const json_t *obs = json_object_get(j, "observation");
    int done = json_is_true(json_object_get(j, "done"));

    if (status != 200 || !json_is_object(obs)) {
        ep_end(e, OPENAI_END_SERVER_ERROR, "POST /v1/episodes/%s/step: HTTP %ld: %s", e->id, status,
               server_message(j));
        return 0;
    }
    json_decref(e->last_reply);
    e->last_reply = json_incref(j);
    if (json_array_append_new(e->steps, kept_step(j, e->answering))) {
        ep_end(e, OPENAI_END_SERVER_ERROR, "Out of memory.");
        return 0;
    }
    if (e->answering) {
        e->end = OPENAI_END_ANSWERED;
        ep_finish(e);
        return 0;
    }
    {
        /* only the tool's text goes back to the model: never the judgement or the reward */
        const json_t *call = json_array_get(e->calls, e->next_call);
        const char *content = json_string_value(json_object_get(obs, "content"));
        json_t *tm = json_pack("{s:s, s:O, s:s}", "role", "tool", "tool_call_id",
                               json_object_get(call, "id"), "content", content ? content : "");

        if (!tm || json_array_append_new(e->messages, tm)) {
            ep_end(e, OPENAI_END_SERVER_ERROR, "Out of memory.");
            return 0;
        }
    }
    e->next_call++;
    if (done) {
        e->end = OPENAI_END_STEP_LIMIT;
        ep_finish(e);
        return 0;
    }
    return next_action(e);
}

/* A finished transfer of e. */
static int on_done(struct ep *e, CURLcode cc) {
    struct run *r = e->run;
    long status = 0;
    curl_off_t retry_after = 0;
    enum ep_state st = e->state;
    json_t *j = NULL;
    int rc = 0, to_llm = st == EP_CHAT;

    curl_multi_remove_handle(r->multi, e->h);
    e->in_multi = 0;
    curl_easy_getinfo(e->h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(e->h, CURLINFO_RETRY_AFTER, &retry_after);
    if (st == EP_DELETE) {
        ep_finish(e); /* whatever the server said: the episode is over on our side */
        return 0;
    }
    if (cc != CURLE_OK) {
        if (to_llm && (cc == CURLE_PARTIAL_FILE ||
                       ((cc == CURLE_RECV_ERROR || cc == CURLE_GOT_NOTHING) && e->resp.len > 0))) {
            ep_end(e, OPENAI_END_TRUNCATED,
                   "The endpoint's response was cut off mid-body after %zu bytes (%s).",
                   e->resp.len, curl_easy_strerror(cc));
            return 0;
        }
        if (cc == CURLE_WRITE_ERROR) {
            ep_end(e, to_llm ? OPENAI_END_BAD_RESPONSE : OPENAI_END_SERVER_ERROR,
                   "The response is larger than %lu bytes.", (unsigned long)TG_LLM_RESPONSE_MAX);
            return 0;
        }
        if (schedule_retry(e, st, 0))
            return 0;
        ep_end(e, to_llm ? OPENAI_END_UNREACHABLE : OPENAI_END_SERVER_ERROR,
               "%s: %s (after %d retries).", e->url, curl_easy_strerror(cc), e->tries);
        return 0;
    }
    if (status == 429 || (to_llm && status >= 500) ||
        (!to_llm && (status == 503 || status == 502 || status == 504))) {
        if (schedule_retry(e, st, retry_after))
            return 0;
        ep_end(e, to_llm ? OPENAI_END_LLM_ERROR : OPENAI_END_SERVER_ERROR,
               "%s: HTTP %ld (after %d retries).", e->url, status, e->tries);
        return 0;
    }
    if (e->resp.len > 0)
        j = json_loadb(e->resp.p, e->resp.len, 0, NULL);
    if (to_llm) {
        if (status != 200) {
            const char *m =
                json_string_value(json_object_get(json_object_get(j, "error"), "message"));

            ep_end(e, OPENAI_END_LLM_ERROR, "%s: HTTP %ld: %.200s", e->url, status,
                   m ? m : "(no message)");
        } else if (!json_is_object(j)) {
            ep_end(e, OPENAI_END_BAD_RESPONSE, "%s: the response is not a JSON object.", e->url);
        } else {
            rc = on_chat(e, j);
        }
    } else if (st == EP_CREATE) {
        rc = on_created(e, status, j);
    } else {
        rc = on_step(e, status, j);
    }
    json_decref(j);
    return rc;
}

/* ---- the loop -------------------------------------------------------------------------- */

/* A blocking GET on a server (task listing, reports). */
struct getter {
    CURL *h;
    struct curl_slist *hdrs;
    const char *base;
    struct dbuf resp;
};

static int blocking_get(void *ud, const char *path, long *status, json_t **body,
                        struct tg_error *err) {
    struct getter *g = ud;
    char url[TG_MAX_URL_LEN];
    CURLcode cc;

    *body = NULL;
    snprintf(url, sizeof(url), "%s%s", g->base, path);
    dbuf_reset(&g->resp);
    curl_easy_setopt(g->h, CURLOPT_URL, url);
    curl_easy_setopt(g->h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(g->h, CURLOPT_HTTPHEADER, g->hdrs);
    curl_easy_setopt(g->h, CURLOPT_WRITEFUNCTION, dbuf_write_cb);
    curl_easy_setopt(g->h, CURLOPT_WRITEDATA, &g->resp);
    curl_easy_setopt(g->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(g->h, CURLOPT_TIMEOUT, (long)SERVER_TIMEOUT_SEC);
    cc = curl_easy_perform(g->h);
    if (cc != CURLE_OK) {
        tg_error_set(err, TG_CODE_IO, "GET %s: %s.", url, curl_easy_strerror(cc));
        return TG_EIO;
    }
    curl_easy_getinfo(g->h, CURLINFO_RESPONSE_CODE, status);
    if (g->resp.len > 0)
        *body = json_loadb(g->resp.p, g->resp.len, 0, NULL);
    return 0;
}

/* GET /v1/report of the run's tag from every server: the report itself with one server,
 * their merged report with each under "servers" with several (eval_reports_combine). */
static int fetch_reports(struct run *r, struct getter *g, struct tg_error *err) {
    json_t *all = json_object();
    char *esc = curl_easy_escape(g->h, r->out->tag, 0);
    char path[TG_TAG_MAX * 3 + 160];
    int rc = 0;

    snprintf(path, sizeof(path), "/v1/report?split=%s&tag=%s&by=tag",
             r->o->split ? r->o->split : "test", esc ? esc : "");
    curl_free(esc);
    for (int i = 0; i < r->nservers && rc == 0 && all; i++) {
        long status = 0;
        json_t *rep = NULL;

        g->base = r->servers[i];
        rc = blocking_get(g, path, &status, &rep, err);
        if (rc == 0 && (status != 200 || !json_is_object(rep))) {
            tg_error_set(err, TG_CODE_IO, "GET %s%s: HTTP %ld.", r->servers[i], "/v1/report",
                         status);
            rc = TG_EIO;
        }
        if (rc == 0 && r->nservers == 1) {
            r->out->report = rep;
            json_decref(all);
            return 0;
        }
        if (rc == 0)
            json_object_set_new(all, r->servers[i], rep);
        else
            json_decref(rep);
    }
    if (rc == 0 && all)
        return eval_reports_combine(all, &r->out->report, err);
    json_decref(all);
    return rc ? rc : TG_ENOMEM;
}

static void run_free(struct run *r) {
    for (int i = 0; i < r->nslots; i++) {
        struct ep *e = &r->eps[i];

        if (e->in_multi)
            curl_multi_remove_handle(r->multi, e->h);
        if (e->h)
            curl_easy_cleanup(e->h);
        dbuf_free(&e->resp);
        ep_free_state(e);
    }
    free(r->eps);
    if (r->multi)
        curl_multi_cleanup(r->multi);
    curl_slist_free_all(r->srv_hdrs);
    curl_slist_free_all(r->llm_hdrs);
    eval_servers_free(r->servers, r->nservers);
    json_decref(r->ids);
    trajlog_close(r->log);
}

/* The run's tag: o->tag, or "openai-<model>-<8 hex>" cut to TG_TAG_MAX. */
static int run_tag(const struct eval_options *o, const struct openai_options *oo, char *tag,
                   struct tg_error *err) {
    uint64_t x = (uint64_t)tg_now_us() ^ ((uint64_t)getpid() << 32);
    char model[40];
    size_t j = 0;

    if (o->tag) {
        if (strlen(o->tag) > TG_TAG_MAX) {
            tg_error_set(err, TG_CODE_CONFIG, "--tag is longer than %d bytes.", TG_TAG_MAX);
            return TG_EINVAL;
        }
        snprintf(tag, TG_TAG_MAX + 1, "%s", o->tag);
        return 0;
    }
    /* the model's name in the tag, kept to characters safe in a URL query */
    for (const char *p = oo->model; *p && j + 1 < sizeof(model); p++)
        model[j++] = ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_')
                         ? *p
                         : '_';
    model[j] = '\0';
    snprintf(tag, TG_TAG_MAX + 1, "openai-%s-%08llx", model,
             (unsigned long long)(rng_splitmix64(&x) & 0xffffffffULL));
    return 0;
}

int openai_eval_run(const struct eval_options *o, const struct openai_options *oo,
                    struct openai_run *out, struct tg_error *err) {
    struct run r;
    struct getter g;
    char auth[TG_API_KEY_MAX + 32];
    long active;
    int rc;

    memset(out, 0, sizeof(*out));
    memset(&r, 0, sizeof(r));
    memset(&g, 0, sizeof(g));
    dbuf_init(&g.resp, TG_LLM_RESPONSE_MAX);
    r.o = o;
    r.oo = oo;
    r.out = out;
    r.jitter = (uint64_t)tg_now_us();
    if (!oo->model || !*oo->model) {
        tg_error_set(err, TG_CODE_CONFIG, "--model NAME is required with --agent openai.");
        return TG_EINVAL;
    }
    if (openai_chat_url(oo->base_url, r.chat_url, sizeof(r.chat_url)) != 0) {
        tg_error_set(err, TG_CODE_CONFIG, "--base-url must be an http:// or https:// URL.");
        return TG_EINVAL;
    }
    if (oo->concurrency < 1 || oo->concurrency > OPENAI_CONCURRENCY_MAX || oo->retries < 0 ||
        oo->timeout_sec < 1) {
        tg_error_set(err, TG_CODE_CONFIG, "--concurrency must be 1..%d.", OPENAI_CONCURRENCY_MAX);
        return TG_EINVAL;
    }
    rc = run_tag(o, oo, out->tag, err);
    if (rc)
        return rc;
    rc = eval_servers_parse(o->server, r.servers, TG_EVAL_SERVERS_MAX, &r.nservers, err);
    if (rc)
        goto out;
    r.srv_hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    r.srv_hdrs = curl_slist_append(r.srv_hdrs, "Expect:");
    r.llm_hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    r.llm_hdrs = curl_slist_append(r.llm_hdrs, "Expect:");
    if (o->api_key) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", o->api_key);
        r.srv_hdrs = curl_slist_append(r.srv_hdrs, auth);
    }
    if (oo->api_key) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %.*s", TG_API_KEY_MAX, oo->api_key);
        r.llm_hdrs = curl_slist_append(r.llm_hdrs, auth);
    }
    g.h = curl_easy_init();
    g.hdrs = r.srv_hdrs;
    g.base = r.servers[0];
    r.multi = curl_multi_init();
    r.eps = calloc((size_t)oo->concurrency, sizeof(*r.eps));
    if (!r.srv_hdrs || !r.llm_hdrs || !g.h || !r.multi || !r.eps) {
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
        rc = TG_ENOMEM;
        goto out;
    }
    r.nslots = oo->concurrency;
    for (int i = 0; i < r.nslots; i++) {
        r.eps[i].run = &r;
        dbuf_init(&r.eps[i].resp, TG_LLM_RESPONSE_MAX);
        r.eps[i].h = curl_easy_init();
        if (!r.eps[i].h) {
            tg_error_set(err, TG_CODE_NOMEM, "out of memory");
            rc = TG_ENOMEM;
            goto out;
        }
    }
    if (oo->trajectories) {
        rc = trajlog_open(oo->trajectories, 1000, o->quiet, &r.log, err);
        if (rc)
            goto out;
    }
    rc = task_ids_fetch(blocking_get, &g, o->split ? o->split : "test", &r.ids, err);
    if (rc)
        goto out;
    r.n = o->episodes > 0 ? o->episodes : (long)json_array_size(r.ids);
    curl_multi_setopt(r.multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)oo->concurrency);
    do {
        long long now = tg_now_us(), next_wake = now + 200000;
        int running = 0, left;
        CURLMsg *m;

        active = 0;
        for (int i = 0; i < r.nslots && rc == 0; i++) {
            struct ep *e = &r.eps[i];

            if (e->state == EP_IDLE && r.next < r.n)
                rc = start_episode(e, r.next++);
            if (rc == 0 && e->state == EP_WAIT) {
                if (e->wake_us <= now) {
                    e->state = e->resend;
                    rc = send_req(e, "POST", e->url, e->body, e->resend == EP_CHAT);
                } else if (e->wake_us < next_wake) {
                    next_wake = e->wake_us;
                }
            }
            active += e->state != EP_IDLE;
        }
        if (rc) {
            tg_error_set(err, TG_CODE_NOMEM, "out of memory");
            goto out;
        }
        if (active == 0)
            break;
        curl_multi_perform(r.multi, &running);
        while ((m = curl_multi_info_read(r.multi, &left)) != NULL) {
            struct ep *e = NULL;

            if (m->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&e);
            rc = on_done(e, m->data.result);
            if (rc) {
                tg_error_set(err, TG_CODE_NOMEM, "out of memory");
                goto out;
            }
            if (!o->quiet && e->state == EP_IDLE)
                fprintf(stderr, "\reval: %ld/%ld episodes", out->episodes, r.n);
        }
        {
            long long wait = (next_wake - tg_now_us()) / 1000;

            curl_multi_poll(r.multi, NULL, 0, (int)(wait < 1 ? 1 : wait > 200 ? 200 : wait), NULL);
        }
    } while (1);
    if (!o->quiet)
        fputc('\n', stderr);
    rc = fetch_reports(&r, &g, err);
out:
    if (g.h)
        curl_easy_cleanup(g.h);
    dbuf_free(&g.resp);
    run_free(&r);
    if (rc)
        openai_run_clear(out);
    return rc;
}

void openai_run_clear(struct openai_run *run) {
    if (!run)
        return;
    json_decref(run->report);
    run->report = NULL;
}

void openai_print_run(FILE *f, const struct eval_options *o, const struct openai_options *oo,
                      const struct openai_run *run) {
    fprintf(f, "model %s at %s: %ld episodes, %ld chat requests (%ld retries)\n", oo->model,
            oo->base_url, run->episodes, run->llm_requests, run->llm_retries);
    fprintf(f, "  %-26s %10s\n", "episode end", "episodes");
    for (int i = 0; i < OPENAI_END_COUNT; i++)
        if (run->ends[i] > 0 || i <= OPENAI_END_STEP_LIMIT)
            fprintf(f, "  %-26s %10ld\n", openai_end_name((enum openai_end)i), run->ends[i]);
    eval_print_report(f, o, run->tag, run->report);
}
