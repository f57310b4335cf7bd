/* SPDX-License-Identifier: MIT */
/*
 * Throughput of the Redis Streams backend next to a baseline measured in the
 * same run against the same server: redis-benchmark sending the same XADD
 * (same key shape, same ~160-byte `data` value, byte for byte what the
 * backend stores) with -P 1 and -P 64.
 *
 *   writes, 1 record per call          vs  redis-benchmark -P 1  XADD
 *   write_batch, 64 and 256 per call   vs  redis-benchmark -P 64 XADD
 *   write_batch, 64 per call, 4 threads sharing one store
 *                                      vs  redis-benchmark -P 64 XADD
 *   list of a 1,000,000-entry stream   (records/s; target >= 500k/s)
 *
 * redis-benchmark runs with its default 50 clients (the target: batches of
 * 64 at >= 70% of -P 64) and, for comparison, with 1, the one connection a
 * single writer uses. Each figure is the best of --rounds rounds (default 3).
 *
 * The server is the one given (--server HOST:PORT, whose keys "bench-*" are
 * deleted before and after) or a private one started like the tests' (on
 * 127.0.0.1, a free port, no persistence); without either, it exits 77.
 *
 * --wait-only measures instead the cost of wait_replicas=1 per batch of 64
 * on the single-server form: batches/s with wait_replicas=1 against 0 on a
 * master with one replica that it starts (bench_wait_replicas()).
 *
 * Usage: bench-redis [--quick] [--json-only] [--wait-only] [--server HOST:PORT]
 *                    [--read-count N] [--rounds N]
 */
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <papyra/store.h>

#include "backends/redis/redis-private.h"
#include "bench-util.h"
#include "record/codec.h"
#include "redis-harness.h"
#include "util/buf.h"

static char host[256] = "127.0.0.1";
static int port;
static long n_single = 50000;
static long n_batch = 1000000;
static long n_read = 1000000;
static bool quiet;

/* The stream that the read benchmarks fill and read. */
#define READ_KEY "bench-read:local:events"

/* The benchmark record, numbered @p i. */
static papyra_record
event(long i)
{
    return bench_event(1700000000.125 + (double)(i % 1000));
}

static void
progress(const char *what)
{
    if (!quiet)
        fprintf(stderr, "bench-redis: %s...\n", what);
}

/* Deletes the benchmark's keys (only those: the server may be someone else's). */
static void
cleanup_keys(void)
{
    redisContext *c = redisConnect(host, port);
    redisReply *r;

    if (!c || c->err) {
        redisFree(c);
        return;
    }
    r = redisCommand(c, "DEL bench-single:local:events bench-batch64:local:events "
                        "bench-batch256:local:events bench-threads:local:events "
                        "bench-read:local:events bench-base:local:events");
    freeReplyObject(r);
    redisFree(c);
}

static papyra_store *
open_store(const char *prefix)
{
    papyra_store *s = NULL;
    papyra_error e = {0};
    char url[512];

    snprintf(url, sizeof(url), "redis://%s:%d/0?prefix=%s&metrics=none", host, port, prefix);
    if (papyra_store_open(&s, url, &e) != 0) {
        fprintf(stderr, "bench-redis: %s: %s\n", url, e.message);
        exit(1);
    }
    return s;
}

/* What one writing thread does: n records into s, per per call. */
typedef struct writer {
    papyra_store *s;
    long n;
    size_t per;
} writer;

static void *
write_records(void *arg)
{
    const writer *w = arg;
    papyra_record *recs = calloc(w->per, sizeof(*recs));
    long done = 0;

    if (!recs)
        exit(1);
    for (size_t i = 0; i < w->per; i++)
        recs[i] = event((long)i);
    while (done < w->n) {
        size_t k = (size_t)(w->n - done) < w->per ? (size_t)(w->n - done) : w->per;
        if (papyra_store_write_batch(w->s, recs, k) != 0) {
            fprintf(stderr, "bench-redis: write: %s\n", papyra_store_errmsg(w->s));
            exit(1);
        }
        done += (long)k;
    }
    free(recs);
    return NULL;
}

/*
 * Writes n records, @p per per call, from @p threads threads sharing one
 * store; returns records per second.
 */
static double
bench_write(const char *prefix, long n, size_t per, int threads)
{
    papyra_store *s = open_store(prefix);
    pthread_t th[16];
    writer w[16];
    double t0, t;

    if (threads < 1 || threads > 16)
        exit(2);
    t0 = bench_now_s();
    for (int i = 0; i < threads; i++) {
        w[i] = (writer){s, n / threads + (i < n % threads), per};
        if (pthread_create(&th[i], NULL, write_records, &w[i]) != 0)
            exit(1);
    }
    for (int i = 0; i < threads; i++)
        (void)pthread_join(th[i], NULL);
    t = bench_now_s() - t0;
    papyra_store_close(s);
    return (double)n / t;
}

/* Lists the whole stream of @p prefix, expecting @p n records; returns records per second. */
static double
bench_list(const char *prefix, long n)
{
    papyra_store *s = open_store(prefix);
    papyra_record_list *l = NULL;
    double t0, t;

    t0 = bench_now_s();
    if (papyra_store_list(s, PAPYRA_KIND_EVENT, NULL, &l) != 0) {
        fprintf(stderr, "bench-redis: list: %s\n", papyra_store_errmsg(s));
        exit(1);
    }
    t = bench_now_s() - t0;
    if ((long)l->count != n) {
        fprintf(stderr, "bench-redis: list returned %zu records, expected %ld\n", l->count, n);
        exit(1);
    }
    papyra_record_list_free(l);
    papyra_store_close(s);
    return (double)n / t;
}

static int
count_record(const papyra_record *r, void *arg)
{
    (void)r;
    (*(long *)arg)++;
    return 0;
}

/* papyra_store_each() over the whole stream of @p prefix; returns records per second. */
static double
bench_each(const char *prefix, long n)
{
    papyra_store *s = open_store(prefix);
    long seen = 0;
    double t0, t;

    t0 = bench_now_s();
    if (papyra_store_each(s, PAPYRA_KIND_EVENT, NULL, count_record, &seen) != 0) {
        fprintf(stderr, "bench-redis: each: %s\n", papyra_store_errmsg(s));
        exit(1);
    }
    t = bench_now_s() - t0;
    if (seen != n) {
        fprintf(stderr, "bench-redis: each delivered %ld records, expected %ld\n", seen, n);
        exit(1);
    }
    papyra_store_close(s);
    return (double)n / t;
}

/*
 * The limit of a whole-stream read: hiredis alone pages through the same
 * stream newest first with XREVRANGE key (lastid - COUNT @p page, the
 * request for the next page sent before the current reply is freed, and
 * decodes nothing. Returns entries per second.
 */
static double
bench_raw_pages(const char *key, long n, long page)
{
    redisContext *c = redisConnect(host, port);
    char end[64] = "+", next[64];
    long seen = 0;
    bool pending = false;
    double t0, t;

    if (!c || c->err) {
        fprintf(stderr, "bench-redis: cannot connect for the raw baseline\n");
        exit(1);
    }
    c->reader->maxbuf = 0; /* as the backend's connections (src/backends/redis/conn.c) */
    t0 = bench_now_s();
    for (;;) {
        void *v = NULL;
        redisReply *rep;
        const redisReply *last;

        if (!pending)
            redisAppendCommand(c, "XREVRANGE %s %s - COUNT %ld", key, end, page);
        if (redisGetReply(c, &v) != REDIS_OK || !v ||
            ((redisReply *)v)->type != REDIS_REPLY_ARRAY) {
            fprintf(stderr, "bench-redis: raw XREVRANGE failed\n");
            exit(1);
        }
        rep = v;
        seen += (long)rep->elements;
        pending = false;
        if ((long)rep->elements == page) {
            last = rep->element[rep->elements - 1];
            snprintf(next, sizeof(next), "(%.*s", (int)last->element[0]->len,
                     last->element[0]->str);
            redisAppendCommand(c, "XREVRANGE %s %s - COUNT %ld", key, next, page);
            pending = true;
            memcpy(end, next, sizeof(end));
        }
        freeReplyObject(rep);
        if (!pending)
            break;
    }
    t = bench_now_s() - t0;
    redisFree(c);
    if (seen != n) {
        fprintf(stderr, "bench-redis: raw paging read %ld entries, expected %ld\n", seen, n);
        exit(1);
    }
    return (double)n / t;
}

/*
 * Runs redis-benchmark -P @p pipeline -c @p clients -n @p n with the command
 * @p cmd (NULL-terminated) and returns its "requests per second" (the last
 * figure it prints), or -1.
 */
static double
redis_benchmark(const char *const *cmd, long n, int pipeline, int clients)
{
    char portbuf[16], nbuf[32], pbuf[16], cbuf[16];
    const char *argv[32] = {
        "redis-benchmark", "-h", host, "-p", portbuf, "-n", nbuf, "-P", pbuf, "-c", cbuf, "-q"};
    int argc = 12;
    char out[65536];
    size_t len = 0;
    double rps = -1;
    int fds[2];
    pid_t pid;

    for (; *cmd && argc < 31; cmd++)
        argv[argc++] = *cmd;
    argv[argc] = NULL;
    snprintf(portbuf, sizeof(portbuf), "%d", port);
    snprintf(nbuf, sizeof(nbuf), "%ld", n);
    snprintf(pbuf, sizeof(pbuf), "%d", pipeline);
    snprintf(cbuf, sizeof(cbuf), "%d", clients);
    if (pipe(fds) != 0)
        return -1;
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execvp("redis-benchmark", (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    for (;;) {
        ssize_t k = read(fds[0], out + len, sizeof(out) - 1 - len);
        if (k <= 0)
            break;
        len += (size_t)k;
        if (len == sizeof(out) - 1) /* Keep the tail: the final figure is last. */
            len = 0;
    }
    close(fds[0]);
    (void)waitpid(pid, NULL, 0);
    out[len] = '\0';
    /* "-q" prints "XADD ...: 123456.79 requests per second, p50=..." (after \r progress). */
    for (char *p = out; (p = strstr(p, " requests per second")) != NULL; p++) {
        char *q = p;
        while (q > out && ((q[-1] >= '0' && q[-1] <= '9') || q[-1] == '.'))
            q--;
        if (q < p)
            rps = strtod(q, NULL);
    }
    return rps;
}

/* redis-benchmark sending the backend's XADD (same key shape and value). */
static double
bench_baseline(const char *value, long n, int pipeline, int clients)
{
    const char *cmd[] = {"XADD", "bench-base:local:events", "*", "data", value, NULL};
    return redis_benchmark(cmd, n, pipeline, clients);
}

/*
 * redis-benchmark reading the newest @p page entries of @p key over and over
 * (it cannot page: every request asks for the same range) from one client;
 * returns entries per second.
 */
static double
bench_baseline_read(const char *key, long n, long page)
{
    char count[24];
    const char *cmd[] = {"XREVRANGE", key, "+", "-", "COUNT", count, NULL};
    long requests = n / page > 20 ? n / page : 20;
    double rps;

    snprintf(count, sizeof(count), "%ld", page);
    rps = redis_benchmark(cmd, requests, 1, 1);
    return rps > 0 ? rps * (double)page : -1;
}

struct row {
    const char *name;
    long count;
    double per_s; /* best of the rounds */
    double base;  /* redis-benchmark, default 50 clients (best of the rounds), or 0 */
    double base1; /* redis-benchmark -c 1, the same one connection as ours, or 0 */
};

/* A whole-stream read, newest first, against the two read baselines. */
struct read_row {
    const char *name;
    double per_s; /* best of the rounds */
};

static double
max2(double a, double b)
{
    return a > b ? a : b;
}

/* Batches of 64 per second through @p url (a fresh stream), @p batches of them. */
static double
wait_batches_per_s(const char *url, long batches)
{
    papyra_store *s = NULL;
    papyra_error e = {0};
    papyra_record recs[64];
    double t0;

    if (papyra_store_open(&s, url, &e) != 0) {
        fprintf(stderr, "bench-redis: %s: %s\n", url, e.message);
        exit(1);
    }
    for (int i = 0; i < 64; i++)
        recs[i] = event(i);
    t0 = bench_now_s();
    for (long b = 0; b < batches; b++) {
        if (papyra_store_write_batch(s, recs, 64) != 0) {
            fprintf(stderr, "bench-redis: wait_replicas write: %s\n", papyra_store_errmsg(s));
            exit(1);
        }
    }
    t0 = bench_now_s() - t0;
    papyra_store_close(s);
    return (double)batches / t0;
}

/*
 * The cost of wait_replicas=1 per batch of 64 on the single-server form: a
 * master and one replica of it (REPLICAOF) started here on loopback, and
 * batches/s with wait_replicas=1 against wait_replicas=0 on that master,
 * back to back in every round, best of @p rounds. Prints its own table (and
 * JSON line). Returns 0, or 77 when the servers cannot be started.
 */
static int
bench_wait_replicas(int rounds, long batches, bool json_only)
{
    papyra_test_redis m = {0}, rep = {0};
    double off = 0, on = 0, t0;
    char url[512];
    int rc = 77;

    if (papyra_test_redis_start(&m) != 0 || papyra_test_redis_start(&rep) != 0) {
        fprintf(stderr, "bench-redis: SKIP wait_replicas: cannot start a master and a replica\n");
        goto out;
    }
    {
        redisContext *c = redisConnect("127.0.0.1", rep.port);
        redisReply *r = c && !c->err ? redisCommand(c, "REPLICAOF 127.0.0.1 %d", m.port) : NULL;
        bool up = false;
        freeReplyObject(r);
        for (t0 = bench_now_s(); c && !c->err && !up && bench_now_s() - t0 < 15;) {
            r = redisCommand(c, "INFO replication");
            up = r && r->type == REDIS_REPLY_STRING && strstr(r->str, "master_link_status:up");
            freeReplyObject(r);
            if (!up)
                (void)usleep(50000);
        }
        redisFree(c);
        if (!up) {
            fprintf(stderr, "bench-redis: SKIP wait_replicas: the replica did not sync\n");
            goto out;
        }
    }
    for (int round = 0; round < rounds; round++) {
        progress("batches of 64, wait_replicas=0 then 1 (one replica)");
        (void)snprintf(url, sizeof(url),
                       "redis://127.0.0.1:%d/0?prefix=bench-wait0-%d&metrics=none", m.port, round);
        off = max2(off, wait_batches_per_s(url, batches));
        (void)snprintf(url, sizeof(url),
                       "redis://127.0.0.1:%d/0?prefix=bench-wait1-%d&metrics=none&wait_replicas=1",
                       m.port, round);
        on = max2(on, wait_batches_per_s(url, batches));
    }
    if (!json_only) {
        printf("wait_replicas on redis:// 127.0.0.1:%d with one replica, %ld batches of 64, best "
               "of %d round(s)\n",
               m.port, batches, rounds);
        printf("%-32s %11s %9s %9s\n", "write_batch, 64/call", "batches/s", "us/batch", "ratio");
        printf("%-32s %11.0f %9.1f %9.2f\n", "wait_replicas=0", off, 1e6 / off, 1.0);
        printf("%-32s %11.0f %9.1f %9.2f\n\n", "wait_replicas=1", on, 1e6 / on, on / off);
    }
    printf("{\"wait_replicas\": {\"batches\": %ld, \"batch\": 64, \"rounds\": %d, "
           "\"batches_per_second_wait0\": %.1f, \"batches_per_second_wait1\": %.1f, "
           "\"ratio\": %.3f}}\n",
           batches, rounds, off, on, on / off);
    rc = 0;
out:
    papyra_test_redis_stop(&rep);
    papyra_test_redis_stop(&m);
    return rc;
}

static void
usage(void)
{
    fprintf(stderr, "usage: bench-redis [--quick] [--json-only] [--reads-only] [--wait-only] "
                    "[--page-sweep] "
                    "[--server HOST:PORT] [--read-count N] [--rounds N]\n");
}

int
main(int argc, char **argv)
{
    papyra_test_redis server = {0};
    bool json_only = false, own = false, reads_only = false, sweep = false, wait_only = false;
    long wait_batches = 2000;
    const char *given = NULL;
    papyra_record one = event(0);
    papyra_buf value = {0};
    enum { SINGLE, BATCH64, BATCH256, THREADS64, NROWS };
    struct row rows[NROWS] = {
        [SINGLE] = {"write, 1 record/call", 0, 0, 0, 0},
        [BATCH64] = {"write_batch, 64/call", 0, 0, 0, 0},
        [BATCH256] = {"write_batch, 256/call", 0, 0, 0, 0},
        [THREADS64] = {"write_batch, 64/call, 4 threads", 0, 0, 0, 0},
    };
    enum { RAW, LIST, EACH, BENCH_READ, NREADS };
    struct read_row reads[NREADS] = {
        [RAW] = {"raw XREVRANGE paging (hiredis)", 0},
        [LIST] = {"list, whole stream", 0},
        [EACH] = {"each, whole stream", 0},
        [BENCH_READ] = {"redis-benchmark XREVRANGE -c 1", 0},
    };
    static const long sweep_pages[] = {100, 300, 1000, 3000, 10000};
    enum { NSWEEP = sizeof(sweep_pages) / sizeof(sweep_pages[0]) };
    double sweep_raw[NSWEEP] = {0};
    const long page = PAPYRA_REDIS_LIST_PAGE;
    int rounds = 3;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            n_single = 5000;
            n_batch = 100000;
            n_read = 100000;
            wait_batches = 200;
            rounds = 1;
        } else if (strcmp(argv[i], "--json-only") == 0) {
            json_only = quiet = true;
        } else if (strcmp(argv[i], "--reads-only") == 0) {
            reads_only = true;
        } else if (strcmp(argv[i], "--wait-only") == 0) {
            wait_only = true;
        } else if (strcmp(argv[i], "--page-sweep") == 0) {
            sweep = true;
        } else if (strcmp(argv[i], "--server") == 0 && i + 1 < argc) {
            given = argv[++i];
        } else if (strcmp(argv[i], "--read-count") == 0 && i + 1 < argc) {
            n_read = atol(argv[++i]);
        } else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            rounds = atoi(argv[++i]);
        } else {
            usage();
            return 2;
        }
    }
    if (rounds < 1 || n_read < 1)
        return 2;
    /* Servers of its own (a master and its replica), whatever --server says. */
    if (wait_only)
        return papyra_test_redis_available() ? bench_wait_replicas(rounds, wait_batches, json_only)
                                             : 77;
    if (given) {
        if (sscanf(given, "%255[^:]:%d", host, &port) != 2) {
            fprintf(stderr, "bench-redis: --server wants HOST:PORT\n");
            return 2;
        }
    } else if (!papyra_test_redis_available()) {
        fprintf(stderr, "bench-redis: SKIP: no --server and no redis-server on PATH\n");
        return 77;
    } else if (papyra_test_redis_start(&server) != 0) {
        fprintf(stderr, "bench-redis: SKIP: redis-server could not be started\n");
        return 77;
    } else {
        own = true;
        port = server.port;
    }

    /* The baseline's value is byte for byte the `data` the backend stores. */
    if (papyra__record_encode(&one, PAPYRA_STYLE_JSON, &value) != 0)
        return 1;
    rows[SINGLE].count = n_single;
    rows[BATCH64].count = rows[BATCH256].count = rows[THREADS64].count = n_batch;
    cleanup_keys();

    /*
     * Loopback figures on a small machine vary by tens of percent from one
     * run to the next: each figure is the best of the rounds, and each
     * round measures the baseline and ours back to back.
     */
    for (int round = 0; round < rounds && !reads_only; round++) {
        progress("redis-benchmark -P 1 (50 clients, then 1)");
        rows[SINGLE].base = max2(rows[SINGLE].base, bench_baseline(value.data, n_single, 1, 50));
        rows[SINGLE].base1 = max2(rows[SINGLE].base1, bench_baseline(value.data, n_single, 1, 1));
        cleanup_keys();
        progress("single writes");
        rows[SINGLE].per_s = max2(rows[SINGLE].per_s, bench_write("bench-single", n_single, 1, 1));
        cleanup_keys();
        progress("redis-benchmark -P 64 (50 clients, then 1)");
        rows[BATCH64].base = max2(rows[BATCH64].base, bench_baseline(value.data, n_batch, 64, 50));
        rows[BATCH64].base1 = max2(rows[BATCH64].base1, bench_baseline(value.data, n_batch, 64, 1));
        cleanup_keys();
        progress("batch writes, 64 per call");
        rows[BATCH64].per_s =
            max2(rows[BATCH64].per_s, bench_write("bench-batch64", n_batch, 64, 1));
        cleanup_keys();
        progress("batch writes, 256 per call");
        rows[BATCH256].per_s =
            max2(rows[BATCH256].per_s, bench_write("bench-batch256", n_batch, 256, 1));
        cleanup_keys();
        progress("batch writes, 64 per call, 4 threads on one store");
        rows[THREADS64].per_s =
            max2(rows[THREADS64].per_s, bench_write("bench-threads", n_batch, 64, 4));
        cleanup_keys();
    }
    rows[BATCH256].base = rows[THREADS64].base = rows[BATCH64].base;
    rows[BATCH256].base1 = rows[THREADS64].base1 = rows[BATCH64].base1;

    /*
     * Reads: the same stream, newest first, by hiredis alone (the limit),
     * by redis-benchmark where it can (the newest page over and over), and
     * by the store, back to back in every round.
     */
    progress("filling the stream to read");
    (void)bench_write("bench-read", n_read, 1000, 1);
    for (int round = 0; round < rounds; round++) {
        progress("raw XREVRANGE paging, then redis-benchmark XREVRANGE");
        reads[RAW].per_s = max2(reads[RAW].per_s, bench_raw_pages(READ_KEY, n_read, page));
        reads[BENCH_READ].per_s =
            max2(reads[BENCH_READ].per_s, bench_baseline_read(READ_KEY, n_read, page));
        progress("list of the whole stream");
        reads[LIST].per_s = max2(reads[LIST].per_s, bench_list("bench-read", n_read));
        progress("each over the whole stream");
        reads[EACH].per_s = max2(reads[EACH].per_s, bench_each("bench-read", n_read));
        for (int k = 0; k < NSWEEP && sweep; k++)
            sweep_raw[k] = max2(sweep_raw[k], bench_raw_pages(READ_KEY, n_read, sweep_pages[k]));
    }
    cleanup_keys();

    if (!json_only) {
        if (!reads_only) {
            printf("redis 127.0.0.1:%d, data %zu bytes, best of %d round(s); baseline: "
                   "redis-benchmark XADD, same key shape and value, 50 clients (its default) "
                   "and 1\n",
                   port, value.len, rounds);
            printf("%-32s %9s %11s %11s %7s %11s %7s\n", "operation", "records", "ours/s",
                   "base(c50)/s", "ratio", "base(c1)/s", "ratio");
            for (int i = 0; i < NROWS; i++)
                printf("%-32s %9ld %11.0f %11.0f %7.2f %11.0f %7.2f\n", rows[i].name, rows[i].count,
                       rows[i].per_s, rows[i].base, rows[i].per_s / rows[i].base, rows[i].base1,
                       rows[i].per_s / rows[i].base1);
            /*
             * redis-benchmark's 50 clients keep the server busy while each
             * waits for its replies; one synchronous writer cannot, whatever
             * its client (redis-benchmark's own -c 1 is the like-for-like
             * figure). Writers sharing a store overlap through its spare
             * connections.
             */
            printf("target: 64/call, 4 threads on one store >= 0.70 x redis-benchmark -P 64 "
                   "(50 clients): %s\n",
                   rows[THREADS64].per_s >= 0.7 * rows[BATCH64].base ? "met" : "NOT met");
            printf("one writer, 64/call: %.2f x redis-benchmark -P 64 -c 1, whose own -c 1 is "
                   "%.2f x its -c 50\n\n",
                   rows[BATCH64].per_s / rows[BATCH64].base1,
                   rows[BATCH64].base1 / rows[BATCH64].base);
        }
        printf("reads of a %ld-entry stream, newest first, pages of %ld, best of %d round(s); "
               "limit: hiredis alone paging through it\n",
               n_read, page, rounds);
        printf("%-32s %11s %9s\n", "read", "entries/s", "vs raw");
        for (int i = 0; i < NREADS; i++)
            printf("%-32s %11.0f %9.2f\n", reads[i].name, reads[i].per_s,
                   reads[i].per_s / reads[RAW].per_s);
        for (int k = 0; k < NSWEEP && sweep; k++)
            printf("raw paging, pages of %-11ld %11.0f %9.2f\n", sweep_pages[k], sweep_raw[k],
                   sweep_raw[k] / reads[RAW].per_s);
        printf("target: list >= 1000000 records/s: %s\n",
               reads[LIST].per_s >= 1000000 ? "met" : "NOT met");
    }
    printf("{\"server\": \"%s:%d\", \"data_bytes\": %zu, \"rounds\": %d, \"results\": [", host,
           port, value.len, rounds);
    for (int i = 0; i < NROWS && !reads_only; i++)
        printf("%s{\"name\": \"%s\", \"records\": %ld, \"per_second\": %.1f, \"baseline_c50\": "
               "%.1f, \"ratio\": %.3f, \"baseline_c1\": %.1f, \"ratio_c1\": %.3f}",
               i ? ", " : "", rows[i].name, rows[i].count, rows[i].per_s, rows[i].base,
               rows[i].per_s / rows[i].base, rows[i].base1, rows[i].per_s / rows[i].base1);
    for (int i = 0; i < NREADS; i++)
        printf("%s{\"name\": \"%s\", \"records\": %ld, \"page\": %ld, \"per_second\": %.1f, "
               "\"baseline_raw\": %.1f, \"ratio_raw\": %.3f}",
               i || !reads_only ? ", " : "", reads[i].name, n_read, page, reads[i].per_s,
               reads[RAW].per_s, reads[i].per_s / reads[RAW].per_s);
    printf("]}\n");
    papyra__buf_free(&value);
    if (own)
        papyra_test_redis_stop(&server);
    return 0;
}
