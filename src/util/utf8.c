/* SPDX-License-Identifier: MIT */
/* Strict UTF-8 decoding and validation, shared by the JSON code, the record
 * codec and the metrics labels. */
#include "util/utf8.h"

size_t
papyra__utf8_decode(const unsigned char *p, size_t n, uint32_t *cp, bool allow_surrogates)
{
    uint32_t c = p[0];
    unsigned char lo = 0x80, hi = 0xbf;
    size_t len, i;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        c &= 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        /* The second byte's range excludes overlong forms and surrogates. */
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed && !allow_surrogates)
            hi = 0x9f;
        c &= 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
        c &= 0x07;
    } else {
        return 0;
    }
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (p[i] & 0x3f);
    }
    *cp = c;
    return len;
}

size_t
papyra__utf8_invalid_at(const char *p, size_t n, bool wtf8)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t i = 0, k;
    uint32_t cp, prev = 0;

    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            prev = 0;
            continue;
        }
        k = papyra__utf8_decode(s + i, n - i, &cp, wtf8);
        if (k == 0)
            return i;
        /* A pair of surrogates is one code point: WTF-8 has only its 4-byte form. */
        if (cp >= 0xdc00 && cp <= 0xdfff && prev >= 0xd800 && prev <= 0xdbff)
            return i;
        prev = cp;
        i += k;
    }
    return n;
}

bool
papyra__utf8_valid(const char *p, size_t n)
{
    return papyra__utf8_invalid_at(p, n, false) == n;
}
