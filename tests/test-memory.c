/* SPDX-License-Identifier: MIT */
/* The memory backend: upstream's memory tests, retention, shared metrics, threads. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <papyra/store.h>

#include "store-testutil.h"
#include "testutil.h"

static void
test_round_trips_since_and_limit(void **state)
{
    papyra_store *s = st_open("memory:");
    papyra_record au = st_audit(10, 5), dl = st_dead_letter("{\"a\":[1,2.50]}", 6);
    papyra_record_list *l;
    int i;

    for (i = 1; i <= 3; i++)
        st_write_event(s, i, i * 10.0);
    st_write(s, &au);
    st_write(s, &dl);
    l = st_list(s, PAPYRA_KIND_EVENT, 15, 0);
    assert_int_equal(l->count, 2);
    assert_true(l->records[0].u.event.timestamp == 20);
    assert_string_equal(l->records[1].u.event.actor_address, "\"local://3\"");
    assert_string_equal(l->records[1].u.event.payload, "{}");
    papyra_record_list_free(l);
    l = st_list(s, PAPYRA_KIND_EVENT, -1, 1);
    assert_int_equal(l->count, 1);
    assert_true(l->records[0].u.event.timestamp == 30);
    papyra_record_list_free(l);
    l = st_list_one(s, PAPYRA_KIND_AUDIT);
    assert_int_equal(l->records[0].u.audit.total_actors, 10);
    papyra_record_list_free(l);
    l = st_list_one(s, PAPYRA_KIND_DEAD_LETTER);
    /* JSON-text fields come back in upstream's normal form. */
    assert_string_equal(l->records[0].u.dead_letter.payload, "{\"a\": [1, 2.5]}");
    papyra_record_list_free(l);
    papyra_store_close(s);
}

/* Upstream's memory compaction test: memory does not compact, and says so. */
static void
test_compaction_is_unsupported_and_counts_nothing(void **state)
{
    papyra_store *s = st_open("memory:");
    papyra_compaction_report rep;
    papyra_metrics_snapshot snap;

    st_write_events(s, 0, 5);
    assert_int_equal(papyra_store_compact(s, &rep), PAPYRA_EUNSUPPORTED);
    assert_non_null(strstr(papyra_store_errmsg(s), "memory"));
    st_assert_count(s, PAPYRA_KIND_EVENT, 5);
    assert_int_equal(papyra_metrics_read(papyra_store_metrics(s), &snap), 0);
    assert_int_equal(snap.state[PAPYRA_METRIC_COMPACTIONS_TRIGGERED], PAPYRA_METRIC_UNSUPPORTED);
    assert_int_equal(snap.state[PAPYRA_METRIC_COMPACTION_ERRORS], PAPYRA_METRIC_UNSUPPORTED);
    papyra_store_close(s);
}

/* Upstream's memory metrics and contract tests. */
static void
test_metrics_and_contract(void **state)
{
    papyra_store *s = st_open("memory:");
    papyra_record a = st_event(1, 1), b = st_event(2, 2);
    papyra_scan_report *rep = NULL;
    papyra_recovery_report *rr = NULL;

    assert_string_equal(papyra_store_backend(s), "memory");
    assert_null(papyra_metrics_path(papyra_store_metrics(s)));
    assert_null(papyra_store_metrics_warning(s));
    st_write(s, &a);
    st_write(s, &b);
    assert_int_equal(st_counter(s, PAPYRA_METRIC_RECORDS_WRITTEN), 2);
    assert_int_equal(st_counter(s, PAPYRA_METRIC_WRITE_ERRORS), 0);
    assert_int_equal(papyra_store_scan(s, &rep), 0);
    assert_string_equal(rep->backend, "memory");
    assert_int_equal(rep->count, 0);
    papyra_scan_report_free(rep);
    assert_int_equal(papyra_store_recover(s, NULL, &rr), 0);
    assert_string_equal(rr->backend, "memory");
    papyra_recovery_report_free(rr);
    assert_int_equal(st_counter(s, PAPYRA_METRIC_SCAN_OPERATIONS), 2);
    assert_int_equal(st_counter(s, PAPYRA_METRIC_ANOMALY_DETECTED), 0);
    assert_int_equal(st_counter(s, PAPYRA_METRIC_RECOVERY_ATTEMPTS), 1);
    assert_int_equal(papyra_store_close(s), 0);
}

static void
test_retention_applies_on_list(void **state)
{
    papyra_store *s = st_open("memory:?max_records=3");
    papyra_record_list *l;
    double now = (double)time(NULL);
    int i;

    for (i = 0; i < 10; i++) {
        papyra_record r = st_event(i, i), a = st_audit(i, i);
        st_write(s, &r);
        if (i < 2)
            st_write(s, &a);
    }
    st_assert_event_stamp(s, 3, 0, 7);
    /* Per kind: the two audits are not pushed out by the events. */
    st_assert_count(s, PAPYRA_KIND_AUDIT, 2);
    papyra_store_close(s);

    s = st_open("memory:?max_age_seconds=5");
    for (i = 10; i >= 1; i--)
        st_write_event(s, i, now - i);
    l = st_list(s, PAPYRA_KIND_EVENT, -1, 0);
    assert_true(l->count >= 3 && l->count <= 5);
    assert_true(l->records[0].u.event.timestamp >= now - 5);
    papyra_record_list_free(l);
    papyra_store_close(s);

    /* One event line of st_event(i < 10) is 127 bytes with its newline. */
    s = st_open("memory:?max_total_bytes=300");
    st_write_events(s, 0, 9);
    st_assert_event_stamp(s, 2, 1, 8);
    papyra_store_close(s);
}

static void
test_batch_is_all_or_nothing(void **state)
{
    papyra_store *s = st_open("memory:");
    papyra_record recs[3] = {st_event(1, 1), st_event(2, 2), st_event(3, 3)};

    recs[1].u.event.payload = "{not json";
    assert_int_equal(papyra_store_write_batch(s, recs, 3), PAPYRA_EINVAL);
    assert_non_null(strstr(papyra_store_errmsg(s), "record 1"));
    st_assert_count(s, PAPYRA_KIND_EVENT, 0);
    assert_int_equal(st_counter(s, PAPYRA_METRIC_WRITE_ERRORS), 1);
    assert_int_equal(st_counter(s, PAPYRA_METRIC_RECORDS_WRITTEN), 0);
    papyra_store_close(s);
}

static void
test_metrics_path_shares_counters(void **state)
{
    char *dir = papyra_test_tmpdir();
    char *m = papyra_test_path(dir, "mem.metrics");
    papyra_store *a = st_open("memory:?metrics=%s", m), *b = st_open("memory:?metrics=%s", m);
    papyra_record r = st_event(1, 1);

    assert_string_equal(papyra_metrics_path(papyra_store_metrics(a)), m);
    st_write(a, &r);
    st_write(b, &r);
    assert_int_equal(st_counter(a, PAPYRA_METRIC_RECORDS_WRITTEN), 2);
    papyra_store_close(a);
    papyra_store_close(b);
    papyra_test_rmtree(dir);
    free(m);
    free(dir);
}

#define THREADS 8
#define PER_THREAD 2000

static void *
writer(void *p)
{
    papyra_store *s = p;
    int i;

    for (i = 0; i < PER_THREAD; i++) {
        papyra_record r = st_event(i, i);
        if (papyra_store_write(s, &r) != 0)
            return (void *)1;
    }
    return NULL;
}

static void
test_threads(void **state)
{
    papyra_store *s = st_open("memory:");
    pthread_t th[THREADS];
    int i;

    for (i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, writer, s), 0);
    for (i = 0; i < THREADS; i++) {
        void *rv;
        pthread_join(th[i], &rv);
        assert_null(rv);
    }
    st_assert_count(s, PAPYRA_KIND_EVENT, THREADS * PER_THREAD);
    assert_int_equal(st_counter(s, PAPYRA_METRIC_RECORDS_WRITTEN), THREADS * PER_THREAD);
    assert_int_equal(st_counter(s, PAPYRA_METRIC_RECORDS_READ), THREADS * PER_THREAD);
    papyra_store_close(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trips_since_and_limit),
        cmocka_unit_test(test_compaction_is_unsupported_and_counts_nothing),
        cmocka_unit_test(test_metrics_and_contract),
        cmocka_unit_test(test_retention_applies_on_list),
        cmocka_unit_test(test_batch_is_all_or_nothing),
        cmocka_unit_test(test_metrics_path_shares_counters),
        cmocka_unit_test(test_threads),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
