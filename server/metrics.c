/*
 * metrics.c — a small fixed-capacity metric table behind one mutex, rendered in the
 * Prometheus text format. Series past the capacity are dropped (and counted in
 * toolgym_metrics_dropped_total) rather than grown without bound: labels come from a
 * closed set (routes, tools, labels, statuses), so the cap is never reached in practice.
 */
#include "metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SERIES  512
#define NAME_MAX_   64
#define LABELS_MAX_ 128

enum kind { COUNTER, GAUGE, HISTOGRAM };

/* Histogram bucket upper bounds in seconds (latency). */
static const double buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                 0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

struct series {
    char name[NAME_MAX_];
    char labels[LABELS_MAX_];
    enum kind kind;
    double value;             /* counter/gauge; histogram sum */
    unsigned long long count; /* histogram observations */
    unsigned long long bucket[NBUCKETS];
};

struct family_help {
    const char *name;
    const char *help;
};

static const struct family_help helps[] = {
    {"toolgym_http_requests_total", "HTTP requests by route and status."},
    {"toolgym_http_request_seconds", "HTTP request latency by route."},
    {"toolgym_tool_calls_total", "Tool calls by tool and outcome (ok, tool_error, invalid)."},
    {"toolgym_tool_seconds", "Tool call latency by tool."},
    {"toolgym_episodes_started_total", "Episodes created (including forks)."},
    {"toolgym_episodes_finished_total", "Episodes finished, by outcome."},
    {"toolgym_judge_labels_total", "Judge labels given to steps."},
    {"toolgym_sandbox_runs_total", "Sandboxed code runs by result."},
    {"toolgym_sandbox_kills_total", "Sandboxed runs killed, by reason."},
    {"toolgym_run_queue_rejected_total", "Code runs refused with 503 because the queue was full."},
    {"toolgym_episodes_active", "Episodes held in memory."},
    {"toolgym_metrics_dropped_total", "Metric series dropped because the table was full."},
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct series table[MAX_SERIES];
static size_t nseries;
static unsigned long long dropped;

/* find or create; called with lock held */
static struct series *get(const char *name, const char *labels, enum kind kind) {
    for (size_t i = 0; i < nseries; i++)
        if (strcmp(table[i].name, name) == 0 && strcmp(table[i].labels, labels) == 0)
            return &table[i];
    if (nseries == MAX_SERIES || strlen(name) >= NAME_MAX_ || strlen(labels) >= LABELS_MAX_) {
        dropped++;
        return NULL;
    }
    memset(&table[nseries], 0, sizeof(table[nseries]));
    snprintf(table[nseries].name, NAME_MAX_, "%s", name);
    snprintf(table[nseries].labels, LABELS_MAX_, "%s", labels);
    table[nseries].kind = kind;
    return &table[nseries++];
}

void metrics_inc(const char *name, const char *labels, double v) {
    struct series *s;

    pthread_mutex_lock(&lock);
    s = get(name, labels ? labels : "", COUNTER);
    if (s)
        s->value += v;
    pthread_mutex_unlock(&lock);
}

void metrics_set(const char *name, const char *labels, double v) {
    struct series *s;

    pthread_mutex_lock(&lock);
    s = get(name, labels ? labels : "", GAUGE);
    if (s)
        s->value = v;
    pthread_mutex_unlock(&lock);
}

void metrics_observe(const char *name, const char *labels, double v) {
    struct series *s;

    pthread_mutex_lock(&lock);
    s = get(name, labels ? labels : "", HISTOGRAM);
    if (s) {
        s->value += v;
        s->count++;
        for (size_t b = 0; b < NBUCKETS; b++)
            if (v <= buckets[b])
                s->bucket[b]++;
    }
    pthread_mutex_unlock(&lock);
}

double metrics_get(const char *name, const char *labels) {
    double v = 0;

    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < nseries; i++)
        if (strcmp(table[i].name, name) == 0 && strcmp(table[i].labels, labels) == 0)
            v = table[i].kind == HISTOGRAM ? (double)table[i].count : table[i].value;
    pthread_mutex_unlock(&lock);
    return v;
}

/* A growing text buffer with a hard cap. */
struct buf {
    char *p;
    size_t len, cap;
    int oom;
};

static void put(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct buf *b, const char *fmt, ...) {
    va_list ap;
    int n;

    if (b->oom)
        return;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        {
            size_t ncap = b->cap * 2 + (size_t)n;
            char *np = realloc(b->p, ncap);

            if (!np) {
                b->oom = 1;
                return;
            }
            b->p = np;
            b->cap = ncap;
        }
    }
}

static const char *help_of(const char *name) {
    for (size_t i = 0; i < sizeof(helps) / sizeof(helps[0]); i++)
        if (strcmp(helps[i].name, name) == 0)
            return helps[i].help;
    return "toolgym metric.";
}

static void render_series(struct buf *b, const struct series *s) {
    const char *sep = s->labels[0] ? "," : "";

    if (s->kind != HISTOGRAM) {
        if (s->labels[0])
            put(b, "%s{%s} %.17g\n", s->name, s->labels, s->value);
        else
            put(b, "%s %.17g\n", s->name, s->value);
        return;
    }
    for (size_t k = 0; k < NBUCKETS; k++)
        put(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", s->name, s->labels, sep, buckets[k],
            s->bucket[k]);
    put(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", s->name, s->labels, sep, s->count);
    if (s->labels[0]) {
        put(b, "%s_sum{%s} %.17g\n", s->name, s->labels, s->value);
        put(b, "%s_count{%s} %llu\n", s->name, s->labels, s->count);
    } else {
        put(b, "%s_sum %.17g\n%s_count %llu\n", s->name, s->value, s->name, s->count);
    }
}

char *metrics_render(void) {
    static const char *kinds[] = {"counter", "gauge", "histogram"};
    struct buf b = {NULL, 0, 0, 0};
    char *done;

    b.cap = 8192;
    b.p = malloc(b.cap);
    if (!b.p)
        return NULL;
    b.p[0] = '\0';
    pthread_mutex_lock(&lock);
    /* group series by family: each family's HELP/TYPE once, then its series */
    for (size_t i = 0; i < nseries; i++) {
        int seen = 0;

        for (size_t j = 0; j < i; j++)
            if (strcmp(table[j].name, table[i].name) == 0)
                seen = 1;
        if (seen)
            continue;
        put(&b, "# HELP %s %s\n# TYPE %s %s\n", table[i].name, help_of(table[i].name),
            table[i].name, kinds[table[i].kind]);
        for (size_t j = i; j < nseries; j++)
            if (strcmp(table[j].name, table[i].name) == 0)
                render_series(&b, &table[j]);
    }
    put(&b,
        "# HELP toolgym_metrics_dropped_total %s\n# TYPE toolgym_metrics_dropped_total "
        "counter\ntoolgym_metrics_dropped_total %llu\n",
        help_of("toolgym_metrics_dropped_total"), dropped);
    pthread_mutex_unlock(&lock);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    done = b.p;
    return done;
}
