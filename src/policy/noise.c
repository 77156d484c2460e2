#include "policy/noise.h"

#include <math.h>

#include "core/random.h"

void gr_noise_seed(gr_noise_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = gr_splitmix64(&x);
    r->has_spare = 0;
    r->spare = 0;
}

uint64_t gr_noise_next(gr_noise_rng *r) { return gr_xoshiro256ss_next(r->s); }

/* Uniform in (0, 1]: never 0, so the logarithm below is finite. */
static double uniform_open0(gr_noise_rng *r)
{
    return ((gr_noise_next(r) >> 11) + 1) * (1.0 / 9007199254740992.0);
}

void gr_noise_fill(gr_noise_rng *r, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (r->has_spare) {
            out[i] = (float)r->spare;
            r->has_spare = 0;
            continue;
        }
        double u1 = uniform_open0(r), u2 = uniform_open0(r);
        double mag = sqrt(-2.0 * log(u1));
        out[i] = (float)(mag * cos(2.0 * M_PI * u2));
        r->spare = mag * sin(2.0 * M_PI * u2);
        r->has_spare = 1;
    }
}
