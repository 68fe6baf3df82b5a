/* train_opts.h — `elbo train`'s options as one table: each option's flag,
 * its run-record key, its type and where it lives. The same table parses
 * argv, writes the run record (canonical values) and, on --resume, reads
 * the record back and refuses options that conflict with it. */
#ifndef ELBO_CLI_TRAIN_OPTS_H
#define ELBO_CLI_TRAIN_OPTS_H

#include <stdint.h>

#include "elbo.h"

typedef struct {
    const char *data, *out;
    long epochs, threads, train_limit, test_limit, exclude;
    int no_test, resume, force, quiet;
    uint64_t seed;
    char ckpt[32];        /* "1e": every epoch, "N": every N steps, "Ne": every N epochs */
    elbo_vae_config cfg;  /* architecture */
    elbo_train_config tc; /* optimizer and objective */
    unsigned char given[64]; /* given[i]: option i was on the command line */
} train_opts;

/* Defaults (the reference), then argv. Returns -1 to go on, else the exit
 * status (0 after --help, 2 on a usage error, printed). */
int train_opts_parse(train_opts *o, int argc, char **argv, void (*help)(void));
/* Every recorded option of o into r (canonical spellings). */
int train_opts_record(const train_opts *o, elbo_run_record *r);
/* --resume: takes the options not given from the record r of the run in
 * o->out; an option given that conflicts with r is refused (printed,
 * returns 2), except --epochs (extends the run) and --threads (the run
 * stays correct but is no longer bit-identical; *threads_changed = 1). */
int train_opts_resume(train_opts *o, const elbo_run_record *r, int *threads_changed);

#endif
