/*
 * traj.c — recorded decisions of training rollouts and their GRPO advantages. See traj.h.
 */
#include "policy/traj.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int traj_record(struct traj *t, const struct seq *s, const struct policy_action *a,
                struct tg_error *err) {
    struct decision *d;

    if (t->ndec == t->cap) {
        int cap = t->cap ? t->cap * 2 : 4;
        struct decision *nd = realloc(t->dec, sizeof(*nd) * (size_t)cap);

        if (!nd) {
            tg_error_set(err, TG_CODE_NOMEM, "out of memory");
            return TG_ENOMEM;
        }
        t->dec = nd;
        t->cap = cap;
    }
    d = &t->dec[t->ndec];
    if (seq_clone(&d->seq, s, err))
        return TG_ENOMEM;
    d->act = *a;
    t->ndec++;
    return 0;
}

void traj_clear(struct traj *t) {
    for (int i = 0; i < t->ndec; i++)
        seq_free(&t->dec[i].seq);
    free(t->dec);
    memset(t, 0, sizeof(*t));
}

static double mean_of(const double *v, int n) {
    double s = 0;

    for (int i = 0; i < n; i++)
        s += v[i];
    return n ? s / n : 0;
}

static double std_of(const double *v, int n, double mean) {
    double s = 0;

    for (int i = 0; i < n; i++)
        s += (v[i] - mean) * (v[i] - mean);
    return n ? sqrt(s / n) : 0;
}

void traj_group_advantages(struct traj *t, int g, double mix, double floor_sd) {
    double r[TG_TRAIN_GROUP_MAX] = {0}, rb[TG_TRAIN_GROUP_MAX] = {0};
    double mean, sd, mb = 0, sb = 0;
    int nb = 0;

    for (int i = 0; i < g; i++) {
        r[i] = t[i].reward;
        if (t[i].is_branch)
            rb[nb++] = t[i].reward;
    }
    mean = mean_of(r, g);
    sd = std_of(r, g, mean);
    if (nb > 1) {
        mb = mean_of(rb, nb);
        sb = std_of(rb, nb, mb);
    }
    for (int i = 0; i < g; i++) {
        double a = sd > 1e-9 ? (t[i].reward - mean) / fmax(sd, floor_sd) : 0;

        if (t[i].is_branch) {
            double ab = sb > 1e-9 ? (t[i].reward - mb) / fmax(sb, floor_sd) : 0;

            a = mix * a + (1 - mix) * ab;
        }
        t[i].adv = a;
    }
}

int traj_group_flat(const struct traj *t, int g) {
    double r[TG_TRAIN_GROUP_MAX] = {0}, mean;

    for (int i = 0; i < g; i++)
        r[i] = t[i].reward;
    mean = mean_of(r, g);
    return !(std_of(r, g, mean) > 1e-9);
}

int traj_fork_step(const float *ent, int n) {
    int best = 0;

    for (int k = 1; k < n; k++)
        if (ent[k] > ent[best])
            best = k;
    return best;
}
