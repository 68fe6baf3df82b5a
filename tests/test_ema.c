/* test_ema.c — the engine's parameter average (elbo_train_config.ema):
 * the average against its definition step by step, its exact resume in the
 * middle of an epoch, that a run evaluates and saves the averaged weights
 * (and trains the raw ones), turning it on and off, and the refusals. */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "small_vae.h"
#include "data/dataset.h"
#include "io/checkpoint.h"
#include "models/vae_internal.h"

static elbo_dataset train, test;
static char dir[256];

/* The rate of step t (1-based): min(d, (1 + t) / (10 + t)). */
static double rate(double d, long t) { return fmin(d, (1.0 + (double)t) / (10.0 + (double)t)); }

/* Five steps by hand: a_0 = the weights when it starts, then
 * a_t = d_t a_{t-1} + (1 - d_t) w_t. */
static void test_definition(void)
{
    elbo_vae *m = fresh();
    model *b = vae_base(m);
    size_t n = b->n_params;
    elbo_train_config tc;
    elbo_train_config_default(&tc);
    tc.ema = 0.5; /* reached at t = 8: both branches of the rate are taken */
    elbo_error err;
    float *x = malloc(sizeof(float) * 64 * 784);
    double *want = malloc(sizeof(double) * n), *fixed = malloc(sizeof(double) * n);
    for (int r = 0; r < 64; r++) elbo_dataset_row_input(&train, r, x + (size_t)r * 784, ELBO_BINARIZE_NONE, 0);
    for (size_t i = 0; i < n; i++) want[i] = fixed[i] = b->params[i];
    double worst = 0.0, moved = 0.0, off_fixed = 0.0;
    for (long t = 1; t <= 10; t++) {
        CHECK(elbo_vae_train_step(m, &tc, x, 64, NULL, &err) == ELBO_OK, "%s", err.msg);
        const float *a = vae_trainer(m)->ema;
        CHECK(a != NULL, "no average after step %ld", t);
        if (!a) break;
        double d = rate(tc.ema, t);
        for (size_t i = 0; i < n; i++) {
            want[i] = d * want[i] + (1.0 - d) * b->params[i];
            fixed[i] = tc.ema * fixed[i] + (1.0 - tc.ema) * b->params[i];
            worst = fmax(worst, fabs(a[i] - want[i]));
            off_fixed = fmax(off_fixed, fabs(a[i] - fixed[i]));
            moved = fmax(moved, fabs(a[i] - b->params[i]));
        }
    }
    CHECK(worst < 1e-6, "the average is off its definition by %g", worst);
    CHECK(moved > 1e-4, "the average is the weights themselves (%g apart)", moved);
    CHECK(off_fixed > 100 * worst && off_fixed > 1e-5,
          "the rate's warm-up makes no difference (%g against the fixed rate)", off_fixed);
    tc.ema = 0.0;
    CHECK(elbo_vae_train_step(m, &tc, x, 64, NULL, &err) == ELBO_OK && vae_trainer(m)->ema == NULL,
          "ema 0 drops the average");
    tc.ema = 1.0;
    CHECK(elbo_vae_train_step(m, &tc, x, 64, NULL, &err) == ELBO_ERR_ARG && strstr(err.msg, "ema"),
          "ema 1 is refused: %s", err.msg);
    tc.ema = -0.1;
    CHECK(elbo_vae_train_step(m, &tc, x, 64, NULL, &err) == ELBO_ERR_ARG, "a negative ema is refused");
    tc.ema = NAN;
    CHECK(elbo_vae_train_step(m, &tc, x, 64, NULL, &err) == ELBO_ERR_ARG, "a NaN ema is refused");
    free(want);
    free(fixed);
    free(x);
    elbo_vae_free(m);
}

/* An epoch stopped twice, saved and reloaded ends with the same average,
 * bit for bit, as one straight through; the average travels in
 * optim.safetensors. */
static void test_resume(void)
{
    elbo_train_config tc;
    elbo_train_config_default(&tc);
    tc.ema = 0.9;
    elbo_error err;
    elbo_vae *a = fresh(), *b = fresh();
    CHECK(elbo_vae_train_epoch(a, &tc, &train, NULL, NULL, NULL, &err) == ELBO_OK, "%s", err.msg);
    int stops[] = {3, 6};
    for (int k = 0; k < 2; k++) {
        CHECK(elbo_vae_train_epoch(b, &tc, &train, stop_after, &stops[k], NULL, &err) == ELBO_OK, "%s", err.msg);
        CHECK(elbo_vae_save(b, dir, &err) == ELBO_OK, "%s", err.msg);
        elbo_vae_free(b);
        b = elbo_vae_load(dir, 0, &err);
        CHECK(b != NULL, "reload: %s", err.msg);
        if (!b) return;
        CHECK(vae_trainer(b)->ema != NULL, "the average was not reloaded");
        elbo_vae_set_threads(b, 2, &err);
    }
    CHECK(elbo_vae_train_epoch(b, &tc, &train, NULL, NULL, NULL, &err) == ELBO_OK, "%s", err.msg);
    size_t n = vae_base(a)->n_params;
    CHECK(memcmp(vae_base(a)->params, vae_base(b)->params, 4 * n) == 0, "resumed weights differ");
    CHECK(vae_trainer(a)->ema && vae_trainer(b)->ema &&
              memcmp(vae_trainer(a)->ema, vae_trainer(b)->ema, 4 * n) == 0,
          "the resumed average differs");
    /* a checkpoint of a run without an average loads without one */
    tc.ema = 0.0;
    CHECK(elbo_vae_train_epoch(b, &tc, &train, stop_after, &stops[0], NULL, &err) == ELBO_OK, "%s", err.msg);
    CHECK(elbo_vae_save(b, dir, &err) == ELBO_OK, "%s", err.msg);
    elbo_vae_free(b);
    b = elbo_vae_load(dir, 0, &err);
    CHECK(b && vae_trainer(b)->ema == NULL, "an average appeared from nowhere");
    elbo_vae_free(a);
    elbo_vae_free(b);
}

typedef struct {
    double test_loss[4];
    int epochs;
} seen;

static void on_epoch(void *user, const elbo_epoch_report *r)
{
    seen *s = user;
    if (r->epoch <= 4) s->test_loss[r->epoch - 1] = r->test[0];
    s->epochs = r->epoch;
}

/* A run evaluates the averaged weights (the same figure as evaluating the
 * average by hand with the run's seed, and not the raw weights'), leaves
 * training on the raw ones, and writes ema.safetensors (the average) and
 * best.safetensors from the average. */
static void test_run(void)
{
    elbo_train_config tc;
    elbo_train_config_default(&tc);
    tc.ema = 0.95;
    elbo_run_config rc;
    elbo_run_config_default(&rc);
    rc.epochs = 2;
    rc.out_dir = dir;
    rc.val = &test;
    seen s = {{0}, 0};
    elbo_run_callbacks cb = {NULL, NULL, on_epoch, &s};
    elbo_error err;
    elbo_vae *m = fresh(), *plain = fresh();
    CHECK(elbo_vae_run(m, &tc, &rc, &train, &test, &cb, NULL, &err) == ELBO_OK, "%s", err.msg);
    CHECK(s.epochs == 2, "ran %d epochs", s.epochs);
    model *b = vae_base(m);
    trainer *t = vae_trainer(m);
    uint64_t seed = t->seed * 1000003u + 2u; /* the test evaluation's of epoch 2 */
    double avg[MODEL_MAX_TERMS], raw[MODEL_MAX_TERMS];
    CHECK(b->ops->eval(b, &test, seed, raw, &err) == ELBO_OK, "%s", err.msg);
    CHECK(elbo_model_swap_average(elbo_vae_model(m)) == 1, "the model keeps an average");
    CHECK(b->ops->eval(b, &test, seed, avg, &err) == ELBO_OK, "%s", err.msg);
    CHECK(avg[0] == s.test_loss[1], "the run's test loss %.17g is not the average's %.17g", s.test_loss[1], avg[0]);
    CHECK(raw[0] != avg[0], "raw and averaged weights evaluate alike (%.17g)", raw[0]);
    /* ema.safetensors holds the average (swapped in now) */
    char path[400];
    snprintf(path, sizeof path, "%s/ema.safetensors", dir);
    elbo_vae *e = elbo_vae_load(path, 0, &err);
    CHECK(e != NULL, "ema.safetensors: %s", err.msg);
    if (e) CHECK(memcmp(vae_base(e)->params, b->params, 4 * b->n_params) == 0, "ema.safetensors is not the average");
    elbo_vae_free(e);
    CHECK(elbo_model_swap_average(elbo_vae_model(m)) == 1, "swapped back");
    /* the raw weights trained as without an average: the same run without one */
    tc.ema = 0.0;
    CHECK(elbo_vae_run(plain, &tc, &rc, &train, &test, NULL, NULL, &err) == ELBO_OK, "%s", err.msg);
    CHECK(memcmp(vae_base(plain)->params, b->params, 4 * b->n_params) == 0,
          "the average changed the training of the raw weights");
    CHECK(elbo_model_swap_average(elbo_vae_model(plain)) == 0, "no average: nothing swapped");
    CHECK(access(path, F_OK) != 0, "a run without an average left a stale ema.safetensors");
    elbo_vae_free(m);
    elbo_vae_free(plain);
}

/* The run record keeps the rate, and reads it back. */
static void test_record(void)
{
    elbo_train_config tc, back;
    elbo_train_config_default(&tc);
    tc.ema = 0.999;
    elbo_run_record r = {0};
    elbo_error err;
    CHECK(elbo_run_record_train_config(&r, &tc, &err) == ELBO_OK, "%s", err.msg);
    elbo_train_config_default(&back);
    CHECK(back.ema == 0.0, "off by default");
    CHECK(elbo_train_config_from_record(&r, &back, &err) == ELBO_OK && back.ema == 0.999, "ema round trip");
}

int main(void)
{
    elbo_error err;
    test_record();
    if (elbo_dataset_load_mnist("data/mnist", ELBO_SPLIT_TRAIN, &train, &err) != ELBO_OK ||
        elbo_dataset_load_mnist("data/mnist", ELBO_SPLIT_TEST, &test, &err) != ELBO_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    elbo_dataset_truncate(&train, 1100);
    elbo_dataset_truncate(&test, 300);
    snprintf(dir, sizeof dir, "/tmp/elbo-test-ema-XXXXXX");
    if (!mkdtemp(dir)) return 1;
    test_definition();
    test_resume();
    test_run();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    elbo_dataset_free(&train);
    elbo_dataset_free(&test);
    return check_summary("test_ema");
}
