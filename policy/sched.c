/*
 * sched.c — constant, cosine and GreedyLR learning-rate schedules (see sched.h for the exact
 * GreedyLR rules and where they come from).
 */
#include "policy/sched.h"

#include <math.h>
#include <string.h>

/* ---- cosine ----------------------------------------------------------------------------- */

int sched_cosine_check(const struct sched_cosine_config *c, struct tg_error *err) {
    if (!(c->lr_max > 0.0) || !isfinite(c->lr_max)) {
        tg_error_set(err, TG_CODE_CONFIG, "cosine lr_max is %g; it must be > 0", c->lr_max);
        return TG_EINVAL;
    }
    if (!(c->lr_min >= 0.0 && c->lr_min <= c->lr_max)) {
        tg_error_set(err, TG_CODE_CONFIG, "cosine lr_min is %g; it must be in [0, lr_max=%g]",
                     c->lr_min, c->lr_max);
        return TG_EINVAL;
    }
    if (c->total < 1) {
        tg_error_set(err, TG_CODE_CONFIG, "cosine total is %ld; it must be >= 1", c->total);
        return TG_EINVAL;
    }
    if (c->warmup < 0 || c->warmup > c->total) {
        tg_error_set(err, TG_CODE_CONFIG, "cosine warmup is %ld; it must be in [0, total=%ld]",
                     c->warmup, c->total);
        return TG_EINVAL;
    }
    return 0;
}

double sched_cosine(const struct sched_cosine_config *c, long t) {
    double ratio;

    if (t < c->warmup)
        return c->lr_max * (double)(t + 1) / (double)c->warmup;
    if (t >= c->total)
        return c->lr_min;
    ratio = (double)(t - c->warmup) / (double)(c->total - c->warmup);
    return c->lr_min + (c->lr_max - c->lr_min) * 0.5 * (1.0 + cos(M_PI * ratio));
}

/* ---- GreedyLR --------------------------------------------------------------------------- */

/* Presets: a table, so a new one is a new row. */
static const struct {
    const char *name;
    struct sched_greedy_config cfg;
} presets[] = {
    {"reference",
     {.lr = 0.1,
      .mode = SCHED_MODE_MIN,
      .factor = 0.95,
      .patience = 10,
      .threshold = 1e-6,
      .threshold_mode = SCHED_THRESHOLD_ABS,
      .cooldown = 0,
      .warmup = 0,
      .min_lr = 1e-3,
      .max_lr = 1.0,
      .eps = 1e-8,
      .smooth = 0,
      .window_size = 50,
      .reset_start = 500}},
    {"trainer",
     {.lr = 3e-3,
      .mode = SCHED_MODE_MIN,
      .factor = 0.7,
      .patience = 1,
      .threshold = 0.01,
      .threshold_mode = SCHED_THRESHOLD_ABS,
      .cooldown = 1,
      .warmup = 1,
      .min_lr = 1e-4,
      .max_lr = 1e-2,
      .eps = 1e-8,
      .smooth = 1,
      .window_size = 3,
      .reset_start = 3}},
};

int sched_greedy_preset(const char *name, struct sched_greedy_config *out, struct tg_error *err) {
    for (size_t i = 0; i < TG_ARRAY_LEN(presets); i++)
        if (strcmp(name, presets[i].name) == 0) {
            *out = presets[i].cfg;
            return 0;
        }
    tg_error_set(err, TG_CODE_CONFIG, "unknown GreedyLR preset '%.64s' (%s)", name,
                 sched_greedy_preset_names());
    return TG_EINVAL;
}

struct sched_greedy_config sched_greedy_reference(void) {
    return presets[0].cfg;
}

const char *sched_greedy_preset_names(void) {
    return "reference, trainer";
}

/* a count setting (patience, holds, reset_start) in [0, TG_SCHED_COUNT_MAX] */
static int check_count(const char *name, int v, struct tg_error *err) {
    if (v >= 0 && v <= TG_SCHED_COUNT_MAX)
        return 0;
    tg_error_set(err, TG_CODE_CONFIG, "%s is %d; it must be in [0, %d]", name, v,
                 TG_SCHED_COUNT_MAX);
    return TG_EINVAL;
}

int sched_greedy_check(const struct sched_greedy_config *c, struct tg_error *err) {
    const struct {
        const char *name;
        int v;
    } counts[] = {{"patience", c->patience},
                  {"cooldown", c->cooldown},
                  {"warmup", c->warmup},
                  {"reset_start", c->reset_start},
                  {"initial_hold", c->initial_hold}};

    if (c->mode != SCHED_MODE_MIN && c->mode != SCHED_MODE_MAX) {
        tg_error_set(err, TG_CODE_CONFIG, "mode must be min or max");
        return TG_EINVAL;
    }
    if (!(c->factor > 0.0 && c->factor < 1.0)) {
        tg_error_set(err, TG_CODE_CONFIG, "factor is %g; it must be in (0, 1)", c->factor);
        return TG_EINVAL;
    }
    for (size_t i = 0; i < TG_ARRAY_LEN(counts); i++)
        if (check_count(counts[i].name, counts[i].v, err))
            return TG_EINVAL;
    if (c->threshold_mode != SCHED_THRESHOLD_REL && c->threshold_mode != SCHED_THRESHOLD_ABS) {
        tg_error_set(err, TG_CODE_CONFIG, "threshold_mode must be rel or abs");
        return TG_EINVAL;
    }
    if (!(c->threshold >= 0.0) || !isfinite(c->threshold)) {
        tg_error_set(err, TG_CODE_CONFIG, "threshold is %g; it must be >= 0", c->threshold);
        return TG_EINVAL;
    }
    if (c->threshold_mode == SCHED_THRESHOLD_REL && !(c->threshold < 1.0)) {
        tg_error_set(err, TG_CODE_CONFIG,
                     "threshold is %g; in rel mode it must be below 1 (a fraction of best)",
                     c->threshold);
        return TG_EINVAL;
    }
    if (!(c->min_lr >= 0.0) || !isfinite(c->min_lr)) {
        tg_error_set(err, TG_CODE_CONFIG, "min_lr is %g; it must be >= 0", c->min_lr);
        return TG_EINVAL;
    }
    if (!(c->max_lr > 0.0) || !isfinite(c->max_lr)) {
        tg_error_set(err, TG_CODE_CONFIG, "max_lr is %g; it must be > 0", c->max_lr);
        return TG_EINVAL;
    }
    if (c->min_lr > c->max_lr) {
        tg_error_set(err, TG_CODE_CONFIG, "min_lr %g is above max_lr %g", c->min_lr, c->max_lr);
        return TG_EINVAL;
    }
    if (!(c->lr >= c->min_lr && c->lr <= c->max_lr)) {
        tg_error_set(err, TG_CODE_CONFIG, "lr is %g; it must be in [min_lr %g, max_lr %g]", c->lr,
                     c->min_lr, c->max_lr);
        return TG_EINVAL;
    }
    if (!(c->eps >= 0.0) || !isfinite(c->eps)) {
        tg_error_set(err, TG_CODE_CONFIG, "eps is %g; it must be >= 0", c->eps);
        return TG_EINVAL;
    }
    if (c->smooth != 0 && c->smooth != 1) {
        tg_error_set(err, TG_CODE_CONFIG, "smooth must be true or false");
        return TG_EINVAL;
    }
    if (c->window_size < 1 || c->window_size > TG_SCHED_WINDOW_MAX) {
        tg_error_set(err, TG_CODE_CONFIG, "window_size is %d; it must be in [1, %d]",
                     c->window_size, TG_SCHED_WINDOW_MAX);
        return TG_EINVAL;
    }
    if (c->threshold_signed != 0 && c->threshold_signed != 1) {
        tg_error_set(err, TG_CODE_CONFIG, "threshold_signed must be true or false");
        return TG_EINVAL;
    }
    return 0;
}

/* best before any better step: every finite value beats it */
static double worst(const struct sched_greedy *s) {
    return s->cfg.mode == SCHED_MODE_MIN ? INFINITY : -INFINITY;
}

int sched_greedy_init(struct sched_greedy *s, const struct sched_greedy_config *cfg,
                      struct tg_error *err) {
    int rc;

    memset(s, 0, sizeof(*s));
    rc = sched_greedy_check(cfg, err);
    if (rc)
        return rc;
    s->cfg = *cfg;
    s->lr = cfg->lr;
    s->best = worst(s);
    s->hold_left = cfg->initial_hold;
    return 0;
}

/* add x to the window, dropping the oldest value past window_size; return the mean. The sum
 * is kept running (add, then subtract what leaves), as the reference does. */
static double window_push(struct sched_greedy *s, double x) {
    int w = s->cfg.window_size;

    s->win_sum += x;
    if (s->win_len == w) {
        s->win_sum -= s->win[s->win_pos]; /* the oldest value sits where the next one goes */
    } else {
        s->win_len++;
    }
    s->win[s->win_pos] = x;
    s->win_pos = (s->win_pos + 1) % w;
    return s->win_sum / s->win_len;
}

static int is_better(const struct sched_greedy *s, double x) {
    const struct sched_greedy_config *c = &s->cfg;
    double best = s->best, t = c->threshold;

    if (!isfinite(best)) /* nothing yet: the reference's +-inf comparison holds for any x */
        return 1;
    if (c->threshold_mode == SCHED_THRESHOLD_ABS)
        return c->mode == SCHED_MODE_MIN ? x < best - t : x > best + t;
    if (c->threshold_signed)
        return c->mode == SCHED_MODE_MIN ? x < best - t * fabs(best) : x > best + t * fabs(best);
    return c->mode == SCHED_MODE_MIN ? x < best * (1.0 - t) : x > best * (1.0 + t);
}

static void greedy_reset(struct sched_greedy *s) {
    s->lr = s->cfg.lr;
    s->best = worst(s);
    s->num_good = 0;
    s->num_bad = 0;
    s->cooldown_left = 0;
    s->warmup_left = 0;
    s->at_min = 0;
    s->win_len = 0;
    s->win_pos = 0;
    s->win_sum = 0.0;
    s->resets++;
}

static void increase(struct sched_greedy *s) {
    double lr = fmin(s->lr / s->cfg.factor, s->cfg.max_lr);

    if (lr - s->lr > s->cfg.eps) {
        s->lr = lr;
        s->ups++;
    }
    s->at_min = 0;
}

static void decrease(struct sched_greedy *s) {
    double lr = fmax(s->lr * s->cfg.factor, s->cfg.min_lr);

    if (s->lr - lr > s->cfg.eps) {
        s->lr = lr;
        s->downs++;
    }
    if (s->lr <= s->cfg.min_lr && s->cfg.reset_start > 0 && ++s->at_min >= s->cfg.reset_start)
        greedy_reset(s);
}

double sched_greedy_step(struct sched_greedy *s, double metric) {
    int finite = isfinite(metric);
    double x = metric;

    s->t++;
    if (finite && s->cfg.smooth)
        x = window_push(s, metric);
    s->last_value = x;

    if (s->hold_left > 0 || s->cooldown_left > 0 || s->warmup_left > 0) {
        if (s->hold_left > 0)
            s->hold_left--;
        else if (s->cooldown_left > 0)
            s->cooldown_left--;
        else
            s->warmup_left--;
        s->num_good = 0;
        s->num_bad = 0;
        return s->lr;
    }

    if (finite && is_better(s, x)) {
        s->best = x;
        s->num_bad = 0;
        s->num_good++;
    } else {
        s->num_bad++;
        s->num_good = 0;
    }
    if (s->num_good > s->cfg.patience) {
        increase(s);
        s->warmup_left = s->cfg.warmup;
        s->num_good = 0;
    } else if (s->num_bad > s->cfg.patience) {
        decrease(s);
        s->cooldown_left = s->cfg.cooldown;
        s->num_bad = 0;
    }
    return s->lr;
}

/* ---- one schedule ----------------------------------------------------------------------- */

double sched_signal_value(enum sched_signal s, double loss, double reward) {
    switch (s) {
    case SCHED_SIGNAL_LOSS:
        return loss;
    case SCHED_SIGNAL_NEG_REWARD:
        return -reward;
    case SCHED_SIGNAL_REWARD:
        return reward;
    }
    return NAN;
}

enum sched_mode sched_signal_mode(enum sched_signal s) {
    return s == SCHED_SIGNAL_REWARD ? SCHED_MODE_MAX : SCHED_MODE_MIN;
}

int sched_config_check(const struct sched_config *cfg, struct tg_error *err) {
    int rc;

    if (cfg->signal != SCHED_SIGNAL_LOSS && cfg->signal != SCHED_SIGNAL_NEG_REWARD &&
        cfg->signal != SCHED_SIGNAL_REWARD) {
        tg_error_set(err, TG_CODE_CONFIG, "schedule signal must be loss, neg_reward or reward");
        return TG_EINVAL;
    }
    switch (cfg->kind) {
    case SCHED_CONSTANT:
        if (!(cfg->lr > 0.0) || !isfinite(cfg->lr)) {
            tg_error_set(err, TG_CODE_CONFIG, "constant lr is %g; it must be > 0", cfg->lr);
            return TG_EINVAL;
        }
        return 0;
    case SCHED_COSINE:
        return sched_cosine_check(&cfg->cosine, err);
    case SCHED_GREEDY:
        rc = sched_greedy_check(&cfg->greedy, err);
        if (rc == 0 && cfg->greedy.mode != sched_signal_mode(cfg->signal)) {
            tg_error_set(err, TG_CODE_CONFIG,
                         "GreedyLR mode %s does not fit signal %s (%s is %s better)",
                         sched_mode_name(cfg->greedy.mode), sched_signal_name(cfg->signal),
                         sched_signal_name(cfg->signal),
                         sched_signal_mode(cfg->signal) == SCHED_MODE_MIN ? "lower" : "higher");
            rc = TG_EINVAL;
        }
        return rc;
    }
    tg_error_set(err, TG_CODE_CONFIG, "schedule kind must be constant, cosine or greedy");
    return TG_EINVAL;
}

int sched_init(struct sched *s, const struct sched_config *cfg, struct tg_error *err) {
    int rc;

    memset(s, 0, sizeof(*s));
    rc = sched_config_check(cfg, err);
    if (rc)
        return rc;
    s->cfg = *cfg;
    switch (cfg->kind) {
    case SCHED_CONSTANT:
        s->lr = cfg->lr;
        break;
    case SCHED_COSINE:
        s->lr = sched_cosine(&cfg->cosine, 0);
        break;
    case SCHED_GREEDY:
        rc = sched_greedy_init(&s->greedy, &cfg->greedy, err);
        if (rc)
            return rc;
        s->lr = s->greedy.lr;
        break;
    }
    return 0;
}

double sched_step(struct sched *s, double signal) {
    s->t++;
    switch (s->cfg.kind) {
    case SCHED_CONSTANT:
        s->lr = s->cfg.lr;
        break;
    case SCHED_COSINE:
        s->lr = sched_cosine(&s->cfg.cosine, s->t);
        break;
    case SCHED_GREEDY:
        s->lr = sched_greedy_step(&s->greedy, signal);
        break;
    }
    return s->lr;
}

/* ---- names ------------------------------------------------------------------------------ */

static const char *const kind_names[] = {"constant", "cosine", "greedy"};
static const char *const signal_names[] = {"loss", "neg_reward", "reward"};
static const char *const threshold_mode_names[] = {"rel", "abs"};
static const char *const mode_names[] = {"min", "max"};

const char *sched_kind_name(enum sched_kind k) {
    return tg_name_of(kind_names, TG_ARRAY_LEN(kind_names), (int)k);
}

const char *sched_signal_name(enum sched_signal s) {
    return tg_name_of(signal_names, TG_ARRAY_LEN(signal_names), (int)s);
}

int sched_kind_parse(const char *name, enum sched_kind *out, struct tg_error *err) {
    int i = tg_name_index(kind_names, TG_ARRAY_LEN(kind_names), name);

    if (i < 0) {
        tg_error_set(err, TG_CODE_CONFIG, "unknown schedule '%.64s' (constant, cosine, greedy)",
                     name);
        return TG_EINVAL;
    }
    *out = (enum sched_kind)i;
    return 0;
}

int sched_signal_parse(const char *name, enum sched_signal *out, struct tg_error *err) {
    int i = tg_name_index(signal_names, TG_ARRAY_LEN(signal_names), name);

    if (i < 0) {
        tg_error_set(err, TG_CODE_CONFIG,
                     "unknown schedule signal '%.64s' (loss, neg_reward, reward)", name);
        return TG_EINVAL;
    }
    *out = (enum sched_signal)i;
    return 0;
}

int sched_threshold_mode_parse(const char *name, enum sched_threshold_mode *out,
                               struct tg_error *err) {
    int i = tg_name_index(threshold_mode_names, TG_ARRAY_LEN(threshold_mode_names), name);

    if (i < 0) {
        tg_error_set(err, TG_CODE_CONFIG, "unknown threshold mode '%.64s' (rel, abs)", name);
        return TG_EINVAL;
    }
    *out = (enum sched_threshold_mode)i;
    return 0;
}

int sched_mode_parse(const char *name, enum sched_mode *out, struct tg_error *err) {
    int i = tg_name_index(mode_names, TG_ARRAY_LEN(mode_names), name);

    if (i < 0) {
        tg_error_set(err, TG_CODE_CONFIG, "unknown mode '%.64s' (min, max)", name);
        return TG_EINVAL;
    }
    *out = (enum sched_mode)i;
    return 0;
}

const char *sched_threshold_mode_name(enum sched_threshold_mode m) {
    return tg_name_of(threshold_mode_names, TG_ARRAY_LEN(threshold_mode_names), (int)m);
}

const char *sched_mode_name(enum sched_mode m) {
    return tg_name_of(mode_names, TG_ARRAY_LEN(mode_names), (int)m);
}
