/*
 * series.h — a series of numbers written one per line: a loss or reward curve a user already
 * has (`toolgym lr-trace --signal FILE`).
 *
 * Format: each line holds one decimal number as base/num.h's num_double reads it ("0.5",
 * "-3", "1e-4"; no nan, inf or hexadecimal), with optional spaces or tabs around it and an
 * optional CR before the LF. Blank lines, and lines whose first non-blank character is '#',
 * are skipped. Errors name the file and the line: a line that is not a number, a line longer
 * than TG_SERIES_LINE_MAX bytes, a NUL byte, more than TG_SERIES_MAX numbers, and a series
 * with no number at all.
 *
 * Does: read and validate the whole series before the caller uses any of it.
 * Does not: interpret the numbers. Thread-safety: caller-owned structs only.
 */
#ifndef TG_SERIES_H
#define TG_SERIES_H

#include <stddef.h>
#include <stdio.h>

#include "base/tg.h"

struct series {
    double *v; /* n values, new (series_free) */
    size_t n;  /* >= 1 after a successful read */
};

/*
 * series_read — read the series from f (borrowed; read to its end) into *out; name (borrowed)
 * is the file's name in messages. Returns 0; TG_EINVAL (bad line, empty series; code
 * "invalid_input"), TG_ERANGE (too many numbers; "too_large"), TG_EIO (read error) or
 * TG_ENOMEM, with a one-line message in *err. On failure *out is empty.
 */
int series_read(FILE *f, const char *name, struct series *out, struct tg_error *err);

/* series_load — series_read of the file at path, or of stdin when path is "-". Also TG_EIO
 * (code "io") when the file cannot be opened, with the OS reason. */
int series_load(const char *path, struct series *out, struct tg_error *err);

/* series_free — free the values; accepts an empty or failed series. */
void series_free(struct series *s);

#endif
