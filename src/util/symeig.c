/* symeig.c — cyclic Jacobi eigenvalues (Golub and Van Loan, Matrix
 * Computations, section 8.5): each rotation zeroes one off-diagonal pair,
 * the off-diagonal mass falls quadratically once small. Plain double loops:
 * n is small and the result must not depend on a library's threading. */
#include "symeig.h"

#include <math.h>
#include <stdlib.h>

static int desc(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return a < b ? 1 : a > b ? -1 : 0;
}

/* a <- J^T a J for the rotation J in the (p, q) plane with cosine c, sine s */
static void rotate(double *a, int n, int p, int q, double c, double s)
{
    for (int k = 0; k < n; k++) { /* columns p, q */
        double akp = a[k * n + p], akq = a[k * n + q];
        a[k * n + p] = c * akp - s * akq;
        a[k * n + q] = s * akp + c * akq;
    }
    for (int k = 0; k < n; k++) { /* rows p, q */
        double apk = a[p * n + k], aqk = a[q * n + k];
        a[p * n + k] = c * apk - s * aqk;
        a[q * n + k] = s * apk + c * aqk;
    }
}

int elbo_symeig(double *a, int n, double *eig)
{
    double total = 0.0;
    for (int i = 0; i < n * n; i++) total += a[i] * a[i];
    int sweep = 0, ok = 0;
    for (; sweep < 100; sweep++) {
        double off = 0.0;
        for (int p = 0; p < n; p++)
            for (int q = p + 1; q < n; q++) off += 2.0 * a[p * n + q] * a[p * n + q];
        if (off <= 1e-24 * total) {
            ok = 1;
            break;
        }
        for (int p = 0; p < n; p++)
            for (int q = p + 1; q < n; q++) {
                double apq = a[p * n + q];
                if (apq == 0.0) continue;
                /* tan of the angle that zeroes a_pq, the smaller root */
                double theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1.0));
                double c = 1.0 / sqrt(t * t + 1.0), s = t * c;
                rotate(a, n, p, q, c, s);
            }
    }
    for (int i = 0; i < n; i++) eig[i] = a[i * n + i];
    qsort(eig, (size_t)n, sizeof(double), desc);
    return ok ? sweep : -1;
}
