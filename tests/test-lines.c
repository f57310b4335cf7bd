/* SPDX-License-Identifier: MIT */
/*
 * The line readers of the file backends (src/files/lines.c), forward and
 * backward, with both newline policies, against a plain reference splitter:
 * random files of "x", "\n" and "\r" whose line ends fall on every side of
 * the readers' 64 KiB reads (a "\r\n" split across two reads included),
 * long lines that make the buffer grow, and a read limit; and the searches
 * for the next and the previous line end alone, at every position.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "files/lines.h"
#include "testutil.h"

#define CHUNK (64 * 1024)

typedef struct ref_line {
    size_t off, len, stored;
    bool terminated;
} ref_line;

/* The lines of @p data[0..n) as the policy splits them. */
static size_t
ref_split(const char *data, size_t n, papyra__newlines nl, ref_line *out)
{
    size_t count = 0, start = 0, i = 0;

    while (i < n) {
        size_t term = 0;

        if (data[i] == '\n')
            term = 1;
        else if (data[i] == '\r' && nl == PAPYRA__NL_UNIVERSAL)
            term = i + 1 < n && data[i + 1] == '\n' ? 2 : 1;
        if (term == 0) {
            i++;
            continue;
        }
        out[count++] = (ref_line){start, i - start, i - start + term, true};
        i += term;
        start = i;
    }
    if (start < n)
        out[count++] = (ref_line){start, n - start, n - start, false};
    return count;
}

static void
check_file(const char *dir, const char *data, size_t n, papyra__newlines nl, off_t limit)
{
    size_t len = limit >= 0 ? (size_t)limit : n, count, k;
    ref_line *want = calloc(len + 1, sizeof(*want));
    char *path = papyra_test_path(dir, "lines");
    papyra__line_reader fw;
    papyra__rline_reader bw;
    papyra__line l;
    int fd;

    assert_non_null(want);
    papyra_test_write_file(path, data, n);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    count = ref_split(data, len, nl, want);

    papyra__lines_init(&fw, fd, limit, nl);
    for (k = 0; papyra__lines_next(&fw, &l) == 1; k++) {
        assert_true(k < count);
        assert_int_equal(l.len, want[k].len);
        assert_int_equal(l.stored, want[k].stored);
        assert_int_equal(l.terminated, want[k].terminated);
        assert_int_equal(l.lineno, k + 1);
        assert_memory_equal(l.p, data + want[k].off, l.len);
    }
    assert_int_equal(k, count);
    papyra__lines_free(&fw);

    papyra__rlines_init(&bw, fd, len, nl);
    for (k = count; papyra__rlines_next(&bw, &l) == 1;) {
        assert_true(k > 0);
        k--;
        assert_int_equal(l.len, want[k].len);
        assert_int_equal(l.stored, want[k].stored);
        assert_int_equal(l.terminated, want[k].terminated);
        assert_memory_equal(l.p, data + want[k].off, l.len);
    }
    assert_int_equal(k, 0);
    papyra__rlines_free(&bw);
    close(fd);
    free(path);
    free(want);
}

/* Random bytes of "x\n\r": line ends every @p spread bytes or so. */
static void
fill_random(char *data, size_t n, unsigned spread, unsigned *seed)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v = (unsigned)rand_r(seed) % spread;
        data[i] = v == 0 ? '\n' : v == 1 ? '\r' : 'x';
    }
}

static void
test_random_files(void **state)
{
    static const size_t sizes[] = {0, 1, 2, 3, 100, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17};
    static const unsigned spreads[] = {3, 40, 5000, 200000};
    unsigned seed = 7;
    char *data = malloc(3 * CHUNK + 17);

    assert_non_null(data);
    for (size_t a = 0; a < sizeof(sizes) / sizeof(sizes[0]); a++) {
        for (size_t b = 0; b < sizeof(spreads) / sizeof(spreads[0]); b++) {
            for (int nl = 0; nl < 2; nl++) {
                fill_random(data, sizes[a], spreads[b], &seed);
                check_file(*state, data, sizes[a], (papyra__newlines)nl, -1);
                if (sizes[a] > 2)
                    check_file(*state, data, sizes[a], (papyra__newlines)nl, (off_t)(sizes[a] / 2));
            }
        }
    }
    free(data);
}

/* Line ends right at the readers' read boundaries, "\r\n" split across two reads. */
static void
test_ends_at_read_boundaries(void **state)
{
    char *data = malloc(2 * CHUNK + 8);

    assert_non_null(data);
    for (int shift = -2; shift <= 2; shift++) {
        static const char *const ends[] = {"\r\n", "\n\r", "\r\r", "\n\n"};
        for (size_t e = 0; e < 4; e++) {
            size_t at = (size_t)(CHUNK + shift);
            memset(data, 'x', 2 * CHUNK + 8);
            memcpy(data + at - 1, ends[e], 2);
            /* The backward reader's boundaries are counted from the end of the file. */
            memcpy(data + 2 * CHUNK + 8 - at - 1, ends[e], 2);
            for (int nl = 0; nl < 2; nl++)
                check_file(*state, data, 2 * CHUNK + 8, (papyra__newlines)nl, -1);
        }
    }
    free(data);
}

/* The first line end in p[0..n) by the policy, one byte at a time. */
static size_t
ref_end(const char *p, size_t n, papyra__newlines nl)
{
    size_t i = 0;

    while (i < n && p[i] != '\n' && !(nl == PAPYRA__NL_UNIVERSAL && p[i] == '\r'))
        i++;
    return i;
}

/*
 * The line-end search alone: one or two of "\n", "\r" (and bytes that differ
 * from them by one bit, which a word-at-a-time search must not take for them)
 * at every pair of positions of a 64-byte window, at every alignment, with
 * every length that ends the window early; bytes past the length are line
 * ends that must not be found.
 */
static void
test_line_end_every_position(void **state)
{
    static const unsigned char ends[] = {'\n', '\r', '\n' ^ 0x80, '\r' ^ 1, '\n' ^ 1, 0};
    char mem[64 + 16 + 16];

    (void)state;
    for (size_t align = 0; align < 16; align++) {
        char *w = mem + align;
        for (size_t a = 0; a <= 64; a++) {
            for (size_t b = a; b <= 64; b++) {
                for (size_t ea = 0; ea < sizeof(ends); ea++) {
                    for (size_t eb = 0; eb < 2; eb++) {
                        memset(mem, '\n', sizeof(mem));
                        memset(w, 'x', 64);
                        if (a < 64)
                            w[a] = (char)ends[ea];
                        if (b < 64 && b > a)
                            w[b] = (char)ends[eb];
                        for (size_t n = a; n <= 64; n += n < a + 17 ? 1 : 7) {
                            for (int nl = 0; nl < 2; nl++) {
                                assert_int_equal(papyra__line_end(w, n, (papyra__newlines)nl),
                                                 ref_end(w, n, (papyra__newlines)nl));
                            }
                        }
                    }
                }
            }
        }
    }
}

/* Where the last line of p[0..n) starts by the policy, one byte at a time from the end. */
static size_t
ref_start(const char *p, size_t n, papyra__newlines nl)
{
    size_t i = n;

    while (i > 0 && p[i - 1] != '\n' && !(nl == PAPYRA__NL_UNIVERSAL && p[i - 1] == '\r'))
        i--;
    return i;
}

/*
 * The backward search alone, as the forward one: one or two line ends (or
 * bytes one bit away from them) at every pair of positions of a 64-byte
 * window, at every alignment, with every length; bytes before the window
 * and past the length are line ends that must not be found.
 */
static void
test_line_start_every_position(void **state)
{
    static const unsigned char ends[] = {'\n', '\r', '\n' ^ 0x80, '\r' ^ 1, '\n' ^ 1, 0};
    char mem[16 + 64 + 16 + 16];

    (void)state;
    for (size_t align = 0; align < 16; align++) {
        char *w = mem + 16 + align;
        for (size_t a = 0; a <= 64; a++) {
            for (size_t b = a; b <= 64; b++) {
                for (size_t ea = 0; ea < 2; ea++) {
                    for (size_t eb = 0; eb < sizeof(ends); eb++) {
                        memset(mem, '\n', sizeof(mem));
                        memset(w, 'x', 64);
                        if (a < 64)
                            w[a] = (char)ends[ea];
                        if (b < 64 && b > a)
                            w[b] = (char)ends[eb];
                        for (size_t n = 0; n <= 64;
                             n += n + 17 < a || (n > a + 17 && n + 17 < b) ? 7 : 1) {
                            for (int nl = 0; nl < 2; nl++) {
                                assert_int_equal(papyra__line_start(w, n, (papyra__newlines)nl),
                                                 ref_start(w, n, (papyra__newlines)nl));
                            }
                        }
                    }
                }
            }
        }
    }
}

/* Every byte value, alone in a window, is a line end exactly when the policy says. */
static void
test_line_end_every_byte(void **state)
{
    char w[40];

    (void)state;
    for (int c = 0; c < 256; c++) {
        for (size_t at = 0; at < sizeof(w); at++) {
            memset(w, 'x', sizeof(w));
            w[at] = (char)c;
            for (int nl = 0; nl < 2; nl++) {
                assert_int_equal(papyra__line_end(w, sizeof(w), (papyra__newlines)nl),
                                 ref_end(w, sizeof(w), (papyra__newlines)nl));
                assert_int_equal(papyra__line_start(w, sizeof(w), (papyra__newlines)nl),
                                 ref_start(w, sizeof(w), (papyra__newlines)nl));
            }
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_end_every_position),
        cmocka_unit_test(test_line_start_every_position),
        cmocka_unit_test(test_line_end_every_byte),
        PAPYRA_TEST_IN_TMPDIR(test_random_files),
        PAPYRA_TEST_IN_TMPDIR(test_ends_at_read_boundaries),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
