/*
 * test_install.c — `make install` end to end: scripts/install.sh (what the make target runs)
 * copies the binary under test ($TOOLGYM_BIN, set by make test; else build/toolgym) into a
 * temporary PREFIX; the installed `toolgym serve` is started as a separate process from an
 * empty directory without $TOOLGYM_DATA, and must find PREFIX/share/toolgym by itself, answer
 * a search and list every shipped task. --corpus and --tasks still override; a binary with
 * no data anywhere, or a wrong $TOOLGYM_DATA, stops with a message naming where it looked.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "tg_test.h"

extern char **environ;

#define START_TIMEOUT_MS 60000 /* sanitizer builds start slowly on a loaded machine */

/* ---- processes ---------------------------------------------------------------------------- */

/*
 * spawn — fork and exec argv[0] in directory cwd (NULL: ours) with our environment minus
 * TOOLGYM_DATA, plus `extra` ("NAME=value" or NULL); the child's stderr (and stdout) go to a
 * pipe whose read end is stored in *errfd. Returns the pid or -1.
 */
static pid_t spawn(char *const argv[], const char *cwd, const char *extra, int *errfd) {
    char *envp[512];
    int n = 0, p[2];
    pid_t pid;

    for (char **e = environ; *e && n < 510; e++)
        if (strncmp(*e, "TOOLGYM_DATA=", 13) != 0)
            envp[n++] = *e;
    if (extra)
        envp[n++] = (char *)extra;
    envp[n] = NULL;
    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    pid = fork();
    if (pid == 0) { /* only async-signal-safe calls until exec */
        if ((cwd && chdir(cwd) != 0) || dup2(p[1], 1) < 0 || dup2(p[1], 2) < 0)
            _exit(126);
        execve(argv[0], argv, envp);
        _exit(127);
    }
    close(p[1]);
    if (pid < 0) {
        close(p[0]);
        return -1;
    }
    *errfd = p[0];
    return pid;
}

static long ms_since(const struct timespec *t0) {
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)(t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/*
 * read_until — append what the child writes to buf (kept NUL-terminated) until done(buf)
 * holds, the pipe closes or timeout_ms pass. done may be NULL (read to the end). Returns 1
 * if done(buf) held (or, with done NULL, the pipe closed), else 0.
 */
static int read_until(int fd, char *buf, size_t size, int (*done)(const char *), int timeout_ms) {
    size_t len = strlen(buf);
    struct timespec t0;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        long left = timeout_ms - ms_since(&t0);
        ssize_t r;

        char junk[4096];

        if (done && done(buf))
            return 1;
        if (left <= 0)
            return 0;
        if (poll(&pfd, 1, (int)left) <= 0)
            continue;
        if (len + 1 >= size) /* full: drain, so the child never blocks on the pipe */
            r = read(fd, junk, sizeof(junk));
        else
            r = read(fd, buf + len, size - len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return done ? done(buf) : 1;
        if (len + 1 < size) {
            len += (size_t)r;
            buf[len] = '\0';
        }
    }
}

#define LISTENING "listening on http://"

/* The server's "listening on http://HOST:PORT" line is complete. */
static int listening(const char *log) {
    const char *p = strstr(log, LISTENING);

    return p && strchr(p, '\n');
}

/* Run argv to completion; its exit status (or -1) and its output in out. */
static int run(char *const argv[], const char *cwd, const char *extra, char *out, size_t size) {
    int fd, status;
    pid_t pid = spawn(argv, cwd, extra, &fd);

    out[0] = '\0';
    if (pid < 0)
        return -1;
    read_until(fd, out, size, NULL, START_TIMEOUT_MS);
    close(fd);
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---- an installed tree -------------------------------------------------------------------- */

struct installed {
    char prefix[PATH_MAX];
    char bin[PATH_MAX];
    char empty[PATH_MAX]; /* an empty directory to run from */
};

static int install(struct installed *in) {
    const char *bin = getenv("TOOLGYM_BIN");
    char *argv[] = {"/bin/sh", "scripts/install.sh", NULL, in->prefix, NULL};
    char out[4096];
    int rc;

    argv[2] = (char *)(bin && *bin ? bin : "build/toolgym");
    snprintf(in->prefix, sizeof(in->prefix), "/tmp/tg-install-XXXXXX");
    snprintf(in->empty, sizeof(in->empty), "/tmp/tg-cwd-XXXXXX");
    if (!mkdtemp(in->prefix) || !mkdtemp(in->empty))
        return -1;
    snprintf(in->bin, sizeof(in->bin), "%s/bin/toolgym", in->prefix);
    rc = run(argv, NULL, NULL, out, sizeof(out));
    if (rc != 0)
        fprintf(stderr, "install.sh exited %d: %s\n", rc, out);
    return rc;
}

static void uninstall(struct installed *in) {
    char *argv[] = {"/bin/rm", "-rf", in->prefix, in->empty, NULL};
    char out[256];

    CU_ASSERT_EQUAL(run(argv, NULL, NULL, out, sizeof(out)), 0);
}

/* A started `toolgym serve`: its pid, the pipe of its stderr, what it printed, its URL. */
struct served {
    pid_t pid;
    int fd;
    char log[8192];
    char url[64];
};

/* Start in->bin serve --port 0 ARGS... from in->empty; 0 once it prints where it listens. */
static int serve(const struct installed *in, const char *extra_env, const char *a1, const char *a2,
                 const char *a3, const char *a4, struct served *s) {
    char *argv[] = {(char *)in->bin, "serve",    "--port",   "0", "--run-workers", "1", (char *)a1,
                    (char *)a2,      (char *)a3, (char *)a4, NULL};
    char *p;
    long port;

    memset(s, 0, sizeof(*s));
    s->pid = spawn(argv, in->empty, extra_env, &s->fd);
    if (s->pid < 0)
        return -1;
    if (!read_until(s->fd, s->log, sizeof(s->log), listening, START_TIMEOUT_MS))
        return -1;
    p = strstr(s->log, LISTENING) + strlen(LISTENING);
    p = strchr(p, ':');
    if (!p)
        return -1;
    port = strtol(p + 1, NULL, 10);
    snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%ld", port);
    return port > 0 ? 0 : -1;
}

/* SIGTERM, wait; the exit status (0 for a clean stop) or -1. */
static int stop(struct served *s) {
    int status;

    if (s->pid <= 0)
        return -1;
    kill(s->pid, SIGTERM);
    read_until(s->fd, s->log, sizeof(s->log), NULL, START_TIMEOUT_MS);
    close(s->fd);
    if (waitpid(s->pid, &status, 0) != s->pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* GET or POST url+path; the parsed JSON body of a 200 answer, or NULL. */
static json_t *call(const struct served *s, const char *method, const char *path,
                    const char *body) {
    char url[256];
    struct http_resp r;
    json_t *j = NULL;

    snprintf(url, sizeof(url), "%s%s", s->url, path);
    if (test_http(method, url, body, body ? strlen(body) : 0, NULL, NULL, &r) != 0)
        return NULL;
    if (r.status == 200)
        j = json_loads(r.body, 0, NULL);
    else
        fprintf(stderr, "%s %s: %ld %s\n", method, path, r.status, r.body ? r.body : "");
    http_resp_free(&r);
    return j;
}

/* Lines holding a task id in a task file: the number of tasks it ships. */
static long count_tasks(const char *path) {
    char line[1 << 16];
    long n = 0;
    FILE *f = fopen(path, "r");

    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (strstr(line, "\"id\""))
            n++;
    fclose(f);
    return n;
}

/* The "content" text of a search answer, or "" */
static const char *content(json_t *j) {
    const char *c = json_string_value(json_object_get(j, "content"));

    return c ? c : "";
}

/* ---- tests -------------------------------------------------------------------------------- */

TG_TEST(install, installed_tree_holds_binary_and_data) {
    static const char *const files[] = {"bin/toolgym",
                                        "share/toolgym/corpus.jsonl",
                                        "share/toolgym/tasks/train.jsonl",
                                        "share/toolgym/tasks/test.jsonl",
                                        "share/toolgym/tasks/ood.jsonl",
                                        "share/toolgym/grammar/common.json",
                                        "share/toolgym/rewards.json"};
    struct installed in;
    char p[PATH_MAX + 64];

    CU_ASSERT_EQUAL_FATAL(install(&in), 0);
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", in.prefix, files[i]);
        CU_ASSERT_EQUAL(access(p, R_OK), 0);
    }
    CU_ASSERT_EQUAL(access(in.bin, X_OK), 0);
    uninstall(&in);
}

TG_TEST(install, serves_from_another_directory) {
    struct installed in;
    struct served s;
    char want[PATH_MAX + 64], real[PATH_MAX];
    long shipped = count_tasks("data/tasks/train.jsonl") + count_tasks("data/tasks/test.jsonl") +
                   count_tasks("data/tasks/ood.jsonl");
    json_t *j;

    CU_ASSERT_FATAL(shipped > 0);
    CU_ASSERT_EQUAL_FATAL(install(&in), 0);
    if (serve(&in, NULL, NULL, NULL, NULL, NULL, &s) != 0) {
        fprintf(stderr, "installed serve did not start: %s\n", s.log);
        CU_FAIL("the installed toolgym serve did not start");
        stop(&s);
        uninstall(&in);
        return;
    }
    /* it says where its data came from: the installed share/toolgym */
    CU_ASSERT_PTR_NOT_NULL_FATAL(realpath(in.prefix, real));
    snprintf(want, sizeof(want), "data directory %s/share/toolgym\n", real);
    CU_ASSERT_PTR_NOT_NULL(strstr(s.log, want));
    j = call(&s, "POST", "/v1/tools/search",
             "{\"arguments\":{\"query\":\"Mivor founded\",\"k\":1}}");
    CU_ASSERT_PTR_NOT_NULL(j);
    CU_ASSERT(json_is_true(json_object_get(j, "ok")));
    CU_ASSERT_PTR_NOT_NULL(strstr(content(j), "Mivor"));
    json_decref(j);
    j = call(&s, "GET", "/v1/tasks?limit=1", NULL);
    CU_ASSERT_PTR_NOT_NULL(j);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "total")), shipped);
    json_decref(j);
    CU_ASSERT_EQUAL(stop(&s), 0);
    uninstall(&in);
}

TG_TEST(install, corpus_and_tasks_options_override) {
    struct installed in;
    struct served s;
    char corpus[PATH_MAX], tasks[PATH_MAX];
    json_t *j;

    CU_ASSERT_PTR_NOT_NULL_FATAL(realpath(tg_test_data("search_tiny.jsonl"), corpus));
    CU_ASSERT_PTR_NOT_NULL_FATAL(realpath(tg_test_data("tasks_good.jsonl"), tasks));
    CU_ASSERT_EQUAL_FATAL(install(&in), 0);
    if (serve(&in, NULL, "--corpus", corpus, "--tasks", tasks, &s) != 0) {
        fprintf(stderr, "installed serve did not start: %s\n", s.log);
        CU_FAIL("the installed toolgym serve did not start");
        stop(&s);
        uninstall(&in);
        return;
    }
    CU_ASSERT_PTR_NULL(strstr(s.log, "data directory")); /* nothing taken from it */
    j = call(&s, "POST", "/v1/tools/search", "{\"arguments\":{\"query\":\"fox\",\"k\":1}}");
    CU_ASSERT_PTR_NOT_NULL(j);
    CU_ASSERT_PTR_NOT_NULL(strstr(content(j), "Alpha")); /* tests/data/search_tiny.jsonl */
    json_decref(j);
    j = call(&s, "POST", "/v1/tools/search", "{\"arguments\":{\"query\":\"Mivor\",\"k\":1}}");
    CU_ASSERT_PTR_NOT_NULL(j);
    CU_ASSERT_PTR_NULL(strstr(content(j), "Mivor"));
    json_decref(j);
    j = call(&s, "GET", "/v1/tasks", NULL);
    CU_ASSERT_PTR_NOT_NULL(j);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(j, "total")), count_tasks(tasks));
    json_decref(j);
    CU_ASSERT_EQUAL(stop(&s), 0);
    uninstall(&in);
}

TG_TEST(install, no_data_anywhere_is_a_clear_error) {
    struct installed in;
    char *rm[] = {"/bin/rm", "-rf", NULL, NULL};
    char *argv[] = {NULL, "serve", "--port", "0", NULL};
    char share[PATH_MAX + 32], out[4096];

    CU_ASSERT_EQUAL_FATAL(install(&in), 0);
    argv[0] = in.bin;
    /* a wrong $TOOLGYM_DATA is an error even though the installed data is there */
    CU_ASSERT_EQUAL(run(argv, in.empty, "TOOLGYM_DATA=/nonexistent", out, sizeof(out)), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "TOOLGYM_DATA=/nonexistent"));
    /* the binary alone: every place is named */
    snprintf(share, sizeof(share), "%s/share", in.prefix);
    rm[2] = share;
    CU_ASSERT_EQUAL_FATAL(run(rm, NULL, NULL, out, sizeof(out)), 0);
    CU_ASSERT_EQUAL(run(argv, in.empty, NULL, out, sizeof(out)), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "share/toolgym"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "./data"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "TOOLGYM_DATA"));
    uninstall(&in);
}
