/*
 * test_progfreeze.c — suite `progfreeze`: the settled-gradient-norm rule of progressive
 * freezing, on hand-computed norm sequences. A layer freezes exactly on the pass its EMA has
 * been calm for `window` passes and not before; lowest first (a settled layer waits for the
 * ones below it); never past max_frozen; a calm streak that breaks starts again; a norm that
 * keeps moving never freezes; observing without freezing (calibration) freezes nothing.
 */
#include "tg_test.h"

#include <math.h>
#include <string.h>

#include "policy/progfreeze.h"

static struct progfreeze_config cfg_of(double ema, double tol, int window) {
    struct progfreeze_config c;

    c.ema = ema;
    c.tol = tol;
    c.window = window;
    return c;
}

/*
 * ema 0.5, tol 0.1, window 2; three layers, at most two freeze.
 * layer 0: norms 1, 1.5, 1.4, 1.3 -> EMA 1, 1.25 (change 0.25), 1.325 (0.06), 1.3125 (0.0094):
 *          calm 0, 1, 2 -> settled on pass 4.
 * layer 1: norm 2 throughout -> change 0 from pass 2: settled on pass 3, but waits for layer 0.
 * layer 2: norm 3 throughout -> settled on pass 3, but max_frozen is 2.
 */
TG_TEST(progfreeze, lowest_settled_layers_freeze_on_the_pass_they_settle) {
    struct progfreeze_config c = cfg_of(0.5, 0.1, 2);
    struct progfreeze pf;
    const double l0[] = {1, 1.5, 1.4, 1.3, 1.3, 1.3};

    progfreeze_init(&pf, &c, 3, 2);
    for (int t = 0; t < 6; t++) {
        double norm[3] = {l0[t], 2, 3};
        int got = progfreeze_observe(&pf, norm, 1);

        if (t < 3) {
            CU_ASSERT_EQUAL(got, 0);
            CU_ASSERT_EQUAL(pf.frozen, 0);
        } else if (t == 3) {
            CU_ASSERT_EQUAL(got, 2); /* layer 0 settles, layer 1 follows in the same pass */
            CU_ASSERT_EQUAL(pf.frozen, 2);
        } else {
            CU_ASSERT_EQUAL(got, 0);
            CU_ASSERT_EQUAL(pf.frozen, 2); /* layer 2 is settled but over the cap */
        }
        if (t == 1)
            CU_ASSERT_DOUBLE_EQUAL(pf.change[0], 0.25, 1e-12);
        if (t == 2) {
            CU_ASSERT_DOUBLE_EQUAL(pf.ema[0], 1.325, 1e-12);
            CU_ASSERT_EQUAL(pf.calm[0], 1);
            CU_ASSERT_EQUAL(pf.calm[1], 2); /* settled, waiting for layer 0 */
        }
    }
    CU_ASSERT_EQUAL(pf.frozen_at[0], 4);
    CU_ASSERT_EQUAL(pf.frozen_at[1], 4);
    CU_ASSERT_EQUAL(pf.frozen_at[2], 0);
    CU_ASSERT(pf.calm[2] >= 2);
    CU_ASSERT_EQUAL(pf.passes, 6);
}

TG_TEST(progfreeze, a_broken_calm_streak_starts_again) {
    struct progfreeze_config c = cfg_of(0.5, 0.1, 3);
    struct progfreeze pf;
    /* EMA: 1; 1 (calm 1); 1 (2); 1.5 (change 0.5: 0); 1.5 (1); 1.5 (2); 1.5 (3: settled) */
    const double n[] = {1, 1, 1, 2, 1.5, 1.5, 1.5};

    progfreeze_init(&pf, &c, 1, 1);
    for (int t = 0; t < 7; t++) {
        double norm[1] = {n[t]};

        CU_ASSERT_EQUAL(progfreeze_observe(&pf, norm, 1), t == 6 ? 1 : 0);
        if (t == 3)
            CU_ASSERT_EQUAL(pf.calm[0], 0);
    }
    CU_ASSERT_EQUAL(pf.frozen, 1);
    CU_ASSERT_EQUAL(pf.frozen_at[0], 7);
}

TG_TEST(progfreeze, a_moving_norm_never_freezes_and_blocks_the_layers_above) {
    struct progfreeze_config c = cfg_of(0.5, 0.1, 2);
    struct progfreeze pf;

    progfreeze_init(&pf, &c, 2, 2);
    for (int t = 0; t < 50; t++) {
        double norm[2] = {t % 2 ? 2.0 : 1.0, 5.0}; /* EMA swings by more than 10% each pass */

        CU_ASSERT_EQUAL(progfreeze_observe(&pf, norm, 1), 0);
    }
    CU_ASSERT_EQUAL(pf.frozen, 0);
    CU_ASSERT(pf.calm[1] >= 2); /* layer 1 is settled; it is not the lowest */
}

TG_TEST(progfreeze, observing_without_freezing_freezes_nothing_until_allowed) {
    struct progfreeze_config c = cfg_of(0.9, 0.01, 2);
    struct progfreeze pf;
    double norm[2] = {1, 1};

    progfreeze_init(&pf, &c, 2, 1);
    for (int t = 0; t < 5; t++)
        CU_ASSERT_EQUAL(progfreeze_observe(&pf, norm, 0), 0);
    CU_ASSERT_EQUAL(pf.frozen, 0);
    CU_ASSERT_EQUAL(progfreeze_observe(&pf, norm, 1), 1); /* settled all along */
    CU_ASSERT_EQUAL(pf.frozen_at[0], 6);
    /* a frozen layer is no longer observed: a NaN for it changes nothing */
    norm[0] = NAN;
    CU_ASSERT_EQUAL(progfreeze_observe(&pf, norm, 1), 0);
    CU_ASSERT_DOUBLE_EQUAL(pf.ema[0], 1, 1e-12);
}

TG_TEST(progfreeze, zero_norms) {
    struct progfreeze_config c = cfg_of(0.5, 0.1, 1);
    struct progfreeze pf;
    double a[2] = {0, 0}, b[2] = {0, 1};

    progfreeze_init(&pf, &c, 2, 2);
    CU_ASSERT_EQUAL(progfreeze_observe(&pf, a, 1), 0);
    /* layer 0 stays at 0 (no change: calm); layer 1 leaves 0 (an infinite change) */
    CU_ASSERT_EQUAL(progfreeze_observe(&pf, b, 1), 1);
    CU_ASSERT(isinf(pf.change[1]));
    CU_ASSERT_EQUAL(pf.calm[1], 0);
}

TG_TEST(progfreeze, bad_settings_are_named) {
    struct progfreeze_config c = progfreeze_config_default();
    struct tg_error e;

    CU_ASSERT_EQUAL(progfreeze_config_check(&c, &e), 0);
    CU_ASSERT_DOUBLE_EQUAL(c.ema, 0.9, 0);
    CU_ASSERT_DOUBLE_EQUAL(c.tol, 0.01, 0);
    CU_ASSERT_EQUAL(c.window, 5);
    c.ema = 1;
    CU_ASSERT_EQUAL(progfreeze_config_check(&c, &e), TG_EINVAL);
    CU_ASSERT(strstr(e.message, "settle_ema") != NULL);
    c = progfreeze_config_default();
    c.tol = 0;
    CU_ASSERT_EQUAL(progfreeze_config_check(&c, &e), TG_EINVAL);
    CU_ASSERT(strstr(e.message, "settle_tol") != NULL);
    c = progfreeze_config_default();
    c.window = 0;
    CU_ASSERT_EQUAL(progfreeze_config_check(&c, &e), TG_EINVAL);
    CU_ASSERT(strstr(e.message, "settle_window") != NULL);
}
