/* SPDX-License-Identifier: MIT */
/*
 * redis-cluster:// against a real Redis Cluster on loopback: three masters
 * (redis-server --cluster-enabled yes, slots assigned with CLUSTER
 * ADDSLOTSRANGE, joined with CLUSTER MEET) started by this test itself. The
 * key slot function is checked against CLUSTER KEYSLOT; a batch of mixed
 * kinds is written, listed, walked with each, scanned, repaired and
 * compacted, in both key layouts; a consumer group goes round; a slot moved
 * by hand (SETSLOT ... NODE after MIGRATE) is followed through MOVED, and a
 * slot half migrated (MIGRATING / IMPORTING) through ASK, for writes and
 * reads; bad seed lists are refused with a clear message.
 *
 * The chaos helper's harness (tests/redis-cluster-harness.c) starts a
 * cluster with replicas for the resharding and failover tests; these
 * functional tests need no replica and move slots by hand, so the few lines
 * that start three masters live here.
 *
 * Skips (77) when redis-server is missing, unless PAPYRA_TEST_REQUIRE_REDIS=1.
 */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <papyra/metrics.h>
#include <papyra/redis.h>
#include <papyra/store.h>

#include "backends/redis/cluster.h"
#include "redis-harness.h"
#include "store-testutil.h"
#include "testutil.h"

#define NMASTERS 3

static pid_t pids[NMASTERS];
static int ports[NMASTERS];
static char node_ids[NMASTERS][64];
static char *dir;

/* Runs one command on 127.0.0.1:port (2 s timeouts); NULL when the server does not answer. */
static redisReply *
cmd_at(int port, const char *fmt, ...)
{
    redisReply *r;
    va_list ap;

    va_start(ap, fmt);
    r = papyra_test_vcmd_at(port, 2000, fmt, ap);
    va_end(ap);
    return r;
}

/* Runs a command that must answer +OK (or anything but an error). */
static void
ok_at(int port, const char *fmt, ...)
{
    redisReply *r;
    va_list ap;

    va_start(ap, fmt);
    r = papyra_test_vcmd_at(port, 2000, fmt, ap);
    va_end(ap);
    if (!r || r->type == REDIS_REPLY_ERROR)
        fprintf(stderr, "port %d: %s: %s\n", port, fmt, r ? r->str : "no answer");
    assert_non_null(r);
    assert_int_not_equal(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
}

static bool
state_ok(int port)
{
    redisReply *r = cmd_at(port, "CLUSTER INFO");
    bool ok = r && r->type == REDIS_REPLY_STRING && strstr(r->str, "cluster_state:ok") &&
              strstr(r->str, "cluster_known_nodes:3");
    freeReplyObject(r);
    return ok;
}

/* A free port whose cluster bus port (port + 10000) is a port too. */
static int
node_port(void)
{
    for (;;) {
        int p = papyra_test_free_port();
        if (p > 0 && p < 55000)
            return p;
    }
}

/* Whether node *i answers CLUSTER MYID; keeps its id in node_ids. */
static bool
node_up(void *arg)
{
    int i = *(int *)arg;
    redisReply *r = cmd_at(ports[i], "CLUSTER MYID");
    bool up = r && r->type == REDIS_REPLY_STRING;
    if (up)
        (void)snprintf(node_ids[i], sizeof(node_ids[i]), "%s", r->str);
    freeReplyObject(r);
    return up;
}

static int
start_node(int i)
{
    char conf[4200], log[4200], p[16];
    const char *argv[] = {"redis-server",
                          "--port",
                          p,
                          "--bind",
                          "127.0.0.1",
                          "--cluster-enabled",
                          "yes",
                          "--cluster-config-file",
                          conf,
                          "--cluster-node-timeout",
                          "5000",
                          "--dir",
                          dir,
                          "--save",
                          "",
                          "--appendonly",
                          "no",
                          "--daemonize",
                          "no",
                          "--logfile",
                          log,
                          NULL};

    (void)snprintf(conf, sizeof(conf), "%s/nodes-%d.conf", dir, i);
    (void)snprintf(log, sizeof(log), "%s/node-%d.log", dir, i);
    for (int attempt = 0; attempt < 5; attempt++) {
        ports[i] = node_port();
        (void)snprintf(p, sizeof(p), "%d", ports[i]);
        (void)unlink(conf);
        pids[i] = papyra_test_spawn_until(argv, node_up, &i);
        if (pids[i] > 0)
            return 0;
        pids[i] = 0;
    }
    return -1;
}

static void
stop_all(void)
{
    for (int i = 0; i < NMASTERS; i++) {
        papyra_test_reap(&pids[i]);
    }
    if (dir) {
        papyra_test_rmtree(dir);
        free(dir);
        dir = NULL;
    }
}

/* Three masters, 5461/5461/5462 slots, joined and agreed. 0, or -1 with why on stderr. */
static int
start_all(void)
{
    static const int ranges[NMASTERS][2] = {{0, 5460}, {5461, 10922}, {10923, 16383}};
    long long deadline;

    if (!(dir = papyra_test_tmpdir()))
        return -1;
    for (int i = 0; i < NMASTERS; i++) {
        if (start_node(i) != 0) {
            fprintf(stderr, "cluster node %d did not start (see %s)\n", i, dir);
            return -1;
        }
    }
    for (int i = 0; i < NMASTERS; i++) {
        redisReply *r = cmd_at(ports[i], "CLUSTER ADDSLOTSRANGE %d %d", ranges[i][0], ranges[i][1]);
        bool ok = r && r->type != REDIS_REPLY_ERROR;
        freeReplyObject(r);
        if (!ok)
            return -1;
        if (i > 0)
            freeReplyObject(cmd_at(ports[i], "CLUSTER MEET 127.0.0.1 %d", ports[0]));
    }
    deadline = papyra_test_mono_ms() + 20000;
    for (int i = 0; i < NMASTERS; i++) {
        while (!state_ok(ports[i])) {
            if (papyra_test_mono_ms() > deadline) {
                fprintf(stderr, "the cluster did not come up (see %s)\n", dir);
                return -1;
            }
            papyra_test_sleep_ms(50);
        }
    }
    return 0;
}

static int
slot_of(const char *key)
{
    return (int)papyra__cluster_keyslot(key, strlen(key));
}

/* The master that owns @p slot by the ranges start_all() gave out. */
static int
owner(int slot)
{
    return slot <= 5460 ? 0 : slot <= 10922 ? 1 : 2;
}

static void
cluster_url(char *buf, size_t n, const char *params)
{
    /* timeout_ms 3000 unless @p params gives one. */
    bool own = strncmp(params, "timeout_ms=", 11) == 0 || strstr(params, "&timeout_ms=");
    (void)snprintf(buf, n, "redis-cluster://127.0.0.1:%d,127.0.0.1:%d/?metrics=none%s&%s", ports[1],
                   ports[0], own ? "" : "&timeout_ms=3000", params);
}

/* The stream length of @p key on master @p i (-1: it answered an error, such as MOVED). */
static long long
xlen_at(int i, const char *key)
{
    redisReply *r = cmd_at(ports[i], "XLEN %s", key);
    long long n = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    return n;
}

/* CRC16/XMODEM of the spec's vector, and the slot of many keys as the server computes it. */
static void
test_keyslot(void **state)
{
    static const char *const keys[] = {
        "",
        "a",
        "foo",
        "{}",
        "{}a",
        "a{}",
        "{{a}}",
        "{a}}",
        "a{b}c{d}",
        "{a",
        "a}",
        "}{a}",
        "{}{a}",
        "{{}}",
        "x{ab}",
        "{user1000}.following",
        "{user1000}.followers",
        "foo{}{bar}",
        "foo{{bar}}zap",
        "foo{bar}{zap}",
        "papyra:local:events",
        "papyra:local:audits",
        "papyra:local:dead_letters",
        "{papyra:local}:events",
        "{papyra}:local:audits",
        "123456789",
    };
    redisContext *c = papyra_test_connect(ports[0], 2000);
    char key[64];
    (void)state;

    /* The Redis Cluster spec's test vector: CRC16 of "123456789" is 0x31C3. */
    assert_int_equal(slot_of("123456789"), 0x31C3 & 16383);
    assert_non_null(c);
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]) + 500; i++) {
        const char *k = key;
        size_t len;
        redisReply *r;
        if (i < sizeof(keys) / sizeof(keys[0])) {
            k = keys[i];
            len = strlen(k);
        } else {
            /* Pseudo-random keys with braces in them now and then, bytes 1..255. */
            unsigned x = (unsigned)i * 2654435761u;
            len = 1 + x % 40;
            for (size_t j = 0; j < len; j++) {
                x = x * 1103515245u + 12345u;
                key[j] = (x >> 16) % 7 == 0 ? "{}"[(x >> 20) & 1] : (char)(1 + (x >> 8) % 255);
            }
        }
        r = redisCommand(c, "CLUSTER KEYSLOT %b", k, len);
        assert_non_null(r);
        assert_int_equal(r->type, REDIS_REPLY_INTEGER);
        if ((long long)papyra__cluster_keyslot(k, len) != r->integer)
            fprintf(stderr, "key %zu (%zu bytes): ours %u, server %lld\n", i, len,
                    papyra__cluster_keyslot(k, len), r->integer);
        assert_int_equal(papyra__cluster_keyslot(k, len), r->integer);
        freeReplyObject(r);
    }
    redisFree(c);
}

/* Bad seed lists and forms a cluster cannot take: refused, saying why. */
static void
test_url_errors(void **state)
{
    char url[1024], msg[2048];
    int dead = papyra_test_free_port();
    papyra_test_redis single = {0};
    (void)state;

    assert_int_equal(st_open_err("redis-cluster://127.0.0.1:1,/", msg, sizeof(msg)), PAPYRA_EINVAL);
    assert_non_null(strstr(msg, "empty node address"));
    assert_int_equal(st_open_err("redis-cluster://h:0/", msg, sizeof(msg)), PAPYRA_EINVAL);
    assert_non_null(strstr(msg, "bad port in seed 'h:0'"));
    assert_int_equal(st_open_err("redis-cluster://h:7000/3", msg, sizeof(msg)), PAPYRA_EINVAL);
    assert_non_null(strstr(msg, "a cluster has only database 0"));
    assert_int_equal(st_open_err("redis-cluster://h:7000/?db=2", msg, sizeof(msg)), PAPYRA_EINVAL);
    assert_non_null(strstr(msg, "a cluster has only database 0"));
    assert_int_equal(st_open_err("redis-cluster://u:p@h:7000/", msg, sizeof(msg)), PAPYRA_EINVAL);
    assert_non_null(strstr(msg, "?password="));
    assert_int_equal(st_open_err("redis-cluster:///", msg, sizeof(msg)), PAPYRA_EINVAL);
    assert_non_null(strstr(msg, "got no node"));
    assert_int_equal(st_open_err("redis-cluster://h:7000/?key_layout=flat", msg, sizeof(msg)),
                     PAPYRA_EINVAL);
    assert_non_null(strstr(msg, "key_layout must be 'upstream'"));

    /* Nothing listens: every seed's failure is named. */
    (void)snprintf(url, sizeof(url),
                   "redis-cluster://127.0.0.1:%d,127.0.0.1:%d/?metrics=none&connect_timeout_ms=500",
                   dead, dead);
    assert_int_equal(st_open_err(url, msg, sizeof(msg)), PAPYRA_ECONNECT);
    printf("# %s\n", msg);
    assert_non_null(strstr(msg, "no node gave the slot map"));
    {
        char want[64];
        (void)snprintf(want, sizeof(want), "127.0.0.1:%d: ", dead);
        assert_non_null(strstr(msg, want));
    }

    /* A dead first seed is passed over. */
    (void)snprintf(url, sizeof(url), "redis-cluster://127.0.0.1:%d,127.0.0.1:%d/?metrics=none",
                   dead, ports[2]);
    {
        papyra_store *s = st_open("%s", url);
        papyra_store_close(s);
    }

    /* A server that is not a cluster node. */
    assert_int_equal(papyra_test_redis_start(&single), 0);
    (void)snprintf(url, sizeof(url), "redis-cluster://127.0.0.1:%d/?metrics=none", single.port);
    assert_int_equal(st_open_err(url, msg, sizeof(msg)), PAPYRA_ECONNECT);
    printf("# %s\n", msg);
    assert_non_null(strstr(msg, "not a cluster node"));
    papyra_test_redis_stop(&single);
}

/* Writes 3 x 4 records of mixed kinds in one batch, then reads them back every way. */
static void
roundtrip(const char *params, const char *keys[3], bool one_slot)
{
    char url[1024];
    papyra_store *s;
    papyra_record recs[12];
    double t0 = papyra_test_now_s();
    uint64_t before;
    int where[3];

    cluster_url(url, sizeof(url), params);
    s = st_open("%s", url);
    for (int i = 0; i < 12; i++) {
        if (i % 3 == 0)
            recs[i] = st_event(i, t0 + i * 0.001);
        else if (i % 3 == 1)
            recs[i] = st_audit(i, t0 + i * 0.001);
        else
            recs[i] = st_dead_letter("\"payload\"", t0 + i * 0.001);
    }
    before = st_counter(s, PAPYRA_METRIC_RECORDS_WRITTEN);
    assert_int_equal(papyra_store_write_batch(s, recs, 12), 0);
    assert_int_equal(papyra_store_write(s, &recs[0]), 0);
    assert_int_equal(st_counter(s, PAPYRA_METRIC_RECORDS_WRITTEN) - before, 13);
    st_assert_count(s, PAPYRA_KIND_EVENT, 5);
    st_assert_count(s, PAPYRA_KIND_AUDIT, 4);
    st_assert_count(s, PAPYRA_KIND_DEAD_LETTER, 4);
    {
        papyra_record_list *l = st_list(s, PAPYRA_KIND_AUDIT, -1, 2);
        assert_int_equal(l->count, 2);
        papyra_record_list_free(l);
    }
    /* Each stream is on the master of its slot, and nowhere else. */
    for (int k = 0; k < 3; k++) {
        where[k] = owner(slot_of(keys[k]));
        assert_int_equal(xlen_at(where[k], keys[k]), k == 0 ? 5 : 4);
    }
    if (one_slot)
        assert_true(slot_of(keys[0]) == slot_of(keys[1]) && slot_of(keys[1]) == slot_of(keys[2]));
    else
        assert_true(slot_of(keys[0]) != slot_of(keys[1]) || slot_of(keys[1]) != slot_of(keys[2]));
    st_assert_scan(s, 0);
    papyra_store_close(s);
}

static void
test_roundtrip_upstream_layout(void **state)
{
    const char *keys[3] = {"rt:local:events", "rt:local:audits", "rt:local:dead_letters"};
    (void)state;
    roundtrip("prefix=rt", keys, false);
}

static void
test_roundtrip_hashtag_layout(void **state)
{
    const char *keys[3] = {"{rth:local}:events", "{rth:local}:audits", "{rth:local}:dead_letters"};
    (void)state;
    roundtrip("prefix=rth&key_layout=hashtag", keys, true);
}

static void
test_roundtrip_tagged_prefix(void **state)
{
    /* A prefix holding a hash tag keeps upstream's names and one slot. */
    const char *keys[3] = {"{tp}:local:events", "{tp}:local:audits", "{tp}:local:dead_letters"};
    (void)state;
    roundtrip("prefix=%7Btp%7D", keys, true);
}

/* A bad entry is found by scan, quarantined by recover, and compact leaves the good ones. */
static void
maint_layout(const char *params, const char *key, const char *qkey)
{
    char url[1024];
    papyra_store *s;
    papyra_record rec = st_event(1, papyra_test_now_s());
    papyra_recovery_options ro = {.mode = PAPYRA_RECOVER_QUARANTINE};
    papyra_recovery_report *rep = NULL;
    papyra_compaction_report cr = {0};
    int at = owner(slot_of(key));

    cluster_url(url, sizeof(url), params);
    s = st_open("%s", url);
    assert_int_equal(papyra_store_write(s, &rec), 0);
    ok_at(ports[at], "XADD %s * data %s", key, "not-json");
    assert_int_equal(papyra_store_write(s, &rec), 0);
    st_assert_scan(s, 1);
    st_assert_anomaly(s, PAPYRA_ANOMALY_CORRUPTED_LINE, "Invalid JSON payload in stream entry");
    assert_int_equal(papyra_store_recover(s, &ro, &rep), 0);
    assert_int_equal(rep->n_quarantined, 1);
    assert_string_equal(rep->quarantined[0], qkey);
    papyra_recovery_report_free(rep);
    /* The copy is on its slot's master; the stream kept its two good entries. */
    assert_int_equal(xlen_at(owner(slot_of(qkey)), qkey), 1);
    assert_int_equal(xlen_at(at, key), 2);
    st_assert_scan(s, 0);
    ok_at(ports[at], "XADD %s * data %s", key, "[1]");
    assert_int_equal(papyra_store_compact(s, &cr), 0);
    assert_int_equal(cr.before_records, 3);
    assert_int_equal(cr.after_records, 2);
    st_assert_count(s, PAPYRA_KIND_EVENT, 2);
    papyra_store_close(s);
}

static void
test_maint(void **state)
{
    (void)state;
    maint_layout("prefix=mt", "mt:local:events", "mt:local:quarantine:mt_local_events");
    maint_layout("prefix=mth&key_layout=hashtag", "{mth:local}:events",
                 "{mth:local}:quarantine:{mth_local}_events");
}

/* A consumer group round trip, with a malformed entry quarantined on the way. */
static void
test_group(void **state)
{
    char url[1024];
    papyra_store *s;
    papyra_record recs[3];
    papyra_redis_entries *e = NULL;
    papyra_redis_pending *p = NULL;
    const char *ids[3];
    size_t acked = 0;
    (void)state;

    cluster_url(url, sizeof(url), "prefix=grp");
    s = st_open("%s", url);
    assert_int_equal(papyra_redis_group_ensure(s, PAPYRA_KIND_EVENT, "g", "0"), 0);
    assert_int_equal(papyra_redis_group_ensure(s, PAPYRA_KIND_EVENT, "g", "0"), 0);
    for (int i = 0; i < 3; i++)
        recs[i] = st_event(i, papyra_test_now_s());
    assert_int_equal(papyra_store_write_batch(s, recs, 3), 0);
    ok_at(ports[owner(slot_of("grp:local:events"))], "XADD grp:local:events * data nope");
    assert_int_equal(papyra_redis_consume(s, PAPYRA_KIND_EVENT, "g", "c1", 10, 0, NULL, &e), 0);
    assert_int_equal(e->count, 3);
    assert_int_equal(e->n_quarantined, 1);
    assert_int_equal(xlen_at(owner(slot_of("grp:local:quarantine:grp_local_events")),
                             "grp:local:quarantine:grp_local_events"),
                     1);
    assert_int_equal(papyra_redis_pending_summary(s, PAPYRA_KIND_EVENT, "g", &p), 0);
    assert_int_equal(p->pending, 3);
    papyra_redis_pending_free(p);
    for (int i = 0; i < 3; i++)
        ids[i] = e->entries[i].id;
    assert_int_equal(papyra_redis_ack(s, PAPYRA_KIND_EVENT, "g", ids, 3, &acked), 0);
    assert_int_equal(acked, 3);
    papyra_redis_entries_free(e);
    assert_int_equal(papyra_redis_pending_summary(s, PAPYRA_KIND_EVENT, "g", &p), 0);
    assert_int_equal(p->pending, 0);
    papyra_redis_pending_free(p);
    papyra_store_close(s);
}

/* Starts moving @p slot from master @p from to master @p to (IMPORTING, then MIGRATING). */
static void
migrate_begin(int slot, int from, int to)
{
    ok_at(ports[to], "CLUSTER SETSLOT %d IMPORTING %s", slot, node_ids[from]);
    ok_at(ports[from], "CLUSTER SETSLOT %d MIGRATING %s", slot, node_ids[to]);
}

static void
migrate_key(const char *key, int from, int to)
{
    ok_at(ports[from], "MIGRATE 127.0.0.1 %d %s 0 5000", ports[to], key);
}

/* Ends the move: every master is told the new owner. */
static void
migrate_end(int slot, int to)
{
    for (int i = 0; i < NMASTERS; i++)
        ok_at(ports[i], "CLUSTER SETSLOT %d NODE %s", slot, node_ids[to]);
}

/* A slot moved by hand after the store read the map: writes and reads follow MOVED. */
static void
test_moved(void **state)
{
    const char *key = "mv:local:events";
    int slot = slot_of(key), from = owner(slot), to = (from + 1) % NMASTERS;
    char url[1024];
    papyra_store *s;
    papyra_record recs[4];
    (void)state;

    cluster_url(url, sizeof(url), "prefix=mv");
    s = st_open("%s", url);
    for (int i = 0; i < 4; i++)
        recs[i] = st_event(i, papyra_test_now_s());
    assert_int_equal(papyra_store_write_batch(s, recs, 2), 0);
    migrate_begin(slot, from, to);
    migrate_key(key, from, to);
    migrate_end(slot, to);
    assert_int_equal(xlen_at(to, key), 2);
    /* The store's map still names the old master: the write is answered MOVED, nothing
     * applied, and goes to the new one. */
    assert_int_equal(papyra_store_write_batch(s, recs + 2, 2), 0);
    assert_int_equal(papyra_store_write(s, &recs[0]), 0);
    assert_int_equal(xlen_at(to, key), 5);
    assert_int_equal(xlen_at(from, key), -1); /* MOVED: not there */
    st_assert_count(s, PAPYRA_KIND_EVENT, 5);
    st_assert_scan(s, 0);
    papyra_store_close(s);

    /* Reads first, from a fresh handle after a second move back. */
    s = st_open("%s", url);
    migrate_begin(slot, to, from);
    migrate_key(key, to, from);
    migrate_end(slot, from);
    st_assert_count(s, PAPYRA_KIND_EVENT, 5);
    {
        papyra_compaction_report cr = {0};
        assert_int_equal(papyra_store_compact(s, &cr), 0);
        assert_int_equal(cr.before_records, 5);
    }
    papyra_store_close(s);
}

/* A slot half migrated: the key still on the source is served there; once moved, ASK. */
static void
test_ask(void **state)
{
    const char *key = "ask:local:events";
    int slot = slot_of(key), from = owner(slot), to = (from + 2) % NMASTERS;
    char url[1024];
    papyra_store *s;
    papyra_record recs[3];
    papyra_list_options lo = {0};
    size_t seen = 0;
    (void)state;

    cluster_url(url, sizeof(url), "prefix=ask");
    s = st_open("%s", url);
    for (int i = 0; i < 3; i++)
        recs[i] = st_event(i, papyra_test_now_s());
    assert_int_equal(papyra_store_write_batch(s, recs, 2), 0);
    migrate_begin(slot, from, to);
    /* Not moved yet: the source serves it. */
    assert_int_equal(papyra_store_write(s, &recs[2]), 0);
    assert_int_equal(xlen_at(from, key), 3);
    st_assert_count(s, PAPYRA_KIND_EVENT, 3);
    /* Moved: the source answers ASK; the store asks the importing master with ASKING. */
    migrate_key(key, from, to);
    assert_int_equal(papyra_store_write_batch(s, recs, 3), 0);
    assert_int_equal(papyra_store_write(s, &recs[0]), 0);
    st_assert_count(s, PAPYRA_KIND_EVENT, 7);
    assert_int_equal(papyra_store_each(s, PAPYRA_KIND_EVENT, &lo, st_count_each, &seen), 0);
    assert_int_equal(seen, 7);
    lo.limit = 2;
    seen = 0;
    assert_int_equal(papyra_store_each(s, PAPYRA_KIND_EVENT, &lo, st_count_each, &seen), 0);
    assert_int_equal(seen, 2);
    st_assert_scan(s, 0);
    migrate_end(slot, to);
    {
        redisReply *r = cmd_at(ports[to], "XLEN %s", key);
        assert_non_null(r);
        assert_int_equal(r->integer, 7);
        freeReplyObject(r);
    }
    st_assert_count(s, PAPYRA_KIND_EVENT, 7);
    papyra_store_close(s);
}

/*
 * A batch over three slots where one slot's transaction fails: the others are stored, the
 * message says which records were and were not, and the counters say what the caller was told.
 */
static void
test_partial_batch(void **state)
{
    char url[1024];
    papyra_store *s;
    papyra_record recs[6];
    uint64_t before_w, before_e;
    const char *msg;
    int rc;
    (void)state;

    cluster_url(url, sizeof(url), "prefix=pb");
    s = st_open("%s", url);
    ok_at(ports[owner(slot_of("pb:local:audits"))], "SET pb:local:audits not-a-stream");
    for (int i = 0; i < 6; i++)
        recs[i] = i % 2 ? st_audit(i, papyra_test_now_s()) : st_event(i, papyra_test_now_s());
    before_w = st_counter(s, PAPYRA_METRIC_RECORDS_WRITTEN);
    before_e = st_counter(s, PAPYRA_METRIC_WRITE_ERRORS);
    rc = papyra_store_write_batch(s, recs, 6);
    msg = papyra_store_errmsg(s);
    printf("# %s\n", msg);
    assert_int_equal(rc, PAPYRA_EPROTO);
    assert_non_null(strstr(msg, "WRONGTYPE"));
    assert_non_null(strstr(msg, "the batch of 6 spans 2 slots, each all or nothing"));
    assert_non_null(strstr(msg, "records 0, 2, 4 (pb:local:events, slot"));
    assert_non_null(strstr(msg, ") stored"));
    assert_non_null(strstr(msg, "records 1, 3, 5 (pb:local:audits, slot"));
    assert_non_null(strstr(msg, ") not stored"));
    assert_int_equal(st_counter(s, PAPYRA_METRIC_RECORDS_WRITTEN) - before_w, 3);
    assert_int_equal(st_counter(s, PAPYRA_METRIC_WRITE_ERRORS) - before_e, 1);
    st_assert_count(s, PAPYRA_KIND_EVENT, 3);
    papyra_store_close(s);
}

/* wait_replicas on a cluster without replicas: WAIT runs on the master written to, and says so. */
static void
test_wait_replicas(void **state)
{
    char url[1024];
    papyra_store *s;
    papyra_record recs[2];
    uint64_t before_w;
    int rc;
    (void)state;

    cluster_url(url, sizeof(url),
                "prefix=wr&key_layout=hashtag&wait_replicas=1&wait_timeout_ms=50");
    s = st_open("%s", url);
    recs[0] = st_event(0, papyra_test_now_s());
    recs[1] = st_audit(1, papyra_test_now_s());
    before_w = st_counter(s, PAPYRA_METRIC_RECORDS_WRITTEN);
    rc = papyra_store_write_batch(s, recs, 2);
    printf("# %s\n", papyra_store_errmsg(s));
    assert_int_equal(rc, PAPYRA_ETIMEDOUT);
    assert_non_null(strstr(papyra_store_errmsg(s), "acknowledged by 0 of 1 replicas"));
    assert_non_null(strstr(papyra_store_errmsg(s), "records 0, 1 ({wr:local}:events, slot"));
    assert_int_equal(st_counter(s, PAPYRA_METRIC_RECORDS_WRITTEN) - before_w, 2);
    st_assert_count(s, PAPYRA_KIND_EVENT, 1);
    papyra_store_close(s);
}

/* Gives @p slot back to master @p to after @p ms (a thread of its own). */
typedef struct slot_back {
    int slot, to;
    long ms;
} slot_back;

static void *
slot_back_main(void *arg)
{
    slot_back *b = arg;
    redisReply *r;
    papyra_test_sleep_ms(b->ms);
    r = cmd_at(ports[b->to], "CLUSTER ADDSLOTS %d", b->slot);
    freeReplyObject(r);
    return NULL;
}

/*
 * A slot its master no longer serves: CLUSTERDOWN. A read and a write wait and try again
 * within timeout_ms; past it the error names the reply, and nothing is counted as stored.
 */
static void
test_clusterdown(void **state)
{
    const char *key = "cd:local:events";
    int slot = slot_of(key), at = owner(slot);
    char url[1024];
    papyra_store *s;
    papyra_record rec = st_event(1, papyra_test_now_s());
    papyra_record_list *l = NULL;
    uint64_t before_w;
    pthread_t th;
    slot_back back = {.slot = slot, .to = at, .ms = 300};
    int rc;
    (void)state;

    cluster_url(url, sizeof(url), "prefix=cd");
    s = st_open("%s", url);
    assert_int_equal(papyra_store_write(s, &rec), 0);
    papyra_store_close(s);
    cluster_url(url, sizeof(url), "prefix=cd&timeout_ms=400");
    s = st_open("%s", url);
    ok_at(ports[at], "CLUSTER DELSLOTS %d", slot);
    before_w = st_counter(s, PAPYRA_METRIC_RECORDS_WRITTEN);
    rc = papyra_store_write(s, &rec);
    printf("# %s\n", papyra_store_errmsg(s));
    assert_int_equal(rc, PAPYRA_EPROTO);
    assert_non_null(strstr(papyra_store_errmsg(s), "CLUSTERDOWN"));
    assert_int_equal(st_counter(s, PAPYRA_METRIC_RECORDS_WRITTEN) - before_w, 0);
    rc = papyra_store_list(s, PAPYRA_KIND_EVENT, NULL, &l);
    printf("# %s\n", papyra_store_errmsg(s));
    assert_int_equal(rc, PAPYRA_EPROTO);
    assert_non_null(strstr(papyra_store_errmsg(s), "CLUSTERDOWN"));
    papyra_store_close(s);

    /* Served again while the calls wait: they go through. */
    cluster_url(url, sizeof(url), "prefix=cd&timeout_ms=5000");
    s = st_open("%s", url);
    assert_int_equal(pthread_create(&th, NULL, slot_back_main, &back), 0);
    assert_int_equal(papyra_store_write(s, &rec), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    ok_at(ports[at], "CLUSTER DELSLOTS %d", slot);
    assert_int_equal(pthread_create(&th, NULL, slot_back_main, &back), 0);
    st_assert_count(s, PAPYRA_KIND_EVENT, 2);
    assert_int_equal(pthread_join(th, NULL), 0);
    papyra_store_close(s);
}

#define NTHREADS 4
#define NBATCHES 40

typedef struct writer {
    papyra_store *s;
    int id;
    int acked; /* batches acknowledged */
} writer;

static void *
writer_main(void *arg)
{
    writer *w = arg;
    for (int b = 0; b < NBATCHES; b++) {
        papyra_record recs[6];
        for (int i = 0; i < 6; i++)
            recs[i] = i % 2 ? st_audit(w->id * 1000 + b, papyra_test_now_s())
                            : st_event(w->id * 1000 + b, papyra_test_now_s());
        if (papyra_store_write_batch(w->s, recs, 6) == 0)
            w->acked++;
    }
    return NULL;
}

/* Threads share one handle while a slot moves under them: every batch is stored once. */
static void
test_threads(void **state)
{
    const char *key = "th:local:events";
    int slot = slot_of(key), from = owner(slot), to = (from + 1) % NMASTERS;
    char url[1024];
    papyra_store *s;
    pthread_t th[NTHREADS];
    writer w[NTHREADS];
    int acked = 0;
    (void)state;

    cluster_url(url, sizeof(url), "prefix=th&connections=2");
    s = st_open("%s", url);
    for (int i = 0; i < NTHREADS; i++) {
        w[i] = (writer){.s = s, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, writer_main, &w[i]), 0);
    }
    papyra_test_sleep_ms(20);
    migrate_begin(slot, from, to);
    migrate_key(key, from, to);
    migrate_end(slot, to);
    for (int i = 0; i < NTHREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        acked += w[i].acked;
    }
    printf("# %d of %d batches acknowledged\n", acked, NTHREADS * NBATCHES);
    assert_int_equal(acked, NTHREADS * NBATCHES);
    st_assert_count(s, PAPYRA_KIND_EVENT, (size_t)acked * 3);
    st_assert_count(s, PAPYRA_KIND_AUDIT, (size_t)acked * 3);
    assert_int_equal(st_counter(s, PAPYRA_METRIC_RECORDS_WRITTEN), (uint64_t)acked * 6);
    papyra_store_close(s);
}

#ifdef PAPYRA_HAVE_REDIS_TLS

/*
 * rediss-cluster://: two masters that take TLS only (--port 0, --tls-port,
 * --tls-cluster yes), set up with redis-cli --tls; a batch over both is
 * written and read back, every node connection shaking hands with the
 * store's TLS context. Certificates are made with openssl at test time.
 */
static pid_t tls_pids[2];
static int tls_ports[2];

/* Runs redis-cli --tls against tls node @p i; 0 when it exits 0 and prints @p want (if any). */
static int
tls_cli(int i, const char *want, const char *args)
{
    char cmd[16384];
    (void)snprintf(cmd, sizeof(cmd),
                   "redis-cli --tls --cacert '%s/ca.crt' -h 127.0.0.1 -p %d %s 2>&1 %s%s%s", dir,
                   tls_ports[i], args, want ? "| grep -q '" : ">/dev/null", want ? want : "",
                   want ? "'" : "");
    return system(cmd) == 0 ? 0 : -1;
}

static int
tls_cluster_start(void)
{
    char cmd[8192], meet[64], p[16], crt[4200], key[4200], ca[4200], conf[4200], log[4200];
    long long deadline;

    (void)snprintf(cmd, sizeof(cmd),
                   "cd '%s' && (openssl req -x509 -newkey ec -pkeyopt "
                   "ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.crt -days 2 "
                   "-subj /CN=papyra-cluster-ca && openssl req -new -newkey ec -pkeyopt "
                   "ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr "
                   "-subj /CN=localhost && printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' "
                   "> server.ext && openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key "
                   "-CAcreateserial -out server.crt -days 2 -extfile server.ext) >openssl.log 2>&1",
                   dir);
    if (system(cmd) != 0)
        return -1;
    (void)snprintf(crt, sizeof(crt), "%s/server.crt", dir);
    (void)snprintf(key, sizeof(key), "%s/server.key", dir);
    (void)snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
    for (int i = 0; i < 2; i++) {
        tls_ports[i] = node_port();
        (void)snprintf(p, sizeof(p), "%d", tls_ports[i]);
        (void)snprintf(conf, sizeof(conf), "%s/tls-nodes-%d.conf", dir, i);
        (void)snprintf(log, sizeof(log), "%s/tls-node-%d.log", dir, i);
        if ((tls_pids[i] = fork()) < 0)
            return -1;
        if (tls_pids[i] == 0) {
            execlp("redis-server", "redis-server", "--port", "0", "--tls-port", p, "--bind",
                   "127.0.0.1", "--tls-cluster", "yes", "--tls-cert-file", crt, "--tls-key-file",
                   key, "--tls-ca-cert-file", ca, "--tls-auth-clients", "no", "--cluster-enabled",
                   "yes", "--cluster-config-file", conf, "--dir", dir, "--save", "", "--appendonly",
                   "no", "--logfile", log, (char *)NULL);
            _exit(127);
        }
    }
    deadline = papyra_test_mono_ms() + 10000;
    for (int i = 0; i < 2; i++) {
        while (tls_cli(i, "PONG", "PING") != 0) {
            if (papyra_test_mono_ms() > deadline)
                return -1;
            papyra_test_sleep_ms(50);
        }
    }
    if (tls_cli(0, NULL, "CLUSTER ADDSLOTSRANGE 0 5000") != 0 ||
        tls_cli(1, NULL, "CLUSTER ADDSLOTSRANGE 5001 16383") != 0)
        return -1;
    (void)snprintf(meet, sizeof(meet), "CLUSTER MEET 127.0.0.1 %d", tls_ports[0]);
    if (tls_cli(1, NULL, meet) != 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        while (tls_cli(i, "cluster_state:ok", "CLUSTER INFO") != 0) {
            if (papyra_test_mono_ms() > deadline)
                return -1;
            papyra_test_sleep_ms(50);
        }
    }
    return 0;
}

static void
tls_cluster_stop(void)
{
    for (int i = 0; i < 2; i++) {
        papyra_test_reap(&tls_pids[i]);
    }
}

static void
test_tls(void **state)
{
    char url[8192];
    papyra_store *s;
    papyra_record recs[6];
    int rc;
    (void)state;

    rc = tls_cluster_start();
    if (rc != 0)
        fprintf(stderr, "the TLS cluster did not come up (see %s)\n", dir);
    assert_int_equal(rc, 0);
    /* "tls:local:events" and "tls:local:audits" are on the two masters. */
    assert_true((slot_of("tls:local:events") <= 5000) != (slot_of("tls:local:audits") <= 5000));
    (void)snprintf(url, sizeof(url),
                   "rediss-cluster://127.0.0.1:%d/?metrics=none&prefix=tls&tls_ca=%s/ca.crt",
                   tls_ports[1], dir);
    s = st_open("%s", url);
    for (int i = 0; i < 6; i++)
        recs[i] = i % 2 ? st_audit(i, papyra_test_now_s()) : st_event(i, papyra_test_now_s());
    assert_int_equal(papyra_store_write_batch(s, recs, 6), 0);
    st_assert_count(s, PAPYRA_KIND_EVENT, 3);
    st_assert_count(s, PAPYRA_KIND_AUDIT, 3);
    papyra_store_close(s);
    /* Plain TCP to the TLS-only nodes fails cleanly. */
    {
        char msg[2048];
        (void)snprintf(url, sizeof(url),
                       "redis-cluster://127.0.0.1:%d/?metrics=none&connect_timeout_ms=1000&"
                       "timeout_ms=1000",
                       tls_ports[0]);
        assert_int_equal(st_open_err(url, msg, sizeof(msg)), PAPYRA_ECONNECT);
        printf("# %s\n", msg);
        assert_non_null(strstr(msg, "no node gave the slot map"));
    }
    tls_cluster_stop();
}

#else

static void
test_tls(void **state)
{
    char msg[2048];
    (void)state;
    /* A build without hiredis_ssl refuses rediss-cluster:// and says what it lacks. */
    assert_int_equal(st_open_err("rediss-cluster://127.0.0.1:1/?metrics=none", msg, sizeof(msg)),
                     PAPYRA_EUNSUPPORTED);
    assert_non_null(strstr(msg, "hiredis_ssl"));
}

#endif

/* What a server's error reply asks for, hostile replies included: never UB, never a wrong redirect.
 */
static void
test_parse_redir(void **state)
{
    static const struct {
        const char *reply;
        papyra__cluster_redir_type type;
        int slot, port;
        const char *host;
    } cases[] = {
        {"MOVED 3999 127.0.0.1:6381", PAPYRA_CLUSTER_MOVED, 3999, 6381, "127.0.0.1"},
        {"ASK 0 ::1:7000", PAPYRA_CLUSTER_ASK, 0, 7000, "::1"},
        {"MOVED 16383 :7002", PAPYRA_CLUSTER_MOVED, 16383, 7002, ""},
        {"TRYAGAIN Multiple keys request during rehashing of slot", PAPYRA_CLUSTER_TRYAGAIN, 0, 0,
         NULL},
        {"CLUSTERDOWN The cluster is down", PAPYRA_CLUSTER_CLUSTERDOWN, 0, 0, NULL},
        {"MOVED 16384 127.0.0.1:7000", PAPYRA_CLUSTER_NONE, 0, 0, NULL},
        {"MOVED 99999999999999999999999999999 127.0.0.1:7000", PAPYRA_CLUSTER_NONE, 0, 0, NULL},
        {"MOVED 12 127.0.0.1:99999", PAPYRA_CLUSTER_NONE, 0, 0, NULL},
        {"MOVED 12 127.0.0.1", PAPYRA_CLUSTER_NONE, 0, 0, NULL},
        {"MOVED 12", PAPYRA_CLUSTER_NONE, 0, 0, NULL},
        {"MOVED ", PAPYRA_CLUSTER_NONE, 0, 0, NULL},
        {"ASK x 127.0.0.1:7000", PAPYRA_CLUSTER_NONE, 0, 0, NULL},
        {"WRONGTYPE Operation against a key", PAPYRA_CLUSTER_NONE, 0, 0, NULL},
        {"", PAPYRA_CLUSTER_NONE, 0, 0, NULL},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        papyra__cluster_redir r;
        memset(&r, 0x5a, sizeof(r));
        papyra__cluster_redir_type t =
            papyra__cluster_parse_redir(cases[i].reply, strlen(cases[i].reply), &r);
        printf("# '%s' -> %d\n", cases[i].reply, (int)t);
        assert_int_equal(t, cases[i].type);
        assert_int_equal(r.type, cases[i].type);
        if (cases[i].host) {
            assert_int_equal(r.slot, cases[i].slot);
            assert_int_equal(r.port, cases[i].port);
            assert_string_equal(r.host, cases[i].host);
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyslot),
        cmocka_unit_test(test_parse_redir),
        cmocka_unit_test(test_url_errors),
        cmocka_unit_test(test_roundtrip_upstream_layout),
        cmocka_unit_test(test_roundtrip_hashtag_layout),
        cmocka_unit_test(test_roundtrip_tagged_prefix),
        cmocka_unit_test(test_maint),
        cmocka_unit_test(test_group),
        cmocka_unit_test(test_moved),
        cmocka_unit_test(test_ask),
        cmocka_unit_test(test_partial_batch),
        cmocka_unit_test(test_wait_replicas),
        cmocka_unit_test(test_clusterdown),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_tls),
    };
    int rc;

    if (!papyra_test_redis_available())
        return papyra_test_redis_skip("redis-server (which also runs the cluster) is not on PATH");
    if (start_all() != 0) {
        stop_all();
        return 1;
    }
    rc = cmocka_run_group_tests_name("redis-cluster", tests, NULL, NULL);
#ifdef PAPYRA_HAVE_REDIS_TLS
    tls_cluster_stop();
#endif
    stop_all();
    return rc;
}
