/*
 * code_cache.c — the run_code result cache of code_cache.h: one slot per hash bucket,
 * byte-for-byte key comparison, copies in and copies out, one mutex.
 */
#include "tools/code_cache.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/limits.h"
#include "base/hash.h"
#include "base/metrics.h"

struct entry {
    int used;
    uint64_t hash;
    char *code; /* (code_len) */
    size_t code_len;
    char *in; /* (in_len), NULL when empty */
    size_t in_len;
    int timeout_ms;
    int ok;
    char *content;
    json_t *result;
    struct tg_error err;
    size_t bytes; /* what this entry counts against TG_CODE_CACHE_BYTES */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct entry *slots; /* (nslots) */
static size_t nslots;
static size_t total_bytes;
static unsigned long long hits, misses;

static uint64_t key_hash(const char *code, size_t code_len, const char *in, size_t in_len,
                         int timeout_ms) {
    uint64_t h = HASH_FNV64_BASIS;

    h = hash_fnv64(h, code, code_len);
    h = hash_fnv64(h, "\0", 1);
    h = hash_fnv64(h, in ? in : "", in_len);
    return hash_fnv64(h, &timeout_ms, sizeof(timeout_ms));
}

static void entry_clear(struct entry *e) {
    free(e->code);
    free(e->in);
    free(e->content);
    json_decref(e->result);
    total_bytes -= e->bytes;
    memset(e, 0, sizeof(*e));
}

int code_cache_init(size_t entries, struct tg_error *err) {
    if (entries == 0)
        return 0;
    if (entries > TG_CODE_CACHE_MAX_ENTRIES) {
        tg_error_set(err, TG_CODE_CONFIG, "--code-cache takes at most %d entries.",
                     TG_CODE_CACHE_MAX_ENTRIES);
        return TG_ERANGE;
    }
    pthread_mutex_lock(&mu);
    slots = calloc(entries, sizeof(*slots));
    nslots = slots ? entries : 0;
    total_bytes = 0;
    hits = misses = 0;
    pthread_mutex_unlock(&mu);
    if (!slots) {
        tg_error_set(err, TG_CODE_NOMEM, "out of memory for the code cache");
        return TG_ENOMEM;
    }
    return 0;
}

void code_cache_shutdown(void) {
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < nslots; i++)
        entry_clear(&slots[i]);
    free(slots);
    slots = NULL;
    nslots = 0;
    pthread_mutex_unlock(&mu);
}

int code_cache_enabled(void) {
    int on;

    pthread_mutex_lock(&mu);
    on = nslots > 0;
    pthread_mutex_unlock(&mu);
    return on;
}

static int key_equal(const struct entry *e, uint64_t h, const char *code, size_t code_len,
                     const char *in, size_t in_len, int timeout_ms) {
    return e->used && e->hash == h && e->code_len == code_len && e->in_len == in_len &&
           e->timeout_ms == timeout_ms && memcmp(e->code, code, code_len) == 0 &&
           (in_len == 0 || memcmp(e->in, in, in_len) == 0);
}

int code_cache_get(const char *code, size_t code_len, const char *stdin_data, size_t stdin_len,
                   int timeout_ms, struct tool_result *out) {
    uint64_t h = key_hash(code, code_len, stdin_data, stdin_len, timeout_ms);
    struct tool_result copy;
    int found = 0;

    memset(&copy, 0, sizeof(copy));
    pthread_mutex_lock(&mu);
    if (nslots) {
        struct entry *e = &slots[h % nslots];

        if (key_equal(e, h, code, code_len, stdin_data, stdin_len, timeout_ms)) {
            found = 1;
            copy.ok = e->ok;
            copy.err = e->err;
            copy.content = strdup(e->content);
            copy.result = json_deep_copy(e->result);
            hits++;
        } else {
            misses++;
        }
    }
    pthread_mutex_unlock(&mu);
    if (!found) {
        if (code_cache_enabled())
            metrics_inc("toolgym_code_cache_total", "result=\"miss\"", 1);
        return 0;
    }
    metrics_inc("toolgym_code_cache_total", "result=\"hit\"", 1);
    if (!copy.content || !copy.result) {
        tool_result_clear(&copy);
        return TG_ENOMEM;
    }
    *out = copy;
    return 1;
}

void code_cache_put(const char *code, size_t code_len, const char *stdin_data, size_t stdin_len,
                    int timeout_ms, const struct tool_result *r) {
    uint64_t h = key_hash(code, code_len, stdin_data, stdin_len, timeout_ms);
    struct entry fresh;
    size_t bytes;

    if (!r->result || !r->content)
        return;
    memset(&fresh, 0, sizeof(fresh));
    /* copies are made outside the lock; the JSON result is counted by its text size */
    bytes = code_len + stdin_len + strlen(r->content) + sizeof(fresh);
    {
        char *text = json_dumps(r->result, JSON_COMPACT);

        if (!text)
            return;
        bytes += strlen(text);
        free(text);
    }
    fresh.used = 1;
    fresh.hash = h;
    fresh.code = malloc(code_len ? code_len : 1);
    fresh.in = stdin_len ? malloc(stdin_len) : NULL;
    fresh.content = strdup(r->content);
    fresh.result = json_deep_copy(r->result);
    if (!fresh.code || (stdin_len && !fresh.in) || !fresh.content || !fresh.result)
        goto drop;
    memcpy(fresh.code, code, code_len);
    if (stdin_len)
        memcpy(fresh.in, stdin_data, stdin_len);
    fresh.code_len = code_len;
    fresh.in_len = stdin_len;
    fresh.timeout_ms = timeout_ms;
    fresh.ok = r->ok;
    fresh.err = r->err;
    fresh.bytes = bytes;
    pthread_mutex_lock(&mu);
    if (nslots) {
        struct entry *e = &slots[h % nslots];

        entry_clear(e);
        if (total_bytes + bytes <= TG_CODE_CACHE_BYTES) {
            *e = fresh;
            total_bytes += bytes;
            memset(&fresh, 0, sizeof(fresh));
        }
    }
    pthread_mutex_unlock(&mu);
drop:
    free(fresh.code);
    free(fresh.in);
    free(fresh.content);
    json_decref(fresh.result);
}

void code_cache_stats(unsigned long long *h, unsigned long long *m) {
    pthread_mutex_lock(&mu);
    *h = hits;
    *m = misses;
    pthread_mutex_unlock(&mu);
}
