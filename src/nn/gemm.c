/* gemm.c — elbo_matmul_ld over cblas_sgemm, and its naive reference. */
#include "gemm.h"

#include <cblas.h>

#include "../util/common.h"

/* stored widths of A and B given the transposes */
#define WIDTH_A(M, K, ta) ((ta) ? (M) : (K))
#define WIDTH_B(N, K, tb) ((tb) ? (K) : (N))

void elbo_matmul_ld(float *C, int ldc, const float *A, int lda, const float *B, int ldb, int M,
                    int N, int K, int ta, int tb, float beta)
{
    ELBO_ASSERT(M >= 0 && N >= 0 && K >= 0);
    ELBO_ASSERT(ldc >= N && lda >= WIDTH_A(M, K, ta) && ldb >= WIDTH_B(N, K, tb));
    if (M == 0 || N == 0) return;
    /* BLAS wants ld >= 1 even for an empty dimension */
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                M, N, K, 1.0f, A, lda > 0 ? lda : 1, B, ldb > 0 ? ldb : 1, beta, C, ldc);
}

void elbo_matmul(float *C, const float *A, const float *B, int M, int N, int K,
                 int ta, int tb, float beta)
{
    elbo_matmul_ld(C, N, A, WIDTH_A(M, K, ta), B, WIDTH_B(N, K, tb), M, N, K, ta, tb, beta);
}

void elbo_matmul_naive_ld(float *C, int ldc, const float *A, int lda, const float *B, int ldb,
                          int M, int N, int K, int ta, int tb, float beta)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double acc = 0.0;
            for (int k = 0; k < K; k++) {
                float a = ta ? A[(long)k * lda + i] : A[(long)i * lda + k];
                float b = tb ? B[(long)j * ldb + k] : B[(long)k * ldb + j];
                acc += (double)a * b;
            }
            float c = beta == 0.0f ? 0.0f : beta * C[(long)i * ldc + j];
            C[(long)i * ldc + j] = c + (float)acc;
        }
}

void elbo_matmul_naive(float *C, const float *A, const float *B, int M, int N, int K,
                       int ta, int tb, float beta)
{
    elbo_matmul_naive_ld(C, N, A, WIDTH_A(M, K, ta), B, WIDTH_B(N, K, tb), M, N, K, ta, tb, beta);
}

void elbo_blas_single_thread(void) { openblas_set_num_threads(1); }
