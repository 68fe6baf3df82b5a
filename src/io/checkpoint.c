/* checkpoint.c — see checkpoint.h. */
#include "checkpoint.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define META_MAX (MODEL_MAX_META + ELBO_KV_MAX + 8)

void ckpt_paths_of(const char *path, ckpt_paths *p)
{
    struct stat sb;
    p->with_optim = 1;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        snprintf(p->model, sizeof p->model, "%s/model.safetensors", path);
        snprintf(p->optim, sizeof p->optim, "%s/optim.safetensors", path);
        snprintf(p->prev, sizeof p->prev, "%s/optim.prev.safetensors", path);
        return;
    }
    /* a file: optimizer state only rides along with a model.safetensors */
    snprintf(p->model, sizeof p->model, "%s", path);
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    int dlen = (int)(base - path);
    p->with_optim = strcmp(base, "model.safetensors") == 0;
    snprintf(p->optim, sizeof p->optim, "%.*soptim.safetensors", dlen, path);
    snprintf(p->prev, sizeof p->prev, "%.*soptim.prev.safetensors", dlen, path);
}

const char *ckpt_meta_get(const void *f, const char *key) { return st_meta_get(f, key); }

/* The model file's metadata: format, kind, version, step, config, record.
 * kv holds the strings the pairs point into. */
static int model_meta(const model *m, const trainer *t, const elbo_run_record *rec, st_meta *meta,
                      elbo_kv *kv)
{
    int n = 0, k = 0;
    meta[n++] = (st_meta){"format", m->ops->format};
    meta[n++] = (st_meta){"model", m->ops->kind};
    meta[n++] = (st_meta){"elbo_version", ELBO_VERSION_STRING};
    snprintf(kv[k].key, sizeof kv[k].key, "step");
    snprintf(kv[k].value, sizeof kv[k].value, "%ld", t ? t->step : 0L);
    meta[n++] = (st_meta){kv[k].key, kv[k].value};
    k++;
    int nc = m->ops->config_to_meta(m, kv + k);
    ELBO_ASSERT(nc <= MODEL_MAX_META);
    for (int i = 0; i < nc; i++, k++) meta[n++] = (st_meta){kv[k].key, kv[k].value};
    for (int i = 0; rec && i < rec->n; i++, k++) {
        snprintf(kv[k].key, sizeof kv[k].key, "run.%.27s", rec->e[i].key);
        snprintf(kv[k].value, sizeof kv[k].value, "%s", rec->e[i].value);
        meta[n++] = (st_meta){kv[k].key, kv[k].value};
    }
    return n;
}

/* Writes the weights file for path: renamed into place when tmp is NULL,
 * else left as a temporary file whose name goes to tmp. */
static elbo_status write_weights(const model *m, const trainer *t, const elbo_run_record *rec,
                                 const char *path, char *tmp, size_t tmp_cap, elbo_error *err)
{
    st_tensor *ts = calloc((size_t)m->n_tensors, sizeof *ts);
    elbo_kv *kv = calloc(META_MAX, sizeof *kv);
    st_meta meta[META_MAX];
    /* tensors stored transposed in memory are written in the user layout */
    size_t tmp_n = 0;
    for (int i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].transposed) tmp_n += m->tensors[i].n;
    float *buf = tmp_n ? malloc(sizeof(float) * tmp_n) : NULL, *tp = buf;
    if (!ts || !kv || (tmp_n && !buf)) {
        free(ts);
        free(kv);
        free(buf);
        return elbo_fail(err, ELBO_ERR_NOMEM, "%s: out of memory", path);
    }
    for (int i = 0; i < m->n_tensors; i++) {
        const model_tensor *mt = &m->tensors[i];
        const float *d = m->params + mt->off;
        if (mt->transposed) {
            model_tensor_export(m, i, m->params, tp);
            d = tp;
            tp += mt->n;
        }
        ts[i] = (st_tensor){mt->name, d, mt->ndim, {0}};
        for (int k = 0; k < mt->ndim; k++) ts[i].shape[k] = mt->shape[k];
    }
    int nmeta = model_meta(m, t, rec, meta, kv);
    elbo_status st = tmp ? st_write_tmp(path, meta, nmeta, ts, m->n_tensors, tmp, tmp_cap, err)
                         : st_write(path, meta, nmeta, ts, m->n_tensors, err);
    free(buf);
    free(ts);
    free(kv);
    return st;
}

elbo_status ckpt_save_weights(const char *path, const model *m, const trainer *t,
                              const elbo_run_record *rec, elbo_error *err)
{
    return write_weights(m, t, rec, path, NULL, 0, err);
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

/* The trainer's state as metadata pairs (strings in kv). */
static int trainer_meta(const model *m, const trainer *t, st_meta *meta, elbo_kv *kv)
{
    int n = 0;
    char fmt[64];
    snprintf(fmt, sizeof fmt, "%s-optim", m->ops->format);
#define PUT(k, ...)                                                                           \
    do {                                                                                      \
        snprintf(kv[n].key, sizeof kv[n].key, "%.31s", k);                                    \
        snprintf(kv[n].value, sizeof kv[n].value, __VA_ARGS__);                               \
        meta[n] = (st_meta){kv[n].key, kv[n].value};                                          \
        n++;                                                                                  \
    } while (0)
    PUT("format", "%s", fmt);
    PUT("optimizer", "%s", optim_name(t->opt.kind));
    PUT("step", "%ld", t->step);
    PUT("epoch", "%d", t->epoch);
    PUT("n_params", "%zu", m->n_params);
    PUT("seed", "%" PRIu64, t->seed);
    char r[160];
    rng_str(r, sizeof r, &t->rng);
    PUT("rng", "%s", r);
    rng_str(r, sizeof r, &t->epoch_rng);
    PUT("epoch_rng", "%s", r);
    PUT("epoch_seen", "%ld", t->epoch_seen);
    if (t->best_epoch > 0) {
        PUT("best_epoch", "%d", t->best_epoch);
        PUT("best_loss", "%a", t->best_loss);
    }
    PUT("epoch_n", "%d", t->epoch_n);
    if (t->epoch_len != t->epoch_n && t->epoch_seen > 0) PUT("epoch_len", "%d", t->epoch_len);
    for (int k = 0; k < m->ops->n_terms; k++) {
        char key[48];
        snprintf(key, sizeof key, "epoch_%s", m->ops->terms[k]);
        PUT(key, "%a", t->epoch_sums[k]);
        if (!m->ops->counts_of) continue; /* else every term counts every row */
        snprintf(key, sizeof key, "epoch_rows_%s", m->ops->terms[k]);
        PUT(key, "%a", t->epoch_counts[k]);
    }
#undef PUT
    return n;
}

/* The commit protocol of a checkpoint: both files are written as fsync'd
 * temporaries, then renamed in this order:
 *   optim.safetensors -> optim.prev.safetensors   (the old optimizer state)
 *   optim temporary   -> optim.safetensors
 *   model temporary   -> model.safetensors        (the commit point)
 * Wherever a crash falls, model.safetensors and one of optim.safetensors /
 * optim.prev.safetensors are from the same step, and load picks that one. */
elbo_status ckpt_save(const char *dir, const model *m, const trainer *t,
                      const elbo_run_record *rec, elbo_error *err)
{
    char mtmp[4300], otmp[4300];
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return elbo_fail(err, ELBO_ERR_IO, "%s: not a directory", dir);
    ckpt_paths p;
    ckpt_paths_of(dir, &p);
    elbo_kv kv[24 + MODEL_MAX_TERMS];
    st_meta meta[24 + MODEL_MAX_TERMS];
    int nmeta = trainer_meta(m, t, meta, kv);
    st_tensor ts[OPTIM_MAX_STATE + 1];
    int nts = t->opt.n_state;
    for (int k = 0; k < nts; k++)
        ts[k] = (st_tensor){t->opt.state_names[k], optim_state(&t->opt, k), 1,
                            {(int64_t)m->n_params}};
    if (t->ema) /* the parameter average rides with the optimizer state */
        ts[nts++] = (st_tensor){CKPT_EMA_TENSOR, t->ema, 1, {(int64_t)m->n_params}};
    elbo_status st = write_weights(m, t, rec, p.model, mtmp, sizeof mtmp, err);
    if (st) return st;
    st = st_write_tmp(p.optim, meta, nmeta, ts, nts, otmp, sizeof otmp, err);
    if (st) {
        unlink(mtmp);
        return st;
    }
    int bad = 0;
    if (stat(p.optim, &sb) == 0 && rename(p.optim, p.prev) != 0) bad = 1;
    if (!bad && rename(otmp, p.optim) != 0) bad = 1;
    if (!bad && rename(mtmp, p.model) != 0) bad = 1;
    if (bad) {
        int saved = errno;
        unlink(mtmp);
        unlink(otmp);
        return elbo_fail(err, ELBO_ERR_IO, "%s: committing the checkpoint failed: %s", dir,
                         strerror(saved));
    }
    st_sync_dir(p.model);
    return ELBO_OK;
}

elbo_status ckpt_read_tensors(const st_file *f, model *m, elbo_error *err)
{
    size_t big = 0;
    for (int i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].transposed && m->tensors[i].n > big) big = m->tensors[i].n;
    float *tmp = big ? malloc(sizeof(float) * big) : NULL;
    if (big && !tmp) return elbo_fail(err, ELBO_ERR_NOMEM, "%s: out of memory", f->path);
    elbo_status st = ELBO_OK;
    for (int i = 0; i < m->n_tensors && !st; i++) {
        const model_tensor *t = &m->tensors[i];
        float *dst = t->transposed ? tmp : m->params + t->off;
        st = st_read_f32(f, t->name, t->ndim, t->shape, dst, err);
        if (!st && t->transposed) model_tensor_import(m, i, m->params, tmp);
    }
    free(tmp);
    /* extra tensors mean the file describes another architecture */
    for (const json_node *e = f->doc.root->child; !st && e; e = e->next)
        if (strcmp(e->key, "__metadata__") != 0 && model_tensor_find(m, e->key) < 0)
            st = elbo_fail(err, ELBO_ERR_MISMATCH, "%s: unexpected tensor '%s' for this architecture",
                           f->path, e->key);
    return st;
}

void ckpt_read_record(const st_file *f, elbo_run_record *rec)
{
    memset(rec, 0, sizeof *rec);
    if (!f->meta) return;
    for (const json_node *e = f->meta->child; e; e = e->next)
        if (strncmp(e->key, "run.", 4) == 0 && e->type == JSON_STRING)
            elbo_run_record_set(rec, e->key + 4, e->str, NULL); /* too long or full: dropped */
}

/* A long from a metadata value in [lo, hi]. */
static int meta_long(const st_file *f, const char *key, long lo, long hi, long *out, elbo_error *err)
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

elbo_status ckpt_model_step(const st_file *f, long *step, elbo_error *err)
{
    *step = -1;
    if (!st_meta_get(f, "step")) return ELBO_OK;
    return meta_long(f, "step", 0, 1L << 50, step, err) ? ELBO_ERR_FORMAT : ELBO_OK;
}

/* A hex-float metadata value (absent: dflt). -1 when malformed. */
static int meta_hexf(const st_file *f, const char *key, double dflt, double *out)
{
    const char *v = st_meta_get(f, key);
    *out = dflt;
    return v && (sscanf(v, "%la", out) != 1 || !isfinite(*out)) ? -1 : 0;
}

/* The trainer state of an opened optimizer file into t. On failure t's
 * optimizer state may be partly overwritten: the caller discards t. */
static elbo_status read_trainer(const st_file *f, long mstep, trainer *t, const model *m,
                                elbo_error *err)
{
    char fmt_want[64];
    snprintf(fmt_want, sizeof fmt_want, "%s-optim", m->ops->format);
    const char *fmt = st_meta_get(f, "format"), *seed_s = st_meta_get(f, "seed");
    long step, epoch, np, seen = 0, en = 0, elen = -1; /* epoch_* absent: an epoch boundary */
    uint64_t seed = 0;
    elbo_rng rng, erng = {{0, 0, 0, 0}, 0, 0.0};
    char *end = NULL;
    if (!fmt || strcmp(fmt, fmt_want) != 0)
        return elbo_fail(err, ELBO_ERR_FORMAT, "%s: not an elbo optimizer state file for %s",
                         f->path, m->ops->format);
    if (meta_long(f, "step", 0, 1L << 50, &step, err) || meta_long(f, "epoch", 0, 1L << 30, &epoch, err) ||
        meta_long(f, "n_params", 0, 1L << 50, &np, err) ||
        (st_meta_get(f, "epoch_seen") && meta_long(f, "epoch_seen", 0, 1L << 30, &seen, err)) ||
        (st_meta_get(f, "epoch_n") && meta_long(f, "epoch_n", 0, 1L << 30, &en, err)) ||
        (st_meta_get(f, "epoch_len") && meta_long(f, "epoch_len", 1, 1L << 31, &elen, err)))
        return ELBO_ERR_FORMAT;
    if (elen < 0) elen = en; /* a plain order: one position per row */
    if (mstep >= 0 && step != mstep)
        return elbo_fail(err, ELBO_ERR_MISMATCH,
                         "%s: optimizer state is from step %ld but the model beside it is from "
                         "step %ld",
                         f->path, step, mstep);
    if ((size_t)np != m->n_params)
        return elbo_fail(err, ELBO_ERR_MISMATCH, "%s: holds state for %ld parameters, the model has %zu",
                         f->path, np, m->n_params);
    if (rng_parse(st_meta_get(f, "rng"), &rng) ||
        (st_meta_get(f, "epoch_rng") && rng_parse(st_meta_get(f, "epoch_rng"), &erng)))
        return elbo_fail(err, ELBO_ERR_FORMAT, "%s: bad 'rng' or 'epoch_rng' metadata", f->path);
    double sums[MODEL_MAX_TERMS] = {0}, counts[MODEL_MAX_TERMS] = {0};
    int bad = (seed_s && (seed = strtoull(seed_s, &end, 10), *end)) || seen > elen;
    for (int k = 0; k < m->ops->n_terms; k++) {
        char key[48];
        snprintf(key, sizeof key, "epoch_%s", m->ops->terms[k]);
        bad |= meta_hexf(f, key, k == 0 ? NAN : 0.0, &sums[k]) != 0;
        snprintf(key, sizeof key, "epoch_rows_%s", m->ops->terms[k]);
        bad |= meta_hexf(f, key, (double)seen, &counts[k]) != 0 || !(counts[k] >= 0 && counts[k] <= 1e15);
    }
    long best_epoch = 0;
    double best_loss = 0.0;
    if (st_meta_get(f, "best_epoch"))
        bad |= meta_long(f, "best_epoch", 1, 1L << 30, &best_epoch, NULL) != ELBO_OK ||
               meta_hexf(f, "best_loss", NAN, &best_loss) != 0 || !isfinite(best_loss);
    if (bad) return elbo_fail(err, ELBO_ERR_FORMAT, "%s: bad seed, epoch or best metadata", f->path);
    if (isnan(sums[0])) { /* absent in older files: the sum of the others */
        sums[0] = 0.0;
        for (int k = 1; k < m->ops->n_terms; k++) sums[0] += sums[k];
    }
    const char *oname = st_meta_get(f, "optimizer"); /* absent in older files: Adam */
    int okind = oname ? optim_kind_of(oname) : (int)t->opt.kind;
    if (okind < 0 || (okind == OPTIM_NONE) != (t->opt.kind == OPTIM_NONE))
        return elbo_fail(err, ELBO_ERR_FORMAT, "%s: optimizer '%s' is not one this model can use",
                         f->path, oname);
    elbo_status ost = trainer_use_optimizer(t, m, (optim_kind)okind, err);
    if (ost) return ost;
    int64_t shape[1] = {(int64_t)m->n_params};
    for (int k = 0; k < t->opt.n_state; k++) {
        elbo_status st = st_read_f32(f, t->opt.state_names[k], 1, shape, optim_state(&t->opt, k), err);
        if (st) return st;
    }
    if (st_has(f, CKPT_EMA_TENSOR)) { /* a parameter average (trainer.h) */
        elbo_status st = trainer_ema_start(t, m, err);
        if (!st) st = st_read_f32(f, CKPT_EMA_TENSOR, 1, shape, t->ema, err);
        if (st) return st;
    } else {
        elbo_free_aligned(t->ema);
        t->ema = NULL;
    }
    t->rng = rng;
    t->epoch_rng = erng;
    t->step = step;
    t->epoch = (int)epoch;
    t->seed = seed;
    t->epoch_seen = seen;
    t->epoch_n = (int)en;
    memcpy(t->epoch_sums, sums, sizeof sums);
    memcpy(t->epoch_counts, counts, sizeof counts);
    t->best_epoch = (int)best_epoch;
    t->best_loss = best_loss;
    t->perm_valid = 0;
    return ELBO_OK;
}

static elbo_status load_trainer_file(const char *path, long mstep, trainer *t,
                                     const model *m, elbo_error *err)
{
    st_file f;
    elbo_status st = st_open(path, &f, err);
    if (st) return st;
    st = read_trainer(&f, mstep, t, m, err);
    st_close(&f);
    return st;
}

elbo_status ckpt_load_trainer(const ckpt_paths *p, long mstep, trainer *t, const model *m,
                              elbo_error *err)
{
    struct stat sb;
    int have = stat(p->optim, &sb) == 0, have_prev = stat(p->prev, &sb) == 0;
    elbo_status st = ELBO_OK;
    if (have) st = load_trainer_file(p->optim, mstep, t, m, err);
    if ((!have || st == ELBO_ERR_MISMATCH) && have_prev) {
        elbo_error e2;
        if (load_trainer_file(p->prev, mstep, t, m, &e2) == ELBO_OK) st = ELBO_OK;
    }
    return st;
}

/* The config pairs of f's metadata: everything but the engine's own keys
 * and the run record. */
static void info_config(const st_file *f, elbo_run_record *cfg)
{
    static const char *const engine[] = {"format", "model", "elbo_version", "step"};
    memset(cfg, 0, sizeof *cfg);
    if (!f->meta) return;
    for (const json_node *e = f->meta->child; e; e = e->next) {
        int skip = strncmp(e->key, "run.", 4) == 0 || e->type != JSON_STRING;
        for (size_t i = 0; i < sizeof engine / sizeof engine[0] && !skip; i++)
            skip = strcmp(e->key, engine[i]) == 0;
        if (!skip) elbo_run_record_set(cfg, e->key, e->str, NULL);
    }
}

elbo_status elbo_checkpoint_info_read(const char *path, elbo_checkpoint_info *info, elbo_error *err)
{
    memset(info, 0, sizeof *info);
    ckpt_paths p;
    ckpt_paths_of(path, &p);
    st_file f;
    elbo_status st = st_open(p.model, &f, err);
    if (st) return st;
    const char *fmt = st_meta_get(&f, "format"), *kind = st_meta_get(&f, "model"),
               *ver = st_meta_get(&f, "elbo_version");
    /* files without a "model" key: elbo-vae-1 (older elbo) or a plain state_dict */
    snprintf(info->kind, sizeof info->kind, "%s", kind ? kind : fmt ? "vae" : "unknown");
    snprintf(info->format, sizeof info->format, "%s", fmt ? fmt : "(none: a plain state_dict)");
    snprintf(info->version, sizeof info->version, "%s", ver ? ver : "");
    for (const json_node *e = f.doc.root->child; e; e = e->next) {
        if (strcmp(e->key, "__metadata__") == 0) continue;
        const json_node *sh = json_get(e, "shape");
        size_t n = 1;
        for (const json_node *d = sh ? sh->child : NULL; d; d = d->next) n *= (size_t)d->num;
        info->n_params += n;
        info->n_tensors++;
    }
    info_config(&f, &info->config);
    ckpt_read_record(&f, &info->run);
    st = ckpt_model_step(&f, &info->step, err);
    st_close(&f);
    if (st || !p.with_optim) return st;
    /* the optimizer state of the model's step: optim.safetensors, or after
     * an interrupted save optim.prev.safetensors (as ckpt_load_trainer) */
    st_file o;
    const char *cands[2] = {p.optim, p.prev};
    long v;
    int found = 0;
    for (int i = 0; i < 2 && !found; i++) {
        if (st_open(cands[i], &o, NULL) != ELBO_OK) continue;
        found = info->step < 0 ||
                (!meta_long(&o, "step", 0, 1L << 50, &v, NULL) && v == info->step);
        if (!found) st_close(&o);
    }
    if (!found) return ELBO_OK; /* weights only */
    info->has_optim = 1;
    if (!meta_long(&o, "epoch", 0, 1L << 30, &v, NULL)) info->epoch = (int)v;
    if (st_meta_get(&o, "epoch_seen") && !meta_long(&o, "epoch_seen", 0, 1L << 30, &v, NULL))
        info->epoch_examples = v;
    st_close(&o);
    return ELBO_OK;
}

void *ckpt_load(const char *path, int max_batch, ckpt_make_fn make, void (*release)(void *),
                elbo_error *err)
{
    ckpt_paths p;
    ckpt_paths_of(path, &p);
    st_file f;
    if (st_open(p.model, &f, err)) return NULL;
    ckpt_parts parts;
    void *h = make(&f, max_batch, &parts, err);
    long step = -1;
    elbo_status st = h ? ckpt_model_step(&f, &step, err) : ELBO_ERR_FORMAT;
    if (!st) st = ckpt_read_tensors(&f, parts.m, err);
    if (!st) ckpt_read_record(&f, parts.rec);
    st_close(&f);
    /* optimizer state from the same step (see ckpt_save) */
    if (!st && p.with_optim) st = ckpt_load_trainer(&p, step, parts.t, parts.m, err);
    if (st && h) {
        release(h);
        h = NULL;
    }
    return h;
}
