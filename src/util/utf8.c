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

bool
papyra__utf8_valid(const char *p, size_t n)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t i = 0, k;
    uint32_t cp;

    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        k = papyra__utf8_decode(s + i, n - i, &cp, false);
        if (k == 0)
            return false;
        i += k;
    }
    return true;
}
