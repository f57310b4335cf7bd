/* SPDX-License-Identifier: MIT */
/*
 * Master discovery through Redis Sentinel for `redis-sentinel://` URLs
 * (docs/backend-redis.md, "Sentinel"): the sentinels are asked in turn for
 * the address of the named master with SENTINEL GET-MASTER-ADDR-BY-NAME.
 * conn.c asks before every connect, so a connection error or a READONLY
 * reply (which drops the connection) makes the next call find the new master.
 */
#ifndef PAPYRA_REDIS_SENTINEL_H
#define PAPYRA_REDIS_SENTINEL_H

#include <stddef.h>
#include <stdint.h>

#include "core/backend.h"

/* Most sentinels one URL may name. */
#define PAPYRA_SENTINEL_MAX 16

/* Longest host name a sentinel may answer with (plus NUL). */
#define PAPYRA_SENTINEL_HOST_MAX 256

typedef struct papyra__sentinel {
    char *master_name;
    int n;
    char *hosts[PAPYRA_SENTINEL_MAX];
    int ports[PAPYRA_SENTINEL_MAX];
    /* The sentinels' own credentials (sentinel_user, sentinel_password), not the master's:
     * with a password each sentinel is sent AUTH before it is asked. NULL: none. */
    char *user;
    char *password;
    /* rediss-sentinel:// only: the store's redisSSLContext (borrowed, not freed here), so
     * the sentinels are asked over TLS with the context the master's connections use. */
    void *tls;
} papyra__sentinel;

/*
 * Parses "host[:port],host[:port].../master_name" (the decoded path of a
 * redis-sentinel:// URL; the port defaults to 26379). Returns 0 with *ret
 * set, or EINVAL/ENOMEM with the store's message set.
 */
int papyra__sentinel_parse(papyra_store *s, const char *path, papyra__sentinel **ret);

/* Frees what papyra__sentinel_parse() allocated; NULL is fine. */
void papyra__sentinel_free(papyra__sentinel *st);

/*
 * Asks the sentinels, in URL order, for the master's address. Each gets
 * @p connect_timeout_ms to connect and @p timeout_ms to answer; the search
 * ends at the first answer, or after every sentinel was tried, or once
 * @p timeout_ms has passed since it began (the first sentinel is always
 * tried). Returns 0 with @p host / *port set, else PAPYRA_ECONNECT with a
 * message naming each sentinel's failure, or PAPYRA_EACCES when a sentinel
 * refused the credentials (or wanted some): that is a setting to fix, not an
 * outage, so it wins over the other sentinels' failures.
 */
int papyra__sentinel_master(papyra_store *s,
                            const papyra__sentinel *st,
                            int64_t connect_timeout_ms,
                            int64_t timeout_ms,
                            char *host,
                            size_t hostlen,
                            int *port);

#endif /* PAPYRA_REDIS_SENTINEL_H */
