/*
 * test_crash.c — suite `crash_recovery`: a real `toolgym serve` process (the binary under test,
 * $TOOLGYM_BIN) is killed with SIGKILL while eight clients play episodes on it, then started
 * again on the same trajectory file. Checks the durability guarantee of docs/reliability.md:
 * every episode a client was told had finished (the reply to its last step said done) is in
 * the log exactly once, those whose --sync-ms interval had passed before the kill included; a
 * torn last line (appended after the kill, as an interrupted write leaves one) is detected at
 * start-up, counted and skipped, and later lines start clean; the restarted server answers its
 * first request at once and logs new episodes after the old ones.
 */
#include <curl/curl.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "server/trajlog.h"
#include "tg_test.h"

extern char **environ;

#define CLIENTS    8
#define SYNC_MS    50
#define DONE_MAX   100000
#define WANT_DONE  80 /* finished episodes before the kill */
#define AFTER_DONE 5  /* episodes played on the restarted server */

static double now_s(void) {
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- the server process --------------------------------------------------------------------- */

struct proc {
    pid_t pid;
    int port;
    char log[256];
};

/* The whole of a small file (new, NUL-terminated); NULL when it cannot be read. */
static char *slurp(const char *path) {
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t len = 0;

    if (!f)
        return NULL;
    buf = malloc(1 << 20);
    if (buf) {
        len = fread(buf, 1, (1 << 20) - 1, f);
        buf[len] = '\0';
    }
    fclose(f);
    return buf;
}

/* Start `toolgym serve` on port 0 appending to traj, stderr to p->log; wait (up to 60 s, a
 * liveness bound) for its "listening on" line. 0, or -1 (the test fails). */
static int serve(struct proc *p, const char *traj) {
    const char *bin = getenv("TOOLGYM_BIN") ? getenv("TOOLGYM_BIN") : "build/toolgym";
    char sync[16];
    /* not --quiet: a torn line is reported on stderr only without it */
    char *argv[] = {
        (char *)bin,      "serve",      "--port",    "0",  "--tasks", "data/tasks/test.jsonl",
        "--trajectories", (char *)traj, "--sync-ms", sync, NULL};
    posix_spawn_file_actions_t fa;
    double t0;

    snprintf(sync, sizeof(sync), "%d", SYNC_MS);
    p->port = 0;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, p->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    if (posix_spawn(&p->pid, bin, &fa, NULL, argv, environ) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return -1;
    }
    posix_spawn_file_actions_destroy(&fa);
    for (t0 = now_s(); now_s() - t0 < 60; usleep(10 * 1000)) {
        char *log = slurp(p->log);
        const char *at = log ? strstr(log, "listening on http://127.0.0.1:") : NULL;
        int st;

        if (at)
            p->port = (int)strtol(at + strlen("listening on http://127.0.0.1:"), NULL, 10);
        free(log);
        if (p->port > 0)
            return 0;
        if (waitpid(p->pid, &st, WNOHANG) == p->pid)
            return -1;
    }
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
    return -1;
}

/* ---- clients -------------------------------------------------------------------------------- */

struct finished {
    pthread_mutex_t mu;
    char (*ids)[40]; /* (DONE_MAX) episodes a client was told had finished */
    double *at;      /* (DONE_MAX) when the client read that reply */
    int n;
};

struct client {
    int port, id;
    atomic_int *stop;
    struct finished *fin;
    int errors_before_stop; /* failures not caused by the kill (must stay 0) */
};

/* POST body to path; the status, and *out the parsed reply (new, may be NULL); -1 when the
 * transfer failed (the server is gone). */
static long post(CURL *c, int port, const char *path, const char *body, json_t **out) {
    char url[256];
    FILE *mem;
    char *buf = NULL;
    size_t len = 0;
    long status = 0;
    CURLcode cc;

    *out = NULL;
    mem = open_memstream(&buf, &len);
    if (!mem)
        return -1;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, mem);
    cc = curl_easy_perform(c);
    fclose(mem);
    if (cc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        *out = json_loadb(buf, len, 0, NULL);
    }
    free(buf);
    return cc == CURLE_OK ? status : -1;
}

static CURL *client_curl(struct curl_slist **hdrs) {
    CURL *c = curl_easy_init();

    *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    *hdrs = curl_slist_append(*hdrs, "Expect:");
    if (c) {
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdrs);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    }
    return c;
}

/* Play one episode: create, one calculator step, the answer. 1 when the last reply said done
 * (id in id, 40 bytes), 0 when a request failed (the server is gone), -1 on a wrong reply. */
static int play_one(CURL *c, int port, long seed, char *id) {
    char body[128], path[128];
    json_t *j;
    long st;
    int done;

    snprintf(body, sizeof(body), "{\"split\":\"test\",\"seed\":%ld,\"tag\":\"crash\"}", seed);
    st = post(c, port, "/v1/episodes", body, &j);
    if (st < 0) {
        json_decref(j);
        return 0;
    }
    if (st != 201 || !json_is_string(json_object_get(j, "episode_id"))) {
        json_decref(j);
        return -1;
    }
    snprintf(id, 40, "%s", json_string_value(json_object_get(j, "episode_id")));
    json_decref(j);
    snprintf(path, sizeof(path), "/v1/episodes/%s/step", id);
    st = post(c, port, path,
              "{\"tool_call\":{\"name\":\"calculator\",\"arguments\":{\"expression\":\"6*7\"}}}",
              &j);
    json_decref(j);
    if (st != 200)
        return st < 0 ? 0 : -1;
    st = post(c, port, path, "{\"answer\":\"42\"}", &j);
    done = st == 200 && json_is_true(json_object_get(j, "done"));
    json_decref(j);
    if (st < 0)
        return 0;
    return done ? 1 : -1;
}

static void *client_main(void *p) {
    struct client *cl = p;
    struct curl_slist *hdrs;
    CURL *c = client_curl(&hdrs);
    char id[40];

    for (long i = 0; c && !atomic_load(cl->stop); i++) {
        int r = play_one(c, cl->port, (long)cl->id * 1000000 + i, id);

        if (r == 0)
            break; /* the server is gone */
        if (r < 0) {
            if (!atomic_load(cl->stop))
                cl->errors_before_stop++;
            continue;
        }
        pthread_mutex_lock(&cl->fin->mu);
        if (cl->fin->n < DONE_MAX) {
            snprintf(cl->fin->ids[cl->fin->n], 40, "%s", id);
            cl->fin->at[cl->fin->n] = now_s();
            cl->fin->n++;
        }
        pthread_mutex_unlock(&cl->fin->mu);
    }
    curl_easy_cleanup(c);
    curl_slist_free_all(hdrs);
    return NULL;
}

/* ---- the log -------------------------------------------------------------------------------- */

struct logged {
    char (*ids)[40];
    int n, cap, foreign; /* foreign: lines without an episode id */
};

static int on_line(const json_t *line, void *ud) {
    struct logged *l = ud;
    const char *id = json_string_value(json_object_get(line, "episode_id"));

    if (!id) {
        l->foreign++;
        return 0;
    }
    if (l->n < l->cap)
        snprintf(l->ids[l->n++], 40, "%s", id);
    return 0;
}

static int cmp_id(const void *a, const void *b) {
    return strcmp(a, b);
}

/* Read the log: its stats, its episode ids sorted in l. */
static void read_log(const char *path, struct trajlog_stats *st, struct logged *l) {
    struct tg_error err;

    l->n = l->foreign = 0;
    CU_ASSERT_EQUAL(trajlog_read_file(path, on_line, l, st, &err), 0);
    qsort(l->ids, (size_t)l->n, sizeof(l->ids[0]), cmp_id);
}

/* How many times id is in the sorted log. */
static int times_logged(const struct logged *l, const char *id) {
    char(*hit)[40] = bsearch(id, l->ids, (size_t)l->n, sizeof(l->ids[0]), cmp_id);
    int k = 0;

    if (!hit)
        return 0;
    while (hit > l->ids && strcmp(hit[-1], id) == 0)
        hit--;
    while (hit < l->ids + l->n && strcmp(*hit, id) == 0) {
        k++;
        hit++;
    }
    return k;
}

static int no_duplicates(const struct logged *l) {
    for (int i = 1; i < l->n; i++)
        if (strcmp(l->ids[i - 1], l->ids[i]) == 0)
            return 0;
    return 1;
}

/* GET path; the status and the body (new) in *body. */
static long get(int port, const char *path, char **body) {
    char url[256];
    struct http_resp r;
    long st;

    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    *body = NULL;
    if (test_http("GET", url, NULL, 0, NULL, NULL, &r) != 0) {
        http_resp_free(&r);
        return -1;
    }
    st = r.status;
    *body = r.body;
    return st;
}

TG_TEST(crash_recovery, sigkill_loses_no_finished_episode_and_a_torn_line_is_skipped) {
    static struct finished fin = {.mu = PTHREAD_MUTEX_INITIALIZER};
    static struct logged logged;
    struct client clients[CLIENTS];
    pthread_t th[CLIENTS];
    atomic_int stop = 0;
    struct proc p;
    struct trajlog_stats st;
    char traj[128], *body, torn[96];
    double t0, t_kill;
    int status, synced = 0, lines_before;
    FILE *f;

    fin.ids = calloc(DONE_MAX, sizeof(*fin.ids));
    fin.at = calloc(DONE_MAX, sizeof(*fin.at));
    logged.cap = DONE_MAX;
    logged.ids = calloc(DONE_MAX, sizeof(*logged.ids));
    CU_ASSERT_FATAL(fin.ids && fin.at && logged.ids);
    fin.n = 0;
    snprintf(traj, sizeof(traj), "/tmp/tg_crash_%d.jsonl", (int)getpid());
    snprintf(p.log, sizeof(p.log), "/tmp/tg_crash_%d.log", (int)getpid());
    unlink(traj);
    CU_ASSERT_EQUAL_FATAL(serve(&p, traj), 0);

    /* eight clients play until WANT_DONE episodes have finished and three sync intervals more;
     * then SIGKILL, mid-play */
    for (int i = 0; i < CLIENTS; i++) {
        clients[i] = (struct client){p.port, i, &stop, &fin, 0};
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, client_main, &clients[i]), 0);
    }
    for (t0 = now_s(); now_s() - t0 < 120; usleep(5 * 1000)) {
        pthread_mutex_lock(&fin.mu);
        status = fin.n;
        pthread_mutex_unlock(&fin.mu);
        if (status >= WANT_DONE)
            break;
    }
    usleep(3 * SYNC_MS * 1000); /* the first WANT_DONE are past their sync interval; play on */
    t_kill = now_s();
    CU_ASSERT_EQUAL(kill(p.pid, SIGKILL), 0);
    CU_ASSERT_EQUAL(waitpid(p.pid, &status, 0), p.pid);
    CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    atomic_store(&stop, 1);
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(th[i], NULL);
        CU_ASSERT_EQUAL(clients[i].errors_before_stop, 0);
    }
    CU_ASSERT(fin.n >= WANT_DONE);

    /* every episode reported finished is logged exactly once: those whose sync interval had
     * passed at the kill (the guarantee that also holds for a power loss) and the others (a
     * line is written before its reply is sent) */
    read_log(traj, &st, &logged);
    CU_ASSERT_EQUAL(st.invalid, 0);
    CU_ASSERT_EQUAL(logged.foreign, 0);
    CU_ASSERT(no_duplicates(&logged));
    for (int i = 0; i < fin.n; i++) {
        int k = times_logged(&logged, fin.ids[i]);

        if (fin.at[i] + SYNC_MS / 1000.0 < t_kill)
            synced++;
        if (k != 1)
            printf("  crash_recovery: episode %s finished before the kill is logged %d times\n",
                   fin.ids[i], k);
        CU_ASSERT_EQUAL(k, 1);
    }
    CU_ASSERT(synced >= WANT_DONE);
    CU_ASSERT(st.lines >= (size_t)fin.n); /* and those finished while their reply was lost */
    lines_before = (int)st.lines;

    /* a torn last line, as an interrupted write leaves one: the start of a real line */
    f = fopen(traj, "r");
    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT_FATAL(fgets(torn, sizeof(torn), f) != NULL);
    fclose(f);
    torn[sizeof(torn) - 1 - 30] = '\0'; /* cut mid-line: no newline, not JSON */
    f = fopen(traj, "a");
    CU_ASSERT_FATAL(f != NULL);
    fputs(torn, f);
    fclose(f);
    read_log(traj, &st, &logged);
    CU_ASSERT_EQUAL(st.torn, 1);
    CU_ASSERT_EQUAL((int)st.lines, lines_before);

    /* restart on the same file: it says what it found and serves at once */
    CU_ASSERT_EQUAL_FATAL(serve(&p, traj), 0);
    CU_ASSERT_EQUAL(get(p.port, "/healthz", &body), 200);
    free(body);
    CU_ASSERT_EQUAL(get(p.port, "/metrics", &body), 200);
    CU_ASSERT(body && strstr(body, "toolgym_trajectory_torn_lines_total 1") != NULL);
    free(body);
    body = slurp(p.log);
    CU_ASSERT(body && strstr(body, "torn last line") != NULL);
    free(body);
    {
        struct curl_slist *hdrs;
        CURL *c = client_curl(&hdrs);
        char id[40];

        for (int i = 0; i < AFTER_DONE; i++)
            CU_ASSERT_EQUAL(play_one(c, p.port, 9000000 + i, id), 1);
        curl_easy_cleanup(c);
        curl_slist_free_all(hdrs);
    }
    CU_ASSERT_EQUAL(kill(p.pid, SIGTERM), 0);
    CU_ASSERT_EQUAL(waitpid(p.pid, &status, 0), p.pid);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    /* the fragment stays one skipped line; the new episodes follow on lines of their own */
    read_log(traj, &st, &logged);
    CU_ASSERT_EQUAL(st.torn, 0);
    CU_ASSERT_EQUAL(st.invalid, 1);
    CU_ASSERT_EQUAL((int)st.lines, lines_before + AFTER_DONE);
    CU_ASSERT(no_duplicates(&logged));
    for (int i = 0; i < fin.n; i++)
        CU_ASSERT_EQUAL(times_logged(&logged, fin.ids[i]), 1);

    unlink(traj);
    unlink(p.log);
    free(fin.ids);
    free(fin.at);
    free(logged.ids);
}
