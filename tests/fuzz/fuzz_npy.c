/* fuzz_npy.c — the .npy reader (src/data/npy_read.c) through
 * elbo_dataset_load. The first byte picks the role of the input: a data
 * file, or a labels file beside a valid 2-row data file. */
#include "elbo.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    elbo_dataset ds;
    elbo_error err;
    elbo_load_opts o;
    elbo_load_opts_default(&o);
    char path[512];
    snprintf(path, sizeof path, "%s", fuzz_write("in.npy", data + 1, size - 1));
    if (data[0] & 1) {
        static char dp[512];
        if (!dp[0]) { /* a valid 2-row data file, written once by elbo itself */
            static const uint8_t two[6] = {1, 2, 3, 4, 5, 6};
            int64_t shape[2] = {2, 3};
            snprintf(dp, sizeof dp, "%s", fuzz_path("two.npy"));
            if (elbo_write_npy(dp, two, ELBO_NPY_U8, 2, shape, &err) != ELBO_OK) abort();
        }
        o.labels = path;
        if (elbo_dataset_load(dp, &o, &ds, &err) == ELBO_OK) elbo_dataset_free(&ds);
    } else if (elbo_dataset_load(path, &o, &ds, &err) == ELBO_OK) {
        /* touch every value so ASan checks the extent */
        float row[1 << 12], sum = 0;
        for (int i = 0; i < ds.n && ds.dim <= (1 << 12); i++) {
            elbo_dataset_row(&ds, i, row);
            sum += row[ds.dim - 1];
        }
        (void)sum;
        elbo_dataset_drop_label(&ds, 0);
        elbo_dataset_free(&ds);
    }
    return 0;
}
