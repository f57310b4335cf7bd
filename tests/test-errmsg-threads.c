/* SPDX-License-Identifier: MIT */
/*
 * Error messages of a shared handle: while several threads fail on one store
 * (or one metrics handle) with different messages, each reads back exactly
 * the message its own call left; a thread that left none reads "".
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

#include <cmocka.h>
#include <papyra/metrics.h>
#include <papyra/store.h>

#include "store-testutil.h"
#include "testutil.h"

#define THREADS 8
#ifndef ITERATIONS
#define ITERATIONS 4000
#endif
#define MSG_MAX 600

/* A batch of t + 1 events whose last one cannot be serialised: "record <t> ...". */
static void
bad_batch(papyra_record *recs, int t)
{
    for (int i = 0; i <= t; i++)
        recs[i] = st_event(i, i);
    recs[t].u.event.payload = "{not json";
}

static papyra_recovery_options
bad_mode(int mode)
{
    return (papyra_recovery_options){.mode = (papyra_recovery_mode)mode};
}

/* Copies what the calling thread reads for @p s now. */
static void
store_msg(papyra_store *s, char out[MSG_MAX])
{
    snprintf(out, MSG_MAX, "%s", papyra_store_errmsg(s));
}

struct store_case {
    papyra_store *a, *b;
    /* Each thread's messages, recorded one by one before the threads start. */
    char write_msg[THREADS][MSG_MAX];
    char recover_a[THREADS][MSG_MAX];
    char recover_b[THREADS][MSG_MAX];
    char list_msg[MSG_MAX];
};

/*
 * What the worker threads found wrong: cmocka's failures jump back into the
 * test's frame, which only its own thread may do, so workers note the first
 * mismatch and the test fails on it once they are joined.
 */
static atomic_long mismatches;
static pthread_mutex_t first_mu = PTHREAD_MUTEX_INITIALIZER;
static char first[2 * MSG_MAX + 128];

static void
note(int t, const char *what, const char *got, const char *want)
{
    if (atomic_fetch_add(&mismatches, 1) > 0)
        return;
    pthread_mutex_lock(&first_mu);
    snprintf(first, sizeof(first), "thread %d, %s: read \"%s\", its call left \"%s\"", t, what, got,
             want);
    pthread_mutex_unlock(&first_mu);
}

static void
expect_rc(int got, int want, int t, const char *what)
{
    char g[16], w[16];

    if (got == want)
        return;
    snprintf(g, sizeof(g), "%d", got);
    snprintf(w, sizeof(w), "%d", want);
    note(t, what, g, w);
}

static void
expect_msg(const char *got, const char *want, int t, const char *what)
{
    char copy[MSG_MAX];

    /* Copied first: the text must not change between the check and the report. */
    snprintf(copy, sizeof(copy), "%s", got);
    if (strcmp(copy, want) != 0)
        note(t, what, copy, want);
}

/* Fails the test when a worker noted a mismatch. */
static void
assert_no_mismatch(void)
{
    long n = atomic_exchange(&mismatches, 0);

    if (n > 0)
        fail_msg("%ld mismatches; the first: %s", n, first);
}

/* What a worker thread gets: the test's case and its thread number. */
struct worker {
    void *c;
    int t;
};

/* Set once every worker exists, so that their calls overlap. */
static atomic_int go;

static void
wait_for_go(void)
{
    while (!atomic_load(&go))
        ;
}

/*
 * Runs @p work in THREADS threads at once on case @p c, then @p idle in one
 * more thread, which never failed on anything, and fails the test on the
 * first mismatch any of them noted.
 */
static void
run_threads(void *c, void *(*work)(void *), void *(*idle)(void *))
{
    struct worker w[THREADS];
    pthread_t th[THREADS], reader;

    atomic_store(&go, 0);
    for (int t = 0; t < THREADS; t++) {
        w[t] = (struct worker){c, t};
        assert_int_equal(pthread_create(&th[t], NULL, work, &w[t]), 0);
    }
    atomic_store(&go, 1);
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    assert_int_equal(pthread_create(&reader, NULL, idle, c), 0);
    assert_int_equal(pthread_join(reader, NULL), 0);
    assert_no_mismatch();
}

static void *
store_thread(void *p)
{
    struct worker *w = p;
    struct store_case *c = w->c;
    int t = w->t;
    papyra_record recs[THREADS];
    papyra_recovery_options ra = bad_mode(1000 + t), rb = bad_mode(2000 + t);
    papyra_recovery_report *rep = NULL;
    papyra_record_list *l = NULL;

    bad_batch(recs, t);
    wait_for_go();
    for (int i = 0; i < ITERATIONS; i++) {
        expect_rc(papyra_store_recover(c->a, &ra, &rep), PAPYRA_EINVAL, t, "recover");
        expect_msg(papyra_store_errmsg(c->a), c->recover_a[t], t, "recover");
        expect_rc(papyra_store_write_batch(c->a, recs, (size_t)t + 1), PAPYRA_EINVAL, t, "write");
        expect_msg(papyra_store_errmsg(c->a), c->write_msg[t], t, "write");
        /* A failure on another store leaves this thread's message on the first. */
        expect_rc(papyra_store_recover(c->b, &rb, &rep), PAPYRA_EINVAL, t, "recover on b");
        expect_msg(papyra_store_errmsg(c->b), c->recover_b[t], t, "recover on b");
        expect_msg(papyra_store_errmsg(c->a), c->write_msg[t], t, "write, after b failed");
        expect_rc(papyra_store_list(c->a, (papyra_kind)(PAPYRA_KIND_MAX + t), NULL, &l),
                  PAPYRA_EINVAL, t, "list");
        expect_msg(papyra_store_errmsg(c->a), c->list_msg, t, "list");
    }
    return NULL;
}

static void *
read_store_msg(void *p)
{
    struct store_case *c = p;

    expect_msg(papyra_store_errmsg(c->a), "", -1, "a thread that never failed on a");
    return NULL;
}

static void
test_store_threads_should_each_read_their_own_message(void **state)
{
    static struct store_case c;
    papyra_recovery_report *rep = NULL;
    papyra_record_list *l = NULL;
    papyra_record recs[THREADS];

    c.a = st_open("memory:");
    c.b = st_open("memory:");
    /* One thread first: the message each call leaves when nothing else runs. */
    for (int t = 0; t < THREADS; t++) {
        papyra_recovery_options ra = bad_mode(1000 + t), rb = bad_mode(2000 + t);

        bad_batch(recs, t);
        assert_int_equal(papyra_store_write_batch(c.a, recs, (size_t)t + 1), PAPYRA_EINVAL);
        store_msg(c.a, c.write_msg[t]);
        assert_int_equal(papyra_store_recover(c.a, &ra, &rep), PAPYRA_EINVAL);
        store_msg(c.a, c.recover_a[t]);
        assert_int_equal(papyra_store_recover(c.b, &rb, &rep), PAPYRA_EINVAL);
        store_msg(c.b, c.recover_b[t]);
        assert_non_null(strstr(c.recover_a[t], "recovery mode"));
    }
    assert_int_equal(papyra_store_list(c.a, PAPYRA_KIND_MAX, NULL, &l), PAPYRA_EINVAL);
    store_msg(c.a, c.list_msg);
    for (int t = 1; t < THREADS; t++) {
        assert_string_not_equal(c.write_msg[t], c.write_msg[t - 1]);
        assert_string_not_equal(c.recover_a[t], c.recover_a[t - 1]);
    }

    /* Every thread fails on a; one that did not reads no message for it. */
    run_threads(&c, store_thread, read_store_msg);
    papyra_store_close(c.a);
    papyra_store_close(c.b);
}

static void
test_store_message_should_belong_to_its_handle(void **state)
{
    papyra_recovery_options bad = bad_mode(77);
    papyra_recovery_report *rep = NULL;
    papyra_store *a = st_open("memory:");
    papyra_store *b = st_open("memory:");
    papyra_store *c;
    papyra_error err;
    char *path = NULL;

    assert_string_equal(papyra_store_errmsg(a), "");
    assert_int_equal(papyra_store_recover(a, &bad, &rep), PAPYRA_EINVAL);
    assert_string_equal(papyra_store_errmsg(a), "unknown recovery mode 77");
    assert_string_equal(papyra_store_errmsg(b), "");
    assert_int_equal(papyra_store_scan(b, NULL), PAPYRA_EINVAL);
    assert_string_equal(papyra_store_errmsg(b), "no place for the report");
    assert_string_equal(papyra_store_errmsg(a), "unknown recovery mode 77");
    assert_string_equal(papyra_store_errmsg(NULL), "");

    /* A new handle, even one at the freed handle's address, has no message yet. */
    papyra_store_close(a);
    c = st_open("memory:");
    assert_string_equal(papyra_store_errmsg(c), "");
    papyra_store_close(c);
    papyra_store_close(b);

    /* The open paths still copy the message of the call into papyra_error. */
    assert_int_equal(papyra_store_open(&c, "memory:?max_records=0", &err), PAPYRA_EINVAL);
    assert_int_equal(err.code, PAPYRA_EINVAL);
    assert_non_null(strstr(err.message, "max_records"));
    assert_int_equal(papyra_store_metrics_location("nosuch:x", &path, NULL, &err), PAPYRA_EINVAL);
    assert_non_null(strstr(err.message, "unknown or unavailable store backend 'nosuch'"));
    assert_null(path);
}

struct metrics_case {
    papyra_metrics *rw, *ro;
    char unsupported_msg[2][MSG_MAX]; /* the two counters memory does not support */
    char readonly_msg[MSG_MAX];
};

static const int unsupported_id[2] = {PAPYRA_METRIC_COMPACTIONS_TRIGGERED,
                                      PAPYRA_METRIC_COMPACTION_ERRORS};

static void *
metrics_thread(void *p)
{
    struct worker *w = p;
    struct metrics_case *c = w->c;
    int t = w->t;

    wait_for_go();
    for (int i = 0; i < 4 * ITERATIONS; i++) {
        int k = (t + i) & 1; /* neighbouring threads fail on different counters */

        expect_rc(papyra_metrics_add(c->rw, unsupported_id[k], 1), PAPYRA_EUNSUPPORTED, t, "add");
        expect_msg(papyra_metrics_errmsg(c->rw), c->unsupported_msg[k], t, "add");
        if ((i & 7) == 0) {
            expect_rc(papyra_metrics_reset(c->ro, NULL), PAPYRA_EACCES, t, "reset read-only");
            expect_msg(papyra_metrics_errmsg(c->ro), c->readonly_msg, t, "reset read-only");
            expect_msg(papyra_metrics_errmsg(c->rw), c->unsupported_msg[k], t,
                       "add, after the read-only reset");
        }
    }
    return NULL;
}

static void *
read_metrics_msg(void *p)
{
    struct metrics_case *c = p;

    expect_msg(papyra_metrics_errmsg(c->rw), "", -1, "a thread that never failed on rw");
    expect_msg(papyra_metrics_errmsg(c->ro), "", -1, "a thread that never failed on ro");
    return NULL;
}

static void
test_metrics_threads_should_each_read_their_own_message(void **state)
{
    static struct metrics_case c;
    papyra_metrics_options o = {.flags = PAPYRA_METRICS_CREATE, .backend = PAPYRA_BACKEND_MEMORY};
    papyra_metrics_options ro = {.flags = PAPYRA_METRICS_READONLY, .backend = -1};
    papyra_metrics *creator = NULL;
    char *dir = papyra_test_tmpdir();
    char *path;

    assert_non_null(dir);
    path = papyra_test_path(dir, "m.metrics");
    assert_int_equal(papyra_metrics_open(&creator, path, &o, NULL), 0);
    assert_int_equal(papyra_metrics_open(&c.ro, path, &ro, NULL), 0);
    assert_int_equal(papyra_metrics_new_private(&c.rw, PAPYRA_BACKEND_MEMORY), 0);

    assert_string_equal(papyra_metrics_errmsg(c.rw), "");
    for (int k = 0; k < 2; k++) {
        assert_int_equal(papyra_metrics_add(c.rw, unsupported_id[k], 1), PAPYRA_EUNSUPPORTED);
        snprintf(c.unsupported_msg[k], MSG_MAX, "%s", papyra_metrics_errmsg(c.rw));
        assert_non_null(strstr(c.unsupported_msg[k], papyra_metric_get(unsupported_id[k])->name));
    }
    assert_int_equal(papyra_metrics_add(c.ro, PAPYRA_METRIC_RECORDS_WRITTEN, 1), PAPYRA_EACCES);
    snprintf(c.readonly_msg, MSG_MAX, "%s", papyra_metrics_errmsg(c.ro));
    assert_non_null(strstr(c.readonly_msg, "read-only"));
    /* Another handle's failure leaves this one's message alone. */
    assert_string_equal(papyra_metrics_errmsg(c.rw), c.unsupported_msg[1]);
    assert_string_equal(papyra_metrics_errmsg(creator), "");
    assert_string_equal(papyra_metrics_errmsg(NULL), "");

    run_threads(&c, metrics_thread, read_metrics_msg);

    papyra_metrics_close(c.rw);
    papyra_metrics_close(c.ro);
    papyra_metrics_close(creator);
    papyra_test_rmtree(dir);
    free(path);
    free(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_threads_should_each_read_their_own_message),
        cmocka_unit_test(test_store_message_should_belong_to_its_handle),
        cmocka_unit_test(test_metrics_threads_should_each_read_their_own_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
