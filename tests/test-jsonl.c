/* SPDX-License-Identifier: MIT */
/*
 * The JSON-lines backend on a real file system: upstream Papyra's JSON-file,
 * retention and metrics tests, byte compatibility with upstream's lines, the
 * encoder, awkward files, and concurrent writers. Scan, recovery and
 * compaction: test-jsonl-maint.c.
 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <papyra/store.h>

#include "json/json.h"
#include "record/codec.h"
#include "store-testutil.h"
#include "testutil.h"
#include "util/buf.h"

#define F ((st_file_fixture *)*state)

static void
test_missing_file_lists_nothing_and_scans_clean(void **state)
{
    papyra_store *s = st_open("json:%s", F->path);
    papyra_scan_report *rep = NULL;
    int k;

    for (k = 0; k < PAPYRA_KIND_MAX; k++) {
        papyra_record_list *l = st_list(s, k, -1, 0);
        assert_int_equal(l->count, 0);
        papyra_record_list_free(l);
    }
    assert_int_equal(papyra_store_scan(s, &rep), 0);
    assert_int_equal(rep->count, 0);
    assert_string_equal(rep->backend, "json");
    papyra_scan_report_free(rep);
    assert_int_equal(access(F->path, F_OK), -1);
    papyra_store_close(s);
}

static void
test_round_trips_keep_fields(void **state)
{
    papyra_store *s = st_open("json:%s", F->path);
    papyra_record ev = st_event(1, 100.5), au = st_audit(10, 200),
                  dl = st_dead_letter("\"late\"", 300);
    papyra_record_list *l;

    ev.u.event.actor_address = "{\"system\":\"local\",\"actor_id\":1}";
    st_write(s, &ev);
    st_write(s, &au);
    st_write(s, &dl);
    l = st_list_one(s, PAPYRA_KIND_EVENT);
    assert_string_equal(l->records[0].u.event.event_type, "ActorStarted");
    assert_true(l->records[0].u.event.timestamp == 100.5);
    assert_string_equal(l->records[0].u.event.actor_address,
                        "{\"system\": \"local\", \"actor_id\": 1}");
    papyra_record_list_free(l);
    l = st_list_one(s, PAPYRA_KIND_AUDIT);
    assert_int_equal(l->records[0].u.audit.total_actors, 10);
    assert_true(l->records[0].u.audit.timestamp == 200);
    papyra_record_list_free(l);
    st_assert_dead_letter(s, "\"late\"");
    papyra_store_close(s);

    /* A new handle on the same path reads what the first one wrote. */
    s = st_open("json:%s", F->path);
    st_assert_count(s, PAPYRA_KIND_AUDIT, 1);
    papyra_store_close(s);
}

static void
test_since_and_limit(void **state)
{
    papyra_store *s = st_open("json:%s", F->path);
    papyra_record_list *l;
    int i;

    for (i = 1; i <= 3; i++)
        st_write_event(s, i, i * 10.0);
    l = st_list(s, PAPYRA_KIND_EVENT, 15, 0);
    assert_int_equal(l->count, 2);
    assert_true(l->records[0].u.event.timestamp == 20 && l->records[1].u.event.timestamp == 30);
    papyra_record_list_free(l);
    l = st_list(s, PAPYRA_KIND_EVENT, -1, 1);
    assert_int_equal(l->count, 1);
    assert_true(l->records[0].u.event.timestamp == 30);
    papyra_record_list_free(l);
    l = st_list(s, PAPYRA_KIND_EVENT, -1, 2);
    assert_int_equal(l->count, 2);
    assert_true(l->records[0].u.event.timestamp == 20 && l->records[1].u.event.timestamp == 30);
    papyra_record_list_free(l);
    papyra_store_close(s);
}

static void
test_corrupt_lines_are_skipped_and_minimal_lines_are_filled(void **state)
{
    papyra_store *s;
    papyra_record_list *l;

    papyra_test_write_text(F->path, "not json\n{\"kind\":\"event\",\"timestamp\":1}\n"
                                    "{\"kind\":\"audit\",\"timestamp\":2,\"future_key\":[1,2]}\n");
    s = st_open("json:%s?metrics=none", F->path);
    l = st_list_one(s, PAPYRA_KIND_EVENT);
    assert_string_equal(l->records[0].u.event.system_id, "local");
    assert_string_equal(l->records[0].u.event.event_type, "");
    assert_string_equal(l->records[0].u.event.payload, "{}");
    assert_null(l->records[0].u.event.actor_address);
    papyra_record_list_free(l);
    st_assert_count(s, PAPYRA_KIND_AUDIT, 1);
    assert_int_equal(st_counter(s, PAPYRA_METRIC_RECORDS_READ), 2);
    assert_int_equal(st_counter(s, PAPYRA_METRIC_ANOMALY_DETECTED), 2); /* once per list */
    papyra_store_close(s);
}

/* The exact lines of upstream-papyra.md section 1.3. */
static void
test_bytes_equal_upstream_lines(void **state)
{
    static const char expect[] =
        "{\"kind\": \"event\", \"system_id\": \"local\", \"actor_address\": {\"system\": "
        "\"local\", "
        "\"actor_id\": 1}, \"event_type\": \"ActorStarted\", \"payload\": {}, \"timestamp\": "
        "4312.118907211}\n"
        "{\"kind\": \"audit\", \"system_id\": \"local\", \"timestamp\": 5.5, \"total_actors\": 1, "
        "\"alive_actors\": 1, \"stopping_actors\": 0, \"restarting_actors\": 0, "
        "\"registry_size\": 1, \"registry_orphans\": [\"a\"], \"registry_dead\": [], "
        "\"dead_letters_count\": 0}\n"
        "{\"kind\": \"dead_letter\", \"system_id\": \"local\", \"target\": \"local://1\", "
        "\"message_type\": \"str\", \"payload\": \"late\", \"timestamp\": 300.0}\n";
    static const char *const orphans[] = {"a"};
    papyra_store *s = st_open("json:%s", F->path);
    papyra_record recs[3];

    recs[0] = st_event(1, 4312.118907211);
    recs[0].u.event.actor_address = "{\"system\": \"local\", \"actor_id\": 1}";
    recs[1] = st_audit(1, 5.5);
    recs[1].u.audit.registry_size = 1;
    recs[1].u.audit.registry_orphans = orphans;
    recs[1].u.audit.n_registry_orphans = 1;
    recs[2] = st_dead_letter("\"late\"", 300.0);
    assert_int_equal(papyra_store_write_batch(s, recs, 3), 0);
    papyra_test_assert_file(F->path, expect, strlen(expect));
    papyra_store_close(s);
}

/* Lines as upstream writes them: "kind" last (rotating style), NaN, CRLF, non-ASCII. */
static void
test_upstream_written_lines_are_read(void **state)
{
    papyra_store *s;
    papyra_record_list *l;

    papyra_test_write_text(
        F->path,
        "{\"system_id\": \"local\", \"actor_address\": \"local://1\", \"event_type\": "
        "\"ActorStarted\", \"payload\": {}, \"timestamp\": 1.0, \"kind\": \"event\"}\n"
        "{\"kind\": \"event\", \"system_id\": \"s\\u00e9\", \"actor_address\": \"local://2\", "
        "\"event_type\": \"ActorStopped\", \"payload\": {\"reason\": \"stopped\"}, "
        "\"timestamp\": 2.5}\r\n"
        "{\"kind\": \"event\", \"system_id\": \"\xc3\xa9\", \"actor_address\": null, "
        "\"event_type\": \"X\", \"payload\": {}, \"timestamp\": NaN}\n");
    s = st_open("json:%s?metrics=none", F->path);
    l = st_list(s, PAPYRA_KIND_EVENT, -1, 0);
    assert_int_equal(l->count, 3);
    assert_string_equal(l->records[0].u.event.actor_address, "\"local://1\"");
    assert_string_equal(l->records[1].u.event.system_id, "s\xc3\xa9");
    assert_string_equal(l->records[1].u.event.payload, "{\"reason\": \"stopped\"}");
    assert_true(isnan(l->records[2].u.event.timestamp));
    papyra_record_list_free(l);
    assert_int_equal(st_counter(s, PAPYRA_METRIC_ANOMALY_DETECTED), 0);
    papyra_store_close(s);
}

static void
test_retention_max_records(void **state)
{
    papyra_store *s = st_open("json:%s?max_records=5", F->path);

    st_write_events(s, 0, 10);
    st_assert_event_stamps(s, 5, 5);
    papyra_store_close(s);
}

static void
test_retention_max_age(void **state)
{
    papyra_store *s = st_open("json:%s?max_age_seconds=5", F->path);
    double now = (double)time(NULL);
    papyra_record_list *l;
    size_t i;

    for (i = 10; i >= 1; i--)
        st_write_event(s, (int)i, now - (double)i);
    l = st_list(s, PAPYRA_KIND_EVENT, -1, 0);
    /* 3 to 5 survive, depending on where in its second the clock is. */
    assert_true(l->count >= 3 && l->count <= 5);
    for (i = 0; i < l->count; i++)
        assert_true(l->records[i].u.event.timestamp >= now - 5);
    papyra_record_list_free(l);
    papyra_store_close(s);
}

static void
test_retention_max_total_bytes(void **state)
{
    papyra_store *s = st_open("json:%s?max_total_bytes=300", F->path);
    papyra_record_list *l;
    size_t i;

    st_write_events(s, 0, 20);
    l = st_list(s, PAPYRA_KIND_EVENT, -1, 0);
    assert_true(l->count > 0 && l->count < 20);
    for (i = 1; i < l->count; i++)
        assert_true(l->records[i - 1].u.event.timestamp < l->records[i].u.event.timestamp);
    assert_true(l->records[l->count - 1].u.event.timestamp == 19);
    papyra_record_list_free(l);
    papyra_store_close(s);
}

static void
test_retention_combined(void **state)
{
    papyra_store *s = st_open("json:%s?max_records=5&max_age_seconds=10", F->path);
    papyra_record_list *l;

    st_write_events(s, 0, 20);
    l = st_list(s, PAPYRA_KIND_EVENT, -1, 0);
    assert_true(l->count <= 5);
    papyra_record_list_free(l);
    papyra_store_close(s);
}

static void
test_metrics_file_is_shared_next_to_the_data(void **state)
{
    papyra_store *s = st_open("json:%s", F->path), *t;
    char *mpath = papyra_test_path(F->dir, "events.jsonl.metrics");
    papyra_record r = st_event(1, 1);

    assert_null(papyra_store_metrics_warning(s));
    assert_string_equal(papyra_metrics_path(papyra_store_metrics(s)), mpath);
    st_write(s, &r);
    papyra_test_write_text(F->path, "{\"kind\": \"event\", \"timestamp\": 1}\n{\"kind\"");
    t = st_open("json:%s", F->path);
    st_assert_scan(t, 1);
    assert_int_equal(st_counter(s, PAPYRA_METRIC_RECORDS_WRITTEN), 1);
    assert_int_equal(st_counter(s, PAPYRA_METRIC_SCAN_OPERATIONS), 1);
    assert_int_equal(st_counter(s, PAPYRA_METRIC_ANOMALY_DETECTED), 1);
    papyra_store_close(t);
    papyra_store_close(s);
    free(mpath);
}

static void
test_torn_tail_is_terminated_before_the_next_append(void **state)
{
    papyra_store *s;
    papyra_record r = st_event(7, 7);

    papyra_test_write_text(F->path, "{\"kind\": \"event\", \"timestamp\": 1}\n{\"kind\": \"ev");
    s = st_open("json:%s?metrics=none", F->path);
    st_write(s, &r);
    assert_int_equal(st_count_lines(F->path), 3);
    st_assert_event_stamp(s, 2, 1, 7);
    st_assert_anomaly(s, PAPYRA_ANOMALY_CORRUPTED_LINE, "Invalid JSON at line 2");
    papyra_store_close(s);
}

static void
test_one_mib_line(void **state)
{
    size_t n = 1024 * 1024;
    char *payload = malloc(n + 3);
    papyra_store *s = st_open("json:%s?metrics=none", F->path);
    papyra_record r = st_dead_letter(NULL, 1), small = st_event(1, 2);
    papyra_record_list *l;
    papyra_compaction_report crep;

    assert_non_null(payload);
    payload[0] = '"';
    memset(payload + 1, 'x', n);
    payload[n + 1] = '"';
    payload[n + 2] = '\0';
    r.u.dead_letter.payload = payload;
    st_write(s, &r);
    st_write(s, &small);
    l = st_list(s, PAPYRA_KIND_DEAD_LETTER, -1, 1);
    assert_int_equal(l->count, 1);
    assert_int_equal(strlen(l->records[0].u.dead_letter.payload), n + 2);
    papyra_record_list_free(l);
    st_assert_scan(s, 0);
    assert_int_equal(papyra_store_compact(s, &crep), 0);
    assert_int_equal(crep.after_records, 2);
    st_assert_count(s, PAPYRA_KIND_EVENT, 1);
    papyra_store_close(s);
    free(payload);
}

static void
test_fsync_policies_write(void **state)
{
    static const char *const modes[] = {"never", "always", "everysec"};
    size_t i;

    for (i = 0; i < 3; i++) {
        papyra_store *s = st_open("json:%s?fsync=%s&metrics=none", F->path, modes[i]);
        papyra_record r = st_event((int)i, (double)i);
        st_write(s, &r);
        /* everysec: give the background thread a turn with something to sync. */
        if (i == 2) {
            usleep(1200 * 1000);
            st_write(s, &r);
        }
        assert_int_equal(papyra_store_close(s), 0);
    }
    assert_int_equal(st_count_lines(F->path), 4);
}

/* Concurrent writers: 8 threads in each of 2 processes. */
#define THREADS 8
#define PER_THREAD 400

typedef struct writer_arg {
    papyra_store *s;
    int base;
    int batch;
} writer_arg;

static void *
writer(void *p)
{
    writer_arg *a = p;
    int i;

    for (i = 0; i < PER_THREAD; i += a->batch) {
        papyra_record recs[4];
        int k;
        for (k = 0; k < a->batch; k++)
            recs[k] = st_event(a->base + i + k, a->base + i + k);
        int r = papyra_store_write_batch(a->s, recs, (size_t)a->batch);
        if (r != 0) {
            fprintf(stderr, "write: %s\n", papyra_store_errmsg(a->s));
            return (void *)1;
        }
    }
    return NULL;
}

static int
run_writers(const char *path, int proc, const char *fsync)
{
    papyra_store *s = NULL;
    pthread_t th[THREADS];
    writer_arg args[THREADS];
    char url[4096];
    int i, bad = 0;

    snprintf(url, sizeof(url), "json:%s?fsync=%s", path, fsync);
    if (papyra_store_open(&s, url, NULL) != 0) {
        fprintf(stderr, "open failed\n");
        return 1;
    }
    for (i = 0; i < THREADS; i++) {
        args[i] = (writer_arg){s, (proc * THREADS + i) * PER_THREAD, 1 + (i % 2) * 3};
        pthread_create(&th[i], NULL, writer, &args[i]);
    }
    for (i = 0; i < THREADS; i++) {
        void *rv;
        pthread_join(th[i], &rv);
        bad |= rv != NULL;
    }
    if (papyra_store_close(s) != 0) {
        fprintf(stderr, "close failed\n");
        return 1;
    }
    return bad;
}

static void
concurrent_writers(void **state, const char *fsync)
{
    pid_t pid = fork();
    papyra_store *s;
    int st;

    assert_true(pid >= 0);
    if (pid == 0)
        _exit(run_writers(F->path, 1, fsync));
    assert_int_equal(run_writers(F->path, 0, fsync), 0);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    s = st_open("json:%s?metrics=none", F->path);
    st_assert_each_event_once(s, 2 * THREADS * PER_THREAD);
    papyra_store_close(s);
}

static void
test_threads_and_processes_lose_and_tear_nothing(void **state)
{
    concurrent_writers(state, "never");
}

static void
test_group_commit_under_concurrency(void **state)
{
    concurrent_writers(state, "always");
}

/*
 * A scan or a list racing appends from another process never mistakes an
 * append in flight for a torn line: readers take the file's size once the
 * appends under way have finished.
 */
static void
test_readers_never_see_an_append_in_flight_as_torn(void **state)
{
    papyra_store *s = st_open("json:%s?metrics=none", F->path);
    pid_t pid = fork();
    int st;

    assert_true(pid >= 0);
    if (pid == 0) {
        papyra_store *w = NULL;
        char url[4096];
        snprintf(url, sizeof(url), "json:%s?metrics=none", F->path);
        if (papyra_store_open(&w, url, NULL) != 0)
            _exit(2);
        for (int i = 0; i < 20000; i++) {
            papyra_record r = st_event(i, i);
            if (papyra_store_write(w, &r) != 0)
                _exit(3);
        }
        _exit(papyra_store_close(w) != 0);
    }
    for (int i = 0; i < 300; i++) {
        papyra_scan_report *rep = NULL;
        papyra_record_list *l = st_list(s, PAPYRA_KIND_EVENT, 0, 5);
        papyra_record_list_free(l);
        assert_int_equal(papyra_store_scan(s, &rep), 0);
        if (rep->count)
            fail_msg("scan %d: %s", i, rep->anomalies[0].detail);
        papyra_scan_report_free(rep);
    }
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_int_equal(st_counter(s, PAPYRA_METRIC_ANOMALY_DETECTED), 0);
    papyra_store_close(s);
}

/*
 * A torn line that a writer outside the store's protocol left (upstream
 * Papyra appending to the same file, a copy by hand) is terminated by the
 * next handle that opens the file, before its first record. (A handle that
 * keeps the file open no longer looks at the tail before every append: only
 * after a holder of the control mutex died, a replacement or a failed write;
 * see docs/decisions.md, "One system call per record". test-control.c has
 * the writer that dies in the middle of its append.)
 */
static void
test_torn_tail_from_another_writer_is_terminated(void **state)
{
    papyra_store *s = st_open("json:%s?metrics=none", F->path);

    st_write_event(s, 1, 1);
    papyra_store_close(s);
    papyra_test_append_file(F->path, "{\"kind\": \"event\", \"timestamp\": 9}\n", 34);
    s = st_open("json:%s?metrics=none", F->path);
    st_write_event(s, 2, 2);
    papyra_store_close(s);
    papyra_test_append_file(F->path, "{\"kind\": \"ev", 12);
    s = st_open("json:%s?metrics=none", F->path);
    st_write_event(s, 3, 3);
    assert_int_equal(st_count_lines(F->path), 5);
    st_assert_event_stamp(s, 4, 3, 3);
    papyra_store_close(s);
}

/* The encoder's fast paths (a JSON text already in normal form is copied, a
 * timestamp is printed without printf) give exactly the bytes of the general
 * path: parsing the text and writing the tree back, and repr() of the float.
 */
static void
expect_event_line(const char *payload, double ts)
{
    papyra_record ev = st_event(1, ts);
    papyra_buf got = {0}, want = {0};
    papyra_json *v = NULL;
    int r;

    ev.u.event.payload = payload;
    r = papyra__record_encode(&ev, PAPYRA_STYLE_JSON, &got);
    if (papyra__json_parse(payload, strlen(payload), &v) != 0) {
        assert_int_equal(r, PAPYRA_EINVAL);
        papyra__buf_free(&got);
        return;
    }
    assert_int_equal(r, 0);
    assert_int_equal(papyra__json_write(v, 0, &want), 0);
    papyra__json_free(v);
    if (!strstr(got.data, want.data))
        fail_msg("payload %s: got %s, want %s", payload, got.data, want.data);
    papyra__buf_reset(&want);
    assert_int_equal(papyra__json_write_double(ts, &want), 0);
    assert_true(got.len > want.len + 1);
    if (memcmp(got.data + got.len - want.len - 1, want.data, want.len) != 0)
        fail_msg("timestamp %.17g: got %s, want %s", ts, got.data, want.data);
    papyra__buf_free(&got);
    papyra__buf_free(&want);
}

static void
test_encoder_fast_paths_match_the_general_path(void **state)
{
    static const char *const texts[] = {
        "{}",
        "[]",
        "{\"a\": 1}",
        "{\"a\":1}",
        "{\"a\": 1 }",
        " {}",
        "{} ",
        "{\"a\": 1, \"a\": 2}",
        "{\"a\": {\"a\": 1}, \"b\": [1, 2, {\"a\": 3}]}",
        "[1,2]",
        "[1, 2]",
        "[-0]",
        "[0]",
        "[-1, 01]",
        "[1.0]",
        "[1e5]",
        "[1E5]",
        "[-]",
        "[123456789012345678]",
        "[1234567890123456789]",
        "[99999999999999999999999]",
        "\"x\"",
        "\"\\u00e9\"",
        "\"\\/\"",
        "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\"",
        "\"\\x\"",
        "\"caf\xc3\xa9\"",
        "\"\xc3\"",
        "\"\xed\xa0\x80\"",
        "\"\x7f\"",
        "[true, false, null]",
        "[tru]",
        "[nul]",
        "NaN",
        "[Infinity]",
        "[-Infinity]",
        "{\"k\": \"v\", \"k2\": \"v\"}",
        "{\"\": 0}",
        "[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]",
        "{\"a\": [], \"b\": {}}",
        "[1, ]",
        "[, 1]",
        "{\"a\" : 1}",
        "{\"a\": 1,\"b\": 2}",
        "\"\\ud800\"",
        "[1,  2]",
        "",
        "{\"a\": tr}",
        "{\"reason\": \"stopped\"}",
        "[\"\\u0000\"]",
        "{1: 2}",
        "[\"a\"]]",
        "[[]",
    };
    static const double stamps[] = {
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.1,
        0.0001,
        0.00009999,
        1e-4,
        1e15,
        999999999999999.0,
        123456789012345.6,
        1700000000.123,
        1700000000.1234567,
        4312.118907211,
        1e16,
        1e22,
        0.3,
        2.5e-5,
        100.0,
        1e300,
        5e-324,
        9007199254740993.0,
        0.1 + 0.2,
        1.0 / 3.0,
    };
    size_t i;
    uint64_t x = 0x9e3779b97f4a7c15u;

    (void)state;
    for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        expect_event_line(texts[i], 1.5);
    for (i = 0; i < sizeof(stamps) / sizeof(stamps[0]); i++)
        expect_event_line("{}", stamps[i]);
    /* Timestamps of every shape: milliseconds and microseconds since the epoch, random bits. */
    for (i = 0; i < 200000; i++) {
        double d;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        switch (i % 4) {
        case 0:
            d = 1.7e9 + (double)(x % 100000000000u) / 1000.0;
            break;
        case 1:
            d = 1.7e9 + (double)(x % 100000000000000u) / 1e6;
            break;
        case 2:
            d = (double)(x % 1000000u) / (double)(1u + (unsigned)(x >> 40) % 100000u);
            break;
        default:
            memcpy(&d, &x, sizeof(d));
            if (isnan(d))
                d = 1;
            break;
        }
        expect_event_line("{}", d);
    }
}

/* The first write creates missing parent directories; reading creates nothing. */
static void
test_first_write_creates_the_parent_directories(void **state)
{
    char *top = papyra_test_path(F->dir, "a");
    char *path = papyra_test_path(F->dir, "a/b/c/events.jsonl");
    papyra_store *s = st_open("json:%s?metrics=none", path);
    papyra_compaction_report crep;
    papyra_record ev = st_event(1, 1);
    struct stat st;
    mode_t mask = umask(022);

    st_assert_count(s, PAPYRA_KIND_EVENT, 0);
    st_assert_scan(s, 0);
    assert_int_equal(papyra_store_compact(s, &crep), 0);
    assert_int_equal(access(top, F_OK), -1);

    st_write(s, &ev);
    assert_int_equal(stat(top, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0755);
    st_assert_count(s, PAPYRA_KIND_EVENT, 1);
    papyra_store_close(s);
    umask(mask);

    /* A parent that is a file is a write error naming the path. */
    free(path);
    path = papyra_test_path(F->dir, "a/b/c/events.jsonl/x/events.jsonl");
    s = st_open("json:%s?metrics=none", path);
    assert_true(papyra_store_write(s, &ev) < 0);
    assert_non_null(strstr(papyra_store_errmsg(s), path));
    papyra_store_close(s);
    free(top);
    free(path);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, st_setup_file, st_teardown_file)
        T(test_missing_file_lists_nothing_and_scans_clean),
        T(test_round_trips_keep_fields),
        T(test_since_and_limit),
        T(test_corrupt_lines_are_skipped_and_minimal_lines_are_filled),
        T(test_bytes_equal_upstream_lines),
        T(test_upstream_written_lines_are_read),
        T(test_retention_max_records),
        T(test_retention_max_age),
        T(test_retention_max_total_bytes),
        T(test_retention_combined),
        T(test_metrics_file_is_shared_next_to_the_data),
        T(test_torn_tail_is_terminated_before_the_next_append),
        T(test_one_mib_line),
        T(test_fsync_policies_write),
        T(test_threads_and_processes_lose_and_tear_nothing),
        T(test_group_commit_under_concurrency),
        T(test_readers_never_see_an_append_in_flight_as_torn),
        T(test_torn_tail_from_another_writer_is_terminated),
        T(test_encoder_fast_paths_match_the_general_path),
        T(test_first_write_creates_the_parent_directories),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
