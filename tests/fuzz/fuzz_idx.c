/* fuzz_idx.c — the idx/gzip reader. The first byte picks the role of the
 * input: an images file, or a labels file beside a valid 2-image file. */
#include "elbo.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    elbo_dataset ds;
    elbo_error err;
    char path[512];
    snprintf(path, sizeof path, "%s", fuzz_write(data[0] & 2 ? "in.gz" : "in", data + 1, size - 1));
    if (data[0] & 1) {
        static const uint8_t img[16 + 2 * 4] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8};
        char ip[512];
        snprintf(ip, sizeof ip, "%s", fuzz_write("img", img, sizeof img));
        if (elbo_dataset_load_idx(ip, path, &ds, &err) == ELBO_OK) elbo_dataset_free(&ds);
    } else if (elbo_dataset_load_idx(path, NULL, &ds, &err) == ELBO_OK) {
        /* touch every byte so ASan checks the buffer's extent */
        unsigned sum = 0;
        for (long i = 0; i < (long)ds.n * ds.dim; i++) sum += ds.u8[i];
        (void)sum;
        elbo_dataset_free(&ds);
    }
    return 0;
}
