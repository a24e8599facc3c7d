/*
 * freeze_plan.c — planner time of `toolgym plan-freeze` (policy/freeze_plan.h) over pipeline
 * sizes, as a markdown table.
 *
 * usage: build/bench/freeze_plan [--stages "4 8 12 16"] [--microbatches "8 16 32 64"]
 *                                [--schedules "gpipe 1f1b"] [--reps 3] [--seed 1] [--r-max 0.9]
 * For each size and schedule: per-stage times drawn from the seed (forward 0.5..1.5, w_max
 * 1..3, w_min 30..80% of w_max, comm 0.05), then `reps` plans. The planner time is building
 * the DAG and the LP plus both solves (the three simulations of the comparison table are
 * not counted). The baseline, measured in the same run, is the same LP with GLPK's textbook
 * cold start (standard basis, dual simplex) instead of our start at the no-freezing vertex;
 * both must reach the same makespan. Medians of `reps`. 1F1B rows with M < S are skipped.
 * The last columns show what the plans do: makespans of no freezing, uniform freezing at
 * r_max and the LP plan, and the LP plan's mean freeze ratio (uniform's is r_max).
 * Target: planner <= 1000 ms at S=16, M=64 (reported, not asserted).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/stats.h"
#include "base/num.h"
#include "base/rng.h"
#include "base/tg.h"
#include "policy/freeze_plan.h"
#include "policy/pipeline.h"

#define MAX_LIST 16
#define MAX_REPS 15

/* A comma-separated list of 1..100000 into out (at most max); its length, or -1. */
static int parse_list(const char *s, int *out, int max) {
    long v[64];
    size_t n;

    if (max > 64 || num_long_list(s, 1, 100000, v, (size_t)max, &n))
        return -1;
    for (size_t i = 0; i < n; i++)
        out[i] = (int)v[i];
    return (int)n;
}

static void draw_times(int S, unsigned long seed, struct pipeline_times *t) {
    struct rng g;

    rng_seed(&g, seed * 1000003UL + (unsigned long)S);
    memset(t, 0, sizeof(*t));
    t->stages = S;
    t->comm = 0.05;
    snprintf(t->unit, sizeof(t->unit), "ms");
    for (int s = 0; s < S; s++) {
        double hi = 1.0 + 2.0 * rng_uniform(&g);

        t->st[s].forward = 0.5 + rng_uniform(&g);
        t->st[s].w_max = hi;
        t->st[s].w_min = hi * (0.3 + 0.5 * rng_uniform(&g));
    }
}

int main(int argc, char **argv) {
    int stages[MAX_LIST], mbs[MAX_LIST], ns = 4, nm = 4, reps = 3;
    unsigned long seed = 1;
    const char *schedules = "gpipe 1f1b";
    struct freeze_plan_config cfg = freeze_plan_config_default();
    double worst_16_64 = -1;

    memcpy(stages, (int[]){4, 8, 12, 16}, 4 * sizeof(int));
    memcpy(mbs, (int[]){8, 16, 32, 64}, 4 * sizeof(int));
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        long n = 0;
        int bad = 0;

        if (strcmp(a, "--stages") == 0)
            ns = parse_list(v, stages, MAX_LIST);
        else if (strcmp(a, "--microbatches") == 0)
            nm = parse_list(v, mbs, MAX_LIST);
        else if (strcmp(a, "--schedules") == 0)
            schedules = v;
        else if (strcmp(a, "--reps") == 0)
            bad = num_long(v, 1, MAX_REPS, &n), reps = (int)n;
        else if (strcmp(a, "--seed") == 0)
            bad = num_long(v, 0, 1L << 30, &n), seed = (unsigned long)n;
        else if (strcmp(a, "--r-max") == 0)
            bad = num_double(v, 0.0, 1.0, &cfg.r_max);
        else
            bad = 1;
        if (bad) {
            fprintf(stderr, "freeze_plan: bad option %s %s\n", a, v);
            return 2;
        }
    }
    if (ns < 1 || nm < 1 || reps < 1 || reps > MAX_REPS) {
        fprintf(stderr, "freeze_plan: bad --stages, --microbatches or --reps\n");
        return 2;
    }
    { /* warm-up, untimed: GLPK's first call sets up its environment */
        struct pipeline_times t;
        struct pipeline *p;
        struct freeze_plan plan;

        draw_times(2, seed, &t);
        if (pipeline_build(PIPELINE_GPIPE, 2, 2, &p, NULL) == 0) {
            if (freeze_plan_solve(p, &t, &cfg, &plan, NULL) == 0)
                freeze_plan_free(&plan);
            pipeline_free(p);
        }
    }
    printf("| schedule | S | M | LP rows x cols | build (ms) | 1st: shortest makespan (ms) | "
           "2nd: least freezing (ms) | planner (ms) | cold-start planner (ms) | speed-up | "
           "makespan none / uniform / LP | LP mean freeze ratio |\n");
    printf("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---|---:|\n");
    for (int k = 0; k < 2; k++) {
        enum pipeline_kind kind = k ? PIPELINE_1F1B : PIPELINE_GPIPE;

        if (!strstr(schedules, pipeline_kind_name(kind)))
            continue;
        for (int a = 0; a < ns; a++)
            for (int b = 0; b < nm; b++) {
                int S = stages[a], M = mbs[b];
                double tb[MAX_REPS], t1[MAX_REPS], t2[MAX_REPS], tt[MAX_REPS], tc[MAX_REPS];
                double mk[2] = {0, 0}, none = 0, uni = 0, mean = 0;
                int rows = 0, cols = 0;
                struct pipeline_times t;

                if (kind == PIPELINE_1F1B && M < S)
                    continue;
                draw_times(S, seed, &t);
                for (int r = 0; r < reps; r++)
                    for (int cold = 0; cold < 2; cold++) {
                        struct freeze_plan_config c = cfg;
                        struct pipeline *p;
                        struct freeze_plan plan;
                        struct tg_error err;
                        double t0 = tg_now_ms();
                        int rc = pipeline_build(kind, S, M, &p, &err);

                        c.cold_start = cold;
                        if (!rc)
                            rc = freeze_plan_solve(p, &t, &c, &plan, &err);
                        if (rc) {
                            fprintf(stderr, "freeze_plan: S=%d M=%d: %s\n", S, M, err.message);
                            return 1;
                        }
                        if (cold)
                            tc[r] = tg_now_ms() - t0;
                        else
                            tt[r] = tg_now_ms() - t0;
                        mk[cold] = plan.makespan;
                        if (!cold) {
                            tb[r] = plan.build_ms;
                            t1[r] = plan.first_ms;
                            t2[r] = plan.second_ms;
                            rows = plan.lp_rows;
                            mean = plan.mean_ratio;
                            cols = plan.lp_cols;
                        }
                        if (!cold && r == 0) {
                            struct freeze_compare cmp;

                            if (freeze_compare_run(p, &t, &cfg, &cmp, &err) != 0) {
                                fprintf(stderr, "freeze_plan: %s\n", err.message);
                                return 1;
                            }
                            none = cmp.sim[FREEZE_NONE].makespan;
                            uni = cmp.sim[FREEZE_UNIFORM].makespan;
                            freeze_compare_free(&cmp);
                        }
                        freeze_plan_free(&plan);
                        pipeline_free(p);
                    }
                if (fabs(mk[0] - mk[1]) > 1e-6 * mk[0]) {
                    fprintf(stderr, "freeze_plan: S=%d M=%d: cold start reached %.9g, ours %.9g\n",
                            S, M, mk[1], mk[0]);
                    return 1;
                }
                printf("| %s | %d | %d | %d x %d | %.1f | %.1f | %.1f | %.1f | %.1f | %.1fx | "
                       "%.2f / %.2f / %.2f | %.3f |\n",
                       pipeline_kind_name(kind), S, M, rows, cols, stats_median(tb, reps),
                       stats_median(t1, reps), stats_median(t2, reps), stats_median(tt, reps),
                       stats_median(tc, reps), stats_median(tc, reps) / stats_median(tt, reps),
                       none, uni, mk[0], mean);
                fflush(stdout);
                if (S == 16 && M == 64 && stats_median(tt, reps) > worst_16_64)
                    worst_16_64 = stats_median(tt, reps);
            }
    }
    if (worst_16_64 >= 0)
        printf("\ntarget: planner total <= 1000 ms at S=16, M=64: %s (slowest schedule %.0f ms)\n",
               worst_16_64 <= 1000 ? "met" : "NOT met", worst_16_64);
    return 0;
}
