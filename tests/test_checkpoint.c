/* test_checkpoint.c — safetensors checkpoints: save -> load gives identical
 * weights, outputs and (with the optimizer file) identical further training;
 * tensor names follow the documented scheme; broken or mismatched files are
 * refused with a message naming the problem. */
#include <dirent.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "io/safetensors.h"
#include "models/vae_internal.h"

static char dir[256];

static elbo_vae *small_model(int n_hidden, uint64_t seed)
{
    elbo_vae_config c;
    elbo_vae_config_default(&c);
    c.n_hidden = n_hidden;
    c.hidden[0] = 30;
    c.hidden[1] = 20;
    c.latent_dim = 5;
    c.max_batch = 16;
    c.threads = 2;
    elbo_error err;
    elbo_vae *m = elbo_vae_create(&c, seed, &err);
    CHECK(m != NULL, "%s", err.msg);
    return m;
}

static void train_steps(elbo_vae *m, int n, uint64_t seed)
{
    elbo_rng r;
    elbo_rng_seed(&r, seed);
    float x[16 * 784];
    elbo_train_config tc;
    elbo_train_config_default(&tc);
    tc.batch_size = 16;
    for (int s = 0; s < n; s++) {
        for (int i = 0; i < 16 * 784; i++) x[i] = (float)elbo_rng_uniform(&r);
        elbo_error err;
        CHECK(elbo_vae_train_step(m, &tc, x, 16, NULL, &err) == ELBO_OK, "%s", err.msg);
    }
}

/* Temporaries in dir; -1 when it cannot be read (never a silent 0). */
static int count_tmp_files(void)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strstr(e->d_name, ".tmp.")) n++;
    closedir(d);
    return n;
}

static void test_roundtrip(void)
{
    elbo_vae *a = small_model(1, 5);
    if (!a) return;
    train_steps(a, 5, 11);
    elbo_error err;
    CHECK(elbo_vae_save(a, dir, &err) == ELBO_OK, "save: %s", err.msg);
    CHECK(count_tmp_files() == 0, "temporary files left behind");
    elbo_vae *b = elbo_vae_load(dir, 16, &err);
    CHECK(b != NULL, "load: %s", err.msg);
    if (!b) return;
    CHECK(vae_base(b)->n_params == vae_base(a)->n_params && memcmp(vae_base(a)->params, vae_base(b)->params, 4 * vae_base(a)->n_params) == 0,
          "weights differ after reload");
    CHECK(memcmp(optim_state(&vae_trainer(a)->opt, 0), optim_state(&vae_trainer(b)->opt, 0), 4 * vae_base(a)->n_params) == 0 &&
              memcmp(optim_state(&vae_trainer(a)->opt, 1), optim_state(&vae_trainer(b)->opt, 1), 4 * vae_base(a)->n_params) == 0,
          "Adam moments differ after reload");
    CHECK(vae_trainer(b)->step == 5 && memcmp(vae_trainer(a)->rng.s, vae_trainer(b)->rng.s, sizeof vae_trainer(a)->rng.s) == 0 &&
              vae_trainer(a)->rng.have_spare == vae_trainer(b)->rng.have_spare && (!vae_trainer(a)->rng.have_spare || vae_trainer(a)->rng.spare == vae_trainer(b)->rng.spare),
          "step or PRNG state lost");
    CHECK(memcmp(&(*elbo_vae_get_config(a)), &(*elbo_vae_get_config(b)), sizeof (*elbo_vae_get_config(a))) == 0, "config differs after reload");
    /* identical outputs */
    float x[3 * 784], mu1[15], mu2[15], lv1[15], lv2[15], o1[3 * 784], o2[3 * 784];
    for (int i = 0; i < 3 * 784; i++) x[i] = (float)((i * 37) % 101) / 100.0f;
    elbo_vae_encode(a, x, 3, mu1, lv1);
    elbo_vae_encode(b, x, 3, mu2, lv2);
    CHECK(memcmp(mu1, mu2, sizeof mu1) == 0 && memcmp(lv1, lv2, sizeof lv1) == 0, "encode differs");
    elbo_vae_sample(a, 3, 9, o1);
    elbo_vae_sample(b, 3, 9, o2);
    CHECK(memcmp(o1, o2, sizeof o1) == 0, "samples differ");
    /* training continues bit-identically */
    train_steps(a, 3, 12);
    train_steps(b, 3, 12);
    CHECK(memcmp(vae_base(a)->params, vae_base(b)->params, 4 * vae_base(a)->n_params) == 0, "training after resume diverges");

    /* the weights file alone loads too (no optimizer state: fresh Adam) */
    char p[512];
    snprintf(p, sizeof p, "%s/weights-only.safetensors", dir);
    CHECK(elbo_vae_save_weights(a, p, &err) == ELBO_OK, "%s", err.msg);
    elbo_vae *c = elbo_vae_load(p, 0, &err);
    CHECK(c && memcmp(vae_base(a)->params, vae_base(c)->params, 4 * vae_base(a)->n_params) == 0 && (*elbo_vae_get_config(c)).max_batch == 128,
          "weights-only load");
    elbo_vae_free(c);
    unlink(p);

    /* a crash between the optimizer's and the model's rename leaves an older
     * model beside a newer optim.safetensors: load must use
     * optim.prev.safetensors, which is from the model's step */
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    char old[512], prev[512];
    snprintf(old, sizeof old, "%s/model-old.safetensors", dir);
    snprintf(prev, sizeof prev, "%s/optim.prev.safetensors", dir);
    CHECK(rename(p, old) == 0, "rename");
    CHECK(elbo_vae_save(a, dir, &err) == ELBO_OK, "%s", err.msg); /* step 8 */
    CHECK(access(prev, F_OK) == 0, "save keeps the previous optimizer state");
    CHECK(rename(old, p) == 0, "rename back"); /* model from step 5 */
    c = elbo_vae_load(dir, 16, &err);
    CHECK(c != NULL && vae_trainer(c)->step == 5, "older model + prev optim: %s", c ? "wrong step" : err.msg);
    elbo_vae *b5 = elbo_vae_load(dir, 16, &err);
    if (c && b5) { /* and it is the real step-5 state: it trains like b did */
        train_steps(c, 3, 12);
        CHECK(memcmp(vae_base(c)->params, vae_base(b)->params, 4 * vae_base(c)->n_params) == 0, "state from optim.prev differs");
    }
    elbo_vae_free(b5);
    elbo_vae_free(c);
    /* with no optimizer file from the model's step, load refuses */
    CHECK(unlink(prev) == 0, "unlink prev");
    c = elbo_vae_load(dir, 0, &err);
    CHECK(c == NULL && err.code == ELBO_ERR_MISMATCH && strstr(err.msg, "step"),
          "stale model beside newer optim accepted: %s", c ? "loaded" : err.msg);
    elbo_vae_free(c);
    elbo_vae_free(a);
    elbo_vae_free(b);
}

/* The learned-variance Gaussian keeps its extra tensor through a save. */
static void test_learned_variance(void)
{
    elbo_vae_config c;
    elbo_vae_config_default(&c);
    c.hidden[0] = 16;
    c.latent_dim = 3;
    c.likelihood = ELBO_LIK_GAUSSIAN_LEARNED;
    c.threads = 1;
    elbo_error err;
    elbo_vae *m = elbo_vae_create(&c, 8, &err);
    int lvt = m ? model_tensor_find(vae_base(m), "fc4.logvar") : -1;
    size_t lv_off = lvt >= 0 ? vae_base(m)->tensors[lvt].off : 0;
    CHECK(lvt >= 0 && vae_base(m)->tensors[lvt].n == 784 && vae_base(m)->n_params == lv_off + 784,
          "log-variance in the layout");
    for (int d = 0; lvt >= 0 && d < 784; d++) vae_base(m)->params[lv_off + d] = 0.01f * (float)d - 3.0f;
    char p[512];
    snprintf(p, sizeof p, "%s/lv.safetensors", dir);
    CHECK(elbo_vae_save_weights(m, p, &err) == ELBO_OK, "%s", err.msg);
    st_file f;
    CHECK(st_open(p, &f, &err) == ELBO_OK && st_has(&f, "fc4.logvar"), "fc4.logvar written");
    st_close(&f);
    elbo_vae *b = elbo_vae_load(p, 0, &err);
    CHECK(b && (*elbo_vae_get_config(b)).likelihood == ELBO_LIK_GAUSSIAN_LEARNED && vae_base(b)->n_params == vae_base(m)->n_params &&
              memcmp(vae_base(b)->params, vae_base(m)->params, 4 * vae_base(m)->n_params) == 0,
          "learned variance reloaded: %s", b ? "differs" : err.msg);
    char name[48];
    CHECK(strcmp(model_param_name(vae_base(m), lv_off + 3, name, sizeof name), "fc4.logvar") == 0, "named");
    elbo_vae_free(b);
    elbo_vae_free(m);
}

static void test_names(void)
{
    elbo_vae *m = small_model(2, 1);
    if (!m) return;
    char p[512];
    elbo_error err;
    snprintf(p, sizeof p, "%s/deep.safetensors", dir);
    CHECK(elbo_vae_save_weights(m, p, &err) == ELBO_OK, "%s", err.msg);
    st_file f;
    CHECK(st_open(p, &f, &err) == ELBO_OK, "%s", err.msg);
    static const char *names[] = {"fc1.weight", "fc1.bias", "fc2.weight", "fc3_mu.weight",
                                  "fc3_logvar.bias", "fc4.weight", "fc5.weight", "fc6.weight", "fc6.bias"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        CHECK(st_has(&f, names[i]), "tensor %s missing", names[i]);
    float *w = malloc(sizeof(float) * 784 * 30);
    int64_t s4[2] = {20, 5}, s6[2] = {784, 30};
    CHECK(st_read_f32(&f, "fc4.weight", 2, s4, w, &err) == ELBO_OK, "fc4 shape: %s", err.msg);
    CHECK(st_read_f32(&f, "fc6.weight", 2, s6, w, &err) == ELBO_OK, "fc6 shape: %s", err.msg);
    CHECK(strcmp(st_meta_get(&f, "hidden"), "30,20") == 0, "hidden metadata");
    free(w);
    st_close(&f);
    elbo_vae_free(m);

    /* the reference model's names */
    elbo_vae_config c;
    elbo_vae_config_default(&c);
    m = elbo_vae_create(&c, 1, &err);
    const char *ref[] = {"fc1", "fc2_mu", "fc2_logvar", "fc3", "fc4"};
    CHECK(m && vae_base(m)->n_tensors == 10, "reference tensor count");
    for (int i = 0; m && i < 10; i++) {
        char want[48];
        snprintf(want, sizeof want, "%s.%s", ref[i / 2], i % 2 ? "bias" : "weight");
        CHECK(strcmp(vae_base(m)->tensors[i].name, want) == 0, "tensor %d is %s, expected %s", i,
              vae_base(m)->tensors[i].name, want);
    }
    CHECK(m && vae_base(m)->n_params == 652824, "reference parameter count %zu", m ? vae_base(m)->n_params : 0);
    elbo_vae_free(m);
}

/* Writes a safetensors file whose tensors are given, with optional metadata. */
static void write_raw(const char *name, const char *bytes, size_t n)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    fwrite(bytes, 1, n, f);
    fclose(f);
}

static void expect_load_fail(const char *name, elbo_status code, const char *needle)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    elbo_error err = {ELBO_OK, ""};
    elbo_vae *m = elbo_vae_load(p, 0, &err);
    CHECK(m == NULL, "%s: loaded", name);
    elbo_vae_free(m);
    CHECK(err.code == code, "%s: code %d, expected %d (%s)", name, err.code, code, err.msg);
    CHECK(strstr(err.msg, needle) != NULL, "%s: message '%s' lacks '%s'", name, err.msg, needle);
}

static void header_file(const char *name, const char *json, size_t data_len)
{
    size_t hl = strlen(json), n = 8 + hl + data_len;
    char *b = calloc(1, n);
    for (int i = 0; i < 8; i++) b[i] = (char)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, json, hl);
    write_raw(name, b, n);
    free(b);
}

/* A state_dict of the reference saved without elbo metadata (as PyTorch's
 * safetensors.torch.save_file writes it) loads as the reference model. */
static void test_plain_state_dict(void)
{
    elbo_vae_config c;
    elbo_vae_config_default(&c);
    c.hidden[0] = 40;
    c.latent_dim = 6;
    c.threads = 1;
    elbo_error err;
    elbo_vae *m = elbo_vae_create(&c, 4, &err);
    st_tensor t[10];
    char names[10][48];
    float *tmp = malloc(sizeof(float) * vae_base(m)->n_params);
    int nt = 0;
    float *tmp_at = tmp; /* each tensor in its user layout, from the table */
    for (int i = 0; i < vae_base(m)->n_tensors && nt < 10; i++) {
        const model_tensor *mt = &vae_base(m)->tensors[i];
        model_tensor_export(vae_base(m), i, vae_base(m)->params, tmp_at);
        snprintf(names[nt], 48, "%s", mt->name);
        t[nt] = (st_tensor){names[nt], tmp_at, mt->ndim, {mt->shape[0], mt->shape[1]}};
        tmp_at += mt->n;
        nt++;
    }
    char p[512];
    snprintf(p, sizeof p, "%s/plain.safetensors", dir);
    CHECK(st_write(p, NULL, 0, t, nt, &err) == ELBO_OK, "%s", err.msg);
    elbo_vae *b = elbo_vae_load(p, 0, &err);
    CHECK(b != NULL, "plain state_dict: %s", err.msg);
    CHECK(b && (*elbo_vae_get_config(b)).hidden[0] == 40 && (*elbo_vae_get_config(b)).latent_dim == 6 && (*elbo_vae_get_config(b)).input_dim == 784 &&
              memcmp(vae_base(b)->params, vae_base(m)->params, 4 * vae_base(m)->n_params) == 0,
          "plain state_dict: sizes inferred and weights equal");
    free(tmp);
    elbo_vae_free(b);
    elbo_vae_free(m);
}

static void test_broken(void)
{
    /* mismatched architecture: metadata says hidden 30,20, file holds 1 layer */
    elbo_vae *m = small_model(1, 3);
    char p[512];
    elbo_error err;
    snprintf(p, sizeof p, "%s/one.safetensors", dir);
    elbo_vae_save_weights(m, p, &err);
    st_file f;
    st_open(p, &f, &err);
    size_t hl = 0;
    for (int i = 0; i < 8; i++) hl |= (size_t)f.buf[i] << (8 * i);
    char *h = malloc(hl + 1);
    memcpy(h, f.buf + 8, hl);
    h[hl] = 0;
    char *q = strstr(h, "\"hidden\":\"30\"");
    CHECK(q != NULL, "hidden metadata present");
    if (q) {
        memcpy(q, "\"hidden\":\"31\"", 13);
        memcpy(f.buf + 8, h, hl);
        write_raw("mismatch.safetensors", (const char *)f.buf, f.size);
        expect_load_fail("mismatch.safetensors", ELBO_ERR_MISMATCH, "fc1.weight");
    }
    free(h);
    st_close(&f);
    elbo_vae_free(m);

    write_raw("short.safetensors", "abc", 3);
    expect_load_fail("short.safetensors", ELBO_ERR_FORMAT, "too short");
    write_raw("hugehdr.safetensors", "\xff\xff\xff\xff\xff\xff\xff\x7f{}", 10);
    expect_load_fail("hugehdr.safetensors", ELBO_ERR_FORMAT, "header length");
    header_file("badjson.safetensors", "{\"a\": [1, 2", 0);
    expect_load_fail("badjson.safetensors", ELBO_ERR_FORMAT, "bad JSON");
    header_file("offsets.safetensors",
                "{\"fc1.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 8);
    expect_load_fail("offsets.safetensors", ELBO_ERR_FORMAT, "outside");
    header_file("dtype.safetensors",
                "{\"fc1.weight\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8);
    expect_load_fail("dtype.safetensors", ELBO_ERR_FORMAT, "unknown dtype");
    header_file("span.safetensors",
                "{\"fc1.weight\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8);
    expect_load_fail("span.safetensors", ELBO_ERR_FORMAT, "need 12");
    {
        /* a weight that is NaN: refused with the tensor's name */
        elbo_vae *mm = small_model(1, 2);
        snprintf(p, sizeof p, "%s/nan.safetensors", dir);
        vae_tensor(mm, "fc2_logvar.weight")[1] = NAN;
        elbo_vae_save_weights(mm, p, &err);
        elbo_vae_free(mm);
        expect_load_fail("nan.safetensors", ELBO_ERR_FORMAT, "non-finite");
    }
    /* JSON errors point inside the input (a fuzzer finding: an escape at the
     * very end moved the offset past it) */
    {
        json_doc doc;
        size_t off = 0;
        const char *msg;
        const char *txt = "{\"a\\";
        CHECK(json_parse(txt, strlen(txt), &doc, &off, &msg) != 0 && off <= strlen(txt),
              "JSON error offset %zu beyond %zu", off, strlen(txt));
    }
    header_file("fmt.safetensors", "{\"__metadata__\":{\"format\":\"other-9\"}}", 0);
    expect_load_fail("fmt.safetensors", ELBO_ERR_FORMAT, "unknown checkpoint format");
    header_file("meta.safetensors",
                "{\"__metadata__\":{\"format\":\"elbo-vae-1\",\"input_dim\":\"-5\"}}", 0);
    expect_load_fail("meta.safetensors", ELBO_ERR_FORMAT, "input_dim");
    expect_load_fail("does-not-exist.safetensors", ELBO_ERR_IO, "cannot open");
    CHECK(elbo_vae_save(m = small_model(1, 1), "/nonexistent/dir", &err) == ELBO_ERR_IO, "save to missing dir");
    elbo_vae_free(m);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/elbo-test-ckpt-XXXXXX");
    if (!mkdtemp(dir)) return 1;
    test_roundtrip();
    test_names();
    test_learned_variance();
    test_plain_state_dict();
    test_broken();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return check_summary("test_checkpoint");
}
