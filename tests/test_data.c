/* test_data.c — the idx loader: the bundled MNIST loads with the right
 * shapes and label counts, and broken files (truncated, wrong magic, wrong
 * dimensions, count mismatch, corrupt gzip, trailing bytes, absurd sizes)
 * each give a clear error naming the file, never a crash. elbo_dataset
 * itself: float rows, row access, labelled flags, subsetting, and a VAE
 * trained on float rows equal to MNIST's scaled bytes matches the uint8
 * run bit for bit. */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "check.h"
#include "data/binarize.h"
#include "data/dataset.h"
#include "util/common.h"

static char tmpdir[256];

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Writes an idx file; gz selects gzip. Returns its path (one of 8 static buffers, reused round-robin). */
static const char *write_file(const char *name, const uint8_t *buf, size_t n, int gz)
{
    static char paths[8][512];
    static int slot;
    char *p = paths[slot++ % 8];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    if (gz) {
        gzFile f = gzopen(p, "wb");
        gzwrite(f, buf, (unsigned)n);
        gzclose(f);
    } else {
        FILE *f = fopen(p, "wb");
        fwrite(buf, 1, n, f);
        fclose(f);
    }
    return p;
}

/* An idx3 image file of n images rows x cols, pixel value = index. */
static size_t make_images(uint8_t *buf, uint32_t magic, uint32_t n, uint32_t rows, uint32_t cols)
{
    put32(buf, magic);
    put32(buf + 4, n);
    put32(buf + 8, rows);
    put32(buf + 12, cols);
    size_t len = 16 + (size_t)n * rows * cols;
    for (size_t i = 16; i < len; i++) buf[i] = (uint8_t)i;
    return len;
}

static size_t make_labels(uint8_t *buf, uint32_t n)
{
    put32(buf, 0x801);
    put32(buf + 4, n);
    for (uint32_t i = 0; i < n; i++) buf[8 + i] = (uint8_t)(i % 10);
    return 8 + n;
}

/* Expects failure with code and a message containing both path and needle. */
static void expect_fail(const char *what, const char *img, const char *lab, elbo_status code,
                        const char *needle)
{
    elbo_dataset ds;
    elbo_error err = {ELBO_OK, ""};
    elbo_status st = elbo_dataset_load_idx(img, lab, &ds, &err);
    CHECK(st == code, "%s: status %d, expected %d (%s)", what, st, code, err.msg);
    CHECK(strstr(err.msg, needle) != NULL, "%s: message '%s' lacks '%s'", what, err.msg, needle);
    CHECK(ds.u8 == NULL, "%s: buffers left allocated", what);
}

static void test_real_mnist(void)
{
    elbo_dataset tr, te;
    elbo_error err;
    CHECK(elbo_dataset_load_mnist("data/mnist", ELBO_SPLIT_TRAIN, &tr, &err) == ELBO_OK, "%s", err.msg);
    CHECK(elbo_dataset_load_mnist("data/mnist", ELBO_SPLIT_TEST, &te, &err) == ELBO_OK, "%s", err.msg);
    CHECK(tr.n == 60000 && tr.height == 28 && tr.width == 28, "train shape %d %dx%d", tr.n, tr.height, tr.width);
    CHECK(te.n == 10000, "test count %d", te.n);
    /* published class counts of the MNIST training set */
    static const int counts[10] = {5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949};
    int c[10] = {0};
    for (int i = 0; i < tr.n && tr.labels; i++) c[tr.labels[i] < 10 ? tr.labels[i] : 0]++;
    CHECK(memcmp(c, counts, sizeof c) == 0, "train label counts differ from MNIST's");
    CHECK(tr.labels && tr.labels[0] == 5 && te.labels && te.labels[0] == 7, "first labels");
    elbo_dataset_truncate(&tr, 100);
    CHECK(tr.n == 100, "truncate");
    elbo_dataset_free(&tr);
    elbo_dataset_free(&te);
    CHECK(tr.u8 == NULL && tr.n == 0, "free zeroes the struct");
    elbo_dataset_free(&tr); /* twice is safe */
}

static void test_broken(void)
{
    static uint8_t buf[16 + 5 * 4 * 3 + 64], lab[64];
    size_t n = make_images(buf, 0x803, 5, 4, 3);
    size_t nl = make_labels(lab, 5);
    char good_img[512], good_lab[512];
    snprintf(good_img, sizeof good_img, "%s", write_file("img", buf, n, 0));
    snprintf(good_lab, sizeof good_lab, "%s", write_file("lab", lab, nl, 1));
    elbo_dataset ds;
    elbo_error err;
    CHECK(elbo_dataset_load_idx(good_img, good_lab, &ds, &err) == ELBO_OK, "good files: %s", err.msg);
    CHECK(ds.n == 5 && ds.height == 4 && ds.width == 3 && ds.u8[0] == 16, "good file contents");
    elbo_dataset_free(&ds);
    const char *gz_img = write_file("img.gz", buf, n, 1);
    CHECK(elbo_dataset_load_idx(gz_img, NULL, &ds, &err) == ELBO_OK && ds.labels == NULL, "gz: %s", err.msg);
    elbo_dataset_free(&ds);

    /* truncated at every length, raw and gzip */
    for (size_t cut = 0; cut < n; cut += (cut < 20 ? 1 : 7)) {
        char what[64];
        snprintf(what, sizeof what, "truncated raw at %zu", cut);
        const char *p = write_file("trunc", buf, cut, 0);
        expect_fail(what, p, NULL, ELBO_ERR_FORMAT, p);
        snprintf(what, sizeof what, "truncated gzip at %zu", cut);
        p = write_file("trunc.gz", buf, cut, 1);
        expect_fail(what, p, NULL, ELBO_ERR_FORMAT, "truncated");
    }
    uint8_t bad[sizeof buf];
    memcpy(bad, buf, n);
    put32(bad, 0x801);
    expect_fail("images with label magic", write_file("m1", bad, n, 0), NULL, ELBO_ERR_FORMAT, "magic");
    put32(bad, 0x12345678);
    expect_fail("garbage magic", write_file("m2", bad, n, 1), NULL, ELBO_ERR_FORMAT, "magic");
    memcpy(bad, buf, n);
    put32(bad + 8, 0);
    expect_fail("zero rows", write_file("d0", bad, n, 0), NULL, ELBO_ERR_FORMAT, "dimension 1");
    put32(bad + 8, 100000);
    expect_fail("huge rows", write_file("d1", bad, n, 0), NULL, ELBO_ERR_FORMAT, "dimension 1");
    memcpy(bad, buf, n);
    put32(bad + 12, 4); /* declares more data than present */
    expect_fail("wrong cols", write_file("d2", bad, n, 0), NULL, ELBO_ERR_FORMAT, "header declares");
    memcpy(bad, buf, n);
    put32(bad + 4, 4000000); /* huge count in a tiny gzip: refused before allocating */
    expect_fail("huge count gz", write_file("d3.gz", bad, n, 1), NULL, ELBO_ERR_FORMAT, "more than");
    expect_fail("huge count raw", write_file("d3", bad, n, 0), NULL, ELBO_ERR_FORMAT, "header declares");
    memcpy(bad, buf, n);
    bad[n] = 0;
    expect_fail("trailing byte gz", write_file("t.gz", bad, n + 1, 1), NULL, ELBO_ERR_FORMAT, "trailing");

    /* count mismatch between images and labels */
    nl = make_labels(lab, 6);
    expect_fail("count mismatch", good_img, write_file("lab6", lab, nl, 0), ELBO_ERR_FORMAT, "6 labels");

    /* corrupt gzip: a valid stream with bytes flipped in the middle */
    const char *gp = write_file("c.gz", buf, n, 1);
    FILE *f = fopen(gp, "r+b");
    fseek(f, 0, SEEK_END);
    long gl = ftell(f);
    uint8_t gzb[4096];
    fseek(f, 0, SEEK_SET);
    size_t got = fread(gzb, 1, sizeof gzb, f);
    for (long i = 12; i < gl - 8 && i < (long)got; i += 3) gzb[i] ^= 0x5A;
    fseek(f, 0, SEEK_SET);
    fwrite(gzb, 1, got, f);
    fclose(f);
    expect_fail("corrupt gzip", gp, NULL, ELBO_ERR_FORMAT, gp);
    /* bad CRC only: payload intact, trailer wrong */
    gp = write_file("crc.gz", buf, n, 1);
    f = fopen(gp, "r+b");
    fseek(f, -8, SEEK_END);
    fputc(0xFF ^ 0x12, f);
    fclose(f);
    expect_fail("bad gzip crc", gp, NULL, ELBO_ERR_FORMAT, gp);

    expect_fail("missing file", "/nonexistent/elbo-test", NULL, ELBO_ERR_IO, "/nonexistent/elbo-test");
    expect_fail("directory", tmpdir, NULL, ELBO_ERR_IO, "directory");
    elbo_error e2;
    CHECK(elbo_dataset_load_mnist("/nonexistent", ELBO_SPLIT_TEST, &ds, &e2) == ELBO_ERR_IO &&
              strstr(e2.msg, "t10k-images-idx3-ubyte") != NULL,
          "missing dir names the file: %s", e2.msg);
}

/* Fashion-MNIST (Debian's dataset-fashion-mnist) goes through the same path. */
static int test_fashion(void)
{
    const char *dir = "/usr/share/datasets/fashion-mnist";
    elbo_dataset tr, te;
    elbo_error err;
    if (access(dir, R_OK) != 0) {
        printf("test_data: Fashion-MNIST not installed at %s: skipped\n", dir);
        return 1;
    }
    CHECK(elbo_dataset_load_mnist(dir, ELBO_SPLIT_TRAIN, &tr, &err) == ELBO_OK, "%s", err.msg);
    CHECK(elbo_dataset_load_mnist(dir, ELBO_SPLIT_TEST, &te, &err) == ELBO_OK, "%s", err.msg);
    CHECK(tr.n == 60000 && te.n == 10000 && tr.height == 28 && tr.width == 28, "Fashion-MNIST shapes");
    int c[10] = {0}, ok = 1;
    for (int i = 0; i < tr.n && tr.labels; i++) c[tr.labels[i] < 10 ? tr.labels[i] : 0]++;
    for (int k = 0; k < 10; k++) ok &= c[k] == 6000; /* balanced: 6000 per class */
    CHECK(ok, "Fashion-MNIST class counts");
    elbo_dataset_free(&tr);
    elbo_dataset_free(&te);
    return 0;
}


/* from_float, row access, labelled flags, drop_label and check on float rows. */
static void test_float_rows(void)
{
    enum { N = 6, D = 3 };
    float x[N * D];
    int32_t y[N] = {0, 2, 1, 2, 0, 2};
    for (int i = 0; i < N * D; i++) x[i] = 0.1f * (float)i - 0.5f;
    elbo_dataset ds;
    elbo_error err;
    CHECK(elbo_dataset_from_float(N, D, x, y, &ds, &err) == ELBO_OK, "from_float: %s", err.msg);
    CHECK(ds.n == N && ds.dim == D && ds.dtype == ELBO_DTYPE_F32 && ds.u8 == NULL && ds.height == 0,
          "float data set shape");
    CHECK(ds.n_classes == 3, "n_classes %d", ds.n_classes);
    float row[D];
    elbo_dataset_row(&ds, 4, row);
    CHECK(row[0] == x[12] && row[2] == x[14], "row 4 as it was given");
    CHECK(elbo_dataset_is_labelled(&ds, 5) && !elbo_dataset_is_labelled(&ds, N), "labelled before keep");
    CHECK(elbo_dataset_keep_labels(&ds, 1) == 3, "one label kept per class");
    CHECK(elbo_dataset_is_labelled(&ds, 0) && elbo_dataset_is_labelled(&ds, 1) &&
              elbo_dataset_is_labelled(&ds, 2) && !elbo_dataset_is_labelled(&ds, 3) &&
              !elbo_dataset_is_labelled(&ds, 4) && !elbo_dataset_is_labelled(&ds, 5),
          "the first row of each class stays labelled");
    CHECK(elbo_dataset_drop_label(&ds, 2) == 3 && ds.n == 3, "drop_label on float rows");
    elbo_dataset_row(&ds, 2, row);
    CHECK(row[0] == x[3 * 4] && ds.labels[2] == 0 && !ds.labelled[2] && ds.labelled[1],
          "rows, labels and flags move together");
    CHECK(elbo_dataset_check(&ds, D, &err) == ELBO_OK, "check: %s", err.msg);
    CHECK(elbo_dataset_check(&ds, D + 1, &err) == ELBO_ERR_ARG && strstr(err.msg, "hold 3 values"),
          "wrong width named: %s", err.msg);
    /* Bernoulli draws from float probabilities: 0/1 with the right mean */
    float p[4000], b[4000];
    for (int i = 0; i < 4000; i++) p[i] = i < 2000 ? 0.25f : 2.0f;
    elbo_frow_to_float(b, p, 4000, 7);
    double m0 = 0, m1 = 0;
    for (int i = 0; i < 4000; i++) *(i < 2000 ? &m0 : &m1) += b[i] / 2000.0;
    CHECK(m0 > 0.22 && m0 < 0.28 && fabs(m1 - 1.0) < 1e-9, "binarized float means %g %g", m0, m1);
    elbo_dataset_free(&ds);
    CHECK(ds.f32 == NULL && ds.labelled == NULL, "free zeroes the struct");
    CHECK(elbo_dataset_from_float(0, D, x, NULL, &ds, &err) == ELBO_ERR_ARG, "empty refused");
    y[3] = -1;
    CHECK(elbo_dataset_from_float(N, D, x, y, &ds, &err) == ELBO_ERR_ARG && strstr(err.msg, "row 3"),
          "negative label named: %s", err.msg);
}

/* Validation splits: a seeded draw (the same seed, the same rows; both
 * sides keep the file's order) and the tail (the last rows). Row i holds
 * the value i, so every row's origin can be read off. */
static void test_splits(void)
{
    enum { N = 12 };
    float x[N];
    int32_t y[N];
    for (int i = 0; i < N; i++) {
        x[i] = (float)i;
        y[i] = i % 3;
    }
    elbo_dataset a, b, va, vb;
    elbo_error err;
    CHECK(elbo_dataset_from_float(N, 1, x, y, &a, &err) == ELBO_OK, "%s", err.msg);
    CHECK(elbo_dataset_from_float(N, 1, x, y, &b, &err) == ELBO_OK, "%s", err.msg);
    CHECK(elbo_dataset_split(&a, 0.25, 9, &va, &err) == ELBO_OK && a.n == 9 && va.n == 3, "3 of 12 drawn");
    CHECK(elbo_dataset_split(&b, 0.25, 9, &vb, &err) == ELBO_OK && !memcmp(va.f32, vb.f32, sizeof(float) * 3),
          "the same seed draws the same rows");
    int seen[N] = {0}, ordered = 1, tail = 1;
    for (int i = 0; i < a.n; i++) seen[(int)a.f32[i]]++;
    for (int i = 0; i < va.n; i++) seen[(int)va.f32[i]]++;
    for (int i = 1; i < va.n; i++) ordered &= va.f32[i] > va.f32[i - 1];
    for (int i = 0; i < va.n; i++) tail &= va.f32[i] == (float)(N - 3 + i);
    int all_once = 1;
    for (int i = 0; i < N; i++) all_once &= seen[i] == 1;
    CHECK(all_once && ordered, "a partition of the rows, in file order");
    CHECK(!tail, "the seeded draw is not the tail (seed 9)");
    for (int i = 0; i < va.n; i++) CHECK(va.labels[i] == (int)va.f32[i] % 3, "labels go along");
    elbo_dataset_free(&a);
    elbo_dataset_free(&va);
    CHECK(elbo_dataset_from_float(N, 1, x, y, &a, &err) == ELBO_OK, "%s", err.msg);
    CHECK(elbo_dataset_split_tail(&a, 0.25, &va, &err) == ELBO_OK && a.n == 9 && va.n == 3, "3 of 12 at the end");
    tail = 1;
    for (int i = 0; i < va.n; i++) tail &= va.f32[i] == (float)(N - 3 + i) && va.labels[i] == (N - 3 + i) % 3;
    for (int i = 0; i < a.n; i++) tail &= a.f32[i] == (float)i;
    CHECK(tail, "the tail split keeps rows 0-8 and holds out 9-11");
    elbo_dataset_free(&vb);
    CHECK(elbo_dataset_split_tail(&a, 1.0, &vb, &err) == ELBO_ERR_ARG, "a fraction of 1 is refused");
    elbo_dataset_free(&a);
    elbo_dataset_free(&b);
    elbo_dataset_free(&va);
    elbo_dataset_free(&vb);
}

/* Float rows equal to MNIST's bytes / 255 train the same model bit for bit;
 * a Bernoulli VAE refuses float data outside [0, 1]. */
static void test_float_training(void)
{
    elbo_dataset u8 = {0}, f = {0};
    elbo_error err;
    if (elbo_dataset_load_mnist("data/mnist", ELBO_SPLIT_TEST, &u8, &err) != ELBO_OK) {
        CHECK(0, "load: %s", err.msg);
        return;
    }
    elbo_dataset_truncate(&u8, 512);
    float *x = malloc(sizeof(float) * 512 * 784);
    for (int i = 0; i < 512 * 784; i++) x[i] = u8.u8[i] / 255.0f;
    CHECK(elbo_dataset_from_float(512, 784, x, u8.labels, &f, &err) == ELBO_OK, "%s", err.msg);
    elbo_vae_config c;
    elbo_vae_config_default(&c);
    c.threads = 1;
    elbo_train_config tc;
    elbo_train_config_default(&tc);
    elbo_vae *a = elbo_vae_create(&c, 3, &err), *b = elbo_vae_create(&c, 3, &err);
    elbo_losses la, lb;
    CHECK(elbo_vae_train_epoch(a, &tc, &u8, NULL, NULL, &la, &err) == ELBO_OK, "%s", err.msg);
    CHECK(elbo_vae_train_epoch(b, &tc, &f, NULL, NULL, &lb, &err) == ELBO_OK, "%s", err.msg);
    CHECK(la.loss == lb.loss && la.kl == lb.kl, "epoch loss on uint8 %.9g, on float %.9g", la.loss, lb.loss);
    f.f32[5 * 784 + 100] = 1.5f;
    CHECK(elbo_vae_train_epoch(b, &tc, &f, NULL, NULL, &lb, &err) == ELBO_ERR_ARG &&
              strstr(err.msg, "row 5, column 100") && strstr(err.msg, "--likelihood gaussian"),
          "Bernoulli on data outside [0,1]: %s", err.msg);
    elbo_vae_free(a);
    elbo_vae_free(b);
    free(x);
    elbo_dataset_free(&u8);
    elbo_dataset_free(&f);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/elbo-test-data-XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    test_real_mnist();
    test_broken();
    test_float_rows();
    test_splits();
    test_float_training();
    int skipped = test_fashion();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    if (skipped) {
        printf("test_data: %d passed, %d failed, 1 skipped\n", check_pass_, check_fail_);
        return check_fail_ ? 1 : 0;
    }
    return check_summary("test_data");
}
