/* SPDX-License-Identifier: MIT */
/*
 * An LD_PRELOAD interposer that makes fdatasync(2) and fsync(2) fail the way
 * a lost write-back does on Linux: the Nth call on a file fails once with
 * EIO, and the calls after it succeed again (the kernel reports the error
 * once, then the pages count as clean), so a retry proves nothing. The
 * library under test is the real one; only these two calls are wrapped.
 *
 * Environment, read at every call:
 *   PAPYRA_FSYNC_FAULT_PATH  calls on a descriptor whose path ends with this
 *                            text are counted, per path; others pass through
 *   PAPYRA_FSYNC_FAULT_NTH   the call of each such path that fails (1-based);
 *                            unset or 0: none fails
 *   PAPYRA_FSYNC_FAULT_HOLD  the first counted call of a path waits until the
 *                            file holds at least this many lines (at most
 *                            10 s) before it syncs, so that writers can pile
 *                            up behind it and one later sync covers them all
 *   PAPYRA_FSYNC_FAULT_DELAY_US  every counted call takes this many
 *                            microseconds longer, as on a slower device (the
 *                            real call is still made), so that how many
 *                            records one sync covers depends on the group
 *                            commit, not on how the threads are scheduled
 *
 * papyra_fsync_fault_injected() tells a test how many calls failed (and
 * that the interposer is loaded at all), papyra_fsync_fault_holding() how
 * many calls wait for PAPYRA_FSYNC_FAULT_HOLD right now,
 * papyra_fsync_fault_calls() how many calls were counted so far (over every
 * path).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_PATHS 64

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char path[512];
    long calls;
} seen[MAX_PATHS];
static int injected, holding, counted;

int papyra_fsync_fault_injected(void);
int papyra_fsync_fault_holding(void);
int papyra_fsync_fault_calls(void);
int fdatasync(int fd);
int fsync(int fd);

/* One of the counts above, read under the lock the interposed calls take. */
static int
locked_read(const int *v)
{
    int n;

    pthread_mutex_lock(&mu);
    n = *v;
    pthread_mutex_unlock(&mu);
    return n;
}

int
papyra_fsync_fault_injected(void)
{
    return locked_read(&injected);
}

int
papyra_fsync_fault_holding(void)
{
    return locked_read(&holding);
}

int
papyra_fsync_fault_calls(void)
{
    return locked_read(&counted);
}

/* The lines of the file open at @p fd (its newlines, read with pread). */
static long
lines_of(int fd)
{
    char buf[65536];
    off_t off = 0;
    ssize_t n;
    long lines = 0;

    while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            lines += buf[i] == '\n';
        off += n;
    }
    return lines;
}

static void
hold(int fd, long want)
{
    struct timespec ms = {0, 1000000};

    pthread_mutex_lock(&mu);
    holding++;
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < 10000 && lines_of(fd) < want; i++)
        nanosleep(&ms, NULL);
    pthread_mutex_lock(&mu);
    holding--;
    pthread_mutex_unlock(&mu);
}

/* 0 to let the call through, -1 (errno EIO) to fail it. */
static int
decide(int fd)
{
    const char *want = getenv("PAPYRA_FSYNC_FAULT_PATH");
    const char *nth = getenv("PAPYRA_FSYNC_FAULT_NTH");
    const char *held = getenv("PAPYRA_FSYNC_FAULT_HOLD");
    const char *delay = getenv("PAPYRA_FSYNC_FAULT_DELAY_US");
    char link[64], path[512];
    long calls = 0;
    ssize_t n;
    int i;

    if (!want || !*want)
        return 0;
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    n = readlink(link, path, sizeof(path) - 1);
    if (n < 0)
        return 0;
    path[n] = '\0';
    if ((size_t)n < strlen(want) || strcmp(path + n - strlen(want), want) != 0)
        return 0;
    pthread_mutex_lock(&mu);
    for (i = 0; i < MAX_PATHS && seen[i].path[0] && strcmp(seen[i].path, path) != 0; i++)
        ;
    if (i < MAX_PATHS) {
        if (!seen[i].path[0])
            snprintf(seen[i].path, sizeof(seen[i].path), "%s", path);
        calls = ++seen[i].calls;
        counted++;
    }
    pthread_mutex_unlock(&mu);
    if (calls == 1 && held)
        hold(fd, atol(held));
    if (calls > 0 && delay && atol(delay) > 0) {
        long us = atol(delay);
        struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
    }
    if (calls > 0 && nth && calls == atol(nth)) {
        pthread_mutex_lock(&mu);
        injected++;
        pthread_mutex_unlock(&mu);
        errno = EIO;
        return -1;
    }
    return 0;
}

/* The next definition of @p name: libc's (POSIX's way to turn dlsym's result into a function). */
static int (*next_fn(const char *name))(int)
{
    int (*fn)(int);

    *(void **)&fn = dlsym(RTLD_NEXT, name);
    return fn;
}

int
fdatasync(int fd)
{
    if (decide(fd) < 0)
        return -1;
    return next_fn("fdatasync")(fd);
}

int
fsync(int fd)
{
    if (decide(fd) < 0)
        return -1;
    return next_fn("fsync")(fd);
}
