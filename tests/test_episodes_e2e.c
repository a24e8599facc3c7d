/*
 * test_episodes_e2e.c — the episode API end to end: a real server on port 0 with the shipped
 * test split, driven over HTTP. The oracle plays every family with 100% accuracy and no
 * penalty label; labels seen over HTTP equal the judge module's labels for the same actions;
 * 64 concurrent keep-alive clients play 100 episodes each and the trajectory log then holds
 * exactly the finished episodes; every bad input of API.md; fork; delete.
 */
#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/eval.h"
#include "server/judge.h"
#include "server/server.h"
#include "server/task.h"
#include "server/trajlog.h"
#include "tg_test.h"

#define TEST_TASKS "data/tasks/test.jsonl"
#define OOD_TASKS  "data/tasks/ood.jsonl"

static struct server *start(const char *traj) {
    struct server_config c;

    server_config_defaults(&c);
    c.quiet = 1;
    c.tasks = TEST_TASKS "," OOD_TASKS;
    c.trajectories = traj;
    c.sync_ms = 50;
    c.unsafe_sandbox = 1; /* run_code works even where namespaces are unavailable */
    return test_server_start(&c);
}

static struct task_set *local_tasks(void) {
    struct task_set *s = task_set_new();
    struct tg_error err;

    if (task_set_load(s, TEST_TASKS, &err) != 0) {
        fprintf(stderr, "%s\n", err.message);
        task_set_free(s);
        return NULL;
    }
    return s;
}

/* One request; returns the status and *out (new JSON or NULL). */
static long req(struct server *s, const char *method, const char *path, const char *body,
                json_t **out) {
    char url[512];
    struct http_resp r;
    long st;

    snprintf(url, sizeof(url), "%s%s", test_server_url(s), path);
    if (test_http(method, url, body, body ? strlen(body) : 0, NULL, NULL, &r) != 0) {
        http_resp_free(&r);
        *out = NULL;
        return -1;
    }
    st = r.status;
    *out = r.len ? json_loads(r.body, 0, NULL) : NULL;
    http_resp_free(&r);
    return st;
}

static const char *err_code(const json_t *j) {
    const char *c = json_string_value(json_object_get(json_object_get(j, "error"), "code"));

    return c ? c : "";
}

static const char *label_of(const json_t *step_reply) {
    const char *l =
        json_string_value(json_object_get(json_object_get(step_reply, "judgement"), "label"));

    return l ? l : "";
}

/* Create a trainer's episode (feedback "judge": replies carry the judgement) from body (a
 * JSON object); returns its id in buf (or "" on failure). */
static void create(struct server *s, const char *body, char *id, size_t n) {
    json_t *j = NULL, *b = json_loads(body, 0, NULL);
    char *text;
    long st;

    CU_ASSERT_FATAL(json_is_object(b));
    json_object_set_new(b, "feedback", json_string("judge"));
    text = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    st = req(s, "POST", "/v1/episodes", text, &j);
    free(text);

    id[0] = '\0';
    CU_ASSERT_EQUAL(st, 201);
    if (st == 201)
        snprintf(id, n, "%s", json_string_value(json_object_get(j, "episode_id")));
    json_decref(j);
}

static long step(struct server *s, const char *id, const char *body, json_t **out) {
    char path[128];

    snprintf(path, sizeof(path), "/v1/episodes/%s/step", id);
    return req(s, "POST", path, body, out);
}

/* First task of a family in the local set. */
static const struct task *first_of(const struct task_set *ts, enum task_family f) {
    for (size_t i = 0; i < task_set_count(ts); i++)
        if (task_set_at(ts, i)->family == f)
            return task_set_at(ts, i);
    return NULL;
}

/* ---- the oracle on every family ------------------------------------------------------- */

/* The oracle plays every task of a split (with its local file) perfectly: every call
 * necessary, every answer correct, and so under every task tag too. */
static void oracle_plays_split(struct server *s, const char *split, const char *file) {
    struct task_set *ts = task_set_new();
    struct eval_options o;
    struct eval_agent a;
    struct tg_error err;
    json_t *rep = NULL, *labels, *v;
    char tag[TG_TAG_MAX + 1];
    int fam[TASK_FAMILY_COUNT] = {0};
    const char *key;

    CU_ASSERT_FATAL(ts != NULL && task_set_load(ts, file, &err) == 0);
    for (size_t i = 0; i < task_set_count(ts); i++)
        fam[task_set_at(ts, i)->family]++;
    for (int f = 0; f < TASK_FAMILY_COUNT; f++)
        CU_ASSERT(fam[f] > 0); /* the split has every family, and the oracle plays all */
    memset(&o, 0, sizeof(o));
    o.server = test_server_url(s);
    o.split = split;
    o.agent = "oracle";
    o.tasks = file;
    snprintf(tag, sizeof(tag), "oracle-%s", split);
    o.tag = tag;
    o.quiet = 1;
    CU_ASSERT_FATAL(eval_agent_new(&o, &a, &err) == 0);
    CU_ASSERT_FATAL(eval_run(&o, &a, &rep, tag, &err) == 0);
    CU_ASSERT_EQUAL((size_t)json_integer_value(json_object_get(rep, "episodes")),
                    task_set_count(ts));
    CU_ASSERT_DOUBLE_EQUAL(json_number_value(json_object_get(rep, "answer_accuracy")), 1.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(json_number_value(json_object_get(rep, "exact_plan_match")), 1.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(json_number_value(json_object_get(rep, "tool_selection_accuracy")), 1.0,
                           1e-12);
    labels = json_object_get(rep, "labels");
    json_object_foreach(labels, key, v) {
        if (strcmp(key, "necessary") == 0 || strcmp(key, "correct") == 0) {
            CU_ASSERT_DOUBLE_EQUAL(json_number_value(v), 1.0, 1e-12);
        } else if (json_number_value(v) != 0.0) {
            fprintf(stderr, "oracle: label %s rate %g\n", key, json_number_value(v));
            CU_FAIL("the oracle got a penalty label");
        }
    }
    CU_ASSERT(json_object_size(json_object_get(rep, "by_tag")) > 20);
    json_object_foreach(json_object_get(rep, "by_tag"), key, v) {
        CU_ASSERT_DOUBLE_EQUAL(json_number_value(json_object_get(v, "answer_accuracy")), 1.0,
                               1e-12);
        CU_ASSERT_DOUBLE_EQUAL(json_number_value(json_object_get(v, "wasted_calls_per_episode")),
                               0.0, 1e-12);
    }
    json_decref(rep);
    task_set_free(ts);
}

TG_TEST(episodes_e2e, oracle_every_family_perfect) {
    struct server *s = start(NULL);
    struct task_set *ts = local_tasks();
    struct eval_options o;
    struct eval_agent a;
    struct tg_error err;
    json_t *rep = NULL;
    char tag[TG_TAG_MAX + 1];

    CU_ASSERT_FATAL(s != NULL && ts != NULL);
    oracle_plays_split(s, "test", TEST_TASKS);
    oracle_plays_split(s, "ood", OOD_TASKS);
    memset(&o, 0, sizeof(o));
    o.server = test_server_url(s);
    o.split = "test";
    o.tasks = TEST_TASKS;
    o.quiet = 1;
    /* the eager agent, by contrast, is wrong on most tasks */
    o.agent = "eager";
    o.tag = "eager-e2e";
    o.episodes = 60;
    CU_ASSERT_FATAL(eval_agent_new(&o, &a, &err) == 0);
    CU_ASSERT_FATAL(eval_run(&o, &a, &rep, tag, &err) == 0);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(rep, "episodes")), 60);
    CU_ASSERT(json_number_value(json_object_get(rep, "answer_accuracy")) < 0.5);
    CU_ASSERT_EQUAL(json_number_value(json_object_get(rep, "calls_per_episode")), 0.0);
    json_decref(rep);
    task_set_free(ts);
    test_server_stop(s);
}

/* ---- judge consistency: replay what the server saw through the judge module ----------- */

struct replay {
    const struct task_set *ts;
    int episodes, steps, mismatches;
};

static enum judge_outcome outcome_of(const json_t *obs) {
    const char *code = json_string_value(json_object_get(json_object_get(obs, "error"), "code"));

    if (json_is_true(json_object_get(obs, "ok")))
        return JUDGE_TOOL_OK;
    if (code && strcmp(code, "unknown_tool") == 0)
        return JUDGE_UNKNOWN_TOOL;
    if (code && strcmp(code, "invalid_arguments") == 0)
        return JUDGE_BAD_ARGS;
    return JUDGE_TOOL_FAILED;
}

static void replay_end(struct eval_agent *a, const struct eval_turn *t, const json_t *final) {
    struct replay *r = a->state;
    const struct task *task = t->task;
    struct judge_state js;
    json_t *steps = json_object_get(final, "steps");
    size_t i;
    json_t *st;

    if (!task)
        return;
    judge_state_init(&js);
    r->episodes++;
    json_array_foreach(steps, i, st) {
        const json_t *act = json_object_get(st, "action");
        const json_t *obs = json_object_get(st, "observation");
        const char *http_label =
            json_string_value(json_object_get(json_object_get(st, "judgement"), "label"));
        struct judge_verdict v;

        if (json_object_get(act, "answer")) {
            judge_answer(task, &js, json_string_value(json_object_get(act, "answer")), &v);
        } else {
            const json_t *tc = json_object_get(act, "tool_call");
            struct judge_call c;

            memset(&c, 0, sizeof(c));
            c.tool = json_string_value(json_object_get(tc, "name"));
            c.args = json_object_get(tc, "arguments");
            c.outcome = outcome_of(obs);
            c.result = c.outcome == JUDGE_TOOL_OK ? json_object_get(obs, "result") : NULL;
            judge_call(task, &js, &c, &v);
        }
        r->steps++;
        if (!http_label || strcmp(http_label, judge_label_name(v.label)) != 0)
            r->mismatches++;
    }
    judge_state_clear(&js);
}

TG_TEST(episodes_e2e, http_labels_equal_judge_labels) {
    struct server *s = start(NULL);
    struct task_set *ts = local_tasks();
    struct eval_options o;
    struct eval_agent a;
    struct tg_error err;
    struct replay r;
    json_t *rep = NULL;
    const char *agents[] = {"random", "overcaller"};

    CU_ASSERT_FATAL(s != NULL && ts != NULL);
    memset(&r, 0, sizeof(r));
    r.ts = ts;
    for (size_t k = 0; k < 2; k++) {
        memset(&o, 0, sizeof(o));
        o.server = test_server_url(s);
        o.split = "test";
        o.agent = agents[k];
        o.tasks = TEST_TASKS;
        o.episodes = 40;
        o.max_steps = 4;
        o.seed = 7;
        o.quiet = 1;
        o.feedback = 1; /* the final GET carries the labels to compare */
        CU_ASSERT_FATAL(eval_agent_new(&o, &a, &err) == 0);
        a.state = &r;
        a.episode_end = replay_end;
        CU_ASSERT_FATAL(eval_run(&o, &a, &rep, NULL, &err) == 0);
        json_decref(rep);
    }
    CU_ASSERT_EQUAL(r.episodes, 80);
    CU_ASSERT(r.steps > 160);
    CU_ASSERT_EQUAL(r.mismatches, 0);
    task_set_free(ts);
    test_server_stop(s);
}

/* ---- 64 concurrent clients ------------------------------------------------------------ */

#define CLIENTS        64
#define EPISODES_EACH  100
#define ABANDON_EVERY  10 /* every 10th episode is left unfinished: it must not be logged */
#define CONC_TASKS_MAX 1024

struct conc {
    const char *url;
    const struct task *tasks[CONC_TASKS_MAX]; /* non-algo tasks (no code runs: fast) */
    size_t ntasks;
};

struct client_out {
    const struct conc *c;
    int idx;
    char ids[EPISODES_EACH][40];
    int nsteps[EPISODES_EACH];
    int finished[EPISODES_EACH];
    int errors;
};

static size_t sink(char *p, size_t size, size_t n, void *ud) {
    struct http_resp *r = ud;
    size_t len = size * n;
    char *nb = realloc(r->body, r->len + len + 1);

    if (!nb)
        return 0;
    memcpy(nb + r->len, p, len);
    r->body = nb;
    r->len += len;
    nb[r->len] = '\0';
    return len;
}

/* POST body on the shared (keep-alive) handle; returns the status and *out. */
static long post(CURL *h, const char *url, json_t *body, json_t **out) {
    struct http_resp r;
    char *text = json_dumps(body, JSON_COMPACT);
    long st = -1;

    memset(&r, 0, sizeof(r));
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, text);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
    *out = r.body ? json_loads(r.body, 0, NULL) : NULL;
    free(r.body);
    free(text);
    return st;
}

static void *client_main(void *p) {
    struct client_out *co = p;
    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    char url[256];

    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    for (int e = 0; e < EPISODES_EACH; e++) {
        const struct task *t = co->c->tasks[(size_t)(co->idx * EPISODES_EACH + e) % co->c->ntasks];
        json_t *body = json_pack("{s:s, s:s}", "task_id", t->id, "tag", "conc"), *r = NULL;
        size_t nexp = t->expert ? json_array_size(t->expert) : 0;
        int abandon = e % ABANDON_EVERY == ABANDON_EVERY - 1;

        snprintf(url, sizeof(url), "%s/v1/episodes", co->c->url);
        if (post(h, url, body, &r) != 201) {
            co->errors++;
            json_decref(body);
            json_decref(r);
            continue;
        }
        json_decref(body);
        snprintf(co->ids[e], sizeof(co->ids[e]), "%s",
                 json_string_value(json_object_get(r, "episode_id")));
        json_decref(r);
        snprintf(url, sizeof(url), "%s/v1/episodes/%s/step", co->c->url, co->ids[e]);
        for (size_t k = 0; k < nexp; k++) {
            const json_t *c = json_array_get(t->expert, k);

            body = json_pack("{s:{s:O, s:O}}", "tool_call", "name", json_object_get(c, "name"),
                             "arguments", json_object_get(c, "arguments"));
            if (post(h, url, body, &r) != 200)
                co->errors++;
            co->nsteps[e]++;
            json_decref(body);
            json_decref(r);
        }
        if (abandon)
            continue;
        body = json_pack("{s:s}", "answer", "0");
        if (post(h, url, body, &r) != 200)
            co->errors++;
        co->nsteps[e]++;
        co->finished[e] = 1;
        json_decref(body);
        json_decref(r);
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return NULL;
}

struct log_check {
    struct client_out *outs;
    int found, unknown, dup, wrong_steps;
    unsigned char *seen; /* CLIENTS * EPISODES_EACH */
};

static int on_traj(const json_t *line, void *ud) {
    struct log_check *lc = ud;
    const char *id = json_string_value(json_object_get(line, "episode_id"));

    if (strcmp(json_string_value(json_object_get(line, "tag")) ?: "", "conc") != 0)
        return 0;
    for (int c = 0; c < CLIENTS; c++)
        for (int e = 0; e < EPISODES_EACH; e++) {
            if (!id || strcmp(lc->outs[c].ids[e], id) != 0)
                continue;
            if (lc->seen[c * EPISODES_EACH + e]++)
                lc->dup++;
            lc->found++;
            if ((int)json_array_size(json_object_get(line, "steps")) != lc->outs[c].nsteps[e])
                lc->wrong_steps++;
            if (!lc->outs[c].finished[e])
                lc->unknown++; /* an unfinished episode was logged */
            return 0;
        }
    lc->unknown++;
    return 0;
}

TG_TEST(episodes_e2e, concurrent_clients_log_exactly_the_finished) {
    char traj[256];
    struct server *s;
    struct task_set *ts = local_tasks();
    static struct conc c;
    struct client_out *outs = calloc(CLIENTS, sizeof(*outs));
    pthread_t th[CLIENTS];
    struct log_check lc;
    struct trajlog_stats st;
    struct tg_error err;
    int finished = 0, errors = 0;
    long long t0;

    snprintf(traj, sizeof(traj), "/tmp/tg_e2e_traj_%d.jsonl", (int)getpid());
    unlink(traj);
    s = start(traj);
    CU_ASSERT_FATAL(s != NULL && ts != NULL && outs != NULL);
    c.url = test_server_url(s);
    c.ntasks = 0;
    for (size_t i = 0; i < task_set_count(ts) && c.ntasks < CONC_TASKS_MAX; i++)
        if (task_set_at(ts, i)->family != TASK_ALGO)
            c.tasks[c.ntasks++] = task_set_at(ts, i);
    t0 = tg_now_us();
    for (int i = 0; i < CLIENTS; i++) {
        outs[i].c = &c;
        outs[i].idx = i;
        pthread_create(&th[i], NULL, client_main, &outs[i]);
    }
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(th[i], NULL);
        errors += outs[i].errors;
        for (int e = 0; e < EPISODES_EACH; e++)
            finished += outs[i].finished[e];
    }
    fprintf(stderr, "  [%d clients x %d episodes in %.2f s]\n", CLIENTS, EPISODES_EACH,
            (double)(tg_now_us() - t0) / 1e6);
    CU_ASSERT_EQUAL(errors, 0);
    CU_ASSERT_EQUAL(finished, CLIENTS * EPISODES_EACH * (ABANDON_EVERY - 1) / ABANDON_EVERY);
    test_server_stop(s); /* closes (and syncs) the log */
    memset(&lc, 0, sizeof(lc));
    lc.outs = outs;
    lc.seen = calloc(CLIENTS * EPISODES_EACH, 1);
    CU_ASSERT(trajlog_read_file(traj, on_traj, &lc, &st, &err) == 0);
    CU_ASSERT_EQUAL(st.lines, (size_t)finished);
    CU_ASSERT_EQUAL(st.torn, 0);
    CU_ASSERT_EQUAL(st.invalid, 0);
    CU_ASSERT_EQUAL(lc.found, finished);
    CU_ASSERT_EQUAL(lc.dup, 0);
    CU_ASSERT_EQUAL(lc.unknown, 0);
    CU_ASSERT_EQUAL(lc.wrong_steps, 0);
    free(lc.seen);
    free(outs);
    task_set_free(ts);
    unlink(traj);
}

/* ---- bad input, fork, delete, tasks, report ------------------------------------------- */

TG_TEST(episodes_e2e, bad_input_and_errors) {
    struct server *s = start(NULL);
    struct task_set *ts = local_tasks();
    const struct task *la;
    char id[64], body[512], path[160], longtag[80];
    json_t *j = NULL;

    CU_ASSERT_FATAL(s != NULL && ts != NULL);
    la = first_of(ts, TASK_LOOKUP_ARITH);
    CU_ASSERT_FATAL(la != NULL);
    /* create: unknown field, bad types and ranges, unknown task, unknown split */
    CU_ASSERT_EQUAL(req(s, "POST", "/v1/episodes", "{\"bogus\":1}", &j), 400);
    CU_ASSERT_STRING_EQUAL(err_code(j), "invalid_request");
    json_decref(j);
    CU_ASSERT_EQUAL(req(s, "POST", "/v1/episodes", "{\"max_steps\":0}", &j), 400);
    json_decref(j);
    CU_ASSERT_EQUAL(req(s, "POST", "/v1/episodes", "{\"max_steps\":\"3\"}", &j), 400);
    json_decref(j);
    CU_ASSERT_EQUAL(req(s, "POST", "/v1/episodes", "{\"reward_mode\":\"best\"}", &j), 400);
    json_decref(j);
    memset(longtag, 'x', 65);
    longtag[65] = '\0';
    snprintf(body, sizeof(body), "{\"split\":\"test\",\"tag\":\"%s\"}", longtag);
    CU_ASSERT_EQUAL(req(s, "POST", "/v1/episodes", body, &j), 400);
    json_decref(j);
    longtag[64] = '\0';
    snprintf(body, sizeof(body), "{\"split\":\"test\",\"tag\":\"%s\"}", longtag);
    CU_ASSERT_EQUAL(req(s, "POST", "/v1/episodes", body, &j), 201);
    json_decref(j);
    CU_ASSERT_EQUAL(req(s, "POST", "/v1/episodes", "{\"task_id\":\"no-such-task\"}", &j), 404);
    CU_ASSERT_STRING_EQUAL(err_code(j), "not_found");
    json_decref(j);
    CU_ASSERT_EQUAL(req(s, "POST", "/v1/episodes", "{\"split\":\"nope\"}", &j), 404);
    json_decref(j);
    /* the same seed draws the same task */
    {
        json_t *a = NULL, *b = NULL;

        req(s, "POST", "/v1/episodes", "{\"split\":\"test\",\"seed\":12345}", &a);
        req(s, "POST", "/v1/episodes", "{\"split\":\"test\",\"seed\":12345}", &b);
        CU_ASSERT(json_equal(json_object_get(a, "task"), json_object_get(b, "task")));
        CU_ASSERT(json_array_size(json_object_get(a, "tools")) >= 3);
        CU_ASSERT_EQUAL(json_integer_value(json_object_get(a, "max_steps")), 8);
        CU_ASSERT(json_object_get(json_object_get(a, "task"), "answer") == NULL);
        /* the agent sees the id and the prompt only */
        CU_ASSERT_EQUAL(json_object_size(json_object_get(a, "task")), 2);
        CU_ASSERT(json_object_get(json_object_get(a, "task"), "family") == NULL);
        json_decref(a);
        json_decref(b);
    }

    snprintf(body, sizeof(body), "{\"task_id\":\"%s\",\"max_steps\":6}", la->id);
    create(s, body, id, sizeof(id));
    /* step: both tool_call and answer, neither, unknown field, bad tool_call shape */
    CU_ASSERT_EQUAL(step(s, id,
                         "{\"answer\":\"1\",\"tool_call\":{\"name\":\"search\","
                         "\"arguments\":{}}}",
                         &j),
                    400);
    CU_ASSERT_STRING_EQUAL(err_code(j), "invalid_request");
    json_decref(j);
    CU_ASSERT_EQUAL(step(s, id, "{}", &j), 400);
    json_decref(j);
    CU_ASSERT_EQUAL(step(s, id, "{\"answer\":\"1\",\"x\":1}", &j), 400);
    json_decref(j);
    CU_ASSERT_EQUAL(step(s, id, "{\"tool_call\":{\"name\":\"search\"}}", &j), 400);
    json_decref(j);
    CU_ASSERT_EQUAL(
        step(s, id, "{\"tool_call\":{\"name\":\"search\",\"arguments\":{},\"k\":1}}", &j), 400);
    json_decref(j);
    /* unknown tool and schema-violating arguments: steps judged malformed */
    CU_ASSERT_EQUAL(step(s, id, "{\"tool_call\":{\"name\":\"teleport\",\"arguments\":{}}}", &j),
                    200);
    CU_ASSERT_STRING_EQUAL(label_of(j), "malformed");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "step")), 1);
    CU_ASSERT(json_is_false(json_object_get(json_object_get(j, "observation"), "ok")));
    json_decref(j);
    CU_ASSERT_EQUAL(
        step(s, id, "{\"tool_call\":{\"name\":\"calculator\",\"arguments\":{\"expr\":1}}}", &j),
        200);
    CU_ASSERT_STRING_EQUAL(label_of(j), "malformed");
    json_decref(j);
    CU_ASSERT_EQUAL(
        step(s, id, "{\"tool_call\":{\"name\":\"calculator\",\"arguments\":\"1+1\"}}", &j), 200);
    CU_ASSERT_STRING_EQUAL(label_of(j), "malformed");
    json_decref(j);
    /* a tool-level failure is malformed too */
    CU_ASSERT_EQUAL(step(s, id,
                         "{\"tool_call\":{\"name\":\"calculator\",\"arguments\":{\"expression\":"
                         "\"1/0\"}}}",
                         &j),
                    200);
    CU_ASSERT_STRING_EQUAL(label_of(j), "malformed");
    json_decref(j);
    /* play the expert's first call, then fork semantics */
    {
        const json_t *c0 = json_array_get(la->expert, 0);
        json_t *b = json_pack("{s:{s:O, s:O}}", "tool_call", "name", json_object_get(c0, "name"),
                              "arguments", json_object_get(c0, "arguments"));
        char *text = json_dumps(b, JSON_COMPACT);
        json_t *orig = NULL, *forked = NULL;
        char fid[64];

        CU_ASSERT_EQUAL(step(s, id, text, &j), 200);
        CU_ASSERT_STRING_EQUAL(label_of(j), "necessary");
        json_decref(j);
        free(text);
        json_decref(b);
        snprintf(path, sizeof(path), "/v1/episodes/%s/fork", id);
        CU_ASSERT_EQUAL(req(s, "POST", path, "{\"at\":6}", &j), 400); /* past the length */
        CU_ASSERT_STRING_EQUAL(err_code(j), "invalid_request");
        json_decref(j);
        CU_ASSERT_EQUAL(req(s, "POST", path, "{\"at\":-1}", &j), 400);
        json_decref(j);
        CU_ASSERT_EQUAL(req(s, "POST", path, "{\"at\":\"5\"}", &j), 400);
        json_decref(j);
        CU_ASSERT_EQUAL(req(s, "POST", path, "{\"at\":5}", &j), 201);
        snprintf(fid, sizeof(fid), "%s", json_string_value(json_object_get(j, "episode_id")));
        CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "step")), 5);
        CU_ASSERT(json_is_false(json_object_get(j, "done")));
        json_decref(j);
        snprintf(path, sizeof(path), "/v1/episodes/%s", id);
        req(s, "GET", path, NULL, &orig);
        snprintf(path, sizeof(path), "/v1/episodes/%s", fid);
        req(s, "GET", path, NULL, &forked);
        CU_ASSERT_EQUAL(json_array_size(json_object_get(forked, "steps")), 5);
        CU_ASSERT(json_equal(json_object_get(orig, "steps"), json_object_get(forked, "steps")));
        CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(forked, "outcome")), "running");
        CU_ASSERT(json_equal(json_object_get(orig, "return"), json_object_get(forked, "return")));
        json_decref(orig);
        json_decref(forked);
        /* the fork plays on: the expert's second call is necessary there too */
        c0 = json_array_get(la->expert, 1);
        b = json_pack("{s:{s:O, s:O}}", "tool_call", "name", json_object_get(c0, "name"),
                      "arguments", json_object_get(c0, "arguments"));
        text = json_dumps(b, JSON_COMPACT);
        CU_ASSERT_EQUAL(step(s, fid, text, &j), 200);
        CU_ASSERT_STRING_EQUAL(label_of(j), "necessary");
        CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "step")), 6);
        CU_ASSERT(json_is_true(json_object_get(j, "done"))); /* max_steps 6: step_limit */
        json_decref(j);
        snprintf(path, sizeof(path), "/v1/episodes/%s", fid);
        req(s, "GET", path, NULL, &forked);
        CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(forked, "outcome")), "step_limit");
        json_decref(forked);
        CU_ASSERT_EQUAL(step(s, fid, "{\"answer\":\"1\"}", &j), 409);
        CU_ASSERT_STRING_EQUAL(err_code(j), "episode_done");
        json_decref(j);
        free(text);
        json_decref(b);
        /* a fork at 0 is a fresh episode of the same task */
        snprintf(path, sizeof(path), "/v1/episodes/%s/fork", id);
        CU_ASSERT_EQUAL(req(s, "POST", path, "{\"at\":0}", &j), 201);
        CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "step")), 0);
        json_decref(j);
    }
    /* answer ends it; then 409, fork at the full length is refused */
    CU_ASSERT_EQUAL(step(s, id, "{\"answer\":\"-1\"}", &j), 200);
    CU_ASSERT(json_is_true(json_object_get(j, "done")));
    CU_ASSERT_STRING_EQUAL(label_of(j), "incorrect");
    json_decref(j);
    CU_ASSERT_EQUAL(step(s, id, "{\"answer\":\"1\"}", &j), 409);
    CU_ASSERT_STRING_EQUAL(err_code(j), "episode_done");
    json_decref(j);
    snprintf(path, sizeof(path), "/v1/episodes/%s/fork", id);
    CU_ASSERT_EQUAL(req(s, "POST", path, "{\"at\":6}", &j), 400);
    json_decref(j);
    /* unknown ids */
    CU_ASSERT_EQUAL(step(s, "0123456789abcdef0123456789abcdef", "{\"answer\":\"1\"}", &j), 404);
    CU_ASSERT_STRING_EQUAL(err_code(j), "not_found");
    json_decref(j);
    CU_ASSERT_EQUAL(req(s, "GET", "/v1/episodes/nope", NULL, &j), 404);
    json_decref(j);
    CU_ASSERT_EQUAL(req(s, "POST", "/v1/episodes/nope/fork", "{\"at\":0}", &j), 404);
    json_decref(j);
    /* delete: 204, then 404 */
    snprintf(path, sizeof(path), "/v1/episodes/%s", id);
    CU_ASSERT_EQUAL(req(s, "DELETE", path, NULL, &j), 204);
    json_decref(j);
    CU_ASSERT_EQUAL(req(s, "DELETE", path, NULL, &j), 404);
    json_decref(j);
    CU_ASSERT_EQUAL(req(s, "GET", path, NULL, &j), 404);
    json_decref(j);
    /* tasks: paging, no answers served, unknown parameters */
    CU_ASSERT_EQUAL(req(s, "GET", "/v1/tasks?split=test&offset=2&limit=3", NULL, &j), 200);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "tasks")), 3);
    CU_ASSERT_EQUAL((size_t)json_integer_value(json_object_get(j, "total")),
                    task_set_split_count(ts, "test"));
    CU_ASSERT_STRING_EQUAL(
        json_string_value(json_object_get(json_array_get(json_object_get(j, "tasks"), 0), "id")),
        task_set_split_at(ts, "test", 2)->id);
    CU_ASSERT(json_object_get(json_array_get(json_object_get(j, "tasks"), 0), "answer") == NULL);
    CU_ASSERT(json_object_get(json_array_get(json_object_get(j, "tasks"), 0), "plan") == NULL);
    /* nor the family or tags: "mental" would tell an agent that no tool is needed */
    CU_ASSERT(json_object_get(json_array_get(json_object_get(j, "tasks"), 0), "family") == NULL);
    CU_ASSERT(json_object_get(json_array_get(json_object_get(j, "tasks"), 0), "tags") == NULL);
    json_decref(j);
    CU_ASSERT_EQUAL(req(s, "GET", "/v1/tasks?split=test&limit=0", NULL, &j), 400);
    json_decref(j);
    CU_ASSERT_EQUAL(req(s, "GET", "/v1/tasks?splt=test", NULL, &j), 400);
    json_decref(j);
    CU_ASSERT_EQUAL(req(s, "GET", "/v1/report?split=test&x=1", NULL, &j), 400);
    json_decref(j);
    CU_ASSERT_EQUAL(req(s, "GET", "/v1/report?split=test&by=family", NULL, &j), 400);
    CU_ASSERT_STRING_EQUAL(err_code(j), "invalid_request");
    json_decref(j);
    /* the report of the untagged episodes so far: two first attempts (one answered, one left
     * unfinished: counted, as a failure), a retry, and two forks (one ended at step_limit) */
    CU_ASSERT_EQUAL(req(s, "GET", "/v1/report?split=test&tag=", NULL, &j), 200);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "episodes")), 2);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "unfinished")), 1);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(j, "forks"), "episodes")),
                    2);
    CU_ASSERT_DOUBLE_EQUAL(
        json_number_value(
            json_object_get(json_object_get(json_object_get(j, "forks"), "labels"), "step_limit")),
        0.5, 1e-12);
    CU_ASSERT_PTR_NULL(json_object_get(j, "by_tag"));
    json_decref(j);
    /* broken down by task tag (first attempts): every tag holds one or both */
    CU_ASSERT_EQUAL(req(s, "GET", "/v1/report?split=test&tag=&by=tag", NULL, &j), 200);
    {
        json_t *bt = json_object_get(j, "by_tag"), *v;
        const char *k;
        int fam = 0;

        CU_ASSERT(json_object_size(bt) >= 1);
        json_object_foreach(bt, k, v) {
            json_int_t n = json_integer_value(json_object_get(v, "episodes"));

            CU_ASSERT(n == 1 || n == 2);
            fam += strncmp(k, "family:", 7) == 0;
        }
        CU_ASSERT(fam >= 1 && fam <= 2);
    }
    json_decref(j);
    task_set_free(ts);
    test_server_stop(s);
}

/* ---- the trajectory line: tools, max_steps, what each call returned ------------------- */

static int keep_line(const json_t *line, void *ud) {
    json_t **out = ud;

    json_decref(*out);
    *out = json_deep_copy(line);
    return 0;
}

TG_TEST(episodes_e2e, trajectory_line_is_a_dataset_row) {
    char traj[256], id[128];
    struct server *s;
    struct trajlog_stats st;
    struct tg_error err;
    json_t *r = NULL, *tools = NULL, *line = NULL, *steps, *s0, *s1;

    snprintf(traj, sizeof(traj), "/tmp/tg_e2e_row_%d.jsonl", (int)getpid());
    unlink(traj);
    s = start(traj);
    CU_ASSERT_FATAL(s != NULL);
    CU_ASSERT_EQUAL(req(s, "GET", "/v1/tools", NULL, &tools), 200);
    create(s, "{\"task_id\":\"test-00001\",\"max_steps\":5}", id, sizeof(id));
    CU_ASSERT_EQUAL(step(s, id,
                         "{\"tool_call\":{\"name\":\"calculator\",\"arguments\":"
                         "{\"expression\":\"6*7\"}}}",
                         &r),
                    200);
    json_decref(r);
    CU_ASSERT_EQUAL(step(s, id, "{\"tool_call\":{\"name\":\"teleport\",\"arguments\":{}}}", &r),
                    200);
    json_decref(r);
    CU_ASSERT_EQUAL(step(s, id, "{\"answer\":\"42\"}", &r), 200);
    json_decref(r);
    test_server_stop(s);
    CU_ASSERT_EQUAL(trajlog_read_file(traj, keep_line, &line, &st, &err), 0);
    CU_ASSERT_FATAL(line != NULL);
    /* the tools it was played with, exactly as GET /v1/tools lists them */
    CU_ASSERT(json_equal(json_object_get(line, "tools"), json_object_get(tools, "tools")));
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(line, "max_steps")), 5);
    steps = json_object_get(line, "steps");
    CU_ASSERT_EQUAL(json_array_size(steps), 3);
    s0 = json_array_get(steps, 0);
    s1 = json_array_get(steps, 1);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(s0, "call")), "ok");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(
                        json_object_get(json_object_get(s0, "observation"), "result"), "value")),
                    42);
    CU_ASSERT(json_object_get(json_object_get(s0, "observation"), "content") == NULL);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(s1, "call")), "unknown_tool");
    CU_ASSERT_STRING_EQUAL(
        json_string_value(
            json_object_get(json_object_get(json_object_get(s1, "observation"), "error"), "code")),
        "unknown_tool");
    CU_ASSERT(json_object_get(json_array_get(steps, 2), "call") == NULL); /* the answer */
    json_decref(line);
    json_decref(tools);
    unlink(traj);
}

/* ---- a fork counts its prefix (issue 15) ------------------------------------------------ */

/* The step body of the expert's call k of t (new string). */
static char *expert_step(const struct task *t, size_t k) {
    const json_t *c = json_array_get(t->expert, k);
    json_t *b = json_pack("{s:{s:O, s:O}}", "tool_call", "name", json_object_get(c, "name"),
                          "arguments", json_object_get(c, "arguments"));
    char *text = b ? json_dumps(b, JSON_COMPACT) : NULL;

    json_decref(b);
    return text;
}

/* The episode's return over GET (feedback "judge"), and that its step rewards sum to it. */
static double got_return(struct server *s, const char *id, size_t *nsteps) {
    char path[128];
    json_t *j = NULL, *st;
    double sum = 0, ret;
    size_t i;

    snprintf(path, sizeof(path), "/v1/episodes/%s", id);
    CU_ASSERT_EQUAL(req(s, "GET", path, NULL, &j), 200);
    json_array_foreach(json_object_get(j, "steps"), i, st) sum +=
        json_number_value(json_object_get(st, "reward"));
    *nsteps = json_array_size(json_object_get(j, "steps"));
    ret = json_number_value(json_object_get(j, "return"));
    CU_ASSERT_DOUBLE_EQUAL(sum, ret, 1e-9);
    json_decref(j);
    return ret;
}

/* Under OTC, a fork's return counts the calls it inherited exactly as a fresh episode making the
 * same calls does, at every fork point, and the report's forks bucket shows the fresh episode's
 * numbers; judge mode is unaffected (its forks matched already, and still do). The calls are
 * the expert's plan with its first search repeated: m = 4 calls, n = 3 necessary, so OTC's tool
 * term is sin(f·π/6) with f = 24/7 (≈ 0.975); a fork at 2 that counted only its own two calls
 * would score 1. */
TG_TEST(episodes_e2e, fork_return_counts_the_prefix_like_a_fresh_episode) {
    static const char *const modes[] = {"otc", "judge"};
    struct server *s = start(NULL);
    struct task_set *ts = local_tasks();
    const struct task *t;
    size_t order[4] = {0, 0, 1, 2}, nsteps;
    char *calls[4], answer[96], body[256], id[64], src[64], fid[64], path[160];

    CU_ASSERT_FATAL(s != NULL && ts != NULL);
    t = first_of(ts, TASK_MULTI_LOOKUP);
    CU_ASSERT_FATAL(t != NULL && json_array_size(t->expert) == 3);
    for (size_t i = 0; i < 4; i++)
        calls[i] = expert_step(t, order[i]);
    snprintf(answer, sizeof(answer), "{\"answer\":\"Answer: %.15g\"}", t->answer.value);
    for (size_t m = 0; m < TG_ARRAY_LEN(modes); m++) {
        json_t *j = NULL, *fresh_rep = NULL, *fork_rep = NULL, *forks, *v;
        double fresh_ret;
        const char *key;

        /* the fresh episode */
        snprintf(body, sizeof(body),
                 "{\"task_id\":\"%s\",\"reward_mode\":\"%s\",\"tag\":\"f15-%s\"}", t->id, modes[m],
                 modes[m]);
        create(s, body, id, sizeof(id));
        for (size_t i = 0; i < 4; i++) {
            CU_ASSERT_EQUAL(step(s, id, calls[i], &j), 200);
            CU_ASSERT_STRING_EQUAL(label_of(j), i == 1 ? "redundant" : "necessary");
            json_decref(j);
        }
        CU_ASSERT_EQUAL(step(s, id, answer, &j), 200);
        CU_ASSERT_STRING_EQUAL(label_of(j), "correct");
        fresh_ret = json_number_value(json_object_get(j, "return"));
        json_decref(j);
        CU_ASSERT(got_return(s, id, &nsteps) == fresh_ret);
        if (m == 0) {
            CU_ASSERT_DOUBLE_EQUAL(fresh_ret, sin(24.0 / 7 * M_PI / 6), 1e-12);
        } else {
            CU_ASSERT(fresh_ret < 1.0 && fresh_ret > 0.5); /* judge: the repeat costs */
        }
        /* the source (tag f15-<mode>-fork): the same calls, left open */
        snprintf(body, sizeof(body),
                 "{\"task_id\":\"%s\",\"reward_mode\":\"%s\",\"tag\":\"f15-%s-fork\"}", t->id,
                 modes[m], modes[m]);
        create(s, body, src, sizeof(src));
        for (size_t i = 0; i < 4; i++) {
            CU_ASSERT_EQUAL(step(s, src, calls[i], &j), 200);
            json_decref(j);
        }
        /* a fork at every point plays the rest and answers: the fresh episode's return */
        for (int k = 0; k <= 4; k++) {
            char at[32];
            double r;

            snprintf(path, sizeof(path), "/v1/episodes/%s/fork", src);
            snprintf(at, sizeof(at), "{\"at\":%d}", k);
            CU_ASSERT_EQUAL_FATAL(req(s, "POST", path, at, &j), 201);
            snprintf(fid, sizeof(fid), "%s", json_string_value(json_object_get(j, "episode_id")));
            json_decref(j);
            for (int i = k; i < 4; i++) {
                CU_ASSERT_EQUAL(step(s, fid, calls[i], &j), 200);
                json_decref(j);
            }
            CU_ASSERT_EQUAL(step(s, fid, answer, &j), 200);
            r = json_number_value(json_object_get(j, "return"));
            json_decref(j);
            CU_ASSERT(r == fresh_ret); /* bit for bit */
            if (r != fresh_ret)
                fprintf(stderr, "fork (%s) at %d: return %.17g, fresh %.17g\n", modes[m], k, r,
                        fresh_ret);
            CU_ASSERT(got_return(s, fid, &nsteps) == fresh_ret);
            CU_ASSERT_EQUAL(nsteps, 5);
        }
        /* the report: the forks bucket has the fresh episode's numbers; the open source is
         * the only first attempt of its tag, with its own four calls */
        snprintf(path, sizeof(path), "/v1/report?split=test&tag=f15-%s", modes[m]);
        CU_ASSERT_EQUAL(req(s, "GET", path, NULL, &fresh_rep), 200);
        snprintf(path, sizeof(path), "/v1/report?split=test&tag=f15-%s-fork", modes[m]);
        CU_ASSERT_EQUAL(req(s, "GET", path, NULL, &fork_rep), 200);
        forks = json_object_get(fork_rep, "forks");
        CU_ASSERT_EQUAL(json_integer_value(json_object_get(forks, "episodes")), 5);
        CU_ASSERT_DOUBLE_EQUAL(json_number_value(json_object_get(forks, "calls_per_episode")), 4.0,
                               1e-12);
        json_object_foreach(fresh_rep, key, v) {
            if (strcmp(key, "retries") == 0 || strcmp(key, "forks") == 0 ||
                strcmp(key, "episodes") == 0 || strcmp(key, "finished") == 0 ||
                strcmp(key, "counts") == 0) /* counts: of different numbers of episodes */
                continue;
            if (json_is_real(v)) {
                CU_ASSERT_DOUBLE_EQUAL(json_real_value(v),
                                       json_number_value(json_object_get(forks, key)), 1e-12);
            } else if (!json_equal(v, json_object_get(forks, key))) {
                fprintf(stderr, "report: forks.%s differs from the fresh episode's\n", key);
                CU_FAIL("the forks bucket differs from the fresh episode's report");
            }
        }
        CU_ASSERT_EQUAL(json_integer_value(json_object_get(fork_rep, "episodes")), 1);
        CU_ASSERT_EQUAL(json_integer_value(json_object_get(fork_rep, "unfinished")), 1);
        CU_ASSERT_DOUBLE_EQUAL(json_number_value(json_object_get(fork_rep, "calls_per_episode")),
                               4.0, 1e-12);
        json_decref(fresh_rep);
        json_decref(fork_rep);
    }
    for (size_t i = 0; i < 4; i++)
        free(calls[i]);
    task_set_free(ts);
    test_server_stop(s);
}
