/* SPDX-License-Identifier: MIT */
/*
 * Recovery and compaction of the rotating backend: both stream the set and
 * build a new one through the staged, crash-safe replacement of set.c.
 * docs/backend-rotating.md states the rules.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/rotating/rotating.h"
#include "core/backend.h"
#include "record/codec.h"
#include "util/fs.h"
#include "util/util.h"

/* Calls @p fn for every line of the set, oldest first; obj is NULL for a corrupt line. */
typedef int (*line_fn)(void *ctx, const papyra__line *line, const papyra_json *obj);

static int
each_line(papyra__rot *r, line_fn fn, void *ctx)
{
    int e = 0;

    for (int64_t k = r->max_files - 1; k >= 0 && e == 0; k--) {
        papyra__line_reader rd;
        papyra__line line;
        char *p = papyra__rot_file(r, k);

        if (!p)
            return PAPYRA_ENOMEM;
        e = papyra__lines_open(&rd, p, PAPYRA__NL_UNIVERSAL);
        free(p);
        if (e <= 0)
            continue;
        while ((e = papyra__lines_next(&rd, &line)) > 0) {
            papyra_json *obj = NULL;
            /* A torn line is dropped like a corrupt one (as the JSON backend does). */
            int v = line.terminated ? papyra__json_parse_object(line.p, line.len, &obj) : 0;

            papyra__progress_add(line.stored);
            e = v < 0 ? v : fn(ctx, &line, obj);
            papyra__json_free(obj);
            if (e < 0)
                break;
        }
        papyra__lines_free(&rd);
    }
    return e;
}

/* The bytes of every file of the set. */
static int64_t
set_bytes(papyra__rot *r)
{
    int64_t sum = 0;
    struct stat st;

    for (int64_t k = 0; k < r->max_files; k++) {
        char *p = papyra__rot_file(r, k);
        if (p && stat(p, &st) == 0)
            sum += st.st_size;
        free(p);
    }
    return sum;
}

/*
 * After a rebuild (result @p e), the handle lets go of the active file; its
 * next write opens the new one. A rebuild that succeeded wrote every record
 * into new, fsynced files; after a failed one what this handle appended is
 * synced first (a failure poisons the handle).
 */
static void
drop_active(papyra__rot *r, int e)
{
    if (e == 0)
        papyra__datafile_rewritten(&r->file, 0);
    else
        (void)papyra__datafile_flush(&r->file);
    papyra__datafile_set_fd(&r->file, -1, 0);
}

/* Recovery: the surviving records, re-serialised ASCII-escaped, in a new set. */
typedef struct repair_ctx {
    papyra__rot_stage st;
    papyra_buf line;
    bool writing;
} repair_ctx;

static int
repair_line(void *ctx, const papyra__line *line, const papyra_json *obj)
{
    repair_ctx *c = ctx;
    int e;

    (void)line;
    if (!obj)
        return 0;
    papyra__buf_reset(&c->line);
    e = papyra__json_write(obj, PAPYRA_JSON_ENSURE_ASCII, &c->line);
    if (e < 0)
        return e;
    if (!c->writing) {
        papyra__rot_stage_plan(&c->st, c->line.len + 1);
        return 0;
    }
    return papyra__rot_stage_add(&c->st, c->line.data, c->line.len);
}

static bool
is_damaged(const papyra_scan_report *found, const char *path)
{
    for (size_t i = 0; found && i < found->count; i++) {
        if (found->anomalies[i].type != PAPYRA_ANOMALY_ORPHANED_ROTATED_FILE &&
            strcmp(found->anomalies[i].path, path) == 0)
            return true;
    }
    return false;
}

/* Quarantines set file @p p: a durable copy, the live file stays. */
static int
quarantine_copy(const char *p, const char *qdir, long long ms, char **q)
{
    int in = papyra__open_regular(p, O_RDONLY, 0);
    int e;

    if (in < 0)
        return in;
    /* The copy is no more permissive than what it copies. */
    e = papyra__files_quarantine_copy(in, p, qdir, ms, papyra__mode_like(p, 0666), q);
    close(in);
    return e;
}

/* Lists quarantined copy @p q in @p report after step result @p e; an error names @p p. */
static int
quarantined(papyra_store *s, papyra_recovery_report *report, const char *p, const char *q, int e)
{
    if (e == 0)
        e = papyra__strv_add(&report->quarantined, &report->n_quarantined, q);
    if (e < 0)
        e = papyra__store_error(s, e, "rotating: cannot quarantine '%s': %s", p,
                                papyra_strerror(e));
    return e;
}

/* QUARANTINE: copies damaged set files and moves orphans into the quarantine directory. */
static int
quarantine(papyra_store *s,
           papyra__rot *r,
           const char *qdir,
           const papyra_scan_report *found,
           papyra_recovery_report *report)
{
    long long ms = papyra__now_ns() / 1000000;
    int e = 0;

    for (int64_t k = r->max_files - 1; k >= 0 && e == 0; k--) {
        char *p = papyra__rot_file(r, k), *q = NULL;

        if (!p)
            return PAPYRA_ENOMEM;
        if (is_damaged(found, p) && papyra__rot_exists(p)) {
            e = quarantine_copy(p, qdir, ms, &q);
            e = quarantined(s, report, p, q, e);
        }
        free(p);
        free(q);
    }
    for (size_t i = 0; found && i < found->count && e == 0; i++) {
        const char *p = found->anomalies[i].path;
        char *q = NULL;

        if (found->anomalies[i].type != PAPYRA_ANOMALY_ORPHANED_ROTATED_FILE ||
            !papyra__rot_exists(p))
            continue;
        e = papyra__files_quarantine_move(p, qdir, ms, &q);
        e = quarantined(s, report, p, q, e);
        free(q);
    }
    return e;
}

int
papyra__rot_repair(papyra_store *s,
                   const papyra_recovery_options *opts,
                   const papyra_scan_report *found,
                   papyra_recovery_report *report)
{
    papyra__rot *r = s->impl;
    repair_ctx c = {0};
    bool content = false;
    int e;

    if (opts->mode == PAPYRA_RECOVER_IGNORE)
        return 0;
    e = papyra__rot_writer_lock(r);
    if (e < 0)
        return papyra__rot_error(s, e, "cannot lock", r->lock_path);
    if (opts->mode == PAPYRA_RECOVER_QUARANTINE) {
        /* By default a hidden directory, which upstream's orphan glob does not match. */
        e = quarantine(s, r, opts->quarantine_dir ? opts->quarantine_dir : r->qdir_path, found,
                       report);
        if (e < 0) {
            papyra__rot_writer_unlock(r);
            return e;
        }
    }
    /*
     * Orphans alone leave the set as it is: nothing in it needs rewriting,
     * unless an fsync failed (then what the files read back may not be on
     * disk until they are rewritten and fsynced).
     */
    content = papyra__datafile_poisoned(&r->file);
    for (size_t i = 0; found && i < found->count; i++)
        if (found->anomalies[i].type != PAPYRA_ANOMALY_ORPHANED_ROTATED_FILE)
            content = true;
    if (!content) {
        papyra__rot_writer_unlock(r);
        return 0;
    }
    papyra__rot_stage_init(&c.st, r);
    papyra__progress_total(2 * (uint64_t)set_bytes(r)); /* two passes */
    e = each_line(r, repair_line, &c);
    if (e == 0)
        e = papyra__rot_stage_begin(&c.st, 1);
    if (e == 0) {
        c.writing = true;
        e = each_line(r, repair_line, &c);
    }
    if (e == 0)
        e = papyra__rot_stage_commit(&c.st);
    /* Discards an uncommitted set, or finishes one that failed after its commit. */
    if (e < 0)
        papyra__rot_stage_abort(&c.st);
    papyra__buf_free(&c.line);
    for (uint64_t k = 0; e == 0 && k < c.st.files; k++) {
        char *p = papyra__rot_file(r, (int64_t)k);
        e = p ? papyra__strv_add(&report->repaired, &report->n_repaired, p) : PAPYRA_ENOMEM;
        free(p);
    }
    drop_active(r, e);
    papyra__rot_writer_unlock(r);
    if (e < 0)
        return papyra__store_error(s, e, "rotating: cannot repair '%s': %s", r->path,
                                   papyra_strerror(e));
    return 0;
}

/*
 * Compaction: four streaming passes with memory bounded by the longest line.
 * Retention is per kind, newest first, as papyra__retention_offer() states it;
 * walking oldest first it becomes: age drops by timestamp; of the rest of a
 * kind, the newest max_records stay (pass 1 counts them); of those, a record
 * stays when its bytes plus the bytes of every newer one stay within
 * max_total_bytes (pass 2 sums them). Pass 3 plans the files, pass 4 writes.
 */
typedef struct compact_ctx {
    const papyra__retention *ret;
    papyra__retention_state rs;
    int pass;
    uint64_t n_age[PAPYRA_KIND_MAX]; /* age-kept records per kind */
    uint64_t idx[PAPYRA_KIND_MAX];   /* age-kept records seen so far in this pass */
    uint64_t tot[PAPYRA_KIND_MAX];   /* bytes of the count-kept ones */
    uint64_t pre[PAPYRA_KIND_MAX];   /* of which seen so far in this pass */
    uint64_t before, after, corrupt;
    papyra__rot_stage st;
} compact_ctx;

/* 1 to keep the line, 0 to drop it; moves the per-pass counters. */
static int
compact_decide(compact_ctx *c, const papyra__line *line, const papyra_json *obj)
{
    int k = papyra__record_kind_of(obj);
    double ts;

    /* Unknown kinds are invisible to reads and kept as they are. */
    if (k < 0)
        return 1;
    if (!papyra__record_timestamp(obj, &ts))
        return c->rs.has_cutoff ? 0 : 1;
    if (c->rs.has_cutoff && !(ts >= c->rs.cutoff))
        return 0;
    c->idx[k]++;
    if (c->pass == 1)
        return 0;
    if (c->ret->max_records > 0 && c->n_age[k] > (uint64_t)c->ret->max_records &&
        c->idx[k] <= c->n_age[k] - (uint64_t)c->ret->max_records)
        return 0;
    if (c->pass == 2) {
        c->tot[k] += line->stored;
        return 0;
    }
    if (c->ret->max_total_bytes > 0) {
        uint64_t suffix = c->tot[k] - c->pre[k];
        c->pre[k] += line->stored;
        if (suffix > (uint64_t)c->ret->max_total_bytes)
            return 0;
    }
    return 1;
}

static int
compact_line(void *ctx, const papyra__line *line, const papyra_json *obj)
{
    compact_ctx *c = ctx;

    if (!obj) {
        if (c->pass == 1)
            c->corrupt++;
        return 0;
    }
    if (c->pass == 1)
        c->before++;
    if (!compact_decide(c, line, obj) || c->pass < 3)
        return 0;
    if (c->pass == 3) {
        papyra__rot_stage_plan(&c->st, line->len + 1);
        return 0;
    }
    c->after++;
    return papyra__rot_stage_add(&c->st, line->p, line->len);
}

int
papyra__rot_compact(papyra_store *s,
                    papyra_compaction_report *ret,
                    uint64_t *anomalies,
                    uint64_t *removed)
{
    papyra__rot *r = s->impl;
    compact_ctx c = {0};
    int e;

    e = papyra__rot_writer_lock(r);
    if (e < 0)
        return papyra__rot_error(s, e, "cannot lock", r->lock_path);
    c.ret = &s->retention;
    papyra__retention_begin(&s->retention, &c.rs);
    papyra__rot_stage_init(&c.st, r);
    ret->before_bytes = set_bytes(r);
    papyra__progress_total(4 * (uint64_t)ret->before_bytes); /* four passes */
    for (c.pass = 1; c.pass <= 4 && e == 0; c.pass++) {
        if (c.pass == 2)
            memcpy(c.n_age, c.idx, sizeof(c.n_age));
        memset(c.idx, 0, sizeof(c.idx));
        memset(c.pre, 0, sizeof(c.pre));
        if (c.pass == 4)
            e = papyra__rot_stage_begin(&c.st, 0);
        if (e == 0)
            e = each_line(r, compact_line, &c);
    }
    if (e == 0)
        e = papyra__rot_stage_commit(&c.st);
    /* Discards an uncommitted set, or finishes one that failed after its commit. */
    if (e < 0)
        papyra__rot_stage_abort(&c.st);
    drop_active(r, e);
    if (e == 0) {
        ret->before_records = c.before;
        ret->after_records = c.after;
        ret->after_bytes = set_bytes(r);
        *anomalies = c.corrupt;
        *removed = c.before - c.after;
    }
    papyra__rot_writer_unlock(r);
    if (e == PAPYRA_ENOTREG)
        return papyra__rot_not_regular_in_set(s, r);
    if (e < 0)
        return papyra__store_error(s, e, "rotating: cannot compact '%s': %s", r->path,
                                   papyra_strerror(e));
    return 0;
}
