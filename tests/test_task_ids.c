/*
 * test_task_ids.c — suite `task_ids`: paging through GET /v1/tasks with a scripted server
 * (a callback), the response checks and the errors. (eval and the trainer use it against
 * real servers in their own end-to-end suites.)
 */
#include <stdio.h>
#include <string.h>

#include "base/limits.h"
#include "client/task_ids.h"
#include "tg_test.h"

/* A scripted server: total tasks named t0..t{total-1}, paged as asked; or a broken answer. */
struct script {
    int total;
    int shrink_to; /* >= 0: pretend the split shrank to this many after the first page */
    long status;
    const char *raw; /* when set, every page answers this JSON instead */
    int calls;
    char paths[8][256];
};

static int script_get(void *ud, const char *path, long *status, json_t **body,
                      struct tg_error *err) {
    struct script *s = ud;
    long long off = 0, lim = 0;
    const char *o = strstr(path, "offset="), *l = strstr(path, "limit=");
    json_t *tasks;

    if (s->calls < 8)
        snprintf(s->paths[s->calls], sizeof(s->paths[0]), "%s", path);
    s->calls++;
    *status = s->status;
    if (s->status == 0) {
        tg_error_set(err, "io", "connection refused");
        return TG_EIO;
    }
    if (s->raw) {
        *body = json_loads(s->raw, 0, NULL);
        return 0;
    }
    CU_ASSERT_FATAL(o && l && sscanf(o, "offset=%lld", &off) == 1 &&
                    sscanf(l, "limit=%lld", &lim) == 1);
    tasks = json_array();
    for (long long i = off; i < off + lim && i < s->total; i++) {
        char id[32];

        if (s->shrink_to >= 0 && s->calls > 1 && i >= s->shrink_to)
            break;
        snprintf(id, sizeof(id), "t%lld", i);
        json_array_append_new(tasks, json_pack("{s:s, s:s}", "id", id, "prompt", "p"));
    }
    *body = json_pack("{s:o, s:i}", "tasks", tasks, "total", s->total);
    return 0;
}

TG_TEST(task_ids, pages_through_every_task_in_order) {
    struct script s = {2 * TG_TASK_LIMIT_MAX + 7, -1, 200, NULL, 0, {{0}}};
    struct tg_error err;
    json_t *ids = NULL;

    CU_ASSERT_EQUAL_FATAL(task_ids_fetch(script_get, &s, "train", &ids, &err), 0);
    CU_ASSERT_EQUAL(json_array_size(ids), (size_t)s.total);
    CU_ASSERT_EQUAL(s.calls, 3);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(ids, 0)), "t0");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(ids, (size_t)s.total - 1)), "t2006");
    CU_ASSERT_PTR_NOT_NULL(strstr(s.paths[0], "/v1/tasks?split=train&offset=0&limit="));
    CU_ASSERT_PTR_NOT_NULL(strstr(s.paths[2], "&offset=2000&"));
    json_decref(ids);
}

TG_TEST(task_ids, a_split_that_shrinks_ends_the_listing) {
    struct script s = {TG_TASK_LIMIT_MAX + 5, TG_TASK_LIMIT_MAX, 200, NULL, 0, {{0}}};
    struct tg_error err;
    json_t *ids = NULL;

    CU_ASSERT_EQUAL_FATAL(task_ids_fetch(script_get, &s, "test", &ids, &err), 0);
    CU_ASSERT_EQUAL(json_array_size(ids), TG_TASK_LIMIT_MAX);
    CU_ASSERT_EQUAL(s.calls, 2);
    json_decref(ids);
}

TG_TEST(task_ids, errors_are_named) {
    static const struct {
        long status;
        const char *raw;
        int total;
        int rc;
        const char *code;
        const char *needle;
    } cases[] = {
        {0, NULL, 3, TG_EIO, "io", "connection refused"},
        {404, "{\"error\":{\"code\":\"not_found\",\"message\":\"nope\"}}", 0, TG_EIO,
         "bad_response", "HTTP 404, expected {tasks, total}: nope"},
        {200, "{\"tasks\":{}}", 0, TG_EIO, "bad_response", "expected {tasks, total}"},
        {200, "{\"tasks\":[{\"id\":3}],\"total\":1}", 0, TG_EINVAL, "bad_response",
         "task 0 has no usable id"},
        {200, "{\"tasks\":[],\"total\":0}", 0, TG_EINVAL, "no_tasks", "no tasks in split"},
    };

    for (size_t i = 0; i < TG_ARRAY_LEN(cases); i++) {
        struct script s = {cases[i].total, -1, cases[i].status, cases[i].raw, 0, {{0}}};
        struct tg_error err;
        json_t *ids = (json_t *)1;

        CU_ASSERT_EQUAL(task_ids_fetch(script_get, &s, "train", &ids, &err), cases[i].rc);
        CU_ASSERT_PTR_NULL(ids);
        CU_ASSERT_STRING_EQUAL(err.code, cases[i].code);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.message, cases[i].needle));
    }
}

TG_TEST(task_ids, an_over_long_id_is_refused) {
    char raw[TG_TASK_ID_MAX + 64], id[TG_TASK_ID_MAX + 1];
    struct script s = {0, -1, 200, raw, 0, {{0}}};
    struct tg_error err;
    json_t *ids = NULL;

    memset(id, 'x', TG_TASK_ID_MAX);
    id[TG_TASK_ID_MAX] = '\0';
    snprintf(raw, sizeof(raw), "{\"tasks\":[{\"id\":\"%s\"}],\"total\":1}", id);
    CU_ASSERT_EQUAL(task_ids_fetch(script_get, &s, "train", &ids, &err), TG_EINVAL);
    id[TG_TASK_ID_MAX - 1] = '\0'; /* one byte shorter fits */
    snprintf(raw, sizeof(raw), "{\"tasks\":[{\"id\":\"%s\"}],\"total\":1}", id);
    CU_ASSERT_EQUAL(task_ids_fetch(script_get, &s, "train", &ids, &err), 0);
    json_decref(ids);
}
