/* test_bnn_fixture.c — compares the Bayesian classifier with PyTorch on the
 * fixtures of dev/make_bnn_fixture.py (Bayes by Backprop written there
 * from the equations): the logits, the NLL and KL, the loss, every
 * gradient (mu and rho, weights and biases, with the KL term), and the
 * parameters after 3 Adam steps taken through the shared trainer (the
 * model's step_begin, its workers, its gradient chunks and the optimizer),
 * with one worker and with the batch split over two.
 *
 * Tolerances (stated, not tuned to pass), as test_fixture.c's:
 *   logits: atol 1e-5, rtol 1e-4; loss terms: relative 1e-5;
 *   gradients: atol 1e-4 x max|grad| of the tensor, rtol 1e-3;
 *   parameters after 3 Adam steps: atol 2e-6, rtol 1e-5. */
#include <string.h>

#include "check.h"
#include "fixture.h"
#include "models/bnn_internal.h"

static void run_case(const char *path, int threads)
{
    st_file f;
    elbo_error err;
    if (st_open(path, &f, &err) != ELBO_OK) {
        CHECK(0, "%s", err.msg);
        return;
    }
    elbo_bnn_config c;
    elbo_bnn_config_default(&c);
    int B = atoi(st_meta_get(&f, "batch"));
    double kl_scale = atof(st_meta_get(&f, "kl_scale"));
    c.prior_sigma = atof(st_meta_get(&f, "prior_sigma"));
    c.n_hidden = fixture_hidden(&f, c.hidden);
    c.max_batch = B;
    c.threads = threads;
    elbo_bnn *m = elbo_bnn_create(&c, 5, &err);
    CHECK(m != NULL, "create: %s", err.msg);
    if (!m) {
        st_close(&f);
        return;
    }
    int D = 784, C = 10, N = (int)(B / kl_scale + 0.5);
    int64_t sx[2] = {B, D}, sy[1] = {B}, sl[2] = {B, C}, s1[1] = {1}, s3[1] = {3};
    float *x = read_any(&f, "x", (long)B * D, 2, sx), *yf = read_any(&f, "y", B, 1, sy);
    float *eps = malloc(sizeof(float) * (size_t)B * m->eps_width); /* step layout */
    float *g = malloc(sizeof(float) * bnn_base(m)->n_params);
    if (!x || !yf) goto out;
    for (int l = 0, k = 0; l < m->n_layers; k += m->layers[l].out, l++) {
        char name[16];
        int O = m->layers[l].out;
        int64_t se[2] = {B, O};
        snprintf(name, sizeof name, "eps%d", l + 1);
        float *e = read_any(&f, name, (long)B * O, 2, se);
        for (int r = 0; e && r < B; r++) memcpy(eps + (size_t)r * m->eps_width + k, e + (size_t)r * O, sizeof(float) * O);
        free(e);
    }
    set_params(bnn_base(m), &f, "init");

    /* one forward and backward on worker 0 over the whole batch */
    bnn_worker *w = bnn_worker_of(m, 0);
    memcpy(w->a[0], x, sizeof(float) * (size_t)B * D);
    for (int r = 0; r < B; r++) {
        w->y[r] = (int32_t)yf[r];
        for (int l = 0, k = 0; l < m->n_layers; k += m->layers[l].out, l++)
            memcpy(w->eps[l] + (size_t)r * m->layers[l].out, eps + (size_t)r * m->eps_width + k,
                   sizeof(float) * m->layers[l].out);
    }
    w->rows = B;
    bnn_update_sigma(m);
    float nll = (float)bnn_forward(m, w), kl = (float)bnn_kl(m), loss = (float)(nll + kl_scale * kl);
    cmp(&f, "out.logits", w->out[m->n_layers - 1], 2, sl, 1e-5, 1e-4, 0);
    cmp(&f, "nll", &nll, 1, s1, 0, 1e-5, 0);
    cmp(&f, "kl", &kl, 1, s1, 0, 1e-5, 0);
    cmp(&f, "loss", &loss, 1, s1, 0, 1e-5, 0);
    bnn_backward(m, w);
    m->kl_scale = kl_scale;
    for (int k = 0; k < bnn_base(m)->n_chunks; k++) bnn_chunk_grad(m, 1, k, g + bnn_base(m)->chunks[k].off);
    cmp_params(bnn_base(m), &f, "grad", g, 1e-4, 1e-3, 1);

    /* three Adam steps through the trainer: rows 0..B-1 of a data set of N
     * rows, so that each step carries B / N = kl_scale of the KL */
    set_params(bnn_base(m), &f, "init");
    float *xs = calloc((size_t)N * D, sizeof(float));
    int32_t *ys = calloc((size_t)N, sizeof(int32_t));
    memcpy(xs, x, sizeof(float) * (size_t)B * D);
    for (int r = 0; r < B; r++) ys[r] = (int32_t)yf[r];
    elbo_dataset ds;
    CHECK(elbo_dataset_from_float(N, D, xs, ys, &ds, &err) == ELBO_OK, "%s", err.msg);
    elbo_train_config tc;
    elbo_train_config_default(&tc);
    tc.batch_size = B;
    bnn_set_step_noise(m, eps);
    float step_loss[3];
    for (int s = 0; s < 3; s++) {
        model_batch b = {&ds, NULL, NULL, 0, B, 0, 5, 0, 1};
        double sums[MODEL_MAX_TERMS];
        CHECK(trainer_step(bnn_trainer(m), bnn_base(m), &tc, &b, sums, &err) == ELBO_OK, "step: %s", err.msg);
        step_loss[s] = (float)sums[0];
        if (s == 0) {
            float first_nll = (float)sums[1], first_kl = (float)(sums[2] / kl_scale);
            cmp(&f, "nll", &first_nll, 1, s1, 0, 1e-5, 0);
            cmp(&f, "kl", &first_kl, 1, s1, 0, 1e-5, 0);
        }
    }
    CHECK(bnn_trainer(m)->step == 3, "step counter %ld", bnn_trainer(m)->step);
    cmp(&f, "adam.losses", step_loss, 1, s3, 0, 1e-5, 0);
    cmp_adam_params(bnn_base(m), &f, bnn_base(m)->params, g, 3, tc.lr, 2e-6, 1e-5);
    elbo_dataset_free(&ds);
    free(xs);
    free(ys);
out:
    free(x);
    free(yf);
    free(eps);
    free(g);
    elbo_bnn_free(m);
    st_close(&f);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "tests/fixtures";
    const char *cases[] = {"one", "two"};
    for (int threads = 1; threads <= 2; threads++)
        for (int i = 0; i < 2; i++) {
            char path[512];
            snprintf(path, sizeof path, "%s/bnn_%s.safetensors", dir, cases[i]);
            run_case(path, threads);
        }
    /* per thread count: 2 x 4 x 2 + 7 tensors for "one", 3 x 4 x 2 + 7 for "two" */
    CHECK(n_checked == 2 * (23 + 31), "%d tensors compared, expected 108", n_checked);
    printf("compared %d tensors with PyTorch\n", n_checked);
    return check_summary("test_bnn_fixture");
}
