/* SPDX-License-Identifier: MIT */
/* The snapshot layout of every counter count (metrics/snapshot.h). */
#include "metrics/snapshot.h"

#include <stdint.h>
#include <string.h>

#include <papyra/metrics.h>

/* Where the per-counter arrays start, and what the struct is padded to. */
#define HEAD offsetof(papyra_metrics_snapshot, value)
#define ALIGN _Alignof(papyra_metrics_snapshot)
/* The bytes each counter adds: value, total and state. */
#define PER_COUNTER (2 * sizeof(uint64_t) + sizeof(uint8_t))

_Static_assert(offsetof(papyra_metrics_snapshot, total) ==
                   HEAD + PAPYRA_METRIC_COUNT * sizeof(uint64_t),
               "total[] follows value[]");
_Static_assert(offsetof(papyra_metrics_snapshot, state) ==
                   HEAD + 2 * PAPYRA_METRIC_COUNT * sizeof(uint64_t),
               "state[] follows total[]");
_Static_assert(sizeof(papyra_metrics_snapshot) ==
                   (HEAD + PAPYRA_METRIC_COUNT * PER_COUNTER + ALIGN - 1) / ALIGN * ALIGN,
               "the snapshot is its arrays padded to its alignment");
/* Padding is less than one counter's bytes, so each size has one count. */
_Static_assert(ALIGN <= PER_COUNTER, "one counter count per size");
_Static_assert(HEAD % _Alignof(uint64_t) == 0, "value[] is aligned in every layout");
/* Counters are only appended: the 0.1.0 ones are always the first. */
_Static_assert(PAPYRA_METRIC_COUNT >= PAPYRA_METRICS_V1_COUNT, "the 0.1.0 counters are kept");

size_t
papyra__snapshot_size(int n)
{
    return (HEAD + (size_t)n * PER_COUNTER + ALIGN - 1) / ALIGN * ALIGN;
}

int
papyra__snapshot_count(size_t size)
{
    size_t n;

    if (size < HEAD + PER_COUNTER)
        return -1;
    /* The padding is shorter than PER_COUNTER, so the count is this quotient or none. */
    n = (size - HEAD) / PER_COUNTER;
    if (n > PAPYRA__SNAPSHOT_MAX_COUNTERS || papyra__snapshot_size((int)n) != size)
        return -1;
    return (int)n;
}

int
papyra__snapshot_import(papyra_metrics_snapshot *full, const void *src, int n)
{
    const char *p = src;
    size_t k = n < PAPYRA_METRIC_COUNT ? (size_t)n : PAPYRA_METRIC_COUNT;

    if (n == PAPYRA_METRIC_COUNT) {
        memcpy(full, src, sizeof(*full));
        return n;
    }
    memset(full, 0, sizeof(*full));
    memcpy(full, p, HEAD);
    memcpy(full->value, p + HEAD, k * sizeof(uint64_t));
    memcpy(full->total, p + HEAD + (size_t)n * sizeof(uint64_t), k * sizeof(uint64_t));
    memcpy(full->state, p + HEAD + 2 * (size_t)n * sizeof(uint64_t), k);
    for (size_t i = k; i < PAPYRA_METRIC_COUNT; i++)
        full->state[i] = PAPYRA_METRIC_ABSENT;
    return (int)k;
}

void
papyra__snapshot_export(void *dst, int n, const papyra_metrics_snapshot *full)
{
    char *p = dst;
    size_t k = n < PAPYRA_METRIC_COUNT ? (size_t)n : PAPYRA_METRIC_COUNT;
    char *state = p + HEAD + 2 * (size_t)n * sizeof(uint64_t);

    if (n == PAPYRA_METRIC_COUNT) {
        memcpy(dst, full, sizeof(*full));
        return;
    }
    /* Zero first: padding, and the counters of a newer spec than ours. */
    memset(p, 0, papyra__snapshot_size(n));
    memcpy(p, full, HEAD);
    memcpy(p + HEAD, full->value, k * sizeof(uint64_t));
    memcpy(p + HEAD + (size_t)n * sizeof(uint64_t), full->total, k * sizeof(uint64_t));
    memcpy(state, full->state, k);
    memset(state + k, PAPYRA_METRIC_ABSENT, (size_t)n - k);
}
