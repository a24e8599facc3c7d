/*
 * test_task.c — suite `task`: the task schema (loader, validator, set lookups, file check,
 * tags, the unknown answer type). The generator is tested in test_taskgen.c, the
 * `toolgym tasks` command line in test_cli.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/task.h"
#include "tools/search.h"
#include "tg_test.h"

/* ---- loader and validator --------------------------------------------------------------- */

TG_TEST(task, good_fixture_loads_every_field) {
    struct task_set *s = task_set_new();
    struct tg_error err;
    const struct task *t;

    CU_ASSERT_FATAL(s != NULL);
    CU_ASSERT_EQUAL_FATAL(task_set_load(s, tg_test_data("tasks_good.jsonl"), &err), 0);
    CU_ASSERT_EQUAL(task_set_count(s), 6); /* the blank line is skipped */
    CU_ASSERT_EQUAL(task_set_split_count(s, "train"), 3);
    CU_ASSERT_EQUAL(task_set_split_count(s, "test"), 2);
    CU_ASSERT_EQUAL(task_set_split_count(s, "custom"), 1);
    CU_ASSERT_EQUAL(task_set_split_count(s, "nope"), 0);
    CU_ASSERT_STRING_EQUAL(task_set_split_at(s, "test", 1)->id, "g-algo");
    CU_ASSERT_PTR_NULL(task_set_split_at(s, "test", 2));
    CU_ASSERT_PTR_NULL(task_set_find(s, "missing"));

    t = task_set_find(s, "g-arith");
    CU_ASSERT_FATAL(t != NULL);
    CU_ASSERT_EQUAL(t->family, TASK_ARITH);
    CU_ASSERT_EQUAL(t->answer.type, TASK_ANSWER_NUMBER);
    CU_ASSERT_DOUBLE_EQUAL(t->answer.tolerance, 0.001, 1e-12);
    CU_ASSERT_EQUAL(t->nplan, 1);
    CU_ASSERT(t->plan[0].has_value);
    CU_ASSERT_DOUBLE_EQUAL(t->plan[0].tolerance, 179501.25e-9, 1e-12); /* the default */
    CU_ASSERT_EQUAL(json_array_size(t->expert), 1);

    t = task_set_find(s, "g-mental");
    CU_ASSERT_FATAL(t != NULL);
    CU_ASSERT_EQUAL(t->nplan, 0);
    CU_ASSERT_EQUAL(t->answer.type, TASK_ANSWER_INT);
    CU_ASSERT_PTR_NULL(t->expert);

    t = task_set_find(s, "g-lookup");
    CU_ASSERT_FATAL(t != NULL);
    CU_ASSERT_EQUAL(t->plan[0].nterms, 2);
    CU_ASSERT_STRING_EQUAL(t->plan[0].query_terms[1], "population");
    CU_ASSERT_STRING_EQUAL(t->plan[0].hit, "d00001");
    CU_ASSERT_STRING_EQUAL(t->plan[0].shows, "48211");
    CU_ASSERT_STRING_EQUAL(t->plan[0].yields, "population_varnholt");
    CU_ASSERT_DOUBLE_EQUAL(t->answer.rel_tolerance, 0.01, 1e-12);

    t = task_set_find(s, "g-la");
    CU_ASSERT_EQUAL(t->plan[1].needs, 1u);
    t = task_set_find(s, "g-algo");
    CU_ASSERT_STRING_EQUAL(t->plan[0].stdout_equals, "25"); /* stored trimmed */
    t = task_set_find(s, "g-multi");
    CU_ASSERT_EQUAL(t->plan[2].needs, 3u);
    CU_ASSERT_EQUAL(t->answer.type, TASK_ANSWER_STRING);

    /* Loading the same file again collides on every id and leaves the set unchanged. */
    CU_ASSERT_EQUAL(task_set_load(s, tg_test_data("tasks_good.jsonl"), &err), TG_EINVAL);
    CU_ASSERT(strstr(err.message, "tasks_good.jsonl:1:") != NULL);
    CU_ASSERT(strstr(err.message, "duplicate") != NULL);
    CU_ASSERT_EQUAL(task_set_count(s), 6);
    CU_ASSERT_PTR_NOT_NULL(task_set_find(s, "g-multi"));
    task_set_free(s);
}

TG_TEST(task, bad_fixture_reports_every_line) {
    char *buf = NULL;
    size_t len = 0, nt = 0, ne = 0;
    FILE *mem = open_memstream(&buf, &len);
    struct tg_error err;
    int rc;

    CU_ASSERT_FATAL(mem != NULL);
    rc = task_check_file(tg_test_data("tasks_bad.jsonl"), mem, &nt, &ne, &err);
    fclose(mem);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(nt, 26);
    CU_ASSERT_EQUAL(ne, 25); /* every line but 17 */
    for (int line = 1; line <= 26; line++) {
        char want[64];

        snprintf(want, sizeof(want), "tasks_bad.jsonl:%d: ", line);
        CU_ASSERT((strstr(buf, want) != NULL) == (line != 17));
    }
    CU_ASSERT(strstr(buf, ":1: extra: unknown field") != NULL);
    CU_ASSERT(strstr(buf, ":2: prompt: missing") != NULL);
    CU_ASSERT(strstr(buf, ":3: family: unknown family") != NULL);
    CU_ASSERT(strstr(buf, ":4: answer.type") != NULL);
    CU_ASSERT(strstr(buf, ":7: plan[0].needs[0]: step 3 out of range") != NULL);
    CU_ASSERT(strstr(buf, ":8: plan[0].needs[0]: a step cannot need itself") != NULL);
    CU_ASSERT(strstr(buf, ":9: plan: the needs of its steps form a cycle") != NULL);
    CU_ASSERT(strstr(buf, ":13: plan: a mental task has no tool steps") != NULL);
    CU_ASSERT(strstr(buf, ":18: id: duplicate") != NULL);
    /* tags and the unknown answer type */
    CU_ASSERT(strstr(buf, ":19: tags[0]: must be \"kind:value\"") != NULL);
    CU_ASSERT(strstr(buf, ":20: tags[1]: duplicate tag \"form:direct\"") != NULL);
    CU_ASSERT(strstr(buf, ":21: tags[0]: \"family:lookup\" contradicts family \"mental\"") != NULL);
    CU_ASSERT(strstr(buf, ":22: answer.type: \"unknown\" takes no value") != NULL);
    CU_ASSERT(strstr(buf, ":23: answer.type: an abstain task's answer is \"unknown\"") != NULL);
    CU_ASSERT(strstr(buf, ":24: answer.type: \"unknown\" is the answer of abstain tasks") != NULL);
    CU_ASSERT(strstr(buf, ":25: plan: an in_prompt task has no tool steps") != NULL);
    CU_ASSERT(strstr(buf, ":26: tags: must be an array") != NULL);
    free(buf);

    CU_ASSERT_EQUAL(task_check_file("/nonexistent/tasks.jsonl", NULL, &nt, &ne, &err), TG_EIO);
}

TG_TEST(task, load_is_all_or_nothing_and_names_the_line) {
    struct task_set *s = task_set_new();
    struct tg_error err;

    CU_ASSERT_EQUAL(task_set_load(s, tg_test_data("tasks_bad.jsonl"), &err), TG_EINVAL);
    CU_ASSERT(strstr(err.message, "tasks_bad.jsonl:1: extra") != NULL);
    CU_ASSERT_EQUAL(task_set_count(s), 0);
    CU_ASSERT_EQUAL(task_set_split_count(s, "train"), 0);
    CU_ASSERT_EQUAL(task_set_load(s, "/nonexistent/x.jsonl", &err), TG_EIO);
    task_set_free(s);
}

/* Write n mental tasks "big-0".."big-(n-1)" (split train, even ids; test, odd) to a temporary
 * file, then extra_line if not NULL; returns the path (caller unlinks and frees). */
static char *write_big_file(size_t n, const char *extra_line) {
    char *path = strdup("/tmp/tg-task-big-XXXXXX");
    int fd = path ? mkstemp(path) : -1;
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

    if (!f) {
        if (fd >= 0)
            close(fd);
        free(path);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        fprintf(f,
                "{\"id\":\"big-%zu\",\"split\":\"%s\",\"family\":\"mental\","
                "\"prompt\":\"What is %zu + 1?\",\"answer\":{\"type\":\"int\",\"value\":%zu},"
                "\"plan\":[]}\n",
                i, i % 2 ? "test" : "train", i, i + 1);
    if (extra_line)
        fprintf(f, "%s\n", extra_line);
    fclose(f);
    return path;
}

/* A server start loads tens of thousands of tasks: every id must be found afterwards and a
 * duplicate late in the file must still be caught (by the hash kept current while loading). */
TG_TEST(task, large_load_finds_every_id_and_refuses_duplicates) {
    enum { N = 20000 };
    struct task_set *s = task_set_new();
    struct tg_error err;
    char *ok = write_big_file(N, NULL);
    char *dup = write_big_file(N, "{\"id\":\"big-17\",\"split\":\"train\",\"family\":"
                                  "\"mental\",\"prompt\":\"What is 1 + 1?\",\"answer\":"
                                  "{\"type\":\"int\",\"value\":2},\"plan\":[]}");
    char id[32];
    const struct task *t;
    size_t nt = 0, ne = 0;
    char *buf = NULL;
    size_t len = 0;
    FILE *mem;

    CU_ASSERT_FATAL(s != NULL && ok != NULL && dup != NULL);

    /* The duplicate at line N+1 is refused with its line; nothing of the file stays. */
    CU_ASSERT_EQUAL(task_set_load(s, dup, &err), TG_EINVAL);
    snprintf(id, sizeof(id), ":%d:", N + 1);
    CU_ASSERT(strstr(err.message, id) != NULL);
    CU_ASSERT(strstr(err.message, "duplicate task id \"big-17\"") != NULL);
    CU_ASSERT_EQUAL(task_set_count(s), 0);
    CU_ASSERT_PTR_NULL(task_set_find(s, "big-17"));

    /* The file check reports the same line and counts every task. */
    mem = open_memstream(&buf, &len);
    CU_ASSERT_FATAL(mem != NULL);
    CU_ASSERT_EQUAL(task_check_file(dup, mem, &nt, &ne, &err), 0);
    fclose(mem);
    CU_ASSERT_EQUAL(nt, N + 1);
    CU_ASSERT_EQUAL(ne, 1);
    CU_ASSERT(buf && strstr(buf, id) && strstr(buf, "big-17"));
    free(buf);

    /* The good file loads whole after the failed one; every id is found, splits are right. */
    CU_ASSERT_EQUAL_FATAL(task_set_load(s, ok, &err), 0);
    CU_ASSERT_EQUAL(task_set_count(s), N);
    CU_ASSERT_EQUAL(task_set_split_count(s, "train"), N / 2);
    CU_ASSERT_EQUAL(task_set_split_count(s, "test"), N / 2);
    for (size_t i = 0; i < N; i++) {
        snprintf(id, sizeof(id), "big-%zu", i);
        t = task_set_find(s, id);
        if (!t || strcmp(t->id, id) != 0) {
            CU_FAIL("a loaded id is not found");
            break;
        }
    }
    CU_ASSERT_STRING_EQUAL(task_set_split_at(s, "test", 0)->id, "big-1");
    CU_ASSERT_PTR_NULL(task_set_find(s, "big-20000"));

    /* A second load of the same file collides on its first line and changes nothing. */
    CU_ASSERT_EQUAL(task_set_load(s, ok, &err), TG_EINVAL);
    CU_ASSERT(strstr(err.message, ":1:") != NULL);
    CU_ASSERT_EQUAL(task_set_count(s), N);
    CU_ASSERT_PTR_NOT_NULL(task_set_find(s, "big-19999"));

    unlink(ok);
    unlink(dup);
    free(ok);
    free(dup);
    task_set_free(s);
}

TG_TEST(task, from_json_rejects_bad_shapes) {
    static const char *const bad[] = {
        "[]",
        "{\"id\":\"\",\"split\":\"s\",\"family\":\"mental\",\"prompt\":\"p\","
        "\"answer\":{\"type\":\"int\",\"value\":1},\"plan\":[]}",
        "{\"id\":\"a\",\"split\":\"s\",\"family\":\"mental\",\"prompt\":\"p\","
        "\"answer\":{\"type\":\"int\",\"value\":1,\"tolerance\":1},\"plan\":[]}",
        "{\"id\":\"a\",\"split\":\"s\",\"family\":\"mental\",\"prompt\":\"p\","
        "\"answer\":{\"type\":\"number\",\"value\":1,\"tolerance\":-1},\"plan\":[]}",
        "{\"id\":\"a\",\"split\":\"s\",\"family\":\"mental\",\"prompt\":\"p\","
        "\"answer\":{\"type\":\"string\",\"value\":\"\"},\"plan\":[]}",
        "{\"id\":\"a\",\"split\":\"s\",\"family\":\"mental\",\"prompt\":\"p\","
        "\"answer\":{\"type\":\"int\",\"value\":1}}",
        "{\"id\":\"a\",\"split\":\"s\",\"family\":\"algo\",\"prompt\":\"p\","
        "\"answer\":{\"type\":\"int\",\"value\":1},\"plan\":[{\"tool\":\"run_code\","
        "\"match\":{\"tolerance\":1}}]}",
        "{\"id\":\"a\",\"split\":\"s\",\"family\":\"algo\",\"prompt\":\"p\","
        "\"answer\":{\"type\":\"int\",\"value\":1},\"plan\":[{\"tool\":\"run_code\","
        "\"match\":{\"stdout\":\"1\"},\"needs\":[\"0\"]}]}",
    };
    const char *good = "{\"id\":\"a\",\"split\":\"s\",\"family\":\"mental\",\"prompt\":\"p\","
                       "\"answer\":{\"type\":\"int\",\"value\":1},\"plan\":[]}";
    struct task t;
    struct tg_error err;

    for (size_t i = 0; i < TG_ARRAY_LEN(bad); i++) {
        json_t *j = json_loads(bad[i], 0, NULL);

        CU_ASSERT_FATAL(j != NULL);
        CU_ASSERT_EQUAL(task_from_json(j, &t, &err), TG_EINVAL);
        CU_ASSERT_STRING_EQUAL(err.code, "invalid_task");
        CU_ASSERT_PTR_NULL(t.id); /* cleared on failure */
        json_decref(j);
    }
    {
        json_t *j = json_loads(good, 0, NULL), *pub;

        CU_ASSERT_EQUAL(task_from_json(j, &t, &err), 0);
        pub = task_public_json(&t);
        CU_ASSERT_EQUAL(json_object_size(pub), 3); /* id, split, prompt */
        CU_ASSERT_PTR_NULL(json_object_get(pub, "answer"));
        CU_ASSERT_PTR_NULL(json_object_get(pub, "family"));
        CU_ASSERT_PTR_NULL(json_object_get(pub, "tags"));
        json_decref(pub);
        task_clear(&t);
        json_decref(j);
    }
}

/* The optional tags, the new families and the "unknown" answer type load; old files (the good
 * fixture above has no tags) still do. */
TG_TEST(task, tags_and_new_families_load) {
    struct task_set *s = task_set_new();
    struct tg_error err;
    const struct task *t;
    json_t *pub;

    CU_ASSERT_EQUAL_FATAL(task_set_load(s, tg_test_data("tasks_tagged.jsonl"), &err), 0);
    CU_ASSERT_EQUAL(task_set_split_count(s, "ood"), 1);
    t = task_set_find(s, "t-lookup");
    CU_ASSERT_FATAL(t != NULL);
    CU_ASSERT_EQUAL(t->ntags, 4);
    CU_ASSERT_STRING_EQUAL(t->tags[1], "form:direct");
    CU_ASSERT(task_has_tag(t, "attr:everyday"));
    CU_ASSERT(!task_has_tag(t, "attr:everyda"));
    pub = task_public_json(t);
    CU_ASSERT_PTR_NULL(json_object_get(pub, "tags"));
    CU_ASSERT_PTR_NULL(json_object_get(pub, "family"));
    json_decref(pub);
    t = task_set_find(s, "t-abstain");
    CU_ASSERT_EQUAL(t->family, TASK_ABSTAIN);
    CU_ASSERT_EQUAL(t->answer.type, TASK_ANSWER_UNKNOWN);
    t = task_set_find(s, "t-in-prompt");
    CU_ASSERT_EQUAL(t->family, TASK_IN_PROMPT);
    CU_ASSERT_EQUAL(t->nplan, 0);
    t = task_set_find(s, "t-md");
    CU_ASSERT_EQUAL(t->family, TASK_MENTAL_DISTRACTOR);
    CU_ASSERT_EQUAL(t->ntags, 0);
    CU_ASSERT_PTR_NULL(t->tags);
    task_set_free(s);

    CU_ASSERT(task_tag_valid("order:small-first"));
    CU_ASSERT(task_tag_valid("numfmt:1.5"));
    CU_ASSERT(task_tag_valid("op_word:plus"));
    CU_ASSERT(!task_tag_valid("order"));
    CU_ASSERT(!task_tag_valid(":x"));
    CU_ASSERT(!task_tag_valid("order:"));
    CU_ASSERT(!task_tag_valid("order:-x"));
    CU_ASSERT(!task_tag_valid("1order:x"));
    CU_ASSERT(!task_tag_valid("or der:x"));
    CU_ASSERT(!task_tag_valid("order:x y"));
    CU_ASSERT(!task_tag_valid("order:X"));
    CU_ASSERT(task_tag_valid("a:b:c") == 0);
    {
        char longtag[TG_TASK_TAG_MAX + 2];

        memset(longtag, 'a', sizeof(longtag) - 1);
        longtag[sizeof(longtag) - 1] = '\0';
        longtag[1] = ':';
        CU_ASSERT(!task_tag_valid(longtag));
        longtag[TG_TASK_TAG_MAX] = '\0';
        CU_ASSERT(task_tag_valid(longtag));
    }
}

TG_TEST(task, family_names_round_trip) {
    for (int f = 0; f < TASK_FAMILY_COUNT; f++) {
        enum task_family g;

        CU_ASSERT_EQUAL(task_family_parse(task_family_name((enum task_family)f), &g), 0);
        CU_ASSERT_EQUAL((int)g, f);
    }
    {
        enum task_family g;

        CU_ASSERT_EQUAL(task_family_parse("poetry", &g), TG_EINVAL);
    }
}

/* A query term the search index could never show (longer than its SEARCH_TERM_MAX - 1 byte
 * terms) would make its plan step unsatisfiable: it is refused, and one of the longest
 * distinguishable length is accepted. */
TG_TEST(task, query_terms_longer_than_an_index_term_are_refused) {
    char term[SEARCH_TERM_MAX + 1], js[512];
    struct task t;
    struct tg_error err;

    for (int len = SEARCH_TERM_MAX - 1; len <= SEARCH_TERM_MAX; len++) {
        json_t *j;

        memset(term, 'q', (size_t)len);
        term[len] = '\0';
        snprintf(js, sizeof(js),
                 "{\"id\":\"a\",\"split\":\"s\",\"family\":\"lookup\",\"prompt\":\"p\",\"answer\":"
                 "{\"type\":\"int\",\"value\":1},\"plan\":[{\"tool\":\"search\",\"match\":"
                 "{\"query_terms\":[\"%s\"]}}]}",
                 term);
        j = json_loads(js, 0, NULL);
        CU_ASSERT_FATAL(j != NULL);
        if (len < SEARCH_TERM_MAX) {
            CU_ASSERT_EQUAL(task_from_json(j, &t, &err), 0);
            task_clear(&t);
        } else {
            CU_ASSERT_EQUAL(task_from_json(j, &t, &err), TG_EINVAL);
            CU_ASSERT(strstr(err.message, "query_terms[0]") != NULL);
        }
        json_decref(j);
    }
}
