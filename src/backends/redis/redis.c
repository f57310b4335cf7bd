/* SPDX-License-Identifier: MIT */
/*
 * The Redis Streams backend: one stream per record kind,
 * "{prefix}:{system_id}:{events|audits|dead_letters}", one entry per record
 * with a single field `data` holding upstream's JSON text. See
 * docs/backend-redis.md.
 *
 * Reads walk the stream from the newest entry backwards in pages, so `limit`
 * and retention stop the walk early and memory per page stays bounded; scan,
 * repair and compact page forwards through the whole stream.
 */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <math.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <papyra/store.h>

#include "backends/redis/redis-private.h"
#include "core/backend.h"
#include "json/json.h"
#include "record/codec.h"
#include "util/buf.h"
#include "util/fs.h"

/* Frees the backend state of a store that has gone, or never came, up. */
static void
impl_free(papyra__redis *r)
{
    papyra__redis_spares_free(r);
    papyra__redis_config_free(r);
    (void)pthread_mutex_destroy(&r->lock);
    free(r);
}

static int
redis_open(papyra_store *s, const papyra__url *url)
{
    papyra__redis *r = calloc(1, sizeof(*r));
    int rc;

    if (!r)
        return PAPYRA_ENOMEM;
    if (pthread_mutex_init(&r->lock, NULL) != 0) {
        free(r);
        return PAPYRA_ENOMEM;
    }
    if ((rc = papyra__redis_config(s, url, r)) < 0 || (rc = papyra__redis_spares_init(r)) < 0 ||
        (rc = papyra__redis_ensure(s, r)) < 0) {
        impl_free(r);
        return rc;
    }
    s->impl = r;
    return 0;
}

static int
redis_close(papyra_store *s)
{
    papyra__redis *r = s->impl;
    if (!r)
        return 0;
    impl_free(r);
    s->impl = NULL;
    return 0;
}

/*
 * Reports the error reply of record @p i's XADD, naming its stream and, when
 * @p stored of the @p n records of its batch were stored all the same, saying so.
 */
static int
xadd_error(papyra_store *s,
           const papyra__redis *r,
           const papyra_record *records,
           size_t i,
           const redisReply *reply,
           size_t stored,
           size_t n)
{
    char what[512];
    if (stored > 0)
        (void)snprintf(what, sizeof(what),
                       "XADD %s (record %zu; %zu of the batch's %zu records were stored)",
                       r->keys[records[i].kind], i, stored, n);
    else
        (void)snprintf(what, sizeof(what), "XADD %s (record %zu)", r->keys[records[i].kind], i);
    return papyra__redis_reply_error(s, reply, what);
}

/*
 * Checks the replies of a MULTI/XADD.../EXEC pipeline of n records. When
 * the transaction ran but an XADD in it failed (WRONGTYPE), the others were
 * stored all the same: *stored says how many.
 */
static int
check_batch(papyra_store *s,
            const papyra__redis *r,
            const papyra_record *records,
            redisReply **replies,
            size_t n,
            size_t *stored)
{
    const redisReply *exec = replies[n + 1];
    size_t failed = n, ok = 0;

    if (replies[0]->type == REDIS_REPLY_ERROR)
        return papyra__redis_reply_error(s, replies[0], "MULTI");
    for (size_t i = 0; i < n; i++) {
        if (replies[i + 1]->type == REDIS_REPLY_ERROR)
            return xadd_error(s, r, records, i, replies[i + 1], 0, n);
    }
    if (exec->type == REDIS_REPLY_ERROR)
        return papyra__redis_reply_error(s, exec, "EXEC");
    if (exec->type != REDIS_REPLY_ARRAY || exec->elements != n)
        return papyra__store_error(s, PAPYRA_EPROTO, "redis EXEC: transaction discarded");
    for (size_t i = 0; i < n; i++) {
        if (exec->element[i]->type != REDIS_REPLY_ERROR)
            ok++;
        else if (failed == n)
            failed = i;
    }
    if (failed == n)
        return 0;
    *stored = ok;
    return xadd_error(s, r, records, failed, exec->element[failed], ok, n);
}

/* Appends "$<n>\r\n" (the header of a RESP bulk string of n bytes). */
static int
resp_len(papyra_buf *b, char tag, size_t n)
{
    char tmp[24];
    size_t k = sizeof(tmp);
    int rc;

    tmp[--k] = '\n';
    tmp[--k] = '\r';
    do {
        tmp[--k] = (char)('0' + n % 10);
        n /= 10;
    } while (n > 0);
    tmp[--k] = tag;
    if ((rc = papyra__buf_reserve(b, sizeof(tmp) - k)) < 0)
        return rc;
    memcpy(b->data + b->len, tmp + k, sizeof(tmp) - k);
    b->len += sizeof(tmp) - k;
    b->data[b->len] = '\0';
    return 0;
}

/* Appends one RESP bulk string. */
static int
resp_bulk(papyra_buf *b, const char *p, size_t n)
{
    int rc = resp_len(b, '$', n);
    if (rc == 0)
        rc = papyra__buf_append(b, p, n);
    if (rc == 0)
        rc = papyra__buf_append(b, "\r\n", 2);
    return rc;
}

/*
 * The RESP text of "XADD key [MAXLEN ~ n] * data" (the value's bulk string
 * follows), the same for every record of a kind.
 */
static int
xadd_prefix(const papyra__redis *r, papyra_kind kind, papyra_buf *b)
{
    const char *key = r->keys[kind];
    char maxlen[24];
    int rc;

    (void)snprintf(maxlen, sizeof(maxlen), "%" PRId64, r->maxlen);
    rc = resp_len(b, '*', r->maxlen > 0 ? 8 : 5);
    rc = rc ? rc : resp_bulk(b, "XADD", 4);
    rc = rc ? rc : resp_bulk(b, key, strlen(key));
    if (r->maxlen > 0) {
        rc = rc ? rc : resp_bulk(b, "MAXLEN", 6);
        rc = rc ? rc : resp_bulk(b, "~", 1);
        rc = rc ? rc : resp_bulk(b, maxlen, strlen(maxlen));
    }
    rc = rc ? rc : resp_bulk(b, "*", 1);
    rc = rc ? rc : resp_bulk(b, "data", 4);
    return rc;
}

/* Protocol text handed to the socket at a time while a batch is being serialised. */
#define WRITE_CHUNK (16 * 1024)

/*
 * Writes @p n bytes of protocol text to the connection's socket. hiredis
 * writes with write(2), which raises SIGPIPE when the server has gone: a
 * batch being streamed is on the wire for a while, so it is sent here with
 * MSG_NOSIGNAL and a dead server is an error, not a killed process. The
 * replies are read later with redisGetReply() (hiredis's own output buffer
 * stays empty). Returns 0 or an I/O error (the connection is dropped).
 */
static int
send_all(papyra_store *s, papyra__redis *r, const char *what, const char *p, size_t n)
{
    /* TLS: the bytes go through hiredis's context, which encrypts them (conn.c). */
    if (r->tls && papyra__redis_tls_write(r, p, n) < 0)
        return papyra__redis_io_error(s, r, what);
    if (r->tls)
        return 0;
    while (n > 0) {
        ssize_t k = send(r->ctx->fd, p, n, MSG_NOSIGNAL);
        if (k < 0) {
            int e = errno;
            if (e == EINTR)
                continue;
            /* Reported like a hiredis I/O error (EAGAIN: the send timed out). */
            r->ctx->err = REDIS_ERR_IO;
            (void)snprintf(r->ctx->errstr, sizeof(r->ctx->errstr), "%s", strerror(e));
            errno = e;
            return papyra__redis_io_error(s, r, what);
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Sends what @p cmd holds and empties it. */
static int
flush_cmd(papyra_store *s, papyra__redis *r, papyra_buf *cmd)
{
    int rc = send_all(s, r, "XADD", cmd->data, cmd->len);
    cmd->len = 0;
    return rc;
}

/* Reads @p n replies into replies[]; an I/O error drops the connection. */
static int
read_replies(papyra_store *s, papyra__redis *r, size_t n, redisReply **replies)
{
    for (size_t i = 0; i < n; i++) {
        void *reply = NULL;
        if (redisGetReply(r->ctx, &reply) != REDIS_OK || !reply)
            return papyra__redis_io_error(s, r, "XADD");
        replies[i] = reply;
    }
    return 0;
}

/* Serialises record @p i as an XADD appended to @p cmd. */
static int
append_xadd(papyra_store *s,
            const papyra__redis *r,
            const papyra_record *records,
            size_t i,
            papyra_buf *prefix,
            papyra_buf *json,
            papyra_buf *cmd)
{
    papyra_kind kind = records[i].kind;
    int rc;

    json->len = 0;
    /* An unknown kind is refused here too, before it can index prefix[]. */
    if ((rc = papyra__store_encode(s, records, i, PAPYRA_STYLE_JSON, json)) < 0)
        return rc;
    /* An empty JSON text cannot happen: the encoder always writes an object. */
    if (prefix[kind].len == 0)
        rc = xadd_prefix(r, kind, &prefix[kind]);
    rc = rc ? rc : papyra__buf_append(cmd, prefix[kind].data, prefix[kind].len);
    rc = rc ? rc : resp_bulk(cmd, json->data, json->len);
    if (rc < 0)
        return papyra__store_error(s, PAPYRA_ENOMEM, "redis write: out of memory");
    return 0;
}

/*
 * After a write of @p n records that the master acknowledged: WAIT
 * wait_replicas wait_timeout_ms. Fewer replicas, or no answer, is a write
 * error that says the records are stored on the master but may be lost in a
 * failover (docs/backend-redis.md, "Sentinel"). Never retried.
 */
static int
wait_replicas(papyra_store *s, papyra__redis *r, size_t n)
{
    char num[24], ms[24];
    const char *argv[3] = {"WAIT", num, ms};
    redisReply *reply = NULL;
    int rc;

    (void)snprintf(num, sizeof(num), "%" PRId64, r->wait_replicas);
    (void)snprintf(ms, sizeof(ms), "%" PRId64, r->wait_timeout_ms);
    if ((rc = papyra__redis_command(s, r, 0, 3, argv, NULL, &reply)) < 0) {
        char why[512];
        (void)snprintf(why, sizeof(why), "%s", papyra_store_errmsg(s));
        return papyra__store_error(s, rc,
                                   "redis WAIT %s %s: %s; the %zu record%s of this call %s stored "
                                   "on the master, but whether any replica has %s is unknown; "
                                   "the records may be lost in a failover",
                                   num, ms, why, n, n == 1 ? "" : "s", n == 1 ? "is" : "are",
                                   n == 1 ? "it" : "them");
    }
    if (reply->type != REDIS_REPLY_INTEGER) {
        freeReplyObject(reply);
        return papyra__store_error(s, PAPYRA_EPROTO,
                                   "redis WAIT: unexpected reply; the records are stored on the "
                                   "master and may be lost in a failover");
    }
    if (reply->integer < r->wait_replicas) {
        long long got = reply->integer;
        freeReplyObject(reply);
        return papyra__store_error(s, PAPYRA_ETIMEDOUT,
                                   "redis write: stored on the master, acknowledged by %lld of %s "
                                   "replicas within %s ms (wait_replicas, wait_timeout_ms); the "
                                   "%zu record%s may be lost in a failover",
                                   got, num, ms, n, n == 1 ? "" : "s");
    }
    freeReplyObject(reply);
    return 0;
}

/*
 * Writes n records. One record is one XADD; a batch is MULTI, n XADDs and
 * EXEC in one round trip, so it is applied all or nothing. The records are
 * serialised straight into the protocol text, which goes to the socket in
 * WRITE_CHUNK pieces while the rest is serialised (the server queues the
 * first XADDs meanwhile). A record that cannot be serialised fails the call
 * before EXEC is sent: the connection is then dropped, which makes the server
 * discard the transaction, so nothing is written. The connection is checked
 * (and re-established if the server dropped it) before anything is sent; a
 * write that fails on the wire is reported, not retried (a retry could store
 * the records twice).
 */
static int cluster_write(
    papyra_store *s, papyra__redis *router, const papyra_record *records, size_t n, size_t *stored);

static int
redis_write(papyra_store *s, const papyra_record *records, size_t n, size_t *stored)
{
    static const char multi[] = "*1\r\n$5\r\nMULTI\r\n";
    static const char exec[] = "*1\r\n$4\r\nEXEC\r\n";
    papyra__redis *r = NULL;
    papyra_buf cmd = {0}, json = {0};
    papyra_buf prefix[PAPYRA_KIND_MAX] = {{0}};
    redisReply **replies = NULL;
    size_t ncmd = n == 1 ? 1 : n + 2;
    size_t reserve = (n < 64 ? n : 64) * 256 + WRITE_CHUNK;
    bool sent = false;
    int rc = 0;

    if (((papyra__redis *)s->impl)->router)
        return cluster_write(s, s->impl, records, n, stored);
    if (!(replies = calloc(ncmd, sizeof(*replies))) || papyra__buf_reserve(&cmd, reserve) < 0) {
        rc = papyra__store_error(s, PAPYRA_ENOMEM, "redis write: out of memory");
        goto out;
    }
    if ((rc = papyra__redis_acquire_writer(s, s->impl, &r)) < 0)
        goto out;
    if (n > 1 && (rc = papyra__buf_append(&cmd, multi, sizeof(multi) - 1)) < 0) {
        rc = papyra__store_error(s, PAPYRA_ENOMEM, "redis write: out of memory");
        goto unlock;
    }
    for (size_t i = 0; i < n; i++) {
        if ((rc = append_xadd(s, r, records, i, prefix, &json, &cmd)) < 0) {
            /* No EXEC will follow what was sent: closing discards the transaction. */
            if (sent)
                papyra__redis_drop(r);
            goto unlock;
        }
        if (n > 1 && cmd.len >= WRITE_CHUNK) {
            if ((rc = flush_cmd(s, r, &cmd)) < 0)
                goto unlock;
            sent = true;
        }
    }
    if (n > 1 && (rc = papyra__buf_append(&cmd, exec, sizeof(exec) - 1)) < 0) {
        if (sent)
            papyra__redis_drop(r);
        rc = papyra__store_error(s, PAPYRA_ENOMEM, "redis write: out of memory");
        goto unlock;
    }
    if ((rc = flush_cmd(s, r, &cmd)) < 0 || (rc = read_replies(s, r, ncmd, replies)) < 0)
        goto unlock;
    if (ncmd == 1) {
        if (replies[0]->type == REDIS_REPLY_ERROR)
            rc = xadd_error(s, r, records, 0, replies[0], 0, 1);
        else if (replies[0]->type != REDIS_REPLY_STRING)
            rc = papyra__store_error(s, PAPYRA_EPROTO, "redis XADD: unexpected reply");
    } else {
        rc = check_batch(s, r, records, replies, n, stored);
    }
    for (size_t c = 0; c < ncmd; c++)
        papyra__redis_check_readonly(r, replies[c]);
    if (rc == 0 && r->wait_replicas > 0 && (rc = wait_replicas(s, r, n)) < 0)
        *stored = n;
unlock:
    (void)pthread_mutex_unlock(&r->lock);
out:
    if (replies) {
        for (size_t c = 0; c < ncmd; c++)
            freeReplyObject(replies[c]);
    }
    free(replies);
    for (int k = 0; k < PAPYRA_KIND_MAX; k++)
        papyra__buf_free(&prefix[k]);
    papyra__buf_free(&json);
    papyra__buf_free(&cmd);
    return rc;
}

/*
 * A batch written to a cluster (docs/backend-redis.md, "Cluster"): the
 * records are grouped by the slot of their stream's key (one group per kind,
 * kinds that share a slot in one group), each group is one MULTI/EXEC (a
 * plain XADD for a single record) on the master of its slot, and all groups
 * are sent before any reply is read. Each group is all or nothing; the batch
 * as a whole is not. A group is sent again only when its replies prove that
 * none of it was applied (a redirection answered to a plain XADD, or
 * EXECABORT after one): MOVED refreshes the map, ASK sends ASKING first,
 * TRYAGAIN and CLUSTERDOWN wait a short backoff, all within timeout_ms. With
 * wait_replicas, WAIT runs on each connection that wrote, before it is let go.
 */
typedef struct slot_group {
    unsigned slot;
    const char *key; /* the first record's stream key (all share the slot) */
    size_t *idx;     /* the records of the batch in this group, in batch order */
    size_t n;
    papyra_buf cmd;        /* MULTI, the XADDs, EXEC (or one XADD) */
    papyra__redis *target; /* NULL: the master of the slot by the map */
    bool asking;           /* ASKING first (an ASK named target) */
    papyra__redis *c;      /* the connection it goes out on this round */
    redisReply **replies;  /* n + 2 (or 1) of them, + 1 for ASKING */
    bool sent, read;       /* this round */
    bool multi;            /* MULTI/EXEC around it (every group of a batch of 2+) */
    enum { G_PENDING, G_STORED, G_NOT_STORED, G_UNKNOWN, G_PARTIAL } state;
    size_t partial;           /* G_PARTIAL: how many of it were stored */
    papyra__cluster_redir rd; /* the redirection its replies asked for */
    char why[160];            /* and the reply's text */
} slot_group;

static size_t
group_ncmd(const slot_group *g)
{
    return (g->multi ? g->n + 2 : 1) + (g->asking ? 1 : 0);
}

static void
group_free_replies(slot_group *g)
{
    if (!g->replies)
        return;
    for (size_t i = 0; i < g->n + 3; i++) {
        freeReplyObject(g->replies[i]);
        g->replies[i] = NULL;
    }
}

/*
 * Reads group @p g's replies: 0 stored; 1 not applied, redirected (g->rd);
 * else an error with the store's message set and g->state saying what is known.
 */
static int
group_check(papyra_store *s, slot_group *g)
{
    redisReply **rep = g->replies + (g->asking ? 1 : 0);
    const redisReply *redir = NULL;
    char what[256];

    if (!g->multi) {
        if (rep[0]->type == REDIS_REPLY_STRING)
            return 0;
        if (rep[0]->type == REDIS_REPLY_ERROR) {
            if (papyra__redis_set_redir(g->c, rep[0]->str, rep[0]->len) != PAPYRA_CLUSTER_NONE) {
                g->rd = g->c->redir;
                (void)snprintf(g->why, sizeof(g->why), "%.*s", (int)rep[0]->len, rep[0]->str);
                return 1;
            }
            g->state = G_NOT_STORED;
            (void)snprintf(what, sizeof(what), "XADD %s (record %zu)", g->key, g->idx[0]);
            return papyra__redis_reply_error(s, rep[0], what);
        }
        g->state = G_UNKNOWN;
        return papyra__store_error(s, PAPYRA_EPROTO, "redis XADD %s: unexpected reply", g->key);
    }
    for (size_t i = 1; i <= g->n && !redir; i++) {
        if (rep[i]->type == REDIS_REPLY_ERROR &&
            papyra__redis_set_redir(g->c, rep[i]->str, rep[i]->len) != PAPYRA_CLUSTER_NONE)
            redir = rep[i];
    }
    if (rep[0]->type == REDIS_REPLY_ERROR || rep[g->n + 1]->type == REDIS_REPLY_ERROR) {
        /* EXEC refused: the transaction was discarded, nothing of it applied. */
        if (redir) {
            g->rd = g->c->redir;
            (void)snprintf(g->why, sizeof(g->why), "%.*s", (int)redir->len, redir->str);
            return 1;
        }
        g->state = G_NOT_STORED;
        for (size_t i = 1; i <= g->n; i++) {
            if (rep[i]->type == REDIS_REPLY_ERROR) {
                (void)snprintf(what, sizeof(what), "XADD %s (record %zu)", g->key, g->idx[i - 1]);
                return papyra__redis_reply_error(s, rep[i], what);
            }
        }
        return papyra__redis_reply_error(s,
                                         rep[0]->type == REDIS_REPLY_ERROR ? rep[0] : rep[g->n + 1],
                                         rep[0]->type == REDIS_REPLY_ERROR ? "MULTI" : "EXEC");
    }
    if (rep[g->n + 1]->type != REDIS_REPLY_ARRAY || rep[g->n + 1]->elements != g->n) {
        g->state = G_UNKNOWN;
        return papyra__store_error(s, PAPYRA_EPROTO, "redis EXEC: unexpected reply");
    }
    g->partial = 0;
    for (size_t i = 0; i < g->n; i++) {
        if (rep[g->n + 1]->element[i]->type != REDIS_REPLY_ERROR)
            g->partial++;
    }
    if (g->partial == g->n)
        return 0;
    g->state = g->partial ? G_PARTIAL : G_NOT_STORED;
    for (size_t i = 0; i < g->n; i++) {
        if (rep[g->n + 1]->element[i]->type == REDIS_REPLY_ERROR) {
            (void)snprintf(what, sizeof(what), "XADD %s (record %zu)", g->key, g->idx[i]);
            return papyra__redis_reply_error(s, rep[g->n + 1]->element[i], what);
        }
    }
    return PAPYRA_EPROTO;
}

/* Appends "records 0, 3, 5" of group @p g to @p b. */
static void
group_names(papyra_buf *b, const slot_group *g)
{
    (void)papyra__buf_appendf(b, "record%s", g->n == 1 ? "" : "s");
    for (size_t i = 0; i < g->n && i < 16; i++)
        (void)papyra__buf_appendf(b, "%s %zu", i ? "," : "", g->idx[i]);
    if (g->n > 16)
        (void)papyra__buf_appendf(b, ", ... (%zu in all)", g->n);
    (void)papyra__buf_appendf(b, " (%s, slot %u)", g->key, g->slot);
}

/*
 * Rewrites the store's message of a failed cluster batch to say, per slot,
 * which records were stored, which were not, and which may have been.
 */
static void
cluster_write_report(papyra_store *s, int rc, const slot_group *g, int ng, size_t n)
{
    papyra_buf b = {0};
    bool any_stored = false;

    for (int i = 0; i < ng; i++)
        any_stored |= g[i].state == G_STORED || g[i].state == G_PARTIAL;
    if (ng == 1 && !any_stored && g[0].state != G_UNKNOWN)
        return; /* one slot, nothing stored: the message as it is */
    (void)papyra__buf_appendf(&b, "%s; the batch of %zu spans %d slot%s, each all or nothing: ",
                              papyra_store_errmsg(s), n, ng, ng == 1 ? "" : "s");
    for (int i = 0; i < ng; i++) {
        static const char *const what[] = {
            [G_PENDING] = "not stored (not sent)",
            [G_STORED] = "stored",
            [G_NOT_STORED] = "not stored",
            [G_UNKNOWN] = "may or may not be stored (connection lost)",
            [G_PARTIAL] = "partly stored (the transaction ran; the failed XADD was not)",
        };
        (void)papyra__buf_appendf(&b, "%s", i ? "; " : "");
        group_names(&b, &g[i]);
        (void)papyra__buf_appendf(&b, " %s", what[g[i].state]);
    }
    if (b.data)
        (void)papyra__store_error(s, rc, "%s", b.data);
    papyra__buf_free(&b);
}

/* Orders the groups' masters so connections are always taken in one order. */
static int
node_cmp(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (papyra__redis *const *)a,
              y = (uintptr_t) * (papyra__redis *const *)b;
    return x < y ? -1 : x > y;
}

static int
cluster_write(
    papyra_store *s, papyra__redis *router, const papyra_record *records, size_t n, size_t *stored)
{
    static const char multi[] = "*1\r\n$5\r\nMULTI\r\n";
    static const char exec[] = "*1\r\n$4\r\nEXEC\r\n";
    static const char asking[] = "*1\r\n$6\r\nASKING\r\n";
    slot_group g[PAPYRA_KIND_MAX];
    int ng = 0, group_of[PAPYRA_KIND_MAX];
    papyra_buf json = {0};
    papyra_buf prefix[PAPYRA_KIND_MAX] = {{0}};
    int64_t deadline = papyra__cluster_mono_ms() + router->timeout_ms;
    int rc = 0;

    memset(g, 0, sizeof(g));
    for (int k = 0; k < PAPYRA_KIND_MAX; k++)
        group_of[k] = -1;
    /* Groups by slot; an unknown kind is refused by the encoder below. */
    for (size_t i = 0; i < n; i++) {
        int k = (int)records[i].kind;
        if (k < 0 || k >= PAPYRA_KIND_MAX || group_of[k] >= 0)
            continue;
        unsigned slot = papyra__cluster_keyslot(router->keys[k], strlen(router->keys[k]));
        for (int j = 0; j < ng && group_of[k] < 0; j++) {
            if (g[j].slot == slot)
                group_of[k] = j;
        }
        if (group_of[k] < 0) {
            g[ng].slot = slot;
            g[ng].key = router->keys[k];
            group_of[k] = ng++;
        }
    }
    for (int j = 0; j < ng; j++) {
        if (!(g[j].idx = malloc(n * sizeof(size_t))) ||
            !(g[j].replies = calloc(n + 3, sizeof(redisReply *)))) {
            rc = papyra__store_error(s, PAPYRA_ENOMEM, "redis write: out of memory");
            goto out;
        }
    }
    for (size_t i = 0; i < n; i++) {
        int k = (int)records[i].kind;
        slot_group *x;
        if (k < 0 || k >= PAPYRA_KIND_MAX) {
            rc = papyra__store_encode(s, records, i, PAPYRA_STYLE_JSON, &json);
            rc = rc < 0 ? rc : papyra__store_error(s, PAPYRA_EINVAL, "invalid record kind");
            goto out;
        }
        x = &g[group_of[k]];
        if (x->n == 0 && n > 1 && papyra__buf_append(&x->cmd, multi, sizeof(multi) - 1) < 0) {
            rc = papyra__store_error(s, PAPYRA_ENOMEM, "redis write: out of memory");
            goto out;
        }
        x->idx[x->n++] = i;
        if ((rc = append_xadd(s, router, records, i, prefix, &json, &x->cmd)) < 0)
            goto out;
    }
    for (int j = 0; j < ng; j++) {
        /* A group of one record in a batch: MULTI/EXEC all the same (one rule per batch). */
        g[j].multi = n > 1;
        if (n > 1 && papyra__buf_append(&g[j].cmd, exec, sizeof(exec) - 1) < 0) {
            rc = papyra__store_error(s, PAPYRA_ENOMEM, "redis write: out of memory");
            goto out;
        }
    }
    for (int hop = 0; rc == 0; hop++) {
        papyra__redis *nodes[PAPYRA_KIND_MAX], *conns[PAPYRA_KIND_MAX];
        int nn = 0, npending = 0;

        for (int j = 0; j < ng; j++) {
            g[j].c = NULL;
            g[j].sent = g[j].read = false;
            if (g[j].state != G_PENDING)
                continue;
            npending++;
            if (!g[j].target && !(g[j].target = papyra__redis_at(router, g[j].key))) {
                rc = papyra__store_error(s, PAPYRA_ECONNECT, "redis-cluster: no master known");
                break;
            }
        }
        if (rc < 0 || npending == 0)
            break;
        for (int j = 0; j < ng; j++) {
            bool seen = false;
            if (g[j].state != G_PENDING)
                continue;
            for (int m = 0; m < nn; m++)
                seen |= nodes[m] == g[j].target;
            if (!seen)
                nodes[nn++] = g[j].target;
        }
        qsort(nodes, (size_t)nn, sizeof(nodes[0]), node_cmp);
        for (int m = 0; m < nn; m++) {
            if ((rc = papyra__redis_acquire_writer(s, nodes[m], &conns[m])) < 0) {
                for (int q = 0; q < m; q++)
                    (void)pthread_mutex_unlock(&conns[q]->lock);
                nn = 0;
                break;
            }
        }
        if (rc < 0) {
            /* Nothing of this round was sent: after a failover the map tells where to go. */
            if (rc == PAPYRA_ECONNECT && papyra__redis_reroute(s, router, hop, deadline) == 0) {
                for (int j = 0; j < ng; j++) {
                    if (g[j].state == G_PENDING) {
                        g[j].target = NULL;
                        g[j].asking = false;
                    }
                }
                rc = 0;
                continue;
            }
            break;
        }
        /* Send every group, then read every reply. */
        for (int j = 0; j < ng; j++) {
            if (g[j].state != G_PENDING)
                continue;
            for (int m = 0; m < nn; m++) {
                if (nodes[m] == g[j].target)
                    g[j].c = conns[m];
            }
            if (!g[j].c->ctx) {
                g[j].state = G_NOT_STORED;
                continue;
            }
            if (g[j].asking && send_all(s, g[j].c, "ASKING", asking, sizeof(asking) - 1) < 0) {
                g[j].state = G_NOT_STORED;
                rc = rc ? rc : PAPYRA_ECONNECT;
                continue;
            }
            if (send_all(s, g[j].c, "XADD", g[j].cmd.data, g[j].cmd.len) < 0) {
                /* A command cut short is never run; a MULTI without EXEC is discarded. */
                g[j].state = G_UNKNOWN;
                rc = rc ? rc : PAPYRA_EIO;
                continue;
            }
            g[j].sent = true;
        }
        for (int j = 0; j < ng; j++) {
            int grc;
            if (!g[j].sent)
                continue;
            if (!g[j].c->ctx || read_replies(s, g[j].c, group_ncmd(&g[j]), g[j].replies) < 0) {
                g[j].state = G_UNKNOWN;
                rc = rc ? rc : PAPYRA_EIO;
                continue;
            }
            grc = group_check(s, &g[j]);
            for (size_t i = 0; i < group_ncmd(&g[j]); i++)
                papyra__redis_check_readonly(g[j].c, g[j].replies[i]);
            if (grc == 0) {
                g[j].state = G_STORED;
                *stored += g[j].n;
            } else if (grc == 1) {
                g[j].read = true; /* redirected: followed below */
            } else {
                if (g[j].state == G_PARTIAL)
                    *stored += g[j].partial;
                rc = rc ? rc : grc;
            }
        }
        if (rc == 0 && router->wait_replicas > 0) {
            for (int m = 0; m < nn && rc == 0; m++) {
                size_t on = 0;
                for (int j = 0; j < ng; j++) {
                    if (g[j].c == conns[m] && g[j].state == G_STORED && g[j].sent)
                        on += g[j].n;
                }
                if (on > 0)
                    rc = wait_replicas(s, conns[m], on);
            }
        }
        for (int m = 0; m < nn; m++)
            (void)pthread_mutex_unlock(&conns[m]->lock);
        for (int j = 0; j < ng && rc == 0; j++) {
            bool ask = false;
            if (!g[j].read)
                continue;
            group_free_replies(&g[j]);
            if (papyra__cluster_follow(s, router, &g[j].rd, hop, true, deadline, &g[j].target,
                                       &ask) < 0) {
                g[j].state = G_NOT_STORED;
                rc = papyra__store_error(s, PAPYRA_EPROTO,
                                         "redis-cluster XADD %s: %s (still, after %d tries "
                                         "within timeout_ms; nothing of it was applied)",
                                         g[j].key, g[j].why, hop + 1);
                break;
            }
            g[j].asking = ask;
        }
        for (int j = 0; j < ng; j++)
            group_free_replies(&g[j]);
    }
    if (rc < 0)
        cluster_write_report(s, rc, g, ng, n);
out:
    for (int j = 0; j < ng; j++) {
        group_free_replies(&g[j]);
        free(g[j].replies);
        free(g[j].idx);
        papyra__buf_free(&g[j].cmd);
    }
    for (int k = 0; k < PAPYRA_KIND_MAX; k++)
        papyra__buf_free(&prefix[k]);
    papyra__buf_free(&json);
    return rc;
}

/*
 * Whole-stream reads (list and each) take XRANGE/XREVRANGE replies straight
 * from the socket rather than through hiredis's reply objects: a page is
 * read into one buffer, where each entry is parsed in place and its `data`
 * decoded from there (papyra__record_decode_normal() for the normal-form
 * JSON that we and upstream write, the parser for anything else). The
 * requests go out with send_all() and hiredis's reader is left empty, so the
 * connection serves hiredis's commands as before.
 */

/* Bytes read from the socket, one page reply at a time. */
typedef struct page_reader {
    char *buf;
    size_t cap, len; /* [0, len) read */
    size_t pos;      /* where the unconsumed bytes start */
    /* The page read last: n elements from body, the last one at last, up to end. */
    size_t n, body, last, end;
} page_reader;

/* Free room made before every recv(2) of a page. */
#define READ_ROOM (128 * 1024)

/*
 * Reads what the socket holds (waiting up to timeout_ms). An I/O failure
 * is reported like hiredis's own and drops the connection, and so does
 * PAPYRA_ENOMEM, since a reply is then left half read.
 */
static int
rd_fill(papyra_store *s, papyra__redis *r, page_reader *rd, const char *what)
{
    ssize_t k;
    int e;

    if (rd->cap - rd->len < READ_ROOM) {
        size_t ncap = rd->cap ? rd->cap * 2 : 2 * READ_ROOM;
        char *nb;
        while (ncap - rd->len < READ_ROOM)
            ncap *= 2;
        if (!(nb = realloc(rd->buf, ncap))) {
            papyra__redis_drop(r);
            return papyra__store_error(s, PAPYRA_ENOMEM, "redis %s: out of memory", what);
        }
        rd->buf = nb;
        rd->cap = ncap;
    }
#ifdef PAPYRA_HAVE_REDIS_TLS
    /* TLS: read through the context's own function (hiredis 1.x), which decrypts; it returns
     * 0 to be called again (EINTR) and < 0 with the context's error already set. */
    if (r->tls) {
        do {
            k = r->ctx->funcs->read(r->ctx, rd->buf + rd->len, rd->cap - rd->len);
        } while (k == 0);
        if (k > 0) {
            rd->len += (size_t)k;
            return 0;
        }
        return papyra__redis_io_error(s, r, what);
    }
#endif
    do {
        k = recv(r->ctx->fd, rd->buf + rd->len, rd->cap - rd->len, 0);
    } while (k < 0 && errno == EINTR);
    if (k > 0) {
        rd->len += (size_t)k;
        return 0;
    }
    /* Reported like a hiredis I/O error (EAGAIN: the read timed out). */
    e = errno;
    r->ctx->err = k == 0 ? REDIS_ERR_EOF : REDIS_ERR_IO;
    (void)snprintf(r->ctx->errstr, sizeof(r->ctx->errstr), "%s",
                   k == 0 ? "Server closed the connection" : strerror(e));
    errno = k == 0 ? 0 : e;
    return papyra__redis_io_error(s, r, what);
}

/* The "\r\n" that ends the RESP line starting at @p p, or NULL when not all read. */
static const char *
resp_eol(const char *p, const char *end)
{
    const char *q = p < end ? memchr(p, '\r', (size_t)(end - p)) : NULL;
    return q && q + 1 < end ? q : NULL;
}

/* The integer [p, q) of a RESP header; false when it is not one. */
static bool
resp_num(const char *p, const char *q, long long *ret)
{
    bool neg = p < q && *p == '-';
    long long v = 0;

    p += neg;
    if (p == q || q - p > 18)
        return false;
    for (; p < q; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (*p - '0');
    }
    *ret = neg ? -v : v;
    return true;
}

/*
 * Reads the length of a RESP header whose digits start at @p p: returns
 * where its line ends, past "\r\n"; NULL when it is not all read, or with
 * *bad set when it is not a number.
 */
static const char *
resp_header(const char *p, const char *end, long long *ret, bool *bad)
{
    bool neg = p < end && *p == '-';
    long long v = 0;
    int digits = 0;

    for (p += neg; p < end && *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (*p - '0');
        if (++digits > 18) {
            *bad = true;
            return NULL;
        }
    }
    if (end - p < 2)
        return NULL;
    if (digits == 0 || p[0] != '\r' || p[1] != '\n') {
        *bad = true;
        return NULL;
    }
    *ret = neg ? -v : v;
    return p + 2;
}

/* Deepest RESP nesting accepted (an entry is three levels into a page). */
#define RESP_DEPTH 8

/*
 * The end of the RESP value at @p p; NULL when it is not all read yet, or
 * with *bad set when it is not RESP2.
 */
static const char *
resp_skip(const char *p, const char *end, int depth, bool *bad)
{
    const char *q;
    long long n;

    if (p >= end)
        return NULL;
    switch (*p) {
    case '+':
    case '-':
    case ':':
        q = resp_eol(p + 1, end);
        return q ? q + 2 : NULL;
    case '$':
        if (!(q = resp_header(p + 1, end, &n, bad)))
            return NULL;
        if (n < -1) {
            *bad = true;
            return NULL;
        }
        if (n == -1)
            return q;
        if ((size_t)(end - q) < (size_t)n + 2)
            return NULL;
        if (q[n] != '\r' || q[n + 1] != '\n') {
            *bad = true;
            return NULL;
        }
        return q + n + 2;
    case '*':
        if (!(q = resp_header(p + 1, end, &n, bad)))
            return NULL;
        if (n < -1 || depth >= RESP_DEPTH) {
            *bad = true;
            return NULL;
        }
        for (p = q; n > 0 && p; n--)
            p = resp_skip(p, end, depth + 1, bad);
        return p;
    default:
        *bad = true;
        return NULL;
    }
}

/* The bytes of the bulk string at @p p (a complete value): false for another value. */
static bool
resp_bulk_at(const char *p, const char *end, const char **str, size_t *len)
{
    bool bad = false;
    long long n;

    if (*p != '$' || !(p = resp_header(p + 1, end, &n, &bad)) || n < 0)
        return false;
    *str = p;
    *len = (size_t)n;
    return true;
}

/* One stream entry of a page, where it lies in the buffer. */
typedef struct raw_entry {
    /* A well-formed entry, [id, fields-or-nil] (as papyra__redis_entry_ok()). */
    bool ok;
    const char *id;
    size_t idlen;
    /* The last `data` field's value when it is a bulk string, else NULL. */
    const char *data;
    size_t dlen;
} raw_entry;

/*
 * Reads the entry at @p p (resp_skip() found all of it before @p end) the
 * way papyra__redis_entry_ok() and papyra__redis_field() read hiredis's
 * objects; returns where it ends.
 */
static const char *
entry_parse(const char *p, const char *end, raw_entry *e)
{
    const char *q, *k = NULL, *start = p;
    bool bad = false;
    long long n;
    size_t klen = 0;

    e->ok = false;
    e->data = NULL;
    if (*p != '*' || !(q = resp_header(p + 1, end, &n, &bad)) || n != 2)
        return resp_skip(start, end, 0, &bad);
    if (!resp_bulk_at(q, end, &e->id, &e->idlen) || e->idlen >= PAPYRA_REDIS_ID_MAX - 2)
        return resp_skip(start, end, 0, &bad);
    p = e->id + e->idlen + 2;
    e->ok = true;
    if (*p != '*' || !(q = resp_header(p + 1, end, &n, &bad)) || n < 0)
        return resp_skip(p, end, 0, &bad); /* no fields (nil): no data */
    p = q;
    for (long long i = 0; i < n && p; i++) {
        const char *v = NULL;
        size_t vlen = 0;
        bool bulk = resp_bulk_at(p, end, &v, &vlen);

        /* The field names, and the values after them: the last `data` wins. */
        if (i % 2 == 0) {
            k = bulk ? v : NULL;
            klen = vlen;
        } else if (k && klen == 4 && memcmp(k, "data", 4) == 0) {
            e->data = bulk ? v : NULL;
            e->dlen = bulk ? vlen : 0;
        }
        p = bulk ? v + vlen + 2 : resp_skip(p, end, 0, &bad);
    }
    return p;
}

/* Writes "(<id>", the exclusive bound after (or before) entry @p e. */
static void
id_after(char *buf, const raw_entry *e)
{
    buf[0] = '(';
    memcpy(buf + 1, e->id, e->idlen);
    buf[e->idlen + 1] = '\0';
}

/* Copies entry @p e's id into @p buf (PAPYRA_REDIS_ID_MAX bytes). */
static void
id_copy(char *buf, const raw_entry *e)
{
    memcpy(buf, e->id, e->idlen);
    buf[e->idlen] = '\0';
}

/*
 * Reads the reply to one XRANGE/XREVRANGE request into @p rd: 0 with rd->n
 * elements, all read. An error reply (WRONGTYPE) is PAPYRA_EPROTO with the
 * connection still usable; a reply that is not an array, or not RESP2, is
 * PAPYRA_EPROTO with the connection dropped; an I/O failure drops it too.
 */
static int
read_page(papyra_store *s, papyra__redis *r, page_reader *rd, const char *cmd, const char *key)
{
    const char *q;
    long long n;
    size_t off;
    bool bad = false;
    int rc;

    /* The start of this page, read with the last one, goes to the front. */
    if (rd->pos > 0) {
        memmove(rd->buf, rd->buf + rd->pos, rd->len - rd->pos);
        rd->len -= rd->pos;
        rd->pos = 0;
    }
    while (!(rd->len > 0 && (q = resp_eol(rd->buf + 1, rd->buf + rd->len)) != NULL)) {
        if ((rc = rd_fill(s, r, rd, cmd)) < 0)
            return rc;
    }
    if (r->asking && rd->buf[0] == '+') {
        /* The +OK of the ASKING sent before the request (a walk that followed an ASK). */
        size_t k = (size_t)(q + 2 - rd->buf);
        memmove(rd->buf, rd->buf + k, rd->len - k);
        rd->len -= k;
        while (!(rd->len > 0 && (q = resp_eol(rd->buf + 1, rd->buf + rd->len)) != NULL)) {
            if ((rc = rd_fill(s, r, rd, cmd)) < 0)
                return rc;
        }
    }
    if (rd->buf[0] == '-') {
        rd->pos = (size_t)(q + 2 - rd->buf);
        if (r->cluster)
            (void)papyra__redis_set_redir(r, rd->buf + 1, (size_t)(q - rd->buf - 1));
        return papyra__store_error(s, PAPYRA_EPROTO, "redis %s %s: %.*s", cmd, key,
                                   (int)(q - rd->buf - 1), rd->buf + 1);
    }
    if (rd->buf[0] != '*' || !resp_num(rd->buf + 1, q, &n) || n < 0) {
        papyra__redis_drop(r);
        return papyra__store_error(s, PAPYRA_EPROTO, "redis %s %s: unexpected reply type", cmd,
                                   key);
    }
    rd->n = (size_t)n;
    rd->body = rd->last = off = (size_t)(q + 2 - rd->buf);
    for (size_t i = 0; i < rd->n;) {
        const char *x = resp_skip(rd->buf + off, rd->buf + rd->len, 1, &bad);
        if (bad) {
            papyra__redis_drop(r);
            return papyra__store_error(s, PAPYRA_EPROTO, "redis %s %s: malformed reply", cmd, key);
        }
        if (!x) {
            if ((rc = rd_fill(s, r, rd, cmd)) < 0)
                return rc;
            continue;
        }
        rd->last = off;
        off = (size_t)(x - rd->buf);
        i++;
    }
    rd->end = rd->pos = off;
    return 0;
}

/*
 * Sends "XRANGE key a b COUNT n" (or XREVRANGE) without waiting for the
 * reply. Returns 0 or an I/O error (the connection dropped).
 */
static int
send_page_request(papyra_store *s,
                  papyra__redis *r,
                  const char *cmd,
                  const char *key,
                  const char *a,
                  const char *b,
                  long count)
{
    char num[24];
    papyra_buf buf = {0};
    int rc;

    (void)snprintf(num, sizeof(num), "%ld", count);
    rc = r->asking ? papyra__buf_append(&buf, "*1\r\n$6\r\nASKING\r\n", 16) : 0;
    rc = rc ? rc : resp_len(&buf, '*', 6);
    rc = rc ? rc : resp_bulk(&buf, cmd, strlen(cmd));
    rc = rc ? rc : resp_bulk(&buf, key, strlen(key));
    rc = rc ? rc : resp_bulk(&buf, a, strlen(a));
    rc = rc ? rc : resp_bulk(&buf, b, strlen(b));
    rc = rc ? rc : resp_bulk(&buf, "COUNT", 5);
    rc = rc ? rc : resp_bulk(&buf, num, strlen(num));
    if (rc < 0) {
        papyra__buf_free(&buf);
        return papyra__store_error(s, PAPYRA_ENOMEM, "redis %s: out of memory", cmd);
    }
    rc = send_all(s, r, cmd, buf.data, buf.len);
    papyra__buf_free(&buf);
    return rc;
}

/*
 * Asks for a page and reads it, on a live connection (reconnected when
 * needed) and once more on a fresh one after an I/O failure, as every
 * idempotent command (papyra__redis_command()).
 */
static int
fetch_page(papyra_store *s,
           papyra__redis *r,
           page_reader *rd,
           const char *cmd,
           const char *key,
           const char *a,
           const char *b,
           long count)
{
    int rc = PAPYRA_EIO;

    for (int attempt = 0; attempt < 2; attempt++) {
        if ((rc = papyra__redis_ensure(s, r)) < 0)
            continue;
        /* hiredis must hold no unread reply: this one is read from the socket. */
        if (r->ctx->reader && r->ctx->reader->pos != r->ctx->reader->len) {
            papyra__redis_drop(r);
            if ((rc = papyra__redis_ensure(s, r)) < 0)
                continue;
        }
        rd->len = rd->pos = 0;
        if ((rc = send_page_request(s, r, cmd, key, a, b, count)) < 0)
            continue;
        rc = read_page(s, r, rd, cmd, key);
        if (rc == 0 || rc == PAPYRA_ENOMEM || rc == PAPYRA_EPROTO)
            return rc;
    }
    return rc;
}

/* The state of one backward walk of list (or of each, to find where to start). */
typedef struct list_walk {
    papyra_kind kind;
    const papyra__retention *ret;
    papyra__retention_state st;
    const papyra_list_options *opts;
    bool done;
    papyra_record *recs; /* newest first */
    size_t count, cap;
    uint64_t anomalies;
    /* papyra_store_each(): count what list would keep instead of keeping it. */
    bool find_start;
    bool kept;                        /* the entry just handled is kept */
    bool started;                     /* an entry was kept: its id is in from */
    char from[PAPYRA_REDIS_ID_MAX];   /* the id of the oldest entry kept */
    bool has_newest;                  /* the first page's first entry was well formed */
    char newest[PAPYRA_REDIS_ID_MAX]; /* its id */
} list_walk;

/*
 * The record of @p kind an entry holds: 1 with *rec decoded (unless @p rec
 * is NULL: then only its place is wanted) and *len the size of its data, 2
 * for a mistyped record (record/codec.h: *ts set, *rec not), 0 when it holds
 * none (an anomaly counted in @p anomalies, another kind, a record without
 * a timestamp), or PAPYRA_ENOMEM.
 */
static int
entry_record(papyra__redis *r,
             papyra_kind kind,
             const raw_entry *e,
             papyra_record *rec,
             size_t *len,
             double *ts,
             uint64_t *anomalies)
{
    papyra__normal_info info;
    papyra_json *obj = NULL;
    int rc;

    if (!e->data) {
        (*anomalies)++;
        return 0;
    }
    /* What we and upstream write: in normal form, decoded without a parse. */
    if (e->dlen > 0 && e->data[0] == '{' &&
        papyra__json_normal_len(e->data, e->dlen, false, &info) == e->dlen && info.typed) {
        /* Objects of another kind, or without a timestamp, are invisible (as upstream). */
        if (info.kind != (int)kind || !info.has_timestamp)
            return 0;
        *len = e->dlen;
        *ts = info.timestamp;
        if (!rec)
            return 1;
        rc = papyra__record_decode_normal(e->data, e->dlen, &info, r->system_id, rec);
        if (rc <= 0)
            return rc == 0 ? 1 : rc;
    }
    if ((rc = papyra__json_parse(e->data, e->dlen, &obj)) < 0) {
        if (rc == PAPYRA_ENOMEM)
            return rc;
        (*anomalies)++;
        return 0;
    }
    if (papyra__json_type(obj) != PAPYRA_JSON_OBJECT) {
        papyra__json_free(obj);
        (*anomalies)++;
        return 0;
    }
    if (papyra__record_kind_of(obj) != (int)kind) {
        papyra__json_free(obj);
        return 0;
    }
    /*
     * A field our structs cannot hold (record/codec.h): never coerced; 2
     * with its timestamp, for the caller to place in retention and, when it
     * would be listed, to skip as an anomaly.
     */
    if (papyra__record_classify(obj, NULL, 0) == PAPYRA__LINE_MISTYPED) {
        *ts = 0;
        (void)papyra__record_timestamp(obj, ts);
        papyra__json_free(obj);
        *len = e->dlen;
        return 2;
    }
    if (!rec) {
        rc = papyra__record_timestamp(obj, ts) ? 1 : 0;
        papyra__json_free(obj);
        *len = e->dlen;
        return rc;
    }
    memset(rec, 0, sizeof(*rec));
    rc = papyra__record_decode(obj, r->system_id, rec);
    papyra__json_free(obj);
    if (rc == PAPYRA_ENOMEM)
        return rc;
    if (rc < 0)
        return 0;
    *len = e->dlen;
    *ts = papyra__record_time(rec);
    return 1;
}

/* Handles one entry of the backward walk; returns 0 or PAPYRA_ENOMEM. */
static int
list_entry(papyra__redis *r, list_walk *w, const raw_entry *e)
{
    papyra_record rec = {.kind = w->kind};
    size_t len;
    double ts;
    int rc = entry_record(r, w->kind, e, w->find_start ? NULL : &rec, &len, &ts, &w->anomalies);

    w->kept = false;
    if (rc <= 0)
        return rc;
    if (rc == 2) {
        /* Mistyped: a place in retention, an anomaly when it would be listed. */
        int v = papyra__retention_offer(w->ret, &w->st, ts, len);
        w->done = v < 0;
        if (v > 0 && !(w->opts && w->opts->has_since && !(ts >= w->opts->since))) {
            w->anomalies++;
            /* papyra_store_each() starts at or before it, and counts it there. */
            w->kept = w->find_start;
        }
        return 0;
    }

    /* Retention (the rule every backend shares), then since, then limit. */
    switch (papyra__retention_offer(w->ret, &w->st, ts, len)) {
    case 0:
        goto skip;
    case -1:
        goto stop;
    default:
        break;
    }
    if (w->opts && w->opts->has_since && !(ts >= w->opts->since))
        goto skip;
    if (w->find_start) {
        /* papyra_store_each(): only where the records to deliver start. */
        w->count++;
        w->kept = true;
        if (w->opts && w->opts->limit > 0 && w->count >= w->opts->limit)
            w->done = true;
        return 0;
    }
    if (w->count == w->cap) {
        size_t ncap = w->cap ? w->cap * 2 : 64;
        papyra_record *nr = realloc(w->recs, ncap * sizeof(*nr));
        if (!nr) {
            papyra__record_clear(&rec);
            return PAPYRA_ENOMEM;
        }
        w->recs = nr;
        w->cap = ncap;
    }
    w->recs[w->count++] = rec;
    if (w->opts && w->opts->limit > 0 && w->count >= w->opts->limit)
        w->done = true;
    return 0;
stop:
    w->done = true;
skip:
    papyra__record_clear(&rec);
    return 0;
}

/*
 * The lower bound of the walk. Entry ids are insertion times in ms: a record
 * with timestamp >= since was normally inserted after `since`. The bound is
 * only a hint (the record's own timestamp is still checked) and is lowered by
 * a slack for clock skew; it is not used for a `since` in the future, which
 * only records stamped ahead of their insertion could match.
 */
static void
since_bound(const papyra_list_options *opts, char *buf, size_t size)
{
    double now_ms = (double)papyra__redis_now_ms();
    double ms;

    (void)snprintf(buf, size, "-");
    if (!opts || !opts->has_since || !isfinite(opts->since))
        return;
    ms = opts->since * 1000.0 - PAPYRA_REDIS_SINCE_SLACK_MS;
    if (ms <= 0 || opts->since * 1000.0 > now_ms)
        return;
    (void)snprintf(buf, size, "%" PRIu64, (uint64_t)ms);
}

/*
 * How many entries to ask for once @p ahead more may be kept: a page, or
 * what `limit` still wants when that is less (at least
 * PAPYRA_REDIS_LIST_LEAST, since entries that are not kept take their place).
 */
static long
page_count(const list_walk *w, size_t ahead)
{
    const size_t page = PAPYRA_REDIS_LIST_PAGE, least = PAPYRA_REDIS_LIST_LEAST;
    size_t left;

    if (!w->opts || w->opts->limit == 0 || w->count + ahead >= w->opts->limit)
        return (long)page;
    left = w->opts->limit - w->count - ahead;
    return (long)(left >= page ? page : left > least ? left : least);
}

/*
 * The backward walk of list (and of each, to find where to start): pages of
 * XREVRANGE key end start COUNT n from the newest entry down to @p start,
 * every entry handed to list_entry() until the walk is done, the connection
 * held throughout. The request for the next page is sent before the current
 * one is decoded, so the server prepares and sends it meanwhile; not when
 * `limit` may end the walk within the current page (a stop by retention
 * reads at most that one page more).
 */
static int
walk_back(papyra_store *s, papyra__redis *r, const char *key, const char *start, list_walk *w)
{
    page_reader rd = {0};
    char end[PAPYRA_REDIS_ID_MAX] = "+";
    bool pending = false; /* a request for the next page is on the wire */
    bool first = true;
    long asked = 0, next = 0; /* the entries asked for by the page read, by the pending one */
    int rc = 0;

    while (!w->done) {
        const char *p, *stop;
        raw_entry e;

        rc = 1;
        if (pending) {
            pending = false;
            asked = next;
            rc = read_page(s, r, &rd, "XREVRANGE", key);
            if (rc < 0 && rc != PAPYRA_ENOMEM && rc != PAPYRA_EPROTO)
                rc = 1; /* lost on the wire: asked again, as any idempotent command */
        }
        if (rc == 1) {
            asked = page_count(w, 0);
            rc = fetch_page(s, r, &rd, "XREVRANGE", key, end, start, asked);
        }
        if (rc < 0)
            break;
        stop = rd.buf + rd.end;
        if (rd.n == (size_t)asked &&
            !(w->opts && w->opts->limit > 0 && w->count + rd.n >= w->opts->limit)) {
            char after[PAPYRA_REDIS_ID_MAX];
            (void)entry_parse(rd.buf + rd.last, stop, &e);
            if (e.ok) {
                id_after(after, &e);
                next = page_count(w, rd.n);
                pending = send_page_request(s, r, "XREVRANGE", key, after, start, next) == 0;
            }
        }
        p = rd.buf + rd.body;
        for (size_t i = 0; i < rd.n && !w->done && rc == 0; i++) {
            p = entry_parse(p, stop, &e);
            if (first && i == 0 && e.ok) {
                /* The newest entry now: each() delivers nothing appended later. */
                id_copy(w->newest, &e);
                w->has_newest = true;
            }
            if (!e.ok) {
                w->anomalies++;
                continue;
            }
            rc = list_entry(r, w, &e);
            if (w->kept) {
                id_copy(w->from, &e);
                w->started = true;
            }
            id_after(end, &e);
        }
        first = false;
        if (rd.n < (size_t)asked)
            w->done = true; /* a short page is the oldest */
    }
    if (pending) {
        /* The walk stopped early: the connection must not keep a reply nobody reads. */
        if (read_page(s, r, &rd, "XREVRANGE", key) != 0)
            papyra__redis_drop(r);
    }
    free(rd.buf);
    return rc;
}

/* Work done on one connection while it is held (a walk, a page). */
typedef int (*conn_fn)(papyra_store *s, papyra__redis *c, const char *key, void *arg);

/*
 * Runs @p fn on a connection to the master of @p key, held throughout: the
 * store's own connection for a single server; in a cluster a connection of
 * the key's master, and when the answer asks for a redirection (MOVED, ASK,
 * TRYAGAIN, CLUSTERDOWN: reads are idempotent) @p reset undoes what @p fn
 * gathered and it runs again where the redirection says, within timeout_ms.
 */
static int
with_key_conn(papyra_store *s,
              papyra__redis *r,
              const char *key,
              conn_fn fn,
              void *arg,
              void (*reset)(void *arg))
{
    int64_t deadline;
    papyra__redis *target = NULL;
    bool asking = false;
    int rc;

    if (!r->router) {
        (void)pthread_mutex_lock(&r->lock);
        rc = fn(s, r, key, arg);
        (void)pthread_mutex_unlock(&r->lock);
        return rc;
    }
    deadline = papyra__cluster_mono_ms() + r->timeout_ms;
    for (int hop = 0;; hop++) {
        papyra__redis *c = NULL;
        papyra__cluster_redir rd;

        rc = papyra__redis_route_acquire(s, r, key, hop, deadline, &target, &asking, &c);
        if (rc == PAPYRA_REDIS_REROUTED)
            continue;
        if (rc < 0)
            return rc;
        c->asking = asking;
        c->redir.type = PAPYRA_CLUSTER_NONE;
        rc = fn(s, c, key, arg);
        c->asking = false;
        rd = c->redir;
        c->redir.type = PAPYRA_CLUSTER_NONE;
        (void)pthread_mutex_unlock(&c->lock);
        if (rc == PAPYRA_EPROTO && rd.type != PAPYRA_CLUSTER_NONE &&
            papyra__cluster_follow(s, r, &rd, hop, true, deadline, &target, &asking) == 0) {
            if (reset)
                reset(arg);
            continue;
        }
        /* A read whose master went away (a failover?): the map says where it is now. */
        if (rc == PAPYRA_ECONNECT && papyra__redis_reroute(s, r, hop, deadline) == 0) {
            if (reset)
                reset(arg);
            target = NULL;
            asking = false;
            continue;
        }
        return rc;
    }
}

/* A list walk and where it started, so a redirected walk can start again. */
typedef struct walk_job {
    list_walk *w;
    list_walk init;
    const char *start;
} walk_job;

static int
walk_fn(papyra_store *s, papyra__redis *c, const char *key, void *arg)
{
    walk_job *j = arg;
    return walk_back(s, c, key, j->start, j->w);
}

static void
walk_reset(void *arg)
{
    walk_job *j = arg;
    for (size_t i = 0; i < j->w->count && j->w->recs; i++)
        papyra__record_clear(&j->w->recs[i]);
    free(j->w->recs);
    *j->w = j->init;
}

static int
redis_list(papyra_store *s,
           papyra_kind kind,
           const papyra_list_options *opts,
           papyra__list_result *out)
{
    papyra__redis *r = s->impl;
    list_walk w = {.kind = kind, .ret = &s->retention, .opts = opts};
    papyra_record_list *list = NULL;
    char start[PAPYRA_REDIS_ID_MAX];
    const char *key = papyra__redis_key(r, kind);
    int rc;

    if (!key)
        return papyra__store_error(s, PAPYRA_EINVAL, "invalid record kind");
    papyra__retention_begin(&s->retention, &w.st);
    since_bound(opts, start, sizeof(start));
    {
        walk_job job = {.w = &w, .init = w, .start = start};
        rc = with_key_conn(s, r, key, walk_fn, &job, walk_reset);
    }
    if (rc == PAPYRA_ENOMEM)
        (void)papyra__store_error(s, rc, "redis list: out of memory");
    if (rc == 0 && !(list = calloc(1, sizeof(*list))))
        rc = papyra__store_error(s, PAPYRA_ENOMEM, "redis list: out of memory");
    if (rc < 0) {
        for (size_t i = 0; i < w.count; i++)
            papyra__record_clear(&w.recs[i]);
        free(w.recs);
        return rc;
    }
    /* The walk went newest first; callers get oldest to newest. */
    for (size_t i = 0; i < w.count / 2; i++) {
        papyra_record t = w.recs[i];
        w.recs[i] = w.recs[w.count - 1 - i];
        w.recs[w.count - 1 - i] = t;
    }
    list->count = w.count;
    list->records = w.recs;
    out->list = list;
    out->anomalies = w.anomalies;
    return 0;
}

/* Where papyra_store_each() starts: the backward walk, or only the newest entry. */
typedef struct each_start {
    walk_job walk;
    bool cut;
    page_reader *rd;
} each_start;

static int
each_start_fn(papyra_store *s, papyra__redis *c, const char *key, void *arg)
{
    each_start *j = arg;
    list_walk *w = j->walk.w;
    int rc;

    if (j->cut)
        return walk_back(s, c, key, j->walk.start, w);
    /* Only the newest entry now: what is appended later is not delivered. */
    rc = fetch_page(s, c, j->rd, "XREVRANGE", key, "+", j->walk.start, 1);
    if (rc == 0 && j->rd->n > 0) {
        raw_entry e;
        (void)entry_parse(j->rd->buf + j->rd->body, j->rd->buf + j->rd->end, &e);
        if (e.ok) {
            id_copy(w->newest, &e);
            w->has_newest = true;
        }
        w->started = true; /* from the bound on */
    }
    return rc;
}

/* One forward page of papyra_store_each(). */
typedef struct each_page {
    page_reader *rd;
    const char *from, *to;
    long count;
} each_page;

static int
each_page_fn(papyra_store *s, papyra__redis *c, const char *key, void *arg)
{
    each_page *j = arg;
    return fetch_page(s, c, j->rd, "XRANGE", key, j->from, j->to, j->count);
}

/*
 * papyra_store_each(): a backward walk as list's (only when retention's count
 * or size limit, or a limit, can cut older records; otherwise only the newest
 * entry is read) finds the id of the oldest entry list would return; then
 * XRANGE pages forwards from there to the newest entry at the start of the
 * call. The connection is held for one page at a time, never while a record
 * is delivered.
 */
static int
redis_each(papyra_store *s, papyra_kind kind, const papyra_list_options *opts, papyra__each *ev)
{
    papyra__redis *r = s->impl;
    list_walk w = {.kind = kind, .ret = &s->retention, .opts = opts, .find_start = true};
    const long page = PAPYRA_REDIS_LIST_PAGE;
    page_reader rd = {0};
    char lo[PAPYRA_REDIS_ID_MAX], from[PAPYRA_REDIS_ID_MAX], to[PAPYRA_REDIS_ID_MAX] = "+";
    const char *key = papyra__redis_key(r, kind);
    bool cut = s->retention.max_records > 0 || s->retention.max_total_bytes > 0 || opts->limit > 0;
    bool none, stop = false;
    uint64_t ignored = 0, *seen;
    int rc = 0;

    if (!key)
        return papyra__store_error(s, PAPYRA_EINVAL, "invalid record kind");
    papyra__retention_begin(&s->retention, &w.st);
    since_bound(opts, lo, sizeof(lo));
    (void)snprintf(from, sizeof(from), "%s", lo);
    {
        each_start job = {.walk = {.w = &w, .init = w, .start = lo}, .cut = cut, .rd = &rd};
        rc = with_key_conn(s, r, key, each_start_fn, &job, walk_reset);
    }
    if (w.has_newest)
        (void)snprintf(to, sizeof(to), "%s", w.newest);
    if (cut && w.started)
        (void)snprintf(from, sizeof(from), "%s", w.from);
    none = !w.started;
    /*
     * The backward walk passed over exactly the anomalies list would: they
     * are the count, and the forward pages count none again.
     */
    if (cut)
        ev->anomalies += w.anomalies;
    seen = cut ? &ignored : &ev->anomalies;
    while (rc == 0 && !none && !stop) {
        const char *p, *end;

        {
            each_page job = {.rd = &rd, .from = from, .to = to, .count = page};
            rc = with_key_conn(s, r, key, each_page_fn, &job, NULL);
        }
        if (rc < 0)
            break;
        p = rd.buf + rd.body;
        end = rd.buf + rd.end;
        for (size_t i = 0; i < rd.n && !stop && rc == 0; i++) {
            papyra_record rec;
            raw_entry e;
            size_t len;
            double ts;

            p = entry_parse(p, end, &e);
            if (!e.ok) {
                (*seen)++;
                continue;
            }
            id_after(from, &e);
            rc = entry_record(r, kind, &e, &rec, &len, &ts, seen);
            if (rc <= 0)
                continue;
            if ((w.st.has_cutoff && !(ts >= w.st.cutoff)) ||
                (opts->has_since && !(ts >= opts->since))) {
                if (rc == 1)
                    papyra__record_clear(&rec);
                rc = 0;
                continue;
            }
            if (rc == 2) {
                (*seen)++;
                rc = 0;
                continue;
            }
            rc = 0;
            stop = papyra__each_deliver(ev, &rec) != 0;
        }
        if (rd.n < (size_t)page)
            break;
    }
    free(rd.buf);
    for (size_t i = 0; i < w.count && w.recs; i++)
        papyra__record_clear(&w.recs[i]);
    free(w.recs);
    if (rc == PAPYRA_ENOMEM)
        return papyra__store_error(s, rc, "redis list: out of memory");
    return rc < 0 ? rc : 0;
}

/*
 * Makes @p in a file name: characters outside [A-Za-z0-9._:-] become %XX,
 * so different prefixes (a:b and a_b) never share a file. Returns a new
 * string or NULL.
 */
static char *
file_name_escape(const char *in)
{
    char *out = malloc(strlen(in) * 3 + 1), *o = out;

    if (!out)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '.' || *p == '_' || *p == ':' || *p == '-')
            *o++ = (char)*p;
        else
            o += sprintf(o, "%%%02X", *p);
    }
    *o = '\0';
    return out;
}

/*
 * $XDG_STATE_HOME (or ~/.local/state) + "/papyra/redis-<host>-<port>-<db>-<prefix>.metrics";
 * core/store.c creates the directories when it creates the file.
 */
static int
redis_default_metrics_path(papyra_store *s, const papyra__url *url, char **ret)
{
    papyra__redis cfg = {0};
    const char *base = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    char *dir = NULL, *name = NULL, *path = NULL;
    size_t n;
    int rc;

    if ((rc = papyra__redis_config(s, url, &cfg)) < 0)
        goto out;
    if (!home || home[0] != '/') {
        struct passwd *pw = getpwuid(getuid());
        home = pw ? pw->pw_dir : NULL;
    }
    n = 64 + (base ? strlen(base) : 0) + (home ? strlen(home) : 0);
    if (!(dir = malloc(n))) {
        rc = PAPYRA_ENOMEM;
        goto out;
    }
    if (base && base[0] == '/')
        (void)snprintf(dir, n, "%s/papyra", base);
    else if (home && home[0] == '/')
        (void)snprintf(dir, n, "%s/.local/state/papyra", home);
    else {
        *ret = NULL; /* Nowhere to put it: private counters. */
        goto out;
    }
    n = 64 + strlen(cfg.unix_path ? cfg.unix_path : cfg.host) + strlen(cfg.prefix);
    if (!(name = malloc(n))) {
        rc = PAPYRA_ENOMEM;
        goto out;
    }
    if (cfg.unix_path)
        (void)snprintf(name, n, "redis-unix%s-%" PRId64 "-%s", cfg.unix_path, cfg.db, cfg.prefix);
    else
        (void)snprintf(name, n, "redis-%s-%d-%" PRId64 "-%s", cfg.host, cfg.port, cfg.db,
                       cfg.prefix);
    {
        char *escaped = file_name_escape(name);
        free(name);
        name = escaped;
    }
    if (!name) {
        rc = PAPYRA_ENOMEM;
        goto out;
    }
    n = strlen(dir) + strlen(name) + 10;
    if (!(path = malloc(n))) {
        rc = PAPYRA_ENOMEM;
        goto out;
    }
    (void)snprintf(path, n, "%s/%s.metrics", dir, name);
    *ret = path;
out:
    free(dir);
    free(name);
    papyra__redis_config_free(&cfg);
    return rc;
}

const papyra__backend_ops papyra__backend_redis = {
    .name = "redis",
    .id = PAPYRA_BACKEND_REDIS,
    .open = redis_open,
    .close = redis_close,
    .write = redis_write,
    .list = redis_list,
    .each = redis_each,
    .scan = papyra__redis_scan,
    .repair = papyra__redis_repair,
    .compact = papyra__redis_compact,
    .default_metrics_path = redis_default_metrics_path,
    .progress_unit = "entries",
};
