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
#include <sys/stat.h>
#include <unistd.h>

#include <papyra/store.h>

#include "backend.h"
#include "buf.h"
#include "fsutil.h"
#include "json.h"
#include "record-codec.h"
#include "redis-private.h"

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
    if ((rc = papyra__redis_config(s, url, r)) < 0 || (rc = papyra__redis_ensure(s, r)) < 0) {
        papyra__redis_config_free(r);
        (void)pthread_mutex_destroy(&r->lock);
        free(r);
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
    papyra__redis_config_free(r);
    (void)pthread_mutex_destroy(&r->lock);
    free(r);
    s->impl = NULL;
    return 0;
}

/* Reports the error reply of record @p i's XADD, naming its stream. */
static int
xadd_error(papyra_store *s,
           const papyra__redis *r,
           const papyra_record *records,
           size_t i,
           const redisReply *reply)
{
    char what[512];
    (void)snprintf(what, sizeof(what), "XADD %s (record %zu)", r->keys[records[i].kind], i);
    return papyra__redis_reply_error(s, reply, what);
}

/* Checks the replies of a MULTI/XADD.../EXEC pipeline of n records. */
static int
check_batch(papyra_store *s,
            const papyra__redis *r,
            const papyra_record *records,
            redisReply **replies,
            size_t n)
{
    const redisReply *exec = replies[n + 1];
    if (replies[0]->type == REDIS_REPLY_ERROR)
        return papyra__redis_reply_error(s, replies[0], "MULTI");
    for (size_t i = 0; i < n; i++) {
        if (replies[i + 1]->type == REDIS_REPLY_ERROR)
            return xadd_error(s, r, records, i, replies[i + 1]);
    }
    if (exec->type == REDIS_REPLY_ERROR)
        return papyra__redis_reply_error(s, exec, "EXEC");
    if (exec->type != REDIS_REPLY_ARRAY || exec->elements != n)
        return papyra__store_error(s, PAPYRA_EPROTO, "redis EXEC: transaction discarded");
    for (size_t i = 0; i < n; i++) {
        if (exec->element[i]->type == REDIS_REPLY_ERROR)
            return xadd_error(s, r, records, i, exec->element[i]);
    }
    return 0;
}

/*
 * Writes n records. One record is one XADD; a batch is MULTI, n XADDs and
 * EXEC sent in one round trip, so it is applied all or nothing. Before
 * anything is sent the connection is checked and re-established if the
 * server dropped it; a write that fails on the wire is reported, not retried
 * (a retry could store the records twice).
 */
static int
redis_write(papyra_store *s, const papyra_record *records, size_t n)
{
    papyra__redis *r = s->impl;
    papyra_buf buf = {0};
    size_t *off = NULL;
    int *argcs = NULL;
    const char **argvs = NULL;
    size_t *lens = NULL;
    const char ***argvp = NULL;
    const size_t **lensp = NULL;
    redisReply **replies = NULL;
    char maxlen[24];
    size_t ncmd = n == 1 ? 1 : n + 2;
    int rc = 0;

    (void)snprintf(maxlen, sizeof(maxlen), "%" PRId64, r->maxlen);
    if (!(off = malloc((n + 1) * sizeof(*off))) || !(argcs = calloc(ncmd, sizeof(*argcs))) ||
        !(argvs = calloc(ncmd * 8, sizeof(*argvs))) || !(lens = calloc(ncmd * 8, sizeof(*lens))) ||
        !(argvp = calloc(ncmd, sizeof(*argvp))) || !(lensp = calloc(ncmd, sizeof(*lensp))) ||
        !(replies = calloc(ncmd, sizeof(*replies)))) {
        rc = papyra__store_error(s, PAPYRA_ENOMEM, "redis write: out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        off[i] = buf.len;
        if ((int)records[i].kind < 0 || records[i].kind >= PAPYRA_KIND_MAX) {
            rc = papyra__store_error(s, PAPYRA_EINVAL, "record %zu: invalid kind", i);
            goto out;
        }
        if ((rc = papyra__record_encode(&records[i], PAPYRA_STYLE_JSON, &buf)) < 0) {
            (void)papyra__store_error(s, rc, "record %zu cannot be serialised", i);
            goto out;
        }
    }
    off[n] = buf.len;

    /* Build the commands now that buf.data no longer moves. */
    for (size_t c = 0; c < ncmd; c++) {
        const char **a = &argvs[c * 8];
        size_t *l = &lens[c * 8];
        int k = 0;
        argvp[c] = a;
        lensp[c] = l;
        if (ncmd > 1 && (c == 0 || c == ncmd - 1)) {
            a[k++] = c == 0 ? "MULTI" : "EXEC";
        } else {
            size_t i = ncmd > 1 ? c - 1 : c;
            a[k++] = "XADD";
            a[k++] = r->keys[records[i].kind];
            if (r->maxlen > 0) {
                a[k++] = "MAXLEN";
                a[k++] = "~";
                a[k++] = maxlen;
            }
            a[k++] = "*";
            a[k++] = "data";
            a[k] = buf.data + off[i];
            l[k] = off[i + 1] - off[i];
            k++;
        }
        for (int j = 0; j < k; j++) {
            if (!l[j])
                l[j] = strlen(a[j]);
        }
        /* An empty JSON text cannot happen: the encoder always writes an object. */
        argcs[c] = k;
    }

    (void)pthread_mutex_lock(&r->lock);
    rc = papyra__redis_pipeline(s, r, ncmd, argcs, (const char *const *const *)argvp, lensp,
                                replies);
    if (rc == 0) {
        if (ncmd == 1) {
            if (replies[0]->type == REDIS_REPLY_ERROR)
                rc = xadd_error(s, r, records, 0, replies[0]);
            else if (replies[0]->type != REDIS_REPLY_STRING)
                rc = papyra__store_error(s, PAPYRA_EPROTO, "redis XADD: unexpected reply");
        } else {
            rc = check_batch(s, r, records, replies, n);
        }
    }
    (void)pthread_mutex_unlock(&r->lock);

out:
    if (replies) {
        for (size_t c = 0; c < ncmd; c++)
            freeReplyObject(replies[c]);
    }
    free(replies);
    free(lensp);
    free(argvp);
    free(lens);
    free(argvs);
    free(argcs);
    free(off);
    papyra__buf_free(&buf);
    return rc;
}

static double
record_ts(const papyra_record *rec)
{
    switch (rec->kind) {
    case PAPYRA_KIND_EVENT:
        return rec->u.event.timestamp;
    case PAPYRA_KIND_AUDIT:
        return rec->u.audit.timestamp;
    default:
        return rec->u.dead_letter.timestamp;
    }
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
} list_walk;

/* Handles one entry of the backward walk; returns 0 or PAPYRA_ENOMEM. */
static int
list_entry(papyra__redis *r, list_walk *w, const redisReply *fields)
{
    const redisReply *d = papyra__redis_field(fields, "data");
    papyra_json *obj = NULL;
    papyra_record rec;
    double ts;
    int rc;

    if (!d || d->type != REDIS_REPLY_STRING) {
        w->anomalies++;
        return 0;
    }
    if ((rc = papyra__json_parse(d->str, d->len, &obj)) < 0) {
        if (rc == PAPYRA_ENOMEM)
            return rc;
        w->anomalies++;
        return 0;
    }
    if (papyra__json_type(obj) != PAPYRA_JSON_OBJECT) {
        papyra__json_free(obj);
        w->anomalies++;
        return 0;
    }
    /* Objects of another kind, or without a timestamp, are invisible (as upstream). */
    if (papyra__record_kind_of(obj) != (int)w->kind) {
        papyra__json_free(obj);
        return 0;
    }
    rc = papyra__record_decode(obj, r->system_id, &rec);
    papyra__json_free(obj);
    if (rc == PAPYRA_ENOMEM)
        return rc;
    if (rc < 0)
        return 0;
    ts = record_ts(&rec);

    /* Retention (the rule every backend shares), then since, then limit. */
    switch (papyra__retention_offer(w->ret, &w->st, ts, d->len)) {
    case 0:
        goto skip;
    case -1:
        goto stop;
    default:
        break;
    }
    if (w->opts && w->opts->has_since && !(ts >= w->opts->since))
        goto skip;
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
    int rc = 0;

    if (!key)
        return papyra__store_error(s, PAPYRA_EINVAL, "invalid record kind");
    papyra__retention_begin(&s->retention, &w.st);
    since_bound(opts, start, sizeof(start));

    (void)pthread_mutex_lock(&r->lock);
    while (!w.done) {
        redisReply *page;
        if ((rc = papyra__redis_fetch_page(s, r, true, key, start, end, &page)) < 0)
            break;
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

/* Creates every missing directory of @p dir (mode 0700, like other state dirs). */
static int
mkdir_p(char *dir)
{
    for (char *p = dir + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
                *p = c;
                return -1;
            }
            *p = c;
            if (c == '\0')
                return 0;
        }
    }
}

static void
sanitize(char *p)
{
    for (; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            *p = '_';
    }
}

/*
 * $XDG_STATE_HOME (or ~/.local/state) + "/papyra/redis-<host>-<port>-<db>-<prefix>.metrics",
 * creating the directories; metrics=PATH wins when given.
 */
static int
redis_default_metrics_path(papyra_store *s, const papyra__url *url, char **ret)
{
    papyra__redis cfg = {0};
    const char *explicit = papyra__url_param(url, "metrics");
    const char *base = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    char *dir = NULL, *name = NULL, *path = NULL;
    size_t n;
    int rc;

    if (explicit && strcmp(explicit, "none") != 0) {
        *ret = strdup(explicit);
        return *ret ? 0 : PAPYRA_ENOMEM;
    }
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
    sanitize(name);
    if (mkdir_p(dir) != 0) {
        rc = papyra__store_error(s, papyra__errno_code(errno),
                                 "cannot create metrics directory %s: %s", dir, strerror(errno));
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
    .scan = papyra__redis_scan,
    .repair = papyra__redis_repair,
    .compact = papyra__redis_compact,
    .default_metrics_path = redis_default_metrics_path,
};
