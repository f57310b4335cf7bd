/* SPDX-License-Identifier: MIT */
/* Small file-system and OS helpers shared by the library's modules. */
#ifndef PAPYRA_FSUTIL_H
#define PAPYRA_FSUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Maps an errno value to the closest PAPYRA_E* code. */
int papyra__errno_code(int err);

/* flock(2) of @p fd, retried on EINTR: 0 or a PAPYRA_E* code. */
int papyra__flock(int fd, int op);

/* Writes all of @p data, retrying on EINTR and short writes. */
int papyra__write_all(int fd, const void *data, size_t size);

/* The same, telling in @p done how many bytes went out, also on failure. */
int papyra__write_all_done(int fd, const void *data, size_t size, size_t *done);

/*
 * Takes back a refused append: truncates the last @p n bytes of @p fd (of
 * @p size bytes) if they are exactly @p data, so neither a torn line nor part
 * of a failed batch stays. The caller holds the file's lock exclusively.
 */
void papyra__take_back_tail(int fd, off_t size, const char *data, size_t n);

/*
 * mkdir -p: creates @p dir and its missing parents, each with @p mode (less
 * the umask); directories that exist already are fine. 0 or a PAPYRA_E* code,
 * errno then telling the cause (for callers that report errno values).
 */
int papyra__mkdir_p(const char *dir, mode_t mode);

/*
 * Creates the missing parent directories of @p path (papyra__mkdir_p of all
 * before its last '/', mode 0777), as upstream did before its first write.
 */
int papyra__mkdir_parents(const char *path);

/* fsyncs the directory @p dir, so a rename, link or unlink in it is durable. */
int papyra__fsync_dir(const char *dir);

/* fsyncs the directory that holds @p path, so a rename or link in it is durable. */
int papyra__fsync_parent(const char *path);

/* A unique temporary name next to @p path: "<path>.<tag>.tmp.<pid>.<n>". */
int papyra__temp_path(const char *path, const char *tag, char **ret);

/*
 * A free quarantine name for @p src in @p qdir, "<qdir>/<base of src>.quarantine.<ms>":
 * the first of @p ms (epoch milliseconds), ms + 1, ... that nothing holds yet,
 * so files of one name quarantined in one millisecond do not collide.
 */
int papyra__quarantine_path(const char *qdir, const char *src, long long ms, char **ret);

/*
 * Copies all of the open file @p in, from its start (with pread: its offset
 * stays), to a new file @p dst (O_EXCL, @p mode less the umask) and fsyncs
 * it; on failure @p dst is removed.
 */
int papyra__copy_fd(int in, const char *dst, mode_t mode);

/*
 * Copies the @p len bytes of @p in at offset @p off (its offset stays) to
 * @p out at its offset (which moves on): in the kernel with
 * copy_file_range(2) where the file systems allow it, else, when it answers
 * that it cannot copy between these files at all (EXDEV, EINVAL, ENOSYS,
 * EOPNOTSUPP), with pread(2) and write(2). 0, PAPYRA_EIO when @p in ends
 * before off + len, or another PAPYRA_E* code (errno tells the cause).
 */
int papyra__copy_range(int in, off_t off, int out, uint64_t len);

/*
 * Starts writing the dirty pages of @p fd in [off, off + len) to disk
 * without waiting for them (sync_file_range(2) with SYNC_FILE_RANGE_WRITE),
 * so that the fsync that makes a large new file durable finds most of it
 * written already. 0 (also where the call does not exist: the fsync does
 * all the work then) or a PAPYRA_E* code.
 */
int papyra__write_behind(int fd, off_t off, off_t len);

/*
 * open(2) of a file that must be a regular file (a store's data, rotated,
 * lock, commit or metrics file): opened with O_NONBLOCK | O_CLOEXEC added,
 * so that a FIFO cannot block the open, then fstat()ed; anything but a
 * regular file is closed again and refused with PAPYRA_ENOTREG (errno then
 * EINVAL), else O_NONBLOCK is cleared. Returns the descriptor or a PAPYRA_E*
 * code with errno telling the cause (ENOENT for a missing file).
 */
int papyra__open_regular(const char *path, int flags, mode_t mode);

/*
 * What the file at @p path is, for messages: "a FIFO", "a directory",
 * "a character device", "a block device", "a socket", "a regular file",
 * "missing" (stat, which follows symbolic links and never blocks).
 */
const char *papyra__file_kind(const char *path);

/*
 * Why @p code failed on @p path, for a message: "not a regular file (a
 * FIFO)" for PAPYRA_ENOTREG, else papyra_strerror(). Written to @p buf (@p n
 * bytes), which is returned.
 */
const char *papyra__path_strerror(int code, const char *path, char *buf, size_t n);

/*
 * The creation mode of a new file that belongs with @p data: the data file's
 * (or directory's) permission bits & 0666 when it exists, else @p dflt. open() then takes
 * the umask off, so a new file is never more permissive than its data file
 * nor past the umask (no fchmod ever widens it).
 */
mode_t papyra__mode_like(const char *data, mode_t dflt);

/*
 * Follows the symbolic links of the last component of @p path (a chain of
 * up to 40; a relative target is read from the link's directory) and gives
 * in *ret the path of what it names, which may not exist yet (a dangling
 * link); @p path itself when it is no link. Directories on the way are left
 * as they are: only the last component is replaced by renames. 0 or
 * PAPYRA_ENOMEM.
 */
int papyra__follow_links(const char *path, char **ret);

/* asprintf with PAPYRA_E* results; *ret untouched on failure. */
int papyra__asprintf(char **ret, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* PAPYRA_FSUTIL_H */
