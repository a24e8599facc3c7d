/*
 * test_pipe_sim.c — suite `pipesim`: hand-computed S=2, M=2 runs of GPipe and 1F1B (with and
 * without freezing, with transfer time), the earliest-start property on random pipelines, the
 * critical path, and that freezing only off-critical actions leaves the makespan unchanged.
 */
#include "tg_test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "policy/pipe_sim.h"

/* S=2 stages, forward 1, backward 2 unfrozen and 1 frozen */
static struct pipeline_times two_stage(double comm) {
    struct pipeline_times t = {.stages = 2, .comm = comm};

    t.st[0] = t.st[1] = (struct pipeline_stage_times){1.0, 2.0, 1.0};
    return t;
}

static double start_of(const struct pipeline *p, const struct pipesim_result *r, int op, int s,
                       int m) {
    return r->start[op == PIPELINE_FWD ? p->fwd[s * p->microbatches + m]
                                       : p->bwd[s * p->microbatches + m]];
}

/* starts in the order F(0,0) F(0,1) F(1,0) F(1,1) B(1,0) B(1,1) B(0,0) B(0,1) */
static void check_starts(enum pipeline_kind kind, double comm, const double want[8],
                         double makespan, const double *ratio_b10_b01) {
    struct pipeline_times t = two_stage(comm);
    struct pipeline *p;
    struct pipesim_result r;
    double *ratio = NULL;

    CU_ASSERT_FATAL(pipeline_build(kind, 2, 2, &p, NULL) == 0);
    if (ratio_b10_b01) {
        ratio = calloc((size_t)p->n, sizeof(double));
        CU_ASSERT_FATAL(ratio != NULL);
        ratio[p->bwd[1 * 2 + 0]] = ratio_b10_b01[0];
        ratio[p->bwd[0 * 2 + 1]] = ratio_b10_b01[1];
    }
    CU_ASSERT_FATAL(pipesim_run(p, &t, ratio, &r, NULL) == 0);
    CU_ASSERT_EQUAL(start_of(p, &r, PIPELINE_FWD, 0, 0), want[0]);
    CU_ASSERT_EQUAL(start_of(p, &r, PIPELINE_FWD, 0, 1), want[1]);
    CU_ASSERT_EQUAL(start_of(p, &r, PIPELINE_FWD, 1, 0), want[2]);
    CU_ASSERT_EQUAL(start_of(p, &r, PIPELINE_FWD, 1, 1), want[3]);
    CU_ASSERT_EQUAL(start_of(p, &r, PIPELINE_BWD, 1, 0), want[4]);
    CU_ASSERT_EQUAL(start_of(p, &r, PIPELINE_BWD, 1, 1), want[5]);
    CU_ASSERT_EQUAL(start_of(p, &r, PIPELINE_BWD, 0, 0), want[6]);
    CU_ASSERT_EQUAL(start_of(p, &r, PIPELINE_BWD, 0, 1), want[7]);
    CU_ASSERT_EQUAL(r.makespan, makespan);
    pipesim_result_free(&r);
    free(ratio);
    pipeline_free(p);
}

TG_TEST(pipesim, hand_gpipe_2x2) {
    /* F00 0-1, F01 1-2; F10 1-2, F11 2-3; B10 3-5, B11 5-7; B00 5-7, B01 7-9 */
    static const double want[8] = {0, 1, 1, 2, 3, 5, 5, 7};

    check_starts(PIPELINE_GPIPE, 0.0, want, 9.0, NULL);
}

TG_TEST(pipesim, hand_1f1b_2x2) {
    /* stage 0: F0 F1 B0 B1, stage 1: F0 B0 F1 B1.
     * F00 0-1, F01 1-2; F10 1-2, B10 2-4, F11 4-5, B11 5-7; B00 4-6, B01 7-9 */
    static const double want[8] = {0, 1, 1, 4, 2, 5, 4, 7};

    check_starts(PIPELINE_1F1B, 0.0, want, 9.0, NULL);
}

TG_TEST(pipesim, hand_gpipe_2x2_with_transfer_time) {
    /* comm 0.5: F10 waits for F00 + 0.5, B00 for B10 + 0.5, B01 for B11 + 0.5 */
    static const double want[8] = {0, 1, 1.5, 2.5, 3.5, 5.5, 6, 8};

    check_starts(PIPELINE_GPIPE, 0.5, want, 10.0, NULL);
}

TG_TEST(pipesim, hand_gpipe_2x2_frozen) {
    /* B10 and B01 fully frozen (1 instead of 2): B10 3-4, B11 4-6, B00 4-6, B01 6-7 */
    static const double want[8] = {0, 1, 1, 2, 3, 4, 4, 6};
    static const double r[2] = {1.0, 1.0};

    check_starts(PIPELINE_GPIPE, 0.0, want, 7.0, r);
}

TG_TEST(pipesim, hand_1f1b_2x2_critical_path) {
    /* the longest path F00 F10 B10 F11 B11 B01 (length 9); F01 has 2 of slack, B00 1 */
    struct pipeline_times t = two_stage(0.0);
    struct pipeline *p;
    struct pipesim_result r;

    CU_ASSERT_FATAL(pipeline_build(PIPELINE_1F1B, 2, 2, &p, NULL) == 0);
    CU_ASSERT_FATAL(pipesim_run(p, &t, NULL, &r, NULL) == 0);
    CU_ASSERT(r.critical[p->fwd[0]]);  /* F(0,0) */
    CU_ASSERT(!r.critical[p->fwd[1]]); /* F(0,1) */
    CU_ASSERT(r.critical[p->fwd[2]]);  /* F(1,0) */
    CU_ASSERT(r.critical[p->fwd[3]]);  /* F(1,1) */
    CU_ASSERT(!r.critical[p->bwd[0]]); /* B(0,0) */
    CU_ASSERT(r.critical[p->bwd[1]]);  /* B(0,1) */
    CU_ASSERT(r.critical[p->bwd[2]]);  /* B(1,0) */
    CU_ASSERT(r.critical[p->bwd[3]]);  /* B(1,1) */
    /* busy: each stage 2 x 1 + 2 x 2 = 6 of 9 */
    CU_ASSERT_EQUAL(r.busy[0], 6.0);
    CU_ASSERT_EQUAL(r.busy[1], 6.0);
    CU_ASSERT_DOUBLE_EQUAL(r.bubble, 1.0 - 12.0 / 18.0, 1e-12);
    pipesim_result_free(&r);
    pipeline_free(p);
}

/* ---- random pipelines ------------------------------------------------------------------------ */

static void random_times(struct rng *g, int S, struct pipeline_times *t) {
    memset(t, 0, sizeof(*t));
    t->stages = S;
    t->comm = rng_uniform(g) < 0.5 ? 0.0 : 0.2 * rng_uniform(g);
    for (int s = 0; s < S; s++) {
        double hi = 1.0 + 3.0 * rng_uniform(g);

        t->st[s].forward = 0.5 + 1.5 * rng_uniform(g);
        t->st[s].w_max = hi;
        t->st[s].w_min = rng_uniform(g) < 0.15 ? hi : hi * (0.2 + 0.7 * rng_uniform(g));
    }
}

TG_TEST(pipesim, earliest_start_and_no_overlap) {
    struct rng g;

    rng_seed(&g, 11);
    for (int trial = 0; trial < 24; trial++) {
        int S = 2 + (int)rng_below(&g, 6), M = S + (int)rng_below(&g, 10);
        enum pipeline_kind kind = trial % 2 ? PIPELINE_1F1B : PIPELINE_GPIPE;
        struct pipeline_times t;
        struct pipeline *p;
        struct pipesim_result r;
        double *ratio, last = 0, busy = 0;

        random_times(&g, S, &t);
        CU_ASSERT_FATAL(pipeline_build(kind, S, M, &p, NULL) == 0);
        ratio = malloc((size_t)p->n * sizeof(double));
        CU_ASSERT_FATAL(ratio != NULL);
        for (int i = 0; i < p->n; i++)
            ratio[i] = rng_uniform(&g);
        CU_ASSERT_FATAL(pipesim_run(p, &t, ratio, &r, NULL) == 0);
        for (int i = 0; i < p->n; i++) {
            double ready = 0;

            if (i % (2 * M) != 0)
                ready = r.finish[i - 1]; /* the stage is free, never overlapping */
            if (p->link_prev[i] >= 0)
                ready = fmax(ready, r.finish[p->link_prev[i]] + t.comm);
            CU_ASSERT_DOUBLE_EQUAL(r.start[i], ready, 1e-12); /* and it starts at once */
            CU_ASSERT_DOUBLE_EQUAL(r.finish[i] - r.start[i], pipeline_duration(p, &t, ratio, i),
                                   1e-12);
            last = fmax(last, r.finish[i]);
        }
        CU_ASSERT_EQUAL(r.makespan, last);
        for (int s = 0; s < S; s++)
            busy += r.busy[s];
        CU_ASSERT_DOUBLE_EQUAL(r.bubble, 1 - busy / (S * r.makespan), 1e-12);
        CU_ASSERT(r.bubble >= 0 && r.bubble < 1);
        pipesim_result_free(&r);
        free(ratio);
        pipeline_free(p);
    }
}

TG_TEST(pipesim, critical_path_is_a_chain_from_0_to_the_makespan) {
    struct rng g;

    rng_seed(&g, 5);
    for (int trial = 0; trial < 16; trial++) {
        int S = 2 + (int)rng_below(&g, 5), M = S + (int)rng_below(&g, 8);
        struct pipeline_times t;
        struct pipeline *p;
        struct pipesim_result r;
        int first = 0, lastc = 0;

        random_times(&g, S, &t);
        CU_ASSERT_FATAL(
            pipeline_build(trial % 2 ? PIPELINE_1F1B : PIPELINE_GPIPE, S, M, &p, NULL) == 0);
        CU_ASSERT_FATAL(pipesim_run(p, &t, NULL, &r, NULL) == 0);
        for (int i = 0; i < p->n; i++) {
            if (!r.critical[i])
                continue;
            first |= r.start[i] == 0;
            lastc |= r.finish[i] == r.makespan;
            if (r.start[i] > 0) { /* some predecessor is critical and ends just in time */
                int ok = 0;

                if (i % (2 * M) != 0 && r.critical[i - 1] &&
                    fabs(r.finish[i - 1] - r.start[i]) < 1e-9)
                    ok = 1;
                if (p->link_prev[i] >= 0 && r.critical[p->link_prev[i]] &&
                    fabs(r.finish[p->link_prev[i]] + t.comm - r.start[i]) < 1e-9)
                    ok = 1;
                CU_ASSERT(ok);
            }
        }
        CU_ASSERT(first);
        CU_ASSERT(lastc);
        pipesim_result_free(&r);
        pipeline_free(p);
    }
}

TG_TEST(pipesim, freezing_off_the_critical_path_changes_nothing) {
    struct rng g;
    int shortened = 0, total_off = 0;

    rng_seed(&g, 23);
    for (int trial = 0; trial < 24; trial++) {
        int S = 2 + (int)rng_below(&g, 6), M = S + (int)rng_below(&g, 10);
        struct pipeline_times t;
        struct pipeline *p;
        struct pipesim_result base, off, on;
        double *r_off, *r_on;
        int n_off = 0;

        random_times(&g, S, &t);
        CU_ASSERT_FATAL(
            pipeline_build(trial % 2 ? PIPELINE_1F1B : PIPELINE_GPIPE, S, M, &p, NULL) == 0);
        r_off = calloc((size_t)p->n, sizeof(double));
        r_on = calloc((size_t)p->n, sizeof(double));
        CU_ASSERT_FATAL(r_off && r_on);
        CU_ASSERT_FATAL(pipesim_run(p, &t, NULL, &base, NULL) == 0);
        for (int i = 0; i < p->n; i++) {
            if (!pipeline_freezable(p, &t, i))
                continue;
            if (base.critical[i])
                r_on[i] = 1.0;
            else
                r_off[i] = 1.0, n_off++;
        }
        CU_ASSERT_FATAL(pipesim_run(p, &t, r_off, &off, NULL) == 0);
        CU_ASSERT_FATAL(pipesim_run(p, &t, r_on, &on, NULL) == 0);
        /* fully freezing every backward off the critical path: the same makespan */
        CU_ASSERT_DOUBLE_EQUAL(off.makespan, base.makespan, 1e-9 * base.makespan);
        total_off += n_off;
        /* freezing the critical ones does shorten the batch (when there is one to freeze) */
        CU_ASSERT(on.makespan <= base.makespan);
        shortened += on.makespan < base.makespan - 1e-9;
        pipesim_result_free(&base);
        pipesim_result_free(&off);
        pipesim_result_free(&on);
        free(r_off);
        free(r_on);
        pipeline_free(p);
    }
    CU_ASSERT(shortened >= 20);
    CU_ASSERT(total_off > 100); /* the off-critical case was really exercised */
}

TG_TEST(pipesim, deterministic) {
    struct pipeline_times t = two_stage(0.1);
    struct pipeline *p;
    struct pipesim_result a, b;

    CU_ASSERT_FATAL(pipeline_build(PIPELINE_1F1B, 2, 7, &p, NULL) == 0);
    CU_ASSERT_FATAL(pipesim_run(p, &t, NULL, &a, NULL) == 0);
    CU_ASSERT_FATAL(pipesim_run(p, &t, NULL, &b, NULL) == 0);
    CU_ASSERT(memcmp(a.start, b.start, (size_t)p->n * sizeof(double)) == 0);
    CU_ASSERT(memcmp(a.critical, b.critical, (size_t)p->n) == 0);
    pipesim_result_free(&a);
    pipesim_result_free(&b);
    pipeline_free(p);
}
