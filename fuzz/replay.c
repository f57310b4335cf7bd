/* SPDX-License-Identifier: MIT */
/*
 * The driver of a fuzz target without libFuzzer (any compiler, any
 * sanitizer): feeds every file of each directory given on the command line
 * (or each file given) to LLVMFuzzerTestOneInput(), in name order, each in a
 * buffer of exactly its size so that sanitizers see a read past its end.
 * meson test runs each target over its committed corpus this way (suite
 * fuzz-corpus). Fails when it found no input at all, so an empty or
 * misplaced corpus cannot pass.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

/* Reads @p path whole; 0, or -1 with a message. */
static int
run_file(const char *path)
{
    struct stat st;
    uint8_t *data = NULL;
    size_t done = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0 || fstat(fd, &st) < 0) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    data = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
    if (!data) {
        close(fd);
        fprintf(stderr, "replay: out of memory for %s\n", path);
        return -1;
    }
    while (done < (size_t)st.st_size) {
        ssize_t n = read(fd, data + done, (size_t)st.st_size - done);
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    close(fd);
    if (done != (size_t)st.st_size) {
        free(data);
        fprintf(stderr, "replay: cannot read %s\n", path);
        return -1;
    }
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, done);
    (void)LLVMFuzzerTestOneInput(data, done);
    free(data);
    return 0;
}

static int
by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int
skip_dots(const struct dirent *e)
{
    return e->d_name[0] != '.';
}

/* Runs @p dir's files; the number run, or -1. */
static int
run_dir(const char *dir)
{
    struct dirent **names;
    int n = scandir(dir, &names, skip_dots, by_name), ran = 0;

    if (n < 0) {
        fprintf(stderr, "replay: cannot read directory %s\n", dir);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        size_t len = strlen(dir) + strlen(names[i]->d_name) + 2;
        char *p = malloc(len);
        struct stat st;

        if (p) {
            snprintf(p, len, "%s/%s", dir, names[i]->d_name);
            if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
                ran = run_file(p) < 0 || ran < 0 ? -1 : ran + 1;
            }
        } else {
            ran = -1;
        }
        free(p);
        free(names[i]);
    }
    free(names);
    return ran;
}

int
main(int argc, char **argv)
{
    int total = 0;

    for (int i = 1; i < argc; i++) {
        struct stat st;
        int n;

        if (stat(argv[i], &st) < 0) {
            fprintf(stderr, "replay: no such file or directory: %s\n", argv[i]);
            return 1;
        }
        n = S_ISDIR(st.st_mode) ? run_dir(argv[i]) : run_file(argv[i]) == 0 ? 1 : -1;
        if (n < 0)
            return 1;
        total += n;
    }
    if (total == 0) {
        fprintf(stderr, "usage: %s DIR|FILE... (found no input to run)\n", argv[0]);
        return 1;
    }
    fprintf(stderr, "replay: %d inputs, no finding\n", total);
    return 0;
}
