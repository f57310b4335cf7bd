/* SPDX-License-Identifier: MIT */
/*
 * papyra inspect events|audits|dead-letters|summary: read-only views of the
 * records.
 *
 * Filters (--event-type, --target) are applied before --limit, so --limit N
 * shows the newest N records that match; upstream limited first and could
 * show nothing. An empty result always says so, --reverse included.
 *
 * With a filter the records stream (papyra_store_each()) and are filtered
 * one at a time, so memory does not grow with the store: --limit 0 prints
 * each match as it comes, --limit N keeps the newest N matched lines in a
 * ring. Only --reverse --limit 0 holds every match, to print them newest
 * first.
 */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "util/fs.h"

#define DEFAULT_LIMIT 100

/* Options of the list commands; the fourth is the filter (--event-type or --target). */
enum { IN_LIMIT, IN_SINCE, IN_REVERSE, IN_FILTER };

/* What a list command was asked for. */
typedef struct list_args {
    const char *limit, *since, *event_type, *target;
    bool reverse;
} list_args;

static const cli_opt events_opts[] = {
    [IN_LIMIT] = {"limit", "N", "Show the newest N matching records (100; 0: all)."},
    [IN_SINCE] = {"since", "TS", "Only records with timestamp >= TS (epoch seconds)."},
    [IN_REVERSE] = {"reverse", NULL, "Newest first."},
    [IN_FILTER] = {"event-type", "TYPE", "Only events of this type (e.g. ActorStopped)."},
    {0},
};

static const cli_opt audits_opts[] = {
    [IN_LIMIT] = {"limit", "N", "Show the newest N records (100; 0: all)."},
    [IN_SINCE] = {"since", "TS", "Only records with timestamp >= TS (epoch seconds)."},
    [IN_REVERSE] = {"reverse", NULL, "Newest first."},
    {0},
};

static const cli_opt dead_letters_opts[] = {
    [IN_LIMIT] = {"limit", "N", "Show the newest N matching records (100; 0: all)."},
    [IN_SINCE] = {"since", "TS", "Only records with timestamp >= TS (epoch seconds)."},
    [IN_REVERSE] = {"reverse", NULL, "Newest first."},
    [IN_FILTER] = {"target", "TARGET", "Only dead letters for this target (e.g. local://2)."},
    {0},
};

/*
 * How a JSON-text field prints: a JSON string as its text, anything else as
 * compact JSON. Caller frees.
 */
static char *
display_json(const char *json)
{
    cJSON *v;
    char *out;

    if (!json)
        return strdup("null");
    v = cJSON_Parse(json);
    if (!v)
        return strdup(json);
    if (cJSON_IsString(v))
        out = strdup(v->valuestring);
    else
        out = cJSON_PrintUnformatted(v);
    cJSON_Delete(v);
    if (!out)
        return NULL;
    /* cJSON allocates with malloc by default; copy so callers can always free(). */
    return out;
}

static bool
matches(papyra_kind kind, const papyra_record *r, const list_args *a)
{
    if (kind == PAPYRA_KIND_EVENT && a->event_type)
        return r->u.event.event_type && strcmp(r->u.event.event_type, a->event_type) == 0;
    if (kind == PAPYRA_KIND_DEAD_LETTER && a->target) {
        char *t = display_json(r->u.dead_letter.target);
        bool ok = t && strcmp(t, a->target) == 0;
        free(t);
        return ok;
    }
    return true;
}

/* The line a record prints as (without the mark), or NULL when out of memory. Caller frees. */
static char *
record_line(const papyra_record *r)
{
    char *line = NULL;

    switch (r->kind) {
    case PAPYRA_KIND_EVENT: {
        char *addr = display_json(r->u.event.actor_address);
        (void)papyra__asprintf(&line, "[%.3f] %s %s", r->u.event.timestamp,
                               r->u.event.event_type ? r->u.event.event_type : "",
                               addr ? addr : "?");
        free(addr);
        break;
    }
    case PAPYRA_KIND_AUDIT:
        (void)papyra__asprintf(&line,
                               "[%.3f] total=%" PRId64 " alive=%" PRId64 " stopping=%" PRId64
                               " restarting=%" PRId64 " dead_letters=%" PRId64,
                               r->u.audit.timestamp, r->u.audit.total_actors,
                               r->u.audit.alive_actors, r->u.audit.stopping_actors,
                               r->u.audit.restarting_actors, r->u.audit.dead_letters_count);
        break;
    case PAPYRA_KIND_DEAD_LETTER: {
        char *target = display_json(r->u.dead_letter.target);
        (void)papyra__asprintf(&line, "[%.3f] target=%s type=%s payload=%s",
                               r->u.dead_letter.timestamp, target ? target : "?",
                               r->u.dead_letter.message_type ? r->u.dead_letter.message_type : "",
                               r->u.dead_letter.payload ? r->u.dead_letter.payload : "null");
        free(target);
        break;
    }
    default:
        (void)papyra__asprintf(&line, "?");
        break;
    }
    return line;
}

/* Prints one record; false when out of memory. */
static bool
print_record(const cli_ctx *ctx, const papyra_record *r)
{
    char *line = record_line(r);

    if (!line)
        return false;
    cli_say(ctx, CLI_INFO, "%s", line);
    free(line);
    return true;
}

/* A filtered listing while the records stream (papyra_store_each()). */
typedef struct stream_ctx {
    const cli_ctx *ctx;
    const list_args *a;
    papyra_kind kind;
    size_t limit; /* 0: every match */
    bool hold;    /* keep the lines (ring of limit, or every match for --reverse) */
    char **lines; /* held lines: a ring of @c limit, or a growing array */
    size_t cap;   /* slots in lines */
    size_t next;  /* ring: the slot the next line goes to */
    size_t n;     /* matches seen (and held, up to limit) */
} stream_ctx;

#define STREAM_ENOMEM 1

static int
stream_record(const papyra_record *r, void *p)
{
    stream_ctx *c = p;
    char *line;

    if (!matches(c->kind, r, c->a))
        return 0;
    if (!c->hold) {
        c->n++;
        return print_record(c->ctx, r) ? 0 : STREAM_ENOMEM;
    }
    line = record_line(r);
    if (!line)
        return STREAM_ENOMEM;
    /* A full ring: the oldest held line makes room. */
    if (c->limit > 0 && c->n >= c->limit) {
        free(c->lines[c->next]);
        c->lines[c->next] = line;
        c->next = (c->next + 1) % c->limit;
        c->n++;
        return 0;
    }
    /* Otherwise the array grows (up to --limit lines when there is one). */
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 64;
        char **nl;

        if (c->limit > 0 && nc > c->limit)
            nc = c->limit;
        nl = realloc(c->lines, nc * sizeof(*nl));
        if (!nl) {
            free(line);
            return STREAM_ENOMEM;
        }
        c->lines = nl;
        c->cap = nc;
    }
    c->lines[c->n++] = line;
    if (c->limit > 0)
        c->next = c->n % c->limit;
    return 0;
}

/* The held line @p i of the matches kept, 0 the oldest. */
static const char *
held_line(const stream_ctx *c, size_t i)
{
    size_t first = c->limit > 0 && c->n > c->limit ? c->next : 0;

    return c->lines[c->limit > 0 ? (first + i) % c->limit : i];
}

/*
 * Lists with a filter while streaming: memory holds at most --limit lines
 * (every match only for --reverse --limit 0), however large the store.
 */
static int
run_stream(cli_ctx *ctx,
           papyra_store *s,
           const list_args *a,
           papyra_kind kind,
           const papyra_list_options *lo,
           size_t limit,
           const char *empty)
{
    stream_ctx c = {.ctx = ctx, .a = a, .kind = kind, .limit = limit};
    size_t kept, i;
    int rc;

    c.hold = limit > 0 || a->reverse;
    rc = papyra_store_each(s, kind, lo, stream_record, &c);
    kept = c.limit > 0 && c.n > c.limit ? c.limit : c.n;
    if (rc == 0 && c.hold) {
        for (i = 0; i < kept; i++)
            cli_say(ctx, CLI_INFO, "%s", held_line(&c, a->reverse ? kept - 1 - i : i));
    }
    if (rc == 0 && c.n == 0)
        cli_say(ctx, CLI_INFO, "%s (none match the filters)", empty);
    for (i = 0; c.lines && i < kept; i++)
        free(c.lines[i]);
    free(c.lines);
    if (rc == STREAM_ENOMEM)
        return cli_close_store(s, cli_error(CLI_EXIT_FAIL, "out of memory"));
    if (rc < 0)
        return cli_close_store(s, cli_error(CLI_EXIT_FAIL, "cannot read the %s records: %s",
                                            papyra_kind_name(kind), papyra_store_errmsg(s)));
    return cli_close_store(s, CLI_EXIT_OK);
}

static int
run_list(cli_ctx *ctx, const list_args *a, papyra_kind kind, const char *empty)
{
    papyra_list_options lo = {0};
    papyra_record_list *l = NULL;
    size_t limit = DEFAULT_LIMIT;
    bool filtered = a->event_type || a->target;
    size_t *keep = NULL;
    size_t n = 0;
    papyra_store *s = NULL;
    int rc;

    if (a->limit && !cli_parse_size(a->limit, &limit))
        return cli_error(CLI_EXIT_USAGE, "bad --limit '%s': give a whole number >= 0", a->limit);
    if (a->since) {
        if (!cli_parse_double(a->since, &lo.since))
            return cli_error(CLI_EXIT_USAGE, "bad --since '%s': give epoch seconds", a->since);
        lo.has_since = true;
    }
    /* Without a filter the store applies the limit (and reads only the newest records). */
    lo.limit = filtered ? 0 : limit;
    rc = cli_open_store(ctx, &s);
    if (rc)
        return rc;
    if (filtered)
        return run_stream(ctx, s, a, kind, &lo, limit, empty);
    rc = papyra_store_list(s, kind, &lo, &l);
    if (rc < 0)
        return cli_close_store(s, cli_error(CLI_EXIT_FAIL, "cannot read the %s records: %s",
                                            papyra_kind_name(kind), papyra_store_errmsg(s)));
    keep = calloc(l->count ? l->count : 1, sizeof(*keep));
    if (!keep) {
        papyra_record_list_free(l);
        return cli_close_store(s, cli_error(CLI_EXIT_FAIL, "out of memory"));
    }
    for (size_t i = 0; i < l->count; i++)
        if (matches(kind, &l->records[i], a))
            keep[n++] = i;
    /* Newest `limit` of the matches, oldest to newest. */
    size_t first = limit > 0 && n > limit ? n - limit : 0;
    if (first == n) {
        if (filtered || lo.has_since)
            cli_say(ctx, CLI_INFO, "%s (none match the filters)", empty);
        else
            cli_say(ctx, CLI_INFO, "%s", empty);
    } else if (a->reverse) {
        for (size_t i = n; i > first; i--)
            print_record(ctx, &l->records[keep[i - 1]]);
    } else {
        for (size_t i = first; i < n; i++)
            print_record(ctx, &l->records[keep[i]]);
    }
    free(keep);
    papyra_record_list_free(l);
    return cli_close_store(s, CLI_EXIT_OK);
}

static int
run_events(cli_ctx *ctx, const char *const *vals)
{
    list_args a = {vals[IN_LIMIT], vals[IN_SINCE], vals[IN_FILTER], NULL, vals[IN_REVERSE]};

    return run_list(ctx, &a, PAPYRA_KIND_EVENT, "No events recorded.");
}

static int
run_audits(cli_ctx *ctx, const char *const *vals)
{
    list_args a = {vals[IN_LIMIT], vals[IN_SINCE], NULL, NULL, vals[IN_REVERSE]};

    return run_list(ctx, &a, PAPYRA_KIND_AUDIT, "No audit reports recorded.");
}

static int
run_dead_letters(cli_ctx *ctx, const char *const *vals)
{
    list_args a = {vals[IN_LIMIT], vals[IN_SINCE], NULL, vals[IN_FILTER], vals[IN_REVERSE]};

    return run_list(ctx, &a, PAPYRA_KIND_DEAD_LETTER, "No dead letters recorded.");
}

static const cli_opt no_opts[] = {{0}};

static int
run_summary(cli_ctx *ctx, const char *const *vals)
{
    papyra_list_options lo = {.limit = 1};
    papyra_record_list *l = NULL;
    papyra_store *s = NULL;
    int rc = cli_open_store(ctx, &s);

    (void)vals;
    if (rc)
        return rc;
    rc = papyra_store_list(s, PAPYRA_KIND_AUDIT, &lo, &l);
    if (rc < 0)
        return cli_close_store(s, cli_error(CLI_EXIT_FAIL, "cannot read the audit records: %s",
                                            papyra_store_errmsg(s)));
    if (l->count == 0) {
        cli_say(ctx, CLI_INFO, "No audit data available.");
    } else {
        const papyra_audit *a = &l->records[l->count - 1].u.audit;
        cli_say(ctx, CLI_INFO,
                "Actors: total=%" PRId64 " alive=%" PRId64 " stopping=%" PRId64
                " restarting=%" PRId64,
                a->total_actors, a->alive_actors, a->stopping_actors, a->restarting_actors);
        cli_say(ctx, CLI_INFO, "Dead letters: %" PRId64, a->dead_letters_count);
    }
    papyra_record_list_free(l);
    return cli_close_store(s, CLI_EXIT_OK);
}

static const cli_cmd inspect_cmds[] = {
    {"events", "Show lifecycle events.", NULL, events_opts, run_events},
    {"audits", "Show audit snapshots.", NULL, audits_opts, run_audits},
    {"dead-letters", "Show dead letters.", NULL, dead_letters_opts, run_dead_letters},
    {"summary", "Show the newest audit: actors and dead letters.", NULL, no_opts, run_summary},
    {0},
};

const cli_group cli_inspect_group = {
    .name = "inspect",
    .summary = "Inspect persisted events, audits and dead letters (read-only).",
    .description = "Inspect persisted events, audits and dead letters (read-only).",
    .cmds = inspect_cmds,
};
