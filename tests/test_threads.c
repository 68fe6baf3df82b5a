/* test_threads.c — no hidden global state: two models trained at the same
 * time in two threads end bit-identical to the same models trained one after
 * the other; and a run is reproducible for a fixed seed and thread count. */
#include <pthread.h>
#include <string.h>

#include "check.h"
#include "models/vae_internal.h"

static elbo_dataset train;

typedef struct {
    uint64_t seed;
    int threads, hidden;
    elbo_vae *m;
    elbo_status st;
} job;

static void *run(void *arg)
{
    job *j = arg;
    elbo_vae_config c;
    elbo_vae_config_default(&c);
    c.hidden[0] = j->hidden;
    c.threads = j->threads;
    elbo_train_config tc;
    elbo_train_config_default(&tc);
    elbo_error err;
    j->m = elbo_vae_create(&c, j->seed, &err);
    j->st = j->m ? ELBO_OK : err.code;
    for (int e = 0; e < 2 && j->st == ELBO_OK; e++)
        j->st = elbo_vae_train_epoch(j->m, &tc, &train, NULL, NULL, NULL, &err);
    return NULL;
}

static int same(elbo_vae *a, elbo_vae *b)
{
    return vae_base(a)->n_params == vae_base(b)->n_params && memcmp(vae_base(a)->params, vae_base(b)->params, 4 * vae_base(a)->n_params) == 0 &&
           memcmp(optim_state(&vae_trainer(a)->opt, 1), optim_state(&vae_trainer(b)->opt, 1), 4 * vae_base(a)->n_params) == 0;
}

int main(void)
{
    elbo_error err;
    if (elbo_dataset_load_mnist("data/mnist", ELBO_SPLIT_TRAIN, &train, &err) != ELBO_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    elbo_dataset_truncate(&train, 1500);
    for (int threads = 1; threads <= 2; threads++) {
        job a1 = {1, threads, 64, NULL, 0}, b1 = {2, threads, 48, NULL, 0};
        run(&a1); /* alone, one after the other */
        run(&b1);
        job a2 = a1, b2 = b1;
        pthread_t ta, tb;
        pthread_create(&ta, NULL, run, &a2); /* together */
        pthread_create(&tb, NULL, run, &b2);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        CHECK(a1.st == ELBO_OK && b1.st == ELBO_OK && a2.st == ELBO_OK && b2.st == ELBO_OK,
              "training failed");
        CHECK(a1.m && a2.m && same(a1.m, a2.m), "model A differs when trained beside B (%d threads)", threads);
        CHECK(b1.m && b2.m && same(b1.m, b2.m), "model B differs when trained beside A (%d threads)", threads);
        CHECK(a1.m && b1.m && elbo_vae_steps(a1.m) == 24 && elbo_vae_steps(b2.m) == 24, "step counts");
        elbo_vae_free(a1.m);
        elbo_vae_free(b1.m);
        elbo_vae_free(a2.m);
        elbo_vae_free(b2.m);
    }
    elbo_dataset_free(&train);
    return check_summary("test_threads");
}
