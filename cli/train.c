/* train.c — `elbo train`: the training run, its checkpoints and outputs,
 * and clean stops on SIGINT/SIGTERM. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
           "  optim.safetensors   Adam state, step, position and PRNG state (for --resume)\n"
           "  metrics.jsonl       one JSON object per epoch\n"
           "  samples.png         64 samples from the prior\n"
           "  reconstructions.png test images, each row followed by its reconstructions\n"
           "\n"
           "options:\n"
           "  --data DIR           MNIST-layout folder (default %s)\n"
           "  --out DIR            output folder, created if needed (default runs/vae)\n"
           "  --epochs N           epochs to train in total (default 20)\n"
           "  --batch N            batch size (default 128)\n"
           "  --lr X               Adam learning rate (default 1e-3)\n"
           "  --adam-eps X         Adam's epsilon (default 1e-8)\n"
           "  --clip-grad X        rescale gradients to L2 norm <= X (default: off)\n"
           "  --beta X             KL weight (default 1: the ELBO; beta-VAE otherwise)\n"
           "  --kl-warmup N        KL weight rises linearly 0 -> beta over N epochs\n"
           "  --kl-cycle N         cyclical KL annealing with a period of N epochs\n"
           "  --free-bits X        free bits: X nats per latent dimension (Kingma et al.)\n"
           "  --latent N           latent size (default 20)\n"
           "  --hidden LIST        hidden widths, comma-separated (default 400)\n"
           "  --likelihood L       bernoulli (default), gaussian (unit variance) or\n"
           "                       gaussian-learned (a learned variance per pixel)\n"
           "  --binarize B         none (grey levels, default), static or dynamic\n"
           "  --activation A       relu (default), tanh or softplus\n"
           "  --objective O        elbo (default) or iwae (importance-weighted bound)\n"
           "  --samples K          the IWAE's K (default 1); the model then holds\n"
           "                       batch x K rows of activations\n"
           "  --exclude-digit D    leave out the training images labelled D (anomaly\n"
           "                       detection with a held-out class)\n"
           "  --seed N             PRNG seed (default 1); same seed + threads => same run\n"
           "  --threads N          worker threads (default: all cores)\n"
           "  --train-limit N      use only the first N training examples\n"
           "  --test-limit N       use only the first N test examples\n"
           "  --no-test            skip the per-epoch test loss and latent statistics\n"
           "  --checkpoint-every S save every S steps (S = N) or every N epochs (S = Ne);\n"
           "                       default 1e; the last state is always saved at the end\n"
           "  --resume             continue from the checkpoint in --out, exactly where it\n"
           "                       stopped (architecture, seed and optimizer state are taken\n"
           "                       from the checkpoint)\n"
           "  --quiet              print nothing but errors\n"
           "  -h, --help           this help\n"
           "\n"
           "Ctrl-C (SIGINT) or SIGTERM finishes the current step, saves a checkpoint and\n"
           "exits; --resume then continues bit-identically (same --threads).\n",
           ELBO_DEFAULT_DATA);
}

static volatile sig_atomic_t g_signal;

static void on_signal(int sig)
{
    if (g_signal) { /* a second one: stop now, keeping the last checkpoint */
        signal(sig, SIG_DFL);
        raise(sig);
    }
    g_signal = sig;
}

typedef struct {
    progress_bar bar;
    long ckpt_steps;   /* save every this many steps (0: by epochs) */
    long last_saved;   /* step count at the last save */
    const elbo_vae *m;
} train_ctx;

/* Progress callback: draws the bar; stops the epoch for a signal or when a
 * step-based checkpoint is due. */
static int on_step(void *user, int step, int n_steps, double loss)
{
    train_ctx *c = user;
    progress_cb(&c->bar, step, n_steps, loss);
    if (g_signal) return 1;
    return c->ckpt_steps > 0 && elbo_vae_steps(c->m) - c->last_saved >= c->ckpt_steps;
}

static int save(const char *out, elbo_vae *m, train_ctx *c)
{
    elbo_error err;
    if (elbo_vae_save(m, out, &err) != ELBO_OK) {
        fprintf(stderr, "elbo train: saving the checkpoint: %s\n", err.msg);
        return -1;
    }
    c->last_saved = elbo_vae_steps(m);
    return 0;
}

enum { O_DATA = 256, O_OUT, O_EPOCHS, O_BATCH, O_LR, O_LATENT, O_HIDDEN, O_LIK, O_SEED, O_THREADS,
       O_TRAIN_LIMIT, O_TEST_LIMIT, O_NO_TEST, O_RESUME, O_QUIET, O_CKPT, O_CLIP, O_BETA,
       O_WARMUP, O_CYCLE, O_FREEBITS, O_BINARIZE, O_ACT, O_OBJ, O_SAMPLES, O_EXCLUDE, O_ADAM_EPS };

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
        {"checkpoint-every", required_argument, 0, O_CKPT},
        {"clip-grad", required_argument, 0, O_CLIP},  {"beta", required_argument, 0, O_BETA},
        {"kl-warmup", required_argument, 0, O_WARMUP}, {"kl-cycle", required_argument, 0, O_CYCLE},
        {"free-bits", required_argument, 0, O_FREEBITS},
        {"binarize", required_argument, 0, O_BINARIZE},
        {"activation", required_argument, 0, O_ACT}, {"objective", required_argument, 0, O_OBJ},
        {"samples", required_argument, 0, O_SAMPLES}, {"exclude-digit", required_argument, 0, O_EXCLUDE},
        {"adam-eps", required_argument, 0, O_ADAM_EPS},
        {0, 0, 0, 0}};
    const char *S = "train", *data = ELBO_DEFAULT_DATA, *out = "runs/vae";
    long epochs = 20, threads = 0, train_limit = -1, test_limit = -1, v, ckpt_steps = 0,
         ckpt_epochs = 1, exclude = -1;
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
        case O_ADAM_EPS: if (arg_double(S, "--adam-eps", optarg, 0.0, 1.0, 1, &tc.eps)) return 2; break;
        case O_CLIP: if (arg_double(S, "--clip-grad", optarg, 0.0, 1e30, 1, &tc.clip_grad)) return 2; break;
        case O_BINARIZE:
            if (!strcmp(optarg, "none")) cfg.binarize = ELBO_BINARIZE_NONE;
            else if (!strcmp(optarg, "static")) cfg.binarize = ELBO_BINARIZE_STATIC;
            else if (!strcmp(optarg, "dynamic")) cfg.binarize = ELBO_BINARIZE_DYNAMIC;
            else return usage_error(S, "--binarize must be none, static or dynamic");
            break;
        case O_OBJ:
            if (!strcmp(optarg, "elbo")) tc.objective = ELBO_OBJ_ELBO;
            else if (!strcmp(optarg, "iwae")) tc.objective = ELBO_OBJ_IWAE;
            else return usage_error(S, "--objective must be elbo or iwae");
            break;
        case O_SAMPLES:
            if (arg_int(S, "--samples", optarg, 1, 100000, &v)) return 2;
            tc.samples = (int)v;
            break;
        case O_EXCLUDE: if (arg_int(S, "--exclude-digit", optarg, 0, 255, &exclude)) return 2; break;
        case O_ACT:
            if (!strcmp(optarg, "relu")) cfg.activation = ELBO_ACT_RELU;
            else if (!strcmp(optarg, "tanh")) cfg.activation = ELBO_ACT_TANH;
            else if (!strcmp(optarg, "softplus")) cfg.activation = ELBO_ACT_SOFTPLUS;
            else return usage_error(S, "--activation must be relu, tanh or softplus");
            break;
        case O_BETA: if (arg_double(S, "--beta", optarg, 0.0, 1e6, 0, &tc.beta)) return 2; break;
        case O_FREEBITS: if (arg_double(S, "--free-bits", optarg, 0.0, 1e6, 0, &tc.free_bits)) return 2; break;
        case O_WARMUP:
            if (arg_int(S, "--kl-warmup", optarg, 1, 1000000, &v)) return 2;
            tc.kl_warmup_epochs = (int)v;
            break;
        case O_CYCLE:
            if (arg_int(S, "--kl-cycle", optarg, 1, 1000000, &v)) return 2;
            tc.kl_cycle_epochs = (int)v;
            break;
        case O_LATENT:
            if (arg_int(S, "--latent", optarg, 1, 65536, &v)) return 2;
            cfg.latent_dim = (int)v;
            break;
        case O_HIDDEN: if (arg_hidden(S, "--hidden", optarg, &cfg)) return 2; break;
        case O_LIK: if (arg_likelihood(S, "--likelihood", optarg, &cfg.likelihood)) return 2; break;
        case O_SEED: if (arg_u64(S, "--seed", optarg, &seed)) return 2; break;
        case O_THREADS: if (arg_int(S, "--threads", optarg, 1, 64, &threads)) return 2; break;
        case O_TRAIN_LIMIT: if (arg_int(S, "--train-limit", optarg, 1, 1L << 30, &train_limit)) return 2; break;
        case O_TEST_LIMIT: if (arg_int(S, "--test-limit", optarg, 1, 1L << 30, &test_limit)) return 2; break;
        case O_NO_TEST: no_test = 1; break;
        case O_RESUME: resume = 1; break;
        case O_QUIET: quiet = 1; break;
        case O_CKPT: {
            size_t n = strlen(optarg);
            char buf[64];
            int by_epoch = n > 0 && optarg[n - 1] == 'e';
            snprintf(buf, sizeof buf, "%.*s", (int)(by_epoch ? n - 1 : n), optarg);
            if (arg_int(S, "--checkpoint-every", buf, 1, 1L << 30, &v)) return 2;
            ckpt_steps = by_epoch ? 0 : v;
            ckpt_epochs = by_epoch ? v : 0;
            break;
        }
        case 'h': train_help(); return 0;
        default: return option_error(S, o, argv);
        }
    }
    if (optind < argc) return stray_argument(S, argv[optind]);
    if (tc.kl_warmup_epochs > 0 && tc.kl_cycle_epochs > 0)
        return usage_error(S, "--kl-warmup and --kl-cycle exclude each other");
    if (tc.objective == ELBO_OBJ_ELBO && tc.samples != 1)
        return usage_error(S, "--samples needs --objective iwae");
    if (tc.objective == ELBO_OBJ_IWAE && (tc.kl_warmup_epochs || tc.kl_cycle_epochs ||
                                          tc.free_bits > 0 || tc.beta != 1.0))
        return usage_error(S, "--objective iwae cannot be combined with --beta, --kl-* or --free-bits");
    cfg.max_batch = tc.batch_size * tc.samples > 128 ? tc.batch_size * tc.samples : 128;
    cfg.threads = (int)threads;
    if (check_writable(S, out)) return 1;

    /* from here a signal stops training after the next step, with a save */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    elbo_error err;
    elbo_dataset train = {0}, test = {0};
    if (elbo_dataset_load_mnist(data, ELBO_SPLIT_TRAIN, &train, &err) != ELBO_OK ||
        (!no_test && elbo_dataset_load_mnist(data, ELBO_SPLIT_TEST, &test, &err) != ELBO_OK)) {
        fprintf(stderr, "elbo train: %s\n", err.msg);
        elbo_dataset_free(&train);
        return 1;
    }
    if (exclude >= 0) elbo_dataset_drop_label(&train, (int)exclude);
    if (train_limit > 0) elbo_dataset_truncate(&train, (int)train_limit);
    if (test_limit > 0) elbo_dataset_truncate(&test, (int)test_limit);
    if (!resume) cfg.input_dim = train.rows * train.cols;

    char metrics[4200];
    snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", out);
    remove_stale_temporaries(out);
    elbo_vae *m = NULL;
    int rc = 1;
    if (resume) {
        m = elbo_vae_load(out, cfg.max_batch, &err);
        if (m && elbo_vae_steps(m) == 0) {
            snprintf(err.msg, sizeof err.msg,
                     "%s holds no optimizer state to resume from (optim.safetensors)", out);
            elbo_vae_free(m);
            m = NULL;
        }
        if (m && elbo_vae_set_threads(m, (int)threads, &err) != ELBO_OK) {
            elbo_vae_free(m);
            m = NULL;
        }
        if (m) {
            seed = elbo_vae_seed(m);
            if (trim_metrics(metrics, elbo_vae_epochs(m)) != 0) {
                fprintf(stderr, "elbo train: cannot rewrite %s: %s\n", metrics, strerror(errno));
                goto done;
            }
        }
    } else {
        m = elbo_vae_create(&cfg, seed, &err);
        FILE *mf = m ? fopen(metrics, "w") : NULL;
        if (m && !mf) {
            fprintf(stderr, "elbo train: cannot create %s: %s\n", metrics, strerror(errno));
            goto done;
        }
        if (mf) fclose(mf);
    }
    if (!m) {
        fprintf(stderr, "elbo train: %s\n", err.msg);
        goto done;
    }
    const elbo_vae_config *mc = elbo_vae_get_config(m);
    if (!quiet) {
        printf("elbo %s: training %d", elbo_version(), mc->input_dim);
        for (int i = 0; i < mc->n_hidden; i++) printf("-%d", mc->hidden[i]);
        printf("-%d VAE (%zu parameters) on %d images from %s, batch %d, lr %g, %d thread%s\n",
               mc->latent_dim, elbo_vae_num_params(m), train.n, data, tc.batch_size, tc.lr,
               elbo_vae_get_threads(m), elbo_vae_get_threads(m) == 1 ? "" : "s");
        if (resume)
            printf("resuming after epoch %d, step %ld (%ld examples into epoch %d)\n",
                   elbo_vae_epochs(m), elbo_vae_steps(m), elbo_vae_epoch_examples(m),
                   elbo_vae_epochs(m) + 1);
        fflush(stdout);
    }

    train_ctx ctx = {{!quiet && isatty(2), 0, (int)epochs}, ckpt_steps, elbo_vae_steps(m), m};
    double secs = 0.0;
    while (elbo_vae_epochs(m) < epochs) {
        int e = elbo_vae_epochs(m) + 1;
        ctx.bar.epoch = e;
        elbo_losses tr, te;
        double t0 = now_seconds();
        elbo_status st = elbo_vae_train_epoch(m, &tc, &train, on_step, &ctx, &tr, &err);
        secs += now_seconds() - t0;
        progress_clear(&ctx.bar);
        if (st != ELBO_OK) {
            fprintf(stderr, "elbo train: epoch %d: %s\n", e, err.msg);
            if (st == ELBO_ERR_NUMERIC)
                fprintf(stderr, "elbo train: stopped; the last checkpoint in %s is intact\n", out);
            goto done;
        }
        if (elbo_vae_epochs(m) < e) { /* stopped inside the epoch */
            if (save(out, m, &ctx)) goto done;
            if (g_signal) break;
            continue;
        }
        if (!no_test && elbo_vae_eval(m, &test, seed * 1000003u + (uint64_t)e, &te, &err) != ELBO_OK) {
            fprintf(stderr, "elbo train: epoch %d: test set: %s\n", e, err.msg);
            goto done;
        }
        /* latent diagnostics on the test set: KL per dimension, active units */
        char extra[64 + 40 * 256] = "";
        int active = -1;
        double kl_total = 0.0;
        if (!no_test) {
            double kld[256];
            int Z = mc->latent_dim < 256 ? mc->latent_dim : 256;
            double *kd = mc->latent_dim <= 256 ? kld : NULL;
            active = elbo_vae_latent_stats(m, &test, kd, NULL, &err);
            size_t pos = (size_t)snprintf(extra, sizeof extra, ",\"kl_weight\":%.6g,\"active_units\":%d",
                                        elbo_vae_kl_weight(m, &tc), active);
            if (kd) {
                pos += (size_t)snprintf(extra + pos, sizeof extra - pos, ",\"kl_dims\":[");
                for (int j = 0; j < Z; j++) {
                    kl_total += kld[j];
                    pos += (size_t)snprintf(extra + pos, sizeof extra - pos, "%s%.5f", j ? "," : "", kld[j]);
                }
                snprintf(extra + pos, sizeof extra - pos, "]");
            }
        }
        /* metrics first: a crash before the checkpoint's commit leaves a line
         * that --resume trims, never a missing one */
        if (append_metrics(metrics, e, elbo_vae_steps(m), &tr, no_test ? NULL : &te, extra, secs) != 0) {
            fprintf(stderr, "elbo train: cannot append to %s: %s\n", metrics, strerror(errno));
            goto done;
        }
        if ((ckpt_epochs > 0 && e % ckpt_epochs == 0) || e == epochs || g_signal)
            if (save(out, m, &ctx)) goto done;
        if (!quiet) {
            printf("epoch %3d  train %8.4f  (recon %8.4f  kl %7.4f)", e, tr.loss, tr.recon, tr.kl);
            if (!no_test) printf("  test %8.4f  active %d/%d", te.loss, active, mc->latent_dim);
            printf("  %.2f s\n", secs);
            fflush(stdout);
        }
        if (!no_test && active == 0)
            fprintf(stderr, "elbo train: warning: epoch %d: no active latent units (posterior "
                            "collapse); try --kl-warmup or --free-bits\n", e);
        else if (!no_test && te.kl < 0.1)
            fprintf(stderr, "elbo train: warning: epoch %d: the KL has collapsed (%.3g nats); "
                            "try --kl-warmup or --free-bits\n", e, te.kl);
        secs = 0.0;
        if (g_signal) break;
    }
    if (g_signal) {
        if (elbo_vae_steps(m) != ctx.last_saved && save(out, m, &ctx)) goto done;
        fprintf(stderr,
                "elbo train: stopped by %s after step %ld (epoch %d%s); checkpoint saved in %s\n"
                "resume with: elbo train",
                g_signal == SIGINT ? "SIGINT" : "SIGTERM", elbo_vae_steps(m),
                elbo_vae_epochs(m) + (elbo_vae_epoch_examples(m) > 0),
                elbo_vae_epoch_examples(m) > 0 ? ", unfinished" : "", out);
        /* the same options (training options are not stored in checkpoints) */
        for (int i = 1; i < argc; i++)
            if (strcmp(argv[i], "--resume") != 0)
                fprintf(stderr, strpbrk(argv[i], " \t'\"$\\") ? " '%s'" : " %s", argv[i]);
        fprintf(stderr, " --resume\n");
        rc = 128 + g_signal;
        goto done;
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
