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

/* Shared by the commands (outputs.c). */
#define ELBO_DEFAULT_DATA "data/mnist"
/* The reconstructions grid: rows of up to 8 originals from ds, each row
 * followed by their reconstructions. Prints errors; 0 on success. */
int write_reconstructions(elbo_vae *m, const elbo_dataset *ds, int n, const char *path);
#endif
