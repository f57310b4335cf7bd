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

#include "metrics/metrics-private.h"

typedef struct papyra__outcome {
    papyra_metrics *m;
    const papyra__op_desc *d; /* the operation: &papyra__ops[PAPYRA__OP_*] */
    uint64_t supported;       /* bit per counter the backend supports */
    uint32_t reported;        /* bit per fact reported */
    /* The totals of the facts in d->end_facts (the others are not kept). */
    uint64_t fact[PAPYRA_FACT_COUNT];
} papyra__outcome;

/* Applies the `success` or `failure` rules, and notes unreported facts (count.c). */
void papyra__outcome_apply_end(papyra__outcome *o, bool failed);

/*
 * The three calls below are inline: a write runs them on every call. The
 * generator gives each operation, per fact, the set of counters its
 * `when: always` rules move by that fact, so reporting a fact is a mask and
 * one atomic add per counter it moves; the end walks the rules only when a
 * rule counts on this result, or a fact went unreported.
 */

/* Moves the counters of @p mask (those the backend supports) by @p n. */
static inline void
papyra__outcome_move(papyra__outcome *o, uint64_t mask, uint64_t n)
{
    for (mask &= o->supported; mask; mask &= mask - 1)
        papyra__metrics_add(o->m, __builtin_ctzll(mask), n);
}

/* Starts counting operation @p op (PAPYRA__OP_*) of a @p backend store on @p m. */
static inline void
papyra__outcome_begin(papyra__outcome *o, papyra_metrics *m, int backend, int op)
{
    o->m = m;
    o->d = &papyra__ops[op];
    o->supported = papyra__backends[backend].mask;
    o->reported = 1u << PAPYRA_COUNT_BY_ONE;
    for (uint32_t e = o->d->end_facts; e; e &= e - 1)
        o->fact[__builtin_ctz(e)] = 0;
    o->fact[PAPYRA_COUNT_BY_ONE] = 1;
    papyra__outcome_move(o, o->d->always[PAPYRA_COUNT_BY_ONE], 1);
}

/*
 * begin zeroes exactly the facts add() accumulates (end_facts); GCC
 * cannot follow that through the table and warns on the other facts' slots,
 * which add() never reads.
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

/* Reports @p n more of @p fact (0 reports that there were none). */
static inline void
papyra__outcome_add(papyra__outcome *o, papyra_count_by fact, uint64_t n)
{
    uint32_t bit = 1u << fact;

    if (o->d->end_facts & bit)
        o->fact[fact] += n;
    o->reported |= bit;
    if (n > 0)
        papyra__outcome_move(o, o->d->always[fact], n);
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/* Ends the operation: @p failed selects the `failure` rules, else the `success` ones. */
static inline void
papyra__outcome_end(papyra__outcome *o, bool failed)
{
    const papyra__op_desc *d = o->d;

    if (failed ? d->on_failure : (d->on_success || (d->facts & ~o->reported)))
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
