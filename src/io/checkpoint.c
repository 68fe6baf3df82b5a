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
#include <unistd.h>
#include <string.h>
#include <sys/stat.h>

#include "../models/vae_internal.h"
#include "safetensors.h"

#define CKPT_FORMAT "elbo-vae-1"

/* Metadata spellings of the enums, indexed by their values. */
static const char *const LIKELIHOODS[] = {"bernoulli", "gaussian", "gaussian-learned"};
static const char *const ACTIVATIONS[] = {"relu", "tanh", "softplus"};
static const char *const BINARIZATIONS[] = {"none", "static", "dynamic"};
#define N_OF(a) ((int)(sizeof a / sizeof a[0]))

/* Index of s in names[n]; dflt when s is NULL; -1 when unknown. */
static int lookup(const char *s, const char *const *names, int n, int dflt)
{
    if (!s) return dflt;
    for (int i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -1;
}

/* Joins dir and name into buf. */
static void join(char *buf, size_t cap, const char *dir, const char *name)
{
    snprintf(buf, cap, "%s/%s", dir, name);
}

/* Writes the weights file for path: renamed into place when tmp is NULL,
 * else left as a temporary file whose name goes to tmp. */
static elbo_status write_weights(const elbo_vae *m, const char *path, char *tmp, size_t tmp_cap,
                                 elbo_error *err)
{
    st_tensor t[2 * VAE_MAX_LAYERS + 1];
    char names[2 * VAE_MAX_LAYERS][48];
    int nt = 0;
    /* weights stored transposed in memory are written in PyTorch's layout */
    size_t tmp_n = 0;
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i].transposed) tmp_n += (size_t)m->layers[i].in * m->layers[i].out;
    float *buf = tmp_n ? malloc(sizeof(float) * tmp_n) : NULL, *tp = buf;
    if (tmp_n && !buf) return elbo_fail(err, ELBO_ERR_NOMEM, "%s: out of memory", path);
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
    char lv_name[48];
    if (m->lv_off != (size_t)-1) { /* the learned log-variance */
        snprintf(lv_name, sizeof lv_name, "%s.logvar", m->layers[m->l_out].name);
        t[nt] = (st_tensor){lv_name, m->params + m->lv_off, 1, {m->cfg.input_dim}};
        nt++;
    }
    char in_s[16], z_s[16], hid[ELBO_MAX_HIDDEN * 12 + 1] = "", step_s[32];
    snprintf(in_s, sizeof in_s, "%d", m->cfg.input_dim);
    snprintf(z_s, sizeof z_s, "%d", m->cfg.latent_dim);
    snprintf(step_s, sizeof step_s, "%ld", m->step);
    for (int i = 0; i < m->cfg.n_hidden; i++)
        snprintf(hid + strlen(hid), sizeof hid - strlen(hid), "%s%d", i ? "," : "", m->cfg.hidden[i]);
    st_meta meta[] = {{"format", CKPT_FORMAT},
                      {"elbo_version", ELBO_VERSION_STRING},
                      {"step", step_s},
                      {"input_dim", in_s},
                      {"latent_dim", z_s},
                      {"hidden", hid},
                      {"activation", ACTIVATIONS[m->cfg.activation]},
                      {"likelihood", LIKELIHOODS[m->cfg.likelihood]},
                      {"binarize", BINARIZATIONS[m->cfg.binarize]}};
    int nmeta = (int)(sizeof meta / sizeof meta[0]);
    elbo_status st = tmp ? st_write_tmp(path, meta, nmeta, t, nt, tmp, tmp_cap, err)
                         : st_write(path, meta, nmeta, t, nt, err);
    free(buf);
    return st;
}

elbo_status elbo_vae_save_weights(const elbo_vae *m, const char *path, elbo_error *err)
{
    return write_weights(m, path, NULL, 0, err);
}

static void rng_str(char *buf, size_t cap, const elbo_rng *r)
{
    snprintf(buf, cap, "%016" PRIx64 ",%016" PRIx64 ",%016" PRIx64 ",%016" PRIx64 ",%d,%a", r->s[0],
             r->s[1], r->s[2], r->s[3], r->have_spare, r->spare);
}

static int rng_parse(const char *s, elbo_rng *r)
{
    int flag, used = 0;
    if (!s || sscanf(s, "%" SCNx64 ",%" SCNx64 ",%" SCNx64 ",%" SCNx64 ",%d,%la%n", &r->s[0], &r->s[1],
                     &r->s[2], &r->s[3], &flag, &r->spare, &used) != 6 || s[used] != 0 ||
        !isfinite(r->spare))
        return -1;
    r->have_spare = flag != 0;
    return 0;
}

/* The commit protocol of a checkpoint: both files are written as fsync'd
 * temporaries, then renamed in this order:
 *   optim.safetensors -> optim.prev.safetensors   (the old optimizer state)
 *   optim temporary   -> optim.safetensors
 *   model temporary   -> model.safetensors        (the commit point)
 * Wherever a crash falls, model.safetensors and one of optim.safetensors /
 * optim.prev.safetensors are from the same step, and load picks that one. */
elbo_status elbo_vae_save(const elbo_vae *m, const char *dir, elbo_error *err)
{
    char mpath[4200], opath[4200], ppath[4200], mtmp[4300], otmp[4300];
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return elbo_fail(err, ELBO_ERR_IO, "%s: not a directory", dir);
    join(mpath, sizeof mpath, dir, "model.safetensors");
    join(opath, sizeof opath, dir, "optim.safetensors");
    join(ppath, sizeof ppath, dir, "optim.prev.safetensors");

    char step_s[32], epoch_s[32], np_s[32], seed_s[32], rng_s[160], erng_s[160], seen_s[32],
        en_s[32], er_s[64], ek_s[64], el_s[64];
    snprintf(step_s, sizeof step_s, "%ld", m->step);
    snprintf(epoch_s, sizeof epoch_s, "%d", m->epoch);
    snprintf(np_s, sizeof np_s, "%zu", m->n_params);
    snprintf(seed_s, sizeof seed_s, "%" PRIu64, m->seed);
    snprintf(seen_s, sizeof seen_s, "%ld", m->epoch_seen);
    snprintf(en_s, sizeof en_s, "%d", m->epoch_n);
    snprintf(er_s, sizeof er_s, "%a", m->epoch_recon);
    snprintf(ek_s, sizeof ek_s, "%a", m->epoch_kl);
    snprintf(el_s, sizeof el_s, "%a", m->epoch_loss);
    rng_str(rng_s, sizeof rng_s, &m->rng);
    rng_str(erng_s, sizeof erng_s, &m->epoch_rng);
    st_meta meta[] = {{"format", CKPT_FORMAT "-optim"}, {"optimizer", "adam"},
                      {"step", step_s},                 {"epoch", epoch_s},
                      {"n_params", np_s},               {"seed", seed_s},
                      {"rng", rng_s},                   {"epoch_rng", erng_s},
                      {"epoch_seen", seen_s},           {"epoch_n", en_s},
                      {"epoch_recon", er_s},            {"epoch_kl", ek_s},
                      {"epoch_loss", el_s}};
    st_tensor t[2] = {{"adam.exp_avg", m->adam_m, 1, {(int64_t)m->n_params}},
                      {"adam.exp_avg_sq", m->adam_v, 1, {(int64_t)m->n_params}}};
    elbo_status st = write_weights(m, mpath, mtmp, sizeof mtmp, err);
    if (st) return st;
    st = st_write_tmp(opath, meta, (int)(sizeof meta / sizeof meta[0]), t, 2, otmp, sizeof otmp, err);
    if (st) {
        unlink(mtmp);
        return st;
    }
    int bad = 0;
    if (stat(opath, &sb) == 0 && rename(opath, ppath) != 0) bad = 1;
    if (!bad && rename(otmp, opath) != 0) bad = 1;
    if (!bad && rename(mtmp, mpath) != 0) bad = 1;
    if (bad) {
        int saved = errno;
        unlink(mtmp);
        unlink(otmp);
        return elbo_fail(err, ELBO_ERR_IO, "%s: committing the checkpoint failed: %s", dir,
                         strerror(saved));
    }
    st_sync_dir(mpath);
    return ELBO_OK;
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
    int a = lookup(act, ACTIVATIONS, N_OF(ACTIVATIONS), ELBO_ACT_RELU),
        l = lookup(lik, LIKELIHOODS, N_OF(LIKELIHOODS), -1),
        b = lookup(st_meta_get(f, "binarize"), BINARIZATIONS, N_OF(BINARIZATIONS), ELBO_BINARIZE_NONE);
    if (a < 0) return elbo_fail(err, ELBO_ERR_FORMAT, "%s: unsupported activation '%s'", f->path, act);
    if (l < 0) return elbo_fail(err, ELBO_ERR_FORMAT, "%s: unknown likelihood '%s'", f->path, lik);
    if (b < 0)
        return elbo_fail(err, ELBO_ERR_FORMAT, "%s: unknown binarize '%s'", f->path,
                         st_meta_get(f, "binarize"));
    c->activation = (elbo_activation)a;
    c->likelihood = (elbo_likelihood)l;
    c->binarize = (elbo_binarize)b;
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

/* Reads the optimizer state at path into m if it is from model_step
 * (model_step < 0: any step). Returns ELBO_ERR_MISMATCH (with a message) when
 * the file is from another step. */
static elbo_status load_optim(elbo_vae *m, const char *path, long model_step, elbo_error *err)
{
    st_file f;
    elbo_status st = st_open(path, &f, err);
    if (st) return st;
    long step, epoch, np, seen = 0, en = 0; /* epoch_* absent: an epoch boundary */
    uint64_t seed = 0;
    elbo_rng rng, erng = {{0, 0, 0, 0}, 0, 0.0};
    double er = 0, ek = 0, el = NAN;
    const char *fmt = st_meta_get(&f, "format"), *seed_s = st_meta_get(&f, "seed"),
               *er_s = st_meta_get(&f, "epoch_recon"), *ek_s = st_meta_get(&f, "epoch_kl"),
               *el_s = st_meta_get(&f, "epoch_loss");
    char *end = NULL;
    if (!fmt || strcmp(fmt, CKPT_FORMAT "-optim") != 0) {
        st = elbo_fail(err, ELBO_ERR_FORMAT, "%s: not an elbo optimizer state file", path);
    } else if (meta_int(&f, "step", 0, 1L << 50, &step, err) ||
               meta_int(&f, "epoch", 0, 1L << 30, &epoch, err) ||
               meta_int(&f, "n_params", 0, 1L << 50, &np, err) ||
               (st_meta_get(&f, "epoch_seen") && meta_int(&f, "epoch_seen", 0, 1L << 30, &seen, err)) ||
               (st_meta_get(&f, "epoch_n") && meta_int(&f, "epoch_n", 0, 1L << 30, &en, err))) {
        st = ELBO_ERR_FORMAT;
    } else if (model_step >= 0 && step != model_step) {
        st = elbo_fail(err, ELBO_ERR_MISMATCH,
                       "%s: optimizer state is from step %ld but the model beside it is from step "
                       "%ld",
                       path, step, model_step);
    } else if ((size_t)np != m->n_params) {
        st = elbo_fail(err, ELBO_ERR_MISMATCH, "%s: holds state for %ld parameters, the model has %zu",
                       path, np, m->n_params);
    } else if (rng_parse(st_meta_get(&f, "rng"), &rng) ||
               (st_meta_get(&f, "epoch_rng") && rng_parse(st_meta_get(&f, "epoch_rng"), &erng))) {
        st = elbo_fail(err, ELBO_ERR_FORMAT, "%s: bad 'rng' or 'epoch_rng' metadata", path);
    } else if ((seed_s && (seed = strtoull(seed_s, &end, 10), *end)) ||
               (er_s && (sscanf(er_s, "%la", &er) != 1 || !isfinite(er))) ||
               (ek_s && (sscanf(ek_s, "%la", &ek) != 1 || !isfinite(ek))) ||
               (el_s && (sscanf(el_s, "%la", &el) != 1 || !isfinite(el))) || seen > en) {
        st = elbo_fail(err, ELBO_ERR_FORMAT, "%s: bad seed or epoch metadata", path);
    } else {
        int64_t shape[1] = {(int64_t)m->n_params};
        st = st_read_f32(&f, "adam.exp_avg", 1, shape, m->adam_m, err);
        if (!st) st = st_read_f32(&f, "adam.exp_avg_sq", 1, shape, m->adam_v, err);
        if (!st) {
            m->rng = rng;
            m->epoch_rng = erng;
            m->step = step;
            m->epoch = (int)epoch;
            m->seed = seed;
            m->epoch_seen = seen;
            m->epoch_n = (int)en;
            m->epoch_recon = er;
            m->epoch_kl = ek;
            m->epoch_loss = isfinite(el) ? el : er + ek; /* absent in older files */
            m->perm_valid = 0;
        }
    }
    st_close(&f);
    return st;
}

elbo_vae *elbo_vae_load(const char *path, int max_batch, elbo_error *err)
{
    char model_path[4200], optim_path[4200], prev_path[4200];
    struct stat sb;
    int with_optim = 1;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        join(model_path, sizeof model_path, path, "model.safetensors");
        join(optim_path, sizeof optim_path, path, "optim.safetensors");
        join(prev_path, sizeof prev_path, path, "optim.prev.safetensors");
    } else {
        /* a file: optimizer state only rides along with a model.safetensors */
        snprintf(model_path, sizeof model_path, "%s", path);
        const char *slash = strrchr(path, '/');
        const char *base = slash ? slash + 1 : path;
        int dlen = (int)(base - path);
        with_optim = strcmp(base, "model.safetensors") == 0;
        snprintf(optim_path, sizeof optim_path, "%.*soptim.safetensors", dlen, path);
        snprintf(prev_path, sizeof prev_path, "%.*soptim.prev.safetensors", dlen, path);
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
    if (m && m->lv_off != (size_t)-1) {
        char name[48];
        int64_t ls[1] = {m->cfg.input_dim};
        snprintf(name, sizeof name, "%s.logvar", m->layers[m->l_out].name);
        if (st_read_f32(&f, name, 1, ls, m->params + m->lv_off, err) != ELBO_OK) {
            elbo_vae_free(m);
            m = NULL;
        }
    }
    /* extra tensors mean the file describes another architecture */
    for (const json_node *e = f.doc.root->child; m && e; e = e->next) {
        if (strcmp(e->key, "__metadata__") == 0) continue;
        int known = 0;
        if (m->lv_off != (size_t)-1) {
            char name[48];
            snprintf(name, sizeof name, "%s.logvar", m->layers[m->l_out].name);
            known = strcmp(e->key, name) == 0;
        }
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
    /* optimizer state from the same step: optim.safetensors, or after an
     * interrupted save optim.prev.safetensors (see elbo_vae_save) */
    if (m && with_optim) {
        int have = stat(optim_path, &sb) == 0, have_prev = stat(prev_path, &sb) == 0;
        elbo_status st = ELBO_OK;
        if (have) st = load_optim(m, optim_path, model_step, err);
        if ((!have || st == ELBO_ERR_MISMATCH) && have_prev) {
            elbo_error e2;
            if (load_optim(m, prev_path, model_step, &e2) == ELBO_OK) st = ELBO_OK;
        }
        if (st != ELBO_OK) {
            elbo_vae_free(m);
            return NULL;
        }
    }
    return m;
}
