/* train.c — `elbo train`: the reference VAE's training run and its outputs. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "cmds.h"

static void train_help(void)
{
    printf("usage: elbo train [options]\n"
           "\n"
           "Trains a VAE (defaults: the PyTorch reference, 784-400-20, Bernoulli likelihood on\n"
           "grey levels, Adam lr 1e-3, batch 128, 20 epochs) and writes to the output folder:\n"
           "  model.safetensors   weights under the reference's names (PyTorch-loadable)\n"
           "  optim.safetensors   Adam state, step, epoch and PRNG state (for --resume)\n"
           "  metrics.jsonl       one JSON object per epoch\n"
           "  samples.png         64 samples from the prior\n"
           "  reconstructions.png test images, each followed by its reconstruction\n"
           "\n"
           "options:\n"
           "  --data DIR         MNIST-layout folder (default %s)\n"
           "  --out DIR          output folder, created if needed (default runs/vae)\n"
           "  --epochs N         epochs to train in total (default 20)\n"
           "  --batch N          batch size (default 128)\n"
           "  --lr X             Adam learning rate (default 1e-3)\n"
           "  --latent N         latent size (default 20)\n"
           "  --hidden LIST      hidden widths, comma-separated (default 400)\n"
           "  --likelihood L     bernoulli (default) or gaussian\n"
           "  --seed N           PRNG seed (default 1); same seed + threads => same run\n"
           "  --threads N        worker threads (default: all cores)\n"
           "  --train-limit N    use only the first N training examples\n"
           "  --test-limit N     use only the first N test examples\n"
           "  --no-test          skip the per-epoch test loss\n"
           "  --resume           continue from the checkpoint in --out (architecture flags\n"
           "                     are then taken from the checkpoint)\n"
           "  --quiet            print nothing but errors\n"
           "  -h, --help         this help\n",
           ELBO_DEFAULT_DATA);
}

/* Fails early if dir cannot take files: better now than after hours. */
static int check_writable(const char *dir)
{
    if (make_dirs(dir) != 0) {
        fprintf(stderr, "elbo train: cannot create output folder %s: %s\n", dir, strerror(errno));
        return -1;
    }
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/.write-test-XXXXXX", dir);
    int fd = mkstemp(probe);
    if (fd < 0) {
        fprintf(stderr, "elbo train: output folder %s is not writable: %s\n", dir, strerror(errno));
        return -1;
    }
    close(fd);
    unlink(probe);
    return 0;
}

int write_reconstructions(elbo_vae *m, const elbo_dataset *ds, int n, const char *path)
{
    const elbo_vae_config *c = elbo_vae_get_config(m);
    int D = c->input_dim;
    if (n > ds->n) n = ds->n;
    float *x = malloc(sizeof(float) * (size_t)n * D), *rec = malloc(sizeof(float) * (size_t)n * D),
          *grid = malloc(sizeof(float) * 2 * (size_t)n * D);
    int rc = 1;
    if (x && rec && grid) {
        for (long i = 0; i < (long)n * D; i++) x[i] = ds->pixels[i] / 255.0f;
        elbo_vae_reconstruct(m, x, n, rec);
        /* rows alternate: 8 originals, then their 8 reconstructions */
        int k = 0;
        for (int r0 = 0; r0 < n; r0 += 8) {
            int w = n - r0 < 8 ? n - r0 : 8;
            for (int i = 0; i < w; i++) memcpy(grid + (size_t)(k++) * D, x + (size_t)(r0 + i) * D, sizeof(float) * D);
            for (int i = w; i < 8 && n > 8; i++) memset(grid + (size_t)(k++) * D, 0, sizeof(float) * D);
            for (int i = 0; i < w; i++) memcpy(grid + (size_t)(k++) * D, rec + (size_t)(r0 + i) * D, sizeof(float) * D);
            for (int i = w; i < 8 && n > 8; i++) memset(grid + (size_t)(k++) * D, 0, sizeof(float) * D);
        }
        elbo_error err;
        if (elbo_write_png_grid(path, grid, k, ds->rows, ds->cols, n < 8 ? n : 8, &err) == ELBO_OK)
            rc = 0;
        else
            fprintf(stderr, "elbo: %s\n", err.msg);
    } else {
        fprintf(stderr, "elbo: out of memory\n");
    }
    free(x);
    free(rec);
    free(grid);
    return rc;
}

enum { O_DATA = 256, O_OUT, O_EPOCHS, O_BATCH, O_LR, O_LATENT, O_HIDDEN, O_LIK, O_SEED, O_THREADS,
       O_TRAIN_LIMIT, O_TEST_LIMIT, O_NO_TEST, O_RESUME, O_QUIET };

int cmd_train(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, 0, O_DATA},       {"out", required_argument, 0, O_OUT},
        {"epochs", required_argument, 0, O_EPOCHS},   {"batch", required_argument, 0, O_BATCH},
        {"lr", required_argument, 0, O_LR},           {"latent", required_argument, 0, O_LATENT},
        {"hidden", required_argument, 0, O_HIDDEN},   {"likelihood", required_argument, 0, O_LIK},
        {"seed", required_argument, 0, O_SEED},       {"threads", required_argument, 0, O_THREADS},
        {"train-limit", required_argument, 0, O_TRAIN_LIMIT},
        {"test-limit", required_argument, 0, O_TEST_LIMIT},
        {"no-test", no_argument, 0, O_NO_TEST},       {"resume", no_argument, 0, O_RESUME},
        {"quiet", no_argument, 0, O_QUIET},           {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *S = "train", *data = ELBO_DEFAULT_DATA, *out = "runs/vae";
    long epochs = 20, threads = 0, train_limit = -1, test_limit = -1, v;
    int no_test = 0, resume = 0, quiet = 0;
    uint64_t seed = 1;
    elbo_vae_config cfg;
    elbo_train_config tc;
    elbo_vae_config_default(&cfg);
    elbo_train_config_default(&tc);

    opterr = 0;
    optind = 1;
    int o;
    while ((o = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (o) {
        case O_DATA: data = optarg; break;
        case O_OUT: out = optarg; break;
        case O_EPOCHS: if (arg_int(S, "--epochs", optarg, 1, 1000000, &epochs)) return 2; break;
        case O_BATCH:
            if (arg_int(S, "--batch", optarg, 1, 65536, &v)) return 2;
            tc.batch_size = (int)v;
            break;
        case O_LR: if (arg_double(S, "--lr", optarg, 0.0, 10.0, 1, &tc.lr)) return 2; break;
        case O_LATENT:
            if (arg_int(S, "--latent", optarg, 1, 65536, &v)) return 2;
            cfg.latent_dim = (int)v;
            break;
        case O_HIDDEN: if (arg_hidden(S, "--hidden", optarg, &cfg)) return 2; break;
        case O_LIK: if (arg_likelihood(S, "--likelihood", optarg, &cfg.likelihood)) return 2; break;
        case O_SEED: if (arg_u64(S, "--seed", optarg, &seed)) return 2; break;
        case O_THREADS: if (arg_int(S, "--threads", optarg, 1, 1024, &threads)) return 2; break;
        case O_TRAIN_LIMIT: if (arg_int(S, "--train-limit", optarg, 1, 1L << 30, &train_limit)) return 2; break;
        case O_TEST_LIMIT: if (arg_int(S, "--test-limit", optarg, 1, 1L << 30, &test_limit)) return 2; break;
        case O_NO_TEST: no_test = 1; break;
        case O_RESUME: resume = 1; break;
        case O_QUIET: quiet = 1; break;
        case 'h': train_help(); return 0;
        case ':': {
            char msg[128];
            snprintf(msg, sizeof msg, "option '%s' needs a value", argv[optind - 1]);
            return usage_error(S, msg);
        }
        default: {
            char msg[128];
            snprintf(msg, sizeof msg, "unknown option '%s'", argv[optind - 1]);
            return usage_error(S, msg);
        }
        }
    }
    if (optind < argc) {
        char msg[128];
        snprintf(msg, sizeof msg, "unexpected argument '%s'", argv[optind]);
        return usage_error(S, msg);
    }
    cfg.max_batch = tc.batch_size > 128 ? tc.batch_size : 128;
    cfg.threads = (int)threads;
    if (check_writable(out)) return 1;

    elbo_error err;
    elbo_dataset train = {0}, test = {0};
    if (elbo_dataset_load_mnist(data, ELBO_SPLIT_TRAIN, &train, &err) != ELBO_OK ||
        (!no_test && elbo_dataset_load_mnist(data, ELBO_SPLIT_TEST, &test, &err) != ELBO_OK)) {
        fprintf(stderr, "elbo train: %s\n", err.msg);
        elbo_dataset_free(&train);
        return 1;
    }
    if (train_limit > 0) elbo_dataset_truncate(&train, (int)train_limit);
    if (test_limit > 0) elbo_dataset_truncate(&test, (int)test_limit);
    if (!resume) cfg.input_dim = train.rows * train.cols;

    elbo_vae *m = resume ? elbo_vae_load(out, cfg.max_batch, &err) : elbo_vae_create(&cfg, seed, &err);
    int rc = 1;
    if (!m || (resume && elbo_vae_set_threads(m, (int)threads, &err) != ELBO_OK)) {
        fprintf(stderr, "elbo train: %s\n", err.msg);
        goto done;
    }
    const elbo_vae_config *mc = elbo_vae_get_config(m);
    char metrics[4200];
    snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", out);
    if (!resume) {
        FILE *mf = fopen(metrics, "w");
        if (!mf) {
            fprintf(stderr, "elbo train: cannot create %s: %s\n", metrics, strerror(errno));
            goto done;
        }
        fclose(mf);
    }
    if (!quiet) {
        printf("elbo %s: training %d", elbo_version(), mc->input_dim);
        for (int i = 0; i < mc->n_hidden; i++) printf("-%d", mc->hidden[i]);
        printf("-%d VAE (%zu parameters) on %d images from %s, batch %d, lr %g, %d thread%s%s\n",
               mc->latent_dim, elbo_vae_num_params(m), train.n, data, tc.batch_size, tc.lr,
               elbo_vae_get_threads(m), elbo_vae_get_threads(m) == 1 ? "" : "s",
               resume ? ", resumed" : "");
        if (resume) printf("resuming after epoch %d (step %ld)\n", elbo_vae_epochs(m), elbo_vae_steps(m));
        fflush(stdout);
    }
    progress_bar pb = {!quiet && isatty(2), 0, (int)epochs};
    for (int e = elbo_vae_epochs(m) + 1; e <= epochs; e++) {
        pb.epoch = e;
        elbo_losses tr, te = {0, 0, 0, 0};
        double t0 = now_seconds();
        if (elbo_vae_train_epoch(m, &tc, &train, progress_cb, &pb, &tr, &err) != ELBO_OK) {
            progress_clear(&pb);
            fprintf(stderr, "elbo train: epoch %d: %s\n", e, err.msg);
            goto done;
        }
        double secs = now_seconds() - t0;
        progress_clear(&pb);
        if (!no_test && elbo_vae_eval(m, &test, seed * 1000003u + (uint64_t)e, &te, &err) != ELBO_OK) {
            fprintf(stderr, "elbo train: epoch %d: test set: %s\n", e, err.msg);
            goto done;
        }
        if (elbo_vae_save(m, out, &err) != ELBO_OK) {
            fprintf(stderr, "elbo train: saving the checkpoint: %s\n", err.msg);
            goto done;
        }
        FILE *mf = fopen(metrics, "a");
        if (!mf) {
            fprintf(stderr, "elbo train: cannot append to %s: %s\n", metrics, strerror(errno));
            goto done;
        }
        fprintf(mf, "{\"epoch\":%d,\"step\":%ld,\"train_loss\":%.6f,\"train_recon\":%.6f,\"train_kl\":%.6f",
                e, elbo_vae_steps(m), tr.loss, tr.recon, tr.kl);
        if (!no_test)
            fprintf(mf, ",\"test_loss\":%.6f,\"test_recon\":%.6f,\"test_kl\":%.6f", te.loss, te.recon, te.kl);
        fprintf(mf, ",\"seconds\":%.4f}\n", secs);
        if (fclose(mf) != 0) {
            fprintf(stderr, "elbo train: write to %s failed\n", metrics);
            goto done;
        }
        if (!quiet) {
            printf("epoch %3d  train %8.4f  (recon %8.4f  kl %7.4f)", e, tr.loss, tr.recon, tr.kl);
            if (!no_test) printf("  test %8.4f", te.loss);
            printf("  %.2f s\n", secs);
            fflush(stdout);
        }
    }
    char path[4200];
    float *samples = malloc(sizeof(float) * 64 * (size_t)mc->input_dim);
    if (!samples) {
        fprintf(stderr, "elbo train: out of memory\n");
        goto done;
    }
    elbo_vae_sample(m, 64, seed, samples);
    snprintf(path, sizeof path, "%s/samples.png", out);
    elbo_status st = elbo_write_png_grid(path, samples, 64, train.rows, train.cols, 8, &err);
    free(samples);
    if (st != ELBO_OK) {
        fprintf(stderr, "elbo train: %s\n", err.msg);
        goto done;
    }
    snprintf(path, sizeof path, "%s/reconstructions.png", out);
    if (write_reconstructions(m, no_test ? &train : &test, 32, path)) goto done;
    if (!quiet) printf("wrote %s/{model,optim}.safetensors, metrics.jsonl, samples.png, reconstructions.png\n", out);
    rc = 0;
done:
    elbo_vae_free(m);
    elbo_dataset_free(&train);
    elbo_dataset_free(&test);
    return rc;
}
