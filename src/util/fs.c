/* SPDX-License-Identifier: MIT */
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <papyra/common.h>

int
papyra__errno_code(int err)
{
    switch (err) {
    case 0:
        return 0;
    case ENOENT:
    case ENOTDIR:
        return PAPYRA_ENOENT;
    case EEXIST:
        return PAPYRA_EEXIST;
    case EACCES:
    case EPERM:
    case EROFS:
        return PAPYRA_EACCES;
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
        return PAPYRA_ENOSPC;
    case ENOMEM:
        return PAPYRA_ENOMEM;
    case EINVAL:
        return PAPYRA_EINVAL;
    case EBUSY:
    case EAGAIN:
        return PAPYRA_EBUSY;
    case ETIMEDOUT:
        return PAPYRA_ETIMEDOUT;
    case EISDIR:
        return PAPYRA_ENOTREG;
    default:
        return PAPYRA_EIO;
    }
}

int
papyra__write_all_done(int fd, const void *data, size_t size, size_t *done)
{
    const char *p = data;

    *done = 0;
    while (*done < size) {
        ssize_t n = write(fd, p + *done, size - *done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return papyra__errno_code(errno);
        }
        if (n == 0)
            return PAPYRA_EIO;
        *done += (size_t)n;
    }
    return 0;
}

int
papyra__flock(int fd, int op)
{
    while (flock(fd, op) < 0) {
        if (errno != EINTR)
            return papyra__errno_code(errno);
    }
    return 0;
}

int
papyra__write_all(int fd, const void *data, size_t size)
{
    size_t done;

    return papyra__write_all_done(fd, data, size, &done);
}

void
papyra__take_back_tail(int fd, off_t size, const char *data, size_t n)
{
    char *tail;

    if (n == 0 || size < (off_t)n || !(tail = malloc(n)))
        return;
    if (pread(fd, tail, n, size - (off_t)n) == (ssize_t)n && memcmp(tail, data, n) == 0)
        (void)ftruncate(fd, size - (off_t)n);
    free(tail);
}

/*
 * mkdir of every prefix of @p p[0..n) that ends before a '/' or at n, each
 * once (a run of slashes counts as one). EEXIST is fine; errno tells the cause
 * of a failure.
 */
static int
mkdir_prefixes(char *p, size_t n, mode_t mode)
{
    for (size_t i = 1; i <= n; i++) {
        char c = p[i];

        if ((i < n && c != '/') || p[i - 1] == '/')
            continue;
        p[i] = '\0';
        if (mkdir(p, mode) < 0 && errno != EEXIST)
            return papyra__errno_code(errno);
        p[i] = c;
    }
    return 0;
}

int
papyra__mkdir_p(const char *dir, mode_t mode)
{
    char *p;
    int r, err;

    if (!*dir) {
        errno = ENOENT;
        return PAPYRA_ENOENT;
    }
    if (!(p = strdup(dir))) {
        errno = ENOMEM;
        return PAPYRA_ENOMEM;
    }
    r = mkdir_prefixes(p, strlen(p), mode);
    err = errno;
    free(p);
    errno = err;
    return r;
}

int
papyra__mkdir_parents(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t n;
    char *p;
    int r;

    if (!slash)
        return 0;
    for (n = (size_t)(slash - path); n > 0 && path[n - 1] == '/'; n--)
        ;
    if (n == 0)
        return 0;
    if (!(p = strndup(path, n)))
        return PAPYRA_ENOMEM;
    r = mkdir_prefixes(p, n, 0777);
    free(p);
    return r;
}

int
papyra__fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int r = 0;

    if (fd < 0)
        return papyra__errno_code(errno);
    if (fsync(fd) < 0)
        r = papyra__errno_code(errno);
    close(fd);
    return r;
}

int
papyra__fsync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    int r;

    if (!slash)
        dir = strdup(".");
    else if (slash == path)
        dir = strdup("/");
    else
        dir = strndup(path, (size_t)(slash - path));
    if (!dir)
        return PAPYRA_ENOMEM;
    r = papyra__fsync_dir(dir);
    free(dir);
    return r;
}

int
papyra__asprintf(char **ret, const char *fmt, ...)
{
    va_list ap;
    char *s;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return PAPYRA_EINVAL;
    s = malloc((size_t)n + 1);
    if (!s)
        return PAPYRA_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    *ret = s;
    return 0;
}

int
papyra__temp_path(const char *path, const char *tag, char **ret)
{
    static atomic_uint counter;
    unsigned n = atomic_fetch_add(&counter, 1);

    return papyra__asprintf(ret, "%s.%s.tmp.%ld.%u", path, tag, (long)getpid(), n);
}

int
papyra__quarantine_path(const char *qdir, const char *src, long long ms, char **ret)
{
    const char *base = strrchr(src, '/');
    struct stat st;

    base = base ? base + 1 : src;
    for (int i = 0; i < 1000; i++) {
        char *p = NULL;
        if (papyra__asprintf(&p, "%s/%s.quarantine.%lld", qdir, base, ms + i) < 0)
            return PAPYRA_ENOMEM;
        if (lstat(p, &st) < 0) {
            *ret = p;
            return 0;
        }
        free(p);
    }
    return PAPYRA_EEXIST;
}

int
papyra__copy_fd(int in, const char *dst, mode_t mode)
{
    char buf[65536];
    off_t off = 0;
    ssize_t n;
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    int r = 0;

    if (out < 0)
        return papyra__errno_code(errno);
    while (r == 0 && (n = pread(in, buf, sizeof(buf), off)) != 0) {
        if (n < 0) {
            if (errno != EINTR)
                r = papyra__errno_code(errno);
            continue;
        }
        r = papyra__write_all(out, buf, (size_t)n);
        off += n;
    }
    if (r == 0 && fsync(out) < 0)
        r = papyra__errno_code(errno);
    close(out);
    if (r < 0)
        (void)unlink(dst);
    return r;
}

/* The part of papyra__copy_range() that goes through user space. */
static int
copy_range_rw(int in, off_t off, int out, uint64_t len)
{
    char buf[65536];

    while (len > 0) {
        ssize_t n = pread(in, buf, len < sizeof(buf) ? (size_t)len : sizeof(buf), off);
        int r;

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return papyra__errno_code(errno);
        }
        if (n == 0) {
            errno = EIO;
            return PAPYRA_EIO; /* the file is shorter than it was */
        }
        r = papyra__write_all(out, buf, (size_t)n);
        if (r < 0)
            return r;
        off += n;
        len -= (uint64_t)n;
    }
    return 0;
}

int
papyra__copy_range(int in, off_t off, int out, uint64_t len)
{
#if defined(SYS_copy_file_range)
    while (len > 0) {
        /* At most 1 GiB a call: the kernel copies up to about 2 GiB at once anyway. */
        size_t want = len < ((uint64_t)1 << 30) ? (size_t)len : (size_t)1 << 30;
        loff_t from = off;
        long n = syscall(SYS_copy_file_range, in, &from, out, NULL, want, 0u);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)
                break;
            return papyra__errno_code(errno);
        }
        if (n == 0) {
            errno = EIO;
            return PAPYRA_EIO; /* the file is shorter than it was */
        }
        off += (off_t)n;
        len -= (uint64_t)n;
    }
#endif
    return copy_range_rw(in, off, out, len);
}

int
papyra__write_behind(int fd, off_t off, off_t len)
{
#if defined(SYS_sync_file_range)
    /* SYNC_FILE_RANGE_WRITE (2): start writing, wait neither before nor after. */
    while (syscall(SYS_sync_file_range, fd, (long long)off, (long long)len, 2u) < 0) {
        if (errno == EINTR)
            continue;
        if (errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP)
            return 0;
        return papyra__errno_code(errno);
    }
#else
    (void)fd;
    (void)off;
    (void)len;
#endif
    return 0;
}

int
papyra__open_regular(const char *path, int flags, mode_t mode)
{
    struct stat st;
    int fd = open(path, flags | O_NONBLOCK | O_CLOEXEC, mode);
    int fl;

    if (fd < 0) {
        int err = errno;

        /* What open() says of a socket (ENXIO), a directory opened to write, a device. */
        if ((err == ENXIO || err == EISDIR || err == ENODEV || err == EOPNOTSUPP) &&
            stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
            errno = EINVAL;
            return PAPYRA_ENOTREG;
        }
        errno = err;
        return papyra__errno_code(err);
    }
    if (fstat(fd, &st) < 0) {
        int err = errno;
        close(fd);
        errno = err;
        return papyra__errno_code(err);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        errno = EINVAL;
        return PAPYRA_ENOTREG;
    }
    if (!(flags & O_NONBLOCK) &&
        ((fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)) {
        int err = errno;
        close(fd);
        errno = err;
        return papyra__errno_code(err);
    }
    return fd;
}

const char *
papyra__file_kind(const char *path)
{
    struct stat st;

    if (stat(path, &st) < 0)
        return "missing";
    if (S_ISREG(st.st_mode))
        return "a regular file";
    if (S_ISDIR(st.st_mode))
        return "a directory";
    if (S_ISFIFO(st.st_mode))
        return "a FIFO";
    if (S_ISCHR(st.st_mode))
        return "a character device";
    if (S_ISBLK(st.st_mode))
        return "a block device";
    if (S_ISSOCK(st.st_mode))
        return "a socket";
    return "not a regular file";
}

const char *
papyra__path_strerror(int code, const char *path, char *buf, size_t n)
{
    if (code == PAPYRA_ENOTREG)
        (void)snprintf(buf, n, "not a regular file (%s)", papyra__file_kind(path));
    else
        (void)snprintf(buf, n, "%s", papyra_strerror(code));
    return buf;
}

mode_t
papyra__mode_like(const char *data, mode_t dflt)
{
    struct stat st;

    if (data && stat(data, &st) == 0 && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)))
        return st.st_mode & 0666;
    return dflt;
}

int
papyra__follow_links(const char *path, char **ret)
{
    char *cur = strdup(path);

    for (int hops = 0; cur && hops < 40; hops++) {
        struct stat st;
        const char *slash;
        char *target, *next = NULL;
        ssize_t n;

        if (lstat(cur, &st) < 0 || !S_ISLNK(st.st_mode))
            break;
        /* st_size is the target's length; a link changed meanwhile shows as a full buffer. */
        target = malloc((size_t)st.st_size + 2);
        n = target ? readlink(cur, target, (size_t)st.st_size + 1) : -1;
        if (n < 0 || n > st.st_size) {
            free(target);
            break; /* gone or changed: open() reports what is there */
        }
        target[n] = '\0';
        slash = strrchr(cur, '/');
        if (target[0] == '/' || !slash)
            next = target;
        else if (papyra__asprintf(&next, "%.*s%s", (int)(slash - cur + 1), cur, target) == 0)
            free(target);
        else {
            free(target);
            free(cur);
            return PAPYRA_ENOMEM;
        }
        free(cur);
        cur = next;
    }
    if (!cur)
        return PAPYRA_ENOMEM;
    *ret = cur;
    return 0;
}
