/* SPDX-License-Identifier: MIT */
/*
 * Disk-full: a write that the file system refuses returns an error, counts
 * one write error, leaves no torn record behind, and loses nothing written
 * before it; writing works again once there is room.
 *
 * Two real faults: a file-size limit (RLIMIT_FSIZE, which works for any
 * user) and a full tmpfs (needs the right to mount; skipped otherwise).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <papyra/store.h>

#include "store-testutil.h"
#include "testutil.h"

static int
teardown(void **state)
{
    /* A failed assertion skips the test's own umount; never leave a mount behind. */
    char *mnt = papyra_test_path(*state, "small");
    (void)umount2(mnt, MNT_DETACH);
    free(mnt);
    return papyra_test_teardown_tmpdir(state);
}

static off_t
size_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : 0;
}

/* After a refused write: counts, no torn line, every earlier record intact. */
static void
assert_nothing_lost(papyra_store *s, uint64_t written)
{
    papyra_record_list *events;

    assert_int_equal(st_counter(s, PAPYRA_METRIC_RECORDS_WRITTEN), written);
    st_assert_scan(s, 0);
    events = st_list(s, PAPYRA_KIND_EVENT, 0, 0);
    assert_int_equal(events->count, written);
    papyra_record_list_free(events);
}

/* Runs in a child so the file-size limit and SIGXFSZ stay there. */
static void
fsize_limit_child(const char *dir, const char *scheme, const char *data)
{
    papyra_record batch[20];
    papyra_store *s = st_open("%s:%s/%s?metrics=%s/m.metrics", scheme, dir, data, dir);
    char path[512];
    uint64_t before[PAPYRA_METRIC_COUNT], delta[PAPYRA_METRIC_COUNT] = {0};
    struct rlimit lim;
    int r;

    snprintf(path, sizeof(path), "%s/%s", dir, data);
    for (int i = 0; i < 10; i++) {
        papyra_record ev = st_event(i, (double)i);
        st_write(s, &ev);
    }
    for (int i = 0; i < 20; i++)
        batch[i] = st_event(100 + i, 100.0 + i);
    /* Room for part of the batch only: the kernel writes a prefix, then refuses. */
    signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &lim), 0);
    lim.rlim_cur = (rlim_t)size_of(path) + 700;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);

    st_counters(s, before);
    r = papyra_store_write_batch(s, batch, 20);
    assert_int_equal(r, PAPYRA_ENOSPC);
    assert_non_null(strstr(papyra_store_errmsg(s), data));
    delta[PAPYRA_METRIC_WRITE_ERRORS] = 1;
    st_assert_delta(s, before, delta);

    lim.rlim_cur = lim.rlim_max;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    assert_nothing_lost(s, 10);
    /* Room again: the next write works and lands on a line of its own. */
    {
        papyra_record ev = st_event(200, 200.0);
        st_write(s, &ev);
    }
    assert_nothing_lost(s, 11);
    assert_int_equal(papyra_store_close(s), 0);
}

static void
run_in_child(void (*fn)(const char *, const char *, const char *),
             const char *dir,
             const char *scheme,
             const char *data)
{
    pid_t pid = fork();
    int status;

    assert_true(pid >= 0);
    if (pid == 0) {
        fn(dir, scheme, data);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("%s: the child failed (status %d)", scheme, status);
}

static void
test_file_size_limit_should_refuse_a_write_without_tearing_json(void **state)
{
    run_in_child(fsize_limit_child, *state, "json", "data.jsonl");
}

static void
test_file_size_limit_should_refuse_a_write_without_tearing_rotating(void **state)
{
    run_in_child(fsize_limit_child, *state, "rotating", "rot.log");
}

static void
full_tmpfs(void **state, const char *scheme, const char *data)
{
    char *mnt = papyra_test_path(*state, "small");
    papyra_store *s;
    int failed = 0, written = 0;

    assert_int_equal(mkdir(mnt, 0700), 0);
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=64k") != 0) {
        fprintf(stderr, "skipped: cannot mount a small tmpfs (%s)\n", strerror(errno));
        free(mnt);
        skip();
    }
    /* The metrics file lives elsewhere so that only the data fills the disk. */
    s = st_open("%s:%s/%s?%smetrics=%s/m-%s.metrics", scheme, mnt, data,
                strcmp(scheme, "rotating") == 0 ? "max_bytes=1000000&" : "", (const char *)*state,
                scheme);
    for (int i = 0; i < 2000 && failed < 3; i++) {
        papyra_record batch[4];
        for (int j = 0; j < 4; j++)
            batch[j] = st_event(i * 4 + j, (double)(i * 4 + j));
        int r = papyra_store_write_batch(s, batch, 4);
        if (r == 0) {
            written += 4;
        } else {
            assert_int_equal(r, PAPYRA_ENOSPC);
            failed++;
        }
    }
    assert_int_equal(failed, 3);
    assert_int_equal(st_counter(s, PAPYRA_METRIC_WRITE_ERRORS), 3);
    assert_nothing_lost(s, (uint64_t)written);
    papyra_store_close(s);
    assert_int_equal(umount(mnt), 0);
    free(mnt);
}

static void
test_full_disk_should_refuse_writes_without_tearing_json(void **state)
{
    full_tmpfs(state, "json", "data.jsonl");
}

static void
test_full_disk_should_refuse_writes_without_tearing_rotating(void **state)
{
    full_tmpfs(state, "rotating", "rot.log");
}

/* 1 for an entry that is neither the data file *(const char **)arg nor the lock. */
static size_t
is_leftover(const char *dir, const char *name, void *arg)
{
    (void)dir;
    /* The lock files (rotating) and control files (json) are the store's, not leftovers. */
    return strcmp(name, *(const char **)arg) != 0 && strcmp(name, ".rot.log.lock") != 0 &&
           strcmp(name, ".data.jsonl.lock") != 0;
}

/*
 * Compaction and recovery need room for the rewritten copy; on a full disk
 * they fail with ENOSPC, count their error, and leave the data as it was
 * with no temporary file behind.
 */
static void
full_disk_rewrite(void **state, const char *scheme, const char *data)
{
    char *mnt = papyra_test_path(*state, "small");
    char path[512];
    papyra_store *s;
    papyra_compaction_report rep;
    papyra_recovery_options repair = {.mode = PAPYRA_RECOVER_REPAIR};
    papyra_recovery_report *rr = NULL;
    uint64_t before[PAPYRA_METRIC_COUNT], delta[PAPYRA_METRIC_COUNT] = {0};
    char *content, *after;
    size_t len, alen;
    int r;

    assert_int_equal(mkdir(mnt, 0700), 0);
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=64k") != 0) {
        fprintf(stderr, "skipped: cannot mount a small tmpfs (%s)\n", strerror(errno));
        free(mnt);
        skip();
    }
    snprintf(path, sizeof(path), "%s/%s", mnt, data);
    s = st_open("%s:%s?%smetrics=%s/m-rw-%s.metrics", scheme, path,
                strcmp(scheme, "rotating") == 0 ? "max_bytes=1000000&" : "", (const char *)*state,
                scheme);
    /* Fill the disk to about two thirds with records, then one corrupt line. */
    for (int i = 0; size_of(path) < 40 * 1024; i++) {
        papyra_record ev = st_event(i, (double)i);
        st_write(s, &ev);
    }
    {
        FILE *f = fopen(path, "a");
        assert_non_null(f);
        fputs("{not json\n", f);
        assert_int_equal(fclose(f), 0);
    }
    content = papyra_test_read_file(path, &len);

    st_counters(s, before);
    r = papyra_store_compact(s, &rep);
    assert_int_equal(r, PAPYRA_ENOSPC);
    delta[PAPYRA_METRIC_COMPACTIONS_TRIGGERED] = 1;
    delta[PAPYRA_METRIC_COMPACTION_ERRORS] = 1;
    st_assert_delta(s, before, delta);

    st_counters(s, before);
    r = papyra_store_recover(s, &repair, &rr);
    assert_true(r == PAPYRA_ENOSPC);
    papyra_recovery_report_free(rr);
    memset(delta, 0, sizeof(delta));
    delta[PAPYRA_METRIC_RECOVERY_ATTEMPTS] = 1;
    delta[PAPYRA_METRIC_RECOVERY_FAILURES] = 1;
    delta[PAPYRA_METRIC_SCAN_OPERATIONS] = 1;
    delta[PAPYRA_METRIC_ANOMALY_DETECTED] = 1;
    st_assert_delta(s, before, delta);

    after = papyra_test_read_file(path, &alen);
    assert_int_equal(alen, len);
    assert_memory_equal(after, content, len);
    assert_int_equal(papyra_test_each_entry(mnt, "", is_leftover, &data), 0);
    free(after);
    free(content);
    papyra_store_close(s);
    assert_int_equal(umount(mnt), 0);
    free(mnt);
}

static void
test_full_disk_should_fail_compaction_and_recovery_safely_json(void **state)
{
    full_disk_rewrite(state, "json", "data.jsonl");
}

static void
test_full_disk_should_fail_compaction_and_recovery_safely_rotating(void **state)
{
    full_disk_rewrite(state, "rotating", "rot.log");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, papyra_test_setup_tmpdir, teardown)
        T(test_file_size_limit_should_refuse_a_write_without_tearing_json),
        T(test_file_size_limit_should_refuse_a_write_without_tearing_rotating),
        T(test_full_disk_should_refuse_writes_without_tearing_json),
        T(test_full_disk_should_refuse_writes_without_tearing_rotating),
        T(test_full_disk_should_fail_compaction_and_recovery_safely_json),
        T(test_full_disk_should_fail_compaction_and_recovery_safely_rotating),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
