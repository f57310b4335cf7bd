/* SPDX-License-Identifier: MIT */
/*
 * papyra metrics persistence|reset: read and reset the shared counters.
 *
 * These commands open the store's metrics file directly, read-only where
 * they can, instead of opening the store: opening a store creates its
 * metrics file, and "no metrics yet" must stay visible as such.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

void
cli_metrics_loc_free(cli_metrics_loc *loc)
{
    papyra_url_info_free(loc->info);
    loc->info = NULL;
}

static int
private_counters(const char *url, const char *why)
{
    return cli_error(CLI_EXIT_FAIL,
                     "store %s does not expose metrics: it keeps its counters inside the "
                     "application (%s); give the store metrics=PATH or use --metrics-file",
                     url, why);
}

/*
 * Works out the metrics file of the store without opening it: a Redis
 * store's counters must be readable while its server is down. The library
 * reads the URL (papyra_store_url_describe()) exactly as opening it would,
 * so a URL the store refuses is refused here too (exit 64).
 */
int
cli_locate_metrics(const char *url, const char *metrics_file, cli_metrics_loc *loc)
{
    papyra_error err = {0};
    int rc;

    memset(loc, 0, sizeof(*loc));
    loc->backend = -1;
    if (!url)
        return cli_error(CLI_EXIT_FAIL, "out of memory");
    loc->url = cli_redact_url(url, loc->shown, sizeof(loc->shown));
    rc = papyra_store_url_describe(url, &loc->info, &err);
    if (rc < 0)
        return cli_error(cli_exit_for(rc), "%s",
                         err.message[0] ? err.message : papyra_strerror(rc));
    loc->backend = loc->info->backend;
    loc->data_path = loc->info->data_path;
    loc->path = metrics_file ? metrics_file : loc->info->metrics_path;
    if (!loc->path)
        return private_counters(loc->url, loc->backend == PAPYRA_BACKEND_MEMORY
                                              ? "a memory store without metrics="
                                              : "metrics=none");
    return 0;
}

static int
locate_metrics(const cli_ctx *ctx, cli_metrics_loc *loc)
{
    return cli_locate_metrics(cli_store_url(ctx), ctx->metrics_file, loc);
}

int
cli_metrics_open_failed(const cli_metrics_loc *loc, int rc, const papyra_error *err)
{
    const char *msg = err->message[0] ? err->message : papyra_strerror(rc);

    switch (rc) {
    case PAPYRA_ENOENT:
        return cli_error(CLI_EXIT_FAIL,
                         "no metrics yet for %s: %s does not exist (the store has not been "
                         "opened by an application)",
                         loc->url, loc->path);
    case PAPYRA_EFOREIGN:
        /* Never offer --recreate here: the file may be someone's data. */
        return cli_error(CLI_EXIT_FAIL,
                         "%s; it is left alone: check the store URL or --metrics-file", msg);
    case PAPYRA_ETRUNCATED:
    case PAPYRA_ECORRUPT:
    case PAPYRA_EVERSION:
        return cli_error(CLI_EXIT_FAIL,
                         "%s; to start counting afresh run 'papyra metrics reset --recreate'", msg);
    case PAPYRA_EINVAL:
        return cli_error(CLI_EXIT_USAGE, "%s", msg);
    default:
        return cli_error(CLI_EXIT_FAIL, "%s", msg);
    }
}

/* Writes a JSON string literal. */
static void
json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* papyra metrics persistence */

enum {
    MP_JSON,
    MP_FORMAT,
    MP_WIDE,
    MP_DETAIL,
    MP_TOTALS,
    MP_ASCII,
    MP_WATCH,
    MP_COUNT,
    MP_LABEL,
};

static const cli_opt persistence_opts[] = {
    [MP_JSON] = {"json", NULL, "Same as --format json: one flat object, null when unsupported."},
    [MP_FORMAT] = {"format", "FORMAT", "table (default), json, prometheus or openmetrics."},
    [MP_WIDE] = {"wide", NULL, "Table: add what each counter counts."},
    [MP_DETAIL] = {"detail", NULL, "JSON with metadata, totals and per-counter detail."},
    [MP_TOTALS] = {"totals", NULL, "Lifetime totals instead of counts since the last reset."},
    [MP_ASCII] = {"ascii", NULL, "Table: ASCII borders."},
    [MP_WATCH] = {"watch", "SECONDS", "Refresh every SECONDS with per-second rates, until ^C."},
    [MP_COUNT] = {"count", "N", "With --watch: stop after N refreshes."},
    [MP_LABEL] = {"label", "NAME=VALUE...",
                  "Prometheus and OpenMetrics: add this label to every sample, such as "
                  "store=orders; give it once per label."},
    {0},
};

static volatile sig_atomic_t stop_watch;

static void
on_sigint(int sig)
{
    (void)sig;
    stop_watch = 1;
}

static void
watch_frame(const cli_ctx *ctx,
            bool json,
            const papyra_metrics_snapshot *cur,
            const papyra_metrics_snapshot *prev,
            double interval,
            unsigned flags)
{
    bool totals = flags & PAPYRA_FORMAT_TOTALS;
    double dt = prev ? (double)(cur->taken_at_ns - prev->taken_at_ns) / 1e9 : 0;
    char when[40];

    cli_iso_time(cur->taken_at_ns, when, sizeof(when));
    if (json) {
        printf("{\"taken_at\":\"%s\",\"interval_seconds\":%g,\"values\":{", when, interval);
        for (int i = 0; i < PAPYRA_METRIC_COUNT; i++) {
            const papyra_metric_info *info = papyra_metric_get(i);
            uint64_t v = totals ? cur->total[i] : cur->value[i];
            printf("%s\"%s\":", i ? "," : "", info->name);
            if (cur->state[i] == PAPYRA_METRIC_OK)
                printf("%llu", (unsigned long long)v);
            else
                printf("null");
        }
        printf("},\"rates\":{");
    } else {
        if (ctx->color)
            printf("\033[H\033[2J");
        printf("Persistence Metrics (%s, every %gs)\n%-24s %20s %12s\n", when, interval, "Counter",
               totals ? "Total" : "Value", "Rate/s");
    }
    for (int i = 0; i < PAPYRA_METRIC_COUNT; i++) {
        const papyra_metric_info *info = papyra_metric_get(i);
        uint64_t v = totals ? cur->total[i] : cur->value[i];
        bool ok = cur->state[i] == PAPYRA_METRIC_OK;
        bool have_rate = ok && prev && dt > 0;
        double rate = 0;

        if (have_rate) {
            uint64_t pv = totals ? prev->total[i] : prev->value[i];
            /* A reset in between: what was counted since it is the best we know. */
            uint64_t delta = v >= pv && cur->reset_count == prev->reset_count ? v - pv : v;
            rate = (double)delta / dt;
        }
        if (json) {
            printf("%s\"%s\":", i ? "," : "", info->name);
            if (have_rate)
                printf("%.3f", rate);
            else
                printf("null");
        } else {
            char val[24], r[24];
            snprintf(val, sizeof(val), ok ? "%llu" : "n/a", (unsigned long long)v);
            if (have_rate)
                snprintf(r, sizeof(r), "%.1f", rate);
            else
                snprintf(r, sizeof(r), "%s", ok ? "-" : "n/a");
            printf("%-24s %20s %12s\n", info->name, val, r);
        }
    }
    printf(json ? "}}\n" : "\n");
    fflush(stdout);
}

static int
watch_loop(
    const cli_ctx *ctx, papyra_metrics *m, bool json, double interval, size_t count, unsigned flags)
{
    papyra_metrics_snapshot prev, cur;
    struct sigaction sa;
    bool have_prev = false;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    for (size_t n = 0; !stop_watch && (count == 0 || n < count); n++) {
        struct timespec ts;
        if (n > 0) {
            ts.tv_sec = (time_t)interval;
            ts.tv_nsec = (long)((interval - (double)ts.tv_sec) * 1e9);
            while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !stop_watch)
                ;
            if (stop_watch)
                break;
        }
        if (papyra_metrics_read(m, &cur) < 0)
            return cli_error(CLI_EXIT_FAIL, "cannot read the counters: %s",
                             papyra_metrics_errmsg(m));
        watch_frame(ctx, json, &cur, have_prev ? &prev : NULL, interval, flags);
        if (ferror(stdout))
            return cli_error(CLI_EXIT_FAIL, "cannot write the output: %s", strerror(errno));
        prev = cur;
        have_prev = true;
    }
    return CLI_EXIT_OK;
}

/* The --label values of a command line, split into names and values. */
typedef struct label_args {
    papyra_metrics_label l[CLI_REPEAT_MAX];
    char *names[CLI_REPEAT_MAX];
    size_t n;
} label_args;

static void
label_args_free(label_args *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->names[i]);
    a->n = 0;
}

/* Splits and checks every --label NAME=VALUE; a usage error names the bad one. */
static int
parse_labels(const cli_ctx *ctx, label_args *a)
{
    for (size_t i = 0; i < ctx->nrepeated; i++) {
        const char *arg = ctx->repeated[i];
        const char *eq = strchr(arg, '=');
        const char *problem;

        if (!eq)
            return cli_error(CLI_EXIT_USAGE, "bad --label '%s': give NAME=VALUE", arg);
        if (!(a->names[a->n] = strndup(arg, (size_t)(eq - arg))))
            return cli_error(CLI_EXIT_FAIL, "out of memory");
        a->l[a->n] = (papyra_metrics_label){a->names[a->n], eq + 1};
        a->n++;
        if ((problem = papyra_metrics_label_problem(a->l[i].name, a->l[i].value)))
            return cli_error(CLI_EXIT_USAGE, "bad --label '%s': %s", arg, problem);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(a->l[i].name, a->l[j].name) == 0)
                return cli_error(CLI_EXIT_USAGE, "--label %s given twice", a->l[i].name);
        }
    }
    return 0;
}

static int
run_persistence(cli_ctx *ctx, const char *const *vals)
{
    static const char *const formats[] = {"table", "json", "prometheus", "openmetrics", NULL};
    static const papyra_metrics_format_id ids[] = {PAPYRA_FORMAT_TABLE, PAPYRA_FORMAT_JSON,
                                                   PAPYRA_FORMAT_PROMETHEUS,
                                                   PAPYRA_FORMAT_OPENMETRICS};
    papyra_metrics_options mo = {.flags = PAPYRA_METRICS_READONLY, .backend = -1};
    papyra_metrics_format_id fmt = PAPYRA_FORMAT_TABLE;
    papyra_metrics_snapshot snap;
    papyra_error err = {0};
    papyra_metrics *m = NULL;
    cli_metrics_loc loc;
    label_args labels = {.n = 0};
    unsigned flags = 0;
    double interval = 0;
    size_t count = 0;
    char *text = NULL;
    int rc;

    if (vals[MP_FORMAT]) {
        int k = cli_choice(vals[MP_FORMAT], formats);
        if (k < 0)
            return cli_error(CLI_EXIT_USAGE,
                             "bad --format '%s': use table, json, prometheus or openmetrics",
                             vals[MP_FORMAT]);
        fmt = ids[k];
    }
    if (vals[MP_JSON]) {
        if (vals[MP_FORMAT] && fmt != PAPYRA_FORMAT_JSON)
            return cli_error(CLI_EXIT_USAGE, "--json and --format %s contradict each other",
                             vals[MP_FORMAT]);
        fmt = PAPYRA_FORMAT_JSON;
    }
    if (vals[MP_DETAIL]) {
        if (vals[MP_FORMAT] && fmt != PAPYRA_FORMAT_JSON)
            return cli_error(CLI_EXIT_USAGE, "--detail is JSON; it cannot go with --format %s",
                             vals[MP_FORMAT]);
        fmt = PAPYRA_FORMAT_JSON_DETAIL;
    }
    if (vals[MP_WATCH] &&
        (!cli_parse_double(vals[MP_WATCH], &interval) || interval <= 0 || interval > 86400))
        return cli_error(CLI_EXIT_USAGE, "bad --watch '%s': give seconds, > 0", vals[MP_WATCH]);
    if (vals[MP_COUNT]) {
        if (!vals[MP_WATCH])
            return cli_error(CLI_EXIT_USAGE, "--count only goes with --watch");
        if (!cli_parse_size(vals[MP_COUNT], &count) || count == 0)
            return cli_error(CLI_EXIT_USAGE, "bad --count '%s': give a whole number > 0",
                             vals[MP_COUNT]);
    }
    if (vals[MP_WATCH] && fmt != PAPYRA_FORMAT_TABLE && fmt != PAPYRA_FORMAT_JSON)
        return cli_error(CLI_EXIT_USAGE, "--watch shows a table or JSON lines, not this format");
    if (vals[MP_LABEL] && fmt != PAPYRA_FORMAT_PROMETHEUS && fmt != PAPYRA_FORMAT_OPENMETRICS)
        return cli_error(CLI_EXIT_USAGE,
                         "--label goes with --format prometheus or openmetrics only");
    if ((rc = parse_labels(ctx, &labels)) != 0) {
        label_args_free(&labels);
        return rc;
    }
    if (vals[MP_WIDE])
        flags |= PAPYRA_FORMAT_WIDE;
    if (vals[MP_TOTALS])
        flags |= PAPYRA_FORMAT_TOTALS;
    if (vals[MP_ASCII])
        flags |= PAPYRA_FORMAT_ASCII;
    if (ctx->color && fmt == PAPYRA_FORMAT_TABLE)
        flags |= PAPYRA_FORMAT_COLOR;
    /* One object, indented as upstream prints it; --watch keeps one line per sample. */
    if (!vals[MP_WATCH] && (fmt == PAPYRA_FORMAT_JSON || fmt == PAPYRA_FORMAT_JSON_DETAIL))
        flags |= PAPYRA_FORMAT_PRETTY;

    rc = locate_metrics(ctx, &loc);
    if (rc) {
        cli_metrics_loc_free(&loc);
        label_args_free(&labels);
        return rc;
    }
    rc = papyra_metrics_open(&m, loc.path, &mo, &err);
    if (rc < 0) {
        rc = cli_metrics_open_failed(&loc, rc, &err);
        cli_metrics_loc_free(&loc);
        label_args_free(&labels);
        return rc;
    }
    if (vals[MP_WATCH]) {
        rc = watch_loop(ctx, m, fmt == PAPYRA_FORMAT_JSON, interval, count, flags);
    } else if (papyra_metrics_read(m, &snap) < 0) {
        rc = cli_error(CLI_EXIT_FAIL, "cannot read %s: %s", loc.path, papyra_metrics_errmsg(m));
    } else if ((rc = papyra_metrics_format_labels(&snap, fmt, flags, labels.l, labels.n, &text)) <
               0) {
        rc = cli_error(CLI_EXIT_FAIL, "cannot format the counters: %s", papyra_strerror(rc));
    } else {
        size_t n = strlen(text);
        fputs(text, stdout);
        if (n == 0 || text[n - 1] != '\n')
            putchar('\n');
        papyra_free(text);
        rc = CLI_EXIT_OK;
    }
    papyra_metrics_close(m);
    cli_metrics_loc_free(&loc);
    label_args_free(&labels);
    return rc;
}

/* papyra metrics reset */

enum {
    MR_JSON,
    MR_RECREATE,
};

static const cli_opt reset_opts[] = {
    [MR_JSON] = {"json", NULL, "Print what was cleared as JSON."},
    [MR_RECREATE] = {"recreate", NULL,
                     "Replace a missing, truncated, corrupt or foreign metrics file with a "
                     "fresh one."},
    {0},
};

static int
run_reset(cli_ctx *ctx, const char *const *vals)
{
    papyra_metrics_options mo = {.flags = 0, .backend = -1};
    papyra_metrics_snapshot cleared;
    papyra_error err = {0};
    papyra_metrics *m = NULL;
    cli_metrics_loc loc;
    char when[40];
    char *json = NULL;
    int rc;

    rc = locate_metrics(ctx, &loc);
    if (rc) {
        cli_metrics_loc_free(&loc);
        return rc;
    }
    if (vals[MR_RECREATE]) {
        mo.flags = PAPYRA_METRICS_CREATE | PAPYRA_METRICS_RECREATE;
        mo.backend = loc.backend;
        if (loc.data_path && access(loc.data_path, F_OK) == 0)
            mo.mode_from = loc.data_path;
    }
    rc = papyra_metrics_open(&m, loc.path, &mo, &err);
    if (rc == PAPYRA_EACCES) {
        rc = cli_error(CLI_EXIT_FAIL,
                       "cannot reset %s: permission denied (resetting needs write access to the "
                       "metrics file)",
                       loc.path);
        cli_metrics_loc_free(&loc);
        return rc;
    }
    if (rc < 0) {
        rc = cli_metrics_open_failed(&loc, rc, &err);
        cli_metrics_loc_free(&loc);
        return rc;
    }
    rc = papyra_metrics_reset(m, &cleared);
    if (rc < 0) {
        rc = cli_error(CLI_EXIT_FAIL, "cannot reset %s: %s", loc.path, papyra_metrics_errmsg(m));
        papyra_metrics_close(m);
        cli_metrics_loc_free(&loc);
        return rc;
    }
    cli_iso_time(cleared.reset_at_ns, when, sizeof(when));
    if (vals[MR_JSON]) {
        rc = papyra_metrics_format(&cleared, PAPYRA_FORMAT_JSON, 0, &json);
        if (rc < 0) {
            /* The reset happened; say so even though the detail is lost. */
            rc = cli_error(CLI_EXIT_FAIL,
                           "metrics reset at %s, but printing what was cleared "
                           "failed: %s",
                           when, papyra_strerror(rc));
        } else {
            size_t n = strlen(json);
            while (n > 0 && json[n - 1] == '\n')
                json[--n] = '\0';
            printf("{\"metrics_file\":");
            json_string(stdout, loc.path);
            printf(",\"reset_at\":\"%s\",\"reset_count\":%llu,\"cleared\":%s}\n", when,
                   (unsigned long long)cleared.reset_count, json);
            papyra_free(json);
            rc = CLI_EXIT_OK;
        }
    } else {
        cli_say(ctx, CLI_OK, "Metrics reset at %s (%s)", when, loc.path);
        cli_say(ctx, CLI_INFO, "cleared:");
        for (int i = 0; i < PAPYRA_METRIC_COUNT; i++) {
            const papyra_metric_info *info = papyra_metric_get(i);
            if (cleared.state[i] == PAPYRA_METRIC_OK)
                cli_say(ctx, CLI_INFO, "  %s: %llu", info->name,
                        (unsigned long long)cleared.value[i]);
            else
                cli_say(ctx, CLI_INFO, "  %s: n/a", info->name);
        }
        rc = CLI_EXIT_OK;
    }
    /*
     * The counters are cleared whatever happens to stdout: if the report of
     * what was cleared cannot be written there, it must not be lost.
     */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        char *text = NULL;
        if (papyra_metrics_format(&cleared, PAPYRA_FORMAT_JSON, 0, &text) == 0) {
            fprintf(stderr, "papyra: metrics reset at %s; could not print what was cleared: %s",
                    when, text);
            papyra_free(text);
        }
        rc = CLI_EXIT_FAIL;
    }
    papyra_metrics_close(m);
    cli_metrics_loc_free(&loc);
    return rc;
}

static const char *
metrics_extra_help(void)
{
    return papyra_metrics_help_text();
}

static const cli_cmd metrics_cmds[] = {
    {"persistence", "Show the store's persistence counters.",
     "Show the store's persistence counters, read from its shared metrics file\n"
     "  (\"<PATH>.metrics\" for json:, \"<dir>/.<name>.metrics\" for rotating:, unless\n"
     "  metrics= says otherwise). Nothing is created: a store that no application has\n"
     "  opened has no metrics yet (exit 1).",
     persistence_opts, run_persistence},
    {"reset", "Reset the counters to zero and print what was cleared.",
     "Reset the store's counters to zero (every counter, errors included) and print\n"
     "  exactly what was cleared. Increments made concurrently by applications are\n"
     "  never lost: each lands either in what was cleared or after the reset.",
     reset_opts, run_reset},
    {"serve", "Serve the counters of one or more stores over HTTP for Prometheus.",
     "Serve the counters of one or more stores over HTTP: GET /metrics gives the\n"
     "  Prometheus text format 0.0.4, or OpenMetrics 1.0.0 when the scraper accepts\n"
     "  application/openmetrics-text; GET /-/healthy gives OK. Each scrape reads the\n"
     "  stores' shared metrics files read-only: no store is opened, nothing is\n"
     "  written. Without --store and --metrics-dir it serves the global store.\n"
     "  Runs in the foreground until SIGINT or SIGTERM (exit 0).",
     cli_serve_opts, cli_run_serve},
    {0},
};

const cli_group cli_metrics_group = {
    .name = "metrics",
    .summary = "Inspect runtime metrics and observability counters.",
    .description = "Inspect runtime metrics and observability counters.",
    .cmds = metrics_cmds,
    .extra_help = metrics_extra_help,
};
