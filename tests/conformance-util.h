/* SPDX-License-Identifier: MIT */
/*
 * The backends, handles and Redis server of the conformance suite
 * (test-conformance.c); see conformance-util.c.
 */
#ifndef PAPYRA_CONFORMANCE_UTIL_H
#define PAPYRA_CONFORMANCE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <papyra/store.h>

#include "core/backend.h"

#ifdef PAPYRA_HAVE_REDIS
#include <hiredis/hiredis.h>

#include "redis-harness.h"
#endif

typedef struct backend_case {
    const char *name;
    int id;
    /* The URL of a working store in @p dir. */
    void (*url)(const char *dir, char *buf, size_t n);
    /* A URL whose I/O fails (as root too); NULL when the backend has no such fault. */
    void (*fault_url)(const char *dir, char *buf, size_t n);
    /* Stores one corrupt record; NULL when the backend cannot hold one. */
    void (*corrupt)(const char *dir);
    /* Stores an event whose event_type is a number (upstream reads it); NULL: cannot. */
    void (*mistype)(const char *dir, double ts);
} backend_case;

/* Every backend; Redis, when built, is the last. */
extern const backend_case cases[];
extern const size_t ncases_all;
/* The cases that run: all, less Redis when no redis-server could be started. */
extern size_t ncases;

/* One case's store, in a temporary directory of its own, and its counters when last checked. */
typedef struct ctx {
    const backend_case *bc;
    char *dir;
    papyra_store *s;
    uint64_t before[PAPYRA_METRIC_COUNT];
} ctx;

/* Opens @p bc's working store (or, with @p fault, the one whose I/O fails) in a new directory. */
void ctx_open(ctx *c, const backend_case *bc, bool fault);
/* Like ctx_open(), with a URL of the caller's in @p dir (taken over). */
void ctx_open_url(ctx *c, const backend_case *bc, char *dir, const char *url);
/* Closes the store and removes its directory. */
void ctx_close(ctx *c);

/* What the progress callback saw, step by step. */
typedef struct progress_log {
    struct {
        char name[16];
        const char *unit;
        size_t calls, between; /* calls in all; calls with 0 < done < total */
        uint64_t done, total;  /* as last reported */
        bool went_back;        /* done or total ever went down */
    } step[8];
    size_t nsteps;
} progress_log;

/* The progress callback: logs into the progress_log @p userdata. */
void on_progress(const papyra_progress *p, void *userdata);
/* Checks that @p g saw exactly the steps @p names, each complete, then clears it. */
void expect_steps(const ctx *c, progress_log *g, const char *const *names, size_t n);

/*
 * Starts the Redis case's server, or leaves the case out with a message;
 * returns whether that must fail the run (PAPYRA_TEST_REQUIRE_REDIS=1).
 */
bool conformance_start(void);
/* Stops the server. */
void conformance_stop(void);

#ifdef PAPYRA_HAVE_REDIS
#define REDIS_CASE (&cases[ncases_all - 1])

/* The private redis-server of the Redis case. */
extern papyra_test_redis server;
/* Whether it runs. */
extern bool redis_up;

/* A case's key prefix: the name of its temporary directory, unique to the case. */
const char *redis_prefix(const char *dir);
/* Runs one command on a connection of its own to @p srv; fails the test on an I/O error. */
redisReply *redis_raw(const papyra_test_redis *srv, const char *fmt, ...);
/* Adds one entry of fields "name value" to the case's stream of @p kind ("audits"...). */
void redis_xadd(const char *dir, const char *kind, const char *name, const char *value);
/* Adds one corrupt entry to the audits stream, the one test_list reads. */
void redis_corrupt(const char *dir);
/* Skips without a server; restarts it when an earlier failed test left it stopped. */
void redis_needed(void);
/* Kills the server and starts it again on the same port, empty (no persistence). */
void redis_restart(void);
#endif

#endif /* PAPYRA_CONFORMANCE_UTIL_H */
