/* SPDX-License-Identifier: MIT */
/*
 * The JSON-lines file backend ("json:PATH"): one record per line, upstream
 * Papyra's JSON-backend format ("kind" first, raw UTF-8, Python separators).
 *
 * Writing: one O_APPEND fd, opened at the first write (creating missing
 * parent directories) and kept; a batch is one write(2) from a buffer the
 * handle keeps. The append itself, the take-back of a refused one, the fsync
 * policies and the sticky durability errors are the files/ core's
 * (files/datafile.h); this file keeps what is its own: the locking of one
 * file. Appends hold the mutex of the store's control page
 * ("<dir>/.<name>.lock", files/control.h) around their write(2): no system
 * call while it is uncontended. The page's generation tells an appender that
 * a recover or compact replaced the file (it then reopens the path), and its
 * size whether the tail must be checked (after a failed append, a
 * replacement, or a holder that died in the middle of its write: a torn last
 * line is then terminated, so the next record is never glued onto it).
 *
 * Recover and compact hold the same mutex for their whole run, and
 * flock(LOCK_EX) on the data file (appenders of older releases hold it
 * shared). They write a temp file, fsync it, rename it over the data file and
 * fsync the directory, and bump the generation; appenders of every process
 * then reopen the new file.
 *
 * List and scan lock only to take the file's size (with no append in
 * flight). Every reader streams the file with the files/ line readers, in
 * bounded memory; list walks from the end of the file, so
 * retention and limit stop it early. Recover and compact live in rewrite.c.
 */
#include "json/json.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/json/jsonl.h"
#include "core/backend.h"
#include "record/codec.h"
#include "util/buf.h"
#include "util/fs.h"

typedef papyra__jsonl jsonl;

int
papyra__jsonl_error(papyra_store *s, int code, const char *what, const char *path)
{
    char why[128];

    return papyra__store_error(s, code, "%s %s: %s", what, path,
                               papyra__path_strerror(code, path, why, sizeof(why)));
}

/*
 * The control file of the data file @p path: "<dir>/.<name>.lock", a hidden
 * name next to it (the rotating backend's lock file is named so too).
 */
static int
ctl_name(const char *path, char **ret)
{
    const char *slash = strrchr(path, '/');
    int prefix = slash ? (int)(slash - path) + 1 : 0;

    return papyra__asprintf(ret, "%.*s.%s.lock", prefix, path, path + prefix);
}

static int
jl_open(papyra_store *s, const papyra__url *url)
{
    static const char *const keys[] = {"fsync", NULL};
    papyra__fsync fsync;
    struct stat st;
    jsonl *j;
    int r;

    if (url->path[0] == '\0')
        return papyra__store_error(s, PAPYRA_EINVAL, "json: needs a file path (json:PATH)");
    r = papyra__url_check(s, url, keys);
    if (r == 0)
        r = papyra__fsync_param(s, url, &fsync);
    if (r < 0)
        return r;
    if (stat(url->path, &st) == 0 && S_ISDIR(st.st_mode))
        return papyra__store_error(s, PAPYRA_ENOTREG, "json: %s: not a regular file (a directory)",
                                   url->path);
    j = calloc(1, sizeof(*j));
    /* A symlinked data path: the store works on its target, the link stays (docs/store.md). */
    if (!j || papyra__follow_links(url->path, &s->data_path) < 0) {
        free(j);
        return papyra__store_error(s, PAPYRA_ENOMEM, "out of memory");
    }
    r = papyra__datafile_init(s, &j->file, s->data_path, fsync, 0644);
    if (r < 0) {
        free(j);
        return r;
    }
    papyra__control_init(&j->ctl);
    atomic_init(&j->attached, false);
    r = ctl_name(s->data_path, &j->ctl_path);
    if (r < 0) {
        (void)papyra__datafile_close(s, &j->file);
        free(j);
        return papyra__store_error(s, r, "out of memory");
    }
    pthread_mutex_init(&j->mu, NULL);
    s->impl = j;
    return 0;
}

static int
jl_close(papyra_store *s)
{
    jsonl *j = s->impl;
    int r;

    if (!j)
        return 0;
    r = papyra__datafile_close(s, &j->file);
    papyra__control_detach(&j->ctl);
    free(j->ctl_path);
    pthread_mutex_destroy(&j->mu);
    free(j);
    s->impl = NULL;
    return r;
}

/*
 * Attaches the control page unless this handle has it: with @p create the
 * control file (and the data file's missing directories) is created. 0, 1
 * when the control file does not exist and is not created, or an error.
 */
static int
control_ready(jsonl *j, bool create)
{
    int r = 0;

    if (atomic_load_explicit(&j->attached, memory_order_acquire))
        return 0;
    pthread_mutex_lock(&j->mu);
    if (!j->ctl.page) {
        /* As wide as the data file, as every file a store makes (docs/store.md). */
        mode_t mode = papyra__mode_like(j->file.path, 0644);
        r = papyra__control_attach(&j->ctl, j->ctl_path, mode, create);
        if (r == PAPYRA_ENOENT && errno == ENOENT && create) {
            r = papyra__mkdir_parents(j->ctl_path);
            if (r == 0)
                r = papyra__control_attach(&j->ctl, j->ctl_path, mode, create);
        }
        if (r == 0)
            atomic_store_explicit(&j->attached, true, memory_order_release);
    }
    pthread_mutex_unlock(&j->mu);
    return r;
}

/* The error of a control file that cannot be used, naming it and the data file. */
static int
control_error(papyra_store *s, jsonl *j, int code)
{
    char why[128];

    return papyra__store_error(s, code, "cannot open or lock %s (its control file %s): %s",
                               j->file.path, j->ctl_path,
                               papyra__path_strerror(code, j->ctl_path, why, sizeof(why)));
}

/*
 * With the control mutex held: opens the data file into j->file.fd
 * (creating it and its directory with @p create). 1 when it does not exist
 * and is not created.
 */
static int
open_data(jsonl *j, bool create)
{
    int64_t size;
    int fd = papyra__datafile_open(&j->file, create, &size);

    /* Only a missing file is "nothing stored"; a path below a file (ENOTDIR) is an error. */
    if (fd < 0)
        return fd == PAPYRA_ENOENT && !create && errno == ENOENT ? 1 : fd;
    papyra__datafile_set_fd(&j->file, fd, size);
    return 0;
}

/*
 * With the control mutex held: makes j->file.fd the current data file,
 * locked exclusively with flock too (appenders of older releases hold it
 * shared). A missing file gives 1 and creates nothing.
 */
static int
lock_exclusive(jsonl *j)
{
    struct stat st;
    int r;

    for (;;) {
        if (j->file.fd < 0 && (r = open_data(j, false)) != 0)
            return r;
        r = papyra__flock(j->file.fd, LOCK_EX);
        if (r < 0)
            return r;
        if (fstat(j->file.fd, &st) < 0) {
            r = papyra__errno_code(errno);
            papyra__flock(j->file.fd, LOCK_UN);
            return r;
        }
        if (st.st_nlink > 0)
            return 0;
        /*
         * Replaced by a recover or compact, which fsynced what it copied:
         * follow the path to the new file.
         */
        papyra__flock(j->file.fd, LOCK_UN);
        papyra__datafile_set_fd(&j->file, -1, 0);
    }
}

/*
 * With the control mutex held: the size of the data file, whose last line
 * is terminated first. A torn line left by a crash would swallow the next
 * record, so a last byte that is neither "\n" nor "\r" (a line end too, as
 * upstream reads the file) gets a "\n". Such a byte may also be an append
 * in flight of an older release (flock(LOCK_SH), no control page), so it is
 * read again under flock(LOCK_EX) before anything is written.
 */
static int
terminate_tail(jsonl *j, int64_t *size)
{
    papyra__file_id id = {0};
    bool excl = false;
    char c;
    int r;

    for (;;) {
        r = papyra__files_id(NULL, j->file.fd, &id);
        if (r < 0 || id.size == 0)
            break;
        if (pread(j->file.fd, &c, 1, (off_t)id.size - 1) != 1) {
            r = PAPYRA_EIO;
            break;
        }
        if (c == '\n' || c == '\r')
            break;
        if (!excl) {
            r = papyra__flock(j->file.fd, LOCK_EX);
            if (r < 0)
                return r;
            excl = true;
            continue;
        }
        r = papyra__write_all(j->file.fd, "\n", 1);
        if (r == 0)
            id.size++;
        break;
    }
    if (excl)
        (void)papyra__flock(j->file.fd, LOCK_UN);
    *size = (int64_t)id.size;
    return r;
}

/*
 * The appender of papyra__datafile_write(): the control page's mutex,
 * held around the write(2). In the steady state this is the whole cost:
 * the file is the one this handle opened (the generation did not move)
 * and its size is known (the last holder's append succeeded), so no system
 * call is made. The data file is (re)opened when this handle has none or a
 * recover or compact replaced it (the generation moved), and its tail is
 * checked then, after a failed append and after a holder died (the size is
 * unknown).
 */
static int
append_lock(papyra_store *s, void *ctx, size_t len, int64_t *size)
{
    jsonl *j = ctx;
    papyra__control_page *pg;
    uint64_t gen;
    int r;

    r = control_ready(j, true);
    if (r == 0)
        r = papyra__control_lock(&j->ctl);
    if (r < 0)
        return control_error(s, j, r);
    pg = j->ctl.page;
    gen = papyra__control_generation(&j->ctl);
    if (j->file.fd < 0 || gen != j->gen) {
        if (j->file.fd >= 0)
            papyra__datafile_set_fd(&j->file, -1, 0);
        r = open_data(j, true);
        if (r == 0) {
            j->gen = gen;
            r = papyra__control_note_file(&j->ctl, j->file.fd, &j->gen);
            /* Not known which file it is: the next append opens it again. */
            if (r < 0)
                papyra__datafile_set_fd(&j->file, -1, 0);
        }
        if (r < 0)
            goto fail;
        /* Another writer (upstream, a process that died) may have left a torn tail. */
        pg->size_known = 0;
    }
    if (!pg->size_known) {
        int64_t sz;
        r = terminate_tail(j, &sz);
        if (r < 0)
            goto fail;
        pg->size = (uint64_t)sz;
        pg->size_known = 1;
    }
    *size = (int64_t)pg->size;
    return 0;
fail:
    papyra__control_unlock(&j->ctl);
    return papyra__jsonl_error(s, r, "cannot open or lock", j->file.path);
}

/* @p len bytes were appended, or an unknown part of them when @p failed. */
static void
append_unlock(void *ctx, size_t len, bool failed)
{
    jsonl *j = ctx;

    if (failed)
        j->ctl.page->size_known = 0;
    else
        j->ctl.page->size += len;
    papyra__control_unlock(&j->ctl);
}

/*
 * The take-back of a refused write: the control mutex already keeps every
 * appender of this release out; flock(LOCK_EX) keeps out those of older
 * ones.
 */
static int
take_back_exclusive(void *ctx)
{
    jsonl *j = ctx;

    return papyra__flock(j->file.fd, LOCK_EX);
}

static void
take_back_release(void *ctx)
{
    jsonl *j = ctx;

    (void)papyra__flock(j->file.fd, LOCK_UN);
}

static int
jl_write(papyra_store *s, const papyra_record *records, size_t n, size_t *stored)
{
    static const papyra__appender appender = {append_lock, take_back_exclusive, take_back_release,
                                              append_unlock};
    jsonl *j = s->impl;

    return papyra__datafile_write(s, &j->file, records, n, PAPYRA_STYLE_JSON, &appender, j);
}

/* See jsonl.h. */
int
papyra__jsonl_parse_line(const papyra__line *l, papyra_json **obj)
{
    int r;

    *obj = NULL;
    if (!l->terminated)
        return 0;
    r = papyra__json_parse_object(l->p, l->len, obj);
    return r < 0 ? r : 0;
}

/*
 * Opens the data file to read: 1, 0 when it does not exist, or an error.
 * @p size is taken with no append in flight: under the control mutex (when
 * the control file exists: without it, no appender of this release ever
 * ran) and a brief flock(LOCK_EX) (appenders of older releases hold it
 * shared). Everything before it is whole records, so a reader never mistakes
 * another process's half-done append for a torn line. What is appended later
 * lies beyond @p size and is not read.
 */
static int
open_read(papyra_store *s, jsonl *j, int *fd, off_t *size)
{
    struct stat st;
    bool locked;
    int r;

    *fd = papyra__open_regular(j->file.path, O_RDONLY, 0);
    if (*fd < 0) {
        r = *fd;
        *fd = -1;
        if (r == PAPYRA_ENOENT && errno == ENOENT)
            return 0;
        return papyra__jsonl_error(s, r, "cannot open", j->file.path);
    }
    /* A reader that may not write the control file reads as before it existed. */
    locked = control_ready(j, false) == 0 && papyra__control_lock(&j->ctl) >= 0;
    r = papyra__flock(*fd, LOCK_EX);
    if (r == 0 && fstat(*fd, &st) < 0)
        r = papyra__errno_code(errno);
    (void)papyra__flock(*fd, LOCK_UN);
    if (locked)
        papyra__control_unlock(&j->ctl);
    if (r < 0) {
        close(*fd);
        return papyra__jsonl_error(s, r, "cannot stat", j->file.path);
    }
    *size = st.st_size;
    return 1;
}

static int
list_add(papyra_record_list *list, size_t *cap, const papyra_json *obj)
{
    if (list->count == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        papyra_record *nr = realloc(list->records, nc * sizeof(*nr));
        if (!nr)
            return PAPYRA_ENOMEM;
        list->records = nr;
        *cap = nc;
    }
    memset(&list->records[list->count], 0, sizeof(list->records[0]));
    return papyra__record_decode(obj, NULL, &list->records[list->count]);
}

/* Reverses a list in place (it was built newest first). */
static void
list_reverse(papyra_record_list *list)
{
    size_t i, k;

    for (i = 0, k = list->count; i + 1 < k; i++, k--) {
        papyra_record t = list->records[i];
        list->records[i] = list->records[k - 1];
        list->records[k - 1] = t;
    }
}

/*
 * The record of @p kind a line holds: 1 with *obj and its timestamp, 0 when
 * it holds none (an anomaly counted in @p anomalies, or another kind), or an
 * error.
 */
static int
line_object(
    const papyra__line *l, papyra_kind kind, papyra_json **obj, double *ts, uint64_t *anomalies)
{
    int r = papyra__jsonl_parse_line(l, obj);

    if (r < 0)
        return r;
    if (!*obj) {
        (*anomalies)++;
        return 0;
    }
    /* Unknown kinds and objects without a timestamp are not records: skipped, not anomalies. */
    if (papyra__record_kind_of(*obj) != (int)kind || !papyra__record_timestamp(*obj, ts)) {
        papyra__json_free(*obj);
        *obj = NULL;
        return 0;
    }
    return 1;
}

/*
 * Walks from the newest line. One line: 1 when the walk is over (retention
 * or limit reached), 0 to go on, or an error.
 */
static int
list_line(papyra_store *s,
          const papyra__line *l,
          papyra_kind kind,
          const papyra_list_options *opts,
          papyra__retention_state *st,
          papyra_record_list *list,
          size_t *cap,
          uint64_t *anomalies)
{
    papyra_json *obj;
    double ts;
    int r, v;

    r = line_object(l, kind, &obj, &ts, anomalies);
    if (r <= 0)
        return r;
    v = papyra__retention_offer(&s->retention, st, ts, l->stored);
    if (v > 0 && !(opts->has_since && !(ts >= opts->since))) {
        /* A field our structs cannot hold: skipped and counted, never coerced. */
        if (papyra__record_classify(obj, NULL, 0) == PAPYRA__LINE_MISTYPED) {
            (*anomalies)++;
            papyra__json_free(obj);
            return 0;
        }
        r = list_add(list, cap, obj);
        if (r == 0 && ++list->count == opts->limit)
            v = -1;
    }
    papyra__json_free(obj);
    return r < 0 ? r : v < 0;
}

static int
jl_list(papyra_store *s,
        papyra_kind kind,
        const papyra_list_options *opts,
        papyra__list_result *out)
{
    jsonl *j = s->impl;
    papyra_record_list *list = calloc(1, sizeof(*list));
    papyra__retention_state st;
    papyra__rline_reader rd;
    papyra__line l;
    size_t cap = 0;
    off_t size = 0;
    int fd = -1, r;

    if (!list)
        return papyra__store_error(s, PAPYRA_ENOMEM, "out of memory");
    r = open_read(s, j, &fd, &size);
    if (r <= 0) {
        if (r == 0)
            out->list = list;
        else
            free(list);
        return r;
    }
    papyra__retention_begin(&s->retention, &st);
    papyra__rlines_init(&rd, fd, (uint64_t)size, PAPYRA__NL_UNIVERSAL);
    while ((r = papyra__rlines_next(&rd, &l)) == 1) {
        r = list_line(s, &l, kind, opts, &st, list, &cap, &out->anomalies);
        if (r != 0)
            break;
    }
    papyra__rlines_free(&rd);
    close(fd);
    if (r < 0) {
        papyra_record_list_free(list);
        return papyra__jsonl_error(s, r, "cannot read", j->file.path);
    }
    list_reverse(list);
    out->list = list;
    return 0;
}

/*
 * Where papyra_store_each() starts reading forwards: the offset of the oldest
 * record that list would return, found walking from the end as list does
 * (only when retention's count or size limit, or a limit, can cut older
 * records). *none: nothing is returned at all.
 */
static int
each_start(papyra_store *s,
           int fd,
           off_t size,
           papyra_kind kind,
           const papyra_list_options *opts,
           const papyra__retention_state *begun,
           off_t *start,
           bool *none,
           uint64_t *anomalies,
           bool *walked)
{
    papyra__retention_state st = *begun;
    papyra__rline_reader rd;
    papyra__line l;
    uint64_t kept = 0, seen = 0;
    int r, v = 1;

    *start = 0;
    *none = false;
    *walked = false;
    if (!(s->retention.max_records > 0 || s->retention.max_total_bytes > 0 || opts->limit > 0))
        return 0;
    /* This walk is list's: it counts the anomalies list would pass over. */
    *walked = true;
    papyra__rlines_init(&rd, fd, (uint64_t)size, PAPYRA__NL_UNIVERSAL);
    while (v >= 0 && (r = papyra__rlines_next(&rd, &l)) == 1) {
        papyra_json *obj;
        double ts;

        bool mistyped;

        r = line_object(&l, kind, &obj, &ts, anomalies);
        if (r < 0)
            break;
        if (r == 0)
            continue;
        mistyped = papyra__record_classify(obj, NULL, 0) == PAPYRA__LINE_MISTYPED;
        papyra__json_free(obj);
        v = papyra__retention_offer(&s->retention, &st, ts, l.stored);
        if (v > 0 && !(opts->has_since && !(ts >= opts->since))) {
            /* A mistyped record is read (and counted) too, but not delivered. */
            *start = (off_t)rd.hi;
            seen += mistyped;
            *anomalies += mistyped;
            if (!mistyped && ++kept == opts->limit)
                v = -1;
        }
    }
    papyra__rlines_free(&rd);
    if (r < 0)
        return r;
    /* Stopped before keeping anything: nothing is returned. */
    *none = v < 0 && kept == 0 && seen == 0;
    return 0;
}

static int
jl_each(papyra_store *s, papyra_kind kind, const papyra_list_options *opts, papyra__each *e)
{
    jsonl *j = s->impl;
    papyra__retention_state st;
    papyra__line_reader rd;
    papyra__line l;
    off_t size = 0, start;
    bool none, walked;
    uint64_t ignored = 0, *seen;
    int fd = -1, r;

    r = open_read(s, j, &fd, &size);
    if (r <= 0)
        return r;
    papyra__retention_begin(&s->retention, &st);
    r = each_start(s, fd, size, kind, opts, &st, &start, &none, &e->anomalies, &walked);
    /* Anomalies the first walk counted are not counted again. */
    seen = walked ? &ignored : &e->anomalies;
    if (r == 0 && !none) {
        papyra__lines_init(&rd, fd, size, PAPYRA__NL_UNIVERSAL);
        rd.off = start;
        while ((r = papyra__lines_next(&rd, &l)) == 1) {
            papyra_record rec;
            papyra_json *obj;
            double ts;

            r = line_object(&l, kind, &obj, &ts, seen);
            if (r < 0)
                break;
            if (r == 0 || (st.has_cutoff && !(ts >= st.cutoff)) ||
                (opts->has_since && !(ts >= opts->since))) {
                papyra__json_free(obj);
                continue;
            }
            /* A field our structs cannot hold: skipped and counted, never coerced. */
            if (papyra__record_classify(obj, NULL, 0) == PAPYRA__LINE_MISTYPED) {
                (*seen)++;
                papyra__json_free(obj);
                continue;
            }
            memset(&rec, 0, sizeof(rec));
            r = papyra__record_decode(obj, NULL, &rec);
            papyra__json_free(obj);
            if (r < 0 || papyra__each_deliver(e, &rec))
                break;
        }
        papyra__lines_free(&rd);
    }
    close(fd);
    if (r < 0)
        return papyra__jsonl_error(s, r, "cannot read", j->file.path);
    return 0;
}

/* Scans the first @p size bytes of an open file into @p rep. */
static int
scan_fd(jsonl *j, int fd, off_t size, papyra_scan_report *rep)
{
    papyra__line_reader rd;
    papyra__line l;
    /*
     * The lines of a store mostly share a few shapes: checked by their values
     * only, and, since a scan only classifies, floats as JSON numbers.
     */
    papyra__normal_shapes shapes = {.valid_only = true};
    char why[160], detail[224];
    int r;

    papyra__lines_init(&rd, fd, size, PAPYRA__NL_UNIVERSAL);
    papyra__progress_total((uint64_t)size);
    while ((r = papyra__lines_next(&rd, &l)) == 1) {
        papyra__progress_add(l.stored);
        if (!l.terminated) {
            snprintf(detail, sizeof(detail), "Line %llu missing newline",
                     (unsigned long long)l.lineno);
            r = papyra__scan_report_add(rep, PAPYRA_ANOMALY_TRUNCATED_LINE, j->file.path, detail);
            if (r < 0)
                break;
            continue;
        }
        /* The one rule for a line (record/codec.h): no parse for a line in normal form. */
        r = papyra__record_classify_line_shaped(l.p, l.len, false, NULL, &shapes, why, sizeof(why));
        if (r < 0)
            break;
        if (r == PAPYRA__LINE_CORRUPT) {
            snprintf(detail, sizeof(detail), "Invalid JSON at line %llu",
                     (unsigned long long)l.lineno);
            r = papyra__scan_report_add(rep, PAPYRA_ANOMALY_CORRUPTED_LINE, j->file.path, detail);
        } else if (r == PAPYRA__LINE_MISTYPED) {
            snprintf(detail, sizeof(detail), "Line %llu: %s", (unsigned long long)l.lineno, why);
            r = papyra__scan_report_add(rep, PAPYRA_ANOMALY_MISTYPED_RECORD, j->file.path, detail);
        } else {
            r = 0;
        }
        if (r < 0)
            break;
    }
    papyra__lines_free(&rd);
    return r;
}

static int
jl_scan(papyra_store *s, papyra_scan_report **ret)
{
    jsonl *j = s->impl;
    papyra_scan_report *rep = NULL;
    off_t size;
    int fd = -1, r;

    r = papyra__scan_report_new("json", &rep);
    if (r < 0)
        return papyra__store_error(s, r, "out of memory");
    r = open_read(s, j, &fd, &size);
    if (r > 0) {
        r = scan_fd(j, fd, size, rep);
        close(fd);
        if (r < 0)
            r = papyra__jsonl_error(s, r, "cannot scan", j->file.path);
    }
    if (r < 0) {
        papyra_scan_report_free(rep);
        return r;
    }
    *ret = rep;
    return 0;
}

/* After a failed fsync, recover rewrites the file even when it scans clean. */
static bool
jl_needs_repair(papyra_store *s)
{
    jsonl *j = s->impl;

    return papyra__datafile_poisoned(&j->file);
}

/* See jsonl.h. */
int
papyra__jsonl_enter_exclusive(jsonl *j)
{
    struct stat st;
    int r;

    /* Nothing stored: no control file is made for it. */
    if (j->file.fd < 0 && stat(j->file.path, &st) < 0 && errno == ENOENT)
        return 1;
    r = control_ready(j, true);
    if (r == 0)
        r = papyra__control_lock(&j->ctl);
    if (r < 0)
        return r;
    r = lock_exclusive(j);
    if (r != 0)
        papyra__control_unlock(&j->ctl);
    return r;
}

void
papyra__jsonl_leave_exclusive(jsonl *j)
{
    if (j->file.fd >= 0)
        (void)papyra__flock(j->file.fd, LOCK_UN);
    /* The file may have been rewritten: every appender reopens it and checks its tail. */
    j->ctl.page->size_known = 0;
    papyra__control_forget_file(&j->ctl);
    (void)papyra__control_bump(&j->ctl);
    papyra__control_unlock(&j->ctl);
}

const papyra__backend_ops papyra__backend_jsonl = {
    .name = "json",
    .id = PAPYRA_BACKEND_JSON,
    .open = jl_open,
    .close = jl_close,
    .write = jl_write,
    .list = jl_list,
    .each = jl_each,
    .scan = jl_scan,
    .needs_repair = jl_needs_repair,
    .repair = papyra__jsonl_repair,
    .compact = papyra__jsonl_compact,
    .default_metrics_path = papyra__file_metrics_path,
    .progress_unit = "bytes",
};
