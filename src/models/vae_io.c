/* vae_io.c — the VAE's checkpoints: the generic save and load of
 * io/checkpoint.h plus what only the VAE knows (its config from metadata,
 * and the reference's plain PyTorch state_dict, which carries none). */
#include <string.h>

#include "../io/checkpoint.h"
#include "vae_internal.h"

elbo_status elbo_vae_save(const elbo_vae *m, const char *dir, elbo_error *err)
{
    return elbo_model_save(&m->handle, dir, err);
}

elbo_status elbo_vae_save_weights(const elbo_vae *m, const char *path, elbo_error *err)
{
    return ckpt_save_weights(path, &m->base, &m->tr, &m->record, err);
}

const elbo_run_record *elbo_vae_get_run_record(const elbo_vae *m) { return &m->record; }
void elbo_vae_set_run_record(elbo_vae *m, const elbo_run_record *r) { m->record = *r; }

/* A plain state_dict of the reference model: D, H, Z from the shapes. */
static elbo_status config_from_shapes(const st_file *f, elbo_vae_config *c, elbo_error *err)
{
    elbo_vae_config_default(c);
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

static elbo_status config_from_file(const st_file *f, elbo_vae_config *c, elbo_error *err)
{
    const char *fmt = st_meta_get(f, "format"), *kind = st_meta_get(f, "model");
    if (!fmt) return config_from_shapes(f, c, err);
    if (kind && strcmp(kind, vae_ops.kind) != 0)
        return elbo_fail(err, ELBO_ERR_MISMATCH, "%s: holds a '%s' model, not a VAE", f->path, kind);
    if (strcmp(fmt, vae_ops.format) != 0)
        return elbo_fail(err, ELBO_ERR_FORMAT, "%s: unknown checkpoint format '%s' (expected %s)",
                         f->path, fmt, vae_ops.format);
    return vae_config_from_meta(ckpt_meta_get, f, f->path, c, err);
}

CKPT_DEFINE_MAKE(vae)

elbo_vae *elbo_vae_load(const char *path, int max_batch, elbo_error *err)
{
    return ckpt_load(path, max_batch, ckpt_make_vae, ckpt_release_vae, err);
}
