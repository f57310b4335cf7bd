/* SPDX-License-Identifier: MIT */
/*
 * Redis Cluster routing for `redis-cluster://` (and `rediss-cluster://`)
 * URLs (docs/backend-redis.md, "Cluster"): the seed list, the slot map read
 * with CLUSTER SLOTS, the key slot (CRC16/XMODEM of the key or of its
 * `{hash tag}`), one connection set per master (created lazily through
 * conn.c's one connect path) and the MOVED / ASK / TRYAGAIN / CLUSTERDOWN
 * redirections.
 *
 * The store's own papyra__redis is then a router: it holds the settings and
 * the papyra__cluster, never a connection of its own. Each master is a
 * papyra__redis of its own (with its spares) that borrows the router's
 * settings and owns only its host.
 */
#ifndef PAPYRA_REDIS_CLUSTER_H
#define PAPYRA_REDIS_CLUSTER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/backend.h"

/* The slots of a Redis Cluster. */
#define PAPYRA_CLUSTER_SLOTS 16384

/* Most seed nodes one URL may name. */
#define PAPYRA_CLUSTER_SEEDS_MAX 16

/* Most masters one store talks to (each with its own connections). */
#define PAPYRA_CLUSTER_NODES_MAX 128

/* Longest node host name (plus NUL). */
#define PAPYRA_CLUSTER_HOST_MAX 256

/* Most redirections followed for one command before it is an error. */
#define PAPYRA_CLUSTER_HOPS_MAX 16

struct papyra__redis;

/* What an error reply asks the client to do. */
typedef enum papyra__cluster_redir_type {
    PAPYRA_CLUSTER_NONE = 0,
    PAPYRA_CLUSTER_MOVED,       /* the slot lives elsewhere now: refresh the map, go there */
    PAPYRA_CLUSTER_ASK,         /* this key is being migrated: ASKING, then the named node */
    PAPYRA_CLUSTER_TRYAGAIN,    /* multi-key command during a migration: try again */
    PAPYRA_CLUSTER_CLUSTERDOWN, /* the cluster (or the slot) cannot serve now */
} papyra__cluster_redir_type;

typedef struct papyra__cluster_redir {
    papyra__cluster_redir_type type;
    int slot;
    char host[PAPYRA_CLUSTER_HOST_MAX];
    int port;
} papyra__cluster_redir;

typedef struct papyra__cluster {
    int nseeds;
    char *seed_hosts[PAPYRA_CLUSTER_SEEDS_MAX];
    int seed_ports[PAPYRA_CLUSTER_SEEDS_MAX];
    /* Guards nnodes, nodes[] (the pointers, not the connections) and slots[]. */
    pthread_mutex_t lock;
    /* One map refresh at a time (it connects; it never takes a node's lock). */
    pthread_mutex_t refresh_lock;
    int nnodes;
    struct papyra__redis *nodes[PAPYRA_CLUSTER_NODES_MAX]; /* never freed before the store */
    int16_t slots[PAPYRA_CLUSTER_SLOTS];                   /* index into nodes[], or -1 */
    uint64_t refreshes;                                    /* maps read so far */
    /* The router's settings as they were when the store opened: masters and map
     * connections copy these, never the live router (whose lock other threads take). */
    struct papyra__redis *tmpl;
} papyra__cluster;

/* The slot of a key: CRC16/XMODEM of the key, or of its hash tag, mod 16384. */
unsigned papyra__cluster_keyslot(const char *key, size_t len);

/*
 * Parses "host[:port],host[:port]...[/]" (the decoded path of a
 * redis-cluster:// URL; the port defaults to 6379). A database number is
 * refused: a cluster has only db 0. Returns 0 with *ret set, or
 * EINVAL/ENOMEM with the store's message set.
 */
int papyra__cluster_parse(papyra_store *s, const char *path, papyra__cluster **ret);

/* Frees the seeds, the masters' connections and the map; NULL is fine. */
void papyra__cluster_free(papyra__cluster *cl);

/*
 * Reads the slot map with CLUSTER SLOTS from a known master or else a seed,
 * each through a connection of its own made by conn.c (AUTH, TLS,
 * timeouts). Returns 0, or PAPYRA_ECONNECT naming each node's failure.
 */
int papyra__cluster_refresh(papyra_store *s, struct papyra__redis *router);

/*
 * The master (its main connection, unlocked) that serves @p key by the
 * current map. A slot no master serves yet routes to the first master, whose
 * answer (CLUSTERDOWN or MOVED) then says what to do.
 */
struct papyra__redis *papyra__cluster_at(struct papyra__redis *router, const char *key, size_t len);

/* Whether error reply text @p str asks for a redirection; fills @p out. */
papyra__cluster_redir_type
papyra__cluster_parse_redir(const char *str, size_t len, papyra__cluster_redir *out);

/*
 * Acts on redirection @p rd at hop @p hop, before the command is sent again:
 * MOVED refreshes the map and names the new master; ASK names the migrating
 * slot's importing node (*asking set: send ASKING first); TRYAGAIN and
 * CLUSTERDOWN wait a short backoff (and CLUSTERDOWN refreshes the map), for
 * commands marked @p retryable only. Returns 0 with *target set (NULL: route
 * by the map again) when the command may be sent again before @p deadline_ms
 * (monotonic), else a negative code with the store's message unchanged.
 */
int papyra__cluster_follow(papyra_store *s,
                           struct papyra__redis *router,
                           const papyra__cluster_redir *rd,
                           int hop,
                           bool retryable,
                           int64_t deadline_ms,
                           struct papyra__redis **target,
                           bool *asking);

/* Monotonic time in ms. */
int64_t papyra__cluster_mono_ms(void);

#endif /* PAPYRA_REDIS_CLUSTER_H */
