/*
 * loadgen_rng.h - the load generator's random numbers: xoshiro256** seeded through
 * splitmix64. Fast and good enough for picking ids and passwords; not for secrets.
 * Each thread owns one, seeded from --seed and its thread index, so a run repeats.
 */
#ifndef LG_LOADGEN_RNG_H
#define LG_LOADGEN_RNG_H

#include <stdint.h>

typedef struct lg_loadgen_rng {
    uint64_t s[4];
} lg_loadgen_rng;

static inline uint64_t lg_loadgen_rng__splitmix(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static inline void lg_loadgen_rng_seed(lg_loadgen_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = lg_loadgen_rng__splitmix(&seed);
}

static inline uint64_t lg_loadgen_rng__rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t lg_loadgen_rng_next(lg_loadgen_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = lg_loadgen_rng__rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = lg_loadgen_rng__rotl(s[3], 45);
    return result;
}

/* Uniform in [0, n), n > 0 (multiply-shift on 32 random bits; bias below n / 2^32). */
static inline uint32_t lg_loadgen_rng_below(lg_loadgen_rng *r, uint32_t n)
{
    return (uint32_t)(((lg_loadgen_rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

#endif
