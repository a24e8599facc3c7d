/*
 * task_list.c — task ids from the server and expert calls from the local task file. See
 * task_list.h.
 */
#include "policy/task_list.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

/* append the ids of one page `arr` (fetched from `path`) to *out */
static int append_page(const json_t *arr, const char *path, struct task_ref **out, int *n, int *cap,
                       struct tg_error *err) {
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const char *id = json_string_value(json_object_get(json_array_get(arr, i), "id"));

        if (!id || strlen(id) >= TG_TASK_ID_MAX) {
            tg_error_set(err, "bad_response", "a task in %s has no usable id", path);
            return TG_EINVAL;
        }
        if (*n == *cap) {
            int nc = *cap ? *cap * 2 : 1024;
            struct task_ref *nt = realloc(*out, sizeof(*nt) * (size_t)nc);

            if (!nt) {
                tg_error_set(err, "nomem", "out of memory");
                return TG_ENOMEM;
            }
            *out = nt;
            *cap = nc;
        }
        snprintf((*out)[*n].id, TG_TASK_ID_MAX, "%s", id);
        (*out)[*n].expert = NULL;
        (*n)++;
    }
    return 0;
}

int task_list_fetch(struct rollout *r, const char *split, struct task_ref **out, int *n,
                    struct tg_error *err) {
    int cap = 0, total = 1;

    *out = NULL;
    *n = 0;
    while (*n < total) {
        char path[128];
        json_t *j = NULL, *arr;
        long status;
        int rc;

        snprintf(path, sizeof(path), "/v1/tasks?split=%s&offset=%d&limit=1000", split, *n);
        rc = rollout_request(r, 0, "GET", path, NULL, &status, &j, err);
        if (rc)
            return rc;
        arr = json_object_get(j, "tasks");
        if (status != 200 || !json_is_array(arr) || !json_is_integer(json_object_get(j, "total"))) {
            tg_error_set(err, "bad_response", "%s%s: HTTP %ld, expected {tasks, total}",
                         rollout_url(r, 0), path, status);
            json_decref(j);
            return TG_EIO;
        }
        total = (int)json_integer_value(json_object_get(j, "total"));
        if (json_array_size(arr) == 0)
            total = *n;
        rc = append_page(arr, path, out, n, &cap, err);
        json_decref(j);
        if (rc)
            return rc;
    }
    if (*n == 0) {
        tg_error_set(err, "no_tasks", "the server has no %s tasks", split);
        return TG_EINVAL;
    }
    return 0;
}

int task_list_experts(const char *path, json_t **out, struct tg_error *err) {
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    json_t *m = json_object();
    int lineno = 0;

    *out = NULL;
    if (!f || !m) {
        tg_error_set(err, "tasks_file", "cannot read the anchor task file %s: %s", path,
                     f ? "out of memory" : strerror(errno));
        if (f)
            fclose(f);
        json_decref(m);
        return TG_EIO;
    }
    while ((len = getline(&line, &cap, f)) > 0) {
        json_t *t;
        const char *id;
        const json_t *ex;

        lineno++;
        if (len > (ssize_t)TG_TASK_LINE_MAX) {
            tg_error_set(err, "tasks_file", "%s:%d: line longer than %d bytes", path, lineno,
                         TG_TASK_LINE_MAX);
            goto bad;
        }
        t = json_loads(line, 0, NULL);
        id = json_string_value(json_object_get(t, "id"));
        ex = json_object_get(t, "expert");
        if (!id || !json_is_array(ex)) {
            json_decref(t);
            tg_error_set(err, "tasks_file", "%s:%d: not a task with id and expert", path, lineno);
            goto bad;
        }
        json_object_set(m, id, (json_t *)ex);
        json_decref(t);
    }
    free(line);
    fclose(f);
    *out = m;
    return 0;
bad:
    free(line);
    fclose(f);
    json_decref(m);
    return TG_EINVAL;
}
