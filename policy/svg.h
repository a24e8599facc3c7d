/*
 * svg.h — a learning curve as a standalone SVG file: one panel per series (x = update),
 * drawn as polylines with axes, tick labels and the series' last value.
 *
 * Does: scale each series to its own panel and write the file. Does not: smooth, or read
 * trainer state (the caller passes plain arrays).
 * Thread-safety: pure apart from writing the file.
 */
#ifndef TG_SVG_H
#define TG_SVG_H

#include "base/tg.h"

struct svg_series {
    const char *name;  /* panel title (borrowed) */
    const double *y;   /* (n) borrowed */
    const char *color; /* e.g. "#1f77b4" */
    int log_scale;     /* 1: log10 y axis (values must be > 0) */
};

/*
 * svg_write — write `title` and `ns` series of n points each to path (borrowed).
 * Returns 0, TG_EINVAL (n < 1, ns < 1 or ns > 8) or TG_EIO (message in *err).
 */
int svg_write(const char *path, const char *title, const struct svg_series *s, int ns, int n,
              struct tg_error *err);

#endif
