/* sample_png.c — load a checkpoint, draw samples from the prior, write a PNG.
 *   sample_png MODEL [OUT.png] [N] [SEED]
 * Build: cc sample_png.c $(pkg-config --cflags --libs elbo) */
#include <stdio.h>
#include <stdlib.h>

#include <elbo.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: sample_png MODEL [OUT.png] [N] [SEED]\n");
        return 2;
    }
    const char *out = argc > 2 ? argv[2] : "samples.png";
    int n = argc > 3 ? atoi(argv[3]) : 64;
    uint64_t seed = argc > 4 ? strtoull(argv[4], NULL, 10) : 1;
    if (n < 1 || n > 10000) {
        fprintf(stderr, "N must be 1..10000\n");
        return 2;
    }
    elbo_error err;
    elbo_vae *m = elbo_vae_load(argv[1], 0, &err); /* folder or model.safetensors */
    if (!m) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    const elbo_vae_config *c = elbo_vae_get_config(m);
    /* the image shape: the run record's (elbo train --image-shape HxW), else a square */
    int h = 0, w = 0;
    const char *shape = elbo_run_record_get(elbo_vae_get_run_record(m), "image_shape");
    if (!shape || sscanf(shape, "%dx%d", &h, &w) != 2 || h * w != c->input_dim) {
        for (h = 1; (h + 1) * (h + 1) <= c->input_dim; h++) continue;
        w = h;
    }
    if (h * w != c->input_dim) {
        fprintf(stderr, "%d values per row are not an image of a known shape\n", c->input_dim);
        elbo_vae_free(m);
        return 1;
    }
    float *img = malloc(sizeof(float) * (size_t)n * c->input_dim); /* caller owns outputs */
    elbo_vae_sample(m, n, seed, img);
    int rc = elbo_write_png_grid(out, img, n, h, w, 8, &err) == ELBO_OK ? 0 : 1;
    if (rc)
        fprintf(stderr, "%s\n", err.msg);
    else
        printf("wrote %d samples to %s (elbo %s)\n", n, out, elbo_version());
    free(img);
    elbo_vae_free(m);
    return rc;
}
