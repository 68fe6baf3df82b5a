/* test_fixture.c — compares elbo with PyTorch on fixtures written by
 * dev/make_fixture.py (the VAE) and dev/make_flow_fixture.py (planar flows,
 * IAF, two stochastic layers; their references computed in float64): forward
 * outputs, loss terms, every parameter gradient, and the parameters after 3
 * Adam steps, for six architectures.
 *
 * Tolerances (stated, not tuned to pass): an element a matches reference r
 * when |a - r| <= atol + rtol * |r|, with
 *   forward outputs (mu, logvar, z, logits): atol 1e-5, rtol 1e-4
 *   loss terms: relative 1e-5
 *   gradients:  atol 1e-4 * max|grad of that tensor|, rtol 1e-3
 *   weights after 3 Adam steps: atol 2e-6 (Adam moves each weight by ~1e-3
 *     per step, so this is 0.07% of the total movement), rtol 1e-5.
 * float32 sums in a different order (OpenBLAS vs PyTorch's kernels, the
 * sparse first layer) explain the remaining differences. Every case runs with
 * one worker thread and with the batch split over two. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "fixture.h"
#include "models/vae_internal.h"

/* Runs one fixture with the model split over `threads` workers. */
static void run_case(const char *path, int threads)
{
    st_file f;
    elbo_error err;
    if (st_open(path, &f, &err) != ELBO_OK) {
        CHECK(0, "%s", err.msg);
        return;
    }
    elbo_vae_config c;
    elbo_vae_config_default(&c);
    c.latent_dim = atoi(st_meta_get(&f, "latent_dim"));
    int B = atoi(st_meta_get(&f, "batch"));
    c.n_hidden = fixture_hidden(&f, c.hidden);
    c.likelihood = strcmp(st_meta_get(&f, "likelihood"), "gaussian") == 0 ? ELBO_LIK_GAUSSIAN
                                                                             : ELBO_LIK_BERNOULLI;
    c.max_batch = B;
    c.threads = threads;
    const char *v; /* the newer fixtures' configuration (absent: the plain VAE) */
    if ((v = st_meta_get(&f, "activation")))
        c.activation = !strcmp(v, "tanh") ? ELBO_ACT_TANH : !strcmp(v, "softplus") ? ELBO_ACT_SOFTPLUS : ELBO_ACT_RELU;
    if ((v = st_meta_get(&f, "flow"))) c.flow = !strcmp(v, "planar") ? ELBO_FLOW_PLANAR : ELBO_FLOW_IAF;
    if ((v = st_meta_get(&f, "flow_len"))) c.flow_len = atoi(v);
    if ((v = st_meta_get(&f, "flow_hidden"))) c.flow_hidden = atoi(v);
    if ((v = st_meta_get(&f, "latent2"))) c.latent2 = atoi(v);
    c.n_hidden2 = fixture_widths(&f, "hidden2", c.hidden2);
    elbo_vae *m = elbo_vae_create(&c, 123, &err);
    CHECK(m != NULL, "create: %s", err.msg);
    if (!m) {
        st_close(&f);
        return;
    }
    int D = c.input_dim, Z = c.latent_dim, Z2 = c.latent2;
    int64_t sx[2] = {B, D}, sz[2] = {B, Z}, sz2[2] = {B, Z2}, s1[1] = {1}, s3[1] = {3};
    float *x = read_any(&f, "x", (long)B * D, 2, sx), *eps = read_any(&f, "eps", (long)B * Z, 2, sz);
    float *g = malloc(sizeof(float) * vae_base(m)->n_params);
    /* the step's noise: z1's rows, then z2's (vae_set_step_noise) */
    float *noise = malloc(sizeof(float) * (size_t)B * (Z + Z2));
    if (!x || !eps || !noise) goto out;
    memcpy(noise, eps, sizeof(float) * B * Z);
    if (Z2) {
        float *e2 = read_any(&f, "eps2", (long)B * Z2, 2, sz2);
        if (!e2) goto out;
        memcpy(noise + B * Z, e2, sizeof(float) * B * Z2);
        free(e2);
    }
    set_params(vae_base(m), &f, "init");

    /* one forward/backward on worker 0 over the whole batch */
    vae_worker *w = &(*vae_worker_of(m, 0));
    memcpy(w->x, x, sizeof(float) * B * D);
    memcpy(w->eps, eps, sizeof(float) * B * Z);
    if (Z2) memcpy(w->h.eps2, noise + B * Z, sizeof(float) * B * Z2);
    vae_forward(m, w, B);
    cmp(&f, "out.mu", w->mu, 2, sz, 1e-5, 1e-4, 0);
    cmp(&f, "out.logvar", w->logvar, 2, sz, 1e-5, 1e-4, 0);
    cmp(&f, "out.z", w->z, 2, sz, 1e-5, 1e-4, 0);
    cmp(&f, "out.logits", w->logits, 2, sx, 1e-5, 1e-4, 0);
    float lr = (float)w->recon, lk = (float)w->kl, ll = (float)(w->recon + w->kl);
    cmp(&f, "recon", &lr, 1, s1, 0, 1e-5, 0);
    cmp(&f, "kl", &lk, 1, s1, 0, 1e-5, 0);
    cmp(&f, "loss", &ll, 1, s1, 0, 1e-5, 0);
    if (Z2) {
        float k1 = (float)w->h.kl1, k2 = (float)w->h.kl2;
        cmp(&f, "kl_z1", &k1, 1, s1, 0, 1e-5, 0);
        cmp(&f, "kl_z2", &k2, 1, s1, 0, 1e-5, 0);
    }
    vae_backward(m, w, B);
    vae_param_grads(m, 1, g);
    cmp_params(vae_base(m), &f, "grad", g, 1e-4, 1e-3, 1);
    memset(w->grads, 0, sizeof(float) * vae_base(m)->n_params);

    /* three Adam steps through the training path (batch split over the
     * workers), on the same batch and eps, from the same start */
    set_params(vae_base(m), &f, "init");
    elbo_train_config tc;
    elbo_train_config_default(&tc);
    tc.batch_size = B;
    float step_loss[3], first_recon = 0, first_kl = 0;
    vae_set_step_noise(m, noise);
    for (int s = 0; s < 3; s++) {
        elbo_losses l;
        CHECK(elbo_vae_train_step(m, &tc, x, B, &l, &err) == ELBO_OK, "step: %s", err.msg);
        step_loss[s] = (float)(l.loss * B);
        if (s == 0) { /* the training path's terms, before any update, as the fixture's */
            first_recon = (float)(l.recon * B);
            first_kl = (float)(l.kl * B);
        }
    }
    vae_set_step_noise(m, NULL);
    cmp(&f, "recon", &first_recon, 1, s1, 0, 1e-5, 0);
    cmp(&f, "kl", &first_kl, 1, s1, 0, 1e-5, 0);
    CHECK(vae_trainer(m)->step == 3, "step counter %ld", vae_trainer(m)->step);
    cmp(&f, "adam.losses", step_loss, 1, s3, 0, 1e-5, 0);
    cmp_adam_params(vae_base(m), &f, vae_base(m)->params, g, 3, tc.lr, 2e-6, 1e-5);
out:
    free(x);
    free(eps);
    free(noise);
    free(g);
    elbo_vae_free(m);
    st_close(&f);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "tests/fixtures";
    const char *cases[] = {"ref1", "deep", "gauss", "planar", "iaf", "hier"};
    for (int threads = 1; threads <= 2; threads++)
        for (int i = 0; i < 6; i++) {
            char path[512];
            snprintf(path, sizeof path, "%s/vae_%s.safetensors", dir, cases[i]);
            run_case(path, threads);
        }
    CHECK(n_checked >= 2 * 6 * 30, "only %d tensors compared", n_checked);
    printf("compared %d tensors with PyTorch\n", n_checked);
    return check_summary("test_fixture");
}
