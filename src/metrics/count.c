/* SPDX-License-Identifier: MIT */
/* Applies the spec's counting rules to what an operation reports (see count.h). */
#include "metrics/count.h"

#include <stdatomic.h>

#include "metrics/metrics-private.h"

/* Facts that successful calls of each operation left unreported. */
static _Atomic uint32_t unreported[PAPYRA__OP_COUNT];

void
papyra__outcome_apply_end(papyra__outcome *o, bool failed)
{
    const papyra__op_desc *d = o->d;
    unsigned when = failed ? PAPYRA_COUNT_FAILURE : PAPYRA_COUNT_SUCCESS;

    for (unsigned i = d->first; i < d->first + d->count; i++) {
        const papyra__count_rule *rule = &papyra__count_rules[i];

        if (rule->when == when && o->fact[rule->fact] > 0 && (o->supported >> rule->counter & 1u))
            papyra__metrics_add(o->m, rule->counter, o->fact[rule->fact]);
    }
    if (!failed && (d->facts & ~o->reported))
        atomic_fetch_or_explicit(&unreported[d->op], d->facts & ~o->reported, memory_order_relaxed);
}

uint32_t
papyra__outcome_unreported(int op)
{
    if (op < 0 || op >= PAPYRA__OP_COUNT)
        return 0;
    return atomic_load_explicit(&unreported[op], memory_order_relaxed);
}
