/*
 * test_pipeline.c — suite `pipeline`: GPipe and 1F1B action orders, the DAG's edges and
 * topological order, schedules that cannot be built, and the times file (every field that
 * can be wrong is named in the error).
 */
#include "tg_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/pipeline.h"

/* stage s's order as "F0 F1 B0 ..." */
static void order_str(const struct pipeline *p, int s, char *buf, size_t n) {
    size_t k = 0;

    buf[0] = '\0';
    for (int i = s * 2 * p->microbatches; i < (s + 1) * 2 * p->microbatches; i++) {
        char name[16];

        pipeline_action_name(p, i, name, sizeof(name));
        k += (size_t)snprintf(buf + k, n - k, "%s%s", k ? " " : "", name);
    }
}

TG_TEST(pipeline, gpipe_order) {
    struct pipeline *p;
    char buf[256];

    CU_ASSERT_FATAL(pipeline_build(PIPELINE_GPIPE, 3, 4, &p, NULL) == 0);
    CU_ASSERT_EQUAL(p->n, 24);
    for (int s = 0; s < 3; s++) {
        order_str(p, s, buf, sizeof(buf));
        CU_ASSERT_STRING_EQUAL(buf, "F0 F1 F2 F3 B0 B1 B2 B3");
    }
    pipeline_free(p);
}

TG_TEST(pipeline, one_f_one_b_order) {
    struct pipeline *p;
    char buf[256];

    CU_ASSERT_FATAL(pipeline_build(PIPELINE_1F1B, 4, 8, &p, NULL) == 0);
    order_str(p, 0, buf, sizeof(buf));
    CU_ASSERT_STRING_EQUAL(buf, "F0 F1 F2 F3 B0 F4 B1 F5 B2 F6 B3 F7 B4 B5 B6 B7");
    order_str(p, 1, buf, sizeof(buf));
    CU_ASSERT_STRING_EQUAL(buf, "F0 F1 F2 B0 F3 B1 F4 B2 F5 B3 F6 B4 F7 B5 B6 B7");
    order_str(p, 3, buf, sizeof(buf));
    CU_ASSERT_STRING_EQUAL(buf, "F0 B0 F1 B1 F2 B2 F3 B3 F4 B4 F5 B5 F6 B6 F7 B7");
    pipeline_free(p);
}

/* the most micro-batches a stage holds at once (forwards done, backward not yet) */
static int max_in_flight(const struct pipeline *p, int s) {
    int cur = 0, best = 0;

    for (int i = s * 2 * p->microbatches; i < (s + 1) * 2 * p->microbatches; i++) {
        cur += p->act[i].op == PIPELINE_FWD ? 1 : -1;
        if (cur > best)
            best = cur;
    }
    return best;
}

TG_TEST(pipeline, in_flight_memory_gpipe_m_1f1b_s_minus_stage) {
    struct pipeline *g, *o;

    CU_ASSERT_FATAL(pipeline_build(PIPELINE_GPIPE, 5, 12, &g, NULL) == 0);
    CU_ASSERT_FATAL(pipeline_build(PIPELINE_1F1B, 5, 12, &o, NULL) == 0);
    for (int s = 0; s < 5; s++) {
        CU_ASSERT_EQUAL(max_in_flight(g, s), 12);
        CU_ASSERT_EQUAL(max_in_flight(o, s), 5 - s);
    }
    pipeline_free(g);
    pipeline_free(o);
}

TG_TEST(pipeline, dag_edges_and_topological_order) {
    static const enum pipeline_kind kinds[] = {PIPELINE_GPIPE, PIPELINE_1F1B};

    for (size_t k = 0; k < TG_ARRAY_LEN(kinds); k++) {
        struct pipeline *p;
        int S = 4, M = 6, *pos;

        CU_ASSERT_FATAL(pipeline_build(kinds[k], S, M, &p, NULL) == 0);
        pos = malloc((size_t)p->n * sizeof(int));
        CU_ASSERT_FATAL(pos != NULL);
        for (int i = 0; i < p->n; i++)
            pos[i] = -1;
        for (int k2 = 0; k2 < p->n; k2++)
            pos[p->topo[k2]] = k2;
        for (int s = 0; s < S; s++)
            for (int m = 0; m < M; m++) {
                int f = p->fwd[s * M + m], b = p->bwd[s * M + m];

                CU_ASSERT(p->act[f].stage == s && p->act[f].mb == m &&
                          p->act[f].op == PIPELINE_FWD);
                CU_ASSERT(p->act[b].stage == s && p->act[b].mb == m &&
                          p->act[b].op == PIPELINE_BWD);
                CU_ASSERT(f < b); /* forward before backward on the stage */
                CU_ASSERT_EQUAL(p->link_prev[f], s > 0 ? p->fwd[(s - 1) * M + m] : -1);
                CU_ASSERT_EQUAL(p->link_prev[b], s < S - 1 ? p->bwd[(s + 1) * M + m] : -1);
                CU_ASSERT_EQUAL(p->link_next[f], s < S - 1 ? p->fwd[(s + 1) * M + m] : -1);
                CU_ASSERT_EQUAL(p->link_next[b], s > 0 ? p->bwd[(s - 1) * M + m] : -1);
            }
        /* every action once in the order, after both of its predecessors */
        for (int i = 0; i < p->n; i++) {
            CU_ASSERT(pos[i] >= 0);
            if (i % (2 * M) != 0)
                CU_ASSERT(pos[i - 1] < pos[i]);
            if (p->link_prev[i] >= 0)
                CU_ASSERT(pos[p->link_prev[i]] < pos[i]);
        }
        free(pos);
        pipeline_free(p);
    }
}

TG_TEST(pipeline, schedules_that_cannot_be_built) {
    struct pipeline *p = (struct pipeline *)1;
    struct tg_error err;

    /* 1F1B needs M >= S; GPipe does not */
    CU_ASSERT_EQUAL(pipeline_build(PIPELINE_1F1B, 4, 3, &p, &err), TG_EINVAL);
    CU_ASSERT_PTR_NULL(p);
    CU_ASSERT_STRING_EQUAL(err.code, "microbatches");
    CU_ASSERT(strstr(err.message, "microbatches 3 is less than stages 4") != NULL);
    CU_ASSERT_EQUAL(pipeline_build(PIPELINE_1F1B, 4, 4, &p, &err), 0);
    pipeline_free(p);
    CU_ASSERT_EQUAL(pipeline_build(PIPELINE_GPIPE, 4, 3, &p, &err), 0);
    pipeline_free(p);
    /* counts out of range */
    CU_ASSERT_EQUAL(pipeline_build(PIPELINE_GPIPE, 0, 3, &p, &err), TG_EINVAL);
    CU_ASSERT_STRING_EQUAL(err.code, "stages");
    CU_ASSERT_EQUAL(pipeline_build(PIPELINE_GPIPE, TG_PIPE_STAGES_MAX + 1, 3, &p, &err), TG_EINVAL);
    CU_ASSERT_STRING_EQUAL(err.code, "stages");
    CU_ASSERT_EQUAL(pipeline_build(PIPELINE_GPIPE, 2, 0, &p, &err), TG_EINVAL);
    CU_ASSERT_STRING_EQUAL(err.code, "microbatches");
    CU_ASSERT_EQUAL(pipeline_build(PIPELINE_GPIPE, 64, 1024, &p, &err), TG_EINVAL);
    CU_ASSERT(strstr(err.message, "actions") != NULL);
    /* names */
    {
        enum pipeline_kind k;

        CU_ASSERT_EQUAL(pipeline_kind_parse("1f1b", &k, &err), 0);
        CU_ASSERT_EQUAL(k, PIPELINE_1F1B);
        CU_ASSERT_EQUAL(pipeline_kind_parse("gpipe", &k, &err), 0);
        CU_ASSERT_EQUAL(k, PIPELINE_GPIPE);
        CU_ASSERT_EQUAL(pipeline_kind_parse("interleaved", &k, &err), TG_EINVAL);
        CU_ASSERT(strstr(err.message, "gpipe or 1f1b") != NULL);
    }
}

/* ---- times ---------------------------------------------------------------------------------- */

TG_TEST(pipeline, times_parse_good) {
    const char *doc = "{\"unit\": \"ms\", \"comm\": 0.25, \"stages\": ["
                      "{\"forward\": 1.5, \"w_max\": 3, \"w_min\": 1},"
                      "{\"forward\": 2, \"w_max\": 2, \"w_min\": 2}]}";
    struct pipeline_times t;
    struct pipeline *p;
    double r[16] = {0};

    CU_ASSERT_FATAL(pipeline_times_parse(doc, strlen(doc), &t, NULL) == 0);
    CU_ASSERT_EQUAL(t.stages, 2);
    CU_ASSERT_STRING_EQUAL(t.unit, "ms");
    CU_ASSERT_DOUBLE_EQUAL(t.comm, 0.25, 0);
    CU_ASSERT_DOUBLE_EQUAL(t.st[0].forward, 1.5, 0);
    CU_ASSERT_DOUBLE_EQUAL(t.st[0].w_max, 3.0, 0);
    CU_ASSERT_DOUBLE_EQUAL(t.st[0].w_min, 1.0, 0);
    CU_ASSERT_FATAL(pipeline_build(PIPELINE_GPIPE, 2, 4, &p, NULL) == 0);
    for (int i = 0; i < p->n; i++)
        r[i] = 0.25;
    /* forward: its time; backward: w_max - r (w_max - w_min); stage 1 cannot freeze */
    CU_ASSERT_DOUBLE_EQUAL(pipeline_duration(p, &t, r, p->fwd[0]), 1.5, 0);
    CU_ASSERT_DOUBLE_EQUAL(pipeline_duration(p, &t, r, p->bwd[0]), 2.5, 0);
    CU_ASSERT_DOUBLE_EQUAL(pipeline_duration(p, &t, NULL, p->bwd[0]), 3.0, 0);
    CU_ASSERT_DOUBLE_EQUAL(pipeline_duration(p, &t, r, p->bwd[4]), 2.0, 0);
    CU_ASSERT(pipeline_freezable(p, &t, p->bwd[0]));
    CU_ASSERT(!pipeline_freezable(p, &t, p->fwd[0]));
    CU_ASSERT(!pipeline_freezable(p, &t, p->bwd[4]));
    pipeline_free(p);
    /* unit and comm are optional */
    doc = "{\"stages\": [{\"forward\": 0, \"w_max\": 0, \"w_min\": 0}]}";
    CU_ASSERT_EQUAL(pipeline_times_parse(doc, strlen(doc), &t, NULL), 0);
    CU_ASSERT_STRING_EQUAL(t.unit, "");
    CU_ASSERT_DOUBLE_EQUAL(t.comm, 0, 0);
}

#define ST(f, hi, lo) "{\"forward\": " f ", \"w_max\": " hi ", \"w_min\": " lo "}"

TG_TEST(pipeline, times_parse_bad_names_the_field) {
    static const struct {
        const char *doc;
        const char *want; /* in the message */
    } cases[] = {
        {"{\"stages\": [" ST("1", "2", "1") "", "not a JSON object"},
        {"nonsense", "line 1"},
        {"[1, 2]", "must be an object"},
        {"{}", "stages: missing"},
        {"{\"stages\": {}}", "stages: must be an array, not object"},
        {"{\"stages\": []}", "stages must list 1 to 64 stages, not 0"},
        {"{\"stages\": [7]}", "stages[0]: must be an object"},
        {"{\"stages\": [{\"forward\": 1, \"w_max\": 2}]}", "stages[0].w_min: missing"},
        {"{\"stages\": [" ST("1", "2", "1") ", {\"forward\": 1, \"w-max\": 2, \"w_min\": 1}]}",
         "stages[1].w-max: unknown field"},
        {"{\"stages\": [{\"forward\": \"1\", \"w_max\": 2, \"w_min\": 1}]}",
         "stages[0].forward: must be a number, not string"},
        {"{\"stages\": [" ST("1", "2", "1") ", " ST("-1", "2", "1") "]}",
         "stages[1].forward is negative"},
        {"{\"stages\": [" ST("1", "-2", "1") "]}", "stages[0].w_max is negative"},
        {"{\"stages\": [" ST("1", "2", "-0.5") "]}", "stages[0].w_min is negative"},
        {"{\"stages\": [" ST("1", "2", "1") ", " ST("1", "2", "3") "]}",
         "stages[1].w_min (3) is greater than stages[1].w_max (2)"},
        {"{\"stages\": [" ST("1", "2e10", "1") "]}", "stages[0].w_max (2e+10) is larger than"},
        {"{\"comm\": -1, \"stages\": [" ST("1", "2", "1") "]}", "comm is negative"},
        {"{\"comm\": \"fast\", \"stages\": [" ST("1", "2", "1") "]}",
         "comm: must be a number, not string"},
        {"{\"unit\": \"m s\", \"stages\": [" ST("1", "2", "1") "]}", "unit must be"},
        {"{\"unit\": \"<b>\", \"stages\": [" ST("1", "2", "1") "]}", "unit must be"},
        {"{\"stages\": [" ST("1", "2", "1") "], \"stages\": []}", "duplicate"},
        {"{\"stages\": [[[[1]]]]}", "nests"},
        {"{\"stages\": [" ST("1", "2", "1") "], \"x\": \"\xff\"}", "UTF-8"},
    };

    for (size_t k = 0; k < TG_ARRAY_LEN(cases); k++) {
        struct pipeline_times t;
        struct tg_error err;
        int rc = pipeline_times_parse(cases[k].doc, strlen(cases[k].doc), &t, &err);

        CU_ASSERT_EQUAL(rc, TG_EINVAL);
        CU_ASSERT_STRING_EQUAL(err.code, "times");
        if (!strstr(err.message, cases[k].want))
            printf("\ncase %zu: want \"%s\" in \"%s\"\n", k, cases[k].want, err.message);
        CU_ASSERT(strstr(err.message, cases[k].want) != NULL);
    }
}

TG_TEST(pipeline, times_too_many_stages) {
    char *doc = malloc(64 * 1024);
    size_t k = 0;
    struct pipeline_times t;
    struct tg_error err;

    CU_ASSERT_FATAL(doc != NULL);
    k += (size_t)snprintf(doc + k, 64 * 1024 - k, "{\"stages\": [");
    for (int s = 0; s < TG_PIPE_STAGES_MAX + 1; s++)
        k += (size_t)snprintf(doc + k, 64 * 1024 - k, "%s" ST("1", "2", "1"), s ? "," : "");
    k += (size_t)snprintf(doc + k, 64 * 1024 - k, "]}");
    CU_ASSERT_EQUAL(pipeline_times_parse(doc, k, &t, &err), TG_EINVAL);
    CU_ASSERT(strstr(err.message, "not 65") != NULL);
    free(doc);
}

TG_TEST(pipeline, times_load_errors_name_the_file) {
    char dir[] = "/tmp/tg-times-XXXXXX", path[64];
    struct pipeline_times t;
    struct tg_error err;
    FILE *f;

    CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/t.json", dir);
    CU_ASSERT_EQUAL(pipeline_times_load(path, &t, &err), TG_EIO);
    CU_ASSERT(strstr(err.message, path) != NULL);
    /* a bad value: the message has the path and the field */
    f = fopen(path, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs("{\"stages\": [" ST("1", "1", "2") "]}", f);
    fclose(f);
    CU_ASSERT_EQUAL(pipeline_times_load(path, &t, &err), TG_EINVAL);
    CU_ASSERT(strstr(err.message, path) != NULL);
    CU_ASSERT(strstr(err.message, "stages[0].w_min (2) is greater") != NULL);
    /* too big */
    f = fopen(path, "w");
    CU_ASSERT_FATAL(f != NULL);
    for (unsigned long i = 0; i <= TG_PIPE_TIMES_BYTES; i += 8)
        fputs("        ", f);
    fclose(f);
    CU_ASSERT_EQUAL(pipeline_times_load(path, &t, &err), TG_EINVAL);
    CU_ASSERT(strstr(err.message, "larger than") != NULL);
    /* good */
    f = fopen(path, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs("{\"stages\": [" ST("1", "2", "1") "]}\n", f);
    fclose(f);
    CU_ASSERT_EQUAL(pipeline_times_load(path, &t, &err), 0);
    CU_ASSERT_EQUAL(t.stages, 1);
    unlink(path);
    rmdir(dir);
}

TG_TEST(pipeline, times_check_on_a_filled_struct) {
    struct pipeline_times t = {.stages = 1, .st = {{1, 2, 1}}};
    struct tg_error err;

    CU_ASSERT_EQUAL(pipeline_times_check(&t, &err), 0);
    t.st[0].forward = NAN;
    CU_ASSERT_EQUAL(pipeline_times_check(&t, &err), TG_EINVAL);
    CU_ASSERT(strstr(err.message, "stages[0].forward is not a finite number") != NULL);
    t.st[0].forward = 1;
    t.stages = 0;
    CU_ASSERT_EQUAL(pipeline_times_check(&t, &err), TG_EINVAL);
}
