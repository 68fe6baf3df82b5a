/* gemm.h — the one matrix-product wrapper. Every matrix product in elbo goes
 * through elbo_matmul_ld (elbo_matmul is its densely packed case), which owns
 * all transpose and leading-dimension logic and calls OpenBLAS cblas_sgemm.
 * elbo_matmul_naive_ld is the triple loop it is tested against. All matrices
 * are row-major. */
#ifndef ELBO_GEMM_H
#define ELBO_GEMM_H

/* C[M,N] = beta * C + op(A) @ op(B), where op(A) is [M,K] and op(B) is [K,N].
 * ta = 0: A is stored [M,K]; ta = 1: A is stored [K,M] and used transposed.
 * tb = 0: B is stored [K,N]; tb = 1: B is stored [N,K] and used transposed.
 * lda, ldb, ldc: the distance between consecutive rows of A, B, C as stored
 * (at least their stored width), so a block of columns of a wider matrix can
 * be an operand. beta is 0 (overwrite; C is not read) or 1 (accumulate) in
 * practice; any value works. */
void elbo_matmul_ld(float *C, int ldc, const float *A, int lda, const float *B, int ldb, int M,
                    int N, int K, int ta, int tb, float beta);

/* elbo_matmul_ld on densely packed matrices (each ld is the stored width). */
void elbo_matmul(float *C, const float *A, const float *B, int M, int N, int K,
                 int ta, int tb, float beta);

/* Same contracts, plain loops with double accumulation (test reference). */
void elbo_matmul_naive_ld(float *C, int ldc, const float *A, int lda, const float *B, int ldb,
                          int M, int N, int K, int ta, int tb, float beta);
void elbo_matmul_naive(float *C, const float *A, const float *B, int M, int N, int K,
                       int ta, int tb, float beta);

/* Sets OpenBLAS to one thread (elbo parallelises over batch rows itself). */
void elbo_blas_single_thread(void);

#endif
