/* SPDX-License-Identifier: MIT */
/*
 * The rotating backend's maintenance on real files: scans of torn and
 * orphaned files, recovery, compaction, and their crash safety (a child
 * killed at every step of a compaction or a repair).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <papyra/store.h>

#include "store-testutil.h"
#include "testutil.h"

static void
test_torn_tail_terminated(void **state)
{
    char *p = papyra_test_path(*state, "rot.log");
    const char *text = "{\"timestamp\": 1.0, \"kind\": \"event\"}\n{\"timestamp\": 2.0, \"ki";
    papyra_store *s;

    papyra_test_write_file(p, text, strlen(text));
    s = st_open_rotating(*state, NULL);
    st_assert_anomaly(s, PAPYRA_ANOMALY_TRUNCATED_LINE, "Line 2 missing newline");
    st_write_event(s, 1, 3);
    st_assert_event_stamp(s, 2, 1, 3.0);
    st_assert_anomaly(s, PAPYRA_ANOMALY_CORRUPTED_LINE, "Invalid JSON at line 2");
    papyra_store_close(s);
    free(p);
}

/*
 * Upstream compaction case 1: retention and no temp leftovers. Upstream used
 * max_files=3 and relied on rotation stopping when full to keep all 10
 * records; with correct rotation 5 files keep 5, of which retention keeps 3.
 */
static void
test_compaction_retention(void **state)
{
    papyra_store *s = st_open_rotating(*state, "max_bytes=80&max_files=5&max_records=3");
    papyra_compaction_report rep;

    for (int i = 0; i < 10; i++)
        st_write_event(s, 1, i);
    assert_true(st_count_set(*state, "rot.log") >= 2);
    assert_int_equal(papyra_store_compact(s, &rep), 0);
    assert_true(st_count_set(*state, "rot.log") <= 3);
    assert_false(papyra_test_exists(*state, ".rot.log.rebuild"));
    assert_int_equal(st_count_lines_in(*state, "rot.log"), 3);
    assert_int_equal(rep.after_records, 3);
    assert_true(rep.before_records >= 3);
    assert_true(rep.before_records - rep.after_records >= 1);
    papyra_store_close(s);
}

/* Upstream compaction case 2: a corrupt rotated file. */
static void
test_compaction_drops_corrupt(void **state)
{
    char *p1 = papyra_test_path(*state, "rot.log.1"), *p0 = papyra_test_path(*state, "rot.log");
    const char *ok = "{\"timestamp\": 1.0, \"kind\": \"event\"}\n";
    papyra_compaction_report rep;
    papyra_store *s;

    papyra_test_write_file(p1, "{not-json\n", 10);
    papyra_test_write_file(p0, ok, strlen(ok));
    s = st_open_rotating(*state, "max_bytes=100&max_files=2");
    assert_int_equal(papyra_store_compact(s, &rep), 0);
    assert_int_equal(st_count_lines_in(*state, "rot.log"), 1);
    assert_int_equal(rep.after_records, 1);
    papyra_test_assert_file(p0, ok, strlen(ok));
    assert_false(papyra_test_exists(*state, "rot.log.1"));
    papyra_store_close(s);
    free(p0);
    free(p1);
}

static void
test_compaction_empty(void **state)
{
    papyra_store *s = st_open_rotating(*state, NULL);
    papyra_compaction_report rep;

    assert_int_equal(papyra_store_compact(s, &rep), 0);
    assert_int_equal(rep.before_records, 0);
    assert_int_equal(rep.after_records, 0);
    assert_int_equal(rep.before_bytes, 0);
    assert_int_equal(rep.after_bytes, 0);
    assert_int_equal(st_count_set(*state, "rot.log"), 0);
    papyra_store_close(s);
}

static void
test_recovery_repair(void **state)
{
    char *p = papyra_test_path(*state, "rot.log");
    const char *text = "{\"kind\":\"event\",\"timestamp\":1}\n{\"kind\": \"ev";
    const char *want = "{\"kind\": \"event\", \"timestamp\": 1}\n";
    papyra_recovery_options o = {.mode = PAPYRA_RECOVER_REPAIR};
    papyra_recovery_report *rep = NULL;
    papyra_store *s;

    papyra_test_write_file(p, text, strlen(text));
    s = st_open_rotating(*state, "max_bytes=100&max_files=3");
    assert_int_equal(papyra_store_recover(s, &o, &rep), 0);
    assert_true(rep->n_repaired >= 1);
    assert_string_equal(rep->repaired[0], p);
    assert_non_null(rep->after);
    assert_int_equal(rep->after->count, 0);
    papyra_test_assert_file(p, want, strlen(want));
    papyra_recovery_report_free(rep);
    papyra_store_close(s);
    free(p);
}

/* Upstream duplicated records when fewer files were rebuilt than existed. */
static void
test_recovery_no_duplicates(void **state)
{
    papyra_store *s = st_open_rotating(*state, "max_bytes=120&max_files=5");
    papyra_recovery_options o = {.mode = PAPYRA_RECOVER_REPAIR};
    papyra_recovery_report *rep = NULL;
    papyra_record_list *l;
    char *p;

    for (int i = 0; i < 4; i++)
        st_write_event(s, 1, i);
    assert_true(st_count_set(*state, "rot.log") >= 3);
    p = papyra_test_path(*state, "rot.log.2");
    papyra_test_write_file(p, "garbage\n", 8);
    free(p);
    papyra_store_close(s);
    s = st_open_rotating(*state, "max_bytes=100000&max_files=5");
    assert_int_equal(papyra_store_recover(s, &o, &rep), 0);
    assert_int_equal(st_count_set(*state, "rot.log"), 1);
    papyra_recovery_report_free(rep);
    l = st_list(s, PAPYRA_KIND_EVENT, -1, 0);
    for (size_t i = 1; i < l->count; i++)
        assert_true(l->records[i].u.event.timestamp > l->records[i - 1].u.event.timestamp);
    assert_int_equal(l->count, 3);
    papyra_record_list_free(l);
    papyra_store_close(s);
}

static void
test_recovery_quarantine_orphan(void **state)
{
    char *p = papyra_test_path(*state, "rot.log"),
         *orphan = papyra_test_path(*state, "rot.log.orphan");
    char *qdir = papyra_test_path(*state, "q");
    const char *text = "{\"kind\": \"event\", \"timestamp\": 1}\n{broken\n";
    const char *want = "{\"kind\": \"event\", \"timestamp\": 1}\n";
    papyra_recovery_options o = {.mode = PAPYRA_RECOVER_QUARANTINE, .quarantine_dir = qdir};
    papyra_recovery_report *rep = NULL;
    papyra_store *s;
    bool seen = false;

    papyra_test_write_file(p, text, strlen(text));
    papyra_test_write_file(orphan, "x", 1);
    s = st_open_rotating(*state, "max_bytes=100&max_files=2");
    assert_int_equal(papyra_store_recover(s, &o, &rep), 0);
    for (size_t i = 0; i < rep->scan->count; i++)
        if (rep->scan->anomalies[i].type == PAPYRA_ANOMALY_ORPHANED_ROTATED_FILE &&
            strcmp(rep->scan->anomalies[i].path, orphan) == 0)
            seen = true;
    assert_true(seen);
    papyra_test_assert_file(p, want, strlen(want));
    /* QUARANTINE moves the orphan away (REPAIR would leave it). */
    assert_false(papyra_test_exists(*state, "rot.log.orphan"));
    assert_int_equal(rep->n_quarantined, 2);
    assert_int_equal(papyra_test_count_prefix(qdir, "rot.log.quarantine."), 1);
    assert_int_equal(papyra_test_count_prefix(qdir, "rot.log.orphan.quarantine."), 1);
    papyra_test_assert_prefix_content(qdir, "rot.log.quarantine.", text, strlen(text));
    assert_int_equal(rep->after->count, 0);
    papyra_recovery_report_free(rep);
    papyra_store_close(s);
    free(p);
    free(orphan);
    free(qdir);
}

/* REPAIR keeps the orphan, as upstream's test wants; the after-scan still reports it. */
static void
test_recovery_repair_keeps_orphan(void **state)
{
    char *p = papyra_test_path(*state, "rot.log"),
         *orphan = papyra_test_path(*state, "rot.log.orphan");
    const char *text = "{\"kind\": \"event\", \"timestamp\": 1}\n{broken\n";
    papyra_recovery_options o = {.mode = PAPYRA_RECOVER_REPAIR};
    papyra_recovery_report *rep = NULL;
    papyra_store *s;

    papyra_test_write_file(p, text, strlen(text));
    papyra_test_write_file(orphan, "x", 1);
    s = st_open_rotating(*state, "max_bytes=100&max_files=2");
    assert_int_equal(papyra_store_recover(s, &o, &rep), PAPYRA_EANOMALY);
    assert_true(papyra_test_exists(*state, "rot.log.orphan"));
    assert_int_equal(rep->after->count, 1);
    assert_int_equal(rep->after->anomalies[0].type, PAPYRA_ANOMALY_ORPHANED_ROTATED_FILE);
    papyra_recovery_report_free(rep);
    papyra_store_close(s);
    free(p);
    free(orphan);
}

/* Our own side files are never orphans; foreign names and out-of-range indexes are. */
static void
test_orphans(void **state)
{
    const char *own[] = {"rot.log.metrics",
                         "rot.log.quarantine.1700000000000",
                         "rot.log.1.quarantine.1700000000000",
                         ".rot.log.lock",
                         "other.txt",
                         "rot.log.2"};
    const char *foreign[] = {"rot.log.7", "rot.log.bak", "rot.log.compact.tmp"};
    papyra_store *s;
    papyra_scan_report *rep;

    for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
        char *p = papyra_test_path(*state, own[i]);
        papyra_test_write_file(p, "", 0);
        free(p);
    }
    for (size_t i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++) {
        char *p = papyra_test_path(*state, foreign[i]);
        papyra_test_write_file(p, "", 0);
        free(p);
    }
    s = st_open_rotating(*state, "max_files=3");
    assert_int_equal(papyra_store_scan(s, &rep), 0);
    assert_int_equal(rep->count, 3);
    for (size_t i = 0; i < rep->count; i++) {
        assert_int_equal(rep->anomalies[i].type, PAPYRA_ANOMALY_ORPHANED_ROTATED_FILE);
        assert_string_equal(rep->anomalies[i].detail, "Unexpected file in rotation set");
    }
    /* Sorted by name. */
    assert_non_null(strstr(rep->anomalies[0].path, "rot.log.7"));
    assert_non_null(strstr(rep->anomalies[1].path, "rot.log.bak"));
    papyra_scan_report_free(rep);
    papyra_store_close(s);
}

/* Builds the old set: 10 events over several files plus one corrupt line. */
static void
crash_fixture(const char *dir)
{
    papyra_store *s = st_open_rotating(dir, "max_bytes=300&max_files=10");
    char *p;

    for (int i = 0; i < 10; i++)
        st_write_event(s, 1, i);
    papyra_store_close(s);
    p = papyra_test_path(dir, "rot.log.1");
    papyra_test_append_file(p, "{bad\n", 5);
    free(p);
}

/* An operation that a child runs until PAPYRA_TEST_CRASH_AT kills it. */
typedef int (*crash_op)(papyra_store *s);

static int
compact_op(papyra_store *s)
{
    papyra_compaction_report rep;
    return papyra_store_compact(s, &rep);
}

static int
repair_op(papyra_store *s)
{
    papyra_recovery_options o = {.mode = PAPYRA_RECOVER_REPAIR};
    papyra_recovery_report *rep = NULL;
    return papyra_store_recover(s, &o, &rep);
}

/* The set after a crash point, opened as the fixture wrote it; no rebuild stage is left. */
static papyra_store *
open_settled(const char *dir)
{
    papyra_store *s = st_open_rotating(dir, "max_bytes=300&max_files=10");

    assert_false(papyra_test_exists(dir, ".rot.log.rebuild"));
    return s;
}

/*
 * Runs @p op on "rotating:<dir>/rot.log?<params>" in a child that _exits at
 * its step @p n. Returns the child's exit status: 0 when the operation
 * finished, 137 when it was killed.
 */
static int
run_crashing(const char *dir, const char *params, long n, crash_op op)
{
    int st = 0;
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        papyra_store *cs = NULL;
        char *url, num[32];

        snprintf(num, sizeof(num), "%ld", n);
        if (asprintf(&url, "rotating:%s/rot.log?%s&metrics=none", dir, params) < 0 ||
            papyra_store_open(&cs, url, NULL) != 0)
            _exit(2);
        setenv("PAPYRA_TEST_CRASH_AT", num, 1);
        _exit(op(cs) == 0 ? 0 : 3);
    }
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_true(WEXITSTATUS(st) == 0 || WEXITSTATUS(st) == 137);
    return WEXITSTATUS(st);
}

/*
 * One crash point: on a fresh crash fixture, runs the operation killed at
 * its step @p n, sets *finished when it ran to the end instead, checks what
 * it left and returns whether that is the old set (else the new one).
 */
typedef bool (*crash_step)(const char *dir, long n, bool *finished);

/*
 * Runs @p step at the crash points 1, 2... until the operation finishes
 * (within 200 steps); each of the old and the new set must have been left
 * at least @p min times.
 */
static void
crash_at_every_step(const char *dir, const char *what, crash_step step, int min)
{
    bool finished = false;
    int olds = 0, news = 0;
    long n;

    for (n = 1; n < 200 && !finished; n++) {
        papyra_test_rmtree(dir);
        assert_int_equal(mkdir(dir, 0700), 0);
        crash_fixture(dir);
        if (step(dir, n, &finished))
            olds++;
        else
            news++;
    }
    print_message("%s finished after %ld crash points: %d old, %d new\n", what, n - 2, olds, news);
    assert_true(finished);
    assert_true(olds >= min);
    assert_true(news >= min);
}

static bool
compaction_step(const char *dir, long n, bool *finished)
{
    papyra_record_list *l;
    papyra_store *s;
    bool old;

    *finished = run_crashing(dir, "max_bytes=100&max_files=10&max_records=3", n, compact_op) == 0;
    s = open_settled(dir);
    l = st_list(s, PAPYRA_KIND_EVENT, -1, 0);
    old = l->count == 10;
    papyra_record_list_free(l);
    /* The old set, or the newest 3 of it. */
    st_assert_event_stamps(s, old ? 10 : 3, old ? 0 : 7);
    /* The old set still has its corrupt line; the new one is clean. */
    st_assert_scan(s, old ? 1 : 0);
    /* A writer after the crash appends to the settled set. */
    st_write_event(s, 1, 100);
    l = st_list(s, PAPYRA_KIND_EVENT, -1, 0);
    assert_true(l->records[l->count - 1].u.event.timestamp == 100.0);
    papyra_record_list_free(l);
    papyra_store_close(s);
    return old;
}

/* kill -9 (here _exit) at every step of a compaction leaves the old or the new set. */
static void
test_compaction_crash_safety(void **state)
{
    crash_at_every_step(*state, "compaction", compaction_step, 3);
}

static bool
open_writer_step(const char *dir, long n, bool *finished)
{
    papyra_store *w = st_open_rotating(dir, "max_bytes=300&max_files=10"), *s;
    papyra_record_list *l;
    int found = 0;
    bool old;

    st_write_event(w, 1, 50);
    *finished = run_crashing(dir, "max_bytes=100&max_files=10&max_records=3", n, compact_op) == 0;
    /* The first operation after the crash: the open writer appends. */
    st_write_event(w, 1, 100);
    papyra_store_close(w);

    s = open_settled(dir);
    l = st_list(s, PAPYRA_KIND_EVENT, -1, 0);
    for (size_t i = 0; i < l->count; i++)
        found += l->records[i].u.event.timestamp == 100.0;
    assert_int_equal(found, 1);
    assert_true(l->records[l->count - 1].u.event.timestamp == 100.0);
    old = l->count == 12;
    if (!old) {
        /* The new set: the newest 3 of the old one (8, 9, 50), then 100. */
        assert_int_equal(l->count, 4);
        assert_true(l->records[0].u.event.timestamp == 8.0);
        assert_true(l->records[2].u.event.timestamp == 50.0);
    }
    papyra_record_list_free(l);
    papyra_store_close(s);
    return old;
}

/*
 * A writer that kept its descriptor open while another process's compaction
 * was killed at each step: its next append must go to the settled set, never
 * to an old active file that the roll-forward then replaces (the staging
 * directory's link to the active file is what tells it; no other operation
 * settles in between here).
 */
static void
test_open_writer_after_crashed_compaction(void **state)
{
    crash_at_every_step(*state, "compaction", open_writer_step, 3);
}

static bool
repair_step(const char *dir, long n, bool *finished)
{
    papyra_scan_report *rep;
    papyra_store *s;
    bool old;

    *finished = run_crashing(dir, "max_bytes=300&max_files=10", n, repair_op) == 0;
    s = open_settled(dir);
    st_assert_event_stamps(s, 10, 0);
    /* The old set still has its corrupt line; the repaired one is clean. */
    assert_int_equal(papyra_store_scan(s, &rep), 0);
    assert_true(rep->count <= 1);
    old = rep->count == 1;
    papyra_scan_report_free(rep);
    papyra_store_close(s);
    return old;
}

/* kill -9 at every step of a REPAIR leaves the damaged old set or the repaired new one. */
static void
test_recovery_crash_safety(void **state)
{
    crash_at_every_step(*state, "repair", repair_step, 2);
}

/*
 * A torn line that a writer outside the store's protocol left (upstream
 * Papyra, a copy by hand) is terminated by the next handle that opens the
 * active file, before its first record, rather than glue that record onto
 * it. (A handle that keeps its descriptor looks at the tail only after a
 * holder of the control mutex died, a replacement, a rotation or a failed
 * write; see docs/decisions.md, "One system call per record". test-control.c
 * has the writer that dies in the middle of its append.)
 */
static void
test_torn_tail_of_another_writer(void **state)
{
    papyra_store *s = st_open_rotating(*state, "max_bytes=100000&max_files=3");
    char *p = papyra_test_path(*state, "rot.log");

    st_write_event(s, 1, 1);
    papyra_store_close(s);
    papyra_test_append_file(p, "{\"timestamp\": 2", 15);
    s = st_open_rotating(*state, "max_bytes=100000&max_files=3");
    st_write_event(s, 1, 3);
    st_write_event(s, 1, 4);
    st_assert_event_stamp(s, 3, 1, 3.0);
    st_assert_anomaly(s, PAPYRA_ANOMALY_CORRUPTED_LINE, NULL);
    papyra_store_close(s);
    free(p);
}

/*
 * Quarantine by default into the hidden ".rot.log.quarantine/" next to the
 * set (upstream's orphan glob does not match it), so recovery ends clean.
 */
static void
test_quarantine_default_dir(void **state)
{
    char *p = papyra_test_path(*state, "rot.log"), *p1 = papyra_test_path(*state, "rot.log.1");
    char *qdir = papyra_test_path(*state, ".rot.log.quarantine");
    const char *good = "{\"timestamp\": 1.0, \"kind\": \"event\"}\n";
    papyra_recovery_options o = {.mode = PAPYRA_RECOVER_QUARANTINE};
    papyra_recovery_report *rep = NULL;
    papyra_store *s;

    papyra_test_write_file(p1, "[1]\n\n", 5);
    papyra_test_write_file(p, good, strlen(good));
    s = st_open_rotating(*state, NULL);
    assert_int_equal(papyra_store_recover(s, &o, &rep), 0);
    assert_int_equal(rep->scan->count, 2);
    assert_int_equal(rep->n_quarantined, 1);
    assert_int_equal(rep->after->count, 0);
    papyra_recovery_report_free(rep);
    assert_int_equal(papyra_test_count_prefix(*state, "rot.log.1.quarantine."), 0);
    assert_int_equal(papyra_test_count_prefix(qdir, "rot.log.1.quarantine."), 1);
    st_assert_scan(s, 0);
    st_assert_count(s, PAPYRA_KIND_EVENT, 1);
    papyra_store_close(s);
    free(qdir);
    free(p);
    free(p1);
}

/* A crashed, uncommitted rebuild is discarded on open and never reported. */
static void
test_stale_stage_discarded(void **state)
{
    char *stage = papyra_test_path(*state, ".rot.log.rebuild"), *f;
    papyra_store *s = st_open_rotating(*state, NULL);

    st_write_event(s, 1, 1);
    papyra_store_close(s);
    assert_int_equal(mkdir(stage, 0700), 0);
    f = papyra_test_path(stage, "0");
    papyra_test_write_file(f, "{\"timestamp\": 9.0, \"kind\": \"event\"}\n", 37);
    s = st_open_rotating(*state, NULL);
    assert_false(papyra_test_exists(*state, ".rot.log.rebuild"));
    st_assert_scan(s, 0);
    st_assert_event_stamp(s, 1, 0, 1.0);
    papyra_store_close(s);
    free(f);
    free(stage);
}

/* A writer whose active file was replaced by another handle's compaction follows it. */
static void
test_writer_follows_compaction(void **state)
{
    papyra_store *a = st_open_rotating(*state, "max_bytes=200&max_files=20");
    papyra_store *b = st_open_rotating(*state, "max_bytes=200&max_files=20&max_records=2");
    papyra_compaction_report rep;
    papyra_record_list *l;

    for (int i = 0; i < 5; i++)
        st_write_event(a, 1, i);
    assert_int_equal(papyra_store_compact(b, &rep), 0);
    assert_int_equal(rep.after_records, 2);
    st_write_event(a, 1, 5);
    papyra_store_close(b);
    l = st_list(a, PAPYRA_KIND_EVENT, -1, 0);
    assert_int_equal(l->count, 3);
    assert_true(l->records[0].u.event.timestamp == 3.0);
    assert_true(l->records[2].u.event.timestamp == 5.0);
    papyra_record_list_free(l);
    papyra_store_close(a);
}

/* Orphans alone: QUARANTINE moves them and leaves the set's bytes alone. */
static void
test_quarantine_only_orphans(void **state)
{
    char *p = papyra_test_path(*state, "rot.log"),
         *orphan = papyra_test_path(*state, "rot.log.bak"),
         *qdir = papyra_test_path(*state, ".rot.log.quarantine");
    const char *text = "{\"kind\":\"event\",\"timestamp\":1}\n";
    papyra_recovery_options o = {.mode = PAPYRA_RECOVER_QUARANTINE};
    papyra_recovery_report *rep = NULL;
    papyra_store *s;

    papyra_test_write_file(p, text, strlen(text));
    papyra_test_write_file(orphan, "x", 1);
    s = st_open_rotating(*state, NULL);
    assert_int_equal(papyra_store_recover(s, &o, &rep), 0);
    assert_int_equal(rep->n_repaired, 0);
    assert_int_equal(rep->n_quarantined, 1);
    assert_int_equal(rep->after->count, 0);
    assert_false(papyra_test_exists(*state, "rot.log.bak"));
    assert_int_equal(papyra_test_count_prefix(qdir, "rot.log.bak.quarantine."), 1);
    papyra_test_assert_file(p, text, strlen(text));
    papyra_recovery_report_free(rep);
    papyra_store_close(s);
    free(qdir);
    free(p);
    free(orphan);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        PAPYRA_TEST_IN_TMPDIR(test_torn_tail_terminated),
        PAPYRA_TEST_IN_TMPDIR(test_compaction_retention),
        PAPYRA_TEST_IN_TMPDIR(test_compaction_drops_corrupt),
        PAPYRA_TEST_IN_TMPDIR(test_compaction_empty),
        PAPYRA_TEST_IN_TMPDIR(test_recovery_repair),
        PAPYRA_TEST_IN_TMPDIR(test_recovery_no_duplicates),
        PAPYRA_TEST_IN_TMPDIR(test_recovery_quarantine_orphan),
        PAPYRA_TEST_IN_TMPDIR(test_recovery_repair_keeps_orphan),
        PAPYRA_TEST_IN_TMPDIR(test_orphans),
        PAPYRA_TEST_IN_TMPDIR(test_quarantine_only_orphans),
        PAPYRA_TEST_IN_TMPDIR(test_quarantine_default_dir),
        PAPYRA_TEST_IN_TMPDIR(test_stale_stage_discarded),
        PAPYRA_TEST_IN_TMPDIR(test_writer_follows_compaction),
        PAPYRA_TEST_IN_TMPDIR(test_compaction_crash_safety),
        PAPYRA_TEST_IN_TMPDIR(test_open_writer_after_crashed_compaction),
        PAPYRA_TEST_IN_TMPDIR(test_torn_tail_of_another_writer),
        PAPYRA_TEST_IN_TMPDIR(test_recovery_crash_safety),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
