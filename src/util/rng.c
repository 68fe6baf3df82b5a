/* rng.c — xoshiro256** (Blackman & Vigna) with splitmix64 seeding. */
#include "rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void elbo_rng_seed(elbo_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
    r->have_spare = 0;
    r->spare = 0.0;
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t elbo_rng_next(elbo_rng *r) { return elbo_rng_next_inline(r->s); }

double elbo_rng_uniform(elbo_rng *r) { return (double)(elbo_rng_next(r) >> 11) * 0x1.0p-53; }

uint64_t elbo_rng_below(elbo_rng *r, uint64_t n)
{
    /* Lemire's multiply-and-reject with a 128-bit product. */
    __extension__ typedef unsigned __int128 u128;
    u128 m = (u128)elbo_rng_next(r) * n;
    uint64_t lo = (uint64_t)m;
    if (lo < n) {
        uint64_t thresh = (0 - n) % n;
        while (lo < thresh) {
            m = (u128)elbo_rng_next(r) * n;
            lo = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

double elbo_rng_normal(elbo_rng *r)
{
    if (r->have_spare) {
        r->have_spare = 0;
        return r->spare;
    }
    double u, v, s;
    do {
        u = 2.0 * elbo_rng_uniform(r) - 1.0;
        v = 2.0 * elbo_rng_uniform(r) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    double f = sqrt(-2.0 * log(s) / s);
    r->spare = v * f;
    r->have_spare = 1;
    return u * f;
}

void elbo_rng_normal_fill(elbo_rng *r, float *out, long n)
{
    for (long i = 0; i < n; i++) out[i] = (float)elbo_rng_normal(r);
}

void elbo_rng_shuffle(elbo_rng *r, int *idx, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)elbo_rng_below(r, (uint64_t)i + 1);
        int t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

double elbo_rng_gamma(elbo_rng *r, double shape)
{
    if (shape < 1.0) { /* Gamma(a) = Gamma(a + 1) * U^(1/a) */
        double u = elbo_rng_uniform(r);
        return elbo_rng_gamma(r, shape + 1.0) * pow(u > 0.0 ? u : 1e-300, 1.0 / shape);
    }
    double d = shape - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d); /* Marsaglia and Tsang (2000) */
    for (;;) {
        double z = elbo_rng_normal(r), v = 1.0 + c * z;
        if (v <= 0.0) continue;
        v = v * v * v;
        double u = elbo_rng_uniform(r);
        if (u < 1.0 - 0.0331 * z * z * z * z || log(u > 0.0 ? u : 1e-300) < 0.5 * z * z + d * (1.0 - v + log(v)))
            return d * v;
    }
}
