/*
 * policy_agent.h — a trained policy as an agent of `toolgym eval --agent policy
 * --checkpoint F`: greedy over the candidates (policy.h) of the episode so far.
 *
 * Does not: learn, sample, or talk HTTP (eval.c plays the episodes). The command layer
 * registers it with eval (struct eval_kind), so eval does not depend on the trainer.
 * Thread-safety: one agent per thread.
 */
#ifndef TG_POLICY_AGENT_H
#define TG_POLICY_AGENT_H

#include "base/tg.h"
#include "client/eval.h"

/*
 * policy_agent_new — an eval agent (eval.h) playing greedily with the policy of checkpoint
 * o->checkpoint (borrowed). Returns 0 with *out filled (its destroy frees its state), or
 * TG_EINVAL (no checkpoint given, wrong feature count), a checkpoint error, TG_ENOMEM, with
 * *err.
 */
int policy_agent_new(const struct eval_options *o, struct eval_agent *out, struct tg_error *err);

#endif
