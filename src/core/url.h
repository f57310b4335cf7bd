/* SPDX-License-Identifier: MIT */
/*
 * Store URLs inside the library (url.c): the one parser of the text that
 * papyra_store_open(), papyra_store_url_describe() and the backends read, and
 * the one place that knows which parts of it are secret.
 */
#ifndef PAPYRA_URL_H
#define PAPYRA_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <papyra/store.h>

/*
 * A parsed store URL: scheme, path (or authority), and query parameters.
 * The path and the values are percent-decoded; keys are unique.
 */
typedef struct papyra__url {
    char *scheme; /* "memory", "json", "rotating", "redis", "unix" */
    char *path;   /* file path, or for redis the part after "//" up to '?' */
    size_t nparams;
    char **keys;
    char **values;
} papyra__url;

/* Parses a store URL (see store.h); EINVAL with a message in @p err. */
int papyra__url_parse(const char *text, papyra__url *ret, papyra_error *err);

/* Frees what papyra__url_parse() allocated. NULL is a no-op. */
void papyra__url_free(papyra__url *url);

/* The value of query parameter @p key, or NULL. */
const char *papyra__url_param(const papyra__url *url, const char *key);

/*
 * Sets query parameter @p key to @p value (both decoded), replacing the
 * value it had or adding it last. 0 or PAPYRA_ENOMEM (@p url unchanged).
 */
int papyra__url_set(papyra__url *url, const char *key, const char *value);

/* Whether query parameter @p key holds a secret, shown as "***" (password, sentinel_password). */
bool papyra__url_secret(const char *key);

/*
 * Fails with EINVAL naming the first parameter that is neither generic
 * (retention, metrics) nor in the NULL-terminated @p backend_keys.
 */
int papyra__url_check(papyra_store *s, const papyra__url *url, const char *const *backend_keys);

/*
 * Upper bounds of the numeric parameters every store takes (the retention
 * limits; docs/store.md). Each backend documents its own in its page.
 */
#define PAPYRA__MAX_RECORDS_MAX INT64_C(1000000000000)        /* 10^12 records */
#define PAPYRA__MAX_TOTAL_BYTES_MAX INT64_C(1125899906842624) /* 1 PiB */
#define PAPYRA__MAX_AGE_SECONDS_MAX 3155760000.0              /* 100 years of 365.25 days */

/*
 * Parses the integer parameter @p key into @p ret (@p dflt when absent).
 * EINVAL with a message naming the parameter when it is malformed, and
 * naming it and the allowed range @p min..@p max when it is outside.
 */
int papyra__url_int(papyra_store *s,
                    const papyra__url *url,
                    const char *key,
                    int64_t min,
                    int64_t max,
                    int64_t dflt,
                    int64_t *ret);
/*
 * Parses the number parameter @p key, which must be > 0 and <= @p max, into
 * @p ret (@p dflt when absent); EINVAL naming it and the range otherwise.
 */
int papyra__url_double(
    papyra_store *s, const papyra__url *url, const char *key, double max, double dflt, double *ret);

#endif /* PAPYRA_URL_H */
