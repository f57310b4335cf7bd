/* SPDX-License-Identifier: MIT */
/*
 * The Redis Streams backend against a real redis-server: upstream's Redis
 * tests (persistence, metrics, consumer groups), byte compatibility of the
 * `data` field, reconnection after a server restart, authentication, keys of
 * the wrong type, concurrent writers in several processes, and a scan of a
 * large stream with bounded memory.
 *
 * Server: PAPYRA_TEST_REDIS_URL ("redis://host:port/db") if set, else a
 * private redis-server started by redis-harness.c, else exit 77 (skip) --
 * or failure when PAPYRA_TEST_REQUIRE_REDIS=1. Tests that kill or restart
 * the server, or need a password, run only on the private server. Every test
 * uses its own key prefix.
 */
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <papyra/redis.h>
#include <papyra/store.h>

#include "redis-harness.h"
#include "store-testutil.h"
#include "testutil.h"

static papyra_test_redis server; /* the private server, when we started one */
static char host[256] = "127.0.0.1";
static int port;
static int dbnum;
static bool own_server;
static redisContext *raw; /* the tests' own connection, for raw commands */
static char prefix[128];  /* set per test */
static int test_seq;

/* ---- helpers ---- */

static void
raw_connect(void)
{
    struct timeval tv = {.tv_sec = 5};
    redisReply *r;
    redisFree(raw);
    raw = redisConnectWithTimeout(host, port, tv);
    assert_non_null(raw);
    assert_int_equal(raw->err, 0);
    (void)redisSetTimeout(raw, tv);
    if (dbnum != 0) {
        r = redisCommand(raw, "SELECT %d", dbnum);
        assert_non_null(r);
        freeReplyObject(r);
    }
}

static redisReply *
rawcmd(const char *fmt, ...)
{
    va_list ap;
    redisReply *r;
    if (!raw || raw->err)
        raw_connect();
    va_start(ap, fmt);
    r = redisvCommand(raw, fmt, ap);
    va_end(ap);
    if (!r) {
        raw_connect();
        va_start(ap, fmt);
        r = redisvCommand(raw, fmt, ap);
        va_end(ap);
    }
    assert_non_null(r);
    return r;
}

static long long
raw_int(const char *fmt, const char *key)
{
    redisReply *r = rawcmd(fmt, key);
    long long v;
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    v = r->integer;
    freeReplyObject(r);
    return v;
}

static char *
key_of(const char *what)
{
    static char buf[4][256];
    static int i;
    char *b = buf[i++ % 4];
    (void)snprintf(b, 256, "%s:local:%s", prefix, what);
    return b;
}

static int
setup(void **state)
{
    (void)snprintf(prefix, sizeof(prefix), "papyra-test-%ld-%d", (long)getpid(), ++test_seq);
    return 0;
}

/* Deletes the test's keys, so that a shared server (PAPYRA_TEST_REDIS_URL) stays clean. */
static int
teardown(void **state)
{
    char cursor[32] = "0";
    if (!raw || raw->err)
        raw_connect();
    do {
        redisReply *r = redisCommand(raw, "SCAN %s MATCH %s:* COUNT 1000", cursor, prefix);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            freeReplyObject(r);
            break;
        }
        (void)snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++)
            freeReplyObject(redisCommand(raw, "DEL %b", r->element[1]->element[i]->str,
                                         r->element[1]->element[i]->len));
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    return 0;
}

static papyra_store *
open_store(const char *extra)
{
    char url[1024];
    papyra_store *s = NULL;
    papyra_error e = {0};
    (void)snprintf(url, sizeof(url), "redis://%s:%d/%d?prefix=%s&metrics=none%s%s", host, port,
                   dbnum, prefix, extra && *extra ? "&" : "", extra ? extra : "");
    int rc = papyra_store_open(&s, url, &e);
    if (rc != 0)
        fail_msg("open %s: %s (%s)", url, e.message, papyra_errname(rc));
    return s;
}

static papyra_record
event(const char *addr_json, double ts)
{
    papyra_record r = {.kind = PAPYRA_KIND_EVENT};
    r.u.event.system_id = "local";
    r.u.event.actor_address = addr_json;
    r.u.event.event_type = "ActorStarted";
    r.u.event.payload = "{}";
    r.u.event.timestamp = ts;
    return r;
}

static void
write_events(papyra_store *s, int n)
{
    for (int i = 1; i <= n; i++) {
        char addr[64];
        papyra_record r;
        (void)snprintf(addr, sizeof(addr), "\"local://%d\"", i);
        r = event(addr, (double)i);
        assert_int_equal(papyra_store_write(s, &r), 0);
    }
}

static papyra_record_list *
list_kind(papyra_store *s, papyra_kind k, const papyra_list_options *o)
{
    papyra_record_list *l = NULL;
    int rc = papyra_store_list(s, k, o, &l);
    if (rc != 0)
        fail_msg("list: %s (%s)", papyra_store_errmsg(s), papyra_errname(rc));
    return l;
}

static uint64_t
metric(papyra_store *s, int id)
{
    papyra_metrics_snapshot snap;
    assert_int_equal(papyra_metrics_read(papyra_store_metrics(s), &snap), 0);
    return snap.value[id];
}

/* The `data` field of the only entry of @p key, malloc'd. */
static char *
only_data(const char *key)
{
    redisReply *r = rawcmd("XRANGE %s - +", key);
    char *out;
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 1);
    redisReply *f = r->element[0]->element[1];
    assert_int_equal(f->elements, 2);
    assert_string_equal(f->element[0]->str, "data");
    out = strndup(f->element[1]->str, f->element[1]->len);
    freeReplyObject(r);
    return out;
}

/* ---- upstream's test_redis_streams_persistence.py ---- */

static void
test_redis_event_audit_and_dead_letter_should_round_trip(void **state)
{
    papyra_store *s = open_store(NULL);
    papyra_record e = event("\"local://1\"", 10.5);
    const char *orphans[] = {"a", "b"};
    papyra_record a = {.kind = PAPYRA_KIND_AUDIT};
    papyra_record d = st_dead_letter("\"late\"", 300.0);
    papyra_record_list *l;

    e.u.event.payload = "{\"reason\": \"stopped\"}";
    a.u.audit.system_id = "local";
    a.u.audit.timestamp = 5.5;
    a.u.audit.total_actors = 3;
    a.u.audit.alive_actors = 2;
    a.u.audit.registry_size = 1;
    a.u.audit.registry_orphans = orphans;
    a.u.audit.n_registry_orphans = 2;
    a.u.audit.dead_letters_count = 7;
    assert_int_equal(papyra_store_write(s, &e), 0);
    assert_int_equal(papyra_store_write(s, &a), 0);
    assert_int_equal(papyra_store_write(s, &d), 0);

    l = list_kind(s, PAPYRA_KIND_EVENT, NULL);
    assert_int_equal(l->count, 1);
    assert_string_equal(l->records[0].u.event.actor_address, "\"local://1\"");
    assert_string_equal(l->records[0].u.event.event_type, "ActorStarted");
    assert_string_equal(l->records[0].u.event.payload, "{\"reason\": \"stopped\"}");
    assert_true(l->records[0].u.event.timestamp == 10.5);
    papyra_record_list_free(l);

    l = list_kind(s, PAPYRA_KIND_AUDIT, NULL);
    assert_int_equal(l->count, 1);
    assert_int_equal(l->records[0].u.audit.total_actors, 3);
    assert_int_equal(l->records[0].u.audit.alive_actors, 2);
    assert_int_equal(l->records[0].u.audit.dead_letters_count, 7);
    assert_int_equal(l->records[0].u.audit.n_registry_orphans, 2);
    assert_string_equal(l->records[0].u.audit.registry_orphans[1], "b");
    papyra_record_list_free(l);

    l = list_kind(s, PAPYRA_KIND_DEAD_LETTER, NULL);
    assert_int_equal(l->count, 1);
    assert_string_equal(l->records[0].u.dead_letter.target, "\"local://1\"");
    assert_string_equal(l->records[0].u.dead_letter.message_type, "str");
    assert_string_equal(l->records[0].u.dead_letter.payload, "\"late\"");
    papyra_record_list_free(l);
    assert_string_equal(papyra_store_backend(s), "redis");
    papyra_store_close(s);
}

static void
test_redis_max_records_should_keep_the_newest_on_read(void **state)
{
    papyra_store *s = open_store("max_records=2");
    papyra_record_list *l;
    write_events(s, 4);
    l = list_kind(s, PAPYRA_KIND_EVENT, NULL);
    assert_int_equal(l->count, 2);
    assert_string_equal(l->records[0].u.event.actor_address, "\"local://3\"");
    assert_string_equal(l->records[1].u.event.actor_address, "\"local://4\"");
    papyra_record_list_free(l);
    papyra_store_close(s);
}

static void
test_redis_limit_and_since_should_select_the_newest(void **state)
{
    papyra_store *s = open_store(NULL);
    papyra_list_options o = {0};
    papyra_record_list *l;

    write_events(s, 2500); /* more than two pages */
    o.limit = 3;
    l = list_kind(s, PAPYRA_KIND_EVENT, &o);
    assert_int_equal(l->count, 3);
    assert_true(l->records[0].u.event.timestamp == 2498.0);
    assert_true(l->records[2].u.event.timestamp == 2500.0);
    papyra_record_list_free(l);

    o.limit = 0;
    o.has_since = true;
    o.since = 1001.0;
    l = list_kind(s, PAPYRA_KIND_EVENT, &o);
    assert_int_equal(l->count, 1500);
    assert_true(l->records[0].u.event.timestamp == 1001.0);
    papyra_record_list_free(l);

    l = list_kind(s, PAPYRA_KIND_EVENT, NULL);
    assert_int_equal(l->count, 2500);
    assert_true(l->records[0].u.event.timestamp == 1.0);
    papyra_record_list_free(l);
    papyra_store_close(s);
}

static void
test_redis_scan_should_report_corrupt_entries_with_upstream_details(void **state)
{
    papyra_store *s = open_store(NULL);
    papyra_scan_report *rep = NULL;

    write_events(s, 1);
    freeReplyObject(rawcmd("XADD %s * data {not-json", key_of("events")));
    freeReplyObject(rawcmd("XADD %s * other x", key_of("audits")));
    freeReplyObject(rawcmd("XADD %s * data [1,2]", key_of("dead_letters")));
    assert_int_equal(papyra_store_scan(s, &rep), 0);
    assert_string_equal(rep->backend, "redis");
    assert_int_equal(rep->count, 3);
    assert_int_equal(rep->anomalies[0].type, PAPYRA_ANOMALY_CORRUPTED_LINE);
    assert_string_equal(rep->anomalies[0].path, key_of("events"));
    assert_string_equal(rep->anomalies[0].detail, "Invalid JSON payload in stream entry");
    assert_string_equal(rep->anomalies[1].path, key_of("audits"));
    assert_string_equal(rep->anomalies[1].detail, "Missing 'data' field or non-string payload");
    assert_string_equal(rep->anomalies[2].detail, "JSON payload is not an object/dict");
    papyra_scan_report_free(rep);

    /* Reads skip them and count them as anomalies. */
    papyra_record_list *l = list_kind(s, PAPYRA_KIND_EVENT, NULL);
    assert_int_equal(l->count, 1);
    papyra_record_list_free(l);
    papyra_store_close(s);
}

static void
test_redis_repair_should_leave_a_clean_scan(void **state)
{
    papyra_store *s = open_store(NULL);
    papyra_recovery_options o = {.mode = PAPYRA_RECOVER_REPAIR};
    papyra_recovery_report *rep = NULL;

    write_events(s, 2);
    freeReplyObject(rawcmd("XADD %s * data {not-json", key_of("events")));
    assert_int_equal(papyra_store_recover(s, &o, &rep), 0);
    assert_int_equal(rep->scan->count, 1);
    assert_non_null(rep->after);
    assert_int_equal(rep->after->count, 0);
    assert_int_equal(rep->n_repaired, 1);
    assert_string_equal(rep->repaired[0], key_of("events"));
    papyra_recovery_report_free(rep);
    assert_int_equal(raw_int("XLEN %s", key_of("events")), 2);
    papyra_store_close(s);
}

static void
test_redis_quarantine_should_copy_every_field_then_delete(void **state)
{
    papyra_store *s = open_store(NULL);
    papyra_recovery_options o = {.mode = PAPYRA_RECOVER_QUARANTINE, .quarantine_dir = "/ignored"};
    papyra_recovery_report *rep = NULL;
    char qkey[512];
    redisReply *r;

    (void)snprintf(qkey, sizeof(qkey), "%s:local:quarantine:%s_local_events", prefix, prefix);
    write_events(s, 1);
    freeReplyObject(rawcmd("XADD %s * data {not-json extra 42", key_of("events")));
    assert_int_equal(papyra_store_recover(s, &o, &rep), 0);
    assert_int_equal(rep->n_quarantined, 1);
    assert_string_equal(rep->quarantined[0], qkey);
    assert_int_equal(rep->after->count, 0);
    papyra_recovery_report_free(rep);
    assert_int_equal(raw_int("XLEN %s", key_of("events")), 1);
    assert_int_equal(raw_int("XLEN %s", qkey), 1);
    r = rawcmd("XRANGE %s - +", qkey);
    redisReply *f = r->element[0]->element[1];
    assert_int_equal(f->elements, 8);
    assert_string_equal(f->element[0]->str, "source");
    assert_string_equal(f->element[1]->str, key_of("events"));
    assert_string_equal(f->element[2]->str, "data");
    assert_string_equal(f->element[3]->str, "{not-json");
    assert_string_equal(f->element[4]->str, "extra");
    assert_string_equal(f->element[5]->str, "42");
    assert_string_equal(f->element[6]->str, "timestamp");
    assert_true(strtod(f->element[7]->str, NULL) > 1.7e9);
    freeReplyObject(r);
    papyra_store_close(s);
}

static void
test_redis_compact_should_trim_exactly(void **state)
{
    papyra_store *s = open_store("max_records=1");
    papyra_compaction_report rep;

    write_events(s, 3);
    freeReplyObject(rawcmd("XADD %s * data {not-json", key_of("events")));
    assert_int_equal(papyra_store_compact(s, &rep), 0);
    assert_string_equal(rep.backend, "redis");
    assert_int_equal(rep.before_records, 4);
    assert_int_equal(rep.after_records, 1);
    assert_int_equal(rep.before_bytes, -1);
    assert_int_equal(raw_int("XLEN %s", key_of("events")), 1);
    papyra_record_list *l = list_kind(s, PAPYRA_KIND_EVENT, NULL);
    assert_int_equal(l->count, 1);
    assert_string_equal(l->records[0].u.event.actor_address, "\"local://3\"");
    papyra_record_list_free(l);
    papyra_store_close(s);
}

static void
test_redis_compact_should_apply_age_and_size_physically(void **state)
{
    papyra_store *s = open_store("max_total_bytes=400");
    papyra_compaction_report rep;
    papyra_record_list *l;

    write_events(s, 10); /* each data field is about 130 bytes */
    assert_int_equal(papyra_store_compact(s, &rep), 0);
    assert_int_equal(rep.before_records, 10);
    assert_int_equal(rep.after_records, 3);
    l = list_kind(s, PAPYRA_KIND_EVENT, NULL);
    assert_int_equal(l->count, 3);
    assert_string_equal(l->records[2].u.event.actor_address, "\"local://10\"");
    papyra_record_list_free(l);
    papyra_store_close(s);

    /* Age: records older than max_age_seconds go, also physically; fresh ones stay. */
    s = open_store("max_age_seconds=3600");
    freeReplyObject(rawcmd("XADD %s 1000-0 data %s", key_of("audits"),
                           "{\"kind\": \"audit\", \"timestamp\": 1}"));
    assert_int_equal(raw_int("XLEN %s", key_of("audits")), 1);
    {
        papyra_record fresh = event("\"local://fresh\"", (double)time(NULL));
        assert_int_equal(papyra_store_write(s, &fresh), 0);
        assert_int_equal(papyra_store_write(s, &fresh), 0);
    }
    assert_int_equal(papyra_store_compact(s, &rep), 0);
    assert_int_equal(raw_int("XLEN %s", key_of("audits")), 0);
    /* The three old events (timestamps 8..10) went; the two fresh ones stay. */
    assert_int_equal(raw_int("XLEN %s", key_of("events")), 2);
    l = list_kind(s, PAPYRA_KIND_EVENT, NULL);
    assert_int_equal(l->count, 2);
    papyra_record_list_free(l);
    papyra_store_close(s);
}

static void
test_redis_compact_should_not_change_what_reads_return(void **state)
{
    papyra_store *s = open_store("max_records=2");
    papyra_compaction_report rep;
    papyra_record_list *before, *after;

    write_events(s, 3);
    /* Valid JSON that is not an event: invisible to reads, so not counted by max_records. */
    freeReplyObject(
        rawcmd("XADD %s * data %s", key_of("events"), "{\"kind\": \"audit\", \"timestamp\": 9}"));
    freeReplyObject(rawcmd("XADD %s * data %s", key_of("events"), "{\"no\": \"kind\"}"));
    before = list_kind(s, PAPYRA_KIND_EVENT, NULL);
    assert_int_equal(before->count, 2);
    assert_int_equal(papyra_store_compact(s, &rep), 0);
    assert_int_equal(rep.before_records, 5);
    assert_int_equal(rep.after_records, 4); /* local://1 went */
    after = list_kind(s, PAPYRA_KIND_EVENT, NULL);
    assert_int_equal(after->count, 2);
    for (size_t i = 0; i < 2; i++)
        assert_string_equal(after->records[i].u.event.actor_address,
                            before->records[i].u.event.actor_address);
    papyra_record_list_free(before);
    papyra_record_list_free(after);
    papyra_store_close(s);
}

/* ---- byte compatibility with upstream ---- */

static void
test_redis_data_field_should_be_upstream_bytes(void **state)
{
    papyra_store *s = open_store(NULL);
    papyra_record e = event("{\"system\": \"local\", \"actor_id\": 1}", 4312.118907211);
    const char *orphans[] = {"a"};
    papyra_record a = {.kind = PAPYRA_KIND_AUDIT};
    papyra_record d = st_dead_letter("\"late\"", 300.0);
    char *data;

    a.u.audit.system_id = "local";
    a.u.audit.timestamp = 5.5;
    a.u.audit.total_actors = 1;
    a.u.audit.alive_actors = 1;
    a.u.audit.registry_size = 1;
    a.u.audit.registry_orphans = orphans;
    a.u.audit.n_registry_orphans = 1;
    assert_int_equal(papyra_store_write(s, &e), 0);
    assert_int_equal(papyra_store_write(s, &a), 0);
    assert_int_equal(papyra_store_write(s, &d), 0);

    data = only_data(key_of("events"));
    assert_string_equal(data, "{\"kind\": \"event\", \"system_id\": \"local\", \"actor_address\": "
                              "{\"system\": \"local\", \"actor_id\": 1}, \"event_type\": "
                              "\"ActorStarted\", \"payload\": {}, \"timestamp\": 4312.118907211}");
    free(data);
    data = only_data(key_of("audits"));
    assert_string_equal(data,
                        "{\"kind\": \"audit\", \"system_id\": \"local\", \"timestamp\": 5.5, "
                        "\"total_actors\": 1, \"alive_actors\": 1, \"stopping_actors\": 0, "
                        "\"restarting_actors\": 0, \"registry_size\": 1, \"registry_orphans\": "
                        "[\"a\"], \"registry_dead\": [], \"dead_letters_count\": 0}");
    free(data);
    data = only_data(key_of("dead_letters"));
    assert_string_equal(data, "{\"kind\": \"dead_letter\", \"system_id\": \"local\", \"target\": "
                              "\"local://1\", \"message_type\": \"str\", \"payload\": \"late\", "
                              "\"timestamp\": 300.0}");
    free(data);
    papyra_store_close(s);
}

static void
test_redis_should_read_entries_written_by_upstream(void **state)
{
    papyra_store *s = open_store(NULL);
    papyra_record_list *l;
    papyra_scan_report *rep = NULL;
    papyra_compaction_report crep;

    /* Upstream's own lines, and a minimal one that takes defaults (TEST-PINNED upstream). */
    freeReplyObject(rawcmd("XADD %s * data %s", key_of("events"),
                           "{\"kind\": \"event\", \"system_id\": \"local\", \"actor_address\": "
                           "\"local://1\", \"event_type\": \"ActorStarted\", \"payload\": {}, "
                           "\"timestamp\": 1.0}"));
    freeReplyObject(
        rawcmd("XADD %s * data %s", key_of("events"), "{\"kind\":\"event\",\"timestamp\":2}"));
    freeReplyObject(rawcmd("XADD %s * data %s", key_of("events"), "{not-json"));
    l = list_kind(s, PAPYRA_KIND_EVENT, NULL);
    assert_int_equal(l->count, 2);
    assert_string_equal(l->records[0].u.event.actor_address, "\"local://1\"");
    assert_string_equal(l->records[1].u.event.event_type, "");
    assert_string_equal(l->records[1].u.event.system_id, "local");
    papyra_record_list_free(l);
    assert_int_equal(papyra_store_scan(s, &rep), 0);
    assert_int_equal(rep->count, 1);
    papyra_scan_report_free(rep);
    assert_int_equal(papyra_store_compact(s, &crep), 0);
    assert_int_equal(crep.before_records, 3);
    assert_int_equal(crep.after_records, 2);
    papyra_store_close(s);
}

/* ---- upstream's test_metrics_redis.py ---- */

static void
test_redis_metrics_should_count_writes_and_scan_anomalies(void **state)
{
    char *dir = papyra_test_tmpdir();
    char extra[4200];
    papyra_store *s;
    papyra_scan_report *rep = NULL;

    (void)snprintf(extra, sizeof(extra), "metrics=%s/redis.metrics", dir);
    {
        char url[5000];
        papyra_error e = {0};
        (void)snprintf(url, sizeof(url), "redis://%s:%d/%d?prefix=%s&%s", host, port, dbnum, prefix,
                       extra);
        assert_int_equal(papyra_store_open(&s, url, &e), 0);
    }
    write_events(s, 1);
    assert_int_equal(metric(s, PAPYRA_METRIC_RECORDS_WRITTEN), 1);
    freeReplyObject(rawcmd("XADD %s * data {not-json", key_of("events")));
    assert_int_equal(papyra_store_scan(s, &rep), 0);
    assert_true(rep->count >= 1);
    papyra_scan_report_free(rep);
    assert_int_equal(metric(s, PAPYRA_METRIC_SCAN_OPERATIONS), 1);
    assert_int_equal(metric(s, PAPYRA_METRIC_ANOMALY_DETECTED), 1);
    papyra_record_list *l = list_kind(s, PAPYRA_KIND_EVENT, NULL);
    assert_int_equal(metric(s, PAPYRA_METRIC_RECORDS_READ), 1);
    assert_int_equal(metric(s, PAPYRA_METRIC_ANOMALY_DETECTED), 2);
    papyra_record_list_free(l);
    papyra_store_close(s);
    papyra_test_rmtree(dir);
    free(dir);
}

static void
test_redis_default_metrics_path_should_be_under_the_state_dir(void **state)
{
    char *dir = papyra_test_tmpdir();
    char *old = getenv("XDG_STATE_HOME") ? strdup(getenv("XDG_STATE_HOME")) : NULL;
    char url[1024], want[4200];
    papyra_store *s = NULL;
    papyra_error e = {0};
    struct stat st;

    (void)setenv("XDG_STATE_HOME", dir, 1);
    (void)snprintf(url, sizeof(url), "redis://%s:%d/%d?prefix=%s", host, port, dbnum, prefix);
    assert_int_equal(papyra_store_open(&s, url, &e), 0);
    assert_null(papyra_store_metrics_warning(s));
    (void)snprintf(want, sizeof(want), "%s/papyra/redis-%s-%d-%d-%s.metrics", dir, host, port,
                   dbnum, prefix);
    assert_int_equal(stat(want, &st), 0);
    write_events(s, 1);
    papyra_store_close(s);
    if (old) {
        (void)setenv("XDG_STATE_HOME", old, 1);
        free(old);
    } else {
        (void)unsetenv("XDG_STATE_HOME");
    }
    papyra_test_rmtree(dir);
    free(dir);
}

/* ---- upstream's test_redis_streams_consumer_groups.py ---- */

static void
test_redis_consumer_group_should_consume_and_ack(void **state)
{
    papyra_store *s = open_store(NULL);
    papyra_redis_entries *en = NULL;
    papyra_redis_pending *p = NULL;
    const char *ids[16];
    size_t acked = 0;
    bool seen = false;

    write_events(s, 3);
    assert_int_equal(papyra_redis_consume(s, PAPYRA_KIND_EVENT, "g1", "c1", 10, 100, ">", &en), 0);
    assert_true(en->count >= 3);
    for (size_t i = 0; i < en->count; i++) {
        ids[i] = en->entries[i].id;
        seen = seen || strcmp(en->entries[i].record.u.event.actor_address, "\"local://1\"") == 0;
    }
    assert_true(seen);
    assert_int_equal(papyra_redis_ack(s, PAPYRA_KIND_EVENT, "g1", ids, en->count, &acked), 0);
    assert_true(acked >= 1);
    papyra_redis_entries_free(en);
    assert_int_equal(papyra_redis_pending_summary(s, PAPYRA_KIND_EVENT, "g1", &p), 0);
    assert_int_equal(p->pending, 0);
    assert_null(p->min_id);
    papyra_redis_pending_free(p);
    /* Nothing new: a short block returns empty. */
    assert_int_equal(papyra_redis_consume(s, PAPYRA_KIND_EVENT, "g1", "c1", 10, 50, NULL, &en), 0);
    assert_int_equal(en->count, 0);
    papyra_redis_entries_free(en);
    papyra_store_close(s);
}

static void
test_redis_consumer_group_should_claim_pending(void **state)
{
    papyra_store *s = open_store(NULL);
    papyra_redis_entries *en = NULL, *cl = NULL;
    papyra_redis_pending *p = NULL;
    const char *id;
    size_t acked = 0;

    write_events(s, 1);
    assert_int_equal(papyra_redis_group_ensure(s, PAPYRA_KIND_EVENT, "g2", "0"), 0);
    assert_int_equal(papyra_redis_group_ensure(s, PAPYRA_KIND_EVENT, "g2", "0"), 0); /* BUSYGROUP */
    assert_int_equal(papyra_redis_consume(s, PAPYRA_KIND_EVENT, "g2", "c1", 10, -1, ">", &en), 0);
    assert_int_equal(en->count, 1);
    assert_int_equal(papyra_redis_pending_summary(s, PAPYRA_KIND_EVENT, "g2", &p), 0);
    assert_true(p->pending >= 1);
    assert_int_equal(p->n_consumers, 1);
    assert_string_equal(p->consumers[0].name, "c1");
    papyra_redis_pending_free(p);
    id = en->entries[0].id;
    assert_int_equal(papyra_redis_claim(s, PAPYRA_KIND_EVENT, "g2", "c2", 0, &id, 1, &cl), 0);
    assert_int_equal(cl->count, 1);
    assert_string_equal(cl->entries[0].id, id);
    assert_int_equal(papyra_redis_ack(s, PAPYRA_KIND_EVENT, "g2", &id, 1, &acked), 0);
    assert_int_equal(acked, 1);
    papyra_redis_entries_free(cl);
    papyra_redis_entries_free(en);
    assert_int_equal(papyra_redis_pending_summary(s, PAPYRA_KIND_EVENT, "g2", &p), 0);
    assert_int_equal(p->pending, 0);
    papyra_redis_pending_free(p);
    papyra_store_close(s);
}

static void
test_redis_consumer_group_should_quarantine_malformed_entries(void **state)
{
    papyra_store *s = open_store(NULL);
    papyra_redis_entries *en = NULL;
    papyra_redis_pending *p = NULL;
    char qkey[512];

    (void)snprintf(qkey, sizeof(qkey), "%s:local:quarantine:%s_local_events", prefix, prefix);
    write_events(s, 1);
    freeReplyObject(rawcmd("XADD %s * data {not-json", key_of("events")));
    freeReplyObject(rawcmd("XADD %s * nodata 1", key_of("events")));
    assert_int_equal(papyra_redis_consume(s, PAPYRA_KIND_EVENT, "g3", "c1", 10, -1, ">", &en), 0);
    assert_int_equal(en->count, 1);
    assert_int_equal(en->n_quarantined, 2);
    papyra_redis_entries_free(en);
    assert_int_equal(raw_int("XLEN %s", qkey), 2);
    assert_int_equal(papyra_redis_pending_summary(s, PAPYRA_KIND_EVENT, "g3", &p), 0);
    assert_int_equal(p->pending, 1); /* only the good one, not yet acked */
    papyra_redis_pending_free(p);
    papyra_store_close(s);
}

static void
test_redis_consumer_groups_should_refuse_other_backends(void **state)
{
    papyra_store *s = NULL;
    papyra_redis_entries *en = NULL;
    assert_int_equal(papyra_store_open(&s, "memory:", NULL), 0);
    assert_int_equal(papyra_redis_group_ensure(s, PAPYRA_KIND_EVENT, "g", NULL),
                     PAPYRA_EUNSUPPORTED);
    assert_int_equal(papyra_redis_consume(s, PAPYRA_KIND_EVENT, "g", "c", 1, -1, NULL, &en),
                     PAPYRA_EUNSUPPORTED);
    assert_null(en);
    papyra_store_close(s);
}

/* ---- failure modes ---- */

static void
test_redis_batch_should_be_one_transaction(void **state)
{
    papyra_store *s = open_store("maxlen=100000");
    papyra_record recs[50];
    char addrs[50][32];
    for (int i = 0; i < 50; i++) {
        (void)snprintf(addrs[i], sizeof(addrs[i]), "\"local://%d\"", i);
        recs[i] = event(addrs[i], (double)i);
    }
    recs[49].kind = PAPYRA_KIND_DEAD_LETTER;
    recs[49].u.dead_letter = (papyra_dead_letter){.message_type = "str", .timestamp = 1.0};
    assert_int_equal(papyra_store_write_batch(s, recs, 50), 0);
    assert_int_equal(raw_int("XLEN %s", key_of("events")), 49);
    assert_int_equal(raw_int("XLEN %s", key_of("dead_letters")), 1);
    papyra_store_close(s);

    s = open_store(NULL);
    /* A record that cannot be serialised fails the whole batch before anything is sent. */
    recs[10].u.event.payload = "{not json";
    assert_int_equal(papyra_store_write_batch(s, recs, 50), PAPYRA_EINVAL);
    assert_int_equal(raw_int("XLEN %s", key_of("events")), 49);
    papyra_store_close(s);

    /* maxlen=N: XADD MAXLEN ~ N keeps the stream near N (approximately). */
    recs[10].u.event.payload = "{}";
    s = open_store("maxlen=10");
    for (int i = 0; i < 10; i++)
        assert_int_equal(papyra_store_write_batch(s, recs, 49), 0);
    assert_true(raw_int("XLEN %s", key_of("events")) < 49 * 11);
    assert_true(raw_int("XLEN %s", key_of("events")) >= 10);
    papyra_store_close(s);
}

static void *
killer(void *arg)
{
    struct timespec ts = {.tv_nsec = 2000000};
    (void)arg;
    (void)nanosleep(&ts, NULL);
    papyra_test_redis_kill(&server);
    return NULL;
}

static void
test_redis_write_should_fail_while_down_and_recover_after_restart(void **state)
{
    papyra_store *s;
    papyra_record recs[100];
    papyra_record one = event("\"local://after\"", 2.0);
    int rc;

    if (!own_server)
        skip();
    s = open_store("connect_timeout_ms=500&timeout_ms=2000");
    for (int i = 0; i < 100; i++)
        recs[i] = event("\"local://1\"", 1.0);
    assert_int_equal(papyra_store_write_batch(s, recs, 100), 0);

    /* The server dies: the batch fails with an error and is counted, not lost silently. */
    papyra_test_redis_kill(&server);
    rc = papyra_store_write_batch(s, recs, 100);
    assert_true(rc == PAPYRA_ECONNECT || rc == PAPYRA_EIO);
    assert_non_null(strstr(papyra_store_errmsg(s), "redis"));
    assert_int_equal(metric(s, PAPYRA_METRIC_WRITE_ERRORS), 1);
    assert_int_equal(metric(s, PAPYRA_METRIC_RECORDS_WRITTEN), 100);
    rc = papyra_store_scan(s, &(papyra_scan_report *){NULL});
    assert_true(rc < 0);

    /* Back on the same port: the next write reconnects transparently. */
    assert_int_equal(papyra_test_redis_start(&server), 0);
    raw_connect();
    assert_int_equal(papyra_store_write(s, &one), 0);
    papyra_record_list *l = list_kind(s, PAPYRA_KIND_EVENT, NULL);
    assert_int_equal(l->count, 1); /* the server kept nothing (no persistence) */
    assert_string_equal(l->records[0].u.event.actor_address, "\"local://after\"");
    papyra_record_list_free(l);

    /* Killed in the middle of a large batch: an error (unless the batch won the race). */
    {
        enum { BIG = 20000 };
        papyra_record *big = calloc(BIG, sizeof(*big));
        pthread_t t;
        assert_non_null(big);
        for (int i = 0; i < BIG; i++)
            big[i] = event("\"local://big\"", 3.0);
        assert_int_equal(pthread_create(&t, NULL, killer, NULL), 0);
        rc = papyra_store_write_batch(s, big, BIG);
        assert_int_equal(pthread_join(t, NULL), 0);
        assert_true(rc == 0 || rc == PAPYRA_EIO || rc == PAPYRA_ECONNECT);
        free(big);
        assert_int_equal(papyra_test_redis_start(&server), 0);
        raw_connect();
        assert_int_equal(papyra_store_write(s, &one), 0);
        assert_int_equal(raw_int("XLEN %s", key_of("events")), 1);
    }

    /* A restart while the connection is idle is noticed before the next write. */
    papyra_test_redis_kill(&server);
    assert_int_equal(papyra_test_redis_start(&server), 0);
    raw_connect();
    assert_int_equal(papyra_store_write(s, &one), 0);
    assert_int_equal(raw_int("XLEN %s", key_of("events")), 1);
    papyra_store_close(s);
}

static void
test_redis_wrong_password_should_fail_open_clearly(void **state)
{
    papyra_test_redis sec = {.requirepass = "s3cret"};
    papyra_store *s = NULL;
    papyra_error e = {0};
    char url[512];

    if (!own_server)
        skip();
    assert_int_equal(papyra_test_redis_start(&sec), 0);
    (void)snprintf(url, sizeof(url), "redis://:wrong@127.0.0.1:%d/0?metrics=none", sec.port);
    assert_int_equal(papyra_store_open(&s, url, &e), PAPYRA_EACCES);
    assert_null(s);
    assert_non_null(strstr(e.message, "authentication failed"));
    (void)snprintf(url, sizeof(url), "redis://127.0.0.1:%d/0?metrics=none", sec.port);
    assert_int_equal(papyra_store_open(&s, url, &e), PAPYRA_EACCES);
    assert_non_null(strstr(e.message, "NOAUTH"));
    (void)snprintf(url, sizeof(url), "redis://127.0.0.1:%d/2?metrics=none", sec.port);
    assert_int_equal(papyra_store_open(&s, url, &e), PAPYRA_EACCES);
    /* Password only, then the Redis 6 ACL form with the default user. */
    (void)snprintf(url, sizeof(url), "redis://:s3cret@127.0.0.1:%d/0?metrics=none&prefix=%s",
                   sec.port, prefix);
    assert_int_equal(papyra_store_open(&s, url, &e), 0);
    write_events(s, 1);
    papyra_store_close(s);
    s = NULL;
    (void)snprintf(url, sizeof(url), "redis://default:s3cret@127.0.0.1:%d/3?metrics=none&prefix=%s",
                   sec.port, prefix);
    assert_int_equal(papyra_store_open(&s, url, &e), 0);
    write_events(s, 1);
    papyra_store_close(s);
    (void)snprintf(url, sizeof(url), "redis://nobody:s3cret@127.0.0.1:%d/0?metrics=none", sec.port);
    assert_int_equal(papyra_store_open(&s, url, &e), PAPYRA_EACCES);
    assert_non_null(strstr(e.message, "nobody"));
    papyra_test_redis_stop(&sec);
}

static void
test_redis_timeout_should_be_reported_and_the_next_call_reconnect(void **state)
{
    papyra_store *s;
    papyra_record e = event("\"local://1\"", 1.0);
    papyra_record_list *l;
    int rc;

    if (!own_server)
        skip(); /* CLIENT PAUSE would stall everyone on a shared server */
    s = open_store("timeout_ms=200");
    freeReplyObject(rawcmd("CLIENT PAUSE 1000 WRITE"));
    rc = papyra_store_write(s, &e);
    assert_int_equal(rc, PAPYRA_ETIMEDOUT);
    assert_non_null(strstr(papyra_store_errmsg(s), "XADD"));
    print_message("timeout message: %s\n", papyra_store_errmsg(s));
    freeReplyObject(rawcmd("CLIENT UNPAUSE"));
    /*
     * The paused XADD was still queued on the server: a timed-out write may
     * have been applied (at least once), which is why writes are never retried.
     */
    l = list_kind(s, PAPYRA_KIND_EVENT, NULL);
    assert_true(l->count <= 1);
    papyra_record_list_free(l);
    assert_int_equal(papyra_store_write(s, &e), 0);
    papyra_store_close(s);
}

static void
test_redis_wrong_key_type_should_be_an_error(void **state)
{
    papyra_store *s = open_store(NULL);
    papyra_record_list *l = NULL;
    papyra_scan_report *rep = NULL;
    papyra_record e = event("\"local://1\"", 1.0);

    freeReplyObject(rawcmd("SET %s notastream", key_of("events")));
    assert_int_equal(papyra_store_list(s, PAPYRA_KIND_EVENT, NULL, &l), PAPYRA_EPROTO);
    assert_null(l);
    assert_non_null(strstr(papyra_store_errmsg(s), "WRONGTYPE"));
    assert_int_equal(papyra_store_scan(s, &rep), PAPYRA_EPROTO);
    assert_null(rep);
    assert_int_equal(papyra_store_write(s, &e), PAPYRA_EPROTO);
    /* The connection survives an error reply. */
    l = list_kind(s, PAPYRA_KIND_AUDIT, NULL);
    assert_int_equal(l->count, 0);
    papyra_record_list_free(l);
    papyra_store_close(s);
}

static void
test_redis_bad_urls_should_be_rejected(void **state)
{
    papyra_store *s = NULL;
    papyra_error e = {0};
    assert_int_equal(papyra_store_open(&s, "redis://127.0.0.1:1/0?bogus=1", &e), PAPYRA_EINVAL);
    assert_non_null(strstr(e.message, "bogus"));
    assert_int_equal(papyra_store_open(&s, "redis://127.0.0.1:99999/0", &e), PAPYRA_EINVAL);
    assert_int_equal(papyra_store_open(&s, "redis://127.0.0.1:1/x", &e), PAPYRA_EINVAL);
    assert_int_equal(papyra_store_open(&s, "redis://127.0.0.1:1/0?maxlen=0", &e), PAPYRA_EINVAL);
    assert_int_equal(papyra_store_open(&s, "redis://127.0.0.1:1/0?connections=0", &e),
                     PAPYRA_EINVAL);
    assert_non_null(strstr(e.message, "'connections' must be >= 1"));
    assert_int_equal(papyra_store_open(&s, "redis://127.0.0.1:1/0?connections=65", &e),
                     PAPYRA_EINVAL);
    assert_non_null(strstr(e.message, "'connections' must be <= 64"));
    assert_int_equal(papyra_store_open(&s, "redis://127.0.0.1:1/0?connections=two", &e),
                     PAPYRA_EINVAL);
    assert_int_equal(
        papyra_store_open(&s, "redis://127.0.0.1:1/0?connect_timeout_ms=200&metrics=none", &e),
        PAPYRA_ECONNECT);
    assert_non_null(strstr(e.message, "127.0.0.1:1"));
    assert_null(s);
}

static void
test_redis_unix_socket_and_db_should_work(void **state)
{
    char url[4200];
    papyra_store *s = NULL;
    papyra_error e = {0};

    if (!own_server)
        skip();
    (void)snprintf(url, sizeof(url), "unix:%s?db=5&prefix=%s&metrics=none", server.sock, prefix);
    assert_int_equal(papyra_store_open(&s, url, &e), 0);
    write_events(s, 2);
    papyra_store_close(s);
    freeReplyObject(rawcmd("SELECT 5"));
    assert_int_equal(raw_int("XLEN %s", key_of("events")), 2);
    freeReplyObject(rawcmd("SELECT %d", dbnum));
    assert_int_equal(raw_int("XLEN %s", key_of("events")), 0);
}

static void
test_redis_since_hint_should_not_hide_matching_records(void **state)
{
    papyra_store *s = open_store(NULL);
    double now = (double)time(NULL);
    papyra_list_options o = {.has_since = true};
    papyra_record_list *l;
    papyra_record a = event("\"local://old\"", now - 100000.0); /* stamped long ago */
    papyra_record b = event("\"local://now\"", now);
    papyra_record c = event("\"local://future\"", now + 1e6); /* stamped ahead */

    assert_int_equal(papyra_store_write(s, &a), 0);
    assert_int_equal(papyra_store_write(s, &b), 0);
    assert_int_equal(papyra_store_write(s, &c), 0);
    o.since = now - 200000.0; /* before every insertion: all three */
    l = list_kind(s, PAPYRA_KIND_EVENT, &o);
    assert_int_equal(l->count, 3);
    papyra_record_list_free(l);
    o.since = now - 10.0;
    l = list_kind(s, PAPYRA_KIND_EVENT, &o);
    assert_int_equal(l->count, 2);
    papyra_record_list_free(l);
    o.since = now + 1000.0; /* in the future: the id bound is not used */
    l = list_kind(s, PAPYRA_KIND_EVENT, &o);
    assert_int_equal(l->count, 1);
    assert_string_equal(l->records[0].u.event.actor_address, "\"local://future\"");
    papyra_record_list_free(l);
    papyra_store_close(s);
}

static void
test_redis_ipv6_url_should_parse(void **state)
{
    papyra_store *s = NULL;
    papyra_error e = {0};
    assert_int_equal(
        papyra_store_open(&s, "redis://[::1]:1/0?connect_timeout_ms=200&metrics=none", &e),
        PAPYRA_ECONNECT);
    assert_non_null(strstr(e.message, "::1:1"));
    assert_int_equal(papyra_store_open(&s, "rediss://127.0.0.1:1/0", &e), PAPYRA_EUNSUPPORTED);
    assert_int_equal(papyra_store_open(&s, "redis://[::1:1/0", &e), PAPYRA_EINVAL);
}

/* ---- concurrency and scale ---- */

typedef struct thread_arg {
    papyra_store *s;
    int id;
    int bad;
} thread_arg;

enum { THREADS = 4, PER_THREAD = 250 };

/* Writes PER_THREAD records in batches of 1 to 4, payloads {"t": id, "n": 0...}. */
static void *
thread_writer(void *p)
{
    thread_arg *t = p;
    for (int i = 0; i < PER_THREAD;) {
        char payload[4][64];
        papyra_record b[4];
        int k = 1 + i % 4 < PER_THREAD - i ? 1 + i % 4 : PER_THREAD - i;
        for (int j = 0; j < k; j++) {
            b[j] = event("\"local://t\"", (double)(i + j));
            (void)snprintf(payload[j], sizeof(payload[j]), "{\"t\": %d, \"n\": %d}", t->id, i + j);
            b[j].u.event.payload = payload[j];
        }
        t->bad += papyra_store_write_batch(t->s, b, (size_t)k) != 0;
        i += k;
    }
    return NULL;
}

/*
 * Runs THREADS writers on @p s, then checks that the events stream holds
 * every record once, each thread's in the order it wrote them, and empties it.
 */
static void
run_writer_threads(papyra_store *s)
{
    pthread_t th[THREADS];
    thread_arg args[THREADS];
    int next[THREADS] = {0};
    papyra_record_list *l;

    for (int i = 0; i < THREADS; i++) {
        args[i] = (thread_arg){.s = s, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, thread_writer, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(args[i].bad, 0);
    }
    l = list_kind(s, PAPYRA_KIND_EVENT, NULL);
    assert_int_equal(l->count, THREADS * PER_THREAD);
    for (size_t i = 0; i < l->count; i++) {
        int t = -1, n = -1;
        assert_int_equal(sscanf(l->records[i].u.event.payload, "{\"t\": %d, \"n\": %d}", &t, &n),
                         2);
        assert_true(t >= 0 && t < THREADS);
        assert_int_equal(n, next[t]);
        next[t]++;
    }
    papyra_record_list_free(l);
    freeReplyObject(rawcmd("DEL %s", key_of("events")));
}

/* The server's connected_clients (INFO clients), the tests' own connection included. */
static long
connected_clients(void)
{
    redisReply *r = rawcmd("INFO clients");
    const char *p;
    long n = -1;

    assert_int_equal(r->type, REDIS_REPLY_STRING);
    p = strstr(r->str, "connected_clients:");
    assert_non_null(p);
    n = strtol(p + strlen("connected_clients:"), NULL, 10);
    freeReplyObject(r);
    return n;
}

static void
test_redis_threads_sharing_a_store_should_lose_nothing(void **state)
{
    const char *conns[] = {"connections=1", "connections=2", NULL};

    for (size_t c = 0; c < sizeof(conns) / sizeof(conns[0]); c++) {
        papyra_store *s = open_store(conns[c]);
        long before = own_server ? connected_clients() : 0;

        run_writer_threads(s);
        assert_int_equal(metric(s, PAPYRA_METRIC_RECORDS_WRITTEN), THREADS * PER_THREAD);
        assert_int_equal(metric(s, PAPYRA_METRIC_WRITE_ERRORS), 0);
        /* Spares are opened only for writers that overlap, never past `connections`. */
        if (own_server)
            assert_true(connected_clients() - before <= (c == 2 ? 3 : (long)c));
        if (own_server && c == 1) {
            /* A restart drops every connection: each reconnects on its next write. */
            papyra_test_redis_kill(&server);
            assert_int_equal(papyra_test_redis_start(&server), 0);
            raw_connect();
            run_writer_threads(s);
            assert_int_equal(metric(s, PAPYRA_METRIC_WRITE_ERRORS), 0);
        }
        papyra_store_close(s);
    }
}

typedef struct restart_writer {
    papyra_store *s;
    atomic_bool *stop;
    uint64_t ok_records, failed_calls, ok_after_restart;
    atomic_bool *restarted;
} restart_writer;

/* Writes batches of 5 until told to stop, tallying what succeeded and what failed. */
static void *
restart_writer_main(void *p)
{
    restart_writer *w = p;
    papyra_record b[5];

    for (int i = 0; i < 5; i++)
        b[i] = event("\"local://r\"", (double)i);
    while (!atomic_load(w->stop)) {
        bool after = atomic_load(w->restarted);
        if (papyra_store_write_batch(w->s, b, 5) == 0) {
            w->ok_records += 5;
            w->ok_after_restart += after;
        } else {
            w->failed_calls++;
        }
    }
    return NULL;
}

/*
 * The server is killed and restarted while threads write through one store
 * and its spare connections: every call either succeeds or fails, the
 * counters agree exactly with what the callers were told, and every
 * connection comes back by itself.
 */
static void
test_redis_threads_should_count_exactly_across_a_restart(void **state)
{
    enum { N = 4 };
    atomic_bool stop = false, restarted = false;
    restart_writer w[N];
    pthread_t th[N];
    uint64_t ok = 0, failed = 0;
    struct timespec pause = {.tv_nsec = 200000000};
    papyra_store *s;

    if (!own_server)
        skip();
    s = open_store("connect_timeout_ms=500&timeout_ms=2000");
    for (int i = 0; i < N; i++) {
        w[i] = (restart_writer){.s = s, .stop = &stop, .restarted = &restarted};
        assert_int_equal(pthread_create(&th[i], NULL, restart_writer_main, &w[i]), 0);
    }
    (void)nanosleep(&pause, NULL);
    papyra_test_redis_kill(&server);
    (void)nanosleep(&pause, NULL);
    assert_int_equal(papyra_test_redis_start(&server), 0);
    atomic_store(&restarted, true);
    (void)nanosleep(&pause, NULL);
    (void)nanosleep(&pause, NULL);
    atomic_store(&stop, true);
    for (int i = 0; i < N; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        ok += w[i].ok_records;
        failed += w[i].failed_calls;
        assert_true(w[i].ok_after_restart > 0); /* each writer's connection came back */
    }
    raw_connect();
    print_message("%" PRIu64 " records written, %" PRIu64 " calls failed\n", ok, failed);
    assert_true(failed > 0);
    assert_int_equal(metric(s, PAPYRA_METRIC_RECORDS_WRITTEN), ok);
    assert_int_equal(metric(s, PAPYRA_METRIC_WRITE_ERRORS), failed);
    papyra_store_close(s);
}

typedef struct consumer_arg {
    papyra_store *s;
    int block_ms;
    int rc;
    atomic_bool done;
} consumer_arg;

/* Blocks in a consume of the (empty) audits stream. */
static void *
blocked_consumer(void *p)
{
    consumer_arg *a = p;
    papyra_redis_entries *en = NULL;

    a->rc = papyra_redis_consume(a->s, PAPYRA_KIND_AUDIT, "g", "c", 10, a->block_ms, NULL, &en);
    papyra_redis_entries_free(en);
    atomic_store(&a->done, true);
    return NULL;
}

/* Waits until the server has one client blocked in XREADGROUP. */
static void
wait_for_blocked_client(void)
{
    for (int i = 0; i < 5000; i++) {
        redisReply *r = rawcmd("INFO clients");
        bool blocked = strstr(r->str, "blocked_clients:1\r\n") != NULL;
        struct timespec ts = {.tv_nsec = 1000000};

        freeReplyObject(r);
        if (blocked)
            return;
        (void)nanosleep(&ts, NULL);
    }
    fail_msg("the consume never blocked");
}

static void
test_redis_write_should_not_wait_for_a_blocking_consume(void **state)
{
    papyra_record e = event("\"local://1\"", 1.0);
    consumer_arg a = {.block_ms = 10000};
    pthread_t t;

    if (!own_server)
        skip(); /* blocked_clients counts every client of a shared server */
    /* Default connections: the write goes through a spare while the consume blocks. */
    a.s = open_store(NULL);
    assert_int_equal(papyra_redis_group_ensure(a.s, PAPYRA_KIND_AUDIT, "g", "$"), 0);
    assert_int_equal(pthread_create(&t, NULL, blocked_consumer, &a), 0);
    wait_for_blocked_client();
    assert_int_equal(papyra_store_write(a.s, &e), 0);
    assert_false(atomic_load(&a.done));
    assert_int_equal(raw_int("XLEN %s", key_of("events")), 1);
    /* An audit entry ends the consume. */
    freeReplyObject(rawcmd("XADD %s * data {}", key_of("audits")));
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(a.rc, 0);
    papyra_store_close(a.s);

    /* connections=1: the write waits until the consume gives the connection back. */
    a = (consumer_arg){.block_ms = 300, .s = open_store("connections=1")};
    assert_int_equal(pthread_create(&t, NULL, blocked_consumer, &a), 0);
    wait_for_blocked_client();
    assert_int_equal(papyra_store_write(a.s, &e), 0);
    assert_true(atomic_load(&a.done));
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(a.rc, 0);
    assert_int_equal(raw_int("XLEN %s", key_of("events")), 2);
    papyra_store_close(a.s);
}

static void
test_redis_concurrent_processes_should_lose_nothing(void **state)
{
    enum { WORKERS = 4, PER = 500 };
    char *dir = papyra_test_tmpdir();
    char extra[4200];
    pid_t pids[WORKERS];
    papyra_store *s;
    papyra_record_list *l;
    static bool seen[WORKERS][PER];

    (void)snprintf(extra, sizeof(extra), "metrics=%s/shared.metrics", dir);
    for (int w = 0; w < WORKERS; w++) {
        pids[w] = fork();
        assert_true(pids[w] >= 0);
        if (pids[w] == 0) {
            char url[5000], payload[64];
            papyra_store *cs = NULL;
            int bad = 0;
            (void)snprintf(url, sizeof(url), "redis://%s:%d/%d?prefix=%s&%s", host, port, dbnum,
                           prefix, extra);
            if (papyra_store_open(&cs, url, NULL) != 0)
                _exit(2);
            for (int i = 0; i < PER; i += 2) {
                papyra_record b[2];
                char p2[64];
                (void)snprintf(payload, sizeof(payload), "{\"w\": %d, \"n\": %d}", w, i);
                (void)snprintf(p2, sizeof(p2), "{\"w\": %d, \"n\": %d}", w, i + 1);
                b[0] = event("\"local://w\"", (double)i);
                b[0].u.event.payload = payload;
                b[1] = b[0];
                b[1].u.event.payload = p2;
                if (i % 4 == 0)
                    bad += papyra_store_write_batch(cs, b, 2) != 0;
                else
                    bad += papyra_store_write(cs, &b[0]) != 0 || papyra_store_write(cs, &b[1]) != 0;
            }
            papyra_store_close(cs);
            _exit(bad ? 1 : 0);
        }
    }
    for (int w = 0; w < WORKERS; w++) {
        int st;
        assert_int_equal(waitpid(pids[w], &st, 0), pids[w]);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    s = open_store(NULL);
    l = list_kind(s, PAPYRA_KIND_EVENT, NULL);
    assert_int_equal(l->count, WORKERS * PER);
    for (size_t i = 0; i < l->count; i++) {
        int w = -1, n = -1;
        assert_int_equal(sscanf(l->records[i].u.event.payload, "{\"w\": %d, \"n\": %d}", &w, &n),
                         2);
        assert_true(w >= 0 && w < WORKERS && n >= 0 && n < PER);
        assert_false(seen[w][n]);
        seen[w][n] = true;
    }
    papyra_record_list_free(l);
    papyra_store_close(s);
    {
        char url[5000];
        (void)snprintf(url, sizeof(url), "redis://%s:%d/%d?prefix=%s&%s", host, port, dbnum, prefix,
                       extra);
        assert_int_equal(papyra_store_open(&s, url, NULL), 0);
        assert_int_equal(metric(s, PAPYRA_METRIC_RECORDS_WRITTEN), WORKERS * PER);
        papyra_store_close(s);
    }
    papyra_test_rmtree(dir);
    free(dir);
}

static long
maxrss_kb(void)
{
    struct rusage ru;
    (void)getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static void
test_redis_scan_of_a_large_stream_should_use_bounded_memory(void **state)
{
    const char *env = getenv("PAPYRA_TEST_REDIS_BIG_COUNT");
    long n = env ? atol(env) : 1000000;
    const char *line = "{\"kind\": \"event\", \"system_id\": \"local\", \"actor_address\": "
                       "\"local://1\", \"event_type\": \"ActorStarted\", \"payload\": {}, "
                       "\"timestamp\": 1.0}";
    const char *key = key_of("events");
    papyra_store *s;
    papyra_scan_report *rep = NULL;
    long before;

    if (n <= 0)
        skip();
    if (!raw || raw->err)
        raw_connect();
    /* Fill with pipelined XADDs, 10,000 per round trip; every 100,000th entry is corrupt. */
    for (long done = 0; done < n;) {
        long batch = n - done < 10000 ? n - done : 10000;
        for (long i = 0; i < batch; i++) {
            bool corrupt = (done + i) % 100000 == 99999;
            assert_int_equal(
                redisAppendCommand(raw, "XADD %s * data %s", key, corrupt ? "{oops" : line),
                REDIS_OK);
        }
        for (long i = 0; i < batch; i++) {
            void *r = NULL;
            assert_int_equal(redisGetReply(raw, &r), REDIS_OK);
            freeReplyObject(r);
        }
        done += batch;
    }
    assert_int_equal(raw_int("XLEN %s", key), n);
    s = open_store("timeout_ms=60000");
    before = maxrss_kb();
    assert_int_equal(papyra_store_scan(s, &rep), 0);
    assert_int_equal(rep->count, (size_t)(n / 100000));
    papyra_scan_report_free(rep);
    /*
     * A whole-stream reply would be hundreds of MB; a page is well under 16 MB.
     * (ASan's quarantine keeps freed memory resident, so only the plain build checks.)
     */
#ifndef __SANITIZE_ADDRESS__
    assert_true(maxrss_kb() - before < 64 * 1024);
#else
    (void)before;
#endif
    {
        papyra_list_options o = {.limit = 5};
        papyra_record_list *l = list_kind(s, PAPYRA_KIND_EVENT, &o);
        assert_int_equal(l->count, 5);
        papyra_record_list_free(l);
    }
    papyra_store_close(s);
    freeReplyObject(rawcmd("DEL %s", key));
}

static int
find_server(void)
{
    const char *url = getenv("PAPYRA_TEST_REDIS_URL");
    const char *require = getenv("PAPYRA_TEST_REQUIRE_REDIS");
    bool required = require && strcmp(require, "1") == 0;

    if (url && *url) {
        /* redis://host:port/db, nothing else: the tests add their own parameters. */
        if (sscanf(url, "redis://%255[^:/]:%d/%d", host, &port, &dbnum) < 2) {
            fprintf(stderr, "PAPYRA_TEST_REDIS_URL must look like redis://host:port/db\n");
            return 1;
        }
        return 0;
    }
    if (!papyra_test_redis_available()) {
        fprintf(stderr, "%s: redis-server is not on PATH and PAPYRA_TEST_REDIS_URL is unset%s\n",
                required ? "FAIL" : "SKIP", required ? " (PAPYRA_TEST_REQUIRE_REDIS=1)" : "");
        return required ? 1 : 77;
    }
    if (papyra_test_redis_start(&server) != 0) {
        fprintf(stderr, "redis-server could not be started\n");
        return required ? 1 : 77;
    }
    own_server = true;
    port = server.port;
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_redis_event_audit_and_dead_letter_should_round_trip,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_max_records_should_keep_the_newest_on_read,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_limit_and_since_should_select_the_newest, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_redis_scan_should_report_corrupt_entries_with_upstream_details, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_repair_should_leave_a_clean_scan, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_redis_quarantine_should_copy_every_field_then_delete,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_compact_should_trim_exactly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_compact_should_apply_age_and_size_physically,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_compact_should_not_change_what_reads_return,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_data_field_should_be_upstream_bytes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_redis_should_read_entries_written_by_upstream, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_redis_metrics_should_count_writes_and_scan_anomalies,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_redis_default_metrics_path_should_be_under_the_state_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_consumer_group_should_consume_and_ack, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_redis_consumer_group_should_claim_pending, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_redis_consumer_group_should_quarantine_malformed_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_consumer_groups_should_refuse_other_backends,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_batch_should_be_one_transaction, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_redis_wrong_password_should_fail_open_clearly, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_redis_timeout_should_be_reported_and_the_next_call_reconnect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_wrong_key_type_should_be_an_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_redis_bad_urls_should_be_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_unix_socket_and_db_should_work, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_since_hint_should_not_hide_matching_records,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_ipv6_url_should_parse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_threads_sharing_a_store_should_lose_nothing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_write_should_not_wait_for_a_blocking_consume,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_threads_should_count_exactly_across_a_restart,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_concurrent_processes_should_lose_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_redis_scan_of_a_large_stream_should_use_bounded_memory,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_redis_write_should_fail_while_down_and_recover_after_restart, setup, teardown),
    };
    int rc = find_server();

    if (rc != 0)
        return rc;
    rc = cmocka_run_group_tests_name("redis", tests, NULL, NULL);
    redisFree(raw);
    if (own_server)
        papyra_test_redis_stop(&server);
    return rc;
}
