/* SPDX-License-Identifier: MIT */
/* papyra persistence scan|recover|startup-check|compact|inspect */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* papyra persistence scan */

static const cli_opt no_opts[] = {{0}};

static int
run_scan(cli_ctx *ctx, const char *const *vals)
{
    papyra_scan_report *r = NULL;
    papyra_store *s = NULL;
    int rc = cli_open_store(ctx, &s);

    (void)vals;
    if (rc)
        return rc;
    cli_progress(ctx, s, "Scanning");
    rc = papyra_store_scan(s, &r);
    cli_progress_done(ctx);
    if (rc == PAPYRA_EUNSUPPORTED) {
        cli_say(ctx, CLI_INFO, "Persistence backend does not support scanning.");
        return cli_close_store(s, CLI_EXIT_OK);
    }
    if (rc < 0)
        return cli_close_store(s,
                               cli_error(CLI_EXIT_FAIL, "scan failed: %s", papyra_store_errmsg(s)));
    if (r->count == 0) {
        cli_say(ctx, CLI_OK, "Persistence is healthy.");
        rc = CLI_EXIT_OK;
    } else {
        cli_say(ctx, CLI_BAD, "Found %zu persistence anomalies:", r->count);
        cli_print_anomalies(ctx, r);
        rc = CLI_EXIT_ANOMALY;
    }
    papyra_scan_report_free(r);
    return cli_close_store(s, rc);
}

/* papyra persistence recover */

enum { RC_MODE, RC_QUARANTINE_DIR };

static const cli_opt recover_opts[] = {
    [RC_MODE] = {"mode", "MODE", "repair (default), quarantine, ignore or rebuild (= repair)."},
    [RC_QUARANTINE_DIR] = {"quarantine-dir", "DIR",
                           "Where quarantine keeps damaged data (required; created if missing)."},
    {0},
};

static int
run_recover(cli_ctx *ctx, const char *const *vals)
{
    papyra_recovery_options ro = {.mode = PAPYRA_RECOVER_REPAIR};
    papyra_recovery_report *rep = NULL;
    const papyra_scan_report *left = NULL;
    papyra_store *s = NULL;
    int rc;

    if (vals[RC_MODE]) {
        int m = cli_recovery_mode(vals[RC_MODE]);
        if (m < 0)
            return cli_error(CLI_EXIT_USAGE,
                             "Invalid recovery mode: %s (use repair, quarantine or ignore)",
                             vals[RC_MODE]);
        ro.mode = (papyra_recovery_mode)m;
    }
    if (ro.mode == PAPYRA_RECOVER_QUARANTINE && !vals[RC_QUARANTINE_DIR])
        return cli_error(CLI_EXIT_USAGE, "quarantine mode requires --quarantine-dir");
    ro.quarantine_dir = vals[RC_QUARANTINE_DIR];

    rc = cli_open_store(ctx, &s);
    if (rc)
        return rc;
    if (ro.mode == PAPYRA_RECOVER_QUARANTINE) {
        int e = cli_make_dirs(ctx, ro.quarantine_dir);
        if (e)
            return cli_close_store(s, cli_error(CLI_EXIT_FAIL,
                                                "cannot create quarantine directory %s: %s",
                                                ro.quarantine_dir, strerror(e)));
    }
    cli_progress(ctx, s, "Recovering");
    rc = papyra_store_recover(s, &ro, &rep);
    cli_progress_done(ctx);
    if (rc < 0 && rc != PAPYRA_EANOMALY)
        return cli_close_store(
            s, cli_error(CLI_EXIT_FAIL, "recovery failed: %s", papyra_store_errmsg(s)));
    cli_say(ctx, CLI_INFO, "Recovery completed");
    if (rep->scan)
        cli_say(ctx, CLI_INFO, "found %zu anomalies", rep->scan->count);
    cli_print_recovery(ctx, rep);
    /* Upstream never looks again; the library's verifying scan says what is left. */
    if (rep->after)
        left = rep->after;
    else if (ro.mode == PAPYRA_RECOVER_IGNORE || rc == PAPYRA_EANOMALY)
        left = rep->scan;
    if (cli_damage(left) > 0) {
        cli_say(ctx, CLI_BAD, "%zu anomalies remain%s:", left->count,
                ro.mode == PAPYRA_RECOVER_IGNORE ? " (mode ignore changes nothing)" : "");
        cli_print_anomalies(ctx, left);
        rc = CLI_EXIT_ANOMALY;
    } else {
        cli_print_kept(ctx, left ? left : rep->scan);
        cli_say(ctx, CLI_OK, "Persistence is healthy.");
        rc = CLI_EXIT_OK;
    }
    papyra_recovery_report_free(rep);
    return cli_close_store(s, rc);
}

/* papyra persistence startup-check */

enum { SC_MODE, SC_RECOVERY_MODE, SC_QUARANTINE_DIR };

static const cli_opt startup_opts[] = {
    [SC_MODE] = {"mode", "MODE",
                 "fail_on_anomaly (default), recover, scan_only or ignore; any case."},
    [SC_RECOVERY_MODE] = {"recovery-mode", "MODE",
                          "With --mode recover: repair (default), quarantine or ignore."},
    [SC_QUARANTINE_DIR] = {"quarantine-dir", "DIR",
                           "Where quarantine keeps damaged data (default: next to the data)."},
    {0},
};

static int
run_startup_check(cli_ctx *ctx, const char *const *vals)
{
    return cli_check(ctx, vals[SC_MODE], vals[SC_RECOVERY_MODE], vals[SC_QUARANTINE_DIR], false);
}

/* papyra persistence compact */

static int
run_compact(cli_ctx *ctx, const char *const *vals)
{
    papyra_compaction_report rep;
    papyra_store *s = NULL;
    int rc = cli_open_store(ctx, &s);

    (void)vals;
    if (rc)
        return rc;
    cli_progress(ctx, s, "Compacting");
    rc = papyra_store_compact(s, &rep);
    cli_progress_done(ctx);
    if (rc == PAPYRA_EUNSUPPORTED) {
        cli_say(ctx, CLI_INFO, "Compaction is not supported by the %s backend; nothing to do.",
                papyra_store_backend(s));
        return cli_close_store(s, CLI_EXIT_OK);
    }
    if (rc < 0)
        return cli_close_store(
            s, cli_error(CLI_EXIT_FAIL, "compaction failed: %s", papyra_store_errmsg(s)));
    cli_say(ctx, CLI_INFO, "Compaction completed");
    cli_say(ctx, CLI_INFO, "  backend: %s", rep.backend ? rep.backend : papyra_store_backend(s));
    cli_say(ctx, CLI_INFO, "  before_records: %" PRIu64, rep.before_records);
    cli_say(ctx, CLI_INFO, "  after_records: %" PRIu64, rep.after_records);
    cli_say(ctx, CLI_INFO, "  removed_records: %" PRIu64,
            rep.before_records >= rep.after_records ? rep.before_records - rep.after_records : 0);
    if (rep.before_bytes >= 0 && rep.after_bytes >= 0) {
        cli_say(ctx, CLI_INFO, "  before_bytes: %" PRId64, rep.before_bytes);
        cli_say(ctx, CLI_INFO, "  after_bytes: %" PRId64, rep.after_bytes);
        cli_say(ctx, CLI_INFO, "  reclaimed_bytes: %" PRId64, rep.before_bytes - rep.after_bytes);
    }
    return cli_close_store(s, CLI_EXIT_OK);
}

/* papyra persistence inspect */

enum { PI_LIMIT, PI_SHOW_METRICS };

static const cli_opt inspect_opts[] = {
    [PI_LIMIT] = {"limit", "N", "Read at most the newest N records of each kind (1000; 0: all)."},
    [PI_SHOW_METRICS] = {"show-metrics", NULL, "Also print the store's counters."},
    {0},
};

/* Prints the retention limits given in the URL; the API applies them, the URL states them. */
static void
print_retention(const cli_ctx *ctx, const char *url)
{
    static const char *const keys[] = {"max_records", "max_age_seconds", "max_total_bytes"};
    char *v[3] = {NULL, NULL, NULL};

    for (int i = 0; i < 3; i++)
        if (cli_url_param(url, keys[i], &v[i]) < 0)
            v[i] = NULL;
    cli_say(ctx, CLI_INFO, "retention: max_records=%s max_age_seconds=%s max_total_bytes=%s",
            v[0] ? v[0] : "none", v[1] ? v[1] : "none", v[2] ? v[2] : "none");
    for (int i = 0; i < 3; i++)
        free(v[i]);
}

static int
run_inspect(cli_ctx *ctx, const char *const *vals)
{
    static const char *const labels[] = {"events_sampled", "audits_sampled",
                                         "dead_letters_sampled"};
    papyra_list_options lo = {.limit = 1000};
    size_t counts[PAPYRA_KIND_MAX];
    bool counted = true;
    papyra_store *s = NULL;
    const char *mpath;
    int rc;

    if (vals[PI_LIMIT] && !cli_parse_size(vals[PI_LIMIT], &lo.limit))
        return cli_error(CLI_EXIT_USAGE, "bad --limit '%s': give a whole number >= 0",
                         vals[PI_LIMIT]);
    rc = cli_open_store(ctx, &s);
    if (rc)
        return rc;
    for (int k = 0; k < PAPYRA_KIND_MAX && counted; k++) {
        papyra_record_list *l = NULL;
        if (papyra_store_list(s, (papyra_kind)k, &lo, &l) < 0) {
            counted = false;
            break;
        }
        counts[k] = l->count;
        papyra_record_list_free(l);
    }
    cli_say(ctx, CLI_INFO, "Persistence Inspect");
    cli_say(ctx, CLI_INFO, "------------------");
    cli_say(ctx, CLI_INFO, "backend: %s (%s)", papyra_store_backend(s),
            cli_backend_class(papyra_store_backend(s)));
    {
        char shown[2048];
        cli_say(ctx, CLI_INFO, "store: %s",
                cli_redact_url(cli_store_url(ctx), shown, sizeof(shown)));
    }
    print_retention(ctx, cli_store_url(ctx));
    if (!counted) {
        cli_say(ctx, CLI_INFO, "counts: <unavailable> (%s)", papyra_store_errmsg(s));
    } else {
        for (int k = 0; k < PAPYRA_KIND_MAX; k++)
            cli_say(ctx, CLI_INFO, "%s: %zu%s", labels[k], counts[k],
                    lo.limit > 0 && counts[k] == lo.limit ? " (capped)" : "");
    }
    if (vals[PI_SHOW_METRICS]) {
        papyra_metrics *m = papyra_store_metrics(s);
        papyra_metrics_snapshot snap;
        if (papyra_metrics_read(m, &snap) < 0) {
            cli_say(ctx, CLI_INFO, "metrics: <unavailable>");
        } else {
            mpath = papyra_metrics_path(m);
            if (mpath)
                cli_say(ctx, CLI_INFO, "metrics: (%s)", mpath);
            else if (papyra_store_metrics_warning(s))
                cli_say(ctx, CLI_INFO, "metrics: (private to this process: %s)",
                        papyra_store_metrics_warning(s));
            else
                cli_say(ctx, CLI_INFO, "metrics: (private to this process)");
            for (int i = 0; i < PAPYRA_METRIC_COUNT; i++) {
                if (snap.state[i] == PAPYRA_METRIC_OK)
                    cli_say(ctx, CLI_INFO, "  %s: %" PRIu64, papyra_metric_get(i)->name,
                            snap.value[i]);
                else
                    cli_say(ctx, CLI_INFO, "  %s: n/a", papyra_metric_get(i)->name);
            }
        }
    }
    return cli_close_store(s, counted ? CLI_EXIT_OK : CLI_EXIT_FAIL);
}

static const cli_cmd persistence_cmds[] = {
    {"scan", "Scan the store for anomalies without changing it.",
     "Scan the store for anomalies (torn, partial or corrupt records, orphaned\n"
     "  rotated files) without changing it. Exit 0 when clean, 2 when anomalies\n"
     "  are found.",
     no_opts, run_scan},
    {"recover", "Repair or quarantine anomalies, then verify.",
     "Repair or quarantine anomalies, then verify with a second scan (done by the\n"
     "  library). Exit 0 when the store is clean afterwards, 2 when anomalies remain.",
     recover_opts, run_recover},
    {"startup-check", "Run the check an application's startup performs.",
     "Scan the store and act by --mode as an application's startup would:\n"
     "    fail_on_anomaly  report anomalies, exit 1\n"
     "    recover          repair (or --recovery-mode), verify with a second scan;\n"
     "                     exit 0 when clean, 2 when anomalies remain\n"
     "    scan_only        report anomalies without changing anything, exit 2\n"
     "    ignore           report anomalies, exit 0",
     startup_opts, run_startup_check},
    {"compact", "Apply retention physically and drop corrupt records.",
     "Apply retention physically and drop corrupt records, then print the report\n"
     "  (records and bytes before and after). The memory backend has nothing to compact.",
     no_opts, run_compact},
    {"inspect", "Summarise the store: backend, retention, record counts.", NULL, inspect_opts,
     run_inspect},
    {0},
};

const cli_group cli_persistence_group = {
    .name = "persistence",
    .summary = "Scan, recover, check and compact the store.",
    .description = "Persistence tooling: scan, recover, startup-check, compact and inspect.",
    .cmds = persistence_cmds,
};
