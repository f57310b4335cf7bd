/* SPDX-License-Identifier: MIT */
/*
 * The rotating backend on real files: upstream's acceptance cases (with the
 * rotation bug fixed), rotation bounds, retention, reading awkward files,
 * and several threads and processes appending. Scan, recovery, compaction
 * and their crash safety: test-rotating-maint.c.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
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

#include "store-testutil.h"
#include "testutil.h"

/* Writes an event of @p system_id and @p type; returns the write's result. */
static int
write_event_ex(papyra_store *s, const char *system_id, const char *type, double ts)
{
    papyra_record rec = st_event(1, ts);

    rec.u.event.system_id = system_id;
    rec.u.event.event_type = type;
    return papyra_store_write(s, &rec);
}

static void
test_missing_files_empty(void **state)
{
    papyra_store *s = st_open_rotating(*state, NULL);

    for (int k = 0; k < PAPYRA_KIND_MAX; k++) {
        papyra_record_list *l = st_list(s, (papyra_kind)k, -1, 0);
        assert_int_equal(l->count, 0);
        papyra_record_list_free(l);
    }
    assert_int_equal(st_count_set(*state, "rot.log"), 0);
    papyra_store_close(s);
}

static void
test_roundtrip_each_kind(void **state)
{
    papyra_store *s = st_open_rotating(*state, NULL);
    const char *orphans[] = {"a"};
    papyra_record a = st_audit(7, 2), d = st_dead_letter("\"late\"", 3);
    papyra_record_list *l;

    st_write_event(s, 1, 1.5);
    a.u.audit.registry_orphans = orphans;
    a.u.audit.n_registry_orphans = 1;
    st_write(s, &a);
    st_write(s, &d);
    papyra_store_close(s);

    s = st_open_rotating(*state, NULL);
    l = st_list_one(s, PAPYRA_KIND_EVENT);
    assert_string_equal(l->records[0].u.event.event_type, "ActorStarted");
    assert_true(l->records[0].u.event.timestamp == 1.5);
    papyra_record_list_free(l);
    l = st_list_one(s, PAPYRA_KIND_AUDIT);
    assert_int_equal(l->records[0].u.audit.total_actors, 7);
    papyra_record_list_free(l);
    st_assert_dead_letter(s, "\"late\"");
    papyra_store_close(s);
}

static void
test_rotation_creates_files(void **state)
{
    papyra_store *s = st_open_rotating(*state, "max_bytes=200&max_files=3");

    for (int i = 0; i < 10; i++)
        st_write_event(s, 1, i);
    assert_true(papyra_test_exists(*state, "rot.log"));
    assert_true(papyra_test_exists(*state, "rot.log.1"));
    assert_true(st_count_set(*state, "rot.log") <= 3);
    papyra_store_close(s);
}

/* Upstream expected all 12 to survive (its rotation stopped when full); ours drops the oldest. */
static void
test_rotation_keeps_newest(void **state)
{
    papyra_store *s = st_open_rotating(*state, "max_bytes=200&max_files=4");
    papyra_record_list *l;

    for (int i = 0; i < 12; i++)
        st_write_event(s, 1, i);
    assert_true(st_count_set(*state, "rot.log") <= 4);
    assert_false(papyra_test_exists(*state, "rot.log.4"));
    l = st_list(s, PAPYRA_KIND_EVENT, -1, 0);
    assert_true(l->count >= 3 && l->count < 12);
    for (size_t i = 0; i < l->count; i++)
        assert_true(l->records[i].u.event.timestamp == (double)(12 - l->count + i));
    papyra_record_list_free(l);
    papyra_store_close(s);
}

static void
test_since_and_limit(void **state)
{
    papyra_store *s = st_open_rotating(*state, "max_bytes=150&max_files=5");
    papyra_record_list *l;

    for (int i = 0; i < 20; i++)
        st_write_event(s, 1, i);
    l = st_list(s, PAPYRA_KIND_EVENT, 10, 0);
    assert_true(l->count > 0);
    for (size_t i = 0; i < l->count; i++)
        assert_true(l->records[i].u.event.timestamp >= 10);
    papyra_record_list_free(l);
    l = st_list(s, PAPYRA_KIND_EVENT, -1, 5);
    assert_int_equal(l->count, 5);
    for (size_t i = 0; i < 5; i++)
        assert_true(l->records[i].u.event.timestamp == 15.0 + (double)i);
    papyra_record_list_free(l);
    papyra_store_close(s);
}

static void
test_skips_bad_lines_and_unknown_keys(void **state)
{
    char *p = papyra_test_path(*state, "rot.log");
    const char *text =
        "{\"system_id\": \"local\", \"event_type\": \"A\", \"timestamp\": 1.0, "
        "\"kind\": \"event\"}\n"
        "not json\n"
        "{\"event_type\": \"B\", \"timestamp\": 2.0, \"extra\": 1, \"kind\": \"event\"}\n";
    papyra_store *s;
    papyra_record_list *l;

    papyra_test_write_file(p, text, strlen(text));
    s = st_open_rotating(*state, NULL);
    l = st_list(s, PAPYRA_KIND_EVENT, -1, 0);
    assert_int_equal(l->count, 2);
    assert_string_equal(l->records[0].u.event.event_type, "A");
    assert_string_equal(l->records[1].u.event.event_type, "B");
    papyra_record_list_free(l);
    papyra_store_close(s);
    free(p);
}

static void
test_never_exceeds_max_files(void **state)
{
    papyra_store *s = st_open_rotating(*state, "max_bytes=300&max_files=3");
    papyra_record_list *l;

    for (int i = 0; i < 1000; i++) {
        st_write_event(s, 1, i);
        if (i % 7 == 0)
            assert_true(st_count_set(*state, "rot.log") <= 3);
    }
    assert_int_equal(st_count_set(*state, "rot.log"), 3);
    l = st_list(s, PAPYRA_KIND_EVENT, -1, 0);
    assert_true(l->count > 0);
    assert_true(l->records[l->count - 1].u.event.timestamp == 999.0);
    papyra_record_list_free(l);
    st_assert_scan(s, 0);
    papyra_store_close(s);
}

static void
test_max_files_one_truncates(void **state)
{
    papyra_store *s = st_open_rotating(*state, "max_bytes=300&max_files=1");
    papyra_record_list *l;

    for (int i = 0; i < 10; i++)
        st_write_event(s, 1, i);
    assert_int_equal(st_count_set(*state, "rot.log"), 1);
    l = st_list(s, PAPYRA_KIND_EVENT, -1, 0);
    assert_true(l->count >= 1 && l->count <= 3);
    assert_true(l->records[l->count - 1].u.event.timestamp == 9.0);
    papyra_record_list_free(l);
    papyra_store_close(s);
}

static void
test_url_validation(void **state)
{
    const char *bad[] = {"max_bytes=0", "max_files=0", "max_files=-2", "fsync=sometimes",
                         "bogus=1"};
    const char *names[] = {"max_bytes", "max_files", "max_files", "fsync", "bogus"};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        papyra_store *s = NULL;
        papyra_error err = {0};
        char *url;

        assert_true(asprintf(&url, "rotating:%s/rot.log?%s", (char *)*state, bad[i]) > 0);
        assert_int_equal(papyra_store_open(&s, url, &err), PAPYRA_EINVAL);
        assert_null(s);
        assert_non_null(strstr(err.message, names[i]));
        free(url);
    }
}

static void
test_fsync_modes_write(void **state)
{
    const char *modes[] = {"fsync=always", "fsync=everysec", "fsync=never"};

    for (size_t i = 0; i < 3; i++) {
        papyra_store *s = st_open_rotating(*state, modes[i]);
        st_write_event(s, 1, (double)i);
        assert_int_equal(papyra_store_close(s), 0);
    }
    papyra_store *s = st_open_rotating(*state, NULL);
    st_assert_count(s, PAPYRA_KIND_EVENT, 3);
    papyra_store_close(s);
}

static void
retention_case(const char *dir,
               const char *params,
               int n,
               double base,
               double step,
               size_t max_count,
               double min_ts)
{
    papyra_store *s = st_open_rotating(dir, params);
    papyra_record_list *l;

    for (int i = 0; i < n; i++)
        st_write_event(s, 1, base + step * i);
    l = st_list(s, PAPYRA_KIND_EVENT, -1, 0);
    assert_true(l->count <= max_count);
    for (size_t i = 0; i < l->count; i++) {
        assert_true(l->records[i].u.event.timestamp >= min_ts);
        if (i > 0)
            assert_true(l->records[i].u.event.timestamp > l->records[i - 1].u.event.timestamp);
    }
    if (max_count == 5 && min_ts == 5)
        assert_int_equal(l->count, 5);
    assert_true(l->count > 0 || max_count == 5);
    papyra_record_list_free(l);
    papyra_store_close(s);
    papyra_test_rmtree(dir);
    assert_int_equal(mkdir(dir, 0700), 0);
}

static void
test_retention_policies(void **state)
{
    double now = (double)time(NULL);

    retention_case(*state, "max_bytes=256&max_files=5&max_records=5", 10, 0, 1, 5, 5);
    retention_case(*state, "max_bytes=256&max_files=5&max_age_seconds=5", 10, now - 10, 1, 10,
                   now - 5 - 1);
    retention_case(*state, "max_bytes=256&max_files=5&max_total_bytes=300", 20, 0, 1, 19, 0);
    retention_case(*state, "max_bytes=256&max_files=5&max_records=5&max_age_seconds=10", 20, 0, 1,
                   5, 0);
}

/* Lines as upstream writes them are read, rewritten and compacted byte for byte. */
static void
test_upstream_bytes(void **state)
{
    const char *line = "{\"system_id\": \"caf\\u00e9\", \"actor_address\": {\"system\": \"local\", "
                       "\"actor_id\": 1}, \"event_type\": \"ActorStarted\", \"payload\": {\"k\": "
                       "\"\\ud83d\\ude00\"}, \"timestamp\": 4312.118907211, \"kind\": \"event\"}\n";
    char *p = papyra_test_path(*state, "rot.log"), *sub = papyra_test_path(*state, "sub");
    char *p2 = papyra_test_path(sub, "rot.log");
    papyra_compaction_report crep;
    papyra_record_list *l;
    papyra_store *s, *s2;

    papyra_test_write_file(p, line, strlen(line));
    s = st_open_rotating(*state, NULL);
    l = st_list_one(s, PAPYRA_KIND_EVENT);
    assert_string_equal(l->records[0].u.event.system_id, "caf\xc3\xa9");
    s2 = st_open_rotating(sub, NULL);
    assert_int_equal(papyra_store_write(s2, &l->records[0]), 0);
    papyra_store_close(s2);
    papyra_test_assert_file(p2, line, strlen(line));
    papyra_record_list_free(l);
    assert_int_equal(papyra_store_compact(s, &crep), 0);
    papyra_test_assert_file(p, line, strlen(line));
    papyra_store_close(s);
    free(p);
    free(p2);
    free(sub);
}

/* Several threads in several processes append with frequent rotation; nothing is lost or torn. */
#define PROCS 2
#define THREADS 8
#define PER_THREAD 150

typedef struct writer_arg {
    papyra_store *s;
    int proc, thread;
    atomic_int *failures;
} writer_arg;

static void *
writer_main(void *p)
{
    writer_arg *a = p;
    char sys[32], type[32];

    snprintf(sys, sizeof(sys), "p%d", a->proc);
    snprintf(type, sizeof(type), "t%d", a->thread);
    for (int i = 0; i < PER_THREAD; i++)
        if (write_event_ex(a->s, sys, type, i) != 0)
            atomic_fetch_add(a->failures, 1);
    return NULL;
}

static void
test_threads_and_processes(void **state)
{
    const char *params = "max_bytes=2048&max_files=2000";
    pid_t pids[PROCS];
    static unsigned char seen[PROCS][THREADS][PER_THREAD];
    papyra_store *s;
    papyra_record_list *l;

    memset(seen, 0, sizeof(seen));
    for (int p = 0; p < PROCS; p++) {
        pids[p] = fork();
        assert_true(pids[p] >= 0);
        if (pids[p] == 0) {
            atomic_int failures = 0;
            pthread_t th[THREADS];
            writer_arg args[THREADS];
            papyra_store *cs = NULL;
            char *url;

            if (asprintf(&url, "rotating:%s/rot.log?%s&metrics=none", (char *)*state, params) < 0 ||
                papyra_store_open(&cs, url, NULL) != 0)
                _exit(2);
            for (int t = 0; t < THREADS; t++) {
                args[t] = (writer_arg){cs, p, t, &failures};
                pthread_create(&th[t], NULL, writer_main, &args[t]);
            }
            for (int t = 0; t < THREADS; t++)
                pthread_join(th[t], NULL);
            papyra_store_close(cs);
            _exit(atomic_load(&failures) ? 3 : 0);
        }
    }
    for (int p = 0; p < PROCS; p++) {
        int st = 0;
        assert_int_equal(waitpid(pids[p], &st, 0), pids[p]);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    s = st_open_rotating(*state, params);
    l = st_list(s, PAPYRA_KIND_EVENT, -1, 0);
    assert_int_equal(l->count, PROCS * THREADS * PER_THREAD);
    for (size_t i = 0; i < l->count; i++) {
        const papyra_event *e = &l->records[i].u.event;
        int p = atoi(e->system_id + 1), t = atoi(e->event_type + 1), n = (int)e->timestamp;
        assert_true(p >= 0 && p < PROCS && t >= 0 && t < THREADS && n >= 0 && n < PER_THREAD);
        assert_int_equal(seen[p][t][n], 0);
        seen[p][t][n] = 1;
    }
    papyra_record_list_free(l);
    st_assert_scan(s, 0);
    assert_true(st_count_set(*state, "rot.log") > 10);
    papyra_store_close(s);
}

/* Python's universal newlines: "\r\n" and a lone "\r" end lines too. */
static void
test_universal_newlines(void **state)
{
    char *p = papyra_test_path(*state, "rot.log");
    const char *text = "{\"timestamp\": 1.0, \"kind\": \"event\"}\r\n"
                       "{\"timestamp\": 2.0, \"kind\": \"event\"}\r"
                       "{\"timestamp\": 3.0, \"kind\": \"event\"}\n";
    papyra_store *s;

    papyra_test_write_file(p, text, strlen(text));
    s = st_open_rotating(*state, NULL);
    st_assert_count(s, PAPYRA_KIND_EVENT, 3);
    st_assert_scan(s, 0);
    papyra_store_close(s);
    free(p);
}

/* Upstream's rotating metrics case, on the shared metrics file. */
static void
test_metrics_counted(void **state)
{
    papyra_store *s = st_open("rotating:%s/rot.log", (char *)*state);
    papyra_compaction_report rep;

    /* Hidden: upstream's orphan glob ("rot.log*") does not match it. */
    assert_true(papyra_test_exists(*state, ".rot.log.metrics"));
    assert_false(papyra_test_exists(*state, "rot.log.metrics"));
    assert_int_equal(papyra_store_compact(s, &rep), 0);
    st_write_event(s, 1, 1);
    assert_int_equal(st_counter(s, papyra_metric_by_name("records_written")), 1);
    assert_int_equal(st_counter(s, papyra_metric_by_name("compactions_triggered")), 1);
    papyra_store_close(s);
}

/* Opening needs no disk, like upstream's constructor; the operations then fail. */
static void
test_unusable_path(void **state)
{
    char *file = papyra_test_path(*state, "not-a-dir"), *url;
    papyra_compaction_report crep;
    papyra_scan_report *rep = NULL;
    papyra_record_list *l = NULL;
    papyra_store *s = NULL;

    papyra_test_write_file(file, "x", 1);
    assert_true(asprintf(&url, "rotating:%s/rot.log?metrics=none", file) > 0);
    assert_int_equal(papyra_store_open(&s, url, NULL), 0);
    assert_true(write_event_ex(s, "local", "E", 1) < 0);
    assert_true(papyra_store_list(s, PAPYRA_KIND_EVENT, NULL, &l) < 0);
    assert_true(papyra_store_scan(s, &rep) < 0);
    assert_true(papyra_store_compact(s, &crep) < 0);
    papyra_store_close(s);
    free(url);
    free(file);
}

/* A directory that does not exist yet reads as empty and is made by the first write. */
static void
test_missing_directory(void **state)
{
    char *sub = papyra_test_path(*state, "a/b");
    papyra_store *s = st_open_rotating(sub, NULL);

    st_assert_count(s, PAPYRA_KIND_EVENT, 0);
    st_write_event(s, 1, 1);
    st_assert_count(s, PAPYRA_KIND_EVENT, 1);
    papyra_store_close(s);
    free(sub);
}

/* Long lines grow the reader's buffer; a "\r\n" split across two reads is one terminator. */
static void
test_long_lines_and_split_crlf(void **state)
{
    const char *head = "{\"payload\": \"", *tail = "\", \"timestamp\": 1.0, \"kind\": \"event\"}";
    char *p = papyra_test_path(*state, "rot.log"), *data;
    size_t pad = 65535 - strlen(head) - strlen(tail), len;
    papyra_record_list *l;
    papyra_store *s;
    FILE *f = fopen(p, "wb");

    assert_non_null(f);
    /* Line 1 ends at offset 65534; "\r" is byte 65535, the last of the first read. */
    fputs(head, f);
    for (size_t i = 0; i < pad; i++)
        fputc('x', f);
    fprintf(f, "%s\r\n", tail);
    fputs("{\"timestamp\": 2.0, \"kind\": \"event\"}\n", f);
    /* Line 3: 200 kB. */
    fputs(head, f);
    for (size_t i = 0; i < 200000; i++)
        fputc('y', f);
    fputs("\", \"timestamp\": 3.0, \"kind\": \"event\"}\n", f);
    assert_int_equal(fclose(f), 0);
    data = papyra_test_read_file(p, &len);
    assert_int_equal(data[65535], '\r');
    free(data);

    s = st_open_rotating(*state, NULL);
    l = st_list(s, PAPYRA_KIND_EVENT, -1, 0);
    assert_int_equal(l->count, 3);
    assert_int_equal(strlen(l->records[2].u.event.payload), 200002);
    papyra_record_list_free(l);
    st_assert_scan(s, 0);
    papyra_store_close(s);
    free(p);
}

/*
 * The backward reader against the forward one: lines of many lengths (some
 * beyond the 64 KiB read size), every terminator, blank and corrupt lines;
 * every limit gives the newest records, a full list and a scan agree.
 */
static void
test_backward_reading_matches(void **state)
{
    char *p = papyra_test_path(*state, "rot.log");
    const char *terms[] = {"\n", "\r\n", "\r"};
    int nrec = 0, nbad = 0;
    papyra_scan_report *rep;
    papyra_record_list *l;
    papyra_store *s;
    FILE *f = fopen(p, "wb");
    unsigned seed = 12345;

    assert_non_null(f);
    for (int i = 0; i < 400; i++) {
        seed = seed * 1103515245u + 12345u;
        unsigned v = (seed >> 16) % 100;
        const char *term = terms[(seed >> 8) % 3];

        if (v < 8) {
            fputs("{bad", f);
            nbad++;
        } else if (v < 12) {
            /* Blank; a "\n" after a lone "\r" would merge into "\r\n", so never "\n". */
            term = terms[1 + (seed >> 9) % 2];
            nbad++;
        } else {
            size_t pad = v < 16 ? 70000 + (seed % 70000) : (seed >> 4) % 300;
            fputs("{\"payload\": \"", f);
            for (size_t k = 0; k < pad; k++)
                fputc('a' + (int)(k % 26), f);
            fprintf(f, "\", \"timestamp\": %d.0, \"kind\": \"event\"}", nrec++);
        }
        fputs(term, f);
    }
    /* A valid last line without its newline is a torn append: skipped, reported by scan. */
    fprintf(f, "{\"timestamp\": %d.0, \"kind\": \"event\"}", nrec);
    assert_int_equal(fclose(f), 0);

    s = st_open_rotating(*state, NULL);
    st_assert_event_stamps(s, (size_t)nrec, 0);
    for (size_t lim = 1; lim < (size_t)nrec + 3; lim += 37) {
        size_t want = lim < (size_t)nrec ? lim : (size_t)nrec;

        l = st_list(s, PAPYRA_KIND_EVENT, -1, lim);
        assert_int_equal(l->count, want);
        for (size_t i = 0; i < want; i++)
            assert_true(l->records[i].u.event.timestamp == (double)(nrec - want + i));
        papyra_record_list_free(l);
    }
    assert_int_equal(papyra_store_scan(s, &rep), 0);
    assert_int_equal(rep->count, nbad + 1);
    assert_int_equal(rep->anomalies[rep->count - 1].type, PAPYRA_ANOMALY_TRUNCATED_LINE);
    papyra_scan_report_free(rep);
    papyra_store_close(s);
    free(p);
}

/* fsync=always from several threads: group commit, nothing lost. */
static void *
always_writer(void *p)
{
    writer_arg *a = p;

    for (int i = 0; i < 50; i++)
        if (write_event_ex(a->s, "local", "E", a->thread * 1000 + i) != 0)
            atomic_fetch_add(a->failures, 1);
    return NULL;
}

static void
test_fsync_always_threads(void **state)
{
    papyra_store *s = st_open_rotating(*state, "fsync=always&max_bytes=4096&max_files=1000");
    atomic_int failures = 0;
    pthread_t th[THREADS];
    writer_arg args[THREADS];

    for (int t = 0; t < THREADS; t++) {
        args[t] = (writer_arg){s, 0, t, &failures};
        assert_int_equal(pthread_create(&th[t], NULL, always_writer, &args[t]), 0);
    }
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    assert_int_equal(atomic_load(&failures), 0);
    st_assert_count(s, PAPYRA_KIND_EVENT, THREADS * 50);
    papyra_store_close(s);
}

/*
 * Scans and lists racing appends (and rotations) from another process never
 * report an append in flight as a torn line.
 */
static void
test_readers_never_see_an_append_in_flight_as_torn(void **state)
{
    papyra_store *s = st_open_rotating(*state, "max_bytes=20000&max_files=50");
    pid_t pid = fork();
    int st;

    assert_true(pid >= 0);
    if (pid == 0) {
        papyra_store *w = st_open_rotating(*state, "max_bytes=20000&max_files=50");
        for (int i = 0; i < 20000; i++)
            if (write_event_ex(w, "local", "ActorStarted", i) != 0)
                _exit(3);
        _exit(papyra_store_close(w) != 0);
    }
    for (int i = 0; i < 300; i++) {
        papyra_scan_report *rep = NULL;
        papyra_record_list *l = st_list(s, PAPYRA_KIND_EVENT, -1, 5);
        papyra_record_list_free(l);
        assert_int_equal(papyra_store_scan(s, &rep), 0);
        if (rep->count)
            fail_msg("scan %d: %s: %s", i, rep->anomalies[0].path, rep->anomalies[0].detail);
        papyra_scan_report_free(rep);
    }
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    papyra_store_close(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        PAPYRA_TEST_IN_TMPDIR(test_missing_files_empty),
        PAPYRA_TEST_IN_TMPDIR(test_roundtrip_each_kind),
        PAPYRA_TEST_IN_TMPDIR(test_rotation_creates_files),
        PAPYRA_TEST_IN_TMPDIR(test_rotation_keeps_newest),
        PAPYRA_TEST_IN_TMPDIR(test_since_and_limit),
        PAPYRA_TEST_IN_TMPDIR(test_skips_bad_lines_and_unknown_keys),
        PAPYRA_TEST_IN_TMPDIR(test_never_exceeds_max_files),
        PAPYRA_TEST_IN_TMPDIR(test_max_files_one_truncates),
        PAPYRA_TEST_IN_TMPDIR(test_url_validation),
        PAPYRA_TEST_IN_TMPDIR(test_fsync_modes_write),
        PAPYRA_TEST_IN_TMPDIR(test_retention_policies),
        PAPYRA_TEST_IN_TMPDIR(test_upstream_bytes),
        PAPYRA_TEST_IN_TMPDIR(test_universal_newlines),
        PAPYRA_TEST_IN_TMPDIR(test_metrics_counted),
        PAPYRA_TEST_IN_TMPDIR(test_unusable_path),
        PAPYRA_TEST_IN_TMPDIR(test_missing_directory),
        PAPYRA_TEST_IN_TMPDIR(test_threads_and_processes),
        PAPYRA_TEST_IN_TMPDIR(test_backward_reading_matches),
        PAPYRA_TEST_IN_TMPDIR(test_fsync_always_threads),
        PAPYRA_TEST_IN_TMPDIR(test_long_lines_and_split_crlf),
        PAPYRA_TEST_IN_TMPDIR(test_readers_never_see_an_append_in_flight_as_torn),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
