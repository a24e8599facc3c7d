/*
 * test_metrics.c — suite `metrics`: counters, gauges and histograms, exact totals under
 * concurrent updates (the table is lock-free), and the Prometheus text rendering.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/metrics.h"
#include "tg_test.h"

#define THREADS    4
#define PER_THREAD 50000

static void *hammer(void *arg) {
    const char *labels = arg;

    for (int i = 0; i < PER_THREAD; i++) {
        metrics_inc("test_metrics_hammer_total", labels, 1);
        metrics_inc("test_metrics_hammer_total", "shared=\"yes\"", 0.5);
    }
    return NULL;
}

TG_TEST(metrics, concurrent_increments_are_exact) {
    static const char *labels[THREADS] = {"t=\"0\"", "t=\"1\"", "t=\"2\"", "t=\"3\""};
    pthread_t th[THREADS];

    for (int i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, hammer, (void *)labels[i]);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < THREADS; i++)
        CU_ASSERT_EQUAL(metrics_get("test_metrics_hammer_total", labels[i]), PER_THREAD);
    CU_ASSERT_EQUAL(metrics_get("test_metrics_hammer_total", "shared=\"yes\""),
                    THREADS * PER_THREAD * 0.5);
}

TG_TEST(metrics, gauges_and_absent_series) {
    metrics_set("test_metrics_gauge", "", 7);
    metrics_set("test_metrics_gauge", "", 3);
    CU_ASSERT_EQUAL(metrics_get("test_metrics_gauge", ""), 3);
    CU_ASSERT_EQUAL(metrics_get("test_metrics_never_seen", ""), 0);
}

TG_TEST(metrics, histogram_buckets_and_rendering) {
    char *text;

    metrics_observe("test_metrics_seconds", "r=\"x\"", 0.0002); /* le 0.00025 and up */
    metrics_observe("test_metrics_seconds", "r=\"x\"", 0.3);    /* le 0.5 and up */
    metrics_observe("test_metrics_seconds", "r=\"x\"", 99);     /* only +Inf */
    metrics_inc("test_metrics_plain_total", "", 2);
    text = metrics_render();
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "# TYPE test_metrics_seconds histogram\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "test_metrics_seconds_bucket{r=\"x\",le=\"0.0001\"} 0\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "test_metrics_seconds_bucket{r=\"x\",le=\"0.00025\"} 1\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "test_metrics_seconds_bucket{r=\"x\",le=\"0.5\"} 2\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "test_metrics_seconds_bucket{r=\"x\",le=\"10\"} 2\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "test_metrics_seconds_bucket{r=\"x\",le=\"+Inf\"} 3\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "test_metrics_seconds_count{r=\"x\"} 3\n"));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(text, "# TYPE test_metrics_plain_total counter\ntest_metrics_plain_total 2\n"));
    /* every family's TYPE line appears once */
    {
        const char *p = strstr(text, "# TYPE test_metrics_seconds histogram");

        CU_ASSERT_PTR_NULL(strstr(p + 1, "# TYPE test_metrics_seconds histogram"));
    }
    free(text);
}

TG_TEST(metrics, overlong_names_are_dropped_not_truncated) {
    char name[200];

    memset(name, 'x', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    metrics_inc(name, "", 1);
    CU_ASSERT_EQUAL(metrics_get(name, ""), 0);
    {
        char *text = metrics_render();
        const char *p = text ? strstr(text, "\ntoolgym_metrics_dropped_total ") : NULL;

        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        CU_ASSERT_TRUE(strtod(p + strlen("\ntoolgym_metrics_dropped_total "), NULL) >= 1);
        free(text);
    }
}

TG_TEST(metrics, a_family_without_help_text_gets_no_placeholder) {
    char *text;

    CU_ASSERT_PTR_NULL(metrics_help("test_metrics_undocumented_total"));
    CU_ASSERT_PTR_NOT_NULL(metrics_help("toolgym_sandbox_runs_total"));
    metrics_inc("test_metrics_undocumented_total", "", 1);
    text = metrics_render();
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    CU_ASSERT_PTR_NULL(strstr(text, "# HELP test_metrics_undocumented_total"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "# TYPE test_metrics_undocumented_total counter\n"
                                        "test_metrics_undocumented_total 1\n"));
    CU_ASSERT_PTR_NULL(strstr(text, "toolgym metric."));
    free(text);
}
