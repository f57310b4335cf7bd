/* SPDX-License-Identifier: MIT */
/*
 * Redis Streams consumer groups on a store opened with a redis:// or unix:
 * URL: let several workers share the records of one stream, each record
 * delivered to one consumer of a group until it is acknowledged.
 *
 * Every function takes the store returned by papyra_store_open() and returns
 * PAPYRA_EUNSUPPORTED for a store of another backend. The stream is chosen by
 * record kind ("{prefix}:{system_id}:{events|audits|dead_letters}"). Errors
 * leave their message on the store (papyra_store_errmsg()). These calls move
 * no metrics. They use the store's own connection, so a blocking consume
 * holds it for up to block_ms: the store's reads and maintenance wait for it,
 * its writes go through a spare connection (URL parameter `connections`,
 * default 4; with connections=1 they wait too).
 *
 * An entry delivered to a consumer that is not a valid record (no `data`
 * field, invalid JSON, not an object, no timestamp) is copied to the
 * quarantine stream "{prefix}:{system_id}:quarantine:{key with ':' -> '_'}"
 * and acknowledged, instead of staying pending forever.
 */
#ifndef PAPYRA_REDIS_H
#define PAPYRA_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include <papyra/common.h>
#include <papyra/record.h>
#include <papyra/store.h>

#ifdef __cplusplus
extern "C" {
#endif

/** One delivered stream entry. */
typedef struct papyra_redis_entry {
    char *id;             /**< the stream entry id, e.g. "1764085311000-0" */
    papyra_record record; /**< the decoded record */
} papyra_redis_entry;

/** Entries returned by papyra_redis_consume() and papyra_redis_claim(). */
typedef struct papyra_redis_entries {
    size_t count;
    papyra_redis_entry *entries;
    size_t n_quarantined; /**< malformed entries quarantined and acknowledged */
} papyra_redis_entries;

/** Frees entries and every string in them. NULL is a no-op. @since 0.1.0 */
PAPYRA_PUBLIC void papyra_redis_entries_free(papyra_redis_entries *e);

/**
 * Creates consumer group @p group on the stream of @p kind (XGROUP CREATE ...
 * MKSTREAM), creating the stream if needed. An existing group is not an
 * error.
 *
 * @param[in] start_id where the group starts: "0" for the whole stream, "$"
 *                     for new entries only; NULL means "0".
 * @returns 0, PAPYRA_EINVAL, PAPYRA_EUNSUPPORTED, PAPYRA_EPROTO (for example
 *          a key of the wrong type), or a connection error.
 * @since 0.1.0
 */
PAPYRA_PUBLIC int papyra_redis_group_ensure(papyra_store *s,
                                            papyra_kind kind,
                                            const char *group,
                                            const char *start_id);

/**
 * Reads entries for @p consumer of @p group (XREADGROUP ... COUNT BLOCK).
 * The group is created first if it does not exist.
 *
 * @param[in] count    most entries to return; 0 means 100.
 * @param[in] block_ms how long to wait when nothing is available: a negative
 *                     value returns at once, 0 waits forever, N waits N ms.
 * @param[in] read_id  ">" (NULL) for entries never delivered to the group;
 *                     "0" for this consumer's own pending entries.
 * @param[out] ret     released with papyra_redis_entries_free(); empty (count
 *                     0) on a timeout; untouched on failure.
 * @since 0.1.0
 */
PAPYRA_PUBLIC int papyra_redis_consume(papyra_store *s,
                                       papyra_kind kind,
                                       const char *group,
                                       const char *consumer,
                                       size_t count,
                                       int block_ms,
                                       const char *read_id,
                                       papyra_redis_entries **ret);

/**
 * Transfers pending entries idle for at least @p min_idle_ms to @p consumer
 * (XCLAIM) and returns them. No ids gives an empty result without a call.
 * @param[out] ret released with papyra_redis_entries_free().
 * @since 0.1.0
 */
PAPYRA_PUBLIC int papyra_redis_claim(papyra_store *s,
                                     papyra_kind kind,
                                     const char *group,
                                     const char *consumer,
                                     int64_t min_idle_ms,
                                     const char *const *ids,
                                     size_t n_ids,
                                     papyra_redis_entries **ret);

/**
 * Acknowledges entries (XACK). @p ret_acked (optional) gets how many were
 * pending and are now acknowledged. No ids acknowledges nothing.
 * @since 0.1.0
 */
PAPYRA_PUBLIC int papyra_redis_ack(papyra_store *s,
                                   papyra_kind kind,
                                   const char *group,
                                   const char *const *ids,
                                   size_t n_ids,
                                   size_t *ret_acked);

/** Pending entries of one consumer. */
typedef struct papyra_redis_pending_consumer {
    char *name;
    uint64_t pending;
} papyra_redis_pending_consumer;

/** The summary form of XPENDING. */
typedef struct papyra_redis_pending {
    uint64_t pending; /**< entries delivered and not yet acknowledged */
    char *min_id;     /**< smallest pending id; NULL when none */
    char *max_id;     /**< largest pending id; NULL when none */
    size_t n_consumers;
    papyra_redis_pending_consumer *consumers;
} papyra_redis_pending;

/**
 * Summarises the pending entries of @p group (XPENDING key group).
 * @param[out] ret released with papyra_redis_pending_free().
 * @since 0.1.0
 */
PAPYRA_PUBLIC int papyra_redis_pending_summary(papyra_store *s,
                                               papyra_kind kind,
                                               const char *group,
                                               papyra_redis_pending **ret);

/** Frees a pending summary. NULL is a no-op. @since 0.1.0 */
PAPYRA_PUBLIC void papyra_redis_pending_free(papyra_redis_pending *p);

#ifdef __cplusplus
}
#endif

#endif /* PAPYRA_REDIS_H */
