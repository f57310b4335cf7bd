/* SPDX-License-Identifier: MIT */
/*
 * The lossless-reset property: while two threads increment and a third
 * resets in a loop, everything the resets cleared plus the final value equals
 * the number of increments made.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>
#include <papyra/metrics.h>

#include "metrics/metrics-private.h"

#ifndef INCREMENTS
#define INCREMENTS 10000000
#endif

struct shared {
    papyra_metrics *m;
    atomic_int running;
    uint64_t cleared[PAPYRA_METRIC_COUNT];
    uint64_t resets;
};

static void *
incrementer(void *arg)
{
    struct shared *sh = arg;

    for (long i = 0; i < INCREMENTS; i++) {
        papyra__metrics_add(sh->m, PAPYRA_METRIC_RECORDS_WRITTEN, 1);
        if ((i & 7) == 0)
            papyra__metrics_add(sh->m, PAPYRA_METRIC_WRITE_ERRORS, 1);
    }
    return NULL;
}

static void *
resetter(void *arg)
{
    struct shared *sh = arg;
    papyra_metrics_snapshot cleared;

    while (atomic_load(&sh->running)) {
        assert_int_equal(papyra_metrics_reset(sh->m, &cleared), 0);
        for (int i = 0; i < PAPYRA_METRIC_COUNT; i++)
            sh->cleared[i] += cleared.value[i];
        sh->resets++;
    }
    return NULL;
}

static void
run(struct shared *sh)
{
    pthread_t inc[2], res;
    papyra_metrics_snapshot s;
    uint64_t writes = 2 * (uint64_t)INCREMENTS;
    uint64_t errors = 2 * (uint64_t)((INCREMENTS + 7) / 8);

    atomic_store(&sh->running, 1);
    assert_int_equal(pthread_create(&res, NULL, resetter, sh), 0);
    for (int t = 0; t < 2; t++)
        assert_int_equal(pthread_create(&inc[t], NULL, incrementer, sh), 0);
    for (int t = 0; t < 2; t++)
        assert_int_equal(pthread_join(inc[t], NULL), 0);
    atomic_store(&sh->running, 0);
    assert_int_equal(pthread_join(res, NULL), 0);

    assert_int_equal(papyra_metrics_read(sh->m, &s), 0);
    assert_true(sh->resets > 0);
    assert_int_equal(sh->cleared[PAPYRA_METRIC_RECORDS_WRITTEN] +
                         s.value[PAPYRA_METRIC_RECORDS_WRITTEN],
                     writes);
    assert_int_equal(sh->cleared[PAPYRA_METRIC_WRITE_ERRORS] + s.value[PAPYRA_METRIC_WRITE_ERRORS],
                     errors);
    assert_int_equal(s.total[PAPYRA_METRIC_RECORDS_WRITTEN], writes);
    assert_int_equal(s.reset_count, sh->resets);
}

static void
test_concurrent_reset_should_lose_no_increment(void **state)
{
    struct shared sh = {0};

    assert_int_equal(papyra_metrics_new_private(&sh.m, PAPYRA_BACKEND_JSON), 0);
    run(&sh);
    papyra_metrics_close(sh.m);
}

static void
test_two_resetters_should_clear_each_increment_once(void **state)
{
    struct shared a = {0}, b = {0};
    pthread_t inc, ra, rb;
    papyra_metrics_snapshot s;

    assert_int_equal(papyra_metrics_new_private(&a.m, PAPYRA_BACKEND_JSON), 0);
    b.m = a.m;
    atomic_store(&a.running, 1);
    atomic_store(&b.running, 1);
    assert_int_equal(pthread_create(&ra, NULL, resetter, &a), 0);
    assert_int_equal(pthread_create(&rb, NULL, resetter, &b), 0);
    assert_int_equal(pthread_create(&inc, NULL, incrementer, &a), 0);
    assert_int_equal(pthread_join(inc, NULL), 0);
    atomic_store(&a.running, 0);
    atomic_store(&b.running, 0);
    assert_int_equal(pthread_join(ra, NULL), 0);
    assert_int_equal(pthread_join(rb, NULL), 0);
    assert_int_equal(papyra_metrics_read(a.m, &s), 0);
    assert_int_equal(a.cleared[PAPYRA_METRIC_RECORDS_WRITTEN] +
                         b.cleared[PAPYRA_METRIC_RECORDS_WRITTEN] +
                         s.value[PAPYRA_METRIC_RECORDS_WRITTEN],
                     (uint64_t)INCREMENTS);
    papyra_metrics_close(a.m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_reset_should_lose_no_increment),
        cmocka_unit_test(test_two_resetters_should_clear_each_increment_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
