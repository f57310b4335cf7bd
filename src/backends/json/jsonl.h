/* SPDX-License-Identifier: MIT */
/*
 * Internals of the JSON-lines backend ("json:PATH"): its state, and the line
 * readers. Both stream a file through a
 * buffer that only grows to hold the longest line, so memory does not grow
 * with the file. Lines end at '\n'; a '\r' before it stays in the line (the
 * JSON parser takes it as whitespace) and counts in the stored size.
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
#include "files/datafile.h"
#include "json/json.h"
#include "util/buf.h"

typedef struct papyra__line {
    const char *p;   /* the bytes, without the '\n'; valid until the next call */
    size_t len;      /* bytes at p */
    size_t stored;   /* bytes in the file, with the '\n' */
    bool terminated; /* false only for a last line without '\n' */
    uint64_t lineno; /* 1-based; forward reader only */
} papyra__line;

/* Oldest line first. */
typedef struct papyra__fwd_reader {
    int fd;
    off_t off; /* where the next read starts */
    char *buf;
    size_t cap, start, end;
    bool eof;
    uint64_t lineno;
    off_t limit; /* read no further than this offset; -1: to the end */
} papyra__fwd_reader;

/* Newest line first. */
typedef struct papyra__rev_reader {
    int fd;
    off_t pos; /* file offset of buf[0] */
    char *buf;
    size_t cap, len;
    bool first;
} papyra__rev_reader;

/* Reads @p fd from offset 0 with pread(2) (the fd's offset is not used). */
void papyra__fwd_init(papyra__fwd_reader *r, int fd);

/* Stops the reader at @p size bytes: what lies beyond was appended after a snapshot. */
void papyra__fwd_limit(papyra__fwd_reader *r, off_t size);

/* 1 and the next line, 0 at the end, or a negative PAPYRA_E* code. */
int papyra__fwd_next(papyra__fwd_reader *r, papyra__line *line);

void papyra__fwd_free(papyra__fwd_reader *r);

/* Reads the first @p size bytes of @p fd backwards. */
void papyra__rev_init(papyra__rev_reader *r, int fd, off_t size);

/* 1 and the previous line, 0 at the start of the file, or a negative PAPYRA_E* code. */
int papyra__rev_next(papyra__rev_reader *r, papyra__line *line);

void papyra__rev_free(papyra__rev_reader *r);

/* State of a "json:" store (s->impl). */
typedef struct papyra__jsonl {
    /* The data file: its path, descriptor (-1 until the first write) and durability. */
    papyra__datafile file;

    pthread_mutex_t mu; /* guards file.fd, holders, overlap, exclusive and the tail fields */
    pthread_cond_t cv;
    unsigned holders;
    unsigned overlap;
    unsigned draining; /* appenders taking back a failed write: no new ones enter */
    bool exclusive;

    /*
     * The torn-tail check is skipped when nothing but this process appended
     * since it last held the lock: then the file is expect_size bytes long
     * and ends with our own newline. lock_size and held_bytes track the
     * current holding period; tail_known is false after a failed write.
     */
    bool tail_known;
    bool held_failed;
    off_t expect_size;
    off_t lock_size;
    uint64_t held_bytes;
} papyra__jsonl;

/* Sets the store's error to "<what> <path>: <reason>" and returns @p code. */
int papyra__jsonl_error(papyra_store *s, int code, const char *what, const char *path);

/*
 * Parses a line: *obj gets the object, or NULL when the line is an anomaly
 * (torn, blank, not JSON, not UTF-8, not an object). Returns 0 or ENOMEM.
 */
int papyra__jsonl_parse_line(const papyra__line *l, papyra_json **obj);

/*
 * Takes the data file for a recover or compact: no appender of this process
 * runs, and flock excludes other processes. Returns 0, 1 when the file does
 * not exist, or an error; call papyra__jsonl_leave_exclusive() in any case.
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
