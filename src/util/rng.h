/* rng.h — the library's only source of randomness: xoshiro256** seeded by
 * splitmix64, with uniform floats, unbiased bounded integers and standard
 * normals (Marsaglia polar method, spare value cached). The whole state is
 * a plain struct so checkpoints can save and restore it exactly. */
#ifndef ELBO_RNG_H
#define ELBO_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
    int have_spare; /* 1 if spare holds the second normal of a pair */
    double spare;
} elbo_rng;

/* Seeds all state from one 64-bit seed (any value, 0 included). */
void elbo_rng_seed(elbo_rng *r, uint64_t seed);
/* Next 64 random bits. */
uint64_t elbo_rng_next(elbo_rng *r);
/* The same step written inline, for loops that draw many: the state then
 * stays in registers (elbo_rng_next through a call reloads and stores it
 * each time). Identical output. */
static inline uint64_t elbo_rng_next_inline(uint64_t s[4])
{
    uint64_t x = s[1] * 5, result = ((x << 7) | (x >> 57)) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return result;
}
/* Uniform double in [0, 1) with 53 random bits. */
double elbo_rng_uniform(elbo_rng *r);
/* Uniform integer in [0, n), n >= 1, without modulo bias (Lemire). */
uint64_t elbo_rng_below(elbo_rng *r, uint64_t n);
/* Standard normal. */
double elbo_rng_normal(elbo_rng *r);
/* Fills out[n] with standard normals as float. */
void elbo_rng_normal_fill(elbo_rng *r, float *out, long n);
/* Gamma(shape, 1) for shape > 0 (Marsaglia and Tsang). */
double elbo_rng_gamma(elbo_rng *r, double shape);
/* Fisher-Yates shuffle of idx[n]. */
void elbo_rng_shuffle(elbo_rng *r, int *idx, int n);

#endif
