#include "policy/noise.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void gr_noise_seed(gr_noise_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
    r->has_spare = 0;
    r->spare = 0;
}

uint64_t gr_noise_next(gr_noise_rng *r)
{
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
