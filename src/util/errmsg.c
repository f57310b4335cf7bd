/* SPDX-License-Identifier: MIT */
/* Per-thread error messages kept for handles; see errmsg.h. */
#include "util/errmsg.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static atomic_uint_least64_t generations;

uint64_t
papyra__errmsg_generation(void)
{
    return atomic_fetch_add_explicit(&generations, 1, memory_order_relaxed) + 1;
}

/* The index of the slot of @p t that holds the message of @p handle, or -1 when it has none. */
static int
find(const papyra__errmsg_table *t, const void *handle, uint64_t gen)
{
    for (int i = 0; i < PAPYRA__ERRMSG_SLOTS; i++) {
        if (t->slots[i].handle == handle && t->slots[i].gen == gen)
            return i;
    }
    return -1;
}

void
papyra__errmsg_vset(
    papyra__errmsg_table *t, const void *handle, uint64_t gen, const char *fmt, va_list ap)
{
    char msg[sizeof(t->slots[0].msg)];
    int i = find(t, handle, gen);

    /* Formatted aside first: an argument may be this thread's current message. */
    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (i < 0) {
        i = 0;
        for (int j = 1; j < PAPYRA__ERRMSG_SLOTS; j++) {
            if (t->slots[j].used < t->slots[i].used)
                i = j;
        }
        t->slots[i].handle = handle;
        t->slots[i].gen = gen;
    }
    t->slots[i].used = ++t->clock;
    memcpy(t->slots[i].msg, msg, sizeof(msg));
}

const char *
papyra__errmsg_get(const papyra__errmsg_table *t, const void *handle, uint64_t gen)
{
    int i = find(t, handle, gen);

    return i < 0 ? "" : t->slots[i].msg;
}

void
papyra__errmsg_forget(papyra__errmsg_table *t, const void *handle, uint64_t gen)
{
    int i = find(t, handle, gen);

    if (i >= 0)
        t->slots[i] = (papyra__errmsg_slot){0};
}
