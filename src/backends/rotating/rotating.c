/* SPDX-License-Identifier: MIT */
/*
 * The rotating JSON-lines backend: "rotating:PATH?max_bytes=N&max_files=N&fsync=...".
 *
 * Records are upstream's rotating lines ("kind" last, \uXXXX escapes) in the
 * active file PATH and the rotated files PATH.1 (newest) .. PATH.<max_files-1>
 * (oldest). Writers keep one O_APPEND descriptor on the active file and hold
 * the mutex of the control page (the first page of "<dir>/.<name>.lock",
 * files/control.h) around each batch's write(2): no system call in the
 * steady state. Rotating, reopening after another process rotated or
 * rebuilt (the page's generation moved) or after a holder died, and
 * repairing a tail also take flock(LOCK_EX) on the lock file; readers hold
 * it shared while they open their snapshot; recover and compact hold the
 * mutex and the exclusive flock for their whole run. The append itself, the
 * fsync policies and the sticky durability errors are the files/ core's
 * (files/datafile.h); this file keeps the set's locking and rotation.
 * docs/backend-rotating.md describes the protocols.
 */
#include "backends/rotating/rotating.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/backend.h"
#include "record/codec.h"
#include "util/fs.h"

static const char *const own_keys[] = {"max_bytes", "max_files", "fsync", NULL};

/* Frees the state; the result of closing the active file (its last sync). */
static int
rot_free(papyra_store *s, papyra__rot *r)
{
    int e = papyra__datafile_close(s, &r->file);

    papyra__control_detach(&r->ctl);
    if (r->lock_fd >= 0)
        close(r->lock_fd);
    pthread_mutex_destroy(&r->mu);
    free(r->path);
    free(r->dir);
    free(r->prefix);
    free(r->name);
    free(r->lock_path);
    free(r->stage_path);
    free(r->commit_path);
    free(r->qdir_path);
    free(r);
    return e;
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
        papyra__asprintf(&r->commit_path, "%s/COMMIT", r->stage_path) < 0 ||
        papyra__asprintf(&r->qdir_path, "%s/.%s.quarantine", r->dir, r->name) < 0)
        return PAPYRA_ENOMEM;
    return 0;
}

/*
 * The default metrics file: "<dir>/.<name>.metrics", hidden next to the lock
 * file, so that upstream's orphan check (every "<name>*" in the directory
 * outside the set) does not flag it. Older releases used "<name>.metrics"
 * (legacy_metrics_path): opening the store migrates it.
 */
static int
rot_metrics_path(papyra_store *s, const papyra__url *url, char **ret)
{
    char *path = NULL;
    /* Next to the set, after following a symlinked data path, as the lock file. */
    int r = papyra__follow_links(url->path, &path);

    if (r == 0) {
        const char *slash = strrchr(path, '/');
        int prefix = slash ? (int)(slash - path) + 1 : 0;
        r = papyra__asprintf(ret, "%.*s.%s.metrics", prefix, path, path + prefix);
    }
    free(path);
    return r < 0 ? papyra__store_error(s, PAPYRA_ENOMEM, "out of memory") : 0;
}

static int
rot_open(papyra_store *s, const papyra__url *url)
{
    papyra__fsync fsync;
    papyra__rot *r;
    char *target = NULL;
    int e;

    e = papyra__url_check(s, url, own_keys);
    if (e == 0)
        e = papyra__fsync_param(s, url, &fsync);
    if (e < 0)
        return e;
    if (!url->path || !url->path[0])
        return papyra__store_error(s, PAPYRA_EINVAL, "rotating: needs a file path");
    if (url->path[strlen(url->path) - 1] == '/')
        return papyra__store_error(s, PAPYRA_EINVAL, "rotating: '%s' names a directory", url->path);
    r = calloc(1, sizeof(*r));
    /* A symlinked data path: the set is its target's, the link stays (docs/store.md). */
    if (!r || papyra__follow_links(url->path, &target) < 0) {
        free(r);
        return papyra__store_error(s, PAPYRA_ENOMEM, "out of memory");
    }
    r->lock_fd = -1;
    papyra__control_init(&r->ctl);
    pthread_mutex_init(&r->mu, NULL);
    e = papyra__url_int(s, url, "max_bytes", 1, PAPYRA__ROT_MAX_BYTES_MAX, 50000000, &r->max_bytes);
    if (e == 0)
        e = papyra__url_int(s, url, "max_files", 1, PAPYRA__ROT_MAX_FILES_MAX, 5, &r->max_files);
    if (e == 0)
        e = papyra__datafile_init(s, &r->file, target, fsync, 0666);
    if (e == 0 && rot_names(r, target) < 0)
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
        e = papyra__rot_exclusive(r, r->lock_fd);
        if (e == 0) {
            e = papyra__rot_settle(r);
            papyra__rot_exclusive_end(r, r->lock_fd, true);
        }
        if (e < 0)
            e = papyra__store_error(s, e, "rotating: cannot settle an interrupted rebuild (%s): %s",
                                    r->commit_path, papyra_strerror(e));
    }
    if (e == 0 && !s->data_path && !(s->data_path = strdup(target)))
        e = papyra__store_error(s, PAPYRA_ENOMEM, "out of memory");
    free(target);
    if (e < 0) {
        (void)rot_free(s, r);
        return e;
    }
    s->impl = r;
    return 0;
}

static int
rot_close(papyra_store *s)
{
    int e = s->impl ? rot_free(s, s->impl) : 0;

    s->impl = NULL;
    return e;
}

/*
 * The error of a failed papyra__datafile_flush(), with the message set on
 * @p s: the sticky one, since a failed sync poisons the file.
 */
static int
flush_error(papyra_store *s, papyra__rot *r, int e)
{
    if (papyra__datafile_poisoned(&r->file))
        return papyra__datafile_check(s, &r->file);
    return papyra__store_error(s, e, "rotating: cannot sync '%s': %s", r->path, papyra_strerror(e));
}

/*
 * With the exclusive lock held: (re)opens r->file.fd on the active file
 * PATH, creating it, and terminates a torn last line so the next record does
 * not glue onto it. What this handle appended to the file before is synced
 * first (another process may have rotated it, and nobody else syncs our
 * records). *size: the file's size afterwards. 0, or an error with the
 * message set on @p s, naming what failed and on which file.
 */
static int
reopen(papyra_store *s, papyra__rot *r, uint64_t *size)
{
    int64_t opened;
    papyra__file_id id;
    char last;
    int fd, e;

    if (r->file.fd >= 0) {
        e = papyra__datafile_flush(&r->file);
        if (e < 0)
            return flush_error(s, r, e);
        papyra__datafile_set_fd(&r->file, -1, 0);
    }
    fd = papyra__datafile_open(&r->file, true, &opened);
    if (fd < 0)
        return papyra__store_error(s, fd, "rotating: cannot open '%s': %s", r->path,
                                   papyra_strerror(fd));
    e = papyra__files_id(NULL, fd, &id);
    if (e < 0) {
        close(fd);
        return papyra__store_error(s, e, "rotating: cannot stat '%s': %s", r->path,
                                   papyra_strerror(e));
    }
    /* A new, empty active file (a rotation renamed the last): its name must be durable too. */
    if (id.size == 0 && (e = papyra__datafile_sync_dir(&r->file)) < 0) {
        close(fd);
        return papyra__store_error(s, e,
                                   "rotating: cannot sync directory '%s' of new file '%s': %s",
                                   r->dir, r->path, papyra_strerror(e));
    }
    if (id.size > 0 && pread(fd, &last, 1, (off_t)id.size - 1) == 1 && last != '\n' &&
        last != '\r') {
        e = papyra__write_all(fd, "\n", 1);
        if (e < 0) {
            close(fd);
            return papyra__store_error(s, e, "rotating: cannot end the torn last line of '%s': %s",
                                       r->path, papyra_strerror(e));
        }
        id.size++;
    }
    papyra__datafile_set_fd(&r->file, fd, (int64_t)id.size);
    *size = id.size;
    return 0;
}

/* Deletes @p path for a rotation; a missing file is no error. 0 or an error with the message. */
static int
rotate_unlink(papyra_store *s, const char *path)
{
    int e;

    if (unlink(path) == 0 || errno == ENOENT)
        return 0;
    e = papyra__errno_code(errno);
    return papyra__store_error(s, e, "rotating: cannot rotate: cannot delete '%s': %s", path,
                               papyra_strerror(e));
}

/*
 * Rotates with the writer lock held: deletes the oldest file when all slots
 * are taken, shifts .i to .i+1 and renames the active file to .1. Every
 * intermediate state is a valid set (at worst with a gap in the numbering),
 * so a crash loses nothing that rotation would not have dropped anyway.
 * 0, or an error with the message set on @p s, naming the step that failed
 * and its files.
 */
static int
rotate(papyra_store *s, papyra__rot *r, uint64_t *size)
{
    int64_t top = 0, i;
    char *a, *b;
    int e = 0;

    /* The file is synced before it is renamed or deleted: a failure poisons the handle. */
    e = papyra__datafile_flush(&r->file);
    if (e < 0)
        return flush_error(s, r, e);
    /* The new active file is no more permissive than the one it follows. */
    r->file.mode = papyra__mode_like(r->path, r->file.mode);
    if (r->max_files == 1) {
        /*
         * One file only: starting afresh is the documented meaning. A new
         * file rather than a truncation, so that a reader's snapshot of the
         * old one stays intact.
         */
        e = rotate_unlink(s, r->path);
        return e < 0 ? e : reopen(s, r, size);
    }
    /* The run of existing rotated files .1 .. .top; a gap ends it (older files shift later). */
    while (top + 1 < r->max_files) {
        a = papyra__rot_file(r, top + 1);
        if (!a)
            return papyra__store_error(s, PAPYRA_ENOMEM, "out of memory");
        bool there = papyra__rot_exists(a);
        free(a);
        if (!there)
            break;
        top++;
    }
    if (top == r->max_files - 1) {
        a = papyra__rot_file(r, top);
        if (!a)
            return papyra__store_error(s, PAPYRA_ENOMEM, "out of memory");
        e = rotate_unlink(s, a);
        free(a);
        if (e < 0)
            return e;
        top--;
    }
    for (i = top; i >= 0; i--) {
        a = papyra__rot_file(r, i);
        b = papyra__rot_file(r, i + 1);
        if (!a || !b) {
            e = papyra__store_error(s, PAPYRA_ENOMEM, "out of memory");
        } else if (rename(a, b) < 0 && errno != ENOENT) {
            e = papyra__errno_code(errno);
            e = papyra__store_error(s, e, "rotating: cannot rotate: cannot rename '%s' to '%s': %s",
                                    a, b, papyra_strerror(e));
        }
        free(a);
        free(b);
        if (e < 0)
            return e;
    }
    /* Opening the new, empty active file fsyncs the directory (renames and all) when asked to. */
    return reopen(s, r, size);
}

/* The error of papyra__rot_settle() on the write path, with the message set on @p s. */
static int
settle_error(papyra_store *s, const papyra__rot *r, int e)
{
    return papyra__store_error(s, e, "rotating: cannot settle an interrupted rebuild of '%s': %s",
                               r->path, papyra_strerror(e));
}

/*
 * With the control mutex and flock(LOCK_EX) held: the size of the open
 * active file, whose torn last line (a writer died in its append) is
 * terminated first, so the next record does not glue onto it.
 */
static int
terminate_tail(papyra_store *s, papyra__rot *r, uint64_t *size)
{
    papyra__file_id id;
    char c;
    int e = papyra__files_id(NULL, r->file.fd, &id);

    if (e < 0)
        return papyra__store_error(s, e, "rotating: cannot stat '%s': %s", r->path,
                                   papyra_strerror(e));
    if (id.size > 0) {
        if (pread(r->file.fd, &c, 1, (off_t)id.size - 1) != 1)
            return papyra__store_error(s, PAPYRA_EIO, "rotating: cannot read '%s': %s", r->path,
                                       papyra_strerror(PAPYRA_EIO));
        if (c != '\n' && c != '\r') {
            e = papyra__write_all(r->file.fd, "\n", 1);
            if (e < 0)
                return papyra__store_error(s, e,
                                           "rotating: cannot end the torn last line of '%s': %s",
                                           r->path, papyra_strerror(e));
            id.size++;
        }
    }
    *size = id.size;
    return 0;
}

/*
 * With r->mu and the control mutex held: makes r->file.fd the current active
 * file, ready for @p len bytes. In the steady state nothing is done and no
 * system call made: the generation did not move (no other process rotated,
 * compacted or recovered), and the size in the control page is known (the
 * last append succeeded), so the tail is whole and the size tells whether
 * to rotate. Otherwise, under flock(LOCK_EX) as well (readers taking a
 * snapshot, appenders of older releases): when this handle has no
 * descriptor, the generation moved, or the last holder died (perhaps a
 * rebuild, after its commit point), an interrupted rebuild is settled and
 * the active file reopened, its tail checked; when only the size is unknown
 * (a failed append), the tail is checked. A rotation is decided from the
 * size, exactly: appends of every process are serialised. *size: the file's
 * size before the append. 0, or an error with the message set on @p s,
 * naming what failed (the lock, opening the active file, a step of the
 * rotation...) and the file it failed on; after an error the generation is
 * bumped, so every appender looks at the set again.
 */
static int
append_lock(papyra_store *s, papyra__rot *r, size_t len, uint64_t *size)
{
    papyra__control_page *pg = r->ctl.page;
    bool reopened = r->file.fd < 0 || papyra__control_generation(&r->ctl) != r->gen;
    uint64_t sz = pg->size;
    int e = 0;

    if (reopened || !pg->size_known) {
        e = papyra__flock(r->lock_fd, LOCK_EX);
        if (e < 0)
            return papyra__rot_error(s, e, "cannot lock", r->lock_path);
        r->gen = papyra__control_generation(&r->ctl);
        if (reopened) {
            e = papyra__rot_pending(r) ? papyra__rot_settle(r) : 0;
            if (e < 0)
                e = settle_error(s, r, e);
            else
                e = reopen(s, r, &sz);
            if (e == 0 && (e = papyra__control_note_file(&r->ctl, r->file.fd, &r->gen)) < 0)
                e = papyra__store_error(s, e, "rotating: cannot stat '%s': %s", r->path,
                                        papyra_strerror(e));
        } else {
            e = terminate_tail(s, r, &sz);
        }
        (void)papyra__flock(r->lock_fd, LOCK_UN);
        if (e < 0)
            goto fail;
        pg->size = sz;
        pg->size_known = 1;
    }
    if (sz > 0 && sz + len > (uint64_t)r->max_bytes) {
        e = papyra__flock(r->lock_fd, LOCK_EX);
        if (e < 0)
            return papyra__rot_error(s, e, "cannot lock", r->lock_path);
        e = rotate(s, r, &sz);
        (void)papyra__flock(r->lock_fd, LOCK_UN);
        if (e < 0)
            goto fail;
        /* Every other appender reopens the new active file. */
        r->gen = papyra__control_bump(&r->ctl);
        papyra__control_forget_file(&r->ctl);
        e = papyra__control_note_file(&r->ctl, r->file.fd, &r->gen);
        if (e < 0) {
            e = papyra__store_error(s, e, "rotating: cannot stat '%s': %s", r->path,
                                    papyra_strerror(e));
            goto fail;
        }
        pg->size = sz;
        pg->size_known = 1;
    }
    *size = sz;
    return 0;
fail:
    pg->size_known = 0;
    (void)papyra__control_bump(&r->ctl);
    return e;
}

/*
 * The appender of papyra__datafile_write(), for one write call: the
 * handle's writers take turns (r->mu), and appenders of every process hold
 * the control mutex.
 */
typedef struct appender_ctx {
    papyra__rot *r;
    uint64_t size; /* the active file's size before the append */
} appender_ctx;

static int
appender_lock(papyra_store *s, void *ctx, size_t len, int64_t *size)
{
    appender_ctx *c = ctx;
    papyra__rot *r = c->r;
    int e;

    pthread_mutex_lock(&r->mu);
    e = papyra__rot_lock_ready(r);
    if (e < 0) {
        e = papyra__rot_error(s, e, "cannot open the lock file", r->lock_path);
    } else if (!r->ctl.page) {
        /* Appends of other processes would not be kept out of a rotation or rebuild. */
        e = r->ctl_err < 0 ? r->ctl_err : PAPYRA_EACCES;
        e = papyra__rot_error(s, e, "cannot map the control page of the lock file", r->lock_path);
    } else if ((e = papyra__control_lock(&r->ctl)) < 0) {
        e = papyra__rot_error(s, e, "cannot lock", r->lock_path);
    } else {
        e = append_lock(s, r, len, &c->size); /* sets its own message */
        if (e < 0)
            papyra__control_unlock(&r->ctl);
    }
    if (e == 0) {
        *size = (int64_t)c->size;
        return 0;
    }
    pthread_mutex_unlock(&r->mu);
    return e;
}

/*
 * The take-back of a refused append: the control mutex keeps appenders of
 * this release out, flock(LOCK_EX) those of older ones.
 */
static int
appender_exclusive(void *ctx)
{
    appender_ctx *c = ctx;

    return papyra__flock(c->r->lock_fd, LOCK_EX);
}

static void
appender_release(void *ctx)
{
    appender_ctx *c = ctx;

    (void)papyra__flock(c->r->lock_fd, LOCK_UN);
}

static void
appender_unlock(void *ctx, size_t len, bool failed)
{
    appender_ctx *c = ctx;
    papyra__rot *r = c->r;

    /* After a failed write the tail is unknown: the next append checks it. */
    if (failed)
        r->ctl.page->size_known = 0;
    else
        r->ctl.page->size = c->size + len;
    papyra__control_unlock(&r->ctl);
    pthread_mutex_unlock(&r->mu);
}

static int
rot_write(papyra_store *s, const papyra_record *records, size_t n, size_t *stored)
{
    static const papyra__appender appender = {appender_lock, appender_exclusive, appender_release,
                                              appender_unlock};
    appender_ctx c = {s->impl, 0};

    return papyra__datafile_write(s, &c.r->file, records, n, PAPYRA_STYLE_ROTATING, &appender, &c);
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

/*
 * A mistyped record (record/codec.h) takes its place in retention by its
 * timestamp like any record, and is an anomaly when it would be listed.
 */
static int
list_mistyped(list_walk *w, double ts, const papyra__line *line)
{
    if (w->retain) {
        int v = papyra__retention_offer(w->ret, &w->rs, ts, line->stored);
        if (v <= 0) {
            w->done = v < 0;
            return 0;
        }
    }
    if (!(w->opts->has_since && !(ts >= w->opts->since)))
        w->anomalies++;
    return 0;
}

/*
 * The record of w->kind a line holds: 1 with *rec decoded; 2 for a record
 * whose fields our structs cannot hold (never coerced), with its timestamp
 * in *ts; 0 when it holds none (an anomaly counted in w->anomalies, another
 * kind, or a record that cannot be decoded); or an error.
 */
static int
line_record(list_walk *w, const papyra__line *line, papyra_record *rec, double *ts)
{
    papyra_json *obj = NULL;
    /* A torn last line is an anomaly for list as for scan, recover and compact. */
    int e = line->terminated ? papyra__json_parse_object(line->p, line->len, &obj) : 0;

    if (e <= 0) {
        w->anomalies += e == 0;
        return e;
    }
    if (papyra__record_kind_of(obj) != (int)w->kind) {
        papyra__json_free(obj);
        return 0;
    }
    if (papyra__record_classify(obj, NULL, 0) == PAPYRA__LINE_MISTYPED) {
        *ts = 0;
        (void)papyra__record_timestamp(obj, ts);
        papyra__json_free(obj);
        return 2;
    }
    memset(rec, 0, sizeof(*rec));
    e = papyra__record_decode(obj, NULL, rec);
    papyra__json_free(obj);
    if (e < 0)
        return e == PAPYRA_ENOMEM ? e : 0;
    *ts = papyra__record_time(rec);
    return 1;
}

/* Offers one line, newest first; sets w->done when nothing older can be listed. */
static int
list_line(list_walk *w, const papyra__line *line)
{
    papyra_record rec;
    double ts;
    int e = line_record(w, line, &rec, &ts);

    if (e <= 0)
        return e;
    if (e == 2)
        return list_mistyped(w, ts, line);
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
 * Begins a walk of one kind for list or each: the state they share and a
 * snapshot of the set. 0, or an error already reported on @p s.
 */
static int
walk_begin(papyra_store *s,
           papyra_kind kind,
           const papyra_list_options *opts,
           list_walk *w,
           papyra__rot_snap *snap)
{
    papyra__rot *r = s->impl;
    int e;

    w->kind = kind;
    w->ret = &s->retention;
    w->retain = papyra__retention_any(&s->retention);
    papyra__retention_begin(&s->retention, &w->rs);
    w->opts = opts;
    e = papyra__rot_snap_take(r, snap);
    if (e == PAPYRA_ENOTREG)
        return papyra__rot_not_regular_in_set(s, r);
    if (e < 0)
        return papyra__store_error(s, e, "rotating: cannot read '%s': %s", r->path,
                                   papyra_strerror(e));
    return 0;
}

/*
 * File @p k of a walk's snapshot: 1 with *fd and *size; 0 when it is absent
 * or unreadable (counted in @p anomalies, like a corrupt line);
 * PAPYRA_ENOMEM; or PAPYRA_ENOTREG, reported on @p s (a file of the wrong
 * type is an error, never an anomaly).
 */
static int
walk_file(papyra_store *s,
          papyra__rot_snap *snap,
          int64_t k,
          int *fd,
          uint64_t *size,
          uint64_t *anomalies)
{
    int g = papyra__rot_snap_get(snap, k, fd, size);

    if (g == PAPYRA_ENOTREG) {
        char *p = papyra__rot_file(s->impl, k);

        g = p ? papyra__rot_not_regular(s, p) : PAPYRA_ENOMEM;
        free(p);
        return g;
    }
    if (g < 0 && g != PAPYRA_ENOMEM) {
        (*anomalies)++;
        return 0;
    }
    return g;
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
    e = walk_begin(s, kind, opts, &w, &snap);
    if (e < 0) {
        free(w.list);
        return e;
    }
    for (int64_t k = 0; k < r->max_files && e == 0 && !w.done; k++) {
        papyra__rline_reader rd;
        papyra__line line;
        uint64_t size;
        int fd, g = walk_file(s, &snap, k, &fd, &size, &w.anomalies);

        if (g == PAPYRA_ENOTREG) {
            papyra__rot_snap_release(&snap);
            papyra_record_list_free(w.list);
            return g;
        }
        if (g <= 0) {
            e = g;
            continue;
        }
        papyra__rlines_init(&rd, fd, size, PAPYRA__NL_UNIVERSAL);
        while (e == 0 && !w.done && (g = papyra__rlines_next(&rd, &line)) > 0)
            e = list_line(&w, &line);
        if (e == 0 && g < 0) {
            w.anomalies++;
            e = g == PAPYRA_ENOMEM ? g : 0;
        }
        papyra__rlines_free(&rd);
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

/*
 * Where papyra_store_each() starts reading forwards: the file (*sk) and
 * offset (*soff) of the oldest record list would return, found walking
 * from the newest as list does (only when retention's count or size limit,
 * or a limit, can cut older records). *none: nothing is returned at all.
 */
static int
each_start(papyra_store *s,
           papyra__rot_snap *snap,
           const list_walk *fw,
           int64_t *sk,
           uint64_t *soff,
           bool *none,
           uint64_t *anomalies,
           bool *walked)
{
    papyra__rot *r = s->impl;
    list_walk w = *fw;
    uint64_t kept = 0, mistyped = 0;
    bool stop = false;
    int e = 0;

    *sk = r->max_files - 1;
    *soff = 0;
    *none = false;
    *walked = false;
    if (!(w.ret->max_records > 0 || w.ret->max_total_bytes > 0 || w.opts->limit > 0))
        return 0;
    /* This walk is list's: it counts the anomalies list would pass over. */
    *walked = true;
    for (int64_t k = 0; k < r->max_files && e == 0 && !stop; k++) {
        papyra__rline_reader rd;
        papyra__line line;
        papyra_record rec;
        uint64_t size;
        int fd, g = walk_file(s, snap, k, &fd, &size, &w.anomalies);

        if (g <= 0) {
            e = g;
            continue;
        }
        papyra__rlines_init(&rd, fd, size, PAPYRA__NL_UNIVERSAL);
        while (e == 0 && !stop && (g = papyra__rlines_next(&rd, &line)) > 0) {
            double ts;
            int v = 1;

            int m = line_record(&w, &line, &rec, &ts);

            if (m <= 0) {
                e = m;
                continue;
            }
            if (m == 1)
                papyra__record_clear(&rec);
            if (w.retain)
                v = papyra__retention_offer(w.ret, &w.rs, ts, line.stored);
            stop = v < 0;
            if (v > 0 && !(w.opts->has_since && !(ts >= w.opts->since))) {
                /* A mistyped record is read (and counted) too, but not delivered. */
                *sk = k;
                *soff = rd.hi;
                mistyped += m == 2;
                w.anomalies += m == 2;
                stop = m == 1 && ++kept == w.opts->limit;
            }
        }
        if (e == 0 && g < 0) {
            w.anomalies++;
            e = g == PAPYRA_ENOMEM ? g : 0;
        }
        papyra__rlines_free(&rd);
    }
    *none = stop && kept == 0 && mistyped == 0;
    *anomalies += w.anomalies - fw->anomalies;
    return e;
}

static int
rot_each(papyra_store *s, papyra_kind kind, const papyra_list_options *opts, papyra__each *ev)
{
    papyra__rot *r = s->impl;
    papyra__rot_snap snap;
    list_walk w = {0};
    uint64_t soff;
    int64_t sk;
    bool none, walked, stop = false;
    int e;

    e = walk_begin(s, kind, opts, &w, &snap);
    if (e < 0)
        return e;
    e = each_start(s, &snap, &w, &sk, &soff, &none, &ev->anomalies, &walked);
    /* Oldest file first, from the start found. */
    for (int64_t k = sk; k >= 0 && e == 0 && !none && !stop; k--) {
        papyra__line_reader rd;
        papyra__line line;
        papyra_record rec;
        uint64_t size;
        int fd, g = walk_file(s, &snap, k, &fd, &size, &w.anomalies);

        if (g <= 0) {
            e = g;
            continue;
        }
        papyra__lines_init(&rd, fd, (off_t)size, PAPYRA__NL_UNIVERSAL);
        rd.off = k == sk ? (off_t)soff : 0;
        while (e == 0 && !stop && (g = papyra__lines_next(&rd, &line)) > 0) {
            double ts;

            int m = line_record(&w, &line, &rec, &ts);

            if (m <= 0) {
                e = m;
                continue;
            }
            if ((w.retain && w.rs.has_cutoff && !(ts >= w.rs.cutoff)) ||
                (opts->has_since && !(ts >= opts->since))) {
                if (m == 1)
                    papyra__record_clear(&rec);
                continue;
            }
            if (m == 2) {
                w.anomalies++;
                continue;
            }
            stop = papyra__each_deliver(ev, &rec) != 0;
        }
        if (e == 0 && g < 0) {
            w.anomalies++;
            e = g == PAPYRA_ENOMEM ? g : 0;
        }
        papyra__lines_free(&rd);
    }
    papyra__rot_snap_release(&snap);
    /* Anomalies the first walk counted are not counted again. */
    if (!walked)
        ev->anomalies += w.anomalies;
    if (e == PAPYRA_ENOTREG)
        return e; /* reported by walk_file() */
    if (e < 0)
        return papyra__store_error(s, e, "rotating: cannot list '%s': %s", r->path,
                                   papyra_strerror(e));
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
    papyra__line_reader rd;
    papyra__line line;
    /*
     * The lines of a store mostly share a few shapes: checked by their values
     * only, and, since a scan only classifies, floats as JSON numbers.
     */
    papyra__normal_shapes shapes = {.valid_only = true};
    char why[160], detail[224];
    int e;

    papyra__lines_init(&rd, fd, (off_t)size, PAPYRA__NL_UNIVERSAL);
    while ((e = papyra__lines_next(&rd, &line)) > 0) {
        int p;

        papyra__progress_add(line.stored);
        if (!line.terminated) {
            snprintf(detail, sizeof(detail), "Line %" PRIu64 " missing newline", line.lineno);
            e = papyra__scan_report_add(rep, PAPYRA_ANOMALY_TRUNCATED_LINE, path, detail);
            break;
        }
        /* The one rule for a line (record/codec.h). */
        p = papyra__record_classify_line_shaped(line.p, line.len, false, NULL, &shapes, why,
                                                sizeof(why));
        if (p < 0) {
            e = p;
            break;
        }
        if (p == PAPYRA__LINE_CORRUPT) {
            snprintf(detail, sizeof(detail), "Invalid JSON at line %" PRIu64, line.lineno);
            e = papyra__scan_report_add(rep, PAPYRA_ANOMALY_CORRUPTED_LINE, path, detail);
        } else if (p == PAPYRA__LINE_MISTYPED) {
            snprintf(detail, sizeof(detail), "Line %" PRIu64 ": %s", line.lineno, why);
            e = papyra__scan_report_add(rep, PAPYRA_ANOMALY_MISTYPED_RECORD, path, detail);
        }
        if (e < 0)
            break;
    }
    papyra__lines_free(&rd);
    if (e < 0 && e != PAPYRA_ENOMEM)
        e = papyra__scan_report_add(rep, PAPYRA_ANOMALY_PARTIAL_WRITE, path,
                                    "File could not be read fully");
    return e < 0 ? e : 0;
}

int
papyra__rot_error(papyra_store *s, int e, const char *what, const char *path)
{
    char why[128];

    return papyra__store_error(s, e, "rotating: %s '%s': %s", what, path,
                               papyra__path_strerror(e, path, why, sizeof(why)));
}

int
papyra__rot_not_regular(papyra_store *s, const char *path)
{
    char why[128];

    return papyra__store_error(s, PAPYRA_ENOTREG, "rotating: %s: %s", path,
                               papyra__path_strerror(PAPYRA_ENOTREG, path, why, sizeof(why)));
}

int
papyra__rot_not_regular_in_set(papyra_store *s, const papyra__rot *r)
{
    for (int64_t k = -2; k < r->max_files; k++) {
        char *p = k == -2   ? strdup(r->lock_path)
                  : k == -1 ? strdup(r->commit_path)
                            : papyra__rot_file(r, k);
        const char *kind = p ? papyra__file_kind(p) : NULL;

        if (kind && strcmp(kind, "missing") != 0 && strcmp(kind, "a regular file") != 0) {
            int e = papyra__rot_not_regular(s, p);
            free(p);
            return e;
        }
        free(p);
    }
    return papyra__store_error(s, PAPYRA_ENOTREG, "rotating: a file of '%s' is not a regular file",
                               r->path);
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
    if (e == PAPYRA_ENOTREG) {
        papyra_scan_report_free(rep);
        return papyra__rot_not_regular_in_set(s, r);
    }
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
        else if (g == PAPYRA_ENOTREG) {
            /* Not storage that went bad but something else in its place: an error, never repaired.
             */
            papyra__rot_snap_release(&snap);
            papyra_scan_report_free(rep);
            e = papyra__rot_not_regular(s, p);
            free(p);
            return e;
        } else if (g == PAPYRA_ENOMEM)
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

/* After a failed fsync, recover rebuilds the set even when it scans clean. */
static bool
rot_needs_repair(papyra_store *s)
{
    papyra__rot *r = s->impl;

    return papyra__datafile_poisoned(&r->file);
}

const papyra__backend_ops papyra__backend_rotating = {
    .name = "rotating",
    .id = PAPYRA_BACKEND_ROTATING,
    .open = rot_open,
    .close = rot_close,
    .write = rot_write,
    .list = rot_list,
    .each = rot_each,
    .scan = rot_scan,
    .needs_repair = rot_needs_repair,
    .repair = papyra__rot_repair,
    .compact = papyra__rot_compact,
    .default_metrics_path = rot_metrics_path,
    .legacy_metrics_path = papyra__file_metrics_path,
    .progress_unit = "bytes",
};
