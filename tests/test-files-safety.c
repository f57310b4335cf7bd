/* SPDX-License-Identifier: MIT */
/*
 * The file-system guards under the file backends, one by one: opening only
 * regular files without ever blocking (src/util/fs.c papyra__open_regular),
 * the creation mode of files that belong with a data file
 * (papyra__mode_like), following a symlinked data path (papyra__follow_links)
 * and the bounds of a rotating snapshot (papyra__rot_snap_take). The CLI
 * side of the same rules is tests/test_hostile_files.py.
 *
 * An open that blocked would hang the test: every test runs under alarm(),
 * so a hang fails (SIGALRM) instead of blocking the suite.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <papyra/common.h>

#include "backends/rotating/rotating.h"
#include "testutil.h"
#include "util/fs.h"

static int
setup(void **state)
{
    alarm(30);
    return papyra_test_setup_tmpdir(state);
}

static int
teardown(void **state)
{
    alarm(0);
    return papyra_test_teardown_tmpdir(state);
}

#define IN_TMPDIR(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

static void
test_open_regular_should_refuse_a_fifo_without_blocking(void **state)
{
    char *p = papyra_test_path(*state, "fifo");

    assert_int_equal(mkfifo(p, 0600), 0);
    /* Without O_NONBLOCK, O_RDONLY would wait for a writer forever. */
    assert_int_equal(papyra__open_regular(p, O_RDONLY, 0), PAPYRA_ENOTREG);
    assert_int_equal(papyra__open_regular(p, O_RDWR | O_APPEND, 0), PAPYRA_ENOTREG);
    assert_int_equal(papyra__open_regular(p, O_WRONLY | O_CREAT | O_TRUNC, 0600), PAPYRA_ENOTREG);
    assert_string_equal(papyra__file_kind(p), "a FIFO");
    free(p);
}

static void
test_open_regular_should_refuse_directories_devices_and_sockets(void **state)
{
    char *d = papyra_test_path(*state, "dir");
    char *s = papyra_test_path(*state, "sock");
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    assert_int_equal(mkdir(d, 0700), 0);
    assert_int_equal(papyra__open_regular(d, O_RDONLY, 0), PAPYRA_ENOTREG);
    assert_int_equal(papyra__open_regular(d, O_RDWR | O_CREAT, 0600), PAPYRA_ENOTREG);
    assert_string_equal(papyra__file_kind(d), "a directory");
    assert_int_equal(papyra__open_regular("/dev/null", O_RDWR, 0), PAPYRA_ENOTREG);
    assert_string_equal(papyra__file_kind("/dev/null"), "a character device");
    assert_true(fd >= 0);
    assert_true(strlen(s) < sizeof(addr.sun_path));
    strcpy(addr.sun_path, s);
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    close(fd);
    assert_int_equal(papyra__open_regular(s, O_RDONLY, 0), PAPYRA_ENOTREG);
    assert_string_equal(papyra__file_kind(s), "a socket");
    free(d);
    free(s);
}

static void
test_open_regular_should_open_a_regular_file_blocking(void **state)
{
    char *p = papyra_test_path(*state, "f");
    int fd, fl;

    fd = papyra__open_regular(p, O_RDONLY, 0);
    assert_int_equal(fd, PAPYRA_ENOENT);
    assert_int_equal(errno, ENOENT);
    fd = papyra__open_regular(p, O_RDWR | O_APPEND | O_CREAT, 0600);
    assert_true(fd >= 0);
    fl = fcntl(fd, F_GETFL);
    assert_true(fl >= 0);
    assert_int_equal(fl & O_NONBLOCK, 0);
    assert_int_not_equal(fl & O_APPEND, 0);
    assert_int_not_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
    close(fd);
    assert_string_equal(papyra__file_kind(p), "a regular file");
    free(p);
}

static void
test_mode_like_should_take_the_data_files_bits_or_the_default(void **state)
{
    char *p = papyra_test_path(*state, "data");

    assert_int_equal(papyra__mode_like(p, 0644), 0644);
    assert_int_equal(papyra__mode_like(NULL, 0666), 0666);
    papyra_test_write_text(p, "");
    assert_int_equal(chmod(p, 04750), 0);
    assert_int_equal(papyra__mode_like(p, 0666), 0640);
    free(p);
}

static void
test_follow_links_should_resolve_a_relative_chain_to_its_target(void **state)
{
    char *dir = papyra_test_path(*state, "data");
    char *a = papyra_test_path(*state, "a.jsonl");
    char *b = papyra_test_path(dir, "b.jsonl");
    char *want = papyra_test_path(*state, "data/../data/t.jsonl");
    char *got = NULL;

    assert_int_equal(mkdir(dir, 0700), 0);
    /* a.jsonl -> data/b.jsonl -> ../data/t.jsonl (dangling: t.jsonl does not exist yet). */
    assert_int_equal(symlink("data/b.jsonl", a), 0);
    assert_int_equal(symlink("../data/t.jsonl", b), 0);
    assert_int_equal(papyra__follow_links(a, &got), 0);
    assert_string_equal(got, want);
    free(got);
    /* Not a link: the path itself. */
    assert_int_equal(papyra__follow_links(dir, &got), 0);
    assert_string_equal(got, dir);
    free(got);
    /* A loop ends (open() then reports ELOOP or what is there). */
    assert_int_equal(unlink(b), 0);
    assert_int_equal(symlink("../a.jsonl", b), 0);
    assert_int_equal(papyra__follow_links(a, &got), 0);
    free(got);
    free(dir);
    free(a);
    free(b);
    free(want);
}

/* A rotating handle's names in @p dir, as rot_open() makes them. */
static void
rot_init(papyra__rot *r, const char *dir, int64_t max_files)
{
    memset(r, 0, sizeof(*r));
    r->path = papyra_test_path(dir, "r.log");
    r->dir = strdup(dir);
    r->name = strdup("r.log");
    r->lock_path = papyra_test_path(dir, ".r.log.lock");
    r->stage_path = papyra_test_path(dir, ".r.log.rebuild");
    r->commit_path = papyra_test_path(dir, ".r.log.rebuild/COMMIT");
    r->max_bytes = 1000;
    r->max_files = max_files;
    r->file.mode = 0666;
    r->lock_fd = -1;
}

static void
rot_free(papyra__rot *r)
{
    free(r->path);
    free(r->dir);
    free(r->name);
    free(r->lock_path);
    free(r->stage_path);
    free(r->commit_path);
}

static void
test_snapshot_should_refuse_a_set_beyond_the_bound_without_touching_fds(void **state)
{
    static const int64_t bad[] = {0, -1, PAPYRA__ROT_MAX_FILES_MAX + 1, INT64_C(1) << 62,
                                  INT64_MAX};
    papyra__rot r;
    papyra__rot_snap snap;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rot_init(&r, *state, bad[i]);
        /* 2^62 entries of 4 bytes wrapped to a tiny allocation, then filled: a crash. */
        assert_int_equal(papyra__rot_snap_take(&r, &snap), PAPYRA_EINVAL);
        assert_int_equal(snap.n, 0);
        papyra__rot_snap_release(&snap); /* closes nothing */
        rot_free(&r);
    }
}

static void
test_snapshot_should_take_the_largest_set_allowed(void **state)
{
    papyra__rot r;
    papyra__rot_snap snap;
    uint64_t size;
    int fd;

    rot_init(&r, *state, PAPYRA__ROT_MAX_FILES_MAX);
    papyra_test_write_text(r.path, "{}\n");
    assert_int_equal(papyra__rot_snap_take(&r, &snap), 0);
    assert_int_equal(snap.n, PAPYRA__ROT_MAX_FILES_MAX);
    assert_int_equal(papyra__rot_snap_get(&snap, 0, &fd, &size), 1);
    assert_int_equal(size, 3);
    assert_int_equal(papyra__rot_snap_get(&snap, PAPYRA__ROT_MAX_FILES_MAX - 1, &fd, &size), 0);
    papyra__rot_snap_release(&snap);
    rot_free(&r);
}

static void
test_snapshot_should_refuse_a_rotated_fifo_without_blocking(void **state)
{
    papyra__rot r;
    papyra__rot_snap snap;
    uint64_t size;
    char *p;
    int fd;

    rot_init(&r, *state, 3);
    papyra_test_write_text(r.path, "{}\n");
    p = papyra__rot_file(&r, 1);
    assert_int_equal(mkfifo(p, 0600), 0);
    assert_int_equal(papyra__rot_snap_take(&r, &snap), 0);
    assert_int_equal(papyra__rot_snap_get(&snap, 1, &fd, &size), PAPYRA_ENOTREG);
    papyra__rot_snap_release(&snap);
    free(p);
    rot_free(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        IN_TMPDIR(test_open_regular_should_refuse_a_fifo_without_blocking),
        IN_TMPDIR(test_open_regular_should_refuse_directories_devices_and_sockets),
        IN_TMPDIR(test_open_regular_should_open_a_regular_file_blocking),
        IN_TMPDIR(test_mode_like_should_take_the_data_files_bits_or_the_default),
        IN_TMPDIR(test_follow_links_should_resolve_a_relative_chain_to_its_target),
        IN_TMPDIR(test_snapshot_should_refuse_a_set_beyond_the_bound_without_touching_fds),
        IN_TMPDIR(test_snapshot_should_take_the_largest_set_allowed),
        IN_TMPDIR(test_snapshot_should_refuse_a_rotated_fifo_without_blocking),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
