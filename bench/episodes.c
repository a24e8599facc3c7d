/*
 * bench/episodes.c — episode steps per second over HTTP keep-alive at 1, 8 and 64 clients,
 * against raw POST /v1/tools/calculator calls in the same run, with the ratio.
 *
 * usage: episodes --server URL [--seconds S] [--clients 1,8,64] [--max-steps N]
 *                 [--rounds R] [--count N] [--only raw|episodes]
 * Each client is a thread with one libcurl easy handle (keep-alive). Raw: a client posts
 * {"arguments":{"expression":"<i>*7+3"}} in a loop. Episodes: a client creates an episode
 * (split test, max_steps N, default 8) and steps calculator calls with the same expressions
 * until it is done (step_limit), then creates the next; the time of the creates counts, only
 * steps are counted. Prints a markdown table. It does not start a server (bench/episodes.sh
 * does).
 *
 * --rounds R (default 1) measures each concurrency R times, both kinds back to back in each
 * round, raw first in even rounds and episodes first in odd ones (so neither always runs on a
 * server the other has just warmed); the table gives the median rates, the median of the
 * per-round ratios and their range. On a shared 2-core machine one 3-second ratio moves by
 * ±0.15 from run to run; the median of rounds is what to compare.
 *
 * --count N makes each client stop after N counted requests instead of after S seconds (an
 * episode in progress is left unfinished), and --only runs one of the two kinds:
 * bench/instr.sh uses them to send a known number of requests to a server under callgrind.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/dbuf.h"
#include "base/num.h"

#define EP_MAX_RESP (4L << 20) /* bytes of one answer kept; more is an error */

static double now_s(void) {
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct job {
    const char *server;
    int episodes; /* 0: raw calculator calls; 1: episode steps */
    int max_steps;
    double seconds;
    long limit; /* stop after this many counted requests; 0: after `seconds` */
    long count, errors;
};

static long post(CURL *h, struct dbuf *b, const char *url, const char *body) {
    long st = 0;

    dbuf_reset(b);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    if (curl_easy_perform(h) != CURLE_OK)
        return -1;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
    return st;
}

/* The value of "key":"..." in a JSON text (good enough for episode_id). */
static int json_str(const char *text, const char *key, char *out, size_t n) {
    char pat[64];
    const char *p, *e;

    snprintf(pat, sizeof(pat), "\"%s\":\"", key);
    p = text ? strstr(text, pat) : NULL;
    if (!p)
        return -1;
    p += strlen(pat);
    e = strchr(p, '"');
    if (!e || (size_t)(e - p) >= n)
        return -1;
    memcpy(out, p, (size_t)(e - p));
    out[e - p] = '\0';
    return 0;
}

static void *run(void *arg) {
    struct job *j = arg;
    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    struct dbuf b;
    char url[512], body[256], id[64] = "";
    double end = now_s() + j->seconds;
    int steps_left = 0;
    long i = 0;

    dbuf_init(&b, EP_MAX_RESP);
    hdrs = curl_slist_append(hdrs, "Expect:");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, dbuf_write_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    while (j->limit > 0 ? j->count < j->limit && j->errors < j->limit : now_s() < end) {
        i++;
        if (!j->episodes) {
            snprintf(url, sizeof(url), "%s/v1/tools/calculator", j->server);
            snprintf(body, sizeof(body), "{\"arguments\":{\"expression\":\"%ld*7+3\"}}", i);
            if (post(h, &b, url, body) == 200)
                j->count++;
            else
                j->errors++;
            continue;
        }
        if (steps_left == 0) {
            snprintf(url, sizeof(url), "%s/v1/episodes", j->server);
            snprintf(body, sizeof(body), "{\"split\":\"test\",\"max_steps\":%d,\"tag\":\"bench\"}",
                     j->max_steps);
            if (post(h, &b, url, body) != 201 || json_str(b.p, "episode_id", id, sizeof(id))) {
                j->errors++;
                continue;
            }
            steps_left = j->max_steps;
        }
        snprintf(url, sizeof(url), "%s/v1/episodes/%s/step", j->server, id);
        snprintf(body, sizeof(body),
                 "{\"tool_call\":{\"name\":\"calculator\",\"arguments\":{\"expression\":"
                 "\"%ld*7+3\"}}}",
                 i);
        if (post(h, &b, url, body) == 200)
            j->count++;
        else
            j->errors++;
        steps_left--;
    }
    dbuf_free(&b);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return NULL;
}

/* Run n clients for the given seconds; returns the rate (counted requests per second). */
static double measure(const char *server, int episodes, int n, double seconds, int max_steps,
                      long limit, long *errors) {
    pthread_t *th = calloc((size_t)n, sizeof(*th));
    struct job *jobs = calloc((size_t)n, sizeof(*jobs));
    double t0, dt;
    long total = 0;

    *errors = 0;
    t0 = now_s();
    for (int i = 0; i < n; i++) {
        jobs[i].server = server;
        jobs[i].episodes = episodes;
        jobs[i].seconds = seconds;
        jobs[i].max_steps = max_steps;
        jobs[i].limit = limit;
        pthread_create(&th[i], NULL, run, &jobs[i]);
    }
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        total += jobs[i].count;
        *errors += jobs[i].errors;
    }
    dt = now_s() - t0;
    free(th);
    free(jobs);
    return (double)total / dt;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* The median of v[0..n) (sorts v). */
static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define EP_MAX_ROUNDS 99

int main(int argc, char **argv) {
    const char *server = NULL, *clients = "1,8,64", *only = NULL;
    double seconds = 3.0;
    long steps = 8, nc[16], limit = 0, rounds = 1;
    size_t nclients = 0;
    int max_steps, bad = 0;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--server") == 0)
            server = argv[i + 1];
        else if (strcmp(argv[i], "--seconds") == 0)
            bad |= num_double(argv[i + 1], 0.001, 3600, &seconds) != 0;
        else if (strcmp(argv[i], "--clients") == 0)
            clients = argv[i + 1];
        else if (strcmp(argv[i], "--max-steps") == 0)
            bad |= num_long(argv[i + 1], 1, 64, &steps) != 0;
        else if (strcmp(argv[i], "--rounds") == 0)
            bad |= num_long(argv[i + 1], 1, EP_MAX_ROUNDS, &rounds) != 0;
        else if (strcmp(argv[i], "--count") == 0)
            bad |= num_long(argv[i + 1], 1, 100000000L, &limit) != 0;
        else if (strcmp(argv[i], "--only") == 0)
            only = argv[i + 1];
        else
            bad = 1;
    }
    bad |= only && strcmp(only, "raw") != 0 && strcmp(only, "episodes") != 0;
    max_steps = (int)steps;
    bad |= num_long_list(clients, 1, 1024, nc, sizeof(nc) / sizeof(nc[0]), &nclients) != 0;
    if (!server || bad) {
        fprintf(stderr, "usage: episodes --server URL [--seconds S] [--clients 1,8,64] "
                        "[--max-steps N] [--rounds R] [--count N] [--only raw|episodes]\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    printf("| clients | raw calculator req/s | episode steps/s | ratio | ratio range | errors |\n");
    printf("|--------:|---------------------:|----------------:|------:|------------:|-------:|\n");
    for (size_t i = 0; i < nclients; i++) {
        int n = (int)nc[i], do_raw = !only || strcmp(only, "raw") == 0,
            do_ep = !only || strcmp(only, "episodes") == 0;
        double raw[EP_MAX_ROUNDS] = {0}, ep[EP_MAX_ROUNDS] = {0}, ratio[EP_MAX_ROUNDS] = {0};
        long errors = 0;

        for (int r = 0; r < (int)rounds; r++) {
            long e = 0;

            raw[r] = ep[r] = 0;
            for (int k = 0; k < 2; k++) {
                int episodes = (k + r) % 2; /* raw first in even rounds */

                if (episodes ? !do_ep : !do_raw)
                    continue;
                if (episodes)
                    ep[r] = measure(server, 1, n, seconds, max_steps, limit, &e);
                else
                    raw[r] = measure(server, 0, n, seconds, max_steps, limit, &e);
                errors += e;
            }
            ratio[r] = raw[r] > 0 ? ep[r] / raw[r] : 0;
        }
        {
            double lo = ratio[0], hi = ratio[0], mr;

            for (int r = 1; r < (int)rounds; r++) {
                lo = ratio[r] < lo ? ratio[r] : lo;
                hi = ratio[r] > hi ? ratio[r] : hi;
            }
            mr = median(ratio, (int)rounds);
            printf("| %7d | %20.0f | %15.0f | %5.2f | %5.2f–%-5.2f | %6ld |\n", n,
                   median(raw, (int)rounds), median(ep, (int)rounds), mr, lo, hi, errors);
        }
        fflush(stdout);
    }
    curl_global_cleanup();
    return 0;
}
