/* SPDX-License-Identifier: MIT */
/* Table, JSON and Prometheus/OpenMetrics output of a snapshot. */
#include <cjson/cJSON.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <papyra/metrics.h>

static char *
format(const papyra_metrics_snapshot *s, papyra_metrics_format_id f, unsigned flags)
{
    char *out = NULL;

    assert_int_equal(papyra_metrics_format(s, f, flags, &out), 0);
    assert_non_null(out);
    return out;
}

static papyra_metrics_snapshot
snapshot_with(int backend, const uint64_t *values)
{
    papyra_metrics *m = NULL;
    papyra_metrics_snapshot s;

    assert_int_equal(papyra_metrics_new_private(&m, backend), 0);
    for (int i = 0; i < PAPYRA_METRIC_COUNT; i++)
        if (values[i] && papyra_metric_supported(backend, i))
            assert_int_equal(papyra_metrics_add(m, i, values[i]), 0);
    assert_int_equal(papyra_metrics_read(m, &s), 0);
    papyra_metrics_close(m);
    return s;
}

static void
test_json_should_keep_64_bit_values_exact(void **state)
{
    uint64_t v[PAPYRA_METRIC_COUNT] = {0};
    papyra_metrics_snapshot s;
    char *json;

    v[PAPYRA_METRIC_RECORDS_WRITTEN] = (UINT64_C(1) << 53) + 1;
    v[PAPYRA_METRIC_RECORDS_READ] = UINT64_MAX - 1;
    v[PAPYRA_METRIC_SCAN_OPERATIONS] = UINT64_MAX;
    s = snapshot_with(PAPYRA_BACKEND_JSON, v);
    json = format(&s, PAPYRA_FORMAT_JSON, 0);
    assert_non_null(strstr(json, "\"records_written\":9007199254740993"));
    assert_non_null(strstr(json, "\"records_read\":18446744073709551614"));
    assert_non_null(strstr(json, "\"scan_operations\":18446744073709551615"));
    assert_non_null(strstr(json, "\"write_errors\":0"));
    papyra_free(json);

    json = format(&s, PAPYRA_FORMAT_JSON_DETAIL, PAPYRA_FORMAT_PRETTY);
    assert_non_null(strstr(json, "18446744073709551614"));
    papyra_free(json);

    /* Pretty is Python's json.dumps(indent=2), as upstream prints it. */
    json = format(&s, PAPYRA_FORMAT_JSON, PAPYRA_FORMAT_PRETTY);
    assert_true(strncmp(json,
                        "{\n  \"records_written\": 9007199254740993,\n  \"write_errors\": 0,\n",
                        60) == 0);
    assert_null(strchr(json, '\t'));
    assert_string_equal(json + strlen(json) - 3, "\n}\n");
    papyra_free(json);
}

static void
test_json_should_list_every_counter_in_spec_order(void **state)
{
    uint64_t v[PAPYRA_METRIC_COUNT];
    papyra_metrics_snapshot s;

    for (int c = 0; c < PAPYRA_METRIC_COUNT; c++)
        v[c] = (uint64_t)c + 1;
    s = snapshot_with(PAPYRA_BACKEND_ROTATING, v);
    char *json = format(&s, PAPYRA_FORMAT_JSON, PAPYRA_FORMAT_PRETTY);
    cJSON *o = cJSON_Parse(json);
    const cJSON *item;
    int i = 0;

    assert_non_null(o);
    cJSON_ArrayForEach(item, o)
    {
        assert_string_equal(item->string, papyra_metric_get(i)->name);
        if (papyra_metric_supported(PAPYRA_BACKEND_ROTATING, i)) {
            assert_true(cJSON_IsNumber(item));
            assert_int_equal((int)item->valuedouble, i + 1);
        } else {
            assert_true(cJSON_IsNull(item));
        }
        i++;
    }
    assert_int_equal(i, PAPYRA_METRIC_COUNT);
    cJSON_Delete(o);
    papyra_free(json);
}

static void
assert_table_row_contains(const papyra_metrics_snapshot *s, const char *row_start, const char *cell)
{
    char *table = format(s, PAPYRA_FORMAT_TABLE, PAPYRA_FORMAT_ASCII);
    const char *row = strstr(table, row_start);
    const char *found;

    assert_non_null(row);
    found = strstr(row, cell);
    assert_non_null(found);
    assert_true(found < strchr(row, '\n'));
    papyra_free(table);
}

static void
test_unsupported_counters_should_be_null_na_and_absent(void **state)
{
    uint64_t v[PAPYRA_METRIC_COUNT] = {0};
    papyra_metrics_snapshot s;
    char *out;
    cJSON *o, *detail;

    v[PAPYRA_METRIC_RECORDS_WRITTEN] = 4;
    s = snapshot_with(PAPYRA_BACKEND_MEMORY, v);

    out = format(&s, PAPYRA_FORMAT_JSON, 0);
    o = cJSON_Parse(out);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "compactions_triggered")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "compaction_errors")));
    assert_true(cJSON_IsNumber(cJSON_GetObjectItem(o, "write_errors")));
    cJSON_Delete(o);
    papyra_free(out);

    out = format(&s, PAPYRA_FORMAT_JSON_DETAIL, 0);
    o = cJSON_Parse(out);
    detail = cJSON_GetObjectItem(cJSON_GetObjectItem(o, "counters"), "compaction_errors");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(detail, "supported")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(detail, "value")));
    assert_string_equal(cJSON_GetObjectItem(o, "backend")->valuestring, "memory");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "reset_at")));
    cJSON_Delete(o);
    papyra_free(out);

    assert_table_row_contains(&s, "| compactions_triggered", "n/a");

    for (int f = PAPYRA_FORMAT_PROMETHEUS; f <= PAPYRA_FORMAT_OPENMETRICS; f++) {
        out = format(&s, (papyra_metrics_format_id)f, 0);
        assert_null(strstr(out, "compaction"));
        assert_non_null(
            strstr(out, "papyra_persistence_records_written_total{backend=\"memory\"} 4\n"));
        papyra_free(out);
    }
}

static void
test_table_should_show_every_counter_with_title(void **state)
{
    uint64_t v[PAPYRA_METRIC_COUNT] = {0};
    papyra_metrics_snapshot s;
    char *out;

    v[PAPYRA_METRIC_WRITE_ERRORS] = 5;
    s = snapshot_with(PAPYRA_BACKEND_JSON, v);
    out = format(&s, PAPYRA_FORMAT_TABLE, 0);
    assert_true(strncmp(out, "Persistence Metrics\n", 20) == 0);
    assert_non_null(strstr(out, "┃ Counter"));
    for (int i = 0; i < PAPYRA_METRIC_COUNT; i++)
        assert_non_null(strstr(out, papyra_metric_get(i)->name));
    assert_non_null(strstr(out, "│ write_errors          │     5 │ Write "));
    assert_null(strstr(out, "\033["));
    papyra_free(out);

    out = format(&s, PAPYRA_FORMAT_TABLE, PAPYRA_FORMAT_WIDE | PAPYRA_FORMAT_COLOR);
    assert_non_null(strstr(out, papyra_metric_get(PAPYRA_METRIC_RECORDS_READ)->help));
    assert_non_null(strstr(out, "\033[1;31m5\033[0m"));
    papyra_free(out);
}

static void
test_prometheus_should_follow_the_exposition_formats(void **state)
{
    uint64_t v[PAPYRA_METRIC_COUNT] = {0};
    papyra_metrics_snapshot s;
    char *out;

    v[PAPYRA_METRIC_RECORDS_READ] = 12;
    s = snapshot_with(PAPYRA_BACKEND_REDIS, v);
    s.reset_at_ns = INT64_C(1700000000123000000);
    out = format(&s, PAPYRA_FORMAT_PROMETHEUS, 0);
    assert_non_null(strstr(out, "# HELP papyra_persistence_records_read_total Records returned"));
    assert_non_null(strstr(out, "# TYPE papyra_persistence_records_read_total counter\n"));
    assert_non_null(strstr(out, "papyra_persistence_records_read_total{backend=\"redis\"} 12\n"));
    assert_non_null(strstr(out,
                           "papyra_persistence_metrics_reset_timestamp_seconds{backend=\"redis\"} "
                           "1700000000.123\n"));
    papyra_free(out);

    out = format(&s, PAPYRA_FORMAT_OPENMETRICS, 0);
    assert_non_null(strstr(out, "# TYPE papyra_persistence_records_read counter\n"));
    assert_non_null(strstr(out, "papyra_persistence_records_read_total{backend=\"redis\"} 12\n"));
    assert_non_null(
        strstr(out, "papyra_persistence_records_read_created{backend=\"redis\"} 1700000000.123\n"));
    assert_string_equal(out + strlen(out) - 6, "# EOF\n");
    papyra_free(out);
}

static void
test_format_should_reject_bad_arguments(void **state)
{
    papyra_metrics_snapshot s = {0};
    char *out = NULL;

    assert_int_equal(papyra_metrics_format(NULL, PAPYRA_FORMAT_JSON, 0, &out), PAPYRA_EINVAL);
    assert_int_equal(papyra_metrics_format(&s, PAPYRA_FORMAT_JSON, 0, NULL), PAPYRA_EINVAL);
    assert_int_equal(papyra_metrics_format(&s, (papyra_metrics_format_id)99, 0, &out),
                     PAPYRA_EINVAL);
    s.backend = 99;
    assert_int_equal(papyra_metrics_format(&s, PAPYRA_FORMAT_JSON, 0, &out), PAPYRA_EINVAL);
    assert_null(out);
}

/* Counts the lines of @p out that hold @p needle. */
static int
lines_with(const char *out, const char *needle)
{
    int n = 0;

    for (const char *p = out; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static void
test_labels_should_go_on_every_sample_escaped(void **state)
{
    uint64_t v[PAPYRA_METRIC_COUNT] = {0};
    const papyra_metrics_label labels[] = {{"store", "orders"}, {"path", "C:\\q\"x\"\nz é"}};
    const char *set = "{backend=\"json\",store=\"orders\",path=\"C:\\\\q\\\"x\\\"\\nz é\"}";
    papyra_metrics_snapshot s;
    char *out = NULL;
    int samples = 0;

    s = snapshot_with(PAPYRA_BACKEND_JSON, v);
    for (int i = 0; i < PAPYRA_METRIC_COUNT; i++)
        samples += papyra_metric_supported(PAPYRA_BACKEND_JSON, i);
    assert_int_equal(papyra_metrics_format_labels(&s, PAPYRA_FORMAT_PROMETHEUS, 0, labels, 2, &out),
                     0);
    /* Every counter and the reset timestamp, and nothing without the labels. */
    assert_int_equal(lines_with(out, set), samples + 1);
    assert_int_equal(lines_with(out, "{backend="), samples + 1);
    assert_non_null(strstr(out, "papyra_persistence_records_written_total{backend=\"json\","
                                "store=\"orders\","));
    papyra_free(out);

    out = NULL;
    assert_int_equal(
        papyra_metrics_format_labels(&s, PAPYRA_FORMAT_OPENMETRICS, 0, labels, 1, &out), 0);
    assert_int_equal(lines_with(out, "{backend=\"json\",store=\"orders\"} "), 2 * samples);
    assert_int_equal(lines_with(out, "{backend="), 2 * samples);
    papyra_free(out);

    /* No labels: the same text as papyra_metrics_format(). */
    {
        char *plain = format(&s, PAPYRA_FORMAT_PROMETHEUS, 0);
        out = NULL;
        assert_int_equal(
            papyra_metrics_format_labels(&s, PAPYRA_FORMAT_PROMETHEUS, 0, NULL, 0, &out), 0);
        assert_string_equal(out, plain);
        papyra_free(plain);
        papyra_free(out);
    }
}

static void
test_bad_labels_should_be_refused(void **state)
{
    const struct {
        const char *name, *value, *problem;
    } bad[] = {
        {"", "v", "the name is empty"},
        {NULL, "v", "the name is empty"},
        {"1st", "v", "a name starts with a letter or '_'"},
        {"st-ore", "v", "a name holds only letters, digits and '_'"},
        {"stor\xc3\xa9", "v", "a name holds only letters, digits and '_'"},
        {"__name__", "v", "names starting with '__' are reserved"},
        {"backend", "v", "'backend' is always set"},
        {"store", NULL, "the value is missing"},
        {"store", "\xff\xfe", "the value is not valid UTF-8"},
    };
    uint64_t v[PAPYRA_METRIC_COUNT] = {0};
    papyra_metrics_snapshot s = snapshot_with(PAPYRA_BACKEND_JSON, v);
    char *out = NULL;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        papyra_metrics_label l = {bad[i].name, bad[i].value};
        assert_string_equal(papyra_metrics_label_problem(l.name, l.value), bad[i].problem);
        assert_int_equal(papyra_metrics_format_labels(&s, PAPYRA_FORMAT_PROMETHEUS, 0, &l, 1, &out),
                         PAPYRA_EINVAL);
    }
    assert_null(papyra_metrics_label_problem("_ok9", ""));
    {
        const papyra_metrics_label twice[] = {{"store", "a"}, {"store", "b"}};
        assert_int_equal(
            papyra_metrics_format_labels(&s, PAPYRA_FORMAT_OPENMETRICS, 0, twice, 2, &out),
            PAPYRA_EINVAL);
        /* Labels are for the Prometheus formats only. */
        assert_int_equal(papyra_metrics_format_labels(&s, PAPYRA_FORMAT_JSON, 0, twice, 1, &out),
                         PAPYRA_EINVAL);
        assert_int_equal(papyra_metrics_format_labels(&s, PAPYRA_FORMAT_TABLE, 0, twice, 1, &out),
                         PAPYRA_EINVAL);
        assert_int_equal(
            papyra_metrics_format_labels(&s, PAPYRA_FORMAT_PROMETHEUS, 0, NULL, 1, &out),
            PAPYRA_EINVAL);
    }
    assert_null(out);
}

static void
test_many_snapshots_should_make_one_exposition(void **state)
{
    uint64_t v[PAPYRA_METRIC_COUNT] = {0};
    papyra_metrics_snapshot a, b;
    const papyra_metrics_snapshot *both[2] = {&a, &b};
    const papyra_metrics_label labels[] = {{"store", "orders"}, {"store", "audit"}};
    const papyra_metrics_label same[] = {{"store", "x"}, {"store", "x"}};
    char *out = NULL, *one = NULL;
    int families = 0, samples = 0;

    for (int i = 0; i < PAPYRA_METRIC_COUNT; i++)
        v[i] = 100 + (uint64_t)i;
    a = snapshot_with(PAPYRA_BACKEND_JSON, v);
    v[0] = 7;
    b = snapshot_with(PAPYRA_BACKEND_MEMORY, v);
    for (int i = 0; i < PAPYRA_METRIC_COUNT; i++) {
        int k = papyra_metric_supported(PAPYRA_BACKEND_JSON, i) +
                papyra_metric_supported(PAPYRA_BACKEND_MEMORY, i);
        families += k > 0;
        samples += k;
    }
    assert_int_equal(
        papyra_metrics_format_many(both, 2, PAPYRA_FORMAT_PROMETHEUS, 0, labels, 1, &out), 0);
    /* HELP and TYPE once per family (and the reset gauge), then every sample. */
    assert_int_equal(lines_with(out, "# TYPE "), families + 1);
    assert_int_equal(lines_with(out, "# HELP "), families + 1);
    assert_int_equal(lines_with(out, "{backend="), samples + 2);
    assert_non_null(strstr(out, "# TYPE papyra_persistence_records_written_total counter\n"
                                "papyra_persistence_records_written_total{backend=\"json\","
                                "store=\"orders\"} 100\n"
                                "papyra_persistence_records_written_total{backend=\"memory\","
                                "store=\"audit\"} 7\n"));
    papyra_free(out);

    out = NULL;
    assert_int_equal(
        papyra_metrics_format_many(both, 2, PAPYRA_FORMAT_OPENMETRICS, 0, labels, 1, &out), 0);
    assert_int_equal(lines_with(out, "# TYPE "), families);
    assert_int_equal(lines_with(out, "# EOF\n"), 1);
    assert_int_equal(strcmp(out + strlen(out) - 6, "# EOF\n"), 0);
    assert_int_equal(lines_with(out, "{backend="), 2 * samples);
    papyra_free(out);

    /* One snapshot: exactly papyra_metrics_format_labels(). */
    for (int f = PAPYRA_FORMAT_PROMETHEUS; f <= PAPYRA_FORMAT_OPENMETRICS; f++) {
        out = one = NULL;
        assert_int_equal(papyra_metrics_format_many(both, 1, f, 0, labels, 1, &out), 0);
        assert_int_equal(papyra_metrics_format_labels(&a, f, 0, labels, 1, &one), 0);
        assert_string_equal(out, one);
        papyra_free(out);
        papyra_free(one);
    }

    /* None: an empty exposition. */
    out = NULL;
    assert_int_equal(
        papyra_metrics_format_many(NULL, 0, PAPYRA_FORMAT_PROMETHEUS, 0, NULL, 0, &out), 0);
    assert_string_equal(out, "");
    papyra_free(out);
    out = NULL;
    assert_int_equal(
        papyra_metrics_format_many(NULL, 0, PAPYRA_FORMAT_OPENMETRICS, 0, NULL, 0, &out), 0);
    assert_string_equal(out, "# EOF\n");
    papyra_free(out);

    /* Refused: one series twice, another format, a bad label, a NULL snapshot. */
    out = NULL;
    b.backend = PAPYRA_BACKEND_JSON;
    assert_int_equal(
        papyra_metrics_format_many(both, 2, PAPYRA_FORMAT_PROMETHEUS, 0, same, 1, &out),
        PAPYRA_EINVAL);
    assert_int_equal(
        papyra_metrics_format_many(both, 2, PAPYRA_FORMAT_PROMETHEUS, 0, NULL, 0, &out),
        PAPYRA_EINVAL);
    assert_int_equal(papyra_metrics_format_many(both, 2, PAPYRA_FORMAT_JSON, 0, labels, 1, &out),
                     PAPYRA_EINVAL);
    {
        const papyra_metrics_label bad[] = {{"store", "a"}, {"backend", "b"}};
        assert_int_equal(
            papyra_metrics_format_many(both, 2, PAPYRA_FORMAT_PROMETHEUS, 0, bad, 1, &out),
            PAPYRA_EINVAL);
    }
    both[1] = NULL;
    assert_int_equal(
        papyra_metrics_format_many(both, 2, PAPYRA_FORMAT_PROMETHEUS, 0, labels, 1, &out),
        PAPYRA_EINVAL);
    assert_null(out);
}

static void
test_help_text_should_describe_every_counter(void **state)
{
    const char *help = papyra_metrics_help_text();

    for (int i = 0; i < PAPYRA_METRIC_COUNT; i++) {
        assert_non_null(strstr(help, papyra_metric_get(i)->name));
        assert_non_null(strstr(help, papyra_metric_get(i)->increments));
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_should_keep_64_bit_values_exact),
        cmocka_unit_test(test_json_should_list_every_counter_in_spec_order),
        cmocka_unit_test(test_unsupported_counters_should_be_null_na_and_absent),
        cmocka_unit_test(test_table_should_show_every_counter_with_title),
        cmocka_unit_test(test_prometheus_should_follow_the_exposition_formats),
        cmocka_unit_test(test_format_should_reject_bad_arguments),
        cmocka_unit_test(test_labels_should_go_on_every_sample_escaped),
        cmocka_unit_test(test_bad_labels_should_be_refused),
        cmocka_unit_test(test_many_snapshots_should_make_one_exposition),
        cmocka_unit_test(test_help_text_should_describe_every_counter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
