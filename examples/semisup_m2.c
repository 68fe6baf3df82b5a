/* semisup_m2.c — semi-supervised MNIST from a few labels with M2 (Kingma et
 * al. 2014) through the public API: 10 labels per class by default, every other
 * training image unlabelled, test accuracy after each epoch.
 *   semisup_m2 [DATA_DIR] [LABELS_PER_CLASS] [EPOCHS] [OUT_DIR] [TRAIN_LIMIT]
 * Build: cc semisup_m2.c $(pkg-config --cflags --libs elbo) */
#include <stdio.h>
#include <stdlib.h>

#include <elbo.h>
#include <elbo_m2.h>

/* MNIST's training and test images with their labels, in an MNIST-layout folder. */
static int load(const char *dir, elbo_dataset *train, elbo_dataset *test, elbo_error *err)
{
    return elbo_dataset_load_mnist(dir, ELBO_SPLIT_TRAIN, train, err) == ELBO_OK &&
           elbo_dataset_load_mnist(dir, ELBO_SPLIT_TEST, test, err) == ELBO_OK;
}

int main(int argc, char **argv)
{
    const char *data = argc > 1 ? argv[1] : "data/mnist", *out = argc > 4 ? argv[4] : ".";
    int per_class = argc > 2 ? atoi(argv[2]) : 10, epochs = argc > 3 ? atoi(argv[3]) : 10;
    int limit = argc > 5 ? atoi(argv[5]) : 0;
    elbo_error err;
    elbo_dataset train = {0}, test = {0};
    if (!load(data, &train, &test, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        elbo_dataset_free(&train); /* either may have loaded */
        elbo_dataset_free(&test);
        return 1;
    }
    if (limit > 0) elbo_dataset_truncate(&train, limit);
    int n_labelled = elbo_dataset_draw_labels(&train, per_class, 1); /* label draw 1 */
    if (n_labelled < 1) {
        fprintf(stderr, "no labels drawn (LABELS_PER_CLASS %d)\n", per_class);
        return 1;
    }
    printf("%d labelled images, %d unlabelled\n", n_labelled, train.n - n_labelled);

    elbo_m2_config cfg;
    elbo_m2_config_default(&cfg); /* 500 softplus units, z 50, Bernoulli, alpha 1 */
    cfg.alpha = 20.0;             /* the weight of -log q(y|x) that bench/m2_protocol.sh uses */
    elbo_train_config tc;
    elbo_train_config_default(&tc);
    tc.batch_size = 100;
    tc.labelled_batch = 10; /* every batch: 10 labelled rows, 90 unlabelled */
    elbo_m2 *m = elbo_m2_create(&cfg, 1, &err);
    if (!m) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    elbo_model *h = elbo_m2_model(m); /* the engine's handle: train, save, resume */
    int rc = 0;
    for (int e = 1; e <= epochs && !rc; e++) {
        double terms[8]; /* loss, labelled and unlabelled bound, class loss, error */
        elbo_m2_metrics r;
        if (elbo_model_train_epoch(h, &tc, &train, NULL, NULL, terms, &err) != ELBO_OK ||
            elbo_m2_evaluate(m, &test, &r, &err) != ELBO_OK) {
            rc = 1;
            break;
        }
        printf("epoch %d  unlabelled -elbo %.2f nats  test accuracy %.2f%%\n", e, terms[2],
               100.0 * r.accuracy);
        elbo_m2_metrics_free(&r);
    }
    if (!rc && elbo_model_save(h, out, &err) != ELBO_OK) rc = 1;
    if (rc) fprintf(stderr, "%s\n", err.msg);
    elbo_m2_free(m);
    elbo_dataset_free(&train);
    elbo_dataset_free(&test);
    return rc;
}
