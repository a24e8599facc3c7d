/*
 * test_freeze_plan.c — suite `freeze_plan`: the LP's plans for hand-solved S=2, M=2 cases of
 * GPipe and 1F1B; on random pipelines the simulated makespan of the LP plan equals the LP's,
 * the plan beats uniform freezing at no higher mean freeze ratio and respects every stage's
 * budget; the deadline mode and its infeasible case; bad configuration; the JSON; and the
 * Gantt chart (suite `gantt`).
 */
#include "tg_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/rng.h"
#include "policy/freeze_plan.h"
#include "policy/gantt.h"

#define EXACT 1e-9 /* "exactly": the simplex's rounding only */

static struct pipeline_times two_stage(void) {
    struct pipeline_times t = {.stages = 2};

    t.st[0] = t.st[1] = (struct pipeline_stage_times){1.0, 2.0, 1.0};
    return t;
}

/* r of B(s,m) */
static double rb(const struct pipeline *p, const double *r, int s, int m) {
    return r[p->bwd[s * p->microbatches + m]];
}

static void solve(enum pipeline_kind kind, const struct pipeline_times *t, double r_max,
                  double deadline, struct pipeline **p, struct freeze_compare *cmp) {
    struct freeze_plan_config c = {.r_max = r_max, .deadline = deadline};
    struct tg_error err;
    int rc;

    CU_ASSERT_FATAL(pipeline_build(kind, t->stages, 2, p, NULL) == 0);
    rc = freeze_compare_run(*p, t, &c, cmp, &err);
    if (rc)
        printf("\nfreeze_compare_run: %s\n", err.message);
    CU_ASSERT_FATAL(rc == 0);
}

/*
 * GPipe, S=2, M=2, forward 1, backward in [1, 2], r_max 0.5 (each stage may freeze one whole
 * backward's worth). Makespan = 3 + b10 + max(b11, b00) + b01 with b10 + b11 >= 3 and
 * b00 + b01 >= 3, so it is at least 6 - min(b11, b00) >= 4 + 3 = 7, reached only by
 * b10 = b01 = 1, b11 = b00 = 2: freeze B(1,0) and B(0,1) fully, nothing else.
 */
TG_TEST(freeze_plan, hand_gpipe_2x2) {
    struct pipeline_times t = two_stage();
    struct pipeline *p;
    struct freeze_compare cmp;
    const double *r;

    solve(PIPELINE_GPIPE, &t, 0.5, 0, &p, &cmp);
    r = cmp.plan.ratio;
    CU_ASSERT_DOUBLE_EQUAL(cmp.plan.makespan, 7.0, EXACT);
    CU_ASSERT_DOUBLE_EQUAL(rb(p, r, 1, 0), 1.0, EXACT);
    CU_ASSERT_DOUBLE_EQUAL(rb(p, r, 1, 1), 0.0, EXACT);
    CU_ASSERT_DOUBLE_EQUAL(rb(p, r, 0, 0), 0.0, EXACT);
    CU_ASSERT_DOUBLE_EQUAL(rb(p, r, 0, 1), 1.0, EXACT);
    CU_ASSERT_DOUBLE_EQUAL(cmp.plan.stage_ratio[0], 0.5, EXACT);
    CU_ASSERT_DOUBLE_EQUAL(cmp.plan.stage_ratio[1], 0.5, EXACT);
    for (int i = 0; i < p->n; i++)
        if (p->act[i].op == PIPELINE_FWD)
            CU_ASSERT_EQUAL(r[i], 0.0);
    /* none: 9; uniform 0.5 (every backward 1.5): 3 + 1.5 * 3 = 7.5; the LP plan: 7 */
    CU_ASSERT_DOUBLE_EQUAL(cmp.sim[FREEZE_NONE].makespan, 9.0, EXACT);
    CU_ASSERT_DOUBLE_EQUAL(cmp.sim[FREEZE_UNIFORM].makespan, 7.5, EXACT);
    CU_ASSERT_DOUBLE_EQUAL(cmp.sim[FREEZE_LP].makespan, 7.0, EXACT);
    CU_ASSERT_DOUBLE_EQUAL(cmp.mean_ratio[FREEZE_UNIFORM], 0.5, EXACT);
    CU_ASSERT_DOUBLE_EQUAL(cmp.mean_ratio[FREEZE_LP], 0.5, EXACT);
    CU_ASSERT_DOUBLE_EQUAL(cmp.skipped[FREEZE_UNIFORM], 2.0, EXACT);
    CU_ASSERT_DOUBLE_EQUAL(cmp.skipped[FREEZE_LP], 2.0, EXACT);
    freeze_compare_free(&cmp);
    pipeline_free(p);
}

/* r_max 1: every backward can be fully frozen; GPipe needs all four at 1 (makespan 6) */
TG_TEST(freeze_plan, hand_gpipe_2x2_budget_1_and_0) {
    struct pipeline_times t = two_stage();
    struct pipeline *p;
    struct freeze_compare cmp;

    solve(PIPELINE_GPIPE, &t, 1.0, 0, &p, &cmp);
    CU_ASSERT_DOUBLE_EQUAL(cmp.plan.makespan, 6.0, EXACT);
    for (int s = 0; s < 2; s++)
        for (int m = 0; m < 2; m++)
            CU_ASSERT_DOUBLE_EQUAL(rb(p, cmp.plan.ratio, s, m), 1.0, EXACT);
    freeze_compare_free(&cmp);
    pipeline_free(p);
    /* r_max 0: nothing may be frozen */
    solve(PIPELINE_GPIPE, &t, 0.0, 0, &p, &cmp);
    CU_ASSERT_DOUBLE_EQUAL(cmp.plan.makespan, 9.0, EXACT);
    CU_ASSERT_EQUAL(cmp.plan.total_ratio, 0.0);
    freeze_compare_free(&cmp);
    pipeline_free(p);
}

/*
 * 1F1B, S=2, M=2 (stage 0: F0 F1 B0 B1; stage 1: F0 B0 F1 B1). Makespan =
 * b10 + b01 + max(3 + b11, 2 + b00) >= 3 + (b10 + b11) + b01 >= 3 + 3 + 1 = 7 at r_max 0.5:
 * B(0,1) fully frozen, B(0,0) not at all, and stage 1's budget spent in full (b10 + b11 = 3;
 * how it is split does not matter, so the test does not ask).
 */
TG_TEST(freeze_plan, hand_1f1b_2x2) {
    struct pipeline_times t = two_stage();
    struct pipeline *p;
    struct freeze_compare cmp;
    const double *r;

    solve(PIPELINE_1F1B, &t, 0.5, 0, &p, &cmp);
    r = cmp.plan.ratio;
    CU_ASSERT_DOUBLE_EQUAL(cmp.plan.makespan, 7.0, EXACT);
    CU_ASSERT_DOUBLE_EQUAL(rb(p, r, 0, 0), 0.0, EXACT);
    CU_ASSERT_DOUBLE_EQUAL(rb(p, r, 0, 1), 1.0, EXACT);
    CU_ASSERT_DOUBLE_EQUAL(rb(p, r, 1, 0) + rb(p, r, 1, 1), 1.0, EXACT);
    CU_ASSERT_DOUBLE_EQUAL(cmp.sim[FREEZE_LP].makespan, 7.0, EXACT);
    /* none 9; uniform: 1.5 + 1.5 + max(4.5, 3.5) = 7.5 */
    CU_ASSERT_DOUBLE_EQUAL(cmp.sim[FREEZE_NONE].makespan, 9.0, EXACT);
    CU_ASSERT_DOUBLE_EQUAL(cmp.sim[FREEZE_UNIFORM].makespan, 7.5, EXACT);
    freeze_compare_free(&cmp);
    pipeline_free(p);
}

/*
 * 1F1B, S=2, M=2, r_max 1: the makespan 6 needs b10 = b11 = b01 = 1, while B(0,0) ends
 * within its slack whatever it is: the second objective (least freezing) leaves it unfrozen.
 */
TG_TEST(freeze_plan, hand_1f1b_2x2_least_freezing_at_the_shortest_makespan) {
    struct pipeline_times t = two_stage();
    struct pipeline *p;
    struct freeze_compare cmp;
    const double *r;

    solve(PIPELINE_1F1B, &t, 1.0, 0, &p, &cmp);
    r = cmp.plan.ratio;
    CU_ASSERT_DOUBLE_EQUAL(cmp.plan.makespan, 6.0, EXACT);
    CU_ASSERT_DOUBLE_EQUAL(rb(p, r, 1, 0), 1.0, EXACT);
    CU_ASSERT_DOUBLE_EQUAL(rb(p, r, 1, 1), 1.0, EXACT);
    CU_ASSERT_DOUBLE_EQUAL(rb(p, r, 0, 1), 1.0, EXACT);
    CU_ASSERT_DOUBLE_EQUAL(rb(p, r, 0, 0), 0.0, EXACT);
    CU_ASSERT_DOUBLE_EQUAL(cmp.plan.total_ratio, 3.0, EXACT);
    CU_ASSERT_DOUBLE_EQUAL(cmp.plan.mean_ratio, 0.75, EXACT);
    freeze_compare_free(&cmp);
    pipeline_free(p);
}

/*
 * Deadline mode on the same 1F1B pipeline with r_max 1: reaching 8 from 9 needs one unit of
 * backward time off the critical path, i.e. total freezing 1 (every backward has w_max -
 * w_min = 1); then the makespan is 8. A deadline of 5.5 is below the shortest makespan (6).
 */
TG_TEST(freeze_plan, deadline_least_freezing_and_infeasible) {
    struct pipeline_times t = two_stage();
    struct freeze_plan_config c = {.r_max = 1.0, .deadline = 8.0};
    struct pipeline *p;
    struct freeze_plan plan;
    struct pipesim_result sim;
    struct tg_error err;

    CU_ASSERT_FATAL(pipeline_build(PIPELINE_1F1B, 2, 2, &p, NULL) == 0);
    CU_ASSERT_FATAL(freeze_plan_solve(p, &t, &c, &plan, &err) == 0);
    CU_ASSERT_DOUBLE_EQUAL(plan.total_ratio, 1.0, EXACT);
    CU_ASSERT_DOUBLE_EQUAL(plan.makespan, 8.0, EXACT);
    CU_ASSERT_FATAL(pipesim_run(p, &t, plan.ratio, &sim, NULL) == 0);
    CU_ASSERT_DOUBLE_EQUAL(sim.makespan, 8.0, EXACT);
    pipesim_result_free(&sim);
    freeze_plan_free(&plan);
    /* a deadline no freezing needs */
    c.deadline = 9.5;
    CU_ASSERT_FATAL(freeze_plan_solve(p, &t, &c, &plan, &err) == 0);
    CU_ASSERT_EQUAL(plan.total_ratio, 0.0);
    CU_ASSERT_DOUBLE_EQUAL(plan.makespan, 9.0, EXACT);
    freeze_plan_free(&plan);
    /* infeasible: the error names the deadline and the best reachable makespan */
    c.deadline = 5.5;
    CU_ASSERT_EQUAL(freeze_plan_solve(p, &t, &c, &plan, &err), TG_EINVAL);
    CU_ASSERT_STRING_EQUAL(err.code, "infeasible");
    CU_ASSERT(strstr(err.message, "deadline 5.5 cannot be met") != NULL);
    CU_ASSERT(strstr(err.message, "shortest makespan is 6") != NULL);
    CU_ASSERT_PTR_NULL(plan.ratio);
    pipeline_free(p);
}

TG_TEST(freeze_plan, bad_config_and_mismatched_times) {
    struct pipeline_times t = two_stage();
    struct freeze_plan_config c = freeze_plan_config_default();
    struct pipeline *p;
    struct freeze_plan plan;
    struct tg_error err;

    CU_ASSERT_EQUAL(c.r_max, 0.9);
    CU_ASSERT_FATAL(pipeline_build(PIPELINE_GPIPE, 3, 2, &p, NULL) == 0);
    CU_ASSERT_EQUAL(freeze_plan_solve(p, &t, &c, &plan, &err), TG_EINVAL);
    CU_ASSERT_STRING_EQUAL(err.code, "stages");
    CU_ASSERT(strstr(err.message, "lists 2 stages but the pipeline has 3") != NULL);
    pipeline_free(p);
    CU_ASSERT_FATAL(pipeline_build(PIPELINE_GPIPE, 2, 2, &p, NULL) == 0);
    c.r_max = 1.5;
    CU_ASSERT_EQUAL(freeze_plan_solve(p, &t, &c, &plan, &err), TG_EINVAL);
    CU_ASSERT_STRING_EQUAL(err.code, "r_max");
    c.r_max = -0.1;
    CU_ASSERT_EQUAL(freeze_plan_solve(p, &t, &c, &plan, &err), TG_EINVAL);
    c.r_max = NAN;
    CU_ASSERT_EQUAL(freeze_plan_solve(p, &t, &c, &plan, &err), TG_EINVAL);
    c.r_max = 0.5;
    c.deadline = -1;
    CU_ASSERT_EQUAL(freeze_plan_solve(p, &t, &c, &plan, &err), TG_EINVAL);
    CU_ASSERT_STRING_EQUAL(err.code, "deadline");
    pipeline_free(p);
}

TG_TEST(freeze_plan, nothing_to_freeze) {
    struct pipeline_times t = two_stage();
    struct pipeline *p;
    struct freeze_compare cmp;

    t.st[0].w_min = t.st[0].w_max;
    t.st[1].w_min = t.st[1].w_max;
    solve(PIPELINE_1F1B, &t, 0.9, 0, &p, &cmp);
    CU_ASSERT_EQUAL(cmp.plan.total_ratio, 0.0);
    CU_ASSERT_EQUAL(cmp.plan.mean_ratio, 0.0);
    CU_ASSERT_EQUAL(cmp.mean_ratio[FREEZE_UNIFORM], 0.0);
    CU_ASSERT_DOUBLE_EQUAL(cmp.plan.makespan, 9.0, EXACT);
    CU_ASSERT_DOUBLE_EQUAL(cmp.sim[FREEZE_UNIFORM].makespan, 9.0, EXACT);
    freeze_compare_free(&cmp);
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

TG_TEST(freeze_plan, random_lp_matches_simulation_and_beats_uniform) {
    struct rng g;
    int strictly_better = 0, trials = 0;

    rng_seed(&g, 2602);
    for (int trial = 0; trial < 40; trial++) {
        int S = 2 + (int)rng_below(&g, 6), M = S + (int)rng_below(&g, 2 * S + 1);
        enum pipeline_kind kind = trial % 2 ? PIPELINE_1F1B : PIPELINE_GPIPE;
        struct freeze_plan_config c = {.r_max = trial % 3 == 0 ? 0.3 : 0.9};
        struct pipeline_times t;
        struct pipeline *p;
        struct freeze_compare cmp;
        struct tg_error err;

        random_times(&g, S, &t);
        CU_ASSERT_FATAL(pipeline_build(kind, S, M, &p, NULL) == 0);
        CU_ASSERT_FATAL(freeze_compare_run(p, &t, &c, &cmp, &err) == 0);
        /* the simulator executes the plan in exactly the LP's makespan */
        CU_ASSERT_DOUBLE_EQUAL(cmp.sim[FREEZE_LP].makespan, cmp.plan.makespan, 1e-6);
        /* no longer than uniform freezing, at an equal or lower mean freeze ratio */
        CU_ASSERT(cmp.plan.makespan <= cmp.sim[FREEZE_UNIFORM].makespan + 1e-9);
        CU_ASSERT(cmp.plan.mean_ratio <= cmp.mean_ratio[FREEZE_UNIFORM] + 1e-9);
        CU_ASSERT(cmp.plan.makespan <= cmp.sim[FREEZE_NONE].makespan + 1e-9);
        strictly_better += cmp.plan.makespan < cmp.sim[FREEZE_UNIFORM].makespan - 1e-6 ||
                           cmp.plan.mean_ratio < cmp.mean_ratio[FREEZE_UNIFORM] - 1e-6;
        /* every ratio in [0, 1], forwards and unfreezable stages at 0, budgets kept */
        for (int i = 0; i < p->n; i++) {
            CU_ASSERT(cmp.plan.ratio[i] >= 0.0 && cmp.plan.ratio[i] <= 1.0);
            if (!pipeline_freezable(p, &t, i))
                CU_ASSERT_EQUAL(cmp.plan.ratio[i], 0.0);
        }
        for (int s = 0; s < S; s++) {
            CU_ASSERT(cmp.plan.stage_ratio[s] <= c.r_max + 1e-9);
            CU_ASSERT_DOUBLE_EQUAL(cmp.plan.stage_ratio[s],
                                   freeze_plan_mean(p, &t, cmp.plan.ratio, s), 1e-12);
        }
        /* starting from GLPK's standard basis reaches the same optimum */
        {
            struct freeze_plan cold;

            c.cold_start = 1;
            CU_ASSERT_FATAL(freeze_plan_solve(p, &t, &c, &cold, &err) == 0);
            CU_ASSERT_DOUBLE_EQUAL(cold.makespan, cmp.plan.makespan, 1e-6);
            CU_ASSERT_DOUBLE_EQUAL(cold.total_ratio, cmp.plan.total_ratio, 1e-6);
            freeze_plan_free(&cold);
        }
        trials++;
        freeze_compare_free(&cmp);
        pipeline_free(p);
    }
    CU_ASSERT_EQUAL(trials, 40);
    CU_ASSERT(strictly_better >= 30); /* the LP does better than uniform, not just as well */
}

TG_TEST(freeze_plan, same_input_same_plan_bit_for_bit) {
    struct rng g;
    struct pipeline_times t;
    struct pipeline *p;
    struct freeze_plan a, b;
    struct freeze_plan_config c = freeze_plan_config_default();

    rng_seed(&g, 99);
    random_times(&g, 6, &t);
    CU_ASSERT_FATAL(pipeline_build(PIPELINE_1F1B, 6, 16, &p, NULL) == 0);
    CU_ASSERT_FATAL(freeze_plan_solve(p, &t, &c, &a, NULL) == 0);
    CU_ASSERT_FATAL(freeze_plan_solve(p, &t, &c, &b, NULL) == 0);
    CU_ASSERT(memcmp(a.ratio, b.ratio, (size_t)p->n * sizeof(double)) == 0);
    CU_ASSERT_EQUAL(a.makespan, b.makespan);
    freeze_plan_free(&a);
    freeze_plan_free(&b);
    pipeline_free(p);
}

TG_TEST(freeze_plan, json_report) {
    struct pipeline_times t = two_stage();
    struct freeze_plan_config c = {.r_max = 0.5};
    struct pipeline *p;
    struct freeze_compare cmp;
    json_t *o, *fr, *rows, *acts;

    snprintf(t.unit, sizeof(t.unit), "ms");
    solve(PIPELINE_GPIPE, &t, 0.5, 0, &p, &cmp);
    o = freeze_compare_json(p, &t, &c, &cmp);
    CU_ASSERT_FATAL(o != NULL);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "schedule")), "gpipe");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "stages")), 2);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "microbatches")), 2);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "unit")), "ms");
    CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(o, "makespan")), 7.0, EXACT);
    CU_ASSERT_PTR_NULL(json_object_get(o, "deadline"));
    fr = json_object_get(o, "freeze_ratio");
    CU_ASSERT_EQUAL(json_array_size(fr), 2);
    CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_array_get(json_array_get(fr, 1), 0)), 1.0, EXACT);
    CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_array_get(json_array_get(fr, 1), 1)), 0.0, EXACT);
    rows = json_object_get(o, "compare");
    CU_ASSERT_EQUAL(json_array_size(rows), 3);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(rows, 1), "plan")),
                           "uniform");
    CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(json_array_get(rows, 1), "wall_saved")),
                           1.5, EXACT);
    CU_ASSERT_DOUBLE_EQUAL(
        json_real_value(json_object_get(json_array_get(rows, 2), "backward_skipped")), 2.0, EXACT);
    acts = json_object_get(o, "actions");
    CU_ASSERT_EQUAL(json_array_size(acts), 8);
    for (size_t i = 0; i < json_array_size(acts); i++) {
        json_t *a = json_array_get(acts, i);

        CU_ASSERT(json_is_boolean(json_object_get(a, "critical")));
        CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(a, "start")),
                               cmp.sim[FREEZE_LP].start[i], 0);
    }
    json_decref(o);
    freeze_compare_free(&cmp);
    pipeline_free(p);
}

/* ---- gantt ---------------------------------------------------------------------------------- */

static int count(const char *hay, const char *needle) {
    int n = 0;

    for (const char *s = strstr(hay, needle); s; s = strstr(s + 1, needle))
        n++;
    return n;
}

TG_TEST(gantt, chart_has_every_action_and_marks) {
    struct pipeline_times t = two_stage();
    struct pipeline *p;
    struct freeze_compare cmp;
    struct gantt_panel panels[FREEZE_POLICIES];
    char dir[] = "/tmp/tg-gantt-XXXXXX", path[64], *buf;
    int crit = 0, frozen = 0;
    struct tg_error err;
    FILE *f;
    long len;

    solve(PIPELINE_1F1B, &t, 0.5, 0, &p, &cmp);
    for (int k = 0; k < FREEZE_POLICIES; k++) {
        panels[k] = (struct gantt_panel){freeze_policy_name(k), cmp.ratio[k], &cmp.sim[k]};
        for (int i = 0; i < p->n; i++) {
            crit += cmp.sim[k].critical[i];
            frozen += p->act[i].op == PIPELINE_BWD && cmp.ratio[k][i] > 0;
        }
    }
    CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/g.svg", dir);
    CU_ASSERT_FATAL(gantt_write(path, "a <test> & chart", p, &t, panels, 3, &err) == 0);
    f = fopen(path, "r");
    CU_ASSERT_FATAL(f != NULL);
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    rewind(f);
    buf = calloc((size_t)len + 1, 1);
    CU_ASSERT_FATAL(buf && fread(buf, 1, (size_t)len, f) == (size_t)len);
    fclose(f);
    CU_ASSERT(strncmp(buf, "<svg", 4) == 0);
    CU_ASSERT(strcmp(buf + len - 7, "</svg>\n") == 0);
    CU_ASSERT_EQUAL(count(buf, "class=\"fwd"), 3 * 4);
    CU_ASSERT_EQUAL(count(buf, "class=\"bwd"), 3 * 4);
    CU_ASSERT_EQUAL(count(buf, " critical\""), crit);
    CU_ASSERT_EQUAL(count(buf, "class=\"frozen\""), frozen);
    CU_ASSERT(frozen >= 4 + 2); /* uniform: all 4 backwards; the LP: at least 2 */
    CU_ASSERT(strstr(buf, "a &lt;test&gt; &amp; chart") != NULL);
    free(buf);
    unlink(path);
    /* errors */
    CU_ASSERT_EQUAL(gantt_write(path, "x", p, &t, panels, 0, &err), TG_EINVAL);
    CU_ASSERT_EQUAL(gantt_write("/nonexistent-dir/g.svg", "x", p, &t, panels, 1, &err), TG_EIO);
    CU_ASSERT(strstr(err.message, "/nonexistent-dir/g.svg") != NULL);
    rmdir(dir);
    freeze_compare_free(&cmp);
    pipeline_free(p);
}
