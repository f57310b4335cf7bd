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

/* Whether query parameter @p key holds a secret, shown as "***" (password). */
bool papyra__url_secret(const char *key);

/*
 * Fails with EINVAL naming the first parameter that is neither generic
 * (retention, metrics) nor in the NULL-terminated @p backend_keys.
 */
int papyra__url_check(papyra_store *s, const papyra__url *url, const char *const *backend_keys);

/* Parses an integer/float parameter; EINVAL with a message naming it when malformed. */
int papyra__url_int(papyra_store *s,
                    const papyra__url *url,
                    const char *key,
                    int64_t min,
                    int64_t dflt,
                    int64_t *ret);
int papyra__url_double(
    papyra_store *s, const papyra__url *url, const char *key, double dflt, double *ret);

#endif /* PAPYRA_URL_H */
