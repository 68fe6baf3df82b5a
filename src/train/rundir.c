/* rundir.c — run folders that cannot be clobbered (elbo_rundir_open in
 * elbo.h): an flock'd lock file naming its holder, refusal to train over an
 * existing run unless resuming or forced, and cleanup of temporaries left
 * by interrupted saves. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/common.h"

struct elbo_rundir {
    int fd; /* the lock file, flock'd while open */
};

/* The files that make a run; --force deletes them. */
static const char *const RUN_FILES[] = {"model.safetensors", "optim.safetensors",
                                        "optim.prev.safetensors", "metrics.jsonl",
                                        "samples.png", "reconstructions.png"};
#define N_RUN_FILES (sizeof RUN_FILES / sizeof RUN_FILES[0])

static int mkdirs(const char *path)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return -1;
    for (char *q = buf + 1; *q; q++) {
        if (*q != '/') continue;
        *q = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
        *q = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
    struct stat sb;
    return stat(buf, &sb) == 0 && S_ISDIR(sb.st_mode) ? 0 : -1;
}

static void remove_temporaries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        if (!strstr(e->d_name, ".safetensors.tmp.") && !strstr(e->d_name, ".jsonl.tmp.")) continue;
        char p[4400];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
}

/* Takes the lock or says who holds it. */
static elbo_status take_lock(const char *dir, int *fd_out, elbo_error *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/.lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) return elbo_fail(err, ELBO_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = 0;
        pid[strcspn(pid, "\n")] = 0;
        close(fd);
        return elbo_fail(err, ELBO_ERR_IO,
                         "%s is in use by another training run (process %s holds %s); wait for it "
                         "or stop it first",
                         dir, pid[0] ? pid : "unknown", path);
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len) { /* informative only */
    }
    *fd_out = fd;
    return ELBO_OK;
}

elbo_rundir *elbo_rundir_open(const char *dir, int resume, int force, char *replaced,
                              size_t replaced_cap, elbo_error *err)
{
    if (replaced && replaced_cap) replaced[0] = 0;
    if (mkdirs(dir) != 0) {
        elbo_fail(err, ELBO_ERR_IO, "cannot create output folder %s: %s", dir, strerror(errno));
        return NULL;
    }
    int fd = -1;
    if (take_lock(dir, &fd, err)) return NULL;
    remove_temporaries(dir);
    char found[512] = "", mpath[4200];
    struct stat msb;
    snprintf(mpath, sizeof mpath, "%s/model.safetensors", dir);
    /* a run is a checkpoint; files beside no checkpoint (a start that
     * crashed before its first save) are replaced silently */
    int have_run = stat(mpath, &msb) == 0;
    if (!have_run && !resume) force = 1;
    for (size_t i = 0; i < N_RUN_FILES; i++) {
        char p[4200];
        struct stat sb;
        snprintf(p, sizeof p, "%s/%s", dir, RUN_FILES[i]);
        if (stat(p, &sb) != 0) continue;
        size_t len = strlen(found);
        snprintf(found + len, sizeof found - len, "%s%s", len ? ", " : "", RUN_FILES[i]);
        if (force && !resume && unlink(p) != 0) {
            elbo_fail(err, ELBO_ERR_IO, "%s: cannot remove: %s", p, strerror(errno));
            close(fd);
            return NULL;
        }
    }
    elbo_status st = ELBO_OK;
    if (have_run && !resume && !force)
        st = elbo_fail(err, ELBO_ERR_ARG,
                       "%s already holds a run (%s); continue it with --resume, or replace it "
                       "with --force",
                       dir, found);
    if (st) {
        close(fd);
        return NULL;
    }
    if (have_run && force && !resume && replaced) snprintf(replaced, replaced_cap, "%s", found);
    elbo_rundir *d = malloc(sizeof *d);
    if (!d) {
        close(fd);
        elbo_fail(err, ELBO_ERR_NOMEM, "out of memory");
        return NULL;
    }
    d->fd = fd;
    return d;
}

void elbo_rundir_close(elbo_rundir *d)
{
    if (!d) return;
    close(d->fd); /* releases the flock */
    free(d);
}
