/* test_m2_fixture.c — compares M2 with PyTorch on the fixtures of
 * dev/make_m2_fixture.py (M2 written there from the paper's equations,
 * with torch.cat for the concatenations elbo never builds): the
 * classifier's logits, the loss terms (labelled and unlabelled bounds,
 * classification loss and error), every gradient, and the parameters after
 * 3 Adam steps through the shared trainer, with one worker and with the
 * batch split over two. The reference is computed in float64 (from the
 * float32 initial values): in float32 PyTorch's own rounding of the
 * ~1700-nat bounds, whose differences the unlabelled rows' classifier
 * gradient q_k (L_k - U) is made of, moved a few classifier weights by
 * 3.5e-6 after 3 Adam steps (1.7x the tolerance below).
 *
 * Tolerances (stated, not tuned to pass), as test_bnn_fixture.c's:
 *   logits: atol 1e-5, rtol 1e-4; loss terms: relative 1e-5;
 *   gradients: atol 1e-4 x max|grad| of the tensor, rtol 1e-3;
 *   parameters after 3 Adam steps: atol 2e-6, rtol 1e-5. */
#include <string.h>

#include "check.h"
#include "fixture.h"
#include "models/m2_internal.h"
#include "train/trainer.h"

static void run_case(const char *path, int threads)
{
    st_file f;
    elbo_error err;
    if (st_open(path, &f, &err) != ELBO_OK) {
        CHECK(0, "%s", err.msg);
        return;
    }
    elbo_m2_config c;
    elbo_m2_config_default(&c);
    int B = atoi(st_meta_get(&f, "batch")), D = 784, C = 10;
    c.latent_dim = atoi(st_meta_get(&f, "latent"));
    c.alpha = atof(st_meta_get(&f, "alpha"));
    c.activation = !strcmp(st_meta_get(&f, "activation"), "tanh") ? ELBO_ACT_TANH : ELBO_ACT_SOFTPLUS;
    c.likelihood = !strcmp(st_meta_get(&f, "likelihood"), "gaussian") ? ELBO_M2_GAUSSIAN : ELBO_M2_BERNOULLI;
    c.n_hidden = fixture_hidden(&f, c.hidden);
    c.max_batch = B;
    c.threads = threads;
    elbo_m2 *m = elbo_m2_create(&c, 5, &err);
    CHECK(m != NULL, "create: %s", m ? "" : err.msg);
    if (!m) {
        st_close(&f);
        return;
    }
    int Z = c.latent_dim;
    int64_t sx[2] = {B, D}, sy[1] = {B}, se[3] = {B, C, Z}, sl[2] = {B, C}, s1[1] = {1}, s3[1] = {3};
    float *x = read_any(&f, "x", (long)B * D, 2, sx), *yf = read_any(&f, "y", B, 1, sy);
    float *lf = read_any(&f, "labelled", B, 1, sy), *eps = read_any(&f, "eps", (long)B * C * Z, 3, se);
    model *mb = m2_base(m);
    float *g = malloc(sizeof(float) * mb->n_params);
    elbo_dataset ds = {0};
    if (!x || !yf || !lf || !eps) goto out;
    int32_t y[64];
    for (int r = 0; r < B; r++) y[r] = (int32_t)yf[r];
    CHECK(elbo_dataset_from_float(B, D, x, y, &ds, &err) == ELBO_OK, "%s", err.msg);
    ds.labelled = malloc((size_t)B);
    for (int r = 0; r < B; r++) ds.labelled[r] = lf[r] > 0.5f;
    set_params(mb, &f, "init");

    /* one forward and backward on worker 0 over the whole batch */
    elbo_train_config tc;
    elbo_train_config_default(&tc);
    tc.batch_size = B;
    model_step s = {&tc, 1.0, &m2_trainer(m)->rng, 0, 1};
    model_batch b = {&ds, NULL, NULL, 0, B, 0, 5, 0, 1};
    m2_set_step_noise(m, eps);
    mb->ops->step_begin(mb, &s, &b);
    mb->ops->forward(mb, &s, 0, &b, 0, B, 1);
    m2_worker *w = m2_worker_of(m, 0);
    cmp(&f, "out.logits", w->out[m->l_enc - 1], 2, sl, 1e-5, 1e-4, 0);
    float t[5];
    for (int k = 0; k < 5; k++) t[k] = (float)w->sums[k];
    cmp(&f, "loss", &t[0], 1, s1, 0, 1e-5, 0);
    cmp(&f, "labelled_sum", &t[1], 1, s1, 0, 1e-5, 0);
    cmp(&f, "unlabelled_sum", &t[2], 1, s1, 0, 1e-5, 0);
    cmp(&f, "class_sum", &t[3], 1, s1, 0, 1e-5, 0);
    cmp(&f, "error_sum", &t[4], 1, s1, 0, 1e-5, 0);
    for (int k = 0; k < mb->n_chunks; k++) m2_chunk_grad(m, 1, k, g + mb->chunks[k].off);
    cmp_params(mb, &f, "grad", g, 1e-4, 1e-3, 1);

    /* three Adam steps through the trainer on the same batch and noise */
    float step_loss[3];
    for (int k = 0; k < 3; k++) {
        double sums[MODEL_MAX_TERMS];
        CHECK(trainer_step(m2_trainer(m), mb, &tc, &b, sums, &err) == ELBO_OK, "step: %s", err.msg);
        step_loss[k] = (float)sums[0];
    }
    cmp(&f, "adam.losses", step_loss, 1, s3, 0, 1e-5, 0);
    cmp_adam_params(mb, &f, mb->params, g, 3, tc.lr, 2e-6, 1e-5);
out:
    elbo_dataset_free(&ds);
    free(x);
    free(yf);
    free(lf);
    free(eps);
    free(g);
    elbo_m2_free(m);
    st_close(&f);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "tests/fixtures";
    const char *cases[] = {"one", "two"};
    for (int threads = 1; threads <= 2; threads++)
        for (int i = 0; i < 2; i++) {
            char path[512];
            snprintf(path, sizeof path, "%s/m2_%s.safetensors", dir, cases[i]);
            run_case(path, threads);
        }
    /* per thread count: 7 + 7 layers x 2 x 2 for "one", 7 + (10 layers x 2 + logvar) x 2 for "two" */
    CHECK(n_checked == 2 * (35 + 49), "%d tensors compared, expected 168", n_checked);
    printf("compared %d tensors with PyTorch\n", n_checked);
    return check_summary("test_m2_fixture");
}
