/*
 * api_episodes.c — handlers for GET /v1/tasks, the episode routes and GET /v1/report.
 *
 * Requests are checked strictly (unknown fields and query parameters are 400
 * invalid_request); a tool call inside an episode is always a step — an unknown tool or
 * arguments that break the tool's schema are judged `malformed`, never an HTTP error. Slow
 * tools (run_code) run on the run queue through http_defer. When a step ends an episode, the
 * episode is moved to the store's finished list, counted in the report and appended to the
 * trajectory log before the reply is sent. It does not judge (judge.c), keep episodes
 * (episode.c) or render reports (report.c).
 */
#include "server/api_episodes.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "tools/tools.h"
#include "server/api.h"
#include "server/episode.h"
#include "base/jsonw.h"
#include "base/json_util.h"
#include "base/limits.h"
#include "base/metrics.h"
#include "base/num.h"
#include "base/rng.h"
#include "server/report.h"
#include "server/reward.h"
#include "server/status.h"
#include "server/task.h"
#include "server/trajlog.h"

/* ---- helpers --------------------------------------------------------------------------- */

/* 0 if every query parameter is in allowed[0..n); else fills a 400 and returns -1. */
static int check_query(struct http_req *rq, struct http_reply *rp, const char *const *allowed,
                       size_t n) {
    for (size_t i = 0; i < rq->nquery; i++) {
        size_t k = 0;

        while (k < n && strcmp(rq->query[i].key, allowed[k]) != 0)
            k++;
        if (k == n) {
            http_error(rp, 400, "invalid_request", "Unknown query parameter \"%.60s\".",
                       rq->query[i].key);
            return -1;
        }
    }
    return 0;
}

/* Parse an optional non-negative decimal query parameter within [lo, hi]. */
static int query_long(struct http_req *rq, struct http_reply *rp, const char *key, long lo, long hi,
                      long *out) {
    const char *v = http_query(rq, key);

    if (!v)
        return 0;
    if (num_long(v, lo, hi, out)) {
        http_error(rp, 400, "invalid_request",
                   "Query parameter \"%s\" must be an integer in "
                   "%ld..%ld.",
                   key, lo, hi);
        return -1;
    }
    return 0;
}

/* 404 for an unknown episode id. On a server with a node name, an id naming another node was
 * sent here by a misconfigured balancer: the message says so, naming both. */
static int not_found_episode(struct http_req *rq, struct http_reply *rp, const char *id) {
    const char *node = rq->srv->cfg.node, *dash = strchr(id, '-');

    if (node && dash && dash > id && (size_t)(dash - id) <= TG_NODE_NAME_MAX &&
        (strncmp(id, node, (size_t)(dash - id)) != 0 || node[dash - id] != '\0'))
        return http_error(rp, 404, "not_found",
                          "No episode \"%.60s\" here: its id names node \"%.*s\", this server is "
                          "node \"%s\" (misrouted: see docs/operations.md).",
                          id, (int)(dash - id), id, node);
    return http_error(rp, 404, "not_found",
                      "No episode \"%.40s\" (unknown, deleted, evicted or "
                      "expired).",
                      id);
}

/* The body of a create or fork reply, written straight as the HTTP layer renders JSON (ASCII),
 * with the tool list as rendered at start: {"episode_id","task":{"id","prompt"},
 * "instructions","tools","max_steps","step","done":false,"feedback"}. New text, or NULL. */
static char *created_text(struct server *s, struct episode *ep) {
    const struct task *t = ep->task;
    struct dbuf b;
    int rc;

    dbuf_init(&b, (size_t)-1 / 2);
    rc = dbuf_add_str(&b, "{\"episode_id\":");
    if (rc == 0)
        rc = jsonw_string(&b, ep->id, strlen(ep->id), JSONW_ASCII);
    if (rc == 0)
        rc = dbuf_add_str(&b, ",\"task\":{\"id\":");
    if (rc == 0)
        rc = jsonw_string(&b, t->id, strlen(t->id), JSONW_ASCII);
    if (rc == 0)
        rc = dbuf_add_str(&b, ",\"prompt\":");
    if (rc == 0)
        rc = jsonw_string(&b, t->prompt, strlen(t->prompt), JSONW_ASCII);
    if (rc == 0)
        rc = dbuf_add_str(&b, "},\"instructions\":");
    if (rc == 0)
        rc = dbuf_add_str(&b, s->instructions_ascii); /* judge_answer_format, rendered once */
    if (rc == 0)
        rc = dbuf_add_str(&b, ",\"tools\":");
    if (rc == 0)
        rc = dbuf_add_str(&b, s->tools_text_ascii);
    if (rc == 0)
        rc = dbuf_add_str(&b, ",\"max_steps\":");
    if (rc == 0)
        rc = jsonw_int(&b, ep->max_steps);
    if (rc == 0)
        rc = dbuf_add_str(&b, ",\"step\":");
    if (rc == 0)
        rc = jsonw_int(&b, (long long)ep->nsteps);
    if (rc == 0)
        rc = dbuf_add_str(&b, ep->feedback ? ",\"done\":false,\"feedback\":\"judge\"}"
                                           : ",\"done\":false,\"feedback\":\"none\"}");
    if (rc) {
        dbuf_free(&b);
        return NULL;
    }
    return dbuf_take(&b, NULL);
}

/* Fill *rp with the refusal of a store call: 429 for the client's quota, 503 for the store. */
static int store_refused(struct http_reply *rp, int rc, const char *what) {
    rp->retry_after = TG_RUN_RETRY_AFTER_SEC;
    if (rc == TG_ERANGE)
        return http_error(rp, 429, "quota_exceeded",
                          "This client holds its share of the episode store; finish or delete "
                          "episodes, or retry %s later.",
                          what);
    if (rc == TG_EBUSY)
        return http_error(rp, 503, "overloaded",
                          "The episode store is full of live episodes; retry %s later.", what);
    rp->retry_after = 0;
    return http_error(rp, 500, "internal", "Out of memory storing the episode.");
}

/* Add a new episode (steals ep's reference) to the store for the requesting client and reply
 * 201 with it, or 429/503 when there is no room. `forked` counts it as a fork too. The report
 * counts it as started (first attempt, retry or fork, a fork with its prefix's calls) once it
 * is stored. */
static int store_and_reply(struct http_req *rq, struct episode *ep, int forked,
                           struct http_reply *rp) {
    struct server *s = rq->srv;
    char client[TG_CLIENT_KEY_MAX + 1];
    int rc, attempt;

    http_client_id(rq, client, sizeof(client));
    if (s->cfg.node)
        episode_set_node(ep, s->cfg.node);
    rc = episode_store_add(s->episodes, ep, client);
    if (rc) {
        episode_put(ep);
        return store_refused(rp, rc, "the episode");
    }
    /* a fork counts its prefix's calls as its own (report_start_fork): its per-episode
     * numbers are those of a fresh episode making the same calls */
    attempt =
        forked ? report_start_fork(s->report, ep) : report_start(s->report, ep->task, ep->tag, 0);
    pthread_mutex_lock(&ep->mu);
    ep->attempt = attempt;
    pthread_mutex_unlock(&ep->mu);
    metrics_inc("toolgym_episodes_started_total", "", 1);
    if (forked)
        metrics_inc("toolgym_episodes_forked_total", "", 1);
    http_json_text(rp, 201, created_text(s, ep));
    episode_put(ep);
    return 0;
}

#define TRAJ_LINE_ROOM (8192 - 1) /* bytes reserved for a trajectory line (dbuf adds the NUL) */

/* Everything that happens once a step is committed: the store counts its bytes, the report
 * its call; and once when an episode ends. */
static void after_step(struct server *s, struct episode *ep, int finished) {
    struct episode_summary sum;
    struct episode_step *st = episode_last_step(ep);
    char labels[96];

    episode_store_update(s->episodes, ep);
    if (st && !st->is_answer)
        report_step(s->report, ep->task, ep->tag, ep->attempt, st->label,
                    episode_step_judged_on_args(st));
    episode_step_put(st);
    if (!finished)
        return;
    episode_summarize(ep, &sum);
    report_add(s->report, &sum);
    status_recent_push(s->recent, ep);
    if (s->trajlog) {
        struct dbuf line; /* written straight, the tool list spliced in as rendered at start */

        dbuf_init(&line, (size_t)-1 / 2);
        /* room for a typical line at once (an 8-step calculator episode writes ~5.6 kB): one
         * allocation, not a doubling from 256 bytes; a failure here shows as the write's */
        (void)dbuf_room(&line, TRAJ_LINE_ROOM);
        if (episode_trajectory_write(ep, &line, s->tools_text) != 0 ||
            trajlog_append(s->trajlog, line.p, line.len) != 0)
            fprintf(stderr, "toolgym: episode %s: could not append to the trajectory log\n",
                    ep->id);
        dbuf_free(&line);
    }
    labels[0] = '\0';
    metrics_inc("toolgym_episodes_finished_total",
                metrics_label(labels, sizeof(labels), "outcome", episode_outcome_name(ep->outcome)),
                1);
}

/* ---- tasks ----------------------------------------------------------------------------- */

int api_tasks_list(struct http_req *rq, struct http_reply *rp) {
    static const char *const allowed[] = {"split", "offset", "limit"};
    const struct task_set *ts = rq->srv->tasks;
    const char *split = http_query(rq, "split");
    long offset = 0, limit = 100;
    json_t *arr;
    size_t total;

    if (check_query(rq, rp, allowed, TG_ARRAY_LEN(allowed)) ||
        query_long(rq, rp, "offset", 0, TG_TASKS_MAX, &offset) ||
        query_long(rq, rp, "limit", 1, TG_TASK_LIMIT_MAX, &limit))
        return 0;
    total = split ? task_set_split_count(ts, split) : task_set_count(ts);
    arr = json_array();
    if (!arr)
        return http_error(rp, 500, "internal", "Out of memory.");
    for (size_t i = (size_t)offset; i < total && i < (size_t)offset + (size_t)limit; i++) {
        const struct task *t = split ? task_set_split_at(ts, split, i) : task_set_at(ts, i);

        if (json_array_append_new(arr, task_public_json(t))) {
            json_decref(arr);
            return http_error(rp, 500, "internal", "Out of memory.");
        }
    }
    return http_json(rp, 200, json_pack("{s:o, s:I}", "tasks", arr, "total", (json_int_t)total));
}

/* ---- create ---------------------------------------------------------------------------- */

/* Pick the task of a create request; fills a 4xx on error and returns NULL. */
static const struct task *pick_task(struct http_req *rq, struct http_reply *rp, json_t *body) {
    const struct task_set *ts = rq->srv->tasks;
    const char *task_id = json_string_value(json_object_get(body, "task_id"));
    const char *split = json_string_value(json_object_get(body, "split"));
    json_t *seed = json_object_get(body, "seed");
    const struct task *t;
    uint64_t r;
    size_t n;

    if (task_id) {
        t = task_set_find(ts, task_id);
        if (!t) {
            http_error(rp, 404, "not_found", "No task \"%.64s\".", task_id);
            return NULL;
        }
        if (split && strcmp(split, t->split) != 0) {
            http_error(rp, 400, "invalid_request",
                       "Task \"%.64s\" is in split \"%.64s\", not "
                       "\"%.64s\".",
                       task_id, t->split, split);
            return NULL;
        }
        return t;
    }
    if (!split)
        split = "train";
    n = task_set_split_count(ts, split);
    if (n == 0) {
        http_error(rp, 404, "not_found", "No tasks in split \"%.64s\".", split);
        return NULL;
    }
    if (seed) {
        r = rng_mix64((uint64_t)json_integer_value(seed));
    } else if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
        r = (uint64_t)tg_now_us();
    }
    return task_set_split_at(ts, split, (size_t)(r % n));
}

int api_episode_create(struct http_req *rq, struct http_reply *rp) {
    static const struct jsonu_field fields[] = {
        {"task_id", JSON_STRING, 0},    {"split", JSON_STRING, 0},       {"seed", JSON_INTEGER, 0},
        {"max_steps", JSON_INTEGER, 0}, {"reward_mode", JSON_STRING, 0}, {"tag", JSON_STRING, 0},
        {"feedback", JSON_STRING, 0},
    };
    struct server *s = rq->srv;
    json_t *body = rq->json, *empty = NULL;
    const struct task *t;
    struct episode *ep = NULL;
    struct tg_error err;
    enum reward_mode mode = s->reward->mode;
    const char *mode_s, *tag, *feedback;
    json_int_t max_steps = TG_MAX_STEPS_DEFAULT;
    int rc, judged = 0;

    if (!body)
        body = empty = json_object();
    if (jsonu_check_fields(body, fields, TG_ARRAY_LEN(fields), "body", &err)) {
        json_decref(empty);
        return http_error_tg(rp, 400, &err);
    }
    if (json_object_get(body, "max_steps")) {
        max_steps = json_integer_value(json_object_get(body, "max_steps"));
        if (max_steps < 1 || max_steps > TG_MAX_STEPS_LIMIT) {
            json_decref(empty);
            return http_error(rp, 400, "invalid_request", "\"max_steps\" must be 1..%d.",
                              TG_MAX_STEPS_LIMIT);
        }
    }
    mode_s = json_string_value(json_object_get(body, "reward_mode"));
    if (mode_s && reward_mode_parse(mode_s, &mode) != 0) {
        json_decref(empty);
        return http_error(rp, 400, "invalid_request",
                          "\"reward_mode\" must be \"judge\", \"torl\" or \"otc\".");
    }
    feedback = json_string_value(json_object_get(body, "feedback"));
    if (feedback && strcmp(feedback, "judge") != 0 && strcmp(feedback, "none") != 0) {
        json_decref(empty);
        return http_error(rp, 400, "invalid_request",
                          "\"feedback\" must be \"none\" (what an agent may see) or \"judge\" "
                          "(labels, rewards and correctness, for trainers and logs).");
    }
    judged = feedback && strcmp(feedback, "judge") == 0;
    tag = json_string_value(json_object_get(body, "tag"));
    if (tag && strlen(tag) > TG_TAG_MAX) {
        json_decref(empty);
        return http_error(rp, 400, "invalid_request", "\"tag\" is longer than %d bytes.",
                          TG_TAG_MAX);
    }
    t = pick_task(rq, rp, body);
    if (!t) {
        json_decref(empty);
        return 0;
    }
    rc = episode_new(t, s->reward, mode, (int)max_steps, tag, &ep);
    json_decref(empty); /* tag and mode_s are not used past this point */
    if (rc)
        return http_error(rp, 500, "internal", "Cannot create the episode.");
    ep->feedback = judged;
    return store_and_reply(rq, ep, 0, rp);
}

/* ---- step ------------------------------------------------------------------------------ */

/* A tool call inside an episode, possibly running on the run queue. */
struct step_job {
    struct server *srv;
    struct episode *ep; /* own reference; the step is reserved (busy) */
    const struct tool *tool;
    json_t *action;   /* own reference: the request's tool_call object */
    const char *name; /* its "name" and "arguments", looked up once (owned by action) */
    json_t *args;
    struct tg_cancel *cancel; /* the deferred request's token (borrowed) or NULL */
    struct tool_result res;
    struct tg_error err;
    int rc;
};

static void step_job_free(struct step_job *j) {
    if (!j)
        return;
    episode_put(j->ep);
    json_decref(j->action);
    tool_result_clear(&j->res);
    free(j);
}

/* A step job the run queue refused: no step was taken (a runq_job_fn for http_run_job). */
static void step_job_drop(void *p) {
    struct step_job *j = p;

    episode_step_abort(j->ep);
    step_job_free(j);
}

static void step_job_work(void *p) {
    struct step_job *j = p;

    j->rc = api_invoke_tool(j->tool, j->args, j->cancel, &j->res, &j->err);
}

/* The observation of a call that never reached a tool. */
static json_t *failed_observation(const char *code, const char *msg) {
    char m[TG_ERR_MSG_MAX], content[TG_ERR_MSG_MAX + 16];

    snprintf(m, sizeof(m), "%s", msg);
    jsonu_utf8_scrub(m); /* it may quote a name cut to a byte count */
    snprintf(content, sizeof(content), "error: %s", m);
    return json_pack("{s:b, s:s, s:{s:s, s:s}}", "ok", 0, "content", content, "error", "code", code,
                     "message", m);
}

/* Commit a finished tool job as a step and fill the reply. */
static int step_commit(struct step_job *j, struct http_reply *rp) {
    struct dbuf reply; /* the step's reply, written straight (replies have no bound of their own) */
    int finished = 0, rc;

    if (j->rc == TG_ECANCELED) { /* the client went away: as if the step never came */
        episode_step_abort(j->ep);
        return http_error_tg(rp, HTTP_CLIENT_CLOSED, &j->err);
    }
    if (j->rc && j->rc != TG_EINVAL) {
        episode_step_abort(j->ep);
        return http_error(rp, 500, "internal", "The tool failed internally.");
    }
    dbuf_init(&reply, (size_t)-1 / 2);
    if (j->rc == TG_EINVAL) /* the arguments failed the tool's schema */
        rc = episode_step_call_text(j->ep, j->name, j->args, JUDGE_BAD_ARGS, NULL,
                                    failed_observation("invalid_arguments", j->err.message), &reply,
                                    &finished);
    else /* the tool's response, kept by the step as its parts */
        rc = episode_step_call_result(j->ep, j->name, j->args,
                                      j->res.ok ? JUDGE_TOOL_OK : JUDGE_TOOL_FAILED, &j->res,
                                      &reply, &finished);
    after_step(j->srv, j->ep, finished);
    if (rc) {
        dbuf_free(&reply);
        return http_error(rp, 500, "internal", "Out of memory recording the step.");
    }
    return http_json_text(rp, 200, dbuf_take(&reply, NULL));
}

static int step_finish(struct http_req *rq, struct http_reply *rp) {
    struct step_job *j = rq->async_arg;

    step_commit(j, rp);
    step_job_free(j);
    return 0;
}

/* Validate a step body; fills a 400 and returns -1 on a bad shape. */
static int check_step_body(json_t *body, struct http_reply *rp) {
    static const struct jsonu_field fields[] = {{"tool_call", JSON_OBJECT, 0},
                                                {"answer", JSON_STRING, 0}};
    static const struct jsonu_field tc_fields[] = {{"name", JSON_STRING, 1},
                                                   {"arguments", JSONU_ANY, 1}};
    struct jsonu_fault fault;
    struct tg_error err;
    json_t *tc;

    if (!body)
        return http_error(rp, 400, "invalid_request",
                          "A JSON body with \"tool_call\" or \"answer\" is required."),
               -1;
    if (jsonu_check_fields(body, fields, TG_ARRAY_LEN(fields), "body", &err))
        return http_error_tg(rp, 400, &err), -1;
    tc = json_object_get(body, "tool_call");
    if (!tc == !json_object_get(body, "answer"))
        return http_error(rp, 400, "invalid_request",
                          "Give exactly one of \"tool_call\" and \"answer\"."),
               -1;
    if (!tc) {
        if (strlen(json_string_value(json_object_get(body, "answer"))) > TG_ANSWER_MAX_BYTES)
            return http_error(rp, 400, "invalid_request", "\"answer\" is longer than %d bytes.",
                              TG_ANSWER_MAX_BYTES),
                   -1;
        return 0;
    }
    /* arguments of any type are accepted here: a bad shape is the agent's mistake, judged
     * malformed, not a 400 */
    if (jsonu_find_fault(tc, tc_fields, TG_ARRAY_LEN(tc_fields), 0, &fault) == 0)
        return 0;
    if (fault.kind == JSONU_UNKNOWN)
        return http_error(rp, 400, "invalid_request", "Unknown field \"%.64s\" in the tool_call.",
                          fault.key),
               -1;
    return http_error(rp, 400, "invalid_request",
                      "The tool_call needs \"name\" (a string) and \"arguments\"."),
           -1;
}

int api_episode_step(struct http_req *rq, struct http_reply *rp) {
    struct server *s = rq->srv;
    json_t *tc, *reply = NULL;
    struct episode *ep;
    struct step_job *j;
    int rc, finished = 0;

    if (check_step_body(rq->json, rp))
        return 0;
    ep = episode_store_get(s->episodes, rq->params[0]);
    if (!ep)
        return not_found_episode(rq, rp, rq->params[0]);
    rc = episode_step_begin(ep);
    if (rc == TG_ESTATE) {
        episode_put(ep);
        return http_error(rp, 409, "episode_done", "The episode is done; no more steps.");
    }
    if (rc == TG_EBUSY) {
        episode_put(ep);
        return http_error(rp, 409, "episode_busy",
                          "Another step of this episode is in progress; steps are sequential.");
    }
    tc = json_object_get(rq->json, "tool_call");
    if (!tc) {
        rc = episode_step_answer(ep, json_string_value(json_object_get(rq->json, "answer")), &reply,
                                 &finished);
        after_step(s, ep, finished);
        episode_put(ep);
        if (rc)
            return http_error(rp, 500, "internal", "Out of memory recording the step.");
        return http_json(rp, 200, reply);
    }
    /* a tool call must fit in the client's share and the store (an answer, small and the way to
     * make an episode evictable, always may) */
    rc = episode_store_admit(s->episodes, ep);
    if (rc) {
        episode_step_abort(ep);
        episode_put(ep);
        return store_refused(rp, rc, "the step");
    }
    j = calloc(1, sizeof(*j));
    if (!j) {
        episode_step_abort(ep);
        episode_put(ep);
        return http_error(rp, 500, "internal", "Out of memory.");
    }
    j->srv = s;
    j->ep = ep; /* the job takes our reference */
    j->action = json_incref(tc);
    j->name = json_string_value(json_object_get(tc, "name"));
    j->args = json_object_get(tc, "arguments");
    j->tool = tools_find(j->name);
    if (!j->tool || !json_is_object(j->args)) {
        json_t *obs = j->tool ? failed_observation("invalid_arguments",
                                                   "The arguments must be a JSON object.")
                              : NULL;
        char msg[TG_ERR_MSG_MAX];

        if (!j->tool) {
            /* the name cut to 64 bytes on a character boundary: the message must stay UTF-8 */
            snprintf(msg, sizeof(msg), "There is no tool named \"%.*s\".",
                     (int)jsonu_utf8_prefix(j->name, strlen(j->name), TG_TOOL_NAME_KEEP), j->name);
            obs = failed_observation("unknown_tool", msg);
        }
        rc = episode_step_call(ep, j->name, j->args, j->tool ? JUDGE_BAD_ARGS : JUDGE_UNKNOWN_TOOL,
                               NULL, obs, &reply, &finished);
        after_step(s, ep, finished);
        step_job_free(j);
        if (rc)
            return http_error(rp, 500, "internal", "Out of memory recording the step.");
        return http_json(rp, 200, reply);
    }
    j->cancel = &rq->cancel; /* fires if the client leaves before the reply (a queued job) */
    return http_run_job(rq, rp, j->tool->async, step_job_work, j, step_finish, step_job_drop);
}

/* ---- fork, get, delete ----------------------------------------------------------------- */

int api_episode_fork(struct http_req *rq, struct http_reply *rp) {
    static const struct jsonu_field fields[] = {{"at", JSON_INTEGER, 1}};
    struct server *s = rq->srv;
    struct episode *src, *ep = NULL;
    struct tg_error err;
    int rc;

    if (!rq->json)
        return http_error(rp, 400, "invalid_request", "A JSON body {\"at\":k} is required.");
    if (jsonu_check_fields(rq->json, fields, TG_ARRAY_LEN(fields), "body", &err))
        return http_error_tg(rp, 400, &err);
    src = episode_store_get(s->episodes, rq->params[0]);
    if (!src)
        return not_found_episode(rq, rp, rq->params[0]);
    rc = episode_fork(src, json_integer_value(json_object_get(rq->json, "at")), &ep, &err);
    episode_put(src);
    if (rc == TG_EINVAL)
        return http_error_tg(rp, 400, &err);
    if (rc)
        return http_error(rp, 500, "internal", "Cannot fork the episode.");
    return store_and_reply(rq, ep, 1, rp);
}

int api_episode_get(struct http_req *rq, struct http_reply *rp) {
    struct episode *ep = episode_store_get(rq->srv->episodes, rq->params[0]);

    if (!ep)
        return not_found_episode(rq, rp, rq->params[0]);
    http_json(rp, 200, episode_json(ep));
    episode_put(ep);
    return 0;
}

int api_episode_delete(struct http_req *rq, struct http_reply *rp) {
    if (episode_store_remove(rq->srv->episodes, rq->params[0]) != 0)
        return not_found_episode(rq, rp, rq->params[0]);
    rp->status = 204;
    return 0;
}

/* ---- report ---------------------------------------------------------------------------- */

int api_report(struct http_req *rq, struct http_reply *rp) {
    static const char *const allowed[] = {"split", "tag", "by"};
    const char *tag = http_query(rq, "tag"), *by = http_query(rq, "by");

    if (check_query(rq, rp, allowed, TG_ARRAY_LEN(allowed)))
        return 0;
    if (tag && strlen(tag) > TG_TAG_MAX)
        return http_error(rp, 400, "invalid_request", "\"tag\" is longer than %d bytes.",
                          TG_TAG_MAX);
    if (by && strcmp(by, "tag") != 0)
        return http_error(rp, 400, "invalid_request",
                          "Query parameter \"by\" must be \"tag\" (a breakdown by task tag).");
    return http_json(rp, 200,
                     report_json(rq->srv->report, http_query(rq, "split"), tag, by != NULL));
}
