/* fuzz_csv.c — the CSV reader (src/data/csv.c) through elbo_dataset_load.
 * The first byte picks the options: a header (detect, yes, no), a label
 * column (none, the first, the last, by name "y") and gzip or raw. */
#include "elbo.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    static const char *const cols[] = {NULL, "0", "-1", "y"};
    elbo_load_opts o;
    elbo_load_opts_default(&o);
    o.header = (data[0] & 3) == 3 ? -1 : (data[0] & 3) - 1 + ((data[0] & 3) == 0);
    o.label_column = cols[(data[0] >> 2) & 3];
    o.format = "csv";
    elbo_dataset ds;
    elbo_error err;
    const char *p = fuzz_write("in.csv", data + 1, size - 1);
    if (elbo_dataset_load(p, &o, &ds, &err) == ELBO_OK) {
        double sum = 0;
        for (long i = 0; i < (long)ds.n * ds.dim; i++) sum += ds.f32[i];
        for (int i = 0; ds.labels && i < ds.n; i++) sum += ds.labels[i];
        (void)sum;
        elbo_dataset_free(&ds);
    }
    return 0;
}
