/* SPDX-License-Identifier: MIT */
/*
 * Every backend, every operation, succeeding and failing, with the exact
 * delta of all ten counters.
 *
 * The expected deltas come from what each operation reports (records
 * written, returned, anomalies seen) filtered through the spec: a counter
 * whose `operations` do not name the operation must not move (the test
 * fails if its own expectation says otherwise), and a counter the backend
 * does not support must not move and must read as unsupported.
 *
 * Adding a backend is one entry in `cases` (rotating and Redis append
 * theirs).
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <papyra/store.h>

#include "backend.h"
#include "store-testutil.h"
#include "testutil.h"

typedef struct backend_case {
    const char *name;
    int id;
    /* The URL of a working store in @p dir. */
    void (*url)(const char *dir, char *buf, size_t n);
    /* A URL whose I/O fails (as root too); NULL when the backend has no such fault. */
    void (*fault_url)(const char *dir, char *buf, size_t n);
    /* Stores one corrupt record; NULL when the backend cannot hold one. */
    void (*corrupt)(const char *dir);
} backend_case;

static void
memory_url(const char *dir, char *buf, size_t n)
{
    snprintf(buf, n, "memory:");
}

static void
json_url(const char *dir, char *buf, size_t n)
{
    snprintf(buf, n, "json:%s/data.jsonl", dir);
}

/*
 * A path below a regular file fails with ENOTDIR for every user, root
 * included (chmod 0500 does not stop root).
 */
static void
json_fault_url(const char *dir, char *buf, size_t n)
{
    char *file = papyra_test_path(dir, "not-a-dir");

    papyra_test_write_file(file, "x", 1);
    snprintf(buf, n, "json:%s/data.jsonl", file);
    free(file);
}

static void
json_corrupt(const char *dir)
{
    char *path = papyra_test_path(dir, "data.jsonl");
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, "{corrupt\n", 9), 9);
    close(fd);
    free(path);
}

#ifdef PAPYRA_HAVE_ROTATING
static void
rotating_url(const char *dir, char *buf, size_t n)
{
    snprintf(buf, n, "rotating:%s/data.jsonl?max_bytes=100000&max_files=3", dir);
}

static void
rotating_fault_url(const char *dir, char *buf, size_t n)
{
    char *file = papyra_test_path(dir, "not-a-dir");

    papyra_test_write_file(file, "x", 1);
    snprintf(buf, n, "rotating:%s/data.jsonl", file);
    free(file);
}
#endif

static const backend_case cases[] = {
    {"memory", PAPYRA_BACKEND_MEMORY, memory_url, NULL, NULL},
    {"json", PAPYRA_BACKEND_JSON, json_url, json_fault_url, json_corrupt},
#ifdef PAPYRA_HAVE_ROTATING
    /* The active file has the same name and line format as the JSON backend's file. */
    {"rotating", PAPYRA_BACKEND_ROTATING, rotating_url, rotating_fault_url, json_corrupt},
#endif
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

enum { C_WRITTEN, C_WERR, C_READ, C_RERR, C_SCAN, C_ANOM, C_RATT, C_RFAIL, C_CTRIG, C_CERR };

typedef struct ctx {
    const backend_case *bc;
    char *dir;
    papyra_store *s;
    uint64_t before[PAPYRA_METRIC_COUNT];
} ctx;

static void
ctx_open(ctx *c, const backend_case *bc, bool fault)
{
    char url[4096];

    memset(c, 0, sizeof(*c));
    c->bc = bc;
    c->dir = papyra_test_tmpdir();
    assert_non_null(c->dir);
    (fault ? bc->fault_url : bc->url)(c->dir, url, sizeof(url));
    c->s = st_open("%s", url);
    assert_string_equal(papyra_store_backend(c->s), bc->name);
    st_counters(c->s, c->before);
}

static void
ctx_close(ctx *c)
{
    papyra_store_close(c->s);
    papyra_test_rmtree(c->dir);
    free(c->dir);
}

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

static void
write_three(ctx *c)
{
    papyra_record recs[3] = {st_event(1, 1), st_event(2, 2), st_audit(3, 3)};

    assert_int_equal(papyra_store_write_batch(c->s, recs, 3), 0);
}

static void
test_write(void **state)
{
    size_t i;

    for (i = 0; i < NCASES; i++) {
        ctx c;
        papyra_record bad = st_event(1, 1);
        ctx_open(&c, &cases[i], false);
        write_three(&c);
        expect(&c, PAPYRA_OPERATION_WRITE, (int[PAPYRA_METRIC_COUNT]){[C_WRITTEN] = 3});
        bad.u.event.event_type = NULL; /* cannot be serialised */
        assert_int_equal(papyra_store_write(c.s, &bad), PAPYRA_EINVAL);
        expect(&c, PAPYRA_OPERATION_WRITE, (int[PAPYRA_METRIC_COUNT]){[C_WERR] = 1});
        assert_int_equal(papyra_store_write(c.s, NULL), PAPYRA_EINVAL);
        expect(&c, PAPYRA_OPERATION_WRITE, (int[PAPYRA_METRIC_COUNT]){[C_WERR] = 1});
        ctx_close(&c);
        if (!cases[i].fault_url)
            continue;
        ctx_open(&c, &cases[i], true);
        assert_non_null(papyra_store_metrics_warning(c.s));
        {
            papyra_record ok = st_event(1, 1);
            assert_true(papyra_store_write(c.s, &ok) < 0);
        }
        expect(&c, PAPYRA_OPERATION_WRITE, (int[PAPYRA_METRIC_COUNT]){[C_WERR] = 1});
        ctx_close(&c);
    }
}

static void
test_list(void **state)
{
    size_t i;

    for (i = 0; i < NCASES; i++) {
        ctx c;
        papyra_record_list *l = NULL;
        ctx_open(&c, &cases[i], false);
        write_three(&c);
        st_counters(c.s, c.before);
        assert_int_equal(papyra_store_list(c.s, PAPYRA_KIND_EVENT, NULL, &l), 0);
        assert_int_equal(l->count, 2);
        papyra_record_list_free(l);
        expect(&c, PAPYRA_OPERATION_READ, (int[PAPYRA_METRIC_COUNT]){[C_READ] = 2});
        if (cases[i].corrupt) {
            cases[i].corrupt(c.dir);
            assert_int_equal(papyra_store_list(c.s, PAPYRA_KIND_AUDIT, NULL, &l), 0);
            assert_int_equal(l->count, 1);
            papyra_record_list_free(l);
            expect(&c, PAPYRA_OPERATION_READ,
                   (int[PAPYRA_METRIC_COUNT]){[C_READ] = 1, [C_ANOM] = 1});
        }
        assert_int_equal(papyra_store_list(c.s, (papyra_kind)7, NULL, &l), PAPYRA_EINVAL);
        expect(&c, PAPYRA_OPERATION_READ, (int[PAPYRA_METRIC_COUNT]){[C_RERR] = 1});
        ctx_close(&c);
        if (!cases[i].fault_url)
            continue;
        ctx_open(&c, &cases[i], true);
        assert_true(papyra_store_list(c.s, PAPYRA_KIND_EVENT, NULL, &l) < 0);
        expect(&c, PAPYRA_OPERATION_READ, (int[PAPYRA_METRIC_COUNT]){[C_RERR] = 1});
        ctx_close(&c);
    }
}

static void
test_scan(void **state)
{
    size_t i;

    for (i = 0; i < NCASES; i++) {
        ctx c;
        papyra_scan_report *rep = NULL;
        ctx_open(&c, &cases[i], false);
        write_three(&c);
        st_counters(c.s, c.before);
        assert_int_equal(papyra_store_scan(c.s, &rep), 0);
        assert_int_equal(rep->count, 0);
        assert_string_equal(rep->backend, cases[i].name);
        papyra_scan_report_free(rep);
        expect(&c, PAPYRA_OPERATION_SCAN, (int[PAPYRA_METRIC_COUNT]){[C_SCAN] = 1});
        if (cases[i].corrupt) {
            cases[i].corrupt(c.dir);
            cases[i].corrupt(c.dir);
            assert_int_equal(papyra_store_scan(c.s, &rep), 0);
            assert_int_equal(rep->count, 2);
            papyra_scan_report_free(rep);
            expect(&c, PAPYRA_OPERATION_SCAN,
                   (int[PAPYRA_METRIC_COUNT]){[C_SCAN] = 1, [C_ANOM] = 2});
        }
        ctx_close(&c);
        if (!cases[i].fault_url)
            continue;
        ctx_open(&c, &cases[i], true);
        assert_true(papyra_store_scan(c.s, &rep) < 0);
        expect(&c, PAPYRA_OPERATION_SCAN, (int[PAPYRA_METRIC_COUNT]){[C_SCAN] = 1});
        ctx_close(&c);
    }
}

static void
test_recover(void **state)
{
    papyra_recovery_options repair = {.mode = PAPYRA_RECOVER_REPAIR};
    size_t i;

    for (i = 0; i < NCASES; i++) {
        ctx c;
        papyra_recovery_report *rep = NULL;
        ctx_open(&c, &cases[i], false);
        write_three(&c);
        st_counters(c.s, c.before);
        /* Clean: one scan, nothing repaired. */
        assert_int_equal(papyra_store_recover(c.s, &repair, &rep), 0);
        assert_null(rep->after);
        papyra_recovery_report_free(rep);
        expect(&c, PAPYRA_OPERATION_RECOVER,
               (int[PAPYRA_METRIC_COUNT]){[C_RATT] = 1, [C_SCAN] = 1});
        if (cases[i].corrupt) {
            cases[i].corrupt(c.dir);
            /* IGNORE: one scan that sees it, no change. */
            assert_int_equal(papyra_store_recover(c.s, NULL, &rep), 0);
            papyra_recovery_report_free(rep);
            expect(&c, PAPYRA_OPERATION_RECOVER,
                   (int[PAPYRA_METRIC_COUNT]){[C_RATT] = 1, [C_SCAN] = 1, [C_ANOM] = 1});
            /* REPAIR: the scan, the repair, a clean verifying scan. */
            assert_int_equal(papyra_store_recover(c.s, &repair, &rep), 0);
            assert_int_equal(rep->scan->count, 1);
            assert_int_equal(rep->after->count, 0);
            papyra_recovery_report_free(rep);
            expect(&c, PAPYRA_OPERATION_RECOVER,
                   (int[PAPYRA_METRIC_COUNT]){[C_RATT] = 1, [C_SCAN] = 2, [C_ANOM] = 1});
        }
        ctx_close(&c);
        if (!cases[i].fault_url)
            continue;
        ctx_open(&c, &cases[i], true);
        assert_true(papyra_store_recover(c.s, &repair, &rep) < 0);
        expect(&c, PAPYRA_OPERATION_RECOVER,
               (int[PAPYRA_METRIC_COUNT]){[C_RATT] = 1, [C_SCAN] = 1, [C_RFAIL] = 1});
        ctx_close(&c);
    }
}

static void
test_compact(void **state)
{
    size_t i;

    for (i = 0; i < NCASES; i++) {
        bool sup = papyra_metric_supported(cases[i].id, PAPYRA_METRIC_COMPACTIONS_TRIGGERED);
        papyra_compaction_report rep;
        ctx c;
        ctx_open(&c, &cases[i], false);
        write_three(&c);
        st_counters(c.s, c.before);
        assert_int_equal(papyra_store_compact(c.s, &rep), sup ? 0 : PAPYRA_EUNSUPPORTED);
        expect(&c, PAPYRA_OPERATION_COMPACT, (int[PAPYRA_METRIC_COUNT]){[C_CTRIG] = 1});
        if (sup) {
            assert_int_equal(rep.before_records, 3);
            assert_int_equal(rep.after_records, 3);
        }
        if (sup && cases[i].corrupt) {
            cases[i].corrupt(c.dir);
            assert_int_equal(papyra_store_compact(c.s, &rep), 0);
            assert_int_equal(rep.after_records, 3);
            expect(&c, PAPYRA_OPERATION_COMPACT,
                   (int[PAPYRA_METRIC_COUNT]){[C_CTRIG] = 1, [C_ANOM] = 1});
        }
        ctx_close(&c);
        if (!cases[i].fault_url || !sup)
            continue;
        ctx_open(&c, &cases[i], true);
        assert_true(papyra_store_compact(c.s, &rep) < 0);
        expect(&c, PAPYRA_OPERATION_COMPACT,
               (int[PAPYRA_METRIC_COUNT]){[C_CTRIG] = 1, [C_CERR] = 1});
        ctx_close(&c);
    }
}

/* A closed handle: every operation fails with ECLOSED and counts as a failure. */
static void
test_closed_handle(void **state)
{
    papyra_recovery_options repair = {.mode = PAPYRA_RECOVER_REPAIR};
    size_t i;

    for (i = 0; i < NCASES; i++) {
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
        expect(&c, PAPYRA_OPERATION_WRITE, (int[PAPYRA_METRIC_COUNT]){[C_WERR] = 1});
        assert_int_equal(papyra_store_list(c.s, PAPYRA_KIND_EVENT, NULL, &l), PAPYRA_ECLOSED);
        expect(&c, PAPYRA_OPERATION_READ, (int[PAPYRA_METRIC_COUNT]){[C_RERR] = 1});
        assert_int_equal(papyra_store_scan(c.s, &sr), PAPYRA_ECLOSED);
        expect(&c, PAPYRA_OPERATION_SCAN, (int[PAPYRA_METRIC_COUNT]){[C_SCAN] = 1});
        assert_int_equal(papyra_store_recover(c.s, &repair, &rr), PAPYRA_ECLOSED);
        expect(&c, PAPYRA_OPERATION_RECOVER,
               (int[PAPYRA_METRIC_COUNT]){[C_RATT] = 1, [C_RFAIL] = 1});
        assert_int_equal(papyra_store_compact(c.s, &cr),
                         sup ? PAPYRA_ECLOSED : PAPYRA_EUNSUPPORTED);
        expect(&c, PAPYRA_OPERATION_COMPACT,
               (int[PAPYRA_METRIC_COUNT]){[C_CTRIG] = 1, [C_CERR] = 1});
        assert_null(l);
        assert_null(sr);
        assert_null(rr);
        ctx_close(&c);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write),   cmocka_unit_test(test_list),
        cmocka_unit_test(test_scan),    cmocka_unit_test(test_recover),
        cmocka_unit_test(test_compact), cmocka_unit_test(test_closed_handle),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
