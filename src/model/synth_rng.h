/*
 * The random numbers behind synthesized checkpoints: splitmix64 to derive
 * seeds, xoshiro256** for the streams, Marsaglia's polar method for normals.
 * Reproducibility across machines and thread counts is the point, so every
 * stream is keyed by what it generates (seed, tensor name, block index),
 * never by which thread asks; the polar method needs no trig functions, whose
 * last bits may differ between libm versions (logf/sqrtf are still used, but
 * values are rounded to bf16 afterwards, far coarser than any libm error).
 */
#ifndef GR_MODEL_SYNTH_RNG_H
#define GR_MODEL_SYNTH_RNG_H

#include <math.h>
#include <stdint.h>

#include "core/random.h"

typedef struct gr_rng {
    uint64_t s[4];
    float spare; /* the polar method makes normals in pairs */
    int has_spare;
} gr_rng;

/* FNV-1a: turns a tensor name into a stream key, so that adding or
 * reordering tensors never changes the values of the others. */
static inline uint64_t gr_rng_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

/* A stream for (seed, key, index): the three are mixed through splitmix64
 * one after the other, so nearby seeds or indices give unrelated streams. */
static inline void gr_rng_init(gr_rng *r, uint64_t seed, uint64_t key, uint64_t index)
{
    uint64_t x = seed;
    uint64_t a = gr_splitmix64(&x) ^ key;
    uint64_t b = gr_splitmix64(&a) ^ index;
    for (int i = 0; i < 4; i++)
        r->s[i] = gr_splitmix64(&b);
    r->has_spare = 0;
    r->spare = 0;
}

static inline uint64_t gr_rng_next(gr_rng *r) { return gr_xoshiro256ss_next(r->s); }

/* Uniform in [0, 1) with 53 bits. */
static inline double gr_rng_uniform(gr_rng *r)
{
    return (double)(gr_rng_next(r) >> 11) * 0x1.0p-53;
}

/* Standard normal. */
static inline float gr_rng_normal(gr_rng *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    float u, v, s;
    do {
        /* One 64-bit draw gives both coordinates: 24 bits each, in [-1, 1). */
        uint64_t b = gr_rng_next(r);
        u = (float)(int32_t)(uint32_t)(b >> 32) * 0x1.0p-31f;
        v = (float)(int32_t)(uint32_t)b * 0x1.0p-31f;
        s = u * u + v * v;
    } while (s >= 1.0f || s == 0.0f);
    float m = sqrtf(-2.0f * logf(s) / s);
    r->spare = v * m;
    r->has_spare = 1;
    return u * m;
}

#endif
