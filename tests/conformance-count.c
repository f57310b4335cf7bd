/* SPDX-License-Identifier: MIT */
/*
 * The conformance suite's expected counter deltas. No delta is written per
 * check: observe() computes every counter's delta from the spec's rule
 * (papyra_metric_info: operations, counts.when, counts.by) and what the call
 * did, and holds the seed's ten counters to seed_delta(), written here by
 * hand from the seed, so the rules cannot drift from it.
 */
#include "conformance-count.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <papyra/store.h>

#include "store-testutil.h"

/*
 * Checks the counters against @p cand for operation @p op: the spec must
 * allow every move, and unsupported counters stay still and read so.
 */
static void
expect(ctx *c, unsigned op, const int cand[PAPYRA_METRIC_COUNT])
{
    uint64_t delta[PAPYRA_METRIC_COUNT];
    papyra_metrics_snapshot snap;
    int i;

    assert_int_equal(papyra_metrics_read(papyra_store_metrics(c->s), &snap), 0);
    for (i = 0; i < PAPYRA_METRIC_COUNT; i++) {
        const papyra_metric_info *info = papyra_metric_get(i);
        bool sup = papyra_metric_supported(c->bc->id, i);

        if (cand[i] != 0 && !(info->operations & op))
            fail_msg("%s: the spec does not let operation %#x move %s", c->bc->name, op,
                     info->name);
        delta[i] = sup ? (uint64_t)cand[i] : 0;
        assert_int_equal(snap.state[i], sup ? PAPYRA_METRIC_OK : PAPYRA_METRIC_UNSUPPORTED);
    }
    st_assert_delta(c->s, c->before, delta);
    st_counters(c->s, c->before);
}

/* A recover's outcome: its scans and anomalies, the rest from its report. */
outcome
recovered(const papyra_recovery_report *rep, int scans, int anomalies)
{
    return (outcome){.scans = scans,
                     .anomalies = anomalies,
                     .remaining = rep && rep->after ? rep->after->count : 0,
                     .repaired = rep ? rep->n_repaired : 0,
                     .quarantined = rep ? rep->n_quarantined : 0};
}

/*
 * A successful compaction's outcome: its anomalies, and the records retention
 * removed (@p removed, stated by the caller from what it stored), the rest
 * from its report.
 */
outcome
compacted(const papyra_compaction_report *rep, int anomalies, uint64_t removed)
{
    return (outcome){.anomalies = anomalies,
                     .removed = removed,
                     .kept = rep->after_records,
                     .reclaimed = rep->after_bytes >= 0 && rep->before_bytes > rep->after_bytes
                                      ? (uint64_t)(rep->before_bytes - rep->after_bytes)
                                      : 0};
}

/*
 * The seed's own statement of its ten counters (persistence-metrics.txt and
 * DESIGN section 3), written here by hand and not read from the spec: what
 * a call with outcome @p o of operation @p op must add to the counter named
 * @p name. -1 for a counter the seed does not name. observe() holds the
 * spec's rule for each of these to this statement, so the rules cannot
 * drift from the seed while the code follows them.
 */
static int64_t
seed_delta(const char *name, unsigned op, outcome o)
{
    bool w = op == PAPYRA_OPERATION_WRITE, r = op == PAPYRA_OPERATION_READ;
    bool s = op == PAPYRA_OPERATION_SCAN, rec = op == PAPYRA_OPERATION_RECOVER;
    bool c = op == PAPYRA_OPERATION_COMPACT;

    if (strcmp(name, "records_written") == 0) /* +n stored, a failed batch's stored part too */
        return w ? o.records : 0;
    if (strcmp(name, "write_errors") == 0)
        return w && o.failed;
    if (strcmp(name, "records_read") == 0) /* +n returned by a call that succeeded */
        return r && !o.failed ? o.records : 0;
    if (strcmp(name, "read_errors") == 0)
        return r && o.failed;
    if (strcmp(name, "scan_operations") == 0) /* each scan started, recover's too */
        return s || rec ? o.scans : 0;
    if (strcmp(name, "anomaly_detected") == 0)
        return r || s || rec || c ? o.anomalies : 0;
    if (strcmp(name, "recovery_attempts") == 0)
        return rec;
    if (strcmp(name, "recovery_failures") == 0) /* an error, or anomalies left behind */
        return rec && o.failed;
    if (strcmp(name, "compactions_triggered") == 0)
        return c;
    if (strcmp(name, "compaction_errors") == 0)
        return c && o.failed;
    return -1;
}

/*
 * Checks the counters after a call of operation @p op with outcome @p o:
 * the expected delta of every counter is computed from the spec (its
 * operations and its counts.when and counts.by), none is written here.
 */
void
observe(ctx *c, unsigned op, outcome o)
{
    int cand[PAPYRA_METRIC_COUNT] = {0};

    for (int i = 0; i < PAPYRA_METRIC_COUNT; i++) {
        const papyra_metric_info *info = papyra_metric_get(i);

        if (!(info->operations & op))
            continue;
        if ((info->counts_when == PAPYRA_COUNT_SUCCESS && o.failed) ||
            (info->counts_when == PAPYRA_COUNT_FAILURE && !o.failed))
            continue;
        switch (info->counts_by) {
        case PAPYRA_COUNT_BY_ONE:
            cand[i] = 1;
            break;
        case PAPYRA_COUNT_BY_RECORDS_STORED:
        case PAPYRA_COUNT_BY_RECORDS_RETURNED:
            cand[i] = o.records;
            break;
        case PAPYRA_COUNT_BY_ANOMALIES:
            cand[i] = o.anomalies;
            break;
        case PAPYRA_COUNT_BY_SCANS:
            cand[i] = o.scans;
            break;
        case PAPYRA_COUNT_BY_ANOMALIES_REMAINING:
            cand[i] = (int)o.remaining;
            break;
        case PAPYRA_COUNT_BY_REPAIRED:
            cand[i] = (int)o.repaired;
            break;
        case PAPYRA_COUNT_BY_QUARANTINED:
            cand[i] = (int)o.quarantined;
            break;
        case PAPYRA_COUNT_BY_RECORDS_REMOVED:
            cand[i] = (int)o.removed;
            break;
        case PAPYRA_COUNT_BY_RECORDS_KEPT:
            cand[i] = (int)o.kept;
            break;
        case PAPYRA_COUNT_BY_BYTES_RECLAIMED:
            cand[i] = (int)o.reclaimed;
            break;
        default:
            fail_msg("%s: counts.by %d is a fact this suite does not know yet: add it to "
                     "outcome and observe()",
                     info->name, (int)info->counts_by);
        }
    }
    for (int i = 0; i < PAPYRA_METRIC_COUNT; i++) {
        const papyra_metric_info *info = papyra_metric_get(i);
        int64_t want = seed_delta(info->name, op, o);

        if (want >= 0 && want != cand[i])
            fail_msg("%s: the spec's rule gives %d for operation %#x, the seed says %lld",
                     info->name, cand[i], op, (long long)want);
    }
    expect(c, op, cand);
}
