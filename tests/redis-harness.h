/* SPDX-License-Identifier: MIT */
/*
 * A private redis-server for the tests: started on 127.0.0.1 on a free port
 * (and a Unix socket) in a temporary directory, with persistence off, and
 * stopped (or killed and restarted on the same port) on demand.
 */
#ifndef PAPYRA_REDIS_HARNESS_H
#define PAPYRA_REDIS_HARNESS_H

#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/types.h>

typedef struct papyra_test_redis {
    pid_t pid;               /* 0 when not running */
    int port;                /* TCP port on 127.0.0.1 */
    char *dir;               /* temporary directory: socket, log */
    char *sock;              /* "<dir>/redis.sock" */
    const char *requirepass; /* optional password, set before start */
    /* Optional, set before start: a directory with ca.crt, server.crt and server.key. The
     * server then takes TLS only (--port 0, --tls-port on `port`) and requires a client
     * certificate signed by ca.crt (--tls-auth-clients yes); --tls-replication yes, so
     * a replica of it replicates over TLS. */
    const char *tls_dir;
    /* Optional, set before start: more arguments for redis-server (NULL-terminated, at most
     * 16), e.g. the cluster options of redis-cluster-harness.c. */
    const char *const *extra_args;
} papyra_test_redis;

/* Sleeps @p ms milliseconds, going on after a signal. */
void papyra_test_sleep_ms(long ms);

/* CLOCK_MONOTONIC in milliseconds (for deadlines of wait loops). */
long long papyra_test_mono_ms(void);

/* CLOCK_REALTIME in seconds (for record timestamps). */
double papyra_test_now_s(void);

/* A connection to 127.0.0.1:@p port with connect and I/O timeouts of @p timeout_ms; or NULL. */
redisContext *papyra_test_connect(int port, int timeout_ms);

/* One command on a new papyra_test_connect(); NULL when the server does not answer. */
redisReply *papyra_test_vcmd_at(int port, int timeout_ms, const char *fmt, va_list ap);

/* papyra_test_vcmd_at() with 1 s timeouts. */
redisReply *papyra_test_cmd_at(int port, const char *fmt, ...);

/*
 * Runs @p argv (execvp, NULL-terminated) in a child and waits, up to 5 s,
 * until @p up(@p arg) says it answers. Returns the child's pid, or -1 when it
 * could not fork, exited first or did not answer in time (then it is killed
 * and reaped).
 */
pid_t papyra_test_spawn_until(const char *const *argv, bool (*up)(void *arg), void *arg);

/*
 * Starts a Sentinel (redis-server CONF --sentinel) on a free port of
 * 127.0.0.1 into *@p port and *@p pid, its config and log
 * "<dir>/sentinel<i>.conf" and ".log". The config: "port P" (with @p tls,
 * "port 0" and "tls-port P"), bind, dir and log, the lines @p extra, then
 * "sentinel monitor @p name 127.0.0.1 @p master_port 2" with a 1 s
 * down-after, a 4 s failover-timeout and parallel-syncs 2. Waits until
 * @p up(port) says it answers, trying up to 5 ports. 0, or -1.
 */
int papyra_test_sentinel_start(const char *dir,
                               int i,
                               bool tls,
                               const char *extra,
                               const char *name,
                               int master_port,
                               bool (*up)(void *port),
                               int *port,
                               pid_t *pid);

/* Kills *@p pid with SIGKILL and reaps it, when it is > 0; sets it to 0. */
void papyra_test_reap(pid_t *pid);

/* A TCP port on 127.0.0.1 that is free right now (another process may take it), or -1. */
int papyra_test_free_port(void);

/* Whether an executable @p prog can be found on PATH. */
bool papyra_test_on_path(const char *prog);

/* Whether PAPYRA_TEST_REQUIRE_REDIS=1: a missing server is then a failure, not a skip. */
bool papyra_test_redis_required(void);

/*
 * Says why the tests cannot run on stderr, as "SKIP: <why>", or as
 * "FAIL: <why> (PAPYRA_TEST_REQUIRE_REDIS=1)" when papyra_test_redis_required(),
 * and returns main()'s exit code for it: 77 (skip) or 1.
 */
int papyra_test_redis_skip(const char *why);

/* Whether redis-server can be found on PATH. */
bool papyra_test_redis_available(void);

/*
 * Starts the server (on r->port if non-zero, else on a free port) and waits
 * until it answers PING. Returns 0 or -1 with a message on stderr.
 */
int papyra_test_redis_start(papyra_test_redis *r);

/* Kills the server with SIGKILL (no shutdown save) and reaps it. */
void papyra_test_redis_kill(papyra_test_redis *r);

/* Stops the server and removes its directory. Safe to call twice. */
void papyra_test_redis_stop(papyra_test_redis *r);

#endif /* PAPYRA_REDIS_HARNESS_H */
