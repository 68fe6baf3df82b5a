/* train_mnist.c — train the reference VAE on MNIST through the public API.
 *   train_mnist [DATA_DIR] [EPOCHS] [OUT_DIR] [TRAIN_LIMIT]
 * Build: cc train_mnist.c $(pkg-config --cflags --libs elbo) */
#include <stdio.h>
#include <stdlib.h>

#include <elbo.h>

static int progress(void *user, int step, int n_steps, double loss)
{
    if (step == n_steps || step % 100 == 0)
        fprintf(stderr, "\repoch %d: step %d/%d  loss %.2f", *(int *)user, step, n_steps, loss);
    return 0; /* non-zero would stop the epoch */
}

int main(int argc, char **argv)
{
    const char *data = argc > 1 ? argv[1] : "data/mnist", *out = argc > 3 ? argv[3] : ".";
    int epochs = argc > 2 ? atoi(argv[2]) : 20, limit = argc > 4 ? atoi(argv[4]) : 0;
    elbo_error err;
    elbo_dataset train = {0}, test = {0};
    if (elbo_dataset_load_mnist(data, ELBO_SPLIT_TRAIN, &train, &err) != ELBO_OK ||
        elbo_dataset_load_mnist(data, ELBO_SPLIT_TEST, &test, &err) != ELBO_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    if (limit > 0) elbo_dataset_truncate(&train, limit);

    elbo_vae_config cfg;
    elbo_vae_config_default(&cfg); /* the reference: 784-400-20, Bernoulli */
    elbo_train_config tc;
    elbo_train_config_default(&tc); /* Adam, lr 1e-3, batch 128 */
    elbo_vae *m = elbo_vae_create(&cfg, 1, &err);
    if (!m) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    for (int e = 1; e <= epochs; e++) {
        elbo_losses tr, te;
        if (elbo_vae_train_epoch(m, &tc, &train, progress, &e, &tr, &err) != ELBO_OK ||
            elbo_vae_eval(m, &test, 1, &te, &err) != ELBO_OK) {
            fprintf(stderr, "\n%s\n", err.msg);
            return 1;
        }
        printf("\nepoch %d  train %.4f (recon %.4f + kl %.4f)  test %.4f\n", e, tr.loss, tr.recon,
               tr.kl, te.loss);
    }
    int rc = elbo_vae_save(m, out, &err) == ELBO_OK ? 0 : 1;
    if (rc) fprintf(stderr, "%s\n", err.msg);
    elbo_vae_free(m);
    elbo_dataset_free(&train);
    elbo_dataset_free(&test);
    return rc;
}
