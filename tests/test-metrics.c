/* SPDX-License-Identifier: MIT */
/* Counter semantics, snapshot, reset and the spec's lookup tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <papyra/metrics.h>

#include "metrics/count.h"

static void
assert_all_values(const papyra_metrics_snapshot *s, const uint64_t *expected)
{
    for (int i = 0; i < PAPYRA_METRIC_COUNT; i++) {
        if (s->value[i] != expected[i])
            fail_msg("%s: value %llu, expected %llu", papyra_metric_get(i)->name,
                     (unsigned long long)s->value[i], (unsigned long long)expected[i]);
    }
}

static void
test_private_metrics_should_start_at_zero_with_the_spec_matrix(void **state)
{
    for (int b = 0; b < PAPYRA_BACKEND_COUNT; b++) {
        papyra_metrics *m = NULL;
        papyra_metrics_snapshot s;
        uint64_t zero[PAPYRA_METRIC_COUNT] = {0};

        assert_int_equal(papyra_metrics_new_private(&m, b), 0);
        assert_int_equal(papyra_metrics_read(m, &s), 0);
        assert_int_equal(s.backend, b);
        assert_false(s.shared);
        assert_int_equal(s.reset_count, 0);
        assert_int_equal(s.reset_at_ns, 0);
        assert_true(s.created_at_ns > 0);
        assert_all_values(&s, zero);
        for (int i = 0; i < PAPYRA_METRIC_COUNT; i++)
            assert_int_equal(s.state[i], papyra_metric_supported(b, i) ? PAPYRA_METRIC_OK
                                                                       : PAPYRA_METRIC_UNSUPPORTED);
        assert_null(papyra_metrics_path(m));
        papyra_metrics_close(m);
    }
}

static void
test_seed_matrix_should_leave_memory_without_compaction_counters(void **state)
{
    assert_false(
        papyra_metric_supported(PAPYRA_BACKEND_MEMORY, PAPYRA_METRIC_COMPACTIONS_TRIGGERED));
    assert_false(papyra_metric_supported(PAPYRA_BACKEND_MEMORY, PAPYRA_METRIC_COMPACTION_ERRORS));
    /* The seed's ten come first; counters added after them have matrices of their own. */
    for (int i = 0; i <= PAPYRA_METRIC_COMPACTION_ERRORS; i++) {
        bool compaction =
            i == PAPYRA_METRIC_COMPACTIONS_TRIGGERED || i == PAPYRA_METRIC_COMPACTION_ERRORS;
        assert_int_equal(papyra_metric_supported(PAPYRA_BACKEND_MEMORY, i), !compaction);
        assert_true(papyra_metric_supported(PAPYRA_BACKEND_JSON, i));
        assert_true(papyra_metric_supported(PAPYRA_BACKEND_ROTATING, i));
        assert_true(papyra_metric_supported(PAPYRA_BACKEND_REDIS, i));
    }
}

static void
test_add_should_move_exactly_one_counter_for_every_counter(void **state)
{
    for (int b = 0; b < PAPYRA_BACKEND_COUNT; b++) {
        for (int i = 0; i < PAPYRA_METRIC_COUNT; i++) {
            papyra_metrics *m = NULL;
            papyra_metrics_snapshot s;
            uint64_t expected[PAPYRA_METRIC_COUNT] = {0};

            assert_int_equal(papyra_metrics_new_private(&m, b), 0);
            if (papyra_metric_supported(b, i)) {
                assert_int_equal(papyra_metrics_add(m, i, 3), 0);
                assert_int_equal(papyra_metrics_add(m, i, 4), 0);
                expected[i] = 7;
            } else {
                assert_int_equal(papyra_metrics_add(m, i, 3), PAPYRA_EUNSUPPORTED);
                assert_non_null(strstr(papyra_metrics_errmsg(m), papyra_metric_get(i)->name));
            }
            assert_int_equal(papyra_metrics_read(m, &s), 0);
            assert_all_values(&s, expected);
            assert_memory_equal(s.total, expected, sizeof(expected));
            papyra_metrics_close(m);
        }
    }
}

static void
test_reset_should_clear_all_ten_and_return_what_it_cleared(void **state)
{
    papyra_metrics *m = NULL;
    papyra_metrics_snapshot before, cleared, after;
    uint64_t zero[PAPYRA_METRIC_COUNT] = {0};

    assert_int_equal(papyra_metrics_new_private(&m, PAPYRA_BACKEND_JSON), 0);
    for (int i = 0; i < PAPYRA_METRIC_COUNT; i++)
        assert_int_equal(papyra_metrics_add(m, i, (uint64_t)(i + 1) * 10), 0);
    assert_int_equal(papyra_metrics_read(m, &before), 0);
    assert_int_equal(papyra_metrics_reset(m, &cleared), 0);
    assert_memory_equal(cleared.value, before.value, sizeof(before.value));
    assert_int_equal(cleared.reset_count, 1);
    assert_true(cleared.reset_at_ns >= before.taken_at_ns);

    assert_int_equal(papyra_metrics_read(m, &after), 0);
    /* Error counters too: upstream kept them, the seed and our design do not. */
    assert_all_values(&after, zero);
    assert_memory_equal(after.total, before.total, sizeof(before.total));
    assert_int_equal(after.reset_count, 1);
    assert_int_equal(after.reset_at_ns, cleared.reset_at_ns);

    /* Counting goes on from zero, and a second reset clears only what came after. */
    assert_int_equal(papyra_metrics_add(m, PAPYRA_METRIC_WRITE_ERRORS, 2), 0);
    assert_int_equal(papyra_metrics_reset(m, &cleared), 0);
    assert_int_equal(cleared.value[PAPYRA_METRIC_WRITE_ERRORS], 2);
    assert_int_equal(cleared.value[PAPYRA_METRIC_RECORDS_WRITTEN], 0);
    assert_int_equal(cleared.reset_count, 2);
    assert_int_equal(papyra_metrics_reset(m, NULL), 0);
    papyra_metrics_close(m);
}

static void
test_snapshot_should_be_a_copy(void **state)
{
    papyra_metrics *m = NULL;
    papyra_metrics_snapshot s, t;

    assert_int_equal(papyra_metrics_new_private(&m, PAPYRA_BACKEND_MEMORY), 0);
    assert_int_equal(papyra_metrics_read(m, &s), 0);
    s.value[PAPYRA_METRIC_RECORDS_WRITTEN] = 99;
    assert_int_equal(papyra_metrics_read(m, &t), 0);
    assert_int_equal(t.value[PAPYRA_METRIC_RECORDS_WRITTEN], 0);
    papyra_metrics_close(m);
}

/*
 * One call of operation @p op on a @p b store reporting 3 of fact @p f (and
 * 1 for "one"), then ending as @p failed: moves exactly the counters whose
 * rule says so, and only where the backend supports them.
 */
static void
check_outcome(int b, int op, int f, bool failed)
{
    papyra_metrics *m = NULL;
    papyra_metrics_snapshot s;
    papyra__outcome o;

    assert_int_equal(papyra_metrics_new_private(&m, b), 0);
    papyra__outcome_begin(&o, m, b, op);
    if (f != PAPYRA_COUNT_BY_ONE)
        papyra__outcome_add(&o, (papyra_count_by)f, 3);
    papyra__outcome_end(&o, failed);
    assert_int_equal(papyra_metrics_read(m, &s), 0);
    for (int c = 0; c < PAPYRA_METRIC_COUNT; c++) {
        const papyra_metric_info *info = papyra_metric_get(c);
        bool when = info->counts_when == PAPYRA_COUNT_ALWAYS ||
                    info->counts_when == (failed ? PAPYRA_COUNT_FAILURE : PAPYRA_COUNT_SUCCESS);
        bool moves = (info->operations & (1u << op)) && when && papyra_metric_supported(b, c);
        uint64_t want = !moves                                   ? 0
                        : info->counts_by == PAPYRA_COUNT_BY_ONE ? 1
                        : (int)info->counts_by == f              ? 3
                                                                 : 0;

        if (s.value[c] != want)
            fail_msg("backend %s, operation %d, fact %d, %s: %s moved by %llu, want %llu",
                     papyra_backend_name(b), op, f, failed ? "failed" : "succeeded", info->name,
                     (unsigned long long)s.value[c], (unsigned long long)want);
    }
    papyra_metrics_close(m);
}

/* The counting engine against the spec's published rules, for every combination. */
static void
test_outcome_should_apply_every_counter_rule(void **state)
{
    for (int b = 0; b < PAPYRA_BACKEND_COUNT; b++)
        for (int op = 0; op < PAPYRA__OP_COUNT; op++)
            for (int f = 0; f < PAPYRA_FACT_COUNT; f++) {
                check_outcome(b, op, f, false);
                check_outcome(b, op, f, true);
            }
}

static void
test_metric_get_should_return_null_outside_the_range(void **state)
{
    assert_null(papyra_metric_get(-1));
    assert_null(papyra_metric_get(PAPYRA_METRIC_COUNT));
    assert_string_equal(papyra_metric_get(0)->name, "records_written");
    assert_string_equal(papyra_metric_get(PAPYRA_METRIC_COMPACTION_ERRORS)->name,
                        "compaction_errors");
    assert_int_equal(papyra_metric_by_name("scan_operations"), PAPYRA_METRIC_SCAN_OPERATIONS);
    assert_int_equal(papyra_metric_by_name("scans"), -1);
    assert_int_equal(papyra_metric_by_name(NULL), -1);
    assert_null(papyra_backend_name(-1));
    assert_null(papyra_backend_name(PAPYRA_BACKEND_COUNT));
    assert_string_equal(papyra_backend_name(PAPYRA_BACKEND_ROTATING), "rotating");
    assert_string_equal(papyra_backend_display_name(PAPYRA_BACKEND_JSON), "JSON");
    assert_int_equal(papyra_backend_by_name("redis"), PAPYRA_BACKEND_REDIS);
    assert_int_equal(papyra_backend_by_name("sqlite"), -1);
}

static void
test_seed_order_should_be_kept(void **state)
{
    static const char *const order[] = {
        "records_written",       "write_errors",      "records_read",      "read_errors",
        "scan_operations",       "anomaly_detected",  "recovery_attempts", "recovery_failures",
        "compactions_triggered", "compaction_errors",
    };
    /* The seed's ten, in its order; new counters can only come after them. */
    assert_true(PAPYRA_METRIC_COUNT >= 10);
    for (int i = 0; i < 10; i++)
        assert_string_equal(papyra_metric_get(i)->name, order[i]);
    assert_true(papyra_metric_get(PAPYRA_METRIC_WRITE_ERRORS)->alert);
    assert_true(papyra_metric_get(PAPYRA_METRIC_READ_ERRORS)->alert);
    assert_true(papyra_metric_get(PAPYRA_METRIC_RECOVERY_FAILURES)->alert);
    assert_true(papyra_metric_get(PAPYRA_METRIC_COMPACTION_ERRORS)->alert);
    assert_false(papyra_metric_get(PAPYRA_METRIC_RECORDS_WRITTEN)->alert);
    assert_true(papyra_metric_get(PAPYRA_METRIC_SCAN_OPERATIONS)->operations &
                PAPYRA_OPERATION_RECOVER);
}

static void
test_bad_arguments_should_give_einval_not_crash(void **state)
{
    papyra_metrics *m = NULL;
    papyra_metrics_snapshot s;

    assert_int_equal(papyra_metrics_new_private(NULL, 0), PAPYRA_EINVAL);
    assert_int_equal(papyra_metrics_new_private(&m, -1), PAPYRA_EINVAL);
    assert_int_equal(papyra_metrics_new_private(&m, PAPYRA_BACKEND_COUNT), PAPYRA_EINVAL);
    assert_null(m);
    assert_int_equal(papyra_metrics_read(NULL, &s), PAPYRA_EINVAL);
    assert_int_equal(papyra_metrics_reset(NULL, NULL), PAPYRA_EINVAL);
    assert_int_equal(papyra_metrics_add(NULL, 0, 1), PAPYRA_EINVAL);
    assert_int_equal(papyra_metrics_new_private(&m, 0), 0);
    assert_int_equal(papyra_metrics_add(m, -1, 1), PAPYRA_EINVAL);
    assert_int_equal(papyra_metrics_add(m, PAPYRA_METRIC_COUNT, 1), PAPYRA_EINVAL);
    assert_int_equal(papyra_metrics_read(m, NULL), PAPYRA_EINVAL);
    papyra_metrics_close(m);
    papyra_metrics_close(NULL);
}

static void
test_errors_should_have_names_and_messages(void **state)
{
    assert_string_equal(papyra_errname(PAPYRA_EUNSUPPORTED), "EUNSUPPORTED");
    assert_string_equal(papyra_strerror(PAPYRA_ENOSPC), "no space left on device");
    assert_string_equal(papyra_strerror(0), "success");
    assert_string_equal(papyra_strerror(-1000), "unknown error");
    assert_string_equal(papyra_errname(-1000), "UNKNOWN");
}

/*
 * The version in the headers (string and parts) and the library's are
 * meson.build's project version, which tests/meson.build passes in.
 */
static void
test_version_should_be_the_projects(void **state)
{
    char parts[64];

    (void)snprintf(parts, sizeof(parts), "%d.%d.%d", PAPYRA_VERSION_MAJOR, PAPYRA_VERSION_MINOR,
                   PAPYRA_VERSION_PATCH);
    assert_string_equal(PAPYRA_VERSION_STRING, PAPYRA_TEST_PROJECT_VERSION);
    assert_string_equal(parts, PAPYRA_TEST_PROJECT_VERSION);
    assert_string_equal(papyra_version(), PAPYRA_TEST_PROJECT_VERSION);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_private_metrics_should_start_at_zero_with_the_spec_matrix),
        cmocka_unit_test(test_seed_matrix_should_leave_memory_without_compaction_counters),
        cmocka_unit_test(test_add_should_move_exactly_one_counter_for_every_counter),
        cmocka_unit_test(test_reset_should_clear_all_ten_and_return_what_it_cleared),
        cmocka_unit_test(test_snapshot_should_be_a_copy),
        cmocka_unit_test(test_outcome_should_apply_every_counter_rule),
        cmocka_unit_test(test_metric_get_should_return_null_outside_the_range),
        cmocka_unit_test(test_seed_order_should_be_kept),
        cmocka_unit_test(test_bad_arguments_should_give_einval_not_crash),
        cmocka_unit_test(test_errors_should_have_names_and_messages),
        cmocka_unit_test(test_version_should_be_the_projects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
