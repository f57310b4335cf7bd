/* SPDX-License-Identifier: MIT */
/*
 * Throughput of the JSON-lines backend, each figure next to a baseline
 * measured in the same run:
 *
 * - writes (fsync=never), one record per call and batched, against a plain
 *   write(2) loop of the same line to an O_APPEND file;
 * - fsync=always (json: and rotating:): one thread writing one record per
 *   call against a plain write(2)+fdatasync(2) loop, and group commit: 2, 4
 *   and 8 threads writing one record per call at the same time to one
 *   handle, against one thread (the ratio is near the number of threads when
 *   each fdatasync covers the records of every waiting thread);
 * - fsync=everysec against fsync=never, one record per call (the ratio is 1
 *   when the flusher costs the write path nothing), and fsync=never in a
 *   process that has a second, idle thread as everysec's flusher is (what
 *   being multi-threaded costs; an application that runs threads pays it
 *   with every policy);
 * - the metrics' share of a write: the counter increments that the generic
 *   layer does per write call, timed apart on a shared metrics file, and the
 *   whole write with a shared metrics file against metrics=none;
 * - list of the newest record (reads the tail only) against a full list;
 * - with --big: scan, compact (nothing to drop) and a filtered
 *   papyra_store_each() (what `papyra inspect events --event-type X --limit
 *   0` does) of a large file of upstream's lines (time.time()-like stamps of
 *   16 and 17 digits) against a plain read(2) loop of it and `cat FILE >
 *   /dev/null` (MB/s, records/s; the best of three runs each), and the peak
 *   RSS of each, each in a new process (fork and exec) so that the peaks are
 *   separate, at two file sizes (a tenth and all of SIZE_MB) to show that
 *   memory does not grow with the file.
 *
 * Usage: bench-store [--quick] [--json-only] [--big SIZE_MB] [--no-big] [--fsync-only]
 *   --quick: fewer records and a 32 MB big file (CI); the full run's big file
 *   is 1024 MB. --fsync-only: only the fsync rows (and their baselines).
 *   Figures are printed, never asserted; where the machine is noisy (the
 *   fsync rows) each is the best of a few runs.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <papyra/metrics.h>
#include <papyra/store.h>

#include "bench-util.h"
#include "metrics/metrics-private.h"

static long records = 200000;

/* The benchmark record, numbered @p i. */
static papyra_record
event(long i)
{
    return bench_event(1700000000.0 + (double)i / 1000.0);
}

/*
 * The same bytes the backend writes, with plain write(2) calls (each followed
 * by fdatasync(2) when @p sync): seconds for @p count records.
 */
static double
bench_baseline_n(const char *path, long count, bool sync)
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
    t0 = bench_now_s();
    for (i = 0; i < count; i++) {
        if (write(fd, line, sizeof(line) - 1) != (ssize_t)(sizeof(line) - 1))
            break;
        if (sync && fdatasync(fd) < 0)
            break;
    }
    t0 = bench_now_s() - t0;
    close(fd);
    unlink(path);
    return i == count ? t0 : -1;
}

static double
bench_baseline(const char *path)
{
    return bench_baseline_n(path, records, false);
}

/*
 * Writes @p count records in calls of @p batch to the store "<scheme>:<path>?<extra>";
 * @p metrics: a metrics= value.
 */
static double
bench_url(const char *scheme,
          const char *path,
          const char *extra,
          size_t batch,
          long count,
          const char *metrics)
{
    papyra_record recs[64];
    papyra_store *s = NULL;
    char url[8400];
    double t0;
    long i;

    snprintf(url, sizeof(url), "%s:%s?%smetrics=%s", scheme, path, extra, metrics);
    unlink(path);
    if (papyra_store_open(&s, url, NULL) != 0)
        return -1;
    t0 = bench_now_s();
    for (i = 0; i < count; i += (long)batch) {
        size_t k;
        for (k = 0; k < batch; k++)
            recs[k] = event(i + (long)k);
        if (papyra_store_write_batch(s, recs, batch) != 0) {
            papyra_store_close(s);
            return -1;
        }
    }
    t0 = bench_now_s() - t0;
    papyra_store_close(s);
    return t0;
}

static double
bench_store(const char *path, size_t batch, long count, const char *metrics)
{
    return bench_url("json", path, "", batch, count, metrics);
}

/*
 * What the generic layer adds to every successful write call: one increment
 * of records_written (the support-mask test is a constant load), here on a
 * shared metrics file. Seconds per call.
 */
static double
bench_metrics_add(const char *path)
{
    papyra_metrics_options o = {0};
    papyra_metrics *m = NULL;
    papyra_error e = {0};
    long i, n = records * 10;
    double t0;

    o.flags = PAPYRA_METRICS_CREATE;
    o.backend = PAPYRA_BACKEND_JSON;
    if (papyra_metrics_open(&m, path, &o, &e) != 0)
        return -1;
    t0 = bench_now_s();
    for (i = 0; i < n; i++)
        papyra__metrics_add(m, PAPYRA_METRIC_RECORDS_WRITTEN, 1);
    t0 = (bench_now_s() - t0) / (double)n;
    papyra_metrics_close(m);
    unlink(path);
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
    t0 = bench_now_s();
    for (i = 0; i < reps; i++) {
        papyra_record_list *l = NULL;
        if (papyra_store_list(s, PAPYRA_KIND_EVENT, &o, &l) != 0)
            return -1;
        papyra_record_list_free(l);
    }
    t0 = (bench_now_s() - t0) / reps;
    papyra_store_close(s);
    return t0;
}

struct row {
    char name[64];
    double per_s;
    double ratio;
    const char *unit;
};

/* Room for every row of a full run (the two --big sizes included), with some to spare. */
static struct row rows[80];
static int nrows;

static void add_row(const char *unit, double per_s, double ratio, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
add_row(const char *unit, double per_s, double ratio, const char *fmt, ...)
{
    va_list ap;

    if (nrows == (int)(sizeof(rows) / sizeof(rows[0]))) {
        fprintf(stderr, "bench-store: too many rows, \"%s\" and later ones are not shown\n", fmt);
        return;
    }
    va_start(ap, fmt);
    vsnprintf(rows[nrows].name, sizeof(rows[nrows].name), fmt, ap);
    va_end(ap);
    rows[nrows].per_s = per_s;
    rows[nrows].ratio = ratio;
    rows[nrows++].unit = unit;
}

/* ---- Large files ---- */

/* What one child measured: seconds, peak RSS in KiB, records. */
struct measure {
    double seconds;
    long maxrss_kb;
    uint64_t records;
    int status;
};

enum { OP_READ, OP_SCAN, OP_COMPACT, OP_EACH };

/* One of the threads of bench_threads(): @p count records, one per call. */
struct thread_arg {
    papyra_store *s;
    pthread_barrier_t *go;
    long first, count;
    int failed;
};

static void *
thread_main(void *p)
{
    struct thread_arg *a = p;

    /* Every thread is up before the clock starts: thread start-up is not measured. */
    pthread_barrier_wait(a->go);
    for (long i = 0; i < a->count; i++) {
        papyra_record r = event(a->first + i);
        if (papyra_store_write(a->s, &r) != 0) {
            a->failed = 1;
            break;
        }
    }
    return NULL;
}

/*
 * @p threads threads write @p count records in all, one per call, at the same
 * time to one handle of "<scheme>:<path>?<extra>metrics=none": seconds from
 * the moment all of them are ready until the last one is done.
 */
static double
bench_threads(const char *scheme, const char *path, const char *extra, int threads, long count)
{
    struct thread_arg args[16];
    pthread_t th[16];
    pthread_barrier_t go;
    papyra_store *s = NULL;
    char url[8400];
    int started = 0, failed = 0;
    double t0;

    if (threads > 16)
        return -1;
    snprintf(url, sizeof(url), "%s:%s?%smetrics=none", scheme, path, extra);
    unlink(path);
    if (papyra_store_open(&s, url, NULL) != 0)
        return -1;
    pthread_barrier_init(&go, NULL, (unsigned)threads + 1);
    for (int k = 0; k < threads; k++) {
        args[k] = (struct thread_arg){s, &go, k * (count / threads), count / threads, 0};
        if (pthread_create(&th[k], NULL, thread_main, &args[k]) != 0)
            break;
        started++;
    }
    if (started < threads) {
        /* The barrier cannot open: nothing to measure (the process ends with an error). */
        fprintf(stderr, "bench-store: cannot start %d threads\n", threads);
        exit(1);
    }
    pthread_barrier_wait(&go);
    t0 = bench_now_s();
    for (int k = 0; k < started; k++) {
        pthread_join(th[k], NULL);
        failed |= args[k].failed;
    }
    t0 = bench_now_s() - t0;
    pthread_barrier_destroy(&go);
    papyra_store_close(s);
    return !failed ? t0 : -1;
}

/* Deletes the rotated files of the rotating set @p rot, and @p rot. */
static void
unlink_set(const char *rot)
{
    for (int k = 1; k < 5; k++) {
        char old[4300];
        snprintf(old, sizeof(old), "%s.%d", rot, k);
        unlink(old);
    }
    unlink(rot);
}

/* Single and batched writes of the other backends (fsync=never). */
static void
bench_backends(const char *dir, const char *path, double base)
{
    static const struct {
        const char *scheme, *extra, *name;
    } cases[] = {
        {"memory", "", "memory"},
        {"rotating", "max_bytes=50000000&max_files=5&", "rotating"},
    };
    static const size_t batches[] = {1, 64};
    char rot[4200];

    snprintf(rot, sizeof(rot), "%s/rot.log", dir);
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        bool memory = strcmp(cases[c].scheme, "memory") == 0;
        const char *p = strcmp(cases[c].scheme, "rotating") == 0 ? rot : memory ? "" : path;
        for (size_t b = 0; b < 2; b++) {
            double t = bench_url(cases[c].scheme, p, cases[c].extra, batches[b], records, "none");
            if (t <= 0) {
                fprintf(stderr, "bench-store: %s failed\n", cases[c].name);
                continue;
            }
            add_row("rec/s", (double)records / t, base / t, "%s write, %zu/call", cases[c].name,
                    batches[b]);
        }
        if (!memory)
            unlink_set(rot);
    }
}

/* The idle thread of bench_idle_thread(): blocks until the pipe is closed. */
static void *
idle_main(void *p)
{
    char c;
    ssize_t n = read(*(int *)p, &c, 1);

    (void)n;
    return NULL;
}

/*
 * fsync=never, one record per call, while the process has a second thread
 * that does nothing: the flusher of fsync=everysec is such a thread, and a
 * process with more than one thread pays more for a system call on a
 * descriptor (the kernel counts references to the file, and locks its
 * position for write(2)) and for some of libc. Seconds.
 */
static double
bench_idle_thread(const char *scheme, const char *path)
{
    pthread_t th;
    int fds[2];
    double t;

    if (pipe(fds) < 0)
        return -1;
    if (pthread_create(&th, NULL, idle_main, &fds[0]) != 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    t = bench_url(scheme, path, "", 1, records, "none");
    close(fds[1]);
    pthread_join(th, NULL);
    close(fds[0]);
    return t;
}

/*
 * The fsync policies, json: and rotating:. fsync=always: one thread against
 * write(2)+fdatasync(2) per record; 2, 4 and 8 threads against one thread
 * (group commit). fsync=everysec against fsync=never, one record per call,
 * one thread. Each figure is the best of a few runs, and the runs of the
 * figures compared with each other are interleaved.
 */
static void
bench_fsync(const char *dir, const char *path)
{
    static const char *const schemes[] = {"json", "rotating"};
    enum { NTHREADS = 4 };
    static const int nthreads[NTHREADS] = {1, 2, 4, 8};
    const int reps = 5;
    long n = records / 40; /* records per thread where each call waits for the disk */
    double sync_base = -1;
    char rot[4200];

    snprintf(rot, sizeof(rot), "%s/rot.log", dir);
    for (int i = 0; i < reps; i++) {
        double t = bench_baseline_n(path, n, true);
        if (t > 0 && (sync_base < 0 || t < sync_base))
            sync_base = t;
    }
    if (sync_base <= 0) {
        fprintf(stderr, "bench-store: the write(2)+fdatasync loop failed\n");
        return;
    }
    add_row("rec/s", (double)n / sync_base, 1.0, "write(2)+fdatasync loop (fsync baseline)");
    for (size_t c = 0; c < sizeof(schemes) / sizeof(schemes[0]); c++) {
        const char *p = strcmp(schemes[c], "rotating") == 0 ? rot : path;
        double best[NTHREADS], one;
        /* Round after round of every thread count: a noisy moment hits them alike. */
        for (int k = 0; k < NTHREADS; k++)
            best[k] = -1;
        for (int i = 0; i < reps; i++) {
            for (int k = 0; k < NTHREADS; k++) {
                double t =
                    bench_threads(schemes[c], p, "fsync=always&", nthreads[k], n * nthreads[k]);
                unlink_set(p);
                if (t <= 0) {
                    fprintf(stderr, "bench-store: %s fsync=always, %d threads failed\n", schemes[c],
                            nthreads[k]);
                    return;
                }
                if (best[k] < 0 || t < best[k])
                    best[k] = t;
            }
        }
        one = (double)n / best[0];
        /* Against the loop: 1.0 is one fdatasync per record at the device's rate. */
        add_row("rec/s", one, one / ((double)n / sync_base), "%s fsync=always, 1 thread, 1/call",
                schemes[c]);
        for (int k = 1; k < NTHREADS; k++) {
            double per_s = (double)(n * nthreads[k]) / best[k];
            add_row("rec/s", per_s, per_s / one, "%s fsync=always, %d threads, 1/call", schemes[c],
                    nthreads[k]);
        }
    }
    for (size_t c = 0; c < sizeof(schemes) / sizeof(schemes[0]); c++) {
        const char *p = strcmp(schemes[c], "rotating") == 0 ? rot : path;
        double never = -1, every = -1, never_mt = -1;
        for (int i = 0; i < reps + 2; i++) {
            double t = bench_url(schemes[c], p, "", 1, records, "none");
            double u = bench_url(schemes[c], p, "fsync=everysec&", 1, records, "none");
            double v = bench_idle_thread(schemes[c], p);
            if (t <= 0 || u <= 0 || v <= 0) {
                fprintf(stderr, "bench-store: %s fsync=never/everysec failed\n", schemes[c]);
                break;
            }
            if (never < 0 || t < never)
                never = t;
            if (every < 0 || u < every)
                every = u;
            if (never_mt < 0 || v < never_mt)
                never_mt = v;
        }
        unlink_set(p);
        if (never <= 0 || every <= 0 || never_mt <= 0)
            continue;
        add_row("rec/s", (double)records / never, 1.0, "%s fsync=never, 1/call", schemes[c]);
        add_row("rec/s", (double)records / every, never / every,
                "%s fsync=everysec, 1/call (vs never)", schemes[c]);
        add_row("rec/s", (double)records / never_mt, never / never_mt,
                "%s never + idle thread, 1/call", schemes[c]);
    }
}

/* OP_EACH: what a filter of `papyra inspect` does with each record (matches nothing). */
static int
each_filter(const papyra_record *r, void *ctx)
{
    long *matched = ctx;

    if (r->u.event.event_type && strcmp(r->u.event.event_type, "NoSuchType") == 0)
        (*matched)++;
    return 0;
}

static int
run_op(int op, const char *path, struct measure *m)
{
    char url[4200], buf[1 << 16];
    papyra_store *s = NULL;
    double t0;
    int r = 0;

    snprintf(url, sizeof(url), "json:%s?metrics=none", path);
    if (op != OP_READ && papyra_store_open(&s, url, NULL) != 0)
        return -1;
    t0 = bench_now_s();
    if (op == OP_READ) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t k;
        if (fd < 0)
            return -1;
        while ((k = read(fd, buf, sizeof(buf))) > 0) {
            const char *p = buf;
            /* Count lines as the baseline's only work: a newline scan, like a reader's. */
            while ((p = memchr(p, '\n', (size_t)(buf + k - p))) != NULL) {
                m->records++;
                p++;
            }
        }
        close(fd);
        r = k < 0 ? -1 : 0;
    } else if (op == OP_EACH) {
        long matched = 0;
        uint64_t before = 0, after = 0;
        papyra_metrics_snapshot snap;
        if (papyra_metrics_read(papyra_store_metrics(s), &snap) == 0)
            before = snap.value[papyra_metric_by_name("records_read")];
        r = papyra_store_each(s, PAPYRA_KIND_EVENT, NULL, each_filter, &matched);
        if (papyra_metrics_read(papyra_store_metrics(s), &snap) == 0)
            after = snap.value[papyra_metric_by_name("records_read")];
        m->records = after - before;
    } else if (op == OP_SCAN) {
        papyra_scan_report *rep = NULL;
        r = papyra_store_scan(s, &rep);
        if (r == 0 && rep->count != 0)
            r = -1;
        papyra_scan_report_free(rep);
    } else {
        papyra_compaction_report rep = {0};
        r = papyra_store_compact(s, &rep);
        m->records = rep.before_records;
    }
    m->seconds = bench_now_s() - t0;
    papyra_store_close(s);
    return r;
}

/*
 * The peak RSS of this address space in KiB: VmHWM. (getrusage's ru_maxrss
 * is the same figure, except that exec carries the pre-exec peak over, so
 * after fork and exec it would show the parent's size.) ru_maxrss is the
 * fallback without /proc.
 */
static long
peak_rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    struct rusage ru;

    while (f && fgets(line, sizeof(line), f)) {
        if (strncmp(line, "VmHWM:", 6) == 0) {
            kb = atol(line + 6);
            break;
        }
    }
    if (f)
        fclose(f);
    if (kb < 0 && getrusage(RUSAGE_SELF, &ru) == 0)
        kb = ru.ru_maxrss;
    return kb;
}

/* The child's side: runs @p op and writes its measure to stdout (a pipe). */
static int
child_main(int op, const char *path)
{
    struct measure m = {0};

    m.status = run_op(op, path, &m);
    m.maxrss_kb = peak_rss_kb();
    return write(1, &m, sizeof(m)) == (ssize_t)sizeof(m) ? 0 : 1;
}

/*
 * Runs one operation in a new process (fork and exec of this program, so
 * that it starts with a fresh address space): its peak RSS is its own.
 */
static int
in_child(int op, const char *path, struct measure *out)
{
    int fds[2], status;
    struct measure m = {0};
    char opname[16];
    pid_t pid;

    if (pipe(fds) < 0)
        return -1;
    snprintf(opname, sizeof(opname), "%d", op);
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        close(fds[0]);
        if (dup2(fds[1], 1) < 0)
            _exit(1);
        execl("/proc/self/exe", "bench-store", "--child-op", opname, path, (char *)NULL);
        _exit(1);
    }
    close(fds[1]);
    if (read(fds[0], &m, sizeof(m)) != (ssize_t)sizeof(m))
        m.status = -1;
    close(fds[0]);
    waitpid(pid, &status, 0);
    *out = m;
    return m.status;
}

/* Fills @p path with about @p mb MiB of event lines. */
static long
make_big(const char *path, long mb)
{
    papyra_record recs[64];
    papyra_store *s = NULL;
    char url[4200];
    struct stat st;
    long i = 0;

    snprintf(url, sizeof(url), "json:%s?metrics=none", path);
    unlink(path);
    if (papyra_store_open(&s, url, NULL) != 0)
        return -1;
    for (;;) {
        size_t k;
        /* Stamps as time.time() gives them: repr() writes 16 or 17 digits. */
        for (k = 0; k < 64; k++)
            recs[k] = bench_event(1764512345.0 + (double)(i + (long)k) * 0.1234567);
        if (papyra_store_write_batch(s, recs, 64) != 0)
            break;
        i += 64;
        if (i % 4096 == 0 && stat(path, &st) == 0 && st.st_size >= mb * 1048576)
            break;
    }
    papyra_store_close(s);
    return i;
}

/* The best of three runs of @p op, each in a new process (the machine is shared: noise only adds).
 */
static int
best_of_three(int op, const char *path, struct measure *best)
{
    struct measure m;

    for (int i = 0; i < 3; i++) {
        /* No dirty pages left by what ran before: a compaction would wait for their write-back. */
        sync();
        if (in_child(op, path, &m) < 0)
            return -1;
        if (i == 0 || m.seconds < best->seconds)
            *best = m;
    }
    return 0;
}

/* The best of three wall times of `cat @p path > /dev/null`, or -1. */
static double
cat_seconds(const char *path)
{
    double best = -1;

    for (int i = 0; i < 3; i++) {
        double t0 = bench_now_s();
        int status;
        pid_t pid = fork();

        if (pid < 0)
            return -1;
        if (pid == 0) {
            int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
            if (null < 0 || dup2(null, 1) < 0)
                _exit(127);
            execlp("cat", "cat", path, (char *)NULL);
            _exit(127);
        }
        if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            return -1;
        t0 = bench_now_s() - t0;
        if (best < 0 || t0 < best)
            best = t0;
    }
    return best;
}

static int
bench_big(const char *path, long mb)
{
    struct measure rd, sc, cp, ea;
    struct stat st;
    double size_mb, cat_s;

    if (make_big(path, mb) < 0 || stat(path, &st) < 0)
        return -1;
    size_mb = (double)st.st_size / 1048576.0;
    /* Warm the page cache, then the baselines and the operations on the same cached file. */
    if (in_child(OP_READ, path, &rd) < 0 || best_of_three(OP_READ, path, &rd) < 0 ||
        (cat_s = cat_seconds(path)) < 0 || best_of_three(OP_SCAN, path, &sc) < 0 ||
        best_of_three(OP_COMPACT, path, &cp) < 0 || best_of_three(OP_EACH, path, &ea) < 0)
        return -1;
    add_row("MB/s", size_mb / rd.seconds, 1.0, "read(2) %.0f MB (baseline)", size_mb);
    add_row("MB/s", size_mb / cat_s, rd.seconds / cat_s, "cat %.0f MB", size_mb);
    add_row("MB/s", size_mb / sc.seconds, cat_s / sc.seconds, "scan %.0f MB (ratio to cat)",
            size_mb);
    add_row("MB/s", size_mb / cp.seconds, cat_s / cp.seconds, "compact %.0f MB (ratio to cat)",
            size_mb);
    add_row("MB/s", size_mb / sc.seconds, rd.seconds / sc.seconds, "scan %.0f MB", size_mb);
    add_row("rec/s", (double)rd.records / sc.seconds, rd.seconds / sc.seconds,
            "scan %.0f MB (records/s)", size_mb);
    add_row("MB/s", size_mb / cp.seconds, rd.seconds / cp.seconds, "compact %.0f MB", size_mb);
    add_row("rec/s", (double)cp.records / cp.seconds, rd.seconds / cp.seconds,
            "compact %.0f MB (records/s)", size_mb);
    add_row("MB/s", size_mb / ea.seconds, rd.seconds / ea.seconds, "filtered each %.0f MB",
            size_mb);
    add_row("rec/s", (double)ea.records / ea.seconds, rd.seconds / ea.seconds,
            "filtered each %.0f MB (records/s)", size_mb);
    add_row("KiB", (double)rd.maxrss_kb, 1.0, "peak RSS read(2) %.0f MB", size_mb);
    add_row("KiB", (double)sc.maxrss_kb, (double)sc.maxrss_kb / (double)rd.maxrss_kb,
            "peak RSS scan %.0f MB", size_mb);
    add_row("KiB", (double)cp.maxrss_kb, (double)cp.maxrss_kb / (double)rd.maxrss_kb,
            "peak RSS compact %.0f MB", size_mb);
    add_row("KiB", (double)ea.maxrss_kb, (double)ea.maxrss_kb / (double)rd.maxrss_kb,
            "peak RSS filtered each %.0f MB", size_mb);
    unlink(path);
    return 0;
}

/*
 * Everything but the fsync-only run: json writes, the other backends, the
 * fsync rows, the metrics' share, list, and with @p big_mb > 0 the large
 * file. -1 when the large-file benchmark failed.
 */
static int
bench_all(const char *dir, const char *path, const char *mpath, double base, long big_mb)
{
    double t, t_none, t_shared, t_add;

    t_none = t = bench_store(path, 1, records, "none");
    add_row("rec/s", records / t, base / t, "json write, 1 record/call");
    t = bench_store(path, 16, records, "none");
    add_row("rec/s", records / t, base / t, "json write_batch, 16/call");
    t = bench_store(path, 64, records, "none");
    add_row("rec/s", records / t, base / t, "json write_batch, 64/call");

    bench_backends(dir, path, base);
    bench_fsync(dir, path);

    /* The metrics' share of a one-record write call. */
    t_shared = bench_store(path, 1, records, mpath);
    unlink(mpath);
    add_row("rec/s", records / t_shared, base / t_shared,
            "json write, 1/call, shared metrics file");
    {
        /* The same for rotating: the rotating write path with the default counters. */
        char rot[4200];
        snprintf(rot, sizeof(rot), "%s/rot.log", dir);
        t = bench_url("rotating", rot, "max_bytes=50000000&max_files=5&", 1, records, mpath);
        unlink(mpath);
        unlink(rot);
        if (t > 0)
            add_row("rec/s", records / t, base / t, "rotating write, 1/call, shared metrics file");
    }
    t_add = bench_metrics_add(mpath);
    add_row("ns", t_add * 1e9, t_add / (t_none / (double)records),
            "metrics add per write call (share)");

    base = bench_list(path, 0, 3);
    add_row("calls/s", 1 / base, 1.0, "list all (baseline)");
    t = bench_list(path, 1, 1000);
    add_row("calls/s", 1 / t, base / t, "list limit=1");
    unlink(path);
    /* Two sizes: peak RSS must be the same for both. */
    if (big_mb > 0 && (bench_big(path, big_mb / 10) < 0 || bench_big(path, big_mb) < 0))
        return -1;
    return 0;
}

int
main(int argc, char **argv)
{
    char dir[] = "/tmp/papyra-bench-XXXXXX", path[4096], mpath[4200];
    bool json_only = false, big = true, fsync_only = false;
    long big_mb = 1024;
    double base;
    int i;

    if (argc == 4 && strcmp(argv[1], "--child-op") == 0)
        return child_main(atoi(argv[2]), argv[3]);
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            records = 20000;
            big_mb = 32;
        } else if (strcmp(argv[i], "--json-only") == 0) {
            json_only = true;
        } else if (strcmp(argv[i], "--fsync-only") == 0) {
            fsync_only = true;
        } else if (strcmp(argv[i], "--no-big") == 0) {
            big = false;
        } else if (strcmp(argv[i], "--big") == 0 && i + 1 < argc) {
            big_mb = atol(argv[++i]);
            if (big_mb < 10) {
                fprintf(stderr, "bench-store: --big needs at least 10 (MB)\n");
                return 2;
            }
        } else {
            fprintf(stderr, "usage: bench-store [--quick] [--json-only] [--big SIZE_MB] [--no-big] "
                            "[--fsync-only]\n");
            return 2;
        }
    }
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof(path), "%s/bench.jsonl", dir);
    snprintf(mpath, sizeof(mpath), "%s/bench.metrics", dir);
    base = bench_baseline(path);
    if (base <= 0)
        return 1;
    add_row("rec/s", records / base, 1.0, "write(2) loop (baseline)");
    if (fsync_only) {
        bench_fsync(dir, path);
    } else if (bench_all(dir, path, mpath, base, big ? big_mb : 0) < 0) {
        fprintf(stderr, "bench-store: the large-file benchmark failed\n");
        unlink(path);
        rmdir(dir);
        return 1;
    }
    unlink(path);
    /* The stores' lock and control files. */
    snprintf(mpath, sizeof(mpath), "%s/.bench.jsonl.lock", dir);
    unlink(mpath);
    snprintf(mpath, sizeof(mpath), "%s/.rot.log.lock", dir);
    unlink(mpath);
    rmdir(dir);
    if (!json_only) {
        printf("%-42s %14s %-6s %8s\n", "operation", "value", "unit", "ratio");
        for (i = 0; i < nrows; i++)
            printf("%-42s %14.0f %-6s %8.3f\n", rows[i].name, rows[i].per_s, rows[i].unit,
                   rows[i].ratio);
    }
    printf("{\"records\": %ld, \"results\": [", records);
    for (i = 0; i < nrows; i++)
        printf("%s{\"name\": \"%s\", \"value\": %.1f, \"unit\": \"%s\", \"ratio\": %.4f}",
               i ? ", " : "", rows[i].name, rows[i].per_s, rows[i].unit, rows[i].ratio);
    printf("]}\n");
    return 0;
}
