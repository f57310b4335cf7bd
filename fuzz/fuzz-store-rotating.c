/* SPDX-License-Identifier: MIT */
/*
 * A rotating: store whose files hold the input, walked through list, scan,
 * recover, compact (papyra_fuzz_store_walk(), fuzz.h).
 *
 * Input: one configuration byte, then the files' bytes separated by
 * PAPYRA_FUZZ_SEP ("\x1e\n": each part keeps its own last newline). The byte: bit 0 recovers with
 * QUARANTINE (else REPAIR), bits 1-3 are max_files - 1, bits 4-5 pick max_bytes (64, 512, 4096, the
 * default). Part 0 is the active file "r.log", part i is "r.log.<i>", so
 * parts at or past max_files are orphans; a part named as it is written
 * ("name\n" right after a separator, marked by PAPYRA_FUZZ_NAMED) goes to
 * "r.log<name>" instead, for names such as ".bak" or ".7.compact.tmp".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <papyra/papyra.h>

#include "fuzz.h"

#define PAPYRA_FUZZ_SEP "\x1e\n"
/* Parts past this many stay in the last one. */
#define PAPYRA_FUZZ_MAX_PARTS 16
#define PAPYRA_FUZZ_NAMED '@'

static const char *const max_bytes[] = {"64", "512", "4096", NULL};

/* Writes one part: "r.log", "r.log.<i>", or "@<name>\n..." as "r.log<name>". */
static void
write_part(const char *base, size_t i, const uint8_t *p, size_t n)
{
    char name[96];
    const uint8_t *nl;
    char *path;

    if (n > 1 && p[0] == PAPYRA_FUZZ_NAMED && (nl = memchr(p, '\n', n)) != NULL &&
        (size_t)(nl - p) < 40 && memchr(p, '/', (size_t)(nl - p)) == NULL &&
        memchr(p, '\0', (size_t)(nl - p)) == NULL) {
        snprintf(name, sizeof(name), "%s%.*s", base, (int)(nl - p - 1), (const char *)p + 1);
        n -= (size_t)(nl - p) + 1;
        p = nl + 1;
    } else if (i == 0) {
        snprintf(name, sizeof(name), "%s", base);
    } else {
        snprintf(name, sizeof(name), "%s.%zu", base, i);
    }
    path = papyra_fuzz_path(name);
    papyra_fuzz_write_file(path, p, n);
    free(path);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const size_t seplen = sizeof(PAPYRA_FUZZ_SEP) - 1;
    uint8_t cfg = size > 0 ? data[0] : 0;
    const uint8_t *p = size > 0 ? data + 1 : data, *end = data + size;
    char params[64], *path, *url;
    size_t i = 0;

    if (max_bytes[(cfg >> 4) & 3])
        snprintf(params, sizeof(params), "&max_files=%d&max_bytes=%s", 1 + ((cfg >> 1) & 7),
                 max_bytes[(cfg >> 4) & 3]);
    else
        snprintf(params, sizeof(params), "&max_files=%d", 1 + ((cfg >> 1) & 7));
    for (;; i++) {
        const uint8_t *q = p;

        /* The next separator, or the end. */
        while (i + 1 < PAPYRA_FUZZ_MAX_PARTS && (size_t)(end - q) >= seplen &&
               memcmp(q, PAPYRA_FUZZ_SEP, seplen) != 0)
            q++;
        if (i + 1 >= PAPYRA_FUZZ_MAX_PARTS || (size_t)(end - q) < seplen)
            q = end;
        write_part("r.log", i, p, (size_t)(q - p));
        if (q == end)
            break;
        p = q + seplen;
    }
    path = papyra_fuzz_path("r.log");
    url = papyra_fuzz_store_url(PAPYRA_BACKEND_ROTATING, path, params);
    papyra_fuzz_store_walk(url, cfg & 1 ? PAPYRA_RECOVER_QUARANTINE : PAPYRA_RECOVER_REPAIR);
    papyra_fuzz_tmpdir_clear();
    free(url);
    free(path);
    return 0;
}
