/*
 * rng.h — the trainer's explicit, seeded random number generator.
 *
 * xoshiro256** (Blackman and Vigna) whose 256-bit state is filled from one 64-bit seed by
 * splitmix64. Every random draw in the trainer goes through a struct rng the caller owns, so
 * a run is reproducible from its seeds and a checkpoint can store the state.
 *
 * Does: uniform integers and doubles, standard normals (Box-Muller), categorical samples.
 * Does not: hold any global state, lock, or read entropy from the system.
 * Thread-safety: a struct rng is not shared; give each thread its own.
 */
#ifndef TG_RNG_H
#define TG_RNG_H

#include <stdint.h>

struct rng {
    uint64_t s[4]; /* xoshiro256** state; never all zero */
};

/* rng_seed — fill *r from seed with splitmix64. Any seed, including 0, is valid. */
void rng_seed(struct rng *r, uint64_t seed);

/* rng_u64 — the next 64 random bits. */
uint64_t rng_u64(struct rng *r);

/* rng_uniform — a double uniform in [0, 1), with 53 random bits. */
double rng_uniform(struct rng *r);

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
