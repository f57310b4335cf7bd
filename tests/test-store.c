/* SPDX-License-Identifier: MIT */
/* The generic layer: URLs, options, metrics files, retention, small API contracts. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <papyra/store.h>

#include "core/backend.h"
#include "record/codec.h"
#include "store-testutil.h"
#include "testutil.h"

static int
setup(void **state)
{
    *state = papyra_test_tmpdir();
    return *state ? 0 : -1;
}

static int
teardown(void **state)
{
    papyra_test_rmtree(*state);
    free(*state);
    return 0;
}

/* Opening @p url must fail with @p code and a message containing @p needle. */
static void
open_fails(const char *url, int code, const char *needle)
{
    papyra_store *s = NULL;
    papyra_error err = {0};
    int r = papyra_store_open(&s, url, &err);

    if (r != code)
        fail_msg("%s: got %s (%s), want %s", url, papyra_errname(r), err.message,
                 papyra_errname(code));
    assert_null(s);
    assert_int_equal(err.code, code);
    if (!strstr(err.message, needle))
        fail_msg("%s: message '%s' does not name '%s'", url, err.message, needle);
}

static void
test_bad_urls_are_rejected_with_a_clear_message(void **state)
{
    char url[4096];

    open_fails("", PAPYRA_EINVAL, "scheme");
    open_fails("memory", PAPYRA_EINVAL, "scheme");
    open_fails("nosuch:x", PAPYRA_EINVAL, "nosuch");
    open_fails("memory:?max_records=0", PAPYRA_EINVAL, "max_records");
    open_fails("memory:?max_records=-5", PAPYRA_EINVAL, "max_records");
    open_fails("memory:?max_records=ten", PAPYRA_EINVAL, "max_records");
    open_fails("memory:?max_total_bytes=0", PAPYRA_EINVAL, "max_total_bytes");
    open_fails("memory:?max_age_seconds=0", PAPYRA_EINVAL, "max_age_seconds");
    open_fails("memory:?max_age_seconds=-1.5", PAPYRA_EINVAL, "max_age_seconds");
    open_fails("memory:?max_age_seconds=nan", PAPYRA_EINVAL, "max_age_seconds");
    open_fails("memory:?max_age_seconds=inf", PAPYRA_EINVAL, "max_age_seconds");
    open_fails("memory:?max_age_seconds=0x10", PAPYRA_EINVAL, "max_age_seconds");
    open_fails("memory:?max_age_seconds=%2010", PAPYRA_EINVAL, "max_age_seconds");
    open_fails("memory:?max_records=%2010", PAPYRA_EINVAL, "max_records");
    open_fails("memory:?colour=blue", PAPYRA_EINVAL, "colour");
    open_fails("memory:?max_records=1&max_records=2", PAPYRA_EINVAL, "max_records");
    open_fails("memory:?novalue", PAPYRA_EINVAL, "key=value");
    open_fails("memory:?metrics=", PAPYRA_EINVAL, "metrics");
    open_fails("memory:/some/path", PAPYRA_EINVAL, "path");
    open_fails("json:", PAPYRA_EINVAL, "path");
    open_fails("json:/tmp/x%zz", PAPYRA_EINVAL, "escape");
    snprintf(url, sizeof(url), "json:%s?fsync=sometimes", (char *)*state);
    open_fails(url, PAPYRA_EINVAL, "fsync");
    snprintf(url, sizeof(url), "json:%s", (char *)*state);
    open_fails(url, PAPYRA_EIO, "directory"); /* an I/O problem, not a usage error */
    snprintf(url, sizeof(url), "json:%s/x.jsonl?max_bytes=5", (char *)*state);
    open_fails(url, PAPYRA_EINVAL, "max_bytes");
}

static void
test_url_parser(void **state)
{
    papyra__url u;
    papyra_error err;

    assert_int_equal(papyra__url_parse("redis://h:6379/2?prefix=p%3Aq&&system_id=s", &u, &err), 0);
    assert_string_equal(u.scheme, "redis");
    assert_string_equal(u.path, "h:6379/2");
    assert_int_equal(u.nparams, 2);
    assert_string_equal(papyra__url_param(&u, "prefix"), "p:q");
    assert_string_equal(papyra__url_param(&u, "system_id"), "s");
    assert_null(papyra__url_param(&u, "maxlen"));
    papyra__url_free(&u);
    assert_int_equal(papyra__url_parse("json:///tmp/a%3Fb?fsync=always", &u, &err), 0);
    assert_string_equal(u.path, "/tmp/a?b");
    papyra__url_free(&u);
    assert_int_equal(papyra__url_parse("memory:", &u, &err), 0);
    assert_string_equal(u.path, "");
    assert_int_equal(u.nparams, 0);
    papyra__url_free(&u);
    assert_int_equal(papyra__url_parse("json:/x%00y", &u, &err), PAPYRA_EINVAL);
}

static void
test_percent_decoded_path_and_retention_params(void **state)
{
    char *expect = papyra_test_path(*state, "a?b&c.jsonl");
    papyra_store *s = st_open("json://%s/a%%3Fb%%26c.jsonl?max_records=2&max_age_seconds=1e9"
                              "&max_total_bytes=100000&fsync=everysec",
                              (char *)*state);
    papyra_record r = st_event(1, 1e9 + 0.5 * 1e9);

    st_write(s, &r);
    assert_int_equal(access(expect, F_OK), 0);
    assert_int_equal(s->retention.max_records, 2);
    assert_true(s->retention.max_age_seconds == 1e9);
    assert_int_equal(s->retention.max_total_bytes, 100000);
    papyra_store_close(s);
    free(expect);
}

static void
test_metrics_none_and_explicit_paths(void **state)
{
    char *data = papyra_test_path(*state, "d.jsonl");
    char *mdef = papyra_test_path(*state, "d.jsonl.metrics");
    char *mexp = papyra_test_path(*state, "elsewhere.metrics");
    papyra_store *s;

    s = st_open("json:%s?metrics=none", data);
    assert_null(papyra_metrics_path(papyra_store_metrics(s)));
    assert_null(papyra_store_metrics_warning(s));
    papyra_store_close(s);
    assert_int_equal(access(mdef, F_OK), -1);

    s = st_open("json:%s?metrics=%s", data, mexp);
    assert_string_equal(papyra_metrics_path(papyra_store_metrics(s)), mexp);
    papyra_store_close(s);
    assert_int_equal(access(mdef, F_OK), -1);
    free(data);
    free(mdef);
    free(mexp);
}

/* An unusable metrics file never blocks the store: private counters and a warning. */
static void
test_unusable_metrics_file_falls_back_to_private_counters(void **state)
{
    char *data = papyra_test_path(*state, "d.jsonl");
    char *mdef = papyra_test_path(*state, "d.jsonl.metrics");
    papyra_record r = st_event(1, 1);
    uint64_t c[PAPYRA_METRIC_COUNT];
    papyra_store *s;

    papyra_test_write_file(mdef, "this is not a metrics file, not at all....", 42);
    s = st_open("json:%s", data);
    assert_non_null(papyra_store_metrics_warning(s));
    assert_non_null(strstr(papyra_store_metrics_warning(s), "private"));
    assert_null(papyra_metrics_path(papyra_store_metrics(s)));
    st_write(s, &r);
    st_counters(s, c);
    assert_int_equal(c[PAPYRA_METRIC_RECORDS_WRITTEN], 1);
    papyra_store_close(s);

    /* A directory is created for the metrics file, but not through a regular file. */
    s = st_open("memory:?metrics=%s/m/no-dir/m", (char *)*state);
    assert_null(papyra_store_metrics_warning(s));
    papyra_store_close(s);
    papyra_test_write_file(mdef, "", 0);
    s = st_open("memory:?metrics=%s/m", mdef);
    assert_non_null(papyra_store_metrics_warning(s));
    papyra_store_close(s);
    free(data);
    free(mdef);
}

static void
test_small_contracts(void **state)
{
    papyra_store *s = NULL;

    assert_int_equal(papyra_store_close(NULL), 0);
    assert_string_equal(papyra_store_errmsg(NULL), "");
    assert_int_equal(papyra_store_open(NULL, "memory:", NULL), PAPYRA_EINVAL);
    assert_int_equal(papyra_store_open(&s, "memory:", NULL), 0);
    assert_string_equal(papyra_store_errmsg(s), "");
    assert_int_equal(papyra_store_write_batch(s, NULL, 0), 0);
    assert_int_equal(papyra_store_scan(s, NULL), PAPYRA_EINVAL);
    papyra_store_close(s);
    papyra_record_list_free(NULL);
    papyra_scan_report_free(NULL);
    papyra_recovery_report_free(NULL);
    assert_string_equal(papyra_anomaly_type_name(PAPYRA_ANOMALY_TRUNCATED_LINE), "TRUNCATED_LINE");
    assert_string_equal(papyra_anomaly_type_name(PAPYRA_ANOMALY_UNEXPECTED_FILE),
                        "UNEXPECTED_FILE");
    assert_null(papyra_anomaly_type_name(0));
    assert_null(papyra_anomaly_type_name(6));
}

static papyra_record_list *
make_list(size_t n)
{
    papyra_record_list *l = calloc(1, sizeof(*l));
    size_t i;

    l->records = calloc(n, sizeof(*l->records));
    l->count = n;
    for (i = 0; i < n; i++) {
        l->records[i].kind = PAPYRA_KIND_EVENT;
        l->records[i].u.event.timestamp = (double)i;
    }
    return l;
}

static void
test_retention_rules(void **state)
{
    papyra__retention r = {.max_records = 3};
    size_t sizes[6] = {10, 10, 10, 10, 50, 10};
    papyra_record_list *l = make_list(6);

    papyra__retention_apply(&r, l, NULL);
    assert_int_equal(l->count, 3);
    assert_true(l->records[0].u.event.timestamp == 3);
    papyra_record_list_free(l);

    /* Size: from the newest, stop at the first record that does not fit. */
    r = (papyra__retention){.max_total_bytes = 65};
    l = make_list(6);
    papyra__retention_apply(&r, l, sizes);
    assert_int_equal(l->count, 2);
    assert_true(l->records[0].u.event.timestamp == 4);
    papyra_record_list_free(l);

    /* A record larger than the limit keeps nothing. */
    r = (papyra__retention){.max_total_bytes = 5};
    l = make_list(6);
    papyra__retention_apply(&r, l, sizes);
    assert_int_equal(l->count, 0);
    papyra_record_list_free(l);

    /* Age, then count: old records never count against max_records. */
    r = (papyra__retention){.max_records = 2, .max_age_seconds = 100};
    l = make_list(6);
    l->records[2].u.event.timestamp = (double)time(NULL);
    l->records[5].u.event.timestamp = NAN;
    papyra__retention_apply(&r, l, NULL);
    assert_int_equal(l->count, 1);
    papyra_record_list_free(l);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_bad_urls_are_rejected_with_a_clear_message),
        T(test_url_parser),
        T(test_percent_decoded_path_and_retention_params),
        T(test_metrics_none_and_explicit_paths),
        T(test_unusable_metrics_file_falls_back_to_private_counters),
        T(test_small_contracts),
        T(test_retention_rules),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
