/* SPDX-License-Identifier: MIT */
/* Helpers shared by the tests: temporary directories and file fixtures. */
#ifndef PAPYRA_TESTUTIL_H
#define PAPYRA_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>

/* A fresh directory under $TMPDIR (or /tmp); NULL on failure. Free with free(). */
char *papyra_test_tmpdir(void);
/* Removes a directory tree (best effort). */
void papyra_test_rmtree(const char *dir);
/* cmocka setup: a fresh temporary directory (a char *) in *state. */
int papyra_test_setup_tmpdir(void **state);
/* cmocka teardown of papyra_test_setup_tmpdir(): removes the directory and frees it. */
int papyra_test_teardown_tmpdir(void **state);
/* A cmocka test case run in a fresh temporary directory, its *state. */
#define PAPYRA_TEST_IN_TMPDIR(f) \
    cmocka_unit_test_setup_teardown(f, papyra_test_setup_tmpdir, papyra_test_teardown_tmpdir)
/* "<dir>/<name>", malloc'd; aborts the test on OOM. */
char *papyra_test_path(const char *dir, const char *name);
/* The whole file, NUL-terminated, malloc'd; fails the test when unreadable. */
char *papyra_test_read_file(const char *path, size_t *len);
/* Replaces the file's content. */
void papyra_test_write_file(const char *path, const void *data, size_t len);
/* Replaces the file's content with a NUL-terminated text. */
void papyra_test_write_text(const char *path, const char *text);
/* Appends to the file (created when missing). */
void papyra_test_append_file(const char *path, const void *data, size_t len);
/* Whether "<dir>/<name>" exists. */
bool papyra_test_exists(const char *dir, const char *name);
/* Overwrites @p len bytes at @p offset. */
void papyra_test_patch_file(const char *path, long offset, const void *data, size_t len);
/* Fails unless the file holds exactly @p data. */
void papyra_test_assert_file(const char *path, const void *data, size_t len);
/*
 * Calls @p fn on every entry of @p dir ("." and ".." left out) whose name
 * starts with @p prefix, and returns the sum of what it returned; a NULL
 * @p fn counts the entries.
 */
size_t papyra_test_each_entry(const char *dir,
                              const char *prefix,
                              size_t (*fn)(const char *dir, const char *name, void *arg),
                              void *arg);
/* Number of entries of @p dir whose name starts with @p prefix. */
int papyra_test_count_prefix(const char *dir, const char *prefix);
/* Fails unless the first entry starting with @p prefix holds exactly @p data. */
void papyra_test_assert_prefix_content(const char *dir,
                                       const char *prefix,
                                       const void *data,
                                       size_t len);

#endif /* PAPYRA_TESTUTIL_H */
