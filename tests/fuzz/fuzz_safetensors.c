/* fuzz_safetensors.c — safetensors and checkpoint loading: the input is a
 * model.safetensors (first byte even) or an optim.safetensors beside a valid
 * small model (first byte odd); either way the full elbo_vae_load path runs. */
#include <sys/stat.h>

#include "elbo.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    elbo_error err;
    static int have_model;
    if (data[0] & 1) {
        if (!have_model) { /* a valid small checkpoint, written once */
            elbo_vae_config c;
            elbo_vae_config_default(&c);
            c.input_dim = 6;
            c.hidden[0] = 3;
            c.latent_dim = 2;
            c.max_batch = 2;
            c.threads = 1;
            elbo_vae *m = elbo_vae_create(&c, 1, &err);
            if (!m) abort();
            fuzz_path("x");
            char p[512];
            snprintf(p, sizeof p, "%s/m", fuzz_dir);
            mkdir(p, 0700);
            if (elbo_vae_save(m, p, &err) != ELBO_OK) abort();
            elbo_vae_free(m);
            have_model = 1;
        }
        fuzz_write("m/optim.safetensors", data + 1, size - 1);
        elbo_vae *m = elbo_vae_load(fuzz_path("m"), 0, &err);
        elbo_vae_free(m);
        unlink(fuzz_path("m/optim.prev.safetensors"));
    } else {
        const char *p = fuzz_write("w.safetensors", data + 1, size - 1);
        elbo_vae *m = elbo_vae_load(p, 4, &err);
        if (m) {
            float out[4 * 4096];
            const elbo_vae_config *c = elbo_vae_get_config(m);
            if (c->input_dim <= 4096) elbo_vae_sample(m, 2, 1, out);
        }
        elbo_vae_free(m);
    }
    return 0;
}
