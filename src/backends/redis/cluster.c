/* SPDX-License-Identifier: MIT */
/*
 * Redis Cluster routing (see cluster.h and docs/backend-redis.md, "Cluster").
 * Uses only hiredis API present in both 0.14 and 1.x.
 */
#include "backends/redis/cluster.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backends/redis/redis-private.h"
#include "util/buf.h"

int64_t
papyra__cluster_mono_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* CRC16/XMODEM (polynomial 0x1021, initial value 0), as the Redis Cluster spec uses. */
static uint16_t
crc16(const unsigned char *p, size_t n)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < n; i++) {
        crc ^= (uint16_t)(p[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (uint16_t)(crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1);
    }
    return crc;
}

unsigned
papyra__cluster_keyslot(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len), *close;

    /* The spec's rule: the first '{', the first '}' after it, and something between them. */
    if (open) {
        size_t rest = len - (size_t)(open - key) - 1;
        close = memchr(open + 1, '}', rest);
        if (close && close > open + 1)
            return crc16((const unsigned char *)open + 1, (size_t)(close - open - 1)) &
                   (PAPYRA_CLUSTER_SLOTS - 1);
    }
    return crc16((const unsigned char *)key, len) & (PAPYRA_CLUSTER_SLOTS - 1);
}

/* The seed list of a redis-cluster:// URL, as its error messages name it. */
static const papyra__redis_hostlist seed_list = {
    .scheme = "redis-cluster",
    .empty = "node address in the seed list",
    .plural = "seed nodes",
    .item = "seed",
    .no_host = "no (or too long a) host",
    .host_max = PAPYRA_CLUSTER_HOST_MAX,
    .max = PAPYRA_CLUSTER_SEEDS_MAX,
    .default_port = 6379,
};

int
papyra__cluster_parse(papyra_store *s, const char *path, papyra__cluster **ret)
{
    papyra__cluster *cl = calloc(1, sizeof(*cl));
    const char *slash = strchr(path, '/'), *p = path, *end;
    int rc = 0;

    if (!cl)
        return PAPYRA_ENOMEM;
    if (pthread_mutex_init(&cl->lock, NULL) != 0) {
        free(cl);
        return PAPYRA_ENOMEM;
    }
    if (pthread_mutex_init(&cl->refresh_lock, NULL) != 0) {
        (void)pthread_mutex_destroy(&cl->lock);
        free(cl);
        return PAPYRA_ENOMEM;
    }
    for (int i = 0; i < PAPYRA_CLUSTER_SLOTS; i++)
        cl->slots[i] = -1;
    if (strchr(path, '@')) {
        rc = papyra__store_error(s, PAPYRA_EINVAL,
                                 "redis-cluster URL: give the credentials as ?user= and "
                                 "?password=, not user:password@ (the authority lists nodes)");
        goto fail;
    }
    if (slash && slash[1] != '\0') {
        rc = papyra__store_error(s, PAPYRA_EINVAL,
                                 "redis-cluster URL: '/%s' after the nodes: a cluster has only "
                                 "database 0, so no /db (nor ?db=) is taken",
                                 slash + 1);
        goto fail;
    }
    end = slash ? slash : path + strlen(path);
    if (end == path) {
        rc = papyra__store_error(s, PAPYRA_EINVAL,
                                 "redis-cluster URL: expected "
                                 "redis-cluster://host:port[,host:port...]/, got no node");
        goto fail;
    }
    if ((rc = papyra__redis_parse_hostlist(s, &seed_list, p, end, &cl->nseeds, cl->seed_hosts,
                                           cl->seed_ports)) < 0)
        goto fail;
    *ret = cl;
    return 0;
fail:
    papyra__cluster_free(cl);
    return rc;
}

static void
node_free(papyra__redis *n)
{
    papyra__redis_spares_free(n);
    papyra__redis_drop(n);
    (void)pthread_mutex_destroy(&n->lock);
    free(n->host);
    free(n);
}

void
papyra__cluster_free(papyra__cluster *cl)
{
    if (!cl)
        return;
    for (int i = 0; i < cl->nnodes; i++)
        node_free(cl->nodes[i]);
    for (int i = 0; i < cl->nseeds; i++)
        free(cl->seed_hosts[i]);
    free(cl->tmpl);
    (void)pthread_mutex_destroy(&cl->lock);
    (void)pthread_mutex_destroy(&cl->refresh_lock);
    free(cl);
}

/* The index of master host:port, added when new; cl->lock held. -1: out of memory or room. */
static int
node_index_locked(papyra__redis *router, const char *host, int port)
{
    papyra__cluster *cl = router->cluster;
    papyra__redis *n;

    for (int i = 0; i < cl->nnodes; i++) {
        if (cl->nodes[i]->port == port && strcmp(cl->nodes[i]->host, host) == 0)
            return i;
    }
    if (cl->nnodes == PAPYRA_CLUSTER_NODES_MAX || !(n = calloc(1, sizeof(*n))))
        return -1;
    /* The settings' pointers are borrowed from the router, which frees them; the host is own. */
    memcpy(n, cl->tmpl, sizeof(*n));
    n->ctx = NULL;
    n->spares = NULL;
    n->nspares = 0;
    n->retry_after_ms = 0;
    n->router = false;
    n->asking = false;
    atomic_init(&n->next_spare, 0);
    n->port = port;
    if (!(n->host = strdup(host))) {
        free(n);
        return -1;
    }
    if (pthread_mutex_init(&n->lock, NULL) != 0) {
        free(n->host);
        free(n);
        return -1;
    }
    if (papyra__redis_spares_init(n) < 0) {
        (void)pthread_mutex_destroy(&n->lock);
        free(n->host);
        free(n);
        return -1;
    }
    cl->nodes[cl->nnodes] = n;
    return cl->nnodes++;
}

/* The master host:port, added when new; NULL when there is no memory or room. */
static papyra__redis *
node_get(papyra__redis *router, const char *host, int port)
{
    papyra__cluster *cl = router->cluster;
    papyra__redis *n = NULL;
    int i;

    (void)pthread_mutex_lock(&cl->lock);
    if ((i = node_index_locked(router, host, port)) >= 0)
        n = cl->nodes[i];
    (void)pthread_mutex_unlock(&cl->lock);
    return n;
}

/* A string element as text into @p buf; false when it is not one or is too long. */
static bool
str_of(const redisReply *e, char *buf, size_t size)
{
    if (!e || (e->type != REDIS_REPLY_STRING && e->type != REDIS_REPLY_STATUS) || e->len >= size)
        return false;
    memcpy(buf, e->str, e->len);
    buf[e->len] = '\0';
    return true;
}

/*
 * Reads CLUSTER SLOTS from @p host:@p port into @p map (slot -> node index).
 * Returns 0, or -1 with why in @p why.
 */
static int
read_map(papyra_store *s,
         papyra__redis *router,
         const char *host,
         int port,
         int16_t *map,
         char *why,
         size_t whylen)
{
    papyra__cluster *cl = router->cluster;
    papyra__redis t;
    const char *argv[2] = {"CLUSTER", "SLOTS"};
    redisReply *reply = NULL;
    int rc, served = 0;

    /* A connection of its own through the one connect path (AUTH, TLS, timeouts). */
    memcpy(&t, cl->tmpl, sizeof(t));
    t.ctx = NULL;
    t.spares = NULL;
    t.nspares = 0;
    t.router = false;
    t.asking = false;
    t.host = (char *)host;
    t.port = port;
    if ((rc = papyra__redis_command(s, &t, PAPYRA_REDIS_ERROR_OK, 2, argv, NULL, &reply)) < 0) {
        (void)snprintf(why, whylen, "%s", papyra_store_errmsg(s));
        papyra__redis_drop(&t);
        return -1;
    }
    papyra__redis_drop(&t);
    if (reply->type == REDIS_REPLY_ERROR) {
        (void)snprintf(why, whylen, "CLUSTER SLOTS: %.*s%s", (int)reply->len, reply->str,
                       strstr(reply->str, "cluster support disabled")
                           ? " (not a cluster node: use redis:// for a single server)"
                           : "");
        freeReplyObject(reply);
        return -1;
    }
    if (reply->type != REDIS_REPLY_ARRAY) {
        (void)snprintf(why, whylen, "CLUSTER SLOTS: unexpected reply");
        freeReplyObject(reply);
        return -1;
    }
    for (int i = 0; i < PAPYRA_CLUSTER_SLOTS; i++)
        map[i] = -1;
    for (size_t i = 0; i < reply->elements; i++) {
        const redisReply *e = reply->element[i];
        const redisReply *m;
        char mhost[PAPYRA_CLUSTER_HOST_MAX], ptext[16];
        long long lo, hi;
        int mport = 0, idx;

        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
            e->element[0]->type != REDIS_REPLY_INTEGER ||
            e->element[1]->type != REDIS_REPLY_INTEGER)
            continue;
        lo = e->element[0]->integer;
        hi = e->element[1]->integer;
        m = e->element[2];
        if (lo < 0 || hi >= PAPYRA_CLUSTER_SLOTS || lo > hi || m->type != REDIS_REPLY_ARRAY ||
            m->elements < 2 || !str_of(m->element[0], mhost, sizeof(mhost)))
            continue;
        if (m->element[1]->type == REDIS_REPLY_INTEGER)
            mport = (int)m->element[1]->integer;
        else if (!str_of(m->element[1], ptext, sizeof(ptext)) ||
                 papyra__redis_parse_port(ptext, strlen(ptext), &mport) < 0)
            continue;
        /* An empty (or "?") endpoint means: the address this answer came from. */
        if (mhost[0] == '\0' || strcmp(mhost, "?") == 0)
            (void)snprintf(mhost, sizeof(mhost), "%s", host);
        (void)pthread_mutex_lock(&cl->lock);
        idx = node_index_locked(router, mhost, mport);
        (void)pthread_mutex_unlock(&cl->lock);
        if (idx < 0) {
            (void)snprintf(why, whylen, "out of memory (or more than %d masters)",
                           PAPYRA_CLUSTER_NODES_MAX);
            freeReplyObject(reply);
            return -1;
        }
        for (long long k = lo; k <= hi; k++)
            map[k] = (int16_t)idx;
        served++;
    }
    freeReplyObject(reply);
    if (served == 0) {
        (void)snprintf(why, whylen, "the cluster serves no slot yet (CLUSTER SLOTS is empty)");
        return -1;
    }
    return 0;
}

int
papyra__cluster_refresh(papyra_store *s, papyra__redis *router)
{
    papyra__cluster *cl = router->cluster;
    int16_t *map = malloc(sizeof(cl->slots));
    papyra_buf errs = {0};
    uint64_t seen;
    int rc = PAPYRA_ECONNECT, nknown;

    if (!map)
        return papyra__store_error(s, PAPYRA_ENOMEM, "redis-cluster: out of memory");
    (void)pthread_mutex_lock(&cl->lock);
    seen = cl->refreshes;
    (void)pthread_mutex_unlock(&cl->lock);
    (void)pthread_mutex_lock(&cl->refresh_lock);
    (void)pthread_mutex_lock(&cl->lock);
    nknown = cl->nnodes;
    if (cl->refreshes != seen) {
        /* Another thread read the map while this one waited: that one is as fresh. */
        (void)pthread_mutex_unlock(&cl->lock);
        (void)pthread_mutex_unlock(&cl->refresh_lock);
        free(map);
        return 0;
    }
    (void)pthread_mutex_unlock(&cl->lock);
    /* The masters known already, then the seeds. */
    for (int i = 0; i < nknown + cl->nseeds && rc != 0; i++) {
        char why[512], host[PAPYRA_CLUSTER_HOST_MAX];
        int port;
        if (i < nknown) {
            (void)pthread_mutex_lock(&cl->lock);
            (void)snprintf(host, sizeof(host), "%s", cl->nodes[i]->host);
            port = cl->nodes[i]->port;
            (void)pthread_mutex_unlock(&cl->lock);
        } else {
            (void)snprintf(host, sizeof(host), "%s", cl->seed_hosts[i - nknown]);
            port = cl->seed_ports[i - nknown];
        }
        if (read_map(s, router, host, port, map, why, sizeof(why)) == 0) {
            rc = 0;
            break;
        }
        (void)papyra__buf_appendf(&errs, "%s%s:%d: %s", errs.len ? "; " : "", host, port, why);
    }
    if (rc == 0) {
        (void)pthread_mutex_lock(&cl->lock);
        memcpy(cl->slots, map, sizeof(cl->slots));
        cl->refreshes++;
        (void)pthread_mutex_unlock(&cl->lock);
    } else {
        (void)papyra__store_error(s, PAPYRA_ECONNECT,
                                  "redis-cluster: no node gave the slot map (%s)",
                                  errs.data ? errs.data : "no node");
    }
    (void)pthread_mutex_unlock(&cl->refresh_lock);
    papyra__buf_free(&errs);
    free(map);
    return rc;
}

papyra__redis *
papyra__cluster_at(papyra__redis *router, const char *key, size_t len)
{
    papyra__cluster *cl = router->cluster;
    unsigned slot = papyra__cluster_keyslot(key, len);
    papyra__redis *n = NULL;

    (void)pthread_mutex_lock(&cl->lock);
    if (cl->nnodes > 0)
        n = cl->nodes[cl->slots[slot] >= 0 ? cl->slots[slot] : 0];
    (void)pthread_mutex_unlock(&cl->lock);
    return n;
}

papyra__cluster_redir_type
papyra__cluster_parse_redir(const char *str, size_t len, papyra__cluster_redir *out)
{
    static const struct {
        const char *word;
        papyra__cluster_redir_type type;
    } words[] = {
        {"MOVED ", PAPYRA_CLUSTER_MOVED},
        {"ASK ", PAPYRA_CLUSTER_ASK},
        {"TRYAGAIN", PAPYRA_CLUSTER_TRYAGAIN},
        {"CLUSTERDOWN", PAPYRA_CLUSTER_CLUSTERDOWN},
    };
    const char *p = str, *end = str + len, *sp, *colon = NULL;
    long slot = 0;

    out->type = PAPYRA_CLUSTER_NONE;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        size_t n = strlen(words[i].word);
        if (len >= n && memcmp(str, words[i].word, n) == 0) {
            out->type = words[i].type;
            p = str + n;
            break;
        }
    }
    if (out->type != PAPYRA_CLUSTER_MOVED && out->type != PAPYRA_CLUSTER_ASK)
        return out->type;
    /* "MOVED <slot> <host>:<port>" (the host may be empty: the node that answered). */
    for (; p < end && *p >= '0' && *p <= '9' && slot < PAPYRA_CLUSTER_SLOTS; p++)
        slot = slot * 10 + (*p - '0');
    if (p == end || *p != ' ' || slot >= PAPYRA_CLUSTER_SLOTS)
        goto bad;
    sp = p + 1;
    for (p = sp; p < end; p++) {
        if (*p == ':')
            colon = p;
    }
    if (!colon || (size_t)(colon - sp) >= sizeof(out->host) ||
        papyra__redis_parse_port(colon + 1, (size_t)(end - colon - 1), &out->port) < 0)
        goto bad;
    memcpy(out->host, sp, (size_t)(colon - sp));
    out->host[colon - sp] = '\0';
    out->slot = (int)slot;
    return out->type;
bad:
    out->type = PAPYRA_CLUSTER_NONE;
    return PAPYRA_CLUSTER_NONE;
}

int
papyra__cluster_follow(papyra_store *s,
                       papyra__redis *router,
                       const papyra__cluster_redir *rd,
                       int hop,
                       bool retryable,
                       int64_t deadline_ms,
                       papyra__redis **target,
                       bool *asking)
{
    papyra__cluster *cl = router->cluster;
    int64_t now = papyra__cluster_mono_ms(), backoff;
    char msg[1024];
    bool stale;

    *target = NULL;
    *asking = false;
    if (hop >= PAPYRA_CLUSTER_HOPS_MAX)
        return -1;
    switch (rd->type) {
    case PAPYRA_CLUSTER_MOVED:
        if (!(*target = node_get(router, rd->host, rd->port)))
            return -1;
        (void)pthread_mutex_lock(&cl->lock);
        stale = cl->slots[rd->slot] < 0 || cl->nodes[cl->slots[rd->slot]] != *target;
        (void)pthread_mutex_unlock(&cl->lock);
        /* The map is read again only when it is behind (another thread may have done it);
         * the command goes to the named master whatever the refresh gives. */
        if (stale) {
            (void)snprintf(msg, sizeof(msg), "%s", papyra_store_errmsg(s));
            if (papyra__cluster_refresh(s, router) < 0)
                (void)papyra__store_error(s, PAPYRA_EPROTO, "%s", msg);
        }
        return 0;
    case PAPYRA_CLUSTER_ASK:
        if (!(*target = node_get(router, rd->host, rd->port)))
            return -1;
        *asking = true;
        return 0;
    case PAPYRA_CLUSTER_TRYAGAIN:
    case PAPYRA_CLUSTER_CLUSTERDOWN:
        if (!retryable)
            return -1;
        backoff = (int64_t)10 << (hop < 5 ? hop : 5);
        if (backoff > 200)
            backoff = 200;
        if (now + backoff >= deadline_ms)
            return -1;
        {
            struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)backoff * 1000000L};
            (void)nanosleep(&ts, NULL);
        }
        if (rd->type == PAPYRA_CLUSTER_CLUSTERDOWN) {
            (void)snprintf(msg, sizeof(msg), "%s", papyra_store_errmsg(s));
            if (papyra__cluster_refresh(s, router) < 0)
                (void)papyra__store_error(s, PAPYRA_EPROTO, "%s", msg);
        }
        return 0;
    default:
        return -1;
    }
}
