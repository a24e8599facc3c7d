/*
 * metrics.h — process-wide Prometheus counters and histograms for /metrics.
 *
 * A metric is a family name plus a label string in Prometheus syntax ("route=\"/healthz\",
 * status=\"200\""). Series are created implicitly on first use; a family's HELP text comes
 * from the table in metrics.c (docs/api.md lists the same families), its TYPE from how it is
 * used. All functions are thread-safe and lock-free. It does not export anything itself.
 */
#ifndef TG_METRICS_H
#define TG_METRICS_H

#include <stddef.h>

/* metrics_inc — add v to counter `name{labels}`. labels may be "" (no labels). */
void metrics_inc(const char *name, const char *labels, double v);

/* metrics_observe — record one observation (seconds, say) in histogram `name{labels}`. */
void metrics_observe(const char *name, const char *labels, double v);

/* metrics_set — set gauge `name{labels}` to v. */
void metrics_set(const char *name, const char *labels, double v);

/* metrics_label — append key="value" to the label string buf (n bytes, NUL-terminated; a comma
 * first unless buf is empty), cut to fit n. Returns buf. The request path's labels without
 * snprintf. Pure. */
char *metrics_label(char *buf, size_t n, const char *key, const char *value);

/* metrics_render — new (malloc) text in Prometheus exposition format 0.0.4, or NULL on
 * ENOMEM. */
char *metrics_render(void);

/* metrics_get — current value of a counter or gauge (0 if absent); for tests. */
double metrics_get(const char *name, const char *labels);

/* metrics_help — the HELP text of family `name` (static), or NULL for a family missing from
 * the table (it is then rendered without a HELP line). Thread-safe. */
const char *metrics_help(const char *name);

#endif
