/*
 * The initial noise of the flow-matching loop: standard normal samples from a
 * generator the caller seeds, so that a run is reproducible. xoshiro256**
 * seeded through splitmix64, Box-Muller in double.
 */
#ifndef GR_POLICY_NOISE_H
#define GR_POLICY_NOISE_H

#include <stddef.h>
#include <stdint.h>

typedef struct gr_noise_rng {
    uint64_t s[4];
    double spare;   /* Box-Muller makes two samples; the second waits here */
    int has_spare;
} gr_noise_rng;

void gr_noise_seed(gr_noise_rng *r, uint64_t seed);
/* Next 64 random bits. */
uint64_t gr_noise_next(gr_noise_rng *r);
/* n samples of N(0, 1). */
void gr_noise_fill(gr_noise_rng *r, float *out, size_t n);

#endif
