/*
 * progfreeze.h — progressive freezing: the fallback of the pipelined trainer when freezing is
 * asked for without a plan (`--freeze progressive`). It watches each layer's gradient norm
 * and freezes layers, lowest first, once their norm has settled.
 *
 * Settled, precisely. After every gradient pass t the caller gives each layer's gradient
 * norm g_l(t) (the L2 norm of the layer's span of the summed gradient). For a layer not yet
 * frozen:
 *   e_l(t) = g_l(t)                                   on its first pass,
 *   e_l(t) = ema * e_l(t-1) + (1 - ema) * g_l(t)      afterwards   (an EMA of the norm);
 *   c_l(t) = |e_l(t) - e_l(t-1)| / e_l(t-1)           the EMA's relative change
 *            (0 when both are 0; infinite when only e_l(t-1) is 0);
 *   calm_l = calm_l + 1 when c_l(t) < tol, else 0     (consecutive calm passes).
 * A layer is settled when calm_l >= window: its EMA moved by less than `tol` (relative) on
 * each of the last `window` passes. So no layer settles before pass window + 1.
 * Freezing, lowest first: after a pass, while fewer than max_frozen layers are frozen and the
 * lowest unfrozen layer is settled, it is frozen (for good). A settled layer above an unfrozen
 * one waits (its calm count keeps growing) and freezes in the pass the layers below it are
 * all frozen. Frozen layers are no longer observed.
 * Does: the bookkeeping above, a pure function of the norms given. Does not: compute norms
 * or touch a network (pipetrain.c does both).
 * Thread-safety: one struct progfreeze per trainer; no shared state.
 */
#ifndef TG_PROGFREEZE_H
#define TG_PROGFREEZE_H

#include "base/tg.h"

#define PROGFREEZE_LAYERS_MAX 8 /* >= NET_LAYERS_MAX + 2 (net.h) */

struct progfreeze_config {
    double ema; /* EMA weight of the past, [0, 1); default 0.9 */
    double tol; /* relative change of the EMA below which a pass is calm, (0, 1]; 0.01 */
    int window; /* calm passes in a row that make a layer settled, 1..1000; 5 */
};

struct progfreeze {
    struct progfreeze_config cfg;
    int nlayers;
    int max_frozen;                        /* at most this many layers freeze */
    long passes;                           /* passes observed */
    int frozen;                            /* layers [0, frozen) are frozen */
    double ema[PROGFREEZE_LAYERS_MAX];     /* e_l */
    double change[PROGFREEZE_LAYERS_MAX];  /* c_l of the last pass (-1 before any) */
    int calm[PROGFREEZE_LAYERS_MAX];       /* calm_l */
    long frozen_at[PROGFREEZE_LAYERS_MAX]; /* the pass (1-based) that froze l, or 0 */
};

/* progfreeze_config_default — ema 0.9, tol 0.01, window 5. */
struct progfreeze_config progfreeze_config_default(void);

/* progfreeze_config_check — 0, or TG_EINVAL naming the setting (settle_ema, settle_tol,
 * settle_window) and its range. */
int progfreeze_config_check(const struct progfreeze_config *c, struct tg_error *err);

/* progfreeze_init — nothing observed, nothing frozen, for nlayers (1..PROGFREEZE_LAYERS_MAX)
 * layers of which at most max_frozen (clamped to 0..nlayers) may freeze. */
void progfreeze_init(struct progfreeze *pf, const struct progfreeze_config *c, int nlayers,
                     int max_frozen);

/*
 * progfreeze_observe — one gradient pass: norm[l] (nlayers, >= 0) is layer l's gradient norm;
 * entries of frozen layers are ignored. Updates the EMAs and calm counts and, when
 * may_freeze, freezes settled layers lowest first (may_freeze 0 observes only, e.g. during
 * the trainer's unfrozen calibration). Returns the number of layers frozen by this call.
 */
int progfreeze_observe(struct progfreeze *pf, const double *norm, int may_freeze);

#endif
