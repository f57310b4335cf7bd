/* SPDX-License-Identifier: MIT */
#include "testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

char *
papyra_test_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char *dir;

    if (!base || !*base)
        base = "/tmp";
    if (asprintf(&dir, "%s/papyra-test-XXXXXX", base) < 0)
        return NULL;
    if (!mkdtemp(dir)) {
        free(dir);
        return NULL;
    }
    return dir;
}

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    (void)remove(path);
    return 0;
}

void
papyra_test_rmtree(const char *dir)
{
    if (dir)
        (void)nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int
papyra_test_setup_tmpdir(void **state)
{
    *state = papyra_test_tmpdir();
    return *state ? 0 : -1;
}

int
papyra_test_teardown_tmpdir(void **state)
{
    papyra_test_rmtree(*state);
    free(*state);
    *state = NULL;
    return 0;
}

char *
papyra_test_path(const char *dir, const char *name)
{
    char *p;

    if (asprintf(&p, "%s/%s", dir, name) < 0)
        fail_msg("out of memory");
    return p;
}

char *
papyra_test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *data = NULL;
    size_t cap = 0, n = 0;

    if (!f)
        fail_msg("cannot read %s", path);
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = (n + 4096 + 1) * 2;
            data = realloc(data, cap);
            assert_non_null(data);
        }
        size_t got = fread(data + n, 1, 4096, f);
        n += got;
        if (got < 4096)
            break;
    }
    fclose(f);
    data[n] = '\0';
    if (len)
        *len = n;
    return data;
}

void
papyra_test_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    if (!f)
        fail_msg("cannot write %s", path);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

void
papyra_test_write_text(const char *path, const char *text)
{
    papyra_test_write_file(path, text, strlen(text));
}

void
papyra_test_append_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

    if (fd < 0)
        fail_msg("cannot append to %s", path);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

bool
papyra_test_exists(const char *dir, const char *name)
{
    char *p = papyra_test_path(dir, name);
    struct stat st;
    bool ok = stat(p, &st) == 0;

    free(p);
    return ok;
}

void
papyra_test_patch_file(const char *path, long offset, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY);

    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, data, len, offset), (ssize_t)len);
    close(fd);
}

void
papyra_test_assert_file(const char *path, const void *data, size_t len)
{
    size_t n;
    char *got = papyra_test_read_file(path, &n);

    assert_int_equal(n, len);
    assert_memory_equal(got, data, len);
    free(got);
}

size_t
papyra_test_each_entry(const char *dir,
                       const char *prefix,
                       size_t (*fn)(const char *dir, const char *name, void *arg),
                       void *arg)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;

    if (!d)
        fail_msg("cannot list %s", dir);
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
            strncmp(e->d_name, prefix, strlen(prefix)) == 0)
            n += fn ? fn(dir, e->d_name, arg) : 1;
    closedir(d);
    return n;
}

int
papyra_test_count_prefix(const char *dir, const char *prefix)
{
    return (int)papyra_test_each_entry(dir, prefix, NULL, NULL);
}

/* Keeps the path of the first entry it is called on in *(char **)arg. */
static size_t
keep_first(const char *dir, const char *name, void *arg)
{
    char **path = arg;

    if (!*path)
        *path = papyra_test_path(dir, name);
    return 1;
}

void
papyra_test_assert_prefix_content(const char *dir, const char *prefix, const void *data, size_t len)
{
    char *path = NULL;

    papyra_test_each_entry(dir, prefix, keep_first, &path);
    assert_non_null(path);
    papyra_test_assert_file(path, data, len);
    free(path);
}
