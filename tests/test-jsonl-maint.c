/* SPDX-License-Identifier: MIT */
/*
 * The JSON-lines backend's maintenance on a real file system: upstream
 * Papyra's compaction and recovery tests, scans of awkward files, rewrites
 * that keep upstream's bytes, and compactions racing appends.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <papyra/store.h>

#include "json/json.h"
#include "store-testutil.h"
#include "testutil.h"
#include "util/buf.h"

#define F ((st_file_fixture *)*state)

static void
test_compaction_applies_max_records(void **state)
{
    papyra_store *s = st_open("json:%s?max_records=2", F->path);
    papyra_compaction_report rep;
    struct stat before, after;

    st_write_events(s, 0, 5);
    assert_int_equal(stat(F->path, &before), 0);
    assert_int_equal(papyra_store_compact(s, &rep), 0);
    assert_int_equal(stat(F->path, &after), 0);
    assert_int_equal(st_count_lines(F->path), 2);
    assert_true(after.st_size < before.st_size);
    assert_string_equal(rep.backend, "json");
    assert_int_equal(rep.before_records, 5);
    assert_int_equal(rep.after_records, 2);
    assert_int_equal(rep.before_bytes, before.st_size);
    assert_int_equal(rep.after_bytes, after.st_size);
    assert_int_equal(papyra_test_count_prefix(F->dir, "events.jsonl.compact"), 0);
    papyra_store_close(s);
}

static void
test_compaction_drops_corrupt_lines(void **state)
{
    papyra_store *s;
    papyra_compaction_report rep;
    static const char expect[] = "{\"kind\": \"event\", \"timestamp\": 1}\n"
                                 "{\"kind\": \"event\", \"timestamp\": 2}\n";

    papyra_test_write_text(F->path, "{\"kind\":\"event\",\"timestamp\":1}\n{corrupt\n"
                                    "{\"kind\":\"event\",\"timestamp\":2}\n");
    s = st_open("json:%s?metrics=none", F->path);
    assert_int_equal(papyra_store_compact(s, &rep), 0);
    assert_int_equal(rep.before_records, 2);
    assert_int_equal(rep.after_records, 2);
    papyra_test_assert_file(F->path, expect, strlen(expect));
    assert_int_equal(st_counter(s, PAPYRA_METRIC_ANOMALY_DETECTED), 1);
    assert_int_equal(st_counter(s, PAPYRA_METRIC_COMPACTIONS_TRIGGERED), 1);
    papyra_store_close(s);
}

/* Retention per kind, newest kept, with the size of each stored line. */
static void
test_compaction_retention_is_per_kind(void **state)
{
    papyra_store *s = st_open("json:%s?max_records=2&metrics=none", F->path);
    papyra_compaction_report rep;
    papyra_record_list *l;
    int i;

    for (i = 0; i < 4; i++) {
        papyra_record e = st_event(i, i), a = st_audit(i, i + 0.5);
        st_write(s, &e);
        st_write(s, &a);
    }
    assert_int_equal(papyra_store_compact(s, &rep), 0);
    assert_int_equal(rep.before_records, 8);
    assert_int_equal(rep.after_records, 4);
    l = st_list(s, PAPYRA_KIND_AUDIT, -1, 0);
    assert_int_equal(l->count, 2);
    assert_int_equal(l->records[0].u.audit.total_actors, 2);
    assert_int_equal(l->records[1].u.audit.total_actors, 3);
    papyra_record_list_free(l);
    /* Appends after a compaction go to the new file. */
    st_write_event(s, 9, 9);
    assert_int_equal(st_count_lines(F->path), 5);
    papyra_store_close(s);
}

static void
test_recovery_repair_rewrites_valid_lines(void **state)
{
    papyra_store *s;
    papyra_recovery_options o = {.mode = PAPYRA_RECOVER_REPAIR};
    papyra_recovery_report *rep = NULL;
    static const char expect[] = "{\"kind\": \"event\", \"timestamp\": 1}\n";

    papyra_test_write_text(F->path, "{\"kind\":\"event\",\"timestamp\":1}\n{\"kind\":\"ev");
    s = st_open("json:%s?metrics=none", F->path);
    assert_int_equal(papyra_store_recover(s, &o, &rep), 0);
    assert_int_equal(rep->scan->count, 1);
    assert_int_equal(rep->scan->anomalies[0].type, PAPYRA_ANOMALY_TRUNCATED_LINE);
    assert_string_equal(rep->scan->anomalies[0].detail, "Line 2 missing newline");
    assert_string_equal(rep->scan->anomalies[0].path, F->path);
    assert_non_null(rep->after);
    assert_int_equal(rep->after->count, 0);
    assert_int_equal(rep->n_repaired, 1);
    assert_string_equal(rep->repaired[0], F->path);
    assert_int_equal(rep->n_quarantined, 0);
    papyra_recovery_report_free(rep);
    papyra_test_assert_file(F->path, expect, strlen(expect));
    papyra_store_close(s);
}

static void
test_recovery_quarantine_keeps_a_copy(void **state)
{
    char *qdir = papyra_test_path(F->dir, "q");
    papyra_recovery_options o = {.mode = PAPYRA_RECOVER_QUARANTINE, .quarantine_dir = qdir};
    papyra_recovery_report *rep = NULL;
    papyra_store *s;
    static const char orig[] = "{\"kind\":\"event\",\"timestamp\":1}\n{bad}\n";
    static const char expect[] = "{\"kind\": \"event\", \"timestamp\": 1}\n";

    papyra_test_write_text(F->path, orig);
    s = st_open("json:%s?metrics=none", F->path);
    assert_int_equal(papyra_store_recover(s, &o, &rep), 0);
    assert_int_equal(rep->scan->count, 1);
    assert_string_equal(rep->scan->anomalies[0].detail, "Invalid JSON at line 2");
    assert_int_equal(rep->n_quarantined, 1);
    assert_non_null(strstr(rep->quarantined[0], "/q/events.jsonl.quarantine."));
    papyra_test_assert_file(rep->quarantined[0], orig, strlen(orig));
    assert_int_equal(papyra_test_count_prefix(qdir, "events.jsonl.quarantine."), 1);
    papyra_recovery_report_free(rep);
    papyra_test_assert_file(F->path, expect, strlen(expect));
    papyra_store_close(s);
    free(qdir);
}

/* Without a quarantine directory the copy goes next to the data file. */
static void
test_recovery_quarantine_defaults_to_the_data_directory(void **state)
{
    papyra_recovery_options o = {.mode = PAPYRA_RECOVER_QUARANTINE};
    papyra_recovery_report *rep = NULL;
    papyra_store *s;

    papyra_test_write_text(F->path, "\xff\xfe\n{\"kind\": \"audit\", \"timestamp\": 2}\n");
    s = st_open("json:%s?metrics=none", F->path);
    assert_int_equal(papyra_store_recover(s, &o, &rep), 0);
    assert_int_equal(rep->n_quarantined, 1);
    assert_int_equal(papyra_test_count_prefix(F->dir, "events.jsonl.quarantine."), 1);
    papyra_recovery_report_free(rep);
    papyra_test_assert_file(F->path, "{\"kind\": \"audit\", \"timestamp\": 2}\n", 34);
    papyra_store_close(s);
}

/* Another handle replaces the file: this handle's next append follows the path. */
static void
test_appends_follow_a_file_replaced_by_another_handle(void **state)
{
    papyra_store *a = st_open("json:%s?metrics=none", F->path);
    papyra_store *b = st_open("json:%s?metrics=none", F->path);
    papyra_record r1 = st_event(1, 1), r2 = st_event(2, 2);
    papyra_compaction_report rep;

    st_write(a, &r1);
    assert_int_equal(papyra_store_compact(b, &rep), 0);
    st_write(a, &r2);
    st_assert_count(b, PAPYRA_KIND_EVENT, 2);
    papyra_store_close(a);
    papyra_store_close(b);
}

static void
test_recovery_ignore_changes_nothing(void **state)
{
    static const char orig[] = "{bad}\n";
    papyra_recovery_report *rep = NULL;
    papyra_store *s;

    papyra_test_write_text(F->path, orig);
    s = st_open("json:%s?metrics=none", F->path);
    assert_int_equal(papyra_store_recover(s, NULL, &rep), 0);
    assert_int_equal(rep->scan->count, 1);
    assert_null(rep->after);
    papyra_recovery_report_free(rep);
    papyra_test_assert_file(F->path, orig, strlen(orig));
    papyra_store_close(s);
}

static void
test_scan_reports_every_kind_of_bad_line(void **state)
{
    papyra_store *s;
    papyra_scan_report *rep = NULL;
    static const char *const details[] = {
        "Invalid JSON at line 2", "Invalid JSON at line 3", "Invalid JSON at line 4",
        "Invalid JSON at line 5", "Line 7 missing newline",
    };
    size_t i;

    papyra_test_write_text(F->path, "{\"kind\": \"event\", \"timestamp\": 1}\n"
                                    "\n"
                                    "[1]\n"
                                    "{\"kind\": \"event\", \"x\": \"\xff\xfe\", \"timestamp\": 2}\n"
                                    "   \r\n"
                                    "{\"kind\": \"audit\", \"timestamp\": 3}\r\n"
                                    "{\"kind\": \"event\", \"timestamp\": 4}");
    s = st_open("json:%s?metrics=none", F->path);
    assert_int_equal(papyra_store_scan(s, &rep), 0);
    assert_int_equal(rep->count, 5);
    for (i = 0; i < 5; i++) {
        assert_int_equal(rep->anomalies[i].type,
                         i < 4 ? PAPYRA_ANOMALY_CORRUPTED_LINE : PAPYRA_ANOMALY_TRUNCATED_LINE);
        assert_string_equal(rep->anomalies[i].detail, details[i]);
    }
    papyra_scan_report_free(rep);
    papyra_store_close(s);
}

static void
test_empty_and_garbage_only_files(void **state)
{
    papyra_store *s;
    papyra_scan_report *rep = NULL;
    papyra_compaction_report crep;
    papyra_record_list *l;

    papyra_test_write_text(F->path, "");
    s = st_open("json:%s?metrics=none", F->path);
    l = st_list(s, PAPYRA_KIND_EVENT, -1, 3);
    assert_int_equal(l->count, 0);
    papyra_record_list_free(l);
    st_assert_scan(s, 0);
    assert_int_equal(papyra_store_compact(s, &crep), 0);
    assert_int_equal(crep.before_records, 0);
    assert_int_equal(crep.after_bytes, 0);

    papyra_test_write_text(F->path, "\x01\x02garbage without any newline \xff");
    st_assert_count(s, PAPYRA_KIND_EVENT, 0);
    assert_int_equal(st_counter(s, PAPYRA_METRIC_ANOMALY_DETECTED), 1);
    assert_int_equal(papyra_store_scan(s, &rep), 0);
    assert_int_equal(rep->count, 1);
    assert_string_equal(rep->anomalies[0].detail, "Line 1 missing newline");
    papyra_scan_report_free(rep);
    papyra_store_close(s);
}

/* Compactions in another process while this one appends: no append is lost. */
static void
test_compaction_does_not_lose_concurrent_appends(void **state)
{
    pid_t pid;
    int st, i;

    {
        papyra_store *s = st_open("json:%s?metrics=none", F->path);
        st_write_event(s, 0, 0);
        papyra_store_close(s);
    }
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        papyra_store *s = NULL;
        char url[4096];
        int bad = 0;
        snprintf(url, sizeof(url), "json:%s?metrics=none", F->path);
        if (papyra_store_open(&s, url, NULL) != 0)
            _exit(2);
        for (i = 0; i < 30; i++) {
            papyra_compaction_report rep;
            papyra_recovery_options o = {.mode = PAPYRA_RECOVER_REPAIR};
            papyra_recovery_report *rr = NULL;
            bad |= papyra_store_compact(s, &rep) != 0;
            bad |= papyra_store_recover(s, &o, &rr) != 0;
            papyra_recovery_report_free(rr);
        }
        papyra_store_close(s);
        _exit(bad);
    }
    {
        papyra_store *s = st_open("json:%s?metrics=none", F->path);
        st_write_events(s, 1, 2999);
        papyra_store_close(s);
    }
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    {
        papyra_store *s = st_open("json:%s?metrics=none", F->path);
        st_assert_each_event_once(s, 3000);
        papyra_store_close(s);
    }
}

/*
 * Recover and compact copy lines already in normal form as they are and
 * re-serialise the others; either way the file must hold exactly what
 * parsing each line and writing it back gives.
 */
static void
test_rewrites_equal_parse_and_write(void **state)
{
    static const char *const lines[] = {
        "{\"kind\": \"event\", \"system_id\": \"local\", \"timestamp\": 1700000000.123}",
        "{\"kind\":\"event\",\"timestamp\":1}",
        "{\"kind\": \"event\", \"timestamp\": 1e5}",
        "{\"kind\": \"event\", \"timestamp\": 1.50}",
        "{\"kind\": \"event\", \"timestamp\": 100000.0}",
        "{\"kind\": \"event\", \"timestamp\": NaN}",
        "{\"kind\": \"event\", \"timestamp\": -0.0}",
        "{\"kind\": \"event\", \"timestamp\": 1e-7}",
        "{\"kind\": \"event\", \"timestamp\": 12345678901234567890}",
        "{\"kind\": \"audit\", \"x\": \"caf\xc3\xa9 \\u00e9 \\/ \\n\", \"timestamp\": 3}",
        "{\"kind\": \"event\", \"a\": 1, \"a\": 2, \"timestamp\": 4}",
        "{\"kind\": \"dead_letter\", \"payload\": [1, [2, {\"b\": null}]], \"timestamp\": 0.5}\r",
        "{}",
    };
    papyra_recovery_options o = {.mode = PAPYRA_RECOVER_REPAIR};
    papyra_recovery_report *rr = NULL;
    papyra_compaction_report crep;
    papyra_buf in = {0}, want = {0};
    papyra_store *s;
    size_t i;
    int pass;

    for (pass = 0; pass < 2; pass++) {
        papyra__buf_reset(&in);
        papyra__buf_reset(&want);
        for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
            papyra_json *v = NULL;
            assert_int_equal(papyra__buf_puts(&in, lines[i]), 0);
            assert_int_equal(papyra__buf_putc(&in, '\n'), 0);
            assert_int_equal(papyra__json_parse(lines[i], strlen(lines[i]), &v), 0);
            assert_int_equal(papyra__json_write(v, 0, &want), 0);
            assert_int_equal(papyra__buf_putc(&want, '\n'), 0);
            papyra__json_free(v);
        }
        /* A corrupt line, so that recover has something to repair. */
        assert_int_equal(papyra__buf_puts(&in, "{\"kind\": \n"), 0);
        papyra_test_write_file(F->path, in.data, in.len);
        s = st_open("json:%s?metrics=none", F->path);
        if (pass == 0) {
            assert_int_equal(papyra_store_recover(s, &o, &rr), 0);
            papyra_recovery_report_free(rr);
        } else {
            assert_int_equal(papyra_store_compact(s, &crep), 0);
            assert_int_equal(crep.before_records, sizeof(lines) / sizeof(lines[0]));
            assert_int_equal(crep.after_records, sizeof(lines) / sizeof(lines[0]));
        }
        papyra_test_assert_file(F->path, want.data, want.len);
        papyra_store_close(s);
    }
    papyra__buf_free(&in);
    papyra__buf_free(&want);
}

/* Compact reads kind and timestamp of a normal-form line as a parse would. */
static void
test_compaction_reads_kind_and_timestamp_of_normal_lines(void **state)
{
    static const char input[] =
        "{\"kind\": \"event\", \"timestamp\": 1}\n"
        "{\"timestamp\": 2.5, \"kind\": \"event\"}\n"
        "{\"kind\": \"audit\", \"timestamp\": 3}\n"
        "{\"kind\": 5, \"timestamp\": 4}\n"
        "{\"kind\": \"event\", \"timestamp\": \"x\"}\n"
        "{\"kind\": \"event\", \"x\": {\"timestamp\": 1}, \"timestamp\": 6.0}\n"
        "{\"a\": {\"kind\": \"event\", \"timestamp\": 7}}\n"
        "{\"kind\": \"event\", \"timestamp\": true}\n"
        "{\"kind\": \"events\", \"timestamp\": 9}\n"
        "{\"kind\": \"event\", \"timestamp\": -1}\n";
    static const char expect[] = "{\"kind\": \"audit\", \"timestamp\": 3}\n"
                                 "{\"kind\": 5, \"timestamp\": 4}\n"
                                 "{\"kind\": \"event\", \"timestamp\": \"x\"}\n"
                                 "{\"a\": {\"kind\": \"event\", \"timestamp\": 7}}\n"
                                 "{\"kind\": \"event\", \"timestamp\": true}\n"
                                 "{\"kind\": \"events\", \"timestamp\": 9}\n"
                                 "{\"kind\": \"event\", \"timestamp\": -1}\n";
    papyra_compaction_report crep;
    papyra_store *s;

    papyra_test_write_text(F->path, input);
    s = st_open("json:%s?metrics=none&max_records=1", F->path);
    assert_int_equal(papyra_store_compact(s, &crep), 0);
    assert_int_equal(crep.before_records, 10);
    assert_int_equal(crep.after_records, 7);
    papyra_test_assert_file(F->path, expect, strlen(expect));
    papyra_store_close(s);
}

/* Temp files of a recover or compact that died midway are removed by the next one. */
static void
test_rewrites_remove_leftover_temp_files(void **state)
{
    static const char *const leftovers[] = {
        "events.jsonl.compact.tmp.12345.0",
        "events.jsonl.recover.tmp.1.77",
    };
    static const char *const kept[] = {
        "events.jsonl.compact.tmp.x.0", "events.jsonl.compact.tmp.1.2.bak",
        "other.jsonl.compact.tmp.1.2",  "events.jsonl.quarantine.1700000000000",
        "events.jsonl.compact.tmp.",    "events.jsonl.rotate.tmp.1.2",
    };
    papyra_store *s = st_open("json:%s?metrics=none", F->path);
    papyra_recovery_options o = {.mode = PAPYRA_RECOVER_REPAIR};
    papyra_recovery_report *rr = NULL;
    papyra_compaction_report crep;
    papyra_record ev = st_event(1, 1);
    size_t i;
    int pass;

    st_write(s, &ev);
    for (pass = 0; pass < 2; pass++) {
        for (i = 0; i < sizeof(leftovers) / sizeof(leftovers[0]); i++) {
            char *p = papyra_test_path(F->dir, leftovers[i]);
            papyra_test_write_text(p, "{\"kind\": \"ev");
            free(p);
        }
        for (i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
            char *p = papyra_test_path(F->dir, kept[i]);
            papyra_test_write_text(p, "keep\n");
            free(p);
        }
        if (pass == 0) {
            assert_int_equal(papyra_store_compact(s, &crep), 0);
        } else {
            /*
             * A recover that died before its rename left the damage it was
             * repairing, so the next recover repairs (under the lock) again.
             */
            papyra_test_append_file(F->path, "{\"kind\": \"ev\n", 14);
            assert_int_equal(papyra_store_recover(s, &o, &rr), 0);
            papyra_recovery_report_free(rr);
        }
        for (i = 0; i < sizeof(leftovers) / sizeof(leftovers[0]); i++) {
            char *p = papyra_test_path(F->dir, leftovers[i]);
            if (access(p, F_OK) == 0)
                fail_msg("pass %d: %s was not removed", pass, leftovers[i]);
            free(p);
        }
        for (i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
            char *p = papyra_test_path(F->dir, kept[i]);
            if (access(p, F_OK) != 0)
                fail_msg("pass %d: %s was removed", pass, kept[i]);
            free(p);
        }
    }
    papyra_store_close(s);
}

/*
 * Runs of kept lines longer than the copier's pieces (1 MiB), more than it
 * queues at once, are copied as they are, in order with what is written
 * between them: a "\r\n" line gets "\n", a line in another form is written
 * back, a blank one is dropped; the counts are those of the lines. Under
 * the thread sanitizer this is the copier thread's test.
 */
static void
test_compaction_copies_long_runs_in_order(void **state)
{
    enum { RUN = 40000 };
    papyra_buf in = {0}, want = {0};
    papyra_compaction_report rep;
    papyra_store *s;
    int i;

    for (int part = 0; part < 3; part++) {
        for (i = 0; i < (part == 2 ? 1000 : RUN); i++) {
            char line[160];
            int n = snprintf(line, sizeof(line),
                             "{\"kind\": \"event\", \"system_id\": \"local\", \"n\": %d, "
                             "\"payload\": \"%s\", \"timestamp\": %d.25}\n",
                             part * RUN + i, "abcdefghijklmnopqrstuvwxyz0123456789", i);
            assert_int_equal(papyra__buf_append(&in, line, (size_t)n), 0);
            assert_int_equal(papyra__buf_append(&want, line, (size_t)n), 0);
        }
        if (part == 0) {
            assert_int_equal(papyra__buf_puts(&in, "{\"kind\": \"event\", \"timestamp\": 1}\r\n"
                                                   "{\"kind\":\"event\",\"timestamp\":2}\n\n"),
                             0);
            assert_int_equal(papyra__buf_puts(&want, "{\"kind\": \"event\", \"timestamp\": 1}\n"
                                                     "{\"kind\": \"event\", \"timestamp\": 2}\n"),
                             0);
        }
    }
    papyra_test_write_file(F->path, in.data, in.len);
    s = st_open("json:%s?metrics=none", F->path);
    assert_int_equal(papyra_store_compact(s, &rep), 0);
    papyra_test_assert_file(F->path, want.data, want.len);
    assert_int_equal(rep.before_records, 2 * RUN + 1000 + 2);
    assert_int_equal(rep.after_records, 2 * RUN + 1000 + 2);
    assert_int_equal(rep.before_bytes, (int64_t)in.len);
    assert_int_equal(rep.after_bytes, (int64_t)want.len);
    assert_int_equal(papyra_test_count_prefix(F->dir, "events.jsonl.compact"), 0);
    papyra_store_close(s);
    papyra__buf_free(&in);
    papyra__buf_free(&want);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, st_setup_file, st_teardown_file)
        T(test_compaction_applies_max_records),
        T(test_compaction_drops_corrupt_lines),
        T(test_compaction_retention_is_per_kind),
        T(test_recovery_repair_rewrites_valid_lines),
        T(test_recovery_quarantine_keeps_a_copy),
        T(test_recovery_quarantine_defaults_to_the_data_directory),
        T(test_appends_follow_a_file_replaced_by_another_handle),
        T(test_recovery_ignore_changes_nothing),
        T(test_scan_reports_every_kind_of_bad_line),
        T(test_empty_and_garbage_only_files),
        T(test_compaction_does_not_lose_concurrent_appends),
        T(test_rewrites_equal_parse_and_write),
        T(test_compaction_reads_kind_and_timestamp_of_normal_lines),
        T(test_rewrites_remove_leftover_temp_files),
        T(test_compaction_copies_long_runs_in_order),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
