/* SPDX-License-Identifier: MIT */
/*
 * The Redis Streams backend's maintenance against a real redis-server:
 * upstream's scan, repair, quarantine and compaction tests, and a scan of a
 * large stream with bounded memory. Server and keys: redis-testutil.h.
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
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <papyra/store.h>

#include "redis-testutil.h"
#include "store-testutil.h"
#include "testutil.h"

static void
test_redis_scan_should_report_corrupt_entries_with_upstream_details(void **state)
{
    papyra_store *s = open_store(NULL);
    papyra_scan_report *rep = NULL;

    st_write_events(s, 1, 1);
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
    st_assert_count(s, PAPYRA_KIND_EVENT, 1);
    papyra_store_close(s);
}

static void
test_redis_repair_should_leave_a_clean_scan(void **state)
{
    papyra_store *s = open_store(NULL);
    papyra_recovery_options o = {.mode = PAPYRA_RECOVER_REPAIR};
    papyra_recovery_report *rep = NULL;

    st_write_events(s, 1, 2);
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
    st_write_events(s, 1, 1);
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

    st_write_events(s, 1, 3);
    freeReplyObject(rawcmd("XADD %s * data {not-json", key_of("events")));
    assert_int_equal(papyra_store_compact(s, &rep), 0);
    assert_string_equal(rep.backend, "redis");
    assert_int_equal(rep.before_records, 4);
    assert_int_equal(rep.after_records, 1);
    assert_int_equal(rep.before_bytes, -1);
    assert_int_equal(raw_int("XLEN %s", key_of("events")), 1);
    papyra_record_list *l = st_list_one(s, PAPYRA_KIND_EVENT);
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

    st_write_events(s, 1, 10); /* each data field is about 130 bytes */
    assert_int_equal(papyra_store_compact(s, &rep), 0);
    assert_int_equal(rep.before_records, 10);
    assert_int_equal(rep.after_records, 3);
    l = st_list(s, PAPYRA_KIND_EVENT, -1, 0);
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
        papyra_record fresh = st_event_addr("\"local://fresh\"", (double)time(NULL));
        assert_int_equal(papyra_store_write(s, &fresh), 0);
        assert_int_equal(papyra_store_write(s, &fresh), 0);
    }
    assert_int_equal(papyra_store_compact(s, &rep), 0);
    assert_int_equal(raw_int("XLEN %s", key_of("audits")), 0);
    /* The three old events (timestamps 8..10) went; the two fresh ones stay. */
    assert_int_equal(raw_int("XLEN %s", key_of("events")), 2);
    st_assert_count(s, PAPYRA_KIND_EVENT, 2);
    papyra_store_close(s);
}

static void
test_redis_compact_should_not_change_what_reads_return(void **state)
{
    papyra_store *s = open_store("max_records=2");
    papyra_compaction_report rep;
    papyra_record_list *before, *after;

    st_write_events(s, 1, 3);
    /* Valid JSON that is not an event: invisible to reads, so not counted by max_records. */
    freeReplyObject(
        rawcmd("XADD %s * data %s", key_of("events"), "{\"kind\": \"audit\", \"timestamp\": 9}"));
    freeReplyObject(rawcmd("XADD %s * data %s", key_of("events"), "{\"no\": \"kind\"}"));
    before = st_list(s, PAPYRA_KIND_EVENT, -1, 0);
    assert_int_equal(before->count, 2);
    assert_int_equal(papyra_store_compact(s, &rep), 0);
    assert_int_equal(rep.before_records, 5);
    assert_int_equal(rep.after_records, 4); /* local://1 went */
    after = st_list(s, PAPYRA_KIND_EVENT, -1, 0);
    assert_int_equal(after->count, 2);
    for (size_t i = 0; i < 2; i++)
        assert_string_equal(after->records[i].u.event.actor_address,
                            before->records[i].u.event.actor_address);
    papyra_record_list_free(before);
    papyra_record_list_free(after);
    papyra_store_close(s);
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
    st_assert_scan(s, (size_t)(n / 100000));
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
        papyra_record_list *l = st_list(s, PAPYRA_KIND_EVENT, -1, 5);
        assert_int_equal(l->count, 5);
        papyra_record_list_free(l);
    }
    papyra_store_close(s);
    freeReplyObject(rawcmd("DEL %s", key));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        REDIS_TEST(test_redis_scan_should_report_corrupt_entries_with_upstream_details),
        REDIS_TEST(test_redis_repair_should_leave_a_clean_scan),
        REDIS_TEST(test_redis_quarantine_should_copy_every_field_then_delete),
        REDIS_TEST(test_redis_compact_should_trim_exactly),
        REDIS_TEST(test_redis_compact_should_apply_age_and_size_physically),
        REDIS_TEST(test_redis_compact_should_not_change_what_reads_return),
        REDIS_TEST(test_redis_scan_of_a_large_stream_should_use_bounded_memory),
    };

    return redis_run_tests("redis-maint", tests, sizeof(tests) / sizeof(tests[0]));
}
