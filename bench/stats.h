/*
 * bench/stats.h — the order statistics the benchmark programs print: sorting a sample of
 * doubles, its median and its quantiles. Header-only (static functions), for bench/ alone;
 * it does not allocate and keeps no state.
 */
#ifndef TG_BENCH_STATS_H
#define TG_BENCH_STATS_H

#include <stdlib.h>

/* stats_cmp_double — qsort comparator, ascending. */
static inline int stats_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* stats_sort — sorts v[0..n) ascending, in place. */
static inline void stats_sort(double *v, int n) {
    if (n > 0)
        qsort(v, (size_t)n, sizeof(*v), stats_cmp_double);
}

/* stats_median — sorts v[0..n) in place and returns its median (0 for n == 0). */
static inline double stats_median(double *v, int n) {
    if (n <= 0)
        return 0;
    stats_sort(v, n);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#endif
