/* SPDX-License-Identifier: MIT */
/*
 * The JSON writer: byte-for-byte what Python's json.dumps() produces with its
 * default separators, including repr() of floats.
 */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <papyra/common.h>

#include "json/json-private.h"
#include "json/json.h"
#include "util/buf.h"
#include "util/utf8.h"

static const char hex_digits[] = "0123456789abcdef";

/*
 * How json.dumps() writes each ASCII byte inside a string: 0 for as is,
 * otherwise the letter after the backslash ('u' meaning \u00XX). DEL (0x7f)
 * is handled apart because it depends on ensure_ascii.
 */
/* clang-format off */
static const char ascii_escape[128] = {
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'b', 't', 'n', 'u', 'f', 'r', 'u', 'u', /* 0x00 */
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', /* 0x10 */
    ['"'] = '"',
    ['\\'] = '\\',
};
/* clang-format on */

static int
put_u_escape(papyra_buf *out, uint32_t unit)
{
    char esc[6] = {'\\', 'u'};

    esc[2] = hex_digits[(unit >> 12) & 0xf];
    esc[3] = hex_digits[(unit >> 8) & 0xf];
    esc[4] = hex_digits[(unit >> 4) & 0xf];
    esc[5] = hex_digits[unit & 0xf];
    return papyra__buf_append(out, esc, sizeof(esc));
}

/* Writes the escape of one code point, as a surrogate pair above the BMP. */
static int
put_cp_escape(papyra_buf *out, uint32_t cp)
{
    int r;

    if (cp < 0x10000)
        return put_u_escape(out, cp);
    cp -= 0x10000;
    r = put_u_escape(out, 0xd800 | (cp >> 10));
    return r < 0 ? r : put_u_escape(out, 0xdc00 | (cp & 0x3ff));
}

static int
put_ascii_escape(papyra_buf *out, unsigned char c)
{
    char esc[2] = {'\\', ascii_escape[c]};

    /* DEL has no entry: it only gets here with ensure_ascii. */
    if (esc[1] == 'u' || esc[1] == 0)
        return put_u_escape(out, c);
    return papyra__buf_append(out, esc, sizeof(esc));
}

/*
 * Writes a string body. Runs of bytes that need no escape are copied in one
 * go. Non-ASCII input must be WTF-8 (papyra__utf8_invalid_at()): UTF-8 plus
 * lone surrogates, which are always escaped since UTF-8 cannot carry them.
 */
static int
write_string_body(const unsigned char *s, size_t n, bool ascii, papyra_buf *out)
{
    size_t i = 0, run = 0, k;
    uint32_t cp;
    int r;
    bool after_high = false; /* the last code point was a high surrogate */

    while (i < n) {
        unsigned char c = s[i];

        if (c < 0x80 && (c == 0x7f ? !ascii : ascii_escape[c] == 0)) {
            i++;
            after_high = false;
            continue;
        }
        k = 1;
        cp = c;
        if (c >= 0x80) {
            k = papyra__utf8_decode(s + i, n - i, &cp, true);
            /* Written as \udxxx\udxxx, a high and a low surrogate would read back as one. */
            if (k == 0 || (after_high && cp >= 0xdc00 && cp <= 0xdfff))
                return PAPYRA_EINVAL;
        }
        after_high = cp >= 0xd800 && cp <= 0xdbff;
        if (c >= 0x80 && !ascii && (cp < 0xd800 || cp > 0xdfff)) {
            i += k;
            continue;
        }
        r = papyra__buf_append(out, s + run, i - run);
        if (r < 0)
            return r;
        r = c < 0x80 ? put_ascii_escape(out, c) : put_cp_escape(out, cp);
        if (r < 0)
            return r;
        i += k;
        run = i;
    }
    return papyra__buf_append(out, s + run, i - run);
}

static int
write_string(const char *s, size_t n, bool ascii, papyra_buf *out)
{
    int r;

    /* Reserve for the common case of nothing to escape. */
    r = papyra__buf_reserve(out, n + 2);
    if (r < 0)
        return r;
    r = papyra__buf_putc(out, '"');
    if (r < 0)
        return r;
    r = write_string_body((const unsigned char *)s, n, ascii, out);
    if (r < 0)
        return r;
    return papyra__buf_putc(out, '"');
}

int
papyra__json_write_double(double d, papyra_buf *out)
{
    char text[PAPYRA__JSON_DOUBLE_MAX];

    return papyra__buf_append(out, text, papyra__json_format_double(d, text));
}

static int
write_int(int64_t i, papyra_buf *out)
{
    char tmp[24];
    uint64_t u = i < 0 ? (uint64_t)0 - (uint64_t)i : (uint64_t)i;
    size_t n = sizeof(tmp);

    do {
        tmp[--n] = (char)('0' + u % 10);
        u /= 10;
    } while (u > 0);
    if (i < 0)
        tmp[--n] = '-';
    return papyra__buf_append(out, tmp + n, sizeof(tmp) - n);
}

/* Writes a value that has no children (an empty array or object included). */
static int
write_leaf(const papyra_json *v, bool ascii, papyra_buf *out)
{
    switch (v->type) {
    case PAPYRA_JSON_NULL:
        return papyra__buf_append(out, "null", 4);
    case PAPYRA_JSON_FALSE:
        return papyra__buf_append(out, "false", 5);
    case PAPYRA_JSON_TRUE:
        return papyra__buf_append(out, "true", 4);
    case PAPYRA_JSON_INT:
        return write_int(v->u.i, out);
    case PAPYRA_JSON_BIGINT:
        return papyra__buf_append(out, v->u.s.p, v->u.s.n);
    case PAPYRA_JSON_FLOAT:
        return papyra__json_write_double(v->u.f, out);
    case PAPYRA_JSON_STRING:
        return write_string(v->u.s.p, v->u.s.n, ascii, out);
    case PAPYRA_JSON_ARRAY:
        return papyra__buf_append(out, "[]", 2);
    case PAPYRA_JSON_OBJECT:
        return papyra__buf_append(out, "{}", 2);
    }
    return PAPYRA_EINVAL;
}

/*
 * Writes a tree of any depth in document order with an explicit stack of
 * open containers (papyra_json_path), never by recursion.
 */
static int
write_value(const papyra_json *v, bool ascii, papyra_buf *out)
{
    papyra_json_path path;
    papyra_json_cursor *top;
    bool is_obj;
    int r;

    papyra__json_path_init(&path);
    for (;;) {
        if (papyra__json_has_children(v)) {
            r = papyra__buf_putc(out, v->type == PAPYRA_JSON_OBJECT ? '{' : '[');
            if (r == 0)
                r = papyra__json_path_push(&path, v, NULL);
        } else {
            r = write_leaf(v, ascii, out);
        }
        /* Close the containers whose children are all written. */
        while (r == 0 && path.len > 0) {
            top = &path.c[path.len - 1];
            is_obj = top->v->type == PAPYRA_JSON_OBJECT;
            if (top->i < (is_obj ? top->v->u.o.n : top->v->u.a.n))
                break;
            r = papyra__buf_putc(out, is_obj ? '}' : ']');
            path.len--;
        }
        if (r < 0 || path.len == 0)
            break;
        /* The next child of the innermost open container. */
        top = &path.c[path.len - 1];
        if (top->i > 0)
            r = papyra__buf_append(out, ", ", 2);
        if (top->v->type == PAPYRA_JSON_OBJECT) {
            const papyra_json_member *m = &top->v->u.o.m[top->i];

            if (r == 0)
                r = write_string(m->key, m->keylen, ascii, out);
            if (r == 0)
                r = papyra__buf_append(out, ": ", 2);
            v = &m->value;
        } else {
            v = &top->v->u.a.items[top->i];
        }
        top->i++;
        if (r < 0)
            break;
    }
    papyra__json_path_free(&path);
    return r;
}

/* Undoes a partial write so that a failed call leaves out as it was. */
static int
finish(papyra_buf *out, size_t old_len, int r)
{
    if (r < 0 && out->data) {
        out->len = old_len;
        out->data[old_len] = '\0';
    }
    return r;
}

int
papyra__json_write(const papyra_json *v, unsigned flags, papyra_buf *out)
{
    size_t old_len;

    if (!v || !out)
        return PAPYRA_EINVAL;
    old_len = out->len;
    return finish(out, old_len, write_value(v, flags & PAPYRA_JSON_ENSURE_ASCII, out));
}

int
papyra__json_write_string(const char *s, size_t n, unsigned flags, papyra_buf *out)
{
    size_t old_len;

    if ((!s && n > 0) || !out)
        return PAPYRA_EINVAL;
    if (!s)
        s = "";
    old_len = out->len;
    return finish(out, old_len, write_string(s, n, flags & PAPYRA_JSON_ENSURE_ASCII, out));
}
