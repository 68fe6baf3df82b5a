/* test_toolbox.c — the evaluation helpers against hand-computed cases:
 * AUROC and AUPRC (with ties), the linear probe on separable data, the PCA
 * projection, and the bytes of a .npy file. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "elbo.h"
#include "util/rng.h"

static void test_ranking(void)
{
    double s[] = {0.9, 0.8, 0.7, 0.6, 0.5};
    uint8_t y[] = {1, 0, 1, 0, 0};
    /* positives 0.9 and 0.7 beat 3 and 2 of the 3 negatives: 5/6 */
    CHECK(fabs(elbo_auroc(s, y, 5) - 5.0 / 6) < 1e-12, "auroc %g", elbo_auroc(s, y, 5));
    /* precision 1/1 at 0.9 and 2/3 at 0.7: AP = (1 + 2/3) / 2 */
    CHECK(fabs(elbo_auprc(s, y, 5) - (1 + 2.0 / 3) / 2) < 1e-12, "auprc %g", elbo_auprc(s, y, 5));
    double t[] = {0.5, 0.5, 0.2, 0.9};
    uint8_t yt[] = {1, 0, 0, 1};
    /* pos 0.9 beats both negatives (2); pos 0.5 ties one (0.5) and beats one (1): 3.5/4 */
    CHECK(fabs(elbo_auroc(t, yt, 4) - 3.5 / 4) < 1e-12, "auroc with a tie %g", elbo_auroc(t, yt, 4));
    /* thresholds: 0.9 -> 1/1; 0.5 (two items, one positive) -> 2/3: AP = (1 + 2/3) / 2 */
    CHECK(fabs(elbo_auprc(t, yt, 4) - (1 + 2.0 / 3) / 2) < 1e-12, "auprc with a tie %g", elbo_auprc(t, yt, 4));
    double u[] = {1, 2, 3};
    uint8_t none[] = {0, 0, 0}, all[] = {1, 1, 1}, perfect[] = {0, 0, 1};
    CHECK(isnan(elbo_auroc(u, none, 3)) && isnan(elbo_auroc(u, all, 3)), "one class: NaN");
    CHECK(elbo_auroc(u, perfect, 3) == 1.0 && elbo_auprc(u, perfect, 3) == 1.0, "perfect ranking");
    uint8_t worst[] = {1, 0, 0};
    CHECK(elbo_auroc(u, worst, 3) == 0.0, "inverted ranking");
}

static void test_probe_and_pca(void)
{
    elbo_rng r;
    elbo_rng_seed(&r, 1);
    enum { N = 600, T = 300, D = 3 };
    static float xtr[N * D], xte[T * D];
    static int32_t ytr[N], yte[T];
    /* three well separated blobs */
    const float centre[3][3] = {{4, 0, 0}, {0, 4, 0}, {0, 0, 4}};
    for (int i = 0; i < N + T; i++) {
        int c = i % 3;
        float *x = i < N ? xtr + i * D : xte + (i - N) * D;
        for (int k = 0; k < D; k++) x[k] = centre[c][k] + 0.5f * (float)elbo_rng_normal(&r);
        if (i < N) ytr[i] = c; else yte[i - N] = c;
    }
    double acc;
    elbo_error err;
    CHECK(elbo_linear_probe(xtr, ytr, N, xte, yte, T, D, 3, &acc, &err) == ELBO_OK, "%s", err.msg);
    CHECK(acc > 0.99, "probe accuracy on separable blobs %g", acc);
    /* labels independent of the features: near chance */
    for (int i = 0; i < T; i++) yte[i] = (int32_t)elbo_rng_below(&r, 3);
    CHECK(elbo_linear_probe(xtr, ytr, N, xte, yte, T, D, 3, &acc, &err) == ELBO_OK && acc < 0.5,
          "probe on random labels %g", acc);
    yte[7] = 3; /* outside [0, n_classes): refused, naming the row */
    CHECK(elbo_linear_probe(xtr, ytr, N, xte, yte, T, D, 3, &acc, &err) == ELBO_ERR_ARG &&
              strstr(err.msg, "label 3 of row 7"), "out-of-range label: %s", err.msg);
    yte[7] = 0;
    /* PCA: points along (1,2,2)/3 with small noise elsewhere */
    static float p[N * 5], xy[N * 2];
    for (int i = 0; i < N; i++) {
        float t = (float)elbo_rng_normal(&r) * 3;
        float dir[5] = {1.0f / 3, 2.0f / 3, 2.0f / 3, 0, 0};
        for (int k = 0; k < 5; k++) p[i * 5 + k] = t * dir[k] + 0.05f * (float)elbo_rng_normal(&r) + 7;
    }
    CHECK(elbo_pca2(p, N, 5, xy, &err) == ELBO_OK, "%s", err.msg);
    double v0 = 0, v1 = 0;
    for (int i = 0; i < N; i++) {
        v0 += xy[2 * i] * xy[2 * i];
        v1 += xy[2 * i + 1] * xy[2 * i + 1];
    }
    CHECK(v0 / N > 8 && v1 / N < 0.01, "pca variances %g %g", v0 / N, v1 / N);
}

static void test_npy(void)
{
    float a[6] = {1, 2, 3, 4, 5.5f, -6};
    int64_t shape[2] = {2, 3};
    elbo_error err;
    const char *path = "/tmp/elbo-test-toolbox.npy";
    CHECK(elbo_write_npy(path, a, ELBO_NPY_F32, 2, shape, &err) == ELBO_OK, "%s", err.msg);
    FILE *f = fopen(path, "rb");
    unsigned char buf[256];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    unsigned hl = buf[8] | (unsigned)buf[9] << 8;
    CHECK(n == 10 + hl + sizeof a, "file size %zu", n);
    CHECK(memcmp(buf, "\x93NUMPY\x01\x00", 8) == 0, "magic and version 1.0");
    CHECK((10 + hl) % 64 == 0 && buf[10 + hl - 1] == '\n', "header padded to 64 and ended by a newline");
    char hdr[200];
    snprintf(hdr, sizeof hdr, "%.*s", (int)hl, (const char *)buf + 10);
    CHECK(strstr(hdr, "'descr': '<f4'") && strstr(hdr, "'fortran_order': False") &&
              strstr(hdr, "'shape': (2, 3)"),
          "header '%s'", hdr);
    CHECK(memcmp(buf + 10 + hl, a, sizeof a) == 0, "data follows the header");
    uint8_t l[4] = {7, 1, 2, 9};
    int64_t s1[1] = {4};
    CHECK(elbo_write_npy(path, l, ELBO_NPY_U8, 1, s1, &err) == ELBO_OK, "%s", err.msg);
    f = fopen(path, "rb");
    n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    hl = buf[8] | (unsigned)buf[9] << 8;
    snprintf(hdr, sizeof hdr, "%.*s", (int)hl, (const char *)buf + 10);
    CHECK(strstr(hdr, "'descr': '|u1'") && strstr(hdr, "'shape': (4,)"), "1-D header '%s'", hdr);
    remove(path);
    CHECK(elbo_write_npy("/nonexistent/x.npy", a, ELBO_NPY_F32, 2, shape, &err) == ELBO_ERR_IO,
          "unwritable path");
}

int main(void)
{
    test_ranking();
    test_probe_and_pca();
    test_npy();
    return check_summary("test_toolbox");
}
