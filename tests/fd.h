/* fd.h — central finite differences for the gradient tests.
 *
 * For a scalar loss L of a float array x, fd_check_h compares an analytic
 * gradient g with (L(x+h) - L(x-h)) / 2h computed in double, point by point.
 * Kinks are skipped according to mode:
 *  - SMOOTH: nothing is skipped (and skipping would be a failure);
 *  - RELU_KINK: inputs within 2h of a ReLU's kink at 0;
 *  - DETECT_KINKS: points whose second difference c = |L(x+h) - 2L(x) +
 *    L(x-h)| exceeds T = 4e-3 h (1 + |n|). A kink at distance d changes the
 *    slope by s and gives c = s (h - d) and a central-difference error c / 2h,
 *    so an undetected kink costs at most 2e-3 (1 + |n|), inside the tolerance;
 *    a smooth point has c = h^2 L''.
 * A gradient g matches the numerical n when |g - n| <= 2e-3 + 2e-2 |n|, and
 * at least half the points must be checked. Include after check.h. */
#ifndef ELBO_FD_H
#define ELBO_FD_H

#include <math.h>
#include <stdio.h>

#include "util/rng.h"

/* The tests' inputs and losses: n draws of N(0, scale^2) from r into p, and
 * the weighted sum of an op's outputs as a scalar loss (in double). */
static inline void fd_fill_normal(elbo_rng *r, float *p, long n, double scale)
{
    for (long i = 0; i < n; i++) p[i] = (float)(scale * elbo_rng_normal(r));
}

static inline double fd_dot(const float *a, const float *w, long n)
{
    double s = 0;
    for (long i = 0; i < n; i++) s += (double)a[i] * w[i];
    return s;
}

/* One op under test: evaluate L for the current inputs. */
typedef double (*loss_fn)(void *ctx);

enum { SMOOTH, RELU_KINK, DETECT_KINKS };

/* Checks analytic gradient g[n] of L with respect to the float array x[n],
 * with step H and the kink rule given by mode. */
static void fd_check_h(const char *what, float *x, const float *g, long n, loss_fn L, void *ctx,
                       double H, int mode)
{
    int checked = 0, skipped = 0, bad = 0;
    double worst = 0;
    for (long i = 0; i < n; i++) {
        float x0 = x[i];
        double l0 = L(ctx);
        x[i] = (float)(x0 + H);
        double hp = (double)x[i] - x0, lp = L(ctx);
        x[i] = (float)(x0 - H);
        double hm = x0 - (double)x[i], lm = L(ctx);
        x[i] = x0;
        double num = (lp - lm) / (hp + hm);
        double curv = fabs(lp - 2 * l0 + lm);
        if ((mode == RELU_KINK && fabs(x0) < 2 * H) ||
            (mode == DETECT_KINKS && curv > 4e-3 * H * (1 + fabs(num)))) {
            skipped++;
            continue;
        }
        double e = fabs(g[i] - num) / (2e-3 + 2e-2 * fabs(num));
        if (e > worst) worst = e;
        if (e > 1.0 && bad++ < 3)
            fprintf(stderr, "  %s[%ld]: analytic %.6g numerical %.6g\n", what, i, g[i], num);
        checked++;
    }
    CHECK(bad == 0, "%s: %d of %d gradients wrong (worst %.3g x tol)", what, bad, checked, worst);
    CHECK(checked >= n / 2, "%s: only %d of %ld points checked (%d kinks skipped)", what, checked,
          n, skipped);
    if (mode == SMOOTH) CHECK(skipped == 0, "%s: smooth op skipped points", what);
}

#endif
