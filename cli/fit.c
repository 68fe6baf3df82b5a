/* fit.c — `elbo fit`: black-box VI for a model compiled as a plug-in (a
 * shared library exporting elbo_vi_model_open, elbo_vi.h): load it, check
 * its gradient, fit, and report the ELBO, k-hat, a summary table, draws
 * (CSV or .npy), the ELBO trace (metrics.jsonl and a PNG). */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "args.h"
#include "cmds.h"
#include "fit.h"

static void fit_help(void)
{
    printf("usage: elbo fit --model-lib LIB.so [options]\n"
           "\n"
           "Fits a Gaussian q to the posterior of your model (a plug-in: see docs/vi.md) by\n"
           "black-box VI, and reports how far to trust it: the ELBO with its Monte Carlo\n"
           "error and the PSIS k-hat (below 0.7: usable; above: q misses mass p has).\n"
           "\n"
           "options:\n"
           "  --model-lib LIB   the plug-in (a shared library exporting elbo_vi_model_open)\n"
           "  --data PATH       passed to the plug-in (its data; default none)\n"
           "  --family F        fullrank (default), meanfield or lowrank\n"
           "  --rank R          lowrank: columns of the factor (default 2)\n"
           "  --grad-draws N    Monte Carlo draws per gradient step (default 8)\n"
           "  --max-iters N     gradient steps at most (default 20000)\n"
           "  --lr X            Adam step size (default: chosen by a short trial)\n"
           "  --seed N          (default 1); the same seed gives the same bits\n"
           "  --no-laplace      start from theta = 0, q = N(0, I), instead of the mode and\n"
           "                    the Laplace covariance there (whitened coordinates)\n"
           "  --n-draws N       draws for the summary and --draws (default 4000)\n"
           "  --raw             the summary from q's draws as they are (default: weighted by\n"
           "                    their PSIS importance weights when k-hat < 0.7)\n"
           "  --psis            resample the written draws by their PSIS weights\n"
           "  --draws FILE      write the draws: .csv (a header of names) or .npy [n, k]\n"
           "  --out DIR         metrics.jsonl (the ELBO per window), trace.png, summary.csv\n"
           "  --json            the result as one JSON object instead of the table\n"
           "  --check-gradient  compare the plug-in's gradient with finite differences at\n"
           "                    the start and at draws from q, and stop\n");
}

static int parse(int argc, char **argv, fit_opts *o)
{
    enum { O_LIB = 300, O_DAT, O_FAM, O_RANK, O_GD, O_IT, O_LR, O_SEED, O_ND, O_PSIS, O_DRAWS, O_OUT, O_JSON, O_CHK, O_NOLAP, O_RAW };
    static const struct option lo[] = {
        {"model-lib", required_argument, 0, O_LIB}, {"data", required_argument, 0, O_DAT},
        {"family", required_argument, 0, O_FAM},    {"rank", required_argument, 0, O_RANK},
        {"grad-draws", required_argument, 0, O_GD}, {"max-iters", required_argument, 0, O_IT},
        {"lr", required_argument, 0, O_LR},         {"seed", required_argument, 0, O_SEED},
        {"n-draws", required_argument, 0, O_ND},    {"psis", no_argument, 0, O_PSIS},
        {"draws", required_argument, 0, O_DRAWS},   {"out", required_argument, 0, O_OUT},
        {"json", no_argument, 0, O_JSON},           {"check-gradient", no_argument, 0, O_CHK},
        {"no-laplace", no_argument, 0, O_NOLAP},    {"raw", no_argument, 0, O_RAW},
        {"help", no_argument, 0, 'h'},              {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    elbo_vi_config_default(&o->cfg);
    o->n_draws = 4000;
    opterr = 0;
    optind = 1;
    int c;
    long v;
    while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
        switch (c) {
        case 'h': fit_help(); return 0;
        case O_LIB: o->lib = optarg; break;
        case O_DAT: o->data = optarg; break;
        case O_DRAWS: o->draws = optarg; break;
        case O_OUT: o->out = optarg; break;
        case O_PSIS: o->psis = 1; break;
        case O_JSON: o->json = 1; break;
        case O_CHK: o->check_only = 1; break;
        case O_NOLAP: o->cfg.laplace_init = 0; break;
        case O_RAW: o->raw = 1; break;
        case O_FAM:
            if (!strcmp(optarg, "fullrank")) o->cfg.family = ELBO_VI_FULLRANK;
            else if (!strcmp(optarg, "meanfield")) o->cfg.family = ELBO_VI_MEANFIELD;
            else if (!strcmp(optarg, "lowrank")) o->cfg.family = ELBO_VI_LOWRANK;
            else return usage_error("fit", "--family must be fullrank, meanfield or lowrank");
            break;
        case O_RANK: if (arg_int("fit", "--rank", optarg, 1, 100000, &v)) return 2; o->cfg.rank = (int)v; break;
        case O_GD: if (arg_int("fit", "--grad-draws", optarg, 1, 100000, &v)) return 2; o->cfg.draws = (int)v; break;
        case O_IT: if (arg_int("fit", "--max-iters", optarg, 200, 100000000, &o->cfg.max_iters)) return 2; break;
        case O_LR: if (arg_double("fit", "--lr", optarg, 0, 100, 1, &o->cfg.lr)) return 2; break;
        case O_SEED: if (arg_u64("fit", "--seed", optarg, &o->cfg.seed)) return 2; break;
        case O_ND: if (arg_int("fit", "--n-draws", optarg, 10, 10000000, &o->n_draws)) return 2; break;
        default: return option_error("fit", c, argv, lo);
        }
    }
    if (optind < argc) return stray_argument("fit", argv[optind]);
    if (!o->lib) return usage_error("fit", "--model-lib LIB.so is required");
    return -1;
}

/* The plug-in, opened: its handle and model. 0, or 1 with the reason printed. */
static int open_plugin(const fit_opts *o, void **handle, elbo_vi_model *m)
{
    memset(m, 0, sizeof *m);
    /* a bare name would be searched on the library path: make it a path */
    char path[4200];
    snprintf(path, sizeof path, "%s%s", strchr(o->lib, '/') ? "" : "./", o->lib);
    *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!*handle) {
        fprintf(stderr, "elbo fit: %s: cannot load the plug-in: %s\n", o->lib, dlerror());
        return 1;
    }
    void *sym = dlsym(*handle, ELBO_VI_MODEL_OPEN);
    if (!sym) {
        fprintf(stderr, "elbo fit: %s: does not export %s (see docs/vi.md)\n", o->lib, ELBO_VI_MODEL_OPEN);
        return 1;
    }
    elbo_vi_model_open_fn open_fn;
    memcpy(&open_fn, &sym, sizeof open_fn); /* object to function pointer, as POSIX allows */
    char err[512] = "";
    if (open_fn(o->data, m, err, sizeof err) != 0) {
        fprintf(stderr, "elbo fit: %s: the plug-in failed to open%s%s: %s\n", o->lib, o->data ? " " : "",
                o->data ? o->data : "", err[0] ? err : "(no message)");
        return 1;
    }
    const char *why = m->abi != ELBO_VI_ABI ? "its abi is not ELBO_VI_ABI"
                      : m->dim < 1 || m->dim > 100000 ? "dim is not in 1..100000"
                      : !m->logp ? "logp is NULL"
                      : m->constrain && (m->n_out < 1 || m->n_out > 1000000) ? "constrain's n_out is not in 1..1000000"
                                                                              : NULL;
    if (why) {
        fprintf(stderr, "elbo fit: %s: a bad model: %s\n", o->lib, why);
        if (m->free) m->free(m->state);
        m->free = NULL;
        return 1;
    }
    return 0;
}

/* The plug-in's gradient at theta, with guards: every entry written, none
 * past dim, all finite. 0, or 1 with the reason printed. */
static int guarded_gradient(const char *lib, const elbo_vi_model *m, const double *theta, double *lp)
{
    enum { GUARD = 16 };
    const double SENT = -7.77e300;
    double *g = malloc(sizeof(double) * ((size_t)m->dim + GUARD));
    if (!g) return 1;
    for (int i = 0; i < m->dim + GUARD; i++) g[i] = SENT;
    *lp = m->logp(m->state, theta, m->has_grad ? g : NULL);
    int rc = 0;
    for (int i = m->dim; i < m->dim + GUARD && m->has_grad && !rc; i++)
        if (g[i] != SENT) {
            fprintf(stderr, "elbo fit: %s: logp wrote its gradient past dim = %d (a gradient of the wrong size)\n",
                    lib, m->dim);
            rc = 1;
        }
    for (int i = 0; i < m->dim && m->has_grad && !rc; i++)
        if (g[i] == SENT || !isfinite(g[i])) {
            fprintf(stderr, "elbo fit: %s: gradient entry %d is %s at the starting point\n", lib, i,
                    g[i] == SENT ? "not written (a gradient of the wrong size?)" : "not finite");
            rc = 1;
        }
    if (!rc && !isfinite(*lp)) {
        fprintf(stderr, "elbo fit: %s: logp is %g at the starting point (theta = 0)\n", lib, *lp);
        rc = 1;
    }
    free(g);
    return rc;
}

int cmd_fit(int argc, char **argv)
{
    fit_opts o;
    int rc = parse(argc, argv, &o);
    if (rc >= 0) return rc;
    void *h = NULL;
    elbo_vi_model m;
    if (open_plugin(&o, &h, &m)) {
        if (h) dlclose(h);
        return 1;
    }
    elbo_vi_target t = {m.dim, m.logp, m.state, m.names, m.has_grad, m.constrain, m.n_out, m.out_names};
    double *zero = calloc((size_t)m.dim, sizeof(double)), lp;
    rc = !zero || guarded_gradient(o.lib, &m, zero, &lp);
    if (!rc && !m.has_grad && !o.json)
        fprintf(stderr, "elbo fit: warning: %s gives no gradient: central differences, %d log densities a "
                        "gradient\n", o.lib, 2 * m.dim);
    if (!rc) rc = check_gradients(&o, &m, &t, zero);
    if (!rc && !o.check_only) rc = fit_and_report(&o, &m, &t);
    free(zero);
    if (m.free) m.free(m.state);
    dlclose(h);
    return rc;
}
