/* SPDX-License-Identifier: MIT */
/*
 * The serialisers of a snapshot: the CLI table, JSON (flat and detailed,
 * compact and pretty), Prometheus 0.0.4 and OpenMetrics 1.0 text.
 *
 * Everything they say about a counter comes from the generated tables
 * (papyra__metric_info[], papyra__backends[]); this file holds only the
 * layout. The outputs are pinned byte for byte by tests/fixtures/.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <papyra/metrics.h>

#include "json/json.h"
#include "metrics/metrics-private.h"
#include "metrics/snapshot.h"
#include "util/buf.h"
#include "util/util.h"

/* The prefix of every Prometheus and OpenMetrics family. */
#define FAMILY "papyra_persistence_"

static bool
counter_known(const papyra_metrics_snapshot *s, int i)
{
    return s->state[i] == PAPYRA_METRIC_OK;
}

static uint64_t
counter_value(const papyra_metrics_snapshot *s, int i, unsigned flags)
{
    return (flags & PAPYRA_FORMAT_TOTALS) ? s->total[i] : s->value[i];
}

static const char *
counter_absent_text(const papyra_metrics_snapshot *s, int i)
{
    return s->state[i] == PAPYRA_METRIC_UNSUPPORTED ? "n/a" : "absent";
}

/* Writes @p v in decimal into @p text (at least 21 bytes); returns its length. */
static size_t
u64_text(uint64_t v, char *text)
{
    char rev[20];
    size_t n = 0;

    do {
        rev[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        text[i] = rev[n - 1 - i];
    text[n] = '\0';
    return n;
}

static int
put_u64(papyra_buf *b, uint64_t v)
{
    char text[24];

    return papyra__buf_append(b, text, u64_text(v, text));
}

/* Display width of UTF-8 text: one column per code point. */
static size_t
text_width(const char *text)
{
    size_t w = 0;
    for (; *text; text++)
        if (((unsigned char)*text & 0xc0) != 0x80)
            w++;
    return w;
}

static size_t
max_size(size_t a, size_t b)
{
    return a > b ? a : b;
}

static int
pad(papyra_buf *b, size_t n)
{
    static const char spaces[] = "                                ";
    int r = 0;

    for (size_t k; r == 0 && n > 0; n -= k) {
        k = n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1;
        r = papyra__buf_append(b, spaces, k);
    }
    return r;
}

/*
 * Appends @p text with each of the characters in @p special replaced by its
 * escape: escapes[i] for special[i]. Runs without one go out in one piece.
 */
static int
put_escaped(papyra_buf *b, const char *text, const char *special, const char *const *escapes)
{
    int r = 0;

    while (r == 0 && *text) {
        size_t run = strcspn(text, special);
        r = papyra__buf_append(b, text, run);
        text += run;
        if (r == 0 && *text) {
            r = papyra__buf_puts(b, escapes[strchr(special, *text) - special]);
            text++;
        }
    }
    return r;
}

static int
table_rule(papyra_buf *b, const char *const parts[4], const size_t *widths, size_t ncols)
{
    size_t len = strlen(parts[1]);
    int r = papyra__buf_puts(b, parts[0]);
    for (size_t c = 0; r == 0 && c < ncols; c++) {
        for (size_t i = 0; r == 0 && i < widths[c] + 2; i++)
            r = papyra__buf_append(b, parts[1], len);
        if (r == 0)
            r = papyra__buf_puts(b, c + 1 < ncols ? parts[2] : parts[3]);
    }
    return r < 0 ? r : papyra__buf_putc(b, '\n');
}

static int
table_row(papyra_buf *b,
          const char *bar,
          const char *const *cells,
          const size_t *widths,
          size_t ncols,
          const char *const *colors)
{
    int r = 0;
    for (size_t c = 0; r == 0 && c < ncols; c++) {
        size_t w = text_width(cells[c]);
        bool right = c == 1;
        r = papyra__buf_puts(b, bar);
        if (r == 0)
            r = papyra__buf_putc(b, ' ');
        if (r == 0 && right)
            r = pad(b, widths[c] - w);
        if (r == 0 && colors && colors[c])
            r = papyra__buf_puts(b, colors[c]);
        if (r == 0)
            r = papyra__buf_puts(b, cells[c]);
        if (r == 0 && colors && colors[c])
            r = papyra__buf_puts(b, "\033[0m");
        if (r == 0 && !right)
            r = pad(b, widths[c] - w);
        if (r == 0)
            r = papyra__buf_putc(b, ' ');
    }
    if (r == 0)
        r = papyra__buf_puts(b, bar);
    return r == 0 ? papyra__buf_putc(b, '\n') : r;
}

/* The table of the first @p n counters; column widths fit the widest cell. */
static int
format_table(const papyra_metrics_snapshot *s, int n, unsigned flags, papyra_buf *b)
{
    static const char *const heavy_top[4] = {"┏", "━", "┳", "┓"};
    static const char *const heavy_mid[4] = {"┡", "━", "╇", "┩"};
    static const char *const light_bottom[4] = {"└", "─", "┴", "┘"};
    static const char *const ascii_rule[4] = {"+", "-", "+", "+"};
    static const char *const head[4] = {"Counter", "Value", "Category", "Counts"};
    bool ascii = flags & PAPYRA_FORMAT_ASCII;
    size_t ncols = (flags & PAPYRA_FORMAT_WIDE) ? 4 : 3;
    size_t widths[4];
    char values[PAPYRA_METRIC_COUNT][24];
    int r;

    for (size_t c = 0; c < 4; c++)
        widths[c] = strlen(head[c]);
    for (int i = 0; i < n; i++) {
        const papyra_metric_info *info = &papyra__metric_info[i];
        if (counter_known(s, i))
            u64_text(counter_value(s, i, flags), values[i]);
        else
            snprintf(values[i], sizeof(values[i]), "%s", counter_absent_text(s, i));
        widths[0] = max_size(widths[0], text_width(info->name));
        widths[1] = max_size(widths[1], strlen(values[i]));
        widths[2] = max_size(widths[2], text_width(info->category_name));
        widths[3] = max_size(widths[3], text_width(info->help));
    }

    r = papyra__buf_puts(b, "Persistence Metrics\n");
    if (r == 0)
        r = table_rule(b, ascii ? ascii_rule : heavy_top, widths, ncols);
    if (r == 0)
        r = table_row(b, ascii ? "|" : "┃", head, widths, ncols, NULL);
    if (r == 0)
        r = table_rule(b, ascii ? ascii_rule : heavy_mid, widths, ncols);
    for (int i = 0; r == 0 && i < n; i++) {
        const papyra_metric_info *info = &papyra__metric_info[i];
        const char *cells[4] = {info->name, values[i], info->category_name, info->help};
        const char *colors[4] = {NULL, NULL, NULL, NULL};
        if (flags & PAPYRA_FORMAT_COLOR) {
            if (!counter_known(s, i))
                colors[1] = "\033[2m";
            else if (info->alert && counter_value(s, i, flags) > 0)
                colors[1] = "\033[1;31m";
        }
        r = table_row(b, ascii ? "|" : "│", cells, widths, ncols, colors);
    }
    if (r == 0)
        r = table_rule(b, ascii ? ascii_rule : light_bottom, widths, ncols);
    return r;
}

/*
 * A streaming JSON object writer. Compact output has no whitespace at all;
 * pretty output is laid out as Python's json.dumps(indent=2) lays it out
 * (upstream's format): each member on its own line, indented by two spaces
 * per level, ": " after keys, and an empty object as "{}". Strings are
 * escaped by the project's one JSON writer (json/json.h), as json.dumps()
 * with ensure_ascii=False escapes them. The first error sticks: every call
 * after it does nothing, and jw.r reports it.
 */
typedef struct jw {
    papyra_buf *b;
    bool pretty;
    bool first; /* the innermost open object has no member yet */
    int depth;
    int r;
} jw;

static void
jw_put(jw *w, const char *text)
{
    if (w->r == 0)
        w->r = papyra__buf_puts(w->b, text);
}

static void
jw_newline(jw *w)
{
    if (w->r == 0)
        w->r = papyra__buf_putc(w->b, '\n');
    if (w->r == 0)
        w->r = pad(w->b, 2 * (size_t)w->depth);
}

static void
jw_begin(jw *w)
{
    jw_put(w, "{");
    w->depth++;
    w->first = true;
}

static void
jw_end(jw *w)
{
    w->depth--;
    if (w->pretty && !w->first)
        jw_newline(w);
    jw_put(w, "}");
    w->first = false;
}

static void
jw_string(jw *w, const char *s)
{
    if (w->r == 0)
        w->r = papyra__json_write_string(s, strlen(s), 0, w->b);
}

/* Starts the next member of the innermost object: separator, layout and key. */
static void
jw_key(jw *w, const char *key)
{
    if (!w->first)
        jw_put(w, ",");
    if (w->pretty)
        jw_newline(w);
    jw_string(w, key);
    jw_put(w, w->pretty ? ": " : ":");
    w->first = false;
}

/* Counters go out as raw decimal text, exact over the whole 64-bit range. */
static void
jw_u64(jw *w, uint64_t v)
{
    if (w->r == 0)
        w->r = put_u64(w->b, v);
}

/* A counter's value, or null when the snapshot does not know it. */
static void
jw_u64_or_null(jw *w, bool known, uint64_t v)
{
    if (known)
        jw_u64(w, v);
    else
        jw_put(w, "null");
}

static void
jw_bool(jw *w, bool v)
{
    jw_put(w, v ? "true" : "false");
}

/* A time as RFC 3339 text, or null for 0 (never). */
static void
jw_time(jw *w, int64_t ns)
{
    char text[48];

    if (ns == 0) {
        jw_put(w, "null");
    } else if (w->r == 0 && papyra__format_rfc3339(ns, text, sizeof(text)) < 0) {
        w->r = PAPYRA_EINVAL;
    } else {
        jw_string(w, text);
    }
}

/* The flat object: counter name -> value, or null when it is not counted. */
static void
json_flat(jw *w, const papyra_metrics_snapshot *s, int n, unsigned flags)
{
    jw_begin(w);
    for (int i = 0; i < n; i++) {
        jw_key(w, papyra__metric_info[i].name);
        jw_u64_or_null(w, counter_known(s, i), counter_value(s, i, flags));
    }
    jw_end(w);
}

static void
json_counter_detail(jw *w, const papyra_metrics_snapshot *s, int i)
{
    const papyra_metric_info *info = &papyra__metric_info[i];
    bool known = counter_known(s, i);

    jw_begin(w);
    jw_key(w, "value");
    jw_u64_or_null(w, known, s->value[i]);
    jw_key(w, "total");
    jw_u64_or_null(w, known, s->total[i]);
    jw_key(w, "supported");
    jw_bool(w, s->state[i] != PAPYRA_METRIC_UNSUPPORTED);
    jw_key(w, "type");
    jw_string(w, "counter");
    jw_key(w, "unit");
    jw_string(w, info->unit);
    jw_key(w, "category");
    jw_string(w, info->category);
    jw_key(w, "alert");
    jw_bool(w, info->alert);
    jw_key(w, "help");
    jw_string(w, info->help);
    jw_end(w);
}

/* The detailed object: the snapshot's metadata, then every counter's detail. */
static void
json_detail(jw *w, const papyra_metrics_snapshot *s, int n)
{
    char hash[24];

    snprintf(hash, sizeof(hash), "%016" PRIx64, s->spec_hash);
    jw_begin(w);
    jw_key(w, "schema_version");
    jw_u64(w, PAPYRA_METRICS_FORMAT_VERSION);
    jw_key(w, "spec_hash");
    jw_string(w, hash);
    jw_key(w, "backend");
    jw_string(w, papyra__backends[s->backend].id);
    jw_key(w, "shared");
    jw_bool(w, s->shared);
    jw_key(w, "created_at");
    jw_time(w, s->created_at_ns);
    jw_key(w, "reset_at");
    jw_time(w, s->reset_at_ns);
    jw_key(w, "reset_count");
    jw_u64(w, s->reset_count);
    jw_key(w, "taken_at");
    jw_time(w, s->taken_at_ns);
    jw_key(w, "counters");
    jw_begin(w);
    for (int i = 0; i < n; i++) {
        jw_key(w, papyra__metric_info[i].name);
        json_counter_detail(w, s, i);
    }
    jw_end(w);
    jw_end(w);
}

static int
format_json(const papyra_metrics_snapshot *s, int n, bool detail, unsigned flags, papyra_buf *b)
{
    jw w = {.b = b, .pretty = flags & PAPYRA_FORMAT_PRETTY};

    if (detail)
        json_detail(&w, s, n);
    else
        json_flat(&w, s, n, flags);
    jw_put(&w, "\n");
    return w.r;
}

static int
format_seconds(papyra_buf *b, int64_t ns)
{
    return papyra__buf_appendf(b, "%" PRId64 ".%03d", ns / 1000000000,
                               (int)((ns % 1000000000) / 1000000));
}

/* Appends HELP text escaped as both text formats require: backslash and newline. */
static int
help_text(papyra_buf *b, const char *text)
{
    static const char *const escapes[] = {"\\\\", "\\n"};

    return put_escaped(b, text, "\\\n", escapes);
}

/* Appends @p v as a label value: backslash, double quote and newline escaped. */
static int
label_value(papyra_buf *b, const char *v)
{
    static const char *const escapes[] = {"\\\\", "\\\"", "\\n"};
    int r = papyra__buf_putc(b, '"');

    r = r ? r : put_escaped(b, v, "\\\"\n", escapes);
    return r ? r : papyra__buf_putc(b, '"');
}

/* The label set of every sample, braces included: {backend="json",...}. */
static int
label_set(const papyra_metrics_snapshot *s,
          const papyra_metrics_label *labels,
          size_t nlabels,
          papyra_buf *b)
{
    int r = papyra__buf_puts(b, "{backend=");

    r = r ? r : label_value(b, papyra__backends[s->backend].id);
    for (size_t i = 0; r == 0 && i < nlabels; i++) {
        r = papyra__buf_appendf(b, ",%s=", labels[i].name);
        r = r ? r : label_value(b, labels[i].value);
    }
    return r ? r : papyra__buf_putc(b, '}');
}

/* Appends the pieces in order, stopping at the first failure; NULL ends the list. */
static int
put_all(papyra_buf *b, const char *const *pieces)
{
    int r = 0;

    for (; r == 0 && *pieces; pieces++)
        r = papyra__buf_puts(b, *pieces);
    return r;
}

/* The start of the interval a snapshot counts: the last reset, or creation. */
static int64_t
counting_since(const papyra_metrics_snapshot *s, unsigned flags)
{
    return (!(flags & PAPYRA_FORMAT_TOTALS) && s->reset_at_ns) ? s->reset_at_ns : s->created_at_ns;
}

/* One counter family's HELP and TYPE lines. */
static int
prometheus_family(papyra_buf *b, int i, bool openmetrics)
{
    const char *name = papyra__metric_info[i].name;
    int r;

    if (openmetrics) {
        r = put_all(b, (const char *const[]){"# TYPE " FAMILY, name, " counter\n# HELP " FAMILY,
                                             name, " ", NULL});
    } else {
        r = put_all(b, (const char *const[]){"# HELP " FAMILY, name, "_total ", NULL});
    }
    r = r ? r : help_text(b, papyra__metric_info[i].help);
    if (r == 0 && !openmetrics)
        r = put_all(b, (const char *const[]){"\n# TYPE " FAMILY, name, "_total counter", NULL});
    return r ? r : papyra__buf_putc(b, '\n');
}

/* One snapshot's sample of counter @p i (OpenMetrics: and its _created). */
static int
prometheus_sample(papyra_buf *b,
                  const papyra_metrics_snapshot *s,
                  int i,
                  bool openmetrics,
                  unsigned flags,
                  const char *set)
{
    const char *name = papyra__metric_info[i].name;
    int r = put_all(b, (const char *const[]){FAMILY, name, "_total", set, " ", NULL});

    r = r ? r : put_u64(b, counter_value(s, i, flags));
    r = r ? r : papyra__buf_putc(b, '\n');
    if (r == 0 && openmetrics) {
        r = put_all(b, (const char *const[]){FAMILY, name, "_created", set, " ", NULL});
        r = r ? r : format_seconds(b, counting_since(s, flags));
        r = r ? r : papyra__buf_putc(b, '\n');
    }
    return r;
}

/*
 * One exposition of @p count snapshots (@p sets[k] the label set of
 * snapshot k): each family's HELP and TYPE once, then the sample of every
 * snapshot that supports the counter, as both formats require.
 */
static int
format_prometheus(const papyra_metrics_snapshot *s,
                  size_t count,
                  int n,
                  bool openmetrics,
                  unsigned flags,
                  const papyra_buf *sets,
                  papyra_buf *b)
{
    int r = 0;

    for (int i = 0; r == 0 && i < n; i++) {
        bool any = false;
        for (size_t k = 0; !any && k < count; k++)
            any = counter_known(&s[k], i);
        if (!any)
            continue;
        r = prometheus_family(b, i, openmetrics);
        for (size_t k = 0; r == 0 && k < count; k++) {
            if (counter_known(&s[k], i))
                r = prometheus_sample(b, &s[k], i, openmetrics, flags, sets[k].data);
        }
    }
    if (r == 0 && !openmetrics && count > 0) {
        r = papyra__buf_puts(b, "# HELP " FAMILY "metrics_reset_timestamp_seconds "
                                "Start of the counting interval: the last reset, or creation.\n"
                                "# TYPE " FAMILY "metrics_reset_timestamp_seconds gauge\n");
        for (size_t k = 0; r == 0 && k < count; k++) {
            r = put_all(b, (const char *const[]){FAMILY "metrics_reset_timestamp_seconds",
                                                 sets[k].data, " ", NULL});
            r = r ? r : format_seconds(b, counting_since(&s[k], flags));
            r = r ? r : papyra__buf_putc(b, '\n');
        }
    }
    if (r == 0 && openmetrics)
        r = papyra__buf_puts(b, "# EOF\n");
    return r;
}

/* Whether the labels are valid, each name once. */
static bool
labels_ok(const papyra_metrics_label *labels, size_t nlabels)
{
    if (nlabels > 0 && !labels)
        return false;
    for (size_t i = 0; i < nlabels; i++) {
        if (papyra_metrics_label_problem(labels[i].name, labels[i].value))
            return false;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(labels[i].name, labels[j].name) == 0)
                return false;
        }
    }
    return true;
}

int
papyra_metrics_format_labels_sized(const papyra_metrics_snapshot *snapshot,
                                   size_t size,
                                   papyra_metrics_format_id format,
                                   unsigned flags,
                                   const papyra_metrics_label *labels,
                                   size_t nlabels,
                                   char **ret)
{
    papyra_metrics_snapshot s;
    papyra_buf b = {0}, set = {0};
    int count = papyra__snapshot_count(size), n, r;

    if (!snapshot || !ret || count < 0 || !labels_ok(labels, nlabels))
        return PAPYRA_EINVAL;
    if (nlabels > 0 && format != PAPYRA_FORMAT_PROMETHEUS && format != PAPYRA_FORMAT_OPENMETRICS)
        return PAPYRA_EINVAL;
    /* A caller's snapshot of another counter count, in this build's layout. */
    n = papyra__snapshot_import(&s, snapshot, count);
    if (!papyra_backend_name(s.backend))
        return PAPYRA_EINVAL;
    /* Room for most outputs at once: a few hundred bytes per counter. */
    if (papyra__buf_reserve(&b, 512 + 320 * (size_t)n) < 0)
        return PAPYRA_ENOMEM;
    switch (format) {
    case PAPYRA_FORMAT_TABLE:
        r = format_table(&s, n, flags, &b);
        break;
    case PAPYRA_FORMAT_JSON:
    case PAPYRA_FORMAT_JSON_DETAIL:
        r = format_json(&s, n, format == PAPYRA_FORMAT_JSON_DETAIL, flags, &b);
        break;
    case PAPYRA_FORMAT_PROMETHEUS:
    case PAPYRA_FORMAT_OPENMETRICS:
        r = label_set(&s, labels, nlabels, &set);
        if (r == 0)
            r = format_prometheus(&s, 1, n, format == PAPYRA_FORMAT_OPENMETRICS, flags, &set, &b);
        break;
    default:
        r = PAPYRA_EINVAL;
        break;
    }
    if (r == 0 && !(*ret = papyra__buf_steal(&b)))
        r = PAPYRA_ENOMEM;
    papyra__buf_free(&b);
    papyra__buf_free(&set);
    return r;
}

int
papyra_metrics_format_many_sized(const papyra_metrics_snapshot *const *snapshots,
                                 size_t size,
                                 size_t count,
                                 papyra_metrics_format_id format,
                                 unsigned flags,
                                 const papyra_metrics_label *labels,
                                 size_t nlabels,
                                 char **ret)
{
    papyra_metrics_snapshot *s = NULL;
    papyra_buf b = {0}, *sets = NULL;
    int want = papyra__snapshot_count(size), n = want, r = 0;

    if ((count > 0 && !snapshots) || !ret || want < 0 ||
        (format != PAPYRA_FORMAT_PROMETHEUS && format != PAPYRA_FORMAT_OPENMETRICS) ||
        (count > 0 && nlabels > 0 && !labels) || (count > 0 && nlabels > SIZE_MAX / count))
        return PAPYRA_EINVAL;
    for (size_t k = 0; k < count; k++) {
        if (!snapshots[k] || !labels_ok(labels ? labels + k * nlabels : NULL, nlabels))
            return PAPYRA_EINVAL;
    }
    if (count > 0 && (!(s = calloc(count, sizeof(*s))) || !(sets = calloc(count, sizeof(*sets))))) {
        free(s);
        return PAPYRA_ENOMEM;
    }
    for (size_t k = 0; r == 0 && k < count; k++) {
        n = papyra__snapshot_import(&s[k], snapshots[k], want);
        if (!papyra_backend_name(s[k].backend))
            r = PAPYRA_EINVAL;
        else
            r = label_set(&s[k], labels ? labels + k * nlabels : NULL, nlabels, &sets[k]);
        /* Two snapshots with one label set would be one series twice. */
        for (size_t j = 0; r == 0 && j < k; j++) {
            if (strcmp(sets[j].data, sets[k].data) == 0)
                r = PAPYRA_EINVAL;
        }
    }
    if (r == 0 && papyra__buf_reserve(&b, 512 + 160 * (size_t)n * (count + 1)) < 0)
        r = PAPYRA_ENOMEM;
    else if (r == 0)
        b.data[0] = '\0'; /* no store and Prometheus text: the empty string */
    if (r == 0)
        r = format_prometheus(s, count, n, format == PAPYRA_FORMAT_OPENMETRICS, flags, sets, &b);
    if (r == 0 && !(*ret = papyra__buf_steal(&b)))
        r = PAPYRA_ENOMEM;
    papyra__buf_free(&b);
    for (size_t k = 0; k < count; k++)
        papyra__buf_free(&sets[k]);
    free(sets);
    free(s);
    return r;
}

int
papyra_metrics_format_sized(const papyra_metrics_snapshot *s,
                            size_t size,
                            papyra_metrics_format_id format,
                            unsigned flags,
                            char **ret)
{
    return papyra_metrics_format_labels_sized(s, size, format, flags, NULL, 0, ret);
}

/*
 * The 0.1.0 entry points, for binaries built before the sized ones: their
 * snapshots hold the first PAPYRA_METRICS_V1_COUNT counters. Code compiled
 * now reaches the sized functions through the macros of these names.
 */
#undef papyra_metrics_format_labels
#undef papyra_metrics_format

int
papyra_metrics_format_labels(const papyra_metrics_snapshot *s,
                             papyra_metrics_format_id format,
                             unsigned flags,
                             const papyra_metrics_label *labels,
                             size_t nlabels,
                             char **ret)
{
    return papyra_metrics_format_labels_sized(s, papyra__snapshot_size(PAPYRA_METRICS_V1_COUNT),
                                              format, flags, labels, nlabels, ret);
}

int
papyra_metrics_format(const papyra_metrics_snapshot *s,
                      papyra_metrics_format_id format,
                      unsigned flags,
                      char **ret)
{
    return papyra_metrics_format_labels_sized(s, papyra__snapshot_size(PAPYRA_METRICS_V1_COUNT),
                                              format, flags, NULL, 0, ret);
}
