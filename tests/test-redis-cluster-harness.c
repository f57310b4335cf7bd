/* SPDX-License-Identifier: MIT */
/*
 * The cluster harness itself (redis-cluster-harness.h), before any client
 * uses it: three masters with one replica each start with every slot served
 * and every replica in sync; a slot moves by hand with its keys; redis-cli
 * reshards 100 slots; a graceful CLUSTER FAILOVER and a kill -9 of a master
 * promote the replica; the killed node comes back as a replica; and stop
 * leaves no process and no directory behind.
 *
 * Skips (77) when redis-server or redis-cli is missing, unless
 * PAPYRA_TEST_REQUIRE_REDIS=1.
 */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "redis-cluster-harness.h"

/* Sets @p key to @p value through the master serving it. */
static void
set_key(papyra_test_cluster *c, const char *key, const char *value)
{
    int owner = papyra_test_cluster_slot_owner(c, papyra_test_cluster_keyslot(c, key));
    redisReply *r = papyra_test_cmd_at(owner, "SET %s %s", key, value);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
}

/* Fails unless the node on @p port holds @p key with @p value. */
static void
assert_key_at(int port, const char *key, const char *value)
{
    redisReply *r = papyra_test_cmd_at(port, "GET %s", key);
    assert_non_null(r);
    if (r->type != REDIS_REPLY_STRING)
        fail_msg("GET %s on %d: type %d (%s)", key, port, r->type,
                 r->type == REDIS_REPLY_ERROR ? r->str : "");
    assert_string_equal(r->str, value);
    freeReplyObject(r);
}

/* The cluster of the test; the group teardown stops it even when an assertion failed. */
static papyra_test_cluster cluster;

static int
teardown(void **state)
{
    (void)state;
    papyra_test_cluster_stop(&cluster);
    return 0;
}

static void
test_cluster_harness(void **state)
{
    int masters[PAPYRA_TEST_CLUSTER_MAX_NODES], replicas[4], pids[PAPYRA_TEST_CLUSTER_MAX_NODES];
    int slot, from, to, before_from, before_to, promoted, killed, n;
    char *seeds, *dir;
    struct stat st;

    (void)state;
    assert_int_equal(papyra_test_cluster_start(&cluster, 3, 1), 0);
    assert_int_equal(cluster.n, 6);

    /* Three masters serving all slots between them, each with one replica. */
    assert_int_equal(papyra_test_cluster_masters(&cluster, masters, PAPYRA_TEST_CLUSTER_MAX_NODES),
                     3);
    assert_int_equal(papyra_test_cluster_slot_count(&cluster, masters[0]) +
                         papyra_test_cluster_slot_count(&cluster, masters[1]) +
                         papyra_test_cluster_slot_count(&cluster, masters[2]),
                     16384);
    for (int i = 0; i < 3; i++)
        assert_int_equal(papyra_test_cluster_replicas(&cluster, masters[i], replicas, 4), 1);
    seeds = papyra_test_cluster_seeds(&cluster);
    assert_non_null(seeds);
    assert_non_null(strstr(seeds, "127.0.0.1:"));
    assert_non_null(strchr(seeds, ','));
    free(seeds);

    /* A slot with keys (a hash tag puts them all in it) moves by hand, keys and all. */
    set_key(&cluster, "{harness}a", "1");
    set_key(&cluster, "{harness}b", "2");
    slot = papyra_test_cluster_keyslot(&cluster, "{harness}a");
    assert_in_range(slot, 0, 16383);
    from = papyra_test_cluster_slot_owner(&cluster, slot);
    to = masters[0] == from ? masters[1] : masters[0];
    assert_int_equal(papyra_test_cluster_move_slot(&cluster, slot, to), 0);
    assert_int_equal(papyra_test_cluster_slot_owner(&cluster, slot), to);
    assert_key_at(to, "{harness}a", "1");
    assert_key_at(to, "{harness}b", "2");

    /* redis-cli moves 100 slots from one master to another. */
    from = masters[2];
    to = masters[1];
    before_from = papyra_test_cluster_slot_count(&cluster, from);
    before_to = papyra_test_cluster_slot_count(&cluster, to);
    assert_int_equal(papyra_test_cluster_reshard(&cluster, from, to, 100), 0);
    assert_int_equal(papyra_test_cluster_slot_count(&cluster, from), before_from - 100);
    assert_int_equal(papyra_test_cluster_slot_count(&cluster, to), before_to + 100);

    /* A graceful failover: the replica of the keys' master takes over, keys and all. */
    from = papyra_test_cluster_slot_owner(&cluster, slot);
    assert_int_equal(papyra_test_cluster_replicas(&cluster, from, replicas, 4), 1);
    assert_int_equal(papyra_test_cluster_failover(&cluster, replicas[0]), 0);
    assert_int_equal(papyra_test_cluster_slot_owner(&cluster, slot), replicas[0]);
    assert_key_at(replicas[0], "{harness}a", "1");

    /* kill -9 of that master: its replica (the old master) is promoted, keys and all. */
    killed = replicas[0];
    promoted = papyra_test_cluster_kill_master(&cluster, killed);
    assert_int_equal(promoted, from);
    assert_int_equal(papyra_test_cluster_slot_owner(&cluster, slot), promoted);
    assert_key_at(promoted, "{harness}b", "2");
    n = papyra_test_cluster_masters(&cluster, masters, PAPYRA_TEST_CLUSTER_MAX_NODES);
    assert_int_equal(n, 3);
    for (int i = 0; i < n; i++)
        assert_int_not_equal(masters[i], killed);

    /* The killed node comes back empty and rejoins as the new master's replica. */
    assert_int_equal(papyra_test_cluster_restart(&cluster, killed), 0);
    assert_int_equal(papyra_test_cluster_replicas(&cluster, promoted, replicas, 4), 1);
    assert_int_equal(replicas[0], killed);

    /* Stop: every server gone (reaped: kill(2) finds no such process), the directory too. */
    for (int i = 0; i < cluster.n; i++)
        pids[i] = cluster.node[i].pid; /* the restarted node's too */
    dir = strdup(cluster.dir);
    assert_non_null(dir);
    papyra_test_cluster_stop(&cluster);
    for (int i = 0; i < 6; i++)
        assert_true(kill(pids[i], 0) != 0 && errno == ESRCH);
    assert_true(stat(dir, &st) != 0 && errno == ENOENT);
    free(dir);
    papyra_test_cluster_stop(&cluster); /* twice is harmless */
}

int
main(void)
{
    const char *why = NULL;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cluster_harness),
    };

    if (!papyra_test_cluster_available(&why))
        return papyra_test_redis_skip(why);
    return cmocka_run_group_tests_name("redis-cluster-harness", tests, NULL, teardown);
}
