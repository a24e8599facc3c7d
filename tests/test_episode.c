/*
 * test_episode.c — the episode module: steps, step limit, fork replay, and the store's
 * eviction, expiry and behaviour under concurrent use.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/episode.h"
#include "server/report.h"
#include "base/dbuf.h"
#include "base/jsonw.h"
#include "tools/tools.h"
#include "tg_test.h"

static const char task_json[] =
    "{\"id\":\"t1\",\"split\":\"test\",\"family\":\"lookup_arith\",\"prompt\":\"Twice X?\","
    "\"answer\":{\"type\":\"int\",\"value\":42},"
    "\"plan\":[{\"tool\":\"search\",\"match\":{\"hit\":\"d1\"}},"
    "{\"tool\":\"calculator\",\"match\":{\"value\":42},\"needs\":[0]}]}";

/* The same task with tags. */
static const char tagged_json[] =
    "{\"id\":\"t2\",\"split\":\"test\",\"family\":\"lookup_arith\",\"prompt\":\"Twice X?\","
    "\"tags\":[\"family:lookup_arith\",\"op:mul\",\"distractor:number\"],"
    "\"answer\":{\"type\":\"int\",\"value\":42},"
    "\"plan\":[{\"tool\":\"search\",\"match\":{\"hit\":\"d1\"}},"
    "{\"tool\":\"calculator\",\"match\":{\"value\":42},\"needs\":[0]}]}";

static int load_json(const char *js, struct task *t) {
    json_t *j = json_loads(js, 0, NULL);
    struct tg_error err;
    int rc = task_from_json(j, t, &err);

    json_decref(j);
    if (rc)
        fprintf(stderr, "task: %s\n", err.message);
    return rc;
}

static int load_task(struct task *t) {
    json_t *j = json_loads(task_json, 0, NULL);
    struct tg_error err;
    int rc = task_from_json(j, t, &err);

    json_decref(j);
    if (rc)
        fprintf(stderr, "task: %s\n", err.message);
    return rc;
}

/* Commit a tool call with a successful result. */
static int call(struct episode *ep, const char *tool, const char *args_json,
                const char *result_json, json_t **reply, int *finished) {
    json_t *args = json_loads(args_json, 0, NULL);
    json_t *res = json_loads(result_json, 0, NULL);
    int rc = episode_step_begin(ep);

    if (rc == 0)
        rc = episode_step_call(ep, tool, args, JUDGE_TOOL_OK, res,
                               json_pack("{s:b, s:s, s:O}", "ok", 1, "content", "x", "result", res),
                               reply, finished);
    json_decref(args);
    json_decref(res);
    return rc;
}

static const char *reply_label(const json_t *r) {
    return json_string_value(json_object_get(json_object_get(r, "judgement"), "label"));
}

/* The trajectory line written straight (episode_trajectory_write, what the log gets) is the
 * line episode_trajectory_json builds, with "tools" added, as jansson dumps it. */
static void check_line_written(struct episode *ep) {
    json_t *traj = episode_trajectory_json(ep);
    json_t *tools = json_pack("[{s:s, s:f}]", "name", "caf\xc3\xa9 \"tool\"", "w", 0.1);
    char *want, *tools_text;
    struct dbuf b;

    CU_ASSERT_PTR_NOT_NULL_FATAL(traj);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tools);
    json_object_set(traj, "tools", tools);
    want = json_dumps(traj, JSON_COMPACT | JSON_REAL_PRECISION(15));
    tools_text = json_dumps(tools, JSON_COMPACT | JSON_REAL_PRECISION(15));
    dbuf_init(&b, 1 << 20);
    CU_ASSERT_EQUAL(episode_trajectory_write(ep, &b, tools_text), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b.p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(want);
    if (strcmp(b.p, want) != 0)
        fprintf(stderr, "\n  built   %s\n  written %s\n", want, b.p);
    CU_ASSERT_STRING_EQUAL(b.p, want);
    dbuf_free(&b);
    free(want);
    free(tools_text);
    json_decref(tools);
    json_decref(traj);
}

TG_TEST(episode, steps_judged_rewarded_and_done) {
    struct task t;
    struct reward_config rc;
    struct episode *ep = NULL;
    json_t *r = NULL;
    int fin = 0;

    CU_ASSERT_FATAL(load_task(&t) == 0);
    reward_config_defaults(&rc);
    CU_ASSERT_FATAL(episode_new(&t, &rc, REWARD_JUDGE, 8, "tg", &ep) == 0);
    ep->feedback = 1; /* a trainer\'s episode: replies carry the judgement */
    CU_ASSERT_EQUAL(strlen(ep->id), EPISODE_ID_LEN);
    /* calculating before searching is premature */
    CU_ASSERT(call(ep, "calculator", "{\"expression\":\"2*21\"}", "{\"value\":42}", &r, &fin) == 0);
    CU_ASSERT_STRING_EQUAL(reply_label(r), "premature");
    CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(r, "reward")), rc.label[JUDGE_PREMATURE],
                           1e-12);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(r, "step")), 1);
    CU_ASSERT(!fin);
    json_decref(r);
    CU_ASSERT(call(ep, "search", "{\"query\":\"x\"}", "{\"hits\":[{\"id\":\"d1\"}]}", &r, &fin) ==
              0);
    CU_ASSERT_STRING_EQUAL(reply_label(r), "necessary");
    json_decref(r);
    CU_ASSERT(episode_step_begin(ep) == 0);
    CU_ASSERT(episode_step_begin(ep) == TG_EBUSY); /* one step at a time */
    CU_ASSERT(episode_step_answer(ep, "42", &r, &fin) == 0);
    CU_ASSERT(fin);
    CU_ASSERT(json_is_true(json_object_get(r, "done")));
    CU_ASSERT_STRING_EQUAL(reply_label(r), "correct");
    json_decref(r);
    CU_ASSERT(episode_step_begin(ep) == TG_ESTATE);
    CU_ASSERT(episode_done(ep));
    CU_ASSERT_EQUAL(ep->outcome, REWARD_CORRECT);
    /* correct with one penalty: squashed into the correct range, below a clean 1 */
    CU_ASSERT(ep->ret > rc.floor_correct && ep->ret < rc.label[JUDGE_CORRECT]);
    check_line_written(ep);
    episode_put(ep);
    task_clear(&t);
}

TG_TEST(episode, step_limit_ends_the_episode) {
    struct task t;
    struct reward_config rc;
    struct episode *ep = NULL;
    json_t *r = NULL, *traj;
    int fin = 0;

    CU_ASSERT_FATAL(load_task(&t) == 0);
    reward_config_defaults(&rc);
    CU_ASSERT_FATAL(episode_new(&t, &rc, REWARD_JUDGE, 2, NULL, &ep) == 0);
    ep->feedback = 1; /* a trainer\'s episode: replies carry the judgement */
    CU_ASSERT(call(ep, "search", "{\"query\":\"x\"}", "{\"hits\":[]}", &r, &fin) == 0);
    CU_ASSERT(!fin);
    json_decref(r);
    CU_ASSERT(call(ep, "search", "{\"query\":\"y\"}", "{\"hits\":[]}", &r, &fin) == 0);
    CU_ASSERT(fin);
    CU_ASSERT(json_is_true(json_object_get(r, "done")));
    json_decref(r);
    CU_ASSERT_EQUAL(ep->outcome, REWARD_STEP_LIMIT);
    CU_ASSERT(ep->ret <= rc.label[JUDGE_STEP_LIMIT] && ep->ret > rc.floor_incorrect);
    traj = episode_trajectory_json(ep);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(traj, "outcome")), "step_limit");
    /* system, user, then assistant + tool per call */
    CU_ASSERT_EQUAL(json_array_size(json_object_get(traj, "messages")), 6);
    json_decref(traj);
    check_line_written(ep);
    episode_put(ep);
    task_clear(&t);
}

TG_TEST(episode, fork_replays_the_prefix) {
    struct task t;
    struct reward_config rc;
    struct episode *ep = NULL, *f = NULL;
    struct tg_error err;
    json_t *r = NULL;
    int fin = 0;

    CU_ASSERT_FATAL(load_task(&t) == 0);
    reward_config_defaults(&rc);
    CU_ASSERT_FATAL(episode_new(&t, &rc, REWARD_JUDGE, 8, "x", &ep) == 0);
    ep->feedback = 1; /* a trainer\'s episode: replies carry the judgement */
    call(ep, "search", "{\"query\":\"x\"}", "{\"hits\":[{\"id\":\"d1\"}]}", &r, &fin);
    json_decref(r);
    call(ep, "search", "{\"query\":\"x\"}", "{\"hits\":[{\"id\":\"d1\"}]}", &r, &fin);
    json_decref(r);
    CU_ASSERT(episode_fork(ep, 3, &f, &err) == TG_EINVAL);
    CU_ASSERT(episode_fork(ep, -1, &f, &err) == TG_EINVAL);
    CU_ASSERT_FATAL(episode_fork(ep, 1, &f, &err) == 0);
    CU_ASSERT_STRING_NOT_EQUAL(f->id, ep->id);
    CU_ASSERT_EQUAL(f->nsteps, 1);
    CU_ASSERT_EQUAL(f->steps[0]->label, JUDGE_NECESSARY);
    /* the judge state was rebuilt: the calculator step is now allowed */
    CU_ASSERT(call(f, "calculator", "{\"expression\":\"6*7\"}", "{\"value\":42}", &r, &fin) == 0);
    CU_ASSERT_STRING_EQUAL(reply_label(r), "necessary");
    json_decref(r);
    /* while the original's second search was redundant */
    CU_ASSERT_EQUAL(ep->steps[1]->label, JUDGE_REDUNDANT);
    check_line_written(f); /* a fork's line names its source */
    episode_put(f);
    CU_ASSERT(episode_step_begin(ep) == 0);
    episode_step_answer(ep, "1", &r, &fin);
    json_decref(r);
    CU_ASSERT(episode_fork(ep, 3, &f, &err) == TG_EINVAL); /* a fork must be open */
    CU_ASSERT_FATAL(episode_fork(ep, 2, &f, &err) == 0);
    CU_ASSERT(!episode_done(f));
    episode_put(f);
    episode_put(ep);
    task_clear(&t);
}

/* The calls of fresh_plays, by play_call's letters, and its answer. */
static const char fresh_calls[] = "SSC";

/* Commit the call of letter c (see struct play below): "S" search d1, "C" calculator 6*7. */
static void play_call(struct episode *ep, char c) {
    json_t *r = NULL;
    int fin = 0;

    if (c == 'S')
        CU_ASSERT(
            call(ep, "search", "{\"query\":\"x\"}", "{\"hits\":[{\"id\":\"d1\"}]}", &r, &fin) == 0);
    if (c == 'C')
        CU_ASSERT(call(ep, "calculator", "{\"expression\":\"6*7\"}", "{\"value\":42}", &r, &fin) ==
                  0);
    json_decref(r);
}

/* Answer, returning the final step's reward (the return is ep->ret). */
static double answer_reward(struct episode *ep, const char *answer) {
    json_t *r = NULL;
    int fin = 0;
    double rw = NAN;

    if (episode_step_begin(ep) == 0 && episode_step_answer(ep, answer, &r, &fin) == 0)
        rw = json_number_value(json_object_get(r, "reward"));
    json_decref(r);
    return rw;
}

/* Issue 15: a fork's return counts the calls of its prefix exactly as a fresh episode making
 * the same calls does — in every mode, at every fork point, bit for bit. Under OTC the fresh
 * episode's search, repeated search and calculator score r_tool(3, 2) = sin(2.4π/4) ≈ 0.951;
 * a fork at 2 that counted only its own calculator call would score r_tool(1, 1) = 1. */
TG_TEST(episode, fork_return_counts_the_prefix_calls) {
    static const enum reward_mode modes[] = {REWARD_OTC, REWARD_JUDGE, REWARD_TORL};
    static const char *const answers[] = {"Answer: 42", "Answer: 41"};
    struct task t;
    struct reward_config rc;
    struct tg_error err;

    CU_ASSERT_FATAL(load_task(&t) == 0);
    reward_config_defaults(&rc);
    for (size_t m = 0; m < TG_ARRAY_LEN(modes); m++) {
        for (size_t a = 0; a < TG_ARRAY_LEN(answers); a++) {
            struct episode *fresh = NULL, *src = NULL;
            struct episode_summary fs;
            double fresh_final;

            CU_ASSERT_FATAL(episode_new(&t, &rc, modes[m], 8, "fresh", &fresh) == 0);
            CU_ASSERT_FATAL(episode_new(&t, &rc, modes[m], 8, "src", &src) == 0);
            for (size_t i = 0; fresh_calls[i]; i++) {
                play_call(fresh, fresh_calls[i]);
                play_call(src, fresh_calls[i]);
            }
            fresh_final = answer_reward(fresh, answers[a]);
            episode_summarize(fresh, &fs);
            if (modes[m] == REWARD_OTC && a == 0)
                CU_ASSERT_DOUBLE_EQUAL(fresh->ret, sin(2.4 * M_PI / 4), 1e-12);
            for (long long k = 0; k <= (long long)strlen(fresh_calls); k++) {
                struct episode *f = NULL;
                struct episode_summary ss;

                CU_ASSERT_FATAL(episode_fork(src, k, &f, &err) == 0);
                for (size_t i = (size_t)k; fresh_calls[i]; i++)
                    play_call(f, fresh_calls[i]);
                CU_ASSERT(answer_reward(f, answers[a]) == fresh_final);
                CU_ASSERT(f->ret == fresh->ret); /* bit for bit */
                CU_ASSERT_EQUAL(f->nsteps, fresh->nsteps);
                for (size_t i = 0; i < f->nsteps && i < fresh->nsteps; i++) {
                    CU_ASSERT_EQUAL(f->steps[i]->label, fresh->steps[i]->label);
                    CU_ASSERT(f->steps[i]->reward == fresh->steps[i]->reward);
                }
                episode_summarize(f, &ss);
                CU_ASSERT_EQUAL(ss.ncalls, fs.ncalls);
                CU_ASSERT_EQUAL(ss.plan_match, fs.plan_match);
                CU_ASSERT(memcmp(ss.labels, fs.labels, sizeof(ss.labels)) == 0);
                if (f->ret != fresh->ret)
                    fprintf(stderr, "fork: mode %s at %lld: return %.17g, fresh %.17g\n",
                            reward_mode_name(modes[m]), k, f->ret, fresh->ret);
                episode_put(f);
            }
            episode_put(fresh);
            episode_put(src);
        }
    }
    task_clear(&t);
}

/* ---- the store ------------------------------------------------------------------------ */

static long long fake_now;
static long long fake_clock(void) {
    return fake_now;
}

/* A store of max episodes with idle expiry, no byte pressure, no client quota reached before
 * the store's own limit and no eviction of unfinished episodes. */
static struct episode_store *store_new(size_t max, int idle_sec, episode_clock_fn clock) {
    struct episode_store_limits l;

    episode_store_limits_defaults(&l);
    l.max_episodes = max;
    l.idle_sec = idle_sec;
    l.client_episodes = max + 1;
    l.client_bytes = l.max_bytes;
    l.evict_idle_sec = 100000;
    return episode_store_new(&l, clock);
}

static struct episode *mk(const struct task *t, const struct reward_config *rc) {
    struct episode *ep = NULL;

    episode_new(t, rc, REWARD_JUDGE, 8, NULL, &ep);
    return ep;
}

static void finish(struct episode_store *s, struct episode *ep) {
    json_t *r = NULL;
    int fin = 0;

    if (episode_step_begin(ep) == 0)
        episode_step_answer(ep, "0", &r, &fin);
    json_decref(r);
    if (fin)
        episode_store_update(s, ep);
}

TG_TEST(episode, store_evicts_finished_oldest_first) {
    struct task t;
    struct reward_config rc;
    struct episode_store *s;
    struct episode *e[5], *g;

    CU_ASSERT_FATAL(load_task(&t) == 0);
    reward_config_defaults(&rc);
    fake_now = 1000000;
    s = store_new(3, 60, fake_clock);
    CU_ASSERT_FATAL(s != NULL);
    for (int i = 0; i < 5; i++)
        e[i] = mk(&t, &rc);
    for (int i = 0; i < 3; i++)
        CU_ASSERT(episode_store_add(s, e[i], "c") == 0);
    /* full of unfinished episodes: refused, nothing live is killed */
    CU_ASSERT(episode_store_add(s, e[3], "c") == TG_EBUSY);
    CU_ASSERT_EQUAL(episode_store_count(s), 3);
    finish(s, e[2]); /* finished first */
    finish(s, e[0]);
    CU_ASSERT(episode_store_add(s, e[3], "c") == 0);
    g = episode_store_get(s, e[2]->id);
    CU_ASSERT(g == NULL); /* the oldest finished went first */
    g = episode_store_get(s, e[0]->id);
    CU_ASSERT(g == e[0]);
    episode_put(g);
    CU_ASSERT(episode_store_add(s, e[4], "c") == 0);
    CU_ASSERT(episode_store_get(s, e[0]->id) == NULL);
    g = episode_store_get(s, e[1]->id); /* unfinished: kept */
    CU_ASSERT(g == e[1]);
    episode_put(g);
    CU_ASSERT_EQUAL(episode_store_count(s), 3);
    /* an evicted episode stays valid for whoever still holds it */
    CU_ASSERT_EQUAL(strlen(e[2]->id), EPISODE_ID_LEN);
    CU_ASSERT(episode_store_remove(s, e[1]->id) == 0);
    CU_ASSERT(episode_store_remove(s, e[1]->id) == TG_ENOTFOUND);
    CU_ASSERT_EQUAL(episode_store_count(s), 2);
    for (int i = 0; i < 5; i++)
        episode_put(e[i]);
    episode_store_free(s);
    task_clear(&t);
}

TG_TEST(episode, store_expires_idle_unfinished) {
    struct task t;
    struct reward_config rc;
    struct episode_store *s;
    struct episode *a, *b, *c, *g;

    CU_ASSERT_FATAL(load_task(&t) == 0);
    reward_config_defaults(&rc);
    fake_now = 5000000;
    s = store_new(10, 10, fake_clock);
    a = mk(&t, &rc);
    b = mk(&t, &rc);
    c = mk(&t, &rc);
    episode_store_add(s, a, "c");
    episode_store_add(s, b, "c");
    episode_store_add(s, c, "c");
    finish(s, c); /* finished episodes never expire */
    fake_now += 6000000;
    g = episode_store_get(s, a->id); /* touching a keeps it alive */
    CU_ASSERT(g == a);
    episode_put(g);
    fake_now += 5000000; /* b idle 11 s, a idle 5 s */
    CU_ASSERT_EQUAL(episode_store_expire(s), 1);
    CU_ASSERT(episode_store_get(s, b->id) == NULL);
    g = episode_store_get(s, a->id);
    CU_ASSERT(g == a);
    episode_put(g);
    fake_now += 10000000;
    CU_ASSERT(episode_store_get(s, a->id) == NULL);
    g = episode_store_get(s, c->id);
    CU_ASSERT(g == c);
    episode_put(g);
    CU_ASSERT_EQUAL(episode_store_count(s), 1);
    episode_put(a);
    episode_put(b);
    episode_put(c);
    episode_store_free(s);
    task_clear(&t);
}

struct worker {
    struct episode_store *s;
    const struct task *t;
    const struct reward_config *rc;
    struct report *rep;
    int added, refused, finished;
};

static void *worker_main(void *p) {
    struct worker *w = p;

    for (int i = 0; i < 400; i++) {
        struct episode *ep = mk(w->t, w->rc), *g;
        struct episode_summary sum;

        if (episode_store_add(w->s, ep, "c") != 0) {
            w->refused++;
            episode_put(ep);
            continue;
        }
        w->added++;
        ep->attempt = report_start(w->rep, ep->task, ep->tag, 0);
        g = episode_store_get(w->s, ep->id);
        if (g && i % 4 != 3) {
            finish(w->s, g);
            episode_summarize(g, &sum);
            report_add(w->rep, &sum);
            w->finished++;
        }
        if (i % 5 == 0)
            episode_store_remove(w->s, ep->id);
        episode_put(g);
        episode_put(ep);
    }
    return NULL;
}

TG_TEST(episode, store_concurrent_use) {
    struct task t;
    struct reward_config rc;
    struct episode_store *s;
    struct report *rep = report_new();
    struct worker w[8];
    pthread_t th[8];
    int added = 0, fin = 0;
    json_t *r;

    CU_ASSERT_FATAL(load_task(&t) == 0);
    reward_config_defaults(&rc);
    s = store_new(64, 3600, NULL);
    for (int i = 0; i < 8; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].s = s;
        w[i].t = &t;
        w[i].rc = &rc;
        w[i].rep = rep;
        pthread_create(&th[i], NULL, worker_main, &w[i]);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        added += w[i].added;
        fin += w[i].finished;
    }
    CU_ASSERT(added > 0);
    CU_ASSERT(episode_store_count(s) <= 64);
    r = report_json(rep, "test", NULL, 0);
    /* one task: its first episode is the first attempt, every other a retry */
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(r, "episodes")), 1);
    {
        json_t *re = json_object_get(r, "retries");
        json_int_t started = json_integer_value(json_object_get(r, "episodes")) +
                             json_integer_value(json_object_get(re, "episodes"));
        json_int_t done = json_integer_value(json_object_get(r, "finished")) +
                          json_integer_value(json_object_get(re, "finished"));

        CU_ASSERT_EQUAL(started, added);
        CU_ASSERT_EQUAL(done, fin);
        CU_ASSERT_EQUAL(json_integer_value(json_object_get(re, "unfinished")),
                        json_integer_value(json_object_get(re, "episodes")) -
                            json_integer_value(json_object_get(re, "finished")));
        /* every answer "0" is incorrect: the retries answered none right */
        CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(re, "answer_accuracy")), 0.0, 1e-12);
    }
    json_decref(r);
    episode_store_free(s);
    report_free(rep);
    task_clear(&t);
}

/* A played episode for the report tests: what it called (by action, see play_step) and how it
 * ended ("" answer: left unfinished). Counted like the server does: started, each call, and
 * the summary when it finishes. */
struct play {
    const char *calls[8]; /* "S" search d1, "s" search nothing, "C" calculator 6*7, "c" 2+2,
                             "M" malformed calculator, "U" unknown tool */
    const char *answer;   /* NULL: never answered */
};

static void play(struct report *rep, const struct task *t, const char *tag, int forked,
                 const struct play *p) {
    struct reward_config rc;
    struct episode *ep = NULL;
    struct episode_summary sum;
    json_t *r = NULL;
    int fin = 0;

    reward_config_defaults(&rc);
    CU_ASSERT_FATAL(episode_new(t, &rc, REWARD_JUDGE, 8, tag, &ep) == 0);
    ep->attempt = report_start(rep, t, tag, forked);
    for (size_t i = 0; i < 8 && p->calls[i]; i++) {
        const char *c = p->calls[i];
        struct episode_step *st;

        if (*c == 'S')
            call(ep, "search", "{\"query\":\"x\"}", "{\"hits\":[{\"id\":\"d1\"}]}", &r, &fin);
        else if (*c == 's')
            call(ep, "search", "{\"query\":\"y\"}", "{\"hits\":[]}", &r, &fin);
        else if (*c == 'C')
            call(ep, "calculator", "{\"expression\":\"6*7\"}", "{\"value\":42}", &r, &fin);
        else if (*c == 'c')
            call(ep, "calculator", "{\"expression\":\"2+2\"}", "{\"value\":4}", &r, &fin);
        else if (episode_step_begin(ep) == 0)
            episode_step_call(ep, *c == 'M' ? "calculator" : "nope", NULL,
                              *c == 'M' ? JUDGE_BAD_ARGS : JUDGE_UNKNOWN_TOOL, NULL,
                              json_pack("{s:b}", "ok", 0), &r, &fin);
        json_decref(r);
        r = NULL;
        st = episode_last_step(ep);
        report_step(rep, t, tag, ep->attempt, st->label, episode_step_judged_on_args(st));
        episode_step_put(st);
    }
    if (p->answer && episode_step_begin(ep) == 0) {
        episode_step_answer(ep, p->answer, &r, &fin);
        json_decref(r);
    }
    if (episode_done(ep)) {
        episode_summarize(ep, &sum);
        report_add(rep, &sum);
    }
    check_line_written(ep);
    episode_put(ep);
}

static double num(const json_t *r, const char *k) {
    return json_number_value(json_object_get(r, k));
}

/* Issue 16: every report metric is defined so that failure never raises it. */
TG_TEST(episode, report_metrics_never_credit_failure) {
    struct report *rep = report_new();
    struct task t, t2;
    json_t *r;
    static const struct play plan_right = {{"S", "C"}, "Answer: 42"};
    static const struct play plan_wrong = {{"S", "C"}, "Answer: 41"};
    static const struct play plan_no_answer = {{"S", "C", "c", "c", "c", "c", "c", "c"}, NULL};
    static const struct play bad_args = {{"S", "M"}, "Answer: 42"};
    static const struct play wrong_operand = {{"S", "c"}, "Answer: 42"};
    static const struct play mental = {{NULL}, "Answer: 42"};
    static const struct play lookup_only = {{"S"}, "Answer: 42"};
    static const struct play abandoned = {{"S", "c"}, NULL};

    CU_ASSERT_FATAL(load_task(&t) == 0);
    CU_ASSERT_FATAL(load_json(tagged_json, &t2) == 0);

    /* exact_plan_match: the plan's calls with a wrong answer, or hitting the step limit with
     * no answer, is no match */
    play(rep, &t, "wrong", 0, &plan_wrong);
    play(rep, &t, "limit", 0, &plan_no_answer);
    play(rep, &t, "right", 0, &plan_right);
    r = report_json(rep, "test", "wrong", 0);
    CU_ASSERT_DOUBLE_EQUAL(num(r, "exact_plan_match"), 0.0, 1e-12);
    json_decref(r);
    r = report_json(rep, "test", "limit", 0);
    CU_ASSERT_DOUBLE_EQUAL(num(r, "exact_plan_match"), 0.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(num(json_object_get(r, "labels"), "step_limit"), 1.0, 1e-12);
    json_decref(r);
    r = report_json(rep, "test", "right", 0);
    CU_ASSERT_DOUBLE_EQUAL(num(r, "exact_plan_match"), 1.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(num(r, "grounded_accuracy"), 1.0, 1e-12);
    json_decref(r);

    /* tool_selection_accuracy: a malformed calculator call is not a right choice;
     * argument_accuracy: a syntax error scores no better than a wrong operand */
    play(rep, &t, "bad", 0, &bad_args);
    play(rep, &t, "operand", 0, &wrong_operand);
    r = report_json(rep, "test", "bad", 0);
    CU_ASSERT_DOUBLE_EQUAL(num(r, "tool_selection_accuracy"), 0.5, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(num(r, "argument_accuracy"), 0.5, 1e-12);
    json_decref(r);
    r = report_json(rep, "test", "operand", 0);
    CU_ASSERT_DOUBLE_EQUAL(num(r, "argument_accuracy"), 0.5, 1e-12);
    json_decref(r);

    /* tool_productivity: answers given without a call are not credited to the calls (one
     * lookup and five mental answers: 1.0, not 6.0) */
    play(rep, &t, "prod", 0, &lookup_only);
    for (int i = 0; i < 5; i++)
        play(rep, &t, "prod", 1, &mental); /* forks of the task */
    play(rep, &t2, "prod", 0, &mental);
    r = report_json(rep, "test", "prod", 0);
    CU_ASSERT_DOUBLE_EQUAL(num(r, "tool_productivity"), 1.0, 1e-12);
    /* the ungrounded mental answer on t2 is correct but not grounded */
    CU_ASSERT_DOUBLE_EQUAL(num(r, "answer_accuracy"), 1.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(num(r, "grounded_accuracy"), 0.5, 1e-12);
    /* forks are reported apart, never as first attempts */
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(r, "episodes")), 2);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(r, "forks"), "episodes")),
                    5);
    json_decref(r);

    /* a task re-answered after a wrong answer counts once as a first attempt; an abandoned
     * episode counts, as a failure, and its calls count */
    play(rep, &t, "again", 0, &plan_wrong);
    play(rep, &t, "again", 0, &plan_right);
    play(rep, &t2, "again", 0, &abandoned);
    r = report_json(rep, "test", "again", 0);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(r, "episodes")), 2);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(r, "unfinished")), 1);
    CU_ASSERT_DOUBLE_EQUAL(num(r, "answer_accuracy"), 0.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(num(r, "calls_per_episode"), 2.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(num(r, "tool_selection_accuracy"), 0.5, 1e-12);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(r, "retries"), "episodes")),
                    1);
    CU_ASSERT_DOUBLE_EQUAL(num(json_object_get(r, "retries"), "answer_accuracy"), 1.0, 1e-12);
    json_decref(r);
    r = report_json(rep, "train", NULL, 0);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(r, "episodes")), 0);
    CU_ASSERT(json_is_null(json_object_get(r, "argument_accuracy")));
    json_decref(r);
    report_free(rep);
    task_clear(&t);
    task_clear(&t2);
}

/* Play the calls (play_call's letters) and the answer on ep as the server counts them: each
 * call in the report when judged, the summary when the episode ends. */
static void play_counted(struct report *rep, struct episode *ep, const char *calls,
                         const char *answer) {
    struct episode_summary sum;

    for (size_t i = 0; calls[i]; i++) {
        struct episode_step *st;

        play_call(ep, calls[i]);
        st = episode_last_step(ep);
        report_step(rep, ep->task, ep->tag, ep->attempt, st->label,
                    episode_step_judged_on_args(st));
        episode_step_put(st);
    }
    if (answer) {
        answer_reward(ep, answer);
        episode_summarize(ep, &sum);
        report_add(rep, &sum);
    }
}

/* Issue 15: the forks bucket counts a fork's prefix calls as the fork's own, so a fork's
 * per-episode numbers are those of a fresh episode making the same calls; the source keeps
 * its own count, first attempts stay apart from forks (issue 16). */
TG_TEST(episode, report_counts_a_forks_prefix_calls) {
    struct report *rep = report_new();
    struct reward_config rc;
    struct task t;
    struct episode *fresh = NULL, *src = NULL, *f = NULL;
    struct tg_error err;
    json_t *a, *b, *forks, *v;
    const char *key;

    CU_ASSERT_FATAL(load_task(&t) == 0);
    reward_config_defaults(&rc);
    CU_ASSERT_FATAL(episode_new(&t, &rc, REWARD_OTC, 8, "fresh", &fresh) == 0);
    fresh->attempt = report_start(rep, &t, "fresh", 0);
    play_counted(rep, fresh, "SSC", "Answer: 42");
    /* the source stops after two calls (an anchor's prefix); a fork at 2 plays the rest */
    CU_ASSERT_FATAL(episode_new(&t, &rc, REWARD_OTC, 8, "forked", &src) == 0);
    src->attempt = report_start(rep, &t, "forked", 0);
    play_counted(rep, src, "SS", NULL);
    CU_ASSERT_FATAL(episode_fork(src, 2, &f, &err) == 0);
    f->attempt = report_start_fork(rep, f);
    CU_ASSERT_EQUAL(f->attempt, REPORT_FORK);
    play_counted(rep, f, "C", "Answer: 42");
    CU_ASSERT(f->ret == fresh->ret);

    a = report_json(rep, "test", "fresh", 0);
    b = report_json(rep, "test", "forked", 0);
    forks = json_object_get(b, "forks");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(forks, "episodes")), 1);
    CU_ASSERT_DOUBLE_EQUAL(num(forks, "calls_per_episode"), 3.0, 1e-12); /* was 1 */
    CU_ASSERT_DOUBLE_EQUAL(num(forks, "wasted_calls_per_episode"), 1.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(num(forks, "tool_productivity"), 1.0 / 3, 1e-12);
    /* every field of the fork's bucket equals the fresh episode's */
    json_object_foreach(a, key, v) {
        if (strcmp(key, "retries") == 0 || strcmp(key, "forks") == 0)
            continue;
        CU_ASSERT(json_equal(v, json_object_get(forks, key)));
        if (!json_equal(v, json_object_get(forks, key)))
            fprintf(stderr, "report: forks.%s differs from the fresh episode's\n", key);
    }
    /* the source, unfinished, counts its own two calls as a first attempt */
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(b, "episodes")), 1);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(b, "unfinished")), 1);
    CU_ASSERT_DOUBLE_EQUAL(num(b, "calls_per_episode"), 2.0, 1e-12);
    json_decref(a);
    json_decref(b);
    episode_put(f);
    episode_put(src);
    episode_put(fresh);
    report_free(rep);
    task_clear(&t);
}

/* Agents never see the family or the tags; the trajectory log keeps both. */
TG_TEST(episode, views_hide_family_and_tags_the_log_keeps_them) {
    struct task t;
    struct reward_config rc;
    struct episode *ep = NULL;
    json_t *r = NULL, *view, *traj;
    int fin = 0;

    CU_ASSERT_FATAL(load_json(tagged_json, &t) == 0);
    reward_config_defaults(&rc);
    CU_ASSERT_FATAL(episode_new(&t, &rc, REWARD_JUDGE, 8, "run", &ep) == 0);
    ep->feedback = 1; /* a trainer\'s episode: replies carry the judgement */
    CU_ASSERT(episode_step_begin(ep) == 0);
    CU_ASSERT(episode_step_answer(ep, "42", &r, &fin) == 0);
    json_decref(r);
    view = episode_json(ep);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(view, "task"), "id")),
                           "t2");
    CU_ASSERT_PTR_NULL(json_object_get(json_object_get(view, "task"), "family"));
    CU_ASSERT_PTR_NULL(json_object_get(json_object_get(view, "task"), "tags"));
    CU_ASSERT_EQUAL(json_object_size(json_object_get(view, "task")), 2);
    json_decref(view);
    traj = episode_trajectory_json(ep);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(traj, "family")), "lookup_arith");
    CU_ASSERT_EQUAL(json_array_size(json_object_get(traj, "task_tags")), 3);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(json_object_get(traj, "task_tags"), 1)),
                           "op:mul");
    json_decref(traj);
    check_line_written(ep);
    episode_put(ep);
    task_clear(&t);
}

TG_TEST(episode, report_by_task_tag) {
    struct report *rep = report_new();
    struct task plain, tagged;
    json_t *r, *bt, *x;
    /* 2 necessary, 1 redundant, 1 premature... : the plan then two wasted calls */
    static const struct play a = {{"S", "C", "S", "c"}, "Answer: 42"};
    static const struct play b = {{"S", "C"}, "Answer: 41"};

    CU_ASSERT_FATAL(load_task(&plain) == 0 && load_json(tagged_json, &tagged) == 0);
    play(rep, &tagged, "run", 0, &a);
    play(rep, &tagged, "run2", 0, &b); /* the same task, another run: a first attempt there */
    play(rep, &plain, "other", 0, &b); /* a task without tags: counted under its family */

    r = report_json(rep, "test", NULL, 0);
    CU_ASSERT_PTR_NULL(json_object_get(r, "by_tag"));
    CU_ASSERT_DOUBLE_EQUAL(num(r, "wasted_call_rate"), 2.0 / 8, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(num(r, "wasted_calls_per_episode"), 2.0 / 3, 1e-12);
    json_decref(r);

    r = report_json(rep, "test", NULL, 1);
    bt = json_object_get(r, "by_tag");
    CU_ASSERT_EQUAL(json_object_size(bt), 3); /* family:lookup_arith, op:mul, distractor:number */
    x = json_object_get(bt, "family:lookup_arith");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(x, "episodes")), 3);
    x = json_object_get(bt, "op:mul");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(x, "episodes")), 2);
    CU_ASSERT_DOUBLE_EQUAL(num(x, "answer_accuracy"), 0.5, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(num(x, "exact_plan_match"), 0.0, 1e-12); /* b's answer is wrong */
    CU_ASSERT_DOUBLE_EQUAL(num(x, "wasted_calls_per_episode"), 1.0, 1e-12);
    /* keys come sorted */
    {
        const char *k, *prev = "";
        json_t *v;

        json_object_foreach(bt, k, v) {
            (void)v;
            CU_ASSERT(strcmp(prev, k) < 0);
            prev = k;
        }
    }
    json_decref(r);
    /* filtered by run tag: only the untagged task's episode */
    r = report_json(rep, "test", "other", 1);
    bt = json_object_get(r, "by_tag");
    CU_ASSERT_EQUAL(json_object_size(bt), 1);
    CU_ASSERT_EQUAL(
        json_integer_value(json_object_get(json_object_get(bt, "family:lookup_arith"), "episodes")),
        1);
    json_decref(r);
    report_free(rep);
    task_clear(&plain);
    task_clear(&tagged);
}

/* Reports of several servers merge into the report one server would give for all their
 * episodes (toolgym eval --server A,B): counts added, every ratio computed again. */
TG_TEST(episode, reports_of_several_servers_merge_into_one) {
    struct report *a = report_new(), *b = report_new(), *all = report_new();
    struct task plain, tagged;
    json_t *ra, *rb, *rall, *merged, *reps[2], *bad;
    struct tg_error err;
    static const struct play waste = {{"S", "C", "S", "c"}, "Answer: 42"};
    static const struct play wrong = {{"S", "C"}, "Answer: 41"};
    static const struct play right = {{"S", "C"}, "Answer: 42"};
    static const struct play unfinished = {{"S"}, NULL};

    CU_ASSERT_FATAL(load_task(&plain) == 0 && load_json(tagged_json, &tagged) == 0);
    /* server a: the tagged task, a retry and a fork of it; server b: the plain task, left
     * unfinished, and a fork; `all` gets every one of those episodes */
    play(a, &tagged, "run", 0, &waste);
    play(all, &tagged, "run", 0, &waste);
    play(a, &tagged, "run", 0, &right);
    play(all, &tagged, "run", 0, &right);
    play(a, &tagged, "run", 1, &wrong);
    play(all, &tagged, "run", 1, &wrong);
    play(b, &plain, "run", 0, &unfinished);
    play(all, &plain, "run", 0, &unfinished);
    play(b, &plain, "run", 1, &right);
    play(all, &plain, "run", 1, &right);

    ra = report_json(a, "test", "run", 1);
    rb = report_json(b, "test", "run", 1);
    rall = report_json(all, "test", "run", 1);
    CU_ASSERT_FATAL(ra && rb && rall);
    reps[0] = ra;
    reps[1] = rb;
    merged = report_merge(reps, 2, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(merged);
    if (!json_equal(merged, rall)) {
        char *m = json_dumps(merged, JSON_SORT_KEYS), *w = json_dumps(rall, JSON_SORT_KEYS);

        fprintf(stderr, "\n  merged %s\n  want   %s\n", m, w);
        free(m);
        free(w);
    }
    CU_ASSERT(json_equal(merged, rall));
    /* and the figures are the union's, not a mean of the servers' */
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(merged, "episodes")), 2);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(merged, "unfinished")), 1);
    CU_ASSERT_DOUBLE_EQUAL(num(merged, "wasted_call_rate"), 2.0 / 5, 1e-12);
    CU_ASSERT_EQUAL(
        json_integer_value(json_object_get(json_object_get(merged, "forks"), "episodes")), 2);
    CU_ASSERT_EQUAL(
        json_integer_value(json_object_get(json_object_get(merged, "retries"), "episodes")), 1);
    json_decref(merged);

    /* a report without counts (an older server), or with a negative count, is named */
    bad = json_deep_copy(rb);
    json_object_del(bad, "counts");
    reps[1] = bad;
    memset(&err, 0, sizeof(err));
    CU_ASSERT_PTR_NULL(report_merge(reps, 2, &err));
    CU_ASSERT_STRING_EQUAL(err.code, "invalid_report");
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "no counts"));
    json_decref(bad);
    bad = json_deep_copy(rb);
    json_object_set_new(json_object_get(bad, "counts"), "calls", json_integer(-1));
    reps[1] = bad;
    CU_ASSERT_PTR_NULL(report_merge(reps, 2, &err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "counts.calls"));
    json_decref(bad);

    json_decref(ra);
    json_decref(rb);
    json_decref(rall);
    report_free(a);
    report_free(b);
    report_free(all);
    task_clear(&plain);
    task_clear(&tagged);
}

/* ---- bounded steps, shared prefixes, byte limits and client quotas (issue 9) ------------ */

/* Commit a malformed call: an unknown tool, or a known one whose arguments broke its schema. */
static int call_bad(struct episode *ep, const char *tool, json_t *args, enum judge_outcome oc) {
    json_t *r = NULL;
    int fin = 0, rc = episode_step_begin(ep);

    if (rc == 0)
        rc = episode_step_call(ep, tool, args, oc, NULL,
                               json_pack("{s:b, s:s}", "ok", 0, "content", "error: bad"), &r, &fin);
    json_decref(r);
    return rc;
}

/* A string of n bytes: 'x' repeated, or "é" (2 bytes) repeated when utf8 is set. */
static char *filler(size_t n, int utf8) {
    char *p = malloc(n + 1);

    for (size_t i = 0; i < n; i++)
        p[i] = utf8 ? (i % 2 ? (char)0xa9 : (char)0xc3) : 'x';
    p[n] = '\0';
    return p;
}

/* 1 if s is valid UTF-8. */
static int utf8_valid(const char *s) {
    json_t *j = json_string(s); /* jansson checks */
    int ok = j != NULL;

    json_decref(j);
    return ok;
}

TG_TEST(episode, malformed_steps_store_bounded_arguments) {
    struct task t;
    struct reward_config rc;
    struct episode *ep = NULL;
    char *big = filler(200000, 0), *name = malloc(5002), *wide = filler(5000, 1);
    json_t *args_big = json_pack("{s:s}", "expression", big);
    json_t *args_wide = json_pack("{s:s}", "qq", wide); /* the cut falls inside a character */
    json_t *args_small = json_pack("{s:i}", "expr", 1);
    json_t *view, *traj, *tc, *msgs;
    const char *text;

    name[0] = 'x'; /* then 2,500 "é" */
    for (int i = 1; i < 5001; i += 2) {
        name[i] = (char)0xc3;
        name[i + 1] = (char)0xa9;
    }
    name[5001] = '\0';
    CU_ASSERT_FATAL(load_task(&t) == 0 && args_big && args_wide && args_small);
    reward_config_defaults(&rc);
    CU_ASSERT_FATAL(episode_new(&t, &rc, REWARD_JUDGE, 8, NULL, &ep) == 0);
    ep->feedback = 1; /* a trainer\'s episode: replies carry the judgement */
    /* a tool-level failure of a 200 kB expression, an unknown 5 kB tool name, 2-byte
     * characters cut at the limit, and small bad arguments */
    CU_ASSERT_EQUAL(call_bad(ep, "calculator", args_big, JUDGE_TOOL_FAILED), 0);
    CU_ASSERT_EQUAL(call_bad(ep, name, args_big, JUDGE_UNKNOWN_TOOL), 0);
    CU_ASSERT_EQUAL(call_bad(ep, "search", args_wide, JUDGE_BAD_ARGS), 0);
    CU_ASSERT_EQUAL(call_bad(ep, "calculator", args_small, JUDGE_BAD_ARGS), 0);
    CU_ASSERT_EQUAL_FATAL(ep->nsteps, 4);
    for (int i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(ep->steps[i]->label, JUDGE_MALFORMED);
    /* what an episode holds stays small: ~ a few kB, not 400 kB */
    CU_ASSERT(atomic_load(&ep->bytes) < 16 * 1024);
    view = episode_json(ep);
    for (int i = 0; i < 3; i++) {
        tc = json_object_get(
            json_object_get(json_array_get(json_object_get(view, "steps"), (size_t)i), "action"),
            "tool_call");
        text = json_string_value(json_object_get(tc, "arguments"));
        CU_ASSERT_PTR_NOT_NULL_FATAL(text);
        CU_ASSERT(json_is_true(json_object_get(tc, "arguments_truncated")));
        CU_ASSERT(strlen(text) <= TG_STEP_ARGS_KEEP && strlen(text) > TG_STEP_ARGS_KEEP - 4);
        CU_ASSERT(utf8_valid(text));
        CU_ASSERT(strncmp(text, i == 2 ? "{\"qq\":\"\xc3\xa9" : "{\"expression\":\"xxx", 8) == 0);
    }
    tc = json_object_get(
        json_object_get(json_array_get(json_object_get(view, "steps"), 1), "action"), "tool_call");
    /* "x" then 2-byte characters: the cut at 64 bytes falls inside one, so 63 are kept */
    CU_ASSERT_EQUAL(strlen(json_string_value(json_object_get(tc, "name"))), TG_TOOL_NAME_KEEP - 1);
    CU_ASSERT(json_is_string(json_object_get(
        json_object_get(json_array_get(json_object_get(view, "steps"), 1), "judgement"),
        "reason")));
    /* small arguments are kept as they were */
    tc = json_object_get(
        json_object_get(json_array_get(json_object_get(view, "steps"), 3), "action"), "tool_call");
    CU_ASSERT(json_equal(json_object_get(tc, "arguments"), args_small));
    CU_ASSERT_PTR_NULL(json_object_get(tc, "arguments_truncated"));
    /* the trajectory carries the truncated JSON text as the call's arguments string */
    traj = episode_trajectory_json(ep);
    msgs = json_object_get(traj, "messages");
    text = json_string_value(json_object_get(
        json_object_get(json_array_get(json_object_get(json_array_get(msgs, 2), "tool_calls"), 0),
                        "function"),
        "arguments"));
    CU_ASSERT(text && strncmp(text, "{\"expression\":\"xxx", 18) == 0 &&
              strlen(text) <= TG_STEP_ARGS_KEEP);
    /* a fork replays malformed steps from what was kept */
    {
        struct episode *f = NULL;
        struct tg_error err;

        CU_ASSERT_FATAL(episode_fork(ep, 4, &f, &err) == 0);
        CU_ASSERT_EQUAL(f->ncalls, 4);
        episode_put(f);
    }
    json_decref(traj);
    json_decref(view);
    json_decref(args_big);
    json_decref(args_wide);
    json_decref(args_small);
    free(big);
    free(name);
    free(wide);
    check_line_written(ep);
    episode_put(ep);
    task_clear(&t);
}

/* A call without arguments and an answer are shown (GET) as the actions the agent sent, and
 * a fork replays the call from what the step kept. */
TG_TEST(episode, actions_are_shown_as_sent) {
    struct task t;
    struct reward_config rc;
    struct episode *ep = NULL, *f = NULL;
    struct tg_error err;
    json_t *r = NULL, *view, *want_call, *want_answer, *traj, *msg;
    int fin = 0;

    CU_ASSERT_FATAL(load_json(task_json, &t) == 0);
    reward_config_defaults(&rc);
    CU_ASSERT_FATAL(episode_new(&t, &rc, REWARD_JUDGE, 8, NULL, &ep) == 0);
    CU_ASSERT_EQUAL_FATAL(call_bad(ep, "calculator", NULL, JUDGE_BAD_ARGS), 0);
    CU_ASSERT_FATAL(episode_step_begin(ep) == 0);
    CU_ASSERT_FATAL(episode_step_answer(ep, "caf\xc3\xa9 42", &r, &fin) == 0);
    json_decref(r);
    want_call = json_pack("{s:{s:s, s:n}}", "tool_call", "name", "calculator", "arguments");
    want_answer = json_pack("{s:s}", "answer", "caf\xc3\xa9 42");
    view = episode_json(ep);
    CU_ASSERT(json_equal(
        json_object_get(json_array_get(json_object_get(view, "steps"), 0), "action"), want_call));
    CU_ASSERT(json_equal(
        json_object_get(json_array_get(json_object_get(view, "steps"), 1), "action"), want_answer));
    /* the trajectory: the call's arguments as the JSON text "null", the answer as sent */
    traj = episode_trajectory_json(ep);
    msg = json_array_get(json_object_get(traj, "messages"), 2);
    CU_ASSERT_STRING_EQUAL(
        json_string_value(json_object_get(
            json_object_get(json_array_get(json_object_get(msg, "tool_calls"), 0), "function"),
            "arguments")),
        "null");
    msg = json_array_get(json_object_get(traj, "messages"), 4);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(msg, "content")), "caf\xc3\xa9 42");
    check_line_written(ep);
    CU_ASSERT_FATAL(episode_fork(ep, 1, &f, &err) == 0);
    CU_ASSERT_EQUAL(f->ncalls, 1);
    CU_ASSERT_EQUAL(f->steps[0]->label, ep->steps[0]->label);
    episode_put(f);
    json_decref(traj);
    json_decref(view);
    json_decref(want_call);
    json_decref(want_answer);
    episode_put(ep);
    task_clear(&t);
}

/* A stored call keeps its arguments as text: GET shows the value that was sent (reals to the
 * last bit, NUL bytes, non-ASCII, nesting, key order), the trajectory line the same text, and a
 * fork judges the same value again. */
TG_TEST(episode, arguments_read_back_as_sent) {
    static const char sent[] =
        "{\"query\":\"caf\\u00e9 \\u0000 \\\"q\\\"\",\"z\":[0.1,1e300,-2.5e-308,"
        "123456789012345678,{\"b\":null,\"a\":true}],\"y\":0.30000000000000004}";
    struct task t;
    struct reward_config rc;
    struct episode *ep = NULL, *f = NULL;
    struct tg_error err;
    json_t *args = json_loads(sent, JSON_ALLOW_NUL, NULL), *r = NULL, *view, *shown, *traj;
    json_t *msg, *back, *res = json_pack("{s:[]}", "hits");
    const char *text;
    int fin = 0;

    CU_ASSERT_FATAL(args != NULL && load_json(task_json, &t) == 0);
    reward_config_defaults(&rc);
    CU_ASSERT_FATAL(episode_new(&t, &rc, REWARD_JUDGE, 8, NULL, &ep) == 0);
    CU_ASSERT_EQUAL_FATAL(episode_step_begin(ep), 0);
    CU_ASSERT_EQUAL_FATAL(
        episode_step_call(ep, "search", args, JUDGE_TOOL_OK, res,
                          json_pack("{s:b, s:s, s:O}", "ok", 1, "content", "x", "result", res), &r,
                          &fin),
        0);
    json_decref(r);
    view = episode_json(ep);
    shown = json_object_get(
        json_object_get(
            json_object_get(json_array_get(json_object_get(view, "steps"), 0), "action"),
            "tool_call"),
        "arguments");
    CU_ASSERT(json_equal(shown, args));
    CU_ASSERT(json_real_value(json_array_get(json_object_get(shown, "z"), 0)) == 0.1);
    CU_ASSERT(json_real_value(json_object_get(shown, "y")) == 0.30000000000000004);
    CU_ASSERT_EQUAL(json_string_length(json_object_get(shown, "query")), 11); /* NUL kept */
    /* the trajectory's arguments text reads back to the same value */
    traj = episode_trajectory_json(ep);
    msg = json_array_get(json_object_get(traj, "messages"), 2);
    text = json_string_value(json_object_get(
        json_object_get(json_array_get(json_object_get(msg, "tool_calls"), 0), "function"),
        "arguments"));
    CU_ASSERT_FATAL(text != NULL);
    back = json_loads(text, JSON_ALLOW_NUL, NULL);
    CU_ASSERT(json_equal(back, args));
    CU_ASSERT(strncmp(text, "{\"query\":", 9) == 0); /* in the order sent */
    check_line_written(ep);
    CU_ASSERT_FATAL(episode_fork(ep, 1, &f, &err) == 0);
    CU_ASSERT_EQUAL(f->steps[0]->label, ep->steps[0]->label);
    episode_put(f);
    json_decref(back);
    json_decref(traj);
    json_decref(view);
    json_decref(res);
    json_decref(args);
    episode_put(ep);
    task_clear(&t);
}

/* An episode takes room for its own max_steps, and a run to max_steps of calls that each bring
 * the judge two keys (searches) fills that room exactly; a fork judges the prefix again in it. */
TG_TEST(episode, room_sized_by_max_steps) {
    struct task t;
    struct reward_config rc;
    struct episode *ep = NULL, *f = NULL;
    struct tg_error err;
    json_t *r = NULL;
    char args[64], hits[96];
    int fin = 0;

    CU_ASSERT(episode_struct_bytes(8) < episode_struct_bytes(TG_MAX_STEPS_LIMIT));
    CU_ASSERT(episode_struct_bytes(8) < 2048);
    CU_ASSERT_FATAL(load_task(&t) == 0);
    reward_config_defaults(&rc);
    for (int max = 1; max <= TG_MAX_STEPS_LIMIT; max += max < 4 ? 1 : 29) {
        CU_ASSERT_FATAL(episode_new(&t, &rc, REWARD_JUDGE, max, NULL, &ep) == 0);
        CU_ASSERT_EQUAL(atomic_load(&ep->bytes), episode_struct_bytes(max));
        for (int i = 0; i < max && !fin; i++) {
            snprintf(args, sizeof(args), "{\"query\":\"q%d\"}", i);
            snprintf(hits, sizeof(hits), "{\"hits\":[{\"id\":\"h%d\"}]}", i);
            CU_ASSERT_EQUAL_FATAL(call(ep, "search", args, hits, &r, &fin), 0);
            json_decref(r);
        }
        CU_ASSERT(fin);
        CU_ASSERT_EQUAL(ep->nsteps, (size_t)max);
        CU_ASSERT_EQUAL(ep->js.nkeys, (size_t)max * JUDGE_KEYS_PER_CALL); /* every slot used */
        CU_ASSERT_EQUAL(ep->outcome, REWARD_STEP_LIMIT);
        CU_ASSERT(ep->steps[max - 1]->label != JUDGE_MALFORMED);
        if (max > 1) {
            CU_ASSERT_FATAL(episode_fork(ep, max - 1, &f, &err) == 0);
            CU_ASSERT_EQUAL(f->js.nkeys, ep->js.nkeys - JUDGE_KEYS_PER_CALL);
            CU_ASSERT_EQUAL(call(f, "search", args, hits, &r, &fin), 0);
            CU_ASSERT(fin);
            CU_ASSERT_EQUAL(f->steps[max - 1]->label, ep->steps[max - 1]->label);
            json_decref(r);
            episode_put(f);
        }
        fin = 0;
        episode_put(ep);
    }
    task_clear(&t);
}

TG_TEST(episode, forks_share_their_prefix) {
    struct task t;
    struct reward_config rc;
    struct episode_store *s;
    struct episode *ep = NULL, *f[100];
    struct tg_error err;
    json_t *r = NULL;
    size_t before, after, ub, fork_cost;
    char *code = filler(60000, 0);
    json_t *args = json_pack("{s:s}", "code", code);
    int fin = 0;

    CU_ASSERT_FATAL(load_task(&t) == 0 && args);
    reward_config_defaults(&rc);
    s = store_new(1000, 60, NULL);
    CU_ASSERT_FATAL(episode_new(&t, &rc, REWARD_JUDGE, 64, NULL, &ep) == 0);
    ep->feedback = 1; /* a trainer\'s episode: replies carry the judgement */
    CU_ASSERT_FATAL(episode_store_add(s, ep, "a") == 0);
    /* 40 valid 60 kB run_code calls: 2.4 MB of steps */
    for (int i = 0; i < 40; i++) {
        json_t *res = json_pack("{s:s}", "stdout", "");

        CU_ASSERT_EQUAL_FATAL(episode_step_begin(ep), 0);
        CU_ASSERT_EQUAL(
            episode_step_call(ep, "run_code", args, JUDGE_TOOL_OK, res,
                              json_pack("{s:b, s:s, s:O}", "ok", 1, "content", "", "result", res),
                              &r, &fin),
            0);
        json_decref(r);
        json_decref(res);
        episode_store_update(s, ep);
    }
    before = episode_store_bytes(s);
    CU_ASSERT(before > 40 * 60000);
    for (int i = 0; i < 100; i++) {
        CU_ASSERT_FATAL(episode_fork(ep, 40, &f[i], &err) == 0);
        CU_ASSERT_FATAL(episode_store_add(s, f[i], "b") == 0);
        CU_ASSERT(f[i]->steps[39] == ep->steps[39]); /* the same step, not a copy */
    }
    after = episode_store_bytes(s);
    fork_cost = (after - before) / 100;
    CU_ASSERT(fork_cost <= episode_struct_bytes(64));
    /* the client quota counts what a fork shows, prefix included */
    episode_store_client(s, "b", &ub, &after);
    CU_ASSERT_EQUAL(ub, 100);
    CU_ASSERT(after >= 100 * 40 * 60000ULL);
    /* dropping every episode releases every byte */
    for (int i = 0; i < 100; i++) {
        episode_store_remove(s, f[i]->id);
        episode_put(f[i]);
    }
    CU_ASSERT_EQUAL(episode_store_bytes(s), before);
    episode_store_remove(s, ep->id);
    episode_put(ep);
    CU_ASSERT_EQUAL(episode_store_bytes(s), 0);
    episode_store_free(s);
    json_decref(args);
    free(code);
    task_clear(&t);
}

/* A store with explicit limits and the fake clock. */
static struct episode_store *store_lim(size_t max, size_t max_bytes, size_t ceps, size_t cbytes,
                                       int evict_idle) {
    struct episode_store_limits l;

    episode_store_limits_defaults(&l);
    l.max_episodes = max;
    l.max_bytes = max_bytes;
    l.client_episodes = ceps;
    l.client_bytes = cbytes;
    l.evict_idle_sec = evict_idle;
    l.idle_sec = 3600;
    return episode_store_new(&l, fake_clock);
}

TG_TEST(episode, client_quota_by_count_evicts_own_idle_first) {
    struct task t;
    struct reward_config rc;
    struct episode_store *s;
    struct episode *a[4], *b, *g;
    size_t n, bytes;

    CU_ASSERT_FATAL(load_task(&t) == 0);
    reward_config_defaults(&rc);
    fake_now = 1000000000;
    s = store_lim(100, 1UL << 30, 3, 1UL << 30, 10);
    for (int i = 0; i < 4; i++)
        a[i] = mk(&t, &rc);
    b = mk(&t, &rc);
    for (int i = 0; i < 3; i++) {
        CU_ASSERT(episode_store_add(s, a[i], "addr:10.0.0.1") == 0);
        fake_now += 1000000;
    }
    /* at its quota with live episodes: refused, while another client is not */
    CU_ASSERT_EQUAL(episode_store_add(s, a[3], "addr:10.0.0.1"), TG_ERANGE);
    CU_ASSERT_EQUAL(episode_store_add(s, b, "addr:10.0.0.2"), 0);
    episode_store_client(s, "addr:10.0.0.1", &n, &bytes);
    CU_ASSERT_EQUAL(n, 3);
    /* a[0] and a[1] go idle; a[0] is touched again: a[1] is the least recently used */
    fake_now += 20000000;
    g = episode_store_get(s, a[0]->id);
    episode_put(g);
    CU_ASSERT_EQUAL(episode_store_add(s, a[3], "addr:10.0.0.1"), 0);
    CU_ASSERT_PTR_NULL(episode_store_get(s, a[1]->id));
    g = episode_store_get(s, a[0]->id);
    CU_ASSERT(g == a[0]);
    episode_put(g);
    g = episode_store_get(s, b->id); /* the other client's episode is untouched */
    CU_ASSERT(g == b);
    episode_put(g);
    /* a finished episode does not count against the quota */
    finish(s, a[0]);
    episode_store_client(s, "addr:10.0.0.1", &n, &bytes);
    CU_ASSERT_EQUAL(n, 2);
    CU_ASSERT(bytes > 0);
    for (int i = 0; i < 4; i++)
        episode_put(a[i]);
    episode_put(b);
    episode_store_free(s);
    task_clear(&t);
}

TG_TEST(episode, pressure_evicts_idle_unfinished_oldest_first) {
    struct task t;
    struct reward_config rc;
    struct episode_store *s;
    struct episode *e[6], *g;
    char key[32];

    CU_ASSERT_FATAL(load_task(&t) == 0);
    reward_config_defaults(&rc);
    fake_now = 2000000000;
    s = store_lim(4, 1UL << 30, 4, 1UL << 30, 30);
    for (int i = 0; i < 6; i++)
        e[i] = mk(&t, &rc);
    for (int i = 0; i < 4; i++) { /* four clients, one unfinished episode each */
        snprintf(key, sizeof(key), "c%d", i);
        CU_ASSERT(episode_store_add(s, e[i], key) == 0);
        fake_now += 1000000;
    }
    /* full of live episodes: 503, nobody is evicted */
    CU_ASSERT_EQUAL(episode_store_add(s, e[4], "c9"), TG_EBUSY);
    CU_ASSERT_EQUAL(episode_store_count(s), 4);
    /* 40 s later all are idle, but e[0] was just touched: e[1] is the oldest idle */
    fake_now += 40000000;
    g = episode_store_get(s, e[0]->id);
    episode_put(g);
    CU_ASSERT_EQUAL(episode_store_add(s, e[4], "c9"), 0);
    CU_ASSERT_PTR_NULL(episode_store_get(s, e[1]->id));
    /* a finished episode goes before any unfinished one, even a much older idle one */
    finish(s, e[0]);
    CU_ASSERT_EQUAL(episode_store_add(s, e[5], "c9"), 0);
    CU_ASSERT_PTR_NULL(episode_store_get(s, e[0]->id));
    g = episode_store_get(s, e[2]->id);
    CU_ASSERT(g == e[2]);
    episode_put(g);
    for (int i = 0; i < 6; i++)
        episode_put(e[i]);
    episode_store_free(s);
    task_clear(&t);
}

TG_TEST(episode, byte_limits_refuse_steps_and_adds) {
    struct task t;
    struct reward_config rc;
    struct episode_store *s;
    struct episode *a = NULL, *b = NULL, *c = NULL, *f = NULL;
    struct tg_error err;
    char *code = filler(30000, 0);
    json_t *args = json_pack("{s:s}", "code", code), *r = NULL;
    char aid[EPISODE_ID_LEN + 1];
    int fin = 0, steps = 0, rc2 = 0;

    CU_ASSERT_FATAL(load_task(&t) == 0 && args);
    reward_config_defaults(&rc);
    fake_now = 3000000000;
    /* the store holds 1 MB; a client 200 kB */
    s = store_lim(100, 1000000, 100, 200000, 30);
    CU_ASSERT_FATAL(episode_new(&t, &rc, REWARD_JUDGE, 64, NULL, &a) == 0);
    CU_ASSERT_FATAL(episode_store_add(s, a, "x") == 0);
    /* steps of ~30 kB each until the client's share is used: 429 (TG_ERANGE) */
    while (steps < 60) {
        json_t *res = json_pack("{s:s}", "stdout", "");

        rc2 = episode_store_admit(s, a);
        if (rc2 != 0) {
            json_decref(res);
            break;
        }
        episode_step_begin(a);
        episode_step_call(a, "run_code", args, JUDGE_TOOL_OK, res,
                          json_pack("{s:b, s:s, s:O}", "ok", 1, "content", "", "result", res), &r,
                          &fin);
        json_decref(r);
        json_decref(res);
        episode_store_update(s, a);
        steps++;
    }
    CU_ASSERT_EQUAL(rc2, TG_ERANGE);
    CU_ASSERT(steps >= 5 && steps <= 8);
    /* a fork of it cannot fit in any client's share */
    CU_ASSERT_FATAL(episode_fork(a, (long long)steps, &f, &err) == 0);
    CU_ASSERT_EQUAL(episode_store_add(s, f, "y"), TG_ERANGE);
    episode_put(f);
    /* four more clients fill the store itself: then 503 (TG_EBUSY) for everyone */
    for (int k = 0; k < 4 && rc2 != TG_EBUSY; k++) {
        char key[8];

        snprintf(key, sizeof(key), "k%d", k);
        episode_put(b);
        b = NULL;
        CU_ASSERT_FATAL(episode_new(&t, &rc, REWARD_JUDGE, 64, NULL, &b) == 0);
        rc2 = episode_store_add(s, b, key);
        while (rc2 == 0) {
            json_t *res = json_pack("{s:s}", "stdout", "");

            rc2 = episode_store_admit(s, b);
            if (rc2 == 0) {
                episode_step_begin(b);
                episode_step_call(
                    b, "run_code", args, JUDGE_TOOL_OK, res,
                    json_pack("{s:b, s:s, s:O}", "ok", 1, "content", "", "result", res), &r, &fin);
                json_decref(r);
                episode_store_update(s, b);
            }
            json_decref(res);
        }
    }
    CU_ASSERT_EQUAL(rc2, TG_EBUSY);
    CU_ASSERT(episode_store_bytes(s) <= 1000000 + 40000); /* over by at most one step */
    CU_ASSERT_FATAL(episode_new(&t, &rc, REWARD_JUDGE, 8, NULL, &c) == 0);
    CU_ASSERT_EQUAL(episode_store_add(s, c, "z"), TG_EBUSY);
    /* once a finishes it is evictable, and room is made for a newcomer (the store's is the
     * last reference, so evicting it frees its steps) */
    CU_ASSERT_EQUAL(episode_step_begin(a), 0);
    episode_step_answer(a, "1", &r, &fin);
    json_decref(r);
    episode_store_update(s, a);
    snprintf(aid, sizeof(aid), "%s", a->id);
    episode_put(a);
    CU_ASSERT_EQUAL(episode_store_add(s, c, "z"), 0);
    CU_ASSERT_PTR_NULL(episode_store_get(s, aid));
    episode_put(b);
    episode_put(c);
    episode_store_free(s);
    json_decref(args);
    free(code);
    task_clear(&t);
}

/* The step reply written straight (episode_step_call_text, what the API sends) is the reply
 * episode_step_call builds, as the HTTP layer renders it (jsonw, ASCII): two episodes make the
 * same calls — a success, a tool failure with non-ASCII, quotes and controls in its text, a
 * malformed call, and the call that reaches max_steps — with and without feedback. */
/* The step reply written straight (text) is the built one (tree) as the HTTP layer renders it. */
static void check_reply_text(const json_t *tree, const struct dbuf *text) {
    char *want = jsonw_dumps(tree, JSONW_ASCII, 1 << 16, NULL);

    CU_ASSERT_PTR_NOT_NULL_FATAL(want);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text->p);
    if (strcmp(want, text->p) != 0)
        fprintf(stderr, "\n  built   %s\n  written %s\n", want, text->p);
    CU_ASSERT_STRING_EQUAL(text->p, want);
    free(want);
}

TG_TEST(episode, step_reply_text_is_the_built_reply) {
    static const struct {
        const char *tool, *args, *result;
        enum judge_outcome oc;
        const char *content;
    } calls[] = {
        {"calculator", "{\"expression\":\"2*21\"}", "{\"value\":42}", JUDGE_TOOL_OK, "42"},
        {"search", "{\"query\":\"caf\\u00e9\"}", NULL, JUDGE_TOOL_FAILED,
         "error: \"caf\xc3\xa9\"\n\t\x01 \xf0\x9f\x98\x80 \\"},
        {"nope", "[1]", NULL, JUDGE_UNKNOWN_TOOL, "error: unknown_tool"},
        {"search", "{\"query\":\"x\"}", "{\"hits\":[{\"id\":\"d1\",\"score\":0.25}]}",
         JUDGE_TOOL_OK, "1 hit"},
    };
    struct task t;
    struct reward_config rc;

    CU_ASSERT_FATAL(load_task(&t) == 0);
    reward_config_defaults(&rc);
    for (int feedback = 0; feedback <= 1; feedback++) {
        struct episode *a = NULL, *b = NULL;

        CU_ASSERT_FATAL(episode_new(&t, &rc, REWARD_JUDGE, 4, "tg", &a) == 0);
        CU_ASSERT_FATAL(episode_new(&t, &rc, REWARD_JUDGE, 4, "tg", &b) == 0);
        a->feedback = b->feedback = feedback;
        for (size_t i = 0; i < TG_ARRAY_LEN(calls); i++) {
            json_t *args = json_loads(calls[i].args, 0, NULL);
            json_t *res = calls[i].result ? json_loads(calls[i].result, 0, NULL) : NULL;
            json_t *obs =
                res ? json_pack("{s:b, s:s, s:O}", "ok", 1, "content", calls[i].content, "result",
                                res)
                    : json_pack("{s:b, s:s, s:{s:s, s:s}}", "ok", 0, "content", calls[i].content,
                                "error", "code", "x", "message", calls[i].content);
            json_t *tree = NULL;
            struct dbuf text;
            int fa = 0, fb = 0;

            dbuf_init(&text, 1 << 16);
            CU_ASSERT_FATAL(episode_step_begin(a) == 0 && episode_step_begin(b) == 0);
            CU_ASSERT(episode_step_call(a, calls[i].tool, args, calls[i].oc, res, json_incref(obs),
                                        &tree, &fa) == 0);
            CU_ASSERT(episode_step_call_text(b, calls[i].tool, args, calls[i].oc, res, obs, &text,
                                             &fb) == 0);
            check_reply_text(tree, &text);
            CU_ASSERT_EQUAL(fa, fb);
            CU_ASSERT_EQUAL(fb, i + 1 == TG_ARRAY_LEN(calls)); /* the last reaches max_steps */
            dbuf_free(&text);
            json_decref(tree);
            json_decref(args);
            json_decref(res);
        }
        episode_put(a);
        episode_put(b);
    }
    task_clear(&t);
}

/* A step committed from the tool's response as parts (episode_step_call_result, the HTTP
 * path) replies, shows, logs and forks exactly as one committed with the response built as a
 * tree (tool_result_json): ok with a result, a failure with a result (as run_code's), a
 * failure with hostile text and none, ok without a result, results with reals. */
TG_TEST(episode, step_from_response_parts_is_the_built_step) {
    static const struct {
        const char *tool, *args, *result;
        int ok;
        const char *content, *code;
    } calls[] = {
        {"calculator", "{\"expression\":\"2*21\"}", "{\"value\":42}", 1, "42", ""},
        {"run_code", "{\"code\":\"exit(3)\"}", "{\"stdout\":\"\",\"exit_code\":3}", 0,
         "exit code 3", "nonzero_exit"},
        {"search", "{\"query\":\"caf\\u00e9\"}", NULL, 0,
         "error: \"caf\xc3\xa9\"\n\t\x01 \xf0\x9f\x98\x80 \\", "bad_query"},
        {"search", "{\"query\":\"x\"}", NULL, 1, "", ""},
        /* reals whose "%.15g" differs from their exact text (the step keeps both) */
        {"calculator", "{\"expression\":\"0.1+0.2\"}",
         "{\"value\":0.30000000000000004,\"terms\":[1e-7,2.5,100.0]}", 1, "0.3", ""},
        {"search", "{\"query\":\"y\"}",
         "{\"hits\":[{\"id\":\"d1\",\"score\":0.33333333333333331,\"snippet\":\"caf\\u00e9\"}]}", 1,
         "d1", ""},
    };
    struct task t;
    struct reward_config rc;

    CU_ASSERT_FATAL(load_task(&t) == 0);
    reward_config_defaults(&rc);
    for (int feedback = 0; feedback <= 1; feedback++) {
        struct episode *a = NULL, *b = NULL, *f = NULL;
        json_t *va, *vb, *ta, *tb;
        struct tg_error err;

        CU_ASSERT_FATAL(episode_new(&t, &rc, REWARD_JUDGE, 8, "tg", &a) == 0);
        CU_ASSERT_FATAL(episode_new(&t, &rc, REWARD_JUDGE, 8, "tg", &b) == 0);
        a->feedback = b->feedback = feedback;
        for (size_t i = 0; i < TG_ARRAY_LEN(calls); i++) {
            json_t *args = json_loads(calls[i].args, 0, NULL), *tree = NULL, *obs;
            struct tool_result res = {0};
            enum judge_outcome oc = calls[i].ok ? JUDGE_TOOL_OK : JUDGE_TOOL_FAILED;
            struct dbuf text;
            int fa = 0, fb = 0;

            res.ok = calls[i].ok;
            res.content = strdup(calls[i].content);
            res.result = calls[i].result ? json_loads(calls[i].result, 0, NULL) : NULL;
            if (!res.ok)
                tg_error_set(&res.err, calls[i].code, "%s", calls[i].content);
            obs = tool_result_json(&res);
            CU_ASSERT_PTR_NOT_NULL_FATAL(obs);
            dbuf_init(&text, 1 << 16);
            CU_ASSERT_FATAL(episode_step_begin(a) == 0 && episode_step_begin(b) == 0);
            CU_ASSERT(episode_step_call(a, calls[i].tool, args, oc, res.result, obs, &tree, &fa) ==
                      0);
            CU_ASSERT(episode_step_call_result(b, calls[i].tool, args, oc, &res, &text, &fb) == 0);
            /* the step took the content and kept the result as text */
            CU_ASSERT_PTR_NULL(res.content);
            CU_ASSERT_EQUAL(b->steps[i]->result != NULL, res.result != NULL);
            check_reply_text(tree, &text);
            CU_ASSERT_EQUAL(fa, fb);
            CU_ASSERT_EQUAL(a->steps[i]->label, b->steps[i]->label);
            dbuf_free(&text);
            json_decref(tree);
            json_decref(args);
            tool_result_clear(&res);
        }
        /* GET shows the same steps; the log holds the same messages and steps */
        va = episode_json(a);
        vb = episode_json(b);
        CU_ASSERT(json_equal(json_object_get(va, "steps"), json_object_get(vb, "steps")));
        ta = episode_trajectory_json(a);
        tb = episode_trajectory_json(b);
        CU_ASSERT(json_equal(json_object_get(ta, "messages"), json_object_get(tb, "messages")));
        CU_ASSERT(json_equal(json_object_get(ta, "steps"), json_object_get(tb, "steps")));
        check_line_written(b);
        /* a fork replays the calls from the parts: the same labels */
        CU_ASSERT_FATAL(episode_fork(b, (long long)TG_ARRAY_LEN(calls), &f, &err) == 0);
        for (size_t i = 0; i < TG_ARRAY_LEN(calls); i++)
            CU_ASSERT_EQUAL(f->steps[i]->label, b->steps[i]->label);
        CU_ASSERT_EQUAL(f->ret, b->ret);
        episode_put(f);
        json_decref(va);
        json_decref(vb);
        json_decref(ta);
        json_decref(tb);
        episode_put(a);
        episode_put(b);
    }
    task_clear(&t);
}
