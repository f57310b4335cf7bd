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
 * Usage: bench-redis [--quick] [--json-only] [--server HOST:PORT] [--read-count N] [--rounds N]
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

/*
 * Runs redis-benchmark -P @p pipeline -c @p clients with the same XADD and
 * returns its "requests per second" (the last figure it prints), or -1.
 */
static double
bench_baseline(const char *value, long n, int pipeline, int clients)
{
    char portbuf[16], nbuf[32], pbuf[16], cbuf[16];
    const char *argv[] = {"redis-benchmark",
                          "-h",
                          host,
                          "-p",
                          portbuf,
                          "-n",
                          nbuf,
                          "-P",
                          pbuf,
                          "-c",
                          cbuf,
                          "-q",
                          "XADD",
                          "bench-base:local:events",
                          "*",
                          "data",
                          value,
                          NULL};
    char out[65536];
    size_t len = 0;
    double rps = -1;
    int fds[2];
    pid_t pid;

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

struct row {
    const char *name;
    long count;
    double per_s; /* best of the rounds */
    double base;  /* redis-benchmark, default 50 clients (best of the rounds), or 0 */
    double base1; /* redis-benchmark -c 1, the same one connection as ours, or 0 */
};

static double
max2(double a, double b)
{
    return a > b ? a : b;
}

int
main(int argc, char **argv)
{
    papyra_test_redis server = {0};
    bool json_only = false, own = false;
    const char *given = NULL;
    papyra_record one = event(0);
    papyra_buf value = {0};
    enum { SINGLE, BATCH64, BATCH256, THREADS64, LIST, NROWS };
    struct row rows[NROWS] = {
        [SINGLE] = {"write, 1 record/call", 0, 0, 0, 0},
        [BATCH64] = {"write_batch, 64/call", 0, 0, 0, 0},
        [BATCH256] = {"write_batch, 256/call", 0, 0, 0, 0},
        [THREADS64] = {"write_batch, 64/call, 4 threads", 0, 0, 0, 0},
        [LIST] = {"list, whole stream", 0, 0, 0, 0},
    };
    int rounds = 3;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            n_single = 5000;
            n_batch = 100000;
            n_read = 100000;
            rounds = 1;
        } else if (strcmp(argv[i], "--json-only") == 0) {
            json_only = quiet = true;
        } else if (strcmp(argv[i], "--server") == 0 && i + 1 < argc) {
            given = argv[++i];
        } else if (strcmp(argv[i], "--read-count") == 0 && i + 1 < argc) {
            n_read = atol(argv[++i]);
        } else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            rounds = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: bench-redis [--quick] [--json-only] [--server HOST:PORT] "
                            "[--read-count N] [--rounds N]\n");
            return 2;
        }
    }
    if (rounds < 1 || n_read < 1)
        return 2;
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
    rows[LIST].count = n_read;
    cleanup_keys();

    /*
     * Loopback figures on a small machine vary by tens of percent from one
     * run to the next: each figure is the best of the rounds, and each
     * round measures the baseline and ours back to back.
     */
    for (int round = 0; round < rounds; round++) {
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
    progress("filling the stream to read");
    (void)bench_write("bench-read", n_read, 1000, 1);
    for (int round = 0; round < rounds; round++) {
        progress("list of the whole stream");
        rows[LIST].per_s = max2(rows[LIST].per_s, bench_list("bench-read", n_read));
    }
    cleanup_keys();

    if (!json_only) {
        printf("redis 127.0.0.1:%d, data %zu bytes, best of %d round(s); baseline: redis-benchmark "
               "XADD, same key shape and value, 50 clients (its default) and 1\n",
               port, value.len, rounds);
        printf("%-32s %9s %11s %11s %7s %11s %7s\n", "operation", "records", "ours/s",
               "base(c50)/s", "ratio", "base(c1)/s", "ratio");
        for (int i = 0; i < NROWS; i++) {
            if (rows[i].base > 0)
                printf("%-32s %9ld %11.0f %11.0f %7.2f %11.0f %7.2f\n", rows[i].name, rows[i].count,
                       rows[i].per_s, rows[i].base, rows[i].per_s / rows[i].base, rows[i].base1,
                       rows[i].per_s / rows[i].base1);
            else
                printf("%-32s %9ld %11.0f %11s %7s %11s %7s\n", rows[i].name, rows[i].count,
                       rows[i].per_s, "-", "-", "-", "-");
        }
        /*
         * redis-benchmark's 50 clients keep the server busy while each waits
         * for its replies; one synchronous writer cannot, whatever its client
         * (redis-benchmark's own -c 1 is the like-for-like figure). Writers
         * sharing a store overlap through its spare connections.
         */
        printf("targets: 64/call, 4 threads on one store >= 0.70 x redis-benchmark -P 64 "
               "(50 clients): %s; list >= 500000/s: %s\n",
               rows[THREADS64].per_s >= 0.7 * rows[BATCH64].base ? "met" : "NOT met",
               rows[LIST].per_s >= 500000 ? "met" : "NOT met");
        printf("one writer, 64/call: %.2f x redis-benchmark -P 64 -c 1, whose own -c 1 is %.2f x "
               "its -c 50\n",
               rows[BATCH64].per_s / rows[BATCH64].base1, rows[BATCH64].base1 / rows[BATCH64].base);
    }
    printf("{\"server\": \"%s:%d\", \"data_bytes\": %zu, \"rounds\": %d, \"results\": [", host,
           port, value.len, rounds);
    for (int i = 0; i < NROWS; i++) {
        printf("%s{\"name\": \"%s\", \"records\": %ld, \"per_second\": %.1f", i ? ", " : "",
               rows[i].name, rows[i].count, rows[i].per_s);
        if (rows[i].base > 0)
            printf(", \"baseline_c50\": %.1f, \"ratio\": %.3f, \"baseline_c1\": %.1f, "
                   "\"ratio_c1\": %.3f",
                   rows[i].base, rows[i].per_s / rows[i].base, rows[i].base1,
                   rows[i].per_s / rows[i].base1);
        printf("}");
    }
    printf("]}\n");
    papyra__buf_free(&value);
    if (own)
        papyra_test_redis_stop(&server);
    return 0;
}
