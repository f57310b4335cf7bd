/* SPDX-License-Identifier: MIT */
/*
 * The control page of a file store: see control.h.
 */
#include "files/control.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <papyra/common.h>

#include "files/datafile.h"
#include "util/fs.h"

#define PAPYRA__CONTROL_VERSION 1u
#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"

_Static_assert(sizeof(papyra__control_page) <= PAPYRA__CONTROL_SIZE, "the page holds the header");

static const char magic[8] = "PAPYCTL";

/* One layout per file: a 32-bit and a 64-bit process cannot share one mutex. */
static uint32_t
abi_tag(void)
{
    return (uint32_t)sizeof(pthread_mutex_t) << 8 | (uint32_t)sizeof(void *);
}

/*
 * This boot's id, NUL padded; all zero where /proc does not tell (then a
 * page of a previous boot cannot be told from this boot's: see decisions.md).
 */
static void
boot_id(char out[48])
{
    ssize_t n;
    int fd;

    memset(out, 0, 48);
    fd = open(BOOT_ID_PATH, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    do
        n = read(fd, out, 47);
    while (n < 0 && errno == EINTR);
    close(fd);
    if (n <= 0) {
        memset(out, 0, 48);
        return;
    }
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\0'))
        out[--n] = '\0';
}

/* A fresh page: a robust, process-shared mutex nobody holds, the size unknown. */
static int
page_init(papyra__control_page *p, const char *boot)
{
    pthread_mutexattr_t a;
    int r;

    memset(p, 0, sizeof(*p));
    r = pthread_mutexattr_init(&a);
    if (r == 0)
        r = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    if (r == 0)
        r = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    if (r == 0)
        r = pthread_mutex_init(&p->mu, &a);
    pthread_mutexattr_destroy(&a);
    if (r != 0)
        return papyra__errno_code(r);
    memcpy(p->boot_id, boot, sizeof(p->boot_id));
    p->version = PAPYRA__CONTROL_VERSION;
    p->abi = abi_tag();
    /* The magic last: a page without it is initialised again by the next attach. */
    memcpy(p->magic, magic, sizeof(magic));
    return 0;
}

void
papyra__control_init(papyra__control *c)
{
    c->page = NULL;
    c->fd = -1;
    c->own_fd = false;
}

int
papyra__control_map(papyra__control *c, int fd)
{
    papyra__control_page *p;
    char boot[48];
    struct stat st;
    void *m;
    int r;

    /* A read-only descriptor (a reader's lock file) cannot share the mutex. */
    r = fcntl(fd, F_GETFL);
    if (r < 0)
        return papyra__errno_code(errno);
    if ((r & O_ACCMODE) != O_RDWR)
        return PAPYRA_EACCES;
    boot_id(boot);
    r = papyra__flock(fd, LOCK_EX);
    if (r < 0)
        return r;
    if (fstat(fd, &st) < 0) {
        r = papyra__errno_code(errno);
        goto out;
    }
    if (st.st_size < PAPYRA__CONTROL_SIZE && ftruncate(fd, PAPYRA__CONTROL_SIZE) < 0) {
        r = papyra__errno_code(errno);
        goto out;
    }
    m = mmap(NULL, PAPYRA__CONTROL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
        r = papyra__errno_code(errno);
        goto out;
    }
    p = m;
    if (memcmp(p->magic, magic, sizeof(magic)) != 0 ||
        memcmp(p->boot_id, boot, sizeof(p->boot_id)) != 0) {
        /* New, not ours, or left by a previous boot: nobody of this boot uses it. */
        r = page_init(p, boot);
    } else if (p->version != PAPYRA__CONTROL_VERSION || p->abi != abi_tag()) {
        /* A live process of another release or architecture may hold this mutex. */
        r = PAPYRA_EVERSION;
    }
    if (r < 0) {
        munmap(m, PAPYRA__CONTROL_SIZE);
        goto out;
    }
    c->page = p;
out:
    (void)papyra__flock(fd, LOCK_UN);
    return r;
}

int
papyra__control_attach(papyra__control *c, const char *path, mode_t mode, bool create)
{
    int fd = papyra__open_regular(path, O_RDWR | (create ? O_CREAT : 0), mode), r, e;

    if (fd < 0)
        return fd == PAPYRA_ENOENT && errno == ENOENT && !create ? 1 : fd;
    r = papyra__control_map(c, fd);
    if (r < 0) {
        e = errno;
        close(fd);
        errno = e;
        return r;
    }
    c->fd = fd;
    c->own_fd = true;
    return 0;
}

void
papyra__control_detach(papyra__control *c)
{
    if (c->page)
        munmap(c->page, PAPYRA__CONTROL_SIZE);
    if (c->own_fd && c->fd >= 0)
        close(c->fd);
    papyra__control_init(c);
}

int
papyra__control_lock(const papyra__control *c)
{
    int r = pthread_mutex_lock(&c->page->mu);

    if (r == EOWNERDEAD) {
        /* Its write may have stopped half-way, or its rewrite before the bump. */
        c->page->size_known = 0;
        (void)papyra__control_bump(c);
        pthread_mutex_consistent(&c->page->mu);
        return 1;
    }
    return r == 0 ? 0 : papyra__errno_code(r);
}

void
papyra__control_unlock(const papyra__control *c)
{
    pthread_mutex_unlock(&c->page->mu);
}

uint64_t
papyra__control_bump(const papyra__control *c)
{
    return atomic_fetch_add_explicit(&c->page->generation, 1, memory_order_acq_rel) + 1;
}

int
papyra__control_note_file(const papyra__control *c, int fd, uint64_t *gen)
{
    papyra__control_page *p = c->page;
    papyra__file_id id;
    int r = papyra__files_id(NULL, fd, &id);

    if (r < 0)
        return r;
    if (p->file_ino != 0 && (p->file_ino != id.ino || p->file_dev != id.dev))
        *gen = papyra__control_bump(c);
    p->file_dev = id.dev;
    p->file_ino = id.ino;
    return 0;
}

void
papyra__control_forget_file(const papyra__control *c)
{
    c->page->file_dev = 0;
    c->page->file_ino = 0;
}
