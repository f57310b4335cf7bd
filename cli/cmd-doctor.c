/* SPDX-License-Identifier: MIT */
/*
 * papyra doctor run, and the startup check it shares with
 * `papyra persistence startup-check`.
 *
 * Unlike upstream, scan_only never changes the store, a recovery is always
 * verified with a second scan, and a recovery without --recovery-mode
 * repairs instead of silently doing nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "util/fs.h"

enum { MODE_IGNORE, MODE_SCAN_ONLY, MODE_RECOVER, MODE_FAIL };

static const char *const mode_names[] = {"ignore", "scan_only", "recover", "fail_on_anomaly", NULL};

int
cli_recovery_mode(const char *s)
{
    static const char *const names[] = {"ignore", "repair", "quarantine", "rebuild", NULL};
    static const int modes[] = {PAPYRA_RECOVER_IGNORE, PAPYRA_RECOVER_REPAIR,
                                PAPYRA_RECOVER_QUARANTINE, PAPYRA_RECOVER_REPAIR};
    int k = cli_choice(s, names);

    return k < 0 ? -1 : modes[k];
}

void
cli_print_anomalies(const cli_ctx *ctx, const papyra_scan_report *r)
{
    for (size_t i = 0; r && i < r->count; i++) {
        const papyra_anomaly *a = &r->anomalies[i];
        const char *type = papyra_anomaly_type_name((int)a->type);
        if (a->detail)
            cli_say(ctx, CLI_BAD, "- %s: %s (%s)", type ? type : "UNKNOWN", a->path, a->detail);
        else
            cli_say(ctx, CLI_BAD, "- %s: %s", type ? type : "UNKNOWN", a->path);
    }
}

size_t
cli_damage(const papyra_scan_report *r)
{
    size_t n = 0;

    for (size_t i = 0; r && i < r->count; i++)
        n += r->anomalies[i].type != PAPYRA_ANOMALY_MISTYPED_RECORD;
    return n;
}

void
cli_print_kept(const cli_ctx *ctx, const papyra_scan_report *r)
{
    size_t kept = r ? r->count - cli_damage(r) : 0;

    if (kept > 0)
        cli_say(ctx, CLI_INFO,
                "kept %zu records with fields of a type libpapyra cannot return "
                "(upstream reads them; see persistence scan)",
                kept);
}

void
cli_print_recovery(const cli_ctx *ctx, const papyra_recovery_report *r)
{
    for (size_t i = 0; i < r->n_repaired; i++)
        cli_say(ctx, CLI_INFO, "repaired %s", r->repaired[i]);
    for (size_t i = 0; i < r->n_quarantined; i++)
        cli_say(ctx, CLI_INFO, "quarantined %s", r->quarantined[i]);
}

int
cli_make_dirs(const cli_ctx *ctx, const char *path)
{
    /* No wider than the store's data file (search where it has read), as the library does. */
    const char *url = cli_store_url(ctx);
    papyra_url_info *info = NULL;
    mode_t mode = 0777;

    if (url && papyra_store_url_describe(url, &info, NULL) == 0 && info->data_path) {
        mode_t m = papyra__mode_like(info->data_path, 0666);
        mode = m | ((m & 0444) >> 2);
    }
    papyra_url_info_free(info);
    return papyra__mkdir_p(path, mode) < 0 ? errno : 0;
}

/* Runs the recovery and its verifying scan; prints the outcome; returns the exit code. */
static int
recover_and_verify(cli_ctx *ctx, papyra_store *s, const papyra_recovery_options *ro)
{
    papyra_recovery_report *rep = NULL;
    papyra_scan_report *verify = NULL;
    const papyra_scan_report *after;
    int rc;

    cli_progress(ctx, s, "Recovering");
    rc = papyra_store_recover(s, ro, &rep);
    cli_progress_done(ctx);
    if (rc < 0 && rc != PAPYRA_EANOMALY)
        return cli_error(CLI_EXIT_FAIL, "recovery failed: %s", papyra_store_errmsg(s));
    cli_print_recovery(ctx, rep);
    after = rep->after;
    if (!after && ro->mode == PAPYRA_RECOVER_IGNORE) {
        after = rep->scan;
    } else if (!after) {
        /* The library verifies; should it not have, scan here rather than trust it. */
        cli_progress(ctx, s, "Verifying");
        int vr = papyra_store_scan(s, &verify);
        cli_progress_done(ctx);
        if (vr < 0) {
            papyra_recovery_report_free(rep);
            return cli_error(CLI_EXIT_FAIL, "verifying scan failed: %s", papyra_store_errmsg(s));
        }
        after = verify;
    }
    if (after && cli_damage(after) > 0) {
        size_t orphans = 0;
        cli_say(ctx, CLI_BAD, "Recovery attempted but anomalies still exist: %zu remain",
                after->count);
        cli_print_anomalies(ctx, after);
        for (size_t i = 0; i < after->count; i++)
            orphans += after->anomalies[i].type == PAPYRA_ANOMALY_ORPHANED_ROTATED_FILE;
        /* Repair leaves files it does not own where they are; quarantine moves them. */
        if (orphans == after->count && ro->mode == PAPYRA_RECOVER_REPAIR)
            cli_say(ctx, CLI_INFO,
                    "hint: repair leaves unexpected files in place; "
                    "--recovery-mode quarantine --quarantine-dir DIR moves them away");
        rc = CLI_EXIT_ANOMALY;
    } else {
        cli_print_kept(ctx, after);
        cli_say(ctx, CLI_INFO, "Recovery successful");
        rc = CLI_EXIT_OK;
    }
    papyra_scan_report_free(verify);
    papyra_recovery_report_free(rep);
    return rc;
}

int
cli_check(cli_ctx *ctx,
          const char *mode_s,
          const char *recovery_s,
          const char *quarantine_dir,
          bool doctor)
{
    papyra_recovery_options ro = {.mode = PAPYRA_RECOVER_REPAIR, .quarantine_dir = NULL};
    papyra_scan_report *scan = NULL;
    papyra_store *s = NULL;
    int mode = MODE_FAIL;
    int rc;

    /* Everything is validated before the store is touched. */
    if (mode_s && (mode = cli_choice(mode_s, mode_names)) < 0)
        return cli_error(CLI_EXIT_USAGE,
                         "Invalid mode: %s (use ignore, scan_only, recover or fail_on_anomaly)",
                         mode_s);
    if (recovery_s) {
        int rm = cli_recovery_mode(recovery_s);
        if (rm < 0)
            return cli_error(CLI_EXIT_USAGE,
                             "Invalid recovery mode: %s (use ignore, repair or quarantine)",
                             recovery_s);
        ro.mode = (papyra_recovery_mode)rm;
    }
    if (ro.mode == PAPYRA_RECOVER_QUARANTINE && doctor && !quarantine_dir && mode == MODE_RECOVER)
        return cli_error(CLI_EXIT_USAGE, "quarantine recovery requires --quarantine-dir");
    ro.quarantine_dir = quarantine_dir;

    rc = cli_open_store(ctx, &s);
    if (rc)
        return rc;
    cli_progress(ctx, s, "Scanning");
    rc = papyra_store_scan(s, &scan);
    cli_progress_done(ctx);
    if (rc == PAPYRA_EUNSUPPORTED) {
        cli_say(ctx, CLI_INFO,
                doctor ? "Persistence scan not supported by backend."
                       : "Persistence is healthy (the backend does not support scanning)");
        return cli_close_store(s, CLI_EXIT_OK);
    }
    if (rc < 0) {
        rc = cli_error(CLI_EXIT_FAIL, "scan failed: %s", papyra_store_errmsg(s));
        return cli_close_store(s, rc);
    }
    /* Records upstream reads (MISTYPED_RECORD) are kept, not damage: no reason to stop. */
    if (cli_damage(scan) == 0) {
        cli_print_kept(ctx, scan);
        cli_say(ctx, CLI_INFO, "Persistence is healthy");
        papyra_scan_report_free(scan);
        return cli_close_store(s, CLI_EXIT_OK);
    }
    switch (mode) {
    case MODE_IGNORE:
        cli_say(ctx, CLI_BAD, "Persistence anomalies detected (ignored): %zu", scan->count);
        cli_print_anomalies(ctx, scan);
        rc = CLI_EXIT_OK;
        break;
    case MODE_SCAN_ONLY:
        cli_say(ctx, CLI_BAD, "Persistence anomalies detected (scan only, nothing changed): %zu",
                scan->count);
        cli_print_anomalies(ctx, scan);
        rc = CLI_EXIT_ANOMALY;
        break;
    case MODE_FAIL:
        cli_say(ctx, CLI_BAD, "Persistence anomalies detected: %zu", scan->count);
        cli_print_anomalies(ctx, scan);
        rc = CLI_EXIT_FAIL;
        break;
    default:
        cli_say(ctx, CLI_INFO, "Persistence anomalies detected: %zu; recovering (%s)", scan->count,
                ro.mode == PAPYRA_RECOVER_IGNORE       ? "ignore"
                : ro.mode == PAPYRA_RECOVER_QUARANTINE ? "quarantine"
                                                       : "repair");
        cli_print_anomalies(ctx, scan);
        if (quarantine_dir && ro.mode == PAPYRA_RECOVER_QUARANTINE) {
            int e = cli_make_dirs(ctx, quarantine_dir);
            if (e) {
                rc = cli_error(CLI_EXIT_FAIL, "cannot create quarantine directory %s: %s",
                               quarantine_dir, strerror(e));
                break;
            }
        }
        rc = recover_and_verify(ctx, s, &ro);
        break;
    }
    papyra_scan_report_free(scan);
    return cli_close_store(s, rc);
}

/* papyra doctor run */

enum { DR_MODE, DR_RECOVERY_MODE, DR_QUARANTINE_DIR };

static const cli_opt run_opts[] = {
    [DR_MODE] = {"mode", "MODE",
                 "fail_on_anomaly (default), recover, scan_only or ignore; any case."},
    [DR_RECOVERY_MODE] = {"recovery-mode", "MODE",
                          "With --mode recover: repair (default), quarantine or ignore."},
    [DR_QUARANTINE_DIR] = {"quarantine-dir", "DIR",
                           "Where quarantine keeps damaged data (created if missing)."},
    {0},
};

static int
run_doctor(cli_ctx *ctx, const char *const *vals)
{
    return cli_check(ctx, vals[DR_MODE], vals[DR_RECOVERY_MODE], vals[DR_QUARANTINE_DIR], true);
}

static const cli_cmd doctor_cmds[] = {
    {"run", "Check the store as an application's startup would, and act on anomalies.",
     "Scan the store and act on anomalies by --mode:\n"
     "    fail_on_anomaly  report them, exit 1\n"
     "    recover          repair or quarantine, verify with a second scan;\n"
     "                     exit 0 when clean, 2 when anomalies remain\n"
     "    scan_only        report them without changing anything, exit 2\n"
     "    ignore           report them, exit 0",
     run_opts, run_doctor},
    {0},
};

const cli_group cli_doctor_group = {
    .name = "doctor",
    .summary = "Diagnose persistence health and optionally recover.",
    .description = "Diagnose persistence health and optionally recover.",
    .cmds = doctor_cmds,
};
