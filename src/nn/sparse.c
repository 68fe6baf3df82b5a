/* sparse.c — see sparse.h. */
#include "sparse.h"

#include <string.h>

#include "../util/common.h"

void sparse_batch_build(sparse_batch *s, const float *x, int B, int I)
{
    s->B = B;
    s->I = I;
    s->has_csc = 0;
    int nnz = 0;
    for (int r = 0; r < B; r++) {
        s->row_ptr[r] = nnz;
        const float *xr = x + (long)r * I;
        for (int k = 0; k < I; k++)
            if (xr[k] != 0.0f) {
                s->row_col[nnz] = k;
                s->row_val[nnz] = xr[k];
                nnz++;
            }
    }
    s->row_ptr[B] = nnz;
    s->nnz = nnz;
}

void sparse_batch_build_csc(sparse_batch *s)
{
    if (s->has_csc) return;
    int I = s->I, B = s->B;
    memset(s->col_ptr, 0, sizeof(int) * (size_t)(I + 1));
    for (int j = 0; j < s->nnz; j++) s->col_ptr[s->row_col[j] + 1]++;
    for (int k = 0; k < I; k++) s->col_ptr[k + 1] += s->col_ptr[k];
    /* scatter into CSC (rows arrive in increasing order within each column);
     * col_ptr[k] advances to the end of column k as it fills */
    for (int r = 0; r < B; r++)
        for (int j = s->row_ptr[r]; j < s->row_ptr[r + 1]; j++) {
            int k = s->row_col[j], pos = s->col_ptr[k]++;
            s->col_row[pos] = r;
            s->col_val[pos] = s->row_val[j];
        }
    for (int k = I; k > 0; k--) s->col_ptr[k] = s->col_ptr[k - 1];
    s->col_ptr[0] = 0;
    s->has_csc = 1;
}

/* Output columns per block: 32 floats of accumulator held in 8 four-wide
 * vector registers (GCC/Clang vector extensions, so this compiles to SSE or
 * AVX alike), while the slice WT[:, block] (I * 128 bytes: 100 KB for MNIST)
 * stays in L2. */
#define BLK 32
#define NV (BLK / 4)

typedef float v4 __attribute__((vector_size(16)));

static inline v4 ld4(const float *p)
{
    v4 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void st4(float *p, v4 v) { memcpy(p, &v, sizeof v); }

/* acc[0..BLK) += sum_j val[j] * rows[idx[j]][0..BLK), rows stride ld. */
static inline void axpy_block(float *acc_io, const int *idx, const float *val, int n,
                              const float *rows, long ld)
{
    v4 a[NV];
    for (int q = 0; q < NV; q++) a[q] = ld4(acc_io + 4 * q);
    for (int j = 0; j < n; j++) {
        const float *r = rows + (long)idx[j] * ld;
        v4 v = {val[j], val[j], val[j], val[j]};
#pragma GCC unroll 8
        for (int q = 0; q < NV; q++) a[q] += v * ld4(r + 4 * q);
    }
    for (int q = 0; q < NV; q++) st4(acc_io + 4 * q, a[q]);
}

/* The same for a partial block of w < BLK columns. */
static inline void axpy_tail(float *acc, int w, const int *idx, const float *val, int n,
                             const float *rows, long ld)
{
    for (int j = 0; j < n; j++) {
        const float *r = rows + (long)idx[j] * ld;
        for (int o = 0; o < w; o++) acc[o] += val[j] * r[o];
    }
}

void linear_sparse_forward(float *out, const sparse_batch *x, const float *WT, const float *b, int O)
{
    for (int o0 = 0; o0 < O; o0 += BLK) {
        int w = O - o0 < BLK ? O - o0 : BLK;
        for (int r = 0; r < x->B; r++) {
            float *acc = out + (long)r * O + o0;
            memcpy(acc, b + o0, sizeof(float) * (size_t)w);
            int j0 = x->row_ptr[r], n = x->row_ptr[r + 1] - j0;
            if (w == BLK)
                axpy_block(acc, x->row_col + j0, x->row_val + j0, n, WT + o0, O);
            else
                axpy_tail(acc, w, x->row_col + j0, x->row_val + j0, n, WT + o0, O);
        }
    }
}

void linear_sparse_backward(float *dWT, float *db, const float *dout, const sparse_batch *x, int O)
{
    ELBO_ASSERT(x->has_csc);
    for (int r = 0; r < x->B; r++) {
        const float *d = dout + (long)r * O;
        for (int o = 0; o < O; o++) db[o] += d[o];
    }
    for (int o0 = 0; o0 < O; o0 += BLK) {
        int w = O - o0 < BLK ? O - o0 : BLK;
        for (int k = 0; k < x->I; k++) {
            int j0 = x->col_ptr[k], n = x->col_ptr[k + 1] - j0;
            if (n == 0) continue;
            float *acc = dWT + (long)k * O + o0;
            if (w == BLK)
                axpy_block(acc, x->col_row + j0, x->col_val + j0, n, dout + o0, O);
            else
                axpy_tail(acc, w, x->col_row + j0, x->col_val + j0, n, dout + o0, O);
        }
    }
}
