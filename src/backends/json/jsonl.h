/* SPDX-License-Identifier: MIT */
/*
 * Internals of the JSON-lines backend ("json:PATH"): its state, shared by
 * json.c (open, write, list, scan) and rewrite.c (recover, compact). Its
 * files are read with the files/ line readers as upstream reads them, with
 * Python's universal newlines (PAPYRA__NL_UNIVERSAL): "\n", "\r\n" and a
 * lone "\r" each end a line, and a record's stored size counts its
 * terminator.
 */
#ifndef PAPYRA_JSONL_H
#define PAPYRA_JSONL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/backend.h"
#include "files/control.h"
#include "files/datafile.h"
#include "files/lines.h"
#include "json/json.h"
#include "util/buf.h"

/* State of a "json:" store (s->impl). */
typedef struct papyra__jsonl {
    /* The data file: its path, descriptor (-1 until the first write) and durability. */
    papyra__datafile file;

    /*
     * The control page ("<dir>/.<name>.lock", files/control.h): its mutex
     * is held around every append and for a whole recover or compact, its
     * generation tells a replaced data file. Attached at the first write
     * (or by a reader, a recover or a compact, when the file exists), under
     * mu.
     */
    papyra__control ctl;
    char *ctl_path;
    pthread_mutex_t mu;   /* guards the attaching of ctl */
    atomic_bool attached; /* ctl is attached (set once, under mu) */
    /* Under the control mutex: the generation file.fd was opened in. */
    uint64_t gen;
} papyra__jsonl;

/* Sets the store's error to "<what> <path>: <reason>" and returns @p code. */
int papyra__jsonl_error(papyra_store *s, int code, const char *what, const char *path);

/*
 * Parses a line: *obj gets the object, or NULL when the line is an anomaly
 * (torn, blank, not JSON, not UTF-8, not an object). Returns 0 or ENOMEM.
 */
int papyra__jsonl_parse_line(const papyra__line *l, papyra_json **obj);

/*
 * Takes the data file for a recover or compact: the control page's mutex
 * keeps out every appender of every process, flock(LOCK_EX) on the data
 * file appenders of older releases. Returns 0, 1 when the file does not
 * exist, or an error; call papyra__jsonl_leave_exclusive() in any case.
 * Leaving bumps the generation: appenders reopen the path and check its tail.
 */
int papyra__jsonl_enter_exclusive(papyra__jsonl *j);
void papyra__jsonl_leave_exclusive(papyra__jsonl *j);

/* The repair and compact operations (rewrite.c). */
int papyra__jsonl_repair(papyra_store *s,
                         const papyra_recovery_options *opts,
                         const papyra_scan_report *found,
                         papyra_recovery_report *report);
int papyra__jsonl_compact(papyra_store *s,
                          papyra_compaction_report *ret,
                          uint64_t *anomalies,
                          uint64_t *removed);

#endif /* PAPYRA_JSONL_H */
