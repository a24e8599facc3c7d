/*
 * sched.h — learning-rate schedules: constant, cosine with linear warmup, and GreedyLR
 * (Subramanian et al., arXiv 2512.14527) exactly as its reference implementation defines it
 * (the GreedyLR scheduler of Hugging Face transformers), plus one struct sched the trainer
 * drives.
 *
 * Does: compute the lr for the next update from the step number (constant, cosine) or from
 * a metric (GreedyLR), validate every setting, name GreedyLR's presets.
 * Does not: touch the optimizer, read files, or log.
 * Thread-safety: pure functions and caller-owned state; no globals.
 *
 * GreedyLR, one call of sched_greedy_step per metric value m (the reference's rules; the
 * setting names are the reference's):
 *  1. smooth: m is replaced by the mean of the last min(n, window_size) values fed since the
 *     start or the last reset (the window is fed on every step, holds included).
 *  2. A hold: while a cooldown hold (after a decrease) or a warmup hold (after an increase)
 *     lasts, the step only counts the hold down and zeroes both run counters; best is not
 *     updated.
 *  3. Otherwise m is compared with best (+inf in mode min, -inf in max, until set):
 *       min, rel: m < best * (1 - threshold)    min, abs: m < best - threshold
 *       max, rel: m > best * (1 + threshold)    max, abs: m > best + threshold
 *     Better: best = m, num_bad = 0, num_good += 1. Else num_bad += 1, num_good = 0.
 *  4. num_good > patience: increase, lr' = min(lr / factor, max_lr), applied only when
 *     lr' - lr > eps; the at-min count restarts; a warmup hold of `warmup` steps begins;
 *     num_good = 0 (even when the change was skipped).
 *     Else num_bad > patience: decrease, lr' = max(lr * factor, min_lr), applied only when
 *     lr - lr' > eps; if the lr is now <= min_lr the at-min count grows by one, and when it
 *     reaches reset_start: reset; then a cooldown hold of `cooldown` steps begins (after a
 *     reset too); num_bad = 0.
 *  5. Reset: lr = the initial lr, best forgotten, counters, holds and the at-min count
 *     zeroed, the smoothing window emptied.
 *
 * The project's own, each a separately named setting that the reference preset leaves off:
 *  - initial_hold N: the first N steps are held like a cooldown (not restored by a reset).
 *  - threshold_signed: in rel mode the margin is threshold * |best|, so a negative best
 *    (a negated reward) needs a real improvement; the reference's best * (1 - threshold)
 *    lets a slightly worse negative value count as better.
 *  - reset_start 0 never resets (the reference has no "off": there 0 acts like 1).
 *  - A NaN or infinite metric is a bad step and is kept out of the window (the reference
 *    would carry it in its running sum for good).
 */
#ifndef TG_SCHED_H
#define TG_SCHED_H

#include "base/limits.h"
#include "base/tg.h"

enum sched_kind { SCHED_CONSTANT = 0, SCHED_COSINE = 1, SCHED_GREEDY = 2 };

/* what the trainer feeds GreedyLR */
enum sched_signal {
    SCHED_SIGNAL_LOSS = 0,       /* the update's training loss (lower is better: mode min) */
    SCHED_SIGNAL_NEG_REWARD = 1, /* minus the mean episode reward (mode min) */
    SCHED_SIGNAL_REWARD = 2,     /* the mean episode reward (higher is better: mode max) */
};

enum sched_mode { SCHED_MODE_MIN = 0, SCHED_MODE_MAX = 1 };

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
    double lr;                                /* initial lr, in [min_lr, max_lr] */
    enum sched_mode mode;                     /* min (lower is better) or max */
    double factor;                            /* F in (0, 1): lr * F down, lr / F up */
    int patience;                             /* [0, TG_SCHED_COUNT_MAX] */
    double threshold;                         /* >= 0; rel: < 1 */
    enum sched_threshold_mode threshold_mode; /* rel or abs */
    int cooldown;         /* hold after each decrease, [0, TG_SCHED_COUNT_MAX] */
    int warmup;           /* hold after each increase, [0, TG_SCHED_COUNT_MAX] */
    double min_lr;        /* >= 0 */
    double max_lr;        /* > 0, >= min_lr */
    double eps;           /* >= 0: a change of at most eps is skipped */
    int smooth;           /* 0 or 1: compare the mean of the last window_size values */
    int window_size;      /* [1, TG_SCHED_WINDOW_MAX] (used when smooth) */
    int reset_start;      /* at-min decreases before a reset, [0, TG_SCHED_COUNT_MAX]; 0: never */
    int initial_hold;     /* the project's own: steps held at the start, [0, TG_SCHED_COUNT_MAX] */
    int threshold_signed; /* the project's own, 0 or 1: rel margin threshold * |best| */
};

struct sched_greedy {
    struct sched_greedy_config cfg;
    double lr;   /* the lr for the next update */
    long t;      /* steps seen */
    double best; /* +inf (min) or -inf (max) until the first better step */
    int num_good, num_bad;
    int cooldown_left, warmup_left, hold_left;
    int at_min;        /* decreases that left the lr at min_lr since an increase or reset */
    long ups, downs;   /* applied increases and decreases */
    long resets;       /* resets so far */
    double last_value; /* the metric as compared in the last step (smoothed if smooth) */
    double win[TG_SCHED_WINDOW_MAX]; /* the smoothing window, a ring of win_len values */
    double win_sum;                  /* running sum of the window, as the reference keeps it */
    int win_len, win_pos;            /* win_pos: where the next value goes */
};

/* sched_greedy_preset — the settings of preset `name` into *out: "reference" (the reference
 * implementation's defaults: mode min, factor 0.95, patience 10, threshold 1e-6 abs,
 * cooldown 0, warmup 0, min_lr 1e-3, max_lr 1, eps 1e-8, no smoothing (window_size 50),
 * reset_start 500; lr 0.1, which the caller sets) or "trainer" (what `toolgym train
 * --lr-schedule greedy` uses: factor 0.7, patience 1, threshold 0.01 abs, smoothing over 3,
 * cooldown 1, warmup 1, min_lr 1e-4, max_lr 1e-2, eps 1e-8, reset_start 3, lr 3e-3). Neither
 * turns on the project's own settings. 0, or TG_EINVAL with a message naming the presets. */
int sched_greedy_preset(const char *name, struct sched_greedy_config *out, struct tg_error *err);

/* sched_greedy_reference — the "reference" preset. */
struct sched_greedy_config sched_greedy_reference(void);

/* sched_greedy_preset_names — "reference, trainer" (static), for usage and messages. */
const char *sched_greedy_preset_names(void);

/* sched_greedy_check — 0, or TG_EINVAL with a message naming the bad setting (by the names
 * above) in *err. */
int sched_greedy_check(const struct sched_greedy_config *c, struct tg_error *err);

/* sched_greedy_init — check cfg and start the state machine; 0 or TG_EINVAL (message). */
int sched_greedy_init(struct sched_greedy *s, const struct sched_greedy_config *cfg,
                      struct tg_error *err);

/* sched_greedy_step — feed one metric value; returns the lr for the next update (also in
 * s->lr). A NaN or infinite value is a bad step and is not averaged. */
double sched_greedy_step(struct sched_greedy *s, double metric);

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

/* sched_config_check — check the settings of cfg->kind (others are ignored); for GreedyLR
 * also that greedy.mode is the one cfg->signal needs. */
int sched_config_check(const struct sched_config *cfg, struct tg_error *err);

/* sched_init — check cfg and set s->lr to the lr of the first update; 0 or TG_EINVAL. */
int sched_init(struct sched *s, const struct sched_config *cfg, struct tg_error *err);

/* sched_step — after an update whose signal was `signal` (ignored unless GreedyLR; the
 * value cfg.signal names): advance and return the lr for the next update (also in s->lr). */
double sched_step(struct sched *s, double signal);

/* sched_kind_name / sched_signal_name — "constant" | "cosine" | "greedy", "loss" |
 * "neg_reward" | "reward" (static). sched_kind_parse / sched_signal_parse — the reverse; 0 or
 * TG_EINVAL with a message. */
const char *sched_kind_name(enum sched_kind k);
const char *sched_signal_name(enum sched_signal s);
int sched_kind_parse(const char *name, enum sched_kind *out, struct tg_error *err);
int sched_signal_parse(const char *name, enum sched_signal *out, struct tg_error *err);
/* sched_threshold_mode_parse — "rel" | "abs"; sched_mode_parse — "min" | "max"; 0 or
 * TG_EINVAL with a message. sched_threshold_mode_name / sched_mode_name — the reverse. */
int sched_threshold_mode_parse(const char *name, enum sched_threshold_mode *out,
                               struct tg_error *err);
int sched_mode_parse(const char *name, enum sched_mode *out, struct tg_error *err);
const char *sched_threshold_mode_name(enum sched_threshold_mode m);
const char *sched_mode_name(enum sched_mode m);

/* sched_signal_value — what sched_step is fed for signal s after an update with this loss and
 * mean episode reward: loss, -reward or reward. */
double sched_signal_value(enum sched_signal s, double loss, double reward);

/* sched_signal_mode — the GreedyLR mode a trainer signal needs (loss, neg_reward: min;
 * reward: max). */
enum sched_mode sched_signal_mode(enum sched_signal s);

#endif
