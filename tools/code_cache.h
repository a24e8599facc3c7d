/*
 * code_cache.h — an opt-in cache of run_code results for identical programs.
 *
 * Training replays the same few programs thousands of times, and a sandboxed Python run
 * costs ~25 ms of CPU; a cache turns every repeat into a lookup. It is OFF unless the
 * operator starts the server with --code-cache N, because it is only sound for
 * deterministic programs: a program that reads the clock or a random source gets its first
 * run's output again. Keys are (code, stdin, timeout_ms) compared byte for byte; only runs
 * that finished on their own (no timeout, no signal, no sandbox error) are stored. A hit
 * returns the first run's result unchanged, wall_ms and cpu_ms included.
 *
 * The cache is set-associative in the simplest way: N slots, one per hash bucket, a new
 * entry replaces the one in its slot. It holds at most N entries and at most
 * TG_CODE_CACHE_BYTES of copies. One process-wide instance, guarded by a mutex.
 */
#ifndef TG_CODE_CACHE_H
#define TG_CODE_CACHE_H

#include <stddef.h>

#include "tools/tools.h"

/* code_cache_init — enable the cache with `entries` slots (0: leave it off). Start-up only.
 * Returns 0, TG_ERANGE (entries over TG_CODE_CACHE_MAX_ENTRIES) or TG_ENOMEM, with *err. */
int code_cache_init(size_t entries, struct tg_error *err);

/* code_cache_shutdown — free every entry and turn the cache off. Start-up/shut-down only. */
void code_cache_shutdown(void);

/* code_cache_enabled — 1 when code_cache_init enabled it. */
int code_cache_enabled(void);

/*
 * code_cache_get — look up (code, stdin, timeout_ms); borrowed inputs, stdin may be NULL
 * with stdin_len 0. Returns 1 with *out filled with new copies (ok, content, result, err),
 * 0 on a miss or when the cache is off (*out untouched), TG_ENOMEM. Thread-safe.
 */
int code_cache_get(const char *code, size_t code_len, const char *stdin_data, size_t stdin_len,
                   int timeout_ms, struct tool_result *out);

/*
 * code_cache_put — store copies of r (borrowed) under the key, replacing whatever held its
 * slot. Does nothing when the cache is off, when r has no result, or when the copies would
 * push the cache past TG_CODE_CACHE_BYTES. The caller decides cacheability (finished runs
 * only). Thread-safe.
 */
void code_cache_put(const char *code, size_t code_len, const char *stdin_data, size_t stdin_len,
                    int timeout_ms, const struct tool_result *r);

/* code_cache_stats — hits and misses so far (for tests and metrics). */
void code_cache_stats(unsigned long long *hits, unsigned long long *misses);

#endif
