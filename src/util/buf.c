/* SPDX-License-Identifier: MIT */
#include "util/buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <papyra/common.h>

/* Smallest allocation, so that short lines do not reallocate repeatedly. */
#define BUF_MIN_CAP 64

int
papyra__buf_reserve(papyra_buf *b, size_t extra)
{
    size_t need, cap;
    char *p;

    /* One more byte than requested is always kept for the NUL terminator. */
    if (extra > SIZE_MAX - 1 - b->len)
        return PAPYRA_ENOMEM;
    need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;

    cap = b->cap < BUF_MIN_CAP ? BUF_MIN_CAP : b->cap;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    p = realloc(b->data, cap);
    if (!p)
        return PAPYRA_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int
papyra__buf_append(papyra_buf *b, const void *p, size_t n)
{
    int r = papyra__buf_reserve(b, n);

    if (r < 0)
        return r;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int
papyra__buf_puts(papyra_buf *b, const char *s)
{
    return papyra__buf_append(b, s, strlen(s));
}

int
papyra__buf_putc(papyra_buf *b, char c)
{
    return papyra__buf_append(b, &c, 1);
}

int
papyra__buf_appendf(papyra_buf *b, const char *fmt, ...)
{
    va_list ap;
    char small[256];
    int n, r;

    /* Format into a stack buffer first: most calls fit and need one pass. */
    va_start(ap, fmt);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return PAPYRA_EINVAL;
    if ((size_t)n < sizeof(small))
        return papyra__buf_append(b, small, (size_t)n);

    r = papyra__buf_reserve(b, (size_t)n);
    if (r < 0)
        return r;
    va_start(ap, fmt);
    n = vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->data[b->len] = '\0';
        return PAPYRA_EINVAL;
    }
    b->len += (size_t)n;
    return 0;
}

void
papyra__buf_reset(papyra_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void
papyra__buf_free(papyra_buf *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

char *
papyra__buf_steal(papyra_buf *b)
{
    char *s;

    if (!b->data) {
        s = malloc(1);
        if (s)
            s[0] = '\0';
        return s;
    }
    s = b->data;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return s;
}

papyra_buf *
papyra__buf_borrow(papyra_buf *spare, atomic_bool *busy, papyra_buf *own)
{
    if (!atomic_exchange_explicit(busy, true, memory_order_acquire)) {
        papyra__buf_reset(spare);
        return spare;
    }
    memset(own, 0, sizeof(*own));
    return own;
}

void
papyra__buf_give(papyra_buf *spare, atomic_bool *busy, papyra_buf *b)
{
    if (b != spare) {
        papyra__buf_free(b);
        return;
    }
    if (b->cap > ((size_t)1 << 20))
        papyra__buf_free(b);
    atomic_store_explicit(busy, false, memory_order_release);
}
