/*
 * task_ids.c — page through GET /v1/tasks (see task_ids.h).
 */
#include "client/task_ids.h"

#include <stdio.h>
#include <string.h>

#include "base/limits.h"

/* Append the ids of one page (tasks, borrowed) to all. */
static int append_ids(json_t *all, const json_t *tasks, const char *path, struct tg_error *err) {
    for (size_t i = 0; i < json_array_size(tasks); i++) {
        json_t *id = json_object_get(json_array_get(tasks, i), "id");

        if (!json_is_string(id) || json_string_length(id) >= TG_TASK_ID_MAX) {
            tg_error_set(err, "bad_response", "GET %s: task %zu has no usable id", path, i);
            return TG_EINVAL;
        }
        if (json_array_append(all, id)) {
            tg_error_set(err, TG_CODE_NOMEM, "out of memory");
            return TG_ENOMEM;
        }
    }
    return 0;
}

int task_ids_fetch(task_ids_get_fn get, void *ud, const char *split, json_t **ids,
                   struct tg_error *err) {
    json_t *all = json_array();
    json_int_t total = 1;
    int rc = 0;

    *ids = NULL;
    if (!all) {
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
        return TG_ENOMEM;
    }
    while ((json_int_t)json_array_size(all) < total) {
        char path[256];
        json_t *page = NULL, *tasks;
        long status = 0;

        snprintf(path, sizeof(path), "/v1/tasks?split=%.128s&offset=%zu&limit=%d", split,
                 json_array_size(all), TG_TASK_LIMIT_MAX);
        rc = get(ud, path, &status, &page, err);
        if (rc)
            break;
        tasks = json_object_get(page, "tasks");
        if (status != 200 || !json_is_array(tasks) ||
            !json_is_integer(json_object_get(page, "total"))) {
            const char *msg =
                json_string_value(json_object_get(json_object_get(page, "error"), "message"));

            tg_error_set(err, "bad_response", "GET %s: HTTP %ld, expected {tasks, total}%s%s", path,
                         status, msg ? ": " : "", msg ? msg : "");
            json_decref(page);
            rc = TG_EIO;
            break;
        }
        total = json_integer_value(json_object_get(page, "total"));
        if (json_array_size(tasks) == 0) /* the split shrank under us: stop at what we have */
            total = (json_int_t)json_array_size(all);
        rc = append_ids(all, tasks, path, err);
        json_decref(page);
        if (rc)
            break;
    }
    if (!rc && json_array_size(all) == 0) {
        tg_error_set(err, "no_tasks", "The server has no tasks in split \"%s\".", split);
        rc = TG_EINVAL;
    }
    if (rc) {
        json_decref(all);
        return rc;
    }
    *ids = all;
    return 0;
}
