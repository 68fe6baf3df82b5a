/* bnn.c — the Bayesian classifier in the CLI: its builder for `elbo train
 * --kind bnn` (the training loop itself is train.c's, shared by every
 * kind), and `elbo bnn eval` / `elbo bnn predict` on a checkpoint. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cmds.h"
#include "opts.h"
#include "train_opts.h"

static void bnn_free(void *m) { elbo_bnn_free(m); }

static void bnn_header(const train_opts *o, void *m, int n_train)
{
    const elbo_bnn_config *c = elbo_bnn_get_config(m);
    int point = c->weights == ELBO_WEIGHTS_POINT, regress = c->task == ELBO_BNN_REGRESSOR;
    printf("elbo %s: training a%s %d", elbo_version(), point ? " deterministic" : " Bayesian", c->input_dim);
    for (int i = 0; i < c->n_hidden; i++) printf("-%d", c->hidden[i]);
    printf("-%d %s (%zu parameters%s)", regress ? 1 : c->n_classes, regress ? "regressor" : "classifier",
           elbo_model_num_params(elbo_bnn_model(m)), point ? "" : ": mu and rho");
    if (c->dropout > 0) printf(", dropout %g", c->dropout);
    if (point)
        ;
    else if (c->prior == ELBO_PRIOR_MIXTURE)
        printf(", prior %g N(0, %g^2) + %g N(0, %g^2)", c->prior_pi, c->prior_sigma1, 1 - c->prior_pi, c->prior_sigma2);
    else
        printf(", prior N(0, %g^2)", c->prior_sigma);
    printf(", on %d rows from %s, batch %d, lr %g", n_train, o->data, o->tc.batch_size, o->tc.lr);
}

/* A finished regressor: RMSE, NLL and the intervals' coverage. */
static int regression_finish(const train_opts *o, elbo_bnn *m, const elbo_dataset *shown)
{
    elbo_bnn_regression_metrics g;
    elbo_error err;
    int S = elbo_bnn_get_config(m)->samples;
    if (elbo_bnn_evaluate_regression(m, shown, S, o->seed, &g, &err) != ELBO_OK) {
        fprintf(stderr, "elbo train: %s\n", err.msg);
        return -1;
    }
    if (!o->quiet) {
        printf("%s set, %d draws: RMSE %.4g  NLL %.4f  coverage of the 50/90/95%% intervals "
               "%.1f/%.1f/%.1f%% (%ld rows)\n",
               o->no_test ? "training" : "test", S, g.rmse, g.nll, 100 * g.coverage[0], 100 * g.coverage[1],
               100 * g.coverage[2], g.n);
        printf("wrote %s/{model,optim}.safetensors, metrics.jsonl\n", o->out);
    }
    return 0;
}

/* A finished run: the predictive metrics on the shown split. */
static int bnn_finish(const train_opts *o, void *mv, const elbo_dataset *shown)
{
    elbo_bnn *m = mv;
    elbo_bnn_metrics r;
    elbo_error err;
    int S = elbo_bnn_get_config(m)->samples;
    if (elbo_bnn_get_config(m)->task == ELBO_BNN_REGRESSOR) return regression_finish(o, m, shown);
    if (elbo_bnn_evaluate(m, shown, S, o->seed, &r, &err) != ELBO_OK) {
        fprintf(stderr, "elbo train: %s\n", err.msg);
        return -1;
    }
    if (!o->quiet) {
        printf("%s set, %d posterior draws: error %.2f%%  NLL %.4f  ECE %.4f  Brier %.4f (%ld rows)\n",
               o->no_test ? "training" : "test", S, 100.0 * (1.0 - r.accuracy), r.nll, r.ece, r.brier, r.n);
        printf("wrote %s/{model,optim}.safetensors, metrics.jsonl\n", o->out);
    }
    return 0;
}

/* --standardize: the training rows' moments into the model. */
static elbo_status standardize_from(elbo_bnn *m, const elbo_dataset *train, elbo_error *err)
{
    double *mean = malloc(sizeof(double) * (size_t)train->dim), *sd = malloc(sizeof(double) * (size_t)train->dim);
    double ym, ys;
    elbo_status st = ELBO_OK;
    if (!mean || !sd) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        st = err->code = ELBO_ERR_NOMEM;
    }
    if (!st) {
        elbo_bnn_moments_of(train, mean, sd, &ym, &ys);
        st = elbo_bnn_set_standardization(m, mean, sd, ym, ys, err);
    }
    free(mean);
    free(sd);
    return st;
}

int build_bnn(train_opts *o, const elbo_dataset *train, train_model *tm)
{
    elbo_error err;
    int max_batch = o->tc.batch_size > 128 ? o->tc.batch_size : 128;
    elbo_bnn *m;
    if (o->resume) {
        m = elbo_bnn_load(o->out, max_batch, &err);
    } else {
        elbo_bnn_config c;
        train_opts_bnn_config(o, &c);
        c.input_dim = train->dim;
        c.n_classes = train->n_classes > 2 ? train->n_classes : 2;
        c.max_batch = max_batch;
        c.threads = (int)o->threads;
        c.standardize = o->standardize;
        m = elbo_bnn_create(&c, o->seed, &err);
        if (m && c.standardize && standardize_from(m, train, &err) != ELBO_OK) {
            elbo_bnn_free(m);
            m = NULL;
        }
    }
    if (!m) {
        fprintf(stderr, "elbo train: %s\n", err.msg);
        return -1;
    }
    *tm = (train_model){elbo_bnn_model(m), m, bnn_free, bnn_header, bnn_finish};
    return 0;
}

/* ----------------------------------------------------- elbo bnn eval/predict */

static void bnn_help(void)
{
    printf("usage: elbo bnn eval --model DIR [options]\n"
           "       elbo bnn predict --model DIR --out FILE.csv [options]\n"
           "       elbo bnn prune --model DIR [--fractions LIST] [--out F.csv] [--plot F.png]\n"
           "\n"
           "A network trained with 'elbo train --kind bnn' (Bayesian, or with point weights).\n"
           "  eval     the predictive distribution (S posterior draws averaged) on a split:\n"
           "           a classifier's error, NLL (nats per row), ECE (15 bins) and Brier\n"
           "           score; a regressor's RMSE, NLL and the coverage of its central\n"
           "           50/90/95%% predictive intervals (needs --targets)\n"
           "  predict  per row, as CSV: a classifier's label, class probabilities,\n"
           "           predicted class, predictive entropy, expected entropy (aleatoric)\n"
           "           and mutual information (epistemic), in nats; a regressor's target,\n"
           "           predictive mean and sd, and the sd's noise and model parts\n"
           "  prune    a classifier's error, NLL, ECE and Brier score with the fractions\n"
           "           of its weights with the lowest |mu|/sigma (|w| for point weights)\n"
           "           removed (Blundell et al. 2015, Table 2), and the ratio's quantiles\n"
           "\n"
           "options:\n"
           "  --model DIR      checkpoint folder (or model.safetensors)\n"
           "  --data DIR       MNIST-layout folder (default %s)\n"
           "  --split S        train or test (default test)\n"
           "  --targets FILE   a regressor's targets beside --data (one per row)\n"
           "  --limit N        only the first N rows\n"
           "  --samples S      posterior draws (default: the model's, 10)\n"
           "  --seed N         seed of the draws (default 1)\n"
           "  --threads N      worker threads (default: all cores)\n"
           "  --json           eval: one JSON object\n"
           "  --ood PATH       eval: the AUROC of telling these rows (out of distribution:\n"
           "                   e.g. Fashion-MNIST) from the split, by predictive entropy\n"
           "                   and by mutual information\n"
           "  --reliability F  eval: a reliability diagram as PNG (a classifier's accuracy\n"
           "                   against confidence in 15 bins; a regressor's observed\n"
           "                   coverage of its central intervals against the nominal)\n"
           "  --out FILE.csv   predict: where to write; prune: the curve as CSV\n"
           "  --fractions LIST prune: increasing fractions in [0, 1) (default\n"
           "                   0,0.5,0.75,0.95,0.98,0.99)\n"
           "  --plot F.png     prune: error and ECE against the fraction removed\n",
           ELBO_DEFAULT_DATA);
}

static elbo_bnn *load_bnn(const char *path, long threads)
{
    elbo_error err;
    elbo_bnn *m = elbo_bnn_load(path, 0, &err);
    if (m && elbo_model_set_threads(elbo_bnn_model(m), (int)threads, &err) != ELBO_OK) {
        elbo_bnn_free(m);
        m = NULL;
    }
    if (!m) fprintf(stderr, "elbo bnn: %s\n", err.msg);
    if (m) use_run_record(elbo_model_get_run_record(elbo_bnn_model(m)));
    return m;
}

/* Every row's predictive distribution: the mean probabilities of S draws,
 * the predictive entropy h and the expected entropy ent of the draws (nats;
 * h - ent is the mutual information). */
typedef struct {
    float *probs, *ent; /* [n, C], [n] */
    double *h;          /* [n] */
} predictions;

static void predictions_free(predictions *pr)
{
    free(pr->probs);
    free(pr->ent);
    free(pr->h);
}

/* pr for the rows of ds; 0 on success, else 1 with the error printed for
 * command S (pr then holds nothing to free). */
static int predict_rows(const char *S, const infer_opts *o, elbo_bnn *m, const elbo_dataset *ds, predictions *pr)
{
    int C = elbo_bnn_get_config(m)->n_classes;
    float *x = dataset_floats(ds, ds->n);
    pr->probs = malloc(sizeof(float) * (size_t)ds->n * C);
    pr->ent = malloc(sizeof(float) * (size_t)ds->n);
    pr->h = malloc(sizeof(double) * (size_t)ds->n);
    elbo_error err;
    int rc = 1;
    if (!x || !pr->probs || !pr->ent || !pr->h)
        fprintf(stderr, "elbo %s: out of memory\n", S);
    else if (elbo_bnn_predict(m, x, ds->n, (int)o->samples, o->seed, pr->probs, pr->ent, &err) != ELBO_OK)
        fprintf(stderr, "elbo %s: %s\n", S, err.msg);
    else {
        for (int i = 0; i < ds->n; i++) {
            double e = 0.0;
            for (int k = 0; k < C; k++) {
                double q = pr->probs[(size_t)i * C + k];
                e -= q > 0 ? q * log(q) : 0.0;
            }
            pr->h[i] = (float)e; /* as the expected entropy is rounded: a point network's MI is 0 exactly */
        }
        rc = 0;
    }
    free(x);
    if (rc) predictions_free(pr);
    return rc;
}

/* Predictive entropy and mutual information of every row of ds, in nats,
 * into h [n] and mi [n]. 0 on success (errors printed). */
static int uncertainty(const infer_opts *o, elbo_bnn *m, const elbo_dataset *ds, double *h, double *mi)
{
    predictions pr;
    if (predict_rows("bnn eval", o, m, ds, &pr)) return 1;
    for (int i = 0; i < ds->n; i++) {
        h[i] = pr.h[i];
        mi[i] = pr.h[i] - pr.ent[i] > 0 ? pr.h[i] - pr.ent[i] : 0.0;
    }
    predictions_free(&pr);
    return 0;
}

/* --ood: AUROC of telling ds from the rows of o->ood, by entropy and by
 * mutual information (the out-of-distribution rows as positives). */
static int ood_auroc(const infer_opts *o, elbo_bnn *m, const elbo_dataset *ds, double *by_h, double *by_mi)
{
    elbo_dataset od = {0};
    if (load_split("bnn eval", o->ood, o->split, o->limit, &od)) return 1;
    long n = (long)ds->n + od.n;
    double *h = malloc(sizeof(double) * (size_t)n), *mi = malloc(sizeof(double) * (size_t)n);
    uint8_t *pos = calloc((size_t)n, 1);
    int rc = !h || !mi || !pos || od.dim != ds->dim;
    if (od.dim != ds->dim) fprintf(stderr, "elbo bnn eval: --ood %s: rows of %d values, not %d\n", o->ood, od.dim, ds->dim);
    if (!rc) rc = uncertainty(o, m, ds, h, mi) || uncertainty(o, m, &od, h + ds->n, mi + ds->n);
    if (!rc) {
        for (long i = ds->n; i < n; i++) pos[i] = 1;
        *by_h = elbo_auroc(h, pos, n);
        *by_mi = elbo_auroc(mi, pos, n);
    }
    free(h);
    free(mi);
    free(pos);
    elbo_dataset_free(&od);
    return rc;
}

/* --reliability: accuracy against confidence per bin, beside the diagonal. */
static int write_reliability(const char *path, const elbo_bnn_metrics *r)
{
    double x[15], acc[15], conf[15], ideal[15];
    for (int b = 0; b < 15; b++) {
        x[b] = (b + 0.5) / 15.0;
        ideal[b] = x[b];
        acc[b] = r->bin_acc[b];
        conf[b] = r->bin_conf[b];
    }
    elbo_series s[3] = {{"accuracy", acc}, {"confidence", conf}, {"ideal", ideal}};
    char title[64];
    snprintf(title, sizeof title, "ECE %.4f", r->ece);
    elbo_panel p = {title, 3, s};
    elbo_error err;
    if (elbo_write_plot_png(path, x, 15, "confidence (top class probability)", 1, &p, &err) != ELBO_OK) {
        fprintf(stderr, "elbo bnn eval: %s\n", err.msg);
        return 1;
    }
    return 0;
}

static int bnn_eval_cmd(const infer_opts *o, elbo_bnn *m, const elbo_dataset *ds)
{
    elbo_bnn_metrics r;
    elbo_error err;
    double t0 = now_seconds(), au_h = NAN, au_mi = NAN;
    if (elbo_bnn_evaluate(m, ds, (int)o->samples, o->seed, &r, &err) != ELBO_OK) {
        fprintf(stderr, "elbo bnn eval: %s\n", err.msg);
        return 1;
    }
    if (o->ood && ood_auroc(o, m, ds, &au_h, &au_mi)) return 1;
    if (o->reliability && write_reliability(o->reliability, &r)) return 1;
    double s = now_seconds() - t0;
    if (o->json) {
        printf("{\"n\":%ld,\"samples\":%ld,\"accuracy\":%.6f,\"error\":%.6f,\"nll\":%.6f,\"ece\":%.6f,"
               "\"brier\":%.6f",
               r.n, o->samples, r.accuracy, 1.0 - r.accuracy, r.nll, r.ece, r.brier);
        if (o->ood) printf(",\"ood_auroc_entropy\":%.6f,\"ood_auroc_mi\":%.6f", au_h, au_mi);
        printf(",\"seconds\":%.4f}\n", s);
    } else {
        printf("n %ld  draws %ld  error %.2f%%  NLL %.4f  ECE %.4f  Brier %.4f  (%.2f s)\n", r.n, o->samples,
               100.0 * (1.0 - r.accuracy), r.nll, r.ece, r.brier, s);
        if (o->ood)
            printf("OOD against %s: AUROC %.4f by predictive entropy, %.4f by mutual information\n", o->ood,
                   au_h, au_mi);
        if (o->reliability) printf("wrote %s\n", o->reliability);
    }
    return 0;
}

/* One CSV line per row of probs [n, C] with its uncertainty split. */
static int write_predictions(const char *path, const elbo_dataset *ds, const predictions *pr, int C)
{
    text_out t;
    if (text_open("bnn predict", path, &t)) return 1;
    FILE *f = t.f;
    fprintf(f, "row,label");
    for (int k = 0; k < C; k++) fprintf(f, ",p%d", k);
    fprintf(f, ",predicted,entropy,expected_entropy,mutual_information\n");
    for (int i = 0; i < ds->n; i++) {
        const float *p = pr->probs + (size_t)i * C;
        int best = 0;
        fprintf(f, "%d,%d", i, ds->labels ? (int)ds->labels[i] : -1);
        for (int k = 0; k < C; k++) {
            fprintf(f, ",%.6g", p[k]);
            best = p[k] > p[best] ? k : best;
        }
        fprintf(f, ",%d,%.6g,%.6g,%.6g\n", best, pr->h[i], pr->ent[i], fmax(pr->h[i] - pr->ent[i], 0.0));
    }
    if (text_commit("bnn predict", path, &t)) return 1;
    printf("wrote %s (%d rows)\n", path, ds->n);
    return 0;
}

static int bnn_predict_cmd(const infer_opts *o, elbo_bnn *m, const elbo_dataset *ds)
{
    predictions pr;
    if (predict_rows("bnn predict", o, m, ds, &pr)) return 1;
    int rc = write_predictions(o->out, ds, &pr, elbo_bnn_get_config(m)->n_classes);
    predictions_free(&pr);
    return rc;
}

/* ------------------------------------------------------------- a regressor */

/* z with P(|N(0,1)| <= z) = q, by bisection on erf. */
static double central_z(double q)
{
    double lo = 0, hi = 10;
    for (int i = 0; i < 80; i++) {
        double mid = 0.5 * (lo + hi);
        if (erf(mid / sqrt(2.0)) < q) lo = mid;
        else hi = mid;
    }
    return 0.5 * (lo + hi);
}

/* --reliability for a regressor: the observed coverage of the central
 * predictive intervals against their nominal level, beside the diagonal. */
static int regression_reliability(const infer_opts *o, elbo_bnn *m, const elbo_dataset *ds)
{
    enum { K = 11 };
    static const double q[K] = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99};
    int n = ds->n;
    float *x = dataset_floats(ds, n), *buf = malloc(sizeof(float) * 3 * (size_t)n);
    elbo_error err;
    int rc = 1;
    if (!x || !buf)
        fprintf(stderr, "elbo bnn eval: out of memory\n");
    else if (elbo_bnn_predict_regression(m, x, n, (int)o->samples, o->seed, buf, buf + n, buf + 2 * (size_t)n,
                                         &err) != ELBO_OK)
        fprintf(stderr, "elbo bnn eval: %s\n", err.msg);
    else {
        double nominal[K], observed[K];
        for (int k = 0; k < K; k++) {
            double z = central_z(q[k]), in = 0;
            for (int i = 0; i < n; i++) {
                double ms = buf[n + i], ns = buf[2 * n + i];
                in += fabs(ds->targets[i] - buf[i]) <= z * sqrt(ms * ms + ns * ns);
            }
            nominal[k] = q[k];
            observed[k] = in / n;
        }
        elbo_series se[2] = {{"observed", observed}, {"ideal", nominal}};
        elbo_panel p = {"coverage", 2, se};
        rc = elbo_write_plot_png(o->reliability, nominal, K, "nominal coverage", 1, &p, &err) != ELBO_OK;
        if (rc) fprintf(stderr, "elbo bnn eval: %s\n", err.msg);
    }
    free(x);
    free(buf);
    return rc;
}

static int regression_eval_cmd(const infer_opts *o, elbo_bnn *m, const elbo_dataset *ds)
{
    elbo_bnn_regression_metrics g;
    elbo_error err;
    double t0 = now_seconds();
    if (elbo_bnn_evaluate_regression(m, ds, (int)o->samples, o->seed, &g, &err) != ELBO_OK) {
        fprintf(stderr, "elbo bnn eval: %s\n", err.msg);
        return 1;
    }
    if (o->reliability && regression_reliability(o, m, ds)) return 1;
    double s = now_seconds() - t0;
    if (o->json)
        printf("{\"n\":%ld,\"samples\":%ld,\"rmse\":%.6g,\"nll\":%.6f,\"coverage50\":%.6f,\"coverage90\":%.6f,"
               "\"coverage95\":%.6f,\"mean_sd\":%.6g,\"noise_sd\":%.6g,\"seconds\":%.4f}\n",
               g.n, o->samples, g.rmse, g.nll, g.coverage[0], g.coverage[1], g.coverage[2], g.mean_sd, g.noise_sd, s);
    else
        printf("n %ld  draws %ld  RMSE %.4g  NLL %.4f  coverage of the 50/90/95%% intervals %.1f/%.1f/%.1f%%  "
               "mean sd %.4g (noise %.4g)  (%.2f s)\n",
               g.n, o->samples, g.rmse, g.nll, 100 * g.coverage[0], 100 * g.coverage[1], 100 * g.coverage[2],
               g.mean_sd, g.noise_sd, s);
    if (o->reliability && !o->json) printf("wrote %s\n", o->reliability);
    return 0;
}

/* One CSV line per row: the predictive mean, its sd and the sd's split into
 * the noise (aleatoric) and the model (epistemic) parts, in the targets'
 * units. */
static int regression_predict_cmd(const infer_opts *o, elbo_bnn *m, const elbo_dataset *ds)
{
    float *x = dataset_floats(ds, ds->n), *buf = malloc(sizeof(float) * 3 * (size_t)ds->n);
    elbo_error err;
    int rc = 1, n = ds->n;
    text_out t;
    if (!x || !buf)
        fprintf(stderr, "elbo bnn predict: out of memory\n");
    else if (elbo_bnn_predict_regression(m, x, n, (int)o->samples, o->seed, buf, buf + n, buf + 2 * (size_t)n,
                                         &err) != ELBO_OK)
        fprintf(stderr, "elbo bnn predict: %s\n", err.msg);
    else if (text_open("bnn predict", o->out, &t) == 0) {
        fprintf(t.f, "row,target,mean,sd,noise_sd,model_sd\n");
        for (int i = 0; i < n; i++) {
            double ms = buf[n + i], ns = buf[2 * n + i];
            fprintf(t.f, "%d,", i);
            if (ds->targets) fprintf(t.f, "%.9g", ds->targets[i]);
            fprintf(t.f, ",%.9g,%.6g,%.6g,%.6g\n", buf[i], sqrt(ms * ms + ns * ns), ns, ms);
        }
        rc = text_commit("bnn predict", o->out, &t);
        if (!rc) printf("wrote %s (%d rows)\n", o->out, n);
    }
    free(x);
    free(buf);
    return rc;
}

int cmd_bnn(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        bnn_help();
        return argc < 2 ? 2 : 0;
    }
    int eval = !strcmp(argv[1], "eval"), prune = !strcmp(argv[1], "prune");
    if (!eval && !prune && strcmp(argv[1], "predict")) {
        fprintf(stderr, "elbo bnn: unknown subcommand '%s' (eval, predict or prune)\n", argv[1]);
        return 2;
    }
    /* the shared options, then eval's --json, --ood, --reliability, predict's
     * --out or prune's --fractions, --out, --plot */
    int allowed[] = {O_MODEL, O_DATA, O_SPLIT, O_LIMIT, O_SEED, O_THREADS, O_SAMPLES, O_TARGETS,
                     eval ? O_JSON : prune ? O_FRACTIONS : O_OUT, eval ? O_OOD : O_OUT,
                     eval ? O_RELIABILITY : prune ? O_PLOT : O_OUT};
    infer_opts o;
    infer_defaults(&o);
    const char *S = eval ? "bnn eval" : prune ? "bnn prune" : "bnn predict";
    int rc = parse_infer(S, argc - 1, argv + 1, allowed, 11, bnn_help, 1, &o);
    if (rc >= 0) return rc;
    if (!eval && !prune && !o.out) return usage_error("bnn predict", "--out FILE.csv is required");
    elbo_bnn *m = load_bnn(o.model, o.threads);
    if (!m) return 1;
    if (o.samples < 1) o.samples = elbo_bnn_get_config(m)->samples;
    int regress = elbo_bnn_get_config(m)->task == ELBO_BNN_REGRESSOR;
    elbo_dataset ds = {0};
    rc = 1;
    if (regress && eval && !o.targets)
        rc = usage_error(S, "a regressor's eval needs --targets FILE beside --data");
    else if (regress && o.ood)
        rc = usage_error(S, "--ood is for a classifier");
    else if (!regress && o.targets)
        rc = usage_error(S, "--targets is for a regressor (this model is a classifier)");
    else if (regress && prune)
        rc = usage_error(S, "pruning is measured by a classifier's error; this model is a regressor");
    else if (load_split_targets(S, o.data, o.targets, o.split, o.limit, &ds) == 0) {
        if (prune) rc = bnn_prune_cmd(&o, m, &ds);
        else if (regress) rc = eval ? regression_eval_cmd(&o, m, &ds) : regression_predict_cmd(&o, m, &ds);
        else rc = eval ? bnn_eval_cmd(&o, m, &ds) : bnn_predict_cmd(&o, m, &ds);
    }
    elbo_dataset_free(&ds);
    elbo_bnn_free(m);
    return rc;
}
