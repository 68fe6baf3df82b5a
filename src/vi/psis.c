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
 * ascending, all > 0), and its scale into *sigma. */
static double gpd_k(const double *x, int n, double *sigma)
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
    *sigma = -k / bh;
    return (n * k + 10 * 0.5) / (n + 10); /* the prior: k towards 0.5, worth 10 observations */
}

/* The tail fit of log_w [n]: k-hat, and with w [n] not NULL the PSIS
 * weights (normalised; the tail's M largest replaced by the fitted
 * generalized Pareto's quantiles, capped at the largest raw weight). */
static double psis(const double *log_w, int n, double *w)
{
    int *ord = malloc(sizeof(int) * (size_t)n);
    double *s = malloc(sizeof(double) * (size_t)n);
    double k = NAN;
    int n_tail_done = 0;
    if (!ord || !s) goto out;
    int good = 0;
    if (n < 10) goto out;
    for (int i = 0; i < n; i++) {
        if (isfinite(log_w[i])) s[good++] = log_w[i];
        else if (log_w[i] > 0) { /* an infinite ratio: the heaviest tail there is */
            k = INFINITY;
            goto out;
        }
    }
    if (good < 10) goto out;
    qsort(s, (size_t)good, sizeof(double), cmp_double);
    int M = (int)ceil(fmin(0.2 * good, 3.0 * sqrt((double)good)));
    if (M < 5 || M >= good) goto out;
    double mx = s[good - 1], thr = s[good - M - 1], u = exp(thr - mx), sigma = 0;
    int n_pos = 0;
    for (int i = good - M; i < good; i++) {
        double e = exp(s[i] - mx) - u;
        if (e > 0) s[n_pos++] = e; /* exceedances, ascending, over the sorted copy */
    }
    k = n_pos >= 5 ? gpd_k(s, n_pos, &sigma) : 0.0; /* ties at the threshold: no tail */
    if (!w) goto out;
    n_tail_done = 1;
    for (int i = 0; i < n; i++) w[i] = isfinite(log_w[i]) ? exp(log_w[i] - mx) : 0.0;
    if (n_pos >= 5 && sigma > 0 && isfinite(k)) { /* the tail by rank: the fitted quantiles */
        int t = 0;
        for (int i = 0; i < n; i++)
            if (isfinite(log_w[i]) && log_w[i] > thr) ord[t++] = i;
        for (int a2 = 1; a2 < t; a2++) /* insertion sort of the tail by weight (M is small) */
            for (int b2 = a2; b2 > 0 && w[ord[b2]] < w[ord[b2 - 1]]; b2--) {
                int tmp = ord[b2];
                ord[b2] = ord[b2 - 1];
                ord[b2 - 1] = tmp;
            }
        for (int r = 0; r < t; r++) {
            double p = (r + 0.5) / t, q = k != 0 ? sigma * (pow(1 - p, -k) - 1) / k : -sigma * log(1 - p);
            w[ord[r]] = fmin(u + q, 1.0);
        }
    }
out:
    if (w) { /* normalised; without a tail fit, the raw ratios (uniform if none is finite) */
        double mx2 = -INFINITY, tot = 0;
        if (isinf(k)) /* infinite ratios: they take all the weight */
            for (int i = 0; i < n; i++) w[i] = log_w[i] == INFINITY;
        else if (!(n_tail_done)) {
            for (int i = 0; i < n; i++) mx2 = isfinite(log_w[i]) && log_w[i] > mx2 ? log_w[i] : mx2;
            for (int i = 0; i < n; i++) w[i] = isfinite(log_w[i]) ? exp(log_w[i] - mx2) : 0.0;
        }
        for (int i = 0; i < n; i++) tot += w[i];
        for (int i = 0; i < n; i++) w[i] = tot > 0 ? w[i] / tot : 1.0 / n;
    }
    free(ord);
    free(s);
    return k;
}

double elbo_psis_khat(const double *log_w, int n) { return psis(log_w, n, NULL); }

double elbo_psis_weights(const double *log_w, int n, double *w) { return psis(log_w, n, w); }
