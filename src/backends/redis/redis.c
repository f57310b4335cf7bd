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

/* The state of one backward walk of list(). */
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
    bool kept; /* the entry just handled is kept */
} list_walk;

/*
 * The record of @p kind an entry holds: 1 with *rec decoded and *len the
 * size of its data, 0 when it holds none (an anomaly counted in
 * @p anomalies, another kind, a record that cannot be decoded), or
 * PAPYRA_ENOMEM.
 */
static int
entry_record(papyra__redis *r,
             papyra_kind kind,
             const redisReply *fields,
             papyra_record *rec,
             size_t *len,
             double *ts,
             uint64_t *anomalies)
{
    const redisReply *d = papyra__redis_field(fields, "data");
    papyra_json *obj = NULL;
    int rc;

    if (!d || d->type != REDIS_REPLY_STRING) {
        (*anomalies)++;
        return 0;
    }
    if ((rc = papyra__json_parse(d->str, d->len, &obj)) < 0) {
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
    /* Objects of another kind, or without a timestamp, are invisible (as upstream). */
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
        *len = d->len;
        return 2;
    }
    memset(rec, 0, sizeof(*rec));
    rc = papyra__record_decode(obj, r->system_id, rec);
    papyra__json_free(obj);
    if (rc == PAPYRA_ENOMEM)
        return rc;
    if (rc < 0)
        return 0;
    *len = d->len;
    *ts = papyra__record_time(rec);
    return 1;
}

/* Handles one entry of the backward walk; returns 0 or PAPYRA_ENOMEM. */
static int
list_entry(papyra__redis *r, list_walk *w, const redisReply *fields)
{
    papyra_record rec;
    size_t len;
    double ts;
    int rc = entry_record(r, w->kind, fields, &rec, &len, &ts, &w->anomalies);

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
        papyra__record_clear(&rec);
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
 * Sends XREVRANGE key end start COUNT n without waiting for the reply, so
 * that the server prepares the next page while the current one is decoded.
 * Returns 0, or -1 with the connection dropped.
 */
static int
send_page_request(
    papyra_store *s, papyra__redis *r, const char *key, const char *start, const char *end)
{
    char count[24];
    papyra_buf cmd = {0};
    int rc;

    (void)snprintf(count, sizeof(count), "%d", PAPYRA_REDIS_PAGE);
    rc = resp_len(&cmd, '*', 6);
    rc = rc ? rc : resp_bulk(&cmd, "XREVRANGE", 9);
    rc = rc ? rc : resp_bulk(&cmd, key, strlen(key));
    rc = rc ? rc : resp_bulk(&cmd, end, strlen(end));
    rc = rc ? rc : resp_bulk(&cmd, start, strlen(start));
    rc = rc ? rc : resp_bulk(&cmd, "COUNT", 5);
    rc = rc ? rc : resp_bulk(&cmd, count, strlen(count));
    if (rc == 0 && r->ctx)
        rc = send_all(s, r, "XREVRANGE", cmd.data, cmd.len);
    else
        rc = -1;
    papyra__buf_free(&cmd);
    return rc < 0 ? -1 : 0;
}

/*
 * Reads the page that send_page_request() asked for. An I/O failure drops
 * the connection and returns 1 (the caller fetches the page again, as any
 * idempotent command is retried); an error reply is EPROTO.
 */
static int
recv_page(papyra_store *s, papyra__redis *r, const char *key, redisReply **ret)
{
    void *v = NULL;
    redisReply *reply;

    if (redisGetReply(r->ctx, &v) != REDIS_OK || !v) {
        papyra__redis_drop(r);
        return 1;
    }
    reply = v;
    if (reply->type != REDIS_REPLY_ARRAY) {
        int rc = reply->type == REDIS_REPLY_ERROR
                     ? papyra__redis_reply_error(s, reply, "XREVRANGE")
                     : papyra__store_error(s, PAPYRA_EPROTO,
                                           "redis XREVRANGE %s: unexpected reply type", key);
        freeReplyObject(reply);
        return rc;
    }
    *ret = reply;
    return 0;
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
    char end[PAPYRA_REDIS_ID_MAX] = "+";
    char start[PAPYRA_REDIS_ID_MAX];
    const char *key = papyra__redis_key(r, kind);
    bool pending = false; /* a request for the next page is on the wire */
    int rc = 0;

    if (!key)
        return papyra__store_error(s, PAPYRA_EINVAL, "invalid record kind");
    papyra__retention_begin(&s->retention, &w.st);
    since_bound(opts, start, sizeof(start));

    (void)pthread_mutex_lock(&r->lock);
    while (!w.done) {
        redisReply *page = NULL;
        const redisReply *last;
        if (pending) {
            pending = false;
            rc = recv_page(s, r, key, &page);
        } else {
            rc = 1;
        }
        if (rc == 1)
            rc = papyra__redis_fetch_page(s, r, true, key, start, end, &page);
        if (rc < 0)
            break;
        /*
         * Ask for the next page before decoding this one: the server then
         * works while we decode. Not when `limit` may stop the walk within
         * this page; a stop by retention wastes at most the one page.
         */
        last = page->elements ? page->element[page->elements - 1] : NULL;
        if (page->elements == PAPYRA_REDIS_PAGE && papyra__redis_entry_ok(last) &&
            !(opts && opts->limit > 0 && w.count + page->elements >= opts->limit)) {
            char next[PAPYRA_REDIS_ID_MAX];
            papyra__redis_set_after(next, last->element[0]);
            pending = send_page_request(s, r, key, start, next) == 0;
        }
        for (size_t i = 0; i < page->elements && !w.done && rc == 0; i++) {
            const redisReply *e = page->element[i];
            if (!papyra__redis_entry_ok(e)) {
                w.anomalies++;
                continue;
            }
            rc = list_entry(r, &w, e->element[1]);
            papyra__redis_set_after(end, e->element[0]);
        }
        if (page->elements < PAPYRA_REDIS_PAGE)
            w.done = true;
        freeReplyObject(page);
        if (rc < 0)
            break;
    }
    if (pending) {
        /* The walk stopped early: the connection must not keep a reply nobody reads. */
        void *v = NULL;
        if (redisGetReply(r->ctx, &v) != REDIS_OK || !v)
            papyra__redis_drop(r);
        freeReplyObject(v);
    }
    (void)pthread_mutex_unlock(&r->lock);
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

/* Copies entry id @p idrep into @p buf (PAPYRA_REDIS_ID_MAX bytes). */
static void
set_id(char *buf, const redisReply *idrep)
{
    (void)snprintf(buf, PAPYRA_REDIS_ID_MAX, "%.*s", (int)idrep->len, idrep->str);
}

/*
 * papyra_store_each(): a backward walk as list's (only when retention's count
 * or size limit, or a limit, can cut older records) finds the id of the
 * oldest entry list would return; then XRANGE pages forwards from there to
 * the newest entry at the start of the call. The connection is held for one
 * page at a time, never while a record is delivered.
 */
static int
redis_each(papyra_store *s, papyra_kind kind, const papyra_list_options *opts, papyra__each *ev)
{
    papyra__redis *r = s->impl;
    list_walk w = {.kind = kind, .ret = &s->retention, .opts = opts, .find_start = true};
    char lo[PAPYRA_REDIS_ID_MAX], from[PAPYRA_REDIS_ID_MAX];
    char to[PAPYRA_REDIS_ID_MAX] = "+", end[PAPYRA_REDIS_ID_MAX] = "+";
    const char *key = papyra__redis_key(r, kind);
    bool cut = s->retention.max_records > 0 || s->retention.max_total_bytes > 0 || opts->limit > 0;
    bool first = true, none = false, stop = false, started = false;
    uint64_t ignored = 0, *seen;
    int rc = 0;

    if (!key)
        return papyra__store_error(s, PAPYRA_EINVAL, "invalid record kind");
    papyra__retention_begin(&s->retention, &w.st);
    since_bound(opts, lo, sizeof(lo));
    (void)snprintf(from, sizeof(from), "%s", lo);
    (void)pthread_mutex_lock(&r->lock);
    while (!w.done) {
        redisReply *page = NULL;
        size_t n;

        rc = papyra__redis_fetch_page(s, r, true, key, lo, end, &page);
        if (rc < 0)
            break;
        n = page->elements;
        if (first) {
            /* The newest entry now: what is appended later is not delivered. */
            if (n > 0 && papyra__redis_entry_ok(page->element[0]))
                set_id(to, page->element[0]->element[0]);
            none = n == 0;
            first = false;
            if (!cut)
                w.done = true;
        }
        for (size_t i = 0; i < n && !w.done && rc == 0; i++) {
            const redisReply *e = page->element[i];
            if (!papyra__redis_entry_ok(e)) {
                w.anomalies++;
                continue;
            }
            rc = list_entry(r, &w, e->element[1]);
            if (w.kept) {
                set_id(from, e->element[0]);
                started = true;
            }
            papyra__redis_set_after(end, e->element[0]);
        }
        if (n < PAPYRA_REDIS_PAGE)
            w.done = true;
        freeReplyObject(page);
    }
    (void)pthread_mutex_unlock(&r->lock);
    if (cut && !started)
        none = true;
    /*
     * The backward walk passed over exactly the anomalies list would: they
     * are the count, and the forward pages count none again.
     */
    if (cut)
        ev->anomalies += w.anomalies;
    seen = cut ? &ignored : &ev->anomalies;
    while (rc == 0 && !none && !stop) {
        redisReply *page = NULL;
        size_t n;

        (void)pthread_mutex_lock(&r->lock);
        rc = papyra__redis_fetch_page(s, r, false, key, from, to, &page);
        (void)pthread_mutex_unlock(&r->lock);
        if (rc < 0)
            break;
        n = page->elements;
        for (size_t i = 0; i < n && !stop && rc == 0; i++) {
            const redisReply *e = page->element[i];
            papyra_record rec;
            size_t len;
            double ts;

            if (!papyra__redis_entry_ok(e)) {
                (*seen)++;
                continue;
            }
            papyra__redis_set_after(from, e->element[0]);
            rc = entry_record(r, kind, e->element[1], &rec, &len, &ts, seen);
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
        freeReplyObject(page);
        if (n < PAPYRA_REDIS_PAGE)
            break;
    }
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
