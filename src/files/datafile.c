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
#include <limits.h>
#include <linux/futex.h>
#include <linux/stat.h>
#include <sched.h>
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
 * Group commit: the longest a leader gathers, whatever the last sync took
 * (a writer that comes back, even behind dozens of others on two busy
 * cores, registers within a fraction of this).
 */
#define GATHER_MAX_NS 1000000

/*
 * How long a waiter for a sync yields the CPU (sched_yield) before it sleeps
 * on the futex: about a sync of a local disk. A thread woken from a futex
 * sleep takes tens of microseconds to run again (an idle virtual CPU is
 * woken by an interrupt), which at one sync per 150 us was half of each
 * group commit's cycle; a thread that yields sees the sync end at once and
 * still gives the CPU to every thread that has work (writers coming back).
 */
#define SPIN_NS 200000

/* CLOCK_MONOTONIC in nanoseconds. */
static int64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Appends registered and not yet covered by a sync that succeeded. */
static uint64_t
pending(papyra__datafile *df)
{
    uint64_t synced = atomic_load_explicit(&df->synced, memory_order_relaxed);

    return atomic_load_explicit(&df->written, memory_order_acquire) - synced;
}

/*
 * Waits until df->epoch no longer holds @p epoch (a sync ended), at most
 * @p ns nanoseconds when @p ns > 0; may return early: the caller looks
 * again. It yields for up to SPIN_NS first, then sleeps on a futex, not on
 * df->cv: the threads a sync releases go back to work without taking df->mu
 * in turn.
 */
static void
sleep_epoch(papyra__datafile *df, unsigned epoch, int64_t ns)
{
    int64_t start = now_ns(), spun;
    struct timespec ts;

    do {
        if (atomic_load(&df->epoch) != epoch)
            return;
        sched_yield();
        spun = now_ns() - start;
    } while (spun < SPIN_NS && (ns <= 0 || spun < ns));
    if (ns > 0 && (ns -= spun) <= 0)
        return;
    ts.tv_sec = (time_t)(ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    atomic_fetch_add(&df->sleepers, 1);
    (void)syscall(SYS_futex, &df->epoch, FUTEX_WAIT_PRIVATE, epoch, ns > 0 ? &ts : NULL, NULL, 0);
    atomic_fetch_sub(&df->sleepers, 1);
}

/* With df->mu held: a sync ended (or a rewrite made every append durable); wakes the sleepers. */
static void
wake_epoch(papyra__datafile *df)
{
    atomic_fetch_add(&df->epoch, 1);
    if (atomic_load(&df->sleepers) > 0)
        (void)syscall(SYS_futex, &df->epoch, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
    /* set_fd and rewritten wait there for the end of a sync. */
    pthread_cond_broadcast(&df->cv);
}

/*
 * With df->mu held, as the leader and with no sync in flight: one fdatasync
 * of fd, covering every append registered so far. Appends go on meanwhile;
 * fd stays (set_fd waits while syncing). A failure poisons the file.
 * Returns the sync's result.
 */
static int
sync_locked(papyra__datafile *df)
{
    /* Acquire: the end of every append this count includes is in written_end too. */
    uint64_t target = atomic_load_explicit(&df->written, memory_order_acquire);
    int64_t end = atomic_load_explicit(&df->written_end, memory_order_relaxed);
    int64_t start = now_ns();
    int fd = df->fd, r = 0;

    df->syncing = true;
    pthread_mutex_unlock(&df->mu);
    /* No descriptor: nothing of ours is open, so nothing is left to sync. */
    if (fd >= 0 && fdatasync(fd) < 0)
        r = papyra__errno_code(errno);
    pthread_mutex_lock(&df->mu);
    df->syncing = false;
    df->sync_ns = now_ns() - start;
    if (r == 0) {
        if (target > atomic_load_explicit(&df->synced, memory_order_relaxed))
            atomic_store_explicit(&df->synced, target, memory_order_release);
        if (end > df->durable_end)
            df->durable_end = end;
    } else if (df->failed == 0) {
        df->failed = r;
        df->failed_upto = target;
        df->failed_off = df->durable_end;
        atomic_store_explicit(&df->poisoned, true, memory_order_release);
    }
    /*
     * The writers waiting now either were covered, and will come back with
     * their next append, or are registered already: the next leader gathers
     * until that many appends are pending.
     */
    df->expect = atomic_load(&df->waiting);
    return r;
}

/*
 * With df->mu held and no sync in flight: leads one sync and wakes the
 * threads waiting for it. Returns the sync's result.
 */
static int
lead(papyra__datafile *df)
{
    int r;

    df->leading = true;
    r = sync_locked(df);
    df->leading = false;
    wake_epoch(df);
    return r;
}

/* With df->mu held: a leader that gathers has every append it waits for. */
static bool
gathered(papyra__datafile *df)
{
    return pending(df) >= df->expect;
}

/*
 * With df->mu held: when a leader gathers and has nothing left to wait for
 * (the caller registered the append it waited for, or is a flush), the
 * caller takes its sync over and syncs at once, on its own time rather
 * than after waking the gatherer.
 */
static void
take_over(papyra__datafile *df)
{
    if (df->gathering && (df->flushing > 0 || gathered(df))) {
        df->gathering = false;
        (void)lead(df);
    }
}

/*
 * With df->mu held and no leader, for group commit: becomes the leader and
 * gathers before it syncs, that is waits until as many appends are pending
 * as writers waited at the end of the last sync, so that the writers that
 * sync released ride on this one rather than on the next (else half of
 * the writers would be writing behind every sync, and each sync would
 * cover the other half). The writer whose append completes the group, or a
 * flush, takes the sync over (take_over()); otherwise the gatherer syncs
 * itself after at most half as long as the last sync took (and at most
 * GATHER_MAX_NS), so a writer that does not come back costs the others at
 * most that, once (each sync counts the writers again).
 */
static void
gather(papyra__datafile *df)
{
    int64_t wait = df->sync_ns / 2 < GATHER_MAX_NS ? df->sync_ns / 2 : GATHER_MAX_NS;
    int64_t until = now_ns() + wait, left;
    unsigned epoch;

    df->leading = true;
    df->gathering = true;
    while (df->gathering && !gathered(df) && (left = until - now_ns()) > 0) {
        epoch = atomic_load(&df->epoch);
        pthread_mutex_unlock(&df->mu);
        sleep_epoch(df, epoch, left);
        pthread_mutex_lock(&df->mu);
    }
    if (df->gathering) {
        df->gathering = false;
        (void)lead(df);
    }
}

/*
 * Waits until append @p seq is covered by a sync that succeeded, leading a
 * sync when no other thread does (group commit; the leader gathers first
 * when @p gathers; a @p flush never gathers, and makes a gathering leader
 * sync at once). Takes and drops df->mu. 0, or on a poisoned file the
 * error for it: the failed sync's own when it covered @p seq (*covered),
 * else the sticky PAPYRA_EIO; *off: where the records that may not be
 * durable start.
 */
static int
wait_synced(
    papyra__datafile *df, uint64_t seq, bool gathers, bool flush, bool *covered, int64_t *off)
{
    unsigned epoch;
    int r;

    pthread_mutex_lock(&df->mu);
    if (flush)
        df->flushing++;
    take_over(df);
    for (;;) {
        if (atomic_load_explicit(&df->synced, memory_order_relaxed) >= seq) {
            r = 0;
            break;
        }
        if (df->failed != 0) {
            *covered = seq <= df->failed_upto;
            *off = df->failed_off;
            r = *covered ? df->failed : PAPYRA_EIO;
            break;
        }
        if (!df->leading) {
            if (gathers && !gathered(df))
                gather(df);
            else
                (void)lead(df);
            continue;
        }
        epoch = atomic_load(&df->epoch);
        pthread_mutex_unlock(&df->mu);
        sleep_epoch(df, epoch, 0);
        /* The usual wake: a sync that succeeded covered the append; back to work unlocked. */
        if (!flush && atomic_load_explicit(&df->synced, memory_order_acquire) >= seq)
            return 0;
        pthread_mutex_lock(&df->mu);
    }
    if (flush)
        df->flushing--;
    pthread_mutex_unlock(&df->mu);
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
        /* A sync some other thread leads (a rotation's flush) covers the same. */
        if (!df->stop && pending(df) > 0 && df->failed == 0 && !df->leading)
            (void)lead(df);
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
    atomic_init(&df->written, 0);
    atomic_init(&df->written_end, 0);
    atomic_init(&df->synced, 0);
    atomic_init(&df->waiting, 0);
    atomic_init(&df->epoch, 0);
    atomic_init(&df->sleepers, 0);
    atomic_init(&df->poisoned, false);
    atomic_init(&df->spare_busy, false);
    df->path = strdup(path);
    if (!df->path)
        return papyra__store_error(s, PAPYRA_ENOMEM, "out of memory");
    pthread_mutex_init(&df->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&df->cv, NULL);
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
    /* Under the backend's lock: no append registers meanwhile. */
    atomic_store_explicit(&df->written_end, size, memory_order_relaxed);
    /* Appends still pending went to the file before: nothing of this one is known durable. */
    df->durable_end = pending(df) == 0 ? size : 0;
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
 * backend's lock: its number, for commit(). Nothing to do without syncs;
 * with them two atomic operations and no lock, so that fsync=everysec costs
 * the write path what fsync=never does.
 */
static uint64_t
registered(papyra__datafile *df, int64_t end)
{
    int_fast64_t cur;

    if (df->fsync == PAPYRA__FSYNC_NEVER)
        return 0;
    cur = atomic_load_explicit(&df->written_end, memory_order_relaxed);
    while (end > cur &&
           !atomic_compare_exchange_weak_explicit(&df->written_end, &cur, end, memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
    /* Release: a sync that counts this append sees its end, and its write is done. */
    return atomic_fetch_add_explicit(&df->written, 1, memory_order_release) + 1;
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
    int64_t off = 0;
    int r;

    if (df->fsync != PAPYRA__FSYNC_ALWAYS)
        return 0;
    atomic_fetch_add(&df->waiting, 1);
    r = wait_synced(df, seq, true, false, &covered, &off);
    atomic_fetch_sub(&df->waiting, 1);
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
    int64_t off = 0;

    /* A leader that gathers for writers syncs at once: this caller holds up the backend. */
    return wait_synced(df, atomic_load_explicit(&df->written, memory_order_acquire), false, true,
                       &covered, &off);
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
    atomic_store_explicit(&df->synced, atomic_load(&df->written), memory_order_release);
    atomic_store_explicit(&df->written_end, size, memory_order_relaxed);
    df->durable_end = size;
    df->failed = 0;
    df->failed_upto = 0;
    df->failed_off = 0;
    atomic_store_explicit(&df->poisoned, false, memory_order_release);
    wake_epoch(df);
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
