/* train_opts.h — `elbo train`'s options as one table: each option's flag,
 * its run-record key, its type and where it lives. The same table parses
 * argv, writes the run record (canonical values) and, on --resume, reads
 * the record back and refuses options that conflict with it. */
#ifndef ELBO_CLI_TRAIN_OPTS_H
#define ELBO_CLI_TRAIN_OPTS_H

#include <stdint.h>

#include "elbo.h"
#include "elbo_lda.h"
#include "elbo_m2.h"

enum { TRAIN_VAE = 0, TRAIN_BNN = 1, TRAIN_LDA = 2, TRAIN_M2 = 3 };

typedef struct train_opts_s {
    const char *data, *out;
    /* the user's files (elbo_dataset_load): a test set, labels beside npy
     * data, the CSV label column, the format, an image shape, a scale */
    const char *test, *labels, *test_labels, *label_column, *format, *shape, *val, *val_labels;
    const char *targets, *test_targets, *val_targets; /* regression targets beside the data */
    double scale, val_fraction;
    long early_stop;
    int standardize;
    int val_tail;         /* --val-fraction's rows are the last ones, not drawn */
    long epochs, threads, train_limit, test_limit, exclude;
    int no_test, resume, force, quiet;
    double mpi_timeout;   /* seconds a rank waits for the others (MPI build) */
    uint64_t seed;
    char ckpt[32];        /* "1e": every epoch, "N": every N steps, "Ne": every N epochs */
    int kind;             /* TRAIN_VAE, TRAIN_BNN, TRAIN_LDA or TRAIN_M2 (--kind) */
    long n_labels;        /* m2: labels kept, balanced over the classes (0: all) */
    uint64_t label_seed;  /* m2: the draw of those labels */
    const char *m1;       /* m2: an M1 VAE checkpoint whose latent means M2 models */
    char m1_units[512];   /* m2 with m1: the M1 units kept (its active ones), "3,7,..." */
    int m1_sample;        /* m2 with m1: train on draws from M1's q(z1|x), not its means */
    elbo_vae_config cfg;  /* the VAE's architecture; its hidden widths serve every kind */
    elbo_bnn_config bcfg; /* the Bayesian network's options (prior, rho, samples) */
    elbo_lda_config lcfg; /* the topic model's options (its alpha also serves m2's
                             --alpha, the weight of the classification loss) */
    const char *vocab;    /* a corpus's vocabulary file (--kind lda) */
    elbo_train_config tc; /* optimizer and objective */
    unsigned char given[96]; /* given[i]: option i was on the command line */
    char *owned[16];         /* strings taken from a run record (train_opts_free) */
    int n_owned;
} train_opts;

/* Defaults (the reference), then argv. Returns -1 to go on, else the exit
 * status (0 after --help, 2 on a usage error, printed). */
int train_opts_parse(train_opts *o, int argc, char **argv, void (*help)(void));
/* The hidden widths of o into c (for the kinds other than the VAE). */
void train_opts_bnn_config(const train_opts *o, elbo_bnn_config *c);
/* Frees the strings o took from a run record. */
void train_opts_free(train_opts *o);
/* Every recorded option of o's kind into r (canonical spellings). */
int train_opts_record(const train_opts *o, elbo_run_record *r);
/* --resume: takes the options not given from the record r of the run in
 * o->out; an option given that conflicts with r is refused (printed,
 * returns 2), except --epochs (extends the run) and --threads (the run
 * stays correct but is no longer bit-identical; *threads_changed = 1). */
int train_opts_resume(train_opts *o, const elbo_run_record *r, int *threads_changed);

#endif
