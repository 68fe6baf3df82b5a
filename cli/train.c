/* train.c — `elbo train`: parse (train_opts.c), build (data, model, run
 * folder), run (the library's elbo_vae_run), and clean stops on
 * SIGINT/SIGTERM. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "cmds.h"
#include "opts.h"
#include "par.h"
#include "train_opts.h"

static void train_help(void)
{
    printf("usage: elbo train [options]\n"
           "\n"
           "Trains a VAE (defaults: the PyTorch reference, 784-400-20, Bernoulli likelihood on\n"
           "grey levels, Adam lr 1e-3, batch 128, 20 epochs) and writes to the output folder:\n"
           "  model.safetensors   weights under the reference's names (PyTorch-loadable)\n"
           "  optim.safetensors   Adam state, step, position and PRNG state (for --resume)\n"
           "  (the run record, every option below, is in model.safetensors' metadata)\n"
           "  metrics.jsonl       one JSON object per epoch\n"
           "  samples.png         64 samples from the prior\n"
           "  reconstructions.png test images, each row followed by its reconstructions\n"
           "\n"
           "With --kind bnn it trains a Bayesian MLP instead (Bayes by Backprop: a Gaussian\n"
           "posterior per weight, local reparameterisation; a classifier, 784-400-400-10 by\n"
           "default, or with --task regress a regressor; --weights point for the same\n"
           "network with point weights) and writes the checkpoint and metrics, with the\n"
           "test set's error, NLL and ECE (or RMSE and interval coverage) each epoch; see\n"
           "'elbo bnn' for eval and predict.\n"
           "\n"
           "With --kind m2 (or 'elbo m2 train') it trains Kingma et al.'s semi-supervised\n"
           "M2 (a classifier q(y|x), an encoder q(z|x,y), a decoder p(x|y,z); 500 softplus\n"
           "units, z 50, batch 100) on --n-labels labels and the rest unlabelled, with the\n"
           "validation and test error each epoch; see 'elbo m2 --help'.\n"
           "\n"
           "With --kind lda (or 'elbo lda train') it fits latent Dirichlet allocation to a\n"
           "corpus (--data train.ldac, --test test.ldac; see 'elbo lda prepare') by batch or\n"
           "online variational inference: an epoch is a pass, a step an E-step over a\n"
           "minibatch of documents and the update of the topics; see 'elbo lda --help'.\n"
           "\n"
           "options:\n"
           "  --kind K             vae (default), bnn, lda or m2\n"
           "  --data PATH          an MNIST-layout folder (default %s), or your file:\n"
           "                       .npy (float32/float64/uint8; [N,D], [N,H,W], [N,H,W,C]),\n"
           "                       .csv or .csv.gz (numbers; a header line is detected),\n"
           "                       or an idx file; see docs/data.md\n"
           "  --test PATH          a test set file (with a file --data; default: none)\n"
           "  --labels PATH        labels beside .npy data (a 1-D integer .npy)\n"
           "  --test-labels PATH   the same for --test\n"
           "  --label-column C     CSV: the label column, by header name or index (-1: last)\n"
           "  --targets PATH       bnn --task regress: real targets, one per row (a 1-D .npy\n"
           "                       or a one-column .csv); --test-targets, --val-targets beside\n"
           "  --format F           npy, csv, idx or mnist, when the name does not say\n",
           ELBO_DEFAULT_DATA);
    printf("%s",
           "  --image-shape HxW[xC] the image shape of flat rows, for grids (e.g. 8x8)\n"
           "  --scale X            multiply the values by X (e.g. 0.0625 for 0..16 pixels;\n"
           "                       images are x/255 first: 2.0238 gives Blundell's x/126)\n"
           "  --val PATH           a validation set: its loss each epoch, the best epoch's\n"
           "                       weights in best.safetensors (--val-labels PATH beside;\n"
           "                       classifiers select on their error: m2's, and a bnn's\n"
           "                       of one posterior draw)\n"
           "  --val-fraction F     hold out a seeded fraction F of the training rows instead\n"
           "  --val-tail           with --val-fraction: hold out the last rows instead, in\n"
           "                       file order (MNIST 50,000 / 10,000: --val-fraction 0.16667)\n"
           "  --early-stop N       stop after N epochs without a better validation figure\n"
           "  --standardize        float data: every column to mean 0 and sd 1 by the\n"
           "                       training rows' moments (validation and test alike); a\n"
           "                       bnn keeps the moments (and a regressor its targets')\n"
           "                       in its checkpoint and applies them to any later input\n"
           "  --out DIR            output folder, created if needed (default runs/vae)\n"
           "  --epochs N           epochs to train in total (default 20)\n"
           "  --batch N            batch size (default 128)\n"
           "  --lr X               learning rate (default 1e-3)\n"
           "  --optimizer O        adam (default) or sgd (torch.optim.SGD); a resumed run\n"
           "                       keeps its optimizer. The vae and bnn step on the batch's\n"
           "                       summed loss (reduction='sum'): sgd wants an lr near 1e-3\n"
           "  --momentum X         sgd: momentum in [0, 1) (default 0)\n"
           "  --adam-eps X         Adam's epsilon (default 1e-8)\n"
           "  --ema D              keep a moving average of the weights, a = D a + (1-D) w\n"
           "                       per step (default 0: off; e.g. 0.999); evaluation,\n"
           "                       best.safetensors and OUT/ema.safetensors use it. It may\n"
           "                       be turned on with --resume: it starts from those weights\n"
           "  --lr-decay G         multiply the learning rate by G per epoch, smoothly per\n"
           "                       step (default 1: constant); --lr-min X its floor (0)\n"
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
           "  --flow F             the posterior: none (diagonal Gaussian, default), planar\n"
           "                       (Rezende and Mohamed 2015) or iaf (Kingma et al. 2016);\n"
           "                       the KL is then a Monte Carlo estimate (docs/flows.md)\n"
           "  --flow-len K         planar layers (default 10, at most 256) or IAF steps\n"
           "                       (default 2, at most 8)\n"
           "  --flow-hidden H      iaf: MADE width and context size (default 4 x latent)\n"
           "  --latent2 N          a second stochastic layer z2 of N units above z1 (the\n"
           "                       --latent ones; Burda et al. 2015): q(z2|z1), p(z1|z2),\n"
           "                       the prior on z2, samples drawn top-down\n"
           "  --hidden2 LIST       its hidden widths, in q(z2|z1)'s order (default 100,100)\n"
           "  --objective O        elbo (default) or iwae (importance-weighted bound;\n"
           "                       --beta and the KL schedules temper its log-weights'\n"
           "                       log p(z) - log q(z|x))\n"
           "  --samples K          the IWAE's K (default 1); the model then holds\n"
           "                       batch x K rows of activations\n"
           );
    printf("%s",
           "  --prior-sigma X      bnn: the prior N(0, X^2) on every weight (default 0.1)\n"
           "  --rho-init X         bnn: sigma starts at softplus(X) (default -6)\n"
           "  --pred-samples S     bnn: posterior draws per prediction (default 10)\n"
           "  --prior P            bnn: gaussian (N(0, sigma^2), KL in closed form; default)\n"
           "                       or mixture (pi N(0,s1^2) + (1-pi) N(0,s2^2), Monte Carlo KL)\n"
           "  --prior-pi X, --prior-sigma1 X, --prior-sigma2 X\n"
           "                       bnn: the mixture (default 0.5, 1, e^-6)\n"
           "  --kl-weighting W     bnn: uniform (B/N of the KL per batch, default) or\n"
           "                       blundell (2^(M-i)/(2^M-1) for batch i of M)\n"
           "  --task T             bnn: classify (softmax, default) or regress (Gaussian\n"
           "                       likelihood with a learned noise variance; --targets)\n"
           "  --weights W          bnn: gaussian (a posterior per weight, default) or point\n"
           "                       (the deterministic network: no prior, no KL; baselines)\n"
           "  --dropout P          bnn: drop each hidden unit with probability P in training\n"
           "                       (default 0); predictions average --pred-samples masks\n"
           "  --n-labels N         m2: keep N labels (N/C per class, drawn by --label-seed,\n"
           "                       default 1), the other rows unlabelled (default: all)\n"
           "  --labelled-batch L   m2: labelled rows in every batch (default 10): an epoch\n"
           "                       is a pass over the unlabelled rows, the labelled cycle\n"
           "  --alpha X            m2: weight of -log q(y|x) per labelled row (default 1)\n"
           "                       (m2: --val-fraction 1/6 by default, the model selected\n"
           "                       by validation error; --latent 50, --hidden 500,\n"
           "                       --activation softplus, --likelihood bernoulli|gaussian)\n"
           "  --m1 DIR             m2: model the latent means of this M1 VAE (M1+M2)\n"
           "  --m1-sample          m2 with --m1: train on a fresh draw from M1's q(z1|x)\n"
           "                       every step (Kingma et al.'s stacked model); validation,\n"
           "                       test and prediction read its means\n"
           "  --binarize dynamic   m2 on pixels: train on a fresh binary draw x ~ Bernoulli(x)\n"
           "                       of every image every step; validation, test and\n"
           "                       prediction read the grey levels\n"
           );
    printf("%s",
           "  --topics K           lda: topics (default 20)\n"
           "  --vocab PATH         lda: the vocabulary (default: vocab.txt beside --data)\n"
           "  --method M           lda: online (minibatches of --batch documents, default;\n"
           "                       rho_t = (tau0 + t)^-kappa) or batch (one step a pass)\n"
           "  --tau0 X, --kappa X  lda online: the step (defaults 4 and 0.7)\n"
           "  --alpha X, --eta X   lda: Dirichlet priors on theta and beta (default 1/K)\n"
           "  --estimate-alpha B   lda: 1 re-estimates alpha (default), 0 keeps it fixed\n"
           "  --estep-iters N      lda: E-step iterations per document at most (default 100)\n"
           "  --estep-tol X        lda: E-step stop, mean |change of gamma| (default 1e-3)\n"
           "                       (lda: batch 2048 documents and 20 epochs by default)\n"
           "  --exclude-digit D    leave out the training images labelled D (anomaly\n"
           "                       detection with a held-out class)\n"
           "  --seed N             PRNG seed (default 1); same seed + threads => same run\n"
           "  --threads N          worker threads (default: all cores)\n"
           "  --train-limit N      use only the first N training examples\n"
           "  --test-limit N       use only the first N test examples\n"
           "  --no-test            skip the per-epoch test loss and latent statistics\n"
           "  --checkpoint-every S save every S steps (S = N) or every N epochs (S = Ne);\n"
           "                       default 1e; the last state is always saved at the end\n"
           "  --resume             continue the run in --out exactly where it stopped, with\n"
           "                       the options it recorded (no others needed); --epochs\n"
           "                       extends it, --threads fits another machine (then no\n"
           "                       longer bit-identical); other options must agree\n"
           "  --force              replace a run already in --out (says what it replaces)\n"
           "  --quiet              print nothing but errors\n"
           "  --mpi-timeout S      under mpirun (make MPI=1): end the job when the other\n"
           "                       ranks do not answer for S seconds (default 60)\n"
           "  -h, --help           this help\n"
           "\n"
           "Ctrl-C (SIGINT) or SIGTERM finishes the current step, saves a checkpoint and\n"
           "exits; --resume then continues bit-identically (same --threads). While it runs,\n"
           "the output folder is locked: a second 'elbo train' on it fails at once.\n"
           "\n"
           "Data-parallel: 'mpirun -np N elbo train ...' (an MPI build, make MPI=1) splits\n"
           "every batch over N ranks with one gradient sum per step; rank 0 writes. Same\n"
           "seed, ranks and threads => same bits; see docs/scaling.md.\n");
}

/* A folder of MNIST-layout idx files (which brings its test split). */
static int is_mnist_dir(const char *p)
{
    char f[4200];
    struct stat sb;
    snprintf(f, sizeof f, "%s/train-images-idx3-ubyte.gz", p);
    if (stat(f, &sb) == 0) return 1;
    snprintf(f, sizeof f, "%s/train-images-idx3-ubyte", p);
    return stat(f, &sb) == 0;
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

static int should_stop(void *user)
{
    (void)user;
    return g_signal != 0;
}

typedef struct {
    progress_bar bar;
    int quiet;
} train_ui;

static int on_progress(void *user, int step, int n_steps, double loss)
{
    return progress_cb(&((train_ui *)user)->bar, step, n_steps, loss);
}

/* The epoch line: the objective, the other terms, test loss and summary. */
static void on_epoch(void *user, const elbo_epoch_report *r)
{
    train_ui *ui = user;
    progress_clear(&ui->bar);
    ui->bar.epoch = r->epoch + 1;
    if (!ui->quiet) {
        printf("epoch %3d  train %8.4f  (", r->epoch, r->train[0]);
        for (int k = 1; k < r->n_terms; k++) printf("%s%s %8.4f", k > 1 ? "  " : "", r->terms[k], r->train[k]);
        printf(")");
        if (r->has_val && r->select_term)
            printf("  val %s %.4f%s", r->terms[r->select_term], r->val[r->select_term],
                   r->best_epoch == r->epoch ? " *" : "  ");
        else if (r->has_val)
            printf("  val %8.4f%s", r->val[0], r->best_epoch == r->epoch ? " *" : "  ");
        if (r->has_test) printf("  test %8.4f  %s", r->test[0], r->summary);
        printf("  %.2f s\n", r->seconds);
        fflush(stdout);
    }
    if (r->warning[0]) fprintf(stderr, "elbo train: warning: epoch %d: %s\n", r->epoch, r->warning);
}

/* --resume: the run record of the checkpoint in o->out fills the options
 * not given. Returns -1 to go on, else the exit status. */
static int resolve_resume(train_opts *o)
{
    elbo_checkpoint_info *info = malloc(sizeof *info);
    elbo_error err;
    if (!info) return 1;
    int rc = -1, changed = 0;
    if (elbo_checkpoint_info_read(o->out, info, &err) != ELBO_OK || !info->has_optim) {
        fprintf(stderr, "elbo train: --resume: %s holds no checkpoint to resume from (%s)\n", o->out,
                info->has_optim ? err.msg : "model.safetensors with optim.safetensors");
        rc = 1;
    } else if (info->run.n == 0) {
        fprintf(stderr, "elbo train: note: %s has no run record (an older checkpoint); using the "
                        "options given\n", o->out);
    } else if ((rc = train_opts_resume(o, &info->run, &changed)) == -1) {
        const char *rec = elbo_run_record_get(&info->run, "ranks");
        int was = rec ? atoi(rec) : 1;
        if (was != par_size() && par_rank() == 0)
            fprintf(stderr, "elbo train: note: the run was trained on %d rank%s, now %d; it stays "
                            "correct but is no longer bit-identical to an uninterrupted one\n",
                    was, was == 1 ? "" : "s", par_size());
        if (changed)
            fprintf(stderr, "elbo train: note: --threads differs from the run's recorded %s; the "
                            "run stays correct but is no longer bit-identical to an uninterrupted "
                            "one\n", elbo_run_record_get(&info->run, "threads"));
        if (info->epoch >= o->epochs && info->epoch_examples == 0) {
            printf("the run in %s is finished (%d epochs, step %ld); nothing to do. Give --epochs N "
                   "to extend it.\n", o->out, info->epoch, info->step);
            rc = 0;
        }
    }
    free(info);
    return rc;
}

/* "HxW" or "HxWxC" into o's image shape; -1 (printed) when malformed. */
static int parse_shape(const char *s, elbo_load_opts *lo)
{
    int h = 0, w = 0, c = 1, n = sscanf(s, "%dx%dx%d", &h, &w, &c);
    if (n < 2 || h < 1 || w < 1 || c < 1) {
        fprintf(stderr, "elbo train: --image-shape: '%s' is not HxW or HxWxC\n", s);
        return -1;
    }
    lo->height = h;
    lo->width = w;
    lo->channels = c;
    return 0;
}

/* One data set: an MNIST-layout folder's split, or the user's file. */
static int load_one(const train_opts *o, const char *path, const char *labels, const char *targets,
                    elbo_split split, elbo_dataset *ds)
{
    elbo_load_opts lo;
    elbo_load_opts_default(&lo);
    lo.format = o->format;
    lo.labels = labels;
    lo.targets = targets;
    lo.vocab = o->vocab;
    lo.label_column = o->label_column;
    lo.scale = o->scale;
    lo.split = split;
    if (o->shape && parse_shape(o->shape, &lo)) return -1;
    elbo_error err;
    if (elbo_dataset_load(path, &lo, ds, &err) != ELBO_OK) {
        fprintf(stderr, "elbo train: %s\n", err.msg);
        return -1;
    }
    return 0;
}

/* --standardize: every set by the training set's column moments. */
static int standardize(elbo_dataset *train, elbo_dataset *test, elbo_dataset *val)
{
    double *mean = malloc(sizeof(double) * (size_t)train->dim), *sd = malloc(sizeof(double) * (size_t)train->dim);
    elbo_error err;
    int rc = 0;
    if (!mean || !sd) {
        fprintf(stderr, "elbo train: out of memory\n");
        rc = -1;
    } else {
        elbo_dataset_moments(train, mean, sd);
        elbo_dataset *sets[3] = {train, test, val};
        for (int i = 0; i < 3 && !rc; i++)
            if (sets[i]->n > 0 && elbo_dataset_standardize(sets[i], mean, sd, &err) != ELBO_OK) {
                fprintf(stderr, "elbo train: --standardize: %s\n", err.msg);
                rc = -1;
            }
    }
    free(mean);
    free(sd);
    return rc;
}

/* The data sets of the run: an MNIST-layout folder gives both splits (test
 * absent with --no-test); a file gives the training set, and --test PATH
 * the test set. */
static int load_data(train_opts *o, elbo_dataset *train, elbo_dataset *test, elbo_dataset *val)
{
    int folder = is_mnist_dir(o->data);
    if (load_one(o, o->data, o->labels, o->targets, ELBO_SPLIT_TRAIN, train)) return -1;
    if (!o->shape && train->height > 0) { /* recorded, so that later commands draw it */
        static char shape[48];
        snprintf(shape, sizeof shape, "%dx%dx%d", train->height, train->width, train->channels);
        o->shape = shape;
    }
    if (!folder && !o->test && !o->no_test) {
        if (!o->quiet)
            fprintf(stderr, "elbo train: note: no --test file beside --data %s: training without a test "
                            "set\n", o->data);
        o->no_test = 1;
    }
    if (!o->no_test &&
        load_one(o, o->test ? o->test : o->data, o->test ? o->test_labels : NULL, o->test_targets,
                 ELBO_SPLIT_TEST, test))
        return -1;
    if (o->exclude >= 0) elbo_dataset_drop_label(train, (int)o->exclude);
    if (o->train_limit > 0) elbo_dataset_truncate(train, (int)o->train_limit);
    if (o->test_limit > 0) elbo_dataset_truncate(test, (int)o->test_limit);
    if (o->val && load_one(o, o->val, o->val_labels, o->val_targets, ELBO_SPLIT_TRAIN, val)) return -1;
    elbo_error err;
    if (o->val_fraction > 0 &&
        (o->val_tail ? elbo_dataset_split_tail(train, o->val_fraction, val, &err)
                     : elbo_dataset_split(train, o->val_fraction, o->seed, val, &err)) != ELBO_OK) {
        fprintf(stderr, "elbo train: --val-fraction: %s\n", err.msg);
        return -1;
    }
    if (o->kind == TRAIN_M2 && semisupervised_data(o, train, test, val)) return -1;
    /* a Bayesian network standardizes inside the model (kept in its checkpoint) */
    return o->standardize && o->kind != TRAIN_BNN ? standardize(train, test, val) : 0;
}

static void vae_free(void *m) { elbo_vae_free(m); }
static int vae_finish(const train_opts *o, void *m, const elbo_dataset *shown);

static void vae_header(const train_opts *o, void *mv, int n_train)
{
    const elbo_vae_config *c = elbo_vae_get_config(mv);
    printf("elbo %s: training %d", elbo_version(), c->input_dim);
    for (int i = 0; i < c->n_hidden; i++) printf("-%d", c->hidden[i]);
    static const char *const flows[] = {"", " with a planar flow", " with IAF"};
    printf("-%d VAE%s", c->latent_dim, flows[c->flow]);
    if (c->flow != ELBO_FLOW_NONE) printf(" (K = %d)", c->flow_len);
    if (c->latent2) {
        printf(" with z2: %d", c->latent_dim);
        for (int i = 0; i < c->n_hidden2; i++) printf("-%d", c->hidden2[i]);
        printf("-%d", c->latent2);
    }
    printf(" (%zu parameters) on %d images from %s, batch %d, lr %g", elbo_vae_num_params(mv),
           n_train, o->data, o->tc.batch_size, o->tc.lr);
}

/* A fresh VAE, or the checkpoint in o->out (train_model in cmds.h). */
static int build_vae(train_opts *o, const elbo_dataset *train, train_model *tm)
{
    elbo_error err;
    int max_batch = o->tc.batch_size * o->tc.samples > 128 ? o->tc.batch_size * o->tc.samples : 128;
    elbo_vae *m;
    if (o->resume) {
        m = elbo_vae_load(o->out, max_batch, &err);
    } else {
        o->cfg.input_dim = train->dim;
        o->cfg.max_batch = max_batch;
        o->cfg.threads = (int)o->threads;
        m = elbo_vae_create(&o->cfg, o->seed, &err);
    }
    if (!m) {
        fprintf(stderr, "elbo train: %s\n", err.msg);
        return -1;
    }
    *tm = (train_model){elbo_vae_model(m), m, vae_free, vae_header, vae_finish};
    return 0;
}

/* What every kind shares once built: threads on resume, the run record
 * from the options, and the header line. */
static int finish_build(const train_opts *o, train_model *tm, int n_train)
{
    elbo_error err;
    if (o->resume && elbo_model_set_threads(tm->h, (int)o->threads, &err) != ELBO_OK) {
        fprintf(stderr, "elbo train: %s\n", err.msg);
        return -1;
    }
    elbo_run_record rec = *elbo_model_get_run_record(tm->h);
    if (train_opts_record(o, &rec) != 0) {
        fprintf(stderr, "elbo train: an option is too long for the run record\n");
        return -1;
    }
    if (o->m1_units[0] && elbo_run_record_set(&rec, "m1_units", o->m1_units, NULL) != ELBO_OK) {
        fprintf(stderr, "elbo train: the run record is full\n");
        return -1;
    }
    char ranks[16];
    snprintf(ranks, sizeof ranks, "%d", par_size());
    if (par_size() > 1 && elbo_run_record_set(&rec, "ranks", ranks, NULL) != ELBO_OK) {
        fprintf(stderr, "elbo train: the run record is full\n");
        return -1;
    }
    elbo_model_set_run_record(tm->h, &rec);
    if (elbo_model_set_group(tm->h, par_group(), &err) != ELBO_OK) {
        fprintf(stderr, "elbo train: %s\n", err.msg);
        return -1;
    }
    int nt = elbo_model_threads(tm->h);
    if (!o->quiet) {
        tm->header(o, tm->m, n_train);
        printf(", %d thread%s", nt, nt == 1 ? "" : "s");
        if (par_size() > 1) printf(" x %d ranks", par_size());
        printf("\n");
    }
    return 0;
}

/* samples.png and reconstructions.png of the finished run. */
static int vae_finish(const train_opts *o, void *mv, const elbo_dataset *shown)
{
    elbo_vae *m = mv;
    const elbo_vae_config *c = elbo_vae_get_config(m);
    char path[4200];
    elbo_error err;
    int gh, gw, gc;
    if (!grid_shape(shown, &gh, &gw, &gc)) { /* not images: no grids */
        if (!o->quiet) printf("wrote %s/{model,optim}.safetensors, metrics.jsonl\n", o->out);
        return 0;
    }
    float *samples = malloc(sizeof(float) * 64 * (size_t)c->input_dim);
    if (!samples) {
        fprintf(stderr, "elbo train: out of memory\n");
        return -1;
    }
    elbo_vae_sample(m, 64, elbo_vae_seed(m), samples);
    snprintf(path, sizeof path, "%s/samples.png", o->out);
    elbo_status st = elbo_write_png_grid_c(path, samples, 64, gh, gw, gc, 8, &err);
    free(samples);
    if (st != ELBO_OK) {
        fprintf(stderr, "elbo train: %s\n", err.msg);
        return -1;
    }
    snprintf(path, sizeof path, "%s/reconstructions.png", o->out);
    if (write_reconstructions(m, shown, 32, path)) return -1;
    if (!o->quiet)
        printf("wrote %s/{model,optim}.safetensors, metrics.jsonl, samples.png, reconstructions.png\n",
               o->out);
    return 0;
}

/* Training proper, for any kind: the run, then the stop message or the
 * model's outputs of a finished run. */
static int run(train_opts *o, const train_model *tm, const elbo_dataset *train,
               const elbo_dataset *test, const elbo_dataset *val)
{
    elbo_run_config rc;
    elbo_run_config_default(&rc);
    rc.epochs = (int)o->epochs;
    rc.out_dir = o->out;
    size_t n = strlen(o->ckpt);
    long every = atol(o->ckpt);
    rc.ckpt_steps = o->ckpt[n - 1] == 'e' ? 0 : every;
    rc.ckpt_epochs = o->ckpt[n - 1] == 'e' ? (int)every : 0;
    rc.eval_every = o->no_test ? 0 : 1;
    rc.val = val->n > 0 ? val : NULL;
    rc.early_stop = (int)o->early_stop;
    if (o->resume && !o->quiet) {
        printf("resuming after epoch %d, step %ld (%ld examples into epoch %d)\n", elbo_model_epochs(tm->h),
               elbo_model_steps(tm->h), elbo_model_epoch_examples(tm->h), elbo_model_epochs(tm->h) + 1);
        fflush(stdout);
    }
    train_ui ui = {{!o->quiet && isatty(2), elbo_model_epochs(tm->h) + 1, (int)o->epochs}, o->quiet};
    elbo_run_callbacks cb = {on_progress, should_stop, on_epoch, &ui};
    elbo_error err;
    int stopped = 0;
    elbo_status st = elbo_model_run(tm->h, &o->tc, &rc, train, o->no_test ? NULL : test, &cb, &stopped, &err);
    progress_clear(&ui.bar);
    if (st != ELBO_OK) {
        fprintf(stderr, "elbo train: epoch %d: %s\n", elbo_model_epochs(tm->h) + 1, err.msg);
        if (st == ELBO_ERR_NUMERIC)
            fprintf(stderr, "elbo train: stopped; the last checkpoint in %s is intact\n", o->out);
        return 1;
    }
    if (stopped == 1) {
        long part = elbo_model_epoch_examples(tm->h);
        const char *q = strpbrk(o->out, " \t\"$\\") ? "'" : "";
        /* in a group, a rank without a signal of its own stops with the one that had it */
        int sig = g_signal ? g_signal : SIGTERM;
        if (!o->quiet || g_signal)
            fprintf(stderr,
                    "elbo train: stopped by %s after step %ld (epoch %d%s); checkpoint saved in %s\n"
                    "resume with: elbo train --resume --out %s%s%s\n",
                    !g_signal ? "a signal to another rank" : sig == SIGINT ? "SIGINT" : "SIGTERM",
                    elbo_model_steps(tm->h), elbo_model_epochs(tm->h) + (part > 0),
                    part > 0 ? ", unfinished" : "", o->out, q, o->out, q);
        return 128 + sig;
    }
    if (stopped == 2 && !o->quiet)
        printf("stopped early after epoch %d: no better validation figure for %ld epochs\n",
               elbo_model_epochs(tm->h), o->early_stop);
    if (par_rank() > 0) return 0; /* rank 0 writes the run's outputs */
    /* the finished run's outputs from the averaged weights, if it keeps them */
    int avg = elbo_model_swap_average(tm->h);
    if (avg && !o->quiet) printf("the weights' moving average (--ema %g), as in %s/ema.safetensors:\n", o->tc.ema, o->out);
    int bad = tm->finish(o, tm->m, o->no_test ? train : test);
    if (avg) elbo_model_swap_average(tm->h);
    return bad ? 1 : 0;
}

/* Under mpirun: ranks other than 0 print only errors, and threads not
 * given share the cores of a host among its ranks. */
static void join_group(train_opts *o)
{
    par_set_timeout(o->mpi_timeout);
    if (par_size() <= 1) return;
    if (par_rank() > 0) o->quiet = 1;
    if (o->threads == 0) {
        const char *ls = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
        long cores = sysconf(_SC_NPROCESSORS_ONLN), local = ls ? atol(ls) : 1;
        o->threads = local > 0 && cores / local > 1 ? cores / local : 1;
    }
}

int cmd_train(int argc, char **argv)
{
    train_opts o;
    int rc = train_opts_parse(&o, argc, argv, train_help);
    if (rc != -1) return rc;
    join_group(&o);
    /* the folder is ours (locked) before anything in it is read or written;
     * in a group, rank 0's (the others only read it) */
    char replaced[512] = "";
    elbo_error err;
    elbo_rundir *dir = NULL;
    if (par_rank() == 0 &&
        !(dir = elbo_rundir_open(o.out, o.resume, o.force, replaced, sizeof replaced, &err))) {
        fprintf(stderr, "elbo train: %s\n", err.msg);
        return 1;
    }
    if (replaced[0]) fprintf(stderr, "elbo train: --force: replacing %s in %s\n", replaced, o.out);
    if (o.resume && (rc = resolve_resume(&o)) != -1) {
        elbo_rundir_close(dir);
        train_opts_free(&o);
        return rc;
    }

    /* from here a signal stops training after the next step, with a save */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    elbo_dataset train = {0}, test = {0}, val = {0};
    train_model tm = {0};
    rc = 1;
    /* each kind's builder, indexed by TRAIN_* */
    static int (*const build[])(train_opts *, const elbo_dataset *, train_model *) = {build_vae, build_bnn,
                                                                                      build_lda, build_m2};
    if (load_data(&o, &train, &test, &val) == 0 && build[o.kind](&o, &train, &tm) == 0 &&
        finish_build(&o, &tm, train.n) == 0) {
        fflush(stdout);
        rc = run(&o, &tm, &train, &test, &val);
    }
    if (tm.m) tm.free(tm.m);
    elbo_dataset_free(&train);
    elbo_dataset_free(&test);
    elbo_dataset_free(&val);
    elbo_rundir_close(dir);
    train_opts_free(&o);
    return rc;
}
