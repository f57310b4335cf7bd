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
 * --cluster (or --cluster-only, without the rows above) adds, on servers of
 * its own (--wait-only: the first of these alone):
 *
 *   write_batch, 64 per call, wait_replicas=1, one replica attached
 *                                      vs  the same with wait_replicas=0
 *   redis-cluster://, 3 masters + 3 replicas (tests/redis-cluster-harness.c):
 *   write_batch, 64 per call, 1 writer and 4 threads sharing one store
 *                                      vs  redis-benchmark --cluster -P 64 XADD
 *                                          (key "bench-cbase:{tag}:events": every master),
 *                                          and redis-benchmark -P 64 (-c 50, -c 1) on the
 *                                          master of one key, as one store's stream is
 *   write_batch, 64 per call, wait_replicas=1 vs 0 on the cluster
 *
 * The server is the one given (--server HOST:PORT, whose keys "bench-*" are
 * deleted before and after) or a private one started like the tests' (on
 * 127.0.0.1, a free port, no persistence); without either, it exits 77.
 *
 * Usage: bench-redis [--quick] [--json-only] [--reads-only] [--page-sweep]
 *                    [--cluster | --cluster-only | --wait-only] [--server HOST:PORT]
 *                    [--read-count N]
 *                    [--rounds N]
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
#ifdef PAPYRA_BENCH_CLUSTER
#include "redis-cluster-harness.h"
#endif

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
                        "bench-read:local:events bench-base:local:events "
                        "bench-wait0:local:events bench-wait1:local:events");
    freeReplyObject(r);
    redisFree(c);
}

/*
 * The URL of the stores that the rows open: "<url_base>?prefix=P&metrics=none<url_params>",
 * or, with url_base NULL, the server's "redis://HOST:PORT/0?prefix=P&metrics=none".
 */
static const char *url_base, *url_params = "";

static papyra_store *
open_store(const char *prefix)
{
    papyra_store *s = NULL;
    papyra_error e = {0};
    char url[1024];

    if (url_base)
        snprintf(url, sizeof(url), "%s?prefix=%s&metrics=none%s", url_base, prefix, url_params);
    else
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
redis_benchmark_at(const char *at_host,
                   int at_port,
                   bool cluster,
                   const char *const *cmd,
                   long n,
                   int pipeline,
                   int clients)
{
    char portbuf[16], nbuf[32], pbuf[16], cbuf[16];
    const char *argv[32] = {
        "redis-benchmark", "-h", at_host, "-p", portbuf, "-n", nbuf, "-P", pbuf, "-c", cbuf, "-q"};
    int argc = 12;

    if (cluster)
        argv[argc++] = "--cluster";
    char out[65536];
    size_t len = 0;
    double rps = -1;
    int fds[2];
    pid_t pid;

    for (; *cmd && argc < 31; cmd++)
        argv[argc++] = *cmd;
    argv[argc] = NULL;
    snprintf(portbuf, sizeof(portbuf), "%d", at_port);
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

static double
redis_benchmark(const char *const *cmd, long n, int pipeline, int clients)
{
    return redis_benchmark_at(host, port, false, cmd, n, pipeline, clients);
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

/* bench_write() through stores of "<base>?prefix=P&metrics=none<params>". */
static double
bench_write_url(
    const char *base, const char *params, const char *prefix, long n, size_t per, int threads)
{
    double r;

    url_base = base;
    url_params = params;
    r = bench_write(prefix, n, per, threads);
    url_base = NULL;
    url_params = "";
    return r;
}

/* The parameters of the wait_replicas=1 rows. */
#define WAIT1 "&wait_replicas=1&wait_timeout_ms=1000&timeout_ms=5000"

/* Whether INFO replication of 127.0.0.1:@p at_port says the link to its master is up. */
static bool
replica_in_sync(int at_port)
{
    redisContext *c = redisConnect("127.0.0.1", at_port);
    redisReply *r = c && !c->err ? redisCommand(c, "INFO replication") : NULL;
    bool ok = r && r->type == REDIS_REPLY_STRING && strstr(r->str, "master_link_status:up") &&
              !strstr(r->str, "master_sync_in_progress:1");

    freeReplyObject(r);
    redisFree(c);
    return ok;
}

/*
 * The cost of wait_replicas=1 on the single server: a replica of its own is
 * attached (REPLICAOF) for these rows only; batches of 64 from one writer
 * with wait_replicas=0 (@p w0) and 1 (@p w1), back to back in each round.
 * Returns 0, or -1 when the replica could not be set up.
 */
static int
bench_wait_single(long n, int rounds, double *w0, double *w1)
{
    papyra_test_redis replica = {0};
    char base[512];
    redisContext *c;
    int tries = 0;

    if (papyra_test_redis_start(&replica) != 0)
        return -1;
    c = redisConnect("127.0.0.1", replica.port);
    if (c && !c->err)
        freeReplyObject(redisCommand(c, "REPLICAOF %s %d", host, port));
    redisFree(c);
    while (!replica_in_sync(replica.port) && tries++ < 200)
        nanosleep(&(struct timespec){.tv_nsec = 50000000L}, NULL);
    if (!replica_in_sync(replica.port)) {
        papyra_test_redis_stop(&replica);
        return -1;
    }
    snprintf(base, sizeof(base), "redis://%s:%d/0", host, port);
    for (int round = 0; round < rounds; round++) {
        progress("single server, batches of 64, wait_replicas=0 then 1");
        cleanup_keys();
        *w0 = max2(*w0, bench_write_url(base, "", "bench-wait0", n, 64, 1));
        cleanup_keys();
        *w1 = max2(*w1, bench_write_url(base, WAIT1, "bench-wait1", n, 64, 1));
    }
    cleanup_keys();
    papyra_test_redis_stop(&replica);
    return 0;
}

#ifdef PAPYRA_BENCH_CLUSTER
/* What the cluster rows measure (records/s, best of the rounds). */
struct cluster_figures {
    double one;       /* write_batch 64/call, one writer */
    double threads;   /* write_batch 64/call, --threads writers sharing one store */
    double wait0;     /* one writer, wait_replicas=0 (the wait row's baseline) */
    double wait1;     /* one writer, wait_replicas=1 */
    double base_tag;  /* redis-benchmark --cluster, {tag} keys: every master, 50 clients */
    double base_key;  /* redis-benchmark on the master of one key (as one store's stream), 50 */
    double base_key1; /* the same with 1 client */
};

/* FLUSHALL on every master of the cluster: the benchmark's own. */
static void
cluster_flush(const papyra_test_cluster *c)
{
    int masters[PAPYRA_TEST_CLUSTER_MAX_NODES];
    int nm = papyra_test_cluster_masters(c, masters, PAPYRA_TEST_CLUSTER_MAX_NODES);

    for (int i = 0; i < nm; i++)
        freeReplyObject(papyra_test_cmd_at(masters[i], "FLUSHALL"));
}

/*
 * The cluster rows: a private 3-master cluster with one replica each (the
 * wait row needs them; every row and baseline pays the same replication),
 * the store's redis-cluster:// URL against redis-benchmark on the same
 * cluster with the same XADD value. Returns 0, or -1 when no cluster starts.
 */
static int
bench_cluster(
    long n, long n_wait, int threads, int rounds, const char *value, struct cluster_figures *f)
{
    papyra_test_cluster c = {0};
    char base[1024];
    char *seeds;
    int owner, seed_port;
    const char *tagcmd[] = {"XADD", "bench-cbase:{tag}:events", "*", "data", value, NULL};
    const char *keycmd[] = {"XADD", "bench-cbase:local:events", "*", "data", value, NULL};

    progress("starting a cluster of 3 masters and 3 replicas");
    if (papyra_test_cluster_start(&c, 3, 1) != 0)
        return -1;
    if (!(seeds = papyra_test_cluster_seeds(&c)))
        exit(1);
    seed_port = atoi(strchr(seeds, ':') + 1);
    owner = papyra_test_cluster_slot_owner(&c, papyra_test_cluster_keyslot(&c, keycmd[1]));
    snprintf(base, sizeof(base), "redis-cluster://%s/", seeds);
    free(seeds);
    for (int round = 0; round < rounds; round++) {
        progress("cluster: redis-benchmark --cluster -P 64, then on one key's master");
        cluster_flush(&c);
        f->base_tag =
            max2(f->base_tag, redis_benchmark_at("127.0.0.1", seed_port, true, tagcmd, n, 64, 50));
        cluster_flush(&c);
        f->base_key =
            max2(f->base_key, redis_benchmark_at("127.0.0.1", owner, false, keycmd, n, 64, 50));
        cluster_flush(&c);
        f->base_key1 =
            max2(f->base_key1, redis_benchmark_at("127.0.0.1", owner, false, keycmd, n, 64, 1));
        progress("cluster: batches of 64, one writer, then several sharing one store");
        cluster_flush(&c);
        f->one = max2(f->one, bench_write_url(base, "", "bench-c1", n, 64, 1));
        cluster_flush(&c);
        f->threads = max2(f->threads, bench_write_url(base, "", "bench-cn", n, 64, threads));
        progress("cluster: batches of 64, wait_replicas=0 then 1");
        cluster_flush(&c);
        f->wait0 = max2(f->wait0, bench_write_url(base, "", "bench-cw0", n_wait, 64, 1));
        cluster_flush(&c);
        f->wait1 = max2(f->wait1, bench_write_url(base, WAIT1, "bench-cw1", n_wait, 64, 1));
    }
    papyra_test_cluster_stop(&c);
    return 0;
}
#endif

static void
usage(void)
{
    fprintf(stderr, "usage: bench-redis [--quick] [--json-only] [--reads-only] [--page-sweep] "
                    "[--cluster | --cluster-only | --wait-only] [--server HOST:PORT] "
                    "[--read-count N] "
                    "[--rounds N]\n");
}

int
main(int argc, char **argv)
{
    papyra_test_redis server = {0};
    bool json_only = false, own = false, reads_only = false, sweep = false;
    bool cluster = false, cluster_only = false, wait_ok = false, cluster_ok = false;
    bool wait_only = false, skip_main; /* skip_main: neither the write nor the read rows */
    double wait0 = 0, wait1 = 0;
    long n_wait = 64 * 2000;
#ifdef PAPYRA_BENCH_CLUSTER
    struct cluster_figures cf = {0};
#else
    (void)cluster_ok;
#endif
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
            n_wait = 64 * 300;
            rounds = 1;
        } else if (strcmp(argv[i], "--json-only") == 0) {
            json_only = quiet = true;
        } else if (strcmp(argv[i], "--reads-only") == 0) {
            reads_only = true;
        } else if (strcmp(argv[i], "--cluster") == 0) {
            cluster = true;
        } else if (strcmp(argv[i], "--cluster-only") == 0) {
            cluster = cluster_only = true;
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
    skip_main = cluster_only || wait_only;
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
    for (int round = 0; round < rounds && !reads_only && !skip_main; round++) {
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
    for (int round = 0; round < rounds && !skip_main; round++) {
        if (round == 0) {
            progress("filling the stream to read");
            (void)bench_write("bench-read", n_read, 1000, 1);
        }
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

    /* The cost of wait_replicas=1, and the cluster rows: only with a server of our own. */
    if ((cluster || wait_only) && !own)
        fprintf(stderr, "bench-redis: --cluster and --wait-only want servers of their own (no "
                        "--server)\n");
    if ((cluster || wait_only) && own) {
        wait_ok = bench_wait_single(n_wait, rounds, &wait0, &wait1) == 0;
        if (!wait_ok)
            fprintf(stderr, "bench-redis: no replica for the wait_replicas row\n");
    }
    if (cluster && own) {
#ifdef PAPYRA_BENCH_CLUSTER
        cluster_ok = bench_cluster(n_batch, n_wait, 4, rounds, value.data, &cf) == 0;
        if (!cluster_ok)
            fprintf(stderr, "bench-redis: the cluster did not start: no cluster rows\n");
#else
        fprintf(stderr, "bench-redis: built without the cluster harness (cmocka): no cluster "
                        "rows\n");
#endif
    }

    if (!json_only && skip_main) {
        /* Nothing else to print. */
    } else if (!json_only) {
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
    if (!json_only && wait_ok)
        printf("\nwait_replicas=1 on one server with one replica, batches of 64, one writer, "
               "%ld records, best of %d round(s):\n"
               "  wait_replicas=0 %11.0f records/s (%7.1f us/batch)\n"
               "  wait_replicas=1 %11.0f records/s (%7.1f us/batch): %.2f x the time per batch\n",
               n_wait, rounds, wait0, 64e6 / wait0, wait1, 64e6 / wait1, wait0 / wait1);
#ifdef PAPYRA_BENCH_CLUSTER
    if (!json_only && cluster_ok) {
        printf("\nredis-cluster://, 3 masters with one replica each on 127.0.0.1, data %zu "
               "bytes, %ld records per row, best of %d round(s); baselines on the same cluster "
               "with the same XADD value:\n"
               "  A: redis-benchmark --cluster -P 64 (50 clients), key bench-cbase:{tag}:events "
               "(a key per master: all three)\n"
               "  B: redis-benchmark -P 64 (50 clients) on the master of one key "
               "(one store's stream is one key)\n"
               "  C: B with 1 client\n",
               value.len, n_batch, rounds);
        printf("%-36s %11s %7s %7s %7s\n", "operation", "ours/s", "vs A", "vs B", "vs C");
        printf("%-36s %11.0f %7.2f %7.2f %7.2f\n", "write_batch, 64/call, 1 writer", cf.one,
               cf.one / cf.base_tag, cf.one / cf.base_key, cf.one / cf.base_key1);
        printf("%-36s %11.0f %7.2f %7.2f %7.2f\n", "write_batch, 64/call, 4 threads", cf.threads,
               cf.threads / cf.base_tag, cf.threads / cf.base_key, cf.threads / cf.base_key1);
        printf("baselines: A %.0f/s, B %.0f/s, C %.0f/s\n", cf.base_tag, cf.base_key, cf.base_key1);
        printf("wait_replicas=1, batches of 64, one writer, %ld records: %.0f records/s against "
               "%.0f with wait_replicas=0 (%.1f against %.1f us/batch): %.2f x the time per "
               "batch\n",
               n_wait, cf.wait1, cf.wait0, 64e6 / cf.wait1, 64e6 / cf.wait0, cf.wait0 / cf.wait1);
    }
#endif
    printf("{\"server\": \"%s:%d\", \"data_bytes\": %zu, \"rounds\": %d, \"results\": [", host,
           port, value.len, rounds);
    for (int i = 0; i < NROWS && !reads_only && !skip_main; i++)
        printf("%s{\"name\": \"%s\", \"records\": %ld, \"per_second\": %.1f, \"baseline_c50\": "
               "%.1f, \"ratio\": %.3f, \"baseline_c1\": %.1f, \"ratio_c1\": %.3f}",
               i ? ", " : "", rows[i].name, rows[i].count, rows[i].per_s, rows[i].base,
               rows[i].per_s / rows[i].base, rows[i].base1, rows[i].per_s / rows[i].base1);
    for (int i = 0; i < NREADS && !skip_main; i++)
        printf("%s{\"name\": \"%s\", \"records\": %ld, \"page\": %ld, \"per_second\": %.1f, "
               "\"baseline_raw\": %.1f, \"ratio_raw\": %.3f}",
               i || !reads_only ? ", " : "", reads[i].name, n_read, page, reads[i].per_s,
               reads[RAW].per_s, reads[i].per_s / reads[RAW].per_s);
    if (wait_ok)
        printf("%s{\"name\": \"write_batch, 64/call, wait_replicas=1\", \"records\": %ld, "
               "\"per_second\": %.1f, \"baseline_wait0\": %.1f, \"time_ratio\": %.3f}",
               skip_main ? "" : ", ", n_wait, wait1, wait0, wait0 / wait1);
#ifdef PAPYRA_BENCH_CLUSTER
    if (cluster_ok)
        printf("%s{\"name\": \"cluster write_batch, 64/call, 1 writer\", \"records\": %ld, "
               "\"per_second\": %.1f, \"baseline_cluster_tag\": %.1f, \"baseline_key\": %.1f, "
               "\"baseline_key_c1\": %.1f}, "
               "{\"name\": \"cluster write_batch, 64/call, 4 threads\", \"records\": %ld, "
               "\"per_second\": %.1f, \"baseline_cluster_tag\": %.1f, \"baseline_key\": %.1f, "
               "\"baseline_key_c1\": %.1f}, "
               "{\"name\": \"cluster write_batch, 64/call, wait_replicas=1\", \"records\": %ld, "
               "\"per_second\": %.1f, \"baseline_wait0\": %.1f, \"time_ratio\": %.3f}",
               wait_ok || !skip_main ? ", " : "", n_batch, cf.one, cf.base_tag, cf.base_key,
               cf.base_key1, n_batch, cf.threads, cf.base_tag, cf.base_key, cf.base_key1, n_wait,
               cf.wait1, cf.wait0, cf.wait0 / cf.wait1);
#endif
    printf("]}\n");
    papyra__buf_free(&value);
    if (own)
        papyra_test_redis_stop(&server);
    return 0;
}
