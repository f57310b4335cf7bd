/* SPDX-License-Identifier: MIT */
/*
 * Recover and compact of the JSON-lines backend: both stream the locked data
 * file into a temp file next to it (surviving objects re-serialised in
 * upstream's normal form), fsync it, rename it over the data file and fsync
 * the directory, so that a crash at any point leaves either the old or the
 * new file whole. Quarantine copies the original first, so there is never a
 * moment without a live file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/json/jsonl.h"
#include "core/backend.h"
#include "json/json.h"
#include "record/codec.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/util.h"

/* The temp file is written in pieces of this size. */
#define FLUSH_AT ((size_t)256 * 1024)
/*
 * A run of lines kept as they are, once this long, is copied from the data
 * file by the kernel (papyra__copy_range()) rather than through the buffer:
 * below it, one more system call costs more than the copy it spares.
 */
#define COPY_AT ((off_t)64 * 1024)
/*
 * A lazy run is copied in pieces of this size as it grows, each sent to
 * disk as soon as it is copied (papyra__write_behind()), so that the disk
 * works while lines are checked and the final fsync has little left.
 */
#define PIECE ((off_t)1024 * 1024)
/* Pieces queued for the copier at most (memory stays constant). */
#define QUEUED 4

/*
 * The copier: a thread that copies the pieces of long runs (copy_file_range
 * and write-behind, and only those calls) while the lines after them are
 * checked. The temp file's offset is where the next piece or buffer goes:
 * the copier moves it, and the rewrite writes its buffer only once the
 * queue is empty, so the bytes land in order.
 */
typedef struct copier {
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    pthread_t thread;
    bool running; /* the thread was started (and is to be joined) */
    bool inline_; /* it could not be: pieces are copied by the caller */
    bool stop;
    int src, dst;
    struct {
        off_t from, at; /* in the data file, in the temp file */
        uint64_t len;
    } job[QUEUED];
    unsigned head, tail; /* queued: [tail, head) */
    int err;             /* the first failure; later pieces are skipped */
} copier;

typedef papyra__jsonl jsonl;

/* A temp file that replaces the data file. */
typedef struct temp_file {
    char *path;
    int fd;
    papyra_buf buf;
    int64_t bytes;
    /*
     * The run of lines kept byte for byte that the last lines extend: bytes
     * [run_from, run_to) of the data file @p src. In buf from run_at while
     * short; once @p lazy, in the data file only, copied when the run ends.
     */
    int src;
    bool run, lazy;
    off_t run_from, run_to;
    size_t run_at;
    copier cp;
} temp_file;

/* One piece: copied after what the temp file holds, then sent to disk. */
static int
copy_piece(int src, off_t from, int dst, off_t at, uint64_t len)
{
    int r = papyra__copy_range(src, from, dst, len);

    return r < 0 ? r : papyra__write_behind(dst, at, (off_t)len);
}

static void *
copier_main(void *arg)
{
    copier *c = arg;

    pthread_mutex_lock(&c->mu);
    for (;;) {
        unsigned k;
        int r = 0;

        while (c->tail == c->head && !c->stop)
            pthread_cond_wait(&c->work, &c->mu);
        if (c->tail == c->head)
            break;
        k = c->tail % QUEUED;
        if (c->err == 0) {
            pthread_mutex_unlock(&c->mu);
            r = copy_piece(c->src, c->job[k].from, c->dst, c->job[k].at, c->job[k].len);
            pthread_mutex_lock(&c->mu);
        }
        if (r < 0 && c->err == 0)
            c->err = r;
        c->tail++;
        pthread_cond_broadcast(&c->done);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* Queues a piece (starting the copier at the first), or copies it here when it cannot run. */
static int
copier_submit(copier *c, off_t from, off_t at, uint64_t len)
{
    int r;

    if (!c->running && !c->inline_) {
        c->head = c->tail = 0;
        c->stop = false;
        c->err = 0;
        if (pthread_mutex_init(&c->mu, NULL) != 0) {
            c->inline_ = true;
        } else if (pthread_cond_init(&c->work, NULL) != 0) {
            pthread_mutex_destroy(&c->mu);
            c->inline_ = true;
        } else if (pthread_cond_init(&c->done, NULL) != 0) {
            pthread_cond_destroy(&c->work);
            pthread_mutex_destroy(&c->mu);
            c->inline_ = true;
        } else if (pthread_create(&c->thread, NULL, copier_main, c) != 0) {
            pthread_cond_destroy(&c->done);
            pthread_cond_destroy(&c->work);
            pthread_mutex_destroy(&c->mu);
            c->inline_ = true;
        } else {
            c->running = true;
        }
    }
    if (c->inline_)
        return copy_piece(c->src, from, c->dst, at, len);
    pthread_mutex_lock(&c->mu);
    while (c->head - c->tail == QUEUED && c->err == 0)
        pthread_cond_wait(&c->done, &c->mu);
    r = c->err;
    if (r == 0) {
        c->job[c->head % QUEUED].from = from;
        c->job[c->head % QUEUED].at = at;
        c->job[c->head % QUEUED].len = len;
        c->head++;
        pthread_cond_signal(&c->work);
    }
    pthread_mutex_unlock(&c->mu);
    return r;
}

/* Waits until every queued piece is copied: 0, or the first failure. */
static int
copier_drain(copier *c)
{
    int r;

    if (!c->running)
        return 0;
    pthread_mutex_lock(&c->mu);
    while (c->tail != c->head)
        pthread_cond_wait(&c->done, &c->mu);
    r = c->err;
    pthread_mutex_unlock(&c->mu);
    return r;
}

/* Lets the copier finish what is queued and joins it: 0, or the first failure. */
static int
copier_stop(copier *c)
{
    int r;

    if (!c->running)
        return 0;
    pthread_mutex_lock(&c->mu);
    c->stop = true;
    pthread_cond_signal(&c->work);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    r = c->err;
    pthread_cond_destroy(&c->done);
    pthread_cond_destroy(&c->work);
    pthread_mutex_destroy(&c->mu);
    c->running = false;
    return r;
}

static int
temp_open(jsonl *j, const char *tag, temp_file *t)
{
    struct stat st;
    int r;

    memset(t, 0, sizeof(*t));
    t->fd = -1;
    t->src = j->file.fd;
    r = papyra__temp_path(j->file.path, tag, &t->path);
    if (r < 0)
        return r;
    t->fd = open(t->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (t->fd < 0)
        return papyra__errno_code(errno);
    t->cp.src = t->src;
    t->cp.dst = t->fd;
    /* The new file keeps the old one's permissions. */
    if (fstat(j->file.fd, &st) == 0)
        (void)fchmod(t->fd, st.st_mode & 07777);
    return 0;
}

/* Writes the buffer after the pieces queued before it. */
static int
temp_flush(temp_file *t)
{
    int r = copier_drain(&t->cp);

    if (r == 0 && t->buf.len > 0)
        r = papyra__write_all(t->fd, t->buf.data, t->buf.len);
    t->bytes += (int64_t)t->buf.len;
    papyra__buf_reset(&t->buf);
    return r;
}

/* Hands the lazy run so far to the copier; it goes on from its end. */
static int
temp_copy_run(temp_file *t)
{
    uint64_t n = (uint64_t)(t->run_to - t->run_from);
    int r = copier_submit(&t->cp, t->run_from, (off_t)t->bytes, n);

    t->bytes += (int64_t)n;
    t->run_from = t->run_to;
    return r;
}

/* Ends the run of lines kept as they are: a lazy one is copied now, after what buf held. */
static int
temp_end_run(temp_file *t)
{
    int r = 0;

    if (t->run && t->lazy && t->run_to > t->run_from)
        r = temp_copy_run(t);
    t->run = t->lazy = false;
    return r;
}

/* Appends the object re-serialised (upstream's normal form) and a newline. */
static int
temp_put(temp_file *t, const papyra_json *obj)
{
    int r = temp_end_run(t);

    if (r < 0)
        return r;
    r = papyra__json_write(obj, 0, &t->buf);

    if (r == 0)
        r = papyra__buf_putc(&t->buf, '\n');
    if (r == 0 && t->buf.len >= FLUSH_AT)
        r = temp_flush(t);
    return r;
}

/* Appends a line that is already in normal form, as it is, and a newline. */
static int
temp_put_line(temp_file *t, const char *p, size_t n)
{
    int r = temp_end_run(t);

    if (r == 0)
        r = papyra__buf_reserve(&t->buf, n + 1);
    if (r < 0)
        return r;
    memcpy(t->buf.data + t->buf.len, p, n);
    t->buf.data[t->buf.len + n] = '\n';
    t->buf.len += n + 1;
    t->buf.data[t->buf.len] = '\0';
    return t->buf.len >= FLUSH_AT ? temp_flush(t) : 0;
}

/*
 * Keeps a line in normal form that starts at @p off in the data file: a
 * line ending in one "\n" is the same bytes in the new file, so it extends
 * the run of such lines before it, and a long run is copied by the kernel
 * without passing through here; any other terminator becomes "\n".
 */
static int
temp_keep_line(temp_file *t, const papyra__line *l, off_t off)
{
    int r;

    if (l->stored != l->len + 1 || l->p[l->len] != '\n')
        return temp_put_line(t, l->p, l->len);
    if (t->run && off == t->run_to) {
        t->run_to += (off_t)l->stored;
        if (t->lazy)
            return t->run_to - t->run_from >= PIECE ? temp_copy_run(t) : 0;
    } else {
        r = temp_end_run(t);
        if (r < 0)
            return r;
        t->run = true;
        t->run_from = off;
        t->run_to = off + (off_t)l->stored;
        t->run_at = t->buf.len;
    }
    r = papyra__buf_append(&t->buf, l->p, l->stored);
    if (r < 0)
        return r;
    if (t->run_to - t->run_from >= COPY_AT) {
        /* What came before the run goes out; the run is copied when it ends. */
        t->buf.len = t->run_at;
        t->lazy = true;
        return temp_flush(t);
    }
    if (t->buf.len >= FLUSH_AT) {
        /* The run so far went out with the rest: it goes on from here. */
        r = temp_flush(t);
        t->run_from = t->run_to;
        t->run_at = 0;
    }
    return r;
}

/*
 * Whether a line is a JSON object already in upstream's normal form (kept
 * byte for byte); @p info gets its kind and timestamp.
 */
static bool
normal_object(const papyra__line *l, papyra__normal_info *info, papyra__normal_shapes *shapes)
{
    return l->terminated && l->len > 0 && l->p[0] == '{' &&
           papyra__json_normal_len_shaped(l->p, l->len, false, info, shapes) == l->len;
}

static void
temp_abort(temp_file *t)
{
    (void)copier_stop(&t->cp);
    if (t->fd >= 0) {
        close(t->fd);
        unlink(t->path);
    }
    free(t->path);
    papyra__buf_free(&t->buf);
}

/*
 * fsync, rename over the data file, fsync the directory: every record is
 * durable in the new file then, so the data file's durability state starts
 * afresh. The fd follows the new file.
 */
static int
temp_commit(jsonl *j, temp_file *t)
{
    bool renamed = false;
    int r = temp_end_run(t), e;

    if (r == 0)
        r = temp_flush(t);
    /* Every piece is in the temp file before its fsync. */
    e = copier_stop(&t->cp);
    if (r == 0)
        r = e;
    if (r == 0)
        r = papyra__files_install(t->fd, t->path, j->file.path, &renamed);
    if (!renamed) {
        temp_abort(t);
        return r;
    }
    close(t->fd);
    t->fd = -1;
    if (r == 0)
        papyra__datafile_rewritten(&j->file, t->bytes);
    /* Closing the old file releases its lock; appenders reopen the path. */
    papyra__datafile_set_fd(&j->file, -1, 0);
    free(t->path);
    papyra__buf_free(&t->buf);
    return r;
}

/* What a rewrite keeps: every object (recover), or retention's survivors (compact). */
typedef struct rewrite_ctx {
    bool compact;
    papyra__retention_state st;
    int64_t total[PAPYRA_KIND_MAX]; /* records of the kind that pass the age limit */
    int64_t keep[PAPYRA_KIND_MAX];  /* of those, the newest kept */
    int64_t seen[PAPYRA_KIND_MAX];
    uint64_t before_records, after_records, anomalies;
    bool no_limit; /* compact without count or size limits: every record passing the age limit */
} rewrite_ctx;

/* @p k, @p has_ts, @p ts: the object's kind, and its timestamp if it has a numeric one. */
static bool
keep_object(rewrite_ctx *c, int k, bool has_ts, double ts)
{
    if (!c->compact)
        return true;
    /* Objects that are not records are kept, outside retention. */
    if (k < 0 || !has_ts)
        return true;
    if (c->st.has_cutoff && !(ts >= c->st.cutoff))
        return false;
    return c->no_limit || c->seen[k]++ >= c->total[k] - c->keep[k];
}

/* Streams the locked data file into a temp file and renames it over. */
static int
rewrite(jsonl *j, const char *tag, rewrite_ctx *c, int64_t *after_bytes)
{
    papyra__line_reader rd;
    papyra__line l;
    papyra_json *obj;
    /* The lines of a store mostly share a few shapes: checked by their values only. */
    papyra__normal_shapes shapes = PAPYRA__NORMAL_SHAPES_INIT;
    off_t off = 0, at;
    temp_file t;
    int r;

    r = temp_open(j, tag, &t);
    if (r < 0) {
        temp_abort(&t);
        return r;
    }
    papyra__lines_init(&rd, j->file.fd, -1, PAPYRA__NL_UNIVERSAL);
    while ((r = papyra__lines_next(&rd, &l)) == 1) {
        papyra__normal_info ni;
        double ts = 0;
        bool has_ts;

        papyra__progress_add(l.stored);
        at = off;
        off += (off_t)l.stored;
        /*
         * A line in normal form is a valid object and would be written back
         * as it is: it is copied without a parse (the check also gives its
         * kind and timestamp for retention).
         */
        if (normal_object(&l, &ni, &shapes)) {
            c->before_records++;
            if (keep_object(c, ni.kind, ni.has_timestamp, ni.timestamp)) {
                c->after_records++;
                r = temp_keep_line(&t, &l, at);
                if (r < 0)
                    break;
            }
            continue;
        }
        r = papyra__jsonl_parse_line(&l, &obj);
        if (r < 0)
            break;
        if (!obj) {
            c->anomalies++;
            continue;
        }
        c->before_records++;
        has_ts = papyra__record_timestamp(obj, &ts);
        if (keep_object(c, papyra__record_kind_of(obj), has_ts, ts)) {
            r = temp_put(&t, obj);
            c->after_records++;
        }
        papyra__json_free(obj);
        if (r < 0)
            break;
    }
    papyra__lines_free(&rd);
    if (r < 0) {
        temp_abort(&t);
        return r;
    }
    r = temp_commit(j, &t);
    if (after_bytes)
        *after_bytes = t.bytes;
    return r;
}

/*
 * Whether @p name is one of our temp files for the data file @p base:
 * "<base>.recover.tmp.<pid>.<n>" or "<base>.compact.tmp.<pid>.<n>" (see
 * papyra__temp_path()).
 */
static bool
is_leftover(const char *name, const char *base)
{
    size_t n = strlen(base);
    const char *p;
    int part;

    if (strncmp(name, base, n) != 0 || name[n] != '.')
        return false;
    p = name + n + 1;
    if (strncmp(p, "recover.tmp.", 12) == 0 || strncmp(p, "compact.tmp.", 12) == 0)
        p += 12;
    else
        return false;
    for (part = 0; part < 2; part++) {
        const char *d = p;
        while (*p >= '0' && *p <= '9')
            p++;
        if (p == d || *p != (part == 0 ? '.' : '\0'))
            return false;
        p++;
    }
    return true;
}

/*
 * Removes temp files that a recover or compact killed midway left next to
 * the data file. Called with the exclusive lock held: a live rewrite holds
 * it while its temp file exists, so every match is a leftover. Best effort.
 */
static void
remove_leftovers(jsonl *j)
{
    const char *slash = strrchr(j->file.path, '/');
    const char *base = slash ? slash + 1 : j->file.path;
    char *dir =
        slash ? strndup(j->file.path, (size_t)(slash - j->file.path) + (slash == j->file.path))
              : strdup(".");
    struct dirent *e;
    DIR *d;

    if (!dir)
        return;
    d = opendir(dir);
    free(dir);
    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        if (is_leftover(e->d_name, base))
            (void)unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
}

/* Copies the locked data file to a free <dir>/<name>.quarantine.<epoch ms>, durably. */
static int
quarantine_copy(jsonl *j, const char *qdir, char **ret)
{
    const char *path = j->file.path, *slash = strrchr(path, '/');
    char *dir = NULL;
    struct stat st;
    int r;

    if (fstat(j->file.fd, &st) < 0)
        return papyra__errno_code(errno);
    if (!qdir) {
        dir = slash ? strndup(path, (size_t)(slash - path) + (slash == path)) : strdup(".");
        if (!dir)
            return PAPYRA_ENOMEM;
    }
    r = papyra__files_quarantine_copy(j->file.fd, path, qdir ? qdir : dir,
                                      papyra__now_ns() / 1000000, st.st_mode & 0666, ret);
    free(dir);
    return r;
}

int
papyra__jsonl_repair(papyra_store *s,
                     const papyra_recovery_options *opts,
                     const papyra_scan_report *found,
                     papyra_recovery_report *report)
{
    jsonl *j = s->impl;
    rewrite_ctx c = {0};
    char *qpath = NULL;
    int r;

    r = papyra__jsonl_enter_exclusive(j);
    if (r == 1) {
        /* Gone since the scan: nothing left to repair. */
        return 0;
    }
    if (r < 0)
        return papyra__jsonl_error(s, r, "cannot open or lock", j->file.path);
    remove_leftovers(j);
    if (opts->mode == PAPYRA_RECOVER_QUARANTINE) {
        r = quarantine_copy(j, opts->quarantine_dir, &qpath);
        if (r < 0)
            r = papyra__jsonl_error(s, r, "cannot quarantine", j->file.path);
        else if (papyra__strv_add(&report->quarantined, &report->n_quarantined, qpath) < 0)
            r = papyra__store_error(s, PAPYRA_ENOMEM, "out of memory");
        free(qpath);
    }
    if (r == 0) {
        struct stat st;
        if (fstat(j->file.fd, &st) == 0)
            papyra__progress_total((uint64_t)st.st_size);
        r = rewrite(j, "recover", &c, NULL);
        if (r < 0)
            r = papyra__jsonl_error(s, r, "cannot repair", j->file.path);
        else if (papyra__strv_add(&report->repaired, &report->n_repaired, j->file.path) < 0)
            r = papyra__store_error(s, PAPYRA_ENOMEM, "out of memory");
    }
    papyra__jsonl_leave_exclusive(j);
    return r;
}

/* First pass of compact, newest first: how many records of each kind retention keeps. */
static int
count_survivors(papyra_store *s, jsonl *j, off_t size, rewrite_ctx *c)
{
    papyra__retention_state st[PAPYRA_KIND_MAX];
    bool done[PAPYRA_KIND_MAX] = {false};
    papyra__rline_reader rd;
    papyra__line l;
    papyra_json *obj;
    papyra__normal_shapes shapes = PAPYRA__NORMAL_SHAPES_INIT;
    double ts;
    int r, k;

    for (k = 0; k < PAPYRA_KIND_MAX; k++)
        st[k] = c->st;
    papyra__rlines_init(&rd, j->file.fd, (uint64_t)size, PAPYRA__NL_UNIVERSAL);
    while ((r = papyra__rlines_next(&rd, &l)) == 1) {
        papyra__normal_info ni;
        bool has_ts;

        papyra__progress_add(l.stored);
        obj = NULL;
        if (normal_object(&l, &ni, &shapes)) {
            k = ni.kind;
            has_ts = ni.has_timestamp;
            ts = ni.timestamp;
        } else {
            r = papyra__jsonl_parse_line(&l, &obj);
            if (r < 0)
                break;
            k = obj ? papyra__record_kind_of(obj) : -1;
            has_ts = k >= 0 && papyra__record_timestamp(obj, &ts);
        }
        if (k >= 0 && has_ts && !(c->st.has_cutoff && !(ts >= c->st.cutoff))) {
            c->total[k]++;
            if (!done[k]) {
                int v = papyra__retention_offer(&s->retention, &st[k], ts, l.stored);
                done[k] = v < 0;
                c->keep[k] += v > 0;
            }
        }
        papyra__json_free(obj);
    }
    papyra__rlines_free(&rd);
    return r;
}

int
papyra__jsonl_compact(papyra_store *s,
                      papyra_compaction_report *ret,
                      uint64_t *anomalies,
                      uint64_t *removed)
{
    jsonl *j = s->impl;
    rewrite_ctx c = {.compact = true};
    int64_t after = 0;
    struct stat st;
    int r;

    r = papyra__jsonl_enter_exclusive(j);
    if (r == 1) {
        /* Nothing stored: nothing to do, and no file is created. */
        ret->before_bytes = ret->after_bytes = 0;
        return 0;
    }
    if (r < 0)
        return papyra__jsonl_error(s, r, "cannot compact", j->file.path);
    remove_leftovers(j);
    if (fstat(j->file.fd, &st) < 0)
        r = papyra__errno_code(errno);
    if (r == 0) {
        papyra__retention_begin(&s->retention, &c.st);
        /*
         * Only the count and size limits need to know, per kind, how many
         * records come after a given one; the age limit is decided line by
         * line, so without those limits one pass is enough.
         */
        c.no_limit = !(s->retention.max_records > 0 || s->retention.max_total_bytes > 0);
        papyra__progress_total((uint64_t)st.st_size * (c.no_limit ? 1 : 2));
        if (!c.no_limit)
            r = count_survivors(s, j, st.st_size, &c);
    }
    if (r == 0)
        r = rewrite(j, "compact", &c, &after);
    papyra__jsonl_leave_exclusive(j);
    if (r < 0)
        return papyra__jsonl_error(s, r, "cannot compact", j->file.path);
    ret->before_records = c.before_records;
    ret->after_records = c.after_records;
    ret->before_bytes = st.st_size;
    ret->after_bytes = after;
    *anomalies = c.anomalies;
    *removed = c.before_records - c.after_records;
    return 0;
}
