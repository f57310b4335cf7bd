/* SPDX-License-Identifier: MIT */
/*
 * What the fuzz targets share (fuzz-util.c): the libFuzzer entry point, a
 * private temporary directory per process, and the checks of a property,
 * which abort so that libFuzzer (or fuzz/replay.c under meson test) reports
 * the input that broke it.
 */
#ifndef PAPYRA_FUZZ_H
#define PAPYRA_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <papyra/record.h>
#include <papyra/store.h>

/* The one function every target defines; libFuzzer or fuzz/replay.c calls it. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Prints "property failed: ..." and aborts: a finding. */
void papyra_fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Fails with the message unless @p cond holds. */
#define PAPYRA_FUZZ_CHECK(cond, ...)       \
    do {                                   \
        if (!(cond))                       \
            papyra_fuzz_fail(__VA_ARGS__); \
    } while (0)

/*
 * This process's private directory, made on first use under $TMPDIR (or
 * /tmp) and removed with everything in it when the process exits.
 */
const char *papyra_fuzz_tmpdir(void);

/* Removes everything inside the private directory, keeping the directory. */
void papyra_fuzz_tmpdir_clear(void);

/* "<private dir>/<name>", malloc'd; aborts when memory runs out. */
char *papyra_fuzz_path(const char *name);

/* Writes @p size bytes to a new file @p path (replacing it); aborts on failure. */
void papyra_fuzz_write_file(const char *path, const void *data, size_t size);

/* A NUL-terminated, malloc'd copy of the input; aborts when memory runs out. */
char *papyra_fuzz_strndup(const uint8_t *data, size_t size);

/*
 * Whether two records are the same: kind, every string (NULL only equals
 * NULL), every number (timestamps bit for bit, any NaN equals any NaN).
 * On a difference *why names the first field that differs.
 */
bool papyra_fuzz_record_equal(const papyra_record *a, const papyra_record *b, const char **why);

/*
 * The maintenance walk of the store targets (fuzz-store.c) on the file store
 * of @p url, whose files the target has just written: list all three kinds,
 * scan, recover in @p mode, list and scan again, compact, list and scan
 * again. Properties: nothing fails; recover and compact never change what
 * list returns; after recover the scan is clean, except that REPAIR leaves
 * orphaned rotated files where they are (they alone remain, and recover
 * says PAPYRA_EANOMALY).
 */
void papyra_fuzz_store_walk(const char *url, papyra_recovery_mode mode);

/*
 * The URL of the file store @p backend at @p path with @p params ("" or
 * "&key=value...") after metrics=none; malloc'd.
 */
char *papyra_fuzz_store_url(int backend, const char *path, const char *params);

#endif /* PAPYRA_FUZZ_H */
