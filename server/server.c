/*
 * server.c — start-up and shut-down of a whole server: configuration defaults, the shared
 * tool registry (reference-counted across servers in one process), the run queue for slow
 * tools, and the HTTP daemon. Episodes, tasks and the trajectory log hook in here too.
 */
#include "server/server.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/datadir.h"
#include "base/dbuf.h"
#include "base/jsonw.h"
#include "tools/tools.h"
#include "server/connwatch.h"
#include "server/episode.h"
#include "server/http.h"
#include "server/judge.h"
#include "server/mcp_session.h"
#include "base/limits.h"
#include "server/report.h"
#include "server/reward.h"
#include "server/status.h"
#include "server/task.h"
#include "server/trajlog.h"

static pthread_mutex_t tools_mu = PTHREAD_MUTEX_INITIALIZER;
static int tools_users;

void server_config_defaults(struct server_config *c) {
    memset(c, 0, sizeof(*c));
    c->host = "127.0.0.1";
    c->port = 8080;
    c->max_body = TG_MAX_BODY_DEFAULT;
    c->run_queue = TG_RUN_QUEUE_DEFAULT;
    c->reward_mode = NULL; /* the reward config's mode (default judge) */
    c->max_episodes = TG_EPISODES_MAX;
    c->idle_sec = TG_EPISODE_IDLE_SEC;
    c->max_episode_bytes = TG_EPISODE_BYTES_DEFAULT;
    c->evict_idle_sec = TG_EVICT_IDLE_SEC;
    c->conns_per_ip = TG_CONNS_PER_IP;
    c->header_timeout_sec = TG_HEADER_TIMEOUT_SEC;
    c->body_timeout_sec = TG_BODY_TIMEOUT_SEC;
    c->sync_ms = 1000;
    c->uid_base = 0; /* auto: claimed at start-up so that servers on one host never share */
}

static int tools_acquire(const struct server_config *c, struct tg_error *err) {
    struct tools_config tc;
    int rc = 0;

    pthread_mutex_lock(&tools_mu);
    if (tools_users == 0) {
        memset(&tc, 0, sizeof(tc));
        tc.corpus_path = c->corpus;
        tc.unsafe_sandbox = c->unsafe_sandbox;
        tc.sandbox_mode = c->sandbox_mode;
        tc.run_mode = c->run_mode;
        tc.run_workers = c->run_workers;
        tc.run_queue = c->run_queue;
        tc.code_cache = c->code_cache;
        tc.uid_base = c->uid_base;
        tc.quiet = c->quiet;
        rc = tools_init(&tc, err);
    }
    if (rc == 0)
        tools_users++;
    pthread_mutex_unlock(&tools_mu);
    return rc;
}

static void tools_release(void) {
    pthread_mutex_lock(&tools_mu);
    if (tools_users > 0 && --tools_users == 0)
        tools_shutdown();
    pthread_mutex_unlock(&tools_mu);
}

/* Load the task files: cfg->tasks (comma-separated, each must load) or tasks/train.jsonl,
 * tasks/test.jsonl and tasks/ood.jsonl of the data directory (base/datadir.h; those that
 * exist). */
static int load_tasks(struct server *s, struct tg_error *err) {
    static const char *const defaults[] = {"tasks/train.jsonl", "tasks/test.jsonl",
                                           "tasks/ood.jsonl"};
    const char *list = s->cfg.tasks;
    char dir[PATH_MAX];
    int rc;

    s->tasks = task_set_new();
    if (!s->tasks) {
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
        return TG_ENOMEM;
    }
    if (!list) {
        struct tg_error derr;

        if (datadir_find(dir, sizeof(dir), &derr) != 0) {
            if (!s->cfg.quiet)
                fprintf(stderr, "toolgym: serving without tasks: %s\n", derr.message);
            return 0;
        }
        for (size_t i = 0; i < TG_ARRAY_LEN(defaults); i++) {
            char path[PATH_MAX + 32];

            snprintf(path, sizeof(path), "%s/%s", dir, defaults[i]);
            if (access(path, R_OK) != 0) {
                if (!s->cfg.quiet)
                    fprintf(stderr, "toolgym: %s not found; serving without its tasks\n", path);
                continue;
            }
            rc = task_set_load(s->tasks, path, err);
            if (rc)
                return rc;
        }
        return 0;
    }
    while (*list) {
        char path[4096];
        size_t n = strcspn(list, ",");

        if (n == 0 || n >= sizeof(path)) {
            tg_error_set(err, TG_CODE_CONFIG, "--tasks: bad file list.");
            return TG_EINVAL;
        }
        memcpy(path, list, n);
        path[n] = '\0';
        rc = task_set_load(s->tasks, path, err);
        if (rc)
            return rc;
        list += n;
        if (*list == ',')
            list++;
    }
    return 0;
}

/* A client's default share of a store limit: limit/share, but at least floor (or the whole
 * limit when that is smaller), so that a trainer's rollouts in flight fit in a small store. */
static size_t client_share(size_t limit, size_t share, size_t floor) {
    size_t v = limit / share;

    if (v < floor)
        v = floor < limit ? floor : limit;
    return v;
}

/* Tasks, reward config, episode store, report totals and the trajectory log. */
/* s as a JSON string's text (jsonw flags), new; NULL on ENOMEM. */
static char *string_text(const char *s, int flags) {
    struct dbuf b;
    char *t = NULL;

    dbuf_init(&b, (size_t)-1 / 2);
    if (jsonw_string(&b, s, strlen(s), flags) == 0)
        t = dbuf_take(&b, NULL);
    dbuf_free(&b);
    return t;
}

static int episodes_start(struct server *s, struct tg_error *err) {
    const struct server_config *c = &s->cfg;
    struct episode_store_limits lim;
    size_t share = TG_CLIENT_SHARE_DIV;
    int rc;

    if (c->max_episodes < 1 || c->idle_sec < 1 || c->sync_ms < 0 || c->max_episode_bytes < 1 ||
        c->evict_idle_sec < 1) {
        tg_error_set(err, TG_CODE_CONFIG,
                     "--max-episodes, --idle-sec, --sync-ms, --max-episode-bytes and "
                     "--evict-idle-sec are out of range.");
        return TG_EINVAL;
    }
    /* with API keys the clients are the keys: one key's holder may use the whole store */
    if (s->nkeys > 0 && s->nkeys < share)
        share = s->nkeys;
    lim.max_episodes = c->max_episodes;
    lim.idle_sec = c->idle_sec;
    lim.max_bytes = c->max_episode_bytes;
    lim.client_episodes = c->client_episodes
                              ? c->client_episodes
                              : client_share(c->max_episodes, share, TG_CLIENT_EPISODES_FLOOR);
    lim.client_bytes = c->client_bytes
                           ? c->client_bytes
                           : client_share(c->max_episode_bytes, share, TG_CLIENT_BYTES_FLOOR);
    lim.evict_idle_sec = c->evict_idle_sec;
    if (lim.client_episodes < 1)
        lim.client_episodes = 1;
    if (lim.client_bytes < 1)
        lim.client_bytes = 1;
    rc = load_tasks(s, err);
    if (rc)
        return rc;
    s->reward = malloc(sizeof(*s->reward));
    if (!s->reward) {
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
        return TG_ENOMEM;
    }
    reward_config_defaults(s->reward);
    if (c->reward_config) {
        rc = reward_config_load(c->reward_config, s->reward, err);
        if (rc)
            return rc;
    }
    /* --reward-mode overrides the config file's "mode" */
    if (c->reward_mode && reward_mode_parse(c->reward_mode, &s->reward->mode) != 0) {
        tg_error_set(err, TG_CODE_CONFIG, "--reward-mode must be judge, torl or otc.");
        return TG_EINVAL;
    }
    s->episodes = episode_store_new(&lim, NULL);
    s->report = report_new();
    s->recent = status_recent_new();
    s->tools_list = tools_openai_list();
    if (!s->episodes || !s->report || !s->tools_list || !s->recent) {
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
        return TG_ENOMEM;
    }
    /* the list goes into every create reply and trajectory line: rendered once, spliced in */
    s->tools_text = jsonw_dumps(s->tools_list, 0, (size_t)-1 / 2, NULL);
    s->tools_text_ascii = jsonw_dumps(s->tools_list, JSONW_ASCII, (size_t)-1 / 2, NULL);
    s->instructions_ascii = string_text(judge_answer_format, JSONW_ASCII);
    if (!s->tools_text || !s->tools_text_ascii || !s->instructions_ascii) {
        tg_error_set(err, "internal", "Out of memory.");
        return TG_ENOMEM;
    }
    s->tools_splice_ascii.value = s->tools_list;
    s->tools_splice_ascii.text = s->tools_text_ascii;
    if (c->trajectories)
        return trajlog_open(c->trajectories, c->sync_ms, c->quiet, &s->trajlog, err);
    return 0;
}

static void episodes_stop(struct server *s) {
    trajlog_close(s->trajlog);
    json_decref(s->tools_list);
    free(s->tools_text);
    free(s->tools_text_ascii);
    free(s->instructions_ascii);
    status_recent_free(s->recent);
    episode_store_free(s->episodes);
    report_free(s->report);
    free(s->reward);
    task_set_free(s->tasks);
}

int server_node_name_ok(const char *name) {
    size_t n = 0;

    for (; name[n]; n++)
        if (!((name[n] >= 'a' && name[n] <= 'z') || (name[n] >= '0' && name[n] <= '9')))
            return 0;
    return n >= 1 && n <= TG_NODE_NAME_MAX;
}

int server_start(const struct server_config *c, struct server **out, struct tg_error *err) {
    struct server *s;
    int workers, runs, rc;

    *out = NULL;
    if (c->max_body == 0 || c->run_queue < 0 || c->client_runs < 0 || c->port < 0 ||
        c->port > 65535 || c->conns_per_ip < 0 || c->header_timeout_sec < 1 ||
        c->header_timeout_sec > TG_CONN_TIMEOUT_MAX || c->body_timeout_sec < 1 ||
        c->body_timeout_sec > TG_CONN_TIMEOUT_MAX) {
        tg_error_set(err, TG_CODE_CONFIG, "Server options out of range.");
        return TG_EINVAL;
    }
    if (c->node && !server_node_name_ok(c->node)) {
        tg_error_set(err, TG_CODE_CONFIG,
                     "--node must be 1 to %d lowercase letters and digits (it starts episode ids).",
                     TG_NODE_NAME_MAX);
        return TG_EINVAL;
    }
    s = calloc(1, sizeof(*s));
    if (!s) {
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
        return TG_ENOMEM;
    }
    s->cfg = *c;
    if (!c->quiet && (!c->corpus || !c->tasks)) {
        char dir[PATH_MAX];
        struct tg_error derr;

        if (datadir_find(dir, sizeof(dir), &derr) == 0)
            fprintf(stderr, "toolgym: data directory %s\n", dir);
    }
    rc = http_keys_load(s, err);
    if (rc)
        goto fail;
    rc = tools_acquire(c, err);
    if (rc)
        goto fail;
    s->tools_ref = 1;
    rc = episodes_start(s, err);
    if (rc)
        goto fail;
    workers = c->run_workers > 0 ? c->run_workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (workers < 1)
        workers = 1;
    runs = c->client_runs > 0 ? c->client_runs : (workers + c->run_queue) / 2;
    if (runs < 1)
        runs = 1;
    if (runs >= workers + c->run_queue) /* a share of the whole queue is no share */
        runs = 0;
    s->runq = runq_new(workers, c->run_queue, runs);
    s->connwatch = connwatch_new();
    s->mcp = mcp_sessions_new(TG_MCP_SESSIONS_MAX, TG_MCP_SESSION_IDLE_SEC);
    if (!s->runq || !s->connwatch || !s->mcp) {
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
    http_stop(s);
    runq_free(s->runq);
    connwatch_free(s->connwatch);
    mcp_sessions_free(s->mcp);
    episodes_stop(s);
    if (s->tools_ref)
        tools_release();
    free(s);
    return rc;
}

int server_port(const struct server *s) {
    return s->port;
}

void server_stop(struct server *s) {
    if (!s)
        return;
    http_stop(s);
    runq_free(s->runq);
    connwatch_free(s->connwatch);
    mcp_sessions_free(s->mcp);
    episodes_stop(s);
    if (s->tools_ref)
        tools_release();
    free(s);
}
