/*
 * test_status.c — suite `status`: the status page at `/`. Over HTTP: the page is HTML with no
 * external asset, GET /v1/status holds the episodes just played with their judged steps, the
 * report per split and tag and the sandbox layers, --no-status turns both off. In a browser:
 * headless Chromium loads the page, its script renders the episodes just played (their ids,
 * labels and the report), and a screenshot is kept under the build directory
 * (test-artifacts/status-page.png). The browser part is skipped, with a notice, only where
 * Chromium is not installed.
 */
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "server/server.h"
#include "tg_test.h"

extern char **environ;

#define STATUS_TASKS "tests/data/episodes_tasks.jsonl"

static struct server *start(int no_status) {
    struct server_config c;

    server_config_defaults(&c);
    c.quiet = 1;
    c.tasks = STATUS_TASKS;
    c.node = "st1";
    c.no_status = no_status;
    return test_server_start(&c);
}

static long call(struct server *s, const char *method, const char *path, const char *body,
                 struct http_resp *r) {
    char url[512];

    snprintf(url, sizeof(url), "%s%s", test_server_url(s), path);
    if (test_http(method, url, body, body ? strlen(body) : 0, NULL, NULL, r) != 0)
        return -1;
    return r->status;
}

/* Play two episodes: a calculator call then the answer, and a wrong mental answer. Their ids
 * into a and b. */
static void play_two(struct server *s, char *a, char *b, size_t n) {
    char path[256];
    struct http_resp r;
    json_t *j;

    for (int k = 0; k < 2; k++) {
        char *id = k ? b : a;

        CU_ASSERT_EQUAL_FATAL(call(s, "POST", "/v1/episodes",
                                   k ? "{\"task_id\":\"ep-mental-1\",\"tag\":\"page\"}"
                                     : "{\"task_id\":\"ep-arith-1\",\"tag\":\"page\","
                                       "\"feedback\":\"judge\"}",
                                   &r),
                              201);
        j = json_loads(r.body, 0, NULL);
        snprintf(id, n, "%s", json_string_value(json_object_get(j, "episode_id")));
        json_decref(j);
        http_resp_free(&r);
        snprintf(path, sizeof(path), "/v1/episodes/%s/step", id);
        if (k == 0) {
            CU_ASSERT_EQUAL(call(s, "POST", path,
                                 "{\"tool_call\":{\"name\":\"calculator\",\"arguments\":{"
                                 "\"expression\":\"48211 * 97 - 1234\"}}}",
                                 &r),
                            200);
            http_resp_free(&r);
        }
        CU_ASSERT_EQUAL(
            call(s, "POST", path, k ? "{\"answer\":\"7\"}" : "{\"answer\":\"4675233\"}", &r), 200);
        http_resp_free(&r);
    }
}

TG_TEST(status, page_and_json_over_http) {
    struct server *s = start(0);
    struct http_resp r;
    char a[128], b[128], ct[128];
    json_t *j, *recent;

    CU_ASSERT_FATAL(s != NULL);
    play_two(s, a, b, sizeof(a));
    CU_ASSERT_EQUAL(call(s, "GET", "/", NULL, &r), 200);
    CU_ASSERT(test_header(&r, "Content-Type", ct, sizeof(ct)) == 0 && strstr(ct, "text/html"));
    CU_ASSERT(strstr(r.body, "<script>") != NULL);
    /* self-contained: nothing loaded from anywhere else */
    CU_ASSERT(strstr(r.body, "http://") == NULL && strstr(r.body, "https://") == NULL &&
              strstr(r.body, "src=") == NULL && strstr(r.body, "<link") == NULL);
    http_resp_free(&r);
    CU_ASSERT_EQUAL(call(s, "GET", "/v1/status", NULL, &r), 200);
    j = json_loads(r.body, 0, NULL);
    http_resp_free(&r);
    CU_ASSERT_FATAL(j != NULL);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j, "node")), "st1");
    recent = json_object_get(j, "recent");
    CU_ASSERT_EQUAL_FATAL(json_array_size(recent), 2);
    /* newest first, each step with its action, and label and reward only for the trainer's
     * episode (feedback "judge"): the page is open to agents too */
    CU_ASSERT_STRING_EQUAL(
        json_string_value(json_object_get(json_array_get(recent, 0), "episode_id")), b);
    CU_ASSERT_STRING_EQUAL(
        json_string_value(json_object_get(json_array_get(recent, 1), "episode_id")), a);
    {
        const json_t *steps = json_object_get(json_array_get(recent, 1), "steps");

        CU_ASSERT_EQUAL(json_array_size(steps), 2);
        CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(steps, 0), "tool")),
                               "calculator");
        CU_ASSERT_STRING_EQUAL(
            json_string_value(json_object_get(json_array_get(steps, 0), "label")), "necessary");
        CU_ASSERT_STRING_EQUAL(
            json_string_value(json_object_get(json_array_get(steps, 1), "label")), "correct");
        CU_ASSERT(json_is_number(json_object_get(json_array_get(steps, 1), "reward")));
        steps = json_object_get(json_array_get(recent, 0), "steps");
        CU_ASSERT_EQUAL(json_array_size(steps), 1);
        CU_ASSERT_PTR_NULL(json_object_get(json_array_get(steps, 0), "label"));
        CU_ASSERT_PTR_NULL(json_object_get(json_array_get(steps, 0), "reward"));
        CU_ASSERT_STRING_EQUAL(
            json_string_value(json_object_get(json_array_get(recent, 0), "outcome")), "answered");
        CU_ASSERT(json_is_null(json_object_get(json_array_get(recent, 0), "return")));
    }
    /* the report per split (both splits of the task file) and per task tag; sandbox layers */
    CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "splits")), 2);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(
                        json_object_get(json_object_get(j, "reports"), "train"), "episodes")),
                    2);
    CU_ASSERT(json_is_object(
        json_object_get(json_object_get(json_object_get(j, "reports"), "train"), "by_tag")));
    CU_ASSERT(json_is_boolean(json_object_get(json_object_get(j, "sandbox"), "seccomp")));
    CU_ASSERT(json_is_boolean(json_object_get(json_object_get(j, "sandbox"), "user_namespace")));
    CU_ASSERT(json_is_string(json_object_get(json_object_get(j, "sandbox"), "mode")));
    json_decref(j);
    test_server_stop(s);

    s = start(1);
    CU_ASSERT_FATAL(s != NULL);
    CU_ASSERT_EQUAL(call(s, "GET", "/", NULL, &r), 404);
    http_resp_free(&r);
    CU_ASSERT_EQUAL(call(s, "GET", "/v1/status", NULL, &r), 404);
    http_resp_free(&r);
    test_server_stop(s);
}

/* Run argv (argv[0] an absolute path) with stdout to out_path, stderr to /dev/null; wait at
 * most timeout_s seconds (then kill it). Returns the exit status, or -1. */
static int run_for(const char *const *argv, const char *out_path, int timeout_s) {
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int st = -1;

    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return -1;
    }
    posix_spawn_file_actions_destroy(&fa);
    for (int i = 0; i < timeout_s * 20; i++) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        usleep(50000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    fprintf(stderr, "\n  %s did not finish in %d s\n", argv[0], timeout_s);
    return -1;
}

static const char *chromium_path(void) {
    static const char *const paths[] = {"/usr/bin/chromium", "/usr/bin/chromium-browser"};

    for (size_t i = 0; i < TG_ARRAY_LEN(paths); i++)
        if (access(paths[i], X_OK) == 0)
            return paths[i];
    return NULL;
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "r");
    char *s = NULL;
    size_t n = 0;

    if (!f)
        return NULL;
    if (getdelim(&s, &n, '\0', f) < 0) {
        free(s);
        s = NULL;
    }
    fclose(f);
    return s;
}

TG_TEST(status, chromium_renders_the_episodes_just_played) {
    const char *chromium = chromium_path(), *bin = getenv("TOOLGYM_BIN");
    char a[128], b[128], profile[] = "/tmp/tg_chromium_XXXXXX", url[128], shot[512], dir[512];
    char dom_path[64], shot_arg[600], profile_arg[64], cmd[128];
    struct server *s;
    char *dom;
    size_t blen;

    if (!chromium) {
        tg_test_skip("chromium is not installed, so the page was not loaded in a browser "
                     "(apt-get install chromium; .ci/run installs it)");
        return;
    }
    s = start(0);
    CU_ASSERT_FATAL(s != NULL && mkdtemp(profile) != NULL);
    play_two(s, a, b, sizeof(a));
    snprintf(url, sizeof(url), "%s/", test_server_url(s));
    snprintf(profile_arg, sizeof(profile_arg), "--user-data-dir=%s", profile);
    snprintf(dom_path, sizeof(dom_path), "/tmp/tg_status_dom_%d.html", (int)getpid());
    {
        const char *argv[] = {chromium,
                              "--headless",
                              "--no-sandbox",
                              "--disable-gpu",
                              "--no-first-run",
                              "--disable-background-networking",
                              "--disable-component-update",
                              "--disable-sync",
                              profile_arg,
                              "--virtual-time-budget=10000",
                              "--dump-dom",
                              url,
                              NULL};

        CU_ASSERT_EQUAL(run_for(argv, dom_path, 90), 0);
    }
    dom = slurp(dom_path);
    CU_ASSERT_FATAL(dom != NULL);
    /* the script ran, fetched the status and rendered both episodes and their judgements */
    CU_ASSERT(strstr(dom, "data-ready=\"1\"") != NULL);
    CU_ASSERT(strstr(dom, a) != NULL);
    CU_ASSERT(strstr(dom, b) != NULL);
    CU_ASSERT(strstr(dom, ">necessary<") != NULL);
    CU_ASSERT(strstr(dom, ">incorrect<") != NULL);
    CU_ASSERT(strstr(dom, "split train") != NULL);
    CU_ASSERT(strstr(dom, "episodes finished") != NULL);
    CU_ASSERT(strstr(dom, "seccomp") != NULL);
    free(dom);
    unlink(dom_path);

    /* the screenshot, kept as a test artifact beside the binary under test */
    blen = bin && strrchr(bin, '/') ? (size_t)(strrchr(bin, '/') - bin) : 0;
    snprintf(dir, sizeof(dir), "%.*s/test-artifacts", (int)(blen ? blen : 5), blen ? bin : "build");
    mkdir(dir, 0755);
    snprintf(shot, sizeof(shot), "%s/status-page.png", dir);
    unlink(shot);
    snprintf(shot_arg, sizeof(shot_arg), "--screenshot=%s", shot);
    {
        const char *argv[] = {chromium,
                              "--headless",
                              "--no-sandbox",
                              "--disable-gpu",
                              "--no-first-run",
                              "--disable-background-networking",
                              "--disable-component-update",
                              "--disable-sync",
                              profile_arg,
                              "--virtual-time-budget=10000",
                              "--hide-scrollbars",
                              "--window-size=1280,1600",
                              shot_arg,
                              url,
                              NULL};

        CU_ASSERT_EQUAL(run_for(argv, "/dev/null", 90), 0);
    }
    {
        FILE *f = fopen(shot, "rb");
        unsigned char magic[8] = {0};
        struct stat sb;

        CU_ASSERT_FATAL(f != NULL);
        CU_ASSERT(fread(magic, 1, 8, f) == 8 && memcmp(magic, "\x89PNG\r\n\x1a\n", 8) == 0);
        fclose(f);
        CU_ASSERT(stat(shot, &sb) == 0 && sb.st_size > 10000);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", profile);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", profile);
    test_server_stop(s);
}
