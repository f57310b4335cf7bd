/* SPDX-License-Identifier: MIT */
/*
 * The rotating backend's file-set machinery: names, locking, and the
 * staged, crash-safe replacement of a whole rotation set used by compaction
 * and recovery.
 *
 * Replacement protocol (docs/backend-rotating.md has the full story): the new
 * set is written into the hidden directory "<dir>/.<name>.rebuild" as files
 * named by their index ("0" is the active file), each fsynced, then the
 * directory is fsynced. Renaming "COMMIT.tmp" to "COMMIT" inside it is the
 * commit point. Rolling forward renames every staged file over its live name,
 * deletes live files the new set does not have, and removes the staging
 * directory. Whoever takes the exclusive lock next (open, write, list, scan,
 * recover, compact) first finishes a committed set or discards an
 * uncommitted one, so a crash at any point leaves the old or the new set.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <papyra/common.h>

#include "backends/rotating/rotating.h"
#include "util/fs.h"

#define STAGE_FLUSH 65536

char *
papyra__rot_file(const papyra__rot *r, int64_t i)
{
    char *p = NULL;

    if (i == 0)
        return strdup(r->path);
    if (papyra__asprintf(&p, "%s.%" PRId64, r->path, i) < 0)
        return NULL;
    return p;
}

int
papyra__rot_remove(const papyra__rot *r, int64_t i)
{
    char *p = papyra__rot_file(r, i);
    int e = 0;

    if (!p)
        return PAPYRA_ENOMEM;
    if (unlink(p) < 0 && errno != ENOENT)
        e = papyra__errno_code(errno);
    free(p);
    return e;
}

int
papyra__rot_lock_open(const papyra__rot *r)
{
    /* A new lock file is no more permissive than the active file (or its default). */
    int fd = papyra__open_regular(r->lock_path, O_RDWR | O_CREAT,
                                  papyra__mode_like(r->path, r->file.mode));

    /* flock() works on a read-only descriptor too: readers of a read-only directory. */
    if (fd == PAPYRA_EACCES && (errno == EACCES || errno == EROFS))
        fd = papyra__open_regular(r->lock_path, O_RDONLY, 0);
    return fd;
}

int
papyra__rot_lock_ready(papyra__rot *r)
{
    int fd, e;

    if (r->lock_fd >= 0)
        return 0;
    e = papyra__files_mkdir_p(r->dir);
    if (e < 0)
        return e;
    fd = papyra__rot_lock_open(r);
    if (fd < 0)
        return fd;
    r->lock_fd = fd;
    /* The control page; a read-only lock file still serves readers (flock). */
    r->ctl_err = papyra__control_map(&r->ctl, fd);
    if (r->ctl_err == 0)
        r->ctl.fd = fd;
    return 0;
}

int
papyra__rot_exclusive(const papyra__rot *r, int fd)
{
    int e = r->ctl.page ? papyra__control_lock(&r->ctl) : 0;

    if (e < 0)
        return e;
    e = papyra__flock(fd, LOCK_EX);
    if (e < 0 && r->ctl.page)
        papyra__control_unlock(&r->ctl);
    return e < 0 ? e : 0;
}

void
papyra__rot_exclusive_end(const papyra__rot *r, int fd, bool changed)
{
    (void)papyra__flock(fd, LOCK_UN);
    if (!r->ctl.page)
        return;
    if (changed) {
        r->ctl.page->size_known = 0;
        papyra__control_forget_file(&r->ctl);
        (void)papyra__control_bump(&r->ctl);
    }
    papyra__control_unlock(&r->ctl);
}

/* The text after "<name>." in @p entry, or NULL when it does not start so. */
static const char *
set_suffix(const papyra__rot *r, const char *entry)
{
    size_t n = strlen(r->name);

    if (strncmp(entry, r->name, n) != 0 || entry[n] != '.')
        return NULL;
    return entry + n + 1;
}

bool
papyra__rot_is_rotated_name(const papyra__rot *r, const char *entry)
{
    const char *s = set_suffix(r, entry);
    int64_t v = 0;

    if (!s || *s < '1' || *s > '9')
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > INT64_MAX / 10 - 10)
            return false;
        v = v * 10 + (*s - '0');
    }
    return v >= 1 && v < r->max_files;
}

bool
papyra__rot_is_own_name(const papyra__rot *r, const char *entry)
{
    const char *s = set_suffix(r, entry);
    const char *q, *last = NULL;

    if (!s)
        return false;
    /* The default metrics file, its temporary and set-aside copies. */
    if (strcmp(s, "metrics") == 0 || strncmp(s, "metrics.", 8) == 0)
        return true;
    /* Quarantined copies: "<anything>.quarantine.<epoch_ms>". */
    for (q = strstr(s, "quarantine."); q; q = strstr(q + 1, "quarantine."))
        last = q;
    if (last && (last == s || last[-1] == '.')) {
        const char *d = last + strlen("quarantine.");
        if (!*d)
            return false;
        for (; *d; d++)
            if (*d < '0' || *d > '9')
                return false;
        return true;
    }
    return false;
}

bool
papyra__rot_is_orphan(const papyra__rot *r, const char *entry)
{
    return set_suffix(r, entry) && !papyra__rot_is_rotated_name(r, entry) &&
           !papyra__rot_is_own_name(r, entry);
}

bool
papyra__rot_pending(const papyra__rot *r)
{
    struct stat st;

    return lstat(r->stage_path, &st) == 0;
}

/*
 * Removes the staging directory and everything in it. The first error is
 * the one reported: a file that cannot be removed (ENOSPC, EIO) is not
 * left to show as rmdir's ENOTEMPTY, which names no cause.
 */
static int
remove_stage(const papyra__rot *r)
{
    DIR *d = opendir(r->stage_path);
    struct dirent *e;
    int first = 0;

    if (!d) {
        if (errno == ENOENT)
            return 0;
        /* Not a directory: nothing we made, but it holds the name; remove it. */
        if (errno == ENOTDIR && unlink(r->stage_path) == 0)
            return papyra__fsync_dir(r->dir);
        return papyra__errno_code(errno);
    }
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (unlinkat(dirfd(d), e->d_name, 0) < 0 && errno != ENOENT && first == 0)
            first = papyra__errno_code(errno);
    }
    closedir(d);
    if (first < 0)
        return first;
    if (rmdir(r->stage_path) < 0 && errno != ENOENT)
        return papyra__errno_code(errno);
    return papyra__fsync_dir(r->dir);
}

void
papyra__rot_stage_step(papyra__rot_stage *st)
{
    if (st && st->crash_at > 0 && ++st->steps == st->crash_at)
        _exit(137);
}

/* Moves a committed set into place; see the top of this file. */
static int
roll_forward(const papyra__rot *r, uint64_t files, int64_t max_files, papyra__rot_stage *st)
{
    int ret = 0;

    for (uint64_t k = files; k-- > 0;) {
        char *src = NULL, *dst = papyra__rot_file(r, (int64_t)k);
        int e = 0;

        if (!dst || papyra__asprintf(&src, "%s/%" PRIu64, r->stage_path, k) < 0) {
            free(dst);
            return PAPYRA_ENOMEM;
        }
        if (rename(src, dst) < 0 && errno != ENOENT)
            e = papyra__errno_code(errno);
        free(src);
        free(dst);
        if (e < 0)
            return e;
        papyra__rot_stage_step(st);
    }
    for (int64_t j = (int64_t)files; j < max_files; j++) {
        ret = papyra__rot_remove(r, j);
        if (ret < 0)
            return ret;
        papyra__rot_stage_step(st);
    }
    ret = papyra__fsync_dir(r->dir);
    if (ret < 0)
        return ret;
    papyra__rot_stage_step(st);
    if (unlink(r->commit_path) < 0 && errno != ENOENT)
        return papyra__errno_code(errno);
    papyra__rot_stage_step(st);
    return remove_stage(r);
}

int
papyra__rot_settle(const papyra__rot *r)
{
    char text[64];
    unsigned long long files = 0;
    long long max_files = 0;
    ssize_t n;
    int fd;

    if (!papyra__rot_pending(r))
        return 0;
    fd = papyra__open_regular(r->commit_path, O_RDONLY, 0);
    if (fd < 0) {
        if (fd != PAPYRA_ENOENT || errno != ENOENT)
            return fd;
        return remove_stage(r);
    }
    do
        n = read(fd, text, sizeof(text) - 1);
    while (n < 0 && errno == EINTR);
    close(fd);
    if (n <= 0)
        return PAPYRA_EIO;
    text[n] = '\0';
    /* A COMMIT file is ours, but bound what it names before walking it. */
    if (sscanf(text, "%llu %lld", &files, &max_files) != 2 || max_files < 1 ||
        max_files > PAPYRA__ROT_MAX_FILES_MAX || files > (unsigned long long)max_files)
        return PAPYRA_ECORRUPT;
    return roll_forward(r, files, max_files, NULL);
}

void
papyra__rot_stage_init(papyra__rot_stage *st, const papyra__rot *r)
{
    const char *env = getenv("PAPYRA_TEST_CRASH_AT");

    memset(st, 0, sizeof(*st));
    st->r = r;
    st->fd = -1;
    st->cur_slot = -1;
    /* The new set's files get the live active file's permission bits (less the umask). */
    st->mode = papyra__mode_like(r->path, r->file.mode);
    st->crash_at = env ? strtol(env, NULL, 10) : 0;
}

/*
 * Packs a line of @p bytes: into the last chunk while it stays within
 * @p max_bytes, else into a new one (a line longer than max_bytes gets a
 * chunk of its own).
 */
static void
pack(papyra__rot_packing *p, uint64_t bytes, uint64_t max_bytes)
{
    if (p->chunks > 0 && (p->size == 0 || p->size + bytes <= max_bytes)) {
        p->size += bytes;
    } else {
        p->chunks++;
        p->size = bytes;
    }
}

void
papyra__rot_stage_plan(papyra__rot_stage *st, size_t bytes)
{
    pack(&st->plan, bytes, (uint64_t)st->r->max_bytes);
}

/*
 * Links the live active file into the staging directory as "active", so that
 * its link count is 2 for as long as the staging directory exists. Releases
 * before the control page told a rebuild that crashed after its commit but
 * before its roll-forward by that extra link (a statx of PATH at every
 * write); appenders of this release learn it from the control mutex the
 * rebuild died holding (EOWNERDEAD), so the link is kept for the older ones.
 * The link goes when the staging directory is removed. An active file that
 * does not exist needs no mark; a file system without hard links leaves the
 * mark out (see docs/backend-rotating.md).
 */
static int
link_active(const papyra__rot *r)
{
    char *p = NULL;
    int ret = 0;

    if (papyra__asprintf(&p, "%s/active", r->stage_path) < 0)
        return PAPYRA_ENOMEM;
    if (linkat(AT_FDCWD, r->path, AT_FDCWD, p, AT_SYMLINK_FOLLOW) < 0 && errno != ENOENT &&
        errno != EPERM && errno != EMLINK)
        ret = papyra__errno_code(errno);
    free(p);
    return ret;
}

int
papyra__rot_stage_begin(papyra__rot_stage *st, uint64_t min_files)
{
    const papyra__rot *r = st->r;
    int ret;

    st->files = st->plan.chunks < (uint64_t)r->max_files ? st->plan.chunks : (uint64_t)r->max_files;
    if (st->files < min_files)
        st->files = min_files;
    ret = remove_stage(r);
    if (ret < 0)
        return ret;
    if (mkdir(r->stage_path, 0700) < 0)
        return papyra__errno_code(errno);
    ret = link_active(r);
    if (ret == 0)
        ret = papyra__fsync_dir(r->dir);
    if (ret < 0)
        return ret;
    papyra__rot_stage_step(st);
    return 0;
}

/* Flushes, fsyncs and closes the staged file being written. */
static int
stage_close_file(papyra__rot_stage *st)
{
    int ret = 0;

    if (st->fd < 0)
        return 0;
    ret = papyra__write_all(st->fd, st->out.data, st->out.len);
    papyra__buf_reset(&st->out);
    if (ret == 0 && fsync(st->fd) < 0)
        ret = papyra__errno_code(errno);
    close(st->fd);
    st->fd = -1;
    papyra__rot_stage_step(st);
    return ret;
}

/* Opens the staged file of @p slot (0 = oldest of the new set). */
static int
stage_open_slot(papyra__rot_stage *st, int64_t slot)
{
    char *p = NULL;
    uint64_t index = st->files - 1 - (uint64_t)slot;
    int ret = stage_close_file(st);

    if (ret < 0)
        return ret;
    if (papyra__asprintf(&p, "%s/%" PRIu64, st->r->stage_path, index) < 0)
        return PAPYRA_ENOMEM;
    st->fd = papyra__open_regular(p, O_WRONLY | O_CREAT | O_TRUNC, st->mode);
    free(p);
    if (st->fd < 0) {
        ret = st->fd;
        st->fd = -1;
        return ret;
    }
    st->cur_slot = slot;
    return 0;
}

int
papyra__rot_stage_add(papyra__rot_stage *st, const char *line, size_t len)
{
    uint64_t chunk, merged;
    int64_t slot;
    int ret;

    /* Replay the planned packing to find this line's chunk. */
    pack(&st->replay, len + 1, (uint64_t)st->r->max_bytes);
    chunk = st->replay.chunks - 1;
    /* The oldest chunks that do not fit in max_files share the oldest file. */
    merged = st->plan.chunks > st->files ? st->plan.chunks - st->files : 0;
    slot = chunk <= merged ? 0 : (int64_t)(chunk - merged);
    if (slot != st->cur_slot) {
        ret = stage_open_slot(st, slot);
        if (ret < 0)
            return ret;
    }
    if (papyra__buf_append(&st->out, line, len) < 0 || papyra__buf_putc(&st->out, '\n') < 0)
        return PAPYRA_ENOMEM;
    if (st->out.len >= STAGE_FLUSH) {
        ret = papyra__write_all(st->fd, st->out.data, st->out.len);
        papyra__buf_reset(&st->out);
        if (ret < 0)
            return ret;
    }
    return 0;
}

int
papyra__rot_stage_commit(papyra__rot_stage *st)
{
    const papyra__rot *r = st->r;
    char text[64], *tmp = NULL;
    bool renamed;
    int fd, ret, len;

    /* Slots without lines (an empty new set that still wants its active file). */
    while ((uint64_t)(st->cur_slot + 1) < st->files) {
        ret = stage_open_slot(st, st->cur_slot + 1);
        if (ret < 0)
            return ret;
    }
    ret = stage_close_file(st);
    if (ret < 0)
        return ret;
    papyra__buf_free(&st->out);
    ret = papyra__fsync_dir(r->stage_path);
    if (ret < 0)
        return ret;
    papyra__rot_stage_step(st);

    if (papyra__asprintf(&tmp, "%s/COMMIT.tmp", r->stage_path) < 0)
        return PAPYRA_ENOMEM;
    len = snprintf(text, sizeof(text), "%" PRIu64 " %" PRId64 "\n", st->files, r->max_files);
    fd = papyra__open_regular(tmp, O_WRONLY | O_CREAT | O_TRUNC, st->mode);
    if (fd < 0) {
        free(tmp);
        return fd;
    }
    ret = papyra__write_all(fd, text, (size_t)len);
    if (ret == 0)
        ret = papyra__files_install(fd, tmp, r->commit_path, &renamed);
    close(fd);
    free(tmp);
    if (ret < 0)
        return ret;
    /* Committed: from here on a crash rolls forward. */
    papyra__rot_stage_step(st);
    return roll_forward(r, st->files, r->max_files, st);
}

void
papyra__rot_stage_abort(papyra__rot_stage *st)
{
    if (st->fd >= 0)
        close(st->fd);
    st->fd = -1;
    papyra__buf_free(&st->out);
    /* An uncommitted stage is garbage; a committed one must be finished instead. */
    if (access(st->r->commit_path, F_OK) == 0)
        (void)papyra__rot_settle(st->r);
    else
        (void)remove_stage(st->r);
}

bool
papyra__rot_exists(const char *p)
{
    struct stat st;

    return lstat(p, &st) == 0;
}

/* Takes this handle's writer lock: see rotating.h. */
int
papyra__rot_writer_lock(papyra__rot *r)
{
    int e;

    pthread_mutex_lock(&r->mu);
    e = papyra__rot_lock_ready(r);
    /* Without the control page, appenders of other processes could not be kept out. */
    if (e == 0 && !r->ctl.page)
        e = r->ctl_err < 0 ? r->ctl_err : PAPYRA_EACCES;
    if (e == 0)
        e = papyra__rot_exclusive(r, r->lock_fd);
    if (e < 0) {
        pthread_mutex_unlock(&r->mu);
        return e;
    }
    if (papyra__rot_pending(r))
        e = papyra__rot_settle(r);
    if (e < 0) {
        papyra__rot_exclusive_end(r, r->lock_fd, true);
        pthread_mutex_unlock(&r->mu);
    }
    return e;
}

void
papyra__rot_writer_unlock(papyra__rot *r)
{
    papyra__rot_exclusive_end(r, r->lock_fd, true);
    pthread_mutex_unlock(&r->mu);
}

/* Files a snapshot opens before it keeps the lock instead (descriptor budget). */
#define SNAP_MAX_OPEN 64

/* Opens file @p k into the snapshot. */
static int
snap_open(papyra__rot_snap *snap, int64_t k)
{
    char *p = papyra__rot_file(snap->r, k);
    struct stat st;
    int fd;

    if (!p)
        return PAPYRA_ENOMEM;
    fd = papyra__open_regular(p, O_RDONLY, 0);
    free(p);
    snap->err[k] = 0;
    if (fd < 0) {
        snap->fd[k] = -1;
        if (fd != PAPYRA_ENOENT || errno != ENOENT)
            snap->err[k] = fd;
        return 0;
    }
    if (fstat(fd, &st) < 0) {
        snap->err[k] = papyra__errno_code(errno);
        snap->fd[k] = -1;
        close(fd);
        return 0;
    }
    snap->fd[k] = fd;
    snap->size[k] = (uint64_t)st.st_size;
    return 0;
}

/* Whether the snapshot's active file ends without a line terminator. */
static bool
snap_tail_torn(const papyra__rot_snap *snap)
{
    char c;

    if (snap->fd[0] < 0 || snap->size[0] == 0)
        return false;
    return pread(snap->fd[0], &c, 1, (off_t)snap->size[0] - 1) == 1 && c != '\n' && c != '\r';
}

int
papyra__rot_snap_take(const papyra__rot *r, papyra__rot_snap *snap)
{
    int64_t k, opened = 0;
    bool excl = false, changed = false;
    int e = 0, lfd;

    memset(snap, 0, sizeof(*snap));
    snap->r = r;
    snap->lock_fd = -1;
    if (r->max_files < 1 || r->max_files > PAPYRA__ROT_MAX_FILES_MAX)
        return PAPYRA_EINVAL;
    /* calloc checks the multiplication; n stays 0 until every fd is set, so release closes none. */
    snap->fd = calloc((size_t)r->max_files, sizeof(*snap->fd));
    snap->err = calloc((size_t)r->max_files, sizeof(*snap->err));
    snap->size = calloc((size_t)r->max_files, sizeof(*snap->size));
    if (!snap->fd || !snap->err || !snap->size) {
        papyra__rot_snap_release(snap);
        return PAPYRA_ENOMEM;
    }
    for (k = 0; k < r->max_files; k++)
        snap->fd[k] = -2;
    snap->n = r->max_files;
    /* No lock file and none can be made (missing or read-only directory): read unlocked. */
    lfd = papyra__rot_lock_open(r);
    if (lfd == PAPYRA_ENOENT && errno == ENOENT)
        lfd = -1;
    else if (lfd < 0)
        e = lfd;
    if (e == 0 && lfd >= 0) {
        e = papyra__flock(lfd, LOCK_SH);
        if (e == 0 && papyra__rot_pending(r)) {
            /* flock() first dropped, so that the control mutex comes first. */
            (void)papyra__flock(lfd, LOCK_UN);
            e = papyra__rot_exclusive(r, lfd);
            excl = e == 0;
            if (e == 0)
                e = papyra__rot_settle(r);
            changed = true;
        }
    }
    for (k = 0; e == 0 && k < r->max_files && opened < SNAP_MAX_OPEN; k++) {
        e = snap_open(snap, k);
        opened += snap->fd[k] >= 0;
        /*
         * An appender may be in the middle of its write, so the active file
         * may end in the middle of a line. Then take the snapshot again with
         * no append running (the control mutex, and flock(LOCK_EX) for
         * older releases): the snapshot never shows a line that is only
         * half written (a last line without its newline is then really
         * torn).
         */
        if (e == 0 && k == 0 && lfd >= 0 && !excl && snap_tail_torn(snap)) {
            close(snap->fd[0]);
            snap->fd[0] = -2;
            (void)papyra__flock(lfd, LOCK_UN);
            e = papyra__rot_exclusive(r, lfd);
            excl = e == 0;
            k = -1;
            opened = 0;
        }
    }
    /* Appends wait no longer: the files are open, and their sizes taken. */
    if (excl && r->ctl.page) {
        if (changed) {
            r->ctl.page->size_known = 0;
            papyra__control_forget_file(&r->ctl);
            (void)papyra__control_bump(&r->ctl);
        }
        papyra__control_unlock(&r->ctl);
    }
    if (e == 0 && k < r->max_files)
        snap->lock_fd = lfd; /* files remain: keep the lock while they are read */
    else if (lfd >= 0)
        close(lfd);
    if (e < 0) {
        papyra__rot_snap_release(snap);
        return e;
    }
    return 0;
}

int
papyra__rot_snap_get(papyra__rot_snap *snap, int64_t k, int *fd, uint64_t *size)
{
    if (snap->fd[k] == -2) {
        int e = snap_open(snap, k);
        if (e < 0)
            return e;
    }
    if (snap->err[k] < 0)
        return snap->err[k];
    if (snap->fd[k] < 0)
        return 0;
    *fd = snap->fd[k];
    *size = snap->size[k];
    return 1;
}

void
papyra__rot_snap_release(papyra__rot_snap *snap)
{
    for (int64_t k = 0; snap->fd && k < snap->n; k++)
        if (snap->fd[k] >= 0)
            close(snap->fd[k]);
    if (snap->lock_fd >= 0)
        close(snap->lock_fd);
    free(snap->fd);
    free(snap->err);
    free(snap->size);
    memset(snap, 0, sizeof(*snap));
    snap->lock_fd = -1;
}
