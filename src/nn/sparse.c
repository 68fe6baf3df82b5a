/* sparse.c — see sparse.h. */
#include "sparse.h"

#include <string.h>

#include "../util/common.h"
#include "ops.h"

#include <stdlib.h>

int sparse_batch_alloc(sparse_batch *s, int B, int I, int values_only)
{
    memset(s, 0, sizeof *s);
    size_t cells = (size_t)B * (size_t)I;
    s->row_val = malloc(sizeof(float) * cells);
    s->col_val = malloc(sizeof(float) * cells);
    if (!values_only) {
        s->row_ptr = malloc(sizeof(int) * ((size_t)B + 1));
        s->row_col = malloc(sizeof(int) * cells);
        s->col_ptr = malloc(sizeof(int) * ((size_t)I + 1));
        s->col_row = malloc(sizeof(int) * cells);
    }
    if (s->row_val && s->col_val && (values_only || (s->row_ptr && s->row_col && s->col_ptr && s->col_row)))
        return 0;
    sparse_batch_free(s);
    return -1;
}

void sparse_batch_free(sparse_batch *s)
{
    free(s->row_ptr);
    free(s->row_col);
    free(s->row_val);
    free(s->col_ptr);
    free(s->col_row);
    free(s->col_val);
    memset(s, 0, sizeof *s);
}

void sparse_batch_build(sparse_batch *s, const float *x, int B, int I)
{
    s->B = B;
    s->I = I;
    s->has_csc = 0;
    int nnz = 0;
    for (int r = 0; r < B; r++) {
        s->row_ptr[r] = nnz;
        const float *xr = x + (long)r * I;
        /* branch-free: every input is written at the next free slot, which
         * only advances past the non-zeros (a branch on each pixel would be
         * mispredicted at every edge of a stroke). The slot never passes
         * the input's own index, so the writes stay inside the arrays. */
        for (int k = 0; k < I; k++) {
            s->row_col[nnz] = k;
            s->row_val[nnz] = xr[k];
            nnz += xr[k] != 0.0f;
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

/* Output columns are done in blocks of NV vectors of VW floats, the block's
 * accumulators held in registers (GCC/Clang vector extensions, so the same
 * code compiles to AVX-512, AVX or SSE). One non-zero input then costs one
 * broadcast and NV vector multiplies and adds against one contiguous slice
 * of a weight row; wide blocks make that slice many cache lines long, which
 * the out-of-order core and the L2 prefetcher overlap. (Separate multiplies
 * and adds, as C11 asks: fused ones were no faster, and each output is a sum
 * in the order of the non-zeros whatever the block width, so the results do
 * not depend on the instruction set.) MAXV is what fits in the
 * register file with room for the broadcast and a temporary: 28 of the 32
 * AVX-512 registers, 12 of the 16 AVX/SSE ones. Columns past the last whole
 * vector (O % VW) go through a scalar loop. */
#if defined(__AVX512F__)
#define VW 16
#define MAXV 28
#elif defined(__AVX__)
#define VW 8
#define MAXV 12
#else
#define VW 4
#define MAXV 12
#endif

typedef float vf __attribute__((vector_size(VW * sizeof(float))));

static inline vf ldv(const float *p)
{
    vf v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void stv(float *p, vf v) { memcpy(p, &v, sizeof v); }

/* acc[0 .. NV*VW) += sum_j val[j] * rows[idx[j]*ld + 0 .. NV*VW), one
 * function per block width so every loop over q unrolls into registers. */
typedef void (*axpy_fn)(float *acc, const int *idx, const float *val, int n, const float *rows,
                        long ld);
#define DEF_AXPY(NV)                                                                           \
    static void axpy_##NV(float *acc, const int *idx, const float *val, int n,                 \
                          const float *rows, long ld)                                          \
    {                                                                                          \
        vf a[NV];                                                                              \
        _Pragma("GCC unroll 32") for (int q = 0; q < NV; q++) a[q] = ldv(acc + VW * q);        \
        for (int j = 0; j < n; j++) {                                                          \
            const float *r = rows + (long)idx[j] * ld;                                         \
            vf v = (vf){0} + val[j];                                                           \
            _Pragma("GCC unroll 32") for (int q = 0; q < NV; q++) a[q] += v * ldv(r + VW * q); \
        }                                                                                      \
        _Pragma("GCC unroll 32") for (int q = 0; q < NV; q++) stv(acc + VW * q, a[q]);         \
    }

DEF_AXPY(1) DEF_AXPY(2) DEF_AXPY(3) DEF_AXPY(4) DEF_AXPY(5) DEF_AXPY(6) DEF_AXPY(7)
DEF_AXPY(8) DEF_AXPY(9) DEF_AXPY(10) DEF_AXPY(11) DEF_AXPY(12) DEF_AXPY(13) DEF_AXPY(14)
DEF_AXPY(15) DEF_AXPY(16) DEF_AXPY(17) DEF_AXPY(18) DEF_AXPY(19) DEF_AXPY(20) DEF_AXPY(21)
DEF_AXPY(22) DEF_AXPY(23) DEF_AXPY(24) DEF_AXPY(25) DEF_AXPY(26) DEF_AXPY(27) DEF_AXPY(28)

static const axpy_fn axpy_table[29] = {
    NULL,     axpy_1,  axpy_2,  axpy_3,  axpy_4,  axpy_5,  axpy_6,  axpy_7,  axpy_8,  axpy_9,
    axpy_10, axpy_11, axpy_12, axpy_13, axpy_14, axpy_15, axpy_16, axpy_17, axpy_18, axpy_19,
    axpy_20, axpy_21, axpy_22, axpy_23, axpy_24, axpy_25, axpy_26, axpy_27, axpy_28};

/* The O / VW whole vectors of a row go in the fewest blocks of at most MAXV
 * vectors, as even as possible: block i of nblk is vectors
 * [blk_start(i), blk_start(i + 1)). */
static int n_blocks(int O) { return (O / VW + MAXV - 1) / MAXV; }
static int blk_start(int O, int nblk, int i) { return (int)((long)(O / VW) * i / nblk); }

/* acc[o] += sum_j val[j] * rows[idx[j]*ld + o] for the scalar columns o in [o0, O). */
static inline void axpy_tail(float *acc, int o0, int O, const int *idx, const float *val, int n,
                             const float *rows, long ld)
{
    for (int j = 0; j < n; j++) {
        const float *r = rows + (long)idx[j] * ld;
        for (int o = o0; o < O; o++) acc[o] += val[j] * r[o];
    }
}

void linear_sparse_forward(float *out, const sparse_batch *x, const float *WT, const float *b, int O)
{
    int nblk = n_blocks(O), tail = O / VW * VW;
    for (int r = 0; r < x->B; r++) memcpy(out + (long)r * O, b, sizeof(float) * (size_t)O);
    for (int i = 0; i < nblk; i++) {
        int v0 = blk_start(O, nblk, i), o0 = v0 * VW;
        axpy_fn f = axpy_table[blk_start(O, nblk, i + 1) - v0];
        for (int r = 0; r < x->B; r++) {
            int j0 = x->row_ptr[r];
            f(out + (long)r * O + o0, x->row_col + j0, x->row_val + j0, x->row_ptr[r + 1] - j0,
              WT + o0, O);
        }
    }
    if (tail < O)
        for (int r = 0; r < x->B; r++) {
            int j0 = x->row_ptr[r];
            axpy_tail(out + (long)r * O, tail, O, x->row_col + j0, x->row_val + j0,
                      x->row_ptr[r + 1] - j0, WT, O);
        }
}

void linear_sparse_weight_rows(float *dWT_rows, const float *dout, const sparse_batch *x, int O,
                               int k0, int k1)
{
    ELBO_ASSERT(x->has_csc && 0 <= k0 && k0 <= k1 && k1 <= x->I);
    int nblk = n_blocks(O), tail = O / VW * VW;
    for (int i = 0; i < nblk; i++) {
        int v0 = blk_start(O, nblk, i), o0 = v0 * VW;
        axpy_fn f = axpy_table[blk_start(O, nblk, i + 1) - v0];
        for (int k = k0; k < k1; k++) {
            int j0 = x->col_ptr[k], n = x->col_ptr[k + 1] - j0;
            if (n) f(dWT_rows + (long)(k - k0) * O + o0, x->col_row + j0, x->col_val + j0, n, dout + o0, O);
        }
    }
    if (tail < O)
        for (int k = k0; k < k1; k++) {
            int j0 = x->col_ptr[k], n = x->col_ptr[k + 1] - j0;
            if (n)
                axpy_tail(dWT_rows + (long)(k - k0) * O, tail, O, x->col_row + j0, x->col_val + j0, n,
                          dout, O);
        }
}

void linear_sparse_backward(float *dWT, float *db, const float *dout, const sparse_batch *x, int O)
{
    ELBO_ASSERT(x->has_csc);
    bias_backward(db, dout, x->B, O, 0, O);
    linear_sparse_weight_rows(dWT, dout, x, O, 0, x->I);
}
