/* SPDX-License-Identifier: MIT */
/*
 * The control page of the file stores (src/files/control.c): the robust
 * mutex that appenders hold around their write(2) and replacers for their
 * whole run, in several processes at once.
 *
 *   - a writer killed (SIGKILL) while it holds the mutex, in the middle of
 *     its append, never blocks the others, and its torn line is terminated
 *     before the next record, also by a handle that kept its descriptor;
 *   - writers killed in a loop, wherever they are, never hold up another;
 *   - a page left by a previous boot (another boot id) is initialised
 *     again, not trusted: its mutex may be held by a thread that is gone;
 *   - a data file deleted under a writer that keeps it open: once another
 *     handle has made it again, that writer follows;
 *   - writers in three processes and a fourth that compacts and recovers in
 *     a loop: nothing lost, nothing duplicated.
 *
 * Each for json: and rotating:. A wait that would hang is cut by alarm(),
 * which fails the test. tests/test_syscalls.py counts the system calls.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <papyra/papyra.h>

#include "files/control.h"
#include "store-testutil.h"
#include "testutil.h"

/* Seconds any step may take before the test counts it as a hang. */
#define HANG_S 60

/* One store under test: its URL, data file and control file. */
typedef struct store_case {
    const char *scheme;
    char url[1200];
    char data[1000];
    char ctl[1024];
} store_case;

static void
case_init(store_case *c, const char *dir, const char *scheme)
{
    c->scheme = scheme;
    if (strcmp(scheme, "json") == 0) {
        snprintf(c->data, sizeof(c->data), "%s/events.jsonl", dir);
        snprintf(c->ctl, sizeof(c->ctl), "%s/.events.jsonl.lock", dir);
        snprintf(c->url, sizeof(c->url), "json:%s?metrics=none", c->data);
    } else {
        snprintf(c->data, sizeof(c->data), "%s/rot.log", dir);
        snprintf(c->ctl, sizeof(c->ctl), "%s/.rot.log.lock", dir);
        /* Rotates every 130 records or so, keeps every file. */
        snprintf(c->url, sizeof(c->url), "rotating:%s?max_bytes=20000&max_files=1000&metrics=none",
                 c->data);
    }
}

static papyra_store *
case_open(const store_case *c)
{
    return st_open("%s", c->url);
}

static void
on_alarm(int sig)
{
    static const char msg[] = "test-control: a lock was not given up (hang)\n";

    (void)sig;
    (void)!write(2, msg, sizeof(msg) - 1);
    _exit(99);
}

static void
arm_alarm(void)
{
    signal(SIGALRM, on_alarm);
    alarm(HANG_S);
}

/*
 * Forks a child that opens the store, writes event @p n (so that it has
 * the page attached as a writer does), then takes the control mutex itself,
 * appends @p torn (unless NULL) as a writer killed in the middle of its
 * write(2) would have, tells the parent, and waits to be killed. Returns the
 * child's pid once it holds the mutex.
 */
static pid_t
holder_child(const store_case *c, int n, const char *torn)
{
    int p[2];
    char ok;
    pid_t pid;

    assert_int_equal(pipe(p), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        papyra_store *s = NULL;
        papyra__control ctl;
        papyra_record ev = st_event(n, n);
        int fd;

        close(p[0]);
        /* Never outlives a test that failed (or was cut by alarm()) while it waits. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() == 1)
            _exit(5);
        papyra__control_init(&ctl);
        if (papyra_store_open(&s, c->url, NULL) != 0 || papyra_store_write(s, &ev) != 0)
            _exit(2);
        if (papyra__control_attach(&ctl, c->ctl, 0644, false) != 0 ||
            papyra__control_lock(&ctl) < 0)
            _exit(3);
        if (torn) {
            fd = open(c->data, O_WRONLY | O_APPEND);
            if (fd < 0 || write(fd, torn, strlen(torn)) != (ssize_t)strlen(torn))
                _exit(4);
        }
        (void)!write(p[1], "k", 1);
        for (;;)
            pause();
    }
    close(p[1]);
    assert_int_equal(read(p[0], &ok, 1), 1);
    close(p[0]);
    return pid;
}

static void
kill_child(pid_t pid)
{
    int st;

    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

/*
 * kill -9 of a writer in the middle of its append, holding the mutex: the
 * next append of every process goes on (EOWNERDEAD), terminates the torn
 * line and writes its record on a line of its own; a handle that kept its
 * descriptor and knew the file's size learns it from the mutex.
 */
static void
writer_killed_holding_the_mutex(const char *dir, const char *scheme)
{
    store_case c;
    papyra_store *kept, *fresh;
    pid_t pid;

    case_init(&c, dir, scheme);
    kept = case_open(&c);
    st_write_event(kept, 0, 0);
    pid = holder_child(&c, 1, "{\"kind\": \"event\", \"sys");
    kill_child(pid);
    arm_alarm();
    st_write_event(kept, 2, 2);
    fresh = case_open(&c);
    st_write_event(fresh, 3, 3);
    st_write_event(kept, 4, 4);
    alarm(0);
    /* Events 0 to 4, each on its own line; the torn line is one corrupt line. */
    st_assert_event_stamps(fresh, 5, 0);
    st_assert_anomaly(fresh, PAPYRA_ANOMALY_CORRUPTED_LINE, NULL);
    papyra_store_close(fresh);
    papyra_store_close(kept);
}

static void
test_writer_killed_holding_the_mutex_json(void **state)
{
    writer_killed_holding_the_mutex(*state, "json");
}

static void
test_writer_killed_holding_the_mutex_rotating(void **state)
{
    writer_killed_holding_the_mutex(*state, "rotating");
}

/*
 * A page whose boot id is another boot's: its mutex may be held by a thread
 * of that boot (here: a live child holds it, as a thread that existed before
 * a reboot would seem to). The next attach initialises the page again, so
 * the write does not wait for a holder that will never let go.
 */
static void
page_of_a_previous_boot(const char *dir, const char *scheme)
{
    static const char other[48] = "00000000-0000-4000-8000-000000000000";
    store_case c;
    papyra_store *s;
    papyra__control ctl;
    char boot[48] = {0};
    pid_t pid;
    int fd;

    case_init(&c, dir, scheme);
    s = case_open(&c);
    st_write_event(s, 0, 0);
    papyra_store_close(s);
    pid = holder_child(&c, 1, NULL);
    fd = open(c.ctl, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, boot, sizeof(boot), offsetof(papyra__control_page, boot_id)),
                     (ssize_t)sizeof(boot));
    assert_true(boot[0] != '\0');
    assert_int_equal(pwrite(fd, other, sizeof(other), offsetof(papyra__control_page, boot_id)),
                     (ssize_t)sizeof(other));
    arm_alarm();
    s = case_open(&c);
    st_write_event(s, 2, 2);
    alarm(0);
    st_assert_event_stamps(s, 3, 0);
    papyra_store_close(s);
    kill_child(pid);
    /* The page is this boot's again, and works. */
    {
        char now[48] = {0};
        assert_int_equal(pread(fd, now, sizeof(now), offsetof(papyra__control_page, boot_id)),
                         (ssize_t)sizeof(now));
        assert_memory_equal(now, boot, sizeof(now));
    }
    close(fd);
    papyra__control_init(&ctl);
    assert_int_equal(papyra__control_attach(&ctl, c.ctl, 0644, false), 0);
    arm_alarm();
    assert_int_equal(papyra__control_lock(&ctl), 0);
    papyra__control_unlock(&ctl);
    alarm(0);
    papyra__control_detach(&ctl);
}

static void
test_page_of_a_previous_boot_json(void **state)
{
    page_of_a_previous_boot(*state, "json");
}

static void
test_page_of_a_previous_boot_rotating(void **state)
{
    page_of_a_previous_boot(*state, "rotating");
}

/*
 * Writers killed in a loop at whatever point they have reached (inside their
 * write(2), holding the mutex, or not): after each kill, a handle that keeps
 * its descriptor appends at once, without waiting for the dead, and every
 * one of its records is there, whole, at the end.
 */
static void
writers_killed_in_a_loop(const char *dir, const char *scheme)
{
    store_case c;
    papyra_store *kept;
    papyra_record_list *l;
    size_t mine = 0;

    case_init(&c, dir, scheme);
    kept = case_open(&c);
    for (int round = 0; round < 20; round++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            papyra_store *s = NULL;
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (papyra_store_open(&s, c.url, NULL) != 0)
                _exit(2);
            for (int i = 0;; i++) {
                papyra_record ev = st_event(1, 100000 + i);
                if (papyra_store_write(s, &ev) != 0)
                    _exit(3);
            }
        }
        /* Each round a little later: the kill lands at many points of the loop. */
        usleep((useconds_t)(500 + round * 300));
        kill_child(pid);
        arm_alarm();
        st_write_event(kept, 0, round);
        alarm(0);
    }
    l = st_list(kept, PAPYRA_KIND_EVENT, -1, 0);
    for (size_t i = 0; i < l->count; i++)
        if (l->records[i].u.event.timestamp < 100000)
            assert_true(l->records[i].u.event.timestamp == (double)mine++);
    assert_int_equal(mine, 20);
    papyra_record_list_free(l);
    papyra_store_close(kept);
}

static void
test_writers_killed_in_a_loop_json(void **state)
{
    writers_killed_in_a_loop(*state, "json");
}

static void
test_writers_killed_in_a_loop_rotating(void **state)
{
    writers_killed_in_a_loop(*state, "rotating");
}

/*
 * A control file that cannot be used (here a directory holds its name)
 * fails the write with a message naming the data file and the control file,
 * and stores nothing; reads still work.
 */
static void
test_unusable_control_file_fails_the_write_json(void **state)
{
    store_case c;
    papyra_store *s;
    papyra_record ev = st_event(1, 1);

    case_init(&c, *state, "json");
    assert_int_equal(mkdir(c.ctl, 0700), 0);
    s = case_open(&c);
    assert_int_equal(papyra_store_write(s, &ev), PAPYRA_ENOTREG);
    assert_non_null(strstr(papyra_store_errmsg(s), c.data));
    assert_non_null(strstr(papyra_store_errmsg(s), c.ctl));
    assert_non_null(strstr(papyra_store_errmsg(s), "not a regular file (a directory)"));
    st_assert_count(s, PAPYRA_KIND_EVENT, 0);
    papyra_store_close(s);
    assert_int_equal(rmdir(c.ctl), 0);
}

/*
 * The data file deleted (or moved away) while a handle keeps it open: once
 * another handle has made the file again, the first one appends to the new
 * file too, not to the deleted one where its records would be lost.
 */
static void
data_file_deleted_under_a_writer(const char *dir, const char *scheme)
{
    store_case c;
    papyra_store *kept, *fresh;

    case_init(&c, dir, scheme);
    kept = case_open(&c);
    st_write_event(kept, 0, 0);
    assert_int_equal(unlink(c.data), 0);
    fresh = case_open(&c);
    st_write_event(fresh, 1, 1);
    st_write_event(kept, 2, 2);
    st_assert_event_stamps(fresh, 2, 1);
    papyra_store_close(fresh);
    papyra_store_close(kept);
}

static void
test_data_file_deleted_under_a_writer_json(void **state)
{
    data_file_deleted_under_a_writer(*state, "json");
}

static void
test_data_file_deleted_under_a_writer_rotating(void **state)
{
    data_file_deleted_under_a_writer(*state, "rotating");
}

#define WRITERS 3
#define PER_WRITER 1500

/*
 * Three processes append one record per call while a fourth compacts and
 * recovers the store in a loop: every record is there exactly once.
 */
static void
writers_and_replacers(const char *dir, const char *scheme)
{
    store_case c;
    pid_t pids[WRITERS + 1];
    papyra_store *s;

    case_init(&c, dir, scheme);
    s = case_open(&c);
    papyra_store_close(s);
    for (int w = 0; w <= WRITERS; w++) {
        pids[w] = fork();
        assert_true(pids[w] >= 0);
        if (pids[w] != 0)
            continue;
        alarm(HANG_S * 4);
        if (papyra_store_open(&s, c.url, NULL) != 0)
            _exit(2);
        int bad = 0;
        if (w < WRITERS) {
            for (int i = 0; i < PER_WRITER && !bad; i++) {
                papyra_record ev = st_event(w, w * PER_WRITER + i);
                bad = papyra_store_write(s, &ev) != 0;
            }
        } else {
            for (int i = 0; i < 20 && !bad; i++) {
                papyra_compaction_report rep;
                papyra_recovery_options o = {.mode = PAPYRA_RECOVER_REPAIR};
                papyra_recovery_report *rr = NULL;
                bad |= papyra_store_compact(s, &rep) != 0;
                bad |= papyra_store_recover(s, &o, &rr) != 0;
                papyra_recovery_report_free(rr);
            }
        }
        bad |= papyra_store_close(s) != 0;
        _exit(bad ? 3 : 0);
    }
    for (int w = 0; w <= WRITERS; w++) {
        int st;
        assert_int_equal(waitpid(pids[w], &st, 0), pids[w]);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            fail_msg("%s: process %d failed (status %#x)", scheme, w, st);
    }
    s = case_open(&c);
    st_assert_each_event_once(s, WRITERS * PER_WRITER);
    papyra_store_close(s);
}

static void
test_writers_and_replacers_json(void **state)
{
    writers_and_replacers(*state, "json");
}

static void
test_writers_and_replacers_rotating(void **state)
{
    writers_and_replacers(*state, "rotating");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) PAPYRA_TEST_IN_TMPDIR(name)
        T(test_writer_killed_holding_the_mutex_json),
        T(test_writer_killed_holding_the_mutex_rotating),
        T(test_writers_killed_in_a_loop_json),
        T(test_writers_killed_in_a_loop_rotating),
        T(test_unusable_control_file_fails_the_write_json),
        T(test_data_file_deleted_under_a_writer_json),
        T(test_data_file_deleted_under_a_writer_rotating),
        T(test_page_of_a_previous_boot_json),
        T(test_page_of_a_previous_boot_rotating),
        T(test_writers_and_replacers_json),
        T(test_writers_and_replacers_rotating),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
