/* args.c — see args.h. */
#define _POSIX_C_SOURCE 200809L
#include "args.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int usage_error(const char *sub, const char *msg)
{
    fprintf(stderr, "elbo %s: %s\nTry 'elbo %s --help'.\n", sub, msg, sub);
    return 2;
}

int option_error(const char *sub, int c, char **argv, const struct option *lopts)
{
    char msg[400];
    const char *arg = argv[optind - 1];
    if (c == ':') {
        snprintf(msg, sizeof msg, "option '%s' needs a value", arg);
        return usage_error(sub, msg);
    }
    /* a long option: an unknown name, or a prefix of several */
    if (arg && !strncmp(arg, "--", 2) && lopts) {
        size_t n = strcspn(arg + 2, "=");
        int hits = 0;
        char list[300] = "";
        for (const struct option *o = lopts; o->name; o++)
            if (!strncmp(o->name, arg + 2, n)) {
                if (strlen(o->name) == n) { hits = 1; break; } /* exact: not ambiguous */
                size_t len = strlen(list);
                snprintf(list + len, sizeof list - len, "%s--%s", hits ? ", " : "", o->name);
                hits++;
            }
        if (hits > 1) {
            snprintf(msg, sizeof msg, "option '%.*s' is ambiguous (it could be %s)", (int)n + 2, arg,
                     list);
            return usage_error(sub, msg);
        }
    }
    snprintf(msg, sizeof msg, "unknown option '%s'", arg);
    return usage_error(sub, msg);
}

int stray_argument(const char *sub, const char *arg)
{
    char msg[160];
    snprintf(msg, sizeof msg, "unexpected argument '%s'", arg);
    return usage_error(sub, msg);
}

int arg_int(const char *sub, const char *flag, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end) {
        fprintf(stderr, "elbo %s: %s: '%s' is not an integer\n", sub, flag, s);
        return -1;
    }
    if (v < lo || v > hi) {
        fprintf(stderr, "elbo %s: %s: %ld is out of range %ld..%ld\n", sub, flag, v, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int arg_u64(const char *sub, const char *flag, const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (*s == '-') {
        fprintf(stderr, "elbo %s: %s: '%s' must not be negative\n", sub, flag, s);
        return -1;
    }
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end) {
        fprintf(stderr, "elbo %s: %s: '%s' is not a non-negative integer\n", sub, flag, s);
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

int arg_double(const char *sub, const char *flag, const char *s, double lo, double hi, int open_lo,
               double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) {
        fprintf(stderr, "elbo %s: %s: '%s' is not a finite number\n", sub, flag, s);
        return -1;
    }
    if ((open_lo ? v <= lo : v < lo) || v > hi) {
        fprintf(stderr, "elbo %s: %s: %g is out of range %s%g, %g]\n", sub, flag, v,
                open_lo ? "(" : "[", lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int arg_hidden(const char *sub, const char *flag, const char *s, elbo_vae_config *c)
{
    int n = 0;
    const char *p = s;
    while (1) {
        char *end;
        errno = 0;
        long w = strtol(p, &end, 10);
        if (errno || end == p || w < 1 || w > 65536 || (*end && *end != ',')) {
            fprintf(stderr, "elbo %s: %s: '%s' is not a comma-separated list of widths 1..65536\n",
                    sub, flag, s);
            return -1;
        }
        if (n >= ELBO_MAX_HIDDEN) {
            fprintf(stderr, "elbo %s: %s: at most %d hidden layers\n", sub, flag, ELBO_MAX_HIDDEN);
            return -1;
        }
        c->hidden[n++] = (int)w;
        if (!*end) break;
        p = end + 1;
    }
    c->n_hidden = n;
    return 0;
}

int arg_likelihood(const char *sub, const char *flag, const char *s, elbo_likelihood *out)
{
    if (strcmp(s, "bernoulli") == 0) {
        *out = ELBO_LIK_BERNOULLI;
        return 0;
    }
    if (strcmp(s, "gaussian") == 0) {
        *out = ELBO_LIK_GAUSSIAN;
        return 0;
    }
    if (strcmp(s, "gaussian-learned") == 0) {
        *out = ELBO_LIK_GAUSSIAN_LEARNED;
        return 0;
    }
    fprintf(stderr, "elbo %s: %s: '%s' is not one of bernoulli, gaussian, gaussian-learned\n", sub,
            flag, s);
    return -1;
}

int progress_cb(void *user, int step, int n_steps, double running_loss)
{
    progress_bar *p = user;
    if (!p->enabled) return 0;
    if (step != n_steps && step % 8 != 0) return 0;
    int width = 30, done = (int)((long)width * step / n_steps);
    char bar[64];
    for (int i = 0; i < width; i++) bar[i] = i < done ? '#' : '.';
    bar[width] = 0;
    if (p->epochs > 0)
        fprintf(stderr, "\repoch %d/%d [%s] %d/%d  loss %.2f ", p->epoch, p->epochs, bar, step,
                n_steps, running_loss);
    else
        fprintf(stderr, "\r[%s] %d/%d ", bar, step, n_steps);
    fflush(stderr);
    return 0;
}

void progress_clear(progress_bar *p)
{
    if (p->enabled) fprintf(stderr, "\r%*s\r", 78, "");
}

double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
