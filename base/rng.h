/*
 * rng.h — the trainer's explicit, seeded random number generator.
 *
 * xoshiro256** (Blackman and Vigna) whose 256-bit state is filled from one 64-bit seed by
 * splitmix64. Every random draw in the trainer goes through a struct rng the caller owns, so
 * a run is reproducible from its seeds and a checkpoint can store the state.
 *
 * Does: uniform integers and doubles, standard normals (Box-Muller), categorical samples; and
 * splitmix64 itself, exported for the generators whose shipped output is fixed by its exact
 * stream (the corpus, the task sets, the reference agents) and for mixing a seed into a value.
 * Does not: hold any global state, lock, or read entropy from the system.
 * Thread-safety: a struct rng is not shared; give each thread its own.
 */
#ifndef TG_RNG_H
#define TG_RNG_H

#include <stdint.h>

struct rng {
    uint64_t s[4]; /* xoshiro256** state; never all zero */
};

/*
 * rng_splitmix64 — one step of splitmix64 (Steele, Lea and Flood): advance *state by the
 * golden-ratio increment and return the mixed state. A whole generator in 64 bits of state:
 * uint64_t s = seed; then rng_splitmix64(&s) per draw. Every 64-bit value is a valid state.
 */
uint64_t rng_splitmix64(uint64_t *state);

/* rng_mix64 — the value rng_splitmix64 would return from state x, without a state to keep: a
 * bijective 64-bit mix, for deriving seeds (mix of seed ^ index) or scrambling a hash. Pure. */
uint64_t rng_mix64(uint64_t x);

/* rng_seed — fill *r from seed with splitmix64. Any seed, including 0, is valid. */
void rng_seed(struct rng *r, uint64_t seed);

/* rng_u64 — the next 64 random bits. */
uint64_t rng_u64(struct rng *r);

/* rng_uniform — a double uniform in [0, 1), with 53 random bits. */
double rng_uniform(struct rng *r);

/* rng_unit — the double in [0, 1) that rng_uniform makes of 64 random bits x (its top 53).
 * Pure: with rng_mix64, a draw keyed by a hash instead of a stream. */
double rng_unit(uint64_t x);

/* rng_below — an integer uniform in [0, n) without modulo bias; n must be >= 1 (returns 0
 * for n <= 1). */
uint64_t rng_below(struct rng *r, uint64_t n);

/* rng_normal — a standard normal draw (mean 0, variance 1) by Box-Muller. Uses two uniforms
 * per call and keeps no spare, so the state alone determines the sequence. */
double rng_normal(struct rng *r);

/*
 * rng_categorical — sample an index i in [0, n) with probability p[i] / sum(p).
 * p: (n) borrowed, non-negative weights (they need not sum to exactly 1).
 * Returns the index, or -1 when n < 1 or the weights sum to zero, or a weight is negative
 * or not finite. Never returns an index whose weight is 0.
 */
int rng_categorical(struct rng *r, const float *p, int n);

#endif
