/* SPDX-License-Identifier: MIT */
/*
 * A persistence store: one backend (memory, JSON-lines file, rotating
 * JSON-lines files, Redis Streams) behind one API, with built-in metrics.
 *
 * A store is opened from a URL-like string:
 *
 *   memory:[?metrics=PATH]
 *   json:PATH[?fsync=never|always|everysec]
 *   rotating:PATH[?max_bytes=N&max_files=N&fsync=...]
 *   redis://[user:password@]host:port/db[?prefix=P&system_id=S&maxlen=N]
 *   redis-sentinel://host:port[,host:port...]/master_name[?db=N&password=P&...]
 *     (the master the sentinels name; docs/backend-redis.md, "Sentinel")
 *   rediss-sentinel://...   the same over TLS (tls_ca=FILE&tls_cert=FILE&tls_key=FILE)
 *
 * Every form also takes the retention parameters max_records=N,
 * max_age_seconds=X and max_total_bytes=N (each > 0; a limit of 0 or below is
 * an error, not "unlimited"), and metrics=PATH (where the shared metrics file
 * lives; json: defaults to "<PATH>.metrics", rotating: to the hidden
 * "<dir>/.<name>.metrics", which upstream's orphan check does not match; an
 * older release's "<PATH>.metrics" is moved or folded into it on open) or
 * metrics=none (private counters). unix:SOCKET is Redis over a socket; rediss:// (TLS) names Redis
 * too, but is refused with PAPYRA_EUNSUPPORTED.
 * Paths and values are %-decoded; papyra_store_url_for_path() encodes one.
 *
 * Thread safety: a store handle may be used from several threads at once,
 * except papyra_store_close(). Error messages are per thread: what
 * papyra_store_errmsg() gives a thread is what its own last failed call on
 * the handle left, whatever other threads do with the same handle.
 */
#ifndef PAPYRA_STORE_H
#define PAPYRA_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <papyra/common.h>
#include <papyra/metrics.h>
#include <papyra/record.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct papyra_store papyra_store;

/**
 * Opens a store.
 *
 * @param[out] ret    the handle, released with papyra_store_close(); untouched on failure.
 * @param[in]  url    see the top of this header.
 * @param[out] reterr optional; the code and a one-line message naming what was wrong.
 * @returns 0; PAPYRA_EINVAL (malformed URL or option), PAPYRA_ENOENT,
 *          PAPYRA_EACCES, PAPYRA_EIO, PAPYRA_ECONNECT, PAPYRA_ENOMEM, ...
 * @since 0.1.0
 */
PAPYRA_PUBLIC int papyra_store_open(papyra_store **ret, const char *url, papyra_error *reterr);

/**
 * Flushes and closes the store and frees the handle. NULL is a no-op.
 * @returns 0, or the error of a final flush (the handle is freed regardless):
 *          PAPYRA_EIO too when an earlier fsync of a file store failed.
 */
PAPYRA_PUBLIC int papyra_store_close(papyra_store *s);

/**
 * The message the calling thread's last failed call on @p s left: never one
 * from another thread, nor from another handle ("" when this thread has none
 * for @p s, also on a new handle at a freed one's address). A call that
 * succeeds leaves the message as it was. A thread keeps the messages of the
 * last four stores it failed on. Owned by the library; valid in the calling
 * thread until its next call on a store.
 */
PAPYRA_PUBLIC const char *papyra_store_errmsg(const papyra_store *s);

/** The backend's id ("memory", "json", "rotating", "redis"). */
PAPYRA_PUBLIC const char *papyra_store_backend(const papyra_store *s);

/** The store's metrics; borrowed, valid until papyra_store_close(). Never NULL. */
PAPYRA_PUBLIC papyra_metrics *papyra_store_metrics(papyra_store *s);

/**
 * Where a store's shared metrics file is, without opening the store: no
 * connection is made and nothing is created. For readers such as the CLI,
 * which must show a Redis store's counters while its server is down. A
 * rotating: store whose default metrics file does not exist (access(2)) but
 * whose older "<PATH>.metrics" does gives the older one: its counters until
 * the store is next opened and migrates them.
 *
 * @param[in]  url         a store URL, as papyra_store_open() takes.
 * @param[out] ret_path    the path, released with papyra_free(); NULL when the
 *                         store keeps private counters (metrics=none, or a
 *                         memory store without metrics=). Untouched on failure.
 * @param[out] ret_backend optional: the store's papyra_backend_id.
 * @param[out] reterr      optional: the code and a message on failure.
 * @returns 0, PAPYRA_EINVAL (malformed URL), PAPYRA_ENOMEM.
 * @since 0.1.0
 */
PAPYRA_PUBLIC int papyra_store_metrics_location(const char *url,
                                                char **ret_path,
                                                int *ret_backend,
                                                papyra_error *reterr);

/** Flags of papyra_open_options. */
enum {
    /**
     * Create no metrics file for a file store that does not exist yet: when
     * a json: or rotating: store is opened with no metrics= (neither in the
     * URL nor in papyra_open_options.metrics_path) and neither its data file
     * nor its default metrics file (see the URL forms above; for rotating:
     * also the older "<PATH>.metrics") exists, it opens as with
     * metrics=none: private counters, no papyra_store_metrics_warning().
     * For readers that must leave nothing behind on a mistyped path, such as
     * the CLI: a json: store then creates nothing at all (a rotating: store
     * still makes its directory and lock file, as every open of it does).
     * Without effect on the other backends, or once either file exists.
     * "Exists" is what access(2) says: only ENOENT counts as absent.
     */
    PAPYRA_OPEN_NO_CREATE = 1u << 0,
};

/** Options of papyra_store_open_with(); zero-initialise, then set what you need. */
typedef struct papyra_open_options {
    unsigned flags; /**< PAPYRA_OPEN_*; any other bit is PAPYRA_EINVAL */
    /**
     * Replaces the URL's metrics= parameter (which may then be absent), with
     * the same meaning: the path of the shared metrics file, or "none" for
     * private counters. Not %-encoded. NULL: the URL decides. "" is
     * PAPYRA_EINVAL. A URL with metrics= given twice is still refused.
     */
    const char *metrics_path;
} papyra_open_options;

/**
 * Opens a store, as papyra_store_open() does, with options.
 *
 * @param[out] ret    the handle, released with papyra_store_close(); untouched on failure.
 * @param[in]  url    see the top of this header.
 * @param[in]  opts   optional; NULL is papyra_store_open().
 * @param[out] reterr optional; the code and a one-line message naming what was wrong.
 * @returns as papyra_store_open().
 * @since 0.2.0
 */
PAPYRA_PUBLIC int papyra_store_open_with(papyra_store **ret,
                                         const char *url,
                                         const papyra_open_options *opts,
                                         papyra_error *reterr);

/** One query parameter of a store URL, as papyra_store_url_describe() gives it. */
typedef struct papyra_url_param {
    char *key;   /**< decoded */
    char *value; /**< decoded; "***" when it is a secret (password=, sentinel_password=) */
} papyra_url_param;

/** What a store URL says, from papyra_store_url_describe(). */
typedef struct papyra_url_info {
    int backend;     /**< papyra_backend_id; the aliases unix: and rediss: are Redis */
    char *scheme;    /**< as written: "json", "unix", ... */
    char *data_path; /**< json: and rotating: the data file, decoded; NULL for the others */
    /** The shared metrics file, as papyra_store_metrics_location() gives it; NULL: private. */
    char *metrics_path;
    size_t nparams;
    papyra_url_param *params; /**< in the order of the URL; keys are unique */
    char *display;            /**< the URL as it may be shown: papyra_store_url_redact() */
} papyra_url_info;

/**
 * Describes a store URL without opening the store: the same parser as
 * papyra_store_open(), so the same URLs are refused with the same messages
 * (a malformed %-escape, a parameter given twice, an unknown or unavailable
 * scheme, a file store without a path). No connection is made and nothing
 * is read or created. The parameters are not checked against the backend:
 * papyra_store_open() does that.
 *
 * @param[in]  url    a store URL.
 * @param[out] ret    released with papyra_url_info_free(); untouched on failure.
 * @param[out] reterr optional: the code and a message on failure.
 * @returns 0, PAPYRA_EINVAL (malformed URL), PAPYRA_ENOMEM.
 * @since 0.2.0
 */
PAPYRA_PUBLIC int
papyra_store_url_describe(const char *url, papyra_url_info **ret, papyra_error *reterr);

/**
 * The value of parameter @p key of @p info (decoded; "***" for a secret), or
 * NULL when the URL does not give it. Owned by @p info.
 * @since 0.2.0
 */
PAPYRA_PUBLIC const char *papyra_url_info_param(const papyra_url_info *info, const char *key);

/** Frees what papyra_store_url_describe() returned. NULL is a no-op. @since 0.2.0 */
PAPYRA_PUBLIC void papyra_url_info_free(papyra_url_info *info);

/**
 * A store URL as it may be printed or logged: the text unchanged except
 * that secrets become "***": the password of "user:password@" (the whole
 * "secret@" when there is no ':'), split as the Redis backend splits it, at
 * the last '@' and the first ':' before it, and the value of every password=
 * and sentinel_password= parameter. File paths (json:, rotating:, unix:) are never touched. Works
 * on any text, also one that does not parse, so error messages can show it.
 *
 * @param[out] ret released with papyra_free(); untouched on failure.
 * @returns 0, PAPYRA_EINVAL (NULL argument), PAPYRA_ENOMEM.
 * @since 0.2.0
 */
PAPYRA_PUBLIC int papyra_store_url_redact(const char *url, char **ret);

/**
 * The URL of the file store at @p path: "json:" or "rotating:" and the path
 * with '%', '?', '&', '#' and a leading "//" %-encoded, so that
 * papyra_store_open() reads back exactly @p path. A relative path stays
 * relative (to the working directory of whoever opens it).
 *
 * @param[in]  backend PAPYRA_BACKEND_JSON or PAPYRA_BACKEND_ROTATING.
 * @param[out] ret     released with papyra_free(); untouched on failure.
 * @returns 0, PAPYRA_EINVAL (another backend, a NULL or empty path), PAPYRA_ENOMEM.
 * @since 0.2.0
 */
PAPYRA_PUBLIC int papyra_store_url_for_path(int backend, const char *path, char **ret);

/** Why the store's counters are private when a metrics file was wanted; NULL if none. */
PAPYRA_PUBLIC const char *papyra_store_metrics_warning(const papyra_store *s);

/**
 * Writes one record. Counts records_written +1 on success, write_errors +1
 * on failure.
 *
 * File stores with fsync=always or everysec: a failed fsync is the error of
 * every write it covered, and sticks: every later write fails with
 * PAPYRA_EIO ("an earlier fsync of FILE failed; ...") until the store is
 * reopened or papyra_store_recover() or papyra_store_compact() has
 * rewritten its data (docs/store.md).
 * A record that cannot be serialised fails the call with a message naming
 * the record's index in the batch, its kind, the field and the reason, the
 * same on every backend ("record 0 (event) cannot be serialised: field
 * 'event_type' is NULL (a string is required)"; docs/store.md).
 * @returns 0, PAPYRA_EINVAL (a record that cannot be serialised),
 *          PAPYRA_ECLOSED, PAPYRA_EIO, PAPYRA_ENOSPC, PAPYRA_ECONNECT, ...
 */
PAPYRA_PUBLIC int papyra_store_write(papyra_store *s, const papyra_record *record);

/**
 * Writes @p n records as one batch: one write(2) for the file backends, one
 * pipelined round trip for Redis. All or nothing is counted: records_written
 * +n, or write_errors +1.
 */
PAPYRA_PUBLIC int papyra_store_write_batch(papyra_store *s, const papyra_record *records, size_t n);

/** Options of papyra_store_list(); zero-initialise. */
typedef struct papyra_list_options {
    bool has_since;
    double since; /**< keep records with timestamp >= since */
    size_t limit; /**< keep the newest @p limit (0: no limit) */
} papyra_list_options;

/** Records returned by papyra_store_list(), oldest to newest. */
typedef struct papyra_record_list {
    size_t count;
    papyra_record *records;
} papyra_record_list;

/**
 * Lists the records of one kind: retention applied, then @p since, then
 * @p limit (the newest N, returned oldest to newest). Corrupt records are
 * skipped and counted as anomalies.
 * @param[out] ret released with papyra_record_list_free(); untouched on failure.
 */
PAPYRA_PUBLIC int papyra_store_list(papyra_store *s,
                                    papyra_kind kind,
                                    const papyra_list_options *opts,
                                    papyra_record_list **ret);

/** Frees a list and every string in it. NULL is a no-op. */
PAPYRA_PUBLIC void papyra_record_list_free(papyra_record_list *list);

/**
 * What papyra_store_each() calls for each record. @p record and every string
 * in it are valid only during the call (copy what you keep). Return 0 to go
 * on; any other value ends the walk, and papyra_store_each() returns it.
 * @since 0.3
 */
typedef int (*papyra_record_fn)(const papyra_record *record, void *ctx);

/**
 * Streams the records of one kind to @p fn, oldest to newest, one at a time:
 * exactly the records papyra_store_list() would return with the same
 * options (retention, then @p since, then @p limit: the newest N), in the
 * same order, without building the list. Memory does not grow with the
 * store: the file backends read their files through a line buffer (a first
 * pass from the end finds where the records start when retention's count
 * or size limit, or @p limit, cuts older ones; a second pass reads forwards
 * from there), Redis pages through the stream, memory walks its array.
 * Records appended after the call started are not delivered. @p fn may call
 * other functions on @p s (no lock of the store is held while it runs).
 *
 * Counts like papyra_store_list(): records_read by the records delivered,
 * anomaly_detected by the corrupt records passed over, read_errors +1 when
 * the store fails (not when @p fn ends the walk).
 *
 * @param[in] opts NULL: no since, no limit.
 * @returns 0 when every record was delivered; the non-zero value @p fn
 *          returned; or a negative PAPYRA_E* code when the store failed
 *          (PAPYRA_EINVAL: NULL @p s or @p fn, or an invalid kind;
 *          PAPYRA_ECLOSED, PAPYRA_EIO, PAPYRA_ENOMEM, PAPYRA_ECONNECT, ...).
 *          A value @p fn returns is passed back as it is, a negative one
 *          too: give your own codes outside the PAPYRA_E* range if you need
 *          to tell them from the store's.
 * @since 0.3
 */
PAPYRA_PUBLIC int papyra_store_each(papyra_store *s,
                                    papyra_kind kind,
                                    const papyra_list_options *opts,
                                    papyra_record_fn fn,
                                    void *ctx);

/** Anomaly types, with upstream's names and order, then ours. */
typedef enum papyra_anomaly_type {
    PAPYRA_ANOMALY_TRUNCATED_LINE = 1,
    PAPYRA_ANOMALY_PARTIAL_WRITE = 2,
    PAPYRA_ANOMALY_CORRUPTED_LINE = 3,
    PAPYRA_ANOMALY_ORPHANED_ROTATED_FILE = 4,
    PAPYRA_ANOMALY_UNEXPECTED_FILE = 5,
    /**
     * A record upstream reads whose field has a type the record structs
     * cannot hold ("total_actors" beyond int64, "event_type": 5): never
     * coerced, so list skips it; recover and compact keep it byte for byte,
     * and it does not make a recover fail (it is not damage). Detail:
     * "Line 3: field 'event_type' is an integer, a string is required".
     * @since 0.3
     */
    PAPYRA_ANOMALY_MISTYPED_RECORD = 6
} papyra_anomaly_type;

/** "TRUNCATED_LINE", ...; NULL outside the enum. */
PAPYRA_PUBLIC const char *papyra_anomaly_type_name(int type);

typedef struct papyra_anomaly {
    papyra_anomaly_type type;
    char *path;   /**< the file or stream key */
    char *detail; /**< e.g. "Line 2 missing newline"; may be NULL */
} papyra_anomaly;

typedef struct papyra_scan_report {
    const char *backend; /**< static */
    size_t count;
    papyra_anomaly *anomalies;
} papyra_scan_report;

/**
 * Scans the store for anomalies without changing it. Counts
 * scan_operations +1 and anomaly_detected +count.
 * @param[out] ret released with papyra_scan_report_free().
 */
PAPYRA_PUBLIC int papyra_store_scan(papyra_store *s, papyra_scan_report **ret);

PAPYRA_PUBLIC void papyra_scan_report_free(papyra_scan_report *r);

typedef enum papyra_recovery_mode {
    PAPYRA_RECOVER_IGNORE = 0,
    PAPYRA_RECOVER_REPAIR = 1,
    PAPYRA_RECOVER_QUARANTINE = 2,
} papyra_recovery_mode;

typedef struct papyra_recovery_options {
    papyra_recovery_mode mode;
    const char *quarantine_dir; /**< file backends; NULL: next to the data */
} papyra_recovery_options;

typedef struct papyra_recovery_report {
    const char *backend;
    papyra_scan_report *scan;  /**< what was found before */
    papyra_scan_report *after; /**< the verifying scan after repair; NULL when none ran */
    size_t n_repaired;
    char **repaired; /**< files or stream keys rewritten */
    size_t n_quarantined;
    char **quarantined; /**< where damaged data was kept */
} papyra_recovery_report;

/**
 * Scans, and unless the mode is IGNORE or the scan is clean, repairs or
 * quarantines, then verifies with a second scan. A file store whose fsync
 * failed is repaired (its data rewritten into new, fsynced files) even when
 * the scan is clean, which lets it write again. Counts recovery_attempts +1;
 * recovery_failures +1 when it fails or anomalies remain (then it returns
 * PAPYRA_EANOMALY with the report still set).
 */
PAPYRA_PUBLIC int papyra_store_recover(papyra_store *s,
                                       const papyra_recovery_options *opts,
                                       papyra_recovery_report **ret);

PAPYRA_PUBLIC void papyra_recovery_report_free(papyra_recovery_report *r);

typedef struct papyra_compaction_report {
    const char *backend;
    uint64_t before_records;
    uint64_t after_records;
    int64_t before_bytes; /**< -1 when not applicable */
    int64_t after_bytes;
} papyra_compaction_report;

/**
 * Applies retention physically and drops corrupt records. Counts
 * compactions_triggered +1, compaction_errors +1 on failure.
 * @returns 0, PAPYRA_EUNSUPPORTED (memory), or an I/O error.
 */
PAPYRA_PUBLIC int papyra_store_compact(papyra_store *s, papyra_compaction_report *ret);

/** How far one step of a scan, recover or compact has got. */
typedef struct papyra_progress {
    /** "scan"; for recover "scan", "repair" and "verify"; "compact". Static. */
    const char *step;
    /** "bytes" for the file backends, "entries" for Redis. Static. */
    const char *unit;
    uint64_t done;  /**< units read so far in this step */
    uint64_t total; /**< units the step reads in all (0: not known yet) */
} papyra_progress;

/** See papyra_store_set_progress(). */
typedef void (*papyra_progress_fn)(const papyra_progress *p, void *userdata);

/**
 * Has papyra_store_scan(), papyra_store_recover() and papyra_store_compact()
 * report their progress to @p fn: once when a step starts, then every few
 * MiB or every page of entries, and once when it ends (done == total when it
 * succeeded). @p fn runs in the thread of the call, must return quickly and
 * must not call into @p s. A step that passes over the data more than once
 * counts every pass in total. NULL turns reporting off. Set it before such
 * calls, not while one runs.
 * @since 0.1.0
 */
PAPYRA_PUBLIC void
papyra_store_set_progress(papyra_store *s, papyra_progress_fn fn, void *userdata);

#ifdef __cplusplus
}
#endif

#endif /* PAPYRA_STORE_H */
