/* args.h — strict command-line value parsing for the elbo CLI. Each parser
 * prints "elbo SUB: --flag: why" to stderr and returns -1 on bad input; the
 * caller then exits with status 2 (usage error). */
#ifndef ELBO_CLI_ARGS_H
#define ELBO_CLI_ARGS_H

#include <getopt.h>
#include <stdint.h>

#include "elbo.h"

/* Integer in [lo, hi]; the whole string must be a number. */
int arg_int(const char *sub, const char *flag, const char *s, long lo, long hi, long *out);
/* Unsigned 64-bit (seeds). */
int arg_u64(const char *sub, const char *flag, const char *s, uint64_t *out);
/* Finite double in (lo, hi] when open_lo, else [lo, hi]. */
int arg_double(const char *sub, const char *flag, const char *s, double lo, double hi, int open_lo,
               double *out);
/* Comma-separated positive widths, e.g. "400" or "200,200". */
int arg_hidden(const char *sub, const char *flag, const char *s, elbo_vae_config *c);
/* "bernoulli", "gaussian" or "gaussian-learned". */
int arg_likelihood(const char *sub, const char *flag, const char *s, elbo_likelihood *out);
/* Prints "elbo SUB: msg. Try 'elbo SUB --help'." and returns 2. */
int usage_error(const char *sub, const char *msg);
/* getopt_long returned ':' (missing value) or '?' (unknown option): a usage
 * error naming argv[optind - 1], or calling a prefix of several of lopts'
 * names (may be NULL) ambiguous; returns 2. */
int option_error(const char *sub, int c, char **argv, const struct option *lopts);
/* A positional argument where none is taken; returns 2. */
int stray_argument(const char *sub, const char *arg);

/* Progress bar on stderr, drawn only when stderr is a terminal. */
typedef struct {
    int enabled;
    int epoch, epochs;
} progress_bar;
int progress_cb(void *user, int step, int n_steps, double running_loss);
void progress_clear(progress_bar *p);

/* Seconds from a monotonic clock. */
double now_seconds(void);

#endif
