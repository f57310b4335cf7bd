/* SPDX-License-Identifier: MIT */
/*
 * Internals of the rotating-files backend, shared by rotating.c (the
 * operations), rebuild.c (recover and compact) and set.c (file names,
 * locking and the crash-safe replacement of a whole rotation set). Its files
 * are read with the files/ line readers, with Python's universal newlines
 * (PAPYRA__NL_UNIVERSAL).
 *
 * See docs/backend-rotating.md for the file names and the protocols.
 */
#ifndef PAPYRA_ROTATING_H
#define PAPYRA_ROTATING_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <papyra/store.h>

#include "files/control.h"
#include "files/datafile.h"
#include "files/lines.h"
#include "json/json.h"
#include "util/buf.h"

/*
 * The largest max_files: every scan, list, recover and compact looks at each
 * of the max_files names and a snapshot keeps a few bytes per name, so the
 * bound keeps that work and memory trivial (docs/backend-rotating.md).
 */
#define PAPYRA__ROT_MAX_FILES_MAX 10000
/* The largest max_bytes: 1 TiB, far beyond any sensible size of one file. */
#define PAPYRA__ROT_MAX_BYTES_MAX (INT64_C(1) << 40)

typedef struct papyra__rot {
    char *path;        /* the active file, as given */
    char *dir;         /* its directory ("." when the path has no slash) */
    char *prefix;      /* the path up to and including its last slash, or "" */
    char *name;        /* the active file's name */
    char *lock_path;   /* "<dir>/.<name>.lock" */
    char *stage_path;  /* "<dir>/.<name>.rebuild": staging directory of a new set */
    char *commit_path; /* "<stage>/COMMIT": present once a new set is complete */
    char *qdir_path;   /* "<dir>/.<name>.quarantine": recover's default quarantine directory */
    int64_t max_bytes;
    int64_t max_files;
    /* The active file: its descriptor (-1 until the first write) and durability. */
    papyra__datafile file;
    pthread_mutex_t mu; /* serialises this handle's writers around lock_fd */
    int lock_fd;        /* the lock file: flock()ed by rotation, recover, compact and readers */
    /*
     * The control page in the lock file (files/control.h), mapped when
     * lock_fd is opened read-write: its mutex is held around every append,
     * a rotation and a whole recover or compact; ctl_err is why it could not
     * be mapped (0 while nobody tried).
     */
    papyra__control ctl;
    int ctl_err;
    /* Under the control mutex: the generation file.fd was opened in. */
    uint64_t gen;
} papyra__rot;

/*
 * Descriptors of the set's files, opened under the shared lock: a consistent
 * view that later appends, rotations and rebuilds do not disturb (rotated
 * files never change in place, the active file is read only up to its size
 * at that moment, and replacements are new files). The lock is released once
 * the files are open, unless there are more than a descriptor budget allows;
 * then it is kept and the rest are opened as they are read.
 */
typedef struct papyra__rot_snap {
    const papyra__rot *r;
    int64_t n;      /* files 0 (active) .. n-1 */
    int *fd;        /* -1: absent; -2: not opened yet (lock kept) */
    int *err;       /* open error of an unreadable file, else 0 */
    uint64_t *size; /* bytes to read */
    int lock_fd;    /* held while files remain to be opened; -1 otherwise */
} papyra__rot_snap;

/* Takes a snapshot (settling an interrupted rebuild first). */
int papyra__rot_snap_take(const papyra__rot *r, papyra__rot_snap *snap);
/*
 * File @p k of the snapshot: 1 with *fd and *size, 0 when absent, or the
 * error that opening it gave.
 */
int papyra__rot_snap_get(papyra__rot_snap *snap, int64_t k, int *fd, uint64_t *size);
void papyra__rot_snap_release(papyra__rot_snap *snap);

/* "<path>" for index 0, "<path>.<i>" otherwise; malloc'd, NULL on ENOMEM. */
char *papyra__rot_file(const papyra__rot *r, int64_t i);

/* Removes file @p i of the set (see papyra__rot_file); a missing one is no error. */
int papyra__rot_remove(const papyra__rot *r, int64_t i);

/* Opens the lock file, creating it; returns the fd or an error. */
int papyra__rot_lock_open(const papyra__rot *r);
/*
 * Makes the directory (mkdir -p) and opens r->lock_fd unless that is done,
 * mapping its control page (r->ctl; a lock file that only opens read-only
 * leaves it unmapped, r->ctl_err telling why): open tries, and an operation
 * tries again when it could not. 0 or an error.
 */
int papyra__rot_lock_ready(papyra__rot *r);

/*
 * Excludes every appender and reader of every process: the control mutex
 * (when r->ctl is mapped), then flock(LOCK_EX) on @p fd (readers, and
 * appenders of older releases). Always in that order, so that a holder of
 * the mutex can wait for the flock. 0 or an error (then nothing is held).
 */
int papyra__rot_exclusive(const papyra__rot *r, int fd);
/*
 * Ends papyra__rot_exclusive(); @p changed: the set may have changed
 * (every appender reopens the active file and checks its tail).
 */
void papyra__rot_exclusive_end(const papyra__rot *r, int fd, bool changed);

/* Whether a staging directory exists (a rebuild crashed or is committed). */
bool papyra__rot_pending(const papyra__rot *r);
/*
 * With the exclusive lock held: finishes a committed rebuild or discards an
 * uncommitted one, so the set is whole again.
 */
int papyra__rot_settle(const papyra__rot *r);

/* Whether @p path exists (lstat). */
bool papyra__rot_exists(const char *path);

/*
 * Takes a handle's exclusive lock (recover, compact): its mutex for threads,
 * the control mutex for appenders of every process, and an exclusive
 * flock() on its lock descriptor for readers and older releases; settles an
 * interrupted rebuild first. Without a control page it fails (appenders of
 * other processes could not be kept out). Unlocking bumps the generation.
 */
int papyra__rot_writer_lock(papyra__rot *r);
void papyra__rot_writer_unlock(papyra__rot *r);

/*
 * Whether a directory entry next to the active file is part of the store but
 * not of the rotation set: the metrics file and its side files, quarantined
 * copies. Such names are never reported as orphans.
 */
bool papyra__rot_is_own_name(const papyra__rot *r, const char *entry);
/* Whether @p entry is "<name>.<i>" with 1 <= i < max_files. */
bool papyra__rot_is_rotated_name(const papyra__rot *r, const char *entry);
/* Whether @p entry is "<name>.<anything>" that is neither rotated nor our own. */
bool papyra__rot_is_orphan(const papyra__rot *r, const char *entry);

/* Where a greedy packing of lines into chunks of max_bytes has got. */
typedef struct papyra__rot_packing {
    uint64_t chunks; /* chunks started so far */
    uint64_t size;   /* bytes in the last one */
} papyra__rot_packing;

/*
 * A new rotation set being built in the staging directory: the caller plans
 * the lines (papyra__rot_stage_plan for each output line, in order), then
 * calls papyra__rot_stage_begin and writes the same lines again with
 * papyra__rot_stage_add, and finally papyra__rot_stage_commit, which replaces
 * the live set crash-safely.
 */
typedef struct papyra__rot_stage {
    const papyra__rot *r;
    papyra__rot_packing plan;   /* of every line, by papyra__rot_stage_plan */
    papyra__rot_packing replay; /* of the lines written so far: the last is this line's chunk */
    uint64_t files;             /* files of the new set (<= max_files) */
    int64_t cur_slot;           /* slot (0 = oldest) of the open file, -1 none */
    int fd;
    mode_t mode; /* creation mode of the staged files */
    papyra_buf out;
    long crash_at; /* PAPYRA_TEST_CRASH_AT, 0 when unset */
    long steps;
} papyra__rot_stage;

void papyra__rot_stage_init(papyra__rot_stage *st, const papyra__rot *r);
void papyra__rot_stage_plan(papyra__rot_stage *st, size_t bytes);
/* @p min_files: 1 to always create an active file, 0 to allow an empty set. */
int papyra__rot_stage_begin(papyra__rot_stage *st, uint64_t min_files);
int papyra__rot_stage_add(papyra__rot_stage *st, const char *line, size_t len);
int papyra__rot_stage_commit(papyra__rot_stage *st);
/* Discards an uncommitted stage (after an error). */
void papyra__rot_stage_abort(papyra__rot_stage *st);
/* A crash point of the test hook; counts steps. */
void papyra__rot_stage_step(papyra__rot_stage *st);

/*
 * Sets "rotating: WHAT 'PATH': REASON" on @p s and returns @p e; for
 * PAPYRA_ENOTREG the reason names what PATH is ("not a regular file (a FIFO)").
 */
int papyra__rot_error(papyra_store *s, int e, const char *what, const char *path);
/* PAPYRA_ENOTREG with the message "rotating: PATH: not a regular file (a FIFO)" on @p s. */
int papyra__rot_not_regular(papyra_store *s, const char *path);
/*
 * PAPYRA_ENOTREG naming the first of the lock file, the COMMIT file and the
 * set's files that is there but not a regular file.
 */
int papyra__rot_not_regular_in_set(papyra_store *s, const papyra__rot *r);

/* The repair and compact operations (rebuild.c). */
int papyra__rot_repair(papyra_store *s,
                       const papyra_recovery_options *opts,
                       const papyra_scan_report *found,
                       papyra_recovery_report *report);
int papyra__rot_compact(papyra_store *s,
                        papyra_compaction_report *ret,
                        uint64_t *anomalies,
                        uint64_t *removed);

#endif /* PAPYRA_ROTATING_H */
