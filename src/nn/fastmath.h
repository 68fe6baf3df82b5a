/* fastmath.h — exp and log1p written so that loops over them vectorise
 * (plain arithmetic, no calls, no branches), for the per-pixel Bernoulli
 * likelihood, which otherwise spends most of its time in libm.
 * Accuracy over their stated domains, checked by tests/test_gradcheck.c
 * against double-precision libm: relative error below 1e-7 for exp (measured
 * 8e-8) and 3e-7 for log1p (measured 2.2e-7, about 4 float ulps). */
#ifndef ELBO_FASTMATH_H
#define ELBO_FASTMATH_H

#include <stdint.h>
#include <string.h>

/* a * b + c in the polynomials below: one fused multiply-add where the
 * target has it (about half the arithmetic of these compute-bound loops),
 * a multiply and an add otherwise (C11 contracts neither, and fmaf without
 * the instruction is a slow library call). Results differ between the two
 * in the last bit, not in accuracy. */
#if defined(__FMA__) || defined(__ARM_FEATURE_FMA)
#define ELBO_MADD(a, b, c) __builtin_fmaf((a), (b), (c))
#else
#define ELBO_MADD(a, b, c) ((a) * (b) + (c))
#endif

/* e^x for x <= 0 (clamped below at -87, where e^x < 2e-38 is negligible
 * next to any term it is added to; NaN is clamped too, so the float-to-int
 * conversion below is always defined — callers see the NaN elsewhere). Cody-Waite reduction x = n ln2 + r,
 * |r| <= ln2/2, then a degree-6 minimax polynomial (Cephes expf). */
static inline float elbo_exp_neg(float x)
{
    x = x > -87.0f ? x : -87.0f;
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round to nearest */
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = ELBO_MADD(p, r, 1.3981999507e-3f);
    p = ELBO_MADD(p, r, 8.3334519073e-3f);
    p = ELBO_MADD(p, r, 4.1665795894e-2f);
    p = ELBO_MADD(p, r, 1.6666665459e-1f);
    p = ELBO_MADD(p, r, 5.0000001201e-1f);
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23; /* 2^n, n in [-126, 0] */
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* 2 atanh(s) = log((1 + s) / (1 - s)) for |s| <= 1/3 by its odd series
 * 2 (s + s^3/3 + ... + s^15/15), truncated below 1e-8: the logs below. */
static inline float elbo_atanh2_small(float s)
{
    float s2 = s * s, p = 1.0f / 15;
    p = ELBO_MADD(p, s2, 1.0f / 13);
    p = ELBO_MADD(p, s2, 1.0f / 11);
    p = ELBO_MADD(p, s2, 1.0f / 9);
    p = ELBO_MADD(p, s2, 1.0f / 7);
    p = ELBO_MADD(p, s2, 1.0f / 5);
    p = ELBO_MADD(p, s2, 1.0f / 3);
    p = ELBO_MADD(p, s2, 1.0f);
    return 2.0f * s * p;
}

/* log(1 + e) for e in [0, 1], as 2 atanh(s) with s = e / (2 + e) <= 1/3. */
static inline float elbo_log1p_01(float e) { return elbo_atanh2_small(e / (2.0f + e)); }

/* log(x) for positive, finite, normal x: x = m 2^k with m in
 * [sqrt(1/2), sqrt(2)), log m = 2 atanh(s), s = (m - 1) / (m + 1), |s| <=
 * 0.172. */
static inline float elbo_log_pos(float x)
{
    int32_t bits;
    memcpy(&bits, &x, sizeof bits);
    int32_t k = ((bits >> 23) & 0xff) - 127;
    int32_t mb = (bits & 0x007fffff) | 0x3f800000; /* m in [1, 2) */
    float m;
    memcpy(&m, &mb, sizeof m);
    int big = m > 1.41421356f;
    m = big ? 0.5f * m : m;
    k += big;
    return elbo_atanh2_small((m - 1.0f) / (m + 1.0f)) + (float)k * 0.693147180559945f;
}

/* sin and cos of a in [-pi/2, pi/2] by their Taylor polynomials (to a^13
 * and a^14: truncation below 6e-8 at the ends). */
static inline void elbo_sincos_half_pi(float a, float *sn, float *cs)
{
    float a2 = a * a;
    float ps = 1.0f / 6227020800.0f;
    ps = ELBO_MADD(ps, a2, -(1.0f / 39916800.0f));
    ps = ELBO_MADD(ps, a2, 1.0f / 362880.0f);
    ps = ELBO_MADD(ps, a2, -(1.0f / 5040.0f));
    ps = ELBO_MADD(ps, a2, 1.0f / 120.0f);
    ps = ELBO_MADD(ps, a2, -(1.0f / 6.0f));
    *sn = a + a * a2 * ps;
    float pc = -1.0f / 87178291200.0f;
    pc = ELBO_MADD(pc, a2, 1.0f / 479001600.0f);
    pc = ELBO_MADD(pc, a2, -(1.0f / 3628800.0f));
    pc = ELBO_MADD(pc, a2, 1.0f / 40320.0f);
    pc = ELBO_MADD(pc, a2, -(1.0f / 720.0f));
    pc = ELBO_MADD(pc, a2, 1.0f / 24.0f);
    pc = ELBO_MADD(pc, a2, -(0.5f));
    *cs = 1.0f + a2 * pc;
}

/* tanh(x) for any x: from exp(-2|x|) for |x| >= 0.35, its degree-11 Taylor
 * polynomial below (where 1 - exp(-2|x|) would lose digits); relative error
 * below 2e-7 (measured 1.5e-7, checked in tests/test_gradcheck.c). */
static inline float elbo_tanh(float x)
{
    float a = x < 0.0f ? -x : x;
    float e = elbo_exp_neg(-2.0f * a);
    float big = (1.0f - e) / (1.0f + e);
    float x2 = x * x;
    float small =
        a * (1.0f + x2 * (-1.0f / 3 +
                          x2 * (2.0f / 15 + x2 * (-17.0f / 315 + x2 * (62.0f / 2835 + x2 * (-1382.0f / 155925))))));
    float t = a < 0.35f ? small : big;
    return x < 0.0f ? -t : t;
}

/* For e = e^r in [0, 1] (r <= 0), softplus(r) = log(1 + e) = e P1(e) and
 * log softplus(r) = r + P2(e), P1 and P2 least-squares fits on Chebyshev
 * nodes (dev/fit_softplus.py) of log1p(e) / e (relative error 1.2e-7) and
 * log(log1p(e) / e) (absolute error 7e-8), exact at e = 0: no division and
 * no log, for the prior's per-weight pass, where nearly every rho is
 * negative. */
static inline float elbo_log1p_over_e(float e)
{
    float p = -3.227162641e-03f;
    p = ELBO_MADD(p, e, 1.979064010e-02f);
    p = ELBO_MADD(p, e, -5.688213184e-02f);
    p = ELBO_MADD(p, e, 1.060080007e-01f);
    p = ELBO_MADD(p, e, -1.530801803e-01f);
    p = ELBO_MADD(p, e, 1.967889518e-01f);
    p = ELBO_MADD(p, e, -2.495537549e-01f);
    p = ELBO_MADD(p, e, 3.333020508e-01f);
    p = ELBO_MADD(p, e, -4.999992251e-01f);
    return ELBO_MADD(p, e, 1.0f);
}

static inline float elbo_log_log1p_over_e(float e)
{
    float p = 1.996512525e-03f;
    p = ELBO_MADD(p, e, -1.135852560e-02f);
    p = ELBO_MADD(p, e, 3.071433492e-02f);
    p = ELBO_MADD(p, e, -5.585031211e-02f);
    p = ELBO_MADD(p, e, 8.418998122e-02f);
    p = ELBO_MADD(p, e, -1.244969144e-01f);
    p = ELBO_MADD(p, e, 2.082907408e-01f);
    p = ELBO_MADD(p, e, -4.999987483e-01f);
    return p * e;
}

#endif
