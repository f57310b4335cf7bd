/* SPDX-License-Identifier: MIT */
/*
 * redis-cluster:// under resharding and failover, against a cluster of its
 * own (redis-cluster-harness.h: three masters, one replica each, on
 * loopback). Several writer threads share one store and write mixed batches
 * (events and dead letters, so the default key layout spans two slots and the
 * hash-tag layout one), each record carrying a unique id ("chaos://N") in its
 * actor address or payload, while the main thread
 *
 *  (a) moves the slots of the store's keys between masters by hand (SETSLOT,
 *      MIGRATE, each half-migrated state held 300 ms so that writes meet ASK
 *      and TRYAGAIN) and reshards 100 other slots with redis-cli, three times;
 *  (b) with wait_replicas=1, kills the master of the store's keys with
 *      SIGKILL (its replica is promoted; the killed node is restarted as a
 *      replica), and separately fails a master over gracefully with CLUSTER
 *      FAILOVER.
 *
 * Afterwards every id is looked up both through the library (list) and with
 * XRANGE on every stream key of the store's prefix on every master: found ⊇
 * acknowledged (a call that returned 0, times its batch size), nothing found
 * twice, nothing found that was never written, and the store's counters equal
 * what the callers were told: records_written = the acknowledged records plus
 * those that error messages said were stored, write_errors = the failed calls.
 * Each case runs with the default key layout and with the hash-tag layout and
 * prints its figures.
 *
 * Skips (77) when redis-server or redis-cli is missing, unless
 * PAPYRA_TEST_REQUIRE_REDIS=1.
 */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <papyra/metrics.h>
#include <papyra/store.h>

#include "redis-cluster-harness.h"
#include "store-testutil.h"

#define NTHREADS 4
#define BATCH 16
#define PER_THREAD 200000 /* ids of thread t: t * PER_THREAD + n */
#define MAXID (NTHREADS * PER_THREAD)
/* A pause after each acknowledged batch: enough writes during every move, and few enough
 * records that reading them all back stays quick under the sanitizers. */
#define PACE_MS 5

static papyra_test_cluster cluster;

/* What one case saw; reset by run_start(). */
static atomic_uchar outcome[MAXID]; /* 0 not written, 1 acknowledged, 2 its call failed */
static atomic_long acked, failed_calls, told_stored, attempted;
static atomic_bool stop_writers;
static pthread_mutex_t err_lock = PTHREAD_MUTEX_INITIALIZER;
static char first_error[1024], last_error[1024];
/* The first failed calls' messages and what was read from them, shown when counters differ. */
#define NKEPT 32
static char kept[NKEPT][1024];
static long kept_told[NKEPT];
static int nkept;

/*
 * How many of a failed call's @p n records its message says were stored: on
 * a cluster, the records of the slot groups listed as "stored" ("...; the
 * batch of 16 spans 2 slots, each all or nothing: records 0, 1, 2 (key, slot
 * 5) stored; records 3, 7 (key, slot 9) not stored (not sent)"), which is the
 * word that counts even when a WAIT on one master says "stored on the
 * master"; on one server "k of the batch's n records were stored", or all of
 * them for "stored on the master" (a WAIT shortfall, or a WAIT lost); else 0.
 */
static long
stored_per_message(const char *msg, long n)
{
    static const char groups[] = "each all or nothing: ";
    const char *p;
    long k, total = 0;

    if ((p = strstr(msg, groups))) {
        for (p += sizeof(groups) - 1; *p;) {
            const char *end = strstr(p, "; ");
            size_t len = end ? (size_t)(end - p) : strlen(p);
            char part[2048], *paren, *state, *all;
            long count = 1;

            (void)snprintf(part, sizeof(part), "%.*s", (int)len, p);
            p = end ? end + 2 : p + len;
            state = strrchr(part, ')');
            if (!(paren = strchr(part, '(')) || !state)
                continue;
            if ((all = strstr(part, " in all)")) && all > paren) {
                while (all > part && all[-1] >= '0' && all[-1] <= '9')
                    all--;
                count = atol(all);
            } else {
                for (const char *c = part; c < paren; c++)
                    count += *c == ',';
            }
            if (strcmp(state + 1, " stored") == 0)
                total += count;
        }
        return total;
    }
    if ((p = strstr(msg, " of the batch's "))) {
        while (p > msg && p[-1] >= '0' && p[-1] <= '9')
            p--;
        if (sscanf(p, "%ld of the batch's", &k) == 1)
            return k;
    }
    if (strstr(msg, "stored on the master"))
        return n;
    return 0;
}

/* Writes batches of BATCH records (every fourth a dead letter) until told to stop. */
static void *
writer(void *arg)
{
    papyra_store *s = ((void **)arg)[0];
    int t = (int)(intptr_t)((void **)arg)[1];
    char text[BATCH][48];
    papyra_record recs[BATCH];

    for (int seq = 0; seq + BATCH <= PER_THREAD && !atomic_load(&stop_writers); seq += BATCH) {
        int base = t * PER_THREAD + seq, rc;
        for (int i = 0; i < BATCH; i++) {
            (void)snprintf(text[i], sizeof(text[i]), "\"chaos://%d\"", base + i);
            recs[i] = i % 4 == 3 ? st_dead_letter(text[i], papyra_test_now_s())
                                 : st_event_addr(text[i], papyra_test_now_s());
        }
        rc = papyra_store_write_batch(s, recs, BATCH);
        atomic_fetch_add(&attempted, BATCH);
        for (int i = 0; i < BATCH; i++)
            atomic_store(&outcome[base + i], rc == 0 ? 1 : 2);
        if (rc == 0) {
            atomic_fetch_add(&acked, BATCH);
            papyra_test_sleep_ms(PACE_MS);
        } else {
            const char *msg = papyra_store_errmsg(s);
            long told = stored_per_message(msg, BATCH);
            atomic_fetch_add(&failed_calls, 1);
            atomic_fetch_add(&told_stored, told);
            pthread_mutex_lock(&err_lock);
            if (nkept < NKEPT) {
                (void)snprintf(kept[nkept], sizeof(kept[nkept]), "%s", msg);
                kept_told[nkept++] = told;
            }
            if (!first_error[0])
                (void)snprintf(first_error, sizeof(first_error), "%s", msg);
            (void)snprintf(last_error, sizeof(last_error), "%s", msg);
            pthread_mutex_unlock(&err_lock);
            papyra_test_sleep_ms(10);
        }
    }
    return NULL;
}

typedef struct run {
    papyra_store *s;
    pthread_t th[NTHREADS];
    int nthreads; /* started and not yet joined */
    void *args[NTHREADS][2];
    uint64_t written0, errors0;
    char prefix[64];
} run;

/* The case running; its teardown stops the writers and closes the store even after a failure. */
static run cur;

static const char *
layout_param(bool hashtag)
{
    return hashtag ? "&key_layout=hashtag" : "";
}

/* Opens the store on the cluster and starts the writers. */
static void
run_start(run *r, const char *name, bool hashtag, const char *params)
{
    char *seeds = papyra_test_cluster_seeds(&cluster);

    assert_non_null(seeds);
    memset(outcome, 0, sizeof(outcome));
    atomic_store(&acked, 0);
    atomic_store(&failed_calls, 0);
    atomic_store(&told_stored, 0);
    atomic_store(&attempted, 0);
    atomic_store(&stop_writers, false);
    first_error[0] = last_error[0] = '\0';
    nkept = 0;
    (void)snprintf(r->prefix, sizeof(r->prefix), "chaos-%s-%s", name, hashtag ? "tag" : "plain");
    r->s = st_open("redis-cluster://%s/?prefix=%s&metrics=none%s&%s", seeds, r->prefix,
                   layout_param(hashtag), params);
    free(seeds);
    r->written0 = st_counter(r->s, PAPYRA_METRIC_RECORDS_WRITTEN);
    r->errors0 = st_counter(r->s, PAPYRA_METRIC_WRITE_ERRORS);
    for (int t = 0; t < NTHREADS; t++) {
        r->args[t][0] = r->s;
        r->args[t][1] = (void *)(intptr_t)t;
        assert_int_equal(pthread_create(&r->th[t], NULL, writer, r->args[t]), 0);
        r->nthreads++;
    }
}

/* Waits until @p more records more than now are acknowledged (fails after 30 s). */
static void
wait_acked(long more, const char *when)
{
    long target = atomic_load(&acked) + more;
    long long deadline = papyra_test_mono_ms() + 30000;

    while (atomic_load(&acked) < target) {
        if (papyra_test_mono_ms() > deadline)
            fail_msg("%s: only %ld of %ld records acknowledged in 30 s; last error: %s", when,
                     atomic_load(&acked), target, last_error);
        papyra_test_sleep_ms(10);
    }
}

static void
run_stop(run *r)
{
    atomic_store(&stop_writers, true);
    for (; r->nthreads > 0; r->nthreads--)
        assert_int_equal(pthread_join(r->th[r->nthreads - 1], NULL), 0);
}

/* Per case: writers stopped and joined, store closed, whatever happened. */
static int
run_teardown(void **state)
{
    (void)state;
    run_stop(&cur);
    if (cur.s)
        papyra_store_close(cur.s);
    memset(&cur, 0, sizeof(cur));
    /* A case that failed half-way may leave a node killed: the next one starts whole. */
    for (int i = 0; i < cluster.n; i++)
        if (cluster.node[i].pid <= 0 &&
            papyra_test_cluster_restart(&cluster, cluster.node[i].port) != 0)
            return -1;
    return 0;
}

/* The id in a record's (or a stream entry's) text, from its "chaos://N". */
static int
id_in(const char *text)
{
    const char *p = text ? strstr(text, "chaos://") : NULL;
    return p ? atoi(p + 8) : -1;
}

/* Counts one sighting of @p id in @p seen; fails for an id never written. */
static void
saw(unsigned char *seen, int id, const char *where)
{
    if (id < 0 || id >= MAXID || atomic_load(&outcome[id]) == 0)
        fail_msg("%s: a record with id %d that was never written", where, id);
    if (seen[id] < 255)
        seen[id]++;
}

/* Calls @p fn for every key of @p prefix on every master (SCAN per master). */
static void
scan_keys(const char *prefix, void (*fn)(int port, const char *key, void *ctx), void *ctx)
{
    int masters[PAPYRA_TEST_CLUSTER_MAX_NODES];
    int nm = papyra_test_cluster_masters(&cluster, masters, PAPYRA_TEST_CLUSTER_MAX_NODES);

    for (int m = 0; m < nm; m++) {
        char cursor[32] = "0";
        do {
            redisReply *r =
                papyra_test_cmd_at(masters[m], "SCAN %s MATCH *%s* COUNT 1000", cursor, prefix);
            assert_true(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2);
            (void)snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
            for (size_t k = 0; k < r->element[1]->elements; k++)
                fn(masters[m], r->element[1]->element[k]->str, ctx);
            freeReplyObject(r);
        } while (strcmp(cursor, "0") != 0);
    }
}

typedef struct {
    unsigned char *seen;
    long entries;
} xrange_ctx;

/* XRANGEs the stream @p key on @p port page by page, counting what it sees. */
static void
xrange_key(int port, const char *key, void *arg)
{
    xrange_ctx *x_ctx = arg;
    char start[64] = "-";

    for (;;) {
        redisReply *x = papyra_test_cmd_at(port, "XRANGE %s %s + COUNT 1000", key, start);
        assert_true(x && x->type == REDIS_REPLY_ARRAY);
        if (x->elements == 0) {
            freeReplyObject(x);
            break;
        }
        for (size_t e = 0; e < x->elements; e++) {
            redisReply *f = x->element[e]->element[1];
            for (size_t j = 0; j + 1 < f->elements; j += 2)
                if (strcmp(f->element[j]->str, "data") == 0)
                    saw(x_ctx->seen, id_in(f->element[j + 1]->str), key);
            x_ctx->entries++;
        }
        (void)snprintf(start, sizeof(start), "(%s", x->element[x->elements - 1]->element[0]->str);
        freeReplyObject(x);
    }
}

/* Every stream key of @p prefix on every master (SCAN per master), XRANGE'd page by page. */
static long
xrange_all(const char *prefix, unsigned char *seen)
{
    xrange_ctx x_ctx = {.seen = seen, .entries = 0};

    scan_keys(prefix, xrange_key, &x_ctx);
    return x_ctx.entries;
}

/* The checks and figures of a case, after run_stop(). */
static void
run_check(run *r, const char *what)
{
    static unsigned char lib[MAXID], raw[MAXID];
    long nlib = 0, nraw, acked_missing = 0, dups = 0, from_failed = 0;
    uint64_t written = st_counter(r->s, PAPYRA_METRIC_RECORDS_WRITTEN) - r->written0;
    uint64_t errors = st_counter(r->s, PAPYRA_METRIC_WRITE_ERRORS) - r->errors0;

    memset(lib, 0, sizeof(lib));
    memset(raw, 0, sizeof(raw));
    for (int kind = 0; kind < 2; kind++) {
        papyra_kind k = kind == 0 ? PAPYRA_KIND_EVENT : PAPYRA_KIND_DEAD_LETTER;
        papyra_record_list *l = st_list(r->s, k, -1, 0);
        for (size_t i = 0; i < l->count; i++) {
            const papyra_record *rec = &l->records[i];
            saw(lib,
                id_in(k == PAPYRA_KIND_EVENT ? rec->u.event.actor_address
                                             : rec->u.dead_letter.payload),
                "list");
            nlib++;
        }
        papyra_record_list_free(l);
    }
    nraw = xrange_all(r->prefix, raw);
    for (int id = 0; id < MAXID; id++) {
        unsigned char o = atomic_load(&outcome[id]);
        if (raw[id] > 1 || lib[id] > 1)
            dups++;
        if (raw[id] != lib[id])
            fail_msg("%s: id %d found %d times by XRANGE, %d times through the library", what, id,
                     raw[id], lib[id]);
        if (o == 1 && !raw[id])
            acked_missing++;
        if (o == 2 && raw[id])
            from_failed++;
    }
    printf("# %s (%s): %ld written (attempted), %ld acknowledged, %ld found (%ld by XRANGE; %ld "
           "of them from failed calls), %ld duplicates, %ld acknowledged missing; %ld failed "
           "calls (told %ld of their records were stored); counters: records_written %llu, "
           "write_errors %llu\n",
           what, r->prefix, atomic_load(&attempted), atomic_load(&acked), nlib, nraw, from_failed,
           dups, acked_missing, atomic_load(&failed_calls), atomic_load(&told_stored),
           (unsigned long long)written, (unsigned long long)errors);
    if (first_error[0])
        printf("#   first error: %s\n#   last error: %s\n", first_error, last_error);
    assert_int_equal(dups, 0);
    assert_int_equal(acked_missing, 0);
    assert_int_equal(nlib, nraw);
    if (written != (uint64_t)(atomic_load(&acked) + atomic_load(&told_stored)))
        for (int i = 0; i < nkept; i++)
            printf("#   failed call %d, read as %ld stored: %s\n", i, kept_told[i], kept[i]);
    assert_int_equal(written, (uint64_t)(atomic_load(&acked) + atomic_load(&told_stored)));
    assert_int_equal(errors, (uint64_t)atomic_load(&failed_calls));
    papyra_store_close(r->s);
    r->s = NULL;
}

typedef struct {
    int *slots;
    int max, n;
} slots_ctx;

/* Adds the slot of @p key to the set in @p arg. */
static void
add_slot(int port, const char *key, void *arg)
{
    slots_ctx *sc = arg;
    int slot = papyra_test_cluster_keyslot(&cluster, key);
    bool known = false;

    (void)port;
    for (int i = 0; i < sc->n; i++)
        known = known || sc->slots[i] == slot;
    if (!known && sc->n < sc->max)
        sc->slots[sc->n++] = slot;
}

/* The slots of the store's stream keys (SCAN of every master for the prefix), at most @p max. */
static int
store_slots(const char *prefix, int *slots, int max)
{
    slots_ctx sc = {.slots = slots, .max = max, .n = 0};

    scan_keys(prefix, add_slot, &sc);
    return sc.n;
}

/* (a) The store's slots move between masters (by hand), other slots with redis-cli, 3 times. */
static void
reshard_case(bool hashtag)
{
    run *r = &cur;
    int masters[PAPYRA_TEST_CLUSTER_MAX_NODES], slots[8], ns;

    run_start(r, "reshard", hashtag, "timeout_ms=5000");
    wait_acked(500, "before the first move");
    ns = store_slots(r->prefix, slots, 8);
    assert_int_equal(ns, hashtag ? 1 : 2);
    for (int round = 0; round < 3; round++) {
        int nm = papyra_test_cluster_masters(&cluster, masters, PAPYRA_TEST_CLUSTER_MAX_NODES);
        assert_int_equal(nm, 3);
        for (int i = 0; i < ns; i++) {
            int owner = papyra_test_cluster_slot_owner(&cluster, slots[i]), next = -1;
            for (int m = 0; m < nm; m++)
                if (masters[m] == owner)
                    next = masters[(m + 1) % nm];
            assert_int_equal(papyra_test_cluster_move_slot_held(&cluster, slots[i], next, 300), 0);
        }
        assert_int_equal(papyra_test_cluster_reshard(&cluster, masters[round % nm],
                                                     masters[(round + 2) % nm], 100),
                         0);
        wait_acked(500, "after a move");
    }
    run_stop(r);
    run_check(r, hashtag ? "reshard, hash-tag layout" : "reshard, default layout");
}

/* The master serving the store's first key (its events stream, or its only slot). */
static int
store_master(const char *prefix)
{
    int slots[8];
    assert_true(store_slots(prefix, slots, 8) >= 1);
    return papyra_test_cluster_slot_owner(&cluster, slots[0]);
}

/* (b) kill -9 of the store's master with wait_replicas=1; its replica takes over. */
static void
kill_case(bool hashtag)
{
    run *r = &cur;
    int victim, promoted;

    run_start(r, "kill", hashtag, "wait_replicas=1&wait_timeout_ms=1000&timeout_ms=3000");
    wait_acked(500, "before the kill");
    victim = store_master(r->prefix);
    promoted = papyra_test_cluster_kill_master(&cluster, victim);
    assert_true(promoted > 0);
    /* The killed node comes back as the new master's replica, so WAIT 1 can be met again. */
    assert_int_equal(papyra_test_cluster_restart(&cluster, victim), 0);
    wait_acked(500, "after the failover");
    run_stop(r);
    run_check(r, hashtag ? "kill -9, hash-tag layout" : "kill -9, default layout");
}

/* (b') a graceful CLUSTER FAILOVER of the store's master with wait_replicas=1. */
static void
failover_case(bool hashtag)
{
    run *r = &cur;
    int master, replicas[4];

    run_start(r, "failover", hashtag, "wait_replicas=1&wait_timeout_ms=1000&timeout_ms=3000");
    wait_acked(500, "before the failover");
    master = store_master(r->prefix);
    assert_int_equal(papyra_test_cluster_replicas(&cluster, master, replicas, 4), 1);
    assert_int_equal(papyra_test_cluster_failover(&cluster, replicas[0]), 0);
    wait_acked(500, "after the failover");
    run_stop(r);
    run_check(r,
              hashtag ? "CLUSTER FAILOVER, hash-tag layout" : "CLUSTER FAILOVER, default layout");
}

static void
test_reshard_default(void **state)
{
    (void)state;
    reshard_case(false);
}

static void
test_reshard_hashtag(void **state)
{
    (void)state;
    reshard_case(true);
}

static void
test_kill_default(void **state)
{
    (void)state;
    kill_case(false);
}

static void
test_kill_hashtag(void **state)
{
    (void)state;
    kill_case(true);
}

static void
test_failover_default(void **state)
{
    (void)state;
    failover_case(false);
}

static void
test_failover_hashtag(void **state)
{
    (void)state;
    failover_case(true);
}

static int
setup(void **state)
{
    (void)state;
    return papyra_test_cluster_start(&cluster, 3, 1);
}

static int
teardown(void **state)
{
    (void)state;
    papyra_test_cluster_stop(&cluster);
    return 0;
}

int
main(void)
{
    const char *why = NULL;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_reshard_default, run_teardown),
        cmocka_unit_test_teardown(test_reshard_hashtag, run_teardown),
        cmocka_unit_test_teardown(test_kill_default, run_teardown),
        cmocka_unit_test_teardown(test_kill_hashtag, run_teardown),
        cmocka_unit_test_teardown(test_failover_default, run_teardown),
        cmocka_unit_test_teardown(test_failover_hashtag, run_teardown),
    };

    if (!papyra_test_cluster_available(&why))
        return papyra_test_redis_skip(why);
    return cmocka_run_group_tests_name("redis-cluster-chaos", tests, setup, teardown);
}
