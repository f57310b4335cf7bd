/* SPDX-License-Identifier: MIT */
/*
 * Per-thread error messages kept for handles (papyra_store_errmsg(),
 * papyra_metrics_errmsg()). A failing call leaves its message in a slot of
 * the calling thread, tagged with the handle and its generation, a number no
 * other handle of the process gets, so a handle freed and allocated again at
 * the same address does not show the old one's message. A table keeps the
 * messages of the last PAPYRA__ERRMSG_SLOTS handles its thread failed on; the
 * slot written longest ago is reused. Each kind of handle has a table of its
 * own, which its module declares _Thread_local, so the messages of one kind
 * never push out those of another.
 */
#ifndef PAPYRA_ERRMSG_H
#define PAPYRA_ERRMSG_H

#include <stdarg.h>
#include <stdint.h>

#define PAPYRA__ERRMSG_SLOTS 4

typedef struct papyra__errmsg_slot {
    const void *handle;
    uint64_t gen;
    uint64_t used; /* the table's clock when last written */
    char msg[512];
} papyra__errmsg_slot;

typedef struct papyra__errmsg_table {
    papyra__errmsg_slot slots[PAPYRA__ERRMSG_SLOTS];
    uint64_t clock;
} papyra__errmsg_table;

/* A new handle's generation (never 0, never given twice), before any message is set on it. */
uint64_t papyra__errmsg_generation(void);

/* Sets the message of @p handle, of generation @p gen, in @p t. */
void papyra__errmsg_vset(papyra__errmsg_table *t,
                         const void *handle,
                         uint64_t gen,
                         const char *fmt,
                         va_list ap) __attribute__((format(printf, 4, 0)));

/* The message @p t keeps for @p handle of generation @p gen, or "" when none. */
const char *papyra__errmsg_get(const papyra__errmsg_table *t, const void *handle, uint64_t gen);

/* Forgets the message of @p handle, a handle going away. */
void papyra__errmsg_forget(papyra__errmsg_table *t, const void *handle, uint64_t gen);

#endif /* PAPYRA_ERRMSG_H */
