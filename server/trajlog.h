/*
 * trajlog.h — the trajectory log: an append-only JSONL file with one line per finished
 * episode (API.md "Trajectory log"), and a reader for it.
 *
 * What it does: append a line with ONE write() on an O_APPEND descriptor under a mutex, so
 * that lines from concurrent episodes never interleave and a crash leaves at most one torn
 * (unterminated) last line; fdatasync the file every sync_ms (0: after every line) from a
 * background flusher; at open, detect a torn last line left by an earlier crash, report it on
 * stderr and write a newline after it, so that it stays an isolated, unparsable line that
 * readers skip and the next line starts clean. The reader counts complete lines: terminated
 * by '\n' and parsing as one JSON object.
 * What it does not do: build the lines (server/episode.c does), rotate or truncate files.
 */
#ifndef TG_TRAJLOG_H
#define TG_TRAJLOG_H

#include <jansson.h>
#include <stddef.h>

#include "base/tg.h"

struct trajlog;

/*
 * trajlog_open — open (create) path (borrowed) for appending. sync_ms ≥ 0: fdatasync interval
 * in milliseconds (0: every line). quiet: do not report a torn line on stderr. Returns 0 with
 * *out new (close with trajlog_close), or TG_EIO / TG_ENOMEM / TG_EINVAL with *err. The
 * number of torn bytes found at open is available from trajlog_torn_bytes. Start-up only.
 */
int trajlog_open(const char *path, int sync_ms, int quiet, struct trajlog **out,
                 struct tg_error *err);

/*
 * trajlog_append — append line (borrowed, len bytes, must not contain '\n'; a '\n' is added)
 * with a single writev() of the line and the newline. Returns 0, TG_EINVAL (line contains a
 * newline), or TG_EIO (the write failed or was short: the file then gets a newline so the
 * partial line is isolated, best effort). Thread-safe.
 */
int trajlog_append(struct trajlog *l, const char *line, size_t len);

/* trajlog_append_json — dump j (borrowed) compactly and append it. Same returns, and TG_ENOMEM. */
int trajlog_append_json(struct trajlog *l, const json_t *j);

/* trajlog_lines — lines appended since open. Thread-safe. */
size_t trajlog_lines(struct trajlog *l);

/* trajlog_torn_bytes — bytes of the torn last line found at open (0: none). */
size_t trajlog_torn_bytes(const struct trajlog *l);

/* trajlog_close — sync, stop the flusher, close, free. Accepts NULL. */
void trajlog_close(struct trajlog *l);

/* What trajlog_read_file found. */
struct trajlog_stats {
    size_t lines;   /* complete lines (newline-terminated JSON objects) */
    size_t torn;    /* 1 if the last line had no newline (skipped), else 0 */
    size_t invalid; /* newline-terminated lines that are not a JSON object (skipped) */
};

/* trajlog_line_fn — called for every complete line with the parsed object (borrowed). A
 * non-zero return stops the read and is returned by trajlog_read_file. */
typedef int (*trajlog_line_fn)(const json_t *line, void *ud);

/*
 * trajlog_read_file — read the log at path (borrowed), calling fn (may be NULL) on every
 * complete line, skipping a torn last line and invalid lines. Fills *st. Returns 0, TG_EIO,
 * TG_ENOMEM or fn's non-zero value. A line over TG_TRAJ_LINE_MAX bytes (its '\n' included)
 * is read past without being held and counts as invalid.
 */
int trajlog_read_file(const char *path, trajlog_line_fn fn, void *ud, struct trajlog_stats *st,
                      struct tg_error *err);

#endif
