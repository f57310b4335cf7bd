/* SPDX-License-Identifier: MIT */
/*
 * The consumer-group API of include/papyra/redis.h in a build without
 * hiredis: every call is PAPYRA_EUNSUPPORTED, so programs link and run the
 * same against either build.
 */
#include <stdlib.h>

#include <papyra/redis.h>

#include "core/backend.h"

static int
unsupported(papyra_store *s)
{
    if (!s)
        return PAPYRA_EINVAL;
    return papyra__store_error(s, PAPYRA_EUNSUPPORTED,
                               "this libpapyra was built without the Redis backend");
}

PAPYRA_PUBLIC void
papyra_redis_entries_free(papyra_redis_entries *e)
{
    free(e);
}

PAPYRA_PUBLIC void
papyra_redis_pending_free(papyra_redis_pending *p)
{
    free(p);
}

PAPYRA_PUBLIC int
papyra_redis_group_ensure(papyra_store *s,
                          papyra_kind kind,
                          const char *group,
                          const char *start_id)
{
    return unsupported(s);
}

PAPYRA_PUBLIC int
papyra_redis_consume(papyra_store *s,
                     papyra_kind kind,
                     const char *group,
                     const char *consumer,
                     size_t count,
                     int block_ms,
                     const char *read_id,
                     papyra_redis_entries **ret)
{
    return unsupported(s);
}

PAPYRA_PUBLIC int
papyra_redis_claim(papyra_store *s,
                   papyra_kind kind,
                   const char *group,
                   const char *consumer,
                   int64_t min_idle_ms,
                   const char *const *ids,
                   size_t n_ids,
                   papyra_redis_entries **ret)
{
    return unsupported(s);
}

PAPYRA_PUBLIC int
papyra_redis_ack(papyra_store *s,
                 papyra_kind kind,
                 const char *group,
                 const char *const *ids,
                 size_t n_ids,
                 size_t *ret_acked)
{
    return unsupported(s);
}

PAPYRA_PUBLIC int
papyra_redis_pending_summary(papyra_store *s,
                             papyra_kind kind,
                             const char *group,
                             papyra_redis_pending **ret)
{
    return unsupported(s);
}
