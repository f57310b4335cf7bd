/* SPDX-License-Identifier: MIT */
/*
 * Consumer groups on the Redis backend's streams (include/papyra/redis.h):
 * XGROUP CREATE, XREADGROUP, XCLAIM, XACK and XPENDING. Unlike upstream, an
 * entry that is delivered but cannot be decoded is quarantined and
 * acknowledged, so it does not stay pending forever.
 */
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <papyra/redis.h>

#include "backends/redis/redis-private.h"
#include "core/backend.h"
#include "json/json.h"
#include "record/codec.h"

/* Checks the store and arguments common to every call; returns the backend state. */
static int
check(papyra_store *s, papyra_kind kind, const char *group, papyra__redis **ret)
{
    if (!s)
        return PAPYRA_EINVAL;
    if (s->ops != &papyra__backend_redis)
        return papyra__store_error(s, PAPYRA_EUNSUPPORTED,
                                   "consumer groups need a redis store, not %s", s->ops->name);
    if (atomic_load(&s->closed) || !s->impl)
        return papyra__store_error(s, PAPYRA_ECLOSED, "store is closed");
    if ((unsigned)kind >= PAPYRA_KIND_MAX || !group || !group[0])
        return papyra__store_error(s, PAPYRA_EINVAL, "invalid kind or empty group name");
    *ret = s->impl;
    return 0;
}

PAPYRA_PUBLIC void
papyra_redis_entries_free(papyra_redis_entries *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->count; i++) {
        free(e->entries[i].id);
        papyra__record_clear(&e->entries[i].record);
    }
    free(e->entries);
    free(e);
}

PAPYRA_PUBLIC void
papyra_redis_pending_free(papyra_redis_pending *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_consumers; i++)
        free(p->consumers[i].name);
    free(p->consumers);
    free(p->min_id);
    free(p->max_id);
    free(p);
}

static int
ensure_locked(
    papyra_store *s, papyra__redis *r, const char *key, const char *group, const char *start)
{
    const char *argv[6] = {"XGROUP", "CREATE", key, group, start ? start : "0", "MKSTREAM"};
    redisReply *reply;
    int rc = papyra__redis_command(s, r, PAPYRA_REDIS_RETRY | PAPYRA_REDIS_ERROR_OK, 6, argv, NULL,
                                   &reply);
    if (rc < 0)
        return rc;
    if (reply->type == REDIS_REPLY_ERROR && !strstr(reply->str, "BUSYGROUP"))
        rc = papyra__redis_reply_error(s, reply, "XGROUP CREATE");
    freeReplyObject(reply);
    return rc;
}

PAPYRA_PUBLIC int
papyra_redis_group_ensure(papyra_store *s,
                          papyra_kind kind,
                          const char *group,
                          const char *start_id)
{
    papyra__redis *r = NULL;
    int rc = check(s, kind, group, &r);
    if (rc < 0)
        return rc;
    (void)pthread_mutex_lock(&r->lock);
    rc = ensure_locked(s, r, r->keys[kind], group, start_id);
    (void)pthread_mutex_unlock(&r->lock);
    return rc;
}

/* Decodes one delivered entry; returns 1 when it is malformed, 0 when added, <0 on error. */
static int
decode_entry(papyra__redis *r, const redisReply *e, papyra_redis_entries *out, size_t *cap)
{
    const redisReply *fields = e->element[1];
    const redisReply *d = papyra__redis_field(fields, "data");
    papyra_json *obj = NULL;
    papyra_record rec;
    int rc;

    if (!d || d->type != REDIS_REPLY_STRING || papyra__json_parse(d->str, d->len, &obj) < 0)
        return 1;
    rc = papyra__record_decode(obj, r->system_id, &rec);
    papyra__json_free(obj);
    if (rc == PAPYRA_ENOMEM)
        return rc;
    if (rc < 0)
        return 1;
    if (out->count == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        papyra_redis_entry *ne = realloc(out->entries, ncap * sizeof(*ne));
        if (!ne) {
            papyra__record_clear(&rec);
            return PAPYRA_ENOMEM;
        }
        out->entries = ne;
        *cap = ncap;
    }
    if (!(out->entries[out->count].id = strndup(e->element[0]->str, e->element[0]->len))) {
        papyra__record_clear(&rec);
        return PAPYRA_ENOMEM;
    }
    out->entries[out->count].record = rec;
    out->count++;
    return 0;
}

/*
 * Copies the malformed entries (those with fields; a nil entry was deleted
 * and has nothing to keep) to the quarantine stream and acknowledges them,
 * in one MULTI/EXEC round trip.
 */
static int
quarantine_ack(papyra_store *s,
               papyra__redis *r,
               const char *key,
               const char *group,
               const redisReply **bad,
               size_t nbad)
{
    size_t ncmd = nbad + 3, c = 0;
    papyra__redis_argv *cmds = calloc(ncmd, sizeof(*cmds));
    redisReply **replies = calloc(ncmd, sizeof(*replies));
    char *qkey = papyra__redis_quarantine_key(r, key);
    papyra__redis_argv *ack;
    char stamp[64];
    int rc = 0;

    if (!cmds || !replies || !qkey) {
        rc = papyra__store_error(s, PAPYRA_ENOMEM, "redis: out of memory");
        goto out;
    }
    papyra__redis_stamp(stamp, sizeof(stamp));
    /* MULTI, one XADD per copy, XACK of every bad id, EXEC. */
    rc = papyra__redis_argv_push(&cmds[c++], "MULTI", 5);
    for (size_t i = 0; i < nbad && rc == 0; i++) {
        const redisReply *f = bad[i]->element[1];
        if (f && f->type == REDIS_REPLY_ARRAY)
            rc = papyra__redis_quarantine_argv(&cmds[c++], qkey, key, f, stamp);
    }
    ack = &cmds[c++];
    rc = rc ? rc : papyra__redis_argv_push(ack, "XACK", 4);
    rc = rc ? rc : papyra__redis_argv_push(ack, key, strlen(key));
    rc = rc ? rc : papyra__redis_argv_push(ack, group, strlen(group));
    for (size_t i = 0; i < nbad && rc == 0; i++)
        rc = papyra__redis_argv_push(ack, bad[i]->element[0]->str, bad[i]->element[0]->len);
    rc = rc ? rc : papyra__redis_argv_push(&cmds[c++], "EXEC", 4);
    if (rc < 0) {
        rc = papyra__store_error(s, rc, "redis: out of memory");
        goto out;
    }
    ncmd = c;
    if (papyra__redis_cross_slot(r, key, qkey)) {
        /* Cluster, upstream's key names: copies first, then the XACK (two slots). */
        rc = papyra__redis_copy_then(s, r, ncmd - 3, cmds + 1, ack, "quarantine");
        goto out;
    }
    rc = papyra__redis_pipeline(s, r, ncmd, cmds, replies);
    for (size_t i = 0; rc == 0 && i < ncmd; i++) {
        if (replies[i]->type == REDIS_REPLY_ERROR)
            rc = papyra__redis_reply_error(s, replies[i], "quarantine");
    }
out:
    for (size_t i = 0; replies && i < nbad + 3; i++)
        freeReplyObject(replies[i]);
    papyra__redis_argv_free(cmds, cmds ? (int)(nbad + 3) : 0);
    free(replies);
    free(qkey);
    return rc;
}

/* Turns an array of delivered entries into *ret, quarantining the malformed ones. */
static int
deliver(papyra_store *s,
        papyra__redis *r,
        const char *key,
        const char *group,
        const redisReply *entries,
        papyra_redis_entries **ret)
{
    papyra_redis_entries *out = calloc(1, sizeof(*out));
    const redisReply **bad = NULL;
    size_t cap = 0, nbad = 0;
    int rc = 0;

    if (!out)
        return papyra__store_error(s, PAPYRA_ENOMEM, "redis: out of memory");
    if (entries && entries->type == REDIS_REPLY_ARRAY && entries->elements > 0 &&
        !(bad = calloc(entries->elements, sizeof(*bad))))
        rc = PAPYRA_ENOMEM;
    for (size_t i = 0;
         rc == 0 && entries && entries->type == REDIS_REPLY_ARRAY && i < entries->elements; i++) {
        const redisReply *e = entries->element[i];
        if (!e || e->type != REDIS_REPLY_ARRAY || e->elements != 2 || !e->element[0] ||
            e->element[0]->type != REDIS_REPLY_STRING)
            continue;
        rc = decode_entry(r, e, out, &cap);
        if (rc == 1) {
            bad[nbad++] = e;
            rc = 0;
        }
    }
    if (rc == PAPYRA_ENOMEM)
        rc = papyra__store_error(s, rc, "redis: out of memory");
    if (rc == 0 && nbad > 0)
        rc = quarantine_ack(s, r, key, group, bad, nbad);
    free(bad);
    if (rc < 0) {
        papyra_redis_entries_free(out);
        return rc;
    }
    out->n_quarantined = nbad;
    *ret = out;
    return 0;
}

static void
set_timeout(papyra__redis *r, int64_t ms)
{
    struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};
    if (r->ctx)
        (void)redisSetTimeout(r->ctx, tv);
}

PAPYRA_PUBLIC int
papyra_redis_consume(papyra_store *s,
                     papyra_kind kind,
                     const char *group,
                     const char *consumer,
                     size_t count,
                     int block_ms,
                     const char *read_id,
                     papyra_redis_entries **ret)
{
    papyra__redis *r = NULL;
    char ctext[24], btext[24];
    const char *argv[11];
    redisReply *reply = NULL;
    int argc = 0;
    int rc = check(s, kind, group, &r);

    if (rc < 0)
        return rc;
    if (!consumer || !consumer[0] || !ret)
        return papyra__store_error(s, PAPYRA_EINVAL,
                                   "empty consumer name or no place for the result");
    (void)snprintf(ctext, sizeof(ctext), "%zu", count ? count : 100);
    (void)snprintf(btext, sizeof(btext), "%d", block_ms);
    argv[argc++] = "XREADGROUP";
    argv[argc++] = "GROUP";
    argv[argc++] = group;
    argv[argc++] = consumer;
    argv[argc++] = "COUNT";
    argv[argc++] = ctext;
    if (block_ms >= 0) {
        argv[argc++] = "BLOCK";
        argv[argc++] = btext;
    }
    argv[argc++] = "STREAMS";
    argv[argc++] = r->keys[kind];
    argv[argc++] = read_id ? read_id : ">";

    (void)pthread_mutex_lock(&r->lock);
    rc = ensure_locked(s, r, r->keys[kind], group, "0");
    if (rc == 0 && (rc = papyra__redis_ensure(s, r)) == 0) {
        /* The socket must wait at least as long as the server blocks. */
        set_timeout(r, block_ms == 0 ? 0 : r->timeout_ms + (block_ms > 0 ? block_ms : 0));
        rc = papyra__redis_command(s, r, 0, argc, argv, NULL, &reply);
        set_timeout(r, r->timeout_ms);
    }
    if (rc == 0) {
        /* Reply: nil on timeout, else [[key, [[id, fields], ...]]]. */
        const redisReply *entries = NULL;
        if (reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 &&
            reply->element[0]->type == REDIS_REPLY_ARRAY && reply->element[0]->elements == 2)
            entries = reply->element[0]->element[1];
        rc = deliver(s, r, r->keys[kind], group, entries, ret);
    }
    (void)pthread_mutex_unlock(&r->lock);
    freeReplyObject(reply);
    return rc;
}

PAPYRA_PUBLIC int
papyra_redis_claim(papyra_store *s,
                   papyra_kind kind,
                   const char *group,
                   const char *consumer,
                   int64_t min_idle_ms,
                   const char *const *ids,
                   size_t n_ids,
                   papyra_redis_entries **ret)
{
    papyra__redis *r = NULL;
    char idle[24];
    const char **argv = NULL;
    redisReply *reply = NULL;
    int rc = check(s, kind, group, &r);

    if (rc < 0)
        return rc;
    if (!consumer || !consumer[0] || !ret || (n_ids > 0 && !ids) || min_idle_ms < 0)
        return papyra__store_error(s, PAPYRA_EINVAL, "invalid claim arguments");
    if (n_ids == 0) {
        papyra_redis_entries *out = calloc(1, sizeof(*out));
        if (!out)
            return papyra__store_error(s, PAPYRA_ENOMEM, "redis: out of memory");
        *ret = out;
        return 0;
    }
    if (!(argv = calloc(n_ids + 5, sizeof(*argv))))
        return papyra__store_error(s, PAPYRA_ENOMEM, "redis: out of memory");
    (void)snprintf(idle, sizeof(idle), "%" PRId64, min_idle_ms);
    argv[0] = "XCLAIM";
    argv[1] = r->keys[kind];
    argv[2] = group;
    argv[3] = consumer;
    argv[4] = idle;
    for (size_t i = 0; i < n_ids; i++)
        argv[5 + i] = ids[i];
    (void)pthread_mutex_lock(&r->lock);
    rc = papyra__redis_command(s, r, PAPYRA_REDIS_RETRY, (int)(n_ids + 5), argv, NULL, &reply);
    if (rc == 0)
        rc = deliver(s, r, r->keys[kind], group, reply, ret);
    (void)pthread_mutex_unlock(&r->lock);
    freeReplyObject(reply);
    free(argv);
    return rc;
}

PAPYRA_PUBLIC int
papyra_redis_ack(papyra_store *s,
                 papyra_kind kind,
                 const char *group,
                 const char *const *ids,
                 size_t n_ids,
                 size_t *ret_acked)
{
    papyra__redis *r = NULL;
    const char **argv;
    redisReply *reply = NULL;
    int rc = check(s, kind, group, &r);

    if (rc < 0)
        return rc;
    if (n_ids > 0 && !ids)
        return papyra__store_error(s, PAPYRA_EINVAL, "no ids given");
    if (n_ids == 0) {
        if (ret_acked)
            *ret_acked = 0;
        return 0;
    }
    if (!(argv = calloc(n_ids + 3, sizeof(*argv))))
        return papyra__store_error(s, PAPYRA_ENOMEM, "redis: out of memory");
    argv[0] = "XACK";
    argv[1] = r->keys[kind];
    argv[2] = group;
    for (size_t i = 0; i < n_ids; i++)
        argv[3 + i] = ids[i];
    (void)pthread_mutex_lock(&r->lock);
    rc = papyra__redis_command(s, r, PAPYRA_REDIS_RETRY, (int)(n_ids + 3), argv, NULL, &reply);
    (void)pthread_mutex_unlock(&r->lock);
    if (rc == 0 && reply->type != REDIS_REPLY_INTEGER)
        rc = papyra__store_error(s, PAPYRA_EPROTO, "redis XACK: unexpected reply");
    if (rc == 0 && ret_acked)
        *ret_acked = (size_t)reply->integer;
    freeReplyObject(reply);
    free(argv);
    return rc;
}

static char *
dup_reply_str(const redisReply *x)
{
    if (!x || x->type != REDIS_REPLY_STRING)
        return NULL;
    return strndup(x->str, x->len);
}

static int
parse_pending(const redisReply *reply, papyra_redis_pending *p)
{
    const redisReply *cons;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 4 ||
        reply->element[0]->type != REDIS_REPLY_INTEGER)
        return PAPYRA_EPROTO;
    p->pending = (uint64_t)reply->element[0]->integer;
    if ((reply->element[1]->type == REDIS_REPLY_STRING &&
         !(p->min_id = dup_reply_str(reply->element[1]))) ||
        (reply->element[2]->type == REDIS_REPLY_STRING &&
         !(p->max_id = dup_reply_str(reply->element[2]))))
        return PAPYRA_ENOMEM;
    cons = reply->element[3];
    if (cons->type != REDIS_REPLY_ARRAY || cons->elements == 0)
        return 0;
    if (!(p->consumers = calloc(cons->elements, sizeof(*p->consumers))))
        return PAPYRA_ENOMEM;
    for (size_t i = 0; i < cons->elements; i++) {
        const redisReply *c = cons->element[i];
        if (c->type != REDIS_REPLY_ARRAY || c->elements != 2)
            continue;
        if (!(p->consumers[p->n_consumers].name = dup_reply_str(c->element[0])))
            return PAPYRA_ENOMEM;
        /* Redis sends the count as a bulk string here. */
        if (c->element[1]->type == REDIS_REPLY_STRING)
            p->consumers[p->n_consumers].pending = strtoull(c->element[1]->str, NULL, 10);
        else if (c->element[1]->type == REDIS_REPLY_INTEGER)
            p->consumers[p->n_consumers].pending = (uint64_t)c->element[1]->integer;
        p->n_consumers++;
    }
    return 0;
}

PAPYRA_PUBLIC int
papyra_redis_pending_summary(papyra_store *s,
                             papyra_kind kind,
                             const char *group,
                             papyra_redis_pending **ret)
{
    papyra__redis *r = NULL;
    papyra_redis_pending *p;
    redisReply *reply = NULL;
    const char *argv[3];
    int rc = check(s, kind, group, &r);

    if (rc < 0)
        return rc;
    if (!ret)
        return papyra__store_error(s, PAPYRA_EINVAL, "no place for the summary");
    argv[0] = "XPENDING";
    argv[1] = r->keys[kind];
    argv[2] = group;
    (void)pthread_mutex_lock(&r->lock);
    rc = papyra__redis_command(s, r, PAPYRA_REDIS_RETRY, 3, argv, NULL, &reply);
    (void)pthread_mutex_unlock(&r->lock);
    if (rc < 0)
        return rc;
    if (!(p = calloc(1, sizeof(*p)))) {
        freeReplyObject(reply);
        return papyra__store_error(s, PAPYRA_ENOMEM, "redis: out of memory");
    }
    rc = parse_pending(reply, p);
    freeReplyObject(reply);
    if (rc < 0) {
        papyra_redis_pending_free(p);
        return papyra__store_error(s, rc, "redis XPENDING: %s",
                                   rc == PAPYRA_ENOMEM ? "out of memory" : "unexpected reply");
    }
    *ret = p;
    return 0;
}
