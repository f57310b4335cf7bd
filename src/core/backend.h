/* SPDX-License-Identifier: MIT */
/*
 * The operations table every backend implements, and the store handle that
 * the generic layer (store.c) shares with the backends.
 *
 * The generic layer validates arguments, keeps the error message, and moves
 * the metrics: a backend reports what happened (records written, records
 * returned, anomalies skipped) and never touches a counter itself, so no
 * backend can forget one.
 *
 * Threads: the generic layer calls every operation except open and close
 * from any number of threads at once; a backend protects its own state.
 * papyra__store_error() may be called from any thread.
 */
#ifndef PAPYRA_BACKEND_H
#define PAPYRA_BACKEND_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <papyra/store.h>

#include "core/url.h"
#include "util/buf.h"

/* Retention, the same for every backend. A field of 0 means unset. */
typedef struct papyra__retention {
    int64_t max_records;
    double max_age_seconds;
    int64_t max_total_bytes;
} papyra__retention;

/*
 * One papyra_store_each() call: the caller's function, and what the walk
 * delivered and passed over. Backends hand each record to
 * papyra__each_deliver().
 */
typedef struct papyra__each {
    papyra_record_fn fn;
    void *ctx;
    int result;         /* fn's non-zero return, which ended the walk */
    uint64_t returned;  /* records delivered */
    uint64_t anomalies; /* corrupt or torn records passed over */
} papyra__each;

/*
 * Hands @p rec to the caller's function and clears it. Returns 0 to go on,
 * or 1 when the function ended the walk (the backend then stops and
 * returns 0).
 */
int papyra__each_deliver(papyra__each *e, papyra_record *rec);

/* What a list call returns to the generic layer, besides the records. */
typedef struct papyra__list_result {
    papyra_record_list *list; /* set by the backend on success */
    uint64_t anomalies;       /* corrupt or torn records skipped */
} papyra__list_result;

typedef struct papyra__backend_ops {
    const char *name; /* "json" */
    int id;           /* papyra_backend_id */
    /*
     * Opens the backend; may read url params it owns and must reject unknown
     * ones (papyra__url_check() does that given the keys the backend owns).
     */
    int (*open)(papyra_store *s, const papyra__url *url);
    /* Flushes and frees backend state (s->impl). */
    int (*close)(papyra_store *s);
    /*
     * Writes n records: 0 when every one was stored, else an error. A write
     * that fails having stored some records all the same (a Redis batch whose
     * transaction ran with one XADD failing: Redis does not roll back) sets
     * *stored to how many; it is 0 otherwise.
     */
    int (*write)(papyra_store *s, const papyra_record *records, size_t n, size_t *stored);
    /*
     * Lists one kind: s->retention applied per kind, then opts->since, then
     * opts->limit (see papyra__retention_offer() for a newest-first walk).
     */
    int (*list)(papyra_store *s,
                papyra_kind kind,
                const papyra_list_options *opts,
                papyra__list_result *out);
    /*
     * Streams one kind oldest first to papyra__each_deliver(): what list
     * would return with the same options, in the same order, in memory that
     * does not grow with the store. Holds no lock of the store while a
     * record is delivered.
     */
    int (*each)(papyra_store *s,
                papyra_kind kind,
                const papyra_list_options *opts,
                papyra__each *e);
    int (*scan)(papyra_store *s, papyra_scan_report **ret);
    /*
     * NULL, or whether a recover must repair although its scan found
     * nothing: a file backend whose fsync failed, so that what reads back
     * from its files may not be on disk until repair rewrites them into new,
     * fsynced files (then repair is called with an empty @p found).
     */
    bool (*needs_repair)(papyra_store *s);
    /* Repairs or quarantines what @p found reports; the generic layer scans before and after. */
    int (*repair)(papyra_store *s,
                  const papyra_recovery_options *opts,
                  const papyra_scan_report *found,
                  papyra_recovery_report *report);
    /*
     * NULL when the backend does not compact (memory). On success, anomalies:
     * corrupt records dropped; removed: records that retention removed.
     */
    int (*compact)(papyra_store *s,
                   papyra_compaction_report *ret,
                   uint64_t *anomalies,
                   uint64_t *removed);
    /* The default metrics-file path for this store, or NULL for private counters. */
    int (*default_metrics_path)(papyra_store *s, const papyra__url *url, char **ret);
    /*
     * NULL, or where older releases kept the default metrics file: opening the
     * store moves (or folds) it into the default path, and readers that open
     * no store find the counters there until then.
     */
    int (*legacy_metrics_path)(papyra_store *s, const papyra__url *url, char **ret);
    /* What its progress reports count: "bytes" or "entries" (papyra_progress.unit). */
    const char *progress_unit;
} papyra__backend_ops;

struct papyra_store {
    const papyra__backend_ops *ops;
    void *impl;              /* backend state */
    papyra_metrics *metrics; /* shared file, or private fallback */
    char *metrics_warning;   /* why counters are private, if a file was wanted */
    papyra__retention retention;
    char *data_path;    /* file backends: the data path (for modes, defaults) */
    atomic_bool closed; /* set by papyra__store_shutdown(); calls fail with ECLOSED */
    /* Tags this handle's error messages (store.c); never reused. */
    uint64_t errgen;
    papyra_progress_fn progress_fn; /* papyra_store_set_progress() */
    void *progress_ud;
};

/*
 * Progress of the step the calling thread runs (store.c brackets the scan,
 * repair and compact operations with it): a backend says how many units
 * (its ops' progress_unit) the step will read and adds what it has read.
 * Both are no-ops, costing a relaxed load, when nobody asked for progress.
 */
bool papyra__progress_wanted(void);
void papyra__progress_total(uint64_t total);
void papyra__progress_add(uint64_t n);

/*
 * Sets the calling thread's error message for @p s (what papyra_store_errmsg()
 * gives that thread) and returns @p code (printf-style). Messages are per
 * thread, so a backend's own background thread must not report through it:
 * nobody would read the message there.
 */
int papyra__store_error(papyra_store *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Encodes record @p i of a batch in @p style (papyra__record_encode(), with
 * PAPYRA_STYLE_* from record/codec.h) and appends it to @p out. On failure
 * sets the one rejection message every backend gives, naming the record,
 * its kind, the field and the reason ("record 2 (event) cannot be
 * serialised: field 'event_type' is not UTF-8 (invalid byte at offset 5)"),
 * and returns the error; out is left as it was.
 */
int papyra__store_encode(
    papyra_store *s, const papyra_record *records, size_t i, int style, papyra_buf *out);

/*
 * Closes the backend but keeps the handle: every later call fails with
 * PAPYRA_ECLOSED (and is counted as a failure); papyra_store_close() still
 * frees it. Returns the backend's close result. Not thread-safe with calls
 * in flight, like papyra_store_close().
 */
int papyra__store_shutdown(papyra_store *s);

/*
 * Streaming retention, newest record first (the same rule for every
 * backend): age drops a record older than now - max_age_seconds; of the
 * rest, the newest max_records are kept; walking from the newest, records
 * are kept while their sizes sum to at most max_total_bytes.
 */
typedef struct papyra__retention_state {
    bool has_cutoff;
    double cutoff; /* keep timestamp >= cutoff */
    int64_t kept;
    int64_t bytes;
} papyra__retention_state;

/* Starts a walk; the age cutoff is fixed from the wall clock now. */
void papyra__retention_begin(const papyra__retention *r, papyra__retention_state *st);

/*
 * Offers the next record, newest first. Returns 1 to keep it, 0 to drop it
 * (older ones may still be kept), -1 to drop it and every older one.
 */
int papyra__retention_offer(const papyra__retention *r,
                            papyra__retention_state *st,
                            double timestamp,
                            size_t size);

/* Whether any limit is set. */
bool papyra__retention_any(const papyra__retention *r);

/*
 * Applies retention to records of one kind (oldest to newest), in place,
 * freeing the dropped ones. @p sizes: stored bytes per record, or NULL (0).
 */
void
papyra__retention_apply(const papyra__retention *r, papyra_record_list *list, const size_t *sizes);

/* Builds a scan report for @p backend (static name) with no anomalies. */
int papyra__scan_report_new(const char *backend, papyra_scan_report **ret);

/* Appends an anomaly; @p detail may be NULL. */
int papyra__scan_report_add(papyra_scan_report *r,
                            papyra_anomaly_type type,
                            const char *path,
                            const char *detail);

/* Appends a copy of @p s to a string array. */
int papyra__strv_add(char ***v, size_t *n, const char *s);

/* default_metrics_path of the file backends: "<data path>.metrics". */
int papyra__file_metrics_path(papyra_store *s, const papyra__url *url, char **ret);

extern const papyra__backend_ops papyra__backend_memory;
extern const papyra__backend_ops papyra__backend_jsonl;
extern const papyra__backend_ops papyra__backend_rotating;
extern const papyra__backend_ops papyra__backend_redis;

#endif /* PAPYRA_BACKEND_H */
