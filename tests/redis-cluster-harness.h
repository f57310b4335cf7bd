/* SPDX-License-Identifier: MIT */
/*
 * A private Redis Cluster for the tests: M masters with R replicas each, every
 * node a redis-server of redis-harness.h (127.0.0.1, free ports, persistence
 * off, its own directory under one temporary directory of the cluster) started
 * with --cluster-enabled and a 1 s node timeout, joined by
 * `redis-cli --cluster create`. Helpers move slots (by hand with SETSLOT and
 * MIGRATE, or with `redis-cli --cluster reshard`), kill a master with SIGKILL
 * and wait for its replica's promotion, and run a graceful CLUSTER FAILOVER.
 *
 * Every helper returns 0 (or a port) on success and -1 with why on stderr.
 */
#ifndef PAPYRA_REDIS_CLUSTER_HARNESS_H
#define PAPYRA_REDIS_CLUSTER_HARNESS_H

#include <hiredis/hiredis.h>
#include <stdbool.h>

#include "redis-harness.h"

#define PAPYRA_TEST_CLUSTER_MAX_NODES 12

typedef struct papyra_test_cluster {
    int n;     /* nodes started: masters * (1 + replicas) */
    char *dir; /* the cluster's temporary directory (one sub-directory per node) */
    papyra_test_redis node[PAPYRA_TEST_CLUSTER_MAX_NODES]; /* pid 0 once killed */
    /* Private: the extra redis-server arguments of each node and their strings. */
    const char *args[PAPYRA_TEST_CLUSTER_MAX_NODES][16];
    char conf[PAPYRA_TEST_CLUSTER_MAX_NODES][4200];
    char bus[PAPYRA_TEST_CLUSTER_MAX_NODES][16];
} papyra_test_cluster;

/*
 * Whether redis-server and redis-cli are on PATH; when not, *why (if given)
 * names what is missing.
 */
bool papyra_test_cluster_available(const char **why);

/*
 * Starts @p masters masters (at least 3, redis-cli's minimum) with @p replicas
 * replicas each (at most PAPYRA_TEST_CLUSTER_MAX_NODES nodes), creates the cluster and waits until
 * papyra_test_cluster_wait_ok(). @p c must be zeroed. On failure everything
 * started is stopped again.
 */
int papyra_test_cluster_start(papyra_test_cluster *c, int masters, int replicas);

/* Kills and reaps every node and removes the cluster's directory. Safe to call twice. */
void papyra_test_cluster_stop(papyra_test_cluster *c);

/*
 * Waits (up to @p timeout_ms) until every running node says cluster_state:ok
 * with all 16384 slots ok, all running nodes agree which master serves each
 * slot, and every running replica is in sync with its master.
 */
int papyra_test_cluster_wait_ok(papyra_test_cluster *c, int timeout_ms);

/* "127.0.0.1:P1,127.0.0.1:P2,..." of the running masters, malloc'd (a seed list for URLs). */
char *papyra_test_cluster_seeds(const papyra_test_cluster *c);

/*
 * The ports of the running masters that serve slots, in the order of their
 * first slot, into @p ports (at most @p max); returns how many.
 */
int papyra_test_cluster_masters(const papyra_test_cluster *c, int *ports, int max);

/* The ports of the running replicas of the master on @p master_port; returns how many. */
int
papyra_test_cluster_replicas(const papyra_test_cluster *c, int master_port, int *ports, int max);

/* The slot of @p key (CLUSTER KEYSLOT), or -1. */
int papyra_test_cluster_keyslot(const papyra_test_cluster *c, const char *key);

/* The port of the master serving @p slot, or -1. */
int papyra_test_cluster_slot_owner(const papyra_test_cluster *c, int slot);

/* How many slots the master on @p port serves (-1 when it is not a running node). */
int papyra_test_cluster_slot_count(const papyra_test_cluster *c, int port);

/*
 * Moves @p slot, with its keys, to the master on @p to_port by hand:
 * SETSLOT IMPORTING / MIGRATING, MIGRATE of its keys in batches, then SETSLOT
 * NODE on the target, the source and every other master. Writers may go on
 * meanwhile (they see ASK, TRYAGAIN, then MOVED). A no-op when @p to_port
 * already serves it.
 */
int papyra_test_cluster_move_slot(papyra_test_cluster *c, int slot, int to_port);

/*
 * papyra_test_cluster_move_slot(), holding the slot @p hold_ms once it is
 * MIGRATING (the source still serves the keys it has, new keys get ASK) and
 * again once its keys are MIGRATEd (every command of the slot gets ASK, a
 * transaction over keys on both sides TRYAGAIN), so that writers meet both.
 */
int papyra_test_cluster_move_slot_held(papyra_test_cluster *c, int slot, int to_port, int hold_ms);

/* `redis-cli --cluster reshard`: moves @p nslots slots from one master to another. */
int papyra_test_cluster_reshard(papyra_test_cluster *c, int from_port, int to_port, int nslots);

/*
 * Kills the master on @p port with SIGKILL and waits until one of its
 * replicas is promoted and the cluster is ok again; returns the promoted port.
 */
int papyra_test_cluster_kill_master(papyra_test_cluster *c, int port);

/*
 * Restarts a killed node on its port as a new, empty node (its nodes.conf
 * removed, its old id forgotten by the others, CLUSTER MEET), which becomes a
 * replica (CLUSTER REPLICATE) of the master with the fewest replicas, e.g. the
 * one promoted in its place. Waits for ok.
 */
int papyra_test_cluster_restart(papyra_test_cluster *c, int port);

/*
 * CLUSTER FAILOVER (graceful) on the replica on @p replica_port; waits until it
 * is the master and the cluster is ok.
 */
int papyra_test_cluster_failover(papyra_test_cluster *c, int replica_port);

#endif /* PAPYRA_REDIS_CLUSTER_HARNESS_H */
