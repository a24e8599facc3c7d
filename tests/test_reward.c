/*
 * test_reward.c — suite `reward`: the default config and its file, config validation (ranges
 * and the guaranteed properties, each broken config named), the judge mode's squash, torl,
 * OTC as the paper defines it, and property tests over random step sequences: ordering,
 * monotonicity, sum of step rewards = return, grounding (docs/rewards.md).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "server/reward.h"
#include "tg_test.h"

static struct reward_episode ep(const enum judge_label *calls, size_t n, enum reward_outcome o,
                                int premature, int ungrounded) {
    struct reward_episode e = {calls, n, o, premature, ungrounded};

    return e;
}

TG_TEST(reward, defaults_match_the_shipped_file) {
    struct reward_config d, f;
    struct tg_error err;

    reward_config_defaults(&d);
    CU_ASSERT_EQUAL(d.mode, REWARD_JUDGE);
    CU_ASSERT_DOUBLE_EQUAL(d.label[JUDGE_NECESSARY], 0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(d.label[JUDGE_REDUNDANT], -0.1, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(d.label[JUDGE_PREMATURE], -0.2, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(d.label[JUDGE_UNNECESSARY], -0.1, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(d.label[JUDGE_WRONG_ARGS], -0.1, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(d.label[JUDGE_MALFORMED], -0.3, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(d.label[JUDGE_PARTIAL], -0.05, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(d.label[JUDGE_UNGROUNDED], -0.5, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(d.label[JUDGE_CORRECT], 1, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(d.label[JUDGE_INCORRECT], 0, 1e-12);
    CU_ASSERT_EQUAL_FATAL(reward_config_load("data/rewards.json", &f, &err), 0);
    CU_ASSERT_EQUAL(memcmp(&d, &f, sizeof(d)), 0);
}

/* Each bad config, and words its error must hold (keys and property). */
static const struct {
    const char *json, *want1, *want2;
} bad_configs[] = {
    {"{\"weights\":{}}", "weights", NULL},
    {"{\"mode\":\"greedy\"}", "mode", NULL},
    {"{\"mode\":1}", "mode", NULL},
    {"{\"labels\":{\"helpful\":1}}", "helpful", NULL},
    {"{\"labels\":{\"redundant\":\"-0.2\"}}", "redundant", NULL},
    {"{\"labels\":{\"redundant\":-11}}", "redundant", NULL},
    {"{\"clip\":{\"correct\":[0.1,1]}}", "clip", "floor"},
    {"{\"scale\":0}", "scale", NULL},
    {"{\"floor\":{\"wrong\":0}}", "wrong", NULL},
    /* the probes of issue 16: configs that invert the signal */
    {"{\"otc\":{\"incorrect\":-1}}", "otc.incorrect", "monotonicity"},
    {"{\"otc\":{\"correct\":0.5,\"incorrect\":1}}", "otc.incorrect", "ordering"},
    {"{\"torl\":{\"malformed\":-3}}", "torl.malformed", "ordering"},
    {"{\"torl\":{\"malformed\":0.5}}", "torl.malformed", "monotonicity"},
    {"{\"torl\":{\"correct\":-1,\"incorrect\":1}}", "torl.correct", "ordering"},
    {"{\"floor\":{\"correct\":-0.5}}", "floor.correct", "ordering"},
    {"{\"labels\":{\"incorrect\":0.5}}", "labels.incorrect", "ordering"},
    {"{\"labels\":{\"redundant\":0}}", "labels.redundant", "monotonicity"},
    {"{\"labels\":{\"malformed\":0.1}}", "labels.malformed", "monotonicity"},
    {"{\"labels\":{\"necessary\":0.2}}", "labels.necessary", "monotonicity"},
    {"{\"labels\":{\"wrong_args\":-0.05}}", "labels.wrong_args", "disguise"},
    {"{\"labels\":{\"unnecessary\":-0.01}}", "labels.unnecessary", "disguise"},
    {"{\"labels\":{\"ungrounded\":0}}", "labels.ungrounded", "grounding"},
    {"{\"labels\":{\"necessary\":-0.1}}", "labels.necessary", "grounding"},
    {"{\"labels\":{\"correct\":0.1}}", "labels.correct", "monotonicity"},
    {"{\"torl\":{\"ungrounded\":0}}", "torl.ungrounded", "grounding"},
    {"{\"otc\":{\"ungrounded\":1}}", "otc.ungrounded", "grounding"},
    {"{\"otc\":{\"c\":0}}", "otc.c", NULL},
    {"{\"otc\":{\"alpha\":1}}", "alpha", NULL},
    {"[]", NULL, NULL},
};

TG_TEST(reward, config_rejects_bad_values_and_broken_properties) {
    struct reward_config c, before;
    struct tg_error err;

    reward_config_defaults(&c);
    before = c;
    for (size_t i = 0; i < TG_ARRAY_LEN(bad_configs); i++) {
        json_t *j = json_loads(bad_configs[i].json, 0, NULL);

        CU_ASSERT_FATAL(j != NULL);
        CU_ASSERT_EQUAL(reward_config_from_json(j, &c, &err), TG_EINVAL);
        CU_ASSERT_STRING_EQUAL(err.code, "invalid_config");
        if (bad_configs[i].want1 && !strstr(err.message, bad_configs[i].want1)) {
            fprintf(stderr, "  config %s: message \"%s\" lacks \"%s\"\n", bad_configs[i].json,
                    err.message, bad_configs[i].want1);
            CU_FAIL("the error does not name the key");
        }
        if (bad_configs[i].want2 && !strstr(err.message, bad_configs[i].want2)) {
            fprintf(stderr, "  config %s: message \"%s\" lacks \"%s\"\n", bad_configs[i].json,
                    err.message, bad_configs[i].want2);
            CU_FAIL("the error does not name the property");
        }
        json_decref(j);
    }
    CU_ASSERT_EQUAL(memcmp(&c, &before, sizeof(c)), 0); /* untouched on failure */
    {
        json_t *j = json_loads("{\"mode\":\"otc\",\"labels\":{\"redundant\":-0.05,"
                               "\"partial\":-0.01},\"otc\":{\"c\":2},\"scale\":2}",
                               0, NULL);

        CU_ASSERT_EQUAL(reward_config_from_json(j, &c, &err), 0);
        CU_ASSERT_EQUAL(c.mode, REWARD_OTC);
        CU_ASSERT_DOUBLE_EQUAL(c.label[JUDGE_REDUNDANT], -0.05, 1e-12);
        CU_ASSERT_DOUBLE_EQUAL(c.label[JUDGE_PREMATURE], -0.2, 1e-12); /* kept */
        CU_ASSERT_DOUBLE_EQUAL(c.otc_c, 2, 1e-12);
        CU_ASSERT_DOUBLE_EQUAL(c.scale, 2, 1e-12);
        json_decref(j);
    }
}

TG_TEST(reward, judge_mode_squashes_instead_of_clipping) {
    struct reward_config c;
    enum judge_label calls[64];
    enum judge_label ok[2] = {JUDGE_NECESSARY, JUDGE_NECESSARY};
    enum judge_label two[2] = {JUDGE_REDUNDANT, JUDGE_MALFORMED};
    struct reward_episode e;
    double prev = INFINITY;

    reward_config_defaults(&c);
    e = ep(ok, 2, REWARD_CORRECT, 0, 0);
    CU_ASSERT_DOUBLE_EQUAL(reward_return(&c, REWARD_JUDGE, &e), 1.0, 1e-12);
    e = ep(two, 2, REWARD_CORRECT, 0, 0); /* P = -0.4: 0.1 + 0.9 / 1.4 */
    CU_ASSERT_DOUBLE_EQUAL(reward_return(&c, REWARD_JUDGE, &e), 0.1 + 0.9 / 1.4, 1e-12);
    e = ep(two, 2, REWARD_INCORRECT, 0, 0); /* -1 + 1 / 1.4 */
    CU_ASSERT_DOUBLE_EQUAL(reward_return(&c, REWARD_JUDGE, &e), -1 + 1 / 1.4, 1e-12);
    e = ep(two, 2, REWARD_RUNNING, 0, 0); /* unfinished: the plain sum */
    CU_ASSERT_DOUBLE_EQUAL(reward_return(&c, REWARD_JUDGE, &e), -0.4, 1e-12);
    /* the hole of a hard clip: 5 and 60 wasted calls both returned 0.1. Now each wasted call
     * lowers the return, and it stays above the floor */
    for (size_t n = 0; n <= 60; n++) {
        double r;

        for (size_t k = 0; k < n; k++)
            calls[k] = JUDGE_MALFORMED;
        e = ep(calls, n, REWARD_CORRECT, 0, 0);
        r = reward_return(&c, REWARD_JUDGE, &e);
        CU_ASSERT(r < prev && r > c.floor_correct);
        prev = r;
    }
    /* an ungrounded correct answer scores below the grounded plan */
    e = ep(NULL, 0, REWARD_CORRECT, 1, 1);
    CU_ASSERT_DOUBLE_EQUAL(reward_return(&c, REWARD_JUDGE, &e), 0.1 + 0.9 / 1.5, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(reward_step(&c, REWARD_JUDGE, JUDGE_WRONG_ARGS), -0.1, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(reward_step(&c, REWARD_TORL, JUDGE_WRONG_ARGS), 0, 1e-12);
    /* the final step carries the rest: the steps sum to the return */
    e = ep(two, 2, REWARD_CORRECT, 0, 0);
    CU_ASSERT_DOUBLE_EQUAL(-0.1 - 0.3 + reward_final(&c, REWARD_JUDGE, &e),
                           reward_return(&c, REWARD_JUDGE, &e), 1e-12);
}

static uint64_t rnd(uint64_t *s) {
    *s += 0x9E3779B97F4A7C15ULL;
    uint64_t x = *s;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

static double unit(uint64_t *s) {
    return (double)(rnd(s) % 1000001) / 1000000.0;
}

/* A random config that passes validation (the defaults first, then random ones; the checker
 * rejects the rest, which is also what the properties rely on). */
static void random_config(uint64_t *seed, int i, struct reward_config *c) {
    struct reward_config d;

    reward_config_defaults(&d);
    *c = d;
    while (i > 0) {
        struct reward_config t = d;
        struct tg_error err;
        json_t *j = json_object(), *labels = json_object();
        static const enum judge_label calls[] = {JUDGE_PARTIAL,    JUDGE_REDUNDANT,
                                                 JUDGE_PREMATURE,  JUDGE_UNNECESSARY,
                                                 JUDGE_WRONG_ARGS, JUDGE_MALFORMED};

        for (size_t k = 0; k < TG_ARRAY_LEN(calls); k++)
            json_object_set_new(labels, judge_label_name(calls[k]),
                                json_real(-0.001 - 2 * unit(seed)));
        json_object_set_new(labels, "ungrounded", json_real(-0.001 - 3 * unit(seed)));
        json_object_set_new(labels, "premature_answer", json_real(-unit(seed)));
        json_object_set_new(labels, "correct", json_real(0.5 + 2 * unit(seed)));
        json_object_set_new(labels, "incorrect", json_real(-unit(seed)));
        json_object_set_new(labels, "step_limit", json_real(-unit(seed)));
        json_object_set_new(j, "labels", labels);
        json_object_set_new(j, "scale", json_real(0.1 + 5 * unit(seed)));
        json_object_set_new(j, "floor",
                            json_pack("{s:f, s:f}", "correct", 0.4 * unit(seed), "incorrect",
                                      -1.1 - 3 * unit(seed)));
        json_object_set_new(j, "torl",
                            json_pack("{s:f, s:f, s:f}", "malformed", -unit(seed), "ungrounded",
                                      -0.01 - unit(seed), "incorrect", -1.6 - unit(seed)));
        json_object_set_new(j, "otc",
                            json_pack("{s:f, s:f}", "c", 0.1 + 10 * unit(seed), "ungrounded",
                                      0.1 + 0.8 * unit(seed)));
        if (reward_config_from_json(j, &t, &err) == 0) {
            *c = t;
            i = 0;
        }
        json_decref(j);
    }
}

/* The sum of the step rewards of an episode (calls, then the final step) as the episode layer
 * gives them. */
static double step_sum(const struct reward_config *c, enum reward_mode m,
                       const struct reward_episode *e) {
    double s = 0;

    for (size_t k = 0; k < e->ncalls; k++)
        s += reward_step(c, m, e->calls[k]);
    return s + reward_final(c, m, e);
}

/* The properties of docs/rewards.md over random step sequences, outcomes and valid configs:
 *   ordering     — every correct episode scores above every incorrect or step_limit one;
 *   monotonicity — one more wasted call never raises the return (judge mode: strictly lowers);
 *   sum          — the step rewards sum to the return;
 *   grounding    — an ungrounded correct answer scores below the grounded plan. */
TG_TEST(reward, properties_hold_over_random_step_sequences) {
    uint64_t seed = 16;
    static const enum judge_label wasted[] = {JUDGE_PARTIAL,     JUDGE_REDUNDANT,  JUDGE_PREMATURE,
                                              JUDGE_UNNECESSARY, JUDGE_WRONG_ARGS, JUDGE_MALFORMED};
    size_t checked = 0;

    for (int cfgi = 0; cfgi < 24; cfgi++) {
        struct reward_config c;

        random_config(&seed, cfgi, &c);
        for (int m = 0; m < REWARD_MODE_COUNT; m++) {
            double min_correct = INFINITY, max_other = -INFINITY;

            for (int i = 0; i < 3000; i++) {
                enum judge_label calls[TG_MAX_STEPS_LIMIT];
                size_t n = rnd(&seed) % TG_MAX_STEPS_LIMIT, plan = 1 + rnd(&seed) % 16;
                enum reward_outcome o = (enum reward_outcome)(1 + rnd(&seed) % 3);
                int pa = (int)(rnd(&seed) % 2), ug = pa && rnd(&seed) % 2;
                struct reward_episode e, e2, g;
                double r, r2;

                for (size_t k = 0; k < n; k++)
                    calls[k] = (enum judge_label)(rnd(&seed) % (JUDGE_PARTIAL + 1));
                e = ep(calls, n, o, pa, ug);
                r = reward_return(&c, (enum reward_mode)m, &e);
                if (o == REWARD_CORRECT)
                    min_correct = fmin(min_correct, r);
                else
                    max_other = fmax(max_other, r);
                /* sum */
                CU_ASSERT_DOUBLE_EQUAL(step_sum(&c, (enum reward_mode)m, &e), r, 1e-9);
                /* monotonicity: insert one wasted call anywhere */
                if (n + 1 < TG_MAX_STEPS_LIMIT) {
                    size_t at = rnd(&seed) % (n + 1);

                    memmove(calls + at + 1, calls + at, (n - at) * sizeof(calls[0]));
                    calls[at] = wasted[rnd(&seed) % TG_ARRAY_LEN(wasted)];
                    e2 = ep(calls, n + 1, o, pa, ug);
                    r2 = reward_return(&c, (enum reward_mode)m, &e2);
                    CU_ASSERT(r2 <= r);
                    if (m == REWARD_JUDGE && !(r2 < r)) {
                        fprintf(stderr, "  cfg %d: %zu calls, one more: %.17g -> %.17g\n", cfgi, n,
                                r, r2);
                        CU_FAIL("a wasted call did not lower the judge-mode return");
                    }
                }
                /* grounding: the plan's necessary calls, grounded, beat no call, ungrounded */
                for (size_t k = 0; k < plan; k++)
                    calls[k] = JUDGE_NECESSARY;
                g = ep(calls, plan, REWARD_CORRECT, 0, 0);
                e2 = ep(NULL, 0, REWARD_CORRECT, 1, 1);
                CU_ASSERT(reward_return(&c, (enum reward_mode)m, &e2) <
                          reward_return(&c, (enum reward_mode)m, &g));
                checked++;
            }
            if (!(min_correct > max_other)) {
                fprintf(stderr, "  cfg %d mode %s: min correct %g <= max other %g\n", cfgi,
                        reward_mode_name((enum reward_mode)m), min_correct, max_other);
                CU_FAIL("ordering");
            }
        }
    }
    CU_ASSERT(checked > 200000);
}

TG_TEST(reward, torl_values) {
    struct reward_config c;
    enum judge_label clean[2] = {JUDGE_NECESSARY, JUDGE_REDUNDANT};
    enum judge_label bad[2] = {JUDGE_NECESSARY, JUDGE_MALFORMED};
    struct reward_episode e;

    reward_config_defaults(&c);
    e = ep(clean, 2, REWARD_CORRECT, 0, 0);
    CU_ASSERT_DOUBLE_EQUAL(reward_return(&c, REWARD_TORL, &e), 1.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(reward_final(&c, REWARD_TORL, &e), 1.0, 1e-12);
    e = ep(bad, 2, REWARD_CORRECT, 0, 0);
    CU_ASSERT_DOUBLE_EQUAL(reward_return(&c, REWARD_TORL, &e), 0.5, 1e-12);
    e = ep(bad, 2, REWARD_CORRECT, 1, 1);
    CU_ASSERT_DOUBLE_EQUAL(reward_return(&c, REWARD_TORL, &e), 0.0, 1e-12);
    e = ep(clean, 2, REWARD_INCORRECT, 0, 0);
    CU_ASSERT_DOUBLE_EQUAL(reward_return(&c, REWARD_TORL, &e), -1.0, 1e-12);
    e = ep(bad, 2, REWARD_STEP_LIMIT, 0, 0);
    CU_ASSERT_DOUBLE_EQUAL(reward_return(&c, REWARD_TORL, &e), -1.5, 1e-12);
    e = ep(bad, 2, REWARD_RUNNING, 0, 0);
    CU_ASSERT_DOUBLE_EQUAL(reward_return(&c, REWARD_TORL, &e), 0, 1e-12);
}

TG_TEST(reward, otc_as_the_paper_defines_it) {
    const double pi = 3.14159265358979323846;
    struct reward_config c;
    enum judge_label calls[4] = {JUDGE_NECESSARY, JUDGE_NECESSARY, JUDGE_REDUNDANT,
                                 JUDGE_REDUNDANT};
    enum judge_label junk[1] = {JUDGE_UNNECESSARY};
    enum judge_label one[1] = {JUDGE_NECESSARY};
    struct reward_episode e;

    /* f(m,n) = 0 if m = n = 0; m if n = 0; 2nm/(m+n) otherwise;
     * r_tool = 1 if f = n = 0; cos(m pi / (2m + c)) if n = 0; sin(f pi / (2n)) otherwise */
    CU_ASSERT_DOUBLE_EQUAL(reward_otc_tool(0, 0, 1), 1.0, 1e-12);         /* f = n = 0 */
    CU_ASSERT_DOUBLE_EQUAL(reward_otc_tool(1, 0, 1), cos(pi / 3), 1e-12); /* n = 0 */
    CU_ASSERT_DOUBLE_EQUAL(reward_otc_tool(3, 0, 2), cos(3 * pi / 8), 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(reward_otc_tool(2, 2, 1), 1.0, 1e-12);             /* m = n */
    CU_ASSERT_DOUBLE_EQUAL(reward_otc_tool(4, 2, 1), sin(2 * pi / 3), 1e-12); /* f = 8/3 */
    CU_ASSERT_DOUBLE_EQUAL(reward_otc_tool(1, 2, 1), sin(pi / 3), 1e-12);     /* f = 4/3 */
    CU_ASSERT_DOUBLE_EQUAL(reward_otc_tool(0, 2, 1), 0.0, 1e-12);             /* m = 0 < n */
    CU_ASSERT(reward_otc_tool(2, 2, 1) > reward_otc_tool(3, 2, 1));
    CU_ASSERT(reward_otc_tool(3, 2, 1) > reward_otc_tool(6, 2, 1));
    CU_ASSERT_DOUBLE_EQUAL(reward_otc(4, 2, 1, 1), sin(2 * pi / 3), 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(reward_otc(4, 2, 0, 1), 0.0, 1e-12);

    /* server side: n is the episode's necessary calls, m all its calls */
    reward_config_defaults(&c);
    e = ep(calls, 4, REWARD_CORRECT, 0, 0);
    CU_ASSERT_DOUBLE_EQUAL(reward_return(&c, REWARD_OTC, &e), sin(2 * pi / 3), 1e-12);
    e = ep(calls, 2, REWARD_CORRECT, 0, 0);
    CU_ASSERT_DOUBLE_EQUAL(reward_return(&c, REWARD_OTC, &e), 1.0, 1e-12);
    e = ep(calls, 2, REWARD_INCORRECT, 0, 0);
    CU_ASSERT_DOUBLE_EQUAL(reward_return(&c, REWARD_OTC, &e), 0.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(reward_step(&c, REWARD_OTC, JUDGE_REDUNDANT), 0.0, 1e-12);
    /* issue 16: an arith task answered mentally (no call) scores 1, as the plan's one call;
     * the same answer plus a junk 1+1 scores less (n = 0, m = 1: cos(pi/3)), never 1 */
    e = ep(NULL, 0, REWARD_CORRECT, 1, 0);
    CU_ASSERT_DOUBLE_EQUAL(reward_return(&c, REWARD_OTC, &e), 1.0, 1e-12);
    e = ep(one, 1, REWARD_CORRECT, 0, 0);
    CU_ASSERT_DOUBLE_EQUAL(reward_return(&c, REWARD_OTC, &e), 1.0, 1e-12);
    e = ep(junk, 1, REWARD_CORRECT, 1, 0);
    CU_ASSERT_DOUBLE_EQUAL(reward_return(&c, REWARD_OTC, &e), cos(pi / 3), 1e-12);
    /* an ungrounded correct answer pays otc.ungrounded, below the grounded plan */
    e = ep(NULL, 0, REWARD_CORRECT, 1, 1);
    CU_ASSERT_DOUBLE_EQUAL(reward_return(&c, REWARD_OTC, &e), 0.5, 1e-12);
}

/* Issue 15: OTC's m and n are over every call an episode holds. A fork holds its prefix's
 * calls (episode_fork copies their labels; tests/test_episode.c and the e2e suite check that
 * end to end), so its return is the fresh episode's: with a repeated search in the prefix,
 * search, search, calculator scores r_tool(3, 2) whatever the fork point, where counting only
 * the fork's own calculator call would score r_tool(1, 1) = 1. The trainer's group form shows
 * the numbers: a 3-call plan against a group n of 1 (a fork that counted one call)
 * scores sin(3π/4) ≈ 0.71, against the true n of 3, 1. */
TG_TEST(reward, otc_counts_every_call_a_fork_holds) {
    const double pi = 3.14159265358979323846;
    static const enum judge_label fresh[3] = {JUDGE_NECESSARY, JUDGE_REDUNDANT, JUDGE_NECESSARY};
    struct reward_config c;
    struct reward_episode e, own;

    reward_config_defaults(&c);
    e = ep(fresh, 3, REWARD_CORRECT, 0, 0);
    CU_ASSERT_DOUBLE_EQUAL(reward_return(&c, REWARD_OTC, &e), sin(2.4 * pi / 4), 1e-12);
    CU_ASSERT_EQUAL(reward_necessary_calls(&e), 2);
    own = ep(fresh + 2, 1, REWARD_CORRECT, 0, 0); /* only the calls after a fork at 2 */
    CU_ASSERT_DOUBLE_EQUAL(reward_return(&c, REWARD_OTC, &own), 1.0, 1e-12);
    CU_ASSERT(reward_return(&c, REWARD_OTC, &own) > reward_return(&c, REWARD_OTC, &e));
    CU_ASSERT_DOUBLE_EQUAL(reward_otc(3, 1, 1, 1), sin(3 * pi / 4), 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(reward_otc(3, 1, 1, 1), 0.7071067811865476, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(reward_otc(3, 3, 1, 1), 1.0, 1e-12);
}

TG_TEST(reward, mode_names_round_trip) {
    for (int m = 0; m < REWARD_MODE_COUNT; m++) {
        enum reward_mode x;

        CU_ASSERT_EQUAL(reward_mode_parse(reward_mode_name((enum reward_mode)m), &x), 0);
        CU_ASSERT_EQUAL((int)x, m);
    }
    {
        enum reward_mode x;

        CU_ASSERT_EQUAL(reward_mode_parse("ppo", &x), TG_EINVAL);
    }
}
