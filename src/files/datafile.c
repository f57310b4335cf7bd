/* SPDX-License-Identifier: MIT */
/*
 * The append core of the file backends: see datafile.h.
 *
 * Every sync of a data file goes through sync_locked(): group commit
 * (fsync=always), the flusher (fsync=everysec), a flush before a rotation or
 * a reopen, and close. So one place decides what a sync covered, and a
 * failed one poisons the file for every path alike. No sync is tried once
 * the file is poisoned: on Linux it would return 0 (the error was reported
 * once), which would prove nothing.
 */
#include "files/datafile.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

/* Linux's value; <fcntl.h> declares it only with _GNU_SOURCE. */
#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif

#include "record/codec.h"
#include "util/fs.h"

int
papyra__fsync_param(papyra_store *s, const papyra__url *url, papyra__fsync *mode)
{
    const char *v = papyra__url_param(url, "fsync");

    if (!v || strcmp(v, "never") == 0)
        *mode = PAPYRA__FSYNC_NEVER;
    else if (strcmp(v, "always") == 0)
        *mode = PAPYRA__FSYNC_ALWAYS;
    else if (strcmp(v, "everysec") == 0)
        *mode = PAPYRA__FSYNC_EVERYSEC;
    else
        return papyra__store_error(
            s, PAPYRA_EINVAL, "parameter 'fsync' must be never, always or everysec (got '%s')", v);
    return 0;
}

/*
 * With df->mu held and no sync in flight: one fdatasync of fd, covering
 * every append registered so far. Appends go on meanwhile; fd stays (set_fd
 * waits while syncing). A failure poisons the file. Returns the sync's
 * result.
 */
static int
sync_locked(papyra__datafile *df)
{
    uint64_t target = df->written;
    int64_t end = df->written_end;
    int fd = df->fd, r = 0;

    df->syncing = true;
    pthread_mutex_unlock(&df->mu);
    /* No descriptor: nothing of ours is open, so nothing is left to sync. */
    if (fd >= 0 && fdatasync(fd) < 0)
        r = papyra__errno_code(errno);
    pthread_mutex_lock(&df->mu);
    df->syncing = false;
    if (r == 0) {
        if (target > df->synced)
            df->synced = target;
        if (end > df->durable_end)
            df->durable_end = end;
    } else if (df->failed == 0) {
        df->failed = r;
        df->failed_upto = target;
        df->failed_off = df->durable_end;
        atomic_store_explicit(&df->poisoned, true, memory_order_release);
    }
    pthread_cond_broadcast(&df->cv);
    return r;
}

/* fsync=everysec: syncs what was written, once a second, until close. */
static void *
flusher_main(void *arg)
{
    papyra__datafile *df = arg;
    struct timespec ts;

    pthread_mutex_lock(&df->mu);
    while (!df->stop) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += 1;
        while (!df->stop && pthread_cond_timedwait(&df->tick, &df->mu, &ts) != ETIMEDOUT)
            ;
        if (!df->stop && df->written > df->synced && df->failed == 0 && !df->syncing)
            (void)sync_locked(df);
    }
    pthread_mutex_unlock(&df->mu);
    return NULL;
}

int
papyra__datafile_init(
    papyra_store *s, papyra__datafile *df, const char *path, papyra__fsync fsync, mode_t mode)
{
    pthread_condattr_t ca;
    int r;

    memset(df, 0, sizeof(*df));
    df->fd = -1;
    df->fsync = fsync;
    df->mode = mode;
    atomic_init(&df->poisoned, false);
    atomic_init(&df->spare_busy, false);
    df->path = strdup(path);
    if (!df->path)
        return papyra__store_error(s, PAPYRA_ENOMEM, "out of memory");
    pthread_mutex_init(&df->mu, NULL);
    pthread_cond_init(&df->cv, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&df->tick, &ca);
    pthread_condattr_destroy(&ca);
    if (fsync == PAPYRA__FSYNC_EVERYSEC) {
        r = pthread_create(&df->flusher, NULL, flusher_main, df);
        if (r != 0) {
            r = papyra__errno_code(r);
            (void)papyra__datafile_close(s, df);
            return papyra__store_error(s, r, "cannot start the fsync thread: %s",
                                       papyra_strerror(r));
        }
        df->flusher_running = true;
    }
    return 0;
}

/* The message of a poisoned file; @p covered: for a writer the failed sync covered. */
static int
durability_error(papyra_store *s, papyra__datafile *df, bool covered, int code, int64_t off)
{
    if (covered)
        return papyra__store_error(s, code,
                                   "cannot sync %s: %s; records since offset %lld may not be "
                                   "durable; reopen the store or run recover",
                                   df->path, papyra_strerror(code), (long long)off);
    return papyra__store_error(s, PAPYRA_EIO,
                               "an earlier fsync of %s failed; records since offset %lld may not "
                               "be durable; reopen the store or run recover",
                               df->path, (long long)off);
}

int
papyra__datafile_close(papyra_store *s, papyra__datafile *df)
{
    int r = 0;

    if (!df->path)
        return 0;
    if (df->flusher_running) {
        pthread_mutex_lock(&df->mu);
        df->stop = true;
        pthread_cond_signal(&df->tick);
        pthread_mutex_unlock(&df->mu);
        pthread_join(df->flusher, NULL);
        df->flusher_running = false;
    }
    if (df->fd >= 0) {
        r = papyra__datafile_check(s, df);
        if (r == 0 && (r = papyra__datafile_flush(df)) < 0)
            r = durability_error(s, df, true, r, df->failed_off);
        close(df->fd);
        df->fd = -1;
    }
    pthread_mutex_destroy(&df->mu);
    pthread_cond_destroy(&df->cv);
    pthread_cond_destroy(&df->tick);
    papyra__buf_free(&df->spare);
    free(df->path);
    df->path = NULL;
    return r;
}

int
papyra__datafile_open(papyra__datafile *df, bool create, int64_t *size)
{
    const int flags = O_RDWR | O_APPEND | O_CLOEXEC | (create ? O_CREAT : 0);
    struct stat st;
    int fd, r;

    /* Never blocks on a FIFO, never appends to anything but a regular file. */
    fd = papyra__open_regular(df->path, flags, df->mode);
    if (fd == PAPYRA_ENOENT && errno == ENOENT && create) {
        r = papyra__mkdir_parents(df->path);
        if (r < 0)
            return r;
        fd = papyra__open_regular(df->path, flags, df->mode);
    }
    if (fd < 0)
        return fd;
    if (fstat(fd, &st) < 0) {
        r = papyra__errno_code(errno);
        close(fd);
        return r;
    }
    *size = st.st_size;
    return fd;
}

int
papyra__datafile_sync_dir(papyra__datafile *df)
{
    return df->fsync == PAPYRA__FSYNC_NEVER ? 0 : papyra__fsync_parent(df->path);
}

void
papyra__datafile_set_fd(papyra__datafile *df, int fd, int64_t size)
{
    int old;

    pthread_mutex_lock(&df->mu);
    while (df->syncing)
        pthread_cond_wait(&df->cv, &df->mu);
    old = df->fd;
    df->fd = fd;
    df->written_end = size;
    /* Appends still pending went to the file before: nothing of this one is known durable. */
    df->durable_end = df->synced == df->written ? size : 0;
    pthread_mutex_unlock(&df->mu);
    if (old >= 0 && old != fd)
        close(old);
}

/* Encodes the batch: every record's line and its "\n". */
static int
encode(papyra_store *s, const papyra_record *records, size_t n, int style, papyra_buf *b)
{
    int r = 0;

    for (size_t i = 0; i < n; i++) {
        r = papyra__store_encode(s, records, i, style, b);
        if (r < 0)
            return r;
        r = papyra__buf_putc(b, '\n');
        if (r < 0)
            return papyra__store_error(s, r, "out of memory");
    }
    return 0;
}

/* One write(2) of the batch; a part that the file system refused is taken back. */
static int
append(papyra__datafile *df, const papyra_buf *b, const papyra__appender *ap, void *ctx)
{
    struct stat st;
    size_t done;
    int r = papyra__write_all_done(df->fd, b->data, b->len, &done);

    if (r < 0 && done > 0) {
        if (ap->exclusive(ctx) == 0 && fstat(df->fd, &st) == 0 && st.st_nlink > 0)
            papyra__take_back_tail(df->fd, st.st_size, b->data, done);
        if (ap->release)
            ap->release(ctx);
    }
    return r;
}

/*
 * Registers an append that ended at or after offset @p end, under the
 * backend's lock: its number, for commit(). Nothing to do without syncs.
 */
static uint64_t
registered(papyra__datafile *df, int64_t end)
{
    uint64_t seq;

    if (df->fsync == PAPYRA__FSYNC_NEVER)
        return 0;
    pthread_mutex_lock(&df->mu);
    seq = ++df->written;
    if (end > df->written_end)
        df->written_end = end;
    pthread_mutex_unlock(&df->mu);
    return seq;
}

/*
 * With df->mu held: waits until append @p seq is covered by a sync that
 * succeeded, syncing when no other thread does (group commit). 0, or on a
 * poisoned file the error for it: the failed sync's own when it covered
 * @p seq (*covered), else the sticky PAPYRA_EIO.
 */
static int
wait_synced(papyra__datafile *df, uint64_t seq, bool *covered)
{
    for (;;) {
        if (df->synced >= seq)
            return 0;
        if (df->failed != 0) {
            *covered = seq <= df->failed_upto;
            return *covered ? df->failed : PAPYRA_EIO;
        }
        if (df->syncing)
            pthread_cond_wait(&df->cv, &df->mu);
        else
            (void)sync_locked(df);
    }
}

/*
 * The fsync policy for append @p seq, after the backend's lock is dropped:
 * fsync=always waits for a sync that covers it; the flusher takes care of
 * everysec.
 */
static int
commit(papyra_store *s, papyra__datafile *df, uint64_t seq)
{
    bool covered = false;
    int64_t off;
    int r;

    if (df->fsync != PAPYRA__FSYNC_ALWAYS)
        return 0;
    pthread_mutex_lock(&df->mu);
    r = wait_synced(df, seq, &covered);
    off = df->failed_off;
    pthread_mutex_unlock(&df->mu);
    return r < 0 ? durability_error(s, df, covered, r, off) : 0;
}

int
papyra__datafile_write(papyra_store *s,
                       papyra__datafile *df,
                       const papyra_record *records,
                       size_t n,
                       int style,
                       const papyra__appender *ap,
                       void *ctx)
{
    papyra_buf own, *b = papyra__buf_borrow(&df->spare, &df->spare_busy, &own);
    int64_t size = 0;
    uint64_t seq = 0;
    int r = encode(s, records, n, style, b);

    if (r == 0)
        r = papyra__datafile_check(s, df);
    if (r == 0)
        r = ap->lock(s, ctx, b->len, &size);
    if (r < 0) {
        papyra__buf_give(&df->spare, &df->spare_busy, b);
        return r;
    }
    r = append(df, b, ap, ctx);
    if (r == 0)
        seq = registered(df, size + (int64_t)b->len);
    ap->unlock(ctx, b->len, r < 0);
    if (r < 0)
        r = papyra__store_error(s, r, "cannot write to %s: %s", df->path, papyra_strerror(r));
    /* The buffer goes back first: other writers use it while this one waits for its sync. */
    papyra__buf_give(&df->spare, &df->spare_busy, b);
    return r < 0 ? r : commit(s, df, seq);
}

int
papyra__datafile_flush(papyra__datafile *df)
{
    bool covered = false;
    int r;

    pthread_mutex_lock(&df->mu);
    r = wait_synced(df, df->written, &covered);
    pthread_mutex_unlock(&df->mu);
    return r;
}

int
papyra__datafile_check(papyra_store *s, papyra__datafile *df)
{
    int64_t off;

    if (!atomic_load_explicit(&df->poisoned, memory_order_acquire))
        return 0;
    pthread_mutex_lock(&df->mu);
    off = df->failed_off;
    pthread_mutex_unlock(&df->mu);
    return durability_error(s, df, false, PAPYRA_EIO, off);
}

bool
papyra__datafile_poisoned(papyra__datafile *df)
{
    return atomic_load_explicit(&df->poisoned, memory_order_acquire);
}

void
papyra__datafile_rewritten(papyra__datafile *df, int64_t size)
{
    pthread_mutex_lock(&df->mu);
    /* A sync of the file before could still fail; it no longer matters once it is done. */
    while (df->syncing)
        pthread_cond_wait(&df->cv, &df->mu);
    df->synced = df->written;
    df->written_end = df->durable_end = size;
    df->failed = 0;
    df->failed_upto = 0;
    df->failed_off = 0;
    atomic_store_explicit(&df->poisoned, false, memory_order_release);
    pthread_cond_broadcast(&df->cv);
    pthread_mutex_unlock(&df->mu);
}

int
papyra__files_id(const char *path, int fd, papyra__file_id *id)
{
#ifdef SYS_statx
    static atomic_bool no_statx;
    const unsigned mask = STATX_INO | STATX_NLINK | STATX_SIZE;
    struct statx sx;

    if (!atomic_load_explicit(&no_statx, memory_order_relaxed)) {
        if (syscall(SYS_statx, fd < 0 ? AT_FDCWD : fd, fd < 0 ? path : "",
                    fd < 0 ? 0 : AT_EMPTY_PATH, mask, &sx) == 0 &&
            (sx.stx_mask & mask) == mask) {
            id->dev = (uint64_t)sx.stx_dev_major << 32 | sx.stx_dev_minor;
            id->ino = sx.stx_ino;
            id->nlink = sx.stx_nlink;
            id->size = sx.stx_size;
            return 0;
        }
        if (errno != ENOSYS && errno != EINVAL && errno != EPERM)
            return papyra__errno_code(errno);
        atomic_store_explicit(&no_statx, true, memory_order_relaxed);
    }
#endif
    {
        struct stat st;

        if ((fd < 0 ? stat(path, &st) : fstat(fd, &st)) < 0)
            return papyra__errno_code(errno);
        id->dev = (uint64_t)major(st.st_dev) << 32 | minor(st.st_dev);
        id->ino = st.st_ino;
        id->nlink = st.st_nlink;
        id->size = (uint64_t)st.st_size;
        return 0;
    }
}

int
papyra__files_mkdir_p(const char *dir)
{
    /* The same mode as papyra__mkdir_parents() gives a data file's parents. */
    return papyra__mkdir_p(dir, 0777);
}

int
papyra__files_install(int fd, const char *tmp, const char *dst, bool *renamed)
{
    *renamed = false;
    if (fsync(fd) < 0 || rename(tmp, dst) < 0)
        return papyra__errno_code(errno);
    *renamed = true;
    return papyra__fsync_parent(dst);
}

/*
 * A quarantine directory (and any parent it needs) no wider than the data
 * file of mode @p mode: its bits, with search where it has read.
 */
static int
quarantine_dir(const char *qdir, mode_t mode)
{
    return papyra__mkdir_p(qdir, (mode & 0666) | ((mode & 0444) >> 2));
}

int
papyra__files_quarantine_copy(
    int fd, const char *path, const char *qdir, long long ms, mode_t mode, char **ret)
{
    char *q = NULL;
    int r = quarantine_dir(qdir, mode);

    if (r == 0)
        r = papyra__quarantine_path(qdir, path, ms, &q);
    if (r == 0)
        r = papyra__copy_fd(fd, q, mode);
    if (r == 0 && (r = papyra__fsync_parent(q)) < 0)
        (void)unlink(q);
    if (r < 0) {
        free(q);
        return r;
    }
    *ret = q;
    return 0;
}

int
papyra__files_quarantine_move(const char *path, const char *qdir, long long ms, char **ret)
{
    char *q = NULL;
    int r = quarantine_dir(qdir, papyra__mode_like(path, 0666)), in;

    if (r == 0)
        r = papyra__quarantine_path(qdir, path, ms, &q);
    if (r == 0 && rename(path, q) < 0) {
        r = papyra__errno_code(errno);
        /* Across file systems a regular file is copied, then removed. */
        if (errno == EXDEV) {
            in = papyra__open_regular(path, O_RDONLY, 0);
            r = in < 0 ? in : papyra__copy_fd(in, q, papyra__mode_like(path, 0666));
            if (in >= 0)
                close(in);
            if (r == 0 && unlink(path) < 0)
                r = papyra__errno_code(errno);
        }
    }
    if (r == 0)
        r = papyra__fsync_parent(q);
    if (r == 0)
        r = papyra__fsync_parent(path);
    if (r < 0) {
        free(q);
        return r;
    }
    *ret = q;
    return 0;
}
