/* SPDX-License-Identifier: MIT */
/*
 * The in-process backend: one array per record kind.
 *
 * Records are kept encoded, as the line the JSON-lines backend would write
 * (without the newline), so that a record is validated and normalised the
 * same way by every backend, a list returns the same text for the same
 * input, and max_total_bytes means the same number: the size of a record is
 * that line's length plus one for the newline.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"
#include "json/json.h"
#include "record/codec.h"
#include "util/buf.h"

typedef struct mem_entry {
    char *line;
    size_t len; /* without the newline */
    double timestamp;
} mem_entry;

typedef struct mem_kind {
    mem_entry *v;
    size_t n, cap;
} mem_kind;

typedef struct mem_store {
    pthread_mutex_t mu;
    mem_kind kinds[PAPYRA_KIND_MAX];
} mem_store;

static int
mem_open(papyra_store *s, const papyra__url *url)
{
    mem_store *m;
    int r;

    if (url->path[0] != '\0')
        return papyra__store_error(s, PAPYRA_EINVAL, "memory: takes no path (got '%s')", url->path);
    r = papyra__url_check(s, url, NULL);
    if (r < 0)
        return r;
    m = calloc(1, sizeof(*m));
    if (!m)
        return papyra__store_error(s, PAPYRA_ENOMEM, "out of memory");
    pthread_mutex_init(&m->mu, NULL);
    s->impl = m;
    return 0;
}

static int
mem_close(papyra_store *s)
{
    mem_store *m = s->impl;
    size_t k, i;

    if (!m)
        return 0;
    for (k = 0; k < PAPYRA_KIND_MAX; k++) {
        for (i = 0; i < m->kinds[k].n; i++)
            free(m->kinds[k].v[i].line);
        free(m->kinds[k].v);
    }
    pthread_mutex_destroy(&m->mu);
    free(m);
    s->impl = NULL;
    return 0;
}

static void
free_entries(mem_entry *e, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        free(e[i].line);
    free(e);
}

/* Encodes every record first, so that a batch is stored whole or not at all. */
static int
mem_write(papyra_store *s, const papyra_record *records, size_t n, size_t *stored)
{
    mem_store *m = s->impl;
    papyra_buf b = {0};
    mem_entry *e = calloc(n, sizeof(*e));
    size_t i, k, need[PAPYRA_KIND_MAX] = {0};
    int r = e ? 0 : PAPYRA_ENOMEM;

    for (i = 0; r == 0 && i < n; i++) {
        papyra__buf_reset(&b);
        r = papyra__store_encode(s, records, i, PAPYRA_STYLE_JSON, &b);
        if (r < 0)
            break;
        e[i].len = b.len;
        e[i].timestamp = papyra__record_time(&records[i]);
        e[i].line = papyra__buf_steal(&b);
        if (!e[i].line)
            r = PAPYRA_ENOMEM;
        else
            need[records[i].kind]++;
    }
    papyra__buf_free(&b);
    if (r < 0) {
        free_entries(e, n);
        return r == PAPYRA_ENOMEM ? papyra__store_error(s, r, "out of memory") : r;
    }
    pthread_mutex_lock(&m->mu);
    for (k = 0; r == 0 && k < PAPYRA_KIND_MAX; k++) {
        mem_kind *mk = &m->kinds[k];
        if (mk->n + need[k] > mk->cap) {
            size_t cap = mk->cap ? mk->cap : 64;
            mem_entry *nv;
            while (cap < mk->n + need[k])
                cap *= 2;
            nv = realloc(mk->v, cap * sizeof(*nv));
            if (!nv)
                r = papyra__store_error(s, PAPYRA_ENOMEM, "out of memory");
            else {
                mk->v = nv;
                mk->cap = cap;
            }
        }
    }
    for (i = 0; r == 0 && i < n; i++) {
        mem_kind *mk = &m->kinds[records[i].kind];
        mk->v[mk->n++] = e[i];
    }
    pthread_mutex_unlock(&m->mu);
    if (r < 0)
        free_entries(e, n);
    else
        free(e);
    return r;
}

/* Decodes one stored line into *out. */
static int
decode_line(const mem_entry *e, papyra_record *out)
{
    papyra_json *v = NULL;
    int r = papyra__json_parse(e->line, e->len, &v);

    if (r == 0)
        r = papyra__record_decode(v, NULL, out);
    papyra__json_free(v);
    return r;
}

/*
 * The records list returns: from the newest, retention, then since, then
 * limit find the oldest of them (*first; n when there is none); the caller
 * holds the lock. Below *first only age retention and since can still skip
 * one (keep()).
 */
static size_t
select_first(papyra_store *s,
             const mem_kind *mk,
             const papyra_list_options *opts,
             papyra__retention_state *st)
{
    size_t i, first = mk->n, kept = 0;

    for (i = mk->n; i-- > 0;) {
        const mem_entry *e = &mk->v[i];
        int keep = papyra__retention_offer(&s->retention, st, e->timestamp, e->len + 1);

        if (keep < 0)
            break;
        if (keep == 0 || (opts->has_since && !(e->timestamp >= opts->since)))
            continue;
        first = i;
        if (++kept == opts->limit)
            break;
    }
    return first;
}

/* Whether an entry at or after select_first()'s is returned. */
static bool
keep(const papyra__retention_state *st, const papyra_list_options *opts, double ts)
{
    return !(st->has_cutoff && !(ts >= st->cutoff)) && !(opts->has_since && !(ts >= opts->since));
}

static int
mem_list(papyra_store *s,
         papyra_kind kind,
         const papyra_list_options *opts,
         papyra__list_result *out)
{
    mem_store *m = s->impl;
    papyra__retention_state st;
    papyra_record_list *list = calloc(1, sizeof(*list));
    mem_kind *mk = &m->kinds[kind];
    size_t i, first;
    int r = 0;

    if (!list)
        return papyra__store_error(s, PAPYRA_ENOMEM, "out of memory");
    papyra__retention_begin(&s->retention, &st);
    pthread_mutex_lock(&m->mu);
    first = select_first(s, mk, opts, &st);
    list->records = calloc(mk->n > first ? mk->n - first : 1, sizeof(*list->records));
    if (!list->records)
        r = papyra__store_error(s, PAPYRA_ENOMEM, "out of memory");
    for (i = first; r == 0 && i < mk->n; i++) {
        if (!keep(&st, opts, mk->v[i].timestamp))
            continue;
        r = decode_line(&mk->v[i], &list->records[list->count]);
        if (r < 0)
            r = papyra__store_error(s, r, "cannot decode a stored record: %s", papyra_strerror(r));
        else
            list->count++;
    }
    pthread_mutex_unlock(&m->mu);
    if (r < 0) {
        papyra_record_list_free(list);
        return r;
    }
    out->list = list;
    return 0;
}

/*
 * As list, one record decoded at a time under the lock and delivered
 * without it. Records only ever get appended, so the indexes stay valid
 * while the lock is dropped.
 */
static int
mem_each(papyra_store *s, papyra_kind kind, const papyra_list_options *opts, papyra__each *ev)
{
    mem_store *m = s->impl;
    papyra__retention_state st;
    mem_kind *mk = &m->kinds[kind];
    size_t i, first, n;
    int r = 0;

    papyra__retention_begin(&s->retention, &st);
    pthread_mutex_lock(&m->mu);
    n = mk->n;
    first = select_first(s, mk, opts, &st);
    pthread_mutex_unlock(&m->mu);
    for (i = first; i < n; i++) {
        papyra_record rec;
        bool want;

        memset(&rec, 0, sizeof(rec));
        pthread_mutex_lock(&m->mu);
        want = keep(&st, opts, mk->v[i].timestamp);
        r = want ? decode_line(&mk->v[i], &rec) : 0;
        pthread_mutex_unlock(&m->mu);
        if (r < 0)
            return papyra__store_error(s, r, "cannot decode a stored record: %s",
                                       papyra_strerror(r));
        if (want && papyra__each_deliver(ev, &rec))
            break;
    }
    return 0;
}

static int
mem_scan(papyra_store *s, papyra_scan_report **ret)
{
    int r = papyra__scan_report_new("memory", ret);

    return r < 0 ? papyra__store_error(s, r, "out of memory") : 0;
}

/* Never called (a memory scan is always clean); nothing to repair. */
static int
mem_repair(papyra_store *s,
           const papyra_recovery_options *opts,
           const papyra_scan_report *found,
           papyra_recovery_report *report)
{
    return 0;
}

const papyra__backend_ops papyra__backend_memory = {
    .name = "memory",
    .id = PAPYRA_BACKEND_MEMORY,
    .open = mem_open,
    .close = mem_close,
    .write = mem_write,
    .list = mem_list,
    .each = mem_each,
    .scan = mem_scan,
    .repair = mem_repair,
    .compact = NULL,
    .default_metrics_path = NULL,
    .progress_unit = "bytes",
};
