/* SPDX-License-Identifier: MIT */
/* What the benchmarks share: a clock and the record they write. */
#ifndef PAPYRA_BENCH_UTIL_H
#define PAPYRA_BENCH_UTIL_H

#include <time.h>

#include <papyra/record.h>

/* Monotonic time in seconds. */
static inline double
bench_now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* About 160 bytes of JSON, as an application would log an actor event. */
static inline papyra_record
bench_event(double timestamp)
{
    papyra_record r = {.kind = PAPYRA_KIND_EVENT};

    r.u.event.system_id = "local";
    r.u.event.actor_address = "{\"system\": \"local\", \"actor_id\": 1}";
    r.u.event.event_type = "ActorStarted";
    r.u.event.payload = "{\"reason\": \"stopped\"}";
    r.u.event.timestamp = timestamp;
    return r;
}

#endif /* PAPYRA_BENCH_UTIL_H */
