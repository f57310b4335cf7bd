/* SPDX-License-Identifier: MIT */
/*
 * Write throughput of the JSON-lines backend (fsync=never), next to a
 * baseline measured in the same run: a plain write(2) loop of the same line
 * to an O_APPEND file. Also: list of the newest record from a large file
 * (reads the tail only) against a full list.
 *
 * Usage: bench-store [--quick] [--json-only]
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <papyra/store.h>

static long records = 200000;

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static papyra_record
event(long i)
{
    papyra_record r = {.kind = PAPYRA_KIND_EVENT};

    r.u.event.system_id = "local";
    r.u.event.actor_address = "{\"system\": \"local\", \"actor_id\": 1}";
    r.u.event.event_type = "ActorStarted";
    r.u.event.payload = "{\"reason\": \"stopped\"}";
    r.u.event.timestamp = 1700000000.0 + (double)i / 1000.0;
    return r;
}

/* The same bytes the backend writes, with plain write(2) calls. */
static double
bench_baseline(const char *path)
{
    static const char line[] =
        "{\"kind\": \"event\", \"system_id\": \"local\", \"actor_address\": {\"system\": "
        "\"local\", \"actor_id\": 1}, \"event_type\": \"ActorStarted\", \"payload\": "
        "{\"reason\": \"stopped\"}, \"timestamp\": 1700000000.123}\n";
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    double t0;
    long i;

    if (fd < 0)
        return -1;
    t0 = now_s();
    for (i = 0; i < records; i++) {
        if (write(fd, line, sizeof(line) - 1) != (ssize_t)(sizeof(line) - 1))
            break;
    }
    t0 = now_s() - t0;
    close(fd);
    unlink(path);
    return i == records ? t0 : -1;
}

static double
bench_store(const char *path, size_t batch)
{
    papyra_record recs[64];
    papyra_store *s = NULL;
    char url[4200];
    double t0;
    long i;

    snprintf(url, sizeof(url), "json:%s?metrics=none", path);
    unlink(path);
    if (papyra_store_open(&s, url, NULL) != 0)
        return -1;
    t0 = now_s();
    for (i = 0; i < records; i += (long)batch) {
        size_t k;
        for (k = 0; k < batch; k++)
            recs[k] = event(i + (long)k);
        if (papyra_store_write_batch(s, recs, batch) != 0) {
            papyra_store_close(s);
            return -1;
        }
    }
    t0 = now_s() - t0;
    papyra_store_close(s);
    return t0;
}

/* list with limit=1 (reads the tail) and without limit (reads everything). */
static double
bench_list(const char *path, size_t limit, int reps)
{
    papyra_list_options o = {.limit = limit};
    papyra_store *s = NULL;
    char url[4200];
    double t0;
    int i;

    snprintf(url, sizeof(url), "json:%s?metrics=none", path);
    if (papyra_store_open(&s, url, NULL) != 0)
        return -1;
    t0 = now_s();
    for (i = 0; i < reps; i++) {
        papyra_record_list *l = NULL;
        if (papyra_store_list(s, PAPYRA_KIND_EVENT, &o, &l) != 0)
            return -1;
        papyra_record_list_free(l);
    }
    t0 = (now_s() - t0) / reps;
    papyra_store_close(s);
    return t0;
}

struct row {
    const char *name;
    double per_s;
    double ratio;
};

int
main(int argc, char **argv)
{
    char dir[] = "/tmp/papyra-bench-XXXXXX", path[4096];
    bool json_only = false;
    struct row rows[6];
    double base, t;
    int i, n = 0;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            records = 20000;
        else if (strcmp(argv[i], "--json-only") == 0)
            json_only = true;
    }
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof(path), "%s/bench.jsonl", dir);
    base = bench_baseline(path);
    if (base <= 0)
        return 1;
    rows[n++] = (struct row){"write(2) loop (baseline)", records / base, 1.0};
    t = bench_store(path, 1);
    rows[n++] = (struct row){"json write, 1 record/call", records / t, base / t};
    t = bench_store(path, 16);
    rows[n++] = (struct row){"json write_batch, 16/call", records / t, base / t};
    t = bench_store(path, 64);
    rows[n++] = (struct row){"json write_batch, 64/call", records / t, base / t};
    base = bench_list(path, 0, 3);
    rows[n++] = (struct row){"list all (calls/s, baseline)", 1 / base, 1.0};
    t = bench_list(path, 1, 1000);
    rows[n++] = (struct row){"list limit=1 (calls/s)", 1 / t, base / t};
    unlink(path);
    rmdir(dir);
    if (!json_only) {
        printf("%-34s %14s %8s\n", "operation", "per second", "ratio");
        for (i = 0; i < n; i++)
            printf("%-34s %14.0f %8.2f\n", rows[i].name, rows[i].per_s, rows[i].ratio);
    }
    printf("{\"records\": %ld, \"results\": [", records);
    for (i = 0; i < n; i++)
        printf("%s{\"name\": \"%s\", \"per_second\": %.1f, \"ratio\": %.3f}", i ? ", " : "",
               rows[i].name, rows[i].per_s, rows[i].ratio);
    printf("]}\n");
    return 0;
}
