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

/* Significant digits that always identify a double. */
#define MAX_DIGITS 17

/* 2^53: below it every integral double is printed from its integer value. */
#define EXACT_INT_LIMIT 9007199254740992.0

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

/*
 * Reads "%.*e" output: the digits (skipping the locale's radix character,
 * whatever it is) and the decimal exponent. Returns the digit count.
 */
static int
read_e_format(const char *text, char *digits, int *exp10)
{
    const char *p = text;
    int n = 0;

    while (*p && *p != 'e') {
        if (*p >= '0' && *p <= '9')
            digits[n++] = *p;
        p++;
    }
    *exp10 = *p == 'e' ? atoi(p + 1) : 0;
    return n;
}

/* Reads p significant digits with exponent exp10 back as a double. */
static double
read_back(const char *digits, int p, int exp10)
{
    double back = 0;

    while (p > 1 && digits[p - 1] == '0')
        p--;
    if (papyra__json_decimal_to_double(false, digits, (size_t)p, NULL, 0, exp10 - (p - 1), &back) <
        0)
        return -1;
    return back;
}

/* Adds one unit in the last of p digits. */
static void
increment(char *digits, int p, int *exp10)
{
    int i;

    for (i = p - 1; i >= 0; i--) {
        if (digits[i] != '9') {
            digits[i]++;
            return;
        }
        digits[i] = '0';
    }
    digits[0] = '1';
    (*exp10)++;
}

/*
 * Whether the p digits read back as x. If they fall short of x, the p-digit
 * number above is tried too: at a power of two the gap to the next double is
 * twice the gap to the previous one, so the candidate above can succeed where
 * the nearer one below fails. repr() takes it then, being shortest.
 */
static bool
round_trips(char *digits, int p, int *exp10, double x)
{
    double back = read_back(digits, p, *exp10);

    if (back == x)
        return true;
    if (back > x)
        return false;
    increment(digits, p, exp10);
    return read_back(digits, p, *exp10) == x;
}

/* Rounds the 17 digits of d17 to p digits (carrying into *exp10). */
static void
round_digits(const char *d17, int p, char *digits, int *exp10)
{
    memcpy(digits, d17, (size_t)p);
    if (p < MAX_DIGITS && d17[p] >= '5')
        increment(digits, p, exp10);
}

/*
 * Finds the shortest digits that read back as x (finite, > 0), as repr()
 * does: the smallest precision p for which x rounded to p digits (or, see
 * round_trips(), the p-digit number just above) reads back as x. Rounding to
 * p digits is done on one 17-digit conversion; that equals rounding x itself
 * unless the dropped digits are exactly "50...0", so printf rounds x again in
 * that case.
 */
static int
shortest_digits(double x, char *digits, int *exp10)
{
    char text[64], d17[MAX_DIGITS + 1], alt[MAX_DIGITS + 1];
    int e17, p, i, e;
    bool tie;

    snprintf(text, sizeof(text), "%.*e", MAX_DIGITS - 1, x);
    if (read_e_format(text, d17, &e17) != MAX_DIGITS)
        return 0;
    for (p = 1; p < MAX_DIGITS; p++) {
        e = e17;
        tie = d17[p] == '5';
        for (i = p + 1; tie && i < MAX_DIGITS; i++)
            tie = d17[i] == '0';
        if (tie) {
            snprintf(text, sizeof(text), "%.*e", p - 1, x);
            if (read_e_format(text, alt, &e) != p)
                return 0;
            memcpy(digits, alt, (size_t)p);
        } else {
            round_digits(d17, p, digits, &e);
        }
        if (round_trips(digits, p, &e, x)) {
            *exp10 = e;
            while (p > 1 && digits[p - 1] == '0')
                p--;
            return p;
        }
    }
    memcpy(digits, d17, MAX_DIGITS);
    *exp10 = e17;
    return MAX_DIGITS;
}

/* Digits of an integral 0 < x < 2^53, without trailing zeros. */
static int
integer_digits(double x, char *digits, int *exp10)
{
    char tmp[MAX_DIGITS + 1];
    uint64_t u = (uint64_t)x;
    int n = 0, i;

    while (u > 0) {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    }
    *exp10 = n - 1;
    for (i = 0; i < n; i++)
        digits[i] = tmp[n - 1 - i];
    while (n > 1 && digits[n - 1] == '0')
        n--;
    return n;
}

/* Lays out n digits with decimal exponent exp10 the way repr(float) does. */
static int
layout(const char *digits, int n, int exp10, bool neg, papyra_buf *out)
{
    char text[MAX_DIGITS + 32];
    int len = 0, decpt = exp10 + 1, i;

    if (neg)
        text[len++] = '-';
    if (exp10 < -4 || exp10 >= 16) {
        text[len++] = digits[0];
        if (n > 1) {
            text[len++] = '.';
            memcpy(text + len, digits + 1, (size_t)(n - 1));
            len += n - 1;
        }
        len += snprintf(text + len, sizeof(text) - (size_t)len, "e%c%02d", exp10 < 0 ? '-' : '+',
                        exp10 < 0 ? -exp10 : exp10);
    } else if (decpt <= 0) {
        text[len++] = '0';
        text[len++] = '.';
        for (i = decpt; i < 0; i++)
            text[len++] = '0';
        memcpy(text + len, digits, (size_t)n);
        len += n;
    } else if (decpt < n) {
        memcpy(text + len, digits, (size_t)decpt);
        len += decpt;
        text[len++] = '.';
        memcpy(text + len, digits + decpt, (size_t)(n - decpt));
        len += n - decpt;
    } else {
        memcpy(text + len, digits, (size_t)n);
        len += n;
        for (i = n; i < decpt; i++)
            text[len++] = '0';
        text[len++] = '.';
        text[len++] = '0';
    }
    return papyra__buf_append(out, text, (size_t)len);
}

int
papyra__json_write_double(double d, papyra_buf *out)
{
    char digits[MAX_DIGITS + 1];
    double x = fabs(d);
    int n, exp10;

    if (isnan(d))
        return papyra__buf_puts(out, "NaN");
    if (isinf(d))
        return papyra__buf_puts(out, d > 0 ? "Infinity" : "-Infinity");
    if (x == 0)
        return papyra__buf_puts(out, signbit(d) ? "-0.0" : "0.0");
    if (x < EXACT_INT_LIMIT && x == floor(x))
        n = integer_digits(x, digits, &exp10);
    else
        n = shortest_digits(x, digits, &exp10);
    if (n == 0)
        return PAPYRA_EINVAL;
    return layout(digits, n, exp10, signbit(d) != 0, out);
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
