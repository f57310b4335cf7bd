/* SPDX-License-Identifier: MIT */
/*
 * Store URLs: "scheme:path?key=value&key=value".
 *
 * The scheme is what comes before the first ':'. A path that starts with
 * "//" loses those two slashes (so "json:///tmp/a" and "json:/tmp/a" name
 * the same file, and "redis://host:6379/0" gives "host:6379/0"). The path
 * ends at the first '?'. Parameters are split on '&', each one "key=value";
 * empty parameters are ignored, a parameter without '=' or a key given twice
 * is an error. The path, keys and values are percent-decoded, so a file name
 * holding '?', '&' or '%' can be written as %3F, %26 or %25 (%00 is refused).
 *
 * This file also writes URLs (papyra_store_url_for_path()) and redacts them
 * (papyra_store_url_redact()), so that no caller, the CLI included, needs a
 * parser of its own that could read a URL differently from the store.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"
#include "util/buf.h"

static const char *const generic_keys[] = {
    "max_records", "max_age_seconds", "max_total_bytes", "metrics", NULL,
};

static int
set_err(papyra_error *err, int code, const char *msg, const char *arg)
{
    if (err) {
        err->code = code;
        snprintf(err->message, sizeof(err->message), "%s%s", msg, arg ? arg : "");
    }
    return code;
}

/* set_err() with the URL @p text appended, its secrets hidden. */
static int
set_err_url(papyra_error *err, int code, const char *msg, const char *text)
{
    char *shown = NULL;

    if (papyra_store_url_redact(text, &shown) < 0)
        return set_err(err, code, msg, "(not shown)");
    set_err(err, code, msg, shown);
    free(shown);
    return code;
}

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes n bytes into *ret. EINVAL on a malformed escape or %00. */
static int
decode(const char *s, size_t n, char **ret)
{
    char *d = malloc(n + 1), *o = d;
    size_t i;

    if (!d)
        return PAPYRA_ENOMEM;
    for (i = 0; i < n; i++) {
        int hi, lo;

        if (s[i] != '%') {
            *o++ = s[i];
            continue;
        }
        hi = i + 1 < n ? hexval(s[i + 1]) : -1;
        lo = i + 2 < n ? hexval(s[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            free(d);
            return PAPYRA_EINVAL;
        }
        *o++ = (char)(hi * 16 + lo);
        i += 2;
    }
    *o = '\0';
    *ret = d;
    return 0;
}

void
papyra__url_free(papyra__url *url)
{
    size_t i;

    if (!url)
        return;
    for (i = 0; i < url->nparams; i++) {
        free(url->keys[i]);
        free(url->values[i]);
    }
    free(url->keys);
    free(url->values);
    free(url->scheme);
    free(url->path);
    memset(url, 0, sizeof(*url));
}

/* The index of @p key among the parameters of @p url, or url->nparams when it has none. */
static size_t
find_param(const papyra__url *url, const char *key)
{
    size_t i;

    for (i = 0; i < url->nparams; i++) {
        if (strcmp(url->keys[i], key) == 0)
            break;
    }
    return i;
}

/* Appends a parameter, taking @p key and @p value (freed on failure). */
static int
append_param(papyra__url *url, char *key, char *value)
{
    char **nk, **nv;

    nk = realloc(url->keys, (url->nparams + 1) * sizeof(*nk));
    if (nk)
        url->keys = nk;
    nv = nk ? realloc(url->values, (url->nparams + 1) * sizeof(*nv)) : NULL;
    if (nv)
        url->values = nv;
    if (!nk || !nv) {
        free(key);
        free(value);
        return PAPYRA_ENOMEM;
    }
    url->keys[url->nparams] = key;
    url->values[url->nparams] = value;
    url->nparams++;
    return 0;
}

/* Adds one "key=value" of n bytes to url. */
static int
add_param(papyra__url *url, const char *p, size_t n, papyra_error *err)
{
    const char *eq = memchr(p, '=', n);
    char *key = NULL, *value = NULL;
    int r;

    if (!eq || eq == p)
        return set_err(err, PAPYRA_EINVAL, "malformed parameter (want key=value) in store URL",
                       NULL);
    r = decode(p, (size_t)(eq - p), &key);
    if (r == 0)
        r = decode(eq + 1, n - (size_t)(eq + 1 - p), &value);
    if (r < 0) {
        free(key);
        return r == PAPYRA_EINVAL ? set_err(err, r, "malformed %-escape in store URL", NULL)
                                  : set_err(err, r, "out of memory", NULL);
    }
    if (find_param(url, key) < url->nparams) {
        set_err(err, PAPYRA_EINVAL, "parameter given twice: ", key);
        free(key);
        free(value);
        return PAPYRA_EINVAL;
    }
    r = append_param(url, key, value);
    return r < 0 ? set_err(err, r, "out of memory", NULL) : 0;
}

static int
parse_query(papyra__url *url, const char *q, papyra_error *err)
{
    while (*q) {
        size_t n = strcspn(q, "&");
        int r = n ? add_param(url, q, n, err) : 0;

        if (r < 0)
            return r;
        q += n;
        if (*q == '&')
            q++;
    }
    return 0;
}

int
papyra__url_parse(const char *text, papyra__url *ret, papyra_error *err)
{
    papyra__url url = {0};
    const char *colon, *rest, *q;
    size_t i, plen;
    int r;

    if (!text || !ret)
        return set_err(err, PAPYRA_EINVAL, "no store URL given", NULL);
    colon = strchr(text, ':');
    if (!colon || colon == text)
        return set_err_url(err, PAPYRA_EINVAL,
                           "store URL needs a scheme (memory:, json:PATH, rotating:PATH, "
                           "redis://...): ",
                           text);
    for (i = 0; text + i < colon; i++) {
        char c = text[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9' && i > 0) || c == '+' || c == '-' ||
              c == '.'))
            return set_err_url(err, PAPYRA_EINVAL, "malformed scheme in store URL: ", text);
    }
    url.scheme = strndup(text, (size_t)(colon - text));
    if (!url.scheme)
        return set_err(err, PAPYRA_ENOMEM, "out of memory", NULL);
    rest = colon + 1;
    if (rest[0] == '/' && rest[1] == '/')
        rest += 2;
    q = strchr(rest, '?');
    plen = q ? (size_t)(q - rest) : strlen(rest);
    r = decode(rest, plen, &url.path);
    if (r < 0) {
        papyra__url_free(&url);
        return r == PAPYRA_EINVAL ? set_err_url(err, r, "malformed %-escape in store URL: ", text)
                                  : set_err(err, r, "out of memory", NULL);
    }
    if (q) {
        r = parse_query(&url, q + 1, err);
        if (r < 0) {
            papyra__url_free(&url);
            return r;
        }
    }
    *ret = url;
    return 0;
}

const char *
papyra__url_param(const papyra__url *url, const char *key)
{
    size_t i = url ? find_param(url, key) : 0;

    return url && i < url->nparams ? url->values[i] : NULL;
}

int
papyra__url_set(papyra__url *url, const char *key, const char *value)
{
    char *k = NULL, *v = strdup(value);
    size_t i = find_param(url, key);

    if (!v || (i == url->nparams && !(k = strdup(key)))) {
        free(v);
        return PAPYRA_ENOMEM;
    }
    if (i < url->nparams) {
        free(url->values[i]);
        url->values[i] = v;
        return 0;
    }
    return append_param(url, k, v);
}

bool
papyra__url_secret(const char *key)
{
    /* sentinel_password: the Redis sentinels' own (docs/backend-redis.md). */
    return strcmp(key, "password") == 0 || strcmp(key, "sentinel_password") == 0;
}

/*
 * The character that the text at @p p stands for once decoded, and in *len
 * how many bytes spell it there (3 for a well-formed %-escape, else 1).
 */
static int
raw_char(const char *p, const char *end, size_t *len)
{
    if (p[0] == '%' && end - p >= 3 && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
        *len = 3;
        return hexval(p[1]) * 16 + hexval(p[2]);
    }
    *len = 1;
    return (unsigned char)p[0];
}

/*
 * Whether the path of scheme @p scheme (@p n bytes) names a file or nothing,
 * so that an '@' in it belongs to a name and ends no credentials.
 */
static bool
path_is_a_name(const char *scheme, size_t n)
{
    static const char *const names[] = {"memory", "json", "rotating", "unix", NULL};

    for (const char *const *p = names; *p; p++) {
        if (strlen(*p) == n && memcmp(*p, scheme, n) == 0)
            return true;
    }
    return false;
}

/*
 * Appends the credentials-free form of the path [p, end) of a URL whose
 * authority may hold "user:password@": the split the Redis backend makes on
 * the decoded text (last '@', then first ':' before it), made on the raw text
 * so that escaped '@' and ':' count as what they decode to.
 */
static int
redact_path(papyra_buf *b, const char *p, const char *end)
{
    const char *at = NULL, *keep = p, *c;
    size_t len;

    for (c = p; c < end; c += len) {
        if (raw_char(c, end, &len) == '@')
            at = c;
    }
    if (!at)
        return papyra__buf_append(b, p, (size_t)(end - p));
    for (c = p; c < at; c += len) {
        if (raw_char(c, at, &len) == ':') {
            keep = c + len;
            break;
        }
    }
    if (papyra__buf_append(b, p, (size_t)(keep - p)) < 0 || papyra__buf_puts(b, "***") < 0)
        return PAPYRA_ENOMEM;
    return papyra__buf_append(b, at, (size_t)(end - at));
}

/* Appends the query [q, end) with the value of every secret parameter replaced. */
static int
redact_query(papyra_buf *b, const char *q, const char *end)
{
    while (q < end) {
        size_t n = strcspn(q, "&");
        const char *eq = memchr(q, '=', n);
        char *key = NULL;
        bool secret;

        /* The key as the parser reads it; one that does not decode is compared as written. */
        if (eq && decode(q, (size_t)(eq - q), &key) < 0 && !(key = strndup(q, (size_t)(eq - q))))
            return PAPYRA_ENOMEM;
        secret = key && papyra__url_secret(key);
        free(key);
        if (secret ? papyra__buf_append(b, q, (size_t)(eq + 1 - q)) < 0 ||
                         papyra__buf_puts(b, "***") < 0
                   : papyra__buf_append(b, q, n) < 0)
            return PAPYRA_ENOMEM;
        q += n;
        if (q < end && papyra__buf_putc(b, *q++) < 0)
            return PAPYRA_ENOMEM;
    }
    return 0;
}

PAPYRA_PUBLIC int
papyra_store_url_redact(const char *text, char **ret)
{
    papyra_buf b = {0};
    const char *q, *path_end, *colon, *path;
    char *out;
    int r = 0;

    if (!text || !ret)
        return PAPYRA_EINVAL;
    q = strchr(text, '?');
    path_end = q ? q : text + strlen(text);
    colon = memchr(text, ':', (size_t)(path_end - text));
    if (colon && !path_is_a_name(text, (size_t)(colon - text))) {
        /* Any other scheme, unknown ones too: a typo must not print a password. */
        path = colon + 1;
        if (path[0] == '/' && path[1] == '/')
            path += 2;
        r = papyra__buf_append(&b, text, (size_t)(path - text));
        if (r == 0)
            r = redact_path(&b, path, path_end);
    } else {
        r = papyra__buf_append(&b, text, (size_t)(path_end - text));
    }
    if (r == 0 && q)
        r = papyra__buf_putc(&b, '?');
    if (r == 0 && q)
        r = redact_query(&b, q + 1, q + strlen(q));
    out = r == 0 ? papyra__buf_steal(&b) : NULL;
    papyra__buf_free(&b);
    if (!out)
        return PAPYRA_ENOMEM;
    *ret = out;
    return 0;
}

PAPYRA_PUBLIC int
papyra_store_url_for_path(int backend, const char *path, char **ret)
{
    const char *scheme = backend == PAPYRA_BACKEND_JSON       ? "json"
                         : backend == PAPYRA_BACKEND_ROTATING ? "rotating"
                                                              : NULL;
    papyra_buf b = {0};
    char *out = NULL;
    int r;

    if (!scheme || !path || !path[0] || !ret)
        return PAPYRA_EINVAL;
    r = papyra__buf_appendf(&b, "%s:", scheme);
    for (size_t i = 0; r == 0 && path[i]; i++) {
        char c = path[i];

        /*
         * What the parser would read otherwise: '%' starts an escape, '?' the
         * query, '&' a parameter, a leading "//" is dropped; '#' is escaped as
         * URLs elsewhere would read a fragment there.
         */
        if (c == '%' || c == '?' || c == '&' || c == '#' || (i == 0 && c == '/' && path[1] == '/'))
            r = papyra__buf_appendf(&b, "%%%02X", (unsigned)(unsigned char)c);
        else
            r = papyra__buf_putc(&b, c);
    }
    if (r == 0)
        out = papyra__buf_steal(&b);
    papyra__buf_free(&b);
    if (!out)
        return PAPYRA_ENOMEM;
    *ret = out;
    return 0;
}

static bool
in_list(const char *const *list, const char *key)
{
    for (; list && *list; list++) {
        if (strcmp(*list, key) == 0)
            return true;
    }
    return false;
}

int
papyra__url_check(papyra_store *s, const papyra__url *url, const char *const *backend_keys)
{
    size_t i;

    for (i = 0; i < url->nparams; i++) {
        if (!in_list(generic_keys, url->keys[i]) && !in_list(backend_keys, url->keys[i]))
            return papyra__store_error(s, PAPYRA_EINVAL,
                                       "unknown parameter '%s' for %s:", url->keys[i], url->scheme);
    }
    return 0;
}

int
papyra__url_int(papyra_store *s,
                const papyra__url *url,
                const char *key,
                int64_t min,
                int64_t max,
                int64_t dflt,
                int64_t *ret)
{
    const char *v = papyra__url_param(url, key);
    char *end;
    long long n;

    if (!v) {
        *ret = dflt;
        return 0;
    }
    errno = 0;
    n = strtoll(v, &end, 10);
    if (*v == '\0' || *end != '\0' || (*v < '0' && *v != '-') || *v > '9')
        return papyra__store_error(s, PAPYRA_EINVAL, "parameter '%s': not an integer: '%s'", key,
                                   v);
    /* Out of long long's range (ERANGE) is out of every parameter's range too. */
    if (n < min || (errno == ERANGE && *v == '-'))
        return papyra__store_error(s, PAPYRA_EINVAL,
                                   "parameter '%s' must be >= %lld (allowed range %lld..%lld; "
                                   "got %s)",
                                   key, (long long)min, (long long)min, (long long)max, v);
    if (n > max || errno == ERANGE)
        return papyra__store_error(s, PAPYRA_EINVAL,
                                   "parameter '%s' must be <= %lld (allowed range %lld..%lld; "
                                   "got %s)",
                                   key, (long long)max, (long long)min, (long long)max, v);
    *ret = n;
    return 0;
}

int
papyra__url_double(
    papyra_store *s, const papyra__url *url, const char *key, double max, double dflt, double *ret)
{
    const char *v = papyra__url_param(url, key);
    char *end;
    double d;

    if (!v) {
        *ret = dflt;
        return 0;
    }
    errno = 0;
    d = strtod(v, &end);
    /* strtod would skip leading white space and take "inf" or hex; none of that here. */
    if (!strchr("0123456789+-.", *v) || *v == '\0' || *end != '\0' ||
        (errno == ERANGE && fabs(d) > 1) || !isfinite(d) || strpbrk(v, "xX"))
        return papyra__store_error(s, PAPYRA_EINVAL, "parameter '%s': not a finite number: '%s'",
                                   key, v);
    if (!(d > 0) || d > max)
        return papyra__store_error(s, PAPYRA_EINVAL,
                                   "parameter '%s' must be > 0 and <= %.0f (allowed range "
                                   "0..%.0f, 0 excluded; got %s)",
                                   key, max, max, v);
    *ret = d;
    return 0;
}
