/* SPDX-License-Identifier: MIT */
/* Helpers shared by the tests: temporary directories and file fixtures. */
#ifndef PAPYRA_TESTUTIL_H
#define PAPYRA_TESTUTIL_H

#include <stddef.h>

/* A fresh directory under $TMPDIR (or /tmp); NULL on failure. Free with free(). */
char *papyra_test_tmpdir(void);
/* Removes a directory tree (best effort). */
void papyra_test_rmtree(const char *dir);
/* "<dir>/<name>", malloc'd; aborts the test on OOM. */
char *papyra_test_path(const char *dir, const char *name);
/* The whole file, NUL-terminated, malloc'd; fails the test when unreadable. */
char *papyra_test_read_file(const char *path, size_t *len);
/* Replaces the file's content. */
void papyra_test_write_file(const char *path, const void *data, size_t len);
/* Overwrites @p len bytes at @p offset. */
void papyra_test_patch_file(const char *path, long offset, const void *data, size_t len);
/* Fails unless the file holds exactly @p data. */
void papyra_test_assert_file(const char *path, const void *data, size_t len);
/* Number of entries of @p dir whose name starts with @p prefix. */
int papyra_test_count_prefix(const char *dir, const char *prefix);
/* Fails unless the first entry starting with @p prefix holds exactly @p data. */
void papyra_test_assert_prefix_content(const char *dir,
                                       const char *prefix,
                                       const void *data,
                                       size_t len);

#endif /* PAPYRA_TESTUTIL_H */
