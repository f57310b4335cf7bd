/* SPDX-License-Identifier: MIT */
/* Helpers shared by the store tests: records, handles and counter deltas. */
#ifndef PAPYRA_STORE_TESTUTIL_H
#define PAPYRA_STORE_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include <papyra/store.h>

/* An event with a string actor address ("local://<n>") and an empty payload. */
papyra_record st_event(int n, double ts);
/* An audit with total_actors = @p total. */
papyra_record st_audit(int64_t total, double ts);
/* A dead letter to "local://1" of type "str" with a JSON-text payload. */
papyra_record st_dead_letter(const char *payload, double ts);

/* Opens a store from a printf-formatted URL; fails the test on error. */
papyra_store *st_open(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The current value of every counter (0 for unsupported ones). */
void st_counters(papyra_store *s, uint64_t out[PAPYRA_METRIC_COUNT]);

/* Asserts that counters moved from @p before by exactly @p delta. */
void st_assert_delta(papyra_store *s,
                     const uint64_t before[PAPYRA_METRIC_COUNT],
                     const uint64_t delta[PAPYRA_METRIC_COUNT]);

/* Lists one kind with optional since/limit; fails the test on error. */
papyra_record_list *st_list(papyra_store *s, papyra_kind kind, double since, size_t limit);

/* Writes a record; fails the test on error. */
void st_write(papyra_store *s, const papyra_record *r);

/* Number of '\n' in a file (0 when missing). */
size_t st_count_lines(const char *path);

#endif /* PAPYRA_STORE_TESTUTIL_H */
