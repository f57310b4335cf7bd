/* SPDX-License-Identifier: MIT */
/*
 * papyra: the command-line tool of libpapyra.
 *
 *   papyra [--persistence URL | --path FILE] [--metrics-file PATH] <group> <command> [options]
 *
 * This file holds the entry point, option parsing, help and the helpers the
 * command groups share. Everything goes through the public API.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "util/util.h"

static const cli_group *const groups[] = {
    &cli_inspect_group, &cli_persistence_group, &cli_metrics_group, &cli_doctor_group, NULL,
};

static const char exit_code_help[] =
    "Exit codes:\n"
    "  0   success; the store is clean\n"
    "  1   the operation failed, or fail_on_anomaly refused the store\n"
    "  2   anomalies found, or remaining after recovery\n"
    "  64  usage error: unknown flag or command, bad value, malformed URL\n";

static const char global_help[] =
    "Global options (before the group, or among a command's options):\n"
    "  --persistence URL    the store (memory:, json:PATH, rotating:PATH, redis://...)\n"
    "  --path FILE          shorthand for --persistence json:FILE\n"
    "  --metrics-file PATH  where the store's shared counters live\n"
    "Without them the store is $PAPYRA_PERSISTENCE, else " CLI_DEFAULT_STORE
    "\n(relative to the current directory).\n";

/* Output. */

void
cli_say(const cli_ctx *ctx, cli_mark mark, const char *fmt, ...)
{
    static const struct {
        const char *symbol;
        const char *color;
    } marks[] = {
        [CLI_INFO] = {"\u2139", "34"},
        [CLI_OK] = {"\u2714", "32"},
        [CLI_BAD] = {"\u2716", "31"},
    };
    va_list ap;

    if (ctx->color)
        printf("\033[%sm%s\033[0m ", marks[mark].color, marks[mark].symbol);
    else
        printf("%s ", marks[mark].symbol);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

int
cli_error(int code, const char *fmt, ...)
{
    va_list ap;

    /* Whatever went to stdout so far is complete lines; flush it first. */
    fflush(stdout);
    fputs("papyra: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

/*
 * The progress line: shown only on a terminal, and only once an operation
 * has run longer than a moment (300 ms), then refreshed twice a second with
 * how far the store's step has got (papyra_store_set_progress()) and the
 * elapsed time, until it ends. One operation at a time.
 */
static struct {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    const char *what;
    bool running, shown;
    papyra_store *store;
    papyra_progress last; /* the store's last report (step and unit are static) */
    bool have_last;
} progress = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void
on_store_progress(const papyra_progress *p, void *userdata)
{
    (void)userdata;
    pthread_mutex_lock(&progress.mu);
    progress.last = *p;
    progress.have_last = true;
    pthread_mutex_unlock(&progress.mu);
}

/* "12.5 MiB" and the like. */
static void
human_bytes(uint64_t n, char *buf, size_t size)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    int u = 0;

    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, size, "%" PRIu64 " B", n);
    else
        snprintf(buf, size, "%.1f %s", v, units[u]);
}

/* "scan: 1.2 GiB of 4.0 GiB (30%), " from the last report, or "" (called locked). */
static void
describe_progress(char *buf, size_t size)
{
    const papyra_progress *p = &progress.last;
    char done[32], total[32];

    buf[0] = '\0';
    if (!progress.have_last || p->total == 0)
        return;
    if (strcmp(p->unit, "bytes") == 0) {
        human_bytes(p->done, done, sizeof(done));
        human_bytes(p->total, total, sizeof(total));
    } else {
        snprintf(done, sizeof(done), "%" PRIu64, p->done);
        snprintf(total, sizeof(total), "%" PRIu64 " %s", p->total, p->unit);
    }
    snprintf(buf, size, "%s: %s of %s (%d%%), ", p->step, done, total,
             (int)((double)p->done * 100.0 / (double)p->total));
}

static void *
progress_main(void *arg)
{
    struct timespec start, deadline;
    long wait_ms = 300;
    char how[160];

    (void)arg;
    clock_gettime(CLOCK_REALTIME, &start);
    pthread_mutex_lock(&progress.mu);
    while (progress.running) {
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_nsec += wait_ms * 1000000L;
        deadline.tv_sec += deadline.tv_nsec / 1000000000L;
        deadline.tv_nsec %= 1000000000L;
        if (pthread_cond_timedwait(&progress.cv, &progress.mu, &deadline) == 0 || !progress.running)
            continue;
        clock_gettime(CLOCK_REALTIME, &deadline);
        describe_progress(how, sizeof(how));
        fprintf(stderr, "\r\033[K%s ... %s%.1fs", progress.what, how,
                (double)(deadline.tv_sec - start.tv_sec) +
                    (double)(deadline.tv_nsec - start.tv_nsec) / 1e9);
        fflush(stderr);
        progress.shown = true;
        wait_ms = 500;
    }
    pthread_mutex_unlock(&progress.mu);
    return NULL;
}

void
cli_progress(const cli_ctx *ctx, papyra_store *s, const char *what)
{
    if (!ctx->progress || progress.running)
        return;
    progress.what = what;
    progress.shown = false;
    progress.have_last = false;
    progress.store = s;
    if (s)
        papyra_store_set_progress(s, on_store_progress, NULL);
    progress.running = true;
    if (pthread_create(&progress.thread, NULL, progress_main, NULL) != 0)
        progress.running = false;
}

void
cli_progress_done(const cli_ctx *ctx)
{
    if (!ctx->progress || !progress.running)
        return;
    pthread_mutex_lock(&progress.mu);
    progress.running = false;
    pthread_cond_signal(&progress.cv);
    pthread_mutex_unlock(&progress.mu);
    pthread_join(progress.thread, NULL);
    if (progress.store)
        papyra_store_set_progress(progress.store, NULL, NULL);
    progress.store = NULL;
    if (progress.shown) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
}

/* Values. */

bool
cli_parse_size(const char *s, size_t *ret)
{
    char *end;
    unsigned long long v;

    if (!s || *s < '0' || *s > '9')
        return false;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end || v > SIZE_MAX)
        return false;
    *ret = (size_t)v;
    return true;
}

bool
cli_parse_double(const char *s, double *ret)
{
    char *end;
    double v;

    if (!s || !*s)
        return false;
    errno = 0;
    v = strtod(s, &end);
    if (errno || *end || !isfinite(v))
        return false;
    *ret = v;
    return true;
}

int
cli_choice(const char *s, const char *const *choices)
{
    for (int i = 0; choices[i]; i++)
        if (strcasecmp(s, choices[i]) == 0)
            return i;
    return -1;
}

void
cli_iso_time(int64_t ns, char *buf, size_t size)
{
    if (papyra__format_rfc3339(ns, buf, size) < 0)
        snprintf(buf, size, "?");
}

/* Stores. */

int
cli_url_param(const char *url, const char *key, char **ret)
{
    papyra_url_info *info = NULL;
    const char *v;

    *ret = NULL;
    if (papyra_store_url_describe(url, &info, NULL) < 0)
        return -1;
    v = papyra_url_info_param(info, key);
    if (v && !(*ret = strdup(v))) {
        papyra_url_info_free(info);
        return -1;
    }
    papyra_url_info_free(info);
    return 0;
}

const char *
cli_redact_url(const char *url, char *buf, size_t size)
{
    char *shown = NULL;

    if (!url || size == 0)
        return "";
    if (papyra_store_url_redact(url, &shown) < 0) {
        snprintf(buf, size, "(store URL not shown: out of memory)");
        return buf;
    }
    snprintf(buf, size, "%s", shown);
    papyra_free(shown);
    return buf;
}

const char *
cli_store_url(const cli_ctx *ctx)
{
    static char *from_path;
    const char *env;

    if (ctx->persistence)
        return ctx->persistence;
    if (ctx->path) {
        if (!from_path) {
            /* As upstream, --path is made absolute, so printed paths are too. */
            char cwd[4096];
            char *abs = NULL;
            if (ctx->path[0] != '/' && getcwd(cwd, sizeof(cwd))) {
                size_t an = strlen(cwd) + strlen(ctx->path) + 2;
                abs = malloc(an);
                if (!abs)
                    return NULL;
                snprintf(abs, an, "%s/%s", cwd, ctx->path);
            }
            const char *file = abs ? abs : ctx->path;
            if (papyra_store_url_for_path(PAPYRA_BACKEND_JSON, file, &from_path) < 0)
                from_path = NULL;
            free(abs);
        }
        return from_path;
    }
    env = getenv("PAPYRA_PERSISTENCE");
    if (env && *env)
        return env;
    return CLI_DEFAULT_STORE;
}

int
cli_exit_for(int err)
{
    return err == PAPYRA_EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
}

int
cli_open_store(const cli_ctx *ctx, papyra_store **ret)
{
    /*
     * A read of a mistyped file store must leave nothing behind, so a store
     * that does not exist yet is opened without creating its metrics file.
     */
    papyra_open_options opts = {.flags = PAPYRA_OPEN_NO_CREATE, .metrics_path = ctx->metrics_file};
    const char *url = cli_store_url(ctx);
    papyra_error err = {0};
    int rc;

    if (!url)
        return cli_error(CLI_EXIT_FAIL, "out of memory");
    rc = papyra_store_open_with(ret, url, &opts, &err);
    if (rc < 0) {
        int code = cli_exit_for(rc);
        char shown[2048];
        cli_error(code, "cannot open store %s: %s", cli_redact_url(url, shown, sizeof(shown)),
                  err.message[0] ? err.message : papyra_strerror(rc));
        return code;
    }
    /* A metrics file that cannot be used is reported by cli_close_store(). */
    return 0;
}

int
cli_close_store(papyra_store *s, int rc)
{
    char msg[600];
    int err;

    if (!s)
        return rc;
    /*
     * A store whose metrics file cannot be used still works, with private
     * counters, but what this command counted is then lost to every other
     * process: say so on stderr after a command that otherwise went well (a
     * failed one keeps its single line).
     */
    if (papyra_store_metrics_warning(s) && (rc == CLI_EXIT_OK || rc == CLI_EXIT_ANOMALY))
        fprintf(stderr, "papyra: warning: %s\n", papyra_store_metrics_warning(s));
    snprintf(msg, sizeof(msg), "%s", papyra_store_errmsg(s));
    err = papyra_store_close(s);
    if (err < 0) {
        cli_error(0, "closing the store failed: %s", msg[0] ? msg : papyra_strerror(err));
        return rc == CLI_EXIT_OK ? CLI_EXIT_FAIL : rc;
    }
    return rc;
}

const char *
cli_backend_class(const char *backend)
{
    if (!backend)
        return "?";
    if (strcmp(backend, "memory") == 0)
        return "InMemoryPersistence";
    if (strcmp(backend, "json") == 0)
        return "JsonFilePersistence";
    if (strcmp(backend, "rotating") == 0)
        return "RotatingFilePersistence";
    if (strcmp(backend, "redis") == 0)
        return "RedisStreamsPersistence";
    return backend;
}

/* Help. */

static void
print_opts(const cli_opt *opts)
{
    for (const cli_opt *o = opts; o && o->name; o++) {
        char left[64];
        snprintf(left, sizeof(left), "--%s%s%s", o->name, o->metavar ? " " : "",
                 o->metavar ? o->metavar : "");
        printf("  %-24s %s\n", left, o->help);
    }
    printf("  %-24s %s\n", "--help", "Show this message and exit.");
}

static void
cmd_help(const cli_group *g, const cli_cmd *c)
{
    printf("Usage: papyra %s %s [OPTIONS]\n\n  %s\n\nOptions:\n", g->name, c->name,
           c->description ? c->description : c->summary);
    print_opts(c->opts);
    printf("\n%s\n%s", global_help, exit_code_help);
}

static void
group_help(const cli_group *g)
{
    printf("Usage: papyra %s <command> [OPTIONS]\n\n  %s\n\nCommands:\n", g->name, g->description);
    for (const cli_cmd *c = g->cmds; c->name; c++)
        printf("  %-16s %s\n", c->name, c->summary);
    printf("\nRun 'papyra %s <command> --help' for a command's options.\n\n%s", g->name,
           exit_code_help);
    if (g->extra_help)
        printf("\n%s", g->extra_help());
}

static void
main_help(void)
{
    printf("Usage: papyra [GLOBAL OPTIONS] <group> <command> [OPTIONS]\n\n"
           "  Papyra persistence tooling: inspect records, check and repair storage,\n"
           "  and read or reset the built-in persistence metrics.\n\nGroups:\n");
    for (int i = 0; groups[i]; i++)
        printf("  %-16s %s\n", groups[i]->name, groups[i]->summary);
    printf("\n%s\n"
           "Other options:\n"
           "  --version            print the version and exit\n"
           "  --help               show this message and exit\n\n%s"
           "\nSee papyra(1) and papyra-metrics(7).\n",
           global_help, exit_code_help);
}

/* Parsing. */

/* Whether option @p o may be given several times (its metavar ends in "..."). */
static bool
opt_repeats(const cli_opt *o)
{
    size_t n = o->metavar ? strlen(o->metavar) : 0;
    return n > 3 && strcmp(o->metavar + n - 3, "...") == 0;
}

/* Matches "--name" or "--name=value"; sets *inline_val to the value part. */
static bool
opt_matches(const char *arg, const char *name, const char **inline_val)
{
    size_t n = strlen(name);

    if (strncmp(arg, "--", 2) != 0 || strncmp(arg + 2, name, n) != 0)
        return false;
    if (arg[2 + n] == '\0') {
        *inline_val = NULL;
        return true;
    }
    if (arg[2 + n] == '=') {
        *inline_val = arg + 3 + n;
        return true;
    }
    return false;
}

/* Takes the value of an option from "=value" or the next argument. */
static int
opt_value(const char *where,
          const char *name,
          const char *inline_val,
          int argc,
          char **argv,
          int *i,
          const char **ret)
{
    if (inline_val) {
        *ret = inline_val;
        return 0;
    }
    if (*i + 1 >= argc)
        return cli_error(CLI_EXIT_USAGE, "option --%s of '%s' needs a value", name, where);
    *ret = argv[++*i];
    return 0;
}

/* Global options; returns 1 when @p argv[*i] was one, 0 when not, or an exit code < 0. */
static int
parse_global(const char *where, int argc, char **argv, int *i, cli_ctx *ctx, int *rc)
{
    static const char *const names[] = {"persistence", "path", "metrics-file"};
    const char **slots[] = {&ctx->persistence, &ctx->path, &ctx->metrics_file};
    const char *inline_val;

    for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
        if (opt_matches(argv[*i], names[k], &inline_val)) {
            *rc = opt_value(where, names[k], inline_val, argc, argv, i, slots[k]);
            if (*rc == 0 && !**slots[k])
                *rc = cli_error(CLI_EXIT_USAGE, "option --%s needs a non-empty value", names[k]);
            return 1;
        }
    }
    return 0;
}

static int
check_store_choice(const cli_ctx *ctx)
{
    if (ctx->persistence && ctx->path)
        return cli_error(CLI_EXIT_USAGE, "give either --persistence or --path, not both");
    return 0;
}

int
cli_parse(const cli_group *group,
          const cli_cmd *cmd,
          int argc,
          char **argv,
          cli_ctx *ctx,
          const char **vals)
{
    char where[64];

    snprintf(where, sizeof(where), "%s %s", group->name, cmd->name);
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        const char *inline_val;
        bool found = false;
        int rc = 0;

        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            cmd_help(group, cmd);
            return CLI_HELP_SHOWN;
        }
        if (parse_global(where, argc, argv, &i, ctx, &rc)) {
            if (rc)
                return rc;
            continue;
        }
        for (int k = 0; cmd->opts && cmd->opts[k].name; k++) {
            const cli_opt *o = &cmd->opts[k];
            if (!opt_matches(arg, o->name, &inline_val))
                continue;
            found = true;
            if (o->metavar) {
                rc = opt_value(where, o->name, inline_val, argc, argv, &i, &vals[k]);
                if (rc)
                    return rc;
                if (opt_repeats(o)) {
                    if (ctx->nrepeated == CLI_REPEAT_MAX)
                        return cli_error(CLI_EXIT_USAGE, "--%s given more than %d times", o->name,
                                         CLI_REPEAT_MAX);
                    ctx->repeated[ctx->nrepeated++] = vals[k];
                }
            } else if (inline_val) {
                return cli_error(CLI_EXIT_USAGE, "option --%s of '%s' takes no value", o->name,
                                 where);
            } else {
                vals[k] = "";
            }
            break;
        }
        if (!found) {
            if (arg[0] == '-')
                return cli_error(CLI_EXIT_USAGE,
                                 "unknown option '%s' for '%s' (see 'papyra %s --help')", arg,
                                 where, where);
            return cli_error(CLI_EXIT_USAGE, "unexpected argument '%s' for '%s'", arg, where);
        }
    }
    return check_store_choice(ctx);
}

static int
run_group(const cli_group *g, int argc, char **argv, cli_ctx *ctx)
{
    const char *vals[32] = {0};
    const cli_cmd *cmd = NULL;
    int rc;

    if (argc == 0 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
        group_help(g);
        return CLI_EXIT_OK;
    }
    for (const cli_cmd *c = g->cmds; c->name; c++)
        if (strcmp(c->name, argv[0]) == 0)
            cmd = c;
    if (!cmd) {
        if (argv[0][0] == '-')
            return cli_error(CLI_EXIT_USAGE,
                             "unknown option '%s' for '%s'; a command must come first (see "
                             "'papyra %s --help')",
                             argv[0], g->name, g->name);
        return cli_error(CLI_EXIT_USAGE, "unknown command '%s %s' (see 'papyra %s --help')",
                         g->name, argv[0], g->name);
    }
    rc = cli_parse(g, cmd, argc - 1, argv + 1, ctx, vals);
    if (rc == CLI_HELP_SHOWN)
        return CLI_EXIT_OK;
    if (rc)
        return rc;
    return cmd->run(ctx, vals);
}

static int
run(int argc, char **argv)
{
    cli_ctx ctx = {0};
    const char *no_color = getenv("NO_COLOR");
    int i;
    int rc = 0;

    ctx.color = isatty(STDOUT_FILENO) && !(no_color && *no_color);
    ctx.progress = isatty(STDERR_FILENO);

    for (i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--version") == 0) {
            printf("papyra %s (libpapyra %s)\n", PAPYRA_VERSION_STRING, papyra_version());
            return CLI_EXIT_OK;
        }
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            main_help();
            return CLI_EXIT_OK;
        }
        if (parse_global("papyra", argc, argv, &i, &ctx, &rc)) {
            if (rc)
                return rc;
            continue;
        }
        if (arg[0] == '-')
            return cli_error(CLI_EXIT_USAGE, "unknown option '%s' (see 'papyra --help')", arg);
        break;
    }
    if (i >= argc) {
        main_help();
        return CLI_EXIT_OK;
    }
    for (int g = 0; groups[g]; g++) {
        if (strcmp(groups[g]->name, argv[i]) == 0) {
            return run_group(groups[g], argc - i - 1, argv + i + 1, &ctx);
        }
    }
    return cli_error(CLI_EXIT_USAGE, "unknown command group '%s' (see 'papyra --help')", argv[i]);
}

int
main(int argc, char **argv)
{
    int rc = run(argc, argv);

    /* Output that could not be written (a full disk, a closed pipe) is a failure. */
    if ((fflush(stdout) != 0 || ferror(stdout)) && rc == CLI_EXIT_OK)
        rc = cli_error(CLI_EXIT_FAIL, "cannot write the output: %s", strerror(errno));
    return rc;
}
