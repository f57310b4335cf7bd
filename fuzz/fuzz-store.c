/* SPDX-License-Identifier: MIT */
/* The maintenance walk of fuzz-store-json.c and fuzz-store-rotating.c (see fuzz.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <papyra/papyra.h>

#include "fuzz.h"

typedef struct lists {
    papyra_record_list *kind[PAPYRA_KIND_MAX];
} lists;

static void
list_all(papyra_store *s, const char *when, lists *ret)
{
    papyra_list_options o = {0};

    for (int k = 0; k < PAPYRA_KIND_MAX; k++) {
        int r = papyra_store_list(s, (papyra_kind)k, &o, &ret->kind[k]);
        PAPYRA_FUZZ_CHECK(r == 0, "list of %s %s failed: %s", papyra_kind_name((papyra_kind)k),
                          when, papyra_store_errmsg(s));
    }
}

static void
lists_free(lists *l)
{
    for (int k = 0; k < PAPYRA_KIND_MAX; k++)
        papyra_record_list_free(l->kind[k]);
}

static void
same_lists(const lists *a, const lists *b, const char *what)
{
    for (int k = 0; k < PAPYRA_KIND_MAX; k++) {
        const papyra_record_list *x = a->kind[k], *y = b->kind[k];
        const char *why = NULL;

        PAPYRA_FUZZ_CHECK(x->count == y->count, "%s changed the %s listed: %zu, then %zu", what,
                          papyra_kind_name((papyra_kind)k), x->count, y->count);
        for (size_t i = 0; i < x->count; i++)
            PAPYRA_FUZZ_CHECK(papyra_fuzz_record_equal(&x->records[i], &y->records[i], &why),
                              "%s changed %s %zu (its %s)", what, papyra_kind_name((papyra_kind)k),
                              i, why);
    }
}

/*
 * A scan: PAPYRA_FUZZ_CHECK that it works; how many anomalies, of which
 * orphans in *orphans and records upstream reads but our structs cannot
 * hold (MISTYPED_RECORD: never removed, so never "repaired") in *kept.
 */
static size_t
scan(papyra_store *s, const char *when, size_t *orphans, size_t *kept)
{
    papyra_scan_report *rep = NULL;
    int r = papyra_store_scan(s, &rep);
    size_t n;

    PAPYRA_FUZZ_CHECK(r == 0, "scan %s failed: %s", when, papyra_store_errmsg(s));
    n = rep->count;
    *orphans = 0;
    *kept = 0;
    for (size_t i = 0; i < rep->count; i++) {
        *kept += rep->anomalies[i].type == PAPYRA_ANOMALY_MISTYPED_RECORD;
        PAPYRA_FUZZ_CHECK(papyra_anomaly_type_name(rep->anomalies[i].type) &&
                              rep->anomalies[i].path,
                          "scan %s gave an anomaly without type or path", when);
        *orphans += rep->anomalies[i].type == PAPYRA_ANOMALY_ORPHANED_ROTATED_FILE;
    }
    papyra_scan_report_free(rep);
    return n;
}

char *
papyra_fuzz_store_url(int backend, const char *path, const char *params)
{
    char *base = NULL, *url;
    size_t n;

    PAPYRA_FUZZ_CHECK(papyra_store_url_for_path(backend, path, &base) == 0, "url_for_path %s",
                      path);
    n = strlen(base) + strlen(params) + sizeof("?metrics=none");
    url = malloc(n);
    PAPYRA_FUZZ_CHECK(url != NULL, "out of memory");
    snprintf(url, n, "%s?metrics=none%s", base, params);
    papyra_free(base);
    return url;
}

void
papyra_fuzz_store_walk(const char *url, papyra_recovery_mode mode)
{
    papyra_recovery_options ro = {.mode = mode, .quarantine_dir = NULL};
    papyra_recovery_report *rep = NULL;
    papyra_compaction_report cr;
    papyra_error err = {0};
    papyra_store *s = NULL;
    lists before = {0}, recovered = {0}, compacted = {0};
    size_t found, orphans, kept, left, left_orphans, left_kept;
    int r;

    r = papyra_store_open(&s, url, &err);
    PAPYRA_FUZZ_CHECK(r == 0, "open %s failed: %s", url, err.message);
    list_all(s, "before recover", &before);
    found = scan(s, "before recover", &orphans, &kept);

    r = papyra_store_recover(s, &ro, &rep);
    PAPYRA_FUZZ_CHECK(r == 0 || r == PAPYRA_EANOMALY, "recover failed: %s", papyra_store_errmsg(s));
    PAPYRA_FUZZ_CHECK(rep && rep->scan && rep->scan->count == found,
                      "recover's scan found %zu anomalies, the scan before %zu",
                      rep && rep->scan ? rep->scan->count : 0, found);
    papyra_recovery_report_free(rep);
    list_all(s, "after recover", &recovered);
    same_lists(&before, &recovered, "recover");
    left = scan(s, "after recover", &left_orphans, &left_kept);
    /* What upstream reads stays, every one of them. */
    PAPYRA_FUZZ_CHECK(left_kept == kept, "recover: %zu mistyped records before, %zu after", kept,
                      left_kept);
    if (mode == PAPYRA_RECOVER_REPAIR) {
        PAPYRA_FUZZ_CHECK(left == left_orphans + left_kept && left_orphans == orphans,
                          "after REPAIR %zu anomalies remain (%zu orphans, %zu before; %zu kept)",
                          left, left_orphans, orphans, left_kept);
        PAPYRA_FUZZ_CHECK((r == PAPYRA_EANOMALY) == (orphans > 0),
                          "REPAIR answered %d with %zu orphans left", r, orphans);
    } else {
        PAPYRA_FUZZ_CHECK(left == left_kept && r == 0,
                          "after QUARANTINE %zu anomalies remain (%zu kept; %d)", left, left_kept,
                          r);
    }

    r = papyra_store_compact(s, &cr);
    PAPYRA_FUZZ_CHECK(r == 0, "compact failed: %s", papyra_store_errmsg(s));
    list_all(s, "after compact", &compacted);
    same_lists(&before, &compacted, "compact");
    left = scan(s, "after compact", &left_orphans, &left_kept);
    PAPYRA_FUZZ_CHECK(left == left_orphans + left_kept && left_kept == kept,
                      "after compact %zu anomalies remain (%zu orphans; %zu kept, %zu before)",
                      left, left_orphans, left_kept, kept);

    lists_free(&before);
    lists_free(&recovered);
    lists_free(&compacted);
    r = papyra_store_close(s);
    PAPYRA_FUZZ_CHECK(r == 0, "close failed (%d)", r);
}
