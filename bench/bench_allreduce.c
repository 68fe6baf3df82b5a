/* bench_allreduce.c — the cost of the group sum that data-parallel training
 * runs once a step (cli/par.c: a reduce-scatter then an allgather, in rank
 * order), beside Open MPI's own MPI_Allreduce, for vectors of 1 float up to
 * the VAE's 652,824-float gradient. Run under mpirun with 2 or more ranks
 * (bench/scaling.sh builds and runs it); rank 0 prints one JSON line per
 * size: {"floats":N,"ranks":P,"ours_us":T,"mpi_us":T,"ours_GBps":B}, where
 * T is the median over the repetitions in microseconds and B the bytes of
 * the vector over T (its algorithm bandwidth).
 *
 * Build: mpicc -O2 -Iinclude -Icli bench/bench_allreduce.c cli/par.c -DELBO_MPI */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "par.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of reps timings of one call (after a barrier each). */
static double median_us(double *t, int reps)
{
    qsort(t, (size_t)reps, sizeof *t, cmp_double);
    return 1e6 * t[reps / 2];
}

int main(int argc, char **argv)
{
    if (par_init(&argc, &argv) || par_size() < 2) {
        fprintf(stderr, "bench_allreduce: run under mpirun with 2 or more ranks\n");
        par_finalize();
        return 1;
    }
    const elbo_group *g = par_group();
    const size_t sizes[] = {1, 8, 1024, 16384, 131072, 652824};
    enum { REPS = 41 };
    float *x = malloc(sizeof(float) * 652824), *y = malloc(sizeof(float) * 652824);
    double t[2][REPS];
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si];
        for (size_t i = 0; i < n; i++) x[i] = (float)(i % 97) * 0.01f;
        for (int r = -3; r < REPS; r++) { /* three warm-up rounds */
            MPI_Barrier(MPI_COMM_WORLD);
            double t0 = MPI_Wtime();
            if (g->sum_f32(g->user, x, n)) return 1;
            double t1 = MPI_Wtime();
            MPI_Barrier(MPI_COMM_WORLD);
            double t2 = MPI_Wtime();
            MPI_Allreduce(x, y, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            double t3 = MPI_Wtime();
            if (r >= 0) {
                t[0][r] = t1 - t0;
                t[1][r] = t3 - t2;
            }
        }
        double ours = median_us(t[0], REPS), mpi = median_us(t[1], REPS);
        if (par_rank() == 0)
            printf("{\"floats\":%zu,\"ranks\":%d,\"ours_us\":%.1f,\"mpi_us\":%.1f,\"ours_GBps\":%.3f}\n",
                   n, par_size(), ours, mpi, 4.0 * (double)n / (ours * 1e3));
    }
    free(x);
    free(y);
    par_finalize();
    return 0;
}
