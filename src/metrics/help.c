/* SPDX-License-Identifier: MIT */
/*
 * The help text describing every counter (`papyra metrics --help`), written
 * once from the generated tables on first use.
 */
#include <pthread.h>
#include <stdint.h>

#include <papyra/metrics.h>

#include "metrics/metrics-private.h"
#include "util/buf.h"

/* What is shown when memory ran out the one time the text was built. */
#define FALLBACK "Persistence counters: see papyra-metrics(7).\n"

static pthread_once_t help_once = PTHREAD_ONCE_INIT;
static char *help; /* built once, kept for the life of the process */

/* Appends one counter's paragraph. */
static int
counter_help(papyra_buf *b, const papyra_metric_info *info)
{
    int supported = 0;
    int r = papyra__buf_appendf(b,
                                "\n  %s (%s%s)\n"
                                "      %s\n"
                                "      Increments: %s\n"
                                "      Not counted: %s\n"
                                "      Backends: ",
                                info->name, info->category_name, info->alert ? ", alert" : "",
                                info->help, info->increments, info->excludes);

    for (int j = 0; r == 0 && j < PAPYRA_BACKEND_COUNT; j++) {
        if (!(info->backends & (UINT32_C(1) << j)))
            continue;
        if (supported++ > 0)
            r = papyra__buf_puts(b, ", ");
        if (r == 0)
            r = papyra__buf_puts(b, papyra__backends[j].name);
    }
    if (r == 0 && supported < PAPYRA_BACKEND_COUNT)
        r = papyra__buf_puts(b, " (n/a elsewhere)");
    return r == 0 ? papyra__buf_putc(b, '\n') : r;
}

static void
build_help(void)
{
    papyra_buf b = {0};
    int r = papyra__buf_appendf(
        &b,
        "Persistence counters (spec/metrics.yaml, format %d).\n"
        "Each shows what was counted since the last reset; totals never reset.\n",
        PAPYRA_METRICS_FORMAT_VERSION);

    for (int i = 0; r == 0 && i < PAPYRA_METRIC_COUNT; i++)
        r = counter_help(&b, &papyra__metric_info[i]);
    if (r == 0)
        help = papyra__buf_steal(&b);
    papyra__buf_free(&b);
}

const char *
papyra_metrics_help_text(void)
{
    pthread_once(&help_once, build_help);
    return help ? help : FALLBACK;
}
