/* opts.c — see opts.h. */
#define _POSIX_C_SOURCE 200809L
#include "opts.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cmds.h"

void infer_defaults(infer_opts *o)
{
    memset(o, 0, sizeof *o);
    o->data = ELBO_DEFAULT_DATA;
    o->cols = 8;
    o->seed = 1;
    o->split = ELBO_SPLIT_TEST;
    o->score = ELBO_SCORE_ELBO;
    o->klass = -1;
    o->iw = 0;
}

int parse_infer(const char *S, int argc, char **argv, const int *allowed, int n_allowed,
                void (*help)(void), int need_model, infer_opts *o)
{
    static const struct option all[] = {
        {"model", required_argument, 0, O_MODEL},     {"n", required_argument, 0, O_N},
        {"out", required_argument, 0, O_OUT},         {"seed", required_argument, 0, O_SEED},
        {"cols", required_argument, 0, O_COLS},       {"data", required_argument, 0, O_DATA},
        {"split", required_argument, 0, O_SPLIT},     {"limit", required_argument, 0, O_LIMIT},
        {"threads", required_argument, 0, O_THREADS}, {"json", no_argument, 0, O_JSON},
        {"iw", required_argument, 0, O_IW},           {"probe", no_argument, 0, O_PROBE},
        {"scatter", required_argument, 0, O_SCATTER}, {"score", required_argument, 0, O_SCORE},
        {"inliers", required_argument, 0, O_INLIERS}, {"outliers", required_argument, 0, O_OUTLIERS},
        {"steps", required_argument, 0, O_STEPS},     {"metrics", required_argument, 0, O_METRICS},
        {"prefix", required_argument, 0, O_PREFIX},   {"train-data", required_argument, 0, O_TRAIN_DATA},
        {"samples", required_argument, 0, O_SAMPLES}, {"input", required_argument, 0, O_DATA},
        {"z", required_argument, 0, O_Z},             {"latents", required_argument, 0, O_LATENTS},
        {"ood", required_argument, 0, O_OOD},         {"reliability", required_argument, 0, O_RELIABILITY},
        {"targets", required_argument, 0, O_TARGETS}, {"fractions", required_argument, 0, O_FRACTIONS},
        {"plot", required_argument, 0, O_PLOT},       {"class", required_argument, 0, O_CLASS},
        {"keys", required_argument, 0, O_KEYS},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    opterr = 0;
    optind = 1;
    int c, li;
    while ((li = -1, c = getopt_long(argc, argv, ":hm:n:o:", all, &li)) != -1) {
        char shortf[4] = {'-', (char)c, 0, 0};
        if (c == 'm') c = O_MODEL;
        if (c == 'n') c = O_N;
        if (c == 'o') c = O_OUT;
        int ok = c == 'h' || c == ':' || c == '?';
        for (int i = 0; i < n_allowed && !ok; i++) ok = allowed[i] == c;
        if (!ok) { /* an option of another command: name it by its flag */
            char msg[160];
            snprintf(msg, sizeof msg, "option '%s%s' is not an option of 'elbo %s'",
                     li >= 0 ? "--" : "", li >= 0 ? all[li].name : shortf, S);
            return usage_error(S, msg);
        }
        switch (c) {
        case O_MODEL: o->model = optarg; break;
        case O_OUT: o->out = optarg; break;
        case O_DATA: o->data = optarg; break;
        case O_SCATTER: o->scatter = optarg; break;
        case O_INLIERS: o->inliers = optarg; break;
        case O_OUTLIERS: o->outliers = optarg; break;
        case O_METRICS:
            if (o->n_metrics == 8) return usage_error(S, "at most 8 --metrics files");
            o->metrics = o->metrics_list[o->n_metrics++] = optarg;
            break;
        case O_KEYS: o->keys = optarg; break;
        case O_PREFIX: o->prefix = optarg; break;
        case O_TRAIN_DATA: o->train_data = optarg; break;
        case O_Z: o->z = optarg; break;
        case O_LATENTS: o->latents = optarg; break;
        case O_OOD: o->ood = optarg; break;
        case O_RELIABILITY: o->reliability = optarg; break;
        case O_TARGETS: o->targets = optarg; break;
        case O_FRACTIONS: o->fractions = optarg; break;
        case O_PLOT: o->plot = optarg; break;
        case O_N: if (arg_int(S, "-n", optarg, 1, 1000000, &o->n)) return 2; break;
        case O_CLASS: if (arg_int(S, "--class", optarg, 0, 1000000, &o->klass)) return 2; break;
        case O_COLS: if (arg_int(S, "--cols", optarg, 1, 1000, &o->cols)) return 2; break;
        case O_STEPS: if (arg_int(S, "--steps", optarg, 2, 1000, &o->steps)) return 2; break;
        case O_LIMIT: if (arg_int(S, "--limit", optarg, 1, 1L << 30, &o->limit)) return 2; break;
        case O_THREADS: if (arg_int(S, "--threads", optarg, 1, 64, &o->threads)) return 2; break;
        case O_IW: if (arg_int(S, "--iw", optarg, 1, 10000000, &o->iw)) return 2; break;
        case O_SAMPLES: if (arg_int(S, "--samples", optarg, 1, 100000, &o->samples)) return 2; break;
        case O_SEED: if (arg_u64(S, "--seed", optarg, &o->seed)) return 2; break;
        case O_JSON: o->json = 1; break;
        case O_PROBE: o->probe = 1; break;
        case O_SPLIT:
            if (!strcmp(optarg, "train")) o->split = ELBO_SPLIT_TRAIN;
            else if (!strcmp(optarg, "test")) o->split = ELBO_SPLIT_TEST;
            else return usage_error(S, "--split must be train or test");
            break;
        case O_SCORE:
            if (!strcmp(optarg, "elbo")) o->score = ELBO_SCORE_ELBO;
            else if (!strcmp(optarg, "iw")) o->score = ELBO_SCORE_IW;
            else if (!strcmp(optarg, "recon")) o->score = ELBO_SCORE_RECON;
            else return usage_error(S, "--score must be elbo, iw or recon");
            break;
        case 'h': help(); return 0;
        default: return option_error(S, c, argv, all);
        }
    }
    if (optind < argc) return stray_argument(S, argv[optind]);
    if (need_model && !o->model) return usage_error(S, "--model is required");
    return -1;
}

elbo_vae *load_model(const char *S, const char *path, long threads)
{
    elbo_error err;
    elbo_vae *m = elbo_vae_load(path, 0, &err);
    if (m && elbo_vae_set_threads(m, (int)threads, &err) != ELBO_OK) {
        elbo_vae_free(m);
        m = NULL;
    }
    if (!m) fprintf(stderr, "elbo %s: %s\n", S, err.msg);
    if (m) use_run_record(elbo_vae_get_run_record(m));
    return m;
}

/* How the loaded model's training data were read (its run record): files
 * given to the commands are read the same way. */
static elbo_run_record g_rec;

void use_run_record(const elbo_run_record *r) { g_rec = *r; }

int model_image_shape(int D, int *h, int *w, int *c)
{
    const char *shape = elbo_run_record_get(&g_rec, "image_shape");
    *c = 1;
    if (shape) return sscanf(shape, "%dx%dx%d", h, w, c) >= 2 && (*c == 1 || *c == 3) && (long)*h * *w * *c == D;
    *h = *w = image_side(D);
    return *h > 0;
}

int load_split(const char *S, const char *dir, elbo_split split, long limit, elbo_dataset *ds)
{
    return load_split_targets(S, dir, NULL, split, limit, ds);
}

int load_split_targets(const char *S, const char *dir, const char *targets, elbo_split split, long limit,
                       elbo_dataset *ds)
{
    elbo_error err;
    elbo_load_opts lo;
    elbo_load_opts_default(&lo);
    lo.split = split;
    lo.targets = targets;
    lo.format = elbo_run_record_get(&g_rec, "format");
    lo.label_column = elbo_run_record_get(&g_rec, "label_column");
    const char *scale = elbo_run_record_get(&g_rec, "scale"), *shape = elbo_run_record_get(&g_rec, "image_shape");
    lo.scale = scale ? atof(scale) : 0.0;
    if (shape && sscanf(shape, "%dx%dx%d", &lo.height, &lo.width, &lo.channels) < 2)
        lo.height = lo.width = lo.channels = 0;
    if (lo.height > 0 && lo.channels == 0) lo.channels = 1;
    const char *std = elbo_run_record_get(&g_rec, "standardize");
    const char *kind = elbo_run_record_get(&g_rec, "kind");
    if (std && !strcmp(std, "1") && !(kind && !strcmp(kind, "bnn"))) /* a bnn standardizes itself */
        fprintf(stderr, "elbo %s: note: the model was trained on standardized data; %s is read as it is\n",
                S, dir);
    if (elbo_dataset_load(dir, &lo, ds, &err) != ELBO_OK) {
        fprintf(stderr, "elbo %s: %s\n", S, err.msg);
        return -1;
    }
    if (limit > 0) elbo_dataset_truncate(ds, (int)limit);
    return 0;
}

int fits(const char *S, const elbo_vae *m, const elbo_dataset *ds, const char *dir)
{
    elbo_error err;
    if (elbo_dataset_check(ds, elbo_vae_get_config(m)->input_dim, &err) == ELBO_OK) return 1;
    fprintf(stderr, "elbo %s: %s: %s\n", S, dir, err.msg);
    return 0;
}

float *dataset_floats(const elbo_dataset *ds, int n)
{
    if (n > ds->n) n = ds->n;
    float *x = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1) * ds->dim);
    for (int i = 0; x && i < n; i++) elbo_dataset_row(ds, i, x + (size_t)i * ds->dim);
    return x;
}

int grid_shape(const elbo_dataset *ds, int *h, int *w, int *c)
{
    if (ds->height < 1 || (ds->channels != 1 && ds->channels != 3)) return 0;
    *h = ds->height;
    *w = ds->width;
    *c = ds->channels;
    return 1;
}

int image_side(int D)
{
    int side = 1;
    while ((side + 1) * (side + 1) <= D) side++;
    return side * side == D ? side : 0;
}

int text_open(const char *S, const char *path, text_out *t)
{
    snprintf(t->tmp, sizeof t->tmp, "%s.tmp", path);
    t->f = fopen(t->tmp, "w");
    if (!t->f) fprintf(stderr, "elbo %s: %s: cannot create\n", S, t->tmp);
    return t->f ? 0 : 1;
}

int text_commit(const char *S, const char *path, text_out *t)
{
    int bad = ferror(t->f) != 0;
    bad |= fclose(t->f) != 0;
    t->f = NULL;
    if (!bad && rename(t->tmp, path) == 0) return 0;
    fprintf(stderr, "elbo %s: %s: write failed\n", S, path);
    remove(t->tmp);
    return 1;
}

void json_string_to(FILE *f, const char *s)
{
    fputc('"', f);
    for (const char *p = s; *p; p++)
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if ((unsigned char)*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    fputc('"', f);
}

void json_string(const char *s) { json_string_to(stdout, s); }
