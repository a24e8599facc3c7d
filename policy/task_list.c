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

#include "client/task_ids.h"

/* GET for task_ids_fetch over server 0 of a rollout. */
static int rollout_get(void *ud, const char *path, long *status, json_t **body,
                       struct tg_error *err) {
    return rollout_request(ud, 0, "GET", path, NULL, status, body, err);
}

int task_list_fetch(struct rollout *r, const char *split, struct task_ref **out, int *n,
                    struct tg_error *err) {
    json_t *ids;
    size_t count;
    int rc;

    *out = NULL;
    *n = 0;
    rc = task_ids_fetch(rollout_get, r, split, &ids, err);
    if (rc)
        return rc;
    count = json_array_size(ids);
    *out = calloc(count, sizeof(**out));
    if (!*out) {
        json_decref(ids);
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
        return TG_ENOMEM;
    }
    for (size_t i = 0; i < count; i++) /* ids are strings under TG_TASK_ID_MAX bytes */
        snprintf((*out)[i].id, TG_TASK_ID_MAX, "%s", json_string_value(json_array_get(ids, i)));
    *n = (int)count;
    json_decref(ids);
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
        if (f)
            tg_error_set(err, TG_CODE_NOMEM, "out of memory reading %s", path);
        else
            tg_error_set(err, TG_CODE_IO, "cannot read the anchor task file %s: %s", path,
                         strerror(errno));
        if (f)
            fclose(f);
        json_decref(m);
        return f ? TG_ENOMEM : TG_EIO;
    }
    while ((len = getline(&line, &cap, f)) > 0) {
        json_t *t;
        const char *id;
        const json_t *ex;

        lineno++;
        if (len > (ssize_t)TG_TASK_LINE_MAX) {
            tg_error_set(err, "invalid_task", "%s:%d: line longer than %d bytes", path, lineno,
                         TG_TASK_LINE_MAX);
            goto bad;
        }
        t = json_loads(line, 0, NULL);
        id = json_string_value(json_object_get(t, "id"));
        ex = json_object_get(t, "expert");
        if (!id || !json_is_array(ex)) {
            json_decref(t);
            tg_error_set(err, "invalid_task", "%s:%d: not a task with id and expert", path, lineno);
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
