/* SPDX-License-Identifier: MIT */
/*
 * Durability errors of the file backends (json:, rotating:) stick: a failed
 * fdatasync is an error for every writer whose record it covered, and
 * poisons the handle, so that later writes fail until the store is reopened
 * or a recover has rewritten the data. On Linux a retried fdatasync after a
 * failure returns 0 (the error is reported once), so nothing may be called
 * durable after one.
 *
 * The faults are real failed calls: meson runs this test with the
 * interposer fsync-fault.c in LD_PRELOAD, which fails the Nth fdatasync or
 * fsync of a file once with EIO (and lets later ones succeed, as Linux
 * does). The library is the real one.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <papyra/store.h>

#include "store-testutil.h"
#include "testutil.h"

/* The interposer's counters, found at run time: the test fails without it. */
static int (*fault_injected)(void);
static int (*fault_holding)(void);

static void
find_interposer(void)
{
    *(void **)&fault_injected = dlsym(RTLD_DEFAULT, "papyra_fsync_fault_injected");
    *(void **)&fault_holding = dlsym(RTLD_DEFAULT, "papyra_fsync_fault_holding");
    if (!fault_injected || !fault_holding)
        fail_msg("fsync-fault.so is not preloaded (meson test sets LD_PRELOAD)");
}

/*
 * Arms the interposer: the @p nth fdatasync/fsync of every file whose path
 * ends with "/fault.log" fails once; with @p hold, the first one waits until the
 * file holds that many lines. Set while no store of this process is open.
 */
static void
arm(int nth, int hold)
{
    char v[16];

    setenv("PAPYRA_FSYNC_FAULT_PATH", "/fault.log", 1);
    snprintf(v, sizeof(v), "%d", nth);
    setenv("PAPYRA_FSYNC_FAULT_NTH", v, 1);
    if (hold > 0) {
        snprintf(v, sizeof(v), "%d", hold);
        setenv("PAPYRA_FSYNC_FAULT_HOLD", v, 1);
    } else {
        unsetenv("PAPYRA_FSYNC_FAULT_HOLD");
    }
}

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* Opens "<scheme>:<dir>/fault.log?fsync=<fsync>&metrics=none"; *path gets the data path. */
static papyra_store *
open_fault(const char *dir, const char *scheme, const char *fsync, char **path)
{
    *path = papyra_test_path(dir, "fault.log");
    return st_open("%s:%s?fsync=%s&metrics=none", scheme, *path, fsync);
}

/* The bytes of the first line of @p path, its newline included. */
static long
first_line_bytes(const char *path)
{
    size_t len;
    char *text = papyra_test_read_file(path, &len);
    char *nl = memchr(text, '\n', len);
    long n = nl ? (long)(nl - text) + 1 : -1;

    free(text);
    return n;
}

/* The sticky message of a poisoned handle whose data is durable up to @p off. */
static void
assert_sticky(papyra_store *s, const char *path, long off)
{
    char want[1024];
    papyra_record ev = st_event(99, 99.0);

    snprintf(want, sizeof(want),
             "an earlier fsync of %s failed; records since offset %ld may not be durable; "
             "reopen the store or run recover",
             path, off);
    assert_int_equal(papyra_store_write(s, &ev), PAPYRA_EIO);
    assert_string_equal(papyra_store_errmsg(s), want);
}

/* One writer thread of the three-writer scenario: its result and its own message. */
typedef struct writer {
    papyra_store *s;
    int n;
    pthread_t t;
    int result;
    char msg[1024];
} writer;

static void *
writer_main(void *arg)
{
    writer *w = arg;
    papyra_record ev = st_event(w->n, (double)w->n);

    w->result = papyra_store_write(w->s, &ev);
    snprintf(w->msg, sizeof(w->msg), "%s", w->result < 0 ? papyra_store_errmsg(w->s) : "");
    return NULL;
}

static void
start_writer(writer *w, papyra_store *s, int n)
{
    w->s = s;
    w->n = n;
    assert_int_equal(pthread_create(&w->t, NULL, writer_main, w), 0);
}

/*
 * Three threads write one record each with fsync=always. The first one's
 * fdatasync is held until all three records are in the file, so that the
 * other two wait behind it; then one of them syncs for both, and that second
 * fdatasync fails with EIO. The first writer is durable and told so; both
 * others get EIO (the one whose record the failed sync covered, with the
 * sync's error; a record written after it started, with the sticky error).
 * Returns the offset up to which the file is durable: the first record.
 */
static long
three_writers(papyra_store *s, const char *path)
{
    writer w[3];
    int injected = fault_injected();
    long off;

    memset(w, 0, sizeof(w));
    start_writer(&w[0], s, 1);
    /* The first writer is inside its fdatasync, held until three lines are written. */
    for (int i = 0; i < 10000 && fault_holding() == 0; i++)
        sleep_ms(1);
    assert_int_equal(fault_holding(), 1);
    start_writer(&w[1], s, 2);
    start_writer(&w[2], s, 3);
    for (int i = 0; i < 3; i++)
        pthread_join(w[i].t, NULL);

    assert_int_equal(fault_injected(), injected + 1);
    assert_int_equal(w[0].result, 0);
    off = first_line_bytes(path);
    for (int i = 1; i < 3; i++) {
        char tail[256];

        assert_int_equal(w[i].result, PAPYRA_EIO);
        snprintf(tail, sizeof(tail),
                 "records since offset %ld may not be durable; reopen the store or run recover",
                 off);
        assert_non_null(strstr(w[i].msg, tail));
        assert_non_null(strstr(w[i].msg, path));
    }
    /* Whoever ran the failed sync was covered by it, and has its error. */
    assert_true(strncmp(w[1].msg, "cannot sync ", 12) == 0 ||
                strncmp(w[2].msg, "cannot sync ", 12) == 0);
    return off;
}

/* A clean scan, and a recover that finds and leaves nothing. */
static void
assert_recovered(papyra_store *s)
{
    papyra_recovery_options opts = {.mode = PAPYRA_RECOVER_REPAIR};
    papyra_recovery_report *rep = NULL;

    assert_int_equal(papyra_store_recover(s, &opts, &rep), 0);
    assert_true(rep->after == NULL || rep->after->count == 0);
    papyra_recovery_report_free(rep);
    st_assert_scan(s, 0);
}

/* test_json_CHECK and test_rotating_CHECK: the same check on both file backends. */
#define ON_BOTH_FILE_BACKENDS(check)                \
    static void test_json_##check(void **state)     \
    {                                               \
        check(*state, "json");                      \
    }                                               \
    static void test_rotating_##check(void **state) \
    {                                               \
        check(*state, "rotating");                  \
    }
/*
 * The scenario on @p scheme: every covered writer gets EIO, the handle then
 * refuses writes (and its close fails) until it is reopened, the reopened
 * store writes, and a recover after the failed sync leaves a clean scan.
 */
static void
covered_writers_fail(const char *dir, const char *scheme)
{
    char *path;
    papyra_store *s;
    long off;

    find_interposer();
    arm(2, 3);
    s = open_fault(dir, scheme, "always", &path);
    off = three_writers(s, path);
    assert_int_equal(st_counter(s, PAPYRA_METRIC_WRITE_ERRORS), 2);
    assert_int_equal(st_counter(s, PAPYRA_METRIC_RECORDS_WRITTEN), 1);

    /* Poisoned: the next write fails before writing anything, and counts. */
    assert_sticky(s, path, off);
    assert_sticky(s, path, off);
    assert_int_equal(st_counter(s, PAPYRA_METRIC_WRITE_ERRORS), 4);
    assert_int_equal(st_count_lines(path), 3);
    /* Close is a sync too: it fails the same way. */
    assert_int_equal(papyra_store_close(s), PAPYRA_EIO);

    /* Reopened, the store writes again (later fdatasyncs of the file succeed). */
    s = st_open("%s:%s?fsync=always&metrics=none", scheme, path);
    st_write_event(s, 4, 4.0);
    assert_recovered(s);
    st_assert_count(s, PAPYRA_KIND_EVENT, 4);
    assert_int_equal(papyra_store_close(s), 0);
    free(path);
}

ON_BOTH_FILE_BACKENDS(covered_writers_fail)

/*
 * A recover on the poisoned handle itself rewrites the data into new,
 * fsynced files although the scan is clean, and lifts the poison: the
 * handle writes again without a reopen.
 */
static void
recover_lifts_poison(const char *dir, const char *scheme)
{
    papyra_recovery_options opts = {.mode = PAPYRA_RECOVER_REPAIR};
    papyra_recovery_report *rep = NULL;
    papyra_record ev = st_event(2, 2.0);
    char *path;
    papyra_store *s;

    find_interposer();
    arm(2, 0);
    s = open_fault(dir, scheme, "always", &path);
    st_write_event(s, 1, 1.0);
    assert_int_equal(papyra_store_write(s, &ev), PAPYRA_EIO);
    assert_non_null(strstr(papyra_store_errmsg(s), "cannot sync "));
    assert_sticky(s, path, first_line_bytes(path));

    assert_int_equal(papyra_store_recover(s, &opts, &rep), 0);
    assert_true(rep->n_repaired >= 1);
    assert_non_null(rep->after);
    assert_int_equal(rep->after->count, 0);
    papyra_recovery_report_free(rep);
    st_assert_scan(s, 0);
    st_write_event(s, 3, 3.0);
    st_assert_count(s, PAPYRA_KIND_EVENT, 3);
    assert_int_equal(papyra_store_close(s), 0);
    free(path);
}

ON_BOTH_FILE_BACKENDS(recover_lifts_poison)

/*
 * fsync=everysec: the background flusher's failed sync poisons the handle
 * as well; the write it covered had returned already, so the next one is
 * refused.
 */
static void
everysec_failure_sticks(const char *dir, const char *scheme)
{
    char *path;
    papyra_store *s;
    int injected;

    find_interposer();
    injected = fault_injected();
    arm(1, 0);
    s = open_fault(dir, scheme, "everysec", &path);
    st_write_event(s, 1, 1.0);
    for (int i = 0; i < 5000 && fault_injected() == injected; i++)
        sleep_ms(1);
    assert_int_equal(fault_injected(), injected + 1);
    assert_sticky(s, path, 0);
    assert_int_equal(papyra_store_close(s), PAPYRA_EIO);
    free(path);
}

ON_BOTH_FILE_BACKENDS(everysec_failure_sticks)

/* One of the eight writers below: records until the first error, and that error. */
typedef struct looper {
    papyra_store *s;
    int id;
    pthread_t t;
    int written, result;
    char msg[1024];
} looper;

static void *
looper_main(void *arg)
{
    looper *w = arg;
    char addr[32];

    snprintf(addr, sizeof(addr), "\"local://%d\"", w->id);
    for (int i = 0; i < 1000; i++) {
        papyra_record ev = {.kind = PAPYRA_KIND_EVENT};

        ev.u.event.system_id = "local";
        ev.u.event.actor_address = addr;
        ev.u.event.event_type = "ActorStarted";
        ev.u.event.timestamp = (double)(w->id * 1000 + i);
        w->result = papyra_store_write(w->s, &ev);
        if (w->result != 0) {
            snprintf(w->msg, sizeof(w->msg), "%s", papyra_store_errmsg(w->s));
            break;
        }
        w->written++;
    }
    return NULL;
}

/* The offset in "records since offset N may not be durable" of @p msg, or -1. */
static long
message_offset(const char *msg)
{
    const char *p = strstr(msg, "records since offset ");

    return p ? atol(p + strlen("records since offset ")) : -1;
}

/*
 * Eight threads write one record per call with fsync=always until a write
 * fails. The first sync is held until all eight have written, so that the
 * second one covers the records of several threads at once, and that one
 * fails. Every writer ends with an error: those whose records the failed
 * sync covered with the sync's own ("cannot sync ..."), the others with the
 * sticky one; at least two were covered; all name the same offset, up to
 * which the records that succeeded are; nothing that succeeded is lost.
 */
static void
failed_group_sync(const char *dir, const char *scheme)
{
    looper w[8];
    char *path;
    papyra_store *s;
    int covered = 0, ok = 0, injected;
    long off = -1;
    size_t lines;

    find_interposer();
    injected = fault_injected();
    arm(2, 8);
    s = open_fault(dir, scheme, "always", &path);
    memset(w, 0, sizeof(w));
    for (int k = 0; k < 8; k++) {
        w[k].s = s;
        w[k].id = k;
        assert_int_equal(pthread_create(&w[k].t, NULL, looper_main, &w[k]), 0);
    }
    for (int k = 0; k < 8; k++)
        pthread_join(w[k].t, NULL);
    assert_int_equal(fault_injected(), injected + 1);
    for (int k = 0; k < 8; k++) {
        assert_int_equal(w[k].result, PAPYRA_EIO);
        assert_non_null(strstr(w[k].msg, path));
        if (strncmp(w[k].msg, "cannot sync ", 12) == 0)
            covered++;
        else
            assert_true(strncmp(w[k].msg, "an earlier fsync of ", 20) == 0);
        if (off < 0)
            off = message_offset(w[k].msg);
        assert_int_equal(message_offset(w[k].msg), off);
        ok += w[k].written;
    }
    print_message("%s: the failed sync covered %d of 8 writers\n", scheme, covered);
    assert_true(covered >= 2);
    /* What succeeded, what the failed sync covered, and at most the later appends. */
    lines = st_count_lines(path);
    assert_true(lines >= (size_t)(ok + covered) && lines <= (size_t)(ok + 8));
    assert_true(off >= first_line_bytes(path));
    assert_int_equal(papyra_store_close(s), PAPYRA_EIO);
    free(path);
}

ON_BOTH_FILE_BACKENDS(failed_group_sync)

/* Recover in quarantine mode into a quarantine directory three levels below one that exists. */
static void
nested_quarantine_dir(const char *dir, const char *scheme)
{
    char *path = papyra_test_path(dir, "data.log");
    char *qdir = papyra_test_path(dir, "a/b/c");
    papyra_recovery_options opts = {.mode = PAPYRA_RECOVER_QUARANTINE, .quarantine_dir = qdir};
    papyra_recovery_report *rep = NULL;
    papyra_store *s = st_open("%s:%s?metrics=none", scheme, path);

    st_write_event(s, 1, 1.0);
    papyra_test_append_file(path, "{corrupt\n", 9);
    st_assert_scan(s, 1);
    assert_int_equal(papyra_store_recover(s, &opts, &rep), 0);
    assert_int_equal(rep->n_quarantined, 1);
    assert_true(strncmp(rep->quarantined[0], qdir, strlen(qdir)) == 0);
    assert_int_equal(papyra_test_count_prefix(qdir, "data.log.quarantine."), 1);
    papyra_recovery_report_free(rep);
    st_assert_scan(s, 0);
    st_assert_count(s, PAPYRA_KIND_EVENT, 1);
    assert_int_equal(papyra_store_close(s), 0);
    free(qdir);
    free(path);
}

ON_BOTH_FILE_BACKENDS(nested_quarantine_dir)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        PAPYRA_TEST_IN_TMPDIR(test_json_covered_writers_fail),
        PAPYRA_TEST_IN_TMPDIR(test_rotating_covered_writers_fail),
        PAPYRA_TEST_IN_TMPDIR(test_json_recover_lifts_poison),
        PAPYRA_TEST_IN_TMPDIR(test_rotating_recover_lifts_poison),
        PAPYRA_TEST_IN_TMPDIR(test_json_failed_group_sync),
        PAPYRA_TEST_IN_TMPDIR(test_rotating_failed_group_sync),
        PAPYRA_TEST_IN_TMPDIR(test_json_everysec_failure_sticks),
        PAPYRA_TEST_IN_TMPDIR(test_rotating_everysec_failure_sticks),
        PAPYRA_TEST_IN_TMPDIR(test_json_nested_quarantine_dir),
        PAPYRA_TEST_IN_TMPDIR(test_rotating_nested_quarantine_dir),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
