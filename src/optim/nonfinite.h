/* nonfinite.h — the optimizers' check for a non-finite gradient, shared by
 * adam.c and sgd.c. Their loops OR nonfinite_bit over a block (a float is
 * inf or NaN when its exponent bits are all ones: a branch-free integer
 * test the compiler vectorises with the update, where a float sum of 0 * g
 * would be a serial chain of dependent adds), and only a flagged block is
 * searched again for the first bad element. */
#ifndef ELBO_NONFINITE_H
#define ELBO_NONFINITE_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint32_t nonfinite_bit(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return (u & 0x7f800000u) == 0x7f800000u;
}

/* Index of the first i < w with g[i] * scale not finite, or (size_t)-1. */
static inline size_t first_nonfinite(const float *g, size_t w, float scale)
{
    for (size_t i = 0; i < w; i++)
        if (!isfinite(g[i] * scale)) return i;
    return (size_t)-1;
}

#endif
