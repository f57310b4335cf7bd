/* SPDX-License-Identifier: MIT */
#include "store-testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

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
st_event_addr(const char *addr_json, double ts)
{
    papyra_record r = st_event(0, ts);

    r.u.event.actor_address = addr_json;
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

int
st_count_each(const papyra_record *r, void *count)
{
    (void)r;
    (*(size_t *)count)++;
    return 0;
}

int
st_open_rc(const char *url, papyra_error *e)
{
    papyra_store *s = NULL;
    int rc = papyra_store_open(&s, url, e);
    if (rc == 0)
        papyra_store_close(s);
    return rc;
}

int
st_open_err(const char *url, char *msg, size_t n)
{
    papyra_error err = {0};
    int rc = st_open_rc(url, &err);
    (void)snprintf(msg, n, "%s", err.message);
    return rc;
}

papyra_store *
st_open_rotating(const char *dir, const char *params)
{
    return st_open("rotating:%s/rot.log?%s%smetrics=none", dir, params ? params : "",
                   params && *params ? "&" : "");
}

int
st_setup_file(void **state)
{
    st_file_fixture *f = calloc(1, sizeof(*f));
    void *dir = NULL;

    if (!f || papyra_test_setup_tmpdir(&dir) != 0) {
        free(f);
        return -1;
    }
    f->dir = dir;
    f->path = papyra_test_path(f->dir, "events.jsonl");
    *state = f;
    return 0;
}

int
st_teardown_file(void **state)
{
    st_file_fixture *f = *state;
    void *dir = f->dir;

    papyra_test_teardown_tmpdir(&dir);
    free(f->path);
    free(f);
    return 0;
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

uint64_t
st_counter(papyra_store *s, int id)
{
    uint64_t all[PAPYRA_METRIC_COUNT];

    assert_true(id >= 0 && id < PAPYRA_METRIC_COUNT);
    st_counters(s, all);
    return all[id];
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

papyra_record_list *
st_list_one(papyra_store *s, papyra_kind kind)
{
    papyra_record_list *l = st_list(s, kind, -1, 0);

    if (l->count != 1)
        fail_msg("%s: listed %zu records of kind %d, expected one", papyra_store_backend(s),
                 l->count, (int)kind);
    return l;
}

void
st_assert_dead_letter(papyra_store *s, const char *payload)
{
    papyra_record_list *l = st_list_one(s, PAPYRA_KIND_DEAD_LETTER);

    assert_string_equal(l->records[0].u.dead_letter.message_type, "str");
    assert_string_equal(l->records[0].u.dead_letter.payload, payload);
    papyra_record_list_free(l);
}

void
st_assert_count(papyra_store *s, papyra_kind kind, size_t n)
{
    papyra_record_list *l = st_list(s, kind, -1, 0);
    size_t got = l->count;

    papyra_record_list_free(l);
    if (got != n)
        fail_msg("%s: listed %zu records of kind %d, expected %zu", papyra_store_backend(s), got,
                 (int)kind, n);
}

void
st_assert_event_stamp(papyra_store *s, size_t n, size_t i, double ts)
{
    papyra_record_list *l = st_list(s, PAPYRA_KIND_EVENT, -1, 0);

    if (l->count != n || l->records[i].u.event.timestamp != ts)
        fail_msg("%s: %zu events, event %zu stamped %.17g; expected %zu, stamped %.17g",
                 papyra_store_backend(s), l->count, i,
                 i < l->count ? l->records[i].u.event.timestamp : -1.0, n, ts);
    papyra_record_list_free(l);
}

void
st_assert_event_stamps(papyra_store *s, size_t n, double first)
{
    papyra_record_list *l = st_list(s, PAPYRA_KIND_EVENT, -1, 0);

    if (l->count != n)
        fail_msg("%s: %zu events, expected %zu", papyra_store_backend(s), l->count, n);
    for (size_t i = 0; i < n; i++)
        if (l->records[i].u.event.timestamp != first + (double)i)
            fail_msg("%s: event %zu stamped %.17g, expected %.17g", papyra_store_backend(s), i,
                     l->records[i].u.event.timestamp, first + (double)i);
    papyra_record_list_free(l);
}

void
st_assert_scan(papyra_store *s, size_t n)
{
    papyra_scan_report *rep = NULL;
    int r = papyra_store_scan(s, &rep);
    size_t got;

    if (r != 0)
        fail_msg("scan: %s (%s)", papyra_store_errmsg(s), papyra_errname(r));
    got = rep->count;
    if (got != n)
        fail_msg("%s: scan found %zu anomalies (first: %s), expected %zu", papyra_store_backend(s),
                 got, got ? rep->anomalies[0].detail : "none", n);
    papyra_scan_report_free(rep);
}

void
st_assert_anomaly(papyra_store *s, papyra_anomaly_type type, const char *detail)
{
    papyra_scan_report *rep = NULL;

    assert_int_equal(papyra_store_scan(s, &rep), 0);
    assert_int_equal(rep->count, 1);
    assert_int_equal(rep->anomalies[0].type, type);
    if (detail)
        assert_string_equal(rep->anomalies[0].detail, detail);
    papyra_scan_report_free(rep);
}

void
st_write(papyra_store *s, const papyra_record *rec)
{
    int r = papyra_store_write(s, rec);

    if (r != 0)
        fail_msg("write: %s (%s)", papyra_store_errmsg(s), papyra_errname(r));
}

void
st_write_event(papyra_store *s, int n, double ts)
{
    papyra_record r = st_event(n, ts);

    st_write(s, &r);
}

void
st_write_events(papyra_store *s, int first, int count)
{
    for (int i = first; i < first + count; i++)
        st_write_event(s, i, i);
}

void
st_assert_each_event_once(papyra_store *s, int total)
{
    papyra_scan_report *rep = NULL;
    papyra_record_list *l = st_list(s, PAPYRA_KIND_EVENT, -1, 0);
    unsigned char *seen = calloc((size_t)total, 1);

    assert_non_null(seen);
    assert_int_equal(papyra_store_scan(s, &rep), 0);
    assert_int_equal(rep->count, 0);
    papyra_scan_report_free(rep);
    assert_int_equal(l->count, (size_t)total);
    for (size_t i = 0; i < l->count; i++) {
        int ts = (int)l->records[i].u.event.timestamp;
        assert_true(ts >= 0 && ts < total);
        assert_int_equal(seen[ts], 0);
        seen[ts] = 1;
    }
    free(seen);
    papyra_record_list_free(l);
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

/* The lines of a file that is no quarantine copy. */
static size_t
lines_unless_quarantine(const char *dir, const char *name, void *arg)
{
    char *p;
    size_t n;

    (void)arg;
    if (strstr(name, "quarantine"))
        return 0;
    p = papyra_test_path(dir, name);
    n = st_count_lines(p);
    free(p);
    return n;
}

size_t
st_count_lines_in(const char *dir, const char *prefix)
{
    return papyra_test_each_entry(dir, prefix, lines_unless_quarantine, NULL);
}

/* 1 when @p name is *(const char **)arg or that followed by "." and digits. */
static size_t
in_set(const char *dir, const char *name, void *arg)
{
    const char *s = name + strlen(*(const char **)arg);

    (void)dir;
    if (*s == '.' && s[1]) {
        s++;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return !*s;
}

int
st_count_set(const char *dir, const char *name)
{
    return (int)papyra_test_each_entry(dir, name, in_set, &name);
}
