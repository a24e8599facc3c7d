/*
 * test_sched.c — suite `sched`: cosine values, GreedyLR state-machine traces for every
 * setting, the combined struct sched, name parsing and config validation.
 */
#include "tg_test.h"

#include <math.h>
#include <string.h>

#include "policy/sched.h"

/* a plain GreedyLR config: no smoothing, no threshold, no warmup or cooldown, no reset */
static struct sched_greedy_config plain(double lr, double factor, int patience) {
    struct sched_greedy_config c = sched_greedy_config_default();

    c.lr = lr;
    c.factor = factor;
    c.patience = patience;
    c.threshold = 0.0;
    c.window = 0;
    c.warmup = 0;
    c.cooldown = 0;
    c.lr_min = 1e-4;
    c.lr_max = 1.0;
    c.reset_start = 0;
    return c;
}

static int rel_eq(double a, double b) {
    return fabs(a - b) <= 1e-12 * (fabs(a) + fabs(b));
}

/* ---- cosine ----------------------------------------------------------------------------- */

TG_TEST(sched, cosine_values) {
    struct sched_cosine_config c = {.lr_max = 1e-2, .lr_min = 1e-4, .warmup = 0, .total = 100};
    struct sched_cosine_config w = {.lr_max = 1e-2, .lr_min = 0.0, .warmup = 10, .total = 110};

    CU_ASSERT_FATAL(sched_cosine_check(&c, NULL) == 0);
    CU_ASSERT(rel_eq(sched_cosine(&c, 0), 1e-2));
    CU_ASSERT(rel_eq(sched_cosine(&c, 50), (1e-2 + 1e-4) / 2));
    CU_ASSERT(rel_eq(sched_cosine(&c, 25), 1e-4 + (1e-2 - 1e-4) * 0.5 * (1 + cos(M_PI / 4))));
    CU_ASSERT(rel_eq(sched_cosine(&c, 100), 1e-4));
    CU_ASSERT(rel_eq(sched_cosine(&c, 1000), 1e-4));
    CU_ASSERT(sched_cosine(&c, 99) > 1e-4 && sched_cosine(&c, 99) < 1.1e-4);
    for (long t = 1; t <= 100; t++)
        CU_ASSERT(sched_cosine(&c, t) <= sched_cosine(&c, t - 1)); /* never rises */
    /* linear warmup to lr_max, then the cosine */
    CU_ASSERT(rel_eq(sched_cosine(&w, 0), 1e-3));
    CU_ASSERT(rel_eq(sched_cosine(&w, 4), 5e-3));
    CU_ASSERT(rel_eq(sched_cosine(&w, 9), 1e-2));
    CU_ASSERT(rel_eq(sched_cosine(&w, 10), 1e-2));
    CU_ASSERT(rel_eq(sched_cosine(&w, 60), 5e-3));
    CU_ASSERT_EQUAL(sched_cosine(&w, 110), 0.0);
}

TG_TEST(sched, cosine_config_rejected) {
    struct sched_cosine_config ok = {.lr_max = 1e-2, .lr_min = 1e-4, .warmup = 5, .total = 100};
    struct sched_cosine_config c;
    struct tg_error err;

    c = ok, c.lr_max = 0;
    CU_ASSERT_EQUAL(sched_cosine_check(&c, &err), TG_EINVAL);
    CU_ASSERT(strstr(err.message, "lr_max") != NULL);
    c = ok, c.lr_min = 0.1;
    CU_ASSERT_EQUAL(sched_cosine_check(&c, &err), TG_EINVAL);
    CU_ASSERT(strstr(err.message, "lr_min") != NULL);
    c = ok, c.total = 0;
    CU_ASSERT_EQUAL(sched_cosine_check(&c, &err), TG_EINVAL);
    CU_ASSERT(strstr(err.message, "total") != NULL);
    c = ok, c.warmup = 101;
    CU_ASSERT_EQUAL(sched_cosine_check(&c, &err), TG_EINVAL);
    CU_ASSERT(strstr(err.message, "warmup") != NULL);
    CU_ASSERT_EQUAL(sched_cosine_check(&ok, &err), 0);
}

/* ---- GreedyLR traces -------------------------------------------------------------------- */

TG_TEST(sched, greedy_patience0_falling_loss_climbs_to_lr_max) {
    struct sched_greedy_config c = plain(0.01, 0.5, 0);
    struct sched_greedy s;
    double want = 0.01;

    c.lr_max = 0.3;
    CU_ASSERT_FATAL(sched_greedy_init(&s, &c, NULL) == 0);
    CU_ASSERT(rel_eq(s.lr, 0.01));
    /* step 1 only sets best; every later step is good, so lr /= F until it hits lr_max */
    CU_ASSERT(rel_eq(sched_greedy_step(&s, 100.0), 0.01));
    for (int t = 2; t <= 12; t++) {
        want = fmin(want / 0.5, 0.3);
        CU_ASSERT(rel_eq(sched_greedy_step(&s, 100.0 - t), want));
    }
    CU_ASSERT(rel_eq(s.lr, 0.3)); /* 0.01 * 2^5 = 0.32 is capped */
    CU_ASSERT(rel_eq(sched_greedy_step(&s, 0.0), 0.3));
}

TG_TEST(sched, greedy_patience0_rising_loss_falls_to_lr_min) {
    struct sched_greedy_config c = plain(0.1, 0.5, 0);
    struct sched_greedy s;
    double want = 0.1;

    c.lr_min = 0.01;
    CU_ASSERT_FATAL(sched_greedy_init(&s, &c, NULL) == 0);
    CU_ASSERT(rel_eq(sched_greedy_step(&s, 1.0), 0.1));
    for (int t = 2; t <= 10; t++) {
        want = fmax(want * 0.5, 0.01);
        CU_ASSERT(rel_eq(sched_greedy_step(&s, 1.0 + t), want));
    }
    CU_ASSERT(rel_eq(s.lr, 0.01));
    /* a flat loss is not an improvement (threshold 0 still needs strictly lower) */
    CU_ASSERT(rel_eq(sched_greedy_step(&s, 100.0), 0.01));
}

TG_TEST(sched, greedy_patience_counts_more_than_p) {
    /* patience 2: lr moves on the 3rd consecutive good (or bad) step, not before */
    struct sched_greedy_config c = plain(0.01, 0.5, 2);
    struct sched_greedy s;
    double loss[] = {10, 9, 8, 7, 6, 5, 4, 5, 6, 7, 3};
    double want[] = {0.01, 0.01, 0.01, 0.02, 0.02, 0.02, 0.04, 0.04, 0.04, 0.02, 0.02};

    CU_ASSERT_FATAL(sched_greedy_init(&s, &c, NULL) == 0);
    for (size_t i = 0; i < TG_ARRAY_LEN(loss); i++)
        CU_ASSERT(rel_eq(sched_greedy_step(&s, loss[i]), want[i]));
    /* a good step resets the bad count and vice versa */
    CU_ASSERT_EQUAL(s.num_good, 1);
    CU_ASSERT_EQUAL(s.num_bad, 0);
}

TG_TEST(sched, greedy_cooldown_pauses_counting) {
    /* patience 0, cooldown 2: after each increase two steps are not counted */
    struct sched_greedy_config c = plain(0.01, 0.5, 0);
    struct sched_greedy s;
    double want[] = {0.01, 0.02, 0.02, 0.02, 0.04, 0.04, 0.04, 0.08};

    c.cooldown = 2;
    CU_ASSERT_FATAL(sched_greedy_init(&s, &c, NULL) == 0);
    for (size_t i = 0; i < TG_ARRAY_LEN(want); i++)
        CU_ASSERT(rel_eq(sched_greedy_step(&s, 100.0 - (double)i), want[i]));
    /* best is still tracked in cooldown: after an increase, a value that is worse than the
     * cooldown steps' values but better than the pre-cooldown best is a bad step */
    CU_ASSERT_FATAL(sched_greedy_init(&s, &c, NULL) == 0);
    sched_greedy_step(&s, 100);                         /* best 100 */
    CU_ASSERT(rel_eq(sched_greedy_step(&s, 99), 0.02)); /* good: up, cooldown 2 */
    sched_greedy_step(&s, 50);                          /* cooldown; best 50 */
    sched_greedy_step(&s, 49);                          /* cooldown; best 49 */
    CU_ASSERT(rel_eq(sched_greedy_step(&s, 60), 0.01)); /* 60 > 49: bad, cut */
}

TG_TEST(sched, greedy_cooldown_after_cut) {
    struct sched_greedy_config c = plain(0.08, 0.5, 0);
    struct sched_greedy s;
    double want[] = {0.08, 0.04, 0.04, 0.02, 0.02, 0.01};

    c.cooldown = 1;
    c.lr_min = 0.001;
    CU_ASSERT_FATAL(sched_greedy_init(&s, &c, NULL) == 0);
    for (size_t i = 0; i < TG_ARRAY_LEN(want); i++)
        CU_ASSERT(rel_eq(sched_greedy_step(&s, (double)i), want[i]));
}

TG_TEST(sched, greedy_warmup_holds_lr_and_counts_nothing) {
    struct sched_greedy_config c = plain(0.01, 0.5, 0);
    struct sched_greedy s;

    c.warmup = 3;
    CU_ASSERT_FATAL(sched_greedy_init(&s, &c, NULL) == 0);
    /* a rising loss during warmup changes nothing and leaves no best behind */
    CU_ASSERT(rel_eq(sched_greedy_step(&s, 1), 0.01));
    CU_ASSERT(rel_eq(sched_greedy_step(&s, 5), 0.01));
    CU_ASSERT(rel_eq(sched_greedy_step(&s, 9), 0.01));
    CU_ASSERT_EQUAL(s.has_best, 0);
    CU_ASSERT_EQUAL(s.num_bad, 0);
    /* step 4 sets best = 20; step 5 improves: up */
    CU_ASSERT(rel_eq(sched_greedy_step(&s, 20), 0.01));
    CU_ASSERT(rel_eq(sched_greedy_step(&s, 19), 0.02));
}

TG_TEST(sched, greedy_smoothing_window) {
    /* a falling loss with one small spike: raw, the spike is a bad step and cuts the lr;
     * smoothed over 3 steps, the trend stays good and nothing is cut */
    double loss[] = {100, 99, 98, 97, 97.5, 95, 94};
    struct sched_greedy_config c = plain(0.01, 0.5, 0);
    struct sched_greedy raw, sm;
    int raw_cuts = 0, sm_cuts = 0;

    c.lr_max = 10.0;
    CU_ASSERT_FATAL(sched_greedy_init(&raw, &c, NULL) == 0);
    c.window = 3;
    CU_ASSERT_FATAL(sched_greedy_init(&sm, &c, NULL) == 0);
    for (size_t i = 0; i < TG_ARRAY_LEN(loss); i++) {
        double before_raw = raw.lr, before_sm = sm.lr;

        raw_cuts += sched_greedy_step(&raw, loss[i]) < before_raw;
        sm_cuts += sched_greedy_step(&sm, loss[i]) < before_sm;
    }
    CU_ASSERT_EQUAL(raw_cuts, 1);
    CU_ASSERT_EQUAL(sm_cuts, 0);
    /* the compared value is the mean of the last min(t, W) signals */
    CU_ASSERT(rel_eq(sm.last_smoothed, (97.5 + 95 + 94) / 3));
    CU_ASSERT_FATAL(sched_greedy_init(&sm, &c, NULL) == 0);
    sched_greedy_step(&sm, 10);
    CU_ASSERT(rel_eq(sm.last_smoothed, 10));
    sched_greedy_step(&sm, 20);
    CU_ASSERT(rel_eq(sm.last_smoothed, 15));
    /* W = 1 is off */
    c.window = 1;
    CU_ASSERT_FATAL(sched_greedy_init(&sm, &c, NULL) == 0);
    sched_greedy_step(&sm, 10);
    sched_greedy_step(&sm, 20);
    CU_ASSERT(rel_eq(sm.last_smoothed, 20));
}

TG_TEST(sched, greedy_threshold_rel_and_abs) {
    struct sched_greedy_config c = plain(0.01, 0.5, 0);
    struct sched_greedy s;

    /* rel 0.1: from best 100 a step must go below 90 to count as good */
    c.threshold = 0.1;
    c.threshold_mode = SCHED_THRESHOLD_REL;
    CU_ASSERT_FATAL(sched_greedy_init(&s, &c, NULL) == 0);
    sched_greedy_step(&s, 100);
    CU_ASSERT(rel_eq(sched_greedy_step(&s, 95), 0.005)); /* not enough: bad, cut */
    CU_ASSERT(rel_eq(s.best, 100));
    CU_ASSERT(rel_eq(sched_greedy_step(&s, 89), 0.01)); /* good: up */
    CU_ASSERT(rel_eq(s.best, 89));
    /* rel uses |best|, so a negative signal (negative reward) works the same way round */
    CU_ASSERT_FATAL(sched_greedy_init(&s, &c, NULL) == 0);
    sched_greedy_step(&s, -0.5);
    CU_ASSERT(rel_eq(sched_greedy_step(&s, -0.52), 0.005)); /* needs < -0.55 */
    CU_ASSERT(rel_eq(sched_greedy_step(&s, -0.6), 0.01));
    /* abs 2: 99 is not better than 100 by more than 2; 97 is */
    c.threshold = 2.0;
    c.threshold_mode = SCHED_THRESHOLD_ABS;
    CU_ASSERT_FATAL(sched_greedy_init(&s, &c, NULL) == 0);
    sched_greedy_step(&s, 100);
    CU_ASSERT(rel_eq(sched_greedy_step(&s, 99), 0.005));
    CU_ASSERT(rel_eq(sched_greedy_step(&s, 98), 0.0025)); /* exactly 2 better: not more */
    CU_ASSERT(rel_eq(sched_greedy_step(&s, 97.9), 0.005));
}

TG_TEST(sched, greedy_reset_after_futile_cuts) {
    /* rising loss, patience 0, F 0.5 from 0.1 with lr_min 0.025, reset_start 2:
     * t1 best; t2 cut to .05 (first cut, not futile); t3 cut to .025 (no new best since the
     * cut: futile 1); t4 at lr_min (futile 2) -> reset to 0.1 */
    struct sched_greedy_config c = plain(0.1, 0.5, 0);
    struct sched_greedy s;
    double want[] = {0.1, 0.05, 0.025, 0.1};

    c.lr_min = 0.025;
    c.reset_start = 2;
    CU_ASSERT_FATAL(sched_greedy_init(&s, &c, NULL) == 0);
    for (size_t i = 0; i < TG_ARRAY_LEN(want); i++)
        CU_ASSERT(rel_eq(sched_greedy_step(&s, (double)i), want[i]));
    CU_ASSERT_EQUAL(s.resets, 1);
    CU_ASSERT_EQUAL(s.has_best, 0); /* best forgotten */
    CU_ASSERT_EQUAL(s.futile_cuts, 0);
    /* after the reset the machine starts over: t5 sets best, t6 cuts (not futile) */
    CU_ASSERT(rel_eq(sched_greedy_step(&s, 50), 0.1));
    CU_ASSERT(rel_eq(sched_greedy_step(&s, 60), 0.05));
    CU_ASSERT_EQUAL(s.futile_cuts, 0);

    /* reset_start 0 never resets: the lr just sits at lr_min */
    c.reset_start = 0;
    CU_ASSERT_FATAL(sched_greedy_init(&s, &c, NULL) == 0);
    for (int i = 0; i < 20; i++)
        sched_greedy_step(&s, (double)i);
    CU_ASSERT(rel_eq(s.lr, 0.025));
    CU_ASSERT_EQUAL(s.resets, 0);
}

TG_TEST(sched, greedy_improvement_between_cuts_is_not_futile) {
    /* patience 1 so that one good step between two bad pairs does not raise the lr:
     * every cut is followed by a new best, so no cut is futile and no reset fires */
    struct sched_greedy_config c = plain(0.1, 0.5, 1);
    struct sched_greedy s;
    double loss[] = {10, 11, 12, 9, 10, 11, 8, 9, 10, 7, 8, 9};

    c.lr_min = 0.001;
    c.reset_start = 2;
    CU_ASSERT_FATAL(sched_greedy_init(&s, &c, NULL) == 0);
    for (size_t i = 0; i < TG_ARRAY_LEN(loss); i++)
        sched_greedy_step(&s, loss[i]);
    CU_ASSERT_EQUAL(s.resets, 0);
    CU_ASSERT_EQUAL(s.futile_cuts, 0);
    CU_ASSERT(rel_eq(s.lr, 0.1 * 0.5 * 0.5 * 0.5 * 0.5)); /* four cuts, all useful */
}

TG_TEST(sched, greedy_nonfinite_signal_is_bad) {
    struct sched_greedy_config c = plain(0.1, 0.5, 0);
    struct sched_greedy s;

    c.window = 3;
    c.lr_min = 0.001;
    CU_ASSERT_FATAL(sched_greedy_init(&s, &c, NULL) == 0);
    sched_greedy_step(&s, 5);
    CU_ASSERT(rel_eq(sched_greedy_step(&s, NAN), 0.05));
    CU_ASSERT(rel_eq(s.best, 5));
    CU_ASSERT(rel_eq(sched_greedy_step(&s, 2), 0.1)); /* window holds 5 and 2 only: 3.5 */
    CU_ASSERT(rel_eq(s.last_smoothed, 3.5));
}

TG_TEST(sched, greedy_config_rejected) {
    struct sched_greedy_config ok = sched_greedy_config_default(), c;
    struct sched_greedy s;
    struct tg_error err;

#define BAD(field_name, stmt)                                                                      \
    do {                                                                                           \
        c = ok;                                                                                    \
        stmt;                                                                                      \
        tg_error_clear(&err);                                                                      \
        CU_ASSERT_EQUAL(sched_greedy_init(&s, &c, &err), TG_EINVAL);                               \
        CU_ASSERT_STRING_EQUAL(err.code, "invalid_config");                                        \
        CU_ASSERT(strstr(err.message, field_name) != NULL);                                        \
    } while (0)
    BAD("factor", c.factor = 0.0);
    BAD("factor", c.factor = 1.0);
    BAD("factor", c.factor = 1.5);
    BAD("factor", c.factor = -0.5);
    BAD("factor", c.factor = NAN);
    BAD("patience", c.patience = -1);
    BAD("threshold", c.threshold = -0.1);
    BAD("threshold", c.threshold = INFINITY);
    BAD("threshold_mode", c.threshold_mode = (enum sched_threshold_mode)7);
    BAD("window", c.window = -1);
    BAD("window", c.window = TG_SCHED_WINDOW_MAX + 1);
    BAD("warmup", c.warmup = -1);
    BAD("cooldown", c.cooldown = -2);
    BAD("lr_min", c.lr_min = -1e-3);
    BAD("lr_max", c.lr_max = 0.0);
    BAD("lr_min", (c.lr_min = 0.5, c.lr_max = 0.1));
    BAD("lr is", c.lr = 1.0);
    BAD("lr is", c.lr = 1e-9);
    BAD("reset_start", c.reset_start = -1);
#undef BAD
    CU_ASSERT_EQUAL(sched_greedy_init(&s, &ok, &err), 0);
    c = ok, c.window = TG_SCHED_WINDOW_MAX;
    CU_ASSERT_EQUAL(sched_greedy_init(&s, &c, &err), 0);
}

/* ---- struct sched ----------------------------------------------------------------------- */

TG_TEST(sched, combined_schedule) {
    struct sched_config c;
    struct sched s;
    struct tg_error err;

    memset(&c, 0, sizeof(c));
    c.kind = SCHED_CONSTANT;
    c.lr = 3e-3;
    CU_ASSERT_FATAL(sched_init(&s, &c, &err) == 0);
    CU_ASSERT(rel_eq(s.lr, 3e-3));
    CU_ASSERT(rel_eq(sched_step(&s, 1.0), 3e-3));
    CU_ASSERT(rel_eq(sched_step(&s, -100.0), 3e-3));

    c.kind = SCHED_COSINE;
    c.cosine = (struct sched_cosine_config){.lr_max = 1e-2, .lr_min = 0, .warmup = 0, .total = 4};
    CU_ASSERT_FATAL(sched_init(&s, &c, &err) == 0);
    CU_ASSERT(rel_eq(s.lr, 1e-2));
    CU_ASSERT(rel_eq(sched_step(&s, 0), sched_cosine(&c.cosine, 1)));
    CU_ASSERT(rel_eq(sched_step(&s, 0), 5e-3));

    c.kind = SCHED_GREEDY;
    c.signal = SCHED_SIGNAL_NEG_REWARD;
    c.greedy = plain(0.01, 0.5, 0);
    CU_ASSERT_FATAL(sched_init(&s, &c, &err) == 0);
    CU_ASSERT(rel_eq(s.lr, 0.01));
    sched_step(&s, -0.1);                          /* reward 0.1 */
    CU_ASSERT(rel_eq(sched_step(&s, -0.3), 0.02)); /* reward up: signal down: good */
    CU_ASSERT_EQUAL(s.t, 2);

    c.greedy.factor = 2.0;
    CU_ASSERT_EQUAL(sched_init(&s, &c, &err), TG_EINVAL);
    c.greedy.factor = 0.5;
    c.signal = (enum sched_signal)9;
    CU_ASSERT_EQUAL(sched_init(&s, &c, &err), TG_EINVAL);
    CU_ASSERT(strstr(err.message, "signal") != NULL);
    c.signal = SCHED_SIGNAL_LOSS;
    c.kind = (enum sched_kind)9;
    CU_ASSERT_EQUAL(sched_init(&s, &c, &err), TG_EINVAL);
    c.kind = SCHED_CONSTANT;
    c.lr = 0.0;
    CU_ASSERT_EQUAL(sched_init(&s, &c, &err), TG_EINVAL);
}

TG_TEST(sched, names_round_trip) {
    enum sched_kind k;
    enum sched_signal sig;
    enum sched_threshold_mode mode;
    struct tg_error err;

    for (int i = SCHED_CONSTANT; i <= SCHED_GREEDY; i++) {
        CU_ASSERT_EQUAL(sched_kind_parse(sched_kind_name((enum sched_kind)i), &k, &err), 0);
        CU_ASSERT_EQUAL(k, i);
    }
    CU_ASSERT_EQUAL(sched_signal_parse("neg_reward", &sig, &err), 0);
    CU_ASSERT_EQUAL(sig, SCHED_SIGNAL_NEG_REWARD);
    CU_ASSERT_STRING_EQUAL(sched_signal_name(SCHED_SIGNAL_LOSS), "loss");
    CU_ASSERT_EQUAL(sched_threshold_mode_parse("abs", &mode, &err), 0);
    CU_ASSERT_EQUAL(mode, SCHED_THRESHOLD_ABS);
    CU_ASSERT_EQUAL(sched_kind_parse("linear", &k, &err), TG_EINVAL);
    CU_ASSERT(strstr(err.message, "linear") != NULL);
    CU_ASSERT_EQUAL(sched_signal_parse("reward", &sig, &err), TG_EINVAL);
    CU_ASSERT_EQUAL(sched_threshold_mode_parse("relative", &mode, &err), TG_EINVAL);
}
