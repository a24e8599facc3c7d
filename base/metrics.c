/*
 * metrics.c — a fixed-capacity, lock-free metric table rendered in the Prometheus text format.
 *
 * Series live in an open-addressing hash table keyed by name and labels. A slot is claimed
 * once with a compare-and-swap and never freed, so the hot path (find, then atomic adds) takes
 * no lock: request threads do not serialise on metrics. Series past the capacity are dropped
 * (and counted in toolgym_metrics_dropped_total) rather than grown without bound: labels come
 * from a closed set (routes, tools, labels, statuses), so the cap is not reached in practice.
 */
#include "base/metrics.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/dbuf.h"
#include "base/limits.h"

#define MAX_SERIES  1024 /* a power of two */
#define NAME_MAX_   64
#define LABELS_MAX_ 128

enum kind { COUNTER, GAUGE, HISTOGRAM };

/* Histogram bucket upper bounds in seconds (latency). */
static const double buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                 0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

enum { SLOT_EMPTY, SLOT_FILLING, SLOT_READY };

struct series {
    atomic_int state;
    char name[NAME_MAX_];
    char labels[LABELS_MAX_];
    enum kind kind;
    _Atomic uint64_t value; /* bits of a double: counter/gauge value; histogram sum */
    _Atomic uint64_t count; /* histogram observations */
    _Atomic uint64_t bucket[NBUCKETS];
};

struct family_help {
    const char *name;
    const char *help;
};

/* Every family the server emits, with its HELP text; docs/api.md documents the same list and
 * tests/test_metrics_e2e.c checks that the code, this table and the doc agree. */
static const struct family_help helps[] = {
    {"toolgym_http_requests_total", "HTTP requests by route pattern and status code."},
    {"toolgym_http_request_seconds", "HTTP request latency in seconds, by route pattern."},
    {"toolgym_tool_calls_total",
     "Tool calls by tool and outcome (ok, tool_error, invalid, internal, cancelled)."},
    {"toolgym_tool_seconds", "Tool call latency in seconds, by tool."},
    {"toolgym_episodes_started_total", "Episodes created, forks included."},
    {"toolgym_episodes_forked_total", "Episodes created by forking another episode."},
    {"toolgym_episodes_finished_total",
     "Episodes finished, by outcome (correct, incorrect, step_limit)."},
    {"toolgym_episodes_in_memory", "Episodes held in the in-memory store, finished or not."},
    {"toolgym_episodes_expired_total", "Unfinished episodes dropped after their idle timeout."},
    {"toolgym_episodes_evicted_total",
     "Finished episodes dropped, oldest first, to make room in a full store."},
    {"toolgym_episodes_evicted_unfinished_total",
     "Unfinished episodes idle past --evict-idle-sec dropped, least recently used first, to make "
     "room."},
    {"toolgym_episodes_refused_total",
     "Episode creations, forks and tool calls refused with 503: the store was full of live "
     "episodes."},
    {"toolgym_episodes_quota_refused_total",
     "Episode creations, forks and tool calls refused with 429: the client held its share of the "
     "store."},
    {"toolgym_episode_bytes",
     "Estimated bytes held by the episode store (steps shared by forks counted once)."},
    {"toolgym_judge_labels_total", "Judge labels given to episode steps, by label."},
    {"toolgym_sandbox_runs_total",
     "Programs run in the sandbox, by result (ok, runtime_error, timeout, killed)."},
    {"toolgym_sandbox_kills_total",
     "Sandboxed programs ended by the wall clock or a signal, by reason (timeout, seccomp, "
     "cpu_limit, signal)."},
    {"toolgym_run_queue_rejected_total", "Code runs refused with 503 because the queue was full."},
    {"toolgym_run_queue_quota_refused_total",
     "Code runs refused with 429: the client had its share of the queue queued or running."},
    {"toolgym_http_slow_connections_closed_total",
     "Connections closed because their request line and headers, their body, or their next "
     "request came too late."},
    {"toolgym_http_forbidden_total",
     "Requests refused with 403 for their Host or Origin header (DNS rebinding protection), by "
     "reason (host_missing, host, origin)."},
    {"toolgym_run_queue_cancelled_total",
     "Queued code runs dropped because their client went away before a worker took them."},
    {"toolgym_code_cache_total", "run_code result cache lookups, by result (hit, miss)."},
    {"toolgym_trajectory_torn_lines_total",
     "Torn last lines found in the trajectory log at start and isolated."},
    {"toolgym_trajectory_write_errors_total",
     "Trajectory lines that could not be written (failed or short writes)."},
    {"toolgym_metrics_dropped_total", "Metric series dropped because the table was full."},
};

static struct series table[MAX_SERIES];
static _Atomic uint32_t order[MAX_SERIES]; /* slot indices in creation order */
static atomic_uint norder;
static _Atomic uint64_t dropped;

/* n bytes at p mixed into h, eight at a time: the series table's hash (never stored), cheap
 * on the request path, where every request counts a few series. */
static uint64_t mix_bytes(uint64_t h, const char *p, size_t n) {
    const uint64_t k = 0x9E3779B97F4A7C15ULL;
    uint64_t w;

    for (; n >= 8; p += 8, n -= 8) {
        memcpy(&w, p, 8);
        h = (h ^ w) * k;
        h ^= h >> 29;
    }
    w = 0;
    memcpy(&w, p, n);
    h = (h ^ w ^ n) * k;
    return h ^ (h >> 32);
}

/* The hash of a series: its name (nn bytes) and labels (nl bytes). */
static uint32_t hash(const char *name, size_t nn, const char *labels, size_t nl) {
    return (uint32_t)mix_bytes(mix_bytes(0x243F6A8885A308D3ULL, name, nn), labels, nl);
}

static double bits_to_double(uint64_t b) {
    double d;

    memcpy(&d, &b, sizeof(d));
    return d;
}

static uint64_t double_to_bits(double d) {
    uint64_t b;

    memcpy(&b, &d, sizeof(b));
    return b;
}

static void atomic_add_double(_Atomic uint64_t *p, double v) {
    uint64_t old = atomic_load_explicit(p, memory_order_relaxed);

    while (!atomic_compare_exchange_weak_explicit(p, &old, double_to_bits(bits_to_double(old) + v),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

/* Find the series, creating it if absent; NULL when the table is full or names are too long. */
static struct series *get(const char *name, const char *labels, enum kind kind) {
    size_t nn = strlen(name), nl = strlen(labels);
    uint32_t h;

    if (nn >= NAME_MAX_ || nl >= LABELS_MAX_) {
        atomic_fetch_add(&dropped, 1);
        return NULL;
    }
    h = hash(name, nn, labels, nl);
    for (uint32_t probe = 0; probe < MAX_SERIES; probe++) {
        struct series *s = &table[(h + probe) & (MAX_SERIES - 1)];
        int st = atomic_load_explicit(&s->state, memory_order_acquire);

        if (st == SLOT_EMPTY) {
            int expect = SLOT_EMPTY;

            if (atomic_compare_exchange_strong(&s->state, &expect, SLOT_FILLING)) {
                snprintf(s->name, NAME_MAX_, "%s", name);
                snprintf(s->labels, LABELS_MAX_, "%s", labels);
                s->kind = kind;
                atomic_store_explicit(&order[atomic_fetch_add(&norder, 1)], (uint32_t)(s - table),
                                      memory_order_relaxed);
                atomic_store_explicit(&s->state, SLOT_READY, memory_order_release);
                return s;
            }
            st = expect;
        }
        while (st == SLOT_FILLING) { /* another thread is writing this slot's key */
            sched_yield();
            st = atomic_load_explicit(&s->state, memory_order_acquire);
        }
        if (strcmp(s->name, name) == 0 && strcmp(s->labels, labels) == 0)
            return s;
    }
    atomic_fetch_add(&dropped, 1);
    return NULL;
}

/* Append s (up to its NUL) at buf[*at], leaving room for the NUL in n bytes. */
static void label_put(char *buf, size_t n, size_t *at, const char *s) {
    while (*s && *at + 1 < n)
        buf[(*at)++] = *s++;
}

char *metrics_label(char *buf, size_t n, const char *key, const char *value) {
    size_t at = strlen(buf);

    if (at > 0)
        label_put(buf, n, &at, ",");
    label_put(buf, n, &at, key);
    label_put(buf, n, &at, "=\"");
    label_put(buf, n, &at, value);
    label_put(buf, n, &at, "\"");
    if (n > 0)
        buf[at < n ? at : n - 1] = '\0';
    return buf;
}

void metrics_inc(const char *name, const char *labels, double v) {
    struct series *s = get(name, labels ? labels : "", COUNTER);

    if (s)
        atomic_add_double(&s->value, v);
}

void metrics_set(const char *name, const char *labels, double v) {
    struct series *s = get(name, labels ? labels : "", GAUGE);

    if (s)
        atomic_store_explicit(&s->value, double_to_bits(v), memory_order_relaxed);
}

void metrics_observe(const char *name, const char *labels, double v) {
    struct series *s = get(name, labels ? labels : "", HISTOGRAM);

    if (!s)
        return;
    atomic_add_double(&s->value, v);
    atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
    for (size_t b = 0; b < NBUCKETS; b++)
        if (v <= buckets[b])
            atomic_fetch_add_explicit(&s->bucket[b], 1, memory_order_relaxed);
}

double metrics_get(const char *name, const char *labels) {
    uint32_t h = hash(name, strlen(name), labels, strlen(labels));

    for (uint32_t probe = 0; probe < MAX_SERIES; probe++) {
        struct series *s = &table[(h + probe) & (MAX_SERIES - 1)];
        int st = atomic_load_explicit(&s->state, memory_order_acquire);

        if (st == SLOT_EMPTY)
            return 0;
        if (st == SLOT_READY && strcmp(s->name, name) == 0 && strcmp(s->labels, labels) == 0)
            return s->kind == HISTOGRAM ? (double)atomic_load(&s->count)
                                        : bits_to_double(atomic_load(&s->value));
    }
    return 0;
}

const char *metrics_help(const char *name) {
    for (size_t i = 0; i < sizeof(helps) / sizeof(helps[0]); i++)
        if (strcmp(helps[i].name, name) == 0)
            return helps[i].help;
    return NULL;
}

static void render_series(struct dbuf *b, struct series *s) {
    const char *sep = s->labels[0] ? "," : "";
    double value = bits_to_double(atomic_load(&s->value));
    unsigned long long count = atomic_load(&s->count);

    if (s->kind != HISTOGRAM) {
        if (s->labels[0])
            dbuf_add_fmt(b, "%s{%s} %.17g\n", s->name, s->labels, value);
        else
            dbuf_add_fmt(b, "%s %.17g\n", s->name, value);
        return;
    }
    for (size_t k = 0; k < NBUCKETS; k++)
        dbuf_add_fmt(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", s->name, s->labels, sep, buckets[k],
                     (unsigned long long)atomic_load(&s->bucket[k]));
    dbuf_add_fmt(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", s->name, s->labels, sep, count);
    if (s->labels[0]) {
        dbuf_add_fmt(b, "%s_sum{%s} %.17g\n", s->name, s->labels, value);
        dbuf_add_fmt(b, "%s_count{%s} %llu\n", s->name, s->labels, count);
    } else {
        dbuf_add_fmt(b, "%s_sum %.17g\n%s_count %llu\n", s->name, value, s->name, count);
    }
}

char *metrics_render(void) {
    static const char *kinds[] = {"counter", "gauge", "histogram"};
    struct dbuf b;
    unsigned n = atomic_load(&norder);

    dbuf_init(&b, TG_METRICS_TEXT_MAX);
    /* group series by family: each family's HELP/TYPE once, then its series, in creation order */
    for (unsigned i = 0; i < n; i++) {
        struct series *si = &table[atomic_load(&order[i])];
        int seen = 0;

        if (atomic_load_explicit(&si->state, memory_order_acquire) != SLOT_READY)
            continue;
        for (unsigned j = 0; j < i && !seen; j++)
            seen = strcmp(table[atomic_load(&order[j])].name, si->name) == 0;
        if (seen)
            continue;
        if (metrics_help(si->name)) /* a family missing from the table gets no HELP line */
            dbuf_add_fmt(&b, "# HELP %s %s\n", si->name, metrics_help(si->name));
        dbuf_add_fmt(&b, "# TYPE %s %s\n", si->name, kinds[si->kind]);
        for (unsigned j = i; j < n; j++) {
            struct series *sj = &table[atomic_load(&order[j])];

            if (atomic_load_explicit(&sj->state, memory_order_acquire) == SLOT_READY &&
                strcmp(sj->name, si->name) == 0)
                render_series(&b, sj);
        }
    }
    dbuf_add_fmt(&b,
                 "# HELP toolgym_metrics_dropped_total %s\n# TYPE toolgym_metrics_dropped_total "
                 "counter\ntoolgym_metrics_dropped_total %llu\n",
                 metrics_help("toolgym_metrics_dropped_total"),
                 (unsigned long long)atomic_load(&dropped));
    return dbuf_take(&b, NULL); /* NULL if the text could not be built */
}
