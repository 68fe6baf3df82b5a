/* train_opts.c — see train_opts.h. */
#define _POSIX_C_SOURCE 200809L
#include "train_opts.h"

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cmds.h"

enum { M2_LABELLED_BATCH = 10 }; /* m2: labelled rows per batch by default */

enum { T_STR, T_LONG, T_INT, T_U64, T_DBL, T_FLAG, T_ENUM, T_HIDDEN, T_HIDDEN2, T_CKPT };

static const char *const LIKS[] = {"bernoulli", "gaussian", "gaussian-learned", NULL};
static const char *const BINS[] = {"none", "static", "dynamic", NULL};
static const char *const ACTS[] = {"relu", "tanh", "softplus", NULL};
static const char *const OBJS[] = {"elbo", "iwae", NULL};
static const char *const OPTIMS[] = {"adam", "sgd", NULL};
static const char *const FLOWS[] = {"none", "planar", "iaf", NULL};
static const char *const KINDS[] = {"vae", "bnn", "lda", "m2", NULL};
static const char *const METHODS[] = {"online", "batch", NULL};
static const char *const KLWS[] = {"uniform", "blundell", NULL};
static const char *const PRIORS[] = {"gaussian", "mixture", NULL};
static const char *const TASKS[] = {"classify", "regress", NULL};
static const char *const WEIGHTS[] = {"gaussian", "point", NULL};

/* Which kinds of model an option is for (a bit per TRAIN_* kind). */
enum { K_VAE = 1 << TRAIN_VAE, K_BNN = 1 << TRAIN_BNN, K_LDA = 1 << TRAIN_LDA, K_M2 = 1 << TRAIN_M2,
       K_NN = K_VAE | K_BNN | K_M2, K_ALL = K_NN | K_LDA };

typedef struct {
    const char *flag; /* without the dashes */
    const char *key;  /* run-record key; NULL: not recorded */
    int type;
    size_t off;       /* into train_opts */
    double lo, hi;    /* numeric range */
    int open_lo;      /* doubles: lo itself excluded */
    const char *const *names; /* T_ENUM spellings, by value */
    int kinds;        /* K_*: the kinds of model it applies to */
} opt_def;

#define OFF(f) offsetof(train_opts, f)
static const opt_def OPTS[] = {
    {"kind", "kind", T_ENUM, OFF(kind), 0, 0, 0, KINDS, K_ALL},
    {"data", "data", T_STR, OFF(data), 0, 0, 0, NULL, K_ALL},
    {"test", "test", T_STR, OFF(test), 0, 0, 0, NULL, K_ALL},
    {"labels", "labels", T_STR, OFF(labels), 0, 0, 0, NULL, K_NN},
    {"test-labels", "test_labels", T_STR, OFF(test_labels), 0, 0, 0, NULL, K_NN},
    {"label-column", "label_column", T_STR, OFF(label_column), 0, 0, 0, NULL, K_NN},
    {"targets", "targets", T_STR, OFF(targets), 0, 0, 0, NULL, K_BNN},
    {"test-targets", "test_targets", T_STR, OFF(test_targets), 0, 0, 0, NULL, K_BNN},
    {"val-targets", "val_targets", T_STR, OFF(val_targets), 0, 0, 0, NULL, K_BNN},
    {"format", "format", T_STR, OFF(format), 0, 0, 0, NULL, K_ALL},
    {"image-shape", "image_shape", T_STR, OFF(shape), 0, 0, 0, NULL, K_NN},
    {"scale", "scale", T_DBL, OFF(scale), -1e30, 1e30, 0, NULL, K_NN},
    {"val", "val", T_STR, OFF(val), 0, 0, 0, NULL, K_NN},
    {"val-labels", "val_labels", T_STR, OFF(val_labels), 0, 0, 0, NULL, K_NN},
    {"val-fraction", "val_fraction", T_DBL, OFF(val_fraction), 0, 1, 0, NULL, K_NN}, /* 0: none */
    {"val-tail", "val_tail", T_FLAG, OFF(val_tail), 0, 0, 0, NULL, K_NN},
    {"early-stop", "early_stop", T_LONG, OFF(early_stop), 1, 1000000, 0, NULL, K_NN},
    {"standardize", "standardize", T_FLAG, OFF(standardize), 0, 0, 0, NULL, K_NN},
    {"out", NULL, T_STR, OFF(out), 0, 0, 0, NULL, K_ALL},
    {"epochs", "epochs", T_LONG, OFF(epochs), 1, 1000000, 0, NULL, K_ALL},
    {"batch", "batch", T_INT, OFF(tc.batch_size), 1, 65536, 0, NULL, K_ALL},
    {"lr", "lr", T_DBL, OFF(tc.lr), 0, 10, 1, NULL, K_NN},
    {"adam-eps", "adam_eps", T_DBL, OFF(tc.eps), 0, 1, 1, NULL, K_NN},
    {"optimizer", "optimizer", T_ENUM, OFF(tc.optimizer), 0, 0, 0, OPTIMS, K_NN},
    {"momentum", "momentum", T_DBL, OFF(tc.momentum), 0, 0.999999, 0, NULL, K_NN},
    {"ema", "ema", T_DBL, OFF(tc.ema), 0, 0.999999999, 0, NULL, K_NN},
    {"lr-decay", "lr_decay", T_DBL, OFF(tc.lr_decay), 0, 1, 1, NULL, K_NN},
    {"lr-min", "lr_min", T_DBL, OFF(tc.lr_min), 0, 10, 0, NULL, K_NN},
    {"clip-grad", "clip_grad", T_DBL, OFF(tc.clip_grad), 0, 1e30, 1, NULL, K_NN},
    {"beta", "beta", T_DBL, OFF(tc.beta), 0, 1e6, 0, NULL, K_NN},
    {"kl-warmup", "kl_warmup", T_INT, OFF(tc.kl_warmup_epochs), 1, 1000000, 0, NULL, K_NN},
    {"kl-cycle", "kl_cycle", T_INT, OFF(tc.kl_cycle_epochs), 1, 1000000, 0, NULL, K_VAE},
    {"free-bits", "free_bits", T_DBL, OFF(tc.free_bits), 0, 1e6, 0, NULL, K_VAE},
    {"latent", "latent", T_INT, OFF(cfg.latent_dim), 1, 65536, 0, NULL, K_VAE | K_M2},
    {"hidden", "hidden", T_HIDDEN, OFF(cfg), 0, 0, 0, NULL, K_NN},
    {"likelihood", "likelihood", T_ENUM, OFF(cfg.likelihood), 0, 0, 0, LIKS, K_VAE | K_M2},
    {"binarize", "binarize", T_ENUM, OFF(cfg.binarize), 0, 0, 0, BINS, K_VAE | K_M2},
    {"activation", "activation", T_ENUM, OFF(cfg.activation), 0, 0, 0, ACTS, K_VAE | K_M2},
    {"n-labels", "n_labels", T_LONG, OFF(n_labels), 1, 1L << 30, 0, NULL, K_M2},
    {"label-seed", "label_seed", T_U64, OFF(label_seed), 0, 0, 0, NULL, K_M2},
    {"labelled-batch", "labelled_batch", T_INT, OFF(tc.labelled_batch), 1, 65535, 0, NULL, K_M2},
    {"m1", "m1", T_STR, OFF(m1), 0, 0, 0, NULL, K_M2},
    {"m1-sample", "m1_sample", T_FLAG, OFF(m1_sample), 0, 0, 0, NULL, K_M2},
    {"flow", "flow", T_ENUM, OFF(cfg.flow), 0, 0, 0, FLOWS, K_VAE},
    {"flow-len", "flow_len", T_INT, OFF(cfg.flow_len), 1, 256, 0, NULL, K_VAE},
    {"flow-hidden", "flow_hidden", T_INT, OFF(cfg.flow_hidden), 1, 1 << 20, 0, NULL, K_VAE},
    {"latent2", "latent2", T_INT, OFF(cfg.latent2), 1, 65536, 0, NULL, K_VAE},
    {"hidden2", "hidden2", T_HIDDEN2, OFF(cfg), 0, 0, 0, NULL, K_VAE},
    {"objective", "objective", T_ENUM, OFF(tc.objective), 0, 0, 0, OBJS, K_VAE},
    {"samples", "samples", T_INT, OFF(tc.samples), 1, 100000, 0, NULL, K_VAE},
    {"prior-sigma", "prior_sigma", T_DBL, OFF(bcfg.prior_sigma), 0, 1e6, 1, NULL, K_BNN},
    {"rho-init", "rho_init", T_DBL, OFF(bcfg.rho_init), -30, 30, 0, NULL, K_BNN},
    {"pred-samples", "pred_samples", T_INT, OFF(bcfg.samples), 1, 100000, 0, NULL, K_BNN},
    {"kl-weighting", "kl_weighting", T_ENUM, OFF(bcfg.kl_weighting), 0, 0, 0, KLWS, K_BNN},
    {"prior", "prior", T_ENUM, OFF(bcfg.prior), 0, 0, 0, PRIORS, K_BNN},
    {"task", "task", T_ENUM, OFF(bcfg.task), 0, 0, 0, TASKS, K_BNN},
    {"weights", "weights", T_ENUM, OFF(bcfg.weights), 0, 0, 0, WEIGHTS, K_BNN},
    {"dropout", "dropout", T_DBL, OFF(bcfg.dropout), 0, 1, 0, NULL, K_BNN},
    {"prior-pi", "prior_pi", T_DBL, OFF(bcfg.prior_pi), 0, 1, 0, NULL, K_BNN},
    {"prior-sigma1", "prior_sigma1", T_DBL, OFF(bcfg.prior_sigma1), 0, 1e6, 1, NULL, K_BNN},
    {"prior-sigma2", "prior_sigma2", T_DBL, OFF(bcfg.prior_sigma2), 0, 1e6, 1, NULL, K_BNN},
    {"topics", "topics", T_INT, OFF(lcfg.n_topics), 1, 100000, 0, NULL, K_LDA},
    {"vocab", "vocab", T_STR, OFF(vocab), 0, 0, 0, NULL, K_LDA},
    {"alpha", "alpha", T_DBL, OFF(lcfg.alpha), 0, 1e6, 1, NULL, K_LDA | K_M2},
    {"eta", "eta", T_DBL, OFF(lcfg.eta), 0, 1e6, 1, NULL, K_LDA},
    {"estimate-alpha", "estimate_alpha", T_INT, OFF(lcfg.estimate_alpha), 0, 1, 0, NULL, K_LDA},
    {"method", "method", T_ENUM, OFF(lcfg.method), 0, 0, 0, METHODS, K_LDA},
    {"tau0", "tau0", T_DBL, OFF(lcfg.tau0), 0, 1e9, 0, NULL, K_LDA},
    {"kappa", "kappa", T_DBL, OFF(lcfg.kappa), 0.5, 1, 1, NULL, K_LDA},
    {"estep-iters", "estep_iters", T_INT, OFF(lcfg.estep_iters), 1, 100000, 0, NULL, K_LDA},
    {"estep-tol", "estep_tol", T_DBL, OFF(lcfg.estep_tol), 0, 1, 0, NULL, K_LDA},
    {"exclude-digit", "exclude_digit", T_LONG, OFF(exclude), 0, 255, 0, NULL, K_NN},
    {"seed", "seed", T_U64, OFF(seed), 0, 0, 0, NULL, K_ALL},
    {"threads", "threads", T_LONG, OFF(threads), 1, 64, 0, NULL, K_ALL},
    {"train-limit", "train_limit", T_LONG, OFF(train_limit), 1, 1L << 30, 0, NULL, K_ALL},
    {"test-limit", "test_limit", T_LONG, OFF(test_limit), 1, 1L << 30, 0, NULL, K_ALL},
    {"no-test", "no_test", T_FLAG, OFF(no_test), 0, 0, 0, NULL, K_ALL},
    {"checkpoint-every", "checkpoint_every", T_CKPT, OFF(ckpt), 0, 0, 0, NULL, K_ALL},
    {"resume", NULL, T_FLAG, OFF(resume), 0, 0, 0, NULL, K_ALL},
    {"force", NULL, T_FLAG, OFF(force), 0, 0, 0, NULL, K_ALL},
    {"quiet", NULL, T_FLAG, OFF(quiet), 0, 0, 0, NULL, K_ALL},
    {"mpi-timeout", NULL, T_DBL, OFF(mpi_timeout), 0, 1e6, 1, NULL, K_ALL},
};
#define N_OPTS ((int)(sizeof OPTS / sizeof OPTS[0]))
_Static_assert(sizeof OPTS / sizeof OPTS[0] <= sizeof ((train_opts *)0)->given, "train_opts.given is too small");

static void *field(train_opts *o, const opt_def *d) { return (char *)o + d->off; }
static const void *cfield(const train_opts *o, const opt_def *d) { return (const char *)o + d->off; }

/* Parses v into option d of o; prints why and returns -1 when it is bad. */
static int set_opt(train_opts *o, const opt_def *d, const char *v)
{
    char flag[40];
    snprintf(flag, sizeof flag, "--%s", d->flag);
    void *p = field(o, d);
    long l;
    switch (d->type) {
    case T_STR: *(const char **)p = v; return 0;
    case T_LONG: return arg_int("train", flag, v, (long)d->lo, (long)d->hi, (long *)p);
    case T_INT:
        if (arg_int("train", flag, v, (long)d->lo, (long)d->hi, &l)) return -1;
        *(int *)p = (int)l;
        return 0;
    case T_U64: return arg_u64("train", flag, v, (uint64_t *)p);
    case T_DBL: return arg_double("train", flag, v, d->lo, d->hi, d->open_lo, (double *)p);
    case T_FLAG: *(int *)p = strcmp(v, "0") != 0; return 0;
    case T_HIDDEN: return arg_hidden("train", flag, v, (elbo_vae_config *)p);
    case T_HIDDEN2: { /* the same list syntax, into hidden2 */
        elbo_vae_config *c = p, t = *c;
        if (arg_hidden("train", flag, v, &t)) return -1;
        c->n_hidden2 = t.n_hidden;
        memcpy(c->hidden2, t.hidden, sizeof c->hidden2);
        return 0;
    }
    case T_ENUM:
        for (int i = 0; d->names[i]; i++)
            if (!strcmp(v, d->names[i])) {
                *(int *)p = i;
                return 0;
            }
        fprintf(stderr, "elbo train: %s: '%s' is not one of", flag, v);
        for (int i = 0; d->names[i]; i++) fprintf(stderr, "%s %s", i ? "," : "", d->names[i]);
        fprintf(stderr, "\n");
        return -1;
    default: { /* T_CKPT: N steps or Ne epochs */
        size_t n = strlen(v);
        char num[64];
        snprintf(num, sizeof num, "%.*s", (int)(n > 0 && v[n - 1] == 'e' ? n - 1 : n), v);
        if (n >= sizeof o->ckpt || arg_int("train", flag, num, 1, 1L << 30, &l)) return -1;
        snprintf(o->ckpt, sizeof o->ckpt, "%s", v);
        return 0;
    }
    }
}

/* "400,200": n widths, comma-separated, into buf. */
static void widths_str(char *buf, size_t cap, const int *w, int n)
{
    buf[0] = 0;
    for (int i = 0; i < n; i++) snprintf(buf + strlen(buf), cap - strlen(buf), "%s%d", i ? "," : "", w[i]);
}

/* The canonical spelling of option d's value (the run record's). */
static void get_opt(const train_opts *o, const opt_def *d, char *buf, size_t cap)
{
    const void *p = cfield(o, d);
    switch (d->type) {
    case T_STR: snprintf(buf, cap, "%s", *(const char *const *)p ? *(const char *const *)p : ""); break;
    case T_LONG: snprintf(buf, cap, "%ld", *(const long *)p); break;
    case T_INT: snprintf(buf, cap, "%d", *(const int *)p); break;
    case T_U64: snprintf(buf, cap, "%llu", (unsigned long long)*(const uint64_t *)p); break;
    case T_DBL: elbo_format_double(buf, cap, *(const double *)p); break;
    case T_FLAG: snprintf(buf, cap, "%d", *(const int *)p); break;
    case T_ENUM: snprintf(buf, cap, "%s", d->names[*(const int *)p]); break;
    case T_HIDDEN: {
        const elbo_vae_config *c = p;
        widths_str(buf, cap, c->hidden, c->n_hidden);
        break;
    }
    case T_HIDDEN2: {
        const elbo_vae_config *c = p;
        widths_str(buf, cap, c->hidden2, c->n_hidden2);
        break;
    }
    default: snprintf(buf, cap, "%s", o->ckpt); break;
    }
}

static void defaults(train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->data = ELBO_DEFAULT_DATA;
    o->out = "runs/vae";
    o->epochs = 20;
    o->train_limit = o->test_limit = o->exclude = -1;
    o->seed = 1;
    o->label_seed = 1;
    o->mpi_timeout = 60.0;
    snprintf(o->ckpt, sizeof o->ckpt, "1e");
    elbo_vae_config_default(&o->cfg);
    elbo_bnn_config_default(&o->bcfg);
    elbo_lda_config_default(&o->lcfg);
    elbo_train_config_default(&o->tc);
}

static int opt_index(const char *flag)
{
    for (int i = 0; i < N_OPTS; i++)
        if (!strcmp(OPTS[i].flag, flag)) return i;
    return -1;
}

/* The kind's own defaults for what was not given: a Bayesian network has
 * two hidden layers of 400 and writes to runs/bnn. */
static void kind_defaults(train_opts *o)
{
    if (o->kind == TRAIN_LDA) { /* passes over a corpus, minibatches of documents */
        if (!o->given[opt_index("out")]) o->out = "runs/lda";
        if (!o->given[opt_index("batch")]) o->tc.batch_size = 2048;
        if (!o->given[opt_index("data")]) o->data = "";
        return;
    }
    if (o->kind == TRAIN_M2) { /* Kingma et al.'s M2: 500 softplus units, z 50 */
        elbo_m2_config c;
        elbo_m2_config_default(&c);
        if (!o->given[opt_index("hidden")]) o->cfg.n_hidden = c.n_hidden, o->cfg.hidden[0] = c.hidden[0];
        if (!o->given[opt_index("latent")]) o->cfg.latent_dim = c.latent_dim;
        if (!o->given[opt_index("activation")]) o->cfg.activation = c.activation;
        if (!o->given[opt_index("alpha")]) o->lcfg.alpha = c.alpha;
        if (!o->given[opt_index("batch")]) o->tc.batch_size = c.max_batch;
        if (!o->given[opt_index("labelled-batch")]) o->tc.labelled_batch = M2_LABELLED_BATCH;
        if (!o->given[opt_index("val-fraction")] && !o->given[opt_index("val")]) o->val_fraction = 1.0 / 6;
        if (!o->given[opt_index("out")]) o->out = "runs/m2";
        return;
    }
    if (o->kind == TRAIN_VAE && o->cfg.flow != ELBO_FLOW_NONE && !o->given[opt_index("flow-len")])
        o->cfg.flow_len = o->cfg.flow == ELBO_FLOW_PLANAR ? 10 : 2; /* planar K 10, IAF 2 steps */
    if (o->kind == TRAIN_VAE && o->cfg.latent2 && !o->given[opt_index("hidden2")]) {
        o->cfg.n_hidden2 = 2; /* Burda et al.'s 100-100 */
        o->cfg.hidden2[0] = o->cfg.hidden2[1] = 100;
    }
    if (o->kind != TRAIN_BNN) return;
    if (!o->given[opt_index("hidden")]) {
        o->cfg.n_hidden = o->bcfg.n_hidden;
        for (int i = 0; i < ELBO_MAX_HIDDEN; i++) o->cfg.hidden[i] = o->bcfg.hidden[i];
    }
    if (!o->given[opt_index("out")]) o->out = "runs/bnn";
}

void train_opts_bnn_config(const train_opts *o, elbo_bnn_config *c)
{
    *c = o->bcfg;
    c->n_hidden = o->cfg.n_hidden;
    for (int i = 0; i < ELBO_MAX_HIDDEN; i++) c->hidden[i] = o->cfg.hidden[i];
}

/* Options given that the kind of model has not (with --resume the kind
 * is known only once the record is read). */
static int check_kind(const train_opts *o)
{
    for (int i = 0; i < N_OPTS; i++)
        if (o->given[i] && !(OPTS[i].kinds & (1 << o->kind))) {
            char msg[160];
            snprintf(msg, sizeof msg, "--%s is not an option of --kind %s", OPTS[i].flag, KINDS[o->kind]);
            return usage_error("train", msg);
        }
    return -1;
}

/* Cross-option rules, once every option is known. */
static int check_combinations(const train_opts *o)
{
    const elbo_train_config *tc = &o->tc;
    if (tc->kl_warmup_epochs > 0 && tc->kl_cycle_epochs > 0)
        return usage_error("train", "--kl-warmup and --kl-cycle exclude each other");
    if (tc->objective == ELBO_OBJ_ELBO && tc->samples != 1)
        return usage_error("train", "--samples needs --objective iwae");
    if (tc->momentum != 0.0 && tc->optimizer != ELBO_OPTIM_SGD)
        return usage_error("train", "--momentum needs --optimizer sgd");
    if (tc->objective == ELBO_OBJ_IWAE && tc->free_bits > 0)
        return usage_error("train", "--objective iwae cannot be combined with --free-bits");
    if (o->cfg.flow == ELBO_FLOW_NONE && (o->given[opt_index("flow-len")] || o->given[opt_index("flow-hidden")]))
        return usage_error("train", "--flow-len and --flow-hidden need --flow planar or --flow iaf");
    if (o->cfg.flow == ELBO_FLOW_PLANAR && o->given[opt_index("flow-hidden")])
        return usage_error("train", "--flow-hidden is for --flow iaf (a planar layer has no hidden units)");
    if (o->cfg.flow == ELBO_FLOW_IAF && o->cfg.flow_len > 8)
        return usage_error("train", "--flow iaf takes at most 8 steps (--flow-len 1..8)");
    if (!o->cfg.latent2 && o->given[opt_index("hidden2")])
        return usage_error("train", "--hidden2 needs --latent2 N (a second stochastic layer)");
    if (o->cfg.latent2 && o->cfg.flow != ELBO_FLOW_NONE)
        return usage_error("train", "--flow and --latent2 do not combine");
    if (o->cfg.latent2 && tc->free_bits > 0)
        return usage_error("train", "--free-bits needs a per-dimension KL of N(0, I), which "
                                    "--latent2 does not give");
    if (o->cfg.flow != ELBO_FLOW_NONE && tc->free_bits > 0)
        return usage_error("train", "--free-bits needs a per-dimension KL, which a --flow posterior "
                                    "does not have");
    if (o->resume && o->force) return usage_error("train", "--resume and --force exclude each other");
    if (o->val && o->val_fraction > 0) return usage_error("train", "--val and --val-fraction exclude each other");
    if (o->val_fraction >= 1) return usage_error("train", "--val-fraction must be below 1");
    if (o->val_tail && !(o->val_fraction > 0)) return usage_error("train", "--val-tail needs --val-fraction");
    if (o->bcfg.dropout >= 1) return usage_error("train", "--dropout must be below 1");
    if (o->bcfg.task == ELBO_BNN_REGRESSOR && !o->targets)
        return usage_error("train", "--task regress needs --targets FILE (one value per row)");
    if (o->test && o->targets && !o->test_targets)
        return usage_error("train", "--targets with --test needs --test-targets FILE");
    if (o->val && o->targets && !o->val_targets)
        return usage_error("train", "--targets with --val needs --val-targets FILE");
    if (o->m1_sample && !o->m1) return usage_error("train", "--m1-sample needs --m1 DIR");
    if (o->kind == TRAIN_M2 && o->cfg.binarize == ELBO_BINARIZE_STATIC)
        return usage_error("train", "m2: --binarize is none or dynamic (a fresh draw every step)");
    if (o->kind == TRAIN_M2 && o->cfg.binarize == ELBO_BINARIZE_DYNAMIC &&
        (o->m1 || o->cfg.likelihood != ELBO_LIK_BERNOULLI))
        return usage_error("train", "m2: --binarize dynamic is for pixels in [0, 1] under the Bernoulli "
                                    "likelihood, not with --m1 or --likelihood gaussian");
    if (o->early_stop && !o->val && !(o->val_fraction > 0))
        return usage_error("train", "--early-stop needs a validation set (--val PATH or --val-fraction F)");
    int h, w, c = 1;
    if (o->shape && (sscanf(o->shape, "%dx%dx%d", &h, &w, &c) < 2 || h < 1 || w < 1 || c < 1))
        return usage_error("train", "--image-shape must be HxW or HxWxC, e.g. 8x8 or 32x32x3");
    return -1;
}

int train_opts_parse(train_opts *o, int argc, char **argv, void (*help)(void))
{
    defaults(o);
    struct option lopts[N_OPTS + 2];
    for (int i = 0; i < N_OPTS; i++)
        lopts[i] = (struct option){OPTS[i].flag, OPTS[i].type == T_FLAG ? no_argument : required_argument,
                                   0, 256 + i};
    lopts[N_OPTS] = (struct option){"help", no_argument, 0, 'h'};
    lopts[N_OPTS + 1] = (struct option){0, 0, 0, 0};
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":h", lopts, NULL)) != -1) {
        if (c == 'h') {
            help();
            return 0;
        }
        if (c < 256 || c >= 256 + N_OPTS) return option_error("train", c, argv, lopts);
        const opt_def *d = &OPTS[c - 256];
        if (set_opt(o, d, d->type == T_FLAG ? "1" : optarg)) return 2;
        o->given[c - 256] = 1;
    }
    if (optind < argc) return stray_argument("train", argv[optind]);
    kind_defaults(o);
    int rc = o->resume ? -1 : check_kind(o);
    return rc != -1 ? rc : check_combinations(o);
}

int train_opts_record(const train_opts *o, elbo_run_record *r)
{
    char buf[480];
    for (int i = 0; i < N_OPTS; i++) {
        if (!OPTS[i].key || !(OPTS[i].kinds & (1 << o->kind))) continue;
        if (OPTS[i].type == T_STR && !*(const char *const *)cfield(o, &OPTS[i])) continue; /* not given */
        get_opt(o, &OPTS[i], buf, sizeof buf);
        if (elbo_run_record_set(r, OPTS[i].key, buf, NULL) != ELBO_OK) return -1;
    }
    return 0;
}

int train_opts_resume(train_opts *o, const elbo_run_record *r, int *threads_changed)
{
    *threads_changed = 0;
    for (int i = 0; i < N_OPTS; i++) {
        const opt_def *d = &OPTS[i];
        const char *rec = d->key ? elbo_run_record_get(r, d->key) : NULL;
        if (!rec) continue;
        char now[480];
        get_opt(o, d, now, sizeof now);
        if (!strcmp(now, rec)) continue; /* as recorded (defaults may lie outside a flag's range) */
        if (d->type == T_DBL && strtod(rec, NULL) == *(const double *)cfield(o, d)) continue; /* other spelling */
        if (!o->given[i]) {
            if (set_opt(o, d, rec)) {
                fprintf(stderr, "elbo train: the run record in %s holds a bad '%s'\n", o->out, d->key);
                return 2;
            }
            if (d->type == T_STR) { /* record strings die with the record: keep a copy */
                char *copy = o->n_owned < 16 ? strdup(rec) : NULL;
                if (!copy) {
                    fprintf(stderr, "elbo train: out of memory reading the run record\n");
                    return 1;
                }
                o->owned[o->n_owned++] = copy;
                *(const char **)field(o, d) = copy;
            }
            continue;
        }
        if (!strcmp(d->flag, "epochs")) continue; /* extends (or shortens) the run */
        if (!strcmp(d->flag, "ema")) continue; /* an average starts (or stops) here */
        if (!strcmp(d->flag, "threads")) {
            *threads_changed = 1;
            continue;
        }
        fprintf(stderr,
                "elbo train: --%s %s conflicts with the run in %s, which was started with --%s "
                "%s; drop the option to continue the run as it was recorded\n",
                d->flag, now, o->out, d->flag, rec);
        return 2;
    }
    int rc = check_kind(o);
    return rc != -1 ? rc : check_combinations(o);
}

void train_opts_free(train_opts *o)
{
    for (int i = 0; i < o->n_owned; i++) free(o->owned[i]);
    o->n_owned = 0;
}
