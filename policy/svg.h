/*
 * svg.h — a learning curve as a standalone SVG file: stacked panels sharing one x axis (the
 * update), each with one or more series, axis ticks with labels, gridlines, a legend, a
 * linear or log10 y axis, and an optional vertical marker across every panel (the boundary
 * between the warm-up and RL).
 *
 * Does: choose "nice" tick values, scale each panel to its series (or to fixed bounds), draw
 * polylines through the finite points (a series measured only now and then, NaN elsewhere,
 * is drawn through its points with a dot at each), and write the file.
 * Does not: smooth, or read trainer state (the caller passes plain arrays).
 * Thread-safety: pure apart from writing the file.
 */
#ifndef TG_SVG_H
#define TG_SVG_H

#include "base/tg.h"

struct svg_series {
    const char *name;  /* legend text (borrowed) */
    const double *y;   /* (n) borrowed; NaN: no point there */
    const char *color; /* e.g. "#1f77b4" */
    int dots;          /* 1: a dot at every point */
};

struct svg_panel {
    const char *title;          /* borrowed */
    const struct svg_series *s; /* (ns) borrowed */
    int ns;                     /* 1..8 */
    int log_scale;              /* 1: log10 y axis (points <= 0 are left out) */
    double ymin, ymax;          /* fixed bounds when ymin < ymax; else from the data */
};

/* a vertical marker at x (1-based update) with a label on each side */
struct svg_marker {
    double x; /* <= 0: none */
    const char *left, *right;
};

/*
 * svg_write — write `title`, the panels p[0..np) of n points each (x = 1..n, labelled
 * `xlabel`) and the marker (may be NULL) to path (borrowed). Returns 0, TG_EINVAL (n < 1,
 * np < 1 or np > 8, a panel with no series or more than 8) or TG_EIO (message in *err).
 */
int svg_write(const char *path, const char *title, const struct svg_panel *p, int np, int n,
              const char *xlabel, const struct svg_marker *mark, struct tg_error *err);

/* svg_ticks — "nice" tick values (1, 2 or 5 times a power of ten apart) covering [lo, hi]:
 * at most max of them into t, their count returned; *step gets the spacing. Exposed for
 * tests. */
int svg_ticks(double lo, double hi, int max, double *t, double *step);

#endif
