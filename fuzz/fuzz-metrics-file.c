/* SPDX-License-Identifier: MIT */
/*
 * The metrics-file reader (src/metrics/, docs/metrics-file.md). The first
 * input byte picks how far the rest gets:
 *
 *   0  the bytes as they are (most stop at the magic or the checksum);
 *   1  the magic and layout version set and the header checksum fixed up,
 *      so the size and name-table checks see fuzzed fields;
 *   2  as 1, and the sizes made consistent with a counter count from the
 *      input (1..63) and the spec hash computed from the fuzzed names, so
 *      valid-looking files of any names and backend reach the reader.
 *
 * The file is opened as a reader and as a writer; an open file is read,
 * every format written, every counter added to and reset. A refused file
 * comes with a message; RECREATE replaces a damaged (not foreign) one and
 * keeps the old bytes, unchanged, in the file it sets aside. No crash, no
 * leak, no hang.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <papyra/papyra.h>

#include "fuzz.h"
#include "metrics/metrics-private.h"

/* The bytes of the metrics file for @p data in @p mode; *ret_len its size. */
static uint8_t *
build(const uint8_t *data, size_t size, int mode, size_t *ret_len)
{
    size_t len = size;
    uint8_t *buf;
    struct papyra__mf_header h;

    if (mode == 2) {
        uint32_t count = size > 24 && data[24] % 64u ? data[24] % 64u : 1u;
        len =
            PAPYRA__MF_HEADER_SIZE + (size_t)count * (PAPYRA__MF_NAME_SIZE + PAPYRA__MF_SLOT_SIZE);
    } else if (mode == 1 && len < PAPYRA__MF_HEADER_SIZE) {
        len = PAPYRA__MF_HEADER_SIZE;
    }
    buf = calloc(1, len ? len : 1);
    if (!buf)
        papyra_fuzz_fail("out of memory");
    memcpy(buf, data, size < len ? size : len);
    *ret_len = len;
    if (mode == 0)
        return buf;
    memcpy(&h, buf, sizeof(h));
    memcpy(h.magic, PAPYRA__MF_MAGIC, sizeof(h.magic));
    h.layout_version = PAPYRA_METRICS_LAYOUT_VERSION;
    if (mode == 2) {
        const struct papyra__mf_name *names = (const void *)(buf + PAPYRA__MF_HEADER_SIZE);
        bool named = true;

        h.counter_count = (uint32_t)((len - PAPYRA__MF_HEADER_SIZE) /
                                     (PAPYRA__MF_NAME_SIZE + PAPYRA__MF_SLOT_SIZE));
        h.header_size = PAPYRA__MF_HEADER_SIZE;
        h.names_offset = PAPYRA__MF_HEADER_SIZE;
        h.name_size = PAPYRA__MF_NAME_SIZE;
        h.slot_size = PAPYRA__MF_SLOT_SIZE;
        h.slots_offset = PAPYRA__MF_HEADER_SIZE + h.counter_count * PAPYRA__MF_NAME_SIZE;
        h.file_size = len;
        h.backend_name[sizeof(h.backend_name) - 1] = '\0';
        for (uint32_t j = 0; j < h.counter_count; j++)
            named = named && memchr(names[j].name, '\0', sizeof(names[j].name)) != NULL;
        if (named)
            h.spec_hash = papyra__metrics_names_hash(names, h.counter_count);
    }
    h.header_check = papyra__fnv1a64(&h, offsetof(struct papyra__mf_header, header_check));
    memcpy(buf, &h, sizeof(h));
    return buf;
}

static void
use(papyra_metrics *m, bool writer)
{
    papyra_metrics_snapshot snap, cleared;
    int r;

    r = papyra_metrics_read(m, &snap);
    PAPYRA_FUZZ_CHECK(r == 0, "reading an open metrics file answered %d", r);
    for (int f = PAPYRA_FORMAT_TABLE; f <= PAPYRA_FORMAT_OPENMETRICS; f++) {
        for (unsigned flags = 0; flags < 32; flags += 9) {
            char *out = NULL;
            r = papyra_metrics_format(&snap, (papyra_metrics_format_id)f, flags, &out);
            PAPYRA_FUZZ_CHECK(r == 0 || r == PAPYRA_ENOMEM, "format %d answered %d", f, r);
            papyra_free(out);
        }
    }
    for (int id = 0; id < PAPYRA_METRIC_COUNT; id++) {
        r = papyra_metrics_add(m, id, 1);
        PAPYRA_FUZZ_CHECK(r == 0 || r == PAPYRA_EUNSUPPORTED || (!writer && r == PAPYRA_EACCES),
                          "add to counter %d answered %d", id, r);
    }
    r = papyra_metrics_reset(m, &cleared);
    PAPYRA_FUZZ_CHECK(writer ? r == 0 : r == PAPYRA_EACCES, "reset answered %d", r);
}

/* The one "<path>.invalid.*" file next to @p path holds exactly @p buf. */
static void
check_set_aside(const char *path, const uint8_t *buf, size_t len)
{
    const char *dir = papyra_fuzz_tmpdir();
    const char *base = strrchr(path, '/') + 1;
    size_t blen = strlen(base);
    DIR *d = opendir(dir);
    struct dirent *e;
    int found = 0;

    PAPYRA_FUZZ_CHECK(d != NULL, "cannot list %s", dir);
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, base, blen) == 0 && strncmp(e->d_name + blen, ".invalid.", 9) == 0) {
            char *p = papyra_fuzz_path(e->d_name);
            int fd = open(p, O_RDONLY | O_CLOEXEC);
            uint8_t *got = malloc(len + 1);
            ssize_t n = fd >= 0 && got ? read(fd, got, len + 1) : -1;

            PAPYRA_FUZZ_CHECK(n >= 0 && (size_t)n == len && memcmp(got, buf, len) == 0,
                              "the set-aside file %s does not hold the old bytes", p);
            close(fd);
            free(got);
            free(p);
            found++;
        }
    }
    closedir(d);
    PAPYRA_FUZZ_CHECK(found == 1, "RECREATE set aside %d files", found);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int mode = size > 0 ? data[0] % 3 : 0;
    size_t len;
    uint8_t *buf = build(size > 0 ? data + 1 : data, size > 0 ? size - 1 : 0, mode, &len);
    char *path = papyra_fuzz_path("m.metrics");
    papyra_metrics_options ro = {.flags = PAPYRA_METRICS_READONLY, .backend = -1};
    papyra_metrics_options rw = {.flags = 0, .backend = -1};
    papyra_metrics_options re = {.flags = PAPYRA_METRICS_CREATE | PAPYRA_METRICS_RECREATE,
                                 .backend = PAPYRA_BACKEND_JSON};
    papyra_error err = {0};
    papyra_metrics *m = NULL;
    int r;

    papyra_fuzz_write_file(path, buf, len);
    r = papyra_metrics_open(&m, path, &ro, &err);
    if (r < 0) {
        PAPYRA_FUZZ_CHECK(m == NULL && err.code == r && err.message[0] != '\0',
                          "a refused metrics file (%d) has no message", r);
        PAPYRA_FUZZ_CHECK(r != PAPYRA_ENOENT && r != PAPYRA_EINVAL,
                          "an existing file was refused with %s", papyra_errname(r));
    } else {
        use(m, false);
        papyra_metrics_close(m);
        m = NULL;
        memset(&err, 0, sizeof(err));
        r = papyra_metrics_open(&m, path, &rw, &err);
        PAPYRA_FUZZ_CHECK(r == 0, "a file the reader accepts is refused to a writer: %s",
                          err.message);
        use(m, true);
        papyra_metrics_close(m);
        m = NULL;
    }
    if (r != 0 && r != PAPYRA_EFOREIGN && r != PAPYRA_ENOMEM) {
        memset(&err, 0, sizeof(err));
        r = papyra_metrics_open(&m, path, &re, &err);
        if (r == 0) {
            check_set_aside(path, buf, len);
            use(m, true);
            papyra_metrics_close(m);
        } else {
            /* Another backend's file is foreign to a json: writer, and never replaced. */
            PAPYRA_FUZZ_CHECK(r == PAPYRA_EFOREIGN && err.message[0] != '\0',
                              "RECREATE of a damaged file answered %d: %s", r, err.message);
        }
    }
    papyra_fuzz_tmpdir_clear();
    free(path);
    free(buf);
    return 0;
}
