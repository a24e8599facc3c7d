/*
 * task_ids.h — the ids of a split's tasks, as a server lists them (GET /v1/tasks, paged).
 *
 * The one client of the task listing: `toolgym eval` (over its easy handle) and the trainer
 * (over its rollout connections) both fetch through it, each passing its own GET as a
 * callback, so paging, the response checks and the errors live in one place.
 *
 * Does not: read prompts or answers (agents never see more than ids here), choose tasks, or
 * open connections itself. Thread-safety: as the callback.
 */
#ifndef TG_TASK_IDS_H
#define TG_TASK_IDS_H

#include <jansson.h>

#include "base/tg.h"

/*
 * task_ids_get_fn — GET path (e.g. "/v1/tasks?split=train&offset=0&limit=1000") from the
 * server. Returns 0 with *status and *body (new parsed JSON, or NULL for an empty body) for
 * any HTTP status, or a tg_err with *err filled when no answer came.
 */
typedef int (*task_ids_get_fn)(void *ud, const char *path, long *status, json_t **body,
                               struct tg_error *err);

/*
 * task_ids_fetch — the ids of split's tasks in server order, TG_TASK_LIMIT_MAX a page. Returns
 * 0 with *ids a new array of strings (never empty); or, with *err: get's error; TG_EIO
 * {"bad_response"} for a page that is not HTTP 200 with {tasks, total}; TG_EINVAL
 * {"bad_response"} for a task without a usable id (a string under TG_TASK_ID_MAX bytes);
 * TG_EINVAL {"no_tasks"} when the split has no tasks; TG_ENOMEM.
 */
int task_ids_fetch(task_ids_get_fn get, void *ud, const char *split, json_t **ids,
                   struct tg_error *err);

#endif
