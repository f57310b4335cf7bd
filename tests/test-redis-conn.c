/* SPDX-License-Identifier: MIT */
/*
 * The Redis Streams backend's connections against a real redis-server:
 * reconnection after a server restart, timeouts, authentication, URLs and
 * sockets, threads sharing a store's connections, a blocking consume, and
 * concurrent writers in several processes. Server and keys: redis-testutil.h.
 */
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <papyra/redis.h>
#include <papyra/store.h>

#include "backends/redis/redis-private.h"
#include "redis-testutil.h"
#include "store-testutil.h"
#include "testutil.h"

static void *
killer(void *arg)
{
    struct timespec ts = {.tv_nsec = 2000000};
    (void)arg;
    (void)nanosleep(&ts, NULL);
    papyra_test_redis_kill(&server);
    return NULL;
}

static void
test_redis_write_should_fail_while_down_and_recover_after_restart(void **state)
{
    papyra_store *s;
    papyra_record recs[100];
    papyra_record one = st_event_addr("\"local://after\"", 2.0);
    int rc;

    if (!own_server)
        skip();
    s = open_store("connect_timeout_ms=500&timeout_ms=2000");
    for (int i = 0; i < 100; i++)
        recs[i] = st_event_addr("\"local://1\"", 1.0);
    assert_int_equal(papyra_store_write_batch(s, recs, 100), 0);

    /* The server dies: the batch fails with an error and is counted, not lost silently. */
    papyra_test_redis_kill(&server);
    rc = papyra_store_write_batch(s, recs, 100);
    assert_true(rc == PAPYRA_ECONNECT || rc == PAPYRA_EIO);
    assert_non_null(strstr(papyra_store_errmsg(s), "redis"));
    assert_int_equal(st_counter(s, PAPYRA_METRIC_WRITE_ERRORS), 1);
    assert_int_equal(st_counter(s, PAPYRA_METRIC_RECORDS_WRITTEN), 100);
    rc = papyra_store_scan(s, &(papyra_scan_report *){NULL});
    assert_true(rc < 0);

    /* Back on the same port: the next write reconnects transparently. */
    assert_int_equal(papyra_test_redis_start(&server), 0);
    raw_connect();
    assert_int_equal(papyra_store_write(s, &one), 0);
    papyra_record_list *l = st_list(s, PAPYRA_KIND_EVENT, -1, 0);
    assert_int_equal(l->count, 1); /* the server kept nothing (no persistence) */
    assert_string_equal(l->records[0].u.event.actor_address, "\"local://after\"");
    papyra_record_list_free(l);

    /* Killed in the middle of a large batch: an error (unless the batch won the race). */
    {
        enum { BIG = 20000 };
        papyra_record *big = calloc(BIG, sizeof(*big));
        pthread_t t;
        assert_non_null(big);
        for (int i = 0; i < BIG; i++)
            big[i] = st_event_addr("\"local://big\"", 3.0);
        assert_int_equal(pthread_create(&t, NULL, killer, NULL), 0);
        rc = papyra_store_write_batch(s, big, BIG);
        assert_int_equal(pthread_join(t, NULL), 0);
        assert_true(rc == 0 || rc == PAPYRA_EIO || rc == PAPYRA_ECONNECT);
        free(big);
        assert_int_equal(papyra_test_redis_start(&server), 0);
        raw_connect();
        assert_int_equal(papyra_store_write(s, &one), 0);
        assert_int_equal(raw_int("XLEN %s", key_of("events")), 1);
    }

    /* A restart while the connection is idle is noticed before the next write. */
    papyra_test_redis_kill(&server);
    assert_int_equal(papyra_test_redis_start(&server), 0);
    raw_connect();
    assert_int_equal(papyra_store_write(s, &one), 0);
    assert_int_equal(raw_int("XLEN %s", key_of("events")), 1);
    papyra_store_close(s);
}

static void
test_redis_wrong_password_should_fail_open_clearly(void **state)
{
    papyra_test_redis sec = {.requirepass = "s3cret"};
    papyra_store *s = NULL;
    papyra_error e = {0};
    char url[512];

    if (!own_server)
        skip();
    assert_int_equal(papyra_test_redis_start(&sec), 0);
    (void)snprintf(url, sizeof(url), "redis://:wrong@127.0.0.1:%d/0?metrics=none", sec.port);
    assert_int_equal(papyra_store_open(&s, url, &e), PAPYRA_EACCES);
    assert_null(s);
    assert_non_null(strstr(e.message, "authentication failed"));
    (void)snprintf(url, sizeof(url), "redis://127.0.0.1:%d/0?metrics=none", sec.port);
    assert_int_equal(papyra_store_open(&s, url, &e), PAPYRA_EACCES);
    assert_non_null(strstr(e.message, "NOAUTH"));
    (void)snprintf(url, sizeof(url), "redis://127.0.0.1:%d/2?metrics=none", sec.port);
    assert_int_equal(papyra_store_open(&s, url, &e), PAPYRA_EACCES);
    /* Password only, then the Redis 6 ACL form with the default user. */
    (void)snprintf(url, sizeof(url), "redis://:s3cret@127.0.0.1:%d/0?metrics=none&prefix=%s",
                   sec.port, prefix);
    assert_int_equal(papyra_store_open(&s, url, &e), 0);
    st_write_events(s, 1, 1);
    papyra_store_close(s);
    s = NULL;
    (void)snprintf(url, sizeof(url), "redis://default:s3cret@127.0.0.1:%d/3?metrics=none&prefix=%s",
                   sec.port, prefix);
    assert_int_equal(papyra_store_open(&s, url, &e), 0);
    st_write_events(s, 1, 1);
    papyra_store_close(s);
    (void)snprintf(url, sizeof(url), "redis://nobody:s3cret@127.0.0.1:%d/0?metrics=none", sec.port);
    assert_int_equal(papyra_store_open(&s, url, &e), PAPYRA_EACCES);
    assert_non_null(strstr(e.message, "nobody"));
    papyra_test_redis_stop(&sec);
}

static void
test_redis_timeout_should_be_reported_and_the_next_call_reconnect(void **state)
{
    papyra_store *s;
    papyra_record e = st_event_addr("\"local://1\"", 1.0);
    papyra_record_list *l;
    int rc;

    if (!own_server)
        skip(); /* CLIENT PAUSE would stall everyone on a shared server */
    s = open_store("timeout_ms=200");
    freeReplyObject(rawcmd("CLIENT PAUSE 1000 WRITE"));
    rc = papyra_store_write(s, &e);
    assert_int_equal(rc, PAPYRA_ETIMEDOUT);
    assert_non_null(strstr(papyra_store_errmsg(s), "XADD"));
    print_message("timeout message: %s\n", papyra_store_errmsg(s));
    freeReplyObject(rawcmd("CLIENT UNPAUSE"));
    /*
     * The paused XADD was still queued on the server: a timed-out write may
     * have been applied (at least once), which is why writes are never retried.
     */
    l = st_list(s, PAPYRA_KIND_EVENT, -1, 0);
    assert_true(l->count <= 1);
    papyra_record_list_free(l);
    assert_int_equal(papyra_store_write(s, &e), 0);
    papyra_store_close(s);
}

/* each(): kills the store's connection (every client but the tests' own) after the 1500th. */
static int
kill_after_a_page(const papyra_record *r, void *arg)
{
    if (++*(size_t *)arg == 1500) {
        redisReply *k = rawcmd("CLIENT KILL TYPE normal SKIPME yes");
        assert_int_equal(k->type, REDIS_REPLY_INTEGER);
        assert_true(k->integer >= 1); /* the store's connection */
        freeReplyObject(k);
    }
    (void)r;
    return 0;
}

/*
 * Reads time out like any command (the page is read from the socket, past
 * hiredis), and a connection killed between two pages of each() is
 * reconnected for the next one.
 */
static void
test_redis_reads_should_time_out_and_reconnect_between_pages(void **state)
{
    enum { N = 3 * PAPYRA_REDIS_LIST_PAGE + 7 };
    papyra_store *s;
    papyra_record_list *l = NULL;
    papyra_record *recs = calloc(N, sizeof(*recs));
    size_t seen = 0;

    if (!own_server)
        skip(); /* CLIENT PAUSE and CLIENT KILL would hit everyone on a shared server */
    assert_non_null(recs);
    s = open_store("timeout_ms=200");
    for (int i = 0; i < N; i++)
        recs[i] = st_event(i, i);
    assert_int_equal(papyra_store_write_batch(s, recs, N), 0);

    freeReplyObject(rawcmd("CLIENT PAUSE 1500 ALL"));
    assert_int_equal(papyra_store_list(s, PAPYRA_KIND_EVENT, NULL, &l), PAPYRA_ETIMEDOUT);
    assert_null(l);
    assert_non_null(strstr(papyra_store_errmsg(s), "timed out"));
    assert_int_equal(papyra_store_each(s, PAPYRA_KIND_EVENT, NULL, st_count_each, &seen),
                     PAPYRA_ETIMEDOUT);
    assert_int_equal(seen, 0);
    freeReplyObject(rawcmd("CLIENT UNPAUSE"));
    raw_connect();

    l = st_list(s, PAPYRA_KIND_EVENT, -1, 0);
    assert_int_equal(l->count, N);
    papyra_record_list_free(l);
    assert_int_equal(papyra_store_each(s, PAPYRA_KIND_EVENT, NULL, kill_after_a_page, &seen), 0);
    assert_int_equal(seen, N);
    papyra_store_close(s);
    free(recs);
}

static void
test_redis_bad_urls_should_be_rejected(void **state)
{
    papyra_store *s = NULL;
    papyra_error e = {0};
    assert_int_equal(papyra_store_open(&s, "redis://127.0.0.1:1/0?bogus=1", &e), PAPYRA_EINVAL);
    assert_non_null(strstr(e.message, "bogus"));
    assert_int_equal(papyra_store_open(&s, "redis://127.0.0.1:99999/0", &e), PAPYRA_EINVAL);
    assert_int_equal(papyra_store_open(&s, "redis://127.0.0.1:1/x", &e), PAPYRA_EINVAL);
    assert_int_equal(papyra_store_open(&s, "redis://127.0.0.1:1/0?maxlen=0", &e), PAPYRA_EINVAL);
    assert_int_equal(papyra_store_open(&s, "redis://127.0.0.1:1/0?connections=0", &e),
                     PAPYRA_EINVAL);
    assert_non_null(strstr(e.message, "'connections' must be >= 1"));
    assert_int_equal(papyra_store_open(&s, "redis://127.0.0.1:1/0?connections=65", &e),
                     PAPYRA_EINVAL);
    assert_non_null(strstr(e.message, "'connections' must be <= 64"));
    assert_int_equal(papyra_store_open(&s, "redis://127.0.0.1:1/0?connections=two", &e),
                     PAPYRA_EINVAL);
    assert_int_equal(
        papyra_store_open(&s, "redis://127.0.0.1:1/0?connect_timeout_ms=200&metrics=none", &e),
        PAPYRA_ECONNECT);
    assert_non_null(strstr(e.message, "127.0.0.1:1"));
    assert_null(s);
}

static void
test_redis_unix_socket_and_db_should_work(void **state)
{
    char url[4200];
    papyra_store *s = NULL;
    papyra_error e = {0};

    if (!own_server)
        skip();
    (void)snprintf(url, sizeof(url), "unix:%s?db=5&prefix=%s&metrics=none", server.sock, prefix);
    assert_int_equal(papyra_store_open(&s, url, &e), 0);
    st_write_events(s, 1, 2);
    papyra_store_close(s);
    freeReplyObject(rawcmd("SELECT 5"));
    assert_int_equal(raw_int("XLEN %s", key_of("events")), 2);
    freeReplyObject(rawcmd("SELECT %d", dbnum));
    assert_int_equal(raw_int("XLEN %s", key_of("events")), 0);
}

static void
test_redis_ipv6_url_should_parse(void **state)
{
    papyra_store *s = NULL;
    papyra_error e = {0};
    assert_int_equal(
        papyra_store_open(&s, "redis://[::1]:1/0?connect_timeout_ms=200&metrics=none", &e),
        PAPYRA_ECONNECT);
    assert_non_null(strstr(e.message, "::1:1"));
#ifdef PAPYRA_HAVE_REDIS_TLS
    assert_int_equal(papyra_store_open(&s, "rediss://127.0.0.1:1/0?connect_timeout_ms=200", &e),
                     PAPYRA_ECONNECT);
#else
    assert_int_equal(papyra_store_open(&s, "rediss://127.0.0.1:1/0", &e), PAPYRA_EUNSUPPORTED);
#endif
    assert_int_equal(papyra_store_open(&s, "redis://[::1:1/0", &e), PAPYRA_EINVAL);
}

typedef struct thread_arg {
    papyra_store *s;
    int id;
    int bad;
} thread_arg;

enum { THREADS = 4, PER_THREAD = 250 };

/* Writes PER_THREAD records in batches of 1 to 4, payloads {"t": id, "n": 0...}. */
static void *
thread_writer(void *p)
{
    thread_arg *t = p;
    for (int i = 0; i < PER_THREAD;) {
        char payload[4][64];
        papyra_record b[4];
        int k = 1 + i % 4 < PER_THREAD - i ? 1 + i % 4 : PER_THREAD - i;
        for (int j = 0; j < k; j++) {
            b[j] = st_event_addr("\"local://t\"", (double)(i + j));
            (void)snprintf(payload[j], sizeof(payload[j]), "{\"t\": %d, \"n\": %d}", t->id, i + j);
            b[j].u.event.payload = payload[j];
        }
        t->bad += papyra_store_write_batch(t->s, b, (size_t)k) != 0;
        i += k;
    }
    return NULL;
}

/*
 * Runs THREADS writers on @p s, then checks that the events stream holds
 * every record once, each thread's in the order it wrote them, and empties it.
 */
static void
run_writer_threads(papyra_store *s)
{
    pthread_t th[THREADS];
    thread_arg args[THREADS];
    int next[THREADS] = {0};
    papyra_record_list *l;

    for (int i = 0; i < THREADS; i++) {
        args[i] = (thread_arg){.s = s, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, thread_writer, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(args[i].bad, 0);
    }
    l = st_list(s, PAPYRA_KIND_EVENT, -1, 0);
    assert_int_equal(l->count, THREADS * PER_THREAD);
    for (size_t i = 0; i < l->count; i++) {
        int t = -1, n = -1;
        assert_int_equal(sscanf(l->records[i].u.event.payload, "{\"t\": %d, \"n\": %d}", &t, &n),
                         2);
        assert_true(t >= 0 && t < THREADS);
        assert_int_equal(n, next[t]);
        next[t]++;
    }
    papyra_record_list_free(l);
    freeReplyObject(rawcmd("DEL %s", key_of("events")));
}

/* The server's connected_clients (INFO clients), the tests' own connection included. */
static long
connected_clients(void)
{
    redisReply *r = rawcmd("INFO clients");
    const char *p;
    long n = -1;

    assert_int_equal(r->type, REDIS_REPLY_STRING);
    p = strstr(r->str, "connected_clients:");
    assert_non_null(p);
    n = strtol(p + strlen("connected_clients:"), NULL, 10);
    freeReplyObject(r);
    return n;
}

static void
test_redis_threads_sharing_a_store_should_lose_nothing(void **state)
{
    const char *conns[] = {"connections=1", "connections=2", NULL};

    for (size_t c = 0; c < sizeof(conns) / sizeof(conns[0]); c++) {
        papyra_store *s = open_store(conns[c]);
        long before = own_server ? connected_clients() : 0;

        run_writer_threads(s);
        assert_int_equal(st_counter(s, PAPYRA_METRIC_RECORDS_WRITTEN), THREADS * PER_THREAD);
        assert_int_equal(st_counter(s, PAPYRA_METRIC_WRITE_ERRORS), 0);
        /* Spares are opened only for writers that overlap, never past `connections`. */
        if (own_server)
            assert_true(connected_clients() - before <= (c == 2 ? 3 : (long)c));
        if (own_server && c == 1) {
            /* A restart drops every connection: each reconnects on its next write. */
            papyra_test_redis_kill(&server);
            assert_int_equal(papyra_test_redis_start(&server), 0);
            raw_connect();
            run_writer_threads(s);
            assert_int_equal(st_counter(s, PAPYRA_METRIC_WRITE_ERRORS), 0);
        }
        papyra_store_close(s);
    }
}

typedef struct restart_writer {
    papyra_store *s;
    atomic_bool *stop;
    uint64_t ok_records, failed_calls, ok_after_restart;
    atomic_bool *restarted;
} restart_writer;

/* Writes batches of 5 until told to stop, tallying what succeeded and what failed. */
static void *
restart_writer_main(void *p)
{
    restart_writer *w = p;
    papyra_record b[5];

    for (int i = 0; i < 5; i++)
        b[i] = st_event_addr("\"local://r\"", (double)i);
    while (!atomic_load(w->stop)) {
        bool after = atomic_load(w->restarted);
        if (papyra_store_write_batch(w->s, b, 5) == 0) {
            w->ok_records += 5;
            w->ok_after_restart += after;
        } else {
            w->failed_calls++;
        }
    }
    return NULL;
}

/*
 * The server is killed and restarted while threads write through one store
 * and its spare connections: every call either succeeds or fails, the
 * counters agree exactly with what the callers were told, and every
 * connection comes back by itself.
 */
static void
test_redis_threads_should_count_exactly_across_a_restart(void **state)
{
    enum { N = 4 };
    atomic_bool stop = false, restarted = false;
    restart_writer w[N];
    pthread_t th[N];
    uint64_t ok = 0, failed = 0;
    struct timespec pause = {.tv_nsec = 200000000};
    papyra_store *s;

    if (!own_server)
        skip();
    s = open_store("connect_timeout_ms=500&timeout_ms=2000");
    for (int i = 0; i < N; i++) {
        w[i] = (restart_writer){.s = s, .stop = &stop, .restarted = &restarted};
        assert_int_equal(pthread_create(&th[i], NULL, restart_writer_main, &w[i]), 0);
    }
    (void)nanosleep(&pause, NULL);
    papyra_test_redis_kill(&server);
    (void)nanosleep(&pause, NULL);
    assert_int_equal(papyra_test_redis_start(&server), 0);
    atomic_store(&restarted, true);
    (void)nanosleep(&pause, NULL);
    (void)nanosleep(&pause, NULL);
    atomic_store(&stop, true);
    for (int i = 0; i < N; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        ok += w[i].ok_records;
        failed += w[i].failed_calls;
        assert_true(w[i].ok_after_restart > 0); /* each writer's connection came back */
    }
    raw_connect();
    print_message("%" PRIu64 " records written, %" PRIu64 " calls failed\n", ok, failed);
    assert_true(failed > 0);
    assert_int_equal(st_counter(s, PAPYRA_METRIC_RECORDS_WRITTEN), ok);
    assert_int_equal(st_counter(s, PAPYRA_METRIC_WRITE_ERRORS), failed);
    papyra_store_close(s);
}

typedef struct consumer_arg {
    papyra_store *s;
    int block_ms;
    int rc;
    atomic_bool done;
} consumer_arg;

/* Blocks in a consume of the (empty) audits stream. */
static void *
blocked_consumer(void *p)
{
    consumer_arg *a = p;
    papyra_redis_entries *en = NULL;

    a->rc = papyra_redis_consume(a->s, PAPYRA_KIND_AUDIT, "g", "c", 10, a->block_ms, NULL, &en);
    papyra_redis_entries_free(en);
    atomic_store(&a->done, true);
    return NULL;
}

/* The server's count of clients blocked in a command (INFO clients). */
static long
blocked_clients(void)
{
    redisReply *r = rawcmd("INFO clients");
    const char *p = strstr(r->str, "blocked_clients:");
    long n = p ? strtol(p + strlen("blocked_clients:"), NULL, 10) : -1;

    freeReplyObject(r);
    return n;
}

/* Waits until the server has one client blocked in XREADGROUP. */
static void
wait_for_blocked_client(void)
{
    for (int i = 0; i < 5000; i++) {
        struct timespec ts = {.tv_nsec = 1000000};

        if (blocked_clients() == 1)
            return;
        (void)nanosleep(&ts, NULL);
    }
    fail_msg("the consume never blocked");
}

static void
test_redis_write_should_not_wait_for_a_blocking_consume(void **state)
{
    papyra_record e = st_event_addr("\"local://1\"", 1.0);
    consumer_arg a = {.block_ms = 10000};
    pthread_t t;

    if (!own_server)
        skip(); /* blocked_clients counts every client of a shared server */
    /* Default connections: the write goes through a spare while the consume blocks. */
    a.s = open_store(NULL);
    assert_int_equal(papyra_redis_group_ensure(a.s, PAPYRA_KIND_AUDIT, "g", "$"), 0);
    assert_int_equal(pthread_create(&t, NULL, blocked_consumer, &a), 0);
    wait_for_blocked_client();
    assert_int_equal(papyra_store_write(a.s, &e), 0);
    assert_false(atomic_load(&a.done));
    assert_int_equal(raw_int("XLEN %s", key_of("events")), 1);
    /* An audit entry ends the consume. */
    freeReplyObject(rawcmd("XADD %s * data {}", key_of("audits")));
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(a.rc, 0);
    papyra_store_close(a.s);

    /* connections=1: the write waits until the consume gives the connection back. */
    a = (consumer_arg){.block_ms = 300, .s = open_store("connections=1")};
    assert_int_equal(pthread_create(&t, NULL, blocked_consumer, &a), 0);
    wait_for_blocked_client();
    assert_int_equal(papyra_store_write(a.s, &e), 0);
    /*
     * The consume's reply came before the connection went back to the pool
     * (its thread may not have set a.done yet): no client is blocked now.
     */
    assert_true(blocked_clients() == 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(a.rc, 0);
    assert_int_equal(raw_int("XLEN %s", key_of("events")), 2);
    papyra_store_close(a.s);
}

static void
test_redis_concurrent_processes_should_lose_nothing(void **state)
{
    enum { WORKERS = 4, PER = 500 };
    char extra[4200], url[5000];
    pid_t pids[WORKERS];
    papyra_store *s;
    papyra_record_list *l;
    static bool seen[WORKERS][PER];

    (void)snprintf(extra, sizeof(extra), "metrics=%s/shared.metrics", (char *)*state);
    store_url(url, sizeof(url), extra);
    for (int w = 0; w < WORKERS; w++) {
        pids[w] = fork();
        assert_true(pids[w] >= 0);
        if (pids[w] == 0) {
            char payload[64];
            papyra_store *cs = NULL;
            int bad = 0;
            if (papyra_store_open(&cs, url, NULL) != 0)
                _exit(2);
            for (int i = 0; i < PER; i += 2) {
                papyra_record b[2];
                char p2[64];
                (void)snprintf(payload, sizeof(payload), "{\"w\": %d, \"n\": %d}", w, i);
                (void)snprintf(p2, sizeof(p2), "{\"w\": %d, \"n\": %d}", w, i + 1);
                b[0] = st_event_addr("\"local://w\"", (double)i);
                b[0].u.event.payload = payload;
                b[1] = b[0];
                b[1].u.event.payload = p2;
                if (i % 4 == 0)
                    bad += papyra_store_write_batch(cs, b, 2) != 0;
                else
                    bad += papyra_store_write(cs, &b[0]) != 0 || papyra_store_write(cs, &b[1]) != 0;
            }
            papyra_store_close(cs);
            _exit(bad ? 1 : 0);
        }
    }
    for (int w = 0; w < WORKERS; w++) {
        int st;
        assert_int_equal(waitpid(pids[w], &st, 0), pids[w]);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    s = open_store(NULL);
    l = st_list(s, PAPYRA_KIND_EVENT, -1, 0);
    assert_int_equal(l->count, WORKERS * PER);
    for (size_t i = 0; i < l->count; i++) {
        int w = -1, n = -1;
        assert_int_equal(sscanf(l->records[i].u.event.payload, "{\"w\": %d, \"n\": %d}", &w, &n),
                         2);
        assert_true(w >= 0 && w < WORKERS && n >= 0 && n < PER);
        assert_false(seen[w][n]);
        seen[w][n] = true;
    }
    papyra_record_list_free(l);
    papyra_store_close(s);
    s = st_open("%s", url);
    assert_int_equal(st_counter(s, PAPYRA_METRIC_RECORDS_WRITTEN), WORKERS * PER);
    papyra_store_close(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        REDIS_TEST(test_redis_wrong_password_should_fail_open_clearly),
        REDIS_TEST(test_redis_timeout_should_be_reported_and_the_next_call_reconnect),
        REDIS_TEST(test_redis_reads_should_time_out_and_reconnect_between_pages),
        REDIS_TEST(test_redis_bad_urls_should_be_rejected),
        REDIS_TEST(test_redis_unix_socket_and_db_should_work),
        REDIS_TEST(test_redis_ipv6_url_should_parse),
        REDIS_TEST(test_redis_threads_sharing_a_store_should_lose_nothing),
        REDIS_TEST(test_redis_write_should_not_wait_for_a_blocking_consume),
        REDIS_TEST(test_redis_threads_should_count_exactly_across_a_restart),
        REDIS_TEST(test_redis_concurrent_processes_should_lose_nothing),
        REDIS_TEST(test_redis_write_should_fail_while_down_and_recover_after_restart),
    };

    return redis_run_tests("redis-conn", tests, sizeof(tests) / sizeof(tests[0]));
}
