/* SPDX-License-Identifier: MIT */
/*
 * Every backend, every operation, succeeding and failing, with the exact
 * delta of every counter the spec declares.
 *
 * No delta is written per check: each check states what the call did
 * (whether it failed, and the facts it reported: records stored or
 * returned, anomalies seen, scans run, and what recover's and compact's
 * reports say) and observe() (conformance-count.c) computes every
 * counter's expected delta from the spec, from its `operations` and its
 * `counts` rule, which the generator puts in papyra_metric_info. A counter
 * the backend does not support must not move and must read as
 * unsupported. So a counter added to the YAML is held to its rule here
 * with no change to this file.
 *
 * That alone would be the code checking itself, so the seed's ten counters
 * are also stated by hand, independently of the spec (seed_delta() in
 * conformance-count.c): observe() fails when a seed counter's rule in the
 * spec disagrees with it. And the last test fails when an operation ended
 * without reporting a fact the spec lists for it, so no rule can silently
 * read 0.
 *
 * Adding a backend is one entry in `cases` (conformance-util.c, with the
 * handles, the progress log and the Redis server the checks here use).
 *
 * The Redis case runs against a private redis-server on a free port
 * (tests/redis-harness.c), each case under its own key prefix; without
 * redis-server it is left out with a message (a failure when
 * PAPYRA_TEST_REQUIRE_REDIS=1). Its failures cannot come from a URL, so they
 * have tests of their own after the generic ones: the server stopped and
 * started again, restarted between calls, a wrong password, a key of the
 * wrong type, corrupt entries, an unserialisable record mid-batch.
 */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <papyra/store.h>

#include "conformance-count.h"
#include "conformance-util.h"
#include "core/backend.h"
#include "metrics/count.h"
#include "metrics/metrics-private.h"
#include "store-testutil.h"
#include "testutil.h"

static void
write_three(ctx *c)
{
    papyra_record recs[3] = {st_event(1, 1), st_event(2, 2), st_audit(3, 3)};

    assert_int_equal(papyra_store_write_batch(c->s, recs, 3), 0);
}

/* Opens @p bc's working store holding write_three()'s records; counters are taken after. */
static void
ctx_open_with_three(ctx *c, const backend_case *bc)
{
    ctx_open(c, bc, false);
    write_three(c);
    st_counters(c->s, c->before);
}

/* A call of one operation on a store, with arguments of its own. */
typedef int (*store_call)(papyra_store *s);

static int
call_list(papyra_store *s)
{
    papyra_record_list *l = NULL;
    int r = papyra_store_list(s, PAPYRA_KIND_EVENT, NULL, &l);

    papyra_record_list_free(l);
    return r;
}

static int
call_each_none(const papyra_record *r, void *p)
{
    (void)r;
    (void)p;
    return 0;
}

static int
call_each(papyra_store *s)
{
    return papyra_store_each(s, PAPYRA_KIND_EVENT, NULL, call_each_none, NULL);
}

static int
call_scan(papyra_store *s)
{
    papyra_scan_report *rep = NULL;
    int r = papyra_store_scan(s, &rep);

    papyra_scan_report_free(rep);
    return r;
}

static int
call_repair(papyra_store *s)
{
    papyra_recovery_options repair = {.mode = PAPYRA_RECOVER_REPAIR};
    papyra_recovery_report *rep = NULL;
    int r = papyra_store_recover(s, &repair, &rep);

    papyra_recovery_report_free(rep);
    return r;
}

static int
call_compact(papyra_store *s)
{
    papyra_compaction_report rep;

    return papyra_store_compact(s, &rep);
}

/* On @p bc's store whose I/O fails, if it has one, @p call fails as outcome @p o of @p op. */
static void
expect_fault(const backend_case *bc, store_call call, unsigned op, outcome o)
{
    ctx c;

    if (!bc->fault_url)
        return;
    ctx_open(&c, bc, true);
    assert_true(call(c.s) < 0);
    observe(&c, op, o);
    ctx_close(&c);
}

static void
test_write(void **state)
{
    size_t i;

    for (i = 0; i < ncases; i++) {
        ctx c;
        papyra_record bad = st_event(1, 1);
        ctx_open(&c, &cases[i], false);
        write_three(&c);
        observe(&c, PAPYRA_OPERATION_WRITE, (outcome){.records = 3});
        bad.u.event.event_type = NULL; /* cannot be serialised */
        assert_int_equal(papyra_store_write(c.s, &bad), PAPYRA_EINVAL);
        observe(&c, PAPYRA_OPERATION_WRITE, (outcome){.failed = true});
        assert_int_equal(papyra_store_write(c.s, NULL), PAPYRA_EINVAL);
        observe(&c, PAPYRA_OPERATION_WRITE, (outcome){.failed = true});
        ctx_close(&c);
        if (!cases[i].fault_url)
            continue;
        ctx_open(&c, &cases[i], true);
        assert_non_null(papyra_store_metrics_warning(c.s));
        {
            papyra_record ok = st_event(1, 1);
            assert_true(papyra_store_write(c.s, &ok) < 0);
        }
        observe(&c, PAPYRA_OPERATION_WRITE, (outcome){.failed = true});
        ctx_close(&c);
    }
}

/*
 * A refused record is named the same way on every backend, Redis included:
 * its index in the batch, its kind, the field and the reason. Nothing of
 * the batch is stored.
 */
static void
test_write_rejections_name_the_record_the_field_and_the_reason(void **state)
{
    static const char *const dead[] = {"a", NULL};
    static const struct {
        size_t bad; /* the refused record */
        const char *why;
    } want[] = {
        {2, "record 2 (event) cannot be serialised: field 'event_type' is not UTF-8 (invalid "
            "byte at offset 5)"},
        {1, "record 1 (event) cannot be serialised: field 'payload' is not valid JSON "
            "(expected ',' or '}' at offset 8)"},
        {0, "record 0 (event) cannot be serialised: field 'event_type' is NULL (a string is "
            "required)"},
        {1, "record 1 (audit) cannot be serialised: field 'registry_dead[1]' is NULL (a "
            "string is required)"},
        {2, "record 2 (dead_letter) cannot be serialised: field 'target' is not valid JSON "
            "(invalid literal at offset 0)"},
        {1, "record 1 cannot be serialised: kind 9 is not event, audit or dead_letter"},
    };
    size_t i, k;

    for (i = 0; i < ncases; i++) {
        ctx c;

        ctx_open(&c, &cases[i], false);
        for (k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
            papyra_record recs[3] = {st_event(1, 1), st_event(2, 2), st_event(3, 3)};
            papyra_record *r = &recs[want[k].bad];

            switch (k) {
            case 0:
                r->u.event.event_type = "Actor\xff";
                break;
            case 1:
                r->u.event.payload = "{\"a\": 1 \"b\": 2}";
                break;
            case 2:
                r->u.event.event_type = NULL;
                break;
            case 3:
                *r = st_audit(1, 1);
                r->u.audit.registry_dead = dead;
                r->u.audit.n_registry_dead = 2;
                break;
            case 4:
                *r = st_dead_letter("1", 1);
                r->u.dead_letter.target = "nope";
                break;
            default:
                r->kind = (papyra_kind)9;
                break;
            }
            assert_int_equal(papyra_store_write_batch(c.s, recs, 3), PAPYRA_EINVAL);
            if (strcmp(papyra_store_errmsg(c.s), want[k].why) != 0)
                fail_msg("%s: message\n%s\nexpected\n%s", cases[i].name, papyra_store_errmsg(c.s),
                         want[k].why);
            observe(&c, PAPYRA_OPERATION_WRITE, (outcome){.failed = true});
        }
        st_assert_count(c.s, PAPYRA_KIND_EVENT, 0);
        observe(&c, PAPYRA_OPERATION_READ, (outcome){.records = 0});
        st_assert_count(c.s, PAPYRA_KIND_AUDIT, 0);
        observe(&c, PAPYRA_OPERATION_READ, (outcome){.records = 0});
        ctx_close(&c);
    }
}

static void
test_list(void **state)
{
    size_t i;

    for (i = 0; i < ncases; i++) {
        ctx c;
        papyra_record_list *l = NULL;
        ctx_open_with_three(&c, &cases[i]);
        st_assert_count(c.s, PAPYRA_KIND_EVENT, 2);
        observe(&c, PAPYRA_OPERATION_READ, (outcome){.records = 2});
        if (cases[i].corrupt) {
            cases[i].corrupt(c.dir);
            st_assert_count(c.s, PAPYRA_KIND_AUDIT, 1);
            observe(&c, PAPYRA_OPERATION_READ, (outcome){.records = 1, .anomalies = 1});
        }
        assert_int_equal(papyra_store_list(c.s, (papyra_kind)7, NULL, &l), PAPYRA_EINVAL);
        observe(&c, PAPYRA_OPERATION_READ, (outcome){.failed = true});
        ctx_close(&c);
        expect_fault(&cases[i], call_list, PAPYRA_OPERATION_READ, (outcome){.failed = true});
    }
}

static double
rec_ts(const papyra_record *r)
{
    return r->kind == PAPYRA_KIND_EVENT   ? r->u.event.timestamp
           : r->kind == PAPYRA_KIND_AUDIT ? r->u.audit.timestamp
                                          : r->u.dead_letter.timestamp;
}

/* What papyra_store_each() delivered: timestamps and actor addresses, in order. */
typedef struct each_seen {
    size_t n, stop_after;
    double ts[128];
    char addr[128][32];
} each_seen;

static int
each_collect(const papyra_record *r, void *p)
{
    each_seen *e = p;

    assert_true(e->n < 128);
    e->ts[e->n] = rec_ts(r);
    snprintf(e->addr[e->n], sizeof(e->addr[0]), "%s",
             r->kind == PAPYRA_KIND_EVENT && r->u.event.actor_address ? r->u.event.actor_address
                                                                      : "");
    e->n++;
    return e->stop_after && e->n == e->stop_after ? 42 : 0;
}

/* papyra_store_each() delivers exactly what papyra_store_list() returns, in order. */
static void
expect_each_is_list(papyra_store *s, papyra_kind kind, const papyra_list_options *o)
{
    papyra_record_list *l = NULL;
    each_seen e = {0};
    int anomaly = papyra_metric_by_name("anomaly_detected");
    uint64_t a0, a1, a2;

    assert_true(anomaly >= 0);
    a0 = st_counter(s, anomaly);
    assert_int_equal(papyra_store_list(s, kind, o, &l), 0);
    a1 = st_counter(s, anomaly);
    assert_int_equal(papyra_store_each(s, kind, o, each_collect, &e), 0);
    a2 = st_counter(s, anomaly);
    /* The same anomalies passed over, counted the same. */
    assert_int_equal(a2 - a1, a1 - a0);
    assert_int_equal(e.n, l->count);
    for (size_t i = 0; i < l->count; i++) {
        const papyra_record *r = &l->records[i];
        assert_true(e.ts[i] == rec_ts(r));
        if (kind == PAPYRA_KIND_EVENT)
            assert_string_equal(e.addr[i], r->u.event.actor_address);
    }
    papyra_record_list_free(l);
}

static void
expect_each_is_list_all(papyra_store *s)
{
    const papyra_list_options opts[] = {
        {0},
        {.limit = 1},
        {.limit = 3},
        {.limit = 100},
        {.has_since = true, .since = 20.0},
        {.has_since = true, .since = 20.0, .limit = 2},
        {.has_since = true, .since = 1000.0},
    };

    for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]); k++) {
        expect_each_is_list(s, PAPYRA_KIND_EVENT, &opts[k]);
        expect_each_is_list(s, PAPYRA_KIND_AUDIT, &opts[k]);
        expect_each_is_list(s, PAPYRA_KIND_DEAD_LETTER, &opts[k]);
    }
}

static void
test_each(void **state)
{
    static const char *const retention[] = {"max_records=7", "max_total_bytes=900",
                                            "max_age_seconds=3e9", "max_records=1"};

    for (size_t i = 0; i < ncases; i++) {
        char url[1024], rurl[1200];
        each_seen e = {.stop_after = 2};
        ctx c;

        ctx_open(&c, &cases[i], false);
        for (int n = 0; n < 40; n++) {
            papyra_record r = n % 5 == 4 ? st_audit(n, n) : st_event(n, n);
            assert_int_equal(papyra_store_write(c.s, &r), 0);
        }
        st_counters(c.s, c.before);
        expect_each_is_list_all(c.s);
        /* Counted as a read: records_read by what was delivered. */
        st_counters(c.s, c.before);
        assert_int_equal(papyra_store_each(c.s, PAPYRA_KIND_EVENT, NULL, each_collect, &e), 42);
        assert_int_equal(e.n, 2);
        assert_true(e.ts[0] == 0.0 && e.ts[1] == 1.0);
        observe(&c, PAPYRA_OPERATION_READ, (outcome){.records = 2});
        assert_int_equal(papyra_store_each(c.s, (papyra_kind)7, NULL, each_collect, &e),
                         PAPYRA_EINVAL);
        observe(&c, PAPYRA_OPERATION_READ, (outcome){.failed = true});
        assert_int_equal(papyra_store_each(c.s, PAPYRA_KIND_EVENT, NULL, NULL, NULL),
                         PAPYRA_EINVAL);
        observe(&c, PAPYRA_OPERATION_READ, (outcome){.failed = true});
        /* Retention: the same records as list, whichever limit cuts. */
        cases[i].url(c.dir, url, sizeof(url));
        for (size_t k = 0; k < sizeof(retention) / sizeof(retention[0]); k++) {
            papyra_store *s = NULL;
            snprintf(rurl, sizeof(rurl), "%s%c%s", url, strchr(url, '?') ? '&' : '?', retention[k]);
            assert_int_equal(papyra_store_open(&s, rurl, NULL), 0);
            expect_each_is_list_all(s);
            papyra_store_close(s);
        }
        if (cases[i].corrupt) {
            cases[i].corrupt(c.dir);
            expect_each_is_list_all(c.s);
        }
        if (cases[i].mistype) {
            /* Records upstream reads that our structs cannot hold: skipped alike. */
            cases[i].mistype(c.dir, 10.5);
            cases[i].mistype(c.dir, 40.5);
            expect_each_is_list_all(c.s);
            for (size_t k = 0; k < sizeof(retention) / sizeof(retention[0]); k++) {
                papyra_store *s = NULL;
                snprintf(rurl, sizeof(rurl), "%s%c%s", url, strchr(url, '?') ? '&' : '?',
                         retention[k]);
                assert_int_equal(papyra_store_open(&s, rurl, NULL), 0);
                expect_each_is_list_all(s);
                papyra_store_close(s);
            }
        }
        ctx_close(&c);
        expect_fault(&cases[i], call_each, PAPYRA_OPERATION_READ, (outcome){.failed = true});
    }
}

static void
test_scan(void **state)
{
    size_t i;

    for (i = 0; i < ncases; i++) {
        ctx c;
        papyra_scan_report *rep = NULL;
        ctx_open_with_three(&c, &cases[i]);
        assert_int_equal(papyra_store_scan(c.s, &rep), 0);
        assert_int_equal(rep->count, 0);
        assert_string_equal(rep->backend, cases[i].name);
        papyra_scan_report_free(rep);
        observe(&c, PAPYRA_OPERATION_SCAN, (outcome){.scans = 1});
        if (cases[i].corrupt) {
            cases[i].corrupt(c.dir);
            cases[i].corrupt(c.dir);
            st_assert_scan(c.s, 2);
            observe(&c, PAPYRA_OPERATION_SCAN, (outcome){.scans = 1, .anomalies = 2});
        }
        ctx_close(&c);
        expect_fault(&cases[i], call_scan, PAPYRA_OPERATION_SCAN,
                     (outcome){.failed = true, .scans = 1});
    }
}

static void
test_recover(void **state)
{
    papyra_recovery_options repair = {.mode = PAPYRA_RECOVER_REPAIR};
    size_t i;

    for (i = 0; i < ncases; i++) {
        ctx c;
        papyra_recovery_report *rep = NULL;
        ctx_open_with_three(&c, &cases[i]);
        /* Clean: one scan, nothing repaired. */
        assert_int_equal(papyra_store_recover(c.s, &repair, &rep), 0);
        assert_null(rep->after);
        observe(&c, PAPYRA_OPERATION_RECOVER, recovered(rep, 1, 0));
        papyra_recovery_report_free(rep);
        if (cases[i].corrupt) {
            cases[i].corrupt(c.dir);
            /* IGNORE: one scan that sees it, no change. */
            assert_int_equal(papyra_store_recover(c.s, NULL, &rep), 0);
            observe(&c, PAPYRA_OPERATION_RECOVER, recovered(rep, 1, 1));
            papyra_recovery_report_free(rep);
            /* REPAIR: the scan, the repair, a clean verifying scan. */
            assert_int_equal(papyra_store_recover(c.s, &repair, &rep), 0);
            assert_int_equal(rep->scan->count, 1);
            assert_int_equal(rep->after->count, 0);
            assert_int_equal(rep->n_repaired + rep->n_quarantined, 1);
            observe(&c, PAPYRA_OPERATION_RECOVER, recovered(rep, 2, 1));
            papyra_recovery_report_free(rep);
        }
        ctx_close(&c);
        expect_fault(&cases[i], call_repair, PAPYRA_OPERATION_RECOVER,
                     (outcome){.failed = true, .scans = 1});
    }
}

static void
test_compact(void **state)
{
    size_t i;

    for (i = 0; i < ncases; i++) {
        bool sup = papyra_metric_supported(cases[i].id, PAPYRA_METRIC_COMPACTIONS_TRIGGERED);
        papyra_compaction_report rep;
        ctx c;
        ctx_open_with_three(&c, &cases[i]);
        assert_int_equal(papyra_store_compact(c.s, &rep), sup ? 0 : PAPYRA_EUNSUPPORTED);
        if (sup) {
            assert_int_equal(rep.before_records, 3);
            assert_int_equal(rep.after_records, 3);
            observe(&c, PAPYRA_OPERATION_COMPACT, compacted(&rep, 0, 0));
        } else {
            observe(&c, PAPYRA_OPERATION_COMPACT, (outcome){.failed = true});
        }
        if (sup && cases[i].corrupt) {
            cases[i].corrupt(c.dir);
            assert_int_equal(papyra_store_compact(c.s, &rep), 0);
            assert_int_equal(rep.after_records, 3);
            observe(&c, PAPYRA_OPERATION_COMPACT, compacted(&rep, 1, 0));
        }
        ctx_close(&c);
        if (sup)
            expect_fault(&cases[i], call_compact, PAPYRA_OPERATION_COMPACT,
                         (outcome){.failed = true});
    }
}

/*
 * A compaction under a retention policy removes records: per kind the newest
 * one is kept of write_three()'s two events and one audit, so one record is
 * removed, and the counters that count removed or kept records say so.
 */
static void
test_compact_under_retention(void **state)
{
    for (size_t i = 0; i < ncases; i++) {
        char url[512];
        papyra_compaction_report rep;
        ctx c;

        if (!papyra_metric_supported(cases[i].id, PAPYRA_METRIC_COMPACTIONS_TRIGGERED))
            continue;
        ctx_open_with_three(&c, &cases[i]);
        papyra_store_close(c.s);
        cases[i].url(c.dir, url, sizeof(url));
        c.s = st_open("%s%smax_records=1", url, strchr(url, '?') ? "&" : "?");
        st_counters(c.s, c.before);
        assert_int_equal(papyra_store_compact(c.s, &rep), 0);
        assert_int_equal(rep.before_records, 3);
        assert_int_equal(rep.after_records, 2);
        observe(&c, PAPYRA_OPERATION_COMPACT, compacted(&rep, 0, 1));
        st_assert_count(c.s, PAPYRA_KIND_EVENT, 1);
        ctx_close(&c);
    }
}

/*
 * Run last: every successful call of every operation above reported every
 * fact the spec lists for it, so no counter counting one of them can read 0
 * while it should move.
 */
static void
test_every_fact_reported(void **state)
{
    for (int op = 0; op < PAPYRA__OP_COUNT; op++) {
        uint32_t missing = papyra__outcome_unreported(op);

        for (int f = 0; f < PAPYRA_FACT_COUNT; f++) {
            if (missing & (1u << f))
                fail_msg("operation %d ended without reporting fact %s, which the spec lists "
                         "for it: report it in src/core/store.c",
                         op, papyra__facts[f].name);
        }
    }
}

/*
 * Scan, recover and compact report their progress: each step by name, in
 * the backend's unit, never going back, ending at done == total; a long
 * step reports on the way.
 */
static void
test_progress(void **state)
{
    static const char *const scan[] = {"scan"};
    static const char *const recover[] = {"scan", "repair", "verify"};
    static const char *const compact[] = {"compact"};
    enum { BATCH = 1000, BATCHES = 40 };
    papyra_recovery_options repair = {.mode = PAPYRA_RECOVER_REPAIR};
    papyra_record *recs = calloc(BATCH, sizeof(*recs));

    assert_non_null(recs);
    for (int i = 0; i < BATCH; i++)
        recs[i] = st_event(i, i);
    for (size_t i = 0; i < ncases; i++) {
        papyra_scan_report *sr = NULL;
        papyra_recovery_report *rr = NULL;
        papyra_compaction_report cr;
        progress_log g = {0};
        ctx c;

        ctx_open(&c, &cases[i], false);
        print_message("%s\n", c.bc->name);
        for (int b = 0; b < BATCHES; b++)
            assert_int_equal(papyra_store_write_batch(c.s, recs, BATCH), 0);
        if (c.bc->corrupt)
            c.bc->corrupt(c.dir);
        papyra_store_set_progress(c.s, on_progress, &g);

        assert_int_equal(papyra_store_scan(c.s, &sr), 0);
        papyra_scan_report_free(sr);
        /* About 6 MiB of JSON lines, 40,001 Redis entries: reported on the way. */
        if (c.bc->id == PAPYRA_BACKEND_JSON || c.bc->id == PAPYRA_BACKEND_REDIS)
            assert_true(g.step[0].between >= 1);
        if (c.bc->id == PAPYRA_BACKEND_REDIS)
            assert_int_equal(g.step[0].total, BATCH * BATCHES + 1);
        expect_steps(&c, &g, scan, 1);

        assert_int_equal(papyra_store_recover(c.s, &repair, &rr), 0);
        papyra_recovery_report_free(rr);
        /* Redis repairs only the damaged stream: the audits, one entry. */
        if (c.bc->id == PAPYRA_BACKEND_REDIS)
            assert_int_equal(g.step[1].total, 1);
        expect_steps(&c, &g, recover, c.bc->corrupt ? 3 : 1);

        if (c.bc->id != PAPYRA_BACKEND_MEMORY) {
            assert_int_equal(papyra_store_compact(c.s, &cr), 0);
            expect_steps(&c, &g, compact, 1);
        }

        /* Off again: nothing more is reported. */
        papyra_store_set_progress(c.s, NULL, NULL);
        assert_int_equal(papyra_store_scan(c.s, &sr), 0);
        papyra_scan_report_free(sr);
        assert_int_equal(g.nsteps, 0);
        ctx_close(&c);
    }
    free(recs);
}

/* A closed handle: every operation fails with ECLOSED and counts as a failure. */
static void
test_closed_handle(void **state)
{
    papyra_recovery_options repair = {.mode = PAPYRA_RECOVER_REPAIR};
    size_t i;

    for (i = 0; i < ncases; i++) {
        bool sup = papyra_metric_supported(cases[i].id, PAPYRA_METRIC_COMPACTIONS_TRIGGERED);
        papyra_record r = st_event(1, 1);
        papyra_record_list *l = NULL;
        papyra_scan_report *sr = NULL;
        papyra_recovery_report *rr = NULL;
        papyra_compaction_report cr;
        ctx c;
        ctx_open(&c, &cases[i], false);
        assert_int_equal(papyra__store_shutdown(c.s), 0);
        assert_int_equal(papyra_store_write(c.s, &r), PAPYRA_ECLOSED);
        observe(&c, PAPYRA_OPERATION_WRITE, (outcome){.failed = true});
        assert_int_equal(papyra_store_list(c.s, PAPYRA_KIND_EVENT, NULL, &l), PAPYRA_ECLOSED);
        observe(&c, PAPYRA_OPERATION_READ, (outcome){.failed = true});
        assert_int_equal(papyra_store_scan(c.s, &sr), PAPYRA_ECLOSED);
        observe(&c, PAPYRA_OPERATION_SCAN, (outcome){.failed = true, .scans = 1});
        assert_int_equal(papyra_store_recover(c.s, &repair, &rr), PAPYRA_ECLOSED);
        observe(&c, PAPYRA_OPERATION_RECOVER, (outcome){.failed = true});
        assert_int_equal(papyra_store_compact(c.s, &cr),
                         sup ? PAPYRA_ECLOSED : PAPYRA_EUNSUPPORTED);
        observe(&c, PAPYRA_OPERATION_COMPACT, (outcome){.failed = true});
        assert_null(l);
        assert_null(sr);
        assert_null(rr);
        ctx_close(&c);
    }
}

#ifdef PAPYRA_HAVE_REDIS
/* The JSON text of an event as upstream writes it (missing fields take defaults). */
static const char event_json[] =
    "{\"kind\": \"event\", \"system_id\": \"local\", \"actor_address\": \"local://9\", "
    "\"event_type\": \"ActorStarted\", \"payload\": null, \"timestamp\": 9.0}";

static void
fails_with(int rc, int code)
{
    if (rc != code)
        fail_msg("expected %s, got %s", papyra_errname(code), papyra_errname(rc));
}

/*
 * Every operation fails with @p code, and each moves exactly the counters
 * its failure moves: one write_errors per write call (single or batch), one
 * read_errors per list, a scan that starts and fails (scan_operations only:
 * the spec has no scan-error counter), a recovery whose scan fails (attempt,
 * scan, failure) in both modes, a compaction that fails (triggered, error).
 */
static void
expect_all_fail_storing(ctx *c, int code, int batch_stored)
{
    papyra_recovery_options repair = {.mode = PAPYRA_RECOVER_REPAIR};
    papyra_record one = st_event(1, 1);
    papyra_record three[3] = {st_event(1, 1), st_event(2, 2), st_audit(3, 3)};
    papyra_record_list *l = NULL;
    papyra_scan_report *sr = NULL;
    papyra_recovery_report *rr = NULL;
    papyra_compaction_report cr;

    fails_with(papyra_store_write(c->s, &one), code);
    observe(c, PAPYRA_OPERATION_WRITE, (outcome){.failed = true});
    fails_with(papyra_store_write_batch(c->s, three, 3), code);
    observe(c, PAPYRA_OPERATION_WRITE, (outcome){.failed = true, .records = batch_stored});
    fails_with(papyra_store_list(c->s, PAPYRA_KIND_EVENT, NULL, &l), code);
    observe(c, PAPYRA_OPERATION_READ, (outcome){.failed = true});
    fails_with(papyra_store_scan(c->s, &sr), code);
    observe(c, PAPYRA_OPERATION_SCAN, (outcome){.failed = true, .scans = 1});
    fails_with(papyra_store_recover(c->s, &repair, &rr), code);
    observe(c, PAPYRA_OPERATION_RECOVER, (outcome){.failed = true, .scans = 1});
    fails_with(papyra_store_recover(c->s, NULL, &rr), code);
    observe(c, PAPYRA_OPERATION_RECOVER, (outcome){.failed = true, .scans = 1});
    fails_with(papyra_store_compact(c->s, &cr), code);
    observe(c, PAPYRA_OPERATION_COMPACT, (outcome){.failed = true});
    assert_null(l);
    assert_null(sr);
    assert_null(rr);
}

/* Every operation fails with @p code, storing nothing. */
static void
expect_all_fail(ctx *c, int code)
{
    expect_all_fail_storing(c, code, 0);
}

/*
 * On a clean store holding @p nevents events among @p nentries entries,
 * every operation succeeds and moves only its success counters (the last,
 * a write, adds one event).
 */
static void
expect_all_succeed(ctx *c, size_t nevents, size_t nentries)
{
    papyra_recovery_options repair = {.mode = PAPYRA_RECOVER_REPAIR};
    papyra_record one = st_event(1, 1);
    papyra_recovery_report *rr = NULL;
    papyra_compaction_report cr;

    st_assert_count(c->s, PAPYRA_KIND_EVENT, nevents);
    observe(c, PAPYRA_OPERATION_READ, (outcome){.records = (int)nevents});
    st_assert_scan(c->s, 0);
    observe(c, PAPYRA_OPERATION_SCAN, (outcome){.scans = 1});
    assert_int_equal(papyra_store_recover(c->s, &repair, &rr), 0);
    observe(c, PAPYRA_OPERATION_RECOVER, recovered(rr, 1, 0));
    papyra_recovery_report_free(rr);
    assert_int_equal(papyra_store_compact(c->s, &cr), 0);
    assert_int_equal(cr.before_records, nentries);
    assert_int_equal(cr.after_records, nentries);
    observe(c, PAPYRA_OPERATION_COMPACT, compacted(&cr, 0, 0));
    assert_int_equal(papyra_store_write(c->s, &one), 0);
    observe(c, PAPYRA_OPERATION_WRITE, (outcome){.records = 1});
}

/*
 * The server is stopped mid-run: every operation fails (the reconnection is
 * refused) and counts as a failure; started again on the same port, every
 * operation succeeds on a fresh connection without the caller doing anything
 * and no error counter moves.
 */
static void
test_redis_server_stopped_then_started(void **state)
{
    ctx c;

    redis_needed();
    ctx_open(&c, REDIS_CASE, false);
    write_three(&c);
    observe(&c, PAPYRA_OPERATION_WRITE, (outcome){.records = 3});
    papyra_test_redis_kill(&server);
    expect_all_fail(&c, PAPYRA_ECONNECT);
    /* Still down: the failures repeat, one count per call. */
    expect_all_fail(&c, PAPYRA_ECONNECT);
    assert_int_equal(papyra_test_redis_start(&server), 0);
    /* The server kept nothing (no persistence). */
    expect_all_succeed(&c, 0, 0);
    write_three(&c);
    observe(&c, PAPYRA_OPERATION_WRITE, (outcome){.records = 3});
    expect_all_succeed(&c, 3, 4);
    ctx_close(&c);
}

static void *
redis_killer(void *arg)
{
    struct timespec ts = {.tv_nsec = *(const long *)arg};
    (void)nanosleep(&ts, NULL);
    papyra_test_redis_kill(&server);
    return NULL;
}

/*
 * The server is killed while a large batch is being serialised and sent:
 * the call either won the race (all written) or fails as one write error
 * (and the process is not killed by SIGPIPE); nothing else moves.
 */
static void
test_redis_server_killed_during_a_batch(void **state)
{
    enum { BIG = 20000 };
    static const long delays_ns[] = {500000, 2000000, 5000000, 20000000};
    papyra_record *recs = calloc(BIG, sizeof(*recs));
    ctx c;

    redis_needed();
    assert_non_null(recs);
    for (int i = 0; i < BIG; i++)
        recs[i] = st_event(i, i);
    ctx_open(&c, REDIS_CASE, false);
    for (size_t d = 0; d < sizeof(delays_ns) / sizeof(delays_ns[0]); d++) {
        pthread_t t;
        int rc;
        assert_int_equal(pthread_create(&t, NULL, redis_killer, (void *)&delays_ns[d]), 0);
        rc = papyra_store_write_batch(c.s, recs, BIG);
        assert_int_equal(pthread_join(t, NULL), 0);
        if (rc == 0)
            observe(&c, PAPYRA_OPERATION_WRITE, (outcome){.records = BIG});
        else
            observe(&c, PAPYRA_OPERATION_WRITE, (outcome){.failed = true});
        assert_int_equal(papyra_test_redis_start(&server), 0);
        expect_all_succeed(&c, 0, 0);
    }
    free(recs);
    ctx_close(&c);
}

/*
 * The server restarts while the store's connection is idle, before each
 * operation: the dead connection is noticed before anything is sent, so each
 * operation succeeds and moves exactly what it would on a live connection.
 */
static void
test_redis_server_restarted_between_calls(void **state)
{
    papyra_recovery_options repair = {.mode = PAPYRA_RECOVER_REPAIR};
    papyra_record one = st_event(1, 1);
    papyra_recovery_report *rr = NULL;
    papyra_compaction_report cr;
    ctx c;

    redis_needed();
    ctx_open(&c, REDIS_CASE, false);
    write_three(&c);
    observe(&c, PAPYRA_OPERATION_WRITE, (outcome){.records = 3});

    redis_restart();
    assert_int_equal(papyra_store_write(c.s, &one), 0);
    observe(&c, PAPYRA_OPERATION_WRITE, (outcome){.records = 1});

    redis_restart();
    write_three(&c);
    observe(&c, PAPYRA_OPERATION_WRITE, (outcome){.records = 3});

    redis_restart();
    redis_xadd(c.dir, "events", "data", event_json);
    redis_xadd(c.dir, "events", "data", event_json);
    st_assert_count(c.s, PAPYRA_KIND_EVENT, 2);
    observe(&c, PAPYRA_OPERATION_READ, (outcome){.records = 2});

    redis_restart();
    redis_corrupt(c.dir);
    st_assert_scan(c.s, 1);
    observe(&c, PAPYRA_OPERATION_SCAN, (outcome){.scans = 1, .anomalies = 1});

    redis_restart();
    redis_corrupt(c.dir);
    assert_int_equal(papyra_store_recover(c.s, &repair, &rr), 0);
    assert_int_equal(rr->n_repaired, 1);
    observe(&c, PAPYRA_OPERATION_RECOVER, recovered(rr, 2, 1));
    papyra_recovery_report_free(rr);

    redis_restart();
    redis_corrupt(c.dir);
    assert_int_equal(papyra_store_compact(c.s, &cr), 0);
    assert_int_equal(cr.before_records, 1);
    assert_int_equal(cr.after_records, 0);
    observe(&c, PAPYRA_OPERATION_COMPACT, compacted(&cr, 1, 0));
    ctx_close(&c);
}

/*
 * A wrong password. At open it fails the open (EACCES) and, no operation
 * having run, moves no counter of the store's metrics file. Mid-run (the
 * password changes and the server drops the store's connection) every
 * operation fails on the reconnection with EACCES and counts as a failure;
 * once the password is back, every operation succeeds again.
 */
static void
test_redis_wrong_password(void **state)
{
    papyra_test_redis sec = {.requirepass = "s3cret"};
    papyra_store *s = NULL;
    papyra_error e = {0};
    redisReply *reply;
    char url[4096];
    char *dir;
    ctx c;

    redis_needed();
    assert_int_equal(papyra_test_redis_start(&sec), 0);
    dir = papyra_test_tmpdir();
    assert_non_null(dir);
    snprintf(url, sizeof(url), "redis://:wrong@127.0.0.1:%d/0?prefix=%s&metrics=%s/redis.metrics",
             sec.port, redis_prefix(dir), dir);
    assert_int_equal(papyra_store_open(&s, url, &e), PAPYRA_EACCES);
    assert_null(s);
    assert_non_null(strstr(e.message, "authentication failed"));
    snprintf(url, sizeof(url),
             "redis://:s3cret@127.0.0.1:%d/0?prefix=%s&metrics=%s/redis.metrics"
             "&connect_timeout_ms=500&timeout_ms=2000",
             sec.port, redis_prefix(dir), dir);
    ctx_open_url(&c, REDIS_CASE, dir, url);
    for (int i = 0; i < PAPYRA_METRIC_COUNT; i++)
        assert_int_equal(c.before[i], 0);
    write_three(&c);
    observe(&c, PAPYRA_OPERATION_WRITE, (outcome){.records = 3});

    /* The password changes; the store's connection is dropped and must log in again. */
    reply = redis_raw(&sec, "CONFIG SET requirepass changed");
    assert_int_equal(reply->type, REDIS_REPLY_STATUS);
    freeReplyObject(reply);
    sec.requirepass = "changed";
    reply = redis_raw(&sec, "CLIENT KILL TYPE normal");
    freeReplyObject(reply);
    expect_all_fail(&c, PAPYRA_EACCES);
    assert_non_null(strstr(papyra_store_errmsg(c.s), "authentication failed"));

    reply = redis_raw(&sec, "CONFIG SET requirepass s3cret");
    freeReplyObject(reply);
    sec.requirepass = "s3cret";
    expect_all_succeed(&c, 2, 3);
    ctx_close(&c);
    papyra_test_redis_stop(&sec);
}

/*
 * A key of the wrong type (a string where the events stream belongs): every
 * operation that touches it fails with EPROTO and counts as a failure. A
 * batch that also holds an audit fails, but Redis, having no rollback,
 * stored the audit (docs/backend-redis.md): records_written counts it, the
 * message says so, and reading the audits shows it.
 */
static void
test_redis_wrong_key_type(void **state)
{
    redisReply *reply;
    ctx c;

    redis_needed();
    ctx_open(&c, REDIS_CASE, false);
    reply = redis_raw(&server, "SET %s:local:events not-a-stream", redis_prefix(c.dir));
    freeReplyObject(reply);
    expect_all_fail_storing(&c, PAPYRA_EPROTO, 1);
    assert_non_null(strstr(papyra_store_errmsg(c.s), "WRONGTYPE"));
    st_assert_count(c.s, PAPYRA_KIND_AUDIT, 1);
    observe(&c, PAPYRA_OPERATION_READ, (outcome){.records = 1});
    /* The caller learns which record failed and that the others are stored. */
    {
        papyra_record batch[4] = {st_audit(4, 4), st_event(5, 5), st_audit(6, 6), st_event(7, 7)};
        fails_with(papyra_store_write_batch(c.s, batch, 4), PAPYRA_EPROTO);
        assert_non_null(strstr(papyra_store_errmsg(c.s), "(record 1; 2 of the batch's 4 records "
                                                         "were stored)"));
        observe(&c, PAPYRA_OPERATION_WRITE, (outcome){.failed = true, .records = 2});
    }

    reply = redis_raw(&server, "DEL %s:local:events %s:local:audits", redis_prefix(c.dir),
                      redis_prefix(c.dir));
    freeReplyObject(reply);
    write_three(&c);
    observe(&c, PAPYRA_OPERATION_WRITE, (outcome){.records = 3});
    ctx_close(&c);
}

/*
 * A record that cannot be serialised at the end of a batch large enough that
 * its first part is already on the wire: the batch fails as one write error,
 * nothing of it is stored (the transaction never gets its EXEC), and the next
 * write succeeds on a fresh connection.
 */
static void
test_redis_unserialisable_record_in_a_large_batch(void **state)
{
    enum { BIG = 2000 };
    papyra_record *recs = calloc(BIG, sizeof(*recs));
    papyra_record one = st_event(1, 1);
    redisReply *reply;
    ctx c;

    redis_needed();
    assert_non_null(recs);
    ctx_open(&c, REDIS_CASE, false);
    for (int i = 0; i < BIG; i++)
        recs[i] = st_event(i, i);
    recs[BIG - 1].u.event.event_type = NULL; /* cannot be serialised */
    assert_int_equal(papyra_store_write_batch(c.s, recs, BIG), PAPYRA_EINVAL);
    observe(&c, PAPYRA_OPERATION_WRITE, (outcome){.failed = true});
    reply = redis_raw(&server, "EXISTS %s:local:events", redis_prefix(c.dir));
    assert_int_equal(reply->integer, 0);
    freeReplyObject(reply);
    assert_int_equal(papyra_store_write(c.s, &one), 0);
    observe(&c, PAPYRA_OPERATION_WRITE, (outcome){.records = 1});
    recs[BIG - 1] = st_event(BIG, BIG);
    assert_int_equal(papyra_store_write_batch(c.s, recs, BIG), 0);
    observe(&c, PAPYRA_OPERATION_WRITE, (outcome){.records = BIG});
    expect_all_succeed(&c, BIG + 1, BIG + 1);

    /* Reads over several pages: a limit, and retention stopping the walk early. */
    {
        papyra_list_options lim = {.limit = 1500};
        papyra_record_list *l = NULL;
        char url[4096];
        char *dir2 = papyra_test_tmpdir();
        ctx c2;

        assert_int_equal(papyra_store_list(c.s, PAPYRA_KIND_EVENT, &lim, &l), 0);
        assert_int_equal(l->count, 1500);
        assert_true(l->records[1499].u.event.timestamp ==
                    1.0); /* the newest: expect_all_succeed's */
        papyra_record_list_free(l);
        observe(&c, PAPYRA_OPERATION_READ, (outcome){.records = 1500});
        assert_non_null(dir2);
        snprintf(url, sizeof(url),
                 "redis://127.0.0.1:%d/0?prefix=%s&metrics=%s/redis.metrics&max_records=1200",
                 server.port, redis_prefix(c.dir), dir2);
        ctx_open_url(&c2, REDIS_CASE, dir2, url);
        for (int round = 0; round < 2; round++) {
            st_assert_count(c2.s, PAPYRA_KIND_EVENT, 1200);
            observe(&c2, PAPYRA_OPERATION_READ, (outcome){.records = 1200});
        }
        assert_int_equal(papyra_store_write(c2.s, &one), 0);
        observe(&c2, PAPYRA_OPERATION_WRITE, (outcome){.records = 1});
        ctx_close(&c2);
    }
    free(recs);
    ctx_close(&c);
}

/*
 * A record upstream wrote with a field of the wrong type: list skips it as
 * an anomaly (never coerced), scan reports MISTYPED_RECORD, and neither
 * repair nor compaction removes it; it does not make the recover fail.
 */
static void
test_redis_mistyped_entries_are_reported_and_kept(void **state)
{
    static const papyra_recovery_options repair = {.mode = PAPYRA_RECOVER_REPAIR};
    papyra_record ok = st_event(1, 1);
    papyra_scan_report *sr = NULL;
    papyra_recovery_report *rr = NULL;
    papyra_compaction_report cr;
    redisReply *reply;
    ctx c;

    redis_needed();
    ctx_open(&c, REDIS_CASE, false);
    assert_int_equal(papyra_store_write(c.s, &ok), 0);
    observe(&c, PAPYRA_OPERATION_WRITE, (outcome){.records = 1});
    redis_xadd(c.dir, "events", "data",
               "{\"kind\": \"event\", \"event_type\": 5, \"timestamp\": 2}");
    redis_xadd(c.dir, "events", "data", "{corrupt");
    st_assert_count(c.s, PAPYRA_KIND_EVENT, 1);
    observe(&c, PAPYRA_OPERATION_READ, (outcome){.records = 1, .anomalies = 2});

    assert_int_equal(papyra_store_scan(c.s, &sr), 0);
    assert_int_equal(sr->count, 2);
    assert_int_equal(sr->anomalies[0].type, PAPYRA_ANOMALY_MISTYPED_RECORD);
    assert_non_null(strstr(sr->anomalies[0].detail,
                           ": field 'event_type' is an integer, a string is required"));
    assert_int_equal(sr->anomalies[1].type, PAPYRA_ANOMALY_CORRUPTED_LINE);
    papyra_scan_report_free(sr);
    observe(&c, PAPYRA_OPERATION_SCAN, (outcome){.scans = 1, .anomalies = 2});

    assert_int_equal(papyra_store_recover(c.s, &repair, &rr), 0);
    assert_int_equal(rr->after->count, 1);
    assert_int_equal(rr->after->anomalies[0].type, PAPYRA_ANOMALY_MISTYPED_RECORD);
    observe(&c, PAPYRA_OPERATION_RECOVER, recovered(rr, 2, 3));
    papyra_recovery_report_free(rr);
    assert_int_equal(papyra_store_compact(c.s, &cr), 0);
    assert_int_equal(cr.after_records, 2);
    observe(&c, PAPYRA_OPERATION_COMPACT, compacted(&cr, 0, 0));
    reply = redis_raw(&server, "XLEN %s:local:events", redis_prefix(c.dir));
    assert_int_equal(reply->integer, 2);
    freeReplyObject(reply);
    ctx_close(&c);
}

/* Adds the three kinds of bad entry upstream's scan reports to the audits stream. */
static void
add_bad_audits(const char *dir)
{
    redis_xadd(dir, "audits", "other", "no data field");
    redis_xadd(dir, "audits", "data", "{corrupt");
    redis_xadd(dir, "audits", "data", "[1, 2]");
}

/*
 * Corrupt entries: one anomaly per entry whose `data` is missing, not JSON or
 * not an object, counted by each operation that observes it (a read only
 * when its walk reaches it); objects of another kind or without a timestamp
 * are invisible to reads and are no anomaly.
 */
static void
test_redis_corrupt_entries(void **state)
{
    papyra_recovery_options quarantine = {.mode = PAPYRA_RECOVER_QUARANTINE};
    papyra_list_options lim = {.limit = 1};
    papyra_record audits[2] = {st_audit(1, 1), st_audit(2, 2)};
    papyra_record_list *l = NULL;
    papyra_recovery_report *rr = NULL;
    papyra_compaction_report cr;
    redisReply *reply;
    ctx c;

    redis_needed();
    ctx_open(&c, REDIS_CASE, false);
    add_bad_audits(c.dir);
    redis_xadd(c.dir, "audits", "data", event_json);
    redis_xadd(c.dir, "audits", "data", "{\"kind\": \"audit\"}");
    assert_int_equal(papyra_store_write_batch(c.s, audits, 2), 0);
    observe(&c, PAPYRA_OPERATION_WRITE, (outcome){.records = 2});
    redis_xadd(c.dir, "events", "data", "");

    /* The newest record is found before the walk reaches a bad entry. */
    assert_int_equal(papyra_store_list(c.s, PAPYRA_KIND_AUDIT, &lim, &l), 0);
    assert_int_equal(l->count, 1);
    papyra_record_list_free(l);
    observe(&c, PAPYRA_OPERATION_READ, (outcome){.records = 1});
    st_assert_count(c.s, PAPYRA_KIND_AUDIT, 2);
    observe(&c, PAPYRA_OPERATION_READ, (outcome){.records = 2, .anomalies = 3});
    st_assert_count(c.s, PAPYRA_KIND_EVENT, 0);
    observe(&c, PAPYRA_OPERATION_READ, (outcome){.anomalies = 1});

    st_assert_scan(c.s, 4);
    observe(&c, PAPYRA_OPERATION_SCAN, (outcome){.scans = 1, .anomalies = 4});

    /* IGNORE: one scan that sees them, nothing changes, not a failure. */
    assert_int_equal(papyra_store_recover(c.s, NULL, &rr), 0);
    observe(&c, PAPYRA_OPERATION_RECOVER, recovered(rr, 1, 4));
    papyra_recovery_report_free(rr);

    /* Compaction drops the four bad entries and keeps the invisible objects. */
    assert_int_equal(papyra_store_compact(c.s, &cr), 0);
    assert_int_equal(cr.before_records, 8);
    assert_int_equal(cr.after_records, 4);
    observe(&c, PAPYRA_OPERATION_COMPACT, compacted(&cr, 4, 0));
    st_assert_count(c.s, PAPYRA_KIND_AUDIT, 2);
    observe(&c, PAPYRA_OPERATION_READ, (outcome){.records = 2});

    /* QUARANTINE: the scan, the copy and delete, a clean verifying scan. */
    add_bad_audits(c.dir);
    assert_int_equal(papyra_store_recover(c.s, &quarantine, &rr), 0);
    assert_int_equal(rr->scan->count, 3);
    assert_int_equal(rr->after->count, 0);
    assert_int_equal(rr->n_quarantined, 1);
    observe(&c, PAPYRA_OPERATION_RECOVER, recovered(rr, 2, 3));
    papyra_recovery_report_free(rr);
    reply = redis_raw(&server, "XLEN %s:local:quarantine:%s_local_audits", redis_prefix(c.dir),
                      redis_prefix(c.dir));
    assert_int_equal(reply->integer, 3);
    freeReplyObject(reply);
    st_assert_count(c.s, PAPYRA_KIND_AUDIT, 2);
    observe(&c, PAPYRA_OPERATION_READ, (outcome){.records = 2});
    ctx_close(&c);
}
#endif

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write),
        cmocka_unit_test(test_write_rejections_name_the_record_the_field_and_the_reason),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_each),
        cmocka_unit_test(test_scan),
        cmocka_unit_test(test_recover),
        cmocka_unit_test(test_compact),
        cmocka_unit_test(test_compact_under_retention),
        cmocka_unit_test(test_closed_handle),
        cmocka_unit_test(test_progress),
#ifdef PAPYRA_HAVE_REDIS
        cmocka_unit_test(test_redis_server_stopped_then_started),
        cmocka_unit_test(test_redis_server_restarted_between_calls),
        cmocka_unit_test(test_redis_server_killed_during_a_batch),
        cmocka_unit_test(test_redis_wrong_password),
        cmocka_unit_test(test_redis_wrong_key_type),
        cmocka_unit_test(test_redis_unserialisable_record_in_a_large_batch),
        cmocka_unit_test(test_redis_corrupt_entries),
        cmocka_unit_test(test_redis_mistyped_entries_are_reported_and_kept),
#endif
        cmocka_unit_test(test_every_fact_reported),
    };
    bool fail_missing = conformance_start();
    int rc = cmocka_run_group_tests(tests, NULL, NULL);

    conformance_stop();
    return rc != 0 ? rc : fail_missing;
}
