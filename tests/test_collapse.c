/* test_collapse.c — the posterior-collapse toolkit: the KL weight schedules
 * (warm-up, cyclical, beta), free bits' gradient against finite differences
 * of the objective they define, the active-unit count on a constructed
 * case, and the rotation-invariant count of active dimensions (eigenvalues
 * of the centres' covariance: util/symeig.c against known spectra; trace
 * equal to the units' summed variances; unchanged when the encoder's mean
 * is rotated, which does change the coordinate count). */
#include <math.h>
#include <string.h>

#include "check.h"
#include "fd.h"
#include "models/vae_internal.h"
#include "util/rng.h"
#include "util/symeig.h"

static void test_schedules(void)
{
    elbo_vae_config c;
    elbo_vae_config_default(&c);
    c.hidden[0] = 8;
    c.latent_dim = 2;
    c.threads = 1;
    elbo_error err;
    elbo_vae *m = elbo_vae_create(&c, 1, &err);
    elbo_train_config tc;
    elbo_train_config_default(&tc);
    CHECK(elbo_vae_kl_weight(m, &tc) == 1.0, "default weight is 1");
    tc.beta = 4.0;
    CHECK(elbo_vae_kl_weight(m, &tc) == 4.0, "beta");
    tc.beta = 1.0;
    tc.kl_warmup_epochs = 4;
    vae_trainer(m)->epoch_n = 1000;
    struct { int epoch; long seen; double want; } warm[] = {
        {0, 0, 0.0}, {0, 500, 0.125}, {1, 0, 0.25}, {3, 500, 0.875}, {4, 0, 1.0}, {9, 10, 1.0}};
    for (int i = 0; i < 6; i++) {
        vae_trainer(m)->epoch = warm[i].epoch;
        vae_trainer(m)->epoch_seen = warm[i].seen;
        double w = elbo_vae_kl_weight(m, &tc);
        CHECK(fabs(w - warm[i].want) < 1e-12, "warm-up at %d+%ld: %g, want %g", warm[i].epoch,
              warm[i].seen, w, warm[i].want);
    }
    tc.kl_warmup_epochs = 0;
    tc.kl_cycle_epochs = 4;
    struct { int epoch; long seen; double want; } cyc[] = {
        {0, 0, 0.0}, {1, 0, 0.5}, {1, 500, 0.75}, {2, 0, 1.0}, {3, 999, 1.0}, {4, 0, 0.0}, {5, 0, 0.5}};
    for (int i = 0; i < 7; i++) {
        vae_trainer(m)->epoch = cyc[i].epoch;
        vae_trainer(m)->epoch_seen = cyc[i].seen;
        double w = elbo_vae_kl_weight(m, &tc);
        CHECK(fabs(w - cyc[i].want) < 1e-12, "cycle at %d+%ld: %g, want %g", cyc[i].epoch,
              cyc[i].seen, w, cyc[i].want);
    }
    tc.kl_warmup_epochs = 2;
    float x[784] = {0};
    CHECK(elbo_vae_train_step(m, &tc, x, 1, NULL, &err) == ELBO_ERR_ARG, "warm-up and cycle together");
    elbo_vae_free(m);
}

/* The objective with KL weight w and free bits lambda, for the worker's
 * batch of B rows: recon + w * sum_j max(lambda * B, KL_j). */
typedef struct {
    elbo_vae *m;
    const float *x, *eps;
    int B;
    double w, lambda;
} obj_ctx;

static double objective(obj_ctx *o)
{
    vae_worker *wk = &(*vae_worker_of(o->m, 0));
    int D = (*elbo_vae_get_config(o->m)).input_dim, Z = (*elbo_vae_get_config(o->m)).latent_dim;
    memcpy(wk->x, o->x, sizeof(float) * o->B * D);
    memcpy(wk->eps, o->eps, sizeof(float) * o->B * Z);
    vae_forward(o->m, wk, o->B);
    double J = wk->recon;
    for (int j = 0; j < Z; j++) J += o->w * fmax(o->lambda * o->B, wk->kl_dims[j]);
    return J;
}

static double L_objective(void *c) { return objective(c); }

/* The gradient of one training step's objective on the 3-row batch x with
 * noise eps, through the model interface exactly as the trainer calls it
 * (step_begin, forward, the free-bits rule in between, backward), into g.
 * Returns how many dimensions the rule switched off. */
static int model_grad(elbo_vae *m, const float *x, const float *eps, double w, double lambda, float *g)
{
    model *b = vae_base(m);
    elbo_train_config tc;
    elbo_train_config_default(&tc);
    tc.batch_size = 3;
    tc.free_bits = lambda;
    vae_set_step_noise(m, eps);
    elbo_rng r;
    elbo_rng_seed(&r, 1);
    model_batch bt = {NULL, NULL, x, 0, 3, 0, 1, 0, 1};
    model_step s = {&tc, w, &r, 0, 1};
    b->ops->step_begin(b, &s, &bt);
    b->ops->forward(b, &s, 0, &bt, 0, 3, !s.two_phase);
    if (s.two_phase) {
        size_t nb;
        b->ops->batch_stats(b, 1, &nb);
        b->ops->between(b, &s, 1, 3);
        b->ops->backward(b, &s, 0, 3);
    }
    vae_set_step_noise(m, NULL);
    const vae_worker *wk = vae_worker_of(m, 0);
    int below = 0;
    for (int j = 0; j < 4; j++) below += lambda > 0 && wk->kl_dims[j] / 3 <= lambda;
    vae_param_grads(m, 1, g);
    return below;
}

/* Finite differences of the objective against the gradient of the training
 * step's rule (kl weight w, none for dimensions under lambda). */
static void test_free_bits_gradient(double w, double lambda)
{
    elbo_vae_config c;
    elbo_vae_config_default(&c);
    c.input_dim = 10;
    c.hidden[0] = 6;
    c.latent_dim = 4;
    c.max_batch = 3;
    c.threads = 1;
    elbo_error err;
    elbo_vae *m = elbo_vae_create(&c, 3, &err);
    elbo_rng r;
    elbo_rng_seed(&r, 9);
    float x[30], eps[12];
    for (int i = 0; i < 30; i++) x[i] = (float)elbo_rng_uniform(&r);
    elbo_rng_normal_fill(&r, eps, 12);
    /* spread the posterior so the dimensions' KLs differ widely */
    float *bmu = vae_tensor(m, "fc2_mu.bias");
    size_t mu_b = (size_t)(bmu - vae_base(m)->params);
    for (int j = 0; j < 4; j++) bmu[j] = 0.3f * (float)j * (float)j;
    obj_ctx o = {m, x, eps, 3, w, lambda};
    float *g = malloc(sizeof(float) * vae_base(m)->n_params);
    int below = model_grad(m, x, eps, w, lambda, g);
    CHECK(lambda == 0 || (below > 0 && below < 4), "lambda %g should split the dimensions (%d below)",
          lambda, below);
    char what[64];
    snprintf(what, sizeof what, "objective(w=%g, lambda=%g)", w, lambda);
    fd_check_h(what, vae_base(m)->params, g, (long)vae_base(m)->n_params, L_objective, &o, 1e-3, DETECT_KINKS);
    /* and the rule really changes the gradient: without it, dmu differs */
    if (lambda > 0) {
        float *g2 = malloc(sizeof(float) * vae_base(m)->n_params);
        model_grad(m, x, eps, w, 0.0, g2);
        double diff = 0;
        for (size_t i = 0; i < 4; i++) diff += fabs(g2[mu_b + i] - g[mu_b + i]);
        CHECK(diff > 1e-3, "free bits left the gradient unchanged");
        free(g2);
    }
    free(g);
    elbo_vae_free(m);
}

/* q [n, n] <- a random orthogonal matrix (Gram-Schmidt on normal rows) */
static void random_orthogonal(elbo_rng *r, double *q, int n)
{
    for (int i = 0; i < n; i++) {
        double *v = q + (size_t)i * n;
        for (int k = 0; k < n; k++) v[k] = elbo_rng_normal(r);
        for (int p = 0; p < i; p++) {
            double d = 0;
            for (int k = 0; k < n; k++) d += v[k] * q[(size_t)p * n + k];
            for (int k = 0; k < n; k++) v[k] -= d * q[(size_t)p * n + k];
        }
        double nn = 0;
        for (int k = 0; k < n; k++) nn += v[k] * v[k];
        for (int k = 0; k < n; k++) v[k] /= sqrt(nn);
    }
}

static void test_symeig(void)
{
    elbo_rng r;
    elbo_rng_seed(&r, 44);
    enum { N = 9 };
    /* Q D Q^T with a repeated, a zero and a negative eigenvalue */
    const double d[N] = {3.0, 0.0, 7.5, 1e-3, 3.0, -2.0, 0.25, 12.0, 0.011};
    double q[N * N], a[N * N], eig[N];
    random_orthogonal(&r, q, N);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < N; k++) s += q[k * N + i] * d[k] * q[k * N + j];
            a[i * N + j] = s;
        }
    int sweeps = elbo_symeig(a, N, eig);
    CHECK(sweeps > 0 && sweeps < 20, "Jacobi sweeps %d", sweeps);
    const double want[N] = {12.0, 7.5, 3.0, 3.0, 0.25, 0.011, 1e-3, 0.0, -2.0};
    for (int i = 0; i < N; i++)
        CHECK(fabs(eig[i] - want[i]) < 1e-12 * 12, "eigenvalue %d: %.15g, expected %g", i, eig[i], want[i]);
    double one = 4.0;
    CHECK(elbo_symeig(&one, 1, eig) == 0 && eig[0] == 4.0, "1 x 1");
}

/* The rotation-invariant count: with two of six mean units constant, four
 * eigenvalues of the centres' covariance are positive, they sum to the
 * units' variances, and rotating the encoder's mean layer by an orthogonal Q
 * (centres Q mu(x)) leaves them unchanged while every coordinate varies. */
static void test_active_dims(elbo_vae *m, const elbo_dataset *ds, const double *var, int units)
{
    elbo_error err;
    double eig[6], eig2[6], var2[6];
    int units2 = -1, dims = elbo_vae_active_dims(m, ds, 1, eig, &units2, &err);
    CHECK(dims == 4 && units2 == units, "active dims %d (units %d), expected 4 (eigenvalues %g %g %g %g %g %g)",
          dims, units2, eig[0], eig[1], eig[2], eig[3], eig[4], eig[5]);
    double tr = 0, te = 0;
    for (int j = 0; j < 6; j++) tr += var[j], te += eig[j];
    CHECK(fabs(tr - te) < 1e-6 * tr, "trace %g vs summed eigenvalues %g", tr, te);
    CHECK(fabs(eig[4]) < 1e-6 * eig[0] && fabs(eig[5]) < 1e-6 * eig[0], "two null directions");
    const model *mb = vae_base(m);
    int tw = model_tensor_find(mb, "fc2_mu.weight"), tb = model_tensor_find(mb, "fc2_mu.bias");
    int in = (int)mb->tensors[tw].shape[1];
    float *w = malloc(sizeof(float) * mb->tensors[tw].n), *w2 = malloc(sizeof(float) * mb->tensors[tw].n);
    float b[6], b2[6];
    model_tensor_export(mb, tw, mb->params, w);
    model_tensor_export(mb, tb, mb->params, b);
    elbo_rng r;
    elbo_rng_seed(&r, 45);
    double q[36];
    random_orthogonal(&r, q, 6);
    for (int j = 0; j < 6; j++) {
        double bs = 0;
        for (int k = 0; k < 6; k++) bs += q[j * 6 + k] * b[k];
        b2[j] = (float)bs;
        for (int i = 0; i < in; i++) {
            double s = 0;
            for (int k = 0; k < 6; k++) s += q[j * 6 + k] * w[(size_t)k * in + i];
            w2[(size_t)j * in + i] = (float)s;
        }
    }
    model_tensor_import(mb, tw, mb->params, w2);
    model_tensor_import(mb, tb, mb->params, b2);
    int rot_units = elbo_vae_latent_stats(m, ds, NULL, var2, &err);
    int rot_dims = elbo_vae_active_dims(m, ds, 1, eig2, NULL, &err);
    CHECK(rot_units == 6, "after the rotation every coordinate varies: %d active units", rot_units);
    CHECK(rot_dims == 4, "after the rotation: %d active dims", rot_dims);
    for (int j = 0; j < 6; j++)
        CHECK(fabs(eig2[j] - eig[j]) < 1e-4 * eig[0], "eigenvalue %d: %g rotated vs %g", j, eig2[j], eig[j]);
    CHECK(elbo_vae_active_dims(m, ds, 2, eig2, NULL, &err) < 0 && strstr(err.msg, "layer 2"),
          "layer 2 of a one-layer model is refused: %s", err.msg);
    model_tensor_import(mb, tw, mb->params, w);
    model_tensor_import(mb, tb, mb->params, b);
    free(w);
    free(w2);
}

static void test_active_units(void)
{
    elbo_vae_config c;
    elbo_vae_config_default(&c);
    c.hidden[0] = 30;
    c.latent_dim = 6;
    c.threads = 2;
    elbo_error err;
    elbo_vae *m = elbo_vae_create(&c, 5, &err);
    elbo_dataset ds;
    CHECK(elbo_dataset_load_mnist("data/mnist", ELBO_SPLIT_TEST, &ds, &err) == ELBO_OK, "%s", err.msg);
    elbo_dataset_truncate(&ds, 1000);
    /* dimensions 1 and 4 ignore the input: zero weights, constant mean */
    const model *mb = vae_base(m);
    int ti = model_tensor_find(mb, "fc2_mu.weight");
    const model_tensor *tm = &mb->tensors[ti];
    int in = (int)tm->shape[1];
    float *wmu = malloc(sizeof(float) * tm->n); /* [6, in], PyTorch's layout */
    model_tensor_export(mb, ti, mb->params, wmu);
    for (int j = 1; j < 6; j += 3)
        for (int i = 0; i < in; i++) wmu[(size_t)j * in + i] = 0.0f;
    /* the others are made clearly input-dependent */
    for (int j = 0; j < 6; j++)
        if (j != 1 && j != 4)
            for (int i = 0; i < in; i++) wmu[(size_t)j * in + i] *= 20.0f;
    model_tensor_import(mb, ti, mb->params, wmu);
    free(wmu);
    double kl[6], var[6];
    int active = elbo_vae_latent_stats(m, &ds, kl, var, &err);
    CHECK(active == 4, "active units %d, expected 4 (vars %g %g %g %g %g %g)", active, var[0], var[1],
          var[2], var[3], var[4], var[5]);
    CHECK(var[1] < 1e-10 && var[4] < 1e-10 && var[0] > 0.01, "variances of the constructed units");
    test_active_dims(m, &ds, var, active);
    /* KL per dimension against a direct computation */
    float *x = malloc(sizeof(float) * 1000 * 784), *mu = malloc(sizeof(float) * 6000),
          *lv = malloc(sizeof(float) * 6000);
    for (long i = 0; i < 1000L * 784; i++) x[i] = ds.u8[i] / 255.0f;
    elbo_vae_encode(m, x, 1000, mu, lv);
    for (int j = 0; j < 6; j++) {
        double k = 0;
        for (int r = 0; r < 1000; r++) {
            double a = mu[r * 6 + j], b = lv[r * 6 + j];
            k += -0.5 * (1 + b - a * a - exp(b));
        }
        CHECK(fabs(k / 1000 - kl[j]) < 1e-4 * (1 + fabs(kl[j])), "KL dim %d: %g vs %g", j, kl[j], k / 1000);
    }
    free(x);
    free(mu);
    free(lv);
    elbo_dataset_free(&ds);
    elbo_vae_free(m);
}

int main(void)
{
    test_schedules();
    test_free_bits_gradient(1.0, 0.0);  /* the plain ELBO */
    test_free_bits_gradient(0.3, 0.0);  /* during warm-up */
    test_free_bits_gradient(1.0, 0.8);  /* free bits */
    test_free_bits_gradient(0.5, 0.8);  /* both */
    test_symeig();
    test_active_units();
    return check_summary("test_collapse");
}
