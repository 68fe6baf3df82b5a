/* m2.c — the semi-supervised M2 model in the CLI: its builder for `elbo
 * train --kind m2` (the training loop is train.c's, shared by every kind),
 * the label draw and M1+M2's latent means, and `elbo m2 train|eval|
 * predict|sample|analogies`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cmds.h"
#include "opts.h"
#include "train_opts.h"

static void m2_free(void *m) { elbo_m2_free(m); }

static void m2_header(const train_opts *o, void *m, int n_train)
{
    const elbo_m2_config *c = elbo_m2_get_config(m);
    printf("elbo %s: training M2 (%d inputs, %d classes, z %d, hidden", elbo_version(), c->input_dim,
           c->n_classes, c->latent_dim);
    for (int i = 0; i < c->n_hidden; i++) printf("%s%d", i ? "," : " ", c->hidden[i]);
    printf(", alpha %g; %zu parameters) on %d rows from %s%s, batch %d with %d labelled, lr %g",
           c->alpha, elbo_model_num_params(elbo_m2_model(m)), n_train, o->data, o->m1 ? " through M1" : "",
           o->tc.batch_size, o->tc.labelled_batch, o->tc.lr);
}

/* Accuracy and the confusion matrix (true class by row) on stdout. */
static void print_confusion(const elbo_m2_metrics *r)
{
    int C = r->n_classes;
    printf("confusion (rows: true class, columns: predicted)\n      ");
    for (int k = 0; k < C; k++) printf("%6d", k);
    printf("\n");
    for (int i = 0; i < C; i++) {
        printf("%6d", i);
        for (int k = 0; k < C; k++) printf("%6ld", r->confusion[(size_t)i * C + k]);
        printf("\n");
    }
}

static int m2_finish(const train_opts *o, void *mv, const elbo_dataset *shown)
{
    elbo_m2_metrics r;
    elbo_error err;
    if (elbo_m2_evaluate(mv, shown, &r, &err) != ELBO_OK) {
        fprintf(stderr, "elbo train: %s\n", err.msg);
        return -1;
    }
    if (!o->quiet) {
        int best = o->val_fraction > 0 || o->val != NULL;
        printf("%s set, the last epoch's weights: accuracy %.2f%% (error %.2f%%), NLL %.4f (%ld rows)\n",
               o->no_test ? "training" : "test", 100.0 * r.accuracy, 100.0 * (1.0 - r.accuracy), r.nll, r.n);
        printf("wrote %s/{model,optim}.safetensors, metrics.jsonl%s\n", o->out,
               best ? ", best.safetensors (lowest validation error)" : "");
        if (best) printf("the selected model: elbo m2 eval --model %s/best.safetensors\n", o->out);
    }
    elbo_m2_metrics_free(&r);
    return 0;
}

int build_m2(train_opts *o, const elbo_dataset *train, train_model *tm)
{
    elbo_error err;
    int max_batch = o->tc.batch_size > 100 ? o->tc.batch_size : 100;
    elbo_m2 *m;
    if (o->resume) {
        m = elbo_m2_load(o->out, max_batch, &err);
    } else {
        elbo_m2_config c;
        elbo_m2_config_default(&c);
        c.gaussian_inputs = o->m1_sample; /* training rows: M1's means, then log-variances */
        c.input_dim = o->m1_sample ? train->dim / 2 : train->dim;
        c.n_classes = train->n_classes > 2 ? train->n_classes : 2;
        c.latent_dim = o->cfg.latent_dim;
        c.n_hidden = o->cfg.n_hidden;
        memcpy(c.hidden, o->cfg.hidden, sizeof c.hidden);
        c.activation = o->cfg.activation;
        c.likelihood = o->cfg.likelihood == ELBO_LIK_BERNOULLI ? ELBO_M2_BERNOULLI : ELBO_M2_GAUSSIAN;
        c.alpha = o->lcfg.alpha;
        c.binarize_inputs = o->cfg.binarize == ELBO_BINARIZE_DYNAMIC;
        c.max_batch = max_batch;
        c.threads = (int)o->threads;
        m = elbo_m2_create(&c, o->seed, &err);
    }
    if (!m) {
        fprintf(stderr, "elbo train: %s\n", err.msg);
        return -1;
    }
    *tm = (train_model){elbo_m2_model(m), m, m2_free, m2_header, m2_finish};
    return 0;
}

/* The M1 units to keep into units ("3,7,..."): those active over ds
 * (the variance of their means above 0.01, Burda et al. 2015); the
 * others are constant and would let a Gaussian likelihood's variance
 * shrink without end. Returns the count, 0 on failure (printed). */
static int active_units(const char *S, elbo_vae *v, const elbo_dataset *ds, char *units, size_t cap)
{
    int Z = elbo_vae_get_config(v)->latent_dim, n = 0;
    double *var = malloc(sizeof(double) * (size_t)Z);
    elbo_error err;
    if (!var || elbo_vae_latent_stats(v, ds, NULL, var, &err) < 0) {
        fprintf(stderr, "elbo %s: --m1: %s\n", S, var ? err.msg : "out of memory");
        free(var);
        return 0;
    }
    size_t pos = 0;
    units[0] = '\0';
    for (int j = 0; j < Z; j++)
        if (var[j] > 0.01 && pos + 8 < cap) pos += (size_t)snprintf(units + pos, cap - pos, "%s%d", n++ ? "," : "", j);
    free(var);
    if (n == 0) fprintf(stderr, "elbo %s: --m1: the VAE has no active unit on these data\n", S);
    return n;
}

/* The M1 VAE at path, or NULL (printed for command S). */
static elbo_vae *load_m1(const char *S, const char *path)
{
    elbo_error err;
    elbo_vae *v = elbo_vae_load(path, 0, &err);
    if (!v) fprintf(stderr, "elbo %s: --m1: %s\n", S, err.msg);
    return v;
}

/* ds's rows replaced by their latent means under the VAE v (M1, from
 * path) of the units listed in units (computed from ds when empty: its
 * active ones), followed with logvar by their log-variances (rows of 2 K
 * values for K units), labels and flags kept. 0 on success (errors
 * printed for S). */
static int through_m1(const char *S, elbo_vae *v, const char *path, char *units, size_t cap, elbo_dataset *ds,
                      int logvar)
{
    if (ds->n == 0) return 0;
    elbo_error err;
    int Z = elbo_vae_get_config(v)->latent_dim, D = elbo_vae_get_config(v)->input_dim, rc = 1, K = 0;
    int *keep = malloc(sizeof(int) * (size_t)Z);
    if (ds->dim != D) {
        fprintf(stderr, "elbo %s: --m1 %s: the VAE reads %d values per row, the data have %d\n", S, path, D, ds->dim);
        goto done;
    }
    if (!keep || (!units[0] && !active_units(S, v, ds, units, cap))) goto done;
    for (const char *p = units; *p && K < Z;) {
        char *end;
        long j = strtol(p, &end, 10);
        if (end == p || j < 0 || j >= Z) {
            fprintf(stderr, "elbo %s: --m1 %s: bad unit list '%s'\n", S, path, units);
            goto done;
        }
        keep[K++] = (int)j;
        p = *end ? end + 1 : end;
    }
    float *x = dataset_floats(ds, ds->n);
    float *mu = malloc(sizeof(float) * (size_t)ds->n * Z), *lv = malloc(sizeof(float) * (size_t)ds->n * Z);
    int W = logvar ? 2 * K : K;
    float *rows = malloc(sizeof(float) * (size_t)ds->n * W);
    elbo_dataset z = {0};
    if (!x || !mu || !lv || !rows) {
        fprintf(stderr, "elbo %s: out of memory\n", S);
    } else {
        elbo_vae_encode(v, x, ds->n, mu, lv);
        for (long i = 0; i < ds->n; i++) /* the kept units' means, then log-variances */
            for (int k = 0; k < K; k++) {
                rows[i * W + k] = mu[i * Z + keep[k]];
                if (logvar) rows[i * W + K + k] = lv[i * Z + keep[k]];
            }
        if (elbo_dataset_from_float(ds->n, W, rows, ds->labels, &z, &err) != ELBO_OK) {
            fprintf(stderr, "elbo %s: %s\n", S, err.msg);
        } else {
            z.labelled = ds->labelled;
            ds->labelled = NULL;
            elbo_dataset_free(ds);
            *ds = z;
            rc = 0;
        }
    }
    free(rows);
    free(x);
    free(mu);
    free(lv);
done:
    free(keep);
    return rc;
}

int semisupervised_data(train_opts *o, elbo_dataset *train, elbo_dataset *test, elbo_dataset *val)
{
    if (o->m1) {
        size_t cap = sizeof o->m1_units;
        o->m1_units[0] = '\0'; /* the training rows' active units, for every split */
        elbo_vae *v = load_m1("train", o->m1);
        int bad = !v || through_m1("train", v, o->m1, o->m1_units, cap, train, o->m1_sample) ||
                  through_m1("train", v, o->m1, o->m1_units, cap, test, 0) ||
                  through_m1("train", v, o->m1, o->m1_units, cap, val, 0);
        elbo_vae_free(v);
        if (bad) return -1;
        o->cfg.likelihood = ELBO_LIK_GAUSSIAN_LEARNED; /* real-valued means */
        if (!o->quiet) printf("M1+M2: M1's active units %s of %s\n", o->m1_units, o->m1);
    }
    if (o->n_labels <= 0) return 0;
    int C = train->n_classes;
    if (C < 2 || o->n_labels % C) {
        fprintf(stderr, "elbo train: --n-labels %ld: %s\n", o->n_labels,
                C < 2 ? "the training data have no labels (--labels FILE)"
                      : "must be a multiple of the number of classes, for a balanced draw");
        return -1;
    }
    int kept = elbo_dataset_draw_labels(train, (int)(o->n_labels / C), o->label_seed);
    if (kept != o->n_labels) {
        fprintf(stderr, "elbo train: --n-labels %ld: only %d could be drawn (a class has fewer than %ld rows)\n",
                o->n_labels, kept, o->n_labels / C);
        return -1;
    }
    if (!o->quiet)
        printf("semi-supervised: %d labelled rows (%ld per class, label seed %llu), %d unlabelled\n", kept,
               o->n_labels / C, (unsigned long long)o->label_seed, train->n - kept);
    return 0;
}

/* ----------------------------------------------------- elbo m2 subcommands */

static void m2_help(void)
{
    printf("usage: elbo m2 train [elbo train options] --n-labels N   (or --labels N)\n"
           "       elbo m2 eval --model DIR [--data D] [--split S] [--json]\n"
           "       elbo m2 predict --model DIR --input PATH --out FILE.csv|FILE.npy\n"
           "       elbo m2 sample --model DIR [--class K] [-n N] [--out F.png] [--seed S]\n"
           "       elbo m2 analogies --model DIR [-n N] [--out F.png]\n"
           "\n"
           "Semi-supervised learning with M2 (Kingma et al. 2014): a classifier q(y|x), an\n"
           "encoder q(z|x,y) and a decoder p(x|y,z), trained on a few labels and many\n"
           "unlabelled rows (every class enumerated for those).\n"
           "  train      'elbo train --kind m2': --n-labels N keeps N balanced labels drawn\n"
           "             by --label-seed; --m1 DIR trains on an M1 VAE's latent means\n"
           "  eval       accuracy, NLL of q(y|x) (nats per row) and the confusion matrix\n"
           "  predict    q(y|x) per row: CSV (row, label, p0.., predicted) or .npy [N, C]\n"
           "  sample     images from p(x|y,z), z ~ N(0, I): N of class K, or N of every\n"
           "             class (a row per class), as PNG\n"
           "  analogies  per test image (first column) its style z = E q(z|x,y) with y\n"
           "             its predicted class, decoded with every class, as PNG\n"
           "\n"
           "options:\n"
           "  --model DIR      checkpoint folder (or model.safetensors, best.safetensors)\n"
           "  --data DIR       MNIST-layout folder or file (default %s); --input for predict\n"
           "  --split S        train or test (default test)\n"
           "  --limit N        only the first N rows\n"
           "  --threads N      worker threads (default: all cores)\n"
           "  --class K        sample: the class (default: every class)\n"
           "  -n N             sample: images per class (default 8); analogies: rows (10)\n"
           "  --seed N         sample: seed of z (default 1)\n"
           "  --out PATH       where to write (sample: m2_samples.png, analogies:\n"
           "                   m2_analogies.png)\n"
           "  --json           eval: one JSON object\n"
           "A model trained with --m1 reads the same M1 (from its run record) for its inputs.\n",
           ELBO_DEFAULT_DATA);
}

static elbo_m2 *load_m2(const char *path, long threads)
{
    elbo_error err;
    elbo_m2 *m = elbo_m2_load(path, 0, &err);
    if (m && elbo_model_set_threads(elbo_m2_model(m), (int)threads, &err) != ELBO_OK) {
        elbo_m2_free(m);
        m = NULL;
    }
    if (!m) fprintf(stderr, "elbo m2: %s\n", err.msg);
    if (m) use_run_record(elbo_model_get_run_record(elbo_m2_model(m)));
    return m;
}

/* The rows the model reads: a split, through M1 when it was trained so. */
static int m2_rows(const char *S, elbo_m2 *m, const infer_opts *o, elbo_dataset *ds)
{
    if (load_split(S, o->data, o->split, o->limit, ds)) return 1;
    const elbo_run_record *rec = elbo_model_get_run_record(elbo_m2_model(m));
    const char *m1 = elbo_run_record_get(rec, "m1"), *u = elbo_run_record_get(rec, "m1_units");
    char units[512];
    snprintf(units, sizeof units, "%s", u ? u : "");
    if (m1 && !u) {
        fprintf(stderr, "elbo %s: the run record names the M1 %s but not its units (m1_units)\n", S, m1);
        return 1;
    }
    if (m1) {
        elbo_vae *v = load_m1(S, m1);
        int bad = !v || through_m1(S, v, m1, units, sizeof units, ds, 0);
        elbo_vae_free(v);
        if (bad) return 1;
    }
    if (ds->dim != elbo_m2_get_config(m)->input_dim) {
        fprintf(stderr, "elbo %s: %s has rows of %d values; the model reads %d\n", S, o->data, ds->dim,
                elbo_m2_get_config(m)->input_dim);
        return 1;
    }
    return 0;
}

static int eval_cmd(const infer_opts *o, elbo_m2 *m, const elbo_dataset *ds)
{
    elbo_m2_metrics r;
    elbo_error err;
    double t0 = now_seconds();
    if (elbo_m2_evaluate(m, ds, &r, &err) != ELBO_OK) {
        fprintf(stderr, "elbo m2 eval: %s\n", err.msg);
        return 1;
    }
    double s = now_seconds() - t0;
    if (o->json) {
        printf("{\"n\":%ld,\"accuracy\":%.6f,\"error\":%.6f,\"nll\":%.6f,\"confusion\":[", r.n, r.accuracy,
               1.0 - r.accuracy, r.nll);
        for (int i = 0; i < r.n_classes; i++) {
            printf("%s[", i ? "," : "");
            for (int k = 0; k < r.n_classes; k++) printf("%s%ld", k ? "," : "", r.confusion[(size_t)i * r.n_classes + k]);
            printf("]");
        }
        printf("],\"seconds\":%.4f}\n", s);
    } else {
        printf("n %ld  accuracy %.2f%%  error %.2f%%  NLL %.4f  (%.2f s)\n", r.n, 100.0 * r.accuracy,
               100.0 * (1.0 - r.accuracy), r.nll, s);
        print_confusion(&r);
    }
    elbo_m2_metrics_free(&r);
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

static int predict_cmd(const infer_opts *o, elbo_m2 *m, const elbo_dataset *ds)
{
    int C = elbo_m2_get_config(m)->n_classes, n = ds->n, rc = 1;
    float *x = dataset_floats(ds, n), *p = malloc(sizeof(float) * (size_t)n * C);
    elbo_error err;
    if (!x || !p) {
        fprintf(stderr, "elbo m2 predict: out of memory\n");
    } else if (elbo_m2_predict(m, x, n, p, &err) != ELBO_OK) {
        fprintf(stderr, "elbo m2 predict: %s\n", err.msg);
    } else if (ends_with(o->out, ".npy")) {
        int64_t shape[2] = {n, C};
        rc = elbo_write_npy(o->out, p, ELBO_NPY_F32, 2, shape, &err) != ELBO_OK;
        if (rc) fprintf(stderr, "elbo m2 predict: %s\n", err.msg);
    } else {
        text_out t;
        if (text_open("m2 predict", o->out, &t) == 0) {
            fprintf(t.f, "row,label");
            for (int k = 0; k < C; k++) fprintf(t.f, ",p%d", k);
            fprintf(t.f, ",predicted\n");
            for (int i = 0; i < n; i++) {
                const float *q = p + (size_t)i * C;
                int best = 0;
                fprintf(t.f, "%d,%d", i, ds->labels ? (int)ds->labels[i] : -1);
                for (int k = 0; k < C; k++) {
                    fprintf(t.f, ",%.6g", q[k]);
                    best = q[k] > q[best] ? k : best;
                }
                fprintf(t.f, ",%d\n", best);
            }
            rc = text_commit("m2 predict", o->out, &t);
        }
    }
    if (!rc) printf("wrote %s (%d rows, %d classes)\n", o->out, n, C);
    free(x);
    free(p);
    return rc;
}

/* The image shape of the model's rows, or 0 (printed) when they are not images. */
static int image_of(const char *S, elbo_m2 *m, int *h, int *w, int *c)
{
    if (elbo_run_record_get(elbo_model_get_run_record(elbo_m2_model(m)), "m1")) {
        fprintf(stderr, "elbo %s: this M2 models M1's latent means, not images; decode them with "
                        "'elbo decode' of the M1\n", S);
        return 0;
    }
    if (model_image_shape(elbo_m2_get_config(m)->input_dim, h, w, c)) return 1;
    fprintf(stderr, "elbo %s: the model's rows of %d values are not images\n", S, elbo_m2_get_config(m)->input_dim);
    return 0;
}

static int sample_cmd(const infer_opts *o, elbo_m2 *m)
{
    const elbo_m2_config *c = elbo_m2_get_config(m);
    int h, w, ch, C = c->n_classes, per = o->n > 0 ? (int)o->n : 8;
    if (!image_of("m2 sample", m, &h, &w, &ch)) return 1;
    if (o->klass >= C) {
        fprintf(stderr, "elbo m2 sample: --class %ld: the model has classes 0..%d\n", o->klass, C - 1);
        return 2;
    }
    int rows = o->klass >= 0 ? 1 : C, n = rows * per;
    float *x = malloc(sizeof(float) * (size_t)n * c->input_dim);
    int32_t *y = malloc(sizeof(int32_t) * (size_t)n);
    int rc = 1;
    if (x && y) {
        for (int i = 0; i < n; i++) y[i] = o->klass >= 0 ? (int32_t)o->klass : i / per;
        elbo_m2_sample(m, y, n, o->seed, x);
        const char *out = o->out ? o->out : "m2_samples.png";
        elbo_error err;
        rc = elbo_write_png_grid_c(out, x, n, h, w, ch, per, &err) != ELBO_OK;
        if (rc) fprintf(stderr, "elbo m2 sample: %s\n", err.msg);
        else printf("wrote %s (%d x %d: %s)\n", out, rows, per, o->klass >= 0 ? "one class" : "a row per class");
    } else {
        fprintf(stderr, "elbo m2 sample: out of memory\n");
    }
    free(x);
    free(y);
    return rc;
}

/* Rows of [the image, its style decoded with class 0 .. C-1]. */
static int analogies_cmd(const infer_opts *o, elbo_m2 *m, const elbo_dataset *ds)
{
    const elbo_m2_config *c = elbo_m2_get_config(m);
    int h, w, ch, C = c->n_classes, D = c->input_dim, Z = c->latent_dim;
    if (!image_of("m2 analogies", m, &h, &w, &ch)) return 1;
    int n = (int)(o->n > 0 ? o->n : 10) < ds->n ? (int)(o->n > 0 ? o->n : 10) : ds->n, cols = C + 1;
    float *x = dataset_floats(ds, n), *p = malloc(sizeof(float) * (size_t)n * C);
    float *z = malloc(sizeof(float) * (size_t)n * C * Z), *grid = malloc(sizeof(float) * (size_t)n * cols * D);
    int32_t *y = malloc(sizeof(int32_t) * (size_t)n * C);
    elbo_error err;
    int rc = 1;
    if (!x || !p || !z || !grid || !y) {
        fprintf(stderr, "elbo m2 analogies: out of memory\n");
    } else if (elbo_m2_predict(m, x, n, p, &err) != ELBO_OK) {
        fprintf(stderr, "elbo m2 analogies: %s\n", err.msg);
    } else {
        for (int i = 0; i < n; i++) {
            int best = 0;
            for (int k = 1; k < C; k++) best = p[(size_t)i * C + k] > p[(size_t)i * C + best] ? k : best;
            y[i] = best;
        }
        elbo_m2_encode(m, x, y, n, z); /* one style per row, first n rows of z */
        for (int i = n - 1; i >= 0; i--) /* spread: row i's style for every class */
            for (int k = C - 1; k >= 0; k--) memmove(z + ((size_t)i * C + k) * Z, z + (size_t)i * Z, sizeof(float) * Z);
        for (int i = 0; i < n * C; i++) y[i] = i % C;
        float *dec = malloc(sizeof(float) * (size_t)n * C * D);
        if (dec) {
            elbo_m2_decode(m, z, y, n * C, dec);
            for (int i = 0; i < n; i++) {
                memcpy(grid + (size_t)i * cols * D, x + (size_t)i * D, sizeof(float) * D);
                memcpy(grid + ((size_t)i * cols + 1) * D, dec + (size_t)i * C * D, sizeof(float) * (size_t)C * D);
            }
            const char *out = o->out ? o->out : "m2_analogies.png";
            rc = elbo_write_png_grid_c(out, grid, n * cols, h, w, ch, cols, &err) != ELBO_OK;
            if (rc) fprintf(stderr, "elbo m2 analogies: %s\n", err.msg);
            else printf("wrote %s (%d rows: a test image, then its style as class 0..%d)\n", out, n, C - 1);
            free(dec);
        }
    }
    free(x);
    free(p);
    free(z);
    free(grid);
    free(y);
    return rc;
}

/* `elbo m2 train ...` is `elbo train --kind m2 ...`, with --labels N (a
 * number) meaning --n-labels N. */
static int train_cmd(int argc, char **argv)
{
    char **av = malloc(sizeof(char *) * (size_t)(argc + 3));
    if (!av) return 1;
    int n = 0;
    av[n++] = "train";
    av[n++] = "--kind";
    av[n++] = "m2";
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : "";
        char *end;
        int numeric = *v && (strtol(v, &end, 10), *end == '\0');
        av[n++] = !strcmp(argv[i], "--labels") && numeric ? "--n-labels" : argv[i];
    }
    av[n] = NULL;
    int rc = cmd_train(n, av);
    free(av);
    return rc;
}

int cmd_m2(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        m2_help();
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "train")) return train_cmd(argc - 1, argv + 1);
    int eval = !strcmp(sub, "eval"), pred = !strcmp(sub, "predict"), samp = !strcmp(sub, "sample"),
        anal = !strcmp(sub, "analogies");
    if (!eval && !pred && !samp && !anal) {
        fprintf(stderr, "elbo m2: unknown subcommand '%s' (train, eval, predict, sample or analogies)\n", sub);
        return 2;
    }
    int allowed[] = {O_MODEL, O_DATA, O_SPLIT, O_LIMIT, O_THREADS, O_OUT,
                     eval ? O_JSON : samp ? O_CLASS : O_N, samp ? O_SEED : O_N, O_N};
    infer_opts o;
    infer_defaults(&o);
    char S[32];
    snprintf(S, sizeof S, "m2 %s", sub);
    int rc = parse_infer(S, argc - 1, argv + 1, allowed, 9, m2_help, 1, &o);
    if (rc >= 0) return rc;
    if (pred && !o.out) return usage_error(S, "--out FILE.csv or FILE.npy is required");
    if (eval && o.out) return usage_error(S, "--out is not an option of 'elbo m2 eval'");
    elbo_m2 *m = load_m2(o.model, o.threads);
    if (!m) return 1;
    elbo_dataset ds = {0};
    rc = 1;
    if (samp) rc = sample_cmd(&o, m);
    else if (m2_rows(S, m, &o, &ds) == 0)
        rc = eval ? eval_cmd(&o, m, &ds) : pred ? predict_cmd(&o, m, &ds) : analogies_cmd(&o, m, &ds);
    elbo_dataset_free(&ds);
    elbo_m2_free(m);
    return rc;
}
