/*
 * features.h — the feature vector of one (state, candidate) pair, the policy MLP's input.
 *
 * Layout (FEAT_DIM floats): FEAT_HASH hashed crosses, then FEAT_DENSE abstract features.
 *   hashed: each distinct prompt token, each arithmetic-word class of the prompt, the step
 *     number and the last observation's kind/outcome, crossed with the candidate's action type
 *     (kind, variant or run_code template, operator), into FEAT_HASH buckets (FNV-1a);
 *   dense: kind, step index, calls so far per tool, repeat of an earlier call, last call
 *     failed, every entity searched, counts of prompt numbers and entities, where the
 *     candidate's numbers come from (prompt / observation / latest observation), attribute
 *     overlap of snippet numbers, result shape (integer, negative, larger operand first),
 *     operator agrees with the prompt's arithmetic words, answer source, steps left.
 * The dense part is what lets the policy generalise to phrasings and entities it never saw.
 *
 * Does: compute features. Does not: choose candidates or hold state.
 * Thread-safety: pure.
 */
#ifndef TG_FEATURES_H
#define TG_FEATURES_H

#include "policy/candidates.h"

#define FEAT_HASH  192
#define FEAT_DENSE 64
#define FEAT_DIM   (FEAT_HASH + FEAT_DENSE)

/* feat_compute — x (FEAT_DIM, out, overwritten) for candidate c (borrowed) in state s. */
void feat_compute(const struct cand_state *s, const struct cand *c, float *x);

/* feat_compute_all — X (l->n, FEAT_DIM) for every candidate of l. */
void feat_compute_all(const struct cand_state *s, const struct cand_list *l, float *X);

#endif
