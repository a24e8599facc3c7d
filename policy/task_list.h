/*
 * task_list.h — the tasks a training or evaluation run plays: the ids of a split from the
 * server (GET /v1/tasks, paged), each with a slot for its expert calls (from the local task
 * file, demo.h: the demonstrations that anchors replay).
 *
 * Does not: read prompts, answers or plans (agents never see them over HTTP) or choose tasks.
 * Thread-safety: one struct rollout per thread (rollout.h); otherwise pure.
 */
#ifndef TG_TASK_LIST_H
#define TG_TASK_LIST_H

#include <jansson.h>

#include "base/limits.h"
#include "base/tg.h"
#include "policy/rollout.h"

struct task_ref {
    char id[TG_TASK_ID_MAX];
    json_t *expert; /* borrowed from the expert map (task_list_experts), or NULL */
};

/*
 * task_list_fetch — the ids of split `split` from server 0 of r, by task_ids_fetch
 * (client/task_ids.h). *out: new array of *n task refs (free()), expert NULL. Returns 0, or
 * task_ids_fetch's errors (a rollout error, a bad response, an empty split), with *err.
 */
int task_list_fetch(struct rollout *r, const char *split, struct task_ref **out, int *n,
                    struct tg_error *err);

#endif
