/* SPDX-License-Identifier: MIT */
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

int
papyra__mkdir_parents(const char *path)
{
    char *dir = strdup(path);
    char *p;
    int r = 0;

    if (!dir)
        return PAPYRA_ENOMEM;
    for (p = dir + 1; r == 0 && (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        if (p[-1] != '/' && mkdir(dir, 0777) < 0 && errno != EEXIST)
            r = papyra__errno_code(errno);
        *p = '/';
    }
    free(dir);
    return r;
}

int
papyra__fsync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    int fd, r = 0;

    if (!slash)
        dir = strdup(".");
    else if (slash == path)
        dir = strdup("/");
    else
        dir = strndup(path, (size_t)(slash - path));
    if (!dir)
        return PAPYRA_ENOMEM;
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0)
        return papyra__errno_code(errno);
    if (fsync(fd) < 0)
        r = papyra__errno_code(errno);
    close(fd);
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
