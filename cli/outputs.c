/* outputs.c — images the commands share: the reconstructions grid. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "cmds.h"
#include "opts.h"

int write_reconstructions(elbo_vae *m, const elbo_dataset *ds, int n, const char *path)
{
    const elbo_vae_config *c = elbo_vae_get_config(m);
    int D = c->input_dim;
    if (n > ds->n) n = ds->n;
    int gh, gw;
    int gc;
    if (!grid_shape(ds, &gh, &gw, &gc)) return 0; /* not images: no grid */
    float *x = dataset_floats(ds, n), *rec = malloc(sizeof(float) * (size_t)n * D),
          *grid = malloc(sizeof(float) * 2 * ((size_t)n + 8) * D);
    int rc = 1;
    if (x && rec && grid) {
        elbo_vae_reconstruct(m, x, n, rec);
        /* rows alternate: up to 8 originals, then their reconstructions */
        int k = 0, cols = n < 8 ? n : 8;
        for (int r0 = 0; r0 < n; r0 += 8) {
            int w = n - r0 < 8 ? n - r0 : 8;
            for (int pass = 0; pass < 2; pass++) {
                const float *src = pass ? rec : x;
                for (int i = 0; i < cols; i++, k++) {
                    if (i < w)
                        memcpy(grid + (size_t)k * D, src + (size_t)(r0 + i) * D, sizeof(float) * D);
                    else
                        memset(grid + (size_t)k * D, 0, sizeof(float) * D);
                }
            }
        }
        elbo_error err;
        if (elbo_write_png_grid_c(path, grid, k, gh, gw, gc, cols, &err) == ELBO_OK)
            rc = 0;
        else
            fprintf(stderr, "elbo: %s\n", err.msg);
    } else {
        fprintf(stderr, "elbo: out of memory\n");
    }
    free(x);
    free(rec);
    free(grid);
    return rc;
}
