/*
 * sched.h — learning-rate schedules: constant, cosine with linear warmup, and GreedyLR
 * (Subramanian et al., arXiv 2512.14527), plus one struct sched the trainer drives.
 *
 * Does: compute the lr for the next update from the step number (constant, cosine) or from
 * the trainer's "lower is better" signal (GreedyLR), validate every setting.
 * Does not: touch the optimizer, read files, or log.
 * Thread-safety: pure functions and caller-owned state; no globals.
 *
 * GreedyLR, exactly (one call of sched_greedy_step per update, with that update's signal):
 *  1. t += 1. With window W > 1 the signal is replaced by the mean of its last min(t, W)
 *     values (the window is fed during warmup too); W <= 1 uses the raw signal.
 *  2. Warmup: while t <= warmup, return lr unchanged; nothing is counted and best is not
 *     tracked.
 *  3. The first step after warmup (or after a reset) only sets best = s.
 *  4. A step is good when s is better than best by more than the threshold:
 *       rel: s < best - threshold * |best|      abs: s < best - threshold
 *     A good step sets best = s (and marks "improved since the last cut").
 *  5. Cooldown: for `cooldown` steps after any lr change (and after a reset) good/bad
 *     counting pauses; best is still tracked.
 *  6. Otherwise a good step does num_good += 1, num_bad = 0; a bad step num_bad += 1,
 *     num_good = 0.
 *  7. num_good > patience: lr = min(lr / F, lr_max); counters to 0; futile count to 0.
 *     num_bad  > patience: a cut, lr = max(lr * F, lr_min); counters to 0. The cut is
 *     FUTILE when lr was already at lr_min, or when an earlier cut exists and no good step
 *     (new best) has happened since it. A non-futile cut zeroes the futile count, a futile
 *     one adds 1.
 *  8. Reset: when reset_start > 0 and the futile count reaches reset_start, lr = the initial
 *     lr, best forgotten (step 3 applies again), counters and futile count zeroed, the
 *     "earlier cut" forgotten, cooldown restarted. The smoothing window is kept.
 *  Cooldown (re)starts whenever the lr actually changes value.
 */
#ifndef TG_SCHED_H
#define TG_SCHED_H

#include "base/limits.h"
#include "base/tg.h"

enum sched_kind { SCHED_CONSTANT = 0, SCHED_COSINE = 1, SCHED_GREEDY = 2 };

/* what the trainer feeds GreedyLR (both "lower is better") */
enum sched_signal {
    SCHED_SIGNAL_LOSS = 0,       /* the update's training loss (default) */
    SCHED_SIGNAL_NEG_REWARD = 1, /* minus the mean episode reward of the update */
};

enum sched_threshold_mode { SCHED_THRESHOLD_REL = 0, SCHED_THRESHOLD_ABS = 1 };

/* ---- cosine ----------------------------------------------------------------------------- */

struct sched_cosine_config {
    double lr_max; /* peak lr, > 0 */
    double lr_min; /* final lr, in [0, lr_max] */
    long warmup;   /* linear warmup updates, in [0, total] */
    long total;    /* updates in the run, >= 1 */
};

/* sched_cosine_check — 0, or TG_EINVAL with a message in *err. */
int sched_cosine_check(const struct sched_cosine_config *c, struct tg_error *err);

/*
 * sched_cosine — lr of update t (0-based): t < warmup: lr_max * (t + 1) / warmup;
 * then lr_min + (lr_max - lr_min) * (1 + cos(pi * (t - warmup) / (total - warmup))) / 2;
 * t >= total: lr_min.
 */
double sched_cosine(const struct sched_cosine_config *c, long t);

/* ---- GreedyLR --------------------------------------------------------------------------- */

struct sched_greedy_config {
    double lr;                                /* initial lr, in [lr_min, lr_max] */
    double factor;                            /* F in (0, 1) */
    int patience;                             /* p >= 0 */
    double threshold;                         /* delta >= 0 */
    enum sched_threshold_mode threshold_mode; /* rel (default) or abs */
    int window;      /* smoothing window W in [0, TG_SCHED_WINDOW_MAX]; <= 1 off */
    int warmup;      /* >= 0 */
    int cooldown;    /* >= 0 */
    double lr_min;   /* >= 0 */
    double lr_max;   /* >= lr_min, > 0 */
    int reset_start; /* >= 0; 0 never resets */
};

struct sched_greedy {
    struct sched_greedy_config cfg;
    double lr; /* the lr for the next update */
    long t;    /* steps seen */
    int has_best;
    double best;
    int num_good, num_bad;
    int cooldown_left;
    int had_cut; /* a cut happened since the start or the last reset */
    int improved_since_cut;
    int futile_cuts;      /* consecutive futile cuts */
    long resets;          /* resets so far (for logs) */
    double last_smoothed; /* the signal as compared in the last step */
    double win[TG_SCHED_WINDOW_MAX];
    int win_len, win_pos;
};

/* sched_greedy_config_default — F 0.5, patience 2, threshold 1e-3 rel, window 5, warmup 0,
 * cooldown 0, lr_min 1e-5, lr_max 1e-1, reset_start 0, lr 1e-3. */
struct sched_greedy_config sched_greedy_config_default(void);

/* sched_greedy_check — 0, or TG_EINVAL with a message naming the bad setting in *err. */
int sched_greedy_check(const struct sched_greedy_config *c, struct tg_error *err);

/* sched_greedy_init — check cfg and start the state machine; 0 or TG_EINVAL (message). */
int sched_greedy_init(struct sched_greedy *s, const struct sched_greedy_config *cfg,
                      struct tg_error *err);

/* sched_greedy_step — feed one signal value (lower is better; not NaN); returns the new lr
 * (also in s->lr). A NaN or infinite signal counts as a bad step and is not averaged. */
double sched_greedy_step(struct sched_greedy *s, double signal);

/* ---- one schedule, whichever kind ------------------------------------------------------- */

struct sched_config {
    enum sched_kind kind;
    enum sched_signal signal; /* what the trainer passes to sched_step (GreedyLR only) */
    double lr;                /* constant lr */
    struct sched_cosine_config cosine;
    struct sched_greedy_config greedy;
};

struct sched {
    struct sched_config cfg;
    long t;    /* updates done */
    double lr; /* lr for the next update */
    struct sched_greedy greedy;
};

/* sched_config_check — check the settings of cfg->kind (others are ignored). */
int sched_config_check(const struct sched_config *cfg, struct tg_error *err);

/* sched_init — check cfg and set s->lr to the lr of the first update; 0 or TG_EINVAL. */
int sched_init(struct sched *s, const struct sched_config *cfg, struct tg_error *err);

/* sched_step — after an update whose signal was `signal` (ignored unless GreedyLR): advance
 * and return the lr for the next update (also in s->lr). */
double sched_step(struct sched *s, double signal);

/* sched_kind_name / sched_signal_name — "constant" | "cosine" | "greedy", "loss" |
 * "neg_reward" (static). sched_kind_parse / sched_signal_parse — the reverse; 0 or
 * TG_EINVAL with a message. */
const char *sched_kind_name(enum sched_kind k);
const char *sched_signal_name(enum sched_signal s);
int sched_kind_parse(const char *name, enum sched_kind *out, struct tg_error *err);
int sched_signal_parse(const char *name, enum sched_signal *out, struct tg_error *err);
/* sched_threshold_mode_parse — "rel" | "abs"; 0 or TG_EINVAL with a message. */
int sched_threshold_mode_parse(const char *name, enum sched_threshold_mode *out,
                               struct tg_error *err);

#endif
