/* SPDX-License-Identifier: MIT */
/*
 * The append core of the file backends (json:, rotating:): one data file
 * appended to with O_APPEND, one write(2) per batch, a refused batch taken
 * back, the fsync policies, group commit, and the durability state that
 * makes a failed fsync stick.
 *
 * What stays in a backend is what differs: which file is the data file (one
 * file, or the active file of a rotation set), how appenders of several
 * threads and processes lock it, rotation, and naming. The backend owns the
 * locking; this layer owns the descriptor's durability.
 *
 * Durability errors are sticky ("fsyncgate"): when an fdatasync of the data
 * file fails, Linux reports the lost write-back once and then marks the
 * pages clean, so a retried fdatasync returns 0 and proves nothing. So every
 * writer whose records the failed sync covered gets its error, and the
 * handle is poisoned: every later write and sync fails with PAPYRA_EIO
 * ("an earlier fsync of FILE failed; ...") until the store is reopened, or a
 * recover or compact has rewritten the data into a new, fsynced file.
 */
#ifndef PAPYRA_FILES_DATAFILE_H
#define PAPYRA_FILES_DATAFILE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/backend.h"
#include "util/buf.h"

/* The "fsync" parameter: one meaning each, the same for every file backend. */
typedef enum papyra__fsync {
    /* No sync: the kernel writes back when it likes. */
    PAPYRA__FSYNC_NEVER,
    /* A write returns once an fdatasync that covers it has succeeded (group commit). */
    PAPYRA__FSYNC_ALWAYS,
    /* A background flusher syncs what was written, at most once a second; close syncs the rest. */
    PAPYRA__FSYNC_EVERYSEC,
} papyra__fsync;

/* Reads the "fsync" parameter (never when absent); PAPYRA_EINVAL naming it when malformed. */
int papyra__fsync_param(papyra_store *s, const papyra__url *url, papyra__fsync *mode);

/*
 * A data file and its durability state (embedded in a backend's state).
 *
 * fd is the O_APPEND descriptor, -1 while none is open. The backend reads it
 * freely under its own lock and changes it only with
 * papyra__datafile_set_fd() under that lock; a sync in flight (group commit,
 * the flusher) works on the same descriptor, and set_fd waits for it.
 *
 * Appends are numbered as they are registered (under the backend's lock,
 * right after the write, so that a rotation's flush covers them), and a
 * sync covers every append registered before it started. Registering is
 * two atomic operations and takes no lock, so fsync=never and everysec
 * cost the write path nothing more.
 *
 * Group commit (fsync=always): the writers wait for a sync that covers
 * their append; one of them at a time leads, and syncs for all. A leader
 * first gathers: when more writers were waiting at the end of the sync
 * before than appends are pending now, it waits (at most half as long as
 * that sync took, and at most 1 ms) until the writers that sync released
 * have registered their next append, and the writer that completes the
 * group syncs at once; so each sync covers the records of every writer
 * instead of half of them (the other half would be writing behind it).
 */
typedef struct papyra__datafile {
    char *path; /* for messages: the data file as the URL names it */
    papyra__fsync fsync;
    mode_t mode; /* of a file the first append creates (less the umask) */
    int fd;

    /* Appends registered, and an offset at or below the end of the last one: lock-free. */
    atomic_uint_fast64_t written;
    atomic_int_fast64_t written_end;
    /* Of those, the ones covered by a sync that succeeded (written under mu). */
    atomic_uint_fast64_t synced;
    atomic_uint waiting;  /* writers waiting for their sync (fsync=always) */
    atomic_uint epoch;    /* counts the ends of syncs: waiters sleep on it (a futex) */
    atomic_uint sleepers; /* threads asleep on epoch */

    pthread_mutex_t mu;  /* guards the fields below, and changes of fd */
    pthread_cond_t cv;   /* the end of a sync, for set_fd and rewritten */
    int64_t durable_end; /* the data file is on disk up to here */
    bool syncing;        /* a sync of fd is in flight: fd stays */
    bool leading;        /* a thread gathers for a sync, or syncs: nobody else starts one */
    bool gathering;      /* the leader waits for the appends of the writers that come back */
    unsigned expect;     /* writers that waited at the end of the last sync */
    unsigned flushing;   /* papyra__datafile_flush() callers waiting: no gathering */
    int64_t sync_ns;     /* how long the last sync took */
    /* Sticky: the error of the failed sync, and the appends it covered. */
    int failed;
    uint64_t failed_upto;
    int64_t failed_off;   /* records from this offset on may not be durable */
    atomic_bool poisoned; /* failed != 0, for the write path's check */

    /* The encode buffer a write reuses while no other write has it. */
    papyra_buf spare;
    atomic_bool spare_busy;

    /* fsync=everysec: the flusher thread. */
    pthread_t flusher;
    bool flusher_running;
    bool stop;
    pthread_cond_t tick; /* CLOCK_MONOTONIC */
} papyra__datafile;

/*
 * Starts an empty data file state for @p path (copied); files the first
 * append creates get @p mode. Starts the flusher for fsync=everysec.
 * 0 or an error with the message set on @p s.
 */
int papyra__datafile_init(
    papyra_store *s, papyra__datafile *df, const char *path, papyra__fsync fsync, mode_t mode);

/*
 * Stops the flusher, syncs what is not known durable (fsync always and
 * everysec), closes fd and frees the state. 0, or the sync's error, or the
 * sticky error of a poisoned file, with the message set on @p s.
 */
int papyra__datafile_close(papyra_store *s, papyra__datafile *df);

/*
 * Opens the data file to append: O_RDWR | O_APPEND | O_CLOEXEC, with
 * @p create also O_CREAT, creating missing parent directories (mkdir -p,
 * papyra__files_mkdir_p's mode) at ENOENT. The descriptor (not installed)
 * and in *size the file's size, or an error: without @p create, a missing
 * file is PAPYRA_ENOENT with errno ENOENT (errno tells it from ENOTDIR).
 */
int papyra__datafile_open(papyra__datafile *df, bool create, int64_t *size);

/*
 * With a sync policy, fsyncs the directory of the data file, so that the
 * name of a file just created (or renamed into place) is as durable as the
 * records in it; with fsync=never nothing. 0 or an error.
 */
int papyra__datafile_sync_dir(papyra__datafile *df);

/*
 * Makes @p fd (or -1) the data file, @p size bytes long, and closes the one
 * before, once no sync is in flight on it. Appends to the one before that
 * are not known durable stay pending: call papyra__datafile_flush() first
 * when they would be lost (rotation), or papyra__datafile_rewritten() when a
 * rewrite made them durable elsewhere.
 */
void papyra__datafile_set_fd(papyra__datafile *df, int fd, int64_t size);

/*
 * How a backend locks its data file around an append: the part of the
 * write path that differs between one file and a rotation set.
 */
typedef struct papyra__appender {
    /*
     * Takes the backend's lock for appending @p len bytes and makes fd the
     * file to append to (opening, reopening, rotating, terminating a torn
     * tail as it must); *size: the file's size then, at or below where the
     * append will start. 0, or an error with the message set on @p s (then
     * nothing is held).
     */
    int (*lock)(papyra_store *s, void *ctx, size_t len, int64_t *size);
    /*
     * With the lock held, for the take-back of a refused append: makes the
     * caller the only appender of every process. 0 or an error.
     */
    int (*exclusive)(void *ctx);
    /* Ends exclusive (called after it, whether it succeeded or not); may be NULL. */
    void (*release)(void *ctx);
    /* Drops the lock; @p len bytes were appended, or none when @p failed. */
    void (*unlock)(void *ctx, size_t len, bool failed);
} papyra__appender;

/*
 * A write call of a file backend, the one append path of json: and
 * rotating:. Refuses at once when the file is poisoned (the sticky error);
 * encodes @p n records in @p style (papyra__record_encode, each followed by
 * "\n") into the buffer the state keeps; takes the backend's lock; appends
 * the batch with one write(2) (short writes continued); takes back a batch
 * the file system refuses part-way (with the appender's exclusive: the bytes
 * written are truncated if the file still ends with them, else another
 * append followed and the torn line stays for the next append to
 * terminate); registers the append (so a rotation's or the flusher's sync
 * covers it); drops the lock; and then applies the fsync policy: with
 * fsync=always it waits until a sync that covers the append has succeeded
 * (group commit: one thread syncs for every append registered before its
 * sync started, the others wait; see papyra__datafile). 0, or an error
 * with the message set on @p s: a record that cannot be serialised, the
 * lock's error, the write's, the error of the failed sync that covered this
 * append, or the sticky one.
 */
int papyra__datafile_write(papyra_store *s,
                           papyra__datafile *df,
                           const papyra_record *records,
                           size_t n,
                           int style,
                           const papyra__appender *ap,
                           void *ctx);

/*
 * Syncs every registered append not known durable (before a rotation
 * closes the file, before a reopen drops it): 0 or the sync's error, which
 * poisons the file like any failed sync. No message is set.
 */
int papyra__datafile_flush(papyra__datafile *df);

/*
 * Whether the file is poisoned; when it is, the sticky error with the
 * message set on @p s. Call it before an append, and after an error that
 * may have come from a flush.
 */
int papyra__datafile_check(papyra_store *s, papyra__datafile *df);

/* Whether a failed sync poisoned the file (recover must rewrite the data). */
bool papyra__datafile_poisoned(papyra__datafile *df);

/*
 * A recover or compact rewrote the data into a new file of @p size bytes,
 * fsynced with its directory: every append is durable and the poison gone.
 */
void papyra__datafile_rewritten(papyra__datafile *df, int64_t size);

/* The identity, link count and size of a file. */
typedef struct papyra__file_id {
    uint64_t dev, ino, nlink, size;
} papyra__file_id;

/*
 * Of @p path when @p fd is -1 (following symbolic links, as open() does),
 * else of @p fd: one statx asking for only these, which is much cheaper
 * than fstat on a file that is being appended to (fstat costs about as much
 * as the write itself); stat/fstat on kernels without statx. 0 or an error.
 */
int papyra__files_id(const char *path, int fd, papyra__file_id *id);

/* mkdir -p with the file backends' one mode rule: 0777 less the umask. */
int papyra__files_mkdir_p(const char *dir);

/*
 * Makes a finished temporary file the file @p dst durably: fsyncs @p fd
 * (the temporary file, which the caller closes), renames @p tmp over
 * @p dst, fsyncs the directory of @p dst. 0 or an error; *renamed tells
 * whether @p dst is the new file (then only the directory's fsync failed).
 */
int papyra__files_install(int fd, const char *tmp, const char *dst, bool *renamed);

/*
 * Quarantine: a durable copy of the open file @p fd, named after @p path,
 * at a free "<qdir>/<name>.quarantine.<ms>" (qdir is made when missing),
 * the copy and its directory fsynced; *ret: its path. 0 or an error.
 */
int papyra__files_quarantine_copy(
    int fd, const char *path, const char *qdir, long long ms, mode_t mode, char **ret);

/*
 * Quarantine by moving @p path there instead (rename; across file systems
 * copy and delete), durably. 0 or an error.
 */
int papyra__files_quarantine_move(const char *path, const char *qdir, long long ms, char **ret);

#endif /* PAPYRA_FILES_DATAFILE_H */
