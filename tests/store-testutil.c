/* SPDX-License-Identifier: MIT */
#include "store-testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* Per thread, so that writer threads do not share the text. */
static _Thread_local char addrs[64][32];
static _Thread_local unsigned addr_next;

papyra_record
st_event(int n, double ts)
{
    papyra_record r = {.kind = PAPYRA_KIND_EVENT};
    char *a = addrs[addr_next++ % 64];

    snprintf(a, 32, "\"local://%d\"", n);
    r.u.event.system_id = "local";
    r.u.event.actor_address = a;
    r.u.event.event_type = "ActorStarted";
    r.u.event.payload = NULL;
    r.u.event.timestamp = ts;
    return r;
}

papyra_record
st_audit(int64_t total, double ts)
{
    papyra_record r = {.kind = PAPYRA_KIND_AUDIT};

    r.u.audit.system_id = "local";
    r.u.audit.timestamp = ts;
    r.u.audit.total_actors = total;
    r.u.audit.alive_actors = total;
    return r;
}

papyra_record
st_dead_letter(const char *payload, double ts)
{
    papyra_record r = {.kind = PAPYRA_KIND_DEAD_LETTER};

    r.u.dead_letter.system_id = "local";
    r.u.dead_letter.target = "\"local://1\"";
    r.u.dead_letter.message_type = "str";
    r.u.dead_letter.payload = payload;
    r.u.dead_letter.timestamp = ts;
    return r;
}

papyra_store *
st_open(const char *fmt, ...)
{
    papyra_store *s = NULL;
    papyra_error err = {0};
    char url[4096];
    va_list ap;
    int r;

    va_start(ap, fmt);
    vsnprintf(url, sizeof(url), fmt, ap);
    va_end(ap);
    r = papyra_store_open(&s, url, &err);
    if (r != 0)
        fail_msg("open %s: %s (%s)", url, err.message, papyra_errname(r));
    return s;
}

void
st_counters(papyra_store *s, uint64_t out[PAPYRA_METRIC_COUNT])
{
    papyra_metrics_snapshot snap;
    int i;

    assert_int_equal(papyra_metrics_read(papyra_store_metrics(s), &snap), 0);
    for (i = 0; i < PAPYRA_METRIC_COUNT; i++)
        out[i] = snap.state[i] == PAPYRA_METRIC_OK ? snap.value[i] : 0;
}

void
st_assert_delta(papyra_store *s,
                const uint64_t before[PAPYRA_METRIC_COUNT],
                const uint64_t delta[PAPYRA_METRIC_COUNT])
{
    uint64_t now[PAPYRA_METRIC_COUNT];
    int i;

    st_counters(s, now);
    for (i = 0; i < PAPYRA_METRIC_COUNT; i++) {
        if (now[i] - before[i] != delta[i])
            fail_msg("%s: counter %s moved by %llu, expected %llu", papyra_store_backend(s),
                     papyra_metric_get(i)->name, (unsigned long long)(now[i] - before[i]),
                     (unsigned long long)delta[i]);
    }
}

papyra_record_list *
st_list(papyra_store *s, papyra_kind kind, double since, size_t limit)
{
    papyra_list_options o = {.has_since = since >= 0, .since = since, .limit = limit};
    papyra_record_list *l = NULL;
    int r = papyra_store_list(s, kind, &o, &l);

    if (r != 0)
        fail_msg("list: %s (%s)", papyra_store_errmsg(s), papyra_errname(r));
    return l;
}

void
st_write(papyra_store *s, const papyra_record *rec)
{
    int r = papyra_store_write(s, rec);

    if (r != 0)
        fail_msg("write: %s (%s)", papyra_store_errmsg(s), papyra_errname(r));
}

size_t
st_count_lines(const char *path)
{
    FILE *f = fopen(path, "rb");
    size_t n = 0;
    int c;

    if (!f)
        return 0;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}
