/* opts.h — the options shared by the commands that load a checkpoint (eval,
 * sample, reconstruct, encode, score, interpolate, manifold, plot): one
 * parser, each command accepting the subset it lists in its help. */
#ifndef ELBO_CLI_OPTS_H
#define ELBO_CLI_OPTS_H

#include <stdint.h>
#include <stdio.h>

#include "elbo.h"

enum {
    O_MODEL = 256, O_N, O_OUT, O_SEED, O_COLS, O_DATA, O_SPLIT, O_LIMIT, O_THREADS, O_JSON, O_IW,
    O_PROBE, O_SCATTER, O_SCORE, O_INLIERS, O_OUTLIERS, O_STEPS, O_METRICS, O_PREFIX, O_TRAIN_DATA,
    O_SAMPLES, O_Z, O_LATENTS, O_OOD, O_RELIABILITY, O_TARGETS, O_FRACTIONS, O_PLOT, O_CLASS, O_KEYS
};

typedef struct {
    const char *model, *out, *data, *scatter, *inliers, *outliers, *metrics, *prefix, *train_data, *z, *latents, *ood, *reliability, *targets, *fractions, *plot;
    long n, cols, limit, threads, iw, steps, samples, klass; /* klass: --class, -1 none */
    uint64_t seed;
    elbo_split split;
    elbo_score_kind score;
    int json, probe;
    const char *metrics_list[8]; /* every --metrics (plot compares up to 8 runs) */
    int n_metrics;
    const char *keys;            /* --keys: plot's comma-separated fields */
} infer_opts;

/* Defaults: seed 1, test split, data/mnist, all cores, 8 columns. */
void infer_defaults(infer_opts *o);

/* Parses argv for subcommand S, accepting the options whose codes are in
 * allowed[n_allowed]; need_model: --model is required. Returns -1 on
 * success, else the exit status to return (0 after --help, 2 on misuse). */
int parse_infer(const char *S, int argc, char **argv, const int *allowed, int n_allowed,
                void (*help)(void), int need_model, infer_opts *o);

/* Loads the checkpoint and sets its threads; prints errors (NULL then). */
elbo_vae *load_model(const char *S, const char *path, long threads);

/* The run record of the loaded model: load_split reads files as its
 * training data were read (format, label column, scale, image shape). */
void use_run_record(const elbo_run_record *r);
/* Loads a split of an MNIST-layout folder, or a file (elbo_dataset_load),
 * with --limit applied; prints errors; 0 on success. */
int load_split(const char *S, const char *dir, elbo_split split, long limit, elbo_dataset *ds);
/* The same with real-valued targets from a file beside it (NULL: none). */
int load_split_targets(const char *S, const char *dir, const char *targets, elbo_split split, long limit,
                       elbo_dataset *ds);

/* 1 if ds's images have the model's input size, else prints why and 0. */
int fits(const char *S, const elbo_vae *m, const elbo_dataset *ds, const char *dir);

/* The image shape of the loaded model's rows of D values: its run record's
 * image shape (1 or 3 channels), else a grey square; 0 when neither fits. */
int model_image_shape(int D, int *h, int *w, int *c);
/* Side of a square image of D values, or 0 when D is not a square. */
int image_side(int D);
/* The first n rows of ds as floats (uint8 scaled to [0,1]); caller frees. */
float *dataset_floats(const elbo_dataset *ds, int n);
/* 1 with *h, *w, *c set when ds's rows are images (grids can be drawn). */
int grid_shape(const elbo_dataset *ds, int *h, int *w, int *c);

/* s to stdout as a JSON string, quoted and escaped (the strings are the
 * files' and plug-ins', not ours). */
void json_string(const char *s);
/* The same into f. */
void json_string_to(FILE *f, const char *s);

/* A text output written atomically: text_open creates PATH.tmp (its name
 * into tmp [cap]); text_commit closes it and renames it to path, or on any
 * failure removes it. Both print why for command S; NULL / 1 on failure. */
typedef struct {
    FILE *f;
    char tmp[4200];
} text_out;
int text_open(const char *S, const char *path, text_out *t);
int text_commit(const char *S, const char *path, text_out *t);

/* `elbo bnn prune` on the loaded model m and the rows ds (cli/bnn_prune.c):
 * 0, 1 on failure, 2 for bad --fractions (printed). */
int bnn_prune_cmd(const infer_opts *o, elbo_bnn *m, const elbo_dataset *ds);

#endif
