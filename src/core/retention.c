/* SPDX-License-Identifier: MIT */
/*
 * Retention, one rule for every backend, applied to each record kind on its
 * own, walking from the newest record to the oldest:
 *
 *   1. age: a record whose timestamp is older than now - max_age_seconds is
 *      dropped (a NaN timestamp is never "recent enough");
 *   2. count: of the records left, the newest max_records are kept;
 *   3. size: records are kept while the sum of their stored sizes stays at
 *      or below max_total_bytes; the first one that would push the sum over
 *      ends the walk, so a single record larger than the limit keeps nothing.
 *
 * Because every rule keeps a suffix of what the rule before it kept, the
 * walk can stop early, which lets the file backend read only the newest part
 * of a file.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/backend.h"
#include "record/codec.h"

bool
papyra__retention_any(const papyra__retention *r)
{
    return r->max_records > 0 || r->max_age_seconds > 0 || r->max_total_bytes > 0;
}

void
papyra__retention_begin(const papyra__retention *r, papyra__retention_state *st)
{
    struct timespec ts;

    st->kept = 0;
    st->bytes = 0;
    st->has_cutoff = r->max_age_seconds > 0;
    st->cutoff = 0;
    if (st->has_cutoff) {
        clock_gettime(CLOCK_REALTIME, &ts);
        st->cutoff = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 - r->max_age_seconds;
    }
}

int
papyra__retention_offer(const papyra__retention *r,
                        papyra__retention_state *st,
                        double timestamp,
                        size_t size)
{
    if (st->has_cutoff && !(timestamp >= st->cutoff))
        return 0;
    if (r->max_records > 0 && st->kept >= r->max_records)
        return -1;
    if (r->max_total_bytes > 0) {
        if (size > (uint64_t)r->max_total_bytes ||
            (uint64_t)st->bytes + size > (uint64_t)r->max_total_bytes)
            return -1;
        st->bytes += (int64_t)size;
    }
    st->kept++;
    return 1;
}

void
papyra__retention_apply(const papyra__retention *r, papyra_record_list *list, const size_t *sizes)
{
    papyra__retention_state st;
    size_t i, w;
    bool stop = false;

    if (!list || list->count == 0 || !papyra__retention_any(r))
        return;
    papyra__retention_begin(r, &st);
    /* Newest first; survivors move to the back (w never passes i), then to the front. */
    for (i = w = list->count; i-- > 0;) {
        int v = stop ? -1
                     : papyra__retention_offer(r, &st, papyra__record_time(&list->records[i]),
                                               sizes ? sizes[i] : 0);
        stop = v < 0;
        if (v > 0)
            list->records[--w] = list->records[i];
        else
            papyra__record_clear(&list->records[i]);
    }
    memmove(list->records, list->records + w, (list->count - w) * sizeof(list->records[0]));
    list->count -= w;
}
