/* SPDX-License-Identifier: MIT */
/* Forward and backward line readers over a file descriptor (see jsonl.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <papyra/common.h>

#include "backends/json/jsonl.h"
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
papyra__fwd_init(papyra__fwd_reader *r, int fd)
{
    memset(r, 0, sizeof(*r));
    r->fd = fd;
    r->limit = -1;
}

void
papyra__fwd_limit(papyra__fwd_reader *r, off_t size)
{
    r->limit = size;
}

int
papyra__fwd_next(papyra__fwd_reader *r, papyra__line *line)
{
    size_t scanned = 0;

    for (;;) {
        char *nl =
            r->buf ? memchr(r->buf + r->start + scanned, '\n', r->end - r->start - scanned) : NULL;
        ssize_t k;
        size_t want = CHUNK;
        int e;

        if (nl || (r->eof && r->end > r->start)) {
            size_t len = nl ? (size_t)(nl - (r->buf + r->start)) : r->end - r->start;
            line->p = r->buf + r->start;
            line->len = len;
            line->stored = len + (nl ? 1 : 0);
            line->terminated = nl != NULL;
            line->lineno = ++r->lineno;
            r->start += line->stored;
            return 1;
        }
        if (r->eof)
            return 0;
        scanned = r->end - r->start;
        if (r->start > 0) {
            memmove(r->buf, r->buf + r->start, scanned);
            r->end = scanned;
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
papyra__fwd_free(papyra__fwd_reader *r)
{
    free(r->buf);
    r->buf = NULL;
}

void
papyra__rev_init(papyra__rev_reader *r, int fd, off_t size)
{
    memset(r, 0, sizeof(*r));
    r->fd = fd;
    r->pos = size;
    r->first = true;
}

/* The last '\n' in p[0..n), or NULL. */
static char *
last_newline(char *p, size_t n)
{
    while (n-- > 0) {
        if (p[n] == '\n')
            return p + n;
    }
    return NULL;
}

int
papyra__rev_next(papyra__rev_reader *r, papyra__line *line)
{
    for (;;) {
        size_t chunk;
        ssize_t k;
        int e;

        if (r->len > 0) {
            bool term = r->buf[r->len - 1] == '\n';
            size_t cend = term ? r->len - 1 : r->len;
            char *nl = last_newline(r->buf, cend);

            if (nl || r->pos == 0) {
                size_t begin = nl ? (size_t)(nl - r->buf) + 1 : 0;
                line->p = r->buf + begin;
                line->len = cend - begin;
                line->stored = r->len - begin;
                line->terminated = term;
                line->lineno = 0;
                r->len = begin;
                r->first = false;
                return 1;
            }
        } else if (r->pos == 0) {
            return 0;
        }
        chunk = (size_t)r->pos < CHUNK ? (size_t)r->pos : CHUNK;
        e = grow(&r->buf, &r->cap, r->len + chunk);
        if (e < 0)
            return e;
        memmove(r->buf + chunk, r->buf, r->len);
        k = pread_full(r->fd, r->buf, chunk, r->pos - (off_t)chunk);
        if (k < 0)
            return (int)k;
        if ((size_t)k != chunk)
            return PAPYRA_EIO; /* the file shrank under us */
        r->pos -= (off_t)chunk;
        r->len += chunk;
    }
}

void
papyra__rev_free(papyra__rev_reader *r)
{
    free(r->buf);
    r->buf = NULL;
}
