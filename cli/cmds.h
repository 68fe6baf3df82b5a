/* cmds.h — the elbo subcommands. Each takes argc/argv from the subcommand
 * name on and returns the process exit status (0 ok, 1 failure, 2 usage). */
#ifndef ELBO_CLI_CMDS_H
#define ELBO_CLI_CMDS_H

#include "elbo.h"

int cmd_train(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_reconstruct(int argc, char **argv);
int cmd_eval(int argc, char **argv);

/* Shared by the commands: default data folder, and the reconstructions grid
 * (n originals from ds, each followed by its reconstruction, 8 pairs a row). */
#define ELBO_DEFAULT_DATA "data/mnist"
int write_reconstructions(elbo_vae *m, const elbo_dataset *ds, int n, const char *path);

#endif
