/*
 * rng.c — xoshiro256** seeded by splitmix64, and the draws built on it (see rng.h).
 */
#include "base/rng.h"

#include <math.h>

uint64_t rng_splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t rng_mix64(uint64_t x) {
    return rng_splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

void rng_seed(struct rng *r, uint64_t seed) {
    uint64_t x = seed;

    for (int i = 0; i < 4; i++)
        r->s[i] = rng_splitmix64(&x);
    /* splitmix64 is a bijection of its counter, so four zero outputs cannot happen; keep the
     * guard anyway because an all-zero state would be stuck forever. */
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3]))
        r->s[0] = 1;
}

uint64_t rng_u64(struct rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double rng_unit(uint64_t x) {
    return (double)(x >> 11) * 0x1.0p-53;
}

double rng_uniform(struct rng *r) {
    return rng_unit(rng_u64(r));
}

uint64_t rng_below(struct rng *r, uint64_t n) {
    uint64_t limit, x;

    if (n <= 1)
        return 0;
    /* reject the top partial bucket so every residue is equally likely */
    limit = UINT64_MAX - UINT64_MAX % n;
    do {
        x = rng_u64(r);
    } while (x >= limit);
    return x % n;
}

double rng_normal(struct rng *r) {
    double u1 = 1.0 - rng_uniform(r); /* (0, 1]: log is finite */
    double u2 = rng_uniform(r);

    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

int rng_categorical(struct rng *r, const float *p, int n) {
    double total = 0.0, u, acc = 0.0;
    int last = -1;

    if (n < 1)
        return -1;
    for (int i = 0; i < n; i++) {
        if (!(p[i] >= 0.0f) || !isfinite(p[i]))
            return -1;
        total += p[i];
        if (p[i] > 0.0f)
            last = i;
    }
    if (!(total > 0.0))
        return -1;
    u = rng_uniform(r) * total;
    for (int i = 0; i < n; i++) {
        if (p[i] <= 0.0f)
            continue;
        acc += p[i];
        if (u < acc)
            return i;
    }
    return last; /* rounding left u at the very top: the last index with weight */
}
