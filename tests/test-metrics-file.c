/* SPDX-License-Identifier: MIT */
/* The shared metrics file: create, share, validate, recreate. */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <papyra/metrics.h>

#include "metrics/metrics-private.h"
#include "testutil.h"

static char *
path_in(void **state, const char *name)
{
    return papyra_test_path(*state, name);
}

static papyra_metrics *
open_ok(const char *path, int backend, unsigned flags)
{
    papyra_metrics_options o = {.flags = flags, .backend = backend};
    papyra_metrics *m = NULL;
    papyra_error err;
    int r = papyra_metrics_open(&m, path, &o, &err);

    if (r != 0)
        fail_msg("open %s: %s (%s)", path, err.message, papyra_errname(r));
    assert_int_equal(err.code, 0);
    return m;
}

static int
open_err(const char *path, int backend, unsigned flags, papyra_error *err)
{
    papyra_metrics_options o = {.flags = flags, .backend = backend};
    papyra_metrics *m = NULL;
    int r = papyra_metrics_open(&m, path, &o, err);

    assert_null(m);
    assert_int_equal(err->code, r);
    assert_non_null(strstr(err->message, path));
    return r;
}

static void
test_create_should_make_a_file_that_a_second_handle_shares(void **state)
{
    char *path = path_in(state, "data.metrics");
    papyra_metrics *a = open_ok(path, PAPYRA_BACKEND_JSON, PAPYRA_METRICS_CREATE);
    papyra_metrics *b = open_ok(path, -1, PAPYRA_METRICS_READONLY);
    papyra_metrics_snapshot s;

    assert_string_equal(papyra_metrics_path(a), path);
    assert_int_equal(papyra_metrics_backend(b), PAPYRA_BACKEND_JSON);
    assert_int_equal(papyra_metrics_add(a, PAPYRA_METRIC_RECORDS_WRITTEN, 5), 0);
    assert_int_equal(papyra_metrics_read(b, &s), 0);
    assert_true(s.shared);
    assert_int_equal(s.value[PAPYRA_METRIC_RECORDS_WRITTEN], 5);
    assert_int_equal(s.spec_hash, PAPYRA_METRICS_SPEC_HASH);
    /* A read-only handle reads, and refuses to write. */
    assert_int_equal(papyra_metrics_add(b, PAPYRA_METRIC_RECORDS_WRITTEN, 1), PAPYRA_EACCES);
    assert_int_equal(papyra_metrics_reset(b, NULL), PAPYRA_EACCES);
    papyra_metrics_close(a);
    papyra_metrics_close(b);

    /* Counters persist across handles (and restarts). */
    a = open_ok(path, PAPYRA_BACKEND_JSON, 0);
    assert_int_equal(papyra_metrics_read(a, &s), 0);
    assert_int_equal(s.value[PAPYRA_METRIC_RECORDS_WRITTEN], 5);
    assert_int_equal(papyra_metrics_reset(a, NULL), 0);
    papyra_metrics_close(a);
    b = open_ok(path, -1, PAPYRA_METRICS_READONLY);
    assert_int_equal(papyra_metrics_read(b, &s), 0);
    assert_int_equal(s.value[PAPYRA_METRIC_RECORDS_WRITTEN], 0);
    assert_int_equal(s.total[PAPYRA_METRIC_RECORDS_WRITTEN], 5);
    assert_int_equal(s.reset_count, 1);
    papyra_metrics_close(b);
    free(path);
}

static void
test_two_processes_should_aggregate_exactly(void **state)
{
    enum { PROCS = 2, ADDS = 200000 };
    char *path = path_in(state, "shared.metrics");
    papyra_metrics *m;
    papyra_metrics_snapshot s;
    pid_t pids[PROCS];

    for (int p = 0; p < PROCS; p++) {
        pids[p] = fork();
        assert_true(pids[p] >= 0);
        if (pids[p] == 0) {
            papyra_metrics_options o = {.flags = PAPYRA_METRICS_CREATE,
                                        .backend = PAPYRA_BACKEND_ROTATING};
            papyra_metrics *c = NULL;
            if (papyra_metrics_open(&c, path, &o, NULL) != 0)
                _exit(1);
            for (int i = 0; i < ADDS; i++) {
                papyra__metrics_add(c, PAPYRA_METRIC_RECORDS_WRITTEN, 1);
                papyra__metrics_add(c, PAPYRA_METRIC_SCAN_OPERATIONS, 2);
            }
            papyra_metrics_close(c);
            _exit(0);
        }
    }
    for (int p = 0; p < PROCS; p++) {
        int status;
        assert_int_equal(waitpid(pids[p], &status, 0), pids[p]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    m = open_ok(path, -1, PAPYRA_METRICS_READONLY);
    assert_int_equal(papyra_metrics_read(m, &s), 0);
    assert_int_equal(s.value[PAPYRA_METRIC_RECORDS_WRITTEN], (uint64_t)PROCS * ADDS);
    assert_int_equal(s.value[PAPYRA_METRIC_SCAN_OPERATIONS], (uint64_t)PROCS * ADDS * 2);
    papyra_metrics_close(m);
    free(path);
}

static void
test_missing_file_should_be_enoent_without_create(void **state)
{
    char *path = path_in(state, "missing.metrics");
    papyra_error err;

    assert_int_equal(open_err(path, -1, 0, &err), PAPYRA_ENOENT);
    assert_int_equal(access(path, F_OK), -1);
    free(path);
}

/* Writes a valid file, then lets @p damage change it, and checks the error and the recreate. */
static void
check_damaged(void **state, void (*damage)(const char *path), int expected, const char *what)
{
    static int round;
    char name[64], aside[80];
    char *path;
    papyra_metrics *m;
    papyra_metrics_snapshot s;
    papyra_error err;
    char *before;
    size_t before_len;

    snprintf(name, sizeof(name), "damaged-%d.metrics", ++round);
    snprintf(aside, sizeof(aside), "%s.invalid.", name);
    path = path_in(state, name);
    m = open_ok(path, PAPYRA_BACKEND_JSON, PAPYRA_METRICS_CREATE);
    assert_int_equal(papyra_metrics_add(m, PAPYRA_METRIC_RECORDS_WRITTEN, 9), 0);
    papyra_metrics_close(m);
    damage(path);
    before = papyra_test_read_file(path, &before_len);

    assert_int_equal(open_err(path, -1, PAPYRA_METRICS_READONLY, &err), expected);
    assert_non_null(strstr(err.message, what));
    assert_int_equal(open_err(path, PAPYRA_BACKEND_JSON, PAPYRA_METRICS_CREATE, &err), expected);
    /* Still untouched: an error never rewrites the file. */
    papyra_test_assert_file(path, before, before_len);

    /* The documented way out: RECREATE sets the bad file aside and starts afresh. */
    m = open_ok(path, PAPYRA_BACKEND_JSON, PAPYRA_METRICS_CREATE | PAPYRA_METRICS_RECREATE);
    assert_int_equal(papyra_metrics_read(m, &s), 0);
    assert_int_equal(s.value[PAPYRA_METRIC_RECORDS_WRITTEN], 0);
    papyra_metrics_close(m);
    assert_int_equal(papyra_test_count_prefix(*state, aside), 1);
    papyra_test_assert_prefix_content(*state, aside, before, before_len);
    free(before);
    free(path);
}

static void
truncate_to_100(const char *path)
{
    assert_int_equal(truncate(path, 100), 0);
}

static void
truncate_half(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(truncate(path, st.st_size / 2), 0);
}

static void
make_empty(const char *path)
{
    assert_int_equal(truncate(path, 0), 0);
}

static void
make_foreign(const char *path)
{
    char text[1024];
    memset(text, 'x', sizeof(text));
    papyra_test_write_file(path, text, sizeof(text));
}

static void
flip_header_byte(const char *path)
{
    papyra_test_patch_file(path, 30, "\x7f", 1); /* inside the checksummed header */
}

static void
break_name_table(const char *path)
{
    char junk[PAPYRA__MF_NAME_MAX];
    memset(junk, 'z', sizeof(junk));
    papyra_test_patch_file(path, PAPYRA__MF_HEADER_SIZE, junk, sizeof(junk));
}

static void
change_one_name(const char *path)
{
    papyra_test_patch_file(path, PAPYRA__MF_HEADER_SIZE, "X", 1); /* "records_written" */
}

static void
grow_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "tail", 4), 4);
    close(fd);
}

static void
bump_layout_version(const char *path)
{
    struct papyra__mf_header h;
    size_t len;
    char *data = papyra_test_read_file(path, &len);

    memcpy(&h, data, sizeof(h));
    h.layout_version = 99;
    h.header_check = papyra__fnv1a64(&h, offsetof(struct papyra__mf_header, header_check));
    papyra_test_patch_file(path, 0, &h, sizeof(h));
    free(data);
}

static void
test_truncated_file_should_be_reported(void **state)
{
    check_damaged(state, truncate_to_100, PAPYRA_ETRUNCATED, "truncated");
    check_damaged(state, truncate_half, PAPYRA_ETRUNCATED, "truncated");
    check_damaged(state, make_empty, PAPYRA_ETRUNCATED, "truncated");
}

static void
test_foreign_file_should_be_reported_and_never_replaced(void **state)
{
    char *path = path_in(state, "data.jsonl");
    static const char data[] = "{\"kind\": \"event\", \"timestamp\": 1}\n";
    papyra_error err;

    /* A data file given as the metrics path by mistake: RECREATE must not eat it. */
    papyra_test_write_file(path, data, sizeof(data) - 1);
    assert_int_equal(open_err(path, -1, PAPYRA_METRICS_READONLY, &err), PAPYRA_EFOREIGN);
    assert_non_null(strstr(err.message, "not a papyra metrics file"));
    assert_int_equal(
        open_err(path, PAPYRA_BACKEND_JSON, PAPYRA_METRICS_CREATE | PAPYRA_METRICS_RECREATE, &err),
        PAPYRA_EFOREIGN);
    papyra_test_assert_file(path, data, sizeof(data) - 1);
    assert_int_equal(papyra_test_count_prefix(*state, "data.jsonl.invalid."), 0);
    make_foreign(path);
    assert_int_equal(open_err(path, PAPYRA_BACKEND_JSON, PAPYRA_METRICS_RECREATE, &err),
                     PAPYRA_EFOREIGN);
    free(path);
}

static void
test_short_file_of_another_kind_should_not_be_replaced(void **state)
{
    char *path = path_in(state, "short.metrics");
    papyra_error err;

    papyra_test_write_file(path, "{\"a\": 1}\n", 9);
    assert_int_equal(
        open_err(path, PAPYRA_BACKEND_JSON, PAPYRA_METRICS_CREATE | PAPYRA_METRICS_RECREATE, &err),
        PAPYRA_EFOREIGN);
    papyra_test_assert_file(path, "{\"a\": 1}\n", 9);
    free(path);
}

static void
test_corrupt_file_should_be_reported(void **state)
{
    check_damaged(state, flip_header_byte, PAPYRA_ECORRUPT, "corrupt");
    check_damaged(state, break_name_table, PAPYRA_ECORRUPT, "corrupt");
    check_damaged(state, change_one_name, PAPYRA_ECORRUPT, "names do not match");
    check_damaged(state, grow_file, PAPYRA_ECORRUPT, "corrupt");
}

static void
test_other_layout_version_should_be_reported(void **state)
{
    check_damaged(state, bump_layout_version, PAPYRA_EVERSION, "layout version 99");
}

static void
test_directory_and_wrong_backend_should_be_foreign(void **state)
{
    char *path = path_in(state, "json.metrics");
    papyra_metrics *m = open_ok(path, PAPYRA_BACKEND_JSON, PAPYRA_METRICS_CREATE);
    papyra_error err;

    papyra_metrics_close(m);
    assert_int_equal(open_err(path, PAPYRA_BACKEND_REDIS, 0, &err), PAPYRA_EFOREIGN);
    assert_non_null(strstr(err.message, "belongs to backend \"json\""));
    assert_int_equal(open_err(*state, -1, 0, &err), PAPYRA_EFOREIGN);
    free(path);
}

static void
test_new_file_should_take_the_data_files_permissions(void **state)
{
    char *data = path_in(state, "data.jsonl");
    char *path = path_in(state, "data.jsonl.metrics");
    papyra_metrics_options o = {
        .flags = PAPYRA_METRICS_CREATE, .backend = PAPYRA_BACKEND_JSON, .mode_from = data};
    papyra_metrics *m = NULL;
    struct stat st;

    papyra_test_write_file(data, "", 0);
    assert_int_equal(chmod(data, 0640), 0);
    assert_int_equal(papyra_metrics_open(&m, path, &o, NULL), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    papyra_metrics_close(m);
    free(data);
    free(path);
}

/* Builds a file as another spec would: our names in another order plus one we do not know. */
static void
write_other_spec_file(const char *path, bool drop_scan)
{
    const char *names[PAPYRA_METRIC_COUNT + 1];
    uint32_t n = 0;
    size_t size;
    char *mem;
    struct papyra__mf_header *h;
    struct papyra__mf_name *table;
    struct papyra__mf_slot *slots;

    names[n++] = "brand_new_counter";
    for (int i = PAPYRA_METRIC_COUNT - 1; i >= 0; i--)
        if (!(drop_scan && i == PAPYRA_METRIC_SCAN_OPERATIONS))
            names[n++] = papyra_metric_get(i)->name;
    size = PAPYRA__MF_HEADER_SIZE + n * (PAPYRA__MF_NAME_SIZE + PAPYRA__MF_SLOT_SIZE);
    mem = calloc(1, size);
    assert_non_null(mem);
    h = (void *)mem;
    memcpy(h->magic, PAPYRA__MF_MAGIC, 8);
    h->layout_version = PAPYRA_METRICS_LAYOUT_VERSION;
    h->header_size = PAPYRA__MF_HEADER_SIZE;
    h->spec_hash = 0; /* set below, from the names */
    h->counter_count = n;
    h->backend = 7;
    h->file_size = size;
    h->names_offset = PAPYRA__MF_HEADER_SIZE;
    h->name_size = PAPYRA__MF_NAME_SIZE;
    h->slots_offset = PAPYRA__MF_HEADER_SIZE + n * PAPYRA__MF_NAME_SIZE;
    h->slot_size = PAPYRA__MF_SLOT_SIZE;
    h->created_at_ns = 1;
    strcpy(h->backend_name, "json");
    h->header_check = papyra__fnv1a64(h, offsetof(struct papyra__mf_header, header_check));
    table = (void *)(mem + h->names_offset);
    slots = (void *)(mem + h->slots_offset);
    for (uint32_t j = 0; j < n; j++) {
        strcpy(table[j].name, names[j]);
        table[j].flags = PAPYRA__MF_NAME_SUPPORTED;
        slots[j].live = 100 + j;
    }
    h->spec_hash = papyra__metrics_names_hash(table, n);
    h->header_check = papyra__fnv1a64(h, offsetof(struct papyra__mf_header, header_check));
    papyra_test_write_file(path, mem, size);
    free(mem);
}

static void
test_reader_should_match_counters_by_name_across_specs(void **state)
{
    char *path = path_in(state, "other.metrics");
    papyra_metrics *m;
    papyra_metrics_snapshot s;

    write_other_spec_file(path, true);
    m = open_ok(path, PAPYRA_BACKEND_JSON, 0);
    assert_int_equal(papyra_metrics_read(m, &s), 0);
    assert_int_not_equal(s.spec_hash, PAPYRA_METRICS_SPEC_HASH);
    /* Written in reverse order after the unknown one: slot j holds 100 + j. */
    assert_int_equal(s.value[PAPYRA_METRIC_COMPACTION_ERRORS],
                     100 + PAPYRA_METRIC_COUNT - PAPYRA_METRIC_COMPACTION_ERRORS);
    assert_int_equal(s.value[PAPYRA_METRIC_RECORDS_WRITTEN], 100 + PAPYRA_METRIC_COUNT - 1);
    assert_int_equal(s.state[PAPYRA_METRIC_SCAN_OPERATIONS], PAPYRA_METRIC_ABSENT);
    /* A counter the file lacks still counts, privately, and never crashes. */
    assert_int_equal(papyra_metrics_add(m, PAPYRA_METRIC_SCAN_OPERATIONS, 1), 0);
    assert_int_equal(papyra_metrics_add(m, PAPYRA_METRIC_COMPACTION_ERRORS, 1), 0);
    assert_int_equal(papyra_metrics_read(m, &s), 0);
    assert_int_equal(s.value[PAPYRA_METRIC_COMPACTION_ERRORS],
                     101 + PAPYRA_METRIC_COUNT - PAPYRA_METRIC_COMPACTION_ERRORS);
    papyra_metrics_close(m);
    free(path);
}

static void
test_open_should_reject_bad_arguments(void **state)
{
    papyra_metrics *m = NULL;
    papyra_metrics_options create_reader = {.flags = PAPYRA_METRICS_CREATE, .backend = -1};
    papyra_error err;

    assert_int_equal(papyra_metrics_open(NULL, "x", NULL, &err), PAPYRA_EINVAL);
    assert_int_equal(papyra_metrics_open(&m, NULL, NULL, &err), PAPYRA_EINVAL);
    assert_int_equal(papyra_metrics_open(&m, "", NULL, &err), PAPYRA_EINVAL);
    assert_int_equal(papyra_metrics_open(&m, "x", &create_reader, &err), PAPYRA_EINVAL);
    assert_int_equal(err.code, PAPYRA_EINVAL);
    assert_null(m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        PAPYRA_TEST_IN_TMPDIR(test_create_should_make_a_file_that_a_second_handle_shares),
        PAPYRA_TEST_IN_TMPDIR(test_two_processes_should_aggregate_exactly),
        PAPYRA_TEST_IN_TMPDIR(test_missing_file_should_be_enoent_without_create),
        PAPYRA_TEST_IN_TMPDIR(test_truncated_file_should_be_reported),
        PAPYRA_TEST_IN_TMPDIR(test_foreign_file_should_be_reported_and_never_replaced),
        PAPYRA_TEST_IN_TMPDIR(test_short_file_of_another_kind_should_not_be_replaced),
        PAPYRA_TEST_IN_TMPDIR(test_corrupt_file_should_be_reported),
        PAPYRA_TEST_IN_TMPDIR(test_other_layout_version_should_be_reported),
        PAPYRA_TEST_IN_TMPDIR(test_directory_and_wrong_backend_should_be_foreign),
        PAPYRA_TEST_IN_TMPDIR(test_new_file_should_take_the_data_files_permissions),
        PAPYRA_TEST_IN_TMPDIR(test_reader_should_match_counters_by_name_across_specs),
        cmocka_unit_test(test_open_should_reject_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
