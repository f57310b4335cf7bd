/* SPDX-License-Identifier: MIT */
/*
 * How the conformance suite (test-conformance.c) knows what a call must
 * have counted: what the call did (an outcome), the spec's rule for every
 * counter, and the seed's own statement of its ten; see conformance-count.c.
 */
#ifndef PAPYRA_CONFORMANCE_COUNT_H
#define PAPYRA_CONFORMANCE_COUNT_H

#include <stdbool.h>
#include <stdint.h>

#include <papyra/store.h>

#include "conformance-util.h"

/*
 * What one call did: whether it failed, and the facts the spec's `counts`
 * rules count by (records stored or returned, anomalies observed, scans run,
 * and for recover and compact what their reports say: see recovered() and
 * compacted()). A fact left out is 0.
 */
typedef struct outcome {
    bool failed;
    int records, anomalies, scans;
    uint64_t remaining, repaired, quarantined; /* recover */
    uint64_t removed, kept, reclaimed;         /* compact */
} outcome;

/* A recover's outcome: its scans and anomalies, the rest from its report. */
outcome recovered(const papyra_recovery_report *rep, int scans, int anomalies);

/*
 * A successful compaction's outcome: its anomalies, and the records retention
 * removed (@p removed, stated by the caller from what it stored), the rest
 * from its report.
 */
outcome compacted(const papyra_compaction_report *rep, int anomalies, uint64_t removed);

/*
 * Checks the counters after a call of operation @p op (PAPYRA_OPERATION_*)
 * with outcome @p o: every counter's delta computed from the spec's rule,
 * each seed counter's rule held to the seed's statement, unsupported
 * counters still and read so; then takes the counters afresh.
 */
void observe(ctx *c, unsigned op, outcome o);

#endif /* PAPYRA_CONFORMANCE_COUNT_H */
