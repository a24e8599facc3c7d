/*
 * test_sched.c — suite `sched`: cosine values, GreedyLR traces (improving, plateau, noisy
 * plateau, oscillating signals and every setting) compared step by step with traces worked
 * out by hand from the reference's rules, the presets, the combined struct sched, name
 * parsing and config validation.
 */
#include "tg_test.h"

#include <math.h>
#include <string.h>

#include "policy/sched.h"

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
/*
 * Every expected trace below was worked out by hand from the reference's rules (sched.h): the
 * comments show the working. "good"/"bad" are the run counters, "hold" a cooldown or warmup
 * step, "skip" a change of at most eps that is not applied.
 */

/* the reference preset with these lr, factor, patience and bounds */
static struct sched_greedy_config ref(double lr, double factor, int patience, double min_lr,
                                      double max_lr) {
    struct sched_greedy_config c = sched_greedy_reference();

    c.lr = lr;
    c.factor = factor;
    c.patience = patience;
    c.min_lr = min_lr;
    c.max_lr = max_lr;
    return c;
}

/* feed sig[0..n) to a fresh machine with config c; every step's lr must be want[i] */
static void check_trace(const char *what, const struct sched_greedy_config *c,
                        struct sched_greedy *s, const double *sig, const double *want, size_t n) {
    CU_ASSERT_FATAL(sched_greedy_init(s, c, NULL) == 0);
    for (size_t i = 0; i < n; i++) {
        double lr = sched_greedy_step(s, sig[i]);

        if (!rel_eq(lr, want[i])) {
            fprintf(stderr, "\n  %s: step %zu (signal %g): lr %.10g, want %.10g\n", what, i + 1,
                    sig[i], lr, want[i]);
            CU_FAIL("GreedyLR trace differs from the hand trace");
            return;
        }
    }
}

#define TRACE(what, c, s, sig, want)                                                               \
    do {                                                                                           \
        CU_ASSERT_EQUAL_FATAL(TG_ARRAY_LEN(sig), TG_ARRAY_LEN(want));                              \
        check_trace(what, c, s, sig, want, TG_ARRAY_LEN(sig));                                     \
    } while (0)

TG_TEST(sched, greedy_reference_preset) {
    struct sched_greedy_config c = sched_greedy_reference(), t;
    struct tg_error err;

    CU_ASSERT_EQUAL(c.mode, SCHED_MODE_MIN);
    CU_ASSERT_EQUAL(c.factor, 0.95);
    CU_ASSERT_EQUAL(c.patience, 10);
    CU_ASSERT_EQUAL(c.threshold, 1e-6);
    CU_ASSERT_EQUAL(c.threshold_mode, SCHED_THRESHOLD_ABS);
    CU_ASSERT_EQUAL(c.cooldown, 0);
    CU_ASSERT_EQUAL(c.warmup, 0);
    CU_ASSERT_EQUAL(c.min_lr, 1e-3);
    CU_ASSERT_EQUAL(c.max_lr, 1.0);
    CU_ASSERT_EQUAL(c.eps, 1e-8);
    CU_ASSERT_EQUAL(c.smooth, 0);
    CU_ASSERT_EQUAL(c.window_size, 50);
    CU_ASSERT_EQUAL(c.reset_start, 500);
    /* the project's own settings are off */
    CU_ASSERT_EQUAL(c.initial_hold, 0);
    CU_ASSERT_EQUAL(c.threshold_signed, 0);
    CU_ASSERT_EQUAL(sched_greedy_check(&c, &err), 0);
    /* by name too, and the trainer's preset */
    CU_ASSERT_EQUAL(sched_greedy_preset("reference", &t, &err), 0);
    CU_ASSERT_EQUAL(memcmp(&t, &c, sizeof(t)), 0);
    CU_ASSERT_EQUAL(sched_greedy_preset("trainer", &t, &err), 0);
    CU_ASSERT_EQUAL(t.factor, 0.7);
    CU_ASSERT_EQUAL(t.smooth, 1);
    CU_ASSERT_EQUAL(t.window_size, 3);
    CU_ASSERT_EQUAL(t.reset_start, 3);
    CU_ASSERT_EQUAL(t.initial_hold + t.threshold_signed, 0);
    CU_ASSERT_EQUAL(sched_greedy_check(&t, &err), 0);
    CU_ASSERT_EQUAL(sched_greedy_preset("paper", &t, &err), TG_EINVAL);
    CU_ASSERT(strstr(err.message, "'paper'") && strstr(err.message, "reference, trainer"));
}

TG_TEST(sched, greedy_improving_signal) {
    /* patience 2: every 3rd better step in a row divides by F = 0.5, up to max_lr 0.1.
     * s1 is better than best = +inf; s1-s3 good 1,2,3 -> 0.02; s4-s6 -> 0.04; s7-s9 -> 0.08;
     * s10-s12 -> min(0.16, 0.1) = 0.1; s15 -> min(0.2, 0.1): no change (skipped). */
    struct sched_greedy_config c = ref(0.01, 0.5, 2, 0.001, 0.1);
    struct sched_greedy s;
    double sig[] = {10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, -1, -2, -3, -4};
    double want[] = {.01, .01, .02, .02, .02, .04, .04, .04, .08, .08, .08, .1, .1, .1, .1};

    TRACE("improving", &c, &s, sig, want);
    CU_ASSERT_EQUAL(s.ups, 4);
    CU_ASSERT_EQUAL(s.downs, 0);
    CU_ASSERT_EQUAL(s.best, -4.0);
}

TG_TEST(sched, greedy_plateau_decays_then_resets_at_min_lr) {
    /* A flat signal, patience 2, F 0.5, min_lr 0.0125 = 0.1 / 8, reset_start 2.
     * s1: better than +inf (good 1). s2-s4 bad 1,2,3 -> 0.05; s5-s7 -> 0.025; s8-s10 ->
     * 0.0125, which leaves the lr at min_lr: at-min 1. s11-s13: max(0.00625, 0.0125) is no
     * change, still at min: at-min 2 = reset_start -> reset to 0.1, best forgotten.
     * s14 good 1 again; s15-s17 -> 0.05. */
    struct sched_greedy_config c = ref(0.1, 0.5, 2, 0.0125, 1.0);
    struct sched_greedy s;
    double sig[17], sig40[40];
    double want[] = {.1,    .1,    .1,    .05, .05, .05, .025, .025, .025,
                     .0125, .0125, .0125, .1,  .1,  .1,  .1,   .05};
    double want1[] = {.1, .1, .1, .05, .05, .05, .025, .025, .025, .1};

    for (size_t i = 0; i < TG_ARRAY_LEN(sig); i++)
        sig[i] = 5.0;
    c.reset_start = 2;
    TRACE("plateau, reset_start 2", &c, &s, sig, want);
    CU_ASSERT_EQUAL(s.resets, 1);
    CU_ASSERT_EQUAL(s.downs, 4);
    CU_ASSERT_EQUAL(s.ups, 0);
    /* reset_start 1: the decrease that first reaches min_lr (s10) already resets */
    c.reset_start = 1;
    check_trace("plateau, reset_start 1", &c, &s, sig, want1, TG_ARRAY_LEN(want1));
    CU_ASSERT_EQUAL(s.resets, 1);
    /* reset_start 0 (toolgym's "never"): the lr stays at min_lr */
    c.reset_start = 0;
    for (size_t i = 0; i < TG_ARRAY_LEN(sig40); i++)
        sig40[i] = 5.0;
    CU_ASSERT_FATAL(sched_greedy_init(&s, &c, NULL) == 0);
    for (size_t i = 0; i < TG_ARRAY_LEN(sig40); i++)
        sched_greedy_step(&s, sig40[i]);
    CU_ASSERT_EQUAL(s.lr, 0.0125);
    CU_ASSERT_EQUAL(s.resets, 0);
}

TG_TEST(sched, greedy_noisy_plateau) {
    /* patience 1, F 0.5, threshold 0.05 abs, min_lr 0.01, no reset:
     * s1 5.0 good (best 5.0); s2 5.2 bad 1; s3 4.9 < 4.95 good (best 4.9); s4 5.1 bad 1;
     * s5 4.94 (needs < 4.85) bad 2 -> 0.05; s6 5.05 bad 1; s7 4.96 bad 2 -> 0.025;
     * s8 4.8 < 4.85 good (best 4.8); s9 5.0 bad 1; s10 4.9 bad 2 -> 0.0125;
     * s11 4.76 (needs < 4.75) bad 1; s12 4.9 bad 2 -> max(0.00625, 0.01) = 0.01. */
    struct sched_greedy_config c = ref(0.1, 0.5, 1, 0.01, 1.0);
    struct sched_greedy s;
    double sig[] = {5.0, 5.2, 4.9, 5.1, 4.94, 5.05, 4.96, 4.8, 5.0, 4.9, 4.76, 4.9};
    double want[] = {.1, .1, .1, .1, .05, .05, .025, .025, .025, .0125, .0125, .01};

    c.threshold = 0.05;
    c.reset_start = 0;
    TRACE("noisy plateau", &c, &s, sig, want);
    CU_ASSERT_EQUAL(s.best, 4.8);
    CU_ASSERT_EQUAL(s.downs, 4); /* s5, s7, s10, s12 */
}

TG_TEST(sched, greedy_trainer_settings_anneal_on_a_noisy_plateau) {
    /* The trainer's preset (F 0.7, patience 1, threshold 0.01 abs, mean of 3, cooldown 1,
     * warmup 1, lr 3e-3 in [1e-4, 1e-2], reset_start 3) on a flat signal whose noise (+-0.004)
     * stays inside the threshold: after the first step nothing is better.
     * s1 good 1; s2, s3 bad 1, 2 -> cut 1; s4 cooldown; s5, s6 -> cut 2; ... cut k at step 3k
     * with lr 3e-3 * 0.7^k; cut 10 (s30) reaches min_lr 1e-4 (3e-3 * 0.7^10 = 8.5e-5): at-min
     * 1; cuts 11 (s33) and 12 (s36) at min_lr: at-min 3 -> reset to 3e-3 (window emptied),
     * then its cooldown (s37). s38 is better than +inf; s39, s40 -> cut 1; cut k at 37 + 3k;
     * reset again at 73, 110, 147, 184: the lr anneals to min_lr in every cycle and there are
     * 5 resets in 200 steps (the earlier "futile cut" rule, run on this same signal, reset
     * 15 times and never took the lr below 1.03e-3). */
    struct sched_greedy_config c;
    struct sched_greedy s;
    double want = 3e-3;
    long since = 0; /* steps since the start (or the last reset), as in the working above */
    int cycle = 0, reached_min = 0;

    CU_ASSERT_FATAL(sched_greedy_preset("trainer", &c, NULL) == 0);
    CU_ASSERT_FATAL(sched_greedy_init(&s, &c, NULL) == 0);
    for (int i = 1; i <= 200; i++) {
        double x = 0.5 + 0.002 * (double)((7 * i) % 5 - 2), lr = sched_greedy_step(&s, x);
        long cut_step = cycle == 0 ? 3 : 4; /* the step (counted by `since`) of cut 1 */

        since++;
        if (since == cut_step + 33) { /* cut 12: the reset */
            want = 3e-3;
            since = 0;
            cycle++;
        } else if (since >= cut_step && (since - cut_step) % 3 == 0) {
            want = fmax(want * 0.7, 1e-4);
        }
        if (!rel_eq(lr, want)) {
            fprintf(stderr, "\n  trainer preset, step %d: lr %.10g, want %.10g\n", i, lr, want);
            CU_FAIL("GreedyLR trace differs from the hand trace");
            break;
        }
        reached_min |= lr == 1e-4;
    }
    CU_ASSERT(reached_min);
    CU_ASSERT_EQUAL(s.resets, 5);
}

TG_TEST(sched, greedy_oscillating_signal) {
    /* patience 0, F 0.5: a zig-zag is good, bad, good, bad ... so the lr alternates */
    struct sched_greedy_config c = ref(0.1, 0.5, 0, 0.001, 1.0);
    struct sched_greedy s;
    double zig[] = {10, 12, 9, 11, 8, 10, 7, 9};
    double want0[] = {.2, .1, .2, .1, .2, .1, .2, .1};
    double want1[] = {.1, .1, .1, .1, .1, .1, .1, .1};
    /* a flat oscillation: s1 good -> 0.2; after it 1 is never below best 1: all bad */
    double flat[] = {1, 2, 1, 2, 1, 2};
    double wantf[] = {.2, .1, .05, .025, .0125, .00625};

    TRACE("zig-zag, patience 0", &c, &s, zig, want0);
    CU_ASSERT_EQUAL(s.ups, 4);
    CU_ASSERT_EQUAL(s.downs, 4);
    /* patience 1 needs two in a row: good 1, bad 1, good 1, ... nothing moves */
    c.patience = 1;
    TRACE("zig-zag, patience 1", &c, &s, zig, want1);
    CU_ASSERT_EQUAL(s.ups + s.downs, 0);
    c.patience = 0;
    TRACE("flat oscillation", &c, &s, flat, wantf);
}

TG_TEST(sched, greedy_cooldown_is_a_hold_after_each_decrease) {
    /* patience 0, F 0.5, lr = max_lr = 0.8, cooldown 2, a flat signal:
     * s1 good: 0.8 / 0.5 is capped at 0.8 (no change); s2 bad -> 0.4, cooldown 2; s3, s4
     * held; s5 bad -> 0.2; s6, s7 held; s8 -> 0.1 */
    struct sched_greedy_config c = ref(0.8, 0.5, 0, 0.01, 0.8);
    struct sched_greedy s;
    double flat[] = {5, 5, 5, 5, 5, 5, 5, 5};
    double want[] = {.8, .4, .4, .4, .2, .2, .2, .1};
    /* best is not updated in a hold: s3, s4 (value 1) are held; s5 = 4 is compared with
     * best 5 (not 1), so it is better -> 0.8 */
    double dip[] = {5, 5, 1, 1, 4};
    double wantd[] = {.8, .4, .4, .4, .8};

    c.cooldown = 2;
    TRACE("cooldown", &c, &s, flat, want);
    CU_ASSERT_EQUAL(s.ups, 0);
    CU_ASSERT_EQUAL(s.downs, 3);
    TRACE("cooldown keeps best", &c, &s, dip, wantd);
    CU_ASSERT_EQUAL(s.best, 4.0);
}

TG_TEST(sched, greedy_warmup_is_a_hold_after_each_increase) {
    /* patience 0, F 0.5, warmup 2: s1 better than +inf -> 0.02, then 2 held steps, s4 better
     * than best 10 -> 0.04, ... */
    struct sched_greedy_config c = ref(0.01, 0.5, 0, 0.001, 1.0);
    struct sched_greedy s;
    double sig[] = {10, 9, 8, 7, 6, 5, 4, 3};
    double want[] = {.02, .02, .02, .04, .04, .04, .08, .08};
    /* the held steps' 1s do not become best: s4 = 5 < 10 is better -> 0.04 */
    double dip[] = {10, 1, 1, 5};
    double wantd[] = {.02, .02, .02, .04};

    c.warmup = 2;
    TRACE("warmup", &c, &s, sig, want);
    TRACE("warmup keeps best", &c, &s, dip, wantd);
    /* a held step zeroes the run counters */
    CU_ASSERT_FATAL(sched_greedy_init(&s, &c, NULL) == 0);
    sched_greedy_step(&s, 10);
    sched_greedy_step(&s, 20);
    CU_ASSERT_EQUAL(s.warmup_left, 1);
    CU_ASSERT_EQUAL(s.num_bad, 0);
}

TG_TEST(sched, greedy_thresholds_and_modes) {
    struct sched_greedy_config c = ref(0.01, 0.5, 0, 0.001, 1.0);
    struct sched_greedy s;
    /* min, rel 0.1: from best 100 better means below 90 */
    double rel[] = {100, 95, 89};
    double want_rel[] = {.02, .01, .02};
    /* min, rel 0.1 from best -0.5: the reference's best * (1 - 0.1) = -0.45, so -0.48 (worse
     * than -0.5) counts as better; threshold_signed asks for below -0.5 - 0.05 = -0.55 */
    double neg[] = {-0.5, -0.48};
    double want_neg_ref[] = {.02, .04};
    double want_neg_signed[] = {.02, .01};
    /* min, abs 2: 99 and 98 are not more than 2 below 100; 97.9 is */
    double abs_[] = {100, 99, 98, 97.9};
    double want_abs[] = {.02, .01, .005, .01};
    /* max, abs 1: better means above best + 1 */
    double up[] = {10, 10.5, 11.5};
    double want_up[] = {.02, .01, .02};
    /* max, rel 0.1: above best * 1.1 = 11 */
    double uprel[] = {10, 10.9, 11.2};
    /* max, rel 0.1 from best -10: the reference's -10 * 1.1 = -11 lets -10.5 count;
     * threshold_signed asks for above -10 + 1 = -9 */
    double upneg[] = {-10, -10.5};

    c.threshold_mode = SCHED_THRESHOLD_REL;
    c.threshold = 0.1;
    TRACE("min rel", &c, &s, rel, want_rel);
    CU_ASSERT_EQUAL(s.best, 89.0);
    TRACE("min rel negative (reference)", &c, &s, neg, want_neg_ref);
    c.threshold_signed = 1;
    TRACE("min rel negative (signed)", &c, &s, neg, want_neg_signed);
    TRACE("min rel positive (signed: same as the reference)", &c, &s, rel, want_rel);
    c.threshold_signed = 0;
    c.threshold_mode = SCHED_THRESHOLD_ABS;
    c.threshold = 2.0;
    TRACE("min abs", &c, &s, abs_, want_abs);

    c.mode = SCHED_MODE_MAX;
    c.threshold = 1.0;
    TRACE("max abs", &c, &s, up, want_up);
    CU_ASSERT_EQUAL(s.best, 11.5);
    c.threshold_mode = SCHED_THRESHOLD_REL;
    c.threshold = 0.1;
    TRACE("max rel", &c, &s, uprel, want_up);
    TRACE("max rel negative (reference)", &c, &s, upneg, want_neg_ref);
    c.threshold_signed = 1;
    TRACE("max rel negative (signed)", &c, &s, upneg, want_neg_signed);
}

TG_TEST(sched, greedy_changes_within_eps_are_skipped) {
    /* patience 0, F 0.5, lr = max_lr = 0.1, min_lr 0, eps 0.04, a flat signal: s1 (capped)
     * no change; s2 0.1 -> 0.05 (a change of 0.05 > eps); s3 0.05 -> 0.025 is a change of
     * 0.025 <= eps: skipped, and so on for ever */
    struct sched_greedy_config c = ref(0.1, 0.5, 0, 0.0, 0.1);
    struct sched_greedy s;
    double flat[] = {5, 5, 5, 5, 5};
    double want[] = {.1, .05, .05, .05, .05};
    double want_eq[] = {.1, .1, .1, .1, .1};

    c.eps = 0.04;
    TRACE("eps 0.04", &c, &s, flat, want);
    CU_ASSERT_EQUAL(s.downs, 1);
    /* a skipped decrease that leaves the lr above min_lr is not "at min_lr": with min_lr
     * 0.03, s3's max(0.025, 0.03) = 0.03 is a change of 0.02 <= eps, the lr stays 0.05 > 0.03,
     * so even reset_start 1 never resets */
    c.min_lr = 0.03;
    c.reset_start = 1;
    TRACE("eps above min_lr", &c, &s, flat, want);
    CU_ASSERT_EQUAL(s.resets, 0);
    /* a change of exactly eps is skipped too (0.1 - 0.05 is exactly 0.05) */
    c.min_lr = 0.0;
    c.eps = 0.05;
    TRACE("eps 0.05", &c, &s, flat, want_eq);
    CU_ASSERT_EQUAL(s.downs, 0);
}

TG_TEST(sched, greedy_increase_restores_the_reset_count) {
    /* patience 0, F 0.5, lr = max_lr = 0.1, min_lr 0.025, reset_start 2:
     * s1 good (capped); s2 bad -> 0.05; s3 bad -> 0.025 at min (1); s4 at min (2): reset -> 0.1.
     * s5 good (best +inf again, capped); s6 -> 0.05; s7 -> 0.025 at min (1);
     * s8 9 < 10: good -> 0.05, and the increase restores the count (0);
     * s9 bad -> 0.025 at min (1) -- without the restore this would be the reset;
     * s10 at min (2): reset -> 0.1 */
    struct sched_greedy_config c = ref(0.1, 0.5, 0, 0.025, 0.1);
    struct sched_greedy s;
    double sig[] = {10, 10, 10, 10, 10, 10, 10, 9, 9, 9};
    double want[] = {.1, .05, .025, .1, .1, .05, .025, .05, .025, .1};

    c.reset_start = 2;
    TRACE("reset count", &c, &s, sig, want);
    CU_ASSERT_EQUAL(s.resets, 2);
    CU_ASSERT_EQUAL(s.at_min, 0);
    CU_ASSERT(isinf(s.best) && s.best > 0); /* best forgotten */
}

TG_TEST(sched, greedy_reset_empties_the_window_and_starts_a_cooldown) {
    /* mean of 3, patience 0, F 0.5, lr = max_lr = 0.1, min_lr 0.05, reset_start 2:
     * s1 mean 10 good (capped); s2 mean 10 bad -> 0.05 at min (1); s3 bad, at min (2): reset,
     * the window emptied. s4 mean of {4} = 4 good (capped); s5 mean of {4, 7} = 5.5 > 4: bad
     * -> 0.05. (Had the window kept 10, 10: s4 mean 8, s5 mean 7 < 8 good -> 0.1.) */
    struct sched_greedy_config c = ref(0.1, 0.5, 0, 0.05, 0.1);
    struct sched_greedy s;
    double sig[] = {10, 10, 10, 4, 7};
    double want[] = {.1, .05, .1, .1, .05};
    /* cooldown 1, max_lr 0.2, reset_start 1, flat: s1 -> 0.2; s2 -> 0.1, cooldown; s3 held;
     * s4 -> 0.05 at min: reset -> 0.1, and the decrease's cooldown follows the reset: s5
     * held; s6 better than +inf -> 0.2; s7 -> 0.1. (Without that cooldown s5 -> 0.2.) */
    double flat[] = {7, 7, 7, 7, 7, 7, 7};
    double want_cd[] = {.2, .1, .1, .1, .1, .2, .1};

    c.smooth = 1;
    c.window_size = 3;
    c.reset_start = 2;
    TRACE("reset empties the window", &c, &s, sig, want);
    CU_ASSERT_EQUAL(s.resets, 1);
    CU_ASSERT_EQUAL(s.last_value, 5.5);
    CU_ASSERT_EQUAL(s.win_len, 2);

    c = ref(0.1, 0.5, 0, 0.05, 0.2);
    c.cooldown = 1;
    c.reset_start = 1;
    TRACE("cooldown after a reset", &c, &s, flat, want_cd);
    CU_ASSERT_EQUAL(s.resets, 1);
}

TG_TEST(sched, greedy_streaming_mean) {
    /* mean of 3, patience 0, F 0.5: means 10, 7, 7, 6, 5 -> good, good, bad (7 is not below
     * 7), good, good; raw 10, 4, 7, 7, 1 -> good, good, bad, bad, good */
    struct sched_greedy_config c = ref(0.1, 0.5, 0, 0.01, 1.0);
    struct sched_greedy s;
    double sig[] = {10, 4, 7, 7, 1};
    double want_smooth[] = {.2, .4, .2, .4, .8};
    double want_raw[] = {.2, .4, .2, .1, .2};
    /* the window is fed in a hold too: mean of 2, cooldown 1, lr = max_lr = 0.1:
     * s1 mean 10 good (capped); s2 mean 11 bad -> 0.05, cooldown; s3 mean (12 + 0) / 2 held;
     * s4 mean (0 + 11) / 2 = 5.5 < 10 good -> 0.1 (unfed in s3 it would be 11.5: bad) */
    double held[] = {10, 12, 0, 11};
    double want_held[] = {.1, .05, .05, .1};

    TRACE("raw", &c, &s, sig, want_raw);
    c.smooth = 1;
    c.window_size = 3;
    TRACE("mean of 3", &c, &s, sig, want_smooth);
    CU_ASSERT_EQUAL(s.last_value, 5.0);
    /* the mean of what the window holds before it is full */
    CU_ASSERT_FATAL(sched_greedy_init(&s, &c, NULL) == 0);
    sched_greedy_step(&s, 10);
    sched_greedy_step(&s, 20);
    CU_ASSERT_EQUAL(s.last_value, 15.0);
    /* window_size 1 is the raw signal */
    c.window_size = 1;
    TRACE("mean of 1", &c, &s, sig, want_raw);

    c = ref(0.1, 0.5, 0, 0.01, 0.1);
    c.smooth = 1;
    c.window_size = 2;
    c.cooldown = 1;
    TRACE("window fed in a hold", &c, &s, held, want_held);
}

TG_TEST(sched, greedy_initial_hold_is_separate_and_off_by_default) {
    /* initial_hold 2 (toolgym's own): s1, s2 held, best unset; s3 30 better than +inf ->
     * 0.2; s4 29 < 30 -> 0.4. Without it: s1 10 -> 0.2, s2 20 bad -> 0.1, s3 bad -> 0.05,
     * s4 bad -> 0.025. */
    struct sched_greedy_config c = ref(0.1, 0.5, 0, 0.001, 1.0);
    struct sched_greedy s;
    double sig[] = {10, 20, 30, 29};
    double want_hold[] = {.1, .1, .2, .4};
    double want_none[] = {.2, .1, .05, .025};

    TRACE("no initial hold", &c, &s, sig, want_none);
    c.initial_hold = 2;
    TRACE("initial hold 2", &c, &s, sig, want_hold);
}

TG_TEST(sched, greedy_nonfinite_signal_is_bad) {
    /* mean of 3, patience 0: s1 5 -> 0.2; s2 NaN: bad -> 0.1, kept out of the window;
     * s3 mean of {5, 2} = 3.5 < 5 -> 0.2 */
    struct sched_greedy_config c = ref(0.1, 0.5, 0, 0.001, 1.0);
    struct sched_greedy s;
    double sig[] = {5, NAN, 2, INFINITY};
    double want[] = {.2, .1, .2, .1};

    c.smooth = 1;
    c.window_size = 3;
    TRACE("non-finite", &c, &s, sig, want);
    CU_ASSERT_EQUAL(s.best, 3.5);
    CU_ASSERT_EQUAL(s.win_len, 2);
}

TG_TEST(sched, greedy_config_rejected) {
    struct sched_greedy_config ok = sched_greedy_reference(), c;
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
    BAD("mode", c.mode = (enum sched_mode)5);
    BAD("factor", c.factor = 0.0);
    BAD("factor", c.factor = 1.0);
    BAD("factor", c.factor = 1.5);
    BAD("factor", c.factor = -0.5);
    BAD("factor", c.factor = NAN);
    BAD("patience", c.patience = -1);
    BAD("patience", c.patience = TG_SCHED_COUNT_MAX + 1);
    BAD("threshold", c.threshold = -0.1);
    BAD("threshold", c.threshold = INFINITY);
    BAD("threshold", (c.threshold_mode = SCHED_THRESHOLD_REL, c.threshold = 1.0));
    BAD("threshold_mode", c.threshold_mode = (enum sched_threshold_mode)7);
    BAD("warmup", c.warmup = -1);
    BAD("cooldown", c.cooldown = -2);
    BAD("min_lr", c.min_lr = -1e-3);
    BAD("max_lr", c.max_lr = 0.0);
    BAD("max_lr", c.max_lr = INFINITY);
    BAD("min_lr", (c.min_lr = 0.5, c.max_lr = 0.1, c.lr = 0.2));
    BAD("lr is", c.lr = 2.0);
    BAD("lr is", c.lr = 1e-9);
    BAD("eps", c.eps = -1e-8);
    BAD("eps", c.eps = NAN);
    BAD("smooth", c.smooth = 2);
    BAD("window_size", c.window_size = 0);
    BAD("window_size", c.window_size = TG_SCHED_WINDOW_MAX + 1);
    BAD("reset_start", c.reset_start = -1);
    BAD("initial_hold", c.initial_hold = -1);
    BAD("threshold_signed", c.threshold_signed = 3);
#undef BAD
    CU_ASSERT_EQUAL(sched_greedy_init(&s, &ok, &err), 0);
    c = ok, c.window_size = TG_SCHED_WINDOW_MAX, c.smooth = 1;
    CU_ASSERT_EQUAL(sched_greedy_init(&s, &c, &err), 0);
    c = ok, c.threshold_mode = SCHED_THRESHOLD_ABS, c.threshold = 5.0; /* abs may be >= 1 */
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
    c.greedy = ref(0.01, 0.5, 1, 0.001, 1.0);
    CU_ASSERT_FATAL(sched_init(&s, &c, &err) == 0);
    CU_ASSERT(rel_eq(s.lr, 0.01));
    sched_step(&s, sched_signal_value(c.signal, 9.0, 0.1)); /* reward 0.1: good 1 */
    /* reward up: signal down: good 2 > patience 1: up */
    CU_ASSERT(rel_eq(sched_step(&s, sched_signal_value(c.signal, 9.0, 0.3)), 0.02));
    CU_ASSERT_EQUAL(s.t, 2);
    /* the reward itself needs mode max; a signal and a mode that disagree are rejected */
    c.signal = SCHED_SIGNAL_REWARD;
    CU_ASSERT_EQUAL(sched_init(&s, &c, &err), TG_EINVAL);
    CU_ASSERT(strstr(err.message, "mode min") && strstr(err.message, "reward"));
    c.greedy.mode = SCHED_MODE_MAX;
    CU_ASSERT_FATAL(sched_init(&s, &c, &err) == 0);
    sched_step(&s, sched_signal_value(c.signal, 9.0, 0.1));
    CU_ASSERT(rel_eq(sched_step(&s, sched_signal_value(c.signal, 9.0, 0.3)), 0.02));
    CU_ASSERT_EQUAL(sched_signal_value(SCHED_SIGNAL_LOSS, 9.0, 0.3), 9.0);
    c.signal = SCHED_SIGNAL_NEG_REWARD;
    c.greedy.mode = SCHED_MODE_MIN;

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
    CU_ASSERT_EQUAL(sched_signal_parse("reward", &sig, &err), 0);
    CU_ASSERT_EQUAL(sig, SCHED_SIGNAL_REWARD);
    CU_ASSERT_EQUAL(sched_signal_parse("accuracy", &sig, &err), TG_EINVAL);
    CU_ASSERT_EQUAL(sched_threshold_mode_parse("relative", &mode, &err), TG_EINVAL);
    {
        enum sched_mode m;

        CU_ASSERT_EQUAL(sched_mode_parse("max", &m, &err), 0);
        CU_ASSERT_EQUAL(m, SCHED_MODE_MAX);
        CU_ASSERT_STRING_EQUAL(sched_mode_name(SCHED_MODE_MIN), "min");
        CU_ASSERT_STRING_EQUAL(sched_threshold_mode_name(SCHED_THRESHOLD_REL), "rel");
        CU_ASSERT_EQUAL(sched_mode_parse("up", &m, &err), TG_EINVAL);
        CU_ASSERT(strstr(err.message, "'up'") != NULL);
    }
}
