/* SPDX-License-Identifier: MIT */
/* Small helpers every layer may use: the wall clock, its RFC 3339 form, hashing. */
#ifndef PAPYRA_UTIL_H
#define PAPYRA_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Formats epoch nanoseconds as RFC 3339 UTC with milliseconds. */
int papyra__format_rfc3339(int64_t ns, char *buf, size_t size);

/* CLOCK_REALTIME in nanoseconds. */
int64_t papyra__now_ns(void);

/* FNV-1a 64, in one go or continued from a previous value (start: PAPYRA__FNV1A64_INIT). */
#define PAPYRA__FNV1A64_INIT UINT64_C(0xcbf29ce484222325)
uint64_t papyra__fnv1a64(const void *data, size_t n);
uint64_t papyra__fnv1a64_update(uint64_t h, const void *data, size_t n);

#endif /* PAPYRA_UTIL_H */
