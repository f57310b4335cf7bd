/* SPDX-License-Identifier: MIT */
/*
 * Scan, repair (XDEL, quarantine) and compaction (XTRIM) of the Redis
 * backend's streams. Each pages forwards (or, to apply a size limit,
 * backwards) through a whole stream, PAPYRA_REDIS_PAGE entries at a time, so
 * memory stays bounded however long the stream is.
 */
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <papyra/store.h>

#include "backends/redis/redis-private.h"
#include "core/backend.h"
#include "json/json.h"
#include "record/codec.h"

/* Whether @p found reports an anomaly in stream @p key. */
static bool
reported(const papyra_scan_report *found, const char *key)
{
    for (size_t i = 0; found && i < found->count; i++) {
        if (found->anomalies[i].path && strcmp(found->anomalies[i].path, key) == 0)
            return true;
    }
    return false;
}

/* The entries of every stream, or of those @p only reports anomalies in. */
static int
xlen_sum(papyra_store *s, papyra__redis *r, const papyra_scan_report *only, uint64_t *ret)
{
    uint64_t sum = 0;
    for (int k = 0; k < PAPYRA_KIND_MAX; k++) {
        const char *argv[2] = {"XLEN", r->keys[k]};
        redisReply *reply;
        int rc;

        if (only && !reported(only, r->keys[k]))
            continue;
        rc = papyra__redis_command(s, r, PAPYRA_REDIS_RETRY, 2, argv, NULL, &reply);
        if (rc < 0)
            return rc;
        if (reply->type == REDIS_REPLY_INTEGER && reply->integer > 0)
            sum += (uint64_t)reply->integer;
        freeReplyObject(reply);
    }
    *ret = sum;
    return 0;
}

/*
 * Tells the progress reporter how many entries the streams hold (those that
 * @p only reports, unless NULL), when it listens.
 */
static int
progress_total(papyra_store *s, papyra__redis *r, const papyra_scan_report *only)
{
    uint64_t n;
    int rc;

    if (!papyra__progress_wanted())
        return 0;
    if ((rc = xlen_sum(s, r, only, &n)) == 0)
        papyra__progress_total(n);
    return rc;
}

/* Pages forwards through every stream, reporting each malformed entry. */
int
papyra__redis_scan(papyra_store *s, papyra_scan_report **ret)
{
    papyra__redis *r = s->impl;
    papyra_scan_report *rep = NULL;
    int rc = 0;

    if (papyra__scan_report_new("redis", &rep) < 0)
        return papyra__store_error(s, PAPYRA_ENOMEM, "redis scan: out of memory");
    (void)pthread_mutex_lock(&r->lock);
    rc = progress_total(s, r, NULL);
    for (int k = 0; k < PAPYRA_KIND_MAX && rc == 0; k++) {
        char start[PAPYRA_REDIS_ID_MAX] = "-";
        bool more = true;
        while (more && rc == 0) {
            redisReply *page;
            if ((rc = papyra__redis_fetch_page(s, r, false, r->keys[k], start, "+", &page)) < 0)
                break;
            papyra__progress_add(page->elements);
            for (size_t i = 0; i < page->elements && rc == 0; i++) {
                const redisReply *e = page->element[i];
                const char *problem;
                char why[160], detail[256];
                if (!papyra__redis_entry_ok(e))
                    continue;
                problem = papyra__redis_entry_problem(e->element[1]);
                if (problem) {
                    rc = papyra__scan_report_add(rep, PAPYRA_ANOMALY_CORRUPTED_LINE, r->keys[k],
                                                 problem);
                } else if (papyra__redis_entry_mistyped(e->element[1], why, sizeof(why))) {
                    snprintf(detail, sizeof(detail), "Entry %.*s: %s", (int)e->element[0]->len,
                             e->element[0]->str, why);
                    rc = papyra__scan_report_add(rep, PAPYRA_ANOMALY_MISTYPED_RECORD, r->keys[k],
                                                 detail);
                }
                papyra__redis_set_after(start, e->element[0]);
            }
            more = page->elements == PAPYRA_REDIS_PAGE;
            freeReplyObject(page);
        }
    }
    (void)pthread_mutex_unlock(&r->lock);
    if (rc == PAPYRA_ENOMEM)
        (void)papyra__store_error(s, rc, "redis scan: out of memory");
    if (rc < 0) {
        papyra_scan_report_free(rep);
        return rc;
    }
    *ret = rep;
    return 0;
}

/*
 * Removes (and with @p qkey first copies) the bad entries of one page, in a
 * MULTI/EXEC transaction so that no entry is deleted without its copy.
 * Returns the number of entries removed, or an error.
 */
static int
purge_page(papyra_store *s,
           papyra__redis *r,
           const char *key,
           const char *qkey,
           const char *stamp,
           const redisReply *page,
           size_t *removed)
{
    size_t nbad = 0, ncmd, c = 0;
    papyra__redis_argv *cmds;
    redisReply **replies;
    int rc = 0;

    for (size_t i = 0; i < page->elements; i++) {
        const redisReply *e = page->element[i];
        if (papyra__redis_entry_ok(e) && papyra__redis_entry_problem(e->element[1]))
            nbad++;
    }
    *removed = 0;
    if (nbad == 0)
        return 0;
    ncmd = (qkey ? nbad : 0) + 3; /* MULTI, [XADD...], XDEL, EXEC */
    cmds = calloc(ncmd, sizeof(*cmds));
    replies = calloc(ncmd, sizeof(*replies));
    if (!cmds || !replies) {
        free(replies);
        papyra__redis_argv_free(cmds, 0);
        return PAPYRA_ENOMEM;
    }
    rc = papyra__redis_argv_push(&cmds[c++], "MULTI", 5);
    papyra__redis_argv *del = &cmds[ncmd - 2];
    if (rc == 0)
        rc = papyra__redis_argv_push(del, "XDEL", 4);
    if (rc == 0)
        rc = papyra__redis_argv_push(del, key, strlen(key));
    for (size_t i = 0; i < page->elements && rc == 0; i++) {
        const redisReply *e = page->element[i];
        if (!papyra__redis_entry_ok(e) || !papyra__redis_entry_problem(e->element[1]))
            continue;
        rc = papyra__redis_argv_push(del, e->element[0]->str, e->element[0]->len);
        if (!qkey || rc < 0)
            continue;
        rc = papyra__redis_quarantine_argv(&cmds[c++], qkey, key, e->element[1], stamp);
    }
    if (rc == 0)
        rc = papyra__redis_argv_push(&cmds[ncmd - 1], "EXEC", 4);
    if (rc == 0 && qkey && papyra__redis_cross_slot(r, key, qkey)) {
        /* Cluster, upstream's key names: the copies and the XDEL live in two slots, so
         * no transaction holds both; the copies go first, the XDEL only once they are in. */
        rc = papyra__redis_copy_then(s, r, nbad, cmds + 1, del, "quarantine");
        goto done;
    }
    if (rc == 0)
        rc = papyra__redis_pipeline(s, r, ncmd, cmds, replies);
    if (rc == 0) {
        const redisReply *exec = replies[ncmd - 1];
        for (size_t i = 0; i < ncmd - 1 && rc == 0; i++) {
            if (replies[i]->type == REDIS_REPLY_ERROR)
                rc = papyra__redis_reply_error(s, replies[i], "quarantine");
        }
        if (rc == 0 && exec->type == REDIS_REPLY_ERROR)
            rc = papyra__redis_reply_error(s, exec, "EXEC");
        else if (rc == 0 && (exec->type != REDIS_REPLY_ARRAY || exec->elements != ncmd - 2))
            rc = papyra__store_error(s, PAPYRA_EPROTO, "redis EXEC: transaction discarded");
        for (size_t i = 0; rc == 0 && i < exec->elements; i++) {
            if (exec->element[i]->type == REDIS_REPLY_ERROR)
                rc = papyra__redis_reply_error(s, exec->element[i], "quarantine");
        }
    }
done:
    if (rc == 0)
        *removed = nbad;
    for (size_t i = 0; i < ncmd; i++)
        freeReplyObject(replies[i]);
    free(replies);
    papyra__redis_argv_free(cmds, (int)ncmd);
    if (rc == PAPYRA_ENOMEM)
        (void)papyra__store_error(s, rc, "redis: out of memory");
    return rc;
}

/* Pages through @p key removing (and optionally quarantining) malformed entries. */
static int
purge_stream(papyra_store *s, papyra__redis *r, const char *key, const char *qkey, size_t *total)
{
    char start[PAPYRA_REDIS_ID_MAX] = "-";
    char stamp[64];
    bool more = true;
    int rc = 0;

    papyra__redis_stamp(stamp, sizeof(stamp));
    *total = 0;
    while (more && rc == 0) {
        redisReply *page;
        size_t removed = 0;
        if ((rc = papyra__redis_fetch_page(s, r, false, key, start, "+", &page)) < 0)
            break;
        papyra__progress_add(page->elements);
        if (page->elements > 0 && papyra__redis_entry_ok(page->element[page->elements - 1]))
            papyra__redis_set_after(start, page->element[page->elements - 1]->element[0]);
        more = page->elements == PAPYRA_REDIS_PAGE;
        rc = purge_page(s, r, key, qkey, stamp, page, &removed);
        *total += removed;
        freeReplyObject(page);
    }
    return rc;
}

int
papyra__redis_repair(papyra_store *s,
                     const papyra_recovery_options *opts,
                     const papyra_scan_report *found,
                     papyra_recovery_report *report)
{
    papyra__redis *r = s->impl;
    papyra_recovery_mode mode = opts ? opts->mode : PAPYRA_RECOVER_IGNORE;
    int rc = 0;

    if (mode == PAPYRA_RECOVER_IGNORE)
        return 0;
    (void)pthread_mutex_lock(&r->lock);
    rc = progress_total(s, r, found);
    for (int k = 0; k < PAPYRA_KIND_MAX && rc == 0; k++) {
        char *qkey = NULL;
        size_t removed = 0;
        if (!reported(found, r->keys[k]))
            continue;
        if (mode == PAPYRA_RECOVER_QUARANTINE &&
            !(qkey = papyra__redis_quarantine_key(r, r->keys[k]))) {
            rc = papyra__store_error(s, PAPYRA_ENOMEM, "redis repair: out of memory");
            break;
        }
        rc = purge_stream(s, r, r->keys[k], qkey, &removed);
        if (rc == 0 && removed > 0) {
            rc = papyra__strv_add(&report->repaired, &report->n_repaired, r->keys[k]);
            if (rc == 0 && qkey)
                rc = papyra__strv_add(&report->quarantined, &report->n_quarantined, qkey);
            if (rc < 0)
                (void)papyra__store_error(s, rc, "redis repair: out of memory");
        }
        free(qkey);
    }
    (void)pthread_mutex_unlock(&r->lock);
    return rc;
}

static int
xtrim(papyra_store *s,
      papyra__redis *r,
      const char *key,
      const char *how,
      const char *arg,
      uint64_t *trimmed)
{
    const char *argv[4] = {"XTRIM", key, how, arg};
    redisReply *reply;
    int rc = papyra__redis_command(s, r, PAPYRA_REDIS_RETRY, 4, argv, NULL, &reply);
    if (rc == 0) {
        /* XTRIM answers how many entries it deleted. */
        if (reply->type == REDIS_REPLY_INTEGER && reply->integer > 0)
            *trimmed += (uint64_t)reply->integer;
        freeReplyObject(reply);
    }
    return rc;
}

/*
 * Applies retention physically, exactly as reads apply it: walks back from
 * the newest entry offering each visible record of @p kind to the shared rule
 * (papyra__retention_offer()), and trims everything older than the oldest
 * record it keeps (XTRIM MINID), or the whole stream when it keeps none. So a
 * compaction never changes what a read returns; records hidden by age but
 * newer than the oldest kept one stay until they fall off the end.
 */
static int
trim_retention(papyra_store *s, papyra__redis *r, papyra_kind kind, uint64_t *trimmed)
{
    const char *key = r->keys[kind];
    char end[PAPYRA_REDIS_ID_MAX] = "+";
    char keep[PAPYRA_REDIS_ID_MAX] = "";
    papyra__retention_state st;
    bool over = false;
    int rc = 0;

    papyra__retention_begin(&s->retention, &st);
    for (;;) {
        redisReply *page;
        size_t n;
        if ((rc = papyra__redis_fetch_page(s, r, true, key, "-", end, &page)) < 0)
            return rc;
        for (size_t i = 0; i < page->elements && !over; i++) {
            const redisReply *e = page->element[i];
            const redisReply *d;
            papyra_json *obj = NULL;
            double ts;
            bool visible;
            if (!papyra__redis_entry_ok(e))
                continue;
            papyra__redis_set_after(end, e->element[0]);
            d = papyra__redis_field(e->element[1], "data");
            if (!d || d->type != REDIS_REPLY_STRING || papyra__json_parse(d->str, d->len, &obj) < 0)
                continue;
            visible =
                papyra__record_kind_of(obj) == (int)kind && papyra__record_timestamp(obj, &ts);
            papyra__json_free(obj);
            if (!visible)
                continue;
            switch (papyra__retention_offer(&s->retention, &st, ts, d->len)) {
            case 1:
                (void)snprintf(keep, sizeof(keep), "%.*s", (int)e->element[0]->len,
                               e->element[0]->str);
                break;
            case -1:
                over = true;
                break;
            default:
                break;
            }
        }
        n = page->elements;
        freeReplyObject(page);
        if (over || n < PAPYRA_REDIS_PAGE)
            break;
    }
    if (keep[0] == '\0')
        return xtrim(s, r, key, "MAXLEN", "0", trimmed);
    return xtrim(s, r, key, "MINID", keep, trimmed);
}

static int
compact_locked(papyra_store *s,
               papyra__redis *r,
               papyra_compaction_report *ret,
               uint64_t *anomalies,
               uint64_t *removed)
{
    const papyra__retention *ret_pol = &s->retention;
    uint64_t before, after;
    int rc;

    if ((rc = xlen_sum(s, r, NULL, &before)) < 0)
        return rc;
    papyra__progress_total(before);
    for (int k = 0; k < PAPYRA_KIND_MAX; k++) {
        const char *key = r->keys[k];
        size_t purged = 0;
        if ((rc = purge_stream(s, r, key, NULL, &purged)) < 0)
            return rc;
        *anomalies += purged;
        if (papyra__retention_any(ret_pol) &&
            (rc = trim_retention(s, r, (papyra_kind)k, removed)) < 0)
            return rc;
    }
    if ((rc = xlen_sum(s, r, NULL, &after)) < 0)
        return rc;
    ret->backend = "redis";
    ret->before_records = before;
    ret->after_records = after;
    ret->before_bytes = -1;
    ret->after_bytes = -1;
    return 0;
}

int
papyra__redis_compact(papyra_store *s,
                      papyra_compaction_report *ret,
                      uint64_t *anomalies,
                      uint64_t *removed)
{
    papyra__redis *r = s->impl;
    papyra_compaction_report rep = {0};
    uint64_t dropped = 0, trimmed = 0;
    int rc;

    (void)pthread_mutex_lock(&r->lock);
    rc = compact_locked(s, r, &rep, &dropped, &trimmed);
    (void)pthread_mutex_unlock(&r->lock);
    if (rc < 0)
        return rc;
    *anomalies = dropped;
    *removed = trimmed;
    *ret = rep;
    return 0;
}
