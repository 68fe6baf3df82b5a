/* vae_internal.h — the layout of an elbo_vae, shared by the model code, the
 * checkpoint code and the tests. Not installed.
 *
 * Memory (llm.c style): parameters, gradients, Adam's two moments and all
 * activations are each ONE contiguous buffer allocated at creation; layers
 * and activations are named views (offsets) into them. Nothing is allocated
 * during a training step.
 *
 * Layers, for L = n_hidden hidden widths h[0..L-1] (encoder order):
 *   enc[i]   fc{i+1}            h[i-1] (or D) -> h[i]        then ReLU
 *   mu       fc{L+1}_mu         h[L-1] -> Z
 *   logvar   fc{L+1}_logvar     h[L-1] -> Z
 *   dec[j]   fc{L+2+j}          Z (or h[L-j]) -> h[L-1-j]    then ReLU
 *   out      fc{2L+2}           h[0] -> D                    (logits / mean)
 * For L = 1 these are the reference's fc1, fc2_mu, fc2_logvar, fc3, fc4. */
#ifndef ELBO_VAE_INTERNAL_H
#define ELBO_VAE_INTERNAL_H

#include "../util/common.h"
#include "../util/rng.h"

#define VAE_MAX_LAYERS (2 * ELBO_MAX_HIDDEN + 3)

typedef struct {
    char name[32]; /* tensor name prefix, e.g. "fc1" */
    int in, out;
    size_t w_off, b_off; /* offsets into params/grads: W [out,in], b [out] */
} vae_layer;

struct elbo_vae {
    elbo_vae_config cfg;
    int n_layers;              /* 2L + 3 */
    vae_layer layers[VAE_MAX_LAYERS];
    int l_mu, l_logvar, l_out; /* indices of the special layers */

    size_t n_params;
    float *params, *grads, *adam_m, *adam_v; /* [n_params] each */
    long step;                 /* Adam steps taken */
    int epoch;                 /* completed epochs */
    elbo_rng rng;              /* shuffling and eps while training */

    /* activations for max_batch rows (views into act) */
    float *act;
    float *x;                          /* [B, D] input in [0,1] */
    float *h_enc[ELBO_MAX_HIDDEN];     /* [B, h[i]] after ReLU */
    float *mu, *logvar, *eps, *z;      /* [B, Z] */
    float *h_dec[ELBO_MAX_HIDDEN];     /* [B, h[L-1-j]] after ReLU */
    float *logits;                     /* [B, D] decoder output before sigmoid */
    /* their gradients */
    float *dact;
    float *dh_enc[ELBO_MAX_HIDDEN], *dpre_enc[ELBO_MAX_HIDDEN];
    float *dmu, *dlogvar, *dz;
    float *dh_dec[ELBO_MAX_HIDDEN], *dpre_dec[ELBO_MAX_HIDDEN];
    float *dlogits;
    size_t act_size;

    int *perm; /* shuffle order, grown per data set size */
    int perm_cap;
};

/* Forward pass over x (already copied to m->x), B rows, with m->eps filled.
 * Returns the summed reconstruction term and KL (over the batch). */
void vae_forward(elbo_vae *m, int B, double *recon_sum, double *kl_sum);
/* Zeroes grads and activation grads, then backpropagates the summed loss. */
void vae_backward(elbo_vae *m, int B);
/* Encoder only: x (m->x) -> m->mu, m->logvar. */
void vae_encode_forward(elbo_vae *m, int B);
/* Decoder only: m->z -> m->logits. */
void vae_decode_forward(elbo_vae *m, int B);
/* Forward, backward and one Adam step on m->x and m->eps (B rows, both
 * filled by the caller). Refuses a non-finite loss before touching weights. */
elbo_status vae_step_loaded(elbo_vae *m, const elbo_train_config *tc, int B, double *recon,
                            double *kl, elbo_error *err);
/* Copies B images (uint8) picked by idx (or consecutive from start when idx is
 * NULL) into m->x scaled to [0,1]. */
void vae_load_batch(elbo_vae *m, const elbo_dataset *ds, const int *idx, int start, int B);

#endif
