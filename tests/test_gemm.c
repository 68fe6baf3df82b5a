/* test_gemm.c — elbo_matmul and elbo_matmul_ld (OpenBLAS) against the naive
 * triple loop for every transpose combination, awkward sizes, both beta
 * values, and operands that are column blocks of wider matrices (leading
 * dimensions larger than the width; the padding must stay untouched). */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "nn/gemm.h"
#include "util/rng.h"

static double worst_err(const float *C1, const float *C2, int M, int N, int ldc, int K)
{
    double w = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double a = C1[(long)i * ldc + j], b = C2[(long)i * ldc + j];
            double e = fabs(a - b) / (1e-5 * sqrt((double)K) + 1e-5 * fabs(b));
            if (!(e <= w)) w = e;
        }
    return w;
}

int main(void)
{
    const int sizes[][3] = {{1, 1, 1}, {7, 5, 3}, {3, 9, 1}, {33, 17, 65}, {128, 400, 20}, {64, 96, 784}};
    elbo_rng r;
    elbo_rng_seed(&r, 7);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int M = sizes[s][0], N = sizes[s][1], K = sizes[s][2];
        for (int pad = 0; pad < 2; pad++) /* 0: packed (elbo_matmul); 1: wider rows */
            for (int ta = 0; ta < 2; ta++)
                for (int tb = 0; tb < 2; tb++)
                    for (int beta = 0; beta < 2; beta++) {
                        int wa = ta ? M : K, ha = ta ? K : M, wb = tb ? K : N, hb = tb ? N : K;
                        int lda = wa + 3 * pad, ldb = wb + 5 * pad, ldc = N + 2 * pad;
                        float *A = malloc(sizeof(float) * ha * lda), *B = malloc(sizeof(float) * hb * ldb);
                        float *C1 = malloc(sizeof(float) * M * ldc), *C2 = malloc(sizeof(float) * M * ldc);
                        elbo_rng_normal_fill(&r, A, (long)ha * lda);
                        elbo_rng_normal_fill(&r, B, (long)hb * ldb);
                        elbo_rng_normal_fill(&r, C1, (long)M * ldc);
                        for (int i = 0; i < M * ldc; i++) C2[i] = C1[i];
                        if (pad)
                            elbo_matmul_ld(C1, ldc, A, lda, B, ldb, M, N, K, ta, tb, (float)beta);
                        else
                            elbo_matmul(C1, A, B, M, N, K, ta, tb, (float)beta);
                        /* the naive loop always gets explicit leading dimensions */
                        elbo_matmul_naive_ld(C2, ldc, A, lda, B, ldb, M, N, K, ta, tb, (float)beta);
                        double w = worst_err(C1, C2, M, N, ldc, K);
                        CHECK(w <= 1.0, "matmul M=%d N=%d K=%d ta=%d tb=%d beta=%d pad=%d: worst %.3g x tol",
                              M, N, K, ta, tb, beta, pad, w);
                        int untouched = 1;
                        for (int i = 0; i < M; i++)
                            for (int j = N; j < ldc; j++) untouched &= C1[(long)i * ldc + j] == C2[(long)i * ldc + j];
                        CHECK(untouched, "matmul M=%d N=%d K=%d: C's padding changed", M, N, K);
                        free(A);
                        free(B);
                        free(C1);
                        free(C2);
                    }
    }
    /* the naive reference itself, on a 2x2 product worked by hand */
    float A[4] = {1, 2, 3, 4}, B[4] = {5, 6, 7, 8}, C[4] = {1, 1, 1, 1};
    elbo_matmul_naive(C, A, B, 2, 2, 2, 0, 0, 1.0f);
    CHECK(C[0] == 20 && C[1] == 23 && C[2] == 44 && C[3] == 51, "naive 2x2: %g %g %g %g", C[0], C[1], C[2], C[3]);
    return check_summary("test_gemm");
}
