/*
 * test_nginx.c — suite `nginx`: three servers (--node n1, n2, n3) behind real nginx on
 * loopback, with the configuration docs/operations.md gives (read from that file, ports
 * substituted). `toolgym eval` through the balancer completes its episodes, a fork and its
 * steps stay on their server, each server's trajectory log holds whole episodes of its own
 * only, a step sent to the wrong server is a 404 naming the episode, and `toolgym eval
 * --server A,B,C` spreads episodes over the servers itself. Skipped, with a notice, only where
 * nginx is not installed (scripts/deps.sh installs it as root).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client/eval.h"
#include "server/server.h"
#include "server/trajlog.h"
#include "tg_test.h"

extern char **environ;

#define NSERVERS   3
#define TEST_TASKS "data/tasks/test.jsonl"

static const char *nginx_path(void) {
    static const char *const paths[] = {"/usr/sbin/nginx", "/usr/bin/nginx",
                                        "/usr/local/sbin/nginx"};

    for (size_t i = 0; i < TG_ARRAY_LEN(paths); i++)
        if (access(paths[i], X_OK) == 0)
            return paths[i];
    return NULL;
}

/* A port nobody listens on now (bind to 0, read it, close). */
static int free_port(void) {
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static int port_open(int port) {
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* s with every `from` replaced by `to`: new string (s is freed), or NULL. */
static char *replace_all(char *s, const char *from, const char *to) {
    size_t fl = strlen(from), tl = strlen(to), n = 0, len;
    char *out, *o, *p;

    if (!s)
        return NULL;
    for (p = s; (p = strstr(p, from)) != NULL; p += fl)
        n++;
    len = strlen(s) + n * tl + 1;
    out = malloc(len);
    if (out) {
        o = out;
        for (p = s;;) {
            char *q = strstr(p, from);

            if (!q) {
                memcpy(o, p, strlen(p) + 1);
                break;
            }
            memcpy(o, p, (size_t)(q - p));
            o += q - p;
            memcpy(o, to, tl);
            o += tl;
            p = q + fl;
        }
    }
    free(s);
    return out;
}

/* The ```nginx block of docs/operations.md, with the doc's addresses (nginx on 8080, the
 * servers on 8081..8083) replaced by ours. New, or NULL. */
static char *doc_config(int listen, const int *ports) {
    FILE *f = fopen("docs/operations.md", "r");
    char *md = NULL, *start, *end, *conf = NULL, from[32], to[32];
    size_t n = 0;

    if (!f)
        return NULL;
    if (getdelim(&md, &n, '\0', f) > 0) {
        start = strstr(md, "```nginx\n");
        end = start ? strstr(start + 9, "\n```") : NULL;
        if (end)
            conf = strndup(start + 9, (size_t)(end - start - 9));
    }
    fclose(f);
    free(md);
    snprintf(to, sizeof(to), "127.0.0.1:%d", listen);
    conf = replace_all(conf, "127.0.0.1:8080", to);
    for (int i = 0; i < NSERVERS; i++) {
        snprintf(from, sizeof(from), "127.0.0.1:%d", 8081 + i);
        snprintf(to, sizeof(to), "127.0.0.1:%d", ports[i]);
        conf = replace_all(conf, from, to);
    }
    return conf;
}

struct nginx {
    pid_t pid;
    char dir[64];
    int port;
};

/* Start nginx in the foreground, as one process, with everything under a fresh directory. */
static int nginx_start(struct nginx *ng, const char *bin, const int *ports) {
    char path[128], *conf;
    const char *argv[8];
    FILE *f;

    snprintf(ng->dir, sizeof(ng->dir), "/tmp/tg_nginx_XXXXXX");
    if (!mkdtemp(ng->dir))
        return -1;
    ng->port = free_port();
    conf = doc_config(ng->port, ports);
    if (!conf || ng->port < 0) {
        free(conf);
        return -1;
    }
    snprintf(path, sizeof(path), "%s/nginx.conf", ng->dir);
    f = fopen(path, "w");
    if (!f) {
        free(conf);
        return -1;
    }
    fprintf(f,
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid %s/nginx.pid;\n"
            "error_log %s/error.log warn;\nevents { worker_connections 1024; }\n"
            "http {\n  access_log off;\n  client_body_temp_path %s/body;\n"
            "  proxy_temp_path %s/proxy;\n  fastcgi_temp_path %s/fastcgi;\n"
            "  uwsgi_temp_path %s/uwsgi;\n  scgi_temp_path %s/scgi;\n%s\n}\n",
            ng->dir, ng->dir, ng->dir, ng->dir, ng->dir, ng->dir, ng->dir, conf);
    fclose(f);
    free(conf);
    argv[0] = bin;
    argv[1] = "-p";
    argv[2] = ng->dir;
    argv[3] = "-c";
    argv[4] = path;
    argv[5] = "-e";
    argv[6] = "stderr";
    argv[7] = NULL;
    if (posix_spawn(&ng->pid, bin, NULL, NULL, (char *const *)argv, environ) != 0)
        return -1;
    for (int i = 0; i < 200 && !port_open(ng->port); i++) {
        int st;

        if (waitpid(ng->pid, &st, WNOHANG) == ng->pid) {
            ng->pid = 0;
            return -1;
        }
        usleep(25000);
    }
    return port_open(ng->port) ? 0 : -1;
}

static void nginx_stop(struct nginx *ng) {
    char cmd[128];

    if (ng->pid > 0) {
        kill(ng->pid, SIGTERM);
        waitpid(ng->pid, NULL, 0);
    }
    if (ng->dir[0]) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", ng->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", ng->dir);
    }
}

/* One request; returns the status, *out (new JSON or NULL) and the X-Toolgym-Node header. */
static long req(const char *url, const char *body, json_t **out, char *node, size_t node_n) {
    struct http_resp r;
    long st;

    *out = NULL;
    if (test_http(body ? "POST" : "GET", url, body, body ? strlen(body) : 0, NULL, NULL, &r) != 0)
        return -1;
    st = r.status;
    *out = r.len ? json_loads(r.body, 0, NULL) : NULL;
    if (node && test_header(&r, "X-Toolgym-Node", node, node_n) != 0)
        node[0] = '\0';
    http_resp_free(&r);
    return st;
}

static long req_at(const char *base, const char *path, const char *body, json_t **out) {
    char url[512];

    snprintf(url, sizeof(url), "%s%s", base, path);
    return req(url, body, out, NULL, 0);
}

struct node_log {
    const char *node;
    size_t lines, foreign, unfinished, by_tag;
    const char *tag;
};

static int check_line(const json_t *line, void *ud) {
    struct node_log *nl = ud;
    const char *id = json_string_value(json_object_get(line, "episode_id"));
    const json_t *steps = json_object_get(line, "steps");
    const char *last = json_string_value(
        json_object_get(json_array_get(steps, json_array_size(steps) - 1), "label"));
    size_t n = strlen(nl->node);

    nl->lines++;
    if (!id || strncmp(id, nl->node, n) != 0 || id[n] != '-')
        nl->foreign++;
    /* whole: the steps end with the answer's judgement or the step limit */
    if (!last ||
        (strcmp(last, "correct") != 0 && strcmp(last, "incorrect") != 0 &&
         strcmp(last, "step_limit") != 0 && !json_is_string(json_object_get(line, "outcome"))))
        nl->unfinished++;
    if (strcmp(json_string_value(json_object_get(line, "outcome")) ?: "running", "running") == 0)
        nl->unfinished++;
    if (strcmp(json_string_value(json_object_get(line, "tag")) ?: "", nl->tag) == 0)
        nl->by_tag++;
    return 0;
}

/* eval's oracle over servers; its report in *out when out is given (else dropped) */
static int play(const char *servers, const char *tag, long episodes, json_t **out) {
    struct eval_options o;
    struct eval_agent a;
    struct tg_error err;
    json_t *rep = NULL;
    int rc;

    memset(&o, 0, sizeof(o));
    o.server = servers;
    o.split = "test";
    o.agent = "oracle";
    o.tasks = TEST_TASKS;
    o.tag = tag;
    o.episodes = episodes;
    o.quiet = 1;
    if (eval_agent_new(&o, &a, &err) != 0)
        return -1;
    rc = eval_run(&o, &a, &rep, NULL, &err);
    if (rc)
        fprintf(stderr, "\n  eval through %s: %s\n", servers, err.message);
    if (out)
        *out = rep;
    else
        json_decref(rep);
    return rc;
}

TG_TEST(nginx, three_servers_behind_real_nginx) {
    static const char *const nodes[NSERVERS] = {"n1", "n2", "n3"};
    const char *bin = nginx_path();
    struct server *s[NSERVERS] = {0};
    char traj[NSERVERS][96], url[512], lb[64], path[512], node[32], id[128], fork_id[128];
    char list[3 * 64];
    int ports[NSERVERS];
    struct nginx ng = {0, "", 0};
    json_t *j = NULL, *rep = NULL;
    long st;

    if (!bin) {
        tg_test_skip("nginx is not installed, so the balancer test did not run "
                     "(apt-get install nginx; scripts/deps.sh installs it as root)");
        return;
    }
    for (int i = 0; i < NSERVERS; i++) {
        struct server_config c;

        snprintf(traj[i], sizeof(traj[i]), "/tmp/tg_nginx_%d_%s.jsonl", (int)getpid(), nodes[i]);
        unlink(traj[i]);
        server_config_defaults(&c);
        c.quiet = 1;
        c.tasks = TEST_TASKS;
        c.trajectories = traj[i];
        c.sync_ms = 50;
        c.unsafe_sandbox = 1;
        c.node = nodes[i];
        s[i] = test_server_start(&c);
        CU_ASSERT_FATAL(s[i] != NULL);
        ports[i] = server_port(s[i]);
    }
    CU_ASSERT_FATAL(nginx_start(&ng, bin, ports) == 0);
    snprintf(lb, sizeof(lb), "http://127.0.0.1:%d", ng.port);

    /* eval through the balancer: creates go round-robin, every step to its episode's server */
    CU_ASSERT_EQUAL(play(lb, "via-nginx", 30, NULL), 0);

    /* a fork through the balancer lands on its source's server, and so do its steps */
    snprintf(url, sizeof(url), "%s/v1/episodes", lb);
    CU_ASSERT_EQUAL_FATAL(
        req(url, "{\"task_id\":\"test-00001\",\"tag\":\"fork\"}", &j, node, sizeof(node)), 201);
    snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(j, "episode_id")));
    json_decref(j);
    snprintf(url, sizeof(url), "%s/v1/episodes/%s/step", lb, id);
    CU_ASSERT_EQUAL(req(url,
                        "{\"tool_call\":{\"name\":\"calculator\",\"arguments\":{"
                        "\"expression\":\"(73561 + 9514) * 35.12\"}}}",
                        &j, node, sizeof(node)),
                    200);
    json_decref(j);
    CU_ASSERT(strncmp(id, node, strlen(node)) == 0 && id[strlen(node)] == '-');
    snprintf(url, sizeof(url), "%s/v1/episodes/%s/fork", lb, id);
    CU_ASSERT_EQUAL_FATAL(req(url, "{\"at\":1}", &j, node, sizeof(node)), 201);
    snprintf(fork_id, sizeof(fork_id), "%s", json_string_value(json_object_get(j, "episode_id")));
    json_decref(j);
    CU_ASSERT(strncmp(fork_id, id, 3) == 0); /* the same node: "nX-" */
    for (int k = 0; k < 2; k++) {
        snprintf(url, sizeof(url), "%s/v1/episodes/%s/step", lb, k ? id : fork_id);
        CU_ASSERT_EQUAL(req(url, "{\"answer\":\"2917594\"}", &j, node, sizeof(node)), 200);
        CU_ASSERT(strncmp(fork_id, node, strlen(node)) == 0);
        json_decref(j);
    }

    /* a misrouted step: 404 naming the episode (and both nodes); no step is taken */
    CU_ASSERT_EQUAL_FATAL(
        req_at(test_server_url(s[0]), "/v1/episodes", "{\"task_id\":\"test-00001\"}", &j), 201);
    snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(j, "episode_id")));
    json_decref(j);
    snprintf(path, sizeof(path), "/v1/episodes/%s/step", id);
    st = req_at(test_server_url(s[1]), path, "{\"answer\":\"1\"}", &j);
    CU_ASSERT_EQUAL(st, 404);
    {
        const char *msg =
            json_string_value(json_object_get(json_object_get(j, "error"), "message"));

        CU_ASSERT(msg && strstr(msg, id) && strstr(msg, "node \"n1\"") &&
                  strstr(msg, "node \"n2\""));
    }
    json_decref(j);
    CU_ASSERT_EQUAL(req_at(test_server_url(s[0]), path, "{\"answer\":\"2917594\"}", &j), 200);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "step")), 1); /* nothing came before */
    json_decref(j);
    nginx_stop(&ng);

    /* eval --server A,B,C: the client spreads episodes itself */
    snprintf(list, sizeof(list), "%s,%s,%s", test_server_url(s[0]), test_server_url(s[1]),
             test_server_url(s[2]));
    CU_ASSERT_EQUAL(play(list, "spread", 9, &rep), 0);
    /* one report over all three servers (their counts added), and each server's beside it */
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(rep, "episodes")), 9);
    CU_ASSERT_DOUBLE_EQUAL(json_number_value(json_object_get(rep, "answer_accuracy")), 1.0, 1e-12);
    CU_ASSERT_EQUAL(json_object_size(json_object_get(rep, "servers")), NSERVERS);
    for (int i = 0; i < NSERVERS; i++) {
        const json_t *one = json_object_get(json_object_get(rep, "servers"), test_server_url(s[i]));

        CU_ASSERT_EQUAL(json_integer_value(json_object_get(one, "episodes")), 3);
    }
    json_decref(rep);

    for (int i = 0; i < NSERVERS; i++)
        test_server_stop(s[i]);
    {
        size_t total = 0, spread = 0;

        for (int i = 0; i < NSERVERS; i++) {
            struct node_log nl = {nodes[i], 0, 0, 0, 0, "spread"};
            struct trajlog_stats ls;
            struct tg_error err;

            CU_ASSERT_EQUAL(trajlog_read_file(traj[i], check_line, &nl, &ls, &err), 0);
            CU_ASSERT(nl.lines > 0);        /* the balancer used every server */
            CU_ASSERT_EQUAL(nl.foreign, 0); /* each log: its own episodes only */
            CU_ASSERT_EQUAL(nl.unfinished, 0);
            CU_ASSERT_EQUAL(nl.by_tag, 3); /* 9 spread episodes, 3 a server */
            CU_ASSERT_EQUAL(ls.invalid + ls.torn, 0);
            total += nl.lines;
            spread += nl.by_tag;
            unlink(traj[i]);
        }
        CU_ASSERT_EQUAL(total, 30 + 2 + 1 + 9); /* via nginx, an episode and its fork, the
                                                   misrouted one, spread */
        CU_ASSERT_EQUAL(spread, 9);
    }
}
