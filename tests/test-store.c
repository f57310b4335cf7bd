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
/* Checks that a call on @p url failed with @p code and a message naming @p needle. */
static void
assert_failed(const char *url, int r, const papyra_error *err, int code, const char *needle)
{
    if (r != code)
        fail_msg("%s: got %s (%s), want %s", url, papyra_errname(r), err->message,
                 papyra_errname(code));
    assert_int_equal(err->code, code);
    if (!strstr(err->message, needle))
        fail_msg("%s: message '%s' does not name '%s'", url, err->message, needle);
}

static void
open_fails(const char *url, int code, const char *needle)
{
    papyra_store *s = NULL;
    papyra_error err = {0};
    int r = papyra_store_open(&s, url, &err);

    assert_failed(url, r, &err, code, needle);
    assert_null(s);
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
    open_fails(url, PAPYRA_ENOTREG,
               "not a regular file (a directory)"); /* an I/O problem, not a usage error */
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
    assert_string_equal(papyra_anomaly_type_name(PAPYRA_ANOMALY_MISTYPED_RECORD),
                        "MISTYPED_RECORD");
    assert_null(papyra_anomaly_type_name(0));
    assert_null(papyra_anomaly_type_name(7));
}

/* A parameter given twice is refused with one message by every entry point that reads a URL. */
static void
test_duplicated_parameter_is_refused_everywhere(void **state)
{
    static const char url[] = "json:/x?fsync=always&fsync=never";
    papyra_open_options o = {.flags = PAPYRA_OPEN_NO_CREATE, .metrics_path = "none"};
    papyra_error e1 = {0}, e2 = {0}, e3 = {0}, e4 = {0};
    papyra_url_info *info = NULL;
    papyra_store *s = NULL;
    char *path = NULL;

    open_fails(url, PAPYRA_EINVAL, "parameter given twice: fsync");
    assert_int_equal(papyra_store_open(&s, url, &e1), PAPYRA_EINVAL);
    assert_int_equal(papyra_store_open_with(&s, url, &o, &e2), PAPYRA_EINVAL);
    assert_int_equal(papyra_store_url_describe(url, &info, &e3), PAPYRA_EINVAL);
    assert_int_equal(papyra_store_metrics_location(url, &path, NULL, &e4), PAPYRA_EINVAL);
    assert_null(s);
    assert_null(info);
    assert_null(path);
    assert_string_equal(e1.message, "parameter given twice: fsync");
    assert_string_equal(e2.message, e1.message);
    assert_string_equal(e3.message, e1.message);
    assert_string_equal(e4.message, e1.message);
    /* An override of metrics= does not hide a metrics= given twice. */
    assert_int_equal(papyra_store_open_with(&s, "memory:?metrics=a&metrics=b", &o, &e1),
                     PAPYRA_EINVAL);
    assert_string_equal(e1.message, "parameter given twice: metrics");
}

/* Describes @p url, which must succeed. */
static papyra_url_info *
describe(const char *url)
{
    papyra_url_info *info = NULL;
    papyra_error err = {0};
    int r = papyra_store_url_describe(url, &info, &err);

    if (r != 0)
        fail_msg("%s: %s (%s)", url, papyra_errname(r), err.message);
    assert_int_equal(err.code, 0);
    return info;
}

static void
describe_fails(const char *url, int code, const char *needle)
{
    papyra_url_info *info = NULL;
    papyra_error err = {0};
    int r = papyra_store_url_describe(url, &info, &err);

    assert_failed(url, r, &err, code, needle);
    assert_null(info);
}

static void
test_describe_file_stores(void **state)
{
    papyra_url_info *info;

    info = describe("json:///tmp/a%3Fb%26c%25?fsync=always&max_records=3&&metrics=%2Fm%3F");
    assert_int_equal(info->backend, PAPYRA_BACKEND_JSON);
    assert_string_equal(info->scheme, "json");
    assert_string_equal(info->data_path, "/tmp/a?b&c%");
    assert_string_equal(info->metrics_path, "/m?");
    assert_int_equal(info->nparams, 3);
    assert_string_equal(info->params[0].key, "fsync");
    assert_string_equal(info->params[0].value, "always");
    assert_string_equal(info->params[1].key, "max_records");
    assert_string_equal(info->params[2].key, "metrics");
    assert_string_equal(papyra_url_info_param(info, "max_records"), "3");
    assert_null(papyra_url_info_param(info, "max_age_seconds"));
    assert_string_equal(info->display,
                        "json:///tmp/a%3Fb%26c%25?fsync=always&max_records=3&&metrics=%2Fm%3F");
    papyra_url_info_free(info);

    /* The default metrics file, and a path that is not checked against the disk. */
    info = describe("rotating:rel/r.log");
    assert_int_equal(info->backend, PAPYRA_BACKEND_ROTATING);
    assert_string_equal(info->data_path, "rel/r.log");
    assert_string_equal(info->metrics_path, "rel/.r.log.metrics");
    assert_int_equal(info->nparams, 0);
    papyra_url_info_free(info);

    /* An '@' in a file name is a name, never credentials. */
    info = describe("json:/tmp/u:p@x.jsonl?metrics=none");
    assert_string_equal(info->data_path, "/tmp/u:p@x.jsonl");
    assert_null(info->metrics_path);
    assert_string_equal(info->display, "json:/tmp/u:p@x.jsonl?metrics=none");
    papyra_url_info_free(info);

    info = describe("memory:");
    assert_int_equal(info->backend, PAPYRA_BACKEND_MEMORY);
    assert_null(info->data_path);
    assert_null(info->metrics_path);
    assert_int_equal(info->nparams, 0);
    papyra_url_info_free(info);
    papyra_url_info_free(NULL);

    describe_fails("json:", PAPYRA_EINVAL, "json: needs a file path");
    describe_fails("rotating:?max_files=2", PAPYRA_EINVAL, "rotating: needs a file path");
    describe_fails("nosuch:x", PAPYRA_EINVAL, "nosuch");
    describe_fails("nocolon", PAPYRA_EINVAL, "scheme");
    describe_fails("json:/tmp/x%zz", PAPYRA_EINVAL, "escape");
    describe_fails("json:/tmp/x%00", PAPYRA_EINVAL, "escape");
    describe_fails("json:/tmp/x?novalue", PAPYRA_EINVAL, "key=value");
    describe_fails("memory:?metrics=", PAPYRA_EINVAL, "metrics");
    assert_int_equal(papyra_store_url_describe("memory:", NULL, NULL), PAPYRA_EINVAL);
    assert_int_equal(papyra_store_url_describe(NULL, &info, NULL), PAPYRA_EINVAL);
}

static void
test_describe_masks_secrets_and_knows_the_aliases(void **state)
{
#ifdef PAPYRA_HAVE_REDIS
    papyra_url_info *info;

    info = describe("redis://alice:s3cret@127.0.0.1:1/0?prefix=p&password=other&metrics=/m");
    assert_int_equal(info->backend, PAPYRA_BACKEND_REDIS);
    assert_string_equal(info->scheme, "redis");
    assert_null(info->data_path);
    assert_string_equal(info->metrics_path, "/m");
    assert_string_equal(papyra_url_info_param(info, "password"), "***");
    assert_string_equal(papyra_url_info_param(info, "prefix"), "p");
    assert_string_equal(info->display,
                        "redis://alice:***@127.0.0.1:1/0?prefix=p&password=***&metrics=/m");
    papyra_url_info_free(info);

    /* The Redis backend's split: the last '@', then the first ':' before it, escapes decoded. */
    info = describe("redis://u:p%40ss:w@h%3A/0?metrics=/m");
    assert_string_equal(info->display, "redis://u:***@h%3A/0?metrics=/m");
    papyra_url_info_free(info);
    info = describe("redis://u%3Ap@h/0?metrics=/m");
    assert_string_equal(info->display, "redis://u%3A***@h/0?metrics=/m");
    papyra_url_info_free(info);
    info = describe("redis://s3cret@h/0?metrics=/m");
    assert_string_equal(info->display, "redis://***@h/0?metrics=/m");
    papyra_url_info_free(info);

    /* A key spelt with escapes is the key it decodes to. */
    info = describe("unix:/tmp/r.sock?pass%77ord=s3cret&db=2&metrics=/m");
    assert_int_equal(info->backend, PAPYRA_BACKEND_REDIS);
    assert_string_equal(info->scheme, "unix");
    assert_null(info->data_path);
    assert_string_equal(papyra_url_info_param(info, "password"), "***");
    assert_string_equal(papyra_url_info_param(info, "db"), "2");
    assert_string_equal(info->display, "unix:/tmp/r.sock?pass%77ord=***&db=2&metrics=/m");
    papyra_url_info_free(info);

    /* Without metrics= the backend's default, worked out without connecting. */
    info = describe("unix:/tmp/r.sock?password=s3cret");
    if (info->metrics_path)
        assert_null(strstr(info->metrics_path, "s3cret"));
    papyra_url_info_free(info);

    /* rediss: names Redis; TLS is refused where the backend is asked for its default. */
    info = describe("rediss://u:s3cret@h:6380/0?metrics=/m");
    assert_int_equal(info->backend, PAPYRA_BACKEND_REDIS);
    assert_string_equal(info->scheme, "rediss");
    assert_string_equal(info->display, "rediss://u:***@h:6380/0?metrics=/m");
    papyra_url_info_free(info);
#ifdef PAPYRA_HAVE_REDIS_TLS
    info = describe("rediss://h:6380/0");
    assert_int_equal(info->backend, PAPYRA_BACKEND_REDIS);
    papyra_url_info_free(info);
#else
    describe_fails("rediss://h:6380/0", PAPYRA_EUNSUPPORTED, "TLS");
#endif
#else
    describe_fails("redis://h:6379/0", PAPYRA_EINVAL, "unavailable");
    describe_fails("unix:/tmp/r.sock", PAPYRA_EINVAL, "unavailable");
#endif
    /* A URL that does not parse never shows its password in the message either. */
    describe_fails("redis://u:s3cret@h/0%zz", PAPYRA_EINVAL, "redis://u:***@h/0%zz");
    describe_fails("Redis://u:s3cret@h/0", PAPYRA_EINVAL, "Redis://u:***@h/0");
}

static void
test_redact(void **state)
{
    static const char *const cases[][2] = {
        {"redis://alice:s3cret@h:1/0?prefix=p", "redis://alice:***@h:1/0?prefix=p"},
        {"redis://:s3cret@h:1/0", "redis://:***@h:1/0"},
        {"redis://s3cret@h", "redis://***@h"},
        {"redis://h:6379/0", "redis://h:6379/0"},
        {"redis:u:s3cret@h", "redis:u:***@h"},
        {"unix:/tmp/a@b.sock?password=s3cret&db=0", "unix:/tmp/a@b.sock?password=***&db=0"},
        {"unix:/s?db=0&&password=s3cret&password=again", "unix:/s?db=0&&password=***&password=***"},
        {"json:///tmp/u:p@x", "json:///tmp/u:p@x"},
        {"rotating:/tmp/u:p@x?max_files=2", "rotating:/tmp/u:p@x?max_files=2"},
        {"memory:?metrics=/tmp/u:p@m", "memory:?metrics=/tmp/u:p@m"},
        {"ftp://u:s3cret@h/x", "ftp://u:***@h/x"},
        {"nocolon", "nocolon"},
        {"", ""},
        {"x?password=s3cret", "x?password=***"},
        {"redis://h/0?a=1@2:3", "redis://h/0?a=1@2:3"},
    };
    char *out = NULL;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(papyra_store_url_redact(cases[i][0], &out), 0);
        if (strcmp(out, cases[i][1]) != 0)
            fail_msg("%s: got '%s', want '%s'", cases[i][0], out, cases[i][1]);
        papyra_free(out);
    }
    assert_int_equal(papyra_store_url_redact(NULL, &out), PAPYRA_EINVAL);
    assert_int_equal(papyra_store_url_redact("memory:", NULL), PAPYRA_EINVAL);
}

static void
test_url_for_path_reads_back(void **state)
{
    static const char *const paths[] = {
        "/tmp/we%ird?na&me#.jsonl", "//srv/x.jsonl", "rel/a b.jsonl", "/a/%41%zz", "/tmp/u:p@x",
    };
    papyra_url_info *info;
    char *url = NULL;

    assert_int_equal(papyra_store_url_for_path(PAPYRA_BACKEND_JSON, paths[0], &url), 0);
    assert_string_equal(url, "json:/tmp/we%25ird%3Fna%26me%23.jsonl");
    papyra_free(url);
    assert_int_equal(papyra_store_url_for_path(PAPYRA_BACKEND_ROTATING, paths[1], &url), 0);
    assert_string_equal(url, "rotating:%2F/srv/x.jsonl");
    papyra_free(url);
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        assert_int_equal(papyra_store_url_for_path(PAPYRA_BACKEND_JSON, paths[i], &url), 0);
        info = describe(url);
        assert_string_equal(info->data_path, paths[i]);
        papyra_url_info_free(info);
        papyra_free(url);
    }
    url = NULL;
    assert_int_equal(papyra_store_url_for_path(PAPYRA_BACKEND_MEMORY, "/x", &url), PAPYRA_EINVAL);
    assert_int_equal(papyra_store_url_for_path(PAPYRA_BACKEND_REDIS, "/x", &url), PAPYRA_EINVAL);
    assert_int_equal(papyra_store_url_for_path(PAPYRA_BACKEND_JSON, "", &url), PAPYRA_EINVAL);
    assert_int_equal(papyra_store_url_for_path(PAPYRA_BACKEND_JSON, NULL, &url), PAPYRA_EINVAL);
    assert_int_equal(papyra_store_url_for_path(PAPYRA_BACKEND_JSON, "/x", NULL), PAPYRA_EINVAL);
    assert_null(url);
}

/* Opens @p url with @p opts, which must succeed. */
static papyra_store *
open_with(const char *url, const papyra_open_options *opts)
{
    papyra_store *s = NULL;
    papyra_error err = {0};
    int r = papyra_store_open_with(&s, url, opts, &err);

    if (r != 0)
        fail_msg("%s: %s (%s)", url, papyra_errname(r), err.message);
    return s;
}

static void
test_open_with_no_create_and_metrics_path(void **state)
{
    const char *dir = *state;
    char *data = papyra_test_path(dir, "d.jsonl");
    char *mdef = papyra_test_path(dir, "d.jsonl.metrics");
    char *mexp = papyra_test_path(dir, "sub/elsewhere.metrics");
    char *mmem = papyra_test_path(dir, "mem.metrics");
    papyra_open_options nc = {.flags = PAPYRA_OPEN_NO_CREATE};
    papyra_open_options o = {0};
    papyra_record r = st_event(1, 1);
    papyra_store *s = NULL;
    papyra_error err = {0};
    char url[4096], *enc = NULL;

    assert_int_equal(papyra_store_url_for_path(PAPYRA_BACKEND_JSON, data, &enc), 0);

    /* Neither file: private counters, no warning, nothing created, for json: and rotating:. */
    s = open_with(enc, &nc);
    assert_null(papyra_metrics_path(papyra_store_metrics(s)));
    assert_null(papyra_store_metrics_warning(s));
    papyra_store_close(s);
    assert_int_equal(papyra_test_count_prefix(dir, "d."), 0);
    snprintf(url, sizeof(url), "rotating:%s/rot/r.log", dir);
    s = open_with(url, &nc);
    assert_null(papyra_metrics_path(papyra_store_metrics(s)));
    papyra_store_close(s);
    assert_false(papyra_test_exists(dir, "rot/.r.log.metrics"));
    assert_false(papyra_test_exists(dir, "rot/r.log.metrics"));

    /* The metrics file alone: it is used. */
    s = open_with(enc, NULL);
    papyra_store_close(s);
    assert_int_equal(access(mdef, F_OK), 0);
    s = open_with(enc, &nc);
    assert_string_equal(papyra_metrics_path(papyra_store_metrics(s)), mdef);
    papyra_store_close(s);

    /* The data file alone: the metrics file is created, as without the flag. */
    unlink(mdef);
    s = open_with(enc, NULL);
    st_write(s, &r);
    papyra_store_close(s);
    unlink(mdef);
    s = open_with(enc, &nc);
    assert_string_equal(papyra_metrics_path(papyra_store_metrics(s)), mdef);
    papyra_store_close(s);

    /* metrics_path replaces metrics=, and with it the flag has nothing to decide. */
    unlink(mdef);
    unlink(data);
    snprintf(url, sizeof(url), "%s?metrics=%s/never", enc, dir);
    nc.metrics_path = mexp;
    s = open_with(url, &nc);
    assert_string_equal(papyra_metrics_path(papyra_store_metrics(s)), mexp);
    papyra_store_close(s);
    assert_false(papyra_test_exists(dir, "never"));
    assert_int_equal(access(mdef, F_OK), -1);
    o.metrics_path = "none";
    s = open_with(url, &o);
    assert_null(papyra_metrics_path(papyra_store_metrics(s)));
    assert_null(papyra_store_metrics_warning(s));
    papyra_store_close(s);
    /* A metrics file is one backend's: memory gets its own. */
    o.metrics_path = mmem;
    s = open_with("memory:", &o);
    assert_string_equal(papyra_metrics_path(papyra_store_metrics(s)), mmem);
    papyra_store_close(s);

    /* Misuse. */
    s = NULL;
    o = (papyra_open_options){.metrics_path = ""};
    assert_int_equal(papyra_store_open_with(&s, "memory:", &o, &err), PAPYRA_EINVAL);
    assert_non_null(strstr(err.message, "metrics"));
    o = (papyra_open_options){.flags = 1u << 7};
    assert_int_equal(papyra_store_open_with(&s, "memory:", &o, &err), PAPYRA_EINVAL);
    assert_non_null(strstr(err.message, "flag"));
    assert_int_equal(papyra_store_open_with(NULL, "memory:", NULL, NULL), PAPYRA_EINVAL);
    assert_null(s);
    papyra_free(enc);
    free(data);
    free(mdef);
    free(mexp);
    free(mmem);
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
        T(test_duplicated_parameter_is_refused_everywhere),
        T(test_describe_file_stores),
        T(test_describe_masks_secrets_and_knows_the_aliases),
        T(test_redact),
        T(test_url_for_path_reads_back),
        T(test_open_with_no_create_and_metrics_path),
        T(test_retention_rules),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
