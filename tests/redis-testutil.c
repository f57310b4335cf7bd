/* SPDX-License-Identifier: MIT */
#include "redis-testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store-testutil.h"
#include "testutil.h"

papyra_test_redis server;
bool own_server;
char host[256] = "127.0.0.1";
int port;
int dbnum;
redisContext *raw;
char prefix[128];
static int test_seq;

void
raw_connect(void)
{
    struct timeval tv = {.tv_sec = 5};
    redisReply *r;
    redisFree(raw);
    raw = redisConnectWithTimeout(host, port, tv);
    assert_non_null(raw);
    assert_int_equal(raw->err, 0);
    (void)redisSetTimeout(raw, tv);
    if (dbnum != 0) {
        r = redisCommand(raw, "SELECT %d", dbnum);
        assert_non_null(r);
        freeReplyObject(r);
    }
}

redisReply *
rawcmd(const char *fmt, ...)
{
    va_list ap;
    redisReply *r;
    if (!raw || raw->err)
        raw_connect();
    va_start(ap, fmt);
    r = redisvCommand(raw, fmt, ap);
    va_end(ap);
    if (!r) {
        raw_connect();
        va_start(ap, fmt);
        r = redisvCommand(raw, fmt, ap);
        va_end(ap);
    }
    assert_non_null(r);
    return r;
}

long long
raw_int(const char *fmt, const char *key)
{
    redisReply *r = rawcmd(fmt, key);
    long long v;
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    v = r->integer;
    freeReplyObject(r);
    return v;
}

char *
key_of(const char *what)
{
    static char buf[4][256];
    static int i;
    char *b = buf[i++ % 4];
    (void)snprintf(b, 256, "%s:local:%s", prefix, what);
    return b;
}

void
store_url(char *buf, size_t n, const char *extra)
{
    (void)snprintf(buf, n, "redis://%s:%d/%d?prefix=%s%s%s", host, port, dbnum, prefix,
                   extra && *extra ? "&" : "", extra ? extra : "");
}

papyra_store *
open_store(const char *extra)
{
    char params[1024], url[2048];

    (void)snprintf(params, sizeof(params), "metrics=none%s%s", extra && *extra ? "&" : "",
                   extra ? extra : "");
    store_url(url, sizeof(url), params);
    return st_open("%s", url);
}

int
redis_setup(void **state)
{
    (void)snprintf(prefix, sizeof(prefix), "papyra-test-%ld-%d", (long)getpid(), ++test_seq);
    return papyra_test_setup_tmpdir(state);
}

int
redis_teardown(void **state)
{
    char cursor[32] = "0";
    if (!raw || raw->err)
        raw_connect();
    do {
        redisReply *r = redisCommand(raw, "SCAN %s MATCH %s:* COUNT 1000", cursor, prefix);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            freeReplyObject(r);
            break;
        }
        (void)snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++)
            freeReplyObject(redisCommand(raw, "DEL %b", r->element[1]->element[i]->str,
                                         r->element[1]->element[i]->len));
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    return papyra_test_teardown_tmpdir(state);
}

static int
find_server(void)
{
    const char *url = getenv("PAPYRA_TEST_REDIS_URL");

    if (url && *url) {
        /* redis://host:port/db, nothing else: the tests add their own parameters. */
        if (sscanf(url, "redis://%255[^:/]:%d/%d", host, &port, &dbnum) < 2) {
            fprintf(stderr, "PAPYRA_TEST_REDIS_URL must look like redis://host:port/db\n");
            return 1;
        }
        return 0;
    }
    if (!papyra_test_redis_available())
        return papyra_test_redis_skip(
            "redis-server is not on PATH and PAPYRA_TEST_REDIS_URL is unset");
    if (papyra_test_redis_start(&server) != 0) {
        fprintf(stderr, "redis-server could not be started\n");
        return papyra_test_redis_required() ? 1 : 77;
    }
    own_server = true;
    port = server.port;
    return 0;
}

int
redis_run_tests(const char *name, const struct CMUnitTest *tests, size_t n)
{
    int rc = find_server();

    if (rc != 0)
        return rc;
    rc = _cmocka_run_group_tests(name, tests, n, NULL, NULL);
    redisFree(raw);
    if (own_server)
        papyra_test_redis_stop(&server);
    return rc;
}
