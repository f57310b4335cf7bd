/* SPDX-License-Identifier: MIT */
/*
 * The rotating JSON-lines backend: "rotating:PATH?max_bytes=N&max_files=N&fsync=...".
 *
 * Records are upstream's rotating lines ("kind" last, \uXXXX escapes) in the
 * active file PATH and the rotated files PATH.1 (newest) .. PATH.<max_files-1>
 * (oldest). Writers keep one O_APPEND descriptor on the active file and hold
 * a shared flock() on "<dir>/.<name>.lock" around each batch (appends of
 * several processes run at once), made exclusive only to rotate, reopen or
 * repair a tail; readers hold it shared while they open their snapshot,
 * recover and compact hold it exclusively for their whole run.
 * docs/backend-rotating.md describes the protocols.
 */
#include "backends/rotating/rotating.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/stat.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "core/backend.h"
#include "record/codec.h"
#include "util/fs.h"

/* Linux's value; <fcntl.h> declares it only with _GNU_SOURCE. */
#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif

static const char *const own_keys[] = {"max_bytes", "max_files", "fsync", NULL};

static int64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
rot_free(papyra__rot *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    if (r->lock_fd >= 0)
        close(r->lock_fd);
    pthread_mutex_destroy(&r->mu);
    pthread_mutex_destroy(&r->syncmu);
    pthread_cond_destroy(&r->synccv);
    free(r->path);
    free(r->dir);
    free(r->prefix);
    free(r->name);
    free(r->lock_path);
    free(r->stage_path);
    free(r->commit_path);
    papyra__buf_free(&r->spare);
    free(r);
}

/* Splits the path into directory, prefix and name, and derives our own file names. */
static int
rot_names(papyra__rot *r, const char *path)
{
    const char *slash = strrchr(path, '/');

    r->path = strdup(path);
    if (slash) {
        r->prefix = strndup(path, (size_t)(slash - path) + 1);
        r->dir = slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
        r->name = strdup(slash + 1);
    } else {
        r->prefix = strdup("");
        r->dir = strdup(".");
        r->name = strdup(path);
    }
    if (!r->path || !r->prefix || !r->dir || !r->name)
        return PAPYRA_ENOMEM;
    if (papyra__asprintf(&r->lock_path, "%s/.%s.lock", r->dir, r->name) < 0 ||
        papyra__asprintf(&r->stage_path, "%s/.%s.rebuild", r->dir, r->name) < 0 ||
        papyra__asprintf(&r->commit_path, "%s/COMMIT", r->stage_path) < 0)
        return PAPYRA_ENOMEM;
    return 0;
}

static int
rot_open(papyra_store *s, const papyra__url *url)
{
    const char *fs = papyra__url_param(url, "fsync");
    papyra__rot *r;
    int e;

    e = papyra__url_check(s, url, own_keys);
    if (e < 0)
        return e;
    if (!url->path || !url->path[0])
        return papyra__store_error(s, PAPYRA_EINVAL, "rotating: needs a file path");
    if (url->path[strlen(url->path) - 1] == '/')
        return papyra__store_error(s, PAPYRA_EINVAL, "rotating: '%s' names a directory", url->path);
    r = calloc(1, sizeof(*r));
    if (!r)
        return papyra__store_error(s, PAPYRA_ENOMEM, "out of memory");
    r->fd = -1;
    r->lock_fd = -1;
    pthread_mutex_init(&r->mu, NULL);
    pthread_mutex_init(&r->syncmu, NULL);
    pthread_cond_init(&r->synccv, NULL);
    e = papyra__url_int(s, url, "max_bytes", 1, 50000000, &r->max_bytes);
    if (e == 0)
        e = papyra__url_int(s, url, "max_files", 1, 5, &r->max_files);
    if (e == 0 && fs) {
        if (strcmp(fs, "never") == 0)
            r->fsync_mode = PAPYRA__ROT_FSYNC_NEVER;
        else if (strcmp(fs, "always") == 0)
            r->fsync_mode = PAPYRA__ROT_FSYNC_ALWAYS;
        else if (strcmp(fs, "everysec") == 0)
            r->fsync_mode = PAPYRA__ROT_FSYNC_EVERYSEC;
        else
            e = papyra__store_error(
                s, PAPYRA_EINVAL, "parameter 'fsync' must be never, always or everysec (got '%s')",
                fs);
    }
    if (e == 0 && rot_names(r, url->path) < 0)
        e = papyra__store_error(s, PAPYRA_ENOMEM, "out of memory");
    /*
     * Like upstream's constructor, opening does not need the disk: the
     * directory and lock file are made here when possible, else by the first
     * operation, which then reports the error.
     */
    if (e == 0)
        (void)papyra__rot_lock_ready(r);
    /* Finish or discard a rebuild that a crashed process left behind. */
    if (e == 0 && r->lock_fd >= 0 && papyra__rot_pending(r)) {
        e = papyra__rot_flock(r->lock_fd, LOCK_EX);
        if (e == 0) {
            e = papyra__rot_settle(r);
            (void)papyra__rot_flock(r->lock_fd, LOCK_UN);
        }
        if (e < 0)
            e = papyra__store_error(s, e, "rotating: cannot settle an interrupted rebuild: %s",
                                    papyra_strerror(e));
    }
    if (e == 0 && !s->data_path && !(s->data_path = strdup(url->path)))
        e = papyra__store_error(s, PAPYRA_ENOMEM, "out of memory");
    if (e < 0) {
        rot_free(r);
        return e;
    }
    r->last_sync_ns = now_ns();
    s->impl = r;
    return 0;
}

static int
rot_close(papyra_store *s)
{
    papyra__rot *r = s->impl;
    int e = 0;

    if (!r)
        return 0;
    if (r->fd >= 0 && r->dirty && fdatasync(r->fd) < 0)
        e = papyra__store_error(s, papyra__errno_code(errno), "rotating: fdatasync: %s",
                                strerror(errno));
    rot_free(r);
    s->impl = NULL;
    return e;
}

/*
 * The identity, link count and size of a file: of @p path when @p fd is -1
 * (following symbolic links, as open() does), else of @p fd. statx asking for
 * only these is one cheap call that replaces the stat of PATH and the fstat
 * of the descriptor a write used to need; stat/fstat are the fallback on
 * kernels without statx.
 */
typedef struct file_id {
    uint64_t dev, ino, nlink, size;
} file_id;

static int
get_id(const char *path, int fd, file_id *id)
{
#ifdef SYS_statx
    static atomic_bool no_statx;
    struct statx sx;

    if (!atomic_load_explicit(&no_statx, memory_order_relaxed)) {
        const unsigned mask = STATX_INO | STATX_NLINK | STATX_SIZE;
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

/*
 * With the exclusive lock held: (re)opens r->fd on the active file PATH,
 * creating it, and terminates a torn last line so the next record does not
 * glue onto it. *size: the file's size afterwards.
 */
static int
reopen(papyra__rot *r, uint64_t *size)
{
    file_id id;
    char last;
    int fd, e;

    if (r->fd >= 0) {
        if (r->dirty)
            (void)fdatasync(r->fd);
        r->dirty = false;
        close(r->fd);
        r->fd = -1;
    }
    r->tail_known = false;
    fd = open(r->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0 && errno == ENOENT && papyra__mkdir_p(r->dir, 0777) == 0)
        fd = open(r->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        return papyra__errno_code(errno);
    e = get_id(NULL, fd, &id);
    if (e < 0) {
        close(fd);
        return e;
    }
    /* A new, empty active file: make its name durable when durability is asked for. */
    if (r->fsync_mode != PAPYRA__ROT_FSYNC_NEVER && id.size == 0)
        (void)papyra__fsync_parent(r->path);
    if (id.size > 0 && pread(fd, &last, 1, (off_t)id.size - 1) == 1 && last != '\n' &&
        last != '\r') {
        e = papyra__write_all(fd, "\n", 1);
        if (e < 0) {
            close(fd);
            return e;
        }
        id.size++;
    }
    r->fd = fd;
    r->fd_dev = id.dev;
    r->fd_ino = id.ino;
    r->tail_known = true;
    r->expect_size = id.size;
    *size = id.size;
    return 0;
}

/*
 * Rotates with the writer lock held: deletes the oldest file when all slots
 * are taken, shifts .i to .i+1 and renames the active file to .1. Every
 * intermediate state is a valid set (at worst with a gap in the numbering),
 * so a crash loses nothing that rotation would not have dropped anyway.
 */
static int
rotate(papyra__rot *r, uint64_t *size)
{
    int64_t top = 0, i;
    char *a, *b;
    int e = 0;

    if (r->dirty && fdatasync(r->fd) < 0)
        return papyra__errno_code(errno);
    r->dirty = false;
    if (r->max_files == 1) {
        /*
         * One file only: starting afresh is the documented meaning. A new
         * file rather than a truncation, so that a reader's snapshot of the
         * old one stays intact.
         */
        if (unlink(r->path) < 0 && errno != ENOENT)
            return papyra__errno_code(errno);
        return reopen(r, size);
    }
    /* The run of existing rotated files .1 .. .top; a gap ends it (older files shift later). */
    while (top + 1 < r->max_files) {
        a = papyra__rot_file(r, top + 1);
        if (!a)
            return PAPYRA_ENOMEM;
        bool there = papyra__rot_exists(a);
        free(a);
        if (!there)
            break;
        top++;
    }
    if (top == r->max_files - 1) {
        e = papyra__rot_remove(r, top);
        if (e < 0)
            return e;
        top--;
    }
    for (i = top; i >= 0; i--) {
        a = papyra__rot_file(r, i);
        b = papyra__rot_file(r, i + 1);
        if (!a || !b)
            e = PAPYRA_ENOMEM;
        else if (rename(a, b) < 0 && errno != ENOENT)
            e = papyra__errno_code(errno);
        free(a);
        free(b);
        if (e < 0)
            return e;
    }
    /* reopen() fsyncs the directory (the renames and the new file) when asked to. */
    return reopen(r, size);
}

/*
 * fsync=always without one fdatasync per batch: a batch waits until a sync
 * that started after it was written has finished. One thread syncs (a
 * duplicate of the active descriptor, so rotation may close the original
 * meanwhile; a rotated file was synced before it was closed) while the
 * others wait, and that one sync covers every batch written before it.
 */
static int
group_sync(papyra__rot *r, uint64_t seq)
{
    int e = 0;

    pthread_mutex_lock(&r->syncmu);
    for (;;) {
        uint64_t target;
        int fd, err = 0;

        if (r->synced_seq >= seq)
            break;
        if (r->failed_seq >= seq) {
            e = r->sync_err;
            break;
        }
        if (r->syncing) {
            pthread_cond_wait(&r->synccv, &r->syncmu);
            continue;
        }
        r->syncing = true;
        pthread_mutex_unlock(&r->syncmu);

        pthread_mutex_lock(&r->mu);
        target = r->write_seq;
        /* No descriptor: a rebuild replaced the set with fsynced files. */
        fd = r->fd >= 0 ? fcntl(r->fd, F_DUPFD_CLOEXEC, 0) : -2;
        if (fd == -1)
            err = papyra__errno_code(errno);
        pthread_mutex_unlock(&r->mu);
        if (fd >= 0) {
            if (fdatasync(fd) < 0)
                err = papyra__errno_code(errno);
            close(fd);
        }

        pthread_mutex_lock(&r->syncmu);
        r->syncing = false;
        if (err < 0) {
            if (target > r->failed_seq)
                r->failed_seq = target;
            r->sync_err = err;
        } else if (target > r->synced_seq) {
            r->synced_seq = target;
        }
        pthread_cond_broadcast(&r->synccv);
    }
    pthread_mutex_unlock(&r->syncmu);
    return e;
}

/*
 * With r->mu held: takes the lock for appending @p len bytes and makes r->fd
 * the current active file, ready for them. A plain append holds the lock
 * shared (O_APPEND writes of several processes do not interleave, so the
 * lock only has to keep rotation, recover and compact out); anything that
 * changes the set or repairs a tail makes it exclusive first and then checks
 * again, since flock() drops a shared lock before it takes the exclusive one
 * and another process may have acted in between. In the usual case this is
 * one statx of PATH: same file as r->fd (else another process rotated,
 * compacted or recovered: reopen), one link (a rebuild that crashed leaves a
 * second link in its staging directory, see papyra__rot_stage_begin: settle
 * it), and the size (to rotate, and when another process appended since
 * this handle's last write, to check that the file ends with a newline).
 * *excl tells which lock is held; *size is the file's size before the append.
 */
static int
append_lock(papyra__rot *r, size_t len, bool *excl, uint64_t *size)
{
    bool ex = false;
    int e;

    for (;;) {
        file_id id;
        uint64_t sz;
        char c;

        e = papyra__rot_flock(r->lock_fd, ex ? LOCK_EX : LOCK_SH);
        if (e < 0)
            return e;
        if (r->fd < 0 || get_id(r->path, -1, &id) < 0 || id.ino != r->fd_ino ||
            id.dev != r->fd_dev) {
            /* No descriptor yet, or PATH was replaced: reopen, exclusively. */
            if (!ex) {
                ex = true;
                continue;
            }
            e = papyra__rot_pending(r) ? papyra__rot_settle(r) : 0;
            if (e == 0)
                e = reopen(r, &sz);
            if (e < 0)
                break;
        } else if (id.nlink != 1 && papyra__rot_pending(r)) {
            if (!ex) {
                ex = true;
                continue;
            }
            e = papyra__rot_settle(r);
            if (e < 0)
                break;
            continue; /* the settled set may have a new active file */
        } else {
            sz = id.size;
            /* Another process appended since (or our last write failed): is the tail whole? */
            if (sz > 0 && !(r->tail_known && sz == r->expect_size)) {
                if (pread(r->fd, &c, 1, (off_t)sz - 1) != 1) {
                    e = PAPYRA_EIO;
                    break;
                }
                /* Maybe another process's append in progress: look again with it finished. */
                if (c != '\n' && c != '\r' && !ex) {
                    ex = true;
                    continue;
                }
                if (c != '\n' && c != '\r') {
                    e = papyra__write_all(r->fd, "\n", 1);
                    if (e < 0)
                        break;
                    sz++;
                }
            }
        }
        if (sz > 0 && sz + len > (uint64_t)r->max_bytes) {
            if (!ex) {
                ex = true;
                continue;
            }
            e = rotate(r, &sz);
            if (e < 0)
                break;
        }
        *excl = ex;
        *size = sz;
        return 0;
    }
    (void)papyra__rot_flock(r->lock_fd, LOCK_UN);
    return e;
}

/*
 * A write that the file system refused after @p done bytes (disk full,
 * file-size limit) is taken back, so that no torn line and no part of the
 * failed batch stays: with the lock made exclusive (no append of any process
 * runs), the file is truncated if it still ends with exactly those bytes.
 * Otherwise (another process appended after them while the lock was shared)
 * the torn line stays, and the next append terminates it.
 */
static void
take_back(papyra__rot *r, bool excl, const char *data, size_t done)
{
    file_id id;

    if (done == 0 || (!excl && papyra__rot_flock(r->lock_fd, LOCK_EX) < 0))
        return;
    if (get_id(NULL, r->fd, &id) == 0 && id.nlink > 0)
        papyra__take_back_tail(r->fd, (off_t)id.size, data, done);
}

static int
rot_write(papyra_store *s, const papyra_record *records, size_t n, size_t *stored)
{
    papyra__rot *r = s->impl;
    papyra_buf own, *b = papyra__buf_borrow(&r->spare, &r->spare_busy, &own);
    uint64_t seq = 0, size = 0;
    bool excl = false;
    size_t i, done;
    int e = 0;

    for (i = 0; i < n; i++) {
        e = papyra__record_encode(&records[i], PAPYRA_STYLE_ROTATING, b);
        if (e == 0)
            e = papyra__buf_putc(b, '\n');
        if (e < 0) {
            papyra__buf_give(&r->spare, &r->spare_busy, b);
            return papyra__store_error(s, e, "rotating: record %zu cannot be serialised: %s", i,
                                       papyra_strerror(e));
        }
    }
    pthread_mutex_lock(&r->mu);
    e = papyra__rot_lock_ready(r);
    if (e == 0)
        e = append_lock(r, b->len, &excl, &size);
    if (e < 0) {
        pthread_mutex_unlock(&r->mu);
        papyra__buf_give(&r->spare, &r->spare_busy, b);
        return papyra__store_error(s, e, "rotating: cannot lock '%s': %s", r->lock_path,
                                   papyra_strerror(e));
    }
    e = papyra__write_all_done(r->fd, b->data, b->len, &done);
    if (e < 0) {
        /* Take a partial batch back, so no torn line stays behind. */
        take_back(r, excl, b->data, done);
        r->tail_known = false;
    } else {
        r->tail_known = true;
        r->expect_size = size + b->len;
    }
    if (e == 0 && r->fsync_mode != PAPYRA__ROT_FSYNC_NEVER) {
        r->dirty = true;
        seq = ++r->write_seq;
        if (r->fsync_mode == PAPYRA__ROT_FSYNC_EVERYSEC &&
            now_ns() - r->last_sync_ns >= 1000000000) {
            if (fdatasync(r->fd) < 0)
                e = papyra__errno_code(errno);
            r->dirty = false;
            r->last_sync_ns = now_ns();
        }
    }
    (void)papyra__rot_flock(r->lock_fd, LOCK_UN);
    pthread_mutex_unlock(&r->mu);
    papyra__buf_give(&r->spare, &r->spare_busy, b);
    if (e == 0 && r->fsync_mode == PAPYRA__ROT_FSYNC_ALWAYS)
        e = group_sync(r, seq);
    if (e < 0)
        return papyra__store_error(s, e, "rotating: cannot write '%s': %s", r->path,
                                   papyra_strerror(e));
    return 0;
}

/* A newest-first walk over one kind: retention, then since, then limit, stopping early. */
typedef struct list_walk {
    papyra_kind kind;
    const papyra__retention *ret;
    papyra__retention_state rs;
    bool retain;
    const papyra_list_options *opts;
    papyra_record_list *list;
    size_t cap;
    uint64_t anomalies;
    bool done;
} list_walk;

static int
list_add(list_walk *w, const papyra_record *rec)
{
    if (w->list->count == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        papyra_record *nr = realloc(w->list->records, cap * sizeof(*nr));
        if (!nr)
            return PAPYRA_ENOMEM;
        w->list->records = nr;
        w->cap = cap;
    }
    w->list->records[w->list->count++] = *rec;
    return 0;
}

/* Offers one line, newest first; sets w->done when nothing older can be listed. */
static int
list_line(list_walk *w, const papyra__rot_line *line)
{
    papyra_json *obj = NULL;
    papyra_record rec;
    double ts;
    /* A torn last line is an anomaly for list as for scan, recover and compact. */
    int e = line->terminated ? papyra__json_parse_object(line->data, line->len, &obj) : 0;

    if (e <= 0) {
        w->anomalies += e == 0;
        return e;
    }
    if (papyra__record_kind_of(obj) != (int)w->kind) {
        papyra__json_free(obj);
        return 0;
    }
    memset(&rec, 0, sizeof(rec));
    e = papyra__record_decode(obj, NULL, &rec);
    papyra__json_free(obj);
    if (e < 0)
        return e == PAPYRA_ENOMEM ? e : 0;
    ts = papyra__record_time(&rec);
    if (w->retain) {
        int v = papyra__retention_offer(w->ret, &w->rs, ts, line->stored);
        if (v <= 0) {
            papyra__record_clear(&rec);
            w->done = v < 0;
            return 0;
        }
    }
    if (w->opts->has_since && !(ts >= w->opts->since)) {
        papyra__record_clear(&rec);
        return 0;
    }
    e = list_add(w, &rec);
    if (e < 0) {
        papyra__record_clear(&rec);
        return e;
    }
    w->done = w->opts->limit > 0 && w->list->count >= w->opts->limit;
    return 0;
}

/*
 * Lists newest first, reading each file from its end, so that a limit or a
 * retention cut reads only the newest part of the set; the result is then
 * put back in oldest-to-newest order.
 */
static int
rot_list(papyra_store *s,
         papyra_kind kind,
         const papyra_list_options *opts,
         papyra__list_result *out)
{
    papyra__rot *r = s->impl;
    papyra__rot_snap snap;
    list_walk w = {0};
    size_t i;
    int e;

    w.list = calloc(1, sizeof(*w.list));
    if (!w.list)
        return papyra__store_error(s, PAPYRA_ENOMEM, "out of memory");
    w.kind = kind;
    w.ret = &s->retention;
    w.retain = papyra__retention_any(&s->retention);
    papyra__retention_begin(&s->retention, &w.rs);
    w.opts = opts;
    e = papyra__rot_snap_take(r, &snap);
    if (e < 0) {
        free(w.list);
        return papyra__store_error(s, e, "rotating: cannot read '%s': %s", r->path,
                                   papyra_strerror(e));
    }
    for (int64_t k = 0; k < r->max_files && e == 0 && !w.done; k++) {
        papyra__rot_rreader rd;
        papyra__rot_line line;
        uint64_t size;
        int fd, g = papyra__rot_snap_get(&snap, k, &fd, &size);

        if (g <= 0) {
            /* An unreadable file is skipped and counted, like a corrupt line. */
            w.anomalies += g < 0 && g != PAPYRA_ENOMEM;
            e = g == PAPYRA_ENOMEM ? g : 0;
            continue;
        }
        e = papyra__rot_rreader_init(&rd, fd, size);
        while (e == 0 && !w.done && (g = papyra__rot_rread_line(&rd, &line)) > 0)
            e = list_line(&w, &line);
        if (e == 0 && g < 0) {
            w.anomalies++;
            e = g == PAPYRA_ENOMEM ? g : 0;
        }
        papyra__rot_rreader_close(&rd);
    }
    papyra__rot_snap_release(&snap);
    if (e < 0) {
        papyra_record_list_free(w.list);
        return papyra__store_error(s, e, "rotating: cannot list '%s': %s", r->path,
                                   papyra_strerror(e));
    }
    for (i = 0; i < w.list->count / 2; i++) {
        papyra_record t = w.list->records[i];
        w.list->records[i] = w.list->records[w.list->count - 1 - i];
        w.list->records[w.list->count - 1 - i] = t;
    }
    out->list = w.list;
    out->anomalies += w.anomalies;
    return 0;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reports "<name>.<something>" entries that are not part of the set, sorted by name. */
static int
scan_orphans(papyra__rot *r, papyra_scan_report *rep)
{
    DIR *d = opendir(r->dir);
    struct dirent *ent;
    char **names = NULL;
    size_t n = 0, i;
    int e = 0;

    if (!d)
        return errno == ENOENT ? 0 : papyra__errno_code(errno);
    while ((ent = readdir(d))) {
        if (!papyra__rot_is_orphan(r, ent->d_name))
            continue;
        e = papyra__strv_add(&names, &n, ent->d_name);
        if (e < 0)
            break;
    }
    closedir(d);
    if (e == 0 && n > 1)
        qsort(names, n, sizeof(*names), cmp_str);
    for (i = 0; i < n; i++) {
        char *p = NULL;
        if (e == 0 && papyra__asprintf(&p, "%s%s", r->prefix, names[i]) < 0)
            e = PAPYRA_ENOMEM;
        if (e == 0)
            e = papyra__scan_report_add(rep, PAPYRA_ANOMALY_ORPHANED_ROTATED_FILE, p,
                                        "Unexpected file in rotation set");
        free(p);
        free(names[i]);
    }
    free(names);
    return e;
}

static int
scan_file(const char *path, int fd, uint64_t size, papyra_scan_report *rep)
{
    papyra__rot_reader rd;
    papyra__rot_line line;
    char detail[64];
    int e = papyra__rot_reader_init(&rd, fd, size);

    if (e < 0)
        return e;
    while ((e = papyra__rot_read_line(&rd, &line)) > 0) {
        papyra_json *obj = NULL;
        int p;

        papyra__progress_add(line.stored);
        if (!line.terminated) {
            snprintf(detail, sizeof(detail), "Line %" PRIu64 " missing newline", line.number);
            e = papyra__scan_report_add(rep, PAPYRA_ANOMALY_TRUNCATED_LINE, path, detail);
            break;
        }
        p = papyra__json_parse_object(line.data, line.len, &obj);
        papyra__json_free(obj);
        if (p < 0) {
            e = p;
            break;
        }
        if (p == 0) {
            snprintf(detail, sizeof(detail), "Invalid JSON at line %" PRIu64, line.number);
            e = papyra__scan_report_add(rep, PAPYRA_ANOMALY_CORRUPTED_LINE, path, detail);
            if (e < 0)
                break;
        }
    }
    papyra__rot_reader_close(&rd);
    if (e < 0 && e != PAPYRA_ENOMEM)
        e = papyra__scan_report_add(rep, PAPYRA_ANOMALY_PARTIAL_WRITE, path,
                                    "File could not be read fully");
    return e < 0 ? e : 0;
}

static int
rot_scan(papyra_store *s, papyra_scan_report **ret)
{
    papyra__rot *r = s->impl;
    papyra_scan_report *rep = NULL;
    papyra__rot_snap snap;
    int e;

    e = papyra__scan_report_new("rotating", &rep);
    if (e < 0)
        return papyra__store_error(s, e, "out of memory");
    e = papyra__rot_snap_take(r, &snap);
    if (e < 0) {
        papyra_scan_report_free(rep);
        return papyra__store_error(s, e, "rotating: cannot read '%s': %s", r->path,
                                   papyra_strerror(e));
    }
    e = scan_orphans(r, rep);
    for (int64_t k = 0; k < r->max_files && papyra__progress_wanted(); k++) {
        uint64_t size;
        int fd;
        if (papyra__rot_snap_get(&snap, k, &fd, &size) > 0)
            papyra__progress_total(size);
    }
    for (int64_t k = r->max_files - 1; k >= 0 && e == 0; k--) {
        char *p = papyra__rot_file(r, k);
        uint64_t size;
        int fd, g = papyra__rot_snap_get(&snap, k, &fd, &size);

        if (!p)
            e = PAPYRA_ENOMEM;
        else if (g == PAPYRA_ENOMEM)
            e = g;
        else if (g < 0)
            e = papyra__scan_report_add(rep, PAPYRA_ANOMALY_PARTIAL_WRITE, p,
                                        "File could not be read fully");
        else if (g > 0)
            e = scan_file(p, fd, size, rep);
        free(p);
    }
    papyra__rot_snap_release(&snap);
    if (e < 0) {
        papyra_scan_report_free(rep);
        return papyra__store_error(s, e, "rotating: cannot scan '%s': %s", r->path,
                                   papyra_strerror(e));
    }
    *ret = rep;
    return 0;
}

const papyra__backend_ops papyra__backend_rotating = {
    .name = "rotating",
    .id = PAPYRA_BACKEND_ROTATING,
    .open = rot_open,
    .close = rot_close,
    .write = rot_write,
    .list = rot_list,
    .scan = rot_scan,
    .repair = papyra__rot_repair,
    .compact = papyra__rot_compact,
    .default_metrics_path = papyra__file_metrics_path,
    .progress_unit = "bytes",
};
