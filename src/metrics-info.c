/* SPDX-License-Identifier: MIT */
/* Lookups over the spec's generated tables. */
#include <string.h>

#include <papyra/metrics.h>

#include "metrics-private.h"

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
