/* SPDX-License-Identifier: MIT */
/*
 * The line readers of the file backends: one forward (oldest line first,
 * numbered) and one backward (newest line first), both streaming a file
 * descriptor with pread(2) through a buffer that only grows to hold the
 * longest line, so memory does not grow with the file. They never use or
 * move the descriptor's offset.
 *
 * Where a line ends is the one thing the backends' formats disagree on, so
 * it is a flag of the reader rather than a reader of its own.
 */
#ifndef PAPYRA_FILES_LINES_H
#define PAPYRA_FILES_LINES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef enum papyra__newlines {
    /*
     * Lines end at "\n"; a "\r" before it stays in the line (the JSON parser
     * takes it as whitespace) and a lone "\r" ends nothing: json: files.
     */
    PAPYRA__NL_LF,
    /* "\n", "\r\n" or a lone "\r", as Python's universal newlines: rotating: files. */
    PAPYRA__NL_UNIVERSAL,
} papyra__newlines;

typedef struct papyra__line {
    const char *p;   /* the bytes, without the terminator; valid until the next call */
    size_t len;      /* bytes at p */
    size_t stored;   /* bytes in the file, terminator included */
    bool terminated; /* false only for a last line without a terminator */
    uint64_t lineno; /* 1-based; forward reader only (0 backward) */
} papyra__line;

/*
 * The offset of the first line end in p[0..n) ("\n", or "\n" or "\r" with
 * universal newlines), or n when there is none. A "\r\n" is the reader's to
 * see: this finds its "\r".
 */
size_t papyra__line_end(const char *p, size_t n, papyra__newlines nl);

/*
 * The offset just after the last line end in p[0..n) (by the same rules: of
 * a "\r\n" this finds its "\n"), or 0 when there is none: where the last
 * line of p[0..n) starts.
 */
size_t papyra__line_start(const char *p, size_t n, papyra__newlines nl);

/* Oldest line first. */
typedef struct papyra__line_reader {
    int fd;
    bool owns_fd; /* papyra__lines_open() opened it; papyra__lines_free() closes it */
    papyra__newlines nl;
    off_t off;   /* where the next read starts */
    off_t limit; /* read no further than this offset; -1: to the end */
    char *buf;
    size_t cap, start, end;
    bool eof;
    uint64_t lineno;
} papyra__line_reader;

/*
 * Reads @p fd (not owned) from offset 0, up to @p limit bytes (what lies
 * beyond was appended after a snapshot), or to its end when @p limit is -1.
 */
void papyra__lines_init(papyra__line_reader *r, int fd, off_t limit, papyra__newlines nl);

/* Opens @p path and reads it to its end: 1, 0 when it does not exist (r is then empty), or an
 * error. */
int papyra__lines_open(papyra__line_reader *r, const char *path, papyra__newlines nl);

/* 1 and the next line, 0 at the end, or a negative PAPYRA_E* code. */
int papyra__lines_next(papyra__line_reader *r, papyra__line *line);

void papyra__lines_free(papyra__line_reader *r);

/* Newest line first. */
typedef struct papyra__rline_reader {
    int fd;
    papyra__newlines nl;
    char *buf;
    size_t cap;
    uint64_t lo; /* file offset of buf[0]; buf holds [lo, hi) */
    uint64_t hi; /* lines before hi are still to read */
} papyra__rline_reader;

/* Reads the first @p size bytes of @p fd (not owned) backwards. */
void papyra__rlines_init(papyra__rline_reader *r, int fd, uint64_t size, papyra__newlines nl);

/*
 * 1 and the previous line, 0 at the start of the file, or a negative
 * PAPYRA_E* code (PAPYRA_EIO when the file shrank below the size given).
 */
int papyra__rlines_next(papyra__rline_reader *r, papyra__line *line);

void papyra__rlines_free(papyra__rline_reader *r);

#endif /* PAPYRA_FILES_LINES_H */
