/* infer.c — `elbo sample`, `elbo reconstruct` and `elbo eval`: commands that
 * load a checkpoint and run the model forward. */
#define _POSIX_C_SOURCE 200809L
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cmds.h"

enum { O_MODEL = 256, O_N, O_OUT, O_SEED, O_COLS, O_DATA, O_SPLIT, O_LIMIT, O_THREADS, O_JSON, O_IW };

/* Options every inference command understands; each command ignores the ones
 * it does not list in its help, and refuses them. */
typedef struct {
    const char *model, *out, *data;
    long n, cols, limit, threads, iw;
    uint64_t seed;
    elbo_split split;
    int json;
} infer_opts;

/* Parses argv for subcommand S accepting the options whose codes appear in
 * allowed[]. Returns -1 when parsing succeeded, else the exit status. */
static int parse_infer(const char *S, int argc, char **argv, const int *allowed, int n_allowed,
                       void (*help)(void), infer_opts *o)
{
    static const struct option all[] = {
        {"model", required_argument, 0, O_MODEL}, {"n", required_argument, 0, O_N},
        {"out", required_argument, 0, O_OUT},     {"seed", required_argument, 0, O_SEED},
        {"cols", required_argument, 0, O_COLS},   {"data", required_argument, 0, O_DATA},
        {"split", required_argument, 0, O_SPLIT}, {"limit", required_argument, 0, O_LIMIT},
        {"threads", required_argument, 0, O_THREADS}, {"json", no_argument, 0, O_JSON},
        {"iw", required_argument, 0, O_IW},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":hm:n:o:", all, NULL)) != -1) {
        if (c == 'm') c = O_MODEL;
        if (c == 'n') c = O_N;
        if (c == 'o') c = O_OUT;
        int ok = c == 'h' || c == ':' || c == '?';
        for (int i = 0; i < n_allowed && !ok; i++) ok = allowed[i] == c;
        if (!ok) c = '?';
        switch (c) {
        case O_MODEL: o->model = optarg; break;
        case O_OUT: o->out = optarg; break;
        case O_DATA: o->data = optarg; break;
        case O_N: if (arg_int(S, "-n", optarg, 1, 1000000, &o->n)) return 2; break;
        case O_COLS: if (arg_int(S, "--cols", optarg, 1, 1000, &o->cols)) return 2; break;
        case O_LIMIT: if (arg_int(S, "--limit", optarg, 1, 1L << 30, &o->limit)) return 2; break;
        case O_THREADS: if (arg_int(S, "--threads", optarg, 1, 1024, &o->threads)) return 2; break;
        case O_SEED: if (arg_u64(S, "--seed", optarg, &o->seed)) return 2; break;
        case O_JSON: o->json = 1; break;
        case O_IW: if (arg_int(S, "--iw", optarg, 1, 10000000, &o->iw)) return 2; break;
        case O_SPLIT:
            if (!strcmp(optarg, "train")) o->split = ELBO_SPLIT_TRAIN;
            else if (!strcmp(optarg, "test")) o->split = ELBO_SPLIT_TEST;
            else return usage_error(S, "--split must be train or test");
            break;
        case 'h': help(); return 0;
        case ':': {
            char msg[128];
            snprintf(msg, sizeof msg, "option '%s' needs a value", argv[optind - 1]);
            return usage_error(S, msg);
        }
        default: {
            char msg[128];
            snprintf(msg, sizeof msg, "unknown option '%s'", argv[optind - 1]);
            return usage_error(S, msg);
        }
        }
    }
    if (optind < argc) {
        char msg[128];
        snprintf(msg, sizeof msg, "unexpected argument '%s'", argv[optind]);
        return usage_error(S, msg);
    }
    if (!o->model) return usage_error(S, "--model is required");
    return -1;
}

static elbo_vae *load_model(const char *S, const char *path, long threads)
{
    elbo_error err;
    elbo_vae *m = elbo_vae_load(path, 0, &err);
    if (m && elbo_vae_set_threads(m, (int)threads, &err) != ELBO_OK) {
        elbo_vae_free(m);
        m = NULL;
    }
    if (!m) fprintf(stderr, "elbo %s: %s\n", S, err.msg);
    return m;
}

static void sample_help(void)
{
    printf("usage: elbo sample --model PATH [-n N] [-o out.png] [--seed S] [--cols C]\n"
           "\n"
           "Draws N latents from the prior N(0, I), decodes them and writes a PNG grid.\n"
           "  -m, --model PATH   checkpoint folder or model.safetensors\n"
           "  -n, --n N          number of samples (default 64)\n"
           "  -o, --out FILE     output PNG (default samples.png)\n"
           "  --seed S           PRNG seed (default 1)\n"
           "  --cols C           grid columns (default 8)\n"
           "  --threads N        worker threads (default: all cores)\n");
}

int cmd_sample(int argc, char **argv)
{
    static const int allowed[] = {O_MODEL, O_N, O_OUT, O_SEED, O_COLS, O_THREADS};
    infer_opts o = {NULL, "samples.png", NULL, 64, 8, -1, 0, 0, 1, ELBO_SPLIT_TEST, 0};
    int rc = parse_infer("sample", argc, argv, allowed, 6, sample_help, &o);
    if (rc >= 0) return rc;
    elbo_vae *m = load_model("sample", o.model, o.threads);
    if (!m) return 1;
    int D = elbo_vae_get_config(m)->input_dim, side = 1;
    while ((side + 1) * (side + 1) <= D) side++;
    if (side * side != D) {
        fprintf(stderr, "elbo sample: input size %d is not a square image\n", D);
        elbo_vae_free(m);
        return 1;
    }
    float *img = malloc(sizeof(float) * (size_t)o.n * D);
    rc = 1;
    if (img) {
        elbo_error err;
        elbo_vae_sample(m, (int)o.n, o.seed, img);
        if (elbo_write_png_grid(o.out, img, (int)o.n, side, side, (int)o.cols, &err) == ELBO_OK)
            rc = 0;
        else
            fprintf(stderr, "elbo sample: %s\n", err.msg);
    } else {
        fprintf(stderr, "elbo sample: out of memory\n");
    }
    free(img);
    elbo_vae_free(m);
    return rc;
}

/* Loads the split named in o, applying --limit; prints errors. */
static int load_split(const char *S, const infer_opts *o, elbo_dataset *ds)
{
    elbo_error err;
    if (elbo_dataset_load_mnist(o->data, o->split, ds, &err) != ELBO_OK) {
        fprintf(stderr, "elbo %s: %s\n", S, err.msg);
        return -1;
    }
    if (o->limit > 0) elbo_dataset_truncate(ds, (int)o->limit);
    return 0;
}

static void reconstruct_help(void)
{
    printf("usage: elbo reconstruct --model PATH [--data DIR] [-n N] [-o out.png]\n"
           "\n"
           "Writes the first N images of a split, each row of 8 followed by a row of their\n"
           "reconstructions (decoded posterior means).\n"
           "  -m, --model PATH   checkpoint folder or model.safetensors\n"
           "  --data DIR         MNIST-layout folder (default %s)\n"
           "  --split S          test (default) or train\n"
           "  -n, --n N          number of images (default 32)\n"
           "  -o, --out FILE     output PNG (default reconstructions.png)\n"
           "  --threads N        worker threads (default: all cores)\n",
           ELBO_DEFAULT_DATA);
}

int cmd_reconstruct(int argc, char **argv)
{
    static const int allowed[] = {O_MODEL, O_N, O_OUT, O_DATA, O_SPLIT, O_THREADS};
    infer_opts o = {NULL, "reconstructions.png", ELBO_DEFAULT_DATA, 32, 8, -1, 0, 0, 1, ELBO_SPLIT_TEST, 0};
    int rc = parse_infer("reconstruct", argc, argv, allowed, 6, reconstruct_help, &o);
    if (rc >= 0) return rc;
    elbo_vae *m = load_model("reconstruct", o.model, o.threads);
    if (!m) return 1;
    elbo_dataset ds = {0};
    rc = 1;
    if (load_split("reconstruct", &o, &ds) == 0) {
        if (ds.rows * ds.cols != elbo_vae_get_config(m)->input_dim)
            fprintf(stderr, "elbo reconstruct: %s images are %dx%d, the model expects %d values\n",
                    o.data, ds.rows, ds.cols, elbo_vae_get_config(m)->input_dim);
        else
            rc = write_reconstructions(m, &ds, (int)o.n, o.out);
    }
    elbo_dataset_free(&ds);
    elbo_vae_free(m);
    return rc;
}

static void eval_help(void)
{
    printf("usage: elbo eval --model PATH [--data DIR] [--split test|train] [--seed S] [--iw K]\n"
           "\n"
           "Prints the per-example -ELBO (one z sample per image, as the reference's test\n"
           "loss), its reconstruction term and its KL term, in nats. With --iw K it also\n"
           "prints the importance-weighted estimate of log p(x) with K samples per image\n"
           "(Burda et al. 2015; tighter as K grows, K = 5000 is the usual report).\n"
           "Models trained with --binarize static|dynamic are evaluated on a binarization\n"
           "of the data fixed by --seed.\n"
           "  -m, --model PATH   checkpoint folder or model.safetensors\n"
           "  --data DIR         MNIST-layout folder (default %s)\n"
           "  --split S          test (default) or train\n"
           "  --limit N          only the first N examples\n"
           "  --seed S           PRNG seed for z (default 1)\n"
           "  --iw K             also the IW estimate of log p(x) with K samples\n"
           "  --json             print one JSON object instead of text\n"
           "  --threads N        worker threads (default: all cores)\n",
           ELBO_DEFAULT_DATA);
}

int cmd_eval(int argc, char **argv)
{
    static const int allowed[] = {O_MODEL, O_DATA, O_SPLIT, O_LIMIT, O_SEED, O_JSON, O_THREADS, O_IW};
    infer_opts o = {NULL, NULL, ELBO_DEFAULT_DATA, 0, 8, -1, 0, 0, 1, ELBO_SPLIT_TEST, 0};
    int rc = parse_infer("eval", argc, argv, allowed, 8, eval_help, &o);
    if (rc >= 0) return rc;
    elbo_vae *m = load_model("eval", o.model, o.threads);
    if (!m) return 1;
    elbo_dataset ds = {0};
    elbo_losses l;
    elbo_error err;
    rc = 1;
    if (load_split("eval", &o, &ds) == 0) {
        double t0 = now_seconds(), nll = 0.0, t_iw = 0.0;
        if (elbo_vae_eval(m, &ds, o.seed, &l, &err) != ELBO_OK) {
            fprintf(stderr, "elbo eval: %s\n", err.msg);
        } else {
            double s = now_seconds() - t0;
            int ok = 1;
            if (o.iw > 0) {
                if (!o.json)
                    fprintf(stderr, "elbo eval: IW estimate with K = %ld on %d images ...\n", o.iw, ds.n);
                t0 = now_seconds();
                ok = elbo_vae_eval_iw(m, &ds, (int)o.iw, o.seed, &nll, NULL, &err) == ELBO_OK;
                t_iw = now_seconds() - t0;
                if (!ok) fprintf(stderr, "elbo eval: %s\n", err.msg);
            }
            if (ok && o.json) {
                printf("{\"n\":%ld,\"loss\":%.6f,\"recon\":%.6f,\"kl\":%.6f,\"seconds\":%.4f", l.n,
                       l.loss, l.recon, l.kl, s);
                if (o.iw > 0) printf(",\"iw_k\":%ld,\"log_px\":%.6f,\"iw_seconds\":%.3f", o.iw, -nll, t_iw);
                printf("}\n");
            } else if (ok) {
                printf("n %ld  loss %.4f  recon %.4f  kl %.4f  (%.2f s, %.0f images/s)\n", l.n,
                       l.loss, l.recon, l.kl, s, l.n / (s > 0 ? s : 1e-9));
                if (o.iw > 0)
                    printf("log p(x) >= %.4f  (IW, K = %ld; -ELBO was %.4f)  %.1f s\n", -nll, o.iw,
                           l.loss, t_iw);
            }
            rc = ok ? 0 : 1;
        }
    }
    elbo_dataset_free(&ds);
    elbo_vae_free(m);
    return rc;
}
