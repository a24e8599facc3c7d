/*
 * server.c — start-up and shut-down of a whole server: configuration defaults, the shared
 * tool registry (reference-counted across servers in one process), the run queue for slow
 * tools, and the HTTP daemon. Episodes, tasks and the trajectory log hook in here too.
 */
#include "server.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tools/tools.h"
#include "http.h"
#include "limits.h"

static pthread_mutex_t tools_mu = PTHREAD_MUTEX_INITIALIZER;
static int tools_users;

void server_config_defaults(struct server_config *c)
{
    memset(c, 0, sizeof(*c));
    c->host = "127.0.0.1";
    c->port = 8080;
    c->max_body = TG_MAX_BODY_DEFAULT;
    c->run_queue = TG_RUN_QUEUE_DEFAULT;
    c->reward_mode = "judge";
    c->max_episodes = TG_EPISODES_MAX;
    c->idle_sec = TG_EPISODE_IDLE_SEC;
    c->sync_ms = 1000;
}

static int tools_acquire(const struct server_config *c, struct tg_error *err)
{
    struct tools_config tc;
    int rc = 0;

    pthread_mutex_lock(&tools_mu);
    if (tools_users == 0) {
        memset(&tc, 0, sizeof(tc));
        tc.corpus_path = c->corpus;
        tc.unsafe_sandbox = c->unsafe_sandbox;
        tc.run_workers = c->run_workers;
        tc.run_queue = c->run_queue;
        tc.quiet = c->quiet;
        rc = tools_init(&tc, err);
    }
    if (rc == 0)
        tools_users++;
    pthread_mutex_unlock(&tools_mu);
    return rc;
}

static void tools_release(void)
{
    pthread_mutex_lock(&tools_mu);
    if (tools_users > 0 && --tools_users == 0)
        tools_shutdown();
    pthread_mutex_unlock(&tools_mu);
}

int server_start(const struct server_config *c, struct server **out, struct tg_error *err)
{
    struct server *s;
    int workers, rc;

    *out = NULL;
    if (c->max_body == 0 || c->run_queue < 0 || c->port < 0 || c->port > 65535) {
        tg_error_set(err, "config", "Server options out of range.");
        return TG_EINVAL;
    }
    s = calloc(1, sizeof(*s));
    if (!s) {
        tg_error_set(err, "internal", "Out of memory.");
        return TG_ENOMEM;
    }
    s->cfg = *c;
    rc = tools_acquire(c, err);
    if (rc)
        goto fail;
    s->tools_ref = 1;
    workers = c->run_workers > 0 ? c->run_workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (workers < 1)
        workers = 1;
    s->runq = runq_new(workers, c->run_queue);
    if (!s->runq) {
        tg_error_set(err, "internal", "Cannot start the run queue.");
        rc = TG_ENOMEM;
        goto fail;
    }
    rc = http_start(s, err);
    if (rc)
        goto fail;
    *out = s;
    return 0;
fail:
    runq_free(s->runq);
    if (s->tools_ref)
        tools_release();
    free(s);
    return rc;
}

int server_port(const struct server *s)
{
    return s->port;
}

void server_stop(struct server *s)
{
    if (!s)
        return;
    http_stop(s);
    runq_free(s->runq);
    if (s->tools_ref)
        tools_release();
    free(s);
}
