/* SPDX-License-Identifier: MIT */
/*
 * The Redis Streams backend against a real redis-server: upstream's Redis
 * tests of writes and reads (persistence, metrics, consumer groups), byte
 * compatibility of the `data` field, batches and keys of the wrong type.
 * Maintenance: test-redis-maint.c; connections, threads and processes:
 * test-redis-conn.c; server and keys: redis-testutil.h.
 */
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <papyra/redis.h>
#include <papyra/store.h>

#include "backends/redis/redis-private.h"
#include "redis-testutil.h"
#include "store-testutil.h"
#include "testutil.h"

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
    papyra_record e = st_event_addr("\"local://1\"", 10.5);
    const char *orphans[] = {"a", "b"};
    papyra_record a = st_audit(3, 5.5);
    papyra_record d = st_dead_letter("\"late\"", 300.0);
    papyra_record_list *l;

    e.u.event.payload = "{\"reason\": \"stopped\"}";
    a.u.audit.alive_actors = 2;
    a.u.audit.registry_size = 1;
    a.u.audit.registry_orphans = orphans;
    a.u.audit.n_registry_orphans = 2;
    a.u.audit.dead_letters_count = 7;
    assert_int_equal(papyra_store_write(s, &e), 0);
    assert_int_equal(papyra_store_write(s, &a), 0);
    assert_int_equal(papyra_store_write(s, &d), 0);

    l = st_list_one(s, PAPYRA_KIND_EVENT);
    assert_string_equal(l->records[0].u.event.actor_address, "\"local://1\"");
    assert_string_equal(l->records[0].u.event.event_type, "ActorStarted");
    assert_string_equal(l->records[0].u.event.payload, "{\"reason\": \"stopped\"}");
    assert_true(l->records[0].u.event.timestamp == 10.5);
    papyra_record_list_free(l);

    l = st_list_one(s, PAPYRA_KIND_AUDIT);
    assert_int_equal(l->records[0].u.audit.total_actors, 3);
    assert_int_equal(l->records[0].u.audit.alive_actors, 2);
    assert_int_equal(l->records[0].u.audit.dead_letters_count, 7);
    assert_int_equal(l->records[0].u.audit.n_registry_orphans, 2);
    assert_string_equal(l->records[0].u.audit.registry_orphans[1], "b");
    papyra_record_list_free(l);

    l = st_list_one(s, PAPYRA_KIND_DEAD_LETTER);
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
    st_write_events(s, 1, 4);
    l = st_list(s, PAPYRA_KIND_EVENT, -1, 0);
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
    papyra_record_list *l;

    st_write_events(s, 1, 2500); /* more than two pages */
    l = st_list(s, PAPYRA_KIND_EVENT, -1, 3);
    assert_int_equal(l->count, 3);
    assert_true(l->records[0].u.event.timestamp == 2498.0);
    assert_true(l->records[2].u.event.timestamp == 2500.0);
    papyra_record_list_free(l);

    l = st_list(s, PAPYRA_KIND_EVENT, 1001.0, 0);
    assert_int_equal(l->count, 1500);
    assert_true(l->records[0].u.event.timestamp == 1001.0);
    papyra_record_list_free(l);

    st_assert_event_stamp(s, 2500, 0, 1.0);
    papyra_store_close(s);
}

/* ---- byte compatibility with upstream ---- */

static void
test_redis_data_field_should_be_upstream_bytes(void **state)
{
    papyra_store *s = open_store(NULL);
    papyra_record e = st_event_addr("{\"system\": \"local\", \"actor_id\": 1}", 4312.118907211);
    const char *orphans[] = {"a"};
    papyra_record a = st_audit(1, 5.5);
    papyra_record d = st_dead_letter("\"late\"", 300.0);
    char *data;

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
    papyra_compaction_report crep;

    /* Upstream's own lines, and a minimal one that takes defaults (TEST-PINNED upstream). */
    freeReplyObject(rawcmd("XADD %s * data %s", key_of("events"),
                           "{\"kind\": \"event\", \"system_id\": \"local\", \"actor_address\": "
                           "\"local://1\", \"event_type\": \"ActorStarted\", \"payload\": {}, "
                           "\"timestamp\": 1.0}"));
    freeReplyObject(
        rawcmd("XADD %s * data %s", key_of("events"), "{\"kind\":\"event\",\"timestamp\":2}"));
    freeReplyObject(rawcmd("XADD %s * data %s", key_of("events"), "{not-json"));
    l = st_list(s, PAPYRA_KIND_EVENT, -1, 0);
    assert_int_equal(l->count, 2);
    assert_string_equal(l->records[0].u.event.actor_address, "\"local://1\"");
    assert_string_equal(l->records[1].u.event.event_type, "");
    assert_string_equal(l->records[1].u.event.system_id, "local");
    papyra_record_list_free(l);
    st_assert_scan(s, 1);
    assert_int_equal(papyra_store_compact(s, &crep), 0);
    assert_int_equal(crep.before_records, 3);
    assert_int_equal(crep.after_records, 2);
    papyra_store_close(s);
}

/* ---- upstream's test_metrics_redis.py ---- */

static void
test_redis_metrics_should_count_writes_and_scan_anomalies(void **state)
{
    char extra[4200], url[5000];
    papyra_store *s;
    papyra_scan_report *rep = NULL;

    (void)snprintf(extra, sizeof(extra), "metrics=%s/redis.metrics", (char *)*state);
    store_url(url, sizeof(url), extra);
    s = st_open("%s", url);
    st_write_events(s, 1, 1);
    assert_int_equal(st_counter(s, PAPYRA_METRIC_RECORDS_WRITTEN), 1);
    freeReplyObject(rawcmd("XADD %s * data {not-json", key_of("events")));
    assert_int_equal(papyra_store_scan(s, &rep), 0);
    assert_true(rep->count >= 1);
    papyra_scan_report_free(rep);
    assert_int_equal(st_counter(s, PAPYRA_METRIC_SCAN_OPERATIONS), 1);
    assert_int_equal(st_counter(s, PAPYRA_METRIC_ANOMALY_DETECTED), 1);
    papyra_record_list *l = st_list(s, PAPYRA_KIND_EVENT, -1, 0);
    assert_int_equal(st_counter(s, PAPYRA_METRIC_RECORDS_READ), 1);
    assert_int_equal(st_counter(s, PAPYRA_METRIC_ANOMALY_DETECTED), 2);
    papyra_record_list_free(l);
    papyra_store_close(s);
}

static void
test_redis_default_metrics_path_should_be_under_the_state_dir(void **state)
{
    const char *dir = *state;
    char *old = getenv("XDG_STATE_HOME") ? strdup(getenv("XDG_STATE_HOME")) : NULL;
    char url[1024], want[4200];
    papyra_store *s;
    struct stat st;

    (void)setenv("XDG_STATE_HOME", dir, 1);
    store_url(url, sizeof(url), NULL);
    s = st_open("%s", url);
    assert_null(papyra_store_metrics_warning(s));
    (void)snprintf(want, sizeof(want), "%s/papyra/redis-%s-%d-%d-%s.metrics", dir, host, port,
                   dbnum, prefix);
    assert_int_equal(stat(want, &st), 0);
    st_write_events(s, 1, 1);
    papyra_store_close(s);
    if (old) {
        (void)setenv("XDG_STATE_HOME", old, 1);
        free(old);
    } else {
        (void)unsetenv("XDG_STATE_HOME");
    }
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

    st_write_events(s, 1, 3);
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

    st_write_events(s, 1, 1);
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
    st_write_events(s, 1, 1);
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

static void
test_redis_batch_should_be_one_transaction(void **state)
{
    papyra_store *s = open_store("maxlen=100000");
    papyra_record recs[50];
    char addrs[50][32];
    for (int i = 0; i < 50; i++) {
        (void)snprintf(addrs[i], sizeof(addrs[i]), "\"local://%d\"", i);
        recs[i] = st_event_addr(addrs[i], (double)i);
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

static void
test_redis_wrong_key_type_should_be_an_error(void **state)
{
    papyra_store *s = open_store(NULL);
    papyra_record_list *l = NULL;
    papyra_scan_report *rep = NULL;
    papyra_record e = st_event_addr("\"local://1\"", 1.0);

    freeReplyObject(rawcmd("SET %s notastream", key_of("events")));
    assert_int_equal(papyra_store_list(s, PAPYRA_KIND_EVENT, NULL, &l), PAPYRA_EPROTO);
    assert_null(l);
    assert_non_null(strstr(papyra_store_errmsg(s), "WRONGTYPE"));
    assert_int_equal(papyra_store_scan(s, &rep), PAPYRA_EPROTO);
    assert_null(rep);
    assert_int_equal(papyra_store_write(s, &e), PAPYRA_EPROTO);
    /* The connection survives an error reply. */
    st_assert_count(s, PAPYRA_KIND_AUDIT, 0);
    papyra_store_close(s);
}

static void
test_redis_since_hint_should_not_hide_matching_records(void **state)
{
    papyra_store *s = open_store(NULL);
    double now = (double)time(NULL);
    papyra_record_list *l;
    papyra_record a = st_event_addr("\"local://old\"", now - 100000.0); /* stamped long ago */
    papyra_record b = st_event_addr("\"local://now\"", now);
    papyra_record c = st_event_addr("\"local://future\"", now + 1e6); /* stamped ahead */

    assert_int_equal(papyra_store_write(s, &a), 0);
    assert_int_equal(papyra_store_write(s, &b), 0);
    assert_int_equal(papyra_store_write(s, &c), 0);
    l = st_list(s, PAPYRA_KIND_EVENT, now - 200000.0, 0); /* before every insertion: all three */
    assert_int_equal(l->count, 3);
    papyra_record_list_free(l);
    l = st_list(s, PAPYRA_KIND_EVENT, now - 10.0, 0);
    assert_int_equal(l->count, 2);
    papyra_record_list_free(l);
    l = st_list(s, PAPYRA_KIND_EVENT, now + 1000.0, 0); /* in the future: the id bound is unused */
    assert_int_equal(l->count, 1);
    assert_string_equal(l->records[0].u.event.actor_address, "\"local://future\"");
    papyra_record_list_free(l);
    papyra_store_close(s);
}

/* ---- whole-stream reads: pages ---- */

enum { PAGE = PAPYRA_REDIS_LIST_PAGE };

/* Appends events stamped first .. first + count - 1, in batches. */
static void
fill_events(papyra_store *s, int first, int count)
{
    papyra_record recs[250];

    while (count > 0) {
        int k = count < 250 ? count : 250;
        for (int i = 0; i < k; i++)
            recs[i] = st_event(first + i, first + i);
        assert_int_equal(papyra_store_write_batch(s, recs, (size_t)k), 0);
        first += k;
        count -= k;
    }
}

/* Timestamps that papyra_store_each() delivered. */
typedef struct stamps {
    double ts[4 * PAGE];
    size_t n;
    /* When set: called with the stamps so far after each delivery. */
    void (*hook)(struct stamps *st);
    char **ids; /* the hook's: entry ids by stamp - 1 */
} stamps;

static int
collect(const papyra_record *r, void *arg)
{
    stamps *st = arg;

    assert_true(st->n < sizeof(st->ts) / sizeof(st->ts[0]));
    st->ts[st->n++] = r->u.event.timestamp;
    if (st->hook)
        st->hook(st);
    return 0;
}

/* Asserts that @p l holds the events stamped first .. first + n - 1 in order. */
static void
assert_stamps(const papyra_record_list *l, int first, size_t n)
{
    assert_int_equal(l->count, n);
    for (size_t i = 0; i < n; i++) {
        if (l->records[i].u.event.timestamp != (double)first + (double)i)
            fail_msg("record %zu is stamped %.17g, expected %d", i, l->records[i].u.event.timestamp,
                     first + (int)i);
    }
}

/* How many XREVRANGE commands the server has run. */
static long long
xrevrange_calls(void)
{
    redisReply *r = rawcmd("INFO commandstats");
    const char *p;
    long long n = 0;

    assert_int_equal(r->type, REDIS_REPLY_STRING);
    p = strstr(r->str, "cmdstat_xrevrange:calls=");
    if (p)
        n = atoll(p + strlen("cmdstat_xrevrange:calls="));
    freeReplyObject(r);
    return n;
}

/*
 * Streams one entry short of a page, a page, one more, and the same around
 * two pages: list and each return every record once, oldest to newest.
 */
static void
test_redis_reads_should_page_through_streams_around_the_page_size(void **state)
{
    static const int sizes[] = {PAGE - 1, PAGE, PAGE + 1, 2 * PAGE - 1, 2 * PAGE, 2 * PAGE + 1};
    papyra_store *s = open_store(NULL);
    stamps *st = calloc(1, sizeof(*st));
    int have = 0;

    assert_non_null(st);
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        papyra_record_list *l;

        fill_events(s, have + 1, sizes[k] - have);
        have = sizes[k];
        l = st_list(s, PAPYRA_KIND_EVENT, -1, 0);
        assert_stamps(l, 1, (size_t)have);
        papyra_record_list_free(l);
        /* The newest page exactly, and one record more. */
        l = st_list(s, PAPYRA_KIND_EVENT, -1, PAGE);
        assert_stamps(l, have > PAGE ? have - PAGE + 1 : 1, (size_t)(have < PAGE ? have : PAGE));
        papyra_record_list_free(l);
        st->n = 0;
        assert_int_equal(papyra_store_each(s, PAPYRA_KIND_EVENT, NULL, collect, st), 0);
        assert_int_equal(st->n, (size_t)have);
        for (size_t i = 0; i < st->n; i++)
            assert_true(st->ts[i] == (double)(i + 1));
    }
    free(st);
    papyra_store_close(s);
}

/* The bytes the server has sent to its clients. */
static long long
server_output_bytes(void)
{
    redisReply *r = rawcmd("INFO stats");
    const char *p;
    long long n = -1;

    assert_int_equal(r->type, REDIS_REPLY_STRING);
    p = strstr(r->str, "total_net_output_bytes:");
    if (p)
        n = atoll(p + strlen("total_net_output_bytes:"));
    freeReplyObject(r);
    assert_true(n >= 0);
    return n;
}

/*
 * A limit that ends on a page boundary fetches no page beyond it: the
 * request for the next page is sent ahead only when the records may be
 * needed, and a small limit asks for a small page.
 */
static void
test_redis_limit_on_a_page_boundary_should_fetch_no_further_page(void **state)
{
    static const struct {
        size_t limit;
        long long calls;
    } cases[] = {
        {PAGE, 1}, {PAGE - 1, 1}, {PAGE + 1, 2}, {2 * PAGE, 2}, {2 * PAGE + 1, 3}, {0, 3}, {10, 1},
    };
    papyra_store *s = open_store(NULL);
    stamps *st = calloc(1, sizeof(*st));
    const int n = 2 * PAGE + 5;

    assert_non_null(st);
    fill_events(s, 1, n);
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        size_t want = cases[k].limit ? cases[k].limit : (size_t)n;
        long long bytes = server_output_bytes(), before = xrevrange_calls(), calls;
        papyra_record_list *l = st_list(s, PAPYRA_KIND_EVENT, -1, cases[k].limit);
        papyra_list_options o = {.limit = cases[k].limit};

        bytes = server_output_bytes() - bytes;
        calls = xrevrange_calls() - before;
        /* The newest 10 cost PAPYRA_REDIS_LIST_LEAST entries of about 200 bytes, not a page. */
        if (cases[k].limit == 10 && bytes > 200 * PAPYRA_REDIS_LIST_LEAST + 4096)
            fail_msg("limit 10: the server sent %lld bytes", bytes);
        assert_stamps(l, n - (int)want + 1, want);
        papyra_record_list_free(l);
        if (calls != cases[k].calls)
            fail_msg("limit %zu: %lld XREVRANGE, expected %lld", cases[k].limit, calls,
                     cases[k].calls);
        /* each() finds where to start with the same walk. */
        st->n = 0;
        before = xrevrange_calls();
        assert_int_equal(papyra_store_each(s, PAPYRA_KIND_EVENT, &o, collect, st), 0);
        calls = xrevrange_calls() - before;
        assert_int_equal(st->n, want);
        assert_true(st->ts[0] == (double)(n - (int)want + 1));
        assert_true(cases[k].limit ? calls == cases[k].calls : calls == 1);
    }
    free(st);
    papyra_store_close(s);
}

/* After record PAGE (the end of each's first page): drops it, the next one and the 2*PAGE-th. */
static void
delete_ahead(stamps *st)
{
    if (st->n != PAGE)
        return;
    freeReplyObject(rawcmd("XDEL %s %s %s %s", key_of("events"), st->ids[PAGE - 1], st->ids[PAGE],
                           st->ids[2 * PAGE - 1]));
}

/* The ids of the @p n entries of the events stream, oldest first (malloc'd). */
static char **
event_ids(size_t n)
{
    redisReply *r = rawcmd("XRANGE %s - +", key_of("events"));
    char **ids = calloc(n, sizeof(*ids));

    assert_non_null(ids);
    assert_int_equal(r->elements, n);
    for (size_t i = 0; i < n; i++)
        ids[i] = strdup(r->element[i]->element[0]->str);
    freeReplyObject(r);
    return ids;
}

static void
free_ids(char **ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

/* What deleter() deletes: every third entry of the stream, oldest first. */
typedef struct deletion {
    char **ids;
    size_t n;
} deletion;

static void *
deleter(void *arg)
{
    const deletion *d = arg;
    struct timeval tv = {.tv_sec = 5};
    redisContext *c = redisConnectWithTimeout(host, port, tv);

    if (!c || c->err)
        return (void *)1;
    freeReplyObject(redisCommand(c, "SELECT %d", dbnum));
    for (size_t i = 0; i < d->n; i += 3)
        freeReplyObject(redisCommand(c, "XDEL %s %s", key_of("events"), d->ids[i]));
    redisFree(c);
    return NULL;
}

/*
 * Entries deleted by another client between two pages, the one a page
 * resumes from among them, are neither repeated nor a reason to stop early.
 */
static void
test_redis_entries_deleted_between_pages_should_neither_repeat_nor_stop_the_read(void **state)
{
    papyra_store *s = open_store(NULL);
    stamps *st = calloc(1, sizeof(*st));
    const size_t n = 2 * PAGE + 10, big = 4 * PAGE;
    deletion d;
    pthread_t th;
    papyra_record_list *l;
    void *res = NULL;
    size_t j = 0;

    assert_non_null(st);
    fill_events(s, 1, (int)n);
    st->ids = event_ids(n);
    st->hook = delete_ahead;
    assert_int_equal(papyra_store_each(s, PAPYRA_KIND_EVENT, NULL, collect, st), 0);
    /* Record PAGE was delivered before it went; PAGE + 1 and 2 * PAGE were not. */
    assert_int_equal(st->n, n - 2);
    for (size_t i = 0; i < n; i++) {
        if (i + 1 == PAGE + 1 || i + 1 == 2 * PAGE)
            continue;
        assert_true(st->ts[j++] == (double)(i + 1));
    }
    free_ids(st->ids, n);

    /* list while another client deletes every third entry: a subset, in order, no repeats. */
    freeReplyObject(rawcmd("DEL %s", key_of("events")));
    fill_events(s, 1, (int)big);
    d.ids = event_ids(big);
    d.n = big;
    assert_int_equal(pthread_create(&th, NULL, deleter, &d), 0);
    l = st_list(s, PAPYRA_KIND_EVENT, -1, 0);
    assert_int_equal(pthread_join(th, &res), 0);
    assert_null(res);
    for (size_t i = 0, k = 0; i < big; i++) {
        bool listed = k < l->count && l->records[k].u.event.timestamp == (double)(i + 1);
        if (i % 3 != 0 && !listed)
            fail_msg("record %zu, never deleted, is missing", i + 1);
        k += listed;
        if (i + 1 == big)
            assert_int_equal(k, l->count); /* nothing else, nothing twice */
    }
    papyra_record_list_free(l);
    free_ids(d.ids, big);
    st_assert_count(s, PAPYRA_KIND_EVENT, big - (big + 2) / 3);
    free(st);
    papyra_store_close(s);
}

/*
 * Malformed entries in the second page are skipped and counted once by list
 * and by each; entries that are not in normal form, or hold more fields,
 * are read as before.
 */
static void
test_redis_malformed_entries_in_the_second_page_should_be_counted_once(void **state)
{
    papyra_store *s = open_store(NULL);
    const char *key = key_of("events");
    stamps *st = calloc(1, sizeof(*st));
    uint64_t before;
    papyra_record_list *l;

    assert_non_null(st);
    /* The oldest entries: the second page of a backward walk. */
    freeReplyObject(rawcmd("XADD %s * other x", key));
    freeReplyObject(rawcmd("XADD %s * data {not-json", key));
    freeReplyObject(rawcmd("XADD %s * data x data [1,2]", key)); /* the last data counts */
    freeReplyObject(rawcmd("XADD %s * data %s", key,
                           "{\"timestamp\":0.5,\"kind\":\"event\",\"event_type\":\"\\u00e9\"}"));
    freeReplyObject(rawcmd("XADD %s * data [1,2] data %s other y", key,
                           "{\"kind\": \"event\", \"timestamp\": 0.75}"));
    fill_events(s, 1, PAGE + 2);

    before = st_counter(s, PAPYRA_METRIC_ANOMALY_DETECTED);
    l = st_list(s, PAPYRA_KIND_EVENT, -1, 0);
    assert_int_equal(st_counter(s, PAPYRA_METRIC_ANOMALY_DETECTED) - before, 3);
    assert_int_equal(l->count, PAGE + 4);
    assert_true(l->records[0].u.event.timestamp == 0.5);
    assert_string_equal(l->records[0].u.event.event_type, "\xc3\xa9");
    assert_string_equal(l->records[0].u.event.payload, "{}");
    assert_true(l->records[1].u.event.timestamp == 0.75);
    assert_true(l->records[2].u.event.timestamp == 1.0);
    assert_true(l->records[PAGE + 3].u.event.timestamp == PAGE + 2);
    papyra_record_list_free(l);

    before = st_counter(s, PAPYRA_METRIC_ANOMALY_DETECTED);
    assert_int_equal(papyra_store_each(s, PAPYRA_KIND_EVENT, NULL, collect, st), 0);
    assert_int_equal(st_counter(s, PAPYRA_METRIC_ANOMALY_DETECTED) - before, 3);
    assert_int_equal(st->n, PAGE + 4);
    free(st);
    papyra_store_close(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        REDIS_TEST(test_redis_event_audit_and_dead_letter_should_round_trip),
        REDIS_TEST(test_redis_max_records_should_keep_the_newest_on_read),
        REDIS_TEST(test_redis_limit_and_since_should_select_the_newest),
        REDIS_TEST(test_redis_data_field_should_be_upstream_bytes),
        REDIS_TEST(test_redis_should_read_entries_written_by_upstream),
        REDIS_TEST(test_redis_metrics_should_count_writes_and_scan_anomalies),
        REDIS_TEST(test_redis_default_metrics_path_should_be_under_the_state_dir),
        REDIS_TEST(test_redis_consumer_group_should_consume_and_ack),
        REDIS_TEST(test_redis_consumer_group_should_claim_pending),
        REDIS_TEST(test_redis_consumer_group_should_quarantine_malformed_entries),
        REDIS_TEST(test_redis_consumer_groups_should_refuse_other_backends),
        REDIS_TEST(test_redis_batch_should_be_one_transaction),
        REDIS_TEST(test_redis_wrong_key_type_should_be_an_error),
        REDIS_TEST(test_redis_since_hint_should_not_hide_matching_records),
        REDIS_TEST(test_redis_reads_should_page_through_streams_around_the_page_size),
        REDIS_TEST(test_redis_limit_on_a_page_boundary_should_fetch_no_further_page),
        REDIS_TEST(
            test_redis_entries_deleted_between_pages_should_neither_repeat_nor_stop_the_read),
        REDIS_TEST(test_redis_malformed_entries_in_the_second_page_should_be_counted_once),
    };

    return redis_run_tests("redis", tests, sizeof(tests) / sizeof(tests[0]));
}
