/* SPDX-License-Identifier: MIT */
/*
 * A short, realistic workload: an actor system's lifecycle events, an audit
 * snapshot and a few dead letters written to a store, then read back,
 * scanned and compacted. Every step moves the store's built-in counters,
 * which `papyra metrics persistence` then shows from another process.
 *
 * Usage: quickstart [STORE_URL]   (default: $PAPYRA_PERSISTENCE, else the
 *                                  embedded default json:papyra-data/events.jsonl)
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <papyra/papyra.h>

#define DEFAULT_STORE "json:papyra-data/events.jsonl"

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
write_workload(papyra_store *s, int actors)
{
    static const char *const types[] = {"ActorStarted", "ActorStopped"};
    static const char *const payloads[] = {"{}", "{\"reason\": \"stopped\"}"};
    papyra_record batch[64];
    char addresses[64][64];
    size_t n = 0;
    int r;

    for (int a = 0; a < actors && n + 2 <= 64; a++) {
        snprintf(addresses[n], sizeof(addresses[n]), "{\"system\": \"local\", \"actor_id\": %d}",
                 a);
        for (int t = 0; t < 2; t++) {
            batch[n] = (papyra_record){.kind = PAPYRA_KIND_EVENT,
                                       .u.event = {.system_id = "local",
                                                   .actor_address = addresses[n - (size_t)t],
                                                   .event_type = types[t],
                                                   .payload = payloads[t],
                                                   .timestamp = now()}};
            n++;
        }
    }
    /* One batch: a single write(2) for the file backends. */
    r = papyra_store_write_batch(s, batch, n);
    if (r < 0)
        return r;

    for (int i = 0; i < 3; i++) {
        papyra_record dl = {.kind = PAPYRA_KIND_DEAD_LETTER,
                            .u.dead_letter = {.system_id = "local",
                                              .target = "\"local://1\"",
                                              .message_type = "str",
                                              .payload = "\"late\"",
                                              .timestamp = now()}};
        if ((r = papyra_store_write(s, &dl)) < 0)
            return r;
    }
    {
        static const char *const orphans[] = {"worker-7"};
        papyra_record audit = {.kind = PAPYRA_KIND_AUDIT,
                               .u.audit = {.system_id = "local",
                                           .timestamp = now(),
                                           .total_actors = actors,
                                           .alive_actors = 0,
                                           .registry_size = 1,
                                           .registry_orphans = orphans,
                                           .n_registry_orphans = 1,
                                           .dead_letters_count = 3}};
        r = papyra_store_write(s, &audit);
    }
    return r;
}

int
main(int argc, char **argv)
{
    const char *url = argc > 1 ? argv[1] : getenv("PAPYRA_PERSISTENCE");
    papyra_store *s = NULL;
    papyra_error err;
    papyra_record_list *events = NULL;
    papyra_list_options last = {.limit = 5};
    papyra_scan_report *scan = NULL;
    papyra_compaction_report compaction = {0};
    int r;

    if (!url || !*url)
        url = DEFAULT_STORE;
    if (papyra_store_open(&s, url, &err) < 0) {
        fprintf(stderr, "quickstart: %s\n", err.message);
        return 1;
    }
    if (papyra_store_metrics_warning(s))
        fprintf(stderr, "quickstart: %s\n", papyra_store_metrics_warning(s));

    r = write_workload(s, 10);
    if (r == 0)
        r = papyra_store_list(s, PAPYRA_KIND_EVENT, &last, &events);
    if (r == 0)
        r = papyra_store_scan(s, &scan);
    if (r == 0) {
        r = papyra_store_compact(s, &compaction);
        if (r == PAPYRA_EUNSUPPORTED) /* the memory backend does not compact */
            r = 0;
    }
    if (r < 0) {
        fprintf(stderr, "quickstart: %s: %s\n", url, papyra_store_errmsg(s));
        papyra_record_list_free(events);
        papyra_scan_report_free(scan);
        papyra_store_close(s);
        return 1;
    }
    printf("store %s (%s): wrote 24 records, read back the last %zu events, "
           "%zu anomalies, compacted %llu -> %llu records\n",
           url, papyra_store_backend(s), events->count, scan->count,
           (unsigned long long)compaction.before_records,
           (unsigned long long)compaction.after_records);
    papyra_record_list_free(events);
    papyra_scan_report_free(scan);
    return papyra_store_close(s) < 0;
}
