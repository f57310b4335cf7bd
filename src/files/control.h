/* SPDX-License-Identifier: MIT */
/*
 * The control page of a file store: one page of a small hidden file
 * ("<dir>/.<name>.lock" next to the data file) that every process using the
 * store maps MAP_SHARED. It holds one process-shared, robust mutex that every
 * appender holds around its write(2), and that a replacer (recover, compact,
 * a rotation) holds for its whole run; a generation word that a replacer
 * bumps, so that appenders notice a replaced data file with a load instead of
 * a statx; and the data file's size as the appenders left it, so that a torn
 * tail is looked for only when an appender may have left one.
 *
 * Uncontended, locking and unlocking the mutex are compare-and-swaps in user
 * space: no system call. A holder killed with the mutex held makes the next
 * locker get EOWNERDEAD from the kernel (robust futex list), which
 * papyra__control_lock() turns into "the previous holder died": the size is
 * forgotten (the tail must be checked) and the generation bumped (every
 * appender reopens the data file and looks at its tail).
 *
 * A page left by a previous boot (its boot id differs) is initialised again
 * rather than trusted: the mutex in it may be held by a thread that no longer
 * exists. The page is attached under flock(LOCK_EX) of the control file, so
 * two processes attaching at once initialise it once.
 *
 * See docs/decisions.md, "One system call per record".
 */
#ifndef PAPYRA_FILES_CONTROL_H
#define PAPYRA_FILES_CONTROL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* The bytes of the control file: one page. */
#define PAPYRA__CONTROL_SIZE 4096

/* The mapped page. Fields marked "under mu" are read and written only with mu held. */
typedef struct papyra__control_page {
    char magic[8];    /* "PAPYCTL\0" */
    uint32_t version; /* PAPYRA__CONTROL_VERSION */
    uint32_t abi;     /* sizeof(pthread_mutex_t) and sizeof(void *): one layout per file */
    char boot_id[48]; /* /proc/sys/kernel/random/boot_id of the boot that made it */
    _Atomic uint64_t generation; /* bumped by whoever replaces or rotates the data file */
    uint64_t size;               /* under mu: the data file's size, when size_known */
    uint32_t size_known;         /* under mu: 0 when the tail must be checked */
    uint32_t reserved;
    /* Under mu: the data (active) file last opened by an appender; 0 when not known. */
    uint64_t file_dev, file_ino;
    _Alignas(64) pthread_mutex_t mu; /* robust, process-shared */
} papyra__control_page;

/* A process's attachment to a control page. */
typedef struct papyra__control {
    papyra__control_page *page; /* NULL while not attached */
    int fd;                     /* the control file (-1 when it is another's, or none) */
    bool own_fd;                /* close fd on detach */
} papyra__control;

/* A detached control (no page, no descriptor). */
void papyra__control_init(papyra__control *c);

/*
 * Maps the control page of the open, read-write control file @p fd
 * (extending it to a page and initialising the page when it is new, foreign
 * or from a previous boot), under flock(LOCK_EX) of @p fd, which is dropped
 * before returning (so the caller must not hold a flock of @p fd). The
 * descriptor stays the caller's. 0, or an error: PAPYRA_EVERSION for a page
 * of another layout version or ABI made in this boot (a process of another
 * release or architecture uses the store).
 */
int papyra__control_map(papyra__control *c, int fd);

/*
 * Opens (with @p create: creating it with @p mode, less the umask) and maps
 * the control file @p path. 0; 1 when it does not exist and is not
 * created; or an error (errno tells more for an open that failed).
 */
int papyra__control_attach(papyra__control *c, const char *path, mode_t mode, bool create);

/* Unmaps the page and closes an own descriptor; a detached control is fine. */
void papyra__control_detach(papyra__control *c);

/*
 * Locks the page's mutex. 0; 1 when its previous holder died holding it
 * (then the size is unknown and the generation was bumped, and the mutex is
 * consistent again); or an error.
 */
int papyra__control_lock(const papyra__control *c);
void papyra__control_unlock(const papyra__control *c);

/* The generation (an acquire load; appenders compare it under the mutex). */
static inline uint64_t
papyra__control_generation(const papyra__control *c)
{
    return atomic_load_explicit(&c->page->generation, memory_order_acquire);
}

/*
 * With the mutex held: the data file was replaced, rotated or may have
 * changed under another writer; every appender reopens it and checks its
 * tail. Returns the new generation.
 */
uint64_t papyra__control_bump(const papyra__control *c);

/*
 * With the mutex held, after an appender opened the data (active) file as
 * @p fd: when the page names another file under the path (the file was
 * deleted or moved away and made again by something that does not bump the
 * generation), bumps the generation, so that appenders still holding the
 * old one reopen the path, and gives it in *gen; then records @p fd's file.
 * One statx of @p fd. 0 or an error.
 */
int papyra__control_note_file(const papyra__control *c, int fd, uint64_t *gen);

/*
 * With the mutex held: the data file was replaced or rotated by the
 * holder, which bumps the generation itself; the next opener records the
 * new file without a second bump.
 */
void papyra__control_forget_file(const papyra__control *c);

#endif /* PAPYRA_FILES_CONTROL_H */
