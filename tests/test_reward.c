/*
 * test_reward.c — suite `reward`: the default config and its file, config validation, judge
 * clipping (property: every correct episode above every incorrect one), torl, otc values.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "server/reward.h"
#include "tg_test.h"

static struct reward_episode ep(const enum judge_label *calls, size_t n, enum reward_outcome o,
                                int premature, size_t ref) {
    struct reward_episode e = {calls, n, o, premature, ref};

    return e;
}

TG_TEST(reward, defaults_match_the_design_and_the_shipped_file) {
    struct reward_config d, f;
    struct tg_error err;

    reward_config_defaults(&d);
    CU_ASSERT_EQUAL(d.mode, REWARD_JUDGE);
    CU_ASSERT_DOUBLE_EQUAL(d.label[JUDGE_NECESSARY], 0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(d.label[JUDGE_REDUNDANT], -0.2, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(d.label[JUDGE_PREMATURE], -0.2, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(d.label[JUDGE_UNNECESSARY], -0.1, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(d.label[JUDGE_WRONG_ARGS], -0.1, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(d.label[JUDGE_MALFORMED], -0.3, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(d.label[JUDGE_CORRECT], 1, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(d.label[JUDGE_INCORRECT], 0, 1e-12);
    CU_ASSERT_EQUAL_FATAL(reward_config_load("data/rewards.json", &f, &err), 0);
    CU_ASSERT_EQUAL(memcmp(&d, &f, sizeof(d)), 0);
}

TG_TEST(reward, config_rejects_unknown_keys_and_bad_values) {
    static const char *const bad[] = {
        "{\"weights\":{}}",
        "{\"mode\":\"greedy\"}",
        "{\"mode\":1}",
        "{\"labels\":{\"helpful\":1}}",
        "{\"labels\":{\"redundant\":\"-0.2\"}}",
        "{\"labels\":{\"redundant\":-11}}",
        "{\"clip\":{\"correct\":[0.1]}}",
        "{\"clip\":{\"correct\":[1,0.1]}}",
        "{\"clip\":{\"wrong\":[0,1]}}",
        "{\"clip\":{\"correct\":[-0.5,1]}}", /* would let an incorrect episode outscore */
        "{\"clip\":{\"incorrect\":[-1,0.2]}}",
        "{\"torl\":{\"malformed\":0.5}}",
        "{\"torl\":{\"correct\":-1,\"incorrect\":1}}",
        "{\"torl\":{\"bonus\":1}}",
        "{\"otc\":{\"c\":0}}",
        "{\"otc\":{\"alpha\":1}}",
        "[]",
    };
    struct reward_config c, before;
    struct tg_error err;

    reward_config_defaults(&c);
    before = c;
    for (size_t i = 0; i < TG_ARRAY_LEN(bad); i++) {
        json_t *j = json_loads(bad[i], 0, NULL);

        CU_ASSERT_FATAL(j != NULL);
        CU_ASSERT_EQUAL(reward_config_from_json(j, &c, &err), TG_EINVAL);
        CU_ASSERT_STRING_EQUAL(err.code, "invalid_config");
        json_decref(j);
    }
    CU_ASSERT_EQUAL(memcmp(&c, &before, sizeof(c)), 0); /* untouched on failure */
    {
        json_t *j = json_loads("{\"mode\":\"otc\",\"labels\":{\"redundant\":-0.5},"
                               "\"otc\":{\"c\":2}}",
                               0, NULL);

        CU_ASSERT_EQUAL(reward_config_from_json(j, &c, &err), 0);
        CU_ASSERT_EQUAL(c.mode, REWARD_OTC);
        CU_ASSERT_DOUBLE_EQUAL(c.label[JUDGE_REDUNDANT], -0.5, 1e-12);
        CU_ASSERT_DOUBLE_EQUAL(c.label[JUDGE_PREMATURE], -0.2, 1e-12); /* kept */
        CU_ASSERT_DOUBLE_EQUAL(c.otc_c, 2, 1e-12);
        json_decref(j);
    }
    CU_ASSERT_EQUAL(reward_config_load("/nonexistent/rewards.json", &c, &err), TG_EIO);
}

TG_TEST(reward, judge_mode_clips) {
    struct reward_config c;
    enum judge_label many[12];
    enum judge_label ok[2] = {JUDGE_NECESSARY, JUDGE_NECESSARY};
    enum judge_label two[2] = {JUDGE_REDUNDANT, JUDGE_MALFORMED};
    struct reward_episode e;

    reward_config_defaults(&c);
    for (size_t i = 0; i < 12; i++)
        many[i] = JUDGE_MALFORMED;
    e = ep(ok, 2, REWARD_CORRECT, 0, 2);
    CU_ASSERT_DOUBLE_EQUAL(reward_return(&c, REWARD_JUDGE, &e), 1.0, 1e-12);
    e = ep(two, 2, REWARD_CORRECT, 0, 2);
    CU_ASSERT_DOUBLE_EQUAL(reward_return(&c, REWARD_JUDGE, &e), 0.5, 1e-12);
    e = ep(many, 12, REWARD_CORRECT, 0, 2); /* 1 - 3.6 clipped up to 0.1 */
    CU_ASSERT_DOUBLE_EQUAL(reward_return(&c, REWARD_JUDGE, &e), 0.1, 1e-12);
    e = ep(ok, 2, REWARD_INCORRECT, 0, 2);
    CU_ASSERT_DOUBLE_EQUAL(reward_return(&c, REWARD_JUDGE, &e), 0.0, 1e-12);
    e = ep(two, 2, REWARD_INCORRECT, 0, 2);
    CU_ASSERT_DOUBLE_EQUAL(reward_return(&c, REWARD_JUDGE, &e), -0.5, 1e-12);
    e = ep(many, 12, REWARD_STEP_LIMIT, 0, 2); /* clipped down to -1 */
    CU_ASSERT_DOUBLE_EQUAL(reward_return(&c, REWARD_JUDGE, &e), -1.0, 1e-12);
    e = ep(two, 2, REWARD_RUNNING, 0, 2); /* unfinished: the plain sum */
    CU_ASSERT_DOUBLE_EQUAL(reward_return(&c, REWARD_JUDGE, &e), -0.5, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(reward_step(&c, REWARD_JUDGE, JUDGE_WRONG_ARGS), -0.1, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(reward_step(&c, REWARD_TORL, JUDGE_WRONG_ARGS), 0, 1e-12);
    e = ep(two, 2, REWARD_CORRECT, 1, 2);
    CU_ASSERT_DOUBLE_EQUAL(reward_final(&c, REWARD_JUDGE, &e), 1.0, 1e-12);
    /* a premature_answer weight, when configured, counts as a penalty */
    c.label[JUDGE_PREMATURE_ANSWER] = -0.25;
    CU_ASSERT_DOUBLE_EQUAL(reward_return(&c, REWARD_JUDGE, &e), 0.25, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(reward_final(&c, REWARD_JUDGE, &e), 0.75, 1e-12);
}

static uint64_t rnd(uint64_t *s) {
    *s += 0x9E3779B97F4A7C15ULL;
    uint64_t x = *s;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

/* Property: over random label sequences, random outcomes and random valid weights, every
 * correct episode's return exceeds every incorrect or step_limit episode's return. */
TG_TEST(reward, every_correct_episode_beats_every_incorrect_one) {
    uint64_t seed = 12345;

    for (int cfgi = 0; cfgi < 20; cfgi++) {
        struct reward_config c;
        double min_correct = INFINITY, max_other = -INFINITY;

        reward_config_defaults(&c);
        if (cfgi > 0) /* random penalties in [-1, 0]; the default clip keeps the ordering */
            for (int l = 0; l <= JUDGE_MALFORMED; l++)
                c.label[l] = -(double)(rnd(&seed) % 1000) / 1000.0;
        for (int i = 0; i < 5000; i++) {
            enum judge_label calls[TG_MAX_STEPS_LIMIT];
            size_t n = rnd(&seed) % TG_MAX_STEPS_LIMIT;
            enum reward_outcome o = (enum reward_outcome)(1 + rnd(&seed) % 3);
            struct reward_episode e;
            double r;

            for (size_t k = 0; k < n; k++)
                calls[k] = (enum judge_label)(rnd(&seed) % (JUDGE_MALFORMED + 1));
            e = ep(calls, n, o, (int)(rnd(&seed) % 2), 2);
            r = reward_return(&c, REWARD_JUDGE, &e);
            if (o == REWARD_CORRECT)
                min_correct = fmin(min_correct, r);
            else
                max_other = fmax(max_other, r);
            CU_ASSERT(r >= -1.0 && r <= 1.0);
        }
        CU_ASSERT(min_correct > max_other);
    }
}

TG_TEST(reward, torl_values) {
    struct reward_config c;
    enum judge_label clean[2] = {JUDGE_NECESSARY, JUDGE_REDUNDANT};
    enum judge_label bad[2] = {JUDGE_NECESSARY, JUDGE_MALFORMED};
    struct reward_episode e;

    reward_config_defaults(&c);
    e = ep(clean, 2, REWARD_CORRECT, 0, 1);
    CU_ASSERT_DOUBLE_EQUAL(reward_return(&c, REWARD_TORL, &e), 1.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(reward_final(&c, REWARD_TORL, &e), 1.0, 1e-12);
    e = ep(bad, 2, REWARD_CORRECT, 0, 1);
    CU_ASSERT_DOUBLE_EQUAL(reward_return(&c, REWARD_TORL, &e), 0.5, 1e-12);
    e = ep(clean, 2, REWARD_INCORRECT, 0, 1);
    CU_ASSERT_DOUBLE_EQUAL(reward_return(&c, REWARD_TORL, &e), -1.0, 1e-12);
    e = ep(bad, 2, REWARD_STEP_LIMIT, 0, 1);
    CU_ASSERT_DOUBLE_EQUAL(reward_return(&c, REWARD_TORL, &e), -1.5, 1e-12);
    e = ep(bad, 2, REWARD_RUNNING, 0, 1);
    CU_ASSERT_DOUBLE_EQUAL(reward_return(&c, REWARD_TORL, &e), 0, 1e-12);
}

TG_TEST(reward, otc_formula_values) {
    const double pi = 3.14159265358979323846;
    struct reward_config c;
    enum judge_label calls[4] = {JUDGE_NECESSARY, JUDGE_NECESSARY, JUDGE_REDUNDANT,
                                 JUDGE_REDUNDANT};
    struct reward_episode e;

    CU_ASSERT_DOUBLE_EQUAL(reward_otc_tool(0, 0, 1), 1.0, 1e-12);         /* f = n = 0 */
    CU_ASSERT_DOUBLE_EQUAL(reward_otc_tool(1, 0, 1), cos(pi / 3), 1e-12); /* n = 0 */
    CU_ASSERT_DOUBLE_EQUAL(reward_otc_tool(3, 0, 2), cos(3 * pi / 8), 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(reward_otc_tool(2, 2, 1), 1.0, 1e-12);             /* m = n */
    CU_ASSERT_DOUBLE_EQUAL(reward_otc_tool(4, 2, 1), sin(2 * pi / 3), 1e-12); /* f = 8/3 */
    CU_ASSERT_DOUBLE_EQUAL(reward_otc_tool(1, 2, 1), sin(pi / 3), 1e-12);     /* f = 4/3 */
    CU_ASSERT_DOUBLE_EQUAL(reward_otc_tool(0, 2, 1), 0.0, 1e-12);             /* no calls */
    CU_ASSERT(reward_otc_tool(2, 2, 1) > reward_otc_tool(3, 2, 1));
    CU_ASSERT(reward_otc_tool(3, 2, 1) > reward_otc_tool(6, 2, 1));
    CU_ASSERT_DOUBLE_EQUAL(reward_otc(4, 2, 1, 1), sin(2 * pi / 3), 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(reward_otc(4, 2, 0, 1), 0.0, 1e-12);

    /* server side: n is the plan's step count */
    reward_config_defaults(&c);
    e = ep(calls, 4, REWARD_CORRECT, 0, 2);
    CU_ASSERT_DOUBLE_EQUAL(reward_return(&c, REWARD_OTC, &e), sin(2 * pi / 3), 1e-12);
    e = ep(calls, 2, REWARD_CORRECT, 0, 2);
    CU_ASSERT_DOUBLE_EQUAL(reward_return(&c, REWARD_OTC, &e), 1.0, 1e-12);
    e = ep(calls, 2, REWARD_INCORRECT, 0, 2);
    CU_ASSERT_DOUBLE_EQUAL(reward_return(&c, REWARD_OTC, &e), 0.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(reward_step(&c, REWARD_OTC, JUDGE_REDUNDANT), 0.0, 1e-12);
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
