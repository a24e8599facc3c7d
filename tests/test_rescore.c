/*
 * test_rescore.c — suite `rescore`: stored trajectories judged again without tools.
 *
 * A real server with a trajectory log plays episodes of every kind (the oracle, random and
 * overcaller agents, malformed calls, step limits, a fork); rescoring that log with the
 * server's own configuration reproduces every logged label, reward, return and outcome
 * exactly; another reward mode changes returns but no label; lines that are not trajectories
 * are reported with their line numbers and skipped, with a count; an OpenAI chat-format log
 * with only text tool replies is judged like the server judged it; the command line works.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/eval.h"
#include "server/report.h"
#include "server/rescore.h"
#include "server/reward.h"
#include "server/server.h"
#include "server/task.h"
#include "server/trajlog.h"
#include "tg_test.h"
#include "tools/tools.h"

#define TEST_TASKS "data/tasks/test.jsonl"

static struct task_set *load(const char *path) {
    struct task_set *ts = task_set_new();
    struct tg_error err;

    if (!ts || task_set_load(ts, path, &err) != 0) {
        task_set_free(ts);
        return NULL;
    }
    return ts;
}

static long post(const char *base, const char *path, const char *body, json_t **out) {
    char url[512];
    struct http_resp r;
    long st;

    snprintf(url, sizeof(url), "%s%s", base, path);
    *out = NULL;
    if (test_http("POST", url, body, strlen(body), NULL, NULL, &r) != 0)
        return -1;
    st = r.status;
    *out = r.len ? json_loads(r.body, 0, NULL) : NULL;
    http_resp_free(&r);
    return st;
}

static char forked_from[128]; /* the id of the episode play_everything forks */

/* Play the episodes of every kind against a server logging to traj. */
static void play_everything(const char *traj) {
    static const char *const agents[] = {"oracle", "random", "overcaller", "eager"};
    struct server_config c;
    struct server *s;
    char id[128], path[256];
    json_t *j = NULL;

    server_config_defaults(&c);
    c.quiet = 1;
    c.tasks = TEST_TASKS;
    c.trajectories = traj;
    c.unsafe_sandbox = 1;
    s = test_server_start(&c);
    CU_ASSERT_FATAL(s != NULL);
    for (size_t i = 0; i < TG_ARRAY_LEN(agents); i++) {
        struct eval_options o;
        struct eval_agent a;
        struct tg_error err;
        json_t *rep = NULL;

        memset(&o, 0, sizeof(o));
        o.server = test_server_url(s);
        o.split = "test";
        o.agent = agents[i];
        o.tasks = TEST_TASKS;
        o.episodes = 40;
        o.max_steps = 5;
        o.seed = 7;
        o.quiet = 1;
        CU_ASSERT_FATAL(eval_agent_new(&o, &a, &err) == 0);
        CU_ASSERT_EQUAL(eval_run(&o, &a, &rep, NULL, &err), 0);
        json_decref(rep);
    }
    /* malformed calls of every kind, then a fork of the episode finished another way */
    CU_ASSERT_EQUAL(post(test_server_url(s), "/v1/episodes", "{\"task_id\":\"test-00001\"}", &j),
                    201);
    snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(j, "episode_id")));
    snprintf(forked_from, sizeof(forked_from), "%s", id);
    json_decref(j);
    snprintf(path, sizeof(path), "/v1/episodes/%s/step", id);
    post(test_server_url(s), path, "{\"tool_call\":{\"name\":\"teleport\",\"arguments\":{}}}", &j);
    json_decref(j);
    post(test_server_url(s), path, "{\"tool_call\":{\"name\":\"calculator\",\"arguments\":\"1+\"}}",
         &j);
    json_decref(j);
    post(test_server_url(s), path,
         "{\"tool_call\":{\"name\":\"calculator\",\"arguments\":{\"expr\":\"1\"}}}", &j);
    json_decref(j);
    post(test_server_url(s), path,
         "{\"tool_call\":{\"name\":\"calculator\",\"arguments\":{\"expression\":\"1/0\"}}}", &j);
    json_decref(j);
    snprintf(path, sizeof(path), "/v1/episodes/%s/fork", id);
    CU_ASSERT_EQUAL(post(test_server_url(s), path, "{\"at\":2}", &j), 201);
    snprintf(path, sizeof(path), "/v1/episodes/%s/step",
             json_string_value(json_object_get(j, "episode_id")));
    json_decref(j);
    post(test_server_url(s), path, "{\"answer\":\"Answer: 12\"}", &j);
    json_decref(j);
    snprintf(path, sizeof(path), "/v1/episodes/%s/step", id);
    post(test_server_url(s), path, "{\"answer\":\"2917594\"}", &j);
    json_decref(j);
    test_server_stop(s);
}

struct all_lines {
    json_t *a;
};

static int keep(const json_t *line, void *ud) {
    json_array_append(((struct all_lines *)ud)->a, (json_t *)line);
    return 0;
}

/* The lines of a JSONL text. */
static json_t *parse_lines(const char *text) {
    json_t *a = json_array();

    while (text && *text) {
        const char *nl = strchr(text, '\n');
        size_t n = nl ? (size_t)(nl - text) : strlen(text);

        json_array_append_new(a, json_loadb(text, n, 0, NULL));
        text += n + (nl != NULL);
    }
    return a;
}

TG_TEST(rescore, own_configuration_reproduces_every_label_and_reward) {
    char traj[128];
    struct task_set *ts = load(TEST_TASKS);
    struct reward_config rc;
    struct rescore_config c = {ts, &rc, -1};
    struct rescore_stats st;
    struct tg_error err;
    struct all_lines in = {json_array()};
    struct trajlog_stats ls;
    struct report *rep = report_new();
    char *buf = NULL;
    size_t len = 0, labels[16] = {0};
    FILE *out = open_memstream(&buf, &len);
    json_t *outl, *r1;
    int reproduced = 1;

    CU_ASSERT_FATAL(ts != NULL && out != NULL && rep != NULL);
    snprintf(traj, sizeof(traj), "/tmp/tg_rescore_%d.jsonl", (int)getpid());
    unlink(traj);
    play_everything(traj);
    CU_ASSERT_EQUAL(trajlog_read_file(traj, keep, &in, &ls, &err), 0);
    CU_ASSERT(ls.lines >= 160);
    reward_config_defaults(&rc);
    CU_ASSERT_EQUAL(rescore_file(&c, traj, out, rep, &st, NULL, NULL, &err), 0);
    fclose(out);
    CU_ASSERT_EQUAL(st.rescored, ls.lines);
    CU_ASSERT_EQUAL(st.skipped, 0);
    CU_ASSERT_EQUAL(st.labels_changed, 0);
    CU_ASSERT_EQUAL(st.rewards_changed, 0);
    CU_ASSERT_EQUAL(st.returns_changed, 0);
    outl = parse_lines(buf);
    CU_ASSERT_EQUAL_FATAL(json_array_size(outl), json_array_size(in.a));
    for (size_t i = 0; i < json_array_size(outl); i++) {
        const json_t *a = json_array_get(in.a, i), *b = json_array_get(outl, i), *s;
        size_t k;

        /* byte for byte as logged: steps (labels, rewards, calls, responses), return, outcome */
        if (!json_equal(a, b)) {
            char *x = json_dumps(a, JSON_COMPACT), *y = json_dumps(b, JSON_COMPACT);

            fprintf(stderr, "\nlogged   %s\nrescored %s\n", x, y);
            free(x);
            free(y);
            reproduced = 0;
        }
        json_array_foreach(json_object_get(a, "steps"), k, s) {
            enum judge_label l;

            if (judge_label_parse(json_string_value(json_object_get(s, "label")), &l) == 0 &&
                (size_t)l < TG_ARRAY_LEN(labels))
                labels[l]++;
        }
    }
    CU_ASSERT(reproduced);
    /* the log exercised the judge: every call label and every ending */
    CU_ASSERT(labels[JUDGE_NECESSARY] > 0 && labels[JUDGE_REDUNDANT] + labels[JUDGE_UNNECESSARY] +
                                                     labels[JUDGE_WRONG_ARGS] +
                                                     labels[JUDGE_PREMATURE] >
                                                 0);
    CU_ASSERT(labels[JUDGE_MALFORMED] >= 4 && labels[JUDGE_CORRECT] > 0 &&
              labels[JUDGE_INCORRECT] > 0);
    r1 = report_json(rep, "test", NULL, 0);
    /* every line counts once: first attempts at the top, a task's later lines as retries, the
     * fork's line (it names its source) as a fork, with the two calls it inherited (issue 15:
     * as the server's report counts it) */
    CU_ASSERT_EQUAL(
        json_integer_value(json_object_get(r1, "episodes")) +
            json_integer_value(json_object_get(json_object_get(r1, "retries"), "episodes")) +
            json_integer_value(json_object_get(json_object_get(r1, "forks"), "episodes")),
        (json_int_t)ls.lines);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(r1, "forks"), "episodes")),
                    1);
    CU_ASSERT_DOUBLE_EQUAL(
        json_number_value(json_object_get(json_object_get(r1, "forks"), "calls_per_episode")), 2.0,
        1e-12);
    json_decref(r1);
    {
        const json_t *line, *fk;
        size_t i, nforks = 0;

        json_array_foreach(in.a, i, line) {
            fk = json_object_get(line, "fork");
            if (!fk)
                continue;
            nforks++;
            CU_ASSERT_EQUAL(json_integer_value(json_object_get(fk, "at")), 2);
            CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(fk, "of")), forked_from);
            CU_ASSERT_EQUAL(json_array_size(json_object_get(line, "steps")), 3);
        }
        CU_ASSERT_EQUAL(nforks, 1);
    }

    /* another reward mode: the same labels, other returns */
    {
        FILE *o2;
        char *b2 = NULL;
        size_t l2 = 0;

        o2 = open_memstream(&b2, &l2);
        c.mode = REWARD_TORL;
        CU_ASSERT_EQUAL(rescore_file(&c, traj, o2, NULL, &st, NULL, NULL, &err), 0);
        fclose(o2);
        CU_ASSERT_EQUAL(st.labels_changed, 0);
        CU_ASSERT(st.returns_changed > 0);
        CU_ASSERT(strstr(b2, "\"reward_mode\":\"torl\"") != NULL);
        free(b2);
    }
    json_decref(outl);
    json_decref(in.a);
    free(buf);
    report_free(rep);
    task_set_free(ts);
    unlink(traj);
}

struct bad_seen {
    size_t lines[8];
    size_t n;
};

static void on_bad(void *ud, size_t line_no, const char *why) {
    struct bad_seen *b = ud;

    (void)why;
    if (b->n < 8)
        b->lines[b->n++] = line_no;
}

TG_TEST(rescore, bad_lines_reported_by_number_and_skipped) {
    static const char good[] =
        "{\"task_id\":\"ep-mental-1\",\"messages\":[{\"role\":\"user\",\"content\":\"What is 2 + "
        "3?\"},{\"role\":\"assistant\",\"content\":\"5\"}]}\n";
    char path[128];
    struct task_set *ts = load("tests/data/episodes_tasks.jsonl");
    struct reward_config rc;
    struct rescore_config c = {ts, &rc, -1};
    struct rescore_stats st;
    struct bad_seen b = {{0}, 0};
    struct tg_error err;
    char *buf = NULL;
    size_t len = 0;
    FILE *f, *out = open_memstream(&buf, &len);

    CU_ASSERT_FATAL(ts != NULL && out != NULL);
    reward_config_defaults(&rc);
    snprintf(path, sizeof(path), "/tmp/tg_rescore_bad_%d.jsonl", (int)getpid());
    f = fopen(path, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs(good, f);                                       /* 1 */
    fputs("this is not json\n", f);                       /* 2 */
    fputs("{\"task_id\":\"ep-mental-1\"}\n", f);          /* 3: no messages */
    fputs("{\"task_id\":\"nope\",\"messages\":[]}\n", f); /* 4: unknown task */
    fputs("[1,2,3]\n", f);                                /* 5 */
    fputs("{\"task_id\":\"ep-arith-1\",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":"
          "[{\"id\":\"a\",\"type\":\"function\",\"function\":{\"name\":\"calculator\","
          "\"arguments\":\"{}\"}}]}]}\n",
          f);                                         /* 6: a call without its tool message */
    fputs(good, f);                                   /* 7 */
    fputs("{\"task_id\":\"ep-mental-1\",\"messa", f); /* 8: torn */
    fclose(f);
    CU_ASSERT_EQUAL(rescore_file(&c, path, out, NULL, &st, on_bad, &b, &err), 0);
    fclose(out);
    CU_ASSERT_EQUAL(st.lines, 8);
    CU_ASSERT_EQUAL(st.rescored, 2);
    CU_ASSERT_EQUAL(st.skipped, 6);
    CU_ASSERT_EQUAL(b.n, 6);
    CU_ASSERT(b.lines[0] == 2 && b.lines[1] == 3 && b.lines[2] == 4 && b.lines[3] == 5 &&
              b.lines[4] == 6 && b.lines[5] == 8);
    CU_ASSERT(strstr(buf, "\"label\":\"correct\"") != NULL);
    free(buf);
    task_set_free(ts);
    unlink(path);
}

/* An OpenAI chat-format log with text-only tool replies (no toolgym fields) is judged the way
 * the server judged the same calls: the responses are read back from the text. */
TG_TEST(rescore, plain_chat_log_judged_like_the_server) {
    struct server_config sc;
    struct server *s;
    struct task_set *ts = load("tests/data/episodes_tasks.jsonl");
    struct reward_config rc;
    struct rescore_config c = {ts, &rc, -1};
    struct tg_error err;
    struct episode_summary sum;
    json_t *hit = NULL, *calc = NULL, *line, *out = NULL, *steps;
    char *text;

    server_config_defaults(&sc);
    sc.quiet = 1;
    sc.tasks = "tests/data/episodes_tasks.jsonl";
    s = test_server_start(&sc);
    CU_ASSERT_FATAL(s != NULL && ts != NULL);
    reward_config_defaults(&rc);
    /* the tools' real texts, as a model would have read them */
    CU_ASSERT_EQUAL(post(test_server_url(s), "/v1/tools/search",
                         "{\"arguments\":{\"query\":\"Quifenmor mean radius\"}}", &hit),
                    200);
    CU_ASSERT_EQUAL(post(test_server_url(s), "/v1/tools/calculator",
                         "{\"arguments\":{\"expression\":\"16801 * 2\"}}", &calc),
                    200);
    test_server_stop(s);
    line =
        json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:n, s:[{s:s, s:s, s:{s:s, s:s}}]}, {s:s, s:s, s:O},"
                  "{s:s, s:n, s:[{s:s, s:s, s:{s:s, s:s}}]}, {s:s, s:s, s:O}, {s:s, s:s},"
                  "{s:s, s:s}]}",
                  "task_id", "ep-lookar-1", "messages", "role", "user", "content",
                  "What is twice the mean radius of the planet Quifenmor, in kilometres?", "role",
                  "assistant", "content", "tool_calls", "id", "c1", "type", "function", "function",
                  "name", "search", "arguments", "{\"query\": \"Quifenmor mean radius\"}", "role",
                  "tool", "tool_call_id", "c1", "content", json_object_get(hit, "content"), "role",
                  "assistant", "content", "tool_calls", "id", "c2", "type", "function", "function",
                  "name", "calculator", "arguments", "{\"expression\": \"16801 * 2\"}", "role",
                  "tool", "tool_call_id", "c2", "content", json_object_get(calc, "content"), "role",
                  "assistant", "content", "Answer: 33602", "role", "user", "content", "thanks");
    CU_ASSERT_FATAL(line != NULL);
    CU_ASSERT_EQUAL_FATAL(rescore_line(&c, line, &out, &sum, &err), 0);
    steps = json_object_get(out, "steps");
    text = json_dumps(steps, JSON_COMPACT);
    CU_ASSERT_EQUAL(json_array_size(steps), 3);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(steps, 0), "label")),
                           "necessary");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(steps, 1), "label")),
                           "necessary");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(steps, 2), "label")),
                           "correct");
    CU_ASSERT(json_is_true(json_object_get(out, "correct")));
    CU_ASSERT(sum.plan_match);
    free(text);
    json_decref(out);
    json_decref(line);
    json_decref(hit);
    json_decref(calc);
    task_set_free(ts);
}

TG_TEST(rescore, command_line) {
    const char *bin = getenv("TOOLGYM_BIN");
    char in[128], outp[128], cmd[1024], errp[128];
    FILE *f;
    char *err_text = NULL;
    size_t n = 0;

    if (!bin)
        bin = "build/toolgym";
    snprintf(in, sizeof(in), "/tmp/tg_rescore_cli_%d.jsonl", (int)getpid());
    snprintf(outp, sizeof(outp), "/tmp/tg_rescore_cli_out_%d.jsonl", (int)getpid());
    snprintf(errp, sizeof(errp), "/tmp/tg_rescore_cli_err_%d.txt", (int)getpid());
    f = fopen(in, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs(
        "{\"task_id\":\"ep-mental-1\",\"messages\":[{\"role\":\"assistant\",\"content\":\"5\"}]}\n"
        "garbage\n",
        f);
    fclose(f);
    snprintf(cmd, sizeof(cmd),
             "%s rescore --trajectories %s --tasks tests/data/episodes_tasks.jsonl --out %s "
             "--reward-mode torl >/dev/null 2>%s",
             bin, in, outp, errp);
    CU_ASSERT_EQUAL(system(cmd), 0);
    f = fopen(errp, "r");
    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT(getdelim(&err_text, &n, '\0', f) > 0);
    fclose(f);
    CU_ASSERT(strstr(err_text, ":2: skipped: not a JSON object") != NULL);
    CU_ASSERT(strstr(err_text, "2 lines: 1 rescored, 1 skipped") != NULL);
    f = fopen(outp, "r");
    CU_ASSERT_FATAL(f != NULL);
    {
        char line[4096];

        CU_ASSERT(fgets(line, sizeof(line), f) != NULL);
        CU_ASSERT(strstr(line, "\"reward_mode\":\"torl\"") != NULL);
        CU_ASSERT(fgets(line, sizeof(line), f) == NULL);
    }
    fclose(f);
    free(err_text);
    unlink(in);
    unlink(outp);
    unlink(errp);
}

/* What each tool's text stands for, read back (logs of text only). */
TG_TEST(rescore, tool_results_read_back_from_text) {
    const struct tool *calc = tools_find("calculator"), *search = tools_find("search"),
                      *code = tools_find("run_code");
    json_t *r = NULL;

    CU_ASSERT_FATAL(calc && search && code);
    CU_ASSERT_EQUAL(tools_result_from_content(calc, "4675233", &r), 0);
    CU_ASSERT(json_is_integer(json_object_get(r, "value")) &&
              json_integer_value(json_object_get(r, "value")) == 4675233);
    json_decref(r);
    CU_ASSERT_EQUAL(tools_result_from_content(calc, "-2.5e-3", &r), 0);
    CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(r, "value")), -0.0025, 1e-15);
    json_decref(r);
    CU_ASSERT_EQUAL(tools_result_from_content(calc, "error: division_by_zero: x", &r), TG_EINVAL);
    CU_ASSERT(r == NULL);

    CU_ASSERT_EQUAL(tools_result_from_content(search, "no results", &r), 0);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(r, "hits")), 0);
    json_decref(r);
    CU_ASSERT_EQUAL(tools_result_from_content(
                        search,
                        "1. Vel (North) (d00012): ...radius 16801 km (mean).\n2. Ost (d00007): "
                        "It has\nno moons.",
                        &r),
                    0);
    CU_ASSERT_EQUAL_FATAL(json_array_size(json_object_get(r, "hits")), 2);
    {
        const json_t *h0 = json_array_get(json_object_get(r, "hits"), 0),
                     *h1 = json_array_get(json_object_get(r, "hits"), 1);

        CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(h0, "id")), "d00012");
        CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(h0, "title")), "Vel (North)");
        CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(h0, "snippet")),
                               "...radius 16801 km (mean).");
        CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(h1, "id")), "d00007");
        CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(h1, "snippet")),
                               "It has\nno moons.");
    }
    json_decref(r);
    CU_ASSERT_EQUAL(tools_result_from_content(search, "42", &r), TG_EINVAL);

    CU_ASSERT_EQUAL(tools_result_from_content(code, "168\n", &r), 0);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r, "stdout")), "168\n");
    json_decref(r);
    CU_ASSERT_EQUAL(tools_result_from_content(code, "out\n[stderr]\nwarn\n", &r), 0);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r, "stdout")), "out\n");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r, "stderr")), "warn\n");
    json_decref(r);
    CU_ASSERT_EQUAL(tools_result_from_content(code, "(no output)\n", &r), 0);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r, "stdout")), "");
    json_decref(r);
}
