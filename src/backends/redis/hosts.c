/* SPDX-License-Identifier: MIT */
/*
 * The "host[:port]" / "[v6]:port" parsing of the Redis URL forms: the one
 * splitter redis:// (conn.c), redis-sentinel:// (sentinel.c) and
 * redis-cluster:// (cluster.c) share, and the comma-separated node list of
 * the last two (see redis-private.h).
 */
#include <stdlib.h>
#include <string.h>

#include "backends/redis/redis-private.h"

int
papyra__redis_parse_port(const char *p, size_t n, int *ret)
{
    long v = 0;
    if (n == 0 || n > 5)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    if (v < 1 || v > 65535)
        return -1;
    *ret = (int)v;
    return 0;
}

int
papyra__redis_split_hostport(
    const char *p, size_t n, const char **hs, const char **he, const char **colon)
{
    const char *end = p + n;

    if (n > 0 && *p == '[') {
        const char *rb = memchr(p, ']', n);
        if (!rb)
            return -1;
        *hs = p + 1;
        *he = rb;
        *colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
    } else {
        *hs = p;
        *colon = memchr(p, ':', n);
        *he = *colon ? *colon : end;
    }
    return 0;
}

/* Adds the one address of @p n bytes at @p p to the list. */
static int
add_node(papyra_store *s,
         const papyra__redis_hostlist *form,
         const char *p,
         size_t n,
         int *count,
         char **hosts,
         int *ports)
{
    const char *hs, *he, *colon;

    if (n == 0)
        return papyra__store_error(s, PAPYRA_EINVAL, "%s URL: empty %s", form->scheme, form->empty);
    if (*count == form->max)
        return papyra__store_error(s, PAPYRA_EINVAL, "%s URL: more than %d %s", form->scheme,
                                   form->max, form->plural);
    if (papyra__redis_split_hostport(p, n, &hs, &he, &colon) < 0)
        return papyra__store_error(s, PAPYRA_EINVAL, "%s URL: unterminated '[' in '%.*s'",
                                   form->scheme, (int)n, p);
    if (he == hs || (form->host_max && (size_t)(he - hs) >= form->host_max))
        return papyra__store_error(s, PAPYRA_EINVAL, "%s URL: %s in %s '%.*s'", form->scheme,
                                   form->no_host, form->item, (int)n, p);
    ports[*count] = form->default_port;
    if (colon &&
        papyra__redis_parse_port(colon + 1, (size_t)(p + n - colon - 1), &ports[*count]) < 0)
        return papyra__store_error(s, PAPYRA_EINVAL,
                                   "%s URL: bad port in %s '%.*s' (allowed range 1..65535)",
                                   form->scheme, form->item, (int)n, p);
    if (!(hosts[*count] = strndup(hs, (size_t)(he - hs))))
        return PAPYRA_ENOMEM;
    (*count)++;
    return 0;
}

int
papyra__redis_parse_hostlist(papyra_store *s,
                             const papyra__redis_hostlist *form,
                             const char *p,
                             const char *end,
                             int *count,
                             char **hosts,
                             int *ports)
{
    int rc;

    while (p <= end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma ? comma : end;
        if ((rc = add_node(s, form, p, (size_t)(e - p), count, hosts, ports)) < 0)
            return rc;
        p = e + 1;
    }
    return 0;
}
