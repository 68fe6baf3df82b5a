/* pngdir.c — a folder of PNG images as a data set: the *.png files of the
 * folder (no labels), or of its sub-folders, whose sorted names give the
 * labels 0, 1, ... (ImageFolder's convention). Files are taken in name
 * order. Every image must have the same width, height and colour type
 * (greyscale or RGB, 8 bits once libpng has expanded palettes and low bit
 * depths, stripped 16-bit samples to 8 and dropped alpha). Stored as uint8
 * rows [N, H * W * C], channels last. */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../io/canvas.h"
#include "../util/common.h"
#include "dataset.h"

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int ends_png(const char *n)
{
    size_t l = strlen(n);
    return l > 4 && (!strcmp(n + l - 4, ".png") || !strcmp(n + l - 4, ".PNG"));
}

/* The sorted names in dir that are PNG files (dirs = 0) or sub-folders
 * (dirs = 1); *n gets the count. NULL with err set on failure. */
static char **list(const char *dir, int dirs, int *n, elbo_error *err)
{
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        elbo_fail(err, ELBO_ERR_IO, "%s: cannot read the folder: %s", dir, strerror(errno));
        return NULL;
    }
    int cap = 64;
    char **names = malloc(sizeof(char *) * (size_t)cap);
    struct dirent *e;
    while (names && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[4200];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (stat(p, &sb) != 0) continue;
        if (dirs ? !S_ISDIR(sb.st_mode) : !(S_ISREG(sb.st_mode) && ends_png(e->d_name))) continue;
        if (*n == cap) {
            char **nn = realloc(names, sizeof(char *) * (size_t)cap * 2);
            if (!nn) break;
            names = nn;
            cap *= 2;
        }
        if (!(names[*n] = strdup(e->d_name))) break;
        (*n)++;
    }
    closedir(d);
    if (!names) elbo_fail(err, ELBO_ERR_NOMEM, "%s: out of memory", dir);
    else qsort(names, (size_t)*n, sizeof(char *), by_name);
    return names;
}

static void free_list(char **names, int n)
{
    for (int i = 0; names && i < n; i++) free(names[i]);
    free(names);
}

typedef struct {
    size_t cap, total; /* rows allocated; images the folder holds */
    int w, h, c;
    char first[4200];
} png_acc;

/* Appends the image at path to out (label y, or -1 for none). */
static elbo_status add_image(const char *path, int y, png_acc *a, elbo_dataset *out, elbo_error *err)
{
    uint8_t *pix;
    int w, h, c;
    elbo_status st = elbo_png_read(path, &pix, &w, &h, &c, err);
    if (st) return st;
    if (out->n == 0) {
        a->w = w, a->h = h, a->c = c;
        snprintf(a->first, sizeof a->first, "%s", path);
    } else if (w != a->w || h != a->h || c != a->c) {
        free(pix);
        return elbo_fail(err, ELBO_ERR_FORMAT, "%s: %dx%d %s, but %s is %dx%d %s: the images must agree", path, w, h,
                         c == 1 ? "grey" : "RGB", a->first, a->w, a->h, a->c == 1 ? "grey" : "RGB");
    }
    size_t D = (size_t)w * h * c;
    if ((size_t)out->n == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : (a->total > 0 ? a->total : 16); /* once, when the count is known */
        uint8_t *nu = realloc(out->u8, nc * D);
        int32_t *nl = y >= 0 ? realloc(out->labels, nc * sizeof(int32_t)) : out->labels;
        if (nu) out->u8 = nu;
        if (nl) out->labels = nl;
        if (!nu || (y >= 0 && !nl) || nc > (1u << 30)) {
            free(pix);
            return elbo_fail(err, ELBO_ERR_NOMEM, "%s: out of memory after %d images", path, out->n);
        }
        a->cap = nc;
    }
    memcpy(out->u8 + (size_t)out->n * D, pix, D);
    if (y >= 0) out->labels[out->n] = y;
    free(pix);
    out->n++;
    return ELBO_OK;
}

/* Every PNG of dir, label y (-1: none). */
static elbo_status add_folder(const char *dir, int y, png_acc *a, elbo_dataset *out, elbo_error *err)
{
    int n;
    char **files = list(dir, 0, &n, err);
    if (!files) return ELBO_ERR_IO;
    elbo_status st = ELBO_OK;
    for (int i = 0; i < n && !st; i++) {
        char p[4200];
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        st = add_image(p, y, a, out, err);
    }
    free_list(files, n);
    return st;
}

elbo_status elbo_pngdir_load(const char *dir, elbo_dataset *out, elbo_error *err)
{
    memset(out, 0, sizeof *out);
    int nf = 0, nd = 0;
    char **files = list(dir, 0, &nf, err), **subs = files ? list(dir, 1, &nd, err) : NULL;
    elbo_status st = files && subs ? ELBO_OK : ELBO_ERR_IO;
    png_acc a = {0};
    a.total = (size_t)nf;
    for (int k = 0; !st && nf == 0 && k < nd; k++) { /* the images of the class folders */
        char p[4200];
        int c = 0;
        snprintf(p, sizeof p, "%s/%s", dir, subs[k]);
        char **names = list(p, 0, &c, NULL); /* (c is set by list: not in one expression) */
        free_list(names, c);
        a.total += (size_t)c;
    }
    if (!st && nf > 0 && nd > 0)
        st = elbo_fail(err, ELBO_ERR_FORMAT, "%s: holds both PNG files and sub-folders: put every image in a "
                                             "class sub-folder, or none", dir);
    else if (!st && nf > 0)
        st = add_folder(dir, -1, &a, out, err);
    for (int k = 0; !st && nf == 0 && k < nd; k++) {
        char p[4200];
        snprintf(p, sizeof p, "%s/%s", dir, subs[k]);
        st = add_folder(p, k, &a, out, err);
    }
    free_list(files, nf);
    free_list(subs, nd);
    if (!st && out->n == 0) st = elbo_fail(err, ELBO_ERR_FORMAT, "%s: no PNG images in it or its sub-folders", dir);
    if (st) {
        elbo_dataset_free(out);
        return st;
    }
    out->dtype = ELBO_DTYPE_U8;
    out->height = a.h;
    out->width = a.w;
    out->channels = a.c;
    out->dim = a.w * a.h * a.c;
    elbo_dataset_count_classes(out);
    return ELBO_OK;
}
