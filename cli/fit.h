/* fit.h — `elbo fit`'s pieces: the options and plug-in (fit.c), the
 * gradient check, the fit and its report (fit_report.c). */
#ifndef ELBO_CLI_FIT_H
#define ELBO_CLI_FIT_H

#include "elbo_vi.h"

typedef struct {
    const char *lib, *data, *draws, *out;
    elbo_vi_config cfg;
    long n_draws;
    int psis, json, check_only, raw;
} fit_opts;

/* The plug-in's gradient against central differences at theta0 and at 5
 * draws around it; prints the worst coordinate. 0, or 1 when it is wrong
 * (relative error above 1e-3) and the fit should not go on. */
int check_gradients(const fit_opts *o, const elbo_vi_model *m, const elbo_vi_target *t, const double *theta0);
/* Fits and reports (stdout, --draws, --out); 0, or 1 with the reason printed. */
int fit_and_report(const fit_opts *o, const elbo_vi_model *m, const elbo_vi_target *t);

#endif
