/*
 * episode.c — episodes (judged, rewarded, shared immutable steps; fork by replay; JSON views)
 * and the in-memory episode store (hash map, finished and unfinished lists, per-client
 * records, byte accounting, eviction, expiry). See episode.h for the contract. It does not
 * speak HTTP or run tools.
 */
#include "server/episode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/json_util.h"
#include "base/jsonw.h"
#include "base/metrics.h"
#include "base/hash.h"
#include "tools/tools.h"

/* ---- byte accounting ------------------------------------------------------------------ */

/* The bytes charged to one store. Steps and episodes charged to it hold a reference, so the
 * count stays valid for a step that outlives the store (held by a request in flight). */
struct episode_budget {
    atomic_size_t bytes;
    atomic_int refs;
};

static struct episode_budget *budget_new(void) {
    struct episode_budget *b = malloc(sizeof(*b));

    if (!b)
        return NULL;
    atomic_init(&b->bytes, 0);
    atomic_init(&b->refs, 1);
    return b;
}

/* Charge n bytes to b and take a reference on it (for the holder of the charge). */
static struct episode_budget *budget_charge(struct episode_budget *b, size_t n) {
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&b->bytes, n, memory_order_relaxed);
    return b;
}

/* Release n bytes charged to b and drop a reference; the last one frees it. Accepts NULL. */
static void budget_release(struct episode_budget *b, size_t n) {
    if (!b)
        return;
    atomic_fetch_sub_explicit(&b->bytes, n, memory_order_relaxed);
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
        free(b);
}

/* Estimated heap bytes of a JSON value: a node per value, keys, string bodies, array slots.
 * Depth is bounded by the request parser (TG_MAX_JSON_DEPTH) and by the tools' results. */
static size_t json_bytes(const json_t *j) {
    size_t n = 64;

    if (json_is_object(j)) {
        const char *k;
        json_t *v;

        json_object_foreach((json_t *)j, k, v) {
            n += 64 + strlen(k) + json_bytes(v);
        }
    } else if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j); i++)
            n += sizeof(void *) + json_bytes(json_array_get(j, i));
    } else if (json_is_string(j)) {
        n += json_string_length(j) + 1;
    }
    return n;
}

static const char system_prompt_head[] =
    "You solve tasks with tools: calculator, search and run_code. Call a tool only when the "
    "task needs it, with exact arguments, and answer as soon as you know the answer. ";

/* ---- episodes ------------------------------------------------------------------------- */

static int random_id(char out[EPISODE_ID_LEN + 1]) {
    unsigned char b[EPISODE_ID_LEN / 2];
    static const char hex[] = "0123456789abcdef";
    size_t got = 0;

    while (got < sizeof(b)) {
        ssize_t n = getrandom(b + got, sizeof(b) - got, 0);

        if (n <= 0)
            return TG_EIO;
        got += (size_t)n;
    }
    for (size_t i = 0; i < sizeof(b); i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[EPISODE_ID_LEN] = '\0';
    return 0;
}

size_t episode_struct_bytes(int max_steps) {
    size_t n = max_steps > 0 ? (size_t)max_steps : 0;

    _Static_assert(sizeof(struct episode) % _Alignof(struct judge_key) == 0 &&
                       sizeof(struct judge_key) % _Alignof(struct episode_step *) == 0 &&
                       sizeof(struct episode_step *) % _Alignof(enum judge_label) == 0,
                   "the arrays after struct episode are aligned");
    return sizeof(struct episode) + n * JUDGE_KEYS_PER_CALL * sizeof(struct judge_key) +
           n * sizeof(struct episode_step *) + n * sizeof(enum judge_label);
}

int episode_new(const struct task *t, const struct reward_config *rc, enum reward_mode mode,
                int max_steps, const char *tag, struct episode **out) {
    struct episode *ep;

    *out = NULL;
    if (!t || !rc || max_steps < 1 || max_steps > TG_MAX_STEPS_LIMIT ||
        (tag && strlen(tag) > TG_TAG_MAX) || mode < 0 || mode >= REWARD_MODE_COUNT)
        return TG_EINVAL;
    ep = calloc(1, episode_struct_bytes(max_steps));
    if (!ep)
        return TG_ENOMEM;
    /* the arrays follow the struct: keys and step pointers (8-byte aligned), then labels */
    ep->js.cap = (size_t)max_steps * JUDGE_KEYS_PER_CALL;
    ep->js.keys = (struct judge_key *)(ep + 1);
    ep->steps = (struct episode_step **)(ep->js.keys + ep->js.cap);
    ep->call_labels = (enum judge_label *)(ep->steps + max_steps);
    if (random_id(ep->id) != 0) {
        free(ep);
        return TG_EIO;
    }
    ep->task = t;
    ep->rc = rc;
    ep->mode = mode;
    ep->max_steps = max_steps;
    tg_copy_cut(ep->tag, sizeof(ep->tag), tag);
    pthread_mutex_init(&ep->mu, NULL);
    ep->outcome = REWARD_RUNNING;
    atomic_init(&ep->bytes, episode_struct_bytes(max_steps));
    atomic_init(&ep->refs, 1);
    *out = ep;
    return 0;
}

void episode_set_node(struct episode *ep, const char *node) {
    char id[EPISODE_ID_MAX + 1];

    TG_ASSERT(!ep->in_store && strlen(node) <= TG_NODE_NAME_MAX);
    snprintf(id, sizeof(id), "%s-%.*s", node, EPISODE_ID_LEN, ep->id);
    memcpy(ep->id, id, sizeof(id));
}

/* Drop a reference to a step; the last one frees it and releases its charge. */
static void step_put(struct episode_step *st) {
    if (!st || atomic_fetch_sub_explicit(&st->refs, 1, memory_order_acq_rel) != 1)
        return;
    free(st->args);
    free(st->answer);
    json_decref(st->observation);
    free(st->content);
    free(st->result);
    free(st->result_shown);
    free(st->res_err);
    free(st->reason);
    budget_release(st->budget, st->bytes);
    free(st);
}

static void episode_free(struct episode *ep) {
    for (size_t i = 0; i < ep->nsteps; i++)
        step_put(ep->steps[i]);
    budget_release(ep->budget, episode_struct_bytes(ep->max_steps));
    pthread_mutex_destroy(&ep->mu);
    free(ep);
}

void episode_ref(struct episode *ep) {
    atomic_fetch_add_explicit(&ep->refs, 1, memory_order_relaxed);
}

void episode_put(struct episode *ep) {
    if (!ep)
        return;
    if (atomic_fetch_sub_explicit(&ep->refs, 1, memory_order_acq_rel) == 1)
        episode_free(ep);
}

int episode_step_begin(struct episode *ep) {
    int rc = 0;

    pthread_mutex_lock(&ep->mu);
    if (ep->outcome != REWARD_RUNNING)
        rc = TG_ESTATE;
    else if (ep->busy)
        rc = TG_EBUSY;
    else
        ep->busy = 1;
    pthread_mutex_unlock(&ep->mu);
    return rc;
}

void episode_step_abort(struct episode *ep) {
    pthread_mutex_lock(&ep->mu);
    ep->busy = 0;
    pthread_mutex_unlock(&ep->mu);
}

int episode_done(struct episode *ep) {
    int d;

    pthread_mutex_lock(&ep->mu);
    d = ep->outcome != REWARD_RUNNING;
    pthread_mutex_unlock(&ep->mu);
    return d;
}

const char *episode_outcome_name(enum reward_outcome o) {
    switch (o) {
    case REWARD_RUNNING:
        return "running";
    case REWARD_CORRECT:
        return "correct";
    case REWARD_INCORRECT:
        return "incorrect";
    case REWARD_STEP_LIMIT:
        return "step_limit";
    }
    return "?";
}

/* The episode as the reward functions see it. Caller holds ep->mu. */
static void reward_view(const struct episode *ep, struct reward_episode *re) {
    memset(re, 0, sizeof(*re));
    re->calls = ep->call_labels;
    re->ncalls = ep->ncalls;
    re->outcome = ep->outcome;
    re->premature_answer = ep->premature_answer;
    re->ungrounded = ep->ungrounded;
}

static double current_return(const struct episode *ep) {
    struct reward_episode re;

    reward_view(ep, &re);
    return reward_return(ep->rc, ep->mode, &re);
}

/* A new, empty step (one reference), or NULL. Caller holds ep->mu. */
static struct episode_step *step_new(const struct episode *ep) {
    struct episode_step *st;

    if (ep->nsteps >= (size_t)ep->max_steps)
        return NULL; /* reaching max_steps ends the episode first */
    st = calloc(1, sizeof(*st));
    if (st)
        atomic_init(&st->refs, 1);
    return st;
}

/* Append a filled step (steals its reference): size it, charge it to the episode's store,
 * count it in the episode's bytes. Caller holds ep->mu. */
static void step_append(struct episode *ep, struct episode_step *st) {
    st->bytes =
        sizeof(*st) + (st->args ? st->args_len + 1 : 0) + json_bytes(st->observation) +
        (st->answer ? strlen(st->answer) + 1 : 0) + (st->content ? strlen(st->content) + 1 : 0) +
        (st->result ? st->result_len + 1 : 0) + (st->result_shown ? st->result_shown_len + 1 : 0) +
        (st->res_err ? sizeof(*st->res_err) : 0) + (st->reason ? strlen(st->reason) + 1 : 0);
    if (ep->budget)
        st->budget = budget_charge(ep->budget, st->bytes);
    atomic_fetch_add_explicit(&ep->bytes, st->bytes, memory_order_relaxed);
    ep->steps[ep->nsteps++] = st;
}

/* Keep at most TG_STEP_ARGS_KEEP bytes of a malformed call's arguments. */
struct args_prefix {
    char buf[TG_STEP_ARGS_KEEP];
    size_t len, total;
};

static int prefix_take(const char *p, size_t n, void *data) {
    struct args_prefix *a = data;
    size_t room = sizeof(a->buf) - a->len;

    memcpy(a->buf + a->len, p, n < room ? n : room);
    a->len += n < room ? n : room;
    a->total += n;
    return 0;
}

/* v[0..n) into a block of its own size at *out (a stored step holds what it shows, not a
 * buffer's slack). 0 or TG_ENOMEM. */
static int keep_text(const char *v, size_t n, char **out) {
    *out = malloc(n + 1);
    if (!*out)
        return TG_ENOMEM;
    memcpy(*out, v, n);
    (*out)[n] = '\0';
    return 0;
}

/* v (borrowed) as compact JSON text written with flags (jsonw.h), kept by keep_text: *out and
 * its length *len. 0 or TG_ENOMEM (jsonw writes every value the parser or a tool makes). */
static int keep_json(const json_t *v, int flags, char **out, size_t *len) {
    struct dbuf text;
    int rc;

    dbuf_init(&text, (size_t)-1 / 2);
    rc = jsonw_value(&text, v, flags) ? TG_ENOMEM : keep_text(text.p, text.len, out);
    *len = rc ? 0 : text.len;
    dbuf_free(&text);
    return rc;
}

/* Kept JSON text read back: the same value (JSONW_REAL17's reals included). New reference, or
 * NULL (no memory). */
static json_t *read_json(const char *text, size_t len) {
    return json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
}

/*
 * Keep a tool call's action in st: the name (already bounded, see episode_step_call) and the
 * arguments as compact JSON text, or — for a malformed call whose arguments take more than
 * TG_STEP_ARGS_KEEP bytes as compact JSON — the first bytes of that text, flagged
 * args_truncated. Returns 0 or TG_ENOMEM.
 */
static int store_action(struct episode_step *st, const char *name, const json_t *args,
                        int malformed) {
    struct args_prefix *a;
    size_t n = strlen(name);
    int rc;

    TG_ASSERT(n < sizeof(st->name)); /* the caller cut it to TG_TOOL_NAME_KEEP bytes */
    memcpy(st->name, name, n + 1);
    if (!args)
        return 0; /* shown as null */
    if (malformed) {
        a = calloc(1, sizeof(*a));
        if (!a)
            return TG_ENOMEM;
        if (json_dump_callback(args, prefix_take, a, JSON_COMPACT | JSON_ENCODE_ANY) != 0)
            a->total = 0; /* cannot happen for a value the parser made; keep it whole */
        if (a->total > sizeof(a->buf)) {
            st->args_len = jsonu_utf8_prefix(a->buf, a->total, a->len);
            rc = keep_text(a->buf, st->args_len, &st->args);
            st->args_truncated = rc == 0;
            free(a);
            return rc;
        }
        free(a);
    }
    return keep_json(args, JSONW_REAL17, &st->args, &st->args_len);
}

/* A step's arguments as a value: null, the kept prefix as a string (args_truncated), or the
 * text read back (the same value that was sent). New reference, or NULL (no memory). */
static json_t *step_args(const struct episode_step *st) {
    if (!st->args)
        return json_null();
    if (st->args_truncated)
        return json_stringn(st->args, st->args_len);
    return read_json(st->args, st->args_len);
}

/* A step's action as shown (GET): {"tool_call":{"name","arguments"[,"arguments_truncated"]}}
 * or {"answer":"..."}. New reference or NULL. */
static json_t *action_json(const struct episode_step *st) {
    json_t *tc;

    if (st->is_answer)
        return json_pack("{s:s}", "answer", st->answer ? st->answer : "");
    tc = json_pack("{s:s, s:o}", "name", st->name, "arguments", step_args(st));
    if (tc && st->args_truncated && json_object_set_new(tc, "arguments_truncated", json_true())) {
        json_decref(tc);
        return NULL;
    }
    return jsonu_with(json_object(), "tool_call", tc);
}

static json_t *judgement_json(const struct episode_step *st) {
    json_t *j = json_pack("{s:s, s:s}", "label", judge_label_name(st->label), "reason",
                          st->reason ? st->reason : "");

    if (j && st->premature_answer)
        json_object_set_new(j, "premature_answer", json_true());
    if (j && st->ungrounded)
        json_object_set_new(j, "ungrounded", json_true());
    return j;
}

/* 1 if v holds a real anywhere (only reals are written differently with JSONW_REAL17). */
static int has_real(const json_t *v) {
    const char *k;
    json_t *m;
    size_t i;

    if (json_is_real(v))
        return 1;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, m) {
            if (has_real(m))
                return 1;
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, m) {
            if (has_real(m))
                return 1;
        }
    }
    return 0;
}

/* Keep a tool's result (borrowed; NULL: none) in st as text: as it reads back (JSONW_REAL17),
 * and, when reals make it differ, as the trajectory line writes it. 0 or TG_ENOMEM. */
static int store_result(struct episode_step *st, const json_t *result) {
    int rc;

    if (!result)
        return 0;
    rc = keep_json(result, JSONW_REAL17, &st->result, &st->result_len);
    if (rc == 0 && has_real(result)) {
        rc = keep_json(result, 0, &st->result_shown, &st->result_shown_len);
        if (rc == 0 && st->result_shown_len == st->result_len &&
            memcmp(st->result_shown, st->result, st->result_len) == 0) {
            free(st->result_shown); /* its reals write the same either way */
            st->result_shown = NULL;
            st->result_shown_len = 0;
        }
    }
    return rc;
}

/* A step's result read back from its text: a new reference, or NULL when it has none (or on
 * ENOMEM: *failed set). */
static json_t *step_result(const struct episode_step *st, int *failed) {
    json_t *r;

    *failed = 0;
    if (!st->result)
        return NULL;
    r = read_json(st->result, st->result_len);
    *failed = r == NULL;
    return r;
}

/* The tool response a step keeps as parts, as a struct tool_result to write or show (borrowing
 * the step's parts), with result (borrowed, may be NULL) as its result. */
static const struct tool_result *res_view(const struct episode_step *st, const json_t *result,
                                          struct tool_result *v) {
    v->ok = st->res_ok;
    v->content = st->content;
    v->result = (json_t *)result;
    if (st->res_err) {
        v->err = *st->res_err;
    } else {
        v->err.code[0] = '\0';
        v->err.message[0] = '\0';
    }
    return v;
}

/* A step's observation as a tree (a new reference, built from the parts if kept so), or NULL
 * on ENOMEM. */
static json_t *step_observation(const struct episode_step *st) {
    struct tool_result v;
    json_t *result, *o;
    int failed;

    if (!st->content)
        return json_incref(st->observation);
    result = step_result(st, &failed);
    if (failed)
        return NULL;
    o = tool_result_json(res_view(st, result, &v));
    json_decref(result);
    return o;
}

/* A step's observation as shown: an answer's ({"correct":bool}) only with feedback, else {}:
 * whether an answer was right is the judge's to tell a trainer, not an agent (with forks, an
 * agent could otherwise try answers until one is right). New reference or NULL. */
static json_t *shown_observation(const struct episode *ep, const struct episode_step *st) {
    if (st->is_answer && !ep->feedback)
        return json_object();
    return step_observation(st);
}

/* The step response for the last committed step: what an agent may see, and with feedback the
 * judge's label, the reward and the return. Caller holds ep->mu. */
static json_t *step_reply(const struct episode *ep) {
    const struct episode_step *st = ep->steps[ep->nsteps - 1];
    json_t *j = json_pack("{s:I, s:o*, s:b}", "step", (json_int_t)ep->nsteps, "observation",
                          shown_observation(ep, st), "done", ep->outcome != REWARD_RUNNING);

    if (j && ep->feedback &&
        (json_object_set_new(j, "judgement", judgement_json(st)) ||
         json_object_set_new(j, "reward", json_real(st->reward)) ||
         json_object_set_new(j, "return", json_real(ep->ret)))) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* step_reply written straight into b as the HTTP reply renders it (JSONW_ASCII), without
 * building the object; result (borrowed, may be NULL) is the last step's result as a tree (the
 * tool's own, which the step keeps as text). Caller holds ep->mu. */
static int step_reply_write(const struct episode *ep, const json_t *result, struct dbuf *b) {
    const struct episode_step *st = ep->steps[ep->nsteps - 1];
    struct tool_result view;
    int rc;

    rc = dbuf_add_str(b, "{\"step\":");
    if (rc == 0)
        rc = jsonw_int(b, (long long)ep->nsteps);
    if (rc == 0)
        rc = dbuf_add_str(b, ",\"observation\":");
    if (rc == 0)
        rc = st->is_answer && !ep->feedback ? dbuf_add_str(b, "{}")
             : st->content ? tool_result_write(b, res_view(st, result, &view), JSONW_ASCII)
                           : jsonw_value(b, st->observation, JSONW_ASCII);
    if (rc == 0)
        rc = dbuf_add_str(b, ep->outcome != REWARD_RUNNING ? ",\"done\":true" : ",\"done\":false");
    if (rc == 0 && ep->feedback) {
        const char *reason = st->reason ? st->reason : "";

        rc = dbuf_add_str(b, ",\"judgement\":{\"label\":");
        if (rc == 0)
            rc = jsonw_string(b, judge_label_name(st->label), strlen(judge_label_name(st->label)),
                              JSONW_ASCII);
        if (rc == 0)
            rc = dbuf_add_str(b, ",\"reason\":");
        if (rc == 0)
            rc = jsonw_string(b, reason, strlen(reason), JSONW_ASCII);
        if (rc == 0 && st->premature_answer)
            rc = dbuf_add_str(b, ",\"premature_answer\":true");
        if (rc == 0 && st->ungrounded)
            rc = dbuf_add_str(b, ",\"ungrounded\":true");
        if (rc == 0)
            rc = dbuf_add_str(b, "},\"reward\":");
        if (rc == 0)
            rc = jsonw_real(b, st->reward, 0);
        if (rc == 0)
            rc = dbuf_add_str(b, ",\"return\":");
        if (rc == 0)
            rc = jsonw_real(b, ep->ret, 0);
    }
    return rc ? rc : dbuf_add_str(b, "}");
}

static void count_label(const char *label) {
    char labels[64] = "";

    metrics_inc("toolgym_judge_labels_total", metrics_label(labels, sizeof(labels), "label", label),
                1);
}

/* episode_step_call and episode_step_call_text: the reply as a tree (reply) or as text
 * (text; reply NULL). */
static int step_call(struct episode *ep, const char *name, const json_t *args,
                     enum judge_outcome outcome, const json_t *result, json_t *observation,
                     struct tool_result *res, json_t **reply, struct dbuf *text, int *finished) {
    struct judge_call c;
    struct judge_verdict v, lim;
    struct episode_step *st = NULL;
    struct judge_state js;
    char shown[TG_TOOL_NAME_KEEP + 1]; /* the name as judged and kept: every tool's fits */
    size_t nl = name ? jsonu_utf8_prefix(name, strlen(name), TG_TOOL_NAME_KEEP) : 0;
    int rc;

    if (reply)
        *reply = NULL;
    *finished = 0;
    if (name)
        memcpy(shown, name, nl);
    shown[nl] = '\0';
    pthread_mutex_lock(&ep->mu);
    TG_ASSERT(ep->busy && ep->outcome == REWARD_RUNNING);
    st = step_new(ep);
    if (!st || (!observation && !res)) {
        rc = TG_ENOMEM;
        goto fail;
    }
    if (res) {
        result = res->result;
        if (!res->ok) {
            st->res_err = malloc(sizeof(*st->res_err));
            if (!st->res_err) {
                rc = TG_ENOMEM;
                goto fail;
            }
            *st->res_err = res->err;
        }
    }
    memset(&c, 0, sizeof(c));
    c.tool = name ? shown : NULL;
    c.args = args;
    c.outcome = outcome;
    c.result = outcome == JUDGE_TOOL_OK ? result : NULL;
    /* judge on a copy of the state: nothing changes unless the step is committed */
    judge_memo_load(&ep->js, &js);
    rc = judge_call(ep->task, &js, &c, &v);
    if (rc == TG_ESTATE)
        rc = TG_EINTERNAL; /* max_steps ≤ TG_MAX_STEPS_LIMIT and done is checked at begin */
    if (rc)
        goto fail;
    rc = store_action(st, shown, args, v.label == JUDGE_MALFORMED);
    if (rc == 0 && res) /* the tool's tree stays the caller's (it shows it in the reply) */
        rc = store_result(st, res->result);
    if (rc)
        goto fail;
    if (res) { /* the response's parts move into the step (nothing fails after this) */
        st->content = res->content ? res->content : strdup("");
        if (!st->content) {
            rc = TG_ENOMEM;
            goto fail;
        }
        res->content = NULL;
        st->res_ok = res->ok;
    }
    st->observation = observation;
    observation = NULL;
    st->label = v.label;
    st->outcome = outcome;
    st->reward = reward_step(ep->rc, ep->mode, v.label);
    ep->call_labels[ep->ncalls++] = v.label;
    count_label(judge_label_name(v.label));
    if ((int)ep->nsteps + 1 >= ep->max_steps && judge_step_limit(ep->task, &js, &lim) == 0) {
        struct reward_episode re;
        char buf[TG_ERR_MSG_MAX + 96];

        ep->outcome = REWARD_STEP_LIMIT;
        reward_view(ep, &re);
        st->reward += reward_final(ep->rc, ep->mode, &re);
        snprintf(buf, sizeof(buf),
                 "%s The episode reached max_steps (%d) without an answer: "
                 "step_limit.",
                 v.reason, ep->max_steps);
        st->reason = strdup(buf);
        count_label(judge_label_name(JUDGE_STEP_LIMIT));
        *finished = 1;
    } else {
        st->reason = strdup(v.reason);
    }
    /* fits: nsteps < max_steps calls, each with at most JUDGE_KEYS_PER_CALL keys */
    if (judge_memo_save(&ep->js, &js) != 0)
        TG_ASSERT(!"the judge's memory has room for max_steps calls");
    step_append(ep, st);
    ep->ret = current_return(ep);
    ep->busy = 0;
    if (reply)
        *reply = step_reply(ep);
    else
        rc = step_reply_write(ep, result, text);
    pthread_mutex_unlock(&ep->mu);
    if (reply)
        return *reply ? 0 : TG_ENOMEM; /* committed either way; only the reply is missing */
    return rc ? TG_ENOMEM : 0;
fail:
    ep->busy = 0;
    pthread_mutex_unlock(&ep->mu);
    step_put(st);
    json_decref(observation);
    return rc;
}

int episode_step_call(struct episode *ep, const char *name, const json_t *args,
                      enum judge_outcome outcome, const json_t *result, json_t *observation,
                      json_t **reply, int *finished) {
    return step_call(ep, name, args, outcome, result, observation, NULL, reply, NULL, finished);
}

int episode_step_call_text(struct episode *ep, const char *name, const json_t *args,
                           enum judge_outcome outcome, const json_t *result, json_t *observation,
                           struct dbuf *reply, int *finished) {
    return step_call(ep, name, args, outcome, result, observation, NULL, NULL, reply, finished);
}

int episode_step_call_result(struct episode *ep, const char *name, const json_t *args,
                             enum judge_outcome outcome, struct tool_result *res,
                             struct dbuf *reply, int *finished) {
    return step_call(ep, name, args, outcome, NULL, NULL, res, NULL, reply, finished);
}

int episode_step_answer(struct episode *ep, const char *answer, json_t **reply, int *finished) {
    struct judge_state js;
    struct judge_verdict v;
    struct episode_step *st;
    struct reward_episode re;
    json_t *obs;
    int rc;

    *reply = NULL;
    *finished = 0;
    pthread_mutex_lock(&ep->mu);
    TG_ASSERT(ep->busy && ep->outcome == REWARD_RUNNING);
    st = step_new(ep);
    if (!st) {
        rc = TG_ENOMEM;
        goto fail;
    }
    st->answer = strdup(answer);
    if (!st->answer) {
        rc = TG_ENOMEM;
        goto fail;
    }
    judge_memo_load(&ep->js, &js);
    rc = judge_answer(ep->task, &js, answer, &v);
    if (rc == 0 && judge_memo_save(&ep->js, &js) != 0)
        rc = TG_EINTERNAL; /* an answer adds no key */
    if (rc)
        goto fail;
    obs = json_pack("{s:b}", "correct", v.correct);
    st->observation = obs ? obs : json_object();
    st->label = v.label;
    st->is_answer = 1;
    st->premature_answer = v.premature_answer;
    st->ungrounded = v.ungrounded;
    st->reason = strdup(v.reason);
    ep->outcome = v.correct ? REWARD_CORRECT : REWARD_INCORRECT;
    ep->premature_answer = v.premature_answer;
    ep->ungrounded = v.ungrounded;
    reward_view(ep, &re);
    st->reward = reward_final(ep->rc, ep->mode, &re);
    ep->ret = reward_return(ep->rc, ep->mode, &re);
    step_append(ep, st);
    count_label(judge_label_name(v.label));
    if (v.premature_answer)
        count_label(judge_label_name(JUDGE_PREMATURE_ANSWER));
    if (v.ungrounded)
        count_label(judge_label_name(JUDGE_UNGROUNDED));
    ep->busy = 0;
    *finished = 1;
    *reply = step_reply(ep);
    pthread_mutex_unlock(&ep->mu);
    return *reply ? 0 : TG_ENOMEM;
fail:
    ep->busy = 0;
    pthread_mutex_unlock(&ep->mu);
    step_put(st);
    return rc;
}

int episode_fork(struct episode *src, long long at, struct episode **out, struct tg_error *err) {
    struct episode *ep = NULL;
    struct judge_state js;
    int rc;

    *out = NULL;
    judge_state_init(&js);
    rc = episode_new(src->task, src->rc, src->mode, src->max_steps, src->tag, &ep);
    if (rc) {
        tg_error_set(err, "internal", "Cannot create the fork.");
        return rc;
    }
    ep->feedback = src->feedback;
    tg_copy_cut(ep->fork_of, sizeof(ep->fork_of), src->id); /* fixed once stored */
    ep->fork_at = at;
    pthread_mutex_lock(&src->mu);
    if (at < 0 || (size_t)at > src->nsteps ||
        (src->outcome != REWARD_RUNNING && (size_t)at == src->nsteps)) {
        tg_error_set(err, "invalid_request",
                     "\"at\" must be between 0 and %zu (the episode has %zu steps%s).",
                     src->outcome != REWARD_RUNNING && src->nsteps > 0 ? src->nsteps - 1
                                                                       : src->nsteps,
                     src->nsteps, src->outcome != REWARD_RUNNING ? " and is done" : "");
        rc = TG_EINVAL;
        goto fail;
    }
    /* share the prefix's steps; rebuild the judge state by replaying them */
    for (size_t i = 0; i < (size_t)at; i++) {
        struct episode_step *st = src->steps[i];
        struct judge_call c;
        struct judge_verdict v;
        json_t *args, *result = NULL;
        int failed = 0;

        TG_ASSERT(!st->is_answer);
        memset(&c, 0, sizeof(c));
        c.tool = st->name;
        c.args = args = step_args(st);
        c.outcome = st->outcome;
        if (st->outcome == JUDGE_TOOL_OK)
            c.result = st->content ? (result = step_result(st, &failed))
                                   : json_object_get(st->observation, "result");
        rc = args && !failed ? judge_call(ep->task, &js, &c, &v) : TG_ENOMEM;
        json_decref(args);
        json_decref(result);
        if (rc)
            goto fail;
        TG_ASSERT(v.label == st->label); /* the judge is pure: replay gives the same labels */
        atomic_fetch_add_explicit(&st->refs, 1, memory_order_relaxed);
        ep->steps[ep->nsteps++] = st;
        atomic_fetch_add_explicit(&ep->bytes, st->bytes, memory_order_relaxed);
        ep->call_labels[ep->ncalls++] = st->label;
    }
    pthread_mutex_unlock(&src->mu);
    if (judge_memo_save(&ep->js, &js) != 0) { /* at < max_steps calls: it fits */
        rc = TG_EINTERNAL;
        tg_error_set(err, "internal", "Cannot create the fork.");
        episode_put(ep);
        return rc;
    }
    ep->ret = current_return(ep);
    *out = ep;
    return 0;
fail:
    pthread_mutex_unlock(&src->mu);
    if (rc == TG_ENOMEM)
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
    episode_put(ep);
    return rc;
}

/* ---- views ---------------------------------------------------------------------------- */

/* What an agent may see of the task: no family, no tags (see task_public_json). */
static json_t *task_view(const struct task *t) {
    return json_pack("{s:s, s:s}", "id", t->id, "prompt", t->prompt);
}

/* The task's tags as a new JSON array (empty when it has none); NULL on ENOMEM. */
static json_t *tags_json(const struct task *t) {
    json_t *a = json_array();

    for (size_t i = 0; a && i < t->ntags; i++) {
        if (json_array_append_new(a, json_string(t->tags[i]))) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

json_t *episode_json(struct episode *ep) {
    json_t *steps = json_array(), *j = NULL;

    if (!steps)
        return NULL;
    pthread_mutex_lock(&ep->mu);
    for (size_t i = 0; i < ep->nsteps; i++) {
        const struct episode_step *st = ep->steps[i];

        json_t *sj = json_pack("{s:o*, s:o*}", "action", action_json(st), "observation",
                               shown_observation(ep, st));

        if (sj && ep->feedback &&
            (json_object_set_new(sj, "judgement", judgement_json(st)) ||
             json_object_set_new(sj, "reward", json_real(st->reward)))) {
            json_decref(sj);
            sj = NULL;
        }
        if (json_array_append_new(steps, sj))
            goto out;
    }
    j = json_pack("{s:s, s:o*, s:O, s:b, s:s}", "episode_id", ep->id, "task", task_view(ep->task),
                  "steps", steps, "done", ep->outcome != REWARD_RUNNING, "outcome",
                  ep->feedback || ep->outcome == REWARD_RUNNING || ep->outcome == REWARD_STEP_LIMIT
                      ? episode_outcome_name(ep->outcome)
                      : "answered");
    if (j && ep->feedback && json_object_set_new(j, "return", json_real(ep->ret))) {
        json_decref(j);
        j = NULL;
    }
out:
    pthread_mutex_unlock(&ep->mu);
    json_decref(steps);
    return j;
}

/* Append the chat messages of one step. Caller holds ep->mu. */
static int step_messages(json_t *msgs, const struct episode_step *st, size_t i) {
    char id[32];
    const char *content;
    int rc;

    if (st->is_answer)
        return json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "assistant", "content",
                                                     st->answer ? st->answer : ""));
    snprintf(id, sizeof(id), "call_%zu", i + 1);
    rc = json_array_append_new(msgs, json_pack("{s:s, s:n, s:[{s:s, s:s, s:{s:s, s:s%}}]}", "role",
                                               "assistant", "content", "tool_calls", "id", id,
                                               "type", "function", "function", "name", st->name,
                                               "arguments", st->args ? st->args : "null",
                                               st->args ? st->args_len : strlen("null")));
    if (rc)
        return rc;
    content =
        st->content ? st->content : json_string_value(json_object_get(st->observation, "content"));
    return json_array_append_new(msgs, json_pack("{s:s, s:s, s:s}", "role", "tool", "tool_call_id",
                                                 id, "content", content ? content : ""));
}

static const char *const call_outcome_names[] = {"ok", "tool_error", "bad_args", "unknown_tool"};

const char *episode_call_outcome_name(enum judge_outcome o) {
    return tg_name_of(call_outcome_names, TG_ARRAY_LEN(call_outcome_names), (int)o);
}

int episode_call_outcome_parse(const char *name, enum judge_outcome *out) {
    int i = tg_name_index(call_outcome_names, TG_ARRAY_LEN(call_outcome_names), name);

    if (i < 0)
        return TG_EINVAL;
    *out = (enum judge_outcome)i;
    return 0;
}

/* A step's entry in the trajectory line: its label and reward, and for a tool call how it went
 * and what the tool returned besides its text (the tool message holds that), so that the line
 * can be judged again without running the tool (toolgym rescore). Caller holds ep->mu. */
static json_t *trajectory_step(const struct episode_step *st) {
    json_t *sj =
        json_pack("{s:s, s:f}", "label", judge_label_name(st->label), "reward", st->reward);
    const char *k;
    json_t *v, *obs, *whole = NULL;

    if (!sj)
        return NULL;
    if (st->premature_answer && json_object_set_new(sj, "premature_answer", json_true()))
        goto fail;
    if (st->ungrounded && json_object_set_new(sj, "ungrounded", json_true()))
        goto fail;
    if (st->is_answer)
        return sj;
    obs = json_object();
    if (!obs ||
        json_object_set_new(sj, "call", json_string(episode_call_outcome_name(st->outcome))) ||
        json_object_set_new(sj, "observation", obs))
        goto fail;
    whole = step_observation(st);
    if (!whole)
        goto fail;
    json_object_foreach(whole, k, v) {
        if (strcmp(k, "content") != 0 && json_object_set(obs, k, v))
            goto fail;
    }
    json_decref(whole);
    return sj;
fail:
    json_decref(whole);
    json_decref(sj);
    return NULL;
}

json_t *episode_trajectory_json(struct episode *ep) {
    json_t *msgs = json_array(), *steps = json_array(), *j = NULL;

    if (!msgs || !steps)
        goto out0;
    pthread_mutex_lock(&ep->mu);
    if (json_array_append_new(msgs, json_pack("{s:s, s:s+}", "role", "system", "content",
                                              system_prompt_head, judge_answer_format)) ||
        json_array_append_new(msgs,
                              json_pack("{s:s, s:s}", "role", "user", "content", ep->task->prompt)))
        goto out;
    for (size_t i = 0; i < ep->nsteps; i++) {
        const struct episode_step *st = ep->steps[i];

        if (step_messages(msgs, st, i) || json_array_append_new(steps, trajectory_step(st)))
            goto out;
    }
    j = json_pack("{s:s, s:s, s:s, s:s, s:o*, s:s, s:s, s:i, s:O, s:O, s:f, s:b, s:s}",
                  "episode_id", ep->id, "task_id", ep->task->id, "split", ep->task->split, "family",
                  task_family_name(ep->task->family), "task_tags", tags_json(ep->task), "tag",
                  ep->tag, "reward_mode", reward_mode_name(ep->mode), "max_steps", ep->max_steps,
                  "messages", msgs, "steps", steps, "return", ep->ret, "correct",
                  ep->outcome == REWARD_CORRECT, "outcome", episode_outcome_name(ep->outcome));
    if (j && ep->fork_of[0] &&
        json_object_set_new(
            j, "fork", json_pack("{s:s, s:I}", "of", ep->fork_of, "at", (json_int_t)ep->fork_at))) {
        json_decref(j);
        j = NULL;
    }
out:
    pthread_mutex_unlock(&ep->mu);
out0:
    json_decref(msgs);
    json_decref(steps);
    return j;
}

/* ---- the trajectory line, written straight -------------------------------------------- */

/* A string literal, its length known at compile time. */
#define W_LIT(b, lit) dbuf_add((b), (lit), sizeof(lit) - 1)

/* A literal (a key with its comma and colon) and then a C string's value. */
static int w_kv(struct dbuf *b, const char *lit, size_t n, const char *v) {
    int rc = dbuf_add(b, lit, n);

    return rc ? rc : jsonw_string(b, v, strlen(v), 0);
}
#define W_KV(b, lit, v) w_kv((b), (lit), sizeof(lit) - 1, (v))

/* The system message, the same in every line: written once (system_text), then copied. */
static pthread_once_t system_once = PTHREAD_ONCE_INIT;
static char *system_text; /* {"role":"system","content":"..."}, or NULL (no memory) */
static size_t system_len;

static void system_render(void) {
    size_t nh = strlen(system_prompt_head), nf = strlen(judge_answer_format);
    char *sys = malloc(nh + nf + 1);
    struct dbuf b;

    if (!sys)
        return;
    memcpy(sys, system_prompt_head, nh);
    memcpy(sys + nh, judge_answer_format, nf + 1);
    dbuf_init(&b, 4 * (nh + nf) + 64);
    if (dbuf_add_str(&b, "{\"role\":\"system\",\"content\":") == 0 &&
        jsonw_string(&b, sys, nh + nf, 0) == 0 && dbuf_add_str(&b, "}") == 0)
        system_text = dbuf_take(&b, &system_len);
    dbuf_free(&b);
    free(sys);
}

/* The messages of one step, after a comma (as step_messages builds them). */
static int w_step_messages(struct dbuf *b, const struct episode_step *st, size_t i) {
    const char *content;
    int rc;

    if (st->is_answer) {
        if (!st->answer)
            return TG_EINVAL;
        rc = W_KV(b, ",{\"role\":\"assistant\",\"content\":", st->answer);
        return rc ? rc : W_LIT(b, "}");
    }
    rc = W_LIT(b, ",{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_");
    if (rc == 0)
        rc = jsonw_int(b, (long long)i + 1);
    if (rc == 0)
        rc = W_LIT(b, "\",\"type\":\"function\",\"function\":{\"name\":");
    if (rc == 0)
        rc = jsonw_string(b, st->name, strlen(st->name), 0);
    if (rc == 0)
        rc = W_LIT(b, ",\"arguments\":");
    if (rc == 0)
        rc = st->args ? jsonw_string(b, st->args, st->args_len, 0) : W_LIT(b, "\"null\"");
    if (rc == 0)
        rc = W_LIT(b, "}}]},{\"role\":\"tool\",\"tool_call_id\":\"call_");
    if (rc == 0)
        rc = jsonw_int(b, (long long)i + 1);
    content =
        st->content ? st->content : json_string_value(json_object_get(st->observation, "content"));
    if (rc == 0)
        rc = W_KV(b, "\",\"content\":", content ? content : "");
    return rc ? rc : W_LIT(b, "}");
}

/* One step's entry (as trajectory_step builds it). */
static int w_step(struct dbuf *b, const struct episode_step *st, int first) {
    struct tool_result view;
    const char *k;
    json_t *v;
    int rc, n = 0;

    rc = first ? W_KV(b, "{\"label\":", judge_label_name(st->label))
               : W_KV(b, ",{\"label\":", judge_label_name(st->label));
    if (rc == 0)
        rc = W_LIT(b, ",\"reward\":");
    if (rc == 0)
        rc = jsonw_real(b, st->reward, 0);
    if (rc == 0 && st->premature_answer)
        rc = W_LIT(b, ",\"premature_answer\":true");
    if (rc == 0 && st->ungrounded)
        rc = W_LIT(b, ",\"ungrounded\":true");
    if (rc == 0 && !st->is_answer) {
        rc = W_KV(b, ",\"call\":", episode_call_outcome_name(st->outcome));
        if (rc == 0)
            rc = W_LIT(b, ",\"observation\":");
        if (rc == 0 && st->content) {
            rc = tool_result_write_no_content(
                b, res_view(st, NULL, &view), st->result_shown ? st->result_shown : st->result,
                st->result_shown ? st->result_shown_len : st->result_len, 0);
        } else if (rc == 0) {
            rc = W_LIT(b, "{");
            json_object_foreach(st->observation, k, v) {
                if (rc || strcmp(k, "content") == 0)
                    continue;
                rc = jsonw_key(b, k, n++ == 0, 0);
                if (rc == 0)
                    rc = jsonw_value(b, v, 0);
            }
            if (rc == 0)
                rc = W_LIT(b, "}");
        }
    }
    return rc ? rc : W_LIT(b, "}");
}

int episode_trajectory_write(struct episode *ep, struct dbuf *b, const char *tools_text) {
    const struct task *t = ep->task;
    int rc;

    pthread_once(&system_once, system_render);
    if (!system_text)
        return TG_ENOMEM;
    pthread_mutex_lock(&ep->mu);
    rc = W_KV(b, "{\"episode_id\":", ep->id);
    if (rc == 0)
        rc = W_KV(b, ",\"task_id\":", t->id);
    if (rc == 0)
        rc = W_KV(b, ",\"split\":", t->split);
    if (rc == 0)
        rc = W_KV(b, ",\"family\":", task_family_name(t->family));
    if (rc == 0)
        rc = W_LIT(b, ",\"task_tags\":[");
    for (size_t i = 0; rc == 0 && i < t->ntags; i++) {
        if (i > 0)
            rc = W_LIT(b, ",");
        if (rc == 0)
            rc = jsonw_string(b, t->tags[i], strlen(t->tags[i]), 0);
    }
    if (rc == 0)
        rc = W_KV(b, "],\"tag\":", ep->tag);
    if (rc == 0)
        rc = W_KV(b, ",\"reward_mode\":", reward_mode_name(ep->mode));
    if (rc == 0)
        rc = W_LIT(b, ",\"max_steps\":");
    if (rc == 0)
        rc = jsonw_int(b, ep->max_steps);
    if (rc == 0)
        rc = W_LIT(b, ",\"messages\":[");
    if (rc == 0)
        rc = dbuf_add(b, system_text, system_len);
    if (rc == 0)
        rc = W_KV(b, ",{\"role\":\"user\",\"content\":", t->prompt);
    if (rc == 0)
        rc = W_LIT(b, "}");
    for (size_t i = 0; rc == 0 && i < ep->nsteps; i++)
        rc = w_step_messages(b, ep->steps[i], i);
    if (rc == 0)
        rc = W_LIT(b, "],\"steps\":[");
    for (size_t i = 0; rc == 0 && i < ep->nsteps; i++)
        rc = w_step(b, ep->steps[i], i == 0);
    if (rc == 0)
        rc = W_LIT(b, "],\"return\":");
    if (rc == 0)
        rc = jsonw_real(b, ep->ret, 0);
    if (rc == 0)
        rc = ep->outcome == REWARD_CORRECT ? W_LIT(b, ",\"correct\":true")
                                           : W_LIT(b, ",\"correct\":false");
    if (rc == 0)
        rc = W_KV(b, ",\"outcome\":", episode_outcome_name(ep->outcome));
    if (rc == 0 && ep->fork_of[0]) { /* a fork names its source and the step it forked at */
        rc = W_KV(b, ",\"fork\":{\"of\":", ep->fork_of);
        if (rc == 0)
            rc = W_LIT(b, ",\"at\":");
        if (rc == 0)
            rc = jsonw_int(b, ep->fork_at);
        if (rc == 0)
            rc = W_LIT(b, "}");
    }
    if (rc == 0)
        rc = W_LIT(b, ",\"tools\":");
    if (rc == 0)
        rc = dbuf_add_str(b, tools_text);
    if (rc == 0)
        rc = W_LIT(b, "}");
    pthread_mutex_unlock(&ep->mu);
    return rc;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void episode_summarize(struct episode *ep, struct episode_summary *s) {
    const char *called[TG_MAX_STEPS_LIMIT] = {0}, *plan[TG_TASK_PLAN_MAX] = {0};
    size_t nc = 0, np = 0, common = 0, nnec = 0, ncalled = 0;

    memset(s, 0, sizeof(*s));
    pthread_mutex_lock(&ep->mu);
    s->split = ep->task->split;
    s->tag = ep->tag;
    s->task = ep->task;
    s->attempt = ep->attempt;
    s->finished = ep->outcome != REWARD_RUNNING;
    for (size_t i = 0; i < ep->nsteps; i++) {
        const struct episode_step *st = ep->steps[i];

        if (st->is_answer)
            continue;
        s->ncalls++;
        s->labels[st->label]++;
        if (st->label == JUDGE_NECESSARY)
            nnec++;
        if (episode_step_judged_on_args(st))
            s->arg_calls++;
        ncalled++;
        if (st->label != JUDGE_MALFORMED && nc < TG_MAX_STEPS_LIMIT) {
            called[nc++] = st->name;
        }
    }
    if (ep->outcome == REWARD_CORRECT || ep->outcome == REWARD_INCORRECT)
        s->labels[ep->outcome == REWARD_CORRECT ? JUDGE_CORRECT : JUDGE_INCORRECT]++;
    if (ep->outcome == REWARD_STEP_LIMIT)
        s->labels[JUDGE_STEP_LIMIT]++;
    if (ep->premature_answer)
        s->labels[JUDGE_PREMATURE_ANSWER]++;
    if (ep->ungrounded)
        s->labels[JUDGE_UNGROUNDED]++;
    s->correct = ep->outcome == REWARD_CORRECT;
    s->grounded = s->correct && !ep->ungrounded;
    s->plan_match = s->grounded && nnec == s->ncalls && s->ncalls == ep->task->nplan;
    for (size_t i = 0; i < ep->task->nplan && np < TG_TASK_PLAN_MAX; i++)
        plan[np++] = ep->task->plan[i].tool;
    pthread_mutex_unlock(&ep->mu);
    /* multiset intersection of the well-formed calls' tool names with the plan's: sort, merge */
    qsort(called, nc, sizeof(called[0]), cmp_str);
    qsort(plan, np, sizeof(plan[0]), cmp_str);
    for (size_t i = 0, j = 0; i < nc && j < np;) {
        int c = strcmp(called[i], plan[j]);

        if (c == 0) {
            common++;
            i++;
            j++;
        } else if (c < 0) {
            i++;
        } else {
            j++;
        }
    }
    s->selection =
        (ncalled == 0 && np == 0) ? 1.0 : (double)common / (double)(ncalled > np ? ncalled : np);
    if (!s->finished)
        s->selection = 0; /* an abandoned episode is a failure: it raises nothing */
}

int episode_step_judged_on_args(const struct episode_step *st) {
    return !st->is_answer && (st->label == JUDGE_NECESSARY || st->label == JUDGE_WRONG_ARGS ||
                              (st->label == JUDGE_MALFORMED && st->outcome != JUDGE_UNKNOWN_TOOL));
}

struct episode_step *episode_last_step(struct episode *ep) {
    struct episode_step *st = NULL;

    pthread_mutex_lock(&ep->mu);
    if (ep->nsteps > 0) {
        st = ep->steps[ep->nsteps - 1];
        atomic_fetch_add_explicit(&st->refs, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&ep->mu);
    return st;
}

void episode_step_put(struct episode_step *st) {
    step_put(st);
}

/* ---- the store ------------------------------------------------------------------------ */

struct ep_list {
    struct episode *head, *tail;
};

/* One client's share of the store: its stored episodes, in lists parallel to the store's. */
struct ep_client {
    char key[TG_CLIENT_KEY_MAX + 1];
    struct ep_client *hnext;
    size_t episodes;   /* stored episodes */
    size_t unfinished; /* ... of which unfinished */
    size_t bytes;      /* sum of their charged bytes */
    struct ep_list active, finished;
};

#define CLIENT_BUCKETS 1024

struct episode_store {
    pthread_mutex_t mu;
    struct episode_store_limits lim;
    long long idle_us, evict_idle_us;
    episode_clock_fn clock;
    struct episode_budget *budget; /* bytes of stored episodes and of the steps they hold */
    struct episode **buckets;
    size_t nbuckets, count;
    struct ep_list active;   /* unfinished, least recently touched first */
    struct ep_list finished; /* finished, oldest finish first */
    struct ep_client *clients[CLIENT_BUCKETS];
};

/* The links of ep in the store's lists (mine = 0) or in its client's (mine = 1). */
static struct ep_link *link_of(struct episode *ep, int mine) {
    return mine ? &ep->mine : &ep->all;
}

static void list_unlink(struct ep_list *l, struct episode *ep, int mine) {
    struct ep_link *k = link_of(ep, mine);

    if (k->prev)
        link_of(k->prev, mine)->next = k->next;
    else
        l->head = k->next;
    if (k->next)
        link_of(k->next, mine)->prev = k->prev;
    else
        l->tail = k->prev;
    k->prev = k->next = NULL;
}

static void list_push(struct ep_list *l, struct episode *ep, int mine) {
    struct ep_link *k = link_of(ep, mine);

    k->prev = l->tail;
    k->next = NULL;
    if (l->tail)
        link_of(l->tail, mine)->next = ep;
    else
        l->head = ep;
    l->tail = ep;
}

void episode_store_limits_defaults(struct episode_store_limits *l) {
    memset(l, 0, sizeof(*l));
    l->max_episodes = TG_EPISODES_MAX;
    l->idle_sec = TG_EPISODE_IDLE_SEC;
    l->max_bytes = TG_EPISODE_BYTES_DEFAULT;
    l->client_episodes = TG_EPISODES_MAX / TG_CLIENT_SHARE_DIV;
    l->client_bytes = TG_EPISODE_BYTES_DEFAULT / TG_CLIENT_SHARE_DIV;
    l->evict_idle_sec = TG_EVICT_IDLE_SEC;
}

struct episode_store *episode_store_new(const struct episode_store_limits *l,
                                        episode_clock_fn clock) {
    struct episode_store *s;
    size_t nb = 1024;

    if (!l || l->max_episodes < 1 || l->idle_sec < 1 || l->max_bytes < 1 ||
        l->client_episodes < 1 || l->client_bytes < 1 || l->evict_idle_sec < 1)
        return NULL;
    while (nb < l->max_episodes && nb < (1u << 20))
        nb *= 2;
    s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->buckets = calloc(nb, sizeof(*s->buckets));
    s->budget = budget_new();
    if (!s->buckets || !s->budget) {
        free(s->buckets);
        free(s->budget);
        free(s);
        return NULL;
    }
    s->nbuckets = nb;
    s->lim = *l;
    s->idle_us = (long long)l->idle_sec * 1000000LL;
    s->evict_idle_us = (long long)l->evict_idle_sec * 1000000LL;
    s->clock = clock ? clock : tg_now_us;
    pthread_mutex_init(&s->mu, NULL);
    return s;
}

/* ---- clients (caller holds s->mu) ---- */

static struct ep_client **client_slot(struct episode_store *s, const char *key) {
    struct ep_client **pp = &s->clients[(size_t)hash_tg_str(key) & (CLIENT_BUCKETS - 1)];

    while (*pp && strcmp((*pp)->key, key) != 0)
        pp = &(*pp)->hnext;
    return pp;
}

/* The client's record, created if absent (NULL on ENOMEM). */
static struct ep_client *client_get(struct episode_store *s, const char *key) {
    struct ep_client **pp = client_slot(s, key);

    if (!*pp) {
        *pp = calloc(1, sizeof(**pp));
        if (*pp)
            tg_copy_cut((*pp)->key, sizeof((*pp)->key), key);
    }
    return *pp;
}

/* Free a client record that holds no episode. */
static void client_forget(struct episode_store *s, struct ep_client *c) {
    struct ep_client **pp = client_slot(s, c->key);

    TG_ASSERT(*pp == c && c->episodes == 0 && c->bytes == 0);
    *pp = c->hnext;
    free(c);
}

/* Count ep's current bytes against its client. */
static void client_sync(struct episode *ep) {
    size_t b = atomic_load_explicit(&ep->bytes, memory_order_relaxed);

    ep->client->bytes += b - ep->charged;
    ep->charged = b;
}

/* ---- membership (caller holds s->mu) ---- */

static void gauges(struct episode_store *s) {
    metrics_set("toolgym_episodes_in_memory", "", (double)s->count);
    metrics_set("toolgym_episode_bytes", "",
                (double)atomic_load_explicit(&s->budget->bytes, memory_order_relaxed));
}

/* Unlink ep from the map, its lists and its client, and drop the store's reference. */
static void store_drop(struct episode_store *s, struct episode *ep) {
    struct episode **pp = &s->buckets[(size_t)hash_tg_str(ep->id) & (s->nbuckets - 1)];
    struct ep_client *c = ep->client;

    while (*pp && *pp != ep)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = ep->hnext;
    ep->hnext = NULL;
    list_unlink(ep->on_finished ? &s->finished : &s->active, ep, 0);
    list_unlink(ep->on_finished ? &c->finished : &c->active, ep, 1);
    c->bytes -= ep->charged;
    c->episodes--;
    if (!ep->on_finished)
        c->unfinished--;
    if (c->episodes == 0)
        client_forget(s, c);
    ep->client = NULL;
    ep->charged = 0;
    ep->in_store = 0;
    s->count--;
    episode_put(ep);
    gauges(s);
}

/* Expire idle unfinished episodes. */
static size_t store_expire(struct episode_store *s, long long now) {
    size_t n = 0;

    while (s->active.head && now - s->active.head->touched_us >= s->idle_us) {
        store_drop(s, s->active.head);
        n++;
    }
    if (n)
        metrics_inc("toolgym_episodes_expired_total", "", (double)n);
    return n;
}

/* Move ep to the tail of its unfinished lists (it was just touched). */
static void store_touch(struct episode_store *s, struct episode *ep, long long now) {
    ep->touched_us = now;
    if (!ep->on_finished) {
        list_unlink(&s->active, ep, 0);
        list_push(&s->active, ep, 0);
        list_unlink(&ep->client->active, ep, 1);
        list_push(&ep->client->active, ep, 1);
    }
}

/* ---- eviction under pressure (caller holds s->mu) ---- */

enum { ANY_EPISODE, UNFINISHED_ONLY };

/*
 * Evict one episode to relieve pressure: of client c (or of the whole store when c is NULL),
 * the oldest finished one (unless `which` is UNFINISHED_ONLY), else the least recently touched
 * unfinished one if it has been idle for evict_idle_sec. Returns 1 if one was evicted.
 */
static int evict_one(struct episode_store *s, struct ep_client *c, int which, long long now) {
    struct episode *fin = c ? c->finished.head : s->finished.head;
    struct episode *idle = c ? c->active.head : s->active.head;

    if (which == ANY_EPISODE && fin) {
        store_drop(s, fin);
        metrics_inc("toolgym_episodes_evicted_total", "", 1);
        return 1;
    }
    if (idle && now - idle->touched_us >= s->evict_idle_us) {
        store_drop(s, idle);
        metrics_inc("toolgym_episodes_evicted_unfinished_total", "", 1);
        return 1;
    }
    return 0;
}

static size_t budget_bytes(const struct episode_store *s) {
    return atomic_load_explicit(&s->budget->bytes, memory_order_relaxed);
}

/*
 * Make room for `need` more bytes (and, when adding, one more episode) for the client with
 * this key. Returns 0, TG_ERANGE (the client's quota) or TG_EBUSY (the store's limits).
 */
static int make_room(struct episode_store *s, const char *key, size_t need, size_t need_actual,
                     int adding, long long now) {
    /* a client share as large as the store's own limit is no quota: the store's limit answers */
    int count_quota = s->lim.client_episodes < s->lim.max_episodes;
    int byte_quota = s->lim.client_bytes < s->lim.max_bytes;
    struct ep_client *c;

    if (byte_quota && need > s->lim.client_bytes)
        return TG_ERANGE;
    while ((c = *client_slot(s, key)) != NULL) {
        if (count_quota && adding && c->unfinished >= s->lim.client_episodes) {
            if (!evict_one(s, c, UNFINISHED_ONLY, now))
                return TG_ERANGE;
        } else if (byte_quota && c->bytes + need > s->lim.client_bytes) {
            if (!evict_one(s, c, ANY_EPISODE, now))
                return TG_ERANGE;
        } else {
            break;
        }
    }
    while ((adding && s->count >= s->lim.max_episodes) ||
           budget_bytes(s) + need_actual > s->lim.max_bytes)
        if (!evict_one(s, NULL, ANY_EPISODE, now))
            return TG_EBUSY;
    return 0;
}

static void refused(int rc) {
    metrics_inc(rc == TG_ERANGE ? "toolgym_episodes_quota_refused_total"
                                : "toolgym_episodes_refused_total",
                "", 1);
}

/* ---- the API ---- */

void episode_store_free(struct episode_store *s) {
    if (!s)
        return;
    while (s->active.head)
        store_drop(s, s->active.head);
    while (s->finished.head)
        store_drop(s, s->finished.head);
    pthread_mutex_destroy(&s->mu);
    budget_release(s->budget, 0);
    free(s->buckets);
    free(s);
}

int episode_store_add(struct episode_store *s, struct episode *ep, const char *client) {
    long long now = s->clock();
    char key[TG_CLIENT_KEY_MAX + 1];
    size_t need = atomic_load_explicit(&ep->bytes, memory_order_relaxed);
    struct ep_client *c;
    size_t b;
    int rc;

    tg_copy_cut(key, sizeof(key), client);
    pthread_mutex_lock(&s->mu);
    TG_ASSERT(!ep->in_store && !ep->budget);
    store_expire(s, now);
    rc = make_room(s, key, need, episode_struct_bytes(ep->max_steps), 1, now);
    c = rc ? NULL : client_get(s, key);
    if (!c) {
        pthread_mutex_unlock(&s->mu);
        if (rc)
            refused(rc);
        return rc ? rc : TG_ENOMEM;
    }
    episode_ref(ep);
    ep->budget = budget_charge(s->budget, episode_struct_bytes(ep->max_steps));
    b = (size_t)hash_tg_str(ep->id) & (s->nbuckets - 1);
    ep->hnext = s->buckets[b];
    s->buckets[b] = ep;
    ep->in_store = 1;
    ep->touched_us = now;
    ep->on_finished = 0;
    ep->client = c;
    ep->charged = 0;
    c->episodes++;
    c->unfinished++;
    client_sync(ep);
    list_push(&s->active, ep, 0);
    list_push(&c->active, ep, 1);
    s->count++;
    gauges(s);
    pthread_mutex_unlock(&s->mu);
    /* a fork of a finished prefix is still open; an episode added already done (never in
     * practice) is moved to the finished list by the caller through episode_store_update */
    return 0;
}

int episode_store_admit(struct episode_store *s, struct episode *ep) {
    long long now = s->clock();
    char key[TG_CLIENT_KEY_MAX + 1];
    int rc = 0;

    pthread_mutex_lock(&s->mu);
    if (ep->in_store) {
        client_sync(ep);
        tg_copy_cut(key, sizeof(key), ep->client->key);
        ep->touched_us = now; /* never its own victim */
        rc = make_room(s, key, 1, 1, 0, now);
    }
    pthread_mutex_unlock(&s->mu);
    if (rc)
        refused(rc);
    return rc;
}

void episode_store_update(struct episode_store *s, struct episode *ep) {
    int done = episode_done(ep);

    pthread_mutex_lock(&s->mu);
    if (ep->in_store) {
        client_sync(ep);
        if (done && !ep->on_finished) {
            list_unlink(&s->active, ep, 0);
            list_unlink(&ep->client->active, ep, 1);
            ep->on_finished = 1;
            ep->client->unfinished--;
            list_push(&s->finished, ep, 0);
            list_push(&ep->client->finished, ep, 1);
        }
        gauges(s);
    }
    pthread_mutex_unlock(&s->mu);
}

static struct episode *store_find(struct episode_store *s, const char *id) {
    struct episode *ep = s->buckets[(size_t)hash_tg_str(id) & (s->nbuckets - 1)];

    while (ep && strcmp(ep->id, id) != 0)
        ep = ep->hnext;
    return ep;
}

struct episode *episode_store_get(struct episode_store *s, const char *id) {
    long long now = s->clock();
    struct episode *ep;

    pthread_mutex_lock(&s->mu);
    store_expire(s, now);
    ep = store_find(s, id);
    if (ep) {
        episode_ref(ep);
        store_touch(s, ep, now);
    }
    pthread_mutex_unlock(&s->mu);
    return ep;
}

int episode_store_remove(struct episode_store *s, const char *id) {
    struct episode *ep;

    pthread_mutex_lock(&s->mu);
    ep = store_find(s, id);
    if (ep)
        store_drop(s, ep);
    pthread_mutex_unlock(&s->mu);
    return ep ? 0 : TG_ENOTFOUND;
}

size_t episode_store_count(struct episode_store *s) {
    size_t n;

    pthread_mutex_lock(&s->mu);
    n = s->count;
    pthread_mutex_unlock(&s->mu);
    return n;
}

size_t episode_store_bytes(struct episode_store *s) {
    return budget_bytes(s);
}

void episode_store_client(struct episode_store *s, const char *client, size_t *unfinished,
                          size_t *bytes) {
    char key[TG_CLIENT_KEY_MAX + 1];
    struct ep_client *c;

    tg_copy_cut(key, sizeof(key), client);
    pthread_mutex_lock(&s->mu);
    c = *client_slot(s, key);
    *unfinished = c ? c->unfinished : 0;
    *bytes = c ? c->bytes : 0;
    pthread_mutex_unlock(&s->mu);
}

size_t episode_store_expire(struct episode_store *s) {
    long long now = s->clock();
    size_t n;

    pthread_mutex_lock(&s->mu);
    n = store_expire(s, now);
    pthread_mutex_unlock(&s->mu);
    return n;
}
