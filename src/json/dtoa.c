/* SPDX-License-Identifier: MIT */
/*
 * The one double formatter: what Python's repr(float) (and so json.dumps())
 * writes, the shortest digits that read back as the double and, among
 * equally short ones, the one closest to it (ties to an even last digit).
 *
 * The digits come from Schubfach (Raffaello Giulietti, "The Schubfach way to
 * render doubles", 2020), written here from the paper. For v = c * 2^q, the
 * doubles that read back as v fill an interval around it of width 2^q (3/4
 * of that at a power of two, whose lower neighbour is nearer); with
 * k = floor(log10(width)) the interval holds one or two multiples of 10^k
 * and at most one of 10^(k+1). One 128-bit multiplication by 10^-k scales v
 * and both ends of the interval by 10^-k, each rounded to odd (its last bit
 * says "inexact"), which keeps every comparison below exact. Then: a
 * multiple of 10^(k+1) inside is the answer (shorter); else of s = floor(v *
 * 10^-k) and s + 1, the one inside, or the nearer to v if both are.
 */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "json/dtoa-table.h"
#include "json/json.h"

/* 2^53: integral doubles below it are written from their integer value. */
#define EXACT_INT_BITS 53

/* clang-format off */
static const char two_digits[200] = {
    '0','0','0','1','0','2','0','3','0','4','0','5','0','6','0','7','0','8','0','9',
    '1','0','1','1','1','2','1','3','1','4','1','5','1','6','1','7','1','8','1','9',
    '2','0','2','1','2','2','2','3','2','4','2','5','2','6','2','7','2','8','2','9',
    '3','0','3','1','3','2','3','3','3','4','3','5','3','6','3','7','3','8','3','9',
    '4','0','4','1','4','2','4','3','4','4','4','5','4','6','4','7','4','8','4','9',
    '5','0','5','1','5','2','5','3','5','4','5','5','5','6','5','7','5','8','5','9',
    '6','0','6','1','6','2','6','3','6','4','6','5','6','6','6','7','6','8','6','9',
    '7','0','7','1','7','2','7','3','7','4','7','5','7','6','7','7','7','8','7','9',
    '8','0','8','1','8','2','8','3','8','4','8','5','8','6','8','7','8','8','8','9',
    '9','0','9','1','9','2','9','3','9','4','9','5','9','6','9','7','9','8','9','9',
};
/* clang-format on */

/* floor(log10(2^q)), floor(log10(3/4 * 2^q)), floor(log2(10^e)): exact for
 * every exponent a double needs (checked by scripts/gen-dtoa-table.py). */
static inline int
floor_log10_pow2(int q)
{
    return (q * 315653) >> 20;
}

static inline int
floor_log10_three_quarters_pow2(int q)
{
    return (q * 315653 - 131237) >> 20;
}

static inline int
floor_log2_pow10(int e)
{
    return (e * 1741647) >> 19;
}

#ifdef __SIZEOF_INT128__
__extension__ typedef unsigned __int128 dtoa_u128; /* __extension__: not ISO C */
#endif

/* The high and low 64 bits of a * b. */
static inline uint64_t
mul_64x64(uint64_t a, uint64_t b, uint64_t *lo)
{
#ifdef __SIZEOF_INT128__
    dtoa_u128 p = (dtoa_u128)a * b;

    *lo = (uint64_t)p;
    return (uint64_t)(p >> 64);
#else
    uint64_t a0 = (uint32_t)a, a1 = a >> 32, b0 = (uint32_t)b, b1 = b >> 32;
    uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    uint64_t mid = (p00 >> 32) + (uint32_t)p01 + (uint32_t)p10;

    *lo = (mid << 32) | (uint32_t)p00;
    return p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
#endif
}

/*
 * floor(g * cp / 2^128), its last bit set when the bits below are not all
 * zero (rounding to odd). g overestimates 10^e by less than one unit in its
 * last place, so only the upper 64 of the 128 low bits are looked at, and a
 * value of 0 or 1 there stands for an exact product.
 */
static inline uint64_t
round_to_odd(const uint64_t g[2], uint64_t cp)
{
    uint64_t x_lo, x_hi, y_lo, y_hi;

    x_hi = mul_64x64(g[1], cp, &x_lo);
    y_hi = mul_64x64(g[0], cp, &y_lo);
    y_lo += x_hi;
    y_hi += y_lo < x_hi;
    return y_hi | (y_lo > 1);
}

/*
 * The shortest decimal *m * 10^*e10 that reads back as c * 2^q (0 < c <
 * 2^53), the nearest to it of equally short ones. lower_closer: c = 2^52
 * and the double below is nearer than the one above (a power of two above
 * the smallest normal).
 */
static void
schubfach(uint64_t c, int q, bool lower_closer, uint64_t *m, int *e10)
{
    uint64_t out = c & 1; /* an odd c excludes the ends of its interval */
    uint64_t cb = c << 2, cbl = cb - 2 + lower_closer, cbr = cb + 2;
    int k = lower_closer ? floor_log10_three_quarters_pow2(q) : floor_log10_pow2(q);
    int h = q + floor_log2_pow10(-k) + 1; /* 1..4 */
    const uint64_t *g = dtoa_pow10[-k - DTOA_POW10_MIN];
    uint64_t vb = round_to_odd(g, cb << h);
    uint64_t vbl = round_to_odd(g, cbl << h);
    uint64_t vbr = round_to_odd(g, cbr << h);
    uint64_t s = vb >> 2, t, sp, u_in, w_in;

    if (s >= 10) {
        /* A multiple of 10^(k+1): sp * 10 or (sp + 1) * 10. */
        sp = s / 10;
        u_in = vbl + out <= sp * 40;
        w_in = (sp + 1) * 40 + out <= vbr;
        if (u_in != w_in) {
            *m = sp + w_in;
            *e10 = k + 1;
            return;
        }
    }
    t = s + 1;
    u_in = vbl + out <= s << 2;
    w_in = (t << 2) + out <= vbr;
    if (u_in != w_in) {
        *m = w_in ? t : s;
    } else {
        /* Both inside: the nearer to v, the even one at a tie. */
        uint64_t mid = (s + t) << 1;

        *m = vb < mid || (vb == mid && (s & 1) == 0) ? s : t;
    }
    *e10 = k;
}

/* Drops the trailing zeros of *m (> 0), counting them into *e10. */
static void
strip_zeros(uint64_t *m, int *e10)
{
    while (*m % 100000000 == 0) {
        *m /= 100000000;
        *e10 += 8;
    }
    if (*m % 10000 == 0) {
        *m /= 10000;
        *e10 += 4;
    }
    if (*m % 100 == 0) {
        *m /= 100;
        *e10 += 2;
    }
    if (*m % 10 == 0) {
        *m /= 10;
        *e10 += 1;
    }
}

/* Writes the n decimal digits of m (n its exact digit count) to p. */
static void
put_digits(uint64_t m, int n, char *p)
{
    while (n >= 2) {
        n -= 2;
        memcpy(p + n, two_digits + 2 * (m % 100), 2);
        m /= 100;
    }
    if (n == 1)
        p[0] = (char)('0' + m);
}

static int
digit_count(uint64_t m)
{
    int n = 1;

    while (m >= 10000) {
        m /= 10000;
        n += 4;
    }
    while (m >= 10) {
        m /= 10;
        n++;
    }
    return n;
}

size_t
papyra__json_format_double(double d, char *text)
{
    uint64_t bits, f, c, m;
    int e, q, e10, n, decpt, exp10, i;
    size_t len = 0;
    char digits[24];

    memcpy(&bits, &d, sizeof(bits));
    f = bits & ((UINT64_C(1) << 52) - 1);
    e = (int)((bits >> 52) & 0x7ff);
    if (e == 0x7ff) {
        if (f != 0) {
            memcpy(text, "NaN", 3);
            return 3;
        }
        if (bits >> 63)
            text[len++] = '-';
        memcpy(text + len, "Infinity", 8);
        return len + 8;
    }
    if (bits >> 63)
        text[len++] = '-';
    if (e == 0 && f == 0) {
        memcpy(text + len, "0.0", 3);
        return len + 3;
    }
    c = e == 0 ? f : f | (UINT64_C(1) << 52);
    q = (e == 0 ? 1 : e) - 1075;
    if (q <= 0 && q > -EXACT_INT_BITS && (c & ((UINT64_C(1) << -q) - 1)) == 0) {
        /* An integer below 2^53: its own digits are the shortest. */
        m = c >> -q;
        e10 = 0;
    } else {
        schubfach(c, q, f == 0 && e > 1, &m, &e10);
    }
    strip_zeros(&m, &e10);
    n = digit_count(m);
    put_digits(m, n, digits);
    exp10 = e10 + n - 1; /* of the first digit */
    decpt = exp10 + 1;   /* digits before the point */

    /* repr() switches to exponent form outside 1e-4 <= |d| < 1e16. */
    if (exp10 < -4 || exp10 >= 16) {
        text[len++] = digits[0];
        if (n > 1) {
            text[len++] = '.';
            memcpy(text + len, digits + 1, (size_t)(n - 1));
            len += (size_t)(n - 1);
        }
        text[len++] = 'e';
        text[len++] = exp10 < 0 ? '-' : '+';
        exp10 = exp10 < 0 ? -exp10 : exp10;
        if (exp10 >= 100) {
            text[len++] = (char)('0' + exp10 / 100);
            exp10 %= 100;
        }
        memcpy(text + len, two_digits + 2 * exp10, 2);
        len += 2;
    } else if (decpt <= 0) {
        text[len++] = '0';
        text[len++] = '.';
        for (i = decpt; i < 0; i++)
            text[len++] = '0';
        memcpy(text + len, digits, (size_t)n);
        len += (size_t)n;
    } else if (decpt < n) {
        memcpy(text + len, digits, (size_t)decpt);
        len += (size_t)decpt;
        text[len++] = '.';
        memcpy(text + len, digits + decpt, (size_t)(n - decpt));
        len += (size_t)(n - decpt);
    } else {
        memcpy(text + len, digits, (size_t)n);
        len += (size_t)n;
        for (i = n; i < decpt; i++)
            text[len++] = '0';
        text[len++] = '.';
        text[len++] = '0';
    }
    return len;
}
