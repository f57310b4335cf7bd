/* SPDX-License-Identifier: MIT */
/*
 * Built-in persistence metrics.
 *
 * The counters, their meaning and which backend supports which are declared
 * in spec/metrics.yaml; <papyra/metrics-gen.h> carries the generated ids.
 *
 * A metrics block lives either privately in the process or in a shared,
 * memory-mapped metrics file, so that several threads and processes using one
 * store add into one set of counters and the `papyra` CLI can read and reset
 * them. Counters are 64-bit, only ever increase internally, and are never
 * lost to a concurrent reset: a reset stores a baseline, and the value shown
 * is "live - baseline" (the offset model). Lifetime totals stay available.
 *
 * Thread safety: every function here may be called from any thread on the
 * same handle, except papyra_metrics_close(). Error messages are per thread
 * (papyra_metrics_errmsg()).
 */
#ifndef PAPYRA_METRICS_H
#define PAPYRA_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <papyra/common.h>
#include <papyra/metrics-gen.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct papyra_metrics papyra_metrics;

/** Error detail for constructors, which have no handle to keep it on. */
typedef struct papyra_error {
    int code;          /**< 0 or a negative PAPYRA_E* code */
    char message[256]; /**< one line naming what was wrong; "" when code is 0 */
} papyra_error;

/** When a call of one of a counter's operations moves it (spec `counts.when`). */
typedef enum papyra_count_when {
    PAPYRA_COUNT_ALWAYS = 0,  /**< every call, whatever its result */
    PAPYRA_COUNT_SUCCESS = 1, /**< calls that succeeded */
    PAPYRA_COUNT_FAILURE = 2  /**< calls that failed (recover: or left anomalies behind) */
} papyra_count_when;

/* papyra_count_by, the facts a counter counts, is generated: see <papyra/metrics-gen.h>. */

/** Static description of one counter, from the spec. */
typedef struct papyra_metric_info {
    const char *name;              /**< e.g. "records_written" */
    const char *category;          /**< category id, e.g. "write" */
    const char *category_name;     /**< display name, e.g. "Write" */
    const char *unit;              /**< UCUM-style unit, e.g. "{record}" */
    const char *help;              /**< one line */
    const char *increments;        /**< what moves it, and by how much */
    const char *excludes;          /**< what it does NOT count */
    uint32_t operations;           /**< bit per PAPYRA_OPERATION_* */
    papyra_count_when counts_when; /**< which of those calls move it */
    papyra_count_by counts_by;     /**< and by how much: the fact it counts */
    uint32_t backends;             /**< bit per papyra_backend_id that supports it */
    bool alert;                    /**< an error counter worth alerting on */
} papyra_metric_info;

/**
 * Returns the description of counter @p id, or NULL when @p id is outside
 * [0, PAPYRA_METRIC_COUNT).
 * @since 0.1.0
 */
PAPYRA_PUBLIC const papyra_metric_info *papyra_metric_get(int id);

/** Returns the id of the counter named @p name, or -1. */
PAPYRA_PUBLIC int papyra_metric_by_name(const char *name);

/** Returns a backend's id ("json"), or NULL outside the range. */
PAPYRA_PUBLIC const char *papyra_backend_name(int backend);

/** Returns a backend's display name ("JSON"), or NULL outside the range. */
PAPYRA_PUBLIC const char *papyra_backend_display_name(int backend);

/** Returns the papyra_backend_id named @p name, or -1. */
PAPYRA_PUBLIC int papyra_backend_by_name(const char *name);

/** Whether @p backend supports counter @p id (false when either is out of range). */
PAPYRA_PUBLIC bool papyra_metric_supported(int backend, int id);

/** State of one counter in a snapshot. */
typedef enum papyra_metric_state {
    PAPYRA_METRIC_OK = 0,          /**< supported and counted */
    PAPYRA_METRIC_UNSUPPORTED = 1, /**< the backend does not support it: not a zero */
    PAPYRA_METRIC_ABSENT = 2       /**< the metrics file predates this counter */
} papyra_metric_state;

/**
 * A copy of the counters at one moment (per counter; see papyra_metrics_read()).
 *
 * Its size grows with the spec: value[], total[] and state[] hold the
 * PAPYRA_METRIC_COUNT counters of the header the caller is compiled with.
 * So every function that reads or fills a snapshot is size-versioned: it
 * takes the size of the caller's struct (papyra_metrics_read_sized() and the
 * others below), and works out from it how many counters the struct holds:
 * the header fields, then uint64_t value[N], uint64_t total[N] and uint8_t
 * state[N], padded to the struct's alignment. A size that matches no N is
 * PAPYRA_EINVAL. Counters are only ever appended to the spec, never
 * reordered or removed, so counter i is the same in every N: the library
 * reads or fills the first N, and never a byte past the caller's struct.
 * An application built against an older header, with fewer counters, keeps
 * working with a newer library and sees the counters it knows; one built
 * against a newer header than its library gets the counters the library
 * does not know as zero and PAPYRA_METRIC_ABSENT.
 *
 * The unsized names (papyra_metrics_read(), papyra_metrics_reset(),
 * papyra_metrics_format(), papyra_metrics_format_labels()) are macros that
 * pass sizeof(papyra_metrics_snapshot), so callers write them as before. The
 * functions of the same names stay exported for binaries built against
 * 0.1.0 and mean a snapshot of its PAPYRA_METRICS_V1_COUNT counters; taking
 * their address (no call parentheses, no macro) also reaches them.
 */
typedef struct papyra_metrics_snapshot {
    int backend;                         /**< papyra_backend_id */
    bool shared;                         /**< counters live in a metrics file */
    uint64_t spec_hash;                  /**< spec hash of the counters' source */
    int64_t created_at_ns;               /**< when the block was created (epoch ns) */
    int64_t reset_at_ns;                 /**< last reset (epoch ns); 0 when never */
    int64_t taken_at_ns;                 /**< when this snapshot was taken */
    uint64_t reset_count;                /**< resets since creation */
    uint64_t value[PAPYRA_METRIC_COUNT]; /**< since the last reset */
    uint64_t total[PAPYRA_METRIC_COUNT]; /**< since creation; never reset */
    uint8_t state[PAPYRA_METRIC_COUNT];  /**< papyra_metric_state */
} papyra_metrics_snapshot;

/** Flags of papyra_metrics_open(). */
enum {
    /** Create the file when it does not exist. */
    PAPYRA_METRICS_CREATE = 1u << 0,
    /** Map read-only: snapshots work; add and reset return PAPYRA_EACCES. */
    PAPYRA_METRICS_READONLY = 1u << 1,
    /**
     * Replace a damaged metrics file (truncated, corrupt, or of another
     * layout version) with a fresh one; counts restart from zero and the old
     * file is moved aside to "<path>.invalid.<epoch ns>". A foreign file
     * (not a metrics file at all, such as a data file given by mistake) is
     * never replaced: it stays an error. Without this flag a damaged file is
     * an error and is left untouched.
     */
    PAPYRA_METRICS_RECREATE = 1u << 2,
};

/** Options of papyra_metrics_open(); zero-initialise, then set what you need. */
typedef struct papyra_metrics_options {
    unsigned flags; /**< PAPYRA_METRICS_* */
    /**
     * The backend the counters belong to, or -1 to accept whatever backend
     * the file was created for (readers such as the CLI). Creating a file
     * needs a real backend id.
     */
    int backend;
    /**
     * The data file (or directory) whose permission bits a newly created
     * metrics file takes, less the umask: whoever may read the data may read
     * its metrics, whoever may write it may reset them (since 0.3 the umask
     * always applies: nothing widens the mode past it). NULL, or a path
     * that does not exist: 0644 less the umask.
     */
    const char *mode_from;
} papyra_metrics_options;

/**
 * Creates process-private counters for @p backend.
 *
 * @param[out] ret the new handle, released with papyra_metrics_close().
 * @returns 0, PAPYRA_EINVAL (bad backend or NULL @p ret), PAPYRA_ENOMEM.
 * @since 0.1.0
 */
PAPYRA_PUBLIC int papyra_metrics_new_private(papyra_metrics **ret, int backend);

/**
 * Opens (and with PAPYRA_METRICS_CREATE creates) a shared metrics file.
 *
 * The file is validated: magic, layout version, header checksum, sizes and
 * the name table. Counters are matched by name, so a file written from an
 * older or newer spec still gives the counters both know (others are
 * PAPYRA_METRIC_ABSENT, and increments of them stay process-private).
 *
 * @param[out] ret    the handle; untouched on failure.
 * @param[in]  path   the metrics file.
 * @param[in]  opts   options; NULL means a reader (backend -1, no flags).
 * @param[out] reterr optional; on failure gets the code and a message naming
 *                    the file and what is wrong with it.
 * @returns 0; PAPYRA_ENOENT (missing, no CREATE), PAPYRA_ETRUNCATED,
 *          PAPYRA_EFOREIGN (not a metrics file, or another backend's),
 *          PAPYRA_ECORRUPT, PAPYRA_EVERSION, PAPYRA_EACCES, PAPYRA_EIO,
 *          PAPYRA_ENOSPC, PAPYRA_EINVAL, PAPYRA_ENOMEM.
 * @since 0.1.0
 */
PAPYRA_PUBLIC int papyra_metrics_open(papyra_metrics **ret,
                                      const char *path,
                                      const papyra_metrics_options *opts,
                                      papyra_error *reterr);

/** Unmaps and frees @p m. NULL is a no-op. */
PAPYRA_PUBLIC void papyra_metrics_close(papyra_metrics *m);

/** The metrics file's path, or NULL for private counters. Owned by @p m. */
PAPYRA_PUBLIC const char *papyra_metrics_path(const papyra_metrics *m);

/** The backend the counters belong to. */
PAPYRA_PUBLIC int papyra_metrics_backend(const papyra_metrics *m);

/**
 * Adds @p n to counter @p id.
 *
 * Backends inside the library use generated typed helpers that exist only for
 * supported counters; this checked entry point serves code outside it.
 *
 * @returns 0; PAPYRA_EINVAL (bad id), PAPYRA_EUNSUPPORTED (the backend does
 *          not support the counter), PAPYRA_EACCES (read-only mapping).
 */
PAPYRA_PUBLIC int papyra_metrics_add(papyra_metrics *m, int id, uint64_t n);

/** The counters of the 0.1.0 snapshot, which its binaries pass to the unsized functions. */
#define PAPYRA_METRICS_V1_COUNT 10

/**
 * Copies the counters into @p ret. Each counter is read atomically; the set
 * is not one point in time across counters.
 *
 * @param[out] ret  the caller's snapshot, of @p size bytes; untouched on failure.
 * @param[in]  size sizeof the caller's papyra_metrics_snapshot (see there).
 * @returns 0 or PAPYRA_EINVAL (also for a @p size that matches no counter count).
 * @since 0.2.0
 */
PAPYRA_PUBLIC int
papyra_metrics_read_sized(papyra_metrics *m, papyra_metrics_snapshot *ret, size_t size);

/** The 0.1.0 entry point: papyra_metrics_read_sized() of PAPYRA_METRICS_V1_COUNT counters. */
PAPYRA_PUBLIC int papyra_metrics_read(papyra_metrics *m, papyra_metrics_snapshot *ret);
#define papyra_metrics_read(m, ret) \
    papyra_metrics_read_sized((m), (ret), sizeof(papyra_metrics_snapshot))

/**
 * Resets all counters to zero, records the reset time and bumps the reset
 * count. No concurrent increment is lost: each one lands either in what this
 * reset cleared or in the value after it.
 *
 * @param[out] ret_cleared optional; receives exactly what was cleared
 *                         (value[]), with reset_at_ns the new reset time.
 * @param[in]  size        sizeof the caller's papyra_metrics_snapshot (see
 *                         there); not looked at when @p ret_cleared is NULL.
 * @returns 0, PAPYRA_EINVAL (also for a @p size that matches no counter
 *          count, before anything is reset), PAPYRA_EACCES (read-only mapping).
 * @since 0.2.0
 */
PAPYRA_PUBLIC int
papyra_metrics_reset_sized(papyra_metrics *m, papyra_metrics_snapshot *ret_cleared, size_t size);

/** The 0.1.0 entry point: papyra_metrics_reset_sized() of PAPYRA_METRICS_V1_COUNT counters. */
PAPYRA_PUBLIC int papyra_metrics_reset(papyra_metrics *m, papyra_metrics_snapshot *ret_cleared);
#define papyra_metrics_reset(m, ret_cleared) \
    papyra_metrics_reset_sized((m), (ret_cleared), sizeof(papyra_metrics_snapshot))

/**
 * The message the calling thread's last failed call on @p m left: never one
 * from another thread, nor from another handle ("" when this thread has none
 * for @p m). Per thread like papyra_store_errmsg(), so a handle shared by
 * threads gives each its own message; a thread keeps the messages of the last
 * four handles it failed on. Owned by the library; valid in the calling
 * thread until its next call on a metrics handle.
 */
PAPYRA_PUBLIC const char *papyra_metrics_errmsg(const papyra_metrics *m);

/** Output formats of papyra_metrics_format(). */
typedef enum papyra_metrics_format_id {
    PAPYRA_FORMAT_TABLE = 0,       /**< human-readable table */
    PAPYRA_FORMAT_JSON = 1,        /**< flat object of counter: value|null */
    PAPYRA_FORMAT_JSON_DETAIL = 2, /**< object with metadata and per-counter detail */
    PAPYRA_FORMAT_PROMETHEUS = 3,  /**< Prometheus text format 0.0.4 */
    PAPYRA_FORMAT_OPENMETRICS = 4  /**< OpenMetrics 1.0 text */
} papyra_metrics_format_id;

/** Flags of papyra_metrics_format(). */
enum {
    PAPYRA_FORMAT_WIDE = 1u << 0,   /**< table: add what each counter counts */
    PAPYRA_FORMAT_ASCII = 1u << 1,  /**< table: ASCII borders instead of box drawing */
    PAPYRA_FORMAT_COLOR = 1u << 2,  /**< table: ANSI colours */
    PAPYRA_FORMAT_PRETTY = 1u << 3, /**< JSON: indented by two spaces, as Python's indent=2 */
    PAPYRA_FORMAT_TOTALS = 1u << 4, /**< JSON/table/Prometheus: lifetime totals, not since-reset */
};

/**
 * Serialises a snapshot: the counters it holds, in spec order.
 *
 * Unsupported counters are "n/a" in the table, null in JSON, and absent from
 * Prometheus and OpenMetrics. 64-bit values are written exactly.
 *
 * @param[in]  s    the snapshot, of @p size bytes.
 * @param[in]  size sizeof the caller's papyra_metrics_snapshot (see there).
 * @param[out] ret  a NUL-terminated string, released with papyra_free();
 *                  untouched on failure.
 * @returns 0, PAPYRA_EINVAL (also for a @p size that matches no counter
 *          count), PAPYRA_ENOMEM.
 * @since 0.2.0
 */
PAPYRA_PUBLIC int papyra_metrics_format_sized(const papyra_metrics_snapshot *s,
                                              size_t size,
                                              papyra_metrics_format_id format,
                                              unsigned flags,
                                              char **ret);

/** The 0.1.0 entry point: papyra_metrics_format_sized() of PAPYRA_METRICS_V1_COUNT counters. */
PAPYRA_PUBLIC int papyra_metrics_format(const papyra_metrics_snapshot *s,
                                        papyra_metrics_format_id format,
                                        unsigned flags,
                                        char **ret);
#define papyra_metrics_format(s, format, flags, ret) \
    papyra_metrics_format_sized((s), sizeof(papyra_metrics_snapshot), (format), (flags), (ret))

/**
 * A label added to every Prometheus and OpenMetrics sample, after `backend`,
 * so that the counters of several stores can be told apart in one scrape
 * (for example store="orders").
 */
typedef struct papyra_metrics_label {
    const char *name;  /**< [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__", not "backend" */
    const char *value; /**< UTF-8; escaped as the formats require */
} papyra_metrics_label;

/**
 * Checks one label for papyra_metrics_format_labels().
 * @returns NULL when it is valid, else why not (static English text).
 * @since 0.1.0
 */
PAPYRA_PUBLIC const char *papyra_metrics_label_problem(const char *name, const char *value);

/**
 * papyra_metrics_format_sized() with @p nlabels extra labels on every sample.
 * Labels go only with PAPYRA_FORMAT_PROMETHEUS and PAPYRA_FORMAT_OPENMETRICS.
 *
 * @returns 0, PAPYRA_ENOMEM, or PAPYRA_EINVAL (also for a label that
 *          papyra_metrics_label_problem() refuses, a name given twice,
 *          labels with another format, or a @p size that matches no counter
 *          count).
 * @since 0.2.0
 */
PAPYRA_PUBLIC int papyra_metrics_format_labels_sized(const papyra_metrics_snapshot *s,
                                                     size_t size,
                                                     papyra_metrics_format_id format,
                                                     unsigned flags,
                                                     const papyra_metrics_label *labels,
                                                     size_t nlabels,
                                                     char **ret);

/**
 * The 0.1.0 entry point: papyra_metrics_format_labels_sized() of
 * PAPYRA_METRICS_V1_COUNT counters.
 * @since 0.1.0
 */
PAPYRA_PUBLIC int papyra_metrics_format_labels(const papyra_metrics_snapshot *s,
                                               papyra_metrics_format_id format,
                                               unsigned flags,
                                               const papyra_metrics_label *labels,
                                               size_t nlabels,
                                               char **ret);
#define papyra_metrics_format_labels(s, format, flags, labels, nlabels, ret)                    \
    papyra_metrics_format_labels_sized((s), sizeof(papyra_metrics_snapshot), (format), (flags), \
                                       (labels), (nlabels), (ret))

/**
 * Several snapshots as one Prometheus or OpenMetrics exposition, such as the
 * stores of one scrape: each counter family's HELP and TYPE once, then the
 * sample of every snapshot that supports the counter (a family no snapshot
 * supports is left out); OpenMetrics ends with one "# EOF". Snapshot k
 * carries the labels labels[k * nlabels] .. labels[k * nlabels + nlabels - 1]
 * after its `backend` label. @p count 0 gives an empty exposition ("" or
 * "# EOF\n").
 *
 * @param[in]  snapshots @p count snapshots, each of @p size bytes.
 * @param[in]  size      sizeof the caller's papyra_metrics_snapshot.
 * @param[out] ret       released with papyra_free(); untouched on failure.
 * @returns 0, PAPYRA_ENOMEM, or PAPYRA_EINVAL (a format other than those
 *          two, a label papyra_metrics_label_problem() refuses or a name
 *          given twice for one snapshot, two snapshots with the same labels
 *          and backend, or a @p size that matches no counter count).
 * @since 0.3.0
 */
PAPYRA_PUBLIC int papyra_metrics_format_many_sized(const papyra_metrics_snapshot *const *snapshots,
                                                   size_t size,
                                                   size_t count,
                                                   papyra_metrics_format_id format,
                                                   unsigned flags,
                                                   const papyra_metrics_label *labels,
                                                   size_t nlabels,
                                                   char **ret);
#define papyra_metrics_format_many(snapshots, count, format, flags, labels, nlabels, ret)   \
    papyra_metrics_format_many_sized((snapshots), sizeof(papyra_metrics_snapshot), (count), \
                                     (format), (flags), (labels), (nlabels), (ret))

/** Help text describing every counter (for `papyra metrics --help`). Static. */
PAPYRA_PUBLIC const char *papyra_metrics_help_text(void);

#ifdef __cplusplus
}
#endif

#endif /* PAPYRA_METRICS_H */
