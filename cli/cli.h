/* SPDX-License-Identifier: MIT */
/*
 * Shared parts of the papyra command-line tool: exit codes, option parsing,
 * output helpers and store resolution. The tool uses only the public API.
 */
#ifndef PAPYRA_CLI_H
#define PAPYRA_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <papyra/papyra.h>

/* Exit codes; docs/cli.md and every --help carry the same table. */
enum {
    CLI_EXIT_OK = 0,      /* success; the store is clean */
    CLI_EXIT_FAIL = 1,    /* the operation failed, or fail_on_anomaly refused */
    CLI_EXIT_ANOMALY = 2, /* anomalies found, or remaining after recovery */
    CLI_EXIT_USAGE = 64,  /* unknown flag or command, bad value, malformed URL */
};

/* Returned by cli_parse() when --help was given and help has been printed. */
#define CLI_HELP_SHOWN (-1)

/* The embedded default store, used without --persistence, --path and the env var. */
#define CLI_DEFAULT_STORE "json:papyra-data/events.jsonl"

/* Most values of a command's repeatable option. */
#define CLI_REPEAT_MAX 16

/*
 * One option of a command. An option whose metavar ends in "..." may be
 * given up to CLI_REPEAT_MAX times (one such option per command): its values
 * are in cli_ctx.repeated.
 */
typedef struct cli_opt {
    const char *name;    /* without the leading "--" */
    const char *metavar; /* NULL for a flag */
    const char *help;
} cli_opt;

/* Global state: where the store is, and how to print. */
typedef struct cli_ctx {
    const char *persistence;              /* --persistence URL */
    const char *path;                     /* --path FILE */
    const char *metrics_file;             /* --metrics-file PATH */
    bool color;                           /* stdout is a tty and NO_COLOR is unset */
    bool progress;                        /* stderr is a tty: progress lines allowed */
    const char *repeated[CLI_REPEAT_MAX]; /* every value of the repeatable option, in order */
    size_t nrepeated;
} cli_ctx;

/* A command: name, one-line summary, description, options and handler. */
typedef struct cli_cmd {
    const char *name;
    const char *summary;
    const char *description; /* NULL: the summary */
    const cli_opt *opts;     /* terminated by a zero entry */
    int (*run)(cli_ctx *ctx, const char *const *vals);
} cli_cmd;

/* A group of commands. */
typedef struct cli_group {
    const char *name;
    const char *summary;
    const char *description;
    const cli_cmd *cmds; /* terminated by a zero entry */
    const char *(*extra_help)(void);
} cli_group;

extern const cli_group cli_metrics_group;
extern const cli_group cli_persistence_group;
extern const cli_group cli_inspect_group;
extern const cli_group cli_doctor_group;

/* The mark before a line of output. */
typedef enum cli_mark {
    CLI_INFO, /* "ℹ msg" */
    CLI_OK,   /* "✔ msg" */
    CLI_BAD,  /* "✖ msg" */
} cli_mark;

/* One line on stdout after its mark, coloured when ctx->color, as upstream does. */
void cli_say(const cli_ctx *ctx, cli_mark mark, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* One line on stderr, prefixed "papyra: ". Returns @p code. */
int cli_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * A progress line on stderr when it is a terminal, with how far store @p s
 * (may be NULL) has got; cli_progress_done() clears it.
 */
void cli_progress(const cli_ctx *ctx, papyra_store *s, const char *what);
void cli_progress_done(const cli_ctx *ctx);

/* Parses a non-negative integer or a number; false on anything else. */
bool cli_parse_size(const char *s, size_t *ret);
bool cli_parse_double(const char *s, double *ret);

/* Case-insensitive match of @p s against a NULL-terminated list; its index or -1. */
int cli_choice(const char *s, const char *const *choices);

/*
 * Formats epoch nanoseconds as ISO 8601 UTC with milliseconds (the library's
 * RFC 3339 form); "?" when the time has no such form or does not fit @p size.
 */
void cli_iso_time(int64_t ns, char *buf, size_t size);

/* The store URL: --persistence, --path, PAPYRA_PERSISTENCE, or the default. */
const char *cli_store_url(const cli_ctx *ctx);

/*
 * @p url as it may be printed, in @p buf: papyra_store_url_redact(), which
 * replaces a password in "user:password@" or a "password=" parameter by
 * "***". Returns @p buf.
 */
const char *cli_redact_url(const char *url, char *buf, size_t size);

/*
 * Opens the store (papyra_store_open_with()), with metrics=PATH from
 * --metrics-file, and creating no metrics file for a file store that does
 * not exist yet (PAPYRA_OPEN_NO_CREATE). On failure prints one line and
 * returns the exit code (64 for a malformed URL, 1 otherwise); 0 on success.
 */
int cli_open_store(const cli_ctx *ctx, papyra_store **ret);

/*
 * The decoded value of query parameter @p key of @p url, as the library
 * reads it (papyra_store_url_describe()), in *ret: NULL when absent; caller
 * frees. -1 when the URL does not parse.
 */
int cli_url_param(const char *url, const char *key, char **ret);

/* Where a store's counters live, worked out from its URL by the library. */
typedef struct cli_metrics_loc {
    papyra_url_info *info; /* what the URL says */
    const char *path;      /* the metrics file: --metrics-file, or the store's */
    int backend;           /* papyra_backend_id, or -1 before the URL is read */
    const char *data_path; /* file backends: the data file, for permission bits */
    const char *url;       /* the store, for messages (passwords redacted) */
    char shown[2048];
} cli_metrics_loc;

/*
 * The metrics file of store @p url (@p metrics_file: --metrics-file, or
 * NULL), without opening the store. On failure prints one line and returns
 * the exit code (64 for a malformed URL, 1 for a store with private
 * counters); free @p loc with cli_metrics_loc_free() in every case.
 */
int cli_locate_metrics(const char *url, const char *metrics_file, cli_metrics_loc *loc);
void cli_metrics_loc_free(cli_metrics_loc *loc);

/* Prints why papyra_metrics_open() of @p loc failed with @p rc; returns the exit code. */
int cli_metrics_open_failed(const cli_metrics_loc *loc, int rc, const papyra_error *err);

/* papyra metrics serve (cli/cmd-serve.c). */
extern const cli_opt cli_serve_opts[];
int cli_run_serve(cli_ctx *ctx, const char *const *vals);

/* Closes the store; a failing final flush is reported and turns @p rc into 1. */
int cli_close_store(papyra_store *s, int rc);

/* The backend class name upstream prints ("JsonFilePersistence"). */
const char *cli_backend_class(const char *backend);

/* Exit code for an API error: 64 for PAPYRA_EINVAL from a URL, 1 otherwise. */
int cli_exit_for(int err);

/* Recovery modes by name (case-insensitive; "rebuild" is "repair"); -1 when unknown. */
int cli_recovery_mode(const char *s);

/* Prints "✖ - TYPE: path (detail)" per anomaly. */
void cli_print_anomalies(const cli_ctx *ctx, const papyra_scan_report *r);

/*
 * The anomalies of @p r that recovery should have removed: all but
 * MISTYPED_RECORD, records upstream reads that recover keeps as they are.
 */
size_t cli_damage(const papyra_scan_report *r);

/* Says how many records recover kept as they are (MISTYPED_RECORD), if any. */
void cli_print_kept(const cli_ctx *ctx, const papyra_scan_report *r);

/* Prints "ℹ repaired PATH" and "ℹ quarantined PATH" lines. */
void cli_print_recovery(const cli_ctx *ctx, const papyra_recovery_report *r);

/*
 * Creates a directory and its parents (mkdir -p), no wider than the data
 * file of the store @p ctx names; 0 or an errno value.
 */
int cli_make_dirs(const cli_ctx *ctx, const char *path);

/*
 * The startup check shared by `persistence startup-check` and `doctor run`:
 * scan, then act on anomalies by @p mode, verifying a recovery with a second
 * scan. @p doctor selects doctor's wording.
 */
int cli_check(cli_ctx *ctx,
              const char *mode,
              const char *recovery_mode,
              const char *quarantine_dir,
              bool doctor);

/* Parses a command's options into @p vals (indexed like cmd->opts); CLI_HELP_SHOWN after --help. */
int cli_parse(const cli_group *group,
              const cli_cmd *cmd,
              int argc,
              char **argv,
              cli_ctx *ctx,
              const char **vals);

#endif /* PAPYRA_CLI_H */
