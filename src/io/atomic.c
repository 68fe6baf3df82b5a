/* atomic.c — see atomic.h. */
#include "atomic.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "safetensors.h"

elbo_status elbo_write_atomic(const char *path, int (*fill)(FILE *f, void *arg), void *arg, elbo_error *err)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= (int)sizeof tmp)
        return elbo_fail(err, ELBO_ERR_ARG, "%s: path too long", path);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return elbo_fail(err, ELBO_ERR_IO, "%s: cannot create a file beside it: %s", path, strerror(errno));
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return elbo_fail(err, ELBO_ERR_IO, "%s: %s", path, strerror(e));
    }
    int bad = fill(f, arg) != 0;
    bad |= fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return elbo_fail(err, ELBO_ERR_IO, "%s: write failed: %s", path, strerror(e));
    }
    st_sync_dir(path);
    return ELBO_OK;
}
