/* SPDX-License-Identifier: MIT */
/*
 * Counting from the spec's rules: an operation reports facts, and the rules
 * of spec/metrics.yaml (counts: {when, by}) turn them into counter moves.
 *
 * The generic store layer brackets every operation with an outcome:
 *
 *   papyra__outcome o;
 *   papyra__outcome_begin(&o, s->metrics, backend, PAPYRA__OP_COMPACT);
 *   ... papyra__outcome_add(&o, PAPYRA_COUNT_BY_ANOMALIES, n); ...
 *   papyra__outcome_end(&o, r < 0);
 *
 * begin reports the fact "one"; a rule with `when: always` moves its counter
 * as soon as its fact is reported (so "at its start" counts happen at the
 * start, and a process killed mid-operation has counted them); rules with
 * `when: success` or `failure` move theirs at the end, by the fact's total.
 * Only counters the backend supports move. Nothing here names a counter:
 * the rules are generated data (papyra__count_rules[], papyra__ops[]).
 *
 * An outcome lives on the caller's stack and is used by one thread.
 */
#ifndef PAPYRA_METRICS_COUNT_H
#define PAPYRA_METRICS_COUNT_H

#include <stdbool.h>
#include <stdint.h>

#include <papyra/metrics.h>

#include "metrics-inc-gen.h"
#include "metrics/metrics-private.h"

typedef struct papyra__outcome {
    papyra_metrics *m;
    uint64_t supported; /* bit per counter the backend supports */
    int op;             /* PAPYRA__OP_* */
    uint32_t reported;  /* bit per fact reported; fact[] is valid only there */
    uint64_t fact[PAPYRA_FACT_COUNT];
} papyra__outcome;

/* Applies the `always` rules of @p fact (count.c). */
void papyra__outcome_apply_always(papyra__outcome *o, papyra_count_by fact, uint64_t n);

/* Applies the `success` or `failure` rules, and notes unreported facts (count.c). */
void papyra__outcome_apply_end(papyra__outcome *o, bool failed);

/*
 * The three calls below are inline: a write runs them on every call, and
 * most of their work is a test of a bit the generator set (whether any rule
 * of the operation counts this fact, or counts on success) that skips the
 * walk over the rules.
 */

/* Starts counting operation @p op (PAPYRA__OP_*) of a @p backend store on @p m. */
static inline void
papyra__outcome_begin(papyra__outcome *o, papyra_metrics *m, int backend, int op)
{
    o->m = m;
    o->supported = papyra__backends[backend].mask;
    o->op = op;
    o->reported = 1u << PAPYRA_COUNT_BY_ONE;
    o->fact[PAPYRA_COUNT_BY_ONE] = 1;
    if (papyra__ops[op].always_facts & (1u << PAPYRA_COUNT_BY_ONE))
        papyra__outcome_apply_always(o, PAPYRA_COUNT_BY_ONE, 1);
}

/* Reports @p n more of @p fact (0 reports that there were none). */
static inline void
papyra__outcome_add(papyra__outcome *o, papyra_count_by fact, uint64_t n)
{
    if (o->reported & (1u << fact)) {
        o->fact[fact] += n;
    } else {
        o->fact[fact] = n;
        o->reported |= 1u << fact;
    }
    if (n > 0 && (papyra__ops[o->op].always_facts & (1u << fact)))
        papyra__outcome_apply_always(o, fact, n);
}

/* Ends the operation: @p failed selects the `failure` rules, else the `success` ones. */
static inline void
papyra__outcome_end(papyra__outcome *o, bool failed)
{
    const papyra__op_desc *d = &papyra__ops[o->op];

    if ((failed ? d->on_failure : d->on_success) || (!failed && (d->facts & ~o->reported)))
        papyra__outcome_apply_end(o, failed);
}

/*
 * The facts that the spec lists for operation @p op but that a successful
 * call of it ended without reporting, since the process started (bit per
 * papyra_count_by). Non-zero means a counter of the spec can read 0 while
 * it should move: the conformance suite fails on it.
 */
uint32_t papyra__outcome_unreported(int op);

#endif /* PAPYRA_METRICS_COUNT_H */
