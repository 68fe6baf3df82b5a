/* sparse.h — a linear layer whose INPUT is mostly zeros (MNIST pixels are
 * ~81% zero), computed only over the non-zero inputs. Exact: it skips terms
 * that are exactly 0 * w, so it differs from the dense layer only in the
 * order of float additions.
 *
 * The weight is stored transposed, WT [I, O] (input-major), so that the row
 * of weights touched by one non-zero input is contiguous. Outputs are done in
 * column blocks that keep the touched slice of WT in cache.
 *
 * The batch's non-zeros are indexed by row (CSR, for forward) in a
 * sparse_batch built once per batch by sparse_batch_build into caller-owned
 * buffers, and by column (CSC, for the weight gradient) only when backward
 * needs it (sparse_batch_build_csc), so forward-only passes skip it. */
#ifndef ELBO_SPARSE_H
#define ELBO_SPARSE_H

typedef struct {
    int B, I;
    int nnz;
    int has_csc;   /* 1 once the CSC arrays below are filled */
    int *row_ptr;  /* [B+1]   CSR: non-zeros of row r are row_ptr[r] .. row_ptr[r+1]-1 */
    int *row_col;  /* [B*I]   their column indices */
    float *row_val;/* [B*I]   their values */
    int *col_ptr;  /* [I+1]   CSC */
    int *col_row;  /* [B*I] */
    float *col_val;/* [B*I] */
} sparse_batch;

/* The arrays of s for up to B rows of I columns (0, or -1 when out of
 * memory, s then holding nothing to free); sparse_batch_free releases
 * them. values_only: only row_val and col_val, for a batch that shares
 * another's pattern (its index pointers are copied from that one). */
int sparse_batch_alloc(sparse_batch *s, int B, int I, int values_only);
void sparse_batch_free(sparse_batch *s);

/* Indexes the non-zeros of x [B, I] by row into s (whose arrays are sized
 * for at least B rows of I columns). */
void sparse_batch_build(sparse_batch *s, const float *x, int B, int I);
/* Adds the by-column index of the same non-zeros (idempotent). */
void sparse_batch_build_csc(sparse_batch *s);

/* out[B,O] = x[B,I] @ WT[I,O] + b[O], using only x's non-zeros. */
void linear_sparse_forward(float *out, const sparse_batch *x, const float *WT, const float *b, int O);

/* dWT[I,O] += x^T @ dout[B,O]; db[O] += sum over rows of dout. (No gradient
 * for the input: it is data.) Needs the CSC index. */
void linear_sparse_backward(float *dWT, float *db, const float *dout, const sparse_batch *x, int O);

/* The weight gradient's rows k0 .. k1-1 alone: dWT_rows[k - k0, O] +=
 * (x^T @ dout)[k], where dWT_rows points at the first of those rows. Needs
 * the CSC index. (How the model splits the weight gradient over threads.) */
void linear_sparse_weight_rows(float *dWT_rows, const float *dout, const sparse_batch *x, int O,
                               int k0, int k1);

#endif
