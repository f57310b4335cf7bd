/* SPDX-License-Identifier: MIT */
/*
 * Reads doubles as 16-digit hex bit patterns, one a line, and prints what
 * papyra__json_write_double() writes for each, one a line. Driven by
 * tests/check_double_repr.py, which compares against Python's json.dumps().
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"
#include "util/buf.h"

int
main(void)
{
    char line[64];
    papyra_buf b = {0};

    while (fgets(line, sizeof(line), stdin)) {
        char *end;
        uint64_t bits = strtoull(line, &end, 16);
        double d;

        if (end == line || (*end != '\n' && *end != '\0')) {
            fprintf(stderr, "double-repr: not a hex bit pattern: %s", line);
            return 2;
        }
        memcpy(&d, &bits, sizeof(d));
        papyra__buf_reset(&b);
        if (papyra__json_write_double(d, &b) < 0 || papyra__buf_putc(&b, '\n') < 0) {
            fprintf(stderr, "double-repr: cannot write %016" PRIx64 "\n", bits);
            return 2;
        }
        fwrite(b.data, 1, b.len, stdout);
    }
    papyra__buf_free(&b);
    return ferror(stdin) || fflush(stdout) != 0 ? 2 : 0;
}
