/*
 * http_lat.c — sequential HTTP latency probe for bench/search.sh: sends POST requests to one
 * tool endpoint over a single keep-alive libcurl connection, one at a time, and prints the
 * latency distribution.
 *
 * What it does: read queries (one per line) from a file, build {"arguments":{"query":Q,"k":K}}
 * for each, send --warmup untimed requests and then --requests timed ones cycling through the
 * queries, check every answer is 200 with "ok":true, and print one line
 *   n=N p50_us=X p90_us=X p99_us=X max_us=X mean_us=X
 * What it does not do: concurrency (bench/http.sh measures throughput with wrk) or checking
 * the search results themselves (the test suites do that).
 *
 * usage: http_lat --url URL --queries FILE [--requests N] [--warmup N] [--k K]
 * Exit status: 0 ok, 1 a request failed, 2 usage.
 */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/dbuf.h"
#include "base/num.h"
#include "base/tg.h"

#define LAT_MAX_QUERIES  1024
#define LAT_MAX_LINE     1024
#define LAT_MAX_REQUESTS 10000000L
#define LAT_MAX_RESP     (4L << 20) /* bytes of one answer kept; more is an error */

static long long now_us(void) {
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static int cmp_ll(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;

    return (x > y) - (x < y);
}

/* Read up to LAT_MAX_QUERIES non-empty lines of path into JSON request bodies (new). */
static int load_bodies(const char *path, long k, char **bodies, size_t *n) {
    char line[LAT_MAX_LINE];
    FILE *f = fopen(path, "r");

    *n = 0;
    if (!f) {
        fprintf(stderr, "http_lat: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    while (*n < LAT_MAX_QUERIES && fgets(line, sizeof(line), f)) {
        size_t len = strcspn(line, "\r\n");
        json_t *body;

        line[len] = '\0';
        if (len == 0)
            continue;
        body = json_pack("{s:{s:s, s:I}}", "arguments", "query", line, "k", (json_int_t)k);
        bodies[*n] = body ? json_dumps(body, JSON_COMPACT) : NULL;
        json_decref(body);
        if (!bodies[*n]) {
            fclose(f);
            fprintf(stderr, "http_lat: out of memory\n");
            return -1;
        }
        (*n)++;
    }
    fclose(f);
    if (*n == 0) {
        fprintf(stderr, "http_lat: no queries in %s\n", path);
        return -1;
    }
    return 0;
}

/* One request; 0 when the answer is 200 and the tool call succeeded ("ok":true). */
static int send_one(CURL *h, const char *body, struct dbuf *r) {
    long status = 0;
    CURLcode cc;

    dbuf_reset(r);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        fprintf(stderr, "http_lat: %s\n",
                r->err == TG_ERANGE ? "answer too large" : curl_easy_strerror(cc));
        return -1;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200 || r->len == 0 || !strstr(r->p, "\"ok\":true")) {
        fprintf(stderr, "http_lat: status %ld for %s: %.300s\n", status, body, dbuf_str(r));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    const char *url = NULL, *qpath = NULL;
    long requests = 2000, warmup = 200, k = 5;
    char *bodies[LAT_MAX_QUERIES];
    size_t nq = 0;
    struct curl_slist *hdrs = NULL;
    struct dbuf resp;
    long long *lat = NULL, sum = 0;
    CURL *h = NULL;
    int rc = 1;

    dbuf_init(&resp, LAT_MAX_RESP);
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (v && strcmp(argv[i], "--url") == 0)
            url = v;
        else if (v && strcmp(argv[i], "--queries") == 0)
            qpath = v;
        else if (v && strcmp(argv[i], "--requests") == 0 &&
                 num_long(v, 1, LAT_MAX_REQUESTS, &requests) == 0)
            ;
        else if (v && strcmp(argv[i], "--warmup") == 0 &&
                 num_long(v, 0, LAT_MAX_REQUESTS, &warmup) == 0)
            ;
        else if (v && strcmp(argv[i], "--k") == 0 && num_long(v, 1, 20, &k) == 0)
            ;
        else {
            fprintf(stderr, "usage: http_lat --url URL --queries FILE [--requests N] "
                            "[--warmup N] [--k K]\n");
            return 2;
        }
        i++;
    }
    if (!url || !qpath) {
        fprintf(stderr, "http_lat: --url and --queries are required\n");
        return 2;
    }
    if (load_bodies(qpath, k, bodies, &nq))
        goto done;
    lat = malloc((size_t)requests * sizeof(*lat));
    if (!lat || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        goto done;
    h = curl_easy_init();
    hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    if (!h || !hdrs)
        goto done;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, dbuf_write_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    for (long i = 0; i < warmup; i++)
        if (send_one(h, bodies[(size_t)i % nq], &resp))
            goto done;
    for (long i = 0; i < requests; i++) {
        long long t0 = now_us();

        if (send_one(h, bodies[(size_t)i % nq], &resp))
            goto done;
        lat[i] = now_us() - t0;
        sum += lat[i];
    }
    qsort(lat, (size_t)requests, sizeof(*lat), cmp_ll);
    /* nearest-rank percentiles */
    printf("n=%ld p50_us=%lld p90_us=%lld p99_us=%lld max_us=%lld mean_us=%lld\n", requests,
           lat[(requests * 50 + 99) / 100 - 1], lat[(requests * 90 + 99) / 100 - 1],
           lat[(requests * 99 + 99) / 100 - 1], lat[requests - 1], sum / requests);
    rc = 0;
done:
    if (h)
        curl_easy_cleanup(h);
    curl_slist_free_all(hdrs);
    curl_global_cleanup();
    for (size_t i = 0; i < nq; i++)
        free(bodies[i]);
    free(lat);
    dbuf_free(&resp);
    return rc;
}
