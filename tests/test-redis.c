/* SPDX-License-Identifier: MIT */
/*
 * The Redis Streams backend against a real redis-server: upstream's Redis
 * tests of writes and reads (persistence, metrics, consumer groups), byte
 * compatibility of the `data` field, batches and keys of the wrong type.
 * Maintenance: test-redis-maint.c; connections, threads and processes:
 * test-redis-conn.c; server and keys: redis-testutil.h.
 */
#include <hiredis/hiredis.h>
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
    };

    return redis_run_tests("redis", tests, sizeof(tests) / sizeof(tests[0]));
}
