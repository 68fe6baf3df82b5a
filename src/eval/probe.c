/* probe.c — representation quality: a multinomial logistic regression
 * ("linear probe") fitted on features of the training split and scored on
 * the test split, and a 2-D PCA projection for scatter plots. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../util/common.h"

elbo_status elbo_linear_probe(const float *xtr, const int32_t *ytr, int ntr, const float *xte,
                              const int32_t *yte, int nte, int d, int n_classes, double *accuracy,
                              elbo_error *err)
{
    if (ntr < 1 || nte < 1 || d < 1 || n_classes < 2 || n_classes > 256)
        return elbo_fail(err, ELBO_ERR_ARG, "linear probe: bad sizes");
    for (int i = 0; i < ntr + nte; i++) {
        int32_t y = i < ntr ? ytr[i] : yte[i - ntr];
        if (y < 0 || y >= n_classes)
            return elbo_fail(err, ELBO_ERR_ARG, "linear probe: %s label %d of row %d is outside [0, %d)",
                             i < ntr ? "training" : "test", (int)y, i < ntr ? i : i - ntr, n_classes);
    }
    int C = n_classes;
    double *mean = calloc((size_t)d, sizeof(double)), *sd = calloc((size_t)d, sizeof(double));
    double *W = calloc((size_t)(d + 1) * C, sizeof(double)), *G = calloc((size_t)(d + 1) * C, sizeof(double));
    double *M1 = calloc((size_t)(d + 1) * C, sizeof(double)), *M2 = calloc((size_t)(d + 1) * C, sizeof(double));
    double *p = malloc(sizeof(double) * C), *f = malloc(sizeof(double) * (d + 1));
    double *F = malloc(sizeof(double) * (size_t)ntr * (d + 1)); /* standardised features + 1 */
    elbo_status st = ELBO_OK;
    if (!mean || !sd || !W || !G || !M1 || !M2 || !p || !f || !F) {
        st = elbo_fail(err, ELBO_ERR_NOMEM, "linear probe: out of memory");
        goto out;
    }
    for (int i = 0; i < ntr; i++)
        for (int k = 0; k < d; k++) mean[k] += xtr[(long)i * d + k] / (double)ntr;
    for (int i = 0; i < ntr; i++)
        for (int k = 0; k < d; k++) {
            double v = xtr[(long)i * d + k] - mean[k];
            sd[k] += v * v / ntr;
        }
    for (int k = 0; k < d; k++) sd[k] = sd[k] > 1e-12 ? sqrt(sd[k]) : 1.0;
    for (int i = 0; i < ntr; i++) {
        for (int k = 0; k < d; k++) F[(size_t)i * (d + 1) + k] = (xtr[(long)i * d + k] - mean[k]) / sd[k];
        F[(size_t)i * (d + 1) + d] = 1.0;
    }
    /* full-batch Adam on the mean cross-entropy + a small L2 penalty */
    const double lr = 0.05, b1 = 0.9, b2 = 0.999, l2 = 1e-4;
    for (int t = 1; t <= 300; t++) {
        memset(G, 0, sizeof(double) * (size_t)(d + 1) * C);
        for (int i = 0; i < ntr; i++) {
            const double *fi = F + (size_t)i * (d + 1);
            double mx = -INFINITY, z = 0;
            for (int c = 0; c < C; c++) {
                double s = 0;
                for (int k = 0; k <= d; k++) s += W[(size_t)k * C + c] * fi[k];
                p[c] = s;
                mx = fmax(mx, s);
            }
            for (int c = 0; c < C; c++) z += (p[c] = exp(p[c] - mx));
            for (int c = 0; c < C; c++) {
                double g = (p[c] / z - (ytr[i] == c)) / ntr;
                for (int k = 0; k <= d; k++) G[(size_t)k * C + c] += g * fi[k];
            }
        }
        for (size_t j = 0; j < (size_t)(d + 1) * C; j++) {
            double g = G[j] + l2 * W[j];
            M1[j] = b1 * M1[j] + (1 - b1) * g;
            M2[j] = b2 * M2[j] + (1 - b2) * g * g;
            W[j] -= lr * (M1[j] / (1 - pow(b1, t))) / (sqrt(M2[j] / (1 - pow(b2, t))) + 1e-8);
        }
    }
    long correct = 0;
    for (int i = 0; i < nte; i++) {
        for (int k = 0; k < d; k++) f[k] = (xte[(long)i * d + k] - mean[k]) / sd[k];
        f[d] = 1.0;
        int best = 0;
        double bs = -INFINITY;
        for (int c = 0; c < C; c++) {
            double s = 0;
            for (int k = 0; k <= d; k++) s += W[(size_t)k * C + c] * f[k];
            if (s > bs) bs = s, best = c;
        }
        correct += best == yte[i];
    }
    *accuracy = (double)correct / nte;
out:
    free(mean);
    free(sd);
    free(W);
    free(G);
    free(M1);
    free(M2);
    free(p);
    free(f);
    free(F);
    return st;
}

elbo_status elbo_pca2(const float *x, int n, int d, float *xy, elbo_error *err)
{
    if (n < 1 || d < 1) return elbo_fail(err, ELBO_ERR_ARG, "pca: bad sizes");
    if (d <= 2) {
        for (int i = 0; i < n; i++) {
            xy[2 * i] = x[(long)i * d];
            xy[2 * i + 1] = d > 1 ? x[(long)i * d + 1] : 0.0f;
        }
        return ELBO_OK;
    }
    double *mean = calloc((size_t)d, sizeof(double)), *cov = calloc((size_t)d * d, sizeof(double));
    double *v = malloc(sizeof(double) * d * 2), *t = malloc(sizeof(double) * d);
    if (!mean || !cov || !v || !t) {
        free(mean);
        free(cov);
        free(v);
        free(t);
        return elbo_fail(err, ELBO_ERR_NOMEM, "pca: out of memory");
    }
    for (int i = 0; i < n; i++)
        for (int k = 0; k < d; k++) mean[k] += x[(long)i * d + k] / (double)n;
    for (int i = 0; i < n; i++)
        for (int a = 0; a < d; a++)
            for (int b = 0; b < d; b++)
                cov[a * d + b] += (x[(long)i * d + a] - mean[a]) * (x[(long)i * d + b] - mean[b]) / n;
    /* power iteration for the top two eigenvectors (deflating the first) */
    for (int e = 0; e < 2; e++) {
        double *u = v + e * d;
        for (int k = 0; k < d; k++) u[k] = 1.0 + 0.01 * k;
        for (int it = 0; it < 500; it++) {
            for (int a = 0; a < d; a++) {
                double s = 0;
                for (int b = 0; b < d; b++) s += cov[a * d + b] * u[b];
                t[a] = s;
            }
            if (e == 1) { /* remove the first component */
                double dot = 0;
                for (int k = 0; k < d; k++) dot += t[k] * v[k];
                for (int k = 0; k < d; k++) t[k] -= dot * v[k];
            }
            double nrm = 0;
            for (int k = 0; k < d; k++) nrm += t[k] * t[k];
            nrm = sqrt(nrm);
            if (nrm == 0) break;
            for (int k = 0; k < d; k++) u[k] = t[k] / nrm;
        }
    }
    for (int i = 0; i < n; i++)
        for (int e = 0; e < 2; e++) {
            double s = 0;
            for (int k = 0; k < d; k++) s += (x[(long)i * d + k] - mean[k]) * v[e * d + k];
            xy[2 * i + e] = (float)s;
        }
    free(mean);
    free(cov);
    free(v);
    free(t);
    return ELBO_OK;
}
