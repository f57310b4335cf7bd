/* SPDX-License-Identifier: MIT */
/*
 * The size-versioned snapshot ABI (<papyra/metrics.h>): a caller's snapshot
 * of fewer or more counters than the library's is read, reset and formatted
 * by its size, the counters it holds come out right, and not one byte past
 * it is written. A size that matches no counter count is PAPYRA_EINVAL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <papyra/metrics.h>

/* A snapshot as a header with N counters declares it. */
#define SNAPSHOT_OF(n)         \
    struct {                   \
        int backend;           \
        bool shared;           \
        uint64_t spec_hash;    \
        int64_t created_at_ns; \
        int64_t reset_at_ns;   \
        int64_t taken_at_ns;   \
        uint64_t reset_count;  \
        uint64_t value[n];     \
        uint64_t total[n];     \
        uint8_t state[n];      \
    }

#define FEWER (PAPYRA_METRIC_COUNT - 1)
#define MORE (PAPYRA_METRIC_COUNT + 1)
typedef SNAPSHOT_OF(FEWER) fewer_snapshot;
typedef SNAPSHOT_OF(MORE) more_snapshot;
typedef SNAPSHOT_OF(PAPYRA_METRICS_V1_COUNT) v1_snapshot;

_Static_assert(sizeof(SNAPSHOT_OF(PAPYRA_METRIC_COUNT)) == sizeof(papyra_metrics_snapshot),
               "SNAPSHOT_OF() lays a snapshot out as the header does");

/* Guard bytes on both sides of the caller's struct, which must stay as they are. */
#define GUARD 64
#define GUARD_BYTE 0xa5

typedef struct guarded {
    _Alignas(16) unsigned char bytes[GUARD + sizeof(more_snapshot) + GUARD];
    size_t size; /* of the struct at bytes + GUARD */
} guarded;

static void *
guarded_init(guarded *g, size_t size)
{
    memset(g->bytes, GUARD_BYTE, sizeof(g->bytes));
    g->size = size;
    return g->bytes + GUARD;
}

/* Fails unless every byte outside the struct is still a guard byte. */
static void
assert_guards_intact(const guarded *g)
{
    for (size_t i = 0; i < sizeof(g->bytes); i++) {
        if (i >= GUARD && i < GUARD + g->size)
            continue;
        if (g->bytes[i] != GUARD_BYTE)
            fail_msg("byte %zd from the struct's start was written (struct of %zu bytes)",
                     (ptrdiff_t)i - GUARD, g->size);
    }
}

/* Fails unless the struct is still all guard bytes: untouched. */
static void
assert_untouched(const guarded *g)
{
    for (size_t i = 0; i < sizeof(g->bytes); i++)
        assert_int_equal(g->bytes[i], GUARD_BYTE);
}

/* Private JSON counters: counter i at (i + 1) * 1000 since the reset, plus 7 before it. */
static papyra_metrics *
counters(void)
{
    papyra_metrics *m = NULL;

    assert_int_equal(papyra_metrics_new_private(&m, PAPYRA_BACKEND_JSON), 0);
    for (int i = 0; i < PAPYRA_METRIC_COUNT; i++) {
        if (papyra_metric_supported(PAPYRA_BACKEND_JSON, i))
            assert_int_equal(papyra_metrics_add(m, i, 7), 0);
    }
    assert_int_equal(papyra_metrics_reset(m, NULL), 0);
    for (int i = 0; i < PAPYRA_METRIC_COUNT; i++) {
        if (papyra_metric_supported(PAPYRA_BACKEND_JSON, i))
            assert_int_equal(papyra_metrics_add(m, i, (uint64_t)(i + 1) * 1000), 0);
    }
    return m;
}

/* Counter i of a snapshot with these arrays is as counters() left it. */
static void
assert_counter(const uint64_t *value, const uint64_t *total, const uint8_t *state, int i)
{
    if (papyra_metric_supported(PAPYRA_BACKEND_JSON, i)) {
        assert_int_equal(state[i], PAPYRA_METRIC_OK);
        assert_int_equal(value[i], (uint64_t)(i + 1) * 1000);
        assert_int_equal(total[i], (uint64_t)(i + 1) * 1000 + 7);
    } else {
        assert_int_equal(state[i], PAPYRA_METRIC_UNSUPPORTED);
        assert_int_equal(value[i], 0);
    }
}

static void
test_read_should_fill_a_smaller_struct_and_nothing_past_it(void **state)
{
    papyra_metrics *m = counters();
    papyra_metrics_snapshot full;
    guarded g;
    fewer_snapshot *s = guarded_init(&g, sizeof(fewer_snapshot));

    assert_int_equal(papyra_metrics_read_sized(m, (papyra_metrics_snapshot *)s, sizeof(*s)), 0);
    assert_guards_intact(&g);
    assert_int_equal(papyra_metrics_read(m, &full), 0);
    assert_int_equal(s->backend, PAPYRA_BACKEND_JSON);
    assert_int_equal(s->spec_hash, full.spec_hash);
    assert_int_equal(s->reset_count, 1);
    assert_int_equal(s->created_at_ns, full.created_at_ns);
    assert_int_equal(s->reset_at_ns, full.reset_at_ns);
    for (int i = 0; i < FEWER; i++)
        assert_counter(s->value, s->total, s->state, i);
    papyra_metrics_close(m);
}

static void
test_read_should_mark_counters_it_does_not_know_absent(void **state)
{
    papyra_metrics *m = counters();
    guarded g;
    more_snapshot *s = guarded_init(&g, sizeof(more_snapshot));

    assert_int_equal(papyra_metrics_read_sized(m, (papyra_metrics_snapshot *)s, sizeof(*s)), 0);
    assert_guards_intact(&g);
    for (int i = 0; i < PAPYRA_METRIC_COUNT; i++)
        assert_counter(s->value, s->total, s->state, i);
    assert_int_equal(s->state[MORE - 1], PAPYRA_METRIC_ABSENT);
    assert_int_equal(s->value[MORE - 1], 0);
    assert_int_equal(s->total[MORE - 1], 0);
    papyra_metrics_close(m);
}

static void
test_reset_should_fill_a_smaller_struct_and_nothing_past_it(void **state)
{
    papyra_metrics *m = counters();
    papyra_metrics_snapshot after;
    guarded g;
    fewer_snapshot *s = guarded_init(&g, sizeof(fewer_snapshot));

    assert_int_equal(papyra_metrics_reset_sized(m, (papyra_metrics_snapshot *)s, sizeof(*s)), 0);
    assert_guards_intact(&g);
    assert_int_equal(s->reset_count, 2);
    for (int i = 0; i < FEWER; i++)
        assert_counter(s->value, s->total, s->state, i);
    /* Every counter was reset, also the one the caller's struct has no room for. */
    assert_int_equal(papyra_metrics_read(m, &after), 0);
    for (int i = 0; i < PAPYRA_METRIC_COUNT; i++)
        assert_int_equal(after.value[i], 0);
    papyra_metrics_close(m);
}

static char *
format_sized(const void *s, size_t size, papyra_metrics_format_id f, unsigned flags)
{
    char *out = NULL;

    assert_int_equal(papyra_metrics_format_sized(s, size, f, flags, &out), 0);
    assert_non_null(out);
    return out;
}

static void
test_format_should_show_the_counters_the_struct_holds(void **state)
{
    papyra_metrics *m = counters();
    papyra_metrics_snapshot full;
    fewer_snapshot fewer;
    const char *last = papyra_metric_get(PAPYRA_METRIC_COUNT - 1)->name;
    char *a, *b;
    size_t n;

    assert_int_equal(papyra_metrics_read(m, &full), 0);
    assert_int_equal(papyra_metrics_read_sized(m, (papyra_metrics_snapshot *)&fewer, sizeof(fewer)),
                     0);
    fewer.taken_at_ns = full.taken_at_ns;

    /* The flat JSON of fewer counters is the full one without the last member. */
    a = format_sized(&full, sizeof(full), PAPYRA_FORMAT_JSON, 0);
    b = format_sized(&fewer, sizeof(fewer), PAPYRA_FORMAT_JSON, 0);
    n = strlen(b);
    assert_true(n > 2 && strcmp(b + n - 2, "}\n") == 0);
    assert_memory_equal(a, b, n - 2);
    assert_true(a[n - 2] == ',' && strncmp(a + n - 1, "\"", 1) == 0);
    assert_non_null(strstr(a + n - 2, last));
    papyra_free(a);
    papyra_free(b);

    /* Every format names only the counters it holds. */
    for (int f = PAPYRA_FORMAT_TABLE; f <= PAPYRA_FORMAT_OPENMETRICS; f++) {
        a = format_sized(&fewer, sizeof(fewer), (papyra_metrics_format_id)f, 0);
        assert_non_null(strstr(a, papyra_metric_get(0)->name));
        assert_null(strstr(a, last));
        papyra_free(a);
    }
    papyra_metrics_close(m);
}

/* The 0.1.0 symbols, reached without the macros, read and write a snapshot of its ten counters. */
static void
test_unsized_symbols_should_mean_the_first_release_s_snapshot(void **state)
{
    papyra_metrics *m = counters();
    papyra_metrics_snapshot full;
    guarded g;
    v1_snapshot *s = guarded_init(&g, sizeof(v1_snapshot));
    char *a = NULL, *b = NULL;

    assert_int_equal((papyra_metrics_read)(m, (papyra_metrics_snapshot *)s), 0);
    assert_guards_intact(&g);
    for (int i = 0; i < PAPYRA_METRICS_V1_COUNT; i++)
        assert_counter(s->value, s->total, s->state, i);

    assert_int_equal(
        (papyra_metrics_format)((papyra_metrics_snapshot *)s, PAPYRA_FORMAT_JSON, 0, &a), 0);
    assert_int_equal(papyra_metrics_format_sized((papyra_metrics_snapshot *)s, sizeof(*s),
                                                 PAPYRA_FORMAT_JSON, 0, &b),
                     0);
    assert_string_equal(a, b);
    papyra_free(a);
    papyra_free(b);
    assert_int_equal((papyra_metrics_format_labels)((papyra_metrics_snapshot *)s,
                                                    PAPYRA_FORMAT_PROMETHEUS, 0, NULL, 0, &a),
                     0);
    papyra_free(a);

    guarded_init(&g, sizeof(v1_snapshot));
    assert_int_equal((papyra_metrics_reset)(m, (papyra_metrics_snapshot *)s), 0);
    assert_guards_intact(&g);
    for (int i = 0; i < PAPYRA_METRICS_V1_COUNT; i++)
        assert_counter(s->value, s->total, s->state, i);
    assert_int_equal(papyra_metrics_read(m, &full), 0);
    assert_int_equal(full.reset_count, 2);
    papyra_metrics_close(m);
}

static void
test_a_size_of_no_counter_count_should_be_einval(void **state)
{
    papyra_metrics *m = counters();
    papyra_metrics_snapshot full;
    const size_t head = offsetof(papyra_metrics_snapshot, value);
    const size_t bad[] = {0,
                          1,
                          head,
                          head + 1,
                          sizeof(papyra_metrics_snapshot) - 1,
                          sizeof(papyra_metrics_snapshot) + 1,
                          sizeof(fewer_snapshot) + 1,
                          sizeof(more_snapshot) - 1,
                          SIZE_MAX};
    guarded g;
    char *out = NULL;

    assert_int_equal(papyra_metrics_read(m, &full), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        void *s = guarded_init(&g, 0);
        assert_int_equal(papyra_metrics_read_sized(m, s, bad[i]), PAPYRA_EINVAL);
        assert_int_equal(papyra_metrics_reset_sized(m, s, bad[i]), PAPYRA_EINVAL);
        assert_untouched(&g);
        assert_int_equal(papyra_metrics_format_sized(&full, bad[i], PAPYRA_FORMAT_JSON, 0, &out),
                         PAPYRA_EINVAL);
        assert_int_equal(papyra_metrics_format_labels_sized(&full, bad[i], PAPYRA_FORMAT_PROMETHEUS,
                                                            0, NULL, 0, &out),
                         PAPYRA_EINVAL);
        assert_null(out);
    }
    /* A refused reset reset nothing. */
    assert_int_equal(papyra_metrics_read(m, &full), 0);
    assert_int_equal(full.reset_count, 1);
    assert_int_equal(full.value[PAPYRA_METRIC_RECORDS_WRITTEN], 1000);
    /* Without a struct to fill, the size does not matter. */
    assert_int_equal(papyra_metrics_reset_sized(m, NULL, 0), 0);
    papyra_metrics_close(m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_should_fill_a_smaller_struct_and_nothing_past_it),
        cmocka_unit_test(test_read_should_mark_counters_it_does_not_know_absent),
        cmocka_unit_test(test_reset_should_fill_a_smaller_struct_and_nothing_past_it),
        cmocka_unit_test(test_format_should_show_the_counters_the_struct_holds),
        cmocka_unit_test(test_unsized_symbols_should_mean_the_first_release_s_snapshot),
        cmocka_unit_test(test_a_size_of_no_counter_count_should_be_einval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
