/* SPDX-License-Identifier: MIT */
/*
 * The rotating backend on real files: upstream's acceptance cases (with the
 * rotation bug fixed), rotation bounds, several threads and processes
 * appending, recovery, compaction and its crash safety.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <papyra/store.h>

#include "testutil.h"

static int
setup(void **state)
{
    *state = papyra_test_tmpdir();
    return *state ? 0 : -1;
}

static int
teardown(void **state)
{
    papyra_test_rmtree(*state);
    free(*state);
    return 0;
}

/* Opens "rotating:<dir>/rot.log?<params>" (metrics=none unless given). */
static papyra_store *
open_rot(const char *dir, const char *params)
{
    papyra_store *s = NULL;
    papyra_error err = {0};
    char *url;
    int r;

    assert_true(asprintf(&url, "rotating:%s/rot.log?%s%smetrics=none", dir, params ? params : "",
                         params && *params ? "&" : "") > 0);
    r = papyra_store_open(&s, url, &err);
    if (r != 0)
        fail_msg("open %s: %s", url, err.message);
    free(url);
    return s;
}

static int
write_event_ex(papyra_store *s, const char *system_id, const char *type, double ts)
{
    papyra_record rec = {.kind = PAPYRA_KIND_EVENT};

    rec.u.event.system_id = system_id;
    rec.u.event.actor_address = "\"local://1\"";
    rec.u.event.event_type = type;
    rec.u.event.timestamp = ts;
    return papyra_store_write(s, &rec);
}

static void
write_event(papyra_store *s, double ts)
{
    assert_int_equal(write_event_ex(s, "local", "ActorStarted", ts), 0);
}

static papyra_record_list *
list_kind(papyra_store *s, papyra_kind kind, const papyra_list_options *o)
{
    papyra_record_list *l = NULL;

    assert_int_equal(papyra_store_list(s, kind, o, &l), 0);
    return l;
}

/* Entries named "rot.log" or "rot.log.<digits>". */
static int
count_set(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d))) {
        const char *s = e->d_name;
        if (strcmp(s, "rot.log") == 0) {
            n++;
            continue;
        }
        if (strncmp(s, "rot.log.", 8) != 0 || !s[8])
            continue;
        s += 8;
        while (*s >= '0' && *s <= '9')
            s++;
        if (!*s)
            n++;
    }
    closedir(d);
    return n;
}

/* Total number of lines over the set files. */
static size_t
count_lines(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;

    assert_non_null(d);
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "rot.log", 7) != 0 || strstr(e->d_name, "quarantine"))
            continue;
        char *p = papyra_test_path(dir, e->d_name), *data;
        data = papyra_test_read_file(p, NULL);
        for (char *c = data; *c; c++)
            n += *c == '\n';
        free(data);
        free(p);
    }
    closedir(d);
    return n;
}

static bool
file_exists(const char *dir, const char *name)
{
    char *p = papyra_test_path(dir, name);
    struct stat st;
    bool ok = stat(p, &st) == 0;

    free(p);
    return ok;
}

static void
test_missing_files_empty(void **state)
{
    papyra_store *s = open_rot(*state, NULL);

    for (int k = 0; k < PAPYRA_KIND_MAX; k++) {
        papyra_record_list *l = list_kind(s, (papyra_kind)k, NULL);
        assert_int_equal(l->count, 0);
        papyra_record_list_free(l);
    }
    assert_int_equal(count_set(*state), 0);
    papyra_store_close(s);
}

static void
test_roundtrip_each_kind(void **state)
{
    papyra_store *s = open_rot(*state, NULL);
    const char *orphans[] = {"a"};
    papyra_record a = {.kind = PAPYRA_KIND_AUDIT}, d = {.kind = PAPYRA_KIND_DEAD_LETTER};
    papyra_record_list *l;

    write_event(s, 1.5);
    a.u.audit.timestamp = 2;
    a.u.audit.total_actors = 7;
    a.u.audit.registry_orphans = orphans;
    a.u.audit.n_registry_orphans = 1;
    assert_int_equal(papyra_store_write(s, &a), 0);
    d.u.dead_letter.target = "\"local://1\"";
    d.u.dead_letter.message_type = "str";
    d.u.dead_letter.payload = "\"late\"";
    d.u.dead_letter.timestamp = 3;
    assert_int_equal(papyra_store_write(s, &d), 0);
    papyra_store_close(s);

    s = open_rot(*state, NULL);
    l = list_kind(s, PAPYRA_KIND_EVENT, NULL);
    assert_int_equal(l->count, 1);
    assert_string_equal(l->records[0].u.event.event_type, "ActorStarted");
    assert_true(l->records[0].u.event.timestamp == 1.5);
    papyra_record_list_free(l);
    l = list_kind(s, PAPYRA_KIND_AUDIT, NULL);
    assert_int_equal(l->count, 1);
    assert_int_equal(l->records[0].u.audit.total_actors, 7);
    papyra_record_list_free(l);
    l = list_kind(s, PAPYRA_KIND_DEAD_LETTER, NULL);
    assert_int_equal(l->count, 1);
    assert_string_equal(l->records[0].u.dead_letter.message_type, "str");
    assert_string_equal(l->records[0].u.dead_letter.payload, "\"late\"");
    papyra_record_list_free(l);
    papyra_store_close(s);
}

static void
test_rotation_creates_files(void **state)
{
    papyra_store *s = open_rot(*state, "max_bytes=200&max_files=3");

    for (int i = 0; i < 10; i++)
        write_event(s, i);
    assert_true(file_exists(*state, "rot.log"));
    assert_true(file_exists(*state, "rot.log.1"));
    assert_true(count_set(*state) <= 3);
    papyra_store_close(s);
}

/* Upstream expected all 12 to survive (its rotation stopped when full); ours drops the oldest. */
static void
test_rotation_keeps_newest(void **state)
{
    papyra_store *s = open_rot(*state, "max_bytes=200&max_files=4");
    papyra_record_list *l;

    for (int i = 0; i < 12; i++)
        write_event(s, i);
    assert_true(count_set(*state) <= 4);
    assert_false(file_exists(*state, "rot.log.4"));
    l = list_kind(s, PAPYRA_KIND_EVENT, NULL);
    assert_true(l->count >= 3 && l->count < 12);
    for (size_t i = 0; i < l->count; i++)
        assert_true(l->records[i].u.event.timestamp == (double)(12 - l->count + i));
    papyra_record_list_free(l);
    papyra_store_close(s);
}

static void
test_since_and_limit(void **state)
{
    papyra_store *s = open_rot(*state, "max_bytes=150&max_files=5");
    papyra_list_options o = {0};
    papyra_record_list *l;

    for (int i = 0; i < 20; i++)
        write_event(s, i);
    o.has_since = true;
    o.since = 10;
    l = list_kind(s, PAPYRA_KIND_EVENT, &o);
    assert_true(l->count > 0);
    for (size_t i = 0; i < l->count; i++)
        assert_true(l->records[i].u.event.timestamp >= 10);
    papyra_record_list_free(l);
    memset(&o, 0, sizeof(o));
    o.limit = 5;
    l = list_kind(s, PAPYRA_KIND_EVENT, &o);
    assert_int_equal(l->count, 5);
    for (size_t i = 0; i < 5; i++)
        assert_true(l->records[i].u.event.timestamp == 15.0 + (double)i);
    papyra_record_list_free(l);
    papyra_store_close(s);
}

static void
test_skips_bad_lines_and_unknown_keys(void **state)
{
    char *p = papyra_test_path(*state, "rot.log");
    const char *text =
        "{\"system_id\": \"local\", \"event_type\": \"A\", \"timestamp\": 1.0, "
        "\"kind\": \"event\"}\n"
        "not json\n"
        "{\"event_type\": \"B\", \"timestamp\": 2.0, \"extra\": 1, \"kind\": \"event\"}\n";
    papyra_store *s;
    papyra_record_list *l;

    papyra_test_write_file(p, text, strlen(text));
    s = open_rot(*state, NULL);
    l = list_kind(s, PAPYRA_KIND_EVENT, NULL);
    assert_int_equal(l->count, 2);
    assert_string_equal(l->records[0].u.event.event_type, "A");
    assert_string_equal(l->records[1].u.event.event_type, "B");
    papyra_record_list_free(l);
    papyra_store_close(s);
    free(p);
}

static void
test_never_exceeds_max_files(void **state)
{
    papyra_store *s = open_rot(*state, "max_bytes=300&max_files=3");
    papyra_record_list *l;
    papyra_scan_report *rep;

    for (int i = 0; i < 1000; i++) {
        write_event(s, i);
        if (i % 7 == 0)
            assert_true(count_set(*state) <= 3);
    }
    assert_int_equal(count_set(*state), 3);
    l = list_kind(s, PAPYRA_KIND_EVENT, NULL);
    assert_true(l->count > 0);
    assert_true(l->records[l->count - 1].u.event.timestamp == 999.0);
    papyra_record_list_free(l);
    assert_int_equal(papyra_store_scan(s, &rep), 0);
    assert_int_equal(rep->count, 0);
    papyra_scan_report_free(rep);
    papyra_store_close(s);
}

static void
test_max_files_one_truncates(void **state)
{
    papyra_store *s = open_rot(*state, "max_bytes=300&max_files=1");
    papyra_record_list *l;

    for (int i = 0; i < 10; i++)
        write_event(s, i);
    assert_int_equal(count_set(*state), 1);
    l = list_kind(s, PAPYRA_KIND_EVENT, NULL);
    assert_true(l->count >= 1 && l->count <= 3);
    assert_true(l->records[l->count - 1].u.event.timestamp == 9.0);
    papyra_record_list_free(l);
    papyra_store_close(s);
}

static void
test_torn_tail_terminated(void **state)
{
    char *p = papyra_test_path(*state, "rot.log");
    const char *text = "{\"timestamp\": 1.0, \"kind\": \"event\"}\n{\"timestamp\": 2.0, \"ki";
    papyra_store *s;
    papyra_record_list *l;
    papyra_scan_report *rep;

    papyra_test_write_file(p, text, strlen(text));
    s = open_rot(*state, NULL);
    assert_int_equal(papyra_store_scan(s, &rep), 0);
    assert_int_equal(rep->count, 1);
    assert_int_equal(rep->anomalies[0].type, PAPYRA_ANOMALY_TRUNCATED_LINE);
    assert_string_equal(rep->anomalies[0].detail, "Line 2 missing newline");
    papyra_scan_report_free(rep);
    write_event(s, 3);
    l = list_kind(s, PAPYRA_KIND_EVENT, NULL);
    assert_int_equal(l->count, 2);
    assert_true(l->records[1].u.event.timestamp == 3.0);
    papyra_record_list_free(l);
    assert_int_equal(papyra_store_scan(s, &rep), 0);
    assert_int_equal(rep->count, 1);
    assert_int_equal(rep->anomalies[0].type, PAPYRA_ANOMALY_CORRUPTED_LINE);
    assert_string_equal(rep->anomalies[0].detail, "Invalid JSON at line 2");
    papyra_scan_report_free(rep);
    papyra_store_close(s);
    free(p);
}

static void
test_url_validation(void **state)
{
    const char *bad[] = {"max_bytes=0", "max_files=0", "max_files=-2", "fsync=sometimes",
                         "bogus=1"};
    const char *names[] = {"max_bytes", "max_files", "max_files", "fsync", "bogus"};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        papyra_store *s = NULL;
        papyra_error err = {0};
        char *url;

        assert_true(asprintf(&url, "rotating:%s/rot.log?%s", (char *)*state, bad[i]) > 0);
        assert_int_equal(papyra_store_open(&s, url, &err), PAPYRA_EINVAL);
        assert_null(s);
        assert_non_null(strstr(err.message, names[i]));
        free(url);
    }
}

static void
test_fsync_modes_write(void **state)
{
    const char *modes[] = {"fsync=always", "fsync=everysec", "fsync=never"};

    for (size_t i = 0; i < 3; i++) {
        papyra_store *s = open_rot(*state, modes[i]);
        write_event(s, (double)i);
        assert_int_equal(papyra_store_close(s), 0);
    }
    papyra_store *s = open_rot(*state, NULL);
    papyra_record_list *l = list_kind(s, PAPYRA_KIND_EVENT, NULL);
    assert_int_equal(l->count, 3);
    papyra_record_list_free(l);
    papyra_store_close(s);
}

/*
 * Upstream compaction case 1: retention and no temp leftovers. Upstream used
 * max_files=3 and relied on rotation stopping when full to keep all 10
 * records; with correct rotation 5 files keep 5, of which retention keeps 3.
 */
static void
test_compaction_retention(void **state)
{
    papyra_store *s = open_rot(*state, "max_bytes=80&max_files=5&max_records=3");
    papyra_compaction_report rep;

    for (int i = 0; i < 10; i++)
        write_event(s, i);
    assert_true(count_set(*state) >= 2);
    assert_int_equal(papyra_store_compact(s, &rep), 0);
    assert_true(count_set(*state) <= 3);
    assert_false(file_exists(*state, ".rot.log.rebuild"));
    assert_int_equal(count_lines(*state), 3);
    assert_int_equal(rep.after_records, 3);
    assert_true(rep.before_records >= 3);
    assert_true(rep.before_records - rep.after_records >= 1);
    papyra_store_close(s);
}

/* Upstream compaction case 2: a corrupt rotated file. */
static void
test_compaction_drops_corrupt(void **state)
{
    char *p1 = papyra_test_path(*state, "rot.log.1"), *p0 = papyra_test_path(*state, "rot.log");
    const char *ok = "{\"timestamp\": 1.0, \"kind\": \"event\"}\n";
    papyra_compaction_report rep;
    papyra_store *s;

    papyra_test_write_file(p1, "{not-json\n", 10);
    papyra_test_write_file(p0, ok, strlen(ok));
    s = open_rot(*state, "max_bytes=100&max_files=2");
    assert_int_equal(papyra_store_compact(s, &rep), 0);
    assert_int_equal(count_lines(*state), 1);
    assert_int_equal(rep.after_records, 1);
    papyra_test_assert_file(p0, ok, strlen(ok));
    assert_false(file_exists(*state, "rot.log.1"));
    papyra_store_close(s);
    free(p0);
    free(p1);
}

static void
test_compaction_empty(void **state)
{
    papyra_store *s = open_rot(*state, NULL);
    papyra_compaction_report rep;

    assert_int_equal(papyra_store_compact(s, &rep), 0);
    assert_int_equal(rep.before_records, 0);
    assert_int_equal(rep.after_records, 0);
    assert_int_equal(rep.before_bytes, 0);
    assert_int_equal(rep.after_bytes, 0);
    assert_int_equal(count_set(*state), 0);
    papyra_store_close(s);
}

static void
test_recovery_repair(void **state)
{
    char *p = papyra_test_path(*state, "rot.log");
    const char *text = "{\"kind\":\"event\",\"timestamp\":1}\n{\"kind\": \"ev";
    const char *want = "{\"kind\": \"event\", \"timestamp\": 1}\n";
    papyra_recovery_options o = {.mode = PAPYRA_RECOVER_REPAIR};
    papyra_recovery_report *rep = NULL;
    papyra_store *s;

    papyra_test_write_file(p, text, strlen(text));
    s = open_rot(*state, "max_bytes=100&max_files=3");
    assert_int_equal(papyra_store_recover(s, &o, &rep), 0);
    assert_true(rep->n_repaired >= 1);
    assert_string_equal(rep->repaired[0], p);
    assert_non_null(rep->after);
    assert_int_equal(rep->after->count, 0);
    papyra_test_assert_file(p, want, strlen(want));
    papyra_recovery_report_free(rep);
    papyra_store_close(s);
    free(p);
}

/* Upstream duplicated records when fewer files were rebuilt than existed. */
static void
test_recovery_no_duplicates(void **state)
{
    papyra_store *s = open_rot(*state, "max_bytes=120&max_files=5");
    papyra_recovery_options o = {.mode = PAPYRA_RECOVER_REPAIR};
    papyra_recovery_report *rep = NULL;
    papyra_record_list *l;
    char *p;

    for (int i = 0; i < 4; i++)
        write_event(s, i);
    assert_true(count_set(*state) >= 3);
    p = papyra_test_path(*state, "rot.log.2");
    papyra_test_write_file(p, "garbage\n", 8);
    free(p);
    papyra_store_close(s);
    s = open_rot(*state, "max_bytes=100000&max_files=5");
    assert_int_equal(papyra_store_recover(s, &o, &rep), 0);
    assert_int_equal(count_set(*state), 1);
    papyra_recovery_report_free(rep);
    l = list_kind(s, PAPYRA_KIND_EVENT, NULL);
    for (size_t i = 1; i < l->count; i++)
        assert_true(l->records[i].u.event.timestamp > l->records[i - 1].u.event.timestamp);
    assert_int_equal(l->count, 3);
    papyra_record_list_free(l);
    papyra_store_close(s);
}

static void
test_recovery_quarantine_orphan(void **state)
{
    char *p = papyra_test_path(*state, "rot.log"),
         *orphan = papyra_test_path(*state, "rot.log.orphan");
    char *qdir = papyra_test_path(*state, "q");
    const char *text = "{\"kind\": \"event\", \"timestamp\": 1}\n{broken\n";
    const char *want = "{\"kind\": \"event\", \"timestamp\": 1}\n";
    papyra_recovery_options o = {.mode = PAPYRA_RECOVER_QUARANTINE, .quarantine_dir = qdir};
    papyra_recovery_report *rep = NULL;
    papyra_store *s;
    bool seen = false;

    papyra_test_write_file(p, text, strlen(text));
    papyra_test_write_file(orphan, "x", 1);
    s = open_rot(*state, "max_bytes=100&max_files=2");
    assert_int_equal(papyra_store_recover(s, &o, &rep), 0);
    for (size_t i = 0; i < rep->scan->count; i++)
        if (rep->scan->anomalies[i].type == PAPYRA_ANOMALY_ORPHANED_ROTATED_FILE &&
            strcmp(rep->scan->anomalies[i].path, orphan) == 0)
            seen = true;
    assert_true(seen);
    papyra_test_assert_file(p, want, strlen(want));
    /* QUARANTINE moves the orphan away (REPAIR would leave it). */
    assert_false(file_exists(*state, "rot.log.orphan"));
    assert_int_equal(rep->n_quarantined, 2);
    assert_int_equal(papyra_test_count_prefix(qdir, "rot.log.quarantine."), 1);
    assert_int_equal(papyra_test_count_prefix(qdir, "rot.log.orphan.quarantine."), 1);
    papyra_test_assert_prefix_content(qdir, "rot.log.quarantine.", text, strlen(text));
    assert_int_equal(rep->after->count, 0);
    papyra_recovery_report_free(rep);
    papyra_store_close(s);
    free(p);
    free(orphan);
    free(qdir);
}

/* REPAIR keeps the orphan, as upstream's test wants; the after-scan still reports it. */
static void
test_recovery_repair_keeps_orphan(void **state)
{
    char *p = papyra_test_path(*state, "rot.log"),
         *orphan = papyra_test_path(*state, "rot.log.orphan");
    const char *text = "{\"kind\": \"event\", \"timestamp\": 1}\n{broken\n";
    papyra_recovery_options o = {.mode = PAPYRA_RECOVER_REPAIR};
    papyra_recovery_report *rep = NULL;
    papyra_store *s;

    papyra_test_write_file(p, text, strlen(text));
    papyra_test_write_file(orphan, "x", 1);
    s = open_rot(*state, "max_bytes=100&max_files=2");
    assert_int_equal(papyra_store_recover(s, &o, &rep), PAPYRA_EANOMALY);
    assert_true(file_exists(*state, "rot.log.orphan"));
    assert_int_equal(rep->after->count, 1);
    assert_int_equal(rep->after->anomalies[0].type, PAPYRA_ANOMALY_ORPHANED_ROTATED_FILE);
    papyra_recovery_report_free(rep);
    papyra_store_close(s);
    free(p);
    free(orphan);
}

/* Our own side files are never orphans; foreign names and out-of-range indexes are. */
static void
test_orphans(void **state)
{
    const char *own[] = {"rot.log.metrics",
                         "rot.log.quarantine.1700000000000",
                         "rot.log.1.quarantine.1700000000000",
                         ".rot.log.lock",
                         "other.txt",
                         "rot.log.2"};
    const char *foreign[] = {"rot.log.7", "rot.log.bak", "rot.log.compact.tmp"};
    papyra_store *s;
    papyra_scan_report *rep;

    for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
        char *p = papyra_test_path(*state, own[i]);
        papyra_test_write_file(p, "", 0);
        free(p);
    }
    for (size_t i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++) {
        char *p = papyra_test_path(*state, foreign[i]);
        papyra_test_write_file(p, "", 0);
        free(p);
    }
    s = open_rot(*state, "max_files=3");
    assert_int_equal(papyra_store_scan(s, &rep), 0);
    assert_int_equal(rep->count, 3);
    for (size_t i = 0; i < rep->count; i++) {
        assert_int_equal(rep->anomalies[i].type, PAPYRA_ANOMALY_ORPHANED_ROTATED_FILE);
        assert_string_equal(rep->anomalies[i].detail, "Unexpected file in rotation set");
    }
    /* Sorted by name. */
    assert_non_null(strstr(rep->anomalies[0].path, "rot.log.7"));
    assert_non_null(strstr(rep->anomalies[1].path, "rot.log.bak"));
    papyra_scan_report_free(rep);
    papyra_store_close(s);
}

static void
retention_case(const char *dir,
               const char *params,
               int n,
               double base,
               double step,
               size_t max_count,
               double min_ts)
{
    papyra_store *s = open_rot(dir, params);
    papyra_record_list *l;

    for (int i = 0; i < n; i++)
        write_event(s, base + step * i);
    l = list_kind(s, PAPYRA_KIND_EVENT, NULL);
    assert_true(l->count <= max_count);
    for (size_t i = 0; i < l->count; i++) {
        assert_true(l->records[i].u.event.timestamp >= min_ts);
        if (i > 0)
            assert_true(l->records[i].u.event.timestamp > l->records[i - 1].u.event.timestamp);
    }
    if (max_count == 5 && min_ts == 5)
        assert_int_equal(l->count, 5);
    assert_true(l->count > 0 || max_count == 5);
    papyra_record_list_free(l);
    papyra_store_close(s);
    papyra_test_rmtree(dir);
    assert_int_equal(mkdir(dir, 0700), 0);
}

static void
test_retention_policies(void **state)
{
    double now = (double)time(NULL);

    retention_case(*state, "max_bytes=256&max_files=5&max_records=5", 10, 0, 1, 5, 5);
    retention_case(*state, "max_bytes=256&max_files=5&max_age_seconds=5", 10, now - 10, 1, 10,
                   now - 5 - 1);
    retention_case(*state, "max_bytes=256&max_files=5&max_total_bytes=300", 20, 0, 1, 19, 0);
    retention_case(*state, "max_bytes=256&max_files=5&max_records=5&max_age_seconds=10", 20, 0, 1,
                   5, 0);
}

/* Lines as upstream writes them are read, rewritten and compacted byte for byte. */
static void
test_upstream_bytes(void **state)
{
    const char *line = "{\"system_id\": \"caf\\u00e9\", \"actor_address\": {\"system\": \"local\", "
                       "\"actor_id\": 1}, \"event_type\": \"ActorStarted\", \"payload\": {\"k\": "
                       "\"\\ud83d\\ude00\"}, \"timestamp\": 4312.118907211, \"kind\": \"event\"}\n";
    char *p = papyra_test_path(*state, "rot.log"), *sub = papyra_test_path(*state, "sub");
    char *p2 = papyra_test_path(sub, "rot.log");
    papyra_compaction_report crep;
    papyra_record_list *l;
    papyra_store *s, *s2;

    papyra_test_write_file(p, line, strlen(line));
    s = open_rot(*state, NULL);
    l = list_kind(s, PAPYRA_KIND_EVENT, NULL);
    assert_int_equal(l->count, 1);
    assert_string_equal(l->records[0].u.event.system_id, "caf\xc3\xa9");
    s2 = open_rot(sub, NULL);
    assert_int_equal(papyra_store_write(s2, &l->records[0]), 0);
    papyra_store_close(s2);
    papyra_test_assert_file(p2, line, strlen(line));
    papyra_record_list_free(l);
    assert_int_equal(papyra_store_compact(s, &crep), 0);
    papyra_test_assert_file(p, line, strlen(line));
    papyra_store_close(s);
    free(p);
    free(p2);
    free(sub);
}

/* Several threads in several processes append with frequent rotation; nothing is lost or torn. */
#define PROCS 2
#define THREADS 8
#define PER_THREAD 150

typedef struct writer_arg {
    papyra_store *s;
    int proc, thread;
    atomic_int *failures;
} writer_arg;

static void *
writer_main(void *p)
{
    writer_arg *a = p;
    char sys[32], type[32];

    snprintf(sys, sizeof(sys), "p%d", a->proc);
    snprintf(type, sizeof(type), "t%d", a->thread);
    for (int i = 0; i < PER_THREAD; i++)
        if (write_event_ex(a->s, sys, type, i) != 0)
            atomic_fetch_add(a->failures, 1);
    return NULL;
}

static void
test_threads_and_processes(void **state)
{
    const char *params = "max_bytes=2048&max_files=2000";
    pid_t pids[PROCS];
    static unsigned char seen[PROCS][THREADS][PER_THREAD];
    papyra_store *s;
    papyra_record_list *l;
    papyra_scan_report *rep;

    memset(seen, 0, sizeof(seen));
    for (int p = 0; p < PROCS; p++) {
        pids[p] = fork();
        assert_true(pids[p] >= 0);
        if (pids[p] == 0) {
            atomic_int failures = 0;
            pthread_t th[THREADS];
            writer_arg args[THREADS];
            papyra_store *cs = NULL;
            char *url;

            if (asprintf(&url, "rotating:%s/rot.log?%s&metrics=none", (char *)*state, params) < 0 ||
                papyra_store_open(&cs, url, NULL) != 0)
                _exit(2);
            for (int t = 0; t < THREADS; t++) {
                args[t] = (writer_arg){cs, p, t, &failures};
                pthread_create(&th[t], NULL, writer_main, &args[t]);
            }
            for (int t = 0; t < THREADS; t++)
                pthread_join(th[t], NULL);
            papyra_store_close(cs);
            _exit(atomic_load(&failures) ? 3 : 0);
        }
    }
    for (int p = 0; p < PROCS; p++) {
        int st = 0;
        assert_int_equal(waitpid(pids[p], &st, 0), pids[p]);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    s = open_rot(*state, params);
    l = list_kind(s, PAPYRA_KIND_EVENT, NULL);
    assert_int_equal(l->count, PROCS * THREADS * PER_THREAD);
    for (size_t i = 0; i < l->count; i++) {
        const papyra_event *e = &l->records[i].u.event;
        int p = atoi(e->system_id + 1), t = atoi(e->event_type + 1), n = (int)e->timestamp;
        assert_true(p >= 0 && p < PROCS && t >= 0 && t < THREADS && n >= 0 && n < PER_THREAD);
        assert_int_equal(seen[p][t][n], 0);
        seen[p][t][n] = 1;
    }
    papyra_record_list_free(l);
    assert_int_equal(papyra_store_scan(s, &rep), 0);
    assert_int_equal(rep->count, 0);
    papyra_scan_report_free(rep);
    assert_true(count_set(*state) > 10);
    papyra_store_close(s);
}

/* Builds the old set: 10 events over several files plus one corrupt line. */
static void
crash_fixture(const char *dir)
{
    papyra_store *s = open_rot(dir, "max_bytes=300&max_files=10");
    char *p;
    int fd;

    for (int i = 0; i < 10; i++)
        write_event(s, i);
    papyra_store_close(s);
    p = papyra_test_path(dir, "rot.log.1");
    fd = open(p, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "{bad\n", 5), 5);
    close(fd);
    free(p);
}

/* An operation that a child runs until PAPYRA_TEST_CRASH_AT kills it. */
typedef int (*crash_op)(papyra_store *s);

static int
compact_op(papyra_store *s)
{
    papyra_compaction_report rep;
    return papyra_store_compact(s, &rep);
}

static int
repair_op(papyra_store *s)
{
    papyra_recovery_options o = {.mode = PAPYRA_RECOVER_REPAIR};
    papyra_recovery_report *rep = NULL;
    return papyra_store_recover(s, &o, &rep);
}

/* Lays the crash fixture out afresh in @p dir. */
static void
fresh_crash_fixture(const char *dir)
{
    papyra_test_rmtree(dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    crash_fixture(dir);
}

/*
 * Runs @p op on "rotating:<dir>/rot.log?<params>" in a child that _exits at
 * its step @p n. Returns the child's exit status: 0 when the operation
 * finished, 137 when it was killed.
 */
static int
run_crashing(const char *dir, const char *params, long n, crash_op op)
{
    int st = 0;
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        papyra_store *cs = NULL;
        char *url, num[32];

        snprintf(num, sizeof(num), "%ld", n);
        if (asprintf(&url, "rotating:%s/rot.log?%s&metrics=none", dir, params) < 0 ||
            papyra_store_open(&cs, url, NULL) != 0)
            _exit(2);
        setenv("PAPYRA_TEST_CRASH_AT", num, 1);
        _exit(op(cs) == 0 ? 0 : 3);
    }
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_true(WEXITSTATUS(st) == 0 || WEXITSTATUS(st) == 137);
    return WEXITSTATUS(st);
}

/* kill -9 (here _exit) at every step of a compaction leaves the old or the new set. */
static void
test_compaction_crash_safety(void **state)
{
    const char *dir = *state;
    int olds = 0, news = 0;
    long n;

    for (n = 1; n < 200; n++) {
        papyra_record_list *l;
        papyra_scan_report *rep;
        papyra_store *s;
        int status;

        fresh_crash_fixture(dir);
        status = run_crashing(dir, "max_bytes=100&max_files=10&max_records=3", n, compact_op);

        s = open_rot(dir, "max_bytes=300&max_files=10");
        assert_false(file_exists(dir, ".rot.log.rebuild"));
        l = list_kind(s, PAPYRA_KIND_EVENT, NULL);
        bool old = l->count == 10;
        if (old) {
            for (size_t i = 0; i < 10; i++)
                assert_true(l->records[i].u.event.timestamp == (double)i);
            olds++;
        } else {
            assert_int_equal(l->count, 3);
            for (size_t i = 0; i < 3; i++)
                assert_true(l->records[i].u.event.timestamp == 7.0 + (double)i);
            news++;
        }
        papyra_record_list_free(l);
        /* The old set still has its corrupt line; the new one is clean. */
        assert_int_equal(papyra_store_scan(s, &rep), 0);
        assert_int_equal(rep->count, old ? 1 : 0);
        papyra_scan_report_free(rep);
        /* A writer after the crash appends to the settled set. */
        write_event(s, 100);
        l = list_kind(s, PAPYRA_KIND_EVENT, NULL);
        assert_true(l->records[l->count - 1].u.event.timestamp == 100.0);
        papyra_record_list_free(l);
        papyra_store_close(s);
        if (status == 0)
            break;
    }
    print_message("compaction finished after %ld crash points: %d old, %d new\n", n - 1, olds,
                  news);
    assert_true(n < 200);
    assert_true(olds >= 3);
    assert_true(news >= 3);
}

/*
 * A writer that kept its descriptor open while another process's compaction
 * was killed at each step: its next append must go to the settled set, never
 * to an old active file that the roll-forward then replaces (the staging
 * directory's link to the active file is what tells it; no other operation
 * settles in between here).
 */
static void
test_open_writer_after_crashed_compaction(void **state)
{
    const char *dir = *state;
    int olds = 0, news = 0;
    long n;

    for (n = 1; n < 200; n++) {
        papyra_record_list *l;
        papyra_store *w, *s;
        int status, found = 0;

        fresh_crash_fixture(dir);
        w = open_rot(dir, "max_bytes=300&max_files=10");
        write_event(w, 50);
        status = run_crashing(dir, "max_bytes=100&max_files=10&max_records=3", n, compact_op);
        /* The first operation after the crash: the open writer appends. */
        write_event(w, 100);
        papyra_store_close(w);

        s = open_rot(dir, "max_bytes=300&max_files=10");
        assert_false(file_exists(dir, ".rot.log.rebuild"));
        l = list_kind(s, PAPYRA_KIND_EVENT, NULL);
        for (size_t i = 0; i < l->count; i++)
            found += l->records[i].u.event.timestamp == 100.0;
        assert_int_equal(found, 1);
        assert_true(l->records[l->count - 1].u.event.timestamp == 100.0);
        if (l->count == 12) {
            olds++;
        } else {
            /* The new set: the newest 3 of the old one (8, 9, 50), then 100. */
            assert_int_equal(l->count, 4);
            assert_true(l->records[0].u.event.timestamp == 8.0);
            assert_true(l->records[2].u.event.timestamp == 50.0);
            news++;
        }
        papyra_record_list_free(l);
        papyra_store_close(s);
        if (status == 0)
            break;
    }
    print_message("compaction finished after %ld crash points: %d old, %d new\n", n - 1, olds,
                  news);
    assert_true(n < 200);
    assert_true(olds >= 3);
    assert_true(news >= 3);
}

/*
 * A torn line that another process left (it died in the middle of an append)
 * while this handle kept its descriptor: the next append terminates it
 * rather than glue its record onto it.
 */
static void
test_torn_tail_of_another_writer(void **state)
{
    papyra_store *s = open_rot(*state, "max_bytes=100000&max_files=3");
    char *p = papyra_test_path(*state, "rot.log");
    papyra_scan_report *rep;
    papyra_record_list *l;
    int fd;

    write_event(s, 1);
    fd = open(p, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "{\"timestamp\": 2", 15), 15);
    close(fd);
    write_event(s, 3);
    write_event(s, 4);
    l = list_kind(s, PAPYRA_KIND_EVENT, NULL);
    assert_int_equal(l->count, 3);
    assert_true(l->records[1].u.event.timestamp == 3.0);
    papyra_record_list_free(l);
    assert_int_equal(papyra_store_scan(s, &rep), 0);
    assert_int_equal(rep->count, 1);
    assert_int_equal(rep->anomalies[0].type, PAPYRA_ANOMALY_CORRUPTED_LINE);
    papyra_scan_report_free(rep);
    papyra_store_close(s);
    free(p);
}

/* Python's universal newlines: "\r\n" and a lone "\r" end lines too. */
static void
test_universal_newlines(void **state)
{
    char *p = papyra_test_path(*state, "rot.log");
    const char *text = "{\"timestamp\": 1.0, \"kind\": \"event\"}\r\n"
                       "{\"timestamp\": 2.0, \"kind\": \"event\"}\r"
                       "{\"timestamp\": 3.0, \"kind\": \"event\"}\n";
    papyra_scan_report *rep;
    papyra_record_list *l;
    papyra_store *s;

    papyra_test_write_file(p, text, strlen(text));
    s = open_rot(*state, NULL);
    l = list_kind(s, PAPYRA_KIND_EVENT, NULL);
    assert_int_equal(l->count, 3);
    papyra_record_list_free(l);
    assert_int_equal(papyra_store_scan(s, &rep), 0);
    assert_int_equal(rep->count, 0);
    papyra_scan_report_free(rep);
    papyra_store_close(s);
    free(p);
}

/* Quarantine into the data directory: the copies are not orphans, so recovery ends clean. */
static void
test_quarantine_default_dir(void **state)
{
    char *p = papyra_test_path(*state, "rot.log"), *p1 = papyra_test_path(*state, "rot.log.1");
    const char *good = "{\"timestamp\": 1.0, \"kind\": \"event\"}\n";
    papyra_recovery_options o = {.mode = PAPYRA_RECOVER_QUARANTINE};
    papyra_recovery_report *rep = NULL;
    papyra_scan_report *scan;
    papyra_record_list *l;
    papyra_store *s;

    papyra_test_write_file(p1, "[1]\n\n", 5);
    papyra_test_write_file(p, good, strlen(good));
    s = open_rot(*state, NULL);
    assert_int_equal(papyra_store_recover(s, &o, &rep), 0);
    assert_int_equal(rep->scan->count, 2);
    assert_int_equal(rep->n_quarantined, 1);
    assert_int_equal(rep->after->count, 0);
    papyra_recovery_report_free(rep);
    assert_int_equal(papyra_test_count_prefix(*state, "rot.log.1.quarantine."), 1);
    assert_int_equal(papyra_store_scan(s, &scan), 0);
    assert_int_equal(scan->count, 0);
    papyra_scan_report_free(scan);
    l = list_kind(s, PAPYRA_KIND_EVENT, NULL);
    assert_int_equal(l->count, 1);
    papyra_record_list_free(l);
    papyra_store_close(s);
    free(p);
    free(p1);
}

/* A crashed, uncommitted rebuild is discarded on open and never reported. */
static void
test_stale_stage_discarded(void **state)
{
    char *stage = papyra_test_path(*state, ".rot.log.rebuild"), *f;
    papyra_scan_report *rep;
    papyra_record_list *l;
    papyra_store *s = open_rot(*state, NULL);

    write_event(s, 1);
    papyra_store_close(s);
    assert_int_equal(mkdir(stage, 0700), 0);
    f = papyra_test_path(stage, "0");
    papyra_test_write_file(f, "{\"timestamp\": 9.0, \"kind\": \"event\"}\n", 37);
    s = open_rot(*state, NULL);
    assert_false(file_exists(*state, ".rot.log.rebuild"));
    assert_int_equal(papyra_store_scan(s, &rep), 0);
    assert_int_equal(rep->count, 0);
    papyra_scan_report_free(rep);
    l = list_kind(s, PAPYRA_KIND_EVENT, NULL);
    assert_int_equal(l->count, 1);
    assert_true(l->records[0].u.event.timestamp == 1.0);
    papyra_record_list_free(l);
    papyra_store_close(s);
    free(f);
    free(stage);
}

/* A writer whose active file was replaced by another handle's compaction follows it. */
static void
test_writer_follows_compaction(void **state)
{
    papyra_store *a = open_rot(*state, "max_bytes=200&max_files=20");
    papyra_store *b = open_rot(*state, "max_bytes=200&max_files=20&max_records=2");
    papyra_compaction_report rep;
    papyra_record_list *l;

    for (int i = 0; i < 5; i++)
        write_event(a, i);
    assert_int_equal(papyra_store_compact(b, &rep), 0);
    assert_int_equal(rep.after_records, 2);
    write_event(a, 5);
    papyra_store_close(b);
    l = list_kind(a, PAPYRA_KIND_EVENT, NULL);
    assert_int_equal(l->count, 3);
    assert_true(l->records[0].u.event.timestamp == 3.0);
    assert_true(l->records[2].u.event.timestamp == 5.0);
    papyra_record_list_free(l);
    papyra_store_close(a);
}

/* Upstream's rotating metrics case, on the shared metrics file. */
static void
test_metrics_counted(void **state)
{
    papyra_store *s = NULL;
    papyra_metrics_snapshot snap;
    papyra_compaction_report rep;
    char *url;

    assert_true(asprintf(&url, "rotating:%s/rot.log", (char *)*state) > 0);
    assert_int_equal(papyra_store_open(&s, url, NULL), 0);
    free(url);
    assert_true(file_exists(*state, "rot.log.metrics"));
    assert_int_equal(papyra_store_compact(s, &rep), 0);
    write_event(s, 1);
    assert_int_equal(papyra_metrics_read(papyra_store_metrics(s), &snap), 0);
    assert_int_equal(snap.value[papyra_metric_by_name("records_written")], 1);
    assert_int_equal(snap.value[papyra_metric_by_name("compactions_triggered")], 1);
    papyra_store_close(s);
}

/* Opening needs no disk, like upstream's constructor; the operations then fail. */
static void
test_unusable_path(void **state)
{
    char *file = papyra_test_path(*state, "not-a-dir"), *url;
    papyra_compaction_report crep;
    papyra_scan_report *rep = NULL;
    papyra_record_list *l = NULL;
    papyra_store *s = NULL;

    papyra_test_write_file(file, "x", 1);
    assert_true(asprintf(&url, "rotating:%s/rot.log?metrics=none", file) > 0);
    assert_int_equal(papyra_store_open(&s, url, NULL), 0);
    assert_true(write_event_ex(s, "local", "E", 1) < 0);
    assert_true(papyra_store_list(s, PAPYRA_KIND_EVENT, NULL, &l) < 0);
    assert_true(papyra_store_scan(s, &rep) < 0);
    assert_true(papyra_store_compact(s, &crep) < 0);
    papyra_store_close(s);
    free(url);
    free(file);
}

/* A directory that does not exist yet reads as empty and is made by the first write. */
static void
test_missing_directory(void **state)
{
    char *sub = papyra_test_path(*state, "a/b");
    papyra_record_list *l;
    papyra_store *s = open_rot(sub, NULL);

    l = list_kind(s, PAPYRA_KIND_EVENT, NULL);
    assert_int_equal(l->count, 0);
    papyra_record_list_free(l);
    write_event(s, 1);
    l = list_kind(s, PAPYRA_KIND_EVENT, NULL);
    assert_int_equal(l->count, 1);
    papyra_record_list_free(l);
    papyra_store_close(s);
    free(sub);
}

/* Long lines grow the reader's buffer; a "\r\n" split across two reads is one terminator. */
static void
test_long_lines_and_split_crlf(void **state)
{
    const char *head = "{\"payload\": \"", *tail = "\", \"timestamp\": 1.0, \"kind\": \"event\"}";
    char *p = papyra_test_path(*state, "rot.log"), *data;
    size_t pad = 65535 - strlen(head) - strlen(tail), len;
    papyra_scan_report *rep;
    papyra_record_list *l;
    papyra_store *s;
    FILE *f = fopen(p, "wb");

    assert_non_null(f);
    /* Line 1 ends at offset 65534; "\r" is byte 65535, the last of the first read. */
    fputs(head, f);
    for (size_t i = 0; i < pad; i++)
        fputc('x', f);
    fprintf(f, "%s\r\n", tail);
    fputs("{\"timestamp\": 2.0, \"kind\": \"event\"}\n", f);
    /* Line 3: 200 kB. */
    fputs(head, f);
    for (size_t i = 0; i < 200000; i++)
        fputc('y', f);
    fputs("\", \"timestamp\": 3.0, \"kind\": \"event\"}\n", f);
    assert_int_equal(fclose(f), 0);
    data = papyra_test_read_file(p, &len);
    assert_int_equal(data[65535], '\r');
    free(data);

    s = open_rot(*state, NULL);
    l = list_kind(s, PAPYRA_KIND_EVENT, NULL);
    assert_int_equal(l->count, 3);
    assert_int_equal(strlen(l->records[2].u.event.payload), 200002);
    papyra_record_list_free(l);
    assert_int_equal(papyra_store_scan(s, &rep), 0);
    assert_int_equal(rep->count, 0);
    papyra_scan_report_free(rep);
    papyra_store_close(s);
    free(p);
}

/* kill -9 at every step of a REPAIR leaves the damaged old set or the repaired new one. */
static void
test_recovery_crash_safety(void **state)
{
    const char *dir = *state;
    int olds = 0, news = 0;
    long n;

    for (n = 1; n < 200; n++) {
        papyra_record_list *l;
        papyra_scan_report *rep;
        papyra_store *s;
        int status;

        fresh_crash_fixture(dir);
        status = run_crashing(dir, "max_bytes=300&max_files=10", n, repair_op);

        s = open_rot(dir, "max_bytes=300&max_files=10");
        assert_false(file_exists(dir, ".rot.log.rebuild"));
        l = list_kind(s, PAPYRA_KIND_EVENT, NULL);
        assert_int_equal(l->count, 10);
        for (size_t i = 0; i < 10; i++)
            assert_true(l->records[i].u.event.timestamp == (double)i);
        papyra_record_list_free(l);
        assert_int_equal(papyra_store_scan(s, &rep), 0);
        assert_true(rep->count <= 1);
        if (rep->count == 1)
            olds++;
        else
            news++;
        papyra_scan_report_free(rep);
        papyra_store_close(s);
        if (status == 0)
            break;
    }
    assert_true(n < 200);
    assert_true(olds >= 2);
    assert_true(news >= 2);
}

/* Orphans alone: QUARANTINE moves them and leaves the set's bytes alone. */
static void
test_quarantine_only_orphans(void **state)
{
    char *p = papyra_test_path(*state, "rot.log"),
         *orphan = papyra_test_path(*state, "rot.log.bak");
    const char *text = "{\"kind\":\"event\",\"timestamp\":1}\n";
    papyra_recovery_options o = {.mode = PAPYRA_RECOVER_QUARANTINE};
    papyra_recovery_report *rep = NULL;
    papyra_store *s;

    papyra_test_write_file(p, text, strlen(text));
    papyra_test_write_file(orphan, "x", 1);
    s = open_rot(*state, NULL);
    assert_int_equal(papyra_store_recover(s, &o, &rep), 0);
    assert_int_equal(rep->n_repaired, 0);
    assert_int_equal(rep->n_quarantined, 1);
    assert_int_equal(rep->after->count, 0);
    assert_false(file_exists(*state, "rot.log.bak"));
    assert_int_equal(papyra_test_count_prefix(*state, "rot.log.bak.quarantine."), 1);
    papyra_test_assert_file(p, text, strlen(text));
    papyra_recovery_report_free(rep);
    papyra_store_close(s);
    free(p);
    free(orphan);
}

/*
 * The backward reader against the forward one: lines of many lengths (some
 * beyond the 64 KiB read size), every terminator, blank and corrupt lines;
 * every limit gives the newest records, a full list and a scan agree.
 */
static void
test_backward_reading_matches(void **state)
{
    char *p = papyra_test_path(*state, "rot.log");
    const char *terms[] = {"\n", "\r\n", "\r"};
    int nrec = 0, nbad = 0;
    papyra_scan_report *rep;
    papyra_record_list *l;
    papyra_store *s;
    FILE *f = fopen(p, "wb");
    unsigned seed = 12345;

    assert_non_null(f);
    for (int i = 0; i < 400; i++) {
        seed = seed * 1103515245u + 12345u;
        unsigned v = (seed >> 16) % 100;
        const char *term = terms[(seed >> 8) % 3];

        if (v < 8) {
            fputs("{bad", f);
            nbad++;
        } else if (v < 12) {
            /* Blank; a "\n" after a lone "\r" would merge into "\r\n", so never "\n". */
            term = terms[1 + (seed >> 9) % 2];
            nbad++;
        } else {
            size_t pad = v < 16 ? 70000 + (seed % 70000) : (seed >> 4) % 300;
            fputs("{\"payload\": \"", f);
            for (size_t k = 0; k < pad; k++)
                fputc('a' + (int)(k % 26), f);
            fprintf(f, "\", \"timestamp\": %d.0, \"kind\": \"event\"}", nrec++);
        }
        fputs(term, f);
    }
    /* A valid last line without its newline is a torn append: skipped, reported by scan. */
    fprintf(f, "{\"timestamp\": %d.0, \"kind\": \"event\"}", nrec);
    assert_int_equal(fclose(f), 0);

    s = open_rot(*state, NULL);
    l = list_kind(s, PAPYRA_KIND_EVENT, NULL);
    assert_int_equal(l->count, nrec);
    for (size_t i = 0; i < l->count; i++)
        assert_true(l->records[i].u.event.timestamp == (double)i);
    papyra_record_list_free(l);
    for (size_t lim = 1; lim < (size_t)nrec + 3; lim += 37) {
        papyra_list_options o = {.limit = lim};
        size_t want = lim < (size_t)nrec ? lim : (size_t)nrec;

        l = list_kind(s, PAPYRA_KIND_EVENT, &o);
        assert_int_equal(l->count, want);
        for (size_t i = 0; i < want; i++)
            assert_true(l->records[i].u.event.timestamp == (double)(nrec - want + i));
        papyra_record_list_free(l);
    }
    assert_int_equal(papyra_store_scan(s, &rep), 0);
    assert_int_equal(rep->count, nbad + 1);
    assert_int_equal(rep->anomalies[rep->count - 1].type, PAPYRA_ANOMALY_TRUNCATED_LINE);
    papyra_scan_report_free(rep);
    papyra_store_close(s);
    free(p);
}

/* fsync=always from several threads: group commit, nothing lost. */
static void *
always_writer(void *p)
{
    writer_arg *a = p;

    for (int i = 0; i < 50; i++)
        if (write_event_ex(a->s, "local", "E", a->thread * 1000 + i) != 0)
            atomic_fetch_add(a->failures, 1);
    return NULL;
}

static void
test_fsync_always_threads(void **state)
{
    papyra_store *s = open_rot(*state, "fsync=always&max_bytes=4096&max_files=1000");
    atomic_int failures = 0;
    pthread_t th[THREADS];
    writer_arg args[THREADS];
    papyra_record_list *l;

    for (int t = 0; t < THREADS; t++) {
        args[t] = (writer_arg){s, 0, t, &failures};
        assert_int_equal(pthread_create(&th[t], NULL, always_writer, &args[t]), 0);
    }
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    assert_int_equal(atomic_load(&failures), 0);
    l = list_kind(s, PAPYRA_KIND_EVENT, NULL);
    assert_int_equal(l->count, THREADS * 50);
    papyra_record_list_free(l);
    papyra_store_close(s);
}

/*
 * Scans and lists racing appends (and rotations) from another process never
 * report an append in flight as a torn line.
 */
static void
test_readers_never_see_an_append_in_flight_as_torn(void **state)
{
    papyra_store *s = open_rot(*state, "max_bytes=20000&max_files=50");
    pid_t pid = fork();
    int st;

    assert_true(pid >= 0);
    if (pid == 0) {
        papyra_store *w = open_rot(*state, "max_bytes=20000&max_files=50");
        for (int i = 0; i < 20000; i++)
            if (write_event_ex(w, "local", "ActorStarted", i) != 0)
                _exit(3);
        _exit(papyra_store_close(w) != 0);
    }
    for (int i = 0; i < 300; i++) {
        papyra_list_options o = {.limit = 5};
        papyra_scan_report *rep = NULL;
        papyra_record_list *l = list_kind(s, PAPYRA_KIND_EVENT, &o);
        papyra_record_list_free(l);
        assert_int_equal(papyra_store_scan(s, &rep), 0);
        if (rep->count)
            fail_msg("scan %d: %s: %s", i, rep->anomalies[0].path, rep->anomalies[0].detail);
        papyra_scan_report_free(rep);
    }
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    papyra_store_close(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_missing_files_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roundtrip_each_kind, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation_creates_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation_keeps_newest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_since_and_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_skips_bad_lines_and_unknown_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_never_exceeds_max_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_files_one_truncates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_terminated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_url_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fsync_modes_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compaction_retention, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compaction_drops_corrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compaction_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_repair, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_no_duplicates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_quarantine_orphan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_repair_keeps_orphan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_orphans, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quarantine_only_orphans, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention_policies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upstream_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_universal_newlines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quarantine_default_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_stage_discarded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_follows_compaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unusable_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads_and_processes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compaction_crash_safety, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_writer_after_crashed_compaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_of_another_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backward_reading_matches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fsync_always_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_crash_safety, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_lines_and_split_crlf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readers_never_see_an_append_in_flight_as_torn, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
