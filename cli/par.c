/* par.c — see par.h. Without ELBO_MPI (the plain build) every call is the
 * lone process's; with it (make MPI=1, mpicc) MPI_COMM_WORLD's. */
#define _POSIX_C_SOURCE 200809L
#include "par.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef ELBO_MPI

int par_init(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}
void par_finalize(void) {}
int par_rank(void) { return 0; }
int par_size(void) { return 1; }
const elbo_group *par_group(void) { return NULL; }
void par_set_timeout(double seconds) { (void)seconds; }
void par_abort(const char *why) { (void)why; }
const char *par_describe(void) { return "no MPI: build with make MPI=1 for mpirun"; }

#else

#include <mpi.h>

static struct {
    int on, rank, size;
    double timeout;
    elbo_group group;
    void *buf; /* receive buffer of the reduce-scatter, grown on demand */
    size_t buf_bytes;
    int *scount, *sdispl, *rcount, *rdispl; /* [size] each: the reduce-scatter's layout */
} P = {0, 0, 1, 60.0, {0}, NULL, 0, NULL, NULL, NULL, NULL};

/* Started by an MPI launcher: Open MPI, PMIx or PMI set these. */
static int launched(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_SIZE");
}

/* Waits for rq with the deadline; past it, ends the job. */
static int wait_for(MPI_Request *rq, const char *what)
{
    double t0 = MPI_Wtime();
    struct timespec nap = {0, 20000}; /* 20 us between polls after the first spins */
    for (long spins = 0;; spins++) {
        int done = 0;
        if (MPI_Test(rq, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) return -1;
        if (done) return 0;
        if (spins > 2000) nanosleep(&nap, NULL);
        if (MPI_Wtime() - t0 > P.timeout) {
            char why[200];
            snprintf(why, sizeof why,
                     "no answer from the other ranks for %.0f s in the %s (a rank died or "
                     "hangs); ending the job (the last checkpoint stays loadable)",
                     P.timeout, what);
            par_abort(why);
        }
    }
}

/* Segment r of n elements split over the ranks (the trainer's row split). */
static void segment(size_t n, int r, size_t *off, size_t *len)
{
    size_t base = n / (size_t)P.size, extra = n % (size_t)P.size, ur = (size_t)r;
    *off = ur * base + (ur < extra ? ur : extra);
    *len = base + (ur < extra);
}

static int grow(size_t bytes)
{
    if (bytes <= P.buf_bytes) return 0;
    void *b = realloc(P.buf, bytes);
    if (!b) return -1;
    P.buf = b;
    P.buf_bytes = bytes;
    return 0;
}

static void add_f32(void *acc, const void *src, size_t n)
{
    float *a = acc;
    const float *b = src;
    for (size_t i = 0; i < n; i++) a[i] += b[i];
}

static void add_f64(void *acc, const void *src, size_t n)
{
    double *a = acc;
    const double *b = src;
    for (size_t i = 0; i < n; i++) a[i] += b[i];
}

/* dst[n] = parts[0] + parts[1] + ... (p parts of n elements, each es bytes,
 * in rank order). */
static void add_ranks(void *dst, const char *parts, size_t n, size_t es,
                      void (*add)(void *, const void *, size_t))
{
    memcpy(dst, parts, n * es);
    for (int r = 1; r < P.size; r++) add(dst, parts + (size_t)r * n * es, n);
}

/* Sums x[n] (elements of es bytes, MPI type M) over the ranks in rank order:
 * each rank adds its segment of everybody's x (reduce-scatter), then the
 * segments are gathered (allgather), so that each element is added once,
 * by one rank, and every rank gets its bits. A short vector is gathered
 * whole and added by every rank alike (one latency instead of two). */
static int group_sum(void *x, size_t n, MPI_Datatype M, size_t es,
                     void (*add)(void *, const void *, size_t))
{
    int p = P.size;
    MPI_Request rq;
    if (n > (size_t)0x7fffffff / (size_t)p) return -1;
    if (n * (size_t)p <= 4096) {
        if (grow(es * n * (size_t)p)) return -1;
        if (MPI_Iallgather(x, (int)n, M, P.buf, (int)n, M, MPI_COMM_WORLD, &rq) != MPI_SUCCESS ||
            wait_for(&rq, "allgather of the step's sums"))
            return -1;
        add_ranks(x, P.buf, n, es, add);
        return 0;
    }
    size_t off, len;
    segment(n, P.rank, &off, &len);
    if (grow(es * len * (size_t)p)) return -1;
    for (int r = 0; r < p; r++) {
        size_t o, l;
        segment(n, r, &o, &l);
        P.scount[r] = (int)l; /* my segment r goes to rank r */
        P.sdispl[r] = (int)o;
        P.rcount[r] = (int)len; /* rank r's copy of my segment */
        P.rdispl[r] = r * (int)len;
    }
    if (MPI_Ialltoallv(x, P.scount, P.sdispl, M, P.buf, P.rcount, P.rdispl, M, MPI_COMM_WORLD,
                       &rq) != MPI_SUCCESS ||
        wait_for(&rq, "reduce-scatter of the gradient"))
        return -1;
    add_ranks((char *)x + off * es, P.buf, len, es, add);
    if (MPI_Iallgatherv(MPI_IN_PLACE, 0, M, x, P.scount, P.sdispl, M, MPI_COMM_WORLD, &rq) !=
            MPI_SUCCESS ||
        wait_for(&rq, "allgather of the gradient"))
        return -1;
    return 0;
}

static int sum_f32(void *user, float *x, size_t n)
{
    (void)user;
    return group_sum(x, n, MPI_FLOAT, sizeof *x, add_f32);
}

static int sum_f64(void *user, double *x, size_t n)
{
    (void)user;
    return group_sum(x, n, MPI_DOUBLE, sizeof *x, add_f64);
}

int par_init(int *argc, char ***argv)
{
    if (!launched()) return 0;
    int have = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &have) != MPI_SUCCESS) {
        fprintf(stderr, "elbo: MPI_Init failed\n");
        return 1;
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &P.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &P.size);
    P.on = 1;
    P.scount = calloc((size_t)P.size * 4, sizeof(int));
    if (!P.scount) {
        fprintf(stderr, "elbo: out of memory\n");
        return 1;
    }
    P.sdispl = P.scount + P.size;
    P.rcount = P.sdispl + P.size;
    P.rdispl = P.rcount + P.size;
    P.group = (elbo_group){P.rank, P.size, sum_f32, sum_f64, NULL};
    return 0;
}

void par_finalize(void)
{
    if (!P.on) return;
    MPI_Finalize();
    free(P.buf);
    free(P.scount);
    P.on = 0;
}

int par_rank(void) { return P.rank; }
int par_size(void) { return P.size; }
const elbo_group *par_group(void) { return P.size > 1 ? &P.group : NULL; }
void par_set_timeout(double seconds) { P.timeout = seconds; }

void par_abort(const char *why)
{
    if (!P.on || P.size <= 1) return;
    fprintf(stderr, "elbo: rank %d of %d: %s\n", P.rank, P.size, why);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
    exit(1);
}

const char *par_describe(void)
{
    static char s[MPI_MAX_LIBRARY_VERSION_STRING + 16];
    char lib[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(lib, &len);
    char *nl = strchr(lib, ',');
    if (nl) *nl = 0;
    snprintf(s, sizeof s, "MPI: %s", lib);
    return s;
}

#endif
