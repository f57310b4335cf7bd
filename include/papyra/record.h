/* SPDX-License-Identifier: MIT */
/*
 * The three kinds of persisted facts: lifecycle events, audit snapshots and
 * dead letters, with upstream Papyra's fields.
 *
 * Fields that upstream allows to be any JSON value (an actor address, a
 * dead letter's target, payloads) are carried as JSON text. On write the text
 * is validated and normalised to upstream's formatting; on read it comes back
 * normalised. NULL for such a field means JSON null.
 */
#ifndef PAPYRA_RECORD_H
#define PAPYRA_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include <papyra/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum papyra_kind {
    PAPYRA_KIND_EVENT = 0,
    PAPYRA_KIND_AUDIT = 1,
    PAPYRA_KIND_DEAD_LETTER = 2,
    PAPYRA_KIND_MAX
} papyra_kind;

/** A lifecycle event ("kind": "event"). */
typedef struct papyra_event {
    const char *system_id;     /**< UTF-8; NULL means "local" */
    const char *actor_address; /**< JSON text, e.g. "\"local://1\"" or an object */
    const char *event_type;    /**< e.g. "ActorStarted" */
    const char *payload;       /**< JSON text; NULL means {} */
    double timestamp;          /**< wall-clock epoch seconds */
} papyra_event;

/** An audit snapshot ("kind": "audit"). */
typedef struct papyra_audit {
    const char *system_id;
    double timestamp;
    int64_t total_actors;
    int64_t alive_actors;
    int64_t stopping_actors;
    int64_t restarting_actors;
    int64_t registry_size;
    const char *const *registry_orphans; /**< array of UTF-8 strings */
    size_t n_registry_orphans;
    const char *const *registry_dead;
    size_t n_registry_dead;
    int64_t dead_letters_count;
} papyra_audit;

/** An undelivered message ("kind": "dead_letter"). */
typedef struct papyra_dead_letter {
    const char *system_id;
    const char *target;       /**< JSON text; NULL means null */
    const char *message_type; /**< e.g. "str" */
    const char *payload;      /**< JSON text; NULL means null */
    double timestamp;
} papyra_dead_letter;

/** One record of any kind. */
typedef struct papyra_record {
    papyra_kind kind;
    union {
        papyra_event event;
        papyra_audit audit;
        papyra_dead_letter dead_letter;
    } u;
} papyra_record;

/** Returns "event", "audit" or "dead_letter"; NULL for an invalid kind. */
PAPYRA_PUBLIC const char *papyra_kind_name(papyra_kind kind);

#ifdef __cplusplus
}
#endif

#endif /* PAPYRA_RECORD_H */
