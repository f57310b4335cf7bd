/* SPDX-License-Identifier: MIT */
/* The forward and backward line readers of the file backends (see lines.h). */
#include "files/lines.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <papyra/common.h>

#include "util/fs.h"

#define CHUNK ((size_t)64 * 1024)

/* pread until @p n bytes or end of file; returns the count or a negative code. */
static ssize_t
pread_full(int fd, char *p, size_t n, off_t off)
{
    size_t got = 0;

    while (got < n) {
        ssize_t k = pread(fd, p + got, n - got, off + (off_t)got);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return papyra__errno_code(errno);
        }
        if (k == 0)
            break;
        got += (size_t)k;
    }
    return (ssize_t)got;
}

/* Makes room for @p need bytes in *buf. */
static int
grow(char **buf, size_t *cap, size_t need)
{
    size_t c = *cap ? *cap : CHUNK;
    char *nb;

    if (need <= *cap)
        return 0;
    while (c < need)
        c *= 2;
    nb = realloc(*buf, c);
    if (!nb)
        return PAPYRA_ENOMEM;
    *buf = nb;
    *cap = c;
    return 0;
}

void
papyra__lines_init(papyra__line_reader *r, int fd, off_t limit, papyra__newlines nl)
{
    memset(r, 0, sizeof(*r));
    r->fd = fd;
    r->limit = limit;
    r->nl = nl;
}

int
papyra__lines_open(papyra__line_reader *r, const char *path, papyra__newlines nl)
{
    int fd = papyra__open_regular(path, O_RDONLY, 0);

    papyra__lines_init(r, fd < 0 ? -1 : fd, -1, nl);
    if (fd < 0) {
        r->eof = true;
        return fd == PAPYRA_ENOENT && errno == ENOENT ? 0 : fd;
    }
    r->owns_fd = true;
    return 1;
}

/*
 * The line-end search: the bytes that may end a line are found 16 at a time
 * (SSE2, the x86-64 baseline) or 8 at a time in a uint64_t (elsewhere), "\n"
 * and, with universal newlines, "\r" in the same pass, so that each byte is
 * looked at once; the backward reader searches for the last line end the
 * same way from the end. Loads never reach outside p[0..n).
 * PAPYRA_LINES_PORTABLE picks the portable search on x86-64 too (the test
 * lines-portable).
 */
#if defined(__SSE2__) && !defined(PAPYRA_LINES_PORTABLE)
#include <emmintrin.h>

static size_t
find_end(const char *p, size_t n, bool cr)
{
    const __m128i lf = _mm_set1_epi8('\n'), crv = _mm_set1_epi8(cr ? '\r' : '\n');
    size_t i = 0;

    for (; i + 16 <= n; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        unsigned m = (unsigned)_mm_movemask_epi8(
            _mm_or_si128(_mm_cmpeq_epi8(v, lf), _mm_cmpeq_epi8(v, crv)));
        if (m)
            return i + (size_t)__builtin_ctz(m);
    }
    for (; i < n; i++) {
        if (p[i] == '\n' || (cr && p[i] == '\r'))
            return i;
    }
    return n;
}

static size_t
find_start(const char *p, size_t n, bool cr)
{
    const __m128i lf = _mm_set1_epi8('\n'), crv = _mm_set1_epi8(cr ? '\r' : '\n');
    size_t i = n;

    for (; i >= 16; i -= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i - 16));
        unsigned m = (unsigned)_mm_movemask_epi8(
            _mm_or_si128(_mm_cmpeq_epi8(v, lf), _mm_cmpeq_epi8(v, crv)));
        if (m)
            return i - 16 + (size_t)(32 - __builtin_clz(m));
    }
    for (; i > 0; i--) {
        if (p[i - 1] == '\n' || (cr && p[i - 1] == '\r'))
            return i;
    }
    return 0;
}
#else
#define ONES ((uint64_t)0x0101010101010101u)
#define HIGHS ((uint64_t)0x8080808080808080u)

/* The high bit of each byte of w that equals the byte b repeated in rep (exact: no false hits). */
static uint64_t
bytes_equal(uint64_t w, uint64_t rep)
{
    uint64_t x = w ^ rep;

    return ~(((x & ~HIGHS) + ~HIGHS) | x) & HIGHS;
}

static size_t
find_end(const char *p, size_t n, bool cr)
{
    const uint64_t lf = ONES * '\n', crv = ONES * (cr ? '\r' : '\n');
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        uint64_t w, m;
        memcpy(&w, p + i, 8);
        m = bytes_equal(w, lf) | bytes_equal(w, crv);
        if (m) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
            return i + (size_t)__builtin_clzll(m) / 8;
#else
            return i + (size_t)__builtin_ctzll(m) / 8;
#endif
        }
    }
    for (; i < n; i++) {
        if (p[i] == '\n' || (cr && p[i] == '\r'))
            return i;
    }
    return n;
}

static size_t
find_start(const char *p, size_t n, bool cr)
{
    const uint64_t lf = ONES * '\n', crv = ONES * (cr ? '\r' : '\n');
    size_t i = n;

    for (; i >= 8; i -= 8) {
        uint64_t w, m;
        memcpy(&w, p + i - 8, 8);
        m = bytes_equal(w, lf) | bytes_equal(w, crv);
        if (m) {
            /* The last of the word's line ends: its highest address. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
            return i - (size_t)__builtin_ctzll(m) / 8;
#else
            return i - 8 + (size_t)(63 - __builtin_clzll(m)) / 8 + 1;
#endif
        }
    }
    for (; i > 0; i--) {
        if (p[i - 1] == '\n' || (cr && p[i - 1] == '\r'))
            return i;
    }
    return 0;
}
#endif

size_t
papyra__line_end(const char *p, size_t n, papyra__newlines nl)
{
    return find_end(p, n, nl == PAPYRA__NL_UNIVERSAL);
}

size_t
papyra__line_start(const char *p, size_t n, papyra__newlines nl)
{
    return find_start(p, n, nl == PAPYRA__NL_UNIVERSAL);
}

int
papyra__lines_next(papyra__line_reader *r, papyra__line *line)
{
    size_t scanned = 0; /* bytes after start known to hold no line end */

    for (;;) {
        const char *base = r->buf ? r->buf + r->start : NULL;
        size_t avail = r->end - r->start;
        size_t i = avail > scanned
                       ? scanned + papyra__line_end(base + scanned, avail - scanned, r->nl)
                       : avail;
        size_t want = CHUNK, term = 1;
        ssize_t k;
        int e;

        /* A "\r" last in the buffer may be half of a "\r\n" still to read. */
        if (i < avail && base[i] == '\r' && i + 1 == avail && !r->eof) {
            scanned = i;
        } else if (i < avail || (r->eof && avail > 0)) {
            if (i + 1 < avail && base[i] == '\r' && base[i + 1] == '\n')
                term = 2;
            else if (i == avail)
                term = 0;
            line->p = base;
            line->len = i;
            line->stored = i + term;
            line->terminated = term > 0;
            line->lineno = ++r->lineno;
            r->start += line->stored;
            return 1;
        } else if (r->eof) {
            return 0;
        } else {
            scanned = avail;
        }
        if (r->start > 0) {
            memmove(r->buf, r->buf + r->start, avail);
            r->end = avail;
            r->start = 0;
        }
        e = grow(&r->buf, &r->cap, r->end + CHUNK);
        if (e < 0)
            return e;
        if (r->limit >= 0 && (off_t)want > r->limit - r->off)
            want = (size_t)(r->limit - r->off);
        k = want ? pread_full(r->fd, r->buf + r->end, want, r->off) : 0;
        if (k < 0)
            return (int)k;
        r->off += k;
        r->end += (size_t)k;
        if ((size_t)k < want || want < CHUNK)
            r->eof = true;
    }
}

void
papyra__lines_free(papyra__line_reader *r)
{
    if (r->owns_fd && r->fd >= 0)
        close(r->fd);
    r->owns_fd = false;
    free(r->buf);
    r->buf = NULL;
}

void
papyra__rlines_init(papyra__rline_reader *r, int fd, uint64_t size, papyra__newlines nl)
{
    memset(r, 0, sizeof(*r));
    r->fd = fd;
    r->nl = nl;
    r->lo = r->hi = size;
}

void
papyra__rlines_free(papyra__rline_reader *r)
{
    free(r->buf);
    r->buf = NULL;
}

/* Loads the chunk before lo in front of what the buffer holds. */
static int
rfill(papyra__rline_reader *r)
{
    uint64_t nlo = r->lo > CHUNK ? r->lo - CHUNK : 0;
    size_t add = (size_t)(r->lo - nlo), have = (size_t)(r->hi - r->lo);
    ssize_t k;
    int e = grow(&r->buf, &r->cap, have + add);

    if (e < 0)
        return e;
    memmove(r->buf + add, r->buf, have);
    k = pread_full(r->fd, r->buf, add, (off_t)nlo);
    if (k < 0)
        return (int)k;
    if ((size_t)k != add)
        return PAPYRA_EIO; /* the file shrank under us */
    r->lo = nlo;
    return 0;
}

#define RBYTE(r, off) ((r)->buf[(off) - (r)->lo])

/*
 * The file offset just after the last line end before @p end in what the
 * buffer holds, or lo when it holds none.
 */
static uint64_t
line_start(const papyra__rline_reader *r, uint64_t end)
{
    return r->lo + papyra__line_start(r->buf, (size_t)(end - r->lo), r->nl);
}

int
papyra__rlines_next(papyra__rline_reader *r, papyra__line *line)
{
    uint64_t end, i;
    size_t term = 0;
    int e;

    if (r->hi == 0)
        return 0;
    /* The last line's terminator: "\n", "\r\n" or "\r" (universal), or none at the end. */
    while (r->lo > 0 && r->hi - r->lo < 2)
        if ((e = rfill(r)) < 0)
            return e;
    if (RBYTE(r, r->hi - 1) == '\n')
        term = r->nl == PAPYRA__NL_UNIVERSAL && r->hi >= 2 && RBYTE(r, r->hi - 2) == '\r' ? 2 : 1;
    else if (RBYTE(r, r->hi - 1) == '\r' && r->nl == PAPYRA__NL_UNIVERSAL)
        term = 1;
    end = r->hi - term;
    for (i = end;;) {
        i = line_start(r, i);
        if (i > r->lo || r->lo == 0)
            break;
        if ((e = rfill(r)) < 0)
            return e;
    }
    line->p = &RBYTE(r, i);
    line->len = (size_t)(end - i);
    line->stored = line->len + term;
    line->terminated = term > 0;
    line->lineno = 0;
    r->hi = i;
    return 1;
}
