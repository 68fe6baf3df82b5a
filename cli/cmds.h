/* cmds.h — the elbo subcommands. Each takes argc/argv from the subcommand
 * name on and returns the process exit status (0 ok, 1 failure, 2 usage). */
#ifndef ELBO_CLI_CMDS_H
#define ELBO_CLI_CMDS_H

#include "elbo.h"

int cmd_train(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_reconstruct(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_encode(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_interpolate(int argc, char **argv);
int cmd_manifold(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_info(int argc, char **argv);

/* What `elbo train` needs of a model, whatever its kind: the library's run
 * and position calls, and what a finished run writes (images, a summary).
 * Each kind's builder creates or loads the model, sets its run record,
 * prints its header and fills this (cli/train.c: the VAE, cli/bnn.c). */
struct train_opts_s;
typedef struct {
    void *m;
    elbo_status (*run)(void *m, const elbo_train_config *tc, const elbo_run_config *rc,
                       const elbo_dataset *train, const elbo_dataset *test,
                       const elbo_run_callbacks *cb, int *stopped, elbo_error *err);
    long (*steps)(const void *m);
    int (*epochs)(const void *m);
    long (*epoch_examples)(const void *m);
    void (*free)(void *m);
    int (*finish)(const struct train_opts_s *o, void *m, const elbo_dataset *shown);
} train_model;
int build_bnn(struct train_opts_s *o, const elbo_dataset *train, train_model *tm);
int cmd_bnn(int argc, char **argv);

/* Shared by the commands (outputs.c). */
#define ELBO_DEFAULT_DATA "data/mnist"
/* The reconstructions grid: rows of up to 8 originals from ds, each row
 * followed by their reconstructions. Prints errors; 0 on success. */
int write_reconstructions(elbo_vae *m, const elbo_dataset *ds, int n, const char *path);
#endif
