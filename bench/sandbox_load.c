/*
 * sandbox_load.c — load generator for bench/sandbox.sh: print(1) through
 * POST /v1/tools/run_code against the floor, plain posix_spawn + wait of
 * `/usr/bin/python3 -I -S -c 'print(1)'` with its stdout read through a pipe.
 *
 * usage: sandbox_load TARGETS RUNS CONC[,CONC...] [ROUNDS]
 *   TARGETS  the base URL of a running toolgym server (http://127.0.0.1:PORT), reported as
 *            run_code; or LABEL=URL[,LABEL=URL...] for several servers (e.g. root and
 *            rootless), each reported under its label
 *   RUNS     runs per target and concurrency
 *   ROUNDS   split each target's runs into this many blocks, the targets taking turns block
 *            by block (default 1), so that all of them see the same machine
 * For each concurrency the targets take turns (floor, then each server); CONC client threads
 * each loop until the block's runs are done. Prints one line per (target, concurrency):
 *   <target> <conc> <runs/s> <median ms> <p99 ms> <errors>
 * A run counts as an error unless it printed "1\n" (floor) or answered 200 with ok:true and
 * stdout "1\n" (run_code). This program only measures; the script prints the table.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/stats.h"
#include "base/num.h"

#define MAX_CONC 64
#define MAX_LIST 16 /* concurrency levels in one run */
#define BODY     "{\"arguments\":{\"code\":\"print(1)\"}}"

#define MAX_TARGETS 8

struct load {
    const char *url;
    int floor; /* 1: spawn python directly; 0: POST run_code */
    int runs;  /* this block's */
    int next;  /* runs handed out */
    int errors;
    double *lat; /* ms, one per run of the block */
    pthread_mutex_t mu;
};

/* One target over all its blocks at one concurrency. */
struct target {
    const char *label;
    const char *url; /* NULL: the floor */
    double *lat;     /* ms, every run so far */
    int n;
    int errors;
    double secs; /* wall time of its blocks */
};

static double now_ms(void) {
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int take(struct load *l) {
    int i;

    pthread_mutex_lock(&l->mu);
    i = l->next < l->runs ? l->next++ : -1;
    pthread_mutex_unlock(&l->mu);
    return i;
}

/* One plain run: posix_spawn python with stdout on a pipe, read it, wait. 0 if "1\n". */
static int floor_run(void) {
    static char *const argv[] = {"python3", "-I", "-S", "-c", "print(1)", NULL};
    static char *const envp[] = {NULL};
    posix_spawn_file_actions_t fa;
    char buf[16];
    size_t len = 0;
    int p[2], st = 0, rc;
    pid_t pid;

    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    rc = posix_spawn(&pid, "/usr/bin/python3", &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    if (rc != 0) {
        close(p[0]);
        return -1;
    }
    for (;;) {
        ssize_t n = read(p[0], buf + len, sizeof(buf) - 1 - len);

        if (n > 0 && len + (size_t)n < sizeof(buf) - 1) {
            len += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        break;
    }
    close(p[0]);
    waitpid(pid, &st, 0);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 && len == 2 && memcmp(buf, "1\n", 2) == 0 ? 0 : -1;
}

struct body {
    char buf[4096];
    size_t len;
};

static size_t on_body(char *p, size_t sz, size_t n, void *arg) {
    struct body *b = arg;
    size_t k = sz * n;

    if (b->len + k < sizeof(b->buf)) {
        memcpy(b->buf + b->len, p, k);
        b->len += k;
        b->buf[b->len] = '\0';
    }
    return k;
}

static void *worker(void *arg) {
    struct load *l = arg;
    CURL *c = NULL;
    struct curl_slist *h = NULL;
    char url[512];
    int i;

    if (!l->floor) {
        c = curl_easy_init();
        h = curl_slist_append(NULL, "Content-Type: application/json");
        snprintf(url, sizeof(url), "%s/v1/tools/run_code", l->url);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, BODY);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    }
    while ((i = take(l)) >= 0) {
        double t0 = now_ms();
        int bad;

        if (l->floor) {
            bad = floor_run() != 0;
        } else {
            struct body b = {.len = 0};
            long code = 0;

            b.buf[0] = '\0';
            curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
            bad = curl_easy_perform(c) != CURLE_OK;
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
            bad = bad || code != 200 || !strstr(b.buf, "\"ok\":true") ||
                  !strstr(b.buf, "\"stdout\":\"1\\n\"");
            if (bad && getenv("SANDBOX_LOAD_DEBUG"))
                fprintf(stderr, "run_code: %ld %s\n", code, b.buf);
        }
        l->lat[i] = now_ms() - t0;
        if (bad) {
            pthread_mutex_lock(&l->mu);
            l->errors++;
            pthread_mutex_unlock(&l->mu);
        }
    }
    if (c)
        curl_easy_cleanup(c);
    curl_slist_free_all(h);
    return NULL;
}

/* Run one block of `runs` runs of target t with conc clients; append to t. */
static int block(struct target *t, int runs, int conc) {
    struct load l = {.url = t->url, .floor = t->url == NULL, .runs = runs};
    pthread_t th[MAX_CONC];
    double t0;

    l.lat = t->lat + t->n;
    pthread_mutex_init(&l.mu, NULL);
    t0 = now_ms();
    for (int i = 0; i < conc; i++)
        pthread_create(&th[i], NULL, worker, &l);
    for (int i = 0; i < conc; i++)
        pthread_join(th[i], NULL);
    t->secs += (now_ms() - t0) / 1e3;
    t->n += runs;
    t->errors += l.errors;
    pthread_mutex_destroy(&l.mu);
    return l.errors ? 1 : 0;
}

/* Every target at concurrency conc, in `rounds` turns; one line each. */
static int measure(struct target *t, int nt, int runs, int conc, int rounds) {
    int bad = 0;

    for (int k = 0; k < nt; k++) {
        t[k].lat = calloc((size_t)runs, sizeof(double));
        t[k].n = t[k].errors = 0;
        t[k].secs = 0;
        if (!t[k].lat)
            return -1;
    }
    for (int r = 0; r < rounds; r++)
        for (int k = 0; k < nt; k++)
            bad |= block(&t[k], runs / rounds + (r == rounds - 1 ? runs % rounds : 0), conc);
    for (int k = 0; k < nt; k++) {
        stats_sort(t[k].lat, runs);
        printf("%s %d %.1f %.2f %.2f %d\n", t[k].label, conc, runs / t[k].secs, t[k].lat[runs / 2],
               t[k].lat[(size_t)((runs - 1) * 0.99)], t[k].errors);
        free(t[k].lat);
    }
    fflush(stdout);
    return bad;
}

/* Parse TARGETS into t[1..] (t[0] is the floor); the number of targets, or -1. */
static int parse_targets(char *spec, struct target *t) {
    int n = 1;

    t[0] = (struct target){.label = "floor"};
    if (!strchr(spec, '=')) {
        t[n++] = (struct target){.label = "run_code", .url = spec};
        return n;
    }
    for (char *p = spec; p && *p && n < MAX_TARGETS;) {
        char *comma = strchr(p, ','), *eq = strchr(p, '=');

        if (comma)
            *comma = '\0';
        if (!eq || eq == p || !eq[1])
            return -1;
        *eq = '\0';
        t[n++] = (struct target){.label = p, .url = eq + 1};
        p = comma ? comma + 1 : NULL;
    }
    return n;
}

int main(int argc, char **argv) {
    struct target t[MAX_TARGETS];
    long runs, rounds = 1, conc[MAX_LIST];
    size_t nconc;
    int bad = 0, nt;

    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: sandbox_load TARGETS RUNS CONC[,CONC...] [ROUNDS]\n");
        return 2;
    }
    if (num_long(argv[2], 2, 1000000, &runs)) {
        fprintf(stderr, "sandbox_load: bad RUNS %s\n", argv[2]);
        return 2;
    }
    if (argc == 5 && num_long(argv[4], 1, runs, &rounds)) {
        fprintf(stderr, "sandbox_load: bad ROUNDS %s (1..RUNS)\n", argv[4]);
        return 2;
    }
    if (num_long_list(argv[3], 1, MAX_CONC, conc, MAX_LIST, &nconc)) {
        fprintf(stderr, "sandbox_load: bad concurrency list %s\n", argv[3]);
        return 2;
    }
    nt = parse_targets(argv[1], t);
    if (nt < 0) {
        fprintf(stderr, "sandbox_load: bad TARGETS %s (URL, or LABEL=URL,...)\n", argv[1]);
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    for (size_t i = 0; i < nconc; i++)
        bad |= measure(t, nt, (int)runs, (int)conc[i], (int)rounds);
    curl_global_cleanup();
    return bad;
}
