/*
 * progfreeze.c — progressive freezing of layers whose gradient norm has settled. See
 * progfreeze.h for the definition.
 */
#include "policy/progfreeze.h"

#include <math.h>
#include <string.h>

struct progfreeze_config progfreeze_config_default(void) {
    struct progfreeze_config c;

    c.ema = 0.9;
    c.tol = 0.01;
    c.window = 5;
    return c;
}

int progfreeze_config_check(const struct progfreeze_config *c, struct tg_error *err) {
    if (!(c->ema >= 0 && c->ema < 1)) {
        tg_error_set(err, TG_CODE_CONFIG, "settle_ema = %g is out of range: [0, 1)", c->ema);
        return TG_EINVAL;
    }
    if (!(c->tol > 0 && c->tol <= 1)) {
        tg_error_set(err, TG_CODE_CONFIG, "settle_tol = %g is out of range: (0, 1]", c->tol);
        return TG_EINVAL;
    }
    if (c->window < 1 || c->window > 1000) {
        tg_error_set(err, TG_CODE_CONFIG, "settle_window = %d is out of range: 1..1000", c->window);
        return TG_EINVAL;
    }
    return 0;
}

void progfreeze_init(struct progfreeze *pf, const struct progfreeze_config *c, int nlayers,
                     int max_frozen) {
    memset(pf, 0, sizeof(*pf));
    pf->cfg = *c;
    TG_ASSERT(nlayers >= 1 && nlayers <= PROGFREEZE_LAYERS_MAX);
    pf->nlayers = nlayers;
    pf->max_frozen = max_frozen < 0 ? 0 : max_frozen > nlayers ? nlayers : max_frozen;
    for (int l = 0; l < nlayers; l++)
        pf->change[l] = -1;
}

int progfreeze_observe(struct progfreeze *pf, const double *norm, int may_freeze) {
    int before = pf->frozen;

    pf->passes++;
    for (int l = pf->frozen; l < pf->nlayers; l++) {
        double prev = pf->ema[l], e, c;

        if (pf->change[l] < 0) { /* first observation of l */
            pf->ema[l] = norm[l];
            pf->change[l] = INFINITY;
            pf->calm[l] = 0;
            continue;
        }
        e = pf->cfg.ema * prev + (1 - pf->cfg.ema) * norm[l];
        if (prev > 0)
            c = fabs(e - prev) / prev;
        else
            c = e == 0 ? 0 : INFINITY;
        pf->ema[l] = e;
        pf->change[l] = c;
        pf->calm[l] = c < pf->cfg.tol ? pf->calm[l] + 1 : 0;
    }
    while (may_freeze && pf->frozen < pf->max_frozen && pf->calm[pf->frozen] >= pf->cfg.window) {
        pf->frozen_at[pf->frozen] = pf->passes;
        pf->frozen++;
    }
    return pf->frozen - before;
}
