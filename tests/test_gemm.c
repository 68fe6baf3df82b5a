/* test_gemm.c — elbo_matmul (OpenBLAS) against the naive triple loop for
 * every transpose combination, awkward sizes and both beta values. */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "nn/gemm.h"
#include "util/rng.h"

int main(void)
{
    const int sizes[][3] = {{1, 1, 1}, {7, 5, 3}, {3, 9, 1}, {33, 17, 65}, {128, 400, 20}, {64, 96, 784}};
    elbo_rng r;
    elbo_rng_seed(&r, 7);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int M = sizes[s][0], N = sizes[s][1], K = sizes[s][2];
        float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N);
        float *C1 = malloc(sizeof(float) * M * N), *C2 = malloc(sizeof(float) * M * N);
        elbo_rng_normal_fill(&r, A, (long)M * K);
        elbo_rng_normal_fill(&r, B, (long)K * N);
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int beta = 0; beta < 2; beta++) {
                    elbo_rng_normal_fill(&r, C1, (long)M * N);
                    for (int i = 0; i < M * N; i++) C2[i] = C1[i];
                    elbo_matmul(C1, A, B, M, N, K, ta, tb, (float)beta);
                    elbo_matmul_naive(C2, A, B, M, N, K, ta, tb, (float)beta);
                    double w = 0;
                    for (int i = 0; i < M * N; i++) {
                        double e = fabs(C1[i] - C2[i]) / (1e-5 * sqrt((double)K) + 1e-5 * fabs(C2[i]));
                        if (!(e <= w)) w = e;
                    }
                    CHECK(w <= 1.0, "matmul M=%d N=%d K=%d ta=%d tb=%d beta=%d: worst %.3g x tol",
                          M, N, K, ta, tb, beta, w);
                }
        free(A);
        free(B);
        free(C1);
        free(C2);
    }
    return check_summary("test_gemm");
}
