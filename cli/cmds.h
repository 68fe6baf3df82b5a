/* cmds.h — the elbo subcommands. Each takes argc/argv from the subcommand
 * name on and returns the process exit status (0 ok, 1 failure, 2 usage). */
#ifndef ELBO_CLI_CMDS_H
#define ELBO_CLI_CMDS_H

#include "elbo.h"

int cmd_train(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_decode(int argc, char **argv);
int cmd_reconstruct(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_encode(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_interpolate(int argc, char **argv);
int cmd_manifold(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_info(int argc, char **argv);

/* What `elbo train` needs of a model beyond elbo_model (the library's
 * handle for training, checkpoints and the run record): how to free it and
 * what a finished run writes (images, a summary). Each kind's builder
 * creates the model (or loads it for --resume) and fills this (cli/train.c: the VAE, cli/bnn.c: the Bayesian classifier). */
struct train_opts_s;
typedef struct {
    elbo_model *h;
    void *m;
    void (*free)(void *m);
    /* the header line up to the thread count, which the caller adds */
    void (*header)(const struct train_opts_s *o, void *m, int n_train);
    int (*finish)(const struct train_opts_s *o, void *m, const elbo_dataset *shown);
} train_model;
int build_bnn(struct train_opts_s *o, const elbo_dataset *train, train_model *tm);
int build_lda(struct train_opts_s *o, const elbo_dataset *train, train_model *tm);
int cmd_lda(int argc, char **argv);
int cmd_bnn(int argc, char **argv);
int build_m2(struct train_opts_s *o, const elbo_dataset *train, train_model *tm);
/* --kind m2's data: M1's latent means with --m1, then the --n-labels draw. */
int semisupervised_data(struct train_opts_s *o, elbo_dataset *train, elbo_dataset *test, elbo_dataset *val);
int cmd_m2(int argc, char **argv);
int cmd_fit(int argc, char **argv);

/* Shared by the commands (outputs.c). */
#define ELBO_DEFAULT_DATA "data/mnist"
/* The reconstructions grid: rows of up to 8 originals from ds, each row
 * followed by their reconstructions. Prints errors; 0 on success. */
int write_reconstructions(elbo_vae *m, const elbo_dataset *ds, int n, const char *path);
#endif
