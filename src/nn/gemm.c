/* gemm.c — elbo_matmul over cblas_sgemm, and its naive reference. */
#include "gemm.h"

#include <cblas.h>

#include "../util/common.h"

void elbo_matmul(float *C, const float *A, const float *B, int M, int N, int K,
                 int ta, int tb, float beta)
{
    ELBO_ASSERT(M >= 0 && N >= 0 && K >= 0);
    if (M == 0 || N == 0) return;
    int lda = ta ? M : K; /* row stride of A as stored */
    int ldb = tb ? K : N;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                M, N, K, 1.0f, A, lda > 0 ? lda : 1, B, ldb > 0 ? ldb : 1, beta, C, N);
}

void elbo_matmul_naive(float *C, const float *A, const float *B, int M, int N, int K,
                       int ta, int tb, float beta)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double acc = 0.0;
            for (int k = 0; k < K; k++) {
                float a = ta ? A[(long)k * M + i] : A[(long)i * K + k];
                float b = tb ? B[(long)j * K + k] : B[(long)k * N + j];
                acc += (double)a * b;
            }
            float c = beta == 0.0f ? 0.0f : beta * C[(long)i * N + j];
            C[(long)i * N + j] = c + (float)acc;
        }
}

void elbo_blas_single_thread(void) { openblas_set_num_threads(1); }
