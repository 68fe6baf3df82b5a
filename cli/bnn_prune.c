/* bnn_prune.c — `elbo bnn prune`: Blundell et al.'s (2015) pruning
 * protocol. The weights with the lowest signal-to-noise ratio |mu| / sigma
 * are removed in growing fractions of the network, and the test error,
 * NLL and ECE measured after each: a table, a CSV and a plot. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cmds.h"
#include "opts.h"

enum { MAX_FRACTIONS = 64 };

/* "0,0.5,0.95" into f (increasing, each in [0, 1)); the count, or -1 (printed). */
static int parse_fractions(const char *s, double *f)
{
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || !(v >= 0 && v < 1) || (*end && *end != ',') || n == MAX_FRACTIONS ||
            (n > 0 && v <= f[n - 1])) {
            fprintf(stderr, "elbo bnn prune: --fractions: '%s' is not an increasing list of up to %d "
                            "fractions in [0, 1)\n", s, MAX_FRACTIONS);
            return -1;
        }
        f[n++] = v;
        p = *end ? end + 1 : end;
    }
    if (n == 0) fprintf(stderr, "elbo bnn prune: --fractions: empty list\n");
    return n > 0 ? n : -1;
}

/* The SNR's quantiles in decibels (10 log10 |mu| / sigma), as Blundell
 * et al.'s Figure 5 shows its density. */
static void print_snr(elbo_bnn *m)
{
    long n = elbo_bnn_weight_count(m);
    float *s = malloc(sizeof(float) * (size_t)n);
    if (!s || elbo_bnn_snr(m, s, NULL) != ELBO_OK) {
        free(s);
        return;
    }
    for (long i = 0; i < n; i++) s[i] = s[i] > 0 ? 10.0f * log10f(s[i]) : -INFINITY;
    /* quantiles by counting: no sort needed for a handful of thresholds */
    double q[5] = {0.05, 0.25, 0.5, 0.75, 0.95};
    printf("signal-to-noise ratio of %ld weights, dB (10 log10 |mu|/sigma):", n);
    float lo = INFINITY, hi = -INFINITY;
    for (long i = 0; i < n; i++) {
        lo = s[i] < lo && isfinite(s[i]) ? s[i] : lo;
        hi = s[i] > hi ? s[i] : hi;
    }
    for (int k = 0; k < 5; k++) { /* bisection on the value */
        double a = lo, b = hi;
        for (int it = 0; it < 40; it++) {
            double mid = 0.5 * (a + b);
            long c = 0;
            for (long i = 0; i < n; i++) c += s[i] <= mid;
            if ((double)c / n < q[k]) a = mid;
            else b = mid;
        }
        printf("  %g%% %.1f", 100 * q[k], b);
    }
    printf("\n");
    free(s);
}

static int write_curve(const char *path, const double *f, const long *kept, const elbo_bnn_metrics *r, int n)
{
    text_out t;
    if (text_open("bnn prune", path, &t)) return 1;
    fprintf(t.f, "fraction_pruned,weights_kept,error,nll,ece,brier\n");
    for (int i = 0; i < n; i++)
        fprintf(t.f, "%g,%ld,%.6f,%.6f,%.6f,%.6f\n", f[i], kept[i], 1 - r[i].accuracy, r[i].nll, r[i].ece,
                r[i].brier);
    if (text_commit("bnn prune", path, &t)) return 1;
    printf("wrote %s\n", path);
    return 0;
}

static int plot_curve(const char *path, const double *f, const elbo_bnn_metrics *r, int n)
{
    double x[MAX_FRACTIONS], err[MAX_FRACTIONS], ece[MAX_FRACTIONS];
    for (int i = 0; i < n; i++) {
        x[i] = 100 * f[i];
        err[i] = 100 * (1 - r[i].accuracy);
        ece[i] = r[i].ece;
    }
    elbo_series se = {"test error, %", err}, sc = {"ECE", ece};
    elbo_panel p[2] = {{"error after pruning", 1, &se}, {"calibration", 1, &sc}};
    elbo_error e;
    if (elbo_write_plot_png(path, x, n, "weights removed, lowest signal-to-noise first, %", 2, p, &e) != ELBO_OK) {
        fprintf(stderr, "elbo bnn prune: %s\n", e.msg);
        return 1;
    }
    printf("wrote %s\n", path);
    return 0;
}

int bnn_prune_cmd(const infer_opts *o, elbo_bnn *m, const elbo_dataset *ds)
{
    double f[MAX_FRACTIONS];
    long kept[MAX_FRACTIONS], total = elbo_bnn_weight_count(m);
    elbo_bnn_metrics r[MAX_FRACTIONS];
    int n = parse_fractions(o->fractions ? o->fractions : "0,0.5,0.75,0.95,0.98,0.99", f);
    if (n < 0) return 2;
    print_snr(m);
    printf("%10s %12s %9s %8s %8s %8s\n", "pruned", "weights kept", "error", "NLL", "ECE", "Brier");
    for (int i = 0; i < n; i++) { /* fractions increase: pruning the same model further */
        elbo_error err;
        long gone = 0;
        if (elbo_bnn_prune(m, f[i], &gone, &err) != ELBO_OK ||
            elbo_bnn_evaluate(m, ds, (int)o->samples, o->seed, &r[i], &err) != ELBO_OK) {
            fprintf(stderr, "elbo bnn prune: %s\n", err.msg);
            return 1;
        }
        kept[i] = total - gone;
        printf("%9.1f%% %12ld %8.2f%% %8.4f %8.4f %8.4f\n", 100 * f[i], kept[i], 100 * (1 - r[i].accuracy),
               r[i].nll, r[i].ece, r[i].brier);
    }
    if (o->out && write_curve(o->out, f, kept, r, n)) return 1;
    if (o->plot && plot_curve(o->plot, f, r, n)) return 1;
    return 0;
}
