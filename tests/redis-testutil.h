/* SPDX-License-Identifier: MIT */
/*
 * The server, connection and keys of the Redis tests (test-redis*.c).
 *
 * Server: PAPYRA_TEST_REDIS_URL ("redis://host:port/db") if set, else a
 * private redis-server started by redis-harness.c, else exit 77 (skip) --
 * or failure when PAPYRA_TEST_REQUIRE_REDIS=1. Tests that kill or restart
 * the server, or need a password, run only on the private server
 * (own_server). Every test uses its own key prefix, whose keys its teardown
 * deletes, and its own temporary directory (*state).
 */
#ifndef PAPYRA_REDIS_TESTUTIL_H
#define PAPYRA_REDIS_TESTUTIL_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

#include <papyra/store.h>

#include "redis-harness.h"

struct CMUnitTest;

extern papyra_test_redis server; /* the private server, when we started one */
extern bool own_server;          /* whether the tests run on it */
extern char host[256];
extern int port;
extern int dbnum;
extern redisContext *raw; /* the tests' own connection, for raw commands */
extern char prefix[128];  /* the current test's key prefix */

/* (Re)connects the tests' own connection. */
void raw_connect(void);
/* Runs a command on the tests' own connection, reconnecting once; never NULL. */
redisReply *rawcmd(const char *fmt, ...);
/* The integer reply of @p fmt with the one argument @p key. */
long long raw_int(const char *fmt, const char *key);
/* "<prefix>:local:<what>": the current test's key @p what ("events"...). */
char *key_of(const char *what);

/* "redis://host:port/db?prefix=<prefix>", then "&<extra>" unless @p extra is NULL or empty. */
void store_url(char *buf, size_t n, const char *extra);
/* Opens store_url() with "metrics=none" before @p extra; fails the test on error. */
papyra_store *open_store(const char *extra);

/* cmocka fixture: a fresh key prefix and a temporary directory in *state. */
int redis_setup(void **state);
/* Deletes the test's keys, so that a shared server stays clean, and its directory. */
int redis_teardown(void **state);
#define REDIS_TEST(f) cmocka_unit_test_setup_teardown(f, redis_setup, redis_teardown)

/* Finds or starts the server, runs the group @p name, stops the server: main()'s result. */
int redis_run_tests(const char *name, const struct CMUnitTest *tests, size_t n);

#endif /* PAPYRA_REDIS_TESTUTIL_H */
