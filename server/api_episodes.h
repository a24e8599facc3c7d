/*
 * api_episodes.h — route handlers for tasks, episodes and reports (see http.h for the
 * handler contract; API.md "Tasks", "Episodes", "Evaluation" for the shapes):
 *   GET    /v1/tasks                 api_tasks_list
 *   POST   /v1/episodes              api_episode_create
 *   POST   /v1/episodes/{id}/step    api_episode_step   (run_code steps go through http_defer)
 *   POST   /v1/episodes/{id}/fork    api_episode_fork
 *   GET    /v1/episodes/{id}         api_episode_get
 *   DELETE /v1/episodes/{id}         api_episode_delete
 *   GET    /v1/report                api_report
 * They need s->tasks, s->episodes, s->reward and s->report (server_start sets them up);
 * s->trajlog is optional.
 */
#ifndef TG_API_EPISODES_H
#define TG_API_EPISODES_H

#include "server/http.h"

int api_tasks_list(struct http_req *rq, struct http_reply *rp);
int api_episode_create(struct http_req *rq, struct http_reply *rp);
int api_episode_step(struct http_req *rq, struct http_reply *rp);
int api_episode_fork(struct http_req *rq, struct http_reply *rp);
int api_episode_get(struct http_req *rq, struct http_reply *rp);
int api_episode_delete(struct http_req *rq, struct http_reply *rp);
int api_report(struct http_req *rq, struct http_reply *rp);

#endif
