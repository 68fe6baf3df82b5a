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

/* Shared by the commands (outputs.c). */
#define ELBO_DEFAULT_DATA "data/mnist"
/* The reconstructions grid: rows of up to 8 originals from ds, each row
 * followed by their reconstructions. Prints errors; 0 on success. */
int write_reconstructions(elbo_vae *m, const elbo_dataset *ds, int n, const char *path);
/* Creates dir if needed and checks that files can be created in it. */
int check_writable(const char *sub, const char *dir);
/* Removes *.safetensors.tmp.* left in dir by interrupted saves. */
void remove_stale_temporaries(const char *dir);
/* Rewrites metrics.jsonl keeping only complete lines of epochs <= epochs. */
int trim_metrics(const char *path, int epochs);
/* Appends (and fsyncs) one epoch's line; te may be NULL; extra (may be
 * NULL) is a JSON fragment ",\"key\":value..." placed before "seconds". */
int append_metrics(const char *path, int epoch, long step, const elbo_losses *tr,
                   const elbo_losses *te, const char *extra, double secs);

#endif
