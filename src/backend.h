/* SPDX-License-Identifier: MIT */
/*
 * The operations table every backend implements, and the store handle that
 * the generic layer (store.c) shares with the backends.
 *
 * The generic layer validates arguments, keeps the error message, and moves
 * the metrics: a backend reports what happened (records written, records
 * returned, anomalies skipped) and never touches a counter itself, so no
 * backend can forget one.
 */
#ifndef PAPYRA_BACKEND_H
#define PAPYRA_BACKEND_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <papyra/store.h>

/* A parsed store URL: scheme, path (or authority), and query parameters. */
typedef struct papyra__url {
    char *scheme; /* "memory", "json", "rotating", "redis", "unix" */
    char *path;   /* file path, or for redis the part after "//" up to '?' */
    size_t nparams;
    char **keys;
    char **values;
} papyra__url;

/* Retention, the same for every backend. A field of 0 means unset. */
typedef struct papyra__retention {
    int64_t max_records;
    double max_age_seconds;
    int64_t max_total_bytes;
} papyra__retention;

/* What a list call returns to the generic layer, besides the records. */
typedef struct papyra__list_result {
    papyra_record_list *list; /* set by the backend on success */
    uint64_t anomalies;       /* corrupt or torn records skipped */
} papyra__list_result;

typedef struct papyra__backend_ops {
    const char *name; /* "json" */
    int id;           /* papyra_backend_id */
    /* Opens the backend; may read url params it owns and must reject unknown ones. */
    int (*open)(papyra_store *s, const papyra__url *url);
    /* Flushes and frees backend state (s->impl). */
    int (*close)(papyra_store *s);
    int (*write)(papyra_store *s, const papyra_record *records, size_t n);
    int (*list)(papyra_store *s,
                papyra_kind kind,
                const papyra_list_options *opts,
                papyra__list_result *out);
    int (*scan)(papyra_store *s, papyra_scan_report **ret);
    /* Repairs or quarantines what @p found reports; the generic layer scans before and after. */
    int (*repair)(papyra_store *s,
                  const papyra_recovery_options *opts,
                  const papyra_scan_report *found,
                  papyra_recovery_report *report);
    /* NULL when the backend does not compact (memory). anomalies: corrupt records dropped. */
    int (*compact)(papyra_store *s, papyra_compaction_report *ret, uint64_t *anomalies);
    /* The default metrics-file path for this store, or NULL for private counters. */
    int (*default_metrics_path)(papyra_store *s, const papyra__url *url, char **ret);
} papyra__backend_ops;

struct papyra_store {
    const papyra__backend_ops *ops;
    void *impl;                 /* backend state */
    papyra_metrics *metrics;    /* shared file, or private fallback */
    char *metrics_warning;      /* why counters are private, if a file was wanted */
    papyra__retention retention;
    char *data_path;            /* file backends: the data path (for modes, defaults) */
    char errmsg[512];
};

/* Sets the store's error message and returns @p code (printf-style). */
int papyra__store_error(papyra_store *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The value of query parameter @p key, or NULL. */
const char *papyra__url_param(const papyra__url *url, const char *key);

/* Parses an integer/float parameter; EINVAL with a message naming it when malformed. */
int papyra__url_int(papyra_store *s, const papyra__url *url, const char *key, int64_t min,
                    int64_t dflt, int64_t *ret);
int papyra__url_double(papyra_store *s, const papyra__url *url, const char *key, double dflt,
                       double *ret);

/* Applies retention to records of one kind (oldest to newest), in place. */
void papyra__retention_apply(const papyra__retention *r, papyra_record_list *list,
                             const size_t *sizes);

extern const papyra__backend_ops papyra__backend_memory;
extern const papyra__backend_ops papyra__backend_jsonl;
extern const papyra__backend_ops papyra__backend_rotating;
extern const papyra__backend_ops papyra__backend_redis;

#endif /* PAPYRA_BACKEND_H */
