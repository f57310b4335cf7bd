/* SPDX-License-Identifier: MIT */
/* Helpers shared by the store tests: records, handles and counter deltas. */
#ifndef PAPYRA_STORE_TESTUTIL_H
#define PAPYRA_STORE_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include <papyra/store.h>

/* An event with a string actor address ("local://<n>") and an empty payload. */
papyra_record st_event(int n, double ts);
/* An event like st_event()'s with the actor address @p addr_json (a JSON text). */
papyra_record st_event_addr(const char *addr_json, double ts);
/* An audit with total_actors = @p total. */
papyra_record st_audit(int64_t total, double ts);
/* A dead letter to "local://1" of type "str" with a JSON-text payload. */
papyra_record st_dead_letter(const char *payload, double ts);

/* Opens a store from a printf-formatted URL; fails the test on error. */
papyra_store *st_open(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A papyra_store_each() callback that counts the records into the size_t at @p count. */
int st_count_each(const papyra_record *r, void *count);

/* Opens @p url, for its error: closes it again on success; papyra_store_open()'s result. */
int st_open_rc(const char *url, papyra_error *e);

/* st_open_rc() with the error's message in @p msg (empty on success). */
int st_open_err(const char *url, char *msg, size_t n);

/* Opens "rotating:<dir>/rot.log?<params>&metrics=none" (@p params may be NULL). */
papyra_store *st_open_rotating(const char *dir, const char *params);

/*
 * A cmocka fixture (an st_file_fixture * in *state): a temporary directory
 * and the path of "events.jsonl" in it.
 */
typedef struct st_file_fixture {
    char *dir;
    char *path;
} st_file_fixture;
int st_setup_file(void **state);
int st_teardown_file(void **state);

/* The current value of every counter (0 for unsupported ones). */
void st_counters(papyra_store *s, uint64_t out[PAPYRA_METRIC_COUNT]);
/* The current value of counter @p id (0 when unsupported). */
uint64_t st_counter(papyra_store *s, int id);

/* Asserts that counters moved from @p before by exactly @p delta. */
void st_assert_delta(papyra_store *s,
                     const uint64_t before[PAPYRA_METRIC_COUNT],
                     const uint64_t delta[PAPYRA_METRIC_COUNT]);

/* Lists one kind with optional since/limit; fails the test on error. */
papyra_record_list *st_list(papyra_store *s, papyra_kind kind, double since, size_t limit);

/* Lists @p kind (no since, no limit) and fails unless it holds exactly one record. */
papyra_record_list *st_list_one(papyra_store *s, papyra_kind kind);

/* Lists the dead letters and fails unless there is one, of st_dead_letter()'s type, carrying
 * @p payload. */
void st_assert_dead_letter(papyra_store *s, const char *payload);

/* Lists @p kind (no since, no limit) and fails unless it holds exactly @p n records. */
void st_assert_count(papyra_store *s, papyra_kind kind, size_t n);

/* Lists the events and fails unless there are @p n, the one at @p i stamped @p ts. */
void st_assert_event_stamp(papyra_store *s, size_t n, size_t i, double ts);

/* Lists the events and fails unless there are @p n, stamped @p first, @p first + 1... */
void st_assert_event_stamps(papyra_store *s, size_t n, double first);

/* Scans and fails unless the scan succeeds with exactly @p n anomalies. */
void st_assert_scan(papyra_store *s, size_t n);

/* Scans and fails unless the scan finds exactly one anomaly, of @p type and (unless NULL)
 * with @p detail. */
void st_assert_anomaly(papyra_store *s, papyra_anomaly_type type, const char *detail);

/* Writes a record; fails the test on error. */
void st_write(papyra_store *s, const papyra_record *r);
/* Writes st_event(@p n, @p ts); fails the test on error. */
void st_write_event(papyra_store *s, int n, double ts);
/* Writes the events @p first to @p first + @p count - 1, event i as st_event(i, i). */
void st_write_events(papyra_store *s, int first, int count);

/* Fails unless @p s scans clean and holds events stamped 0 to @p total - 1, each once. */
void st_assert_each_event_once(papyra_store *s, int total);

/* Number of '\n' in a file (0 when missing). */
size_t st_count_lines(const char *path);
/* Number of '\n' over the files of @p dir whose name starts with @p prefix, quarantine copies
 * left out. */
size_t st_count_lines_in(const char *dir, const char *prefix);
/* Number of entries of @p dir named @p name or "<name>.<digits>": a rotation set's files. */
int st_count_set(const char *dir, const char *name);

#endif /* PAPYRA_STORE_TESTUTIL_H */
