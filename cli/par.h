/* par.h — the CLI's process group for data-parallel training (elbo.h,
 * elbo_group): MPI_COMM_WORLD in a `make MPI=1` build started by mpirun,
 * a lone process otherwise (the plain build has no MPI at all).
 *
 * The sums are collective and reduce in a fixed order: a reduce-scatter
 * (each rank adds one segment of every rank's vector, ranks in order) then
 * an allgather of the segments, so every rank holds the same bits and the
 * sum is ((x_0 + x_1) + x_2) + ... whatever the transport. Every wait has a
 * deadline (par_set_timeout): a rank that died or hangs ends the job with a
 * message instead of leaving the others waiting forever. See
 * docs/scaling.md. */
#ifndef ELBO_CLI_PAR_H
#define ELBO_CLI_PAR_H

#include "elbo.h"

/* MPI_Init when started by an MPI launcher (MPI build); nothing otherwise.
 * 0 on success; on failure prints why and returns 1. */
int par_init(int *argc, char ***argv);
/* MPI_Finalize when par_init started MPI. */
void par_finalize(void);
int par_rank(void);
int par_size(void);
/* The group for elbo_model_set_group; NULL when alone. */
const elbo_group *par_group(void);
/* Seconds a rank waits for the others in one collective before it ends
 * the job (default 60). */
void par_set_timeout(double seconds);
/* Ends every rank of the job with exit status 1 after printing why (rank
 * r: why); alone: returns at once. */
void par_abort(const char *why);
/* "MPI (Open MPI v4.1.4 ...)" or "no MPI": for --version. */
const char *par_describe(void);

#endif
