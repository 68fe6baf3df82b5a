/* psis.c — the Pareto k-hat diagnostic of importance ratios (Vehtari,
 * Simpson, Gelman, Yao and Gabry, "Pareto Smoothed Importance Sampling";
 * Yao et al. 2018 for VI): a generalized Pareto distribution fitted to the
 * largest ratios by Zhang and Stephens' (2009) empirical Bayes estimate,
 * with the weakly informative prior that pulls k towards 0.5 for small
 * tails, as the reference implementations (loo, ArviZ) do. */
#include <math.h>
#include <stdlib.h>

#include "vi_internal.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* k of a generalized Pareto fitted to the exceedances x [n] (sorted
 * ascending, all > 0). */
static double gpd_k(const double *x, int n)
{
    enum { PRIOR = 3 };
    int m = 30 + (int)sqrt((double)n);
    double *b = malloc(sizeof(double) * (size_t)m), *l = malloc(sizeof(double) * (size_t)m);
    if (!b || !l) {
        free(b);
        free(l);
        return NAN;
    }
    double xstar = x[(int)(n / 4.0 + 0.5) - 1];
    for (int j = 0; j < m; j++) {
        b[j] = 1.0 / x[n - 1] + (1.0 - sqrt(m / (j + 0.5))) / (PRIOR * xstar);
        double k = 0.0;
        for (int i = 0; i < n; i++) k += log1p(-b[j] * x[i]);
        k /= n;
        l[j] = n * (log(-b[j] / k) - k - 1.0);
    }
    double bh = 0.0, wsum = 0.0;
    for (int j = 0; j < m; j++) { /* w_j = 1 / sum_i exp(l_i - l_j) */
        double s = 0.0;
        for (int i = 0; i < m; i++) s += exp(l[i] - l[j]);
        double w = 1.0 / s;
        if (!(w >= 1e-15)) continue; /* negligible (or undefined) */
        bh += w * b[j];
        wsum += w;
    }
    bh /= wsum;
    double k = 0.0;
    for (int i = 0; i < n; i++) k += log1p(-bh * x[i]);
    k /= n;
    free(b);
    free(l);
    return (n * k + 10 * 0.5) / (n + 10); /* the prior: k towards 0.5, worth 10 observations */
}

double elbo_psis_khat(const double *log_w, int n)
{
    if (n < 10) return NAN;
    double *s = malloc(sizeof(double) * (size_t)n);
    if (!s) return NAN;
    int good = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(log_w[i])) s[good++] = log_w[i];
        else if (log_w[i] > 0) { /* an infinite ratio: the heaviest tail there is */
            free(s);
            return INFINITY;
        }
    if (good < 10) {
        free(s);
        return NAN;
    }
    qsort(s, (size_t)good, sizeof(double), cmp_double);
    int M = (int)ceil(fmin(0.2 * good, 3.0 * sqrt((double)good)));
    if (M < 5 || M >= good) {
        free(s);
        return NAN;
    }
    double mx = s[good - 1], u = exp(s[good - M - 1] - mx);
    double *x = malloc(sizeof(double) * (size_t)M);
    double k = NAN;
    if (x) {
        int n_pos = 0;
        for (int i = good - M; i < good; i++) {
            double e = exp(s[i] - mx) - u;
            if (e > 0) x[n_pos++] = e;
        }
        k = n_pos >= 5 ? gpd_k(x, n_pos) : 0.0; /* ties at the threshold: no tail */
    }
    free(x);
    free(s);
    return k;
}
