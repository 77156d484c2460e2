/*
 * The generators behind every seeded stream in groot (synthesized weights,
 * benchmark inputs, the policy's initial noise): splitmix64 to expand a seed
 * and xoshiro256** for long streams. Both are exact integer arithmetic, so a
 * seed gives the same numbers on every machine.
 */
#ifndef GR_CORE_RANDOM_H
#define GR_CORE_RANDOM_H

#include <stdint.h>

/* Advances *x and returns its next output. */
static inline uint64_t gr_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The next output of the xoshiro256** state s (never all zero). */
static inline uint64_t gr_xoshiro256ss_next(uint64_t s[4])
{
    const uint64_t x = s[1] * 5;
    const uint64_t out = ((x << 7) | (x >> 57)) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return out;
}

#endif
