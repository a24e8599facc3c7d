/*
 * sched.c — constant, cosine and GreedyLR learning-rate schedules (see sched.h for the exact
 * GreedyLR rules).
 */
#include "policy/sched.h"

#include <math.h>
#include <string.h>

/* ---- cosine ----------------------------------------------------------------------------- */

int sched_cosine_check(const struct sched_cosine_config *c, struct tg_error *err) {
    if (!(c->lr_max > 0.0) || !isfinite(c->lr_max)) {
        tg_error_set(err, "invalid_config", "cosine lr_max is %g; it must be > 0", c->lr_max);
        return TG_EINVAL;
    }
    if (!(c->lr_min >= 0.0 && c->lr_min <= c->lr_max)) {
        tg_error_set(err, "invalid_config", "cosine lr_min is %g; it must be in [0, lr_max=%g]",
                     c->lr_min, c->lr_max);
        return TG_EINVAL;
    }
    if (c->total < 1) {
        tg_error_set(err, "invalid_config", "cosine total is %ld; it must be >= 1", c->total);
        return TG_EINVAL;
    }
    if (c->warmup < 0 || c->warmup > c->total) {
        tg_error_set(err, "invalid_config", "cosine warmup is %ld; it must be in [0, total=%ld]",
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

struct sched_greedy_config sched_greedy_config_default(void) {
    struct sched_greedy_config c = {
        .lr = 1e-3,
        .factor = 0.5,
        .patience = 2,
        .threshold = 1e-3,
        .threshold_mode = SCHED_THRESHOLD_REL,
        .window = 5,
        .warmup = 0,
        .cooldown = 0,
        .lr_min = 1e-5,
        .lr_max = 1e-1,
        .reset_start = 0,
    };

    return c;
}

int sched_greedy_check(const struct sched_greedy_config *c, struct tg_error *err) {
    if (!(c->factor > 0.0 && c->factor < 1.0)) {
        tg_error_set(err, "invalid_config", "greedy factor is %g; it must be in (0, 1)", c->factor);
        return TG_EINVAL;
    }
    if (c->patience < 0) {
        tg_error_set(err, "invalid_config", "greedy patience is %d; it must be >= 0", c->patience);
        return TG_EINVAL;
    }
    if (!(c->threshold >= 0.0) || !isfinite(c->threshold)) {
        tg_error_set(err, "invalid_config", "greedy threshold is %g; it must be >= 0",
                     c->threshold);
        return TG_EINVAL;
    }
    if (c->threshold_mode != SCHED_THRESHOLD_REL && c->threshold_mode != SCHED_THRESHOLD_ABS) {
        tg_error_set(err, "invalid_config", "greedy threshold_mode must be rel or abs");
        return TG_EINVAL;
    }
    if (c->window < 0 || c->window > TG_SCHED_WINDOW_MAX) {
        tg_error_set(err, "invalid_config", "greedy window is %d; it must be in [0, %d]", c->window,
                     TG_SCHED_WINDOW_MAX);
        return TG_EINVAL;
    }
    if (c->warmup < 0) {
        tg_error_set(err, "invalid_config", "greedy warmup is %d; it must be >= 0", c->warmup);
        return TG_EINVAL;
    }
    if (c->cooldown < 0) {
        tg_error_set(err, "invalid_config", "greedy cooldown is %d; it must be >= 0", c->cooldown);
        return TG_EINVAL;
    }
    if (!(c->lr_min >= 0.0) || !isfinite(c->lr_min)) {
        tg_error_set(err, "invalid_config", "greedy lr_min is %g; it must be >= 0", c->lr_min);
        return TG_EINVAL;
    }
    if (!(c->lr_max > 0.0) || !isfinite(c->lr_max)) {
        tg_error_set(err, "invalid_config", "greedy lr_max is %g; it must be > 0", c->lr_max);
        return TG_EINVAL;
    }
    if (c->lr_min > c->lr_max) {
        tg_error_set(err, "invalid_config", "greedy lr_min %g is above lr_max %g", c->lr_min,
                     c->lr_max);
        return TG_EINVAL;
    }
    if (!(c->lr >= c->lr_min && c->lr <= c->lr_max)) {
        tg_error_set(err, "invalid_config", "greedy lr is %g; it must be in [lr_min=%g, lr_max=%g]",
                     c->lr, c->lr_min, c->lr_max);
        return TG_EINVAL;
    }
    if (c->reset_start < 0) {
        tg_error_set(err, "invalid_config", "greedy reset_start is %d; it must be >= 0",
                     c->reset_start);
        return TG_EINVAL;
    }
    return 0;
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
    return 0;
}

/* push x into the window; return the mean of what it holds */
static double window_push(struct sched_greedy *s, double x) {
    double sum = 0.0;

    s->win[s->win_pos] = x;
    s->win_pos = (s->win_pos + 1) % s->cfg.window;
    if (s->win_len < s->cfg.window)
        s->win_len++;
    for (int i = 0; i < s->win_len; i++)
        sum += s->win[i];
    return sum / s->win_len;
}

static int is_better(const struct sched_greedy *s, double x) {
    double margin = s->cfg.threshold;

    if (s->cfg.threshold_mode == SCHED_THRESHOLD_REL)
        margin *= fabs(s->best);
    return x < s->best - margin;
}

static void set_lr(struct sched_greedy *s, double lr) {
    if (lr != s->lr)
        s->cooldown_left = s->cfg.cooldown;
    s->lr = lr;
}

static void greedy_reset(struct sched_greedy *s) {
    s->lr = s->cfg.lr;
    s->has_best = 0;
    s->num_good = 0;
    s->num_bad = 0;
    s->had_cut = 0;
    s->improved_since_cut = 0;
    s->futile_cuts = 0;
    s->cooldown_left = s->cfg.cooldown;
    s->resets++;
}

double sched_greedy_step(struct sched_greedy *s, double signal) {
    int finite = isfinite(signal), good;
    double x = signal;

    s->t++;
    if (finite && s->cfg.window > 1)
        x = window_push(s, signal);
    s->last_smoothed = x;
    if (s->t <= s->cfg.warmup)
        return s->lr;
    if (!s->has_best) {
        if (finite) {
            s->best = x;
            s->has_best = 1;
        }
        return s->lr;
    }

    good = finite && is_better(s, x);
    if (good) {
        s->best = x;
        s->improved_since_cut = 1;
    }
    if (s->cooldown_left > 0) {
        s->cooldown_left--;
        return s->lr;
    }
    if (good) {
        s->num_good++;
        s->num_bad = 0;
    } else {
        s->num_bad++;
        s->num_good = 0;
    }

    if (s->num_good > s->cfg.patience) {
        double lr = s->lr / s->cfg.factor;

        set_lr(s, lr > s->cfg.lr_max ? s->cfg.lr_max : lr);
        s->num_good = 0;
        s->num_bad = 0;
        s->futile_cuts = 0;
    } else if (s->num_bad > s->cfg.patience) {
        double lr = s->lr * s->cfg.factor;
        int futile = s->lr <= s->cfg.lr_min || (s->had_cut && !s->improved_since_cut);

        set_lr(s, lr < s->cfg.lr_min ? s->cfg.lr_min : lr);
        s->num_good = 0;
        s->num_bad = 0;
        s->had_cut = 1;
        s->improved_since_cut = 0;
        s->futile_cuts = futile ? s->futile_cuts + 1 : 0;
        if (s->cfg.reset_start > 0 && s->futile_cuts >= s->cfg.reset_start)
            greedy_reset(s);
    }
    return s->lr;
}

/* ---- one schedule ----------------------------------------------------------------------- */

int sched_config_check(const struct sched_config *cfg, struct tg_error *err) {
    if (cfg->signal != SCHED_SIGNAL_LOSS && cfg->signal != SCHED_SIGNAL_NEG_REWARD) {
        tg_error_set(err, "invalid_config", "schedule signal must be loss or neg_reward");
        return TG_EINVAL;
    }
    switch (cfg->kind) {
    case SCHED_CONSTANT:
        if (!(cfg->lr > 0.0) || !isfinite(cfg->lr)) {
            tg_error_set(err, "invalid_config", "constant lr is %g; it must be > 0", cfg->lr);
            return TG_EINVAL;
        }
        return 0;
    case SCHED_COSINE:
        return sched_cosine_check(&cfg->cosine, err);
    case SCHED_GREEDY:
        return sched_greedy_check(&cfg->greedy, err);
    }
    tg_error_set(err, "invalid_config", "schedule kind must be constant, cosine or greedy");
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
static const char *const signal_names[] = {"loss", "neg_reward"};
static const char *const mode_names[] = {"rel", "abs"};

const char *sched_kind_name(enum sched_kind k) {
    return tg_name_of(kind_names, TG_ARRAY_LEN(kind_names), (int)k);
}

const char *sched_signal_name(enum sched_signal s) {
    return tg_name_of(signal_names, TG_ARRAY_LEN(signal_names), (int)s);
}

int sched_kind_parse(const char *name, enum sched_kind *out, struct tg_error *err) {
    int i = tg_name_index(kind_names, TG_ARRAY_LEN(kind_names), name);

    if (i < 0) {
        tg_error_set(err, "invalid_config", "unknown schedule '%.64s' (constant, cosine, greedy)",
                     name);
        return TG_EINVAL;
    }
    *out = (enum sched_kind)i;
    return 0;
}

int sched_signal_parse(const char *name, enum sched_signal *out, struct tg_error *err) {
    int i = tg_name_index(signal_names, TG_ARRAY_LEN(signal_names), name);

    if (i < 0) {
        tg_error_set(err, "invalid_config", "unknown schedule signal '%.64s' (loss, neg_reward)",
                     name);
        return TG_EINVAL;
    }
    *out = (enum sched_signal)i;
    return 0;
}

int sched_threshold_mode_parse(const char *name, enum sched_threshold_mode *out,
                               struct tg_error *err) {
    int i = tg_name_index(mode_names, TG_ARRAY_LEN(mode_names), name);

    if (i < 0) {
        tg_error_set(err, "invalid_config", "unknown threshold mode '%.64s' (rel, abs)", name);
        return TG_EINVAL;
    }
    *out = (enum sched_threshold_mode)i;
    return 0;
}
