/* lme.h — log-mean-exp of a stream of values, numerically stable for any
 * magnitudes: keeps the running maximum M and sum_i exp(v_i - M), rescaling
 * the sum when a new maximum arrives. */
#ifndef ELBO_LME_H
#define ELBO_LME_H

#include <math.h>

typedef struct {
    double max, sum;
    long n;
} elbo_lme;

static inline void elbo_lme_init(elbo_lme *a)
{
    a->max = -INFINITY;
    a->sum = 0.0;
    a->n = 0;
}

static inline void elbo_lme_add(elbo_lme *a, double v)
{
    a->n++;
    if (v == -INFINITY) return; /* contributes exp(-inf) = 0 */
    if (v <= a->max) {
        a->sum += exp(v - a->max);
    } else if (v > a->max) {
        a->sum = a->sum * exp(a->max - v) + 1.0; /* exp(-inf) = 0 for the first */
        a->max = v;
    } else { /* NaN */
        a->max = v;
    }
}

/* log((1/n) sum exp(v_i)); -inf for no values or all -inf. */
static inline double elbo_lme_result(const elbo_lme *a)
{
    if (a->n == 0 || a->max == -INFINITY) return -INFINITY;
    return a->max + log(a->sum) - log((double)a->n);
}

#endif
