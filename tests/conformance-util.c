/* SPDX-License-Identifier: MIT */
/*
 * The backends of the conformance suite (test-conformance.c): one entry in
 * `cases` each, with the URL of a working store, a URL whose I/O fails and
 * a way to store a corrupt record; the handle of one case (ctx); the
 * progress log; the private redis-server of the Redis case.
 */
#include "conformance-util.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <papyra/store.h>

#include "store-testutil.h"
#include "testutil.h"

static void
memory_url(const char *dir, char *buf, size_t n)
{
    snprintf(buf, n, "memory:");
}

static void
json_url(const char *dir, char *buf, size_t n)
{
    snprintf(buf, n, "json:%s/data.jsonl", dir);
}

/*
 * A "<scheme>:" URL whose path lies below a regular file: it fails with
 * ENOTDIR for every user, root included (chmod 0500 does not stop root).
 */
static void
url_below_a_file(const char *scheme, const char *dir, char *buf, size_t n)
{
    char *file = papyra_test_path(dir, "not-a-dir");

    papyra_test_write_file(file, "x", 1);
    snprintf(buf, n, "%s:%s/data.jsonl", scheme, file);
    free(file);
}

static void
json_fault_url(const char *dir, char *buf, size_t n)
{
    url_below_a_file("json", dir, buf, n);
}

static void
json_corrupt(const char *dir)
{
    char *path = papyra_test_path(dir, "data.jsonl");
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, "{corrupt\n", 9), 9);
    close(fd);
    free(path);
}

/* An event line upstream reads whose event_type is an integer. */
static int
mistyped_event(char *buf, size_t n, double ts)
{
    return snprintf(buf, n,
                    "{\"kind\": \"event\", \"system_id\": \"local\", \"actor_address\": null, "
                    "\"event_type\": 5, \"payload\": {}, \"timestamp\": %.17g}",
                    ts);
}

static void
json_mistype(const char *dir, double ts)
{
    char *path = papyra_test_path(dir, "data.jsonl");
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    char line[256];
    int n = mistyped_event(line, sizeof(line) - 1, ts);

    line[n++] = '\n';
    assert_true(fd >= 0);
    assert_int_equal(write(fd, line, (size_t)n), n);
    close(fd);
    free(path);
}

static void
rotating_url(const char *dir, char *buf, size_t n)
{
    snprintf(buf, n, "rotating:%s/data.jsonl?max_bytes=100000&max_files=3", dir);
}

static void
rotating_fault_url(const char *dir, char *buf, size_t n)
{
    url_below_a_file("rotating", dir, buf, n);
}

#ifdef PAPYRA_HAVE_REDIS
papyra_test_redis server;
bool redis_up;

/* A case's key prefix: the name of its temporary directory, unique to the case. */
const char *
redis_prefix(const char *dir)
{
    const char *p = strrchr(dir, '/');
    return p ? p + 1 : dir;
}

/*
 * The counters live in the case's directory, so every case starts from zero
 * in a real metrics file; short timeouts keep the stopped-server cases fast.
 */
static void
redis_url(const char *dir, char *buf, size_t n)
{
    snprintf(buf, n,
             "redis://127.0.0.1:%d/0?prefix=%s&metrics=%s/redis.metrics"
             "&connect_timeout_ms=500&timeout_ms=2000",
             server.port, redis_prefix(dir), dir);
}

/* Runs one command on a connection of its own to @p srv; fails the test on an I/O error. */
redisReply *
redis_raw(const papyra_test_redis *srv, const char *fmt, ...)
{
    redisContext *rc = redisConnect("127.0.0.1", srv->port);
    redisReply *reply;
    va_list ap;

    assert_non_null(rc);
    assert_int_equal(rc->err, 0);
    if (srv->requirepass) {
        reply = redisCommand(rc, "AUTH %s", srv->requirepass);
        assert_non_null(reply);
        freeReplyObject(reply);
    }
    va_start(ap, fmt);
    reply = redisvCommand(rc, fmt, ap);
    va_end(ap);
    assert_non_null(reply);
    redisFree(rc);
    return reply;
}

/* Adds one entry of fields "name value" to the case's stream of @p kind ("audits"...). */
void
redis_xadd(const char *dir, const char *kind, const char *name, const char *value)
{
    redisReply *r =
        redis_raw(&server, "XADD %s:local:%s * %s %s", redis_prefix(dir), kind, name, value);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    freeReplyObject(r);
}

/* The audit stream is the one test_list reads, like the JSON cases' appended line. */
void
redis_corrupt(const char *dir)
{
    redis_xadd(dir, "audits", "data", "{corrupt");
}

static void
redis_mistype(const char *dir, double ts)
{
    char line[256];

    (void)mistyped_event(line, sizeof(line), ts);
    redis_xadd(dir, "events", "data", line);
}
#endif

const backend_case cases[] = {
    {"memory", PAPYRA_BACKEND_MEMORY, memory_url, NULL, NULL, NULL},
    {"json", PAPYRA_BACKEND_JSON, json_url, json_fault_url, json_corrupt, json_mistype},
    /* The active file has the same name and line format as the JSON backend's file. */
    {"rotating", PAPYRA_BACKEND_ROTATING, rotating_url, rotating_fault_url, json_corrupt,
     json_mistype},
#ifdef PAPYRA_HAVE_REDIS
    /*
     * Last, so that it can be left out when no server runs. Its open connects,
     * so no URL makes its I/O fail after a successful open: the failure cases
     * (server stopped, restarted, wrong password, wrong key type) follow below.
     */
    {"redis", PAPYRA_BACKEND_REDIS, redis_url, NULL, redis_corrupt, redis_mistype},
#endif
};
const size_t ncases_all = sizeof(cases) / sizeof(cases[0]);
size_t ncases = sizeof(cases) / sizeof(cases[0]);

void
ctx_open(ctx *c, const backend_case *bc, bool fault)
{
    char url[4096];

    memset(c, 0, sizeof(*c));
    c->bc = bc;
    c->dir = papyra_test_tmpdir();
    assert_non_null(c->dir);
    (fault ? bc->fault_url : bc->url)(c->dir, url, sizeof(url));
    c->s = st_open("%s", url);
    assert_string_equal(papyra_store_backend(c->s), bc->name);
    st_counters(c->s, c->before);
}

__attribute__((unused)) void
ctx_open_url(ctx *c, const backend_case *bc, char *dir, const char *url)
{
    memset(c, 0, sizeof(*c));
    c->bc = bc;
    c->dir = dir;
    c->s = st_open("%s", url);
    assert_string_equal(papyra_store_backend(c->s), bc->name);
    st_counters(c->s, c->before);
}

void
ctx_close(ctx *c)
{
    papyra_store_close(c->s);
    papyra_test_rmtree(c->dir);
    free(c->dir);
}

void
on_progress(const papyra_progress *p, void *userdata)
{
    progress_log *g = userdata;

    if (g->nsteps == 0 || strcmp(g->step[g->nsteps - 1].name, p->step) != 0) {
        assert_true(g->nsteps < 8);
        memset(&g->step[g->nsteps], 0, sizeof(g->step[0]));
        (void)snprintf(g->step[g->nsteps].name, sizeof(g->step[0].name), "%s", p->step);
        g->nsteps++;
    }
    {
        __typeof__(g->step[0]) *st = &g->step[g->nsteps - 1];
        st->went_back = st->went_back || p->done < st->done || p->total < st->total;
        st->done = p->done;
        st->total = p->total;
        st->unit = p->unit;
        st->calls++;
        st->between += p->done > 0 && p->done < p->total;
    }
}

/* Checks that @p g saw exactly the steps @p names, each complete. */
void
expect_steps(const ctx *c, progress_log *g, const char *const *names, size_t n)
{
    bool data = c->bc->id != PAPYRA_BACKEND_MEMORY;

    assert_int_equal(g->nsteps, n);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(g->step[i].name, names[i]);
        assert_string_equal(g->step[i].unit,
                            c->bc->id == PAPYRA_BACKEND_REDIS ? "entries" : "bytes");
        assert_false(g->step[i].went_back);
        assert_true(g->step[i].calls >= 2); /* when it starts and when it ends */
        assert_int_equal(g->step[i].done, g->step[i].total);
        if (data)
            assert_true(g->step[i].total > 0);
    }
    memset(g, 0, sizeof(*g));
}

#ifdef PAPYRA_HAVE_REDIS
/* Skips without a server; restarts it when an earlier failed test left it stopped. */
void
redis_needed(void)
{
    if (!redis_up)
        skip();
    if (server.pid == 0)
        assert_int_equal(papyra_test_redis_start(&server), 0);
}

/* Kills the server and starts it again on the same port, empty (no persistence). */
void
redis_restart(void)
{
    papyra_test_redis_kill(&server);
    assert_int_equal(papyra_test_redis_start(&server), 0);
}
#endif

bool
conformance_start(void)
{
    const char *require = getenv("PAPYRA_TEST_REQUIRE_REDIS");
    bool required = require && strcmp(require, "1") == 0;
    bool missing = false;

#ifdef PAPYRA_HAVE_REDIS
    /* A private server on a free port; without one the Redis case is left out. */
    if (!papyra_test_redis_available()) {
        fprintf(stderr, "%s: redis-server is not on PATH: the Redis cases do not run%s\n",
                required ? "FAIL" : "SKIP", required ? " (PAPYRA_TEST_REQUIRE_REDIS=1)" : "");
        missing = true;
    } else if (papyra_test_redis_start(&server) != 0) {
        fprintf(stderr, "%s: redis-server could not be started: the Redis cases do not run\n",
                required ? "FAIL" : "SKIP");
        missing = true;
    } else {
        redis_up = true;
    }
    if (!redis_up)
        ncases--;
#else
    fprintf(stderr, "%s: built without hiredis: the Redis cases do not run%s\n",
            required ? "FAIL" : "SKIP", required ? " (PAPYRA_TEST_REQUIRE_REDIS=1)" : "");
    missing = true;
#endif
    return missing && required;
}

void
conformance_stop(void)
{
#ifdef PAPYRA_HAVE_REDIS
    papyra_test_redis_stop(&server);
#endif
}
