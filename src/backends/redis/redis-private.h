/* SPDX-License-Identifier: MIT */
/*
 * Shared state of the Redis Streams backend: the connection settings parsed
 * from the store URL, the hiredis context and the helpers that run commands
 * on it. Only the files of src/backends/redis/ built with hiredis (redis.c,
 * conn.c, groups.c, maint.c, sentinel.c, cluster.c, hosts.c) include this
 * header.
 *
 * Every use of a context happens under its connection's mutex, because a
 * hiredis context is not thread-safe and a store handle may be shared by
 * several threads. Writes from threads at the same time use spare
 * connections (URL parameter `connections`), so they overlap on the wire.
 */
#ifndef PAPYRA_REDIS_PRIVATE_H
#define PAPYRA_REDIS_PRIVATE_H

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <papyra/record.h>

#include "backends/redis/cluster.h"
#include "backends/redis/sentinel.h"
#include "core/backend.h"

/* Entries fetched per XRANGE/XREVRANGE call: bounds the memory of a page. */
#define PAPYRA_REDIS_PAGE 1000

/* Entries per XRANGE/XREVRANGE page of list and each (docs/backend-redis.md, "Reads"). */
#ifndef PAPYRA_REDIS_LIST_PAGE
#define PAPYRA_REDIS_LIST_PAGE 3000
#endif

/* Fewest entries a page of list asks for when `limit` wants fewer than a page. */
#define PAPYRA_REDIS_LIST_LEAST 100

/* Commands sent per pipelined round trip by repair and the test fillers. */
#define PAPYRA_REDIS_PIPELINE_MAX 1000

/* Slack, in ms, subtracted from a `since` bound before it becomes a stream id. */
#define PAPYRA_REDIS_SINCE_SLACK_MS 300000

/* Most connections one store handle may open (URL parameter `connections`). */
#define PAPYRA_REDIS_CONNECTIONS_MAX 64

/* Largest `maxlen`: 10^12 entries per stream (docs/backend-redis.md). */
#define PAPYRA_REDIS_MAXLEN_MAX INT64_C(1000000000000)

/* Largest `timeout_ms` and `connect_timeout_ms`: one hour. */
#define PAPYRA_REDIS_TIMEOUT_MS_MAX INT64_C(3600000)

/* Largest `wait_replicas` (WAIT numreplicas). */
#define PAPYRA_REDIS_WAIT_REPLICAS_MAX 1000

/*
 * One connection and the settings it connects with. The store's own
 * papyra__redis owns the settings and serves every operation; its spares,
 * opened only when threads write at the same time, borrow its settings
 * (shallow copies of its pointers) and serve writes only.
 */
typedef struct papyra__redis {
    pthread_mutex_t lock;
    redisContext *ctx;            /* NULL when not connected (or after a failure). */
    struct papyra__redis *spares; /* connections - 1 of them; NULL in a spare */
    int nspares;
    atomic_uint next_spare; /* where a writer that found all busy waits next */
    int64_t retry_after_ms; /* a spare that failed to connect rests until then */
    char *host;             /* TCP host, or NULL for a Unix socket. */
    int port;
    char *unix_path; /* Unix socket path, or NULL. */
    int64_t db;
    char *user;     /* ACL user name (Redis 6+), or NULL. */
    char *password; /* NULL: no AUTH. */
    char *prefix;
    char *system_id;
    int64_t maxlen; /* 0: XADD without MAXLEN. */
    int64_t connect_timeout_ms;
    int64_t timeout_ms;
    int64_t connections;         /* 1 + nspares */
    char *keys[PAPYRA_KIND_MAX]; /* "{prefix}:{system_id}:{events|audits|dead_letters}" */
    /* rediss://: the hiredis redisSSLContext every connection of the store shakes hands with
     * (owned by the store's own papyra__redis, borrowed by its spares); NULL for plain TCP. */
    void *tls;
    /* redis-sentinel:// only (NULL otherwise; borrowed by spares): the sentinels to ask. */
    papyra__sentinel *sentinel;
    char master_host[PAPYRA_SENTINEL_HOST_MAX]; /* this connection's master, as last found */
    int master_port;
    int64_t wait_replicas;   /* 0: no WAIT after a write */
    int64_t wait_timeout_ms; /* WAIT's timeout */
    /* redis-cluster:// only (NULL otherwise; borrowed by the masters and their spares). */
    papyra__cluster *cluster;
    bool router;  /* the store's own papyra__redis of a cluster: routes, never connects */
    bool hashtag; /* key_layout=hashtag: "{prefix:system_id}:events" etc. */
    bool asking;  /* send ASKING before each command (a walk that followed an ASK) */
    papyra__cluster_redir redir; /* the redirection the last error reply on it asked for */
} papyra__redis;

/*
 * The connection (unlocked) that serves @p key: @p r itself, or in a cluster
 * the master that serves the key's slot by the current map.
 */
papyra__redis *papyra__redis_at(papyra__redis *r, const char *key);

/*
 * Records in r->redir the redirection error reply @p str asks for (the
 * answering node's host when the reply names none); returns its type.
 */
papyra__cluster_redir_type papyra__redis_set_redir(papyra__redis *r, const char *str, size_t len);

/*
 * In a cluster, after a master could not be reached with nothing sent yet
 * (hop @p hop of a call that must end by @p deadline, monotonic ms): waits a
 * short backoff and reads the slot map again, since a failover may have
 * moved the master's slots. Returns 0 to route the call again, else -1 with
 * the connection error left as the store's message.
 */
int papyra__redis_reroute(papyra_store *s, papyra__redis *router, int hop, int64_t deadline);

/* papyra__redis_route_acquire() rerouted: try the hop again. */
#define PAPYRA_REDIS_REROUTED 1

/*
 * One hop of a call routed in a cluster: locks a connection (as
 * papyra__redis_acquire_writer()) of *target, or when NULL of the master
 * that serves @p key, into *ret. Returns 0, PAPYRA_REDIS_REROUTED when that
 * master could not be reached and papyra__redis_reroute() read the map again
 * (*target and *asking are then reset: route by the new map), or an error
 * (ECONNECT "no master known" when the map names none).
 */
int papyra__redis_route_acquire(papyra_store *s,
                                papyra__redis *router,
                                const char *key,
                                int hop,
                                int64_t deadline,
                                papyra__redis **target,
                                bool *asking,
                                papyra__redis **ret);

/*
 * Takes a connection of master @p node for a command or a walk: the main one
 * or a free spare, else waits for one; connected. Returns 0 (unlock
 * (*ret)->lock when done) or the connection error, nothing locked.
 */
#define papyra__redis_acquire(s, node, ret) papyra__redis_acquire_writer((s), (node), (ret))

/*
 * Writes @p n bytes of protocol text through a TLS connection's own functions
 * (hiredis's output buffer and redisBufferWrite()), with SIGPIPE held back so a
 * server that has gone is an error, not a killed process. Returns 0 or -1 with
 * the context's err/errstr set.
 */
int papyra__redis_tls_write(papyra__redis *r, const char *p, size_t n);

/* Flags of papyra__redis_command(). */
enum {
    /* The command is idempotent: retry once on a fresh connection after an I/O error. */
    PAPYRA_REDIS_RETRY = 1u << 0,
    /* Hand an error reply back to the caller instead of turning it into EPROTO. */
    PAPYRA_REDIS_ERROR_OK = 1u << 1,
};

/* Parses the URL into r (zeroed by the caller); EINVAL with a message on bad input. */
int papyra__redis_config(papyra_store *s, const papyra__url *url, papyra__redis *r);

/* Frees what papyra__redis_config() and the connection allocated. */
void papyra__redis_config_free(papyra__redis *r);

/*
 * Sets up the spare connections papyra__redis_config() asked for (none is
 * connected yet). Returns 0 or PAPYRA_ENOMEM.
 */
int papyra__redis_spares_init(papyra__redis *r);

/* Closes and frees the spares. */
void papyra__redis_spares_free(papyra__redis *r);

/*
 * Finds a connection for a write and sets *ret to it, locked and connected:
 * the store's own when it is free, else a free spare, else it waits for one
 * (spares in turn, since the store's own may be held by a long scan). Spares
 * connect on first use; one that cannot connect rests for a second and the
 * write waits for the store's own connection instead. Returns 0 (unlock
 * (*ret)->lock when done) or the store's connection error, nothing locked.
 */
int papyra__redis_acquire_writer(papyra_store *s, papyra__redis *r, papyra__redis **ret);

/* Makes sure r->ctx is a live, authenticated connection on the right db. */
int papyra__redis_ensure(papyra_store *s, papyra__redis *r);

/* Closes the connection; the next papyra__redis_ensure() reconnects. */
void papyra__redis_drop(papyra__redis *r);

/*
 * Runs one command. On success *ret is the reply (freeReplyObject()). An I/O
 * failure drops the connection and returns EIO/ECONNECT/ETIMEDOUT; an error
 * reply returns EPROTO with the server's text in the store's message (unless
 * PAPYRA_REDIS_ERROR_OK).
 */
int papyra__redis_command(papyra_store *s,
                          papyra__redis *r,
                          unsigned flags,
                          int argc,
                          const char **argv,
                          const size_t *lens,
                          redisReply **ret);

/*
 * Drops the connection when @p reply is a READONLY error (the server became
 * a replica in a failover), so that the next call finds the master again.
 */
void papyra__redis_check_readonly(papyra__redis *r, const redisReply *reply);

/* Maps a failed context to a PAPYRA_E* code and sets the store's message. */
int papyra__redis_io_error(papyra_store *s, papyra__redis *r, const char *what);

/* Sets the store's message from an error reply and returns PAPYRA_EPROTO. */
int papyra__redis_reply_error(papyra_store *s, const redisReply *reply, const char *what);

/* The stream key of a kind, or NULL. */
const char *papyra__redis_key(const papyra__redis *r, papyra_kind kind);

/*
 * Looks up field @p name in a stream entry's field array (RESP2 flat list of
 * names and values); the last occurrence wins, like upstream's dict. Returns
 * the value element or NULL.
 */
const redisReply *papyra__redis_field(const redisReply *fields, const char *name);

/*
 * Checks one stream entry the way upstream's scan does: returns NULL when the
 * `data` field holds a JSON object, else the anomaly's detail text (static).
 */
const char *papyra__redis_entry_problem(const redisReply *fields);

/*
 * Whether a well-formed entry holds a record with a field of the wrong type
 * (record/codec.h, PAPYRA__LINE_MISTYPED): kept by repair, reported by scan;
 * @p why gets the field and the types.
 */
bool papyra__redis_entry_mistyped(const redisReply *fields, char *why, size_t whylen);

/* A growing, binary-safe argv of one command. */
typedef struct papyra__redis_argv {
    int argc, cap;
    const char **argv;
    size_t *lens;
} papyra__redis_argv;

/* Appends one argument (not copied: it must outlive the command). */
int papyra__redis_argv_push(papyra__redis_argv *a, const char *p, size_t n);

/* Frees an array of @p n argvs and the array itself. */
void papyra__redis_argv_free(papyra__redis_argv *a, int n);

/*
 * Sends the @p n commands @p cmds in one round trip and reads the n replies
 * into replies[] (all set to NULL on failure). Error replies are returned as
 * they are; the caller checks each. Returns 0 or an I/O error (the
 * connection is dropped).
 */
int papyra__redis_pipeline(papyra_store *s,
                           papyra__redis *r,
                           size_t n,
                           const papyra__redis_argv *cmds,
                           redisReply **replies);

/* Whether keys @p a and @p b are in two slots of a cluster (false off a cluster). */
bool papyra__redis_cross_slot(const papyra__redis *r, const char *a, const char *b);

/*
 * For a cluster, where a quarantine copy and the removal it precedes live in
 * two slots: runs the @p ncopy commands @p copies (XADDs to the quarantine
 * stream) and, only once every one is answered without error, the command
 * @p then (XDEL or XACK). An entry is never removed without its copy; a
 * failure between the two leaves a copy of an entry that is still there.
 * Returns 0 or the error (the store's message names @p what).
 */
int papyra__redis_copy_then(papyra_store *s,
                            papyra__redis *r,
                            size_t ncopy,
                            const papyra__redis_argv *copies,
                            const papyra__redis_argv *then,
                            const char *what);

/* "{prefix}:{system_id}:quarantine:{key with ':' -> '_'}", malloc'd; NULL on OOM. */
char *papyra__redis_quarantine_key(const papyra__redis *r, const char *key);

/*
 * Builds the XADD that copies an entry's fields @p f (of stream @p key) to
 * the quarantine stream @p qkey: source, then every field (data "" first
 * when there is none), then timestamp @p stamp, as upstream writes it.
 */
int papyra__redis_quarantine_argv(papyra__redis_argv *a,
                                  const char *qkey,
                                  const char *key,
                                  const redisReply *f,
                                  const char *stamp);

/* Upstream's quarantine stamp, str(time.time()). */
void papyra__redis_stamp(char *buf, size_t size);

/* Longest stream id text: two 20-digit numbers, '-', '(' and NUL. */
#define PAPYRA_REDIS_ID_MAX 48

/* Whether a reply element is a well-formed stream entry: [id, fields-or-nil]. */
bool papyra__redis_entry_ok(const redisReply *e);

/* Writes "(<id>)", the exclusive bound after (or before) entry id @p idrep. */
void papyra__redis_set_after(char *buf, const redisReply *idrep);

/*
 * Fetches one page (PAPYRA_REDIS_PAGE entries) of @p key: XRANGE key from to
 * (forward) or XREVRANGE key to from (backward). An error reply (such as
 * WRONGTYPE) and a reply that is not an array are errors.
 */
int papyra__redis_fetch_page(papyra_store *s,
                             papyra__redis *r,
                             bool backward,
                             const char *key,
                             const char *from,
                             const char *to,
                             redisReply **ret);

/* The scan, repair and compact operations (maint.c). */
int papyra__redis_scan(papyra_store *s, papyra_scan_report **ret);
int papyra__redis_repair(papyra_store *s,
                         const papyra_recovery_options *opts,
                         const papyra_scan_report *found,
                         papyra_recovery_report *report);
int papyra__redis_compact(papyra_store *s,
                          papyra_compaction_report *ret,
                          uint64_t *anomalies,
                          uint64_t *removed);

/* Current wall-clock time in ms. */
int64_t papyra__redis_now_ms(void);

/*
 * How one URL form names its node list in error messages: redis-sentinel://
 * and redis-cluster:// parse "host[:port],host[:port]" (a host may be
 * "[v6]") with papyra__redis_parse_hostlist(), each with its own words.
 */
typedef struct papyra__redis_hostlist {
    const char *scheme;  /* "redis-cluster": starts every message as "<scheme> URL: " */
    const char *empty;   /* after "empty ": "node address in the seed list" */
    const char *plural;  /* after "more than <max> ": "seed nodes" */
    const char *item;    /* one address, as in "bad port in seed '...'" */
    const char *no_host; /* "no host" (or "no (or too long a) host" with host_max) */
    size_t host_max;     /* a host of host_max bytes or more is refused; 0: no limit */
    int max;             /* most addresses in the list */
    int default_port;    /* for an address without ":port" */
} papyra__redis_hostlist;

/*
 * Parses the comma-separated list [@p p, @p end) into hosts[] (strdup'ed,
 * the caller frees them) and ports[], from index *count on, counting them in
 * *count. Returns 0, PAPYRA_EINVAL (message set, naming the address) or
 * PAPYRA_ENOMEM.
 */
int papyra__redis_parse_hostlist(papyra_store *s,
                                 const papyra__redis_hostlist *form,
                                 const char *p,
                                 const char *end,
                                 int *count,
                                 char **hosts,
                                 int *ports);

/*
 * Splits the @p n bytes at @p p, "host[:port]" or "[v6][:port]": the host is
 * [*hs, *he) and *colon the ':' before the port (NULL: none). Returns -1 for
 * a '[' without its ']', else 0.
 */
int papyra__redis_split_hostport(
    const char *p, size_t n, const char **hs, const char **he, const char **colon);

/* Parses the @p n decimal digits at @p p as a TCP port 1..65535 into *ret; -1 if not one. */
int papyra__redis_parse_port(const char *p, size_t n, int *ret);

#endif /* PAPYRA_REDIS_PRIVATE_H */
