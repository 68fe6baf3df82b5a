/* outputs.c — files the CLI writes around training: the output folder check,
 * metrics.jsonl (append, and trim back to a checkpoint on resume), leftover
 * temporaries of interrupted saves, and the reconstructions grid. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "cmds.h"

int check_writable(const char *sub, const char *dir)
{
    if (make_dirs(dir) != 0) {
        fprintf(stderr, "elbo %s: cannot create output folder %s: %s\n", sub, dir, strerror(errno));
        return -1;
    }
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/.write-test-XXXXXX", dir);
    int fd = mkstemp(probe);
    if (fd < 0) {
        fprintf(stderr, "elbo %s: output folder %s is not writable: %s\n", sub, dir, strerror(errno));
        return -1;
    }
    close(fd);
    unlink(probe);
    return 0;
}

void remove_stale_temporaries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        if (strncmp(e->d_name, "model.safetensors.tmp.", 22) != 0 &&
            strncmp(e->d_name, "optim.safetensors.tmp.", 22) != 0)
            continue;
        char p[4400];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
}

int trim_metrics(const char *path, int epochs)
{
    FILE *f = fopen(path, "r");
    if (!f) return errno == ENOENT ? 0 : -1;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    FILE *g = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!g) {
        fclose(f);
        return -1;
    }
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        int e;
        size_t n = strlen(line);
        /* keep complete lines of epochs the checkpoint covers */
        if (n > 0 && line[n - 1] == '\n' && sscanf(line, "{\"epoch\":%d,", &e) == 1 && e <= epochs)
            fputs(line, g);
    }
    fclose(f);
    int bad = fflush(g) != 0 || fsync(fileno(g)) != 0;
    bad |= fclose(g) != 0;
    if (bad || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

int append_metrics(const char *path, int epoch, long step, const elbo_losses *tr,
                   const elbo_losses *te, const char *extra, double secs)
{
    FILE *mf = fopen(path, "a");
    if (!mf) return -1;
    fprintf(mf, "{\"epoch\":%d,\"step\":%ld,\"train_loss\":%.6f,\"train_recon\":%.6f,\"train_kl\":%.6f",
            epoch, step, tr->loss, tr->recon, tr->kl);
    if (te) fprintf(mf, ",\"test_loss\":%.6f,\"test_recon\":%.6f,\"test_kl\":%.6f", te->loss, te->recon, te->kl);
    if (extra) fputs(extra, mf);
    fprintf(mf, ",\"seconds\":%.4f}\n", secs);
    int bad = fflush(mf) != 0 || fsync(fileno(mf)) != 0;
    return (fclose(mf) != 0 || bad) ? -1 : 0;
}

int write_reconstructions(elbo_vae *m, const elbo_dataset *ds, int n, const char *path)
{
    const elbo_vae_config *c = elbo_vae_get_config(m);
    int D = c->input_dim;
    if (n > ds->n) n = ds->n;
    float *x = malloc(sizeof(float) * (size_t)n * D), *rec = malloc(sizeof(float) * (size_t)n * D),
          *grid = malloc(sizeof(float) * 2 * ((size_t)n + 8) * D);
    int rc = 1;
    if (x && rec && grid) {
        for (long i = 0; i < (long)n * D; i++) x[i] = ds->pixels[i] / 255.0f;
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
        if (elbo_write_png_grid(path, grid, k, ds->rows, ds->cols, cols, &err) == ELBO_OK)
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
