/* SPDX-License-Identifier: MIT */
/* Helpers every layer may use: the wall clock, its RFC 3339 form, hashing. */
#include "util/util.h"

#include <stdio.h>
#include <time.h>

#include <papyra/common.h>

int64_t
papyra__now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int
papyra__format_rfc3339(int64_t ns, char *buf, size_t size)
{
    time_t secs = (time_t)(ns / 1000000000);
    struct tm tm;
    int n;

    if (!gmtime_r(&secs, &tm))
        return PAPYRA_EINVAL;
    n = snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)((ns % 1000000000) / 1000000));
    return n < 0 || (size_t)n >= size ? PAPYRA_EINVAL : 0;
}

uint64_t
papyra__fnv1a64_update(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;

    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

uint64_t
papyra__fnv1a64(const void *data, size_t n)
{
    return papyra__fnv1a64_update(PAPYRA__FNV1A64_INIT, data, n);
}
