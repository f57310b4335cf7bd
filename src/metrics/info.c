/* SPDX-License-Identifier: MIT */
/* Lookups over the spec's generated tables. */
#include <string.h>

#include <papyra/metrics.h>

#include "metrics/metrics-private.h"
#include "util/utf8.h"

const papyra_metric_info *
papyra_metric_get(int id)
{
    if (id < 0 || id >= PAPYRA_METRIC_COUNT)
        return NULL;
    return &papyra__metric_info[id];
}

int
papyra_metric_by_name(const char *name)
{
    for (int i = 0; name && i < PAPYRA_METRIC_COUNT; i++)
        if (strcmp(papyra__metric_info[i].name, name) == 0)
            return i;
    return -1;
}

const char *
papyra_backend_name(int backend)
{
    if (backend < 0 || backend >= PAPYRA_BACKEND_COUNT)
        return NULL;
    return papyra__backends[backend].id;
}

const char *
papyra_backend_display_name(int backend)
{
    if (backend < 0 || backend >= PAPYRA_BACKEND_COUNT)
        return NULL;
    return papyra__backends[backend].name;
}

int
papyra_backend_by_name(const char *name)
{
    for (int i = 0; name && i < PAPYRA_BACKEND_COUNT; i++)
        if (strcmp(papyra__backends[i].id, name) == 0)
            return i;
    return -1;
}

bool
papyra_metric_supported(int backend, int id)
{
    if (backend < 0 || backend >= PAPYRA_BACKEND_COUNT || id < 0 || id >= PAPYRA_METRIC_COUNT)
        return false;
    return (papyra__backends[backend].mask >> id) & 1;
}

static bool
name_char(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           (!first && c >= '0' && c <= '9');
}

PAPYRA_PUBLIC const char *
papyra_metrics_label_problem(const char *name, const char *value)
{
    if (!name || !*name)
        return "the name is empty";
    for (const char *p = name; *p; p++) {
        if (!name_char(*p, p == name))
            return p == name ? "a name starts with a letter or '_'"
                             : "a name holds only letters, digits and '_'";
    }
    if (strncmp(name, "__", 2) == 0)
        return "names starting with '__' are reserved";
    if (strcmp(name, "backend") == 0)
        return "'backend' is always set";
    if (!value)
        return "the value is missing";
    if (!papyra__utf8_valid(value, strlen(value)))
        return "the value is not valid UTF-8";
    return NULL;
}
