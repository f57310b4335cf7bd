/* SPDX-License-Identifier: MIT */
/*
 * The layout rule of papyra_metrics_snapshot across versions (the
 * size-versioned entry points of <papyra/metrics.h>).
 *
 * A snapshot is the fixed header fields (backend .. reset_count), then
 * uint64_t value[N], uint64_t total[N] and uint8_t state[N], padded to the
 * struct's alignment. N is the counter count of the header the caller was
 * compiled with; counters are only ever appended to the spec, so counter i
 * means the same in every N. The caller says how big its struct is, and the
 * library reads or writes exactly that many bytes.
 */
#ifndef PAPYRA_METRICS_SNAPSHOT_H
#define PAPYRA_METRICS_SNAPSHOT_H

#include <stddef.h>

#include <papyra/metrics.h>

/* The most counters a snapshot may hold, as the generator allows. */
#define PAPYRA__SNAPSHOT_MAX_COUNTERS 4096

/* The size of a snapshot of @p n counters. */
size_t papyra__snapshot_size(int n);

/* The counters a snapshot of @p size bytes holds, or -1 when no count gives that size. */
int papyra__snapshot_count(size_t size);

/*
 * Copies the caller's snapshot @p src of @p n counters into @p full, of this
 * build's layout. Returns how many of this build's counters it holds,
 * min(n, PAPYRA_METRIC_COUNT); the others are zero and PAPYRA_METRIC_ABSENT.
 */
int papyra__snapshot_import(papyra_metrics_snapshot *full, const void *src, int n);

/*
 * Writes @p full into the caller's snapshot @p dst of @p n counters, all of
 * its papyra__snapshot_size(n) bytes and nothing past them. Counters this
 * build does not know come out zero and PAPYRA_METRIC_ABSENT.
 */
void papyra__snapshot_export(void *dst, int n, const papyra_metrics_snapshot *full);

#endif /* PAPYRA_METRICS_SNAPSHOT_H */
