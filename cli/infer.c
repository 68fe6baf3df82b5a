/* infer.c — `elbo sample`, `elbo reconstruct` and `elbo eval`: commands that
 * load a checkpoint and run the model forward. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "cmds.h"
#include "opts.h"

static void sample_help(void)
{
    printf("usage: elbo sample --model PATH [-n N] [-o out.png|out.npy] [--seed S] [--cols C]\n"
           "\n"
           "Draws N latents from the prior N(0, I), decodes them and writes a PNG grid (at\n"
           "the training images' shape), or with -o F.npy the decoded means as float32\n"
           "[N, H, W] (or [N, D] when the rows are not images).\n"
           "  -m, --model PATH   checkpoint folder or model.safetensors\n"
           "  -n, --n N          number of samples (default 64)\n"
           "  -o, --out FILE     output .png or .npy (default samples.png)\n"
           "  --seed S           PRNG seed (default 1)\n"
           "  --cols C           grid columns (default 8)\n"
           "  --latents FILE     also write the drawn latents as float32 .npy [N, latent]\n"
           "                     (elbo decode --z FILE gives these samples back exactly)\n"
           "  --threads N        worker threads (default: all cores)\n");
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* n decoded rows of D values to out: .npy (float32, [n, H, W] when the
 * model's images have a shape) or a PNG grid. Prints errors; 0 on success. */
static int write_rows(const char *S, const char *out, const float *x, int n, int D, int cols)
{
    int h, w, c;
    int image = model_image_shape(D, &h, &w, &c);
    elbo_error err;
    elbo_status st;
    if (ends_with(out, ".npy")) {
        int64_t shape[4] = {n, image ? h : D, w, c};
        st = elbo_write_npy(out, x, ELBO_NPY_F32, image ? (c > 1 ? 4 : 3) : 2, shape, &err);
    } else if (!image) {
        fprintf(stderr, "elbo %s: rows of %d values are not images of a known shape: write an .npy "
                        "(-o FILE.npy)\n", S, D);
        return 1;
    } else {
        st = elbo_write_png_grid_c(out, x, n, h, w, c, cols, &err);
    }
    if (st != ELBO_OK) {
        fprintf(stderr, "elbo %s: %s\n", S, err.msg);
        return 1;
    }
    printf("wrote %s (%d rows)\n", out, n);
    return 0;
}

/* The latents a sample decoded, as float32 .npy [n, latent]. */
static int write_latents(elbo_vae *m, int n, uint64_t seed, const char *path)
{
    int Z = elbo_vae_get_config(m)->latent_dim;
    float *z = malloc(sizeof(float) * (size_t)n * Z);
    elbo_error err;
    int64_t shape[2] = {n, Z};
    int rc = 1;
    if (!z)
        fprintf(stderr, "elbo sample: out of memory\n");
    else {
        elbo_vae_sample_latents(m, n, seed, z);
        if (elbo_write_npy(path, z, ELBO_NPY_F32, 2, shape, &err) == ELBO_OK) {
            printf("wrote %s (%d x %d latents)\n", path, n, Z);
            rc = 0;
        } else {
            fprintf(stderr, "elbo sample: %s\n", err.msg);
        }
    }
    free(z);
    return rc;
}

int cmd_sample(int argc, char **argv)
{
    static const int allowed[] = {O_MODEL, O_N, O_OUT, O_SEED, O_COLS, O_THREADS, O_LATENTS};
    infer_opts o;
    infer_defaults(&o);
    o.out = "samples.png";
    o.n = 64;
    int rc = parse_infer("sample", argc, argv, allowed, 7, sample_help, 1, &o);
    if (rc >= 0) return rc;
    elbo_vae *m = load_model("sample", o.model, o.threads);
    if (!m) return 1;
    int D = elbo_vae_get_config(m)->input_dim;
    float *img = malloc(sizeof(float) * (size_t)o.n * D);
    rc = 1;
    if (img) {
        elbo_vae_sample(m, (int)o.n, o.seed, img);
        rc = write_rows("sample", o.out, img, (int)o.n, D, (int)o.cols);
        if (!rc && o.latents) rc = write_latents(m, (int)o.n, o.seed, o.latents);
    } else {
        fprintf(stderr, "elbo sample: out of memory\n");
    }
    free(img);
    elbo_vae_free(m);
    return rc;
}

static void decode_help(void)
{
    printf("usage: elbo decode --model PATH --z Z.npy [-o out.png|out.npy] [--cols C]\n"
           "\n"
           "Decodes latents you choose: Z.npy holds float32 or float64 [N, latent]; writes\n"
           "the decoded means as a PNG grid or as float32 .npy (as elbo sample does).\n"
           "  -m, --model PATH   checkpoint folder or model.safetensors\n"
           "  --z FILE           the latents (.npy)\n"
           "  -o, --out FILE     output .png or .npy (default decoded.png)\n"
           "  --cols C           grid columns (default 8)\n"
           "  --threads N        worker threads (default: all cores)\n");
}

int cmd_decode(int argc, char **argv)
{
    static const int allowed[] = {O_MODEL, O_OUT, O_COLS, O_THREADS, O_Z};
    infer_opts o;
    infer_defaults(&o);
    o.out = "decoded.png";
    int rc = parse_infer("decode", argc, argv, allowed, 5, decode_help, 1, &o);
    if (rc >= 0) return rc;
    if (!o.z) return usage_error("decode", "--z Z.npy is required");
    elbo_vae *m = load_model("decode", o.model, o.threads);
    if (!m) return 1;
    const elbo_vae_config *c = elbo_vae_get_config(m);
    elbo_dataset z = {0};
    elbo_load_opts lo;
    elbo_load_opts_default(&lo);
    lo.format = "npy";
    elbo_error err;
    rc = 1;
    if (elbo_dataset_load(o.z, &lo, &z, &err) != ELBO_OK) {
        fprintf(stderr, "elbo decode: %s\n", err.msg);
    } else if (z.dtype != ELBO_DTYPE_F32 || elbo_dataset_check(&z, c->latent_dim, &err) != ELBO_OK) {
        fprintf(stderr, "elbo decode: %s: %s\n", o.z,
                z.dtype != ELBO_DTYPE_F32 ? "latents must be float32 or float64" : err.msg);
    } else {
        float *out = malloc(sizeof(float) * (size_t)z.n * c->input_dim);
        if (out) {
            elbo_vae_decode(m, z.f32, z.n, out);
            rc = write_rows("decode", o.out, out, z.n, c->input_dim, (int)o.cols);
        }
        free(out);
    }
    elbo_dataset_free(&z);
    elbo_vae_free(m);
    return rc;
}

static void reconstruct_help(void)
{
    printf("usage: elbo reconstruct --model PATH [--data DIR] [-n N] [-o out.png]\n"
           "\n"
           "Writes the first N images of a split, each row of 8 followed by a row of their\n"
           "reconstructions (decoded posterior means).\n"
           "  -m, --model PATH   checkpoint folder or model.safetensors\n"
           "  --data PATH        MNIST-layout folder (default %s), or a file\n"
           "                     (--input PATH): .npy, .csv, idx, read as for training\n"
           "  --split S          test (default) or train\n"
           "  -n, --n N          number of images (default 32)\n"
           "  -o, --out FILE     output PNG (default reconstructions.png)\n"
           "  --threads N        worker threads (default: all cores)\n",
           ELBO_DEFAULT_DATA);
}

int cmd_reconstruct(int argc, char **argv)
{
    static const int allowed[] = {O_MODEL, O_N, O_OUT, O_DATA, O_SPLIT, O_THREADS};
    infer_opts o;
    infer_defaults(&o);
    o.out = "reconstructions.png";
    o.n = 32;
    int rc = parse_infer("reconstruct", argc, argv, allowed, 6, reconstruct_help, 1, &o);
    if (rc >= 0) return rc;
    elbo_vae *m = load_model("reconstruct", o.model, o.threads);
    if (!m) return 1;
    elbo_dataset ds = {0};
    rc = 1;
    if (load_split("reconstruct", o.data, o.split, o.limit, &ds) == 0 && fits("reconstruct", m, &ds, o.data))
        rc = write_reconstructions(m, &ds, (int)o.n, o.out);
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
           "of the data fixed by --seed. It also counts the active units (coordinates\n"
           "whose posterior mean varies over the data by more than 0.01, Burda et al.)\n"
           "and the active dimensions (eigenvalues of that covariance above 0.01: the\n"
           "count that a flow's rotations do not change; docs/flows.md).\n"
           "  -m, --model PATH   checkpoint folder or model.safetensors\n"
           "  --data PATH        MNIST-layout folder (default %s), or a file\n"
           "                     (--input PATH): .npy, .csv, idx, read as for training\n"
           "  --split S          test (default) or train\n"
           "  --limit N          only the first N examples\n"
           "  --seed S           PRNG seed for z (default 1)\n"
           "  --iw K             also the IW estimate of log p(x) with K samples\n"
           "  --json             print one JSON object instead of text\n"
           "  --threads N        worker threads (default: all cores)\n",
           ELBO_DEFAULT_DATA);
}

/* Active units (Burda's coordinate count) into units[0] and active
 * dimensions (the rotation-invariant count, elbo_vae_active_dims) into
 * units[1] of latent layer `layer` over ds; 0, or -1 with err. */
static int latent_counts(elbo_vae *m, const elbo_dataset *ds, int layer, int *units, elbo_error *err)
{
    const elbo_vae_config *c = elbo_vae_get_config(m);
    int Z = layer == 1 ? c->latent_dim : c->latent2;
    double *eig = malloc(sizeof(double) * (size_t)Z);
    if (!eig) {
        snprintf(err->msg, sizeof err->msg, "out of memory for %d eigenvalues", Z);
        return -1;
    }
    units[1] = elbo_vae_active_dims(m, ds, layer, eig, &units[0], err);
    free(eig);
    return units[1] < 0 ? -1 : 0;
}

int cmd_eval(int argc, char **argv)
{
    static const int allowed[] = {O_MODEL, O_DATA, O_SPLIT, O_LIMIT, O_SEED, O_JSON, O_THREADS, O_IW};
    infer_opts o;
    infer_defaults(&o);
    int rc = parse_infer("eval", argc, argv, allowed, 8, eval_help, 1, &o);
    if (rc >= 0) return rc;
    elbo_vae *m = load_model("eval", o.model, o.threads);
    if (!m) return 1;
    elbo_dataset ds = {0};
    elbo_losses l;
    elbo_error err;
    rc = 1;
    if (load_split("eval", o.data, o.split, o.limit, &ds) == 0) {
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
                progress_bar pb = {!o.json && isatty(2), 0, 0};
                ok = elbo_vae_eval_iw(m, &ds, (int)o.iw, o.seed, pb.enabled ? progress_cb : NULL, &pb,
                                      &nll, NULL, &err) == ELBO_OK;
                progress_clear(&pb);
                t_iw = now_seconds() - t0;
                if (!ok) fprintf(stderr, "elbo eval: %s\n", err.msg);
            }
            int two = elbo_vae_get_config(m)->latent2 > 0, au[4] = {0, 0, 0, 0};
            if (ok && (latent_counts(m, &ds, 1, au, &err) || (two && latent_counts(m, &ds, 2, au + 2, &err)))) {
                fprintf(stderr, "elbo eval: %s\n", err.msg);
                ok = 0;
            }
            if (ok && o.json) {
                printf("{\"n\":%ld,\"loss\":%.6f,\"recon\":%.6f,\"kl\":%.6f,\"seconds\":%.4f", l.n,
                       l.loss, l.recon, l.kl, s);
                if (o.iw > 0) printf(",\"iw_k\":%ld,\"log_px\":%.6f,\"iw_seconds\":%.3f", o.iw, -nll, t_iw);
                printf(",\"active_units\":%d,\"active_dims\":%d", au[0], au[1]);
                if (two) printf(",\"active_units2\":%d,\"active_dims2\":%d", au[2], au[3]);
                printf("}\n");
            } else if (ok) {
                printf("n %ld  loss %.4f  recon %.4f  kl %.4f  (%.2f s, %.0f images/s)\n", l.n,
                       l.loss, l.recon, l.kl, s, l.n / (s > 0 ? s : 1e-9));
                if (o.iw > 0)
                    printf("log p(x) >= %.4f  (IW, K = %ld; -ELBO was %.4f)  %.1f s\n", -nll, o.iw,
                           l.loss, t_iw);
                printf("active units %d, active dimensions %d", au[0], au[1]);
                if (two) printf("; z2: %d, %d", au[2], au[3]);
                printf("  (variance of the posterior's centre > 0.01 per coordinate, per eigenvalue)\n");
            }
            rc = ok ? 0 : 1;
        }
    }
    elbo_dataset_free(&ds);
    elbo_vae_free(m);
    return rc;
}
