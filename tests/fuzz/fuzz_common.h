/* fuzz_common.h — helpers for the libFuzzer targets: the loaders take paths,
 * so each input is written to a file in a private temporary folder (tmpfs
 * when /dev/shm exists). */
#ifndef ELBO_FUZZ_COMMON_H
#define ELBO_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fuzz_dir[256];

static const char *fuzz_path(const char *name)
{
    static char p[512];
    if (!fuzz_dir[0]) {
        snprintf(fuzz_dir, sizeof fuzz_dir, "%s/elbo-fuzz-XXXXXX",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        if (!mkdtemp(fuzz_dir)) abort();
    }
    snprintf(p, sizeof p, "%s/%s", fuzz_dir, name);
    return p;
}

/* Writes data to fuzz_dir/name and returns the path (static buffer). */
static const char *fuzz_write(const char *name, const uint8_t *data, size_t n)
{
    const char *p = fuzz_path(name);
    FILE *f = fopen(p, "wb");
    if (!f) abort();
    if (n && fwrite(data, 1, n, f) != n) abort();
    fclose(f);
    return p;
}

#endif
