/* toolbox.c — `elbo encode`, `elbo score`, `elbo interpolate`,
 * `elbo manifold` and `elbo plot`: representations, anomaly detection,
 * generation and plots, all through the public API. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "args.h"
#include "cmds.h"
#include "opts.h"

/* ------------------------------------------------------------------ encode */

static void encode_help(void)
{
    printf("usage: elbo encode --model PATH [--data DIR] [--split test|train] [--prefix P]\n"
           "                   [--scatter FILE.png] [--probe]\n"
           "\n"
           "Writes the posterior means and log-variances of a split as NumPy files\n"
           "P_mu.npy and P_logvar.npy ([n, latent] float32) and the labels as P_labels.npy\n"
           "([n] int32); numpy.load reads them.\n"
           "  -m, --model PATH   checkpoint folder or model.safetensors\n"
           "  --data PATH        MNIST-layout folder (default %s), or a file (--input PATH\n"
           "                     is the same), read as the model's training data were\n"
           "  --split S          test (default) or train\n"
           "  --limit N          only the first N examples\n"
           "  --prefix P         output prefix (default latents)\n"
           "  --scatter FILE     a PNG scatter of the means coloured by label (first two\n"
           "                     dimensions, or the top two principal components)\n"
           "  --probe            linear-probe accuracy: logistic regression on the means of\n"
           "                     the train split, scored on the test split (for a file,\n"
           "                     --train-data PATH gives the rows it is fitted on)\n"
           "  --train-data PATH  see --probe\n"
           "  --threads N        worker threads (default: all cores)\n",
           ELBO_DEFAULT_DATA);
}

/* Means of every image of ds; caller frees. */
static float *encode_means(elbo_vae *m, const elbo_dataset *ds, float **logvar)
{
    int Z = elbo_vae_get_config(m)->latent_dim;
    float *x = dataset_floats(ds, ds->n), *mu = malloc(sizeof(float) * (size_t)ds->n * Z);
    float *lv = logvar ? malloc(sizeof(float) * (size_t)ds->n * Z) : NULL;
    if (!x || !mu || (logvar && !lv)) {
        free(x);
        free(mu);
        free(lv);
        return NULL;
    }
    elbo_vae_encode(m, x, ds->n, mu, lv);
    free(x);
    if (logvar) *logvar = lv;
    return mu;
}

int cmd_encode(int argc, char **argv)
{
    static const int allowed[] = {O_MODEL, O_DATA, O_SPLIT, O_LIMIT, O_PREFIX, O_SCATTER, O_PROBE, O_THREADS,
                                  O_TRAIN_DATA};
    infer_opts o;
    infer_defaults(&o);
    o.prefix = "latents";
    int rc = parse_infer("encode", argc, argv, allowed, 9, encode_help, 1, &o);
    if (rc >= 0) return rc;
    elbo_vae *m = load_model("encode", o.model, o.threads);
    if (!m) return 1;
    elbo_dataset ds = {0}, tr = {0};
    float *mu = NULL, *lv = NULL, *mtr = NULL;
    elbo_error err;
    int Z = elbo_vae_get_config(m)->latent_dim;
    rc = 1;
    if (load_split("encode", o.data, o.split, o.limit, &ds) || !fits("encode", m, &ds, o.data)) goto out;
    if (!(mu = encode_means(m, &ds, &lv))) {
        fprintf(stderr, "elbo encode: out of memory\n");
        goto out;
    }
    char path[4200];
    int64_t shape[2] = {ds.n, Z};
    snprintf(path, sizeof path, "%s_mu.npy", o.prefix);
    if (elbo_write_npy(path, mu, ELBO_NPY_F32, 2, shape, &err)) goto fail;
    snprintf(path, sizeof path, "%s_logvar.npy", o.prefix);
    if (elbo_write_npy(path, lv, ELBO_NPY_F32, 2, shape, &err)) goto fail;
    if (ds.labels) {
        snprintf(path, sizeof path, "%s_labels.npy", o.prefix);
        if (elbo_write_npy(path, ds.labels, ELBO_NPY_I32, 1, shape, &err)) goto fail;
    }
    printf("wrote %s_mu.npy and %s_logvar.npy (%d x %d)%s%s%s\n", o.prefix, o.prefix, ds.n, Z,
           ds.labels ? ", " : "", ds.labels ? o.prefix : "", ds.labels ? "_labels.npy" : "");
    if (o.scatter) {
        float *xy = malloc(sizeof(float) * 2 * (size_t)ds.n);
        char title[64];
        snprintf(title, sizeof title, Z <= 2 ? "latent means" : "latent means, pca");
        int bad = !xy || elbo_pca2(mu, ds.n, Z, xy, &err) ||
                  elbo_write_scatter_png(o.scatter, xy, ds.labels, ds.n, title, &err);
        free(xy);
        if (bad) goto fail;
        printf("wrote %s\n", o.scatter);
    }
    if (o.probe) {
        if (!ds.labels) {
            fprintf(stderr, "elbo encode: --probe needs labels\n");
            goto out;
        }
        elbo_split other = o.split == ELBO_SPLIT_TEST ? ELBO_SPLIT_TRAIN : ELBO_SPLIT_TEST;
        struct stat sb;
        if (!o.train_data && !(stat(o.data, &sb) == 0 && S_ISDIR(sb.st_mode))) {
            fprintf(stderr, "elbo encode: --probe on a file needs --train-data PATH, the rows the probe "
                            "is fitted on (%s gives the rows it is scored on)\n", o.data);
            goto out;
        }
        if (o.train_data) other = ELBO_SPLIT_TRAIN;
        if (load_split("encode", o.train_data ? o.train_data : o.data, other, 0, &tr) ||
            !(mtr = encode_means(m, &tr, NULL)))
            goto out;
        if (!tr.labels) {
            fprintf(stderr, "elbo encode: --probe: %s has no labels\n", o.train_data ? o.train_data : o.data);
            goto out;
        }
        double acc;
        const elbo_dataset *a = other == ELBO_SPLIT_TRAIN ? &tr : &ds, *b = other == ELBO_SPLIT_TRAIN ? &ds : &tr;
        const float *fa = other == ELBO_SPLIT_TRAIN ? mtr : mu, *fb = other == ELBO_SPLIT_TRAIN ? mu : mtr;
        int classes = a->n_classes > b->n_classes ? a->n_classes : b->n_classes;
        if (elbo_linear_probe(fa, a->labels, a->n, fb, b->labels, b->n, Z, classes < 2 ? 2 : classes, &acc, &err))
            goto fail;
        printf("linear probe: %.2f%% test accuracy (logistic regression on the %d latent means, "
               "fitted on %d training examples, scored on %d test examples)\n",
               100 * acc, Z, a->n, b->n);
    }
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "elbo encode: %s\n", err.msg);
out:
    free(mu);
    free(lv);
    free(mtr);
    elbo_dataset_free(&ds);
    elbo_dataset_free(&tr);
    elbo_vae_free(m);
    return rc;
}

/* ------------------------------------------------------------------- score */

static void score_help(void)
{
    printf("usage: elbo score --model PATH [--data DIR] [--score elbo|iw|recon] [-o FILE]\n"
           "       elbo score --model PATH --inliers DIR --outliers DIR [...]\n"
           "\n"
           "Anomaly scores, one per test image (higher: less like the training data):\n"
           "  elbo   the -ELBO (one z draw), default\n"
           "  iw     -log p(x), importance-weighted with --iw K samples (default 100)\n"
           "  recon  squared error of the reconstruction from the posterior mean\n"
           "With --inliers and --outliers (two MNIST-layout folders, test splits) it prints\n"
           "AUROC and AUPRC, outliers counting as positives. With --outlier-digit D (one\n"
           "folder), the images labelled D are the outliers.\n"
           "  -m, --model PATH   checkpoint folder or model.safetensors\n"
           "  --data PATH        folder or file to score (default %s; --input PATH)\n"
           "  --limit N          only the first N examples of each set\n"
           "  -o FILE            write the scores: .csv (index,label,outlier,score) or .npy\n"
           "  --seed S           PRNG seed (default 1)\n"
           "  --json             print the result as JSON\n"
           "  --threads N        worker threads (default: all cores)\n",
           ELBO_DEFAULT_DATA);
}

static int write_scores(const char *path, const double *s, const uint8_t *labels,
                        const uint8_t *outlier, long n, elbo_error *err)
{
    size_t len = strlen(path);
    if (len > 4 && !strcmp(path + len - 4, ".npy")) {
        int64_t shape[1] = {n};
        return elbo_write_npy(path, s, ELBO_NPY_F64, 1, shape, err) != ELBO_OK;
    }
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err->msg, sizeof err->msg, "%s: cannot create", path);
        return 1;
    }
    fprintf(f, "index,label,outlier,score\n");
    for (long i = 0; i < n; i++)
        fprintf(f, "%ld,%d,%d,%.6f\n", i, labels ? labels[i] : -1, outlier ? outlier[i] : 0, s[i]);
    if (fclose(f) != 0) {
        snprintf(err->msg, sizeof err->msg, "%s: write failed", path);
        return 1;
    }
    return 0;
}

int cmd_score(int argc, char **argv)
{
    static const int allowed[] = {O_MODEL, O_DATA, O_LIMIT, O_SCORE, O_IW, O_OUT, O_SEED, O_JSON,
                                  O_THREADS, O_INLIERS, O_OUTLIERS, O_STEPS};
    infer_opts o;
    infer_defaults(&o);
    o.iw = 100;
    o.steps = -1; /* --outlier-digit is parsed below */
    /* --outlier-digit D: accept it here before the shared parser */
    long digit = -1;
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--outlier-digit")) {
            if (arg_int("score", "--outlier-digit", argv[i + 1], 0, 255, &digit)) return 2;
            for (int k = i; k + 2 <= argc; k++) argv[k] = argv[k + 2];
            argc -= 2;
            break;
        }
    int rc = parse_infer("score", argc, argv, allowed, 12, score_help, 1, &o);
    if (rc >= 0) return rc;
    if ((o.inliers != NULL) != (o.outliers != NULL))
        return usage_error("score", "--inliers and --outliers go together");
    elbo_vae *m = load_model("score", o.model, o.threads);
    if (!m) return 1;
    elbo_dataset a = {0}, b = {0};
    double *s = NULL;
    uint8_t *out = NULL, *labels = NULL;
    elbo_error err;
    rc = 1;
    const char *da = o.inliers ? o.inliers : o.data;
    if (load_split("score", da, ELBO_SPLIT_TEST, o.limit, &a) || !fits("score", m, &a, da)) goto done;
    if (o.outliers &&
        (load_split("score", o.outliers, ELBO_SPLIT_TEST, o.limit, &b) || !fits("score", m, &b, o.outliers)))
        goto done;
    long n = (long)a.n + b.n;
    s = malloc(sizeof(double) * (size_t)n);
    out = calloc((size_t)n, 1);
    labels = calloc((size_t)n, 1);
    if (!s || !out || !labels) {
        fprintf(stderr, "elbo score: out of memory\n");
        goto done;
    }
    double t0 = now_seconds();
    if (elbo_vae_score(m, &a, o.score, (int)o.iw, o.seed, s, &err) ||
        (b.n && elbo_vae_score(m, &b, o.score, (int)o.iw, o.seed, s + a.n, &err))) {
        fprintf(stderr, "elbo score: %s\n", err.msg);
        goto done;
    }
    double secs = now_seconds() - t0;
    for (long i = 0; i < n; i++) {
        labels[i] = i < a.n ? (a.labels ? a.labels[i] : 0) : (b.labels ? b.labels[i - a.n] : 0);
        out[i] = i >= a.n || (digit >= 0 && labels[i] == digit);
    }
    if (o.out) {
        if (write_scores(o.out, s, labels, out, n, &err)) {
            fprintf(stderr, "elbo score: %s\n", err.msg);
            goto done;
        }
    }
    static const char *kind[] = {"elbo", "iw", "recon"};
    if (b.n || digit >= 0) {
        double auroc = elbo_auroc(s, out, n), auprc = elbo_auprc(s, out, n);
        long pos = 0;
        for (long i = 0; i < n; i++) pos += out[i];
        if (o.json)
            printf("{\"score\":\"%s\",\"n\":%ld,\"outliers\":%ld,\"auroc\":%.6f,\"auprc\":%.6f,\"seconds\":%.3f}\n",
                   kind[o.score], n, pos, auroc, auprc, secs);
        else
            printf("score %s: %ld images, %ld outliers  AUROC %.4f  AUPRC %.4f  (%.1f s)\n", kind[o.score], n,
                   pos, auroc, auprc, secs);
    } else {
        double mean = 0;
        for (long i = 0; i < n; i++) mean += s[i] / n;
        if (o.json)
            printf("{\"score\":\"%s\",\"n\":%ld,\"mean\":%.6f,\"seconds\":%.3f}\n", kind[o.score], n, mean, secs);
        else
            printf("score %s: %ld images, mean %.4f  (%.1f s)\n", kind[o.score], n, mean, secs);
    }
    if (o.out && !o.json) printf("wrote %s\n", o.out);
    rc = 0;
done:
    free(s);
    free(out);
    free(labels);
    elbo_dataset_free(&a);
    elbo_dataset_free(&b);
    elbo_vae_free(m);
    return rc;
}

/* ------------------------------------------------------------- interpolate */

static void interpolate_help(void)
{
    printf("usage: elbo interpolate --model PATH [--data DIR] [-n ROWS] [--steps S] [-o FILE]\n"
           "\n"
           "Rows of PNG: test image 2i, the decoded interpolation of the posterior means\n"
           "of images 2i and 2i+1 in S steps, then image 2i+1.\n"
           "  -n ROWS (default 8), --steps S (default 10), -o FILE (default interpolation.png)\n");
}

int cmd_interpolate(int argc, char **argv)
{
    static const int allowed[] = {O_MODEL, O_DATA, O_N, O_STEPS, O_OUT, O_THREADS, O_SPLIT};
    infer_opts o;
    infer_defaults(&o);
    o.n = 8;
    o.steps = 10;
    o.out = "interpolation.png";
    int rc = parse_infer("interpolate", argc, argv, allowed, 7, interpolate_help, 1, &o);
    if (rc >= 0) return rc;
    elbo_vae *m = load_model("interpolate", o.model, o.threads);
    if (!m) return 1;
    elbo_dataset ds = {0};
    rc = 1;
    if (load_split("interpolate", o.data, o.split, 2 * o.n, &ds) || !fits("interpolate", m, &ds, o.data)) {
        elbo_vae_free(m);
        return 1;
    }
    int rows = ds.n / 2, S = (int)o.steps, D = ds.dim, Z = elbo_vae_get_config(m)->latent_dim;
    int cols = S + 2;
    float *x = dataset_floats(&ds, ds.n), *mu = malloc(sizeof(float) * (size_t)ds.n * Z);
    float *z = malloc(sizeof(float) * (size_t)rows * S * Z), *img = malloc(sizeof(float) * (size_t)rows * cols * D);
    float *dec = malloc(sizeof(float) * (size_t)rows * S * D);
    elbo_error err;
    if (x && mu && z && img && dec && rows > 0) {
        elbo_vae_encode(m, x, ds.n, mu, NULL);
        for (int r = 0; r < rows; r++)
            for (int s = 0; s < S; s++) {
                float t = (float)s / (float)(S - 1);
                for (int j = 0; j < Z; j++)
                    z[((size_t)r * S + s) * Z + j] = (1 - t) * mu[(size_t)(2 * r) * Z + j] + t * mu[(size_t)(2 * r + 1) * Z + j];
            }
        elbo_vae_decode(m, z, rows * S, dec);
        for (int r = 0; r < rows; r++) {
            memcpy(img + ((size_t)r * cols) * D, x + (size_t)(2 * r) * D, sizeof(float) * D);
            memcpy(img + ((size_t)r * cols + 1) * D, dec + (size_t)r * S * D, sizeof(float) * (size_t)S * D);
            memcpy(img + ((size_t)r * cols + cols - 1) * D, x + (size_t)(2 * r + 1) * D, sizeof(float) * D);
        }
        if (elbo_write_png_grid_c(o.out, img, rows * cols, ds.height, ds.width, ds.channels ? ds.channels : 1, cols,
                                  &err) == ELBO_OK) {
            printf("wrote %s (%d rows of %d)\n", o.out, rows, cols);
            rc = 0;
        } else {
            fprintf(stderr, "elbo interpolate: %s\n", err.msg);
        }
    } else {
        fprintf(stderr, "elbo interpolate: out of memory or no image pairs\n");
    }
    free(x);
    free(mu);
    free(z);
    free(img);
    free(dec);
    elbo_dataset_free(&ds);
    elbo_vae_free(m);
    return rc;
}

/* ---------------------------------------------------------------- manifold */

/* Inverse of the standard normal CDF (Acklam's rational approximation,
 * relative error < 1.2e-9), for evenly spaced quantiles of the prior. */
static double normal_quantile(double p)
{
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                               1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                               6.680131188771972e+01,  -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                               -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                               3.754408661907416e+00};
    if (p < 0.02425) {
        double q = sqrt(-2 * log(p));
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
               ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    if (p > 1 - 0.02425) return -normal_quantile(1 - p);
    double q = p - 0.5, r = q * q;
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
           (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

static void manifold_help(void)
{
    printf("usage: elbo manifold --model PATH [--steps S] [-o FILE]\n"
           "\n"
           "For a model with a 2-D latent space: decodes an S x S grid of latents at\n"
           "evenly spaced quantiles (0.05 .. 0.95) of the prior along each axis, the\n"
           "learned 2-D manifold (Kingma & Welling 2014, fig. 4).\n"
           "  --steps S (default 20), -o FILE (default manifold.png)\n");
}

int cmd_manifold(int argc, char **argv)
{
    static const int allowed[] = {O_MODEL, O_STEPS, O_OUT, O_THREADS};
    infer_opts o;
    infer_defaults(&o);
    o.steps = 20;
    o.out = "manifold.png";
    int rc = parse_infer("manifold", argc, argv, allowed, 4, manifold_help, 1, &o);
    if (rc >= 0) return rc;
    elbo_vae *m = load_model("manifold", o.model, o.threads);
    if (!m) return 1;
    const elbo_vae_config *c = elbo_vae_get_config(m);
    int S = (int)o.steps, D = c->input_dim, gh = 0, gw = 0, gc = 1, image = model_image_shape(D, &gh, &gw, &gc);
    rc = 1;
    if (c->latent_dim != 2 || !image) {
        fprintf(stderr, "elbo manifold: needs a model with a 2-D latent space and greyscale images "
                        "of a known shape (this one has %d latent dimensions)\n", c->latent_dim);
        elbo_vae_free(m);
        return 1;
    }
    float *z = malloc(sizeof(float) * 2 * (size_t)S * S), *img = malloc(sizeof(float) * (size_t)S * S * D);
    elbo_error err;
    if (z && img) {
        for (int i = 0; i < S; i++)     /* rows: z2 from high to low */
            for (int j = 0; j < S; j++) { /* columns: z1 from low to high */
                z[2 * ((size_t)i * S + j)] = (float)normal_quantile(0.05 + 0.9 * j / (S - 1));
                z[2 * ((size_t)i * S + j) + 1] = (float)normal_quantile(0.95 - 0.9 * i / (S - 1));
            }
        elbo_vae_decode(m, z, S * S, img);
        if (elbo_write_png_grid_c(o.out, img, S * S, gh, gw, gc, S, &err) == ELBO_OK) {
            printf("wrote %s (%d x %d)\n", o.out, S, S);
            rc = 0;
        } else {
            fprintf(stderr, "elbo manifold: %s\n", err.msg);
        }
    }
    free(z);
    free(img);
    elbo_vae_free(m);
    return rc;
}

/* -------------------------------------------------------------------- plot */

static void plot_help(void)
{
    printf("usage: elbo plot --metrics FILE|DIR [--metrics ...] [--keys K1,K2,..] [-o FILE.png]\n"
           "\n"
           "Plots the metrics.jsonl that elbo train writes (a run folder stands for its\n"
           "metrics.jsonl). With one file and no --keys: train and test -ELBO,\n"
           "reconstruction and KL per epoch (a VAE's). With --keys: one panel per field,\n"
           "e.g. --keys val_error,train_class for M2 or test_error,test_nll for a BNN, and\n"
           "one line per --metrics file (up to 8, named by their run folders), to\n"
           "compare runs; several files without --keys plot train_loss. Default\n"
           "output: loss.png.\n");
}

/* The legend name of a metrics file: its run folder's name for
 * DIR/metrics.jsonl, else the file's name; into buf [cap]. */
static const char *run_name(const char *path, char *buf, size_t cap)
{
    size_t len = 0;
    while (len + 1 < cap && path[len]) buf[len] = path[len], len++;
    buf[len] = 0;
    while (len > 1 && buf[len - 1] == '/') buf[--len] = 0;
    char *slash = strrchr(buf, '/');
    if (slash && !strcmp(slash + 1, "metrics.jsonl")) {
        *slash = 0;
        slash = strrchr(buf, '/');
    }
    const char *name = slash ? slash + 1 : buf;
    if (strlen(name) > 24) buf[(size_t)(name - buf) + 24] = 0; /* the legend stays in the panel */
    return name;
}

int cmd_plot(int argc, char **argv)
{
    static const int allowed[] = {O_METRICS, O_OUT, O_KEYS};
    infer_opts o;
    infer_defaults(&o);
    o.out = "loss.png";
    int rc = parse_infer("plot", argc, argv, allowed, 3, plot_help, 0, &o);
    if (rc >= 0) return rc;
    if (!o.metrics) return usage_error("plot", "--metrics is required");
    char paths[8][4200], names[8][4200], keybuf[1024];
    const char *pp[8], *np[8], *keys[8];
    for (int f = 0; f < o.n_metrics; f++) {
        struct stat sb;
        int dir = stat(o.metrics_list[f], &sb) == 0 && S_ISDIR(sb.st_mode);
        snprintf(paths[f], sizeof paths[f], dir ? "%s/metrics.jsonl" : "%s", o.metrics_list[f]);
        pp[f] = paths[f];
        np[f] = run_name(paths[f], names[f], sizeof names[f]);
    }
    int n_keys = 0;
    snprintf(keybuf, sizeof keybuf, "%s", o.keys ? o.keys : "train_loss");
    for (char *k = strtok(keybuf, ","); k; k = strtok(NULL, ",")) {
        if (n_keys == 8) return usage_error("plot", "--keys names at most 8 fields");
        keys[n_keys++] = k;
    }
    if (!n_keys) return usage_error("plot", "--keys needs field names, e.g. --keys val_error,train_class");
    elbo_error err;
    elbo_status st = !o.keys && o.n_metrics == 1
                         ? elbo_plot_metrics(pp[0], o.out, &err)
                         : elbo_plot_metrics_compare(pp, np, o.n_metrics, keys, n_keys, o.out, &err);
    if (st != ELBO_OK) {
        fprintf(stderr, "elbo plot: %s\n", err.msg);
        return 1;
    }
    printf("wrote %s\n", o.out);
    return 0;
}
