/*
 * test_openai.c — suite `openai`: `toolgym eval --agent openai` against a scripted chat
 * completions endpoint (tests/mock_llm.c replaying tests/data/llm_script.json) and a real
 * server on port 0 with tests/data/llm_tasks.jsonl. One run covers a plain answer, a single
 * tool call, parallel tool calls, malformed arguments and an unknown tool, a 429 with
 * Retry-After, a 500, a response cut off mid-body and a garbage response; then what the model
 * was sent is checked (tool messages in order with their ids, no judge label anywhere), what
 * the server judged, and the trajectory file.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/eval.h"
#include "client/openai.h"
#include "mock_llm.h"
#include "server/rescore.h"
#include "server/reward.h"
#include "server/server.h"
#include "server/task.h"
#include "server/trajlog.h"
#include "tg_test.h"

#define LLM_TASKS  "tests/data/llm_tasks.jsonl"
#define LLM_SCRIPT "tests/data/llm_script.json"

static struct server *start(void) {
    struct server_config c;

    server_config_defaults(&c);
    c.quiet = 1;
    c.tasks = LLM_TASKS;
    c.unsafe_sandbox = 1;
    return test_server_start(&c);
}

/* The i-th request's first user message and its number of assistant messages. */
static const json_t *find_request(struct mock_llm *m, const char *marker, int turn) {
    for (size_t i = 0; i < mock_llm_requests(m); i++) {
        const json_t *rq = mock_llm_request(m, i), *msg;
        const char *user = json_string_value(
            json_object_get(json_array_get(json_object_get(rq, "messages"), 1), "content"));
        int t = 0;
        size_t k;

        json_array_foreach(json_object_get(rq, "messages"), k, msg) {
            t += strcmp(json_string_value(json_object_get(msg, "role")) ?: "", "assistant") == 0;
        }
        if (user && strstr(user, marker) && t == turn)
            return rq;
    }
    return NULL;
}

struct lines {
    json_t *all;
};

static int keep(const json_t *line, void *ud) {
    struct lines *l = ud;

    json_array_append(l->all, (json_t *)line);
    return 0;
}

static const json_t *line_of(const json_t *all, const char *task) {
    size_t i;
    const json_t *l;

    json_array_foreach(all, i, l) {
        if (strcmp(json_string_value(json_object_get(l, "task_id")) ?: "", task) == 0)
            return l;
    }
    return NULL;
}

TG_TEST(openai, scripted_endpoint_every_case) {
    static const char *const leaks[] = {
        "judgement",  "\"label\"", "reward",  "necessary",  "redundant",  "premature",
        "wrong_args", "malformed", "correct", "step_limit", "\"return\"",
    };
    struct server *s = start();
    struct mock_llm *m = mock_llm_start(LLM_SCRIPT);
    struct eval_options o;
    struct openai_options oo;
    struct openai_run run;
    struct tg_error err;
    struct trajlog_stats st;
    struct lines l = {json_array()};
    char traj[128];
    const json_t *rq, *msgs, *line;
    int rc;

    CU_ASSERT_FATAL(s != NULL && m != NULL);
    snprintf(traj, sizeof(traj), "/tmp/tg_openai_traj_%d.jsonl", (int)getpid());
    unlink(traj);
    memset(&o, 0, sizeof(o));
    o.server = test_server_url(s);
    o.split = "test";
    o.tag = "llm-mock";
    o.quiet = 1;
    openai_options_defaults(&oo);
    oo.base_url = mock_llm_url(m);
    oo.model = "mock-model";
    oo.api_key = "sk-test-key";
    oo.temperature = 0;
    oo.concurrency = 4;
    oo.backoff_sec = 0.05;
    oo.trajectories = traj;
    rc = openai_eval_run(&o, &oo, &run, &err);
    CU_ASSERT_EQUAL_FATAL(rc, 0);

    /* every episode ended, each the way its script says; the run went on past the bad ones */
    CU_ASSERT_EQUAL(run.episodes, 8);
    CU_ASSERT_EQUAL(run.ends[OPENAI_END_ANSWERED], 6);
    CU_ASSERT_EQUAL(run.ends[OPENAI_END_TRUNCATED], 1);
    CU_ASSERT_EQUAL(run.ends[OPENAI_END_BAD_RESPONSE], 1);
    CU_ASSERT_EQUAL(run.ends[OPENAI_END_STEP_LIMIT], 0);
    CU_ASSERT_EQUAL(run.llm_retries, 2); /* the 429 and the 500, once each */
    CU_ASSERT_EQUAL(mock_llm_requests(m), 14);
    CU_ASSERT_EQUAL(mock_llm_unmatched(m), 0);
    CU_ASSERT(mock_llm_max_inflight(m) >= 2); /* episodes in flight at once */
    CU_ASSERT_STRING_EQUAL(mock_llm_auth(m), "Bearer sk-test-key");

    /* the request: model, temperature, the three tools in OpenAI format */
    rq = find_request(m, "(plain)", 0);
    CU_ASSERT_FATAL(rq != NULL);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(rq, "model")), "mock-model");
    CU_ASSERT_EQUAL(json_number_value(json_object_get(rq, "temperature")), 0);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(rq, "tools")), 3);
    CU_ASSERT_STRING_EQUAL(
        json_string_value(json_object_get(json_array_get(json_object_get(rq, "tools"), 0), "type")),
        "function");
    msgs = json_object_get(rq, "messages");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(msgs, 0), "role")),
                           "system");

    /* parallel calls: two steps in their order, each result a tool message with its id */
    rq = find_request(m, "(parallel)", 1);
    CU_ASSERT_FATAL(rq != NULL);
    msgs = json_object_get(rq, "messages");
    CU_ASSERT_EQUAL_FATAL(json_array_size(msgs), 5);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(json_array_get(msgs, 2), "tool_calls")), 2);
    CU_ASSERT_STRING_EQUAL(
        json_string_value(json_object_get(json_array_get(msgs, 3), "tool_call_id")), "call_pa");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(msgs, 3), "content")),
                           "7006652");
    CU_ASSERT_STRING_EQUAL(
        json_string_value(json_object_get(json_array_get(msgs, 4), "tool_call_id")), "call_pb");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(msgs, 4), "content")),
                           "37873565");
    CU_ASSERT(find_request(m, "(parallel)", 2) != NULL);

    /* malformed arguments and an unknown tool: steps with error text back, not a crash */
    rq = find_request(m, "(badargs)", 1);
    CU_ASSERT_FATAL(rq != NULL);
    msgs = json_object_get(rq, "messages");
    CU_ASSERT_EQUAL_FATAL(json_array_size(msgs), 5);
    CU_ASSERT_STRING_EQUAL(
        json_string_value(json_object_get(json_array_get(msgs, 3), "tool_call_id")), "call_m1");
    CU_ASSERT(strncmp(json_string_value(json_object_get(json_array_get(msgs, 3), "content")) ?: "",
                      "error:", 6) == 0);
    CU_ASSERT(strncmp(json_string_value(json_object_get(json_array_get(msgs, 4), "content")) ?: "",
                      "error:", 6) == 0);

    /* nothing the judge says ever reaches the model */
    for (size_t i = 0; i < mock_llm_requests(m); i++) {
        char *text = json_dumps(json_object_get(mock_llm_request(m, i), "messages"), 0);

        CU_ASSERT_FATAL(text != NULL);
        for (size_t k = 0; k < TG_ARRAY_LEN(leaks); k++)
            if (strstr(text, leaks[k])) {
                fprintf(stderr, "request %zu carries \"%s\": %s\n", i, leaks[k], text);
                CU_FAIL("a judge label reached the model");
            }
        free(text);
    }

    /* the server judged the eight episodes: six finished, all correct, two ended by the
     * driver unanswered (counted as failures since issue 16); 2 malformed calls of 6 */
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(run.report, "episodes")), 8);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(run.report, "finished")), 6);
    CU_ASSERT_DOUBLE_EQUAL(json_number_value(json_object_get(run.report, "answer_accuracy")),
                           6.0 / 8.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(
        json_number_value(json_object_get(json_object_get(run.report, "labels"), "malformed")),
        2.0 / 6.0, 1e-9);

    /* the trajectory file: one line per episode, the real conversation and the tools */
    CU_ASSERT_EQUAL(trajlog_read_file(traj, keep, &l, &st, &err), 0);
    CU_ASSERT_EQUAL(st.lines, 8);
    line = line_of(l.all, "llm-parallel");
    CU_ASSERT_FATAL(line != NULL);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(line, "end")), "answered");
    CU_ASSERT_EQUAL(json_array_size(json_object_get(line, "messages")), 8);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(line, "tools")), 3);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(line, "steps")), 4);
    /* the server's labels, kept for the file (feedback "judge"), never sent to the model */
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(
                               json_array_get(json_object_get(line, "steps"), 0), "label")),
                           "necessary");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(
                               json_array_get(json_object_get(line, "steps"), 3), "label")),
                           "correct");
    CU_ASSERT(json_is_true(json_object_get(line, "correct")));
    line = line_of(l.all, "llm-cutoff");
    CU_ASSERT_FATAL(line != NULL);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(line, "end")), "truncated");
    CU_ASSERT(strstr(json_string_value(json_object_get(line, "end_reason")) ?: "", "cut off") !=
              NULL);
    line = line_of(l.all, "llm-garbage");
    CU_ASSERT_FATAL(line != NULL);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(line, "end")), "bad_response");

    /* the file judged again without tools gives what the server said, for every finished
     * episode; the two that ended on the driver's side are not trajectories that can be judged */
    {
        struct task_set *ts = task_set_new();
        struct reward_config rw;
        struct rescore_config c = {ts, &rw, -1};
        struct rescore_stats rs;
        FILE *devnull = fopen("/dev/null", "w");

        CU_ASSERT_FATAL(ts != NULL && devnull != NULL);
        CU_ASSERT_EQUAL_FATAL(task_set_load(ts, LLM_TASKS, &err), 0);
        reward_config_defaults(&rw);
        CU_ASSERT_EQUAL(rescore_file(&c, traj, devnull, NULL, &rs, NULL, NULL, &err), 0);
        CU_ASSERT_EQUAL(rs.rescored, 6);
        CU_ASSERT_EQUAL(rs.skipped, 2);
        CU_ASSERT_EQUAL(rs.steps, 12); /* 1 + 2 + 4 + 3 + 1 + 1 */
        CU_ASSERT_EQUAL(rs.labels_changed, 0);
        CU_ASSERT_EQUAL(rs.rewards_changed, 0);
        CU_ASSERT_EQUAL(rs.returns_changed, 0);
        fclose(devnull);
        task_set_free(ts);
    }
    json_decref(l.all);
    openai_run_clear(&run);
    unlink(traj);
    mock_llm_stop(m);
    test_server_stop(s);
}

TG_TEST(openai, endpoint_down_ends_episodes_with_a_label) {
    struct server *s = start();
    struct eval_options o;
    struct openai_options oo;
    struct openai_run run;
    struct tg_error err;

    CU_ASSERT_FATAL(s != NULL);
    memset(&o, 0, sizeof(o));
    o.server = test_server_url(s);
    o.split = "test";
    o.episodes = 2;
    o.quiet = 1;
    openai_options_defaults(&oo);
    oo.base_url = "http://127.0.0.1:9/v1"; /* discard port: nobody listens */
    oo.model = "m";
    oo.retries = 1;
    oo.backoff_sec = 0.01;
    CU_ASSERT_EQUAL_FATAL(openai_eval_run(&o, &oo, &run, &err), 0);
    CU_ASSERT_EQUAL(run.episodes, 2);
    CU_ASSERT_EQUAL(run.ends[OPENAI_END_UNREACHABLE], 2);
    /* both started and never finished: counted, as failures (issue 16) */
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(run.report, "episodes")), 2);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(run.report, "unfinished")), 2);
    CU_ASSERT_DOUBLE_EQUAL(json_number_value(json_object_get(run.report, "answer_accuracy")), 0.0,
                           1e-9);
    openai_run_clear(&run);
    test_server_stop(s);
}

TG_TEST(openai, chat_url_from_base) {
    char buf[256];

    CU_ASSERT_EQUAL(openai_chat_url("http://h:8080/v1", buf, sizeof(buf)), 0);
    CU_ASSERT_STRING_EQUAL(buf, "http://h:8080/v1/chat/completions");
    CU_ASSERT_EQUAL(openai_chat_url("http://h:8080/", buf, sizeof(buf)), 0);
    CU_ASSERT_STRING_EQUAL(buf, "http://h:8080/v1/chat/completions");
    CU_ASSERT_EQUAL(openai_chat_url("https://api.example.com/v1/", buf, sizeof(buf)), 0);
    CU_ASSERT_STRING_EQUAL(buf, "https://api.example.com/v1/chat/completions");
    CU_ASSERT_EQUAL(openai_chat_url("ftp://h/v1", buf, sizeof(buf)), TG_EINVAL);
    CU_ASSERT_EQUAL(openai_chat_url("http://h/v1", buf, 10), TG_EINVAL);
}
