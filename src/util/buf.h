/* SPDX-License-Identifier: MIT */
/*
 * A growable byte buffer used to build JSON lines and other output.
 *
 * A zero-initialised papyra_buf is a valid empty buffer. After every
 * successful append the data is NUL-terminated (the terminator is not counted
 * in len), so the contents can be handed to string functions directly. A
 * failed append leaves the buffer exactly as it was.
 */
#ifndef PAPYRA_BUF_H
#define PAPYRA_BUF_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#if defined(__GNUC__) || defined(__clang__)
#define PAPYRA__PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define PAPYRA__PRINTF(fmt, args)
#endif

typedef struct papyra_buf {
    char *data; /* NULL until the first allocation. */
    size_t len; /* Bytes in use, not counting the NUL terminator. */
    size_t cap; /* Bytes allocated, including room for the terminator. */
} papyra_buf;

/* Makes room for at least extra more bytes (plus the terminator). */
int papyra__buf_reserve(papyra_buf *b, size_t extra);

/* Appends n bytes, which may contain NUL bytes. */
int papyra__buf_append(papyra_buf *b, const void *p, size_t n);

/* Appends a NUL-terminated string without its terminator. */
int papyra__buf_puts(papyra_buf *b, const char *s);

/* Appends one byte. */
int papyra__buf_putc(papyra_buf *b, char c);

/* Appends printf-style formatted text. */
int papyra__buf_appendf(papyra_buf *b, const char *fmt, ...) PAPYRA__PRINTF(2, 3);

/* Empties the buffer but keeps its memory for reuse. */
void papyra__buf_reset(papyra_buf *b);

/* Releases the memory and leaves an empty buffer. NULL is a no-op. */
void papyra__buf_free(papyra_buf *b);

/*
 * Hands the contents over as a malloc'd NUL-terminated string (an empty
 * string if nothing was appended) and leaves the buffer empty. Returns NULL
 * on allocation failure, in which case the buffer is unchanged.
 */
char *papyra__buf_steal(papyra_buf *b);

/*
 * A spare buffer kept between calls, for one user at a time: borrow() hands
 * out @p spare (emptied) when @p busy was clear, else a fresh @p own; give()
 * returns it (a spare grown past 1 MiB is freed rather than kept) or frees
 * @p own. A writer so allocates nothing once the spare has grown to size.
 */
papyra_buf *papyra__buf_borrow(papyra_buf *spare, atomic_bool *busy, papyra_buf *own);
void papyra__buf_give(papyra_buf *spare, atomic_bool *busy, papyra_buf *b);

#endif /* PAPYRA_BUF_H */
