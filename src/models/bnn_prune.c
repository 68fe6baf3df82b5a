/* bnn_prune.c — weight pruning by signal-to-noise ratio (Blundell et al.
 * 2015, section 5.1 and Table 2): a weight whose posterior is wide next to
 * its mean, |mu| / sigma small, carries little; removing the lowest
 * fraction of the network's weights (one threshold over every layer, biases
 * kept) should barely move the test error. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bnn_internal.h"

/* The score a weight is kept by: |mu| / sigma, or |w| for point weights. */
static float score_of(const elbo_bnn *m, const bnn_layer *L, size_t i)
{
    const float *p = m->base.params;
    float mu = fabsf(p[L->wmu + i]);
    if (m->point) return mu;
    double r = p[L->wrho + i], sd = r > 30 ? r : log1p(exp(r));
    return (float)(mu / sd);
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

long elbo_bnn_weight_count(const elbo_bnn *m)
{
    long n = 0;
    for (int l = 0; l < m->n_layers; l++) n += (long)m->layers[l].in * m->layers[l].out;
    return n;
}

elbo_status elbo_bnn_snr(const elbo_bnn *m, float *snr, elbo_error *err)
{
    (void)err;
    long k = 0;
    for (int l = 0; l < m->n_layers; l++) { /* [out, in] order, whatever the memory layout */
        const bnn_layer *L = &m->layers[l];
        size_t I = (size_t)L->in, O = (size_t)L->out;
        for (size_t i = 0; i < I * O; i++) snr[k++] = score_of(m, L, L->transposed ? (i % I) * O + i / I : i);
    }
    return ELBO_OK;
}

elbo_status elbo_bnn_prune(elbo_bnn *m, double fraction, long *pruned, elbo_error *err)
{
    ELBO_ASSERT(m);
    if (!(fraction >= 0.0 && fraction < 1.0))
        return elbo_fail(err, ELBO_ERR_ARG, "a pruned fraction must lie in [0, 1), not %g", fraction);
    long n = elbo_bnn_weight_count(m), cut = (long)floor(fraction * (double)n);
    if (pruned) *pruned = 0;
    if (cut == 0) return ELBO_OK;
    float *s = malloc(sizeof(float) * (size_t)n);
    if (!s) return elbo_fail(err, ELBO_ERR_NOMEM, "out of memory for %ld scores", n);
    elbo_bnn_snr(m, s, err);
    qsort(s, (size_t)n, sizeof(float), cmp_float);
    float thr = s[cut - 1];
    free(s);
    /* every weight scoring below the threshold goes, then ties at it in
     * parameter order until `cut` are gone: the count is exact */
    long below = 0, gone = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int l = 0; l < m->n_layers; l++) {
            const bnn_layer *L = &m->layers[l];
            for (size_t i = 0; i < (size_t)L->in * L->out; i++) {
                float sc = score_of(m, L, i);
                int go = pass == 0 ? sc < thr : sc == thr && below + gone < cut;
                if (!go) continue;
                m->base.params[L->wmu + i] = 0.0f;
                if (!m->point) m->base.params[L->wrho + i] = -87.0f; /* sigma ~ 1e-38: the weight is 0 */
                if (pass == 0) below++;
                else gone++;
            }
        }
    if (pruned) *pruned = below + gone;
    return ELBO_OK;
}
