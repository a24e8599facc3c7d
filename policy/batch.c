/*
 * batch.c — one update's rollouts: tasks, anchors, forks, rewards and advantages. See batch.h.
 */
#include "policy/batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/reward.h"

int batch_init(struct batch *b, int T, int G, struct tg_error *err) {
    memset(b, 0, sizeof(*b));
    b->T = T;
    b->G = G;
    b->eps = calloc((size_t)T * G, sizeof(*b->eps));
    b->trajs = calloc((size_t)T * G, sizeof(*b->trajs));
    b->parents = calloc((size_t)T, sizeof(*b->parents));
    b->ptrajs = calloc((size_t)T, sizeof(*b->ptrajs));
    b->anchored = calloc((size_t)T, sizeof(*b->anchored));
    if (!b->eps || !b->trajs || !b->parents || !b->ptrajs || !b->anchored) {
        tg_error_set(err, TG_CODE_NOMEM, "out of memory");
        return TG_ENOMEM;
    }
    return 0;
}

void batch_free(struct batch *b) {
    if (b->eps && b->trajs)
        for (int i = 0; i < b->T * b->G; i++) {
            rollout_ep_clear(&b->eps[i]);
            traj_clear(&b->trajs[i]);
        }
    if (b->parents && b->ptrajs)
        for (int i = 0; i < b->T; i++) {
            rollout_ep_clear(&b->parents[i]);
            traj_clear(&b->ptrajs[i]);
        }
    free(b->eps);
    free(b->trajs);
    free(b->parents);
    free(b->ptrajs);
    free(b->anchored);
    memset(b, 0, sizeof(*b));
}

/* a fresh episode of task `id` with trajectory t and its own random stream from rng */
static void episode_reset(struct rollout_ep *e, struct traj *t, const char *id,
                          const struct train_config *cfg, const char *tag, struct rng *rng) {
    rollout_ep_clear(e);
    memset(e, 0, sizeof(*e));
    rng_seed(&e->rng, rng_u64(rng));
    snprintf(e->task_id, sizeof(e->task_id), "%s", id);
    e->max_steps = cfg->max_steps;
    e->reward_mode = cfg->reward_mode;
    e->tag = tag;
    e->server = -1;
    traj_clear(t);
    e->user = t;
}

void batch_draw(struct batch *b, const struct train_config *cfg, const struct task_ref *tasks,
                int ntasks, struct rng *rng, int use_anchors) {
    batch_draw_from(b, 0, cfg, tasks, ntasks, rng, use_anchors);
}

/* task k of the anchor pool: the k-th task of tasks[0..n) with expert calls */
static const struct task_ref *pool_at(const struct task_ref *tasks, int n, int k) {
    for (int i = 0; i < n; i++)
        if (tasks[i].expert && json_array_size(tasks[i].expert) > 0 && k-- == 0)
            return &tasks[i];
    return NULL;
}

void batch_draw_from(struct batch *b, int first, const struct train_config *cfg,
                     const struct task_ref *tasks, int ntasks, struct rng *rng, int use_anchors) {
    int G = b->G, npool = 0;

    b->np = 0;
    for (int t = 0; t < first; t++)
        b->anchored[t] = -1; /* played already: their parents are not needed again */
    if (use_anchors)
        for (int i = 0; i < ntasks; i++)
            npool += tasks[i].expert && json_array_size(tasks[i].expert) > 0;
    for (int t = first; t < b->T; t++) {
        /* an anchored group with probability anchor_fraction, its task drawn from the tasks
         * whose expert calls may be used (the budget's); else any task, unanchored */
        int anchor = npool > 0 && rng_uniform(rng) < cfg->anchor_fraction;
        const struct task_ref *tr =
            anchor ? pool_at(tasks, ntasks, (int)rng_below(rng, (uint64_t)npool))
                   : &tasks[rng_below(rng, (uint64_t)ntasks)];

        b->anchored[t] = -1;
        for (int g = 0; g < G; g++)
            episode_reset(&b->eps[t * G + g], &b->trajs[t * G + g], tr->id, cfg, "train", rng);
        if (anchor) {
            struct rollout_ep *p = &b->parents[b->np];

            episode_reset(p, &b->ptrajs[b->np], tr->id, cfg, "anchor", rng);
            p->prefix = tr->expert;
            p->stop_after_prefix = 1;
            b->anchored[t] = b->np++;
        }
    }
}

void batch_fork(struct batch *b, struct batch_tally *tally) {
    batch_fork_from(b, 0, tally);
}

void batch_fork_from(struct batch *b, int first, struct batch_tally *tally) {
    int G = b->G;

    for (int t = first; t < b->T; t++) {
        const struct rollout_ep *p;
        const struct traj *pt;
        int best;

        if (b->anchored[t] < 0)
            continue;
        p = &b->parents[b->anchored[t]];
        pt = &b->ptrajs[b->anchored[t]];
        best = traj_fork_step(pt->ent, pt->nent);
        tally->fork_at += best;
        for (int g = G / 2; g < G; g++) {
            struct rollout_ep *e = &b->eps[t * G + g];

            snprintf(e->fork_from, sizeof(e->fork_from), "%s", p->episode_id);
            e->fork_at = best;
            e->fork_state = p->st;
            e->server = p->server;
            b->trajs[t * G + g].is_branch = 1;
        }
    }
}

void batch_rewards(struct batch *b, enum learner_reward rm, double mix, double floor_sd,
                   struct batch_tally *tally) {
    batch_rewards_from(b, 0, rm, mix, floor_sd, tally);
}

void batch_rewards_from(struct batch *b, int first, enum learner_reward rm, double mix,
                        double floor_sd, struct batch_tally *tally) {
    int G = b->G;

    for (int t = first; t < b->T; t++) {
        int nmin = -1;

        for (int g = 0; g < G; g++) {
            const struct rollout_ep *e = &b->eps[t * G + g];

            if (e->correct && (nmin < 0 || e->calls < nmin))
                nmin = e->calls;
        }
        for (int g = 0; g < G; g++) {
            const struct rollout_ep *e = &b->eps[t * G + g];
            struct traj *tr = &b->trajs[t * G + g];

            if (rm == LR_OTC)
                tr->reward = reward_otc(e->calls, nmin < 0 ? e->calls : nmin, e->correct, 1.0);
            else
                tr->reward = e->ret;
            tally->calls += e->calls;
            tally->correct += e->correct;
            if (tr->is_branch) {
                tally->branch_eps++;
                tally->branch_acc += e->correct;
            }
            for (int l = 0; l < RL_LABELS; l++)
                tally->labels[l] += e->labels[l];
            tally->ret += tr->reward;
        }
        traj_group_advantages(&b->trajs[t * G], G, mix, floor_sd);
    }
}

/* swap groups i and j (episodes and trajectories), keeping each episode's user pointer on its
 * own trajectory */
static void group_swap(struct batch *b, int i, int j) {
    int G = b->G;

    for (int g = 0; g < G; g++) {
        struct rollout_ep e = b->eps[i * G + g];
        struct traj tr = b->trajs[i * G + g];

        b->eps[i * G + g] = b->eps[j * G + g];
        b->trajs[i * G + g] = b->trajs[j * G + g];
        b->eps[j * G + g] = e;
        b->trajs[j * G + g] = tr;
        b->eps[i * G + g].user = &b->trajs[i * G + g];
        b->eps[j * G + g].user = &b->trajs[j * G + g];
    }
}

int batch_keep_informative(struct batch *b, int first) {
    int k = first;

    for (int t = first; t < b->T; t++)
        if (!traj_group_flat(&b->trajs[t * b->G], b->G)) {
            if (t != k)
                group_swap(b, t, k);
            k++;
        }
    return k;
}
