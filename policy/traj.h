/*
 * traj.h — what a training rollout leaves for the update: its decisions (the sequence the
 * policy read and the action it wrote, with its log-probability), the policy's entropy along
 * an expert prefix, its reward, and its GRPO advantage within its task's group.
 *
 * Does: record decisions, free them, and compute group advantages
 *   A = (R - mean) / max(std, floor)   (0 when std is 0);
 * branch rollouts (forked from an anchor) use mix * A_group + (1 - mix) * A_branch, where
 * A_branch is the same formula over the group's branch rollouts only.
 * Does not: play episodes, score actions, or compute gradients.
 * Thread-safety: plain caller-owned structs.
 */
#ifndef TG_TRAJ_H
#define TG_TRAJ_H

#include "base/limits.h"
#include "base/tg.h"
#include "policy/policy.h"
#include "policy/seq.h"

/* a recorded decision of a rollout (for the update) */
struct decision {
    struct seq seq; /* compact copy of what the policy read */
    struct policy_action act;
};

struct traj {
    int ndec, cap;
    struct decision *dec; /* (ndec) new */
    int nent;
    float ent[TG_VIEW_STEPS_MAX + 1]; /* policy entropy at prefix decision points */
    int is_branch;
    double reward, adv;
};

/*
 * traj_record — append a decision: a compact copy of s (borrowed) and the action a.
 * 0 or TG_ENOMEM with *err (t unchanged).
 */
int traj_record(struct traj *t, const struct seq *s, const struct policy_action *a,
                struct tg_error *err);

/* traj_clear — free the decisions and zero *t; accepts a zeroed traj. */
void traj_clear(struct traj *t);

/*
 * traj_group_advantages — set t[i].adv for one task's group t[0..g) (g <= TG_TRAIN_GROUP_MAX)
 * from t[i].reward and t[i].is_branch, as above, with mix and floor_sd.
 */
void traj_group_advantages(struct traj *t, int g, double mix, double floor_sd);

/*
 * traj_group_flat — 1 when the rewards of group t[0..g) have zero variance (std <= 1e-9, the
 * test traj_group_advantages uses: every advantage of such a group is 0, branches included),
 * else 0.
 */
int traj_group_flat(const struct traj *t, int g);

/*
 * traj_fork_step — where an anchored group forks: the step k in [0, n) of the highest policy
 * entropy ent[k] along the expert prefix; ties go to the earliest such step (so a flat
 * entropy forks at 0); 0 when n <= 0.
 */
int traj_fork_step(const float *ent, int n);

#endif
