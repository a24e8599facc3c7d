/*
 * task_list.c — task ids of a split from the server. See task_list.h.
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
