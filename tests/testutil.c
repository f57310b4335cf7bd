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

int
papyra_test_count_prefix(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d)))
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
            n++;
    closedir(d);
    return n;
}

void
papyra_test_assert_prefix_content(const char *dir, const char *prefix, const void *data, size_t len)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char *path = NULL;

    assert_non_null(d);
    while ((e = readdir(d)))
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
            path = papyra_test_path(dir, e->d_name);
            break;
        }
    closedir(d);
    assert_non_null(path);
    papyra_test_assert_file(path, data, len);
    free(path);
}
