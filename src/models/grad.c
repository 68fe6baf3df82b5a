/* grad.c — the parameter gradients of a training step, computed after every
 * worker's backward pass (see vae_internal.h, "Parameter gradients").
 *
 * A worker's backward pass leaves, for every layer, the layer's input rows
 * and the gradient at its output (pre-activation) rows. The weight gradient
 * of a layer is then dout^T @ in summed over all workers' rows; it is
 * computed here in chunks of whole rows of the stored weight (output
 * features for [out, in] weights, input features for the transposed first
 * layer), each chunk adding the workers' contributions in worker order. A
 * chunk's result therefore does not depend on which thread computes it, and
 * a chunk is small enough (<= CHUNK floats) to stay in cache while Adam
 * consumes it: the summed gradient never has to travel to memory. */
#include <string.h>

#include "../nn/ops.h"
#include "vae_internal.h"

enum { CHUNK = 32768 }; /* floats: 128 KB, well inside a core's L2 */

/* Rows of a weight per chunk: as many as fit in CHUNK floats, a multiple of
 * 16 when there are that many (whole vector blocks for the products). */
static int rows_per_chunk(int row_len)
{
    int r = CHUNK / row_len;
    if (r < 1) return 1;
    return r >= 16 ? r / 16 * 16 : r;
}

/* Counts (chunks == NULL) or fills the chunk list; returns the count. */
int vae_list_chunks(const void *owner, model_chunk *chunks)
{
    const elbo_vae *m = owner;
    int nc = 0;
#define ADD(lay, kind_, a, b, off_, n_)                                                          \
    do {                                                                                       \
        if (chunks)                                                                            \
            chunks[nc] = (model_chunk){.off = (off_), .n = (n_), .layer = (lay), .kind = (kind_), \
                                       .r0 = (a), .r1 = (b)};                                  \
        nc++;                                                                                  \
    } while (0)
    for (int li = 0; li < m->n_layers; li++) {
        const vae_layer *l = &m->layers[li];
        int row_len = l->transposed ? l->out : l->in, n_rows = l->transposed ? l->in : l->out;
        int step = rows_per_chunk(row_len);
        for (int r0 = 0; r0 < n_rows; r0 += step) {
            int r1 = n_rows - r0 < step ? n_rows : r0 + step;
            ADD(li, VAE_CHUNK_WEIGHT, r0, r1, l->w_off + (size_t)r0 * row_len,
                (size_t)(r1 - r0) * row_len);
        }
        for (int r0 = 0; r0 < l->out; r0 += CHUNK) {
            int r1 = l->out - r0 < CHUNK ? l->out : r0 + CHUNK;
            ADD(li, VAE_CHUNK_BIAS, r0, r1, l->b_off + (size_t)r0, (size_t)(r1 - r0));
        }
    }
    if (m->lv_off != (size_t)-1)
        for (int r0 = 0; r0 < m->cfg.input_dim; r0 += CHUNK) {
            int r1 = m->cfg.input_dim - r0 < CHUNK ? m->cfg.input_dim : r0 + CHUNK;
            ADD(-1, VAE_CHUNK_OTHER, r0, r1, m->lv_off + (size_t)r0, (size_t)(r1 - r0));
        }
#undef ADD
    return nc;
}


/* What worker w's backward pass kept for layer li: its input rows, the
 * gradient at its output, and how many rows. */
static void layer_io(const elbo_vae *m, const vae_worker *w, int li, const float **in,
                     const float **dout, int *rows)
{
    int L = m->cfg.n_hidden;
    if (vae_hier_layer_io(m, w, li, in, dout, rows)) return; /* the second layer's stacks */
    if (li < L) { /* encoder layer li */
        *in = li ? w->h_enc[li - 1] : w->x;
        *dout = w->dpre_enc[li];
        *rows = w->n_enc;
    } else if (li == m->l_mu || li == m->l_logvar) {
        *in = w->h_enc[L - 1];
        *dout = li == m->l_mu ? w->dmu : w->dlogvar;
        *rows = w->n_enc;
    } else if (li == m->l_flow) { /* the flow head */
        *in = w->h_enc[L - 1];
        *dout = w->f.dhead;
        *rows = w->n_enc;
    } else if (li > m->l_flow && m->l_iaf >= 0) { /* MADE layers of IAF step t */
        int t = (li - m->l_iaf) / 2, second = (li - m->l_iaf) % 2;
        *in = second ? w->f.ihid[t] : w->f.icat[t];
        *dout = second ? w->f.dims[t] : w->f.dipre[t];
        *rows = w->n_dec;
    } else if (li == m->l_out) {
        *in = w->h_dec[L - 1];
        *dout = w->dlogits;
        *rows = w->n_dec;
    } else { /* decoder layer j */
        int j = li - m->l_logvar - 1;
        *in = j ? w->h_dec[j - 1] : w->z;
        *dout = w->dpre_dec[j];
        *rows = w->n_dec;
    }
}

/* Worker w's contribution to rows [r0, r1) of layer li's weight gradient,
 * added into dst (packed rows). */
static void weight_rows_of(const elbo_vae *m, const vae_worker *w, int li, int r0, int r1,
                           float *dst)
{
    const vae_layer *l = &m->layers[li];
    int I = l->in, O = l->out;
    const float *in, *dout;
    int rows;
    layer_io(m, w, li, &in, &dout, &rows);
    if (!l->transposed) /* output features o in [r0, r1) */
        linear_weight_rows(dst, dout, in, rows, I, O, r0, r1);
    else if (w->x_sparse) /* input features; the data's non-zeros only */
        linear_sparse_weight_rows(dst, dout, &w->xs, O, r0, r1);
    else
        linear_t_weight_rows(dst, dout, in, rows, I, O, r0, r1);
}

/* Rows [r0, r1) of layer li's weight gradient into dst (packed rows), the
 * workers' contributions added in worker order. A group of processes adds
 * its members' gradients as g_0 + g_1 + ..., each formed from zero; for n
 * ranks of one thread and one rank of n threads to give the same bits, a
 * worker's contribution must enter dst the same way. A dense product does:
 * sgemm with beta 1 forms the product of a worker's rows and then adds it
 * to C (its rows fit one block of the product's inner dimension). The
 * sparse first layer adds row by row, so its contributions after the first
 * are formed in the worker's own buffer and then added. */
static void weight_rows(elbo_vae *m, int nw, int c, float *dst)
{
    const model_chunk *ch = &m->base.chunks[c];
    size_t n = ch->n;
    memset(dst, 0, sizeof(float) * n);
    weight_rows_of(m, &m->w[0], ch->layer, ch->r0, ch->r1, dst); /* 0 + g_0 */
    for (int t = 1; t < nw; t++) {
        if (!(m->layers[ch->layer].transposed && m->w[t].x_sparse)) {
            weight_rows_of(m, &m->w[t], ch->layer, ch->r0, ch->r1, dst);
            continue;
        }
        float *g = m->w[t].grads + ch->off;
        memset(g, 0, sizeof(float) * n);
        weight_rows_of(m, &m->w[t], ch->layer, ch->r0, ch->r1, g);
        for (size_t i = 0; i < n; i++) dst[i] += g[i];
    }
    const float *mask = m->layers[ch->layer].mask; /* MADE: masked weights get no gradient */
    if (mask) {
        mask += (size_t)ch->r0 * m->layers[ch->layer].in;
        for (size_t i = 0; i < n; i++) dst[i] *= mask[i];
    }
}

void vae_chunk_grad(elbo_vae *m, int nw, int c, float *dst)
{
    ELBO_ASSERT(c >= 0 && c < m->base.n_chunks && nw >= 1 && nw <= m->base.n_workers);
    const model_chunk *ch = &m->base.chunks[c];
    int n = ch->r1 - ch->r0;
    switch (ch->kind) {
    case VAE_CHUNK_WEIGHT: weight_rows(m, nw, c, dst); break;
    case VAE_CHUNK_BIAS: /* db[o] = sum of dout[:, o]: each worker's rows into its own
                            buffer, then the workers added in order (as a group adds
                            its members', so that ranks and threads give the same bits) */
        for (int t = 0; t < nw; t++) {
            const float *in, *dout;
            int rows;
            float *g = m->w[t].grads + ch->off;
            layer_io(m, &m->w[t], ch->layer, &in, &dout, &rows);
            memset(g, 0, sizeof(float) * (size_t)n);
            bias_backward(g, dout, rows, m->layers[ch->layer].out, ch->r0, ch->r1);
        }
        /* fall through */
    default: /* accumulated by the workers during backward: sum and zero */
        memset(dst, 0, sizeof(float) * (size_t)n);
        for (int t = 0; t < nw; t++) {
            float *g = m->w[t].grads + ch->off;
            for (int i = 0; i < n; i++) dst[i] += g[i];
            memset(g, 0, sizeof(float) * (size_t)n);
        }
        break;
    }
}

void vae_param_grads(elbo_vae *m, int nw, float *dst)
{
    for (int c = 0; c < m->base.n_chunks; c++) vae_chunk_grad(m, nw, c, dst + m->base.chunks[c].off);
}

void vae_zero_worker_grads(elbo_vae *m, int nw)
{
    for (int c = 0; c < m->base.n_chunks; c++)
        if (m->base.chunks[c].kind == VAE_CHUNK_OTHER)
            for (int t = 0; t < nw; t++)
                memset(m->w[t].grads + m->base.chunks[c].off, 0, sizeof(float) * m->base.chunks[c].n);
}
