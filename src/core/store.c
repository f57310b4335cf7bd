/* SPDX-License-Identifier: MIT */
/*
 * The generic store layer: URL dispatch, argument checks, error messages and
 * every counter. Backends report what happened; this file turns that into
 * metrics, exactly as DESIGN section 3 and spec/metrics.yaml say, and only
 * for the counters the backend supports.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/backend.h"
#include "metrics/count.h"
#include "record/codec.h"
#include "util/errmsg.h"
#include "util/fs.h"

/*
 * The backends this build knows. A backend built conditionally is compiled
 * in with -DPAPYRA_HAVE_<NAME> on the library's sources (Redis, with hiredis).
 */
static const papyra__backend_ops *const backends[] = {
    &papyra__backend_memory,
    &papyra__backend_jsonl,
    &papyra__backend_rotating,
#ifdef PAPYRA_HAVE_REDIS
    &papyra__backend_redis,
#endif
};

/* Schemes that name a backend other than by its id, one a line. */
/* clang-format off */
static const struct {
    const char *scheme;
    const char *backend;
} scheme_aliases[] = {
    {"unix", "redis"},
    {"rediss", "redis"},
    {"redis-sentinel", "redis"},
    {"rediss-sentinel", "redis"},
    {"redis-cluster", "redis"},
    {"rediss-cluster", "redis"},
};
/* clang-format on */

static const char *const anomaly_names[] = {
    [PAPYRA_ANOMALY_TRUNCATED_LINE] = "TRUNCATED_LINE",
    [PAPYRA_ANOMALY_PARTIAL_WRITE] = "PARTIAL_WRITE",
    [PAPYRA_ANOMALY_CORRUPTED_LINE] = "CORRUPTED_LINE",
    [PAPYRA_ANOMALY_ORPHANED_ROTATED_FILE] = "ORPHANED_ROTATED_FILE",
    [PAPYRA_ANOMALY_UNEXPECTED_FILE] = "UNEXPECTED_FILE",
    [PAPYRA_ANOMALY_MISTYPED_RECORD] = "MISTYPED_RECORD",
};

PAPYRA_PUBLIC const char *
papyra_anomaly_type_name(int type)
{
    if (type < PAPYRA_ANOMALY_TRUNCATED_LINE || type > PAPYRA_ANOMALY_MISTYPED_RECORD)
        return NULL;
    return anomaly_names[type];
}

/*
 * Error messages are per thread (store.h, papyra_store_errmsg()): a thread
 * keeps the messages of the last stores it failed on, each tagged with the
 * handle's generation (util/errmsg.h).
 */
static _Thread_local papyra__errmsg_table err_table;

/* Gives a new handle its generation, before any message is set on it. */
static void
err_init(papyra_store *s)
{
    s->errgen = papyra__errmsg_generation();
}

/* Forgets the calling thread's message for @p s, a handle going away. */
static void
err_forget(const papyra_store *s)
{
    papyra__errmsg_forget(&err_table, s, s->errgen);
}

int
papyra__store_error(papyra_store *s, int code, const char *fmt, ...)
{
    va_list ap;

    if (!s)
        return code;
    va_start(ap, fmt);
    papyra__errmsg_vset(&err_table, s, s->errgen, fmt, ap);
    va_end(ap);
    return code;
}

int
papyra__store_encode(
    papyra_store *s, const papyra_record *records, size_t i, int style, papyra_buf *out)
{
    papyra__encode_error why;
    const char *kind = papyra_kind_name(records[i].kind);
    int r = papyra__record_encode_why(&records[i], style, out, &why);

    if (r == 0)
        return 0;
    if (kind)
        return papyra__store_error(s, r, "record %zu (%s) cannot be serialised: %s", i, kind,
                                   why.text);
    return papyra__store_error(s, r, "record %zu cannot be serialised: %s", i, why.text);
}

/*
 * Starts counting one call of @p op on @p s: the store reports facts to the
 * outcome, and the spec's rules move the counters (metrics/count.h).
 */
static void
begin(papyra_store *s, papyra__outcome *o, int op)
{
    papyra__outcome_begin(o, s->metrics, s->ops->id, op);
}

static const papyra__backend_ops *
find_backend(const char *scheme)
{
    size_t i;

    for (i = 0; i < sizeof(scheme_aliases) / sizeof(scheme_aliases[0]); i++) {
        if (strcmp(scheme, scheme_aliases[i].scheme) == 0)
            scheme = scheme_aliases[i].backend;
    }
    for (i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
        if (strcmp(scheme, backends[i]->name) == 0)
            return backends[i];
    }
    return NULL;
}

static int
parse_retention(papyra_store *s, const papyra__url *url)
{
    papyra__retention *r = &s->retention;
    int e;

    e = papyra__url_int(s, url, "max_records", 1, PAPYRA__MAX_RECORDS_MAX, 0, &r->max_records);
    if (e == 0)
        e = papyra__url_int(s, url, "max_total_bytes", 1, PAPYRA__MAX_TOTAL_BYTES_MAX, 0,
                            &r->max_total_bytes);
    if (e == 0)
        e = papyra__url_double(s, url, "max_age_seconds", PAPYRA__MAX_AGE_SECONDS_MAX, 0,
                               &r->max_age_seconds);
    return e;
}

/*
 * Where the store's shared metrics file is: metrics=PATH, the backend's
 * default, or NULL for private counters (metrics=none, memory without
 * metrics=). Connects to nothing and creates nothing.
 */
static bool path_absent(const char *path);

/*
 * metrics_path_for() for a reader that opens no store: the default path, or
 * the backend's legacy path when only that one exists (not migrated yet).
 */
static int
metrics_path_found(papyra_store *s, const papyra__url *url, char **ret)
{
    char *old = NULL;
    int r = s->ops->default_metrics_path(s, url, ret);

    if (r < 0 || !*ret || !s->ops->legacy_metrics_path || !path_absent(*ret))
        return r;
    r = s->ops->legacy_metrics_path(s, url, &old);
    if (r < 0 || !old)
        return r;
    if (path_absent(old)) {
        free(old);
        return 0;
    }
    free(*ret);
    *ret = old;
    return 0;
}

static int
metrics_path_for(papyra_store *s, const papyra__url *url, bool finding, char **ret)
{
    const char *want = papyra__url_param(url, "metrics");

    *ret = NULL;
    if (want && want[0] == '\0')
        return papyra__store_error(s, PAPYRA_EINVAL,
                                   "parameter 'metrics' must be a path or 'none'");
    if (want && strcmp(want, "none") == 0)
        return 0;
    if (want) {
        *ret = strdup(want);
        return *ret ? 0 : papyra__store_error(s, PAPYRA_ENOMEM, "out of memory");
    }
    if (!s->ops->default_metrics_path)
        return 0;
    return finding ? metrics_path_found(s, url, ret) : s->ops->default_metrics_path(s, url, ret);
}

/*
 * Opens the metrics file of an older release at @p old, locked exclusively
 * (flock: every opener that migrates takes it, so one at a time) and still
 * linked under that name: its descriptor, or -1 when there is none, or it
 * is not a regular file (left alone). O_NONBLOCK: a FIFO never blocks.
 */
static int
lock_legacy(const char *old)
{
    for (int round = 0; round < 8; round++) {
        int fd = open(old, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        struct stat a, b;

        if (fd < 0)
            return -1;
        if (fstat(fd, &a) < 0 || !S_ISREG(a.st_mode) || flock(fd, LOCK_EX) < 0) {
            close(fd);
            return -1;
        }
        if (stat(old, &b) == 0 && b.st_dev == a.st_dev && b.st_ino == a.st_ino)
            return fd;
        /* Migrated by another opener meanwhile, or made again: look again. */
        close(fd);
    }
    return -1;
}

/* Whether @p path names the file open at @p fd. */
static bool
same_file(int fd, const char *path)
{
    struct stat a, b;

    return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
           a.st_ino == b.st_ino;
}

/*
 * Before the metrics file is opened: when only the old name exists, it takes
 * the new one (link, then unlink the old: a file already at the new name is
 * never replaced). Processes of an older release that have it mapped keep
 * counting into the same file. Best effort: what is left is folded later.
 */
static void
migrate_rename(const char *old, const char *path)
{
    int fd = lock_legacy(old);

    if (fd < 0)
        return;
    if (link(old, path) == 0 || (errno == EEXIST && same_file(fd, path))) {
        /* A crash between link and unlink leaves two names of one file: the next open ends it. */
        if (unlink(old) == 0)
            (void)papyra__fsync_parent(path);
    }
    close(fd);
}

/*
 * After the metrics file at the default path is open: a file still at the
 * old name (an older release made it again, or it could not be moved) has
 * its counters added to ours, lifetime totals and values since its last
 * reset alike, and is removed. Done under the old file's lock, once. A crash
 * between the addition and the removal would count the old file twice on
 * the next open; it never loses a count. A file that cannot be read is left
 * where it is, and said in the metrics warning.
 */
static int
migrate_fold(papyra_store *s, const char *old)
{
    papyra_metrics_options o = {.flags = PAPYRA_METRICS_READONLY, .backend = s->ops->id};
    papyra_metrics_snapshot snap;
    papyra_metrics *om = NULL;
    papyra_error e = {0};
    int fd = lock_legacy(old), r;

    if (fd < 0)
        return 0;
    if (same_file(fd, papyra_metrics_path(s->metrics))) {
        (void)unlink(old);
        close(fd);
        return 0;
    }
    r = papyra_metrics_open(&om, old, &o, &e);
    if (r == 0)
        r = papyra_metrics_read(om, &snap);
    papyra_metrics_close(om);
    if (r < 0) {
        close(fd);
        free(s->metrics_warning);
        s->metrics_warning = NULL;
        if (papyra__asprintf(&s->metrics_warning,
                             "the metrics file of an older release, %s, cannot be read (%s); "
                             "it is left in place and its counts are not included",
                             old, e.message[0] ? e.message : papyra_strerror(r)) < 0)
            return papyra__store_error(s, PAPYRA_ENOMEM, "out of memory");
        return 0;
    }
    for (int id = 0; id < PAPYRA_METRIC_COUNT; id++) {
        if (snap.state[id] != PAPYRA_METRIC_OK)
            continue;
        /* The total first, so that a reader never sees a value below what it was. */
        atomic_fetch_add_explicit(s->metrics->live[id], snap.total[id], memory_order_relaxed);
        atomic_fetch_add_explicit(s->metrics->base[id], snap.total[id] - snap.value[id],
                                  memory_order_relaxed);
    }
    if (unlink(old) == 0)
        (void)papyra__fsync_parent(old);
    close(fd);
    return 0;
}

/*
 * Opens the shared metrics file, or private counters. A metrics file that
 * cannot be used never stops the store: the counters become private and the
 * reason is kept for papyra_store_metrics_warning().
 */
static int
open_metrics(papyra_store *s, const papyra__url *url)
{
    papyra_metrics_options o = {0};
    papyra_error e = {0};
    char *path = NULL, *old = NULL;
    int r = metrics_path_for(s, url, false, &path);

    if (r == 0 && path && !papyra__url_param(url, "metrics") && s->ops->legacy_metrics_path)
        r = s->ops->legacy_metrics_path(s, url, &old);
    if (r < 0) {
        free(path);
        return r;
    }
    if (old)
        migrate_rename(old, path);
    if (path) {
        o.flags = PAPYRA_METRICS_CREATE;
        o.backend = s->ops->id;
        o.mode_from = s->data_path;
        /* The counters must outlive this process from its first write on. */
        (void)papyra__mkdir_parents(path);
        r = papyra_metrics_open(&s->metrics, path, &o, &e);
        if (r < 0 &&
            papyra__asprintf(&s->metrics_warning, "%s; counters are private to this process",
                             e.message[0] ? e.message : papyra_strerror(r)) < 0) {
            free(path);
            return papyra__store_error(s, PAPYRA_ENOMEM, "out of memory");
        }
        free(path);
    }
    /* Folded only into a shared file: private counters would lose the old counts. */
    r = old && s->metrics && s->metrics->shared && !path_absent(old) ? migrate_fold(s, old) : 0;
    free(old);
    if (r < 0)
        return r;
    if (!s->metrics) {
        r = papyra_metrics_new_private(&s->metrics, s->ops->id);
        if (r < 0)
            return papyra__store_error(s, r, "cannot create counters: %s", papyra_strerror(r));
    }
    return 0;
}

int
papyra__file_metrics_path(papyra_store *s, const papyra__url *url, char **ret)
{
    char *data = NULL;
    /* Next to the data, after following a symlinked data path: one file for every name. */
    int r = papyra__follow_links(url->path, &data);

    if (r == 0)
        r = papyra__asprintf(ret, "%s.metrics", data);
    free(data);
    return r < 0 ? papyra__store_error(s, r, "out of memory") : 0;
}

static void
store_free(papyra_store *s)
{
    papyra_metrics_close(s->metrics);
    free(s->metrics_warning);
    free(s->data_path);
    err_forget(s);
    free(s);
}

static int
open_error(papyra_error *reterr, int code, const char *msg)
{
    if (reterr) {
        reterr->code = code;
        /* The handle's message is longer; keep what fits. */
        snprintf(reterr->message, sizeof(reterr->message), "%.*s", (int)sizeof(reterr->message) - 1,
                 msg && msg[0] ? msg : papyra_strerror(code));
    }
    return code;
}

/* Whether the backend keeps its records in the file its URL names. */
static bool
is_file_backend(const papyra__backend_ops *ops)
{
    return ops->id == PAPYRA_BACKEND_JSON || ops->id == PAPYRA_BACKEND_ROTATING;
}

/*
 * What a URL says before any backend opens: the parsed URL, its backend and
 * where its counters live (NULL: private). Connects to nothing and creates
 * nothing. @p need_path: a file store without a path is an error, as its
 * open would say. On failure @p url is freed and @p reterr says why.
 */
static int
locate(const char *url_text,
       papyra__url *url,
       const papyra__backend_ops **ops,
       char **metrics,
       bool need_path,
       papyra_error *reterr)
{
    papyra_store s = {0};
    int r;

    err_init(&s);
    r = papyra__url_parse(url_text, url, reterr);
    if (r < 0)
        return r;
    s.ops = find_backend(url->scheme);
    if (!s.ops)
        r = papyra__store_error(&s, PAPYRA_EINVAL, "unknown or unavailable store backend '%s'",
                                url->scheme);
    else if (need_path && is_file_backend(s.ops) && url->path[0] == '\0')
        r = papyra__store_error(&s, PAPYRA_EINVAL, "%s: needs a file path (%s:PATH)", s.ops->name,
                                s.ops->name);
    if (r == 0)
        r = metrics_path_for(&s, url, true, metrics);
    if (r < 0) {
        open_error(reterr, r, papyra_store_errmsg(&s));
        err_forget(&s);
        papyra__url_free(url);
        return r;
    }
    *ops = s.ops;
    return 0;
}

PAPYRA_PUBLIC int
papyra_store_metrics_location(const char *url_text,
                              char **ret_path,
                              int *ret_backend,
                              papyra_error *reterr)
{
    const papyra__backend_ops *ops = NULL;
    papyra__url url = {0};
    char *path = NULL;
    int r;

    if (!ret_path)
        return open_error(reterr, PAPYRA_EINVAL, "no place for the path");
    r = locate(url_text, &url, &ops, &path, false, reterr);
    if (r < 0)
        return r;
    papyra__url_free(&url);
    if (reterr)
        *reterr = (papyra_error){0};
    if (ret_backend)
        *ret_backend = ops->id;
    *ret_path = path;
    return 0;
}

PAPYRA_PUBLIC void
papyra_url_info_free(papyra_url_info *info)
{
    if (!info)
        return;
    for (size_t i = 0; i < info->nparams; i++) {
        free(info->params[i].key);
        free(info->params[i].value);
    }
    free(info->params);
    free(info->scheme);
    free(info->data_path);
    free(info->metrics_path);
    free(info->display);
    free(info);
}

/* Copies what @p url says into @p info, secrets masked. */
static int
fill_info(papyra_url_info *info,
          const papyra__url *url,
          const papyra__backend_ops *ops,
          const char *url_text)
{
    info->backend = ops->id;
    if (!(info->scheme = strdup(url->scheme)))
        return PAPYRA_ENOMEM;
    if (is_file_backend(ops) && !(info->data_path = strdup(url->path)))
        return PAPYRA_ENOMEM;
    if (url->nparams > 0) {
        if (!(info->params = calloc(url->nparams, sizeof(*info->params))))
            return PAPYRA_ENOMEM;
        info->nparams = url->nparams;
    }
    for (size_t i = 0; i < url->nparams; i++) {
        papyra_url_param *p = &info->params[i];

        p->key = strdup(url->keys[i]);
        p->value = strdup(papyra__url_secret(url->keys[i]) ? "***" : url->values[i]);
        if (!p->key || !p->value)
            return PAPYRA_ENOMEM;
    }
    return papyra_store_url_redact(url_text, &info->display);
}

PAPYRA_PUBLIC int
papyra_store_url_describe(const char *url_text, papyra_url_info **ret, papyra_error *reterr)
{
    const papyra__backend_ops *ops = NULL;
    papyra__url url = {0};
    papyra_url_info *info;
    char *metrics = NULL;
    int r;

    if (!ret)
        return open_error(reterr, PAPYRA_EINVAL, "no place for the description");
    r = locate(url_text, &url, &ops, &metrics, true, reterr);
    if (r < 0)
        return r;
    info = calloc(1, sizeof(*info));
    if (info) {
        info->metrics_path = metrics;
        r = fill_info(info, &url, ops, url_text);
    } else {
        free(metrics);
        r = PAPYRA_ENOMEM;
    }
    papyra__url_free(&url);
    if (r < 0) {
        papyra_url_info_free(info);
        return open_error(reterr, r, NULL);
    }
    if (reterr)
        *reterr = (papyra_error){0};
    *ret = info;
    return 0;
}

PAPYRA_PUBLIC const char *
papyra_url_info_param(const papyra_url_info *info, const char *key)
{
    for (size_t i = 0; info && key && i < info->nparams; i++) {
        if (strcmp(info->params[i].key, key) == 0)
            return info->params[i].value;
    }
    return NULL;
}

/* Whether nothing is at @p path: only ENOENT counts, not a directory we may not search. */
static bool
path_absent(const char *path)
{
    return access(path, F_OK) < 0 && errno == ENOENT;
}

/*
 * PAPYRA_OPEN_NO_CREATE: a file store with neither its data file nor its
 * default metrics file opens as with metrics=none, so that reading a
 * mistyped path leaves no metrics file behind.
 */
static int
no_create(papyra_store *s, papyra__url *url)
{
    char *mpath = NULL;
    bool absent;
    int r;

    if (!is_file_backend(s->ops) || papyra__url_param(url, "metrics") || url->path[0] == '\0' ||
        !path_absent(url->path))
        return 0;
    r = s->ops->default_metrics_path(s, url, &mpath);
    if (r < 0)
        return r;
    absent = !mpath || path_absent(mpath);
    free(mpath);
    mpath = NULL;
    /* Counters under an older release's name are a store's too (migrated on open). */
    if (absent && s->ops->legacy_metrics_path) {
        r = s->ops->legacy_metrics_path(s, url, &mpath);
        if (r < 0)
            return r;
        absent = !mpath || path_absent(mpath);
        free(mpath);
    }
    if (absent && papyra__url_set(url, "metrics", "none") < 0)
        return papyra__store_error(s, PAPYRA_ENOMEM, "out of memory");
    return 0;
}

PAPYRA_PUBLIC int
papyra_store_open(papyra_store **ret, const char *url_text, papyra_error *reterr)
{
    return papyra_store_open_with(ret, url_text, NULL, reterr);
}

PAPYRA_PUBLIC int
papyra_store_open_with(papyra_store **ret,
                       const char *url_text,
                       const papyra_open_options *opts,
                       papyra_error *reterr)
{
    papyra__url url = {0};
    papyra_store *s;
    bool opened = false;
    int r;

    if (!ret)
        return open_error(reterr, PAPYRA_EINVAL, "no place for the handle");
    if (opts && (opts->flags & ~(unsigned)PAPYRA_OPEN_NO_CREATE))
        return open_error(reterr, PAPYRA_EINVAL, "unknown flag in the open options");
    r = papyra__url_parse(url_text, &url, reterr);
    if (r < 0)
        return r;
    /* In place of the URL's metrics=, after the parser has refused one given twice. */
    if (opts && opts->metrics_path && papyra__url_set(&url, "metrics", opts->metrics_path) < 0) {
        papyra__url_free(&url);
        return open_error(reterr, PAPYRA_ENOMEM, NULL);
    }
    s = calloc(1, sizeof(*s));
    if (!s) {
        papyra__url_free(&url);
        return open_error(reterr, PAPYRA_ENOMEM, NULL);
    }
    err_init(s);
    s->ops = find_backend(url.scheme);
    if (!s->ops) {
        s->ops = &papyra__backend_memory;
        r = papyra__store_error(s, PAPYRA_EINVAL, "unknown or unavailable store backend '%s'",
                                url.scheme);
    }
    if (r == 0 && opts && (opts->flags & PAPYRA_OPEN_NO_CREATE))
        r = no_create(s, &url);
    if (r == 0)
        r = parse_retention(s, &url);
    if (r == 0) {
        r = s->ops->open(s, &url);
        opened = r == 0;
    }
    if (r == 0)
        r = open_metrics(s, &url);
    papyra__url_free(&url);
    if (r < 0) {
        open_error(reterr, r, papyra_store_errmsg(s));
        if (opened)
            s->ops->close(s);
        store_free(s);
        return r;
    }
    if (reterr) {
        reterr->code = 0;
        reterr->message[0] = '\0';
    }
    *ret = s;
    return 0;
}

int
papyra__store_shutdown(papyra_store *s)
{
    if (!s || atomic_exchange(&s->closed, true))
        return 0;
    return s->ops->close(s);
}

PAPYRA_PUBLIC int
papyra_store_close(papyra_store *s)
{
    int r;

    if (!s)
        return 0;
    r = papyra__store_shutdown(s);
    store_free(s);
    return r;
}

PAPYRA_PUBLIC const char *
papyra_store_errmsg(const papyra_store *s)
{
    return s ? papyra__errmsg_get(&err_table, s, s->errgen) : "";
}

PAPYRA_PUBLIC const char *
papyra_store_backend(const papyra_store *s)
{
    return s ? s->ops->name : NULL;
}

PAPYRA_PUBLIC papyra_metrics *
papyra_store_metrics(papyra_store *s)
{
    return s ? s->metrics : NULL;
}

PAPYRA_PUBLIC const char *
papyra_store_metrics_warning(const papyra_store *s)
{
    return s ? s->metrics_warning : NULL;
}

static int
closed_error(papyra_store *s)
{
    return papyra__store_error(s, PAPYRA_ECLOSED, "store is closed");
}

PAPYRA_PUBLIC int
papyra_store_write_batch(papyra_store *s, const papyra_record *records, size_t n)
{
    papyra__outcome o;
    size_t stored = 0;
    int r;

    if (!s)
        return PAPYRA_EINVAL;
    if (n == 0 && !atomic_load(&s->closed))
        return 0;
    begin(s, &o, PAPYRA__OP_WRITE);
    if (atomic_load(&s->closed))
        r = closed_error(s);
    else if (!records)
        r = papyra__store_error(s, PAPYRA_EINVAL, "no records given");
    else
        r = s->ops->write(s, records, n, &stored);
    /* Failed, though a Redis batch may have stored some of its records. */
    papyra__outcome_add(&o, PAPYRA_COUNT_BY_RECORDS_STORED, r < 0 ? stored : n);
    papyra__outcome_end(&o, r < 0);
    return r;
}

PAPYRA_PUBLIC int
papyra_store_write(papyra_store *s, const papyra_record *record)
{
    if (s && !record) {
        papyra__outcome o;

        begin(s, &o, PAPYRA__OP_WRITE);
        papyra__outcome_add(&o, PAPYRA_COUNT_BY_RECORDS_STORED, 0);
        papyra__outcome_end(&o, true);
        return papyra__store_error(s, PAPYRA_EINVAL, "no record given");
    }
    return papyra_store_write_batch(s, record, 1);
}

PAPYRA_PUBLIC void
papyra_record_list_free(papyra_record_list *list)
{
    size_t i;

    if (!list)
        return;
    for (i = 0; i < list->count; i++)
        papyra__record_clear(&list->records[i]);
    free(list->records);
    free(list);
}

/* The start of list and each: a read begun, the handle and the arguments checked. */
static int
read_begin(papyra_store *s, papyra__outcome *o, bool args_ok, const char *bad_args)
{
    begin(s, o, PAPYRA__OP_READ);
    if (atomic_load(&s->closed))
        return closed_error(s);
    if (!args_ok)
        return papyra__store_error(s, PAPYRA_EINVAL, "%s", bad_args);
    return 0;
}

/* The end of list and each: the anomalies passed over always, the records on success. */
static int
read_end(papyra__outcome *o, int r, uint64_t anomalies, uint64_t returned)
{
    papyra__outcome_add(o, PAPYRA_COUNT_BY_ANOMALIES, anomalies);
    if (r < 0) {
        papyra__outcome_end(o, true);
        return r;
    }
    papyra__outcome_add(o, PAPYRA_COUNT_BY_RECORDS_RETURNED, returned);
    papyra__outcome_end(o, false);
    return 0;
}

PAPYRA_PUBLIC int
papyra_store_list(papyra_store *s,
                  papyra_kind kind,
                  const papyra_list_options *opts,
                  papyra_record_list **ret)
{
    static const papyra_list_options none = {0};
    papyra__list_result out = {0};
    papyra__outcome o;
    int r;

    if (!s)
        return PAPYRA_EINVAL;
    r = read_begin(s, &o, ret && (unsigned)kind < PAPYRA_KIND_MAX,
                   "invalid kind or no place for the list");
    if (r == 0)
        r = s->ops->list(s, kind, opts ? opts : &none, &out);
    r = read_end(&o, r, out.anomalies, r < 0 ? 0 : out.list->count);
    if (r == 0)
        *ret = out.list;
    return r;
}

int
papyra__each_deliver(papyra__each *e, papyra_record *rec)
{
    int r = e->fn(rec, e->ctx);

    papyra__record_clear(rec);
    e->returned++;
    if (r == 0)
        return 0;
    e->result = r;
    return 1;
}

PAPYRA_PUBLIC int
papyra_store_each(papyra_store *s,
                  papyra_kind kind,
                  const papyra_list_options *opts,
                  papyra_record_fn fn,
                  void *ctx)
{
    static const papyra_list_options none = {0};
    papyra__each e = {.fn = fn, .ctx = ctx};
    papyra__outcome o;
    int r;

    if (!s)
        return PAPYRA_EINVAL;
    r = read_begin(s, &o, fn && (unsigned)kind < PAPYRA_KIND_MAX,
                   "invalid kind or no function to call");
    if (r == 0)
        r = s->ops->each(s, kind, opts ? opts : &none, &e);
    r = read_end(&o, r, e.anomalies, e.returned);
    return r < 0 ? r : e.result;
}

int
papyra__scan_report_new(const char *backend, papyra_scan_report **ret)
{
    papyra_scan_report *r = calloc(1, sizeof(*r));

    if (!r)
        return PAPYRA_ENOMEM;
    r->backend = backend;
    *ret = r;
    return 0;
}

int
papyra__scan_report_add(papyra_scan_report *r,
                        papyra_anomaly_type type,
                        const char *path,
                        const char *detail)
{
    papyra_anomaly *a = realloc(r->anomalies, (r->count + 1) * sizeof(*a));

    if (!a)
        return PAPYRA_ENOMEM;
    r->anomalies = a;
    a = &a[r->count];
    a->type = type;
    a->path = strdup(path ? path : "");
    a->detail = detail ? strdup(detail) : NULL;
    if (!a->path || (detail && !a->detail)) {
        free(a->path);
        free(a->detail);
        return PAPYRA_ENOMEM;
    }
    r->count++;
    return 0;
}

int
papyra__strv_add(char ***v, size_t *n, const char *s)
{
    char **nv = realloc(*v, (*n + 1) * sizeof(*nv));

    if (!nv)
        return PAPYRA_ENOMEM;
    *v = nv;
    nv[*n] = strdup(s);
    if (!nv[*n])
        return PAPYRA_ENOMEM;
    (*n)++;
    return 0;
}

PAPYRA_PUBLIC void
papyra_scan_report_free(papyra_scan_report *r)
{
    size_t i;

    if (!r)
        return;
    for (i = 0; i < r->count; i++) {
        free(r->anomalies[i].path);
        free(r->anomalies[i].detail);
    }
    free(r->anomalies);
    free(r);
}

PAPYRA_PUBLIC void
papyra_store_set_progress(papyra_store *s, papyra_progress_fn fn, void *userdata)
{
    if (!s)
        return;
    s->progress_fn = fn;
    s->progress_ud = userdata;
}

/* The step the calling thread runs, when its store reports progress. */
typedef struct progress_step {
    papyra_progress_fn fn;
    void *ud;
    papyra_progress pub;
    uint64_t next; /* report again once done reaches it */
} progress_step;

static _Thread_local progress_step *current_step;

/* Steps being reported in any thread: the hot path checks it before the thread-local. */
static atomic_uint active_steps;

/* Reports every 4 MiB, or every 1000 entries (a Redis page). */
#define PROGRESS_BYTES (UINT64_C(4) << 20)
#define PROGRESS_ENTRIES UINT64_C(1000)

static void
progress_report(progress_step *p)
{
    if (p->pub.total > 0 && p->pub.done > p->pub.total)
        p->pub.total = p->pub.done; /* appended to since the step began */
    p->fn(&p->pub, p->ud);
    p->next = p->pub.done + (p->pub.unit && strcmp(p->pub.unit, "entries") == 0 ? PROGRESS_ENTRIES
                                                                                : PROGRESS_BYTES);
}

bool
papyra__progress_wanted(void)
{
    return atomic_load_explicit(&active_steps, memory_order_relaxed) > 0 && current_step != NULL;
}

void
papyra__progress_total(uint64_t total)
{
    progress_step *p;

    if (!papyra__progress_wanted())
        return;
    p = current_step;
    p->pub.total += total;
    progress_report(p);
}

void
papyra__progress_add(uint64_t n)
{
    progress_step *p;

    if (!papyra__progress_wanted())
        return;
    p = current_step;
    p->pub.done += n;
    if (p->pub.done >= p->next)
        progress_report(p);
}

/* Starts reporting step @p name of an operation on @p s (when someone listens). */
static void
step_begin(papyra_store *s, progress_step *p, const char *name)
{
    if (!s->progress_fn)
        return;
    *p = (progress_step){.fn = s->progress_fn, .ud = s->progress_ud};
    p->pub.step = name;
    p->pub.unit = s->ops->progress_unit;
    current_step = p;
    atomic_fetch_add(&active_steps, 1);
    progress_report(p);
}

/* Ends the step; @p r is its result (a step that succeeded ends at done == total). */
static void
step_end(progress_step *p, int r)
{
    if (current_step != p)
        return;
    current_step = NULL;
    atomic_fetch_sub(&active_steps, 1);
    if (r == 0 && p->pub.done < p->pub.total)
        p->pub.done = p->pub.total;
    if (r == 0 && p->pub.total < p->pub.done)
        p->pub.total = p->pub.done;
    p->fn(&p->pub, p->ud);
}

/* One scan, reported to the outcome of the scan or recover that runs it. */
static int
do_scan(papyra_store *s, papyra__outcome *o, papyra_scan_report **ret, const char *step)
{
    papyra_scan_report *rep = NULL;
    progress_step ps;
    int r;

    papyra__outcome_add(o, PAPYRA_COUNT_BY_SCANS, 1);
    step_begin(s, &ps, step);
    r = s->ops->scan(s, &rep);
    step_end(&ps, r);
    if (r < 0)
        return r;
    papyra__outcome_add(o, PAPYRA_COUNT_BY_ANOMALIES, rep->count);
    *ret = rep;
    return 0;
}

PAPYRA_PUBLIC int
papyra_store_scan(papyra_store *s, papyra_scan_report **ret)
{
    papyra__outcome o;
    bool closed;
    int r;

    if (!s)
        return PAPYRA_EINVAL;
    begin(s, &o, PAPYRA__OP_SCAN);
    closed = atomic_load(&s->closed);
    if (!closed && ret) {
        r = do_scan(s, &o, ret, "scan");
    } else {
        /* A scan refused at once still counts as one started. */
        papyra__outcome_add(&o, PAPYRA_COUNT_BY_SCANS, 1);
        r = closed ? closed_error(s)
                   : papyra__store_error(s, PAPYRA_EINVAL, "no place for the report");
    }
    papyra__outcome_end(&o, r < 0);
    return r;
}

static void
strv_free(char **v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

PAPYRA_PUBLIC void
papyra_recovery_report_free(papyra_recovery_report *r)
{
    if (!r)
        return;
    papyra_scan_report_free(r->scan);
    papyra_scan_report_free(r->after);
    strv_free(r->repaired, r->n_repaired);
    strv_free(r->quarantined, r->n_quarantined);
    free(r);
}

/*
 * The anomalies of a scan that are damage: all but MISTYPED_RECORD, a record
 * upstream reads that recover keeps as it is (docs/decisions.md).
 */
static size_t
damage(const papyra_scan_report *rep)
{
    size_t i, n = 0;

    for (i = 0; i < rep->count; i++)
        n += rep->anomalies[i].type != PAPYRA_ANOMALY_MISTYPED_RECORD;
    return n;
}

/* The body of recover, without the attempt and failure counting. */
static int
recover(papyra_store *s,
        papyra__outcome *o,
        const papyra_recovery_options *opts,
        papyra_recovery_report *rep)
{
    progress_step ps;
    int r;

    if (opts->mode != PAPYRA_RECOVER_IGNORE && opts->mode != PAPYRA_RECOVER_REPAIR &&
        opts->mode != PAPYRA_RECOVER_QUARANTINE)
        return papyra__store_error(s, PAPYRA_EINVAL, "unknown recovery mode %d", (int)opts->mode);
    r = do_scan(s, o, &rep->scan, "scan");
    if (r < 0 || opts->mode == PAPYRA_RECOVER_IGNORE ||
        (damage(rep->scan) == 0 && !(s->ops->needs_repair && s->ops->needs_repair(s))))
        return r;
    step_begin(s, &ps, "repair");
    r = s->ops->repair(s, opts, rep->scan, rep);
    step_end(&ps, r);
    if (r < 0)
        return r;
    r = do_scan(s, o, &rep->after, "verify");
    if (r < 0)
        return r;
    if (damage(rep->after) > 0)
        return papyra__store_error(s, PAPYRA_EANOMALY, "%zu anomalies remain after recovery",
                                   damage(rep->after));
    return 0;
}

PAPYRA_PUBLIC int
papyra_store_recover(papyra_store *s,
                     const papyra_recovery_options *opts,
                     papyra_recovery_report **ret)
{
    static const papyra_recovery_options ignore = {0};
    papyra_recovery_report *rep;
    papyra__outcome o;
    int r;

    if (!s)
        return PAPYRA_EINVAL;
    begin(s, &o, PAPYRA__OP_RECOVER);
    rep = calloc(1, sizeof(*rep));
    if (atomic_load(&s->closed))
        r = closed_error(s);
    else if (!ret)
        r = papyra__store_error(s, PAPYRA_EINVAL, "no place for the report");
    else if (!rep)
        r = papyra__store_error(s, PAPYRA_ENOMEM, "out of memory");
    else {
        rep->backend = s->ops->name;
        r = recover(s, &o, opts ? opts : &ignore, rep);
    }
    if (rep) {
        papyra__outcome_add(&o, PAPYRA_COUNT_BY_ANOMALIES_REMAINING,
                            rep->after ? rep->after->count : 0);
        papyra__outcome_add(&o, PAPYRA_COUNT_BY_REPAIRED, rep->n_repaired);
        papyra__outcome_add(&o, PAPYRA_COUNT_BY_QUARANTINED, rep->n_quarantined);
    }
    /* A recover that leaves anomalies behind (PAPYRA_EANOMALY) has failed. */
    papyra__outcome_end(&o, r < 0);
    if (r == 0 || (r == PAPYRA_EANOMALY && ret)) {
        *ret = rep;
        return r;
    }
    papyra_recovery_report_free(rep);
    return r;
}

PAPYRA_PUBLIC int
papyra_store_compact(papyra_store *s, papyra_compaction_report *ret)
{
    papyra_compaction_report rep = {0};
    uint64_t anomalies = 0, removed = 0;
    papyra__outcome o;
    progress_step ps;
    int r;

    if (!s)
        return PAPYRA_EINVAL;
    if (!s->ops->compact)
        return papyra__store_error(s, PAPYRA_EUNSUPPORTED, "the %s backend does not compact",
                                   s->ops->name);
    begin(s, &o, PAPYRA__OP_COMPACT);
    if (atomic_load(&s->closed))
        r = closed_error(s);
    else if (!ret)
        r = papyra__store_error(s, PAPYRA_EINVAL, "no place for the report");
    else {
        rep.backend = s->ops->name;
        rep.before_bytes = rep.after_bytes = -1;
        step_begin(s, &ps, "compact");
        r = s->ops->compact(s, &rep, &anomalies, &removed);
        step_end(&ps, r);
    }
    if (r < 0) {
        papyra__outcome_end(&o, true);
        return r;
    }
    papyra__outcome_add(&o, PAPYRA_COUNT_BY_ANOMALIES, anomalies);
    papyra__outcome_add(&o, PAPYRA_COUNT_BY_RECORDS_REMOVED, removed);
    papyra__outcome_add(&o, PAPYRA_COUNT_BY_RECORDS_KEPT, rep.after_records);
    papyra__outcome_add(&o, PAPYRA_COUNT_BY_BYTES_RECLAIMED,
                        rep.before_bytes > rep.after_bytes && rep.after_bytes >= 0
                            ? (uint64_t)(rep.before_bytes - rep.after_bytes)
                            : 0);
    papyra__outcome_end(&o, false);
    *ret = rep;
    return 0;
}
