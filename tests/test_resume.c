/* test_resume.c — an epoch stopped in the middle (progress callback), saved,
 * reloaded and continued ends bit-identical to one that ran straight
 * through: weights, Adam state, PRNG, and the epoch's reported losses. Also
 * gradient clipping (against its definition) and the non-finite guards. */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "small_vae.h"
#include "data/dataset.h"
#include "models/vae_internal.h"
#include "optim/adam.h"
#include "optim/sgd.h"

static elbo_dataset train;
static char dir[256];

static void test_mid_epoch(double lr_decay, elbo_optimizer opt)
{
    elbo_train_config tc;
    elbo_train_config_default(&tc);
    tc.lr_decay = lr_decay; /* the schedule's position must resume too */
    tc.optimizer = opt;     /* and SGD's momentum buffer, its only state */
    if (opt == ELBO_OPTIM_SGD) {
        tc.lr = 1e-4; /* (the VAE's loss is hundreds of nats per image) */
        tc.momentum = 0.9;
    }
    elbo_error err;
    elbo_losses la1, la2, lb1, lb2;
    elbo_vae *a = fresh();
    CHECK(elbo_vae_train_epoch(a, &tc, &train, NULL, NULL, &la1, &err) == ELBO_OK, "%s", err.msg);
    CHECK(elbo_vae_train_epoch(a, &tc, &train, NULL, NULL, &la2, &err) == ELBO_OK, "%s", err.msg);

    elbo_vae *b = fresh();
    int stops[] = {3, 6}; /* stop after step 3, then after step 6, of epoch 1 */
    for (int k = 0; k < 2; k++) {
        CHECK(elbo_vae_train_epoch(b, &tc, &train, stop_after, &stops[k], &lb1, &err) == ELBO_OK, "%s", err.msg);
        CHECK(elbo_vae_epochs(b) == 0 && elbo_vae_epoch_examples(b) == 128L * stops[k],
              "stopped mid-epoch at %ld", elbo_vae_epoch_examples(b));
        CHECK(elbo_vae_save(b, dir, &err) == ELBO_OK, "%s", err.msg);
        elbo_vae_free(b);
        b = elbo_vae_load(dir, 0, &err);
        CHECK(b != NULL, "reload: %s", err.msg);
        if (!b) return;
        elbo_vae_set_threads(b, 2, &err);
        CHECK(elbo_vae_epoch_examples(b) == 128L * stops[k] && elbo_vae_seed(b) == 77, "state reloaded");
    }
    CHECK(elbo_vae_train_epoch(b, &tc, &train, NULL, NULL, &lb1, &err) == ELBO_OK, "%s", err.msg);
    CHECK(elbo_vae_epochs(b) == 1 && elbo_vae_epoch_examples(b) == 0, "epoch finished");
    CHECK(lb1.loss == la1.loss && lb1.recon == la1.recon && lb1.n == la1.n,
          "epoch-1 losses differ after stops and reloads: %.17g vs %.17g", lb1.loss, la1.loss);
    CHECK(elbo_vae_train_epoch(b, &tc, &train, NULL, NULL, &lb2, &err) == ELBO_OK, "%s", err.msg);
    CHECK(lb2.loss == la2.loss, "epoch-2 losses differ: %.17g vs %.17g", lb2.loss, la2.loss);
    CHECK(vae_trainer(a)->step == vae_trainer(b)->step, "steps differ");
    CHECK(memcmp(vae_base(a)->params, vae_base(b)->params, 4 * vae_base(a)->n_params) == 0, "resumed weights differ");
    const optim *oa = &vae_trainer(a)->opt, *ob = &vae_trainer(b)->opt;
    CHECK(oa->kind == ob->kind && oa->kind == (opt == ELBO_OPTIM_SGD ? OPTIM_SGD : OPTIM_ADAM) &&
              oa->n_state == ob->n_state, "resumed with optimizer %s, want %s", optim_name(ob->kind),
          optim_name(oa->kind));
    for (int k = 0; k < oa->n_state && k < ob->n_state; k++)
        CHECK(memcmp(optim_state(oa, k), optim_state(ob, k), 4 * vae_base(a)->n_params) == 0,
              "resumed optimizer state %s differs", oa->state_names[k]);
    CHECK(memcmp(vae_trainer(a)->rng.s, vae_trainer(b)->rng.s, sizeof vae_trainer(a)->rng.s) == 0 && vae_trainer(a)->rng.have_spare == vae_trainer(b)->rng.have_spare &&
              (!vae_trainer(a)->rng.have_spare || vae_trainer(a)->rng.spare == vae_trainer(b)->rng.spare),
          "resumed PRNG state differs");
    /* continuing with a different data set mid-epoch is refused */
    int one = 1;
    elbo_vae_train_epoch(b, &tc, &train, stop_after, &one, NULL, &err);
    elbo_dataset smaller = train;
    smaller.n = train.n - 1;
    CHECK(elbo_vae_train_epoch(b, &tc, &smaller, NULL, NULL, NULL, &err) == ELBO_ERR_MISMATCH,
          "mid-epoch data change accepted");
    elbo_vae_free(a);
    elbo_vae_free(b);
}

static void test_clip_and_faults(void)
{
    elbo_train_config tc;
    elbo_train_config_default(&tc);
    elbo_error err;
    float *x = malloc(sizeof(float) * 16 * 784);
    for (int i = 0; i < 16 * 784; i++) x[i] = train.u8[i] / 255.0f;
    /* clipping: the update equals an unclipped Adam step on the rescaled
     * gradient; compare one step on two copies */
    elbo_vae *a = fresh(), *b = fresh();
    memcpy(a->eps_step, b->eps_step, 4); /* (both drawn in the step) */
    double norm;
    {
        /* the gradient norm of this batch, from a forward/backward on a copy */
        elbo_vae *c = fresh();
        vae_worker *w = &c->w[0];
        memcpy(w->x, x, sizeof(float) * 16 * 784);
        elbo_rng r = vae_trainer(c)->rng;
        elbo_rng_normal_fill(&r, w->eps, 16L * 4);
        vae_forward(c, w, 16);
        vae_backward(c, w, 16);
        float *g = malloc(sizeof(float) * vae_base(c)->n_params);
        vae_param_grads(c, 1, g);
        double sq = 0;
        for (size_t i = 0; i < vae_base(c)->n_params; i++) sq += (double)g[i] * g[i];
        free(g);
        norm = sqrt(sq);
        elbo_vae_free(c);
    }
    CHECK(norm > 10, "test batch gradient norm %g is too small to clip", norm);
    tc.clip_grad = norm / 4;
    CHECK(elbo_vae_train_step(a, &tc, x, 16, NULL, &err) == ELBO_OK, "%s", err.msg);
    /* for Adam's first step the update is lr * g/|g| elementwise, which no
     * rescaling changes except through eps: so compare moments instead */
    tc.clip_grad = 0;
    CHECK(elbo_vae_train_step(b, &tc, x, 16, NULL, &err) == ELBO_OK, "%s", err.msg);
    double worst = 0;
    for (size_t i = 0; i < vae_base(a)->n_params; i++)
        worst = fmax(worst, fabs(optim_state(&vae_trainer(a)->opt, 0)[i] - optim_state(&vae_trainer(b)->opt, 0)[i] * 0.25) / (1e-6 + fabs(optim_state(&vae_trainer(b)->opt, 0)[i])));
    CHECK(worst < 1e-3, "clipped first moment is not 1/4 of the unclipped (worst %g)", worst);
    elbo_vae_free(a);
    elbo_vae_free(b);

    /* a non-finite input gives a non-finite loss: refused before any weight changes */
    a = fresh();
    float *before = malloc(4 * vae_base(a)->n_params);
    memcpy(before, vae_base(a)->params, 4 * vae_base(a)->n_params);
    x[5] = NAN;
    CHECK(elbo_vae_train_step(a, &tc, x, 16, NULL, &err) == ELBO_ERR_NUMERIC &&
              strstr(err.msg, "reconstruction") && strstr(err.msg, "step 1"),
          "NaN input: %s", err.msg);
    CHECK(memcmp(before, vae_base(a)->params, 4 * vae_base(a)->n_params) == 0 && vae_trainer(a)->step == 0, "weights changed");
    /* an infinite logit (bias) also makes the loss non-finite: refused */
    x[5] = 0.5f;
    vae_tensor(a, "fc4.bias")[3] = INFINITY;
    CHECK(elbo_vae_train_step(a, &tc, x, 16, NULL, &err) == ELBO_ERR_NUMERIC, "inf bias: %s", err.msg);
    /* a non-finite gradient element is found by Adam's check and named */
    float p[600] = {0}, mm[600] = {0}, vv[600] = {0}, g0[600] = {0};
    g0[437] = -INFINITY;
    g0[599] = NAN;
    CHECK(adam_step(p, g0, mm, vv, 600, 1, 1e-3, 0.9, 0.999, 1e-8, 1.0f) == 437,
          "adam_step did not report the first non-finite element");
    g0[437] = 1e30f; /* finite, but not once scaled by 1e10 */
    g0[599] = 0.0f;
    CHECK(adam_step(p, g0, mm, vv, 600, 2, 1e-3, 0.9, 0.999, 1e-8, 1e10f) == 437,
          "adam_step did not check the scaled gradient");
    CHECK(adam_step(p, g0, mm, vv, 600, 3, 1e-3, 0.9, 0.999, 1e-8, 1.0f) == (size_t)-1,
          "finite gradients reported as bad");
    char name[48];
    size_t w4 = vae_base(a)->tensors[model_tensor_find(vae_base(a), "fc4.weight")].off + 5,
           b1 = vae_base(a)->tensors[model_tensor_find(vae_base(a), "fc1.bias")].off;
    CHECK(strcmp(model_param_name(vae_base(a), w4, name, sizeof name), "fc4.weight") == 0 &&
              strcmp(model_param_name(vae_base(a), b1, name, sizeof name), "fc1.bias") == 0,
          "parameter names");
    free(before);
    free(x);
    elbo_vae_free(a);
}

/* The run record: canonical numbers that read back exactly, train config
 * round trip, set/get and its limits. */
static void test_run_record(void)
{
    char buf[64];
    const double vals[] = {0.1, 1e-3, 0.3, 1.0 / 3.0, 123456789.123, -6, 5e-324, 1e300};
    for (int i = 0; i < 8; i++) {
        elbo_format_double(buf, sizeof buf, vals[i]);
        CHECK(strtod(buf, NULL) == vals[i], "%s does not read back as %.17g", buf, vals[i]);
    }
    CHECK(!strcmp(elbo_format_double(buf, sizeof buf, 0.1), "0.1"), "0.1 spelled %s", buf);
    CHECK(!strcmp(elbo_format_double(buf, sizeof buf, 0.001), "0.001"), "0.001 spelled %s", buf);
    elbo_train_config tc, back;
    elbo_train_config_default(&tc);
    tc.lr = 0.1 + 0.2; /* 0.30000000000000004: needs 17 digits */
    tc.beta = 0.25;
    tc.kl_warmup_epochs = 7;
    tc.lr_decay = 0.97;
    tc.lr_min = 1e-5;
    tc.optimizer = ELBO_OPTIM_SGD;
    tc.momentum = 0.9;
    elbo_run_record r = {0};
    elbo_error err;
    CHECK(elbo_run_record_train_config(&r, &tc, &err) == ELBO_OK, "%s", err.msg);
    elbo_train_config_default(&back);
    CHECK(elbo_train_config_from_record(&r, &back, &err) == ELBO_OK, "%s", err.msg);
    CHECK(back.lr == tc.lr && back.beta == 0.25 && back.kl_warmup_epochs == 7 && back.lr_decay == 0.97 &&
              back.lr_min == 1e-5 && back.optimizer == ELBO_OPTIM_SGD && back.momentum == 0.9,
          "train config round trip");
    CHECK(elbo_run_record_set(&r, "lr", "x", &err) == ELBO_OK &&
              elbo_train_config_from_record(&r, &back, &err) == ELBO_ERR_FORMAT && strstr(err.msg, "lr"),
          "a bad value is named: %s", err.msg);
}

/* The learning-rate decay: its value along the epochs, the floor, and that
 * the Adam step really takes it (a first step moves every parameter with a
 * gradient well above eps by the rate itself). */
static void test_lr_decay(void)
{
    elbo_vae *m = fresh();
    trainer *t = vae_trainer(m);
    elbo_train_config tc;
    elbo_train_config_default(&tc);
    elbo_error err;
    t->epoch_n = 1000;
    CHECK(trainer_lr(t, &tc) == tc.lr, "constant by default");
    tc.lr_decay = 0.5;
    tc.lr_min = 1e-5;
    struct { int epoch; long seen; double want; } at[] = {
        {0, 0, 1e-3}, {0, 500, 1e-3 / sqrt(2.0)}, {1, 0, 5e-4}, {3, 0, 1.25e-4}, {20, 0, 1e-5}};
    for (int i = 0; i < 5; i++) {
        t->epoch = at[i].epoch;
        t->epoch_seen = at[i].seen;
        double lr = trainer_lr(t, &tc);
        CHECK(fabs(lr - at[i].want) < 1e-15, "lr at %d+%ld: %g, want %g", at[i].epoch, at[i].seen, lr,
              at[i].want);
    }
    t->epoch = 2;
    t->epoch_seen = 0;
    t->epoch_n = train.n;
    model *b = vae_base(m);
    float *before = malloc(sizeof(float) * b->n_params), *x = malloc(sizeof(float) * 128 * 784);
    for (int r = 0; r < 128; r++) elbo_dataset_row_input(&train, r, x + (size_t)r * 784, ELBO_BINARIZE_NONE, 0);
    memcpy(before, b->params, sizeof(float) * b->n_params);
    CHECK(elbo_vae_train_step(m, &tc, x, 128, NULL, &err) == ELBO_OK, "%s", err.msg);
    double big = 0.0;
    for (size_t i = 0; i < b->n_params; i++) big = fmax(big, fabs(b->params[i] - before[i]));
    CHECK(fabs(big - 2.5e-4) < 1e-6, "the first Adam step at epoch 2 with decay 0.5 moved %g, want 2.5e-4", big);
    free(before);
    tc.lr_decay = 1.5;
    CHECK(elbo_vae_train_step(m, &tc, x, 128, NULL, &err) == ELBO_ERR_ARG && strstr(err.msg, "lr_decay"),
          "a decay above 1 is refused: %s", err.msg);
    free(x);
    elbo_vae_free(m);
}

/* SGD with momentum against its definition: a first step moves every
 * parameter by -lr g (g: Adam's first moment / (1 - beta1) from the same
 * step on a copy), a second by -lr (momentum buf + g) with g from a copy
 * without momentum (identical until then), and a trained run keeps its
 * optimizer. */
static void test_sgd(void)
{
    elbo_train_config ta, ts, t0;
    elbo_train_config_default(&ta);
    ts = ta;
    ts.optimizer = ELBO_OPTIM_SGD;
    ts.lr = 1e-4;
    ts.momentum = 0.9;
    t0 = ts;
    t0.momentum = 0.0;
    elbo_error err;
    elbo_vae *ma = fresh(), *ms = fresh(), *m0 = fresh();
    model *bs = vae_base(ms);
    size_t n = bs->n_params;
    float *x = malloc(sizeof(float) * 256 * 784), *p0 = malloc(sizeof(float) * n), *buf1 = malloc(sizeof(float) * n);
    for (int r = 0; r < 256; r++) elbo_dataset_row_input(&train, r, x + (size_t)r * 784, ELBO_BINARIZE_NONE, 0);
    memcpy(p0, bs->params, sizeof(float) * n);
    CHECK(elbo_vae_train_step(ma, &ta, x, 128, NULL, &err) == ELBO_OK, "%s", err.msg);
    CHECK(elbo_vae_train_step(ms, &ts, x, 128, NULL, &err) == ELBO_OK, "%s", err.msg);
    CHECK(elbo_vae_train_step(m0, &t0, x, 128, NULL, &err) == ELBO_OK, "%s", err.msg);
    const optim *os = &vae_trainer(ms)->opt, *o0 = &vae_trainer(m0)->opt;
    CHECK(os->kind == OPTIM_SGD && os->n_state == 1 && !strcmp(os->state_names[0], "sgd.momentum_buffer"),
          "a fresh run takes the optimizer it is asked for");
    const float *g1 = optim_state(os, 0), *m1 = optim_state(&vae_trainer(ma)->opt, 0);
    double worst_g = 0.0, worst_p = 0.0, gmax = 0.0;
    for (size_t i = 0; i < n; i++) {
        worst_g = fmax(worst_g, fabs(g1[i] - m1[i] / 0.1));
        gmax = fmax(gmax, fabs(g1[i]));
        worst_p = fmax(worst_p, fabs(bs->params[i] - (p0[i] - (float)ts.lr * g1[i])));
    }
    CHECK(gmax > 1e-3 && worst_g < 1e-5 * gmax, "SGD's first buffer is the gradient: off by %g of %g", worst_g, gmax);
    CHECK(worst_p == 0.0, "the first SGD step is p - lr g: off by %g", worst_p);
    CHECK(memcmp(bs->params, vae_base(m0)->params, sizeof(float) * n) == 0, "momentum plays no part in step 1");
    memcpy(buf1, g1, sizeof(float) * n);
    memcpy(p0, bs->params, sizeof(float) * n);
    CHECK(elbo_vae_train_step(ms, &ts, x + 128 * 784, 128, NULL, &err) == ELBO_OK, "%s", err.msg);
    CHECK(elbo_vae_train_step(m0, &t0, x + 128 * 784, 128, NULL, &err) == ELBO_OK, "%s", err.msg);
    const float *g2 = optim_state(o0, 0), *b2 = optim_state(os, 0);
    size_t off = 0;
    for (size_t i = 0; i < n; i++)
        off += b2[i] != buf1[i] * 0.9f + g2[i] || bs->params[i] != p0[i] - (float)ts.lr * b2[i];
    CHECK(off == 0, "step 2: buf = 0.9 buf + g and p -= lr buf fail for %zu of %zu parameters", off, n);
    CHECK(elbo_vae_train_step(ma, &ts, x, 128, NULL, &err) == ELBO_ERR_MISMATCH && strstr(err.msg, "adam"),
          "a run trained with Adam refuses SGD: %s", err.msg);
    ta.momentum = 0.5;
    CHECK(elbo_vae_train_step(ma, &ta, x, 128, NULL, &err) == ELBO_ERR_ARG && strstr(err.msg, "momentum"),
          "momentum with Adam is refused: %s", err.msg);
    ts.momentum = 1.0;
    CHECK(elbo_vae_train_step(ms, &ts, x, 128, NULL, &err) == ELBO_ERR_ARG && strstr(err.msg, "momentum"),
          "momentum 1 is refused: %s", err.msg);
    /* the non-finite guard: the first bad element's index, past a clean block */
    float pp[600] = {0}, gg[600], bb[600] = {0};
    for (int i = 0; i < 600; i++) gg[i] = 0.01f * (float)i;
    CHECK(sgd_step(pp, gg, bb, 600, 0.1, 0.9, 1.0f) == (size_t)-1, "finite gradients pass");
    gg[300] = NAN;
    gg[450] = INFINITY;
    CHECK(sgd_step(pp, gg, bb, 600, 0.1, 0.9, 1.0f) == 300, "the first NaN is found");
    gg[300] = 1e38f;
    CHECK(sgd_step(pp, gg, bb, 600, 0.1, 0.9, 10.0f) == 300, "overflow by the scale is found");
    free(x);
    free(p0);
    free(buf1);
    elbo_vae_free(ma);
    elbo_vae_free(ms);
    elbo_vae_free(m0);
}

int main(void)
{
    elbo_error err;
    test_run_record();
    if (elbo_dataset_load_mnist("data/mnist", ELBO_SPLIT_TRAIN, &train, &err) != ELBO_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    elbo_dataset_truncate(&train, 1100); /* 9 steps: 8 full batches and one of 76 */
    snprintf(dir, sizeof dir, "/tmp/elbo-test-resume-XXXXXX");
    if (!mkdtemp(dir)) return 1;
    test_mid_epoch(1.0, ELBO_OPTIM_ADAM);
    test_mid_epoch(0.5, ELBO_OPTIM_ADAM);
    test_mid_epoch(1.0, ELBO_OPTIM_SGD);
    test_lr_decay();
    test_sgd();
    test_clip_and_faults();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    elbo_dataset_free(&train);
    return check_summary("test_resume");
}
