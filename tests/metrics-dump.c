/* SPDX-License-Identifier: MIT */
/*
 * Prints one fixed snapshot in every output format and flag combination,
 * each under a "=== <name>" line, for tests/check_metrics_fixtures.py to
 * compare with the committed tests/fixtures/metrics-formats.txt.
 *
 * The snapshot is made through the public API only (private counters, then
 * fixed times), so it holds whatever counters this build's spec declares;
 * counter i gets (i + 1) * 1111 since the reset and that plus 2^40 in all.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <papyra/metrics.h>

static int
dump(const char *name,
     const papyra_metrics_snapshot *s,
     papyra_metrics_format_id format,
     unsigned flags,
     const papyra_metrics_label *labels,
     size_t nlabels)
{
    char *out = NULL;
    int r = papyra_metrics_format_labels(s, format, flags, labels, nlabels, &out);

    if (r < 0) {
        fprintf(stderr, "metrics-dump: %s: %s\n", name, papyra_strerror(r));
        return 1;
    }
    printf("=== %s\n%s", name, out);
    papyra_free(out);
    return 0;
}

static int
snapshot_for(int backend, papyra_metrics_snapshot *s)
{
    papyra_metrics *m = NULL;
    int r = papyra_metrics_new_private(&m, backend);

    for (int i = 0; r == 0 && i < PAPYRA_METRIC_COUNT; i++) {
        if (!papyra_metric_supported(backend, i))
            continue;
        r = papyra_metrics_add(m, i, (UINT64_C(1) << 40) + (uint64_t)(i + 1) * 1111);
    }
    if (r == 0)
        r = papyra_metrics_reset(m, NULL);
    for (int i = 0; r == 0 && i < PAPYRA_METRIC_COUNT; i++) {
        if (papyra_metric_supported(backend, i))
            r = papyra_metrics_add(m, i, (uint64_t)(i + 1) * 1111);
    }
    if (r == 0)
        r = papyra_metrics_read(m, s);
    papyra_metrics_close(m);
    if (r < 0)
        return r;
    s->created_at_ns = INT64_C(1764000000123456789);
    s->reset_at_ns = INT64_C(1764000500987654321);
    s->taken_at_ns = INT64_C(1764000600000000000);
    s->reset_count = 1;
    s->shared = true;
    return 0;
}

int
main(void)
{
    static const papyra_metrics_label labels[] = {
        {"store", "orders"},
        {"env", "a \"quoted\" \\ value\nwith a newline"},
    };
    static const struct {
        const char *name;
        papyra_metrics_format_id format;
        unsigned flags;
        size_t nlabels;
    } cases[] = {
        {"table", PAPYRA_FORMAT_TABLE, 0, 0},
        {"table ascii", PAPYRA_FORMAT_TABLE, PAPYRA_FORMAT_ASCII, 0},
        {"table wide", PAPYRA_FORMAT_TABLE, PAPYRA_FORMAT_WIDE, 0},
        {"table wide ascii color totals", PAPYRA_FORMAT_TABLE,
         PAPYRA_FORMAT_WIDE | PAPYRA_FORMAT_ASCII | PAPYRA_FORMAT_COLOR | PAPYRA_FORMAT_TOTALS, 0},
        {"json", PAPYRA_FORMAT_JSON, 0, 0},
        {"json totals", PAPYRA_FORMAT_JSON, PAPYRA_FORMAT_TOTALS, 0},
        {"json pretty", PAPYRA_FORMAT_JSON, PAPYRA_FORMAT_PRETTY, 0},
        {"json detail", PAPYRA_FORMAT_JSON_DETAIL, 0, 0},
        {"json detail pretty", PAPYRA_FORMAT_JSON_DETAIL, PAPYRA_FORMAT_PRETTY, 0},
        {"prometheus", PAPYRA_FORMAT_PROMETHEUS, 0, 0},
        {"prometheus totals labels", PAPYRA_FORMAT_PROMETHEUS, PAPYRA_FORMAT_TOTALS, 2},
        {"openmetrics", PAPYRA_FORMAT_OPENMETRICS, 0, 0},
        {"openmetrics totals labels", PAPYRA_FORMAT_OPENMETRICS, PAPYRA_FORMAT_TOTALS, 2},
    };
    static const int backends[] = {PAPYRA_BACKEND_MEMORY, PAPYRA_BACKEND_JSON};
    int failed = 0;

    for (size_t b = 0; b < sizeof(backends) / sizeof(backends[0]); b++) {
        papyra_metrics_snapshot s;
        char name[128];

        if (snapshot_for(backends[b], &s) < 0) {
            fprintf(stderr, "metrics-dump: cannot make the %s snapshot\n",
                    papyra_backend_name(backends[b]));
            return 1;
        }
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            snprintf(name, sizeof(name), "%s: %s", papyra_backend_name(backends[b]), cases[i].name);
            failed |= dump(name, &s, cases[i].format, cases[i].flags,
                           cases[i].nlabels ? labels : NULL, cases[i].nlabels);
        }
    }
    printf("=== help\n%s", papyra_metrics_help_text());
    return failed;
}
