/* bench_infer.c — inference throughput through the public API: test-set
 * evaluation (-ELBO over every test image, one z each) and sampling (decode
 * N prior samples). Prints the median of R repeats as JSON.
 *
 *   bench_infer MODEL DATA_DIR THREADS [REPEATS] [N_SAMPLES]              */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "elbo.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_infer MODEL DATA_DIR THREADS [REPEATS] [N_SAMPLES]\n");
        return 2;
    }
    int threads = atoi(argv[3]), reps = argc > 4 ? atoi(argv[4]) : 7,
        ns = argc > 5 ? atoi(argv[5]) : 10000;
    if (reps < 1 || reps > 100 || ns < 1 || ns > 1000000) {
        fprintf(stderr, "bench_infer: REPEATS must be 1..100 and N_SAMPLES 1..1000000\n");
        return 2;
    }
    elbo_error err;
    elbo_vae *m = elbo_vae_load(argv[1], 0, &err);
    elbo_dataset test;
    if (!m || elbo_vae_set_threads(m, threads, &err) != ELBO_OK ||
        elbo_dataset_load_mnist(argv[2], ELBO_SPLIT_TEST, &test, &err) != ELBO_OK) {
        fprintf(stderr, "bench_infer: %s\n", err.msg);
        return 1;
    }
    float *out = malloc(sizeof(float) * (size_t)ns * elbo_vae_get_config(m)->input_dim);
    double te[100], ts[100];
    elbo_losses l;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        if (elbo_vae_eval(m, &test, 1, &l, &err) != ELBO_OK) {
            fprintf(stderr, "bench_infer: %s\n", err.msg);
            return 1;
        }
        te[r] = now() - t0;
        t0 = now();
        elbo_vae_sample(m, ns, (uint64_t)r, out);
        ts[r] = now() - t0;
    }
    qsort(te, (size_t)reps, sizeof(double), cmp_d);
    qsort(ts, (size_t)reps, sizeof(double), cmp_d);
    printf("{\"threads\":%d,\"eval_images\":%d,\"eval_s\":%.5f,\"eval_images_per_s\":%.0f,"
           "\"test_loss\":%.4f,\"samples\":%d,\"sample_s\":%.5f,\"samples_per_s\":%.0f}\n",
           elbo_vae_get_threads(m), test.n, te[reps / 2], test.n / te[reps / 2], l.loss, ns,
           ts[reps / 2], ns / ts[reps / 2]);
    free(out);
    elbo_dataset_free(&test);
    elbo_vae_free(m);
    return 0;
}
