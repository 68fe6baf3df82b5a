/* checkpoint.c — saving and loading an elbo_vae as safetensors.
 *
 * model.safetensors: one F32 tensor per layer weight and bias under the
 *   reference's names (fc1.weight [400,784], fc1.bias [400], ...; naming
 *   scheme in vae_internal.h), the config in __metadata__. PyTorch's
 *   load_state_dict(strict=True) takes it as it is.
 * optim.safetensors: Adam's moments as two flat tensors over the parameter
 *   buffer (layers in file order, weight then bias), plus step, epoch and the
 *   PRNG state in __metadata__, so training resumes exactly. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "../models/vae_internal.h"
#include "safetensors.h"

#define CKPT_FORMAT "elbo-vae-1"

static const char *lik_name(elbo_likelihood l) { return l == ELBO_LIK_GAUSSIAN ? "gaussian" : "bernoulli"; }

/* Joins dir and name into buf. */
static void join(char *buf, size_t cap, const char *dir, const char *name)
{
    snprintf(buf, cap, "%s/%s", dir, name);
}

elbo_status elbo_vae_save_weights(const elbo_vae *m, const char *path, elbo_error *err)
{
    st_tensor t[2 * VAE_MAX_LAYERS];
    char names[2 * VAE_MAX_LAYERS][48];
    int nt = 0;
    /* weights stored transposed in memory are written in PyTorch's layout */
    size_t tmp_n = 0;
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i].transposed) tmp_n += (size_t)m->layers[i].in * m->layers[i].out;
    float *tmp = tmp_n ? malloc(sizeof(float) * tmp_n) : NULL, *tp = tmp;
    if (tmp_n && !tmp) return elbo_fail(err, ELBO_ERR_NOMEM, "%s: out of memory", path);
    for (int i = 0; i < m->n_layers; i++) {
        const vae_layer *l = &m->layers[i];
        const float *w = m->params + l->w_off;
        if (l->transposed) {
            vae_weight_export(m, i, m->params, tp);
            w = tp;
            tp += (size_t)l->in * l->out;
        }
        snprintf(names[nt], sizeof names[nt], "%s.weight", l->name);
        t[nt] = (st_tensor){names[nt], w, 2, {l->out, l->in}};
        nt++;
        snprintf(names[nt], sizeof names[nt], "%s.bias", l->name);
        t[nt] = (st_tensor){names[nt], m->params + l->b_off, 1, {l->out}};
        nt++;
    }
    char in_s[16], z_s[16], hid[ELBO_MAX_HIDDEN * 12 + 1] = "";
    snprintf(in_s, sizeof in_s, "%d", m->cfg.input_dim);
    snprintf(z_s, sizeof z_s, "%d", m->cfg.latent_dim);
    for (int i = 0; i < m->cfg.n_hidden; i++)
        snprintf(hid + strlen(hid), sizeof hid - strlen(hid), "%s%d", i ? "," : "", m->cfg.hidden[i]);
    char step_s[32];
    snprintf(step_s, sizeof step_s, "%ld", m->step);
    st_meta meta[] = {{"format", CKPT_FORMAT},
                      {"elbo_version", ELBO_VERSION_STRING},
                      {"step", step_s},
                      {"input_dim", in_s},
                      {"latent_dim", z_s},
                      {"hidden", hid},
                      {"activation", "relu"},
                      {"likelihood", lik_name(m->cfg.likelihood)}};
    elbo_status st = st_write(path, meta, (int)(sizeof meta / sizeof meta[0]), t, nt, err);
    free(tmp);
    return st;
}

elbo_status elbo_vae_save(const elbo_vae *m, const char *dir, elbo_error *err)
{
    char path[4200];
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return elbo_fail(err, ELBO_ERR_IO, "%s: not a directory", dir);
    /* optimizer state first: a crash between the two renames leaves a newer
     * optim file beside an older model, which load detects by step count. */
    char step_s[32], epoch_s[32], np_s[32], rng_s[160];
    snprintf(step_s, sizeof step_s, "%ld", m->step);
    snprintf(epoch_s, sizeof epoch_s, "%d", m->epoch);
    snprintf(np_s, sizeof np_s, "%zu", m->n_params);
    snprintf(rng_s, sizeof rng_s, "%016" PRIx64 ",%016" PRIx64 ",%016" PRIx64 ",%016" PRIx64 ",%d,%a",
             m->rng.s[0], m->rng.s[1], m->rng.s[2], m->rng.s[3], m->rng.have_spare, m->rng.spare);
    st_meta meta[] = {{"format", CKPT_FORMAT "-optim"}, {"step", step_s}, {"epoch", epoch_s},
                      {"n_params", np_s}, {"rng", rng_s}, {"optimizer", "adam"}};
    st_tensor t[2] = {{"adam.exp_avg", m->adam_m, 1, {(int64_t)m->n_params}},
                      {"adam.exp_avg_sq", m->adam_v, 1, {(int64_t)m->n_params}}};
    join(path, sizeof path, dir, "optim.safetensors");
    elbo_status st = st_write(path, meta, 6, t, 2, err);
    if (st) return st;
    join(path, sizeof path, dir, "model.safetensors");
    return elbo_vae_save_weights(m, path, err);
}

/* Parses a positive int from a metadata value. */
static int meta_int(const st_file *f, const char *key, long lo, long hi, long *out, elbo_error *err)
{
    const char *v = st_meta_get(f, key);
    if (!v) {
        elbo_fail(err, ELBO_ERR_FORMAT, "%s: __metadata__ lacks '%s'", f->path, key);
        return -1;
    }
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi) {
        elbo_fail(err, ELBO_ERR_FORMAT, "%s: __metadata__ '%s' = '%s' is not an integer in %ld..%ld",
                  f->path, key, v, lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

/* Reads the config from model metadata; falls back to the reference's
 * architecture for files with no elbo metadata (e.g. saved from PyTorch),
 * inferring sizes from the tensor shapes. */
static elbo_status config_from_file(const st_file *f, elbo_vae_config *c, elbo_error *err)
{
    elbo_vae_config_default(c);
    const char *fmt = st_meta_get(f, "format");
    if (fmt && strcmp(fmt, CKPT_FORMAT) != 0)
        return elbo_fail(err, ELBO_ERR_FORMAT, "%s: unknown checkpoint format '%s' (expected %s)",
                         f->path, fmt, CKPT_FORMAT);
    if (!fmt) {
        /* Plain state_dict of the reference model: infer D, H, Z from shapes. */
        const json_node *w1 = json_get(f->doc.root, "fc1.weight"),
                        *wm = json_get(f->doc.root, "fc2_mu.weight");
        if (!w1 || !wm)
            return elbo_fail(err, ELBO_ERR_FORMAT,
                             "%s: no elbo metadata and no fc1.weight / fc2_mu.weight tensors", f->path);
        const json_node *s1 = json_get(w1, "shape"), *sm = json_get(wm, "shape");
        if (s1->count != 2 || sm->count != 2)
            return elbo_fail(err, ELBO_ERR_MISMATCH, "%s: fc1.weight / fc2_mu.weight are not matrices",
                             f->path);
        c->hidden[0] = (int)s1->child->num;
        c->input_dim = (int)s1->child->next->num;
        c->latent_dim = (int)sm->child->num;
        return elbo_vae_config_check(c, err);
    }
    long v;
    if (meta_int(f, "input_dim", 1, 1 << 20, &v, err)) return ELBO_ERR_FORMAT;
    c->input_dim = (int)v;
    if (meta_int(f, "latent_dim", 1, 1 << 20, &v, err)) return ELBO_ERR_FORMAT;
    c->latent_dim = (int)v;
    const char *hid = st_meta_get(f, "hidden"), *lik = st_meta_get(f, "likelihood"),
               *act = st_meta_get(f, "activation");
    if (!hid || !lik)
        return elbo_fail(err, ELBO_ERR_FORMAT, "%s: __metadata__ lacks 'hidden' or 'likelihood'", f->path);
    if (act && strcmp(act, "relu") != 0)
        return elbo_fail(err, ELBO_ERR_FORMAT, "%s: unsupported activation '%s'", f->path, act);
    if (strcmp(lik, "bernoulli") == 0)
        c->likelihood = ELBO_LIK_BERNOULLI;
    else if (strcmp(lik, "gaussian") == 0)
        c->likelihood = ELBO_LIK_GAUSSIAN;
    else
        return elbo_fail(err, ELBO_ERR_FORMAT, "%s: unknown likelihood '%s'", f->path, lik);
    c->n_hidden = 0;
    const char *p = hid;
    while (*p) {
        char *end;
        errno = 0;
        long w = strtol(p, &end, 10);
        if (errno || end == p || w < 1 || w > (1 << 20) || c->n_hidden >= ELBO_MAX_HIDDEN ||
            (*end && *end != ','))
            return elbo_fail(err, ELBO_ERR_FORMAT, "%s: bad 'hidden' metadata '%s'", f->path, hid);
        c->hidden[c->n_hidden++] = (int)w;
        p = *end ? end + 1 : end;
    }
    return elbo_vae_config_check(c, err);
}

static elbo_status load_optim(elbo_vae *m, const char *path, long model_step, elbo_error *err)
{
    st_file f;
    elbo_status st = st_open(path, &f, err);
    if (st) return st;
    long step, epoch, np;
    const char *fmt = st_meta_get(&f, "format"), *rng = st_meta_get(&f, "rng");
    if (!fmt || strcmp(fmt, CKPT_FORMAT "-optim") != 0) {
        st = elbo_fail(err, ELBO_ERR_FORMAT, "%s: not an elbo optimizer state file", path);
    } else if (meta_int(&f, "step", 0, 1L << 50, &step, err) ||
               meta_int(&f, "epoch", 0, 1L << 30, &epoch, err) ||
               meta_int(&f, "n_params", 0, 1L << 50, &np, err)) {
        st = ELBO_ERR_FORMAT;
    } else if (model_step >= 0 && step != model_step) {
        st = elbo_fail(err, ELBO_ERR_MISMATCH,
                       "%s: optimizer state is from step %ld but the model beside it is from step "
                       "%ld (an interrupted save?)",
                       path, step, model_step);
    } else if ((size_t)np != m->n_params) {
        st = elbo_fail(err, ELBO_ERR_MISMATCH, "%s: holds state for %ld parameters, the model has %zu",
                       path, np, m->n_params);
    } else {
        uint64_t s[4];
        int spare_flag, used = 0;
        double spare;
        if (!rng || sscanf(rng, "%" SCNx64 ",%" SCNx64 ",%" SCNx64 ",%" SCNx64 ",%d,%la%n", &s[0],
                           &s[1], &s[2], &s[3], &spare_flag, &spare, &used) != 6 ||
            rng[used] != 0) {
            st = elbo_fail(err, ELBO_ERR_FORMAT, "%s: bad 'rng' metadata", path);
        } else {
            int64_t shape[1] = {(int64_t)m->n_params};
            st = st_read_f32(&f, "adam.exp_avg", 1, shape, m->adam_m, err);
            if (!st) st = st_read_f32(&f, "adam.exp_avg_sq", 1, shape, m->adam_v, err);
            if (!st) {
                memcpy(m->rng.s, s, sizeof s);
                m->rng.have_spare = spare_flag != 0;
                m->rng.spare = spare;
                m->step = step;
                m->epoch = (int)epoch;
            }
        }
    }
    st_close(&f);
    return st;
}

elbo_vae *elbo_vae_load(const char *path, int max_batch, elbo_error *err)
{
    char model_path[4200], optim_path[4200];
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        join(model_path, sizeof model_path, path, "model.safetensors");
        join(optim_path, sizeof optim_path, path, "optim.safetensors");
    } else {
        /* a file: optimizer state only rides along with a model.safetensors */
        snprintf(model_path, sizeof model_path, "%s", path);
        snprintf(optim_path, sizeof optim_path, "%s", path);
        char *slash = strrchr(optim_path, '/');
        char *base = slash ? slash + 1 : optim_path;
        if (strcmp(base, "model.safetensors") == 0)
            snprintf(base, sizeof optim_path - (size_t)(base - optim_path), "optim.safetensors");
    }
    st_file f;
    if (st_open(model_path, &f, err)) return NULL;
    elbo_vae_config c;
    elbo_vae *m = NULL;
    if (config_from_file(&f, &c, err) == ELBO_OK) {
        if (max_batch > 0) c.max_batch = max_batch;
        m = elbo_vae_create(&c, 0, err);
    }
    long model_step = -1;
    if (m && st_meta_get(&f, "step") && meta_int(&f, "step", 0, 1L << 50, &model_step, err)) {
        elbo_vae_free(m);
        m = NULL;
    }
    float *tmp = NULL;
    if (m) {
        tmp = malloc(sizeof(float) * (size_t)m->layers[0].in * m->layers[0].out);
        if (!tmp) {
            elbo_fail(err, ELBO_ERR_NOMEM, "%s: out of memory", model_path);
            elbo_vae_free(m);
            m = NULL;
        }
    }
    for (int i = 0; m && i < m->n_layers; i++) {
        const vae_layer *l = &m->layers[i];
        char name[48];
        int64_t ws[2] = {l->out, l->in}, bs[1] = {l->out};
        snprintf(name, sizeof name, "%s.weight", l->name);
        float *dst = l->transposed ? tmp : m->params + l->w_off;
        elbo_status st = st_read_f32(&f, name, 2, ws, dst, err);
        if (!st && l->transposed) vae_weight_import(m, i, m->params, tmp);
        snprintf(name, sizeof name, "%s.bias", l->name);
        if (!st) st = st_read_f32(&f, name, 1, bs, m->params + l->b_off, err);
        if (st) {
            elbo_vae_free(m);
            m = NULL;
        }
    }
    free(tmp);
    /* extra tensors mean the file describes another architecture */
    for (const json_node *e = f.doc.root->child; m && e; e = e->next) {
        if (strcmp(e->key, "__metadata__") == 0) continue;
        int known = 0;
        for (int i = 0; i < m->n_layers && !known; i++) {
            size_t n = strlen(m->layers[i].name);
            known = strncmp(e->key, m->layers[i].name, n) == 0 &&
                    (strcmp(e->key + n, ".weight") == 0 || strcmp(e->key + n, ".bias") == 0);
        }
        if (!known) {
            elbo_fail(err, ELBO_ERR_MISMATCH, "%s: unexpected tensor '%s' for this architecture",
                      model_path, e->key);
            elbo_vae_free(m);
            m = NULL;
        }
    }
    st_close(&f);
    if (m && strcmp(optim_path, model_path) != 0 && stat(optim_path, &sb) == 0) {
        if (load_optim(m, optim_path, model_step, err) != ELBO_OK) {
            elbo_vae_free(m);
            return NULL;
        }
    }
    return m;
}
