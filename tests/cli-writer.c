/* SPDX-License-Identifier: MIT */
/*
 * A stand-in application for the CLI tests (tests/test-cli.py) and the I/O
 * fault test (tests/test_io_faults.py).
 *
 *   cli-writer store URL N [KIND]
 *       opens the store and writes N records of KIND (event, audit,
 *       dead_letter; default event), one write call each, then closes it.
 *   cli-writer batch URL N [PER_CALL]
 *       the same with events, PER_CALL records per write call (default N:
 *       all of them in one papyra_store_write_batch call).
 *   cli-writer copy SRC_URL DST_URL
 *       lists every record of every kind from SRC_URL and writes them to
 *       DST_URL, one batch per kind: what list returns must be writable.
 *   cli-writer counters PATH BACKEND NAME=N...
 *       creates (if needed) the shared metrics file PATH for BACKEND and adds
 *       N to each named counter, the way an application's store would.
 *   cli-writer recover URL MODE
 *       opens the store and recovers it in MODE (repair, quarantine) with the
 *       library's default quarantine directory, as an application would;
 *       prints each quarantined path. Exit 2 when anomalies remain.
 *
 * A failed write call is reported as "cli-writer: write: MESSAGE (write call
 * C of M failed; R records acknowledged)", so that a test knows exactly which
 * records the application was told are stored; a metrics file that the store
 * could not use is reported as "cli-writer: warning: ..." (the writes go on).
 *
 * Exit 0 on success; 1 with one line on stderr otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <papyra/papyra.h>

static int
fail(const char *what, const char *detail)
{
    fprintf(stderr, "cli-writer: %s: %s\n", what, detail);
    return 1;
}

/* Record @p i of @p kind, as every mode writes it. */
static void
make_record(const char *kind, long i, papyra_record *r)
{
    static const char *const orphans[] = {"a"};

    memset(r, 0, sizeof(*r));
    if (strcmp(kind, "audit") == 0) {
        r->kind = PAPYRA_KIND_AUDIT;
        r->u.audit.system_id = "local";
        r->u.audit.timestamp = 1000.0 + (double)i;
        r->u.audit.total_actors = 10;
        r->u.audit.alive_actors = 8;
        r->u.audit.registry_orphans = orphans;
        r->u.audit.n_registry_orphans = 1;
        r->u.audit.dead_letters_count = 2;
    } else if (strcmp(kind, "dead_letter") == 0) {
        r->kind = PAPYRA_KIND_DEAD_LETTER;
        r->u.dead_letter.system_id = "local";
        r->u.dead_letter.target = "\"local://1\"";
        r->u.dead_letter.message_type = "str";
        r->u.dead_letter.payload = "\"late\"";
        r->u.dead_letter.timestamp = 1000.0 + (double)i;
    } else {
        r->kind = PAPYRA_KIND_EVENT;
        r->u.event.system_id = "local";
        r->u.event.actor_address = "\"local://1\"";
        r->u.event.event_type = "ActorStarted";
        r->u.event.timestamp = 1000.0 + (double)i;
    }
}

/* Writes @p n records of @p kind, @p per_call to a write call (1: papyra_store_write). */
static int
write_records(const char *url, long n, long per_call, const char *kind)
{
    papyra_error err = {0};
    papyra_store *s = NULL;
    papyra_record *batch;
    long calls, done = 0;
    int rc;

    if (n < 0 || per_call < 1)
        return fail(url, "N must be >= 0 and PER_CALL >= 1");
    batch = calloc((size_t)per_call, sizeof(*batch));
    if (!batch)
        return fail(url, "out of memory");
    rc = papyra_store_open(&s, url, &err);
    if (rc < 0) {
        free(batch);
        return fail(url, err.message);
    }
    if (papyra_store_metrics_warning(s))
        fprintf(stderr, "cli-writer: warning: %s\n", papyra_store_metrics_warning(s));
    calls = (n + per_call - 1) / per_call;
    for (long c = 0; c < calls; c++) {
        long k = n - done < per_call ? n - done : per_call;

        for (long i = 0; i < k; i++)
            make_record(kind, done + i, &batch[i]);
        rc = per_call == 1 ? papyra_store_write(s, &batch[0])
                           : papyra_store_write_batch(s, batch, (size_t)k);
        if (rc < 0) {
            char msg[700];
            snprintf(msg, sizeof(msg),
                     "%s (write call %ld of %ld failed; %ld records acknowledged)",
                     papyra_store_errmsg(s), c + 1, calls, done);
            papyra_store_close(s);
            free(batch);
            return fail("write", msg);
        }
        done += k;
    }
    free(batch);
    rc = papyra_store_close(s);
    return rc < 0 ? fail("close", papyra_strerror(rc)) : 0;
}

/* Writes every record SRC lists to DST, one batch per kind. */
static int
copy_records(const char *src_url, const char *dst_url)
{
    papyra_error err = {0};
    papyra_store *src = NULL, *dst = NULL;
    int rc = 0;

    if (papyra_store_open(&src, src_url, &err) < 0)
        return fail(src_url, err.message);
    if (papyra_store_open(&dst, dst_url, &err) < 0) {
        papyra_store_close(src);
        return fail(dst_url, err.message);
    }
    for (int k = 0; k < PAPYRA_KIND_MAX && rc == 0; k++) {
        papyra_record_list *list = NULL;

        if (papyra_store_list(src, (papyra_kind)k, NULL, &list) < 0) {
            rc = fail("list", papyra_store_errmsg(src));
            break;
        }
        if (list->count > 0 && papyra_store_write_batch(dst, list->records, list->count) < 0)
            rc = fail("write", papyra_store_errmsg(dst));
        papyra_record_list_free(list);
    }
    papyra_store_close(src);
    if (papyra_store_close(dst) < 0 && rc == 0)
        rc = fail("close", dst_url);
    return rc;
}

static int
add_counters(const char *path, const char *backend, int argc, char **argv)
{
    papyra_metrics_options o = {.flags = PAPYRA_METRICS_CREATE,
                                .backend = papyra_backend_by_name(backend)};
    papyra_error err = {0};
    papyra_metrics *m = NULL;
    int rc = 0;

    if (o.backend < 0)
        return fail(backend, "unknown backend");
    if (papyra_metrics_open(&m, path, &o, &err) < 0)
        return fail(path, err.message);
    for (int i = 0; i < argc && rc == 0; i++) {
        char name[64];
        const char *eq = strchr(argv[i], '=');
        if (!eq || (size_t)(eq - argv[i]) >= sizeof(name)) {
            rc = fail(argv[i], "expected NAME=N");
            break;
        }
        memcpy(name, argv[i], (size_t)(eq - argv[i]));
        name[eq - argv[i]] = '\0';
        int id = papyra_metric_by_name(name);
        if (id < 0 || papyra_metrics_add(m, id, strtoull(eq + 1, NULL, 10)) < 0)
            rc = fail(argv[i], "cannot add");
    }
    papyra_metrics_close(m);
    return rc;
}

static int
recover(const char *url, const char *mode)
{
    papyra_recovery_options o = {.mode = strcmp(mode, "quarantine") == 0 ? PAPYRA_RECOVER_QUARANTINE
                                                                         : PAPYRA_RECOVER_REPAIR};
    papyra_recovery_report *rep = NULL;
    papyra_error err = {0};
    papyra_store *s = NULL;
    int rc;

    if (papyra_store_open(&s, url, &err) < 0)
        return fail(url, err.message);
    rc = papyra_store_recover(s, &o, &rep);
    if (rc < 0 && (rc != PAPYRA_EANOMALY || !rep)) {
        rc = fail("recover", papyra_store_errmsg(s));
        papyra_store_close(s);
        return rc;
    }
    for (size_t i = 0; i < rep->n_quarantined; i++)
        printf("%s\n", rep->quarantined[i]);
    rc = rep->after && rep->after->count > 0 ? 2 : 0;
    papyra_recovery_report_free(rep);
    papyra_store_close(s);
    return rc;
}

int
main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "store") == 0)
        return write_records(argv[2], strtol(argv[3], NULL, 10), 1, argc > 4 ? argv[4] : "event");
    if (argc >= 4 && strcmp(argv[1], "batch") == 0) {
        long n = strtol(argv[3], NULL, 10);
        return write_records(argv[2], n, argc > 4 ? strtol(argv[4], NULL, 10) : (n > 0 ? n : 1),
                             "event");
    }
    if (argc == 4 && strcmp(argv[1], "copy") == 0)
        return copy_records(argv[2], argv[3]);
    if (argc >= 4 && strcmp(argv[1], "counters") == 0)
        return add_counters(argv[2], argv[3], argc - 4, argv + 4);
    if (argc == 4 && strcmp(argv[1], "recover") == 0)
        return recover(argv[2], argv[3]);
    fprintf(stderr, "usage: cli-writer store URL N [KIND] | batch URL N [PER_CALL] |"
                    " copy SRC_URL DST_URL | counters PATH BACKEND NAME=N... | recover URL MODE\n");
    return 1;
}
